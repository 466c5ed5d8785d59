/* prom_sections.c — the sections of prometheus.yml other than global, jobs
 * and rule files: alerting (with its alertmanagers), remote_write,
 * remote_read, storage, tracing and otlp.
 *
 * Each is decoded over Prometheus's defaults and checked as its
 * UnmarshalYAML checks it.  Alertmanagers share the scrape jobs' inlined
 * HTTP client and SD fields; remote endpoints share the HTTP client and
 * additionally forbid headers Prometheus sets itself.  Remote write and read
 * names must be unique among non-empty names.  sigv4, azuread and
 * google_iam blocks are accepted (and their presence recorded) but not
 * looked into: Vigil does not sign requests for cloud providers. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/prom_internal.h"
#include "util/sbuf.h"

#define COUNT_FOLLOWS(type, arr, cnt)                                                              \
    _Static_assert(offsetof(type, cnt) == offsetof(type, arr) + sizeof(void *),                    \
                   #cnt " must follow " #arr)
COUNT_FOLLOWS(struct prom_alerting_config, alertmanagers, n_alertmanagers);
COUNT_FOLLOWS(struct prom_config, remote_write, n_remote_write);
COUNT_FOLLOWS(struct prom_config, remote_read, n_remote_read);

static size_t *count_after(void *arr)
{
    return (size_t *)((char *)arr + sizeof(void *));
}

/* ---- alerting ---- */

static int dec_api_version(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_string(d, n, out) < 0)
        return -1;
    const char *v = *(char **)out;
    if (strcmp(v, "v2") != 0)
        return ydec_fail(d, n, "expected Alertmanager api version to be one of [v2] but got %s", v);
    return 0;
}

static const struct yfield am_fields[] = {
    YFIELD(struct prom_alertmanager_config, scheme, ydec_string),
    YFIELD(struct prom_alertmanager_config, path_prefix, ydec_string),
    YFIELD_NAMED("timeout", struct prom_alertmanager_config, timeout_ms, ydec_duration),
    YFIELD(struct prom_alertmanager_config, api_version, dec_api_version),
    YFIELD(struct prom_alertmanager_config, relabel_configs, prom_dec_relabel_list),
    YFIELD(struct prom_alertmanager_config, alert_relabel_configs, prom_dec_relabel_list),
    YFIELD_NAMED("sigv4", struct prom_alertmanager_config, has_sigv4, prom_dec_present),
    PROM_HTTP_FIELDS(struct prom_alertmanager_config, http),
    PROM_SD_FIELDS(struct prom_alertmanager_config, sd),
    {NULL, NULL, 0},
};
enum { N_AM_FIELDS = sizeof am_fields / sizeof *am_fields };

static int dec_alertmanager(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_alertmanager_config *am = out;
    if (ynode_is_null(n))
        return ydec_fail(d, n, "empty or null alertmanager config section");
    am->pos = (struct prom_pos){n->line, n->col};
    am->scheme = xstrdup("http");
    am->timeout_ms = 10 * 1000;
    am->api_version = xstrdup("v2");
    prom_http_init(&am->http);
    bool seen[N_AM_FIELDS];
    if (ydec_map(d, n, am_fields, am, seen) < 0)
        return -1;
    if (!am->scheme)
        am->scheme = xstrdup("");
    if (!am->api_version)
        am->api_version = xstrdup("v2");
    if (prom_http_validate(d, n, &am->http) < 0)
        return -1;
    const struct prom_http_client *h = &am->http;
    if ((h->basic_auth || h->authorization || h->oauth2) && am->has_sigv4)
        return prom_fail_at(d, n, "sigv4",
                            "at most one of basic_auth, authorization, oauth2, & sigv4 must be "
                            "configured");
    return prom_sd_finish(d, n, am_fields, seen, &am->sd, am->relabel_configs.n > 0);
}

static int dec_alertmanagers(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_seq(d, n, out, count_after(out), sizeof(struct prom_alertmanager_config),
                    dec_alertmanager);
}

static const struct yfield alerting_fields[] = {
    YFIELD(struct prom_alerting_config, alert_relabel_configs, prom_dec_relabel_list),
    YFIELD(struct prom_alerting_config, alertmanagers, dec_alertmanagers),
    {NULL, NULL, 0},
};

int prom_dec_alerting(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, alerting_fields, out, NULL);
}

static void alertmanager_free(struct prom_alertmanager_config *am)
{
    free(am->scheme);
    free(am->path_prefix);
    free(am->api_version);
    prom_http_free(&am->http);
    prom_sd_free(&am->sd);
    prom_relabel_list_free(&am->relabel_configs);
    prom_relabel_list_free(&am->alert_relabel_configs);
}

