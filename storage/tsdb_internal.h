/* tsdb_internal.h — storage-internal: struct tsdb and what its files share.
 *
 *   tsdb.c          open/close, WAL replay, the committer and flusher threads
 *   tsdb_append.c   appenders: staging, new series, commit
 *   tsdb_select.c   snapshots and series iteration
 *   tsdb_env.c      the LMDB environment: txn gate, map growth, used bytes
 *   blocks.c        reading and writing blocks, the compaction marks
 *   compact.c       merging a finished window's blocks into one per series
 *   retention.c     time- and size-based retention
 *   gc.c            dropping series that have no sample left
 *   ooo.c           out-of-order samples: accepting, flushing, replaying
 *                   (the out-of-order head itself: head_ooo.c)
 *   admin.c         delete_series, clean_tombstones, snapshot
 *
 * LMDB layout beside the index's own DBIs (storage/index.c):
 *   "blocks"  key   u32 series id (big endian) | u64 first timestamp (big
 *                   endian, sign bit flipped so negative times sort first)
 *             value uvarint (last - first timestamp) | block (storage/chunk.h)
 *             so one series' blocks are adjacent and in time order, and a
 *             range read is one cursor seek plus a short scan.  Every block
 *             lies inside one TSDB_WINDOW_MS window (head chunks are cut at
 *             window edges, and compaction and deletes only ever merge or
 *             shrink blocks within a window).
 *   "compact" key   u64 window start (as above) | u32 series id (big endian)
 *             value empty
 *             the windows in which the flusher wrote a block for a series
 *             since compaction last looked at it: compaction's to-do list,
 *             in the order it works through it (oldest window first).
 *             Written in the same txn as the block, so it survives crashes
 *             and needs no rebuild on open.
 *   "gc"      key   u32 group = series id / 32 (big endian), value empty
 *             groups that may hold series with no sample left: written in
 *             the txn that deleted data of one of them (retention, admin
 *             deletes), so the to-do list survives crashes; the series
 *             garbage collector (gc.c) works through it.
 *   "archive2" key  u64 window start (as above) | u32 group = id / 32
 *                   (big endian) | u16 piece (big endian)
 *             value the pieces, concatenated, are one group value: the
 *                   blocks of up to 32 series over the window, compressed
 *                   together (storage/archive.c)
 *             the finished windows, written by compaction (compact.c).
 *             Keyed window first so that compaction, which finishes
 *             windows in time order and groups in id order, mostly
 *             appends (MDB_APPEND: full leaves), and retention drops the
 *             oldest windows from the start of the tree.  A series' data
 *             of one window may be in both DBIs (a sample that arrived
 *             after its window was archived); readers take, window by
 *             window, the series' member of its group and then the
 *             blocks, with the merge rule of blocks.c.  Format 1, the
 *             DBI "archive" (one value per series and window), is
 *             refused on open (tsdb.c).
 *
 * WAL records (storage/wal.h frames them):
 *   WAL_REC_SAMPLES  uvarint count, then per sample: uvarint series id,
 *                    zigzag varint timestamp delta from the previous sample
 *                    of the record (the first from 0), 8 value bytes (LE).
 *   WAL_REC_SAMPLES_ST  the same, for a batch in which some sample has a
 *                    start timestamp: after each sample's value a byte, 0
 *                    (no ST) or 1 followed by zigzag varint ST - T.
 *                    Batches without STs keep writing WAL_REC_SAMPLES, so
 *                    they cost what they did; a binary from before STs
 *                    skips this kind (unknown types are skipped) and loses
 *                    those batches' samples on a downgrade.
 *   WAL_REC_DELETE   zigzag varint mint, zigzag varint maxt, uvarint count,
 *                    then count uvarint series ids, ascending, each as the
 *                    difference from the previous (the first from 0): the
 *                    samples of those series in [mint, maxt] were deleted.
 *                    Replay applies it to the head in log order, so samples
 *                    logged before the delete do not come back and samples
 *                    logged after it stay.
 *   WAL_REC_OOO_SAMPLES  a batch with out-of-order samples (ooo.c):
 *                    the out-of-order samples as a WAL_REC_SAMPLES body,
 *                    then the batch's in-order samples as another (its
 *                    count may be 0).  One record, so a crash keeps or
 *                    loses the batch whole.  Replay puts the first part
 *                    into the out-of-order head as it is (the window
 *                    decided at append time) and the second into the
 *                    head as WAL_REC_SAMPLES.
 *   WAL_REC_OOO_SAMPLES_ST  the same with both bodies in the
 *                    WAL_REC_SAMPLES_ST form (the out-of-order head keeps
 *                    no STs: the first part's are read and dropped).
 * Series are not logged: a new series is committed to the LMDB index and
 * synced before any record refers to it.
 *
 * Locks, outermost first:
 *   maint_mu     the maintenance work: the flusher's rounds (flush,
 *                housekeeping, compaction, retention), tsdb_maintain_now
 *                and the admin operations.  Whoever holds it owns
 *                maint_codec, the compaction cursor and the retention state,
 *                and may read closed head chunks without the head lock
 *                (head.h): nobody else frees them.
 *   env gate     (env_mu, env_cv, env_users) every holder of an LMDB txn,
 *                and every call that touches the map, is inside the gate;
 *                growing the map needs it empty (tsdb_env.c).
 *   head.lock    the head (head.h).  Taken inside the gate, never around a
 *                wait for the gate to empty. */
