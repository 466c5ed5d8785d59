/* wal.c — appends, commits and truncation of the write-ahead log.
 *
 * The record format and the promises are in wal.h; this file is about how
 * they are kept cheaply on a machine where a system call costs ~1.2 µs.
 * Opening and replay live in wal_recover.c.
 *
 * Append path: the caller's batch becomes one record.  Its 9-byte header
 * (with the CRC32C over length, type and payload) is built on the stack,
 * and header plus payload pieces go to the kernel in one pwritev(2) at the
 * offset we track ourselves, so nothing is copied in user space and a batch
 * costs exactly one system call.  The first record of a segment carries the
 * segment header in the same pwritev.  pwritev rather than write keeps the
 * position ours: if a write fails half way we cut the file back to the last
 * good record with ftruncate, and the next record goes exactly there; if
 * even that fails the WAL is failed for good, because a half record left in
 * the middle of a segment would later read as corruption and cost every
 * record after it.
 *
 * Commit path: w->mu guards the writer state, and a commit holds it only to
 * take a snapshot (the last seq written, the current fd, and the fds of the
 * segments rotated away since the last commit) and to publish the result.
 * The fdatasyncs run unlocked, so the writer keeps appending while a slow
 * sync runs; records appended meanwhile are simply not covered by it.  This
 * is safe because only commits close a rotated-away fd (it waits in
 * w->retired until a commit has synced it), so the fds in a snapshot stay
 * open; commit_mu keeps commits from overlapping.  A segment created since
 * the last commit also needs its directory entry made durable: the commit
 * fsyncs the directory.  Rotation itself never syncs, so appends never wait
 * for the disk.
 *
 * Truncation deletes whole segments oldest first, so whatever a crash
 * leaves is still a contiguous run that ends at the current segment; it
 * holds trunc_mu (not mu) while it unlinks.
 *
 * Lock order: commit_mu or trunc_mu before mu. */
#include "storage/wal_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/sbuf.h"

/* ---- small helpers ------------------------------------------------------ */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void wal_segment_name(uint32_t segment, char *buf)
{
    snprintf(buf, WAL_SEGMENT_NAMELEN, "%08" PRIu32, segment);
}

/* Keeps a message for wal_last_error.  w->mu held. */
__attribute__((format(printf, 2, 3))) static void wal_error_set(struct wal *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errmsg, sizeof w->errmsg, fmt, ap);
    va_end(ap);
}

/* Marks the WAL failed for good.  w->mu held. */
static void wal_fail(struct wal *w, int e)
{
    if (!w->failed_errno)
        w->failed_errno = e ? e : EIO;
}

int wal_segment_open(const struct wal *w, uint32_t segment, int flags)
{
    char name[WAL_SEGMENT_NAMELEN];
    wal_segment_name(segment, name);
    return openat(w->dir_fd, name, flags | O_CLOEXEC, 0644);
}

uint64_t wal_segment_size(const struct wal *w, uint32_t segment)
{
    char name[WAL_SEGMENT_NAMELEN];
    struct stat sb;
    wal_segment_name(segment, name);
    return fstatat(w->dir_fd, name, &sb, 0) == 0 ? (uint64_t)sb.st_size : 0;
}

