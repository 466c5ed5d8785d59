/* head_ooo.h — storage-internal: the out-of-order head (head_ooo.c).
 *
 * Samples accepted under out_of_order_time_window that are older than
 * their series' newest in-order sample wait here, per series, in time
 * order, until the flusher merges them into the series' blocks
 * (storage/ooo.c).  It is guarded by the head's lock (head.h), so a batch
 * that has in-order and out-of-order samples becomes visible at once, and
 * a reader's snapshot copies both under one shared hold. */
#ifndef VIGIL_STORAGE_HEAD_OOO_H
#define VIGIL_STORAGE_HEAD_OOO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/sbuf.h"

/* One series' out-of-order samples: strictly increasing timestamps, and
 * per sample the WAL segment that logged it (so the WAL keeps every
 * segment a waiting sample needs, exactly). */
struct ooo_series {
    int64_t *ts;
    double *vs;
    uint32_t *segs;
    uint32_t n, cap;
};

struct ooo_head {
    struct ooo_series **series; /* by index id; NULL where none */
    uint32_t cap;
    uint64_t nsamples; /* in all series */
    uint32_t nseries;  /* with samples */
};

void ooo_head_init(struct ooo_head *o);
void ooo_head_destroy(struct ooo_head *o);

/* Inserts (t, v) into series id.  Returns true, or false when the series
 * already holds a sample at t (Prometheus's OOO head drops such a sample
 * whatever its value).  Exclusive head lock held. */
bool ooo_insert(struct ooo_head *o, uint32_t id, int64_t t, double v, uint32_t wal_segment);

/* The series' samples, or NULL. */
const struct ooo_series *ooo_series_get(const struct ooo_head *o, uint32_t id);

/* Appends the samples of id in [mint, maxt] to out as (int64 t, double v)
 * pairs, oldest first.  Shared head lock held. */
void ooo_series_samples(const struct ooo_head *o, uint32_t id, int64_t mint, int64_t maxt,
                        struct sbuf *out);

/* The oldest out-of-order timestamp of id, INT64_MAX if none. */
int64_t ooo_series_oldest_t(const struct ooo_head *o, uint32_t id);

/* Removes the samples of id in [mint, maxt]; returns how many. */
size_t ooo_series_delete_range(struct ooo_head *o, uint32_t id, int64_t mint, int64_t maxt);

/* Removes from id exactly the samples at the n timestamps ts (ascending),
 * those a flush wrote to LMDB; samples inserted meanwhile stay.  Frees the
 * series once empty.  Exclusive head lock held. */
void ooo_series_remove(struct ooo_head *o, uint32_t id, const int64_t *ts, size_t n);

/* Sets the WAL segment of every sample (after replay: see tsdb.c). */
void ooo_head_set_segment(struct ooo_head *o, uint32_t wal_segment);

/* Oldest WAL segment a waiting sample is in, UINT32_MAX if none. */
uint32_t ooo_min_wal_segment(const struct ooo_head *o);

#endif
