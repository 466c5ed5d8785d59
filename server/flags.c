/* flags.c — parsing Vigil's command line the way kingpin parses
 * Prometheus's.
 *
 * One table describes every flag: its name, kind, default, help and where
 * its value lives in struct vigil_flags.  Parsing, --help, defaults and the
 * status/flags listing all walk that table, so a flag is added in one
 * place.  Durations and sizes are kept both as the text the user gave
 * (reported back verbatim, as Prometheus does) and as parsed numbers. */
#include "server/flags.h"

#include <stdlib.h>
#include <string.h>

#include "util/duration.h"

enum flag_kind { FLAG_STRING, FLAG_BOOL, FLAG_INT, FLAG_DURATION, FLAG_BYTES, FLAG_LIST };

struct flag_def {
    const char *name;
    enum flag_kind kind;
    size_t off;        /* char * (text), bool, int64_t, or struct sbuf */
    size_t parsed_off; /* int64_t parsed value for durations and sizes */
    const char *def;
    const char *help;
};

#define F(field) offsetof(struct vigil_flags, field)
#define NOPARSE  ((size_t)-1)

static const struct flag_def flag_table[] = {
    {"config.file", FLAG_STRING, F(config_file), NOPARSE, "prometheus.yml",
     "Prometheus configuration file path."},
    {"alertmanager.config.file", FLAG_STRING, F(am_config_file), NOPARSE, "",
     "Alertmanager configuration file path (Vigil routes and notifies alerts itself when set)."},
    {"web.listen-address", FLAG_STRING, F(listen_address), NOPARSE, "0.0.0.0:9090",
     "Address to listen on for UI, API, and telemetry."},
    {"web.config.file", FLAG_STRING, F(web_config_file), NOPARSE, "",
     "[EXPERIMENTAL] Path to configuration file that can enable TLS or authentication."},
    {"web.read-timeout", FLAG_DURATION, F(read_timeout), F(read_timeout_ms), "5m",
     "Maximum duration before timing out read of the request, and closing idle connections."},
    {"web.max-connections", FLAG_INT, F(max_connections), NOPARSE, "512",
     "Maximum number of simultaneous connections."},
    {"web.external-url", FLAG_STRING, F(external_url), NOPARSE, "",
     "The URL under which Vigil is externally reachable (for example, if Vigil is served via a "
     "reverse proxy)."},
    {"web.route-prefix", FLAG_STRING, F(route_prefix), NOPARSE, "",
     "Prefix for the internal routes of web endpoints. Defaults to path of --web.external-url."},
    {"web.enable-lifecycle", FLAG_BOOL, F(enable_lifecycle), NOPARSE, "false",
     "Enable shutdown and reload via HTTP request."},
    {"web.enable-admin-api", FLAG_BOOL, F(enable_admin_api), NOPARSE, "false",
     "Enable API endpoints for admin control actions."},
    {"web.enable-remote-write-receiver", FLAG_BOOL, F(enable_remote_write_receiver), NOPARSE,
     "false", "Enable API endpoint accepting remote write requests."},
    {"web.cors.origin", FLAG_STRING, F(cors_origin), NOPARSE, ".*",
     "Regex for CORS origin. It is fully anchored."},
    {"storage.tsdb.path", FLAG_STRING, F(tsdb_path), NOPARSE, "data/",
     "Base path for metrics storage."},
    {"storage.tsdb.retention.time", FLAG_DURATION, F(retention_time), F(retention_ms), "15d",
     "How long to retain samples in storage."},
    {"storage.tsdb.retention.size", FLAG_BYTES, F(retention_size), F(retention_bytes), "0B",
     "Maximum number of bytes that can be stored for blocks. Units supported: B, KB, MB, GB, "
     "TB, PB, EB."},
    {"rules.alert.for-outage-tolerance", FLAG_DURATION, F(for_outage_tolerance),
     F(for_outage_tolerance_ms), "1h",
     "Max time to tolerate prometheus outage for restoring \"for\" state of alert."},
    {"rules.alert.for-grace-period", FLAG_DURATION, F(for_grace_period), F(for_grace_period_ms),
     "10m", "Minimum duration between alert and restored \"for\" state."},
    {"rules.alert.resend-delay", FLAG_DURATION, F(resend_delay), F(resend_delay_ms), "1m",
     "Minimum amount of time to wait before resending an alert to Alertmanager."},
    {"alertmanager.notification-queue-capacity", FLAG_INT, F(notification_queue_capacity), NOPARSE,
     "10000", "The capacity of the queue for pending Alertmanager notifications."},
    {"query.lookback-delta", FLAG_DURATION, F(query_lookback_delta), F(query_lookback_delta_ms),
     "5m",
     "The maximum lookback duration for retrieving metrics during expression evaluations "
     "and federation."},
    {"query.timeout", FLAG_DURATION, F(query_timeout), F(query_timeout_ms), "2m",
     "Maximum time a query may take before being aborted."},
    {"query.max-concurrency", FLAG_INT, F(query_max_concurrency), NOPARSE, "20",
     "Maximum number of queries executed concurrently."},
    {"query.max-samples", FLAG_INT, F(query_max_samples), NOPARSE, "50000000",
     "Maximum number of samples a single query can load into memory."},
    {"enable-feature", FLAG_LIST, F(enable_features), NOPARSE, "",
     "Comma separated feature names to enable."},
    {"log.level", FLAG_STRING, F(log_level), NOPARSE, "info",
     "Only log messages with the given severity or above. One of: [debug, info, warn, error]"},
    {"log.format", FLAG_STRING, F(log_format), NOPARSE, "logfmt",
     "Output format of log messages. One of: [logfmt, json]"},
};
enum { N_FLAGS = sizeof flag_table / sizeof flag_table[0] };

