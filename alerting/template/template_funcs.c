/* template_funcs.c — Prometheus's template functions (template/template.go).
 *
 * The funcMap Prometheus installs for rule annotations and console
 * templates: query and the query-result helpers (first, label, value,
 * strvalue, sortByLabel), the humanize* family, string helpers (title,
 * toUpper, toLower, reReplaceAll, match, stripPort, stripDomain, safeHtml,
 * args), time helpers (now, humanizeTimestamp, toTime, toDuration,
 * parseDuration) and URL helpers (externalURL, pathPrefix, graphLink,
 * tableLink).  Numeric arguments go through convertToFloat as in
 * Prometheus: float64 and int as they are, strings by strconv.ParseFloat,
 * anything else "can't convert T to float".  The table's ctx is the
 * struct tmpl_prom_data of the expansion. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#include "alerting/template/template_regex.h"
#include "util/duration.h"
#include "util/gostrconv.h"

struct tmpl_samples {
    struct tmpl_heap *heap;
    struct tmpl_value *list;
};

void tmpl_samples_add(struct tmpl_samples *s, const struct labels *ls, double v)
{
    tmpl_list_append(s->heap, s->list, tmpl_value_sample(s->heap, ls, v));
}

static int fail(struct tmpl_call *c, const char *msg)
{
    snprintf(c->err, c->errsz, "%s", msg);
    return -1;
}

static const struct tmpl_value *str_result(struct tmpl_call *c, const char *s, size_t n)
{
    return tmpl_value_stringn(c->heap, s, n);
}

static int sbuf_result(struct tmpl_call *c, struct sbuf *b, const struct tmpl_value **res)
{
    *res = str_result(c, b->data ? b->data : "", b->len);
    sbuf_free(b);
    return 0;
}

/* ---- Numbers ---------------------------------------------------------- */

/* strconv.ParseFloat(s, 64). */
static int parse_float(struct tmpl_call *c, const char *s, size_t n, double *out)
{
    char buf[128];
    size_t len = 0;
    bool ok = n > 0 && n < sizeof buf && go_underscore_ok(s, n);
    for (size_t i = 0; ok && i < n; i++)
        if (s[i] != '_')
            buf[len++] = s[i];
    buf[len] = '\0';
    if (ok) { /* strtod accepts more than Go: leading space, "infinity(", "nan(...)" */
        const char *p = buf + (buf[0] == '+' || buf[0] == '-');
        if (!(isdigit((unsigned char)*p) || *p == '.' || strcasecmp(p, "inf") == 0 ||
              strcasecmp(p, "infinity") == 0 || strcasecmp(p, "nan") == 0))
            ok = false;
    }
    struct sbuf q = SBUF_INIT;
    tmpl_quote(&q, s, n);
    if (ok) {
        char *end;
        errno = 0;
        double v = strtod(buf, &end);
        if (end == buf + len && len > 0) {
            if (errno == ERANGE && isinf(v)) {
                snprintf(c->err, c->errsz, "strconv.ParseFloat: parsing %s: value out of range",
                         q.data);
                sbuf_free(&q);
                return -1;
            }
            *out = v;
            sbuf_free(&q);
            return 0;
        }
    }
    snprintf(c->err, c->errsz, "strconv.ParseFloat: parsing %s: invalid syntax", q.data);
    sbuf_free(&q);
    return -1;
}

/* Prometheus's convertToFloat. */
static int to_float(struct tmpl_call *c, const struct tmpl_value *v, double *out)
{
    switch (v->kind) {
    case TMPL_FLOAT:
        if (!v->type) {
            *out = v->u.f;
            return 0;
        }
        break;
    case TMPL_INT:
        if (!v->type || strcmp(v->type, "uint8") == 0) {
            *out = (double)v->u.i;
            return 0;
        }
        break;
    case TMPL_STRING:
        if (!v->type)
            return parse_float(c, v->u.s.p, v->u.s.n, out);
        break;
    default:
        break;
    }
    snprintf(c->err, c->errsz, "can't convert %s to float", tmpl_value_type(v));
    return -1;
}

/* fmt.Sprintf("%.4g<suffix>", v). */
static void put_4g(struct sbuf *b, double v, const char *suffix)
{
    struct tmpl_value fv = {.kind = TMPL_FLOAT};
    fv.u.f = v;
    const struct tmpl_value *argv[] = {&fv};
    tmpl_sprintf(b, "%.4g", 4, argv, 1);
    sbuf_puts(b, suffix);
}

