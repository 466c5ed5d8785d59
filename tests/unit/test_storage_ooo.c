/* Out-of-order samples (storage/ooo.c, storage/head_ooo.c): the window
 * decides what is accepted and what is counted as too old or out of
 * order; duplicates follow Prometheus; reads merge stored blocks, the
 * archive, the in-order head and the out-of-order head in time order,
 * before and after the flush and compaction; accepted samples survive
 * kill -9 through the WAL. */
#include "storage_testutil.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIN_MS (60 * 1000LL)
#define STEP   15000

static void test_window_rules_and_metrics(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct metrics_registry *reg = metrics_registry_new();
    struct tsdb_options o = {.metrics = reg, .ooo_window_ms = 10 * MIN_MS};
    struct tsdb *db = tu_open(dir, &o);
    uint64_t ref = 0;
    for (int k = 0; k <= 40; k++)
        tu_append(db, "s", 0, &ref, BASE_T + k * STEP, k);
    int64_t newest = BASE_T + 40 * STEP;

    struct tsdb_commit_stats st = tu_append(db, "s", 0, &ref, BASE_T + 30 * STEP + 1000, 0.5);
    assert_int_equal(st.appended, 1);
    assert_int_equal(st.ooo_appended, 1);
    /* The same timestamp again, another value: dropped, counted nowhere. */
    st = tu_append(db, "s", 0, &ref, BASE_T + 30 * STEP + 1000, 0.75);
    assert_int_equal(st.appended + st.duplicate + st.out_of_order + st.too_old, 0);
    /* At the newest timestamp the in-order rules apply. */
    st = tu_append(db, "s", 0, &ref, newest, 99);
    assert_int_equal(st.duplicate, 1);
    /* Just inside (BASE_T, where an in-order sample is) and just outside
     * the window. */
    st = tu_append(db, "s", 0, &ref, newest - 10 * MIN_MS, 0.25);
    assert_int_equal(st.ooo_appended, 1);
    st = tu_append(db, "s", 0, &ref, newest - 10 * MIN_MS - 1, 0.125);
    assert_int_equal(st.too_old, 1);
    /* At a timestamp the in-order head holds: taken, but the sample that
     * was there first is what readers get. */
    st = tu_append(db, "s", 0, &ref, BASE_T + 10 * STEP, 999);
    assert_int_equal(st.ooo_appended, 1);
    /* Window off (a reload): out of order again. */
    tsdb_set_ooo_window(db, 0);
    st = tu_append(db, "s", 0, &ref, BASE_T + 35 * STEP + 1000, 1);
    assert_int_equal(st.out_of_order, 1);

    assert_true(tu_metric(reg, "prometheus_tsdb_head_out_of_order_samples_appended_total") == 3);
    assert_true(tu_metric(reg, "prometheus_tsdb_too_old_samples_total{type=\"float\"}") == 1);
    assert_true(tu_metric(reg, "prometheus_tsdb_out_of_order_samples_total{type=\"float\"}") == 1);

    int64_t ts[64];
    double vs[64];
    for (int pass = 0; pass < 2; pass++) { /* in the head, then flushed */
        /* 41 in order and one late; the late ones at in-order timestamps
         * lose to the samples that were there first. */
        assert_int_equal(tu_read(db, "s", 0, ts, vs, 64), 42);
        assert_true(vs[0] == 0);
        for (int i = 0; i < 42; i++) {
            if (ts[i] == BASE_T + 30 * STEP + 1000)
                assert_true(vs[i] == 0.5);
            if (ts[i] == BASE_T + 10 * STEP)
                assert_true(vs[i] == 10);
        }
        assert_int_equal(ts[0], BASE_T);
        assert_int_equal(ts[1], BASE_T + STEP);
        assert_int_equal(tsdb_flush_head(db), 0);
    }
    tsdb_close(db);
    metrics_registry_free(reg);
    tu_rm_rf(dir);
}

/* The expected content of a series: in-order samples every 30 s with
 * value k, late ones between them (+15 s) with value 1000 + k. */
