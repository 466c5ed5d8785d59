/* config.h — the Prometheus configuration: prometheus.yml and rule files.
 *
 * Vigil loads a user's prometheus.yml and rule files unchanged, so this
 * module follows Prometheus 3.x: the same field names, the same defaults
 * (applied the way Prometheus applies them: a zero duration or limit means
 * "unset" and is replaced by the global or built-in value), and the same
 * validation, with errors that say where:
 *
 *     prometheus.yml:12:22: scrape_configs[0].scrape_interval: "15x" is not a
 *     valid duration
 *
 * Everything here is plain data: a loaded `struct prom_config` is immutable
 * and owned by whoever loaded it (free with prom_config_free).  Any thread
 * may read it; nobody writes it.  Relabel regexes are validated at load time
 * (PCRE2, anchored as ^(?s:re)$, restricted to the RE2 syntax Prometheus
 * accepts) but stored as source text: compiling and running them belongs to
 * scrape/.  Relative file names (rule_files, file_sd files, TLS and password
 * files, query_log_file, ...) are joined to the config file's directory, as
 * Prometheus does.
 *
 * Service discovery: static, file, http, dns and docker SD are decoded into
 * typed structs.  Every other mechanism Prometheus knows (kubernetes_sd_configs,
 * consul_sd_configs, ...) is accepted without looking inside and its name is
 * recorded in `unsupported`, so the server can warn instead of failing.
 *
 * Conventions: durations are int64 milliseconds (`_ms`), byte sizes int64
 * bytes; an array member is immediately followed by its count (the decoders
 * rely on that, and static assertions check it). */
#ifndef VIGIL_CONF_CONFIG_H
#define VIGIL_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf_error.h"
#include "conf/http_client.h" /* struct prom_http_client, prom_tls_config */
#include "conf/yaml_tree.h"   /* struct ystrlist, struct ystrmap */

/* A position in a config or rule file (1-based). */
struct prom_pos {
    int line, col;
};

/* ---- Name validation ---- */

/* Prometheus 3 validates metric and label names as UTF-8 unless the config
 * asks for the legacy [a-zA-Z_:][a-zA-Z0-9_:]* rules. */
enum prom_name_validation { PROM_NAMES_UTF8, PROM_NAMES_LEGACY };

bool prom_label_name_is_valid(const char *name, enum prom_name_validation scheme);
bool prom_metric_name_is_valid(const char *name, enum prom_name_validation scheme);

/* ---- Relabeling ---- */

enum prom_relabel_action {
    PROM_RELABEL_REPLACE, /* the default */
    PROM_RELABEL_KEEP,
    PROM_RELABEL_DROP,
    PROM_RELABEL_KEEPEQUAL,
    PROM_RELABEL_DROPEQUAL,
    PROM_RELABEL_HASHMOD,
    PROM_RELABEL_LABELMAP,
    PROM_RELABEL_LABELDROP,
    PROM_RELABEL_LABELKEEP,
    PROM_RELABEL_LOWERCASE,
    PROM_RELABEL_UPPERCASE,
};

/* "replace", "keep", ... as Prometheus spells them. */
const char *prom_relabel_action_name(enum prom_relabel_action a);

struct prom_relabel {
    struct ystrlist source_labels;
    char *separator;    /* default ";" */
    char *regex;        /* as written; default "(.*)"; run it as ^(?s:re)$ */
    bool regex_set;     /* written in the file (Prometheus 3 prints only then) */
    uint64_t modulus;   /* hashmod only */
    char *target_label; /* "" if unset */
    char *replacement;  /* default "$1" */
    enum prom_relabel_action action;
    struct prom_pos pos; /* of the entry */
};

struct prom_relabel_list {
    struct prom_relabel *v;
    size_t n;
};

/* ---- Service discovery ---- */

struct prom_target_group {
    struct ystrlist targets; /* "host:port" */
    struct ystrmap labels;
    struct prom_pos pos;
};

struct prom_file_sd {
    struct ystrlist files;       /* globs ending in .json, .yml or .yaml; resolved */
    int64_t refresh_interval_ms; /* default 5m */
};

