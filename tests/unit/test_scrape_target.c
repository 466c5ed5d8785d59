/* test_scrape_target.c — targets from service discovery, as a specification.
 *
 * The seedstack fixture (data/scrape/seedstack: the user's prometheus.yml
 * and its file-SD file, copied from the shared fixture) gives the targets
 * Prometheus gives it: instance labels from `name`, the `dev` instance
 * dropped but kept (discovered labels) for the API, intervals per job.
 * Then PopulateLabels's rules one by one, and file_sd's refresh behaviour:
 * re-read only when due, a broken file keeps its last groups, a vanished
 * file loses them, YAML strict and JSON lenient about unknown fields.
 *
 * Runs with cwd = tests/unit. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scrape/target.h"

static char *fmt_labels(const struct label_set *s)
{
    struct sbuf b = SBUF_INIT;
    sbuf_append(&b, "", 0);
    for (size_t i = 0; i < s->n; i++)
        sbuf_printf(&b, "%s%s=%s", i ? "|" : "", s->v[i].name, s->v[i].value);
    return sbuf_detach(&b);
}

static void assert_labels(const struct label_set *s, const char *want)
{
    char *got = fmt_labels(s);
    if (strcmp(got, want) != 0)
        fail_msg("labels\n  want %s\n  got  %s", want, got);
    free(got);
}

static const struct prom_scrape_config *job(const struct prom_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_scrape_configs; i++)
        if (strcmp(c->scrape_configs[i].job_name, name) == 0)
            return &c->scrape_configs[i];
    fail_msg("no job %s", name);
    return NULL;
}

static struct job_targets *jt_new(const struct prom_scrape_config *sc)
{
    struct job_targets *jt = NULL;
    char err[512];
    if (job_targets_new(sc, NULL, &jt, err, sizeof err) < 0)
        fail_msg("%s", err);
    return jt;
}

static struct prom_config *load_str(const char *yaml)
{
    struct prom_config *c = NULL;
    struct conf_error err = {{0}};
    if (prom_config_load_string("test.yml", yaml, strlen(yaml), &c, &err) < 0)
        fail_msg("config: %s", err.msg);
    return c;
}

static void test_seedstack(void **state)
{
    (void)state;
    struct prom_config *c = NULL;
    struct conf_error err = {{0}};
    if (prom_config_load_file("data/scrape/seedstack/prometheus.yml", &c, &err) < 0)
        fail_msg("%s", err.msg);

    static const struct {
        const char *job, *labels, *url;
        int64_t interval, timeout;
    } want[] = {
        {"prometheus",
         "__address__=127.0.0.1:9090|__metrics_path__=/metrics|__scheme__=http|"
         "__scrape_interval__=15s|__scrape_timeout__=10s|instance=prometheus-1|job=prometheus|"
         "service=prometheus",
         "http://127.0.0.1:9090/metrics", 15000, 10000},
        {"node",
         "__address__=127.0.0.1:9100|__metrics_path__=/metrics|__scheme__=http|"
         "__scrape_interval__=30s|__scrape_timeout__=10s|instance=node-01|job=node|service=node",
         "http://127.0.0.1:9100/metrics", 30000, 10000},
        {"smartattend-backend",
         "__address__=127.0.0.1:8000|__metrics_path__=/metrics|__scheme__=http|"
         "__scrape_interval__=10s|__scrape_timeout__=10s|instance=smartattend-backend-1|"
         "job=smartattend-backend|service=smartattend-backend",
         "http://127.0.0.1:8000/metrics", 10000, 10000},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        struct job_targets *jt = jt_new(job(c, want[i].job));
        assert_true(job_targets_refresh(jt, 0));
        const struct target_set *s = job_targets_current(jt);
        assert_int_equal(s->n_active, 1);
        assert_int_equal(s->n_dropped, 0);
        assert_int_equal(s->errors.n, 0);
        assert_labels(&s->active[0].labels, want[i].labels);
        assert_string_equal(s->active[0].url, want[i].url);
        assert_int_equal(s->active[0].interval_ms, want[i].interval);
        assert_int_equal(s->active[0].timeout_ms, want[i].timeout);
        assert_int_equal(job_targets_next_refresh_ms(jt), INT64_MAX); /* static only */
        /* A second refresh finds nothing new. */
        assert_false(job_targets_refresh(jt, 1000));
        job_targets_free(jt);
    }

    /* File SD: vq-api-1 and -2 scraped, dev dropped (and kept for the API). */
    char dir[PATH_MAX];
    assert_non_null(realpath("data/scrape/seedstack/targets/virtualqueue-api.json", dir));
    struct job_targets *jt = jt_new(job(c, "virtualqueue-api"));
    assert_true(job_targets_refresh(jt, 5000));
    const struct target_set *s = job_targets_current(jt);
    assert_int_equal(s->errors.n, 0);
    assert_int_equal(job_targets_sd_errors(jt)->n, 0);
    assert_int_equal(s->n_active, 2);
    assert_labels(&s->active[0].labels,
                  "__address__=127.0.0.1:8081|__metrics_path__=/metrics|__scheme__=http|"
                  "__scrape_interval__=15s|__scrape_timeout__=10s|env=production|instance=vq-api-1|"
                  "job=virtualqueue-api|service=virtualqueue-api");
    assert_string_equal(s->active[0].url, "http://127.0.0.1:8081/metrics");
    assert_string_equal(label_set_get(&s->active[1].labels, "instance"), "vq-api-2");
    assert_string_equal(s->active[1].url, "http://127.0.0.1:8082/metrics");
    assert_int_not_equal(s->active[0].hash, s->active[1].hash);
    /* Discovered labels keep the meta and pre-relabel labels. */
    const char *fp = label_set_get(&s->active[0].discovered, "__meta_filepath");
    assert_non_null(strstr(fp, "data/scrape/seedstack/targets/virtualqueue-api.json"));
    assert_string_equal(label_set_get(&s->active[0].discovered, "name"), "vq-api-1");
    assert_string_equal(label_set_get(&s->active[0].discovered, "instance"), "");
    assert_int_equal(s->n_dropped, 1);
    assert_int_equal(s->n_dropped_total, 1);
    char *d = fmt_labels(&s->dropped[0]);
    char want_d[2 * PATH_MAX];
    snprintf(want_d, sizeof want_d,
             "__address__=127.0.0.1:8089|__meta_filepath=%s|__metrics_path__=/metrics|"
             "__scheme__=http|__scrape_interval__=15s|__scrape_timeout__=10s|env=dev|"
             "job=virtualqueue-api|name=vq-api-dev|service=virtualqueue-api",
             fp);
    assert_string_equal(d, want_d);
    free(d);
    /* refresh_interval: 1m */
    assert_int_equal(job_targets_next_refresh_ms(jt), 5000 + 60000);
    job_targets_free(jt);
    prom_config_free(c);
}

