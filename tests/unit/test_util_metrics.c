/* test_util_metrics.c — the metrics registry, its exposition and procstat.
 *
 * The exposition tests compare whole texts byte for byte against what
 * client_golang prints for the same registry; promtool (when installed) is
 * the oracle for the format and the naming lints, including the process_*
 * families procstat registers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/metrics.h"
#include "util/procstat.h"

static char *registry_text(struct metrics_registry *reg)
{
    struct sbuf out = SBUF_INIT;
    metrics_registry_write_text(reg, &out);
    return sbuf_detach(&out);
}

/* Value of the first sample line that starts with `series ` in text. */
static int text_sample(const char *text, const char *series, double *v)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            *v = strtod(p + n + 1, NULL);
            return 0;
        }
    }
    return -1;
}

/* ---- exact exposition ---- */

static void test_exposition_counter_with_labels(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    const char *labels[] = {"code", "method", NULL};
    struct metric_family *f =
        metrics_counter_new(reg, "http_requests_total", "Requests served.", labels);
    assert_non_null(f);
    metric_add(metric_family_with(f, (const char *[]){"500", "POST"}), 2);
    metric_inc(metric_family_with(f, (const char *[]){"200", "GET"}));
    metric_add(metric_family_with(f, (const char *[]){"200", "GET"}), 1.5);
    metric_inc(metric_family_with(f, (const char *[]){"200", "DELETE"}));
    char *text = registry_text(reg);
    assert_string_equal(text, "# HELP http_requests_total Requests served.\n"
                              "# TYPE http_requests_total counter\n"
                              "http_requests_total{code=\"200\",method=\"DELETE\"} 1\n"
                              "http_requests_total{code=\"200\",method=\"GET\"} 2.5\n"
                              "http_requests_total{code=\"500\",method=\"POST\"} 2\n");
    free(text);
    metrics_registry_free(reg);
}

static void test_exposition_escaping(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    const char *labels[] = {"path", NULL};
    struct metric_family *f = metrics_gauge_new(
        reg, "escaped", "Help with \\ backslash,\nnewline and \"quotes\".", labels);
    metric_set(metric_family_with(f, (const char *[]){"a\"b\\c\nd"}), -3.25);
    metric_set(metric_family_with(f, (const char *[]){NULL}), 1e+21);
    char *text = registry_text(reg);
    assert_string_equal(text, "# HELP escaped Help with \\\\ backslash,\\nnewline and \"quotes\".\n"
                              "# TYPE escaped gauge\n"
                              "escaped{path=\"\"} 1e+21\n"
                              "escaped{path=\"a\\\"b\\\\c\\nd\"} -3.25\n");
    free(text);
    metrics_registry_free(reg);
}

/* Observations exactly on a bound count in that bucket (le is "<="). */
static void test_exposition_histogram(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    const double bounds[] = {0.25, 0.5, 1};
    struct metric_family *f =
        metrics_histogram_new(reg, "rpc_duration_seconds", "RPC latency.", NULL, bounds, 3);
    struct metric *m = metric_family_with(f, NULL);
    metric_observe(m, 0.25);
    metric_observe(m, 0.5);
    metric_observe(m, 0.75);
    metric_observe(m, 1);
    metric_observe(m, 2);
    char *text = registry_text(reg);
    assert_string_equal(text, "# HELP rpc_duration_seconds RPC latency.\n"
                              "# TYPE rpc_duration_seconds histogram\n"
                              "rpc_duration_seconds_bucket{le=\"0.25\"} 1\n"
                              "rpc_duration_seconds_bucket{le=\"0.5\"} 2\n"
                              "rpc_duration_seconds_bucket{le=\"1\"} 4\n"
                              "rpc_duration_seconds_bucket{le=\"+Inf\"} 5\n"
                              "rpc_duration_seconds_sum 4.5\n"
                              "rpc_duration_seconds_count 5\n");
    assert_int_equal(metric_histogram_cumulative(m, 1), 2);
    assert_true(metric_value(m) == 5);
    assert_true(metric_histogram_sum(m) == 4.5);
    free(text);
    metrics_registry_free(reg);
}

