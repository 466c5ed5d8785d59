/* alert_rule.c — an alerting rule's alerts: their states, templates,
 * ALERTS series, for-state restore and what goes to the notifier.
 *
 * The state machine is Prometheus's AlertingRule.Eval.  Each result sample
 * of the rule's query is one alert, identified by its labels: the sample's
 * labels without __name__, the rule's labels (templates expanded with
 * that sample) and alertname.  A new alert starts pending with activeAt =
 * the evaluation time and fires once it has been active for `for` (at
 * once when `for` is 0).  An alert whose sample disappears becomes
 * inactive, resolved at that time, unless it was firing and
 * keep_firing_for has not run out since the sample first went missing.
 * Resolved alerts stay in the map for 15 minutes so that the resolution
 * reaches Alertmanager (and is resent); pending ones are dropped at once.
 *
 * Alerts live in r->alerts, sorted by label hash, changed only under the
 * group's lock because the API reads them.  Expanding templates and
 * running their queries happens before the lock is taken. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/notifier.h"
#include "alerting/rules_internal.h"
#include "alerting/template/template.h"
#include "storage/tsdb.h"
#include "util/log.h"
#include "util/sbuf.h"

const char *alert_state_name(enum alert_state s)
{
    switch (s) {
    case ALERT_PENDING:
        return "pending";
    case ALERT_FIRING:
        return "firing";
    default:
        return "inactive";
    }
}

const char *rule_health_name(enum rule_health h)
{
    switch (h) {
    case RULE_HEALTH_OK:
        return "ok";
    case RULE_HEALTH_ERR:
        return "err";
    default:
        return "unknown";
    }
}

/* ---- vectors ---- */

struct rule_sample *rule_vector_push(struct rule_vector *vec)
{
    if (vec->n == vec->cap) {
        vec->cap = vec->cap ? vec->cap * 2 : 16;
        vec->v = xrealloc(vec->v, vec->cap * sizeof *vec->v);
    }
    struct rule_sample *s = &vec->v[vec->n++];
    *s = (struct rule_sample){.ls = LABEL_SET_INIT};
    return s;
}

void rule_vector_free(struct rule_vector *vec)
{
    for (size_t i = 0; i < vec->n; i++)
        label_set_free(&vec->v[i].ls);
    free(vec->v);
    *vec = (struct rule_vector){0};
}

/* ---- alerts map ---- */

void alert_free(struct alert *a)
{
    if (!a)
        return;
    label_set_free(&a->labels);
    label_set_free(&a->annotations);
    free(a);
}

void alert_map_clear(struct alert_map *m)
{
    for (size_t i = 0; i < m->n; i++)
        alert_free(m->v[i]);
    m->n = 0;
}

void alert_map_free(struct alert_map *m)
{
    alert_map_clear(m);
    free(m->v);
    *m = (struct alert_map){0};
}

static size_t alert_map_lower_bound(const struct alert_map *m, uint64_t hash)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->v[mid]->hash < hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static struct alert *alert_map_find(const struct alert_map *m, uint64_t hash)
{
    size_t i = alert_map_lower_bound(m, hash);
    return i < m->n && m->v[i]->hash == hash ? m->v[i] : NULL;
}

/* Inserts a, or replaces (and frees) the alert with its hash. */
static void alert_map_put(struct alert_map *m, struct alert *a)
{
    size_t i = alert_map_lower_bound(m, a->hash);
    if (i < m->n && m->v[i]->hash == a->hash) {
        alert_free(m->v[i]);
        m->v[i] = a;
        return;
    }
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 8;
        m->v = xrealloc(m->v, m->cap * sizeof *m->v);
    }
    memmove(m->v + i + 1, m->v + i, (m->n - i) * sizeof *m->v);
    m->v[i] = a;
    m->n++;
}

static void alert_map_remove_at(struct alert_map *m, size_t i)
{
    alert_free(m->v[i]);
    memmove(m->v + i, m->v + i + 1, (m->n - i - 1) * sizeof *m->v);
    m->n--;
}

/* ---- templates ---- */

struct query_ctx {
    struct rule_group *g;
};

/* The `query` template function: an instant query at t on the same storage. */
static void template_sample(void *ctx, const struct labels *ls, double v)
{
    tmpl_samples_add(ctx, ls, v);
}

