/* wal_internal.h — what the write-ahead log's files share (storage/wal*.c
 * only; the storage layer includes wal.h).
 *
 * wal.c writes: appends, rotation, commits, truncation, and the life of
 * struct wal.  wal_recover.c reads: wal_open's validation of the newest
 * segment, wal_replay, and the repairs both make.  wal_crc32c.c checksums.
 * struct wal is defined here so the two halves can share it; which lock
 * guards which field is written beside the field, and the lock order in
 * wal.c's opening comment.  Segment files are addressed relative to
 * dir_fd, by their %08u names. */
#ifndef VIGIL_STORAGE_WAL_INTERNAL_H
#define VIGIL_STORAGE_WAL_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "storage/wal.h"

#define WAL_TYPE_SEGMENT    255u /* the segment header record */
#define WAL_SEGHDR_PAYLOAD  20u  /* "VWAL", u32 version, u32 segment, u64 previous size */
#define WAL_SEGHDR_BYTES    (WAL_RECORD_HEADER_BYTES + WAL_SEGHDR_PAYLOAD)
#define WAL_SEGHDR_VERSION  1u
#define WAL_PREV_UNKNOWN    UINT64_MAX
#define WAL_SEGMENT_NAMELEN 16

/* A segment rotated away whose last writes no commit has synced yet. */
struct wal_retired {
    int fd;
    uint32_t segment;
};

struct wal {
    char *dir; /* "<dir>/wal", owned; for messages */
    int dir_fd;
    uint64_t segment_bytes;
    int64_t commit_interval_ns;
    struct logger *log; /* borrowed */

    pthread_mutex_t commit_mu; /* serialises commits; taken before mu */
    pthread_mutex_t trunc_mu;  /* serialises truncations; taken before mu */

    /* mu guards everything below, except while wal_open and wal_replay run:
     * nothing else may run then (wal.h), so they use the fields unlocked. */
    pthread_mutex_t mu;
    int fd; /* current segment, open for writing */
    uint32_t segment;
    uint64_t offset;    /* its size: where the next record goes */
    bool need_header;   /* it is empty: the next append writes the segment header */
    uint64_t prev_size; /* the previous segment's size, for that header */
    uint32_t first_segment;
    struct wal_retired *retired; /* synced and closed by the next commit */
    size_t nretired, retired_cap;
    bool dir_dirty; /* a segment was created since the last commit snapshot */
    uint64_t seq;
    uint64_t seq_durable;
    int64_t unsynced_since; /* monotonic ns of the first append after the last
                               commit snapshot; 0 = none */
    int failed_errno;       /* nonzero: failed for good */
    char errmsg[256];
    struct wal_stats st;            /* counters; segment fields filled on read */
    struct wal_replay_stats opened; /* what wal_open cut, for wal_replay to report */
};

static inline void wal_put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline void wal_put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint32_t wal_get_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t wal_get_le64(const uint8_t *p)
{
    return (uint64_t)wal_get_le32(p) | (uint64_t)wal_get_le32(p + 4) << 32;
}

/* Allocates a closed WAL on <dir>/wal with o's settings (o may be NULL). */
struct wal *wal_new(const char *dir, const struct wal_options *o);
/* Closes every fd without syncing and frees w. */
void wal_free(struct wal *w);

/* buf holds WAL_SEGMENT_NAMELEN bytes. */
void wal_segment_name(uint32_t segment, char *buf);
/* openat of the segment file; flags get O_CLOEXEC, created files mode 0644. */
int wal_segment_open(const struct wal *w, uint32_t segment, int flags);
/* Size of a segment file; 0 if it does not exist. */
uint64_t wal_segment_size(const struct wal *w, uint32_t segment);
/* Deletes a segment file, adding its size to *size.  A missing file is
 * fine.  Returns -1 with errno on failure. */
int wal_segment_unlink(const struct wal *w, uint32_t segment, uint64_t *size);

#endif
