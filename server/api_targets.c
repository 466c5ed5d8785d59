/* api_targets.c — /api/v1/targets and /api/v1/scrape_pools: what the
 * scraper is doing, in Prometheus's JSON shapes (field names, duration
 * strings, RFC 3339 times, "unknown" health before the first scrape). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "query/promql.h"
#include "scrape/scrape.h"
#include "server/server.h"
#include "util/duration.h"

struct targets_ctx {
    struct sbuf *b;
    const char *pool; /* scrapePool= filter, or NULL */
    size_t n;
    char host[256];
};

/* Labels without the "__" internal ones: what a target's series carry. */
static void json_public_labels(struct sbuf *b, const struct labels *ls)
{
    struct label v[ls->n ? ls->n : 1];
    size_t n = 0;
    for (size_t i = 0; i < ls->n; i++)
        if (strncmp(ls->v[i].name, "__", 2) != 0)
            v[n++] = ls->v[i];
    struct labels pub = {v, n};
    promql_labels_json(&pub, b);
}

/* Prometheus's globalURL: a loopback host is replaced by this host's name,
 * so links work from other machines. */
static void global_url(struct sbuf *b, const char *url, const char *host)
{
    const char *h = strstr(url, "://");
    h = h ? h + 3 : url;
    static const char *const loop[] = {"localhost", "127.", "[::1]"};
    for (size_t i = 0; i < 3; i++) {
        if (strncmp(h, loop[i], strlen(loop[i])) != 0)
            continue;
        const char *end = h + strcspn(h, ":/");
        if (*h == '[')
            end = strchr(h, ']') + 1;
        struct sbuf u = SBUF_INIT;
        sbuf_append(&u, url, (size_t)(h - url));
        sbuf_puts(&u, host);
        sbuf_puts(&u, end);
        sbuf_put_json_string(b, u.data, u.len);
        sbuf_free(&u);
        return;
    }
    sbuf_put_json_string(b, url, strlen(url));
}

static void json_duration(struct sbuf *b, int64_t ms)
{
    char buf[64];
    sbuf_printf(b, "\"%s\"", duration_format(ms, buf, sizeof buf));
}

static void active_target_json(void *arg, const struct scrape_target_info *t)
{
    struct targets_ctx *c = arg;
    static const char *const health[] = {"unknown", "up", "down"};
    if (c->pool && strcmp(c->pool, t->pool) != 0)
        return;
    struct sbuf *b = c->b;
    sbuf_puts(b, c->n++ ? ",{" : "{");
    sbuf_puts(b, "\"discoveredLabels\":");
    promql_labels_json(t->discovered, b);
    sbuf_puts(b, ",\"labels\":");
    json_public_labels(b, t->labels);
    sbuf_puts(b, ",\"scrapePool\":");
    sbuf_put_json_string(b, t->pool, strlen(t->pool));
    sbuf_puts(b, ",\"scrapeUrl\":");
    sbuf_put_json_string(b, t->url, strlen(t->url));
    sbuf_puts(b, ",\"globalUrl\":");
    global_url(b, t->url, c->host);
    sbuf_puts(b, ",\"lastError\":");
    sbuf_put_json_string(b, t->last_error, strlen(t->last_error));
    sbuf_puts(b, ",\"lastScrape\":");
    api_json_time(b, t->last_scrape_ms);
    sbuf_puts(b, ",\"lastScrapeDuration\":");
    sbuf_put_float(b, t->last_duration_s);
    sbuf_printf(b, ",\"health\":\"%s\",\"scrapeInterval\":", health[t->health]);
    json_duration(b, t->interval_ms);
    sbuf_puts(b, ",\"scrapeTimeout\":");
    json_duration(b, t->timeout_ms);
    sbuf_putc(b, '}');
}

static void dropped_target_json(void *arg, const char *pool, const struct labels *discovered)
{
    struct targets_ctx *c = arg;
    if (c->pool && strcmp(c->pool, pool) != 0)
        return;
    sbuf_puts(c->b, c->n++ ? ",{\"discoveredLabels\":" : "{\"discoveredLabels\":");
    promql_labels_json(discovered, c->b);
    sbuf_putc(c->b, '}');
}

