/* Series garbage collection and time retention's reference point
 * (storage/gc.c, storage/retention.c): series that retention or deletes
 * leave with no sample disappear from selects, label values, statistics
 * and the head, durably; series that keep samples stay; a ref cached by
 * an ingest path for a removed series is reset, not written into the
 * void; time retention counts back from the newest data, not from now. */
#include "storage_testutil.h"

#define DAY_MS (24 * HOUR_MS)
#define STEP   15000

/* n samples of metric{i} every step ms from t0, one batch each. */
static void append_run(struct tsdb *db, const char *metric, int i, int64_t t0, int64_t step, int n)
{
    uint64_t ref = 0;
    for (int k = 0; k < n; k++)
        assert_int_equal(tu_append(db, metric, i, &ref, t0 + k * step, k).appended, 1);
}

static uint64_t head_series(struct tsdb *db, uint64_t *index_series)
{
    struct tsdb_head_stats hs;
    tsdb_head_stats_get(db, &hs);
    if (index_series)
        *index_series = hs.index_series;
    return hs.series;
}

static void test_retention_collects_empty_series(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct metrics_registry *reg = metrics_registry_new();
    struct tsdb_options o = {.retention_ms = DAY_MS, .metrics = reg};
    struct tsdb *db = tu_open(dir, &o);
    /* Four series with 4 h of samples, then silence; one that has those
     * and more 10 days later; one with only the later samples. */
    uint64_t old_ref = 0;
    for (int i = 0; i < 4; i++)
        append_run(db, "old", i, BASE_T, STEP, 960);
    tu_append(db, "old", 0, &old_ref, BASE_T + 960 * STEP, 1); /* caches the ref */
    append_run(db, "mixed", 0, BASE_T, STEP, 960);
    int64_t later = BASE_T + 10 * DAY_MS;
    append_run(db, "mixed", 0, later, STEP, 241);
    append_run(db, "new", 0, later, STEP, 241);
    assert_int_equal(head_series(db, NULL), 6);

    assert_int_equal(tsdb_maintain_now(db), 0);
    int64_t ts[2000];
    double vs[2000];
    for (int i = 0; i < 4; i++)
        assert_int_equal(tu_read(db, "old", i, ts, vs, 2000), 0);
    assert_int_equal(tu_read(db, "mixed", 0, ts, vs, 2000), 241);
    assert_int_equal(ts[0], later);
    assert_int_equal(tu_read(db, "new", 0, ts, vs, 2000), 241);
    assert_false(tu_has_value(db, "__name__", "old"));
    assert_true(tu_has_value(db, "__name__", "mixed"));
    assert_false(tu_has_value(db, "i", "3"));
    uint64_t index_series;
    assert_int_equal(head_series(db, &index_series), 2);
    assert_int_equal(index_series, 2);
    assert_true(tu_metric(reg, "prometheus_tsdb_head_series") == 2);
    struct tsdb_stats st;
    char err[256];
    assert_int_equal(tsdb_stats_get(db, 10, &st, err, sizeof err), 0);
    assert_int_equal(st.num_series, 2);
    tsdb_stats_free(&st);

    /* The ref cached before the series went: its sample is dropped and the
     * ref reset; named by labels again, the series comes back. */
    struct tsdb_commit_stats cs = tu_append(db, "old", 0, &old_ref, later + 241 * STEP, 7);
    assert_int_equal(cs.unknown_series, 1);
    assert_int_equal(cs.appended, 0);
    assert_int_equal(old_ref, 0);
    cs = tu_append(db, "old", 0, &old_ref, later + 241 * STEP, 7);
    assert_int_equal(cs.series_created, 1);
    assert_int_equal(cs.appended, 1);
    assert_int_equal(tu_read(db, "old", 0, ts, vs, 2000), 1);

    /* Durable: a restart does not bring the removed series back. */
    tsdb_close(db);
    metrics_registry_free(reg);
    o.metrics = NULL;
    db = tu_open(dir, &o);
    assert_false(tu_has_value(db, "i", "3"));
    assert_int_equal(tu_read(db, "old", 1, ts, vs, 2000), 0);
    assert_int_equal(tu_read(db, "old", 0, ts, vs, 2000), 1);
    assert_int_equal(tu_read(db, "mixed", 0, ts, vs, 2000), 241);
    head_series(db, &index_series);
    assert_int_equal(index_series, 3);
    tsdb_close(db);
    tu_rm_rf(dir);
}

/* Prometheus's BeyondTimeRetention: the newest data is the reference, and
 * whole windows go once the newest finished window's end is retention
 * past their end.  Data from 2023 is not all deleted because it is old. */
