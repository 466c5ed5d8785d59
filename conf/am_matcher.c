/* am_matcher.c — Alertmanager label matchers: the string syntax, the
 * deprecated `match` / `match_re` maps, and regexes with Go's rules.
 *
 * Matcher strings follow pkg/labels/parse.go of Alertmanager 0.25: an
 * optional leading "{" and trailing "}" are cut, the rest is split at commas
 * outside double quotes, and each piece must read
 *     <space> name <space> op <space> value <space>
 * with name [a-zA-Z_:][a-zA-Z0-9_:]*, op one of = != =~ !~, and the value
 * either bare or double-quoted with \" \\ \n escapes (a stray backslash is
 * literal).  An empty string is no matcher at all.
 *
 * Regexes are Go RE2 syntax, anchored as ^(?:re)$, compiled with PCRE2.
 * PCRE2 accepts more than RE2 (look-around, back-references, possessive
 * quantifiers, \K, verbs, repeat counts over 1000, ...), so a scan first
 * rejects what Go rejects, and rewrites the few escapes whose meaning
 * differs (\v is vertical tab in Go, a class in PCRE2; Go's \s has no \v)
 * and groups the assertions (^ $ \b \B \A \z), which Go lets a quantifier
 * follow and PCRE2 does not.
 * `$` is end-of-text only (PCRE2_DOLLAR_ENDONLY), as in Go. */
#include "conf/am_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"

/* ---- RE2 syntax check and translation ---- */

struct re2_scan {
    const char *p; /* the Go pattern */
    size_t i, len;
    struct sbuf *out; /* the PCRE2 pattern being built */
    char *why;        /* error message buffer */
    size_t whylen;
};

static int re2_fail(struct re2_scan *s, const char *what, size_t from, size_t to)
{
    snprintf(s->why, s->whylen, "%s: `%.*s`", what, (int)(to - from), s->p + from);
    return -1;
}

static bool is_octal(char c)
{
    return c >= '0' && c <= '7';
}

/* The end of a braced escape argument ("\x{41}", "\p{Greek}") starting at
 * `from`, or 0 if the brace is not closed. */
static size_t re2_brace_end(const struct re2_scan *s, size_t from)
{
    const char *rb = memchr(s->p + from, '}', s->len - from);
    return rb ? (size_t)(rb - s->p) + 1 : 0;
}

/* Where an escape with an argument ends: octal digits, \x hex, \p class.
 * *end starts just after the escape letter; -1 if malformed. */
static int re2_escape_extent(struct re2_scan *s, size_t at, unsigned char c, size_t *end)
{
    size_t e = *end;
    if (c >= '1' && c <= '7' && !(e < s->len && is_octal(s->p[e])))
        return re2_fail(s, "invalid escape sequence", at, e); /* a back-reference */
    if (c >= '0' && c <= '7') {
        while (e < s->len && e < at + 4 && is_octal(s->p[e]))
            e++;
    } else if (c == 'x' && e < s->len && s->p[e] == '{') {
        if (!(e = re2_brace_end(s, e)))
            return re2_fail(s, "invalid escape sequence", at, s->len);
    } else if (c == 'x') {
        if (!(e + 1 < s->len && isxdigit((unsigned char)s->p[e]) &&
              isxdigit((unsigned char)s->p[e + 1])))
            return re2_fail(s, "invalid escape sequence", at, e);
        e += 2;
    } else if ((c == 'p' || c == 'P') && e < s->len && s->p[e] == '{') {
        if (!(e = re2_brace_end(s, e)))
            return re2_fail(s, "invalid character class range", at, s->len);
    } else if ((c == 'p' || c == 'P') && e < s->len) {
        e++;
    }
    *end = e;
    return 0;
}

