/* request.c — the request object: what was received, decoded for handlers.
 *
 * A request is a handful of arenas rather than many small strings: `head`
 * holds the target and every header name and value, NUL-terminated, in the
 * order received; `form` holds decoded parameter names and values; `body`
 * the body.  Headers and parameters are (name, value) offset pairs into
 * their arena, because an arena may move while it grows; accessors turn
 * them into pointers, which stay valid because the arenas are frozen before
 * the handler runs.  Lookups are linear scans: requests carry tens of
 * headers and parameters, where a scan beats building a hash table.
 *
 * Parameters follow Go's Request.ParseForm: an application/x-www-form-
 * urlencoded body of a POST, PUT or PATCH comes first, then the URL query;
 * '&' separates pairs, a ';' in a pair is an error (as since Go 1.17), '+'
 * is a space, %XX is decoded, and a bad escape is an error whose text
 * matches Go's ("invalid URL escape \"%zz\""). */
#include "server/http/http_internal.h"
#include "util/gostrconv.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct http_request *http_req_new(struct http_conn *c)
{
    struct http_request *r = xcalloc(1, sizeof *r);
    r->srv = c->srv;
    r->conn = c;
    r->state = HTTP_REQ_PARSING;
    r->method = "";
    r->handler = "";
    r->path = "/";
    memcpy(r->remote, c->remote, sizeof r->remote);
    return r;
}

void http_req_free(struct http_request *r)
{
    sbuf_free(&r->head);
    free(r->hdrs);
    sbuf_free(&r->body);
    free(r->path_buf);
    sbuf_free(&r->form);
    free(r->params);
    sbuf_free(&r->extra);
    sbuf_free(&r->out_head);
    free(r->out_body);
    sbuf_free(&r->tls_out);
    free(r);
}

const char *http_req_str(const struct http_request *r, size_t off)
{
    return r->head.data ? r->head.data + off : "";
}

/* ---- decoding ---- */

/* Appends the decoding of s[0..n) and a NUL to out.  form: '+' is a space.
 * On a bad escape returns -1 and, if err is given, Go's message. */
static int req_unescape(struct sbuf *out, const char *s, size_t n, bool form, bool allow_nul,
                        struct sbuf *err)
{
    sbuf_reserve(out, n + 1);
    char *w = out->data + out->len;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '%') {
            int hi = i + 1 < n ? go_hex_digit((char)s[i + 1]) : -1;
            int lo = i + 2 < n ? go_hex_digit((char)s[i + 2]) : -1;
            if (hi < 0 || lo < 0 || (!allow_nul && hi == 0 && lo == 0)) {
                if (err) {
                    size_t bad = n - i < 3 ? n - i : 3;
                    sbuf_puts(err, "invalid URL escape ");
                    sbuf_put_json_string(err, s + i, bad);
                }
                return -1;
            }
            *w++ = (char)(hi << 4 | lo);
            i += 2;
        } else {
            *w++ = form && ch == '+' ? ' ' : ch;
        }
    }
    *w = '\0';
    out->len = (size_t)(w - out->data) + 1;
    out->data[out->len] = '\0';
    return 0;
}

/* ---- the target ---- */

/* Skips "scheme://authority" of an absolute-form target; NULL if malformed. */
static const char *req_target_skip_authority(const char *t)
{
    if (strncasecmp(t, "http://", 7) == 0)
        t += 7;
    else if (strncasecmp(t, "https://", 8) == 0)
        t += 8;
    else
        return NULL;
    return t + strcspn(t, "/?");
}

int http_req_parse_target(struct http_request *r)
{
    const char *t = http_req_str(r, 0);
    if (strcmp(t, "*") == 0) {
        r->path_buf = xstrdup("*");
        r->path = r->path_buf;
        return 0;
    }
    if (t[0] != '/') {
        t = req_target_skip_authority(t);
        if (!t)
            return -1;
    }
    size_t n = strcspn(t, "?");
    r->query = t[n] == '?' ? t + n + 1 : NULL;
    struct sbuf p = SBUF_INIT;
    if (n == 0)
        sbuf_putc(&p, '/');
    if (req_unescape(&p, t, n, false, false, NULL) != 0) {
        sbuf_free(&p);
        return -1;
    }
    r->path_buf = sbuf_detach(&p);
    r->path = r->path_buf;
    return 0;
}

