/* tsdb_select.c — consistent snapshots for readers.
 *
 * tsdb_select resolves the selector in the index, and copies the matching
 * series' head samples in [mint, maxt], all while holding the head's
 * shared lock and inside an LMDB read transaction begun under that lock.
 * Batches are applied under the exclusive lock and the flusher commits a
 * block to LMDB before it drops the chunk from the head, so the snapshot
 * holds every sample of every batch committed before it and none of the
 * later ones; a chunk caught both in LMDB and in the head is merged once.
 *
 * Iteration then decodes each series' data from LMDB and merges the head's
 * samples, in-order and out-of-order (head_ooo.c), into arrays reused from
 * series to series (blocks.c's merge rule: a plain append unless
 * out-of-order data reaches back).  In
 * LMDB a series has blocks (one cursor seek, then a short scan over that
 * series' adjacent keys) and archived windows (keyed window first, so one
 * lookup of the series' group per window of the range the archive holds;
 * a group of 32 series is decompressed once, up to ~40 KB in ~30 us, and
 * kept in a small per-set cache for the other series of the group).
 * Window by window, the archive comes before the blocks, merged in time
 * order (blocks.c).
 *
 * Start timestamps ride along for readers that ask (tsdb_series_set_next_st):
 * the snapshot copies the head's STs of the series whose chunks have an ST
 * column, and the iteration decodes the blocks' ST columns into an array
 * parallel to ts, which a series gets only once one of its parts has STs.
 * Readers that do not ask skip the columns; series without STs cost either
 * kind of reader one flag test per block.
 *
 * A series set holds its read txn, and so its place in the env gate
 * (tsdb_env.c), until it is freed: free it promptly, since growing the map
 * waits for every set to end. */
#include "storage/tsdb_internal.h"

#include <stdlib.h>
#include <string.h>

/* Archive groups a set has decoded, least recently used replaced: series
 * come in id order, each over its windows, so a query over the series of
 * one target decodes each of the target's groups once per window. */
#define SET_GROUPS 16
struct set_group {
    struct archive_group g;
    uint64_t used; /* 0: empty */
    bool missing;  /* the group is not in the archive */
};

struct tsdb_series_set {
    struct tsdb *db;
    MDB_txn *txn;
    MDB_cursor *cur;
    int64_t afirst, alast;               /* the archive's windows; afirst > alast if empty */
    struct set_group groups[SET_GROUPS]; /* archive groups decoded */
    uint64_t uses;
    bool abounds; /* afirst, alast are known */
    uint32_t *ids;
    size_t nids, pos;
    size_t *head_off; /* per id: byte offset and count of its head samples, */
    size_t *head_n;   /* in-order ones first, then ooo_n out-of-order ones */
    size_t *ooo_n;
    size_t *head_st_off; /* per id: byte offset of its head STs; SIZE_MAX if none */
    struct sbuf head;    /* (int64 t, double v) pairs */
    struct sbuf head_st; /* int64 STs of the in-order head samples of series with some */
    int64_t mint, maxt;
    struct index_labels labels;
    int64_t *ts;
    double *vs;
    int64_t *sts; /* with cap entries once some series had STs */
    size_t cap;
    bool want_st; /* the current call decodes STs */
    bool cur_st;  /* sts holds the current series' STs */
    struct block_codec *codec;
};

int tsdb_select(struct tsdb *db, const struct label_matcher *ms, size_t n, int64_t mint,
                int64_t maxt, struct tsdb_series_set **out, char *err, size_t errlen)
{
    struct tsdb_series_set *set = xcalloc(1, sizeof *set);
    struct index_labels init = INDEX_LABELS_INIT;
    set->labels = init;
    set->db = db;
    set->mint = mint;
    set->maxt = maxt;
    /* The gate before the head lock, as everywhere (tsdb_internal.h). */
    tsdb_env_enter(db);
    pthread_rwlock_rdlock(&db->head.lock);
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, &set->txn);
    if (rc != 0) {
        pthread_rwlock_unlock(&db->head.lock);
        tsdb_env_leave(db);
        snprintf(err, errlen, "storage: %s", mdb_strerror(rc));
        free(set);
        return -1;
    }
    roaring_bitmap_t *bm = NULL;
    if (index_select(db->index, set->txn, ms, n, &bm, err, errlen) < 0) {
        pthread_rwlock_unlock(&db->head.lock);
        tsdb_series_set_free(set);
        return -1;
    }
    set->nids = roaring_bitmap_get_cardinality(bm);
    set->ids = xmalloc((set->nids ? set->nids : 1) * sizeof *set->ids);
    roaring_bitmap_to_uint32_array(bm, set->ids);
    roaring_bitmap_free(bm);
    size_t nalloc = set->nids ? set->nids : 1;
    set->head_off = xmalloc(nalloc * sizeof *set->head_off);
    set->head_n = xmalloc(nalloc * sizeof *set->head_n);
    set->ooo_n = xmalloc(nalloc * sizeof *set->ooo_n);
    set->head_st_off = xmalloc(nalloc * sizeof *set->head_st_off);
    for (size_t i = 0; i < set->nids; i++) {
        set->head_off[i] = set->head.len;
        size_t st_off = set->head_st.len;
        bool st =
            head_series_samples(&db->head, set->ids[i], mint, maxt, &set->head, &set->head_st);
        set->head_n[i] = (set->head.len - set->head_off[i]) / 16;
        set->head_st_off[i] = st ? st_off : SIZE_MAX;
        size_t before = set->head.len;
        ooo_series_samples(&db->ooo, set->ids[i], mint, maxt, &set->head);
        set->ooo_n[i] = (set->head.len - before) / 16;
    }
    pthread_rwlock_unlock(&db->head.lock);
    set->codec = block_codec_new();
    *out = set;
    return 0;
}