struct prom_http_sd {
    char *url;                   /* required, http or https */
    int64_t refresh_interval_ms; /* default 60s */
    struct prom_http_client http;
};

enum prom_dns_type { PROM_DNS_SRV, PROM_DNS_A, PROM_DNS_AAAA, PROM_DNS_MX, PROM_DNS_NS };

struct prom_dns_sd {
    struct ystrlist names;
    enum prom_dns_type type;     /* default SRV */
    int64_t port;                /* required unless SRV */
    int64_t refresh_interval_ms; /* default 30s */
};

struct prom_docker_filter {
    char *name;
    struct ystrlist values;
};

struct prom_docker_sd {
    char *host;                 /* required, e.g. unix:///var/run/docker.sock */
    int64_t port;               /* default 80 */
    char *host_networking_host; /* default "localhost" */
    struct prom_docker_filter *filters;
    size_t n_filters;
    bool match_first_network;    /* default true */
    int64_t refresh_interval_ms; /* default 60s */
    struct prom_http_client http;
};

struct prom_sd_configs {
    struct prom_target_group *static_configs;
    size_t n_static_configs;
    struct prom_file_sd *file_sd;
    size_t n_file_sd;
    struct prom_http_sd *http_sd;
    size_t n_http_sd;
    struct prom_dns_sd *dns_sd;
    size_t n_dns_sd;
    struct prom_docker_sd *docker_sd;
    size_t n_docker_sd;
    /* Names of other mechanisms present ("kubernetes_sd_configs", ...):
     * accepted, not run.  The server should warn about each. */
    struct ystrlist unsupported;
};

/* ---- Scraping ---- */

enum prom_scrape_protocol {
    PROM_PROTO_NONE = 0,
    PROM_PROTO_PROMETHEUS_PROTO,       /* "PrometheusProto" */
    PROM_PROTO_PROMETHEUS_TEXT_0_0_4,  /* "PrometheusText0.0.4" */
    PROM_PROTO_PROMETHEUS_TEXT_1_0_0,  /* "PrometheusText1.0.0" */
    PROM_PROTO_OPENMETRICS_TEXT_0_0_1, /* "OpenMetricsText0.0.1" */
    PROM_PROTO_OPENMETRICS_TEXT_1_0_0, /* "OpenMetricsText1.0.0" */
};
#define PROM_SCRAPE_PROTOCOL_MAX 5

/* An ordered preference list (no duplicates, so at most one of each). */
struct prom_scrape_protocols {
    enum prom_scrape_protocol v[PROM_SCRAPE_PROTOCOL_MAX];
    size_t n;
};

/* The config spelling ("PrometheusText0.0.4") and the Accept-header media
 * type with parameters ("text/plain;version=0.0.4"). */
const char *prom_scrape_protocol_name(enum prom_scrape_protocol p);
const char *prom_scrape_protocol_header(enum prom_scrape_protocol p);

struct prom_global_config {
    int64_t scrape_interval_ms;     /* default 1m */
    int64_t scrape_timeout_ms;      /* default min(10s, scrape_interval) */
    int64_t evaluation_interval_ms; /* default 1m */
    int64_t rule_query_offset_ms;   /* default 0 */
    struct ystrmap external_labels; /* $VAR / ${VAR} expanded; values may be "" */
    char *query_log_file;           /* NULL if unset; resolved */
    char *scrape_failure_log_file;  /* NULL if unset; resolved */
    int64_t body_size_limit;        /* bytes; 0 = none (also for the limits below) */
    uint64_t sample_limit, target_limit, label_limit;
    uint64_t label_name_length_limit, label_value_length_limit;
    uint64_t keep_dropped_targets;
    /* Empty (n == 0) unless set: jobs then pick their own default. */
    struct prom_scrape_protocols scrape_protocols;
    enum prom_name_validation metric_name_validation_scheme; /* default utf8 */
    char *metric_name_escaping_scheme;                       /* NULL if unset */
    bool scrape_native_histograms;
    bool convert_classic_histograms_to_nhcb;
    bool always_scrape_classic_histograms;
    bool extra_scrape_metrics;
};