#define AT(f, off, type) ((type *)((char *)(f) + (off)))

static const struct flag_def *flag_find(const char *name, size_t len)
{
    for (size_t i = 0; i < N_FLAGS; i++)
        if (strlen(flag_table[i].name) == len && strncmp(flag_table[i].name, name, len) == 0)
            return &flag_table[i];
    return NULL;
}

/* Stores value into the flag; returns 0 or -1 with a message in why. */
static int flag_set(struct vigil_flags *f, const struct flag_def *d, const char *value, char *why,
                    size_t whylen)
{
    char *end;
    switch (d->kind) {
    case FLAG_BOOL:
        if (strcmp(value, "true") == 0 || strcmp(value, "false") == 0) {
            *AT(f, d->off, bool) = value[0] == 't';
            return 0;
        }
        snprintf(why, whylen, "expected true or false, got '%s'", value);
        return -1;
    case FLAG_INT:
        *AT(f, d->off, int64_t) = strtoll(value, &end, 10);
        if (*value && !*end)
            return 0;
        snprintf(why, whylen, "expected an integer, got '%s'", value);
        return -1;
    case FLAG_DURATION: {
        int64_t ms;
        if (duration_parse(value, &ms) < 0) {
            snprintf(why, whylen, "not a valid duration: '%s'", value);
            return -1;
        }
        if (d->parsed_off != NOPARSE)
            *AT(f, d->parsed_off, int64_t) = ms;
        break;
    }
    case FLAG_BYTES:
        if (bytesize_parse(value, AT(f, d->parsed_off, int64_t)) < 0) {
            snprintf(why, whylen, "not a valid size: '%s'", value);
            return -1;
        }
        break;
    case FLAG_LIST: {
        struct sbuf *b = AT(f, d->off, struct sbuf);
        if (b->len)
            sbuf_putc(b, ',');
        sbuf_puts(b, value);
        return 0;
    }
    case FLAG_STRING:
        break;
    }
    char **s = AT(f, d->off, char *);
    free(*s);
    *s = xstrdup(value);
    return 0;
}

static void flags_defaults(struct vigil_flags *f)
{
    char why[128];
    memset(f, 0, sizeof *f);
    for (size_t i = 0; i < N_FLAGS; i++)
        if (flag_table[i].kind != FLAG_LIST)
            flag_set(f, &flag_table[i], flag_table[i].def, why, sizeof why);
}

static void flags_usage(FILE *out)
{
    fprintf(out, "usage: vigil [<flags>] [<command> ...]\n\n"
                 "Vigil: a Prometheus-compatible monitoring server and Alertmanager in one "
                 "binary.\n\nFlags:\n  -h, --help  Show context-sensitive help.\n"
                 "      --version  Show application version.\n");
    for (size_t i = 0; i < N_FLAGS; i++) {
        const struct flag_def *d = &flag_table[i];
        if (d->kind == FLAG_BOOL)
            fprintf(out, "      --[no-]%s\n          %s\n", d->name, d->help);
        else
            fprintf(out, "      --%s=%s\n          %s\n", d->name,
                    d->kind == FLAG_LIST ? "<name> ..."
                    : d->def[0]          ? d->def
                                         : "\"\"",
                    d->help);
    }
    fprintf(out, "\nCommands:\n"
                 "  vigil [<flags>]                     run the server\n"
                 "  vigil check config FILE...          validate prometheus.yml / "
                 "alertmanager.yml files\n");
}

