/* routes.c — the server's own endpoints: health, readiness, lifecycle and
 * /metrics.  Modules register their API handlers next to these as they
 * arrive (server wires everything; modules never reach into each other).
 *
 * Texts and status codes are Prometheus's, so probes, scripts and
 * orchestrators written for Prometheus see the same answers. */
#include <string.h>

#include "server/server.h"

#define TEXT_PLAIN "text/plain; charset=utf-8"

static void reply_text(struct http_request *r, int status, const char *text)
{
    http_reply(r, status, TEXT_PLAIN, text, strlen(text));
}

static void handle_healthy(struct http_request *r, void *ctx)
{
    (void)ctx;
    reply_text(r, 200, "Prometheus Server is Healthy.\n");
}

static void handle_ready(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (s->ready)
        reply_text(r, 200, "Prometheus Server is Ready.\n");
    else
        reply_text(r, 503, "Service Unavailable");
}

/* Lifecycle endpoints accept POST and PUT only, and only with
 * --web.enable-lifecycle, as Prometheus. */
static int lifecycle_allowed(struct vigil_server *s, struct http_request *r)
{
    if (!s->flags.enable_lifecycle) {
        reply_text(r, 403, "Lifecycle API is not enabled.");
        return 0;
    }
    const char *m = http_request_method(r);
    if (strcmp(m, "POST") != 0 && strcmp(m, "PUT") != 0) {
        reply_text(r, 405, "Only POST or PUT requests allowed");
        return 0;
    }
    return 1;
}

static void handle_reload(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!lifecycle_allowed(s, r))
        return;
    char msg[1024], body[1100];
    if (server_reload(s, msg, sizeof msg) < 0) {
        snprintf(body, sizeof body, "failed to reload config: %s\n", msg);
        reply_text(r, 500, body);
        return;
    }
    http_reply(r, 200, TEXT_PLAIN, "", 0);
}

static void handle_quit(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!lifecycle_allowed(s, r))
        return;
    reply_text(r, 200, "Requesting termination... Goodbye!");
    log_warn(s->log, "web", "Received termination request via web service, exiting gracefully...");
    server_shutdown(s, 0);
}

static void handle_metrics(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    struct sbuf out = SBUF_INIT;
    metrics_registry_write_text(s->metrics, &out);
    http_reply(r, 200, METRICS_TEXT_CONTENT_TYPE, out.data ? out.data : "", out.len);
    sbuf_free(&out);
}

void server_routes_register(struct vigil_server *s)
{
    http_server_route(s->http, NULL, "/-/healthy", false, "/-/healthy", handle_healthy, s);
    http_server_route(s->http, NULL, "/-/ready", false, "/-/ready", handle_ready, s);
    http_server_route(s->http, NULL, "/-/reload", false, "/-/reload", handle_reload, s);
    http_server_route(s->http, NULL, "/-/quit", false, "/-/quit", handle_quit, s);
    http_server_route(s->http, "GET", "/metrics", false, "/metrics", handle_metrics, s);
    server_api_register(s);
}
