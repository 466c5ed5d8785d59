/* prom_util.c — small pieces the Prometheus config decoders share.
 *
 * Paths are joined the way Go's filepath.Join does (join, then Clean:
 * collapse "//", drop ".", fold "x/..") so that a rule file named in
 * prometheus.yml resolves to the same string as in Prometheus.  External
 * label values are expanded like Go's os.Expand ($VAR, ${VAR}, $$).  Name
 * validation follows Prometheus 3: UTF-8 by default, the legacy character
 * sets on request.  URLs get the subset of Go's url.Parse checks that a
 * hand-written config can trip over (missing scheme, control characters,
 * bad %-escapes, a non-numeric port). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/prom_internal.h"
#include "util/sbuf.h"

int prom_fail_at(struct ydec *d, const struct ynode *map, const char *field, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    const struct ynode *v = field ? ynode_get(map, field) : NULL;
    if (!v)
        return ydec_fail(d, map, "%s", what);
    ydec_push_field(d, field);
    return ydec_fail(d, v, "%s", what);
}

bool prom_field_seen(const struct yfield *fields, const bool *seen, const char *name)
{
    for (size_t i = 0; fields[i].name; i++)
        if (strcmp(fields[i].name, name) == 0)
            return seen[i];
    return false;
}

/* ---- paths ---- */

/* Go's path.Clean for '/'-separated paths, in place into out (which has
 * room for strlen(p) + 2 bytes). */
static void path_clean(const char *p, char *out)
{
    bool rooted = p[0] == '/';
    size_t w = 0, dotdot = 0; /* dotdot: where ".." can no longer be folded */
    if (rooted)
        out[w++] = '/', dotdot = 1;
    for (size_t r = 0; p[r];) {
        if (p[r] == '/') {
            r++;
        } else if (p[r] == '.' && (p[r + 1] == '/' || !p[r + 1])) {
            r++;
        } else if (p[r] == '.' && p[r + 1] == '.' && (p[r + 2] == '/' || !p[r + 2])) {
            r += 2;
            if (w > dotdot) {
                w--;
                while (w > dotdot && out[w] != '/')
                    w--;
            } else if (!rooted) {
                if (w > 0)
                    out[w++] = '/';
                out[w++] = '.';
                out[w++] = '.';
                dotdot = w;
            }
        } else {
            if ((rooted && w != 1) || (!rooted && w != 0))
                out[w++] = '/';
            while (p[r] && p[r] != '/')
                out[w++] = p[r++];
        }
    }
    if (w == 0)
        out[w++] = '.';
    out[w] = '\0';
}

char *prom_path_clean(const char *path)
{
    char *clean = xmalloc(strlen(path) + 4);
    path_clean(path, clean);
    return clean;
}

char *prom_path_join(const char *dir, const char *path)
{
    if (!path)
        return NULL;
    if (!dir || path[0] == '/' || path[0] == '\0')
        return xstrdup(path);
    size_t dl = strlen(dir), pl = strlen(path);
    char *joined = xmalloc(dl + pl + 2);
    memcpy(joined, dir, dl);
    joined[dl] = '/';
    memcpy(joined + dl + 1, path, pl + 1);
    char *clean = xmalloc(dl + pl + 4);
    path_clean(joined, clean);
    free(joined);
    return clean;
}

void prom_path_resolve(const char *dir, char **p)
{
    if (!*p || !dir)
        return;
    char *j = prom_path_join(dir, *p);
    free(*p);
    *p = j;
}

int prom_dec_path(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_string(d, n, out) < 0)
        return -1;
    prom_path_resolve(prom_dec_of(d)->dir, out);
    return 0;
}

int prom_dec_present(struct ydec *d, const struct ynode *n, void *out)
{
    (void)d;
    *(bool *)out = !ynode_is_null(n);
    return 0;
}

/* ---- names ---- */

bool prom_utf8_is_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        size_t len;
        unsigned min;
        if (c < 0x80) {
            p++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            len = 2, min = 0x80, c &= 0x1F;
        } else if ((c & 0xF0) == 0xE0) {
            len = 3, min = 0x800, c &= 0x0F;
        } else if ((c & 0xF8) == 0xF0) {
            len = 4, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            c = (c << 6) | (p[i] & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
            return false;
        p += len;
    }
    return true;
}

