/* http_client.h — the HTTP client settings (prometheus/common's
 * HTTPClientConfig and TLSConfig), shared by prometheus.yml and
 * alertmanager.yml.
 *
 * Both loaders decode into these structs (conf/http_client.c), each in its
 * own dialect: Prometheus 3 (prometheus/common as of today) reads the whole
 * field set; Alertmanager 0.25 (prometheus/common 0.39) a subset of it, so
 * the members it has no field for (inline ca/cert/key, username_file,
 * no_proxy, proxy_from_environment, http_headers, an oauth2 proxy other
 * than proxy_url) are simply left zero in an alertmanager.yml config.
 *
 * After loading, bearer_token and bearer_token_file have become an
 * `authorization` of type Bearer, as in Go, and relative file names are
 * joined to the config file's directory.  Plain data: owned by the config
 * that holds it, immutable once loaded. */
#ifndef VIGIL_CONF_HTTP_CLIENT_H
#define VIGIL_CONF_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "conf/yaml_tree.h" /* struct ystrlist, struct ystrmap */

enum prom_tls_version { PROM_TLS_ANY = 0, PROM_TLS10, PROM_TLS11, PROM_TLS12, PROM_TLS13 };

struct prom_tls_config {
    char *ca, *ca_file;     /* inline PEM, or a file; at most one */
    char *cert, *cert_file; /* client certificate ... */
    char *key, *key_file;   /* ... and its key: both or neither */
    char *server_name;
    bool insecure_skip_verify;
    enum prom_tls_version min_version, max_version;
};

struct prom_basic_auth {
    char *username, *username_file; /* at most one */
    char *password, *password_file; /* at most one */
};

/* bearer_token / bearer_token_file are folded into this, as Prometheus does:
 * type "Bearer" with credentials / credentials_file. */
struct prom_authorization {
    char *type; /* default "Bearer"; "Basic" is rejected */
    char *credentials, *credentials_file;
};

/* A name with a list of values (URL params, proxy_connect_header). */
struct prom_named_list {
    char *name;
    struct ystrlist values;
};

struct prom_proxy_config {
    char *proxy_url; /* NULL if unset */
    char *no_proxy;
    bool proxy_from_environment;
    struct prom_named_list *connect_headers; /* proxy_connect_header */
    size_t n_connect_headers;
};

struct prom_oauth2 {
    char *client_id;
    char *client_secret, *client_secret_file;
    char *token_url;
    struct ystrlist scopes;
    struct ystrmap endpoint_params;
    struct prom_tls_config tls_config;
    struct prom_proxy_config proxy;
};

/* http_headers: each header may take literal values, secret values and
 * values read from files. */
struct prom_http_header {
    char *name;
    struct ystrlist values, secrets, files;
};

struct prom_http_client {
    struct prom_basic_auth *basic_auth;       /* NULL if absent */
    struct prom_authorization *authorization; /* NULL if absent */
    struct prom_oauth2 *oauth2;               /* NULL if absent */
    struct prom_tls_config tls_config;
    struct prom_proxy_config proxy;
    bool follow_redirects; /* default true */
    bool enable_http2;     /* default true (false for remote_write) */
    struct prom_http_header *http_headers;
    size_t n_http_headers;
    /* As written; folded into `authorization` on load, so NULL afterwards. */
    char *bearer_token, *bearer_token_file;
};

#endif
