/* regex.c — what the parser must know about a matcher's regular expression.
 *
 * Prometheus rejects a selector none of whose matchers excludes the empty
 * value ({job=~".*"}), and it rejects a syntactically bad regex as a parse
 * error quoting Go's regexp/syntax message.  Both need a look at the regex
 * but neither needs to run it, and the query module should not depend on a
 * regex engine that storage already owns.  So this file walks RE2 syntax
 * (Perl flags, '.' matching newline, as Prometheus compiles matchers) with
 * a small recursive-descent parser that answers two questions: is the text
 * well formed, reported with Go's error codes and quoted fragment, and can
 * the fully anchored regex match the empty string — an alternation can if
 * one branch can, a sequence if every piece can, a piece if its repeat
 * allows zero or its atom can, and zero-width assertions can except \b.
 *
 * Known gaps: Unicode class names after \p are not checked against the
 * Unicode tables, and Go's limits on repeat nesting size ("expression too
 * large") are not enforced. */
#include <stdio.h>
#include <string.h>

#include "query/promql_internal.h"
#include "util/gostrconv.h"

struct re {
    const char *s;
    size_t n, i;
    int depth;
    char *err;
    size_t errsz;
    bool failed;
};

enum { RE_MAX_DEPTH = 1000, RE_MAX_REPEAT = 1000 };

static bool re_fail(struct re *r, const char *code, const char *expr, size_t len)
{
    if (!r->failed)
        snprintf(r->err, r->errsz, "error parsing regexp: %s: `%.*s`", code, (int)len, expr);
    r->failed = true;
    return false;
}

static bool re_at_end(const struct re *r)
{
    return r->i >= r->n;
}

static char re_cur(const struct re *r)
{
    return r->i < r->n ? r->s[r->i] : '\0';
}

static bool re_isalnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Skips one rune (UTF-8 validity was checked up front). */
static void re_skip_rune(struct re *r)
{
    size_t w;
    utf8_decode(r->s + r->i, r->n - r->i, &w);
    r->i += w ? w : 1;
}

/* \p{Name}, \pL, \P... at r->i (the backslash). */
static bool re_unicode_class(struct re *r)
{
    size_t start = r->i;
    r->i += 2;
    if (re_at_end(r))
        return re_fail(r, "invalid character class range", r->s + start, r->n - start);
    if (re_cur(r) != '{') {
        re_skip_rune(r);
        return true;
    }
    const char *close = memchr(r->s + r->i, '}', r->n - r->i);
    if (!close)
        return re_fail(r, "invalid character class range", r->s + start, r->n - start);
    r->i = (size_t)(close - r->s) + 1;
    return true;
}

/* Go's parseEscape for a single-rune escape at r->i (the backslash). */
static bool re_escape_char(struct re *r)
{
    size_t start = r->i;
    r->i++;
    if (re_at_end(r))
        return re_fail(r, "trailing backslash at end of expression", "", 0);
    char c = r->s[r->i];
    if ((unsigned char)c >= 0x80) {
        re_skip_rune(r);
        return re_fail(r, "invalid escape sequence", r->s + start, r->i - start);
    }
    r->i++;
    if (!re_isalnum(c))
        return true;
    if (c >= '1' && c <= '7' && (re_at_end(r) || re_cur(r) < '0' || re_cur(r) > '7'))
        return re_fail(r, "invalid escape sequence", r->s + start, r->i - start);
    if (c >= '0' && c <= '7') {
        for (int k = 1; k < 3 && !re_at_end(r) && re_cur(r) >= '0' && re_cur(r) <= '7'; k++)
            r->i++;
        return true;
    }
    if (strchr("afnrtv", c))
        return true;
    if (c == 'x' && !re_at_end(r)) {
        if (re_cur(r) == '{') {
            r->i++;
            int nhex = 0;
            long v = 0;
            while (!re_at_end(r) && re_cur(r) != '}') {
                int d = go_hex_digit(re_cur(r));
                if (d < 0 || (v = v * 16 + d) > 0x10FFFF)
                    return re_fail(r, "invalid escape sequence", r->s + start, r->i + 1 - start);
                r->i++;
                nhex++;
            }
            if (re_at_end(r) || nhex == 0)
                return re_fail(r, "invalid escape sequence", r->s + start, r->i - start);
            r->i++;
            return true;
        }
        int x = go_hex_digit(re_cur(r));
        r->i++;
        int y = re_at_end(r) ? -1 : go_hex_digit(re_cur(r));
        if (!re_at_end(r))
            r->i++;
        if (x >= 0 && y >= 0)
            return true;
    }
    return re_fail(r, "invalid escape sequence", r->s + start, r->i - start);
}