#ifndef VIGIL_STORAGE_TSDB_INTERNAL_H
#define VIGIL_STORAGE_TSDB_INTERNAL_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>

#include "storage/chunk.h"
#include "storage/head.h"
#include "storage/head_ooo.h"
#include "storage/index.h"
#include "storage/tsdb.h"
#include "storage/varint.h"
#include "storage/wal.h"
#include "util/metrics.h"

#define WAL_REC_SAMPLES        1
#define WAL_REC_DELETE         2
#define WAL_REC_OOO_SAMPLES    3
#define WAL_REC_SAMPLES_ST     4
#define WAL_REC_OOO_SAMPLES_ST 5

/* Chunks never span these windows, and block reads look back this far. */
#define TSDB_WINDOW_MS (2LL * 3600 * 1000)
/* A window is compacted once the newest sample is this far past its end. */
#define TSDB_COMPACT_MARGIN_MS (3600LL * 1000)
#define TSDB_DEFAULT_MAP_BYTES (1ULL << 40) /* address space; the file grows as written */

struct tsdb {
    char *dir;
    int lock_fd;
    MDB_env *env;
    MDB_dbi blocks;
    MDB_dbi compact;         /* the compaction to-do marks */
    MDB_dbi archive;         /* finished windows, window first */
    MDB_dbi gc;              /* groups for the series garbage collector */
    size_t block_inline_max; /* tsdb_block_inline_max of the env's page size */
    unsigned page_size;      /* the env's */
    struct index *index;
    struct wal *wal;
    struct head head;
    struct ooo_head ooo; /* guarded by head.lock */
    struct tsdb_options opts;
    _Atomic int64_t ooo_window_ms; /* out_of_order_time_window; 0 = off */

    pthread_t committer, flusher;
    bool threads_started;
    pthread_mutex_t stop_mu;
    pthread_cond_t stop_cv;
    bool stopping;
    /* Serialises the creation of new series (one LMDB write txn at a time
     * would do it too, but this keeps the head's id array in step). */
    pthread_mutex_t create_mu;
    /* Held by tsdb_write_with from its txn's begin to the index discard
     * after a failure: mdb_txn_abort and a failed commit release LMDB's
     * writer lock first, and the discard must not clear the pending index
     * changes of the next writer.  Inside the env gate, outside LMDB's
     * writer lock. */
    pthread_mutex_t write_mu;

    /* The env gate (tsdb_env.c). */
    pthread_mutex_t env_mu;
    pthread_cond_t env_cv;
    unsigned env_users;         /* threads inside the gate */
    bool env_closed;            /* a grower is waiting: newcomers wait too */
    bool env_resizing;          /* the map is being replaced */
    _Atomic uint64_t map_bytes; /* the current map size */
    _Atomic bool map_written;   /* a write txn committed since the last page release */
    void *map_addr;             /* the data file's mapping, for the flusher's page release */
    size_t map_addr_size;       /* the map size map_addr was found for */

    _Atomic int64_t max_t;       /* newest sample timestamp accepted */
    _Atomic bool flusher_paused; /* tsdb_flusher_pause */

    /* Maintenance state, owned by whoever holds maint_mu. */
    pthread_mutex_t maint_mu;
    bool compact_all; /* tsdb_flush_head: treat every window as finished */
    struct block_codec *maint_codec;
    uint8_t compact_resume[12]; /* compaction continues after this mark */
    bool compact_resume_set;
    uint64_t blocks_written_bytes; /* by the flusher, keys and values */
    uint64_t freed_since_trim;     /* bytes of closed head chunks freed (tsdb_heap_trim) */
    /* Size retention: bytes the last deletions freed inside pages that are
     * still in use, and blocks_written_bytes then (see retention.c). */
    uint64_t size_room;
    uint64_t size_room_written_at;

