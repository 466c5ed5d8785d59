/* webauth.c — what --web.config.file asks of the web server: TLS, the
 * configured response headers, and HTTP basic authentication against
 * bcrypt hashes.
 *
 * TLS: tls_server_config (validated and translated by conf/webconfig.c)
 * becomes an http_tls (server/http/tls.c loads the certificate and key
 * then), which the HTTP server uses for connections accepted afterwards.
 * A reload builds the new one first and keeps the old on any error, so a
 * broken certificate never takes the listener down.  Whether TLS is served
 * at all is fixed at start-up, as in Prometheus: a reload that would turn
 * it on or off is refused.
 *
 * Verification follows Prometheus's exporter-toolkit: an unknown user is
 * still checked against a fixed dummy hash, so the answer takes as long as
 * for a known one; comparisons of secrets are constant-time; and verified
 * credentials are remembered (user, password, hash) so that bcrypt — tens
 * of milliseconds by design — does not run on every request of a
 * dashboard.  The cache is dropped whenever the web config is (re)loaded. */
#include <crypt.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

#define AUTH_CACHE_MAX 64
/* The toolkit's dummy hash for unknown users (bcrypt of a random string). */
#define AUTH_DUMMY_HASH "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"

struct auth_cache_entry {
    char *user, *pass, *hash;
    bool ok;
};

struct webauth {
    struct web_config *cfg;
    bool tls; /* serving TLS: decided by the first load */
    struct auth_cache_entry cache[AUTH_CACHE_MAX];
    size_t ncache, next; /* next slot to overwrite when full */
};

static bool ct_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}

static int b64_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 with padding; returns false on anything malformed. */
static bool b64_decode(const char *in, struct sbuf *out)
{
    size_t n = strlen(in);
    if (n % 4)
        return false;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++) {
            v[k] = in[i + k] == '=' && i + 4 == n && k >= 2 ? 0 : b64_value(in[i + k]);
            if (v[k] < 0)
                return false;
        }
        uint32_t w =
            (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        sbuf_putc(out, (char)(w >> 16));
        if (in[i + 2] != '=')
            sbuf_putc(out, (char)(w >> 8));
        if (in[i + 3] != '=')
            sbuf_putc(out, (char)w);
    }
    return true;
}

static bool bcrypt_ok(const char *pass, const char *hash)
{
    struct crypt_data data;
    memset(&data, 0, sizeof data);
    const char *out = crypt_r(pass, hash, &data);
    return out && out[0] != '*' && ct_equal(out, hash);
}

static void cache_put(struct webauth *a, const char *user, const char *pass, const char *hash,
                      bool ok)
{
    struct auth_cache_entry *e = &a->cache[a->ncache < AUTH_CACHE_MAX ? a->ncache++ : a->next];
    if (a->ncache == AUTH_CACHE_MAX)
        a->next = (a->next + 1) % AUTH_CACHE_MAX;
    free(e->user);
    free(e->pass);
    free(e->hash);
    *e = (struct auth_cache_entry){xstrdup(user), xstrdup(pass), xstrdup(hash), ok};
}

static bool credentials_ok(struct webauth *a, const char *user, const char *pass)
{
    const char *hash = ystrmap_get(&a->cfg->basic_auth_users, user);
    bool known = hash != NULL;
    if (!known)
        hash = AUTH_DUMMY_HASH;
    for (size_t i = 0; i < a->ncache; i++) {
        const struct auth_cache_entry *e = &a->cache[i];
        if (strcmp(e->user, user) == 0 && strcmp(e->hash, hash) == 0 && ct_equal(e->pass, pass))
            return e->ok && known;
    }
    bool ok = bcrypt_ok(pass, hash);
    cache_put(a, user, pass, hash, ok);
    return ok && known;
}

static bool basic_auth_ok(struct webauth *a, struct http_request *r)
{
    const char *h = http_request_header(r, "Authorization");
    if (!h || strncasecmp(h, "Basic ", 6) != 0)
        return false;
    struct sbuf dec = SBUF_INIT;
    bool ok = false;
    if (b64_decode(h + 6, &dec) && dec.data && memchr(dec.data, ':', dec.len) &&
        strlen(dec.data) == dec.len) {
        char *colon = strchr(dec.data, ':');
        *colon = '\0';
        ok = credentials_ok(a, dec.data, colon + 1);
    }
    sbuf_free(&dec);
    return ok;
}

