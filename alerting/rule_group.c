/* rule_group.c — a rule group: built from a rule file, evaluated rule by
 * rule, its results written to storage.
 *
 * Evaluation follows Prometheus's Group.Eval.  Every rule is queried at
 * ts - query_offset, its output becomes a vector of samples (a recording
 * rule's result renamed and relabeled; an alerting rule's ALERTS and
 * ALERTS_FOR_STATE series, alert_rule.c), the group's limit is checked, and
 * the vector is committed as one batch stamped with the query time.
 * Series the rule wrote last time and not this time get a staleness
 * marker, so queries stop seeing them at once rather than after the
 * lookback window.  A rule that fails keeps its previous series (no
 * markers) and reports health "err" with the error; the other rules of the
 * group still run.
 *
 * Hashes of label sets (XXH3 of the canonical bytes, as the index uses)
 * identify series and alerts; like Prometheus, Vigil treats equal hashes
 * as equal sets. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_STATIC_LINKING_ONLY /* XXH3_state_t on the stack */
#include <xxhash.h>

#include "alerting/rules_internal.h"
#include "storage/tsdb.h"
#include "util/log.h"
#include "util/sbuf.h"

/* ---- label-set maps ---- */

uint64_t labels_hash(const struct labels *ls)
{
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    static const char sep = (char)0xff;
    for (size_t i = 0; i < ls->n; i++) {
        XXH3_64bits_update(&st, ls->v[i].name, strlen(ls->v[i].name));
        XXH3_64bits_update(&st, &sep, 1);
        XXH3_64bits_update(&st, ls->v[i].value, strlen(ls->v[i].value));
        XXH3_64bits_update(&st, &sep, 1);
    }
    return XXH3_64bits_digest(&st);
}

/* First index whose hash is >= hash. */
static size_t map_lower_bound(const struct series_set_map *m, uint64_t hash)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->v[mid].hash < hash)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

long series_set_map_find(const struct series_set_map *m, uint64_t hash)
{
    size_t i = map_lower_bound(m, hash);
    return i < m->n && m->v[i].hash == hash ? (long)i : -1;
}

bool series_set_map_add(struct series_set_map *m, uint64_t hash, struct label_set *ls)
{
    size_t i = map_lower_bound(m, hash);
    if (i < m->n && m->v[i].hash == hash)
        return false;
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 16;
        m->v = xrealloc(m->v, m->cap * sizeof *m->v);
    }
    memmove(m->v + i + 1, m->v + i, (m->n - i) * sizeof *m->v);
    m->v[i].hash = hash;
    m->v[i].ls = *ls;
    *ls = (struct label_set)LABEL_SET_INIT;
    m->n++;
    return true;
}

void series_set_map_free(struct series_set_map *m)
{
    for (size_t i = 0; i < m->n; i++)
        label_set_free(&m->v[i].ls);
    free(m->v);
    *m = (struct series_set_map){0};
}

/* ---- instant queries ---- */

int rule_query_each(struct tsdb *db, const char *query, int64_t t,
                    const struct promql_eval_opts *opts, rule_sample_fn fn, void *ctx,
                    const char *not_vector, char *err, size_t errsz)
{
    struct promql_arena *a = promql_arena_new();
    struct promql_parse_error pe;
    struct promql_expr *e = promql_parse(a, query, strlen(query), PROMQL_FEATURES_DEFAULT, &pe);
    struct promql_result *res = NULL;
    int rc = -1;
    if (!e)
        snprintf(err, errsz, "%s", pe.msg);
    else if (promql_eval_instant(db, query, e, t, opts, &res, err, errsz) == 0)
        rc = 0;
    if (rc == 0 && res->type == PROMQL_SCALAR) {
        struct labels none = {0};
        fn(ctx, &none, res->scalar);
    } else if (rc == 0 && res->type == PROMQL_VECTOR) {
        for (size_t i = 0; i < res->nseries; i++)
            fn(ctx, &res->series[i].labels,
               res->series[i].npoints ? res->series[i].points[0].v : NAN);
    } else if (rc == 0) {
        snprintf(err, errsz, "%s", not_vector);
        rc = -1;
    }
    if (res)
        promql_result_free(res);
    promql_arena_free(a);
    return rc;
}

/* ---- building ---- */

static void label_set_from_map(struct label_set *dst, const struct ystrmap *m)
{
    for (size_t i = 0; i < m->n; i++)
        label_set_set(dst, m->keys[i], m->values[i]);
}

