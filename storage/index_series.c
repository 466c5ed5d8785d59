/* index_series.c — the label sets of index.series: raw records and groups.
 *
 * Storing each series' canonical label bytes under its id costs ~100 bytes
 * a series plus LMDB's 14 per record: on the bench/storage.sh dataset (838
 * node_exporter and Prometheus series) 21 of the index's 43 pages.  But the
 * series a target exposes are created together, get neighbouring ids, and
 * share most of their bytes (job, instance, metric name prefixes, label
 * names).  So ids are grouped as the archive groups them, INDEX_GROUP_SERIES
 * (32) to a group with base = id - id % 32, and a finished group is one
 * record under its base id, its members' label sets compressed together:
 *
 *   u8       0x00 — tag: a raw record is a label set, whose first byte is
 *            a label name's and so never 0x00
 *   u8       flags: bit 0 the payload is a zstd frame (magicless, no
 *            checksum, content size or dictionary id), else raw
 *   u32      live: bit i set if series base + i is a member
 *   u32      stored: bit i set if the payload holds base + i's bytes
 *            (stored == live between txns; a delete clears the live bit
 *            at once and the flush drops the bytes)
 *   uvarint  payload length, uncompressed
 *   payload  per stored member, ids ascending: uvarint length, bytes
 * (u32s in native byte order, like LMDB's integer keys.)
 *
 * A new series is written raw under its id (appended: ids only grow), so
 * it is readable at once in its txn; the flush that hands out a group's
 * last id rewrites the group as one record (index_groups_compact), in the
 * same txn, so a crash leaves either the raw records or the group.  Only
 * the newest, unfinished group stays raw; repack (after an import) and
 * the format-1 migration compress it too, and series created later in it
 * are raw records beside the group record until it fills up.
 *
 * Measured on that dataset: 72 KB of label bytes become 10.4 KB.  zstd
 * with Huffman-coded literals made 8.7 KB but took 3.7 us to decode a
 * group; with literals left raw (ZSTD_c_literalCompressionMode) 0.77 us.
 * Groups of 64 made 9.4 KB and took twice as long; 16 made 13.4 KB.
 * Reading a label set is on the query path, once per selected series, and
 * selected series are usually of one metric across targets, one or two
 * per group, so decode time counts more than the last kilobyte.
 *
 * A reader decodes a group into its struct index_labels and keeps it, with
 * a copy of the record's bytes: the next series of the same group, if the
 * record is byte-identical, needs no decompression — whatever txn it is
 * read in, since equal bytes decode to equal label sets.  zstd contexts
 * cost more to create (~17 us, 96 KB) than a decode, so readers borrow
 * them from a pool in struct index. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_format, ZSTD_c_literalCompressionMode */
#include "storage/index_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define INDEX_GROUP_TAG   0x00
#define INDEX_GROUP_ZSTD  0x01
#define INDEX_GROUP_HDR   10 /* tag, flags, live, stored */
#define INDEX_GROUP_LEVEL 6  /* 3: 5 % larger; 19: 2.5 % smaller, 10x slower */
#define INDEX_DCTX_IDLE   8
/* No label set is near this long (LMDB values are bounded by the map). */
#define INDEX_GROUP_RAW_MAX (64u << 20)

/* --- The pool of decompression contexts ---------------------------------- */

struct index_dctx_pool {
    pthread_mutex_t mu;
    ZSTD_DCtx *idle[INDEX_DCTX_IDLE];
    size_t n;
};