/* Escapes whose PCRE2 spelling differs from Go's; true if written. */
static bool re2_escape_rewrite(struct re2_scan *s, unsigned char c, bool in_class)
{
    if (c == 'v') {
        sbuf_puts(s->out, "\\x0b"); /* Go: vertical tab; PCRE2: a class */
    } else if (c == 's') {
        sbuf_puts(s->out, in_class ? "\\t\\n\\f\\r " : "[\\t\\n\\f\\r ]");
    } else if (c == 'S' && !in_class) {
        sbuf_puts(s->out, "[^\\t\\n\\f\\r ]"); /* in a class: PCRE2's, off by \v */
    } else if (!in_class && c && strchr("bBAz", c)) {
        sbuf_printf(s->out, "(?:\\%c)", c); /* quantifiable, as in Go */
    } else {
        return false;
    }
    return true;
}

/* An escape at s->i (the backslash); in_class: inside [...].  Go knows
 * \a \f \t \n \r \v, octal, \x, \d \s \w and negations, \p \P, the
 * assertions \b \B \A \z outside classes, and escaped punctuation. */
static int re2_escape(struct re2_scan *s, bool in_class)
{
    size_t at = s->i, end = at + 2;
    if (at + 1 >= s->len)
        return re2_fail(s, "trailing backslash at end of expression", at, s->len);
    unsigned char c = (unsigned char)s->p[at + 1];
    if (re2_escape_rewrite(s, c, in_class)) {
        s->i = end;
        return 0;
    }
    bool known = (c >= '0' && c <= '7') || (c && strchr("xpPafnrtdwDWS", c));
    if (!known && (c >= 0x80 || isalnum(c)))
        return re2_fail(s, "invalid escape sequence", at, end);
    if (re2_escape_extent(s, at, c, &end) < 0)
        return -1;
    sbuf_append(s->out, s->p + at, end - at);
    s->i = end;
    return 0;
}

/* \Q...\E: literal text, copied as is (PCRE2 knows \Q too).  Without \E
 * Go's quote runs to the end of the anchored pattern and swallows the
 * ")$" that closes it: an error. */
static int re2_quote(struct re2_scan *s)
{
    for (size_t k = s->i + 2; k + 1 < s->len; k++) {
        if (s->p[k] == '\\' && s->p[k + 1] == 'E') {
            sbuf_append(s->out, s->p + s->i, k + 2 - s->i);
            s->i = k + 2;
            return 0;
        }
    }
    snprintf(s->why, s->whylen, "missing closing ): `^(?:%s)$`", s->p);
    return -1;
}

/* A character class starting at '['. */
static int re2_class(struct re2_scan *s)
{
    size_t at = s->i;
    sbuf_putc(s->out, '[');
    s->i++;
    if (s->i < s->len && s->p[s->i] == '^')
        sbuf_putc(s->out, s->p[s->i++]);
    if (s->i < s->len && s->p[s->i] == ']')
        sbuf_putc(s->out, s->p[s->i++]);
    else if (s->i < s->len && strchr(":.=", s->p[s->i]) && s->p[s->i])
        sbuf_putc(s->out, '\\'); /* "[:x:]" is a plain class in Go, POSIX syntax to PCRE2 */
    while (s->i < s->len) {
        char c = s->p[s->i];
        if (c == ']') {
            sbuf_putc(s->out, c);
            s->i++;
            return 0;
        }
        if (c == '\\') {
            if (re2_escape(s, true) < 0)
                return -1;
            continue;
        }
        if (c == '[' && s->i + 1 < s->len && s->p[s->i + 1] == ':') {
            const char *e = strstr(s->p + s->i + 2, ":]");
            if (e) {
                size_t end = (size_t)(e - s->p) + 2;
                sbuf_append(s->out, s->p + s->i, end - s->i);
                s->i = end;
                continue;
            }
        }
        if (c == '[') /* PCRE2 would read [. and [= as POSIX collation */
            sbuf_puts(s->out, "\\[");
        else
            sbuf_putc(s->out, c);
        s->i++;
    }
    return re2_fail(s, "missing closing ]", at, s->len);
}

/* "(?" at s->i: Go knows only flag groups (?imsU-imsU) / (?flags:...) and
 * named captures (?P<name>...).  Returns 1 for a flags-only group, which
 * is not written: the caller places it (see re2_translate). */
