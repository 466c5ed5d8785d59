/* tsdb.c — opening, recovering and running the TSDB.
 *
 * Layout of <dir>:
 *   lock        flock(2)ed exclusively while a server has the dir open; an
 *               flock dies with its process, so kill -9 never leaves a stale
 *               lock behind (unlike a pid file)
 *   index.mdb/  the LMDB environment: the series index, the blocks and the
 *               archive of finished windows (tsdb_internal.h)
 *   wal/        the write-ahead log of samples still only in the head
 *
 * Why the WAL is its own files and not LMDB: an LMDB commit that is durable
 * costs an fsync of the data file and of the meta page; a scrape batch is a
 * few KB arriving every few milliseconds.  Appending batches to a log with
 * one write(2) each and syncing once a second (the commit interval) costs
 * ~20 ns per sample here; LMDB is used for what it is good at: an indexed,
 * crash-safe store of closed blocks, written in large batches by one thread.
 * The env is opened MDB_NOSYNC: the flusher syncs it (mdb_env_sync) before
 * the WAL segments covering what it wrote are deleted, and a new series is
 * synced before any WAL record refers to it, so every record in the log
 * refers to a series the index has.
 *
 * Recovery: the WAL is replayed into the head.  Samples at or before what
 * LMDB already holds for a series (written by the flusher before the crash)
 * are skipped, so replay is idempotent.
 *
 * Two threads run beside the callers: the committer makes the WAL durable
 * every commit interval, and the flusher encodes closed head chunks as
 * blocks, writes them to LMDB in batched transactions, closes chunks of
 * series that went quiet, deletes WAL segments no longer needed, merges
 * the blocks of finished windows (compact.c) and applies retention
 * (retention.c).  Each of its rounds holds the maintenance mutex, which
 * tsdb_maintain_now and the admin operations (admin.c) take too, so none of
 * that work ever overlaps. */
#include "storage/tsdb_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sbuf.h"

#define TSDB_FLUSH_INTERVAL_MS 1000
#define TSDB_HOUSEKEEP_EVERY   30  /* flush rounds */
#define TSDB_RETENTION_EVERY   300 /* flush rounds */
#define TSDB_IDLE_CHUNK_MS     (15LL * 60 * 1000)
#define TSDB_FLUSH_TXN_CHUNKS  20000
#define TSDB_COMPACT_BUDGET_S  0.5 /* compaction work per flusher round */
#define TSDB_TRIM_BYTES        (16u << 20)

/* ---- small helpers ---- */

void tsdb_block_key(uint32_t id, int64_t t0, uint8_t key[12])
{
    uint64_t t = (uint64_t)t0 ^ (1ULL << 63);
    for (int i = 0; i < 4; i++)
        key[i] = (uint8_t)(id >> (24 - 8 * i));
    for (int i = 0; i < 8; i++)
        key[4 + i] = (uint8_t)(t >> (56 - 8 * i));
}

void tsdb_block_key_decode(const uint8_t key[12], uint32_t *id, int64_t *t0)
{
    uint32_t i32 = 0;
    uint64_t t = 0;
    for (int i = 0; i < 4; i++)
        i32 = i32 << 8 | key[i];
    for (int i = 0; i < 8; i++)
        t = t << 8 | key[4 + i];
    *id = i32;
    *t0 = (int64_t)(t ^ (1ULL << 63));
}

int64_t tsdb_window_start(int64_t t)
{
    int64_t w = t / TSDB_WINDOW_MS;
    return (t % TSDB_WINDOW_MS < 0 ? w - 1 : w) * TSDB_WINDOW_MS;
}

int64_t tsdb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double tsdb_mono_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* mkdir -p */
int tsdb_mkdir_all(const char *path)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

/* The newest archived timestamp of series id in windows [lo, hi], newest
 * window first; INT64_MIN if none.  Reads member tables only. */
static int64_t archive_maxt(MDB_txn *txn, MDB_dbi archive, struct block_codec *bc, uint32_t id,
                            int64_t lo, int64_t hi)
{
    struct archive_group g = {0};
    int64_t maxt = INT64_MIN;
    for (int64_t w = hi; w >= lo && maxt == INT64_MIN; w -= TSDB_WINDOW_MS) {
        if (archive_group_load(txn, archive, bc, w, id / ARCHIVE_GROUP_SERIES, false, &g) == 0) {
            const struct archive_member *m = archive_group_find(&g, id);
            if (m)
                maxt = m->tmax;
        }
        if (w < INT64_MIN + TSDB_WINDOW_MS)
            break;
    }
    archive_group_free(&g);
    return maxt;
}

/* The blocks DBI first (the series' last key), then the archive.  Is the
 * archive needed?  Compaction archives a series' window only once the head
 * holds no sample of the series before the window's end, so while the
 * head has samples of a window, its newest data is not archived; but a
 * series that went quiet has its last chunk flushed and then archived,
 * and its samples may still be in the WAL: replay must find them there or
 * it would take them into the head again.  The archive is window first,
 * so finding a series' newest entry is a lookup per window, newest first;
 * windows ending before since (the first replayed sample: what replay
 * compares is at or after it) or before the newest block cannot matter. */