static void set_reserve(struct tsdb_series_set *set, size_t need)
{
    if (need <= set->cap)
        return;
    size_t cap = set->cap ? set->cap : 1024;
    while (cap < need)
        cap *= 2;
    set->ts = xrealloc(set->ts, cap * sizeof *set->ts);
    set->vs = xrealloc(set->vs, cap * sizeof *set->vs);
    if (set->sts)
        set->sts = xrealloc(set->sts, cap * sizeof *set->sts);
    set->cap = cap;
}

/* The current series has STs from here on: its first n samples get 0. */
static void set_st_begin(struct tsdb_series_set *set, size_t n)
{
    if (set->cur_st)
        return;
    if (!set->sts)
        set->sts = xmalloc((set->cap ? set->cap : 1) * sizeof *set->sts);
    memset(set->sts, 0, n * sizeof *set->sts);
    set->cur_st = true;
}

/* Appends the samples of the block p[0..len) (first and last times t0,
 * tmax) within range after `n` samples; returns the new count. */
static size_t set_add_body(struct tsdb_series_set *set, int64_t t0, int64_t tmax, const uint8_t *p,
                           size_t len, size_t n)
{
    if (tmax < set->mint)
        return n;
    size_t cnt = block_count(p, len);
    if (!cnt)
        return n;
    set_reserve(set, n + cnt);
    if (set->want_st && block_has_st(p, len))
        set_st_begin(set, n);
    int64_t *sts = set->cur_st ? set->sts + n : NULL;
    int got = block_decode(set->codec, p, len, t0, set->ts + n, set->vs + n, sts, cnt);
    if (got <= 0)
        return n;
    /* Keep the samples in range, merged with what came before. */
    size_t w = n;
    for (size_t i = n; i < n + (size_t)got; i++) {
        int64_t t = set->ts[i];
        if (t < set->mint || t > set->maxt)
            continue;
        set->ts[w] = t;
        set->vs[w] = set->vs[i];
        if (sts)
            set->sts[w] = set->sts[i];
        w++;
    }
    return tsdb_samples_merge_tail(set->ts, set->vs, set->cur_st ? set->sts : NULL, n, w - n);
}

/* Merges count (int64 t, double v) pairs at p, oldest first, with their
 * STs at hs (NULL: none), after `n` samples; returns the new count. */
static size_t set_add_pairs(struct tsdb_series_set *set, const char *p, const char *hs,
                            size_t count, size_t n)
{
    set_reserve(set, n + count);
    if (hs)
        set_st_begin(set, n);
    for (size_t j = 0; j < count; j++, p += 16) {
        memcpy(&set->ts[n + j], p, 8);
        memcpy(&set->vs[n + j], p + 8, 8);
        if (hs)
            memcpy(&set->sts[n + j], hs + 8 * j, 8);
        else if (set->cur_st)
            set->sts[n + j] = 0;
    }
    return tsdb_samples_merge_tail(set->ts, set->vs, set->cur_st ? set->sts : NULL, n, count);
}

/* Appends the samples of one block value after `n` samples. */
static size_t set_add_block(struct tsdb_series_set *set, int64_t t0, const MDB_val *val, size_t n)
{
    const uint8_t *p = val->mv_data, *end = p + val->mv_size;
    uint64_t dt;
    size_t k = tsdb_uvarint_get(p, end, &dt);
    return k ? set_add_body(set, t0, t0 + (int64_t)dt, p + k, (size_t)(end - p - k), n) : n;
}

/* The decoded group (w, g), from the cache or loaded into it; NULL if the
 * archive has none (or it is corrupt: readers skip it). */
static const struct archive_group *set_group_get(struct tsdb_series_set *set, int64_t w, uint32_t g)
{
    struct set_group *victim = &set->groups[0];
    for (int i = 0; i < SET_GROUPS; i++) {
        struct set_group *e = &set->groups[i];
        if (e->used && e->g.window == w && e->g.group == g) {
            e->used = ++set->uses;
            return e->missing ? NULL : &e->g;
        }
        if (e->used < victim->used)
            victim = e;
    }
    victim->used = ++set->uses;
    int rc = archive_group_load(set->txn, set->db->archive, set->codec, w, g, true, &victim->g);
    victim->g.window = w; /* a failed load still names the group it missed */
    victim->g.group = g;
    victim->missing = rc != 0;
    return victim->missing ? NULL : &victim->g;
}