static int rule_init(struct rule *r, const struct rule_file_group *fg,
                     const struct rule_file_rule *fr, char *err, size_t errsz)
{
    r->alerting = fr->alert != NULL;
    r->name = xstrdup(r->alerting ? fr->alert : fr->record);
    r->arena = promql_arena_new();
    struct promql_parse_error pe;
    r->expr = promql_parse(r->arena, fr->expr, strlen(fr->expr), PROMQL_FEATURES_DEFAULT, &pe);
    if (!r->expr) {
        snprintf(err, errsz, "group %s, rule %s: %s", fg->name, r->name, pe.msg);
        return -1;
    }
    struct sbuf q = {0};
    promql_format(r->expr, &q);
    r->query = sbuf_detach(&q);
    /* Rule labels override the group's (Prometheus 3's group labels). */
    label_set_from_map(&r->labels, &fg->labels);
    label_set_from_map(&r->labels, &fr->labels);
    label_set_from_map(&r->annotations, &fr->annotations);
    r->for_ms = fr->for_ms;
    r->keep_firing_for_ms = fr->keep_firing_for_ms;
    return 0;
}

static void rule_fini(struct rule *r)
{
    free(r->name);
    free(r->query);
    if (r->arena)
        promql_arena_free(r->arena);
    label_set_free(&r->labels);
    label_set_free(&r->annotations);
    free(r->last_error);
    alert_map_free(&r->alerts);
    series_set_map_free(&r->prev);
}

struct rule_group *rule_group_new(const struct rule_file *rf, const struct rule_file_group *fg,
                                  const struct rule_env *env, const struct ystrmap *external_labels,
                                  int64_t default_interval_ms, int64_t default_query_offset_ms,
                                  bool restored, char *err, size_t errsz)
{
    struct rule_group *g = xcalloc(1, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    g->file = xstrdup(rf->path);
    g->name = xstrdup(fg->name);
    struct sbuf k = {0};
    sbuf_printf(&k, "%s;%s", rf->path, fg->name);
    g->key = sbuf_detach(&k);
    g->interval_ms = fg->interval_ms > 0 ? fg->interval_ms : default_interval_ms;
    if (g->interval_ms <= 0)
        g->interval_ms = 60000;
    g->limit = fg->limit;
    g->query_offset_ms = fg->has_query_offset ? fg->query_offset_ms : default_query_offset_ms;
    g->env = *env;
    if (external_labels)
        label_set_from_map(&g->external_labels, external_labels);
    g->env.external_labels = label_set_view(&g->external_labels);
    g->should_restore = !restored;
    g->rules = xcalloc(fg->n_rules ? fg->n_rules : 1, sizeof *g->rules);
    for (size_t i = 0; i < fg->n_rules; i++) {
        g->nrules++;
        if (rule_init(&g->rules[i], fg, &fg->rules[i], err, errsz) < 0) {
            rule_group_free(g);
            return NULL;
        }
        g->rules[i].restored = restored;
    }
    return g;
}

void rule_group_free(struct rule_group *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nrules; i++)
        rule_fini(&g->rules[i]);
    free(g->rules);
    label_set_free(&g->external_labels);
    pthread_mutex_destroy(&g->mu);
    free(g->file);
    free(g->name);
    free(g->key);
    free(g);
}

int rule_groups_load(const struct ystrlist *files, const struct rule_env *env,
                     const struct ystrmap *external_labels, int64_t default_interval_ms,
                     int64_t default_query_offset_ms, bool restored, struct rule_group ***out,
                     size_t *n, char *err, size_t errsz)
{
    struct rule_group **v = NULL;
    size_t nv = 0;
    for (size_t i = 0; i < files->n; i++) {
        struct rule_file *rf;
        struct conf_error ce;
        if (rule_file_load(files->v[i], &rf, &ce) < 0) {
            snprintf(err, errsz, "%s", ce.msg);
            goto fail;
        }
        v = xrealloc(v, (nv + rf->n_groups + 1) * sizeof *v);
        for (size_t j = 0; j < rf->n_groups; j++) {
            char e[600];
            struct rule_group *g =
                rule_group_new(rf, &rf->groups[j], env, external_labels, default_interval_ms,
                               default_query_offset_ms, restored, e, sizeof e);
            if (!g) {
                snprintf(err, errsz, "%s: %s", files->v[i], e);
                rule_file_free(rf);
                goto fail;
            }
            v[nv++] = g;
        }
        rule_file_free(rf);
    }
    *out = v;
    *n = nv;
    return 0;
fail:
    for (size_t i = 0; i < nv; i++)
        rule_group_free(v[i]);
    free(v);
    return -1;
}

/* Prometheus matches rules across a reload by name and labels. */
static bool rule_same(const struct rule *a, const struct rule *b)
{
    if (a->alerting != b->alerting || strcmp(a->name, b->name) != 0)
        return false;
    struct labels la = label_set_view(&a->labels), lb = label_set_view(&b->labels);
    return labels_hash(&la) == labels_hash(&lb);
}

