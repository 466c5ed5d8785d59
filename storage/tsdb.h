/* tsdb.h — Vigil's time-series database (public interface of storage/).
 *
 * Today this is the part every other piece waits on: opening the data
 * directory.  tsdb_open creates the directory if needed, takes an exclusive
 * lock so two servers never share one data dir (Prometheus refuses the same
 * way), and opens the LMDB environment that will hold the index and chunks.
 * Appending, selecting and retention come with the storage issue and will
 * be added to this header.
 *
 * Threads: a struct tsdb may be used from any thread once open; open and
 * close happen on the main thread. */
#ifndef VIGIL_STORAGE_TSDB_H
#define VIGIL_STORAGE_TSDB_H

#include <stddef.h>
#include <stdint.h>

struct tsdb;

struct tsdb_options {
    int64_t retention_ms;        /* 0 = keep forever */
    int64_t retention_bytes;     /* 0 = no size bound */
    uint64_t initial_map_bytes;  /* 0 = default (1 GiB); the map grows on demand */
};

/* Opens (creating if needed) the database in dir.  Returns 0 and *out, or
 * -1 with a message in err (e.g. "lock data/lock: held by another process"). */
int tsdb_open(const char *dir, const struct tsdb_options *opts, struct tsdb **out, char *err,
              size_t errlen);
/* Flushes and closes; db is freed. */
void tsdb_close(struct tsdb *db);
/* The directory it was opened on (borrowed). */
const char *tsdb_dir(const struct tsdb *db);

#endif
