/* textparse.c — the Prometheus text and OpenMetrics grammars, one line at a time.
 *
 * The contract is Prometheus 3's model/textparse: accept exactly what it
 * accepts, reject what it rejects.  Prometheus drives a golex DFA (promlex.l,
 * openmetricslex.l) token by token; we walk the bytes of a line directly,
 * which is what makes the hot path cheap (a sample line is one pass: name,
 * labels as spans, value, optional timestamp, no allocation), but every
 * branch below restates one of those lexers' rules.  The quirks that follow
 * from them are kept on purpose, because they decide what a scrape accepts:
 *
 *  Prometheus 0.0.4 (promlex.l)
 *   - Blanks ([ \t]+) may separate any two tokens; blank lines are skipped.
 *     The input is read as if it ended with "\n" (Prometheus appends one).
 *   - A line starting with NUL (after blanks), or a "#comment" without a
 *     blank after '#' that contains a NUL, ends the input without error.
 *   - The value is [^{ \t\n]+ and may follow the name or '}' directly
 *     ("a-1" is metric a, value -1); the timestamp is [0-9]+ milliseconds.
 *     CRLF line ends therefore fail ("1\r" is not a float).
 *   - Label values may hold raw newlines; labels need no commas between
 *     them; a trailing comma is fine.  A leading blank becomes part of the
 *     metric name (Prometheus takes the name from the line's first byte).
 *   - HELP/TYPE text is everything after the name minus its first byte.
 *     Other # lines are comments.
 *  OpenMetrics 1.0 (openmetricslex.l)
 *   - Single spaces only, no blank lines, no comments but HELP, TYPE, UNIT
 *     and "# EOF", which must end the input (a final newline is optional).
 *   - Label values may not hold raw newlines; labels need commas.
 *   - Timestamps are float seconds, stored as int64(seconds * 1000).
 *   - An exemplar may follow the value or timestamp: " # {labels} value [ts]".
 *  Both
 *   - Quoted UTF-8 names: {"my.metric", "a.b"="c"} and # HELP "my.metric" t.
 *   - Escapes are not validated: \\ \" \n decode, any other "\x" stays as
 *     written; a backslash before a newline or the end is an error.
 *   - Label values must be valid UTF-8; NUL bytes in label values, HELP text
 *     and comments are accepted, and Go's lexer skips NULs right after a
 *     closing quote and after metadata keywords — reproduced here.
 *   - Values are Go floats (textparse_num.c).
 *
 * Two checks go beyond the parser Prometheus has, because Prometheus makes
 * them right after it (the scrape or the TSDB append fails the same input):
 * duplicate label names (__name__ included) and invalid UTF-8 in quoted names.
 * One check is relaxed the other way: an unquoted OpenMetrics label name
 * followed by ',' or '}' is "expected equal", where Prometheus slices the
 * name out of it wrongly (or panics for a one-letter name).
 *
 * Where a line fails, the error names the line the entry starts on.  Line
 * numbers are counted only when asked for (textparse_line), from a cursor
 * that moves forward, so counting costs nothing on the hot path. */
#include "scrape/textparse_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

enum {
    C_MSTART = 0x01, /* [A-Za-z_:] first byte of a metric name */
    C_MNAME = 0x02,  /* [A-Za-z0-9_:] */
    C_LSTART = 0x04, /* [A-Za-z_] first byte of a label name */
    C_LNAME = 0x08,  /* [A-Za-z0-9_] */
    C_PVAL = 0x10,   /* Prometheus value byte: not { blank \n NUL */
    C_OVAL = 0x20,   /* OpenMetrics value/timestamp byte: not space \n NUL */
    C_QSAFE = 0x40,  /* inside quotes with no further thought: not " \ \n NUL */
};

static const unsigned char cclass[256] = {
    0x00, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x60, 0x00, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x40, 0x70, 0x30, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x7a, 0x73, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x70, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f,
    0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x70, 0x30, 0x70, 0x70, 0x7f,
    0x70, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f,
    0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x7f, 0x60, 0x70, 0x70, 0x70, 0x70,
    0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70,
    0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70, 0x70,
};

#define END_OF_INPUT (-1)

/* ---- bytes ---- */

/* The byte at i: the Prometheus format reads as if a '\n' followed the
 * input; past that (and past an OpenMetrics input) there is END_OF_INPUT. */
static inline int at(const struct textparse *p, size_t i)
{
    if (i < p->len)
        return (unsigned char)p->buf[i];
    if (i == p->len && p->format == TEXTPARSE_PROMETHEUS)
        return '\n';
    return END_OF_INPUT;
}

static inline bool has_class(const struct textparse *p, size_t i, unsigned cls)
{
    return i < p->len && (cclass[(unsigned char)p->buf[i]] & cls);
}

static inline size_t skip_class(const struct textparse *p, size_t i, unsigned cls)
{
    while (i < p->len && (cclass[(unsigned char)p->buf[i]] & cls))
        i++;
    return i;
}

/* Names are most of a page's bytes, so they are scanned 16 bytes at a time
 * where SSE2 is there (every x86-64): [A-Za-z0-9_], plus ':' for metric names. */