void flags_print_version(FILE *out)
{
#ifndef VIGIL_VERSION
#define VIGIL_VERSION "0.0.0"
#endif
    fprintf(out,
            "vigil, version %s (branch: main, revision: unknown)\n"
            "  build user:       vigil\n  build date:       %s\n  go version:       none (C11)\n"
            "  platform:         linux/amd64\n",
            VIGIL_VERSION, __DATE__);
}

/* Splits "--name=value" / "--name value" / "--no-name"; returns the number
 * of argv entries consumed, or -1 after printing an error. */
static int flags_parse_one(struct vigil_flags *f, int argc, char **argv, int i, FILE *err)
{
    const char *arg = argv[i] + 2;
    const char *eq = strchr(arg, '=');
    size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
    const struct flag_def *d = flag_find(arg, len);
    const char *value = eq ? eq + 1 : NULL;
    int used = 1;
    if (!d && len > 3 && strncmp(arg, "no-", 3) == 0 && !eq) {
        d = flag_find(arg + 3, len - 3);
        if (d && d->kind == FLAG_BOOL)
            value = "false";
        else
            d = NULL;
    }
    if (!d) {
        fprintf(err, "vigil: error: unknown long flag '--%.*s', try --help\n", (int)len, arg);
        return -1;
    }
    if (!value && d->kind == FLAG_BOOL) {
        value = "true";
    } else if (!value) {
        if (i + 1 >= argc) {
            fprintf(err, "vigil: error: expected argument for flag '--%s'\n", d->name);
            return -1;
        }
        value = argv[i + 1];
        used = 2;
    }
    char why[256];
    if (flag_set(f, d, value, why, sizeof why) < 0) {
        fprintf(err, "vigil: error: invalid value for flag '--%s': %s, try --help\n", d->name, why);
        return -1;
    }
    return used;
}

int flags_parse(struct vigil_flags *f, int argc, char **argv, FILE *out, FILE *err)
{
    flags_defaults(f);
    for (int i = 0; i < argc;) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            flags_usage(out);
            return 1;
        }
        if (strcmp(a, "--version") == 0) {
            flags_print_version(out);
            return 1;
        }
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            fprintf(err, "vigil: error: unexpected argument '%s', try --help\n", a);
            return 2;
        }
        int used = flags_parse_one(f, argc, argv, i, err);
        if (used < 0)
            return 2;
        i += used;
    }
    return 0;
}

void flags_free(struct vigil_flags *f)
{
    for (size_t i = 0; i < N_FLAGS; i++) {
        const struct flag_def *d = &flag_table[i];
        if (d->kind == FLAG_LIST)
            sbuf_free(AT(f, d->off, struct sbuf));
        else if (d->kind == FLAG_STRING || d->kind == FLAG_DURATION || d->kind == FLAG_BYTES)
            free(*AT(f, d->off, char *));
    }
}

void flags_each(const struct vigil_flags *f,
                void (*fn)(void *ctx, const char *name, const char *value), void *ctx)
{
    for (size_t i = 0; i < N_FLAGS; i++) {
        const struct flag_def *d = &flag_table[i];
        char buf[64];
        const char *v = buf;
        const void *base = f;
        switch (d->kind) {
        case FLAG_BOOL:
            v = *(const bool *)((const char *)base + d->off) ? "true" : "false";
            break;
        case FLAG_INT:
            snprintf(buf, sizeof buf, "%lld",
                     (long long)*(const int64_t *)((const char *)base + d->off));
            break;
        case FLAG_LIST: {
            const struct sbuf *b = (const struct sbuf *)((const char *)base + d->off);
            v = b->data ? b->data : "";
            break;
        }
        default:
            v = *(char *const *)((const char *)base + d->off);
            break;
        }
        fn(ctx, d->name, v);
    }
}

bool flags_feature_enabled(const struct vigil_flags *f, const char *name)
{
    const char *p = f->enable_features.data;
    size_t n = strlen(name);
    while (p && *p) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return true;
        p += len;
        if (*p == ',')
            p++;
    }
    return false;
}
