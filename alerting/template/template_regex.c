/* template_regex.c — Go's regexp for reReplaceAll and match, on PCRE2.
 *
 * Patterns are compiled per call (templates are small and run rarely) with
 * options that bring PCRE2 close to RE2: UTF-8, `$` only at the very end
 * (Go has no "before a final newline"), ASCII \w \d \s \b as in Go, and
 * invalid UTF-8 in the subject tolerated.  JIT is used when available; a
 * match limit and a depth limit bound the work of hostile patterns.
 * Compile errors are reported in Go's words where PCRE2's code has a Go
 * equivalent ("error parsing regexp: missing closing ): `(`").
 * ReplaceAll follows Go's rules for empty matches and expands $1, ${1},
 * $name, ${name} and $$ in the replacement as Go's Regexp.Expand does. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "alerting/template/template_regex.h"

#define MATCH_LIMIT 1000000
#define DEPTH_LIMIT 10000

struct tmpl_regex {
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
};

/* Go's wording for the PCRE2 compile errors that have a Go twin. */
static void compile_error(int code, size_t off, const char *pat, char *err, size_t errsz)
{
    const char *what = NULL;
    char arg[64] = "";
    size_t plen = strlen(pat);
    switch (code) {
    case PCRE2_ERROR_MISSING_CLOSING_PARENTHESIS:
        what = "missing closing )";
        snprintf(arg, sizeof arg, "%s", pat);
        break;
    case PCRE2_ERROR_UNMATCHED_CLOSING_PARENTHESIS:
        what = "unexpected )";
        snprintf(arg, sizeof arg, "%s", pat);
        break;
    case PCRE2_ERROR_MISSING_SQUARE_BRACKET:
        what = "missing closing ]";
        snprintf(arg, sizeof arg, "%s", off <= plen ? pat : "");
        break;
    case PCRE2_ERROR_QUANTIFIER_INVALID:
        if (off >= 1 && off < plen && strchr("*+?", pat[off]) && strchr("*+?}", pat[off - 1])) {
            what = "invalid nested repetition operator";
            snprintf(arg, sizeof arg, "%.2s", pat + off - 1);
        } else {
            what = "missing argument to repetition operator";
            snprintf(arg, sizeof arg, "%c", off > 0 && off <= plen ? pat[off - 1] : '*');
        }
        break;
    case PCRE2_ERROR_QUANTIFIER_OUT_OF_ORDER:
    case PCRE2_ERROR_QUANTIFIER_TOO_BIG:
        what = "invalid repeat count";
        break;
    case PCRE2_ERROR_UNKNOWN_ESCAPE:
    case PCRE2_ERROR_END_BACKSLASH:
        what = "invalid escape sequence";
        if (off >= 2 && off <= plen)
            snprintf(arg, sizeof arg, "%.2s", pat + off - 2);
        else
            snprintf(arg, sizeof arg, "\\");
        break;
    default:
        break;
    }
    if (what) {
        if (arg[0])
            snprintf(err, errsz, "error parsing regexp: %s: `%s`", what, arg);
        else
            snprintf(err, errsz, "error parsing regexp: %s", what);
        return;
    }
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(code, msg, sizeof msg);
    snprintf(err, errsz, "error parsing regexp: %s at offset %zu: `%s`", (const char *)msg, off,
             pat);
}

struct tmpl_regex *tmpl_regex_compile(const char *pat, size_t n, char *err, size_t errsz)
{
    int code;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_MATCH_INVALID_UTF;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)pat, n, opts, &code, &off, NULL);
    if (!re) {
        char *p = xstrndup(pat, n);
        compile_error(code, off, p, err, errsz);
        free(p);
        return NULL;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* best effort */
    struct tmpl_regex *r = xcalloc(1, sizeof *r);
    r->code = re;
    r->md = pcre2_match_data_create_from_pattern(re, NULL);
    r->mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(r->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(r->mctx, DEPTH_LIMIT);
    return r;
}

void tmpl_regex_free(struct tmpl_regex *r)
{
    if (!r)
        return;
    pcre2_match_context_free(r->mctx);
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->code);
    free(r);
}

