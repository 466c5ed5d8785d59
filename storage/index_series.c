/* index_series.c — the label sets of index.series: series groups.
 *
 * Storing each series' canonical label bytes under its id costs ~100 bytes
 * a series plus LMDB's 14 per record: on the bench/storage.sh dataset (838
 * node_exporter and Prometheus series) 21 of the index's 43 pages.  But the
 * series a target exposes are created together, get neighbouring ids, and
 * share most of their bytes (job, instance, metric name prefixes, label
 * names).  So ids are grouped, INDEX_GROUP_SERIES (16) to a group with
 * base = id - id % 16, and each group is one record, zstd-compressed,
 * under its base id:
 *
 *   u8       0x00 (format 1's records in this DBI, which the migration
 *            reads, are label sets: the first byte is a name's, never 0x00)
 *   uvarint  live, complemented in the group's 16 bits: bit i of live set
 *            if series base + i is a member (a full group's takes a byte)
 *   uvarint  payload length (uncompressed) << 2 | bit 1: a stored mask
 *            follows | bit 0: the payload is a zstd frame (magicless, no
 *            checksum, content size or dictionary id), else raw
 *   uvarint  stored, complemented, if bit 1: the payload holds the series
 *            of stored; without it stored == live.  A delete clears the
 *            live bit at once, and the flush drops the bytes.
 *   body     the payload, raw or compressed: per stored member, ids
 *            ascending, uvarint length and canonical label bytes
 *
 * A new series is written raw under its id into a second DBI,
 * index.fresh (appended: ids only grow), so it can be found in its txn;
 * the flush of the txn that hands out a group's last id compresses the
 * group's raw records into its record and deletes them.  index.series
 * thus only gets records appended at its right edge, which keeps its
 * leaves full (writing the raw records into index.series and replacing
 * them there left leaves a fifth full: 51 MiB instead of 10 at 1M series;
 * growing one raw group record per add, worse).  index.fresh holds the
 * unfinished group's series, and those of a txn in flight: a page or two
 * however large the index.  All in the caller's txn, so a crash loses
 * nothing.  Repack (after an import) folds the unfinished group into a
 * group record too; the series added to it later are raw records until
 * the group is full.  A reader looks in the group record first, then in
 * index.fresh.
 *
 * Measured: on that dataset 72 KB of label bytes become 14.4 KB, 4 leaf
 * pages; at 1M series (build/bench_index) 87 MiB of pages become 14.4.
 * Reading a label set is on the query path, once per selected series, and
 * selected series are usually of one metric across targets, one or two
 * per group, so a group is decoded for each: bench_index's label sets of
 * one metric over 1000 targets (2000 series, 1000 groups) took 0.60 ms
 * with format 1's raw records, 1.10 ms with groups of 16, 1.87 ms with
 * groups of 32 (11.1 MiB at 1M, still 4 pages on the dataset), 0.97 ms
 * with 8 (21.4 MiB, 6 pages).  zstd with Huffman-coded literals would
 * save another sixth but takes 5x as long to decode (table building), so
 * literals are left raw (ZSTD_c_literalCompressionMode).  Level 6: 3 was
 * 4 % larger, 19 1 % smaller.
 *
 * A reader decodes a compressed group into its struct index_labels and
 * keeps it, with a copy of the record's bytes: the next series of the same
 * group, if the record is byte-identical, needs no decompression — in
 * whatever txn it is read, since equal bytes decode to equal label sets.
 * zstd contexts cost more to create (~17 us, 96 KB) than a decode, so
 * readers borrow them from a pool in struct index. */
#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_format, ZSTD_c_literalCompressionMode */
#include "storage/index_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define INDEX_GROUP_TAG    0x00
#define INDEX_GROUP_ZSTD   0x01 /* in the length field */
#define INDEX_GROUP_STORED 0x02
#define INDEX_GROUP_LEVEL  6 /* 3: 5 % larger; 19: 2.5 % smaller, 10x slower */
#define INDEX_DCTX_IDLE    8
/* No group is near this long (a guard against corrupt lengths). */
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
    ZSTD_DCtx *dctx; /* borrowed from pool on the first compressed group */
    struct sbuf rec; /* the compressed group decoded last, as stored */
    bool valid;      /* rec and raw belong together */
    char *raw;       /* its payload */
    size_t raw_cap;
    const char *bytes;                /* the payload of the group loaded last: raw, or
                                         the record's body in the map if stored raw */
    uint32_t off[INDEX_GROUP_SERIES]; /* stored member i: bytes[off[i], +len[i]) */
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