/* A summary without objectives: _sum and _count only. */
static void test_exposition_summary(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    const char *const am[] = {"alertmanager", NULL};
    struct metric_family *f = metrics_summary_new(reg, "send_seconds", "Send latency.", am);
    assert_non_null(f);
    const char *const bad[] = {"quantile", NULL};
    assert_null(metrics_summary_new(reg, "other_seconds", NULL, bad));
    const char *const v[] = {"http://a"};
    struct metric *m = metric_family_with(f, v);
    metric_observe(m, 0.25);
    metric_observe(m, 1);
    metric_add(m, 5); /* ignored: not a counter */
    char *text = registry_text(reg);
    assert_string_equal(text, "# HELP send_seconds Send latency.\n"
                              "# TYPE send_seconds summary\n"
                              "send_seconds_sum{alertmanager=\"http://a\"} 1.25\n"
                              "send_seconds_count{alertmanager=\"http://a\"} 2\n");
    assert_true(metric_value(m) == 2);
    assert_true(metric_histogram_sum(m) == 1.25);
    free(text);
    metrics_registry_free(reg);
}

static void test_exposition_default_buckets_with_labels(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    struct metric_family *f =
        metrics_histogram_new(reg, "h_seconds", "H.", (const char *[]){"handler", NULL},
                              METRICS_DEFAULT_BUCKETS, METRICS_DEFAULT_NBUCKETS);
    metric_observe(metric_family_with(f, (const char *[]){"/api"}), 0.005);
    metric_observe(metric_family_with(f, (const char *[]){"/api"}), 30);
    char *text = registry_text(reg);
    assert_string_equal(text, "# HELP h_seconds H.\n"
                              "# TYPE h_seconds histogram\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"0.005\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"0.01\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"0.025\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"0.05\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"0.1\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"0.25\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"0.5\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"1\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"2.5\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"5\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"10\"} 1\n"
                              "h_seconds_bucket{handler=\"/api\",le=\"+Inf\"} 2\n"
                              "h_seconds_sum{handler=\"/api\"} 30.005\n"
                              "h_seconds_count{handler=\"/api\"} 2\n");
    free(text);
    metrics_registry_free(reg);
}

/* Families come out sorted by name whatever the registration order; one
 * without labels shows as 0 before any update, one with labels only once it
 * has a child; no help means no HELP line. */
static void test_exposition_family_order(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    metrics_gauge_new(reg, "zeta", "Last.", NULL);
    metrics_counter_new(reg, "alpha_total", NULL, NULL);
    metrics_gauge_new(reg, "unused", "No children yet.", (const char *[]){"x", NULL});
    metrics_gauge_new(reg, "mid:ratio", "A recording-rule style name.", NULL);
    char *text = registry_text(reg);
    assert_string_equal(text, "# TYPE alpha_total counter\n"
                              "alpha_total 0\n"
                              "# HELP mid:ratio A recording-rule style name.\n"
                              "# TYPE mid:ratio gauge\n"
                              "mid:ratio 0\n"
                              "# HELP zeta Last.\n"
                              "# TYPE zeta gauge\n"
                              "zeta 0\n");
    free(text);
    metrics_registry_free(reg);
}

/* ---- registration rules and update semantics ---- */

