/* wal_recover.c — opening the write-ahead log, replaying it, repairing it.
 *
 * Both run before any append, so nothing here races the writer.
 *
 * wal_open lists the segment files, deletes any after a gap in the
 * numbering, and validates only the newest segment: a kill -9 tears at
 * most the last record the dead process was writing, and that is always in
 * the newest segment.  The segment is cut after its last good record, then
 * every kept segment is fdatasynced (see sync_segments for why a recovered
 * log must be made durable before new commits vouch for what follows it).
 *
 * wal_replay reads every segment through a 1 MiB window: one pread fills
 * it, records are checked and handed to the callback in place, and a record
 * straddling the window's end is moved to the front before the next pread,
 * so a segment costs size/1 MiB system calls, never one per record (the
 * window grows for a record larger than itself).  Each record is validated
 * in this order: enough bytes for a header, a non-zero type and a length
 * within WAL_RECORD_MAX_BYTES and within the file, then the CRC.  The first
 * record of a segment must be its segment header, naming this segment and
 * the size the previous one had when this one was started; a mismatch
 * means the previous segment lost its tail while this one kept records,
 * which only a power loss before a commit can cause.
 *
 * A bad record ends the log there.  The repair deletes the later segments
 * newest first and only then truncates the damaged one, so a crash half way
 * through a repair leaves the same damage for the next open to find, never
 * a hole; then the writer moves to the cut.  An unknown format version is
 * not damage: it fails the open or replay and changes nothing. */
#include "storage/wal_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sbuf.h"

#define WAL_READ_WINDOW (1u << 20)

/* ---- the reading side: scanning one segment ----------------------------- */

/* A window onto the file being read: data[0..len) holds the bytes at file
 * offset off.  Grows to hold the largest record met. */
struct rbuf {
    uint8_t *data;
    size_t cap;
    uint64_t off;
    size_t len;
};

/* Returns the n bytes at file offset off (off + n <= size), reading as much
 * as the window holds at a time; NULL with errno on a read error. */
static const uint8_t *rbuf_get(struct rbuf *rb, int fd, uint64_t off, size_t n, uint64_t size)
{
    if (off >= rb->off && off + n <= rb->off + rb->len)
        return rb->data + (off - rb->off);
    size_t keep = 0;
    if (off >= rb->off && off < rb->off + rb->len) {
        keep = (size_t)(rb->off + rb->len - off);
        memmove(rb->data, rb->data + (off - rb->off), keep);
    }
    if (n > rb->cap) {
        rb->cap = n > 2 * rb->cap ? n : 2 * rb->cap;
        rb->data = xrealloc(rb->data, rb->cap);
    }
    rb->off = off;
    rb->len = keep;
    while (rb->len < n) {
        uint64_t left = size - (off + rb->len);
        size_t want = rb->cap - rb->len < left ? rb->cap - rb->len : (size_t)left;
        ssize_t r = want ? pread(fd, rb->data + rb->len, want, (off_t)(off + rb->len)) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = ENODATA; /* the file shrank under us */
            return NULL;
        }
        rb->len += (size_t)r;
    }
    return rb->data;
}

enum scan_result {
    SCAN_END,     /* reached the end of the segment cleanly */
    SCAN_BAD,     /* an invalid record at s->end: reason says why */
    SCAN_STOPPED, /* the callback returned cb_rc */
    SCAN_IO,      /* read error io_errno, or a format this code does not know */
};

struct scan {
    /* in */
    int fd;
    uint32_t segment;
    uint64_t size;
    uint64_t expect_prev; /* size the previous segment must have had; WAL_PREV_UNKNOWN */
    wal_record_fn fn;     /* NULL: validate only */
    void *ctx;
    struct rbuf *rb;
    /* out */
    uint64_t end; /* just past the last good record */
    uint64_t records, bytes;
    char reason[128];
    int cb_rc;
    int io_errno;
};

