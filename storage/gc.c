/* gc.c — dropping series that have no sample left.
 *
 * Retention (retention.c) and deletes (admin.c) remove samples; a series
 * whose last sample went must then leave the index (postings, label names
 * and values, the series listing, cardinality statistics), as Prometheus
 * drops it from the head and from rewritten blocks.  Series that went
 * quiet also leave the head (tsdb_gc_head), which frees their memory and
 * takes them out of prometheus_tsdb_head_series, as Prometheus's head
 * garbage collection does once their chunks are persisted.
 *
 * Finding the candidates: every txn that deletes samples also puts the
 * affected series' groups (id / 32, the archive's grouping) into the "gc"
 * DBI (tsdb_gc_mark), so the to-do list is exactly as durable as the
 * deletes and nothing is missed across a crash.  The collector works
 * through it in batches of GC_BATCH_GROUPS groups, one write txn each, so
 * no txn grows large and appends (which never wait for LMDB writes, only
 * for the head lock) are not held up.  For each series of a group it
 * checks, inside the txn: the index has it; the head has no sample of it
 * (in-order or out-of-order); no block; no archived window (one member
 * table per window the archive holds, shared by the group's 32 series,
 * walked newest first and stopped once every series of the group is
 * accounted for).  The empty ones are deleted from the index in that txn.
 *
 * Racing appends: an appender may hold a series id (its caller's cached
 * ref) while the series is collected.  So the txn is committed under the
 * head's exclusive lock, after checking again that no sample of those
 * series arrived in the head meanwhile (if one did, the txn is dropped and
 * the batch tried again), and the head's epoch is bumped; an appender
 * checks the ids it did not find in the head against the index, and does
 * so again if the epoch moved before it took the lock (tsdb_append.c).
 * A sample for a collected series is dropped and the caller's ref reset
 * to 0, so its next append names the series by labels and recreates it. */
#include "storage/tsdb_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

#define GC_BATCH_GROUPS 64

static void group_key(uint32_t group, uint8_t k[4])
{
    for (int i = 0; i < 4; i++)
        k[i] = (uint8_t)(group >> (24 - 8 * i));
}

int tsdb_gc_mark_group(MDB_txn *txn, MDB_dbi gc, uint32_t group)
{
    uint8_t k[4];
    group_key(group, k);
    MDB_val key = {sizeof k, k}, val = {0, k};
    return mdb_put(txn, gc, &key, &val, 0);
}

int tsdb_gc_mark(MDB_txn *txn, MDB_dbi gc, uint32_t id)
{
    return tsdb_gc_mark_group(txn, gc, id / ARCHIVE_GROUP_SERIES);
}

/* ---- the head ---- */

void tsdb_gc_head(struct tsdb *db)
{
    uint64_t n = 0;
    pthread_rwlock_wrlock(&db->head.lock);
    for (uint32_t id = 0; id < db->head.cap; id++) {
        const struct head_series *s = head_series_at(&db->head, id);
        if (s && !s->dirty && head_series_empty(s) && !ooo_series_get(&db->ooo, id)) {
            head_series_drop(&db->head, id);
            n++;
        }
    }
    pthread_rwlock_unlock(&db->head.lock);
    if (n && db->m_series_removed)
        metric_add(db->m_series_removed, (double)n);
}

/* ---- the index ---- */

struct gc_batch {
    struct tsdb *db;
    uint8_t resume[4]; /* the first group key to look at */
    bool more;         /* groups are left after this batch */
    uint32_t groups[GC_BATCH_GROUPS];
    size_t ngroups;
    uint32_t dead[GC_BATCH_GROUPS * ARCHIVE_GROUP_SERIES];
    size_t ndead;
    struct archive_group g;
};

/* Whether series id has a block. */
static bool has_block(MDB_cursor *c, uint32_t id)
{
    uint8_t k[12];
    tsdb_block_key(id, INT64_MIN, k);
    MDB_val key = {sizeof k, k}, val;
    if (mdb_cursor_get(c, &key, &val, MDB_SET_RANGE) != 0 || key.mv_size != 12)
        return false;
    uint32_t kid;
    int64_t t0;
    tsdb_block_key_decode(key.mv_data, &kid, &t0);
    return kid == id;
}

/* Sets in *found bit i for each series group * 32 + i that has an
 * archived window, walking the windows from the newest down and stopping
 * once every series in want is found. */
static int archive_members(MDB_txn *txn, struct gc_batch *b, uint32_t group, uint32_t want,
                           uint32_t *found)
{
    int64_t first, last;
    *found = 0;
    if (!tsdb_archive_windows(txn, b->db->archive, &first, &last))
        return 0;
    for (int64_t w = last; w >= first && (*found & want) != want; w -= TSDB_WINDOW_MS) {
        int rc =
            archive_group_load(txn, b->db->archive, b->db->maint_codec, w, group, false, &b->g);
        if (rc == EINVAL) {
            *found |= want; /* corrupt: keep the series, as readers keep the group */
            return 0;
        }
        if (rc == MDB_NOTFOUND)
            continue;
        if (rc != 0)
            return rc;
        for (size_t i = 0; i < b->g.n; i++)
            if (b->g.m[i].id / ARCHIVE_GROUP_SERIES == group)
                *found |= 1u << (b->g.m[i].id % ARCHIVE_GROUP_SERIES);
    }
    return 0;
}

