/* head_ooo.c — the out-of-order head: late samples waiting to be merged.
 *
 * With out_of_order_time_window W > 0, a sample older than its series'
 * newest in-order sample, but not older than the newest sample of the
 * whole database minus W, is accepted (ooo.c decides) and kept here.  The
 * in-order head (head.c) cannot take it: its chunks are Gorilla
 * bitstreams that only append.
 *
 * Layout: per series a sorted array of (t, v, WAL segment), found by
 * index id in a dense pointer array that exists only once the first late
 * sample arrived (8 bytes a series id then, nothing before).  Arrays and
 * not compressed chunks, as in Prometheus's OOO head chunk, because late
 * samples are few and short-lived: the flusher moves them to LMDB every
 * housekeeping round (ooo.c), so a series holds seconds to minutes of
 * them.  Insertion is a binary search and a memmove; a sample at a
 * timestamp already held is dropped, as Prometheus's OOOChunk.Insert
 * does, whatever its value.
 *
 * Locking: the head's lock (head.h) guards all of it. */
#include "storage/head_ooo.h"

#include <stdlib.h>
#include <string.h>

void ooo_head_init(struct ooo_head *o)
{
    memset(o, 0, sizeof *o);
}

static void ooo_series_free(struct ooo_series *s)
{
    free(s->ts);
    free(s->vs);
    free(s->segs);
    free(s);
}

void ooo_head_destroy(struct ooo_head *o)
{
    for (uint32_t i = 0; i < o->cap; i++)
        if (o->series[i])
            ooo_series_free(o->series[i]);
    free(o->series);
    memset(o, 0, sizeof *o);
}

const struct ooo_series *ooo_series_get(const struct ooo_head *o, uint32_t id)
{
    return id < o->cap ? o->series[id] : NULL;
}

static struct ooo_series *series_create(struct ooo_head *o, uint32_t id)
{
    if (id >= o->cap) {
        uint32_t cap = o->cap ? o->cap : 1024;
        while (cap <= id)
            cap *= 2;
        o->series = xrealloc(o->series, (size_t)cap * sizeof *o->series);
        memset(o->series + o->cap, 0, (size_t)(cap - o->cap) * sizeof *o->series);
        o->cap = cap;
    }
    if (!o->series[id]) {
        o->series[id] = xcalloc(1, sizeof *o->series[id]);
        o->nseries++;
    }
    return o->series[id];
}

/* The index of the first sample at or after t. */
static uint32_t lower_bound(const struct ooo_series *s, int64_t t)
{
    uint32_t lo = 0, hi = s->n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (s->ts[mid] < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

bool ooo_insert(struct ooo_head *o, uint32_t id, int64_t t, double v, uint32_t wal_segment)
{
    struct ooo_series *s = series_create(o, id);
    uint32_t i = lower_bound(s, t);
    if (i < s->n && s->ts[i] == t)
        return false;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 8;
        s->ts = xrealloc(s->ts, s->cap * sizeof *s->ts);
        s->vs = xrealloc(s->vs, s->cap * sizeof *s->vs);
        s->segs = xrealloc(s->segs, s->cap * sizeof *s->segs);
    }
    uint32_t tail = s->n - i;
    memmove(s->ts + i + 1, s->ts + i, tail * sizeof *s->ts);
    memmove(s->vs + i + 1, s->vs + i, tail * sizeof *s->vs);
    memmove(s->segs + i + 1, s->segs + i, tail * sizeof *s->segs);
    s->ts[i] = t;
    s->vs[i] = v;
    s->segs[i] = wal_segment;
    s->n++;
    o->nsamples++;
    return true;
}

void ooo_series_samples(const struct ooo_head *o, uint32_t id, int64_t mint, int64_t maxt,
                        struct sbuf *out)
{
    const struct ooo_series *s = ooo_series_get(o, id);
    if (!s)
        return;
    for (uint32_t i = lower_bound(s, mint); i < s->n && s->ts[i] <= maxt; i++) {
        sbuf_append(out, &s->ts[i], sizeof s->ts[i]);
        sbuf_append(out, &s->vs[i], sizeof s->vs[i]);
    }
}

int64_t ooo_series_oldest_t(const struct ooo_head *o, uint32_t id)
{
    const struct ooo_series *s = ooo_series_get(o, id);
    return s && s->n ? s->ts[0] : INT64_MAX;
}

/* Keeps the samples for which drop[i] is false, in place; frees the
 * series if none is left.  Returns the number removed. */
static size_t series_compact(struct ooo_head *o, uint32_t id, const bool *drop)
{
    struct ooo_series *s = o->series[id];
    uint32_t w = 0;
    for (uint32_t i = 0; i < s->n; i++) {
        if (drop[i])
            continue;
        s->ts[w] = s->ts[i];
        s->vs[w] = s->vs[i];
        s->segs[w++] = s->segs[i];
    }
    size_t removed = s->n - w;
    s->n = w;
    o->nsamples -= removed;
    if (w == 0) {
        ooo_series_free(s);
        o->series[id] = NULL;
        o->nseries--;
    }
    return removed;
}

size_t ooo_series_delete_range(struct ooo_head *o, uint32_t id, int64_t mint, int64_t maxt)
{
    struct ooo_series *s = id < o->cap ? o->series[id] : NULL;
    if (!s || mint > maxt)
        return 0;
    bool *drop = xcalloc(s->n, sizeof *drop);
    for (uint32_t i = 0; i < s->n; i++)
        drop[i] = s->ts[i] >= mint && s->ts[i] <= maxt;
    size_t removed = series_compact(o, id, drop);
    free(drop);
    return removed;
}

void ooo_series_remove(struct ooo_head *o, uint32_t id, const int64_t *ts, size_t n)
{
    struct ooo_series *s = id < o->cap ? o->series[id] : NULL;
    if (!s)
        return;
    bool *drop = xcalloc(s->n, sizeof *drop);
    for (size_t i = 0, j = 0; i < s->n && j < n;) { /* both ascending */
        if (s->ts[i] < ts[j])
            i++;
        else if (s->ts[i] > ts[j])
            j++;
        else
            drop[i++] = true, j++;
    }
    series_compact(o, id, drop);
    free(drop);
}

void ooo_head_set_segment(struct ooo_head *o, uint32_t wal_segment)
{
    for (uint32_t id = 0; id < o->cap; id++)
        for (uint32_t i = 0; o->series[id] && i < o->series[id]->n; i++)
            o->series[id]->segs[i] = wal_segment;
}

uint32_t ooo_min_wal_segment(const struct ooo_head *o)
{
    uint32_t min = UINT32_MAX;
    for (uint32_t id = 0; id < o->cap && o->nsamples; id++)
        for (uint32_t i = 0; o->series[id] && i < o->series[id]->n; i++)
            if (o->series[id]->segs[i] < min)
                min = o->series[id]->segs[i];
    return min;
}