static void test_time_retention_counts_from_newest_data(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {.retention_ms = DAY_MS};
    struct tsdb *db = tu_open(dir, &o);
    int64_t step = 15 * 60 * 1000;
    int n = (int)(3 * DAY_MS / step) + 1;
    append_run(db, "a", 0, BASE_T, step, n);
    assert_int_equal(tsdb_maintain_now(db), 0);
    int64_t ts[400];
    double vs[400];
    size_t got = tu_read(db, "a", 0, ts, vs, 400);
    /* newest = BASE_T + 3 d; the newest finished window ends at 3 d - 2 h;
     * windows ending by 2 d - 2 h go. */
    int64_t keep_from = BASE_T + 2 * DAY_MS - 2 * HOUR_MS;
    assert_int_equal(ts[0], keep_from);
    assert_int_equal(got, (size_t)((BASE_T + 3 * DAY_MS - keep_from) / step + 1));
    /* A second run with no newer data deletes nothing more. */
    assert_int_equal(tsdb_maintain_now(db), 0);
    assert_int_equal(tu_read(db, "a", 0, ts, vs, 400), got);
    tsdb_close(db);
    tu_rm_rf(dir);
}

/* Admin deletes: a series with no sample left is still listed (as
 * Prometheus lists it until its tombstones are cleaned) and goes at
 * clean_tombstones; a partly deleted one stays. */
static void test_delete_then_clean_tombstones(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {0};
    struct tsdb *db = tu_open(dir, &o);
    append_run(db, "d", 0, BASE_T, STEP, 600);
    append_run(db, "d", 1, BASE_T, STEP, 600);
    assert_int_equal(tsdb_flush_now(db), 0);
    char err[256];
    struct label_matcher m0[2] = {{LABEL_MATCH_EQ, "__name__", "d"}, {LABEL_MATCH_EQ, "i", "0"}};
    struct label_matcher m1[2] = {{LABEL_MATCH_EQ, "__name__", "d"}, {LABEL_MATCH_EQ, "i", "1"}};
    assert_int_equal(tsdb_delete_series(db, m0, 2, INT64_MIN, INT64_MAX, err, sizeof err), 0);
    assert_int_equal(tsdb_delete_series(db, m1, 2, INT64_MIN, BASE_T + 299 * STEP, err, sizeof err),
                     0);
    int64_t ts[700];
    double vs[700];
    assert_int_equal(tu_read(db, "d", 0, ts, vs, 700), 0);
    assert_true(tu_has_value(db, "i", "0"));
    assert_int_equal(tsdb_clean_tombstones(db, err, sizeof err), 0);
    assert_false(tu_has_value(db, "i", "0"));
    assert_true(tu_has_value(db, "i", "1"));
    assert_int_equal(tu_read(db, "d", 1, ts, vs, 700), 300);
    uint64_t index_series;
    assert_int_equal(head_series(db, &index_series), 1);
    assert_int_equal(index_series, 1);
    tsdb_close(db);
    db = tu_open(dir, &o);
    assert_false(tu_has_value(db, "i", "0"));
    assert_int_equal(tu_read(db, "d", 1, ts, vs, 700), 300);
    tsdb_close(db);
    tu_rm_rf(dir);
}

/* Quiet series leave the head (memory, prometheus_tsdb_head_series) but
 * not the index; when they come back, the ordering rules still know
 * their stored samples. */
static void test_quiet_series_leave_the_head(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    struct tsdb_options o = {0};
    struct tsdb *db = tu_open(dir, &o);
    uint64_t ref = 0;
    for (int k = 0; k < 10; k++)
        tu_append(db, "q", 0, &ref, BASE_T + k * STEP, k);
    append_run(db, "busy", 0, BASE_T + HOUR_MS, STEP, 10); /* q is idle for 1 h now */
    assert_int_equal(tsdb_flush_now(db), 0);
    uint64_t index_series;
    assert_int_equal(head_series(db, &index_series), 1);
    assert_int_equal(index_series, 2);
    struct tsdb_commit_stats cs = tu_append(db, "q", 0, &ref, BASE_T + 5 * STEP, 0);
    assert_int_equal(cs.out_of_order, 1);
    cs = tu_append(db, "q", 0, &ref, BASE_T + 9 * STEP, 9);
    assert_int_equal(cs.appended, 0);
    assert_int_equal(cs.duplicate + cs.out_of_order, 0); /* the same sample: a no-op */
    cs = tu_append(db, "q", 0, &ref, BASE_T + 10 * STEP, 10);
    assert_int_equal(cs.appended, 1);
    int64_t ts[20];
    double vs[20];
    assert_int_equal(tu_read(db, "q", 0, ts, vs, 20), 11);
    tsdb_close(db);
    tu_rm_rf(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_retention_collects_empty_series),
        cmocka_unit_test(test_time_retention_counts_from_newest_data),
        cmocka_unit_test(test_delete_then_clean_tombstones),
        cmocka_unit_test(test_quiet_series_leave_the_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
