/* index.c — the series index on LMDB: layout, opening, postings records.
 *
 * Prometheus keeps an inverted index of the head block in memory and writes
 * an immutable one per block.  Vigil keeps one index, in the TSDB's LMDB
 * environment, updated in place; LMDB gives every reader a consistent
 * snapshot, so queries on many threads need no lock.  Five DBIs (format 2):
 *
 *   index.series    u32 key (MDB_INTEGERKEY) -> label sets.  Ids are dense
 *                   and given in creation order, so new series append at the
 *                   right edge of the B-tree, and series created together
 *                   form runs in the postings bitmaps (roaring stores a run
 *                   in 4 bytes).  Ids are grouped 16 to a group, one record
 *                   under its first id: its members' canonical label bytes
 *                   (name 0xFF value 0xFF ..., see labels.h) compressed
 *                   together.  Byte layout and measurements:
 *                   index_series.c.
 *   index.fresh     u32 id -> canonical label bytes of a series whose
 *                   group is not finished yet (index_series.c).
 *   index.hashes    u32 hash range start -> packed (u32 hash, u32 id)
 *                   entries.  Label sets can be longer than LMDB's 511-byte
 *                   key limit, so they are found by hash, comparing the
 *                   stored bytes of each candidate (index_hash.c).
 *   index.postings  name 0x00 value -> uvarint cardinality, uvarint
 *                   aux << 1 | list, then the ids: if list, uvarint first
 *                   id and gaps to the next (most pairs name a handful of
 *                   series: 428 of the 711 records of the bench/storage.sh
 *                   dataset one, 161 two), else a portable roaring bitmap,
 *                   whichever is shorter.  Label strings are C strings and
 *                   never hold 0x00, so using it as the separator (rather
 *                   than labels.h's 0xFF) makes keys sort by name and then
 *                   value: a name's values are one key range, a value
 *                   prefix a narrower one, and the label names are the
 *                   distinct key prefixes.  Two special records:
 *                     name 0x00 (no value)  the name's presence list, every
 *                                           series having the label; aux is
 *                                           the number of values.  name=""
 *                                           and name=~".+" are one lookup.
 *                     0x00 (no name)        every series.
 *                   The cardinality in the header lets selection plan and the
 *                   status page count without decoding bitmaps.  A value too
 *                   long for the key keeps its first index_pkey_value_room
 *                   bytes in the key, then 0xFF (never in UTF-8, so it sorts
 *                   after every shorter value with that prefix) and an 8-byte
 *                   hash of the value; the whole value follows the header and
 *                   aux is its length.  Short values have aux 0.
 *   index.meta      "version" -> u32 format; "next_id" -> u32.
 *
 * Format 1 stored every label set raw under its id (~100 bytes a series),
 * the hashes one LMDB record per series (index.hash, u64 -> u32, DUPSORT),
 * and postings behind a fixed u32 cardinality, u32 aux header as roaring
 * bitmaps (~20 bytes for one id).  On the bench/storage.sh dataset (838
 * series) that was 43 of 116 pages; format 2 takes 19.  A format-1 index
 * is migrated when it is opened, in index_open's txn, so it commits whole
 * or not at all (index_migrate.c): its raw series records are already
 * valid format-2 raw records and are grouped, the hash table is rebuilt
 * from the old one, and each postings value is re-encoded.  Refusing old
 * data directories (as the archive does for its format 1) would have lost
 * users their series for a size gain; the migration is one pass over the
 * index.  A format newer than this build is refused.
 *
 * Writes (index_write.c) put the series and hash records at once and queue
 * the postings changes, which index_flush merges once per pair per txn:
 * adding 10k series of one job rewrites the job's bitmap once, not 10k
 * times; the flush also compresses the series groups the txn finished.
 * Selection is index_match.c, listing and statistics index_list.c.  This
 * file holds opening and the postings keys and records. */
#include "storage/index_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define INDEX_FORMAT 2

