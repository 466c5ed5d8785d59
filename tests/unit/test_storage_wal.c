/* The write-ahead log: framing and CRC32C, segment rotation, torn tails,
 * corruption in older segments, truncation, commit semantics under a
 * concurrent committer, and a kill -9 crash test.
 *
 * The crash test kills a writer child at random moments, and on most rounds
 * also damages everything after the last durable record the way a power
 * loss may, then checks that recovery keeps every durable record, in order
 * and intact, and nothing else but valid records.
 *
 * Every record the tests write is generated from its sequence number n:
 * the payload is n (8 bytes, little endian) followed by rec_len(n) bytes of
 * a stream seeded by n, and the type is rec_type(n).  A replayed record can
 * therefore be checked on its own (is it self-consistent?) and in context
 * (is it the one that should come next?) without keeping copies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage/wal.h"
#include "util/log.h"

/* ---- helpers -------------------------------------------------------------- */

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/vigil-wal-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rm_rf(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

static void seg_path(const char *dir, uint32_t seg, char *buf, size_t len)
{
    snprintf(buf, len, "%s/wal/%08u", dir, seg);
}

static bool seg_exists(const char *dir, uint32_t seg)
{
    char p[512];
    struct stat sb;
    seg_path(dir, seg, p, sizeof p);
    return stat(p, &sb) == 0;
}

static uint8_t *file_read(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)sz + 1);
    assert_int_equal(fread(buf, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *n = (size_t)sz;
    return buf;
}

static void file_write(const char *path, const uint8_t *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    fclose(f);
}

static uint8_t *seg_read(const char *dir, uint32_t seg, size_t *n)
{
    char p[512];
    seg_path(dir, seg, p, sizeof p);
    return file_read(p, n);
}

static void seg_write(const char *dir, uint32_t seg, const uint8_t *p, size_t n)
{
    char path[512];
    seg_path(dir, seg, path, sizeof path);
    file_write(path, p, n);
}

/* Offsets of the records in a segment image (the segment header first). */
static size_t seg_records(const uint8_t *f, size_t n, size_t *offs, size_t max)
{
    size_t k = 0;
    for (size_t pos = 0; pos + WAL_RECORD_HEADER_BYTES <= n && k < max;) {
        uint32_t len = (uint32_t)f[pos] | (uint32_t)f[pos + 1] << 8 | (uint32_t)f[pos + 2] << 16 |
                       (uint32_t)f[pos + 3] << 24;
        offs[k++] = pos;
        pos += WAL_RECORD_HEADER_BYTES + len;
    }
    return k;
}

/* ---- generated records ------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint8_t rec_type(uint64_t n)
{
    return (uint8_t)(WAL_TYPE_MIN + mix(n ^ 0x5a5a) % (WAL_TYPE_MAX - WAL_TYPE_MIN + 1));
}

static size_t rec_len(uint64_t n, size_t maxlen)
{
    return 8 + mix(n) % (maxlen + 1);
}

static void rec_fill(uint64_t n, uint8_t *p, size_t len)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(n >> (8 * i));
    uint64_t s = n;
    for (size_t j = 8; j < len; j++) {
        if ((j - 8) % 8 == 0)
            s = mix(s);
        p[j] = (uint8_t)(s >> (8 * ((j - 8) % 8)));
    }
}

static uint64_t rec_seq(const uint8_t *p)
{
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)p[i] << (8 * i);
    return n;
}

/* Appends generated record n (payload up to maxlen + 8 bytes). */
static void rec_append(struct wal *w, uint64_t n, size_t maxlen)
{
    size_t len = rec_len(n, maxlen);
    uint8_t *buf = malloc(len);
    rec_fill(n, buf, len);
    assert_int_equal(wal_append(w, rec_type(n), buf, len, NULL), 0);
    free(buf);
}

/* Replay callback: records must be self-consistent and numbered next,
 * next + 1, ...  (next == 0: start from whatever comes first). */
struct checker {
    size_t maxlen;
    uint64_t next;
    uint64_t first;
    uint64_t count;
    uint64_t bad;
};

static bool rec_valid(const struct checker *c, uint8_t type, const uint8_t *p, size_t len)
{
    if (len < 8)
        return false;
    uint64_t n = rec_seq(p);
    if (type != rec_type(n) || len != rec_len(n, c->maxlen))
        return false;
    uint8_t *want = malloc(len);
    rec_fill(n, want, len);
    bool ok = memcmp(want, p, len) == 0;
    free(want);
    return ok;
}

static int check_cb(void *ctx, uint8_t type, const uint8_t *p, size_t len)
{
    struct checker *c = ctx;
    if (!rec_valid(c, type, p, len)) {
        c->bad++;
        return 0;
    }
    uint64_t n = rec_seq(p);
    if (c->count == 0) {
        c->first = n;
        if (!c->next)
            c->next = n;
    }
    if (n != c->next)
        c->bad++;
    c->next = n + 1;
    c->count++;
    return 0;
}

static struct wal *wal_open_ok(const char *dir, uint64_t segment_bytes)
{
    struct wal_options o = {.segment_bytes = segment_bytes};
    struct wal *w = NULL;
    char err[256] = "";
    if (wal_open(dir, &o, &w, err, sizeof err) != 0)
        fail_msg("wal_open: %s", err);
    return w;
}

/* Replays the WAL in dir expecting records first..; returns the checker. */
static struct checker replay_check(struct wal *w, uint64_t first, size_t maxlen,
                                   struct wal_replay_stats *st)
{
    struct checker c = {.maxlen = maxlen, .next = first};
    char err[256] = "";
    if (wal_replay(w, check_cb, &c, st, err, sizeof err) != 0)
        fail_msg("wal_replay: %s", err);
    assert_int_equal(c.bad, 0);
    return c;
}

/* ---- CRC32C ----------------------------------------------------------------- */

static void test_crc32c_known_vectors(void **state)
{
    (void)state;
    uint8_t buf[32];
    assert_int_equal(wal_crc32c(0, "123456789", 9), 0xE3069283);
    assert_int_equal(wal_crc32c_portable(0, "123456789", 9), 0xE3069283);
    assert_int_equal(wal_crc32c(0, "", 0), 0);
    /* RFC 3720 (iSCSI) B.4 */
    memset(buf, 0, sizeof buf);
    assert_int_equal(wal_crc32c(0, buf, 32), 0x8A9136AA);
    assert_int_equal(wal_crc32c_portable(0, buf, 32), 0x8A9136AA);
    memset(buf, 0xff, sizeof buf);
    assert_int_equal(wal_crc32c(0, buf, 32), 0x62A8AB43);
    assert_int_equal(wal_crc32c_portable(0, buf, 32), 0x62A8AB43);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)i;
    assert_int_equal(wal_crc32c(0, buf, 32), 0x46DD794E);
    assert_int_equal(wal_crc32c_portable(0, buf, 32), 0x46DD794E);
    for (int i = 0; i < 32; i++)
        buf[i] = (uint8_t)(31 - i);
    assert_int_equal(wal_crc32c(0, buf, 32), 0x113FDB5C);
    assert_int_equal(wal_crc32c_portable(0, buf, 32), 0x113FDB5C);
}