static bool webauth_gate(void *ctx, struct http_request *r)
{
    struct webauth *a = ctx;
    const struct ystrmap *hs = &a->cfg->headers;
    for (size_t i = 0; i < hs->n; i++)
        http_reply_header(r, hs->keys[i], hs->values[i]);
    if (a->cfg->basic_auth_users.n == 0 || basic_auth_ok(a, r))
        return true;
    http_reply_header(r, "WWW-Authenticate", "Basic");
    http_reply(r, 401, "text/plain; charset=utf-8", "Unauthorized\n", 13);
    return false;
}

static void webauth_clear(struct webauth *a)
{
    for (size_t i = 0; i < a->ncache; i++) {
        free(a->cache[i].user);
        free(a->cache[i].pass);
        free(a->cache[i].hash);
    }
    a->ncache = a->next = 0;
    web_config_free(a->cfg);
    a->cfg = NULL;
}

static const enum http_tls_client_auth webauth_client_auth[] = {
    [WEB_CLIENT_AUTH_NONE] = HTTP_TLS_NO_CLIENT_CERT,
    [WEB_CLIENT_AUTH_REQUEST] = HTTP_TLS_REQUEST_CLIENT_CERT,
    [WEB_CLIENT_AUTH_REQUIRE_ANY] = HTTP_TLS_REQUIRE_ANY_CLIENT_CERT,
    [WEB_CLIENT_AUTH_VERIFY_IF_GIVEN] = HTTP_TLS_VERIFY_CLIENT_CERT_IF_GIVEN,
    [WEB_CLIENT_AUTH_REQUIRE_AND_VERIFY] = HTTP_TLS_REQUIRE_AND_VERIFY_CLIENT_CERT,
};

/* Loads the certificate and key that tls_server_config names. */
static struct http_tls *webauth_tls_new(const struct web_tls *t, const char *file, char *msg,
                                        size_t msglen)
{
    struct http_tls_options o = {
        .cert_file = t->cert_file,
        .key_file = t->key_file,
        .cert_pem = t->cert,
        .key_pem = t->key,
        .client_ca_file = t->client_ca_file,
        .client_ca_pem = t->client_ca,
        .client_auth = webauth_client_auth[t->client_auth],
        .min_version = t->min_version,
        .max_version = t->max_version,
        .ciphers = t->ciphers,
        .groups = t->curves,
        .prefer_server_ciphers = t->prefer_server_cipher_suites,
        .allowed_sans = (const char *const *)t->client_allowed_sans.v,
        .nallowed_sans = t->client_allowed_sans.n,
    };
    char err[768];
    struct http_tls *tls = http_tls_new(&o, err, sizeof err);
    if (!tls)
        snprintf(msg, msglen, "%s: tls_server_config: %s", file, err);
    return tls;
}

int server_webauth_load(struct vigil_server *s, char *msg, size_t msglen)
{
    const char *file = s->flags.web_config_file;
    if (!file[0])
        return 0;
    struct web_config *wc;
    struct conf_error err = {{0}};
    if (web_config_load_file(file, &wc, &err) < 0) {
        snprintf(msg, msglen, "%s", err.msg);
        return -1;
    }
    if (s->webauth && s->webauth->tls != (wc->tls != NULL)) {
        snprintf(msg, msglen, "%s: tls_server_config: turning TLS %s needs a restart", file,
                 wc->tls ? "on" : "off");
        web_config_free(wc);
        return -1;
    }
    struct http_tls *tls = NULL;
    if (wc->tls && !(tls = webauth_tls_new(wc->tls, file, msg, msglen))) {
        web_config_free(wc);
        return -1;
    }
    if (!s->webauth)
        s->webauth = xcalloc(1, sizeof *s->webauth);
    webauth_clear(s->webauth);
    s->webauth->cfg = wc;
    s->webauth->tls = tls != NULL;
    if (s->http) {
        http_server_set_gate(s->http, webauth_gate, s->webauth);
        if (tls)
            http_server_set_tls(s->http, tls);
    } else {
        http_tls_free(tls);
    }
    return 0;
}

bool server_webauth_tls(const struct vigil_server *s)
{
    return s->webauth && s->webauth->tls;
}

void server_webauth_free(struct vigil_server *s)
{
    if (!s->webauth)
        return;
    webauth_clear(s->webauth);
    free(s->webauth);
    s->webauth = NULL;
}
