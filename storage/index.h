/* index.h — the series index of storage/ (storage-internal: only the files
 * of storage/ include it; other modules go through storage/tsdb.h).
 *
 * The index maps label sets to dense series ids and label pairs to the
 * roaring bitmaps of the ids that carry them, all inside the LMDB
 * environment of the TSDB, and answers PromQL selectors with those bitmaps.
 * The byte layout and the reasons for it are in the comment at the top of
 * storage/index.c; matcher resolution is described in storage/index_match.c.
 *
 * Transactions are the caller's.  Writes (index_series_add / _delete /
 * index_flush) run in the caller's LMDB write txn; index_flush must be called
 * before that txn commits, and index_discard after it aborts.  Reads run in
 * any txn (usually a read txn) and see exactly what was committed when the
 * txn began, so a batch of series appears to readers all at once.
 *
 * Threads: one struct index is shared by every thread.  After index_open's
 * txn has committed, the read functions may run concurrently from any number
 * of threads, each in its own txn (the env is opened MDB_NOTLS).  The write
 * functions touch a pending-postings buffer inside struct index; they may be
 * called only by the thread holding the LMDB write txn, and LMDB's writer
 * lock is what serialises them.  Nothing else in struct index changes after
 * index_open but a pool of idle zstd decompression contexts, which readers
 * borrow and return under the pool's mutex (held for a pointer swap); no
 * read function keeps other state between calls (regexes are compiled per
 * call, a decoded group stays in the caller's struct index_labels).
 *
 * Errors: write functions return 0 or an LMDB status (MDB_MAP_FULL,
 * MDB_TXN_FULL, ... — mdb_strerror() prints them; EINVAL for a malformed
 * label set), so the caller can grow the map and retry the batch.  Read
 * functions that take a matcher return 0 or -1 with a message in err. */
#ifndef VIGIL_STORAGE_INDEX_H
#define VIGIL_STORAGE_INDEX_H

#include <lmdb.h>
#include <roaring/roaring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/labels.h"
#include "util/sbuf.h"

struct index;

/* Longest label name the index accepts, in bytes.  Values may be of any
 * length (long ones are hashed into their postings key, see index.c). */
#define INDEX_NAME_MAX 255

/* --- Opening ------------------------------------------------------------ */

/* Opens (creating on first use) the index's four DBIs in txn, which must be a
 * write txn of an env with room for them (maxdbs).  The handle is usable by
 * other txns only once txn commits; if txn aborts, index_free it.  Returns 0,
 * or -1 with a message (e.g. a newer on-disk format). */
int index_open(MDB_txn *txn, struct index **out, char *err, size_t errlen);
/* Frees the handle and any pending postings; the DBIs stay in the env. */
void index_free(struct index *ix);
/* The on-disk format index_open found: the current one, or 1 if it
 * migrated a format-1 index (for the caller to log). */
unsigned index_format_found(const struct index *ix);

/* --- Writing (caller's write txn, one writer) ---------------------------- */

/* Returns the id of ls in *id, creating the series if it does not exist
 * (*created says which; ids are 1, 2, 3, ... in creation order and never
 * reused).  A new series can be looked up at once in txn, but its postings
 * are pending until index_flush: index_select in the same txn misses it. */
int index_series_add(struct index *ix, MDB_txn *txn, const struct labels *ls, uint32_t *id,
                     bool *created);
/* Removes series id from the id and hash maps now and from its postings at
 * index_flush.  MDB_NOTFOUND if there is no such series. */
int index_series_delete(struct index *ix, MDB_txn *txn, uint32_t id);
/* Merges the pending postings of the adds and deletes made in txn into the
 * stored bitmaps, rewriting each touched bitmap once.  Call it before
 * committing txn (calling it more often is allowed, only slower). */
int index_flush(struct index *ix, MDB_txn *txn);
/* Rewrites the postings, hash and series DBIs densely (full leaf pages, the
 * unfinished series group compressed too), for tools that leave a data dir
 * compact (tsdb_flush_head).  Costs a copy of each in memory and in the
 * txn; nothing may be pending.  0 or an LMDB status. */
int index_repack(struct index *ix, MDB_txn *txn);
/* Drops pending postings; call after aborting a write txn. */
void index_discard(struct index *ix);

/* --- Series ------------------------------------------------------------- */

/* *id = the id of ls, or 0 if the set is not in the index.  Returns 0 or an
 * LMDB status. */
int index_series_lookup(const struct index *ix, MDB_txn *txn, const struct labels *ls,
                        uint32_t *id);

/* Decodes series groups for one caller (index_series.c): a borrowed zstd
 * context and the group it decoded last. */
struct index_reader;

