/* The TSDB as its callers see it: open/lock, append and select, ordering
 * rules, bit-exact values, batch atomicity under concurrent readers,
 * recovery from the WAL and from flushed blocks, and kill -9. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage/tsdb.h"
/* The maintenance hooks (tsdb_maintain_now, tsdb_flush_now,
 * tsdb_flusher_pause) and the LMDB layout, to count blocks. */
#include "storage/tsdb_internal.h"
#include "util/metrics.h"

#include "storage_testutil.h"

static struct tsdb *open_db(const char *dir, uint16_t chunk_samples)
{
    struct tsdb_options o = {.chunk_samples = chunk_samples, .commit_interval_ms = 20};
    struct tsdb *db = NULL;
    char err[256] = "";
    if (tsdb_open(dir, &o, &db, err, sizeof err) < 0)
        fail_msg("tsdb_open: %s", err);
    return db;
}

/* A series {__name__="m", i="<i>"}. */
struct series_name {
    char ibuf[16];
    struct label l[2];
    struct labels ls;
};

static void series_name_set(struct series_name *s, const char *metric, int i)
{
    snprintf(s->ibuf, sizeof s->ibuf, "%d", i);
    s->l[0] = (struct label){"__name__", metric};
    s->l[1] = (struct label){"i", s->ibuf};
    s->ls = (struct labels){s->l, 2};
}

/* Counts samples of metric m and checks they are 0..n-1 at t = k*step. */
static size_t count_samples(struct tsdb *db, const char *metric, int64_t mint, int64_t maxt,
                            size_t *nseries)
{
    struct label_matcher m = {LABEL_MATCH_EQ, "__name__", metric};
    struct tsdb_series_set *set;
    char err[256];
    assert_int_equal(tsdb_select(db, &m, 1, mint, maxt, &set, err, sizeof err), 0);
    const struct labels *ls;
    const int64_t *ts;
    const double *vs;
    size_t n, total = 0, series = 0;
    while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
        for (size_t i = 1; i < n; i++)
            assert_true(ts[i] > ts[i - 1]);
        total += n;
        series++;
    }
    tsdb_series_set_free(set);
    if (nseries)
        *nseries = series;
    return total;
}

static void test_open_lock(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb *a = open_db(dir, 0), *b = NULL;
    char err[256] = "";
    assert_int_equal(tsdb_open(dir, NULL, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "held by another process"));
    tsdb_close(a);
    b = open_db(dir, 0);
    tsdb_close(b);
    tu_rm_rf(dir);
}

static void test_append_select_roundtrip(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb *db = open_db(dir, 0);
    struct tsdb_appender *a = tsdb_appender_new(db);
    uint64_t refs[10] = {0};
    for (int k = 0; k < 50; k++) {
        for (int i = 0; i < 10; i++) {
            struct series_name s;
            series_name_set(&s, "up", i);
            assert_int_equal(tsdb_append(a, &refs[i], refs[i] ? NULL : &s.ls, k * 15000, k + i), 0);
        }
        struct tsdb_commit_stats st;
        assert_int_equal(tsdb_appender_commit(a, &st), 0);
        assert_int_equal(st.appended, 10);
        assert_int_equal(st.series_created, k == 0 ? 10 : 0);
    }
    size_t nseries;
    assert_int_equal(count_samples(db, "up", 0, INT64_MAX, &nseries), 500);
    assert_int_equal(nseries, 10);
    assert_int_equal(count_samples(db, "up", 15000 * 10, 15000 * 19, NULL), 100);
    assert_int_equal(count_samples(db, "nope", 0, INT64_MAX, NULL), 0);
    tsdb_appender_free(a);
    tsdb_close(db);
    tu_rm_rf(dir);
}

static void test_ordering_rules(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb *db = open_db(dir, 0);
    struct tsdb_appender *a = tsdb_appender_new(db);
    struct series_name s;
    series_name_set(&s, "m", 1);
    uint64_t ref = 0;
    struct tsdb_commit_stats st;
    tsdb_append(a, &ref, &s.ls, 1000, 1);
    tsdb_append(a, &ref, &s.ls, 2000, 2);
    assert_int_equal(tsdb_appender_commit(a, &st), 0);
    tsdb_append(a, &ref, NULL, 1500, 9); /* out of order */
    tsdb_append(a, &ref, NULL, 2000, 2); /* same value: no-op */
    tsdb_append(a, &ref, NULL, 2000, 3); /* duplicate */
    tsdb_append(a, &ref, NULL, 3000, 3);
    assert_int_equal(tsdb_appender_commit(a, &st), 0);
    assert_int_equal(st.appended, 1);
    assert_int_equal(st.out_of_order, 1);
    assert_int_equal(st.duplicate, 1);
    assert_int_equal(count_samples(db, "m", 0, INT64_MAX, NULL), 3);
    /* Invalid label sets are refused with a reason. */
    struct label bad[2] = {{"b", "1"}, {"a", "2"}};
    struct labels bls = {bad, 2};
    uint64_t r2 = 0;
    assert_int_equal(tsdb_append(a, &r2, &bls, 1, 1), -1);
    assert_non_null(strstr(tsdb_appender_error(a), "sorted"));
    tsdb_appender_free(a);
    tsdb_close(db);
    tu_rm_rf(dir);
}

static void test_values_bit_exact_and_persisted(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    uint64_t bits[] = {0x7ff0000000000002ULL, 0x7ff8000000000001ULL, 0x7ff8000000000000ULL,
                       0x8000000000000000ULL, 0x7ff0000000000000ULL, 0xfff0000000000000ULL,
                       0x0000000000000001ULL, 0x3fb999999999999aULL, 0x43e0000000000000ULL};
    size_t nb = sizeof bits / sizeof bits[0];
    /* chunk_samples 4 makes the flusher write blocks during the test. */
    struct tsdb *db = open_db(dir, 4);
    struct tsdb_appender *a = tsdb_appender_new(db);
    struct series_name s;
    series_name_set(&s, "bits", 0);
    uint64_t ref = 0;
    for (size_t i = 0; i < nb * 3; i++) {
        double v;
        memcpy(&v, &bits[i % nb], 8);
        tsdb_append(a, &ref, &s.ls, (int64_t)i * 1000, v);
        assert_int_equal(tsdb_appender_commit(a, NULL), 0);
    }
    tsdb_appender_free(a);
    for (int round = 0; round < 3; round++) {
        if (round) { /* after a flush cycle, then after a restart */
            if (round == 1)
                sleep(2);
            tsdb_close(db);
            db = open_db(dir, 4);
        }
        struct label_matcher m = {LABEL_MATCH_EQ, "__name__", "bits"};
        struct tsdb_series_set *set;
        char err[256];
        assert_int_equal(tsdb_select(db, &m, 1, INT64_MIN, INT64_MAX, &set, err, sizeof err), 0);
        const struct labels *ls;
        const int64_t *ts;
        const double *vs;
        size_t n;
        assert_true(tsdb_series_set_next(set, &ls, &ts, &vs, &n));
        assert_int_equal(n, nb * 3);
        assert_int_equal(ls->n, 2);
        assert_string_equal(ls->v[0].name, "__name__");
        for (size_t i = 0; i < n; i++) {
            uint64_t got;
            memcpy(&got, &vs[i], 8);
            assert_int_equal(ts[i], (int64_t)i * 1000);
            assert_int_equal(got, bits[i % nb]);
        }
        assert_false(tsdb_series_set_next(set, &ls, &ts, &vs, &n));
        tsdb_series_set_free(set);
    }
    tsdb_close(db);
    tu_rm_rf(dir);
}

