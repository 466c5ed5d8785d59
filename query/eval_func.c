/* eval_func.c — PromQL's functions over float samples.
 *
 * Every function gets its arguments evaluated at the step's time; range
 * functions see each series' window (mint, maxt] as a slice of the
 * preloaded samples.  The arithmetic follows Prometheus's functions.go
 * line for line where results depend on it: extrapolatedRate for
 * rate/increase/delta, Kahan-compensated sums and means, the linear
 * regression of deriv/predict_linear, and histogram_quantile's bucket
 * coalescing and monotonicity fixes for classic (le) histograms.  Native
 * histograms are not stored by Vigil, so histogram_* functions that only
 * read them return nothing. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query/eval_internal.h"
#include "query/promql_internal.h"
#include "util/gostrconv.h"
#include "util/sbuf.h"

double ev_quantile(double q, double *v, size_t n);

static struct ev_value vec_new(struct evaluator *ev, size_t cap)
{
    struct ev_value o = {.type = PROMQL_VECTOR};
    o.s = ev_alloc(ev, (cap + 1) * sizeof *o.s);
    return o;
}

/* ---- start timestamps ----
 *
 * With use_start_timestamps a selector's range carries each sample's start
 * timestamp (ST, 0 if unknown), and the counter functions read them as
 * Prometheus's functions.go does (isStartTimestampReset,
 * checkStartTimeOverlap). */

/* Whether the sample at cur_t started after the previous sample: a counter
 * reset the values need not show (a delta series drops to the same value). */
static bool st_reset(int64_t prev_st, int64_t prev_t, int64_t cur_st, int64_t cur_t)
{
    /* unknown, impossible (after T), or OTel's "start unknown" (ST == T) */
    if (cur_st == 0 || cur_st >= cur_t)
        return false;
    if (cur_st != prev_t)
        return cur_st > prev_t;
    /* Starting at the previous sample: a delta sample if that one had a
     * start of its own before its time; a cumulative series whose start is
     * unknown (OTel's ST == previous T) otherwise. */
    return prev_st != 0 && prev_st < prev_t;
}

/* A start before the previous sample that is not the previous sample's own
 * start: the two samples claim overlapping intervals. */
static bool st_overlap(int64_t prev_st, int64_t prev_t, int64_t cur_st)
{
    return cur_st != 0 && cur_st < prev_t && cur_st != prev_st;
}

/* Whether the value drops or the ST says the counter restarted between
 * samples i - 1 and i (i >= 1). */
static bool counter_reset(const struct ev_series *s, const int64_t *st, size_t i)
{
    return s->v[i] < s->v[i - 1] || (st && st_reset(st[i - 1], s->t[i - 1], st[i], s->t[i]));
}

/* Warns once per series about overlapping STs, at the range argument. */
static void st_warn_overlap(struct evaluator *ev, const struct promql_expr *at,
                            const struct ev_series *s, const int64_t *st)
{
    size_t i = 1;
    while (i < s->n && !st_overlap(st[i - 1], s->t[i - 1], st[i]))
        i++;
    if (i >= s->n)
        return;
    const char *name = lbl_get(&s->ls, "__name__");
    struct sbuf q = SBUF_INIT;
    go_quote(&q, name ? name : "", name ? strlen(name) : 0);
    ev_warn(ev, false, at,
            "sample has start time that overlaps with previous sample timestamp for "
            "metric %s",
            q.data);
    sbuf_free(&q);
}

/* ---- range functions ---- */

/* Prometheus's extrapolatedRate over s (n >= 1) in (rstart, rend].  st:
 * the samples' STs, or NULL.  A counter whose first sample started inside
 * the range is taken to have been 0 at its start, instead of being
 * extrapolated to the left; that also gives one sample a result. */
static double extrapolated_rate(const struct ev_series *s, const int64_t *st, int64_t rstart,
                                int64_t rend, bool counter, bool rate, bool *ok)
{
    if (!counter)
        st = NULL;
    bool from_st = st && st[0] != 0 && st[0] > rstart && st[0] < s->t[0];
    *ok = s->n >= 2 || from_st;
    if (!*ok)
        return 0;
    size_t n1 = s->n - 1;
    double result = s->v[n1] - s->v[0];
    for (size_t i = 1; counter && i < s->n; i++)
        if (counter_reset(s, st, i))
            result += s->v[i - 1];
    double to_start = (double)(s->t[0] - rstart) / 1000;
    double to_end = (double)(rend - s->t[n1]) / 1000;
    double sampled = (double)(s->t[n1] - s->t[0]) / 1000;
    double avg = n1 ? sampled / (double)n1 : 0;
    double threshold = avg * 1.1;
    if (from_st) {
        to_start = 0;
        sampled = (double)(s->t[n1] - st[0]) / 1000;
        result += s->v[0];
    } else {
        if (to_start >= threshold)
            to_start = avg / 2;
        if (counter && result > 0 && s->v[0] >= 0) {
            double to_zero = sampled * (s->v[0] / result);
            if (to_zero < to_start)
                to_start = to_zero;
        }
    }
    if (to_end >= threshold)
        to_end = avg / 2;
    double factor = sampled != 0 ? (sampled + to_start + to_end) / sampled : 1;
    if (rate)
        factor /= (double)(rend - rstart) / 1000;
    return result * factor;
}

static void linear_regression(const struct ev_series *s, int64_t t0, double *slope,
                              double *intercept)
{
    double n = 0, sx = 0, cx = 0, sy = 0, cy = 0, sxy = 0, cxy = 0, sx2 = 0, cx2 = 0;
    double init = s->v[0];
    bool consty = true;
    for (size_t i = 0; i < s->n; i++) {
        if (consty && i > 0 && s->v[i] != init)
            consty = false;
        n += 1;
        double x = (double)(s->t[i] - t0) / 1e3;
        sx = kahan_inc(x, sx, &cx);
        sy = kahan_inc(s->v[i], sy, &cy);
        sxy = kahan_inc(x * s->v[i], sxy, &cxy);
        sx2 = kahan_inc(x * x, sx2, &cx2);
    }
    if (consty) {
        if (isinf(init)) {
            *slope = *intercept = NAN;
            return;
        }
        *slope = 0;
        *intercept = init;
        return;
    }
    sx += cx;
    sy += cy;
    sxy += cxy;
    sx2 += cx2;
    double cov = sxy - sx * sy / n;
    double var = sx2 - sx * sx / n;
    *slope = cov / var;
    *intercept = sy / n - *slope * sx / n;
}

