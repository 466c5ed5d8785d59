/* prom_relabel.c — relabel_configs entries: decoding and validation.
 *
 * An entry gets Prometheus's defaults (action replace, separator ";", regex
 * "(.*)", replacement "$1"), then the per-action rules of Prometheus 3's
 * relabel.Config.Validate: which actions need a target_label, which forbid
 * other fields, and what a valid target label is under the name validation
 * scheme in force (UTF-8 by default, legacy on request).
 *
 * Regexes.  Prometheus 3 compiles `^(?s:re)$` (so `.` matches newlines)
 * with Go's RE2-flavoured regexp; Vigil will run them with PCRE2.  PCRE2
 * accepts more than RE2 (lookaround, backreferences, possessive and nested
 * quantifiers, \Z, ...), so a config using those would load here and be
 * rejected by Prometheus.  We therefore scan the pattern for RE2's
 * restrictions first (re2_problem, a lexical scan that tracks escapes,
 * character classes and quantifiers), then compile it anchored with PCRE2 to
 * catch everything else, and report the position of the problem within the
 * user's pattern.  A few patterns RE2 takes are still refused by PCRE2
 * (`[\d-z]`, `^*`, `[[.a.]]`, group names starting with a digit).  Only the
 * source text is kept: scrape/ compiles it again when it runs the rules. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "conf/prom_internal.h"
#include "util/sbuf.h"

static const char *action_names[] = {
    [PROM_RELABEL_REPLACE] = "replace",     [PROM_RELABEL_KEEP] = "keep",
    [PROM_RELABEL_DROP] = "drop",           [PROM_RELABEL_KEEPEQUAL] = "keepequal",
    [PROM_RELABEL_DROPEQUAL] = "dropequal", [PROM_RELABEL_HASHMOD] = "hashmod",
    [PROM_RELABEL_LABELMAP] = "labelmap",   [PROM_RELABEL_LABELDROP] = "labeldrop",
    [PROM_RELABEL_LABELKEEP] = "labelkeep", [PROM_RELABEL_LOWERCASE] = "lowercase",
    [PROM_RELABEL_UPPERCASE] = "uppercase",
};
enum { N_ACTIONS = sizeof action_names / sizeof *action_names };

const char *prom_relabel_action_name(enum prom_relabel_action a)
{
    return (unsigned)a < N_ACTIONS ? action_names[a] : "";
}

/* ---- RE2 restrictions ---- */

struct re2_scan {
    const char *re;
    size_t i;
    size_t last_q; /* where the previous quantifier started */
    char msg[160];
    size_t at;
};

static const char *re2_fail(struct re2_scan *s, size_t at, size_t len, const char *what)
{
    snprintf(s->msg, sizeof s->msg, "%s: `%.*s`", what, (int)len, s->re + at);
    s->at = at;
    return s->msg;
}

/* Length of a {n}, {n,} or {n,m} repeat at p, or 0 if p is a literal '{'. */
static size_t repeat_len(const char *p, long *lo, long *hi)
{
    const char *q = p + 1;
    if (!isdigit((unsigned char)*q))
        return 0;
    *lo = strtol(q, (char **)&q, 10);
    *hi = *lo;
    if (*q == ',') {
        q++;
        *hi = -1;
        if (isdigit((unsigned char)*q))
            *hi = strtol(q, (char **)&q, 10);
    }
    return *q == '}' ? (size_t)(q - p) + 1 : 0;
}

/* An escape outside or inside a class: the letters RE2 knows. */
static const char *re2_escape(struct re2_scan *s, bool in_class)
{
    const char *p = s->re + s->i;
    char e = p[1];
    if (e == 'Q') {
        const char *end = strstr(p + 2, "\\E");
        s->i = end ? (size_t)(end - s->re) + 2 : strlen(s->re);
        return NULL;
    }
    if ((e == 'x' || e == 'p' || e == 'P') && p[2] == '{') {
        const char *close = strchr(p + 2, '}');
        s->i = close ? (size_t)(close - s->re) + 1 : s->i + 2;
        return NULL;
    }
    if (isalnum((unsigned char)e)) {
        const char *ok = in_class ? "aftnrvxpPdDsSwW01234567" : "aftnrvxpPdDsSwWbBAz01234567";
        bool octal_ok = e == '0' || (e >= '1' && e <= '7' && p[2] >= '0' && p[2] <= '7');
        if (!strchr(ok, e) || (isdigit((unsigned char)e) && !octal_ok))
            return re2_fail(s, s->i, 2, "invalid escape sequence");
    }
    s->i += e ? 2 : 1;
    return NULL;
}

