/* http.h — Vigil's HTTP/1.1 server (public interface).
 *
 * One `struct http_server` accepts connections on a libuv loop, parses
 * requests with llhttp, routes them by path to handlers and writes the
 * responses back, with keep-alive, pipelining, limits, timeouts, gzip and the
 * CORS behaviour of Prometheus's API.
 *
 * Threads: everything here runs on the thread that runs the server's loop.
 * Every function in this header, the request accessors and http_reply* must be
 * called on that thread; handlers and the observer are called on it.  Work
 * that blocks belongs on a worker (uv_queue_work); its after-callback, which
 * runs on the loop thread, may then call http_reply.
 *
 * Ownership: the server owns every `struct http_request`.  A handler borrows
 * it from the moment it is called until it calls http_reply (or one of its
 * variants) exactly once; the request must not be touched afterwards.  A
 * handler may return first and reply later (an asynchronous handler); the
 * server keeps the request alive until then, even if the client has gone
 * away meanwhile (the reply is then dropped).  Strings returned by the
 * accessors are borrowed from the request and live as long as it does.
 *
 * Lifecycle:
 *     s = http_server_new(loop, &opts);
 *     http_server_route(s, "GET", "/api/v1/query", false, "/api/v1/query", fn, ctx);
 *     http_server_listen(s, ":9090", err, sizeof err);
 *     ... uv_run ...
 *     http_server_shutdown(s, 5000, on_drained, arg);
 *     ... on_drained runs on the loop ...  then  http_server_free(s);
 */
#ifndef VIGIL_SERVER_HTTP_H
#define VIGIL_SERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct http_server;
struct http_request; /* owned by the server; valid until http_reply*() has been called for it */

typedef void (*http_handler_fn)(struct http_request *req, void *ctx);

/* Zero-initialise and set what you need; 0/NULL fields take the defaults. */
struct http_server_options {
    /* Request line + headers larger than this -> 431 and close.  0 = 64 KiB. */
    size_t max_header_bytes;
    /* Body (Content-Length or chunked) larger than this -> 413 and close.  0 = 32 MiB. */
    size_t max_body_bytes;
    /* Time from the first byte of a request (or from accept) to the end of its
     * headers (slowloris guard).  A partial request then gets 408 and close;
     * a connection that sent nothing is closed silently.  0 = 10000 ms. */
    uint64_t header_timeout_ms;
    /* A keep-alive connection with no request in progress is closed after
     * this long; also the longest pause allowed between reads of a request
     * body (then 408 and close).  0 = 120000 ms. */
    uint64_t idle_timeout_ms;
    /* A queued response write that does not complete within this long closes
     * the connection (the timer restarts whenever a write completes).
     * 0 = 60000 ms. */
    uint64_t write_timeout_ms;
    /* Connections beyond this many are closed as soon as they are accepted.
     * 0 = 10000. */
    size_t max_connections;
    /* NULL or "/" = none; e.g. "/prom": every route lives under it and paths
     * outside it answer 404.  Copied. */
    const char *route_prefix;
    /* NULL = no CORS headers.  Else a POSIX extended regex, anchored by the
     * server as ^(...)$, that Origin must match on /api/ paths.  ".*" answers
     * "Access-Control-Allow-Origin: *", as Prometheus does.  Copied. */
    const char *cors_origin;
};

/* Returns NULL only if opts->cors_origin is not a valid extended regex. */
struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_options *opts);

/* Starts listening on "host:port", "[::1]:port" or ":port" (all interfaces,
 * IPv6 and IPv4).  May be called more than once for several addresses.
 * Returns 0, or -1 with a message in err.  Once listen has been called (even
 * if it failed), the server must be shut down and drained before it is freed. */
int http_server_listen(struct http_server *s, const char *address, char *err, size_t errlen);

/* The port the first listener actually bound (useful when listening on
 * port 0), or -1 if none. */
int http_server_port(const struct http_server *s);

