/* index_internal.h — what the index's own files (storage/index*.c) share:
 * struct index, the series groups and the hash table's entry points, the
 * postings key and record formats, and a cursor over one label name's
 * values.  The formats are described in storage/index.c and the files it
 * names. */
#ifndef VIGIL_STORAGE_INDEX_INTERNAL_H
#define VIGIL_STORAGE_INDEX_INTERNAL_H

#include "storage/index.h"
#include "storage/varint.h"

/* LMDB's key size limit in its default build (mdb_env_get_maxkeysize). */
#define INDEX_KEY_MAX 511
/* Series ids per group record of index.series (index_series.c): a group
 * holds ids base .. base + 15, base a multiple of 16.  At most 32 (member
 * masks are u32). */
#define INDEX_GROUP_SERIES 16

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
 * arrival order; and which series groups the flush must rewrite.  Touched
 * only by the thread holding the LMDB write txn. */
struct index_pending {
    size_t txn_id;     /* mdb_txn_id of the txn the changes belong to, 0 = none */
    uint32_t first_id; /* next_id when the txn began: ids from here on are new */
    uint32_t next_id;  /* the id the next new series gets (valid if txn_id) */
    struct sbuf keys;
    struct index_pending_key *k;
    size_t nk;
    size_t kcap;
    uint32_t *slots;
    size_t nslots;
    struct index_pending_change *c;
    size_t nc;
    size_t ccap;
    uint32_t *dirty; /* group bases that lost a grouped member */
    size_t ndirty;
    size_t dirtycap;
};

/* Idle zstd decompression contexts (index_series.c).  Creating one costs
 * ~17 us and ~96 KB, more than decoding a group, so readers borrow them. */
struct index_dctx_pool;

/* The writer's buffers (finding candidates, changing hash-table and group
 * records, compressing groups); touched only by the thread holding the
 * LMDB write txn, freed at the end of each flush and repack. */
struct index_writer {
    struct index_labels scratch; /* decodes the group being rewritten */
    struct sbuf payload;         /* a group's members, uncompressed */
    struct sbuf frame;           /* ... and compressed */
    struct sbuf rec;             /* a record being changed (a copy) */
    void *cctx;                  /* ZSTD_CCtx, created at the first group */
};

struct index {
    MDB_dbi series;   /* u32 group base -> the group's label sets */
    MDB_dbi fresh;    /* u32 id -> label set, for unfinished groups */
    MDB_dbi hashes;   /* u32 hash range start -> packed (hash, id) entries */
    MDB_dbi postings; /* name 0x00 value -> header + id list or bitmap */
    MDB_dbi meta;     /* "version", "next_id" -> u32 */
    uint64_t (*hash_fn)(const void *p, size_t n);
    struct index_pending pending;
    struct index_writer w;
    struct index_dctx_pool *pool;
    unsigned format_found; /* index_format_found */
};

/* --- Series records (index_series.c) ------------------------------------- */

/* Creates and frees the pool of idle decompression contexts. */
struct index_dctx_pool *index_dctx_pool_new(void);
void index_dctx_pool_free(struct index_dctx_pool *p);

/* Stores new series id (canonical bytes canon) in index.fresh. */
int index_series_put(struct index *ix, MDB_txn *txn, uint32_t id, const char *canon, size_t n);
/* Removes series id: from index.fresh, or from its group's live mask at
 * once and its bytes at the flush (the group goes on the pending dirty
 * list).  MDB_NOTFOUND if there is no such series. */
int index_series_remove(struct index *ix, MDB_txn *txn, uint32_t id);
/* Rewrites the groups the pending txn handed out the last id of or
 * deleted series from. */
int index_groups_compact(struct index *ix, MDB_txn *txn);
/* Folds index.fresh into group records (the unfinished group too) and
 * rewrites index.series densely. */
int index_series_repack(struct index *ix, MDB_txn *txn);
/* Groups format-1 records (label sets under their ids) into group records
 * (the migration). */
int index_series_group_v1(struct index *ix, MDB_txn *txn);
/* Frees the writer's buffers and compression context. */
void index_writer_release(struct index_writer *w);

/* --- The label-set hash table (index_hash.c) ----------------------------- */

/* The 32 bits of a label-set hash the table keys on. */
static inline uint32_t index_hash32(uint64_t h)
{
    return (uint32_t)(h >> 32);
}
/* Calls visit(arg, id) for each series whose hash is h, in id order,
 * until it returns nonzero (then returns that).  0 when done, or an LMDB
 * error.  visit may read, not write, in txn. */
int index_hash_visit(const struct index *ix, MDB_txn *txn, uint32_t h,
                     int (*visit)(void *arg, uint32_t id), void *arg);
int index_hash_add(struct index *ix, MDB_txn *txn, uint32_t h, uint32_t id);
/* MDB_NOTFOUND if (h, id) is not in the table. */
int index_hash_del(struct index *ix, MDB_txn *txn, uint32_t h, uint32_t id);
/* Replaces the whole table by n entries (u32 hash, u32 id pairs, any
 * order; sorted in place), written densely in key order. */
int index_hash_build(struct index *ix, MDB_txn *txn, uint32_t (*e)[2], size_t n);
/* Rewrites the table densely (index_repack). */
int index_hash_repack(struct index *ix, MDB_txn *txn);

/* --- Format 1 (index_migrate.c) ------------------------------------------ */

/* Converts a format-1 index to format 2 in txn (see index.c). */
int index_migrate_v1(struct index *ix, MDB_txn *txn, char *err, size_t errlen);

/* --- Repacking (index_write.c) ------------------------------------------- */

/* Rewrites every record of dbi, in key order and densely (MDB_APPEND),
 * with value fix(value) when fix is given.  fix appends the new value to
 * out; it returns 0 or an LMDB status. */
int index_dbi_rewrite(MDB_txn *txn, MDB_dbi dbi,
                      int (*fix)(const MDB_val *key, const MDB_val *val, struct sbuf *out));

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
    bool is_list;  /* the ids are a delta list, not a roaring bitmap */
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

/* Appends a postings record value for bm to out: the header with card
 * and aux, then value (long keys; NULL otherwise) and the ids. */
void index_posting_encode(const roaring_bitmap_t *bm, uint32_t aux, const char *value, size_t vlen,
                          struct sbuf *out);

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