__attribute__((format(printf, 2, 3))) static enum scan_result scan_bad(struct scan *s,
                                                                       const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->reason, sizeof s->reason, fmt, ap);
    va_end(ap);
    return SCAN_BAD;
}

static enum scan_result scan_io(struct scan *s)
{
    s->io_errno = errno ? errno : EIO;
    snprintf(s->reason, sizeof s->reason, "read: %s", strerror(s->io_errno));
    return SCAN_IO;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Validates the framing and CRC of the record at pos; on success points
 * *payload into the window. */
static enum scan_result scan_record(struct scan *s, uint64_t pos, uint8_t *type,
                                    const uint8_t **payload, uint32_t *len)
{
    uint64_t left = s->size - pos;
    if (left < WAL_RECORD_HEADER_BYTES)
        return scan_bad(s, "truncated record header (%" PRIu64 " of %u bytes)", left,
                        WAL_RECORD_HEADER_BYTES);
    const uint8_t *h = rbuf_get(s->rb, s->fd, pos, WAL_RECORD_HEADER_BYTES, s->size);
    if (!h)
        return scan_io(s);
    uint32_t n = wal_get_le32(h);
    if (all_zero(h, WAL_RECORD_HEADER_BYTES))
        return scan_bad(s, "zeroed bytes where a record should start");
    if (h[8] == 0 || n > WAL_RECORD_MAX_BYTES)
        return scan_bad(s, "invalid record header (type %u, length %" PRIu32 ")", h[8], n);
    if (n > left - WAL_RECORD_HEADER_BYTES)
        return scan_bad(s, "truncated record (%" PRIu32 "-byte payload, %" PRIu64 " bytes left)", n,
                        left - WAL_RECORD_HEADER_BYTES);
    h = rbuf_get(s->rb, s->fd, pos, WAL_RECORD_HEADER_BYTES + n, s->size);
    if (!h)
        return scan_io(s);
    uint32_t crc = wal_crc32c(0, h, 4);
    crc = wal_crc32c(crc, h + 8, 1);
    crc = wal_crc32c(crc, h + WAL_RECORD_HEADER_BYTES, n);
    if (crc != wal_get_le32(h + 4))
        return scan_bad(s, "crc mismatch (stored %08" PRIx32 ", computed %08" PRIx32 ")",
                        wal_get_le32(h + 4), crc);
    *type = h[8];
    *payload = h + WAL_RECORD_HEADER_BYTES;
    *len = n;
    return SCAN_END;
}

/* Checks the segment header record that must open every segment. */
static enum scan_result scan_segment_header(struct scan *s, uint8_t type, const uint8_t *p,
                                            uint32_t len)
{
    if (type != WAL_TYPE_SEGMENT || len != WAL_SEGHDR_PAYLOAD || memcmp(p, "VWAL", 4) != 0)
        return scan_bad(s, "segment does not start with a segment header");
    if (wal_get_le32(p + 4) != WAL_SEGHDR_VERSION) {
        errno = EPROTO;
        scan_io(s);
        snprintf(s->reason, sizeof s->reason, "unsupported WAL format version %" PRIu32,
                 wal_get_le32(p + 4));
        return SCAN_IO;
    }
    if (wal_get_le32(p + 8) != s->segment)
        return scan_bad(s, "segment header names segment %08" PRIu32, wal_get_le32(p + 8));
    uint64_t prev = wal_get_le64(p + 12);
    if (s->expect_prev != WAL_PREV_UNKNOWN && prev != s->expect_prev)
        return scan_bad(s,
                        "previous segment has %" PRIu64 " bytes but had %" PRIu64
                        " when this one was started (its tail was lost)",
                        s->expect_prev, prev);
    return SCAN_END;
}

/* Walks the records of one segment from its start, delivering each to
 * s->fn, until the end or the first bad record. */
static enum scan_result segment_scan(struct scan *s)
{
    uint64_t pos = 0;
    s->rb->off = 0;
    s->rb->len = 0;
    posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    for (;;) {
        s->end = pos;
        if (pos == s->size)
            return SCAN_END;
        uint8_t type = 0;
        const uint8_t *p = NULL;
        uint32_t len = 0;
        enum scan_result r = scan_record(s, pos, &type, &p, &len);
        if (r == SCAN_END && pos == 0)
            r = scan_segment_header(s, type, p, len);
        else if (r == SCAN_END && type == WAL_TYPE_SEGMENT)
            r = scan_bad(s, "segment header in the middle of a segment");
        if (r != SCAN_END)
            return r;
        if (pos > 0 && s->fn && (s->cb_rc = s->fn(s->ctx, type, p, len)) != 0)
            return SCAN_STOPPED;
        s->records += pos > 0;
        s->bytes += WAL_RECORD_HEADER_BYTES + len;
        pos += WAL_RECORD_HEADER_BYTES + len;
    }
}

/* ---- opening ------------------------------------------------------------ */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* A segment name is the canonical %08u form of a number >= 1; anything
 * else in the directory (a checkpoint, a temp file) is not ours. */
static bool segment_name_parse(const char *name, uint32_t *out)
{
    char *end;
    if (name[0] < '0' || name[0] > '9')
        return false;
    errno = 0;
    unsigned long long v = strtoull(name, &end, 10);
    if (*end || errno || v == 0 || v > UINT32_MAX)
        return false;
    char canon[WAL_SEGMENT_NAMELEN];
    wal_segment_name((uint32_t)v, canon);
    if (strcmp(canon, name) != 0)
        return false;
    *out = (uint32_t)v;
    return true;
}

/* The segment numbers present, sorted; *out is owned by the caller. */
static int segments_list(struct wal *w, uint32_t **out, size_t *n, char *err, size_t errlen)
{
    DIR *d = opendir(w->dir);
    if (!d) {
        snprintf(err, errlen, "open %s: %s", w->dir, strerror(errno));
        return -1;
    }
    uint32_t *v = NULL;
    size_t len = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint32_t seg;
        if (!segment_name_parse(e->d_name, &seg))
            continue;
        if (len == cap) {
            cap = cap ? 2 * cap : 16;
            v = xrealloc(v, cap * sizeof *v);
        }
        v[len++] = seg;
    }
    closedir(d);
    if (len)
        qsort(v, len, sizeof *v, cmp_u32);
    *out = v;
    *n = len;
    return 0;
}

