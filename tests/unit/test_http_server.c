/* test_http_server.c — the HTTP server, driven over real loopback sockets.
 *
 * Each test starts a server on 127.0.0.1:0 with its own libuv loop running
 * in a second thread (the "loop thread"); the test thread is the client and
 * speaks raw HTTP/1.1 over blocking POSIX sockets, so what is checked is
 * exactly what goes over the wire.  Anything that must touch the server
 * (shutdown, connection count) is run on the loop thread through
 * harness_call, which posts a function with uv_async_send and waits for it.
 *
 * Handlers: /hello (sync), /echo and /echo/ (describe the request),
 * /slow (replies from a uv_timer 100 ms later), /fast, /big (4000 bytes, for
 * gzip), /huge (16 MiB, for the write timeout), /post-only, a route-
 * precedence trio under /p/, /api/v1/query (for CORS), /named (observer). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "server/http/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* ---- the server side: a loop thread ---- */

struct harness {
    uv_loop_t loop;
    uv_async_t wake;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*call_fn)(struct harness *h, void *arg);
    void *call_arg;
    bool call_done;

    struct http_server *srv;
    int port;
    bool drained;
    uint64_t shutdown_timeout_ms;
    uint64_t slow_ms;

    /* Observer record (loop thread writes; read after harness_call). */
    int observed;
    int bad_seconds;
    char last_handler[64];
    char last_method[16];
    int last_status;
};