/* Registers a handler.  method "GET"/"POST"/... or NULL for any method; a
 * "GET" route also answers HEAD (the body is then not sent).  A path that
 * only routes of other methods match answers 405 with an Allow header.
 * path is relative to route_prefix; with prefix true it matches path and
 * everything under it ("/api/v1/label/" matches "/api/v1/label/job/values").
 * Exact routes win over prefix routes; the longest prefix wins.  An unknown
 * path answers 404 "404 page not found\n" (text/plain, as Go's net/http).
 * `name` is the handler label passed to the observer (e.g. "/api/v1/query").
 * All strings are copied.  Register routes before the first request. */
void http_server_route(struct http_server *s, const char *method, const char *path, bool prefix,
                       const char *name, http_handler_fn fn, void *ctx);

/* A gate every request passes before routing (authentication): return
 * true to let the request through; when it returns false it must have
 * replied (e.g. 401).  Called on the loop thread. */
typedef bool (*http_gate_fn)(void *ctx, struct http_request *r);
void http_server_set_gate(struct http_server *s, http_gate_fn fn, void *ctx);

/* Called on the loop thread after each response is fully queued (including
 * the ones the server produces itself: 404, 405, 408, 413, 431, 400):
 * handler name ("" if none matched), request method ("" if it was never
 * parsed), status, and seconds since the request's headers were complete. */
typedef void (*http_observer_fn)(void *ctx, const char *handler, const char *method, int status,
                                 double seconds);
void http_server_set_observer(struct http_server *s, http_observer_fn fn, void *ctx);

/* ---- TLS ---- */

/* Which client certificates the server asks for, as Go's tls.ClientAuthType. */
enum http_tls_client_auth {
    HTTP_TLS_NO_CLIENT_CERT,                /* never asks */
    HTTP_TLS_REQUEST_CLIENT_CERT,           /* asks; none or any, unverified */
    HTTP_TLS_REQUIRE_ANY_CLIENT_CERT,       /* requires one, unverified */
    HTTP_TLS_VERIFY_CLIENT_CERT_IF_GIVEN,   /* asks; verifies one if given */
    HTTP_TLS_REQUIRE_AND_VERIFY_CLIENT_CERT /* requires one and verifies it */
};

/* Zero-initialise and set what you need.  Strings are read during
 * http_tls_new only (files too: PEM, read then and not again). */
struct http_tls_options {
    const char *cert_file, *key_file; /* the certificate (chain) and its key; or: */
    const char *cert_pem, *key_pem;   /* the same as PEM text, used when the file is NULL */
    /* CAs that verify client certificates; none with a verifying client_auth
     * means the system's roots, as in Go. */
    const char *client_ca_file, *client_ca_pem;
    enum http_tls_client_auth client_auth;
    /* Protocol numbers: 0x0301 (TLS 1.0) .. 0x0304 (TLS 1.3).  0 = 1.2 / 1.3. */
    int min_version, max_version;
    const char *ciphers;        /* OpenSSL cipher list for TLS <= 1.2; NULL = OpenSSL's */
    const char *groups;         /* OpenSSL groups list ("X25519:P-256"); NULL = OpenSSL's */
    bool prefer_server_ciphers; /* the server's cipher order wins */
    /* When set, a client certificate must carry one of these SANs (DNS
     * name, e-mail, IP or URI, compared as text). */
    const char *const *allowed_sans;
    size_t nallowed_sans;
};

/* A TLS configuration: certificate, key and client policy, loaded once. */
struct http_tls;

/* Loads the certificate and key (and client CAs) and checks they belong
 * together.  Returns NULL with a message in err, worded as Prometheus's
 * exporter-toolkit words it ("failed to load X509KeyPair: open c.pem: no
 * such file or directory", "... private key does not match public key"). */
struct http_tls *http_tls_new(const struct http_tls_options *o, char *err, size_t errlen);
/* Drops the caller's reference; NULL is a no-op. */
void http_tls_free(struct http_tls *t);

/* Connections accepted from now on speak TLS with t (the server takes the
 * caller's reference), or plain HTTP when t is NULL.  Connections already
 * open keep the configuration they started with, which lives until the
 * last of them has closed.  Call on the loop thread, at any time. */