static void log_pos(struct wal *w, const char *msg, uint32_t segment, uint64_t offset,
                    const char *reason, uint64_t dropped)
{
    if (!log_enabled(w->log, LOG_WARN))
        return;
    char seg[WAL_SEGMENT_NAMELEN], off[24], drop[24];
    wal_segment_name(segment, seg);
    snprintf(off, sizeof off, "%" PRIu64, offset);
    snprintf(drop, sizeof drop, "%" PRIu64, dropped);
    log_warn(w->log, "wal", msg, "dir", w->dir, "segment", seg, "offset", off, "reason", reason,
             "dropped_bytes", drop);
}

/* Notes a cut of the log at (segment, offset) for the replay stats. */
static void note_corruption(struct wal *w, uint32_t segment, uint64_t offset, const char *reason,
                            uint64_t dropped)
{
    struct wal_replay_stats *o = &w->opened;
    o->dropped_bytes += dropped;
    if (o->corrupt && (o->corrupt_at.segment < segment ||
                       (o->corrupt_at.segment == segment && o->corrupt_at.offset <= offset)))
        return;
    o->corrupt = 1;
    o->corrupt_at.segment = segment;
    o->corrupt_at.offset = offset;
    snprintf(o->corrupt_reason, sizeof o->corrupt_reason, "%s", reason);
}

