/* eval.c — the PromQL evaluator: how a query walks its steps.
 *
 * A query is evaluated step by step: an instant query is one step, a range
 * query start, start+step, ..., end.  Before the first step a preparation
 * pass walks the tree once and
 *   - resolves duration expressions (ranges, steps, offsets) and @ start()
 *     / @ end() to milliseconds;
 *   - works out, for every vector selector, the whole time range any step
 *     can read — widened by offsets, ranges, subquery ranges and the
 *     lookback delta — and reads its series with one tsdb_select, copying
 *     the samples into the query arena (stale markers removed for selectors
 *     under a range, kept for instant selectors, where they end a series'
 *     visibility);
 *   - marks step-invariant subtrees (everything below an @, literals, and
 *     operations on nothing else), which are then evaluated once and
 *     cached in the query arena.
 * Each step then evaluates the tree for one timestamp in its own arena:
 * instant selectors binary-search each series for the newest sample in
 * (t - lookback, t], range selectors take the slice (t - range, t] (left
 * open, as in Prometheus 3) without copying, and subqueries evaluate their
 * inner expression at steps aligned to absolute time (multiples of the
 * subquery step).  A range query merges each step's vector into the result
 * matrix by label set and resets the step arena; the cancel flag and the
 * deadline are checked between steps.
 *
 * What carries over between steps, so that a step costs about what its
 * arithmetic does: each selector keeps a cursor per series that the next
 * step slides forward (every sample is passed once over a range query),
 * label sets that live as long as the query carry an identity (sid) by
 * which aggregations find their groups and the collector its result series
 * without building keys, and the step arena keeps its memory.
 *
 * The metric name is removed late, as Prometheus's delayed name removal
 * does: operations mark samples (drop), the labels keep __name__ until the
 * result is assembled, where a collision of two label sets that became
 * equal is the error "vector cannot contain metrics with the same
 * labelset".
 *
 * Binary operators are in eval_binop.c, aggregations in eval_agg.c,
 * functions in eval_func.c. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query/eval_internal.h"
#include "storage/tsdb.h"
#include "util/sbuf.h"

/* ---- errors and annotations ---- */

_Noreturn void ev_fail(struct evaluator *ev, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ev->err, ev->errsz, fmt, ap);
    va_end(ap);
    longjmp(ev->jb, 1);
}

static void pos_linecol(const char *q, uint32_t off, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (uint32_t i = 0; q && i < off && q[i]; i++) {
        if (q[i] == '\n') {
            (*line)++;
            *col = 1;
        } else {
            (*col)++;
        }
    }
}

/* Adds one annotation, deduplicated by its text as Prometheus's map of
 * annotations does; pos < 0 renders no position. */
static void ev_warnv(struct evaluator *ev, bool info, int64_t pos, const char *fmt, va_list ap)
{
    struct promql_result *r = ev->res;
    if (!r)
        return;
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, info ? "PromQL info: " : "PromQL warning: ");
    sbuf_vprintf(&b, fmt, ap);
    if (pos >= 0) {
        int line, col;
        pos_linecol(ev->query, (uint32_t)pos, &line, &col);
        sbuf_printf(&b, " (%d:%d)", line, col);
    }
    const char ***list = info ? &r->infos : &r->warnings;
    size_t *n = info ? &r->ninfos : &r->nwarnings;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*list)[i], b.data) == 0) {
            sbuf_free(&b);
            return;
        }
    const char **nl = promql_arena_alloc(r->arena, (*n + 1) * sizeof *nl);
    if (*n)
        memcpy(nl, *list, *n * sizeof *nl);
    nl[*n] = promql_arena_strndup(r->arena, b.data, b.len);
    *list = nl;
    (*n)++;
    sbuf_free(&b);
}

void ev_warn(struct evaluator *ev, bool info, const struct promql_expr *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ev_warnv(ev, info, at ? (int64_t)at->pos.start : -1, fmt, ap);
    va_end(ap);
}

void ev_warn_pos(struct evaluator *ev, bool info, uint32_t pos, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ev_warnv(ev, info, pos, fmt, ap);
    va_end(ap);
}

void *ev_alloc(struct evaluator *ev, size_t n)
{
    return promql_arena_alloc(ev->a, n ? n : 1);
}

uint32_t ev_sid_new(struct evaluator *ev)
{
    if (ev->nsids == UINT32_MAX)
        return 0; /* no more identities: lookups go by key */
    return ++ev->nsids;
}

void ev_check_samples(struct evaluator *ev, size_t n)
{
    if (n > ev->res->stats.peak_samples)
        ev->res->stats.peak_samples = n;
    if (n > ev->max_samples)
        ev_fail(ev, "query processing would load too many samples into memory in query execution");
}

void ev_count_samples(struct evaluator *ev, size_t n)
{
    struct promql_query_stats *st = &ev->res->stats;
    st->total_samples += n;
    if (st->step_samples && ev->step_index < st->nsteps)
        st->step_samples[ev->step_index] += n;
}

/* ---- labels ---- */

const char *lbl_get(const struct labels *ls, const char *name)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].name, name) == 0)
            return ls->v[i].value;
    return NULL;
}