/* "(?" ...: RE2 has only flag groups and named groups. */
static const char *re2_group(struct re2_scan *s)
{
    const char *p = s->re + s->i + 2;
    if ((p[0] == 'P' && p[1] == '<') ||
        (p[0] == '<' && (isalpha((unsigned char)p[1]) || p[1] == '_'))) {
        s->i += 2;
        return NULL;
    }
    size_t j = 0;
    while (p[j] && strchr("imsU-", p[j]))
        j++;
    if ((p[j] == ':' || p[j] == ')') && !(j == 0 && p[j] == ')')) {
        s->i += 2 + j;
        return NULL;
    }
    return re2_fail(s, s->i, 2 + (p[j] ? j + 1 : j), "invalid or unsupported Perl syntax");
}

/* A quantifier at s->i: RE2 rejects a quantifier applied to a quantifier
 * (a** a*+ a{2}{3}) and counts above 1000. */
static const char *re2_quantifier(struct re2_scan *s, bool *after_repeat)
{
    const char *p = s->re + s->i;
    size_t len = 1;
    long lo = 0, hi = 0;
    if (*p == '{') {
        len = repeat_len(p, &lo, &hi);
        if (len == 0) { /* a literal brace */
            s->i++;
            *after_repeat = false;
            return NULL;
        }
        if (lo > 1000 || hi > 1000 || (hi >= 0 && hi < lo))
            return re2_fail(s, s->i, len, "invalid repeat count");
    }
    if (*after_repeat)
        return re2_fail(s, s->last_q, s->i + len - s->last_q, "invalid nested repetition operator");
    s->last_q = s->i;
    s->i += len;
    if (s->re[s->i] == '?') /* lazy */
        s->i++;
    *after_repeat = true;
    return NULL;
}

static void re2_class(struct re2_scan *s)
{
    s->i++;
    if (s->re[s->i] == '^')
        s->i++;
    if (s->re[s->i] == ']')
        s->i++;
    while (s->re[s->i] && s->re[s->i] != ']') {
        if (s->re[s->i] == '\\') {
            if (re2_escape(s, true))
                return;
        } else if (s->re[s->i] == '[' && s->re[s->i + 1] == ':') {
            const char *end = strstr(s->re + s->i + 2, ":]");
            s->i = end ? (size_t)(end - s->re) + 2 : s->i + 1;
        } else {
            s->i++;
        }
    }
    if (s->re[s->i])
        s->i++;
}

/* Returns NULL if re uses only RE2 syntax, else a message (in s). */
static const char *re2_problem(struct re2_scan *s)
{
    bool after_repeat = false;
    for (s->i = 0; s->re[s->i];) {
        char c = s->re[s->i];
        const char *why = NULL;
        if (c == '*' || c == '+' || c == '?' || c == '{') {
            why = re2_quantifier(s, &after_repeat);
            if (why)
                return why;
            continue;
        }
        after_repeat = false;
        if (c == '\\')
            why = re2_escape(s, false);
        else if (c == '[')
            re2_class(s);
        else if (c == '(' && s->re[s->i + 1] == '?')
            why = re2_group(s);
        else
            s->i++;
        if (why || s->msg[0])
            return s->msg;
    }
    return NULL;
}

/* Validates re as Prometheus would compile it; fills msg on failure. */
static int regex_check(const char *re, char *msg, size_t msgsize)
{
    struct re2_scan s = {re, 0, 0, "", 0};
    if (re2_problem(&s)) {
        snprintf(msg, msgsize, "error parsing regexp: %s at position %zu", s.msg, s.at);
        return -1;
    }
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b, "^(?s:%s)$", re);
    int code;
    PCRE2_SIZE off;
    pcre2_code *pc =
        pcre2_compile((PCRE2_SPTR)b.data, b.len, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_DUPNAMES,
                      &code, &off, NULL);
    sbuf_free(&b);
    if (pc) {
        pcre2_code_free(pc);
        return 0;
    }
    PCRE2_UCHAR why[256];
    pcre2_get_error_message(code, why, sizeof why);
    size_t len = strlen(re), pos = off >= 5 ? off - 5 : 0;
    snprintf(msg, msgsize, "error parsing regexp: %s at position %zu: `%s`", (char *)why,
             pos > len ? len : pos, re);
    return -1;
}

