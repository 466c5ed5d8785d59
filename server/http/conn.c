/* conn.c — one HTTP/1.1 connection: read, parse, queue, write, time out.
 *
 * Reading.  Each connection has one read buffer (HTTP_READ_BUF_SIZE).  libuv
 * reads into it and llhttp parses it at once; the parser callbacks copy what
 * must outlive the buffer — target and headers into the request's `head`
 * arena, the body into its `body` buffer — which is the only copy a byte
 * goes through.  So the buffer is empty again after every read, except when
 * reading is paused (below); then the unparsed rest stays in [roff, rend)
 * until it is parsed.  An empty buffer is released and made again on the
 * next read: thousands of idle keep-alive connections cost only their
 * libuv handles, while a busy one pays a malloc per read.
 *
 * Requests and order.  A request object is made when its first byte arrives
 * and is appended to the connection's queue.  on_message_complete pauses
 * llhttp, so conn_parse gets control back after every request and dispatches
 * it (routing, then the handler) outside the parser.  Handlers may reply in
 * any order, but only replied requests at the head of the queue are written:
 * pipelined responses leave in request order.  When HTTP_MAX_PIPELINE
 * requests are queued, reading pauses ("backpressured") until one is written.
 *
 * Ending.  A response that closes the connection (client asked, HTTP/1.0,
 * parse error, server draining) makes the connection "finishing": requests
 * behind it are dropped, and once the write is done we shut down our side
 * and keep reading — discarding — until the peer's FIN or HTTP_LINGER_MS,
 * so that unread input (say, the rest of a too-large body) does not turn
 * into a TCP reset that destroys the response before the client reads it.
 * Closing (uv_close) detaches requests still in handlers; the connection is
 * freed when both its handles (socket, timer) have closed.
 *
 * Timers.  One uv_timer per connection, always armed for the earliest of the
 * deadlines that apply in its current state: end of headers (from the first
 * byte of a request, or from accept before the first one), next body bytes,
 * write completion, idle keep-alive, linger.  conn_timer_update recomputes it
 * after every event; on expiry the same computation says what expired.
 *
 * TLS.  On a TLS connection (c->tls) libuv reads ciphertext into the
 * server's one scratch buffer, which is handed to the connection's TLS
 * session at once (tls.c); conn_tls_input then decrypts into the read
 * buffer and parses, as many times as the session has plaintext, so
 * everything above — order, pipelining, backpressure, limits, timers —
 * works on plaintext unchanged.  A response is encrypted when it is written
 * and its records are what uv_write sends; the connection's own bytes
 * (handshake, alerts, "100 Continue", close_notify) go out as "aux" writes
 * in between, in the order TLS produced them.  A failed handshake ends the
 * connection like a final response does: its alert is written, then we
 * linger.  The plain path never looks at any of this but for `c->tls`. */
#include "server/http/http_internal.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum conn_deadline {
    CONN_DL_NONE,
    CONN_DL_HEADER,
    CONN_DL_BODY,
    CONN_DL_WRITE,
    CONN_DL_IDLE,
    CONN_DL_LINGER,
};

static const char conn_continue_msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
/* What Go's net/http answers to a plain HTTP request on a TLS port. */
static const char conn_plain_to_tls_msg[] =
    "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";

/* A write of the connection's own bytes rather than a response. */
struct conn_aux_write {
    uv_write_t req;
    struct http_conn *conn;
    char *data; /* owned */
};

static void conn_parse(struct http_conn *c);
static void conn_timer_update(struct http_conn *c);
static void conn_read_start(struct http_conn *c);
static void conn_input(struct http_conn *c);
static bool conn_done_check(struct http_conn *c);

static uint64_t conn_now(const struct http_conn *c)
{
    return uv_now(c->srv->loop);
}

/* ---- the request queue ---- */

static void conn_queue_push(struct http_conn *c, struct http_request *r)
{
    r->next = NULL;
    if (c->qtail)
        c->qtail->next = r;
    else
        c->qhead = r;
    c->qtail = r;
    c->qlen++;
}

static struct http_request *conn_queue_pop(struct http_conn *c)
{
    struct http_request *r = c->qhead;
    c->qhead = r->next;
    if (!c->qhead)
        c->qtail = NULL;
    c->qlen--;
    r->next = NULL;
    return r;
}

