/* notifier.c — the notification queue and its delivery to Alertmanager
 * (see notifier.h for the behaviour, which is Prometheus 3's
 * notifier.Manager).
 *
 * Queue.  A ring buffer of `struct nalert *` with the configured capacity,
 * guarded by `mu` together with what notifier_send needs from the config
 * (the external labels and the compiled alert_relabel_configs: compiled
 * rules may be used by one thread at a time, and the mutex is that
 * guarantee).  notifier_send copies the alerts before taking the lock and
 * relabels them under it.  Pushing into a
 * full ring drops the oldest alert, as Go's `n.queue = n.queue[d:]`.
 *
 * Sending, on the loop.  notifier_send wakes the loop through a uv_async;
 * the pump takes up to 256 alerts and sends them as one batch: for every
 * Alertmanager set with Alertmanagers, the set's alert_relabel_configs run
 * on copies of the labels, the payload is encoded once per set and POSTed to
 * each of its Alertmanagers at once (one fresh easy handle per request, on
 * the shared uvcurl multi handle, whose connection cache keeps
 * connections alive between batches).  When the last request of a batch is
 * over, the batch is judged (each set that was sent to needs one 2xx) and
 * the pump goes on with the next batch; there is never more than one batch
 * in flight, as in Go's sendLoop.  A request only refers to its batch, the
 * index of its set and its own metric pointers, so a config reload may
 * free the sets while a batch is out.
 *
 * Shutdown.  notifier_stop closes the async (sends after that are counted
 * as dropped), stops discovery and lets the pump drain the queue; a timer
 * bounds the drain, after which what is still queued or in flight counts as
 * dropped.  Then uvcurl and the sets are closed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/notifier_internal.h"
#include "scrape/httpc.h"
#include "util/uvcurl.h"
#include "util/httpstatus.h"

struct batch;

/* One POST to one Alertmanager. */
struct amreq {
    CURL *easy;
    struct httpc_headers hdrs;
    char errbuf[CURL_ERROR_SIZE];
    struct batch *b;
    size_t set; /* index into the batch's covered[] */
    char *url;  /* owned copy */
    size_t count;
    struct metric *sent, *errors, *latency;
};

struct batch {
    struct nalert **alerts; /* owned */
    size_t n;
    struct amreq **reqs;
    size_t nreqs, pending;
    bool *attempted, *covered; /* per set */
    size_t nsets;
    uint64_t begin_ns;
};

struct notifier {
    uv_loop_t *loop;
    struct logger *log;
    char *ua;
    int64_t drain_timeout_ms;
    struct notifier_shared sh;
    struct metric *dropped, *qlen, *qcap, *discovered;
    struct uvcurl *curl;
    uv_async_t wake;
    uv_timer_t drain_timer;

    pthread_mutex_t mu; /* guards the fields up to the next comment */
    struct nalert **ring;
    size_t cap, head, len;
    struct label_set ext;          /* global.external_labels */
    struct relabel_rules *relabel; /* alerting.alert_relabel_configs */
    bool closed;                   /* notifier_send drops */

    /* Loop thread only. */
    struct amset **sets;
    size_t nsets;
    struct batch *inflight;
    bool stopping, finished;
    void (*stop_done)(void *ctx); /* notifier_stop's callback */
    void *stop_ctx;
};

/* ---- The queue (any thread, under mu) ---- */

static void dropped_add(struct notifier *n, size_t k)
{
    if (k)
        metric_add(n->dropped, (double)k);
}

static void ring_push(struct notifier *n, struct nalert *a)
{
    if (n->len == n->cap) {
        nalert_free(n->ring[n->head]);
        n->head = (n->head + 1) % n->cap;
        n->len--;
    }
    n->ring[(n->head + n->len) % n->cap] = a;
    n->len++;
}

static size_t ring_pop(struct notifier *n, struct nalert **out, size_t max)
{
    size_t k = 0;
    while (k < max && n->len > 0) {
        out[k++] = n->ring[n->head];
        n->head = (n->head + 1) % n->cap;
        n->len--;
    }
    return k;
}

static struct nalert *alert_copy(const struct notifier_alert *in)
{
    struct nalert *a = xcalloc(1, sizeof *a);
    for (size_t i = 0; i < in->labels.n; i++)
        label_set_set(&a->labels, in->labels.v[i].name, in->labels.v[i].value);
    a->nann = in->annotations.n;
    a->ann = a->nann ? xcalloc(a->nann, sizeof *a->ann) : NULL;
    for (size_t i = 0; i < a->nann; i++) {
        a->ann[i].name = xstrdup(in->annotations.v[i].name);
        a->ann[i].value = xstrdup(in->annotations.v[i].value ? in->annotations.v[i].value : "");
    }
    a->starts_at_ms = in->starts_at_ms;
    a->ends_at_ms = in->ends_at_ms;
    if (in->generator_url && in->generator_url[0])
        a->generator_url = xstrdup(in->generator_url);
    return a;
}