int lbl_cmp(const struct labels *a, const struct labels *b)
{
    size_t n = a->n < b->n ? a->n : b->n;
    for (size_t i = 0; i < n; i++) {
        int c = strcmp(a->v[i].name, b->v[i].name);
        if (c)
            return c;
        c = strcmp(a->v[i].value, b->v[i].value);
        if (c)
            return c;
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

struct labels lbl_copy(struct promql_arena *a, const struct labels *ls)
{
    struct label *v = promql_arena_alloc(a, (ls->n + 1) * sizeof *v);
    for (size_t i = 0; i < ls->n; i++) {
        v[i].name = promql_arena_strndup(a, ls->v[i].name, strlen(ls->v[i].name));
        v[i].value = promql_arena_strndup(a, ls->v[i].value, strlen(ls->v[i].value));
    }
    return (struct labels){v, ls->n};
}

struct labels lbl_set(struct promql_arena *a, const struct labels *ls, const char *name,
                      const char *value)
{
    struct label *v = promql_arena_alloc(a, (ls->n + 1) * sizeof *v);
    size_t k = 0;
    bool done = false;
    for (size_t i = 0; i < ls->n; i++) {
        int c = strcmp(ls->v[i].name, name);
        if (!done && c >= 0) {
            if (value && *value)
                v[k++] = (struct label){promql_arena_strndup(a, name, strlen(name)),
                                        promql_arena_strndup(a, value, strlen(value))};
            done = true;
            if (c == 0)
                continue;
        }
        v[k++] = ls->v[i];
    }
    if (!done && value && *value)
        v[k++] = (struct label){promql_arena_strndup(a, name, strlen(name)),
                                promql_arena_strndup(a, value, strlen(value))};
    return (struct labels){v, k};
}

static bool name_in(const char *name, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return true;
    return false;
}

struct labels lbl_del(struct promql_arena *a, const struct labels *ls, const char *const *names,
                      size_t n, bool also_name)
{
    struct label *v = promql_arena_alloc(a, (ls->n + 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < ls->n; i++) {
        if (also_name && strcmp(ls->v[i].name, "__name__") == 0)
            continue;
        if (name_in(ls->v[i].name, names, n))
            continue;
        v[k++] = ls->v[i];
    }
    return (struct labels){v, k};
}

struct labels lbl_keep(struct promql_arena *a, const struct labels *ls, const char *const *names,
                       size_t n)
{
    struct label *v = promql_arena_alloc(a, (ls->n + 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < ls->n; i++)
        if (name_in(ls->v[i].name, names, n))
            v[k++] = ls->v[i];
    return (struct labels){v, k};
}

struct labels lbl_drop_name(struct promql_arena *a, const struct labels *ls)
{
    static const char *const meta[] = {"__name__", "__type__", "__unit__"};
    bool has = false;
    for (size_t i = 0; i < ls->n; i++)
        if (name_in(ls->v[i].name, meta, 3))
            has = true;
    if (!has)
        return *ls;
    return lbl_del(a, ls, meta, 3, false);
}

void lbl_key(const struct labels *ls, struct sbuf *b)
{
    for (size_t i = 0; i < ls->n; i++) {
        sbuf_puts(b, ls->v[i].name);
        sbuf_putc(b, (char)0xff);
        sbuf_puts(b, ls->v[i].value);
        sbuf_putc(b, (char)0xff);
    }
}

void lbl_string(const struct labels *ls, struct sbuf *b)
{
    sbuf_putc(b, '{');
    for (size_t i = 0; i < ls->n; i++) {
        if (i)
            sbuf_puts(b, ", ");
        sbuf_puts(b, ls->v[i].name);
        sbuf_puts(b, "=\"");
        for (const char *p = ls->v[i].value; *p; p++) {
            if (*p == '"' || *p == '\\')
                sbuf_putc(b, '\\');
            if (*p == '\n')
                sbuf_puts(b, "\\n");
            else
                sbuf_putc(b, *p);
        }
        sbuf_putc(b, '"');
    }
    sbuf_putc(b, '}');
}

/* ---- strmap ---- */

static uint64_t fnv1a(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)k[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void strmap_init(struct strmap *m, struct promql_arena *a, size_t hint)
{
    m->a = a;
    m->cap = 16;
    while (m->cap < hint * 2)
        m->cap *= 2;
    m->n = 0;
    m->keys = promql_arena_alloc(a, m->cap * sizeof *m->keys);
    m->klen = promql_arena_alloc(a, m->cap * sizeof *m->klen);
    m->vals = promql_arena_alloc(a, m->cap * sizeof *m->vals);
}

static size_t strmap_slot(const struct strmap *m, const char *k, size_t n)
{
    size_t i = fnv1a(k, n) & (m->cap - 1);
    while (m->keys[i] && !(m->klen[i] == n && memcmp(m->keys[i], k, n) == 0))
        i = (i + 1) & (m->cap - 1);
    return i;
}

size_t *strmap_put(struct strmap *m, const char *k, size_t klen, bool *found)
{
    if ((m->n + 1) * 2 > m->cap) {
        struct strmap nm;
        strmap_init(&nm, m->a, m->cap);
        for (size_t i = 0; i < m->cap; i++)
            if (m->keys[i]) {
                size_t j = strmap_slot(&nm, m->keys[i], m->klen[i]);
                nm.keys[j] = m->keys[i];
                nm.klen[j] = m->klen[i];
                nm.vals[j] = m->vals[i];
                nm.n++;
            }
        *m = nm;
    }
    size_t i = strmap_slot(m, k, klen);
    *found = m->keys[i] != NULL;
    if (!*found) {
        m->keys[i] = promql_arena_strndup(m->a, k, klen);
        m->klen[i] = klen;
        m->vals[i] = 0;
        m->n++;
    }
    return &m->vals[i];
}

size_t *strmap_get(const struct strmap *m, const char *k, size_t klen)
{
    size_t i = strmap_slot(m, k, klen);
    return m->keys[i] ? &m->vals[i] : NULL;
}

/* ---- node table ---- */

static size_t ptr_hash(const void *p, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)x & (cap - 1);
}

struct ev_node *ev_node_get(struct evaluator *ev, const struct promql_expr *e)
{
    size_t i = ptr_hash(e, ev->capnodes);
    while (ev->nodes[i].e && ev->nodes[i].e != e)
        i = (i + 1) & (ev->capnodes - 1);
    if (!ev->nodes[i].e) {
        ev->nodes[i].e = e;
        ev->nnodes++;
    }
    return &ev->nodes[i];
}

static int count_node(const struct promql_expr *e, void *ctx)
{
    (void)e;
    (*(size_t *)ctx)++;
    return 0;
}

/* ---- preparation ---- */

int64_t ev_resolve_at(const struct evaluator *ev, const struct promql_time_mods *m)
{
    return m->at == PROMQL_AT_START ? ev->start : m->at == PROMQL_AT_END ? ev->end : m->at_ms;
}

static int64_t resolve_dur(struct evaluator *ev, const struct promql_expr *de, int64_t lit,
                           bool allow_negative)
{
    if (!de)
        return lit;
    int64_t ms;
    char err[256];
    if (promql_duration_eval(de, ev->interval, ev->end - ev->start, allow_negative, &ms, err,
                             sizeof err) < 0)
        ev_fail(ev, "%s", err);
    return ms;
}

static bool time_dependent_call(const struct promql_expr *e)
{
    switch (e->call.func->id) {
    case PROMQL_FN_TIME:
    case PROMQL_FN_PREDICT_LINEAR:
    case PROMQL_FN_TIMESTAMP: /* of anything but a selector: the step's time */
        return true;
    case PROMQL_FN_YEAR:
    case PROMQL_FN_MONTH:
    case PROMQL_FN_DAY_OF_MONTH:
    case PROMQL_FN_DAY_OF_WEEK:
    case PROMQL_FN_DAY_OF_YEAR:
    case PROMQL_FN_DAYS_IN_MONTH:
    case PROMQL_FN_HOUR:
    case PROMQL_FN_MINUTE:
        return e->call.nargs == 0;
    default:
        return false;
    }
}

void ev_load_series(struct evaluator *ev, struct ev_node *n, const struct label_matcher *ms,
                    size_t nms, bool drop_stale)
{
    struct tsdb_series_set *set;
    char err[256];
    if (tsdb_select(ev->db, ms, nms, n->load_mint, n->load_maxt, &set, err, sizeof err) < 0)
        ev_fail(ev, "%s", err);
    size_t cap = 8, cnt = 0;
    struct ev_series *out = promql_arena_alloc(ev->qa, cap * sizeof *out);
    const struct labels *ls;
    const int64_t *ts, *sts = NULL;
    const double *vs_;
    size_t np;
    size_t total = 0;
    /* Start timestamps only when the feature is on: the plain reader skips
     * the storage's ST columns. */
    while (ev->use_st ? tsdb_series_set_next_st(set, &ls, &ts, &vs_, &sts, &np)
                      : tsdb_series_set_next(set, &ls, &ts, &vs_, &np)) {
        if (cnt == cap) {
            struct ev_series *o2 = promql_arena_alloc(ev->qa, cap * 2 * sizeof *o2);
            memcpy(o2, out, cnt * sizeof *out);
            out = o2;
            cap *= 2;
        }
        int64_t *t2 = promql_arena_alloc(ev->qa, (np + 1) * sizeof *t2);
        double *v2 = promql_arena_alloc(ev->qa, (np + 1) * sizeof *v2);
        int64_t *st2 = sts ? promql_arena_alloc(ev->qa, (np + 1) * sizeof *st2) : NULL;
        size_t k = 0;
        for (size_t i = 0; i < np; i++) {
            uint64_t bits;
            memcpy(&bits, &vs_[i], 8);
            if (drop_stale && bits == TSDB_STALE_NAN_BITS)
                continue;
            t2[k] = ts[i];
            v2[k] = vs_[i];
            if (st2)
                st2[k] = sts[i];
            k++;
        }
        total += k;
        out[cnt++] =
            (struct ev_series){lbl_copy(ev->qa, ls), t2, v2, k, false, ev_sid_new(ev), st2};
    }
    tsdb_series_set_free(set);
    (void)total;
    /* Series stay in id (creation) order.  Prometheus's order is its
     * storage's: creation order in the head, label order in compacted
     * blocks; the head's is what queries over recent data and rule unit
     * tests (`first` in templates) see. */
    n->series = out;
    n->nseries = cnt;
    n->loaded = true;
}

const struct promql_expr *ev_unparen(const struct promql_expr *e)
{
    while (e->kind == PROMQL_EXPR_PAREN)
        e = e->paren.expr;
    return e;
}

/* anchored ranges feed only the functions that read their anchor sample
 * correctly, smoothed ones only rate/increase/delta (Prometheus's
 * AnchoredSafeFunctions and SmoothedSafeFunctions). */
static void check_extended_range_use(struct evaluator *ev, const struct promql_expr *e)
{
    for (size_t i = 0; i < e->call.nargs; i++) {
        const struct promql_expr *a = ev_unparen(e->call.args[i]);
        if (a->kind != PROMQL_EXPR_MATRIX_SELECTOR)
            continue;
        const struct promql_expr *vs = a->matrix.vs;
        enum promql_func_id id = e->call.func->id;
        bool rate_like = id == PROMQL_FN_RATE || id == PROMQL_FN_INCREASE || id == PROMQL_FN_DELTA;
        if (vs->vs.smoothed && !rate_like)
            ev_fail(ev,
                    "smoothed modifier can only be used with: delta, increase, rate - not with %s",
                    e->call.func->name);
        if (vs->vs.anchored && !rate_like && id != PROMQL_FN_CHANGES && id != PROMQL_FN_RESETS)
            ev_fail(ev,
                    "anchored modifier can only be used with: changes, delta, increase, rate, "
                    "resets - not with %s",
                    e->call.func->name);
    }
}

/* Walks e whose evaluation times lie in [mint, maxt]; returns whether e is
 * step-invariant. */
static bool prepare(struct evaluator *ev, const struct promql_expr *e, int64_t mint, int64_t maxt)
{
    struct ev_node *n = ev_node_get(ev, e);
    bool inv = true;
    switch (e->kind) {
    case PROMQL_EXPR_NUMBER:
    case PROMQL_EXPR_STRING:
    case PROMQL_EXPR_DURATION:
        inv = true;
        break;
    case PROMQL_EXPR_VECTOR_SELECTOR:
    case PROMQL_EXPR_MATRIX_SELECTOR: {
        const struct promql_expr *vs = e->kind == PROMQL_EXPR_MATRIX_SELECTOR ? e->matrix.vs : e;
        struct ev_node *vn = ev_node_get(ev, vs);
        int64_t range = 0;
        if (e->kind == PROMQL_EXPR_MATRIX_SELECTOR) {
            range = resolve_dur(ev, e->matrix.range_expr, e->matrix.range_ms, false);
            n->range_ms = range;
        }
        vn->offset_ms = resolve_dur(ev, vs->vs.mods.offset_expr, vs->vs.mods.offset_ms, true);
        n->offset_ms = vn->offset_ms;
        int64_t lo = mint, hi = maxt;
        if (vs->vs.mods.at != PROMQL_AT_NONE)
            lo = hi = ev_resolve_at(ev, &vs->vs.mods);
        lo -= vn->offset_ms;
        hi -= vn->offset_ms;
        lo -= e->kind == PROMQL_EXPR_MATRIX_SELECTOR ? range : ev->lookback_ms;
        /* anchored and smoothed ranges reach one lookback before the range
         * (and smoothed ones after it) for the samples they anchor to */
        if (e->kind == PROMQL_EXPR_MATRIX_SELECTOR && (vs->vs.anchored || vs->vs.smoothed))
            lo -= ev->lookback_ms;
        if (vs->vs.smoothed)
            hi += ev->lookback_ms;
        vn->load_mint = lo;
        vn->load_maxt = hi;
        ev_load_series(ev, vn, vs->vs.matchers, vs->vs.nmatchers,
                       e->kind == PROMQL_EXPR_MATRIX_SELECTOR);
        inv = vs->vs.mods.at != PROMQL_AT_NONE;
        vn->invariant = inv;
        break;
    }
    case PROMQL_EXPR_SUBQUERY: {
        n->range_ms = resolve_dur(ev, e->subquery.range_expr, e->subquery.range_ms, false);
        n->step_ms = e->subquery.step_expr
                         ? resolve_dur(ev, e->subquery.step_expr, 0, false)
                         : (e->subquery.step_ms ? e->subquery.step_ms : ev->default_step_ms);
        n->offset_ms =
            resolve_dur(ev, e->subquery.mods.offset_expr, e->subquery.mods.offset_ms, true);
        int64_t lo = mint, hi = maxt;
        if (e->subquery.mods.at != PROMQL_AT_NONE)
            lo = hi = ev_resolve_at(ev, &e->subquery.mods);
        lo -= n->offset_ms + n->range_ms;
        hi -= n->offset_ms;
        prepare(ev, e->subquery.expr, lo, hi);
        inv = e->subquery.mods.at != PROMQL_AT_NONE;
        break;
    }
    case PROMQL_EXPR_PAREN:
        inv = prepare(ev, e->paren.expr, mint, maxt);
        break;
    case PROMQL_EXPR_UNARY:
        inv = prepare(ev, e->unary.expr, mint, maxt);
        break;
    case PROMQL_EXPR_BINARY: {
        bool l = prepare(ev, e->binary.lhs, mint, maxt);
        bool r = prepare(ev, e->binary.rhs, mint, maxt);
        inv = l && r;
        break;
    }
    case PROMQL_EXPR_AGGREGATE: {
        inv = prepare(ev, e->aggregate.expr, mint, maxt);
        if (e->aggregate.param && !prepare(ev, e->aggregate.param, mint, maxt))
            inv = false;
        break;
    }
    case PROMQL_EXPR_CALL:
        check_extended_range_use(ev, e);
        inv = !time_dependent_call(e);
        if (e->call.func->id == PROMQL_FN_INFO) {
            /* the second argument is no selector of its own: it chooses
             * the info series, which ev_info_prepare reads */
            inv = prepare(ev, e->call.args[0], mint, maxt) && inv;
            ev_info_prepare(ev, e, mint, maxt);
            break;
        }
        for (size_t i = 0; i < e->call.nargs; i++)
            if (!prepare(ev, e->call.args[i], mint, maxt))
                inv = false;
        break;
    }
    n->invariant = inv;
    return inv;
}

/* ---- selectors ---- */

static bool is_stale(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    return bits == TSDB_STALE_NAN_BITS;
}

ptrdiff_t ev_last_at_or_before(const int64_t *t, size_t n, int64_t ref)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (t[mid] <= ref)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (ptrdiff_t)lo - 1;
}

/* The value a smoothed selector sees at ref: interpolated linearly between
 * the newest sample in (ref - lookback, ref] and the next one up to a
 * lookback later, or the newest one when none follows. */
static bool smoothed_value(const struct evaluator *ev, const struct ev_series *s, int64_t ref,
                           double *v, int64_t *t)
{
    ptrdiff_t k = ev_last_at_or_before(s->t, s->n, ref);
    if (k < 0 || s->t[k] <= ref - ev->lookback_ms || is_stale(s->v[k]))
        return false;
    *v = s->v[k];
    *t = s->t[k];
    size_t nx = (size_t)k + 1;
    if (s->t[k] == ref || nx >= s->n || s->t[nx] > ref + ev->lookback_ms || is_stale(s->v[nx]))
        return true;
    *v = s->v[k] + (s->v[nx] - s->v[k]) * (double)(ref - s->t[k]) / (double)(s->t[nx] - s->t[k]);
    return true;
}

/* The number of samples at or before ref, knowing that the first h are:
 * a few steps forward, else a binary search over the rest. */
static size_t count_at_or_before(const int64_t *t, size_t n, size_t h, int64_t ref)
{
    for (int k = 0; k < 8; k++) {
        if (h >= n || t[h] > ref)
            return h;
        h++;
    }
    size_t lo = h, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] <= ref)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Moves n's per-series cursors to reference time t: the count of samples
 * at or before hi_t (cur_hi) and, if want_lo, at or before lo_t (cur_lo),
 * both moving with t.  A later t slides them on from where the last step
 * left them, so a range query reads each series once; an earlier one (a
 * subquery starting over) searches again. */
static void cursors_move(struct evaluator *ev, struct ev_node *n, const struct ev_node *vn,
                         int64_t t, int64_t lo_t, int64_t hi_t, bool want_lo)
{
    if (!n->cur_hi) {
        n->cur_hi = promql_arena_alloc(ev->qa, (vn->nseries + 1) * sizeof *n->cur_hi);
        n->cur_lo = promql_arena_alloc(ev->qa, (vn->nseries + 1) * sizeof *n->cur_lo);
    }
    bool slide = n->cur_valid && t >= n->cur_t;
    for (size_t i = 0; i < vn->nseries; i++) {
        const struct ev_series *s = &vn->series[i];
        n->cur_hi[i] = count_at_or_before(s->t, s->n, slide ? n->cur_hi[i] : 0, hi_t);
        if (want_lo)
            n->cur_lo[i] = count_at_or_before(s->t, s->n, slide ? n->cur_lo[i] : 0, lo_t);
    }
    n->cur_valid = true;
    n->cur_t = t;
}

/* The instant vector selector e at ts; with start_ts, each sample's value
 * is its start timestamp in seconds instead (start_timestamp()). */
static struct ev_value select_instant(struct evaluator *ev, const struct promql_expr *e, int64_t ts,
                                      bool start_ts)
{
    struct ev_node *n = ev_node_get(ev, e);
    int64_t ref =
        (e->vs.mods.at != PROMQL_AT_NONE ? ev_resolve_at(ev, &e->vs.mods) : ts) - n->offset_ms;
    struct ev_value v = {.type = PROMQL_VECTOR};
    v.s = ev_alloc(ev, n->nseries * sizeof *v.s);
    if (!e->vs.smoothed)
        cursors_move(ev, n, n, ref, 0, ref, false);
    for (size_t i = 0; i < n->nseries; i++) {
        const struct ev_series *s = &n->series[i];
        if (e->vs.smoothed) {
            double sv;
            int64_t st;
            if (!start_ts && smoothed_value(ev, s, ref, &sv, &st))
                v.s[v.n++] = (struct ev_sample){s->ls, sv, st, false, s->sid};
            continue;
        }
        ptrdiff_t k = (ptrdiff_t)n->cur_hi[i] - 1;
        if (k < 0 || s->t[k] <= ref - ev->lookback_ms || is_stale(s->v[k]))
            continue;
        if (start_ts)
            v.s[v.n++] =
                (struct ev_sample){s->ls, s->st ? (double)s->st[k] / 1000 : 0, ts, true, s->sid};
        else
            v.s[v.n++] = (struct ev_sample){s->ls, s->v[k], s->t[k], false, s->sid};
    }
    ev_count_samples(ev, v.n);
    ev_check_samples(ev, v.n);
    return v;
}

static struct ev_value eval_vector_selector(struct evaluator *ev, const struct promql_expr *e,
                                            int64_t ts)
{
    return select_instant(ev, e, ts, false);
}

struct ev_value ev_selector_start_timestamps(struct evaluator *ev, const struct promql_expr *e,
                                             int64_t ts)
{
    return select_instant(ev, e, ts, true);
}

static struct ev_value eval_matrix_selector(struct evaluator *ev, const struct promql_expr *e,
                                            int64_t ts)
{
    struct ev_node *n = ev_node_get(ev, e);
    const struct promql_expr *vs = e->matrix.vs;
    struct ev_node *vn = ev_node_get(ev, vs);
    int64_t maxt =
        (vs->vs.mods.at != PROMQL_AT_NONE ? ev_resolve_at(ev, &vs->vs.mods) : ts) - vn->offset_ms;
    int64_t mint = maxt - n->range_ms;
    struct ev_value v = {.type = PROMQL_MATRIX, .mint = mint, .maxt = maxt};
    /* anchored/smoothed: the slice also holds the samples up to a lookback
     * outside the window, from which the functions pick their anchors;
     * v.mint/v.maxt stay the window itself */
    int64_t lo_t = mint, hi_t = maxt;
    if (vs->vs.anchored || vs->vs.smoothed)
        lo_t -= ev->lookback_ms;
    if (vs->vs.smoothed)
        hi_t += ev->lookback_ms;
    v.m = ev_alloc(ev, vn->nseries * sizeof *v.m);
    cursors_move(ev, n, vn, maxt, lo_t, hi_t, true);
    size_t total = 0;
    for (size_t i = 0; i < vn->nseries; i++) {
        const struct ev_series *s = &vn->series[i];
        size_t lo = n->cur_lo[i], hi = n->cur_hi[i];
        if (hi <= lo)
            continue;
        v.m[v.nm++] = (struct ev_series){
            s->ls, s->t + lo, s->v + lo, hi - lo, false, s->sid, s->st ? s->st + lo : NULL};
        total += hi - lo;
    }
    ev_count_samples(ev, total);
    ev_check_samples(ev, total);
    return v;
}

/* Collects per-step vectors into series keyed by label set.  Finding a
 * sample's series by key (building the label key, hashing it) for every
 * point would cost more than the evaluation of simple queries, so a sample
 * whose label set has an identity (sid) finds it through sid_slot, and
 * one without through the series that the sample at the same position of
 * the previous step went to (prev_slot), if the labels compare equal;
 * only what is left builds a key. */
struct collector {
    struct promql_arena *a;
    struct strmap map;
    struct coll_series {
        struct labels ls;
        bool drop;
        int64_t *t;
        double *v;
        size_t n, cap;
    } * s;
    size_t n, cap;
    size_t points;
    uint32_t *sid_slot; /* sid -> series index + 1; 0 unknown */
    size_t nsid_slot;
    size_t *prev_slot; /* position in the last vector -> series index + 1 */
    size_t nprev;
    size_t hint; /* points a new series may get: the steps left */
};

static void coll_init(struct collector *c, struct promql_arena *a)
{
    memset(c, 0, sizeof *c);
    c->a = a;
    strmap_init(&c->map, a, 16);
}

static bool lbl_equal(const struct labels *a, const struct labels *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].name != b->v[i].name && strcmp(a->v[i].name, b->v[i].name) != 0)
            return false;
        if (a->v[i].value != b->v[i].value && strcmp(a->v[i].value, b->v[i].value) != 0)
            return false;
    }
    return true;
}