/* PopulateLabels's checks and defaults. */
static void test_populate_rules(void **state)
{
    (void)state;
    struct prom_config *c = load_str(
        "global: {scrape_interval: 1m}\n"
        "scrape_configs:\n"
        "  - job_name: j\n"
        "    metrics_path: /probe\n"
        "    params: {module: [http_2xx, other], target: ['a b&c']}\n"
        "    static_configs:\n"
        "      - targets: [ok:1, 'has/slash', noaddr, badinterval, longtimeout, param:1, "
        "ok:1, inst:1]\n"
        "        labels: {__meta_x: m, team: t}\n"
        "    relabel_configs:\n"
        "      - {source_labels: [__address__], regex: noaddr, target_label: __address__, "
        "replacement: ''}\n"
        "      - {source_labels: [__address__], regex: badinterval, target_label: "
        "__scrape_interval__, replacement: 5x}\n"
        "      - {source_labels: [__address__], regex: longtimeout, target_label: "
        "__scrape_timeout__, replacement: 2m}\n"
        "      - {source_labels: [__address__], regex: 'param:1', target_label: __param_module, "
        "replacement: icmp}\n"
        "      - {source_labels: [__address__], regex: 'inst:1', target_label: instance, "
        "replacement: mine}\n"
        "      - {source_labels: [__meta_x], target_label: from_meta}\n");
    struct job_targets *jt = jt_new(&c->scrape_configs[0]);
    job_targets_refresh(jt, 0);
    const struct target_set *s = job_targets_current(jt);
    static const char *errors[] = {
        "instance 1 in group 0: \"has/slash\" is not a valid hostname",
        "instance 2 in group 0: no address",
        "instance 3 in group 0: error parsing scrape interval: not a valid duration string: "
        "\"5x\"",
        "instance 4 in group 0: scrape timeout cannot be greater than scrape interval (\"2m\" > "
        "\"1m\")",
    };
    assert_int_equal(s->errors.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(s->errors.v[i], errors[i]);
    /* ok:1 twice is one target. */
    assert_int_equal(s->n_active, 3);
    assert_labels(&s->active[0].labels,
                  "__address__=ok:1|__metrics_path__=/probe|__param_module=http_2xx|"
                  "__param_target=a b&c|__scheme__=http|__scrape_interval__=1m|"
                  "__scrape_timeout__=10s|from_meta=m|instance=ok:1|job=j|team=t");
    /* Query: keys sorted, all values of a param, the first from the label. */
    assert_string_equal(s->active[0].url,
                        "http://ok:1/probe?module=http_2xx&module=other&target=a+b%26c");
    assert_string_equal(s->active[1].url,
                        "http://param:1/probe?module=icmp&module=other&target=a+b%26c");
    assert_string_equal(label_set_get(&s->active[2].labels, "instance"), "mine");
    job_targets_free(jt);
    prom_config_free(c);

    /* keep_dropped_targets bounds what is kept, not what is counted. */
    c = load_str("scrape_configs:\n"
                 "  - job_name: j\n"
                 "    keep_dropped_targets: 2\n"
                 "    static_configs: [{targets: [a:1, b:1, c:1, d:1]}]\n"
                 "    relabel_configs: [{source_labels: [__address__], regex: 'a:1', action: "
                 "keep}]\n");
    jt = jt_new(&c->scrape_configs[0]);
    job_targets_refresh(jt, 0);
    s = job_targets_current(jt);
    assert_int_equal(s->n_active, 1);
    assert_int_equal(s->n_dropped, 2);
    assert_int_equal(s->n_dropped_total, 3);
    assert_string_equal(label_set_get(&s->dropped[0], "__address__"), "b:1");
    job_targets_free(jt);
    prom_config_free(c);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_file_sd_refresh(void **state)
{
    (void)state;
    char dir[] = "/tmp/vigil-target-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char a[300], b[300], yaml[2048];
    snprintf(a, sizeof a, "%s/a.yml", dir);
    snprintf(b, sizeof b, "%s/b.json", dir);
    write_file(a, "- targets: ['h1:1', 'h2:1']\n  labels: {zone: z1}\n");
    write_file(b, "[{\"targets\": [\"h3:1\"], \"labels\": {\"zone\": \"z2\"}, \"extra\": 1}]");
    snprintf(yaml, sizeof yaml,
             "scrape_configs:\n"
             "  - job_name: f\n"
             "    file_sd_configs:\n"
             "      - files: ['%s/*.yml', '%s/*.json']\n"
             "        refresh_interval: 30s\n",
             dir, dir);
    struct prom_config *c = load_str(yaml);
    struct job_targets *jt = jt_new(&c->scrape_configs[0]);

    assert_true(job_targets_refresh(jt, 1000));
    const struct target_set *s = job_targets_current(jt);
    assert_int_equal(s->n_active, 3); /* JSON ignores the unknown field */
    assert_string_equal(label_set_get(&s->active[0].labels, "instance"), "h1:1");
    assert_string_equal(label_set_get(&s->active[2].labels, "zone"), "z2");
    assert_string_equal(label_set_get(&s->active[2].discovered, "__meta_filepath"), b);
    assert_string_equal(label_set_get(&s->active[2].labels, "__meta_filepath"), "");
    assert_int_equal(job_targets_next_refresh_ms(jt), 31000);

    /* Changed, but not due yet: nothing re-read. */
    write_file(a, "- targets: ['h1:1']\n");
    assert_false(job_targets_refresh(jt, 20000));
    assert_int_equal(job_targets_current(jt)->n_active, 3);
    /* Due: re-read. */
    assert_true(job_targets_refresh(jt, 31000));
    s = job_targets_current(jt);
    assert_int_equal(s->n_active, 2);
    assert_string_equal(label_set_get(&s->active[0].labels, "zone"), "");

    /* A broken file keeps its last groups and reports the error. */
    write_file(a, "- targets: ['h1:1']\n  bogus: 1\n");
    assert_false(job_targets_refresh(jt, 61000));
    assert_int_equal(job_targets_current(jt)->n_active, 2);
    const struct ystrlist *e = job_targets_sd_errors(jt);
    assert_int_equal(e->n, 1);
    assert_non_null(strstr(e->v[0], "a.yml:2:3: field bogus not found"));
    write_file(a, "- null\n");
    job_targets_refresh(jt, 91000);
    assert_non_null(strstr(job_targets_sd_errors(jt)->v[0], "nil target group item found"));
    write_file(a, "- targets: [h1:1]\n  labels: {'': x}\n");
    job_targets_refresh(jt, 121000);
    assert_non_null(strstr(job_targets_sd_errors(jt)->v[0], "is not a valid label name"));
    assert_int_equal(job_targets_current(jt)->n_active, 2);

    /* A vanished file loses its targets; an empty one has none. */
    unlink(a);
    assert_true(job_targets_refresh(jt, 151000));
    s = job_targets_current(jt);
    assert_int_equal(s->n_active, 1);
    assert_string_equal(label_set_get(&s->active[0].labels, "instance"), "h3:1");
    assert_int_equal(job_targets_sd_errors(jt)->n, 0);
    write_file(b, "");
    assert_true(job_targets_refresh(jt, 181000));
    assert_int_equal(job_targets_current(jt)->n_active, 0);
    unlink(b);
    rmdir(dir);
    job_targets_free(jt);
    prom_config_free(c);
}

static void test_file_sd_read_errors(void **state)
{
    (void)state;
    struct prom_target_group *g;
    size_t n;
    char err[512];
    assert_int_equal(target_file_sd_read("/nonexistent/x.json", &g, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.json"));
    char path[] = "/tmp/vigil-sd-XXXXXX.json";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    close(fd);
    write_file(path, "{\"targets\": []}");
    assert_int_equal(target_file_sd_read(path, &g, &n, err, sizeof err), -1);
    assert_non_null(strstr(err, "list of target groups"));
    write_file(path, "[{\"targets\": [\"x:1\"]}, {\"labels\": {\"a\": \"b\"}}]");
    assert_int_equal(target_file_sd_read(path, &g, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(g[1].targets.n, 0);
    assert_string_equal(ystrmap_get(&g[1].labels, "a"), "b");
    assert_string_equal(ystrmap_get(&g[0].labels, "__meta_filepath"), path);
    target_groups_free(g, n);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seedstack),
        cmocka_unit_test(test_populate_rules),
        cmocka_unit_test(test_file_sd_refresh),
        cmocka_unit_test(test_file_sd_read_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
