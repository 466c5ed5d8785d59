/* archive.c — the archive's values: finished windows, many series to a value.
 *
 * A group is the ARCHIVE_GROUP_SERIES series with ids g*32 .. g*32+31 over
 * one TSDB_WINDOW_MS window.  Ids are dense and handed out in creation
 * order, and a target's series are created together at its first scrape,
 * so a group is mostly one target's neighbouring metrics: similar series,
 * the same timestamps.  Its value (one logical byte string) is:
 *
 *   u8       flags: bit 0 the body is a zstd frame, bit 1 the table is
 *            (frames magicless, no checksum, content size or dictionary
 *            id); others 0
 *   uvarint  table length T (uncompressed), then the table: T bytes, or
 *            uvarint frame length and the frame
 *   body     the members' blocks (chunk_block.c, each without zstd of its
 *            own, with its ST column if it has one), concatenated; raw or
 *            one zstd frame
 * and the table is
 *   uvarint  member count n >= 1, then per member, ids ascending:
 *              uvarint id - g*32, uvarint t0 - window,
 *              uvarint tmax - t0, uvarint block length
 *   uvarint  body length (uncompressed)
 *
 * The member table has a frame of its own, so the newest timestamp of a
 * series (WAL replay) and retention's "does the group end before the
 * cutoff" read it without decompressing the body (~200 bytes, not ~40 KB).
 * Compressed it takes a third of its raw size (21.8 -> 7.4 KB here, 3.5
 * of the archive's 71 pages).  The value is stored in pieces
 * under keys (window u64, group u32, piece u16), all big endian, the
 * window's sign bit flipped (tsdb_internal.h): one piece when it stays
 * inside a leaf page, else pieces of exactly one overflow page's payload
 * (page size - 16 bytes) and a last, shorter one.  LMDB gives every value
 * above about half a page overflow pages of its own, so a plain large
 * value wastes half a page on average; full-page pieces waste nothing and
 * the short tail packs into a leaf with its neighbours.
 *
 * Why groups: measured on the bench/storage.sh dataset (838 real
 * node_exporter and Prometheus series, 1.03M samples at 15 s), the old
 * archive (one value per series and window, each block zstd'd alone)
 * took 92 pages, 0.366 bytes/sample.  Compressing the blocks of 32
 * neighbouring series together lets zstd share what they have in common
 * (headers, timestamps, identical series such as go_memstats_alloc_bytes
 * and heap_alloc_bytes) and cuts the keys from 2481 to ~110: modelled
 * 0.268 -> 0.234 B/s of bytes and 0.357 -> 0.262 of pages (8: 0.286,
 * 16: 0.278, 64: 0.254, all series per window: 0.242).  32 keeps a group
 * small to read: at most ~40 KB to decompress (~30 us) for one series'
 * window, and a query over many series of a group decodes it once
 * (tsdb_select.c caches groups).  zstd level 3; 9 and 19 gained 1-2 %.
 *
 * A group is rewritten whole (compaction adding members or late samples,
 * deletes): readers in older LMDB txns keep seeing the old pieces. */
#include "storage/tsdb_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define ARCHIVE_FLAG_ZSTD  0x01
#define ARCHIVE_TABLE_ZSTD 0x02
#define ARCHIVE_PIECES_MAX 65536
#define ARCHIVE_ZSTD_LEVEL 9 /* 3 took 2 pages more of 71, 19 no fewer */

void archive_key(int64_t window, uint32_t group, unsigned piece, uint8_t key[ARCHIVE_KEY_LEN])
{
    tsdb_compact_key(window, group, key);
    key[12] = (uint8_t)(piece >> 8);
    key[13] = (uint8_t)piece;
}

void archive_key_decode(const uint8_t key[ARCHIVE_KEY_LEN], int64_t *window, uint32_t *group)
{
    tsdb_compact_key_decode(key, window, group);
}

static bool archive_key_is(const MDB_val *key, int64_t window, uint32_t group)
{
    uint8_t k[ARCHIVE_KEY_LEN];
    archive_key(window, group, 0, k);
    return key->mv_size == ARCHIVE_KEY_LEN && memcmp(key->mv_data, k, 12) == 0;
}