/* An escape outside a class.  *zero_width tells whether it is an
 * assertion, *empty_ok whether that assertion holds on "". */
static bool re_escape(struct re *r, bool *zero_width, bool *empty_ok)
{
    *zero_width = false;
    *empty_ok = false;
    if (r->i + 1 < r->n) {
        char c = r->s[r->i + 1];
        if (c == 'A' || c == 'z' || c == 'B' || c == 'b') {
            r->i += 2;
            *zero_width = true;
            *empty_ok = c != 'b';
            return true;
        }
        if (c == 'C')
            return re_fail(r, "invalid escape sequence", r->s + r->i, 2);
        if (c == 'Q') {
            const char *e = NULL;
            for (size_t k = r->i + 2; k + 1 < r->n && !e; k++)
                if (r->s[k] == '\\' && r->s[k + 1] == 'E')
                    e = r->s + k;
            bool literal_empty = e ? e == r->s + r->i + 2 : r->i + 2 >= r->n;
            r->i = e ? (size_t)(e - r->s) + 2 : r->n;
            *zero_width = literal_empty;
            *empty_ok = literal_empty;
            return true;
        }
        if (c == 'p' || c == 'P')
            return re_unicode_class(r);
        if (strchr("dDsSwW", c)) {
            r->i += 2;
            return true;
        }
    }
    return re_escape_char(r);
}

static const char *const re_posix_classes[] = {
    "alnum", "alpha", "ascii", "blank", "cntrl", "digit", "graph",
    "lower", "print", "punct", "space", "upper", "word",  "xdigit",
};

/* [:name:] inside a class at r->i; returns 1 if consumed, 0 if not a
 * named class (then '[' is an ordinary character), -1 on error. */
static int re_named_class(struct re *r)
{
    const char *p = r->s + r->i + 2;
    const char *end = NULL;
    for (const char *q = p; q + 1 < r->s + r->n; q++)
        if (q[0] == ':' && q[1] == ']') {
            end = q;
            break;
        }
    if (!end)
        return 0;
    const char *name = p;
    if (name < end && *name == '^')
        name++;
    for (size_t k = 0; k < sizeof re_posix_classes / sizeof re_posix_classes[0]; k++)
        if (strlen(re_posix_classes[k]) == (size_t)(end - name) &&
            memcmp(re_posix_classes[k], name, (size_t)(end - name)) == 0) {
            r->i = (size_t)(end - r->s) + 2;
            return 1;
        }
    re_fail(r, "invalid character class range", r->s + r->i, (size_t)(end + 2 - (r->s + r->i)));
    return -1;
}

/* One class character (possibly escaped); its value in *c when known. */
static bool re_class_char(struct re *r, size_t class_start, long *c)
{
    if (re_at_end(r))
        return re_fail(r, "missing closing ]", r->s + class_start, r->n - class_start);
    if (re_cur(r) == '\\') {
        size_t at = r->i;
        if (!re_escape_char(r))
            return false;
        *c = -1;
        if (r->i - at == 2 && !re_isalnum(r->s[at + 1]))
            *c = (unsigned char)r->s[at + 1];
        return true;
    }
    size_t w;
    *c = utf8_decode(r->s + r->i, r->n - r->i, &w);
    r->i += w;
    return true;
}

static bool re_class_item(struct re *r, size_t class_start)
{
    if (r->n - r->i > 2 && re_cur(r) == '[' && r->s[r->i + 1] == ':') {
        int k = re_named_class(r);
        if (k != 0)
            return k > 0;
    }
    if (re_cur(r) == '\\' && r->i + 1 < r->n) {
        char e = r->s[r->i + 1];
        if (e == 'p' || e == 'P')
            return re_unicode_class(r);
        if (strchr("dDsSwW", e)) {
            r->i += 2;
            return true;
        }
    }
    size_t lo_at = r->i;
    long lo, hi;
    if (!re_class_char(r, class_start, &lo))
        return false;
    if (r->n - r->i >= 2 && re_cur(r) == '-' && r->s[r->i + 1] != ']') {
        r->i++;
        if (!re_class_char(r, class_start, &hi))
            return false;
        if (lo >= 0 && hi >= 0 && hi < lo)
            return re_fail(r, "invalid character class range", r->s + lo_at, r->i - lo_at);
    }
    return true;
}