static inline size_t skip_name(const struct textparse *p, size_t i, bool colon)
{
    unsigned cls = colon ? C_MNAME : C_LNAME;
#if defined(__SSE2__)
    const char *b = p->buf;
    size_t n = p->len;
    const __m128i x20 = _mm_set1_epi8(0x20), a1 = _mm_set1_epi8('a' - 1),
                  z1 = _mm_set1_epi8('z' + 1), d0 = _mm_set1_epi8('0' - 1),
                  d9 = _mm_set1_epi8('9' + 1), us = _mm_set1_epi8('_'),
                  co = _mm_set1_epi8(colon ? ':' : '_');
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        __m128i lo = _mm_or_si128(v, x20); /* bytes >= 0x80 stay negative: no match */
        __m128i alpha = _mm_and_si128(_mm_cmpgt_epi8(lo, a1), _mm_cmplt_epi8(lo, z1));
        __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, d0), _mm_cmplt_epi8(v, d9));
        __m128i other = _mm_or_si128(_mm_cmpeq_epi8(v, us), _mm_cmpeq_epi8(v, co));
        unsigned ok = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(alpha, digit), other));
        if (ok != 0xffff)
            return i + (size_t)__builtin_ctz(~ok);
        i += 16;
    }
#endif
    return skip_class(p, i, cls);
}

static inline bool is_blank(int c)
{
    return c == ' ' || c == '\t';
}

static inline size_t skip_blanks(const struct textparse *p, size_t i)
{
    while (i < p->len && is_blank((unsigned char)p->buf[i]))
        i++;
    return i;
}

/* Go's lexer steps over NUL bytes in some states (see the top comment). */
static inline size_t skip_nuls(const struct textparse *p, size_t i)
{
    while (i < p->len && p->buf[i] == '\0')
        i++;
    return i;
}

/* Blanks mixed with NULs, after a first blank. */
static size_t skip_blanks_nuls(const struct textparse *p, size_t i)
{
    while (i < p->len && (is_blank((unsigned char)p->buf[i]) || p->buf[i] == '\0'))
        i++;
    return i;
}

/* Where the line holding i ends: its '\n', or the end of the input. */
static size_t line_end(const struct textparse *p, size_t i)
{
    if (i >= p->len)
        return p->len;
    const char *nl = memchr(p->buf + i, '\n', p->len - i);
    return nl ? (size_t)(nl - p->buf) : p->len;
}

/* The rest of a line from i: where it ends ('\n' or the end of the input)
 * and whether it holds a backslash or a byte >= 0x80 on the way.  One pass
 * over HELP text instead of three (newline, escapes, UTF-8). */
struct line_scan {
    size_t end;
    bool backslash, high;
};

static struct line_scan scan_line(const struct textparse *p, size_t i)
{
    const unsigned char *b = (const unsigned char *)p->buf;
    size_t n = p->len;
    unsigned bs = 0, hi = 0;
#if defined(__SSE2__)
    const __m128i nl = _mm_set1_epi8('\n'), bsl = _mm_set1_epi8('\\');
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, nl));
        unsigned before = m ? (1u << __builtin_ctz(m)) - 1 : 0xffffu;
        bs |= (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, bsl)) & before;
        hi |= (unsigned)_mm_movemask_epi8(v) & before;
        if (m)
            return (struct line_scan){i + (size_t)__builtin_ctz(m), bs != 0, hi != 0};
        i += 16;
    }
#endif
    for (; i < n && b[i] != '\n'; i++) {
        bs |= b[i] == '\\';
        hi |= b[i] & 0x80;
    }
    return (struct line_scan){i, bs != 0, hi != 0};
}

static struct textparse_str span(const struct textparse *p, size_t from, size_t to, bool escaped)
{
    return (struct textparse_str){p->buf + from, to - from, escaped};
}

/* ---- errors ---- */

static unsigned long line_at(struct textparse *p, size_t pos)
{
    if (pos > p->len)
        pos = p->len;
    if (pos < p->line_pos) {
        p->line_pos = 0;
        p->line_no = 1;
    }
    const char *s = p->buf + p->line_pos, *e = p->buf + pos;
    while (s < e && (s = memchr(s, '\n', (size_t)(e - s))) != NULL) {
        p->line_no++;
        s++;
    }
    p->line_pos = pos;
    return p->line_no;
}

/* Writes s[0..n) as a double-quoted string, escaped, cut at `max` bytes. */
static void quote_bytes(char *out, size_t cap, const char *s, size_t n, size_t max)
{
    size_t k = 0;
    bool cut = n > max;
    if (cut)
        n = max;
    if (k + 1 < cap)
        out[k++] = '"';
    for (size_t i = 0; i < n && k + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            out[k++] = '\\';
            out[k++] = (char)c;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[k++] = '\\';
            out[k++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
        } else if (c < 0x20 || c >= 0x7f) {
            k += (size_t)snprintf(out + k, cap - k, "\\x%02x", c);
        } else {
            out[k++] = (char)c;
        }
    }
    if (k + 1 < cap)
        out[k++] = '"';
    if (cut && k + 4 < cap) {
        memcpy(out + k, "...", 3);
        k += 3;
    }
    out[k < cap ? k : cap - 1] = '\0';
}