void archive_group_init(struct archive_group *g, int64_t window, uint32_t group)
{
    g->window = window;
    g->group = group;
    g->n = 0;
    sbuf_reset(&g->body);
}

void archive_group_free(struct archive_group *g)
{
    free(g->m);
    sbuf_free(&g->body);
    sbuf_free(&g->raw);
    sbuf_free(&g->tab);
    memset(g, 0, sizeof *g);
}

static void archive_member_push(struct archive_group *g, uint32_t id, int64_t t0, int64_t tmax,
                                size_t off, size_t len)
{
    if (g->n == g->cap) {
        g->cap = g->cap ? g->cap * 2 : ARCHIVE_GROUP_SERIES;
        g->m = xrealloc(g->m, g->cap * sizeof *g->m);
    }
    g->m[g->n++] = (struct archive_member){id, t0, tmax, off, len};
}

void archive_group_add(struct archive_group *g, const struct archive_group *from,
                       const struct archive_member *m)
{
    archive_member_push(g, m->id, m->t0, m->tmax, g->body.len, m->len);
    sbuf_append(&g->body, from->body.data + m->off, m->len);
}

int archive_group_add_samples(struct archive_group *g, struct block_codec *bc, uint32_t id,
                              const int64_t *ts, const double *vs, const int64_t *sts, size_t n)
{
    if (n == 0)
        return 0;
    size_t off = g->body.len;
    if (block_encode(bc, ts, vs, sts, n, BLOCK_ZSTD_OFF, &g->body) < 0)
        return EINVAL;
    archive_member_push(g, id, ts[0], ts[n - 1], off, g->body.len - off);
    return 0;
}

const struct archive_member *archive_group_find(const struct archive_group *g, uint32_t id)
{
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g->m[mid].id < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->n && g->m[lo].id == id ? &g->m[lo] : NULL;
}

int archive_member_decode(struct block_codec *bc, const struct archive_group *g,
                          const struct archive_member *m, struct tsdb_samples *out)
{
    const uint8_t *p = (const uint8_t *)g->body.data + m->off;
    return tsdb_block_body_append(bc, m->t0, p, m->len, out);
}

/* ---- reading ---- */

/* Gathers the pieces of (window, group) into g->raw.  0, MDB_NOTFOUND or
 * an LMDB status. */
static int archive_gather(MDB_txn *txn, MDB_dbi dbi, struct archive_group *g)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0)
        return rc;
    uint8_t k[ARCHIVE_KEY_LEN];
    archive_key(g->window, g->group, 0, k);
    MDB_val key = {sizeof k, k}, val;
    sbuf_reset(&g->raw);
    size_t pieces = 0;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
         rc == 0 && archive_key_is(&key, g->window, g->group);
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        sbuf_append(&g->raw, val.mv_data, val.mv_size);
        pieces++;
    }
    mdb_cursor_close(c);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    return pieces ? 0 : MDB_NOTFOUND;
}

/* Finds the table in g->raw, into g->tab (decompressed if need be); *body
 * is where the body starts.  EINVAL if malformed. */
static int archive_table(struct archive_group *g, struct block_codec *bc, size_t *body)
{
    const uint8_t *p = (const uint8_t *)g->raw.data, *end = p + g->raw.len, *q = p + 1;
    uint64_t tlen, zlen;
    size_t k;
    if (g->raw.len < 2 || (p[0] & ~(ARCHIVE_FLAG_ZSTD | ARCHIVE_TABLE_ZSTD)) ||
        !(k = tsdb_uvarint_get(q, end, &tlen)) || tlen > (1u << 20))
        return EINVAL;
    q += k;
    sbuf_reset(&g->tab);
    sbuf_reserve(&g->tab, (size_t)tlen + 1);
    if (!(p[0] & ARCHIVE_TABLE_ZSTD)) {
        if ((uint64_t)(end - q) < tlen)
            return EINVAL;
        memcpy(g->tab.data, q, (size_t)tlen);
        q += tlen;
    } else {
        if (!(k = tsdb_uvarint_get(q, end, &zlen)) || (uint64_t)(end - q - k) < zlen ||
            block_zstd_decompress(bc, q + k, (size_t)zlen, g->tab.data, (size_t)tlen) != 0)
            return EINVAL;
        q += k + zlen;
    }
    g->tab.len = (size_t)tlen;
    *body = (size_t)(q - p);
    return 0;
}

