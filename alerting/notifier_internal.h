/* notifier_internal.h — alerting-internal: what the notifier's files share
 * (notifier.c: queue and sending; notifier_am.c: Alertmanager sets;
 * notifier_json.c: the API v2 payload) and what the unit tests check
 * directly.
 *
 * A queued alert (struct nalert) owns copies of everything.  Its labels are
 * a mutable label_set (scrape/relabel.h) because relabeling works on those;
 * annotations are plain pairs, since an annotation may legitimately expand
 * to "" and Prometheus still sends it.
 *
 * Threads: an amset and the payload functions belong to the loop thread. */
#ifndef VIGIL_ALERTING_NOTIFIER_INTERNAL_H
#define VIGIL_ALERTING_NOTIFIER_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "alerting/notifier.h"
#include "scrape/relabel.h"
#include "scrape/target.h"
#include "util/sbuf.h"

/* Prometheus's DefaultMaxBatchSize. */
#define NOTIFIER_MAX_BATCH 256

struct npair {
    char *name, *value; /* owned */
};

struct nalert {
    struct label_set labels;
    struct npair *ann; /* owned, sorted by name */
    size_t nann;
    int64_t starts_at_ms, ends_at_ms; /* 0 = unset */
    char *generator_url;              /* owned; NULL = none */
};

void nalert_free(struct nalert *a); /* the alert and what it owns; NULL is a no-op */

/* ---- Payload (notifier_json.c) ---- */

/* Go's strfmt.DateTime text: RFC 3339 in UTC with exactly three fraction
 * digits ("2026-11-23T05:25:37.937Z"); 0 is Go's zero time
 * ("0001-01-01T00:00:00.000Z"). */
void notifier_time_format(int64_t ms, char out[40]);
/* Appends the JSON array Prometheus POSTs to /api/v2/alerts, each alert as
 * {"annotations":{..},"endsAt":..,"startsAt":..,"generatorURL":..,
 * "labels":{..}} (go-swagger's PostableAlert: annotations and generatorURL
 * left out when empty), strings escaped as Go's encoding/json does. */
void notifier_payload_encode(struct sbuf *out, const struct nalert *const *alerts, size_t n);

/* ---- Alertmanager sets (notifier_am.c) ---- */

/* One discovered Alertmanager and its metric children (NULL without a
 * registry). */
struct nam {
    char *url; /* owned: "http://host:port/prefix/api/v2/alerts" */
    struct metric *sent, *errors, *latency;
};

/* What the sets share with the notifier: the loop, the log, the metric
 * families (NULL without a registry) and whom to tell about changes. */
struct notifier_shared {
    uv_loop_t *loop;
    struct logger *log;
    struct metric_family *sent, *errors, *latency;
    void (*ams_changed)(void *ctx); /* after every discovery refresh */
    void *ctx;
};

/* One `alerting.alertmanagers` entry ("config-<i>" in Prometheus's logs). */
struct amset {
    uv_timer_t sd_timer;
    struct notifier_shared *sh;
    const struct prom_alertmanager_config *cfg; /* borrowed from the applied config */
    char key[32];
    struct target_discovery *disc;
    struct relabel_rules *rules;       /* relabel_configs: which Alertmanagers */
    struct relabel_rules *alert_rules; /* alert_relabel_configs: which alerts, how labelled */
    struct nam *ams;                   /* discovered, deduplicated by URL */
    size_t nams;
    char **dropped; /* URLs (from the labels before relabeling) of those dropped */
    size_t ndropped;
};

/* Compiles the entry's rules.  Returns 0 and *out, or -1 with err
 * ("alertmanagers[1]: relabel_configs[0]: ..."). */
int amset_new(struct notifier_shared *sh, const struct prom_alertmanager_config *cfg, size_t idx,
              enum prom_name_validation names, struct amset **out, char *err, size_t errsize);
/* Reads discovery now and re-reads file_sd on a timer. */
void amset_start(struct amset *s);
/* Stops re-reading discovery (the Alertmanagers stay, for the drain). */
void amset_stop_discovery(struct amset *s);
/* Closes the timer; the set frees itself in the close callback. */
void amset_close(struct amset *s);
/* Rebuilds the Alertmanagers from the current groups (for tests: after
 * amset_start, call this after target_discovery_refresh). */
void amset_sync(struct amset *s);

/* Prometheus's AlertmanagerFromGroup for one address: the label set
 * relabeling starts from (__address__, __scheme__, __alerts_path__, then
 * the group's labels) and the URL a label set stands for. */
void amset_target_labels(const struct prom_alertmanager_config *cfg, const char *address,
                         const struct ystrmap *group_labels, struct label_set *out);
char *amset_url(const struct label_set *ls); /* owned */

#endif