static int template_query(void *ctx, const char *query, int64_t t_ms, struct tmpl_samples *out,
                          char *err, size_t errsz)
{
    struct rule_group *g = ((struct query_ctx *)ctx)->g;
    return rule_query_each(g->env.db, query, t_ms, &g->env.eval, template_sample, out,
                           "query result is not a vector or scalar", err, errsz);
}

/* Expands one label or annotation value; errors become the text
 * Prometheus puts in their place. */
static void expand(struct rule_group *g, struct rule *r, const char *text,
                   const struct labels *sample_labels, double value, int64_t ts, struct sbuf *out)
{
    sbuf_reset(out);
    if (!strstr(text, "{{")) {
        sbuf_puts(out, text);
        return;
    }
    struct sbuf name = {0};
    sbuf_printf(&name, "__alert_%s", r->name);
    struct query_ctx qc = {g};
    struct tmpl_prom_data d = {
        .name = name.data,
        .labels = sample_labels,
        .external_labels = &g->env.external_labels,
        .external_url = g->env.external_url,
        .value = value,
        .now_ms = ts,
        .query = template_query,
        .query_ctx = &qc,
    };
    char err[1024];
    if (tmpl_expand_prom(text, &d, out, err, sizeof err) < 0) {
        sbuf_reset(out);
        sbuf_printf(out, "<error expanding template: %s>", err);
        log_warn(g->env.log, "rules", "Expanding alert template failed", "alert", r->name, "err",
                 err);
    }
    sbuf_free(&name);
}

/* The alert one result sample makes. */
static struct alert *alert_from_sample(struct rule_group *g, struct rule *r,
                                       const struct labels *ls, double v, int64_t ts)
{
    struct alert *a = xcalloc(1, sizeof *a);
    struct sbuf buf = {0};
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].name, "__name__") != 0)
            label_set_set(&a->labels, ls->v[i].name, ls->v[i].value);
    for (size_t i = 0; i < r->labels.n; i++) {
        expand(g, r, r->labels.v[i].value, ls, v, ts, &buf);
        label_set_set(&a->labels, r->labels.v[i].name, buf.data ? buf.data : "");
    }
    label_set_set(&a->labels, "alertname", r->name);
    for (size_t i = 0; i < r->annotations.n; i++) {
        expand(g, r, r->annotations.v[i].value, ls, v, ts, &buf);
        label_set_set(&a->annotations, r->annotations.v[i].name, buf.data ? buf.data : "");
    }
    sbuf_free(&buf);
    struct labels view = label_set_view(&a->labels);
    a->hash = labels_hash(&view);
    a->state = ALERT_PENDING;
    a->active_at = ts;
    a->value = v;
    return a;
}

static void series_sample(struct rule_vector *out, const struct alert *a, const char *name,
                          const char *state, double v)
{
    struct rule_sample *s = rule_vector_push(out);
    label_set_copy(&s->ls, &a->labels);
    label_set_set(&s->ls, "__name__", name);
    if (state)
        label_set_set(&s->ls, "alertstate", state);
    s->v = v;
}

/* Builds the alerts of this evaluation into found, outside the lock
 * (templates may run queries).  0, or -1 on a duplicate label set. */
static int alerts_from_result(struct rule_group *g, struct rule *r, const struct promql_result *res,
                              int64_t ts, struct alert_map *found, char *err, size_t errsz)
{
    size_t n = res->type == PROMQL_SCALAR ? 1 : res->nseries;
    for (size_t i = 0; i < n; i++) {
        struct labels none = {0};
        const struct labels *ls = res->type == PROMQL_SCALAR ? &none : &res->series[i].labels;
        double v = res->type == PROMQL_SCALAR
                       ? res->scalar
                       : (res->series[i].npoints ? res->series[i].points[0].v : NAN);
        struct alert *a = alert_from_sample(g, r, ls, v, ts);
        if (alert_map_find(found, a->hash)) {
            alert_free(a);
            snprintf(err, errsz,
                     "vector contains metrics with the same labelset after applying alert labels");
            return -1;
        }
        alert_map_put(found, a);
    }
    return 0;
}

