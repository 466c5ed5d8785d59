/* head.h — storage-internal: the head, the in-memory part of the TSDB.
 *
 * Every series that received samples since its data was last written to
 * LMDB has a struct head_series here, found by its index id in pages of
 * HEAD_PAGE_SERIES consecutive ids.  A series holds one open head chunk (appended to in place) and
 * a list of closed chunks waiting for the flusher to encode them as blocks and write them to LMDB.
 *
 * Start timestamps: a chunk either has an ST column or not (storage/chunk.h),
 * and the flag lives here, beside its bytes (open_st, head_closed.st,
 * head_chunk_ref.st).  The open chunk gets the column when its first sample
 * has an ST; a sample with an ST that finds a chunk without one cuts it.
 * So a series that never has an ST never has a chunk with the column.
 *
 * Locking: one reader-writer lock for the whole head.  Writers (batch
 * commits, the flusher unlinking flushed chunks, closing idle chunks) take
 * it exclusively and hold it for microseconds; readers (query snapshots,
 * the flusher collecting work) share it.  Because a batch is applied under
 * one exclusive hold, a reader never sees part of a batch.  Closed chunks
 * are immutable and only the flusher frees them, so the flusher may read
 * their bytes without the lock once it has collected the pointers. */
#ifndef VIGIL_STORAGE_HEAD_H
#define VIGIL_STORAGE_HEAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/chunk.h"
#include "util/sbuf.h"

enum head_append_result {
    HEAD_APPENDED,
    HEAD_DUPLICATE_SAME, /* same timestamp and value: a no-op, not an error */
    HEAD_DUPLICATE,      /* same timestamp, different value: rejected */
    HEAD_OUT_OF_ORDER,   /* older than the series' newest sample: rejected */
    HEAD_NO_SERIES,      /* the series is not in the head (head_append never creates it) */
    HEAD_OOO_APPENDED,   /* out of order, taken by the out-of-order head (ooo.c) */
    HEAD_TOO_OLD,        /* out of order and older than the window allows: rejected */
};

/* A closed chunk and its bytes, in one allocation: closed chunks are made
 * in bursts (every series cuts at a window edge, and at chunk_samples in
 * step after that) and freed in bursts by the flusher, so they free whole
 * pages together, instead of leaving holes between the open chunks'
 * buffers (see head_series_cut). */
struct head_closed {
    struct head_closed *next;
    int64_t mint, maxt;
    uint64_t vlast; /* value bits of its last sample */
    uint32_t len;
    uint32_t wal_segment; /* WAL segment of its first sample */
    uint16_t count;
    bool st;       /* the encoding has an ST column */
    uint8_t buf[]; /* the head chunk's encoding, len bytes */
};

/* 80 bytes, kept inline in the head's pages (no allocation of its own):
 * the ST state (open_st_last, open_st) took the place of what is now
 * head_closed.vlast and of padding, and the closed list keeps no tail
 * pointer (it is walked to append: it holds one chunk or two unless the
 * flusher is behind). */
struct head_series {
    struct head_chunk open;
    struct head_closed *closed; /* oldest first */
    int64_t persisted_maxt;     /* newest timestamp known to be in LMDB; INT64_MIN if none */
    int64_t open_st_last;       /* ST of the open chunk's last sample, if open_st */
    uint32_t open_segment;      /* WAL segment of the open chunk's first sample */
    bool open_st : 1;           /* the open chunk has an ST column */
    bool dirty : 1;             /* listed in head.dirty */
};

#define HEAD_PAGE_SERIES 64
struct head_page; /* head.c */

struct head {
    pthread_rwlock_t lock;
    struct head_page **pages; /* by id / HEAD_PAGE_SERIES; NULL where none */
    uint32_t cap;             /* ids below cap may have a series (pages * HEAD_PAGE_SERIES) */
    uint64_t nseries;
    uint64_t nclosed;
    uint64_t epoch;  /* bumped whenever a series leaves the head (head_series_drop) */
    uint32_t *dirty; /* ids with closed chunks awaiting flush */
    size_t ndirty, capdirty;
    uint16_t chunk_samples;  /* a chunk is cut at this many samples ... */
    int64_t chunk_window_ms; /* ... or when a sample crosses a window boundary */
};

void head_init(struct head *h, uint16_t chunk_samples, int64_t chunk_window_ms);
void head_destroy(struct head *h);

/* The series for id, created if absent.  Exclusive lock held (shared
 * will do without create).  The pointer stays valid until the series is
 * dropped. */
