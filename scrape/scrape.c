/* scrape.c — the scrape manager: jobs, per-target loops, HTTP on libcurl's
 * multi-socket interface driven by the libuv loop.
 *
 * Shape.  A manager holds one struct uvcurl (util/uvcurl.h: a CURLM whose
 * sockets and timeout the loop watches).  Each job holds its job_targets
 * (discovery + relabeling, target.c), its compiled metric_relabel_configs,
 * a uv_timer for file_sd refreshes and one loop per active target.  The
 * loop-driven SD mechanisms (http, dns, docker: sd.h) call back when their
 * groups change, and the job syncs then.  Each
 * loop owns a uv_timer (first fire at Prometheus's offset, then every
 * interval), a reused CURL easy handle (so keep-alive connections survive
 * between scrapes), a body buffer (freed after each scrape: kept, the
 * pages of idle targets cost ~60 bytes per active series), a scrape cache
 * and a tsdb appender.
 *
 * A scrape: the timer adds the easy handle to the multi; when uvcurl reports
 * the transfer done the response is checked (status, Content-Type → format, body size
 * limit, timeout) and the page or the failure becomes one batch
 * (scrape_append.c) and one commit.  A scrape that is still running when
 * the next is due is not overlapped: the due one is skipped.
 *
 * Discovery changes keep the loops of targets whose identity (hash and URL)
 * is unchanged; a target that goes away gets stale markers for its series
 * and is closed.  A config reload builds the new jobs first; a new job's
 * target that the old job of the same name scraped, with the same
 * cache-relevant settings (cache_fingerprint), takes over the old loop;
 * the old loops left over are closed, with stale markers when no new job
 * scrapes their target.  The job's HTTP client settings (auth, TLS, proxy)
 * are applied by httpc.c, which the notifier shares.  Compression: curl inflates gzip (zlib) when
 * the job has enable_compression; the research's libdeflate whole-buffer path is not done yet. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "scrape/httpc.h"
#include "scrape/scrape.h"
#include "scrape/sd.h"
#include "scrape/scrape_internal.h"
#include "util/uvcurl.h"
#include "util/httpstatus.h"

struct sjob;

struct sloop {
    uv_timer_t timer;
    struct scrape_manager *m;
    struct sjob *job;
    struct scrape_target t;
    CURL *easy;
    struct httpc_headers hdrs;
    char errbuf[CURL_ERROR_SIZE];
    struct sbuf body;
    bool too_big, in_flight;
    bool needs_setup; /* adopted by a reloaded job mid-scrape: redo easy_setup */
    int64_t start_ms;
    uint64_t start_ns;
    struct scrape_cache *cache;
    struct tsdb_appender *app;
    /* What /api/v1/targets reports about the last scrape. */
    enum scrape_health health;
    char *last_error; /* owned; "" after a good scrape */
    int64_t last_scrape_ms;
    double last_duration_s;
};

struct sjob {
    uv_timer_t sd_timer;
    struct scrape_manager *m;
    const struct prom_scrape_config *cfg;
    struct job_targets *jt;
    struct relabel_rules *mrules;
    struct sloop **loops;
    size_t nloops;
    char *accept;
    char *fingerprint; /* what a loop's cache depends on (cache_fingerprint) */
    char *forced_err;  /* target_limit exceeded: every loop fails with this */
};

struct scrape_manager {
    uv_loop_t *loop;
    struct tsdb *db;
    struct logger *log;
    char *ua;
    struct uvcurl *curl; /* the HTTP of every loop (util/uvcurl.h) */
    struct sjob **jobs;
    size_t njobs;
    bool stopped;
    struct sjob **adopt_from; /* during a reload: the old jobs */
    size_t nadopt;
    struct sd_metrics *sd_metrics;
    bool store_st; /* scrape_manager_options.store_start_timestamps */
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- One scrape ---- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct sloop *l = arg;
    size_t len = size * n;
    int64_t limit = l->job->cfg->body_size_limit;
    if (limit > 0 && (int64_t)(l->body.len + len) > limit) {
        l->too_big = true;
        return 0;
    }
    sbuf_append(&l->body, p, len);
    return len;
}

