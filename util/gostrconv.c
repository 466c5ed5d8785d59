/* gostrconv.c — Go's text conventions (strconv, fmt, unicode/utf8), shared
 * by PromQL, the exposition parser and the template engine.
 *
 * Prometheus's error messages and printed queries are built with Go's
 * strconv and fmt: strings quoted by strconv.Quote (\x for bad bytes, \u
 * for unprintable runes, printable Unicode kept), numbers printed by
 * FormatFloat's shortest-digit algorithm, and numbers parsed by
 * ParseInt(s, 0, 64) with a ParseFloat fallback.  A client that compares
 * our output with Prometheus's sees the same bytes only if each of those
 * rules is followed, so each gets a function here.  Shortest float digits
 * come from util/gofloat.c, a port of Go's own Ryū. */
#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/gostrconv.h"
#include "util/sbuf.h"

int go_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static const char lowerhex[] = "0123456789abcdef";

/* ---- UTF-8 ------------------------------------------------------------ */

int32_t utf8_decode(const char *s, size_t n, size_t *width)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0) {
        *width = 0;
        return -1;
    }
    *width = 1;
    if (u[0] < 0x80)
        return u[0];
    int need;
    int32_t r, min;
    if ((u[0] & 0xE0) == 0xC0)
        need = 1, r = u[0] & 0x1F, min = 0x80;
    else if ((u[0] & 0xF0) == 0xE0)
        need = 2, r = u[0] & 0x0F, min = 0x800;
    else if ((u[0] & 0xF8) == 0xF0)
        need = 3, r = u[0] & 0x07, min = 0x10000;
    else
        return 0xFFFD;
    if ((size_t)need >= n)
        return 0xFFFD;
    for (int i = 1; i <= need; i++) {
        if ((u[i] & 0xC0) != 0x80)
            return 0xFFFD;
        r = (r << 6) | (u[i] & 0x3F);
    }
    if (r < min || r > 0x10FFFF || (r >= 0xD800 && r < 0xE000))
        return 0xFFFD;
    *width = (size_t)need + 1;
    return r;
}

size_t utf8_encode(int32_t r, char out[4])
{
    if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r < 0xE000))
        r = 0xFFFD;
    if (r < 0x80) {
        out[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        out[0] = (char)(0xC0 | (r >> 6));
        out[1] = (char)(0x80 | (r & 0x3F));
        return 2;
    }
    if (r < 0x10000) {
        out[0] = (char)(0xE0 | (r >> 12));
        out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        out[2] = (char)(0x80 | (r & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (r >> 18));
    out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
    out[3] = (char)(0x80 | (r & 0x3F));
    return 4;
}

bool utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t w;
        int32_t r = utf8_decode(s + i, n - i, &w);
        if (r == 0xFFFD && w == 1)
            return false;
        i += w;
    }
    return true;
}

/* strconv.IsPrint, approximated outside ASCII: Unicode spaces other than
 * ' ', format and control characters, surrogates, private use and
 * non-characters are unprintable; everything else counts as printable. */
static bool go_is_print(int32_t r)
{
    if (r < 0x80)
        return r >= 0x20 && r < 0x7F;
    if (r <= 0xA0 || r == 0xAD || r == 0x1680 || r == 0x061C || r == 0x180E)
        return false;
    if ((r >= 0x2000 && r <= 0x200F) || (r >= 0x2028 && r <= 0x202F) ||
        (r >= 0x205F && r <= 0x206F) || r == 0x3000 || r == 0xFEFF)
        return false;
    if ((r >= 0xD800 && r <= 0xF8FF) || (r >= 0xFFF0 && r <= 0xFFFB) || r == 0xFFFE ||
        r == 0xFFFF || r >= 0xF0000)
        return false;
    if ((r & 0xFFFE) == 0xFFFE || (r >= 0xE0000 && r <= 0xE0FFF))
        return false;
    return true;
}

/* ---- Quoting ---------------------------------------------------------- */