/* ---- remote storage ---- */

/* Headers a remote endpoint may not override (config.go's reservedHeaders). */
static int remote_headers_check(struct ydec *d, const struct ynode *map, const struct ystrmap *h,
                                const char *tracing)
{
    static const char *reserved[] = {
        "host",
        "content-encoding",
        "content-length",
        "content-type",
        "user-agent",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "www-authenticate",
        "accept-encoding",
        "x-prometheus-remote-write-version",
        "x-prometheus-remote-read-version",
        "x-amz-date",
        "x-amz-security-token",
        "x-amz-content-sha256",
    };
    for (size_t i = 0; i < h->n; i++) {
        const char *name = h->keys[i];
        if (strcasecmp(name, "authorization") == 0)
            return prom_fail_at(d, map, "headers", "%s",
                                tracing ? "custom authorization header configuration is not yet "
                                          "supported"
                                        : "authorization header must be changed via the "
                                          "basic_auth, authorization, oauth2, sigv4, azuread or "
                                          "google_iam parameter");
        for (size_t r = 0; r < sizeof reserved / sizeof *reserved; r++)
            if (strcasecmp(name, reserved[r]) == 0)
                return prom_fail_at(d, map, "headers",
                                    "%s is a reserved header. It must not be changed", name);
    }
    return 0;
}

static int url_check(struct ydec *d, const struct ynode *map, const char *url, const char *what)
{
    if (!url || !*url)
        return ydec_fail(d, map, "url for %s is empty", what);
    const char *why = prom_url_problem(url);
    if (why)
        return prom_fail_at(d, map, "url", "parse \"%s\": %s", url, why);
    return 0;
}

static const struct yfield queue_fields[] = {
    YFIELD(struct prom_queue_config, capacity, ydec_int),
    YFIELD(struct prom_queue_config, max_shards, ydec_int),
    YFIELD(struct prom_queue_config, min_shards, ydec_int),
    YFIELD(struct prom_queue_config, max_samples_per_send, ydec_int),
    YFIELD_NAMED("batch_send_deadline", struct prom_queue_config, batch_send_deadline_ms,
                 ydec_duration),
    YFIELD_NAMED("min_backoff", struct prom_queue_config, min_backoff_ms, ydec_duration),
    YFIELD_NAMED("max_backoff", struct prom_queue_config, max_backoff_ms, ydec_duration),
    YFIELD(struct prom_queue_config, retry_on_http_429, ydec_bool),
    YFIELD_NAMED("sample_age_limit", struct prom_queue_config, sample_age_limit_ms, ydec_duration),
    {NULL, NULL, 0},
};

static int dec_queue(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, queue_fields, out, NULL);
}

static const struct yfield metadata_fields[] = {
    YFIELD(struct prom_metadata_config, send, ydec_bool),
    YFIELD_NAMED("send_interval", struct prom_metadata_config, send_interval_ms, ydec_duration),
    YFIELD(struct prom_metadata_config, max_samples_per_send, ydec_int),
    {NULL, NULL, 0},
};

static int dec_metadata(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, metadata_fields, out, NULL);
}

static const struct yfield rw_fields[] = {
    YFIELD(struct prom_remote_write, url, ydec_string),
    YFIELD_NAMED("remote_timeout", struct prom_remote_write, remote_timeout_ms, ydec_duration),
    YFIELD(struct prom_remote_write, headers, ydec_strmap),
    YFIELD(struct prom_remote_write, write_relabel_configs, prom_dec_relabel_list),
    YFIELD(struct prom_remote_write, name, ydec_string),
    YFIELD(struct prom_remote_write, send_exemplars, ydec_bool),
    YFIELD(struct prom_remote_write, send_native_histograms, ydec_bool),
    YFIELD(struct prom_remote_write, round_robin_dns, ydec_bool),
    YFIELD(struct prom_remote_write, protobuf_message, ydec_string),
    YFIELD(struct prom_remote_write, queue_config, dec_queue),
    YFIELD(struct prom_remote_write, metadata_config, dec_metadata),
    YFIELD_NAMED("sigv4", struct prom_remote_write, has_sigv4, prom_dec_present),
    YFIELD_NAMED("azuread", struct prom_remote_write, has_azuread, prom_dec_present),
    YFIELD_NAMED("google_iam", struct prom_remote_write, has_google_iam, prom_dec_present),
    PROM_HTTP_FIELDS(struct prom_remote_write, http),
    {NULL, NULL, 0},
};

