/* test_http_tls.c — the HTTP server speaking TLS, over real loopback sockets.
 *
 * As in test_http_server.c, the server runs on its own libuv loop in a second
 * thread and the test thread is the client; here the client is OpenSSL over
 * a blocking socket, so what is checked is what a TLS client sees: the
 * handshake, keep-alive, pipelining past the server's backpressure limit,
 * a 16 MiB response, "100 Continue", close_notify after "Connection: close",
 * Go's answer to plain HTTP, handshake failures (counted), the header
 * timeout on a stalled handshake, certificate and key errors, and swapping
 * the configuration under open connections.  Certificates are made in
 * memory (EC P-256, self-signed) and handed over as inline PEM. */
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
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* ---- certificates ---- */

struct pem_pair {
    char *cert, *key;
};

static char *bio_string(BIO *b)
{
    char *p;
    long n = BIO_get_mem_data(b, &p);
    char *s = malloc((size_t)n + 1);
    memcpy(s, p, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

/* A self-signed certificate for CN=localhost with a fresh P-256 key. */
static struct pem_pair pem_make(long serial)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    assert_non_null(key);
    X509 *x = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
    X509_gmtime_adj(X509_getm_notBefore(x), -60);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1, -1,
                               0);
    X509_set_issuer_name(x, name);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    BIO *cb = BIO_new(BIO_s_mem()), *kb = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(cb, x);
    PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL);
    X509_free(x);
    EVP_PKEY_free(key);
    return (struct pem_pair){bio_string(cb), bio_string(kb)};
}

static void pem_free(struct pem_pair *p)
{
    free(p->cert);
    free(p->key);
}

static struct http_tls *tls_from(const struct pem_pair *p, int max_version)
{
    struct http_tls_options o = {
        .cert_pem = p->cert, .key_pem = p->key, .max_version = max_version};
    char err[256];
    struct http_tls *t = http_tls_new(&o, err, sizeof err);
    if (!t)
        fail_msg("http_tls_new: %s", err);
    return t;
}

/* ---- the server side ---- */

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

static void h_hello(struct http_request *r, void *ctx)
{
    (void)ctx;
    http_reply(r, 200, "text/plain", "hello\n", 6);
}

/* Answers "n=<query n>" so that pipelined answers can be told apart. */
static void h_n(struct http_request *r, void *ctx)
{
    (void)ctx;
    const char *n = http_request_param(r, "n");
    char out[64];
    int len = snprintf(out, sizeof out, "n=%s", n ? n : "");
    http_reply(r, 200, "text/plain", out, (size_t)len);
}

static void h_huge(struct http_request *r, void *ctx)
{
    (void)ctx;
    size_t n = 16u << 20;
    char *b = malloc(n);
    for (size_t i = 0; i < n; i++)
        b[i] = (char)('a' + i % 26);
    http_reply_take(r, 200, "application/octet-stream", b, n);
}

static void h_bodylen(struct http_request *r, void *ctx)
{
    (void)ctx;
    size_t len;
    http_request_body(r, &len);
    char out[64];
    int n = snprintf(out, sizeof out, "%zu", len);
    http_reply(r, 200, "text/plain", out, (size_t)n);
}

static struct harness *harness_start(const struct http_server_options *opts, struct http_tls *tls)
{
    struct harness *h = calloc(1, sizeof *h);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    assert_int_equal(uv_loop_init(&h->loop), 0);
    struct http_server_options def = {0};
    h->srv = http_server_new(&h->loop, opts ? opts : &def);
    assert_non_null(h->srv);
    http_server_set_tls(h->srv, tls);
    http_server_route(h->srv, "GET", "/hello", false, "/hello", h_hello, h);
    http_server_route(h->srv, "GET", "/n", false, "/n", h_n, h);
    http_server_route(h->srv, "GET", "/huge", false, "/huge", h_huge, h);
    http_server_route(h->srv, "POST", "/bodylen", false, "/bodylen", h_bodylen, h);
    char err[256];
    if (http_server_listen(h->srv, "127.0.0.1:0", err, sizeof err) != 0)
        fail_msg("listen: %s", err);
    h->port = http_server_port(h->srv);
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
    http_server_shutdown(h->srv, 2000, harness_on_drained, h);
}

static void harness_stop(struct harness *h)
{
    harness_call(h, harness_shutdown_fn, NULL);
    pthread_join(h->thread, NULL);
    assert_true(h->drained);
    http_server_free(h->srv);
    assert_int_equal(uv_loop_close(&h->loop), 0);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}

