/* am_http.c — `http_config` and `tls_config` as Alertmanager 0.25 reads them.
 *
 * Alertmanager 0.25 links prometheus/common 0.39, whose HTTPClientConfig is
 * smaller than what current Prometheus accepts (no proxy_from_environment,
 * no inline ca/cert/key): a field that common 0.39 does not know is an
 * error here too, which is why this is not shared with the prometheus.yml
 * loader's http client settings.
 *
 * Decoding goes through a staging struct that adds the two deprecated
 * fields, bearer_token and bearer_token_file; HTTPClientConfig.Validate then
 * runs in Go's order and, as there, turns a bearer token into an
 * `authorization` of type Bearer.  File paths are joined to the config's
 * directory (SetDirectory), for http_config only: an email tls_config is
 * left as written, as Alertmanager does. */
#include "conf/am_internal.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/sbuf.h"

/* ---- tls_config ---- */

static int dec_tls_version(struct ydec *d, const struct ynode *n, void *out)
{
    static const char *const versions[] = {"TLS10", "TLS11", "TLS12", "TLS13"};
    if (n->kind != YNODE_SCALAR)
        return ydec_fail(d, n, "expected a TLS version string");
    for (size_t i = 0; i < sizeof versions / sizeof *versions; i++) {
        if (strcmp(n->s, versions[i]) == 0)
            return ydec_string(d, n, out);
    }
    return ydec_fail(d, n, "unknown TLS version: %s", n->s);
}

static const struct yfield tls_fields[] = {
    YFIELD(struct am_tls_config, ca_file, ydec_string),
    YFIELD(struct am_tls_config, cert_file, ydec_string),
    YFIELD(struct am_tls_config, key_file, ydec_string),
    YFIELD(struct am_tls_config, server_name, ydec_string),
    YFIELD(struct am_tls_config, insecure_skip_verify, ydec_bool),
    YFIELD(struct am_tls_config, min_version, dec_tls_version),
    YFIELD(struct am_tls_config, max_version, dec_tls_version),
    {NULL, NULL, 0},
};

int am_dec_tls_config(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, tls_fields, out, NULL);
}

void am_tls_config_free(struct am_tls_config *t)
{
    free(t->ca_file);
    free(t->cert_file);
    free(t->key_file);
    free(t->server_name);
    free(t->min_version);
    free(t->max_version);
    memset(t, 0, sizeof *t);
}

static void tls_config_resolve(const struct ydec *d, struct am_tls_config *t)
{
    am_path_resolve(d, &t->ca_file);
    am_path_resolve(d, &t->cert_file);
    am_path_resolve(d, &t->key_file);
}

/* ---- basic_auth, authorization, oauth2 ---- */

static const struct yfield basic_auth_fields[] = {
    YFIELD(struct am_basic_auth, username, ydec_string),
    YFIELD(struct am_basic_auth, password, ydec_string),
    YFIELD(struct am_basic_auth, password_file, ydec_string),
    {NULL, NULL, 0},
};

static int dec_basic_auth(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_basic_auth **p = out;
    *p = xcalloc(1, sizeof **p);
    return ydec_map(d, n, basic_auth_fields, *p, NULL);
}

static const struct yfield authorization_fields[] = {
    YFIELD(struct am_authorization, type, ydec_string),
    YFIELD(struct am_authorization, credentials, ydec_string),
    YFIELD(struct am_authorization, credentials_file, ydec_string),
    {NULL, NULL, 0},
};

static int dec_authorization(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_authorization **p = out;
    *p = xcalloc(1, sizeof **p);
    return ydec_map(d, n, authorization_fields, *p, NULL);
}

static int dec_proxy_url(struct ydec *d, const struct ynode *n, void *out)
{
    if (n->kind != YNODE_SCALAR)
        return ydec_fail(d, n, "expected a URL string");
    char why[512];
    if (am_url_parse_problem(n->s, why, sizeof why))
        return ydec_fail(d, n, "%s", why);
    char **p = out;
    free(*p);
    *p = *n->s ? xstrdup(n->s) : NULL; /* "" is as good as unset */
    return 0;
}