static void go_escape_rune(struct sbuf *b, int32_t r, char quote)
{
    char enc[4];
    if (r == quote || r == '\\') {
        sbuf_putc(b, '\\');
        sbuf_append(b, enc, utf8_encode(r, enc));
        return;
    }
    if (go_is_print(r)) {
        sbuf_append(b, enc, utf8_encode(r, enc));
        return;
    }
    switch (r) {
    case '\a':
        sbuf_puts(b, "\\a");
        return;
    case '\b':
        sbuf_puts(b, "\\b");
        return;
    case '\f':
        sbuf_puts(b, "\\f");
        return;
    case '\n':
        sbuf_puts(b, "\\n");
        return;
    case '\r':
        sbuf_puts(b, "\\r");
        return;
    case '\t':
        sbuf_puts(b, "\\t");
        return;
    case '\v':
        sbuf_puts(b, "\\v");
        return;
    }
    if (r < ' ' || r == 0x7F)
        sbuf_printf(b, "\\x%c%c", lowerhex[(r >> 4) & 0xF], lowerhex[r & 0xF]);
    else if (r < 0x10000)
        sbuf_printf(b, "\\u%04x", (unsigned)r);
    else
        sbuf_printf(b, "\\U%08x", (unsigned)r);
}

static void go_quote_body(struct sbuf *b, const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t w;
        int32_t r = utf8_decode(s + i, n - i, &w);
        if (r == 0xFFFD && w == 1) {
            unsigned char c = (unsigned char)s[i];
            sbuf_printf(b, "\\x%c%c", lowerhex[c >> 4], lowerhex[c & 0xF]);
        } else {
            go_escape_rune(b, r, '"');
        }
        i += w;
    }
}

void go_quote(struct sbuf *b, const char *s, size_t n)
{
    sbuf_putc(b, '"');
    go_quote_body(b, s, n);
    sbuf_putc(b, '"');
}

void go_quote_prefix(struct sbuf *b, const char *s, size_t n, size_t max_runes)
{
    size_t i = 0, runes = 0;
    while (i < n && runes < max_runes) {
        size_t w;
        utf8_decode(s + i, n - i, &w);
        i += w;
        runes++;
    }
    go_quote(b, s, i);
}

void go_quote_rune(struct sbuf *b, int32_t r)
{
    if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r < 0xE000))
        r = 0xFFFD;
    sbuf_putc(b, '\'');
    go_escape_rune(b, r, '\'');
    sbuf_putc(b, '\'');
}

void go_format_unicode(struct sbuf *b, int32_t r)
{
    sbuf_printf(b, "U+%04X", (unsigned)r);
    if (r >= 0 && r <= 0x10FFFF && go_is_print(r)) {
        char enc[4];
        sbuf_puts(b, " '");
        sbuf_append(b, enc, utf8_encode(r, enc));
        sbuf_putc(b, '\'');
    }
}

/* ---- Floats ----------------------------------------------------------- */

/* Shortest digits and the 'f' / 'e' / 'g' layouts are in util/gofloat.c. */

void go_format_float_v(struct sbuf *b, double v)
{
    sbuf_put_float(b, v);
}

void go_format_float_fixed6(struct sbuf *b, double v)
{
    if (isnan(v))
        sbuf_puts(b, "NaN");
    else if (isinf(v))
        sbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
    else
        sbuf_printf(b, "%f", v);
}

/* ---- Numbers ---------------------------------------------------------- */

/* strconv.ParseInt(s, 0, 64) for unsigned text: 1 ok, 0 syntax, -1 range. */
static int go_parse_int(const char *s, size_t n, int64_t *out)
{
    int base = 10;
    size_t i = 0;
    if (n >= 2 && s[0] == '0') {
        char c = (char)tolower((unsigned char)s[1]);
        if (c == 'x' || c == 'b' || c == 'o')
            base = c == 'x' ? 16 : c == 'b' ? 2 : 8, i = 2;
        else
            base = 8, i = 1;
    }
    bool underscores = false, any = false;
    uint64_t v = 0, limit = (uint64_t)INT64_MAX;
    bool range = false;
    for (; i < n; i++) {
        if (s[i] == '_') {
            underscores = true;
            continue;
        }
        int d = go_hex_digit(s[i]);
        if (d < 0 || d >= base)
            return 0;
        any = true;
        if (v > (limit - (uint64_t)d) / (uint64_t)base)
            range = true;
        else
            v = v * (uint64_t)base + (uint64_t)d;
    }
    if (!any && !(base == 8 && n == 1))
        return 0;
    if (underscores && !go_underscore_ok(s, n))
        return 0;
    if (range)
        return -1;
    *out = (int64_t)v;
    return 1;
}