struct prom_scrape_config {
    char *job_name;
    bool honor_labels;
    bool honor_timestamps; /* default true */
    bool track_timestamps_staleness;
    struct prom_named_list *params; /* URL query parameters */
    size_t n_params;
    int64_t scrape_interval_ms; /* after inheritance from global */
    int64_t scrape_timeout_ms;  /* <= scrape_interval_ms */
    /* Always filled after loading (job, global, or the default list). */
    struct prom_scrape_protocols scrape_protocols;
    enum prom_scrape_protocol fallback_scrape_protocol; /* NONE if unset */
    bool scrape_native_histograms;
    bool always_scrape_classic_histograms;
    bool convert_classic_histograms_to_nhcb;
    bool extra_scrape_metrics;
    char *scrape_failure_log_file; /* NULL if none; inherited; resolved */
    char *metrics_path;            /* default "/metrics" */
    char *scheme;                  /* default "http" */
    bool enable_compression;       /* default true */
    /* Limits inherit the global value when 0. */
    int64_t body_size_limit;
    uint64_t sample_limit, target_limit, label_limit;
    uint64_t label_name_length_limit, label_value_length_limit;
    uint64_t native_histogram_bucket_limit;
    double native_histogram_min_bucket_factor;
    uint64_t keep_dropped_targets;
    enum prom_name_validation metric_name_validation_scheme; /* inherited */
    char *metric_name_escaping_scheme;                       /* after inheritance: never NULL */
    struct prom_http_client http;
    struct prom_sd_configs sd;
    struct prom_relabel_list relabel_configs;
    struct prom_relabel_list metric_relabel_configs;
    char *source_file; /* the file that defined this job (scrape_config_files) */
    struct prom_pos pos;
};

/* ---- Alerting ---- */

struct prom_alertmanager_config {
    char *scheme;       /* default "http" */
    char *path_prefix;  /* NULL if unset */
    int64_t timeout_ms; /* default 10s */
    char *api_version;  /* "v2": the only version Prometheus 3 accepts */
    struct prom_http_client http;
    bool has_sigv4; /* sigv4 is accepted but not implemented */
    struct prom_sd_configs sd;
    struct prom_relabel_list relabel_configs;
    struct prom_relabel_list alert_relabel_configs;
    struct prom_pos pos;
};

struct prom_alerting_config {
    struct prom_relabel_list alert_relabel_configs;
    struct prom_alertmanager_config *alertmanagers;
    size_t n_alertmanagers;
};

/* ---- Remote storage ---- */

struct prom_queue_config {
    int64_t capacity;               /* default 10000 */
    int64_t max_shards;             /* default 50 */
    int64_t min_shards;             /* default 1 */
    int64_t max_samples_per_send;   /* default 2000 */
    int64_t batch_send_deadline_ms; /* default 5s */
    int64_t min_backoff_ms;         /* default 30ms */
    int64_t max_backoff_ms;         /* default 5s */
    bool retry_on_http_429;
    int64_t sample_age_limit_ms;
};

struct prom_metadata_config {
    bool send;                    /* default true */
    int64_t send_interval_ms;     /* default 1m */
    int64_t max_samples_per_send; /* default 2000 */
};

struct prom_remote_write {
    char *url; /* required */
    char *name;
    int64_t remote_timeout_ms; /* default 30s */
    struct ystrmap headers;
    struct prom_relabel_list write_relabel_configs;
    bool send_exemplars, send_native_histograms, round_robin_dns;
    char *protobuf_message; /* default "prometheus.WriteRequest" */
    struct prom_http_client http;
    struct prom_queue_config queue_config;
    struct prom_metadata_config metadata_config;
    bool has_sigv4, has_azuread, has_google_iam; /* accepted, not implemented */
    struct prom_pos pos;
};

struct prom_remote_read {
    char *url; /* required */
    char *name;
    int64_t remote_timeout_ms;   /* default 1m */
    uint64_t chunked_read_limit; /* default 50e6 */
    struct ystrmap headers;
    bool read_recent;
    struct ystrmap required_matchers;
    bool filter_external_labels; /* default true */
    struct prom_http_client http;
    struct prom_pos pos;
};

