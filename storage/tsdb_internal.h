/* tsdb_internal.h — storage-internal: struct tsdb and what its files share.
 *
 *   tsdb.c          open/close, WAL replay, the committer and flusher threads
 *   tsdb_append.c   appenders: staging, new series, commit
 *   tsdb_select.c   snapshots and series iteration
 *
 * LMDB layout beside the index's own DBIs (storage/index.c):
 *   "blocks"  key   u32 series id (big endian) | u64 first timestamp (big
 *                   endian, sign bit flipped so negative times sort first)
 *             value uvarint (last - first timestamp) | block (storage/chunk.h)
 *   so one series' blocks are adjacent and in time order, and a range read
 *   is one cursor seek plus a short scan.
 *
 * WAL records (storage/wal.h frames them):
 *   WAL_REC_SAMPLES  uvarint count, then per sample: uvarint series id,
 *                    zigzag varint timestamp delta from the previous sample
 *                    of the record (the first from 0), 8 value bytes (LE).
 * Series are not logged: a new series is committed to the LMDB index and
 * synced before any record refers to it. */
#ifndef VIGIL_STORAGE_TSDB_INTERNAL_H
#define VIGIL_STORAGE_TSDB_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "storage/chunk.h"
#include "storage/head.h"
#include "storage/index.h"
#include "storage/tsdb.h"
#include "storage/wal.h"
#include "util/metrics.h"

#define WAL_REC_SAMPLES 1

/* Chunks never span these windows, and block reads look back this far. */
#define TSDB_WINDOW_MS (2LL * 3600 * 1000)

struct tsdb {
    char *dir;
    int lock_fd;
    MDB_env *env;
    MDB_dbi blocks;
    struct index *index;
    struct wal *wal;
    struct head head;
    struct tsdb_options opts;

    pthread_t committer, flusher;
    bool threads_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
    /* Serialises the creation of new series (one LMDB write txn at a time
     * would do it too, but this keeps the head's id array in step). */
    pthread_mutex_t create_mu;

    _Atomic int64_t max_t; /* newest sample timestamp accepted */
    struct block_codec *flush_codec; /* the flusher thread's */

    /* Self-monitoring; NULL when no registry was given. */
    struct metric *m_appended, *m_out_of_order, *m_duplicate, *m_series_created;
    struct metric *m_chunks_flushed, *m_flush_seconds;
    struct metric *m_head_series, *m_chunks_closed, *m_wal_bytes, *m_wal_fsyncs, *m_map_used,
        *m_map_size;
};

/* Big-endian block key. */
void tsdb_block_key(uint32_t id, int64_t t0, uint8_t key[12]);
void tsdb_block_key_decode(const uint8_t key[12], uint32_t *id, int64_t *t0);

/* Varints (LEB128) as the WAL and block values use them. */
size_t tsdb_uvarint_put(uint8_t *p, uint64_t v);
/* Returns bytes read, 0 if malformed or past end. */
size_t tsdb_uvarint_get(const uint8_t *p, const uint8_t *end, uint64_t *v);

/* Applies a decoded WAL samples record or a live batch to the head; the
 * exclusive head lock is held.  Defined in tsdb_append.c. */
enum head_append_result tsdb_head_apply(struct tsdb *db, uint32_t id, int64_t t, double v,
                                        uint32_t segment);

/* The newest timestamp of series id stored in LMDB, or INT64_MIN. */
int64_t tsdb_persisted_maxt(struct tsdb *db, MDB_txn *txn, uint32_t id);

#endif