static uint64_t index_hash_xxh3(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

static int index_meta_version_put(struct index *ix, MDB_txn *txn)
{
    uint32_t v = INDEX_FORMAT;
    MDB_val k = {7, "version"}, d = {sizeof v, &v};
    return mdb_put(txn, ix->meta, &k, &d, 0);
}

/* Checks the stored format, writing it into a new index and migrating a
 * format-1 one. */
static int index_meta_version(struct index *ix, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_val k = {7, "version"}, d;
    int rc = mdb_get(txn, ix->meta, &k, &d);
    bool fresh = rc == MDB_NOTFOUND;
    if (fresh)
        rc = index_meta_version_put(ix, txn);
    if (rc != 0) {
        snprintf(err, errlen, "index: meta: %s", mdb_strerror(rc));
        return -1;
    }
    ix->format_found = INDEX_FORMAT;
    if (fresh)
        return 0;
    uint32_t v = 0;
    if (d.mv_size == sizeof v)
        memcpy(&v, d.mv_data, sizeof v);
    ix->format_found = v;
    if (v == 1)
        return index_migrate_v1(ix, txn, err, errlen);
    if (v != INDEX_FORMAT) {
        snprintf(err, errlen, "index: on-disk format %u, this build reads formats 1 and %u", v,
                 INDEX_FORMAT);
        return -1;
    }
    return 0;
}

int index_open(MDB_txn *txn, struct index **out, char *err, size_t errlen)
{
    if (mdb_env_get_maxkeysize(mdb_txn_env(txn)) < INDEX_KEY_MAX) {
        snprintf(err, errlen, "index: LMDB built with keys shorter than %d bytes", INDEX_KEY_MAX);
        return -1;
    }
    struct index *ix = xcalloc(1, sizeof *ix);
    ix->hash_fn = index_hash_xxh3;
    ix->pool = index_dctx_pool_new();
    const char *what = "index.series";
    int rc = mdb_dbi_open(txn, what, MDB_CREATE | MDB_INTEGERKEY, &ix->series);
    if (rc == 0) {
        what = "index.fresh";
        rc = mdb_dbi_open(txn, what, MDB_CREATE | MDB_INTEGERKEY, &ix->fresh);
    }
    if (rc == 0) {
        what = "index.hashes";
        rc = mdb_dbi_open(txn, what, MDB_CREATE | MDB_INTEGERKEY, &ix->hashes);
    }
    if (rc == 0) {
        what = "index.postings";
        rc = mdb_dbi_open(txn, what, MDB_CREATE, &ix->postings);
    }
    if (rc == 0) {
        what = "index.meta";
        rc = mdb_dbi_open(txn, what, MDB_CREATE, &ix->meta);
    }
    if (rc != 0) {
        snprintf(err, errlen, "index: open %s: %s", what, mdb_strerror(rc));
        index_free(ix);
        return -1;
    }
    if (index_meta_version(ix, txn, err, errlen) < 0) {
        index_free(ix);
        return -1;
    }
    *out = ix;
    return 0;
}

void index_free(struct index *ix)
{
    if (!ix)
        return;
    sbuf_free(&ix->pending.keys);
    free(ix->pending.k);
    free(ix->pending.slots);
    free(ix->pending.c);
    free(ix->pending.dirty);
    index_writer_release(&ix->w);
    index_dctx_pool_free(ix->pool);
    free(ix);
}

unsigned index_format_found(const struct index *ix)
{
    return ix->format_found;
}

void index_hash_fn_set(struct index *ix, uint64_t (*fn)(const void *p, size_t n))
{
    ix->hash_fn = fn ? fn : index_hash_xxh3;
}

/* --- Postings keys and records ------------------------------------------ */

size_t index_pkey_value_room(size_t nlen)
{
    /* name 0x00 value-prefix 0xFF hash64 must fit in INDEX_KEY_MAX. */
    return INDEX_KEY_MAX - nlen - 1 - 1 - sizeof(uint64_t);
}

void index_pkey_build(struct index_pkey *k, const char *name, size_t nlen, const char *value,
                      size_t vlen)
{
    size_t room = index_pkey_value_room(nlen);
    memcpy(k->b, name, nlen);
    k->b[nlen] = 0x00;
    k->is_long = vlen > room;
    if (!k->is_long) {
        memcpy(k->b + nlen + 1, value, vlen);
        k->n = nlen + 1 + vlen;
        return;
    }
    uint64_t h = XXH3_64bits(value, vlen);
    memcpy(k->b + nlen + 1, value, room);
    k->b[nlen + 1 + room] = 0xFF;
    memcpy(k->b + nlen + 2 + room, &h, sizeof h);
    k->n = nlen + 2 + room + sizeof h;
}

int index_posting_decode(const MDB_val *key, const MDB_val *data, size_t nlen,
                         struct index_posting *p)
{
    const uint8_t *d = data->mv_data, *end = d + data->mv_size;
    uint64_t card, aux;
    size_t a = tsdb_uvarint_get(d, end, &card);
    size_t b = a ? tsdb_uvarint_get(d + a, end, &aux) : 0;
    if (!b || card > UINT32_MAX || aux >> 1 > UINT32_MAX || key->mv_size < nlen + 1)
        return MDB_CORRUPTED;
    p->card = (uint32_t)card;
    p->aux = (uint32_t)(aux >> 1);
    p->is_list = aux & 1;
    const char *q = (const char *)d + a + b;
    size_t left = data->mv_size - a - b;
    size_t vlen_in_key = key->mv_size - nlen - 1;
    if (vlen_in_key > 0 && p->aux > 0) {
        if (left < p->aux)
            return MDB_CORRUPTED;
        p->value = q;
        p->vlen = p->aux;
        q += p->aux;
        left -= p->aux;
    } else {
        p->value = (const char *)key->mv_data + nlen + 1;
        p->vlen = vlen_in_key;
    }
    p->bitmap = q;
    p->bitmap_len = left;
    return 0;
}

/* The ids of a list record, added to b in batches; false if malformed. */
static bool index_posting_list_decode(const struct index_posting *p, roaring_bitmap_t *b)
{
    const uint8_t *q = (const uint8_t *)p->bitmap, *end = q + p->bitmap_len;
    uint32_t ids[256];
    size_t n = 0;
    uint64_t id = 0, gap;
    for (uint32_t i = 0; i < p->card; i++) {
        size_t k = tsdb_uvarint_get(q, end, &gap);
        if (!k || (i > 0 && gap == 0) || (id += gap) > UINT32_MAX)
            return false;
        q += k;
        ids[n++] = (uint32_t)id;
        if (n == sizeof ids / sizeof *ids || i + 1 == p->card) {
            roaring_bitmap_add_many(b, n, ids);
            n = 0;
        }
    }
    return q == end;
}

roaring_bitmap_t *index_posting_bitmap(const struct index_posting *p)
{
    if (!p->is_list)
        return roaring_bitmap_portable_deserialize_safe(p->bitmap, p->bitmap_len);
    roaring_bitmap_t *b = roaring_bitmap_create();
    if (!index_posting_list_decode(p, b)) {
        roaring_bitmap_free(b);
        return NULL;
    }
    return b;
}

/* Bitmaps above this many ids are stored as roaring without trying a
 * list: a list takes at least a byte an id, roaring at most two, and for
 * the runs of ids large postings are made of, far less. */
#define INDEX_LIST_MAX 16

/* Bytes of bm as a gap list, or SIZE_MAX if it is too large to try. */
static size_t index_posting_list_len(const roaring_bitmap_t *bm, uint64_t card)
{
    if (card > INDEX_LIST_MAX)
        return SIZE_MAX;
    roaring_uint32_iterator_t it;
    roaring_init_iterator(bm, &it);
    size_t n = 0;
    for (uint32_t prev = 0; it.has_value; roaring_advance_uint32_iterator(&it)) {
        n += tsdb_uvarint_len(it.current_value - prev);
        prev = it.current_value;
    }
    return n;
}

void index_posting_encode(const roaring_bitmap_t *bm, uint32_t aux, const char *value, size_t vlen,
                          struct sbuf *out)
{
    uint64_t card = roaring_bitmap_get_cardinality(bm);
    size_t rlen = roaring_bitmap_portable_size_in_bytes(bm);
    bool list = index_posting_list_len(bm, card) <= rlen;
    uint8_t v[TSDB_UVARINT_MAX];
    sbuf_append(out, v, tsdb_uvarint_put(v, card));
    sbuf_append(out, v, tsdb_uvarint_put(v, (uint64_t)aux << 1 | list));
    sbuf_append(out, value, vlen);
    if (!list) {
        sbuf_reserve(out, rlen);
        roaring_bitmap_portable_serialize(bm, out->data + out->len);
        out->len += rlen;
        return;
    }
    roaring_uint32_iterator_t it;
    roaring_init_iterator(bm, &it);
    for (uint32_t prev = 0; it.has_value; roaring_advance_uint32_iterator(&it)) {
        sbuf_append(out, v, tsdb_uvarint_put(v, it.current_value - prev));
        prev = it.current_value;
    }
}

int index_posting_get(const struct index *ix, MDB_txn *txn, const char *name, size_t nlen,
                      const char *value, size_t vlen, struct index_posting *p)
{
    struct index_pkey k;
    index_pkey_build(&k, name, nlen, value, vlen);
    MDB_val key = {k.n, k.b}, data;
    int rc = mdb_get(txn, ix->postings, &key, &data);
    if (rc == 0)
        rc = index_posting_decode(&key, &data, nlen, p);
    if (rc == 0 && k.is_long && (p->vlen != vlen || memcmp(p->value, value, vlen) != 0))
        rc = MDB_NOTFOUND;
    return rc;
}

int index_postings_load(const struct index *ix, MDB_txn *txn, const char *name, size_t nlen,
                        const char *value, size_t vlen, roaring_bitmap_t **out)
{
    struct index_posting p;
    int rc = index_posting_get(ix, txn, name, nlen, value, vlen, &p);
    if (rc == MDB_NOTFOUND) {
        *out = roaring_bitmap_create();
        return 0;
    }
    if (rc != 0)
        return rc;
    *out = index_posting_bitmap(&p);
    return *out ? 0 : MDB_CORRUPTED;
}

/* --- Iterating a name's values ------------------------------------------ */

int index_value_iter_open(const struct index *ix, MDB_txn *txn, const char *name,
                          const char *prefix, size_t plen, struct index_value_iter *it)
{
    it->cur = NULL;
    it->nlen = strlen(name);
    it->prefix = prefix;
    it->plen = plen;
    it->started = false;
    size_t room = index_pkey_value_room(it->nlen);
    size_t cut = plen < room ? plen : room;
    memcpy(it->key, name, it->nlen);
    it->key[it->nlen] = 0x00;
    memcpy(it->key + it->nlen + 1, prefix, cut);
    it->klen = it->nlen + 1 + cut;
    return mdb_cursor_open(txn, ix->postings, &it->cur);
}

int index_value_iter_next(struct index_value_iter *it, struct index_posting *p)
{
    for (;;) {
        MDB_val k = {it->klen, it->key}, d;
        int rc = mdb_cursor_get(it->cur, &k, &d, it->started ? MDB_NEXT : MDB_SET_RANGE);
        it->started = true;
        if (rc != 0)
            return rc;
        if (k.mv_size < it->klen || memcmp(k.mv_data, it->key, it->klen) != 0)
            return MDB_NOTFOUND;
        if (k.mv_size == it->nlen + 1)
            continue; /* the presence record */
        rc = index_posting_decode(&k, &d, it->nlen, p);
        if (rc != 0)
            return rc;
        if (p->vlen >= it->plen && memcmp(p->value, it->prefix, it->plen) == 0)
            return 0;
    }
}

void index_value_iter_close(struct index_value_iter *it)
{
    if (it->cur)
        mdb_cursor_close(it->cur);
    it->cur = NULL;
}

/* --- Series ------------------------------------------------------------- */

void index_canon_find(const char *canon, size_t n, const char *name, size_t nlen,
                      const char **value, size_t *vlen)
{
    const char *p = canon, *end = canon + n;
    *value = "";
    *vlen = 0;
    while (p < end) {
        const char *ne = memchr(p, 0xFF, (size_t)(end - p));
        if (!ne)
            return;
        const char *v = ne + 1;
        const char *ve = memchr(v, 0xFF, (size_t)(end - v));
        if (!ve)
            return;
        if ((size_t)(ne - p) == nlen && memcmp(p, name, nlen) == 0) {
            *value = v;
            *vlen = (size_t)(ve - v);
            return;
        }
        p = ve + 1;
    }
}

uint64_t index_series_count(const struct index *ix, MDB_txn *txn)
{
    struct index_posting p;
    if (index_posting_get(ix, txn, "", 0, "", 0, &p) != 0)
        return 0;
    return p.card;
}
