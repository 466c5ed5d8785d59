/* http_client.c — the HTTP client settings (prometheus/common's
 * HTTPClientConfig and TLSConfig) for both loaders: the fields inlined in
 * prometheus.yml's scrape, alertmanager, remote storage and HTTP-based SD
 * configs, and alertmanager.yml's `http_config` and email `tls_config`.
 *
 * One decoder, one validation and one free serve two dialects, because the
 * two programs link different releases of prometheus/common:
 *
 *   HTTP_PROM   Prometheus 3: the whole field set.  Files are joined to the
 *               config's directory as they are decoded (prom_dec_path),
 *               errors point at the offending field.
 *   HTTP_AM     Alertmanager 0.25 (common 0.39): no inline ca/cert/key, no
 *               username_file, no_proxy, proxy_from_environment or
 *               http_headers, oauth2 proxy_url only; an oauth2 client
 *               secret is required, TLS settings are not cross-checked, and
 *               errors point at the http_config mapping.  Paths are joined
 *               after validation, for http_config only (an email tls_config
 *               is left as written, as Alertmanager does).
 *
 * The field tables below carry one decoder per dialect; a NULL decoder
 * means the dialect has no such field, so ydec_map reports it as unknown,
 * as Go's strict unmarshalling does.  Where a message differs between the
 * two releases, `msgs` holds both wordings.  Validation then follows
 * HTTPClientConfig.Validate in Go's order: one way to authenticate
 * (basic_auth, authorization, oauth2, bearer_token[_file]), inline secret or
 * file but not both, and the proxy settings that only make sense together.
 * As in Go, bearer_token and bearer_token_file become an `authorization` of
 * type Bearer, so users of the struct see one representation.
 *
 * Prometheus inlines the top-level fields in the containing config's table
 * (PROM_HTTP_FIELDS in prom_internal.h); Alertmanager nests them under
 * `http_config` (am_client_fields here). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/am_internal.h"
#include "conf/prom_internal.h"
#include "util/sbuf.h"

_Static_assert(offsetof(struct prom_proxy_config, n_connect_headers) ==
                   offsetof(struct prom_proxy_config, connect_headers) + sizeof(void *),
               "prom_dec_named_lists expects the count right after the array");
_Static_assert(offsetof(struct prom_http_client, n_http_headers) ==
                   offsetof(struct prom_http_client, http_headers) + sizeof(void *),
               "prom_dec_http_headers expects the count right after the array");

enum http_dialect { HTTP_PROM, HTTP_AM, HTTP_NDIALECTS };

/* The messages whose wording changed between common 0.39 and today. */
static const struct http_msgs {
    const char *password_twice, *secret_twice, *connect_header_alone;
} msgs[HTTP_NDIALECTS] = {
    [HTTP_PROM] = {"at most one of basic_auth password, password_file & password_ref must be "
                   "configured",
                   "at most one of oauth2 client_secret, client_secret_file & client_secret_ref "
                   "must be configured",
                   "if proxy_connect_header is configured, proxy_url or proxy_from_environment "
                   "must also be configured"},
    [HTTP_AM] = {"at most one of basic_auth password & password_file must be configured",
                 "at most one of oauth2 client_secret & client_secret_file must be configured",
                 "if proxy_connect_header is configured proxy_url must also be configured"},
};

static bool nonempty(const char *s)
{
    return s && *s;
}

/* Fails with msg: at `field` of map for Prometheus, at map for Alertmanager. */
static int http_fail(struct ydec *d, const struct ynode *map, const char *field,
                     enum http_dialect dl, const char *msg)
{
    if (dl == HTTP_AM)
        return ydec_fail(d, map, "%s", msg);
    return prom_fail_at(d, map, field, "%s", msg);
}

/* ---- dialect field tables ---- */

struct http_field {
    const char *name;
    size_t offset;
    ydec_fn prom, am; /* the decoder in each dialect; NULL: no such field there */
};

#define HFIELD(type, member, prom, am)                                                             \
    {                                                                                              \
#member, offsetof(type, member), prom, am                                                  \
    }