int wal_segment_unlink(const struct wal *w, uint32_t segment, uint64_t *size)
{
    char name[WAL_SEGMENT_NAMELEN];
    wal_segment_name(segment, name);
    *size += wal_segment_size(w, segment);
    if (unlinkat(w->dir_fd, name, 0) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------- */

struct wal *wal_new(const char *dir, const struct wal_options *o)
{
    struct wal *w = xcalloc(1, sizeof *w);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    w->dir = xmalloc(n + 5);
    memcpy(w->dir, dir, n);
    memcpy(w->dir + n, "/wal", 5);
    w->dir_fd = -1;
    w->fd = -1;
    w->segment_bytes = o && o->segment_bytes ? o->segment_bytes : WAL_SEGMENT_DEFAULT_BYTES;
    uint32_t ms = o && o->commit_interval_ms ? o->commit_interval_ms : WAL_COMMIT_DEFAULT_MS;
    w->commit_interval_ns = (int64_t)ms * 1000000;
    w->log = o ? o->log : NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_mutex_init(&w->commit_mu, NULL);
    pthread_mutex_init(&w->trunc_mu, NULL);
    return w;
}

void wal_free(struct wal *w)
{
    for (size_t i = 0; i < w->nretired; i++)
        close(w->retired[i].fd);
    if (w->fd >= 0)
        close(w->fd);
    if (w->dir_fd >= 0)
        close(w->dir_fd);
    pthread_mutex_destroy(&w->mu);
    pthread_mutex_destroy(&w->commit_mu);
    pthread_mutex_destroy(&w->trunc_mu);
    free(w->retired);
    free(w->dir);
    free(w);
}

/* ---- record encoding ---------------------------------------------------- */

/* Fills the 9-byte header of a record whose payload is the len bytes of
 * iov[0..n). */
static void record_header_encode(uint8_t *h, uint8_t type, const struct iovec *iov, int n,
                                 uint32_t len)
{
    wal_put_le32(h, len);
    h[8] = type;
    uint32_t crc = wal_crc32c(0, h, 4);
    crc = wal_crc32c(crc, h + 8, 1);
    for (int i = 0; i < n; i++)
        crc = wal_crc32c(crc, iov[i].iov_base, iov[i].iov_len);
    wal_put_le32(h + 4, crc);
}

/* The segment header record: "VWAL", version, own number, previous size. */
static void segment_header_encode(uint8_t *buf, uint32_t segment, uint64_t prev_size)
{
    uint8_t *p = buf + WAL_RECORD_HEADER_BYTES;
    memcpy(p, "VWAL", 4);
    wal_put_le32(p + 4, WAL_SEGHDR_VERSION);
    wal_put_le32(p + 8, segment);
    wal_put_le64(p + 12, prev_size);
    struct iovec iov = {p, WAL_SEGHDR_PAYLOAD};
    record_header_encode(buf, WAL_TYPE_SEGMENT, &iov, 1, WAL_SEGHDR_PAYLOAD);
}

/* ---- appending ---------------------------------------------------------- */

/* Fails an append the caller got wrong: nothing changes. */
__attribute__((format(printf, 3, 4))) static int wal_reject(struct wal *w, int e, const char *fmt,
                                                            ...)
{
    pthread_mutex_lock(&w->mu);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->errmsg, sizeof w->errmsg, fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&w->mu);
    errno = e;
    return -1;
}

/* Writes all of iov at off, resuming after short writes and EINTR.  iov is
 * consumed.  *done counts the bytes written, also on failure. */
static int pwritev_all(int fd, struct iovec *iov, int n, uint64_t off, size_t *done)
{
    *done = 0;
    for (;;) {
        while (n > 0 && iov->iov_len == 0) {
            iov++;
            n--;
        }
        if (n == 0)
            return 0;
        ssize_t r = pwritev(fd, iov, n, (off_t)(off + *done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;
            return -1;
        }
        *done += (size_t)r;
        for (; n > 0 && (size_t)r >= iov->iov_len; iov++, n--)
            r -= (ssize_t)iov->iov_len;
        if (n > 0) {
            iov->iov_base = (uint8_t *)iov->iov_base + r;
            iov->iov_len -= (size_t)r;
        }
    }
}

/* Moves appends to a new segment.  The old fd waits in w->retired for the
 * next commit to sync and close it.  w->mu held. */
static int segment_rotate(struct wal *w)
{
    uint32_t next = w->segment + 1;
    int fd = next ? wal_segment_open(w, next, O_WRONLY | O_CREAT | O_EXCL) : -1;
    if (fd < 0) {
        wal_error_set(w, "create %s/%08" PRIu32 ": %s", w->dir, next,
                      next ? strerror(errno) : "segment numbers exhausted");
        w->st.writes_failed++;
        return -1;
    }
    if (w->nretired == w->retired_cap) {
        w->retired_cap = w->retired_cap ? 2 * w->retired_cap : 4;
        w->retired = xrealloc(w->retired, w->retired_cap * sizeof *w->retired);
    }
    w->retired[w->nretired].fd = w->fd;
    w->retired[w->nretired++].segment = w->segment;
    w->fd = fd;
    w->prev_size = w->offset;
    w->segment = next;
    w->offset = 0;
    w->need_header = true;
    w->dir_dirty = true;
    return 0;
}

/* A write failed after *done bytes: cut them back off so the next record
 * goes where this one should have.  w->mu held. */
static int write_failed(struct wal *w, int e, size_t done)
{
    w->st.writes_failed++;
    wal_error_set(w, "write %s/%08" PRIu32 " at %" PRIu64 ": %s", w->dir, w->segment, w->offset,
                  strerror(e));
    if (done > 0 && ftruncate(w->fd, (off_t)w->offset) < 0) {
        size_t n = strlen(w->errmsg);
        snprintf(w->errmsg + n, sizeof w->errmsg - n, "; cutting the partial record failed: %s",
                 strerror(errno));
        wal_fail(w, e);
    }
    errno = e;
    return -1;
}

/* The part of an append that touches shared state.  w->mu held. */
static int append_locked(struct wal *w, const uint8_t *hdr, const struct iovec *iov, int iovcnt,
                         uint32_t len, uint64_t *seq)
{
    if (w->failed_errno) {
        errno = w->failed_errno;
        return -1;
    }
    uint64_t reclen = WAL_RECORD_HEADER_BYTES + (uint64_t)len;
    if (w->offset > 0 && w->offset + reclen > w->segment_bytes && segment_rotate(w) < 0)
        return -1;
    struct iovec v[WAL_APPENDV_MAX_IOV + 2];
    uint8_t seghdr[WAL_SEGHDR_BYTES];
    int n = 0;
    if (w->need_header) {
        segment_header_encode(seghdr, w->segment, w->prev_size);
        v[n++] = (struct iovec){seghdr, WAL_SEGHDR_BYTES};
        reclen += WAL_SEGHDR_BYTES;
    }
    v[n++] = (struct iovec){(void *)hdr, WAL_RECORD_HEADER_BYTES};
    for (int i = 0; i < iovcnt; i++)
        v[n++] = iov[i];
    size_t done;
    if (pwritev_all(w->fd, v, n, w->offset, &done) < 0)
        return write_failed(w, errno, done);
    w->offset += reclen;
    w->need_header = false;
    w->st.records_written++;
    w->st.bytes_written += reclen;
    w->st.storage_bytes += reclen;
    if (!w->unsynced_since)
        w->unsynced_since = now_ns();
    if (seq)
        *seq = w->seq + 1;
    w->seq++;
    return 0;
}

int wal_appendv(struct wal *w, uint8_t type, const struct iovec *iov, int iovcnt, uint64_t *seq)
{
    if (type < WAL_TYPE_MIN || type > WAL_TYPE_MAX)
        return wal_reject(w, EINVAL, "record type %u is outside %u..%u", type, WAL_TYPE_MIN,
                          WAL_TYPE_MAX);
    if (iovcnt < 0 || iovcnt > WAL_APPENDV_MAX_IOV)
        return wal_reject(w, EINVAL, "%d payload pieces (at most %d)", iovcnt, WAL_APPENDV_MAX_IOV);
    size_t len = 0;
    for (int i = 0; i < iovcnt && len <= WAL_RECORD_MAX_BYTES; i++)
        len += iov[i].iov_len > WAL_RECORD_MAX_BYTES ? WAL_RECORD_MAX_BYTES + 1 : iov[i].iov_len;
    if (len > WAL_RECORD_MAX_BYTES)
        return wal_reject(w, EMSGSIZE, "record of more than %u bytes", WAL_RECORD_MAX_BYTES);
    uint8_t hdr[WAL_RECORD_HEADER_BYTES];
    record_header_encode(hdr, type, iov, iovcnt, (uint32_t)len);
    pthread_mutex_lock(&w->mu);
    int rc = append_locked(w, hdr, iov, iovcnt, (uint32_t)len, seq);
    pthread_mutex_unlock(&w->mu);
    return rc;
}

int wal_append(struct wal *w, uint8_t type, const void *p, size_t len, uint64_t *seq)
{
    struct iovec iov = {(void *)p, len};
    return wal_appendv(w, type, &iov, 1, seq);
}

/* ---- committing --------------------------------------------------------- */

/* What one commit syncs, taken under w->mu. */
struct commit_snap {
    uint64_t seq; /* appends up to here are covered */
    int fd;       /* current segment; stays open (only commits close fds) */
    uint32_t segment;
    struct wal_retired *retired; /* taken from w: synced and closed here */
    size_t nretired;
    bool dir;
    uint64_t fsyncs;
    char what[96]; /* what failed */
};

/* Takes the snapshot.  Returns whether there is anything to sync. */
static bool commit_snapshot(struct wal *w, struct commit_snap *s)
{
    s->seq = w->seq;
    s->fd = w->fd;
    s->segment = w->segment;
    s->retired = w->retired;
    s->nretired = w->nretired;
    s->dir = w->dir_dirty;
    if (s->seq == w->seq_durable && !s->nretired && !s->dir)
        return false;
    w->retired = NULL;
    w->nretired = w->retired_cap = 0;
    w->dir_dirty = false;
    w->unsynced_since = 0;
    return true;
}

/* The syncs themselves, unlocked.  Returns 0 or the errno of the first
 * failure (described in s->what). */
static int commit_sync(struct wal *w, struct commit_snap *s)
{
    int e = 0;
    for (size_t i = 0; i < s->nretired; i++) {
        if (!e && fdatasync(s->retired[i].fd) < 0) {
            e = errno;
            snprintf(s->what, sizeof s->what, "fdatasync %08" PRIu32, s->retired[i].segment);
        }
        s->fsyncs += !e;
        close(s->retired[i].fd);
    }
    free(s->retired);
    if (!e && fdatasync(s->fd) < 0) {
        e = errno;
        snprintf(s->what, sizeof s->what, "fdatasync %08" PRIu32, s->segment);
    }
    s->fsyncs += !e;
    if (!e && s->dir && fsync(w->dir_fd) < 0) {
        e = errno;
        snprintf(s->what, sizeof s->what, "fsync of the directory");
    }
    s->fsyncs += !e && s->dir;
    return e;
}

/* Records the outcome.  w->mu held. */
static void commit_publish(struct wal *w, const struct commit_snap *s, int e, uint64_t ns)
{
    if (e) {
        wal_error_set(w, "%s/%s: %s", w->dir, s->what, strerror(e));
        wal_fail(w, e);
        return;
    }
    if (s->seq > w->seq_durable)
        w->seq_durable = s->seq;
    w->st.commits++;
    w->st.fsyncs += s->fsyncs;
    w->st.commit_ns_total += ns;
    w->st.commit_ns_last = ns;
    if (ns > w->st.commit_ns_max)
        w->st.commit_ns_max = ns;
}

int wal_commit(struct wal *w, uint64_t *durable_seq)
{
    pthread_mutex_lock(&w->commit_mu);
    pthread_mutex_lock(&w->mu);
    int e = w->failed_errno;
    struct commit_snap s = {0};
    bool needed = !e && commit_snapshot(w, &s);
    pthread_mutex_unlock(&w->mu);
    if (needed) {
        int64_t t0 = now_ns();
        e = commit_sync(w, &s);
        uint64_t ns = (uint64_t)(now_ns() - t0);
        pthread_mutex_lock(&w->mu);
        commit_publish(w, &s, e, ns);
        pthread_mutex_unlock(&w->mu);
    }
    pthread_mutex_lock(&w->mu);
    if (durable_seq)
        *durable_seq = w->seq_durable;
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_unlock(&w->commit_mu);
    if (e) {
        errno = e;
        return -1;
    }
    return 0;
}

int64_t wal_commit_due_ms(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    int64_t since = w->failed_errno ? 0 : w->unsynced_since;
    pthread_mutex_unlock(&w->mu);
    if (!since)
        return -1;
    int64_t left = w->commit_interval_ns - (now_ns() - since);
    return left <= 0 ? 0 : (left + 999999) / 1000000;
}

/* ---- truncation, stats, close ------------------------------------------- */

int wal_rotate(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    int rc = 0;
    if (w->failed_errno) {
        errno = w->failed_errno;
        rc = -1;
    } else if (w->offset > 0) {
        rc = segment_rotate(w);
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

uint32_t wal_segment_current(struct wal *w)
{
    pthread_mutex_lock(&w->mu);
    uint32_t s = w->segment;
    pthread_mutex_unlock(&w->mu);
    return s;
}

int wal_truncate_before(struct wal *w, uint32_t segment)
{
    pthread_mutex_lock(&w->trunc_mu);
    pthread_mutex_lock(&w->mu);
    uint32_t first = w->first_segment;
    uint32_t limit = segment < w->segment ? segment : w->segment;
    pthread_mutex_unlock(&w->mu);
    int e = 0;
    const char *what = "delete";
    uint32_t s;
    for (s = first; s < limit && !e; s++) {
        uint64_t size = 0;
        if (wal_segment_unlink(w, s, &size) < 0) {
            e = errno;
            break;
        }
        pthread_mutex_lock(&w->mu);
        w->first_segment = s + 1;
        w->st.storage_bytes -= size < w->st.storage_bytes ? size : w->st.storage_bytes;
        pthread_mutex_unlock(&w->mu);
    }
    if (!e && first < limit && fsync(w->dir_fd) < 0) {
        e = errno;
        what = "fsync directory after deleting up to";
    }
    pthread_mutex_lock(&w->mu);
    if (e) {
        w->st.truncations_failed++;
        wal_error_set(w, "%s %s/%08" PRIu32 ": %s", what, w->dir, s, strerror(e));
    } else if (first < limit) {
        w->st.truncations++;
    }
    pthread_mutex_unlock(&w->mu);
    pthread_mutex_unlock(&w->trunc_mu);
    errno = e;
    return e ? -1 : 0;
}

void wal_stats_get(struct wal *w, struct wal_stats *st)
{
    pthread_mutex_lock(&w->mu);
    *st = w->st;
    st->seq_written = w->seq;
    st->seq_durable = w->seq_durable;
    st->segment_first = w->first_segment;
    st->segment_current = w->segment;
    st->segment_current_bytes = w->offset;
    st->failed = w->failed_errno != 0;
    pthread_mutex_unlock(&w->mu);
}

void wal_last_error(struct wal *w, char *buf, size_t len)
{
    pthread_mutex_lock(&w->mu);
    snprintf(buf, len, "%s", w->errmsg);
    pthread_mutex_unlock(&w->mu);
}

int wal_close(struct wal *w)
{
    if (!w)
        return 0;
    int rc = wal_commit(w, NULL);
    wal_free(w);
    return rc;
}