/* Parses the member table in g->tab; *blen is the body's uncompressed
 * length.  EINVAL if malformed. */
static int archive_parse(struct archive_group *g, uint64_t *blen)
{
    const uint8_t *q = (const uint8_t *)g->tab.data, *end = q + g->tab.len;
    uint64_t n, v[4];
    size_t k;
    if (!(k = tsdb_uvarint_get(q, end, &n)) || n == 0 || n > ARCHIVE_GROUP_SERIES)
        return EINVAL;
    q += k;
    g->n = 0;
    uint64_t off = 0;
    int64_t last = -1;
    for (uint64_t i = 0; i < n; i++) {
        for (int j = 0; j < 4; j++) {
            if (!(k = tsdb_uvarint_get(q, end, &v[j])))
                return EINVAL;
            q += k;
        }
        if ((int64_t)v[0] <= last || v[0] >= ARCHIVE_GROUP_SERIES ||
            v[1] >= (uint64_t)TSDB_WINDOW_MS || v[2] >= (uint64_t)TSDB_WINDOW_MS ||
            v[3] > (1u << 30))
            return EINVAL;
        last = (int64_t)v[0];
        int64_t t0 = g->window + (int64_t)v[1];
        archive_member_push(g, g->group * ARCHIVE_GROUP_SERIES + (uint32_t)v[0], t0,
                            t0 + (int64_t)v[2], (size_t)off, (size_t)v[3]);
        off += v[3];
    }
    if (!(k = tsdb_uvarint_get(q, end, blen)) || *blen != off)
        return EINVAL;
    return 0;
}

int archive_group_load(MDB_txn *txn, MDB_dbi dbi, struct block_codec *bc, int64_t window,
                       uint32_t group, bool body, struct archive_group *g)
{
    archive_group_init(g, window, group);
    int rc = archive_gather(txn, dbi, g);
    size_t at;
    uint64_t blen;
    if (rc == 0)
        rc = archive_table(g, bc, &at);
    if (rc == 0)
        rc = archive_parse(g, &blen);
    if (rc != 0) {
        g->n = 0;
        return rc;
    }
    if (!body)
        return 0;
    const char *src = g->raw.data + at;
    size_t slen = g->raw.len - at;
    if (blen <= (uint64_t)slen * 1024 + 64)
        sbuf_reserve(&g->body, (size_t)blen + 1);
    if (blen > (uint64_t)slen * 1024 + 64) {
        rc = EINVAL; /* no frame expands this much: corrupt */
    } else if (g->raw.data[0] & ARCHIVE_FLAG_ZSTD) {
        if (block_zstd_decompress(bc, src, slen, g->body.data, (size_t)blen) != 0)
            rc = EINVAL;
    } else if (slen != blen) {
        rc = EINVAL;
    } else {
        memcpy(g->body.data, src, slen);
    }
    if (rc != 0) {
        g->n = 0;
        return rc;
    }
    g->body.len = (size_t)blen;
    return 0;
}

int64_t archive_group_tmax(const struct archive_group *g)
{
    int64_t t = INT64_MIN;
    for (size_t i = 0; i < g->n; i++)
        if (g->m[i].tmax > t)
            t = g->m[i].tmax;
    return t;
}

/* ---- writing ---- */

int archive_group_drop(MDB_txn *txn, MDB_dbi dbi, int64_t window, uint32_t group)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0)
        return rc;
    uint8_t k[ARCHIVE_KEY_LEN];
    archive_key(window, group, 0, k);
    MDB_val key = {sizeof k, k}, val;
    for (rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE);
         rc == 0 && archive_key_is(&key, window, group);
         rc = mdb_cursor_get(c, &key, &val, MDB_GET_CURRENT))
        if ((rc = mdb_cursor_del(c, 0)) != 0)
            break;
    mdb_cursor_close(c);
    /* After deleting the tree's last key the cursor is uninitialised. */
    return rc == MDB_NOTFOUND || rc == EINVAL ? 0 : rc;
}