/* The exposition format from the Content-Type, or the job's fallback.
 * 0, or -1 with err. */
static int pick_format(const struct prom_scrape_config *cfg, const char *ct,
                       enum textparse_format *fmt, char *err, size_t errsize)
{
    size_t n = 0;
    if (ct) {
        while (ct[n] && ct[n] != ';' && ct[n] != ' ')
            n++;
    }
    if (n == strlen("application/openmetrics-text") &&
        strncasecmp(ct, "application/openmetrics-text", n) == 0) {
        *fmt = TEXTPARSE_OPENMETRICS;
        return 0;
    }
    if (n == strlen("text/plain") && strncasecmp(ct, "text/plain", n) == 0) {
        *fmt = TEXTPARSE_PROMETHEUS;
        return 0;
    }
    switch (cfg->fallback_scrape_protocol) {
    case PROM_PROTO_OPENMETRICS_TEXT_0_0_1:
    case PROM_PROTO_OPENMETRICS_TEXT_1_0_0:
        *fmt = TEXTPARSE_OPENMETRICS;
        return 0;
    case PROM_PROTO_PROMETHEUS_TEXT_0_0_4:
    case PROM_PROTO_PROMETHEUS_TEXT_1_0_0:
        *fmt = TEXTPARSE_PROMETHEUS;
        return 0;
    default:
        break;
    }
    if (!ct || !*ct)
        snprintf(err, errsize,
                 "non-compliant scrape target sending blank Content-Type and no "
                 "fallback_scrape_protocol specified for target");
    else
        snprintf(err, errsize,
                 "received unsupported Content-Type \"%s\" and no fallback_scrape_protocol "
                 "specified for target",
                 ct);
    return -1;
}

/* Ends a scrape: the transfer's outcome (res), or forced, an error that
 * fails the scrape without a transfer (Prometheus's forced error). */
static void scrape_finish(struct sloop *l, CURLcode res, const char *forced)
{
    struct scrape_manager *m = l->m;
    const struct prom_scrape_config *cfg = l->job->cfg;
    char err[600] = "";
    long code = 0;
    if (!forced)
        curl_easy_getinfo(l->easy, CURLINFO_RESPONSE_CODE, &code);
    enum textparse_format fmt = TEXTPARSE_PROMETHEUS;
    if (forced) {
        snprintf(err, sizeof err, "%s", forced);
    } else if (res != CURLE_OK) {
        if (l->too_big)
            snprintf(err, sizeof err, "body size limit exceeded");
        else if (res == CURLE_OPERATION_TIMEDOUT)
            snprintf(err, sizeof err, "context deadline exceeded");
        else
            snprintf(err, sizeof err, "%s", l->errbuf[0] ? l->errbuf : curl_easy_strerror(res));
    } else if (code != 200) {
        snprintf(err, sizeof err, "server returned HTTP status %ld %s", code,
                 http_status_text((int)code));
    } else {
        char *ct = NULL;
        curl_easy_getinfo(l->easy, CURLINFO_CONTENT_TYPE, &ct);
        pick_format(cfg, ct, &fmt, err, sizeof err);
    }
    struct scrape_page_result r = {0};
    struct scrape_page_opts o = {cfg, &l->t, l->job->mrules, l->job->m->store_st};
    if (!err[0] && scrape_append_page(l->app, l->cache, &o, fmt, l->body.data ? l->body.data : "",
                                      l->body.len, l->start_ms, &r) < 0) {
        snprintf(err, sizeof err, "%s", r.err);
        tsdb_appender_rollback(l->app);
        scrape_cache_iter_done(l->cache, false);
    }
    if (err[0])
        scrape_append_failed(l->app, l->cache, l->start_ms, &r);
    double dur = (double)(uv_hrtime() - l->start_ns) / 1e9;
    bool ok = scrape_append_report(l->app, l->cache, &l->t, l->start_ms, !err[0], dur, &r) == 0 &&
              tsdb_appender_commit(l->app, NULL) == 0;
    if (!ok) {
        log_error(m->log, "scrape", "Appending scrape report failed", "scrape_pool", cfg->job_name,
                  "target", l->t.url, "err", tsdb_appender_error(l->app));
        tsdb_appender_rollback(l->app);
    }
    scrape_cache_iter_done(l->cache, ok);
    l->health = err[0] ? SCRAPE_HEALTH_DOWN : SCRAPE_HEALTH_UP;
    free(l->last_error);
    l->last_error = xstrdup(err);
    l->last_scrape_ms = l->start_ms;
    l->last_duration_s = dur;
    if (err[0])
        log_debug(m->log, "scrape", "Scrape failed", "scrape_pool", cfg->job_name, "target",
                  l->t.url, "err", err);
    sbuf_free(&l->body); /* not kept between scrapes: a page's bytes per target */
}