void rule_group_copy_state(struct rule_group *g, struct rule_group *old)
{
    g->eval_seconds = old->eval_seconds;
    g->last_eval_ms = old->last_eval_ms;
    g->evaluations = old->evaluations;
    g->should_restore = false;
    bool *taken = xcalloc(old->nrules + 1, sizeof *taken);
    for (size_t i = 0; i < g->nrules; i++) {
        struct rule *r = &g->rules[i];
        for (size_t j = 0; j < old->nrules; j++) {
            struct rule *o = &old->rules[j];
            if (taken[j] || !rule_same(r, o))
                continue;
            taken[j] = true;
            /* The old group is about to be freed: move, don't copy. */
            series_set_map_free(&r->prev);
            r->prev = o->prev;
            o->prev = (struct series_set_map){0};
            if (r->alerting) {
                alert_map_free(&r->alerts);
                r->alerts = o->alerts;
                o->alerts = (struct alert_map){0};
                r->restored = r->restored || o->restored;
            }
            r->health = o->health;
            r->last_eval_ms = o->last_eval_ms;
            r->eval_seconds = o->eval_seconds;
            break;
        }
    }
    free(taken);
}

/* ---- evaluation ---- */

static double mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rule_set_result(struct rule_group *g, struct rule *r, const char *error, double seconds,
                            int64_t ts)
{
    pthread_mutex_lock(&g->mu);
    free(r->last_error);
    r->last_error = error ? xstrdup(error) : NULL;
    r->health = error ? RULE_HEALTH_ERR : RULE_HEALTH_OK;
    r->eval_seconds = seconds;
    r->last_eval_ms = ts;
    pthread_mutex_unlock(&g->mu);
}

/* A recording rule's output: the result with __name__ set to the record
 * name and the rule's labels applied. */
static int recording_vector(const struct rule *r, const struct promql_result *res,
                            struct rule_vector *out, char *err, size_t errsz)
{
    struct series_set_map seen = {0};
    int rc = 0;
    size_t n = res->type == PROMQL_SCALAR ? 1 : res->nseries;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct rule_sample *s = rule_vector_push(out);
        if (res->type == PROMQL_SCALAR) {
            s->v = res->scalar;
        } else {
            const struct promql_series *ps = &res->series[i];
            for (size_t j = 0; j < ps->labels.n; j++)
                label_set_set(&s->ls, ps->labels.v[j].name, ps->labels.v[j].value);
            s->v = ps->npoints ? ps->points[0].v : NAN;
        }
        label_set_set(&s->ls, "__name__", r->name);
        for (size_t j = 0; j < r->labels.n; j++)
            label_set_set(&s->ls, r->labels.v[j].name, r->labels.v[j].value);
        struct labels view = label_set_view(&s->ls);
        struct label_set key = LABEL_SET_INIT;
        if (!series_set_map_add(&seen, labels_hash(&view), &key)) {
            snprintf(err, errsz,
                     "vector contains metrics with the same labelset after applying rule labels");
            rc = -1;
        }
    }
    series_set_map_free(&seen);
    return rc;
}

/* Commits vec at t, with a staleness marker for each series the rule wrote
 * last time and not now, in one batch; vec's label sets move into r->prev. */
static uint64_t rule_write(struct rule_group *g, struct rule *r, struct rule_vector *vec, int64_t t)
{
    struct tsdb_appender *app = tsdb_appender_new(g->env.db);
    struct series_set_map now = {0};
    uint64_t written = 0;
    for (size_t i = 0; i < vec->n; i++) {
        struct labels ls = label_set_view(&vec->v[i].ls);
        if (tsdb_append(app, &vec->v[i].ref, &ls, t, vec->v[i].v) == 0)
            written++;
        else
            log_warn(g->env.log, "rules", "Rule sample appending failed", "group", g->name, "rule",
                     r->name, "err", tsdb_appender_error(app));
        series_set_map_add(&now, labels_hash(&ls), &(struct label_set)LABEL_SET_INIT);
    }
    union {
        uint64_t u;
        double d;
    } stale = {.u = TSDB_STALE_NAN_BITS};
    uint64_t *refs = xcalloc(r->prev.n + 1, sizeof *refs); /* live until the commit */
    for (size_t i = 0; i < r->prev.n; i++) {
        if (series_set_map_find(&now, r->prev.v[i].hash) >= 0)
            continue;
        struct labels ls = label_set_view(&r->prev.v[i].ls);
        tsdb_append(app, &refs[i], &ls, t, stale.d);
    }
    if (tsdb_appender_commit(app, NULL) < 0)
        log_warn(g->env.log, "rules", "Rule sample commit failed", "group", g->name, "err",
                 tsdb_appender_error(app));
    free(refs);
    tsdb_appender_free(app);
    /* now held empty sets as placeholders: fill them with vec's. */
    for (size_t i = 0; i < vec->n; i++) {
        struct labels ls = label_set_view(&vec->v[i].ls);
        long k = series_set_map_find(&now, labels_hash(&ls));
        if (k >= 0 && now.v[k].ls.n == 0) {
            now.v[k].ls = vec->v[i].ls;
            vec->v[i].ls = (struct label_set)LABEL_SET_INIT;
        }
    }
    series_set_map_free(&r->prev);
    r->prev = now;
    return written;
}

