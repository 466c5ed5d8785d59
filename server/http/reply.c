/* reply.c — turning a handler's answer into bytes on the wire.
 *
 * A reply is built as two buffers handed to one uv_write: `out_head` (status
 * line and headers) and `out_body`.  The body is copied once from the
 * handler's buffer — or compressed straight from it, or taken over without a
 * copy by http_reply_take — because the handler's buffer may be gone before
 * the response's turn to be written comes.  The head is built at reply time
 * except its last line: whether the response says "Connection: close" is
 * only known when it is written (the server may have started draining in
 * between), so conn.c finishes it with http_reply_head_finish.
 *
 * Header order follows Go's net/http closely enough for clients that care:
 * Date, Content-Type, the handler's headers, CORS, Content-Encoding/Vary,
 * Content-Length, Connection.  Bodies of at least HTTP_GZIP_MIN bytes are
 * gzipped when the request's Accept-Encoding lists gzip (not with q=0),
 * unless the handler set its own Content-Encoding.  HEAD responses carry
 * the Content-Length of the body they do not send; 1xx, 204 and 304 carry
 * neither body nor Content-Length. */
#include "server/http/http_internal.h"
#include "util/httpstatus.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *http_status_text_or_default(int status)
{
    const char *t = http_status_text(status);
    return *t ? t : "status code";
}

static bool reply_status_has_body(int status)
{
    return status >= 200 && status != 204 && status != 304;
}

/* Whether Accept-Encoding lists gzip with a non-zero quality. */
static bool reply_accepts_gzip(const struct http_request *r)
{
    const char *v = http_request_header(r, "Accept-Encoding");
    while (v && *v) {
        v += strspn(v, " \t,");
        size_t n = strcspn(v, ",");
        size_t tok = strcspn(v, ";, \t");
        if (tok == 4 && strncasecmp(v, "gzip", 4) == 0) {
            const char *q = memchr(v, ';', n);
            if (!q)
                return true;
            q += 1 + strspn(q + 1, " \t");
            if (strncasecmp(q, "q=", 2) != 0)
                return true;
            return strtod(q + 2, NULL) > 0;
        }
        v += n;
    }
    return false;
}

static bool reply_extra_has(const struct http_request *r, const char *name)
{
    size_t n = strlen(name);
    const char *p = r->extra.data;
    while (p && *p) {
        if (strncasecmp(p, name, n) == 0 && p[n] == ':')
            return true;
        p = strstr(p, "\r\n");
        p = p ? p + 2 : NULL;
    }
    return false;
}