static int re2_group_open(struct re2_scan *s)
{
    size_t at = s->i, k = at + 2;
    if (k < s->len && s->p[k] == 'P' && k + 1 < s->len && s->p[k + 1] == '<') {
        const char *gt = memchr(s->p + k, '>', s->len - k);
        if (!gt)
            return re2_fail(s, "invalid named capture", at, s->len);
        size_t end = (size_t)(gt - s->p) + 1;
        sbuf_append(s->out, s->p + at, end - at);
        s->i = end;
        return 0;
    }
    bool neg = false, saw = false;
    for (; k < s->len; k++) {
        char c = s->p[k];
        if (c == 'i' || c == 'm' || c == 's' || c == 'U') {
            saw = true;
            continue;
        }
        if (c == '-' && !neg) {
            neg = true;
            saw = false;
            continue;
        }
        if ((c == ':' || c == ')') && (!neg || saw)) {
            if (c == ':')
                sbuf_append(s->out, s->p + at, k + 1 - at);
            s->i = k + 1;
            return c == ')';
        }
        break;
    }
    return re2_fail(s, "invalid or unsupported Perl syntax", at, k < s->len ? k + 1 : s->len);
}

/* A {n}, {n,} or {n,m} at s->i?  Sets *end and checks the counts. */
static bool re2_brace_repeat(struct re2_scan *s, size_t *end, bool *too_big)
{
    size_t k = s->i + 1;
    long lo = -1, hi = -1;
    *too_big = false;
    if (k >= s->len || !isdigit((unsigned char)s->p[k]))
        return false;
    for (lo = 0; k < s->len && isdigit((unsigned char)s->p[k]); k++)
        lo = lo > 100000 ? lo : lo * 10 + (s->p[k] - '0');
    if (k < s->len && s->p[k] == ',') {
        k++;
        if (k < s->len && isdigit((unsigned char)s->p[k]))
            for (hi = 0; k < s->len && isdigit((unsigned char)s->p[k]); k++)
                hi = hi > 100000 ? hi : hi * 10 + (s->p[k] - '0');
    } else {
        hi = lo;
    }
    if (k >= s->len || s->p[k] != '}')
        return false;
    *end = k + 1;
    *too_big = lo > 1000 || hi > 1000 || (hi >= 0 && hi < lo);
    return true;
}

/* A repetition operator at s->i (*, +, ?, {n,m}, each maybe followed by
 * ?)?  Sets *end; -1 after re2_fail for a count over 1000. */
static int re2_repeat_at(struct re2_scan *s, size_t *end)
{
    char c = s->p[s->i];
    bool too_big = false, is_repeat = c == '*' || c == '+' || c == '?';
    *end = s->i + 1;
    if (c == '{' && re2_brace_repeat(s, end, &too_big)) {
        if (too_big)
            return re2_fail(s, "invalid repeat count", s->i, *end);
        is_repeat = true;
    }
    if (is_repeat && *end < s->len && s->p[*end] == '?')
        (*end)++;
    return is_repeat;
}

/* One non-repetition item at s->i. */
static int re2_item(struct re2_scan *s, size_t *flags_from, size_t *flags_to)
{
    size_t at = s->i;
    char c = s->p[at], next = at + 1 < s->len ? s->p[at + 1] : '\0';
    if (c == '\\' && next == 'Q')
        return re2_quote(s);
    if (c == '\\')
        return re2_escape(s, false);
    if (c == '[')
        return re2_class(s);
    if (c == '(' && next == '*')
        return re2_fail(s, "missing argument to repetition operator", at + 1, at + 2);
    if (c == '(' && next == '?') {
        int rc = re2_group_open(s);
        if (rc == 1) {
            *flags_from = at;
            *flags_to = s->i;
        }
        return rc < 0 ? -1 : 0;
    }
    if (c == '^' || c == '$')
        sbuf_printf(s->out, "(?:%c)", c); /* quantifiable, as in Go */
    else
        sbuf_putc(s->out, c);
    s->i++;
    return 0;
}