/* Appends the archived samples of (w, id) after `n` samples. */
static size_t set_add_archive(struct tsdb_series_set *set, int64_t w, uint32_t id, size_t n)
{
    const struct archive_group *g = set_group_get(set, w, id / ARCHIVE_GROUP_SERIES);
    const struct archive_member *m = g ? archive_group_find(g, id) : NULL;
    if (!m)
        return n;
    const uint8_t *p = (const uint8_t *)g->body.data + m->off;
    return set_add_body(set, m->t0, m->tmax, p, m->len, n);
}

/* The series' samples in LMDB: window by window, the archive's parts,
 * then the blocks (tsdb_internal.h).  The blocks come from one cursor
 * scan over the series' adjacent keys; the archive costs a lookup per
 * window of the range that the archive holds. */
static size_t set_read_blocks(struct tsdb_series_set *set, uint32_t id)
{
    struct tsdb *db = set->db;
    if (!set->cur && mdb_cursor_open(set->txn, db->blocks, &set->cur) != 0)
        return 0;
    if (!set->abounds) {
        set->abounds = true;
        if (!tsdb_archive_windows(set->txn, db->archive, &set->afirst, &set->alast)) {
            set->afirst = 0;
            set->alast = -1;
        }
    }
    /* The archive windows to look up: aw, aw + TSDB_WINDOW_MS, ... aend. */
    int64_t aw = set->mint < set->afirst ? set->afirst : tsdb_window_start(set->mint);
    int64_t aend = set->maxt > set->alast ? set->alast : tsdb_window_start(set->maxt);
    uint8_t k[12];
    int64_t from = set->mint > INT64_MIN + TSDB_WINDOW_MS ? set->mint - TSDB_WINDOW_MS : INT64_MIN;
    tsdb_block_key(id, from, k);
    MDB_val key = {sizeof k, k}, val;
    size_t n = 0;
    for (int rc = mdb_cursor_get(set->cur, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(set->cur, &key, &val, MDB_NEXT)) {
        uint32_t kid;
        int64_t t0;
        if (key.mv_size != 12)
            break;
        tsdb_block_key_decode(key.mv_data, &kid, &t0);
        if (kid != id || t0 > set->maxt)
            break;
        for (; aw <= aend && aw <= t0; aw += TSDB_WINDOW_MS)
            n = set_add_archive(set, aw, id, n);
        n = set_add_block(set, t0, &val, n);
    }
    for (; aw <= aend; aw += TSDB_WINDOW_MS)
        n = set_add_archive(set, aw, id, n);
    return n;
}

/* Merges series i's head samples, in order and out of order (which have
 * no STs), into the first n; returns the new count. */
static size_t set_add_head(struct tsdb_series_set *set, size_t i, size_t n)
{
    const char *h = set->head.data + set->head_off[i];
    bool st = set->want_st && set->head_st_off[i] != SIZE_MAX;
    const char *hs = st ? set->head_st.data + set->head_st_off[i] : NULL;
    n = set_add_pairs(set, h, hs, set->head_n[i], n);
    return set_add_pairs(set, h + set->head_n[i] * 16, NULL, set->ooo_n[i], n);
}

static bool set_next(struct tsdb_series_set *set, bool want_st, const struct labels **ls,
                     const int64_t **ts, const double **vs, const int64_t **sts, size_t *np)
{
    set->want_st = want_st;
    while (set->pos < set->nids) {
        size_t i = set->pos++;
        uint32_t id = set->ids[i];
        set->cur_st = false;
        size_t n = set_add_head(set, i, set_read_blocks(set, id));
        if (n == 0)
            continue;
        if (index_series_labels(set->db->index, set->txn, id, &set->labels) != 0)
            continue;
        *ls = &set->labels.ls;
        *ts = set->ts;
        *vs = set->vs;
        *sts = set->cur_st ? set->sts : NULL;
        *np = n;
        return true;
    }
    return false;
}

bool tsdb_series_set_next(struct tsdb_series_set *set, const struct labels **ls, const int64_t **ts,
                          const double **vs, size_t *np)
{
    const int64_t *sts;
    return set_next(set, false, ls, ts, vs, &sts, np);
}

bool tsdb_series_set_next_st(struct tsdb_series_set *set, const struct labels **ls,
                             const int64_t **ts, const double **vs, const int64_t **sts, size_t *np)
{
    return set_next(set, true, ls, ts, vs, sts, np);
}

void tsdb_series_set_free(struct tsdb_series_set *set)
{
    if (!set)
        return;
    if (set->cur)
        mdb_cursor_close(set->cur);
    if (set->txn)
        tsdb_read_end(set->db, set->txn);
    free(set->ids);
    free(set->head_off);
    free(set->head_n);
    free(set->ooo_n);
    free(set->head_st_off);
    sbuf_free(&set->head);
    sbuf_free(&set->head_st);
    index_labels_free(&set->labels);
    free(set->ts);
    free(set->vs);
    free(set->sts);
    block_codec_free(set->codec);
    for (int i = 0; i < SET_GROUPS; i++)
        archive_group_free(&set->groups[i].g);
    free(set);
}