static void rw_init(struct prom_remote_write *rw)
{
    rw->remote_timeout_ms = 30 * 1000;
    rw->protobuf_message = xstrdup("prometheus.WriteRequest");
    rw->queue_config = (struct prom_queue_config){
        .capacity = 10000,
        .max_shards = 50,
        .min_shards = 1,
        .max_samples_per_send = 2000,
        .batch_send_deadline_ms = 5000,
        .min_backoff_ms = 30,
        .max_backoff_ms = 5000,
    };
    rw->metadata_config = (struct prom_metadata_config){true, 60 * 1000, 2000};
    prom_http_init(&rw->http);
    rw->http.enable_http2 = false;
}

static int rw_auth_check(struct ydec *d, const struct ynode *n, const struct prom_remote_write *rw)
{
    const char *names[6];
    size_t k = 0;
    if (rw->http.basic_auth)
        names[k++] = "basic_auth";
    if (rw->http.authorization)
        names[k++] = "authorization";
    if (rw->http.oauth2)
        names[k++] = "oauth2";
    if (rw->has_sigv4)
        names[k++] = "sigv4";
    if (rw->has_azuread)
        names[k++] = "azuread";
    if (rw->has_google_iam)
        names[k++] = "google_iam";
    if (k <= 1)
        return 0;
    struct sbuf b = SBUF_INIT;
    for (size_t i = 0; i < k; i++)
        sbuf_printf(&b, "%s%s", i ? " " : "", names[i]);
    ydec_fail(d, n,
              "at most one of basic_auth, authorization, oauth2, sigv4, azuread or google_iam "
              "must be configured. Currently configured: [%s]",
              b.data);
    sbuf_free(&b);
    return -1;
}

static int dec_remote_write(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_remote_write *rw = out;
    if (ynode_is_null(n))
        return ydec_fail(d, n, "empty or null remote write config section");
    rw->pos = (struct prom_pos){n->line, n->col};
    rw_init(rw);
    if (ydec_map(d, n, rw_fields, rw, NULL) < 0)
        return -1;
    if (url_check(d, n, rw->url, "remote_write") < 0 ||
        remote_headers_check(d, n, &rw->headers, NULL) < 0)
        return -1;
    const char *pm = rw->protobuf_message ? rw->protobuf_message : "";
    if (strcmp(pm, "prometheus.WriteRequest") != 0 &&
        strcmp(pm, "io.prometheus.write.v2.Request") != 0)
        return prom_fail_at(d, n, "protobuf_message",
                            "invalid protobuf_message value: unknown remote write protobuf "
                            "message %s, supported: prometheus.WriteRequest, "
                            "io.prometheus.write.v2.Request",
                            pm);
    if (prom_http_validate(d, n, &rw->http) < 0)
        return -1;
    return rw_auth_check(d, n, rw);
}

/* Names must be unique, empty names excepted. */
static int names_unique(struct ydec *d, const struct ynode *list, const char *field,
                        const char *what, size_t count, const char *(*name_at)(void *, size_t),
                        void *arr)
{
    for (size_t i = 0; i < count; i++) {
        const char *ni = name_at(arr, i);
        if (!ni || !*ni)
            continue;
        for (size_t j = 0; j < i; j++) {
            const char *nj = name_at(arr, j);
            if (!nj || strcmp(ni, nj) != 0)
                continue;
            ydec_push_index(d, i);
            return prom_fail_at(d, list->items[i], field,
                                "found multiple %s configs with job name \"%s\"", what, ni);
        }
    }
    return 0;
}

static const char *rw_name(void *arr, size_t i)
{
    return ((struct prom_remote_write *)arr)[i].name;
}

static const char *rr_name(void *arr, size_t i)
{
    return ((struct prom_remote_read *)arr)[i].name;
}

int prom_dec_remote_writes(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_seq(d, n, out, count_after(out), sizeof(struct prom_remote_write), dec_remote_write) <
        0)
        return -1;
    return names_unique(d, n, "name", "remote write", *count_after(out), rw_name, *(void **)out);
}

static const struct yfield rr_fields[] = {
    YFIELD(struct prom_remote_read, url, ydec_string),
    YFIELD_NAMED("remote_timeout", struct prom_remote_read, remote_timeout_ms, ydec_duration),
    YFIELD(struct prom_remote_read, chunked_read_limit, ydec_uint),
    YFIELD(struct prom_remote_read, headers, ydec_strmap),
    YFIELD(struct prom_remote_read, read_recent, ydec_bool),
    YFIELD(struct prom_remote_read, name, ydec_string),
    YFIELD(struct prom_remote_read, required_matchers, ydec_strmap),
    YFIELD(struct prom_remote_read, filter_external_labels, ydec_bool),
    PROM_HTTP_FIELDS(struct prom_remote_read, http),
    {NULL, NULL, 0},
};

