/* sd.h — scrape-internal: the service discovery mechanisms that run on the
 * libuv loop (http_sd_configs, dns_sd_configs, docker_sd_configs), as
 * Prometheus's discovery/refresh, discovery/http, discovery/dns and
 * discovery/moby do.
 *
 * Each SD config becomes one struct sd_refresher: a uv_timer that starts a
 * refresh at once and then every refresh_interval, the mechanism's state,
 * and the last good groups.  A refresh never blocks the loop: HTTP (http
 * and docker) goes through the discovery's struct uvcurl, DNS queries run
 * on libuv's worker pool.  When a refresh ends, sd_refresher_done replaces
 * the groups (or, on failure, logs "Unable to refresh target groups",
 * counts it and keeps them) and tells the owner through sd_host.changed.
 * A refresh still running when the next is due is not overlapped.
 *
 * Groups.  Prometheus's target groups carry a label set per target;
 * struct prom_target_group carries only addresses.  So these mechanisms
 * produce one group per target, holding the group's and the target's
 * labels together (the target's win, as in targetsFromGroup).  http_sd
 * keeps its groups as served.
 *
 * Closing.  A refresher may have work on a worker thread that cannot be
 * cancelled, and handles libuv must close; sd_host counts what is still
 * out and calls `release` once everything came back.  Mechanisms copy what
 * they need from their config when created: the config may be freed
 * before the last work returns.
 *
 * Threads: everything on the loop thread, except the pure functions below
 * (sd_dns_answer_parse, sd_docker_groups, sd_http_groups), which any
 * thread may call. */
#ifndef VIGIL_SCRAPE_SD_H
#define VIGIL_SCRAPE_SD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>
#include <uv.h>

#include "conf/config.h"
#include "scrape/httpc.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/sbuf.h"
#include "util/uvcurl.h"

/* ---- Groups ---- */

struct sd_groups {
    struct prom_target_group *v;
    char **source; /* per group: how errors name it ("http://sd/:0", "Docker") */
    size_t n;
};

/* Appends an empty group named `source` (copied) and returns it. */
struct prom_target_group *sd_groups_add(struct sd_groups *gs, const char *source);
/* A group with one target: address plus labels (name, value pairs added
 * with sd_label_put). */
struct prom_target_group *sd_groups_add_target(struct sd_groups *gs, const char *source,
                                               const char *address);
void sd_label_put(struct prom_target_group *g, const char *name, const char *value);
void sd_groups_copy(struct sd_groups *dst, const struct sd_groups *src);
void sd_groups_free(struct sd_groups *gs); /* leaves it empty */

/* ---- Metrics (Prometheus's names) ---- */

struct sd_metrics {
    struct metric *http_failures;           /* prometheus_sd_http_failures_total */
    struct metric *dns_lookups;             /* prometheus_sd_dns_lookups_total */
    struct metric *dns_lookup_failures;     /* prometheus_sd_dns_lookup_failures_total */
    struct metric_family *refresh_failures; /* prometheus_sd_refresh_failures_total{mechanism} */
};

/* Registers the families in reg (NULL: a struct whose counters go nowhere).
 * Free with free(). */
struct sd_metrics *sd_metrics_new(struct metrics_registry *reg);

/* ---- The host: what the refreshers of one discovery share ---- */

struct sd_host {
    uv_loop_t *loop;
    struct logger *log;         /* may be NULL */
    struct sd_metrics *metrics; /* may be NULL */
    char *user_agent;
    char *name;          /* the job (or "config-0"), for logs */
    struct uvcurl *curl; /* created on first use */
    void (*changed)(void *ctx);
    void *ctx;
    size_t pending; /* uv handles and worker jobs not yet back */
    bool closing;
    void (*release)(struct sd_host *h); /* closing and nothing pending: free the owner */
};

/* The host's uvcurl, created on first use; NULL (logged) if curl fails. */
struct uvcurl *sd_host_curl(struct sd_host *h);
/* Closes the uvcurl; `release` runs once pending is 0 (maybe at once). */
void sd_host_close(struct sd_host *h);
void sd_host_unpend(struct sd_host *h); /* one pending thing came back */

/* ---- Refreshers ---- */

struct sd_refresher;

