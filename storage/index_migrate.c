/* index_migrate.c — turning a format-1 index into format 2 (see index.c).
 *
 * Runs inside index_open's write txn, so a crash or an error leaves the
 * format-1 index untouched.  Three steps, each one pass:
 *
 *   series    format-1 records (canonical bytes under the id) are read in
 *             id order and written back as compressed groups
 *             (index_series_group_v1).
 *   hashes    the old index.hash (u64 hash -> u32 id, MDB_DUPSORT) is read
 *             whole, its hashes cut to the top 32 bits, written densely to
 *             index.hashes, and dropped.
 *   postings  each value (u32 cardinality, u32 aux, [long value], portable
 *             roaring bitmap) is re-encoded (index_posting_encode).
 *
 * Then the version becomes 2.  Memory: the hash entries (8 bytes a series)
 * and a copy of the postings and of the compressed series at once; LMDB's
 * drops free the old pages without copying them into the txn. */
#include "storage/index_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Format 1's postings header: u32 cardinality, u32 aux. */
#define INDEX_V1_POSTING_HDR 8

static int index_v1_posting_fix(const MDB_val *key, const MDB_val *val, struct sbuf *out)
{
    const char *d = val->mv_data;
    if (val->mv_size < INDEX_V1_POSTING_HDR)
        return MDB_CORRUPTED;
    uint32_t aux;
    memcpy(&aux, d + 4, sizeof aux);
    /* A long value (aux > 0 and a value in the key) follows the header. */
    const char *nul = memchr(key->mv_data, '\0', key->mv_size);
    bool in_key = nul && (size_t)(nul - (const char *)key->mv_data) + 1 < key->mv_size;
    size_t vlen = in_key && aux > 0 ? aux : 0;
    if (val->mv_size < INDEX_V1_POSTING_HDR + vlen)
        return MDB_CORRUPTED;
    roaring_bitmap_t *bm = roaring_bitmap_portable_deserialize_safe(
        d + INDEX_V1_POSTING_HDR + vlen, val->mv_size - INDEX_V1_POSTING_HDR - vlen);
    if (!bm)
        return MDB_CORRUPTED;
    index_posting_encode(bm, aux, d + INDEX_V1_POSTING_HDR, vlen, out);
    roaring_bitmap_free(bm);
    return 0;
}

static int index_v1_hashes(struct index *ix, MDB_txn *txn)
{
    MDB_dbi old;
    int rc = mdb_dbi_open(txn, "index.hash",
                          MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP, &old);
    if (rc == MDB_NOTFOUND)
        return index_hash_build(ix, txn, NULL, 0);
    MDB_cursor *c;
    if (rc != 0 || (rc = mdb_cursor_open(txn, old, &c)) != 0)
        return rc;
    uint32_t(*e)[2] = NULL;
    size_t n = 0, cap = 0;
    MDB_val k, d;
    while ((rc = mdb_cursor_get(c, &k, &d, MDB_NEXT)) == 0) {
        uint64_t h;
        uint32_t id;
        if (k.mv_size != sizeof h || d.mv_size != sizeof id) {
            rc = MDB_CORRUPTED;
            break;
        }
        memcpy(&h, k.mv_data, sizeof h);
        memcpy(&id, d.mv_data, sizeof id);
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            e = xrealloc(e, cap * sizeof *e);
        }
        e[n][0] = index_hash32(h);
        e[n++][1] = id;
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = index_hash_build(ix, txn, e, n);
    free(e);
    return rc ? rc : mdb_drop(txn, old, 1);
}

int index_migrate_v1(struct index *ix, MDB_txn *txn, char *err, size_t errlen)
{
    const char *step = "series";
    int rc = index_series_group_v1(ix, txn);
    if (rc == 0) {
        step = "hashes";
        rc = index_v1_hashes(ix, txn);
    }
    if (rc == 0) {
        step = "postings";
        rc = index_dbi_rewrite(txn, ix->postings, index_v1_posting_fix);
    }
    if (rc == 0) {
        step = "version";
        uint32_t v = 2;
        MDB_val k = {7, "version"}, d = {sizeof v, &v};
        rc = mdb_put(txn, ix->meta, &k, &d, 0);
    }
    index_writer_release(&ix->w);
    if (rc != 0) {
        snprintf(err, errlen, "index: migrating format 1 to 2 (%s): %s", step, mdb_strerror(rc));
        return -1;
    }
    return 0;
}