int64_t tsdb_persisted_maxt(struct tsdb *db, MDB_txn *txn, struct block_codec *bc, uint32_t id,
                            int64_t since)
{
    uint8_t k[12];
    tsdb_block_key(id + 1, INT64_MIN, k);
    MDB_cursor *c;
    if (mdb_cursor_open(txn, db->blocks, &c) != 0)
        return INT64_MIN;
    MDB_val key = {sizeof k, k}, val;
    int rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
    rc =
        rc == 0 ? mdb_cursor_get(c, &key, &val, MDB_PREV) : mdb_cursor_get(c, &key, &val, MDB_LAST);
    int64_t maxt = INT64_MIN;
    uint32_t kid;
    int64_t t0;
    uint64_t dt;
    if (rc == 0 && key.mv_size == 12) {
        tsdb_block_key_decode(key.mv_data, &kid, &t0);
        if (kid == id && tsdb_uvarint_get(val.mv_data, (uint8_t *)val.mv_data + val.mv_size, &dt))
            maxt = t0 + (int64_t)dt;
    }
    mdb_cursor_close(c);
    int64_t first, last;
    if (!tsdb_archive_windows(txn, db->archive, &first, &last))
        return maxt;
    int64_t floor = since > maxt ? since : maxt;
    int64_t lo = floor < first ? first : tsdb_window_start(floor);
    int64_t amax = archive_maxt(txn, db->archive, bc, id, lo, last);
    return amax > maxt ? amax : maxt;
}

/* ---- opening ---- */

/* The archive's first format ("archive": one value per series and window,
 * before storage/archive.c's groups) is not read by this build: a data dir
 * holding it is refused with a message, an empty one is dropped.  Returns
 * 0, -1 with err filled, or an LMDB status. */
static int tsdb_refuse_old_archive(MDB_txn *txn, const char *path, char *err, size_t errlen)
{
    MDB_dbi old;
    int rc = mdb_dbi_open(txn, "archive", 0, &old);
    if (rc == MDB_NOTFOUND)
        return 0;
    MDB_stat st;
    if (rc == 0)
        rc = mdb_stat(txn, old, &st);
    if (rc != 0)
        return rc;
    if (st.ms_entries == 0)
        return mdb_drop(txn, old, 1);
    snprintf(err, errlen,
             "open %s: the data directory holds archive format 1 (Vigil before the grouped "
             "archive); this build reads format 2 only: start a new data directory, or keep "
             "this one with the older build",
             path);
    return -1;
}

static int tsdb_lock(struct tsdb *db, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/lock", db->dir);
    db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->lock_fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(db->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errlen, "lock %s: %s", path,
                 errno == EWOULDBLOCK ? "held by another process (is another server using this "
                                        "data directory?)"
                                      : strerror(errno));
        return -1;
    }
    return 0;
}

static int tsdb_env_open(struct tsdb *db, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/index.mdb", db->dir);
    if (tsdb_mkdir_all(path) < 0) {
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        return -1;
    }
    uint64_t map = db->opts.initial_map_bytes ? db->opts.initial_map_bytes : TSDB_DEFAULT_MAP_BYTES;
    int rc = mdb_env_create(&db->env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(db->env, (size_t)map);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(db->env, 16);
    if (rc == 0)
        rc = mdb_env_set_maxreaders(db->env, 1024);
    if (rc == 0)
        rc = mdb_env_open(db->env, path, MDB_NOTLS | MDB_NOSYNC, 0644);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = mdb_txn_begin(db->env, NULL, 0, &txn);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "blocks", MDB_CREATE, &db->blocks);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "compact", MDB_CREATE, &db->compact);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "archive2", MDB_CREATE, &db->archive);
    if (rc == 0)
        rc = mdb_dbi_open(txn, "gc", MDB_CREATE, &db->gc);
    if (rc == 0)
        rc = tsdb_refuse_old_archive(txn, path, err, errlen);
    if (rc == -1) {
        mdb_txn_abort(txn);
        return -1;
    }
    if (rc != 0) {
        if (txn)
            mdb_txn_abort(txn);
        snprintf(err, errlen, "open %s: %s", path, mdb_strerror(rc));
        return -1;
    }
    double t0 = tsdb_mono_seconds();
    if (index_open(txn, &db->index, err, errlen) < 0) {
        mdb_txn_abort(txn);
        return -1;
    }
    rc = mdb_txn_commit(txn);
    if (rc != 0) {
        snprintf(err, errlen, "open %s: %s", path, mdb_strerror(rc));
        return -1;
    }
    if (index_format_found(db->index) == 1) {
        char dt[32];
        snprintf(dt, sizeof dt, "%.3fs", tsdb_mono_seconds() - t0);
        log_info(db->opts.log, "tsdb", "Series index migrated from format 1", "path", path,
                 "duration", dt);
    }
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(db->env, &info);
    mdb_env_stat(db->env, &st);
    atomic_store(&db->map_bytes, (uint64_t)info.me_mapsize);
    db->block_inline_max = tsdb_block_inline_max(st.ms_psize);
    db->page_size = st.ms_psize;
    return 0;
}

/* ---- WAL replay ---- */

struct replay_ctx {
    struct tsdb *db;
    MDB_txn *txn;
    uint64_t samples, skipped, deleted;
    uint32_t segment;
};

/* A WAL_REC_DELETE record: the samples of its series in [mint, maxt]
 * leave the head again, in log order (admin.c writes it). */
