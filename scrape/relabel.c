/* relabel.c — Prometheus relabeling (model/relabel), compiled once, run many
 * times.
 *
 * Compiling copies each rule out of the config and compiles its regex as
 * `^(?s:re)$` with PCRE2 (UTF, invalid UTF-8 tolerated, `$` end-of-text only
 * like Go, \C refused), JIT-compiled when the platform allows, with one match
 * data block per rule and a shared match context carrying the match limit.
 * The config loader has already checked that the regex stays within RE2's
 * syntax, so PCRE2's backtracking gives the same leftmost-first submatches
 * Go's RE2 would.
 *
 * Running a rule: the source label values are joined with the separator into
 * a reused buffer, then the action runs exactly as Prometheus's relabel():
 *
 *   keep / drop            regex on the joined value; drop the set or not
 *   keepequal / dropequal  joined value against the target label's value
 *   replace                on a match, target = Expand(target_label),
 *                          value = Expand(replacement); an invalid target
 *                          name skips the rule, an empty value deletes
 *                          (fast path: empty value, default regex and no `$`
 *                          in either template just sets target=replacement)
 *   lowercase / uppercase  target = case-mapped joined value (Unicode simple
 *                          case mapping, invalid UTF-8 becomes U+FFFD as in
 *                          Go's strings.Map)
 *   hashmod                target = (last 8 bytes of md5(value), big-endian)
 *                          % modulus — Prometheus reads hash[8:]
 *   labelmap               every label whose name matches is copied to
 *                          Expand(replacement) (the anchored regex matches
 *                          the whole name once, so ReplaceAllString is one
 *                          Expand)
 *   labeldrop / labelkeep  delete labels whose name matches / does not
 *
 * labelmap, labeldrop and labelkeep walk a snapshot of the names taken before
 * the rule starts, as Go's labels.Builder.Range does.  Allocation happens on
 * label changes only; the joined value and expansion buffers are reused. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wctype.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "scrape/relabel.h"

struct group_name {
    char *name;
    uint32_t num;
};

struct rule {
    enum prom_relabel_action action;
    char **src;
    size_t nsrc;
    char *separator, *target, *replacement;
    uint64_t modulus;
    bool default_regex;
    pcre2_code *re;
    pcre2_match_data *md;
    uint32_t ngroups; /* capture groups + 1 (group 0 is the whole match) */
    struct group_name *names;
    size_t nnames;
};

struct relabel_rules {
    struct rule *v;
    size_t n;
    enum prom_name_validation scheme;
    pcre2_match_context *mctx;
    pcre2_jit_stack *jit_stack;
    uint64_t limit_hits;
    struct sbuf val, target, res; /* reused per rule */
};

static void rule_free(struct rule *r)
{
    for (size_t i = 0; i < r->nsrc; i++)
        free(r->src[i]);
    free(r->src);
    free(r->separator);
    free(r->target);
    free(r->replacement);
    for (size_t i = 0; i < r->nnames; i++)
        free(r->names[i].name);
    free(r->names);
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->re);
}

void relabel_rules_free(struct relabel_rules *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        rule_free(&r->v[i]);
    free(r->v);
    pcre2_match_context_free(r->mctx);
    pcre2_jit_stack_free(r->jit_stack);
    sbuf_free(&r->val);
    sbuf_free(&r->target);
    sbuf_free(&r->res);
    free(r);
}

size_t relabel_rules_count(const struct relabel_rules *r)
{
    return r ? r->n : 0;
}

uint64_t relabel_rules_limit_hits(const struct relabel_rules *r)
{
    return r ? r->limit_hits : 0;
}