#define HFIELD_NAMED(name, type, member, prom, am)                                                 \
    {                                                                                              \
        name, offsetof(type, member), prom, am                                                     \
    }
#define HTTP_MAX_FIELDS 16

/* ydec_map over the fields the dialect has. */
static int http_map(struct ydec *d, const struct ynode *n, const struct http_field *t, size_t nt,
                    void *obj, enum http_dialect dl)
{
    struct yfield f[HTTP_MAX_FIELDS + 1];
    size_t k = 0;
    for (size_t i = 0; i < nt && k < HTTP_MAX_FIELDS; i++) {
        ydec_fn fn = dl == HTTP_AM ? t[i].am : t[i].prom;
        if (fn)
            f[k++] = (struct yfield){t[i].name, fn, t[i].offset};
    }
    f[k] = (struct yfield){NULL, NULL, 0};
    return ydec_map(d, n, f, obj, NULL);
}

#define HTTP_MAP(d, n, table, obj, dl) http_map(d, n, table, sizeof table / sizeof *table, obj, dl)

/* ---- decoders whose behaviour differs by dialect ---- */

static int dec_tls_version(struct ydec *d, const struct ynode *n, void *out, const char *want)
{
    static const char *names[] = {"", "TLS10", "TLS11", "TLS12", "TLS13"};
    if (n->kind != YNODE_SCALAR)
        return ydec_fail(d, n, "expected %s", want);
    for (int v = PROM_TLS10; v <= PROM_TLS13; v++) {
        if (strcmp(n->s, names[v]) == 0) {
            *(enum prom_tls_version *)out = (enum prom_tls_version)v;
            return 0;
        }
    }
    return ydec_fail(d, n, "unknown TLS version: %s", n->s);
}

static int dec_tls_version_prom(struct ydec *d, const struct ynode *n, void *out)
{
    return dec_tls_version(d, n, out, "a TLS version");
}

static int dec_tls_version_am(struct ydec *d, const struct ynode *n, void *out)
{
    return dec_tls_version(d, n, out, "a TLS version string");
}

int prom_dec_proxy_url(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_string(d, n, out) < 0)
        return -1;
    const char *s = *(char **)out;
    const char *why = s ? prom_url_problem(s) : NULL;
    if (why)
        return ydec_fail(d, n, "parse \"%s\": %s", s, why);
    return 0;
}

/* Go's url.Parse as common 0.39 applies it; "" is as good as unset. */
static int dec_proxy_url_am(struct ydec *d, const struct ynode *n, void *out)
{
    if (n->kind != YNODE_SCALAR)
        return ydec_fail(d, n, "expected a URL string");
    char why[512];
    if (am_url_parse_problem(n->s, why, sizeof why))
        return ydec_fail(d, n, "%s", why);
    char **p = out;
    free(*p);
    *p = *n->s ? xstrdup(n->s) : NULL;
    return 0;
}