static void conn_queue_remove(struct http_conn *c, struct http_request *r)
{
    struct http_request **pp = &c->qhead, *prev = NULL;
    while (*pp && *pp != r) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = r->next;
    if (c->qtail == r)
        c->qtail = prev;
    c->qlen--;
    r->next = NULL;
}

/* Empties the queue: requests in handlers are handed to the server's
 * detached list (their reply will be dropped), the rest are freed. */
static void conn_queue_drop(struct http_conn *c)
{
    while (c->qhead) {
        struct http_request *r = conn_queue_pop(c);
        if (r->state == HTTP_REQ_HANDLING) {
            r->conn = NULL;
            r->client_gone = 1;
            http_server_detach(c->srv, r);
        } else {
            http_req_free(r);
        }
    }
    c->cur = NULL;
}

/* ---- llhttp callbacks: they only record, never reply or close ---- */

static struct http_request *conn_cur(llhttp_t *p)
{
    return ((struct http_conn *)p->data)->cur;
}

static int conn_head_append(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->cur;
    sbuf_append(&r->head, at, len);
    if (r->head.len + 2 * r->nhdrs > c->srv->opts.max_header_bytes) {
        r->error_status = 431;
        return HPE_USER;
    }
    return 0;
}

static int conn_on_message_begin(llhttp_t *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = http_req_new(c);
    sbuf_reserve(&r->head, 1024); /* most request heads fit: no regrowth */
    conn_queue_push(c, r);
    c->cur = r;
    c->header_deadline = conn_now(c) + c->srv->opts.header_timeout_ms;
    return 0;
}

static int conn_on_url(llhttp_t *p, const char *at, size_t len)
{
    return conn_head_append(p, at, len);
}

static int conn_on_url_complete(llhttp_t *p)
{
    struct http_request *r = conn_cur(p);
    sbuf_putc(&r->head, '\0');
    r->method = llhttp_method_name((llhttp_method_t)p->method);
    return 0;
}

/* Starts a header entry; its name begins at the current end of `head`. */
static void conn_header_begin(struct http_request *r)
{
    if (r->nhdrs == r->hdr_cap) {
        r->hdr_cap = r->hdr_cap ? 2 * r->hdr_cap : 16;
        r->hdrs = xrealloc(r->hdrs, r->hdr_cap * sizeof *r->hdrs);
    }
    r->hdrs[r->nhdrs].name = r->head.len;
    r->hdrs[r->nhdrs].value = 0;
    r->hdr_part = 1;
}

static int conn_on_header_field(llhttp_t *p, const char *at, size_t len)
{
    struct http_request *r = conn_cur(p);
    if (r->hdr_part != 1)
        conn_header_begin(r);
    return conn_head_append(p, at, len);
}

static int conn_on_header_field_complete(llhttp_t *p)
{
    struct http_request *r = conn_cur(p);
    if (r->hdr_part != 1) /* llhttp rejects empty names, but be safe */
        conn_header_begin(r);
    sbuf_putc(&r->head, '\0');
    r->hdr_part = 2;
    r->hdrs[r->nhdrs].value = r->head.len;
    return 0;
}

static int conn_on_header_value(llhttp_t *p, const char *at, size_t len)
{
    return conn_head_append(p, at, len);
}

static int conn_on_header_value_complete(llhttp_t *p)
{
    struct http_request *r = conn_cur(p);
    sbuf_putc(&r->head, '\0');
    r->nhdrs++;
    r->hdr_part = 0;
    return 0;
}

static int conn_on_headers_complete(llhttp_t *p)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->cur;
    r->headers_done = true;
    r->t_start = uv_hrtime();
    r->method = llhttp_method_name((llhttp_method_t)p->method);
    r->is_head = p->method == HTTP_HEAD;
    r->http10 = p->http_major == 1 && p->http_minor == 0;
    r->keep_alive = llhttp_should_keep_alive(p);
    c->body_deadline = conn_now(c) + c->srv->opts.idle_timeout_ms;
    bool has_body = (p->flags & F_CHUNKED) || p->content_length > 0;
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > c->srv->opts.max_body_bytes) {
        r->error_status = 413;
        return -1;
    }
    if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0)
        sbuf_reserve(&r->body, (size_t)p->content_length);
    const char *expect = http_request_header(r, "Expect");
    r->expect_continue =
        has_body && !r->http10 && expect && strcasecmp(expect, "100-continue") == 0;
    return 0;
}