/* Readers must see every batch whole: each batch writes one sample to each
 * of 50 series at the same timestamp, so every snapshot must hold the same
 * number of samples in every series. */
struct atomic_ctx {
    struct tsdb *db;
    volatile int stop;
    int violations, snapshots;
};

static void *atomic_reader(void *arg)
{
    struct atomic_ctx *c = arg;
    while (!c->stop) {
        struct label_matcher m = {LABEL_MATCH_EQ, "__name__", "batch"};
        struct tsdb_series_set *set;
        char err[256];
        if (tsdb_select(c->db, &m, 1, INT64_MIN, INT64_MAX, &set, err, sizeof err) < 0)
            continue;
        const struct labels *ls;
        const int64_t *ts;
        const double *vs;
        size_t n, first = (size_t)-1, series = 0;
        while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
            if (first == (size_t)-1)
                first = n;
            else if (n != first)
                __atomic_add_fetch(&c->violations, 1, __ATOMIC_RELAXED);
            series++;
        }
        if (series && series != 50)
            __atomic_add_fetch(&c->violations, 1, __ATOMIC_RELAXED);
        tsdb_series_set_free(set);
        __atomic_add_fetch(&c->snapshots, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_batches_atomic_for_readers(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct atomic_ctx c = {.db = open_db(dir, 8)};
    pthread_t th[3];
    for (int i = 0; i < 3; i++)
        pthread_create(&th[i], NULL, atomic_reader, &c);
    struct tsdb_appender *a = tsdb_appender_new(c.db);
    uint64_t refs[50] = {0};
    for (int k = 0; k < 400; k++) {
        for (int i = 0; i < 50; i++) {
            struct series_name s;
            series_name_set(&s, "batch", i);
            tsdb_append(a, &refs[i], &s.ls, k * 1000, k);
        }
        assert_int_equal(tsdb_appender_commit(a, NULL), 0);
    }
    c.stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(c.violations, 0);
    assert_true(c.snapshots > 0);
    assert_int_equal(count_samples(c.db, "batch", INT64_MIN, INT64_MAX, NULL), 50 * 400);
    tsdb_appender_free(a);
    tsdb_close(c.db);
    tu_rm_rf(dir);
}

static void test_restart_replays_wal(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb *db = open_db(dir, 0);
    struct tsdb_appender *a = tsdb_appender_new(db);
    uint64_t refs[100] = {0};
    for (int k = 0; k < 20; k++) {
        for (int i = 0; i < 100; i++) {
            struct series_name s;
            series_name_set(&s, "wal", i);
            tsdb_append(a, &refs[i], &s.ls, k * 1000, i);
        }
        tsdb_appender_commit(a, NULL);
    }
    tsdb_appender_free(a);
    tsdb_close(db);
    db = open_db(dir, 0);
    size_t nseries;
    assert_int_equal(count_samples(db, "wal", INT64_MIN, INT64_MAX, &nseries), 2000);
    assert_int_equal(nseries, 100);
    /* Appending continues after the replayed samples, and refuses older ones. */
    a = tsdb_appender_new(db);
    struct series_name s;
    series_name_set(&s, "wal", 0);
    uint64_t ref = 0;
    struct tsdb_commit_stats st;
    tsdb_append(a, &ref, &s.ls, 19000, 5);
    tsdb_append(a, &ref, &s.ls, 20000, 5);
    tsdb_appender_commit(a, &st);
    assert_int_equal(st.appended, 1);
    assert_int_equal(st.duplicate, 1);
    tsdb_appender_free(a);
    tsdb_close(db);
    tu_rm_rf(dir);
}

/* The child appends batches of 20 series (values = batch number) and
 * reports each batch number after its commit returned; the parent kills it
 * with SIGKILL at random moments and checks, after reopening, that every
 * reported batch is there and that no batch is there in part. */
static void crash_child(const char *dir, int fd, int start)
{
    struct tsdb *db = open_db(dir, 16);
    struct tsdb_appender *a = tsdb_appender_new(db);
    uint64_t refs[20] = {0};
    for (int k = start;; k++) {
        for (int i = 0; i < 20; i++) {
            struct series_name s;
            series_name_set(&s, "crash", i);
            tsdb_append(a, &refs[i], &s.ls, (int64_t)k * 1000, k);
        }
        if (tsdb_appender_commit(a, NULL) < 0)
            _exit(3);
        if (write(fd, &k, sizeof k) != sizeof k)
            _exit(4);
    }
}

/* Returns the number of complete batches and checks they are 0..n-1. */
static int crash_verify(const char *dir)
{
    struct tsdb *db = open_db(dir, 16);
    struct label_matcher m = {LABEL_MATCH_EQ, "__name__", "crash"};
    struct tsdb_series_set *set;
    char err[256];
    assert_int_equal(tsdb_select(db, &m, 1, INT64_MIN, INT64_MAX, &set, err, sizeof err), 0);
    const struct labels *ls;
    const int64_t *ts;
    const double *vs;
    size_t n;
    long first = -1;
    while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(ts[j], (int64_t)j * 1000);
            assert_true(vs[j] == (double)j);
        }
        if (first < 0)
            first = (long)n;
        assert_int_equal((long)n, first); /* no batch is there in part */
    }
    tsdb_series_set_free(set);
    tsdb_close(db);
    return first < 0 ? 0 : (int)first;
}

static void test_kill9_loses_no_acknowledged_batch(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    srand((unsigned)time(NULL));
    int have = 0;
    for (int round = 0; round < 20; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(p[0]);
            crash_child(dir, p[1], have);
        }
        close(p[1]);
        struct timespec d = {0, (10 + rand() % 190) * 1000000L};
        nanosleep(&d, NULL);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        int k, acked = have - 1;
        while (read(p[0], &k, sizeof k) == sizeof k)
            acked = k;
        close(p[0]);
        have = crash_verify(dir);
        assert_true(have >= acked + 1);
    }
    assert_true(have > 0);
    tu_rm_rf(dir);
}

/* After the head was flushed and the WAL emptied, a restarted database
 * still knows each series' newest sample: older ones are out of order and
 * the same ones are no-ops, not stored twice. */
static void test_order_rules_survive_flush_and_restart(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb *db = open_db(dir, 0);
    struct tsdb_appender *a = tsdb_appender_new(db);
    struct series_name s;
    series_name_set(&s, "flushed", 0);
    uint64_t ref = 0;
    for (int k = 0; k < 10; k++)
        tsdb_append(a, &ref, &s.ls, k * 1000, k);
    assert_int_equal(tsdb_appender_commit(a, NULL), 0);
    tsdb_appender_free(a);
    assert_int_equal(tsdb_flush_head(db), 0);
    tsdb_close(db);
    db = open_db(dir, 0);
    a = tsdb_appender_new(db);
    ref = 0;
    struct tsdb_commit_stats st;
    tsdb_append(a, &ref, &s.ls, 5000, 99); /* older than stored: out of order */
    tsdb_append(a, &ref, &s.ls, 9000, 9);  /* the newest stored one again */
    tsdb_append(a, &ref, &s.ls, 10000, 10);
    assert_int_equal(tsdb_appender_commit(a, &st), 0);
    assert_int_equal(st.appended, 1);
    assert_int_equal(st.out_of_order, 1);
    assert_int_equal(count_samples(db, "flushed", INT64_MIN, INT64_MAX, NULL), 11);
    tsdb_appender_free(a);
    tsdb_close(db);
    tu_rm_rf(dir);
}