static void test_crc32c_paths_agree(void **state)
{
    (void)state;
    uint8_t buf[1100];
    rec_fill(42, buf, sizeof buf);
    for (size_t off = 0; off < 8; off++) {
        for (size_t n = 0; n + off <= sizeof buf; n += 1 + n / 16) {
            uint32_t hw = wal_crc32c(0, buf + off, n);
            assert_int_equal(hw, wal_crc32c_portable(0, buf + off, n));
            /* incremental over a split at every third of the way */
            uint32_t c = wal_crc32c(0, buf + off, n / 3);
            c = wal_crc32c_portable(c, buf + off + n / 3, n - n / 3);
            assert_int_equal(c, hw);
        }
    }
}

/* ---- round trip and rotation --------------------------------------------------- */

static void test_round_trip_across_rotations(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    const size_t maxlen = 1500;
    struct wal *w = wal_open_ok(dir, 8192);
    assert_int_equal(wal_segment_current(w), 1);
    for (uint64_t n = 1; n <= 3000; n++) {
        if (n % 7 == 0) { /* the gathered form: seq, then the rest in pieces */
            size_t len = rec_len(n, maxlen);
            uint8_t *buf = malloc(len);
            rec_fill(n, buf, len);
            struct iovec iov[3] = {
                {buf, 8}, {buf + 8, (len - 8) / 2}, {buf + 8 + (len - 8) / 2, 0}};
            iov[2].iov_len = len - 8 - iov[1].iov_len;
            uint64_t seq;
            assert_int_equal(wal_appendv(w, rec_type(n), iov, 3, &seq), 0);
            assert_int_equal(seq, n);
            free(buf);
        } else {
            rec_append(w, n, maxlen);
        }
        if (n % 500 == 0)
            assert_int_equal(wal_commit(w, NULL), 0);
    }
    uint32_t last = wal_segment_current(w);
    assert_true(last > 100);
    struct wal_stats ws;
    wal_stats_get(w, &ws);
    assert_int_equal(ws.records_written, 3000);
    assert_int_equal(ws.segment_first, 1);
    assert_int_equal(ws.segment_current, last);
    assert_int_equal(wal_close(w), 0);

    /* every segment stays within the bound (records here are < 8192) */
    uint64_t total = 0;
    for (uint32_t s = 1; s <= last; s++) {
        char p[512];
        struct stat sb;
        seg_path(dir, s, p, sizeof p);
        assert_int_equal(stat(p, &sb), 0);
        assert_true(sb.st_size <= 8192);
        total += (uint64_t)sb.st_size;
    }
    assert_int_equal(total, ws.storage_bytes);
    assert_false(seg_exists(dir, last + 1));

    w = wal_open_ok(dir, 8192);
    struct wal_replay_stats st;
    struct checker c = replay_check(w, 1, maxlen, &st);
    assert_int_equal(c.count, 3000);
    assert_int_equal(st.records, 3000);
    assert_int_equal(st.bytes, total);
    assert_int_equal(st.segments, last);
    assert_int_equal(st.end.segment, last);
    assert_int_equal(st.tail_cut_bytes, 0);
    assert_int_equal(st.corrupt, 0);
    /* appends continue where the log ended */
    for (uint64_t n = 3001; n <= 3500; n++)
        rec_append(w, n, maxlen);
    assert_int_equal(wal_close(w), 0);

    w = wal_open_ok(dir, 8192);
    c = replay_check(w, 1, maxlen, NULL);
    assert_int_equal(c.count, 3500);
    wal_close(w);
    rm_rf(dir);
}

struct lens {
    size_t n;
    size_t len[8];
    uint8_t type[8];
};