static void index_uvarint_append(struct sbuf *b, uint64_t v)
{
    uint8_t tmp[TSDB_UVARINT_MAX];
    sbuf_append(b, tmp, tsdb_uvarint_put(tmp, v));
}

/* Every member bit of a group. */
#define INDEX_GROUP_ALL ((uint32_t)((1ull << INDEX_GROUP_SERIES) - 1))

/* Reads a member mask stored as its complement; 0 if malformed. */
static size_t index_mask_get(const uint8_t *p, const uint8_t *end, uint32_t *mask)
{
    uint64_t v;
    size_t k = tsdb_uvarint_get(p, end, &v);
    if (!k || v > INDEX_GROUP_ALL)
        return 0;
    *mask = INDEX_GROUP_ALL & ~(uint32_t)v;
    return k;
}

static void index_mask_append(struct sbuf *b, uint32_t mask)
{
    index_uvarint_append(b, INDEX_GROUP_ALL & ~mask);
}

static int index_group_parse(const MDB_val *rec, struct index_group *g)
{
    const uint8_t *p = rec->mv_data, *end = p + rec->mv_size;
    uint64_t len;
    size_t a = rec->mv_size > 0 && p[0] == INDEX_GROUP_TAG ? 1 : 0;
    size_t b = a ? index_mask_get(p + a, end, &g->live) : 0;
    size_t c = b ? tsdb_uvarint_get(p + a + b, end, &len) : 0;
    if (!c)
        return MDB_CORRUPTED;
    p += a + b + c;
    g->stored = g->live;
    if ((len & INDEX_GROUP_STORED) && !(b = index_mask_get(p, end, &g->stored)))
        return MDB_CORRUPTED;
    if (len & INDEX_GROUP_STORED)
        p += b;
    g->zstd = len & INDEX_GROUP_ZSTD;
    g->raw_len = len >> 2;
    g->body = p;
    g->body_len = (size_t)(end - p);
    if ((g->live & ~g->stored) || g->raw_len > INDEX_GROUP_RAW_MAX ||
        (!g->zstd && g->body_len != g->raw_len))
        return MDB_CORRUPTED;
    return 0;
}

/* Finds the stored members in payload p (len bytes). */
static int index_group_index(struct index_reader *rd, uint32_t stored, const char *p, size_t len)
{
    const uint8_t *q = (const uint8_t *)p, *end = q + len;
    for (unsigned i = 0; i < INDEX_GROUP_SERIES; i++) {
        if (!(stored & (1u << i)))
            continue;
        uint64_t n;
        size_t k = tsdb_uvarint_get(q, end, &n);
        if (!k || n > (uint64_t)(end - q - k))
            return MDB_CORRUPTED;
        rd->off[i] = (uint32_t)(q + k - (const uint8_t *)p);
        rd->len[i] = (uint32_t)n;
        q += k + n;
    }
    rd->bytes = p;
    return q == end ? 0 : MDB_CORRUPTED;
}

static int index_group_decompress(struct index_reader *rd, const MDB_val *rec,
                                  const struct index_group *g)
{
    if (rd->valid && rd->rec.len == rec->mv_size &&
        memcmp(rd->rec.data, rec->mv_data, rec->mv_size) == 0) {
        rd->bytes = rd->raw;
        return 0;
    }
    rd->valid = false;
    if (rd->raw_cap < g->raw_len + 1) {
        rd->raw_cap = (size_t)g->raw_len + 1;
        rd->raw = xrealloc(rd->raw, rd->raw_cap);
    }
    if (!rd->dctx)
        rd->dctx = index_dctx_borrow(rd->pool);
    size_t r = ZSTD_decompressDCtx(rd->dctx, rd->raw, (size_t)g->raw_len, g->body, g->body_len);
    if (ZSTD_isError(r) || r != g->raw_len)
        return MDB_CORRUPTED;
    int rc = index_group_index(rd, g->stored, rd->raw, (size_t)g->raw_len);
    if (rc != 0)
        return rc;
    sbuf_reset(&rd->rec);
    sbuf_append(&rd->rec, rec->mv_data, rec->mv_size);
    rd->valid = true;
    return 0;
}

/* Points l's reader at the members of group record rec: decompressed into
 * the reader, or borrowed from the map if the group is stored raw. */
