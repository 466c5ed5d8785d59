/* compact.c — moving each series' finished windows, merged, to the archive.
 *
 * The head cuts a chunk at 120 samples (30 min at a 15 s interval) and at
 * every TSDB_WINDOW_MS (2 h) boundary, and the flusher writes each closed
 * chunk as one block, so a series has up to four blocks per window (more at
 * shorter intervals or with a smaller chunk_samples).  Small blocks cost:
 * storage-compression.md measured ~0.50 bytes/sample at 120-sample blocks
 * (12-byte key each, zstd on less context) against ~0.31 with one block per
 * series per 2 h window.  Compaction rewrites the blocks of a finished
 * window into the "archive2" DBI (tsdb_internal.h) and deletes them from
 * "blocks".  The archive holds groups of 32 series per window, compressed
 * together (archive.c: what that saves and why): compaction works through
 * the marks of one window and group at a time, merges each ready series'
 * archived samples with its blocks (blocks.c's merge rule), and writes the group back once.
 *
 * What needs compaction is written down as it happens: whenever the flusher
 * writes a block it also puts a mark (window start, series id) in the
 * "compact" DBI, in the same txn (tsdb_internal.h).  The marks are keyed
 * window first, so the oldest windows come first, and the mark of a
 * window that is not finished yet stops the scan: everything after it is
 * newer.  Being in LMDB, the marks survive a crash with the blocks they
 * describe and cost nothing to rebuild on open; a mark costs a 12-byte key
 * until compaction deletes it.
 *
 * A window is finished for a series when its end is TSDB_COMPACT_MARGIN_MS
 * (1 h) older than the newest sample accepted (db->max_t: sample time, not
 * wall-clock time, so backfills and tests behave the same) and the head
 * (in-order or out-of-order) holds no sample of the series before the window's end (the flusher
 * writes a series' chunks oldest first, so then every chunk of the window
 * is in LMDB).  A series whose head still holds such a chunk keeps its mark
 * and is looked at again on the next pass.  A sample that arrives later
 * for a compacted window (a series that lags) is written as a new block
 * with a new mark and merged again.
 *
 * Merging decodes what the series has of the window, its archived member
 * first (a lagging series' window may be archived already) and then the
 * blocks in key order, with the readers' rule (blocks.c), encodes the
 * result with block_encode once (without zstd: the group is compressed as
 * a whole), deletes the blocks and rewrites the group, in one write txn
 * for a batch of series.  Readers hold LMDB read txns (MVCC), so each
 * sees either the old state or the new one, and both decode to the same
 * samples.
 *
 * Why a second DBI: "blocks" is keyed series first, so every flush
 * inserts into the middle of its B-tree and its leaves sit half full (see
 * the measurements below).  The archive is keyed window first, and marks
 * are worked through window first, series in id order, so its keys come
 * in increasing order and are put with MDB_APPEND, which leaves every
 * leaf full; only a late window (a lagging series, a window that was not
 * ready on the first pass) is a plain insert.  Large group values are cut
 * into full overflow pages and a short tail (archive.c), so no half-empty
 * overflow pages either.
 *
 * Measured on bench/storage.sh's real dataset (838 series, 1.03M samples,
 * all of it archived after `vigil tsdb import`): the archive took 92 pages
 * (0.366 bytes/sample) with one value per series and window, parts kept
 * under half a page; 73 with groups of 32 at zstd 3, 71 at zstd 9, 68
 * with the member tables compressed.  Whole data dir 0.588 -> 0.453
 * bytes/sample (VictoriaMetrics 0.454-0.467 on the same data).
 *
 * Work is bounded: the flusher gives compaction a time budget per round
 * and it resumes after the last mark it looked at (compact_resume), going
 * back to the first mark once it reaches the end or an unfinished window.
 *
 * What it buys, measured with bench/compact_bench.c (2000 node_exporter-
 * like series; this synthetic set is noisier than the research's real
 * one): keys and values 0.847 -> 0.678 bytes/sample on an exact 15 s grid
 * (keys 0.100 -> 0.025, values 0.747 -> 0.653), 1.99 -> 1.73 with +-50 ms
 * jitter, and a quarter of the blocks to seek and decode.  LMDB's pages do
 * not follow: blocks are keyed series first, so every flush inserts one key
 * per series in the middle of the B-tree (leaves split in half, ~55-60 %
 * full), and a merge leaves holes that LMDB only reclaims when a leaf falls
 * under a quarter full.  Over 48 h of ingestion with compaction running,
 * the blocks DBI's pages cost 1.44 bytes/sample (grid) and 3.07 (jitter)
 * against 1.39 and 3.28 without it; the same blocks written densely would
 * take 0.88 and 2.06.  Getting there needed finished windows stored
 * window-first (appends only), not a better merge: with the archive, 48 h
 * with compaction running cost 0.87 bytes/sample in pages on the grid
 * (blocks and archive together; bench/compact_bench.c). */