static size_t coll_slot_by_key(struct collector *c, const struct labels *ls, bool drop)
{
    struct sbuf key = SBUF_INIT;
    lbl_key(ls, &key);
    bool found;
    size_t *slot = strmap_put(&c->map, key.data ? key.data : "", key.len, &found);
    sbuf_free(&key);
    if (!found) {
        if (c->n == c->cap) {
            size_t nc = c->cap ? c->cap * 2 : 8;
            struct coll_series *ns = promql_arena_alloc(c->a, nc * sizeof *ns);
            if (c->n)
                memcpy(ns, c->s, c->n * sizeof *ns);
            c->s = ns;
            c->cap = nc;
        }
        *slot = c->n;
        c->s[c->n++] = (struct coll_series){lbl_copy(c->a, ls), drop, NULL, NULL, 0, 0};
    }
    return *slot;
}

static void coll_remember_sid(struct collector *c, uint32_t sid, size_t slot)
{
    if (sid >= c->nsid_slot) {
        size_t nn = c->nsid_slot ? c->nsid_slot : 64;
        while (nn <= sid)
            nn *= 2;
        uint32_t *ns = promql_arena_alloc(c->a, nn * sizeof *ns);
        if (c->nsid_slot)
            memcpy(ns, c->sid_slot, c->nsid_slot * sizeof *ns);
        c->sid_slot = ns;
        c->nsid_slot = nn;
    }
    c->sid_slot[sid] = (uint32_t)slot + 1;
}

