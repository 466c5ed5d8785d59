/* httpc.c — HTTP client settings onto a curl easy handle (see httpc.h).
 *
 * Each group of settings has its own small function; the apply runs them
 * in the order Go's client builder layers its round trippers, and collects
 * the first secret-file error it meets while still applying everything
 * else, so a missing token file fails the request where Prometheus's
 * would, with the same "unable to read" reason. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/httpc.h"
#include "util/sbuf.h"

struct apply_state {
    char *err;
    size_t errsize;
    int rc;
};

/* A secret file's content with surrounding white space trimmed
 * (prometheus/common's FileSecret), or "" and an error noted. */
static char *secret_file_read(struct apply_state *st, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        if (st->rc == 0)
            snprintf(st->err, st->errsize, "unable to read file %s", path);
        st->rc = -1;
        return xstrdup("");
    }
    struct sbuf b = SBUF_INIT;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sbuf_append(&b, buf, n);
    fclose(f);
    sbuf_append(&b, "", 0);
    size_t start = 0;
    while (start < b.len && isspace((unsigned char)b.data[start]))
        start++;
    while (b.len > start && isspace((unsigned char)b.data[b.len - 1]))
        b.data[--b.len] = '\0';
    char *s = xstrdup(b.data + start);
    sbuf_free(&b);
    return s;
}

/* The inline value, else the file's content, else "". */
static char *secret_get(struct apply_state *st, const char *inline_value, const char *file)
{
    if (file)
        return secret_file_read(st, file);
    return xstrdup(inline_value ? inline_value : "");
}

static void header_add(struct curl_slist **l, const char *name, const char *value)
{
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%s: %s", name, value);
    *l = curl_slist_append(*l, b.data);
    sbuf_free(&b);
}

