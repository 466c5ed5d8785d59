/* am_util.c — the Go behaviours the alertmanager.yml loader must copy.
 *
 * Alertmanager is Go; what it accepts is partly decided by Go's standard
 * library, so these are careful re-implementations of exactly the checks
 * that can reject a config: url.Parse (control bytes, scheme, authority,
 * host characters, ports, % escapes), net.SplitHostPort, time.ParseDuration
 * and Prometheus's model.ParseDuration range (a time.Duration holds ~292
 * years of nanoseconds).  Messages follow Go's wording so that a user who
 * knows amtool's errors recognises ours.
 *
 * Also the small decoders every other am_*.c file uses in field tables. */
#include "conf/am_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/duration.h"
#include "util/sbuf.h"

int am_fail_at(struct ydec *d, const struct ynode *map, const char *field, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const struct ynode *v = ynode_get(map, field);
    if (!v)
        return ydec_fail(d, map, "%s", what);
    size_t old = ydec_push_field(d, field);
    ydec_fail(d, v, "%s", what);
    ydec_pop(d, old);
    return -1;
}

bool am_field_null(const struct ynode *map, const char *key)
{
    const struct ynode *v = ynode_get(map, key);
    return v && v->kind == YNODE_NULL;
}

bool am_label_name_valid(const char *s)
{
    if (!s || !*s)
        return false;
    for (size_t i = 0; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!(isalpha(c) || c == '_' || (i > 0 && isdigit(c))))
            return false;
    }
    return true;
}

char *am_path_join(const char *dir, const char *p)
{
    if (!p)
        return NULL;
    if (!dir || !*p || p[0] == '/' || strcmp(dir, ".") == 0)
        return xstrdup(p);
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, dir);
    if (b.len && b.data[b.len - 1] != '/')
        sbuf_putc(&b, '/');
    const char *q = p;
    while (q[0] == '.' && q[1] == '/') /* "./x" joins as "x" */
        q += 2;
    sbuf_puts(&b, q);
    return sbuf_detach(&b);
}

void am_path_resolve(const struct ydec *d, char **p)
{
    const char *dir = ((const struct am_dec *)d)->dir;
    if (!*p || !dir)
        return;
    char *j = am_path_join(dir, *p);
    free(*p);
    *p = j;
}

/* ---- decoders ---- */

int am_dec_strlist(struct ydec *d, const struct ynode *n, void *out)
{
    struct ystrlist *l = out;
    if (n->kind != YNODE_SEQ)
        return ydec_fail(d, n, "expected a list of strings, got %s",
                         n->kind == YNODE_MAP ? "a mapping" : "a scalar");
    ystrlist_free(l);
    l->v = xcalloc(n->n ? n->n : 1, sizeof *l->v);
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        if (it->kind != YNODE_SCALAR && it->kind != YNODE_NULL) {
            size_t old = ydec_push_index(d, i);
            ydec_fail(d, it, "expected a string, got %s",
                      it->kind == YNODE_MAP ? "a mapping" : "a list");
            ydec_pop(d, old);
            return -1;
        }
        l->v[l->n++] = xstrdup(it->kind == YNODE_NULL ? "" : it->s);
    }
    return 0;
}

static int want_string(struct ydec *d, const struct ynode *n, const char *what)
{
    if (n->kind == YNODE_SCALAR)
        return 0;
    return ydec_fail(d, n, "expected %s, got %s", what,
                     n->kind == YNODE_MAP ? "a mapping" : "a list");
}

/* Time.Duration's limit in milliseconds (2^63-1 ns). */
#define AM_MAX_DURATION_MS (INT64_MAX / 1000000)

int am_dec_duration(struct ydec *d, const struct ynode *n, void *out)
{
    if (want_string(d, n, "a duration") < 0)
        return -1;
    if (!*n->s)
        return ydec_fail(d, n, "empty duration string");
    int64_t ms;
    if (duration_parse(n->s, &ms) < 0)
        return ydec_fail(d, n, "\"%s\" is not a valid duration", n->s);
    if (ms > AM_MAX_DURATION_MS)
        return ydec_fail(d, n, "\"%s\": duration out of range", n->s);
    *(int64_t *)out = ms;
    return 0;
}

int am_dec_go_duration(struct ydec *d, const struct ynode *n, void *out)
{
    if (want_string(d, n, "a duration") < 0)
        return -1;
    char why[256];
    int64_t ns;
    if (am_go_duration_parse(n->s, &ns, why, sizeof why) < 0)
        return ydec_fail(d, n, "%s", why);
    *(int64_t *)out = ns;
    return 0;
}

/* go-yaml v2's reading of a plain scalar as a number: integers in any of
 * its bases (0x, 0o, 0 for octal, 0b), underscores ignored, and floats, which
 * it truncates into integer fields.  0 int, 1 float, -1 neither. */