void http_server_set_tls(struct http_server *s, struct http_tls *t);
/* Connections dropped because their TLS handshake failed (no certificate,
 * bad certificate, protocol or cipher mismatch, plain HTTP, garbage). */
uint64_t http_server_tls_handshake_errors(const struct http_server *s);

/* Graceful shutdown: stops accepting connections and closes idle keep-alive
 * connections; a connection with a request in progress is closed once its
 * response has been written (that response says "Connection: close").
 * on_drained(arg) is called once on the loop thread when no connection is
 * left, or after timeout_ms when the rest are force-closed (timeout_ms 0:
 * force-close at once).  After on_drained, http_server_free may be called.
 * Requests whose handlers have not replied by then stay valid; their late
 * replies are dropped without touching the server. */
void http_server_shutdown(struct http_server *s, uint64_t timeout_ms, void (*on_drained)(void *arg),
                          void *arg);

/* Frees the server.  Its handles must be closed: either listen was never
 * called, or on_drained has run. */
void http_server_free(struct http_server *s);

/* Open connections, including ones being closed. */
size_t http_server_connection_count(const struct http_server *s);

/* Request accessors — all strings borrowed from the request. */
const char *http_request_method(const struct http_request *r); /* "GET", "HEAD", ... */
/* Percent-decoded, route prefix stripped; always starts with '/' ("*" for "OPTIONS *"). */
const char *http_request_path(const struct http_request *r);
const char *http_request_raw_target(const struct http_request *r); /* as sent */
/* Case-insensitive; the first header of that name, or NULL. */
const char *http_request_header(const struct http_request *r, const char *name);
/* Parameters: the URL query string merged with an application/x-www-form-
 * urlencoded POST/PUT/PATCH body, as Go's Request.ParseForm/FormValue do
 * (body values first, then query values; `+` is a space; percent-decoding).
 * Malformed encoding answers 400 before the handler is called. */
const char *http_request_param(const struct http_request *r, const char *name); /* first, or NULL */
/* Stores up to max values in vals (in order); returns how many there are in total. */
size_t http_request_param_all(const struct http_request *r, const char *name, const char **vals,
                              size_t max);
/* The raw body (chunked encoding removed); a NUL always follows its last
 * byte, and it is "" when there is none.  len may be NULL. */
const char *http_request_body(const struct http_request *r, size_t *len);
const char *http_request_remote_addr(const struct http_request *r); /* "ip:port" / "[ip6]:port" */
/* An int that turns non-zero when the client goes away while the request
 * is still being handled, so that long work (a query on a worker thread)
 * can stop early.  Written on the loop thread, readable from any thread;
 * valid until the request is replied to. */
const volatile int *http_request_gone_flag(const struct http_request *r);

/* Responding.  On the loop thread, exactly once per request; may be called
 * after the handler returned.  Responses on one connection leave in request
 * order whatever order the handlers reply in. */

/* Adds a response header; call before http_reply.  Headers whose name or
 * value contains CR or LF are dropped. */
void http_reply_header(struct http_request *r, const char *name, const char *value);
/* Copies body.  content_type NULL = no Content-Type header.  The body is
 * gzipped when the client accepts gzip and it is at least 1 KiB. */
void http_reply(struct http_request *r, int status, const char *content_type, const void *body,
                size_t len);
/* As http_reply, but takes ownership of body (malloc'd; freed by the
 * server), saving a copy of large responses. */
void http_reply_take(struct http_request *r, int status, const char *content_type, char *body,
                     size_t len);
/* As http_reply_take with the bytes of body, which is left empty. */
struct sbuf;
void http_reply_sbuf(struct http_request *r, int status, const char *content_type,
                     struct sbuf *body);
/* Prometheus API error shape, Content-Type application/json:
 * {"status":"error","errorType":"bad_data","error":"..."} */
void http_reply_json_error(struct http_request *r, int status, const char *error_type,
                           const char *message);

#endif
