/* index_hash.c — finding a series by its label set: a hash table in LMDB.
 *
 * Label sets can be longer than LMDB's 511-byte keys, so index_series_add
 * and _lookup find them by hash and compare the stored bytes of each
 * candidate.  Format 1 kept one record per series (u64 hash -> u32 id,
 * MDB_DUPSORT): 22 bytes a series with LMDB's node header and pointer, and
 * leaves half full because hashes arrive in random order — 31 MiB at 1M
 * series, 6 of the 43 index pages of the bench/storage.sh dataset.
 *
 * Format 2 (index.hashes) packs the table into records that each hold a
 * range of hashes, like leaves of a B-tree of its own:
 *
 *   key    u32 the lowest hash the record covers (MDB_INTEGERKEY); the
 *          record covers up to the next record's key
 *   value  entries (u32 hash, u32 id), native byte order, sorted by hash
 *          then id; up to INDEX_HASH_SPLIT of them
 *
 * A lookup seeks the record with the greatest key <= h and binary-searches
 * it.  An insert rewrites one record (<= 512 bytes) and splits it in two
 * when it overflows, between two different hashes, so all entries of one
 * hash stay in one record.  A record that empties is deleted, its range
 * going to the record before; an insert below every key starts a record
 * at key 0.  So 8 bytes a series, and the table can be rewritten densely
 * (index_hash_build: records of INDEX_HASH_DENSE entries, 8 to a page).
 *
 * The hash is the top 32 bits of the label set's XXH3: candidates that are
 * not the set cost one label-set decode, and at 1M series one lookup in
 * ~4000 meets such a clash. */
#include "storage/index_internal.h"

#include <stdlib.h>
#include <string.h>

/* Entries at which a record splits. */
#define INDEX_HASH_SPLIT 64
/* Entries per record when writing densely: 8 records of 14 + 62 * 8
 * bytes (key, node header, slot) fill a 4 KiB page's 4080. */
#define INDEX_HASH_DENSE 62
#define INDEX_HASH_ENTRY 8

static uint32_t index_hash_at(const uint8_t *e, size_t i, size_t half)
{
    uint32_t v;
    memcpy(&v, e + i * INDEX_HASH_ENTRY + half * 4, sizeof v);
    return v;
}

/* Positions c on the record covering h: 0, or MDB_NOTFOUND if every
 * record starts above h (or there is none). */
static int index_hash_seek(MDB_cursor *c, uint32_t h, MDB_val *k, MDB_val *d)
{
    uint32_t key = h;
    *k = (MDB_val){sizeof key, &key};
    int rc = mdb_cursor_get(c, k, d, MDB_SET_RANGE);
    uint32_t found = 0;
    if (rc == 0)
        memcpy(&found, k->mv_data, sizeof found);
    if (rc == 0 && found == h)
        return 0;
    if (rc == 0)
        return mdb_cursor_get(c, k, d, MDB_PREV);
    return rc == MDB_NOTFOUND ? mdb_cursor_get(c, k, d, MDB_LAST) : rc;
}

/* The first entry of e (n entries) not below (h, id). */
static size_t index_hash_lower(const uint8_t *e, size_t n, uint32_t h, uint32_t id)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t mh = index_hash_at(e, mid, 0);
        if (mh < h || (mh == h && index_hash_at(e, mid, 1) < id))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

int index_hash_visit(const struct index *ix, MDB_txn *txn, uint32_t h,
                     int (*visit)(void *arg, uint32_t id), void *arg)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, ix->hashes, &c);
    if (rc != 0)
        return rc;
    MDB_val k, d;
    rc = index_hash_seek(c, h, &k, &d);
    if (rc == 0) {
        const uint8_t *e = d.mv_data;
        size_t n = d.mv_size / INDEX_HASH_ENTRY;
        for (size_t i = index_hash_lower(e, n, h, 0);
             rc == 0 && i < n && index_hash_at(e, i, 0) == h; i++)
            rc = visit(arg, index_hash_at(e, i, 1));
    }
    mdb_cursor_close(c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int index_hash_put(struct index *ix, MDB_txn *txn, uint32_t key, const uint8_t *e, size_t n)
{
    MDB_val k = {sizeof key, &key}, d = {n * INDEX_HASH_ENTRY, (void *)e};
    return mdb_put(txn, ix->hashes, &k, &d, 0);
}

/* Where a record of n > INDEX_HASH_SPLIT entries splits: the boundary
 * between two different hashes nearest the middle, or 0 if all are equal. */
static size_t index_hash_split_at(const uint8_t *e, size_t n)
{
    for (size_t d = 0; d < n / 2; d++) {
        size_t a = n / 2 - d, b = n / 2 + d;
        if (index_hash_at(e, a - 1, 0) != index_hash_at(e, a, 0))
            return a;
        if (b < n && index_hash_at(e, b - 1, 0) != index_hash_at(e, b, 0))
            return b;
    }
    return 0;
}

/* Copies the record c is on (or none) into the writer's buffer, then
 * closes c: the puts that follow may move the record. */
static int index_hash_load(struct index *ix, MDB_txn *txn, uint32_t h, uint32_t *key, size_t *n)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, ix->hashes, &c);
    if (rc != 0)
        return rc;
    MDB_val k, d;
    rc = index_hash_seek(c, h, &k, &d);
    sbuf_reset(&ix->w.rec);
    *key = 0;
    *n = 0;
    if (rc == 0) {
        memcpy(key, k.mv_data, sizeof *key);
        sbuf_append(&ix->w.rec, d.mv_data, d.mv_size);
        *n = d.mv_size / INDEX_HASH_ENTRY;
    }
    mdb_cursor_close(c);
    return rc;
}