static void test_register_rejects(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    assert_non_null(metrics_counter_new(reg, "dup_total", "x", NULL));
    assert_null(metrics_counter_new(reg, "dup_total", "x", NULL));
    assert_null(metrics_gauge_new(reg, "dup_total", "x", NULL));
    assert_null(metrics_gauge_new(reg, "1bad", "x", NULL));
    assert_null(metrics_gauge_new(reg, "bad-name", "x", NULL));
    assert_null(metrics_gauge_new(reg, "", "x", NULL));
    assert_null(metrics_gauge_new(reg, "g1", "x", (const char *[]){"a:b", NULL}));
    assert_null(metrics_gauge_new(reg, "g2", "x", (const char *[]){"__reserved", NULL}));
    assert_null(metrics_gauge_new(reg, "g3", "x", (const char *[]){"a", "a", NULL}));
    assert_null(metrics_histogram_new(reg, "h1", "x", (const char *[]){"le", NULL},
                                      METRICS_DEFAULT_BUCKETS, METRICS_DEFAULT_NBUCKETS));
    assert_null(metrics_histogram_new(reg, "h2", "x", NULL, (const double[]){1, 1}, 2));
    assert_null(metrics_histogram_new(reg, "h3", "x", NULL, (const double[]){2, 1}, 2));
    assert_non_null(metrics_gauge_new(reg, "g1", "x", (const char *[]){"a", NULL}));
    metrics_registry_free(reg);
}

static void test_children_and_types(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    struct metric_family *c = metrics_counter_new(reg, "c_total", "x", (const char *[]){"k", NULL});
    assert_int_equal(metric_family_type(c), METRIC_COUNTER);
    assert_null(metric_family_with(c, NULL));
    struct metric *a = metric_family_with(c, (const char *[]){"a"});
    assert_ptr_equal(a, metric_family_with(c, (const char *[]){"a"}));
    assert_ptr_not_equal(a, metric_family_with(c, (const char *[]){"b"}));
    metric_add(a, -1); /* counters only go up */
    metric_observe(a, 5);
    metric_dec(a);
    assert_true(metric_value(a) == 0);
    metric_add(a, 2.5);
    metric_inc(a);
    assert_true(metric_value(a) == 3.5);

    struct metric *g = metric_family_with(metrics_gauge_new(reg, "g", "x", NULL), NULL);
    metric_set(g, 10);
    metric_add(g, -4);
    metric_dec(g);
    metric_inc(g);
    metric_inc(g);
    assert_true(metric_value(g) == 7);

    /* A trailing +Inf bound is dropped rather than doubled. */
    struct metric_family *h =
        metrics_histogram_new(reg, "h", "x", NULL, (const double[]){1, 1.0 / 0.0}, 2);
    struct metric *hm = metric_family_with(h, NULL);
    metric_set(hm, 3);
    metric_observe(hm, 0.0 / 0.0); /* NaN lands in +Inf */
    assert_int_equal(metric_histogram_cumulative(hm, 0), 0);
    assert_int_equal(metric_histogram_cumulative(hm, 1), 1);
    char *text = registry_text(reg);
    assert_non_null(strstr(text, "h_bucket{le=\"1\"} 0\nh_bucket{le=\"+Inf\"} 1\nh_sum NaN\n"));
    free(text);
    metrics_registry_free(reg);
}

/* ---- concurrency ---- */

#define THREADS    4
#define ITERATIONS 100000

struct hammer {
    struct metric_family *counter, *gauge, *hist;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    /* Every thread creates the same children: only one of each may exist. */
    struct metric *c = metric_family_with(h->counter, (const char *[]){"shared"});
    struct metric *g = metric_family_with(h->gauge, NULL);
    struct metric *hist = metric_family_with(h->hist, (const char *[]){"shared"});
    for (int i = 0; i < ITERATIONS; i++) {
        metric_inc(c);
        metric_add(g, 0.5);
        metric_observe(hist, (i % 4) * 0.5); /* 0, 0.5, 1, 1.5 */
    }
    return NULL;
}