/* Go applies a quantifier after a flags-only group "(?i)" to the item
 * before the group; PCRE2 refuses it, so such a group is written after the
 * quantifier (flags only affect what follows them, so the meaning holds). */
static int re2_translate(struct re2_scan *s)
{
    bool after_repeat = false;
    size_t repeat_at = 0, flags_from = 0, flags_to = 0;
    while (s->i < s->len) {
        size_t at = s->i, end;
        int rep = re2_repeat_at(s, &end);
        if (rep < 0)
            return -1;
        if (rep) {
            if (after_repeat)
                return re2_fail(s, "invalid nested repetition operator", repeat_at, end);
            sbuf_append(s->out, s->p + at, end - at);
            s->i = end;
            after_repeat = true;
            repeat_at = at;
        } else {
            after_repeat = false;
        }
        sbuf_append(s->out, s->p + flags_from, flags_to - flags_from);
        flags_from = flags_to = 0;
        if (!rep && re2_item(s, &flags_from, &flags_to) < 0)
            return -1;
    }
    sbuf_append(s->out, s->p + flags_from, flags_to - flags_from);
    return 0;
}

int am_regex_compile(const char *re, struct pcre2_real_code_8 **out, char *buf, size_t n)
{
    char why[512];
    struct sbuf pat = SBUF_INIT;
    struct re2_scan s = {re, 0, strlen(re), &pat, why, sizeof why};
    *out = NULL;
    sbuf_puts(&pat, "^(?:");
    if (re2_translate(&s) < 0) {
        snprintf(buf, n, "error parsing regexp: %s", why);
        sbuf_free(&pat);
        return -1;
    }
    sbuf_puts(&pat, ")$");
    int code;
    PCRE2_SIZE off;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)pat.data, pat.len,
                                  PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF |
                                      PCRE2_NEVER_BACKSLASH_C,
                                  &code, &off, NULL);
    sbuf_free(&pat);
    if (!c) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        snprintf(buf, n, "error parsing regexp: %s: `^(?:%s)$`", (const char *)msg, re);
        return -1;
    }
    *out = c;
    return 0;
}

bool am_matcher_matches(const struct am_matcher *m, const char *value)
{
    switch (m->op) {
    case AM_MATCH_EQ:
        return strcmp(value, m->value) == 0;
    case AM_MATCH_NE:
        return strcmp(value, m->value) != 0;
    default:
        break;
    }
    pcre2_match_data *md = pcre2_match_data_create(1, NULL); /* match or not: 1 pair */
    int rc = pcre2_match(m->re, (PCRE2_SPTR)value, strlen(value), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return (rc >= 0) == (m->op == AM_MATCH_RE);
}

/* ---- matcher strings ---- */

static bool go_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *e = p + n;
    while (p < e) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        int len = (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 : (*p & 0xf8) == 0xf0 ? 4 : 0;
        if (!len || e - p < len || (len == 2 && *p < 0xc2))
            return false;
        for (int k = 1; k < len; k++)
            if ((p[k] & 0xc0) != 0x80)
                return false;
        unsigned cp = len == 2 ? (p[0] & 0x1fu) : len == 3 ? (p[0] & 0x0fu) : (p[0] & 0x07u);
        for (int k = 1; k < len; k++)
            cp = (cp << 6) | (p[k] & 0x3fu);
        if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        p += len;
    }
    return true;
}

/* Unquotes and unescapes a raw value (pkg/labels ParseMatcher rules). */
static int matcher_value(const char *raw, size_t n, struct sbuf *v, char *err, size_t errlen)
{
    const char *r = raw;
    size_t rn = n;
    bool want_quote = false;
    if (rn && r[0] == '"') {
        r++;
        rn--;
        want_quote = true;
    }
    if (!utf8_valid(r, rn)) {
        snprintf(err, errlen, "matcher value not valid UTF-8: %.*s", (int)n, raw);
        return -1;
    }
    bool escaped = false;
    for (size_t i = 0; i < rn; i++) {
        char c = r[i];
        if (escaped) {
            escaped = false;
            if (c == 'n')
                sbuf_putc(v, '\n');
            else if (c == '"' || c == '\\')
                sbuf_putc(v, c);
            else {
                sbuf_putc(v, '\\');
                sbuf_putc(v, c);
            }
        } else if (c == '\\' && i + 1 < rn) {
            escaped = true;
        } else if (c == '"') {
            if (!want_quote || i + 1 < rn)
                goto unescaped_quote;
            want_quote = false;
        } else {
            sbuf_putc(v, c);
        }
    }
    if (!want_quote)
        return 0;
unescaped_quote:
    snprintf(err, errlen, "matcher value contains unescaped double quote: %.*s", (int)n, raw);
    return -1;
}

