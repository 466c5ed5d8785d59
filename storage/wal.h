/* wal.h — the write-ahead log (internal to storage/).
 *
 * The head (open chunks in memory) dies with the process.  Everything the
 * storage layer puts into the head it first hands to the WAL as one record
 * per batch, and after a crash it replays the log to rebuild the head.  The
 * WAL frames, checksums, orders and persists opaque records; what a payload
 * means (series definitions, sample batches, deletes) is the storage layer's
 * business, told apart by a type byte.
 *
 * On disk: <dir>/wal/00000001, 00000002, ... (decimal, at least 8 digits).
 * A segment is a run of records, each
 *
 *     u32 len    payload length, little endian, at most WAL_RECORD_MAX_BYTES
 *     u32 crc    CRC32C (Castagnoli) of the len bytes, the type and the payload
 *     u8  type   1..254 for the storage layer; 0 is never written (so zeroed
 *                space never parses); 255 is the WAL's segment header
 *     payload    len bytes
 *
 * Records never span segments.  The first record of every segment is a
 * segment header (type 255, 20-byte payload: "VWAL", u32 version 1, u32 the
 * segment's own number, u64 the final size of the previous segment), which
 * lets replay notice that a previous segment lost its unsynced tail while a
 * later one kept records (a hole in the log) and cut the log at the hole.
 * A new segment is started when the next record would take the current one
 * past segment_bytes; a record larger than that gets a segment of its own.
 *
 * What is acknowledged when:
 *   - wal_append returned 0 with *seq = S: record S is complete in the
 *     kernel's page cache, written with one pwritev(2).  It survives kill -9
 *     of the process, but not a kernel crash or power loss.
 *   - wal_commit returned 0 with *durable_seq = D: every record with
 *     seq <= D is on stable storage (fdatasync of every segment written
 *     since the last commit, and fsync of the directory when a segment was
 *     created), as far as the disk is honest about flushes.  D covers at
 *     least every append that returned before wal_commit was called.
 *   - Seqs count appends on this handle from 1; they are not stored on disk
 *     and start again at 1 after wal_open.
 *
 * Recovery.  wal_open cuts a torn or partially written last record off the
 * newest segment (kill -9 can tear a multi-page write; power loss can leave
 * any unsynced suffix torn, zeroed or missing), positions the writer just
 * after the last good record, and fdatasyncs every segment it keeps: a
 * killed process's last writes may still be only in the page cache, and
 * the new process's records must not become durable on top of an older
 * tail that is not.  A gap in the segment numbers (after leading
 * segments, which wal_truncate_before may have deleted) is corruption: the
 * segments after the gap are deleted.  wal_replay reads every segment in
 * order; a bad record in an older segment stops it there as Prometheus's
 * WAL repair does: everything before is delivered and kept, that segment is
 * cut at the bad record and all later segments are deleted (newest first,
 * so a crash during the repair leaves no hole), a warning names the segment,
 * offset and reason, and appends continue at the cut.  Repairs only ever
 * drop a suffix of the log.
 *
 * Threads: one writer thread calls wal_append (appends take w's lock, so
 * several would be safe, merely serialised).  wal_commit may run on another
 * thread at the same time: it holds the lock only to snapshot and publish,
 * never across fdatasync, so appends of the next batches continue while a
 * slow sync runs.  wal_commit_due_ms, wal_segment_current, wal_stats_get,
 * wal_last_error and wal_truncate_before may be called from any thread.
 * wal_open, wal_replay and wal_close must not overlap any other call on the
 * same WAL; wal_replay must come before the first wal_append.  The WAL
 * takes no lock on the directory: tsdb_open's flock keeps a second process
 * out.
 *
 * Errors.  wal_open and wal_replay fill err.  The others return -1 with
 * errno set and keep a message for wal_last_error.  A failed fdatasync, or a
 * failed write that could not be cut back off the file, makes the WAL
 * failed for good (what the kernel reports after a failed sync cannot be
 * trusted): every later append and commit returns -1 with the first error,
 * and the storage layer should stop ingesting and restart, which replays
 * what is on disk. */
#ifndef VIGIL_STORAGE_WAL_H
#define VIGIL_STORAGE_WAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define WAL_RECORD_MAX_BYTES      (64u << 20) /* payload bytes; larger appends fail EMSGSIZE */
#define WAL_RECORD_HEADER_BYTES   9u
#define WAL_SEGMENT_DEFAULT_BYTES (128ull << 20)
#define WAL_COMMIT_DEFAULT_MS     1000u
#define WAL_TYPE_MIN              1u
#define WAL_TYPE_MAX              254u
#define WAL_APPENDV_MAX_IOV       64 /* iovcnt limit of wal_appendv */

struct logger;
struct wal;

struct wal_options {
    uint64_t segment_bytes;      /* start a new segment beyond this; 0 = 128 MiB */
    uint32_t commit_interval_ms; /* age at which wal_commit_due_ms says 0; 0 = 1000 */
    struct logger *log;          /* borrowed; cuts and repairs are logged; NULL = silent */
};

/* A place in the log: byte offset within a segment. */
struct wal_pos {
    uint32_t segment;
    uint64_t offset;
};