static int lens_cb(void *ctx, uint8_t type, const uint8_t *p, size_t len)
{
    struct lens *l = ctx;
    (void)p;
    if (l->n < 8) {
        l->len[l->n] = len;
        l->type[l->n] = type;
    }
    l->n++;
    return 0;
}

static void test_record_larger_than_segment_gets_its_own(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    struct wal *w = wal_open_ok(dir, 4096);
    rec_append(w, 1, 100);
    size_t big = 20000;
    uint8_t *buf = malloc(big);
    rec_fill(2, buf, big);
    assert_int_equal(wal_append(w, 7, buf, big, NULL), 0);
    assert_int_equal(wal_segment_current(w), 2);
    rec_append(w, 3, 100);
    assert_int_equal(wal_segment_current(w), 3);
    assert_int_equal(wal_close(w), 0);

    w = wal_open_ok(dir, 4096);
    struct lens l = {0};
    char err[256];
    struct wal_replay_stats st;
    assert_int_equal(wal_replay(w, lens_cb, &l, &st, err, sizeof err), 0);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.len[0], rec_len(1, 100));
    assert_int_equal(l.len[1], big);
    assert_int_equal(l.type[1], 7);
    assert_int_equal(l.len[2], rec_len(3, 100));
    assert_int_equal(st.segments, 3);
    wal_close(w);
    free(buf);
    rm_rf(dir);
}

static void test_append_limits(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    struct wal *w = wal_open_ok(dir, 0);
    char msg[256];
    uint8_t one = 1;
    errno = 0;
    assert_int_equal(wal_append(w, 0, &one, 1, NULL), -1);
    assert_int_equal(errno, EINVAL);
    wal_last_error(w, msg, sizeof msg);
    assert_non_null(strstr(msg, "record type 0"));
    assert_int_equal(wal_append(w, 255, &one, 1, NULL), -1);
    assert_int_equal(errno, EINVAL);
    /* the length is checked before the payload is touched */
    assert_int_equal(wal_append(w, 1, &one, WAL_RECORD_MAX_BYTES + 1, NULL), -1);
    assert_int_equal(errno, EMSGSIZE);
    struct iovec iov[WAL_APPENDV_MAX_IOV + 1];
    for (int i = 0; i <= WAL_APPENDV_MAX_IOV; i++)
        iov[i] = (struct iovec){&one, 1};
    assert_int_equal(wal_appendv(w, 1, iov, WAL_APPENDV_MAX_IOV + 1, NULL), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(wal_appendv(w, 1, iov, WAL_APPENDV_MAX_IOV, NULL), 0);
    /* an empty payload and the largest allowed one */
    uint64_t seq;
    assert_int_equal(wal_append(w, 2, NULL, 0, &seq), 0);
    assert_int_equal(seq, 2);
    uint8_t *big = malloc(WAL_RECORD_MAX_BYTES);
    memset(big, 0xab, WAL_RECORD_MAX_BYTES);
    assert_int_equal(wal_append(w, 3, big, WAL_RECORD_MAX_BYTES, &seq), 0);
    assert_int_equal(seq, 3);
    assert_int_equal(wal_close(w), 0);
    free(big);

    w = wal_open_ok(dir, 0);
    struct lens l = {0};
    char err[256];
    struct wal_replay_stats st;
    assert_int_equal(wal_replay(w, lens_cb, &l, &st, err, sizeof err), 0);
    assert_int_equal(l.len[0], WAL_APPENDV_MAX_IOV);
    assert_int_equal(l.len[1], 0);
    assert_int_equal(l.len[2], WAL_RECORD_MAX_BYTES);
    assert_int_equal(st.records, 3);
    assert_int_equal(st.segments, 1);
    wal_close(w);
    rm_rf(dir);
}

/* A write that fails half way (here: the file size limit) is cut back off
 * the file, and the next record goes where it should have gone. */
static void test_failed_write_is_cut_back(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    struct wal *w = wal_open_ok(dir, 0);
    for (uint64_t n = 1; n <= 5; n++)
        rec_append(w, n, 100);
    struct wal_stats ws;
    wal_stats_get(w, &ws);
    uint64_t good = ws.segment_current_bytes;

    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = good + 100; /* the next record crosses it */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    uint8_t big[1000];
    rec_fill(6, big, sizeof big);
    errno = 0;
    int rc = wal_append(w, 1, big, sizeof big, NULL);
    int e = errno;
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rc, -1);
    assert_int_equal(e, EFBIG);

    char msg[256], p[512];
    wal_last_error(w, msg, sizeof msg);
    assert_non_null(strstr(msg, "write"));
    assert_non_null(strstr(msg, "File too large"));
    wal_stats_get(w, &ws);
    assert_int_equal(ws.writes_failed, 1);
    assert_int_equal(ws.failed, 0);
    assert_int_equal(ws.seq_written, 5);
    struct stat sb;
    seg_path(dir, 1, p, sizeof p);
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal((uint64_t)sb.st_size, good);

    for (uint64_t n = 6; n <= 8; n++)
        rec_append(w, n, 100);
    assert_int_equal(wal_close(w), 0);
    w = wal_open_ok(dir, 0);
    struct wal_replay_stats st;
    struct checker c = replay_check(w, 1, 100, &st);
    assert_int_equal(c.count, 8);
    assert_int_equal(st.tail_cut_bytes, 0);
    wal_close(w);
    rm_rf(dir);
}

/* ---- torn tails --------------------------------------------------------------- */

