/* blocks.c — reading and writing the blocks DBI, and compaction's marks.
 *
 * A block value is uvarint(last - first timestamp) followed by the block
 * codec's bytes (storage/chunk.h); its key is (series id, first timestamp),
 * so the first timestamp, which block_encode does not store, comes back
 * from the key.  The length prefix lets a reader skip a block that ends
 * before its range without decoding it.
 *
 * Every writer of blocks goes through tsdb_block_write: the flusher (one
 * block per closed head chunk, marked for compaction), deletes (a block
 * re-encoded without the deleted samples, not marked) and snapshots (the
 * head's chunks written into the copy, marked) and the out-of-order
 * flush (ooo.c: a window's blocks merged with late samples).  Readers and
 * rewriters merge blocks with one rule, the one tsdb_select applies:
 * blocks in key order, merged in time order, and at a timestamp met twice
 * the sample met first is kept, so a rewrite never changes what a reader
 * sees.  Without out-of-order samples every block starts after the last
 * sample kept, and the merge is a plain append (the fast path); a block
 * that reaches back (out-of-order data flushed after newer blocks, an
 * archived window that got late samples) is merged in place
 * (tsdb_samples_merge_tail).
 *
 * The archive (finished windows, written by compaction) holds the
 * blocks of 32 series at a time in one compressed group value
 * (archive.c); readers take a series' archived samples of a window before
 * its blocks. */
#include "storage/tsdb_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void tsdb_samples_reserve(struct tsdb_samples *s, size_t extra)
{
    if (s->n + extra <= s->cap)
        return;
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < s->n + extra)
        cap *= 2;
    s->ts = xrealloc(s->ts, cap * sizeof *s->ts);
    s->vs = xrealloc(s->vs, cap * sizeof *s->vs);
    if (s->sts)
        s->sts = xrealloc(s->sts, cap * sizeof *s->sts);
    s->cap = cap;
}

/* Gives s an ST column, zero for the samples it holds. */
static void samples_st_enable(struct tsdb_samples *s)
{
    if (s->sts)
        return;
    s->sts = xcalloc(s->cap ? s->cap : 1, sizeof *s->sts);
}

void tsdb_samples_clear(struct tsdb_samples *s)
{
    s->n = 0;
    free(s->sts);
    s->sts = NULL;
}

void tsdb_samples_drop_range(struct tsdb_samples *s, int64_t mint, int64_t maxt)
{
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->ts[i] >= mint && s->ts[i] <= maxt)
            continue;
        s->ts[w] = s->ts[i];
        s->vs[w] = s->vs[i];
        if (s->sts)
            s->sts[w] = s->sts[i];
        w++;
    }
    s->n = w;
}

void tsdb_samples_free(struct tsdb_samples *s)
{
    free(s->ts);
    free(s->vs);
    free(s->sts);
    memset(s, 0, sizeof *s);
}

bool tsdb_block_tmax(int64_t t0, const MDB_val *val, int64_t *tmax)
{
    uint64_t dt;
    const uint8_t *p = val->mv_data;
    if (!tsdb_uvarint_get(p, p + val->mv_size, &dt))
        return false;
    *tmax = t0 + (int64_t)dt;
    return true;
}

size_t tsdb_samples_merge_tail(int64_t *ts, double *vs, int64_t *sts, size_t n_old, size_t n_new)
{
    if (n_new == 0 || n_old == 0 || ts[n_old - 1] < ts[n_old])
        return n_old + n_new;
    /* Merge from the back into [0, n_old + n_new), the tail copied out
     * first; ties keep the old sample, so the merged run may come out
     * shorter and is moved down at the end. */
    int64_t *tt = xmalloc(n_new * sizeof *tt);
    double *tv = xmalloc(n_new * sizeof *tv);
    int64_t *tst = sts ? xmalloc(n_new * sizeof *tst) : NULL;
    memcpy(tt, ts + n_old, n_new * sizeof *tt);
    memcpy(tv, vs + n_old, n_new * sizeof *tv);
    if (sts)
        memcpy(tst, sts + n_old, n_new * sizeof *tst);
    size_t i = n_old, j = n_new, k = n_old + n_new;
    while (j > 0) {
        if (i > 0 && ts[i - 1] >= tt[j - 1]) {
            if (ts[i - 1] == tt[j - 1])
                j--; /* the old sample wins */
            k--;
            i--;
            ts[k] = ts[i];
            vs[k] = vs[i];
            if (sts)
                sts[k] = sts[i];
        } else {
            k--;
            j--;
            ts[k] = tt[j];
            vs[k] = tv[j];
            if (sts)
                sts[k] = tst[j];
        }
    }
    /* [0, i) is untouched and already in place; [k, end) follows it. */
    size_t n = n_old + n_new - (k - i);
    memmove(ts + i, ts + k, (n - i) * sizeof *ts);
    memmove(vs + i, vs + k, (n - i) * sizeof *vs);
    if (sts)
        memmove(sts + i, sts + k, (n - i) * sizeof *sts);
    free(tt);
    free(tv);
    free(tst);
    return n;
}

int tsdb_block_decode_append(struct block_codec *bc, int64_t t0, const MDB_val *val,
                             struct tsdb_samples *out)
{
    const uint8_t *p = val->mv_data, *end = p + val->mv_size;
    uint64_t dt;
    size_t k = tsdb_uvarint_get(p, end, &dt);
    return k ? tsdb_block_body_append(bc, t0, p + k, (size_t)(end - p - k), out) : EINVAL;
}

