/* test_conf_config.c — the Prometheus configuration loader, as a
 * specification.
 *
 * What a user's prometheus.yml and rule files mean to Vigil: the seedstack
 * fixture loads with the values and defaults Prometheus gives it; every
 * broken file under data/conf/ fails with one exact "file:line:col: path:
 * reason"; values inherit from global the way Prometheus inherits them;
 * anchors and merge keys resolve as go-yaml resolves them; relative paths
 * resolve against the config's directory.  The data/conf/valid_*.yml and
 * invalid_*.yml files are also the corpus an end-to-end test compares
 * against `promtool check config` (see data/conf/README).
 *
 * Runs with cwd = tests/unit and VIGIL_SRC = the source root. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/prom_internal.h"

#define DATA "data/conf/"

/* ---- helpers ---- */

static struct prom_config *load_ok(const char *path)
{
    struct prom_config *c = NULL;
    struct conf_error err = {{0}};
    if (prom_config_load_file(path, &c, &err) < 0)
        fail_msg("%s: unexpected error: %s", path, err.msg);
    return c;
}

static struct prom_config *load_str_ok(const char *yaml)
{
    struct prom_config *c = NULL;
    struct conf_error err = {{0}};
    if (prom_config_load_string("test.yml", yaml, strlen(yaml), &c, &err) < 0)
        fail_msg("unexpected error: %s", err.msg);
    return c;
}

static void expect_file_error(const char *path, const char *msg)
{
    struct prom_config *c = NULL;
    struct conf_error err = {{0}};
    int rc = prom_config_load_file(path, &c, &err);
    if (rc == 0)
        fail_msg("%s: loaded, expected %s", path, msg);
    assert_null(c);
    assert_string_equal(err.msg, msg);
}

static void expect_str_error(const char *yaml, const char *msg)
{
    struct prom_config *c = NULL;
    struct conf_error err = {{0}};
    int rc = prom_config_load_string("test.yml", yaml, strlen(yaml), &c, &err);
    if (rc == 0)
        fail_msg("loaded, expected %s", msg);
    assert_string_equal(err.msg, msg);
}

