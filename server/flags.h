/* flags.h — server-internal: Vigil's command line.
 *
 * Flags are Prometheus's where the two overlap (same names, defaults and
 * syntax, as kingpin parses them: --name=value, --name value, --no-name for
 * booleans), so a user's unit file or compose `command:` works unchanged.
 * The flag table is also what /api/v1/status/flags reports. */
#ifndef VIGIL_SERVER_FLAGS_H
#define VIGIL_SERVER_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/sbuf.h"

struct vigil_flags {
    char *config_file;
    char *am_config_file;
    char *listen_address;
    char *external_url;
    char *route_prefix;
    char *web_config_file;
    char *cors_origin;
    char *read_timeout;
    int64_t read_timeout_ms;
    int64_t max_connections;
    bool enable_lifecycle;
    bool enable_admin_api;
    bool enable_remote_write_receiver;
    char *tsdb_path;
    char *retention_time;
    int64_t retention_ms;
    char *retention_size;
    int64_t retention_bytes;
    char *log_level;
    char *log_format;
    char *query_timeout;
    int64_t query_timeout_ms;
    int64_t query_max_samples;
    int64_t query_max_concurrency;
    char *query_lookback_delta;
    int64_t query_lookback_delta_ms;
    char *for_outage_tolerance;
    int64_t for_outage_tolerance_ms;
    char *for_grace_period;
    int64_t for_grace_period_ms;
    char *resend_delay;
    int64_t resend_delay_ms;
    int64_t notification_queue_capacity;
    struct sbuf enable_features; /* comma-joined --enable-feature values */
};

/* Parses argv[0..argc) (argv[0] excluded by the caller).  Returns 0 to go
 * on, 1 if --help or --version was handled (exit 0), 2 after printing a
 * usage error to err (exit 2).  Strings in f are owned; flags_free. */
int flags_parse(struct vigil_flags *f, int argc, char **argv, FILE *out, FILE *err);
void flags_free(struct vigil_flags *f);
/* Calls fn(name, value-as-string) for every flag, in table order, as
 * /api/v1/status/flags lists them. */
void flags_each(const struct vigil_flags *f,
                void (*fn)(void *ctx, const char *name, const char *value), void *ctx);
void flags_print_version(FILE *out);
/* Whether --enable-feature lists name. */
bool flags_feature_enabled(const struct vigil_flags *f, const char *name);

#endif
