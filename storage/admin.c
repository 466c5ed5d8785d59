/* admin.c — what the admin HTTP API asks of storage: deleting series,
 * cleaning tombstones, snapshots.
 *
 * Deletes are eager.  Prometheus writes tombstones (deleted intervals per
 * series) and drops the data when it next rewrites a block, or when
 * clean_tombstones forces that; every query meanwhile filters through the
 * tombstones.  Vigil's blocks are small LMDB values, one series and at most
 * one 2 h window each, so rewriting the few a delete touches costs about
 * what writing tombstones would, and nothing is left to filter or clean:
 * tsdb_clean_tombstones only runs the series garbage collector (gc.c),
 * which removes the series a delete left with no sample (each delete txn
 * lists them for it).  For each batch of matching
 * series, in one LMDB write txn, blocks wholly inside [mint, maxt] are
 * deleted and blocks overlapping it are decoded, filtered and written
 * back under the key of their first remaining sample (still inside their
 * window).  Archived windows (tsdb_internal.h) are looked up one window
 * of the range at a time: the series' group is rewritten with its member
 * re-encoded without the deleted samples (or left out).  The txn is
 * committed under the head's exclusive lock, and the head's chunks of
 * those series are rebuilt without the deleted samples
 * (head_series_delete_range) before the lock is released, so a reader's
 * snapshot (head lock, then LMDB read txn) sees the batch either wholly
 * before or wholly after.
 *
 * The WAL still holds the deleted samples that were in the head, and those
 * flushed to blocks whose segments are not truncated yet; replay skips
 * only samples older than a series' newest block, which a delete may have
 * removed.  So each batch also logs a WAL_REC_DELETE record (series ids,
 * mint, maxt; tsdb_internal.h), appended under the same head lock as
 * sample batches are, so it lands in the log after every sample it
 * deletes and before any sample appended later; replay applies it to the
 * head in that order.  Before returning, the LMDB env is synced and the WAL
 * committed, so an acknowledged delete survives a crash.
 *
 * Snapshots copy the LMDB environment with mdb_env_copy2 (MDB_CP_COMPACT:
 * free pages left out, pages renumbered), which reads one consistent LMDB
 * snapshot.  The head is not in LMDB, so unless skip_head its chunks are
 * collected first and written into the copy as blocks (marked for
 * compaction, so the copy compacts them once opened; the archive is
 * copied with the rest of the env) — the live database
 * is not changed.  For the copy and the collected head to fit together,
 * nothing may move from the head to LMDB in between: the snapshot holds
 * the maintenance mutex from before collecting until the head is written,
 * which keeps the flusher (and compaction, retention) waiting; appends
 * and queries go on.  Closed head chunks are immutable and only the
 * flusher frees them, so they are borrowed; open chunks are copied under
 * the shared head lock.  A head chunk never overlaps a block of its series
 * (the head only takes samples newer than the series' last block), so its
 * key is new in the copy.  Out-of-order samples may overlap blocks: they
 * are copied too and merged into the copy's blocks as the flush merges
 * them (ooo.c). */
#include "storage/tsdb_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define DELETE_BATCH_SERIES 4096
#define SNAPSHOT_TXN_CHUNKS 20000

/* ---- delete ---- */

struct block_span {
    int64_t t0, tmax;
};

struct delete_op {
    struct tsdb *db;
    const uint32_t *ids;
    size_t n;
    int64_t mint, maxt;
    struct block_span *spans;
    size_t cap;
    struct tsdb_samples buf;
    struct sbuf scratch;
    struct archive_group old, out; /* a group as stored, and rewritten */
    int64_t afirst, alast;         /* the archive's windows; afirst > alast: none */
    struct sbuf walrec;
    int wal_rc;
};

/* The blocks of series id that overlap [mint, maxt]; blocks never span a
 * window, so none starting a window before mint can reach it. */