static int go_yaml_number(const char *in, int64_t *iv, double *fv)
{
    char s[128];
    size_t k = 0;
    for (const char *p = in; *p && k + 1 < sizeof s; p++)
        if (*p != '_')
            s[k++] = *p;
    s[k] = '\0';
    const char *digits = s + (s[0] == '-' || s[0] == '+');
    char *end;
    errno = 0;
    if (digits[0] == '0' && (digits[1] == 'b' || digits[1] == 'o')) {
        unsigned long long v = strtoull(digits + 2, &end, digits[1] == 'b' ? 2 : 8);
        if (!errno && end != digits + 2 && !*end && v <= INT64_MAX) {
            *iv = s[0] == '-' ? -(int64_t)v : (int64_t)v;
            return 0;
        }
        return -1;
    }
    long long v = strtoll(s, &end, 0);
    if (!errno && end != s && !*end)
        return *iv = v, 0;
    size_t span = strspn(digits, "0123456789.eE+-");
    if (digits[span] || !strpbrk(digits, "0123456789") || strchr(s, 'x') || strchr(s, 'X'))
        return -1;
    errno = 0;
    *fv = strtod(s, &end);
    return !errno && end != s && !*end ? 1 : -1;
}

int am_dec_int(struct ydec *d, const struct ynode *n, void *out)
{
    int64_t iv;
    double fv;
    int kind = n->kind == YNODE_SCALAR && !n->quoted ? go_yaml_number(n->s, &iv, &fv) : -1;
    if (kind < 0 || (kind == 1 && (fv >= 9.2233720368547758e18 || fv < -9.2233720368547758e18)))
        return ydec_fail(d, n, "cannot unmarshal \"%s\" into an integer",
                         n->kind == YNODE_SCALAR ? n->s : "");
    *(int64_t *)out = kind == 1 ? (int64_t)fv : iv;
    return 0;
}

int am_dec_uint(struct ydec *d, const struct ynode *n, void *out)
{
    int64_t v;
    if (am_dec_int(d, n, &v) < 0)
        return -1;
    if (v < 0 || (n->s[0] == '-' && strcmp(n->s, "-0") != 0))
        return ydec_fail(d, n, "cannot unmarshal \"%s\" into an unsigned integer", n->s);
    *(uint64_t *)out = (uint64_t)v;
    return 0;
}

int am_dec_url(struct ydec *d, const struct ynode *n, void *out)
{
    if (want_string(d, n, "a URL") < 0)
        return -1;
    char why[512];
    if (am_url_problem(n->s, why, sizeof why))
        return ydec_fail(d, n, "%s", why);
    char **p = out;
    free(*p);
    *p = xstrdup(n->s);
    return 0;
}

int am_dec_secret_url(struct ydec *d, const struct ynode *n, void *out)
{
    if (n->kind == YNODE_SCALAR && strcmp(n->s, "<secret>") == 0) {
        char **p = out;
        free(*p);
        *p = xstrdup(n->s);
        return 0;
    }
    return am_dec_url(d, n, out);
}

int am_dec_hostport(struct ydec *d, const struct ynode *n, void *out)
{
    if (want_string(d, n, "host:port") < 0)
        return -1;
    struct am_hostport *hp = out;
    free(hp->host);
    free(hp->port);
    hp->host = hp->port = NULL;
    if (!*n->s)
        return 0;
    char why[512];
    if (am_hostport_split(n->s, &hp->host, &hp->port, why, sizeof why) < 0)
        return ydec_fail(d, n, "%s", why);
    return 0;
}

int am_dec_path(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_string(d, n, out) < 0)
        return -1;
    am_path_resolve(d, out);
    return 0;
}

/* ---- net/url ---- */

static bool is_hex(char c)
{
    return isxdigit((unsigned char)c) != 0;
}

static int hex_val(char c)
{
    return isdigit((unsigned char)c) ? c - '0' : (tolower((unsigned char)c) - 'a' + 10);
}

/* Go's unescape() validity checks; host mode adds the host rules. */
static const char *url_unescape_problem(const char *s, size_t len, bool host, char *buf, size_t n)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= len || !is_hex(s[i + 1]) || !is_hex(s[i + 2])) {
                size_t k = len - i < 3 ? len - i : 3;
                snprintf(buf, n, "invalid URL escape \"%.*s\"", (int)k, s + i);
                return buf;
            }
            if (host && hex_val(s[i + 1]) < 8 && strncmp(s + i, "%25", 3) != 0) {
                snprintf(buf, n, "invalid URL escape \"%.3s\"", s + i);
                return buf;
            }
            i += 2;
            continue;
        }
        if (!host || c >= 0x80 || isalnum(c) || strchr("!$&'()*+,;=:[]<>\"-_.~", c))
            continue;
        snprintf(buf, n, "invalid character \"%c\" in host name", c);
        return buf;
    }
    return NULL;
}