/* Writes records 1..n into a fresh WAL and returns the image of segment 1
 * and the offset where its last record starts. */
static uint8_t *torn_setup(const char *dir, uint64_t n, size_t maxlen, size_t *size,
                           size_t *last_off)
{
    struct wal *w = wal_open_ok(dir, 0);
    for (uint64_t i = 1; i <= n; i++)
        rec_append(w, i, maxlen);
    assert_int_equal(wal_close(w), 0);
    uint8_t *img = seg_read(dir, 1, size);
    size_t offs[64];
    size_t k = seg_records(img, *size, offs, 64);
    assert_int_equal(k, n + 1);
    *last_off = offs[n];
    return img;
}

/* Opens the damaged log: it must hold exactly records 1..want, and after
 * appending want + 1 and reopening, 1..want + 1. */
static void torn_verify(const char *dir, uint64_t want, size_t maxlen, uint64_t cut_at,
                        uint64_t cut_bytes)
{
    struct wal *w = wal_open_ok(dir, 0);
    struct wal_replay_stats st;
    struct checker c = replay_check(w, 1, maxlen, &st);
    assert_int_equal(c.count, want);
    assert_int_equal(st.corrupt, 0);
    assert_int_equal(st.tail_cut_bytes, cut_bytes);
    if (cut_bytes)
        assert_int_equal(st.tail_cut_at.offset, cut_at);
    assert_int_equal(st.end.offset, cut_at);
    rec_append(w, want + 1, maxlen);
    assert_int_equal(wal_close(w), 0);
    w = wal_open_ok(dir, 0);
    c = replay_check(w, 1, maxlen, &st);
    assert_int_equal(c.count, want + 1);
    assert_int_equal(st.tail_cut_bytes, 0);
    wal_close(w);
}

static void test_torn_tail_every_length(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    size_t size, last;
    uint8_t *img = torn_setup(dir, 6, 120, &size, &last);
    for (size_t cut = last; cut < size; cut++) {
        seg_write(dir, 1, img, cut);
        torn_verify(dir, 5, 120, last, cut - last);
    }
    free(img);
    rm_rf(dir);
}

static void test_torn_tail_bit_flips(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    size_t size, last;
    uint8_t *img = torn_setup(dir, 6, 120, &size, &last);
    for (size_t pos = last; pos < size; pos++) {
        img[pos] ^= (uint8_t)(1u << (pos % 8));
        seg_write(dir, 1, img, size);
        img[pos] ^= (uint8_t)(1u << (pos % 8));
        torn_verify(dir, 5, 120, last, size - last);
    }
    free(img);
    rm_rf(dir);
}

static void test_zeroed_and_garbage_tails(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    size_t size, last;
    uint8_t *img = torn_setup(dir, 6, 120, &size, &last);
    /* power loss after the size was updated but before the data hit the disk */
    uint8_t *ext = calloc(1, size + 4096);
    memcpy(ext, img, size);
    seg_write(dir, 1, ext, size + 4096);
    torn_verify(dir, 6, 120, size, 4096);
    /* damage to an earlier record of the newest segment cuts there */
    size_t offs[16];
    size_t k = seg_records(img, size, offs, 16);
    assert_int_equal(k, 7);
    memcpy(ext, img, size);
    ext[offs[3] + 12] ^= 0x40; /* payload of record 3 */
    seg_write(dir, 1, ext, size);
    torn_verify(dir, 2, 120, offs[3], size - offs[3]);
    /* a segment whose header itself is torn is emptied and restarted */
    seg_write(dir, 1, img, 5);
    torn_verify(dir, 0, 120, 0, 5);
    free(ext);
    free(img);
    rm_rf(dir);
}

/* ---- corruption in older segments --------------------------------------------------- */

/* Writes records 1..n into a WAL of small segments; returns the last segment. */
static uint32_t multi_setup(const char *dir, uint64_t n, size_t maxlen, uint64_t segment_bytes)
{
    struct wal *w = wal_open_ok(dir, segment_bytes);
    for (uint64_t i = 1; i <= n; i++)
        rec_append(w, i, maxlen);
    uint32_t last = wal_segment_current(w);
    assert_int_equal(wal_close(w), 0);
    return last;
}

/* Counts the records (not segment headers) in segments first..last. */
static uint64_t records_in(const char *dir, uint32_t first, uint32_t last)
{
    uint64_t n = 0;
    for (uint32_t s = first; s <= last; s++) {
        size_t size, offs[4096];
        uint8_t *img = seg_read(dir, s, &size);
        n += seg_records(img, size, offs, 4096) - 1;
        free(img);
    }
    return n;
}