static int conn_on_body(llhttp_t *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    struct http_request *r = c->cur;
    if (r->body.len + len > c->srv->opts.max_body_bytes) {
        r->error_status = 413;
        return HPE_USER;
    }
    sbuf_append(&r->body, at, len);
    return 0;
}

static int conn_on_message_complete(llhttp_t *p)
{
    struct http_request *r = conn_cur(p);
    r->keep_alive = llhttp_should_keep_alive(p);
    r->upgrade = p->upgrade;
    /* Hand control back to conn_parse, which dispatches the request. */
    return HPE_PAUSED;
}

void http_conn_parser_settings(llhttp_settings_t *st)
{
    llhttp_settings_init(st);
    st->on_message_begin = conn_on_message_begin;
    st->on_url = conn_on_url;
    st->on_url_complete = conn_on_url_complete;
    st->on_header_field = conn_on_header_field;
    st->on_header_field_complete = conn_on_header_field_complete;
    st->on_header_value = conn_on_header_value;
    st->on_header_value_complete = conn_on_header_value_complete;
    st->on_headers_complete = conn_on_headers_complete;
    st->on_body = conn_on_body;
    st->on_message_complete = conn_on_message_complete;
}

/* ---- writing ---- */

static void conn_on_aux_written(uv_write_t *w, int status)
{
    struct conn_aux_write *a = w->data;
    struct http_conn *c = a->conn;
    free(a->data);
    free(a);
    c->writes_pending--;
    if (status < 0) {
        http_conn_close(c);
        return;
    }
    if (!conn_done_check(c))
        conn_timer_update(c);
}

/* Writes b's bytes (taken; b is left empty), if any.  Returns 0, or -1
 * after closing the connection. */
static int conn_write_aux(struct http_conn *c, struct sbuf *b)
{
    if (b->len == 0) {
        sbuf_free(b);
        return 0;
    }
    struct conn_aux_write *a = xmalloc(sizeof *a);
    a->conn = c;
    a->req.data = a;
    size_t len = b->len;
    a->data = sbuf_detach(b);
    uv_buf_t buf = uv_buf_init(a->data, (unsigned)len);
    if (c->writes_pending == 0)
        c->write_deadline = conn_now(c) + c->srv->opts.write_timeout_ms;
    if (uv_write(&a->req, (uv_stream_t *)&c->tcp, &buf, 1, conn_on_aux_written) != 0) {
        free(a->data);
        free(a);
        http_conn_close(c);
        return -1;
    }
    c->writes_pending++;
    return 0;
}

/* TLS: writes what the session has to send (handshake, tickets, alerts). */
static int conn_tls_flush(struct http_conn *c)
{
    struct sbuf b = SBUF_INIT;
    http_tls_conn_pending(c->tls, &b);
    return conn_write_aux(c, &b);
}

/* Sends "100 Continue" to the request at the head of the queue if it is
 * still waiting for one; never ahead of an earlier response. */
static void conn_continue_maybe(struct http_conn *c)
{
    struct http_request *r = c->qhead;
    if (!r || r != c->cur || !r->expect_continue || c->stop_parsing)
        return;
    r->expect_continue = false;
    struct sbuf b = SBUF_INIT;
    if (!c->tls)
        sbuf_append(&b, conn_continue_msg, sizeof conn_continue_msg - 1);
    else if (http_tls_conn_write(c->tls, conn_continue_msg, sizeof conn_continue_msg - 1, &b) < 0) {
        sbuf_free(&b);
        http_conn_close(c);
        return;
    }
    conn_write_aux(c, &b);
}

static void conn_on_shutdown(uv_shutdown_t *req, int status)
{
    struct http_conn *c = req->data;
    if (status < 0 && !c->closing)
        http_conn_close(c);
}

/* The final response is written: half-close and wait for the peer's FIN. */
static void conn_linger(struct http_conn *c)
{
    if (c->peer_eof) {
        http_conn_close(c);
        return;
    }
    c->lingering = true;
    if (c->tls) {
        struct sbuf b = SBUF_INIT;
        http_tls_conn_close_notify(c->tls, &b);
        if (conn_write_aux(c, &b) < 0)
            return;
    }
    c->shutdown_req.data = c;
    if (uv_shutdown(&c->shutdown_req, (uv_stream_t *)&c->tcp, conn_on_shutdown) != 0) {
        http_conn_close(c);
        return;
    }
    c->linger_deadline = conn_now(c) + HTTP_LINGER_MS;
    c->roff = c->rend = 0;
    conn_read_start(c);
    conn_timer_update(c);
}