static void test_unwritable_path_reports_why(void **state)
{
    (void)state;
    struct tsdb *db = NULL;
    char err[256] = "";
    assert_int_equal(tsdb_open("/proc/vigil-cannot-exist/data", NULL, &db, err, sizeof err), -1);
    assert_non_null(strstr(err, "/proc/vigil-cannot-exist"));
}

/* ---- compaction, deletes, snapshots, retention, map growth ---- */

#define STEP 15000
/* A window-aligned base time (Nov 2023), so sample k falls in window k / 480. */
#define T0    (236111LL * TSDB_WINDOW_MS)
#define TK(k) (T0 + (int64_t)(k)*STEP)

static struct tsdb *open_db_opts(const char *dir, struct tsdb_options *o)
{
    struct tsdb *db = NULL;
    char err[256] = "";
    if (!o->commit_interval_ms)
        o->commit_interval_ms = 20;
    if (tsdb_open(dir, o, &db, err, sizeof err) < 0)
        fail_msg("tsdb_open: %s", err);
    tsdb_flusher_pause(db, true); /* the test decides when maintenance runs */
    return db;
}

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Node-exporter-like shapes: constant, counter, 9-decimal noise, 17-digit
 * floats with an occasional staleness marker. */
static double gen_value(int i, long k)
{
    uint64_t h = mix64((uint64_t)i << 32 ^ (uint64_t)k);
    switch (i % 4) {
    case 0:
        return 1.0;
    case 1:
        return (double)(k * 1000 + i);
    case 2:
        return (double)(50000 + h % 2000000) / 1e9;
    default:
        if (k % 97 == 0) {
            double v;
            uint64_t b = TSDB_STALE_NAN_BITS;
            memcpy(&v, &b, 8);
            return v;
        }
        return sin((double)k / 7.0) * 1234.5678 + (double)i;
    }
}

/* {__name__=metric, grp="a"|"b", i="<i>"}: every third series is in "a". */
struct gname {
    char ibuf[16];
    struct label l[3];
    struct labels ls;
};

static void gname_set(struct gname *s, const char *metric, int i)
{
    snprintf(s->ibuf, sizeof s->ibuf, "%d", i);
    s->l[0] = (struct label){"__name__", metric};
    s->l[1] = (struct label){"grp", i % 3 == 0 ? "a" : "b"};
    s->l[2] = (struct label){"i", s->ibuf};
    s->ls = (struct labels){s->l, 3};
}

/* Appends samples k in [from, to) of n series, one batch per k. */
static void append_range(struct tsdb *db, const char *metric, int n, long from, long to,
                         uint64_t *refs)
{
    struct tsdb_appender *a = tsdb_appender_new(db);
    for (long k = from; k < to; k++) {
        for (int i = 0; i < n; i++) {
            struct gname g;
            gname_set(&g, metric, i);
            assert_int_equal(
                tsdb_append(a, &refs[i], refs[i] ? NULL : &g.ls, TK(k), gen_value(i, k)), 0);
        }
        struct tsdb_commit_stats st;
        assert_int_equal(tsdb_appender_commit(a, &st), 0);
        assert_int_equal(st.appended, (uint32_t)n);
    }
    tsdb_appender_free(a);
}

/* Which samples a series should hold: k in [0, nk) minus a deleted range
 * for the series in group "a". */
struct expect {
    long nk;
    long del_from, del_to; /* inclusive; del_from > del_to: none */
    long first;            /* samples before it are gone (retention) */
};

static bool expect_keep(const struct expect *e, int i, long k)
{
    if (k < e->first || k >= e->nk)
        return false;
    return !(i % 3 == 0 && k >= e->del_from && k <= e->del_to);
}

/* Compares every series of metric with e, bit for bit, without cmocka
 * asserts (it also runs on reader threads).  Returns the mismatches. */
static long verify_metric(struct tsdb *db, const char *metric, int nseries, const struct expect *e)
{
    struct label_matcher m = {LABEL_MATCH_EQ, "__name__", metric};
    struct tsdb_series_set *set;
    char err[256];
    if (tsdb_select(db, &m, 1, INT64_MIN, INT64_MAX, &set, err, sizeof err) < 0)
        return 1000000;
    const struct labels *ls;
    const int64_t *ts;
    const double *vs;
    size_t n;
    long bad = 0;
    int seen = 0;
    while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
        int i = atoi(ls->v[2].value);
        long k = 0;
        seen++;
        for (size_t j = 0; j < n; j++, k++) {
            while (k < e->nk && !expect_keep(e, i, k))
                k++;
            double want = gen_value(i, k);
            if (k >= e->nk || ts[j] != TK(k) || memcmp(&vs[j], &want, 8) != 0) {
                bad++;
                break;
            }
        }
        for (k++; k < e->nk; k++)
            bad += expect_keep(e, i, k); /* missing samples at the end */
    }
    tsdb_series_set_free(set);
    int want_series = 0;
    for (int i = 0; i < nseries; i++) {
        bool any = false;
        for (long k = e->first; k < e->nk && !any; k++)
            any = expect_keep(e, i, k);
        want_series += any;
    }
    return bad + (seen != want_series ? 1000 : 0);
}

/* Blocks of series id in the window starting at w. */
static size_t count_blocks(struct tsdb *db, uint32_t id, int64_t w)
{
    MDB_txn *txn;
    MDB_cursor *c;
    assert_int_equal(tsdb_read_begin(db, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, db->blocks, &c), 0);
    uint8_t k[12];
    tsdb_block_key(id, w, k);
    MDB_val key = {sizeof k, k}, val;
    size_t n = 0;
    for (int rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        uint32_t kid;
        int64_t t0;
        tsdb_block_key_decode(key.mv_data, &kid, &t0);
        if (kid != id || t0 >= w + TSDB_WINDOW_MS)
            break;
        n++;
    }
    mdb_cursor_close(c);
    tsdb_read_end(db, txn);
    return n;
}

/* 1 if series id has samples in the archive's window starting at w. */
static size_t count_archive(struct tsdb *db, uint32_t id, int64_t w)
{
    MDB_txn *txn;
    assert_int_equal(tsdb_read_begin(db, &txn), 0);
    struct archive_group g = {0};
    struct block_codec *bc = block_codec_new();
    int rc = archive_group_load(txn, db->archive, bc, w, id / ARCHIVE_GROUP_SERIES, false, &g);
    block_codec_free(bc);
    assert_true(rc == 0 || rc == MDB_NOTFOUND);
    size_t n = rc == 0 && archive_group_find(&g, id) ? 1 : 0;
    archive_group_free(&g);
    tsdb_read_end(db, txn);
    return n;
}

/* Keys plus values of the whole blocks and archive DBIs, and their
 * entries. */
static uint64_t blocks_bytes(struct tsdb *db, uint64_t *entries)
{
    MDB_txn *txn;
    assert_int_equal(tsdb_read_begin(db, &txn), 0);
    uint64_t bytes = 0;
    *entries = 0;
    MDB_dbi dbis[2] = {db->blocks, db->archive};
    for (int i = 0; i < 2; i++) {
        MDB_cursor *c;
        assert_int_equal(mdb_cursor_open(txn, dbis[i], &c), 0);
        MDB_val key, val;
        while (mdb_cursor_get(c, &key, &val, MDB_NEXT) == 0) {
            bytes += key.mv_size + val.mv_size;
            (*entries)++;
        }
        mdb_cursor_close(c);
    }
    tsdb_read_end(db, txn);
    return bytes;
}

static uint64_t archive_entries(struct tsdb *db)
{
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(tsdb_read_begin(db, &txn), 0);
    mdb_stat(txn, db->archive, &st);
    tsdb_read_end(db, txn);
    return st.ms_entries;
}

