/* prom_internal.h — conf-internal: what the prometheus.yml decoder's files
 * share (config.c, prom_scrape.c, http_client.c, prom_sd.c, prom_relabel.c,
 * prom_util.c, rulefile.c).  Nothing outside conf/ includes this.
 *
 * Decoders have ydec's signature (struct ydec *, node, out).  The extra
 * context a Prometheus decoder needs — the config's directory, the name
 * validation scheme in force, the already-decoded global section — travels
 * in a `struct prom_dec` whose first member is the `struct ydec`, so a
 * decoder recovers it with prom_dec_of(d). */
#ifndef VIGIL_CONF_PROM_INTERNAL_H
#define VIGIL_CONF_PROM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/config.h"
#include "conf/yaml_tree.h"

struct prom_dec {
    struct ydec yd;                   /* first: decoders get &yd */
    const char *dir;                  /* relative paths are joined to this; NULL: left alone */
    enum prom_name_validation scheme; /* for relabel target labels */
    const struct prom_global_config *global; /* decoded before anything else */
};

static inline struct prom_dec *prom_dec_of(struct ydec *d)
{
    return (struct prom_dec *)d;
}

/* ---- prom_util.c ---- */

/* Fails at the value of `field` in map (with the field appended to the path)
 * if it is present, else at the map itself.  Returns -1. */