/* The series of the sample at position pos of the current vector. */
static size_t coll_slot(struct collector *c, size_t pos, const struct labels *ls, uint32_t sid,
                        bool drop)
{
    if (sid && sid < c->nsid_slot && c->sid_slot[sid])
        return c->sid_slot[sid] - 1;
    size_t slot;
    if (!sid && pos < c->nprev && c->prev_slot[pos] &&
        lbl_equal(ls, &c->s[c->prev_slot[pos] - 1].ls))
        slot = c->prev_slot[pos] - 1;
    else
        slot = coll_slot_by_key(c, ls, drop);
    if (sid && slot <= UINT32_MAX - 1)
        coll_remember_sid(c, sid, slot);
    if (!sid) {
        if (pos >= c->nprev) {
            size_t nn = c->nprev ? c->nprev : 64;
            while (nn <= pos)
                nn *= 2;
            size_t *np = promql_arena_alloc(c->a, nn * sizeof *np);
            if (c->nprev)
                memcpy(np, c->prev_slot, c->nprev * sizeof *np);
            c->prev_slot = np;
            c->nprev = nn;
        }
        c->prev_slot[pos] = slot + 1;
    }
    return slot;
}

static void coll_add(struct evaluator *ev, struct collector *c, size_t pos,
                     const struct ev_sample *smp, int64_t t, double v)
{
    size_t slot = coll_slot(c, pos, &smp->ls, smp->sid, smp->drop); /* may grow c->s */
    struct coll_series *s = &c->s[slot];
    if (s->n == s->cap) {
        size_t first = c->hint < 8 ? 8 : c->hint > 1024 ? 1024 : c->hint;
        size_t nc = s->cap ? s->cap * 2 : first;
        int64_t *nt = promql_arena_alloc(c->a, nc * sizeof *nt);
        double *nv = promql_arena_alloc(c->a, nc * sizeof *nv);
        if (s->n) {
            memcpy(nt, s->t, s->n * sizeof *nt);
            memcpy(nv, s->v, s->n * sizeof *nv);
        }
        s->t = nt;
        s->v = nv;
        s->cap = nc;
    }
    s->t[s->n] = t;
    s->v[s->n] = v;
    s->n++;
    s->drop = s->drop || smp->drop;
    c->points++;
    ev_check_samples(ev, c->points);
}

