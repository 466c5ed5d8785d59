/* The PromQL evaluator over real storage: each test loads a few series
 * into a fresh tsdb in a temporary directory and checks query results
 * against values worked out by hand from Prometheus's definitions
 * (extrapolatedRate, lookback and staleness, vector matching errors,
 * aggregations, histogram_quantile's bucket interpolation). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/promql.h"
#include "storage/tsdb.h"
#include "util/sbuf.h"

#define assert_double_equal(a, b, eps) check_close((a), (b), (eps), __LINE__)

static void check_close(double got, double want, double eps, int line)
{
    if (!(fabs(got - want) <= eps || got == want))
        fail_msg("line %d: got %.17g, want %.17g", line, got, want);
}

struct fixture {
    char dir[64];
    struct tsdb *db;
};

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/vigil-test-eval-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[256];
    struct tsdb_options o;
    memset(&o, 0, sizeof o);
    assert_int_equal(tsdb_open(f->dir, &o, &f->db, err, sizeof err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    tsdb_close(f->db);
    nftw(f->dir, rm_cb, 8, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* Appends n samples v[i] at i*step_s seconds to the series name{k=v}. */
static void load(struct fixture *f, const char *name, const char *k, const char *v, int64_t step_s,
                 const double *vals, size_t n)
{
    struct label l[2] = {{"__name__", name}, {k, v}};
    struct labels ls = {l, k ? 2 : 1};
    if (k && strcmp(k, "__name__") < 0) {
        l[0] = (struct label){k, v};
        l[1] = (struct label){"__name__", name};
    }
    struct tsdb_appender *a = tsdb_appender_new(f->db);
    uint64_t ref = 0;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(
            tsdb_append(a, &ref, ref ? NULL : &ls, (int64_t)i * step_s * 1000, vals[i]), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL), 0);
    tsdb_appender_free(a);
}

static struct promql_result *query_opts(struct fixture *f, const char *q, int64_t t_s, char *err,
                                        const struct promql_eval_opts *o)
{
    struct promql_arena *a = promql_arena_new();
    struct promql_parse_error perr;
    struct promql_expr *e = promql_parse(a, q, strlen(q), PROMQL_FEATURES_ALL, &perr);
    assert_non_null(e);
    struct promql_result *r = NULL;
    char buf[512];
    int rc = promql_eval_instant(f->db, q, e, t_s * 1000, o, &r, err ? err : buf, 512);
    if (!err && rc != 0)
        fail_msg("%s: %s", q, buf);
    promql_arena_free(a);
    return r;
}

static struct promql_result *query(struct fixture *f, const char *q, int64_t t_s, char *err)
{
    return query_opts(f, q, t_s, err, NULL);
}

/* The single value of an instant vector result with one series. */
static double one(struct fixture *f, const char *q, int64_t t_s)
{
    struct promql_result *r = query(f, q, t_s, NULL);
    assert_int_equal(r->type, PROMQL_VECTOR);
    if (r->nseries != 1)
        fail_msg("%s: %zu series", q, r->nseries);
    double v = r->series[0].points[0].v;
    promql_result_free(r);
    return v;
}

static size_t count(struct fixture *f, const char *q, int64_t t_s)
{
    struct promql_result *r = query(f, q, t_s, NULL);
    size_t n = r->nseries;
    promql_result_free(r);
    return n;
}

static void test_rate_extrapolation(void **state)
{
    struct fixture *f = *state;
    /* 0, 10, ..., 100 every 60 s */
    double v[11];
    for (int i = 0; i < 11; i++)
        v[i] = 10 * i;
    load(f, "c_total", "job", "a", 60, v, 11);
    /* Window (300, 600]: samples at 360..600, 5 of them, 40 apart in value.
     * Start is 60 s from the first sample = the average interval, below
     * 1.1 * 60, so extrapolate the whole way: 40 * 300/240 = 50. */
    assert_double_equal(one(f, "increase(c_total[5m])", 600), 50, 1e-9);
    assert_double_equal(one(f, "rate(c_total[5m])", 600), 50.0 / 300, 1e-12);
    /* A reset adds the value before it. */
    double r[] = {5, 10, 2, 4};
    load(f, "r_total", NULL, NULL, 60, r, 4);
    /* 5, 10, 2, 4: one reset; the last two samples give irate/idelta. */
    assert_double_equal(one(f, "resets(r_total[5m])", 180), 1, 0);
    assert_double_equal(one(f, "irate(r_total[5m])", 180), 2.0 / 60, 1e-12);
    assert_double_equal(one(f, "idelta(r_total[5m])", 180), 2, 0);
    assert_double_equal(one(f, "delta(c_total[5m])", 600), 50, 1e-9);
}

