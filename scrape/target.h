/* target.h — scrape-internal: from a job's service discovery to the targets
 * it scrapes, as Prometheus's scrape/target.go and discovery/file do.
 *
 * Discovery yields target groups (a list of addresses plus group labels).
 * Each address becomes a label set — __address__, the group's labels, then
 * job, __scrape_interval__, __scrape_timeout__, __metrics_path__, __scheme__
 * and __param_<name> (first value) where not already set — the *discovered*
 * labels.  The job's relabel_configs run on that set; a dropped target keeps
 * its discovered labels for the API (at most keep_dropped_targets of them,
 * 0 = all).  A kept one must have an __address__ without '/', valid
 * __scrape_interval__ / __scrape_timeout__ (non-zero, timeout <= interval)
 * and valid UTF-8 values; then __meta_* labels are removed and instance
 * defaults to __address__.  A target that fails these checks is neither
 * active nor dropped: its error is reported ("instance 0 in group
 * targets/a.json:0: no address").
 *
 * Service discovery: static_configs and file_sd_configs here; http, dns and
 * docker SD in sd_*.c (sd.h), which run on the libuv loop and report new
 * groups through the options' `changed` callback.
 * file_sd reads every file its globs match (JSON for .json, YAML for .yml and
 * .yaml: a list of {targets: [...], labels: {...}}), adds __meta_filepath,
 * and re-reads them every refresh_interval.  As in Prometheus, a file that
 * cannot be read or parsed keeps the groups it last gave, and a file that
 * is gone loses them.
 *
 * file_sd runs on no timer of its own: the owner (the scrape manager on the
 * libuv loop) calls job_targets_refresh when job_targets_next_refresh_ms
 * says so, and whenever `changed` fires.  A struct job_targets belongs to
 * the loop thread (or, without a loop, to one thread at a time). */
#ifndef VIGIL_SCRAPE_TARGET_H
#define VIGIL_SCRAPE_TARGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "conf/config.h"
#include "scrape/relabel.h"
#include "util/log.h"

struct scrape_target {
    /* After relabeling: __address__, __scheme__, __metrics_path__,
     * __scrape_interval__, __scrape_timeout__, __param_* and the labels
     * that go on every series (those not starting with "__"). */
    struct label_set labels;
    struct label_set discovered; /* before relabeling */
    char *url;                   /* scheme://address/path?query */
    int64_t interval_ms, timeout_ms;
    uint64_t hash; /* identity (labels and URL) and scrape offset, as Prometheus's */
};

struct target_set {
    struct scrape_target *active; /* in discovery order, duplicates removed */
    size_t n_active;
    struct label_set *dropped; /* discovered labels of dropped targets */
    size_t n_dropped;
    size_t n_dropped_total; /* including those not kept */
    struct ystrlist errors; /* one line per target that failed the checks */
};

void target_set_free(struct target_set *s);

/* PopulateLabels: lb holds the discovered set on entry (see the top).
 * Returns 1 with *t filled (the caller frees with scrape_target_free),
 * 0 if relabeling dropped the target, -1 with err on a failed check. */
int target_populate(const struct prom_scrape_config *cfg, struct relabel_rules *rules,
                    struct label_set *lb, struct scrape_target *t, char *err, size_t errsize);
void scrape_target_free(struct scrape_target *t);

/* The discovered labels of one address of a group, as above. */
void target_discovered_labels(const struct prom_scrape_config *cfg, const char *address,
                              const struct ystrmap *group_labels, struct label_set *out);

/* Reads one file_sd file into groups (each with __meta_filepath added).
 * Returns 0 and *groups / *n (free with target_groups_free), or -1 with err
 * ("targets/a.json:3:5: ..."). */
/* Parses a JSON list of target groups (http_sd's answer); each group gets
 * meta_name = meta_value.  Same contract as target_file_sd_read. */
int target_groups_from_json(const char *name, const char *text, size_t len, const char *meta_name,
                            const char *meta_value, struct prom_target_group **groups, size_t *n,
                            char *err, size_t errsize);
int target_file_sd_read(const char *path, struct prom_target_group **groups, size_t *n, char *err,
                        size_t errsize);