static double avg_over(const struct ev_series *s)
{
    double sum = s->v[0], count = 1, mean = 0, c = 0;
    bool inc = false;
    for (size_t i = 1; i < s->n; i++) {
        double f = s->v[i];
        count = (double)(i + 1);
        if (!inc) {
            double c2 = c;
            double ns = kahan_inc(f, sum, &c2);
            if (!isinf(ns)) {
                sum = ns;
                c = c2;
                continue;
            }
            inc = true;
            mean = sum / (count - 1);
            c /= count - 1;
        }
        double q = (count - 1) / count;
        double cc = q * c;
        mean = kahan_inc(f / count, q * mean, &cc);
        c = cc;
    }
    if (inc)
        return mean + c;
    return sum / count + c / count;
}

static double stdvar_over(const struct ev_series *s)
{
    double count = 0, mean = 0, cm = 0, aux = 0, ca = 0;
    for (size_t i = 0; i < s->n; i++) {
        count++;
        double delta = s->v[i] - (mean + cm);
        mean = kahan_inc(delta / count, mean, &cm);
        aux = kahan_inc(delta * (s->v[i] - (mean + cm)), aux, &ca);
    }
    return (aux + ca) / count;
}

static struct labels absent_labels(struct evaluator *ev, const struct promql_expr *arg)
{
    struct labels out = {NULL, 0};
    while (arg->kind == PROMQL_EXPR_PAREN)
        arg = arg->paren.expr;
    const struct promql_expr *vs = NULL;
    if (arg->kind == PROMQL_EXPR_VECTOR_SELECTOR)
        vs = arg;
    else if (arg->kind == PROMQL_EXPR_MATRIX_SELECTOR)
        vs = arg->matrix.vs;
    if (!vs)
        return out;
    const struct label_matcher *m = vs->vs.matchers;
    size_t n = vs->vs.nmatchers;
    const char **has = ev_alloc(ev, (n + 1) * sizeof *has);
    size_t nh = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].name, "__name__") == 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < nh; k++)
            if (strcmp(has[k], m[i].name) == 0)
                seen = true;
        if (m[i].type == LABEL_MATCH_EQ && !seen) {
            out = lbl_set(ev->a, &out, m[i].name, m[i].value);
            has[nh++] = m[i].name;
        } else {
            const char *nm = m[i].name;
            out = lbl_del(ev->a, &out, &nm, 1, false);
        }
    }
    return out;
}

/* ---- label_replace ---- */

static void expand(struct sbuf *out, const char *tmpl, const char *src, PCRE2_SIZE *ov, int rc,
                   pcre2_code *re)
{
    for (const char *p = tmpl; *p; p++) {
        if (*p != '$') {
            sbuf_putc(out, *p);
            continue;
        }
        p++;
        if (*p == '$') {
            sbuf_putc(out, '$');
            continue;
        }
        const char *name = p;
        size_t nl = 0;
        bool brace = false;
        if (*p == '{') {
            const char *q = strchr(p + 1, '}');
            if (!q) {
                sbuf_putc(out, '$');
                p--;
                continue;
            }
            name = p + 1;
            nl = (size_t)(q - name);
            brace = true;
            p = q;
        } else {
            while (name[nl] &&
                   (name[nl] == '_' || (name[nl] >= '0' && name[nl] <= '9') ||
                    (name[nl] >= 'a' && name[nl] <= 'z') || (name[nl] >= 'A' && name[nl] <= 'Z')))
                nl++;
            if (nl == 0) {
                sbuf_putc(out, '$');
                p--;
                continue;
            }
            p += nl - 1;
        }
        (void)brace;
        if (nl == 0)
            continue;
        long idx = -1;
        char nbuf[256];
        snprintf(nbuf, sizeof nbuf, "%.*s", (int)nl, name);
        bool digits = true;
        for (size_t i = 0; i < nl; i++)
            if (name[i] < '0' || name[i] > '9')
                digits = false;
        if (digits)
            idx = strtol(nbuf, NULL, 10);
        else
            idx = pcre2_substring_number_from_name(re, (PCRE2_SPTR)nbuf);
        if (idx < 0 || idx >= rc)
            continue;
        if (ov[2 * idx] == PCRE2_UNSET)
            continue;
        sbuf_append(out, src + ov[2 * idx], ov[2 * idx + 1] - ov[2 * idx]);
    }
}

static struct ev_value label_replace(struct evaluator *ev, const struct promql_expr *e,
                                     struct ev_value *args)
{
    const char *dst = promql_arena_strndup(ev->a, args[1].str, args[1].slen);
    const char *repl = promql_arena_strndup(ev->a, args[2].str, args[2].slen);
    const char *src = promql_arena_strndup(ev->a, args[3].str, args[3].slen);
    struct sbuf pat = SBUF_INIT;
    sbuf_puts(&pat, "^(?s:");
    sbuf_append(&pat, args[4].str, args[4].slen);
    sbuf_puts(&pat, ")$");
    int ecode;
    PCRE2_SIZE eoff;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len, PCRE2_UTF, &ecode, &eoff, NULL);
    sbuf_free(&pat);
    (void)e;
    if (!re) {
        char msg[256];
        pcre2_get_error_message(ecode, (PCRE2_UCHAR *)msg, sizeof msg);
        ev_fail(ev, "invalid regular expression in label_replace(): %s", msg);
    }
    if (!*dst || !utf8_valid(dst, strlen(dst))) {
        pcre2_code_free(re);
        ev_fail(ev, "invalid destination label name in label_replace(): %s", dst);
    }
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    struct ev_value in = args[0];
    struct ev_value o = vec_new(ev, in.n);
    struct sbuf res = SBUF_INIT;
    for (size_t i = 0; i < in.n; i++) {
        struct ev_sample s = in.s[i];
        const char *sv = lbl_get(&s.ls, src);
        if (!sv)
            sv = "";
        int rc = pcre2_match(re, (PCRE2_SPTR)sv, strlen(sv), 0, 0, md, NULL);
        if (rc > 0) {
            sbuf_reset(&res);
            sbuf_puts(&res, "");
            expand(&res, repl, sv, pcre2_get_ovector_pointer(md), rc, re);
            s.ls = lbl_set(ev->a, &s.ls, dst, res.data);
            s.sid = 0;
            if (strcmp(dst, "__name__") == 0)
                s.drop = false;
        }
        o.s[o.n++] = s;
    }
    sbuf_free(&res);
    pcre2_match_data_free(md);
    pcre2_code_free(re);
    return o;
}

