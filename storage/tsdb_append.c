/* tsdb_append.c — appenders: one batch of samples, made visible at once.
 *
 * An appender stages (series, t, v) triples, and a start timestamp per
 * sample once one of the batch has one: the ST array is allocated only
 * then, so batches without STs (nearly all) stage and log what they did
 * before STs existed.  Series are named by id once
 * known (the caller caches ids in its ref), or by label set the first time;
 * a label set the index does not know yet is copied into the appender and
 * created at commit, all new series of a batch in one LMDB write
 * transaction, synced before any WAL record refers to them.
 *
 * Commit then takes the head's exclusive lock once, applies every sample
 * (Prometheus's ordering rules decide which are dropped, and with an
 * out_of_order_time_window which late ones go to the out-of-order head:
 * ooo.c), writes the accepted ones to the WAL as one record with one
 * write(2), and releases the lock.  A cached ref may name a series that
 * the garbage collector removed (gc.c): its samples are dropped and the
 * ref reset to 0, so the caller names the series by labels next time.  Holding the lock across the
 * WAL append keeps the log in the same order as the head for concurrent committers (scrapes on the
 * event loop, rules on workers), so replay rebuilds exactly what readers saw. */
#include "storage/tsdb_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct staged {
    uint32_t id; /* 0 while the series is new: then newidx says which */
    uint32_t newidx;
    int64_t t;
    double v;
    uint64_t *ref; /* the caller's, reset to 0 if the series was collected */
};

struct new_series {
    uint64_t *ref;   /* the caller's, set at commit */
    uint64_t hash;   /* of the canonical bytes, to find repeats in a batch */
    size_t off, len; /* canonical bytes in strings */
    uint32_t id;
};

/* A series' newest timestamp in LMDB, looked up at commit (see
 * appender_load_persisted); holds the first staged t until then.  A
 * cached ref may name a series the collector removed (gc.c): dead. */
struct known_series {
    uint32_t id;
    bool dead; /* no longer in the index (collected by gc.c) */
    int64_t maxt;
};

struct tsdb_appender {
    struct tsdb *db;
    struct known_series *known;
    size_t nknown, capknown;
    struct staged *v;
    size_t n, cap;
    int64_t *st; /* parallel to v (cap entries) once a sample has an ST; else NULL */
    struct new_series *ns;
    size_t nns, capns;
    struct sbuf strings;
    struct sbuf walbuf;
    struct sbuf ooobuf;   /* the batch's out-of-order samples, WAL-encoded */
    struct sbuf labelbuf; /* a new series' canonical bytes, split in place */
    MDB_txn *rtxn;        /* read txn for lookups, reset between batches */
    uint32_t created;     /* series the create txn added */
    char err[256];
};

struct tsdb_appender *tsdb_appender_new(struct tsdb *db)
{
    struct tsdb_appender *a = xcalloc(1, sizeof *a);
    a->db = db;
    return a;
}

/* What an idle appender may keep of each buffer.  A scrape target's
 * appender is idle between scrapes, nearly all the time, and its buffers
 * are sized by its page (24 bytes per staged sample, the WAL record, the
 * label bytes of a first scrape's new series): kept, they cost ~60 bytes
 * per active series at 2000 series a target.  Allocating them again per
 * batch is a few reallocs against thousands of samples parsed. */
#define APPENDER_IDLE_BYTES 4096

static void appender_sbuf_shrink(struct sbuf *b)
{
    if (b->cap > APPENDER_IDLE_BYTES)
        sbuf_free(b);
    else
        sbuf_reset(b);
}

static void appender_reset(struct tsdb_appender *a)
{
    a->n = 0;
    a->nns = 0;
    free(a->st);
    a->st = NULL;
    if (a->cap * sizeof *a->v > APPENDER_IDLE_BYTES) {
        free(a->v);
        a->v = NULL;
        a->cap = 0;
    }
    if (a->capns * sizeof *a->ns > APPENDER_IDLE_BYTES) {
        free(a->ns);
        a->ns = NULL;
        a->capns = 0;
    }
    if (a->capknown * sizeof *a->known > APPENDER_IDLE_BYTES) {
        free(a->known);
        a->known = NULL;
        a->capknown = 0;
    }
    appender_sbuf_shrink(&a->strings);
    appender_sbuf_shrink(&a->walbuf);
    appender_sbuf_shrink(&a->ooobuf);
    appender_sbuf_shrink(&a->labelbuf);
    if (a->rtxn)
        mdb_txn_reset(a->rtxn);
}