static int index_group_load(const struct index *ix, struct index_labels *l, const MDB_val *rec,
                            const struct index_group *g)
{
    if (!l->rd) {
        l->rd = xcalloc(1, sizeof *l->rd);
        l->rd->pool = ix->pool;
    }
    if (g->zstd)
        return index_group_decompress(l->rd, rec, g);
    return index_group_index(l->rd, g->stored, (const char *)g->body, g->body_len);
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

/* Where series id is: 0 with *grouped and *rec either its group's record
 * (parsed into g) or its raw record in index.fresh; MDB_NOTFOUND if it
 * does not exist; or an LMDB error. */
static int index_series_locate(const struct index *ix, MDB_txn *txn, uint32_t id, MDB_val *rec,
                               struct index_group *g, bool *grouped)
{
    uint32_t base = id - id % INDEX_GROUP_SERIES;
    MDB_val k = {sizeof base, &base};
    int rc = mdb_get(txn, ix->series, &k, rec);
    if (rc == 0)
        rc = index_group_parse(rec, g);
    *grouped = rc == 0 && (g->live & (1u << (id - base)));
    if (*grouped || (rc != 0 && rc != MDB_NOTFOUND))
        return rc;
    k = (MDB_val){sizeof id, &id};
    return mdb_get(txn, ix->fresh, &k, rec);
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
        const struct index_reader *rd = scratch->rd;
        unsigned i = id % INDEX_GROUP_SERIES;
        *p = rd->bytes + rd->off[i];
        *n = rd->len[i];
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

/* One member of a group being written: offset from base, bytes. */
struct index_member {
    uint32_t i;
    const char *p;
    size_t n;
    bool fresh; /* a raw record in index.fresh, deleted once in the group */
};

/* Adds the members held by record d (key id) of index.series to m: a group
 * record's live members (borrowed from the map or the writer's scratch),
 * or a format-1 record's label set.  *changed is set if the group must be
 * rewritten for them. */
static int index_group_add_record(struct index *ix, uint32_t base, uint32_t id, const MDB_val *d,
                                  struct index_member *m, size_t *nm, bool *changed)
{
    if (!index_record_is_group(d)) {
        m[(*nm)++] = (struct index_member){id - base, d->mv_data, d->mv_size, false};
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
            m[(*nm)++] = (struct index_member){i, rd->bytes + rd->off[i], rd->len[i], false};
    return 0;
}

/* Adds the raw records of the group at base in index.fresh to m. */
static int index_group_add_fresh(struct index *ix, MDB_txn *txn, uint32_t base,
                                 struct index_member *m, size_t *nm, bool *changed)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, ix->fresh, &c);
    if (rc != 0)
        return rc;
    uint32_t kb = base, id;
    MDB_val k = {sizeof kb, &kb}, d;
    for (rc = mdb_cursor_get(c, &k, &d, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) {
        memcpy(&id, k.mv_data, sizeof id);
        if (id - base >= INDEX_GROUP_SERIES)
            break;
        m[(*nm)++] = (struct index_member){id - base, d.mv_data, d.mv_size, true};
        *changed = true;
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* All members of the group at base, ids ascending (the group record's
 * are older than the raw ones). */
static int index_group_members(struct index *ix, MDB_txn *txn, uint32_t base,
                               struct index_member *m, size_t *nm, bool *changed)
{
    *nm = 0;
    *changed = false;
    MDB_val k = {sizeof base, &base}, d;
    int rc = mdb_get(txn, ix->series, &k, &d);
    if (rc == 0)
        rc = index_group_add_record(ix, base, base, &d, m, nm, changed);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = index_group_add_fresh(ix, txn, base, m, nm, changed);
    return rc;
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

/* Appends a group record header to out. */
static void index_group_header(struct sbuf *out, uint32_t live, uint32_t stored, uint64_t raw_len,
                               bool zstd)
{
    uint64_t len = raw_len << 2 | (stored != live ? INDEX_GROUP_STORED : 0) | zstd;
    sbuf_putc(out, INDEX_GROUP_TAG);
    index_mask_append(out, live);
    index_uvarint_append(out, len);
    if (stored != live)
        index_mask_append(out, stored);
}

/* Appends the group record of members m (n >= 1, ids ascending) to out,
 * the payload compressed if that makes it shorter. */
static void index_group_encode(struct index_writer *w, const struct index_member *m, size_t n,
                               struct sbuf *out)
{
    uint32_t live = 0;
    sbuf_reset(&w->payload);
    for (size_t i = 0; i < n; i++) {
        live |= 1u << m[i].i;
        index_uvarint_append(&w->payload, m[i].n);
        sbuf_append(&w->payload, m[i].p, m[i].n);
    }
    size_t bound = ZSTD_compressBound(w->payload.len);
    sbuf_reset(&w->frame);
    sbuf_reserve(&w->frame, bound);
    size_t z =
        ZSTD_compress2(index_writer_cctx(w), w->frame.data, bound, w->payload.data, w->payload.len);
    bool compress = !ZSTD_isError(z) && z < w->payload.len;
    index_group_header(out, live, live, w->payload.len, compress);
    if (compress)
        sbuf_append(out, w->frame.data, z);
    else
        sbuf_append(out, w->payload.data, w->payload.len);
}

/* Writes the group at base as members m (deleting its record if n == 0),
 * then deletes the members' raw records. */
static int index_group_store(struct index *ix, MDB_txn *txn, uint32_t base,
                             const struct index_member *m, size_t n)
{
    MDB_val k = {sizeof base, &base}, d;
    int rc;
    if (n == 0) {
        rc = mdb_del(txn, ix->series, &k, NULL);
        return rc == MDB_NOTFOUND ? 0 : rc;
    }
    struct sbuf *rec = &ix->w.rec;
    sbuf_reset(rec);
    index_group_encode(&ix->w, m, n, rec); /* copies the members' bytes */
    d = (MDB_val){rec->len, rec->data};
    /* A new group is the greatest key: appending keeps leaves full. */
    rc = mdb_put(txn, ix->series, &k, &d, MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        rc = mdb_put(txn, ix->series, &k, &d, 0);
    for (size_t i = 0; i < n && rc == 0; i++) {
        uint32_t id = base + m[i].i;
        MDB_val fk = {sizeof id, &id};
        if (m[i].fresh)
            rc = mdb_del(txn, ix->fresh, &fk, NULL);
    }
    return rc;
}

int index_series_put(struct index *ix, MDB_txn *txn, uint32_t id, const char *canon, size_t n)
{
    MDB_val k = {sizeof id, &id}, d = {n, (void *)canon};
    return mdb_put(txn, ix->fresh, &k, &d, MDB_APPEND);
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
        return mdb_del(txn, ix->fresh, &k, NULL);
    }
    /* A new header before the same body, built in a copy: the put may
     * reuse the record's page. */
    uint32_t base = id - id % INDEX_GROUP_SERIES;
    struct sbuf *b = &ix->w.rec;
    sbuf_reset(b);
    index_group_header(b, g.live & ~(1u << (id - base)), g.stored, g.raw_len, g.zstd);
    sbuf_append(b, g.body, g.body_len);
    MDB_val k = {sizeof base, &base}, d = {b->len, b->data};
    rc = mdb_put(txn, ix->series, &k, &d, 0);
    if (rc == 0)
        index_pending_dirty(&ix->pending, base);
    return rc;
}

static int index_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Rewrites every group on the dirty list that changed. */
static int index_groups_rewrite(struct index *ix, MDB_txn *txn)
{
    struct index_pending *pd = &ix->pending;
    if (pd->ndirty > 1)
        qsort(pd->dirty, pd->ndirty, sizeof *pd->dirty, index_u32_cmp);
    int rc = 0;
    for (size_t i = 0; i < pd->ndirty && rc == 0; i++) {
        uint32_t base = pd->dirty[i];
        if (i > 0 && base == pd->dirty[i - 1])
            continue;
        struct index_member m[INDEX_GROUP_SERIES];
        size_t n;
        bool changed;
        rc = index_group_members(ix, txn, base, m, &n, &changed);
        if (rc == 0 && changed)
            rc = index_group_store(ix, txn, base, m, n);
    }
    pd->ndirty = 0;
    return rc;
}

int index_groups_compact(struct index *ix, MDB_txn *txn)
{
    struct index_pending *pd = &ix->pending;
    /* The groups whose last id this txn handed out. */
    uint64_t end = pd->next_id ? pd->next_id : (uint64_t)UINT32_MAX + 1;
    for (uint64_t b = pd->first_id - pd->first_id % INDEX_GROUP_SERIES;
         b + INDEX_GROUP_SERIES <= end; b += INDEX_GROUP_SERIES)
        index_pending_dirty(pd, (uint32_t)b);
    return index_groups_rewrite(ix, txn);
}

int index_series_repack(struct index *ix, MDB_txn *txn)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, ix->fresh, &c);
    if (rc != 0)
        return rc;
    MDB_val k, d;
    while ((rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) == 0) {
        uint32_t id;
        memcpy(&id, k.mv_data, sizeof id);
        index_pending_dirty(&ix->pending, id - id % INDEX_GROUP_SERIES);
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = index_groups_rewrite(ix, txn);
    return rc ? rc : index_dbi_rewrite(txn, ix->series, NULL);
}

/* Appends group base's record, as (u32 key, u32 length, bytes), to out. */
static void index_group_emit(struct index_writer *w, uint32_t base, const struct index_member *m,
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

int index_series_group_v1(struct index *ix, MDB_txn *txn)
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
