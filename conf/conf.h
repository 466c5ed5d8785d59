/* conf.h — the conf module's public face: Vigil reads Prometheus's and
 * Alertmanager's configuration formats unchanged.
 *
 *   config.h    prometheus.yml and rule files (struct prom_config, rule_file)
 *   amconfig.h  alertmanager.yml (struct am_config)
 *
 * Every loader fills a struct conf_error whose message names file:line:col,
 * the field path and the reason. */
#ifndef VIGIL_CONF_CONF_H
#define VIGIL_CONF_CONF_H

#include "conf/amconfig.h"
#include "conf/conf_error.h"
#include "conf/config.h"

/* tls_server_config, validated as exporter-toolkit validates it.  Names
 * Go's crypto/tls uses (versions, cipher suites, curves, client auth) are
 * checked here and translated; the certificate files are only named, not
 * read (the TLS layer loads them).  Relative paths are resolved against the
 * web config file's directory, as the toolkit does. */
enum web_client_auth {
    WEB_CLIENT_AUTH_NONE,               /* NoClientCert (default) */
    WEB_CLIENT_AUTH_REQUEST,            /* RequestClientCert */
    WEB_CLIENT_AUTH_REQUIRE_ANY,        /* RequireAnyClientCert (or RequireClientCert) */
    WEB_CLIENT_AUTH_VERIFY_IF_GIVEN,    /* VerifyClientCertIfGiven */
    WEB_CLIENT_AUTH_REQUIRE_AND_VERIFY, /* RequireAndVerifyClientCert */
};
struct web_tls {
    char *cert_file, *key_file;       /* owned; NULL when given inline */
    char *cert, *key;                 /* owned PEM text; used when the file is NULL */
    char *client_ca_file, *client_ca; /* owned; NULL = none */
    enum web_client_auth client_auth;
    int min_version, max_version; /* protocol numbers: 0x0301 (TLS10) .. 0x0304 (TLS13) */
    char *ciphers; /* owned: OpenSSL cipher list for TLS <= 1.2; NULL = not configured */
    char *curves;  /* owned: OpenSSL groups list ("X25519:P-256"); NULL = not configured */
    struct ystrlist client_allowed_sans;
    bool prefer_server_cipher_suites; /* default true */
};

/* --web.config.file (exporter-toolkit format). */
struct web_config {
    struct ystrmap basic_auth_users; /* user -> bcrypt hash; none: no auth */
    struct ystrmap headers;          /* added to every response */
    struct web_tls *tls;             /* owned; NULL = plain HTTP */
};
/* Loads and validates path.  Returns 0 and *out (web_config_free), or -1
 * with err ("web.yml:3:5: basic_auth_users: ..."). */
int web_config_load_file(const char *path, struct web_config **out, struct conf_error *err);
void web_config_free(struct web_config *c);
void web_tls_free(struct web_tls *t);

enum conf_kind { CONF_KIND_PROMETHEUS, CONF_KIND_ALERTMANAGER, CONF_KIND_UNREADABLE };

/* Tells which format a file is in by its top-level keys: a mapping with
 * `route`, `receivers` or `inhibit_rules` is an alertmanager.yml, anything
 * else is taken for a prometheus.yml. */
enum conf_kind conf_file_kind(const char *path);

#endif
