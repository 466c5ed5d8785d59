/* ooo.c — out-of-order samples: which are accepted, and how they reach
 * LMDB.
 *
 * Prometheus's out_of_order_time_window (storage.tsdb in the config file;
 * 0 = off, changed by a reload through tsdb_set_ooo_window).  A sample the
 * in-order head refuses as older than its series' newest sample is
 * accepted when it is not older than the newest sample of the whole
 * database (db->max_t, Prometheus's head max time) minus the window; an
 * older one is "too old" (prometheus_tsdb_too_old_samples_total).  The
 * duplicate rules stay Prometheus's: at the series' newest timestamp the
 * in-order rules apply (same value a no-op, another value a duplicate),
 * and a late sample at a timestamp the out-of-order head holds already is
 * dropped silently.  A late sample at a timestamp that is in the in-order
 * head or in LMDB is not looked for (Prometheus does not either); readers
 * and the flush keep the sample that was there first (blocks.c).
 *
 * Accepted samples wait in the out-of-order head (head_ooo.c), are logged
 * with the batch (WAL_REC_OOO_SAMPLES, tsdb_internal.h) and are read
 * merged with everything else.  Each housekeeping round the flusher moves
 * to LMDB those that are older than their series' in-order head: for each
 * series and window, the series' blocks of that window are decoded,
 * merged with the late samples and written back as one block, marked for
 * compaction, in batched write txns; then the samples leave the
 * out-of-order head.  Merging with the blocks, rather than writing the
 * late samples as blocks of their own, keeps blocks of a series from
 * overlapping, which the block keys (series, first time) and every
 * reader's cursor scan rely on; and waiting for the in-order head to move
 * past them means the in-order flusher never writes a block that overlaps
 * them.  A window already archived gets its late samples as a block, and
 * compaction merges it into the archive again, as it does for a lagging
 * series (compact.c). */
#include "storage/tsdb_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define OOO_FLUSH_TXN_SERIES 2000

enum head_append_result tsdb_ooo_apply(struct tsdb *db, uint32_t id, int64_t t, double v,
                                       uint32_t segment)
{
    int64_t w = atomic_load(&db->ooo_window_ms);
    if (w <= 0)
        return HEAD_OUT_OF_ORDER;
    int64_t max_t = atomic_load(&db->max_t);
    if (max_t > INT64_MIN + w && t < max_t - w)
        return HEAD_TOO_OLD;
    return ooo_insert(&db->ooo, id, t, v, segment) ? HEAD_OOO_APPENDED : HEAD_DUPLICATE_SAME;
}

void tsdb_set_ooo_window(struct tsdb *db, int64_t window_ms)
{
    atomic_store(&db->ooo_window_ms, window_ms > 0 ? window_ms : 0);
}

/* ---- merging into blocks ---- */

struct ooo_merge {
    struct tsdb_samples buf;
    struct tsdb_t0s t0s;
    struct sbuf scratch;
};

struct ooo_merge *ooo_merge_new(void)
{
    return xcalloc(1, sizeof(struct ooo_merge));
}

void ooo_merge_free(struct ooo_merge *m)
{
    if (!m)
        return;
    tsdb_samples_free(&m->buf);
    free(m->t0s.v);
    sbuf_free(&m->scratch);
    free(m);
}

/* Merges the n samples (one window w) into the series' blocks of w. */
static int merge_window(MDB_txn *txn, MDB_dbi blocks, MDB_dbi compact, struct block_codec *bc,
                        struct ooo_merge *m, uint32_t id, int64_t w, const int64_t *ts,
                        const double *vs, size_t n)
{
    tsdb_samples_clear(&m->buf);
    int rc = tsdb_blocks_gather(txn, blocks, bc, id, w, &m->buf, &m->t0s);
    if (rc == EINVAL) {
        /* A corrupt block (readers skip it too): leave it, and give the
         * late samples a block of their own after it. */
        tsdb_samples_clear(&m->buf);
        m->t0s.n = 0;
    } else if (rc != 0) {
        return rc;
    }
    size_t old = m->buf.n;
    tsdb_samples_reserve(&m->buf, n);
    memcpy(m->buf.ts + old, ts, n * sizeof *ts);
    memcpy(m->buf.vs + old, vs, n * sizeof *vs);
    if (m->buf.sts) /* the window's blocks have STs; late samples carry none */
        memset(m->buf.sts + old, 0, n * sizeof *m->buf.sts);
    m->buf.n = tsdb_samples_merge_tail(m->buf.ts, m->buf.vs, m->buf.sts, old, n);
    if ((rc = tsdb_blocks_del(txn, blocks, id, &m->t0s)) != 0)
        return rc;
    rc = tsdb_block_write(txn, blocks, compact, bc, id, m->buf.ts, m->buf.vs, m->buf.sts, m->buf.n,
                          MDB_NOOVERWRITE, &m->scratch);
    return rc == MDB_KEYEXIST ? 0 : rc; /* only beside a corrupt block */
}