static bool url_port_ok(const char *p, size_t len)
{
    if (len == 0)
        return true;
    if (p[0] != ':')
        return false;
    for (size_t i = 1; i < len; i++)
        if (!isdigit((unsigned char)p[i]))
            return false;
    return true;
}

static const char *url_host_problem(const char *h, size_t len, char *buf, size_t n)
{
    const char *port = NULL;
    if (len && h[0] == '[') {
        const char *rb = NULL;
        for (size_t i = len; i-- > 0;)
            if (h[i] == ']') {
                rb = h + i;
                break;
            }
        if (!rb) {
            snprintf(buf, n, "missing ']' in host");
            return buf;
        }
        port = rb + 1;
    } else {
        for (size_t i = len; i-- > 0;)
            if (h[i] == ':') {
                port = h + i;
                break;
            }
    }
    if (port && !url_port_ok(port, (size_t)(h + len - port))) {
        snprintf(buf, n, "invalid port \"%.*s\" after host", (int)(h + len - port), port);
        return buf;
    }
    return url_unescape_problem(h, len, true, buf, n);
}

static bool url_userinfo_ok(const char *u, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)u[i];
        if (!isalnum(c) && !strchr("-._:~!$&'()*+,;=%@", c))
            return false;
    }
    return true;
}

/* Parses the part before '#'; sets *scheme_len and host bounds. */
static const char *url_parse_main(const char *s, size_t len, size_t *scheme_len, const char **host,
                                  size_t *host_len, char *buf, size_t n)
{
    *scheme_len = 0;
    *host = NULL;
    *host_len = 0;
    size_t i = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (isalpha((unsigned char)c))
            continue;
        if (isdigit((unsigned char)c) || c == '+' || c == '-' || c == '.') {
            if (i == 0)
                break;
            continue;
        }
        if (c == ':') {
            if (i == 0) {
                snprintf(buf, n, "missing protocol scheme");
                return buf;
            }
            *scheme_len = i;
        }
        break;
    }
    const char *rest = *scheme_len ? s + *scheme_len + 1 : s;
    size_t rlen = len - (size_t)(rest - s);
    const char *q = memchr(rest, '?', rlen);
    if (q)
        rlen = (size_t)(q - rest);
    if (rlen == 0 || rest[0] != '/') {
        if (*scheme_len)
            return NULL; /* opaque: "mailto:x" */
        const char *slash = memchr(rest, '/', rlen);
        size_t seg = slash ? (size_t)(slash - rest) : rlen;
        if (memchr(rest, ':', seg)) {
            snprintf(buf, n, "first path segment in URL cannot contain colon");
            return buf;
        }
    }
    if (rlen >= 2 && rest[0] == '/' && rest[1] == '/' &&
        (*scheme_len || rlen < 3 || rest[2] != '/')) {
        const char *auth = rest + 2;
        const char *end = memchr(auth, '/', rlen - 2);
        size_t alen = end ? (size_t)(end - auth) : rlen - 2;
        const char *at = NULL;
        for (size_t k = alen; k-- > 0;)
            if (auth[k] == '@') {
                at = auth + k;
                break;
            }
        if (at && !url_userinfo_ok(auth, (size_t)(at - auth))) {
            snprintf(buf, n, "net/url: invalid userinfo");
            return buf;
        }
        *host = at ? at + 1 : auth;
        *host_len = alen - (size_t)(*host - auth);
        if (url_host_problem(*host, *host_len, buf, n))
            return buf;
        rest = auth + alen;
        rlen -= alen + 2;
    }
    return url_unescape_problem(rest, rlen, false, buf, n);
}

static const char *url_parse_problem_ex(const char *s, size_t *scheme_len, const char **host,
                                        size_t *host_len, char *buf, size_t n)
{
    char why[256];
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            snprintf(buf, n, "parse \"%s\": net/url: invalid control character in URL", s);
            return buf;
        }
    }
    const char *hash = strchr(s, '#');
    size_t len = hash ? (size_t)(hash - s) : strlen(s);
    const char *p = url_parse_main(s, len, scheme_len, host, host_len, why, sizeof why);
    if (!p && hash)
        p = url_unescape_problem(hash + 1, strlen(hash + 1), false, why, sizeof why);
    if (!p)
        return NULL;
    snprintf(buf, n, "parse \"%s\": %s", s, why);
    return buf;
}

const char *am_url_parse_problem(const char *s, char *buf, size_t n)
{
    size_t sl, hl;
    const char *h;
    return url_parse_problem_ex(s, &sl, &h, &hl, buf, n);
}