static struct ev_value label_join(struct evaluator *ev, struct ev_value *args, size_t nargs)
{
    const char *dst = promql_arena_strndup(ev->a, args[1].str, args[1].slen);
    if (!*dst || !utf8_valid(dst, strlen(dst)))
        ev_fail(ev, "invalid destination label name in label_join(): %s", dst);
    struct ev_value in = args[0];
    struct ev_value o = vec_new(ev, in.n);
    struct sbuf b = SBUF_INIT;
    for (size_t i = 0; i < in.n; i++) {
        struct ev_sample s = in.s[i];
        sbuf_reset(&b);
        sbuf_puts(&b, "");
        for (size_t k = 3; k < nargs; k++) {
            if (k > 3)
                sbuf_append(&b, args[2].str, args[2].slen);
            char *name = promql_arena_strndup(ev->a, args[k].str, args[k].slen);
            const char *v = lbl_get(&s.ls, name);
            if (v)
                sbuf_puts(&b, v);
        }
        s.ls = lbl_set(ev->a, &s.ls, dst, b.data);
        s.sid = 0;
        if (strcmp(dst, "__name__") == 0)
            s.drop = false;
        o.s[o.n++] = s;
    }
    sbuf_free(&b);
    return o;
}

/* ---- sorting ---- */

static int natcmp(const char *a, const char *b)
{
    while (*a && *b) {
        if (*a >= '0' && *a <= '9' && *b >= '0' && *b <= '9') {
            const char *ea = a, *eb = b;
            while (*a == '0')
                a++;
            while (*b == '0')
                b++;
            while (*ea >= '0' && *ea <= '9')
                ea++;
            while (*eb >= '0' && *eb <= '9')
                eb++;
            size_t la = (size_t)(ea - a), lb = (size_t)(eb - b);
            if (la != lb)
                return la < lb ? -1 : 1;
            int c = memcmp(a, b, la);
            if (c)
                return c;
            a = ea;
            b = eb;
            continue;
        }
        if (*a != *b)
            return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
        a++;
        b++;
    }
    return *a ? 1 : *b ? -1 : 0;
}

/* The comparator's context travels through qsort_r: queries sort on
 * several worker threads at once. */
struct sort_ctx {
    const struct ev_sample *s;
    const char **names;
    size_t n;
    bool desc;
    bool by_label;
};

static int sample_sort_key_cmp(const struct sort_ctx *cx, const struct ev_sample *a,
                               const struct ev_sample *b)
{
    int c = 0;
    if (cx->by_label) {
        for (size_t i = 0; i < cx->n && !c; i++) {
            const char *x = lbl_get(&a->ls, cx->names[i]), *y = lbl_get(&b->ls, cx->names[i]);
            c = natcmp(x ? x : "", y ? y : "");
        }
        if (!c)
            c = lbl_cmp(&a->ls, &b->ls);
        return cx->desc ? -c : c;
    }
    bool na = isnan(a->v), nb = isnan(b->v);
    if (na || nb)
        return na && nb ? 0 : na ? 1 : -1;
    if (a->v != b->v)
        c = a->v < b->v ? -1 : 1;
    return cx->desc ? -c : c;
}

/* Sorts positions into cx->s; equal keys keep their input order (the
 * position breaks ties), so the sort is stable as Prometheus's. */
static int sample_sort_cmp(const void *pa, const void *pb, void *arg)
{
    const struct sort_ctx *cx = arg;
    size_t a = *(const size_t *)pa, b = *(const size_t *)pb;
    int c = sample_sort_key_cmp(cx, &cx->s[a], &cx->s[b]);
    return c ? c : a < b ? -1 : a > b;
}

/* ---- histogram_quantile over classic buckets ---- */

struct bucket {
    double ub, count;
};

static int bucket_cmp(const void *a, const void *b)
{
    double x = ((const struct bucket *)a)->ub, y = ((const struct bucket *)b)->ub;
    return x < y ? -1 : x > y;
}

static bool almost_equal(double a, double b, double eps)
{
    if (a == b)
        return true;
    double absSum = fabs(a) + fabs(b);
    double diff = fabs(a - b);
    if (a == 0 || b == 0 || absSum < 2.2250738585072014e-308)
        return diff < eps * 2.2250738585072014e-308;
    return diff / fmin(absSum, 1.7976931348623157e308) < eps;
}

static double bucket_quantile(double q, struct bucket *b, size_t n, bool *forced, bool *fixed)
{
    *forced = *fixed = false;
    if (isnan(q))
        return NAN;
    if (q < 0)
        return -INFINITY;
    if (q > 1)
        return INFINITY;
    qsort(b, n, sizeof *b, bucket_cmp);
    if (!isinf(b[n - 1].ub) || b[n - 1].ub < 0)
        return NAN;
    /* coalesce */
    size_t k = 0;
    struct bucket last = b[0];
    for (size_t i = 1; i < n; i++) {
        if (b[i].ub == last.ub) {
            last.count += b[i].count;
        } else {
            b[k++] = last;
            last = b[i];
        }
    }
    b[k++] = last;
    n = k;
    double prev = b[0].count;
    for (size_t i = 1; i < n; i++) {
        double cur = b[i].count;
        if (cur == prev)
            continue;
        if (almost_equal(prev, cur, 1e-12)) {
            b[i].count = prev;
            *fixed = true;
            continue;
        }
        if (cur < prev) {
            b[i].count = prev;
            *forced = true;
            continue;
        }
        prev = cur;
    }
    if (n < 2)
        return NAN;
    double obs = b[n - 1].count;
    if (obs == 0)
        return NAN;
    double rank = q * obs;
    size_t i = 0;
    while (i < n - 1 && !(b[i].count >= rank))
        i++;
    if (i == n - 1)
        return b[n - 2].ub;
    if (i == 0 && b[0].ub <= 0)
        return b[0].ub;
    double start = 0, end = b[i].ub, count = b[i].count;
    if (i > 0) {
        start = b[i - 1].ub;
        count -= b[i - 1].count;
        rank -= b[i - 1].count;
    }
    return start + (end - start) * (rank / count);
}