static void test_concurrent_updates_are_exact(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    struct hammer h = {
        metrics_counter_new(reg, "ops_total", "x", (const char *[]){"k", NULL}),
        metrics_gauge_new(reg, "level", "x", NULL),
        metrics_histogram_new(reg, "obs", "x", (const char *[]){"k", NULL},
                              (const double[]){0.5, 1}, 2),
    };
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, hammer_run, &h), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    struct metric *c = metric_family_with(h.counter, (const char *[]){"shared"});
    struct metric *hist = metric_family_with(h.hist, (const char *[]){"shared"});
    assert_true(metric_value(c) == (double)THREADS * ITERATIONS);
    assert_true(metric_value(metric_family_with(h.gauge, NULL)) == THREADS * ITERATIONS * 0.5);
    assert_int_equal(metric_histogram_cumulative(hist, 0), THREADS * ITERATIONS / 2);
    assert_int_equal(metric_histogram_cumulative(hist, 1), THREADS * ITERATIONS * 3 / 4);
    assert_int_equal(metric_histogram_cumulative(hist, 2), THREADS * ITERATIONS);
    assert_true(metric_histogram_sum(hist) == THREADS * ITERATIONS / 4 * 3.0);
    char *text = registry_text(reg);
    assert_non_null(strstr(text, "ops_total{k=\"shared\"} 400000\n"));
    assert_null(strstr(text, "ops_total{k=\"shared\"} 400000\nops_total{"));
    free(text);
    metrics_registry_free(reg);
}

/* Scrapes while other threads update and create children: the exposition
 * stays well-formed and _count always equals the +Inf bucket.  cmocka's
 * asserts belong to the main thread, so mismatches are counted. */
struct scraper {
    struct metrics_registry *reg;
    int mismatches;
};

static void *scrape_run(void *arg)
{
    struct scraper *s = arg;
    for (int i = 0; i < 50; i++) {
        char *text = registry_text(s->reg);
        double inf, count;
        if (text_sample(text, "obs_bucket{k=\"shared\",le=\"+Inf\"}", &inf) == 0 &&
            (text_sample(text, "obs_count{k=\"shared\"}", &count) != 0 || inf != count))
            s->mismatches++;
        free(text);
    }
    return NULL;
}