static void test_corruption_in_older_segment(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    const size_t maxlen = 400;
    uint32_t last = multi_setup(dir, 80, maxlen, 4096);
    assert_true(last >= 4);
    uint64_t before = records_in(dir, 1, 1);
    size_t size, offs[256];
    uint8_t *img = seg_read(dir, 2, &size);
    size_t k = seg_records(img, size, offs, 256);
    assert_true(k >= 4);
    img[offs[3] + WAL_RECORD_HEADER_BYTES + 3] ^= 0x01; /* record 3 of segment 2 */
    seg_write(dir, 2, img, size);
    uint64_t later = 0;
    for (uint32_t s = 3; s <= last; s++) {
        size_t n;
        free(seg_read(dir, s, &n));
        later += n;
    }

    char logpath[512];
    snprintf(logpath, sizeof logpath, "%s/log", dir);
    int lfd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(lfd >= 0);
    struct logger *lg = logger_new(lfd, LOG_INFO, LOG_FORMAT_LOGFMT);
    struct wal_options o = {.segment_bytes = 4096, .log = lg};
    struct wal *w = NULL;
    char err[256];
    assert_int_equal(wal_open(dir, &o, &w, err, sizeof err), 0);
    struct wal_replay_stats st;
    struct checker c = replay_check(w, 1, maxlen, &st);
    assert_int_equal(c.count, before + 2);
    assert_int_equal(st.corrupt, 1);
    assert_int_equal(st.corrupt_at.segment, 2);
    assert_int_equal(st.corrupt_at.offset, offs[3]);
    assert_non_null(strstr(st.corrupt_reason, "crc mismatch"));
    assert_int_equal(st.dropped_bytes, size - offs[3] + later);
    assert_int_equal(st.end.segment, 2);
    assert_int_equal(st.end.offset, offs[3]);
    assert_true(seg_exists(dir, 2));
    assert_false(seg_exists(dir, 3));
    assert_int_equal(wal_segment_current(w), 2);

    /* the log says where and why */
    size_t loglen;
    char *log = (char *)file_read(logpath, &loglen);
    log[loglen] = '\0';
    char want[64];
    snprintf(want, sizeof want, "segment=00000002 offset=%zu", offs[3]);
    assert_non_null(strstr(log, want));
    assert_non_null(strstr(log, "Corrupt WAL"));
    free(log);

    /* appends continue after the last good record */
    for (uint64_t n = c.next; n < c.next + 100; n++)
        rec_append(w, n, maxlen);
    assert_int_equal(wal_close(w), 0);
    w = wal_open_ok(dir, 4096);
    struct checker c2 = replay_check(w, 1, maxlen, &st);
    assert_int_equal(c2.count, c.count + 100);
    assert_int_equal(st.corrupt, 0);
    wal_close(w);
    logger_free(lg);
    close(lfd);
    free(img);
    rm_rf(dir);
}

static void test_lost_tail_of_older_segment(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    const size_t maxlen = 400;
    uint32_t last = multi_setup(dir, 80, maxlen, 4096);
    assert_true(last >= 4);
    /* segment 2 loses its last record cleanly, at a record boundary, while
     * segment 3 kept its records: a hole that only the header can reveal */
    size_t size, offs[256];
    uint8_t *img = seg_read(dir, 2, &size);
    size_t k = seg_records(img, size, offs, 256);
    seg_write(dir, 2, img, offs[k - 1]);
    uint64_t want = records_in(dir, 1, 2);

    struct wal *w = wal_open_ok(dir, 4096);
    struct wal_replay_stats st;
    struct checker c = replay_check(w, 1, maxlen, &st);
    assert_int_equal(c.count, want);
    assert_int_equal(st.corrupt, 1);
    assert_int_equal(st.corrupt_at.segment, 3);
    assert_int_equal(st.corrupt_at.offset, 0);
    assert_non_null(strstr(st.corrupt_reason, "tail was lost"));
    assert_false(seg_exists(dir, 4));
    for (uint64_t n = c.next; n < c.next + 50; n++)
        rec_append(w, n, maxlen);
    assert_int_equal(wal_close(w), 0);
    w = wal_open_ok(dir, 4096);
    struct checker c2 = replay_check(w, 1, maxlen, &st);
    assert_int_equal(c2.count, want + 50);
    assert_int_equal(st.corrupt, 0);
    wal_close(w);
    free(img);
    rm_rf(dir);
}

static void test_gap_between_segments(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    const size_t maxlen = 400;
    uint32_t last = multi_setup(dir, 80, maxlen, 4096);
    assert_true(last >= 5);
    uint64_t want = records_in(dir, 1, 2);
    char p[512];
    seg_path(dir, 3, p, sizeof p);
    assert_int_equal(unlink(p), 0);

    struct wal *w = wal_open_ok(dir, 4096);
    assert_false(seg_exists(dir, 4));
    assert_false(seg_exists(dir, last));
    assert_int_equal(wal_segment_current(w), 2);
    struct wal_replay_stats st;
    struct checker c = replay_check(w, 1, maxlen, &st);
    assert_int_equal(c.count, want);
    assert_int_equal(st.corrupt, 1);
    assert_int_equal(st.corrupt_at.segment, 3);
    assert_non_null(strstr(st.corrupt_reason, "missing"));
    for (uint64_t n = c.next; n < c.next + 50; n++)
        rec_append(w, n, maxlen);
    assert_int_equal(wal_close(w), 0);
    w = wal_open_ok(dir, 4096);
    struct checker c2 = replay_check(w, 1, maxlen, NULL);
    assert_int_equal(c2.count, want + 50);
    wal_close(w);
    rm_rf(dir);
}

static void test_unknown_version_is_refused_untouched(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    multi_setup(dir, 3, 100, 0);
    size_t size;
    uint8_t *img = seg_read(dir, 1, &size);
    img[WAL_RECORD_HEADER_BYTES + 4] = 2; /* version 2, with a valid CRC */
    uint32_t crc = wal_crc32c(0, img, 4);
    crc = wal_crc32c(crc, img + 8, 1);
    crc = wal_crc32c(crc, img + WAL_RECORD_HEADER_BYTES, 20);
    for (int i = 0; i < 4; i++)
        img[4 + i] = (uint8_t)(crc >> (8 * i));
    seg_write(dir, 1, img, size);
    struct wal *w = NULL;
    char err[256] = "";
    assert_int_equal(wal_open(dir, NULL, &w, err, sizeof err), -1);
    assert_non_null(strstr(err, "unsupported WAL format version 2"));
    size_t size2;
    uint8_t *img2 = seg_read(dir, 1, &size2);
    assert_int_equal(size2, size);
    free(img2);
    free(img);
    rm_rf(dir);
}