struct index_dctx_pool *index_dctx_pool_new(void)
{
    struct index_dctx_pool *p = xcalloc(1, sizeof *p);
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

void index_dctx_pool_free(struct index_dctx_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++)
        ZSTD_freeDCtx(p->idle[i]);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

static ZSTD_DCtx *index_dctx_borrow(struct index_dctx_pool *p)
{
    pthread_mutex_lock(&p->mu);
    ZSTD_DCtx *d = p->n ? p->idle[--p->n] : NULL;
    pthread_mutex_unlock(&p->mu);
    if (d)
        return d;
    if (!(d = ZSTD_createDCtx()))
        abort(); /* out of memory, as xmalloc */
    ZSTD_DCtx_setParameter(d, ZSTD_d_format, ZSTD_f_zstd1_magicless);
    return d;
}

static void index_dctx_return(struct index_dctx_pool *p, ZSTD_DCtx *d)
{
    pthread_mutex_lock(&p->mu);
    if (p->n < INDEX_DCTX_IDLE) {
        p->idle[p->n++] = d;
        d = NULL;
    }
    pthread_mutex_unlock(&p->mu);
    ZSTD_freeDCtx(d);
}

/* --- Group records ------------------------------------------------------- */

struct index_reader {
    struct index_dctx_pool *pool;
    ZSTD_DCtx *dctx; /* borrowed from pool on the first zstd group */
    struct sbuf rec; /* the group record decoded last, as stored */
    bool valid;      /* rec and the members below belong together */
    char *raw;       /* its payload, uncompressed */
    size_t raw_cap;
    uint32_t off[INDEX_GROUP_SERIES]; /* stored member i: raw[off[i], +len[i]) */
    uint32_t len[INDEX_GROUP_SERIES];
};

/* A group record's header, its body borrowed from the record. */
struct index_group {
    uint32_t live;
    uint32_t stored;
    bool zstd;
    uint64_t raw_len;
    const uint8_t *body;
    size_t body_len;
};

static bool index_record_is_group(const MDB_val *rec)
{
    return rec->mv_size > 0 && *(const uint8_t *)rec->mv_data == INDEX_GROUP_TAG;
}

static int index_group_parse(const MDB_val *rec, struct index_group *g)
{
    const uint8_t *p = rec->mv_data, *end = p + rec->mv_size;
    if (rec->mv_size < INDEX_GROUP_HDR + 1 || p[0] != INDEX_GROUP_TAG || (p[1] & ~INDEX_GROUP_ZSTD))
        return MDB_CORRUPTED;
    memcpy(&g->live, p + 2, 4);
    memcpy(&g->stored, p + 6, 4);
    size_t k = tsdb_uvarint_get(p + INDEX_GROUP_HDR, end, &g->raw_len);
    if (!k || (g->live & ~g->stored) || g->raw_len > INDEX_GROUP_RAW_MAX)
        return MDB_CORRUPTED;
    g->zstd = p[1] & INDEX_GROUP_ZSTD;
    g->body = p + INDEX_GROUP_HDR + k;
    g->body_len = (size_t)(end - g->body);
    return g->zstd || g->body_len == g->raw_len ? 0 : MDB_CORRUPTED;
}

/* Finds the member offsets in rd->raw (len bytes). */
static int index_group_index(struct index_reader *rd, uint32_t stored, size_t len)
{
    const uint8_t *p = (const uint8_t *)rd->raw, *end = p + len;
    for (unsigned i = 0; i < INDEX_GROUP_SERIES; i++) {
        if (!(stored & (1u << i)))
            continue;
        uint64_t n;
        size_t k = tsdb_uvarint_get(p, end, &n);
        if (!k || n > (uint64_t)(end - p - k))
            return MDB_CORRUPTED;
        rd->off[i] = (uint32_t)(p + k - (const uint8_t *)rd->raw);
        rd->len[i] = (uint32_t)n;
        p += k + n;
    }
    return p == end ? 0 : MDB_CORRUPTED;
}

/* Decodes group record rec into l's reader, unless it holds it already. */
static int index_group_load(const struct index *ix, struct index_labels *l, const MDB_val *rec,
                            const struct index_group *g)
{
    if (!l->rd) {
        l->rd = xcalloc(1, sizeof *l->rd);
        l->rd->pool = ix->pool;
    }
    struct index_reader *rd = l->rd;
    if (rd->valid && rd->rec.len == rec->mv_size &&
        memcmp(rd->rec.data, rec->mv_data, rec->mv_size) == 0)
        return 0;
    rd->valid = false;
    if (rd->raw_cap < g->raw_len + 1) {
        rd->raw_cap = (size_t)g->raw_len + 1;
        rd->raw = xrealloc(rd->raw, rd->raw_cap);
    }
    if (g->zstd) {
        if (!rd->dctx)
            rd->dctx = index_dctx_borrow(rd->pool);
        size_t r = ZSTD_decompressDCtx(rd->dctx, rd->raw, (size_t)g->raw_len, g->body, g->body_len);
        if (ZSTD_isError(r) || r != g->raw_len)
            return MDB_CORRUPTED;
    } else {
        memcpy(rd->raw, g->body, g->body_len);
    }
    int rc = index_group_index(rd, g->stored, (size_t)g->raw_len);
    if (rc != 0)
        return rc;
    sbuf_reset(&rd->rec);
    sbuf_append(&rd->rec, rec->mv_data, rec->mv_size);
    rd->valid = true;
    return 0;
}

void index_labels_free(struct index_labels *l)
{
    free(l->buf);
    free(l->v);
    if (l->rd) {
        if (l->rd->dctx)
            index_dctx_return(l->rd->pool, l->rd->dctx);
        sbuf_free(&l->rd->rec);
        free(l->rd->raw);
        free(l->rd);
    }
    *l = (struct index_labels)INDEX_LABELS_INIT;
}

/* --- Finding a series ---------------------------------------------------- */

/* Where series id is: 0 with its record in *rec, and *grouped telling
 * whether rec is its group (g parsed) or its own raw record.  The group
 * record is looked at first: complete groups are the common case. */
static int index_series_locate(const struct index *ix, MDB_txn *txn, uint32_t id, MDB_val *rec,
                               struct index_group *g, bool *grouped)
{
    uint32_t base = id - id % INDEX_GROUP_SERIES, bit = 1u << (id - base);
    MDB_val k = {sizeof base, &base};
    int rc = mdb_get(txn, ix->series, &k, rec);
    *grouped = rc == 0 && index_record_is_group(rec);
    if (*grouped) {
        if ((rc = index_group_parse(rec, g)) != 0)
            return rc;
        if (g->live & bit)
            return 0;
        if (id == base || (g->stored & bit))
            return MDB_NOTFOUND; /* deleted (raw ids in a group are newer) */
        *grouped = false;
    } else if (rc == 0 && id == base) {
        return 0;
    } else if (rc != 0 && rc != MDB_NOTFOUND) {
        return rc;
    }
    k = (MDB_val){sizeof id, &id};
    rc = mdb_get(txn, ix->series, &k, rec);
    return rc == 0 && index_record_is_group(rec) ? MDB_CORRUPTED : rc;
}

int index_series_exists(const struct index *ix, MDB_txn *txn, uint32_t id)
{
    MDB_val rec;
    struct index_group g;
    bool grouped;
    return index_series_locate(ix, txn, id, &rec, &g, &grouped);
}

int index_series_bytes(const struct index *ix, MDB_txn *txn, uint32_t id,
                       struct index_labels *scratch, const void **p, size_t *n)
{
    MDB_val rec;
    struct index_group g;
    bool grouped;
    int rc = index_series_locate(ix, txn, id, &rec, &g, &grouped);
    if (rc == 0 && !grouped) {
        *p = rec.mv_data;
        *n = rec.mv_size;
    } else if (rc == 0 && (rc = index_group_load(ix, scratch, &rec, &g)) == 0) {
        unsigned i = id % INDEX_GROUP_SERIES;
        *p = scratch->rd->raw + scratch->rd->off[i];
        *n = scratch->rd->len[i];
    }
    return rc;
}

/* Decodes canonical bytes into out's buffers: the 0xFF after each name and
 * value becomes its NUL terminator. */
static void index_labels_decode(struct index_labels *out, const char *canon, size_t n)
{
    if (out->buf_cap < n + 1) {
        out->buf = xrealloc(out->buf, n + 1);
        out->buf_cap = n + 1;
    }
    memcpy(out->buf, canon, n);
    out->buf[n] = '\0';
    size_t max = 0;
    for (size_t i = 0; i < n; i++)
        max += (unsigned char)canon[i] == 0xFF;
    max /= 2;
    if (out->v_cap < max) {
        out->v = xrealloc(out->v, max * sizeof *out->v);
        out->v_cap = max;
    }
    char *p = out->buf, *end = out->buf + n;
    size_t nl = 0;
    while (nl < max) {
        char *ne = memchr(p, 0xFF, (size_t)(end - p));
        char *ve = ne ? memchr(ne + 1, 0xFF, (size_t)(end - ne - 1)) : NULL;
        if (!ve)
            break;
        *ne = '\0';
        *ve = '\0';
        out->v[nl++] = (struct label){p, ne + 1};
        p = ve + 1;
    }
    out->ls = (struct labels){out->v, nl};
}

int index_series_labels(const struct index *ix, MDB_txn *txn, uint32_t id, struct index_labels *out)
{
    const void *p;
    size_t n;
    int rc = index_series_bytes(ix, txn, id, out, &p, &n);
    if (rc == 0)
        index_labels_decode(out, p, n);
    return rc;
}

/* --- Writing ------------------------------------------------------------- */

int index_series_put(struct index *ix, MDB_txn *txn, uint32_t id, const char *canon, size_t n)
{
    MDB_val k = {sizeof id, &id}, d = {n, (void *)canon};
    return mdb_put(txn, ix->series, &k, &d, MDB_APPEND);
}

static void index_pending_dirty(struct index_pending *pd, uint32_t base)
{
    if (pd->ndirty && pd->dirty[pd->ndirty - 1] == base)
        return;
    if (pd->ndirty == pd->dirtycap) {
        pd->dirtycap = pd->dirtycap ? pd->dirtycap * 2 : 64;
        pd->dirty = xrealloc(pd->dirty, pd->dirtycap * sizeof *pd->dirty);
    }
    pd->dirty[pd->ndirty++] = base;
}

int index_series_remove(struct index *ix, MDB_txn *txn, uint32_t id)
{
    MDB_val rec;
    struct index_group g;
    bool grouped;
    int rc = index_series_locate(ix, txn, id, &rec, &g, &grouped);
    if (rc != 0)
        return rc;
    if (!grouped) {
        MDB_val k = {sizeof id, &id};
        return mdb_del(txn, ix->series, &k, NULL);
    }
    /* Clear the live bit in a copy: the put may reuse the record's page. */
    uint32_t base = id - id % INDEX_GROUP_SERIES, live = g.live & ~(1u << (id - base));
    sbuf_reset(&ix->w.rec);
    sbuf_append(&ix->w.rec, rec.mv_data, rec.mv_size);
    memcpy(ix->w.rec.data + 2, &live, sizeof live);
    MDB_val k = {sizeof base, &base}, d = {ix->w.rec.len, ix->w.rec.data};
    rc = mdb_put(txn, ix->series, &k, &d, 0);
    if (rc == 0)
        index_pending_dirty(&ix->pending, base);
    return rc;
}

/* One member of a group being written: offset from base, bytes. */
struct index_member {
    uint32_t i;
    const char *p;
    size_t n;
    bool raw; /* from a raw record, which the rewrite deletes */
};

/* Adds the members held by record (key id, value d) of the group at base:
 * a raw record's bytes (borrowed from the map), or a group record's live
 * members (decoded into the writer's scratch, borrowed from there).
 * *changed is set if the group must be rewritten for them. */
static int index_group_add_record(struct index *ix, uint32_t base, uint32_t id, const MDB_val *d,
                                  struct index_member *m, size_t *nm, bool *changed)
{
    if (!index_record_is_group(d)) {
        m[(*nm)++] = (struct index_member){id - base, d->mv_data, d->mv_size, true};
        *changed = true;
        return 0;
    }
    struct index_group g;
    int rc = index_group_parse(d, &g);
    if (rc == 0)
        rc = index_group_load(ix, &ix->w.scratch, d, &g);
    if (rc != 0)
        return rc;
    *changed |= g.stored != g.live;
    const struct index_reader *rd = ix->w.scratch.rd;
    for (uint32_t i = 0; i < INDEX_GROUP_SERIES; i++)
        if (g.live & (1u << i))
            m[(*nm)++] = (struct index_member){i, rd->raw + rd->off[i], rd->len[i], false};
    return 0;
}

/* Collects the members of the group at base, in key order. */
static int index_group_members(struct index *ix, MDB_txn *txn, uint32_t base,
                               struct index_member *m, size_t *nm, bool *changed)
{
    *nm = 0;
    *changed = false;
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, ix->series, &c);
    if (rc != 0)
        return rc;
    uint32_t kb = base, id;
    MDB_val k = {sizeof kb, &kb}, d;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        memcpy(&id, k.mv_data, sizeof id);
        if (id - base >= INDEX_GROUP_SERIES ||
            (rc = index_group_add_record(ix, base, id, &d, m, nm, changed)) != 0)
            break;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static ZSTD_CCtx *index_writer_cctx(struct index_writer *w)
{
    if (w->cctx)
        return w->cctx;
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c)
        abort();
    ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, INDEX_GROUP_LEVEL);
    ZSTD_CCtx_setParameter(c, ZSTD_c_format, ZSTD_f_zstd1_magicless);
    ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(c, ZSTD_c_dictIDFlag, 0);
    ZSTD_CCtx_setParameter(c, ZSTD_c_literalCompressionMode, ZSTD_ps_disable);
    w->cctx = c;
    return c;
}

