/* lifecycle.c — start, reload and stop.
 *
 * Start-up order mirrors Prometheus's so that orchestration sees the same
 * thing: the config is loaded first (a bad one stops start-up with exit 1),
 * then the HTTP server listens at once, answering /-/healthy while storage
 * opens on a worker thread; /-/ready turns 200 only when storage is open.
 *
 * Reload (SIGHUP or POST /-/reload) parses the files anew and swaps the
 * typed configs in one step on the loop thread; a file that fails to load
 * leaves the running config untouched and says why.
 *
 * Rules and notifications: the notifier starts with the loop (it needs no
 * storage); the rules manager starts once storage is open.  A reload loads
 * the rule files before anything is swapped, so broken rules fail the
 * reload like a broken config.
 *
 * Stop (SIGTERM, SIGINT or POST /-/quit) stops scraping and rule
 * evaluation, lets in-flight requests and evaluations finish, closes
 * storage and leaves the loop; a watchdog makes sure the process is gone
 * within 5 s even if a client stalls. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"
#include "util/procstat.h"

#define SHUTDOWN_DRAIN_MS 4000
#define SHUTDOWN_HARD_MS  5000

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loads both configs into *pc / *ac.  Returns 0, or -1 with msg. */
static int server_load_configs(struct vigil_server *s, struct prom_config **pc,
                               struct am_config **ac, char *msg, size_t msglen)
{
    struct conf_error err = {{0}};
    *pc = NULL;
    *ac = NULL;
    if (prom_config_load_file(s->flags.config_file, pc, &err) < 0) {
        snprintf(msg, msglen, "%s", err.msg);
        return -1;
    }
    if (s->flags.am_config_file[0] && am_config_load_file(s->flags.am_config_file, ac, &err) < 0) {
        prom_config_free(*pc);
        *pc = NULL;
        snprintf(msg, msglen, "%s", err.msg);
        return -1;
    }
    return 0;
}

/* Opens (or keeps, or closes) the query log for cfg, as Prometheus's
 * engine does on each load. */
static void query_log_apply(struct vigil_server *s, const struct prom_config *cfg)
{
    char err[512];
    if (query_log_reopen(s->query_log, cfg->global.query_log_file, err, sizeof err) < 0)
        log_error(s->log, "query", "Cannot open the query log", "err", err);
}

int server_reload(struct vigil_server *s, char *msg, size_t msglen)
{
    struct prom_config *pc;
    struct am_config *ac;
    metric_inc(s->reloads_total);
    if (server_load_configs(s, &pc, &ac, msg, msglen) < 0) {
        metric_set(s->reload_success, 0);
        metric_inc(s->reload_failures_total);
        log_error(s->log, "config", "Error reloading config", "err", msg);
        return -1;
    }
    if (server_webauth_load(s, msg, msglen) < 0) {
        metric_set(s->reload_success, 0);
        metric_inc(s->reload_failures_total);
        log_error(s->log, "config", "Error reloading the web config", "err", msg);
        prom_config_free(pc);
        am_config_free(ac);
        return -1;
    }
    if (s->rules && rules_manager_apply(s->rules, pc, msg, msglen) < 0) {
        metric_set(s->reload_success, 0);
        metric_inc(s->reload_failures_total);
        log_error(s->log, "config", "Error loading rules, previous rule set restored", "err", msg);
        prom_config_free(pc);
        am_config_free(ac);
        return -1;
    }
    if (s->notifier && notifier_apply_config(s->notifier, pc, msg, msglen) < 0)
        log_error(s->log, "notifier", "Error applying alerting config", "err", msg);
    /* The scrape manager borrows the config: hand it the new one before
     * the old one is freed. */
    if (s->scrape && scrape_manager_apply(s->scrape, pc, msg, msglen) < 0)
        log_error(s->log, "scrape", "Error applying scrape config", "err", msg);
    query_log_apply(s, pc);
    if (s->tsdb) /* Prometheus applies storage.tsdb.out_of_order_time_window on reload */
        tsdb_set_ooo_window(s->tsdb, pc->storage.out_of_order_time_window_ms);
    prom_config_free(s->config);
    am_config_free(s->am_config);
    s->config = pc;
    s->am_config = ac;
    metric_set(s->reload_success, 1);
    metric_set(s->reload_success_ts, now_seconds());
    log_info(s->log, "config", "Completed loading of configuration file", "filename",
             s->flags.config_file);
    return 0;
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct vigil_server *s = h->data;
    if (signum == SIGHUP) {
        char msg[1024];
        log_info(s->log, "main", "Reloading configuration (SIGHUP)");
        server_reload(s, msg, sizeof msg);
        return;
    }
    log_warn(s->log, "main", "Received termination signal, exiting gracefully...", "signal",
             signum == SIGTERM ? "SIGTERM" : "SIGINT");
    server_shutdown(s, 0);
}