static int replay_delete(struct replay_ctx *rc, const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    uint64_t zmin, zmax, n, d;
    size_t a = tsdb_uvarint_get(p, end, &zmin);
    size_t b = a ? tsdb_uvarint_get(p + a, end, &zmax) : 0;
    size_t c = b ? tsdb_uvarint_get(p + a + b, end, &n) : 0;
    if (!c)
        return 0;
    p += a + b + c;
    int64_t mint = (int64_t)(zmin >> 1) ^ -(int64_t)(zmin & 1);
    int64_t maxt = (int64_t)(zmax >> 1) ^ -(int64_t)(zmax & 1);
    uint64_t id = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t k = tsdb_uvarint_get(p, end, &d);
        if (!k)
            return 0;
        p += k;
        id += d;
        rc->deleted += head_series_delete_range(&rc->db->head, (uint32_t)id, mint, maxt);
        rc->deleted += ooo_series_delete_range(&rc->db->ooo, (uint32_t)id, mint, maxt);
    }
    return 0;
}

/* The head series of id for replay, created with its newest stored time
 * on first sight; NULL if the index no longer has the series (the
 * garbage collector removed it after these samples were logged). */
static struct head_series *replay_series(struct replay_ctx *rc, uint32_t id, int64_t t)
{
    struct head_series *s = head_series_get(&rc->db->head, id, false);
    if (s)
        return s;
    if (index_series_exists(rc->db->index, rc->txn, id) != 0)
        return NULL;
    s = head_series_get(&rc->db->head, id, true);
    s->persisted_maxt = tsdb_persisted_maxt(rc->db, rc->txn, rc->db->maint_codec, id, t);
    return s;
}

/* Applies one sample: in order to the head (samples at or before what
 * LMDB holds are skipped there), out of order to the out-of-order head
 * (whose flush merges away what LMDB holds already; it keeps no STs). */
static void replay_sample(struct replay_ctx *rc, uint32_t id, int64_t t, double v, int64_t st,
                          bool ooo)
{
    struct tsdb *db = rc->db;
    if (!replay_series(rc, id, t)) {
        rc->skipped++;
        return;
    }
    bool ok = ooo ? ooo_insert(&db->ooo, id, t, v, 1)
                  : head_append(&db->head, id, t, v, st, 1) == HEAD_APPENDED;
    if (!ok) {
        rc->skipped++;
        return;
    }
    rc->samples++;
    if (!ooo && t > atomic_load(&db->max_t))
        atomic_store(&db->max_t, t);
}

/* The ST field of a sample of an ST record kind (tsdb_internal.h) at *p:
 * sets *st; false if malformed. */
static bool replay_st(const uint8_t **p, const uint8_t *end, int64_t t, int64_t *st)
{
    uint64_t zz;
    size_t k;
    if (*p >= end || **p > 1)
        return false;
    *st = 0;
    if (*(*p)++ == 0)
        return true;
    if (!(k = tsdb_uvarint_get(*p, end, &zz)))
        return false;
    *p += k;
    *st = (int64_t)((uint64_t)t + ((zz >> 1) ^ -(zz & 1)));
    return true;
}

/* Decodes one WAL_REC_SAMPLES body at p (with each sample's ST field when
 * with_st) and applies its samples; returns where it ended, or NULL if it
 * is malformed (what came before stays). */
static const uint8_t *replay_samples(struct replay_ctx *rc, const uint8_t *p, const uint8_t *end,
                                     bool ooo, bool with_st)
{
    uint64_t n, id, zz;
    size_t k = tsdb_uvarint_get(p, end, &n);
    if (!k)
        return NULL;
    p += k;
    int64_t t = 0, st = 0;
    for (uint64_t i = 0; i < n; i++) {
        size_t a = tsdb_uvarint_get(p, end, &id);
        size_t b = a ? tsdb_uvarint_get(p + a, end, &zz) : 0;
        if (!a || !b || p + a + b + 8 > end)
            return NULL; /* a CRC-valid but malformed record */
        p += a + b;
        t += (int64_t)(zz >> 1) ^ -(int64_t)(zz & 1);
        double v;
        memcpy(&v, p, 8);
        p += 8;
        if (with_st && !replay_st(&p, end, t, &st))
            return NULL;
        replay_sample(rc, (uint32_t)id, t, v, st, ooo);
    }
    return p;
}

static int replay_record(void *arg, uint8_t type, const uint8_t *p, size_t len)
{
    struct replay_ctx *rc = arg;
    const uint8_t *end = p + len;
    bool with_st = type == WAL_REC_SAMPLES_ST || type == WAL_REC_OOO_SAMPLES_ST;
    switch (type) {
    case WAL_REC_DELETE:
        return replay_delete(rc, p, len);
    case WAL_REC_SAMPLES:
    case WAL_REC_SAMPLES_ST:
        replay_samples(rc, p, end, false, with_st);
        return 0;
    case WAL_REC_OOO_SAMPLES:
    case WAL_REC_OOO_SAMPLES_ST:
        if ((p = replay_samples(rc, p, end, true, with_st)) != NULL)
            replay_samples(rc, p, end, false, with_st);
        return 0;
    default:
        return 0; /* unknown record kinds from a newer version are skipped */
    }
}