/* `proxy_connect_header` in common 0.39: header name to a list of values. */
static int dec_connect_headers_am(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_proxy_config *p = out;
    if (n->kind != YNODE_MAP)
        return ydec_fail(d, n, "expected a mapping of header names to lists");
    p->connect_headers = xcalloc(n->n ? n->n : 1, sizeof *p->connect_headers);
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        if (k->kind != YNODE_SCALAR)
            return ydec_fail(d, k, "header names must be strings");
        struct prom_named_list *e = &p->connect_headers[p->n_connect_headers++];
        e->name = xstrdup(k->s);
        size_t old = ydec_push_field(d, k->s);
        if (v->kind != YNODE_NULL && am_dec_strlist(d, v, &e->values) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

/* ---- TLS ---- */

static const struct http_field tls_fields[] = {
    /* (struct, member, decoder in Prometheus 3, decoder in Alertmanager 0.25) */
    HFIELD(struct prom_tls_config, ca, ydec_string, NULL),
    HFIELD(struct prom_tls_config, ca_file, prom_dec_path, ydec_string),
    HFIELD(struct prom_tls_config, cert, ydec_string, NULL),
    HFIELD(struct prom_tls_config, cert_file, prom_dec_path, ydec_string),
    HFIELD(struct prom_tls_config, key, ydec_string, NULL),
    HFIELD(struct prom_tls_config, key_file, prom_dec_path, ydec_string),
    HFIELD(struct prom_tls_config, server_name, ydec_string, ydec_string),
    HFIELD(struct prom_tls_config, insecure_skip_verify, ydec_bool, ydec_bool),
    HFIELD(struct prom_tls_config, min_version, dec_tls_version_prom, dec_tls_version_am),
    HFIELD(struct prom_tls_config, max_version, dec_tls_version_prom, dec_tls_version_am),
};

int prom_tls_validate(struct ydec *d, const struct ynode *n, const struct prom_tls_config *t)
{
    if (nonempty(t->ca) && nonempty(t->ca_file))
        return prom_fail_at(d, n, "ca_file",
                            "at most one of ca, ca_file & ca_ref must be configured");
    if (nonempty(t->cert) && nonempty(t->cert_file))
        return prom_fail_at(d, n, "cert_file",
                            "at most one of cert, cert_file & cert_ref must be configured");
    if (nonempty(t->key) && nonempty(t->key_file))
        return prom_fail_at(d, n, "key_file", "at most one of key and key_file must be configured");
    bool cert = nonempty(t->cert) || nonempty(t->cert_file);
    bool key = nonempty(t->key) || nonempty(t->key_file);
    if (cert && !key)
        return ydec_fail(d, n,
                         "exactly one of key or key_file must be configured when a client "
                         "certificate is configured");
    if (key && !cert)
        return ydec_fail(d, n,
                         "exactly one of cert or cert_file must be configured when a client "
                         "key is configured");
    return 0;
}

/* Prometheus validates a tls_config as it decodes it; common 0.39 does not. */
int prom_dec_tls(struct ydec *d, const struct ynode *n, void *out)
{
    if (HTTP_MAP(d, n, tls_fields, out, HTTP_PROM) < 0)
        return -1;
    return prom_tls_validate(d, n, out);
}

int am_dec_tls_config(struct ydec *d, const struct ynode *n, void *out)
{
    return HTTP_MAP(d, n, tls_fields, out, HTTP_AM);
}

void prom_tls_free(struct prom_tls_config *t)
{
    free(t->ca);
    free(t->ca_file);
    free(t->cert);
    free(t->cert_file);
    free(t->key);
    free(t->key_file);
    free(t->server_name);
}

void am_tls_config_free(struct prom_tls_config *t)
{
    prom_tls_free(t);
    memset(t, 0, sizeof *t);
}

/* ---- authentication ---- */

static const struct http_field basic_auth_fields[] = {
    HFIELD(struct prom_basic_auth, username, ydec_string, ydec_string),
    HFIELD(struct prom_basic_auth, username_file, prom_dec_path, NULL),
    HFIELD(struct prom_basic_auth, password, ydec_string, ydec_string),
    HFIELD(struct prom_basic_auth, password_file, prom_dec_path, ydec_string),
};

static const struct http_field authorization_fields[] = {
    HFIELD(struct prom_authorization, type, ydec_string, ydec_string),
    HFIELD(struct prom_authorization, credentials, ydec_string, ydec_string),
    HFIELD(struct prom_authorization, credentials_file, prom_dec_path, ydec_string),
};

/* Prometheus 3 prints `client_secret_ref: ""` (prometheus/common's secret
 * manager hook, which Prometheus never configures), so an empty reference
 * is accepted for the printed config to load back; a real one is refused. */
static int dec_empty_ref(struct ydec *d, const struct ynode *n, void *out)
{
    (void)out;
    if (n->kind == YNODE_SCALAR && *n->s)
        return ydec_fail(d, n, "secret manager references are not supported");
    return 0;
}

static const struct http_field oauth2_fields[] = {
    HFIELD(struct prom_oauth2, client_id, ydec_string, ydec_string),
    HFIELD(struct prom_oauth2, client_secret, ydec_string, ydec_string),
    HFIELD(struct prom_oauth2, client_secret_file, prom_dec_path, ydec_string),
    HFIELD_NAMED("client_secret_ref", struct prom_oauth2, client_secret, dec_empty_ref, NULL),
    HFIELD(struct prom_oauth2, scopes, ydec_strlist, am_dec_strlist),
    HFIELD(struct prom_oauth2, token_url, ydec_string, ydec_string),
    HFIELD(struct prom_oauth2, endpoint_params, ydec_strmap, ydec_strmap),
    HFIELD(struct prom_oauth2, tls_config, prom_dec_tls, am_dec_tls_config),
    HFIELD_NAMED("proxy_url", struct prom_oauth2, proxy.proxy_url, prom_dec_proxy_url,
                 dec_proxy_url_am),
    HFIELD_NAMED("no_proxy", struct prom_oauth2, proxy.no_proxy, ydec_string, NULL),
    HFIELD_NAMED("proxy_from_environment", struct prom_oauth2, proxy.proxy_from_environment,
                 ydec_bool, NULL),
    HFIELD_NAMED("proxy_connect_header", struct prom_oauth2, proxy.connect_headers,
                 prom_dec_named_lists, NULL),
};

/* A `basic_auth`, `authorization` or `oauth2` mapping into a new struct. */
static int dec_boxed(struct ydec *d, const struct ynode *n, void *out, size_t size,
                     const struct http_field *t, size_t nt, enum http_dialect dl)
{
    void **p = out;
    if (!*p)
        *p = xcalloc(1, size);
    return http_map(d, n, t, nt, *p, dl);
}

#define DEC_BOXED(d, n, out, type, table, dl)                                                      \
    dec_boxed(d, n, out, sizeof(type), table, sizeof table / sizeof *table, dl)

int prom_dec_basic_auth(struct ydec *d, const struct ynode *n, void *out)
{
    return DEC_BOXED(d, n, out, struct prom_basic_auth, basic_auth_fields, HTTP_PROM);
}

int prom_dec_authorization(struct ydec *d, const struct ynode *n, void *out)
{
    return DEC_BOXED(d, n, out, struct prom_authorization, authorization_fields, HTTP_PROM);
}

int prom_dec_oauth2(struct ydec *d, const struct ynode *n, void *out)
{
    return DEC_BOXED(d, n, out, struct prom_oauth2, oauth2_fields, HTTP_PROM);
}

static int dec_basic_auth_am(struct ydec *d, const struct ynode *n, void *out)
{
    return DEC_BOXED(d, n, out, struct prom_basic_auth, basic_auth_fields, HTTP_AM);
}

static int dec_authorization_am(struct ydec *d, const struct ynode *n, void *out)
{
    return DEC_BOXED(d, n, out, struct prom_authorization, authorization_fields, HTTP_AM);
}

static int dec_oauth2_am(struct ydec *d, const struct ynode *n, void *out)
{
    return DEC_BOXED(d, n, out, struct prom_oauth2, oauth2_fields, HTTP_AM);
}

/* ---- http_headers (Prometheus only) ---- */

static const struct yfield header_fields[] = {
    YFIELD(struct prom_http_header, values, ydec_strlist),
    YFIELD(struct prom_http_header, secrets, ydec_strlist),
    YFIELD(struct prom_http_header, files, ydec_strlist),
    {NULL, NULL, 0},
};

/* Headers Prometheus sets itself (common/config's reserved list). */
static bool header_is_reserved(const char *name)
{
    static const char *reserved[] = {
        "Authorization",
        "Host",
        "Content-Encoding",
        "Content-Length",
        "Content-Type",
        "User-Agent",
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Www-Authenticate",
        "Accept-Encoding",
        "X-Prometheus-Remote-Write-Version",
        "X-Prometheus-Remote-Read-Version",
        "X-Prometheus-Scrape-Timeout-Seconds",
        "X-Amz-Date",
        "X-Amz-Security-Token",
        "X-Amz-Content-Sha256",
    };
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++)
        if (strcasecmp(name, reserved[i]) == 0)
            return true;
    return false;
}

static int dec_http_header(struct ydec *d, const struct ynode *k, const struct ynode *v,
                           struct prom_http_header *h)
{
    h->name = xstrdup(k->s);
    if (header_is_reserved(k->s))
        return ydec_fail(d, k, "setting header \"%s\" is not allowed", k->s);
    size_t old = ydec_push_field(d, k->s);
    if (ydec_map(d, v, header_fields, h, NULL) < 0)
        return -1;
    for (size_t i = 0; i < h->files.n; i++)
        prom_path_resolve(prom_dec_of(d)->dir, &h->files.v[i]);
    ydec_pop(d, old);
    return 0;
}

int prom_dec_http_headers(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_http_header **v = out;
    size_t *count = (size_t *)((char *)out + sizeof(struct prom_http_header *));
    if (n->kind != YNODE_MAP)
        return ydec_fail(d, n, "expected a mapping of header names");
    *v = xcalloc(n->n ? n->n : 1, sizeof **v);
    *count = 0;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i];
        if (k->kind != YNODE_SCALAR)
            return ydec_fail(d, k, "mapping keys must be strings");
        if (dec_http_header(d, k, n->items[2 * i + 1], &(*v)[(*count)++]) < 0)
            return -1;
    }
    return 0;
}