static void matchers_push(struct am_matchers *ms, struct am_matcher m)
{
    ms->v = xrealloc(ms->v, (ms->n + 1) * sizeof *ms->v);
    ms->v[ms->n++] = m;
}

/* One "name op value" token. */
static int matcher_parse_one(const char *tok, size_t n, struct am_matchers *out, char *err,
                             size_t errlen)
{
    size_t i = 0;
    while (i < n && go_space(tok[i]))
        i++;
    size_t name_at = i;
    if (i < n && (isalpha((unsigned char)tok[i]) || tok[i] == '_' || tok[i] == ':'))
        for (i++; i < n && (isalnum((unsigned char)tok[i]) || tok[i] == '_' || tok[i] == ':');)
            i++;
    size_t name_end = i;
    while (i < n && go_space(tok[i]))
        i++;
    enum am_match_op op;
    if (name_end == name_at || i >= n)
        goto bad;
    if (tok[i] == '=')
        op = i + 1 < n && tok[i + 1] == '~' ? AM_MATCH_RE : AM_MATCH_EQ;
    else if (tok[i] == '!' && i + 1 < n && (tok[i + 1] == '=' || tok[i + 1] == '~'))
        op = tok[i + 1] == '=' ? AM_MATCH_NE : AM_MATCH_NRE;
    else
        goto bad;
    i += op == AM_MATCH_EQ ? 1 : 2;
    while (i < n && go_space(tok[i]))
        i++;
    size_t vend = n;
    while (vend > i && go_space(tok[vend - 1]))
        vend--;
    struct sbuf v = SBUF_INIT;
    sbuf_puts(&v, "");
    if (matcher_value(tok + i, vend - i, &v, err, errlen) < 0) {
        sbuf_free(&v);
        return -1;
    }
    struct am_matcher m = {xstrndup(tok + name_at, name_end - name_at), op, sbuf_detach(&v), NULL};
    if ((op == AM_MATCH_RE || op == AM_MATCH_NRE) &&
        am_regex_compile(m.value, &m.re, err, errlen) < 0) {
        free(m.name);
        free(m.value);
        return -1;
    }
    matchers_push(out, m);
    return 0;
bad:
    snprintf(err, errlen, "bad matcher format: %.*s", (int)n, tok);
    return -1;
}

int am_matchers_parse(const char *s, struct am_matchers *out, char *err, size_t errlen)
{
    size_t n = strlen(s);
    if (n && s[0] == '{')
        s++, n--;
    if (n && s[n - 1] == '}')
        n--;
    bool quoted = false, escaped = false;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == ',' && !quoted) {
            if (matcher_parse_one(s + start, i - start, out, err, errlen) < 0)
                return -1;
            start = i + 1;
            continue;
        }
        if (c == '"') {
            if (!escaped)
                quoted = !quoted;
            else
                escaped = false;
        } else if (c == '\\') {
            escaped = !escaped;
        } else if (c != ',') {
            escaped = false;
        }
    }
    /* The last token is trimmed (Go's TrimSpace) and dropped if empty. */
    const char *t = s + start;
    size_t tn = n - start;
    while (tn && isspace((unsigned char)*t))
        t++, tn--;
    while (tn && isspace((unsigned char)t[tn - 1]))
        tn--;
    return tn ? matcher_parse_one(t, tn, out, err, errlen) : 0;
}

