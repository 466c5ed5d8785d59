/* eval_agg.c — aggregation operators.
 *
 * Samples are grouped by the grouping labels (by: only those; without: all
 * but those and __name__), groups kept in order of first appearance, as
 * Prometheus's orderedResult.  Sums use Kahan-Neumaier compensation and
 * avg switches to an incremental mean when the sum would overflow, exactly
 * as Prometheus's aggregation() does; stddev/stdvar use Welford's method.
 * topk/bottomk keep the input series' labels, sorted within each group;
 * limit_ratio samples by label-set hash (see limit_ratio). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "query/eval_internal.h"
#include "query/promql_internal.h"
#include "util/sbuf.h"

struct group {
    struct labels ls;
    double value, c, mean, count;
    bool incremental;
    bool drop;
    size_t first;    /* first member's index in the input */
    size_t *members; /* for quantile/topk/bottomk */
    size_t nmembers;
    uint32_t sid; /* of ls, when it comes from the cache */
};

/* What an aggregation node remembers across steps (query arena): the
 * groups it has seen, by grouping key and by the sid of an input label
 * set, so that a step groups samples with identities by array lookups.
 * A group's labels are kept here and carry their own sid, which lets the
 * next operator (or the range collector) do the same. */
struct ev_agg_cache {
    struct strmap by_key; /* grouping key -> group id */
    uint32_t *by_sid;     /* input sid -> group id + 1; 0 not seen */
    size_t nby_sid;
    struct agg_known {
        struct labels ls;
        uint32_t sid;
        uint64_t stamp; /* the call that last used it */
        size_t local;   /* its index in that call's groups */
    } * known;
    size_t nknown, capknown;
    uint64_t calls;
};

static void fmt_f(struct sbuf *b, double v);

static int nan_first_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    if (isnan(x))
        return isnan(y) ? 0 : -1;
    if (isnan(y))
        return 1;
    return x < y ? -1 : x > y;
}