/* uvcurl's done callback: a scrape's transfer is over. */
static void on_transfer_done(void *ctx, CURL *e, CURLcode res)
{
    (void)ctx;
    struct sloop *l = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&l);
    l->in_flight = false;
    scrape_finish(l, res, NULL);
}

static void easy_setup(struct sloop *l);

static void on_scrape_timer(uv_timer_t *t)
{
    struct sloop *l = t->data;
    if (l->in_flight) {
        log_debug(l->m->log, "scrape", "Previous scrape still running, skipping", "scrape_pool",
                  l->job->cfg->job_name, "target", l->t.url);
        return;
    }
    if (l->needs_setup) {
        httpc_headers_free(&l->hdrs);
        curl_easy_reset(l->easy);
        easy_setup(l);
        l->needs_setup = false;
    }
    sbuf_reset(&l->body);
    l->too_big = false;
    l->errbuf[0] = '\0';
    l->start_ms = wall_ms();
    l->start_ns = uv_hrtime();
    if (l->job->forced_err) {
        scrape_finish(l, CURLE_OK, l->job->forced_err);
        return;
    }
    l->in_flight = uvcurl_add(l->m->curl, l->easy) == 0;
}

/* ---- Loops ---- */

static void target_copy(struct scrape_target *dst, const struct scrape_target *src)
{
    memset(dst, 0, sizeof *dst);
    label_set_copy(&dst->labels, &src->labels);
    label_set_copy(&dst->discovered, &src->discovered);
    dst->url = xstrdup(src->url);
    dst->interval_ms = src->interval_ms;
    dst->timeout_ms = src->timeout_ms;
    dst->hash = src->hash;
}

static void easy_setup(struct sloop *l)
{
    const struct prom_scrape_config *cfg = l->job->cfg;
    CURL *e = l->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)l);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, l);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, l->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)l->t.timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, l->m->ua);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, cfg->enable_compression ? "gzip" : "identity");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    char msg[512];
    if (httpc_config_apply(e, &cfg->http, &l->hdrs, msg, sizeof msg) < 0)
        log_error(l->m->log, "scrape", "Setting up the HTTP client failed", "scrape_pool",
                  cfg->job_name, "target", l->t.url, "err", msg);
    httpc_url_apply(e, l->t.url, &cfg->http, &l->hdrs);
    struct curl_slist **hdrs = &l->hdrs.request;
    *hdrs = curl_slist_append(*hdrs, "Accept:");
    struct sbuf acc = SBUF_INIT;
    sbuf_printf(&acc, "Accept: %s", l->job->accept);
    *hdrs = curl_slist_append(*hdrs, acc.data);
    sbuf_free(&acc);
    char h[64];
    snprintf(h, sizeof h, "X-Prometheus-Scrape-Timeout-Seconds: %g",
             (double)l->t.timeout_ms / 1000.0);
    *hdrs = curl_slist_append(*hdrs, h);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, l->hdrs.request);
}