static const struct yfield oauth2_fields[] = {
    YFIELD(struct am_oauth2, client_id, ydec_string),
    YFIELD(struct am_oauth2, client_secret, ydec_string),
    YFIELD(struct am_oauth2, client_secret_file, ydec_string),
    YFIELD(struct am_oauth2, scopes, am_dec_strlist),
    YFIELD(struct am_oauth2, token_url, ydec_string),
    YFIELD(struct am_oauth2, endpoint_params, ydec_strmap),
    YFIELD(struct am_oauth2, proxy_url, dec_proxy_url),
    YFIELD(struct am_oauth2, tls_config, am_dec_tls_config),
    {NULL, NULL, 0},
};

static int dec_oauth2(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_oauth2 **p = out;
    *p = xcalloc(1, sizeof **p);
    return ydec_map(d, n, oauth2_fields, *p, NULL);
}

/* `proxy_connect_header`: header name to a list of values. */
static int dec_proxy_connect_header(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_http_config *h = out;
    if (n->kind != YNODE_MAP)
        return ydec_fail(d, n, "expected a mapping of header names to lists");
    h->proxy_connect_header = xcalloc(n->n ? n->n : 1, sizeof *h->proxy_connect_header);
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        if (k->kind != YNODE_SCALAR)
            return ydec_fail(d, k, "header names must be strings");
        struct am_http_header *hh = &h->proxy_connect_header[h->nproxy_connect_header++];
        hh->name = xstrdup(k->s);
        size_t old = ydec_push_field(d, k->s);
        if (v->kind != YNODE_NULL && am_dec_strlist(d, v, &hh->values) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

/* ---- http_config ---- */

struct http_raw {
    struct am_http_config h;
    char *bearer_token, *bearer_token_file;
};

static const struct yfield http_fields[] = {
    YFIELD_NAMED("basic_auth", struct http_raw, h.basic_auth, dec_basic_auth),
    YFIELD_NAMED("authorization", struct http_raw, h.authorization, dec_authorization),
    YFIELD_NAMED("oauth2", struct http_raw, h.oauth2, dec_oauth2),
    YFIELD_NAMED("bearer_token", struct http_raw, bearer_token, ydec_string),
    YFIELD_NAMED("bearer_token_file", struct http_raw, bearer_token_file, ydec_string),
    YFIELD_NAMED("proxy_url", struct http_raw, h.proxy_url, dec_proxy_url),
    YFIELD_NAMED("proxy_connect_header", struct http_raw, h, dec_proxy_connect_header),
    YFIELD_NAMED("tls_config", struct http_raw, h.tls_config, am_dec_tls_config),
    YFIELD_NAMED("follow_redirects", struct http_raw, h.follow_redirects, ydec_bool),
    YFIELD_NAMED("enable_http2", struct http_raw, h.enable_http2, ydec_bool),
    {NULL, NULL, 0},
};

/* The authorization / bearer token half of HTTPClientConfig.Validate. */
static const char *http_validate_auth(struct http_raw *r)
{
    struct am_http_config *h = &r->h;
    bool bearer = am_str_set(r->bearer_token) || am_str_set(r->bearer_token_file);
    if (am_str_set(r->bearer_token) && am_str_set(r->bearer_token_file))
        return "at most one of bearer_token & bearer_token_file must be configured";
    if ((h->basic_auth || h->oauth2) && bearer)
        return "at most one of basic_auth, oauth2, bearer_token & bearer_token_file must be "
               "configured";
    if (h->basic_auth && am_str_set(h->basic_auth->password) &&
        am_str_set(h->basic_auth->password_file))
        return "at most one of basic_auth password & password_file must be configured";
    if (h->authorization) {
        struct am_authorization *a = h->authorization;
        if (bearer)
            return "authorization is not compatible with bearer_token & bearer_token_file";
        if (am_str_set(a->credentials) && am_str_set(a->credentials_file))
            return "at most one of authorization credentials & credentials_file must be "
                   "configured";
        const char *t = a->type ? a->type : "";
        while (isspace((unsigned char)*t))
            t++;
        size_t tl = strlen(t);
        while (tl && isspace((unsigned char)t[tl - 1]))
            tl--;
        char *trimmed = tl ? xstrndup(t, tl) : xstrdup("Bearer");
        free(a->type);
        a->type = trimmed;
        if (strcasecmp(a->type, "basic") == 0)
            return "authorization type cannot be set to \"basic\", use \"basic_auth\" instead";
        if (h->basic_auth || h->oauth2)
            return "at most one of basic_auth, oauth2 & authorization must be configured";
    } else if (bearer) {
        struct am_authorization *a = xcalloc(1, sizeof *a);
        a->type = xstrdup("Bearer");
        if (am_str_set(r->bearer_token))
            a->credentials = xstrdup(r->bearer_token);
        if (am_str_set(r->bearer_token_file))
            a->credentials_file = xstrdup(r->bearer_token_file);
        h->authorization = a;
    }
    return NULL;
}

static const char *http_validate(struct http_raw *r)
{
    const char *why = http_validate_auth(r);
    if (why)
        return why;
    struct am_oauth2 *o = r->h.oauth2;
    if (o) {
        if (r->h.basic_auth)
            return "at most one of basic_auth, oauth2 & authorization must be configured";
        if (!am_str_set(o->client_id))
            return "oauth2 client_id must be configured";
        if (!am_str_set(o->client_secret) && !am_str_set(o->client_secret_file))
            return "either oauth2 client_secret or client_secret_file must be configured";
        if (!am_str_set(o->token_url))
            return "oauth2 token_url must be configured";
        if (am_str_set(o->client_secret) && am_str_set(o->client_secret_file))
            return "at most one of oauth2 client_secret & client_secret_file must be configured";
    }
    if (r->h.nproxy_connect_header && !r->h.proxy_url)
        return "if proxy_connect_header is configured proxy_url must also be configured";
    return NULL;
}

static void http_config_resolve(const struct ydec *d, struct am_http_config *h)
{
    tls_config_resolve(d, &h->tls_config);
    if (h->basic_auth)
        am_path_resolve(d, &h->basic_auth->password_file);
    if (h->authorization)
        am_path_resolve(d, &h->authorization->credentials_file);
    if (h->oauth2) {
        am_path_resolve(d, &h->oauth2->client_secret_file);
        tls_config_resolve(d, &h->oauth2->tls_config);
    }
}

struct am_http_config *am_http_config_new_default(void)
{
    struct am_http_config *h = xcalloc(1, sizeof *h);
    h->follow_redirects = true;
    h->enable_http2 = true;
    return h;
}

int am_dec_http_config(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_http_config **p = out;
    struct http_raw r = {0};
    r.h.follow_redirects = true;
    r.h.enable_http2 = true;
    int rc = ydec_map(d, n, http_fields, &r, NULL);
    const char *why = rc == 0 ? http_validate(&r) : NULL;
    free(r.bearer_token);
    free(r.bearer_token_file);
    am_http_config_free(*p);
    *p = xmalloc(sizeof **p);
    **p = r.h; /* owned by *p even on failure, so the caller frees all */
    if (rc < 0)
        return -1;
    if (why)
        return ydec_fail(d, n, "%s", why);
    if (am_field_null(n, "follow_redirects"))
        (*p)->follow_redirects = false;
    if (am_field_null(n, "enable_http2"))
        (*p)->enable_http2 = false;
    http_config_resolve(d, *p);
    return 0;
}

void am_http_config_free(struct am_http_config *h)
{
    if (!h)
        return;
    if (h->basic_auth) {
        free(h->basic_auth->username);
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
    if (h->oauth2) {
        struct am_oauth2 *o = h->oauth2;
        free(o->client_id);
        free(o->client_secret);
        free(o->client_secret_file);
        free(o->token_url);
        ystrlist_free(&o->scopes);
        ystrmap_free(&o->endpoint_params);
        free(o->proxy_url);
        am_tls_config_free(&o->tls_config);
        free(o);
    }
    free(h->proxy_url);
    for (size_t i = 0; i < h->nproxy_connect_header; i++) {
        free(h->proxy_connect_header[i].name);
        ystrlist_free(&h->proxy_connect_header[i].values);
    }
    free(h->proxy_connect_header);
    am_tls_config_free(&h->tls_config);
    free(h);
}