void tsdb_appender_free(struct tsdb_appender *a)
{
    if (!a)
        return;
    if (a->rtxn)
        mdb_txn_abort(a->rtxn);
    free(a->v);
    free(a->st);
    free(a->ns);
    free(a->known);
    sbuf_free(&a->strings);
    sbuf_free(&a->walbuf);
    sbuf_free(&a->ooobuf);
    sbuf_free(&a->labelbuf);
    free(a);
}

const char *tsdb_appender_error(const struct tsdb_appender *a)
{
    return a->err;
}

void tsdb_appender_rollback(struct tsdb_appender *a)
{
    appender_reset(a);
}

static int appender_fail(struct tsdb_appender *a, const char *fmt, const char *arg)
{
    snprintf(a->err, sizeof a->err, fmt, arg);
    return -1;
}

/* A label set must be sorted by name with unique, non-empty names and
 * non-empty values (an empty value is the same as no label). */
static int labels_check(struct tsdb_appender *a, const struct labels *ls)
{
    if (!ls || ls->n == 0)
        return appender_fail(a, "%s", "empty label set");
    for (size_t i = 0; i < ls->n; i++) {
        const struct label *l = &ls->v[i];
        if (!l->name[0])
            return appender_fail(a, "%s", "empty label name");
        if (!l->value[0])
            return appender_fail(a, "label %s has an empty value", l->name);
        if (i && strcmp(ls->v[i - 1].name, l->name) >= 0)
            return appender_fail(a, "labels not sorted or duplicated at %s", l->name);
    }
    return 0;
}

static void stage(struct tsdb_appender *a, uint32_t id, uint32_t newidx, int64_t t, double v,
                  uint64_t *ref, int64_t st)
{
    if (a->n == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 128;
        a->v = xrealloc(a->v, a->cap * sizeof *a->v);
        if (a->st)
            a->st = xrealloc(a->st, a->cap * sizeof *a->st);
    }
    if (st && !a->st)
        a->st = xcalloc(a->cap, sizeof *a->st); /* the batch's first ST: zeros before it */
    if (a->st)
        a->st[a->n] = st;
    a->v[a->n++] = (struct staged){id, newidx, t, v, ref};
}

/* Index of the new series with these canonical bytes, staging it if it is
 * not in this batch yet. */
static uint32_t new_series_find_or_add(struct tsdb_appender *a, uint64_t *ref, size_t off,
                                       size_t len)
{
    uint64_t h = XXH3_64bits(a->strings.data + off, len);
    for (size_t i = 0; i < a->nns; i++) {
        struct new_series *s = &a->ns[i];
        if (s->hash == h && s->len == len &&
            memcmp(a->strings.data + s->off, a->strings.data + off, len) == 0) {
            a->strings.len = off; /* drop the copy just made */
            return (uint32_t)i;
        }
    }
    if (a->nns == a->capns) {
        a->capns = a->capns ? a->capns * 2 : 64;
        a->ns = xrealloc(a->ns, a->capns * sizeof *a->ns);
    }
    a->ns[a->nns] = (struct new_series){ref, h, off, len, 0};
    return (uint32_t)a->nns++;
}

int tsdb_append(struct tsdb_appender *a, uint64_t *ref, const struct labels *ls, int64_t t,
                double v)
{
    return tsdb_append_st(a, ref, ls, t, v, 0);
}