/* Finds the empty series of one group and deletes them from the index. */
static int gc_group(MDB_txn *txn, struct gc_batch *b, MDB_cursor *blocks, uint32_t group)
{
    struct tsdb *db = b->db;
    uint32_t want = 0;
    for (uint32_t i = 0; i < ARCHIVE_GROUP_SERIES; i++) {
        uint32_t id = group * ARCHIVE_GROUP_SERIES + i;
        if (id == 0 || index_series_exists(db->index, txn, id) != 0)
            continue;
        if (!has_block(blocks, id))
            want |= 1u << i;
    }
    /* The head is checked again at commit (gc_commit), under its lock. */
    pthread_rwlock_rdlock(&db->head.lock);
    for (uint32_t i = 0; i < ARCHIVE_GROUP_SERIES; i++) {
        uint32_t id = group * ARCHIVE_GROUP_SERIES + i;
        const struct head_series *s = head_series_get(&db->head, id, false);
        if ((s && !head_series_empty(s)) || ooo_series_get(&db->ooo, id))
            want &= ~(1u << i);
    }
    pthread_rwlock_unlock(&db->head.lock);
    uint32_t found = 0;
    int rc = want ? archive_members(txn, b, group, want, &found) : 0;
    for (uint32_t i = 0; rc == 0 && i < ARCHIVE_GROUP_SERIES; i++) {
        if (!(want & ~found & (1u << i)))
            continue;
        uint32_t id = group * ARCHIVE_GROUP_SERIES + i;
        rc = index_series_delete(db->index, txn, id);
        b->dead[b->ndead++] = id;
    }
    return rc;
}

static int gc_batch_txn(MDB_txn *txn, void *arg)
{
    struct gc_batch *b = arg;
    b->ngroups = b->ndead = 0;
    b->more = false;
    MDB_cursor *c, *blocks;
    int rc = mdb_cursor_open(txn, b->db->gc, &c);
    if (rc != 0)
        return rc;
    if ((rc = mdb_cursor_open(txn, b->db->blocks, &blocks)) != 0) {
        mdb_cursor_close(c);
        return rc;
    }
    MDB_val key = {sizeof b->resume, b->resume}, val;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_GET_CURRENT)) {
        if (b->ngroups == GC_BATCH_GROUPS) {
            b->more = true;
            memcpy(b->resume, key.mv_data, sizeof b->resume);
            break;
        }
        uint32_t group = 0;
        for (size_t i = 0; i < key.mv_size && i < 4; i++)
            group = group << 8 | ((const uint8_t *)key.mv_data)[i];
        if ((rc = gc_group(txn, b, blocks, group)) != 0)
            break;
        b->groups[b->ngroups++] = group;
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    }
    mdb_cursor_close(blocks);
    mdb_cursor_close(c);
    /* After deleting the last key the cursor is unset: EINVAL. */
    if (rc == MDB_NOTFOUND || (rc == EINVAL && b->ngroups))
        rc = 0;
    return rc == 0 ? index_flush(b->db->index, txn) : rc;
}

#define GC_RACED (-30000) /* not an LMDB status: a sample arrived meanwhile */

/* Commits under the head's exclusive lock unless a collected series got a
 * sample in the head since it was checked. */
static int gc_commit(MDB_txn *txn, void *arg)
{
    struct gc_batch *b = arg;
    struct tsdb *db = b->db;
    pthread_rwlock_wrlock(&db->head.lock);
    for (size_t i = 0; i < b->ndead; i++) {
        const struct head_series *s = head_series_get(&db->head, b->dead[i], false);
        if ((s && !head_series_empty(s)) || ooo_series_get(&db->ooo, b->dead[i])) {
            pthread_rwlock_unlock(&db->head.lock);
            mdb_txn_abort(txn);
            return GC_RACED;
        }
    }
    int rc = mdb_txn_commit(txn);
    if (rc == 0 && b->ndead) {
        for (size_t i = 0; i < b->ndead; i++)
            if (head_series_get(&db->head, b->dead[i], false))
                head_series_drop(&db->head, b->dead[i]);
        db->head.epoch++; /* appenders check their ids again */
    }
    pthread_rwlock_unlock(&db->head.lock);
    return rc;
}

int tsdb_gc_series(struct tsdb *db, uint64_t *removed)
{
    struct gc_batch *b = xcalloc(1, sizeof *b);
    b->db = db;
    uint64_t total = 0;
    int rc;
    do {
        uint8_t from[4];
        memcpy(from, b->resume, sizeof from);
        rc = tsdb_write_with(db, gc_batch_txn, gc_commit, b);
        if (rc == GC_RACED) {
            memcpy(b->resume, from, sizeof from); /* the same batch again */
            b->more = true;
            rc = 0;
            continue;
        }
        total += rc == 0 ? b->ndead : 0;
    } while (rc == 0 && b->more);
    archive_group_free(&b->g);
    free(b);
    if (rc != 0)
        log_error(db->opts.log, "tsdb", "Series garbage collection failed", "err",
                  mdb_strerror(rc));
    if (total) {
        char n[32];
        snprintf(n, sizeof n, "%llu", (unsigned long long)total);
        log_info(db->opts.log, "tsdb", "Removed series with no samples left", "series", n);
    }
    if (removed)
        *removed += total;
    return rc;
}