/* Ends the connection if nothing is left to do on it: the final response
 * is written, or the peer stopped sending (or the server is draining) and
 * every answer is out.  Returns true if the connection is ending. */
static bool conn_done_check(struct http_conn *c)
{
    if (c->closing || c->lingering)
        return true;
    if (c->finishing && c->writes_pending == 0) {
        conn_linger(c);
        return true;
    }
    if (!c->finishing && !c->qhead && c->writes_pending == 0 && (c->peer_eof || c->draining)) {
        http_conn_close(c);
        return true;
    }
    return false;
}

static void conn_on_written(uv_write_t *w, int status)
{
    struct http_request *r = w->data;
    struct http_conn *c = r->conn;
    http_req_free(r);
    c->writes_pending--;
    if (status < 0) {
        http_conn_close(c);
        return;
    }
    if (c->closing)
        return;
    c->write_deadline = conn_now(c) + c->srv->opts.write_timeout_ms;
    c->idle_deadline = conn_now(c) + c->srv->opts.idle_timeout_ms;
    if (conn_done_check(c))
        return;
    conn_timer_update(c);
}

/* TLS: turns the response into records in r->tls_out.  A small body joins
 * the head, so that the response is one record. */
static int conn_tls_encrypt(struct http_conn *c, struct http_request *r)
{
    size_t body = r->send_body ? r->out_len : 0;
    if (body > 0 && body <= 16 * 1024) {
        sbuf_append(&r->out_head, r->out_body, body);
        body = 0;
    }
    size_t plain = r->out_head.len + body;
    sbuf_reserve(&r->tls_out, plain + plain / 256 + 1024); /* record overhead, pending bytes */
    if (http_tls_conn_write(c->tls, r->out_head.data, r->out_head.len, &r->tls_out) < 0)
        return -1;
    if (body > 0 && http_tls_conn_write(c->tls, r->out_body, body, &r->tls_out) < 0)
        return -1;
    free(r->out_body); /* the records are what is sent */
    r->out_body = NULL;
    return 0;
}

/* Hands one replied request to uv_write; it is freed when the write ends. */
static int conn_write_response(struct http_conn *c, struct http_request *r, bool close)
{
    http_reply_head_finish(r, close);
    uv_buf_t bufs[2];
    unsigned n = 0;
    if (c->tls) {
        if (conn_tls_encrypt(c, r) < 0) {
            http_req_free(r);
            http_conn_close(c);
            return -1;
        }
        bufs[n++] = uv_buf_init(r->tls_out.data, (unsigned)r->tls_out.len);
    } else {
        bufs[n++] = uv_buf_init(r->out_head.data, (unsigned)r->out_head.len);
        if (r->send_body && r->out_len > 0)
            bufs[n++] = uv_buf_init(r->out_body, (unsigned)r->out_len);
    }
    r->write_req.data = r;
    if (c->writes_pending == 0)
        c->write_deadline = conn_now(c) + c->srv->opts.write_timeout_ms;
    if (uv_write(&r->write_req, (uv_stream_t *)&c->tcp, bufs, n, conn_on_written) != 0) {
        http_req_free(r);
        http_conn_close(c);
        return -1;
    }
    c->writes_pending++;
    return 0;
}

/* After the response that ends the connection: nothing more is parsed or
 * answered. */
static void conn_finish(struct http_conn *c)
{
    c->finishing = true;
    c->stop_parsing = true;
    c->backpressured = false;
    conn_queue_drop(c);
}

void http_conn_flush(struct http_conn *c)
{
    while (!c->closing && !c->finishing && c->qhead && c->qhead->state == HTTP_REQ_REPLIED) {
        struct http_request *r = conn_queue_pop(c);
        bool close = !r->keep_alive || c->draining;
        c->served = true;
        if (conn_write_response(c, r, close) != 0)
            return;
        if (close)
            conn_finish(c);
    }
    if (c->closing || conn_done_check(c))
        return;
    conn_continue_maybe(c);
    if (c->closing)
        return;
    if (c->backpressured && c->qlen < HTTP_MAX_PIPELINE && !c->parsing) {
        c->backpressured = false;
        conn_input(c);
        if (c->closing)
            return;
    }
    conn_timer_update(c);
}

