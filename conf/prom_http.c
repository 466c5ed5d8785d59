/* prom_http.c — the HTTP client settings inlined in scrape, alertmanager,
 * remote storage and HTTP-based SD configs (Prometheus's
 * common/config.HTTPClientConfig).
 *
 * The fields are decoded straight into `struct prom_http_client` through the
 * PROM_HTTP_FIELDS table fragment (see prom_internal.h), so the containing
 * config's ydec_map sees one flat field table, as the YAML has one flat
 * mapping.  prom_http_validate then applies Prometheus's rules: one way to
 * authenticate (basic_auth, authorization, oauth2, bearer_token[_file]),
 * inline secret or file but not both, client cert and key together, and the
 * proxy settings that only make sense together.  As in Prometheus,
 * bearer_token and bearer_token_file become an `authorization` of type
 * Bearer, so users of the struct see one representation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/prom_internal.h"
#include "util/sbuf.h"

_Static_assert(offsetof(struct prom_proxy_config, n_connect_headers) ==
                   offsetof(struct prom_proxy_config, connect_headers) + sizeof(void *),
               "prom_dec_named_lists expects the count right after the array");
_Static_assert(offsetof(struct prom_http_client, n_http_headers) ==
                   offsetof(struct prom_http_client, http_headers) + sizeof(void *),
               "prom_dec_http_headers expects the count right after the array");

static bool nonempty(const char *s)
{
    return s && *s;
}

/* ---- TLS ---- */

static int dec_tls_version(struct ydec *d, const struct ynode *n, void *out)
{
    static const char *names[] = {"", "TLS10", "TLS11", "TLS12", "TLS13"};
    if (n->kind != YNODE_SCALAR)
        return ydec_fail(d, n, "expected a TLS version");
    for (int v = PROM_TLS10; v <= PROM_TLS13; v++) {
        if (strcmp(n->s, names[v]) == 0) {
            *(enum prom_tls_version *)out = (enum prom_tls_version)v;
            return 0;
        }
    }
    return ydec_fail(d, n, "unknown TLS version: %s", n->s);
}