static int delete_find(MDB_txn *txn, struct delete_op *op, uint32_t id, size_t *n)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, op->db->blocks, &c);
    if (rc != 0)
        return rc;
    uint8_t k[12];
    tsdb_block_key(
        id, op->mint > INT64_MIN + TSDB_WINDOW_MS ? op->mint - TSDB_WINDOW_MS : INT64_MIN, k);
    MDB_val key = {sizeof k, k}, val;
    *n = 0;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        uint32_t kid;
        int64_t t0, tmax;
        tsdb_block_key_decode(key.mv_data, &kid, &t0);
        if (kid != id || t0 > op->maxt)
            break;
        if (!tsdb_block_tmax(t0, &val, &tmax) || tmax < op->mint)
            continue;
        if (*n == op->cap) {
            op->cap = op->cap ? op->cap * 2 : 64;
            op->spans = xrealloc(op->spans, op->cap * sizeof *op->spans);
        }
        op->spans[(*n)++] = (struct block_span){t0, tmax};
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Deletes or rewrites one block overlapping the range. */
static int delete_block(MDB_txn *txn, struct delete_op *op, uint32_t id, const struct block_span *b)
{
    uint8_t k[12];
    tsdb_block_key(id, b->t0, k);
    MDB_val key = {sizeof k, k}, val;
    if (b->t0 >= op->mint && b->tmax <= op->maxt)
        return mdb_del(txn, op->db->blocks, &key, NULL);
    int rc = mdb_get(txn, op->db->blocks, &key, &val);
    if (rc != 0)
        return rc;
    tsdb_samples_clear(&op->buf);
    if (tsdb_block_decode_append(op->db->maint_codec, b->t0, &val, &op->buf) != 0)
        return 0; /* corrupt: readers skip it too; leave it for an operator */
    tsdb_samples_drop_range(&op->buf, op->mint, op->maxt);
    if ((rc = mdb_del(txn, op->db->blocks, &key, NULL)) != 0)
        return rc;
    return tsdb_block_write(txn, op->db->blocks, 0, op->db->maint_codec, id, op->buf.ts, op->buf.vs,
                            op->buf.sts, op->buf.n, MDB_NOOVERWRITE, &op->scratch);
}

/* Rewrites the archive group (w, id's group) without id's samples in the
 * range, if any of them overlap it. */
static int delete_group(MDB_txn *txn, struct delete_op *op, int64_t w, uint32_t id)
{
    struct block_codec *bc = op->db->maint_codec;
    int rc =
        archive_group_load(txn, op->db->archive, bc, w, id / ARCHIVE_GROUP_SERIES, true, &op->old);
    if (rc != 0)
        return rc == MDB_NOTFOUND || rc == EINVAL ? 0 : rc; /* corrupt: readers skip it too */
    const struct archive_member *m = archive_group_find(&op->old, id);
    if (!m || m->tmax < op->mint || m->t0 > op->maxt)
        return 0;
    tsdb_samples_clear(&op->buf);
    if (archive_member_decode(bc, &op->old, m, &op->buf) != 0)
        return 0;
    tsdb_samples_drop_range(&op->buf, op->mint, op->maxt);
    archive_group_init(&op->out, w, op->old.group);
    for (size_t i = 0; i < op->old.n && rc == 0; i++) {
        if (&op->old.m[i] != m)
            archive_group_add(&op->out, &op->old, &op->old.m[i]);
        else
            rc = archive_group_add_samples(&op->out, bc, id, op->buf.ts, op->buf.vs, op->buf.sts,
                                           op->buf.n);
    }
    if (rc == 0)
        rc = archive_group_store(txn, op->db->archive, bc, op->db->page_size, &op->out);
    return rc == EINVAL ? EIO : rc;
}

/* The archived windows of series id that overlap the range: a group
 * lookup per window the archive holds. */
static int delete_archive(MDB_txn *txn, struct delete_op *op, uint32_t id)
{
    if (op->alast < op->afirst)
        return 0;
    int64_t w = op->mint < op->afirst ? op->afirst : tsdb_window_start(op->mint);
    int64_t wend = op->maxt > op->alast ? op->alast : tsdb_window_start(op->maxt);
    for (int rc; w <= wend; w += TSDB_WINDOW_MS)
        if ((rc = delete_group(txn, op, w, id)) != 0)
            return rc;
    return 0;
}

