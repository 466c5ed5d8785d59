/* test_scrape_append.c — a scraped page into storage, as a specification.
 *
 * Pages go through scrape_append_page into a real tsdb in a temporary
 * directory and are read back with tsdb_select: the target's labels on every
 * series (exported_ on conflict, or the page's with honor_labels), the five
 * report series, metric_relabel_configs drops, honored timestamps, limits
 * failing the scrape, and staleness markers for series that vanish or for a
 * failed scrape — Prometheus's scrapeLoop behaviour. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scrape/scrape_internal.h"

struct fx {
    char dir[64];
    struct tsdb *db;
    struct prom_config *cfg;
    struct job_targets *jt;
    const struct scrape_target *t;
    struct relabel_rules *mrules;
    struct scrape_cache *cache;
};

static void fx_open(struct fx *f, const char *job_yaml)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/vigil-scrape-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char err[512];
    struct tsdb_options opts = {0};
    if (tsdb_open(f->dir, &opts, &f->db, err, sizeof err) < 0)
        fail_msg("tsdb_open: %s", err);
    char yaml[2048];
    snprintf(yaml, sizeof yaml,
             "scrape_configs:\n  - job_name: app\n    static_configs: [{targets: ['h:1'], "
             "labels: {team: a}}]\n%s",
             job_yaml);
    struct conf_error ce = {{0}};
    if (prom_config_load_string("t.yml", yaml, strlen(yaml), &f->cfg, &ce) < 0)
        fail_msg("config: %s", ce.msg);
    assert_int_equal(job_targets_new(&f->cfg->scrape_configs[0], NULL, &f->jt, err, sizeof err), 0);
    job_targets_refresh(f->jt, 0);
    assert_int_equal(job_targets_current(f->jt)->n_active, 1);
    f->t = &job_targets_current(f->jt)->active[0];
    assert_int_equal(relabel_rules_compile(&f->cfg->scrape_configs[0].metric_relabel_configs,
                                           PROM_NAMES_UTF8, &f->mrules, err, sizeof err),
                     0);
    f->cache = scrape_cache_new();
}

static void fx_close(struct fx *f)
{
    scrape_cache_free(f->cache);
    relabel_rules_free(f->mrules);
    job_targets_free(f->jt);
    prom_config_free(f->cfg);
    tsdb_close(f->db);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
}

/* One scrape as the loop does it: page (or failure) in format fmt, report,
 * one commit; store_st as --enable-feature=st-storage sets it. */
static int scrape_as(struct fx *f, const char *page, int64_t t, struct scrape_page_result *r,
                     enum textparse_format fmt, bool store_st)
{
    struct scrape_page_opts o = {&f->cfg->scrape_configs[0], f->t, f->mrules, store_st};
    struct tsdb_appender *app = tsdb_appender_new(f->db);
    int rc = page ? scrape_append_page(app, f->cache, &o, fmt, page, strlen(page), t, r) : -1;
    if (rc < 0) {
        struct scrape_page_result fr = *r;
        if (!page)
            memset(&fr, 0, sizeof fr);
        tsdb_appender_rollback(app);
        scrape_cache_iter_done(f->cache, false);
        scrape_append_failed(app, f->cache, t, &fr);
        r->stale_markers = fr.stale_markers;
    }
    assert_int_equal(scrape_append_report(app, f->cache, f->t, t, rc == 0, 0.5, r), 0);
    assert_int_equal(tsdb_appender_commit(app, NULL), 0);
    scrape_cache_iter_done(f->cache, true);
    tsdb_appender_free(app);
    return rc;
}

static int scrape(struct fx *f, const char *page, int64_t t, struct scrape_page_result *r)
{
    return scrape_as(f, page, t, r, TEXTPARSE_PROMETHEUS, false);
}

/* The samples of the one series matching name (and label=value if given),
 * as "t:v" pairs ("t:stale" for markers), and its labels. */
