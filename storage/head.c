/* head.c — the in-memory head: open chunks, closed chunks awaiting flush.
 *
 * Memory per active series is the design target.  A series costs its
 * 80-byte struct head_series, kept inline in pages of HEAD_PAGE_SERIES
 * consecutive ids (5 KiB; allocated when the first id of the page enters
 * the head, freed when the last leaves), and its open chunk's bytes (a
 * bitstream, ~1–2 bytes per sample at regular intervals).  The pages save
 * what one malloc'd struct per series and an id-indexed pointer array cost
 * (104 bytes a series, 88 + 8 of malloc header + 8 of pointer, against
 * 80); a page that keeps only one old series among ids that churned away
 * holds 5 KiB for it, which the ids' order of creation makes rare.  Label
 * sets are not kept here at all: they live in the LMDB index, and ingest
 * paths cache series ids, so the head never needs them.
 *
 * A chunk is cut when it holds chunk_samples samples or when a sample falls
 * into a later time window (windows are chunk_window_ms wide and aligned to
 * the epoch), so every chunk, and every block made from it, lies inside one
 * window: that keeps later compaction into window-sized blocks simple.
 *
 * Ordering rules are Prometheus's: a sample older than the series' newest is
 * out of order; one at the same timestamp is a no-op when the value is the
 * same bit pattern and a duplicate (rejected) otherwise.  Start timestamps
 * take no part in them; they ride along in the chunks that have an ST
 * column (head.h says which). */
#include "storage/head.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

void head_init(struct head *h, uint16_t chunk_samples, int64_t chunk_window_ms)
{
    memset(h, 0, sizeof *h);
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    /* Commits must not starve behind a stream of query snapshots. */
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&h->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    h->chunk_samples = chunk_samples;
    h->chunk_window_ms = chunk_window_ms;
}

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct head_series) == 80, "struct head_series grew: see the note in head.h");
#endif

/* Consecutive ids' series, allocated when the first of them enters the
 * head and freed when the last leaves.  Which slots hold a series is a
 * bitmap beside them, not a flag inside: a lookup that only asks whether
 * the series exists (the appender's first pass over a batch) reads the
 * page's first line, shared by its 64 series, and not one line each. */
struct head_page {
    uint64_t live; /* bit i: s[i] holds a series */
    struct head_series s[HEAD_PAGE_SERIES];
};
_Static_assert(HEAD_PAGE_SERIES == 64, "head_page.live is a 64-bit map");

static void head_series_free(struct head_series *s)
{
    head_chunk_free(&s->open);
    for (struct head_closed *c = s->closed, *next; c; c = next) {
        next = c->next;
        free(c);
    }
    memset(s, 0, sizeof *s);
}

void head_destroy(struct head *h)
{
    for (uint32_t p = 0; p < h->cap / HEAD_PAGE_SERIES; p++) {
        if (!h->pages[p])
            continue;
        for (uint32_t i = 0; i < HEAD_PAGE_SERIES; i++)
            if (h->pages[p]->live >> i & 1)
                head_series_free(&h->pages[p]->s[i]);
        free(h->pages[p]);
    }
    free(h->pages);
    free(h->dirty);
    pthread_rwlock_destroy(&h->lock);
}

struct head_series *head_series_at(const struct head *h, uint32_t id)
{
    if (id >= h->cap)
        return NULL;
    struct head_page *pg = h->pages[id / HEAD_PAGE_SERIES];
    return pg && pg->live >> id % HEAD_PAGE_SERIES & 1 ? &pg->s[id % HEAD_PAGE_SERIES] : NULL;
}

/* The page of id, allocated (and the page array grown) if need be. */
static struct head_page *head_page_for(struct head *h, uint32_t id)
{
    uint32_t p = id / HEAD_PAGE_SERIES;
    if (id >= h->cap) {
        uint32_t npages = h->cap ? h->cap / HEAD_PAGE_SERIES : 16;
        while (npages <= p)
            npages *= 2;
        uint32_t old = h->cap / HEAD_PAGE_SERIES;
        h->pages = xrealloc(h->pages, (size_t)npages * sizeof *h->pages);
        memset(h->pages + old, 0, (size_t)(npages - old) * sizeof *h->pages);
        h->cap = npages * HEAD_PAGE_SERIES;
    }
    if (!h->pages[p])
        h->pages[p] = xcalloc(1, sizeof *h->pages[p]);
    return h->pages[p];
}