/* A decoded label set owned by the caller, reusable across calls so that
 * walking many series allocates only while the buffers grow, and series
 * of one group (neighbouring ids) decompress it once.  Free it before the
 * index it was used with. */
struct index_labels {
    struct labels ls; /* points into buf and v below; valid until the next
                         decode into this struct or index_labels_free */
    char *buf;
    size_t buf_cap;
    struct label *v;
    size_t v_cap;
    struct index_reader *rd; /* NULL until a grouped series is read */
};
/* clang-format off */
#define INDEX_LABELS_INIT {{NULL, 0}, NULL, 0, NULL, 0, NULL}
/* clang-format on */
void index_labels_free(struct index_labels *l);

/* Decodes series id's label set into out (an owned copy: it outlives txn).
 * MDB_NOTFOUND if there is no such series. */
int index_series_labels(const struct index *ix, MDB_txn *txn, uint32_t id,
                        struct index_labels *out);
/* The canonical bytes of series id (name 0xFF value 0xFF ..., see labels.h)
 * in *p, *n: borrowed from the LMDB map or from scratch's decoded group, so
 * valid until txn ends or writes, or scratch decodes again.  scratch.ls is
 * left as it was.  MDB_NOTFOUND if there is no such series. */
int index_series_bytes(const struct index *ix, MDB_txn *txn, uint32_t id,
                       struct index_labels *scratch, const void **p, size_t *n);
/* 0 if series id exists, MDB_NOTFOUND if not, or an LMDB error.  Reads
 * no label bytes (cheaper than index_series_bytes). */
int index_series_exists(const struct index *ix, MDB_txn *txn, uint32_t id);
/* Number of series (0 on error). */
uint64_t index_series_count(const struct index *ix, MDB_txn *txn);

/* --- Selecting ---------------------------------------------------------- */

/* The ids of the series matching every matcher, with Prometheus semantics: a
 * missing label has the value "", regexes are anchored.  n == 0 selects every
 * series.  *out is a new bitmap the caller frees (roaring_bitmap_free).
 * Errors: an invalid regex, a regex exceeding its match limit, LMDB. */
int index_select(const struct index *ix, MDB_txn *txn, const struct label_matcher *ms, size_t n,
                 roaring_bitmap_t **out, char *err, size_t errlen);

/* --- Listing ------------------------------------------------------------ */

/* A sorted list of distinct strings, owned by the struct. */
struct index_strings {
    char **v; /* n NUL-terminated strings pointing into buf */
    size_t n;
    struct sbuf buf;
};
/* clang-format off */
#define INDEX_STRINGS_INIT {NULL, 0, SBUF_INIT}
/* clang-format on */
void index_strings_free(struct index_strings *s);

/* Label names in byte order; with n > 0 only the names of series matching
 * the matchers.  out must be INDEX_STRINGS_INIT or freed. */
int index_label_names(const struct index *ix, MDB_txn *txn, const struct label_matcher *ms,
                      size_t n, struct index_strings *out, char *err, size_t errlen);
/* Values of label name in byte order; with n > 0 only the values carried by
 * series matching the matchers. */
int index_label_values(const struct index *ix, MDB_txn *txn, const char *name,
                       const struct label_matcher *ms, size_t n, struct index_strings *out,
                       char *err, size_t errlen);

/* --- Statistics (for /api/v1/status/tsdb) -------------------------------- */

struct index_stat {
    char *name; /* owned */
    uint64_t count;
};

struct index_stat_list {
    struct index_stat *v; /* highest count first, ties in key order */
    size_t n;
};

struct index_stats {
    uint64_t num_series;
    uint64_t num_label_pairs;
    struct index_stat_list series_by_metric; /* seriesCountByMetricName */
    struct index_stat_list values_by_name;   /* labelValueCountByLabelName */
    struct index_stat_list bytes_by_name;    /* memoryInBytesByLabelName:
                                                sum of len(value) x series */
    struct index_stat_list series_by_pair;   /* seriesCountByLabelValuePair,
                                                names "name=value" */
};

/* Fills out with the top `limit` entries of each list (one pass over the
 * postings keys; no bitmap is decoded).  Free with index_stats_free. */
int index_stats_get(const struct index *ix, MDB_txn *txn, size_t limit, struct index_stats *out,
                    char *err, size_t errlen);
void index_stats_free(struct index_stats *s);

/* --- Testing ------------------------------------------------------------ */

/* Replaces XXH3_64bits as the label-set hash, so tests can force every set
 * into one hash bucket.  Only on an empty index, before any add. */
void index_hash_fn_set(struct index *ix, uint64_t (*fn)(const void *p, size_t n));

#endif