static int tsdb_wal_open(struct tsdb *db, char *err, size_t errlen)
{
    struct wal_options wo = {
        .segment_bytes = db->opts.wal_segment_bytes,
        .commit_interval_ms = db->opts.commit_interval_ms,
        .log = db->opts.log,
    };
    if (wal_open(db->dir, &wo, &db->wal, err, errlen) < 0)
        return -1;
    struct replay_ctx rc = {.db = db};
    int mrc = tsdb_read_begin(db, &rc.txn);
    if (mrc != 0) {
        snprintf(err, errlen, "replay: %s", mdb_strerror(mrc));
        return -1;
    }
    double t0 = tsdb_mono_seconds();
    struct wal_replay_stats st;
    int r = wal_replay(db->wal, replay_record, &rc, &st, err, errlen);
    tsdb_read_end(db, rc.txn);
    if (r < 0)
        return -1;
    /* Replayed samples belong to the oldest segment still on disk until the
     * flusher writes them out: mark them so it is kept until then. */
    uint32_t first = st.segments ? st.end.segment - st.segments + 1 : wal_segment_current(db->wal);
    for (uint32_t id = 0; id < db->head.cap; id++) {
        struct head_series *s = head_series_at(&db->head, id);
        if (!s)
            continue;
        s->open_segment = first;
        for (struct head_closed *c = s->closed; c; c = c->next)
            c->wal_segment = first;
    }
    ooo_head_set_segment(&db->ooo, first);
    char buf[4][32];
    snprintf(buf[0], sizeof buf[0], "%llu", (unsigned long long)rc.samples);
    snprintf(buf[1], sizeof buf[1], "%llu", (unsigned long long)rc.skipped);
    snprintf(buf[2], sizeof buf[2], "%llu", (unsigned long long)rc.deleted);
    snprintf(buf[3], sizeof buf[3], "%.3fs", tsdb_mono_seconds() - t0);
    log_info(db->opts.log, "tsdb", "WAL replay completed", "samples", buf[0], "skipped", buf[1],
             "deleted", buf[2], "duration", buf[3]);
    return 0;
}

/* ---- the committer thread ---- */

/* Waits up to ms or until stop; returns true if stopping. */
static bool tsdb_wait(struct tsdb *db, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&db->stop_mu);
    if (!db->stopping)
        pthread_cond_timedwait(&db->stop_cv, &db->stop_mu, &ts);
    bool stop = db->stopping;
    pthread_mutex_unlock(&db->stop_mu);
    return stop;
}

static void *committer_main(void *arg)
{
    struct tsdb *db = arg;
    for (;;) {
        int64_t due = wal_commit_due_ms(db->wal);
        if (due < 0 || due > 50)
            due = due < 0 ? 50 : due;
        if (due > 0 && tsdb_wait(db, due))
            break;
        if (wal_commit_due_ms(db->wal) == 0 && wal_commit(db->wal, NULL) < 0) {
            char msg[256];
            wal_last_error(db->wal, msg, sizeof msg);
            log_error(db->opts.log, "tsdb", "WAL commit failed", "err", msg);
            if (tsdb_wait(db, 1000))
                break;
        }
    }
    return NULL;
}

/* ---- the flusher thread ---- */

struct flush_item {
    uint32_t id;
    struct head_closed *c;
};

/* Collects the closed chunks of dirty series (shared → exclusive lock only
 * to take the dirty list). */
static size_t flush_collect(struct tsdb *db, struct flush_item **items)
{
    pthread_rwlock_wrlock(&db->head.lock);
    uint32_t *ids = db->head.dirty;
    size_t nids = db->head.ndirty;
    db->head.dirty = NULL;
    db->head.ndirty = db->head.capdirty = 0;
    size_t n = 0, cap = 0;
    *items = NULL;
    for (size_t i = 0; i < nids; i++) {
        struct head_series *s = head_series_at(&db->head, ids[i]);
        s->dirty = false;
        for (struct head_closed *c = s->closed; c; c = c->next) {
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                *items = xrealloc(*items, cap * sizeof **items);
            }
            (*items)[n++] = (struct flush_item){ids[i], c};
        }
    }
    pthread_rwlock_unlock(&db->head.lock);
    free(ids);
    return n;
}

/* One write txn of the flusher: a batch of closed chunks as blocks. */
struct flush_txn {
    struct tsdb *db;
    const struct flush_item *items;
    size_t n;
    int64_t ts[UINT16_MAX]; /* a head chunk holds at most that many samples */
    double vs[UINT16_MAX];
    int64_t sts[UINT16_MAX];
    struct sbuf val;
    uint64_t bytes; /* keys and values written by this attempt */
};

static int flush_txn_fn(MDB_txn *txn, void *arg)
{
    struct flush_txn *f = arg;
    struct tsdb *db = f->db;
    f->bytes = 0;
    for (size_t i = 0; i < f->n; i++) {
        const struct head_closed *c = f->items[i].c;
        size_t n = head_chunk_unpack(c->buf, c->len, c->count, c->st, f->ts, f->vs, f->sts);
        int rc = tsdb_block_write(txn, db->blocks, db->compact, db->maint_codec, f->items[i].id,
                                  f->ts, f->vs, c->st ? f->sts : NULL, n, 0, &f->val);
        if (rc != 0)
            return rc;
        f->bytes += 12 + f->val.len;
    }
    return 0;
}