struct verify_ctx {
    struct tsdb *db;
    const char *metric;
    int nseries;
    struct expect e;
    volatile int stop;
    long bad, rounds;
};

static void *verify_reader(void *arg)
{
    struct verify_ctx *c = arg;
    while (!c->stop) {
        long b = verify_metric(c->db, c->metric, c->nseries, &c->e);
        __atomic_add_fetch(&c->bad, b, __ATOMIC_RELAXED);
        __atomic_add_fetch(&c->rounds, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void wait_rounds(struct verify_ctx *c, long at_least)
{
    while (__atomic_load_n(&c->rounds, __ATOMIC_RELAXED) < at_least) {
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
}

#define NCS 120

static void test_compaction_merges_finished_windows(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct metrics_registry *reg = metrics_registry_new();
    struct tsdb_options o = {.metrics = reg};
    struct tsdb *db = open_db_opts(dir, &o);
    uint64_t refs[NCS] = {0};
    /* Three windows of 480 samples: 4 chunks each, the last one still open. */
    append_range(db, "cmp", NCS, 0, 1440, refs);
    struct expect e = {.nk = 1440, .del_from = 1, .del_to = 0};
    assert_int_equal(verify_metric(db, "cmp", NCS, &e), 0);
    assert_int_equal(tsdb_flush_now(db), 0);
    uint64_t n_before, n_after;
    uint64_t bytes_before = blocks_bytes(db, &n_before);
    for (int i = 0; i < NCS; i += 17) {
        assert_int_equal(count_blocks(db, (uint32_t)refs[i], T0), 4);
        assert_int_equal(count_blocks(db, (uint32_t)refs[i], T0 + TSDB_WINDOW_MS), 4);
        assert_int_equal(count_blocks(db, (uint32_t)refs[i], T0 + 2 * TSDB_WINDOW_MS), 3);
    }
    assert_int_equal(n_before, NCS * 11);
    assert_int_equal(verify_metric(db, "cmp", NCS, &e), 0);

    /* Compact while a reader checks every sample over and over. */
    struct verify_ctx vc = {.db = db, .metric = "cmp", .nseries = NCS, .e = e};
    pthread_t th;
    pthread_create(&th, NULL, verify_reader, &vc);
    wait_rounds(&vc, 1);
    assert_int_equal(tsdb_maintain_now(db), 0);
    wait_rounds(&vc, __atomic_load_n(&vc.rounds, __ATOMIC_RELAXED) + 2);
    vc.stop = 1;
    pthread_join(th, NULL);
    assert_int_equal(vc.bad, 0);

    /* Windows 0 and 1 are finished (they end over an hour before the newest
     * sample): moved to the archive, into groups of ARCHIVE_GROUP_SERIES
     * series stored as full overflow pages and a short last piece.
     * Window 2 is not finished and stays in blocks. */
    for (int i = 0; i < NCS; i++) {
        size_t want = 1;
        assert_int_equal(count_blocks(db, (uint32_t)refs[i], T0), 0);
        assert_int_equal(count_blocks(db, (uint32_t)refs[i], T0 + TSDB_WINDOW_MS), 0);
        assert_int_equal(count_archive(db, (uint32_t)refs[i], T0), want);
        assert_int_equal(count_archive(db, (uint32_t)refs[i], T0 + TSDB_WINDOW_MS), want);
        assert_int_equal(count_blocks(db, (uint32_t)refs[i], T0 + 2 * TSDB_WINDOW_MS), 3);
        assert_int_equal(count_archive(db, (uint32_t)refs[i], T0 + 2 * TSDB_WINDOW_MS), 0);
    }
    uint64_t bytes_after = blocks_bytes(db, &n_after);
    assert_true(n_after < n_before);
    assert_true(bytes_after < bytes_before);
    MDB_txn *txn;
    MDB_stat bst;
    assert_int_equal(tsdb_read_begin(db, &txn), 0);
    mdb_stat(txn, db->blocks, &bst);
    assert_int_equal(bst.ms_overflow_pages, 0);
    assert_int_equal(bst.ms_entries, NCS * 3);
    mdb_stat(txn, db->archive, &bst);
    /* Every overflow page is a full piece: no more pages than pieces. */
    assert_true(bst.ms_overflow_pages <= bst.ms_entries);
    assert_true(bst.ms_entries >= 2 * ((NCS + ARCHIVE_GROUP_SERIES - 1) / ARCHIVE_GROUP_SERIES));
    tsdb_read_end(db, txn);
    char serr[256];
    struct tsdb_stats tst;
    assert_int_equal(tsdb_stats_get(db, 1, &tst, serr, sizeof serr), 0);
    assert_int_equal(tst.blocks, n_after); /* both DBIs */
    tsdb_stats_free(&tst);
    assert_int_equal(verify_metric(db, "cmp", NCS, &e), 0);
    assert_true(tu_metric(reg, "prometheus_tsdb_compactions_total") >= 1);
    /* The blocks moved into the archive (it was empty before). */
    assert_true(tu_metric(reg, "vigil_tsdb_compaction_blocks_merged_total") ==
                (double)(n_before - NCS * 3));
    assert_true(tu_metric(reg, "vigil_tsdb_compaction_duration_seconds_count") >= 1);

    /* Once the last window is finished too, it is merged, also after a
     * restart (the marks are in LMDB). */
    append_range(db, "cmp", NCS, 1440, 1741, refs);
    e.nk = 1741;
    assert_int_equal(tsdb_flush_now(db), 0);
    tsdb_close(db);
    metrics_registry_free(reg);
    o.metrics = NULL;
    db = open_db_opts(dir, &o);
    assert_int_equal(verify_metric(db, "cmp", NCS, &e), 0);
    assert_int_equal(tsdb_maintain_now(db), 0);
    for (int i = 0; i < NCS; i += 7)
        assert_int_equal(count_archive(db, (uint32_t)refs[i], T0 + 2 * TSDB_WINDOW_MS), 1);
    assert_int_equal(verify_metric(db, "cmp", NCS, &e), 0);
    tsdb_close(db);
    tu_rm_rf(dir);
}

#define NDS 12

/* Readers during a delete: every series of group "a" must hold either all
 * its samples or all minus the deleted ones, never something between. */
struct delete_reader {
    struct tsdb *db;
    size_t full, after;
    volatile int stop;
    long bad, rounds;
};

static void *delete_reader_main(void *arg)
{
    struct delete_reader *d = arg;
    struct label_matcher ms[2] = {{LABEL_MATCH_EQ, "__name__", "del"},
                                  {LABEL_MATCH_EQ, "grp", "a"}};
    while (!d->stop) {
        struct tsdb_series_set *set;
        char err[256];
        if (tsdb_select(d->db, ms, 2, INT64_MIN, INT64_MAX, &set, err, sizeof err) < 0)
            continue;
        const struct labels *ls;
        const int64_t *ts;
        const double *vs;
        size_t n, first = 0;
        while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
            if ((n != d->full && n != d->after) || (first && n != first))
                __atomic_add_fetch(&d->bad, 1, __ATOMIC_RELAXED);
            first = n;
        }
        tsdb_series_set_free(set);
        __atomic_add_fetch(&d->rounds, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_delete_series(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {0};
    struct tsdb *db = open_db_opts(dir, &o);
    uint64_t refs[NDS] = {0}, refs2[NDS] = {0};
    /* Blocks: window 0 compacted into one, window 1 in three blocks; then the
     * head: closed chunks [840, 959] and [960, 1079], open [1080, 1099]. */
    append_range(db, "del", NDS, 0, 900, refs);
    append_range(db, "other", NDS, 0, 900, refs2);
    assert_int_equal(tsdb_maintain_now(db), 0);
    append_range(db, "del", NDS, 900, 1100, refs);
    append_range(db, "other", NDS, 900, 1100, refs2);
    assert_int_equal(count_archive(db, (uint32_t)refs[0], T0), 1);
    assert_int_equal(count_blocks(db, (uint32_t)refs[0], T0), 0);
    assert_int_equal(count_blocks(db, (uint32_t)refs[0], T0 + TSDB_WINDOW_MS), 3);

    /* From just after sample 100 (inside the compacted block) to sample 1050
     * (inside a closed head chunk), for group "a" of "del" only. */
    struct label_matcher ms[2] = {{LABEL_MATCH_EQ, "__name__", "del"},
                                  {LABEL_MATCH_EQ, "grp", "a"}};
    char err[256] = "";
    struct delete_reader dr = {.db = db, .full = 1100, .after = 1100 - 950};
    pthread_t th;
    pthread_create(&th, NULL, delete_reader_main, &dr);
    while (__atomic_load_n(&dr.rounds, __ATOMIC_RELAXED) < 1)
        sched_yield();
    assert_int_equal(tsdb_delete_series(db, ms, 2, TK(100) + 7, TK(1050), err, sizeof err), 0);
    long at = __atomic_load_n(&dr.rounds, __ATOMIC_RELAXED);
    while (__atomic_load_n(&dr.rounds, __ATOMIC_RELAXED) < at + 2)
        sched_yield();
    dr.stop = 1;
    pthread_join(th, NULL);
    assert_int_equal(dr.bad, 0);
    struct expect e = {.nk = 1100, .del_from = 101, .del_to = 1050};
    struct expect all = {.nk = 1100, .del_from = 1, .del_to = 0};
    assert_int_equal(verify_metric(db, "del", NDS, &e), 0);
    assert_int_equal(verify_metric(db, "other", NDS, &all), 0);    /* same labels, other name */
    assert_int_equal(count_archive(db, (uint32_t)refs[0], T0), 1); /* rewritten */
    assert_int_equal(count_archive(db, (uint32_t)refs[1], T0), 1);
    assert_int_equal(count_blocks(db, (uint32_t)refs[0], T0 + TSDB_WINDOW_MS), 0);
    assert_int_equal(count_blocks(db, (uint32_t)refs[1], T0 + TSDB_WINDOW_MS), 3);

    /* Appends go on after the delete and stay. */
    append_range(db, "del", NDS, 1100, 1120, refs);
    e.nk = 1120;
    assert_int_equal(verify_metric(db, "del", NDS, &e), 0);
    /* Nothing to delete, and tombstones have nothing to clean. */
    assert_int_equal(tsdb_delete_series(db, ms, 2, TK(2000), TK(3000), err, sizeof err), 0);
    assert_int_equal(tsdb_clean_tombstones(db, err, sizeof err), 0);
    assert_int_equal(verify_metric(db, "del", NDS, &e), 0);

    /* The WAL still holds every deleted sample; replay must not bring them
     * back, neither the head's nor those of the deleted blocks. */
    tsdb_close(db);
    db = open_db_opts(dir, &o);
    assert_int_equal(verify_metric(db, "del", NDS, &e), 0);
    assert_int_equal(verify_metric(db, "other", NDS, &all), 0);
    assert_int_equal(tsdb_maintain_now(db), 0);
    assert_int_equal(verify_metric(db, "del", NDS, &e), 0);
    tsdb_close(db);
    db = open_db_opts(dir, &o);
    assert_int_equal(verify_metric(db, "del", NDS, &e), 0);
    assert_int_equal(verify_metric(db, "other", NDS, &all), 0);

    /* Deleting everything of a series leaves it in the index, sample-less. */
    struct label_matcher one[2] = {{LABEL_MATCH_EQ, "__name__", "other"},
                                   {LABEL_MATCH_EQ, "i", "4"}};
    assert_int_equal(count_archive(db, (uint32_t)refs2[4], T0), 1);
    assert_int_equal(tsdb_delete_series(db, one, 2, INT64_MIN, INT64_MAX, err, sizeof err), 0);
    assert_int_equal(count_archive(db, (uint32_t)refs2[4], T0), 0);
    assert_int_equal(count_archive(db, (uint32_t)refs2[5], T0), 1);
    size_t nseries;
    count_samples(db, "other", INT64_MIN, INT64_MAX, &nseries);
    assert_int_equal(nseries, NDS - 1);
    struct tsdb_head_stats hs;
    tsdb_head_stats_get(db, &hs);
    assert_int_equal(hs.index_series, 2 * NDS);

    /* Refused requests say why. */
    assert_int_equal(tsdb_delete_series(db, ms, 0, 0, 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "matcher"));
    assert_int_equal(tsdb_delete_series(db, ms, 2, 5, 4, err, sizeof err), -1);
    assert_non_null(strstr(err, "before"));
    struct label_matcher bad = {LABEL_MATCH_RE, "__name__", "("};
    assert_int_equal(tsdb_delete_series(db, &bad, 1, 0, 1, err, sizeof err), -1);
    tsdb_close(db);
    tu_rm_rf(dir);
}

#define NSS 20

static void test_snapshot(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {0};
    struct tsdb *db = open_db_opts(dir, &o);
    uint64_t refs[NSS] = {0};
    /* Blocks hold samples [0, 480); the head [480, 701). */
    append_range(db, "snap", NSS, 0, 600, refs);
    assert_int_equal(tsdb_flush_now(db), 0);
    append_range(db, "snap", NSS, 600, 701, refs);
    char name[TSDB_SNAPSHOT_NAME_LEN], err[256] = "";
    assert_int_equal(tsdb_snapshot(db, false, name, sizeof name, err, sizeof err), 0);
    /* 20240131T120000Z-0123456789abcdef */
    assert_int_equal(strlen(name), TSDB_SNAPSHOT_NAME_LEN - 1);
    assert_int_equal(name[8], 'T');
    assert_int_equal(name[15], 'Z');
    assert_int_equal(name[16], '-');
    for (int i = 17; i < 33; i++)
        assert_non_null(strchr("0123456789abcdef", name[i]));
    /* The live database did not change. */
    struct tsdb_head_stats hs;
    tsdb_head_stats_get(db, &hs);
    assert_int_equal(hs.series, NSS);
    struct expect full = {.nk = 701, .del_from = 1, .del_to = 0};
    assert_int_equal(verify_metric(db, "snap", NSS, &full), 0);

    char path[512];
    snprintf(path, sizeof path, "%s/snapshots/%s", dir, name);
    struct tsdb_options so = {0};
    struct tsdb *snap = open_db_opts(path, &so);
    assert_int_equal(verify_metric(snap, "snap", NSS, &full), 0);
    /* The copy is a database of its own: it takes appends and compacts the
     * head chunks it was given once their window is finished. */
    uint64_t srefs[NSS] = {0};
    append_range(snap, "snap", NSS, 701, 1300, srefs);
    assert_int_equal(srefs[3], refs[3]); /* same ids */
    assert_int_equal(tsdb_maintain_now(snap), 0);
    assert_int_equal(count_archive(snap, (uint32_t)refs[0], T0 + TSDB_WINDOW_MS), 1);
    full.nk = 1300;
    assert_int_equal(verify_metric(snap, "snap", NSS, &full), 0);
    tsdb_close(snap);
    full.nk = 701;

    assert_int_equal(tsdb_snapshot(db, true, name, sizeof name, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/snapshots/%s", dir, name);
    snap = open_db_opts(path, &so);
    struct expect blocks_only = {.nk = 480, .del_from = 1, .del_to = 0};
    assert_int_equal(verify_metric(snap, "snap", NSS, &blocks_only), 0);
    tsdb_close(snap);

    /* A snapshot of archived windows, blocks and the head: window 0
     * archived, window 1 in blocks and the head. */
    append_range(db, "snap", NSS, 701, 1100, refs);
    assert_int_equal(tsdb_maintain_now(db), 0);
    assert_int_equal(count_archive(db, (uint32_t)refs[0], T0), 1);
    assert_int_equal(tsdb_snapshot(db, false, name, sizeof name, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/snapshots/%s", dir, name);
    snap = open_db_opts(path, &so);
    full.nk = 1100;
    assert_int_equal(verify_metric(snap, "snap", NSS, &full), 0);
    assert_int_equal(count_archive(snap, (uint32_t)refs[0], T0), 1);
    tsdb_close(snap);
    tsdb_close(db);
    tu_rm_rf(dir);
}

#define NAS 12

/* Every series of metric holds exactly samples [a, b] of [0, nk) (and
 * series "lag" those below lag_nk) in a read of [TK(a), TK(b)]. */
static long verify_range(struct tsdb *db, const char *metric, long nk, long a, long b)
{
    struct label_matcher m = {LABEL_MATCH_EQ, "__name__", metric};
    struct tsdb_series_set *set;
    char err[256];
    if (tsdb_select(db, &m, 1, TK(a), TK(b), &set, err, sizeof err) < 0)
        return 1000000;
    const struct labels *ls;
    const int64_t *ts;
    const double *vs;
    size_t n;
    long bad = 0, seen = 0;
    while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
        int i = atoi(ls->v[2].value);
        long want = (b < nk - 1 ? b : nk - 1) - a + 1;
        seen++;
        bad += (long)n != want;
        for (size_t j = 0; j < n && j < (size_t)want; j++) {
            double v = gen_value(i, a + (long)j);
            bad += ts[j] != TK(a + (long)j) || memcmp(&vs[j], &v, 8) != 0;
        }
    }
    tsdb_series_set_free(set);
    return bad + (seen != NAS ? 1000 : 0);
}

/* Reads that span the archive, blocks and the head, and a series whose
 * samples arrive for a window after it was archived. */
static void test_archive_reads_and_late_samples(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {0};
    struct tsdb *db = open_db_opts(dir, &o);
    uint64_t refs[NAS] = {0}, lag[NAS] = {0};
    /* "arc": windows 0 and 1 archived, window 2 in blocks and the head.
     * "lag" stops at sample 300, so its window 0 is archived with 301
     * samples (its last chunk is closed as idle). */
    append_range(db, "arc", NAS, 0, 1500, refs);
    append_range(db, "lag", NAS, 0, 301, lag);
    assert_int_equal(tsdb_maintain_now(db), 0);
    assert_int_equal(count_archive(db, (uint32_t)refs[5], T0 + TSDB_WINDOW_MS), 1);
    assert_int_equal(count_archive(db, (uint32_t)lag[5], T0), 1);
    assert_int_equal(count_blocks(db, (uint32_t)lag[5], T0), 0);
    static const long ranges[][2] = {{0, 1499},   {100, 1000},  {479, 481}, {470, 1300},
                                     {959, 1499}, {1200, 1499}, {0, 0},     {480, 959},
                                     {960, 1439}, {1450, 1499}, {700, 2000}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++)
        if (verify_range(db, "arc", 1500, ranges[r][0], ranges[r][1]) != 0)
            fail_msg("range [%ld, %ld]", ranges[r][0], ranges[r][1]);

    /* "lag" catches up in window 0: the archive and the head, then the
     * archive and a block of the same window, then one merged part. */
    append_range(db, "lag", NAS, 301, 450, lag);
    struct expect e = {.nk = 450, .del_from = 1, .del_to = 0};
    assert_int_equal(verify_metric(db, "lag", NAS, &e), 0);
    assert_int_equal(verify_range(db, "lag", 450, 250, 400), 0);
    assert_int_equal(tsdb_flush_now(db), 0);
    assert_true(count_blocks(db, (uint32_t)lag[5], T0) >= 1); /* 301..420, 421..449 */
    assert_int_equal(count_archive(db, (uint32_t)lag[5], T0), 1);
    assert_int_equal(verify_metric(db, "lag", NAS, &e), 0);
    assert_int_equal(verify_range(db, "lag", 450, 250, 400), 0);
    assert_int_equal(tsdb_maintain_now(db), 0);
    assert_int_equal(count_blocks(db, (uint32_t)lag[5], T0), 0);
    assert_int_equal(count_archive(db, (uint32_t)lag[5], T0), 1);
    assert_int_equal(verify_metric(db, "lag", NAS, &e), 0);

    /* A restart replays the WAL, which still holds every sample of "lag":
     * they are all archived now, so replay must skip them (the archive
     * counts for the persisted max t) rather than write them again. */
    tsdb_close(db);
    db = open_db_opts(dir, &o);
    struct tsdb_head_stats hs;
    tsdb_head_stats_get(db, &hs);
    assert_int_equal(hs.chunks_closed, 0);
    assert_int_equal(tsdb_flush_now(db), 0);
    assert_int_equal(count_blocks(db, (uint32_t)lag[5], T0), 0);
    assert_int_equal(verify_metric(db, "lag", NAS, &e), 0);
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++)
        if (verify_range(db, "arc", 1500, ranges[r][0], ranges[r][1]) != 0)
            fail_msg("after restart: range [%ld, %ld]", ranges[r][0], ranges[r][1]);
    /* Appends continue where the archive ends. */
    struct tsdb_appender *a = tsdb_appender_new(db);
    assert_int_equal(tsdb_append(a, &lag[0], NULL, TK(449), gen_value(0, 449)), 0);
    struct tsdb_commit_stats st;
    assert_int_equal(tsdb_appender_commit(a, &st), 0);
    assert_int_equal(st.appended, 0);
    tsdb_appender_free(a);
    tsdb_close(db);
    tu_rm_rf(dir);
}

/* The oldest sample k left in every series (all series must agree). */
static long first_k(struct tsdb *db, const char *metric)
{
    struct label_matcher m = {LABEL_MATCH_EQ, "__name__", metric};
    struct tsdb_series_set *set;
    char err[256];
    assert_int_equal(tsdb_select(db, &m, 1, INT64_MIN, INT64_MAX, &set, err, sizeof err), 0);
    const struct labels *ls;
    const int64_t *ts;
    const double *vs;
    size_t n;
    long first = -1;
    while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
        long k = (long)((ts[0] - T0) / STEP);
        if (first < 0)
            first = k;
        assert_int_equal(k, first);
    }
    tsdb_series_set_free(set);
    return first;
}

#define NRS 60

static void test_size_retention_drops_oldest_first(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {.wal_segment_bytes = 64 << 10};
    struct tsdb *db = open_db_opts(dir, &o);
    uint64_t refs[NRS] = {0};
    long nk = 12 * 480; /* 12 windows */
    append_range(db, "size", NRS, 0, nk, refs);
    assert_int_equal(tsdb_maintain_now(db), 0);
    char err[256];
    struct tsdb_stats st;
    assert_int_equal(tsdb_stats_get(db, 1, &st, err, sizeof err), 0);
    uint64_t used = st.disk_bytes;
    tsdb_stats_free(&st);
    tsdb_close(db);

    /* Reopened with a bound 30 % below what is used. */
    struct metrics_registry *reg = metrics_registry_new();
    o.retention_bytes = (int64_t)(used * 7 / 10);
    o.metrics = reg;
    db = open_db_opts(dir, &o);
    assert_int_equal(tsdb_maintain_now(db), 0);
    long first = first_k(db, "size");
    assert_true(first > 0);
    assert_int_equal(first % 480, 0); /* whole windows, oldest first */
    assert_true(first <= 480 * 6);    /* not much more than the excess */
    /* The archive holds windows 0..10; those before first are gone. */
    assert_int_equal(count_archive(db, (uint32_t)refs[0], T0 + (first / 480 - 1) * TSDB_WINDOW_MS),
                     0);
    assert_true(count_archive(db, (uint32_t)refs[0], T0 + first / 480 * TSDB_WINDOW_MS) > 0);
    struct expect e = {.nk = nk, .del_from = 1, .del_to = 0, .first = first};
    assert_int_equal(verify_metric(db, "size", NRS, &e), 0);
    assert_true(tu_metric(reg, "prometheus_tsdb_size_retentions_total") == 1);
    /* Holes in pages count as room: a second run right away deletes nothing. */
    assert_int_equal(tsdb_maintain_now(db), 0);
    assert_int_equal(first_k(db, "size"), first);
    tsdb_close(db);
    metrics_registry_free(reg);
    tu_rm_rf(dir);
}

static void test_time_retention(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct metrics_registry *reg = metrics_registry_new();
    struct tsdb_options o = {.metrics = reg, .retention_ms = 24LL * 3600 * 1000};
    struct tsdb *db = open_db_opts(dir, &o);
    uint64_t refs[4] = {0};
    append_range(db, "old", 4, 0, 1000, refs); /* Nov 2023: long past */
    struct series_name s;
    series_name_set(&s, "new", 0);
    struct tsdb_appender *a = tsdb_appender_new(db);
    uint64_t ref = 0;
    int64_t now = (int64_t)time(NULL) * 1000;
    for (int k = 0; k < 300; k++) {
        tsdb_append(a, &ref, ref ? NULL : &s.ls, now - (300 - k) * 1000, k);
        assert_int_equal(tsdb_appender_commit(a, NULL), 0);
    }
    tsdb_appender_free(a);
    assert_int_equal(tsdb_maintain_now(db), 0);
    assert_int_equal(count_samples(db, "new", INT64_MIN, INT64_MAX, NULL), 300);
    /* Blocks of the old series are gone; their last open chunk stays in the
     * head (retention drops blocks only). */
    assert_true(count_samples(db, "old", INT64_MIN, INT64_MAX, NULL) < 4 * 121);
    assert_int_equal(archive_entries(db), 0); /* archived windows went too */
    assert_true(tu_metric(reg, "prometheus_tsdb_time_retentions_total") == 1);
    tsdb_close(db);
    metrics_registry_free(reg);
    tu_rm_rf(dir);
}

#define NGS 3000

struct grow_reader {
    struct tsdb *db;
    volatile int stop;
    long rounds, failures;
};

static void *grow_reader_main(void *arg)
{
    struct grow_reader *g = arg;
    while (!g->stop) {
        struct label_matcher m = {LABEL_MATCH_EQ, "__name__", "grow"};
        struct tsdb_series_set *set;
        char err[256];
        if (tsdb_select(g->db, &m, 1, INT64_MIN, INT64_MAX, &set, err, sizeof err) < 0) {
            __atomic_add_fetch(&g->failures, 1, __ATOMIC_RELAXED);
            continue;
        }
        const struct labels *ls;
        const int64_t *ts;
        const double *vs;
        size_t n;
        while (tsdb_series_set_next(set, &ls, &ts, &vs, &n))
            ;
        tsdb_series_set_free(set);
        __atomic_add_fetch(&g->rounds, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_map_grows_when_full(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct metrics_registry *reg = metrics_registry_new();
    struct tsdb_options o = {.metrics = reg, .initial_map_bytes = 1 << 20};
    struct tsdb *db = open_db_opts(dir, &o);
    struct grow_reader g = {.db = db};
    pthread_t th;
    pthread_create(&th, NULL, grow_reader_main, &g);
    /* Long label values make the index alone outgrow 1 MiB several times;
     * random ones, because the index compresses label sets. */
    char *pad = malloc(1001);
    pad[1000] = '\0';
    uint32_t seed = 12345;
    struct tsdb_appender *a = tsdb_appender_new(db);
    uint64_t *refs = calloc(NGS, sizeof *refs);
    for (int batch = 0; batch < NGS / 500; batch++) {
        for (int i = batch * 500; i < (batch + 1) * 500; i++) {
            char ibuf[16];
            snprintf(ibuf, sizeof ibuf, "%d", i);
            for (int c = 0; c < 1000 && !refs[i]; c++) {
                seed = seed * 1103515245u + 12345u;
                pad[c] = (char)('!' + (seed >> 16) % 94);
            }
            struct label l[3] = {{"__name__", "grow"}, {"i", ibuf}, {"pad", pad}};
            struct labels ls = {l, 3};
            for (int k = 0; k < 130; k++)
                assert_int_equal(tsdb_append(a, &refs[i], refs[i] ? NULL : &ls, TK(k), i + k), 0);
        }
        if (tsdb_appender_commit(a, NULL) != 0)
            fail_msg("commit: %s", tsdb_appender_error(a));
    }
    tsdb_appender_free(a);
    assert_int_equal(tsdb_flush_now(db), 0); /* the blocks need room too */
    g.stop = 1;
    pthread_join(th, NULL);
    assert_int_equal(g.failures, 0);
    assert_true(g.rounds > 0);
    assert_true(atomic_load(&db->map_bytes) >= 8u << 20);
    assert_true(tu_metric(reg, "vigil_tsdb_lmdb_map_grows_total") >= 3);
    size_t nseries;
    assert_int_equal(count_samples(db, "grow", INT64_MIN, INT64_MAX, &nseries), NGS * 130);
    assert_int_equal(nseries, NGS);
    tsdb_close(db);
    /* Reopening with the small initial size still works (LMDB rounds the
     * map up to the file), and so do further writes. */
    o.metrics = NULL;
    db = open_db_opts(dir, &o);
    assert_int_equal(count_samples(db, "grow", INT64_MIN, INT64_MAX, NULL), NGS * 130);
    uint64_t more[50] = {0};
    append_range(db, "more", 50, 0, 200, more);
    assert_int_equal(tsdb_flush_now(db), 0);
    assert_int_equal(count_samples(db, "more", INT64_MIN, INT64_MAX, NULL), 50 * 200);
    tsdb_close(db);
    metrics_registry_free(reg);
    free(refs);
    free(pad);
    tu_rm_rf(dir);
}

/* ---- start timestamps ---- */

#define NST 6

/* The ST of sample k of series i of metric "st": series 0 never has one,
 * 1 is a counter restarted every 100 samples, 2 a delta series, 3 has STs
 * only from sample 300 on (its open chunk is cut there), 4 STs after T,
 * 5 a negative ST and none in alternating runs. */
static int64_t gen_st(int i, long k)
{
    switch (i) {
    case 1:
        return TK(k / 100 * 100) - 7;
    case 2:
        return TK(k - 1);
    case 3:
        return k >= 300 ? TK(k) - 500 : 0;
    case 4:
        return TK(k) + 1;
    case 5:
        return (k / 10) % 2 ? -INT64_C(86400000) * 3650 : 0;
    default:
        return 0;
    }
}

static void append_st_range(struct tsdb *db, long from, long to, uint64_t *refs)
{
    struct tsdb_appender *a = tsdb_appender_new(db);
    for (long k = from; k < to; k++) {
        for (int i = 0; i < NST; i++) {
            struct gname g;
            gname_set(&g, "st", i);
            assert_int_equal(tsdb_append_st(a, &refs[i], refs[i] ? NULL : &g.ls, TK(k),
                                            gen_value(i, k), gen_st(i, k)),
                             0);
        }
        assert_int_equal(tsdb_appender_commit(a, NULL), 0);
    }
    tsdb_appender_free(a);
}

/* Compares metric "st" with e and gen_st, through both readers.  Returns
 * the mismatches. */
static long verify_st(struct tsdb *db, const struct expect *e)
{
    struct label_matcher m = {LABEL_MATCH_EQ, "__name__", "st"};
    struct tsdb_series_set *set;
    char err[256];
    if (tsdb_select(db, &m, 1, INT64_MIN, INT64_MAX, &set, err, sizeof err) < 0)
        return 1000000;
    const struct labels *ls;
    const int64_t *ts, *sts;
    const double *vs;
    size_t n;
    long bad = 0;
    while (tsdb_series_set_next_st(set, &ls, &ts, &vs, &sts, &n)) {
        int i = atoi(ls->v[2].value);
        bad += (i == 0) != (sts == NULL); /* a series without STs gets none */
        long k = 0;
        for (size_t j = 0; j < n; j++, k++) {
            while (k < e->nk && !expect_keep(e, i, k))
                k++;
            double want = gen_value(i, k);
            bool ok = k < e->nk && ts[j] == TK(k) && memcmp(&vs[j], &want, 8) == 0 &&
                      (sts ? sts[j] : 0) == gen_st(i, k);
            bad += !ok;
        }
        for (k++; k < e->nk; k++)
            bad += expect_keep(e, i, k);
    }
    tsdb_series_set_free(set);
    return bad + verify_metric(db, "st", NST, e); /* the reader without STs */
}

/* Blocks (blocks DBI and archive members) of series id, and how many of
 * them have an ST column. */
static size_t st_columns(struct tsdb *db, uint32_t id, size_t *blocks)
{
    MDB_txn *txn;
    MDB_cursor *c;
    assert_int_equal(tsdb_read_begin(db, &txn), 0);
    assert_int_equal(mdb_cursor_open(txn, db->blocks, &c), 0);
    uint8_t k[12];
    tsdb_block_key(id, INT64_MIN, k);
    MDB_val key = {sizeof k, k}, val;
    size_t with = 0;
    *blocks = 0;
    for (int rc = mdb_cursor_get(c, &key, &val, MDB_SET_RANGE); rc == 0;
         rc = mdb_cursor_get(c, &key, &val, MDB_NEXT)) {
        uint32_t kid;
        int64_t t0;
        uint64_t dt;
        tsdb_block_key_decode(key.mv_data, &kid, &t0);
        if (kid != id)
            break;
        const uint8_t *p = val.mv_data;
        size_t skip = tsdb_uvarint_get(p, p + val.mv_size, &dt);
        with += block_has_st(p + skip, val.mv_size - skip);
        (*blocks)++;
    }
    mdb_cursor_close(c);
    struct block_codec *bc = block_codec_new();
    struct archive_group g = {0};
    for (int64_t w = T0; w < T0 + 4 * TSDB_WINDOW_MS; w += TSDB_WINDOW_MS) {
        if (archive_group_load(txn, db->archive, bc, w, id / ARCHIVE_GROUP_SERIES, true, &g))
            continue;
        const struct archive_member *m = archive_group_find(&g, id);
        if (m) {
            with += block_has_st((const uint8_t *)g.body.data + m->off, m->len);
            (*blocks)++;
        }
    }
    archive_group_free(&g);
    block_codec_free(bc);
    tsdb_read_end(db, txn);
    return with;
}

/* Start timestamps come back as appended from the head, after a restart
 * (WAL replay), from blocks, from the archive, after deletes and in a
 * snapshot; the series that never had one has no ST column anywhere. */
static void test_start_timestamps_survive(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {0};
    struct tsdb *db = open_db_opts(dir, &o);
    uint64_t refs[NST] = {0};
    append_st_range(db, 0, 700, refs);
    struct expect e = {.nk = 700, .del_from = 1, .del_to = 0};
    assert_int_equal(verify_st(db, &e), 0);
    tsdb_close(db);
    db = open_db_opts(dir, &o); /* replays the WAL */
    assert_int_equal(verify_st(db, &e), 0);
    assert_int_equal(tsdb_flush_now(db), 0);
    assert_int_equal(verify_st(db, &e), 0);

    append_st_range(db, 700, 1500, refs);
    e.nk = 1500;
    assert_int_equal(tsdb_maintain_now(db), 0); /* windows 0 and 1 to the archive */
    assert_int_equal(count_archive(db, (uint32_t)refs[1], T0), 1);
    assert_int_equal(verify_st(db, &e), 0);
    size_t blocks, with = st_columns(db, (uint32_t)refs[0], &blocks);
    assert_true(blocks >= 3);
    assert_int_equal(with, 0);
    for (int i = 1; i < NST; i++) {
        with = st_columns(db, (uint32_t)refs[i], &blocks);
        assert_true(with >= 3 && with <= blocks);
    }

    /* Group "a" (series 0 and 3) loses [400, 1460]: archived, block and
     * head samples. */
    struct label_matcher ms[2] = {{LABEL_MATCH_EQ, "__name__", "st"}, {LABEL_MATCH_EQ, "grp", "a"}};
    char err[256];
    assert_int_equal(tsdb_delete_series(db, ms, 2, TK(400), TK(1460), err, sizeof err), 0);
    e.del_from = 400;
    e.del_to = 1460;
    assert_int_equal(verify_st(db, &e), 0);
    tsdb_close(db);
    db = open_db_opts(dir, &o);
    assert_int_equal(verify_st(db, &e), 0);

    char name[TSDB_SNAPSHOT_NAME_LEN], path[512];
    assert_int_equal(tsdb_snapshot(db, false, name, sizeof name, err, sizeof err), 0);
    snprintf(path, sizeof path, "%s/snapshots/%s", dir, name);
    struct tsdb_options so = {0};
    struct tsdb *snap = open_db_opts(path, &so);
    assert_int_equal(verify_st(snap, &e), 0);
    assert_int_equal(tsdb_maintain_now(snap), 0);
    assert_int_equal(verify_st(snap, &e), 0);
    tsdb_close(snap);
    tsdb_close(db);
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_lock),
        cmocka_unit_test(test_append_select_roundtrip),
        cmocka_unit_test(test_ordering_rules),
        cmocka_unit_test(test_values_bit_exact_and_persisted),
        cmocka_unit_test(test_batches_atomic_for_readers),
        cmocka_unit_test(test_restart_replays_wal),
        cmocka_unit_test(test_kill9_loses_no_acknowledged_batch),
        cmocka_unit_test(test_order_rules_survive_flush_and_restart),
        cmocka_unit_test(test_unwritable_path_reports_why),
        cmocka_unit_test(test_compaction_merges_finished_windows),
        cmocka_unit_test(test_delete_series),
        cmocka_unit_test(test_snapshot),
        cmocka_unit_test(test_archive_reads_and_late_samples),
        cmocka_unit_test(test_size_retention_drops_oldest_first),
        cmocka_unit_test(test_time_retention),
        cmocka_unit_test(test_map_grows_when_full),
        cmocka_unit_test(test_start_timestamps_survive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
