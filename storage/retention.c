/* retention.c — dropping old blocks by age (retention_ms) and by size
 * (retention_bytes).
 *
 * Finished windows are in the archive, keyed window first, so its oldest
 * data is a run of keys at the start of the tree: both kinds of retention
 * delete it there with one cursor, in txns of ARCHIVE_BATCH_DELETES keys,
 * which empties whole leaf pages.  The rest (unarchived blocks, keyed
 * series first) is walked series by series as below.
 *
 * Both delete whole blocks, oldest first.  Every txn that deletes data of
 * a series also lists its group for the series garbage collector (gc.c),
 * which then removes the series that have no sample left from the index
 * and the head.  Both walk the series ids in batches of
 * RETENTION_BATCH_SERIES per write txn, so a large database never makes
 * one huge txn, and go through tsdb_write, which grows the map if even a
 * delete needs new pages (LMDB copies on write).
 *
 * Time: Prometheus's semantics (BeyondTimeRetention in tsdb/db.go): the
 * reference point is the data, not the wall clock.  Prometheus deletes a
 * block once the newest block's end is at least retention past the
 * block's end, whole blocks only; head data never counts.  Here the
 * persisted blocks' newest end is the end of the newest finished window
 * (compact.c: a window is finished once the newest sample is
 * TSDB_COMPACT_MARGIN_MS past its end, as Prometheus persists a head range
 * once the head spans 1.5 of them), and a window goes, across all series
 * and the archive, once that end is at least retention_ms past its own
 * end.  So a server that stopped ingesting keeps its data, backfilled old
 * data is judged against the newest data and not against today, and a
 * sample with a timestamp far in the future makes everything older than
 * retention before it go, as in Prometheus.  The newest data is db->max_t,
 * or after a restart with an empty WAL the newest window LMDB holds
 * (compaction marks and archive: the window's start, so the estimate errs
 * towards keeping data).
 *
 * Size: the measure is LMDB's used bytes (tsdb_env.c: pages up to the last
 * one written, minus the free list) plus the WAL's bytes, against
 * retention_bytes.  LMDB never shrinks its file, but it reuses free pages,
 * so keeping the used bytes under the bound keeps the file there too.
 * Over the bound, the oldest window (the smallest window holding the first
 * block of any series) is deleted across all series, then the next, until
 * the deleted blocks account for the excess.  What a deleted block frees is
 * estimated as the blocks DBI's pages divided by its entries: a whole
 * window holds one block of (nearly) every series, so its mix of small and
 * large blocks is the DBI's.
 *
 * The catch is that deleting a block often frees no page at once: it
 * leaves a hole in a leaf page that also holds other blocks, and LMDB
 * merges a leaf only once it is under a quarter full.  The used bytes then
 * stay over the bound for a while although enough was deleted, and a naive
 * "delete until under the bound" would go on deleting window after window
 * (up to ~3/4 of the data) before pages start to merge.  So a deletion
 * remembers how much it freed that the used bytes did not show (size_room);
 * blocks written afterwards fill those holes first, so the room shrinks by
 * the bytes the flusher writes, and the next run deletes only for the excess
 * beyond the remaining room.  The bound is therefore approximate in the
 * short run (as Prometheus's is: it deletes whole 2 h+ blocks), but the
 * overshoot in deleted data is bounded by one window per run. */
#include "storage/tsdb_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/log.h"

#define RETENTION_BATCH_SERIES 4096

/* ---- time ---- */

struct time_batch {
    struct tsdb *db;
    uint32_t from, to; /* series ids [from, to) */
    int64_t cutoff;    /* windows ending by then go */
    uint64_t dropped;  /* reset by each attempt */
};

/* Deletes the blocks of series id in windows that end by cutoff; they are
 * the oldest keys of the series, so this stops at the first one to keep. */
static int time_series(MDB_txn *txn, MDB_cursor *c, struct time_batch *b, uint32_t id)
{
    uint8_t k[12];
    tsdb_block_key(id, INT64_MIN, k);
    MDB_val key = {sizeof k, k}, val;
    uint64_t before = b->dropped;
    int rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(c, &key, &val, MDB_GET_CURRENT)) {
        uint32_t kid;
        int64_t t0;
        tsdb_block_key_decode(key.mv_data, &kid, &t0);
        if (kid != id || tsdb_window_start(t0) > b->cutoff - TSDB_WINDOW_MS)
            break;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            return rc;
        b->dropped++;
    }
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    return b->dropped > before ? tsdb_gc_mark(txn, b->db->gc, id) : 0;
}