int tsdb_block_body_append(struct block_codec *bc, int64_t t0, const uint8_t *p, size_t len,
                           struct tsdb_samples *out)
{
    size_t cnt = block_count(p, len);
    if (!cnt)
        return EINVAL;
    tsdb_samples_reserve(out, cnt);
    if (block_has_st(p, len))
        samples_st_enable(out);
    size_t n = out->n;
    int64_t *sts = out->sts ? out->sts + n : NULL;
    int got = block_decode(bc, p, len, t0, out->ts + n, out->vs + n, sts, cnt);
    if (got <= 0)
        return EINVAL;
    out->n = tsdb_samples_merge_tail(out->ts, out->vs, out->sts, n, (size_t)got);
    return 0;
}

int tsdb_blocks_gather(MDB_txn *txn, MDB_dbi blocks, struct block_codec *bc, uint32_t id, int64_t w,
                       struct tsdb_samples *out, struct tsdb_t0s *t0s)
{
    MDB_cursor *c;
    t0s->n = 0;
    int rc = mdb_cursor_open(txn, blocks, &c);
    if (rc != 0)
        return rc;
    uint8_t k[12];
    tsdb_block_key(id, w, k);
    MDB_val key = {12, k}, val;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        uint32_t kid;
        int64_t t0;
        tsdb_block_key_decode(key.mv_data, &kid, &t0);
        if (kid != id || t0 >= w + TSDB_WINDOW_MS)
            break;
        if ((rc = tsdb_block_decode_append(bc, t0, &val, out)) != 0)
            break;
        if (t0s->n == t0s->cap) {
            t0s->cap = t0s->cap ? t0s->cap * 2 : 16;
            t0s->v = xrealloc(t0s->v, t0s->cap * sizeof *t0s->v);
        }
        t0s->v[t0s->n++] = t0;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

int tsdb_blocks_del(MDB_txn *txn, MDB_dbi blocks, uint32_t id, const struct tsdb_t0s *t0s)
{
    int rc = 0;
    for (size_t i = 0; i < t0s->n && rc == 0; i++) {
        uint8_t k[12];
        tsdb_block_key(id, t0s->v[i], k);
        MDB_val key = {sizeof k, k};
        rc = mdb_del(txn, blocks, &key, NULL);
    }
    return rc;
}

void tsdb_compact_key(int64_t window, uint32_t id, uint8_t key[12])
{
    uint64_t w = (uint64_t)window ^ (1ULL << 63);
    for (int i = 0; i < 8; i++)
        key[i] = (uint8_t)(w >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        key[8 + i] = (uint8_t)(id >> (24 - 8 * i));
}

void tsdb_compact_key_decode(const uint8_t key[12], int64_t *window, uint32_t *id)
{
    uint64_t w = 0;
    uint32_t i32 = 0;
    for (int i = 0; i < 8; i++)
        w = w << 8 | key[i];
    for (int i = 0; i < 4; i++)
        i32 = i32 << 8 | key[8 + i];
    *window = (int64_t)(w ^ (1ULL << 63));
    *id = i32;
}

size_t tsdb_block_inline_max(unsigned psize)
{
    /* mdb.c: a node (8-byte header, key, value) larger than me_nodemax =
     * ((psize - 16 page header) / 2 keys per page, even) - 2 (its index
     * slot) moves its value to overflow pages: 2018 bytes at 4 KiB. */
    return (((psize - 16) / 2) & ~1u) - 2 - 8 - 12;
}

int tsdb_block_encode(struct block_codec *bc, const int64_t *ts, const double *vs,
                      const int64_t *sts, size_t n, struct sbuf *out)
{
    sbuf_reset(out);
    if (n == 0)
        return EINVAL;
    uint8_t hdr[10];
    sbuf_append(out, hdr, tsdb_uvarint_put(hdr, (uint64_t)(ts[n - 1] - ts[0])));
    return block_encode(bc, ts, vs, sts, n, BLOCK_ZSTD_DEFAULT, out) < 0 ? EINVAL : 0;
}

int tsdb_block_put(MDB_txn *txn, MDB_dbi blocks, MDB_dbi compact, uint32_t id, int64_t t0,
                   const struct sbuf *val, unsigned flags)
{
    uint8_t k[12];
    tsdb_block_key(id, t0, k);
    MDB_val key = {sizeof k, k}, v = {val->len, val->data};
    int rc = mdb_put(txn, blocks, &key, &v, flags);
    if (rc != 0 || !compact)
        return rc;
    tsdb_compact_key(tsdb_window_start(t0), id, k);
    MDB_val mark = {0, k}; /* empty value */
    return mdb_put(txn, compact, &key, &mark, 0);
}

int tsdb_block_write(MDB_txn *txn, MDB_dbi blocks, MDB_dbi compact, struct block_codec *bc,
                     uint32_t id, const int64_t *ts, const double *vs, const int64_t *sts, size_t n,
                     unsigned flags, struct sbuf *scratch)
{
    if (n == 0)
        return 0;
    int rc = tsdb_block_encode(bc, ts, vs, sts, n, scratch);
    return rc ? rc : tsdb_block_put(txn, blocks, compact, id, ts[0], scratch, flags);
}

/* ---- the archive DBI (its values: archive.c) ---- */

bool tsdb_archive_windows(MDB_txn *txn, MDB_dbi archive, int64_t *first, int64_t *last)
{
    MDB_cursor *c;
    if (mdb_cursor_open(txn, archive, &c) != 0)
        return false;
    MDB_val key, val;
    uint32_t id;
    bool ok = mdb_cursor_get(c, &key, &val, MDB_FIRST) == 0 && key.mv_size >= 12;
    if (ok)
        tsdb_compact_key_decode(key.mv_data, first, &id);
    ok = ok && mdb_cursor_get(c, &key, &val, MDB_LAST) == 0 && key.mv_size >= 12;
    if (ok)
        tsdb_compact_key_decode(key.mv_data, last, &id);
    mdb_cursor_close(c);
    return ok;
}