/* Finds the next match at or after start; 1 found, 0 none, -1 error. */
static int find(struct tmpl_regex *r, const char *s, size_t n, size_t start, char *err,
                size_t errsz)
{
    int rc = pcre2_match(r->code, (PCRE2_SPTR)s, n, start, 0, r->md, r->mctx);
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof msg);
        snprintf(err, errsz, "regexp: %s", (const char *)msg);
        return -1;
    }
    return 1;
}

int tmpl_regex_match(struct tmpl_regex *r, const char *s, size_t n, bool *matched, char *err,
                     size_t errsz)
{
    int rc = find(r, s, n, 0, err, errsz);
    if (rc < 0)
        return -1;
    *matched = rc == 1;
    return 0;
}

static bool is_word(unsigned char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c >= 0x80;
}

static void append_group(struct tmpl_regex *r, const char *s, struct sbuf *out, uint32_t g)
{
    uint32_t ng = pcre2_get_ovector_count(r->md);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    if (g < ng && ov[2 * g] != PCRE2_UNSET)
        sbuf_append(out, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
}

/* Go's Regexp.expand of repl for the current match. */
static void expand(struct tmpl_regex *r, const char *repl, size_t rn, const char *s,
                   struct sbuf *out)
{
    for (size_t i = 0; i < rn;) {
        const char *d = memchr(repl + i, '$', rn - i);
        if (!d) {
            sbuf_append(out, repl + i, rn - i);
            return;
        }
        sbuf_append(out, repl + i, (size_t)(d - repl) - i);
        i = (size_t)(d - repl) + 1;
        if (i < rn && repl[i] == '$') {
            sbuf_putc(out, '$');
            i++;
            continue;
        }
        bool brace = i < rn && repl[i] == '{';
        size_t j = i + (brace ? 1 : 0), name = j;
        while (j < rn && is_word((unsigned char)repl[j]))
            j++;
        size_t nlen = j - name;
        if (nlen == 0 || (brace && (j >= rn || repl[j] != '}'))) {
            sbuf_putc(out, '$'); /* malformed: a literal $ */
            continue;
        }
        i = j + (brace ? 1 : 0);
        long num = 0;
        for (size_t k = 0; k < nlen; k++) {
            char c = repl[name + k];
            if (c < '0' || c > '9' || num >= 100000000) {
                num = -1;
                break;
            }
            num = num * 10 + (c - '0');
        }
        if (repl[name] == '0' && nlen > 1)
            num = -1;
        if (num >= 0) {
            append_group(r, s, out, (uint32_t)num);
            continue;
        }
        char nm[256];
        if (nlen >= sizeof nm)
            continue;
        memcpy(nm, repl + name, nlen);
        nm[nlen] = '\0';
        int g = pcre2_substring_number_from_name(r->code, (PCRE2_SPTR)nm);
        if (g > 0)
            append_group(r, s, out, (uint32_t)g);
    }
}

static size_t rune_width(const char *s, size_t n, size_t at)
{
    if (at >= n)
        return 0;
    unsigned char c = (unsigned char)s[at];
    size_t w = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    if (at + w > n)
        return 1;
    for (size_t i = 1; i < w; i++)
        if (((unsigned char)s[at + i] & 0xC0) != 0x80)
            return 1;
    return w;
}

int tmpl_regex_replace_all(struct tmpl_regex *r, const char *s, size_t n, const char *repl,
                           size_t rn, struct sbuf *out, char *err, size_t errsz)
{
    size_t last_end = 0, pos = 0;
    while (pos <= n) {
        int rc = find(r, s, n, pos, err, errsz);
        if (rc < 0)
            return -1;
        if (rc == 0)
            break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
        size_t a0 = ov[0], a1 = ov[1];
        if (a1 < a0) /* \K tricks; Go has none */
            a1 = a0;
        sbuf_append(out, s + last_end, a0 > last_end ? a0 - last_end : 0);
        if (a1 > last_end || a0 == 0)
            expand(r, repl, rn, s, out);
        last_end = a1 > last_end ? a1 : last_end;
        size_t w = rune_width(s, n, pos);
        if (pos + w > a1)
            pos += w;
        else if (pos + 1 > a1)
            pos++;
        else
            pos = a1;
        if (out->len > TMPL_MAX_OUTPUT) {
            snprintf(err, errsz, "regexp: result exceeds %u bytes", TMPL_MAX_OUTPUT);
            return -1;
        }
    }
    if (last_end < n)
        sbuf_append(out, s + last_end, n - last_end);
    return 0;
}