static void rule_eval(struct rule_group *g, struct rule *r, int64_t ts)
{
    double t0 = mono_seconds();
    int64_t qt = ts - g->query_offset_ms;
    struct promql_result *res = NULL;
    struct rule_vector vec = {0};
    char err[1024];
    int rc =
        promql_eval_instant(g->env.db, r->query, r->expr, qt, &g->env.eval, &res, err, sizeof err);
    if (rc == 0 && res->type != PROMQL_VECTOR && res->type != PROMQL_SCALAR) {
        snprintf(err, sizeof err, "rule result is not a vector or scalar");
        rc = -1;
    }
    if (rc == 0)
        rc = r->alerting ? alert_rule_eval(g, r, res, ts, &vec, err, sizeof err)
                         : recording_vector(r, res, &vec, err, sizeof err);
    if (rc == 0 && !r->alerting && g->limit > 0 && (int64_t)vec.n > g->limit) {
        snprintf(err, sizeof err, "exceeded limit of %lld with %zu series", (long long)g->limit,
                 vec.n);
        rc = -1;
    }
    if (res)
        promql_result_free(res);
    if (rc == 0) {
        g->last_samples += rule_write(g, r, &vec, qt);
        if (r->alerting)
            alert_rule_send(g, r, ts);
    } else {
        log_warn(g->env.log, "rules", "Evaluating rule failed", "group", g->name, "rule", r->name,
                 "err", err);
    }
    rule_vector_free(&vec);
    double took = mono_seconds() - t0;
    rule_set_result(g, r, rc == 0 ? NULL : err, took, ts);
    if (g->metrics) {
        rules_metrics_rule(g, took);
        if (rc != 0)
            rules_metrics_failure(g);
    }
}

void rule_group_eval(struct rule_group *g, int64_t ts, int64_t now_ms)
{
    double t0 = mono_seconds();
    g->last_samples = 0;
    for (size_t i = 0; i < g->nrules; i++)
        rule_eval(g, &g->rules[i], ts);
    double took = mono_seconds() - t0;
    pthread_mutex_lock(&g->mu);
    g->eval_seconds = took;
    g->last_eval_ms = ts;
    pthread_mutex_unlock(&g->mu);
    if (g->metrics)
        rules_metrics_iteration(g, took);
    /* Like Prometheus, restore after the second evaluation: by then
     * recording rules the alerts depend on have fresh values. */
    if (++g->evaluations == 2 && g->should_restore) {
        for (size_t i = 0; i < g->nrules; i++)
            if (g->rules[i].alerting)
                alert_rule_restore(g, &g->rules[i], now_ms);
        g->should_restore = false;
    }
}

void rule_group_mark_stale(struct rule_group *g, int64_t ts)
{
    for (size_t i = 0; i < g->nrules; i++) {
        struct rule_vector empty = {0};
        rule_write(g, &g->rules[i], &empty, ts);
    }
}

/* Prometheus's Group.hash: labels.Hash of {file, name}, which is xxhash64
 * (seed 0) of name 0xff value 0xff for each label in order.  The same hash
 * gives the same phase as Prometheus, so a group keeps its evaluation
 * times when a server is swapped for the other. */
static uint64_t group_hash(const struct rule_group *g)
{
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    static const char sep = (char)0xff;
    const char *parts[4] = {"file", g->file, "name", g->name};
    for (int i = 0; i < 4; i++) {
        XXH64_update(&st, parts[i], strlen(parts[i]));
        XXH64_update(&st, &sep, 1);
    }
    return XXH64_digest(&st);
}

int64_t rule_group_eval_timestamp(const struct rule_group *g, int64_t now_ms)
{
    /* In nanoseconds, as Go computes it; then back to milliseconds. */
    int64_t interval = g->interval_ms * 1000000;
    int64_t offset = (int64_t)(group_hash(g) % (uint64_t)interval);
    int64_t adj = now_ms * 1000000 - offset;
    int64_t base = adj - (adj % interval);
    int64_t next = base + offset;
    return next >= 0 ? next / 1000000 : -((-next + 999999) / 1000000);
}