static int dec_remote_read(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_remote_read *rr = out;
    if (ynode_is_null(n))
        return ydec_fail(d, n, "empty or null remote read config section");
    rr->pos = (struct prom_pos){n->line, n->col};
    rr->remote_timeout_ms = 60 * 1000;
    rr->chunked_read_limit = 50000000;
    rr->filter_external_labels = true;
    prom_http_init(&rr->http);
    if (ydec_map(d, n, rr_fields, rr, NULL) < 0)
        return -1;
    if (url_check(d, n, rr->url, "remote_read") < 0 ||
        remote_headers_check(d, n, &rr->headers, NULL) < 0)
        return -1;
    return prom_http_validate(d, n, &rr->http);
}

int prom_dec_remote_reads(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_seq(d, n, out, count_after(out), sizeof(struct prom_remote_read), dec_remote_read) < 0)
        return -1;
    return names_unique(d, n, "name", "remote read", *count_after(out), rr_name, *(void **)out);
}

static void remote_write_free(struct prom_remote_write *rw)
{
    free(rw->url);
    free(rw->name);
    ystrmap_free(&rw->headers);
    prom_relabel_list_free(&rw->write_relabel_configs);
    free(rw->protobuf_message);
    prom_http_free(&rw->http);
}

static void remote_read_free(struct prom_remote_read *rr)
{
    free(rr->url);
    free(rr->name);
    ystrmap_free(&rr->headers);
    ystrmap_free(&rr->required_matchers);
    prom_http_free(&rr->http);
}

/* ---- storage ---- */

static const struct yfield retention_fields[] = {
    YFIELD_NAMED("time", struct prom_storage_config, retention_time_ms, ydec_duration),
    YFIELD_NAMED("size", struct prom_storage_config, retention_size, ydec_bytesize),
    {NULL, NULL, 0},
};

static int dec_retention(struct ydec *d, const struct ynode *n, void *out)
{
    /* out is the storage config itself (see tsdb_fields). */
    ((struct prom_storage_config *)out)->has_retention = true;
    return ydec_map(d, n, retention_fields, out, NULL);
}

static const struct yfield tsdb_fields[] = {
    YFIELD_NAMED("out_of_order_time_window", struct prom_storage_config,
                 out_of_order_time_window_ms, ydec_duration),
    {"retention", dec_retention, 0},
    {NULL, NULL, 0},
};

static int dec_tsdb(struct ydec *d, const struct ynode *n, void *out)
{
    ((struct prom_storage_config *)out)->has_tsdb = true;
    return ydec_map(d, n, tsdb_fields, out, NULL);
}

static const struct yfield exemplars_fields[] = {
    YFIELD(struct prom_storage_config, max_exemplars, ydec_int),
    {NULL, NULL, 0},
};

static int dec_exemplars(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_storage_config *s = out;
    s->has_exemplars = true;
    return ydec_map(d, n, exemplars_fields, s, NULL);
}

static const struct yfield storage_fields[] = {
    {"tsdb", dec_tsdb, 0},
    {"exemplars", dec_exemplars, 0},
    {NULL, NULL, 0},
};

int prom_dec_storage(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, storage_fields, out, NULL);
}

/* ---- tracing ---- */

static const struct yfield tracing_fields[] = {
    YFIELD(struct prom_tracing_config, client_type, ydec_string),
    YFIELD(struct prom_tracing_config, endpoint, ydec_string),
    YFIELD(struct prom_tracing_config, sampling_fraction, ydec_float),
    YFIELD(struct prom_tracing_config, insecure, ydec_bool),
    YFIELD(struct prom_tracing_config, tls_config, prom_dec_tls),
    YFIELD(struct prom_tracing_config, headers, ydec_strmap),
    YFIELD(struct prom_tracing_config, compression, ydec_string),
    YFIELD_NAMED("timeout", struct prom_tracing_config, timeout_ms, ydec_duration),
    {NULL, NULL, 0},
};

int prom_dec_tracing(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_tracing_config *t = out;
    t->enabled = true;
    free(t->client_type);
    t->client_type = xstrdup("grpc");
    if (ydec_map(d, n, tracing_fields, t, NULL) < 0)
        return -1;
    const char *ct = t->client_type ? t->client_type : "";
    if (strcmp(ct, "grpc") != 0 && strcmp(ct, "http") != 0)
        return prom_fail_at(d, n, "client_type",
                            "expected tracing client type to be to be http or grpc, but got %s",
                            ct);
    if (remote_headers_check(d, n, &t->headers, "tracing") < 0)
        return -1;
    if (!t->endpoint || !*t->endpoint)
        return ydec_fail(d, n, "tracing endpoint must be set");
    if (t->compression && *t->compression && strcmp(t->compression, "gzip") != 0)
        return prom_fail_at(d, n, "compression",
                            "invalid compression type %s provided, valid options: gzip",
                            t->compression);
    return 0;
}

