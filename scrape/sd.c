/* sd.c — what the loop-driven SD mechanisms share (see sd.h): the
 * refresher (Prometheus's discovery/refresh: refresh at once, then on a
 * timer; a failure keeps the last groups), the host's lazily created
 * uvcurl and its close accounting, one HTTP GET on it, groups, metrics.
 *
 * The accounting: every uv_timer of a refresher and every worker job in
 * flight counts one in host->pending.  A closed timer or a returning job
 * calls sd_host_unpend; the host's owner is freed (release) only when it
 * is closing and the count is back to 0, so no callback ever finds its
 * memory gone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/sd.h"

/* ---- Groups ---- */

void sd_label_put(struct prom_target_group *g, const char *name, const char *value)
{
    ystrmap_set(&g->labels, name, value);
}

struct prom_target_group *sd_groups_add(struct sd_groups *gs, const char *source)
{
    gs->v = xrealloc(gs->v, (gs->n + 1) * sizeof *gs->v);
    gs->source = xrealloc(gs->source, (gs->n + 1) * sizeof *gs->source);
    memset(&gs->v[gs->n], 0, sizeof *gs->v);
    gs->source[gs->n] = xstrdup(source);
    return &gs->v[gs->n++];
}

struct prom_target_group *sd_groups_add_target(struct sd_groups *gs, const char *source,
                                               const char *address)
{
    struct prom_target_group *g = sd_groups_add(gs, source);
    g->targets.v = xmalloc(sizeof *g->targets.v);
    g->targets.v[0] = xstrdup(address);
    g->targets.n = 1;
    return g;
}

void sd_groups_copy(struct sd_groups *dst, const struct sd_groups *src)
{
    for (size_t i = 0; i < src->n; i++) {
        const struct prom_target_group *s = &src->v[i];
        struct prom_target_group *g = sd_groups_add(dst, src->source[i]);
        g->pos = s->pos;
        g->targets.v = s->targets.n ? xcalloc(s->targets.n, sizeof *g->targets.v) : NULL;
        for (size_t k = 0; k < s->targets.n; k++)
            g->targets.v[k] = xstrdup(s->targets.v[k]);
        g->targets.n = s->targets.n;
        for (size_t k = 0; k < s->labels.n; k++)
            ystrmap_set(&g->labels, s->labels.keys[k], s->labels.values[k]);
    }
}

void sd_groups_free(struct sd_groups *gs)
{
    for (size_t i = 0; i < gs->n; i++) {
        ystrlist_free(&gs->v[i].targets);
        ystrmap_free(&gs->v[i].labels);
        free(gs->source[i]);
    }
    free(gs->v);
    free(gs->source);
    memset(gs, 0, sizeof *gs);
}

void sd_label_sanitize(struct sbuf *b, const char *name)
{
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
            sbuf_putc(b, (char)c);
        else if ((c & 0xc0) != 0x80) /* one '_' per rune, as Go's regexp replaces */
            sbuf_putc(b, '_');
    }
}

/* ---- Metrics ---- */

struct sd_metrics *sd_metrics_new(struct metrics_registry *reg)
{
    struct sd_metrics *m = xcalloc(1, sizeof *m);
    if (!reg)
        return m;
    struct metric_family *f;
    f = metrics_counter_new(reg, "prometheus_sd_http_failures_total",
                            "Number of HTTP service discovery refresh failures.", NULL);
    m->http_failures = f ? metric_family_with(f, NULL) : NULL;
    f = metrics_counter_new(reg, "prometheus_sd_dns_lookups_total", "The number of DNS-SD lookups.",
                            NULL);
    m->dns_lookups = f ? metric_family_with(f, NULL) : NULL;
    f = metrics_counter_new(reg, "prometheus_sd_dns_lookup_failures_total",
                            "The number of DNS-SD lookup failures.", NULL);
    m->dns_lookup_failures = f ? metric_family_with(f, NULL) : NULL;
    static const char *const mech[] = {"mechanism", NULL};
    m->refresh_failures =
        metrics_counter_new(reg, "prometheus_sd_refresh_failures_total",
                            "Number of refresh failures for the given SD mechanism.", mech);
    return m;
}

/* ---- Host ---- */

static void host_on_curl_done(void *ctx, CURL *easy, CURLcode res)
{
    (void)ctx;
    sd_fetch_on_done(NULL, easy, res);
}

struct uvcurl *sd_host_curl(struct sd_host *h)
{
    if (h->curl || h->closing)
        return h->curl;
    char err[256];
    if (uvcurl_new(h->loop, host_on_curl_done, h, &h->curl, err, sizeof err) < 0) {
        log_error(h->log, "discovery", "Starting the HTTP client failed", "config", h->name, "err",
                  err);
        h->curl = NULL;
    }
    return h->curl;
}

static void host_maybe_release(struct sd_host *h)
{
    if (h->closing && h->pending == 0 && h->release)
        h->release(h);
}

void sd_host_close(struct sd_host *h)
{
    h->closing = true;
    uvcurl_close(h->curl);
    h->curl = NULL;
    host_maybe_release(h);
}

void sd_host_unpend(struct sd_host *h)
{
    h->pending--;
    host_maybe_release(h);
}

/* ---- Refreshers ---- */