    /* Self-monitoring; NULL when no registry was given. */
    struct metric *m_appended, *m_out_of_order, *m_duplicate, *m_series_created;
    struct metric *m_ooo_appended, *m_too_old, *m_series_removed;
    struct metric *m_chunks_flushed, *m_flush_seconds;
    struct metric *m_compactions, *m_compaction_seconds, *m_blocks_compacted;
    struct metric *m_size_retentions, *m_time_retentions, *m_map_grows;
    struct metric *m_head_series, *m_chunks_closed, *m_wal_bytes, *m_wal_fsyncs, *m_map_used,
        *m_map_size;
};

/* ---- helpers (tsdb.c) ---- */

/* Big-endian block key. */
void tsdb_block_key(uint32_t id, int64_t t0, uint8_t key[12]);
void tsdb_block_key_decode(const uint8_t key[12], uint32_t *id, int64_t *t0);

/* Start of the window holding t (floor to TSDB_WINDOW_MS). */
int64_t tsdb_window_start(int64_t t);

double tsdb_mono_seconds(void);
int64_t tsdb_now_ms(void);
/* mkdir -p; -1 with errno. */
int tsdb_mkdir_all(const char *path);

/* Applies one sample of a live batch to the head, out-of-order samples
 * to the out-of-order head when the window takes them (ooo.c); the
 * exclusive head lock is held.  Defined in tsdb_append.c. */
enum head_append_result tsdb_head_apply(struct tsdb *db, uint32_t id, int64_t t, double v,
                                        int64_t st, uint32_t segment);

/* The newest timestamp of series id stored in LMDB, or INT64_MIN, as far
 * as it is at or after since: archive windows that end before since are
 * not looked at (one lookup per window from the newest archived one back
 * to since's), so a result below since may miss older archived data.
 * WAL replay passes the series' first replayed sample: only the samples
 * from there on are compared with the result.  bc: the caller's codec
 * (the archive's member tables are compressed).  See tsdb.c. */
int64_t tsdb_persisted_maxt(struct tsdb *db, MDB_txn *txn, struct block_codec *bc, uint32_t id,
                            int64_t since);

/* Runs the flusher's periodic work now, on the calling thread: closes idle
 * head chunks, flushes every closed chunk, truncates the WAL, compacts
 * every finished window (no time budget) and applies time and size
 * retention.  For tests and tools; safe beside the flusher thread (both
 * take maint_mu).  Returns 0, or an LMDB status of the first failure. */
int tsdb_maintain_now(struct tsdb *db);
/* Only the first part: closes idle chunks, flushes, truncates the WAL. */
int tsdb_flush_now(struct tsdb *db);
/* Test hook: while paused, the flusher thread skips its rounds, so a test
 * decides when maintenance happens. */
void tsdb_flusher_pause(struct tsdb *db, bool paused);

/* ---- the env gate and map growth (tsdb_env.c) ---- */

/* Enter before beginning a txn or touching the map (mdb_env_info,
 * mdb_env_stat, mdb_env_copy2); leave after the txn ended.  Entering never
 * waits for another user to leave, only for a resize in progress (or for a
 * grower that has waited a while: see tsdb_env.c).  Any thread may leave
 * for any other: a series set may be freed on another thread. */
void tsdb_env_enter(struct tsdb *db);
void tsdb_env_leave(struct tsdb *db);
/* A read txn inside the gate; tsdb_read_end aborts it and leaves. */
int tsdb_read_begin(struct tsdb *db, MDB_txn **txn);
void tsdb_read_end(struct tsdb *db, MDB_txn *txn);
/* Runs fn in a fresh write txn inside the gate and commits it.  When fn or
 * the commit fails with MDB_MAP_FULL, the txn is aborted, the map grown and
 * fn run again from the start in a new txn, so fn must only act through
 * txn (and reset whatever it accumulates on each call).  index_discard is
 * called after every abort.  Returns 0, fn's nonzero status, or an LMDB
 * status.  Must not be called inside the gate. */