/* ---- validation (HTTPClientConfig.Validate) ---- */

void prom_http_init(struct prom_http_client *h)
{
    memset(h, 0, sizeof *h);
    h->follow_redirects = true;
    h->enable_http2 = true;
}

/* In Alertmanager 0.25 only the first rule can fire: it has no no_proxy
 * or proxy_from_environment. */
static int proxy_validate(struct ydec *d, const struct ynode *map,
                          const struct prom_proxy_config *p, enum http_dialect dl)
{
    bool url = nonempty(p->proxy_url);
    if (p->n_connect_headers > 0 && !p->proxy_from_environment && !url)
        return http_fail(d, map, "proxy_connect_header", dl, msgs[dl].connect_header_alone);
    if (p->proxy_from_environment && url)
        return prom_fail_at(d, map, "proxy_url",
                            "if proxy_from_environment is configured, proxy_url must not be "
                            "configured");
    if (p->proxy_from_environment && nonempty(p->no_proxy))
        return prom_fail_at(d, map, "no_proxy",
                            "if proxy_from_environment is configured, no_proxy must not be "
                            "configured");
    if (!url && nonempty(p->no_proxy))
        return prom_fail_at(d, map, "no_proxy",
                            "if no_proxy is configured, proxy_url must also be configured");
    return 0;
}

