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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "storage/tsdb.h"

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/vigil-tsdb-XXXXXX";
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
    char *dir = make_tmpdir();
    struct tsdb *a = open_db(dir, 0), *b = NULL;
    char err[256] = "";
    assert_int_equal(tsdb_open(dir, NULL, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "held by another process"));
    tsdb_close(a);
    b = open_db(dir, 0);
    tsdb_close(b);
    rm_rf(dir);
}

static void test_append_select_roundtrip(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
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
    rm_rf(dir);
}

static void test_ordering_rules(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
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
    rm_rf(dir);
}

static void test_values_bit_exact_and_persisted(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
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
    rm_rf(dir);
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
    char *dir = make_tmpdir();
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
    rm_rf(dir);
}

static void test_restart_replays_wal(void **state)
{
    (void)state;
    char *dir = make_tmpdir();
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
    rm_rf(dir);
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
    char *dir = make_tmpdir();
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
    rm_rf(dir);
}

static void test_unwritable_path_reports_why(void **state)
{
    (void)state;
    struct tsdb *db = NULL;
    char err[256] = "";
    assert_int_equal(tsdb_open("/proc/vigil-cannot-exist/data", NULL, &db, err, sizeof err), -1);
    assert_non_null(strstr(err, "/proc/vigil-cannot-exist"));
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
        cmocka_unit_test(test_unwritable_path_reports_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
