/* prom_scrape.c — scrape_configs entries.
 *
 * One YAML mapping per job holds three kinds of field side by side: the
 * job's own settings, the inlined HTTP client (PROM_HTTP_FIELDS) and the
 * inlined SD mechanisms (PROM_SD_FIELDS); they share one field table so
 * unknown keys are caught as Prometheus catches them.
 *
 * Decoding follows Prometheus's two steps.  First the entry is unmarshalled
 * over DefaultScrapeConfig (scheme http, metrics_path /metrics,
 * honor_timestamps and enable_compression true) and checked on its own
 * (job_name, HTTP client, URL-looking static targets).  Then, as
 * ScrapeConfig.Validate does, unset values (zero durations and limits, absent
 * booleans) are inherited from the global section: scrape_interval, then
 * scrape_timeout = min(global timeout, interval) unless given — and a given
 * timeout above the interval is an error — the limits, scrape protocols
 * (global, else protobuf-first when native histograms are scraped, else the
 * text-first default), and the metric name validation/escaping schemes.
 * The global section is decoded before any job (see config.c), so this file
 * can read it from prom_dec. */
#include <stdlib.h>
#include <string.h>

#include "conf/prom_internal.h"
#include "util/sbuf.h"

_Static_assert(offsetof(struct prom_scrape_config, n_params) ==
                   offsetof(struct prom_scrape_config, params) + sizeof(void *),
               "prom_dec_named_lists expects the count right after the array");

static const struct yfield scrape_fields[] = {
    YFIELD(struct prom_scrape_config, job_name, ydec_string),
    YFIELD(struct prom_scrape_config, honor_labels, ydec_bool),
    YFIELD(struct prom_scrape_config, honor_timestamps, ydec_bool),
    YFIELD(struct prom_scrape_config, track_timestamps_staleness, ydec_bool),
    YFIELD(struct prom_scrape_config, params, prom_dec_named_lists),
    YFIELD_NAMED("scrape_interval", struct prom_scrape_config, scrape_interval_ms, ydec_duration),
    YFIELD_NAMED("scrape_timeout", struct prom_scrape_config, scrape_timeout_ms, ydec_duration),
    YFIELD(struct prom_scrape_config, scrape_protocols, prom_dec_protocols),
    YFIELD(struct prom_scrape_config, fallback_scrape_protocol, prom_dec_protocol),
    YFIELD(struct prom_scrape_config, scrape_native_histograms, ydec_bool),
    YFIELD(struct prom_scrape_config, always_scrape_classic_histograms, ydec_bool),
    YFIELD(struct prom_scrape_config, convert_classic_histograms_to_nhcb, ydec_bool),
    YFIELD(struct prom_scrape_config, extra_scrape_metrics, ydec_bool),
    YFIELD(struct prom_scrape_config, scrape_failure_log_file, prom_dec_path),
    YFIELD(struct prom_scrape_config, metrics_path, ydec_string),
    YFIELD(struct prom_scrape_config, scheme, ydec_string),
    YFIELD(struct prom_scrape_config, enable_compression, ydec_bool),
    YFIELD(struct prom_scrape_config, body_size_limit, ydec_bytesize),
    YFIELD(struct prom_scrape_config, sample_limit, ydec_uint),
    YFIELD(struct prom_scrape_config, target_limit, ydec_uint),
    YFIELD(struct prom_scrape_config, label_limit, ydec_uint),
    YFIELD(struct prom_scrape_config, label_name_length_limit, ydec_uint),
    YFIELD(struct prom_scrape_config, label_value_length_limit, ydec_uint),
    YFIELD(struct prom_scrape_config, native_histogram_bucket_limit, ydec_uint),
    YFIELD(struct prom_scrape_config, native_histogram_min_bucket_factor, ydec_float),
    YFIELD(struct prom_scrape_config, keep_dropped_targets, ydec_uint),
    YFIELD(struct prom_scrape_config, metric_name_validation_scheme, prom_dec_scheme),
    YFIELD(struct prom_scrape_config, metric_name_escaping_scheme, ydec_string),
    YFIELD(struct prom_scrape_config, relabel_configs, prom_dec_relabel_list),
    YFIELD(struct prom_scrape_config, metric_relabel_configs, prom_dec_relabel_list),
    PROM_HTTP_FIELDS(struct prom_scrape_config, http),
    PROM_SD_FIELDS(struct prom_scrape_config, sd),
    {NULL, NULL, 0},
};
enum { N_SCRAPE_FIELDS = sizeof scrape_fields / sizeof *scrape_fields };

