/* tsdb.h — Vigil's time-series database (the public interface of storage/).
 *
 * Data model: Prometheus's.  A series is a label set (storage/labels.h); a
 * sample is an int64 millisecond timestamp and a float64 value, stored bit
 * for bit (the staleness marker NaN 0x7ff0000000000002 stays distinct from
 * other NaNs), and optionally a start timestamp (tsdb_append_st).
 *
 * Writing: an appender stages the samples of one batch (a scrape, a rule
 * evaluation) and tsdb_appender_commit makes them visible all at once and
 * hands them to the write-ahead log.  A batch acknowledged by commit is on
 * disk (fdatasync) within the commit interval (1 s by default); after a
 * crash, everything up to the last completed commit comes back.
 *
 * Reading: tsdb_select takes a consistent snapshot of the series matching a
 * selector over [mint, maxt] — never part of a batch — and iterates their
 * samples in time order, merged from LMDB blocks and the in-memory head.
 * Any number of threads may select concurrently while appenders commit.
 *
 * Threads: tsdb_open/tsdb_close on one thread; everything else from any
 * thread.  An appender and a series set each belong to one thread at a
 * time. */
#ifndef VIGIL_STORAGE_TSDB_H
#define VIGIL_STORAGE_TSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/labels.h"

struct tsdb;
struct logger;
struct metrics_registry;

/* The staleness marker Prometheus writes when a series disappears. */
#define TSDB_STALE_NAN_BITS 0x7ff0000000000002ULL

struct tsdb_options {
    int64_t retention_ms;             /* 0 = keep forever */
    int64_t retention_bytes;          /* 0 = no size bound; else LMDB's used bytes plus the WAL's
                                         are kept about this size by deleting the oldest 2 h
                                         windows (storage/retention.c) */
    uint64_t initial_map_bytes;       /* 0 = 1 TiB; LMDB's map is address space, not disk, and
                                         grows (doubling) whenever a write finds it full */
    uint32_t commit_interval_ms;      /* 0 = 1000: how far durability may lag acknowledgement */
    uint16_t chunk_samples;           /* 0 = 120: head chunks are cut at this many samples */
    uint64_t wal_segment_bytes;       /* 0 = 128 MiB */
    int64_t ooo_window_ms;            /* out_of_order_time_window; 0 = off (tsdb_set_ooo_window) */
    struct logger *log;               /* borrowed; may be NULL */
    struct metrics_registry *metrics; /* borrowed; may be NULL */
};

/* Opens (creating if needed) the database in dir and replays its WAL.
 * Returns 0 and *out, or -1 with a message in err (e.g. "lock data/lock:
 * held by another process"). */
int tsdb_open(const char *dir, const struct tsdb_options *opts, struct tsdb **out, char *err,
              size_t errlen);
/* Flushes (commits the WAL) and closes; db is freed. */
void tsdb_close(struct tsdb *db);
/* The directory it was opened on (borrowed). */
const char *tsdb_dir(const struct tsdb *db);

/* ---- Appending ---- */

struct tsdb_appender;

/* What one commit did, for the caller's own counters. */
struct tsdb_commit_stats {
    uint32_t appended;       /* in order and out of order */
    uint32_t ooo_appended;   /* of them, taken under the out-of-order window */
    uint32_t out_of_order;   /* older than the series' newest sample, no window: dropped */
    uint32_t too_old;        /* out of order and older than the window allows: dropped */
    uint32_t duplicate;      /* same timestamp, different value: dropped */
    uint32_t unknown_series; /* the ref named a removed series (ref reset to 0): dropped */
    uint32_t series_created;
};

struct tsdb_appender *tsdb_appender_new(struct tsdb *db);
void tsdb_appender_free(struct tsdb_appender *a);

/* Stages one sample.  ref caches the series between batches: pass a ref of
 * 0 with the label set the first time; tsdb_append sets it (possibly only at
 * commit, for a new series) and later calls may pass ls == NULL with the
 * cached ref.  *ref must stay valid until commit: a series with no sample
 * left is removed (retention, deletes), and a commit that meets a ref of a
 * removed series drops its samples and sets *ref to 0 (unknown_series), so
 * the caller passes the label set again next time.  ls is borrowed for the call
 * only; it must be sorted by name, with unique names and no empty values.
 * Returns 0, or -1 with a message in the appender (tsdb_appender_error) for
 * an invalid label set or an unknown ref. */