/* Deletes segments segs[from..n), newest first: they follow a gap. */
static int drop_after_gap(struct wal *w, const uint32_t *segs, size_t from, size_t n, char *err,
                          size_t errlen)
{
    uint64_t dropped = 0;
    for (size_t i = n; i-- > from;) {
        if (wal_segment_unlink(w, segs[i], &dropped) < 0) {
            snprintf(err, errlen, "delete %s/%08" PRIu32 ": %s", w->dir, segs[i], strerror(errno));
            return -1;
        }
    }
    if (fsync(w->dir_fd) < 0) {
        snprintf(err, errlen, "fsync %s: %s", w->dir, strerror(errno));
        return -1;
    }
    char reason[96];
    snprintf(reason, sizeof reason,
             "segment %08" PRIu32 " is missing (the next one present is %08" PRIu32 ")",
             segs[from - 1] + 1, segs[from]);
    note_corruption(w, segs[from - 1] + 1, 0, reason, dropped);
    log_pos(w, "WAL has a gap: keeping the segments before it, deleting the rest",
            segs[from - 1] + 1, 0, reason, dropped);
    return 0;
}

/* Starts an empty log at segment 1. */
static int start_fresh(struct wal *w, char *err, size_t errlen)
{
    w->fd = wal_segment_open(w, 1, O_RDWR | O_CREAT | O_EXCL);
    if (w->fd < 0) {
        snprintf(err, errlen, "create %s/00000001: %s", w->dir, strerror(errno));
        return -1;
    }
    w->segment = w->first_segment = 1;
    w->need_header = true;
    w->dir_dirty = true;
    return 0;
}

/* Makes the segments segs[0..n) and the directory durable.  A process
 * killed before its commit leaves its last writes only in the page cache;
 * if they stayed there, a power loss after our own first commit (which
 * syncs only the segments we write) could lose an older segment's tail
 * while keeping our records after it, and replay would have to drop those
 * acknowledged records with the hole.  On clean files this costs about
 * 0.1 ms per segment here (64 segments: 4-7 ms). */