static char *series(struct fx *f, const char *name, const char *lname, const char *lvalue,
                    char **labels_out)
{
    struct label_matcher m[2] = {{LABEL_MATCH_EQ, "__name__", name},
                                 {LABEL_MATCH_EQ, lname, lvalue}};
    struct tsdb_series_set *set;
    char err[256];
    assert_int_equal(tsdb_select(f->db, m, lname ? 2 : 1, 0, INT64_MAX, &set, err, sizeof err), 0);
    const struct labels *ls;
    const int64_t *ts;
    const double *vs;
    size_t n;
    struct sbuf b = SBUF_INIT;
    sbuf_append(&b, "", 0);
    int count = 0;
    while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
        count++;
        for (size_t i = 0; i < n; i++) {
            uint64_t bits;
            memcpy(&bits, &vs[i], sizeof bits);
            if (bits == TSDB_STALE_NAN_BITS)
                sbuf_printf(&b, "%s%lld:stale", i ? " " : "", (long long)ts[i]);
            else
                sbuf_printf(&b, "%s%lld:%g", i ? " " : "", (long long)ts[i], vs[i]);
        }
        if (labels_out) {
            struct sbuf l = SBUF_INIT;
            sbuf_append(&l, "", 0);
            for (size_t i = 0; i < ls->n; i++)
                sbuf_printf(&l, "%s%s=%s", i ? "|" : "", ls->v[i].name, ls->v[i].value);
            *labels_out = sbuf_detach(&l);
        }
    }
    tsdb_series_set_free(set);
    if (count > 1)
        fail_msg("%s: %d series", name, count);
    return sbuf_detach(&b);
}

static void assert_series(struct fx *f, const char *name, const char *ln, const char *lv,
                          const char *want)
{
    char *got = series(f, name, ln, lv, NULL);
    if (strcmp(got, want) != 0)
        fail_msg("%s{%s=%s}\n  want %s\n  got  %s", name, ln ? ln : "", lv ? lv : "", want, got);
    free(got);
}

static void test_pages_report_staleness(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "    metric_relabel_configs: [{source_labels: [__name__], regex: 'python_gc_.*', "
                "action: drop}]\n");
    struct scrape_page_result r;
    const char *p1 = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\n"
                     "a_total{x=\"2\"} 2\nb 5\npython_gc_objects 7\n";
    assert_int_equal(scrape(&f, p1, 1000, &r), 0);
    assert_int_equal(r.samples_scraped, 4);
    assert_int_equal(r.samples_post, 3);
    assert_int_equal(r.series_added, 3);
    char *labels = NULL;
    free(series(&f, "a_total", "x", "1", &labels));
    assert_string_equal(labels, "__name__=a_total|instance=h:1|job=app|team=a|x=1");
    free(labels);
    assert_series(&f, "up", NULL, NULL, "1000:1");
    free(series(&f, "up", NULL, NULL, &labels));
    assert_string_equal(labels, "__name__=up|instance=h:1|job=app|team=a");
    free(labels);
    assert_series(&f, "scrape_samples_scraped", NULL, NULL, "1000:4");
    assert_series(&f, "scrape_samples_post_metric_relabeling", NULL, NULL, "1000:3");
    assert_series(&f, "scrape_series_added", NULL, NULL, "1000:3");
    assert_series(&f, "scrape_duration_seconds", NULL, NULL, "1000:0.5");
    assert_series(&f, "python_gc_objects", NULL, NULL, "");

    /* Same page again: all cache hits, nothing added. */
    assert_int_equal(scrape(&f, p1, 2000, &r), 0);
    assert_int_equal(r.series_added, 0);
    assert_int_equal(r.stale_markers, 0);
    assert_int_equal(scrape_cache_size(f.cache), 4);

    /* x="2" vanishes: one stale marker at the scrape's time. */
    const char *p2 = "a_total{x=\"1\"} 3\nb 6\nc 1\n";
    assert_int_equal(scrape(&f, p2, 3000, &r), 0);
    assert_int_equal(r.stale_markers, 1);
    assert_int_equal(r.series_added, 1);
    assert_series(&f, "a_total", "x", "2", "1000:2 2000:2 3000:stale");
    assert_series(&f, "a_total", "x", "1", "1000:1 2000:1 3000:3");

    /* A failed scrape: every series of the last good one goes stale, up 0. */
    assert_int_equal(scrape(&f, NULL, 4000, &r), -1);
    assert_int_equal(r.stale_markers, 3);
    assert_series(&f, "b", NULL, NULL, "1000:5 2000:5 3000:6 4000:stale");
    assert_series(&f, "up", NULL, NULL, "1000:1 2000:1 3000:1 4000:0");
    /* ... and only once. */
    assert_int_equal(scrape(&f, NULL, 5000, &r), -1);
    assert_int_equal(r.stale_markers, 0);
    /* Back: the series resolve again (by labels) and continue. */
    assert_int_equal(scrape(&f, p2, 6000, &r), 0);
    assert_series(&f, "c", NULL, NULL, "3000:1 4000:stale 6000:1");

    /* A parse error fails the scrape: previous series go stale. */
    assert_int_equal(scrape(&f, "a_total{x=\"1\" 3\n", 7000, &r), -1);
    assert_non_null(strstr(r.err, "line 1"));
    assert_series(&f, "c", NULL, NULL, "3000:1 4000:stale 6000:1 7000:stale");
    fx_close(&f);
}