typedef int (*tsdb_write_fn)(MDB_txn *txn, void *arg);
int tsdb_write(struct tsdb *db, tsdb_write_fn fn, void *arg);
/* The same, but fn's txn is committed by commit_fn(txn, arg) instead, so
 * the caller can commit under its own lock (admin.c).  commit_fn returns
 * mdb_txn_commit's status. */
int tsdb_write_with(struct tsdb *db, tsdb_write_fn fn, int (*commit_fn)(MDB_txn *txn, void *arg),
                    void *arg);
/* Grows the map (doubling it) unless it already grew past seen_bytes.
 * Waits for the gate to empty; must be called outside it.  Returns 0, or
 * MDB_MAP_FULL when the gate did not empty in time, or an LMDB error. */
int tsdb_env_grow(struct tsdb *db, uint64_t seen_bytes);
/* Bytes of the LMDB file in use: (last page + 1 - free pages) * page size,
 * the free pages counted from LMDB's free list (DBI 0).  Pages still held
 * for old readers count as free.  Call inside the gate with any txn. */
uint64_t tsdb_env_used_bytes(struct tsdb *db, MDB_txn *txn);
/* mdb_env_sync inside the gate. */
int tsdb_env_sync(struct tsdb *db);
/* Removes the LMDB lock file of environment directory envdir, which no
 * process may have open (see tsdb_env.c). */
void tsdb_env_lockfile_remove(const char *envdir);
/* Unmaps from this process the map pages that write txns (or, with
 * `always`, reads) have faulted in since the last call: they stay in the
 * page cache, and a later access maps them again.  Enters the gate; the
 * flusher calls it once a round.  See tsdb_env.c. */
void tsdb_env_pages_release(struct tsdb *db, bool always);

/* ---- blocks (blocks.c) ---- */

/* A growable array of samples (owned).  sts, the start timestamps, stays
 * NULL until a block with an ST column is appended; from then on it runs
 * parallel to ts (0 where a sample has none). */
struct tsdb_samples {
    int64_t *ts;
    double *vs;
    int64_t *sts;
    size_t n, cap;
};
void tsdb_samples_reserve(struct tsdb_samples *s, size_t extra);
/* Empties s for reuse, dropping its ST column. */
void tsdb_samples_clear(struct tsdb_samples *s);
/* Removes the samples in [mint, maxt]. */
void tsdb_samples_drop_range(struct tsdb_samples *s, int64_t mint, int64_t maxt);
void tsdb_samples_free(struct tsdb_samples *s);

/* Merges the run ts/vs/sts[n_old, n_old + n_new) into [0, n_old): both
 * are sorted with unique timestamps, and so is the result, which is
 * returned as the new count.  sts (start timestamps) may be NULL.  At a
 * timestamp in both runs the old sample is kept (the merge rule of
 * blocks.c).  When the new run starts after the old one (the common case)
 * this is one comparison. */
size_t tsdb_samples_merge_tail(int64_t *ts, double *vs, int64_t *sts, size_t n_old, size_t n_new);

/* Decodes the block value val (key time t0) and merges its samples into
 * out (tsdb_samples_merge_tail: the readers' merge rule, tsdb_select.c).
 * Returns 0, or EINVAL if the bytes are corrupt (out unchanged). */
int tsdb_block_decode_append(struct block_codec *bc, int64_t t0, const MDB_val *val,
                             struct tsdb_samples *out);
/* The same for a bare block (storage/chunk.h) p[0..len). */
int tsdb_block_body_append(struct block_codec *bc, int64_t t0, const uint8_t *p, size_t len,
                           struct tsdb_samples *out);
/* The last timestamp of the block value val with key time t0; false if
 * the value is malformed. */
bool tsdb_block_tmax(int64_t t0, const MDB_val *val, int64_t *tmax);
/* The largest block value LMDB keeps inside a leaf page at page size
 * psize; a larger one gets overflow pages of its own (half a page wasted
 * on average). */
size_t tsdb_block_inline_max(unsigned psize);
/* Encodes n >= 1 samples (sts: their start timestamps, or NULL) as a
 * block value (length prefix, block) into out, which is reset first.
 * Returns 0 or EINVAL (block_encode refused). */
int tsdb_block_encode(struct block_codec *bc, const int64_t *ts, const double *vs,
                      const int64_t *sts, size_t n, struct sbuf *out);
/* Puts the encoded value val under (id, t0), t0 being its first sample's
 * time; with compact != 0 also marks (window of t0, id) for compaction.
 * flags are mdb_put's.  Returns 0 or an LMDB status. */
