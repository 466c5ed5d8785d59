/* index_internal.h — what the index's own files (storage/index*.c) share:
 * struct index, the postings key and record formats, and a cursor over one
 * label name's values.  The formats are described in storage/index.c. */
#ifndef VIGIL_STORAGE_INDEX_INTERNAL_H
#define VIGIL_STORAGE_INDEX_INTERNAL_H

#include "storage/index.h"

/* LMDB's key size limit in its default build (mdb_env_get_maxkeysize). */
#define INDEX_KEY_MAX 511
/* Postings record header: u32 cardinality, u32 aux (see index.c). */
#define INDEX_POSTING_HDR 8

/* One distinct postings key of the pending batch: the logical pair
 * name 0x00 value at keys[off, off+len), and how many changes it has. */
struct index_pending_key {
    uint32_t off;
    uint32_t len;
    uint32_t nchanges;
    uint32_t first; /* during flush: where its changes start */
};

/* One change: add (del == 0) or remove series id under key k[key]. */
struct index_pending_change {
    uint32_t key;
    uint32_t id;
    uint32_t del;
};

/* The postings deltas of the current write txn: keys interned in an
 * open-addressing table (slots hold key index + 1, 0 = empty), changes in
 * arrival order.  Touched only by the thread holding the LMDB write txn. */
struct index_pending {
    size_t txn_id;    /* mdb_txn_id of the txn the changes belong to, 0 = none */
    uint32_t next_id; /* the id the next new series gets (valid if txn_id) */
    struct sbuf keys;
    struct index_pending_key *k;
    size_t nk;
    size_t kcap;
    uint32_t *slots;
    size_t nslots;
    struct index_pending_change *c;
    size_t nc;
    size_t ccap;
};

struct index {
    MDB_dbi series;   /* u32 id -> canonical label bytes */
    MDB_dbi hash;     /* u64 hash -> u32 ids (dupsort) */
    MDB_dbi postings; /* name 0x00 value -> header + roaring bitmap */
    MDB_dbi meta;     /* "version", "next_id" -> u32 */
    uint64_t (*hash_fn)(const void *p, size_t n);
    struct index_pending pending;
};

/* A physical postings key.  Values too long to fit are cut and followed by
 * 0xFF and a hash of the whole value; is_long says so. */
struct index_pkey {
    unsigned char b[INDEX_KEY_MAX];
    size_t n;
    bool is_long;
};
void index_pkey_build(struct index_pkey *k, const char *name, size_t nlen, const char *value,
                      size_t vlen);
/* How many value bytes a key for a name of nlen bytes holds before a value
 * counts as long. */
size_t index_pkey_value_room(size_t nlen);

/* One postings record, decoded without copying: every pointer borrows from
 * the LMDB map. */
struct index_posting {
    const char *value; /* "" for the presence and all-series records */
    size_t vlen;
    uint32_t card; /* series in the bitmap */
    uint32_t aux;  /* presence record: number of values of the name */
    const char *bitmap;
    size_t bitmap_len;
};
/* Decodes key/data of a record whose name is nlen bytes long.  Returns 0 or
 * MDB_CORRUPTED. */
int index_posting_decode(const MDB_val *key, const MDB_val *data, size_t nlen,
                         struct index_posting *p);
/* A new bitmap from a decoded record, or NULL if the bytes are corrupt. */
roaring_bitmap_t *index_posting_bitmap(const struct index_posting *p);

/* Fetches the record of (name, value); value "" is the name's presence
 * record, name "" the all-series record.  Returns 0, MDB_NOTFOUND, or an
 * LMDB error.  A long value is compared in full, so a hash clash reads as
 * MDB_NOTFOUND. */
int index_posting_get(const struct index *ix, MDB_txn *txn, const char *name, size_t nlen,
                      const char *value, size_t vlen, struct index_posting *p);
/* Like index_posting_get but returns a new bitmap in *out, empty if the
 * record does not exist. */
int index_postings_load(const struct index *ix, MDB_txn *txn, const char *name, size_t nlen,
                        const char *value, size_t vlen, roaring_bitmap_t **out);

/* A cursor over the values of one name whose value starts with a prefix, in
 * key order (byte order, except that long values sharing their first
 * index_pkey_value_room bytes come in hash order). */
struct index_value_iter {
    MDB_cursor *cur;
    size_t nlen;
    unsigned char key[INDEX_KEY_MAX]; /* name 0x00 prefix, cut to the key room */
    size_t klen;
    const char *prefix; /* the whole prefix (borrowed from the caller) */
    size_t plen;
    bool started;
};
int index_value_iter_open(const struct index *ix, MDB_txn *txn, const char *name,
                          const char *prefix, size_t plen, struct index_value_iter *it);
/* 0 and *p for the next value, MDB_NOTFOUND at the end, or an LMDB error. */
int index_value_iter_next(struct index_value_iter *it, struct index_posting *p);
void index_value_iter_close(struct index_value_iter *it);

/* Finds label name in canonical bytes; the value is "" when absent. */
void index_canon_find(const char *canon, size_t n, const char *name, size_t nlen,
                      const char **value, size_t *vlen);

/* roaring_bitmap_free that accepts NULL (CRoaring 0.2 does not). */
static inline void index_bitmap_free(roaring_bitmap_t *b)
{
    if (b)
        roaring_bitmap_free(b);
}

/* Appends s (which must have a NUL-free length n) to a string list. */
void index_strings_push(struct index_strings *s, const char *p, size_t n);
/* Turns offsets into pointers once all strings are in; sort_dedup sorts and
 * drops duplicates first. */
void index_strings_finish(struct index_strings *s, bool sort_dedup);

#endif