int tsdb_append_st(struct tsdb_appender *a, uint64_t *ref, const struct labels *ls, int64_t t,
                   double v, int64_t st)
{
    if (*ref) {
        stage(a, (uint32_t)*ref, 0, t, v, ref, st);
        return 0;
    }
    if (labels_check(a, ls) < 0)
        return -1;
    /* A reset read txn holds no pointer into the map, so it may outlive
     * the gate (tsdb_env.c); only the lookup runs inside. */
    tsdb_env_enter(a->db);
    int rc =
        a->rtxn ? mdb_txn_renew(a->rtxn) : mdb_txn_begin(a->db->env, NULL, MDB_RDONLY, &a->rtxn);
    uint32_t id = 0;
    if (rc == 0) {
        rc = index_series_lookup(a->db->index, a->rtxn, ls, &id);
        mdb_txn_reset(a->rtxn);
    } else if (a->rtxn) {
        mdb_txn_abort(a->rtxn);
        a->rtxn = NULL;
    }
    tsdb_env_leave(a->db);
    if (rc != 0)
        return appender_fail(a, "index lookup: %s", mdb_strerror(rc));
    if (id) {
        *ref = id;
        stage(a, id, 0, t, v, ref, st);
        return 0;
    }
    size_t off = a->strings.len;
    for (size_t i = 0; i < ls->n; i++) {
        sbuf_puts(&a->strings, ls->v[i].name);
        sbuf_putc(&a->strings, '\xff');
        sbuf_puts(&a->strings, ls->v[i].value);
        sbuf_putc(&a->strings, '\xff');
    }
    uint32_t idx = new_series_find_or_add(a, ref, off, a->strings.len - off);
    stage(a, 0, idx, t, v, ref, st);
    return 0;
}

/* Splits canonical bytes back into a label view (names and values are
 * NUL-terminated in place by replacing the 0xFF separators). */
static size_t canonical_view(char *p, size_t len, struct label *out, size_t max)
{
    size_t n = 0;
    char *end = p + len;
    while (p < end && n < max) {
        char *sep = memchr(p, '\xff', (size_t)(end - p));
        char *sep2 = sep ? memchr(sep + 1, '\xff', (size_t)(end - sep - 1)) : NULL;
        if (!sep2)
            break;
        *sep = *sep2 = '\0';
        out[n++] = (struct label){p, sep + 1};
        p = sep2 + 1;
    }
    return n;
}

/* The write txn that adds the batch's new series (run again from the start
 * if the map had to grow). */
static int create_series_txn(MDB_txn *txn, void *arg)
{
    struct tsdb_appender *a = arg;
    struct label lv[256];
    a->created = 0;
    for (size_t i = 0; i < a->nns; i++) {
        struct new_series *s = &a->ns[i];
        /* Split a copy: the txn may run again if the map has to grow. */
        sbuf_reset(&a->labelbuf);
        sbuf_append(&a->labelbuf, a->strings.data + s->off, s->len);
        size_t nl = canonical_view(a->labelbuf.data, s->len, lv, 256);
        struct labels ls = {lv, nl};
        bool was_created = false;
        int rc = index_series_add(a->db->index, txn, &ls, &s->id, &was_created);
        if (rc != 0)
            return rc;
        a->created += was_created;
    }
    return index_flush(a->db->index, txn);
}

/* Creates this batch's new series in one synced LMDB transaction. */
static int appender_create_series(struct tsdb_appender *a, uint32_t *created)
{
    struct tsdb *db = a->db;
    pthread_mutex_lock(&db->create_mu);
    int rc = tsdb_write(db, create_series_txn, a);
    if (rc == 0) {
        *created += a->created;
        rc = tsdb_env_sync(db);
    }
    pthread_mutex_unlock(&db->create_mu);
    if (rc != 0)
        return appender_fail(a, "creating series: %s", mdb_strerror(rc));
    for (size_t i = 0; i < a->nns; i++)
        *a->ns[i].ref = a->ns[i].id;
    return 0;
}

enum head_append_result tsdb_head_apply(struct tsdb *db, uint32_t id, int64_t t, double v,
                                        int64_t st, uint32_t segment)
{
    enum head_append_result r = head_append(&db->head, id, t, v, st, segment);
    return r == HEAD_OUT_OF_ORDER ? tsdb_ooo_apply(db, id, t, v, segment) : r;
}

static uint64_t zigzag(uint64_t d) /* d: an int64 as bits */
{
    return (d << 1) ^ (0 - (d >> 63));
}