/* What the parser found at i, for "expected X, got Y". */
static void describe(const struct textparse *p, size_t i, char *out, size_t cap)
{
    int c = at(p, i);
    if (c == END_OF_INPUT)
        snprintf(out, cap, "end of input");
    else if (c == '\n')
        snprintf(out, cap, "newline");
    else
        quote_bytes(out, cap, p->buf + i, line_end(p, i) - i, 24);
}

static enum textparse_entry fail(struct textparse *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum textparse_entry fail(struct textparse *p, const char *fmt, ...)
{
    int k = snprintf(p->err, sizeof p->err, "line %lu: ", line_at(p, p->entry_start));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + k, sizeof p->err - (size_t)k, fmt, ap);
    va_end(ap);
    return TEXTPARSE_ERROR;
}

static enum textparse_entry fail_got(struct textparse *p, size_t i, const char *expected)
{
    char got[96];
    describe(p, i, got, sizeof got);
    return fail(p, "%s, got %s", expected, got);
}

static enum textparse_entry fail_quoted_str(struct textparse *p, const char *what, const char *s,
                                            size_t n)
{
    char q[96];
    quote_bytes(q, sizeof q, s, n, 40);
    return fail(p, what, q);
}

/* ---- labels ---- */

static void label_push(struct textparse *p, struct textparse_str name, struct textparse_str value)
{
    size_t k = p->nlabels + p->nex;
    if (k == p->label_cap) {
        size_t cap = p->label_cap * 2;
        if (!p->heap) {
            p->heap = xmalloc(cap * sizeof *p->heap);
            memcpy(p->heap, p->inline_labels, k * sizeof *p->heap);
        } else {
            p->heap = xrealloc(p->heap, cap * sizeof *p->heap);
        }
        p->label_cap = cap;
    }
    textparse_label_array(p)[k] = (struct textparse_label){name, value};
}

/* ---- quoted strings ---- */

enum quote_mode {
    Q_NAME,        /* quoted metric or label name: raw \n allowed, NUL not */
    Q_PROM_VALUE,  /* Prometheus label value: raw \n allowed, NULs skipped */
    Q_OM_VALUE,    /* OpenMetrics label value: no raw \n, NULs skipped */
    Q_OM_EXEMPLAR, /* OpenMetrics exemplar label value: no raw \n, no NUL */
};

struct quoted {
    size_t end;   /* one past the token: closing quote and any NULs Go skips after it */
    bool escaped; /* a backslash occurs */
    bool high;    /* a byte >= 0x80 occurs: UTF-8 validation needed */
    size_t bad;   /* on failure: where */
};

/* Scans the quoted string starting at p->buf[i] == '"'. */
static bool scan_quoted(const struct textparse *p, size_t i, enum quote_mode m, struct quoted *q)
{
    const unsigned char *b = (const unsigned char *)p->buf;
    size_t n = p->len;
    bool allow_nl = m == Q_NAME || m == Q_PROM_VALUE;
    bool skip = m == Q_PROM_VALUE || m == Q_OM_VALUE;
    unsigned hi = 0;
    q->escaped = false;
    for (i++;;) {
#if defined(__SSE2__)
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                      nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
        while (i + 16 <= n) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
            __m128i stop =
                _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)),
                             _mm_or_si128(_mm_cmpeq_epi8(v, nl), _mm_cmpeq_epi8(v, zero)));
            unsigned m = (unsigned)_mm_movemask_epi8(stop);
            unsigned before = m ? (1u << __builtin_ctz(m)) - 1 : 0xffffu;
            if ((unsigned)_mm_movemask_epi8(v) & before)
                hi = 0x80;
            if (m) {
                i += (size_t)__builtin_ctz(m);
                break;
            }
            i += 16;
        }
#endif
        while (i < n && (cclass[b[i]] & C_QSAFE))
            hi |= b[i++];
        if (i >= n)
            break;
        unsigned c = b[i];
        if (c == '"') {
            i++;
            q->end = skip ? skip_nuls(p, i) : i;
            q->high = hi & 0x80;
            return true;
        }
        if (c == '\\') {
            q->escaped = true;
            i++;
            if (skip)
                i = skip_nuls(p, i);
            if (i >= n || b[i] == '\n' || b[i] == '\0')
                break;
            hi |= b[i++];
            continue;
        }
        if (c == '\n' ? !allow_nl : !skip)
            break;
        i++;
    }
    q->bad = i;
    return false;
}

static enum textparse_entry fail_scan(struct textparse *p, const struct quoted *q, const char *what)
{
    size_t i = q->bad;
    if (i >= p->len)
        return fail(p, "unexpected end of %s", what);
    if (i > 0 && p->buf[i - 1] == '\\' && (p->buf[i] == '\n' || p->buf[i] == '\0'))
        return fail(p, "invalid escape sequence in %s", what);
    if (p->buf[i] == '\n')
        return fail(p, "unexpected newline in %s", what);
    return fail(p, "unexpected NUL byte in %s", what);
}

/* ---- numbers ---- */

static const char *num_reason(enum textparse_num r)
{
    switch (r) {
    case TEXTPARSE_NUM_RANGE:
        return "value out of range";
    case TEXTPARSE_NUM_UNSUPPORTED:
        return "unsupported character in float";
    default:
        return "invalid syntax";
    }
}