static void index_member_sort(struct index_member *m, size_t n)
{
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && m[j - 1].i > m[j].i; j--) {
            struct index_member t = m[j];
            m[j] = m[j - 1];
            m[j - 1] = t;
        }
}

/* Appends the group record of members m (n >= 1) to out. */
static void index_group_encode(struct index_writer *w, struct index_member *m, size_t n,
                               struct sbuf *out)
{
    index_member_sort(m, n);
    uint32_t live = 0;
    uint8_t v[TSDB_UVARINT_MAX];
    sbuf_reset(&w->payload);
    for (size_t i = 0; i < n; i++) {
        live |= 1u << m[i].i;
        sbuf_append(&w->payload, v, tsdb_uvarint_put(v, m[i].n));
        sbuf_append(&w->payload, m[i].p, m[i].n);
    }
    size_t bound = ZSTD_compressBound(w->payload.len);
    sbuf_reset(&w->frame);
    sbuf_reserve(&w->frame, bound);
    size_t z =
        ZSTD_compress2(index_writer_cctx(w), w->frame.data, bound, w->payload.data, w->payload.len);
    bool use_zstd = !ZSTD_isError(z) && z < w->payload.len;
    uint8_t hdr[INDEX_GROUP_HDR] = {INDEX_GROUP_TAG, use_zstd ? INDEX_GROUP_ZSTD : 0};
    memcpy(hdr + 2, &live, 4);
    memcpy(hdr + 6, &live, 4);
    sbuf_append(out, hdr, sizeof hdr);
    sbuf_append(out, v, tsdb_uvarint_put(v, w->payload.len));
    if (use_zstd)
        sbuf_append(out, w->frame.data, z);
    else
        sbuf_append(out, w->payload.data, w->payload.len);
}