static void test_lookback_and_staleness(void **state)
{
    struct fixture *f = *state;
    uint64_t bits = TSDB_STALE_NAN_BITS;
    double stale;
    memcpy(&stale, &bits, 8);
    double v[] = {1, 2, stale, 4};
    load(f, "g", NULL, NULL, 60, v, 4);
    assert_double_equal(one(f, "g", 90), 2, 0);
    assert_int_equal(count(f, "g", 150), 0); /* the stale marker hides it */
    assert_double_equal(one(f, "g", 180), 4, 0);
    assert_double_equal(one(f, "g", 180 + 299), 4, 0); /* within 5m */
    assert_int_equal(count(f, "g", 180 + 300), 0);     /* (t-5m, t] is left-open */
    /* range selectors ignore the marker */
    assert_double_equal(one(f, "count_over_time(g[10m])", 180), 3, 0);
    assert_double_equal(one(f, "g offset 1m", 120), 2, 0);
    assert_double_equal(one(f, "g @ 60", 1000), 2, 0);
}

static void test_vector_matching_errors(void **state)
{
    struct fixture *f = *state;
    double one_v[] = {1};
    load(f, "m", "x", "a", 60, one_v, 1);
    load(f, "m", "x", "b", 60, one_v, 1);
    load(f, "s", "x", "a", 60, one_v, 1);
    char err[512];
    struct promql_result *r = query(f, "s + on() m", 0, err);
    assert_null(r);
    assert_non_null(strstr(
        err, "many-to-many matching not allowed: matching labels must be unique on one side"));
    r = query(f, "m + on() group_left s", 0, err);
    assert_non_null(r);
    assert_int_equal(r->nseries, 2);
    promql_result_free(r);
    r = query(f, "m * ignoring(x) m", 0, err);
    assert_null(r);
    r = query(f, "m + s", 0, NULL);
    assert_int_equal(r->nseries, 1); /* the metric name is not part of the match */
    promql_result_free(r);
    assert_double_equal(one(f, "s + ignoring(__name__) m{x=\"a\"}", 0), 2, 0);
    assert_int_equal(count(f, "m and s", 0), 1);
    assert_int_equal(count(f, "m unless on(x) s", 0), 1);
    assert_int_equal(count(f, "m or s", 0), 2);
    r = query(f, "-{x=\"a\"}", 0, err); /* m and s lose their names */
    assert_null(r);
    assert_string_equal(err, "vector cannot contain metrics with the same labelset");
}

static void test_aggregations(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"a", "b", "c", "d"};
    double vals[] = {1, 2, 3, 10};
    for (int i = 0; i < 4; i++)
        load(f, "v", "i", names[i], 60, &vals[i], 1);
    assert_double_equal(one(f, "sum(v)", 0), 16, 0);
    assert_double_equal(one(f, "avg(v)", 0), 4, 0);
    assert_double_equal(one(f, "count(v)", 0), 4, 0);
    assert_double_equal(one(f, "max(v)", 0), 10, 0);
    assert_double_equal(one(f, "min(v)", 0), 1, 0);
    assert_double_equal(one(f, "stdvar(v)", 0), 12.5, 1e-12);
    assert_double_equal(one(f, "quantile(0.5, v)", 0), 2.5, 1e-12);
    assert_double_equal(one(f, "topk(1, v)", 0), 10, 0);
    assert_double_equal(one(f, "bottomk(1, v)", 0), 1, 0);
    assert_int_equal(count(f, "count_values(\"val\", v)", 0), 4);
    assert_int_equal(count(f, "sum by (i) (v)", 0), 4);
    assert_int_equal(count(f, "sum without (i) (v)", 0), 1);
}

static void test_histogram_quantile(void **state)
{
    struct fixture *f = *state;
    /* cumulative buckets le=1: 10, le=2: 20, le=+Inf: 20 */
    double b1[] = {10}, b2[] = {20}, binf[] = {20};
    load(f, "h_bucket", "le", "1", 60, b1, 1);
    load(f, "h_bucket", "le", "2", 60, b2, 1);
    load(f, "h_bucket", "le", "+Inf", 60, binf, 1);
    assert_double_equal(one(f, "histogram_quantile(0.5, h_bucket)", 0), 1, 1e-12);
    assert_double_equal(one(f, "histogram_quantile(0.75, h_bucket)", 0), 1.5, 1e-12);
    assert_double_equal(one(f, "histogram_quantile(0.25, h_bucket)", 0), 0.5, 1e-12);
    assert_true(isinf(one(f, "histogram_quantile(2, h_bucket)", 0)));
}

