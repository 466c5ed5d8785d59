/* test_conf_config_yaml.c — prom_config_marshal, as a specification of what
 * GET /api/v1/status/config prints.
 *
 * Each case loads a small prometheus.yml from a string and compares the
 * printed YAML (or the lines of it that matter) with what Prometheus 3
 * prints for the same file: defaults filled in, secrets hidden, yaml.v2's
 * quoting, relabel defaults, SD and HTTP client fields in Go struct order.
 * The e2e test test_api_status_config.py checks the same against a real
 * Prometheus. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "util/sbuf.h"

/* Loads yaml and returns the printed config (caller frees). */
static char *print_config(const char *yaml)
{
    struct prom_config *c = NULL;
    struct conf_error err = {{0}};
    if (prom_config_load_string("t.yml", yaml, strlen(yaml), &c, &err) < 0)
        fail_msg("unexpected error: %s", err.msg);
    struct sbuf out = SBUF_INIT;
    prom_config_marshal(c, &out);
    prom_config_free(c);
    return sbuf_detach(&out);
}

static void expect_contains(const char *yaml, const char *want)
{
    char *got = print_config(yaml);
    if (!strstr(got, want))
        fail_msg("missing:\n%s\nin:\n%s", want, got);
    free(got);
}

static void expect_absent(const char *yaml, const char *unwanted)
{
    char *got = print_config(yaml);
    if (strstr(got, unwanted))
        fail_msg("unexpected:\n%s\nin:\n%s", unwanted, got);
    free(got);
}

/* An empty file: DefaultConfig, as Prometheus 3 prints it. */
static void test_defaults(void **state)
{
    (void)state;
    char *got = print_config("");
    assert_string_equal(got, "global:\n"
                             "  scrape_interval: 1m\n"
                             "  scrape_timeout: 10s\n"
                             "  evaluation_interval: 1m\n"
                             "  metric_name_validation_scheme: utf8\n"
                             "  metric_name_escaping_scheme: allow-utf-8\n"
                             "  scrape_native_histograms: false\n"
                             "runtime:\n"
                             "  gogc: 75\n"
                             "otlp:\n"
                             "  translation_strategy: UnderscoreEscapingWithSuffixes\n"
                             "  label_name_underscore_sanitization: true\n"
                             "  label_name_preserve_multiple_underscores: true\n");
    free(got);
}

/* A job with nothing but a name gets every inherited and default value. */
static void test_job_defaults(void **state)
{
    (void)state;
    char *got = print_config("global:\n  scrape_interval: 15s\n"
                             "scrape_configs:\n  - job_name: a\n");
    const char *job = "scrape_configs:\n"
                      "- job_name: a\n"
                      "  honor_timestamps: true\n"
                      "  track_timestamps_staleness: false\n"
                      "  scrape_interval: 15s\n"
                      "  scrape_timeout: 10s\n"
                      "  scrape_protocols:\n"
                      "  - OpenMetricsText1.0.0\n"
                      "  - OpenMetricsText0.0.1\n"
                      "  - PrometheusText1.0.0\n"
                      "  - PrometheusText0.0.4\n"
                      "  scrape_native_histograms: false\n"
                      "  always_scrape_classic_histograms: false\n"
                      "  convert_classic_histograms_to_nhcb: false\n"
                      "  metrics_path: /metrics\n"
                      "  scheme: http\n"
                      "  enable_compression: true\n"
                      "  metric_name_validation_scheme: utf8\n"
                      "  metric_name_escaping_scheme: allow-utf-8\n"
                      "  extra_scrape_metrics: false\n"
                      "  follow_redirects: true\n"
                      "  enable_http2: true\n"
                      "otlp:\n";
    if (!strstr(got, job))
        fail_msg("got:\n%s", got);
    /* A written global section starts empty: no escaping scheme printed. */
    assert_null(strstr(got, "  metric_name_escaping_scheme: allow-utf-8\n  scrape_native"));
    free(got);
}

static void test_secrets(void **state)
{
    (void)state;
    const char *y = "scrape_configs:\n"
                    "  - job_name: a\n"
                    "    basic_auth: {username: u, password: hunter2}\n"
                    "    tls_config: {cert: CERT, key: KEY}\n"
                    "  - job_name: b\n"
                    "    bearer_token: tok\n"
                    "    proxy_url: http://u:pw@proxy:3128/\n"
                    "    proxy_connect_header: {X-Auth: [s1, s2]}\n"
                    "    http_headers:\n"
                    "      X-B: {values: [v], secrets: [s]}\n"
                    "remote_write:\n"
                    "  - url: http://u:pass@rw/api\n";
    char *got = print_config(y);
    assert_null(strstr(got, "hunter2"));
    assert_null(strstr(got, "KEY"));
    assert_null(strstr(got, "tok\n"));
    assert_non_null(strstr(got, "  basic_auth:\n    username: u\n    password: <secret>\n"));
    assert_non_null(strstr(got, "  tls_config:\n    cert: CERT\n    key: <secret>\n"
                                "    insecure_skip_verify: false\n"));
    assert_non_null(strstr(got, "  authorization:\n    type: Bearer\n    credentials: <secret>\n"));
    assert_non_null(strstr(got, "  proxy_url: http://u:xxxxx@proxy:3128/\n"
                                "  proxy_connect_header:\n    X-Auth:\n    - <secret>\n"
                                "    - <secret>\n"));
    assert_non_null(strstr(got, "  http_headers:\n    X-B:\n      values:\n      - v\n"
                                "      secrets:\n      - <secret>\n"));
    assert_non_null(strstr(got, "- url: http://u:xxxxx@rw/api\n"));
    free(got);
}