/* ---- Everything else ---- */

struct prom_storage_config {
    bool has_tsdb;                       /* storage.tsdb present */
    bool has_retention;                  /* storage.tsdb.retention present */
    int64_t out_of_order_time_window_ms; /* storage.tsdb */
    int64_t retention_time_ms;           /* storage.tsdb.retention.time; 0 = unset */
    int64_t retention_size;              /* bytes; 0 = unset */
    bool has_exemplars;                  /* storage.exemplars present */
    int64_t max_exemplars;               /* default 100000 */
};

struct prom_tracing_config {
    bool enabled;      /* the block was present (then endpoint is set) */
    char *client_type; /* "grpc" (default) or "http" */
    char *endpoint;
    double sampling_fraction;
    bool insecure;
    struct prom_tls_config tls_config;
    struct ystrmap headers;
    char *compression; /* NULL or "gzip" */
    int64_t timeout_ms;
};

struct prom_otlp_config {
    struct ystrlist promote_resource_attributes;
    struct ystrlist ignore_resource_attributes;
    bool promote_all_resource_attributes;
    char *translation_strategy; /* default "UnderscoreEscapingWithSuffixes" */
    bool keep_identifying_resource_attributes;
    bool convert_histograms_to_nhcb;
    bool promote_scope_metadata;
    bool label_name_underscore_sanitization;       /* default true */
    bool label_name_preserve_multiple_underscores; /* default true */
};

struct prom_config {
    char *file; /* the path it was loaded from, or the name given */
    struct prom_global_config global;
    int64_t runtime_gogc; /* runtime.gogc; 0 if unset (a Go knob: ignored) */
    struct prom_alerting_config alerting;
    struct ystrlist rule_files;      /* globs, resolved against the config's dir */
    struct prom_pos *rule_files_pos; /* one per rule_files entry */
    struct ystrlist scrape_config_files;
    /* Jobs of the main file, then those of scrape_config_files. */
    struct prom_scrape_config *scrape_configs;
    size_t n_scrape_configs;
    struct prom_remote_write *remote_write;
    size_t n_remote_write;
    struct prom_remote_read *remote_read;
    size_t n_remote_read;
    struct prom_storage_config storage;
    struct prom_tracing_config tracing;
    struct prom_otlp_config otlp;
};

/* Loads and validates path.  Returns 0 and *out (caller frees with
 * prom_config_free), or -1 with err->msg = "file:line:col: field.path:
 * reason".  Relative paths inside (rule_files, file_sd files, tls files,
 * password files, query_log_file, ...) are resolved against the config
 * file's directory, as Prometheus does; scrape_config_files are read too. */
int prom_config_load_file(const char *path, struct prom_config **out, struct conf_error *err);
/* As above for text in memory; `name` is used in errors.  Relative paths
 * stay relative (to the working directory), as in Prometheus's Load. */
int prom_config_load_string(const char *name, const char *yaml, size_t len,
                            struct prom_config **out, struct conf_error *err);
void prom_config_free(struct prom_config *c);

/* Appends c as Prometheus 3 prints its loaded configuration (GET
 * /api/v1/status/config): Go's yaml.v2 marshalling of config.Config, with
 * defaults filled in, secrets as <secret>, fields in struct order and
 * omitempty fields left out.  Jobs that came from scrape_config_files are
 * not printed (Prometheus keeps them out of the Config it prints). */
struct sbuf;
void prom_config_marshal(const struct prom_config *c, struct sbuf *out);

/* Expands the rule_files globs (glob(3)) into *out, which the caller frees
 * with ystrlist_free whatever the result.  A glob matching nothing is not an
 * error (Prometheus), but a pattern without '*' that names no existing file
 * is what `promtool check config` reports: then -1 with err naming that
 * pattern ("prometheus.yml:15:5: rule_files[2]: missing rule file ..."),
 * and *out still holds every file that the patterns did match. */
int prom_config_rule_files(const struct prom_config *c, struct ystrlist *out,
                           struct conf_error *err);

/* ---- Rule files (Prometheus rulefmt) ---- */