/* Unlinks flushed chunks from their series; exclusive lock. */
static void flush_unlink(struct tsdb *db, const struct flush_item *items, size_t n)
{
    pthread_rwlock_wrlock(&db->head.lock);
    for (size_t i = 0; i < n; i++) {
        db->freed_since_trim += offsetof(struct head_closed, buf) + items[i].c->len;
        head_series_flushed(&db->head, items[i].id, items[i].c);
    }
    pthread_rwlock_unlock(&db->head.lock);
}

/* Writes every closed head chunk to LMDB; maint_mu held. */
static int flush_closed_chunks(struct tsdb *db)
{
    struct flush_item *items;
    size_t n = flush_collect(db, &items);
    double t0 = tsdb_mono_seconds();
    struct flush_txn *f = n ? xmalloc(sizeof *f) : NULL;
    int rc = 0;
    for (size_t off = 0; off < n; off += TSDB_FLUSH_TXN_CHUNKS) {
        size_t m = n - off < TSDB_FLUSH_TXN_CHUNKS ? n - off : TSDB_FLUSH_TXN_CHUNKS;
        f->db = db;
        f->items = items + off;
        f->n = m;
        f->val = (struct sbuf)SBUF_INIT;
        rc = tsdb_write(db, flush_txn_fn, f);
        sbuf_free(&f->val);
        if (rc != 0) {
            log_error(db->opts.log, "tsdb", "Writing blocks failed", "err", mdb_strerror(rc));
            /* The chunks stay in the head and the series must be retried. */
            pthread_rwlock_wrlock(&db->head.lock);
            for (size_t i = off; i < n; i++)
                head_series_mark_dirty(&db->head, items[i].id,
                                       head_series_at(&db->head, items[i].id));
            pthread_rwlock_unlock(&db->head.lock);
            break;
        }
        db->blocks_written_bytes += f->bytes;
        flush_unlink(db, items + off, m);
        if (db->m_chunks_flushed)
            metric_add(db->m_chunks_flushed, (double)m);
    }
    if (n && db->m_flush_seconds)
        metric_observe(db->m_flush_seconds, tsdb_mono_seconds() - t0);
    free(f);
    free(items);
    return rc;
}

/* Grows the map ahead of need once three quarters of it are in use, so
 * that writers rarely meet MDB_MAP_FULL (tsdb_env.c). */
static void tsdb_map_check(struct tsdb *db)
{
    tsdb_env_enter(db);
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(db->env, &info);
    mdb_env_stat(db->env, &st);
    tsdb_env_leave(db);
    uint64_t used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
    if (used > info.me_mapsize / 4 * 3)
        tsdb_env_grow(db, info.me_mapsize);
}

/* Oldest WAL segment holding a sample that is only in the head, in-order
 * or out-of-order; UINT32_MAX if none. */
static uint32_t tsdb_min_wal_segment(struct tsdb *db)
{
    pthread_rwlock_rdlock(&db->head.lock);
    uint32_t keep = head_min_wal_segment(&db->head);
    uint32_t ooo = ooo_min_wal_segment(&db->ooo);
    pthread_rwlock_unlock(&db->head.lock);
    return ooo < keep ? ooo : keep;
}

/* Closes quiet series' chunks, moves waiting out-of-order samples to
 * LMDB, lets go of series with nothing left (gc.c) and deletes WAL
 * segments whose samples are all in LMDB now; maint_mu held. */
static int tsdb_housekeep(struct tsdb *db)
{
    int64_t newest = atomic_load(&db->max_t);
    if (newest > INT64_MIN + TSDB_IDLE_CHUNK_MS) {
        pthread_rwlock_wrlock(&db->head.lock);
        head_close_idle(&db->head, newest - TSDB_IDLE_CHUNK_MS);
        pthread_rwlock_unlock(&db->head.lock);
    }
    int rc = flush_closed_chunks(db), r;
    if ((r = tsdb_ooo_flush(db)) != 0 && rc == 0)
        rc = r;
    tsdb_gc_head(db);
    if ((r = tsdb_gc_series(db, NULL)) != 0 && rc == 0)
        rc = r;
    uint32_t keep = tsdb_min_wal_segment(db);
    if (keep == UINT32_MAX)
        keep = wal_segment_current(db->wal);
    /* Blocks written so far must be on disk before their WAL goes. */
    if (tsdb_env_sync(db) == 0)
        wal_truncate_before(db->wal, keep);
    tsdb_map_check(db);
    return rc;
}

/* Gives the pages of freed closed chunks back to the kernel.  Chunks are
 * cut in bursts (all series at a window edge, and in step every
 * chunk_samples after it), so ~100-250 B a series of them are freed
 * together a second later; glibc returns freed memory on its own only
 * from the top of the heap, and kept the rest resident: with 1M series,
 * RSS after such a burst was ~340 B a series against ~250 in use, ~300
 * with this (malloc_trim took 0.1-40 ms).  maint_mu held. */
static void tsdb_heap_trim(struct tsdb *db)
{
    if (db->freed_since_trim < TSDB_TRIM_BYTES)
        return;
    db->freed_since_trim = 0;
    malloc_trim(0);
}