static bool parse_float_at(struct textparse *p, size_t from, size_t to, const char *what,
                           double *out)
{
    enum textparse_num r = textparse_num_float(p->buf + from, to - from, out);
    if (r == TEXTPARSE_NUM_OK)
        return true;
    char q[96];
    quote_bytes(q, sizeof q, p->buf + from, to - from, 40);
    fail(p, "invalid %s %s: %s", what, q, num_reason(r));
    return false;
}

/* An OpenMetrics timestamp: float seconds, finite. */
static bool parse_om_ts_at(struct textparse *p, size_t from, size_t to, const char *what,
                           int64_t *ms)
{
    double s;
    if (!parse_float_at(p, from, to, what, &s))
        return false;
    if (s != s || s - s != 0) { /* NaN or ±Inf */
        char q[96];
        quote_bytes(q, sizeof q, p->buf + from, to - from, 40);
        fail(p, "invalid %s %s: not a finite number", what, q);
        return false;
    }
    *ms = textparse_num_seconds_to_ms(s);
    return true;
}

/* ---- entries shared by both formats ---- */

static enum textparse_entry finish_series(struct textparse *p, size_t start)
{
    p->series_start = start;
    /* One plain label cannot clash unless it is spelt __name__. */
    const struct textparse_label *l = textparse_label_array(p);
    if (p->nlabels > 1 || (p->nlabels == 1 && (l->name.escaped || l->name.len == 8))) {
        size_t d = textparse_dup_label(p);
        if (d != (size_t)-1) {
            const struct textparse_str *nm = &textparse_label_array(p)[d].name;
            return fail_quoted_str(p, "duplicate label name %s", nm->s, nm->len);
        }
    }
    return TEXTPARSE_SERIES;
}

static bool type_from_text(struct textparse_str t, enum textparse_format f,
                           enum textparse_mtype *out)
{
#define IS(lit) (t.len == sizeof lit - 1 && memcmp(t.s, lit, sizeof lit - 1) == 0)
    bool om = f == TEXTPARSE_OPENMETRICS;
    enum textparse_mtype m;
    if (IS("counter"))
        m = TEXTPARSE_MTYPE_COUNTER;
    else if (IS("gauge"))
        m = TEXTPARSE_MTYPE_GAUGE;
    else if (IS("histogram"))
        m = TEXTPARSE_MTYPE_HISTOGRAM;
    else if (IS("summary"))
        m = TEXTPARSE_MTYPE_SUMMARY;
    else if (!om && IS("untyped"))
        m = TEXTPARSE_MTYPE_UNKNOWN;
    else if (om && IS("unknown"))
        m = TEXTPARSE_MTYPE_UNKNOWN;
    else if (om && IS("gaugehistogram"))
        m = TEXTPARSE_MTYPE_GAUGEHISTOGRAM;
    else if (om && IS("info"))
        m = TEXTPARSE_MTYPE_INFO;
    else if (om && IS("stateset"))
        m = TEXTPARSE_MTYPE_STATESET;
    else
        return false;
#undef IS
    *out = m;
    return true;
}

/* Validates a HELP/TYPE/UNIT entry whose name and text are set. */
static enum textparse_entry finish_meta(struct textparse *p, enum textparse_entry kind, bool high)
{
    struct textparse_str t = p->meta_text;
    if (kind == TEXTPARSE_TYPE) {
        if (!type_from_text(t, p->format, &p->meta_type))
            return fail_quoted_str(p, "invalid metric type %s", t.s, t.len);
        p->family = p->meta_name;
        p->mtype = p->meta_type;
    } else if (kind == TEXTPARSE_HELP) {
        if (high && !textparse_utf8_valid(t.s, t.len))
            return fail_quoted_str(p, "help text %s is not valid UTF-8", t.s, t.len);
    } else if (kind == TEXTPARSE_UNIT && t.len > 0) {
        const struct textparse_str *m = &p->meta_name;
        if (m->len < t.len + 1 || memcmp(m->s + m->len - t.len, t.s, t.len) != 0 ||
            m->s[m->len - t.len - 1] != '_') {
            char u[96], mn[96];
            quote_bytes(u, sizeof u, t.s, t.len, 40);
            quote_bytes(mn, sizeof mn, m->s, m->len, 40);
            return fail(p, "unit %s not a suffix of metric %s", u, mn);
        }
    }
    p->mf_name_len = p->meta_name.len;
    return kind;
}

/* The metric name after "# HELP " etc.: quoted or plain.  Sets meta_name and
 * returns the index after it, or 0 on error (the name never starts at 0). */
static size_t meta_name_at(struct textparse *p, size_t i, const char *keyword)
{
    if (at(p, i) == '"') {
        struct quoted q;
        if (scan_quoted(p, i, Q_NAME, &q)) {
            p->meta_name = span(p, i + 1, q.end - 1, q.escaped);
            return q.end;
        }
    } else if (has_class(p, i, C_MSTART)) {
        size_t j = skip_name(p, i + 1, true);
        p->meta_name = span(p, i, j, false);
        return j;
    }
    char what[48];
    snprintf(what, sizeof what, "expected metric name after %s", keyword);
    fail_got(p, i, what);
    return 0;
}

/* ---- the Prometheus text format ---- */