static void test_range_query_and_json(void **state)
{
    struct fixture *f = *state;
    double v[] = {1, 2, 3};
    load(f, "g", NULL, NULL, 60, v, 3);
    struct promql_arena *a = promql_arena_new();
    const char *q = "g * 2";
    struct promql_expr *e = promql_parse(a, q, strlen(q), PROMQL_FEATURES_ALL, NULL);
    struct promql_result *r;
    char err[256];
    assert_int_equal(promql_eval_range(f->db, q, e, 0, 120000, 60000, NULL, &r, err, sizeof err),
                     0);
    struct sbuf b = SBUF_INIT;
    promql_result_json(r, &b);
    assert_string_equal(b.data, "{\"resultType\":\"matrix\",\"result\":[{\"metric\":{},\"values\":"
                                "[[0,\"2\"],[60,\"4\"],[120,\"6\"]]}]}");
    sbuf_free(&b);
    promql_result_free(r);
    promql_arena_free(a);
}

/* The experimental parts Prometheus's runner enables: fill(), anchored /
 * smoothed ranges, info(). */
static void test_experimental(void **state)
{
    struct fixture *f = *state;
    double a[] = {10}, b[] = {100};
    load(f, "l", "k", "a", 60, a, 1);
    load(f, "r", "k", "b", 60, b, 1);
    /* no partners: each side stands in for the other with the fill value */
    assert_int_equal(count(f, "l + r", 0), 0);
    assert_double_equal(one(f, "l + fill_right(1) r", 0), 11, 0);
    assert_double_equal(one(f, "l + fill_left(2) r", 0), 102, 0);
    assert_int_equal(count(f, "l + fill(0) r", 0), 2);
    /* 1 2 3 4 5 at 0..60 s, 9 10 at 75, 90: the anchor before (20, 80] is
     * 2 @ 15, so increase is 9 - 2; smoothed interpolates both edges */
    double c[] = {1, 2, 3, 4, 5, 9, 10};
    load(f, "c", NULL, NULL, 15, c, 7);
    assert_double_equal(one(f, "increase(c[1m] anchored)", 80), 7, 1e-12);
    assert_double_equal(one(f, "increase(c[1m] smoothed)", 35), 7.0 / 3, 1e-9);
    assert_double_equal(one(f, "c smoothed", 5), 1 + 5.0 / 15, 1e-12);
    char err[512];
    assert_null(query(f, "max_over_time(c[1m] anchored)", 80, err));
    assert_string_equal(err, "anchored modifier can only be used with: changes, delta, increase, "
                             "rate, resets - not with max_over_time");
    /* info(): target_info's data labels by instance/job */
    struct label m[] = {{"__name__", "m"}, {"instance", "x"}, {"job", "j"}};
    struct label ti[] = {
        {"__name__", "target_info"}, {"instance", "x"}, {"job", "j"}, {"zone", "z1"}};
    struct labels ml = {m, 3}, tl = {ti, 4};
    struct tsdb_appender *ap = tsdb_appender_new(f->db);
    uint64_t r1 = 0, r2 = 0;
    assert_int_equal(tsdb_append(ap, &r1, &ml, 0, 7), 0);
    assert_int_equal(tsdb_append(ap, &r2, &tl, 0, 1), 0);
    assert_int_equal(tsdb_appender_commit(ap, NULL), 0);
    tsdb_appender_free(ap);
    struct promql_result *res = query(f, "info(m)", 60, NULL);
    assert_int_equal(res->nseries, 1);
    struct labels *ls = &res->series[0].labels;
    assert_int_equal(ls->n, 4);
    assert_string_equal(ls->v[3].name, "zone");
    assert_string_equal(ls->v[3].value, "z1");
    promql_result_free(res);
    assert_int_equal(count(f, "info(m, {zone=\"other\"})", 60), 0);
}

static void test_max_samples(void **state)
{
    struct fixture *f = *state;
    double v[100];
    for (int i = 0; i < 100; i++)
        v[i] = i;
    load(f, "g", NULL, NULL, 1, v, 100);
    struct promql_arena *a = promql_arena_new();
    const char *q = "count_over_time(g[100s])";
    struct promql_expr *e = promql_parse(a, q, strlen(q), PROMQL_FEATURES_ALL, NULL);
    struct promql_result *r;
    char err[256];
    struct promql_eval_opts o = {.max_samples = 50};
    assert_int_equal(promql_eval_instant(f->db, q, e, 99000, &o, &r, err, sizeof err), -1);
    assert_string_equal(
        err, "query processing would load too many samples into memory in query execution");
    promql_arena_free(a);
}