static int rule_compile_regex(struct rule *r, const char *re, char *err, size_t errsize)
{
    struct sbuf pat = SBUF_INIT;
    sbuf_puts(&pat, "^(?s:");
    sbuf_puts(&pat, re);
    sbuf_puts(&pat, ")$");
    int ec;
    PCRE2_SIZE off;
    r->re = pcre2_compile((PCRE2_SPTR)pat.data, pat.len,
                          PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |
                              PCRE2_NEVER_BACKSLASH_C,
                          &ec, &off, NULL);
    sbuf_free(&pat);
    if (!r->re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ec, msg, sizeof msg);
        snprintf(err, errsize, "regex \"%s\": %s", re, (const char *)msg);
        return -1;
    }
    pcre2_jit_compile(r->re, PCRE2_JIT_COMPLETE); /* on failure the interpreter runs */
    r->md = pcre2_match_data_create_from_pattern(r->re, NULL);
    uint32_t cap = 0, count = 0, esize = 0;
    PCRE2_SPTR table = NULL;
    pcre2_pattern_info(r->re, PCRE2_INFO_CAPTURECOUNT, &cap);
    pcre2_pattern_info(r->re, PCRE2_INFO_NAMECOUNT, &count);
    pcre2_pattern_info(r->re, PCRE2_INFO_NAMEENTRYSIZE, &esize);
    pcre2_pattern_info(r->re, PCRE2_INFO_NAMETABLE, &table);
    r->ngroups = cap + 1;
    if (count) {
        r->names = xcalloc(count, sizeof *r->names);
        for (uint32_t i = 0; i < count; i++) {
            PCRE2_SPTR e = table + (size_t)i * esize;
            r->names[i].num = (uint32_t)e[0] << 8 | e[1];
            r->names[i].name = xstrdup((const char *)e + 2);
        }
        r->nnames = count;
    }
    return 0;
}

int relabel_rules_compile(const struct prom_relabel_list *list, enum prom_name_validation names,
                          struct relabel_rules **out, char *err, size_t errsize)
{
    struct relabel_rules *rs = xcalloc(1, sizeof *rs);
    rs->scheme = names;
    rs->mctx = pcre2_match_context_create(NULL);
    pcre2_set_match_limit(rs->mctx, RELABEL_MATCH_LIMIT);
    rs->jit_stack = pcre2_jit_stack_create(32 * 1024, 1024 * 1024, NULL);
    if (rs->jit_stack)
        pcre2_jit_stack_assign(rs->mctx, NULL, rs->jit_stack);
    size_t n = list ? list->n : 0;
    rs->v = n ? xcalloc(n, sizeof *rs->v) : NULL;
    for (size_t i = 0; i < n; i++) {
        const struct prom_relabel *c = &list->v[i];
        struct rule *r = &rs->v[i];
        rs->n = i + 1;
        r->action = c->action;
        r->nsrc = c->source_labels.n;
        r->src = r->nsrc ? xcalloc(r->nsrc, sizeof *r->src) : NULL;
        for (size_t j = 0; j < r->nsrc; j++)
            r->src[j] = xstrdup(c->source_labels.v[j]);
        r->separator = xstrdup(c->separator ? c->separator : ";");
        r->target = xstrdup(c->target_label ? c->target_label : "");
        r->replacement = xstrdup(c->replacement ? c->replacement : "$1");
        r->modulus = c->modulus;
        const char *re = c->regex ? c->regex : "(.*)";
        r->default_regex = strcmp(re, "(.*)") == 0;
        if (r->action == PROM_RELABEL_HASHMOD && r->modulus == 0) {
            snprintf(err, errsize, "rule %zu: hashmod requires a non-zero modulus", i);
            relabel_rules_free(rs);
            return -1;
        }
        char msg[400];
        if (rule_compile_regex(r, re, msg, sizeof msg) < 0) {
            snprintf(err, errsize, "rule %zu (line %d): %s", i, c->pos.line, msg);
            relabel_rules_free(rs);
            return -1;
        }
    }
    *out = rs;
    return 0;
}

/* 1 on a match (submatches in r->md), 0 otherwise. */
static int rule_match(struct relabel_rules *rs, struct rule *r, const char *s, size_t len)
{
    int rc = pcre2_match(r->re, (PCRE2_SPTR)s, len, 0, 0, r->md, rs->mctx);
    if (rc > 0)
        return 1;
    if (rc != PCRE2_ERROR_NOMATCH)
        rs->limit_hits++; /* match/depth/heap/JIT-stack limit: counted, not matched */
    return 0;
}

/* ---- Go's Regexp.Expand ---- */

