/* webconfig.c — the --web.config.file format (Prometheus's exporter-toolkit
 * web configuration): basic_auth_users (user -> bcrypt hash),
 * http_server_config.headers (added to every response), and
 * tls_server_config.
 *
 * Everything is validated as the toolkit validates it: unknown fields are
 * errors, only the security headers it knows may be set, and every password
 * must be a bcrypt hash.  tls_server_config uses Go's crypto/tls names
 * (TLS12, TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, CurveP256,
 * RequireAndVerifyClientCert); they are checked against the lists Go
 * accepts and translated here into protocol numbers and OpenSSL's names,
 * so that a mistake is reported with its line like any other.  The TLS
 * layer (server/http/tls.c, through server/webauth.c) later loads the
 * certificate files that this only names. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include "conf/conf.h"
#include "conf/yaml_tree.h"
#include "util/sbuf.h"

struct tls_raw {
    char *cert_file, *key_file, *client_auth_type, *client_ca_file, *min_version, *max_version;
    char *cert, *key, *client_ca;
    struct ystrlist cipher_suites, curve_preferences, client_allowed_sans;
    bool prefer_server_cipher_suites;
};

static const struct yfield tls_fields[] = {
    YFIELD(struct tls_raw, cert_file, ydec_string),
    YFIELD(struct tls_raw, key_file, ydec_string),
    YFIELD(struct tls_raw, cert, ydec_string),
    YFIELD(struct tls_raw, key, ydec_string),
    YFIELD(struct tls_raw, client_auth_type, ydec_string),
    YFIELD(struct tls_raw, client_ca_file, ydec_string),
    YFIELD(struct tls_raw, client_ca, ydec_string),
    YFIELD(struct tls_raw, min_version, ydec_string),
    YFIELD(struct tls_raw, max_version, ydec_string),
    YFIELD(struct tls_raw, cipher_suites, ydec_strlist),
    YFIELD(struct tls_raw, curve_preferences, ydec_strlist),
    YFIELD(struct tls_raw, client_allowed_sans, ydec_strlist),
    YFIELD(struct tls_raw, prefer_server_cipher_suites, ydec_bool),
    {NULL, NULL, 0},
};

struct http_raw {
    bool http2;
    struct ystrmap headers;
};

static const struct yfield http_fields[] = {
    YFIELD(struct http_raw, http2, ydec_bool),
    YFIELD(struct http_raw, headers, ydec_strmap),
    {NULL, NULL, 0},
};

struct web_raw {
    struct tls_raw tls;
    struct http_raw http;
    struct ystrmap users;
};

static int dec_tls(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, tls_fields, out, NULL);
}

static int dec_http(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, http_fields, out, NULL);
}

static const struct yfield web_fields[] = {
    YFIELD_NAMED("tls_server_config", struct web_raw, tls, dec_tls),
    YFIELD_NAMED("http_server_config", struct web_raw, http, dec_http),
    YFIELD_NAMED("basic_auth_users", struct web_raw, users, ydec_strmap),
    {NULL, NULL, 0},
};

static void tls_raw_free(struct tls_raw *t)
{
    char **strs[] = {&t->cert_file,      &t->key_file,    &t->client_auth_type,
                     &t->client_ca_file, &t->min_version, &t->max_version,
                     &t->cert,           &t->key,         &t->client_ca};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    ystrlist_free(&t->cipher_suites);
    ystrlist_free(&t->curve_preferences);
    ystrlist_free(&t->client_allowed_sans);
}

/* ---- tls_server_config ---- */

struct web_name {
    const char *go;      /* as written in the file */
    const char *openssl; /* OpenSSL's name; NULL: accepted, nothing to configure */
};

/* Go's tls.CipherSuites() (the ones it calls secure; the toolkit rejects
 * the rest).  TLS 1.3 suites are accepted but, as in Go, not configurable. */