/* "HELP" or "TYPE" at i, then blanks: *end is where the name starts.  Go's
 * lexer is in its comment state here and steps over NULs between all of
 * these bytes; the usual spelling has none and is checked first. */
static bool prom_keyword(const struct textparse *p, size_t i, const char *kw, size_t *end)
{
    if (i + 4 < p->len && memcmp(p->buf + i, kw, 4) == 0 && is_blank(p->buf[i + 4])) {
        *end = skip_blanks_nuls(p, i + 5);
        return true;
    }
    for (const char *r = kw + 1; *r; r++) {
        i = skip_nuls(p, i + 1);
        if (at(p, i) != *r)
            return false;
    }
    i = skip_nuls(p, i + 1);
    if (!is_blank(at(p, i)))
        return false;
    *end = skip_blanks_nuls(p, i + 1);
    return true;
}

static enum textparse_entry prom_meta(struct textparse *p, size_t i, enum textparse_entry kind)
{
    size_t j = meta_name_at(p, i, kind == TEXTPARSE_HELP ? "HELP" : "TYPE");
    if (!j)
        return TEXTPARSE_ERROR;
    /* The text is Go's {C}* from just after the name, minus its first byte;
     * blanks (and NULs) alone before the newline make no text. */
    struct line_scan ls = scan_line(p, j);
    size_t e = ls.end;
    int c = at(p, j);
    size_t from = e;
    if (c == '\0')
        from = e = j; /* empty text; what follows is not a line break */
    else if (c != '\n' && !(is_blank(c) && skip_blanks_nuls(p, j + 1) >= e))
        from = j + 1;
    p->meta_text = span(p, from, e, ls.backslash);
    enum textparse_entry r = finish_meta(p, kind, ls.high);
    if (r == TEXTPARSE_ERROR)
        return r;
    if (at(p, e) != '\n')
        return fail_got(p, e, "linebreak expected after metadata");
    p->pos = e + 1;
    return r;
}

static enum textparse_entry prom_comment(struct textparse *p, size_t hash, size_t nl)
{
    p->meta_text = span(p, hash, nl, false);
    p->pos = nl + 1;
    return TEXTPARSE_COMMENT;
}

static enum textparse_entry prom_hash(struct textparse *p, size_t h)
{
    size_t i = h + 1;
    if (!is_blank(at(p, i))) {
        /* "#text": Go consumes it up to '\n', a NUL ending the input */
        size_t e = line_end(p, i);
        const char *nul = memchr(p->buf + i, '\0', e - i);
        if (nul)
            return TEXTPARSE_END;
        return prom_comment(p, h, e);
    }
    i = skip_blanks(p, i);
    int c = at(p, i);
    if (c == '\0')
        return TEXTPARSE_END;
    size_t k;
    if (c == 'H' && prom_keyword(p, i, "HELP", &k))
        return prom_meta(p, k, TEXTPARSE_HELP);
    if (c == 'T' && prom_keyword(p, i, "TYPE", &k))
        return prom_meta(p, k, TEXTPARSE_TYPE);
    return prom_comment(p, h, line_end(p, i));
}

/* The label block after '{'; *ip ends after '}'. */
/* A label name at i, plain or quoted (Prometheus 3's UTF-8 names): its
 * span in *name and the index just past it in *te.  Shared by both
 * grammars, which differ only in what may follow the name. */
static inline bool label_name_scan(struct textparse *p, size_t i, struct textparse_str *name,
                                   size_t *te)
{
    if (has_class(p, i, C_LSTART)) {
        *te = skip_name(p, i + 1, false);
        *name = span(p, i, *te, false);
        return true;
    }
    if (at(p, i) != '"')
        return fail_got(p, i, "expected label name"), false;
    struct quoted q = {0};
    if (!scan_quoted(p, i, Q_NAME, &q))
        return fail_scan(p, &q, "quoted name"), false;
    *te = q.end;
    *name = span(p, i + 1, *te - 1, q.escaped);
    if (q.high && !textparse_utf8_valid(name->s, name->len))
        return fail_quoted_str(p, "invalid UTF-8 name %s", name->s, name->len), false;
    return true;
}

static bool prom_labels(struct textparse *p, size_t *ip, bool *name_set)
{
    const char *b = p->buf;
    size_t i = *ip;
    for (;;) {
        i = skip_blanks(p, i);
        int c = at(p, i);
        if (c == '}') {
            *ip = i + 1;
            return true;
        }
        struct textparse_str name;
        size_t te;
        bool quoted = c == '"';
        if (!label_name_scan(p, i, &name, &te))
            return false;
        struct quoted q = {0};
        i = te;
        if (i < p->len && b[i] == '=' && b[i + 1 < p->len ? i + 1 : i] == '"') {
            i++; /* the usual `name="` */
        } else {
            i = skip_blanks(p, i);
            c = at(p, i);
            if (quoted && (c == ',' || c == '}')) {
                if (*name_set)
                    return fail(p, "metric name already set"), false;
                p->name = name;
                *name_set = true;
                if (c == '}') {
                    *ip = i + 1;
                    return true;
                }
                i++;
                continue;
            }
            if (c != '=')
                return fail_got(p, i, "expected equal"), false;
            i++;
            if (is_blank(at(p, i)))
                i = skip_blanks_nuls(p, i + 1);
            if (at(p, i) != '"')
                return fail_got(p, i, "expected label value"), false;
        }
        if (!scan_quoted(p, i, Q_PROM_VALUE, &q))
            return fail_scan(p, &q, "label value"), false;
        if (q.high && !textparse_utf8_valid(b + i, q.end - i))
            return fail_quoted_str(p, "invalid UTF-8 label value %s", b + i, q.end - i), false;
        label_push(p, name, span(p, i + 1, q.end - 1, q.escaped));
        p->nlabels++;
        i = q.end;
        if (i < p->len && b[i] == ',')
            i++;
        else if ((i = skip_blanks(p, i)) < p->len && b[i] == ',')
            i++;
    }
}