/* relabelAlerts with the external labels: adds those the alert lacks, then
 * runs the global alert_relabel_configs.  False if they drop it. */
static bool alert_prepare(struct notifier *n, struct nalert *a)
{
    for (size_t i = 0; i < n->ext.n; i++)
        if (!*label_set_get(&a->labels, n->ext.v[i].name))
            label_set_set(&a->labels, n->ext.v[i].name, n->ext.v[i].value);
    return relabel_apply(n->relabel, &a->labels);
}

void notifier_send(struct notifier *n, const struct notifier_alert *alerts, size_t count)
{
    if (count == 0)
        return;
    struct nalert **copies = xcalloc(count, sizeof *copies);
    for (size_t i = 0; i < count; i++)
        copies[i] = alert_copy(&alerts[i]);
    pthread_mutex_lock(&n->mu);
    if (n->closed) {
        pthread_mutex_unlock(&n->mu);
        for (size_t i = 0; i < count; i++)
            nalert_free(copies[i]);
        free(copies);
        dropped_add(n, count);
        return;
    }
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        if (alert_prepare(n, copies[i]))
            copies[kept++] = copies[i];
        else
            nalert_free(copies[i]);
    }
    size_t overflow = n->len + kept > n->cap ? n->len + kept - n->cap : 0;
    for (size_t i = 0; i < kept; i++)
        ring_push(n, copies[i]);
    metric_set(n->qlen, (double)n->len);
    if (kept)
        uv_async_send(&n->wake);
    pthread_mutex_unlock(&n->mu);
    free(copies);
    if (overflow) {
        char d[32];
        snprintf(d, sizeof d, "%zu", overflow);
        log_warn(n->log, "notifier", "Alert notification queue full, dropping alerts",
                 "num_dropped", d);
        dropped_add(n, overflow);
    }
}

size_t notifier_queue_length(struct notifier *n)
{
    pthread_mutex_lock(&n->mu);
    size_t len = n->len;
    pthread_mutex_unlock(&n->mu);
    return len;
}

/* ---- Batches (loop thread) ---- */

static void pump(struct notifier *n);
static void finish(struct notifier *n);

static void amreq_free(struct amreq *r)
{
    if (!r)
        return;
    curl_easy_cleanup(r->easy);
    httpc_headers_free(&r->hdrs);
    free(r->url);
    free(r);
}

static void batch_free(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        nalert_free(b->alerts[i]);
    free(b->alerts);
    for (size_t i = 0; i < b->nreqs; i++)
        amreq_free(b->reqs[i]);
    free(b->reqs);
    free(b->attempted);
    free(b->covered);
    free(b);
}

/* Go's sendAll result: false if a set that was sent to had no success. */
static bool batch_delivered(const struct batch *b)
{
    for (size_t i = 0; i < b->nsets; i++)
        if (b->attempted[i] && !b->covered[i])
            return false;
    return true;
}

static void batch_done(struct notifier *n, struct batch *b)
{
    if (!batch_delivered(b))
        dropped_add(n, b->n);
    if (n->inflight == b)
        n->inflight = NULL;
    batch_free(b);
}

static size_t discard_body(char *p, size_t size, size_t nmemb, void *arg)
{
    (void)p;
    (void)arg;
    return size * nmemb;
}

/* One request is over: metrics as Go's sendAll goroutine counts them. */
static void amreq_finish(struct notifier *n, struct amreq *r, CURLcode res, const char *early_err)
{
    struct batch *b = r->b;
    char err[CURL_ERROR_SIZE + 600] = "";
    long code = 0;
    if (early_err) {
        snprintf(err, sizeof err, "%s", early_err);
    } else if (res != CURLE_OK) {
        const char *why = res == CURLE_OPERATION_TIMEDOUT ? "context deadline exceeded"
                          : r->errbuf[0]                  ? r->errbuf
                                                          : curl_easy_strerror(res);
        snprintf(err, sizeof err, "Post \"%s\": %s", r->url, why);
    } else {
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &code);
        if (code / 100 != 2)
            snprintf(err, sizeof err, "bad response status %ld %s", code,
                     http_status_text((int)code));
    }
    if (err[0]) {
        char cnt[32];
        snprintf(cnt, sizeof cnt, "%zu", r->count);
        log_error(n->log, "notifier", "Error sending alerts", "alertmanager", r->url, "count", cnt,
                  "err", err);
        metric_add(r->errors, (double)r->count);
    } else {
        b->covered[r->set] = true;
    }
    metric_observe(r->latency, (double)(uv_hrtime() - b->begin_ns) / 1e9);
    metric_add(r->sent, (double)r->count);
}