static void on_refresh_timer(uv_timer_t *t)
{
    struct sd_refresher *r = t->data;
    if (r->running || r->host->closing)
        return; /* the previous refresh is still out: skip, as a ticker would */
    r->running = true;
    r->mech->start(r);
}

struct sd_refresher *sd_refresher_new(struct sd_host *h, const struct sd_mech *mech, void *state,
                                      char *key_owned, int64_t interval_ms)
{
    struct sd_refresher *r = xcalloc(1, sizeof *r);
    r->host = h;
    r->mech = mech;
    r->state = state;
    r->key = key_owned;
    r->interval_ms = interval_ms > 0 ? interval_ms : 60000;
    uv_timer_init(h->loop, &r->timer);
    r->timer.data = r;
    h->pending++;
    return r;
}

void sd_refresher_start(struct sd_refresher *r)
{
    uv_timer_start(&r->timer, on_refresh_timer, 0, (uint64_t)r->interval_ms);
}

void sd_refresher_done(struct sd_refresher *r, struct sd_groups *fresh, const char *err)
{
    r->running = false;
    struct sd_host *h = r->host;
    if (err) {
        log_error(h->log, "discovery", "Unable to refresh target groups", "discovery",
                  r->mech->name, "config", h->name, "err", err);
        if (h->metrics && h->metrics->refresh_failures) {
            const char *lv[] = {r->mech->name};
            metric_inc(metric_family_with(h->metrics->refresh_failures, lv));
        }
        if (fresh)
            sd_groups_free(fresh);
        return;
    }
    sd_groups_free(&r->groups);
    r->groups = *fresh;
    memset(fresh, 0, sizeof *fresh);
    if (h->changed && !h->closing)
        h->changed(h->ctx);
}

static void on_refresher_closed(uv_handle_t *hd)
{
    struct sd_refresher *r = hd->data;
    struct sd_host *h = r->host;
    free(r);
    sd_host_unpend(h);
}

void sd_refresher_close(struct sd_refresher *r)
{
    struct sd_host *h = r->host;
    if (!r->mech->stop(r))
        h->pending++; /* the mechanism calls sd_host_unpend when its work is back */
    r->state = NULL;
    sd_groups_free(&r->groups);
    free(r->key);
    r->key = NULL;
    uv_timer_stop(&r->timer);
    uv_close((uv_handle_t *)&r->timer, on_refresher_closed);
}

/* ---- HTTP GET ---- */

static size_t fetch_on_body(char *p, size_t size, size_t n, void *arg)
{
    struct sd_fetch *f = arg;
    sbuf_append(&f->body, p, size * n);
    return size * n;
}

int sd_fetch_start(struct sd_fetch *f, struct sd_host *h, const char *url, const char *unix_socket,
                   const struct prom_http_client *hc, const char *const *extra, int64_t timeout_ms,
                   sd_fetch_done_fn done, char *err, size_t errsize)
{
    struct uvcurl *u = sd_host_curl(h);
    if (!u) {
        snprintf(err, errsize, "no HTTP client");
        return -1;
    }
    f->host = h;
    f->done = done;
    f->status = 0;
    free(f->content_type);
    f->content_type = NULL;
    sbuf_reset(&f->body);
    if (!f->easy)
        f->easy = curl_easy_init();
    else
        curl_easy_reset(f->easy);
    httpc_headers_free(&f->hdrs);
    CURL *e = f->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, f);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, fetch_on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, f->errbuf);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout_ms > 0 ? timeout_ms : 60000));
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    if (unix_socket)
        curl_easy_setopt(e, CURLOPT_UNIX_SOCKET_PATH, unix_socket);
    f->errbuf[0] = '\0';
    char msg[512];
    if (hc && httpc_config_apply(e, hc, &f->hdrs, msg, sizeof msg) < 0)
        log_error(h->log, "discovery", "Reading a secret failed", "config", h->name, "err", msg);
    if (!hc) {
        curl_easy_setopt(e, CURLOPT_PROXY, "");
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    }
    httpc_url_apply(e, url, hc, &f->hdrs);
    for (size_t i = 0; extra && extra[i]; i++)
        f->hdrs.request = curl_slist_append(f->hdrs.request, extra[i]);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->hdrs.request);
    if (uvcurl_add(u, e) < 0) {
        snprintf(err, errsize, "the HTTP client refused the request");
        return -1;
    }
    f->in_flight = true;
    return 0;
}

void sd_fetch_on_done(void *ctx, CURL *easy, CURLcode res)
{
    (void)ctx;
    struct sd_fetch *f = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&f);
    if (!f)
        return;
    f->in_flight = false;
    if (res != CURLE_OK) {
        char err[CURL_ERROR_SIZE + 64];
        snprintf(err, sizeof err, "%s", f->errbuf[0] ? f->errbuf : curl_easy_strerror(res));
        f->done(f, err);
        return;
    }
    curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &f->status);
    char *ct = NULL;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
    f->content_type = xstrdup(ct ? ct : "");
    f->done(f, NULL);
}

void sd_fetch_cancel(struct sd_fetch *f)
{
    if (f->in_flight && f->host && f->host->curl)
        uvcurl_remove(f->host->curl, f->easy);
    f->in_flight = false;
    if (f->easy)
        curl_easy_cleanup(f->easy);
    f->easy = NULL;
    httpc_headers_free(&f->hdrs);
    sbuf_free(&f->body);
    free(f->content_type);
    f->content_type = NULL;
}
