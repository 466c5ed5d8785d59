/* webconfig.c — the --web.config.file format (Prometheus's exporter-toolkit
 * web configuration): basic_auth_users (user -> bcrypt hash),
 * http_server_config.headers (added to every response), and
 * tls_server_config.
 *
 * Everything is validated as the toolkit validates it: unknown fields are
 * errors, only the security headers it knows may be set, and every password
 * must be a bcrypt hash.  TLS is parsed so that a file using it
 * loads, but Vigil does not serve TLS yet: web_config.tls says so and the
 * server refuses to start rather than serve plain HTTP to clients that
 * expect TLS. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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
    char **strs[] = {&t->cert_file, &t->key_file,    &t->client_auth_type, &t->client_ca_file,
                     &t->min_version, &t->max_version, &t->cert, &t->key, &t->client_ca};
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
        free(*strs[i]);
    ystrlist_free(&t->cipher_suites);
    ystrlist_free(&t->curve_preferences);
    ystrlist_free(&t->client_allowed_sans);
}

/* The only headers the toolkit lets a config set. */
static const char *const allowed_headers[] = {"Strict-Transport-Security", "X-Content-Type-Options",
                                              "X-Frame-Options", "X-XSS-Protection",
                                              "Content-Security-Policy", NULL};

static int web_validate(struct ydec *d, const struct ynode *root, struct web_raw *w)
{
    const struct ynode *users = ynode_get(root, "basic_auth_users");
    for (size_t i = 0; i < w->users.n; i++) {
        const char *h = w->users.values[i];
        if (strncmp(h, "$2a$", 4) != 0 && strncmp(h, "$2b$", 4) != 0 &&
            strncmp(h, "$2y$", 4) != 0)
            return ydec_fail(d, users, "basic_auth_users: the password of user \"%s\" is not a "
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
    bool has_tls = w->tls.cert_file || w->tls.key_file || w->tls.cert || w->tls.key;
    if (has_tls && !(w->tls.cert_file || w->tls.cert))
        return ydec_fail(d, ynode_get(root, "tls_server_config"), "missing cert_file");
    if (has_tls && !(w->tls.key_file || w->tls.key))
        return ydec_fail(d, ynode_get(root, "tls_server_config"), "missing key_file");
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
    int rc = ydec_map(&d, t.root, web_fields, &w, NULL);
    if (rc == 0)
        rc = web_validate(&d, t.root, &w);
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
    c->tls = w.tls.cert_file || w.tls.cert;
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
    free(c);
}