#include "storage/tsdb_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define COMPACT_BATCH_SERIES 2000 /* series merged per write txn */

struct compact_mark {
    int64_t window;
    uint32_t id;
    bool ready; /* no head chunk of the series in or before the window */
};

struct compact_batch {
    struct tsdb *db;
    struct compact_mark *marks;
    size_t n;
    struct tsdb_samples buf;
    struct tsdb_t0s t0s;             /* key times of the blocks gathered */
    struct archive_group old, out;   /* a group as stored, and rebuilt */
    uint64_t merged, blocks_removed; /* reset by each attempt of the txn */
};

/* The key just after key (big-endian increment). */
static void key_next(uint8_t key[12])
{
    for (int i = 11; i >= 0; i--)
        if (++key[i] != 0)
            break;
}

/* Reads up to COMPACT_BATCH_SERIES marks of finished windows from the
 * resume point.  Returns the number read; *end is set when the scan
 * reached the last mark or an unfinished window. */
static size_t compact_collect(struct tsdb *db, int64_t limit, struct compact_mark *marks, bool *end,
                              int *rcp)
{
    MDB_txn *txn;
    MDB_cursor *c;
    *end = true;
    int rc = tsdb_read_begin(db, &txn);
    if (rc == 0 && (rc = mdb_cursor_open(txn, db->compact, &c)) != 0)
        tsdb_read_end(db, txn);
    if (rc != 0) {
        *rcp = rc;
        return 0;
    }
    uint8_t from[12] = {0};
    if (db->compact_resume_set)
        memcpy(from, db->compact_resume, sizeof from);
    MDB_val key = {sizeof from, from}, val;
    size_t n = 0;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        if (key.mv_size != 12)
            continue;
        int64_t w;
        uint32_t id;
        tsdb_compact_key_decode(key.mv_data, &w, &id);
        if (w > limit - TSDB_WINDOW_MS)
            break; /* this window and all later ones are not finished */
        if (n == COMPACT_BATCH_SERIES) {
            *end = false;
            break;
        }
        marks[n++] = (struct compact_mark){w, id, false};
    }
    mdb_cursor_close(c);
    tsdb_read_end(db, txn);
    return n;
}

/* Decides which marked series have no head sample left in their window. */
static void compact_check_head(struct tsdb *db, struct compact_mark *marks, size_t n)
{
    pthread_rwlock_rdlock(&db->head.lock);
    for (size_t i = 0; i < n; i++) {
        int64_t h = head_series_oldest_t(&db->head, marks[i].id);
        int64_t o = ooo_series_oldest_t(&db->ooo, marks[i].id);
        marks[i].ready = (h < o ? h : o) >= marks[i].window + TSDB_WINDOW_MS;
    }
    pthread_rwlock_unlock(&db->head.lock);
}

/* Adds series id to the group being rebuilt: its archived samples (if
 * any) merged with its blocks of the window, which are deleted.  *changed
 * is set if it had blocks.  Returns 0, EINVAL (corrupt: the series is
 * left as it was), or an LMDB status. */
static int compact_member(MDB_txn *txn, struct compact_batch *b, uint32_t id, bool *changed)
{
    struct archive_group *old = &b->old, *out = &b->out;
    const struct archive_member *m = archive_group_find(old, id);
    tsdb_samples_clear(&b->buf);
    int rc = m ? archive_member_decode(b->db->maint_codec, old, m, &b->buf) : 0;
    if (rc == 0)
        rc = tsdb_blocks_gather(txn, b->db->blocks, b->db->maint_codec, id, out->window, &b->buf,
                                &b->t0s);
    size_t nblocks = b->t0s.n;
    if (rc == 0 && nblocks > 0)
        rc = archive_group_add_samples(out, b->db->maint_codec, id, b->buf.ts, b->buf.vs,
                                       b->buf.sts, b->buf.n);
    else if (rc == 0 || rc == EINVAL)
        nblocks = 0; /* nothing new, or not decodable: keep it as it was */
    if (rc != 0 && rc != EINVAL)
        return rc;
    if (nblocks == 0) {
        if (m)
            archive_group_add(out, old, m);
        return rc;
    }
    *changed = true;
    b->merged++;
    b->blocks_removed += nblocks;
    return tsdb_blocks_del(txn, b->db->blocks, id, &b->t0s);
}

static void compact_warn_corrupt(struct tsdb *db, uint32_t id)
{
    char ids[16];
    snprintf(ids, sizeof ids, "%u", id);
    log_warn(db->opts.log, "tsdb", "Not compacting a window with a corrupt block", "series", ids);
}

/* Rebuilds the group of marks [i, j) (one window, one group): its stored
 * members merged with the ready marks' blocks, in id order. */