static bool hash_seen(const uint64_t *seen, size_t n, uint64_t h)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (seen[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && seen[lo] == h;
}

/* Steps every alert of r one evaluation forward (the lock is held); seen
 * holds the sorted hashes of this evaluation's alerts.  Returns how many
 * are pending or firing. */
static size_t alerts_step(struct rule *r, const uint64_t *seen, size_t nseen, int64_t ts,
                          struct rule_vector *out)
{
    size_t active = 0;
    for (size_t i = 0; i < r->alerts.n;) {
        struct alert *a = r->alerts.v[i];
        bool keep = false;
        if (!hash_seen(seen, nseen, a->hash)) {
            if (a->state == ALERT_FIRING && r->keep_firing_for_ms > 0) {
                if (a->keep_firing_since == 0)
                    a->keep_firing_since = ts;
                keep = ts - a->keep_firing_since < r->keep_firing_for_ms;
            }
            bool forget =
                a->state == ALERT_PENDING ||
                (a->resolved_at != 0 && ts - a->resolved_at > ALERT_RESOLVED_RETENTION_MS);
            if (a->state != ALERT_INACTIVE && !keep) {
                a->state = ALERT_INACTIVE;
                a->resolved_at = ts;
            }
            if (forget) {
                alert_map_remove_at(&r->alerts, i);
                continue;
            }
            if (!keep) {
                i++;
                continue;
            }
        } else {
            a->keep_firing_since = 0;
        }
        active++;
        if (a->state == ALERT_PENDING && ts - a->active_at >= r->for_ms) {
            a->state = ALERT_FIRING;
            a->fired_at = ts;
        }
        if (r->restored) {
            series_sample(out, a, "ALERTS", alert_state_name(a->state), 1);
            series_sample(out, a, "ALERTS_FOR_STATE", NULL, (double)(a->active_at / 1000));
        }
        i++;
    }
    return active;
}

int alert_rule_eval(struct rule_group *g, struct rule *r, const struct promql_result *res,
                    int64_t ts, struct rule_vector *out, char *err, size_t errsz)
{
    struct alert_map found = {0};
    int rc = alerts_from_result(g, r, res, ts, &found, err, errsz);
    uint64_t *seen = xcalloc(found.n + 1, sizeof *seen); /* found is sorted by hash */
    for (size_t i = 0; i < found.n; i++)
        seen[i] = found.v[i]->hash;
    size_t nseen = found.n;
    pthread_mutex_lock(&g->mu);
    if (rc == 0) {
        /* An alert already known keeps its state; only value and
         * annotations change.  A new one (or one that was inactive)
         * takes the fresh alert's place. */
        for (size_t i = 0; i < found.n; i++) {
            struct alert *f = found.v[i], *a = alert_map_find(&r->alerts, f->hash);
            if (a && a->state != ALERT_INACTIVE) {
                a->value = f->value;
                label_set_free(&a->annotations);
                a->annotations = f->annotations;
                f->annotations = (struct label_set)LABEL_SET_INIT;
                continue;
            }
            alert_map_put(&r->alerts, f);
            found.v[i] = NULL;
        }
        size_t active = alerts_step(r, seen, nseen, ts, out);
        if (g->limit > 0 && (int64_t)active > g->limit) {
            alert_map_clear(&r->alerts);
            rule_vector_free(out);
            snprintf(err, errsz, "exceeded limit of %lld with %zu alerts", (long long)g->limit,
                     active);
            rc = -1;
        }
    }
    pthread_mutex_unlock(&g->mu);
    for (size_t i = 0; i < found.n; i++)
        alert_free(found.v[i]); /* NULL where moved into r->alerts */
    free(found.v);
    free(seen);
    return rc;
}

/* ---- notifications ---- */

/* Go's url.QueryEscape. */
static void query_escape(const char *s, struct sbuf *out)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            sbuf_putc(out, (char)c);
        else if (c == ' ')
            sbuf_putc(out, '+');
        else {
            sbuf_putc(out, '%');
            sbuf_putc(out, hex[c >> 4]);
            sbuf_putc(out, hex[c & 15]);
        }
    }
}

void alert_generator_url(const char *external_url, const char *query, struct sbuf *out)
{
    sbuf_puts(out, external_url);
    sbuf_puts(out, "/graph?g0.expr=");
    query_escape(query, out);
    sbuf_puts(out, "&g0.tab=1");
}

static bool alert_needs_sending(const struct alert *a, int64_t ts, int64_t resend_delay)
{
    if (a->state == ALERT_PENDING)
        return false;
    if (a->resolved_at > a->last_sent_at)
        return true;
    return a->last_sent_at + resend_delay < ts;
}

