/* gostr.c — Go's text conventions that only PromQL needs (the shared ones
 * are in util/gostrconv.c): unquoting into the query arena and
 * model.Duration.
 *
 * Prometheus's error messages and printed queries are built with Go's
 * strconv and fmt: strings quoted by strconv.Quote (\x for bad bytes, \u
 * for unprintable runes, printable Unicode kept), numbers printed by
 * FormatFloat's shortest-digit algorithm, durations by model.Duration, and
 * numbers parsed by ParseInt(s, 0, 64) with a ParseFloat fallback.  A
 * client that compares our output with Prometheus's sees the same bytes
 * only if each of those rules is followed, so each gets a function here.
 * Shortest float digits are found as util/sbuf.c finds them: the fewest
 * %.*e digits that read back to the same double, which is what Go's
 * algorithm yields. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/promql_internal.h"
#include "util/duration.h"
#include "util/gostrconv.h"
#include "util/sbuf.h"

/* ---- Unquoting -------------------------------------------------------- */

/* One escape after the backslash at s[*i]; appends the bytes it stands
 * for.  -1 on a malformed escape (which the lexer already rejects). */
static int go_unquote_escape(const char *s, size_t n, size_t *i, char quote, char *out, size_t *o)
{
    char c = s[(*i)++];
    int digits = 0, base = 16;
    switch (c) {
    case 'a':
        out[(*o)++] = '\a';
        return 0;
    case 'b':
        out[(*o)++] = '\b';
        return 0;
    case 'f':
        out[(*o)++] = '\f';
        return 0;
    case 'n':
        out[(*o)++] = '\n';
        return 0;
    case 'r':
        out[(*o)++] = '\r';
        return 0;
    case 't':
        out[(*o)++] = '\t';
        return 0;
    case 'v':
        out[(*o)++] = '\v';
        return 0;
    case '\\':
        out[(*o)++] = '\\';
        return 0;
    case '\'':
    case '"':
        if (c != quote)
            return -1;
        out[(*o)++] = c;
        return 0;
    case 'x':
        digits = 2;
        break;
    case 'u':
        digits = 4;
        break;
    case 'U':
        digits = 8;
        break;
    default:
        if (c < '0' || c > '7')
            return -1;
        digits = 3, base = 8;
        (*i)--;
    }
    uint32_t v = 0;
    for (int k = 0; k < digits; k++) {
        if (*i >= n)
            return -1;
        int d = go_hex_digit(s[(*i)++]);
        if (d < 0 || d >= base)
            return -1;
        v = v * (uint32_t)base + (uint32_t)d;
    }
    if (c == 'x' || base == 8) {
        if (v > 255)
            return -1;
        out[(*o)++] = (char)v; /* a raw byte, not a rune */
        return 0;
    }
    if (v > 0x10FFFF || (v >= 0xD800 && v < 0xE000))
        return -1;
    *o += utf8_encode((int32_t)v, out + *o);
    return 0;
}

char *go_unquote(struct promql_arena *a, const char *s, size_t n, size_t *len)
{
    if (n < 2 || s[0] != s[n - 1])
        return NULL;
    char quote = s[0];
    const char *body = s + 1;
    size_t bn = n - 2;
    if (quote == '`') {
        if (memchr(body, '`', bn))
            return NULL;
        *len = bn;
        return promql_arena_strndup(a, body, bn);
    }
    if ((quote != '"' && quote != '\'') || memchr(body, '\n', bn))
        return NULL;
    char *out = promql_arena_alloc(a, bn + 1);
    size_t i = 0, o = 0;
    while (i < bn) {
        char c = body[i];
        if (c == quote)
            return NULL;
        if (c != '\\') {
            out[o++] = body[i++];
            continue;
        }
        i++;
        if (i >= bn || go_unquote_escape(body, bn, &i, quote, out, &o) < 0)
            return NULL;
    }
    out[o] = '\0';
    *len = o;
    return out;
}

/* ---- Durations -------------------------------------------------------- */

static const struct {
    const char *unit;
    int pos;
    uint64_t ns;
} model_units[] = {
    {"y", 1, 365ULL * 24 * 3600 * 1000000000ULL},
    {"w", 2, 7ULL * 24 * 3600 * 1000000000ULL},
    {"d", 3, 24ULL * 3600 * 1000000000ULL},
    {"h", 4, 3600ULL * 1000000000ULL},
    {"m", 5, 60ULL * 1000000000ULL},
    {"s", 6, 1000000000ULL},
    {"ms", 7, 1000000ULL},
};

static void model_duration_error(char *err, size_t errsz, const char *pre, const char *a, size_t an,
                                 const char *mid, const char *s, size_t n)
{
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, pre);
    go_quote(&b, a, an);
    if (mid) {
        sbuf_puts(&b, mid);
        go_quote(&b, s, n);
    }
    snprintf(err, errsz, "%s", b.data);
    sbuf_free(&b);
}

int model_duration_parse(const char *s, size_t n, int64_t *ns, char *err, size_t errsz)
{
    if (n == 1 && s[0] == '0') {
        *ns = 0;
        return 0;
    }
    if (n == 0) {
        snprintf(err, errsz, "empty duration string");
        return -1;
    }
    uint64_t dur = 0;
    int last = 0;
    size_t i = 0;
    while (i < n) {
        size_t d0 = i;
        uint64_t v = 0;
        bool overflow = false;
        while (i < n && isdigit((unsigned char)s[i])) {
            unsigned dig = (unsigned)(s[i++] - '0');
            if (v > (UINT64_MAX - dig) / 10)
                overflow = true;
            else
                v = v * 10 + dig;
        }
        size_t u0 = i;
        while (i < n && !isdigit((unsigned char)s[i]))
            i++;
        if (u0 == d0 || overflow || i == u0) {
            model_duration_error(err, errsz, "not a valid duration string: ", s, n, NULL, NULL, 0);
            return -1;
        }
        int k = -1;
        for (int j = 0; j < (int)(sizeof model_units / sizeof model_units[0]); j++)
            if (strlen(model_units[j].unit) == i - u0 &&
                memcmp(model_units[j].unit, s + u0, i - u0) == 0)
                k = j;
        if (k < 0) {
            model_duration_error(err, errsz, "unknown unit ", s + u0, i - u0, " in duration ", s,
                                 n);
            return -1;
        }
        if (model_units[k].pos <= last) {
            model_duration_error(err, errsz, "not a valid duration string: ", s, n, NULL, NULL, 0);
            return -1;
        }
        last = model_units[k].pos;
        if (v > (1ULL << 63) / model_units[k].ns) {
            snprintf(err, errsz, "duration out of range");
            return -1;
        }
        dur += v * model_units[k].ns;
        if (dur > (uint64_t)INT64_MAX) {
            snprintf(err, errsz, "duration out of range");
            return -1;
        }
    }
    *ns = (int64_t)dur;
    return 0;
}

void model_duration_format(struct sbuf *b, int64_t ms)
{
    /* Go's model.Duration prints nothing for a negative duration. */
    char buf[64];
    if (ms >= 0)
        sbuf_puts(b, duration_format(ms, buf, sizeof buf));
}

bool label_name_is_legacy(const char *s)
{
    if (!s[0])
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (i > 0 && c >= '0' && c <= '9');
        if (!ok)
            return false;
    }
    return true;
}