static void on_handle_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, on_handle_closed);
}

/* Last step of a stop: storage is flushed and every handle closed, which
 * lets uv_run return. */
bool server_stop_done(const struct vigil_server *s)
{
    return s->http_drained && s->rules_stopped && s->notifier_stopped;
}

static void server_finish(struct vigil_server *s)
{
    if (!server_stop_done(s))
        return;
    /* API work still running on a worker (a query, a listing, an admin
     * operation) uses storage: the last one to finish closes it
     * (api_work.c). */
    if (!s->queries_running) {
        tsdb_close(s->tsdb);
        s->tsdb = NULL;
    }
    uv_walk(s->loop, close_walk, NULL);
}

static void on_http_drained(void *arg)
{
    struct vigil_server *s = arg;
    log_info(s->log, "web", "HTTP server drained");
    s->http_drained = true;
    server_finish(s);
}

static void on_notifier_stopped(void *arg)
{
    struct vigil_server *s = arg;
    s->notifier_stopped = true;
    server_finish(s);
}

static void on_rules_stopped(void *arg)
{
    struct vigil_server *s = arg;
    s->rules_stopped = true;
    /* Every alert the rules will ever send is queued now: flush them,
     * bounded by the notifier's drain timeout. */
    if (s->notifier)
        notifier_stop(s->notifier, on_notifier_stopped, s);
    else
        on_notifier_stopped(s);
}

/* The HTTP drain force-closes stragglers after SHUTDOWN_DRAIN_MS; this
 * watchdog is for anything else that hangs: it leaves the loop with handles
 * still open, and server_run then skips freeing what may still be in use. */
static void on_shutdown_watchdog(uv_timer_t *t)
{
    struct vigil_server *s = t->data;
    log_warn(s->log, "main", "Shutdown took too long, forcing exit");
    s->forced_stop = true;
    uv_stop(s->loop);
}