/* ---- parsing and dispatch ---- */

/* The server answers the request being parsed (or a new one) itself, with
 * an error status, and ends the connection after it. */
static void conn_reply_error(struct http_conn *c, int status)
{
    struct http_request *r = c->cur;
    if (!r) {
        r = http_req_new(c);
        conn_queue_push(c, r);
    }
    c->cur = NULL;
    c->stop_parsing = true;
    if (!r->t_start)
        r->t_start = uv_hrtime();
    r->keep_alive = false;
    r->state = HTTP_REQ_HANDLING;
    http_reply_plain(r, status, NULL);
}

static void conn_dispatch(struct http_conn *c)
{
    struct http_request *r = c->cur;
    c->cur = NULL;
    if (!r)
        return;
    if (!r->keep_alive || r->upgrade || c->draining)
        c->stop_parsing = true;
    if (r->upgrade)
        r->keep_alive = false; /* protocol switches are not supported */
    r->state = HTTP_REQ_HANDLING;
    http_route_dispatch(r);
}

/* A request llhttp rejected (400), or one of our callbacks did (431, 413). */
static void conn_parse_error(struct http_conn *c)
{
    int status = 400;
    if (c->cur && c->cur->error_status)
        status = c->cur->error_status;
    conn_reply_error(c, status);
}

/* Runs llhttp over the unparsed bytes, dispatching each complete request. */
static void conn_parse(struct http_conn *c)
{
    c->parsing = true;
    while (!c->closing && !c->stop_parsing && c->roff < c->rend) {
        if (!c->cur && c->qlen >= HTTP_MAX_PIPELINE) {
            c->backpressured = true;
            break;
        }
        const char *start = c->rbuf + c->roff;
        llhttp_errno_t err = llhttp_execute(&c->parser, start, c->rend - c->roff);
        if (err == HPE_OK) {
            c->roff = c->rend;
        } else if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
            c->roff += (size_t)(llhttp_get_error_pos(&c->parser) - start);
            llhttp_resume(&c->parser);
            conn_dispatch(c);
        } else {
            conn_parse_error(c);
        }
    }
    c->parsing = false;
    if (c->closing)
        return;
    if (c->roff >= c->rend || c->stop_parsing)
        c->roff = c->rend = 0;
    if (c->backpressured) {
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = false;
        }
    } else if (!c->peer_eof) {
        conn_read_start(c);
    }
}

/* ---- reading ---- */

static void conn_on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    struct http_conn *c = h->data;
    (void)suggested;
    if (c->tls) { /* ciphertext: consumed before the next read can happen */
        *buf = uv_buf_init(c->srv->tls_rbuf, HTTP_TLS_READ_SIZE);
        return;
    }
    if (!c->rbuf)
        c->rbuf = xmalloc(HTTP_READ_BUF_SIZE);
    if (c->rend >= HTTP_READ_BUF_SIZE) /* cannot happen while reading; be safe */
        c->roff = c->rend = 0;
    *buf = uv_buf_init(c->rbuf + c->rend, (unsigned)(HTTP_READ_BUF_SIZE - c->rend));
}

/* The peer will send nothing more; answer what is complete, then close. */
static void conn_on_eof(struct http_conn *c)
{
    /* As Go's server does, a client that closed its side is taken to be
     * gone: long handlers may stop (http_request_gone_flag).  Their answers
     * are still written, for clients that only half-closed. */
    for (struct http_request *r = c->qhead; r; r = r->next)
        if (r->state == HTTP_REQ_HANDLING)
            r->client_gone = 1;
    c->peer_eof = true;
    c->stop_parsing = true;
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = false;
    if (c->cur) { /* a partial request will never be finished */
        conn_queue_remove(c, c->cur);
        http_req_free(c->cur);
        c->cur = NULL;
    }
    if (!conn_done_check(c))
        conn_timer_update(c);
}

/* Gives the read buffer back when it holds nothing unparsed, so an idle
 * keep-alive connection costs only its handles. */
static void conn_rbuf_release(struct http_conn *c)
{
    if (c->roff < c->rend)
        return;
    free(c->rbuf);
    c->rbuf = NULL;
    c->roff = c->rend = 0;
}

/* ---- TLS input ---- */

/* The TLS session failed (a bad handshake, most often): its alert, if it
 * made one, is already queued; end the connection as after a final
 * response. */