int prom_fail_at(struct ydec *d, const struct ynode *map, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* True if the decoded table had `name` present (from ydec_map's seen[]). */
bool prom_field_seen(const struct yfield *fields, const bool *seen, const char *name);

/* Go's filepath.Join(dir, path) for a relative path (cleaned), path itself
 * (copied) if absolute or dir is NULL; NULL for NULL.  Caller frees. */
char *prom_path_join(const char *dir, const char *path);
/* Go's filepath.Clean.  Caller frees. */
char *prom_path_clean(const char *path);
/* Replaces *p by prom_path_join(dir, *p). */
void prom_path_resolve(const char *dir, char **p);

bool prom_utf8_is_valid(const char *s);
/* Expands $VAR, ${VAR} and $$ like Go's os.Expand over the environment. */
char *prom_env_expand(const char *s);
/* A light version of Go's url.Parse checks; returns NULL if ok, else why. */
const char *prom_url_problem(const char *s);

/* Decoders for table use. */
int prom_dec_path(struct ydec *d, const struct ynode *n, void *out);      /* char **, resolved */
int prom_dec_present(struct ydec *d, const struct ynode *n, void *out);   /* bool *, any value */
int prom_dec_protocols(struct ydec *d, const struct ynode *n, void *out); /* scrape_protocols */
int prom_dec_protocol(struct ydec *d, const struct ynode *n, void *out);  /* enum, one */
int prom_dec_scheme(struct ydec *d, const struct ynode *n, void *out);    /* name validation */
int prom_dec_named_lists(struct ydec *d, const struct ynode *n, void *out);
void prom_named_lists_free(struct prom_named_list *v, size_t n);

/* ---- http_client.c (the Prometheus dialect) ---- */

/* The HTTP client fields inlined in a scrape/alertmanager/remote/SD config,
 * as entries of that config's field table.  Alertmanager's nested
 * `http_config` has its own (smaller) table, am_client_fields in
 * http_client.c. */
int prom_dec_basic_auth(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_authorization(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_oauth2(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_tls(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_http_headers(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_proxy_url(struct ydec *d, const struct ynode *n, void *out);

#define PROM_HTTP_FIELDS(type, m)                                                                  \
    YFIELD_NAMED("basic_auth", type, m.basic_auth, prom_dec_basic_auth),                           \
        YFIELD_NAMED("authorization", type, m.authorization, prom_dec_authorization),              \
        YFIELD_NAMED("oauth2", type, m.oauth2, prom_dec_oauth2),                                   \
        YFIELD_NAMED("bearer_token", type, m.bearer_token, ydec_string),                           \
        YFIELD_NAMED("bearer_token_file", type, m.bearer_token_file, prom_dec_path),               \
        YFIELD_NAMED("tls_config", type, m.tls_config, prom_dec_tls),                              \
        YFIELD_NAMED("follow_redirects", type, m.follow_redirects, ydec_bool),                     \
        YFIELD_NAMED("enable_http2", type, m.enable_http2, ydec_bool),                             \
        YFIELD_NAMED("proxy_url", type, m.proxy.proxy_url, prom_dec_proxy_url),                    \
        YFIELD_NAMED("no_proxy", type, m.proxy.no_proxy, ydec_string),                             \
        YFIELD_NAMED("proxy_from_environment", type, m.proxy.proxy_from_environment, ydec_bool),   \
        YFIELD_NAMED("proxy_connect_header", type, m.proxy.connect_headers, prom_dec_named_lists), \
        YFIELD_NAMED("http_headers", type, m.http_headers, prom_dec_http_headers)

/* Sets Prometheus's DefaultHTTPClientConfig (follow_redirects and
 * enable_http2 true). */
void prom_http_init(struct prom_http_client *h);
/* HTTPClientConfig.Validate: exclusive auth methods, TLS and proxy rules;
 * folds bearer_token(_file) into authorization.  Errors point into map. */
int prom_http_validate(struct ydec *d, const struct ynode *map, struct prom_http_client *h);
void prom_http_free(struct prom_http_client *h);
void prom_tls_free(struct prom_tls_config *t);
int prom_tls_validate(struct ydec *d, const struct ynode *n, const struct prom_tls_config *t);

/* ---- prom_sd.c ---- */

int prom_dec_static_configs(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_file_sd(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_http_sd(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_dns_sd(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_docker_sd(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_sd_unsupported(struct ydec *d, const struct ynode *n, void *out);

#define PROM_SD_UNSUPPORTED(type, m, name)                                                         \
    YFIELD_NAMED(name, type, m.unsupported, prom_dec_sd_unsupported)

#define PROM_SD_FIELDS(type, m)                                                                    \
    YFIELD_NAMED("static_configs", type, m.static_configs, prom_dec_static_configs),               \
        YFIELD_NAMED("file_sd_configs", type, m.file_sd, prom_dec_file_sd),                        \
        YFIELD_NAMED("http_sd_configs", type, m.http_sd, prom_dec_http_sd),                        \
        YFIELD_NAMED("dns_sd_configs", type, m.dns_sd, prom_dec_dns_sd),                           \
        YFIELD_NAMED("docker_sd_configs", type, m.docker_sd, prom_dec_docker_sd),                  \
        PROM_SD_UNSUPPORTED(type, m, "azure_sd_configs"),                                          \
        PROM_SD_UNSUPPORTED(type, m, "consul_sd_configs"),                                         \
        PROM_SD_UNSUPPORTED(type, m, "digitalocean_sd_configs"),                                   \
        PROM_SD_UNSUPPORTED(type, m, "dockerswarm_sd_configs"),                                    \
        PROM_SD_UNSUPPORTED(type, m, "ec2_sd_configs"),                                            \
        PROM_SD_UNSUPPORTED(type, m, "eureka_sd_configs"),                                         \
        PROM_SD_UNSUPPORTED(type, m, "gce_sd_configs"),                                            \
        PROM_SD_UNSUPPORTED(type, m, "hetzner_sd_configs"),                                        \
        PROM_SD_UNSUPPORTED(type, m, "ionos_sd_configs"),                                          \
        PROM_SD_UNSUPPORTED(type, m, "kubernetes_sd_configs"),                                     \
        PROM_SD_UNSUPPORTED(type, m, "kuma_sd_configs"),                                           \
        PROM_SD_UNSUPPORTED(type, m, "lightsail_sd_configs"),                                      \
        PROM_SD_UNSUPPORTED(type, m, "linode_sd_configs"),                                         \
        PROM_SD_UNSUPPORTED(type, m, "marathon_sd_configs"),                                       \
        PROM_SD_UNSUPPORTED(type, m, "nerve_sd_configs"),                                          \
        PROM_SD_UNSUPPORTED(type, m, "nomad_sd_configs"),                                          \
        PROM_SD_UNSUPPORTED(type, m, "openstack_sd_configs"),                                      \
        PROM_SD_UNSUPPORTED(type, m, "ovhcloud_sd_configs"),                                       \
        PROM_SD_UNSUPPORTED(type, m, "puppetdb_sd_configs"),                                       \
        PROM_SD_UNSUPPORTED(type, m, "scaleway_sd_configs"),                                       \
        PROM_SD_UNSUPPORTED(type, m, "serverset_sd_configs"),                                      \
        PROM_SD_UNSUPPORTED(type, m, "stackit_sd_configs"),                                        \
        PROM_SD_UNSUPPORTED(type, m, "triton_sd_configs"),                                         \
        PROM_SD_UNSUPPORTED(type, m, "uyuni_sd_configs"),                                          \
        PROM_SD_UNSUPPORTED(type, m, "vultr_sd_configs")

/* After ydec_map over a table holding PROM_SD_FIELDS: records the names of
 * unsupported mechanisms that are present, and (unless the config has
 * relabel rules, as Prometheus) rejects static targets that look like URLs. */
int prom_sd_finish(struct ydec *d, const struct ynode *map, const struct yfield *fields,
                   const bool *seen, struct prom_sd_configs *sd, bool has_relabel);
void prom_sd_free(struct prom_sd_configs *sd);

/* ---- prom_relabel.c ---- */

/* A relabel_configs list; entries are validated against prom_dec's scheme. */
int prom_dec_relabel_list(struct ydec *d, const struct ynode *n, void *out);
void prom_relabel_list_free(struct prom_relabel_list *l);

/* ---- prom_scrape.c ---- */

/* scrape_configs (a list); needs prom_dec's global. */
int prom_dec_scrape_configs(struct ydec *d, const struct ynode *n, struct prom_scrape_config **v,
                            size_t *count);
void prom_scrape_config_free(struct prom_scrape_config *s);

/* ---- prom_sections.c: alerting, remote storage, storage, tracing, otlp ---- */

int prom_dec_alerting(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_remote_writes(struct ydec *d, const struct ynode *n, void *out); /* + count */
int prom_dec_remote_reads(struct ydec *d, const struct ynode *n, void *out);  /* + count */
int prom_dec_storage(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_tracing(struct ydec *d, const struct ynode *n, void *out);
int prom_dec_otlp(struct ydec *d, const struct ynode *n, void *out);
void prom_sections_init(struct prom_config *c); /* their defaults */
/* Checks that need the whole file (the OTLP strategy vs the name scheme). */
int prom_sections_finish(struct ydec *d, const struct ynode *root, struct prom_config *c);
void prom_sections_free(struct prom_config *c);

#endif