/* yaml.v2's scalar styles: quote what would read back as something else. */
static void test_quoting(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"\"\"", "\"\""},
        {"\"true\"", "\"true\""},
        {"\"yes\"", "\"yes\""},
        {"\"1\"", "\"1\""},
        {"\"0x1F\"", "\"0x1F\""},
        {"\"1_000\"", "\"1_000\""},
        {"\"1.5e3\"", "\"1.5e3\""},
        {"\".5\"", "\".5\""},
        {"\"~\"", "\"~\""},
        {"\"null\"", "\"null\""},
        {"\"2024-01-02\"", "\"2024-01-02\""},
        {"\"1:20\"", "\"1:20\""},
        {"\"a: b\"", "'a: b'"},
        {"\"a:b\"", "a:b"},
        {"\"# x\"", "'# x'"},
        {"\"a #b\"", "'a #b'"},
        {"\"a#b\"", "a#b"},
        {"\"- x\"", "'- x'"},
        {"\"-x\"", "-x"},
        {"\" lead\"", "' lead'"},
        {"\"trail \"", "'trail '"},
        {"\"it's\"", "it's"},
        {"\"'q'\"", "'''q'''"},
        {"\"*x\"", "'*x'"},
        {"\"@x\"", "'@x'"},
        {"\"tab\\there\"", "\"tab\\there\""},
        {"\"a\\nb\"", "|-\n      a\n      b"},
        {"\"x\\u00e9\"", "x\xc3\xa9"},
        {"\"---\"", "'---'"},
        {"\"[a]\"", "'[a]'"},
        {"\"a[b]\"", "a[b]"},
        {"\"$$1\"", "$1"}, /* external labels expand $VAR; $$ is a $ */
        {"\"(.*)\"", "(.*)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char y[256], want[256];
        snprintf(y, sizeof y, "global:\n  external_labels:\n    l: %s\n", cases[i].in);
        snprintf(want, sizeof want, "  external_labels:\n    l: %s\n", cases[i].out);
        expect_contains(y, want);
    }
    /* Keys go through the same rules; maps print sorted. */
    expect_contains("global:\n  external_labels: {b: x, a: y, \"yes\": z}\n",
                    "  external_labels:\n    a: \"y\"\n    b: x\n    \"yes\": z\n");
}

/* libyaml folds long plain scalars at a space past column 80. */
static void test_folding(void **state)
{
    (void)state;
    expect_contains("global:\n  external_labels:\n    l: this is a rather long label value with "
                    "many words in it so that it goes past the eighty column limit\n",
                    "    l: this is a rather long label value with many words in it so that "
                    "it goes past\n      the eighty column limit\n");
}

static void test_relabel(void **state)
{
    (void)state;
    const char *y = "scrape_configs:\n"
                    "  - job_name: a\n"
                    "    relabel_configs:\n"
                    "      - source_labels: [a, b]\n"
                    "        target_label: c\n"
                    "      - action: labeldrop\n"
                    "        regex: tmp_.*\n"
                    "      - source_labels: [a]\n"
                    "        regex: (.*)\n"
                    "        modulus: 4\n"
                    "        target_label: shard\n"
                    "        action: HashMod\n"
                    "      - source_labels: [a]\n"
                    "        target_label: b\n"
                    "        separator: ''\n"
                    "        replacement: ''\n";
    expect_contains(y, "  relabel_configs:\n"
                       "  - source_labels: [a, b]\n"
                       "    separator: ;\n"
                       "    target_label: c\n"
                       "    replacement: $1\n"
                       "    action: replace\n"
                       "  - separator: ;\n"
                       "    regex: tmp_.*\n"
                       "    replacement: $1\n"
                       "    action: labeldrop\n"
                       "  - source_labels: [a]\n"
                       "    separator: ;\n"
                       "    regex: (.*)\n"
                       "    modulus: 4\n"
                       "    target_label: shard\n"
                       "    replacement: $1\n"
                       "    action: hashmod\n"
                       "  - source_labels: [a]\n"
                       "    separator: \"\"\n"
                       "    target_label: b\n"
                       "    replacement: \"\"\n"
                       "    action: replace\n");
}

