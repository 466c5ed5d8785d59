/* eval_extended.c — the experimental `anchored` and `smoothed` range
 * modifiers (Prometheus 3's promql-extended-range-selectors).
 *
 * A range (t - r, t] normally sees only the samples inside it, and rate()
 * extrapolates towards its edges.  `anchored` instead takes the value at
 * the left edge from the newest sample at or before it (up to a lookback
 * delta back), so increase() is last minus anchor, counter resets
 * included.  `smoothed` interpolates linearly at both edges between the
 * samples around them (the right one up to a lookback delta ahead).
 *
 * eval.c reads those extra samples: a matrix selector with either modifier
 * hands out the slice (t - r - lookback, t] (smoothed: up to t + lookback)
 * while ev_value.mint/maxt stay the window itself, so the code here picks
 * its anchors from the slice by binary search.  Only rate, increase and
 * delta (both modifiers) and changes, resets (anchored) accept such a
 * slice; eval.c rejects the rest before evaluation.  A bare extended
 * selector returned by an instant query gets synthetic points at both
 * edges (Prometheus's extendFloats). */
#include <stddef.h>

#include "query/eval_internal.h"

/* The smallest i in [0, n) with t[i] > ref (gt) or t[i] >= ref, else n
 * (Go's sort.Search, as Prometheus bounds it). */
static size_t search_after(const int64_t *t, size_t n, int64_t ref, bool gt)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (gt ? t[mid] > ref : t[mid] >= ref)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Linear interpolation at t between samples i and i+1; a counter that
 * reset between them is taken to restart from 0. */
static double interpolate(const struct ev_series *s, size_t i, int64_t t, bool counter)
{
    double y1 = s->v[i], y2 = s->v[i + 1];
    if (counter && y2 < y1)
        y1 = 0;
    return y1 + (y2 - y1) * (double)(t - s->t[i]) / (double)(s->t[i + 1] - s->t[i]);
}

static double edge_left(const struct ev_series *s, size_t first, int64_t start, bool smoothed,
                        bool counter)
{
    if (smoothed && s->t[first] < start)
        return interpolate(s, first, start, counter);
    return s->v[first];
}

static double edge_right(const struct ev_series *s, size_t last, int64_t end, bool smoothed,
                         bool counter)
{
    if (smoothed && last > 0 && s->t[last] > end)
        return interpolate(s, last - 1, end, counter);
    return s->v[last];
}

/* The first and last sample a window (start, end] is measured between:
 * the anchor at or before start (or the first sample), and with smoothed
 * the first sample at or after end (or the last one). */
static void edge_indices(const struct ev_series *s, int64_t start, int64_t end, bool smoothed,
                         size_t *first, size_t *last)
{
    size_t l = s->n - 1;
    size_t f = search_after(s->t, l, start, true);
    *first = f > 0 ? f - 1 : 0;
    *last = smoothed ? search_after(s->t, l, end, false) : l;
}

bool ev_extended_rate(const struct ev_series *s, int64_t start, int64_t end, bool smoothed,
                      bool counter, bool rate, double *out)
{
    if (s->n == 0)
        return false;
    size_t first, last;
    edge_indices(s, start, end, smoothed, &first, &last);
    if (s->t[last] <= start || (smoothed && s->t[first] > end))
        return false;
    double left = edge_left(s, first, start, smoothed, counter);
    double right = edge_right(s, last, end, smoothed, counter);
    double result = right - left;
    if (counter) {
        /* resets at the edges are in left/right already */
        ptrdiff_t f = (ptrdiff_t)first, l = (ptrdiff_t)last;
        if (s->t[f] <= start)
            f++;
        if (s->t[l] >= end)
            l--;
        double prev = left, corr = 0;
        for (ptrdiff_t i = f; i <= l; i++) {
            if (s->v[i] < prev)
                corr += prev;
            prev = s->v[i];
        }
        if (right < prev)
            corr += prev;
        result += corr;
    }
    if (rate)
        result /= (double)(end - start) / 1000;
    *out = result;
    return true;
}

bool ev_anchor_index(const struct ev_series *s, int64_t start, size_t *first)
{
    size_t after = search_after(s->t, s->n, start, true);
    if (after >= s->n)
        return false;
    *first = after > 0 ? after - 1 : 0;
    return true;
}

size_t ev_extend_points(const struct ev_series *s, int64_t start, int64_t end, bool smoothed,
                        struct promql_point *out)
{
    if (s->n == 0)
        return 0;
    size_t first, last;
    edge_indices(s, start, end, smoothed, &first, &last);
    if (s->t[last] <= start)
        return 0;
    double left = edge_left(s, first, start, smoothed, false);
    double right = edge_right(s, last, end, smoothed, false);
    if (s->t[first] <= start)
        first++;
    bool drop_last = s->t[last] >= end;
    size_t k = 0;
    out[k++] = (struct promql_point){start, left};
    for (size_t i = first; i <= last && i < s->n; i++)
        if (!(drop_last && i == last))
            out[k++] = (struct promql_point){s->t[i], s->v[i]};
    out[k++] = (struct promql_point){end, right};
    return k;
}