static void errors_fn(struct harness *h, void *arg)
{
    *(uint64_t *)arg = http_server_tls_handshake_errors(h->srv);
}

static uint64_t harness_tls_errors(struct harness *h)
{
    uint64_t n = 0;
    harness_call(h, errors_fn, &n);
    return n;
}

static void swap_fn(struct harness *h, void *arg)
{
    http_server_set_tls(h->srv, arg);
}

/* ---- the client side ---- */

static int tcp_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

struct tclient {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    char buf[1 << 16];
    size_t len;
};

/* Connects and shakes hands; NULL if the handshake fails.  min/max: 0 or
 * TLS1_2_VERSION / TLS1_3_VERSION. */
static struct tclient *tclient_open(int port, int min, int max)
{
    struct tclient *c = calloc(1, sizeof *c);
    c->fd = tcp_open(port);
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (min)
        SSL_CTX_set_min_proto_version(c->ctx, min);
    if (max)
        SSL_CTX_set_max_proto_version(c->ctx, max);
    c->ssl = SSL_new(c->ctx);
    SSL_set_fd(c->ssl, c->fd);
    SSL_set_tlsext_host_name(c->ssl, "localhost");
    if (SSL_connect(c->ssl) != 1) {
        ERR_clear_error();
        SSL_free(c->ssl);
        SSL_CTX_free(c->ctx);
        close(c->fd);
        free(c);
        return NULL;
    }
    return c;
}

static void tclient_close(struct tclient *c)
{
    SSL_free(c->ssl);
    SSL_CTX_free(c->ctx);
    close(c->fd);
    free(c);
}

static void tclient_sends(struct tclient *c, const char *s)
{
    size_t len = strlen(s);
    assert_int_equal(SSL_write(c->ssl, s, (int)len), (int)len);
}

/* Reads more; bytes read, 0 on close_notify, -1 on a bare EOF, reset or
 * timeout. */