struct sd_mech {
    const char *name; /* "http", "dns", "docker": the mechanism label */
    /* Begins a refresh; it ends with sd_refresher_done (maybe later). */
    void (*start)(struct sd_refresher *r);
    /* Abandons work in flight and frees the state.  Returns true if all is
     * gone; false if work is still out and will call sd_host_unpend. */
    bool (*stop)(struct sd_refresher *r);
};

struct sd_refresher {
    uv_timer_t timer;
    struct sd_host *host;
    const struct sd_mech *mech;
    void *state;
    char *key; /* the config's identity, for keeping groups over a reload */
    int64_t interval_ms;
    struct sd_groups groups; /* the last good refresh */
    bool running;
};

/* A refresher for one config (state created by the mechanism's *_new). */
struct sd_refresher *sd_refresher_new(struct sd_host *h, const struct sd_mech *mech, void *state,
                                      char *key_owned, int64_t interval_ms);
void sd_refresher_start(struct sd_refresher *r); /* first refresh now, then on the timer */
/* Ends a refresh: fresh (taken, emptied) replaces the groups when err is
 * NULL; otherwise err is logged and counted and the groups stay. */
void sd_refresher_done(struct sd_refresher *r, struct sd_groups *fresh, const char *err);
/* Stops and frees (handles close asynchronously, counted on the host). */
void sd_refresher_close(struct sd_refresher *r);

/* Mechanism constructors: copy what they need from cfg. */
struct sd_refresher *sd_http_new(struct sd_host *h, const struct prom_http_sd *cfg);
struct sd_refresher *sd_dns_new(struct sd_host *h, const struct prom_dns_sd *cfg);
struct sd_refresher *sd_docker_new(struct sd_host *h, const struct prom_docker_sd *cfg);

/* ---- One HTTP GET on the host's uvcurl (http and docker SD) ---- */

struct sd_fetch;
typedef void (*sd_fetch_done_fn)(struct sd_fetch *f, const char *err);

struct sd_fetch {
    CURL *easy;
    struct httpc_headers hdrs;
    char errbuf[CURL_ERROR_SIZE];
    struct sbuf body;
    char *content_type; /* of the response, "" if none */
    long status;
    struct sd_host *host;
    sd_fetch_done_fn done;
    bool in_flight;
};

/* Starts GET url.  unix_socket (may be NULL) is a socket path to connect
 * to instead; hc (may be NULL) the client settings; extra (may be NULL) a
 * NULL-terminated list of header lines.  done gets NULL for a completed
 * exchange (any status: check f->status) or why it failed.  Returns 0, or
 * -1 with err when it could not start. */
int sd_fetch_start(struct sd_fetch *f, struct sd_host *h, const char *url, const char *unix_socket,
                   const struct prom_http_client *hc, const char *const *extra, int64_t timeout_ms,
                   sd_fetch_done_fn done, char *err, size_t errsize);
void sd_fetch_cancel(struct sd_fetch *f); /* abandons the transfer, frees the handle */
/* The uvcurl done callback of a host: dispatches to the fetch. */
void sd_fetch_on_done(void *ctx, CURL *easy, CURLcode res);

/* ---- Pure parts, exposed for the unit tests ---- */

/* http_sd: the body of a good response → groups (each with __meta_url,
 * sources "url:i").  Returns 0, or -1 with err. */
int sd_http_groups(const char *url, const char *body, size_t len, struct sd_groups *out, char *err,
                   size_t errsize);
/* Whether a Content-Type is application/json (charset utf-8 allowed). */
bool sd_http_content_type_ok(const char *ct);

/* dns_sd: one answer message (res_query's bytes) for `name` → one group
 * per A, AAAA, SRV, MX or NS record (CNAMEs skipped), with
 * __meta_dns_name and the record's labels.  Returns 0, or -1 with err
 * when the message does not parse. */
int sd_dns_answer_parse(const unsigned char *msg, size_t len, const char *name, int port,
                        struct sd_groups *out, char *err, size_t errsize);

/* docker_sd: /containers/json and /networks bodies → groups. */
struct sd_docker_opts {
    int port;
    const char *host_networking_host;
    bool match_first_network;
};
int sd_docker_groups(const char *containers, size_t clen, const char *networks, size_t nlen,
                     const struct sd_docker_opts *o, struct sd_groups *out, char *err,
                     size_t errsize);
/* Prometheus's strutil.SanitizeLabelName: every byte outside
 * [a-zA-Z0-9_] becomes '_'.  Appends to b. */
void sd_label_sanitize(struct sbuf *b, const char *name);

#endif