static void test_labels_and_timestamps(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "");
    struct scrape_page_result r;
    /* Conflicting labels are kept as exported_<name>; explicit timestamps
     * are honored (and such series are not tracked for staleness). */
    assert_int_equal(
        scrape(&f, "m{job=\"j\",exported_job=\"e\",instance=\"i\"} 1\nt 2 500\n", 1000, &r), 0);
    char *labels = NULL;
    free(series(&f, "m", NULL, NULL, &labels));
    assert_string_equal(labels, "__name__=m|exported_exported_job=j|exported_instance=i|"
                                "exported_job=e|instance=h:1|job=app|team=a");
    free(labels);
    assert_series(&f, "t", NULL, NULL, "500:2");
    assert_int_equal(scrape(&f, "m{job=\"j\",exported_job=\"e\",instance=\"i\"} 1\n", 2000, &r), 0);
    assert_int_equal(r.stale_markers, 0); /* t had a timestamp */
    fx_close(&f);

    fx_open(&f, "    honor_labels: true\n    honor_timestamps: false\n");
    assert_int_equal(scrape(&f, "m{job=\"j\"} 1\nt 2 500\n", 1000, &r), 0);
    free(series(&f, "m", NULL, NULL, &labels));
    assert_string_equal(labels, "__name__=m|instance=h:1|job=j|team=a");
    free(labels);
    assert_series(&f, "t", NULL, NULL, "1000:2");
    assert_int_equal(scrape(&f, "m{job=\"j\"} 1\n", 2000, &r), 0);
    assert_int_equal(r.stale_markers, 1); /* t's timestamp was ignored */
    fx_close(&f);
}