static bool given(const struct ynode *map, const char *field)
{
    return !ynode_is_null(ynode_get(map, field));
}

static void scrape_init(struct prom_scrape_config *s)
{
    s->honor_timestamps = true;
    s->metrics_path = xstrdup("/metrics");
    s->scheme = xstrdup("http");
    s->enable_compression = true;
    prom_http_init(&s->http);
}

/* The job's own name validation scheme, read before the rest so its
 * relabel rules are checked under it. */
static int scrape_pick_scheme(struct ydec *d, const struct ynode *n, struct prom_scrape_config *s)
{
    struct prom_dec *pd = prom_dec_of(d);
    s->metric_name_validation_scheme = pd->global->metric_name_validation_scheme;
    const struct ynode *v = ynode_get(n, "metric_name_validation_scheme");
    if (!ynode_is_null(v)) {
        size_t old = ydec_push_field(d, "metric_name_validation_scheme");
        if (prom_dec_scheme(d, v, &s->metric_name_validation_scheme) < 0)
            return -1;
        ydec_pop(d, old);
    }
    pd->scheme = s->metric_name_validation_scheme;
    return 0;
}

static void inherit_u64(uint64_t *v, uint64_t global)
{
    if (*v == 0)
        *v = global;
}

static void scrape_inherit_limits(struct prom_scrape_config *s, const struct prom_global_config *g)
{
    if (s->body_size_limit == 0)
        s->body_size_limit = g->body_size_limit;
    inherit_u64(&s->sample_limit, g->sample_limit);
    inherit_u64(&s->target_limit, g->target_limit);
    inherit_u64(&s->label_limit, g->label_limit);
    inherit_u64(&s->label_name_length_limit, g->label_name_length_limit);
    inherit_u64(&s->label_value_length_limit, g->label_value_length_limit);
    inherit_u64(&s->keep_dropped_targets, g->keep_dropped_targets);
    if (!s->scrape_failure_log_file && g->scrape_failure_log_file)
        s->scrape_failure_log_file = xstrdup(g->scrape_failure_log_file);
}

static void scrape_inherit_flags(const struct ynode *n, struct prom_scrape_config *s,
                                 const struct prom_global_config *g)
{
    if (!given(n, "scrape_native_histograms"))
        s->scrape_native_histograms = g->scrape_native_histograms;
    if (!given(n, "always_scrape_classic_histograms"))
        s->always_scrape_classic_histograms = g->always_scrape_classic_histograms;
    if (!given(n, "convert_classic_histograms_to_nhcb"))
        s->convert_classic_histograms_to_nhcb = g->convert_classic_histograms_to_nhcb;
    if (!given(n, "extra_scrape_metrics"))
        s->extra_scrape_metrics = g->extra_scrape_metrics;
}

static void scrape_default_protocols(struct prom_scrape_config *s,
                                     const struct prom_global_config *g)
{
    static const struct prom_scrape_protocols text_first = {
        {PROM_PROTO_OPENMETRICS_TEXT_1_0_0, PROM_PROTO_OPENMETRICS_TEXT_0_0_1,
         PROM_PROTO_PROMETHEUS_TEXT_1_0_0, PROM_PROTO_PROMETHEUS_TEXT_0_0_4},
        4};
    static const struct prom_scrape_protocols proto_first = {
        {PROM_PROTO_PROMETHEUS_PROTO, PROM_PROTO_OPENMETRICS_TEXT_1_0_0,
         PROM_PROTO_OPENMETRICS_TEXT_0_0_1, PROM_PROTO_PROMETHEUS_TEXT_1_0_0,
         PROM_PROTO_PROMETHEUS_TEXT_0_0_4},
        5};
    if (s->scrape_protocols.n > 0)
        return;
    if (g->scrape_protocols.n > 0)
        s->scrape_protocols = g->scrape_protocols;
    else
        s->scrape_protocols = s->scrape_native_histograms ? proto_first : text_first;
}

static bool escaping_is_known(const char *e)
{
    return strcmp(e, "allow-utf-8") == 0 || strcmp(e, "underscores") == 0 ||
           strcmp(e, "dots") == 0 || strcmp(e, "values") == 0;
}