/* ---- otlp ---- */

static const struct yfield otlp_fields[] = {
    YFIELD(struct prom_otlp_config, promote_resource_attributes, ydec_strlist),
    YFIELD(struct prom_otlp_config, ignore_resource_attributes, ydec_strlist),
    YFIELD(struct prom_otlp_config, promote_all_resource_attributes, ydec_bool),
    YFIELD(struct prom_otlp_config, translation_strategy, ydec_string),
    YFIELD(struct prom_otlp_config, keep_identifying_resource_attributes, ydec_bool),
    YFIELD(struct prom_otlp_config, convert_histograms_to_nhcb, ydec_bool),
    YFIELD(struct prom_otlp_config, promote_scope_metadata, ydec_bool),
    YFIELD(struct prom_otlp_config, label_name_underscore_sanitization, ydec_bool),
    YFIELD(struct prom_otlp_config, label_name_preserve_multiple_underscores, ydec_bool),
    {NULL, NULL, 0},
};

int prom_dec_otlp(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_otlp_config *o = out;
    if (ydec_map(d, n, otlp_fields, o, NULL) < 0)
        return -1;
    if (o->promote_all_resource_attributes && o->promote_resource_attributes.n > 0)
        return ydec_fail(d, n,
                         "'promote_all_resource_attributes' and 'promote_resource_attributes' "
                         "cannot be configured simultaneously");
    if (!o->promote_all_resource_attributes && o->ignore_resource_attributes.n > 0)
        return ydec_fail(d, n,
                         "'ignore_resource_attributes' cannot be configured unless "
                         "'promote_all_resource_attributes' is true");
    return 0;
}

/* ---- the whole set ---- */

void prom_sections_init(struct prom_config *c)
{
    c->storage.max_exemplars = 100000;
    c->otlp.translation_strategy = xstrdup("UnderscoreEscapingWithSuffixes");
    c->otlp.label_name_underscore_sanitization = true;
    c->otlp.label_name_preserve_multiple_underscores = true;
}

int prom_sections_finish(struct ydec *d, const struct ynode *root, struct prom_config *c)
{
    const char *ts = c->otlp.translation_strategy ? c->otlp.translation_strategy : "";
    const struct ynode *otlp = ynode_get(root, "otlp");
    size_t old = ydec_push_field(d, "otlp");
    if (strcmp(ts, "NoTranslation") == 0 || strcmp(ts, "NoUTF8EscapingWithSuffixes") == 0) {
        if (c->global.metric_name_validation_scheme == PROM_NAMES_LEGACY)
            return prom_fail_at(d, otlp, "translation_strategy",
                                "OTLP translation strategy \"%s\" is not allowed when UTF8 is "
                                "disabled",
                                ts);
    } else if (*ts && strcmp(ts, "UnderscoreEscapingWithSuffixes") != 0 &&
               strcmp(ts, "UnderscoreEscapingWithoutSuffixes") != 0) {
        return prom_fail_at(d, otlp, "translation_strategy",
                            "unsupported OTLP translation strategy \"%s\"", ts);
    }
    ydec_pop(d, old);
    return 0;
}

void prom_sections_free(struct prom_config *c)
{
    prom_relabel_list_free(&c->alerting.alert_relabel_configs);
    for (size_t i = 0; i < c->alerting.n_alertmanagers; i++)
        alertmanager_free(&c->alerting.alertmanagers[i]);
    free(c->alerting.alertmanagers);
    for (size_t i = 0; i < c->n_remote_write; i++)
        remote_write_free(&c->remote_write[i]);
    free(c->remote_write);
    for (size_t i = 0; i < c->n_remote_read; i++)
        remote_read_free(&c->remote_read[i]);
    free(c->remote_read);
    struct prom_tracing_config *t = &c->tracing;
    free(t->client_type);
    free(t->endpoint);
    prom_tls_free(&t->tls_config);
    ystrmap_free(&t->headers);
    free(t->compression);
    ystrlist_free(&c->otlp.promote_resource_attributes);
    ystrlist_free(&c->otlp.ignore_resource_attributes);
    free(c->otlp.translation_strategy);
}