static int time_batch_txn(MDB_txn *txn, void *arg)
{
    struct time_batch *b = arg;
    MDB_cursor *c;
    b->dropped = 0;
    int rc = mdb_cursor_open(txn, b->db->blocks, &c);
    for (uint32_t id = b->from; rc == 0 && id < b->to; id++)
        rc = time_series(txn, c, b, id);
    mdb_cursor_close(c);
    return rc;
}

/* Deletes, from the start of the archive, the windows that end by
 * b->window_end, at most ARCHIVE_BATCH_DELETES pieces per txn; *more is
 * set when it stopped at that limit.  Their groups go on the collector's
 * list. */
struct archive_batch {
    struct tsdb *db;
    int64_t window_end;
    uint64_t dropped; /* reset by each attempt */
    bool more;
};

#define ARCHIVE_BATCH_DELETES 100000

static int archive_batch_txn(MDB_txn *txn, void *arg)
{
    struct archive_batch *b = arg;
    MDB_cursor *c;
    b->dropped = 0;
    b->more = false;
    int rc = mdb_cursor_open(txn, b->db->archive, &c);
    if (rc != 0)
        return rc;
    MDB_val key, val;
    /* After a delete the cursor is on the next key: MDB_GET_CURRENT. */
    bool deleted = false;
    uint32_t marked = UINT32_MAX; /* the group last listed for gc.c */
    for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, deleted ? MDB_GET_CURRENT : MDB_NEXT)) {
        int64_t w;
        uint32_t g;
        deleted = false;
        if (key.mv_size != ARCHIVE_KEY_LEN)
            continue;
        archive_key_decode(key.mv_data, &w, &g);
        if (w > b->window_end - TSDB_WINDOW_MS)
            break; /* this window and every later one stay */
        if (b->dropped == ARCHIVE_BATCH_DELETES) {
            b->more = true;
            break;
        }
        if (g != marked && (rc = tsdb_gc_mark_group(txn, b->db->gc, g)) != 0)
            break;
        marked = g;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
        b->dropped++;
        deleted = true;
    }
    mdb_cursor_close(c);
    /* Deleting the last key empties the tree and uninitialises the cursor,
     * so MDB_GET_CURRENT then says EINVAL. */
    return rc == MDB_NOTFOUND || (rc == EINVAL && deleted) ? 0 : rc;
}

/* Runs archive_batch_txn until done; adds the parts deleted to *dropped. */
static int archive_drop(struct tsdb *db, int64_t window_end, uint64_t *dropped)
{
    struct archive_batch b = {.db = db, .window_end = window_end};
    int rc;
    do {
        rc = tsdb_write(db, archive_batch_txn, &b);
        *dropped += rc == 0 ? b.dropped : 0;
    } while (rc == 0 && b.more);
    return rc;
}

/* The newest window with data in LMDB, by its start (compaction marks for
 * blocks, then the archive's last key), or INT64_MIN. */
static int64_t stored_newest_window(struct tsdb *db)
{
    MDB_txn *txn;
    if (tsdb_read_begin(db, &txn) != 0)
        return INT64_MIN;
    int64_t newest = INT64_MIN, first, last;
    if (tsdb_archive_windows(txn, db->archive, &first, &last))
        newest = last;
    MDB_cursor *c;
    MDB_val key, val;
    if (mdb_cursor_open(txn, db->compact, &c) == 0) {
        if (mdb_cursor_get(c, &key, &val, MDB_LAST) == 0 && key.mv_size == 12) {
            uint32_t id;
            tsdb_compact_key_decode(key.mv_data, &last, &id);
            newest = last > newest ? last : newest;
        }
        mdb_cursor_close(c);
    }
    tsdb_read_end(db, txn);
    return newest;
}

/* Windows ending by the returned time are beyond time retention;
 * INT64_MIN if none can be (no data, or not that much). */