/* bearer_token(_file) without `authorization`: becomes authorization. */
static void fold_bearer(struct prom_http_client *h)
{
    if (!nonempty(h->bearer_token) && !nonempty(h->bearer_token_file))
        return;
    h->authorization = xcalloc(1, sizeof *h->authorization);
    h->authorization->type = xstrdup("Bearer");
    if (nonempty(h->bearer_token))
        h->authorization->credentials = h->bearer_token, h->bearer_token = NULL;
    else
        h->authorization->credentials_file = h->bearer_token_file, h->bearer_token_file = NULL;
}

static int authorization_validate(struct ydec *d, const struct ynode *map,
                                  struct prom_http_client *h, enum http_dialect dl)
{
    struct prom_authorization *a = h->authorization;
    if (nonempty(h->bearer_token) || nonempty(h->bearer_token_file))
        return http_fail(d, map, "authorization", dl,
                         "authorization is not compatible with bearer_token & "
                         "bearer_token_file");
    if (nonempty(a->credentials) && nonempty(a->credentials_file))
        return http_fail(d, map, "authorization", dl,
                         "at most one of authorization credentials & credentials_file must be "
                         "configured");
    /* Go trims the type (strings.TrimSpace) and defaults it to Bearer. */
    const char *t = a->type ? a->type : "";
    while (isspace((unsigned char)*t))
        t++;
    size_t len = strlen(t);
    while (len > 0 && isspace((unsigned char)t[len - 1]))
        len--;
    char *type = len ? xstrndup(t, len) : xstrdup("Bearer");
    free(a->type);
    a->type = type;
    if (strcasecmp(a->type, "basic") == 0)
        return http_fail(d, map, "authorization", dl,
                         "authorization type cannot be set to \"basic\", use \"basic_auth\" "
                         "instead");
    if (h->basic_auth || h->oauth2)
        return http_fail(d, map, "authorization", dl,
                         "at most one of basic_auth, oauth2 & authorization must be configured");
    return 0;
}