struct head_series *head_series_get(struct head *h, uint32_t id, bool create)
{
    struct head_series *s = head_series_at(h, id);
    if (s || !create)
        return s;
    struct head_page *pg = head_page_for(h, id);
    s = &pg->s[id % HEAD_PAGE_SERIES];
    head_chunk_init(&s->open, h->chunk_samples);
    s->persisted_maxt = INT64_MIN;
    pg->live |= 1ull << id % HEAD_PAGE_SERIES;
    h->nseries++;
    return s;
}

bool head_series_empty(const struct head_series *s)
{
    return s->open.count == 0 && !s->closed;
}

void head_series_drop(struct head *h, uint32_t id)
{
    struct head_page *pg = h->pages[id / HEAD_PAGE_SERIES];
    head_series_free(&pg->s[id % HEAD_PAGE_SERIES]);
    pg->live &= ~(1ull << id % HEAD_PAGE_SERIES);
    if (!pg->live) {
        free(pg);
        h->pages[id / HEAD_PAGE_SERIES] = NULL;
    }
    h->nseries--;
    h->epoch++;
}

/* The newest closed chunk, or NULL. */
static struct head_closed *closed_last(const struct head_series *s)
{
    struct head_closed *c = s->closed;
    while (c && c->next)
        c = c->next;
    return c;
}

static int64_t window_of(const struct head *h, int64_t t)
{
    int64_t w = t / h->chunk_window_ms;
    return (t % h->chunk_window_ms < 0) ? w - 1 : w;
}

/* A closed chunk holding a copy of chunk src's bytes (src has samples). */
static struct head_closed *closed_new(const struct head_chunk *src, bool st, uint32_t wal_segment)
{
    size_t len = head_chunk_len(src);
    struct head_closed *c = xmalloc(offsetof(struct head_closed, buf) + len);
    c->next = NULL;
    c->mint = head_chunk_first_t(src);
    c->maxt = src->tlast;
    c->vlast = src->vlast;
    c->len = (uint32_t)len;
    c->wal_segment = wal_segment;
    c->count = src->count;
    c->st = st;
    memcpy(c->buf, src->buf, len);
    return c;
}

void head_series_cut(struct head *h, uint32_t id, struct head_series *s)
{
    if (s->open.count == 0)
        return;
    struct head_closed *c = closed_new(&s->open, s->open_st, s->open_segment);
    struct head_closed *last = closed_last(s);
    if (last)
        last->next = c;
    else
        s->closed = c;
    h->nclosed++;
    head_chunk_reset(&s->open);
    s->open_st = false;
    head_series_mark_dirty(h, id, s);
}

void head_series_flushed(struct head *h, uint32_t id, struct head_closed *c)
{
    struct head_series *s = head_series_at(h, id);
    s->closed = c->next; /* chunks are flushed oldest first */
    if (c->maxt > s->persisted_maxt)
        s->persisted_maxt = c->maxt;
    free(c);
    h->nclosed--;
}

void head_series_mark_dirty(struct head *h, uint32_t id, struct head_series *s)
{
    if (s->dirty)
        return;
    if (h->ndirty == h->capdirty) {
        h->capdirty = h->capdirty ? h->capdirty * 2 : 256;
        h->dirty = xrealloc(h->dirty, h->capdirty * sizeof *h->dirty);
    }
    h->dirty[h->ndirty++] = id;
    s->dirty = true;
}

/* Newest timestamp and value bits of the series, if it has any sample the
 * head can compare against. */
static bool series_last(const struct head_series *s, int64_t *t, uint64_t *vbits)
{
    if (s->open.count) {
        *t = s->open.tlast;
        *vbits = s->open.vlast;
        return true;
    }
    const struct head_closed *last = closed_last(s);
    if (last) {
        *t = last->maxt;
        *vbits = last->vlast;
        return true;
    }
    return false;
}

/* Appends to the open chunk, which gets an ST column if its first sample
 * has an ST. */
static int open_chunk_put(struct head_series *s, int64_t t, double v, int64_t st)
{
    if (s->open.count == 0)
        s->open_st = st != 0;
    if (s->open_st)
        return head_chunk_append_st(&s->open, t, v, st, &s->open_st_last);
    return head_chunk_append(&s->open, t, v);
}

