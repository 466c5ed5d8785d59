/* sd_http.c — http_sd_configs (Prometheus's discovery/http).
 *
 * Every refresh_interval: GET the URL with the job-independent HTTP client
 * settings of the SD config (auth, TLS, proxy: httpc.c), "Accept:
 * application/json" and "X-Prometheus-Refresh-Interval-Seconds", and a
 * timeout of one refresh interval.  A good answer is status 200, a
 * Content-Type of application/json (charset utf-8 allowed) and a JSON list
 * of {targets, labels} groups; each group gets __meta_url.  Anything else
 * counts in prometheus_sd_http_failures_total and keeps the last groups
 * (sd_refresher_done). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scrape/sd.h"
#include "scrape/target.h"

struct http_sd {
    char *url;
    const struct prom_http_client *hc; /* borrowed: see sd_http_new */
    int64_t interval_ms;
    struct sd_fetch fetch;
    struct sd_refresher *r;
};

bool sd_http_content_type_ok(const char *ct)
{
    while (*ct == ' ' || *ct == '\t')
        ct++;
    size_t n = strlen(ct);
    while (n && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    static const char base[] = "application/json";
    if (n < sizeof base - 1 || strncasecmp(ct, base, sizeof base - 1) != 0)
        return false;
    const char *p = ct + sizeof base - 1;
    size_t rest = n - (sizeof base - 1);
    if (rest == 0)
        return true;
    if (*p != ';')
        return false;
    p++, rest--;
    while (rest && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r' || *p == '\f'))
        p++, rest--;
    return (rest == 13 && strncasecmp(p, "charset=utf-8", 13) == 0) ||
           (rest == 15 && strncasecmp(p, "charset=\"utf-8\"", 15) == 0);
}

int sd_http_groups(const char *url, const char *body, size_t len, struct sd_groups *out, char *err,
                   size_t errsize)
{
    struct prom_target_group *groups;
    size_t n;
    if (target_groups_from_json(url, body, len, "__meta_url", url, &groups, &n, err, errsize) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        struct sbuf s = SBUF_INIT;
        sbuf_printf(&s, "%s:%zu", url, i);
        struct prom_target_group *g = sd_groups_add(out, s.data);
        sbuf_free(&s);
        *g = groups[i]; /* moved */
    }
    free(groups);
    return 0;
}

static void http_sd_fail(struct http_sd *s, const char *err)
{
    struct sd_host *h = s->r->host;
    if (h->metrics && h->metrics->http_failures)
        metric_inc(h->metrics->http_failures);
    sd_refresher_done(s->r, NULL, err);
}

static void http_sd_on_done(struct sd_fetch *f, const char *err)
{
    struct http_sd *s = (struct http_sd *)((char *)f - offsetof(struct http_sd, fetch));
    char msg[512];
    if (err) {
        snprintf(msg, sizeof msg, "Get \"%s\": %s", s->url, err);
        http_sd_fail(s, msg);
        return;
    }
    if (f->status != 200) {
        snprintf(msg, sizeof msg, "server returned HTTP status %ld", f->status);
        http_sd_fail(s, msg);
        return;
    }
    if (!sd_http_content_type_ok(f->content_type)) {
        snprintf(msg, sizeof msg, "unsupported content type \"%s\"", f->content_type);
        http_sd_fail(s, msg);
        return;
    }
    struct sd_groups fresh = {0};
    if (sd_http_groups(s->url, f->body.data ? f->body.data : "", f->body.len, &fresh, msg,
                       sizeof msg) < 0) {
        sd_groups_free(&fresh);
        http_sd_fail(s, msg);
        return;
    }
    sd_refresher_done(s->r, &fresh, NULL);
}

static void http_sd_start(struct sd_refresher *r)
{
    struct http_sd *s = r->state;
    char iv[64], err[256];
    double secs = (double)s->interval_ms / 1000.0;
    snprintf(iv, sizeof iv, "X-Prometheus-Refresh-Interval-Seconds: %.15g", secs);
    const char *extra[] = {"Accept: application/json", iv, NULL};
    if (sd_fetch_start(&s->fetch, r->host, s->url, NULL, s->hc, extra, s->interval_ms,
                       http_sd_on_done, err, sizeof err) < 0)
        http_sd_fail(s, err);
}

static bool http_sd_stop(struct sd_refresher *r)
{
    struct http_sd *s = r->state;
    sd_fetch_cancel(&s->fetch);
    free(s->url);
    free(s);
    return true;
}

static const struct sd_mech http_mech = {"http", http_sd_start, http_sd_stop};

/* The client settings are borrowed from the config: target_discovery_free
 * closes the refresher at once (its transfer abandoned, its timer stopped),
 * and its owners call that before they let the config go. */
struct sd_refresher *sd_http_new(struct sd_host *h, const struct prom_http_sd *cfg)
{
    struct http_sd *s = xcalloc(1, sizeof *s);
    s->url = xstrdup(cfg->url);
    s->hc = &cfg->http;
    s->interval_ms = cfg->refresh_interval_ms;
    struct sbuf key = SBUF_INIT;
    sbuf_printf(&key, "http\xff%s", cfg->url);
    s->r = sd_refresher_new(h, &http_mech, s, sbuf_detach(&key), cfg->refresh_interval_ms);
    return s->r;
}