static bool name_byte(unsigned char c)
{
    /* Letters, digits and '_'; bytes of multi-byte UTF-8 sequences are taken
     * as letters (Go asks unicode.IsLetter/IsDigit of the rune). */
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c >= 0x80;
}

/* Go's extract(): after a '$', a name or number, optionally braced.
 * Returns the bytes consumed (0 if malformed), the name span and the group
 * number (-1 for a name). */
static size_t expand_ref(const char *p, const char **name, size_t *nlen, long *num)
{
    size_t i = 0;
    bool brace = p[0] == '{';
    if (brace)
        i++;
    size_t start = i;
    while (p[i] && name_byte((unsigned char)p[i]))
        i++;
    if (i == start)
        return 0;
    *name = p + start;
    *nlen = i - start;
    if (brace) {
        if (p[i] != '}')
            return 0;
        i++;
    }
    long v = 0;
    for (size_t k = 0; k < *nlen; k++) {
        char c = (*name)[k];
        if (c < '0' || c > '9' || v >= 100000000) {
            v = -1;
            break;
        }
        v = v * 10 + (c - '0');
    }
    if (**name == '0' && *nlen > 1)
        v = -1;
    *num = v;
    return i;
}

static void append_group(struct sbuf *out, const struct rule *r, const char *src, long g)
{
    if (g < 0 || (uint32_t)g >= r->ngroups)
        return;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    if (ov[2 * g] == PCRE2_UNSET)
        return;
    sbuf_append(out, src + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
}

static void expand(struct sbuf *out, const struct rule *r, const char *tmpl, const char *src)
{
    sbuf_reset(out);
    sbuf_append(out, "", 0); /* always a valid C string */
    const char *p = tmpl;
    for (;;) {
        const char *d = strchr(p, '$');
        if (!d) {
            sbuf_puts(out, p);
            return;
        }
        sbuf_append(out, p, (size_t)(d - p));
        p = d + 1;
        if (*p == '$') {
            sbuf_putc(out, '$');
            p++;
            continue;
        }
        const char *name;
        size_t nlen;
        long num;
        size_t used = expand_ref(p, &name, &nlen, &num);
        if (!used) {
            sbuf_putc(out, '$');
            continue;
        }
        p += used;
        if (num >= 0) {
            append_group(out, r, src, num);
            continue;
        }
        for (size_t i = 0; i < r->nnames; i++)
            if (strlen(r->names[i].name) == nlen && memcmp(r->names[i].name, name, nlen) == 0) {
                append_group(out, r, src, r->names[i].num);
                break;
            }
    }
}

/* ---- Case mapping ---- */

static locale_t utf8_locale(void)
{
    static locale_t loc;
    static int tried;
    if (!tried) {
        /* Benign race: every thread computes the same value. */
        loc = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
        tried = 1;
    }
    return loc;
}

/* Decodes one UTF-8 sequence; returns its length, or 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t c, min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, c = s[0] & 0x1f, min = 0x80;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, c = s[0] & 0x0f, min = 0x800;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, c = s[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        c = c << 6 | (s[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

static void utf8_encode(struct sbuf *out, uint32_t c)
{
    char b[4];
    if (c < 0x80) {
        sbuf_putc(out, (char)c);
    } else if (c < 0x800) {
        b[0] = (char)(0xc0 | c >> 6), b[1] = (char)(0x80 | (c & 0x3f));
        sbuf_append(out, b, 2);
    } else if (c < 0x10000) {
        b[0] = (char)(0xe0 | c >> 12), b[1] = (char)(0x80 | (c >> 6 & 0x3f));
        b[2] = (char)(0x80 | (c & 0x3f));
        sbuf_append(out, b, 3);
    } else {
        b[0] = (char)(0xf0 | c >> 18), b[1] = (char)(0x80 | (c >> 12 & 0x3f));
        b[2] = (char)(0x80 | (c >> 6 & 0x3f)), b[3] = (char)(0x80 | (c & 0x3f));
        sbuf_append(out, b, 4);
    }
}

static void case_map(struct sbuf *out, const char *s, size_t n, bool upper)
{
    sbuf_reset(out);
    sbuf_append(out, "", 0);
    locale_t loc = utf8_locale();
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        if (p[i] < 0x80) {
            c = p[i];
            if (upper && c >= 'a' && c <= 'z')
                c -= 32;
            else if (!upper && c >= 'A' && c <= 'Z')
                c += 32;
            sbuf_putc(out, (char)c);
            i++;
            continue;
        }
        size_t len = utf8_decode(p + i, n - i, &c);
        if (!len) {
            c = 0xfffd;
            len = 1;
        } else if (loc) {
            c = (uint32_t)(upper ? towupper_l((wint_t)c, loc) : towlower_l((wint_t)c, loc));
        }
        utf8_encode(out, c);
        i += len;
    }
}

/* ---- Running ---- */

static bool target_is_valid(const struct relabel_rules *rs, const char *name)
{
    return prom_label_name_is_valid(name, rs->scheme);
}

static bool rule_apply(struct relabel_rules *rs, struct rule *r, struct label_set *s)
{
    struct sbuf *val = &rs->val;
    sbuf_reset(val);
    sbuf_append(val, "", 0);
    for (size_t i = 0; i < r->nsrc; i++) {
        if (i)
            sbuf_puts(val, r->separator);
        sbuf_puts(val, label_set_get(s, r->src[i]));
    }
    const char *v = val->data;
    size_t vlen = val->len;

    switch (r->action) {
    case PROM_RELABEL_DROP:
        return !rule_match(rs, r, v, vlen);
    case PROM_RELABEL_KEEP:
        return rule_match(rs, r, v, vlen);
    case PROM_RELABEL_DROPEQUAL:
        return strcmp(label_set_get(s, r->target), v) != 0;
    case PROM_RELABEL_KEEPEQUAL:
        return strcmp(label_set_get(s, r->target), v) == 0;
    case PROM_RELABEL_REPLACE: {
        if (vlen == 0 && r->default_regex && !strchr(r->target, '$') &&
            !strchr(r->replacement, '$')) {
            label_set_set(s, r->target, r->replacement);
            break;
        }
        if (!rule_match(rs, r, v, vlen))
            break;
        expand(&rs->target, r, r->target, v);
        if (!target_is_valid(rs, rs->target.data))
            break;
        expand(&rs->res, r, r->replacement, v);
        label_set_setn(s, rs->target.data, rs->res.data, rs->res.len);
        break;
    }
    case PROM_RELABEL_LOWERCASE:
    case PROM_RELABEL_UPPERCASE:
        case_map(&rs->res, v, vlen, r->action == PROM_RELABEL_UPPERCASE);
        label_set_setn(s, r->target, rs->res.data, rs->res.len);
        break;
    case PROM_RELABEL_HASHMOD: {
        uint8_t d[16];
        relabel_md5(v, vlen, d);
        uint64_t h = 0;
        for (int i = 8; i < 16; i++)
            h = h << 8 | d[i];
        char num[24];
        snprintf(num, sizeof num, "%llu", (unsigned long long)(h % r->modulus));
        label_set_set(s, r->target, num);
        break;
    }
    case PROM_RELABEL_LABELMAP:
    case PROM_RELABEL_LABELDROP:
    case PROM_RELABEL_LABELKEEP: {
        /* Walk a snapshot, as labels.Builder.Range does. */
        struct label_set snap = LABEL_SET_INIT;
        label_set_copy(&snap, s);
        for (size_t i = 0; i < snap.n; i++) {
            const char *name = snap.v[i].name;
            bool m = rule_match(rs, r, name, strlen(name));
            if (r->action == PROM_RELABEL_LABELMAP) {
                if (!m)
                    continue;
                expand(&rs->target, r, r->replacement, name);
                if (rs->target.len)
                    label_set_set(s, rs->target.data, snap.v[i].value);
            } else if (m != (r->action == PROM_RELABEL_LABELKEEP)) {
                label_set_del(s, name);
            }
        }
        label_set_free(&snap);
        break;
    }
    }
    return true;
}

bool relabel_apply(struct relabel_rules *rs, struct label_set *s)
{
    if (!rs)
        return true;
    for (size_t i = 0; i < rs->n; i++)
        if (!rule_apply(rs, &rs->v[i], s))
            return false;
    return true;
}