/* A bracket class at r->i ('['); never matches the empty string. */
static bool re_class(struct re *r)
{
    size_t start = r->i++;
    if (re_cur(r) == '^')
        r->i++;
    bool first = true;
    while (re_at_end(r) || re_cur(r) != ']' || first) {
        first = false;
        if (!re_class_item(r, start))
            return false;
    }
    r->i++;
    return true;
}

static bool re_alternation(struct re *r, bool *nullable);

/* (?flags), (?flags:re), (?P<name>re), (?<name>re) or (re) at r->i.
 * *atom is false for a bare flag group, which matches nothing. */
static bool re_group(struct re *r, bool *nullable, bool *atom)
{
    size_t start = r->i++;
    *atom = true;
    if (re_cur(r) == '?') {
        r->i++;
        bool named =
            re_cur(r) == '<' || (re_cur(r) == 'P' && r->i + 1 < r->n && r->s[r->i + 1] == '<');
        if (named) {
            r->i += re_cur(r) == 'P' ? 2 : 1;
            size_t n0 = r->i;
            while (!re_at_end(r) && (re_isalnum(re_cur(r)) || re_cur(r) == '_'))
                r->i++;
            if (re_at_end(r) || re_cur(r) != '>' || r->i == n0)
                return re_fail(r, "invalid named capture", r->s + start,
                               (re_at_end(r) ? r->n : r->i + 1) - start);
            r->i++;
        } else {
            bool neg = false, saw = false;
            for (;;) {
                char c = re_cur(r);
                if (re_at_end(r))
                    return re_fail(r, "missing closing )", r->s, r->n);
                r->i++;
                if (strchr("imsU", c) && c) {
                    saw = true;
                } else if (c == '-' && !neg) {
                    neg = true, saw = false;
                } else if ((c == ':' || c == ')') && (!neg || saw)) {
                    if (c == ')') {
                        *atom = false;
                        *nullable = true;
                        return true;
                    }
                    break;
                } else {
                    return re_fail(r, "invalid or unsupported Perl syntax", r->s + start,
                                   r->i - start);
                }
            }
        }
    }
    if (++r->depth > RE_MAX_DEPTH)
        return re_fail(r, "expression nests too deeply", r->s, r->n);
    if (!re_alternation(r, nullable))
        return false;
    r->depth--;
    if (re_at_end(r) || re_cur(r) != ')')
        return re_fail(r, "missing closing )", r->s, r->n);
    r->i++;
    return true;
}

/* {n}, {n,} or {n,m} at r->i.  Returns false (and leaves r->i) when the
 * text is no repeat, in which case '{' is a literal. */
static bool re_parse_repeat(struct re *r, long *min, long *max, size_t *end)
{
    size_t i = r->i + 1;
    long v = 0;
    size_t d0 = i;
    while (i < r->n && r->s[i] >= '0' && r->s[i] <= '9') {
        if (v <= 100000000)
            v = v * 10 + (r->s[i] - '0');
        i++;
    }
    if (i == d0 || (i - d0 > 1 && r->s[d0] == '0'))
        return false;
    *min = v;
    *max = v;
    if (i < r->n && r->s[i] == ',') {
        i++;
        *max = -1;
        size_t m0 = i;
        v = 0;
        while (i < r->n && r->s[i] >= '0' && r->s[i] <= '9') {
            if (v <= 100000000)
                v = v * 10 + (r->s[i] - '0');
            i++;
        }
        if (i > m0) {
            if (i - m0 > 1 && r->s[m0] == '0')
                return false;
            *max = v;
        }
    }
    if (i >= r->n || r->s[i] != '}')
        return false;
    *end = i + 1;
    return true;
}

/* Repetition operators after an atom; updates *nullable.  last_rep is
 * where the previous operator of this piece began (for Go's error text). */
