/* http_internal.h — what the files of the HTTP server share.
 *
 * The module is split by the life of a request:
 *   server.c   the server: options, listeners, accepting, shutdown/drain,
 *              the cached Date header and the shared gzip stream;
 *   conn.c     one connection: reading, llhttp callbacks, the response
 *              queue that keeps pipelined responses in order, timers,
 *              closing;
 *   request.c  the request object: target, path, query and form parsing,
 *              and the public accessors;
 *   route.c    the route table and dispatch (prefix, 404/405, CORS, OPTIONS);
 *   reply.c    building responses: status line, headers, gzip, errors;
 *   tls.c      TLS configurations and each connection's TLS session
 *              (OpenSSL over memory BIOs; conn.c moves the bytes).
 *
 * Everything runs on the loop thread; nothing here is locked. */
#ifndef VIGIL_SERVER_HTTP_INTERNAL_H
#define VIGIL_SERVER_HTTP_INTERNAL_H

#include "server/http/http.h"
#include "util/sbuf.h"

#include <llhttp.h>
#include <regex.h>
#include <time.h>
#include <zlib.h>

enum {
    HTTP_READ_BUF_SIZE = 16 * 1024, /* per-connection read buffer */
    HTTP_MAX_PIPELINE = 32,         /* requests queued per connection before reading pauses */
    HTTP_GZIP_MIN = 1024,           /* smaller bodies are sent as they are */
    HTTP_LINGER_MS = 500,           /* after the last response: wait this long for the peer's FIN */
    HTTP_TLS_READ_SIZE = 64 * 1024, /* ciphertext read at once (one buffer per server) */
};

/* ---- routes (route.c) ---- */

struct http_route {
    char *method; /* owned; NULL = any */
    char *path;   /* owned, relative to the route prefix */
    size_t path_len;
    bool prefix;
    char *name; /* owned */
    http_handler_fn fn;
    void *ctx;
};

/* Routes the prepared request: answers it (404, 405, OPTIONS, 400 for bad
 * parameters) or calls its handler. */
void http_route_dispatch(struct http_request *r);
void http_routes_free(struct http_server *s);

/* ---- the server (server.c) ---- */

struct http_listener {
    uv_tcp_t tcp;
    struct http_server *srv;
    int port;
};

struct http_server {
    uv_loop_t *loop;
    struct http_server_options opts; /* defaults applied; string fields are NULL */
    char *prefix;                    /* owned; "" = none, else "/x" without trailing '/' */
    size_t prefix_len;
    bool cors_enabled;
    bool cors_any; /* cors_origin was ".*": answer "*" */
    regex_t cors_re;

    struct http_route *routes; /* owned array */
    size_t nroutes, route_cap;

    http_gate_fn gate; /* may be NULL */
    void *gate_ctx;
    http_observer_fn observer;
    void *observer_ctx;

    struct http_listener **listeners; /* owned array of owned listeners */
    size_t nlisteners;
    size_t listeners_open; /* not yet through their close callback */

    struct http_conn *conns; /* doubly-linked list of open connections */
    size_t nconns;
    /* Requests whose connection closed while their handler still ran. */
    struct http_request *detached;

    bool shutting_down;
    bool drained;
    bool drain_timer_open;
    uv_timer_t drain_timer;
    void (*on_drained)(void *arg);
    void *drain_arg;

    llhttp_settings_t parser_settings;

    time_t date_sec; /* second that `date` was formatted for */
    char date[40];   /* "Mon, 02 Jan 2006 15:04:05 GMT" */

    bool gzip_ready;
    z_stream gzip; /* reused with deflateReset */

    struct http_tls *tls; /* a reference; NULL = plain HTTP */
    char *tls_rbuf;       /* owned: HTTP_TLS_READ_SIZE bytes; libuv reads ciphertext
                             here and conn.c hands it to the connection's TLS at once */
    uint64_t tls_handshake_errors;
};