/* The value of g (members in id order) into g->raw. */
static void archive_encode(struct archive_group *g, struct block_codec *bc)
{
    uint8_t tmp[10];
    sbuf_reset(&g->tab);
    sbuf_append(&g->tab, tmp, tsdb_uvarint_put(tmp, g->n));
    for (size_t i = 0; i < g->n; i++) {
        const struct archive_member *m = &g->m[i];
        uint64_t v[4] = {m->id - g->group * ARCHIVE_GROUP_SERIES, (uint64_t)(m->t0 - g->window),
                         (uint64_t)(m->tmax - m->t0), m->len};
        for (int j = 0; j < 4; j++)
            sbuf_append(&g->tab, tmp, tsdb_uvarint_put(tmp, v[j]));
    }
    sbuf_append(&g->tab, tmp, tsdb_uvarint_put(tmp, g->body.len));
    uint8_t flags = 0;
    sbuf_reset(&g->raw);
    sbuf_append(&g->raw, &flags, 1);
    sbuf_append(&g->raw, tmp, tsdb_uvarint_put(tmp, g->tab.len));
    size_t at = g->raw.len;
    sbuf_append(&g->raw, tmp, sizeof tmp); /* room for the frame length */
    size_t z = block_zstd_compress(bc, g->tab.data, g->tab.len, ARCHIVE_ZSTD_LEVEL, &g->raw);
    if (z) {
        size_t k = tsdb_uvarint_put(tmp, z);
        memmove(g->raw.data + at + k, g->raw.data + at + sizeof tmp, z);
        memcpy(g->raw.data + at, tmp, k);
        g->raw.len = at + k + z;
        flags |= ARCHIVE_TABLE_ZSTD;
    } else {
        g->raw.len = at;
        sbuf_append(&g->raw, g->tab.data, g->tab.len);
    }
    if (block_zstd_compress(bc, g->body.data, g->body.len, ARCHIVE_ZSTD_LEVEL, &g->raw))
        flags |= ARCHIVE_FLAG_ZSTD;
    else
        sbuf_append(&g->raw, g->body.data, g->body.len);
    g->raw.data[0] = (char)flags;
}

static int archive_put(MDB_txn *txn, MDB_dbi dbi, int64_t window, uint32_t group, unsigned piece,
                       const void *p, size_t n)
{
    uint8_t k[ARCHIVE_KEY_LEN];
    archive_key(window, group, piece, k);
    MDB_val key = {sizeof k, k}, v = {n, (void *)p};
    /* Appending leaves the left page full where a plain put at the end
     * would split it in half; LMDB refuses it for a key that is not the
     * greatest (a group rewritten), without harm to the txn. */
    int rc = mdb_put(txn, dbi, &key, &v, MDB_APPEND);
    if (rc == MDB_KEYEXIST)
        rc = mdb_put(txn, dbi, &key, &v, 0);
    return rc;
}

int archive_group_store(MDB_txn *txn, MDB_dbi dbi, struct block_codec *bc, unsigned psize,
                        struct archive_group *g)
{
    int rc = archive_group_drop(txn, dbi, g->window, g->group);
    if (rc != 0 || g->n == 0)
        return rc;
    archive_encode(g, bc);
    size_t inline_max = tsdb_block_inline_max(psize) - (ARCHIVE_KEY_LEN - 12);
    size_t full = psize - 16, n = g->raw.len, at = 0;
    if (n > inline_max && (n + full - 1) / full > ARCHIVE_PIECES_MAX)
        return EINVAL;
    for (unsigned piece = 0; rc == 0 && at < n; piece++) {
        size_t len = n - at <= inline_max ? n - at : n - at < full ? n - at : full;
        rc = archive_put(txn, dbi, g->window, g->group, piece, g->raw.data + at, len);
        at += len;
    }
    return rc;
}