static void test_limits(void **state)
{
    (void)state;
    struct fx f;
    struct scrape_page_result r;
    fx_open(&f, "    sample_limit: 2\n");
    assert_int_equal(scrape(&f, "a 1\nb 1\n", 1000, &r), 0);
    assert_int_equal(scrape(&f, "a 1\nb 1\nc 1\n", 2000, &r), -1);
    assert_string_equal(r.err, "sample limit exceeded");
    assert_series(&f, "a", NULL, NULL, "1000:1 2000:stale");
    assert_series(&f, "c", NULL, NULL, "");
    assert_series(&f, "up", NULL, NULL, "1000:1 2000:0");
    fx_close(&f);

    fx_open(&f, "    label_limit: 5\n");
    assert_int_equal(scrape(&f, "a{x=\"1\"} 1\n", 1000, &r), 0); /* name, x, instance, job, team */
    fx_close(&f);
    fx_open(&f, "    label_limit: 3\n");
    assert_int_equal(scrape(&f, "a 1\n", 1000, &r), -1);
    assert_string_equal(r.err, "label_limit exceeded (metric: a, number of labels: 4, limit: 3)");
    fx_close(&f);
    fx_open(&f, "    label_value_length_limit: 3\n");
    assert_int_equal(scrape(&f, "a{v=\"äöü\"} 1\n", 1000, &r), 0); /* runes, not bytes */
    assert_int_equal(scrape(&f, "a{v=\"abcd\"} 1\n", 2000, &r), -1);
    assert_non_null(strstr(r.err, "label_value_length_limit exceeded"));
    fx_close(&f);
    fx_open(&f, "    metric_relabel_configs: [{regex: __name__, action: labeldrop}]\n");
    assert_int_equal(scrape(&f, "a 1\n", 1000, &r), -1);
    assert_string_equal(r.err, "missing metric name (__name__ label)");
    fx_close(&f);
}

/* The start timestamps of the one series named name, as "st st ...", or
 * "none" when it has none. */
static char *series_sts(struct fx *f, const char *name)
{
    struct label_matcher m = {LABEL_MATCH_EQ, "__name__", name};
    struct tsdb_series_set *set;
    char err[256];
    assert_int_equal(tsdb_select(f->db, &m, 1, 0, INT64_MAX, &set, err, sizeof err), 0);
    const struct labels *ls;
    const int64_t *ts, *sts;
    const double *vs;
    size_t n;
    struct sbuf b = SBUF_INIT;
    assert_true(tsdb_series_set_next_st(set, &ls, &ts, &vs, &sts, &n));
    for (size_t i = 0; sts && i < n; i++)
        sbuf_printf(&b, "%s%lld", i ? " " : "", (long long)sts[i]);
    if (!sts)
        sbuf_puts(&b, "none");
    tsdb_series_set_free(set);
    return sbuf_detach(&b);
}

/* With st-storage, an OpenMetrics counter's samples carry the family's
 * _created time as their start timestamp; the _created series is ingested
 * as before, gauges and the Prometheus format get none, and without the
 * feature nothing changes. */
static void test_created_as_start_timestamp(void **state)
{
    (void)state;
    static const char page[] = "# TYPE req counter\n"
                               "req_total{a=\"1\"} 5\n"
                               "req_created{a=\"1\"} 1000.5\n"
                               "# TYPE g gauge\n"
                               "g 3\n"
                               "# EOF\n";
    const enum textparse_format om = TEXTPARSE_OPENMETRICS;
    for (int on = 0; on < 2; on++) {
        struct fx f;
        fx_open(&f, "");
        struct scrape_page_result r;
        assert_int_equal(scrape_as(&f, page, 10000, &r, om, on), 0);
        assert_int_equal(scrape_as(&f, page, 20000, &r, om, on), 0);
        char *got = series_sts(&f, "req_total");
        assert_string_equal(got, on ? "1000500 1000500" : "none");
        free(got);
        got = series_sts(&f, "g");
        assert_string_equal(got, "none");
        free(got);
        assert_series(&f, "req_created", NULL, NULL, "10000:1000.5 20000:1000.5");
        got = series_sts(&f, "req_created");
        assert_string_equal(got, "none");
        free(got);
        fx_close(&f);
    }
}

/* The cache's store: entries keep their numbers while in use, are found by
 * key through removals anywhere in a probe run, and a tidy after mass
 * removal renumbers them consistently. */
