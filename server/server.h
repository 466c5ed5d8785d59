/* server.h — server-internal: the one server struct and how its parts
 * reach each other.
 *
 * Everything that lives as long as the process hangs off struct
 * vigil_server; there is no other global mutable state.  The libuv loop
 * thread owns it: handlers, signals and timers run there.  Work that may
 * block (loading storage, queries, label and series listings, the admin
 * API, rule evaluation) runs on libuv's worker pool and hands results back
 * through its after-callbacks (api_work.c for the HTTP API). */
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
#include "util/sbuf.h"

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
    struct query_log *query_log; /* global.query_log_file (query_log.c) */
    bool per_step_stats;         /* --enable-feature=promql-per-step-stats */
    bool delayed_name_removal;   /* --enable-feature=promql-delayed-name-removal */
    bool use_start_timestamps;   /* --enable-feature=use-start-timestamps */
    char *route_prefix;          /* derived from the flags; "/" when none */
    char *external_url;          /* derived from the flags; no trailing slash */
    bool ready;                  /* storage open and config loaded */
    double start_time;           /* Unix seconds */
    bool stopping;
    bool forced_stop;         /* the shutdown watchdog fired: handles may be open */
    unsigned queries_running; /* API work on workers (api_work.c); storage stays open until 0 */
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
/* Whether a stop has drained HTTP, rule evaluation and notifications (then
 * server_finish has run, or runs as the last of them ends). */
bool server_stop_done(const struct vigil_server *s);

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

/* api_work.c: storage work of an API handler on libuv's worker pool.
 *
 * What the work answers: a Prometheus JSON error when error_type is set
 * (api_answer_error), else status, content_type and body.  api_work_start
 * sets status 200 and content type application/json before the work runs;
 * NULL content_type sends none (204). */
struct api_answer {
    int status;
    const char *content_type; /* static string */
    const char *error_type;   /* static string; NULL = no error */
    char error[1024];
    struct sbuf body;
};
/* Runs on a worker thread: may use db and job, nothing of the server or
 * the request, and fills ans. */
typedef void (*api_work_fn)(struct tsdb *db, void *job, struct api_answer *ans);
/* Called on the loop thread once the handler has checked its parameters
 * (storage is open: api_ready).  Runs fn(db, job, &answer) on a worker,
 * then replies to r with the answer on the loop thread and frees job with
 * free_job (NULL: free()).  Takes ownership of job.  Counted in
 * queries_running, so storage stays open until the work is done. */
void api_work_start(struct vigil_server *s, struct http_request *r, void *job, api_work_fn fn,
                    void (*free_job)(void *job));
void api_answer_error(struct api_answer *ans, int status, const char *error_type, const char *fmt,
                      ...) __attribute__((format(printf, 4, 5)));
/* Sets the body to {"status":"success","data":<data>} with a "warnings"
 * list when warning is not NULL; frees data. */
void api_answer_success(struct api_answer *ans, struct sbuf *data, const char *warning);

/* webauth.c: loads --web.config.file (again, on reload), puts its gate
 * (headers, basic auth) in front of every request and gives the HTTP server
 * its TLS configuration.  0 or -1 with msg (the running config stays). */
int server_webauth_load(struct vigil_server *s, char *msg, size_t msglen);
/* Whether the web server speaks TLS. */
bool server_webauth_tls(const struct vigil_server *s);
void server_webauth_free(struct vigil_server *s);

/* query_log.c: the query log, appended to from query workers. */
struct query_log;
struct query_log *query_log_new(void);
void query_log_free(struct query_log *l);
/* Switches to path (NULL: no log); an unchanged path keeps the file.
 * Loop thread.  0, or -1 with err (then no query is logged). */
int query_log_reopen(struct query_log *l, const char *path, char *err, size_t errsz);
/* Appends one line (any thread); nothing when no log is open. */
void query_log_append(struct query_log *l, const char *line, size_t n);
bool query_log_enabled(struct query_log *l);

/* cmd_check.c, cmd_tsdb.c */
int cmd_check(int argc, char **argv);
int cmd_tsdb(int argc, char **argv);
/* cmd_promqltest.c */
int cmd_promqltest(int argc, char **argv);
/* cmd_test.c */
int cmd_test(int argc, char **argv);

#endif