/* Escaping follows the validation scheme unless given. */
static int scrape_pick_escaping(struct ydec *d, const struct ynode *n, struct prom_scrape_config *s,
                                const struct prom_global_config *g)
{
    if (!s->metric_name_escaping_scheme || !*s->metric_name_escaping_scheme) {
        const char *e;
        if (!given(n, "metric_name_validation_scheme"))
            e = g->metric_name_escaping_scheme ? g->metric_name_escaping_scheme
                : g->metric_name_validation_scheme == PROM_NAMES_LEGACY ? "underscores"
                                                                        : "allow-utf-8";
        else
            e = s->metric_name_validation_scheme == PROM_NAMES_LEGACY ? "underscores"
                                                                      : "allow-utf-8";
        free(s->metric_name_escaping_scheme);
        s->metric_name_escaping_scheme = xstrdup(e);
    }
    const char *e = s->metric_name_escaping_scheme;
    if (!escaping_is_known(e))
        return prom_fail_at(d, n, "metric_name_escaping_scheme",
                            "unknown scrape config name escaping method specified, must be one of "
                            "'allow-utf-8', 'underscores', 'dots', or 'values', got \"%s\"",
                            e);
    if (strcmp(e, "allow-utf-8") == 0 && s->metric_name_validation_scheme != PROM_NAMES_UTF8)
        return prom_fail_at(d, n, "metric_name_escaping_scheme",
                            "utf8 metric names requested but validation scheme is not set to UTF8");
    return 0;
}

/* ScrapeConfig.Validate: inheritance from global and the checks that need it. */
static int scrape_validate(struct ydec *d, const struct ynode *n, struct prom_scrape_config *s)
{
    const struct prom_global_config *g = prom_dec_of(d)->global;
    if (s->scrape_interval_ms == 0)
        s->scrape_interval_ms = g->scrape_interval_ms;
    if (s->scrape_timeout_ms > s->scrape_interval_ms)
        return prom_fail_at(d, n, "scrape_timeout",
                            "scrape timeout greater than scrape interval for scrape config with "
                            "job name \"%s\"",
                            s->job_name);
    if (s->scrape_timeout_ms == 0)
        s->scrape_timeout_ms = g->scrape_timeout_ms < s->scrape_interval_ms ? g->scrape_timeout_ms
                                                                            : s->scrape_interval_ms;
    scrape_inherit_limits(s, g);
    scrape_inherit_flags(n, s, g);
    scrape_default_protocols(s, g);
    return scrape_pick_escaping(d, n, s, g);
}

static int dec_scrape_config(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_scrape_config *s = out;
    if (ynode_is_null(n))
        return ydec_fail(d, n, "empty or null scrape config section");
    s->pos = (struct prom_pos){n->line, n->col};
    s->source_file = xstrdup(d->file);
    scrape_init(s);
    if (scrape_pick_scheme(d, n, s) < 0)
        return -1;
    bool seen[N_SCRAPE_FIELDS];
    if (ydec_map(d, n, scrape_fields, s, seen) < 0)
        return -1;
    if (!s->job_name || !*s->job_name)
        return prom_fail_at(d, n, "job_name", "job_name is empty");
    if (!s->metrics_path) /* explicit null: Go's zero value */
        s->metrics_path = xstrdup("");
    if (!s->scheme)
        s->scheme = xstrdup("");
    if (prom_http_validate(d, n, &s->http) < 0)
        return -1;
    if (prom_sd_finish(d, n, scrape_fields, seen, &s->sd, s->relabel_configs.n > 0) < 0)
        return -1;
    return scrape_validate(d, n, s);
}

int prom_dec_scrape_configs(struct ydec *d, const struct ynode *n, struct prom_scrape_config **v,
                            size_t *count)
{
    return ydec_seq(d, n, v, count, sizeof **v, dec_scrape_config);
}

void prom_scrape_config_free(struct prom_scrape_config *s)
{
    free(s->job_name);
    prom_named_lists_free(s->params, s->n_params);
    free(s->scrape_failure_log_file);
    free(s->metrics_path);
    free(s->scheme);
    free(s->metric_name_escaping_scheme);
    prom_http_free(&s->http);
    prom_sd_free(&s->sd);
    prom_relabel_list_free(&s->relabel_configs);
    prom_relabel_list_free(&s->metric_relabel_configs);
    free(s->source_file);
}