static void harness_on_wake(uv_async_t *a)
{
    struct harness *h = a->data;
    pthread_mutex_lock(&h->mu);
    void (*fn)(struct harness *, void *) = h->call_fn;
    void *arg = h->call_arg;
    h->call_fn = NULL;
    pthread_mutex_unlock(&h->mu);
    if (fn)
        fn(h, arg);
    pthread_mutex_lock(&h->mu);
    h->call_done = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

/* Runs fn(h, arg) on the loop thread and waits for it to return. */
static void harness_call(struct harness *h, void (*fn)(struct harness *, void *), void *arg)
{
    pthread_mutex_lock(&h->mu);
    h->call_fn = fn;
    h->call_arg = arg;
    h->call_done = false;
    uv_async_send(&h->wake);
    while (!h->call_done)
        pthread_cond_wait(&h->cv, &h->mu);
    pthread_mutex_unlock(&h->mu);
}

static void *harness_run(void *arg)
{
    struct harness *h = arg;
    uv_run(&h->loop, UV_RUN_DEFAULT);
    return NULL;
}

static void on_observe(void *ctx, const char *handler, const char *method, int status,
                       double seconds)
{
    struct harness *h = ctx;
    if (!(seconds >= 0 && seconds < 60)) /* checked by the test thread */
        h->bad_seconds++;
    h->observed++;
    snprintf(h->last_handler, sizeof h->last_handler, "%s", handler);
    snprintf(h->last_method, sizeof h->last_method, "%s", method);
    h->last_status = status;
}

/* -- handlers -- */

static void h_hello(struct http_request *r, void *ctx)
{
    (void)ctx;
    http_reply(r, 200, "text/plain", "hello\n", 6);
}

static void h_fast(struct http_request *r, void *ctx)
{
    (void)ctx;
    http_reply(r, 200, "text/plain", "fast", 4);
}

static void h_name(struct http_request *r, void *ctx)
{
    http_reply(r, 200, "text/plain", ctx, strlen(ctx));
}

static void echo_param(char *out, size_t cap, const struct http_request *r, const char *name)
{
    const char *vals[8];
    size_t n = http_request_param_all(r, name, vals, 8);
    size_t len = strlen(out);
    len += (size_t)snprintf(out + len, cap - len, "%s=", name);
    for (size_t i = 0; i < n && i < 8; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s[%s]", i ? "," : "", vals[i]);
    snprintf(out + len, cap - len, "\n");
}

/* Describes the request, one "key=value" line each. */
static void h_echo(struct http_request *r, void *ctx)
{
    (void)ctx;
    size_t blen;
    const char *body = http_request_body(r, &blen);
    const char *xt = http_request_header(r, "x-TEST");
    char *out = malloc(4096 + blen);
    snprintf(out, 4096, "method=%s\npath=%s\ntarget=%s\nx-test=%s\nremote=%s\nbodylen=%zu\n",
             http_request_method(r), http_request_path(r), http_request_raw_target(r),
             xt ? xt : "(none)", http_request_remote_addr(r), blen);
    echo_param(out, 4096, r, "a");
    echo_param(out, 4096, r, "b");
    echo_param(out, 4096, r, "c");
    size_t len = strlen(out);
    memcpy(out + len, "body=", 5);
    memcpy(out + len + 5, body, blen);
    http_reply_header(r, "X-Echo", "yes");
    http_reply_header(r, "X-Bad", "evil\r\nInjected: 1"); /* must be dropped */
    http_reply_take(r, 200, "text/plain", out, len + 5 + blen);
}

struct slow_reply {
    uv_timer_t timer;
    struct http_request *req;
};

static void slow_on_closed(uv_handle_t *h)
{
    free(h->data);
}

static void slow_on_timer(uv_timer_t *t)
{
    struct slow_reply *s = t->data;
    http_reply(s->req, 200, "text/plain", "slow", 4);
    uv_close((uv_handle_t *)&s->timer, slow_on_closed);
}

/* Replies later, from a timer: an asynchronous handler. */
static void h_slow(struct http_request *r, void *ctx)
{
    struct harness *h = ctx;
    struct slow_reply *s = calloc(1, sizeof *s);
    s->req = r;
    uv_timer_init(&h->loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, slow_on_timer, h->slow_ms, 0);
}

static char big_body[4000];

static void h_big(struct http_request *r, void *ctx)
{
    (void)ctx;
    http_reply(r, 200, "text/plain", big_body, sizeof big_body);
}

static void h_huge(struct http_request *r, void *ctx)
{
    (void)ctx;
    size_t n = 16u << 20;
    char *b = malloc(n);
    memset(b, 'x', n);
    http_reply_take(r, 200, "application/octet-stream", b, n);
}

static void h_api(struct http_request *r, void *ctx)
{
    (void)ctx;
    const char *q = http_request_param(r, "query");
    if (!q) {
        http_reply_json_error(r, 400, "bad_data", "missing \"query\"");
        return;
    }
    http_reply(r, 200, "application/json", "{\"status\":\"success\"}", 20);
}

static void harness_routes(struct harness *h)
{
    struct http_server *s = h->srv;
    http_server_route(s, "GET", "/hello", false, "/hello", h_hello, h);
    http_server_route(s, NULL, "/echo", false, "/echo", h_echo, h);
    http_server_route(s, NULL, "/echo/", true, "/echo/", h_echo, h);
    http_server_route(s, "GET", "/slow", false, "/slow", h_slow, h);
    http_server_route(s, "GET", "/fast", false, "/fast", h_fast, h);
    http_server_route(s, "GET", "/big", false, "/big", h_big, h);
    http_server_route(s, "GET", "/huge", false, "/huge", h_huge, h);
    http_server_route(s, "POST", "/post-only", false, "/post-only", h_hello, h);
    http_server_route(s, "PUT", "/post-only", false, "/post-only", h_hello, h);
    http_server_route(s, "GET", "/p/", true, "p", h_name, "p");
    http_server_route(s, "GET", "/p/q/", true, "pq", h_name, "pq");
    http_server_route(s, "GET", "/p/q/x", false, "exact", h_name, "exact");
    http_server_route(s, "GET", "/", false, "/", h_name, "root");
    http_server_route(s, "GET", "/api/v1/query", false, "/api/v1/query", h_api, h);
    http_server_route(s, "POST", "/api/v1/query", false, "/api/v1/query", h_api, h);
}

static struct harness *harness_start(const struct http_server_options *opts)
{
    struct harness *h = calloc(1, sizeof *h);
    h->shutdown_timeout_ms = 5000;
    h->slow_ms = 100;
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    struct http_server_options def = {0};
    h->srv = http_server_new(&h->loop, opts ? opts : &def);
    assert_non_null(h->srv);
    http_server_set_observer(h->srv, on_observe, h);
    harness_routes(h);
    char err[256];
    int rc = http_server_listen(h->srv, "127.0.0.1:0", err, sizeof err);
    if (rc != 0)
        fail_msg("listen: %s", err);
    h->port = http_server_port(h->srv);
    assert_true(h->port > 0);
    uv_async_init(&h->loop, &h->wake, harness_on_wake);
    h->wake.data = h;
    assert_int_equal(pthread_create(&h->thread, NULL, harness_run, h), 0);
    return h;
}

static void harness_on_drained(void *arg)
{
    struct harness *h = arg;
    h->drained = true;
    uv_close((uv_handle_t *)&h->wake, NULL);
}

static void harness_shutdown_fn(struct harness *h, void *arg)
{
    (void)arg;
    http_server_shutdown(h->srv, h->shutdown_timeout_ms, harness_on_drained, h);
}

/* Starts a graceful shutdown and returns at once (the loop keeps running). */
static void harness_shutdown_begin(struct harness *h)
{
    harness_call(h, harness_shutdown_fn, NULL);
}

/* Waits for the loop to finish after the drain, then frees everything. */
static void harness_join(struct harness *h)
{
    pthread_join(h->thread, NULL);
    assert_true(h->drained);
    http_server_free(h->srv);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

static void harness_stop(struct harness *h)
{
    harness_shutdown_begin(h);
    harness_join(h);
}

static void count_fn(struct harness *h, void *arg)
{
    *(size_t *)arg = http_server_connection_count(h->srv);
}

static size_t harness_conn_count(struct harness *h)
{
    size_t n = 0;
    harness_call(h, count_fn, &n);
    return n;
}

/* Polls until the server has `want` connections or about 3 s pass. */
static size_t harness_conn_wait(struct harness *h, size_t want)
{
    size_t n = 0;
    for (int i = 0; i < 300; i++) {
        n = harness_conn_count(h);
        if (n == want)
            break;
        usleep(10000);
    }
    return n;
}

static void observed_fn(struct harness *h, void *arg)
{
    memcpy(arg, &h->observed, sizeof h->observed);
}

/* ---- the client side ---- */

struct client {
    int fd;
    char buf[1 << 16];
    size_t len; /* unread bytes in buf */
};

struct resp {
    int status;
    char head[16384];
    char *body;
    size_t body_len;
};

static struct client *client_open(int port)
{
    struct client *c = calloc(1, sizeof *c);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(c->fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {5, 0};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return c;
}

static void client_close(struct client *c)
{
    close(c->fd);
    free(c);
}

static void client_send(struct client *c, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        assert_true(n > 0);
        data += n;
        len -= (size_t)n;
    }
}

static void client_sends(struct client *c, const char *s)
{
    client_send(c, s, strlen(s));
}

/* Reads more into buf; returns bytes read, 0 on EOF/reset, -1 on timeout. */
static ssize_t client_fill(struct client *c)
{
    if (c->len == sizeof c->buf)
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return -1;
    if (n <= 0)
        return 0;
    c->len += (size_t)n;
    return n;
}

static void client_consume(struct client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* A response header's value (first), copied into out; false if absent. */
static bool resp_header(const struct resp *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    const char *p = strstr(r->head, "\r\n");
    while (p && p[2] != '\r' && p[2] != '\0') {
        p += 2;
        const char *e = strstr(p, "\r\n");
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ')
                v++;
            size_t vl = (size_t)(e - v) < cap - 1 ? (size_t)(e - v) : cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return true;
        }
        p = e;
    }
    return false;
}

static bool resp_has(const struct resp *r, const char *name)
{
    char tmp[512];
    return resp_header(r, name, tmp, sizeof tmp);
}

/* Reads one response; for a HEAD request no body follows the headers.
 * Returns false on EOF before a response. */
static bool client_read(struct client *c, struct resp *r, bool head_request)
{
    memset(r, 0, sizeof *r);
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4))) {
        ssize_t n = client_fill(c);
        if (n == 0)
            return false;
        assert_true(n > 0); /* not a timeout */
    }
    size_t hlen = (size_t)(end - c->buf) + 4;
    assert_true(hlen < sizeof r->head);
    memcpy(r->head, c->buf, hlen);
    r->head[hlen] = '\0';
    client_consume(c, hlen);
    assert_int_equal(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1);
    char cl[32];
    size_t want = 0;
    if (!head_request && resp_header(r, "Content-Length", cl, sizeof cl))
        want = (size_t)strtoull(cl, NULL, 10);
    r->body = malloc(want + 1);
    while (r->body_len < want) {
        if (c->len == 0)
            assert_true(client_fill(c) > 0);
        size_t take = c->len < want - r->body_len ? c->len : want - r->body_len;
        memcpy(r->body + r->body_len, c->buf, take);
        r->body_len += take;
        client_consume(c, take);
    }
    r->body[r->body_len] = '\0';
    return true;
}