static int delete_txn(MDB_txn *txn, void *arg)
{
    struct delete_op *op = arg;
    if (!tsdb_archive_windows(txn, op->db->archive, &op->afirst, &op->alast)) {
        op->afirst = 0;
        op->alast = -1;
    }
    for (size_t i = 0; i < op->n; i++) {
        size_t nb = 0;
        int rc = delete_archive(txn, op, op->ids[i]);
        if (rc == 0)
            rc = delete_find(txn, op, op->ids[i], &nb);
        for (size_t j = 0; rc == 0 && j < nb; j++)
            rc = delete_block(txn, op, op->ids[i], &op->spans[j]);
        if (rc == 0)
            rc = tsdb_gc_mark(txn, op->db->gc, op->ids[i]);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void put_zigzag(struct sbuf *b, int64_t v)
{
    uint8_t tmp[10];
    sbuf_append(b, tmp, tsdb_uvarint_put(tmp, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)));
}

static void delete_wal_record(struct delete_op *op)
{
    uint8_t tmp[10];
    sbuf_reset(&op->walrec);
    put_zigzag(&op->walrec, op->mint);
    put_zigzag(&op->walrec, op->maxt);
    sbuf_append(&op->walrec, tmp, tsdb_uvarint_put(tmp, op->n));
    uint32_t prev = 0;
    for (size_t i = 0; i < op->n; i++) {
        sbuf_append(&op->walrec, tmp, tsdb_uvarint_put(tmp, op->ids[i] - prev));
        prev = op->ids[i];
    }
}

/* Commits the block changes and applies the delete to the head and the
 * WAL under one exclusive hold of the head lock. */
static int delete_commit(MDB_txn *txn, void *arg)
{
    struct delete_op *op = arg;
    struct tsdb *db = op->db;
    pthread_rwlock_wrlock(&db->head.lock);
    int rc = mdb_txn_commit(txn);
    if (rc == 0) {
        for (size_t i = 0; i < op->n; i++) {
            head_series_delete_range(&db->head, op->ids[i], op->mint, op->maxt);
            ooo_series_delete_range(&db->ooo, op->ids[i], op->mint, op->maxt);
        }
        op->wal_rc = wal_append(db->wal, WAL_REC_DELETE, op->walrec.data, op->walrec.len, NULL);
    }
    pthread_rwlock_unlock(&db->head.lock);
    return rc;
}

/* The ids of the series matching ms, ascending. */
static int delete_select(struct tsdb *db, const struct label_matcher *ms, size_t n, uint32_t **ids,
                         size_t *nids, char *err, size_t errlen)
{
    MDB_txn *txn;
    int rc = tsdb_read_begin(db, &txn);
    if (rc != 0) {
        snprintf(err, errlen, "storage: %s", mdb_strerror(rc));
        return -1;
    }
    roaring_bitmap_t *bm = NULL;
    rc = index_select(db->index, txn, ms, n, &bm, err, errlen);
    tsdb_read_end(db, txn);
    if (rc < 0)
        return -1;
    *nids = roaring_bitmap_get_cardinality(bm);
    *ids = xmalloc((*nids ? *nids : 1) * sizeof **ids);
    roaring_bitmap_to_uint32_array(bm, *ids);
    roaring_bitmap_free(bm);
    return 0;
}

static int delete_batches(struct delete_op *op, const uint32_t *ids, size_t nids, char *err,
                          size_t errlen)
{
    struct tsdb *db = op->db;
    for (size_t off = 0; off < nids; off += DELETE_BATCH_SERIES) {
        op->ids = ids + off;
        op->n = nids - off < DELETE_BATCH_SERIES ? nids - off : DELETE_BATCH_SERIES;
        op->wal_rc = 0;
        delete_wal_record(op);
        int rc = tsdb_write_with(db, delete_txn, delete_commit, op);
        if (rc != 0) {
            snprintf(err, errlen, "deleting series: %s", mdb_strerror(rc));
            return -1;
        }
        if (op->wal_rc != 0) {
            char msg[200];
            wal_last_error(db->wal, msg, sizeof msg);
            snprintf(err, errlen, "deleting series: write-ahead log: %s", msg);
            return -1;
        }
    }
    if (tsdb_env_sync(db) != 0 || wal_commit(db->wal, NULL) != 0) {
        snprintf(err, errlen, "deleting series: sync: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int tsdb_delete_series(struct tsdb *db, const struct label_matcher *ms, size_t n, int64_t mint,
                       int64_t maxt, char *err, size_t errlen)
{
    if (n == 0) {
        snprintf(err, errlen, "deleting series: at least one matcher is required");
        return -1;
    }
    if (mint > maxt) {
        snprintf(err, errlen, "deleting series: end timestamp must not be before start time");
        return -1;
    }
    uint32_t *ids;
    size_t nids;
    if (delete_select(db, ms, n, &ids, &nids, err, errlen) < 0)
        return -1;
    struct delete_op op = {.db = db, .mint = mint, .maxt = maxt};
    pthread_mutex_lock(&db->maint_mu);
    int rc = delete_batches(&op, ids, nids, err, errlen);
    pthread_mutex_unlock(&db->maint_mu);
    free(ids);
    free(op.spans);
    tsdb_samples_free(&op.buf);
    sbuf_free(&op.scratch);
    archive_group_free(&op.old);
    archive_group_free(&op.out);
    sbuf_free(&op.walrec);
    return rc;
}

int tsdb_clean_tombstones(struct tsdb *db, char *err, size_t errlen)
{
    pthread_mutex_lock(&db->maint_mu);
    int rc = tsdb_gc_series(db, NULL);
    pthread_mutex_unlock(&db->maint_mu);
    if (rc != 0) {
        snprintf(err, errlen, "cleaning tombstones: %s", mdb_strerror(rc));
        return -1;
    }
    return 0;
}

/* ---- snapshot ---- */

/* "20240131T120000Z-0123456789abcdef" (Prometheus: the UTC time as
 * 20060102T150405Z0700, a dash, 8 random bytes in hex). */
static void snapshot_name(char name[TSDB_SNAPSHOT_NAME_LEN])
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(name, TSDB_SNAPSHOT_NAME_LEN, "%Y%m%dT%H%M%SZ-", &tm);
    uint8_t rnd[8] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        uint64_t x = (uint64_t)now ^ ((uint64_t)getpid() << 32) ^ (uint64_t)clock();
        memcpy(rnd, &x, sizeof rnd);
    }
    size_t off = strlen(name);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(name + off + 2 * i, 3, "%02x", rnd[i]);
}

/* Writing the collected head chunks into the copy's blocks. */
struct snapshot_head {
    struct tsdb *db;
    MDB_dbi blocks, compact;
    const struct head_chunk_ref *refs;
    size_t n;
    int64_t ts[UINT16_MAX];
    double vs[UINT16_MAX];
    int64_t sts[UINT16_MAX];
    struct sbuf val;
};

static int snapshot_head_txn(MDB_txn *txn, struct snapshot_head *sh)
{
    for (size_t i = 0; i < sh->n; i++) {
        const struct head_chunk_ref *r = &sh->refs[i];
        size_t n = head_chunk_unpack(r->buf, r->len, r->count, r->st, sh->ts, sh->vs, sh->sts);
        int rc = tsdb_block_write(txn, sh->blocks, sh->compact, sh->db->maint_codec, r->id, sh->ts,
                                  sh->vs, r->st ? sh->sts : NULL, n, MDB_NOOVERWRITE, &sh->val);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* The out-of-order head, merged into the copy's blocks (ooo.c) after the
 * in-order head is in: the blocks of its windows are rewritten there,
 * and the live database is not touched. */
static int snapshot_write_ooo(MDB_env *env, struct snapshot_head *sh,
                              const struct tsdb_ooo_copy *ooo)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc != 0)
        return rc;
    if ((rc = mdb_dbi_open(txn, "blocks", MDB_CREATE, &sh->blocks)) == 0)
        rc = mdb_dbi_open(txn, "compact", MDB_CREATE, &sh->compact);
    struct ooo_merge *m = ooo_merge_new();
    if (rc == 0)
        rc = tsdb_ooo_copy_merge(txn, sh->blocks, sh->compact, sh->db->maint_codec, m, ooo, 0,
                                 ooo->nser);
    ooo_merge_free(m);
    if (rc == 0)
        return mdb_txn_commit(txn);
    mdb_txn_abort(txn);
    return rc;
}

static int snapshot_write_head(struct tsdb *db, const char *envdir,
                               const struct head_chunk_ref *refs, size_t n,
                               const struct tsdb_ooo_copy *ooo)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc != 0)
        return rc;
    struct snapshot_head *sh = xcalloc(1, sizeof *sh);
    sh->db = db;
    MDB_txn *txn = NULL;
    if ((rc = mdb_env_set_mapsize(env, (size_t)TSDB_DEFAULT_MAP_BYTES)) == 0 &&
        (rc = mdb_env_set_maxdbs(env, 16)) == 0)
        rc = mdb_env_open(env, envdir, MDB_NOTLS, 0644);
    for (size_t off = 0; rc == 0 && off < n; off += SNAPSHOT_TXN_CHUNKS) {
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
            break;
        if ((rc = mdb_dbi_open(txn, "blocks", MDB_CREATE, &sh->blocks)) == 0)
            rc = mdb_dbi_open(txn, "compact", MDB_CREATE, &sh->compact);
        sh->refs = refs + off;
        sh->n = n - off < SNAPSHOT_TXN_CHUNKS ? n - off : SNAPSHOT_TXN_CHUNKS;
        if (rc == 0)
            rc = snapshot_head_txn(txn, sh);
        if (rc == 0)
            rc = mdb_txn_commit(txn);
        else
            mdb_txn_abort(txn);
    }
    if (rc == 0 && ooo->nser)
        rc = snapshot_write_ooo(env, sh, ooo);
    sbuf_free(&sh->val);
    free(sh);
    mdb_env_close(env); /* opened without MDB_NOSYNC: commits were synced */
    tsdb_env_lockfile_remove(envdir);
    return rc;
}