void server_shutdown(struct vigil_server *s, int exit_code)
{
    if (s->stopping)
        return;
    s->stopping = true;
    s->exit_code = exit_code;
    s->ready = false;
    metric_set(s->ready_gauge, 0);
    scrape_manager_stop(s->scrape); /* nothing is appended after this */
    if (s->rules)
        rules_manager_stop(s->rules, on_rules_stopped, s);
    else
        on_rules_stopped(s);
    uv_timer_init(s->loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    uv_timer_start(&s->shutdown_timer, on_shutdown_watchdog, SHUTDOWN_HARD_MS, 0);
    uv_unref((uv_handle_t *)&s->shutdown_timer);
    http_server_shutdown(s->http, SHUTDOWN_DRAIN_MS, on_http_drained, s);
}

static void tsdb_open_work(uv_work_t *w)
{
    struct vigil_server *s = w->data;
    struct tsdb_options opts = {
        .retention_ms = s->flags.retention_ms,
        .retention_bytes = s->flags.retention_bytes,
        .log = s->log,
        .metrics = s->metrics,
    };
    s->tsdb_open_err[0] = '\0';
    if (tsdb_open(s->flags.tsdb_path, &opts, &s->tsdb, s->tsdb_open_err, sizeof s->tsdb_open_err) <
        0)
        s->tsdb = NULL;
}

static void server_rules_start(struct vigil_server *s)
{
    const struct vigil_flags *f = &s->flags;
    struct rules_options ro = {
        .loop = s->loop,
        .db = s->tsdb,
        .notifier = s->notifier,
        .log = s->log,
        .metrics = s->metrics,
        .external_url = s->external_url,
        .outage_tolerance_ms = f->for_outage_tolerance_ms,
        .grace_period_ms = f->for_grace_period_ms,
        .resend_delay_ms = f->resend_delay_ms,
        .eval = {.delayed_name_removal = s->delayed_name_removal,
                 .use_start_timestamps = s->use_start_timestamps,
                 .lookback_ms = f->query_lookback_delta_ms,
                 .max_samples = (size_t)f->query_max_samples,
                 .timeout_ms = f->query_timeout_ms},
    };
    char msg[1024];
    if (rules_manager_new(&ro, &s->rules, msg, sizeof msg) < 0)
        log_error(s->log, "rules", "Starting the rules manager failed", "err", msg);
    else if (rules_manager_apply(s->rules, s->config, msg, sizeof msg) < 0)
        log_error(s->log, "rules", "Error loading rules", "err", msg);
}

/* Prometheus's computeExternalURL: --web.external-url without a trailing
 * slash, else http://<hostname>:<listen port>. */
static char *external_url_derive(const struct vigil_flags *f)
{
    struct sbuf b = SBUF_INIT;
    if (f->external_url[0]) {
        sbuf_puts(&b, f->external_url);
    } else {
        char host[256] = "localhost";
        gethostname(host, sizeof host - 1);
        const char *port = strrchr(f->listen_address, ':');
        sbuf_printf(&b, "http://%s%s", host, port ? port : ":9090");
    }
    while (b.len && b.data[b.len - 1] == '/')
        b.data[--b.len] = '\0';
    return sbuf_detach(&b);
}

static void tsdb_open_done(uv_work_t *w, int status)
{
    struct vigil_server *s = w->data;
    (void)status;
    if (!s->tsdb) {
        log_error(s->log, "tsdb", "Opening storage failed", "err", s->tsdb_open_err);
        server_shutdown(s, 1);
        return;
    }
    if (s->stopping) {
        server_finish(s);
        return;
    }
    /* On the loop thread, from the config in force now (a reload may have
     * come during the open); reloads set it again (server_reload). */
    tsdb_set_ooo_window(s->tsdb, s->config->storage.out_of_order_time_window_ms);
    server_rules_start(s);
    struct scrape_manager_options so = {.loop = s->loop,
                                        .db = s->tsdb,
                                        .log = s->log,
                                        .user_agent = "Vigil/" VIGIL_VERSION,
                                        .metrics = s->metrics,
                                        .store_start_timestamps =
                                            flags_feature_enabled(&s->flags, "st-storage")};
    char msg[512];
    if (scrape_manager_new(&so, &s->scrape, msg, sizeof msg) < 0)
        log_error(s->log, "scrape", "Starting the scrape manager failed", "err", msg);
    else if (scrape_manager_apply(s->scrape, s->config, msg, sizeof msg) < 0)
        log_error(s->log, "scrape", "Error applying scrape config", "err", msg);
    s->ready = true;
    metric_set(s->ready_gauge, 1);
    log_info(s->log, "main", "Server is ready to receive web requests.");
}

static void signals_start(struct vigil_server *s)
{
    /* A write to a peer that has reset (a response, a TLS close_notify)
     * fails with EPIPE, which libuv reports to its callback; the signal
     * would kill the server instead.  Go's runtime ignores it for sockets
     * too.  Only the server does this: CLI commands keep the default. */
    signal(SIGPIPE, SIG_IGN);
    uv_signal_t *hs[] = {&s->sig_hup, &s->sig_term, &s->sig_int};
    int nums[] = {SIGHUP, SIGTERM, SIGINT};
    for (int i = 0; i < 3; i++) {
        uv_signal_init(s->loop, hs[i]);
        hs[i]->data = s;
        uv_signal_start(hs[i], on_signal, nums[i]);
    }
}

/* --web.route-prefix, else the path of --web.external-url, else "/". */
static char *route_prefix_derive(const struct vigil_flags *f)
{
    const char *p = f->route_prefix;
    if (!p[0] && f->external_url[0]) {
        const char *scheme = strstr(f->external_url, "://");
        const char *host = scheme ? scheme + 3 : f->external_url;
        p = strchr(host, '/');
        if (!p)
            p = "/";
    }
    if (!p[0])
        p = "/";
    struct sbuf b = SBUF_INIT;
    if (p[0] != '/')
        sbuf_putc(&b, '/');
    sbuf_puts(&b, p);
    while (b.len > 1 && b.data[b.len - 1] == '/')
        b.data[--b.len] = '\0';
    return sbuf_detach(&b);
}

static int server_start_http(struct vigil_server *s)
{
    /* --web.read-timeout bounds both reading a request and idling between
     * requests, as Go's ReadTimeout/IdleTimeout do for Prometheus; headers
     * must also arrive within 10 s so a slowloris client is dropped early. */
    uint64_t read_ms = (uint64_t)s->flags.read_timeout_ms;
    struct http_server_options o = {
        .header_timeout_ms = read_ms < 10000 ? read_ms : 10000,
        .idle_timeout_ms = read_ms,
        .max_connections = (size_t)s->flags.max_connections,
        .route_prefix = s->route_prefix,
        .cors_origin = s->flags.cors_origin,
    };
    s->http = http_server_new(s->loop, &o);
    if (!s->http) {
        log_error(s->log, "web", "Invalid --web.cors.origin regex", "regex", s->flags.cors_origin);
        return -1;
    }
    http_server_set_observer(s->http, server_http_observe, s);
    char msg[1024];
    if (server_webauth_load(s, msg, sizeof msg) < 0) {
        log_error(s->log, "web", "Invalid --web.config.file", "err", msg);
        return -1;
    }
    server_routes_register(s);
    char err[256];
    if (http_server_listen(s->http, s->flags.listen_address, err, sizeof err) < 0) {
        log_error(s->log, "web", "Unable to start web listener", "address", s->flags.listen_address,
                  "err", err);
        return -1;
    }
    log_info(s->log, "web", "Start listening for connections", "address", s->flags.listen_address);
    log_info(s->log, "web", server_webauth_tls(s) ? "TLS is enabled." : "TLS is disabled.",
             "address", s->flags.listen_address);
    return 0;
}

static void server_cleanup(struct vigil_server *s)
{
    if (s->http && !s->forced_stop)
        http_server_free(s->http);
    scrape_manager_free(s->scrape);
    rules_manager_free(s->rules);
    notifier_free(s->notifier);
    tsdb_close(s->tsdb);
    prom_config_free(s->config);
    am_config_free(s->am_config);
    server_webauth_free(s);
    procstat_free(s->procstat);
    metrics_registry_free(s->metrics);
    free(s->route_prefix);
    free(s->external_url);
    query_log_free(s->query_log);
    if (s->loop) {
        uv_loop_close(s->loop);
        free(s->loop);
    }
}

int server_run(struct vigil_server *s)
{
    log_info(s->log, "main", "Starting Vigil", "version", VIGIL_VERSION);
    s->start_time = now_seconds();
    s->metrics = metrics_registry_new();
    s->procstat = procstat_register(s->metrics);
    server_metrics_init(s);
    s->route_prefix = route_prefix_derive(&s->flags);
    s->external_url = external_url_derive(&s->flags);
    s->per_step_stats = flags_feature_enabled(&s->flags, "promql-per-step-stats");
    s->delayed_name_removal = flags_feature_enabled(&s->flags, "promql-delayed-name-removal");
    /* Prometheus's experimental switch for start timestamps in PromQL
     * (rate, increase, irate, resets, start_timestamp). */
    s->use_start_timestamps = flags_feature_enabled(&s->flags, "use-start-timestamps");

    char msg[1024];
    if (server_load_configs(s, &s->config, &s->am_config, msg, sizeof msg) < 0) {
        log_error(s->log, "config", "Error loading config", "err", msg);
        server_cleanup(s);
        return 1;
    }
    metric_set(s->reload_success, 1);
    metric_set(s->reload_success_ts, now_seconds());
    s->query_log = query_log_new();
    query_log_apply(s, s->config);

    s->loop = xmalloc(sizeof *s->loop);
    uv_loop_init(s->loop);
    if (server_start_http(s) < 0) {
        if (s->http)
            server_shutdown(s, 1);
        uv_run(s->loop, UV_RUN_DEFAULT);
        server_cleanup(s);
        return 1;
    }
    signals_start(s);
    struct notifier_options no = {.loop = s->loop,
                                  .log = s->log,
                                  .metrics = s->metrics,
                                  .queue_capacity = (size_t)s->flags.notification_queue_capacity,
                                  .user_agent = "Vigil/" VIGIL_VERSION,
                                  /* within the shutdown watchdog's 5 s */
                                  .drain_timeout_ms = 3000};
    if (notifier_new(&no, &s->notifier, msg, sizeof msg) < 0 ||
        notifier_apply_config(s->notifier, s->config, msg, sizeof msg) < 0)
        log_error(s->log, "notifier", "Error applying alerting config", "err", msg);
    s->tsdb_open_work.data = s;
    uv_queue_work(s->loop, &s->tsdb_open_work, tsdb_open_work, tsdb_open_done);

    uv_run(s->loop, UV_RUN_DEFAULT);
    int code = s->exit_code;
    if (s->forced_stop) {
        /* Handles may still be open: flush storage and leave the rest to
         * process exit rather than free what libuv still points at. */
        tsdb_close(s->tsdb);
        return code;
    }
    log_info(s->log, "main", "See you next time!");
    server_cleanup(s);
    return code;
}