static void resp_free(struct resp *r)
{
    free(r->body);
    r->body = NULL;
}

/* True if the server closes the connection (EOF or reset) within ~5 s. */
static bool client_expect_eof(struct client *c)
{
    for (;;) {
        c->len = 0;
        ssize_t n = client_fill(c);
        if (n == 0)
            return true;
        if (n < 0)
            return false;
    }
}

/* One request on a fresh connection. */
static void roundtrip(struct harness *h, const char *req, struct resp *r)
{
    struct client *c = client_open(h->port);
    client_sends(c, req);
    assert_true(client_read(c, r, strncmp(req, "HEAD ", 5) == 0));
    client_close(c);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests ---- */

static void test_get_basic(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    struct resp r;
    char v[256];
    roundtrip(h, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello\n");
    assert_true(resp_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/plain");
    assert_true(resp_header(&r, "Content-Length", v, sizeof v));
    assert_string_equal(v, "6");
    assert_true(resp_header(&r, "Date", v, sizeof v));
    assert_true(strlen(v) == 29 && strcmp(v + 25, " GMT") == 0);
    assert_false(resp_has(&r, "Connection"));
    assert_false(resp_has(&r, "Content-Encoding"));
    resp_free(&r);

    /* Headers are case-insensitive; handler headers are sent, injected ones dropped. */
    roundtrip(h, "GET /echo HTTP/1.1\r\nHost: x\r\nX-Test: one\r\nx-test: two\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "x-test=one\n"));
    assert_non_null(strstr(r.body, "remote=127.0.0.1:"));
    assert_true(resp_header(&r, "X-Echo", v, sizeof v));
    assert_false(resp_has(&r, "X-Bad"));
    assert_false(resp_has(&r, "Injected"));
    resp_free(&r);

    /* HEAD: GET route, headers with the body's length, no body. */
    struct client *c = client_open(h->port);
    client_sends(c, "HEAD /big HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(client_read(c, &r, true));
    assert_int_equal(r.status, 200);
    assert_true(resp_header(&r, "Content-Length", v, sizeof v));
    assert_string_equal(v, "4000");
    resp_free(&r);
    assert_true(client_read(c, &r, false)); /* the next response follows at once */
    assert_string_equal(r.body, "hello\n");
    resp_free(&r);
    client_close(c);
    harness_stop(h);
}

static void test_post_form_merge(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    struct resp r;
    const char *body = "a=body1&b=x+y%21&a=body2&&c";
    char req[512];
    snprintf(req, sizeof req,
             "POST /echo?a=query1&c=%%41%%42 HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    roundtrip(h, req, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "method=POST\n"));
    /* Body values first, then query values. */
    assert_non_null(strstr(r.body, "a=[body1],[body2],[query1]\n"));
    assert_non_null(strstr(r.body, "b=[x y!]\n"));
    assert_non_null(strstr(r.body, "c=[],[AB]\n"));
    resp_free(&r);

    /* Other content types are not parsed as forms. */
    snprintf(req, sizeof req,
             "POST /echo?a=q HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\n"
             "Content-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    roundtrip(h, req, &r);
    assert_non_null(strstr(r.body, "a=[q]\n"));
    resp_free(&r);

    /* A GET's body is not a form either. */
    snprintf(req, sizeof req,
             "GET /echo HTTP/1.1\r\nHost: x\r\n"
             "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\na=1");
    roundtrip(h, req, &r);
    assert_non_null(strstr(r.body, "a=\n"));
    resp_free(&r);

    /* A 1 MiB body arrives whole. */
    size_t n = 1 << 20;
    char *big = malloc(n + 256);
    int hl = snprintf(big, 256, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
    memset(big + hl, 'z', n);
    struct client *c = client_open(h->port);
    client_send(c, big, (size_t)hl + n);
    assert_true(client_read(c, &r, false));
    assert_non_null(strstr(r.body, "bodylen=1048576\n"));
    resp_free(&r);
    client_close(c);
    free(big);
    harness_stop(h);
}

static void test_percent_decoding(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    struct resp r;
    char v[128];
    roundtrip(h, "GET /echo/a%20b%2Fc+d?a=%41%42+c&b=%e2%82%ac HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "path=/echo/a b/c+d\n"));
    assert_non_null(strstr(r.body, "target=/echo/a%20b%2Fc+d?a=%41%42+c&b=%e2%82%ac\n"));
    assert_non_null(strstr(r.body, "a=[AB c]\n"));
    assert_non_null(strstr(r.body, "b=[\xe2\x82\xac]\n"));
    resp_free(&r);

    /* Malformed query escape: 400 before the handler; JSON on API paths. */
    roundtrip(h, "GET /echo?a=%zz HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "invalid URL escape \"%zz\""));
    resp_free(&r);
    roundtrip(h, "GET /api/v1/query?query=up&x=%4 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 400);
    assert_true(resp_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "application/json");
    assert_string_equal(r.body, "{\"status\":\"error\",\"errorType\":\"bad_data\","
                                "\"error\":\"error parsing form values: invalid URL escape "
                                "\\\"%4\\\"\"}");
    resp_free(&r);
    roundtrip(h, "GET /echo?a=1;b=2 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 400);
    resp_free(&r);

    /* Malformed path escape: 400 and close, as Go. */
    struct client *c = client_open(h->port);
    client_sends(c, "GET /echo/%zz HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body, "400 Bad Request");
    assert_true(resp_header(&r, "Connection", v, sizeof v));
    assert_string_equal(v, "close");
    resp_free(&r);
    assert_true(client_expect_eof(c));
    client_close(c);

    /* Absolute-form target. */
    roundtrip(h, "GET http://example.com/echo?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "path=/echo\n"));
    resp_free(&r);
    harness_stop(h);
}

static void test_not_found_and_method(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    struct resp r;
    char v[128];
    roundtrip(h, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "404 page not found\n");
    assert_true(resp_header(&r, "Content-Type", v, sizeof v));
    assert_string_equal(v, "text/plain; charset=utf-8");
    resp_free(&r);

    roundtrip(h, "GET /post-only HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 405);
    assert_true(resp_header(&r, "Allow", v, sizeof v));
    assert_string_equal(v, "POST, PUT");
    assert_string_equal(r.body, "Method Not Allowed\n");
    resp_free(&r);
    roundtrip(h, "DELETE /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 405);
    assert_true(resp_header(&r, "Allow", v, sizeof v));
    assert_string_equal(v, "GET, HEAD");
    resp_free(&r);
    roundtrip(h, "DELETE /api/v1/query HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 405);
    assert_true(resp_header(&r, "Allow", v, sizeof v));
    assert_string_equal(v, "GET, POST, HEAD, OPTIONS");
    resp_free(&r);
    roundtrip(h, "POST /post-only HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* Precedence: exact over prefix, longest prefix first; a prefix "/p/" does
     * not match "/px". */
    roundtrip(h, "GET /p/q/x HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_string_equal(r.body, "exact");
    resp_free(&r);
    roundtrip(h, "GET /p/q/y/z HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_string_equal(r.body, "pq");
    resp_free(&r);
    roundtrip(h, "GET /p/other HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_string_equal(r.body, "p");
    resp_free(&r);
    roundtrip(h, "GET /px HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    roundtrip(h, "GET /echo/ HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    harness_stop(h);
}

static void test_keepalive_1000(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    struct client *c = client_open(h->port);
    struct resp r;
    for (int i = 0; i < 1000; i++) {
        char req[128];
        snprintf(req, sizeof req, "GET /echo?a=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        client_sends(c, req);
        assert_true(client_read(c, &r, false));
        assert_int_equal(r.status, 200);
        char want[32];
        snprintf(want, sizeof want, "a=[%d]\n", i);
        assert_non_null(strstr(r.body, want));
        resp_free(&r);
    }
    assert_int_equal(harness_conn_count(h), 1);

    /* Connection: close is honoured. */
    char v[64];
    client_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert_true(client_read(c, &r, false));
    assert_true(resp_header(&r, "Connection", v, sizeof v));
    assert_string_equal(v, "close");
    resp_free(&r);
    assert_true(client_expect_eof(c));
    client_close(c);

    /* A client that half-closes after its requests still gets the answers. */
    c = client_open(h->port);
    client_sends(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    shutdown(c->fd, SHUT_WR);
    assert_true(client_read(c, &r, false));
    assert_string_equal(r.body, "slow");
    resp_free(&r);
    assert_true(client_read(c, &r, false));
    assert_string_equal(r.body, "hello\n");
    resp_free(&r);
    assert_true(client_expect_eof(c));
    client_close(c);

    /* HTTP/1.0 closes by default... */
    c = client_open(h->port);
    client_sends(c, "GET /hello HTTP/1.0\r\n\r\n");
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    assert_true(client_expect_eof(c));
    client_close(c);

    /* ...unless keep-alive is asked for. */
    c = client_open(h->port);
    for (int i = 0; i < 3; i++) {
        client_sends(c, "GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_true(client_read(c, &r, false));
        assert_int_equal(r.status, 200);
        assert_true(resp_header(&r, "Connection", v, sizeof v));
        assert_string_equal(v, "keep-alive");
        resp_free(&r);
    }
    client_close(c);
    harness_stop(h);
}

static void test_pipelining_order(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    struct client *c = client_open(h->port);
    struct resp r;
    /* The slow handler replies 100 ms later, after the fast ones have. */
    client_sends(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                    "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    const char *want[] = {"slow", "fast", "slow", "hello\n"};
    for (int i = 0; i < 4; i++) {
        assert_true(client_read(c, &r, false));
        assert_int_equal(r.status, 200);
        assert_string_equal(r.body, want[i]);
        resp_free(&r);
    }

    /* Many pipelined requests in one write (more than are queued at once). */
    char *many = malloc(100 * 64);
    size_t len = 0;
    for (int i = 0; i < 100; i++)
        len += (size_t)sprintf(many + len, "GET /echo?a=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
    client_send(c, many, len);
    free(many);
    for (int i = 0; i < 100; i++) {
        char w[32];
        snprintf(w, sizeof w, "a=[%d]\n", i);
        assert_true(client_read(c, &r, false));
        assert_non_null(strstr(r.body, w));
        resp_free(&r);
    }

    /* More asynchronous requests than the server queues per connection
     * (reading pauses, then resumes): still answered in order. */
    h->slow_ms = 20;
    char *slow = malloc(41 * 64);
    len = 0;
    for (int i = 0; i < 40; i++)
        len += (size_t)sprintf(slow + len, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    len += (size_t)sprintf(slow + len, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    client_send(c, slow, len);
    free(slow);
    for (int i = 0; i < 41; i++) {
        assert_true(client_read(c, &r, false));
        assert_string_equal(r.body, i < 40 ? "slow" : "fast");
        resp_free(&r);
    }

    /* A chunked request body, pipelined with a normal request. */
    client_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
                    "4\r\na=ch\r\n6\r\nunked!\r\n0\r\n\r\n"
                    "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(client_read(c, &r, false));
    assert_non_null(strstr(r.body, "a=[chunked!]\n"));
    assert_non_null(strstr(r.body, "bodylen=10\n"));
    resp_free(&r);
    assert_true(client_read(c, &r, false));
    assert_string_equal(r.body, "fast");
    resp_free(&r);
    client_close(c);
    harness_stop(h);
}

static void test_expect_continue(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    struct client *c = client_open(h->port);
    struct resp r;
    client_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                    "Content-Length: 5\r\n\r\n");
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 100);
    resp_free(&r);
    client_sends(c, "hello");
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "body=hello"));
    resp_free(&r);
    client_close(c);
    harness_stop(h);
}

static void test_limits(void **state)
{
    (void)state;
    struct http_server_options o = {.max_header_bytes = 1024, .max_body_bytes = 1000};
    struct harness *h = harness_start(&o);
    struct resp r;
    char v[64];

    /* 431: a header block over the limit. */
    char *req = malloc(4096);
    snprintf(req, 4096, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: %02000d\r\n\r\n", 7);
    struct client *c = client_open(h->port);
    client_sends(c, req);
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 431);
    assert_string_equal(r.body, "431 Request Header Fields Too Large");
    assert_true(resp_header(&r, "Connection", v, sizeof v));
    assert_string_equal(v, "close");
    resp_free(&r);
    assert_true(client_expect_eof(c));
    client_close(c);
    /* Just under the limit is fine. */
    snprintf(req, 4096, "GET /hello HTTP/1.1\r\nHost: x\r\nX-Big: %0900d\r\n\r\n", 7);
    roundtrip(h, req, &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);

    /* 413: Content-Length over the limit, answered before the body is read. */
    c = client_open(h->port);
    client_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n");
    char body[5000];
    memset(body, 'b', sizeof body);
    client_send(c, body, sizeof body);
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 413);
    resp_free(&r);
    assert_true(client_expect_eof(c));
    client_close(c);
    /* 413: chunked over the limit. */
    c = client_open(h->port);
    client_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 3; i++) {
        client_sends(c, "1f4\r\n");
        client_send(c, body, 500);
        client_sends(c, "\r\n");
    }
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 413);
    resp_free(&r);
    assert_true(client_expect_eof(c));
    client_close(c);
    /* Exactly the limit is fine. */
    c = client_open(h->port);
    client_sends(c, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n");
    client_send(c, body, 1000);
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    client_close(c);

    /* 400: garbage request line, and a bad header. */
    const char *bad[] = {"GARBAGE\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
                         "GET / HTTP/9.9\r\n\r\n", "\x01\x02\x03\xff\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        c = client_open(h->port);
        client_sends(c, bad[i]);
        assert_true(client_read(c, &r, false));
        assert_int_equal(r.status, 400);
        assert_string_equal(r.body, "400 Bad Request");
        resp_free(&r);
        assert_true(client_expect_eof(c));
        client_close(c);
    }
    /* An error after a good pipelined request: the good answer comes first. */
    c = client_open(h->port);
    client_sends(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n");
    assert_true(client_read(c, &r, false));
    assert_string_equal(r.body, "slow");
    resp_free(&r);
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 400);
    resp_free(&r);
    assert_true(client_expect_eof(c));
    client_close(c);

    /* Random bytes never take the server down. */
    srand(42);
    for (int i = 0; i < 20; i++) {
        char junk[700];
        for (size_t j = 0; j < sizeof junk; j++)
            junk[j] = (char)(rand() & 0xff);
        c = client_open(h->port);
        if (i % 2)
            client_sends(c, "GET /hello HTTP/1.1\r\n");
        client_send(c, junk, sizeof junk);
        client_expect_eof(c);
        client_close(c);
    }
    roundtrip(h, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    resp_free(&r);
    free(req);
    harness_stop(h);
}

static void test_timeouts(void **state)
{
    (void)state;
    struct http_server_options o = {
        .header_timeout_ms = 200, .idle_timeout_ms = 300, .write_timeout_ms = 300};
    struct harness *h = harness_start(&o);
    struct resp r;

    /* 408: headers never finished (slowloris). */
    double t0 = now_s();
    struct client *c = client_open(h->port);
    client_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n");
    usleep(50000);
    client_sends(c, "X-Slow: 1\r\n"); /* trickling does not extend the deadline */
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 408);
    resp_free(&r);
    assert_true(client_expect_eof(c));
    double took = now_s() - t0;
    assert_true(took >= 0.15 && took < 2.0);
    client_close(c);

    /* A connection that sends nothing is closed after the header timeout. */
    c = client_open(h->port);
    assert_true(client_expect_eof(c));
    assert_int_equal(c->len, 0);
    client_close(c);

    /* An idle keep-alive connection is closed after the idle timeout... */
    c = client_open(h->port);
    client_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(client_read(c, &r, false));
    resp_free(&r);
    t0 = now_s();
    assert_true(client_expect_eof(c));
    took = now_s() - t0;
    assert_true(took >= 0.2 && took < 2.0);
    client_close(c);

    /* ...but one that keeps working is not. */
    c = client_open(h->port);
    for (int i = 0; i < 5; i++) {
        client_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_true(client_read(c, &r, false));
        assert_int_equal(r.status, 200);
        resp_free(&r);
        usleep(100000);
    }
    client_close(c);

    /* Write timeout: a client that does not read a 16 MiB response. */
    c = client_open(h->port);
    int small = 4096;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    client_sends(c, "GET /huge HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(100000);
    assert_int_equal(harness_conn_count(h), 1);
    assert_int_equal(harness_conn_wait(h, 0), 0);
    client_close(c);
    harness_stop(h);
}

static int inflate_gzip(const char *in, size_t len, char *out, size_t cap, size_t *outlen)
{
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return -1;
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = inflate(&z, Z_FINISH);
    *outlen = cap - z.avail_out;
    inflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

static void test_gzip(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof big_body; i++)
        big_body[i] = "abcdefgh\n"[i % 9];
    struct harness *h = harness_start(NULL);
    struct resp r;
    char v[128];
    for (int round = 0; round < 2; round++) { /* the second reuses the stream */
        roundtrip(h, "GET /big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: deflate, gzip\r\n\r\n", &r);
        assert_int_equal(r.status, 200);
        assert_true(resp_header(&r, "Content-Encoding", v, sizeof v));
        assert_string_equal(v, "gzip");
        assert_true(resp_header(&r, "Vary", v, sizeof v));
        assert_string_equal(v, "Accept-Encoding");
        assert_true(r.body_len < sizeof big_body);
        char out[8192];
        size_t outlen;
        assert_int_equal(inflate_gzip(r.body, r.body_len, out, sizeof out, &outlen), 0);
        assert_int_equal(outlen, sizeof big_body);
        assert_memory_equal(out, big_body, sizeof big_body);
        resp_free(&r);
    }
    /* Not asked for, refused with q=0, or too small: identity. */
    const char *reqs[] = {"GET /big HTTP/1.1\r\nHost: x\r\n\r\n",
                          "GET /big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0\r\n\r\n",
                          "GET /big HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzipx\r\n\r\n"};
    for (size_t i = 0; i < 3; i++) {
        roundtrip(h, reqs[i], &r);
        assert_false(resp_has(&r, "Content-Encoding"));
        assert_int_equal(r.body_len, sizeof big_body);
        resp_free(&r);
    }
    roundtrip(h, "GET /hello HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n\r\n", &r);
    assert_false(resp_has(&r, "Content-Encoding"));
    assert_string_equal(r.body, "hello\n");
    resp_free(&r);
    harness_stop(h);
}

static void test_route_prefix(void **state)
{
    (void)state;
    struct http_server_options o = {.route_prefix = "/prom/"};
    struct harness *h = harness_start(&o);
    struct resp r;
    roundtrip(h, "GET /prom/hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "hello\n");
    resp_free(&r);
    roundtrip(h, "GET /prom/echo/x?a=1 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_non_null(strstr(r.body, "path=/echo/x\n"));
    assert_non_null(strstr(r.body, "target=/prom/echo/x?a=1\n"));
    resp_free(&r);
    roundtrip(h, "GET /prom HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_string_equal(r.body, "root");
    resp_free(&r);
    roundtrip(h, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    roundtrip(h, "GET /promhello HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_int_equal(r.status, 404);
    resp_free(&r);
    harness_stop(h);
}

static void test_cors(void **state)
{
    (void)state;
    struct http_server_options o = {.cors_origin = "https?://(good|also)\\.example"};
    struct harness *h = harness_start(&o);
    struct resp r;
    char v[256];
    roundtrip(h,
              "GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\n"
              "Origin: https://good.example\r\n\r\n",
              &r);
    assert_int_equal(r.status, 200);
    assert_true(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, "https://good.example");
    assert_true(resp_header(&r, "Access-Control-Allow-Methods", v, sizeof v));
    assert_string_equal(v, "GET, POST, OPTIONS");
    assert_true(resp_header(&r, "Access-Control-Allow-Headers", v, sizeof v));
    assert_string_equal(v, "Accept, Authorization, Content-Type, Origin");
    assert_true(resp_header(&r, "Access-Control-Expose-Headers", v, sizeof v));
    assert_string_equal(v, "Date");
    resp_free(&r);

    /* The regex is anchored; a non-matching origin gets no Allow-Origin. */
    roundtrip(h,
              "GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\n"
              "Origin: https://good.example.evil\r\n\r\n",
              &r);
    assert_false(resp_has(&r, "Access-Control-Allow-Origin"));
    resp_free(&r);
    /* No Origin: no CORS headers. */
    roundtrip(h, "GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    assert_false(resp_has(&r, "Access-Control-Allow-Methods"));
    resp_free(&r);
    /* Not an API path: no CORS headers. */
    roundtrip(h, "GET /hello HTTP/1.1\r\nHost: x\r\nOrigin: http://also.example\r\n\r\n", &r);
    assert_false(resp_has(&r, "Access-Control-Allow-Origin"));
    resp_free(&r);

    /* Preflight: OPTIONS on any /api/ path, answered like Prometheus (204). */
    roundtrip(h,
              "OPTIONS /api/v1/anything HTTP/1.1\r\nHost: x\r\nOrigin: http://also.example\r\n"
              "Access-Control-Request-Method: POST\r\n\r\n",
              &r);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    assert_true(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, "http://also.example");
    resp_free(&r);
    /* A JSON error from a handler also carries CORS headers. */
    roundtrip(h, "GET /api/v1/query HTTP/1.1\r\nHost: x\r\nOrigin: http://good.example\r\n\r\n",
              &r);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.body,
                        "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"missing "
                        "\\\"query\\\"\"}");
    assert_true(resp_has(&r, "Access-Control-Allow-Origin"));
    resp_free(&r);
    harness_stop(h);

    /* ".*" answers "*", as Prometheus's default. */
    struct http_server_options any = {.cors_origin = ".*"};
    h = harness_start(&any);
    roundtrip(h, "GET /api/v1/query?query=up HTTP/1.1\r\nHost: x\r\nOrigin: http://a.b\r\n\r\n",
              &r);
    assert_true(resp_header(&r, "Access-Control-Allow-Origin", v, sizeof v));
    assert_string_equal(v, "*");
    resp_free(&r);
    harness_stop(h);

    /* An invalid regex is refused. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct http_server_options bad = {.cors_origin = "(unclosed"};
    assert_null(http_server_new(&loop, &bad));
    uv_loop_close(&loop);
}

static void test_concurrent_200(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    enum { N = 200 };
    struct client **cs = calloc(N, sizeof *cs);
    for (int i = 0; i < N; i++)
        cs[i] = client_open(h->port);
    for (int i = 0; i < N; i++) {
        char req[128];
        snprintf(req, sizeof req, "GET /echo?a=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
        client_sends(cs[i], req);
    }
    for (int i = N - 1; i >= 0; i--) {
        struct resp r;
        char want[32];
        snprintf(want, sizeof want, "a=[%d]\n", i);
        assert_true(client_read(cs[i], &r, false));
        assert_non_null(strstr(r.body, want));
        resp_free(&r);
    }
    assert_int_equal(harness_conn_count(h), N);
    for (int i = 0; i < N; i++)
        client_close(cs[i]);
    free(cs);
    assert_int_equal(harness_conn_wait(h, 0), 0);
    harness_stop(h);
}

static void test_max_connections(void **state)
{
    (void)state;
    struct http_server_options o = {.max_connections = 2};
    struct harness *h = harness_start(&o);
    struct client *a = client_open(h->port), *b = client_open(h->port);
    assert_int_equal(harness_conn_wait(h, 2), 2);
    struct client *c = client_open(h->port);
    assert_true(client_expect_eof(c));
    client_close(c);
    struct resp r;
    client_sends(a, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(client_read(a, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    client_close(a);
    client_close(b);
    assert_int_equal(harness_conn_wait(h, 0), 0);
    c = client_open(h->port); /* room again */
    client_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(client_read(c, &r, false));
    assert_int_equal(r.status, 200);
    resp_free(&r);
    client_close(c);
    harness_stop(h);
}

static void test_graceful_shutdown(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    h->slow_ms = 300;
    struct resp r;
    /* An idle keep-alive connection and one with a request in progress. */
    struct client *idle = client_open(h->port);
    client_sends(idle, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_true(client_read(idle, &r, false));
    resp_free(&r);
    struct client *busy = client_open(h->port);
    client_sends(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(50000);
    assert_int_equal(harness_conn_count(h), 2);

    harness_shutdown_begin(h);
    assert_true(client_expect_eof(idle)); /* closed at once */
    assert_true(client_read(busy, &r, false));
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "slow");
    char v[64];
    assert_true(resp_header(&r, "Connection", v, sizeof v));
    assert_string_equal(v, "close");
    resp_free(&r);
    assert_true(client_expect_eof(busy));
    client_close(idle);
    client_close(busy);
    harness_join(h); /* on_drained ran and the loop ended */
}

static void test_forced_shutdown(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    h->slow_ms = 600;
    h->shutdown_timeout_ms = 100;
    struct client *busy = client_open(h->port);
    client_sends(busy, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
    usleep(50000);
    double t0 = now_s();
    harness_shutdown_begin(h);
    assert_true(client_expect_eof(busy)); /* force-closed after 100 ms, no response */
    assert_true(now_s() - t0 < 1.5);
    client_close(busy);
    /* The late reply (at 600 ms) goes to a detached request: dropped safely. */
    harness_join(h);
}

static void test_observer(void **state)
{
    (void)state;
    struct harness *h = harness_start(NULL);
    struct resp r;
    roundtrip(h, "GET /api/v1/query?query=1 HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    resp_free(&r);
    int n = 0;
    harness_call(h, observed_fn, &n);
    assert_int_equal(n, 1);
    assert_string_equal(h->last_handler, "/api/v1/query");
    assert_string_equal(h->last_method, "GET");
    assert_int_equal(h->last_status, 200);
    roundtrip(h, "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", &r);
    resp_free(&r);
    harness_call(h, observed_fn, &n);
    assert_int_equal(n, 2);
    assert_string_equal(h->last_handler, "");
    assert_int_equal(h->last_status, 404);
    roundtrip(h, "BROKEN\r\n\r\n", &r);
    resp_free(&r);
    harness_call(h, observed_fn, &n);
    assert_int_equal(n, 3);
    assert_int_equal(h->last_status, 400);
    assert_int_equal(h->bad_seconds, 0);
    harness_stop(h);
}

static void test_listen_errors(void **state)
{
    (void)state;
    uv_loop_t loop;
    uv_loop_init(&loop);
    struct http_server *s = http_server_new(&loop, NULL);
    char err[256];
    assert_int_equal(http_server_listen(s, "nonsense", err, sizeof err), -1);
    assert_non_null(strstr(err, "nonsense"));
    assert_int_equal(http_server_listen(s, "127.0.0.1:99999", err, sizeof err), -1);
    assert_int_equal(http_server_port(s), -1);
    assert_int_equal(http_server_listen(s, "127.0.0.1:0", err, sizeof err), 0);
    int port = http_server_port(s);
    assert_true(port > 0);

    /* A port in use: an error with a message a person can act on. */
    struct http_server *s2 = http_server_new(&loop, NULL);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    assert_int_equal(http_server_listen(s2, addr, err, sizeof err), -1);
    assert_non_null(strstr(err, "address already in use"));

    /* ":port" listens on every interface. */
    struct http_server *s3 = http_server_new(&loop, NULL);
    assert_int_equal(http_server_listen(s3, ":0", err, sizeof err), 0);
    assert_true(http_server_port(s3) > 0);

    http_server_shutdown(s, 1000, NULL, NULL);
    http_server_shutdown(s2, 1000, NULL, NULL);
    http_server_shutdown(s3, 0, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(http_server_connection_count(s), 0);
    http_server_free(s);
    http_server_free(s2);
    http_server_free(s3);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_basic),         cmocka_unit_test(test_post_form_merge),
        cmocka_unit_test(test_percent_decoding),  cmocka_unit_test(test_not_found_and_method),
        cmocka_unit_test(test_keepalive_1000),    cmocka_unit_test(test_pipelining_order),
        cmocka_unit_test(test_expect_continue),   cmocka_unit_test(test_limits),
        cmocka_unit_test(test_timeouts),          cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_route_prefix),      cmocka_unit_test(test_cors),
        cmocka_unit_test(test_concurrent_200),    cmocka_unit_test(test_max_connections),
        cmocka_unit_test(test_graceful_shutdown), cmocka_unit_test(test_forced_shutdown),
        cmocka_unit_test(test_observer),          cmocka_unit_test(test_listen_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