static int oauth2_validate(struct ydec *d, const struct ynode *map, const struct prom_oauth2 *o,
                           enum http_dialect dl)
{
    if (!nonempty(o->client_id))
        return http_fail(d, map, "oauth2", dl, "oauth2 client_id must be configured");
    if (dl == HTTP_AM && !nonempty(o->client_secret) && !nonempty(o->client_secret_file))
        return http_fail(d, map, "oauth2", dl,
                         "either oauth2 client_secret or client_secret_file must be configured");
    if (!nonempty(o->token_url))
        return http_fail(d, map, "oauth2", dl, "oauth2 token_url must be configured");
    if (nonempty(o->client_secret) && nonempty(o->client_secret_file))
        return http_fail(d, map, "oauth2", dl, msgs[dl].secret_twice);
    const struct ynode *on = ynode_get(map, "oauth2");
    if (on) {
        size_t old = ydec_push_field(d, "oauth2");
        if (proxy_validate(d, on, &o->proxy, dl) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

static int basic_auth_validate(struct ydec *d, const struct ynode *map,
                               const struct prom_basic_auth *b, enum http_dialect dl)
{
    if (nonempty(b->username) && nonempty(b->username_file))
        return http_fail(d, map, "basic_auth", dl,
                         "at most one of basic_auth username, username_file & username_ref "
                         "must be configured");
    if (nonempty(b->password) && nonempty(b->password_file))
        return http_fail(d, map, "basic_auth", dl, msgs[dl].password_twice);
    return 0;
}

static int http_validate(struct ydec *d, const struct ynode *map, struct prom_http_client *h,
                         enum http_dialect dl)
{
    bool bearer = nonempty(h->bearer_token), bearer_file = nonempty(h->bearer_token_file);
    if (bearer && bearer_file)
        return http_fail(d, map, "bearer_token_file", dl,
                         "at most one of bearer_token & bearer_token_file must be configured");
    if ((h->basic_auth || h->oauth2) && (bearer || bearer_file))
        return http_fail(d, map, bearer ? "bearer_token" : "bearer_token_file", dl,
                         "at most one of basic_auth, oauth2, bearer_token & bearer_token_file "
                         "must be configured");
    if (h->basic_auth && basic_auth_validate(d, map, h->basic_auth, dl) < 0)
        return -1;
    if (h->authorization) {
        if (authorization_validate(d, map, h, dl) < 0)
            return -1;
    } else {
        fold_bearer(h);
    }
    if (h->oauth2) {
        if (h->basic_auth)
            return http_fail(d, map, "oauth2", dl,
                             "at most one of basic_auth, oauth2 & authorization must be "
                             "configured");
        if (oauth2_validate(d, map, h->oauth2, dl) < 0)
            return -1;
    }
    return proxy_validate(d, map, &h->proxy, dl);
}

int prom_http_validate(struct ydec *d, const struct ynode *map, struct prom_http_client *h)
{
    return http_validate(d, map, h, HTTP_PROM);
}

/* ---- Alertmanager's http_config ---- */

static const struct yfield am_client_fields[] = {
    YFIELD(struct prom_http_client, basic_auth, dec_basic_auth_am),
    YFIELD(struct prom_http_client, authorization, dec_authorization_am),
    YFIELD(struct prom_http_client, oauth2, dec_oauth2_am),
    YFIELD(struct prom_http_client, bearer_token, ydec_string),
    YFIELD(struct prom_http_client, bearer_token_file, ydec_string),
    YFIELD_NAMED("proxy_url", struct prom_http_client, proxy.proxy_url, dec_proxy_url_am),
    YFIELD_NAMED("proxy_connect_header", struct prom_http_client, proxy, dec_connect_headers_am),
    YFIELD(struct prom_http_client, tls_config, am_dec_tls_config),
    YFIELD(struct prom_http_client, follow_redirects, ydec_bool),
    YFIELD(struct prom_http_client, enable_http2, ydec_bool),
    {NULL, NULL, 0},
};

static void tls_resolve_am(const struct ydec *d, struct prom_tls_config *t)
{
    am_path_resolve(d, &t->ca_file);
    am_path_resolve(d, &t->cert_file);
    am_path_resolve(d, &t->key_file);
}

/* common 0.39's SetDirectory. */
static void http_resolve_am(const struct ydec *d, struct prom_http_client *h)
{
    tls_resolve_am(d, &h->tls_config);
    if (h->basic_auth)
        am_path_resolve(d, &h->basic_auth->password_file);
    if (h->authorization)
        am_path_resolve(d, &h->authorization->credentials_file);
    if (h->oauth2) {
        am_path_resolve(d, &h->oauth2->client_secret_file);
        tls_resolve_am(d, &h->oauth2->tls_config);
    }
}

struct prom_http_client *am_http_config_new_default(void)
{
    struct prom_http_client *h = xmalloc(sizeof *h);
    prom_http_init(h);
    return h;
}

int am_dec_http_config(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_http_client **p = out;
    am_http_config_free(*p);
    *p = am_http_config_new_default(); /* owned by *p even on failure: the caller frees all */
    if (ydec_map(d, n, am_client_fields, *p, NULL) < 0 || http_validate(d, n, *p, HTTP_AM) < 0)
        return -1;
    /* go-yaml: an explicit null zeroes the field, whatever its default. */
    if (am_field_null(n, "follow_redirects"))
        (*p)->follow_redirects = false;
    if (am_field_null(n, "enable_http2"))
        (*p)->enable_http2 = false;
    http_resolve_am(d, *p);
    return 0;
}

/* ---- free ---- */

static void proxy_free(struct prom_proxy_config *p)
{
    free(p->proxy_url);
    free(p->no_proxy);
    prom_named_lists_free(p->connect_headers, p->n_connect_headers);
}

static void oauth2_free(struct prom_oauth2 *o)
{
    if (!o)
        return;
    free(o->client_id);
    free(o->client_secret);
    free(o->client_secret_file);
    free(o->token_url);
    ystrlist_free(&o->scopes);
    ystrmap_free(&o->endpoint_params);
    prom_tls_free(&o->tls_config);
    proxy_free(&o->proxy);
    free(o);
}

void prom_http_free(struct prom_http_client *h)
{
    if (h->basic_auth) {
        free(h->basic_auth->username);
        free(h->basic_auth->username_file);
        free(h->basic_auth->password);
        free(h->basic_auth->password_file);
        free(h->basic_auth);
    }
    if (h->authorization) {
        free(h->authorization->type);
        free(h->authorization->credentials);
        free(h->authorization->credentials_file);
        free(h->authorization);
    }
    oauth2_free(h->oauth2);
    prom_tls_free(&h->tls_config);
    proxy_free(&h->proxy);
    for (size_t i = 0; i < h->n_http_headers; i++) {
        free(h->http_headers[i].name);
        ystrlist_free(&h->http_headers[i].values);
        ystrlist_free(&h->http_headers[i].secrets);
        ystrlist_free(&h->http_headers[i].files);
    }
    free(h->http_headers);
    free(h->bearer_token);
    free(h->bearer_token_file);
}

void am_http_config_free(struct prom_http_client *h)
{
    if (!h)
        return;
    prom_http_free(h);
    free(h);
}