/* Rewrites the group at base from its members, if they changed. */
static int index_group_rewrite(struct index *ix, MDB_txn *txn, uint32_t base)
{
    struct index_member m[INDEX_GROUP_SERIES];
    size_t n;
    bool changed;
    int rc = index_group_members(ix, txn, base, m, &n, &changed);
    if (rc != 0 || !changed)
        return rc;
    struct sbuf rec = SBUF_INIT;
    if (n > 0)
        index_group_encode(&ix->w, m, n, &rec); /* copies the bytes: now the puts */
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint32_t id = base + m[i].i;
        MDB_val k = {sizeof id, &id};
        if (m[i].raw && m[i].i != 0) /* base's is replaced by the put */
            rc = mdb_del(txn, ix->series, &k, NULL);
    }
    MDB_val k = {sizeof base, &base}, d = {rec.len, rec.data};
    if (rc == 0)
        rc = n > 0 ? mdb_put(txn, ix->series, &k, &d, 0) : mdb_del(txn, ix->series, &k, NULL);
    sbuf_free(&rec);
    return rc;
}

static int index_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

int index_groups_compact(struct index *ix, MDB_txn *txn)
{
    struct index_pending *pd = &ix->pending;
    /* The groups this txn handed out the last id of. */
    for (uint32_t b = pd->first_id - pd->first_id % INDEX_GROUP_SERIES;
         pd->next_id > pd->first_id && b + INDEX_GROUP_SERIES <= pd->next_id &&
         b + INDEX_GROUP_SERIES > b;
         b += INDEX_GROUP_SERIES)
        index_pending_dirty(pd, b);
    qsort(pd->dirty, pd->ndirty, sizeof *pd->dirty, index_u32_cmp);
    int rc = 0;
    for (size_t i = 0; i < pd->ndirty && rc == 0; i++)
        if (i == 0 || pd->dirty[i] != pd->dirty[i - 1])
            rc = index_group_rewrite(ix, txn, pd->dirty[i]);
    pd->ndirty = 0;
    return rc;
}