/* Appends n samples v[i] at (i+1)*60 s with start timestamps st[i] (ms). */
static void load_st(struct fixture *f, const char *name, const double *vals, const int64_t *sts,
                    size_t n)
{
    struct label l[1] = {{"__name__", name}};
    struct labels ls = {l, 1};
    struct tsdb_appender *a = tsdb_appender_new(f->db);
    uint64_t ref = 0;
    for (size_t i = 0; i < n; i++)
        assert_int_equal(
            tsdb_append_st(a, &ref, ref ? NULL : &ls, (int64_t)(i + 1) * 60000, vals[i], sts[i]),
            0);
    assert_int_equal(tsdb_appender_commit(a, NULL), 0);
    tsdb_appender_free(a);
}

/* The single value of q at t_s with or without use_start_timestamps;
 * NAN when the result is empty. */
static double one_st(struct fixture *f, const char *q, int64_t t_s, bool use_st)
{
    struct promql_eval_opts o = {.use_start_timestamps = use_st};
    struct promql_result *r = query_opts(f, q, t_s, NULL, &o);
    assert_int_equal(r->type, PROMQL_VECTOR);
    assert_true(r->nseries <= 1);
    double v = r->nseries ? r->series[0].points[0].v : NAN;
    promql_result_free(r);
    return v;
}

/* use_start_timestamps: a delta series (each sample starts at the one
 * before) reads as a counter reset at every sample, a restart that the
 * values do not show is a reset, a start inside the range replaces the
 * extrapolation, start_timestamp() returns the STs; without the option
 * all of it is off.  Overlapping STs warn at the range argument. */
static void test_start_timestamps(void **state)
{
    struct fixture *f = *state;
    double d[10];
    int64_t dst[10];
    for (int i = 0; i < 10; i++) {
        d[i] = 60;
        dst[i] = (int64_t)i * 60000; /* the previous sample's time */
    }
    load_st(f, "d", d, dst, 10); /* samples at 60..600 s */
    assert_double_equal(one_st(f, "increase(d[5m])", 600, true), 300, 1e-9);
    assert_double_equal(one_st(f, "increase(d[5m])", 600, false), 0, 0);
    assert_double_equal(one_st(f, "irate(d[5m])", 600, true), 1, 1e-12);
    assert_double_equal(one_st(f, "irate(d[5m])", 600, false), 0, 0);
    assert_double_equal(one_st(f, "resets(d[5m])", 600, true), 4, 0);
    assert_double_equal(one_st(f, "resets(d[5m])", 600, false), 0, 0);
    assert_double_equal(one_st(f, "start_timestamp(d)", 600, true), 540, 0);
    assert_true(isnan(one_st(f, "start_timestamp(d)", 600, false)));
    assert_true(isnan(one_st(f, "start_timestamp(d * 1)", 600, true)));
    assert_double_equal(one_st(f, "increase(d[5m:1m])", 600, true), 0, 0); /* subqueries cut STs */

    /* 10, 20, 30 started at 30 s; the third restarted at 150 s without the
     * value dropping.  From the start at 30 s (inside (0, 180]) the counter
     * is taken from 0: 10 + 10 + 30 = 50 over 150 s, no extrapolation. */
    double c[3] = {10, 20, 30};
    int64_t cst[3] = {30000, 30000, 150000};
    load_st(f, "c", c, cst, 3);
    assert_double_equal(one_st(f, "resets(c[3m])", 180, true), 1, 0);
    assert_double_equal(one_st(f, "increase(c[3m])", 180, true), 50, 1e-9);
    assert_double_equal(one_st(f, "start_timestamp(c)", 180, true), 150, 0);
    /* a series without STs: start_timestamp() is 0 */
    double p[2] = {1, 2};
    load(f, "plain", NULL, NULL, 60, p, 2);
    assert_double_equal(one_st(f, "start_timestamp(plain)", 60, true), 0, 0);

    /* ST 0 s, 60 s, 120 s at 60 s, 120 s, 180 s: each starts before the
     * previous sample without being its start. */
    double o[3] = {60, 120, 180};
    int64_t ost[3] = {0, 60000, 120000 - 1};
    load_st(f, "o_total", o, ost, 3);
    struct promql_eval_opts on = {.use_start_timestamps = true};
    struct promql_result *r = query_opts(f, "rate(o_total[3m])", 180, NULL, &on);
    assert_int_equal(r->nwarnings, 1);
    assert_string_equal(r->warnings[0], "PromQL warning: sample has start time that overlaps with "
                                        "previous sample timestamp for metric \"o_total\" (1:6)");
    promql_result_free(r);
    r = query(f, "rate(o_total[3m])", 180, NULL);
    assert_int_equal(r->nwarnings, 0);
    promql_result_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rate_extrapolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lookback_and_staleness, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vector_matching_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aggregations, setup, teardown),
        cmocka_unit_test_setup_teardown(test_histogram_quantile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_range_query_and_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_samples, setup, teardown),
        cmocka_unit_test_setup_teardown(test_experimental, setup, teardown),
        cmocka_unit_test_setup_teardown(test_start_timestamps, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