int tsdb_block_put(MDB_txn *txn, MDB_dbi blocks, MDB_dbi compact, uint32_t id, int64_t t0,
                   const struct sbuf *val, unsigned flags);
/* Encodes n >= 1 samples (sts: their start timestamps, or NULL) as one
 * block and puts it under (id, ts[0]) in the blocks DBI.  flags are
 * mdb_put's (0 or MDB_NOOVERWRITE).  With compact != 0 (a DBI), also marks
 * (window of ts[0], id) for compaction.  scratch is reused between calls.
 * Returns 0 or an LMDB status (EINVAL for samples block_encode refuses). */
int tsdb_block_write(MDB_txn *txn, MDB_dbi blocks, MDB_dbi compact, struct block_codec *bc,
                     uint32_t id, const int64_t *ts, const double *vs, const int64_t *sts, size_t n,
                     unsigned flags, struct sbuf *scratch);
/* Key times of blocks gathered (owned array). */
struct tsdb_t0s {
    int64_t *v;
    size_t n, cap;
};
/* Merges the blocks of series id in window w into out (after what is
 * there), noting their key times in t0s (reset first).  Returns 0, EINVAL
 * for a corrupt block, or an LMDB status. */
int tsdb_blocks_gather(MDB_txn *txn, MDB_dbi blocks, struct block_codec *bc, uint32_t id, int64_t w,
                       struct tsdb_samples *out, struct tsdb_t0s *t0s);
/* Deletes the blocks of id at the key times in t0s. */
int tsdb_blocks_del(MDB_txn *txn, MDB_dbi blocks, uint32_t id, const struct tsdb_t0s *t0s);

/* The compaction mark key of (window start, id). */
void tsdb_compact_key(int64_t window, uint32_t id, uint8_t key[12]);
void tsdb_compact_key_decode(const uint8_t key[12], int64_t *window, uint32_t *id);

/* The archive (archive.c): per window, groups of ARCHIVE_GROUP_SERIES
 * series ids, each group's value in pieces keyed (window, group, piece). */
#define ARCHIVE_GROUP_SERIES 32
#define ARCHIVE_KEY_LEN      14
void archive_key(int64_t window, uint32_t group, unsigned piece, uint8_t key[ARCHIVE_KEY_LEN]);
void archive_key_decode(const uint8_t key[ARCHIVE_KEY_LEN], int64_t *window, uint32_t *group);

/* One series of a group: its block is body[off, off+len), first and last
 * timestamps t0 and tmax. */
struct archive_member {
    uint32_t id;
    int64_t t0, tmax;
    size_t off, len;
};
/* A group decoded, or being built: members in id order (owned buffers,
 * reused by the next load or init). */
struct archive_group {
    int64_t window;
    uint32_t group;
    struct archive_member *m;
    size_t n, cap;
    struct sbuf body; /* the members' blocks, uncompressed */
    struct sbuf raw;  /* the stored value */
    struct sbuf tab;  /* the member table, uncompressed */
};
/* Empties g for building (window, group); archive_group_free releases it. */
void archive_group_init(struct archive_group *g, int64_t window, uint32_t group);
void archive_group_free(struct archive_group *g);
/* Loads (window, group); with body false only the member table (t0, tmax,
 * no block bytes).  bc may not be NULL (the table is compressed).  0, MDB_NOTFOUND, EINVAL if
 * corrupt, or an LMDB status; g->n is 0 unless 0. */
int archive_group_load(MDB_txn *txn, MDB_dbi dbi, struct block_codec *bc, int64_t window,
                       uint32_t group, bool body, struct archive_group *g);
/* The member of id, or NULL. */
const struct archive_member *archive_group_find(const struct archive_group *g, uint32_t id);
/* Appends m's samples to out with the readers' merge rule.  0 or EINVAL. */
int archive_member_decode(struct block_codec *bc, const struct archive_group *g,
                          const struct archive_member *m, struct tsdb_samples *out);
/* The newest timestamp of any member, INT64_MIN if none. */
int64_t archive_group_tmax(const struct archive_group *g);
/* Appends a member to g, which is being built in id order: a copy of m of
 * group from, or n >= 1 samples (sts: start timestamps or NULL), encoded
 * (0 or EINVAL). */
void archive_group_add(struct archive_group *g, const struct archive_group *from,
                       const struct archive_member *m);
int archive_group_add_samples(struct archive_group *g, struct block_codec *bc, uint32_t id,
                              const int64_t *ts, const double *vs, const int64_t *sts, size_t n);