static struct sloop *loop_new(struct sjob *j, const struct scrape_target *t)
{
    struct scrape_manager *m = j->m;
    struct sloop *l = xcalloc(1, sizeof *l);
    l->m = m;
    l->job = j;
    target_copy(&l->t, t);
    l->easy = curl_easy_init();
    l->cache = scrape_cache_new();
    l->app = tsdb_appender_new(m->db);
    easy_setup(l);
    uv_timer_init(m->loop, &l->timer);
    l->timer.data = l;
    /* Prometheus's offset: spread targets over the interval by their hash. */
    int64_t iv = l->t.interval_ms, now = wall_ms();
    int64_t base = iv - now % iv;
    int64_t next = base + (int64_t)(l->t.hash % (uint64_t)iv);
    if (next > iv)
        next -= iv;
    uv_timer_start(&l->timer, on_scrape_timer, (uint64_t)next, (uint64_t)iv);
    return l;
}

static void on_loop_closed(uv_handle_t *h)
{
    free(h->data);
}

/* Stops a loop now; with `stale`, its series get stale markers first (the
 * target went away). */
static void loop_close(struct sloop *l, bool stale)
{
    if (l->in_flight)
        uvcurl_remove(l->m->curl, l->easy);
    l->in_flight = false;
    if (stale) {
        struct scrape_page_result r = {0};
        int64_t now = wall_ms();
        scrape_append_failed(l->app, l->cache, now, &r);
        scrape_append_report_stale(l->app, l->cache, now);
        bool ok = tsdb_appender_commit(l->app, NULL) == 0;
        scrape_cache_iter_done(l->cache, ok);
    }
    curl_easy_cleanup(l->easy);
    httpc_headers_free(&l->hdrs);
    tsdb_appender_free(l->app);
    scrape_cache_free(l->cache);
    scrape_target_free(&l->t);
    sbuf_free(&l->body);
    free(l->last_error);
    l->last_error = NULL;
    uv_timer_stop(&l->timer);
    uv_close((uv_handle_t *)&l->timer, on_loop_closed);
}

/* ---- Jobs ---- */

static void job_sync(struct sjob *j);

/* A loop of the job being replaced (same name, same cache-relevant config)
 * that scrapes this target: taken over with its cache and schedule, as
 * Prometheus keeps the loops of an unchanged job across a reload. */
static struct sloop *adopt_loop(struct sjob *j, const struct scrape_target *t)
{
    struct scrape_manager *m = j->m;
    for (size_t i = 0; i < m->nadopt; i++) {
        struct sjob *o = m->adopt_from[i];
        if (strcmp(o->cfg->job_name, j->cfg->job_name) != 0 ||
            strcmp(o->fingerprint, j->fingerprint) != 0)
            continue;
        for (size_t k = 0; k < o->nloops; k++) {
            struct sloop *l = o->loops[k];
            if (!l || l->t.hash != t->hash || strcmp(l->t.url, t->url) != 0)
                continue;
            o->loops[k] = NULL;
            l->job = j;
            l->needs_setup = true; /* headers, auth, TLS may have changed */
            return l;
        }
    }
    return NULL;
}

static void on_sd_timer(uv_timer_t *t)
{
    job_sync(t->data);
}

/* An http / dns / docker SD config of the job has new groups. */
static void on_sd_changed(void *ctx)
{
    job_sync(ctx);
}

/* Applies the job's current target set: keeps loops of unchanged targets,
 * starts new ones, closes vanished ones (with stale markers). */