/* The Date header value for now, formatted at most once a second. */
const char *http_server_date(struct http_server *s);
void http_server_observe(struct http_server *s, struct http_request *r);
void http_server_detach(struct http_server *s, struct http_request *r);
void http_server_undetach(struct http_server *s, struct http_request *r);
void http_server_conn_gone(struct http_server *s, struct http_conn *c);

/* ---- connections (conn.c) ---- */

struct http_conn {
    uv_tcp_t tcp;
    uv_timer_t timer;
    uv_shutdown_t shutdown_req;
    struct http_server *srv;
    struct http_conn *prev, *next; /* in srv->conns */
    struct http_tls_conn *tls;     /* owned; NULL = plain HTTP */
    llhttp_t parser;
    char remote[64];

    /* Read buffer: bytes [roff, rend) are received but not yet parsed.
     * They only stay there while reading is paused. */
    char *rbuf; /* owned; allocated on the first read */
    size_t roff, rend;

    struct http_request *cur; /* being parsed (also in the queue); NULL between requests */
    struct http_request *qhead, *qtail; /* requests not yet handed to uv_write, in order */
    size_t qlen;
    size_t writes_pending; /* uv_write requests in flight */

    uint64_t header_deadline; /* loop ms: end of headers of `cur` (or first request) due */
    uint64_t body_deadline;   /* loop ms: next body bytes due */
    uint64_t write_deadline;  /* loop ms: in-flight writes due */
    uint64_t idle_deadline;   /* loop ms: idle keep-alive ends */
    uint64_t linger_deadline; /* loop ms: give up waiting for the peer's FIN */

    int handles_open; /* tcp + timer, until their close callbacks */
    bool reading;
    bool parsing;       /* inside conn_parse: no re-entry */
    bool backpressured; /* reading paused: too many requests queued */
    bool stop_parsing;  /* no more requests on this connection; input is discarded */
    bool served;        /* at least one request completed */
    bool peer_eof;
    bool draining;  /* server shutdown: close once the work in progress is written */
    bool finishing; /* final response queued: shut down, linger, close */
    bool lingering; /* final response written, our side shut down */
    bool closing;   /* uv_close called */
};

/* Creates a connection, accepts it from `listener` and starts reading.
 * Closes it at once when accept fails or the server is full. */
void http_conn_accept(struct http_server *s, uv_stream_t *listener);
/* Writes every replied request at the head of the queue. */
void http_conn_flush(struct http_conn *c);
/* Closes now (idempotent); requests in handlers are detached. */
void http_conn_close(struct http_conn *c);
/* Server shutdown: close if idle, else after the response in progress. */
void http_conn_drain(struct http_conn *c);
void http_conn_parser_settings(llhttp_settings_t *settings);

/* ---- requests (request.c) ---- */

enum http_req_state {
    HTTP_REQ_PARSING,  /* owned by its connection, still being received */
    HTTP_REQ_HANDLING, /* lent to the handler until it replies */
    HTTP_REQ_REPLIED,  /* response built, waiting for its turn to be written */
};

/* An offset pair into an arena sbuf: the arena may move while it grows, so
 * strings are found by offset, never by pointer, until it is frozen. */
struct http_kv {
    size_t name;
    size_t value;
};

struct http_request {
    struct http_server *srv;   /* NULL once the server has drained without it */
    struct http_conn *conn;    /* NULL once its connection is gone */
    struct http_request *next; /* in conn's queue, or srv->detached */
    struct http_request *prev; /* in srv->detached only */
    enum http_req_state state;
    /* Set on the loop thread when the client goes away while a handler
     * still holds the request; read by workers (http_request_gone_flag). */
    volatile int client_gone;

    /* Received.  head holds "target\0name\0value\0name\0value\0..." */
    struct sbuf head;
    struct http_kv *hdrs; /* owned */
    size_t nhdrs, hdr_cap;
    int hdr_part;       /* 0 none, 1 in a field name, 2 in a value */
    const char *method; /* static string from llhttp, or "" */
    bool headers_done;
    bool keep_alive;
    bool http10;
    bool is_head;
    bool expect_continue; /* "Expect: 100-continue" not yet answered */
    bool upgrade;
    int error_status; /* set by a parser callback that rejected the request */
    struct sbuf body;
    uint64_t t_start; /* uv_hrtime() at the end of headers */
    char remote[64];