struct head_series *head_series_get(struct head *h, uint32_t id, bool create);
/* The series for id or NULL, for readers: lock held, shared or not. */
struct head_series *head_series_at(const struct head *h, uint32_t id);

/* Appends one sample with start timestamp st (0: none) to series id,
 * which must be in the head already (HEAD_NO_SERIES otherwise: the caller
 * decides whether the id is still a live series), applying Prometheus's
 * ordering rules (the ST plays no part in them).  Exclusive lock held. */
enum head_append_result head_append(struct head *h, uint32_t id, int64_t t, double v, int64_t st,
                                    uint32_t wal_segment);

/* Whether s holds no sample at all (no open sample, no closed chunk). */
bool head_series_empty(const struct head_series *s);

/* Frees series id, which must be empty and not dirty, and bumps
 * h->epoch.  Exclusive lock held, and maint_mu (nobody holds collected
 * chunks). */
void head_series_drop(struct head *h, uint32_t id);

/* Copies the open chunk of s to its closed list and empties it, keeping
 * its buffer for the next chunk.  Exclusive lock held.
 *
 * Why a copy: when the closed chunk took the buffer over and the open one
 * started a new one, a cut of all series (at a window edge) allocated a
 * burst of new buffers between the closed chunks, which the flusher then
 * freed, leaving ~110 B of holes a series that the heap kept resident;
 * after a chunk_samples cut, RSS stayed at ~420 B a series against ~270 in
 * use (1M series, 15 s).  Kept, the open buffers do not move, and the
 * closed chunks come and go together. */
void head_series_cut(struct head *h, uint32_t id, struct head_series *s);

/* Takes the oldest closed chunk c, which the flusher has written to LMDB,
 * off series id, and frees it.  Exclusive lock held. */
void head_series_flushed(struct head *h, uint32_t id, struct head_closed *c);

/* Lists series id for the flusher (once).  Exclusive lock held. */
void head_series_mark_dirty(struct head *h, uint32_t id, struct head_series *s);

/* Closes open chunks whose newest sample is older than before_t, so that
 * series that stopped receiving samples release their WAL segments.
 * Exclusive lock held.  Returns the number closed. */
size_t head_close_idle(struct head *h, int64_t before_t);

/* Oldest WAL segment still holding samples that live only in the head, or
 * UINT32_MAX if none.  Shared lock held. */
uint32_t head_min_wal_segment(const struct head *h);

/* Appends to out the samples of series id within [mint, maxt] that are in
 * the head, as (int64 t, double v) pairs, oldest first.  If a chunk of
 * them has an ST column, also appends every one's ST (0 where none) to
 * st_out as an int64, and returns true; else leaves st_out alone.  Shared
 * lock held. */
bool head_series_samples(const struct head *h, uint32_t id, int64_t mint, int64_t maxt,
                         struct sbuf *out, struct sbuf *st_out);

/* Decodes a chunk of count samples (with an ST column if st) into ts, vs
 * and, if st, sts; returns how many decoded (fewer if corrupt). */
size_t head_chunk_unpack(const uint8_t *buf, size_t len, uint16_t count, bool st, int64_t *ts,
                         double *vs, int64_t *sts);

/* The oldest timestamp series id has in the head, or INT64_MAX if none.
 * Shared lock held. */
int64_t head_series_oldest_t(const struct head *h, uint32_t id);

/* Removes the samples of series id in [mint, maxt] from the head: each
 * chunk holding some is re-encoded without them (and dropped if nothing is
 * left), keeping its place, window and WAL segment.  Returns the number of
 * samples removed.  Exclusive lock held, and no flusher may hold collected
 * chunks of the series (the TSDB's maintenance mutex). */
size_t head_series_delete_range(struct head *h, uint32_t id, int64_t mint, int64_t maxt);

/* One head chunk as a snapshot copies it: a closed chunk's bytes are
 * borrowed (valid while the flusher is held off), an open chunk's are a
 * copy owned by the ref (owned == true; free buf). */
struct head_chunk_ref {
    uint32_t id;
    uint16_t count;
    bool owned;
    bool st; /* the chunk has an ST column */
    const uint8_t *buf;
    size_t len;
};
/* Appends a ref for every chunk in the head, series by series, oldest chunk
 * first, to *refs (grown as needed, *n and *cap updated).  Shared lock
 * held. */
void head_chunks_collect(const struct head *h, struct head_chunk_ref **refs, size_t *n,
                         size_t *cap);

#endif