/* Prometheus's BucketFraction for classic buckets. */
static double bucket_fraction(double lower, double upper, struct bucket *b, size_t n)
{
    qsort(b, n, sizeof *b, bucket_cmp);
    if (!isinf(b[n - 1].ub) || b[n - 1].ub < 0)
        return NAN;
    size_t k = 0;
    struct bucket last = b[0];
    for (size_t i = 1; i < n; i++) {
        if (b[i].ub == last.ub) {
            last.count += b[i].count;
        } else {
            b[k++] = last;
            last = b[i];
        }
    }
    b[k++] = last;
    n = k;
    double count = b[n - 1].count;
    if (count == 0 || isnan(lower) || isnan(upper))
        return NAN;
    if (lower >= upper)
        return 0;
    double rank = 0, lr = 0, ur = 0;
    bool ls = false, us = false;
    for (size_t i = 0; i < n; i++) {
        double lb = -INFINITY;
        if (i > 0)
            lb = b[i - 1].ub;
        else if (b[i].ub > 0)
            lb = 0;
        double ubd = b[i].ub;
        if (!ls && lb >= lower) {
            lr = rank;
            ls = true;
        }
        if (!us && lb >= upper) {
            ur = rank;
            us = true;
        }
        if (ls && us)
            break;
        if (!ls && lb < lower && ubd > lower) {
            lr = isinf(lb)    ? b[i].count
                 : isinf(ubd) ? rank
                              : rank + (b[i].count - rank) * (lower - lb) / (ubd - lb);
            ls = true;
        }
        if (!us && lb < upper && ubd > upper) {
            ur = isinf(lb)    ? b[i].count
                 : isinf(ubd) ? rank
                              : rank + (b[i].count - rank) * (upper - lb) / (ubd - lb);
            us = true;
        }
        if (ls && us)
            break;
        rank = b[i].count;
    }
    if (!ls || lr > count)
        lr = count;
    if (!us || ur > count)
        ur = count;
    return (ur - lr) / count;
}

/* Prometheus's maybeAddMetricName: annotations about a series name it
 * as ` for metric name "x"`, or not at all when the name is empty. */
static void append_metric_name(struct sbuf *b, const char *name)
{
    if (!name || !*name)
        return;
    sbuf_puts(b, " for metric name ");
    go_quote(b, name, strlen(name));
}

/* The metric name Prometheus would see on a sample: without delayed name
 * removal an operation has already taken it away. */
static const char *visible_name(const struct evaluator *ev, const struct labels *ls, bool drop)
{
    return drop && !ev->delayed_name_removal ? NULL : lbl_get(ls, "__name__");
}

static void warn_bad_bucket_label(struct evaluator *ev, const struct promql_expr *at,
                                  const struct ev_sample *smp, const char *le)
{
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "bucket label \"le\" is missing or has a malformed value of ");
    go_quote(&b, le ? le : "", le ? strlen(le) : 0);
    append_metric_name(&b, visible_name(ev, &smp->ls, smp->drop));
    ev_warn(ev, false, at, "%s", b.data);
    sbuf_free(&b);
}

/* Prometheus's hint that rate() or increase() may be reading a gauge: the
 * input series has a name without any of the counter suffixes.  For a
 * subquery argument it reports offset 0, as Prometheus does: it swaps the
 * subquery for a matrix selector that has no position. */
static void warn_possible_non_counter(struct evaluator *ev, const struct promql_expr *arg,
                                      const struct ev_series *s)
{
    static const char *const suffixes[] = {"_total", "_sum", "_count", "_bucket"};
    const char *name = visible_name(ev, &s->ls, s->drop);
    size_t n = name ? strlen(name) : 0;
    if (n == 0)
        return;
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t k = strlen(suffixes[i]);
        if (n >= k && memcmp(name + n - k, suffixes[i], k) == 0)
            return;
    }
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "metric might not be a counter, name does not end in "
                  "_total/_sum/_count/_bucket: ");
    go_quote(&b, name, n);
    ev_warn_pos(ev, true, arg->kind == PROMQL_EXPR_SUBQUERY ? 0 : arg->pos.start, "%s", b.data);
    sbuf_free(&b);
}

/* The classic histograms of in: its samples grouped by all labels but le
 * (the name included: two histograms that differ only in it collide when
 * the name goes, an error as in Prometheus).  Samples without a valid le
 * are skipped with Prometheus's warning at the argument at. */
struct hgroup {
    struct labels ls;
    struct bucket *b;
    size_t n;
};

static size_t hist_group(struct evaluator *ev, const struct promql_expr *at, struct ev_value in,
                         struct hgroup **out)
{
    struct strmap map;
    strmap_init(&map, ev->a, in.n);
    struct hgroup *g = ev_alloc(ev, (in.n + 1) * sizeof *g);
    size_t ng = 0;
    struct sbuf key = SBUF_INIT;
    static const char *const le = "le";
    for (size_t i = 0; i < in.n; i++) {
        const char *lev = lbl_get(&in.s[i].ls, "le");
        char *end = NULL;
        double ub = lev ? strtod(lev, &end) : 0;
        if (!lev || !*lev || *end) {
            warn_bad_bucket_label(ev, at, &in.s[i], lev);
            continue;
        }
        struct labels ls = lbl_del(ev->a, &in.s[i].ls, &le, 1, false);
        sbuf_reset(&key);
        lbl_key(&ls, &key);
        bool found;
        size_t *slot = strmap_put(&map, key.data ? key.data : "", key.len, &found);
        if (!found) {
            *slot = ng;
            g[ng].ls = ls;
            g[ng].b = ev_alloc(ev, (in.n + 1) * sizeof *g[ng].b);
            g[ng].n = 0;
            ng++;
        }
        struct hgroup *gr = &g[*slot];
        gr->b[gr->n++] = (struct bucket){ub, in.s[i].v};
    }
    sbuf_free(&key);
    *out = g;
    return ng;
}