static void job_apply_targets(struct sjob *j)
{
    const struct target_set *s = job_targets_current(j->jt);
    /* target_limit: over it, Prometheus keeps the targets but fails every
     * scrape of the pool (up 0, with this error) until they fit again. */
    free(j->forced_err);
    j->forced_err = NULL;
    uint64_t limit = j->cfg->target_limit;
    if (limit && s->n_active > limit) {
        struct sbuf e = SBUF_INIT;
        sbuf_printf(&e, "target_limit exceeded (number of targets: %zu, limit: %llu)", s->n_active,
                    (unsigned long long)limit);
        j->forced_err = sbuf_detach(&e);
        log_error(j->m->log, "scrape", "Target limit exceeded", "scrape_pool", j->cfg->job_name,
                  "err", j->forced_err);
    }
    struct sloop **nl = s->n_active ? xcalloc(s->n_active, sizeof *nl) : NULL;
    for (size_t i = 0; i < s->n_active; i++) {
        const struct scrape_target *t = &s->active[i];
        for (size_t k = 0; k < j->nloops; k++)
            if (j->loops[k] && j->loops[k]->t.hash == t->hash &&
                strcmp(j->loops[k]->t.url, t->url) == 0) {
                nl[i] = j->loops[k];
                j->loops[k] = NULL;
                break;
            }
        if (!nl[i])
            nl[i] = adopt_loop(j, t);
        if (!nl[i])
            nl[i] = loop_new(j, t);
    }
    for (size_t k = 0; k < j->nloops; k++)
        if (j->loops[k])
            loop_close(j->loops[k], true);
    free(j->loops);
    j->loops = nl;
    j->nloops = s->n_active;
}

static void job_sync(struct sjob *j)
{
    struct scrape_manager *m = j->m;
    int64_t now = (int64_t)uv_now(m->loop);
    if (job_targets_refresh(j->jt, now))
        job_apply_targets(j);
    const struct ystrlist *sde = job_targets_sd_errors(j->jt);
    for (size_t i = 0; i < sde->n; i++)
        log_error(m->log, "discovery", "Error reading file", "discovery", "file", "config",
                  j->cfg->job_name, "err", sde->v[i]);
    const struct target_set *s = job_targets_current(j->jt);
    for (size_t i = 0; i < s->errors.n; i++)
        log_error(m->log, "scrape", "Creating target failed", "scrape_pool", j->cfg->job_name,
                  "err", s->errors.v[i]);
    int64_t next = job_targets_next_refresh_ms(j->jt);
    if (next != INT64_MAX)
        uv_timer_start(&j->sd_timer, on_sd_timer, (uint64_t)(next > now ? next - now : 0), 0);
}

/* Prometheus's acceptHeader: the job's protocols in order with falling q,
 * then any type.  The protobuf format is not offered (not parsed here). */
static char *accept_header(const struct prom_scrape_config *cfg)
{
    struct sbuf b = SBUF_INIT;
    int weight = PROM_SCRAPE_PROTOCOL_MAX + 1;
    for (size_t i = 0; i < cfg->scrape_protocols.n; i++, weight--) {
        enum prom_scrape_protocol p = cfg->scrape_protocols.v[i];
        if (p == PROM_PROTO_PROMETHEUS_PROTO)
            continue;
        sbuf_printf(&b, "%s%s", b.len ? "," : "", prom_scrape_protocol_header(p));
        if (p == PROM_PROTO_PROMETHEUS_TEXT_1_0_0 || p == PROM_PROTO_OPENMETRICS_TEXT_1_0_0)
            sbuf_printf(&b, ";escaping=%s",
                        cfg->metric_name_escaping_scheme ? cfg->metric_name_escaping_scheme
                                                         : "allow-utf-8");
        sbuf_printf(&b, ";q=0.%d", weight);
    }
    sbuf_printf(&b, "%s*/*;q=0.%d", b.len ? "," : "", weight);
    return sbuf_detach(&b);
}

/* Everything a scrape cache's entries depend on: sample-label mutation,
 * metric relabeling, the checks made on a miss.  Two jobs with the same
 * fingerprint can share a loop's cache. */