static int64_t time_cutoff(struct tsdb *db)
{
    int64_t newest = atomic_load(&db->max_t), stored = stored_newest_window(db);
    newest = stored > newest ? stored : newest;
    if (newest < INT64_MIN / 2 + db->opts.retention_ms + TSDB_COMPACT_MARGIN_MS + TSDB_WINDOW_MS)
        return INT64_MIN;
    /* The end of the newest finished window: Prometheus's newest block's
     * end. */
    int64_t end = tsdb_window_start(newest - TSDB_COMPACT_MARGIN_MS);
    return end - db->opts.retention_ms;
}

static uint32_t series_count(struct tsdb *db)
{
    MDB_txn *txn;
    if (tsdb_read_begin(db, &txn) != 0)
        return 0;
    uint64_t n = index_series_count(db->index, txn);
    tsdb_read_end(db, txn);
    return (uint32_t)n;
}

int tsdb_retention_time(struct tsdb *db)
{
    if (db->opts.retention_ms <= 0)
        return 0;
    struct time_batch b = {.db = db, .cutoff = time_cutoff(db)};
    if (b.cutoff == INT64_MIN)
        return 0;
    uint32_t last = series_count(db);
    uint64_t dropped = 0;
    int rc = archive_drop(db, b.cutoff, &dropped);
    for (uint32_t from = 1; rc == 0 && from <= last; from += RETENTION_BATCH_SERIES) {
        b.from = from;
        b.to = last - from < RETENTION_BATCH_SERIES ? last + 1 : from + RETENTION_BATCH_SERIES;
        rc = tsdb_write(db, time_batch_txn, &b);
        dropped += rc == 0 ? b.dropped : 0;
    }
    if (rc != 0)
        log_error(db->opts.log, "tsdb", "Time retention failed", "err", mdb_strerror(rc));
    if (dropped && db->m_time_retentions)
        metric_inc(db->m_time_retentions);
    return rc;
}

/* ---- size ---- */

/* The used bytes (LMDB and WAL) and the page bytes per entry of the
 * blocks and archive DBIs. */
static int size_measure(struct tsdb *db, uint64_t *used, double per_entry[2])
{
    MDB_txn *txn;
    int rc = tsdb_read_begin(db, &txn);
    if (rc != 0)
        return rc;
    MDB_stat st[2];
    mdb_stat(txn, db->blocks, &st[0]);
    mdb_stat(txn, db->archive, &st[1]);
    *used = tsdb_env_used_bytes(db, txn);
    tsdb_read_end(db, txn);
    struct wal_stats ws;
    wal_stats_get(db->wal, &ws);
    *used += ws.storage_bytes;
    for (int i = 0; i < 2; i++) {
        uint64_t pages = st[i].ms_branch_pages + st[i].ms_leaf_pages + st[i].ms_overflow_pages;
        per_entry[i] =
            st[i].ms_entries ? (double)pages * st[i].ms_psize / (double)st[i].ms_entries : 0;
    }
    return 0;
}

struct size_batch {
    struct tsdb *db;
    uint32_t from, to;
    int64_t window;   /* delete the blocks that start before its end */
    int64_t next;     /* out: the oldest window left in [from, to) */
    uint64_t dropped; /* reset by each attempt */
};

static int size_batch_txn(MDB_txn *txn, void *arg)
{
    struct size_batch *b = arg;
    MDB_cursor *c;
    b->dropped = 0;
    b->next = INT64_MAX;
    int rc = mdb_cursor_open(txn, b->db->blocks, &c);
    for (uint32_t id = b->from; rc == 0 && id < b->to; id++) {
        uint64_t before = b->dropped;
        uint8_t k[12];
        tsdb_block_key(id, INT64_MIN, k);
        MDB_val key = {sizeof k, k}, val;
        for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
             rc = mdb_cursor_get(c, &key, &val, MDB_GET_CURRENT)) {
            uint32_t kid;
            int64_t t0;
            tsdb_block_key_decode(key.mv_data, &kid, &t0);
            if (kid != id)
                break;
            if (t0 >= b->window + TSDB_WINDOW_MS) {
                int64_t w = tsdb_window_start(t0);
                b->next = w < b->next ? w : b->next;
                break;
            }
            if ((rc = mdb_cursor_del(c, 0)) != 0)
                break;
            b->dropped++;
        }
        rc = rc == MDB_NOTFOUND ? 0 : rc;
        if (rc == 0 && b->dropped > before)
            rc = tsdb_gc_mark(txn, b->db->gc, id);
    }
    mdb_cursor_close(c);
    return rc;
}

