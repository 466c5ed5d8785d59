/* scrape.h — the scraper: every job of the loaded prometheus.yml, its
 * targets discovered and relabeled, each scraped on its interval over HTTP
 * and appended to storage (the public interface of scrape/).
 *
 * All of it runs on the libuv loop thread: per-target timers start scrapes
 * at Prometheus's offset (a hash of the target modulo the interval, so
 * targets spread over the interval), libcurl's multi-socket interface does
 * the HTTP on the same loop (uv_poll per socket, one uv_timer for curl's
 * timeouts), and each finished scrape becomes one appender batch (see
 * scrape_internal.h).  file_sd_configs are re-read on a timer per job;
 * http, dns and docker SD run on the loop too (DNS lookups on libuv's
 * worker pool) and never block it.
 *
 * Threads: every function here on the loop thread only.  The manager
 * borrows the tsdb, the logger, the metrics registry and the applied
 * config; the config must stay alive until the next scrape_manager_apply
 * (or the stop). */
#ifndef VIGIL_SCRAPE_SCRAPE_H
#define VIGIL_SCRAPE_SCRAPE_H

#include <stddef.h>
#include <uv.h>

#include "conf/config.h"
#include "storage/tsdb.h"
#include "util/log.h"
#include "util/metrics.h"

struct scrape_manager;

struct scrape_manager_options {
    uv_loop_t *loop;
    struct tsdb *db;
    struct logger *log;               /* may be NULL */
    const char *user_agent;           /* NULL: "Vigil" */
    struct metrics_registry *metrics; /* may be NULL: SD metrics (prometheus_sd_*) */
    /* --enable-feature=st-storage: a sample of a counter, histogram or
     * summary is stored with its OpenMetrics created time (the family's
     * `_created` line) as its start timestamp.  The `_created` series are
     * ingested as before either way. */
    bool store_start_timestamps;
};

/* Returns 0 and *out, or -1 with err (libcurl could not start). */
int scrape_manager_new(const struct scrape_manager_options *o, struct scrape_manager **out,
                       char *err, size_t errsize);
/* Replaces the running jobs with those of cfg.  A target the same job still
 * scrapes keeps its loop (schedule, connection, cache) when the settings its
 * cache depends on are unchanged (honor_*, limits, metric_relabel_configs);
 * otherwise its loop restarts afresh.  The series of a target that no job of
 * cfg scrapes any more get stale markers.  cfg is borrowed: keep it alive
 * until the next apply or the stop.  Returns 0, or -1 with err naming the job
 * whose rules did not compile (the other jobs run). */
int scrape_manager_apply(struct scrape_manager *m, const struct prom_config *cfg, char *err,
                         size_t errsize);
/* Stops every scrape at once (in-flight requests are abandoned, nothing more
 * is appended) and closes the manager's handles; after this returns the tsdb
 * may be closed.  Free the manager once the loop has run the close
 * callbacks (after uv_run returns). */
void scrape_manager_stop(struct scrape_manager *m);
void scrape_manager_free(struct scrape_manager *m); /* NULL is a no-op */

/* ---- Introspection (the targets API); loop thread only ---- */

enum scrape_health { SCRAPE_HEALTH_UNKNOWN, SCRAPE_HEALTH_UP, SCRAPE_HEALTH_DOWN };

/* One active target as /api/v1/targets shows it; everything borrowed for
 * the duration of the callback. */
struct scrape_target_info {
    const char *pool;                /* the job name */
    const char *url;                 /* scrapeUrl */
    const struct labels *discovered; /* before relabeling, sorted */
    const struct labels *labels;     /* after relabeling, sorted (includes __ labels) */
    enum scrape_health health;
    const char *last_error; /* "" when none */
    int64_t last_scrape_ms; /* 0 before the first scrape */
    double last_duration_s;
    int64_t interval_ms, timeout_ms;
};
typedef void (*scrape_target_fn)(void *ctx, const struct scrape_target_info *t);
typedef void (*scrape_dropped_fn)(void *ctx, const char *pool, const struct labels *discovered);
/* Active targets in job then discovery order. */
void scrape_manager_each_target(const struct scrape_manager *m, scrape_target_fn fn, void *ctx);
/* Dropped targets kept for the API (keep_dropped_targets). */
void scrape_manager_each_dropped(const struct scrape_manager *m, scrape_dropped_fn fn, void *ctx);

/* Metric metadata (HELP, TYPE, UNIT) of every active target's last good
 * scrape, per target in name order; target labels as in the targets API
 * (internal "__" labels included: callers filter). */
typedef void (*scrape_metadata_fn)(void *ctx, const char *pool, const struct labels *target,
                                   const char *metric, const char *type, const char *help,
                                   const char *unit);
void scrape_manager_each_metadata(const struct scrape_manager *m, scrape_metadata_fn fn, void *ctx);

/* Whether a label set satisfies every matcher (PromQL semantics: a missing
 * label is "", regexes fully anchored).  An invalid regex matches nothing. */
bool scrape_labels_match(const struct labels *ls, const struct label_matcher *ms, size_t n);

#endif