/* Adds a step's value (a vector or a scalar) at time t. */
static void coll_add_value(struct evaluator *ev, struct collector *c, const struct ev_value *v,
                           int64_t t)
{
    if (v->type == PROMQL_SCALAR) {
        static const struct ev_sample none = {{NULL, 0}, 0, 0, false, 0};
        coll_add(ev, c, 0, &none, t, v->scalar);
        return;
    }
    for (size_t i = 0; i < v->n; i++)
        coll_add(ev, c, i, &v->s[i], t, v->s[i].v);
}

static void check_cancel(struct evaluator *ev)
{
    if (ev->cancel && *ev->cancel)
        ev_fail(ev, "query was canceled");
    if (ev->deadline_ns) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((int64_t)now.tv_sec * 1000000000 + now.tv_nsec > ev->deadline_ns)
            ev_fail(ev, "query timed out in query execution");
    }
}

static struct ev_value eval_subquery(struct evaluator *ev, const struct promql_expr *e, int64_t ts)
{
    struct ev_node *n = ev_node_get(ev, e);
    int64_t ref =
        (e->subquery.mods.at != PROMQL_AT_NONE ? ev_resolve_at(ev, &e->subquery.mods) : ts) -
        n->offset_ms;
    int64_t lo = ref - n->range_ms;
    int64_t step = n->step_ms;
    int64_t first = step * (lo / step);
    if (first <= lo)
        first += step;
    struct collector c;
    coll_init(&c, ev->a);
    for (int64_t t = first; t <= ref; t += step) {
        c.hint = (size_t)((ref - t) / step) + 1;
        struct ev_value v = ev_eval(ev, e->subquery.expr, t);
        coll_add_value(ev, &c, &v, t);
    }
    struct ev_value out = {.type = PROMQL_MATRIX, .mint = lo, .maxt = ref};
    out.m = ev_alloc(ev, c.n * sizeof *out.m);
    for (size_t i = 0; i < c.n; i++) {
        out.m[i] =
            (struct ev_series){c.s[i].ls, c.s[i].t, c.s[i].v, c.s[i].n, c.s[i].drop, 0, NULL};
        /* stale markers of inner selectors never reach a vector */
    }
    out.nm = c.n;
    return out;
}