/* Deletes window w (and anything older) across all series; returns the
 * blocks deleted in *dropped and the oldest window left in *next. */
static int size_drop_window(struct tsdb *db, uint32_t last, int64_t w, uint64_t *dropped,
                            int64_t *next)
{
    struct size_batch b = {.db = db, .window = w};
    *next = INT64_MAX;
    for (uint32_t from = 1; from <= last; from += RETENTION_BATCH_SERIES) {
        b.from = from;
        b.to = last - from < RETENTION_BATCH_SERIES ? last + 1 : from + RETENTION_BATCH_SERIES;
        int rc = tsdb_write(db, size_batch_txn, &b);
        if (rc != 0)
            return rc;
        *dropped += b.dropped;
        *next = b.next < *next ? b.next : *next;
    }
    return 0;
}

/* The oldest window in the archive, or INT64_MAX. */
static int64_t archive_oldest(struct tsdb *db)
{
    MDB_txn *txn;
    int64_t first, last;
    if (tsdb_read_begin(db, &txn) != 0)
        return INT64_MAX;
    bool any = tsdb_archive_windows(txn, db->archive, &first, &last);
    tsdb_read_end(db, txn);
    return any ? first : INT64_MAX;
}

int tsdb_retention_size(struct tsdb *db)
{
    if (db->opts.retention_bytes <= 0)
        return 0;
    uint64_t bound = (uint64_t)db->opts.retention_bytes, used;
    double per[2];
    int rc = size_measure(db, &used, per);
    if (rc != 0 || used <= bound) {
        db->size_room = 0;
        return rc;
    }
    /* Holes left by the last deletion that new blocks have not filled. */
    uint64_t written = db->blocks_written_bytes - db->size_room_written_at;
    uint64_t room = db->size_room > written ? db->size_room - written : 0;
    if (used <= bound + room)
        return 0;
    double excess = (double)(used - bound - room), freed = 0;
    uint32_t last = series_count(db);
    uint64_t dropped = 0;
    /* A window below every block's makes the first pass over the blocks
     * find their oldest; the archive's oldest is its first key.  Then the
     * oldest window of the two goes, from both, until enough is freed. */
    int64_t bnext;
    rc = size_drop_window(db, last, INT64_MIN, &dropped, &bnext);
    int64_t anext = archive_oldest(db);
    while (rc == 0 && (bnext != INT64_MAX || anext != INT64_MAX) && freed < excess) {
        int64_t w = anext < bnext ? anext : bnext;
        uint64_t nb = 0, na = 0;
        if (anext <= w) {
            rc = archive_drop(db, w + TSDB_WINDOW_MS, &na);
            anext = archive_oldest(db);
        }
        if (rc == 0 && bnext <= w)
            rc = size_drop_window(db, last, w, &nb, &bnext);
        dropped += nb + na;
        freed += (double)nb * per[0] + (double)na * per[1];
    }
    uint64_t after = used;
    if (rc == 0)
        rc = size_measure(db, &after, per);
    if (rc != 0) {
        log_error(db->opts.log, "tsdb", "Size retention failed", "err", mdb_strerror(rc));
        return rc;
    }
    double seen = used > after ? (double)(used - after) : 0;
    db->size_room = room + (freed > seen ? (uint64_t)(freed - seen) : 0);
    db->size_room_written_at = db->blocks_written_bytes;
    if (dropped && db->m_size_retentions)
        metric_inc(db->m_size_retentions);
    char b[3][32];
    snprintf(b[0], sizeof b[0], "%llu", (unsigned long long)used);
    snprintf(b[1], sizeof b[1], "%llu", (unsigned long long)after);
    snprintf(b[2], sizeof b[2], "%llu", (unsigned long long)dropped);
    log_info(db->opts.log, "tsdb", "Size retention deleted the oldest blocks", "used_bytes", b[0],
             "used_bytes_after", b[1], "blocks", b[2]);
    return 0;
}