/* What wal_replay delivered, and what wal_open and wal_replay cut off. */
struct wal_replay_stats {
    uint64_t records;   /* delivered to the callback */
    uint64_t bytes;     /* bytes of the records read, headers included */
    uint32_t segments;  /* segments read */
    struct wal_pos end; /* just past the last good record: where appends go next */
    /* Torn tail cut from the newest segment by wal_open (normal after a crash). */
    uint64_t tail_cut_bytes;
    struct wal_pos tail_cut_at;
    /* Corruption before the end of the log (a gap found by wal_open, or a bad
     * record found by wal_replay; the earliest in the log if both). */
    int corrupt;
    struct wal_pos corrupt_at;
    char corrupt_reason[160];
    uint64_t dropped_bytes; /* bytes deleted from corrupt_at on, later segments included */
};

/* Counters for the storage layer's /metrics; totals are since wal_open. */
struct wal_stats {
    uint64_t records_written;
    uint64_t bytes_written; /* record bytes, headers included */
    uint64_t writes_failed;
    uint64_t commits; /* commits that synced something */
    uint64_t fsyncs;  /* fdatasync/fsync calls made by commits */
    uint64_t commit_ns_total;
    uint64_t commit_ns_last;
    uint64_t commit_ns_max;
    uint64_t seq_written;   /* last seq handed out by wal_append */
    uint64_t seq_durable;   /* last seq covered by a completed commit */
    uint32_t segment_first; /* oldest segment on disk */
    uint32_t segment_current;
    uint64_t segment_current_bytes;
    uint64_t storage_bytes; /* all segments */
    uint64_t truncations;   /* wal_truncate_before calls that deleted something */
    uint64_t truncations_failed;
    int failed; /* 1 once the WAL has failed for good */
};

/* Called once per record in log order.  p is borrowed for the call only.
 * Returning nonzero stops the replay: wal_replay returns -1 and changes
 * nothing on disk. */
typedef int (*wal_record_fn)(void *ctx, uint8_t type, const uint8_t *p, size_t len);

/* Opens (creating <dir>/wal if needed; dir itself must exist) the log,
 * cuts a torn tail and positions the writer after the last good record.
 * o may be NULL.  Returns 0 and *out, or -1 with a message in err. */
int wal_open(const char *dir, const struct wal_options *o, struct wal **out, char *err,
             size_t errlen);

/* Delivers every record of the log, oldest first, to fn (may be NULL to
 * just validate); repairs corruption as described above.  st may be NULL.
 * Returns 0 when the end of the log (or a corruption point) was reached, -1
 * with a message in err on an I/O error, when fn stopped it, or when called
 * after wal_append. */
int wal_replay(struct wal *w, wal_record_fn fn, void *ctx, struct wal_replay_stats *st, char *err,
               size_t errlen);

/* Appends one record (type WAL_TYPE_MIN..WAL_TYPE_MAX) with one pwritev.
 * On success returns 0 and its seq in *seq (seq may be NULL).  Errors:
 * EINVAL (bad type), EMSGSIZE (len > WAL_RECORD_MAX_BYTES), or the I/O
 * error; see wal_last_error. */
int wal_append(struct wal *w, uint8_t type, const void *p, size_t len, uint64_t *seq);
/* The same with the payload gathered from iovcnt (<= WAL_APPENDV_MAX_IOV)
 * pieces, so a caller need not copy a header and a body together. */
int wal_appendv(struct wal *w, uint8_t type, const struct iovec *iov, int iovcnt, uint64_t *seq);

/* Makes every record appended so far durable (see the top of this file) and
 * returns the highest durable seq in *durable_seq (may be NULL).  Costs no
 * system call when nothing was appended since the last commit.  Commits
 * are serialised with each other, not with appends. */
int wal_commit(struct wal *w, uint64_t *durable_seq);

/* When the caller's commit timer should next fire: -1 when nothing awaits a
 * commit (or the WAL has failed), 0 when the oldest record not yet covered
 * by a commit is commit_interval_ms old, else the milliseconds until then.
 * Committing whenever this says 0 keeps the durable point at most about
 * commit_interval_ms plus one fdatasync behind the appends. */
int64_t wal_commit_due_ms(struct wal *w);

/* Starts a new segment now (if the current one holds any record), so that
 * wal_truncate_before(wal_segment_current()) can delete everything logged
 * so far once the caller has persisted it elsewhere.  Returns 0 or -1. */
int wal_rotate(struct wal *w);

/* The segment appends currently go to. */
uint32_t wal_segment_current(struct wal *w);

/* Deletes segments numbered below segment, oldest first, never the current
 * one (segment is clamped to it).  Call it once the records in those
 * segments are persisted elsewhere.  Returns 0, or -1 when a file could not
 * be deleted (those before it are gone; retrying is safe). */
int wal_truncate_before(struct wal *w, uint32_t segment);

void wal_stats_get(struct wal *w, struct wal_stats *st);

/* Copies the message of the most recent failed append, commit or
 * truncation ("" if none), e.g. "write wal/00000003 at 1048576: No space
 * left on device". */
void wal_last_error(struct wal *w, char *buf, size_t len);

/* Commits, closes the files and frees w (NULL is a no-op).  Returns -1 if
 * that last commit failed or the WAL had failed, else 0. */
int wal_close(struct wal *w);

/* CRC32C (Castagnoli, reflected, as in iSCSI, ext4 and Prometheus's WAL):
 * crc is the value returned for the preceding bytes, 0 to start.
 * wal_crc32c("123456789") == 0xE3069283.  Uses SSE4.2 when the CPU has it;
 * wal_crc32c_portable always uses the slicing-by-8 tables. */
uint32_t wal_crc32c(uint32_t crc, const void *p, size_t n);
uint32_t wal_crc32c_portable(uint32_t crc, const void *p, size_t n);

#endif
