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
 * the next request, as in Go.  Not done: oauth2, tls server_name, sigv4.
 *
 * Plain functions; any thread, on a handle that thread owns. */
#ifndef VIGIL_SCRAPE_HTTPC_H
#define VIGIL_SCRAPE_HTTPC_H

#include <stddef.h>

#include <curl/curl.h>

#include "conf/http_client.h"

/* Header lists a handle points at: they must outlive its transfers. */
struct httpc_headers {
    struct curl_slist *request; /* the caller appends its own, then sets CURLOPT_HTTPHEADER */
    struct curl_slist *proxy;   /* proxy_connect_header; set on the handle by the apply */
};

/* Sets the options of hc on e and appends header lines to h->request.
 * Other strings are copied by curl.  Returns 0, or -1 with err when a secret
 * file cannot be read (the rest is still applied, with an empty secret). */
int httpc_config_apply(CURL *e, const struct prom_http_client *hc, struct httpc_headers *h,
                       char *err, size_t errsize);
/* Frees both lists and empties h (for a handle that is reset or freed). */
void httpc_headers_free(struct httpc_headers *h);

#endif