static const struct web_name web_ciphers[] = {
    {"TLS_RSA_WITH_AES_128_CBC_SHA", "AES128-SHA"},
    {"TLS_RSA_WITH_AES_256_CBC_SHA", "AES256-SHA"},
    {"TLS_RSA_WITH_AES_128_GCM_SHA256", "AES128-GCM-SHA256"},
    {"TLS_RSA_WITH_AES_256_GCM_SHA384", "AES256-GCM-SHA384"},
    {"TLS_AES_128_GCM_SHA256", NULL},
    {"TLS_AES_256_GCM_SHA384", NULL},
    {"TLS_CHACHA20_POLY1305_SHA256", NULL},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", "ECDHE-ECDSA-AES128-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", "ECDHE-ECDSA-AES256-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", "ECDHE-RSA-AES128-SHA"},
    {"TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", "ECDHE-RSA-AES256-SHA"},
    {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", "ECDHE-ECDSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", "ECDHE-ECDSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", "ECDHE-RSA-AES128-GCM-SHA256"},
    {"TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384"},
    {"TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-RSA-CHACHA20-POLY1305"},
    {"TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "ECDHE-ECDSA-CHACHA20-POLY1305"},
    {NULL, NULL},
};

static const struct web_name web_curves[] = {
    {"CurveP256", "P-256"}, {"CurveP384", "P-384"}, {"CurveP521", "P-521"},
    {"X25519", "X25519"},   {NULL, NULL},
};

static const struct {
    const char *name;
    int version;
} web_versions[] = {{"TLS10", 0x0301}, {"TLS11", 0x0302}, {"TLS12", 0x0303}, {"TLS13", 0x0304}};

static const char *const web_client_auths[] = {
    [WEB_CLIENT_AUTH_NONE] = "NoClientCert",
    [WEB_CLIENT_AUTH_REQUEST] = "RequestClientCert",
    [WEB_CLIENT_AUTH_REQUIRE_ANY] = "RequireAnyClientCert",
    [WEB_CLIENT_AUTH_VERIFY_IF_GIVEN] = "VerifyClientCertIfGiven",
    [WEB_CLIENT_AUTH_REQUIRE_AND_VERIFY] = "RequireAndVerifyClientCert",
};

static const struct web_name *web_name_find(const struct web_name *t, const char *go)
{
    for (; t->go; t++)
        if (strcmp(t->go, go) == 0)
            return t;
    return NULL;
}

/* Translates a list of Go names into an OpenSSL list ("a:b"); *out stays
 * NULL when nothing is left to configure. */
static int web_names_map(struct ydec *d, const struct ynode *n, const struct ystrlist *l,
                         const struct web_name *table, const char *what, char **out)
{
    struct sbuf b = SBUF_INIT;
    for (size_t i = 0; i < l->n; i++) {
        const struct web_name *w = web_name_find(table, l->v[i]);
        if (!w) {
            sbuf_free(&b);
            return ydec_fail(d, n && n->kind == YNODE_SEQ && i < n->n ? n->items[i] : n,
                             "unknown %s: %s", what, l->v[i]);
        }
        if (w->openssl) {
            if (b.len)
                sbuf_putc(&b, ':');
            sbuf_puts(&b, w->openssl);
        }
    }
    *out = b.len ? sbuf_detach(&b) : NULL;
    sbuf_free(&b);
    return 0;
}

static int web_version(struct ydec *d, const struct ynode *n, const char *name, int def, int *out)
{
    *out = def;
    if (!name)
        return 0;
    for (size_t i = 0; i < sizeof web_versions / sizeof web_versions[0]; i++) {
        if (strcmp(name, web_versions[i].name) == 0) {
            *out = web_versions[i].version;
            return 0;
        }
    }
    return ydec_fail(d, n, "unknown TLS version: %s", name);
}

static int web_client_auth(struct ydec *d, const struct ynode *n, const char *name,
                           enum web_client_auth *out)
{
    *out = WEB_CLIENT_AUTH_NONE;
    if (!name || !*name)
        return 0;
    if (strcmp(name, "RequireClientCert") == 0) { /* the toolkit's old name */
        *out = WEB_CLIENT_AUTH_REQUIRE_ANY;
        return 0;
    }
    for (size_t i = 0; i < sizeof web_client_auths / sizeof web_client_auths[0]; i++) {
        if (strcmp(name, web_client_auths[i]) == 0) {
            *out = (enum web_client_auth)i;
            return 0;
        }
    }
    return ydec_fail(d, n, "Invalid ClientAuth: %s", name);
}

/* A path relative to the config file's directory, as the toolkit's
 * SetDirectory; NULL and "" stay as they are (NULL). */
static char *web_path(const char *config_path, const char *p)
{
    if (!p || !*p)
        return NULL;
    const char *slash = strrchr(config_path, '/');
    if (p[0] == '/' || !slash)
        return xstrdup(p);
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%.*s/%s", (int)(slash - config_path), config_path, p);
    return sbuf_detach(&b);
}

void web_tls_free(struct web_tls *t)
{
    if (!t)
        return;
    char *strs[] = {t->cert_file,      t->key_file,  t->cert,    t->key,
                    t->client_ca_file, t->client_ca, t->ciphers, t->curves};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(strs[i]);
    ystrlist_free(&t->client_allowed_sans);
    free(t);
}

/* The toolkit's rules that go beyond single fields. */
static int web_tls_check(struct ydec *d, const struct ynode *tn, const struct tls_raw *r,
                         const struct web_tls *t)
{
    if (!(r->cert_file && *r->cert_file) && !(r->cert && *r->cert))
        return ydec_fail(d, tn, "missing cert_file");
    if (!(r->key_file && *r->key_file) && !(r->key && *r->key))
        return ydec_fail(d, tn, "missing key_file");
    if ((t->client_ca_file || t->client_ca) && t->client_auth == WEB_CLIENT_AUTH_NONE)
        return ydec_fail(d, tn, "Client CA's have been configured without a Client Auth Policy");
    if (t->client_allowed_sans.n > 0 && t->client_auth != WEB_CLIENT_AUTH_REQUIRE_ANY &&
        t->client_auth != WEB_CLIENT_AUTH_REQUIRE_AND_VERIFY)
        return ydec_fail(d, ynode_get(tn, "client_allowed_sans"),
                         "client_allowed_sans requires client_auth_type to be one of "
                         "RequireAnyClientCert or RequireAndVerifyClientCert");
    return 0;
}

/* Builds the validated tls_server_config, or leaves *out NULL when the
 * section configures no TLS (the toolkit then serves plain HTTP). */
static int web_tls_build(struct ydec *d, const struct ynode *tn, struct tls_raw *r,
                         const char *path, struct web_tls **out)
{
    struct web_tls *t = xcalloc(1, sizeof *t);
    t->prefer_server_cipher_suites = r->prefer_server_cipher_suites;
    int rc = web_version(d, ynode_get(tn, "min_version"), r->min_version, 0x0303, &t->min_version);
    if (rc == 0)
        rc = web_version(d, ynode_get(tn, "max_version"), r->max_version, 0x0304, &t->max_version);
    if (rc == 0)
        rc = web_names_map(d, ynode_get(tn, "cipher_suites"), &r->cipher_suites, web_ciphers,
                           "cipher", &t->ciphers);
    if (rc == 0)
        rc = web_names_map(d, ynode_get(tn, "curve_preferences"), &r->curve_preferences, web_curves,
                           "curve", &t->curves);
    if (rc == 0)
        rc = web_client_auth(d, ynode_get(tn, "client_auth_type"), r->client_auth_type,
                             &t->client_auth);
    bool enabled = (r->cert_file && *r->cert_file) || (r->key_file && *r->key_file) ||
                   (r->cert && *r->cert) || (r->key && *r->key) ||
                   (r->client_ca_file && *r->client_ca_file) || (r->client_ca && *r->client_ca) ||
                   (r->client_auth_type && *r->client_auth_type);
    if (rc < 0 || !enabled) {
        web_tls_free(t);
        return rc;
    }
    t->cert_file = web_path(path, r->cert_file);
    t->key_file = web_path(path, r->key_file);
    t->client_ca_file = web_path(path, r->client_ca_file);
    t->cert = r->cert && *r->cert ? xstrdup(r->cert) : NULL;
    t->key = r->key && *r->key ? xstrdup(r->key) : NULL;
    t->client_ca = r->client_ca && *r->client_ca ? xstrdup(r->client_ca) : NULL;
    t->client_allowed_sans = r->client_allowed_sans;
    r->client_allowed_sans = (struct ystrlist){NULL, 0};
    if (web_tls_check(d, tn, r, t) < 0) {
        web_tls_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

/* ---- the file ---- */

/* The only headers the toolkit lets a config set. */
static const char *const allowed_headers[] = {"Strict-Transport-Security", "X-Content-Type-Options",
                                              "X-Frame-Options",           "X-XSS-Protection",
                                              "Content-Security-Policy",   NULL};

static int web_validate(struct ydec *d, const struct ynode *root, struct web_raw *w)
{
    const struct ynode *users = ynode_get(root, "basic_auth_users");
    for (size_t i = 0; i < w->users.n; i++) {
        const char *h = w->users.values[i];
        if (strncmp(h, "$2a$", 4) != 0 && strncmp(h, "$2b$", 4) != 0 && strncmp(h, "$2y$", 4) != 0)
            return ydec_fail(d, users,
                             "basic_auth_users: the password of user \"%s\" is not a "
                             "bcrypt hash",
                             w->users.keys[i]);
    }
    const struct ynode *hs = ynode_get(ynode_get(root, "http_server_config"), "headers");
    for (size_t i = 0; i < w->http.headers.n; i++) {
        size_t k = 0;
        while (allowed_headers[k] && strcmp(w->http.headers.keys[i], allowed_headers[k]) != 0)
            k++;
        if (!allowed_headers[k])
            return ydec_fail(d, hs, "HTTP header \"%s\" can not be configured",
                             w->http.headers.keys[i]);
    }
    return 0;
}

int web_config_load_file(const char *path, struct web_config **out, struct conf_error *err)
{
    struct ytree t;
    if (ytree_load_file(&t, path, err) < 0)
        return -1;
    struct ydec d;
    ydec_init(&d, path, err);
    struct web_raw w;
    memset(&w, 0, sizeof w);
    w.http.http2 = true;
    w.tls.prefer_server_cipher_suites = true;
    struct web_tls *tls = NULL;
    int rc = ydec_map(&d, t.root, web_fields, &w, NULL);
    if (rc == 0)
        rc = web_validate(&d, t.root, &w);
    if (rc == 0) {
        size_t old = ydec_push_field(&d, "tls_server_config");
        rc = web_tls_build(&d, ynode_get(t.root, "tls_server_config"), &w.tls, path, &tls);
        ydec_pop(&d, old);
    }
    ytree_free(&t);
    if (rc < 0) {
        tls_raw_free(&w.tls);
        ystrmap_free(&w.http.headers);
        ystrmap_free(&w.users);
        return -1;
    }
    struct web_config *c = xcalloc(1, sizeof *c);
    c->basic_auth_users = w.users;
    c->headers = w.http.headers;
    c->tls = tls;
    tls_raw_free(&w.tls);
    *out = c;
    return 0;
}

void web_config_free(struct web_config *c)
{
    if (!c)
        return;
    ystrmap_free(&c->basic_auth_users);
    ystrmap_free(&c->headers);
    web_tls_free(c->tls);
    free(c);
}