static void warn_quantile_range(struct evaluator *ev, const struct promql_expr *at, double q)
{
    if (q >= 0 && q <= 1)
        return;
    struct sbuf b = SBUF_INIT;
    go_format_float_v(&b, q);
    ev_warn(ev, false, at, "quantile value should be between 0 and 1, got %s", b.data);
    sbuf_free(&b);
}

/* The q-quantile of one group (its buckets are left as they were). */
static double group_quantile(struct evaluator *ev, const struct promql_expr *at,
                             const struct hgroup *g, double q)
{
    struct bucket *b = ev_alloc(ev, (g->n + 1) * sizeof *b);
    memcpy(b, g->b, g->n * sizeof *b);
    bool forced = false, fixed;
    double v = bucket_quantile(q, b, g->n, &forced, &fixed);
    if (forced) {
        struct sbuf m = SBUF_INIT;
        /* Prometheus names the histogram only under delayed name removal */
        if (ev->delayed_name_removal)
            append_metric_name(&m, lbl_get(&g->ls, "__name__"));
        ev_warn(ev, true, at,
                "input to histogram_quantile needed to be fixed for monotonicity (see "
                "https://prometheus.io/docs/prometheus/latest/querying/functions/"
                "#histogram_quantile)%s",
                m.data ? m.data : "");
        sbuf_free(&m);
    }
    return v;
}

static struct ev_value histogram_quantile(struct evaluator *ev, const struct promql_expr *e,
                                          double q, struct ev_value in, int64_t ts, bool fraction,
                                          double upper)
{
    struct hgroup *g;
    size_t ng = hist_group(ev, e->call.args[fraction ? 2 : 1], in, &g);
    if (!fraction)
        warn_quantile_range(ev, e->call.args[0], q);
    struct ev_value o = vec_new(ev, ng);
    for (size_t i = 0; i < ng; i++) {
        double v = fraction ? bucket_fraction(q, upper, g[i].b, g[i].n)
                            : group_quantile(ev, e->call.args[1], &g[i], q);
        o.s[o.n++] = (struct ev_sample){g[i].ls, v, ts, true, 0};
    }
    return o;
}

/* Prometheus's labels.FormatOpenMetricsFloat: integers keep a ".0". */
static const char *openmetrics_float(struct evaluator *ev, double q)
{
    if (isinf(q))
        return q > 0 ? "+Inf" : "-Inf";
    struct sbuf b = SBUF_INIT;
    go_format_float_v(&b, q);
    if (!isnan(q) && !strpbrk(b.data, ".eE"))
        sbuf_puts(&b, ".0");
    const char *s = promql_arena_strndup(ev->a, b.data, b.len);
    sbuf_free(&b);
    return s;
}

/* histogram_quantiles(v, "label", q0, q1, ...): every quantile of every
 * classic histogram, told apart by the label, quantile by quantile. */
static struct ev_value histogram_quantiles(struct evaluator *ev, const struct promql_expr *e,
                                           const struct ev_value *args, size_t nargs, int64_t ts)
{
    const char *label = promql_arena_strndup(ev->a, args[1].str, args[1].slen);
    for (size_t k = 2; k < nargs; k++)
        warn_quantile_range(ev, e->call.args[k], args[k].scalar);
    struct hgroup *g;
    size_t ng = hist_group(ev, e->call.args[0], args[0], &g);
    struct ev_value o = vec_new(ev, ng * nargs);
    for (size_t k = 2; k < nargs; k++) {
        const char *qs = openmetrics_float(ev, args[k].scalar);
        for (size_t i = 0; i < ng; i++) {
            double v = group_quantile(ev, e->call.args[0], &g[i], args[k].scalar);
            struct labels ls = lbl_set(ev->a, &g[i].ls, label, qs);
            o.s[o.n++] = (struct ev_sample){ls, v, ts, true, 0};
        }
    }
    return o;
}

/* ---- dates ---- */