/* ---- the dispatcher ---- */

static struct ev_value eval_unary(struct evaluator *ev, const struct promql_expr *e, int64_t ts)
{
    struct ev_value v = ev_eval(ev, e->unary.expr, ts);
    if (e->unary.op != PROMQL_OP_SUB)
        return v;
    if (v.type == PROMQL_SCALAR) {
        v.scalar = -v.scalar;
        return v;
    }
    struct ev_value o = v;
    o.s = ev_alloc(ev, v.n * sizeof *o.s);
    for (size_t i = 0; i < v.n; i++) {
        o.s[i] = v.s[i];
        o.s[i].v = -v.s[i].v;
        o.s[i].drop = true;
        o.s[i].t = ts;
    }
    return o;
}

static struct ev_value eval_uncached(struct evaluator *ev, const struct promql_expr *e, int64_t ts)
{
    switch (e->kind) {
    case PROMQL_EXPR_NUMBER:
        return (struct ev_value){.type = PROMQL_SCALAR, .scalar = e->number.value};
    case PROMQL_EXPR_STRING:
        return (struct ev_value){
            .type = PROMQL_STRING, .str = e->string.value, .slen = e->string.len};
    case PROMQL_EXPR_VECTOR_SELECTOR:
        return eval_vector_selector(ev, e, ts);
    case PROMQL_EXPR_MATRIX_SELECTOR:
        return eval_matrix_selector(ev, e, ts);
    case PROMQL_EXPR_SUBQUERY:
        return eval_subquery(ev, e, ts);
    case PROMQL_EXPR_PAREN:
        return ev_eval(ev, e->paren.expr, ts);
    case PROMQL_EXPR_UNARY:
        return eval_unary(ev, e, ts);
    case PROMQL_EXPR_BINARY:
        return ev_binary(ev, e, ts);
    case PROMQL_EXPR_AGGREGATE:
        return ev_aggregate(ev, e, ts);
    case PROMQL_EXPR_CALL:
        return ev_call(ev, e, ts);
    case PROMQL_EXPR_DURATION:
        break;
    }
    ev_fail(ev, "unexpected expression");
}