struct want {
    int64_t ts[4096];
    double vs[4096];
    size_t n;
};

static void series_add(struct want *e, int64_t t, double v)
{
    size_t i = e->n++;
    for (; i > 0 && e->ts[i - 1] > t; i--) {
        e->ts[i] = e->ts[i - 1];
        e->vs[i] = e->vs[i - 1];
    }
    e->ts[i] = t;
    e->vs[i] = v;
}

static void series_check(struct tsdb *db, const struct want *e)
{
    static int64_t ts[4096];
    static double vs[4096];
    assert_int_equal(tu_read(db, "m", 0, ts, vs, 4096), e->n);
    for (size_t i = 0; i < e->n; i++) {
        assert_int_equal(ts[i], e->ts[i]);
        assert_true(vs[i] == e->vs[i]);
    }
}

static uint64_t dbi_entries(struct tsdb *db, MDB_dbi dbi)
{
    MDB_txn *txn;
    MDB_stat st;
    assert_int_equal(tsdb_read_begin(db, &txn), 0);
    mdb_stat(txn, dbi, &st);
    tsdb_read_end(db, txn);
    return st.ms_entries;
}

static void append_late(struct tsdb *db, struct want *e, uint64_t *ref, int64_t from, int n)
{
    for (int k = 0; k < n; k++) {
        int64_t t = from + k * 30000 + 15000;
        assert_int_equal(tu_append(db, "m", 0, ref, t, 1000 + k).ooo_appended, 1);
        series_add(e, t, 1000 + k);
    }
}

static void test_merge_across_blocks_heads_and_archive(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {.ooo_window_ms = 3 * HOUR_MS};
    struct tsdb *db = tu_open(dir, &o);
    static struct want e;
    e.n = 0;
    uint64_t ref = 0;
    for (int k = 0; k <= 480; k++) { /* 4 h every 30 s: closed chunks and an open one */
        tu_append(db, "m", 0, &ref, BASE_T + k * 30000, k);
        series_add(&e, BASE_T + k * 30000, k);
    }
    assert_int_equal(tsdb_flush_now(db), 0); /* closed chunks become blocks */
    /* Late samples over the last 2 h: some between stored blocks' samples,
     * some between the open chunk's. */
    append_late(db, &e, &ref, BASE_T + 2 * HOUR_MS, 200);
    series_check(db, &e);
    /* The flush merges those older than the in-order head into blocks. */
    assert_int_equal(tsdb_flush_now(db), 0);
    series_check(db, &e);
    /* Newer samples finish the windows; compaction archives them. */
    for (int k = 481; k <= 1200; k++) {
        tu_append(db, "m", 0, &ref, BASE_T + k * 30000, k);
        series_add(&e, BASE_T + k * 30000, k);
    }
    assert_int_equal(tsdb_maintain_now(db), 0);
    assert_true(dbi_entries(db, db->archive) > 0);
    series_check(db, &e);
    /* Late samples into an archived window come back through compaction. */
    tsdb_set_ooo_window(db, 100 * HOUR_MS);
    append_late(db, &e, &ref, BASE_T + HOUR_MS, 10);
    series_check(db, &e);
    assert_int_equal(tsdb_maintain_now(db), 0);
    series_check(db, &e);
    assert_int_equal(tsdb_flush_head(db), 0);
    series_check(db, &e);
    assert_int_equal(dbi_entries(db, db->compact), 0);
    tsdb_close(db);
    db = tu_open(dir, &o);
    series_check(db, &e);
    tsdb_close(db);
    tu_rm_rf(dir);
}

/* A child appends in-order and late samples, syncs the WAL and is killed;
 * the parent finds them all, whatever the window is now. */