/* ---- parameters ---- */

static void req_param_push(struct http_request *r, size_t name, size_t value)
{
    if (r->nparams == r->param_cap) {
        r->param_cap = r->param_cap ? 2 * r->param_cap : 8;
        r->params = xrealloc(r->params, r->param_cap * sizeof *r->params);
    }
    r->params[r->nparams].name = name;
    r->params[r->nparams].value = value;
    r->nparams++;
}

/* One "key=value" pair (no '&'). */
static int req_param_parse_pair(struct http_request *r, const char *s, size_t n, struct sbuf *err)
{
    if (memchr(s, ';', n)) {
        sbuf_puts(err, "invalid semicolon separator in query");
        return -1;
    }
    const char *eq = memchr(s, '=', n);
    size_t kn = eq ? (size_t)(eq - s) : n;
    size_t name = r->form.len;
    if (req_unescape(&r->form, s, kn, true, true, err) != 0)
        return -1;
    size_t value = r->form.len;
    const char *v = eq ? eq + 1 : s + n;
    if (req_unescape(&r->form, v, (size_t)(s + n - v), true, true, err) != 0)
        return -1;
    req_param_push(r, name, value);
    return 0;
}

static int req_param_parse(struct http_request *r, const char *s, size_t n, struct sbuf *err)
{
    const char *end = s + n;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        const char *seg_end = amp ? amp : end;
        if (seg_end > s && req_param_parse_pair(r, s, (size_t)(seg_end - s), err) != 0)
            return -1;
        s = seg_end + 1;
    }
    return 0;
}

/* Whether the body is an application/x-www-form-urlencoded form to parse. */
static bool req_body_is_form(const struct http_request *r)
{
    if (strcmp(r->method, "POST") != 0 && strcmp(r->method, "PUT") != 0 &&
        strcmp(r->method, "PATCH") != 0)
        return false;
    const char *ct = http_request_header(r, "Content-Type");
    if (!ct)
        return false;
    static const char form[] = "application/x-www-form-urlencoded";
    ct += strspn(ct, " \t");
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        n--;
    return n == sizeof form - 1 && strncasecmp(ct, form, n) == 0;
}

int http_req_parse_params(struct http_request *r, struct sbuf *err)
{
    if (req_body_is_form(r) && r->body.len > 0 &&
        req_param_parse(r, r->body.data, r->body.len, err) != 0)
        return -1;
    if (r->query && req_param_parse(r, r->query, strlen(r->query), err) != 0)
        return -1;
    return 0;
}

/* ---- public accessors ---- */

const char *http_request_method(const struct http_request *r)
{
    return r->method;
}

const char *http_request_path(const struct http_request *r)
{
    return r->path;
}

const char *http_request_raw_target(const struct http_request *r)
{
    return http_req_str(r, 0);
}

const char *http_request_header(const struct http_request *r, const char *name)
{
    for (size_t i = 0; i < r->nhdrs; i++)
        if (strcasecmp(http_req_str(r, r->hdrs[i].name), name) == 0)
            return http_req_str(r, r->hdrs[i].value);
    return NULL;
}

const char *http_request_param(const struct http_request *r, const char *name)
{
    const char *v = NULL;
    http_request_param_all(r, name, &v, 1);
    return v;
}

size_t http_request_param_all(const struct http_request *r, const char *name, const char **vals,
                              size_t max)
{
    size_t count = 0;
    for (size_t i = 0; i < r->nparams; i++) {
        if (strcmp(r->form.data + r->params[i].name, name) != 0)
            continue;
        if (count < max)
            vals[count] = r->form.data + r->params[i].value;
        count++;
    }
    return count;
}

const char *http_request_body(const struct http_request *r, size_t *len)
{
    if (len)
        *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

const char *http_request_remote_addr(const struct http_request *r)
{
    return r->remote;
}

const volatile int *http_request_gone_flag(const struct http_request *r)
{
    return &r->client_gone;
}