static int fn_humanize(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                       const struct tmpl_value **res)
{
    (void)argc;
    double v;
    if (to_float(c, argv[0], &v) != 0)
        return -1;
    struct sbuf b = SBUF_INIT;
    const char *prefix = "";
    if (v == 0 || isnan(v) || isinf(v)) {
    } else if (fabs(v) >= 1) {
        static const char *const big[] = {"k", "M", "G", "T", "P", "E", "Z", "Y"};
        for (size_t i = 0; i < 8 && fabs(v) >= 1000; i++) {
            prefix = big[i];
            v /= 1000;
        }
    } else {
        static const char *const small[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
        for (size_t i = 0; i < 8 && fabs(v) < 1; i++) {
            prefix = small[i];
            v *= 1000;
        }
    }
    put_4g(&b, v, prefix);
    return sbuf_result(c, &b, res);
}

static int fn_humanize1024(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                           const struct tmpl_value **res)
{
    (void)argc;
    double v;
    if (to_float(c, argv[0], &v) != 0)
        return -1;
    struct sbuf b = SBUF_INIT;
    const char *prefix = "";
    if (!(fabs(v) <= 1 || isnan(v) || isinf(v))) {
        static const char *const big[] = {"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"};
        for (size_t i = 0; i < 8 && fabs(v) >= 1024; i++) {
            prefix = big[i];
            v /= 1024;
        }
    }
    put_4g(&b, v, prefix);
    return sbuf_result(c, &b, res);
}

/* Go's int64(f) on amd64: out-of-range values become INT64_MIN. */
static int64_t go_int64(double f)
{
    if (isnan(f) || f >= 9223372036854775808.0 || f < -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)f;
}

static int fn_humanize_duration(struct tmpl_call *c, const struct tmpl_value *const *argv,
                                size_t argc, const struct tmpl_value **res)
{
    (void)argc;
    double v;
    if (to_float(c, argv[0], &v) != 0)
        return -1;
    struct sbuf b = SBUF_INIT;
    if (isnan(v) || isinf(v)) {
        put_4g(&b, v, "");
    } else if (v == 0) {
        put_4g(&b, v, "s");
    } else if (fabs(v) >= 1) {
        const char *sign = "";
        if (v < 0) {
            sign = "-";
            v = -v;
        }
        int64_t d = go_int64(v);
        int64_t seconds = d % 60, minutes = (d / 60) % 60, hours = (d / 60 / 60) % 24,
                days = d / 60 / 60 / 24;
        if (days != 0)
            sbuf_printf(&b, "%s%lldd %lldh %lldm %llds", sign, (long long)days, (long long)hours,
                        (long long)minutes, (long long)seconds);
        else if (hours != 0)
            sbuf_printf(&b, "%s%lldh %lldm %llds", sign, (long long)hours, (long long)minutes,
                        (long long)seconds);
        else if (minutes != 0)
            sbuf_printf(&b, "%s%lldm %llds", sign, (long long)minutes, (long long)seconds);
        else {
            sbuf_puts(&b, sign);
            put_4g(&b, v, "s");
        }
    } else {
        static const char *const small[] = {"m", "u", "n", "p", "f", "a", "z", "y"};
        const char *prefix = "";
        for (size_t i = 0; i < 8 && fabs(v) < 1; i++) {
            prefix = small[i];
            v *= 1000;
        }
        char suffix[8];
        snprintf(suffix, sizeof suffix, "%ss", prefix);
        put_4g(&b, v, suffix);
    }
    return sbuf_result(c, &b, res);
}

static int fn_humanize_percentage(struct tmpl_call *c, const struct tmpl_value *const *argv,
                                  size_t argc, const struct tmpl_value **res)
{
    (void)argc;
    double v;
    if (to_float(c, argv[0], &v) != 0)
        return -1;
    struct sbuf b = SBUF_INIT;
    put_4g(&b, v * 100, "%");
    return sbuf_result(c, &b, res);
}

/* Prometheus's floatToTime: 1 = time value in *ns (ms precision), 0 =
 * NaN/Inf, -1 = overflow (error set). */
static int float_to_time(struct tmpl_call *c, double v, int64_t *ns)
{
    if (isnan(v) || isinf(v))
        return 0;
    double t = v * 1e9;
    if (t > 9223372036854775807.0 || t < -9223372036854775808.0) {
        struct sbuf b = SBUF_INIT;
        sbuf_put_float(&b, v);
        snprintf(c->err, c->errsz,
                 "%s cannot be represented as a nanoseconds timestamp since it overflows int64",
                 b.data);
        sbuf_free(&b);
        return -1;
    }
    int64_t ms = go_int64(t) / 1000000; /* model.TimeFromUnixNano truncates to ms */
    *ns = ms * 1000000;
    return 1;
}

static int fn_humanize_timestamp(struct tmpl_call *c, const struct tmpl_value *const *argv,
                                 size_t argc, const struct tmpl_value **res)
{
    (void)argc;
    double v;
    int64_t ns = 0;
    if (to_float(c, argv[0], &v) != 0)
        return -1;
    int rc = float_to_time(c, v, &ns);
    if (rc < 0)
        return -1;
    struct sbuf b = SBUF_INIT;
    if (rc == 0)
        put_4g(&b, v, "");
    else
        tmpl_time_format(&b, ns);
    return sbuf_result(c, &b, res);
}

static int fn_to_time(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                      const struct tmpl_value **res)
{
    (void)argc;
    double v;
    int64_t ns = 0;
    if (to_float(c, argv[0], &v) != 0)
        return -1;
    int rc = float_to_time(c, v, &ns);
    if (rc < 0)
        return -1;
    if (rc == 0)
        return fail(c, "value is NaN or Inf");
    *res = tmpl_value_time(c->heap, ns);
    return 0;
}

static int fn_to_duration(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                          const struct tmpl_value **res)
{
    (void)argc;
    double v;
    if (to_float(c, argv[0], &v) != 0)
        return -1;
    *res = tmpl_value_duration(c->heap, go_int64(v * 1e9));
    return 0;
}

static int fn_parse_duration(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                             const struct tmpl_value **res)
{
    (void)argc;
    const char *s = argv[0]->u.s.p;
    int64_t ms;
    if (argv[0]->u.s.n == 0)
        return fail(c, "empty duration string");
    if (strlen(s) != argv[0]->u.s.n || duration_parse(s, &ms) != 0) {
        struct sbuf q = SBUF_INIT;
        tmpl_quote(&q, argv[0]->u.s.p, argv[0]->u.s.n);
        snprintf(c->err, c->errsz, "not a valid duration string: %s", q.data);
        sbuf_free(&q);
        return -1;
    }
    *res = tmpl_value_float(c->heap, (double)ms / 1000.0);
    return 0;
}

static int fn_now(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                  const struct tmpl_value **res)
{
    (void)argv;
    (void)argc;
    const struct tmpl_prom_data *d = c->ctx;
    *res = tmpl_value_float(c->heap, (double)d->now_ms / 1000.0);
    return 0;
}

/* ---- Query results ---------------------------------------------------- */

static int fn_query(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                    const struct tmpl_value **res)
{
    (void)argc;
    const struct tmpl_prom_data *d = c->ctx;
    if (!d || !d->query)
        return fail(c, "runtime error: invalid memory address or nil pointer dereference");
    struct tmpl_samples s = {.heap = c->heap, .list = tmpl_value_list(c->heap)};
    s.list->type = "template.queryResult";
    if (d->query(d->query_ctx, argv[0]->u.s.p, d->now_ms, &s, c->err, c->errsz) != 0)
        return -1;
    *res = s.list;
    return 0;
}

static int fn_first(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                    const struct tmpl_value **res)
{
    (void)argc;
    if (argv[0]->u.list->n == 0)
        return fail(c, "first() called on vector with no elements");
    *res = argv[0]->u.list->v[0];
    return 0;
}

static const struct tmpl_value *sample_label(const struct tmpl_value *s, const char *name, size_t n)
{
    if (s->kind != TMPL_SAMPLE)
        return NULL;
    return tmpl_map_get(s->u.sample->labels, name, n);
}

/* Prometheus's label, value and strvalue dereference a nil *sample. */
static int nil_deref(struct tmpl_call *c)
{
    return fail(c, "runtime error: invalid memory address or nil pointer dereference");
}

static int fn_label(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                    const struct tmpl_value **res)
{
    (void)argc;
    if (argv[1]->kind != TMPL_SAMPLE)
        return nil_deref(c);
    const struct tmpl_value *v = sample_label(argv[1], argv[0]->u.s.p, argv[0]->u.s.n);
    *res = v ? v : str_result(c, "", 0);
    return 0;
}

static int fn_value(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                    const struct tmpl_value **res)
{
    (void)argc;
    if (argv[0]->kind != TMPL_SAMPLE)
        return nil_deref(c);
    double v = argv[0]->u.sample->value;
    *res = tmpl_value_float(c->heap, v);
    return 0;
}

static int fn_strvalue(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                       const struct tmpl_value **res)
{
    (void)argc;
    if (argv[0]->kind != TMPL_SAMPLE)
        return nil_deref(c);
    const struct tmpl_value *v = sample_label(argv[0], "__value__", 9);
    *res = v ? v : str_result(c, "", 0);
    return 0;
}

static int fn_sort_by_label(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                            const struct tmpl_value **res)
{
    (void)argc;
    const struct tmpl_value *in = argv[1];
    struct tmpl_value *out = tmpl_value_list(c->heap);
    out->type = in->type;
    for (size_t i = 0; i < in->u.list->n; i++)
        tmpl_list_append(c->heap, out, in->u.list->v[i]);
    /* Insertion sort: stable, as Go's sort.Stable; results are small. */
    const struct tmpl_value **v = out->u.list->v;
    const char *name = argv[0]->u.s.p;
    size_t nlen = argv[0]->u.s.n;
    for (size_t i = 1; i < out->u.list->n; i++) {
        const struct tmpl_value *x = v[i];
        const struct tmpl_value *xl = sample_label(x, name, nlen);
        const char *xs = xl ? xl->u.s.p : "";
        size_t j = i;
        for (; j > 0; j--) {
            const struct tmpl_value *yl = sample_label(v[j - 1], name, nlen);
            if (strcmp(yl ? yl->u.s.p : "", xs) <= 0)
                break;
            v[j] = v[j - 1];
        }
        v[j] = x;
    }
    *res = out;
    return 0;
}

static int fn_args(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                   const struct tmpl_value **res)
{
    struct tmpl_value *m = tmpl_value_map(c->heap, false);
    for (size_t i = 0; i < argc; i++) {
        char k[32];
        snprintf(k, sizeof k, "arg%zu", i);
        tmpl_map_set(c->heap, m, k, argv[i]);
    }
    *res = m;
    return 0;
}

/* ---- Strings ---------------------------------------------------------- */

static size_t utf8_rune(const unsigned char *s, size_t n, uint32_t *r)
{
    if (s[0] < 0x80) {
        *r = s[0];
        return 1;
    }
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (len == 0 || len > n)
        return 0;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    *r = c;
    return len;
}

static void put_rune(struct sbuf *b, uint32_t r)
{
    char u[4];
    if (r < 0x80) {
        sbuf_putc(b, (char)r);
    } else if (r < 0x800) {
        u[0] = (char)(0xC0 | (r >> 6));
        u[1] = (char)(0x80 | (r & 0x3F));
        sbuf_append(b, u, 2);
    } else if (r < 0x10000) {
        u[0] = (char)(0xE0 | (r >> 12));
        u[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        u[2] = (char)(0x80 | (r & 0x3F));
        sbuf_append(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (r >> 18));
        u[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((r >> 6) & 0x3F));
        u[3] = (char)(0x80 | (r & 0x3F));
        sbuf_append(b, u, 4);
    }
}

/* Maps runes through towupper/towlower in the C.UTF-8 locale (a locale
 * object of our own: the process locale is not touched).  mode: 'U' upper,
 * 'L' lower, 'T' title (first letter of each word upper, rest kept). */
static int map_case(struct tmpl_call *c, const struct tmpl_value *sv, char mode,
                    const struct tmpl_value **res)
{
    locale_t loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    const unsigned char *s = (const unsigned char *)sv->u.s.p;
    size_t n = sv->u.s.n;
    struct sbuf b = SBUF_INIT;
    bool in_word = false;
    for (size_t i = 0; i < n;) {
        uint32_t r;
        size_t l = utf8_rune(s + i, n - i, &r);
        if (l == 0) {
            sbuf_putc(&b, (char)s[i]);
            i++;
            in_word = false;
            continue;
        }
        uint32_t out = r;
        if (mode == 'U' && loc)
            out = (uint32_t)towupper_l((wint_t)r, loc);
        else if (mode == 'L' && loc)
            out = (uint32_t)towlower_l((wint_t)r, loc);
        else if (mode == 'T') {
            /* strings.Title: upper-case letters that follow a separator
             * (ASCII other than letters, digits and '_', or white space). */
            bool sep = r < 0x80 ? !(isalnum((int)r) || r == '_')
                                : (loc ? iswspace_l((wint_t)r, loc) : false);
            if (!in_word && loc)
                out = (uint32_t)towupper_l((wint_t)r, loc);
            in_word = !sep;
        }
        put_rune(&b, out ? out : r);
        i += l;
    }
    if (loc)
        freelocale(loc);
    return sbuf_result(c, &b, res);
}

static int fn_to_upper(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                       const struct tmpl_value **res)
{
    (void)argc;
    return map_case(c, argv[0], 'U', res);
}

static int fn_to_lower(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                       const struct tmpl_value **res)
{
    (void)argc;
    return map_case(c, argv[0], 'L', res);
}

static int fn_title(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                    const struct tmpl_value **res)
{
    (void)argc;
    return map_case(c, argv[0], 'T', res);
}

static int fn_re_replace_all(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                             const struct tmpl_value **res)
{
    (void)argc;
    char err[512];
    struct tmpl_regex *re = tmpl_regex_compile(argv[0]->u.s.p, argv[0]->u.s.n, err, sizeof err);
    if (!re) { /* MustCompile panics; text/template reports the panic */
        struct sbuf q = SBUF_INIT;
        const char *p = argv[0]->u.s.p;
        bool bq = !memchr(p, '`', argv[0]->u.s.n) && !memchr(p, '\n', argv[0]->u.s.n);
        if (bq)
            sbuf_printf(&q, "`%s`", p);
        else
            tmpl_quote(&q, p, argv[0]->u.s.n);
        snprintf(c->err, c->errsz, "regexp: Compile(%s): %s", q.data, err);
        sbuf_free(&q);
        return -1;
    }
    struct sbuf b = SBUF_INIT;
    int rc = tmpl_regex_replace_all(re, argv[2]->u.s.p, argv[2]->u.s.n, argv[1]->u.s.p,
                                    argv[1]->u.s.n, &b, c->err, c->errsz);
    tmpl_regex_free(re);
    if (rc != 0) {
        sbuf_free(&b);
        return -1;
    }
    return sbuf_result(c, &b, res);
}

static int fn_match(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                    const struct tmpl_value **res)
{
    (void)argc;
    struct tmpl_regex *re = tmpl_regex_compile(argv[0]->u.s.p, argv[0]->u.s.n, c->err, c->errsz);
    if (!re)
        return -1;
    bool m = false;
    int rc = tmpl_regex_match(re, argv[1]->u.s.p, argv[1]->u.s.n, &m, c->err, c->errsz);
    tmpl_regex_free(re);
    if (rc != 0)
        return -1;
    *res = tmpl_value_bool(c->heap, m);
    return 0;
}

static int fn_safe_html(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                        const struct tmpl_value **res)
{
    (void)argc;
    struct tmpl_value *v = tmpl_value_stringn(c->heap, argv[0]->u.s.p, argv[0]->u.s.n);
    v->type = "template.HTML";
    *res = v;
    return 0;
}

/* net.SplitHostPort: 0 with host/port spans, or -1. */
static int split_host_port(const char *s, size_t n, size_t *h0, size_t *h1, size_t *p0)
{
    const char *colon = NULL;
    for (size_t i = n; i-- > 0;)
        if (s[i] == ':') {
            colon = s + i;
            break;
        }
    if (!colon)
        return -1;
    size_t i = (size_t)(colon - s), j = 0, k = 0;
    if (s[0] == '[') {
        const char *end = memchr(s, ']', n);
        if (!end)
            return -1;
        size_t e = (size_t)(end - s);
        if (e + 1 != i)
            return -1;
        *h0 = 1;
        *h1 = e;
        j = 1;
        k = e + 1;
    } else {
        if (memchr(s, ':', i))
            return -1;
        *h0 = 0;
        *h1 = i;
    }
    if (memchr(s + j, '[', n - j) || memchr(s + k, ']', n - k))
        return -1;
    *p0 = i + 1;
    return 0;
}

static int fn_strip_port(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                         const struct tmpl_value **res)
{
    (void)argc;
    size_t h0, h1, p0;
    const char *s = argv[0]->u.s.p;
    if (split_host_port(s, argv[0]->u.s.n, &h0, &h1, &p0) != 0)
        *res = argv[0];
    else
        *res = str_result(c, s + h0, h1 - h0);
    return 0;
}

static bool is_ip(const char *s, size_t n)
{
    char buf[64];
    unsigned char addr[16];
    if (n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

static int fn_strip_domain(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                           const struct tmpl_value **res)
{
    (void)argc;
    const char *s = argv[0]->u.s.p;
    size_t n = argv[0]->u.s.n, h0 = 0, h1 = n, p0 = n;
    bool has_port = split_host_port(s, n, &h0, &h1, &p0) == 0;
    if (!has_port) {
        h0 = 0;
        h1 = n;
    }
    if (is_ip(s + h0, h1 - h0)) {
        *res = argv[0];
        return 0;
    }
    const char *dot = memchr(s + h0, '.', h1 - h0);
    size_t hl = dot ? (size_t)(dot - (s + h0)) : h1 - h0;
    struct sbuf b = SBUF_INIT;
    if (has_port && p0 < n + 1 && n - p0 > 0) {
        bool v6 = memchr(s + h0, ':', hl) != NULL;
        sbuf_printf(&b, "%s%.*s%s:%.*s", v6 ? "[" : "", (int)hl, s + h0, v6 ? "]" : "",
                    (int)(n - p0), s + p0);
    } else {
        sbuf_append(&b, s + h0, hl);
    }
    return sbuf_result(c, &b, res);
}

/* ---- URLs ------------------------------------------------------------- */

static int fn_external_url(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                           const struct tmpl_value **res)
{
    (void)argv;
    (void)argc;
    const struct tmpl_prom_data *d = c->ctx;
    if (!d || !d->external_url) /* Prometheus would dereference a nil *url.URL */
        return nil_deref(c);
    *res = str_result(c, d->external_url, strlen(d->external_url));
    return 0;
}

static int fn_path_prefix(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                          const struct tmpl_value **res)
{
    (void)argv;
    (void)argc;
    const struct tmpl_prom_data *d = c->ctx;
    if (!d || !d->external_url)
        return nil_deref(c);
    const char *u = d->external_url;
    const char *p = strstr(u, "://");
    p = p ? strchr(p + 3, '/') : (u[0] == '/' ? u : NULL);
    size_t n = p ? strcspn(p, "?#") : 0;
    *res = str_result(c, p ? p : "", n);
    return 0;
}

static int graph_link(struct tmpl_call *c, const struct tmpl_value *expr, int tab,
                      const struct tmpl_value **res)
{
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "/graph?g0.expr=");
    for (size_t i = 0; i < expr->u.s.n; i++) {
        unsigned char ch = (unsigned char)expr->u.s.p[i];
        if (isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~')
            sbuf_putc(&b, (char)ch);
        else if (ch == ' ')
            sbuf_putc(&b, '+');
        else
            sbuf_printf(&b, "%%%02X", ch);
    }
    sbuf_printf(&b, "&g0.tab=%d", tab);
    return sbuf_result(c, &b, res);
}

static int fn_graph_link(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                         const struct tmpl_value **res)
{
    (void)argc;
    return graph_link(c, argv[0], 0, res);
}

static int fn_table_link(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                         const struct tmpl_value **res)
{
    (void)argc;
    return graph_link(c, argv[0], 1, res);
}

const struct tmpl_func tmpl_prom_funcs[] = {
    {"query", "s", fn_query},
    {"first", "Q", fn_first},
    {"label", "sS", fn_label},
    {"value", "S", fn_value},
    {"strvalue", "S", fn_strvalue},
    {"args", "a*", fn_args},
    {"reReplaceAll", "sss", fn_re_replace_all},
    {"safeHtml", "s", fn_safe_html},
    {"match", "ss", fn_match},
    {"title", "s", fn_title},
    {"toUpper", "s", fn_to_upper},
    {"toLower", "s", fn_to_lower},
    {"graphLink", "s", fn_graph_link},
    {"tableLink", "s", fn_table_link},
    {"sortByLabel", "sQ", fn_sort_by_label},
    {"humanize", "a", fn_humanize},
    {"humanize1024", "a", fn_humanize1024},
    {"humanizeDuration", "a", fn_humanize_duration},
    {"humanizePercentage", "a", fn_humanize_percentage},
    {"humanizeTimestamp", "a", fn_humanize_timestamp},
    {"toTime", "a", fn_to_time},
    {"toDuration", "a", fn_to_duration},
    {"now", "", fn_now},
    {"pathPrefix", "", fn_path_prefix},
    {"externalURL", "", fn_external_url},
    {"parseDuration", "s", fn_parse_duration},
    {"stripPort", "s", fn_strip_port},
    {"stripDomain", "s", fn_strip_domain},
};

const size_t tmpl_prom_nfuncs = sizeof tmpl_prom_funcs / sizeof tmpl_prom_funcs[0];