static void conn_tls_fail(struct http_conn *c)
{
    if (!http_tls_conn_established(c->tls))
        c->srv->tls_handshake_errors++;
    conn_finish(c);
    if (!conn_done_check(c))
        conn_timer_update(c);
}

/* A plain HTTP request on the TLS port: Go's 400, then the end. */
static void conn_tls_plain_http(struct http_conn *c)
{
    c->srv->tls_handshake_errors++;
    conn_finish(c);
    struct sbuf b = SBUF_INIT;
    sbuf_append(&b, conn_plain_to_tls_msg, sizeof conn_plain_to_tls_msg - 1);
    if (conn_write_aux(c, &b) == 0 && !conn_done_check(c))
        conn_timer_update(c);
}

/* Parses what the read buffer holds, then decrypts more into it and parses
 * again, until the session has no more plaintext or parsing pauses. */
static void conn_tls_input(struct http_conn *c)
{
    for (;;) {
        conn_parse(c);
        if (c->closing || c->backpressured || c->stop_parsing)
            break;
        if (!c->rbuf)
            c->rbuf = xmalloc(HTTP_READ_BUF_SIZE);
        ssize_t n = http_tls_conn_read(c->tls, c->rbuf + c->rend, HTTP_READ_BUF_SIZE - c->rend);
        if (n > 0) {
            c->rend += (size_t)n;
            continue;
        }
        if (conn_tls_flush(c) < 0)
            return;
        if (n == HTTP_TLS_CLOSED)
            conn_on_eof(c);
        else if (n == HTTP_TLS_FAILED)
            conn_tls_fail(c);
        return;
    }
    if (!c->closing)
        conn_tls_flush(c);
}

static void conn_tls_on_read(struct http_conn *c, const char *data, size_t len)
{
    if (http_tls_conn_feed(c->tls, data, len) == HTTP_TLS_PLAIN_HTTP) {
        conn_tls_plain_http(c);
        return;
    }
    c->body_deadline = conn_now(c) + c->srv->opts.idle_timeout_ms;
    conn_tls_input(c);
    if (c->closing)
        return;
    conn_rbuf_release(c);
    http_conn_flush(c);
}

static void conn_input(struct http_conn *c)
{
    if (c->tls)
        conn_tls_input(c);
    else
        conn_parse(c);
}

static void conn_on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    struct http_conn *c = stream->data;
    if (c->closing)
        return;
    if (nread <= 0) {
        conn_rbuf_release(c);
        if (nread == UV_EOF && !c->finishing)
            conn_on_eof(c);
        else if (nread < 0)
            http_conn_close(c);
        return;
    }
    if (c->stop_parsing) { /* lingering or after an error: discard */
        c->roff = c->rend = 0;
        conn_rbuf_release(c);
        if (!c->finishing && c->cur == NULL)
            conn_timer_update(c);
        return;
    }
    if (c->tls) {
        conn_tls_on_read(c, buf->base, (size_t)nread);
        return;
    }
    c->rend += (size_t)nread;
    c->body_deadline = conn_now(c) + c->srv->opts.idle_timeout_ms;
    conn_parse(c);
    if (c->closing)
        return;
    conn_rbuf_release(c);
    http_conn_flush(c);
}

static void conn_read_start(struct http_conn *c)
{
    if (c->reading || c->closing)
        return;
    if (uv_read_start((uv_stream_t *)&c->tcp, conn_on_alloc, conn_on_read) != 0) {
        http_conn_close(c);
        return;
    }
    c->reading = true;
}

/* ---- timers ---- */

static void conn_deadline_min(uint64_t *best, enum conn_deadline *kind, uint64_t t,
                              enum conn_deadline k)
{
    if (*kind == CONN_DL_NONE || t < *best) {
        *best = t;
        *kind = k;
    }
}

/* The earliest deadline that applies to the connection's state now. */
static enum conn_deadline conn_deadline(const struct http_conn *c, uint64_t *when)
{
    enum conn_deadline kind = CONN_DL_NONE;
    if (c->finishing) {
        if (c->writes_pending == 0) {
            *when = c->linger_deadline;
            return CONN_DL_LINGER;
        }
        *when = c->write_deadline;
        return CONN_DL_WRITE;
    }
    if (c->writes_pending > 0)
        conn_deadline_min(when, &kind, c->write_deadline, CONN_DL_WRITE);
    if (c->cur && !c->cur->headers_done)
        conn_deadline_min(when, &kind, c->header_deadline, CONN_DL_HEADER);
    else if (c->cur)
        conn_deadline_min(when, &kind, c->body_deadline, CONN_DL_BODY);
    else if (!c->qhead && c->writes_pending == 0 && !c->backpressured)
        conn_deadline_min(when, &kind, c->served ? c->idle_deadline : c->header_deadline,
                          c->served ? CONN_DL_IDLE : CONN_DL_HEADER);
    return kind;
}