static void test_concurrent_scrapes(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    struct hammer h = {
        metrics_counter_new(reg, "ops_total", "x", (const char *[]){"k", NULL}),
        metrics_gauge_new(reg, "level", "x", NULL),
        metrics_histogram_new(reg, "obs", "x", (const char *[]){"k", NULL},
                              (const double[]){0.5, 1}, 2),
    };
    struct scraper sc[2] = {{reg, 0}, {reg, 0}};
    pthread_t t[4];
    assert_int_equal(pthread_create(&t[0], NULL, hammer_run, &h), 0);
    assert_int_equal(pthread_create(&t[1], NULL, scrape_run, &sc[0]), 0);
    assert_int_equal(pthread_create(&t[2], NULL, hammer_run, &h), 0);
    assert_int_equal(pthread_create(&t[3], NULL, scrape_run, &sc[1]), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(sc[0].mismatches + sc[1].mismatches, 0);
    metrics_registry_free(reg);
}

/* ---- collectors and procstat ---- */

static void count_collect(void *ctx)
{
    metric_inc(ctx);
}

static void test_collector_runs_before_exposition(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    struct metric *runs =
        metric_family_with(metrics_gauge_new(reg, "collections", "x", NULL), NULL);
    metrics_registry_add_collector(reg, count_collect, runs);
    char *text = registry_text(reg);
    assert_string_equal(text, "# HELP collections x\n# TYPE collections gauge\ncollections 1\n");
    free(text);
    text = registry_text(reg);
    assert_non_null(strstr(text, "collections 2\n"));
    free(text);
    metrics_registry_remove_collector(reg, count_collect, runs);
    metrics_registry_remove_collector(reg, count_collect, NULL); /* unknown: ignored */
    text = registry_text(reg);
    assert_non_null(strstr(text, "collections 2\n"));
    free(text);
    metrics_registry_free(reg);
}

static void test_procstat_values(void **state)
{
    (void)state;
    struct metrics_registry *reg = metrics_registry_new();
    struct procstat *ps = procstat_register(reg);
    assert_non_null(ps);
    assert_null(procstat_register(reg)); /* names already taken */
    char *text = registry_text(reg);
    double v;
    assert_int_equal(text_sample(text, "process_open_fds", &v), 0);
    assert_true(v >= 3);
    assert_int_equal(text_sample(text, "process_max_fds", &v), 0);
    assert_true(v >= 3);
    assert_int_equal(text_sample(text, "process_resident_memory_bytes", &v), 0);
    assert_true(v > 0);
    assert_int_equal(text_sample(text, "process_virtual_memory_bytes", &v), 0);
    assert_true(v > 0);
    assert_int_equal(text_sample(text, "process_virtual_memory_max_bytes", &v), 0);
    assert_true(v > 0);
    assert_int_equal(text_sample(text, "process_cpu_seconds_total", &v), 0);
    assert_true(v >= 0);
    assert_int_equal(text_sample(text, "process_start_time_seconds", &v), 0);
    double now = (double)time(NULL);
    assert_true(v > now - 600 && v < now + 2);
    assert_non_null(strstr(text, "# HELP process_cpu_seconds_total Total user and system CPU "
                                 "time spent in seconds.\n"));
    free(text);
    procstat_free(ps); /* the families stay; scraping no longer touches ps */
    text = registry_text(reg);
    assert_non_null(strstr(text, "\nprocess_open_fds "));
    free(text);
    metrics_registry_free(reg);
}

/* The oracle: promtool parses and lints the exposition. */
static void test_promtool_check_metrics(void **state)
{
    (void)state;
    if (access("/usr/bin/promtool", X_OK) != 0) {
        skip();
        return;
    }
    struct metrics_registry *reg = metrics_registry_new();
    struct procstat *ps = procstat_register(reg);
    assert_non_null(ps);
    struct metric_family *f = metrics_counter_new(reg, "vigil_http_requests_total",
                                                  "Requests by code.\nSecond line \\ here.",
                                                  (const char *[]){"code", "handler", NULL});
    metric_inc(metric_family_with(f, (const char *[]){"200", "/api/v1/query"}));
    metric_inc(metric_family_with(f, (const char *[]){"500", "we\"ird\\\nvalue"}));
    metric_set(
        metric_family_with(metrics_gauge_new(reg, "vigil_head_series", "Series.", NULL), NULL),
        12345678);
    struct metric_family *h = metrics_histogram_new(
        reg, "vigil_http_request_duration_seconds", "Latency.", (const char *[]){"handler", NULL},
        METRICS_DEFAULT_BUCKETS, METRICS_DEFAULT_NBUCKETS);
    for (int i = 0; i < 20; i++)
        metric_observe(metric_family_with(h, (const char *[]){"/metrics"}), i * 0.37);
    char *text = registry_text(reg);
    char path[] = "/tmp/vigil-metrics-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "/usr/bin/promtool check metrics < %s", path);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "promtool rejected:\n%s", text);
    assert_int_equal(rc, 0);
    unlink(path);
    free(text);
    procstat_free(ps);
    metrics_registry_free(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exposition_counter_with_labels),
        cmocka_unit_test(test_exposition_escaping),
        cmocka_unit_test(test_exposition_histogram),
        cmocka_unit_test(test_exposition_summary),
        cmocka_unit_test(test_exposition_default_buckets_with_labels),
        cmocka_unit_test(test_exposition_family_order),
        cmocka_unit_test(test_register_rejects),
        cmocka_unit_test(test_children_and_types),
        cmocka_unit_test(test_concurrent_updates_are_exact),
        cmocka_unit_test(test_concurrent_scrapes),
        cmocka_unit_test(test_collector_runs_before_exposition),
        cmocka_unit_test(test_procstat_values),
        cmocka_unit_test(test_promtool_check_metrics),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