static void handle_targets(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    const char *state = http_request_param(r, "state");
    bool any = !state || !*state || strcmp(state, "any") == 0;
    bool active = any || strcmp(state, "active") == 0;
    bool dropped = any || strcmp(state, "dropped") == 0;
    struct sbuf b = SBUF_INIT;
    struct targets_ctx c = {.b = &b, .pool = http_request_param(r, "scrapePool")};
    if (c.pool && !*c.pool)
        c.pool = NULL;
    if (gethostname(c.host, sizeof c.host) < 0)
        strcpy(c.host, "localhost");
    sbuf_puts(&b, "{\"status\":\"success\",\"data\":{\"activeTargets\":[");
    if (active && s->scrape)
        scrape_manager_each_target(s->scrape, active_target_json, &c);
    sbuf_puts(&b, "],\"droppedTargets\":[");
    c.n = 0;
    if (dropped && s->scrape)
        scrape_manager_each_dropped(s->scrape, dropped_target_json, &c);
    sbuf_puts(&b, "]}}");
    http_reply_sbuf(r, 200, "application/json", &b);
}

static void handle_scrape_pools(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "{\"status\":\"success\",\"data\":{\"scrapePools\":[");
    for (size_t i = 0; s->config && i < s->config->n_scrape_configs; i++) {
        if (i)
            sbuf_putc(&b, ',');
        const char *name = s->config->scrape_configs[i].job_name;
        sbuf_put_json_string(&b, name, strlen(name));
    }
    sbuf_puts(&b, "]}}");
    http_reply_sbuf(r, 200, "application/json", &b);
}

/* ---- metadata ---- */

struct meta_row {
    char *metric, *type, *help, *unit;
    char *target; /* public target labels as JSON (targets/metadata only) */
};

struct meta_ctx {
    struct meta_row *v;
    size_t n, cap;
    const char *metric;             /* metric= filter or NULL */
    const struct label_matcher *ms; /* match_target= or NULL */
    size_t nms;
    bool with_target;
};

static void meta_collect(void *arg, const char *pool, const struct labels *target,
                         const char *metric, const char *type, const char *help, const char *unit)
{
    struct meta_ctx *c = arg;
    (void)pool;
    if (c->metric && strcmp(c->metric, metric) != 0)
        return;
    struct label pubv[target->n ? target->n : 1];
    size_t np = 0;
    for (size_t i = 0; i < target->n; i++)
        if (strncmp(target->v[i].name, "__", 2) != 0)
            pubv[np++] = target->v[i];
    struct labels pub = {pubv, np};
    if (c->ms && !scrape_labels_match(&pub, c->ms, c->nms))
        return;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 256;
        c->v = xrealloc(c->v, c->cap * sizeof *c->v);
    }
    struct meta_row *r = &c->v[c->n++];
    *r = (struct meta_row){xstrdup(metric), xstrdup(type), xstrdup(help), xstrdup(unit), NULL};
    if (c->with_target) {
        struct sbuf b = SBUF_INIT;
        promql_labels_json(&pub, &b);
        r->target = sbuf_detach(&b);
    }
}

static int meta_row_cmp(const void *a, const void *b)
{
    const struct meta_row *x = a, *y = b;
    int c = strcmp(x->metric, y->metric);
    c = c ? c : strcmp(x->type, y->type);
    c = c ? c : strcmp(x->help, y->help);
    return c ? c : strcmp(x->unit, y->unit);
}

static void meta_free(struct meta_ctx *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].metric);
        free(c->v[i].type);
        free(c->v[i].help);
        free(c->v[i].unit);
        free(c->v[i].target);
    }
    free(c->v);
}

static void json_meta_fields(struct sbuf *b, const struct meta_row *r)
{
    sbuf_puts(b, "\"type\":");
    sbuf_put_json_string(b, r->type, strlen(r->type));
    sbuf_puts(b, ",\"help\":");
    sbuf_put_json_string(b, r->help, strlen(r->help));
    sbuf_puts(b, ",\"unit\":");
    sbuf_put_json_string(b, r->unit, strlen(r->unit));
}

/* A non-negative integer parameter; -1 when absent (no limit). */
static int int_param(struct http_request *r, const char *name, long *out)
{
    const char *v = http_request_param(r, name);
    *out = -1;
    if (!v || !*v)
        return 0;
    char *end;
    *out = strtol(v, &end, 10);
    if (*end) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s must be a number", name);
        http_reply_json_error(r, 400, "bad_data", msg);
        return -1;
    }
    return 0;
}