struct ev_value ev_eval(struct evaluator *ev, const struct promql_expr *e, int64_t ts)
{
    struct ev_node *n = ev_node_get(ev, e);
    if (!n->invariant || e->kind == PROMQL_EXPR_NUMBER || e->kind == PROMQL_EXPR_STRING)
        return eval_uncached(ev, e, ts);
    if (n->cached)
        return n->val;
    struct promql_arena *saved = ev->a;
    ev->a = ev->qa;
    struct ev_value v = eval_uncached(ev, e, ts);
    ev->a = saved;
    n = ev_node_get(ev, e);
    n->val = v;
    n->cached = true;
    return v;
}

/* ---- entry points ---- */

static int sample_cmp_labels(const void *a, const void *b)
{
    return lbl_cmp(&((const struct promql_series *)a)->labels,
                   &((const struct promql_series *)b)->labels);
}

static struct promql_result *result_new(void)
{
    struct promql_arena *a = promql_arena_new();
    struct promql_result *r = promql_arena_alloc(a, sizeof *r);
    r->arena = a;
    return r;
}

void promql_result_free(struct promql_result *r)
{
    if (r)
        promql_arena_free(r->arena);
}

static void ev_init(struct evaluator *ev, struct tsdb *db, const char *query,
                    const struct promql_expr *e, int64_t start, int64_t end, int64_t step,
                    const struct promql_eval_opts *o, char *err, size_t errsz)
{
    memset(ev, 0, sizeof *ev);
    ev->db = db;
    ev->query = query;
    ev->start = start;
    ev->end = end;
    ev->interval = step;
    ev->lookback_ms = o && o->lookback_ms ? o->lookback_ms : 5 * 60 * 1000;
    ev->default_step_ms = o && o->default_step_ms ? o->default_step_ms : 60 * 1000;
    ev->max_samples = o && o->max_samples ? o->max_samples : 50000000;
    ev->cancel = o ? o->cancel : NULL;
    ev->delayed_name_removal = o && o->delayed_name_removal;
    ev->use_st = o && o->use_start_timestamps;
    if (o && o->timeout_ms) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        ev->deadline_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec + o->timeout_ms * 1000000;
    }
    ev->err = err;
    ev->errsz = errsz;
    ev->res = result_new();
    ev->qa = ev->res->arena;
    ev->a = ev->qa;
    size_t cnt = 0;
    promql_expr_walk(e, count_node, &cnt);
    ev->capnodes = 16;
    while (ev->capnodes < cnt * 4)
        ev->capnodes *= 2;
    ev->nodes = promql_arena_alloc(ev->qa, ev->capnodes * sizeof *ev->nodes);
    if (o && o->per_step_stats) {
        struct promql_query_stats *st = &ev->res->stats;
        st->nsteps = step > 0 ? (size_t)((end - start) / step) + 1 : 1;
        st->step_samples = promql_arena_alloc(ev->qa, st->nsteps * sizeof *st->step_samples);
    }
}

static int point_cmp(const void *a, const void *b)
{
    int64_t x = ((const struct promql_point *)a)->t, y = ((const struct promql_point *)b)->t;
    return x < y ? -1 : x > y;
}

/* Drops marked names and checks for label sets that became equal: an
 * error in a vector; in a matrix, series that became equal are merged
 * unless they have a point at the same time (Prometheus's
 * cleanupMetricLabels with delayed name removal).  Returns the count. */
static size_t finish_series(struct evaluator *ev, struct promql_series *s, size_t n,
                            const bool *drop, bool matrix)
{
    for (size_t i = 0; i < n; i++)
        if (drop[i])
            s[i].labels = lbl_drop_name(ev->qa, &s[i].labels);
    struct strmap m;
    strmap_init(&m, ev->qa, n);
    struct sbuf key = SBUF_INIT;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        sbuf_reset(&key);
        lbl_key(&s[i].labels, &key);
        bool found;
        size_t *slot = strmap_put(&m, key.data ? key.data : "", key.len, &found);
        if (!found) {
            *slot = k;
            s[k++] = s[i];
            continue;
        }
        if (!matrix) {
            sbuf_free(&key);
            ev_fail(ev, "vector cannot contain metrics with the same labelset");
        }
        struct promql_series *d = &s[*slot];
        struct promql_point *p =
            promql_arena_alloc(ev->qa, (d->npoints + s[i].npoints) * sizeof *p);
        memcpy(p, d->points, d->npoints * sizeof *p);
        memcpy(p + d->npoints, s[i].points, s[i].npoints * sizeof *p);
        size_t np = d->npoints + s[i].npoints;
        qsort(p, np, sizeof *p, point_cmp);
        for (size_t j = 1; j < np; j++)
            if (p[j].t == p[j - 1].t) {
                sbuf_free(&key);
                ev_fail(ev, "vector cannot contain metrics with the same labelset");
            }
        d->points = p;
        d->npoints = np;
    }
    sbuf_free(&key);
    if (matrix)
        qsort(s, k, sizeof *s, sample_cmp_labels);
    return k;
}