static void on_transfer_done(void *ctx, CURL *easy, CURLcode res)
{
    struct notifier *n = ctx;
    struct amreq *r = NULL;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&r);
    amreq_finish(n, r, res, NULL);
    struct batch *b = r->b;
    if (--b->pending > 0)
        return;
    batch_done(n, b);
    pump(n);
}

/* Sets up the POST of payload to am; the request joins b. */
static struct amreq *amreq_new(struct notifier *n, struct batch *b, size_t set,
                               const struct amset *s, const struct nam *am,
                               const struct sbuf *payload, size_t count)
{
    struct amreq *r = xcalloc(1, sizeof *r);
    r->b = b;
    r->set = set;
    r->url = xstrdup(am->url);
    r->count = count;
    r->sent = am->sent;
    r->errors = am->errors;
    r->latency = am->latency;
    r->easy = curl_easy_init();
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     (long)(s->cfg->timeout_ms > 0 ? s->cfg->timeout_ms : 10000));
    curl_easy_setopt(e, CURLOPT_USERAGENT, n->ua);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)payload->len);
    curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, payload->data);
    char msg[512];
    if (httpc_config_apply(e, &s->cfg->http, &r->hdrs, msg, sizeof msg) < 0)
        log_error(n->log, "notifier", "Setting up the HTTP client failed", "alertmanager", r->url,
                  "err", msg);
    httpc_url_apply(e, r->url, &s->cfg->http, &r->hdrs);
    r->hdrs.request = curl_slist_append(r->hdrs.request, "Content-Type: application/json");
    r->hdrs.request = curl_slist_append(r->hdrs.request, "Expect:");
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs.request);
    return r;
}

/* The alerts as one set sees them: relabeled copies of the labels when it
 * has alert_relabel_configs (the queued alerts are shared by every set).
 * Returns how many survive in view[]; tmp[] holds the copies. */
static size_t set_view(const struct amset *s, struct batch *b, struct nalert *tmp,
                       const struct nalert **view)
{
    if (relabel_rules_count(s->alert_rules) == 0) {
        for (size_t i = 0; i < b->n; i++)
            view[i] = b->alerts[i];
        return b->n;
    }
    size_t k = 0;
    for (size_t i = 0; i < b->n; i++) {
        struct nalert *t = &tmp[i];
        *t = *b->alerts[i];
        t->labels = (struct label_set)LABEL_SET_INIT;
        label_set_copy(&t->labels, &b->alerts[i]->labels);
        if (relabel_apply(s->alert_rules, &t->labels))
            view[k++] = t;
    }
    return k;
}

static void batch_add_req(struct batch *b, struct amreq *r)
{
    b->reqs = xrealloc(b->reqs, (b->nreqs + 1) * sizeof *b->reqs);
    b->reqs[b->nreqs++] = r;
}

/* Starts the requests of one set: those curl refused end at once. */
static void batch_send_set(struct notifier *n, struct batch *b, size_t si)
{
    struct amset *s = n->sets[si];
    struct nalert *tmp = xcalloc(b->n, sizeof *tmp);
    const struct nalert **view = xcalloc(b->n, sizeof *view);
    size_t k = set_view(s, b, tmp, view);
    if (k > 0) {
        struct sbuf payload = SBUF_INIT;
        notifier_payload_encode(&payload, (const struct nalert *const *)view, k);
        b->attempted[si] = true;
        for (size_t i = 0; i < s->nams; i++) {
            struct amreq *r = amreq_new(n, b, si, s, &s->ams[i], &payload, k);
            batch_add_req(b, r);
            if (uvcurl_add(n->curl, r->easy) == 0)
                b->pending++;
            else
                amreq_finish(n, r, CURLE_OK, "curl refused the request");
        }
        sbuf_free(&payload);
    }
    for (size_t i = 0; i < b->n; i++)
        label_set_free(&tmp[i].labels);
    free(tmp);
    free(view);
}

/* Takes the next batch off the queue and sends it; a batch that needs no
 * request (no Alertmanagers) is judged at once and the next one taken. */