enum head_append_result head_append(struct head *h, uint32_t id, int64_t t, double v, int64_t st,
                                    uint32_t wal_segment)
{
    struct head_series *s = head_series_at(h, id);
    if (!s)
        return HEAD_NO_SERIES;
    int64_t last_t;
    uint64_t last_v, vbits;
    memcpy(&vbits, &v, sizeof vbits);
    if (series_last(s, &last_t, &last_v)) {
        if (t < last_t)
            return HEAD_OUT_OF_ORDER;
        if (t == last_t)
            return vbits == last_v ? HEAD_DUPLICATE_SAME : HEAD_DUPLICATE;
    } else if (t <= s->persisted_maxt) {
        /* Already written to LMDB before a restart: not comparable by value
         * without reading the block, and Prometheus rejects it too. */
        return t == s->persisted_maxt ? HEAD_DUPLICATE_SAME : HEAD_OUT_OF_ORDER;
    }
    if (s->open.count && window_of(h, t) != window_of(h, head_chunk_first_t(&s->open)))
        head_series_cut(h, id, s);
    if (st && s->open.count && !s->open_st)
        head_series_cut(h, id, s); /* the first ST: on to a chunk with the column */
    int rc = open_chunk_put(s, t, v, st);
    if (rc == HEAD_CHUNK_FULL) {
        head_series_cut(h, id, s);
        rc = open_chunk_put(s, t, v, st);
    }
    if (s->open.count == 1)
        s->open_segment = wal_segment;
    return rc == 0 ? HEAD_APPENDED : HEAD_OUT_OF_ORDER;
}

size_t head_close_idle(struct head *h, int64_t before_t)
{
    size_t n = 0;
    for (uint32_t id = 0; id < h->cap; id++) {
        struct head_series *s = head_series_at(h, id);
        if (s && s->open.count && s->open.tlast < before_t) {
            head_series_cut(h, id, s);
            head_chunk_free(&s->open); /* an idle series needs no buffer */
            n++;
        }
    }
    return n;
}

uint32_t head_min_wal_segment(const struct head *h)
{
    uint32_t min = UINT32_MAX;
    for (uint32_t id = 0; id < h->cap; id++) {
        const struct head_series *s = head_series_at(h, id);
        if (!s)
            continue;
        if (s->closed && s->closed->wal_segment < min)
            min = s->closed->wal_segment;
        if (s->open.count && s->open_segment < min)
            min = s->open_segment;
    }
    return min;
}

/* Appends the samples of a chunk (ST column if st) in [mint, maxt] to out,
 * and their STs to st_out unless it is NULL. */
static void chunk_samples_append(const uint8_t *buf, size_t len, uint16_t count, bool st,
                                 int64_t mint, int64_t maxt, struct sbuf *out, struct sbuf *st_out)
{
    struct head_chunk_iter it;
    head_chunk_iter_init(&it, buf, len, count, st);
    int64_t t;
    double v;
    while (head_chunk_iter_next(&it, &t, &v)) {
        if (t < mint)
            continue;
        if (t > maxt)
            break;
        sbuf_append(out, &t, sizeof t);
        sbuf_append(out, &v, sizeof v);
        if (st_out)
            sbuf_append(st_out, &it.st, sizeof it.st);
    }
}

static bool overlaps(int64_t lo, int64_t hi, int64_t mint, int64_t maxt)
{
    return hi >= mint && lo <= maxt;
}

bool head_series_samples(const struct head *h, uint32_t id, int64_t mint, int64_t maxt,
                         struct sbuf *out, struct sbuf *st_out)
{
    const struct head_series *s = head_series_at(h, id);
    if (!s)
        return false;
    bool open = s->open.count && overlaps(head_chunk_first_t(&s->open), s->open.tlast, mint, maxt);
    bool st = open && s->open_st;
    for (const struct head_closed *c = s->closed; c && !st; c = c->next)
        st = c->st && overlaps(c->mint, c->maxt, mint, maxt);
    struct sbuf *sto = st ? st_out : NULL;
    for (const struct head_closed *c = s->closed; c; c = c->next)
        if (overlaps(c->mint, c->maxt, mint, maxt))
            chunk_samples_append(c->buf, c->len, c->count, c->st, mint, maxt, out, sto);
    if (open)
        chunk_samples_append(s->open.buf, head_chunk_len(&s->open), s->open.count, s->open_st, mint,
                             maxt, out, sto);
    return st;
}