/* A sample line starting at `start` (the line's first byte, blanks
 * included), its name or '{' at i. */
static enum textparse_entry prom_series(struct textparse *p, size_t start, size_t i)
{
    bool name_set = false;
    if (p->buf[i] != '{') {
        size_t j = skip_name(p, i + 1, true);
        p->name = span(p, start, j, false);
        name_set = true;
        p->series_end = j;
        i = skip_blanks(p, j);
    }
    if (at(p, i) == '{') {
        i++;
        if (!prom_labels(p, &i, &name_set))
            return TEXTPARSE_ERROR;
        p->series_end = i;
        i = skip_blanks(p, i);
    }
    if (!name_set)
        return fail(p, "metric name not set");
    if (!has_class(p, i, C_PVAL))
        return fail_got(p, i, "expected value after metric");
    size_t j = skip_class(p, i, C_PVAL);
    if (!parse_float_at(p, i, j, "value", &p->value))
        return TEXTPARSE_ERROR;
    i = skip_blanks(p, j);
    int c = at(p, i);
    if (c >= '0' && c <= '9') {
        j = i;
        while (j < p->len && p->buf[j] >= '0' && p->buf[j] <= '9')
            j++;
        enum textparse_num r = textparse_num_int64(p->buf + i, j - i, &p->ts);
        if (r != TEXTPARSE_NUM_OK) {
            char q[96];
            quote_bytes(q, sizeof q, p->buf + i, j - i, 40);
            return fail(p, "invalid timestamp %s: %s", q, num_reason(r));
        }
        p->has_ts = true;
        i = skip_blanks(p, j);
        if (at(p, i) != '\n')
            return fail_got(p, i, "expected next entry after timestamp");
    } else if (c != '\n') {
        return fail_got(p, i, "expected timestamp or new record");
    }
    p->pos = i + 1;
    return finish_series(p, start);
}

static enum textparse_entry prom_next(struct textparse *p)
{
    for (;;) {
        size_t start = p->pos;
        size_t i = skip_blanks(p, start);
        p->entry_start = start;
        int c = at(p, i);
        if (c == END_OF_INPUT || c == '\0')
            return TEXTPARSE_END;
        if (c == '\n') {
            p->pos = i + 1;
            continue;
        }
        if (c == '#')
            return prom_hash(p, i);
        if (c == '{' || (cclass[c] & C_MSTART))
            return prom_series(p, start, i);
        return fail_got(p, i, "expected a valid start token");
    }
}

/* ---- OpenMetrics ---- */

/* The rest of a keyword matched at i and the one space after it, NULs
 * skipped as in Go's comment state; *end is where the name starts. */
static bool om_keyword(const struct textparse *p, size_t i, const char *rest, size_t *end)
{
    for (const char *r = rest; *r; r++) {
        i = skip_nuls(p, i + 1);
        if (at(p, i) != *r)
            return false;
    }
    *end = skip_nuls(p, i + 1);
    return true;
}

static enum textparse_entry om_eof(struct textparse *p, size_t i)
{
    size_t k;
    if (!om_keyword(p, i, "OF", &k))
        return fail_got(p, p->entry_start, "expected a valid start token");
    if (at(p, k) == '\n')
        k = skip_nuls(p, k + 1);
    if (k < p->len)
        return fail(p, "unexpected data after # EOF");
    p->pos = p->len;
    return TEXTPARSE_EOF;
}

static enum textparse_entry om_meta(struct textparse *p, size_t i, enum textparse_entry kind,
                                    const char *keyword)
{
    size_t j = meta_name_at(p, i, keyword);
    if (!j)
        return TEXTPARSE_ERROR;
    struct line_scan ls = {j, false, false};
    if (at(p, j) == ' ')
        ls = scan_line(p, j + 1);
    size_t e = ls.end;
    if (e >= p->len || e == j) {
        char what[32];
        snprintf(what, sizeof what, "expected text in %s", keyword);
        return fail_got(p, e, what);
    }
    p->meta_text = span(p, j + 1, e, ls.backslash);
    p->pos = skip_nuls(p, e + 1);
    return finish_meta(p, kind, ls.high);
}