/* Removes what a failed snapshot left behind. */
static void snapshot_remove(const char *path)
{
    char p[4200];
    static const char *const files[] = {"index.mdb/data.mdb", "index.mdb/lock.mdb"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", path, files[i]);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/index.mdb", path);
    rmdir(p);
    rmdir(path);
}

/* Collects the head (unless skip), copies LMDB, writes the head into the
 * copy; maint_mu held. */
static int snapshot_make(struct tsdb *db, bool skip_head, const char *envdir, char *err,
                         size_t errlen)
{
    struct head_chunk_ref *refs = NULL;
    size_t n = 0, cap = 0;
    struct tsdb_ooo_copy ooo = {0};
    if (!skip_head) {
        pthread_rwlock_rdlock(&db->head.lock);
        head_chunks_collect(&db->head, &refs, &n, &cap);
        tsdb_ooo_copy(db, true, &ooo);
        pthread_rwlock_unlock(&db->head.lock);
    }
    tsdb_env_enter(db);
    int rc = mdb_env_copy2(db->env, envdir, MDB_CP_COMPACT);
    tsdb_env_leave(db);
    if (rc != 0)
        snprintf(err, errlen, "snapshot: copying %s: %s", envdir, mdb_strerror(rc));
    else if ((n || ooo.nser) && (rc = snapshot_write_head(db, envdir, refs, n, &ooo)) != 0)
        snprintf(err, errlen, "snapshot: writing the head to %s: %s", envdir, mdb_strerror(rc));
    for (size_t i = 0; i < n; i++)
        if (refs[i].owned)
            free((void *)refs[i].buf);
    free(refs);
    tsdb_ooo_copy_free(&ooo);
    return rc ? -1 : 0;
}

int tsdb_snapshot(struct tsdb *db, bool skip_head, char *name_out, size_t name_len, char *err,
                  size_t errlen)
{
    char name[TSDB_SNAPSHOT_NAME_LEN], path[4096], envdir[4200];
    snapshot_name(name);
    snprintf(path, sizeof path, "%s/snapshots/%s", db->dir, name);
    snprintf(envdir, sizeof envdir, "%s/index.mdb", path);
    if (tsdb_mkdir_all(envdir) < 0) {
        snprintf(err, errlen, "snapshot: mkdir %s: %s", envdir, strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&db->maint_mu);
    int rc = snapshot_make(db, skip_head, envdir, err, errlen);
    pthread_mutex_unlock(&db->maint_mu);
    if (rc < 0) {
        snapshot_remove(path);
        return -1;
    }
    snprintf(name_out, name_len, "%s", name);
    log_info(db->opts.log, "tsdb", "Snapshot created", "name", name);
    return 0;
}