static void pump(struct notifier *n)
{
    while (!n->inflight && !n->finished) {
        struct batch *b = xcalloc(1, sizeof *b);
        b->alerts = xcalloc(NOTIFIER_MAX_BATCH, sizeof *b->alerts);
        pthread_mutex_lock(&n->mu);
        b->n = ring_pop(n, b->alerts, NOTIFIER_MAX_BATCH);
        metric_set(n->qlen, (double)n->len);
        pthread_mutex_unlock(&n->mu);
        if (b->n == 0) {
            batch_free(b);
            if (n->stopping)
                finish(n);
            return;
        }
        b->begin_ns = uv_hrtime();
        b->nsets = n->nsets;
        b->attempted = xcalloc(n->nsets + 1, sizeof *b->attempted);
        b->covered = xcalloc(n->nsets + 1, sizeof *b->covered);
        n->inflight = b;
        for (size_t si = 0; si < n->nsets; si++)
            if (n->sets[si]->nams > 0)
                batch_send_set(n, b, si);
        if (b->pending == 0)
            batch_done(n, b);
    }
}

static void on_wake(uv_async_t *h)
{
    pump(h->data);
}

/* ---- Config ---- */

static void on_ams_changed(void *ctx)
{
    struct notifier *n = ctx;
    size_t k = 0;
    for (size_t i = 0; i < n->nsets; i++)
        k += n->sets[i]->nams;
    metric_set(n->discovered, (double)k);
}

static void sets_close(struct amset **sets, size_t nsets)
{
    for (size_t i = 0; i < nsets; i++)
        amset_close(sets[i]);
    free(sets);
}

int notifier_apply_config(struct notifier *n, const struct prom_config *cfg, char *err,
                          size_t errsize)
{
    if (n->stopping)
        return 0;
    const struct prom_alerting_config *al = &cfg->alerting;
    enum prom_name_validation names = cfg->global.metric_name_validation_scheme;
    struct relabel_rules *rules = NULL;
    char msg[512];
    if (relabel_rules_compile(&al->alert_relabel_configs, names, &rules, msg, sizeof msg) < 0) {
        snprintf(err, errsize, "alerting.alert_relabel_configs: %s", msg);
        return -1;
    }
    size_t ns = al->n_alertmanagers;
    struct amset **sets = ns ? xcalloc(ns, sizeof *sets) : NULL;
    for (size_t i = 0; i < ns; i++) {
        if (amset_new(&n->sh, &al->alertmanagers[i], i, names, &sets[i], err, errsize) < 0) {
            sets_close(sets, i);
            relabel_rules_free(rules);
            return -1;
        }
    }
    pthread_mutex_lock(&n->mu);
    struct relabel_rules *old_rules = n->relabel;
    n->relabel = rules;
    label_set_clear(&n->ext);
    const struct ystrmap *el = &cfg->global.external_labels;
    for (size_t i = 0; i < el->n; i++)
        label_set_set(&n->ext, el->keys[i], el->values[i]);
    pthread_mutex_unlock(&n->mu);
    relabel_rules_free(old_rules);
    sets_close(n->sets, n->nsets);
    n->sets = sets;
    n->nsets = ns;
    for (size_t i = 0; i < ns; i++)
        amset_start(sets[i]);
    on_ams_changed(n);
    return 0;
}

void notifier_each_alertmanager(const struct notifier *n,
                                void (*fn)(void *ctx, const char *url, bool active), void *ctx)
{
    for (size_t i = 0; i < n->nsets; i++)
        for (size_t k = 0; k < n->sets[i]->nams; k++)
            fn(ctx, n->sets[i]->ams[k].url, true);
    for (size_t i = 0; i < n->nsets; i++)
        for (size_t k = 0; k < n->sets[i]->ndropped; k++)
            fn(ctx, n->sets[i]->dropped[k], false);
}

/* ---- Lifecycle ---- */