static enum textparse_entry om_hash(struct textparse *p, size_t h)
{
    if (at(p, h + 1) != ' ')
        return fail_got(p, h, "expected a valid start token");
    size_t i = h + 2, k;
    switch (at(p, i)) {
    case 'E':
        return om_eof(p, i);
    case 'H':
        if (om_keyword(p, i, "ELP ", &k))
            return om_meta(p, k, TEXTPARSE_HELP, "HELP");
        break;
    case 'T':
        if (om_keyword(p, i, "YPE ", &k))
            return om_meta(p, k, TEXTPARSE_TYPE, "TYPE");
        break;
    case 'U':
        if (om_keyword(p, i, "NIT ", &k))
            return om_meta(p, k, TEXTPARSE_UNIT, "UNIT");
        break;
    default:
        break;
    }
    return fail_got(p, h, "expected a valid start token");
}

static bool om_labels(struct textparse *p, size_t *ip, bool *name_set)
{
    const char *b = p->buf;
    size_t i = *ip;
    for (;;) {
        int c = at(p, i);
        if (c == '}') {
            *ip = i + 1;
            return true;
        }
        struct textparse_str name;
        size_t te;
        bool quoted = c == '"';
        if (!label_name_scan(p, i, &name, &te))
            return false;
        struct quoted q = {0};
        c = at(p, te);
        if (quoted && (c == ',' || c == '}')) {
            if (*name_set)
                return fail(p, "metric name already set"), false;
            p->name = name;
            *name_set = true;
            i = te + 1;
            if (c == '}') {
                *ip = i;
                return true;
            }
            continue;
        }
        if (c != '=')
            return fail_got(p, te, "expected equal"), false;
        i = te + 1;
        if (at(p, i) != '"')
            return fail_got(p, i, "expected label value"), false;
        if (!scan_quoted(p, i, Q_OM_VALUE, &q))
            return fail_scan(p, &q, "label value"), false;
        if (q.high && !textparse_utf8_valid(b + i, q.end - i))
            return fail_quoted_str(p, "invalid UTF-8 label value %s", b + i, q.end - i), false;
        label_push(p, name, span(p, i + 1, q.end - 1, q.escaped));
        p->nlabels++;
        i = q.end;
        c = at(p, i);
        if (c == ',')
            i++;
        else if (c != '}')
            return fail_got(p, i, "expected comma or brace close"), false;
    }
}

/* " # {" at i: an exemplar follows. */
static bool om_exemplar_at(const struct textparse *p, size_t i)
{
    return i + 3 < p->len && memcmp(p->buf + i, " # {", 4) == 0;
}

/* A space and a value-like token at i: sets *end after the token. */
static bool om_token_at(const struct textparse *p, size_t i, size_t *end)
{
    if (at(p, i) != ' ' || !has_class(p, i + 1, C_OVAL))
        return false;
    *end = skip_class(p, i + 1, C_OVAL);
    return true;
}

/* Exemplar labels after " # {", value and optional timestamp, to the end of the line. */
static enum textparse_entry om_exemplar(struct textparse *p, size_t start, size_t i)
{
    p->has_exemplar = true;
    for (;;) {
        if (at(p, i) == '}') {
            i++;
            break;
        }
        if (!has_class(p, i, C_LSTART))
            return fail_got(p, i, "expected label name in exemplar");
        size_t ns = i, te = skip_name(p, i + 1, false);
        if (at(p, te) != '=')
            return fail_got(p, te, "expected equal");
        i = te + 1;
        if (at(p, i) != '"')
            return fail_got(p, i, "expected label value");
        struct quoted q;
        if (!scan_quoted(p, i, Q_OM_EXEMPLAR, &q))
            return fail_scan(p, &q, "exemplar label value");
        if (q.high && !textparse_utf8_valid(p->buf + i, q.end - i))
            return fail_quoted_str(p, "invalid UTF-8 label value %s", p->buf + i, q.end - i);
        label_push(p, span(p, ns, te, false), span(p, i + 1, q.end - 1, q.escaped));
        p->nex++;
        i = q.end;
        int c = at(p, i);
        if (c == ',')
            i++;
        else if (c != '}')
            return fail_got(p, i, "expected comma or brace close");
    }
    size_t j;
    if (!om_token_at(p, i, &j))
        return fail_got(p, i, "expected value after exemplar labels");
    if (!parse_float_at(p, i + 1, j, "exemplar value", &p->ex_value))
        return TEXTPARSE_ERROR;
    i = j;
    if (i >= p->len)
        return fail(p, "data does not end with # EOF");
    if (om_token_at(p, i, &j)) {
        if (!parse_om_ts_at(p, i + 1, j, "exemplar timestamp", &p->ex_ts))
            return TEXTPARSE_ERROR;
        p->ex_has_ts = true;
        i = j;
        if (at(p, i) != '\n')
            return fail_got(p, i, "expected next entry after exemplar timestamp");
    } else if (at(p, i) != '\n') {
        return fail_got(p, i, "expected timestamp or comment");
    }
    p->pos = i + 1;
    return finish_series(p, start);
}

