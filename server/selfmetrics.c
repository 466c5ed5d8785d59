/* selfmetrics.c — the metrics Vigil reports about itself on /metrics.
 *
 * Names and labels are Prometheus's wherever Prometheus measures the same
 * thing, so the alert rules and dashboards users have about their
 * monitoring server keep working: prometheus_http_requests_total{handler,
 * code}, prometheus_http_request_duration_seconds{handler},
 * prometheus_config_last_reload_*, prometheus_build_info, prometheus_ready.
 * What only Vigil measures is named vigil_*. */
#include <string.h>

#include "server/server.h"

/* Prometheus's buckets for request durations (web/web.go). */
static const double http_duration_buckets[] = {0.1, 0.2, 0.4, 1, 3, 8, 20, 60, 120};

static struct metric *gauge(struct vigil_server *s, const char *name, const char *help)
{
    return metric_family_with(metrics_gauge_new(s->metrics, name, help, NULL), NULL);
}

static struct metric *counter(struct vigil_server *s, const char *name, const char *help)
{
    return metric_family_with(metrics_counter_new(s->metrics, name, help, NULL), NULL);
}

static void build_info_init(struct vigil_server *s, const char *name, const char *help)
{
    static const char *const labels[] = {"branch", "goversion", "revision",
                                         "tags",   "version",   NULL};
    const char *const values[] = {"main", "none", "unknown", "", VIGIL_VERSION};
    struct metric_family *f = metrics_gauge_new(s->metrics, name, help, labels);
    metric_set(metric_family_with(f, values), 1);
}

/* Copies totals other modules keep; runs in the /metrics handler, on the
 * loop thread, which owns the HTTP server. */
static void selfmetrics_collect(void *ctx)
{
    struct vigil_server *s = ctx;
    if (s->http)
        metric_set(s->tls_handshake_errors, (double)http_server_tls_handshake_errors(s->http));
}

void server_metrics_init(struct vigil_server *s)
{
    /* Label names in sorted order, as client_golang writes them. */
    static const char *const code_handler[] = {"code", "handler", NULL};
    static const char *const handler[] = {"handler", NULL};
    s->http_requests = metrics_counter_new(s->metrics, "prometheus_http_requests_total",
                                           "Counter of HTTP requests.", code_handler);
    s->http_duration = metrics_histogram_new(
        s->metrics, "prometheus_http_request_duration_seconds",
        "Histogram of latencies for HTTP requests.", handler, http_duration_buckets,
        sizeof http_duration_buckets / sizeof http_duration_buckets[0]);
    s->reload_success = gauge(s, "prometheus_config_last_reload_successful",
                              "Whether the last configuration reload attempt was successful.");
    s->reload_success_ts = gauge(s, "prometheus_config_last_reload_success_timestamp_seconds",
                                 "Timestamp of the last successful configuration reload.");
    s->reloads_total = counter(s, "vigil_config_reloads_total",
                               "Configuration reload attempts (start-up load excluded).");
    s->reload_failures_total = counter(s, "vigil_config_reload_failures_total",
                                       "Configuration reload attempts that failed.");
    s->queries_canceled = counter(s, "vigil_queries_canceled_total",
                                  "Queries stopped because their client went away.");
    s->tls_handshake_errors = counter(s, "vigil_http_tls_handshake_errors_total",
                                      "Connections dropped because their TLS handshake failed.");
    metrics_registry_add_collector(s->metrics, selfmetrics_collect, s);
    s->ready_gauge = gauge(s, "prometheus_ready",
                           "Whether Prometheus startup was fully completed "
                           "and the server is ready for normal operation.");
    build_info_init(s, "prometheus_build_info",
                    "A metric with a constant '1' value labeled by version, revision, branch, "
                    "goversion from which prometheus was built, and the goos and goarch for the "
                    "build.");
    build_info_init(s, "vigil_build_info",
                    "A metric with a constant '1' value labeled by Vigil's version and revision.");
}

void server_http_observe(void *ctx, const char *handler, const char *method, int status,
                         double seconds)
{
    struct vigil_server *s = ctx;
    (void)method;
    char code[8];
    snprintf(code, sizeof code, "%d", status);
    /* Unmatched paths are folded into one label value so a scanner cannot
     * blow up the series count. */
    const char *h = handler && handler[0] ? handler : "other";
    const char *const ch[] = {code, h};
    const char *const hv[] = {h};
    metric_inc(metric_family_with(s->http_requests, ch));
    metric_observe(metric_family_with(s->http_duration, hv), seconds);
}