int tsdb_ooo_merge(MDB_txn *txn, MDB_dbi blocks, MDB_dbi compact, struct block_codec *bc,
                   struct ooo_merge *m, uint32_t id, const int64_t *ts, const double *vs, size_t n)
{
    for (size_t i = 0, j; i < n; i = j) {
        int64_t w = tsdb_window_start(ts[i]);
        for (j = i + 1; j < n && ts[j] < w + TSDB_WINDOW_MS; j++)
            ;
        int rc = merge_window(txn, blocks, compact, bc, m, id, w, ts + i, vs + i, j - i);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* ---- the flush ---- */

/* The samples to flush, and the ooo_merge that writes them. */
struct ooo_flush {
    struct tsdb *db;
    struct tsdb_ooo_copy c;
    size_t from, to; /* the series of the current txn */
    struct ooo_merge *m;
};

void tsdb_ooo_copy(struct tsdb *db, bool all, struct tsdb_ooo_copy *c)
{
    for (uint32_t id = 0; id < db->ooo.cap && db->ooo.nsamples; id++) {
        const struct ooo_series *os = db->ooo.series[id];
        if (!os)
            continue;
        int64_t limit = all ? INT64_MAX : head_series_oldest_t(&db->head, id);
        size_t k = 0;
        while (k < os->n && os->ts[k] < limit)
            k++;
        if (k == 0)
            continue;
        if (c->nser == c->capser) {
            c->capser = c->capser ? c->capser * 2 : 256;
            c->ids = xrealloc(c->ids, c->capser * sizeof *c->ids);
            c->off = xrealloc(c->off, c->capser * sizeof *c->off);
            c->cnt = xrealloc(c->cnt, c->capser * sizeof *c->cnt);
        }
        tsdb_samples_reserve(&c->s, k);
        memcpy(c->s.ts + c->s.n, os->ts, k * sizeof *os->ts);
        memcpy(c->s.vs + c->s.n, os->vs, k * sizeof *os->vs);
        c->ids[c->nser] = id;
        c->off[c->nser] = c->s.n;
        c->cnt[c->nser++] = k;
        c->s.n += k;
    }
}

void tsdb_ooo_copy_free(struct tsdb_ooo_copy *c)
{
    free(c->ids);
    free(c->off);
    free(c->cnt);
    tsdb_samples_free(&c->s);
    memset(c, 0, sizeof *c);
}

int tsdb_ooo_copy_merge(MDB_txn *txn, MDB_dbi blocks, MDB_dbi compact, struct block_codec *bc,
                        struct ooo_merge *m, const struct tsdb_ooo_copy *c, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++) {
        int rc = tsdb_ooo_merge(txn, blocks, compact, bc, m, c->ids[i], c->s.ts + c->off[i],
                                c->s.vs + c->off[i], c->cnt[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int flush_txn(MDB_txn *txn, void *arg)
{
    struct ooo_flush *f = arg;
    struct tsdb *db = f->db;
    return tsdb_ooo_copy_merge(txn, db->blocks, db->compact, db->maint_codec, f->m, &f->c, f->from,
                               f->to);
}

int tsdb_ooo_flush(struct tsdb *db)
{
    struct ooo_flush f = {.db = db};
    pthread_rwlock_rdlock(&db->head.lock);
    tsdb_ooo_copy(db, false, &f.c);
    pthread_rwlock_unlock(&db->head.lock);
    int rc = 0;
    size_t nser = f.c.nser;
    if (nser)
        f.m = ooo_merge_new();
    for (f.from = 0; f.from < nser && rc == 0; f.from = f.to) {
        f.to = nser - f.from < OOO_FLUSH_TXN_SERIES ? nser : f.from + OOO_FLUSH_TXN_SERIES;
        rc = tsdb_write(db, flush_txn, &f);
        if (rc != 0)
            break;
        /* In LMDB now: readers that see the new txn must not get them
         * twice from the head (they would merge them away, but the head
         * must also let go of their WAL segments). */
        pthread_rwlock_wrlock(&db->head.lock);
        for (size_t i = f.from; i < f.to; i++)
            ooo_series_remove(&db->ooo, f.c.ids[i], f.c.s.ts + f.c.off[i], f.c.cnt[i]);
        pthread_rwlock_unlock(&db->head.lock);
    }
    if (rc != 0)
        log_error(db->opts.log, "tsdb", "Writing out-of-order samples failed", "err",
                  mdb_strerror(rc));
    ooo_merge_free(f.m);
    tsdb_ooo_copy_free(&f.c);
    return rc;
}