static bool re_repeats(struct re *r, bool have_atom, bool *nullable)
{
    size_t last_rep = SIZE_MAX;
    for (;;) {
        char c = re_cur(r);
        size_t op0 = r->i, op_end;
        long min, max;
        if (c == '*' || c == '+' || c == '?') {
            min = c == '+' ? 1 : 0;
            max = c == '?' ? 1 : -1;
            op_end = r->i + 1;
        } else if (c == '{' && re_parse_repeat(r, &min, &max, &op_end)) {
            if (min > RE_MAX_REPEAT || max > RE_MAX_REPEAT || (max >= 0 && min > max))
                return re_fail(r, "invalid repeat count", r->s + op0, op_end - op0);
        } else {
            return true;
        }
        r->i = op_end;
        if (re_cur(r) == '?')
            r->i++;
        if (last_rep != SIZE_MAX)
            return re_fail(r, "invalid nested repetition operator", r->s + last_rep,
                           r->i - last_rep);
        if (!have_atom)
            return re_fail(r, "missing argument to repetition operator", r->s + op0, r->i - op0);
        if (min == 0)
            *nullable = true;
        last_rep = op0;
    }
}

/* One atom with its repeats.  A repeat operator with no atom before it
 * (at the start of a sequence or after a bare flag group) is an error. */
static bool re_piece(struct re *r, bool *nullable)
{
    bool atom = true, zw, ok_empty;
    *nullable = false;
    switch (re_cur(r)) {
    case '(':
        if (!re_group(r, nullable, &atom))
            return false;
        break;
    case '[':
        if (!re_class(r))
            return false;
        break;
    case '^':
    case '$':
        r->i++;
        *nullable = true;
        break;
    case '\\':
        if (!re_escape(r, &zw, &ok_empty))
            return false;
        *nullable = zw && ok_empty;
        break;
    case '*':
    case '+':
    case '?':
        return re_repeats(r, false, nullable);
    default:
        re_skip_rune(r);
        break;
    }
    return re_repeats(r, atom, nullable);
}

/* A sequence up to '|', ')' or the end. */
static bool re_concat(struct re *r, bool *nullable)
{
    bool all = true;
    while (!re_at_end(r) && re_cur(r) != '|' && re_cur(r) != ')') {
        bool n;
        if (!re_piece(r, &n))
            return false;
        all = all && n;
    }
    *nullable = all;
    return true;
}

static bool re_alternation(struct re *r, bool *nullable)
{
    bool any = false;
    for (;;) {
        bool n;
        if (!re_concat(r, &n))
            return false;
        any = any || n;
        if (re_cur(r) != '|' || re_at_end(r))
            break;
        r->i++;
    }
    *nullable = any;
    return true;
}

/* Prometheus skips the regex parser for alternations of plain literals. */
static bool re_is_literal_alternation(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strchr("\\.+*?()[]{}^$", s[i]) && s[i])
            return false;
    return true;
}

static bool re_literal_alternation_matches_empty(const char *s, size_t n)
{
    if (n == 0 || s[0] == '|' || s[n - 1] == '|')
        return true;
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == '|' && s[i + 1] == '|')
            return true;
    return false;
}

int regex_check(const char *re, size_t n, bool *matches_empty, char *err, size_t errsz)
{
    if (re_is_literal_alternation(re, n)) {
        *matches_empty = re_literal_alternation_matches_empty(re, n);
        return 0;
    }
    struct re r = {.s = re, .n = n, .err = err, .errsz = errsz};
    for (size_t i = 0; i < n;) {
        size_t w;
        int32_t c = utf8_decode(re + i, n - i, &w);
        if (c == 0xFFFD && w == 1) {
            re_fail(&r, "invalid UTF-8", re + i, n - i);
            return -1;
        }
        i += w;
    }
    bool nullable;
    if (!re_alternation(&r, &nullable))
        return -1;
    if (!re_at_end(&r)) { /* a ')' without its '(' */
        re_fail(&r, "unexpected )", re, n);
        return -1;
    }
    *matches_empty = nullable;
    return 0;
}

bool promql_matcher_matches_empty(const struct label_matcher *m)
{
    char err[8];
    bool empty = false;
    switch (m->type) {
    case LABEL_MATCH_EQ:
        return m->value[0] == '\0';
    case LABEL_MATCH_NEQ:
        return m->value[0] != '\0';
    case LABEL_MATCH_RE:
        return regex_check(m->value, strlen(m->value), &empty, err, sizeof err) == 0 && empty;
    case LABEL_MATCH_NRE:
        return regex_check(m->value, strlen(m->value), &empty, err, sizeof err) == 0 && !empty;
    }
    return false;
}

bool promql_matchers_match_empty(const struct label_matcher *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!promql_matcher_matches_empty(&m[i]))
            return false;
    return true;
}