/* ---- truncation ----------------------------------------------------------------- */

static void test_truncate_before(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    const size_t maxlen = 400;
    uint32_t last = multi_setup(dir, 100, maxlen, 4096);
    assert_true(last >= 6);
    uint64_t dropped = records_in(dir, 1, 3);
    struct wal *w = wal_open_ok(dir, 4096);
    assert_int_equal(wal_truncate_before(w, 4), 0);
    for (uint32_t s = 1; s < 4; s++)
        assert_false(seg_exists(dir, s));
    assert_true(seg_exists(dir, 4));
    struct wal_stats ws;
    wal_stats_get(w, &ws);
    assert_int_equal(ws.segment_first, 4);
    assert_int_equal(ws.truncations, 1);
    assert_int_equal(wal_truncate_before(w, 2), 0); /* nothing left below 4 */
    wal_close(w);

    /* missing leading segments are fine */
    w = wal_open_ok(dir, 4096);
    struct wal_replay_stats st;
    struct checker c = replay_check(w, dropped + 1, maxlen, &st);
    assert_int_equal(c.count, 100 - dropped);
    assert_int_equal(st.corrupt, 0);
    assert_int_equal(st.segments, last - 3);
    /* the current segment is never deleted */
    assert_int_equal(wal_truncate_before(w, last + 10), 0);
    assert_true(seg_exists(dir, last));
    assert_false(seg_exists(dir, last - 1));
    for (uint64_t n = 101; n <= 120; n++)
        rec_append(w, n, maxlen);
    assert_int_equal(wal_close(w), 0);
    w = wal_open_ok(dir, 4096);
    c = replay_check(w, 0, maxlen, NULL);
    assert_int_equal(c.next, 121);
    wal_stats_get(w, &ws);
    assert_int_equal(ws.segment_first, last);
    wal_close(w);
    rm_rf(dir);
}

/* ---- commit semantics --------------------------------------------------------------- */

static void test_commit_and_due(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    struct wal_options o = {.commit_interval_ms = 20};
    struct wal *w = NULL;
    char err[256];
    assert_int_equal(wal_open(dir, &o, &w, err, sizeof err), 0);
    assert_int_equal(wal_commit_due_ms(w), -1);
    uint64_t seq, durable = 99;
    assert_int_equal(wal_append(w, 1, "a", 1, &seq), 0);
    assert_int_equal(seq, 1);
    int64_t due = wal_commit_due_ms(w);
    assert_true(due > 0 && due <= 20);
    struct timespec ts = {0, 25 * 1000000};
    nanosleep(&ts, NULL);
    assert_int_equal(wal_commit_due_ms(w), 0);
    assert_int_equal(wal_commit(w, &durable), 0);
    assert_int_equal(durable, 1);
    assert_int_equal(wal_commit_due_ms(w), -1);
    struct wal_stats a, b;
    wal_stats_get(w, &a);
    assert_true(a.fsyncs >= 2); /* the segment and, new, its directory */
    assert_int_equal(a.commits, 1);
    assert_int_equal(a.seq_durable, 1);
    /* nothing new: no system call */
    assert_int_equal(wal_commit(w, &durable), 0);
    wal_stats_get(w, &b);
    assert_int_equal(b.fsyncs, a.fsyncs);
    assert_int_equal(durable, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(wal_append(w, 2, "bc", 2, &seq), 0);
    assert_int_equal(wal_commit(w, &durable), 0);
    assert_int_equal(durable, 4);
    wal_stats_get(w, &b);
    assert_int_equal(b.fsyncs, a.fsyncs + 1);
    assert_int_equal(b.records_written, 4);
    assert_int_equal(b.bytes_written, 29 + 10 + 3 * 11);
    assert_int_equal(b.storage_bytes, b.bytes_written);
    assert_int_equal(wal_close(w), 0);
    rm_rf(dir);
}

static int stop_at_3(void *ctx, uint8_t type, const uint8_t *p, size_t len)
{
    (void)type, (void)p, (void)len;
    return ++*(int *)ctx == 3 ? 7 : 0;
}

static void test_replay_rules(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    multi_setup(dir, 10, 100, 0);
    struct wal *w = wal_open_ok(dir, 0);
    /* a callback can stop the replay; nothing is cut */
    char err[256] = "";
    int calls = 0;
    assert_int_equal(wal_replay(w, stop_at_3, &calls, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "stopped by its callback"));
    struct checker c = replay_check(w, 1, 100, NULL);
    assert_int_equal(c.count, 10);
    /* replay after an append is refused */
    rec_append(w, 11, 100);
    assert_int_equal(wal_replay(w, NULL, NULL, NULL, err, sizeof err), -1);
    assert_non_null(strstr(err, "before the first append"));
    wal_close(w);
    /* the directory must exist */
    char missing[600];
    snprintf(missing, sizeof missing, "%s/nope", dir);
    assert_int_equal(wal_open(missing, NULL, &w, err, sizeof err), -1);
    assert_non_null(strstr(err, "No such file or directory"));
    rm_rf(dir);
}

/* A committer thread races a writer that keeps rotating segments. */
struct committer {
    struct wal *w;
    atomic_int stop;
    uint64_t commits, regressions, ahead;
};

static void *committer_run(void *arg)
{
    struct committer *c = arg;
    uint64_t last = 0;
    while (!c->stop) {
        struct wal_stats before;
        wal_stats_get(c->w, &before);
        uint64_t d;
        if (wal_commit(c->w, &d) != 0)
            break;
        struct wal_stats after;
        wal_stats_get(c->w, &after);
        c->regressions += d < last;
        c->ahead += d > after.seq_written || d < before.seq_written;
        last = d;
        c->commits++;
    }
    return NULL;
}

static void test_commit_concurrent_with_appends(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    const size_t maxlen = 2000;
    struct wal *w = wal_open_ok(dir, 64 << 10);
    struct committer c = {.w = w};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, committer_run, &c), 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t n = 1; n <= 20000; n++)
        rec_append(w, n, maxlen);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    c.stop = 1;
    pthread_join(t, NULL);
    struct wal_stats ws;
    wal_stats_get(w, &ws);
    print_message("  20000 appends (avg %zu B) in %.1f ms while %llu commits ran "
                  "(avg commit %.2f ms, max %.2f ms)\n",
                  maxlen / 2 + 8,
                  (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6,
                  (unsigned long long)c.commits,
                  ws.commits ? (double)ws.commit_ns_total / (double)ws.commits / 1e6 : 0.0,
                  (double)ws.commit_ns_max / 1e6);
    assert_true(c.commits > 0);
    assert_int_equal(c.regressions, 0);
    assert_int_equal(c.ahead, 0);
    assert_int_equal(wal_close(w), 0);
    w = wal_open_ok(dir, 64 << 10);
    struct checker ck = replay_check(w, 1, maxlen, NULL);
    assert_int_equal(ck.count, 20000);
    wal_close(w);
    rm_rf(dir);
}