static void *flusher_main(void *arg)
{
    struct tsdb *db = arg;
    for (unsigned round = 1;; round++) {
        if (tsdb_wait(db, TSDB_FLUSH_INTERVAL_MS))
            break;
        if (atomic_load(&db->flusher_paused))
            continue;
        pthread_mutex_lock(&db->maint_mu);
        flush_closed_chunks(db);
        tsdb_heap_trim(db);
        if (round % TSDB_HOUSEKEEP_EVERY == 0)
            tsdb_housekeep(db);
        tsdb_compact(db, TSDB_COMPACT_BUDGET_S);
        if (round % TSDB_RETENTION_EVERY == 0) {
            tsdb_retention_time(db);
            tsdb_retention_size(db);
            tsdb_gc_series(db, NULL);
        }
        pthread_mutex_unlock(&db->maint_mu);
        tsdb_env_pages_release(db, round % TSDB_HOUSEKEEP_EVERY == 0);
    }
    return NULL;
}

int tsdb_flush_now(struct tsdb *db)
{
    pthread_mutex_lock(&db->maint_mu);
    int rc = tsdb_housekeep(db);
    pthread_mutex_unlock(&db->maint_mu);
    return rc;
}

void tsdb_flusher_pause(struct tsdb *db, bool paused)
{
    atomic_store(&db->flusher_paused, paused);
}

static int tsdb_repack_txn(MDB_txn *txn, void *arg)
{
    struct tsdb *db = arg;
    return index_repack(db->index, txn);
}

int tsdb_flush_head(struct tsdb *db)
{
    pthread_mutex_lock(&db->maint_mu);
    pthread_rwlock_wrlock(&db->head.lock);
    head_close_idle(&db->head, INT64_MAX);
    pthread_rwlock_unlock(&db->head.lock);
    int rc = tsdb_housekeep(db), r;
    db->compact_all = true;
    if ((r = tsdb_compact(db, 0)) != 0 && rc == 0)
        rc = r;
    db->compact_all = false;
    if (rc == 0)
        rc = tsdb_write(db, tsdb_repack_txn, db);
    if (rc == 0)
        rc = tsdb_env_sync(db);
    /* Everything the WAL holds is in LMDB now, unless appends raced in:
     * then their segment stays. */
    bool empty = tsdb_min_wal_segment(db) == UINT32_MAX;
    if (rc == 0 && empty && wal_rotate(db->wal) == 0 && wal_commit(db->wal, NULL) == 0)
        wal_truncate_before(db->wal, wal_segment_current(db->wal));
    pthread_mutex_unlock(&db->maint_mu);
    return rc == 0 ? 0 : -1;
}

int tsdb_maintain_now(struct tsdb *db)
{
    pthread_mutex_lock(&db->maint_mu);
    int rc = tsdb_housekeep(db), r;
    if ((r = tsdb_compact(db, 0)) != 0 && rc == 0)
        rc = r;
    if ((r = tsdb_retention_time(db)) != 0 && rc == 0)
        rc = r;
    if ((r = tsdb_retention_size(db)) != 0 && rc == 0)
        rc = r;
    if ((r = tsdb_gc_series(db, NULL)) != 0 && rc == 0)
        rc = r;
    pthread_mutex_unlock(&db->maint_mu);
    return rc;
}

/* ---- metrics ---- */

static void tsdb_metrics_collect(void *arg);

static void tsdb_metrics_init(struct tsdb *db)
{
    struct metrics_registry *r = db->opts.metrics;
    if (!r)
        return;
#define COUNTER(name, help) metric_family_with(metrics_counter_new(r, name, help, NULL), NULL)
    db->m_appended =
        COUNTER("prometheus_tsdb_head_samples_appended_total", "Total number of appended samples.");
    static const char *const float_type[] = {"float"};
    db->m_out_of_order = metric_family_with(
        metrics_counter_new(r, "prometheus_tsdb_out_of_order_samples_total",
                            "Total number of out of order samples ingestion failed attempts due "
                            "to out of order being disabled.",
                            (const char *const[]){"type", NULL}),
        float_type);
    db->m_too_old = metric_family_with(
        metrics_counter_new(r, "prometheus_tsdb_too_old_samples_total",
                            "Total number of out of order samples ingestion failed attempts with "
                            "out of support enabled, but sample outside of time window.",
                            (const char *const[]){"type", NULL}),
        float_type);
    db->m_ooo_appended = COUNTER("prometheus_tsdb_head_out_of_order_samples_appended_total",
                                 "Total number of appended out of order samples.");
    db->m_series_removed = COUNTER("prometheus_tsdb_head_series_removed_total",
                                   "Total number of series removed in the head");
    db->m_duplicate = COUNTER("vigil_tsdb_duplicate_samples_total",
                              "Samples rejected for a different value at an existing timestamp.");
    db->m_series_created = COUNTER("prometheus_tsdb_head_series_created_total",
                                   "Total number of series created in the head");
    db->m_chunks_flushed = COUNTER("vigil_tsdb_blocks_written_total",
                                   "Closed head chunks encoded and written to LMDB as blocks.");
    db->m_compactions =
        COUNTER("prometheus_tsdb_compactions_total",
                "Total number of compaction runs that merged the blocks of finished windows.");
    db->m_blocks_compacted =
        COUNTER("vigil_tsdb_compaction_blocks_merged_total",
                "Blocks that compaction merged away (a window's blocks become one).");
    db->m_size_retentions =
        COUNTER("prometheus_tsdb_size_retentions_total",
                "The number of times that blocks were deleted because the maximum number of "
                "bytes was exceeded.");
    db->m_time_retentions = COUNTER("prometheus_tsdb_time_retentions_total",
                                    "The number of times that blocks were deleted because the "
                                    "maximum time limit was exceeded.");
    db->m_map_grows =
        COUNTER("vigil_tsdb_lmdb_map_grows_total", "Times the LMDB memory map was grown.");
#undef COUNTER
    db->m_flush_seconds = metric_family_with(
        metrics_histogram_new(r, "vigil_tsdb_flush_duration_seconds",
                              "Time taken to write closed head chunks to LMDB.", NULL,
                              METRICS_DEFAULT_BUCKETS, METRICS_DEFAULT_NBUCKETS),
        NULL);
    db->m_compaction_seconds = metric_family_with(
        metrics_histogram_new(r, "vigil_tsdb_compaction_duration_seconds",
                              "Duration of compaction runs that merged blocks.", NULL,
                              METRICS_DEFAULT_BUCKETS, METRICS_DEFAULT_NBUCKETS),
        NULL);
#define GAUGE(name, help) metric_family_with(metrics_gauge_new(r, name, help, NULL), NULL)
    db->m_head_series =
        GAUGE("prometheus_tsdb_head_series", "Total number of series in the head block.");
    db->m_chunks_closed =
        GAUGE("vigil_tsdb_head_chunks_closed", "Closed head chunks waiting to be written to LMDB.");
    db->m_wal_bytes =
        GAUGE("prometheus_tsdb_wal_storage_size_bytes", "Size of the write log directory.");
    db->m_map_used =
        GAUGE("vigil_tsdb_lmdb_used_bytes",
              "Bytes of the LMDB data file in use (index and blocks; free pages excluded).");
    db->m_map_size = GAUGE("vigil_tsdb_lmdb_map_size_bytes",
                           "Size of the LMDB memory map (address space, grows on demand).");
#undef GAUGE
    db->m_wal_fsyncs = metric_family_with(
        metrics_counter_new(r, "vigil_tsdb_wal_fsyncs_total", "WAL fdatasync calls.", NULL), NULL);
    metrics_registry_add_collector(r, tsdb_metrics_collect, db);
}