void target_groups_free(struct prom_target_group *groups, size_t n);

/* ---- Discovered groups over time ----
 *
 * The target groups of one set of SD configs: static_configs as written,
 * then each file_sd config's files (sorted by path) with their groups in
 * file order, then the last good groups of each http, dns and docker SD
 * config.  Shared by the scrape jobs and the notifier's Alertmanager sets,
 * which turn groups into targets their own way. */

struct target_discovery;
struct sd_metrics;

struct target_discovery_options {
    uv_loop_t *loop;            /* NULL: static_configs and file_sd_configs only */
    struct logger *log;         /* may be NULL */
    struct sd_metrics *metrics; /* may be NULL; see sd.h */
    const char *user_agent;     /* NULL: "Vigil" */
    const char *name;           /* the job (or "config-0"), for logs */
    /* An http / dns / docker SD config has new groups: refresh and rebuild. */
    void (*changed)(void *ctx);
    void *ctx;
};

/* sd is borrowed and must outlive the result; o (may be NULL) is copied.
 * The loop mechanisms start with the first target_discovery_refresh. */
struct target_discovery *target_discovery_new(const struct prom_sd_configs *sd,
                                              const struct target_discovery_options *o);
/* Stops every mechanism at once (nothing reads sd afterwards, and
 * `changed` is not called again); the memory goes once libuv has closed
 * the handles and worker jobs are back.  NULL is a no-op. */
void target_discovery_free(struct target_discovery *d);
/* Stops and drops the loop mechanisms now (their groups go with them);
 * static and file_sd stay.  For owners that free the discovery later. */
void target_discovery_stop(struct target_discovery *d);
/* Takes over, as initial groups, the last groups of `old`'s loop
 * mechanisms with the same configuration (a reload keeps their targets
 * until the first refresh answers).  Call before the first refresh. */
void target_discovery_adopt(struct target_discovery *d, const struct target_discovery *old);
/* Re-reads the file_sd configs due at now_ms (all of them on the first
 * call); the errors of this call replace those of the previous one. */
void target_discovery_refresh(struct target_discovery *d, int64_t now_ms);
/* When the next file_sd re-read is due (INT64_MAX if never). */
int64_t target_discovery_next_refresh_ms(const struct target_discovery *d);
/* Calls fn for every current group; source names it in errors ("0" for
 * static_configs[0], "targets/a.json:1" for a file's second group); both
 * borrowed for the call. */
typedef void (*target_group_fn)(void *ctx, const struct prom_target_group *g, const char *source);
void target_discovery_each_group(const struct target_discovery *d, target_group_fn fn, void *ctx);
/* Read errors of the last refresh ("error reading file ..."), borrowed. */
const struct ystrlist *target_discovery_errors(const struct target_discovery *d);

/* ---- A job's targets over time ---- */

struct job_targets;

/* cfg is borrowed and must outlive the result; o as for
 * target_discovery_new.  Compiles relabel_configs.  Returns 0 and *out, or
 * -1 with err. */
int job_targets_new(const struct prom_scrape_config *cfg, const struct target_discovery_options *o,
                    struct job_targets **out, char *err, size_t errsize);
void job_targets_free(struct job_targets *jt);
/* target_discovery_adopt for two jobs' discoveries. */
void job_targets_adopt(struct job_targets *jt, const struct job_targets *old);

/* Re-reads the file_sd configs that are due at now_ms (all of them on the
 * first call) and rebuilds the target set.  Returns true if the active
 * targets changed (by hash, in order) since the previous call. */
bool job_targets_refresh(struct job_targets *jt, int64_t now_ms);
/* When the next file_sd re-read is due (INT64_MAX if never). */
int64_t job_targets_next_refresh_ms(const struct job_targets *jt);
/* The current set (borrowed; valid until the next refresh). */
const struct target_set *job_targets_current(const struct job_targets *jt);
/* Discovery errors of the last refresh ("targets/a.json: ..."), borrowed. */
const struct ystrlist *job_targets_sd_errors(const struct job_targets *jt);

#endif