static void metrics_register(struct notifier *n, struct metrics_registry *reg)
{
    if (!reg)
        return;
    const char *const am[] = {"alertmanager", NULL};
    n->sh.latency = metrics_summary_new(reg, "prometheus_notifications_latency_seconds",
                                        "Latency quantiles for sending alert notifications.", am);
    n->sh.errors = metrics_counter_new(reg, "prometheus_notifications_errors_total",
                                       "Total number of sent alerts affected by errors.", am);
    n->sh.sent = metrics_counter_new(reg, "prometheus_notifications_sent_total",
                                     "Total number of alerts sent.", am);
    struct metric_family *f;
    f = metrics_counter_new(
        reg, "prometheus_notifications_dropped_total",
        "Total number of alerts dropped due to errors when sending to Alertmanager.", NULL);
    n->dropped = f ? metric_family_with(f, NULL) : NULL;
    f = metrics_gauge_new(reg, "prometheus_notifications_queue_length",
                          "The number of alert notifications in the queue.", NULL);
    n->qlen = f ? metric_family_with(f, NULL) : NULL;
    f = metrics_gauge_new(reg, "prometheus_notifications_queue_capacity",
                          "The capacity of the alert notifications queue.", NULL);
    n->qcap = f ? metric_family_with(f, NULL) : NULL;
    f = metrics_gauge_new(reg, "prometheus_notifications_alertmanagers_discovered",
                          "The number of alertmanagers discovered and active.", NULL);
    n->discovered = f ? metric_family_with(f, NULL) : NULL;
}

int notifier_new(const struct notifier_options *o, struct notifier **out, char *err, size_t errsize)
{
    struct notifier *n = xcalloc(1, sizeof *n);
    if (uvcurl_new(o->loop, on_transfer_done, n, &n->curl, err, errsize) < 0) {
        free(n);
        return -1;
    }
    n->loop = o->loop;
    n->log = o->log;
    n->ua = xstrdup(o->user_agent ? o->user_agent : "Vigil");
    n->drain_timeout_ms = o->drain_timeout_ms > 0 ? o->drain_timeout_ms : 30000;
    n->cap = o->queue_capacity ? o->queue_capacity : 10000;
    n->ring = xcalloc(n->cap, sizeof *n->ring);
    pthread_mutex_init(&n->mu, NULL);
    n->sh = (struct notifier_shared){
        .loop = o->loop, .log = o->log, .ams_changed = on_ams_changed, .ctx = n};
    metrics_register(n, o->metrics);
    metric_set(n->qcap, (double)n->cap);
    uv_async_init(o->loop, &n->wake, on_wake);
    n->wake.data = n;
    uv_timer_init(o->loop, &n->drain_timer);
    n->drain_timer.data = n;
    *out = n;
    return 0;
}

/* Everything is sent or given up: close the handles. */
static void finish(struct notifier *n)
{
    if (n->finished)
        return;
    n->finished = true;
    uv_timer_stop(&n->drain_timer);
    uv_close((uv_handle_t *)&n->drain_timer, NULL);
    sets_close(n->sets, n->nsets);
    n->sets = NULL;
    n->nsets = 0;
    uvcurl_close(n->curl);
    n->curl = NULL;
    log_info(n->log, "notifier", "Notification manager stopped");
    if (n->stop_done)
        n->stop_done(n->stop_ctx);
}

static void on_drain_timeout(uv_timer_t *t)
{
    struct notifier *n = t->data;
    struct batch *b = n->inflight;
    if (b) {
        for (size_t i = 0; i < b->nreqs; i++)
            uvcurl_remove(n->curl, b->reqs[i]->easy);
        dropped_add(n, b->n);
        n->inflight = NULL;
        batch_free(b);
    }
    pthread_mutex_lock(&n->mu);
    size_t left = n->len;
    while (n->len > 0) {
        nalert_free(n->ring[n->head]);
        n->head = (n->head + 1) % n->cap;
        n->len--;
    }
    metric_set(n->qlen, 0);
    pthread_mutex_unlock(&n->mu);
    dropped_add(n, left);
    log_warn(n->log, "notifier", "Draining the notification queue timed out, alerts dropped");
    finish(n);
}

void notifier_stop(struct notifier *n, void (*done)(void *ctx), void *ctx)
{
    if (!n || n->stopping)
        return;
    n->stopping = true;
    n->stop_done = done;
    n->stop_ctx = ctx;
    pthread_mutex_lock(&n->mu);
    n->closed = true;
    pthread_mutex_unlock(&n->mu);
    uv_close((uv_handle_t *)&n->wake, NULL);
    for (size_t i = 0; i < n->nsets; i++)
        amset_stop_discovery(n->sets[i]);
    log_info(n->log, "notifier", "Draining any remaining notifications...");
    uv_timer_start(&n->drain_timer, on_drain_timeout, (uint64_t)n->drain_timeout_ms, 0);
    if (n->inflight)
        return; /* its completion pumps on, and finishes when the queue is empty */
    pump(n);
}

void notifier_free(struct notifier *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->len; i++)
        nalert_free(n->ring[(n->head + i) % n->cap]);
    free(n->ring);
    relabel_rules_free(n->relabel);
    label_set_free(&n->ext);
    pthread_mutex_destroy(&n->mu);
    free(n->ua);
    free(n);
}