static int compact_group(MDB_txn *txn, struct compact_batch *b, size_t i, size_t j)
{
    struct tsdb *db = b->db;
    int64_t w = b->marks[i].window;
    uint32_t g = b->marks[i].id / ARCHIVE_GROUP_SERIES;
    int rc = archive_group_load(txn, db->archive, db->maint_codec, w, g, true, &b->old);
    if (rc == EINVAL) {
        compact_warn_corrupt(db, b->marks[i].id);
        return 0; /* left in blocks, where readers find it too */
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    archive_group_init(&b->out, w, g);
    bool changed = false;
    size_t k = 0; /* next old member */
    for (; i < j; i++) {
        const struct compact_mark *m = &b->marks[i];
        if (!m->ready)
            continue;
        for (; k < b->old.n && b->old.m[k].id < m->id; k++)
            archive_group_add(&b->out, &b->old, &b->old.m[k]);
        if (k < b->old.n && b->old.m[k].id == m->id)
            k++;
        rc = compact_member(txn, b, m->id, &changed);
        if (rc == EINVAL)
            compact_warn_corrupt(db, m->id);
        else if (rc != 0)
            return rc;
    }
    for (; k < b->old.n; k++)
        archive_group_add(&b->out, &b->old, &b->old.m[k]);
    if (!changed)
        return 0;
    rc = archive_group_store(txn, db->archive, db->maint_codec, db->page_size, &b->out);
    return rc == EINVAL ? EIO : rc; /* too large to store: the txn must not commit */
}

/* The write txn of one batch: rebuilds the groups of the ready series,
 * drops their marks. */
static int compact_batch_txn(MDB_txn *txn, void *arg)
{
    struct compact_batch *b = arg;
    b->merged = b->blocks_removed = 0;
    for (size_t i = 0, j; i < b->n; i = j) {
        const struct compact_mark *m = &b->marks[i];
        for (j = i + 1; j < b->n && b->marks[j].window == m->window &&
                        b->marks[j].id / ARCHIVE_GROUP_SERIES == m->id / ARCHIVE_GROUP_SERIES;
             j++)
            ;
        int rc = compact_group(txn, b, i, j);
        for (size_t x = i; rc == 0 && x < j; x++) {
            if (!b->marks[x].ready)
                continue;
            uint8_t k[12];
            tsdb_compact_key(b->marks[x].window, b->marks[x].id, k);
            MDB_val key = {sizeof k, k};
            rc = mdb_del(txn, b->db->compact, &key, NULL);
            rc = rc == MDB_NOTFOUND ? 0 : rc;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}

int tsdb_compact(struct tsdb *db, double budget_s)
{
    int64_t max_t = atomic_load(&db->max_t);
    if (max_t < INT64_MIN + TSDB_COMPACT_MARGIN_MS + TSDB_WINDOW_MS)
        return 0; /* nothing accepted yet */
    /* Windows ending by then are finished; after tsdb_flush_head every
     * window is (nothing is left in the head to join them). */
    int64_t limit = db->compact_all ? INT64_MAX : max_t - TSDB_COMPACT_MARGIN_MS;
    double t0 = tsdb_mono_seconds();
    struct compact_batch b = {.db = db};
    b.marks = xmalloc(COMPACT_BATCH_SERIES * sizeof *b.marks);
    uint64_t merged = 0, removed = 0;
    bool wrapped = !db->compact_resume_set; /* a pass from the first mark is due */
    int rc = 0;
    for (;;) {
        bool end;
        b.n = compact_collect(db, limit, b.marks, &end, &rc);
        if (rc != 0)
            break;
        compact_check_head(db, b.marks, b.n);
        if (b.n && (rc = tsdb_write(db, compact_batch_txn, &b)) != 0)
            break;
        merged += b.merged;
        removed += b.blocks_removed;
        if (end) {
            db->compact_resume_set = false;
            if (wrapped)
                break;
            wrapped = true; /* go back for the marks before the resume point */
            continue;
        }
        tsdb_compact_key(b.marks[b.n - 1].window, b.marks[b.n - 1].id, db->compact_resume);
        key_next(db->compact_resume);
        db->compact_resume_set = true;
        if (budget_s > 0 && tsdb_mono_seconds() - t0 > budget_s)
            break;
    }
    if (rc != 0)
        log_error(db->opts.log, "tsdb", "Compaction failed", "err", mdb_strerror(rc));
    if (merged && db->m_compactions) {
        metric_inc(db->m_compactions);
        metric_add(db->m_blocks_compacted, (double)removed);
        metric_observe(db->m_compaction_seconds, tsdb_mono_seconds() - t0);
    }
    free(b.marks);
    free(b.t0s.v);
    tsdb_samples_free(&b.buf);
    archive_group_free(&b.old);
    archive_group_free(&b.out);
    return rc;
}
