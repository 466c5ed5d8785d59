/* server.h — server-internal: the one server struct and how its parts
 * reach each other.
 *
 * Everything that lives as long as the process hangs off struct
 * vigil_server; there is no other global mutable state.  The libuv loop
 * thread owns it: handlers, signals and timers run there.  Work that may
 * block (loading storage, later queries and rule evaluation) runs on libuv's
 * worker pool and hands results back through its after-callbacks. */
#ifndef VIGIL_SERVER_SERVER_H
#define VIGIL_SERVER_SERVER_H

#include <stdbool.h>
#include <stdio.h>
#include <uv.h>

#include "conf/conf.h"
#include "server/flags.h"
#include "alerting/notifier.h"
#include "alerting/rules.h"
#include "scrape/scrape.h"
#include "server/http/http.h"
#include "storage/tsdb.h"
#include "util/log.h"
#include "util/metrics.h"

struct vigil_server {
    uv_loop_t *loop;
    struct vigil_flags flags;
    struct logger *log;
    struct metrics_registry *metrics;
    struct procstat *procstat;
    struct http_server *http;
    struct tsdb *tsdb;
    struct scrape_manager *scrape; /* from storage open to stop */
    struct notifier *notifier;     /* from start to stop */
    struct rules_manager *rules;   /* from storage open to stop */
    bool rules_stopped;            /* no rule evaluation runs any more */
    bool notifier_stopped;         /* the notification queue is drained */
    bool http_drained;
    struct prom_config *config;
    struct am_config *am_config; /* NULL unless --alertmanager.config.file */
    struct webauth *webauth;     /* NULL unless --web.config.file */
    FILE *query_log;             /* global.query_log_file, append; NULL when unset */
    char *query_log_path;
    bool per_step_stats; /* --enable-feature=promql-per-step-stats */
    char *route_prefix;  /* derived from the flags; "/" when none */
    char *external_url;  /* derived from the flags; no trailing slash */
    bool ready;          /* storage open and config loaded */
    double start_time;   /* Unix seconds */
    bool stopping;
    bool forced_stop;         /* the shutdown watchdog fired: handles may be open */
    unsigned queries_running; /* on worker threads; storage stays open until 0 */
    int exit_code;

    uv_signal_t sig_hup, sig_term, sig_int;
    uv_timer_t shutdown_timer;
    uv_work_t tsdb_open_work;
    char tsdb_open_err[512];

    /* Self-monitoring (owned by metrics). */
    struct metric_family *http_requests, *http_duration;
    struct metric *reload_success, *reload_success_ts, *reloads_total, *reload_failures_total;
    struct metric *ready_gauge;
    struct metric *queries_canceled;
    struct metric *tls_handshake_errors;
};

/* lifecycle.c */
int server_run(struct vigil_server *s);
/* Loads both config files anew and swaps them in; on failure the running
 * config stays and msg says why.  Returns 0 or -1. */
int server_reload(struct vigil_server *s, char *msg, size_t msglen);
void server_shutdown(struct vigil_server *s, int exit_code);

/* selfmetrics.c */
void server_metrics_init(struct vigil_server *s);
void server_http_observe(void *ctx, const char *handler, const char *method, int status,
                         double seconds);

/* routes.c, api.c, api_query.c */
void server_routes_register(struct vigil_server *s);
void server_api_register(struct vigil_server *s);
void server_api_query_register(struct vigil_server *s);
void server_api_admin_register(struct vigil_server *s);
void server_federate_register(struct vigil_server *s);
void server_api_targets_register(struct vigil_server *s);
void server_api_rules_register(struct vigil_server *s);
void server_api_status_config_register(struct vigil_server *s);
/* A time as Go's time.Time marshals to JSON (RFC 3339, UTC, nanoseconds
 * with trailing zeros trimmed); ms <= 0 is the zero time. */
void api_json_time(struct sbuf *b, int64_t ms);
/* A float64 as Go's encoding/json writes it ("0.000268822", "7.5e-7", "15"). */
void api_json_float(struct sbuf *b, double v);
/* Prometheus's parseTime: Unix seconds (float) or RFC 3339.  0 or -1. */
int api_parse_time(const char *v, int64_t *ms);
/* Replies 503 "TSDB not ready" and returns false until storage is open. */
bool api_ready(struct vigil_server *s, struct http_request *r);
/* Reads time parameter `name` (Unix seconds or RFC 3339; def when absent)
 * into ms; replies 400 bad_data and returns -1 when it does not parse. */
int api_time_param(struct http_request *r, const char *name, int64_t def, int64_t *ms);

/* webauth.c: loads --web.config.file (again, on reload), puts its gate
 * (headers, basic auth) in front of every request and gives the HTTP server
 * its TLS configuration.  0 or -1 with msg (the running config stays). */
int server_webauth_load(struct vigil_server *s, char *msg, size_t msglen);
/* Whether the web server speaks TLS. */
bool server_webauth_tls(const struct vigil_server *s);
void server_webauth_free(struct vigil_server *s);

/* cmd_check.c, cmd_tsdb.c */
int cmd_check(int argc, char **argv);
int cmd_tsdb(int argc, char **argv);
/* cmd_promqltest.c */
int cmd_promqltest(int argc, char **argv);
/* cmd_test.c */
int cmd_test(int argc, char **argv);

#endif