static void test_late_samples_survive_kill9(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    static struct want e;
    e.n = 0;
    for (int k = 0; k <= 100; k++)
        series_add(&e, BASE_T + k * 30000, k);
    for (int k = 0; k < 50; k++)
        series_add(&e, BASE_T + k * 30000 + 15000, 1000 + k);
    pid_t pid = fork();
    if (pid == 0) {
        struct tsdb_options o = {.ooo_window_ms = HOUR_MS};
        struct tsdb *db = tu_open(dir, &o);
        uint64_t ref = 0;
        for (int k = 0; k <= 100; k++)
            tu_append(db, "m", 0, &ref, BASE_T + k * 30000, k);
        tsdb_flush_now(db); /* one closed chunk in blocks: late samples go before it */
        for (int k = 0; k < 50; k++)
            tu_append(db, "m", 0, &ref, BASE_T + k * 30000 + 15000, 1000 + k);
        tsdb_sync(db);
        raise(SIGKILL);
    }
    int status;
    waitpid(pid, &status, 0);
    assert_true(WIFSIGNALED(status));
    struct tsdb_options o = {0};
    struct tsdb *db = tu_open(dir, &o);
    series_check(db, &e);
    assert_int_equal(tsdb_flush_head(db), 0);
    series_check(db, &e);
    tsdb_close(db);
    db = tu_open(dir, &o);
    series_check(db, &e);
    tsdb_close(db);
    tu_rm_rf(dir);
}

/* Deleting a range takes late samples with it, in the head and after a
 * restart (the WAL's delete record). */
static void test_delete_covers_late_samples(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {.ooo_window_ms = HOUR_MS};
    struct tsdb *db = tu_open(dir, &o);
    static struct want e;
    e.n = 0;
    uint64_t ref = 0;
    for (int k = 0; k <= 100; k++) {
        tu_append(db, "m", 0, &ref, BASE_T + k * 30000, k);
        if (k >= 50)
            series_add(&e, BASE_T + k * 30000, k);
    }
    for (int k = 0; k < 100; k++) {
        tu_append(db, "m", 0, &ref, BASE_T + k * 30000 + 15000, 1000 + k);
        if (k >= 50)
            series_add(&e, BASE_T + k * 30000 + 15000, 1000 + k);
    }
    char err[256];
    struct label_matcher m = {LABEL_MATCH_EQ, "__name__", "m"};
    assert_int_equal(
        tsdb_delete_series(db, &m, 1, INT64_MIN, BASE_T + 49 * 30000 + 15000, err, sizeof err), 0);
    series_check(db, &e);
    tsdb_close(db);
    db = tu_open(dir, &o);
    series_check(db, &e);
    tsdb_close(db);
    tu_rm_rf(dir);
}

/* A snapshot holds the late samples still waiting in the head, merged
 * into its blocks; the live database keeps them waiting. */
static void test_snapshot_includes_late_samples(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {.ooo_window_ms = 2 * HOUR_MS};
    struct tsdb *db = tu_open(dir, &o);
    static struct want e;
    e.n = 0;
    uint64_t ref = 0;
    for (int k = 0; k <= 200; k++) {
        tu_append(db, "m", 0, &ref, BASE_T + k * 30000, k);
        series_add(&e, BASE_T + k * 30000, k);
    }
    assert_int_equal(tsdb_flush_now(db), 0);
    append_late(db, &e, &ref, BASE_T + 50 * 30000, 100);
    char name[TSDB_SNAPSHOT_NAME_LEN], err[256], path[512];
    assert_int_equal(tsdb_snapshot(db, false, name, sizeof name, err, sizeof err), 0);
    assert_true(db->ooo.nsamples == 100);
    series_check(db, &e);
    tsdb_close(db);
    snprintf(path, sizeof path, "%s/snapshots/%s", dir, name);
    struct tsdb_options so = {0};
    db = tu_open(path, &so);
    series_check(db, &e);
    tsdb_close(db);
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_rules_and_metrics),
        cmocka_unit_test(test_merge_across_blocks_heads_and_archive),
        cmocka_unit_test(test_late_samples_survive_kill9),
        cmocka_unit_test(test_delete_covers_late_samples),
        cmocka_unit_test(test_snapshot_includes_late_samples),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