/* Replaces the stored group by g (deletes it if g has no members).  0,
 * EINVAL (too large), or an LMDB status. */
int archive_group_store(MDB_txn *txn, MDB_dbi dbi, struct block_codec *bc, unsigned psize,
                        struct archive_group *g);
/* Deletes every piece of (window, group). */
int archive_group_drop(MDB_txn *txn, MDB_dbi dbi, int64_t window, uint32_t group);
/* The oldest and newest window in the archive; false if it is empty. */
bool tsdb_archive_windows(MDB_txn *txn, MDB_dbi archive, int64_t *first, int64_t *last);

/* ---- compaction (compact.c) ---- */

/* Merges the blocks of finished windows (see compact.c), for at most
 * budget_s seconds of work (<= 0: until none is left).  maint_mu held.
 * Returns 0 or an LMDB status. */
int tsdb_compact(struct tsdb *db, double budget_s);

/* ---- retention (retention.c) ---- */

/* Both run under maint_mu and return 0 or an LMDB status. */
int tsdb_retention_time(struct tsdb *db);
int tsdb_retention_size(struct tsdb *db);

/* ---- series garbage collection (gc.c) ---- */

/* Puts the group of series id on the collector's to-do list, in the txn
 * that deletes data of id.  0 or an LMDB status. */
int tsdb_gc_mark(MDB_txn *txn, MDB_dbi gc, uint32_t id);
/* The same for a whole group. */
int tsdb_gc_mark_group(MDB_txn *txn, MDB_dbi gc, uint32_t group);
/* Frees the head series that hold no sample (the memory of series that
 * went quiet; their newest stored time is looked up again if they come
 * back).  maint_mu held; takes the head lock. */
void tsdb_gc_head(struct tsdb *db);
/* Works through the to-do list: removes from the index every series of
 * the listed groups that has no sample left in LMDB or the head, in
 * batched write txns.  maint_mu held.  Adds the series removed to
 * *removed (may be NULL).  0 or an LMDB status. */
int tsdb_gc_series(struct tsdb *db, uint64_t *removed);

/* ---- out-of-order samples (ooo.c) ---- */

/* The out-of-order decision for a sample the in-order head refused as
 * out of order: HEAD_OOO_APPENDED, HEAD_DUPLICATE_SAME (a sample at that
 * timestamp is waiting already), HEAD_TOO_OLD (outside the window), or
 * HEAD_OUT_OF_ORDER (no window).  Exclusive head lock held. */
enum head_append_result tsdb_ooo_apply(struct tsdb *db, uint32_t id, int64_t t, double v,
                                       uint32_t segment);
/* Moves the waiting out-of-order samples that are older than their
 * series' in-order head to LMDB, each window's merged into the series'
 * blocks of that window (marked for compaction).  maint_mu held.  0 or
 * an LMDB status. */
int tsdb_ooo_flush(struct tsdb *db);
/* Merges n samples of series id (ascending, any windows) into the blocks
 * of the blocks DBI of txn, window by window (the flush, and snapshots
 * writing the out-of-order head into their copy).  0 or an LMDB status. */
struct ooo_merge;
struct ooo_merge *ooo_merge_new(void);
void ooo_merge_free(struct ooo_merge *m);
int tsdb_ooo_merge(MDB_txn *txn, MDB_dbi blocks, MDB_dbi compact, struct block_codec *bc,
                   struct ooo_merge *m, uint32_t id, const int64_t *ts, const double *vs, size_t n);
/* A copy of waiting out-of-order samples: per series ids[i], the run of
 * cnt[i] samples at off[i] in s (owned). */
struct tsdb_ooo_copy {
    uint32_t *ids;
    size_t *off, *cnt;
    size_t nser, capser;
    struct tsdb_samples s;
};
/* Copies every waiting sample (all) or those the flush may move (older
 * than their series' in-order head).  Shared head lock held. */
void tsdb_ooo_copy(struct tsdb *db, bool all, struct tsdb_ooo_copy *c);
void tsdb_ooo_copy_free(struct tsdb_ooo_copy *c);
/* tsdb_ooo_merge for the series [from, to) of c. */
int tsdb_ooo_copy_merge(MDB_txn *txn, MDB_dbi blocks, MDB_dbi compact, struct block_codec *bc,
                        struct ooo_merge *m, const struct tsdb_ooo_copy *c, size_t from, size_t to);

#endif