static char *cache_fingerprint(const struct prom_scrape_config *c)
{
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%d %d %d %d %llu %llu %llu %llu|", c->honor_labels, c->honor_timestamps,
                c->track_timestamps_staleness, (int)c->metric_name_validation_scheme,
                (unsigned long long)c->sample_limit, (unsigned long long)c->label_limit,
                (unsigned long long)c->label_name_length_limit,
                (unsigned long long)c->label_value_length_limit);
    for (size_t i = 0; i < c->metric_relabel_configs.n; i++) {
        const struct prom_relabel *r = &c->metric_relabel_configs.v[i];
        sbuf_printf(&b, "%d\xff%llu\xff", (int)r->action, (unsigned long long)r->modulus);
        for (size_t k = 0; k < r->source_labels.n; k++)
            sbuf_printf(&b, "%s\xfe", r->source_labels.v[k]);
        sbuf_printf(&b, "\xff%s\xff%s\xff%s\xff%s\xff", r->separator ? r->separator : "",
                    r->regex ? r->regex : "", r->target_label ? r->target_label : "",
                    r->replacement ? r->replacement : "");
    }
    return sbuf_detach(&b);
}

static void on_job_closed(uv_handle_t *h)
{
    struct sjob *j = h->data;
    relabel_rules_free(j->mrules);
    free(j->loops);
    free(j->accept);
    free(j->fingerprint);
    free(j->forced_err);
    free(j);
}

/* Whether a job of `jobs` named `name` scrapes a target with this identity. */
static bool target_still_scraped(struct sjob **jobs, size_t n, const char *name,
                                 const struct scrape_target *t)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(jobs[i]->cfg->job_name, name) != 0)
            continue;
        for (size_t k = 0; k < jobs[i]->nloops; k++)
            if (jobs[i]->loops[k] && jobs[i]->loops[k]->t.hash == t->hash &&
                strcmp(jobs[i]->loops[k]->t.url, t->url) == 0)
                return true;
    }
    return false;
}

/* Closes a job.  With `next` (a reload), loops whose target no job of the new
 * config scrapes get stale markers, as Prometheus's stopped loops write. */
static void job_close(struct sjob *j, struct sjob **next, size_t nnext)
{
    for (size_t k = 0; k < j->nloops; k++)
        if (j->loops[k])
            loop_close(j->loops[k], next && !target_still_scraped(next, nnext, j->cfg->job_name,
                                                                  &j->loops[k]->t));
    j->nloops = 0;
    job_targets_free(j->jt); /* discovery stops now: the config may go after this */
    j->jt = NULL;
    uv_timer_stop(&j->sd_timer);
    uv_close((uv_handle_t *)&j->sd_timer, on_job_closed);
}

/* ---- Manager ---- */

int scrape_manager_new(const struct scrape_manager_options *o, struct scrape_manager **out,
                       char *err, size_t errsize)
{
    struct scrape_manager *m = xcalloc(1, sizeof *m);
    if (uvcurl_new(o->loop, on_transfer_done, m, &m->curl, err, errsize) < 0) {
        free(m);
        return -1;
    }
    m->loop = o->loop;
    m->db = o->db;
    m->log = o->log;
    m->ua = xstrdup(o->user_agent ? o->user_agent : "Vigil");
    m->sd_metrics = sd_metrics_new(o->metrics);
    m->store_st = o->store_start_timestamps;
    *out = m;
    return 0;
}