/* One sample of a WAL_REC_SAMPLES record, or of a WAL_REC_SAMPLES_ST
 * record when st is not NULL (tsdb_internal.h). */
static void wal_put_sample(struct sbuf *b, uint32_t id, int64_t *prev_t, int64_t t, double v,
                           const int64_t *st)
{
    uint8_t tmp[48];
    size_t k = tsdb_uvarint_put(tmp, id);
    k += tsdb_uvarint_put(tmp + k, zigzag((uint64_t)t - (uint64_t)*prev_t));
    memcpy(tmp + k, &v, 8);
    k += 8;
    if (st) {
        tmp[k++] = *st != 0;
        if (*st)
            k += tsdb_uvarint_put(tmp + k, zigzag((uint64_t)*st - (uint64_t)t));
    }
    sbuf_append(b, tmp, k);
    *prev_t = t;
}

/* Logs the accepted samples of the batch as one record: WAL_REC_SAMPLES,
 * or WAL_REC_OOO_SAMPLES when some were out of order, each in its _ST form
 * when the batch carries start timestamps (tsdb_internal.h). */
static int appender_log(struct tsdb_appender *a, const struct tsdb_commit_stats *st)
{
    uint8_t hdr[2][10];
    uint32_t in_order = st->appended - st->ooo_appended;
    struct iovec iov[4];
    int n = 0;
    if (st->ooo_appended) {
        iov[n++] = (struct iovec){hdr[0], tsdb_uvarint_put(hdr[0], st->ooo_appended)};
        iov[n++] = (struct iovec){a->ooobuf.data, a->ooobuf.len};
    }
    iov[n++] = (struct iovec){hdr[1], tsdb_uvarint_put(hdr[1], in_order)};
    iov[n++] = (struct iovec){a->walbuf.data, a->walbuf.len};
    uint8_t type = st->ooo_appended ? (a->st ? WAL_REC_OOO_SAMPLES_ST : WAL_REC_OOO_SAMPLES)
                                    : (a->st ? WAL_REC_SAMPLES_ST : WAL_REC_SAMPLES);
    if (wal_appendv(a->db->wal, type, iov, n, NULL) < 0) {
        char msg[200];
        wal_last_error(a->db->wal, msg, sizeof msg);
        return appender_fail(a, "write-ahead log: %s", msg);
    }
    return 0;
}

/* Applies the staged samples and logs the accepted ones; exclusive lock. */
static int appender_apply(struct tsdb_appender *a, struct tsdb_commit_stats *st)
{
    struct tsdb *db = a->db;
    uint32_t seg = wal_segment_current(db->wal);
    int64_t prev_t = 0, prev_ooo = 0, max_t = INT64_MIN;
    sbuf_reset(&a->walbuf);
    sbuf_reset(&a->ooobuf);
    for (size_t i = 0; i < a->n; i++) {
        struct staged *s = &a->v[i];
        uint32_t id = s->id ? s->id : a->ns[s->newidx].id;
        const int64_t *sst = a->st ? &a->st[i] : NULL;
        switch (tsdb_head_apply(db, id, s->t, s->v, sst ? *sst : 0, seg)) {
        case HEAD_APPENDED:
            st->appended++;
            wal_put_sample(&a->walbuf, id, &prev_t, s->t, s->v, sst);
            if (s->t > max_t)
                max_t = s->t;
            break;
        case HEAD_OOO_APPENDED:
            st->appended++;
            st->ooo_appended++;
            wal_put_sample(&a->ooobuf, id, &prev_ooo, s->t, s->v, sst);
            break;
        case HEAD_DUPLICATE_SAME:
            break;
        case HEAD_DUPLICATE:
            st->duplicate++;
            break;
        case HEAD_OUT_OF_ORDER:
            st->out_of_order++;
            break;
        case HEAD_TOO_OLD:
            st->too_old++;
            break;
        case HEAD_NO_SERIES: /* collected (gc.c): the caller must name it by labels again */
            st->unknown_series++;
            *s->ref = 0;
            break;
        }
    }
    int64_t cur = atomic_load(&db->max_t);
    while (max_t > cur && !atomic_compare_exchange_weak(&db->max_t, &cur, max_t))
        ;
    return st->appended ? appender_log(a, st) : 0;
}