/* ---- decoding ---- */

static int dec_action(struct ydec *d, const struct ynode *n, void *out)
{
    if (n->kind != YNODE_SCALAR)
        return ydec_fail(d, n, "expected a relabel action");
    for (size_t a = 0; a < N_ACTIONS; a++) {
        if (strcasecmp(n->s, action_names[a]) == 0) {
            *(enum prom_relabel_action *)out = (enum prom_relabel_action)a;
            return 0;
        }
    }
    return ydec_fail(d, n, "unknown relabel action \"%s\"", n->s);
}

static int dec_regex(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_string(d, n, out) < 0)
        return -1;
    char msg[512];
    if (regex_check(*(char **)out, msg, sizeof msg) < 0)
        return ydec_fail(d, n, "%s", msg);
    return 0;
}

static int dec_source_labels(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_strlist(d, n, out) < 0)
        return -1;
    const struct ystrlist *l = out;
    for (size_t i = 0; i < l->n; i++) {
        if (!prom_label_name_is_valid(l->v[i], PROM_NAMES_UTF8)) {
            ydec_push_index(d, i);
            return ydec_fail(d, n->items[i], "\"%s\" is not a valid label name", l->v[i]);
        }
    }
    return 0;
}

static const struct yfield relabel_fields[] = {
    YFIELD(struct prom_relabel, source_labels, dec_source_labels),
    YFIELD(struct prom_relabel, separator, ydec_string),
    YFIELD(struct prom_relabel, regex, dec_regex),
    YFIELD(struct prom_relabel, modulus, ydec_uint),
    YFIELD(struct prom_relabel, target_label, ydec_string),
    YFIELD(struct prom_relabel, replacement, ydec_string),
    YFIELD(struct prom_relabel, action, dec_action),
    {NULL, NULL, 0},
};

/* Legacy-scheme target with $1 / ${name} references:
 * ^(?:(?:[a-zA-Z_]|\$(?:\{\w+\}|\w+))+\w*)+$ */
static bool legacy_target_is_valid(const char *s)
{
    if (!*s || isdigit((unsigned char)*s))
        return false;
    for (const char *p = s; *p;) {
        if (*p == '$') {
            p++;
            if (*p == '{') {
                const char *q = ++p;
                while (isalnum((unsigned char)*q) || *q == '_')
                    q++;
                if (q == p || *q != '}')
                    return false;
                p = q + 1;
            } else {
                const char *q = p;
                while (isalnum((unsigned char)*q) || *q == '_')
                    q++;
                if (q == p)
                    return false;
                p = q;
            }
        } else if (isalnum((unsigned char)*p) || *p == '_') {
            p++;
        } else {
            return false;
        }
    }
    return true;
}

static bool target_with_vars_is_valid(const char *s, enum prom_name_validation scheme)
{
    if (scheme == PROM_NAMES_LEGACY)
        return legacy_target_is_valid(s);
    return prom_label_name_is_valid(s, scheme);
}

struct relabel_seen {
    bool regex, source_labels;
};

static bool action_needs_target(enum prom_relabel_action a)
{
    return a == PROM_RELABEL_REPLACE || a == PROM_RELABEL_HASHMOD || a == PROM_RELABEL_LOWERCASE ||
           a == PROM_RELABEL_UPPERCASE || a == PROM_RELABEL_KEEPEQUAL ||
           a == PROM_RELABEL_DROPEQUAL;
}

static bool action_is_case_or_equal(enum prom_relabel_action a)
{
    return a == PROM_RELABEL_LOWERCASE || a == PROM_RELABEL_UPPERCASE ||
           a == PROM_RELABEL_KEEPEQUAL || a == PROM_RELABEL_DROPEQUAL;
}