int promql_eval_instant(struct tsdb *db, const char *query, const struct promql_expr *e, int64_t t,
                        const struct promql_eval_opts *opts, struct promql_result **out, char *err,
                        size_t errsz)
{
    struct evaluator ev;
    ev_init(&ev, db, query, e, t, t, 0, opts, err, errsz);
    struct promql_arena *step_arena = NULL;
    if (setjmp(ev.jb)) {
        if (step_arena)
            promql_arena_free(step_arena);
        promql_result_free(ev.res);
        *out = NULL;
        return -1;
    }
    prepare(&ev, e, t, t);
    struct ev_value v = ev_eval(&ev, e, t);
    struct promql_result *r = ev.res;
    r->type = v.type;
    r->t = t;
    switch (v.type) {
    case PROMQL_SCALAR:
        r->scalar = v.scalar;
        break;
    case PROMQL_STRING:
        r->str = promql_arena_strndup(r->arena, v.str, v.slen);
        r->slen = v.slen;
        break;
    case PROMQL_VECTOR: {
        r->series = promql_arena_alloc(r->arena, (v.n + 1) * sizeof *r->series);
        bool *drop = promql_arena_alloc(r->arena, v.n + 1);
        for (size_t i = 0; i < v.n; i++) {
            struct promql_point *p = promql_arena_alloc(r->arena, sizeof *p);
            p->t = t;
            p->v = v.s[i].v;
            r->series[i] = (struct promql_series){v.s[i].ls, p, 1};
            drop[i] = v.s[i].drop;
        }
        r->nseries = finish_series(&ev, r->series, v.n, drop, false);
        break;
    }
    case PROMQL_MATRIX: {
        r->series = promql_arena_alloc(r->arena, (v.nm + 1) * sizeof *r->series);
        bool *drop = promql_arena_alloc(r->arena, v.nm + 1);
        const struct promql_expr *ms = ev_unparen(e);
        const struct promql_expr *vs =
            ms->kind == PROMQL_EXPR_MATRIX_SELECTOR ? ms->matrix.vs : NULL;
        bool extended = vs && (vs->vs.anchored || vs->vs.smoothed);
        size_t k = 0;
        for (size_t i = 0; i < v.nm; i++) {
            struct promql_point *p = promql_arena_alloc(r->arena, (v.m[i].n + 2) * sizeof *p);
            size_t np = v.m[i].n;
            if (extended)
                np = ev_extend_points(&v.m[i], v.mint, v.maxt, vs->vs.smoothed, p);
            else
                for (size_t j = 0; j < np; j++)
                    p[j] = (struct promql_point){v.m[i].t[j], v.m[i].v[j]};
            if (np == 0)
                continue;
            r->series[k] = (struct promql_series){v.m[i].ls, p, np};
            drop[k++] = v.m[i].drop;
        }
        r->nseries = finish_series(&ev, r->series, k, drop, true);
        break;
    }
    default:
        break;
    }
    *out = r;
    return 0;
}

int promql_eval_range(struct tsdb *db, const char *query, const struct promql_expr *e,
                      int64_t start, int64_t end, int64_t step, const struct promql_eval_opts *opts,
                      struct promql_result **out, char *err, size_t errsz)
{
    struct evaluator ev;
    if (step <= 0) {
        snprintf(err, errsz, "zero or negative query resolution step widths are not accepted");
        *out = NULL;
        return -1;
    }
    ev_init(&ev, db, query, e, start, end, step, opts, err, errsz);
    struct promql_arena *volatile step_arena = NULL;
    if (setjmp(ev.jb)) {
        if (step_arena)
            promql_arena_free(step_arena);
        promql_result_free(ev.res);
        *out = NULL;
        return -1;
    }
    if (e->type != PROMQL_SCALAR && e->type != PROMQL_VECTOR)
        ev_fail(&ev,
                "invalid expression type \"%s\" for range query, must be Scalar or instant Vector",
                promql_type_name(e->type));
    prepare(&ev, e, start, end);
    if (e->kind == PROMQL_EXPR_CALL) {
        enum promql_func_id id = e->call.func->id;
        if (id == PROMQL_FN_SORT || id == PROMQL_FN_SORT_DESC || id == PROMQL_FN_SORT_BY_LABEL ||
            id == PROMQL_FN_SORT_BY_LABEL_DESC)
            ev_warn(
                &ev, false, e,
                "sort is ineffective for range queries since results are always ordered by labels");
    }
    struct collector c;
    coll_init(&c, ev.qa);
    step_arena = promql_arena_new();
    for (int64_t t = start; t <= end; t += step, ev.step_index++) {
        check_cancel(&ev);
        promql_arena_reset(step_arena);
        ev.a = step_arena;
        c.hint = (size_t)((end - t) / step) + 1;
        struct ev_value v = ev_eval(&ev, e, t);
        ev.a = ev.qa;
        coll_add_value(&ev, &c, &v, t);
    }
    promql_arena_free(step_arena);
    step_arena = NULL;
    struct promql_result *r = ev.res;
    r->type = PROMQL_MATRIX;
    r->series = promql_arena_alloc(r->arena, (c.n + 1) * sizeof *r->series);
    bool *drop = promql_arena_alloc(r->arena, c.n + 1);
    for (size_t i = 0; i < c.n; i++) {
        struct promql_point *p = promql_arena_alloc(r->arena, (c.s[i].n + 1) * sizeof *p);
        for (size_t k = 0; k < c.s[i].n; k++)
            p[k] = (struct promql_point){c.s[i].t[k], c.s[i].v[k]};
        r->series[i] = (struct promql_series){c.s[i].ls, p, c.s[i].n};
        drop[i] = c.s[i].drop;
    }
    r->nseries = finish_series(&ev, r->series, c.n, drop, true);
    *out = r;
    return 0;
}
