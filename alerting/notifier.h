/* notifier.h — alert delivery to Alertmanager, as Prometheus 3's notifier
 * package does it (the public interface of alerting/notifier*.c).
 *
 * The rules engine hands firing and resolved alerts to notifier_send, from
 * any thread.  Each alert gets the global external_labels it lacks, then
 * alerting.alert_relabel_configs (an alert they drop is not queued), and
 * joins one bounded FIFO queue (--alertmanager.notification-queue-capacity;
 * when full the oldest alerts make room and count as dropped).  On the libuv
 * loop the queue is sent in batches of at most 256 alerts, one batch at a
 * time: each batch goes, as a JSON array POSTed to <am>/api/v2/alerts, to
 * every Alertmanager of every `alerting.alertmanagers` entry at once, after
 * that entry's own alert_relabel_configs.  A batch counts as delivered when
 * every entry that was sent anything had at least one Alertmanager answer
 * 2xx; otherwise its alerts count as dropped.  Nothing is retried: the rules
 * engine re-sends firing alerts every resend_delay.
 *
 * Alertmanagers come from each entry's static_configs and file_sd_configs
 * (re-read every refresh_interval), relabeled by its relabel_configs with
 * __address__, __scheme__ and __alerts_path__ set; one a rule drops is kept
 * as "dropped" for /api/v1/alertmanagers.
 *
 * Metrics (Prometheus's names): prometheus_notifications_sent_total,
 * _errors_total and _latency_seconds (a summary: sum and count only) per
 * alertmanager URL; _dropped_total, _queue_length, _queue_capacity and
 * prometheus_notifications_alertmanagers_discovered.
 *
 * Threads: notifier_send from any thread (it takes the notifier's mutex and
 * wakes the loop with a uv_async); everything else on the loop thread. */
#ifndef VIGIL_ALERTING_NOTIFIER_H
#define VIGIL_ALERTING_NOTIFIER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "conf/config.h"
#include "storage/labels.h"
#include "util/log.h"
#include "util/metrics.h"

struct notifier;

/* One alert as the rules engine hands it over; everything borrowed for the
 * call (notifier_send copies). */
struct notifier_alert {
    struct labels labels;             /* sorted (storage/labels.h) */
    struct labels annotations;        /* sorted by name */
    int64_t starts_at_ms, ends_at_ms; /* ends_at_ms 0 = unset */
    const char *generator_url;        /* NULL or "" = none */
};

struct notifier_options {
    uv_loop_t *loop;
    struct logger *log;               /* may be NULL */
    struct metrics_registry *metrics; /* may be NULL; borrowed for the notifier's life */
    size_t queue_capacity;            /* 0 = 10000 (--alertmanager.notification-queue-capacity) */
    const char *user_agent;           /* NULL: "Vigil"; Prometheus sends "Prometheus/<version>" */
    /* How long notifier_stop keeps sending what is queued; 0 = 30 s.  Then
     * what is left counts as dropped. */
    int64_t drain_timeout_ms;
};

/* Loop thread.  Returns 0 and *out, or -1 with err (libcurl could not
 * start, or the metrics are already registered). */
int notifier_new(const struct notifier_options *o, struct notifier **out, char *err,
                 size_t errsize);

/* Applies prometheus.yml's alerting section and global.external_labels;
 * queued alerts are kept.  cfg is borrowed: keep it alive until the next
 * apply or notifier_stop.  Discovery runs at once (file_sd files are read
 * now).  Loop thread.  Returns 0, or -1 with err naming the entry whose
 * relabel rules do not compile (then the previous config stays). */
int notifier_apply_config(struct notifier *n, const struct prom_config *cfg, char *err,
                          size_t errsize);

/* Queues alerts for every Alertmanager; any thread; copies everything.
 * After notifier_stop the alerts are counted as dropped. */
void notifier_send(struct notifier *n, const struct notifier_alert *alerts, size_t count);

/* For /api/v1/alertmanagers; loop thread.  fn(ctx, url, active) for each
 * discovered Alertmanager (active) and then each one dropped by
 * relabel_configs (active = false); url is
 * "http://host:port/prefix/api/v2/alerts", borrowed for the call. */
void notifier_each_alertmanager(const struct notifier *n,
                                void (*fn)(void *ctx, const char *url, bool active), void *ctx);

/* Alerts waiting to be sent (any thread). */
size_t notifier_queue_length(struct notifier *n);

/* Loop thread.  Stops discovery and keeps sending what is queued, batch by
 * batch, until the queue is empty or drain_timeout_ms has passed (as
 * --alertmanager.drain-notification-queue-on-shutdown), then closes its
 * handles and calls done(ctx) (may be NULL) on the loop thread.  Returns at
 * once: the loop must run on until the handles are closed (uv_run returns);
 * then notifier_free. */
void notifier_stop(struct notifier *n, void (*done)(void *ctx), void *ctx);
/* After notifier_stop and the loop's close callbacks; NULL is a no-op. */
void notifier_free(struct notifier *n);

#endif
