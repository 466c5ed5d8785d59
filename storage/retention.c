/* retention.c — dropping old blocks by age (retention_ms) and by size
 * (retention_bytes).
 *
 * Finished windows are in the archive, keyed window first, so its oldest
 * data is a run of keys at the start of the tree: both kinds of retention
 * delete it there with one cursor, in txns of ARCHIVE_BATCH_DELETES keys,
 * which empties whole leaf pages.  The rest (unarchived blocks, keyed
 * series first) is walked series by series as below.
 *
 * Both delete whole blocks, oldest first, and leave series in the index
 * even when no sample of theirs is left (ingest paths may hold their ids;
 * garbage-collecting series is a later change).  Both walk the series ids
 * in batches of RETENTION_BATCH_SERIES per write txn, so a large database
 * never makes one huge txn, and go through tsdb_write, which grows the map
 * if even a delete needs new pages (LMDB copies on write).
 *
 * Time: a block is dropped once its last sample is older than now minus
 * retention_ms (wall-clock time, as before; a series' blocks are in time
 * order, so the walk stops at its first block to keep).
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
    int64_t cutoff;
    uint64_t dropped; /* reset by each attempt */
};

/* Deletes the blocks of series id that end before cutoff; they are the
 * oldest keys of the series, so this stops at the first one to keep. */
static int time_series(MDB_cursor *c, uint32_t id, int64_t cutoff, uint64_t *dropped)
{
    uint8_t k[12];
    tsdb_block_key(id, INT64_MIN, k);
    MDB_val key = {sizeof k, k}, val;
    int rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    for (; rc == 0; rc = mdb_cursor_get(c, &key, &val, MDB_GET_CURRENT)) {
        uint32_t kid;
        int64_t t0, tmax;
        tsdb_block_key_decode(key.mv_data, &kid, &t0);
        if (kid != id || !tsdb_block_tmax(t0, &val, &tmax) || tmax >= cutoff)
            return 0;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            return rc;
        (*dropped)++;
    }
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int time_batch_txn(MDB_txn *txn, void *arg)
{
    struct time_batch *b = arg;
    MDB_cursor *c;
    b->dropped = 0;
    int rc = mdb_cursor_open(txn, b->db->blocks, &c);
    for (uint32_t id = b->from; rc == 0 && id < b->to; id++)
        rc = time_series(c, id, b->cutoff, &b->dropped);
    mdb_cursor_close(c);
    return rc;
}

/* Deletes, from the start of the archive, the whole windows that end by
 * b->window_end and, up to b->cutoff, the groups (archive.c) whose last
 * sample is older than b->cutoff; at most ARCHIVE_BATCH_DELETES pieces
 * per txn.  *more is set when it stopped at that limit. */
struct archive_batch {
    struct tsdb *db;
    int64_t cutoff;     /* time: groups ending before it go */
    int64_t window_end; /* whole windows ending by it go */
    uint64_t dropped;   /* reset by each attempt */
    bool more;
    struct archive_group g;
};

#define ARCHIVE_BATCH_DELETES 100000

/* Whether the group (w, g) of a window that is not wholly expired ends
 * before the cutoff (a corrupt one is kept, as readers skip it). */
static bool archive_group_expired(MDB_txn *txn, struct archive_batch *b, int64_t w, uint32_t g)
{
    return archive_group_load(txn, b->db->archive, b->db->maint_codec, w, g, false, &b->g) == 0 &&
           archive_group_tmax(&b->g) < b->cutoff;
}

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
    bool deleted = false, drop = false;
    int64_t gw = 0;
    uint32_t gg = UINT32_MAX; /* the group drop was decided for */
    for (rc = mdb_cursor_get(c, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, deleted ? MDB_GET_CURRENT : MDB_NEXT)) {
        int64_t w;
        uint32_t g;
        deleted = false;
        if (key.mv_size != ARCHIVE_KEY_LEN)
            continue;
        archive_key_decode(key.mv_data, &w, &g);
        if (w > b->cutoff)
            break; /* every later window starts after the cutoff */
        bool whole = w <= b->window_end - TSDB_WINDOW_MS;
        if (!whole && (w != gw || g != gg)) {
            gw = w;
            gg = g;
            drop = archive_group_expired(txn, b, w, g);
        }
        if (!whole && !drop)
            continue;
        if (b->dropped == ARCHIVE_BATCH_DELETES) {
            b->more = true;
            break;
        }
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
static int archive_drop(struct tsdb *db, int64_t cutoff, int64_t window_end, uint64_t *dropped)
{
    struct archive_batch b = {.db = db, .cutoff = cutoff, .window_end = window_end};
    int rc;
    do {
        rc = tsdb_write(db, archive_batch_txn, &b);
        *dropped += rc == 0 ? b.dropped : 0;
    } while (rc == 0 && b.more);
    archive_group_free(&b.g);
    return rc;
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
    struct time_batch b = {.db = db, .cutoff = tsdb_now_ms() - db->opts.retention_ms};
    uint32_t last = series_count(db);
    uint64_t dropped = 0;
    /* The archive: whole windows before the cutoff's, then a scan of the
     * window holding it. */
    int rc = archive_drop(db, b.cutoff, tsdb_window_start(b.cutoff), &dropped);
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
            rc = archive_drop(db, w, w + TSDB_WINDOW_MS, &na);
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