int scrape_manager_apply(struct scrape_manager *m, const struct prom_config *cfg, char *err,
                         size_t errsize)
{
    if (m->stopped)
        return 0;
    /* The new jobs start first, so that the old loops know whether their
     * target lives on (then no stale markers) or is gone. */
    struct sjob **old = m->jobs;
    size_t nold = m->njobs;
    m->jobs = NULL;
    m->njobs = 0;
    m->adopt_from = old;
    m->nadopt = nold;
    int rc = 0;
    m->jobs = cfg->n_scrape_configs ? xcalloc(cfg->n_scrape_configs, sizeof *m->jobs) : NULL;
    for (size_t i = 0; i < cfg->n_scrape_configs; i++) {
        const struct prom_scrape_config *sc = &cfg->scrape_configs[i];
        struct sjob *j = xcalloc(1, sizeof *j);
        j->m = m;
        j->cfg = sc;
        char msg[512];
        struct target_discovery_options dop = {.loop = m->loop,
                                               .log = m->log,
                                               .metrics = m->sd_metrics,
                                               .user_agent = m->ua,
                                               .name = sc->job_name,
                                               .changed = on_sd_changed,
                                               .ctx = j};
        if (job_targets_new(sc, &dop, &j->jt, msg, sizeof msg) < 0 ||
            relabel_rules_compile(&sc->metric_relabel_configs, sc->metric_name_validation_scheme,
                                  &j->mrules, msg, sizeof msg) < 0) {
            job_targets_free(j->jt);
            free(j);
            snprintf(err, errsize, "job \"%s\": %s", sc->job_name, msg);
            rc = -1;
            continue;
        }
        j->accept = accept_header(sc);
        j->fingerprint = cache_fingerprint(sc);
        uv_timer_init(m->loop, &j->sd_timer);
        j->sd_timer.data = j;
        m->jobs[m->njobs++] = j;
        for (size_t k = 0; k < nold; k++)
            job_targets_adopt(j->jt, old[k]->jt);
        job_sync(j);
    }
    m->adopt_from = NULL;
    m->nadopt = 0;
    for (size_t i = 0; i < nold; i++)
        job_close(old[i], m->jobs, m->njobs);
    free(old);
    return rc;
}

void scrape_manager_stop(struct scrape_manager *m)
{
    if (!m || m->stopped)
        return;
    m->stopped = true;
    for (size_t i = 0; i < m->njobs; i++)
        job_close(m->jobs[i], NULL, 0);
    free(m->jobs);
    m->jobs = NULL;
    m->njobs = 0;
    uvcurl_close(m->curl);
    m->curl = NULL;
}

void scrape_manager_free(struct scrape_manager *m)
{
    if (!m)
        return;
    free(m->jobs);
    free(m->ua);
    free(m->sd_metrics);
    free(m);
}

/* ---- introspection for the HTTP API ---- */

void scrape_manager_each_target(const struct scrape_manager *m, scrape_target_fn fn, void *ctx)
{
    for (size_t j = 0; j < m->njobs; j++) {
        const struct sjob *job = m->jobs[j];
        for (size_t i = 0; i < job->nloops; i++) {
            const struct sloop *l = job->loops[i];
            struct labels disc = label_set_view(&l->t.discovered);
            struct labels lab = label_set_view(&l->t.labels);
            struct scrape_target_info info = {
                .pool = job->cfg->job_name,
                .url = l->t.url,
                .discovered = &disc,
                .labels = &lab,
                .health = l->health,
                .last_error = l->last_error ? l->last_error : "",
                .last_scrape_ms = l->last_scrape_ms,
                .last_duration_s = l->last_duration_s,
                .interval_ms = l->t.interval_ms,
                .timeout_ms = l->t.timeout_ms,
            };
            fn(ctx, &info);
        }
    }
}

void scrape_manager_each_dropped(const struct scrape_manager *m, scrape_dropped_fn fn, void *ctx)
{
    for (size_t j = 0; j < m->njobs; j++) {
        const struct target_set *ts = job_targets_current(m->jobs[j]->jt);
        for (size_t i = 0; ts && i < ts->n_dropped; i++) {
            struct labels disc = label_set_view(&ts->dropped[i]);
            fn(ctx, m->jobs[j]->cfg->job_name, &disc);
        }
    }
}

void scrape_manager_each_metadata(const struct scrape_manager *m, scrape_metadata_fn fn, void *ctx)
{
    for (size_t j = 0; j < m->njobs; j++) {
        const struct sjob *job = m->jobs[j];
        for (size_t i = 0; i < job->nloops; i++) {
            const struct sloop *l = job->loops[i];
            const struct scrape_metadata *md = scrape_cache_metadata(l->cache);
            struct labels lab = label_set_view(&l->t.labels);
            for (size_t k = 0; k < md->n; k++)
                fn(ctx, job->cfg->job_name, &lab, md->v[k].name, md->v[k].type, md->v[k].help,
                   md->v[k].unit);
        }
    }
}