static void test_service_discovery(void **state)
{
    (void)state;
    const char *y = "scrape_configs:\n"
                    "  - job_name: a\n"
                    "    static_configs:\n"
                    "      - targets: [x:1]\n"
                    "        labels: {env: prod}\n"
                    "      - targets: []\n"
                    "    file_sd_configs:\n"
                    "      - files: [/sd/*.json]\n"
                    "    dns_sd_configs:\n"
                    "      - names: [a.example]\n"
                    "        type: A\n"
                    "        port: 80\n"
                    "    http_sd_configs:\n"
                    "      - url: http://sd/t\n"
                    "    docker_sd_configs:\n"
                    "      - host: unix:///var/run/docker.sock\n";
    expect_contains(y, "  enable_http2: true\n"
                       "  dns_sd_configs:\n"
                       "  - names:\n"
                       "    - a.example\n"
                       "    refresh_interval: 30s\n"
                       "    type: A\n"
                       "    port: 80\n"
                       "  docker_sd_configs:\n"
                       "  - follow_redirects: true\n"
                       "    enable_http2: true\n"
                       "    host: unix:///var/run/docker.sock\n"
                       "    port: 80\n"
                       "    filters: []\n"
                       "    host_networking_host: localhost\n"
                       "    refresh_interval: 1m\n"
                       "    match_first_network: true\n"
                       "  file_sd_configs:\n"
                       "  - files:\n"
                       "    - /sd/*.json\n"
                       "    refresh_interval: 5m\n"
                       "  http_sd_configs:\n"
                       "  - follow_redirects: true\n"
                       "    enable_http2: true\n"
                       "    refresh_interval: 1m\n"
                       "    url: http://sd/t\n"
                       "  static_configs:\n"
                       "  - targets:\n"
                       "    - x:1\n"
                       "    labels:\n"
                       "      env: prod\n"
                       "  - targets: []\n");
}

static void test_http_client(void **state)
{
    (void)state;
    const char *y = "scrape_configs:\n"
                    "  - job_name: a\n"
                    "    params: {z: [1], a: [x, y]}\n"
                    "    follow_redirects: false\n"
                    "    tls_config: {server_name: s, insecure_skip_verify: true,\n"
                    "                 min_version: TLS12, max_version: TLS13}\n"
                    "    oauth2:\n"
                    "      client_id: id\n"
                    "      client_secret_file: /secret\n"
                    "      token_url: http://t/\n"
                    "      scopes: [r]\n";
    expect_contains(y, "  params:\n    a:\n    - x\n    - \"y\"\n    z:\n    - \"1\"\n");
    expect_contains(y, "  oauth2:\n"
                       "    client_id: id\n"
                       "    client_secret: null\n"
                       "    client_secret_file: /secret\n"
                       "    client_secret_ref: \"\"\n"
                       "    scopes:\n"
                       "    - r\n"
                       "    token_url: http://t/\n"
                       "  tls_config:\n"
                       "    server_name: s\n"
                       "    insecure_skip_verify: true\n"
                       "    min_version: TLS12\n"
                       "    max_version: TLS13\n"
                       "  follow_redirects: false\n"
                       "  enable_http2: true\n");
    expect_absent(y, "bearer_token");
}

static void test_sections(void **state)
{
    (void)state;
    const char *y = "global:\n  body_size_limit: 1536KB\n  sample_limit: 10\n"
                    "storage:\n  tsdb:\n    out_of_order_time_window: 10m\n"
                    "  exemplars:\n    max_exemplars: 5\n"
                    "tracing:\n  endpoint: localhost:4317\n  sampling_fraction: 0.25\n"
                    "remote_read:\n  - url: http://rr/\n"
                    "alerting:\n  alertmanagers:\n    - static_configs: [{targets: [am:9093]}]\n";
    expect_contains(y, "  body_size_limit: 1MiB512KiB\n  sample_limit: 10\n");
    expect_contains(y, "storage:\n  tsdb:\n    outofordertimewindow: 600000\n"
                       "    out_of_order_time_window: 10m\n  exemplars:\n    max_exemplars: 5\n"
                       "tracing:\n  client_type: grpc\n  endpoint: localhost:4317\n"
                       "  sampling_fraction: 0.25\n");
    expect_contains(y, "remote_read:\n- url: http://rr/\n  remote_timeout: 1m\n"
                       "  chunked_read_limit: 50000000\n  follow_redirects: true\n"
                       "  enable_http2: true\n  filter_external_labels: true\n");
    expect_contains(y, "alerting:\n  alertmanagers:\n  - follow_redirects: true\n"
                       "    enable_http2: true\n    scheme: http\n    timeout: 10s\n"
                       "    api_version: v2\n    static_configs:\n    - targets:\n"
                       "      - am:9093\n");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),          cmocka_unit_test(test_job_defaults),
        cmocka_unit_test(test_secrets),           cmocka_unit_test(test_quoting),
        cmocka_unit_test(test_folding),           cmocka_unit_test(test_relabel),
        cmocka_unit_test(test_service_discovery), cmocka_unit_test(test_http_client),
        cmocka_unit_test(test_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