/* ---- the crash test -------------------------------------------------------------------- */

#ifndef CRASH_ROUNDS
#define CRASH_ROUNDS 24
#endif
#define CRASH_SEGMENT (1u << 20)
#define CRASH_MAXLEN  6000

struct crash_child {
    struct wal *w;
    int fd;        /* pipe to the parent */
    uint64_t base; /* records 1..base came before this process */
};

/* Every ~50 ms: commit, then tell the parent the highest durable record. */
static void *crash_committer(void *arg)
{
    struct crash_child *cc = arg;
    for (;;) {
        struct timespec ts = {0, 50 * 1000000};
        nanosleep(&ts, NULL);
        uint64_t d;
        if (wal_commit(cc->w, &d) != 0)
            _exit(5);
        uint64_t told = cc->base + d;
        if (write(cc->fd, &told, sizeof told) != sizeof told)
            _exit(6);
    }
    return NULL;
}

/* The child: reopen, then append as fast as possible until killed. */
__attribute__((noreturn)) static void crash_child_run(const char *dir, int fd, uint64_t base)
{
    struct wal_options o = {.segment_bytes = CRASH_SEGMENT};
    struct crash_child cc = {.fd = fd, .base = base};
    char err[256];
    if (wal_open(dir, &o, &cc.w, err, sizeof err) != 0)
        _exit(2);
    pthread_t t;
    if (pthread_create(&t, NULL, crash_committer, &cc) != 0)
        _exit(3);
    uint8_t *buf = malloc(CRASH_MAXLEN + 8);
    for (uint64_t i = 1;; i++) {
        uint64_t n = base + i, seq;
        size_t len = rec_len(n, CRASH_MAXLEN);
        rec_fill(n, buf, len);
        if (wal_append(cc.w, rec_type(n), buf, len, &seq) != 0 || seq != i)
            _exit(4);
    }
}

static uint64_t rand_next(uint64_t *s)
{
    *s = mix(*s);
    return *s;
}

/* Kills a child after 10..200 ms; returns the last durable record it told. */
static uint64_t crash_round(const char *dir, uint64_t base, uint64_t *rng)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        crash_child_run(dir, p[1], base);
    }
    close(p[1]);
    long ms = 10 + (long)(rand_next(rng) % 191);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    assert_int_equal(kill(pid, SIGKILL), 0);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        fail_msg("crash child exited on its own (status %d)", status);
    uint64_t told = 0, v;
    while (read(p[0], &v, sizeof v) == sizeof v)
        told = v;
    close(p[0]);
    return told;
}

static uint32_t le32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Finds where record n ends: its segment (0 if absent) and end offset. */
static uint32_t record_end(const char *dir, uint32_t first, uint32_t last, uint64_t n, size_t *end)
{
    uint32_t found = 0;
    for (uint32_t s = first; s <= last && !found; s++) {
        size_t size;
        uint8_t *img = seg_read(dir, s, &size);
        size_t *offs = malloc((size / WAL_RECORD_HEADER_BYTES + 1) * sizeof *offs);
        size_t k = seg_records(img, size, offs, size / WAL_RECORD_HEADER_BYTES + 1);
        for (size_t i = 1; i < k; i++) {
            size_t o = offs[i], len = le32_at(img + o);
            if (len >= 8 && o + WAL_RECORD_HEADER_BYTES + len <= size &&
                rec_seq(img + o + WAL_RECORD_HEADER_BYTES) == n) {
                found = s;
                *end = o + WAL_RECORD_HEADER_BYTES + len;
            }
        }
        free(offs);
        free(img);
    }
    return found;
}

