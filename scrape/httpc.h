/* httpc.h — prometheus.yml's HTTP client settings applied to a libcurl easy
 * handle, for every outbound client that takes them (scrapes, alert
 * notifications).
 *
 * One function turns a loaded struct prom_http_client (conf/http_client.h)
 * into curl options and headers, the way prometheus/common's
 * NewClientFromConfig builds a Go http.Client:
 *
 *   authorization    "Authorization: <type> <credentials>" (bearer_token
 *                    and bearer_token_file arrive folded into it)
 *   basic_auth       CURLAUTH_BASIC with username / password (or their
 *                    files)
 *   http_headers     each value, secret and file content as a header line
 *   tls_config       CA, client certificate and key (file or inline PEM),
 *                    insecure_skip_verify, min_version / max_version
 *   proxy            proxy_url, no_proxy, proxy_connect_header; without
 *                    proxy_url and without proxy_from_environment no proxy is
 *                    used even if http_proxy is set, as Go's client does
 *   follow_redirects, enable_http2
 *
 * Secret files are read at every call, so a rotated token is picked up by
 * the next request, as in Go.  tls_config.server_name works as Go's
 * ServerName (SNI and certificate check) through curl's CONNECT_TO: the
 * handle asks for https://<server_name>:<port>/... but connects to the
 * URL's host, and the Host header stays the URL's.  Not done: oauth2,
 * sigv4.
 *
 * Plain functions; any thread, on a handle that thread owns. */
#ifndef VIGIL_SCRAPE_HTTPC_H
#define VIGIL_SCRAPE_HTTPC_H

#include <stddef.h>

#include <curl/curl.h>

#include "conf/http_client.h"

/* Header lists a handle points at: they must outlive its transfers. */
struct httpc_headers {
    struct curl_slist *request;    /* the caller appends its own, then sets CURLOPT_HTTPHEADER */
    struct curl_slist *proxy;      /* proxy_connect_header; set on the handle by the apply */
    struct curl_slist *connect_to; /* tls server_name's CONNECT_TO entry */
};

/* Sets the options of hc on e and appends header lines to h->request.
 * Other strings are copied by curl.  Returns 0, or -1 with err when a secret
 * file cannot be read (the rest is still applied, with an empty secret). */
int httpc_config_apply(CURL *e, const struct prom_http_client *hc, struct httpc_headers *h,
                       char *err, size_t errsize);
/* Sets the request URL on e, honouring hc's tls_config.server_name for
 * https URLs (see above; a Host header goes to h->request).  Call after
 * httpc_config_apply and before setting CURLOPT_HTTPHEADER. */
void httpc_url_apply(CURL *e, const char *url, const struct prom_http_client *hc,
                     struct httpc_headers *h);
/* Frees the lists and empties h (for a handle that is reset or freed). */
void httpc_headers_free(struct httpc_headers *h);

#endif