static bool name_is_legacy(const char *s, bool colons)
{
    if (!*s)
        return false;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        bool ok = isalpha(c) || c == '_' || (colons && c == ':') || (p != s && isdigit(c));
        if (!ok || c >= 0x80)
            return false;
    }
    return true;
}

bool prom_label_name_is_valid(const char *name, enum prom_name_validation scheme)
{
    if (scheme == PROM_NAMES_LEGACY)
        return name_is_legacy(name, false);
    return *name && prom_utf8_is_valid(name);
}

bool prom_metric_name_is_valid(const char *name, enum prom_name_validation scheme)
{
    if (scheme == PROM_NAMES_LEGACY)
        return name_is_legacy(name, true);
    return *name && prom_utf8_is_valid(name);
}

int prom_dec_scheme(struct ydec *d, const struct ynode *n, void *out)
{
    char *s = NULL;
    if (ydec_string(d, n, &s) < 0)
        return -1;
    int rc = 0;
    if (!s || !*s)
        ; /* "": leave the default */
    else if (strcmp(s, "utf8") == 0)
        *(enum prom_name_validation *)out = PROM_NAMES_UTF8;
    else if (strcmp(s, "legacy") == 0)
        *(enum prom_name_validation *)out = PROM_NAMES_LEGACY;
    else
        rc = ydec_fail(d, n, "unrecognized ValidationScheme: \"%s\"", s);
    free(s);
    return rc;
}

/* ---- environment expansion (os.Expand) ---- */

static bool shell_special(char c)
{
    return strchr("*#$@!?-", c) || isdigit((unsigned char)c);
}

/* Returns the length of the name after '$' and how many bytes it used. */
static size_t shell_name(const char *s, const char **name, size_t *used)
{
    if (s[0] == '{') {
        if (s[1] && shell_special(s[1]) && s[2] == '}') {
            *name = s + 1, *used = 3;
            return 1;
        }
        for (size_t i = 1; s[i]; i++) {
            if (s[i] == '}') {
                *name = s + 1, *used = i + 1;
                return i == 1 ? 0 : i - 1; /* "${}" is eaten */
            }
        }
        *name = s, *used = 1; /* "${" without "}" is eaten */
        return 0;
    }
    if (shell_special(s[0])) {
        *name = s, *used = 1;
        return 1;
    }
    size_t i = 0;
    while (isalnum((unsigned char)s[i]) || s[i] == '_')
        i++;
    *name = s, *used = i;
    return i;
}

char *prom_env_expand(const char *s)
{
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "");
    for (const char *p = s; *p; p++) {
        if (*p != '$' || !p[1]) {
            sbuf_putc(&b, *p);
            continue;
        }
        const char *name;
        size_t used, len = shell_name(p + 1, &name, &used);
        if (len == 0 && used == 0) {
            sbuf_putc(&b, '$'); /* "$" followed by no name stays */
        } else if (len > 0) {
            char *var = xstrndup(name, len);
            const char *val = strcmp(var, "$") == 0 ? "$" : getenv(var);
            sbuf_puts(&b, val ? val : "");
            free(var);
        }
        p += used;
    }
    return sbuf_detach(&b);
}

/* ---- URLs ---- */

static bool url_has_bad_escape(const char *s)
{
    for (const char *p = s; *p; p++)
        if (*p == '%' && !(isxdigit((unsigned char)p[1]) && isxdigit((unsigned char)p[2])))
            return true;
    return false;
}

static const char *url_port_problem(const char *s)
{
    const char *auth = strstr(s, "//");
    if (!auth)
        return NULL;
    auth += 2;
    size_t alen = strcspn(auth, "/?#");
    const char *at = memrchr(auth, '@', alen);
    const char *host = at ? at + 1 : auth;
    size_t hlen = alen - (size_t)(host - auth);
    const char *close = memchr(host, ']', hlen);
    const char *colon =
        memrchr(close ? close : host, ':', hlen - (size_t)((close ? close : host) - host));
    if (!colon)
        return NULL;
    for (const char *q = colon + 1; q < host + hlen; q++)
        if (!isdigit((unsigned char)*q))
            return "invalid port after host";
    return NULL;
}

const char *prom_url_problem(const char *s)
{
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return "net/url: invalid control character in URL";
    if (s[0] == ':')
        return "missing protocol scheme";
    if (url_has_bad_escape(s))
        return "invalid URL escape";
    return url_port_problem(s);
}

/* ---- scrape protocols ---- */