static double date_part(enum promql_func_id id, double f)
{
    if (isnan(f) || isinf(f))
        return f;
    time_t t = (time_t)(int64_t)f;
    struct tm tm;
    gmtime_r(&t, &tm);
    switch (id) {
    case PROMQL_FN_YEAR:
        return tm.tm_year + 1900;
    case PROMQL_FN_MONTH:
        return tm.tm_mon + 1;
    case PROMQL_FN_DAY_OF_MONTH:
        return tm.tm_mday;
    case PROMQL_FN_DAY_OF_WEEK:
        return tm.tm_wday;
    case PROMQL_FN_DAY_OF_YEAR:
        return tm.tm_yday + 1;
    case PROMQL_FN_HOUR:
        return tm.tm_hour;
    case PROMQL_FN_MINUTE:
        return tm.tm_min;
    case PROMQL_FN_DAYS_IN_MONTH: {
        static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int y = tm.tm_year + 1900;
        int d = days[tm.tm_mon];
        if (tm.tm_mon == 1 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
            d = 29;
        return d;
    }
    default:
        return f;
    }
}

static double simple(enum promql_func_id id, double f, const double *p, bool *keep)
{
    *keep = true;
    switch (id) {
    case PROMQL_FN_ABS:
        return fabs(f);
    case PROMQL_FN_CEIL:
        return ceil(f);
    case PROMQL_FN_FLOOR:
        return floor(f);
    case PROMQL_FN_EXP:
        return exp(f);
    case PROMQL_FN_SQRT:
        return sqrt(f);
    case PROMQL_FN_LN:
        return log(f);
    case PROMQL_FN_LOG2:
        return log2(f);
    case PROMQL_FN_LOG10:
        return log10(f);
    case PROMQL_FN_SIN:
        return sin(f);
    case PROMQL_FN_COS:
        return cos(f);
    case PROMQL_FN_TAN:
        return tan(f);
    case PROMQL_FN_ASIN:
        return asin(f);
    case PROMQL_FN_ACOS:
        return acos(f);
    case PROMQL_FN_ATAN:
        return atan(f);
    case PROMQL_FN_SINH:
        return sinh(f);
    case PROMQL_FN_COSH:
        return cosh(f);
    case PROMQL_FN_TANH:
        return tanh(f);
    case PROMQL_FN_ASINH:
        return asinh(f);
    case PROMQL_FN_ACOSH:
        return acosh(f);
    case PROMQL_FN_ATANH:
        return atanh(f);
    case PROMQL_FN_DEG:
        return f * 180 / M_PI;
    case PROMQL_FN_RAD:
        return f * M_PI / 180;
    case PROMQL_FN_SGN:
        return f > 0 ? 1 : f < 0 ? -1 : f;
    case PROMQL_FN_ROUND: {
        double inv = 1.0 / p[0];
        return floor(f * inv + 0.5) / inv;
    }
    case PROMQL_FN_CLAMP_MIN:
        return isnan(f) || isnan(p[0]) ? NAN : fmax(p[0], f);
    case PROMQL_FN_CLAMP_MAX:
        return isnan(f) || isnan(p[0]) ? NAN : fmin(p[0], f);
    default:
        return date_part(id, f);
    }
}

/* ---- dispatcher ---- */

/* Prometheus 3 (without the promql-delayed-name-removal feature, which its
 * test runner always enables) refuses a
 * function's output whose series became equal when the metric name was
 * dropped: rate({__name__=~"a_total|b_total"}[5m]) with the same other
 * labels.  Vigil drops names late (ev_sample.drop), so the check is made
 * here; it only costs anything when the output has two metric names. */
static void check_dropped_dups(struct evaluator *ev, const struct ev_value *o)
{
    if (o->n < 2 || ev->delayed_name_removal)
        return;
    const char *first = NULL;
    bool mixed = false;
    for (size_t i = 0; i < o->n && !mixed; i++) {
        if (!o->s[i].drop)
            continue;
        const char *name = lbl_get(&o->s[i].ls, "__name__");
        name = name ? name : "";
        if (!first)
            first = name;
        else if (strcmp(first, name) != 0)
            mixed = true;
    }
    if (!mixed)
        return;
    struct strmap map;
    strmap_init(&map, ev->a, o->n);
    struct sbuf key = SBUF_INIT;
    for (size_t i = 0; i < o->n; i++) {
        struct labels ls = o->s[i].drop ? lbl_drop_name(ev->a, &o->s[i].ls) : o->s[i].ls;
        sbuf_reset(&key);
        lbl_key(&ls, &key);
        bool found;
        strmap_put(&map, key.data ? key.data : "", key.len, &found);
        if (found) {
            sbuf_free(&key);
            ev_fail(ev, "vector cannot contain metrics with the same labelset");
        }
    }
    sbuf_free(&key);
}

/* start_timestamp(): the STs of a selector's samples.  An expression
 * carries no STs, and without use_start_timestamps none are read: then
 * the result is empty, as Prometheus's. */
static struct ev_value start_timestamp(struct evaluator *ev, const struct promql_expr *e,
                                       int64_t ts)
{
    const struct promql_expr *a0 = ev_unparen(e->call.args[0]);
    if (ev->use_st && a0->kind == PROMQL_EXPR_VECTOR_SELECTOR)
        return ev_selector_start_timestamps(ev, a0, ts);
    ev_eval(ev, e->call.args[0], ts);
    return vec_new(ev, 0);
}

struct ev_value ev_call(struct evaluator *ev, const struct promql_expr *e, int64_t ts)
{
    enum promql_func_id id = e->call.func->id;
    size_t nargs = e->call.nargs;
    if (id == PROMQL_FN_INFO)
        return ev_info(ev, e, ts);
    if (id == PROMQL_FN_START_TIMESTAMP)
        return start_timestamp(ev, e, ts);
    struct ev_value args[16];
    if (nargs > 16)
        ev_fail(ev, "too many arguments");
    for (size_t i = 0; i < nargs; i++)
        args[i] = ev_eval(ev, e->call.args[i], ts);
    struct ev_value o = vec_new(ev, 1);

    switch (id) {
    case PROMQL_FN_TIME:
        return (struct ev_value){.type = PROMQL_SCALAR, .scalar = (double)ts / 1000};
    case PROMQL_FN_PI:
        return (struct ev_value){.type = PROMQL_SCALAR, .scalar = M_PI};
    case PROMQL_FN_START:
        return (struct ev_value){.type = PROMQL_SCALAR, .scalar = (double)ev->start / 1000};
    case PROMQL_FN_END:
        return (struct ev_value){.type = PROMQL_SCALAR, .scalar = (double)ev->end / 1000};
    case PROMQL_FN_STEP:
        return (struct ev_value){.type = PROMQL_SCALAR, .scalar = (double)ev->interval / 1000};
    case PROMQL_FN_RANGE:
        return (struct ev_value){.type = PROMQL_SCALAR,
                                 .scalar = (double)(ev->end - ev->start) / 1000};
    case PROMQL_FN_SCALAR:
        return (struct ev_value){.type = PROMQL_SCALAR,
                                 .scalar = args[0].n == 1 ? args[0].s[0].v : NAN};
    case PROMQL_FN_VECTOR:
        o.s[o.n++] = (struct ev_sample){{NULL, 0}, args[0].scalar, ts, false, 0};
        return o;
    case PROMQL_FN_ABSENT:
        if (args[0].n == 0)
            o.s[o.n++] = (struct ev_sample){absent_labels(ev, e->call.args[0]), 1, ts, false, 0};
        return o;
    case PROMQL_FN_ABSENT_OVER_TIME:
        if (args[0].nm == 0)
            o.s[o.n++] = (struct ev_sample){absent_labels(ev, e->call.args[0]), 1, ts, false, 0};
        return o;
    case PROMQL_FN_LABEL_REPLACE:
        return label_replace(ev, e, args);
    case PROMQL_FN_LABEL_JOIN:
        return label_join(ev, args, nargs);
    case PROMQL_FN_SORT:
    case PROMQL_FN_SORT_DESC:
    case PROMQL_FN_SORT_BY_LABEL:
    case PROMQL_FN_SORT_BY_LABEL_DESC: {
        const char **names = ev_alloc(ev, (nargs + 1) * sizeof *names);
        for (size_t i = 1; i < nargs; i++)
            names[i - 1] = promql_arena_strndup(ev->a, args[i].str, args[i].slen);
        struct sort_ctx cx = {args[0].s, names, nargs ? nargs - 1 : 0,
                              id == PROMQL_FN_SORT_DESC || id == PROMQL_FN_SORT_BY_LABEL_DESC,
                              id == PROMQL_FN_SORT_BY_LABEL || id == PROMQL_FN_SORT_BY_LABEL_DESC};
        size_t *order = ev_alloc(ev, (args[0].n + 1) * sizeof *order);
        for (size_t i = 0; i < args[0].n; i++)
            order[i] = i;
        qsort_r(order, args[0].n, sizeof *order, sample_sort_cmp, &cx);
        o = vec_new(ev, args[0].n);
        for (size_t i = 0; i < args[0].n; i++)
            o.s[i] = args[0].s[order[i]];
        o.n = args[0].n;
        return o;
    }
    case PROMQL_FN_TIMESTAMP: {
        /* The sample's own time only straight from a selector, else the
         * evaluation time, as Prometheus. */
        const struct promql_expr *a0 = e->call.args[0];
        while (a0->kind == PROMQL_EXPR_PAREN)
            a0 = a0->paren.expr;
        bool own = a0->kind == PROMQL_EXPR_VECTOR_SELECTOR;
        o = vec_new(ev, args[0].n);
        for (size_t i = 0; i < args[0].n; i++)
            o.s[o.n++] =
                (struct ev_sample){args[0].s[i].ls, (double)(own ? args[0].s[i].t : ts) / 1000, ts,
                                   true, args[0].s[i].sid};
        return o;
    }
    case PROMQL_FN_HISTOGRAM_QUANTILE:
        return histogram_quantile(ev, e, args[0].scalar, args[1], ts, false, 0);
    case PROMQL_FN_HISTOGRAM_FRACTION:
        return histogram_quantile(ev, e, args[0].scalar, args[2], ts, true, args[1].scalar);
    case PROMQL_FN_HISTOGRAM_AVG:
    case PROMQL_FN_HISTOGRAM_COUNT:
    case PROMQL_FN_HISTOGRAM_SUM:
    case PROMQL_FN_HISTOGRAM_STDDEV:
    case PROMQL_FN_HISTOGRAM_STDVAR:
        return o; /* native histograms only */
    case PROMQL_FN_HISTOGRAM_QUANTILES:
        return histogram_quantiles(ev, e, args, nargs, ts);
    case PROMQL_FN_MIN_OF:
    case PROMQL_FN_MAX_OF: {
        double x = args[0].scalar, y = args[1].scalar, r;
        if (isnan(x) || isnan(y))
            r = NAN;
        else
            r = id == PROMQL_FN_MIN_OF ? fmin(x, y) : fmax(x, y);
        return (struct ev_value){.type = PROMQL_SCALAR, .scalar = r};
    }
    default:
        break;
    }

    /* instant-vector functions */
    bool has_matrix = false;
    for (size_t i = 0; i < nargs; i++)
        if (args[i].type == PROMQL_MATRIX)
            has_matrix = true;
    if (!has_matrix) {
        struct ev_value in;
        if (nargs == 0) {
            in = vec_new(ev, 1);
            in.s[in.n++] = (struct ev_sample){{NULL, 0}, (double)ts / 1000, ts, false, 0};
        } else {
            in = args[0];
        }
        double p[2] = {0, 0};
        for (size_t i = 1; i < nargs && i < 3; i++)
            p[i - 1] = args[i].scalar;
        if (id == PROMQL_FN_ROUND && nargs < 2)
            p[0] = 1;
        if (id == PROMQL_FN_CLAMP && p[1] < p[0])
            return o;
        o = vec_new(ev, in.n);
        for (size_t i = 0; i < in.n; i++) {
            bool keep;
            double v = simple(id, in.s[i].v, p, &keep);
            if (id == PROMQL_FN_CLAMP)
                v = isnan(in.s[i].v) ? in.s[i].v : fmax(p[0], fmin(p[1], in.s[i].v));
            o.s[o.n++] = (struct ev_sample){in.s[i].ls, v, ts, true, in.s[i].sid};
        }
        check_dropped_dups(ev, &o);
        return o;
    }

    /* range-vector functions: the matrix is the first argument except for
     * quantile_over_time */
    size_t mi = id == PROMQL_FN_QUANTILE_OVER_TIME ? 1 : 0;
    struct ev_value m = args[mi];
    o = vec_new(ev, m.nm);
    double q = mi == 1 ? args[0].scalar : 0;
    if (id == PROMQL_FN_QUANTILE_OVER_TIME && (isnan(q) || q < 0 || q > 1)) {
        struct sbuf b = SBUF_INIT;
        go_format_float_v(&b, q);
        ev_warn(ev, false, e->call.args[0], "quantile value should be between 0 and 1, got %s",
                b.data);
        sbuf_free(&b);
    }
    if (id == PROMQL_FN_DOUBLE_EXPONENTIAL_SMOOTHING) {
        double sf = args[1].scalar, tf = args[2].scalar;
        if (sf <= 0 || sf >= 1)
            ev_fail(ev, "invalid smoothing factor. Expected: 0 < sf < 1, got: %f", sf);
        if (tf <= 0 || tf >= 1)
            ev_fail(ev, "invalid trend factor. Expected: 0 < tf < 1, got: %f", tf);
    }
    const struct promql_expr *ma = ev_unparen(e->call.args[mi]);
    bool anchored = false, smoothed = false;
    if (ma->kind == PROMQL_EXPR_MATRIX_SELECTOR) {
        anchored = ma->matrix.vs->vs.anchored;
        smoothed = ma->matrix.vs->vs.smoothed;
    }
    for (size_t si = 0; si < m.nm; si++) {
        const struct ev_series *s = &m.m[si];
        if (s->n == 0)
            continue;
        bool ok = true, drop = true;
        double v = 0;
        /* STs do not combine with anchored and smoothed ranges (Prometheus
         * refuses the mix); there they are ignored */
        const int64_t *st = anchored || smoothed ? NULL : s->st;
        switch (id) {
        case PROMQL_FN_RATE:
        case PROMQL_FN_INCREASE:
        case PROMQL_FN_DELTA: {
            bool counter = id != PROMQL_FN_DELTA, rate = id == PROMQL_FN_RATE;
            if (anchored || smoothed)
                ok = ev_extended_rate(s, m.mint, m.maxt, smoothed, counter, rate, &v);
            else
                v = extrapolated_rate(s, st, m.mint, m.maxt, counter, rate, &ok);
            if (counter && st)
                st_warn_overlap(ev, e->call.args[0], s, st);
            break;
        }
        case PROMQL_FN_IRATE:
        case PROMQL_FN_IDELTA: {
            if (s->n < 2) {
                ok = false;
                break;
            }
            double last = s->v[s->n - 1], prev = s->v[s->n - 2];
            bool israte = id == PROMQL_FN_IRATE;
            v = israte && counter_reset(s, st, s->n - 1) ? last : last - prev;
            int64_t dt = s->t[s->n - 1] - s->t[s->n - 2];
            if (dt == 0) {
                ok = false;
                break;
            }
            if (israte)
                v /= (double)dt / 1000;
            break;
        }
        case PROMQL_FN_DERIV:
        case PROMQL_FN_PREDICT_LINEAR: {
            if (s->n < 2) {
                ok = false;
                break;
            }
            double slope, icpt;
            if (id == PROMQL_FN_DERIV) {
                linear_regression(s, s->t[0], &slope, &icpt);
                v = slope;
            } else {
                linear_regression(s, ts, &slope, &icpt);
                v = slope * args[1].scalar + icpt;
            }
            break;
        }
        case PROMQL_FN_RESETS:
        case PROMQL_FN_CHANGES: {
            double c = 0;
            size_t first = 0;
            if (anchored && !ev_anchor_index(s, m.mint, &first)) {
                ok = false;
                break;
            }
            for (size_t i = first + 1; i < s->n; i++) {
                if (id == PROMQL_FN_RESETS) {
                    if (counter_reset(s, st, i))
                        c++;
                } else if (s->v[i] != s->v[i - 1] && !(isnan(s->v[i]) && isnan(s->v[i - 1]))) {
                    c++;
                }
            }
            v = c;
            break;
        }
        case PROMQL_FN_AVG_OVER_TIME:
            v = avg_over(s);
            break;
        case PROMQL_FN_SUM_OVER_TIME: {
            double sum = 0, c = 0;
            for (size_t i = 0; i < s->n; i++)
                sum = kahan_inc(s->v[i], sum, &c);
            v = isinf(sum) ? sum : sum + c;
            break;
        }
        case PROMQL_FN_COUNT_OVER_TIME:
            v = (double)s->n;
            break;
        case PROMQL_FN_MIN_OVER_TIME:
        case PROMQL_FN_MAX_OVER_TIME:
        case PROMQL_FN_TS_OF_MIN_OVER_TIME:
        case PROMQL_FN_TS_OF_MAX_OVER_TIME: {
            bool mx = id == PROMQL_FN_MAX_OVER_TIME || id == PROMQL_FN_TS_OF_MAX_OVER_TIME;
            double best = s->v[0];
            int64_t bt = s->t[0];
            bool ts_of = id == PROMQL_FN_TS_OF_MIN_OVER_TIME || id == PROMQL_FN_TS_OF_MAX_OVER_TIME;
            for (size_t i = 1; i < s->n; i++) {
                double f = s->v[i];
                bool better = mx ? f > best : f < best;
                if (better || isnan(best) || (ts_of && f == best)) {
                    best = f;
                    bt = s->t[i];
                }
            }
            v = (id == PROMQL_FN_MIN_OVER_TIME || id == PROMQL_FN_MAX_OVER_TIME)
                    ? best
                    : (double)bt / 1000;
            break;
        }
        case PROMQL_FN_LAST_OVER_TIME:
            v = s->v[s->n - 1];
            drop = s->drop;
            break;
        case PROMQL_FN_FIRST_OVER_TIME:
            v = s->v[0];
            drop = s->drop;
            break;
        case PROMQL_FN_TS_OF_LAST_OVER_TIME:
            v = (double)s->t[s->n - 1] / 1000;
            break;
        case PROMQL_FN_TS_OF_FIRST_OVER_TIME:
            v = (double)s->t[0] / 1000;
            break;
        case PROMQL_FN_PRESENT_OVER_TIME:
            v = 1;
            break;
        case PROMQL_FN_STDVAR_OVER_TIME:
            v = stdvar_over(s);
            break;
        case PROMQL_FN_STDDEV_OVER_TIME:
            v = sqrt(stdvar_over(s));
            break;
        case PROMQL_FN_QUANTILE_OVER_TIME:
        case PROMQL_FN_MAD_OVER_TIME: {
            double *vals = ev_alloc(ev, s->n * sizeof *vals);
            memcpy(vals, s->v, s->n * sizeof *vals);
            if (id == PROMQL_FN_QUANTILE_OVER_TIME) {
                v = ev_quantile(q, vals, s->n);
            } else {
                double med = ev_quantile(0.5, vals, s->n);
                for (size_t i = 0; i < s->n; i++)
                    vals[i] = fabs(s->v[i] - med);
                v = ev_quantile(0.5, vals, s->n);
            }
            break;
        }
        case PROMQL_FN_DOUBLE_EXPONENTIAL_SMOOTHING: {
            if (s->n < 2) {
                ok = false;
                break;
            }
            double sf = args[1].scalar, tf = args[2].scalar;
            double s0 = 0, s1 = s->v[0], b = s->v[1] - s->v[0];
            for (size_t i = 1; i < s->n; i++) {
                double x = sf * s->v[i];
                if (i - 1 != 0)
                    b = tf * (s1 - s0) + (1 - tf) * b;
                double y = (1 - sf) * (s1 + b);
                s0 = s1;
                s1 = x + y;
            }
            v = s1;
            break;
        }
        case PROMQL_FN_INTEGRAL:
            ev_fail(ev, "function %s is not supported", e->call.func->name);
        default:
            ev_fail(ev, "function %s is not supported", e->call.func->name);
        }
        if (!ok)
            continue;
        o.s[o.n++] = (struct ev_sample){s->ls, v, ts, drop, s->sid};
        if (id == PROMQL_FN_RATE || id == PROMQL_FN_INCREASE)
            warn_possible_non_counter(ev, ma, s);
    }
    check_dropped_dups(ev, &o);
    return o;
}