static enum textparse_entry om_series(struct textparse *p, size_t start)
{
    size_t i = start;
    bool name_set = false;
    if (p->buf[i] != '{') {
        i = skip_name(p, i + 1, true);
        p->name = span(p, start, i, false);
        name_set = true;
        p->series_end = i;
    }
    if (at(p, i) == '{') {
        i++;
        if (!om_labels(p, &i, &name_set))
            return TEXTPARSE_ERROR;
        p->series_end = i;
    }
    if (!name_set)
        return fail(p, "metric name not set");
    size_t j;
    if (!om_token_at(p, i, &j))
        return fail_got(p, i, "expected value after metric");
    if (!parse_float_at(p, i + 1, j, "value", &p->value))
        return TEXTPARSE_ERROR;
    i = j;
    if (i >= p->len)
        return fail(p, "data does not end with # EOF");
    if (om_exemplar_at(p, i))
        return om_exemplar(p, start, i + 4);
    /* " # " not followed by '{' is no token at all in Go's lexer */
    bool hash_space = i + 2 < p->len && p->buf[i + 1] == '#' && p->buf[i + 2] == ' ';
    if (!hash_space && om_token_at(p, i, &j)) {
        if (!parse_om_ts_at(p, i + 1, j, "timestamp", &p->ts))
            return TEXTPARSE_ERROR;
        p->has_ts = true;
        i = j;
        if (om_exemplar_at(p, i))
            return om_exemplar(p, start, i + 4);
        if (at(p, i) != '\n')
            return fail_got(p, i, "expected next entry after timestamp");
    } else if (at(p, i) != '\n') {
        return fail_got(p, i, "expected timestamp or comment");
    }
    p->pos = i + 1;
    return finish_series(p, start);
}

static enum textparse_entry om_next(struct textparse *p)
{
    size_t i = p->pos;
    p->entry_start = i;
    if (i >= p->len)
        return fail(p, "data does not end with # EOF");
    unsigned char c = (unsigned char)p->buf[i];
    if (c == '#')
        return om_hash(p, i);
    if (c == '{' || (cclass[c] & C_MSTART))
        return om_series(p, i);
    return fail_got(p, i, "expected a valid start token");
}

/* ---- the public face ---- */

void textparse_init(struct textparse *p, enum textparse_format format, const char *buf, size_t len)
{
    memset(p, 0, offsetof(struct textparse, inline_labels));
    p->buf = buf ? buf : "";
    p->len = buf ? len : 0;
    p->format = format;
    p->cur = TEXTPARSE_COMMENT; /* nothing yet; not a terminal state */
    p->meta_text = span(p, 0, 0, false);
    p->line_no = 1;
    p->label_cap = TEXTPARSE_INLINE_LABELS;
    p->err[0] = '\0';
}

void textparse_free(struct textparse *p)
{
    free(p->heap);
    free((void *)p->dup);
    p->heap = NULL;
    p->dup = NULL;
    p->dup_cap = 0;
    p->label_cap = TEXTPARSE_INLINE_LABELS;
    p->nlabels = p->nex = 0;
}

enum textparse_entry textparse_next(struct textparse *p)
{
    if (p->cur == TEXTPARSE_ERROR || p->cur == TEXTPARSE_END)
        return p->cur;
    if (p->cur == TEXTPARSE_EOF)
        return p->cur = TEXTPARSE_END;
    p->nlabels = p->nex = 0;
    p->has_ts = p->has_exemplar = p->ex_has_ts = false;
    p->cur = p->format == TEXTPARSE_PROMETHEUS ? prom_next(p) : om_next(p);
    return p->cur;
}

const char *textparse_error(const struct textparse *p)
{
    return p->err;
}

unsigned long textparse_line(struct textparse *p)
{
    return line_at(p, p->entry_start);
}

void textparse_series(const struct textparse *p, const char **raw, size_t *rawlen)
{
    *raw = p->buf + p->series_start;
    *rawlen = p->series_end - p->series_start;
}

struct textparse_str textparse_metric_name(const struct textparse *p)
{
    return p->name;
}

double textparse_value(const struct textparse *p)
{
    return p->value;
}

bool textparse_timestamp(const struct textparse *p, int64_t *ms)
{
    if (p->has_ts && ms)
        *ms = p->ts;
    return p->has_ts;
}

size_t textparse_label_count(const struct textparse *p)
{
    return p->nlabels;
}

const struct textparse_label *textparse_labels(const struct textparse *p)
{
    return textparse_label_array(p);
}

bool textparse_exemplar(const struct textparse *p, struct textparse_exemplar *ex)
{
    if (!p->has_exemplar)
        return false;
    ex->labels = textparse_label_array(p) + p->nlabels;
    ex->label_count = p->nex;
    ex->value = p->ex_value;
    ex->has_ts = p->ex_has_ts;
    ex->ts = p->ex_ts;
    return true;
}

struct textparse_str textparse_meta_name(const struct textparse *p)
{
    return p->meta_name;
}

struct textparse_str textparse_help(const struct textparse *p)
{
    return p->meta_text;
}

void textparse_help_unescape(const struct textparse *p, struct sbuf *out)
{
    textparse_unescape_as(out, p->meta_text.s, p->meta_text.len,
                          p->format == TEXTPARSE_PROMETHEUS ? TEXTPARSE_ESC_HELP
                                                            : TEXTPARSE_ESC_LABEL);
}

enum textparse_mtype textparse_type(const struct textparse *p)
{
    return p->meta_type;
}

struct textparse_str textparse_unit(const struct textparse *p)
{
    return p->meta_text;
}

struct textparse_str textparse_comment(const struct textparse *p)
{
    return p->meta_text;
}

enum textparse_mtype textparse_current_type(const struct textparse *p)
{
    return p->mtype;
}