/* /api/v1/metadata: {"metric": [{type, help, unit}, ...]} with identical
 * entries from several targets merged. */
static void handle_metadata(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    long limit, per_metric;
    if (int_param(r, "limit", &limit) < 0 || int_param(r, "limit_per_metric", &per_metric) < 0)
        return;
    struct meta_ctx c = {.metric = http_request_param(r, "metric")};
    if (c.metric && !*c.metric)
        c.metric = NULL;
    if (s->scrape)
        scrape_manager_each_metadata(s->scrape, meta_collect, &c);
    if (c.n)
        qsort(c.v, c.n, sizeof *c.v, meta_row_cmp);
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "{\"status\":\"success\",\"data\":{");
    long metrics = 0, in_metric = 0;
    for (size_t i = 0; i < c.n; i++) {
        bool new_metric = !i || strcmp(c.v[i].metric, c.v[i - 1].metric) != 0;
        if (!new_metric && meta_row_cmp(&c.v[i], &c.v[i - 1]) == 0)
            continue;
        if (new_metric) {
            if (limit >= 0 && metrics == limit)
                break;
            sbuf_puts(&b, metrics++ ? "]," : "");
            sbuf_put_json_string(&b, c.v[i].metric, strlen(c.v[i].metric));
            sbuf_puts(&b, ":[");
            in_metric = 0;
        }
        if (per_metric >= 0 && in_metric >= per_metric)
            continue;
        sbuf_puts(&b, in_metric++ ? ",{" : "{");
        json_meta_fields(&b, &c.v[i]);
        sbuf_putc(&b, '}');
    }
    sbuf_puts(&b, metrics ? "]}}" : "}}");
    http_reply_sbuf(r, 200, "application/json", &b);
    meta_free(&c);
}

/* /api/v1/targets/metadata: one entry per target and metric. */
static void handle_targets_metadata(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    long limit;
    if (int_param(r, "limit", &limit) < 0)
        return;
    struct meta_ctx c = {.metric = http_request_param(r, "metric"), .with_target = true};
    if (c.metric && !*c.metric)
        c.metric = NULL;
    struct promql_arena *a = promql_arena_new();
    const char *mt = http_request_param(r, "match_target");
    if (mt && *mt) {
        struct promql_parse_error pe;
        struct promql_expr *sel = promql_parse_selector(a, mt, strlen(mt), &pe);
        if (!sel) {
            char msg[700];
            snprintf(msg, sizeof msg, "%s", pe.msg);
            http_reply_json_error(r, 400, "bad_data", msg);
            promql_arena_free(a);
            return;
        }
        c.ms = sel->vs.matchers;
        c.nms = sel->vs.nmatchers;
    }
    if (s->scrape)
        scrape_manager_each_metadata(s->scrape, meta_collect, &c);
    promql_arena_free(a);
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "{\"status\":\"success\",\"data\":[");
    for (size_t i = 0; i < c.n && (limit < 0 || (long)i < limit); i++) {
        sbuf_puts(&b, i ? ",{\"target\":" : "{\"target\":");
        sbuf_puts(&b, c.v[i].target);
        if (!c.metric) {
            sbuf_puts(&b, ",\"metric\":");
            sbuf_put_json_string(&b, c.v[i].metric, strlen(c.v[i].metric));
        }
        sbuf_putc(&b, ',');
        json_meta_fields(&b, &c.v[i]);
        sbuf_putc(&b, '}');
    }
    sbuf_puts(&b, "]}");
    http_reply_sbuf(r, 200, "application/json", &b);
    meta_free(&c);
}

void server_api_targets_register(struct vigil_server *s)
{
    http_server_route(s->http, "GET", "/api/v1/metadata", false, "/api/v1/metadata",
                      handle_metadata, s);
    http_server_route(s->http, "GET", "/api/v1/targets/metadata", false, "/api/v1/targets/metadata",
                      handle_targets_metadata, s);
    http_server_route(s->http, "GET", "/api/v1/targets", false, "/api/v1/targets", handle_targets,
                      s);
    http_server_route(s->http, "GET", "/api/v1/scrape_pools", false, "/api/v1/scrape_pools",
                      handle_scrape_pools, s);
}