static const struct {
    const char *name, *header;
} scrape_protocols[] = {
    [PROM_PROTO_PROMETHEUS_PROTO] = {"PrometheusProto",
                                     "application/vnd.google.protobuf;"
                                     "proto=io.prometheus.client.MetricFamily;encoding=delimited"},
    [PROM_PROTO_PROMETHEUS_TEXT_0_0_4] = {"PrometheusText0.0.4", "text/plain;version=0.0.4"},
    [PROM_PROTO_PROMETHEUS_TEXT_1_0_0] = {"PrometheusText1.0.0", "text/plain;version=1.0.0"},
    [PROM_PROTO_OPENMETRICS_TEXT_0_0_1] = {"OpenMetricsText0.0.1",
                                           "application/openmetrics-text;version=0.0.1"},
    [PROM_PROTO_OPENMETRICS_TEXT_1_0_0] = {"OpenMetricsText1.0.0",
                                           "application/openmetrics-text;version=1.0.0"},
};

const char *prom_scrape_protocol_name(enum prom_scrape_protocol p)
{
    return p > PROM_PROTO_NONE && p <= PROM_PROTO_OPENMETRICS_TEXT_1_0_0 ? scrape_protocols[p].name
                                                                         : "";
}

const char *prom_scrape_protocol_header(enum prom_scrape_protocol p)
{
    return p > PROM_PROTO_NONE && p <= PROM_PROTO_OPENMETRICS_TEXT_1_0_0
               ? scrape_protocols[p].header
               : "";
}

#define SUPPORTED_PROTOCOLS                                                                        \
    "[OpenMetricsText0.0.1 OpenMetricsText1.0.0 PrometheusProto PrometheusText0.0.4 "              \
    "PrometheusText1.0.0]"

int prom_dec_protocol(struct ydec *d, const struct ynode *n, void *out)
{
    if (n->kind != YNODE_SCALAR)
        return ydec_fail(d, n, "expected a scrape protocol, got a %s",
                         n->kind == YNODE_SEQ ? "list" : "mapping");
    for (int p = PROM_PROTO_PROMETHEUS_PROTO; p <= PROM_PROTO_OPENMETRICS_TEXT_1_0_0; p++) {
        if (strcmp(n->s, scrape_protocols[p].name) == 0) {
            *(enum prom_scrape_protocol *)out = (enum prom_scrape_protocol)p;
            return 0;
        }
    }
    return ydec_fail(d, n, "unknown scrape protocol %s, supported: " SUPPORTED_PROTOCOLS, n->s);
}

int prom_dec_protocols(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_scrape_protocols *l = out;
    if (n->kind != YNODE_SEQ)
        return ydec_fail(d, n, "expected a list of scrape protocols");
    if (n->n == 0)
        return ydec_fail(d, n, "scrape_protocols cannot be empty");
    l->n = 0;
    for (size_t i = 0; i < n->n; i++) {
        enum prom_scrape_protocol p;
        size_t old = ydec_push_index(d, i);
        if (prom_dec_protocol(d, n->items[i], &p) < 0)
            return -1;
        for (size_t j = 0; j < l->n; j++)
            if (l->v[j] == p)
                return ydec_fail(d, n->items[i], "duplicated protocol in scrape_protocols: %s",
                                 n->items[i]->s);
        ydec_pop(d, old);
        l->v[l->n++] = p;
    }
    return 0;
}

/* ---- name -> list of strings (params, proxy_connect_header) ---- */

int prom_dec_named_lists(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_named_list **v = out;
    size_t *count = (size_t *)((char *)out + sizeof(struct prom_named_list *));
    if (n->kind != YNODE_MAP)
        return ydec_fail(d, n, "expected a mapping of names to lists of strings");
    prom_named_lists_free(*v, *count);
    *v = xcalloc(n->n ? n->n : 1, sizeof **v);
    *count = 0;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *val = n->items[2 * i + 1];
        if (k->kind != YNODE_SCALAR)
            return ydec_fail(d, k, "mapping keys must be strings");
        struct prom_named_list *e = &(*v)[(*count)++];
        e->name = xstrdup(k->s);
        if (ynode_is_null(val))
            continue;
        size_t old = ydec_push_field(d, k->s);
        if (ydec_strlist(d, val, &e->values) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

void prom_named_lists_free(struct prom_named_list *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        ystrlist_free(&v[i].values);
    }
    free(v);
}