void alert_rule_send(struct rule_group *g, struct rule *r, int64_t ts)
{
    if (!g->env.notifier)
        return;
    int64_t delta =
        g->env.resend_delay_ms > g->interval_ms ? g->env.resend_delay_ms : g->interval_ms;
    struct sbuf url = {0};
    alert_generator_url(g->env.external_url, r->query, &url);
    pthread_mutex_lock(&g->mu);
    struct notifier_alert *v = xcalloc(r->alerts.n + 1, sizeof *v);
    size_t n = 0;
    for (size_t i = 0; i < r->alerts.n; i++) {
        struct alert *a = r->alerts.v[i];
        if (!alert_needs_sending(a, ts, g->env.resend_delay_ms))
            continue;
        a->last_sent_at = ts;
        /* Two missed evaluations or sends may pass before it expires. */
        a->valid_until = ts + 4 * delta;
        v[n++] = (struct notifier_alert){
            .labels = label_set_view(&a->labels),
            .annotations = label_set_view(&a->annotations),
            .starts_at_ms = a->fired_at,
            .ends_at_ms = a->resolved_at ? a->resolved_at : a->valid_until,
            .generator_url = url.data,
        };
    }
    if (n)
        notifier_send(g->env.notifier, v, n); /* copies */
    pthread_mutex_unlock(&g->mu);
    free(v);
    sbuf_free(&url);
}

/* ---- for-state restore ---- */

/* The new activeAt of an alert that was active until down_at (ms) and
 * became active at active_at (ms), restored at now (Prometheus's
 * RestoreForState arithmetic, in seconds as there). */
static int64_t restored_active_at(int64_t active_at, int64_t down_at, int64_t now, int64_t hold,
                                  int64_t grace)
{
    int64_t pending = down_at - active_at;
    int64_t remaining = hold - pending;
    if (remaining <= 0)
        return active_at; /* it was firing: it fires again if still active */
    if (remaining < grace)
        return now + grace - hold;
    return active_at + (now - down_at);
}

void alert_rule_restore(struct rule_group *g, struct rule *r, int64_t now_ms)
{
    if (r->for_ms < g->env.grace_period_ms) {
        r->restored = true;
        return;
    }
    struct label_matcher ms[64];
    size_t nm = 0;
    ms[nm++] = (struct label_matcher){LABEL_MATCH_EQ, "__name__", "ALERTS_FOR_STATE"};
    ms[nm++] = (struct label_matcher){LABEL_MATCH_EQ, "alertname", r->name};
    for (size_t i = 0; i < r->labels.n && nm < 64; i++)
        if (!strstr(r->labels.v[i].value, "{{"))
            ms[nm++] =
                (struct label_matcher){LABEL_MATCH_EQ, r->labels.v[i].name, r->labels.v[i].value};
    struct tsdb_series_set *set;
    char err[512];
    if (tsdb_select(g->env.db, ms, nm, now_ms - g->env.outage_tolerance_ms, now_ms, &set, err,
                    sizeof err) < 0) {
        log_error(g->env.log, "rules", "Failed to restore 'for' state", "alert", r->name, "err",
                  err);
        r->restored = true;
        return;
    }
    const struct labels *ls;
    const int64_t *ts;
    const double *vs;
    size_t n;
    pthread_mutex_lock(&g->mu);
    while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
        struct label v[ls->n ? ls->n : 1];
        size_t k = 0;
        for (size_t i = 0; i < ls->n; i++)
            if (strcmp(ls->v[i].name, "__name__") != 0)
                v[k++] = ls->v[i];
        struct labels key = {v, k};
        struct alert *a = alert_map_find(&r->alerts, labels_hash(&key));
        if (!a || n == 0)
            continue;
        union {
            double d;
            uint64_t u;
        } last = {.d = vs[n - 1]};
        if (last.u == TSDB_STALE_NAN_BITS)
            continue; /* it had ended */
        int64_t down_at = ts[n - 1] / 1000 * 1000;
        int64_t active_at = (int64_t)last.d * 1000;
        a->active_at =
            restored_active_at(active_at, down_at, now_ms, r->for_ms, g->env.grace_period_ms);
    }
    pthread_mutex_unlock(&g->mu);
    tsdb_series_set_free(set);
    r->restored = true;
}