size_t head_chunk_unpack(const uint8_t *buf, size_t len, uint16_t count, bool st, int64_t *ts,
                         double *vs, int64_t *sts)
{
    struct head_chunk_iter it;
    head_chunk_iter_init(&it, buf, len, count, st);
    size_t n = 0;
    while (n < count && head_chunk_iter_next(&it, &ts[n], &vs[n])) {
        if (st)
            sts[n] = it.st;
        n++;
    }
    return n;
}

int64_t head_series_oldest_t(const struct head *h, uint32_t id)
{
    const struct head_series *s = head_series_at(h, id);
    if (!s)
        return INT64_MAX;
    if (s->closed)
        return s->closed->mint;
    return s->open.count ? head_chunk_first_t(&s->open) : INT64_MAX;
}

/* Re-encodes the count samples in buf (ST column if st) without those in
 * [mint, maxt] into out (initialised here, max_count samples at most, an
 * ST column if st; *st_last as head_chunk_append_st keeps it).  Returns
 * the number removed. */
static size_t chunk_filter(const uint8_t *buf, size_t len, uint16_t count, bool st, int64_t mint,
                           int64_t maxt, uint16_t max_count, struct head_chunk *out,
                           int64_t *st_last)
{
    head_chunk_init(out, max_count);
    struct head_chunk_iter it;
    head_chunk_iter_init(&it, buf, len, count, st);
    int64_t t;
    double v;
    size_t removed = 0;
    while (head_chunk_iter_next(&it, &t, &v)) {
        if (t >= mint && t <= maxt)
            removed++;
        else if (st)
            head_chunk_append_st(out, t, v, it.st, st_last);
        else
            head_chunk_append(out, t, v);
    }
    return removed;
}

/* Filters the closed chunks of s. */
static size_t closed_delete_range(struct head *h, struct head_series *s, int64_t mint, int64_t maxt)
{
    size_t removed = 0;
    struct head_closed **pp = &s->closed;
    while (*pp) {
        struct head_closed *c = *pp;
        if (c->maxt < mint || c->mint > maxt) {
            pp = &c->next;
            continue;
        }
        struct head_chunk nc;
        int64_t st_last;
        removed +=
            chunk_filter(c->buf, c->len, c->count, c->st, mint, maxt, c->count, &nc, &st_last);
        struct head_closed *rest = nc.count ? closed_new(&nc, c->st, c->wal_segment) : NULL;
        head_chunk_free(&nc);
        if (rest) {
            rest->next = c->next;
            *pp = rest;
            pp = &rest->next;
        } else {
            *pp = c->next;
            h->nclosed--;
        }
        free(c);
    }
    return removed;
}

size_t head_series_delete_range(struct head *h, uint32_t id, int64_t mint, int64_t maxt)
{
    struct head_series *s = head_series_at(h, id);
    if (!s || mint > maxt)
        return 0;
    size_t removed = closed_delete_range(h, s, mint, maxt);
    if (s->open.count && s->open.tlast >= mint && head_chunk_first_t(&s->open) <= maxt) {
        struct head_chunk nc;
        removed += chunk_filter(s->open.buf, head_chunk_len(&s->open), s->open.count, s->open_st,
                                mint, maxt, h->chunk_samples, &nc, &s->open_st_last);
        head_chunk_free(&s->open);
        s->open = nc;
    }
    return removed;
}

static struct head_chunk_ref *refs_push(struct head_chunk_ref **refs, size_t *n, size_t *cap)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 1024;
        *refs = xrealloc(*refs, *cap * sizeof **refs);
    }
    return &(*refs)[(*n)++];
}

void head_chunks_collect(const struct head *h, struct head_chunk_ref **refs, size_t *n, size_t *cap)
{
    for (uint32_t id = 0; id < h->cap; id++) {
        const struct head_series *s = head_series_at(h, id);
        if (!s)
            continue;
        for (const struct head_closed *c = s->closed; c; c = c->next)
            *refs_push(refs, n, cap) =
                (struct head_chunk_ref){id, c->count, false, c->st, c->buf, c->len};
        if (!s->open.count)
            continue;
        size_t len = head_chunk_len(&s->open);
        uint8_t *copy = xmalloc(len);
        memcpy(copy, s->open.buf, len);
        *refs_push(refs, n, cap) =
            (struct head_chunk_ref){id, s->open.count, true, s->open_st, copy, len};
    }
}