struct rule_file_rule {
    char *record; /* exactly one of record / alert is non-NULL */
    char *alert;
    char *expr;
    int64_t for_ms, keep_firing_for_ms; /* alerting rules only */
    struct ystrmap labels;
    struct ystrmap annotations; /* alerting rules only */
    struct prom_pos pos;        /* of the rule entry */
    struct prom_pos expr_pos;   /* of the expr value */
};

struct rule_file_group {
    char *name;
    int64_t interval_ms; /* 0 = the global evaluation_interval */
    int64_t limit;       /* 0 = none */
    bool has_query_offset;
    int64_t query_offset_ms; /* if has_query_offset, else the global one */
    struct ystrmap labels;   /* added to every rule of the group */
    struct rule_file_rule *rules;
    size_t n_rules;
    struct prom_pos pos;
};

struct rule_file {
    char *path;
    struct rule_file_group *groups;
    size_t n_groups;
};

/* The PromQL hook: the rule loader validates everything but expression
 * syntax, which belongs to the PromQL parser.  A validator returns 0, or -1
 * with a reason in msg (e.g. "1:14: parse error: unexpected \"}\""); the
 * loader reports it as "file:line:col: groups[0].rules[1].expr: could not
 * parse expression: <msg>". */
typedef int (*rule_expr_validator)(const char *expr, void *arg, char *msg, size_t msgsize);

struct rule_file_options {
    rule_expr_validator validate_expr; /* NULL: expressions are not parsed */
    void *validate_arg;
    enum prom_name_validation names; /* PROM_NAMES_UTF8 (Prometheus 3's default) */
};

/* Loads and validates one rule file.  Returns 0 and *out (free with
 * rule_file_free), or -1 with err->msg = "file:line:col: path: reason". */
int rule_file_load(const char *path, struct rule_file **out, struct conf_error *err);
int rule_file_load_opts(const char *path, const struct rule_file_options *opts,
                        struct rule_file **out, struct conf_error *err);
int rule_file_load_string(const char *name, const char *yaml, size_t len,
                          const struct rule_file_options *opts, struct rule_file **out,
                          struct conf_error *err);
void rule_file_free(struct rule_file *rf);
/* Number of rules over all groups. */
size_t rule_file_rule_count(const struct rule_file *rf);

/* ---- Rule unit-test files (promtool test rules) ---- */

struct rule_test_series {
    char *series; /* `up{job="a"}` */
    char *values; /* expanding notation: "1+1x10 _ stale" */
};
struct rule_test_alert {
    struct ystrmap exp_labels, exp_annotations;
};
struct rule_test_alert_case {
    int64_t eval_time; /* ms */
    char *alertname;   /* NULL when missing (an error when the test runs) */
    struct rule_test_alert *exp_alerts;
    size_t n_exp_alerts;
};
struct rule_test_sample {
    char *labels; /* a series selector text, may be NULL */
    double value;
    char *histogram; /* native histogram notation; NULL if unset */
};
struct rule_test_expr_case {
    char *expr;
    int64_t eval_time;
    struct rule_test_sample *exp_samples;
    size_t n_exp_samples;
};
struct rule_test_group {
    int64_t interval; /* ms; 0 = the file's evaluation_interval */
    struct rule_test_series *input_series;
    size_t n_input_series;
    struct rule_test_alert_case *alert_tests;
    size_t n_alert_tests;
    struct rule_test_expr_case *expr_tests;
    size_t n_expr_tests;
    struct ystrmap external_labels;
    char *external_url; /* NULL if unset */
    char *name;         /* NULL if unset */
};
struct rule_test_file {
    struct ystrlist rule_files;  /* resolved against the file's directory, globbed */
    int64_t evaluation_interval; /* ms; 0 = unset (1m) */
    struct ystrlist group_eval_order;
    struct rule_test_group *tests;
    size_t n_tests;
    bool fuzzy_compare;
};
/* Loads a test file strictly (unknown fields are errors).  Returns 0 and
 * *out (rule_test_file_free), or -1 with err. */
int rule_test_file_load(const char *path, struct rule_test_file **out, struct conf_error *err);
void rule_test_file_free(struct rule_test_file *t);

#endif