void am_matchers_free(struct am_matchers *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        free(ms->v[i].name);
        free(ms->v[i].value);
        pcre2_code_free(ms->v[i].re);
    }
    free(ms->v);
    ms->v = NULL;
    ms->n = 0;
}

static int matcher_cmp(const void *a, const void *b)
{
    const struct am_matcher *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c == 0)
        c = strcmp(x->value, y->value);
    return c ? c : (int)x->op - (int)y->op;
}

void am_matchers_sort(struct am_matchers *ms)
{
    if (ms->n > 1)
        qsort(ms->v, ms->n, sizeof *ms->v, matcher_cmp);
}

/* ---- decoders ---- */

int am_dec_matchers(struct ydec *d, const struct ynode *n, void *out)
{
    struct ystrlist lines = {0};
    if (am_dec_strlist(d, n, &lines) < 0) {
        ystrlist_free(&lines);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i < lines.n && rc == 0; i++) {
        char why[640];
        if (am_matchers_parse(lines.v[i], out, why, sizeof why) < 0) {
            size_t old = ydec_push_index(d, i);
            rc = ydec_fail(d, n->items[i], "%s", why);
            ydec_pop(d, old);
        }
    }
    ystrlist_free(&lines);
    return rc;
}

/* Checks one key of a match / match_re map; 0 or -1 after ydec_fail. */
static int match_key_check(struct ydec *d, const struct ynode *n, size_t i)
{
    const struct ynode *k = n->items[2 * i];
    if (k->kind != YNODE_SCALAR)
        return ydec_fail(d, k, "mapping keys must be strings");
    for (size_t j = 0; j < i; j++)
        if (n->items[2 * j]->kind == YNODE_SCALAR && strcmp(n->items[2 * j]->s, k->s) == 0)
            return ydec_fail(d, k, "key \"%s\" already set in map", k->s);
    if (!am_label_name_valid(k->s))
        return ydec_fail(d, k, "invalid label name \"%s\"", k->s);
    return 0;
}

static int match_value_check(struct ydec *d, const struct ynode *v, const char *key)
{
    if (v->kind == YNODE_SCALAR || v->kind == YNODE_NULL)
        return 0;
    size_t old = ydec_push_field(d, key);
    ydec_fail(d, v, "expected a string, got %s", v->kind == YNODE_MAP ? "a mapping" : "a list");
    ydec_pop(d, old);
    return -1;
}

int am_dec_match_map(struct ydec *d, const struct ynode *n, void *out)
{
    if (n->kind != YNODE_MAP)
        return ydec_fail(d, n, "expected a mapping of label names to values");
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        if (match_key_check(d, n, i) < 0 || match_value_check(d, v, k->s) < 0)
            return -1;
        struct am_matcher m = {xstrdup(k->s), AM_MATCH_EQ,
                               xstrdup(v->kind == YNODE_NULL ? "" : v->s), NULL};
        matchers_push(out, m);
    }
    return 0;
}

/* match_re values become matchers whose value is the anchored regex, as
 * dispatch/route.go builds them from Regexp.String(). */
int am_dec_match_re_map(struct ydec *d, const struct ynode *n, void *out)
{
    if (n->kind != YNODE_MAP)
        return ydec_fail(d, n, "expected a mapping of label names to regexes");
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        if (match_key_check(d, n, i) < 0 || match_value_check(d, v, k->s) < 0)
            return -1;
        size_t old = ydec_push_field(d, k->s);
        if (v->kind == YNODE_NULL)
            return ydec_fail(d, v, "invalid regexp value for \"%s\"", k->s);
        char why[640];
        struct am_matcher m = {NULL, AM_MATCH_RE, NULL, NULL};
        if (am_regex_compile(v->s, &m.re, why, sizeof why) < 0)
            return ydec_fail(d, v, "%s", why);
        ydec_pop(d, old);
        struct sbuf anchored = SBUF_INIT;
        sbuf_printf(&anchored, "^(?:%s)$", v->s);
        m.name = xstrdup(k->s);
        m.value = sbuf_detach(&anchored);
        matchers_push(out, m);
    }
    return 0;
}