static void test_keytab(void **state)
{
    (void)state;
    struct scrape_keytab t;
    scrape_keytab_init(&t);
    enum { N = 5000 };
    static uint32_t num[N];
    char key[32];
    for (int i = 0; i < N; i++) {
        int len = snprintf(key, sizeof key, "m{i=\"%d\"}", i);
        struct scrape_ckey k = scrape_keytab_key(&t, key, (size_t)len);
        assert_int_equal(scrape_keytab_find(&t, k), KEYTAB_NONE);
        num[i] = scrape_keytab_add(&t, k);
        scrape_keytab_at(&t, num[i])->ref = (uint64_t)i + 1;
    }
    assert_int_equal(t.n, N);
    /* Remove all but every tenth, then check every key. */
    for (int i = 0; i < N; i++)
        if (i % 10)
            scrape_keytab_remove(&t, num[i]);
    for (int i = 0; i < N; i++) {
        int len = snprintf(key, sizeof key, "m{i=\"%d\"}", i);
        uint32_t e = scrape_keytab_find(&t, scrape_keytab_key(&t, key, (size_t)len));
        if (i % 10) {
            assert_int_equal(e, KEYTAB_NONE);
            continue;
        }
        assert_int_equal(e, num[i]);
        assert_int_equal(scrape_keytab_at(&t, e)->ref, (uint64_t)i + 1);
    }
    /* Tidy compacts and renumbers the references it is given. */
    uint32_t refs[N / 10];
    for (int i = 0; i < N / 10; i++)
        refs[i] = num[i * 10];
    scrape_keytab_tidy(&t, refs, N / 10);
    assert_true(t.hw < N / 5);
    for (int i = 0; i < N / 10; i++) {
        int len = snprintf(key, sizeof key, "m{i=\"%d\"}", i * 10);
        uint32_t e = scrape_keytab_find(&t, scrape_keytab_key(&t, key, (size_t)len));
        assert_int_equal(e, refs[i]);
        assert_int_equal(scrape_keytab_at(&t, e)->ref, (uint64_t)i * 10 + 1);
    }
    /* Freed numbers are reused. */
    uint32_t again = scrape_keytab_add(&t, scrape_keytab_key(&t, "new", 3));
    assert_true(again < t.hw);
    scrape_keytab_free(&t);
}

/* Most of a target's series vanish and come back: the stale markers, the
 * cache's size and the samples stay right across its compaction. */
static void test_cache_churn(void **state)
{
    (void)state;
    struct fx f;
    fx_open(&f, "");
    struct sbuf all = SBUF_INIT, few = SBUF_INIT;
    for (int i = 0; i < 300; i++) {
        sbuf_printf(&all, "m{i=\"%d\"} %d\n", i, i);
        if (i % 30 == 0)
            sbuf_printf(&few, "m{i=\"%d\"} %d\n", i, i);
    }
    struct scrape_page_result r;
    assert_int_equal(scrape(&f, all.data, 1000, &r), 0);
    assert_int_equal(r.series_added, 300);
    assert_int_equal(scrape(&f, few.data, 2000, &r), 0);
    assert_int_equal(r.stale_markers, 290);
    assert_int_equal(scrape_cache_size(f.cache), 10);
    assert_int_equal(scrape(&f, few.data, 3000, &r), 0);
    assert_int_equal(r.stale_markers, 0);
    assert_int_equal(scrape(&f, all.data, 4000, &r), 0);
    assert_int_equal(r.series_added, 290);
    assert_int_equal(scrape(&f, all.data, 5000, &r), 0);
    assert_int_equal(r.series_added, 0);
    assert_int_equal(scrape_cache_size(f.cache), 300);
    assert_series(&f, "m", "i", "30", "1000:30 2000:30 3000:30 4000:30 5000:30");
    assert_series(&f, "m", "i", "31", "1000:31 2000:stale 4000:31 5000:31");
    sbuf_free(&all);
    sbuf_free(&few);
    fx_close(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pages_report_staleness),
        cmocka_unit_test(test_labels_and_timestamps),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_created_as_start_timestamp),
        cmocka_unit_test(test_keytab),
        cmocka_unit_test(test_cache_churn),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