int index_hash_add(struct index *ix, MDB_txn *txn, uint32_t h, uint32_t id)
{
    uint32_t key;
    size_t n;
    int rc = index_hash_load(ix, txn, h, &key, &n);
    if (rc != 0 && rc != MDB_NOTFOUND)
        return rc;
    struct sbuf *b = &ix->w.rec;
    size_t at = index_hash_lower((const uint8_t *)b->data, n, h, id) * INDEX_HASH_ENTRY;
    uint32_t ent[2] = {h, id};
    sbuf_append(b, ent, sizeof ent); /* grow by one, then open the gap */
    memmove(b->data + at + sizeof ent, b->data + at, n * INDEX_HASH_ENTRY - at);
    memcpy(b->data + at, ent, sizeof ent);
    const uint8_t *e = (const uint8_t *)b->data;
    n++;
    size_t s = n > INDEX_HASH_SPLIT ? index_hash_split_at(e, n) : 0;
    if (s == 0)
        return index_hash_put(ix, txn, key, e, n);
    rc = index_hash_put(ix, txn, key, e, s);
    return rc ? rc
              : index_hash_put(ix, txn, index_hash_at(e, s, 0), e + s * INDEX_HASH_ENTRY, n - s);
}

int index_hash_del(struct index *ix, MDB_txn *txn, uint32_t h, uint32_t id)
{
    uint32_t key;
    size_t n;
    int rc = index_hash_load(ix, txn, h, &key, &n);
    if (rc != 0)
        return rc;
    struct sbuf *b = &ix->w.rec;
    const uint8_t *e = (const uint8_t *)b->data;
    size_t i = index_hash_lower(e, n, h, id);
    if (i == n || index_hash_at(e, i, 0) != h || index_hash_at(e, i, 1) != id)
        return MDB_NOTFOUND;
    if (n == 1) {
        MDB_val k = {sizeof key, &key};
        return mdb_del(txn, ix->hashes, &k, NULL);
    }
    memmove(b->data + i * INDEX_HASH_ENTRY, b->data + (i + 1) * INDEX_HASH_ENTRY,
            (n - i - 1) * INDEX_HASH_ENTRY);
    return index_hash_put(ix, txn, key, e, n - 1);
}

static int index_hash_entry_cmp(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

int index_hash_build(struct index *ix, MDB_txn *txn, uint32_t (*e)[2], size_t n)
{
    if (n > 1)
        qsort(e, n, sizeof *e, index_hash_entry_cmp);
    int rc = mdb_drop(txn, ix->hashes, 0);
    for (size_t at = 0; rc == 0 && at < n;) {
        size_t end = at + INDEX_HASH_DENSE < n ? at + INDEX_HASH_DENSE : n;
        while (end < n && end > at + 1 && e[end][0] == e[end - 1][0])
            end--; /* one hash's entries stay together */
        while (end < n && e[end][0] == e[end - 1][0])
            end++; /* ... even if there are more than a record's worth */
        uint32_t key = at == 0 ? 0 : e[at][0];
        MDB_val k = {sizeof key, &key}, d = {(end - at) * sizeof *e, e[at]};
        rc = mdb_put(txn, ix->hashes, &k, &d, MDB_APPEND);
        at = end;
    }
    return rc;
}

int index_hash_repack(struct index *ix, MDB_txn *txn)
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, ix->hashes, &c);
    if (rc != 0)
        return rc;
    uint32_t(*e)[2] = NULL;
    size_t n = 0, cap = 0;
    MDB_val k, d;
    while ((rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) == 0) {
        size_t m = d.mv_size / INDEX_HASH_ENTRY;
        if (n + m > cap) {
            cap = (n + m) * 2;
            e = xrealloc(e, cap * sizeof *e);
        }
        memcpy(e + n, d.mv_data, m * sizeof *e);
        n += m;
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = index_hash_build(ix, txn, e, n);
    free(e);
    return rc;
}
