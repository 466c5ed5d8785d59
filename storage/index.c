/* index.c — the series index on LMDB: layout, opening, the id map.
 *
 * Prometheus keeps an inverted index of the head block in memory and writes
 * an immutable one per block.  Vigil keeps one index, in the TSDB's LMDB
 * environment, updated in place; LMDB gives every reader a consistent
 * snapshot, so queries on many threads need no lock.  Four DBIs:
 *
 *   index.series    u32 id (MDB_INTEGERKEY) -> canonical label bytes
 *                   (name 0xFF value 0xFF ..., see labels.h).  Ids are dense
 *                   and given in creation order, so new series append at the
 *                   right edge of the B-tree, and series created together
 *                   form runs in the postings bitmaps (roaring stores a run
 *                   in 4 bytes).
 *   index.hash      u64 hash of the canonical bytes (XXH3) -> u32 id, with
 *                   MDB_DUPSORT.  Label sets can be longer than LMDB's
 *                   511-byte key limit, so they are found by hash; when two
 *                   sets share a hash both ids sit under it and a lookup
 *                   compares the stored bytes of each.
 *   index.postings  name 0x00 value -> u32 cardinality, u32 aux, portable
 *                   roaring bitmap of the ids carrying the pair.  Label
 *                   strings are C strings and never hold 0x00, so using it as
 *                   the separator (rather than labels.h's 0xFF) makes keys
 *                   sort by name and then value: a name's values are one key
 *                   range, a value prefix a narrower one, and the label names
 *                   are the distinct key prefixes.  Two special records:
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
 * Writes (index_write.c) put the id and hash records at once and queue the
 * postings changes, which index_flush merges once per pair per txn: adding
 * 10k series of one job rewrites the job's bitmap once, not 10k times.
 * Selection is index_match.c, listing and statistics index_list.c.  This
 * file holds the formats' helpers, opening, and reading series. */
#include "storage/index_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define INDEX_FORMAT 1

static uint64_t index_hash_xxh3(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

static int index_meta_version(struct index *ix, MDB_txn *txn, char *err, size_t errlen)
{
    MDB_val k = {7, "version"}, d;
    int rc = mdb_get(txn, ix->meta, &k, &d);
    if (rc == MDB_NOTFOUND) {
        uint32_t v = INDEX_FORMAT;
        d.mv_size = sizeof v;
        d.mv_data = &v;
        rc = mdb_put(txn, ix->meta, &k, &d, 0);
    } else if (rc == 0) {
        uint32_t v = 0;
        if (d.mv_size == sizeof v)
            memcpy(&v, d.mv_data, sizeof v);
        if (v != INDEX_FORMAT) {
            snprintf(err, errlen, "index: on-disk format %u, this build reads format %u", v,
                     INDEX_FORMAT);
            return -1;
        }
    }
    if (rc != 0) {
        snprintf(err, errlen, "index: meta: %s", mdb_strerror(rc));
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
    const char *what = "index.series";
    int rc = mdb_dbi_open(txn, what, MDB_CREATE | MDB_INTEGERKEY, &ix->series);
    if (rc == 0) {
        what = "index.hash";
        rc = mdb_dbi_open(txn, what,
                          MDB_CREATE | MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP,
                          &ix->hash);
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
        free(ix);
        return -1;
    }
    if (index_meta_version(ix, txn, err, errlen) < 0) {
        free(ix);
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
    free(ix);
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
    const char *d = data->mv_data;
    if (data->mv_size < INDEX_POSTING_HDR || key->mv_size < nlen + 1)
        return MDB_CORRUPTED;
    memcpy(&p->card, d, 4);
    memcpy(&p->aux, d + 4, 4);
    size_t vlen_in_key = key->mv_size - nlen - 1;
    size_t skip = INDEX_POSTING_HDR;
    if (vlen_in_key > 0 && p->aux > 0) {
        if (data->mv_size < INDEX_POSTING_HDR + (size_t)p->aux)
            return MDB_CORRUPTED;
        p->value = d + INDEX_POSTING_HDR;
        p->vlen = p->aux;
        skip += p->aux;
    } else {
        p->value = (const char *)key->mv_data + nlen + 1;
        p->vlen = vlen_in_key;
    }
    p->bitmap = d + skip;
    p->bitmap_len = data->mv_size - skip;
    return 0;
}

roaring_bitmap_t *index_posting_bitmap(const struct index_posting *p)
{
    return roaring_bitmap_portable_deserialize_safe(p->bitmap, p->bitmap_len);
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

int index_series_bytes(const struct index *ix, MDB_txn *txn, uint32_t id, const void **p, size_t *n)
{
    MDB_val k = {sizeof id, &id}, d;
    int rc = mdb_get(txn, ix->series, &k, &d);
    if (rc == 0) {
        *p = d.mv_data;
        *n = d.mv_size;
    }
    return rc;
}

void index_labels_free(struct index_labels *l)
{
    free(l->buf);
    free(l->v);
    *l = (struct index_labels)INDEX_LABELS_INIT;
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
    int rc = index_series_bytes(ix, txn, id, &p, &n);
    if (rc == 0)
        index_labels_decode(out, p, n);
    return rc;
}

uint64_t index_series_count(const struct index *ix, MDB_txn *txn)
{
    struct index_posting p;
    if (index_posting_get(ix, txn, "", 0, "", 0, &p) != 0)
        return 0;
    return p.card;
}