int tsdb_append(struct tsdb_appender *a, uint64_t *ref, const struct labels *ls, int64_t t,
                double v);
/* tsdb_append with the sample's start timestamp st: the time (ms) its
 * counter started from zero, as OpenMetrics' _created or OTel's start time
 * give it; 0 means unknown, as in Prometheus.  It is stored with the
 * sample (in the WAL, the head and the blocks) and read back by
 * tsdb_series_set_next_st.  A series that never gets an ST pays nothing
 * for the feature. */
int tsdb_append_st(struct tsdb_appender *a, uint64_t *ref, const struct labels *ls, int64_t t,
                   double v, int64_t st);
/* Makes the staged batch visible atomically and logs it; out-of-order and
 * duplicate samples are dropped and counted in st (may be NULL).  Returns 0,
 * or -1 (nothing of the batch applied) with tsdb_appender_error set. */
int tsdb_appender_commit(struct tsdb_appender *a, struct tsdb_commit_stats *st);
void tsdb_appender_rollback(struct tsdb_appender *a);
const char *tsdb_appender_error(const struct tsdb_appender *a);

/* Sets Prometheus's out_of_order_time_window (storage.tsdb in the config
 * file) in ms; 0 turns it off.  With a window W, a sample older than its
 * series' newest is accepted if it is not older than the newest sample of
 * the database minus W (storage/ooo.c).  Any thread, any time (a reload). */
void tsdb_set_ooo_window(struct tsdb *db, int64_t window_ms);

/* Forces the WAL to disk now (what the commit interval does on its own). */
int tsdb_sync(struct tsdb *db);
/* Writes every head sample to LMDB as blocks (cutting the open chunks),
 * compacts finished windows, syncs, and empties the WAL of what is now in
 * LMDB.  For tools such as `vigil tsdb import`, which leave a data dir
 * durable and compact.  Returns 0 or -1. */
int tsdb_flush_head(struct tsdb *db);

/* ---- Reading ---- */

struct tsdb_series_set;

/* Selects the series matching all matchers (PromQL semantics; at least one
 * should select something) with samples in [mint, maxt].  Returns 0 and a
 * set the caller frees, or -1 with a message (e.g. a bad regex). */
int tsdb_select(struct tsdb *db, const struct label_matcher *ms, size_t n, int64_t mint,
                int64_t maxt, struct tsdb_series_set **out, char *err, size_t errlen);
/* Advances to the next series that has samples in range.  *ls, *ts and *vs
 * are borrowed until the next call; timestamps ascend strictly.  Returns
 * false at the end. */
bool tsdb_series_set_next(struct tsdb_series_set *set, const struct labels **ls, const int64_t **ts,
                          const double **vs, size_t *n);
/* The same, and *sts the samples' start timestamps (0 where a sample has
 * none), or NULL when no sample of the series in range has one.  Only
 * readers that ask pay for decoding them; a set may mix both calls. */
bool tsdb_series_set_next_st(struct tsdb_series_set *set, const struct labels **ls,
                             const int64_t **ts, const double **vs, const int64_t **sts, size_t *n);
void tsdb_series_set_free(struct tsdb_series_set *set);

/* ---- Introspection ---- */

struct tsdb_head_stats {
    uint64_t series;        /* series with samples in the head (quiet ones leave it) */
    uint64_t chunks_closed; /* awaiting flush */
    uint64_t index_series;  /* all series in the index */
};
void tsdb_head_stats_get(struct tsdb *db, struct tsdb_head_stats *st);

/* Cardinality statistics, as /api/v1/status/tsdb and `vigil tsdb stats`
 * report them. */