static void conn_on_timer(uv_timer_t *t)
{
    struct http_conn *c = t->data;
    uint64_t when = 0;
    enum conn_deadline kind = conn_deadline(c, &when);
    if (kind == CONN_DL_NONE || c->closing)
        return;
    if (when > conn_now(c)) {
        conn_timer_update(c);
        return;
    }
    if ((kind == CONN_DL_HEADER || kind == CONN_DL_BODY) && c->cur) {
        conn_reply_error(c, 408);
        return;
    }
    http_conn_close(c); /* write timeout, idle, linger, or silent new connection */
}

static void conn_timer_update(struct http_conn *c)
{
    if (c->closing)
        return;
    uint64_t when = 0;
    if (conn_deadline(c, &when) == CONN_DL_NONE) {
        uv_timer_stop(&c->timer);
        return;
    }
    uint64_t now = conn_now(c);
    uv_timer_start(&c->timer, conn_on_timer, when > now ? when - now : 0, 0);
}

/* ---- life and death ---- */

static void conn_on_handle_closed(uv_handle_t *h)
{
    struct http_conn *c = h->data;
    if (--c->handles_open > 0)
        return;
    struct http_server *s = c->srv;
    http_server_conn_gone(s, c);
    http_tls_conn_free(c->tls);
    free(c->rbuf);
    free(c);
}

/* TLS: a close_notify before an abrupt close, as Go sends one, if it can
 * leave at once without waiting behind other writes. */
static void conn_tls_goodbye(struct http_conn *c)
{
    if (!c->tls || c->writes_pending > 0)
        return;
    struct sbuf b = SBUF_INIT;
    http_tls_conn_close_notify(c->tls, &b);
    if (b.len > 0) {
        uv_buf_t buf = uv_buf_init(b.data, (unsigned)b.len);
        uv_try_write((uv_stream_t *)&c->tcp, &buf, 1);
    }
    sbuf_free(&b);
}

void http_conn_close(struct http_conn *c)
{
    if (c->closing)
        return;
    conn_tls_goodbye(c);
    c->closing = true;
    conn_queue_drop(c);
    uv_close((uv_handle_t *)&c->timer, conn_on_handle_closed);
    uv_close((uv_handle_t *)&c->tcp, conn_on_handle_closed);
}

void http_conn_drain(struct http_conn *c)
{
    if (c->closing)
        return;
    c->draining = true;
    if (!c->cur)
        c->stop_parsing = true;
    if (!c->qhead && c->writes_pending == 0 && !c->finishing) {
        http_conn_close(c);
        return;
    }
    conn_timer_update(c);
}

static void conn_remote_format(struct http_conn *c)
{
    struct sockaddr_storage ss;
    int len = sizeof ss;
    char ip[INET6_ADDRSTRLEN] = "";
    strcpy(c->remote, "unknown");
    if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof ip);
        snprintf(c->remote, sizeof c->remote, "%s:%u", ip, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof ip);
        snprintf(c->remote, sizeof c->remote, "[%s]:%u", ip, ntohs(a->sin6_port));
    }
}

void http_conn_accept(struct http_server *s, uv_stream_t *listener)
{
    struct http_conn *c = xcalloc(1, sizeof *c);
    c->srv = s;
    uv_tcp_init(s->loop, &c->tcp);
    uv_timer_init(s->loop, &c->timer);
    c->tcp.data = c;
    c->timer.data = c;
    c->handles_open = 2;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0 || s->nconns > s->opts.max_connections) {
        http_conn_close(c);
        return;
    }
    if (s->tls && !(c->tls = http_tls_conn_new(s->tls))) {
        http_conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    conn_remote_format(c);
    llhttp_init(&c->parser, HTTP_REQUEST, &s->parser_settings);
    c->parser.data = c;
    c->header_deadline = conn_now(c) + s->opts.header_timeout_ms;
    conn_read_start(c);
    conn_timer_update(c);
}