/* Appends group base's record, as (u32 key, u32 length, bytes), to out. */
static void index_group_emit(struct index_writer *w, uint32_t base, struct index_member *m,
                             size_t n, struct sbuf *out)
{
    uint32_t hdr[2] = {base, 0};
    size_t at = out->len;
    sbuf_append(out, hdr, sizeof hdr);
    index_group_encode(w, m, n, out);
    hdr[1] = (uint32_t)(out->len - at - sizeof hdr);
    memcpy(out->data + at, hdr, sizeof hdr);
}

/* Writes the records of out (index_group_emit's) into the emptied DBI. */
static int index_series_append(struct index *ix, MDB_txn *txn, const struct sbuf *out)
{
    int rc = mdb_drop(txn, ix->series, 0);
    for (size_t at = 0; rc == 0 && at < out->len;) {
        uint32_t hdr[2];
        memcpy(hdr, out->data + at, sizeof hdr);
        MDB_val k = {sizeof hdr[0], &hdr[0]}, d = {hdr[1], out->data + at + sizeof hdr};
        rc = mdb_put(txn, ix->series, &k, &d, MDB_APPEND);
        at += sizeof hdr + hdr[1];
    }
    return rc;
}

int index_series_rebuild(struct index *ix, MDB_txn *txn)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, ix->series, &c);
    if (rc != 0)
        return rc;
    struct sbuf out = SBUF_INIT;
    struct index_member m[INDEX_GROUP_SERIES];
    size_t n = 0;
    uint32_t base = 0, id;
    bool changed = false;
    MDB_val k, d;
    while (rc == 0 && (rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) == 0) {
        memcpy(&id, k.mv_data, sizeof id);
        if (n > 0 && id - id % INDEX_GROUP_SERIES != base) {
            index_group_emit(&ix->w, base, m, n, &out);
            n = 0;
        }
        base = id - id % INDEX_GROUP_SERIES;
        rc = index_group_add_record(ix, base, id, &d, m, &n, &changed);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND && n > 0)
        index_group_emit(&ix->w, base, m, n, &out);
    if (rc == MDB_NOTFOUND)
        rc = index_series_append(ix, txn, &out);
    sbuf_free(&out);
    return rc;
}

void index_writer_release(struct index_writer *w)
{
    index_labels_free(&w->scratch);
    sbuf_free(&w->payload);
    sbuf_free(&w->frame);
    sbuf_free(&w->rec);
    ZSTD_freeCCtx(w->cctx);
    w->cctx = NULL;
}