/* Refreshes the gauges computed from the store's state at exposition. */
static void tsdb_metrics_collect(void *arg)
{
    struct tsdb *db = arg;
    struct tsdb_head_stats hs;
    tsdb_head_stats_get(db, &hs);
    struct wal_stats ws;
    wal_stats_get(db->wal, &ws);
    MDB_txn *txn;
    if (tsdb_read_begin(db, &txn) == 0) {
        metric_set(db->m_map_used, (double)tsdb_env_used_bytes(db, txn));
        tsdb_read_end(db, txn);
    }
    metric_set(db->m_head_series, (double)hs.series);
    metric_set(db->m_chunks_closed, (double)hs.chunks_closed);
    metric_set(db->m_wal_bytes, (double)ws.storage_bytes);
    metric_set(db->m_wal_fsyncs, (double)ws.fsyncs);
    metric_set(db->m_map_size, (double)atomic_load(&db->map_bytes));
}

/* ---- open / close ---- */

int tsdb_open(const char *dir, const struct tsdb_options *opts, struct tsdb **out, char *err,
              size_t errlen)
{
    struct tsdb *db = xcalloc(1, sizeof *db);
    db->lock_fd = -1;
    if (opts)
        db->opts = *opts;
    db->dir = xstrdup(dir);
    size_t n = strlen(db->dir);
    while (n > 1 && db->dir[n - 1] == '/')
        db->dir[--n] = '\0';
    pthread_mutex_init(&db->stop_mu, NULL);
    pthread_cond_init(&db->stop_cv, NULL);
    pthread_mutex_init(&db->create_mu, NULL);
    pthread_mutex_init(&db->write_mu, NULL);
    pthread_mutex_init(&db->maint_mu, NULL);
    pthread_mutex_init(&db->env_mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* tsdb_env.c waits with deadlines */
    pthread_cond_init(&db->env_cv, &ca);
    pthread_condattr_destroy(&ca);
    head_init(&db->head, db->opts.chunk_samples ? db->opts.chunk_samples : 120, TSDB_WINDOW_MS);
    ooo_head_init(&db->ooo);
    tsdb_set_ooo_window(db, db->opts.ooo_window_ms);
    atomic_store(&db->max_t, INT64_MIN);
    db->maint_codec = block_codec_new();
    if (tsdb_mkdir_all(db->dir) < 0) {
        snprintf(err, errlen, "mkdir %s: %s", db->dir, strerror(errno));
        tsdb_close(db);
        return -1;
    }
    if (tsdb_lock(db, err, errlen) < 0 || tsdb_env_open(db, err, errlen) < 0 ||
        tsdb_wal_open(db, err, errlen) < 0) {
        tsdb_close(db);
        return -1;
    }
    tsdb_metrics_init(db);
    pthread_create(&db->committer, NULL, committer_main, db);
    pthread_create(&db->flusher, NULL, flusher_main, db);
    db->threads_started = true;
    *out = db;
    return 0;
}

void tsdb_close(struct tsdb *db)
{
    if (!db)
        return;
    if (db->threads_started) {
        pthread_mutex_lock(&db->stop_mu);
        db->stopping = true;
        pthread_cond_broadcast(&db->stop_cv);
        pthread_mutex_unlock(&db->stop_mu);
        pthread_join(db->committer, NULL);
        pthread_join(db->flusher, NULL);
        if (db->opts.metrics)
            metrics_registry_remove_collector(db->opts.metrics, tsdb_metrics_collect, db);
    }
    if (db->wal)
        wal_close(db->wal);
    if (db->index)
        index_free(db->index);
    if (db->env) {
        mdb_env_sync(db->env, 1);
        mdb_env_close(db->env);
    }
    if (db->lock_fd >= 0) { /* we held the directory: nobody else has the env open */
        char envdir[4096];
        snprintf(envdir, sizeof envdir, "%s/index.mdb", db->dir);
        if (db->env)
            tsdb_env_lockfile_remove(envdir);
        close(db->lock_fd);
    }
    head_destroy(&db->head);
    ooo_head_destroy(&db->ooo);
    block_codec_free(db->maint_codec);
    pthread_mutex_destroy(&db->stop_mu);
    pthread_cond_destroy(&db->stop_cv);
    pthread_mutex_destroy(&db->create_mu);
    pthread_mutex_destroy(&db->write_mu);
    pthread_mutex_destroy(&db->maint_mu);
    pthread_mutex_destroy(&db->env_mu);
    pthread_cond_destroy(&db->env_cv);
    free(db->dir);
    free(db);
}

const char *tsdb_dir(const struct tsdb *db)
{
    return db->dir;
}

int tsdb_sync(struct tsdb *db)
{
    return wal_commit(db->wal, NULL);
}

void tsdb_head_stats_get(struct tsdb *db, struct tsdb_head_stats *st)
{
    pthread_rwlock_rdlock(&db->head.lock);
    st->series = db->head.nseries;
    st->chunks_closed = db->head.nclosed;
    pthread_rwlock_unlock(&db->head.lock);
    MDB_txn *txn;
    st->index_series = 0;
    if (tsdb_read_begin(db, &txn) == 0) {
        st->index_series = index_series_count(db->index, txn);
        tsdb_read_end(db, txn);
    }
}

/* ---- statistics ---- */

static void stat_list_copy(struct tsdb_stat_list *out, const struct index_stat_list *in)
{
    out->n = in->n;
    out->v = xcalloc(in->n ? in->n : 1, sizeof *out->v);
    for (size_t i = 0; i < in->n; i++)
        out->v[i] = (struct tsdb_stat){xstrdup(in->v[i].name), in->v[i].count};
}

static void head_time_range(struct tsdb *db, struct tsdb_stats *st)
{
    st->head_min_time = INT64_MAX;
    st->head_max_time = INT64_MIN;
    pthread_rwlock_rdlock(&db->head.lock);
    for (uint32_t id = 0; id < db->head.cap; id++) {
        const struct head_series *s = head_series_at(&db->head, id);
        if (!s || (!s->open.count && !s->closed))
            continue;
        st->head_chunks += (s->open.count ? 1 : 0);
        int64_t lo = s->closed ? s->closed->mint : head_chunk_first_t(&s->open);
        int64_t hi = INT64_MIN;
        if (s->open.count)
            hi = s->open.tlast;
        else
            for (const struct head_closed *c = s->closed; c; c = c->next)
                hi = c->maxt;
        if (lo < st->head_min_time)
            st->head_min_time = lo;
        if (hi > st->head_max_time)
            st->head_max_time = hi;
    }
    st->head_series = db->head.nseries;
    st->head_chunks += db->head.nclosed;
    pthread_rwlock_unlock(&db->head.lock);
}

int tsdb_stats_get(struct tsdb *db, size_t limit, struct tsdb_stats *st, char *err, size_t errlen)
{
    memset(st, 0, sizeof *st);
    head_time_range(db, st);
    MDB_txn *txn;
    int rc = tsdb_read_begin(db, &txn);
    if (rc != 0) {
        snprintf(err, errlen, "storage: %s", mdb_strerror(rc));
        return -1;
    }
    struct index_stats is;
    if (index_stats_get(db->index, txn, limit, &is, err, errlen) < 0) {
        tsdb_read_end(db, txn);
        return -1;
    }
    st->num_series = is.num_series;
    st->num_label_pairs = is.num_label_pairs;
    stat_list_copy(&st->series_by_metric, &is.series_by_metric);
    stat_list_copy(&st->values_by_name, &is.values_by_name);
    stat_list_copy(&st->bytes_by_name, &is.bytes_by_name);
    stat_list_copy(&st->series_by_pair, &is.series_by_pair);
    index_stats_free(&is);
    MDB_stat bs;
    mdb_stat(txn, db->blocks, &bs);
    st->blocks = bs.ms_entries;
    mdb_stat(txn, db->archive, &bs);
    st->blocks += bs.ms_entries; /* an archived part is a block too */
    uint64_t used = tsdb_env_used_bytes(db, txn);
    tsdb_read_end(db, txn);
    struct wal_stats ws;
    wal_stats_get(db->wal, &ws);
    st->disk_bytes = used + ws.storage_bytes;
    return 0;
}

static void stat_list_free(struct tsdb_stat_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

void tsdb_stats_free(struct tsdb_stats *st)
{
    stat_list_free(&st->series_by_metric);
    stat_list_free(&st->values_by_name);
    stat_list_free(&st->bytes_by_name);
    stat_list_free(&st->series_by_pair);
}