static int tclient_fill(struct tclient *c)
{
    if (c->len == sizeof c->buf)
        return -1;
    int n = SSL_read(c->ssl, c->buf + c->len, (int)(sizeof c->buf - c->len));
    if (n > 0) {
        c->len += (size_t)n;
        return n;
    }
    int e = SSL_get_error(c->ssl, n);
    ERR_clear_error();
    return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

static void tclient_consume(struct tclient *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

/* Reads one response: status and body (malloc'd into *body, NUL-ended). */
static int tclient_read(struct tclient *c, char **body, size_t *body_len)
{
    char *end;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        assert_true(tclient_fill(c) > 0);
    size_t hlen = (size_t)(end - c->buf) + 4;
    char head[4096];
    assert_true(hlen < sizeof head);
    memcpy(head, c->buf, hlen);
    head[hlen] = '\0';
    tclient_consume(c, hlen);
    int status = 0;
    assert_int_equal(sscanf(head, "HTTP/1.1 %d", &status), 1);
    const char *cl = strcasestr(head, "\r\nContent-Length: ");
    size_t want = cl ? (size_t)strtoull(cl + 18, NULL, 10) : 0;
    char *b = malloc(want + 1);
    size_t got = 0;
    while (got < want) {
        if (c->len == 0)
            assert_true(tclient_fill(c) > 0);
        size_t take = c->len < want - got ? c->len : want - got;
        memcpy(b + got, c->buf, take);
        got += take;
        tclient_consume(c, take);
    }
    b[got] = '\0';
    *body = b;
    if (body_len)
        *body_len = got;
    return status;
}

static void tclient_expect(struct tclient *c, int status, const char *body)
{
    char *b;
    assert_int_equal(tclient_read(c, &b, NULL), status);
    assert_string_equal(b, body);
    free(b);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests ---- */

static void test_tls_keepalive_and_big_response(void **state)
{
    (void)state;
    struct pem_pair p = pem_make(1);
    struct harness *h = harness_start(NULL, tls_from(&p, 0));
    struct tclient *c = tclient_open(h->port, 0, 0);
    assert_non_null(c);
    assert_int_equal(SSL_version(c->ssl), TLS1_3_VERSION);
    for (int i = 0; i < 300; i++) {
        tclient_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        tclient_expect(c, 200, "hello\n");
    }
    tclient_sends(c, "GET /huge HTTP/1.1\r\nHost: x\r\n\r\n");
    char *b;
    size_t len;
    assert_int_equal(tclient_read(c, &b, &len), 200);
    assert_int_equal(len, 16u << 20);
    for (size_t i = 0; i < len; i += 4099)
        assert_int_equal(b[i], (char)('a' + i % 26));
    free(b);
    tclient_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    tclient_expect(c, 200, "hello\n");
    tclient_close(c);
    /* TLS 1.2 too. */
    c = tclient_open(h->port, TLS1_2_VERSION, TLS1_2_VERSION);
    assert_non_null(c);
    tclient_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    tclient_expect(c, 200, "hello\n");
    tclient_close(c);
    assert_int_equal(harness_tls_errors(h), 0);
    harness_stop(h);
    pem_free(&p);
}

/* More pipelined requests than the server queues (32) in one write: the
 * server pauses reading with plaintext still inside the TLS session, and
 * must resume from there, not from the socket. */
static void test_tls_pipelining_past_backpressure(void **state)
{
    (void)state;
    struct pem_pair p = pem_make(2);
    struct harness *h = harness_start(NULL, tls_from(&p, 0));
    struct tclient *c = tclient_open(h->port, 0, 0);
    assert_non_null(c);
    char *reqs = malloc(200 * 64);
    size_t off = 0;
    for (int i = 0; i < 200; i++)
        off += (size_t)sprintf(reqs + off, "GET /n?n=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
    tclient_sends(c, reqs);
    free(reqs);
    for (int i = 0; i < 200; i++) {
        char want[16];
        snprintf(want, sizeof want, "n=%d", i);
        tclient_expect(c, 200, want);
    }
    tclient_close(c);
    harness_stop(h);
    pem_free(&p);
}

static void test_tls_expect_continue_and_close_notify(void **state)
{
    (void)state;
    struct pem_pair p = pem_make(3);
    struct harness *h = harness_start(NULL, tls_from(&p, 0));
    struct tclient *c = tclient_open(h->port, 0, 0);
    assert_non_null(c);
    tclient_sends(c, "POST /bodylen HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                     "Expect: 100-continue\r\n\r\n");
    while (!memmem(c->buf, c->len, "\r\n\r\n", 4))
        assert_true(tclient_fill(c) > 0);
    assert_memory_equal(c->buf, "HTTP/1.1 100 Continue\r\n\r\n", 25);
    tclient_consume(c, 25);
    tclient_sends(c, "hello");
    tclient_expect(c, 200, "5");
    /* The last response is followed by our close_notify, not a bare EOF. */
    tclient_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    tclient_expect(c, 200, "hello\n");
    assert_int_equal(tclient_fill(c), 0);
    tclient_close(c);
    harness_stop(h);
    pem_free(&p);
}

static void test_tls_plain_http_and_bad_handshakes(void **state)
{
    (void)state;
    struct pem_pair p = pem_make(4);
    struct harness *h = harness_start(NULL, tls_from(&p, TLS1_2_VERSION));
    /* Plain HTTP, a byte at a time: Go's answer. */
    int fd = tcp_open(h->port);
    const char *req = "GET /hello HTTP/1.1\r\n\r\n";
    for (size_t i = 0; i < 6; i++) {
        assert_int_equal(send(fd, req + i, 1, MSG_NOSIGNAL), 1);
        usleep(10000);
    }
    char buf[256];
    size_t got = 0;
    ssize_t n;
    while ((n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    assert_string_equal(buf, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an "
                             "HTTPS server.\n");
    close(fd);
    /* A client that insists on TLS 1.3 against a server capped at 1.2. */
    assert_null(tclient_open(h->port, TLS1_3_VERSION, 0));
    /* Application data before any handshake: an alert, then the end. */
    fd = tcp_open(h->port);
    assert_int_equal(send(fd, "\x17\x03\x03\x00\x03xyz", 8, MSG_NOSIGNAL), 8);
    got = 0;
    while ((n = recv(fd, buf + got, sizeof buf - got, 0)) > 0)
        got += (size_t)n;
    assert_true(got > 0 && buf[0] == 0x15); /* an alert record */
    close(fd);
    assert_int_equal(harness_tls_errors(h), 3);
    /* The port still serves TLS. */
    struct tclient *c = tclient_open(h->port, 0, 0);
    assert_non_null(c);
    tclient_sends(c, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
    tclient_expect(c, 200, "hello\n");
    tclient_close(c);
    harness_stop(h);
    pem_free(&p);
}

/* A client that stops in the middle of its ClientHello is dropped by the
 * header timeout, as a slowloris is. */
static void test_tls_stalled_handshake_times_out(void **state)
{
    (void)state;
    struct pem_pair p = pem_make(5);
    struct http_server_options o = {.header_timeout_ms = 300};
    struct harness *h = harness_start(&o, tls_from(&p, 0));
    int fd = tcp_open(h->port);
    assert_int_equal(send(fd, "\x16\x03\x01\x02\x00\x01", 6, MSG_NOSIGNAL), 6);
    double t0 = now_s();
    char buf[64];
    while (recv(fd, buf, sizeof buf, 0) > 0)
        ;
    double waited = now_s() - t0;
    assert_true(waited > 0.2 && waited < 3);
    close(fd);
    harness_stop(h);
    pem_free(&p);
}

static void test_tls_config_errors(void **state)
{
    (void)state;
    struct pem_pair a = pem_make(6), b = pem_make(7);
    char err[512];
    struct http_tls_options o = {.cert_file = "/nonexistent/c.pem", .key_pem = a.key};
    assert_null(http_tls_new(&o, err, sizeof err));
    assert_string_equal(err, "failed to load X509KeyPair: open /nonexistent/c.pem: no such file "
                             "or directory");
    o = (struct http_tls_options){.cert_pem = a.cert, .key_pem = b.key};
    assert_null(http_tls_new(&o, err, sizeof err));
    assert_string_equal(err, "failed to load X509KeyPair: private key does not match public key");
    o = (struct http_tls_options){.cert_pem = a.key, .key_pem = a.key};
    assert_null(http_tls_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "failed to find any PEM data in certificate input"));
    o = (struct http_tls_options){.cert_pem = a.cert, .key_pem = a.key, .ciphers = "NOPE"};
    assert_null(http_tls_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "cipher_suites"));
    o = (struct http_tls_options){.cert_pem = a.cert,
                                  .key_pem = a.key,
                                  .client_ca_file = "/nonexistent/ca.pem",
                                  .client_auth = HTTP_TLS_REQUIRE_AND_VERIFY_CLIENT_CERT};
    assert_null(http_tls_new(&o, err, sizeof err));
    assert_string_equal(err, "open /nonexistent/ca.pem: no such file or directory");
    pem_free(&a);
    pem_free(&b);
}

static bool tclient_has_cert(struct tclient *c, const struct pem_pair *p)
{
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    BIO *bio = BIO_new_mem_buf(p->cert, -1);
    X509 *want = PEM_read_bio_X509(bio, NULL, NULL, NULL);
    bool same = peer && want && X509_cmp(peer, want) == 0;
    X509_free(peer);
    X509_free(want);
    BIO_free(bio);
    return same;
}

/* A new configuration applies to new connections; open ones keep theirs. */
static void test_tls_swap_under_open_connections(void **state)
{
    (void)state;
    struct pem_pair a = pem_make(8), b = pem_make(9);
    struct harness *h = harness_start(NULL, tls_from(&a, 0));
    struct tclient *old = tclient_open(h->port, 0, 0);
    assert_non_null(old);
    assert_true(tclient_has_cert(old, &a));
    harness_call(h, swap_fn, tls_from(&b, 0));
    struct tclient *fresh = tclient_open(h->port, 0, 0);
    assert_non_null(fresh);
    assert_true(tclient_has_cert(fresh, &b));
    for (int i = 0; i < 3; i++) {
        tclient_sends(old, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        tclient_expect(old, 200, "hello\n");
        tclient_sends(fresh, "GET /hello HTTP/1.1\r\nHost: x\r\n\r\n");
        tclient_expect(fresh, 200, "hello\n");
    }
    tclient_close(old);
    tclient_close(fresh);
    /* Back to plain HTTP for new connections. */
    harness_call(h, swap_fn, NULL);
    int fd = tcp_open(h->port);
    const char *req = "GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    char buf[512];
    size_t got = 0;
    ssize_t n;
    while ((n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    assert_non_null(strstr(buf, "HTTP/1.1 200 OK"));
    close(fd);
    harness_stop(h);
    pem_free(&a);
    pem_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tls_keepalive_and_big_response),
        cmocka_unit_test(test_tls_pipelining_past_backpressure),
        cmocka_unit_test(test_tls_expect_continue_and_close_notify),
        cmocka_unit_test(test_tls_plain_http_and_bad_handshakes),
        cmocka_unit_test(test_tls_stalled_handshake_times_out),
        cmocka_unit_test(test_tls_config_errors),
        cmocka_unit_test(test_tls_swap_under_open_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