/* Prometheus 3's relabel.Config.Validate, in its order. */
static int relabel_validate(struct ydec *d, const struct ynode *n, const struct prom_relabel *r,
                            struct relabel_seen seen)
{
    enum prom_name_validation scheme = prom_dec_of(d)->scheme;
    enum prom_relabel_action a = r->action;
    const char *an = action_names[a], *tl = r->target_label;
    if (a == PROM_RELABEL_HASHMOD && r->modulus == 0)
        return ydec_fail(d, n, "relabel configuration for hashmod requires non-zero modulus");
    if (action_needs_target(a) && !*tl)
        return ydec_fail(d, n, "relabel configuration for %s action requires 'target_label' value",
                         an);
    bool tl_ok = prom_label_name_is_valid(tl, scheme), bad_target = false;
    if (a == PROM_RELABEL_REPLACE)
        bad_target = strchr(tl, '$') ? !target_with_vars_is_valid(tl, scheme) : !tl_ok;
    else if (action_is_case_or_equal(a) || a == PROM_RELABEL_HASHMOD)
        bad_target = !tl_ok;
    if (bad_target)
        return prom_fail_at(d, n, "target_label", "\"%s\" is invalid 'target_label' for %s action",
                            tl, an);
    if (action_is_case_or_equal(a) && strcmp(r->replacement, "$1") != 0)
        return prom_fail_at(d, n, "replacement", "'replacement' can not be set for %s action", an);
    if (a == PROM_RELABEL_LABELMAP && !target_with_vars_is_valid(r->replacement, scheme))
        return prom_fail_at(d, n, "replacement", "\"%s\" is invalid 'replacement' for %s action",
                            r->replacement, an);
    if ((a == PROM_RELABEL_KEEPEQUAL || a == PROM_RELABEL_DROPEQUAL) &&
        (seen.regex || r->modulus || strcmp(r->separator, ";") || strcmp(r->replacement, "$1")))
        return ydec_fail(d, n,
                         "%s action requires only 'source_labels' and `target_label`, and no "
                         "other fields",
                         an);
    if ((a == PROM_RELABEL_LABELDROP || a == PROM_RELABEL_LABELKEEP) &&
        (seen.source_labels || *tl || r->modulus || strcmp(r->separator, ";") ||
         strcmp(r->replacement, "$1")))
        return ydec_fail(d, n, "%s action requires only 'regex', and no other fields", an);
    return 0;
}

static void str_default(char **p, const char *def)
{
    if (!*p)
        *p = xstrdup(def);
}

static int dec_relabel(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_relabel *r = out;
    if (ynode_is_null(n)) {
        const char *list = strrchr(d->path, '.');
        char name[128];
        snprintf(name, sizeof name, "%s", list ? list + 1 : d->path);
        *strchrnul(name, '[') = '\0';
        return ydec_fail(d, n, "empty or null relabeling rule in %s", name);
    }
    r->pos = (struct prom_pos){n->line, n->col};
    r->separator = xstrdup(";");
    r->regex = xstrdup("(.*)");
    r->replacement = xstrdup("$1");
    r->action = PROM_RELABEL_REPLACE;
    if (ydec_map(d, n, relabel_fields, r, NULL) < 0)
        return -1;
    /* Go's zero values for explicit nulls. */
    str_default(&r->separator, "");
    str_default(&r->replacement, "");
    str_default(&r->target_label, "");
    const struct ynode *re = ynode_get(n, "regex"), *act = ynode_get(n, "action");
    r->regex_set = re && !ynode_is_null(re);
    if (re && ynode_is_null(re)) {
        free(r->regex);
        r->regex = xstrdup("");
    }
    if (act && ynode_is_null(act))
        return prom_fail_at(d, n, "action", "relabel action cannot be empty");
    const struct ynode *sl = ynode_get(n, "source_labels");
    struct relabel_seen rs = {re != NULL, sl && !ynode_is_null(sl)};
    return relabel_validate(d, n, r, rs);
}

int prom_dec_relabel_list(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_relabel_list *l = out;
    prom_relabel_list_free(l);
    return ydec_seq(d, n, &l->v, &l->n, sizeof *l->v, dec_relabel);
}

void prom_relabel_list_free(struct prom_relabel_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        struct prom_relabel *r = &l->v[i];
        ystrlist_free(&r->source_labels);
        free(r->separator);
        free(r->regex);
        free(r->target_label);
        free(r->replacement);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