    /* Prepared before dispatch. */
    char *path_buf;         /* owned: decoded path */
    const char *path;       /* into path_buf, route prefix stripped */
    const char *query;      /* into head, after '?'; NULL if none */
    struct sbuf form;       /* arena of decoded parameter names and values */
    struct http_kv *params; /* owned */
    size_t nparams, param_cap;
    const char *handler; /* route name or "" (borrowed from the route) */
    bool api_path;       /* path starts with /api/ */
    bool cors;           /* answer with Prometheus's CORS headers */

    /* Response. */
    int status;
    struct sbuf extra;    /* handler's headers, "Name: value\r\n" each */
    struct sbuf out_head; /* status line and headers, without Connection and the blank line */
    char *out_body;       /* owned */
    size_t out_len;
    bool send_body;
    struct sbuf tls_out; /* TLS: the response as records, what is written */
    uv_write_t write_req;
};

struct http_request *http_req_new(struct http_conn *c);
void http_req_free(struct http_request *r);
/* Splits and decodes the target.  Returns 0, or -1 if it is malformed. */
int http_req_parse_target(struct http_request *r);
/* Parses query and form body into params.  Returns 0, or -1 with a message. */
int http_req_parse_params(struct http_request *r, struct sbuf *err);
const char *http_req_str(const struct http_request *r, size_t off);

/* ---- replies (reply.c) ---- */

/* Plain-text server answer "<status> <reason>" (body given or derived). */
void http_reply_plain(struct http_request *r, int status, const char *body);
/* Completes out_head with the Connection header and the blank line. */
void http_reply_head_finish(struct http_request *r, bool close);
/* The reason phrase for a status line; "status code" when unknown. */
const char *http_status_text_or_default(int status);

/* ---- TLS sessions (tls.c) ---- */

/* One connection's TLS: an SSL over a read and a write memory BIO. */
struct http_tls_conn;

enum {
    HTTP_TLS_WANT_READ = 0, /* http_tls_conn_read: needs more ciphertext */
    HTTP_TLS_CLOSED = -1,   /* the peer sent close_notify */
    HTTP_TLS_FAILED = -2,   /* fatal: handshake or record error */
    HTTP_TLS_PLAIN_HTTP = 1 /* http_tls_conn_feed: the client speaks plain HTTP */
};

/* Holds a reference to t.  NULL if OpenSSL cannot make a session. */
struct http_tls_conn *http_tls_conn_new(struct http_tls *t);
void http_tls_conn_free(struct http_tls_conn *tc);
/* Hands received ciphertext over.  Returns 0, or HTTP_TLS_PLAIN_HTTP when
 * the connection's first bytes are a plain HTTP request line. */
int http_tls_conn_feed(struct http_tls_conn *tc, const char *data, size_t len);
/* Decrypts into buf (advancing the handshake first): bytes > 0, or
 * HTTP_TLS_WANT_READ, HTTP_TLS_CLOSED, HTTP_TLS_FAILED. */
ssize_t http_tls_conn_read(struct http_tls_conn *tc, char *buf, size_t cap);
bool http_tls_conn_established(const struct http_tls_conn *tc);
/* Appends what TLS has to send (handshake, alerts, tickets) to out. */
void http_tls_conn_pending(struct http_tls_conn *tc, struct sbuf *out);
/* Encrypts data and appends the records, with anything pending before
 * them, to out.  0, or -1 when the session has failed. */
int http_tls_conn_write(struct http_tls_conn *tc, const char *data, size_t len, struct sbuf *out);
/* Appends our close_notify to out, once, if the session is up. */
void http_tls_conn_close_notify(struct http_tls_conn *tc, struct sbuf *out);

#endif