/* A series the head has not seen since the database was opened may have
 * samples in LMDB (flushed before a restart, with the WAL since emptied):
 * its newest stored timestamp decides what is out of order, as during WAL
 * replay.  Looked up before the exclusive head lock is taken, because LMDB
 * reads enter the env gate, which must never be waited for under that lock.
 * Fills a->known with (id, newest stored t) pairs. */
static uint64_t appender_load_persisted(struct tsdb_appender *a)
{
    struct tsdb *db = a->db;
    a->nknown = 0;
    pthread_rwlock_rdlock(&db->head.lock);
    uint64_t epoch = db->head.epoch;
    for (size_t i = 0; i < a->n; i++) {
        uint32_t id = a->v[i].id;
        if (!id || head_series_get(&db->head, id, false))
            continue;
        if (a->nknown && a->known[a->nknown - 1].id == id)
            continue;
        if (a->nknown == a->capknown) {
            a->capknown = a->capknown ? a->capknown * 2 : 64;
            a->known = xrealloc(a->known, a->capknown * sizeof *a->known);
        }
        a->known[a->nknown++] = (struct known_series){id, false, a->v[i].t};
    }
    pthread_rwlock_unlock(&db->head.lock);
    if (!a->nknown)
        return epoch;
    MDB_txn *txn;
    if (tsdb_read_begin(db, &txn) != 0) {
        for (size_t i = 0; i < a->nknown; i++)
            a->known[i].maxt = INT64_MIN; /* as if new: nothing to compare with */
        return epoch;
    }
    struct block_codec *bc = block_codec_new(); /* rare: series new to the head */
    for (size_t i = 0; i < a->nknown; i++) {
        struct known_series *k = &a->known[i];
        k->dead = index_series_exists(db->index, txn, k->id) == MDB_NOTFOUND;
        if (!k->dead)
            k->maxt = tsdb_persisted_maxt(db, txn, bc, k->id, k->maxt);
    }
    block_codec_free(bc);
    tsdb_read_end(db, txn);
    return epoch;
}

/* Puts the batch's series that are not in the head yet into it: the
 * known ones with their newest stored time, and the new ones.  Collected
 * series stay out (appender_apply drops their samples).  Exclusive head
 * lock held. */
static void appender_apply_persisted(struct tsdb_appender *a)
{
    for (size_t i = 0; i < a->nknown; i++) {
        if (a->known[i].dead)
            continue;
        struct head_series *s = head_series_get(&a->db->head, a->known[i].id, true);
        if (a->known[i].maxt > s->persisted_maxt)
            s->persisted_maxt = a->known[i].maxt;
    }
    for (size_t i = 0; i < a->nns; i++)
        head_series_get(&a->db->head, a->ns[i].id, true);
}

int tsdb_appender_commit(struct tsdb_appender *a, struct tsdb_commit_stats *out)
{
    struct tsdb_commit_stats st = {0};
    a->err[0] = '\0';
    if (a->nns && appender_create_series(a, &st.series_created) < 0) {
        appender_reset(a);
        return -1;
    }
    /* The series the head lacks are looked up outside the lock; if a
     * series left the head meanwhile (gc.c bumps the epoch), again. */
    for (;;) {
        uint64_t epoch = appender_load_persisted(a);
        pthread_rwlock_wrlock(&a->db->head.lock);
        if (a->db->head.epoch == epoch)
            break;
        pthread_rwlock_unlock(&a->db->head.lock);
    }
    appender_apply_persisted(a);
    int rc = appender_apply(a, &st);
    pthread_rwlock_unlock(&a->db->head.lock);
    struct tsdb *db = a->db;
    if (db->m_appended) {
        metric_add(db->m_appended, st.appended);
        metric_add(db->m_out_of_order, st.out_of_order);
        metric_add(db->m_ooo_appended, st.ooo_appended);
        metric_add(db->m_too_old, st.too_old);
        metric_add(db->m_duplicate, st.duplicate);
        metric_add(db->m_series_created, st.series_created);
    }
    if (out)
        *out = st;
    appender_reset(a);
    return rc;
}