static const struct yfield tls_fields[] = {
    YFIELD(struct prom_tls_config, ca, ydec_string),
    YFIELD(struct prom_tls_config, ca_file, prom_dec_path),
    YFIELD(struct prom_tls_config, cert, ydec_string),
    YFIELD(struct prom_tls_config, cert_file, prom_dec_path),
    YFIELD(struct prom_tls_config, key, ydec_string),
    YFIELD(struct prom_tls_config, key_file, prom_dec_path),
    YFIELD(struct prom_tls_config, server_name, ydec_string),
    YFIELD(struct prom_tls_config, insecure_skip_verify, ydec_bool),
    YFIELD(struct prom_tls_config, min_version, dec_tls_version),
    YFIELD(struct prom_tls_config, max_version, dec_tls_version),
    {NULL, NULL, 0},
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

int prom_dec_tls(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_map(d, n, tls_fields, out, NULL) < 0)
        return -1;
    return prom_tls_validate(d, n, out);
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

/* ---- authentication ---- */

static const struct yfield basic_auth_fields[] = {
    YFIELD(struct prom_basic_auth, username, ydec_string),
    YFIELD(struct prom_basic_auth, username_file, prom_dec_path),
    YFIELD(struct prom_basic_auth, password, ydec_string),
    YFIELD(struct prom_basic_auth, password_file, prom_dec_path),
    {NULL, NULL, 0},
};

int prom_dec_basic_auth(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_basic_auth **p = out;
    if (!*p)
        *p = xcalloc(1, sizeof **p);
    return ydec_map(d, n, basic_auth_fields, *p, NULL);
}

static const struct yfield authorization_fields[] = {
    YFIELD(struct prom_authorization, type, ydec_string),
    YFIELD(struct prom_authorization, credentials, ydec_string),
    YFIELD(struct prom_authorization, credentials_file, prom_dec_path),
    {NULL, NULL, 0},
};

int prom_dec_authorization(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_authorization **p = out;
    if (!*p)
        *p = xcalloc(1, sizeof **p);
    return ydec_map(d, n, authorization_fields, *p, NULL);
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

static const struct yfield oauth2_fields[] = {
    YFIELD(struct prom_oauth2, client_id, ydec_string),
    YFIELD(struct prom_oauth2, client_secret, ydec_string),
    YFIELD(struct prom_oauth2, client_secret_file, prom_dec_path),
    YFIELD(struct prom_oauth2, scopes, ydec_strlist),
    YFIELD(struct prom_oauth2, token_url, ydec_string),
    YFIELD(struct prom_oauth2, endpoint_params, ydec_strmap),
    YFIELD(struct prom_oauth2, tls_config, prom_dec_tls),
    YFIELD_NAMED("proxy_url", struct prom_oauth2, proxy.proxy_url, prom_dec_proxy_url),
    YFIELD_NAMED("no_proxy", struct prom_oauth2, proxy.no_proxy, ydec_string),
    YFIELD_NAMED("proxy_from_environment", struct prom_oauth2, proxy.proxy_from_environment,
                 ydec_bool),
    YFIELD_NAMED("proxy_connect_header", struct prom_oauth2, proxy.connect_headers,
                 prom_dec_named_lists),
    {NULL, NULL, 0},
};

int prom_dec_oauth2(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_oauth2 **p = out;
    if (!*p)
        *p = xcalloc(1, sizeof **p);
    return ydec_map(d, n, oauth2_fields, *p, NULL);
}

/* ---- http_headers ---- */

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

/* ---- the whole client ---- */

void prom_http_init(struct prom_http_client *h)
{
    memset(h, 0, sizeof *h);
    h->follow_redirects = true;
    h->enable_http2 = true;
}

static int proxy_validate(struct ydec *d, const struct ynode *map,
                          const struct prom_proxy_config *p)
{
    bool url = nonempty(p->proxy_url);
    if (p->n_connect_headers > 0 && !p->proxy_from_environment && !url)
        return prom_fail_at(d, map, "proxy_connect_header",
                            "if proxy_connect_header is configured, proxy_url or "
                            "proxy_from_environment must also be configured");
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
                                  struct prom_http_client *h)
{
    struct prom_authorization *a = h->authorization;
    if (nonempty(h->bearer_token) || nonempty(h->bearer_token_file))
        return prom_fail_at(d, map, "authorization",
                            "authorization is not compatible with bearer_token & "
                            "bearer_token_file");
    if (nonempty(a->credentials) && nonempty(a->credentials_file))
        return prom_fail_at(d, map, "authorization",
                            "at most one of authorization credentials & credentials_file must be "
                            "configured");
    /* Go trims the type and defaults it to Bearer. */
    const char *t = a->type ? a->type : "";
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r')
        t++;
    size_t len = strlen(t);
    while (len > 0 && strchr(" \t\n\r", t[len - 1]))
        len--;
    char *type = len ? xstrndup(t, len) : xstrdup("Bearer");
    free(a->type);
    a->type = type;
    if (strcasecmp(a->type, "basic") == 0)
        return prom_fail_at(d, map, "authorization",
                            "authorization type cannot be set to \"basic\", use \"basic_auth\" "
                            "instead");
    if (h->basic_auth || h->oauth2)
        return prom_fail_at(d, map, "authorization",
                            "at most one of basic_auth, oauth2 & authorization must be configured");
    return 0;
}

static int oauth2_validate(struct ydec *d, const struct ynode *map, const struct prom_oauth2 *o)
{
    if (!nonempty(o->client_id))
        return prom_fail_at(d, map, "oauth2", "oauth2 client_id must be configured");
    if (!nonempty(o->token_url))
        return prom_fail_at(d, map, "oauth2", "oauth2 token_url must be configured");
    if (nonempty(o->client_secret) && nonempty(o->client_secret_file))
        return prom_fail_at(d, map, "oauth2",
                            "at most one of oauth2 client_secret, client_secret_file & "
                            "client_secret_ref must be configured");
    const struct ynode *on = ynode_get(map, "oauth2");
    if (on) {
        size_t old = ydec_push_field(d, "oauth2");
        if (proxy_validate(d, on, &o->proxy) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

static int basic_auth_validate(struct ydec *d, const struct ynode *map,
                               const struct prom_basic_auth *b)
{
    if (nonempty(b->username) && nonempty(b->username_file))
        return prom_fail_at(d, map, "basic_auth",
                            "at most one of basic_auth username, username_file & username_ref "
                            "must be configured");
    if (nonempty(b->password) && nonempty(b->password_file))
        return prom_fail_at(d, map, "basic_auth",
                            "at most one of basic_auth password, password_file & password_ref "
                            "must be configured");
    return 0;
}

int prom_http_validate(struct ydec *d, const struct ynode *map, struct prom_http_client *h)
{
    bool bearer = nonempty(h->bearer_token), bearer_file = nonempty(h->bearer_token_file);
    if (bearer && bearer_file)
        return prom_fail_at(d, map, "bearer_token_file",
                            "at most one of bearer_token & bearer_token_file must be configured");
    if ((h->basic_auth || h->oauth2) && (bearer || bearer_file))
        return prom_fail_at(d, map, bearer ? "bearer_token" : "bearer_token_file",
                            "at most one of basic_auth, oauth2, bearer_token & bearer_token_file "
                            "must be configured");
    if (h->basic_auth && basic_auth_validate(d, map, h->basic_auth) < 0)
        return -1;
    if (h->authorization) {
        if (authorization_validate(d, map, h) < 0)
            return -1;
    } else {
        fold_bearer(h);
    }
    if (h->oauth2) {
        if (h->basic_auth)
            return prom_fail_at(d, map, "oauth2",
                                "at most one of basic_auth, oauth2 & authorization must be "
                                "configured");
        if (oauth2_validate(d, map, h->oauth2) < 0)
            return -1;
    }
    return proxy_validate(d, map, &h->proxy);
}

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