struct tsdb_stat {
    char *name; /* owned; label pairs as "name=value" */
    uint64_t count;
};
struct tsdb_stat_list {
    struct tsdb_stat *v; /* highest count first */
    size_t n;
};
struct tsdb_stats {
    uint64_t num_series; /* in the index */
    uint64_t num_label_pairs;
    uint64_t head_series;  /* with samples in the head */
    uint64_t head_chunks;  /* open and closed */
    int64_t head_min_time; /* ms; INT64_MAX / INT64_MIN when the head is empty */
    int64_t head_max_time;
    uint64_t blocks;                        /* blocks in LMDB */
    uint64_t disk_bytes;                    /* LMDB file bytes in use plus WAL */
    struct tsdb_stat_list series_by_metric; /* seriesCountByMetricName */
    struct tsdb_stat_list values_by_name;   /* labelValueCountByLabelName */
    struct tsdb_stat_list bytes_by_name;    /* memoryInBytesByLabelName */
    struct tsdb_stat_list series_by_pair;   /* seriesCountByLabelValuePair */
};
/* Fills st with the top `limit` entries of each list.  Returns 0 or -1 with
 * a message.  Free with tsdb_stats_free. */
int tsdb_stats_get(struct tsdb *db, size_t limit, struct tsdb_stats *st, char *err, size_t errlen);
void tsdb_stats_free(struct tsdb_stats *st);

/* ---- Administration (the admin HTTP API) ---- */

/* Deletes the samples in [mint, maxt] (inclusive, ms) of every series
 * matching all n >= 1 matchers, at once: blocks inside the range are
 * dropped, blocks overlapping it re-encoded without those samples, and the
 * head's chunks rebuilt without them; a delete record in the WAL keeps a
 * restart from bringing head samples back.  Readers see each batch of
 * series before or after, never half-deleted.  The series stay in the
 * index even when no sample is left (ingest paths may hold their ids), so
 * label listings still show them.  Durable when it returns 0; -1 with a
 * message (no matcher, a bad regex, mint > maxt, an LMDB or WAL
 * error). */
int tsdb_delete_series(struct tsdb *db, const struct label_matcher *ms, size_t n, int64_t mint,
                       int64_t maxt, char *err, size_t errlen);

/* Prometheus's clean_tombstones.  Vigil deletes eagerly, so there are no
 * tombstones; what is left to do is removing the series that deletes left
 * with no sample (storage/gc.c), which this does now.  Returns 0, or -1
 * with a message. */
int tsdb_clean_tombstones(struct tsdb *db, char *err, size_t errlen);

/* Length of a snapshot name with its NUL: "20060102T150405Z-" + 16 hex. */
#define TSDB_SNAPSHOT_NAME_LEN 34

/* Writes a consistent copy of the database to <dir>/snapshots/<name>,
 * where name is the UTC time and 8 random bytes in hex, as Prometheus
 * names them ("20240131T120000Z-0123456789abcdef"), and stores name in
 * name_out (name_len >= TSDB_SNAPSHOT_NAME_LEN).  The copy is a data
 * directory tsdb_open can open: the LMDB environment copied with free pages
 * left out, and unless skip_head the head's samples as of the call written
 * into it as blocks (the live database is not changed).  Ingestion and
 * queries go on meanwhile; flushing and compaction wait.  Returns 0, or -1
 * with a message (the partial copy is removed). */
int tsdb_snapshot(struct tsdb *db, bool skip_head, char *name_out, size_t name_len, char *err,
                  size_t errlen);

/* ---- Label listings (the labels and label values APIs) ---- */

/* A sorted list of distinct strings, owned by the struct. */
struct tsdb_strings {
    char **v;
    size_t n;
    void *priv;
};
void tsdb_strings_free(struct tsdb_strings *s);

/* Label names of the series matching all matchers (every series when n is
 * 0), or the values of label `name` among them.  The index holds every
 * series the database knows, so mint/maxt narrow the answer only when
 * matchers are given: then the series must have samples in [mint, maxt].
 * Returns 0, or -1 with a message (a bad regex). */
int tsdb_label_names(struct tsdb *db, const struct label_matcher *ms, size_t n, int64_t mint,
                     int64_t maxt, struct tsdb_strings *out, char *err, size_t errlen);
int tsdb_label_values(struct tsdb *db, const char *name, const struct label_matcher *ms, size_t n,
                      int64_t mint, int64_t maxt, struct tsdb_strings *out, char *err,
                      size_t errlen);

#endif