double ev_quantile(double q, double *v, size_t n);
double ev_quantile(double q, double *v, size_t n)
{
    if (n == 0 || isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(v, n, sizeof *v, nan_first_cmp);
    double rank = q * (double)(n - 1);
    double lower = fmax(0, floor(rank));
    double upper = fmin((double)n - 1, lower + 1);
    double w = rank - floor(rank);
    return v[(size_t)lower] * (1 - w) + v[(size_t)upper] * w;
}

struct ksort_ctx {
    const struct ev_sample *s;
    bool top;
};

/* The context goes through qsort_r: queries run on several worker threads. */
static int k_cmp(const void *a, const void *b, void *arg)
{
    const struct ksort_ctx *ks = arg;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    double x = ks->s[i].v, y = ks->s[j].v;
    bool nx = isnan(x), ny = isnan(y);
    int c = 0;
    if (nx || ny)
        c = nx && ny ? 0 : nx ? 1 : -1; /* NaN last */
    else if (x != y)
        c = ks->top ? (x > y ? -1 : 1) : (x < y ? -1 : 1);
    if (c == 0)
        c = i < j ? -1 : i > j;
    return c;
}

/* limit_ratio(r, v): a sample is kept when its label set's place in
 * [0, 1) — the xxhash64 of its canonical bytes over 2^64, as Prometheus's
 * HashRatioSampler — is below r, or for negative r at or above 1 + r, so
 * r and r - 1 select complementary sets, the same at every step. */
static struct ev_value limit_ratio(struct evaluator *ev, const struct promql_expr *e,
                                   struct ev_value in, double r, int64_t ts)
{
    struct ev_value o = {.type = PROMQL_VECTOR};
    o.s = ev_alloc(ev, (in.n + 1) * sizeof *o.s);
    if (isnan(r))
        ev_fail(ev, "Ratio value is NaN");
    if (r < -1 || r > 1) {
        double cap = r < -1 ? -1 : 1;
        struct sbuf b = SBUF_INIT;
        go_format_float_v(&b, r);
        sbuf_puts(&b, ", capping to ");
        go_format_float_v(&b, cap);
        ev_warn(ev, false, e->aggregate.param, "ratio value should be between -1 and 1, got %s",
                b.data);
        sbuf_free(&b);
        r = cap;
    }
    if (r == 0)
        return o;
    struct sbuf key = SBUF_INIT;
    for (size_t i = 0; i < in.n; i++) {
        sbuf_reset(&key);
        lbl_key(&in.s[i].ls, &key);
        double off = (double)XXH64(key.data, key.len, 0) / 18446744073709551615.0;
        if ((r >= 0 && off < r) || (r < 0 && off >= 1.0 + r)) {
            o.s[o.n] = in.s[i];
            o.s[o.n++].t = ts;
        }
    }
    sbuf_free(&key);
    return o;
}

/* The labels a sample's group is named by: by (...) keeps the listed
 * ones, without (...) drops them and the metric name.  With delayed name
 * removal a marked name still groups (by (__name__)); the group's name goes
 * at the end if any member's was marked. */
static struct labels group_labels(struct promql_arena *a, const struct promql_expr *e,
                                  const struct labels *ls)
{
    return e->aggregate.without
               ? lbl_del(a, ls, e->aggregate.grouping, e->aggregate.ngrouping, true)
               : lbl_keep(a, ls, e->aggregate.grouping, e->aggregate.ngrouping);
}

/* Groups in by key, in order of first appearance: g[] the groups, gi[i]
 * sample i's group.  Returns the number of groups. */
static size_t group_by_key(struct evaluator *ev, const struct promql_expr *e,
                           const struct ev_value *in, const char *sparam, struct group *g,
                           size_t *gi)
{
    struct strmap map;
    strmap_init(&map, ev->a, in->n);
    size_t ng = 0;
    struct sbuf key = SBUF_INIT;
    for (size_t i = 0; i < in->n; i++) {
        struct labels gl = group_labels(ev->a, e, &in->s[i].ls);
        if (e->aggregate.op == PROMQL_AGG_COUNT_VALUES) {
            struct sbuf vb = SBUF_INIT;
            fmt_f(&vb, in->s[i].v);
            gl = lbl_set(ev->a, &gl, sparam, vb.data);
            sbuf_free(&vb);
        }
        sbuf_reset(&key);
        lbl_key(&gl, &key);
        bool found;
        size_t *slot = strmap_put(&map, key.data ? key.data : "", key.len, &found);
        if (!found) {
            *slot = ng;
            g[ng] = (struct group){.ls = gl, .first = i};
            ng++;
        }
        gi[i] = *slot;
        g[*slot].drop = g[*slot].drop || in->s[i].drop;
    }
    sbuf_free(&key);
    return ng;
}

static bool all_have_sids(const struct ev_value *in)
{
    for (size_t i = 0; i < in->n; i++)
        if (!in->s[i].sid)
            return false;
    return true;
}

static struct ev_agg_cache *agg_cache_get(struct evaluator *ev, const struct promql_expr *e)
{
    struct ev_node *n = ev_node_get(ev, e);
    if (!n->agg) {
        n->agg = promql_arena_alloc(ev->qa, sizeof *n->agg);
        strmap_init(&n->agg->by_key, ev->qa, 16);
    }
    return n->agg;
}

/* The cache's group id for the label set ls with identity sid. */
static size_t agg_cache_group(struct evaluator *ev, const struct promql_expr *e,
                              struct ev_agg_cache *c, const struct labels *ls, uint32_t sid)
{
    if (sid < c->nby_sid && c->by_sid[sid])
        return c->by_sid[sid] - 1;
    struct labels gl = group_labels(ev->qa, e, ls);
    struct sbuf key = SBUF_INIT;
    lbl_key(&gl, &key);
    bool found;
    size_t *slot = strmap_put(&c->by_key, key.data ? key.data : "", key.len, &found);
    sbuf_free(&key);
    if (!found) {
        if (c->nknown == c->capknown) {
            size_t nc = c->capknown ? c->capknown * 2 : 16;
            struct agg_known *nk = promql_arena_alloc(ev->qa, nc * sizeof *nk);
            if (c->nknown)
                memcpy(nk, c->known, c->nknown * sizeof *nk);
            c->known = nk;
            c->capknown = nc;
        }
        *slot = c->nknown;
        c->known[c->nknown++] = (struct agg_known){gl, ev_sid_new(ev), 0, 0};
    }
    if (sid >= c->nby_sid) {
        size_t nn = c->nby_sid ? c->nby_sid : 64;
        while (nn <= sid)
            nn *= 2;
        uint32_t *nb = promql_arena_alloc(ev->qa, nn * sizeof *nb);
        if (c->nby_sid)
            memcpy(nb, c->by_sid, c->nby_sid * sizeof *nb);
        c->by_sid = nb;
        c->nby_sid = nn;
    }
    c->by_sid[sid] = (uint32_t)*slot + 1;
    return *slot;
}

/* group_by_key's result for samples that all have identities, through
 * the node's cache: the same groups in the same order. */
static size_t group_by_sid(struct evaluator *ev, const struct promql_expr *e,
                           const struct ev_value *in, struct group *g, size_t *gi)
{
    struct ev_agg_cache *c = agg_cache_get(ev, e);
    uint64_t call = ++c->calls;
    size_t ng = 0;
    for (size_t i = 0; i < in->n; i++) {
        size_t id = agg_cache_group(ev, e, c, &in->s[i].ls, in->s[i].sid); /* may grow known */
        struct agg_known *k = &c->known[id];
        if (k->stamp != call) {
            k->stamp = call;
            k->local = ng;
            g[ng++] = (struct group){.ls = k->ls, .first = i, .sid = k->sid};
        }
        gi[i] = k->local;
        g[k->local].drop = g[k->local].drop || in->s[i].drop;
    }
    return ng;
}

struct ev_value ev_aggregate(struct evaluator *ev, const struct promql_expr *e, int64_t ts)
{
    enum promql_agg_op op = e->aggregate.op;
    struct ev_value in = ev_eval(ev, e->aggregate.expr, ts);
    double param = 0;
    const char *sparam = NULL;
    if (e->aggregate.param) {
        struct ev_value p = ev_eval(ev, e->aggregate.param, ts);
        if (p.type == PROMQL_STRING)
            sparam = promql_arena_strndup(ev->a, p.str, p.slen);
        else
            param = p.scalar;
    }
    if (op == PROMQL_AGG_LIMIT_RATIO)
        return limit_ratio(ev, e, in, param, ts);
    struct ev_value o = {.type = PROMQL_VECTOR};
    if (op == PROMQL_AGG_TOPK || op == PROMQL_AGG_BOTTOMK || op == PROMQL_AGG_LIMITK) {
        if (isnan(param))
            ev_fail(ev, "Parameter value is NaN");
        if (param > 9.2e18 || param < -9.2e18)
            ev_fail(ev, "Scalar value %g overflows int64", param);
    }
    if (op == PROMQL_AGG_QUANTILE && (isnan(param) || param < 0 || param > 1)) {
        struct sbuf b = SBUF_INIT;
        go_format_float_v(&b, param);
        ev_warn(ev, false, e->aggregate.param, "quantile value should be between 0 and 1, got %s",
                b.data);
        sbuf_free(&b);
    }
    if (op == PROMQL_AGG_COUNT_VALUES) {
        /* label name validity: any UTF-8 in Prometheus 3 */
        if (!*sparam || !utf8_valid(sparam, strlen(sparam))) {
            struct sbuf b = SBUF_INIT;
            go_quote(&b, sparam, strlen(sparam));
            char tmp[512];
            snprintf(tmp, sizeof tmp, "%s", b.data);
            sbuf_free(&b);
            ev_fail(ev, "invalid label name %s", tmp);
        }
    }
    struct group *g = ev_alloc(ev, (in.n + 1) * sizeof *g);
    size_t *gi = ev_alloc(ev, (in.n + 1) * sizeof *gi);
    size_t ng = op != PROMQL_AGG_COUNT_VALUES && all_have_sids(&in)
                    ? group_by_sid(ev, e, &in, g, gi)
                    : group_by_key(ev, e, &in, sparam, g, gi);

    if (op == PROMQL_AGG_TOPK || op == PROMQL_AGG_BOTTOMK || op == PROMQL_AGG_LIMITK) {
        int64_t k = (int64_t)param;
        o.s = ev_alloc(ev, (in.n + 1) * sizeof *o.s);
        if (k < 1)
            return o;
        /* positions bucketed by group (a counting sort keeps input order
         * within a group), then each group sorted on its own */
        size_t *start = ev_alloc(ev, (ng + 1) * sizeof *start);
        size_t *idx = ev_alloc(ev, (in.n + 1) * sizeof *idx);
        memset(start, 0, (ng + 1) * sizeof *start);
        for (size_t i = 0; i < in.n; i++)
            start[gi[i] + 1]++;
        for (size_t gg = 0; gg < ng; gg++)
            start[gg + 1] += start[gg];
        size_t *fill = ev_alloc(ev, (ng + 1) * sizeof *fill);
        memcpy(fill, start, (ng + 1) * sizeof *fill);
        for (size_t i = 0; i < in.n; i++)
            idx[fill[gi[i]]++] = i;
        struct ksort_ctx ks = {in.s, op == PROMQL_AGG_TOPK};
        for (size_t gg = 0; gg < ng; gg++) {
            size_t *members = idx + start[gg], m = start[gg + 1] - start[gg];
            if (op != PROMQL_AGG_LIMITK)
                qsort_r(members, m, sizeof *members, k_cmp, &ks);
            for (size_t j = 0; j < m && (int64_t)j < k; j++) {
                o.s[o.n] = in.s[members[j]];
                o.s[o.n].t = ts;
                o.n++;
            }
        }
        return o;
    }

    double *vals = NULL;
    if (op == PROMQL_AGG_QUANTILE)
        vals = ev_alloc(ev, (in.n + 1) * sizeof *vals);
    for (size_t i = 0; i < in.n; i++) {
        struct group *gr = &g[gi[i]];
        double f = in.s[i].v;
        gr->count++;
        switch (op) {
        case PROMQL_AGG_SUM:
            gr->value = kahan_inc(f, gr->value, &gr->c);
            break;
        case PROMQL_AGG_AVG:
            if (gr->count == 1) {
                gr->value = f;
                gr->mean = f;
                break;
            }
            if (!gr->incremental) {
                double c = gr->c;
                double nv = kahan_inc(f, gr->value, &c);
                if (!isinf(nv)) {
                    gr->value = nv;
                    gr->c = c;
                    break;
                }
                gr->incremental = true;
                gr->mean = gr->value / (gr->count - 1);
                gr->c /= gr->count - 1;
            }
            if (isinf(gr->mean)) {
                if (isinf(f) && (gr->mean > 0) == (f > 0))
                    break;
                if (!isinf(f) && !isnan(f))
                    break;
            }
            {
                double cur = gr->mean + gr->c;
                gr->mean = kahan_inc(f / gr->count - cur / gr->count, gr->mean, &gr->c);
            }
            break;
        case PROMQL_AGG_COUNT:
        case PROMQL_AGG_COUNT_VALUES:
        case PROMQL_AGG_GROUP:
            break;
        case PROMQL_AGG_MIN:
            if (gr->count == 1 || gr->value > f || isnan(gr->value))
                gr->value = f;
            break;
        case PROMQL_AGG_MAX:
            if (gr->count == 1 || gr->value < f || isnan(gr->value))
                gr->value = f;
            break;
        case PROMQL_AGG_STDDEV:
        case PROMQL_AGG_STDVAR: {
            double delta = f - gr->mean;
            gr->mean += delta / gr->count;
            gr->value += delta * (f - gr->mean);
            break;
        }
        default:
            break;
        }
    }
    o.s = ev_alloc(ev, (ng + 1) * sizeof *o.s);
    for (size_t gg = 0; gg < ng; gg++) {
        struct group *gr = &g[gg];
        double v = 0;
        switch (op) {
        case PROMQL_AGG_SUM:
            v = gr->value + gr->c;
            break;
        case PROMQL_AGG_AVG:
            v = gr->count == 1    ? gr->value
                : gr->incremental ? gr->mean + gr->c
                                  : (gr->value + gr->c) / gr->count;
            break;
        case PROMQL_AGG_COUNT:
        case PROMQL_AGG_COUNT_VALUES:
            v = gr->count;
            break;
        case PROMQL_AGG_GROUP:
            v = 1;
            break;
        case PROMQL_AGG_MIN:
        case PROMQL_AGG_MAX:
            v = gr->value;
            break;
        case PROMQL_AGG_STDVAR:
            v = gr->value / gr->count;
            break;
        case PROMQL_AGG_STDDEV:
            v = sqrt(gr->value / gr->count);
            break;
        case PROMQL_AGG_QUANTILE: {
            size_t m = 0;
            for (size_t i = 0; i < in.n; i++)
                if (gi[i] == gg)
                    vals[m++] = in.s[i].v;
            v = ev_quantile(param, vals, m);
            break;
        }
        default:
            break;
        }
        o.s[o.n++] = (struct ev_sample){gr->ls, v, ts, gr->drop, gr->sid};
    }
    return o;
}

static void fmt_f(struct sbuf *b, double v)
{
    go_format_float_f(b, v);
}