static int sync_segments(struct wal *w, const uint32_t *segs, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        int fd = wal_segment_open(w, segs[i], O_RDONLY);
        if (fd < 0 || fdatasync(fd) < 0) {
            snprintf(err, errlen, "sync %s/%08" PRIu32 ": %s", w->dir, segs[i], strerror(errno));
            if (fd >= 0)
                close(fd);
            return -1;
        }
        close(fd);
    }
    if (fsync(w->dir_fd) < 0) {
        snprintf(err, errlen, "fsync %s: %s", w->dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* Validates the newest segment, cuts it after its last good record, syncs
 * it and makes it the one appends go to. */
static int open_tail(struct wal *w, uint32_t last, uint64_t expect_prev, char *err, size_t errlen)
{
    w->fd = wal_segment_open(w, last, O_RDWR);
    struct stat sb;
    if (w->fd < 0 || fstat(w->fd, &sb) < 0) {
        snprintf(err, errlen, "open %s/%08" PRIu32 ": %s", w->dir, last, strerror(errno));
        return -1;
    }
    struct rbuf rb = {xmalloc(WAL_READ_WINDOW), WAL_READ_WINDOW, 0, 0};
    struct scan s = {.fd = w->fd, .segment = last, .size = (uint64_t)sb.st_size, .rb = &rb};
    s.expect_prev = expect_prev;
    enum scan_result r = segment_scan(&s);
    free(rb.data);
    if (r == SCAN_IO) {
        snprintf(err, errlen, "%s/%08" PRIu32 ": %s", w->dir, last, s.reason);
        return -1;
    }
    if (r == SCAN_BAD && ftruncate(w->fd, (off_t)s.end) < 0) {
        snprintf(err, errlen, "cut torn tail of %s/%08" PRIu32 " at %" PRIu64 ": %s", w->dir, last,
                 s.end, strerror(errno));
        return -1;
    }
    if (fdatasync(w->fd) < 0) {
        snprintf(err, errlen, "sync %s/%08" PRIu32 ": %s", w->dir, last, strerror(errno));
        return -1;
    }
    if (r == SCAN_BAD) {
        uint64_t cut = s.size - s.end;
        w->opened.tail_cut_bytes = cut;
        w->opened.tail_cut_at.segment = last;
        w->opened.tail_cut_at.offset = s.end;
        w->st.storage_bytes -= cut;
        log_pos(w, "Cut torn tail off the WAL", last, s.end, s.reason, cut);
    }
    w->segment = last;
    w->offset = s.end;
    w->need_header = s.end == 0;
    w->prev_size = expect_prev == WAL_PREV_UNKNOWN ? 0 : expect_prev;
    return 0;
}

static int open_segments(struct wal *w, char *err, size_t errlen)
{
    uint32_t *segs;
    size_t n;
    if (segments_list(w, &segs, &n, err, errlen) < 0)
        return -1;
    int rc = 0;
    size_t keep = n;
    for (size_t i = 1; i < n && keep == n; i++)
        if (segs[i] != segs[i - 1] + 1)
            keep = i;
    if (n == 0)
        rc = start_fresh(w, err, errlen);
    else if (keep < n)
        rc = drop_after_gap(w, segs, keep, n, err, errlen);
    if (n > 0 && rc == 0) {
        uint32_t last = segs[keep - 1];
        w->first_segment = segs[0];
        for (size_t i = 0; i < keep; i++)
            w->st.storage_bytes += wal_segment_size(w, segs[i]);
        uint64_t prev = keep > 1 ? wal_segment_size(w, last - 1) : WAL_PREV_UNKNOWN;
        rc = sync_segments(w, segs, keep - 1, err, errlen);
        if (rc == 0)
            rc = open_tail(w, last, prev, err, errlen);
    }
    free(segs);
    return rc;
}

/* Creates <dir>/wal and makes its directory entry durable. */
static int wal_mkdir(const char *dir, const char *wal_dir, char *err, size_t errlen)
{
    if (mkdir(wal_dir, 0755) < 0) {
        if (errno == EEXIST)
            return 0;
        snprintf(err, errlen, "mkdir %s: %s", wal_dir, strerror(errno));
        return -1;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "fsync %s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int wal_open(const char *dir, const struct wal_options *o, struct wal **out, char *err,
             size_t errlen)
{
    struct wal *w = wal_new(dir, o);
    if (wal_mkdir(dir, w->dir, err, errlen) < 0) {
        wal_free(w);
        return -1;
    }
    w->dir_fd = open(w->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (w->dir_fd < 0) {
        snprintf(err, errlen, "open %s: %s", w->dir, strerror(errno));
        wal_free(w);
        return -1;
    }
    if (open_segments(w, err, errlen) < 0) {
        wal_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

/* ---- replay ------------------------------------------------------------- */

/* Cuts the log at (segment, off): deletes every later segment, newest
 * first, then truncates segment, and moves the writer there. */
static int repair_cut(struct wal *w, uint32_t segment, uint64_t off, uint64_t prev_size,
                      uint64_t *dropped, char *err, size_t errlen)
{
    *dropped = 0;
    for (uint32_t s = w->segment; s > segment; s--) {
        if (wal_segment_unlink(w, s, dropped) < 0) {
            snprintf(err, errlen, "delete %s/%08" PRIu32 ": %s", w->dir, s, strerror(errno));
            return -1;
        }
    }
    uint64_t size = wal_segment_size(w, segment);
    *dropped += size > off ? size - off : 0;
    int fd = wal_segment_open(w, segment, O_RDWR | O_CREAT);
    if (fd < 0 || ftruncate(fd, (off_t)off) < 0 || fdatasync(fd) < 0 || fsync(w->dir_fd) < 0) {
        snprintf(err, errlen, "cut %s/%08" PRIu32 " at %" PRIu64 ": %s", w->dir, segment, off,
                 strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(w->fd);
    w->fd = fd;
    w->segment = segment;
    w->offset = off;
    w->need_header = off == 0;
    w->prev_size = prev_size == WAL_PREV_UNKNOWN ? 0 : prev_size;
    w->st.storage_bytes -= *dropped < w->st.storage_bytes ? *dropped : w->st.storage_bytes;
    return 0;
}

/* Opens and scans one segment for replay.  A missing file reads as a
 * segment whose first record is bad. */
static enum scan_result replay_segment(struct wal *w, struct scan *s)
{
    s->fd = wal_segment_open(w, s->segment, O_RDONLY);
    struct stat sb;
    if (s->fd < 0 && errno == ENOENT) {
        s->end = 0;
        snprintf(s->reason, sizeof s->reason, "segment file missing");
        return SCAN_BAD;
    }
    if (s->fd < 0 || fstat(s->fd, &sb) < 0) {
        enum scan_result r = scan_io(s);
        if (s->fd >= 0)
            close(s->fd);
        return r;
    }
    s->size = (uint64_t)sb.st_size;
    enum scan_result r = segment_scan(s);
    close(s->fd);
    return r;
}

/* Handles a bad record met by replay at (s->segment, s->end). */
static int replay_repair(struct wal *w, const struct scan *s, uint64_t prev_size,
                         struct wal_replay_stats *st, char *err, size_t errlen)
{
    uint64_t dropped;
    if (repair_cut(w, s->segment, s->end, prev_size, &dropped, err, errlen) < 0)
        return -1;
    note_corruption(w, s->segment, s->end, s->reason, dropped);
    log_pos(w, "Corrupt WAL: keeping the records before the damage, deleting the rest", s->segment,
            s->end, s->reason, dropped);
    st->corrupt = w->opened.corrupt;
    st->corrupt_at = w->opened.corrupt_at;
    memcpy(st->corrupt_reason, w->opened.corrupt_reason, sizeof st->corrupt_reason);
    st->dropped_bytes = w->opened.dropped_bytes;
    return 0;
}

int wal_replay(struct wal *w, wal_record_fn fn, void *ctx, struct wal_replay_stats *stp, char *err,
               size_t errlen)
{
    struct wal_replay_stats local;
    struct wal_replay_stats *st = stp ? stp : &local;
    *st = w->opened;
    if (w->seq) {
        snprintf(err, errlen, "%s: replay must come before the first append", w->dir);
        return -1;
    }
    struct rbuf rb = {xmalloc(WAL_READ_WINDOW), WAL_READ_WINDOW, 0, 0};
    uint64_t prev = WAL_PREV_UNKNOWN;
    int rc = 0;
    for (uint32_t seg = w->first_segment; rc == 0; seg++) {
        struct scan s = {.segment = seg, .expect_prev = prev, .fn = fn, .ctx = ctx, .rb = &rb};
        enum scan_result r = replay_segment(w, &s);
        st->records += s.records;
        st->bytes += s.bytes;
        st->segments++;
        if (r == SCAN_STOPPED) {
            snprintf(err, errlen,
                     "replay stopped by its callback (%d) at %s/%08" PRIu32 ":%" PRIu64, s.cb_rc,
                     w->dir, seg, s.end);
            rc = -1;
        } else if (r == SCAN_IO) {
            snprintf(err, errlen, "%s/%08" PRIu32 ": %s", w->dir, seg, s.reason);
            rc = -1;
        } else if (r == SCAN_BAD) {
            rc = replay_repair(w, &s, prev, st, err, errlen);
            break;
        }
        prev = s.size;
        if (seg == w->segment)
            break;
    }
    free(rb.data);
    st->end.segment = w->segment;
    st->end.offset = w->offset;
    return rc;
}