/* Go's ParseFloat syntax for what the lexer can produce: decimal with
 * optional fraction and exponent, or inf/infinity/nan in any case.  Hex
 * needs a 'p' exponent, which the lexer never lets through. */
static bool go_float_syntax_ok(const char *s, size_t n)
{
    size_t i = 0;
    bool mant = false;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        return false;
    while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '_'))
        mant |= s[i++] != '_';
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '_'))
            mant |= s[i++] != '_';
    }
    if (!mant)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        bool ed = false;
        while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '_'))
            ed |= s[i++] != '_';
        if (!ed)
            return false;
    }
    return i == n && (memchr(s, '_', n) == NULL || go_underscore_ok(s, n));
}

static bool go_float_special(const char *s, size_t n, double *v)
{
    char low[16];
    if (n >= sizeof low)
        return false;
    for (size_t i = 0; i < n; i++)
        low[i] = (char)tolower((unsigned char)s[i]);
    low[n] = '\0';
    if (strcmp(low, "inf") == 0 || strcmp(low, "infinity") == 0) {
        *v = INFINITY;
        return true;
    }
    if (strcmp(low, "nan") == 0) {
        *v = NAN;
        return true;
    }
    return false;
}

static void go_number_error(const char *s, size_t n, const char *why, char *err, size_t errsz)
{
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "strconv.ParseFloat: parsing ");
    go_quote(&b, s, n);
    sbuf_puts(&b, ": ");
    sbuf_puts(&b, why);
    snprintf(err, errsz, "%s", b.data);
    sbuf_free(&b);
}

int go_parse_number(const char *s, size_t n, double *v, char *err, size_t errsz)
{
    int64_t iv;
    if (go_parse_int(s, n, &iv) == 1) {
        *v = (double)iv;
        return 0;
    }
    if (go_float_special(s, n, v))
        return 0;
    if (!go_float_syntax_ok(s, n)) {
        go_number_error(s, n, "invalid syntax", err, errsz);
        return -1;
    }
    char *buf = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            buf[k++] = s[i];
    buf[k] = '\0';
    errno = 0;
    double d = strtod(buf, NULL);
    free(buf);
    if (isinf(d)) {
        go_number_error(s, n, "value out of range", err, errsz);
        return -1;
    }
    *v = d;
    return 0;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

bool go_underscore_ok(const char *s, size_t n)
{
    char saw = '^';
    size_t i = 0;
    if (n >= 1 && (s[0] == '-' || s[0] == '+')) {
        s++;
        n--;
    }
    bool hex = false;
    if (n >= 2 && s[0] == '0' &&
        ((s[1] | 0x20) == 'b' || (s[1] | 0x20) == 'o' || (s[1] | 0x20) == 'x')) {
        i = 2;
        saw = '0';
        hex = (s[1] | 0x20) == 'x';
    }
    for (; i < n; i++) {
        char c = s[i], l = (char)(c | 0x20);
        if (is_digit(c) || (hex && l >= 'a' && l <= 'f')) {
            saw = '0';
            continue;
        }
        if (c == '_') {
            if (saw != '0')
                return false;
            saw = '_';
            continue;
        }
        if (saw == '_')
            return false;
        saw = '!';
    }
    return saw != '_';
}

char *go_format_float_exp(double v, char fmt, char *buf, size_t n)
{
    if (isnan(v)) {
        snprintf(buf, n, "NaN");
        return buf;
    }
    if (isinf(v)) {
        snprintf(buf, n, "%s", v > 0 ? "+Inf" : "-Inf");
        return buf;
    }
    /* C's %.*e already pads the exponent to two digits, as Go does. */
    go_float_shortest_e(v, fmt, buf, n);
    return buf;
}