/* Gzips in[0..len) with the server's reusable stream into a new buffer. */
static int reply_gzip(struct http_server *s, const void *in, size_t len, char **out, size_t *outlen)
{
    if (len > (1u << 30))
        return -1;
    if (!s->gzip_ready) {
        memset(&s->gzip, 0, sizeof s->gzip);
        if (deflateInit2(&s->gzip, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
                         Z_DEFAULT_STRATEGY) != Z_OK)
            return -1;
        s->gzip_ready = true;
    } else if (deflateReset(&s->gzip) != Z_OK) {
        return -1;
    }
    uLong bound = deflateBound(&s->gzip, (uLong)len);
    char *buf = xmalloc(bound);
    s->gzip.next_in = (Bytef *)in;
    s->gzip.avail_in = (uInt)len;
    s->gzip.next_out = (Bytef *)buf;
    s->gzip.avail_out = (uInt)bound;
    if (deflate(&s->gzip, Z_FINISH) != Z_STREAM_END) {
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = bound - s->gzip.avail_out;
    return 0;
}

/* Prometheus's httputil.SetCORS: the fixed headers whenever Origin is
 * present, Allow-Origin only when it matches. */
static void reply_cors(const struct http_request *r, struct sbuf *h)
{
    const char *origin = http_request_header(r, "Origin");
    if (!origin || !*origin)
        return;
    sbuf_puts(h, "Access-Control-Allow-Headers: Accept, Authorization, Content-Type, Origin\r\n"
                 "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                 "Access-Control-Expose-Headers: Date\r\n"
                 "Vary: Origin\r\n");
    if (r->srv->cors_any)
        sbuf_puts(h, "Access-Control-Allow-Origin: *\r\n");
    else if (regexec(&r->srv->cors_re, origin, 0, NULL, 0) == 0)
        sbuf_printf(h, "Access-Control-Allow-Origin: %s\r\n", origin);
}

/* Sets out_body/out_len from the handler's body; returns whether gzipped. */
static bool reply_body_set(struct http_request *r, const void *body, size_t len, char *owned)
{
    if (!reply_status_has_body(r->status)) {
        free(owned);
        return false;
    }
    r->out_len = len;
    if (r->is_head) { /* Content-Length of the body, but no body */
        free(owned);
        return false;
    }
    r->send_body = true;
    if (len >= HTTP_GZIP_MIN && reply_accepts_gzip(r) && !reply_extra_has(r, "Content-Encoding") &&
        reply_gzip(r->srv, body, len, &r->out_body, &r->out_len) == 0) {
        free(owned);
        return true;
    }
    if (owned) {
        r->out_body = owned;
    } else if (len > 0) {
        r->out_body = xmalloc(len);
        memcpy(r->out_body, body, len);
    }
    return false;
}

static void reply_head_build(struct http_request *r, const char *content_type, bool gzipped)
{
    struct sbuf *h = &r->out_head;
    const char *reason = http_status_text_or_default(r->status);
    sbuf_reserve(h, 160 + r->extra.len);
    if (strcmp(reason, "status code") == 0)
        sbuf_printf(h, "HTTP/1.1 %d status code %d\r\n", r->status, r->status);
    else
        sbuf_printf(h, "HTTP/1.1 %d %s\r\n", r->status, reason);
    sbuf_printf(h, "Date: %s\r\n", http_server_date(r->srv));
    if (content_type && *content_type)
        sbuf_printf(h, "Content-Type: %s\r\n", content_type);
    if (r->extra.len)
        sbuf_append(h, r->extra.data, r->extra.len);
    if (r->cors)
        reply_cors(r, h);
    if (gzipped)
        sbuf_puts(h, "Content-Encoding: gzip\r\nVary: Accept-Encoding\r\n");
    if (reply_status_has_body(r->status))
        sbuf_printf(h, "Content-Length: %zu\r\n", r->out_len);
}

/* The one path every reply takes. */
static void reply_finish(struct http_request *r, int status, const char *content_type,
                         const void *body, size_t len, char *owned)
{
    if (r->state != HTTP_REQ_HANDLING) { /* a second reply: ignore it */
        free(owned);
        return;
    }
    r->status = status;
    r->state = HTTP_REQ_REPLIED;
    if (!r->conn) { /* the client is gone */
        free(owned);
        if (r->srv) {
            http_server_observe(r->srv, r);
            http_server_undetach(r->srv, r);
        }
        http_req_free(r);
        return;
    }
    bool gzipped = reply_body_set(r, body, len, owned);
    reply_head_build(r, content_type, gzipped);
    http_server_observe(r->srv, r);
    http_conn_flush(r->conn); /* may write and free r */
}

void http_reply_head_finish(struct http_request *r, bool close)
{
    if (close)
        sbuf_puts(&r->out_head, "Connection: close\r\n\r\n");
    else if (r->http10)
        sbuf_puts(&r->out_head, "Connection: keep-alive\r\n\r\n");
    else
        sbuf_puts(&r->out_head, "\r\n");
}

void http_reply_header(struct http_request *r, const char *name, const char *value)
{
    if (!name || !value || strpbrk(name, "\r\n:") || strpbrk(value, "\r\n") || !*name)
        return;
    sbuf_printf(&r->extra, "%s: %s\r\n", name, value);
}

void http_reply(struct http_request *r, int status, const char *content_type, const void *body,
                size_t len)
{
    reply_finish(r, status, content_type, body, len, NULL);
}

void http_reply_take(struct http_request *r, int status, const char *content_type, char *body,
                     size_t len)
{
    reply_finish(r, status, content_type, body, len, body);
}

void http_reply_json_error(struct http_request *r, int status, const char *error_type,
                           const char *message)
{
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "{\"status\":\"error\",\"errorType\":");
    sbuf_put_json_string(&b, error_type, strlen(error_type));
    sbuf_puts(&b, ",\"error\":");
    sbuf_put_json_string(&b, message, strlen(message));
    sbuf_putc(&b, '}');
    size_t len = b.len;
    http_reply_take(r, status, "application/json", sbuf_detach(&b), len);
}

void http_reply_plain(struct http_request *r, int status, const char *body)
{
    struct sbuf b = SBUF_INIT;
    if (body)
        sbuf_puts(&b, body);
    else
        sbuf_printf(&b, "%d %s", status, http_status_text_or_default(status));
    size_t len = b.len;
    http_reply_take(r, status, "text/plain; charset=utf-8", sbuf_detach(&b), len);
}

void http_reply_sbuf(struct http_request *r, int status, const char *content_type,
                     struct sbuf *body)
{
    size_t len = body->len; /* before sbuf_detach empties it */
    http_reply_take(r, status, content_type, sbuf_detach(body), len);
}