static void auth_apply(CURL *e, const struct prom_http_client *hc, struct httpc_headers *h,
                       struct apply_state *st)
{
    if (hc->authorization) {
        const struct prom_authorization *a = hc->authorization;
        char *cred = secret_get(st, a->credentials, a->credentials_file);
        struct sbuf v = SBUF_INIT;
        sbuf_printf(&v, "%s %s", a->type ? a->type : "Bearer", cred);
        header_add(&h->request, "Authorization", v.data);
        sbuf_free(&v);
        free(cred);
    }
    if (hc->basic_auth) {
        const struct prom_basic_auth *ba = hc->basic_auth;
        char *user = secret_get(st, ba->username, ba->username_file);
        char *pass = secret_get(st, ba->password, ba->password_file);
        curl_easy_setopt(e, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(e, CURLOPT_USERNAME, user);
        curl_easy_setopt(e, CURLOPT_PASSWORD, pass);
        free(user);
        free(pass);
    }
}

static void headers_apply(const struct prom_http_client *hc, struct httpc_headers *h,
                          struct apply_state *st)
{
    for (size_t i = 0; i < hc->n_http_headers; i++) {
        const struct prom_http_header *hh = &hc->http_headers[i];
        for (size_t k = 0; k < hh->values.n; k++)
            header_add(&h->request, hh->name, hh->values.v[k]);
        for (size_t k = 0; k < hh->secrets.n; k++)
            header_add(&h->request, hh->name, hh->secrets.v[k]);
        for (size_t k = 0; k < hh->files.n; k++) {
            char *v = secret_file_read(st, hh->files.v[k]);
            header_add(&h->request, hh->name, v);
            free(v);
        }
    }
}

static long tls_version_min(enum prom_tls_version v)
{
    switch (v) {
    case PROM_TLS10:
        return CURL_SSLVERSION_TLSv1_0;
    case PROM_TLS11:
        return CURL_SSLVERSION_TLSv1_1;
    case PROM_TLS13:
        return CURL_SSLVERSION_TLSv1_3;
    default:
        return CURL_SSLVERSION_TLSv1_2; /* prometheus/common's default minimum */
    }
}

static long tls_version_max(enum prom_tls_version v)
{
    switch (v) {
    case PROM_TLS10:
        return CURL_SSLVERSION_MAX_TLSv1_0;
    case PROM_TLS11:
        return CURL_SSLVERSION_MAX_TLSv1_1;
    case PROM_TLS12:
        return CURL_SSLVERSION_MAX_TLSv1_2;
    case PROM_TLS13:
        return CURL_SSLVERSION_MAX_TLSv1_3;
    default:
        return CURL_SSLVERSION_MAX_DEFAULT;
    }
}

static void blob_set(CURL *e, CURLoption opt, const char *pem)
{
    struct curl_blob b = {(void *)pem, strlen(pem), CURL_BLOB_COPY};
    curl_easy_setopt(e, opt, &b);
}

static void tls_apply(CURL *e, const struct prom_tls_config *tls)
{
    if (tls->ca_file)
        curl_easy_setopt(e, CURLOPT_CAINFO, tls->ca_file);
    else if (tls->ca)
        blob_set(e, CURLOPT_CAINFO_BLOB, tls->ca);
    if (tls->cert_file)
        curl_easy_setopt(e, CURLOPT_SSLCERT, tls->cert_file);
    else if (tls->cert)
        blob_set(e, CURLOPT_SSLCERT_BLOB, tls->cert);
    if (tls->key_file)
        curl_easy_setopt(e, CURLOPT_SSLKEY, tls->key_file);
    else if (tls->key)
        blob_set(e, CURLOPT_SSLKEY_BLOB, tls->key);
    if (tls->insecure_skip_verify) {
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    curl_easy_setopt(e, CURLOPT_SSLVERSION,
                     tls_version_min(tls->min_version) | tls_version_max(tls->max_version));
}

static void proxy_apply(CURL *e, const struct prom_proxy_config *p, struct httpc_headers *h)
{
    if (p->proxy_url) {
        curl_easy_setopt(e, CURLOPT_PROXY, p->proxy_url);
        if (p->no_proxy)
            curl_easy_setopt(e, CURLOPT_NOPROXY, p->no_proxy);
    } else if (!p->proxy_from_environment) {
        curl_easy_setopt(e, CURLOPT_PROXY, ""); /* ignore http_proxy and friends */
    }
    for (size_t i = 0; i < p->n_connect_headers; i++)
        for (size_t k = 0; k < p->connect_headers[i].values.n; k++)
            header_add(&h->proxy, p->connect_headers[i].name, p->connect_headers[i].values.v[k]);
    if (h->proxy) {
        curl_easy_setopt(e, CURLOPT_HEADEROPT, (long)CURLHEADER_SEPARATE);
        curl_easy_setopt(e, CURLOPT_PROXYHEADER, h->proxy);
    }
}

int httpc_config_apply(CURL *e, const struct prom_http_client *hc, struct httpc_headers *h,
                       char *err, size_t errsize)
{
    struct apply_state st = {err, errsize, 0};
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, hc->follow_redirects ? 1L : 0L);
    if (!hc->enable_http2)
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    auth_apply(e, hc, h, &st);
    headers_apply(hc, h, &st);
    tls_apply(e, &hc->tls_config);
    proxy_apply(e, &hc->proxy, h);
    return st.rc;
}

void httpc_url_apply(CURL *e, const char *url, const struct prom_http_client *hc,
                     struct httpc_headers *h)
{
    const char *sn = hc ? hc->tls_config.server_name : NULL;
    CURLU *u = sn && *sn && strncmp(url, "https://", 8) == 0 ? curl_url() : NULL;
    char *host = NULL, *port = NULL, *rewritten = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
        curl_url_set(u, CURLUPART_HOST, sn, 0) != CURLUE_OK ||
        curl_url_get(u, CURLUPART_URL, &rewritten, 0) != CURLUE_OK) {
        curl_easy_setopt(e, CURLOPT_URL, url);
    } else {
        struct sbuf b = SBUF_INIT;
        sbuf_printf(&b, "%s:%s:%s:%s", sn, port, host, port);
        h->connect_to = curl_slist_append(h->connect_to, b.data);
        sbuf_reset(&b);
        /* Go sends the URL's host (with its port when the URL has one). */
        char *explicit_port = NULL;
        curl_url_get(u, CURLUPART_PORT, &explicit_port, 0);
        sbuf_printf(&b, "Host: %s%s%s", host, explicit_port ? ":" : "",
                    explicit_port ? explicit_port : "");
        h->request = curl_slist_append(h->request, b.data);
        sbuf_free(&b);
        curl_free(explicit_port);
        curl_easy_setopt(e, CURLOPT_URL, rewritten);
        curl_easy_setopt(e, CURLOPT_CONNECT_TO, h->connect_to);
    }
    curl_free(host);
    curl_free(port);
    curl_free(rewritten);
    if (u)
        curl_url_cleanup(u);
}

void httpc_headers_free(struct httpc_headers *h)
{
    curl_slist_free_all(h->request);
    curl_slist_free_all(h->proxy);
    curl_slist_free_all(h->connect_to);
    h->request = h->proxy = NULL;
}