const char *am_url_problem(const char *s, char *buf, size_t n)
{
    size_t sl, hl;
    const char *h;
    if (url_parse_problem_ex(s, &sl, &h, &hl, buf, n))
        return buf;
    char scheme[16] = "";
    if (sl < sizeof scheme) {
        for (size_t i = 0; i < sl; i++)
            scheme[i] = (char)tolower((unsigned char)s[i]);
        scheme[sl] = '\0';
    }
    if (sl >= sizeof scheme || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        snprintf(buf, n, "unsupported scheme \"%.*s\" for URL", (int)sl, s);
        return buf;
    }
    if (!h || hl == 0) {
        snprintf(buf, n, "missing host for URL");
        return buf;
    }
    return NULL;
}

/* ---- net.SplitHostPort ---- */

static int hostport_fail(const char *s, const char *why, char *buf, size_t n)
{
    snprintf(buf, n, "address %s: %s", s, why);
    return -1;
}

int am_hostport_split(const char *s, char **host, char **port, char *buf, size_t n)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return hostport_fail(s, "missing port in address", buf, n);
    size_t hs = 0, he, j = 0, k = 0;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (!rb)
            return hostport_fail(s, "missing ']' in address", buf, n);
        if (rb[1] == '\0')
            return hostport_fail(s, "missing port in address", buf, n);
        if (rb + 1 != colon)
            return hostport_fail(
                s, rb[1] == ':' ? "too many colons in address" : "missing port in address", buf, n);
        hs = 1;
        he = (size_t)(rb - s);
        j = 1;
        k = he + 1;
    } else {
        he = (size_t)(colon - s);
        if (memchr(s, ':', he))
            return hostport_fail(s, "too many colons in address", buf, n);
    }
    if (strchr(s + j, '['))
        return hostport_fail(s, "unexpected '[' in address", buf, n);
    if (strchr(s + k, ']'))
        return hostport_fail(s, "unexpected ']' in address", buf, n);
    if (colon[1] == '\0') {
        snprintf(buf, n, "address \"%s\": port cannot be empty", s);
        return -1;
    }
    *host = xstrndup(s + hs, he - hs);
    *port = xstrdup(colon + 1);
    return 0;
}

/* ---- time.ParseDuration ---- */

struct go_unit {
    const char *name;
    double ns;
};

static const struct go_unit go_units[] = {
    {"ns", 1},   {"us", 1e3}, {"\xc2\xb5s", 1e3}, {"\xce\xbcs", 1e3},
    {"ms", 1e6}, {"s", 1e9},  {"m", 60e9},        {"h", 3600e9},
};

static int go_dur_fail(const char *what, const char *s, char *buf, size_t n)
{
    snprintf(buf, n, "time: %s \"%s\"", what, s);
    return -1;
}

/* One <number><unit> term at *p; adds its nanoseconds to *total. */
static int go_duration_term(const char **p, const char *orig, double *total, char *buf, size_t n)
{
    const char *s = *p;
    if (!(*s == '.' || isdigit((unsigned char)*s)))
        return go_dur_fail("invalid duration", orig, buf, n);
    const char *start = s;
    while (isdigit((unsigned char)*s))
        s++;
    bool pre = s != start, post = false;
    if (*s == '.') {
        const char *f = ++s;
        while (isdigit((unsigned char)*s))
            s++;
        post = s != f;
    }
    if (!pre && !post)
        return go_dur_fail("invalid duration", orig, buf, n);
    double v = strtod(start, NULL);
    const char *u = s;
    while (*s && *s != '.' && !isdigit((unsigned char)*s))
        s++;
    if (s == u)
        return go_dur_fail("missing unit in duration", orig, buf, n);
    for (size_t i = 0; i < sizeof go_units / sizeof *go_units; i++) {
        if (strlen(go_units[i].name) == (size_t)(s - u) &&
            strncmp(go_units[i].name, u, (size_t)(s - u)) == 0) {
            *total += v * go_units[i].ns;
            *p = s;
            return 0;
        }
    }
    snprintf(buf, n, "time: unknown unit \"%.*s\" in duration \"%s\"", (int)(s - u), u, orig);
    return -1;
}

int am_go_duration_parse(const char *s, int64_t *ns, char *buf, size_t n)
{
    const char *p = s;
    bool neg = false;
    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (strcmp(p, "0") == 0) {
        *ns = 0;
        return 0;
    }
    if (!*p)
        return go_dur_fail("invalid duration", s, buf, n);
    double total = 0;
    while (*p)
        if (go_duration_term(&p, s, &total, buf, n) < 0)
            return -1;
    if (total > 9223372036854775807.0)
        return go_dur_fail("invalid duration", s, buf, n);
    *ns = neg ? -(int64_t)total : (int64_t)total;
    return 0;
}