enum damage { DAMAGE_NONE, DAMAGE_CUT, DAMAGE_HOLE, DAMAGE_ZEROS, DAMAGE_GARBAGE, DAMAGE_KINDS };

/* Simulates a power loss on top of the kill: nothing after record durable
 * was synced, so damage that part the ways a disk may (cut it off, lose an
 * older segment's tail but keep later segments, zero it, scribble on it). */
static enum damage crash_damage(const char *dir, uint32_t first, uint64_t durable, uint64_t *rng)
{
    enum damage kind = (enum damage)(rand_next(rng) % DAMAGE_KINDS);
    uint32_t last = first;
    while (seg_exists(dir, last + 1))
        last++;
    size_t de;
    uint32_t ds = kind ? record_end(dir, first, last, durable, &de) : 0;
    if (!ds)
        return DAMAGE_NONE;
    uint32_t s = ds + (uint32_t)(rand_next(rng) % (last - ds + 1));
    size_t size, lo = s == ds ? de : 0;
    uint8_t *img = seg_read(dir, s, &size);
    size_t off = lo + (size_t)(rand_next(rng) % (size - lo + 1));
    if (kind == DAMAGE_CUT || kind == DAMAGE_HOLE) {
        seg_write(dir, s, img, off);
        for (uint32_t t = last; kind == DAMAGE_CUT && t > s; t--) {
            char p[512];
            seg_path(dir, t, p, sizeof p);
            assert_int_equal(unlink(p), 0);
        }
    } else {
        size_t n = 1 + (size_t)(rand_next(rng) % 8192);
        n = off + n > size ? size - off : n;
        for (size_t i = 0; i < n; i++)
            img[off + i] = kind == DAMAGE_ZEROS ? 0 : (uint8_t)rand_next(rng);
        seg_write(dir, s, img, size);
    }
    free(img);
    return kind;
}

static void test_crash_kill9(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
    uint64_t rng = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
    print_message("  crash test seed %llu\n", (unsigned long long)rng);
    uint64_t first = 1, last = 0, told_max = 0, torn = 0, segments = 0, damaged = 0, corrupt = 0;
    uint32_t first_seg = 1;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        uint64_t told = crash_round(dir, last, &rng);
        told_max = told > told_max ? told : told_max;
        /* what the parent recovered last round was synced by its wal_open */
        uint64_t durable = told > last ? told : last;
        enum damage d = crash_damage(dir, first_seg, durable, &rng);
        damaged += d != DAMAGE_NONE;
        struct wal *w = wal_open_ok(dir, CRASH_SEGMENT);
        struct wal_replay_stats st;
        struct checker c = replay_check(w, first, CRASH_MAXLEN, &st);
        if (c.count && c.first != first)
            fail_msg("round %d: log starts at %llu, want %llu", round, (unsigned long long)c.first,
                     (unsigned long long)first);
        uint64_t got = c.count ? c.next - 1 : first - 1;
        if (got < durable)
            fail_msg("round %d (damage %d): recovered up to %llu, but %llu was durable", round, d,
                     (unsigned long long)got, (unsigned long long)durable);
        if (d == DAMAGE_NONE)
            assert_int_equal(st.corrupt, 0);
        torn += st.tail_cut_bytes > 0;
        corrupt += st.corrupt;
        segments += st.segments;
        last = got;
        /* keep the log short: drop all but the current segment, and learn
         * the first record left */
        first_seg = wal_segment_current(w);
        assert_int_equal(wal_truncate_before(w, first_seg), 0);
        c = replay_check(w, 0, CRASH_MAXLEN, NULL);
        first = c.count ? c.first : last + 1;
        assert_int_equal(c.count ? c.next - 1 : last, last);
        wal_close(w);
    }
    print_message("  %d kill -9 rounds (%llu with simulated power-loss damage): %llu records, "
                  "last durable told %llu, %llu torn tails cut, %llu corruptions repaired, "
                  "%llu segments replayed\n",
                  CRASH_ROUNDS, (unsigned long long)damaged, (unsigned long long)last,
                  (unsigned long long)told_max, (unsigned long long)torn,
                  (unsigned long long)corrupt, (unsigned long long)segments);
    assert_true(told_max > 0);
    rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_known_vectors),
        cmocka_unit_test(test_crc32c_paths_agree),
        cmocka_unit_test(test_round_trip_across_rotations),
        cmocka_unit_test(test_record_larger_than_segment_gets_its_own),
        cmocka_unit_test(test_append_limits),
        cmocka_unit_test(test_failed_write_is_cut_back),
        cmocka_unit_test(test_torn_tail_every_length),
        cmocka_unit_test(test_torn_tail_bit_flips),
        cmocka_unit_test(test_zeroed_and_garbage_tails),
        cmocka_unit_test(test_corruption_in_older_segment),
        cmocka_unit_test(test_lost_tail_of_older_segment),
        cmocka_unit_test(test_gap_between_segments),
        cmocka_unit_test(test_unknown_version_is_refused_untouched),
        cmocka_unit_test(test_truncate_before),
        cmocka_unit_test(test_commit_and_due),
        cmocka_unit_test(test_replay_rules),
        cmocka_unit_test(test_commit_concurrent_with_appends),
        cmocka_unit_test(test_crash_kill9),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