static void expect_rules_error(const char *yaml, const char *msg)
{
    struct rule_file *rf = NULL;
    struct conf_error err = {{0}};
    int rc = rule_file_load_string("rules.yml", yaml, strlen(yaml), NULL, &rf, &err);
    if (rc == 0)
        fail_msg("loaded, expected %s", msg);
    assert_null(rf);
    assert_string_equal(err.msg, msg);
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static const struct prom_scrape_config *job(const struct prom_config *c, const char *name)
{
    for (size_t i = 0; i < c->n_scrape_configs; i++)
        if (strcmp(c->scrape_configs[i].job_name, name) == 0)
            return &c->scrape_configs[i];
    fail_msg("no job %s", name);
    return NULL;
}

/* The seedstack fixture, or NULL (test skipped) if it is not there. */
static char *seedstack_path(const char *rel)
{
    const char *src = getenv("VIGIL_SRC");
    char *p = NULL;
    if (asprintf(&p, "%s/../shared/fixtures/seedstack/%s", src ? src : "../..", rel) < 0)
        return NULL;
    FILE *f = fopen(p, "r");
    if (!f) {
        free(p);
        return NULL;
    }
    fclose(f);
    return p;
}

/* ---- the seedstack: a real user's files ---- */

static void test_seedstack_config(void **state)
{
    (void)state;
    char *path = seedstack_path("prometheus.yml");
    if (!path) {
        skip();
        return;
    }
    struct prom_config *c = load_ok(path);
    assert_int_equal(c->global.scrape_interval_ms, 15000);
    assert_int_equal(c->global.scrape_timeout_ms, 10000);
    assert_int_equal(c->global.evaluation_interval_ms, 15000);
    assert_int_equal(c->global.external_labels.n, 2);
    assert_string_equal(ystrmap_get(&c->global.external_labels, "monitor"), "seedstack");
    assert_string_equal(ystrmap_get(&c->global.external_labels, "environment"), "production");

    assert_int_equal(c->rule_files.n, 5);
    assert_true(ends_with(c->rule_files.v[0], "/shared/fixtures/seedstack/rules/recording.yml"));
    assert_null(strstr(c->rule_files.v[0], "/../")); /* joined and cleaned, as Go does */

    assert_int_equal(c->alerting.alert_relabel_configs.n, 1);
    assert_int_equal(c->alerting.alert_relabel_configs.v[0].action, PROM_RELABEL_LABELDROP);
    assert_string_equal(c->alerting.alert_relabel_configs.v[0].regex, "monitor");
    assert_int_equal(c->alerting.n_alertmanagers, 1);
    const struct prom_alertmanager_config *am = &c->alerting.alertmanagers[0];
    assert_string_equal(am->api_version, "v2");
    assert_string_equal(am->scheme, "http");
    assert_int_equal(am->timeout_ms, 10000);
    assert_int_equal(am->sd.n_static_configs, 1);
    assert_string_equal(am->sd.static_configs[0].targets.v[0], "127.0.0.1:9093");

    assert_int_equal(c->n_scrape_configs, 4);
    const struct prom_scrape_config *prom = job(c, "prometheus");
    assert_int_equal(prom->scrape_interval_ms, 15000); /* inherited */
    assert_int_equal(prom->scrape_timeout_ms, 10000);
    assert_string_equal(prom->metrics_path, "/metrics");
    assert_string_equal(prom->scheme, "http");
    assert_true(prom->honor_timestamps);
    assert_false(prom->honor_labels);
    assert_true(prom->enable_compression);
    assert_true(prom->http.follow_redirects);
    assert_true(prom->http.enable_http2);
    assert_string_equal(ystrmap_get(&prom->sd.static_configs[0].labels, "name"), "prometheus-1");
    assert_int_equal(prom->relabel_configs.n, 2);
    const struct prom_relabel *r0 = &prom->relabel_configs.v[0];
    assert_int_equal(r0->action, PROM_RELABEL_REPLACE);
    assert_string_equal(r0->source_labels.v[0], "name");
    assert_string_equal(r0->target_label, "instance");
    assert_string_equal(r0->regex, "(.*)");
    assert_string_equal(r0->replacement, "$1");
    assert_string_equal(r0->separator, ";");
    assert_int_equal(prom->scrape_protocols.n, 4);
    assert_int_equal(prom->scrape_protocols.v[0], PROM_PROTO_OPENMETRICS_TEXT_1_0_0);

    assert_int_equal(job(c, "node")->scrape_interval_ms, 30000);
    const struct prom_scrape_config *sa = job(c, "smartattend-backend");
    assert_int_equal(sa->scrape_interval_ms, 10000);
    assert_int_equal(sa->scrape_timeout_ms, 10000);
    assert_int_equal(sa->metric_relabel_configs.n, 1);
    assert_int_equal(sa->metric_relabel_configs.v[0].action, PROM_RELABEL_DROP);
    assert_string_equal(sa->metric_relabel_configs.v[0].regex, "python_gc_.*");

    const struct prom_scrape_config *vq = job(c, "virtualqueue-api");
    assert_int_equal(vq->sd.n_file_sd, 1);
    assert_int_equal(vq->sd.file_sd[0].refresh_interval_ms, 60000);
    assert_true(ends_with(vq->sd.file_sd[0].files.v[0],
                          "/shared/fixtures/seedstack/targets/virtualqueue-*.json"));
    assert_int_equal(vq->relabel_configs.v[0].action, PROM_RELABEL_KEEP);
    assert_string_equal(vq->relabel_configs.v[0].regex, "production|staging");
    prom_config_free(c);
    free(path);
}

static void test_seedstack_rules(void **state)
{
    (void)state;
    char *path = seedstack_path("prometheus.yml");
    if (!path) {
        skip();
        return;
    }
    struct prom_config *c = load_ok(path);
    struct ystrlist files;
    struct conf_error err = {{0}};
    assert_int_equal(prom_config_rule_files(c, &files, &err), 0);
    assert_int_equal(files.n, 5);
    size_t alerts = 0, records = 0;
    for (size_t i = 0; i < files.n; i++) {
        struct rule_file *rf;
        if (rule_file_load(files.v[i], &rf, &err) < 0)
            fail_msg("%s", err.msg);
        for (size_t g = 0; g < rf->n_groups; g++) {
            for (size_t r = 0; r < rf->groups[g].n_rules; r++) {
                const struct rule_file_rule *rule = &rf->groups[g].rules[r];
                assert_true((rule->alert != NULL) != (rule->record != NULL));
                assert_non_null(rule->expr);
                alerts += rule->alert != NULL;
                records += rule->record != NULL;
            }
        }
        rule_file_free(rf);
    }
    assert_int_equal(alerts, 58);
    assert_int_equal(records, 17);
    ystrlist_free(&files);
    prom_config_free(c);
    free(path);
}

static void test_seedstack_rule_details(void **state)
{
    (void)state;
    char *path = seedstack_path("rules/recording.yml");
    if (!path) {
        skip();
        return;
    }
    struct rule_file *rf;
    struct conf_error err = {{0}};
    assert_int_equal(rule_file_load(path, &rf, &err), 0);
    assert_int_equal(rule_file_rule_count(rf), 17);
    assert_string_equal(rf->groups[0].name, "http-recording");
    const struct rule_file_rule *r = &rf->groups[0].rules[0];
    assert_string_equal(r->record, "job:http_requests:rate5m");
    assert_string_equal(r->expr, "sum by (job, service) (rate(http_requests_total[5m]))");
    assert_int_equal(r->pos.line, 5);
    assert_int_equal(r->pos.col, 9);
    assert_int_equal(r->expr_pos.line, 6);
    /* Block scalars keep their newlines, as YAML says. */
    assert_non_null(strchr(rf->groups[0].rules[3].expr, '\n'));
    rule_file_free(rf);
    free(path);
}

/* ---- defaults and inheritance ---- */

static void test_empty_file_defaults(void **state)
{
    (void)state;
    struct prom_config *c = load_ok(DATA "valid_empty.yml");
    assert_int_equal(c->global.scrape_interval_ms, 60000);
    assert_int_equal(c->global.scrape_timeout_ms, 10000);
    assert_int_equal(c->global.evaluation_interval_ms, 60000);
    assert_int_equal(c->global.rule_query_offset_ms, 0);
    assert_int_equal(c->global.metric_name_validation_scheme, PROM_NAMES_UTF8);
    assert_int_equal(c->n_scrape_configs, 0);
    assert_int_equal(c->rule_files.n, 0);
    assert_int_equal(c->storage.max_exemplars, 100000);
    assert_false(c->tracing.enabled);
    prom_config_free(c);

    c = load_str_ok("global:\n"); /* an open but empty block */
    assert_int_equal(c->global.scrape_interval_ms, 60000);
    prom_config_free(c);
}

static void test_global_inheritance(void **state)
{
    (void)state;
    struct prom_config *c = load_str_ok("global:\n"
                                        "  scrape_interval: 5s\n"
                                        "  scrape_failure_log_file: /var/log/fail.log\n"
                                        "scrape_configs:\n"
                                        "  - job_name: a\n"
                                        "  - job_name: b\n"
                                        "    scrape_interval: 1m\n"
                                        "  - job_name: c\n"
                                        "    scrape_interval: 1m\n"
                                        "    scrape_timeout: 30s\n"
                                        "    sample_limit: 10\n");
    /* Unset timeout: min(10s default, interval). */
    assert_int_equal(c->global.scrape_timeout_ms, 5000);
    const struct prom_scrape_config *a = job(c, "a"), *b = job(c, "b"), *cc = job(c, "c");
    assert_int_equal(a->scrape_interval_ms, 5000);
    assert_int_equal(a->scrape_timeout_ms, 5000);
    assert_string_equal(a->scrape_failure_log_file, "/var/log/fail.log");
    assert_int_equal(b->scrape_interval_ms, 60000);
    assert_int_equal(b->scrape_timeout_ms, 5000); /* min(global timeout, interval) */
    assert_int_equal(cc->scrape_timeout_ms, 30000);
    assert_int_equal(cc->sample_limit, 10);
    assert_string_equal(a->metric_name_escaping_scheme, "allow-utf-8");
    prom_config_free(c);

    /* The global section is read first wherever it sits in the file. */
    c = load_str_ok("scrape_configs:\n"
                    "  - job_name: a\n"
                    "global:\n"
                    "  scrape_interval: 7s\n"
                    "  scrape_protocols: [PrometheusText0.0.4]\n");
    assert_int_equal(job(c, "a")->scrape_interval_ms, 7000);
    assert_int_equal(job(c, "a")->scrape_protocols.n, 1);
    assert_int_equal(job(c, "a")->scrape_protocols.v[0], PROM_PROTO_PROMETHEUS_TEXT_0_0_4);
    prom_config_free(c);

    /* Native histograms bring the protobuf-first protocol list. */
    c = load_str_ok("scrape_configs:\n"
                    "  - job_name: a\n"
                    "    scrape_native_histograms: true\n");
    assert_int_equal(job(c, "a")->scrape_protocols.n, 5);
    assert_int_equal(job(c, "a")->scrape_protocols.v[0], PROM_PROTO_PROMETHEUS_PROTO);
    assert_string_equal(prom_scrape_protocol_header(PROM_PROTO_PROMETHEUS_TEXT_0_0_4),
                        "text/plain;version=0.0.4");
    prom_config_free(c);
}

static void test_full_config(void **state)
{
    (void)state;
    struct prom_config *c = load_ok(DATA "valid_full.yml");
    assert_int_equal(c->n_scrape_configs, 8);
    const struct prom_scrape_config *s = job(c, "static");
    assert_true(s->honor_labels);
    assert_false(s->honor_timestamps);
    assert_string_equal(s->metrics_path, "/probe");
    assert_int_equal(s->n_params, 2);
    assert_string_equal(s->params[1].name, "target");
    assert_int_equal(s->params[1].values.n, 2);
    assert_int_equal(s->body_size_limit, 10 << 20);
    assert_int_equal(s->label_value_length_limit, 2048);
    assert_int_equal(s->relabel_configs.n, 13);
    assert_int_equal(s->relabel_configs.v[3].action, PROM_RELABEL_REPLACE);
    assert_string_equal(s->relabel_configs.v[3].separator, "-");
    assert_string_equal(s->relabel_configs.v[3].replacement, "${2}");
    assert_int_equal(s->relabel_configs.v[4].action, PROM_RELABEL_HASHMOD);
    assert_int_equal(s->relabel_configs.v[4].modulus, 4);
    assert_int_equal(s->relabel_configs.v[6].action, PROM_RELABEL_DROP); /* "Drop" */
    assert_int_equal(s->relabel_configs.v[11].action, PROM_RELABEL_KEEPEQUAL);
    assert_int_equal(s->relabel_configs.v[12].pos.line, 91);
    assert_string_equal(prom_relabel_action_name(s->relabel_configs.v[12].action), "dropequal");

    const struct prom_scrape_config *h = job(c, "https-auth");
    assert_string_equal(h->scheme, "https");
    assert_non_null(h->http.basic_auth);
    assert_string_equal(h->http.basic_auth->username, "prometheus");
    assert_int_equal(h->http.tls_config.min_version, PROM_TLS12);
    assert_false(h->http.follow_redirects);
    assert_false(h->http.enable_http2);

    /* bearer_token_file becomes an authorization of type Bearer. */
    const struct prom_scrape_config *b = job(c, "bearer");
    assert_non_null(b->http.authorization);
    assert_string_equal(b->http.authorization->type, "Bearer");
    assert_null(b->http.bearer_token_file);
    assert_string_equal(b->http.proxy.proxy_url, "http://proxy.example.com:3128");

    const struct prom_scrape_config *o = job(c, "oauth2");
    assert_string_equal(o->http.oauth2->token_url, "https://auth.example.com/token");
    assert_string_equal(ystrmap_get(&o->http.oauth2->endpoint_params, "audience"), "metrics");

    const struct prom_scrape_config *f = job(c, "file-sd");
    assert_int_equal(f->sd.n_file_sd, 2);
    assert_int_equal(f->sd.file_sd[0].refresh_interval_ms, 120000);
    assert_int_equal(f->sd.file_sd[1].refresh_interval_ms, 300000); /* default 5m */

    const struct prom_scrape_config *hs = job(c, "http-sd");
    assert_string_equal(hs->sd.http_sd[0].url, "http://127.0.0.1:8000/targets");
    assert_string_equal(hs->sd.http_sd[0].http.authorization->type, "Bearer");

    const struct prom_scrape_config *d = job(c, "dns-sd");
    assert_int_equal(d->sd.n_dns_sd, 2);
    assert_int_equal(d->sd.dns_sd[0].type, PROM_DNS_SRV);
    assert_int_equal(d->sd.dns_sd[0].refresh_interval_ms, 30000);
    assert_int_equal(d->sd.dns_sd[1].type, PROM_DNS_A);
    assert_int_equal(d->sd.dns_sd[1].port, 9100);

    const struct prom_docker_sd *dk = &job(c, "docker-sd")->sd.docker_sd[0];
    assert_string_equal(dk->host, "unix:///var/run/docker.sock");
    assert_int_equal(dk->port, 8080);
    assert_string_equal(dk->host_networking_host, "localhost");
    assert_true(dk->match_first_network);
    assert_string_equal(dk->filters[0].name, "label");

    assert_int_equal(c->n_remote_write, 1);
    const struct prom_remote_write *rw = &c->remote_write[0];
    assert_string_equal(rw->name, "archive");
    assert_int_equal(rw->remote_timeout_ms, 10000);
    assert_int_equal(rw->queue_config.capacity, 5000);
    assert_int_equal(rw->queue_config.min_backoff_ms, 50);
    assert_true(rw->queue_config.retry_on_http_429);
    assert_int_equal(rw->metadata_config.send_interval_ms, 120000);
    assert_int_equal(rw->metadata_config.max_samples_per_send, 2000);
    assert_string_equal(rw->protobuf_message, "prometheus.WriteRequest");
    assert_false(rw->http.enable_http2);
    assert_int_equal(c->n_remote_read, 1);
    assert_true(c->remote_read[0].read_recent);
    assert_true(c->remote_read[0].filter_external_labels);
    assert_int_equal(c->storage.out_of_order_time_window_ms, 600000);
    assert_int_equal(c->storage.max_exemplars, 50000);
    assert_true(c->tracing.enabled);
    assert_string_equal(c->tracing.endpoint, "127.0.0.1:4317");

    assert_string_equal(c->alerting.alertmanagers[0].path_prefix, "/alertmanager");
    assert_int_equal(c->alerting.alertmanagers[0].timeout_ms, 5000);
    prom_config_free(c);
}

/* ---- relative paths ---- */

static void test_relative_paths(void **state)
{
    (void)state;
    struct prom_config *c = load_ok(DATA "valid_full.yml");
    assert_string_equal(c->global.query_log_file, "data/conf/query.log");
    assert_string_equal(c->rule_files.v[0], "data/conf/rules/good_*.yml");
    const struct prom_scrape_config *h = job(c, "https-auth");
    assert_string_equal(h->http.basic_auth->password_file, "data/conf/secrets/password");
    assert_string_equal(h->http.tls_config.ca_file, "data/conf/secrets/ca.pem");
    assert_string_equal(job(c, "bearer")->http.authorization->credentials_file,
                        "data/conf/secrets/token");
    assert_string_equal(job(c, "file-sd")->sd.file_sd[0].files.v[0], "data/conf/targets/*.json");

    struct ystrlist files;
    struct conf_error err = {{0}};
    assert_int_equal(prom_config_rule_files(c, &files, &err), 0);
    assert_int_equal(files.n, 2);
    assert_string_equal(files.v[0], "data/conf/rules/good_alerts.yml");
    assert_string_equal(files.v[1], "data/conf/rules/valid_recording.yml");
    ystrlist_free(&files);
    prom_config_free(c);

    /* Absolute paths stay; "../" folds as Go's filepath.Join folds it. */
    c = load_ok(DATA "scrape.d/extra.yml"); /* a plain config with jobs */
    assert_string_equal(job(c, "extra")->sd.file_sd[0].files.v[0], "data/conf/targets/*.json");
    prom_config_free(c);

    /* From a string there is no directory: paths stay as written. */
    c = load_str_ok("rule_files: [rules/a.yml, /etc/prometheus/b.yml]\n");
    assert_string_equal(c->rule_files.v[0], "rules/a.yml");
    assert_string_equal(c->rule_files.v[1], "/etc/prometheus/b.yml");
    prom_config_free(c);
}

static void test_path_join(void **state)
{
    (void)state;
    static const char *cases[][3] = {
        {".", "rules/a.yml", "rules/a.yml"},
        {"/etc/prom", "r.yml", "/etc/prom/r.yml"},
        {"a/b", "../c", "a/c"},
        {"a", "../../c", "../c"},
        {"/a", "../../c", "/c"},
        {"a/", "./b//c/", "a/b/c"},
        {"x", "/abs/path", "/abs/path"},
        {"..", "a/..", ".."},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char *j = prom_path_join(cases[i][0], cases[i][1]);
        assert_string_equal(j, cases[i][2]);
        free(j);
    }
}

/* ---- rule_files expansion ---- */

static void test_rule_files_expansion(void **state)
{
    (void)state;
    struct prom_config *c = load_ok(DATA "invalid_missing_rule_file.yml");
    struct ystrlist files;
    struct conf_error err = {{0}};
    assert_int_equal(prom_config_rule_files(c, &files, &err), -1);
    assert_string_equal(err.msg, "data/conf/invalid_missing_rule_file.yml:3:5: rule_files[1]: "
                                 "missing rule file: no file matches "
                                 "\"data/conf/rules/does_not_exist.yml\"");
    /* What did match is still there. */
    assert_int_equal(files.n, 1);
    assert_string_equal(files.v[0], "data/conf/rules/good_alerts.yml");
    ystrlist_free(&files);
    prom_config_free(c);

    /* A glob that matches nothing is fine. */
    c = load_str_ok("rule_files: ['/nonexistent/dir/*.yml']\n");
    assert_int_equal(prom_config_rule_files(c, &files, &err), 0);
    assert_int_equal(files.n, 0);
    ystrlist_free(&files);
    prom_config_free(c);
}

/* ---- broken files: each with its exact message ---- */

static void test_broken_configs(void **state)
{
    (void)state;
    static const char *cases[][2] = {
        {"invalid_bad_duration.yml",
         "5:22: scrape_configs[0].scrape_interval: \"15x\" is not a valid duration"},
        {"invalid_unknown_field.yml", "3:5: scrape_configs[0]: unknown field \"scrape_intervall\""},
        {"invalid_wrong_type.yml",
         "3:19: scrape_configs[0].metrics_path: expected a string, got a list"},
        {"invalid_bad_regex.yml",
         "5:16: scrape_configs[0].relabel_configs[0].regex: error parsing regexp: missing "
         "closing parenthesis at position 10: `(host|node`"},
        {"invalid_lookahead_regex.yml",
         "5:16: scrape_configs[0].metric_relabel_configs[0].regex: error parsing regexp: "
         "invalid or unsupported Perl syntax: `(?!` at position 3"},
        {"invalid_duplicate_job.yml",
         "5:15: scrape_configs[1].job_name: found multiple scrape configs with job name "
         "\"node\""},
        {"invalid_broken_yaml.yml", "4:15: yaml: did not find expected ',' or '}'"},
        {"invalid_timeout_gt_interval.yml",
         "5:21: scrape_configs[0].scrape_timeout: scrape timeout greater than scrape interval "
         "for scrape config with job name \"slow\""},
        {"invalid_global_timeout.yml",
         "3:19: global.scrape_timeout: global scrape timeout greater than scrape interval"},
        {"invalid_relabel_action.yml",
         "5:17: scrape_configs[0].relabel_configs[0].action: unknown relabel action "
         "\"rename\""},
        {"invalid_hashmod_no_modulus.yml",
         "4:9: scrape_configs[0].relabel_configs[0]: relabel configuration for hashmod "
         "requires non-zero modulus"},
        {"invalid_replace_no_target.yml",
         "4:9: scrape_configs[0].relabel_configs[0]: relabel configuration for replace action "
         "requires 'target_label' value"},
        {"invalid_labeldrop_extra.yml",
         "4:9: scrape_configs[0].metric_relabel_configs[0]: labeldrop action requires only "
         "'regex', and no other fields"},
        {"invalid_null_relabel.yml",
         "4:8: scrape_configs[0].relabel_configs[0]: empty or null relabeling rule in "
         "relabel_configs"},
        {"invalid_bearer_token_and_file.yml",
         "4:24: scrape_configs[0].bearer_token_file: at most one of bearer_token & "
         "bearer_token_file must be configured"},
        {"invalid_basic_auth_and_bearer.yml",
         "6:19: scrape_configs[0].bearer_token: at most one of basic_auth, oauth2, bearer_token "
         "& bearer_token_file must be configured"},
        {"invalid_file_sd_extension.yml",
         "4:17: scrape_configs[0].file_sd_configs[0].files[0]: path name \"targets/*.txt\" is "
         "not valid for file discovery"},
        {"invalid_url_in_target.yml", "4:19: scrape_configs[0].static_configs[0].targets[0]: "
                                      "\"http://localhost:9100/metrics\" is not a valid hostname"},
        {"invalid_dns_no_port.yml",
         "5:15: scrape_configs[0].dns_sd_configs[0].type: a port is required in DNS-SD configs "
         "for all record types except SRV"},
        {"invalid_http_sd_scheme.yml",
         "4:14: scrape_configs[0].http_sd_configs[0].url: URL scheme must be 'http' or "
         "'https'"},
        {"invalid_rule_file_path.yml",
         "2:5: rule_files[0]: invalid rule file path \"rules/*/alerts.yml\""},
        {"invalid_remote_write_url.yml", "2:5: remote_write[0]: url for remote_write is empty"},
        {"invalid_remote_write_header.yml",
         "4:7: remote_write[0].headers: Content-Type is a reserved header. It must not be "
         "changed"},
        {"invalid_empty_job_name.yml", "2:15: scrape_configs[0].job_name: job_name is empty"},
        {"invalid_tracing_endpoint.yml", "2:3: tracing: tracing endpoint must be set"},
        {"invalid_duplicate_key.yml", "4:3: global: field scrape_interval already set"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[256], msg[1024];
        snprintf(path, sizeof path, DATA "%s", cases[i][0]);
        snprintf(msg, sizeof msg, "%s:%s", path, cases[i][1]);
        expect_file_error(path, msg);
    }
}

/* The invalid_*.yml files whose config is fine but whose rule files are
 * not: `check config` must load the rules to see it, as promtool does. */
static void test_broken_rule_files_via_config(void **state)
{
    (void)state;
    static const char *cases[][2] = {
        {"invalid_bad_rule_file.yml",
         "data/conf/rules/invalid_dup_group.yml:6:11: groups[1].name: groupname: \"node\" is "
         "repeated in the same file"},
        {"invalid_bad_rule_record.yml",
         "data/conf/rules/invalid_recording_annotations.yml:7:11: groups[0].rules[0]."
         "annotations: invalid field 'annotations' in recording rule"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[256];
        snprintf(path, sizeof path, DATA "%s", cases[i][0]);
        struct prom_config *c = load_ok(path);
        struct ystrlist files;
        struct conf_error err = {{0}};
        assert_int_equal(prom_config_rule_files(c, &files, &err), 0);
        assert_int_equal(files.n, 1);
        struct rule_file *rf = NULL;
        assert_int_equal(rule_file_load(files.v[0], &rf, &err), -1);
        assert_string_equal(err.msg, cases[i][1]);
        ystrlist_free(&files);
        prom_config_free(c);
    }
}

static void test_broken_inline(void **state)
{
    (void)state;
    expect_str_error("scrape_configs:\n  - job_name: a\n    honor_labels: maybe\n",
                     "test.yml:3:19: scrape_configs[0].honor_labels: cannot unmarshal \"maybe\" "
                     "into a boolean");
    expect_str_error("scrape_configs:\n  - job_name: a\n    sample_limit: -1\n",
                     "test.yml:3:19: scrape_configs[0].sample_limit: cannot unmarshal \"-1\" into "
                     "an unsigned integer");
    expect_str_error("- a\n", "test.yml:1:1: expected a mapping, got a list");
    expect_str_error("scrape_configs:\n  -\n",
                     "test.yml:2:4: scrape_configs[0]: empty or null scrape config section");
    expect_str_error("scrape_configs:\n  - job_name: a\n    body_size_limit: 100\n",
                     "test.yml:3:22: scrape_configs[0].body_size_limit: \"100\" is not a valid "
                     "byte size");
    expect_str_error("alerting:\n  alertmanagers:\n    - api_version: v1\n",
                     "test.yml:3:20: alerting.alertmanagers[0].api_version: expected "
                     "Alertmanager api version to be one of [v2] but got v1");
    expect_str_error("remote_write:\n  - url: http://a/\n    name: x\n  - url: http://b/\n"
                     "    name: x\n",
                     "test.yml:5:11: remote_write[1].name: found multiple remote write configs "
                     "with job name \"x\"");
    expect_str_error("scrape_configs:\n  - job_name: a\n    scrape_protocols: []\n",
                     "test.yml:3:23: scrape_configs[0].scrape_protocols: scrape_protocols cannot "
                     "be empty");
    expect_str_error("scrape_configs:\n  - job_name: a\n    tls_config:\n      cert_file: c.pem\n",
                     "test.yml:4:7: scrape_configs[0].tls_config: exactly one of key or key_file "
                     "must be configured when a client certificate is configured");
    expect_str_error("scrape_configs:\n  - job_name: a\n    authorization:\n      type: basic\n",
                     "test.yml:4:7: scrape_configs[0].authorization: authorization type cannot be "
                     "set to \"basic\", use \"basic_auth\" instead");
    expect_str_error("a: &x [*x]\n", "test.yml:1:8: yaml: anchor value contains itself");
    expect_str_error("global:\n  metric_name_validation_scheme: legacy\n  external_labels:\n"
                     "    a.b: x\n",
                     "test.yml:4:5: global.external_labels: \"a.b\" is not a valid label name");
}

/* ---- relabel rules: Prometheus 3's per-action rules ---- */

static void test_relabel_validation(void **state)
{
    (void)state;
    const char *head = "scrape_configs:\n  - job_name: a\n    relabel_configs:\n      - ";
    struct {
        const char *rule, *error; /* error NULL: valid */
    } cases[] = {
        {"action: keepequal\n        target_label: b\n        regex: '(.*)'\n",
         "keepequal action requires only 'source_labels' and `target_label`, and no other "
         "fields"},
        {"action: dropequal\n        target_label: b\n        source_labels: [a]\n", NULL},
        {"action: lowercase\n        target_label: b\n        replacement: x\n",
         "'replacement' can not be set for lowercase action"},
        {"action: uppercase\n", "relabel configuration for uppercase action requires "
                                "'target_label' value"},
        {"action: labelkeep\n        source_labels: []\n",
         "labelkeep action requires only 'regex', and no other fields"},
        {"action: labelmap\n        replacement: 'l-$1'\n", NULL}, /* UTF-8 names (3.x) */
        {"target_label: 'x-${1}'\n", NULL},
        {"action: KEEP\n", NULL},
        {"action:\n", "relabel action cannot be empty"},
        {"regex: 'a{2}{3}'\n        target_label: x\n",
         "error parsing regexp: invalid nested repetition operator: `{2}{3}` at position 1"},
        {"regex: 'a\\Z'\n        target_label: x\n",
         "error parsing regexp: invalid escape sequence: `\\Z` at position 1"},
        {"regex: '(?P<n>a)\\d+\\pL[[:alpha:]]\\Q*\\E{1,1000}?'\n        target_label: x\n", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char yaml[512];
        snprintf(yaml, sizeof yaml, "%s%s", head, cases[i].rule);
        struct prom_config *c = NULL;
        struct conf_error err = {{0}};
        int rc = prom_config_load_string("t.yml", yaml, strlen(yaml), &c, &err);
        if (!cases[i].error) {
            if (rc < 0)
                fail_msg("case %zu: %s", i, err.msg);
            prom_config_free(c);
            continue;
        }
        if (rc == 0)
            fail_msg("case %zu loaded, expected %s", i, cases[i].error);
        if (!strstr(err.msg, cases[i].error))
            fail_msg("case %zu: %s\n  expected: %s", i, err.msg, cases[i].error);
    }

    /* Under the legacy scheme the 2.x label rules come back. */
    expect_str_error("global:\n  metric_name_validation_scheme: legacy\n"
                     "scrape_configs:\n  - job_name: a\n    relabel_configs:\n"
                     "      - action: labelmap\n        replacement: 'l-$1'\n",
                     "test.yml:7:22: scrape_configs[0].relabel_configs[0].replacement: \"l-$1\" is "
                     "invalid 'replacement' for labelmap action");
}

/* ---- YAML: anchors and merge keys ---- */

static void test_anchors_and_merge_keys(void **state)
{
    (void)state;
    struct prom_config *c = load_ok(DATA "valid_anchors.yml");
    assert_int_equal(c->n_scrape_configs, 3);
    const struct prom_scrape_config *a = job(c, "node-a"), *b = job(c, "node-b"),
                                    *cc = job(c, "node-c");
    /* node-b merges node-a, overriding job_name and scrape_timeout. */
    assert_int_equal(b->scrape_interval_ms, 20000);
    assert_int_equal(b->scrape_timeout_ms, 5000);
    assert_int_equal(a->scrape_timeout_ms, 15000);
    assert_string_equal(b->sd.static_configs[0].targets.v[0], "localhost:9100");
    assert_int_equal(b->relabel_configs.n, 1);
    /* node-c aliases lists; the config owns separate copies. */
    assert_string_equal(cc->relabel_configs.v[0].regex, "([^:]+):\\d+");
    assert_ptr_not_equal(cc->relabel_configs.v, a->relabel_configs.v);
    assert_int_equal(cc->scrape_interval_ms, 60000);
    prom_config_free(c);
}

/* ---- what Vigil accepts but does not run ---- */

static void test_unsupported_sd_recorded(void **state)
{
    (void)state;
    struct prom_config *c = load_str_ok("scrape_configs:\n"
                                        "  - job_name: k8s\n"
                                        "    kubernetes_sd_configs:\n"
                                        "      - role: pod\n"
                                        "        namespaces: {names: [default]}\n"
                                        "    consul_sd_configs:\n"
                                        "      - server: localhost:8500\n"
                                        "    ec2_sd_configs: []\n"
                                        "    relabel_configs:\n"
                                        "      - source_labels: [__meta_kubernetes_pod_name]\n"
                                        "        target_label: pod\n");
    const struct prom_scrape_config *k = job(c, "k8s");
    assert_int_equal(k->sd.unsupported.n, 2);
    assert_string_equal(k->sd.unsupported.v[0], "consul_sd_configs");
    assert_string_equal(k->sd.unsupported.v[1], "kubernetes_sd_configs");
    prom_config_free(c);
    expect_str_error("scrape_configs:\n  - job_name: a\n    consult_sd_configs: []\n",
                     "test.yml:3:5: scrape_configs[0]: unknown field \"consult_sd_configs\"");
}

static void test_prometheus3_features(void **state)
{
    (void)state;
    setenv("VIGIL_TEST_REGION", "eu-west", 1);
    unsetenv("VIGIL_TEST_UNSET");
    struct prom_config *c =
        load_str_ok("global:\n"
                    "  rule_query_offset: 30s\n"
                    "  external_labels:\n"
                    "    region: ${VIGIL_TEST_REGION}\n"
                    "    cost: $$5 $VIGIL_TEST_UNSET.\n"
                    "    'service.name': vigil\n" /* UTF-8 label names are fine in 3.x */
                    "otlp:\n"
                    "  promote_resource_attributes: [service.instance.id]\n"
                    "scrape_configs:\n"
                    "  - job_name: a\n"
                    "    track_timestamps_staleness: true\n"
                    "    enable_compression: false\n"
                    "    fallback_scrape_protocol: PrometheusText0.0.4\n"
                    "    scrape_protocols: [OpenMetricsText1.0.0, PrometheusProto]\n"
                    "    http_headers:\n"
                    "      X-Tenant:\n"
                    "        values: [a]\n"
                    "        files: [tenant.txt]\n"
                    "    proxy_from_environment: true\n");
    assert_int_equal(c->global.rule_query_offset_ms, 30000);
    assert_string_equal(ystrmap_get(&c->global.external_labels, "region"), "eu-west");
    assert_string_equal(ystrmap_get(&c->global.external_labels, "cost"), "$5 .");
    assert_string_equal(ystrmap_get(&c->global.external_labels, "service.name"), "vigil");
    const struct prom_scrape_config *a = job(c, "a");
    assert_true(a->track_timestamps_staleness);
    assert_false(a->enable_compression);
    assert_int_equal(a->fallback_scrape_protocol, PROM_PROTO_PROMETHEUS_TEXT_0_0_4);
    assert_int_equal(a->scrape_protocols.n, 2);
    assert_int_equal(a->scrape_protocols.v[1], PROM_PROTO_PROMETHEUS_PROTO);
    assert_int_equal(a->http.n_http_headers, 1);
    assert_string_equal(a->http.http_headers[0].name, "X-Tenant");
    assert_string_equal(a->http.http_headers[0].files.v[0], "tenant.txt");
    assert_true(a->http.proxy.proxy_from_environment);
    prom_config_free(c);

    expect_str_error("scrape_configs:\n  - job_name: a\n    http_headers:\n"
                     "      User-Agent: {values: [x]}\n",
                     "test.yml:4:7: scrape_configs[0].http_headers: setting header \"User-Agent\" "
                     "is not allowed");
}

static void test_scrape_config_files(void **state)
{
    (void)state;
    struct prom_config *c = load_ok(DATA "v3_scrape_config_files.yml");
    assert_int_equal(c->n_scrape_configs, 3);
    assert_string_equal(c->scrape_configs[0].job_name, "main");
    const struct prom_scrape_config *e = job(c, "extra"), *s = job(c, "extra-static");
    assert_string_equal(e->source_file, "data/conf/scrape.d/extra.yml");
    assert_int_equal(e->scrape_interval_ms, 20000); /* the main file's global */
    assert_int_equal(s->scrape_interval_ms, 5000);
    /* Paths in the included file resolve against its own directory. */
    assert_string_equal(e->sd.file_sd[0].files.v[0], "data/conf/targets/*.json");
    prom_config_free(c);
}

/* ---- rule files ---- */

static void test_rule_file_fields(void **state)
{
    (void)state;
    struct rule_file *rf;
    struct conf_error err = {{0}};
    assert_int_equal(rule_file_load(DATA "rules/good_alerts.yml", &rf, &err), 0);
    assert_int_equal(rf->n_groups, 1);
    const struct rule_file_group *g = &rf->groups[0];
    assert_string_equal(g->name, "availability");
    assert_int_equal(g->interval_ms, 30000);
    assert_false(g->has_query_offset);
    const struct rule_file_rule *r = &g->rules[0];
    assert_string_equal(r->alert, "InstanceDown");
    assert_null(r->record);
    assert_int_equal(r->for_ms, 300000);
    assert_string_equal(ystrmap_get(&r->labels, "severity"), "critical");
    assert_string_equal(ystrmap_get(&r->annotations, "summary"),
                        "{{ $labels.instance }} of job {{ $labels.job }} is down");
    assert_int_equal(g->rules[1].keep_firing_for_ms, 600000);
    rule_file_free(rf);

    const char *y = "groups:\n  - name: g\n    query_offset: 1m\n    limit: 5\n"
                    "    labels: {team: infra}\n    rules:\n      -\n"
                    "      - record: a:b\n        expr: up\n";
    assert_int_equal(rule_file_load_string("r.yml", y, strlen(y), NULL, &rf, &err), 0);
    assert_true(rf->groups[0].has_query_offset);
    assert_int_equal(rf->groups[0].query_offset_ms, 60000);
    assert_int_equal(rf->groups[0].limit, 5);
    assert_string_equal(ystrmap_get(&rf->groups[0].labels, "team"), "infra");
    assert_int_equal(rule_file_rule_count(rf), 1); /* null entries are dropped */
    rule_file_free(rf);

    assert_int_equal(rule_file_load_string("r.yml", "", 0, NULL, &rf, &err), 0);
    assert_int_equal(rule_file_rule_count(rf), 0);
    rule_file_free(rf);
}

static void test_rule_file_errors(void **state)
{
    (void)state;
    expect_rules_error("groups:\n  - name: a\n    rules:\n      - expr: up\n",
                       "rules.yml:4:9: groups[0].rules[0]: one of 'record' or 'alert' must be set");
    expect_rules_error("groups:\n  - name: a\n    rules:\n      - record: a\n        alert: b\n"
                       "        expr: up\n",
                       "rules.yml:4:17: groups[0].rules[0].record: only one of 'record' and "
                       "'alert' must be set");
    expect_rules_error("groups:\n  - name: a\n    rules:\n      - alert: a\n",
                       "rules.yml:4:9: groups[0].rules[0]: field 'expr' must be set in rule");
    expect_rules_error("groups:\n  - name: a\n    rules:\n  - name: a\n",
                       "rules.yml:4:11: groups[1].name: groupname: \"a\" is repeated in the same "
                       "file");
    expect_rules_error("groups:\n  - rules: []\n",
                       "rules.yml:2:5: groups[0]: Groupname must not be empty");
    expect_rules_error("groups:\n  - name: a\n    rules:\n      - record: 'a{b=\"c\"}'\n"
                       "        expr: up\n",
                       "rules.yml:4:17: groups[0].rules[0].record: braces present in the "
                       "recording rule name; should it be in expr?: a{b=\"c\"}");
    expect_rules_error("groups:\n  - name: a\n    rules:\n      - record: a\n        expr: up\n"
                       "        for: 5m\n",
                       "rules.yml:6:14: groups[0].rules[0].for: invalid field 'for' in recording "
                       "rule");
    expect_rules_error("groups:\n  - name: a\n    rules:\n      - alert: a\n        expr: up\n"
                       "        labels:\n          __name__: x\n",
                       "rules.yml:7:11: groups[0].rules[0].labels: invalid label name: __name__");
    expect_rules_error("groups:\n  - name: a\n    rules:\n      - alert: a\n        expr: up\n"
                       "        severity: page\n",
                       "rules.yml:6:9: groups[0].rules[0]: unknown field \"severity\"");
    expect_rules_error("groups:\n  - name: a\n    interval: 1\n",
                       "rules.yml:3:15: groups[0].interval: \"1\" is not a valid duration");
    expect_rules_error("groupz: []\n", "rules.yml:1:1: unknown field \"groupz\"");

    /* The legacy scheme rejects what UTF-8 names allow. */
    const char *y = "groups:\n  - name: a\n    rules:\n      - record: 'a-b'\n        expr: up\n";
    struct rule_file *rf;
    struct conf_error err = {{0}};
    assert_int_equal(rule_file_load_string("r.yml", y, strlen(y), NULL, &rf, &err), 0);
    rule_file_free(rf);
    struct rule_file_options legacy = {NULL, NULL, PROM_NAMES_LEGACY};
    assert_int_equal(rule_file_load_string("r.yml", y, strlen(y), &legacy, &rf, &err), -1);
    assert_string_equal(err.msg, "r.yml:4:17: groups[0].rules[0].record: invalid recording rule "
                                 "name: a-b");
}

static int reject_braces(const char *expr, void *arg, char *msg, size_t n)
{
    int *calls = arg;
    (*calls)++;
    if (strchr(expr, '}')) {
        snprintf(msg, n, "1:%d: parse error: unexpected \"}\"",
                 (int)(strchr(expr, '}') - expr) + 1);
        return -1;
    }
    return 0;
}

static void test_rule_expr_validator_hook(void **state)
{
    (void)state;
    int calls = 0;
    struct rule_file_options opts = {reject_braces, &calls, PROM_NAMES_UTF8};
    const char *y = "groups:\n  - name: a\n    rules:\n      - record: x\n        expr: up\n"
                    "      - alert: y\n        expr: up}\n";
    struct rule_file *rf;
    struct conf_error err = {{0}};
    assert_int_equal(rule_file_load_string("r.yml", y, strlen(y), &opts, &rf, &err), -1);
    assert_int_equal(calls, 2);
    assert_string_equal(err.msg, "r.yml:7:15: groups[0].rules[1].expr: could not parse "
                                 "expression: 1:3: parse error: unexpected \"}\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seedstack_config),
        cmocka_unit_test(test_seedstack_rules),
        cmocka_unit_test(test_seedstack_rule_details),
        cmocka_unit_test(test_empty_file_defaults),
        cmocka_unit_test(test_global_inheritance),
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_relative_paths),
        cmocka_unit_test(test_path_join),
        cmocka_unit_test(test_rule_files_expansion),
        cmocka_unit_test(test_broken_configs),
        cmocka_unit_test(test_broken_rule_files_via_config),
        cmocka_unit_test(test_broken_inline),
        cmocka_unit_test(test_relabel_validation),
        cmocka_unit_test(test_anchors_and_merge_keys),
        cmocka_unit_test(test_unsupported_sd_recorded),
        cmocka_unit_test(test_prometheus3_features),
        cmocka_unit_test(test_scrape_config_files),
        cmocka_unit_test(test_rule_file_fields),
        cmocka_unit_test(test_rule_file_errors),
        cmocka_unit_test(test_rule_expr_validator_hook),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
