/* config_yaml.c — the loaded configuration printed back as YAML, the way
 * Prometheus 3 prints it on GET /api/v1/status/config.
 *
 * Prometheus answers with yaml.v2's Marshal of its config.Config after
 * loading: defaults filled in, secrets replaced by "<secret>", keys in Go
 * struct field order, `omitempty` fields left out when zero, sequences as
 * "- " items at their key's indentation, source_labels in flow style, map
 * keys sorted.  This file reproduces that from `struct prom_config` in two
 * layers:
 *
 *   - scalars: yaml.v2's choice of style.  Go quotes a string that would
 *     read back as something else (a bool, number, null, timestamp, base-60
 *     float: "true", "1", "", "2024-01-01"); libyaml's emitter then refuses
 *     plain style for indicators (leading "- ", "#", ": " inside, leading or
 *     trailing spaces, ...) and falls back to single quotes, or to double
 *     quotes with escapes for unprintable characters.  Strings with line
 *     breaks become literal blocks ("|-").  Long plain and quoted scalars are
 *     folded at spaces past column 80, as libyaml's best_width does.
 *
 *   - structure: each Go struct is a table of fields (name, kind, offset,
 *     omitempty) walked by emit_fields; nested structs and lists have small
 *     functions of their own.  A nested mapping is written at indent + 2
 *     after "key:"; a list item's mapping is written at indent + 2 too and its
 *     first two columns overwritten with "- " (yaml.v2's indentless
 *     sequences).  An empty mapping prints as "{}", an empty non-omitempty
 *     list as "[]".
 *
 * What Prometheus prints that Vigil's structs do not hold: the contents of
 * service discovery mechanisms Vigil does not run (only their names are
 * kept), sigv4 / azuread / google_iam blocks, *_ref secret-manager fields,
 * TLS next_protos, and the letter case of a DNS SD `type` as written. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "util/duration.h"
#include "util/gostrconv.h"
#include "util/sbuf.h"

#define YAML_WIDTH 80 /* libyaml's best_width */
#define SECRET     "<secret>"

/* ---- scalar styles (yaml.v2 encode.go stringv + libyaml emitterc.go) ---- */

enum ystyle { YS_PLAIN, YS_SINGLE, YS_DOUBLE, YS_LITERAL };

/* Where a scalar goes: a block value, an item of a flow sequence, a key. */
enum yctx { YC_BLOCK, YC_FLOW, YC_KEY };

static bool all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return n > 0;
}

/* strconv.ParseInt/ParseUint(s, 0, 64) after yaml.v2 drops underscores:
 * optional sign, then decimal, 0x, 0o, 0b or a leading-0 octal number.
 * (Overflowing values resolve as floats in yaml.v2, so they are numbers
 * either way.) */
static bool yaml_int_like(const char *s)
{
    char buf[128];
    size_t n = 0;
    for (; *s && n + 1 < sizeof buf; s++)
        if (*s != '_')
            buf[n++] = *s;
    if (*s)
        return false;
    buf[n] = '\0';
    const char *p = buf;
    if (*p == '+' || *p == '-')
        p++;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        return p[2] && strspn(p + 2, "0123456789abcdefABCDEF") == strlen(p + 2);
    if (p[0] == '0' && (p[1] == 'o' || p[1] == 'O'))
        return p[2] && strspn(p + 2, "01234567") == strlen(p + 2);
    if (p[0] == '0' && (p[1] == 'b' || p[1] == 'B'))
        return p[2] && strspn(p + 2, "01") == strlen(p + 2);
    if (p[0] == '0' && p[1])
        return strspn(p + 1, "01234567") == strlen(p + 1);
    return all_digits(p, strlen(p));
}

/* ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$ after dropping '_'. */
static bool yaml_float_like(const char *s)
{
    char buf[128];
    size_t n = 0;
    for (; *s && n + 1 < sizeof buf; s++)
        if (*s != '_')
            buf[n++] = *s;
    if (*s)
        return false;
    buf[n] = '\0';
    const char *p = buf;
    if (*p == '+' || *p == '-')
        p++;
    size_t intd = strspn(p, "0123456789");
    p += intd;
    size_t fracd = 0;
    if (*p == '.') {
        p++;
        fracd = strspn(p, "0123456789");
        p += fracd;
    }
    if (intd == 0 && fracd == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t e = strspn(p, "0123456789");
        if (e == 0)
            return false;
        p += e;
    }
    return *p == '\0';
}

/* ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$ (yaml.v2 quotes these
 * because YAML 1.1 reads them as sexagesimal). */
static bool yaml_base60_like(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (*p < '0' || *p > '9')
        return false;
    p += strspn(p, "0123456789_");
    int groups = 0;
    while (*p == ':') {
        p++;
        size_t d = strspn(p, "0123456789");
        if (d == 0 || d > 2 || (d == 2 && p[0] > '5'))
            return false;
        p += d;
        groups++;
    }
    if (groups == 0)
        return false;
    if (*p == '.')
        p += 1 + strspn(p + 1, "0123456789_");
    return *p == '\0';
}

/* yaml.v2's parseTimestamp: four digits and '-' start a date that
 * time.Parse may accept ("2006-1-2", optionally with a time). */
static bool yaml_timestamp_like(const char *s)
{
    if (strlen(s) < 5 || !all_digits(s, 4) || s[4] != '-')
        return false;
    const char *p = s + 5;
    size_t m = strspn(p, "0123456789");
    if (m < 1 || m > 2 || p[m] != '-')
        return false;
    p += m + 1;
    size_t d = strspn(p, "0123456789");
    if (d < 1 || d > 2)
        return false;
    p += d;
    if (*p == '\0')
        return true;
    /* A time part: [Tt ]h:m:s... — accept the shapes time.Parse takes. */
    if (*p != 'T' && *p != 't' && *p != ' ')
        return false;
    p++;
    size_t h = strspn(p, "0123456789");
    return h >= 1 && h <= 2 && p[h] == ':';
}

/* Would yaml.v2 resolve s, written plain, to something other than a
 * string?  (resolve.go: the bool/null/inf/nan table, ints, floats,
 * timestamps, the merge key.) */
static bool yaml_resolves_non_string(const char *s)
{
    static const char *const words[] = {
        "",      "~",    "null", "Null",  "NULL",  "true",  "True",  "TRUE",  "false", "False",
        "FALSE", "y",    "Y",    "yes",   "Yes",   "YES",   "n",     "N",     "no",    "No",
        "NO",    "on",   "On",   "ON",    "off",   "Off",   "OFF",   ".nan",  ".NaN",  ".NAN",
        ".inf",  ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", "<<",
    };
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcmp(s, words[i]) == 0)
            return true;
    char c = s[0];
    if (c == '.' || c == '+' || c == '-' || (c >= '0' && c <= '9'))
        return yaml_int_like(s) || yaml_float_like(s) || yaml_timestamp_like(s);
    return false;
}

/* libyaml's is_printable on the UTF-8 bytes at s (4-byte sequences count
 * as unprintable, as in libyaml). */
static bool y_printable(const unsigned char *b)
{
    return b[0] == 0x0A || (b[0] >= 0x20 && b[0] <= 0x7E) || (b[0] == 0xC2 && b[1] >= 0xA0) ||
           (b[0] > 0xC2 && b[0] < 0xED) || (b[0] == 0xED && b[1] < 0xA0) || b[0] == 0xEE ||
           (b[0] == 0xEF && !(b[1] == 0xBB && b[2] == 0xBF) &&
            !(b[1] == 0xBF && (b[2] == 0xBE || b[2] == 0xBF)));
}

static size_t y_width(unsigned char c)
{
    return (c & 0x80) == 0 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : 4;
}

static bool y_is_break(const unsigned char *b)
{
    return b[0] == '\r' || b[0] == '\n' || (b[0] == 0xC2 && b[1] == 0x85) ||
           (b[0] == 0xE2 && b[1] == 0x80 && (b[2] == 0xA8 || b[2] == 0xA9));
}

static bool y_is_blankz(const unsigned char *b)
{
    return b[0] == ' ' || b[0] == '\t' || b[0] == '\0' || y_is_break(b);
}

struct yscan {
    bool flow_plain, block_plain, single_ok, block_ok;
};

static void yscan_indicator(unsigned char c, bool first, bool before_ws, bool after_ws,
                            bool *flow_ind, bool *block_ind)
{
    if (first) {
        if (strchr("#,[]{}&*!|>'\"%@`", c)) {
            *flow_ind = *block_ind = true;
        } else if (c == '?' || c == ':') {
            *flow_ind = true;
            *block_ind |= after_ws;
        } else if (c == '-' && after_ws) {
            *flow_ind = *block_ind = true;
        }
        return;
    }
    if (strchr(",?[]{}", c)) {
        *flow_ind = true;
    } else if (c == ':') {
        *flow_ind = true;
        *block_ind |= after_ws;
    } else if (c == '#' && before_ws) {
        *flow_ind = *block_ind = true;
    }
}

/* libyaml's yaml_emitter_analyze_scalar. */
static struct yscan yscan_analyze(const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    if (n == 0)
        return (struct yscan){false, true, true, false};
    bool flow_ind = false, block_ind = false, special = false, line_breaks = false;
    bool lead_space = false, lead_break = false, trail_space = false, trail_break = false;
    bool break_space = false, space_break = false, prev_space = false, prev_break = false;
    if (n >= 3 && (strncmp(str, "---", 3) == 0 || strncmp(str, "...", 3) == 0))
        flow_ind = block_ind = true;
    bool before_ws = true;
    for (size_t i = 0; i < n;) {
        size_t w = y_width(s[i]);
        bool after_ws = i + w >= n || y_is_blankz(s + i + w);
        bool last = i + w >= n;
        yscan_indicator(s[i], i == 0, before_ws, after_ws, &flow_ind, &block_ind);
        if (!y_printable(s + i))
            special = true;
        if (s[i] == ' ') {
            lead_space |= i == 0;
            trail_space |= last;
            break_space |= prev_break;
            prev_space = true, prev_break = false;
        } else if (y_is_break(s + i)) {
            line_breaks = true;
            lead_break |= i == 0;
            trail_break |= last;
            space_break |= prev_space;
            prev_break = true, prev_space = false;
        } else {
            prev_space = prev_break = false;
        }
        before_ws = y_is_blankz(s + i);
        i += w;
    }
    struct yscan r = {true, true, true, true};
    if (lead_space || lead_break || trail_space || trail_break)
        r.flow_plain = r.block_plain = false;
    if (trail_space)
        r.block_ok = false;
    if (break_space)
        r.flow_plain = r.block_plain = r.single_ok = false;
    if (space_break || special)
        r = (struct yscan){false, false, false, false};
    if (line_breaks)
        r.flow_plain = r.block_plain = false;
    if (flow_ind)
        r.flow_plain = false;
    if (block_ind)
        r.block_plain = false;
    return r;
}

static enum ystyle ystyle_pick(const char *s, enum yctx ctx)
{
    enum ystyle st;
    if (strchr(s, '\n'))
        st = ctx == YC_BLOCK ? YS_LITERAL : YS_DOUBLE;
    else if (yaml_resolves_non_string(s) || yaml_base60_like(s))
        st = YS_DOUBLE;
    else
        st = YS_PLAIN;
    struct yscan a = yscan_analyze(s);
    if (st == YS_PLAIN) {
        if (ctx == YC_FLOW ? !a.flow_plain : !a.block_plain)
            st = YS_SINGLE;
        if (!*s && ctx != YC_BLOCK)
            st = YS_SINGLE;
    }
    if (st == YS_SINGLE && !a.single_ok)
        st = YS_DOUBLE;
    if (st == YS_LITERAL && !a.block_ok)
        st = YS_DOUBLE;
    return st;
}

/* ---- the writer ---- */

struct yemit {
    struct sbuf *out;
};

static size_t ycolumn(const struct yemit *e)
{
    const char *d = e->out->data;
    size_t i = e->out->len;
    while (i > 0 && d[i - 1] != '\n')
        i--;
    return e->out->len - i;
}

static void ypad(struct yemit *e, int ind)
{
    for (int i = 0; i < ind; i++)
        sbuf_putc(e->out, ' ');
}

/* A line break inside a folded scalar: newline and the continuation
 * indent. */
static void yfold(struct yemit *e, int cont)
{
    sbuf_putc(e->out, '\n');
    ypad(e, cont);
}

static bool yfold_here(const struct yemit *e, bool can_break, const char *s, size_t i)
{
    return can_break && ycolumn(e) > YAML_WIDTH && s[i + 1] != ' ';
}

static void ywrite_plain(struct yemit *e, const char *s, bool can_break, int cont)
{
    bool spaces = false;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == ' ' && !spaces && yfold_here(e, can_break, s, i)) {
            yfold(e, cont);
        } else {
            sbuf_putc(e->out, s[i]);
        }
        spaces = s[i] == ' ';
    }
}

static void ywrite_single(struct yemit *e, const char *s, bool can_break, int cont)
{
    size_t n = strlen(s);
    bool spaces = false;
    sbuf_putc(e->out, '\'');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == ' ' && !spaces && i > 0 && i + 1 < n && yfold_here(e, can_break, s, i))
            yfold(e, cont);
        else if (s[i] == '\'')
            sbuf_puts(e->out, "''");
        else
            sbuf_putc(e->out, s[i]);
        spaces = s[i] == ' ';
    }
    sbuf_putc(e->out, '\'');
}

static void ywrite_escape(struct yemit *e, const unsigned char *b, size_t w)
{
    size_t used;
    int32_t r = utf8_decode((const char *)b, w, &used);
    static const struct {
        int32_t r;
        char c;
    } short_escapes[] = {
        {0, '0'},     {7, 'a'},    {8, 'b'},    {9, 't'},      {0x0A, 'n'},
        {0x0B, 'v'},  {0x0C, 'f'}, {0x0D, 'r'}, {0x1B, 'e'},   {'"', '"'},
        {'\\', '\\'}, {0x85, 'N'}, {0xA0, '_'}, {0x2028, 'L'}, {0x2029, 'P'},
    };
    for (size_t i = 0; i < sizeof short_escapes / sizeof *short_escapes; i++) {
        if (short_escapes[i].r == r) {
            sbuf_printf(e->out, "\\%c", short_escapes[i].c);
            return;
        }
    }
    if (r <= 0xFF)
        sbuf_printf(e->out, "\\x%02X", (unsigned)r);
    else if (r <= 0xFFFF)
        sbuf_printf(e->out, "\\u%04X", (unsigned)r);
    else
        sbuf_printf(e->out, "\\U%08X", (unsigned)r);
}

static void ywrite_double(struct yemit *e, const char *str, bool can_break, int cont)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    bool spaces = false;
    sbuf_putc(e->out, '"');
    for (size_t i = 0; i < n;) {
        size_t w = y_width(s[i]);
        bool bom = s[i] == 0xEF && s[i + 1] == 0xBB && s[i + 2] == 0xBF;
        if (!y_printable(s + i) || bom || y_is_break(s + i) || s[i] == '"' || s[i] == '\\') {
            ywrite_escape(e, s + i, w);
            spaces = false;
        } else if (s[i] == ' ') {
            if (!spaces && i > 0 && i + 1 < n && can_break && ycolumn(e) > YAML_WIDTH) {
                yfold(e, cont);
                if (s[i + 1] == ' ')
                    sbuf_putc(e->out, '\\');
            } else {
                sbuf_putc(e->out, ' ');
            }
            spaces = true;
        } else {
            sbuf_append(e->out, s + i, w);
            spaces = false;
        }
        i += w;
    }
    sbuf_putc(e->out, '"');
}

/* "|", "|-" or "|+" (and "2" first when the text starts with a space or a
 * break), then the lines at indent `cont`; empty lines stay empty. */
static void ywrite_literal(struct yemit *e, const char *s, int cont)
{
    size_t n = strlen(s);
    sbuf_putc(e->out, '|');
    if (s[0] == ' ' || s[0] == '\n')
        sbuf_putc(e->out, '2');
    if (s[n - 1] != '\n')
        sbuf_putc(e->out, '-');
    else if (n == 1 || s[n - 2] == '\n')
        sbuf_putc(e->out, '+');
    bool line_start = true;
    sbuf_putc(e->out, '\n');
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\n' && line_start)
            ypad(e, cont);
        sbuf_putc(e->out, s[i]);
        line_start = s[i] == '\n';
    }
    if (s[n - 1] == '\n')
        e->out->len--, e->out->data[e->out->len] = '\0'; /* the caller ends the line */
}

/* Writes s as a scalar in context ctx; `cont` is the indent of folded
 * continuation lines (the owning key's indent + 2). */
static void yscalar(struct yemit *e, const char *s, enum yctx ctx, int cont)
{
    bool can_break = ctx != YC_KEY;
    switch (ystyle_pick(s, ctx)) {
    case YS_PLAIN:
        ywrite_plain(e, s, can_break, cont);
        break;
    case YS_SINGLE:
        ywrite_single(e, s, can_break, cont);
        break;
    case YS_DOUBLE:
        ywrite_double(e, s, can_break, cont);
        break;
    case YS_LITERAL:
        ywrite_literal(e, s, cont);
        break;
    }
}

/* ---- keys, values, lists, maps ---- */

static void ykey(struct yemit *e, int ind, const char *key)
{
    ypad(e, ind);
    yscalar(e, key, YC_KEY, ind + 2);
    sbuf_putc(e->out, ':');
}

static void ykv_str(struct yemit *e, int ind, const char *key, const char *v)
{
    ykey(e, ind, key);
    sbuf_putc(e->out, ' ');
    yscalar(e, v, YC_BLOCK, ind + 2);
    sbuf_putc(e->out, '\n');
}

static void ykv_raw(struct yemit *e, int ind, const char *key, const char *v)
{
    ykey(e, ind, key);
    sbuf_printf(e->out, " %s\n", v);
}

/* "key:" then a block written by fn at ind + 2; "key: {}" if it wrote
 * nothing. */
typedef void (*yblock_fn)(struct yemit *e, int ind, const void *obj);

static void ykv_block(struct yemit *e, int ind, const char *key, yblock_fn fn, const void *obj)
{
    ykey(e, ind, key);
    sbuf_putc(e->out, '\n');
    size_t mark = e->out->len;
    fn(e, ind + 2, obj);
    if (e->out->len == mark) {
        e->out->len = mark - 1;
        sbuf_puts(e->out, " {}\n");
    }
}

/* One "- " item holding a mapping: written at ind + 2, then its first two
 * columns become "- ". */
static void yitem_block(struct yemit *e, int ind, yblock_fn fn, const void *obj)
{
    size_t mark = e->out->len;
    fn(e, ind + 2, obj);
    if (e->out->len == mark) {
        ypad(e, ind);
        sbuf_puts(e->out, "- {}\n");
        return;
    }
    e->out->data[mark + (size_t)ind] = '-';
}

static void ylist_items(struct yemit *e, int ind, const char *const *v, size_t n, bool secret)
{
    for (size_t i = 0; i < n; i++) {
        ypad(e, ind);
        sbuf_puts(e->out, "- ");
        yscalar(e, secret ? SECRET : v[i], YC_BLOCK, ind + 2);
        sbuf_putc(e->out, '\n');
    }
}

/* A []string: block items at the key's indentation; "[]" when empty. */
static void ykv_strlist(struct yemit *e, int ind, const char *key, const struct ystrlist *l,
                        bool secret)
{
    if (l->n == 0) {
        ykv_raw(e, ind, key, "[]");
        return;
    }
    ykey(e, ind, key);
    sbuf_putc(e->out, '\n');
    ylist_items(e, ind, (const char *const *)l->v, l->n, secret);
}

static void ykv_flowlist(struct yemit *e, int ind, const char *key, const struct ystrlist *l)
{
    ykey(e, ind, key);
    sbuf_puts(e->out, " [");
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            sbuf_puts(e->out, ", ");
        yscalar(e, l->v[i], YC_FLOW, ind + 2);
    }
    sbuf_puts(e->out, "]\n");
}

/* A map[string]string (kept sorted by key, as yaml.v2 sorts). */
static void ykv_strmap(struct yemit *e, int ind, const char *key, const struct ystrmap *m)
{
    if (m->n == 0) {
        ykv_raw(e, ind, key, "{}");
        return;
    }
    ykey(e, ind, key);
    sbuf_putc(e->out, '\n');
    for (size_t i = 0; i < m->n; i++)
        ykv_str(e, ind + 2, m->keys[i], m->values[i]);
}

static void ykv_dur(struct yemit *e, int ind, const char *key, int64_t ms)
{
    char buf[64];
    ykv_raw(e, ind, key, duration_format(ms, buf, sizeof buf));
}

/* units.Base2Bytes: "1GiB", "1KiB512B", "0B". */
static void ykv_bytes(struct yemit *e, int ind, const char *key, int64_t v)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    char parts[7][32];
    int np = 0;
    uint64_t m = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    for (int i = 0; i < 7; i++) {
        if (m % 1024 != 0 || (i == 0 && m == 0))
            snprintf(parts[np++], sizeof parts[0], "%llu%s", (unsigned long long)(m % 1024),
                     units[i]);
        m /= 1024;
        if (m == 0)
            break;
    }
    char buf[256] = "";
    if (v < 0)
        strcat(buf, "-");
    while (np > 0)
        strcat(buf, parts[--np]);
    ykv_raw(e, ind, key, buf);
}

/* strconv.FormatFloat(v, 'g', -1, 64) with yaml.v2's .inf/.nan. */
static void ykv_float(struct yemit *e, int ind, const char *key, double v)
{
    char buf[64], out[96];
    go_format_float_exp(v, 'e', buf, sizeof buf);
    if (strcmp(buf, "+Inf") == 0 || strcmp(buf, "-Inf") == 0 || strcmp(buf, "NaN") == 0) {
        ykv_raw(e, ind, key, buf[0] == '+' ? ".inf" : buf[0] == '-' ? "-.inf" : ".nan");
        return;
    }
    char *ep = strchr(buf, 'e');
    int exp = atoi(ep + 1);
    if (exp < -4 || exp >= 6) { /* 'g' with the shortest digits uses eprec 6 */
        ykv_raw(e, ind, key, buf);
        return;
    }
    /* Plain decimal: the shortest digits placed around the point. */
    char digits[32];
    size_t nd = 0;
    const char *p = buf;
    bool neg = *p == '-';
    if (neg)
        p++;
    for (; p < ep; p++)
        if (*p != '.')
            digits[nd++] = *p;
    size_t o = 0;
    if (neg)
        out[o++] = '-';
    int point = exp + 1; /* digits before the point */
    if (point <= 0) {
        out[o++] = '0', out[o++] = '.';
        for (int i = 0; i < -point; i++)
            out[o++] = '0';
        for (size_t i = 0; i < nd; i++)
            out[o++] = digits[i];
    } else {
        for (int i = 0; i < point; i++)
            out[o++] = (size_t)i < nd ? digits[i] : '0';
        if ((size_t)point < nd) {
            out[o++] = '.';
            for (size_t i = (size_t)point; i < nd; i++)
                out[o++] = digits[i];
        }
    }
    out[o] = '\0';
    ykv_raw(e, ind, key, out);
}

/* ---- table-driven structs ---- */

enum yk {
    YK_STR,     /* char *; NULL prints as "" */
    YK_SECRET,  /* char *; "<secret>" when set */
    YK_BOOL,    /* bool */
    YK_I64,     /* int64_t */
    YK_U64,     /* uint64_t */
    YK_DUR,     /* int64_t ms as model.Duration */
    YK_BYTES,   /* int64_t as units.Base2Bytes */
    YK_F64,     /* double */
    YK_STRLIST, /* struct ystrlist */
    YK_STRMAP,  /* struct ystrmap */
    YK_BLOCK,   /* a nested struct, written by fn */
    YK_CUSTOM,  /* fn writes the whole field (or nothing) */
};

#define OMITEMPTY 1u

struct yfield_out {
    const char *name;
    enum yk kind;
    size_t off;
    unsigned flags;
    /* YK_BLOCK: the block writer; YK_CUSTOM: a field writer. */
    yblock_fn block;
    void (*custom)(struct yemit *e, int ind, const char *key, const void *field);
};

#define F(name, kind, type, member, flags)                                                         \
    {                                                                                              \
        name, kind, offsetof(type, member), flags, NULL, NULL                                      \
    }
#define FB(name, type, member, fn, flags)                                                          \
    {                                                                                              \
        name, YK_BLOCK, offsetof(type, member), flags, fn, NULL                                    \
    }
#define FC(name, type, member, fn)                                                                 \
    {                                                                                              \
        name, YK_CUSTOM, offsetof(type, member), 0, NULL, fn                                       \
    }
#define FEND                                                                                       \
    {                                                                                              \
        NULL, YK_STR, 0, 0, NULL, NULL                                                             \
    }

static bool yfield_is_zero(const struct yfield_out *f, const void *p)
{
    switch (f->kind) {
    case YK_STR:
    case YK_SECRET:
        return !*(char *const *)p || !**(char *const *)p;
    case YK_BOOL:
        return !*(const bool *)p;
    case YK_I64:
    case YK_DUR:
    case YK_BYTES:
        return *(const int64_t *)p == 0;
    case YK_U64:
        return *(const uint64_t *)p == 0;
    case YK_F64:
        return *(const double *)p == 0;
    case YK_STRLIST:
        return ((const struct ystrlist *)p)->n == 0;
    case YK_STRMAP:
        return ((const struct ystrmap *)p)->n == 0;
    case YK_BLOCK:
    case YK_CUSTOM:
        return false;
    }
    return false;
}

static void yfield_emit(struct yemit *e, int ind, const struct yfield_out *f, const void *p)
{
    char num[32];
    switch (f->kind) {
    case YK_STR: {
        const char *s = *(char *const *)p;
        ykv_str(e, ind, f->name, s ? s : "");
        break;
    }
    case YK_SECRET: {
        const char *s = *(char *const *)p;
        if (s && *s)
            ykv_str(e, ind, f->name, SECRET);
        else
            ykv_raw(e, ind, f->name, "null");
        break;
    }
    case YK_BOOL:
        ykv_raw(e, ind, f->name, *(const bool *)p ? "true" : "false");
        break;
    case YK_I64:
        snprintf(num, sizeof num, "%lld", (long long)*(const int64_t *)p);
        ykv_raw(e, ind, f->name, num);
        break;
    case YK_U64:
        snprintf(num, sizeof num, "%llu", (unsigned long long)*(const uint64_t *)p);
        ykv_raw(e, ind, f->name, num);
        break;
    case YK_DUR:
        ykv_dur(e, ind, f->name, *(const int64_t *)p);
        break;
    case YK_BYTES:
        ykv_bytes(e, ind, f->name, *(const int64_t *)p);
        break;
    case YK_F64:
        ykv_float(e, ind, f->name, *(const double *)p);
        break;
    case YK_STRLIST:
        ykv_strlist(e, ind, f->name, p, false);
        break;
    case YK_STRMAP:
        ykv_strmap(e, ind, f->name, p);
        break;
    case YK_BLOCK:
        ykv_block(e, ind, f->name, f->block, p);
        break;
    case YK_CUSTOM:
        f->custom(e, ind, f->name, p);
        break;
    }
}

static void yfields(struct yemit *e, int ind, const struct yfield_out *t, const void *obj)
{
    for (; t->name; t++) {
        const void *p = (const char *)obj + t->off;
        if ((t->flags & OMITEMPTY) && yfield_is_zero(t, p))
            continue;
        yfield_emit(e, ind, t, p);
    }
}

/* A list of structs, each an item mapping. */
static void ykv_items(struct yemit *e, int ind, const char *key, const void *arr, size_t n,
                      size_t size, yblock_fn fn)
{
    if (n == 0)
        return; /* every such list is omitempty */
    ykey(e, ind, key);
    sbuf_putc(e->out, '\n');
    for (size_t i = 0; i < n; i++)
        yitem_block(e, ind, fn, (const char *)arr + i * size);
}

/* Sorted view of name/value-list pairs (Go maps print sorted by key). */
static void ykv_named_lists(struct yemit *e, int ind, const char *key,
                            const struct prom_named_list *v, size_t n, bool secret)
{
    if (n == 0)
        return;
    const struct prom_named_list **s = xcalloc(n, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && strcmp(s[j - 1]->name, v[i].name) > 0; j--)
            s[j] = s[j - 1];
        s[j] = &v[i];
    }
    ykey(e, ind, key);
    sbuf_putc(e->out, '\n');
    for (size_t i = 0; i < n; i++)
        ykv_strlist(e, ind + 2, s[i]->name, &s[i]->values, secret);
    free(s);
}

/* ---- relabeling ---- */

static void relabel_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_relabel *r = obj;
    if (r->source_labels.n)
        ykv_flowlist(e, ind, "source_labels", &r->source_labels);
    ykv_str(e, ind, "separator", r->separator ? r->separator : "");
    if (r->regex_set && r->regex && *r->regex)
        ykv_str(e, ind, "regex", r->regex);
    if (r->modulus)
        sbuf_printf(e->out, "%*smodulus: %llu\n", ind, "", (unsigned long long)r->modulus);
    if (r->target_label && *r->target_label)
        ykv_str(e, ind, "target_label", r->target_label);
    ykv_str(e, ind, "replacement", r->replacement ? r->replacement : "");
    ykv_str(e, ind, "action", prom_relabel_action_name(r->action));
}

static void ykv_relabels(struct yemit *e, int ind, const char *key, const void *field)
{
    const struct prom_relabel_list *l = field;
    ykv_items(e, ind, key, l->v, l->n, sizeof *l->v, relabel_block);
}

/* ---- HTTP client (prometheus/common HTTPClientConfig) ---- */

static const char *tls_version_name(enum prom_tls_version v)
{
    static const char *const names[] = {"", "TLS10", "TLS11", "TLS12", "TLS13"};
    return (unsigned)v < sizeof names / sizeof *names ? names[v] : "";
}

static void tls_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_tls_config *t = obj;
    static const struct yfield_out fields[] = {
        F("ca", YK_STR, struct prom_tls_config, ca, OMITEMPTY),
        F("cert", YK_STR, struct prom_tls_config, cert, OMITEMPTY),
        F("key", YK_SECRET, struct prom_tls_config, key, OMITEMPTY),
        F("ca_file", YK_STR, struct prom_tls_config, ca_file, OMITEMPTY),
        F("cert_file", YK_STR, struct prom_tls_config, cert_file, OMITEMPTY),
        F("key_file", YK_STR, struct prom_tls_config, key_file, OMITEMPTY),
        F("server_name", YK_STR, struct prom_tls_config, server_name, OMITEMPTY),
        F("insecure_skip_verify", YK_BOOL, struct prom_tls_config, insecure_skip_verify, 0),
        FEND,
    };
    yfields(e, ind, fields, t);
    if (t->min_version)
        ykv_raw(e, ind, "min_version", tls_version_name(t->min_version));
    if (t->max_version)
        ykv_raw(e, ind, "max_version", tls_version_name(t->max_version));
}

static bool tls_is_zero(const struct prom_tls_config *t)
{
    const char *s[] = {t->ca,  t->ca_file,  t->cert,       t->cert_file,
                       t->key, t->key_file, t->server_name};
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        if (s[i] && *s[i])
            return false;
    return !t->insecure_skip_verify && !t->min_version && !t->max_version;
}

/* tls_config,omitempty: a zero struct is left out. */
static void ykv_tls(struct yemit *e, int ind, const char *key, const void *field)
{
    if (!tls_is_zero(field))
        ykv_block(e, ind, key, tls_block, field);
}

/* config.URL marshals Redacted(): a password in the userinfo becomes
 * "xxxxx". */
static void ykv_url(struct yemit *e, int ind, const char *key, const char *url)
{
    const char *scheme = strstr(url, "://");
    const char *host = scheme ? scheme + 3 : url;
    const char *at = strpbrk(host, "@/?#");
    const char *colon = at && *at == '@' ? memchr(host, ':', (size_t)(at - host)) : NULL;
    if (!colon) {
        ykv_str(e, ind, key, url);
        return;
    }
    struct sbuf b = SBUF_INIT;
    sbuf_append(&b, url, (size_t)(colon + 1 - url));
    sbuf_printf(&b, "xxxxx%s", at);
    ykv_str(e, ind, key, b.data);
    sbuf_free(&b);
}

static void ykv_proxy_url(struct yemit *e, int ind, const char *key, const void *field)
{
    const char *u = *(char *const *)field;
    if (u && *u)
        ykv_url(e, ind, key, u);
}

static void ykv_connect_headers(struct yemit *e, int ind, const char *key, const void *field)
{
    const struct prom_proxy_config *p = field;
    ykv_named_lists(e, ind, key, p->connect_headers, p->n_connect_headers, true);
}

static const struct yfield_out proxy_fields[] = {
    FC("proxy_url", struct prom_proxy_config, proxy_url, ykv_proxy_url),
    F("no_proxy", YK_STR, struct prom_proxy_config, no_proxy, OMITEMPTY),
    F("proxy_from_environment", YK_BOOL, struct prom_proxy_config, proxy_from_environment,
      OMITEMPTY),
    {"proxy_connect_header", YK_CUSTOM, 0, 0, NULL, ykv_connect_headers},
    FEND,
};

static void basic_auth_block(struct yemit *e, int ind, const void *obj)
{
    static const struct yfield_out fields[] = {
        F("username", YK_STR, struct prom_basic_auth, username, 0),
        F("username_file", YK_STR, struct prom_basic_auth, username_file, OMITEMPTY),
        F("password", YK_SECRET, struct prom_basic_auth, password, OMITEMPTY),
        F("password_file", YK_STR, struct prom_basic_auth, password_file, OMITEMPTY),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void authorization_block(struct yemit *e, int ind, const void *obj)
{
    static const struct yfield_out fields[] = {
        F("type", YK_STR, struct prom_authorization, type, OMITEMPTY),
        F("credentials", YK_SECRET, struct prom_authorization, credentials, OMITEMPTY),
        F("credentials_file", YK_STR, struct prom_authorization, credentials_file, OMITEMPTY),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void oauth2_block(struct yemit *e, int ind, const void *obj)
{
    static const struct yfield_out fields[] = {
        F("client_id", YK_STR, struct prom_oauth2, client_id, 0),
        F("client_secret", YK_SECRET, struct prom_oauth2, client_secret, 0),
        F("client_secret_file", YK_STR, struct prom_oauth2, client_secret_file, 0),
        FEND,
    };
    static const struct yfield_out rest[] = {
        F("scopes", YK_STRLIST, struct prom_oauth2, scopes, OMITEMPTY),
        F("token_url", YK_STR, struct prom_oauth2, token_url, 0),
        F("endpoint_params", YK_STRMAP, struct prom_oauth2, endpoint_params, OMITEMPTY),
        FC("tls_config", struct prom_oauth2, tls_config, ykv_tls),
        FEND,
    };
    const struct prom_oauth2 *o = obj;
    yfields(e, ind, fields, o);
    ykv_raw(e, ind, "client_secret_ref", "\"\"");
    yfields(e, ind, rest, o);
    yfields(e, ind, proxy_fields, &o->proxy);
}

static void http_header_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_http_header *h = obj;
    if (h->values.n)
        ykv_strlist(e, ind, "values", &h->values, false);
    if (h->secrets.n)
        ykv_strlist(e, ind, "secrets", &h->secrets, true);
    if (h->files.n)
        ykv_strlist(e, ind, "files", &h->files, false);
}

static void http_headers_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_http_client *h = obj;
    size_t n = h->n_http_headers;
    const struct prom_http_header **s = xcalloc(n ? n : 1, sizeof *s);
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        for (; j > 0 && strcmp(s[j - 1]->name, h->http_headers[i].name) > 0; j--)
            s[j] = s[j - 1];
        s[j] = &h->http_headers[i];
    }
    for (size_t i = 0; i < n; i++)
        ykv_block(e, ind, s[i]->name, http_header_block, s[i]);
    free(s);
}

/* The fields of an inlined HTTPClientConfig. */
static void yhttp(struct yemit *e, int ind, const struct prom_http_client *h)
{
    if (h->basic_auth)
        ykv_block(e, ind, "basic_auth", basic_auth_block, h->basic_auth);
    if (h->authorization)
        ykv_block(e, ind, "authorization", authorization_block, h->authorization);
    if (h->oauth2)
        ykv_block(e, ind, "oauth2", oauth2_block, h->oauth2);
    if (h->bearer_token && *h->bearer_token) /* folded on load; kept for completeness */
        ykv_str(e, ind, "bearer_token", SECRET);
    if (h->bearer_token_file && *h->bearer_token_file)
        ykv_str(e, ind, "bearer_token_file", h->bearer_token_file);
    ykv_tls(e, ind, "tls_config", &h->tls_config);
    ykv_raw(e, ind, "follow_redirects", h->follow_redirects ? "true" : "false");
    ykv_raw(e, ind, "enable_http2", h->enable_http2 ? "true" : "false");
    yfields(e, ind, proxy_fields, &h->proxy);
    if (h->n_http_headers)
        ykv_block(e, ind, "http_headers", http_headers_block, h);
}

static void ykv_http(struct yemit *e, int ind, const char *key, const void *field)
{
    (void)key;
    yhttp(e, ind, field);
}

/* ---- service discovery ---- */

static void target_group_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_target_group *g = obj;
    ykv_strlist(e, ind, "targets", &g->targets, false);
    if (g->labels.n)
        ykv_strmap(e, ind, "labels", &g->labels);
}

static void file_sd_block(struct yemit *e, int ind, const void *obj)
{
    static const struct yfield_out fields[] = {
        F("files", YK_STRLIST, struct prom_file_sd, files, 0),
        F("refresh_interval", YK_DUR, struct prom_file_sd, refresh_interval_ms, OMITEMPTY),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void http_sd_block(struct yemit *e, int ind, const void *obj)
{
    static const struct yfield_out fields[] = {
        FC("", struct prom_http_sd, http, ykv_http),
        F("refresh_interval", YK_DUR, struct prom_http_sd, refresh_interval_ms, OMITEMPTY),
        F("url", YK_STR, struct prom_http_sd, url, 0),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void ykv_dns_type(struct yemit *e, int ind, const char *key, const void *field)
{
    static const char *const names[] = {"SRV", "A", "AAAA", "MX", "NS"};
    unsigned t = *(const enum prom_dns_type *)field;
    ykv_raw(e, ind, key, t < sizeof names / sizeof *names ? names[t] : "SRV");
}

static void dns_sd_block(struct yemit *e, int ind, const void *obj)
{
    static const struct yfield_out fields[] = {
        F("names", YK_STRLIST, struct prom_dns_sd, names, 0),
        F("refresh_interval", YK_DUR, struct prom_dns_sd, refresh_interval_ms, OMITEMPTY),
        FC("type", struct prom_dns_sd, type, ykv_dns_type),
        F("port", YK_I64, struct prom_dns_sd, port, 0),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void docker_filter_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_docker_filter *f = obj;
    ykv_str(e, ind, "name", f->name ? f->name : "");
    ykv_strlist(e, ind, "values", &f->values, false);
}

static void ykv_docker_filters(struct yemit *e, int ind, const char *key, const void *field)
{
    const struct prom_docker_sd *s =
        (const void *)((const char *)field - offsetof(struct prom_docker_sd, filters));
    if (s->n_filters == 0)
        ykv_raw(e, ind, key, "[]");
    else
        ykv_items(e, ind, key, s->filters, s->n_filters, sizeof *s->filters, docker_filter_block);
}

static void docker_sd_block(struct yemit *e, int ind, const void *obj)
{
    static const struct yfield_out fields[] = {
        FC("", struct prom_docker_sd, http, ykv_http),
        F("host", YK_STR, struct prom_docker_sd, host, 0),
        F("port", YK_I64, struct prom_docker_sd, port, 0),
        FC("filters", struct prom_docker_sd, filters, ykv_docker_filters),
        F("host_networking_host", YK_STR, struct prom_docker_sd, host_networking_host, 0),
        F("refresh_interval", YK_DUR, struct prom_docker_sd, refresh_interval_ms, 0),
        F("match_first_network", YK_BOOL, struct prom_docker_sd, match_first_network, 0),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

/* discovery.MarshalYAMLWithInlineConfigs appends the mechanisms after the
 * struct's own fields, sorted by key; static_configs sorts among them. */
static void ysd(struct yemit *e, int ind, const struct prom_sd_configs *sd)
{
    ykv_items(e, ind, "dns_sd_configs", sd->dns_sd, sd->n_dns_sd, sizeof *sd->dns_sd, dns_sd_block);
    ykv_items(e, ind, "docker_sd_configs", sd->docker_sd, sd->n_docker_sd, sizeof *sd->docker_sd,
              docker_sd_block);
    ykv_items(e, ind, "file_sd_configs", sd->file_sd, sd->n_file_sd, sizeof *sd->file_sd,
              file_sd_block);
    ykv_items(e, ind, "http_sd_configs", sd->http_sd, sd->n_http_sd, sizeof *sd->http_sd,
              http_sd_block);
    ykv_items(e, ind, "static_configs", sd->static_configs, sd->n_static_configs,
              sizeof *sd->static_configs, target_group_block);
}

static void ykv_sd(struct yemit *e, int ind, const char *key, const void *field)
{
    (void)key;
    ysd(e, ind, field);
}

/* ---- scrape configs ---- */

static void ykv_protocols(struct yemit *e, int ind, const char *key, const void *field)
{
    const struct prom_scrape_protocols *p = field;
    if (p->n == 0)
        return;
    ykey(e, ind, key);
    sbuf_putc(e->out, '\n');
    for (size_t i = 0; i < p->n; i++) {
        ypad(e, ind);
        sbuf_printf(e->out, "- %s\n", prom_scrape_protocol_name(p->v[i]));
    }
}

static void ykv_protocol(struct yemit *e, int ind, const char *key, const void *field)
{
    enum prom_scrape_protocol p = *(const enum prom_scrape_protocol *)field;
    if (p != PROM_PROTO_NONE)
        ykv_raw(e, ind, key, prom_scrape_protocol_name(p));
}

static void ykv_scheme(struct yemit *e, int ind, const char *key, const void *field)
{
    enum prom_name_validation v = *(const enum prom_name_validation *)field;
    ykv_raw(e, ind, key, v == PROM_NAMES_LEGACY ? "legacy" : "utf8");
}

static void ykv_params(struct yemit *e, int ind, const char *key, const void *field)
{
    const struct prom_scrape_config *s =
        (const void *)((const char *)field - offsetof(struct prom_scrape_config, params));
    ykv_named_lists(e, ind, key, s->params, s->n_params, false);
}

static void scrape_block(struct yemit *e, int ind, const void *obj)
{
    typedef struct prom_scrape_config S;
    static const struct yfield_out fields[] = {
        F("job_name", YK_STR, S, job_name, 0),
        F("honor_labels", YK_BOOL, S, honor_labels, OMITEMPTY),
        F("honor_timestamps", YK_BOOL, S, honor_timestamps, 0),
        F("track_timestamps_staleness", YK_BOOL, S, track_timestamps_staleness, 0),
        FC("params", S, params, ykv_params),
        F("scrape_interval", YK_DUR, S, scrape_interval_ms, OMITEMPTY),
        F("scrape_timeout", YK_DUR, S, scrape_timeout_ms, OMITEMPTY),
        FC("scrape_protocols", S, scrape_protocols, ykv_protocols),
        FC("fallback_scrape_protocol", S, fallback_scrape_protocol, ykv_protocol),
        F("scrape_native_histograms", YK_BOOL, S, scrape_native_histograms, 0),
        F("always_scrape_classic_histograms", YK_BOOL, S, always_scrape_classic_histograms, 0),
        F("convert_classic_histograms_to_nhcb", YK_BOOL, S, convert_classic_histograms_to_nhcb, 0),
        F("scrape_failure_log_file", YK_STR, S, scrape_failure_log_file, OMITEMPTY),
        F("metrics_path", YK_STR, S, metrics_path, OMITEMPTY),
        F("scheme", YK_STR, S, scheme, OMITEMPTY),
        F("enable_compression", YK_BOOL, S, enable_compression, 0),
        F("body_size_limit", YK_BYTES, S, body_size_limit, OMITEMPTY),
        F("sample_limit", YK_U64, S, sample_limit, OMITEMPTY),
        F("target_limit", YK_U64, S, target_limit, OMITEMPTY),
        F("label_limit", YK_U64, S, label_limit, OMITEMPTY),
        F("label_name_length_limit", YK_U64, S, label_name_length_limit, OMITEMPTY),
        F("label_value_length_limit", YK_U64, S, label_value_length_limit, OMITEMPTY),
        F("native_histogram_bucket_limit", YK_U64, S, native_histogram_bucket_limit, OMITEMPTY),
        F("native_histogram_min_bucket_factor", YK_F64, S, native_histogram_min_bucket_factor,
          OMITEMPTY),
        F("keep_dropped_targets", YK_U64, S, keep_dropped_targets, OMITEMPTY),
        FC("metric_name_validation_scheme", S, metric_name_validation_scheme, ykv_scheme),
        F("metric_name_escaping_scheme", YK_STR, S, metric_name_escaping_scheme, OMITEMPTY),
        F("extra_scrape_metrics", YK_BOOL, S, extra_scrape_metrics, 0),
        FC("", S, http, ykv_http),
        FC("relabel_configs", S, relabel_configs, ykv_relabels),
        FC("metric_relabel_configs", S, metric_relabel_configs, ykv_relabels),
        FC("", S, sd, ykv_sd),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

/* ---- alerting ---- */

static void alertmanager_block(struct yemit *e, int ind, const void *obj)
{
    typedef struct prom_alertmanager_config A;
    static const struct yfield_out fields[] = {
        FC("", A, http, ykv_http),
        F("scheme", YK_STR, A, scheme, OMITEMPTY),
        F("path_prefix", YK_STR, A, path_prefix, OMITEMPTY),
        F("timeout", YK_DUR, A, timeout_ms, OMITEMPTY),
        F("api_version", YK_STR, A, api_version, 0),
        FC("relabel_configs", A, relabel_configs, ykv_relabels),
        FC("alert_relabel_configs", A, alert_relabel_configs, ykv_relabels),
        FC("", A, sd, ykv_sd),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void alerting_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_alerting_config *a = obj;
    ykv_relabels(e, ind, "alert_relabel_configs", &a->alert_relabel_configs);
    ykv_items(e, ind, "alertmanagers", a->alertmanagers, a->n_alertmanagers,
              sizeof *a->alertmanagers, alertmanager_block);
}

/* ---- remote storage ---- */

static void ykv_remote_url(struct yemit *e, int ind, const char *key, const void *field)
{
    const char *u = *(char *const *)field;
    ykv_url(e, ind, key, u ? u : "");
}

static void queue_block(struct yemit *e, int ind, const void *obj)
{
    typedef struct prom_queue_config Q;
    static const struct yfield_out fields[] = {
        F("capacity", YK_I64, Q, capacity, OMITEMPTY),
        F("max_shards", YK_I64, Q, max_shards, OMITEMPTY),
        F("min_shards", YK_I64, Q, min_shards, OMITEMPTY),
        F("max_samples_per_send", YK_I64, Q, max_samples_per_send, OMITEMPTY),
        F("batch_send_deadline", YK_DUR, Q, batch_send_deadline_ms, OMITEMPTY),
        F("min_backoff", YK_DUR, Q, min_backoff_ms, OMITEMPTY),
        F("max_backoff", YK_DUR, Q, max_backoff_ms, OMITEMPTY),
        F("retry_on_http_429", YK_BOOL, Q, retry_on_http_429, OMITEMPTY),
        F("sample_age_limit", YK_DUR, Q, sample_age_limit_ms, OMITEMPTY),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void metadata_block(struct yemit *e, int ind, const void *obj)
{
    typedef struct prom_metadata_config M;
    static const struct yfield_out fields[] = {
        F("send", YK_BOOL, M, send, 0),
        F("send_interval", YK_DUR, M, send_interval_ms, 0),
        F("max_samples_per_send", YK_I64, M, max_samples_per_send, OMITEMPTY),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void remote_write_block(struct yemit *e, int ind, const void *obj)
{
    typedef struct prom_remote_write W;
    static const struct yfield_out fields[] = {
        FC("url", W, url, ykv_remote_url),
        F("remote_timeout", YK_DUR, W, remote_timeout_ms, OMITEMPTY),
        F("headers", YK_STRMAP, W, headers, OMITEMPTY),
        FC("write_relabel_configs", W, write_relabel_configs, ykv_relabels),
        F("name", YK_STR, W, name, OMITEMPTY),
        F("send_exemplars", YK_BOOL, W, send_exemplars, OMITEMPTY),
        F("send_native_histograms", YK_BOOL, W, send_native_histograms, OMITEMPTY),
        F("round_robin_dns", YK_BOOL, W, round_robin_dns, OMITEMPTY),
        F("protobuf_message", YK_STR, W, protobuf_message, OMITEMPTY),
        FC("", W, http, ykv_http),
        FB("queue_config", W, queue_config, queue_block, 0),
        FB("metadata_config", W, metadata_config, metadata_block, 0),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void remote_read_block(struct yemit *e, int ind, const void *obj)
{
    typedef struct prom_remote_read R;
    static const struct yfield_out fields[] = {
        FC("url", R, url, ykv_remote_url),
        F("remote_timeout", YK_DUR, R, remote_timeout_ms, OMITEMPTY),
        F("chunked_read_limit", YK_U64, R, chunked_read_limit, OMITEMPTY),
        F("headers", YK_STRMAP, R, headers, OMITEMPTY),
        F("read_recent", YK_BOOL, R, read_recent, OMITEMPTY),
        F("name", YK_STR, R, name, OMITEMPTY),
        FC("", R, http, ykv_http),
        F("required_matchers", YK_STRMAP, R, required_matchers, OMITEMPTY),
        F("filter_external_labels", YK_BOOL, R, filter_external_labels, OMITEMPTY),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

/* ---- global, storage, tracing, otlp ---- */

static void global_block(struct yemit *e, int ind, const void *obj)
{
    typedef struct prom_global_config G;
    static const struct yfield_out fields[] = {
        F("scrape_interval", YK_DUR, G, scrape_interval_ms, OMITEMPTY),
        F("scrape_timeout", YK_DUR, G, scrape_timeout_ms, OMITEMPTY),
        FC("scrape_protocols", G, scrape_protocols, ykv_protocols),
        F("evaluation_interval", YK_DUR, G, evaluation_interval_ms, OMITEMPTY),
        F("rule_query_offset", YK_DUR, G, rule_query_offset_ms, OMITEMPTY),
        F("query_log_file", YK_STR, G, query_log_file, OMITEMPTY),
        F("scrape_failure_log_file", YK_STR, G, scrape_failure_log_file, OMITEMPTY),
        F("external_labels", YK_STRMAP, G, external_labels, OMITEMPTY),
        F("body_size_limit", YK_BYTES, G, body_size_limit, OMITEMPTY),
        F("sample_limit", YK_U64, G, sample_limit, OMITEMPTY),
        F("target_limit", YK_U64, G, target_limit, OMITEMPTY),
        F("label_limit", YK_U64, G, label_limit, OMITEMPTY),
        F("label_name_length_limit", YK_U64, G, label_name_length_limit, OMITEMPTY),
        F("label_value_length_limit", YK_U64, G, label_value_length_limit, OMITEMPTY),
        F("keep_dropped_targets", YK_U64, G, keep_dropped_targets, OMITEMPTY),
        FC("metric_name_validation_scheme", G, metric_name_validation_scheme, ykv_scheme),
        F("metric_name_escaping_scheme", YK_STR, G, metric_name_escaping_scheme, OMITEMPTY),
        F("scrape_native_histograms", YK_BOOL, G, scrape_native_histograms, 0),
        F("convert_classic_histograms_to_nhcb", YK_BOOL, G, convert_classic_histograms_to_nhcb,
          OMITEMPTY),
        F("always_scrape_classic_histograms", YK_BOOL, G, always_scrape_classic_histograms,
          OMITEMPTY),
        F("extra_scrape_metrics", YK_BOOL, G, extra_scrape_metrics, OMITEMPTY),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void runtime_block(struct yemit *e, int ind, const void *obj)
{
    /* Go's DefaultRuntimeConfig: GOGC from the environment, else 75. */
    int64_t gogc = *(const int64_t *)obj;
    sbuf_printf(e->out, "%*sgogc: %lld\n", ind, "", (long long)(gogc ? gogc : 75));
}

static void retention_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_storage_config *s = obj;
    if (s->retention_time_ms)
        ykv_dur(e, ind, "time", s->retention_time_ms);
    if (s->retention_size)
        ykv_bytes(e, ind, "size", s->retention_size);
}

static void tsdb_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_storage_config *s = obj;
    /* TSDBConfig.OutOfOrderTimeWindow has no yaml tag: yaml.v2 prints it
     * under its lowercased Go name, in milliseconds, always. */
    sbuf_printf(e->out, "%*soutofordertimewindow: %lld\n", ind, "",
                (long long)s->out_of_order_time_window_ms);
    if (s->out_of_order_time_window_ms)
        ykv_dur(e, ind, "out_of_order_time_window", s->out_of_order_time_window_ms);
    if (s->has_retention)
        ykv_block(e, ind, "retention", retention_block, s);
}

static void exemplars_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_storage_config *s = obj;
    if (s->max_exemplars)
        sbuf_printf(e->out, "%*smax_exemplars: %lld\n", ind, "", (long long)s->max_exemplars);
}

static void storage_block(struct yemit *e, int ind, const void *obj)
{
    const struct prom_storage_config *s = obj;
    if (s->has_tsdb)
        ykv_block(e, ind, "tsdb", tsdb_block, s);
    if (s->has_exemplars)
        ykv_block(e, ind, "exemplars", exemplars_block, s);
}

static void tracing_block(struct yemit *e, int ind, const void *obj)
{
    typedef struct prom_tracing_config T;
    static const struct yfield_out fields[] = {
        F("client_type", YK_STR, T, client_type, OMITEMPTY),
        F("endpoint", YK_STR, T, endpoint, OMITEMPTY),
        F("sampling_fraction", YK_F64, T, sampling_fraction, OMITEMPTY),
        F("insecure", YK_BOOL, T, insecure, OMITEMPTY),
        FC("tls_config", T, tls_config, ykv_tls),
        F("headers", YK_STRMAP, T, headers, OMITEMPTY),
        F("compression", YK_STR, T, compression, OMITEMPTY),
        F("timeout", YK_DUR, T, timeout_ms, OMITEMPTY),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

static void otlp_block(struct yemit *e, int ind, const void *obj)
{
    typedef struct prom_otlp_config O;
    static const struct yfield_out fields[] = {
        F("promote_all_resource_attributes", YK_BOOL, O, promote_all_resource_attributes,
          OMITEMPTY),
        F("promote_resource_attributes", YK_STRLIST, O, promote_resource_attributes, OMITEMPTY),
        F("ignore_resource_attributes", YK_STRLIST, O, ignore_resource_attributes, OMITEMPTY),
        F("translation_strategy", YK_STR, O, translation_strategy, OMITEMPTY),
        F("keep_identifying_resource_attributes", YK_BOOL, O, keep_identifying_resource_attributes,
          OMITEMPTY),
        F("convert_histograms_to_nhcb", YK_BOOL, O, convert_histograms_to_nhcb, OMITEMPTY),
        F("promote_scope_metadata", YK_BOOL, O, promote_scope_metadata, OMITEMPTY),
        F("label_name_underscore_sanitization", YK_BOOL, O, label_name_underscore_sanitization,
          OMITEMPTY),
        F("label_name_preserve_multiple_underscores", YK_BOOL, O,
          label_name_preserve_multiple_underscores, OMITEMPTY),
        FEND,
    };
    yfields(e, ind, fields, obj);
}

/* ---- the whole file ---- */

/* Jobs of the main file only: Prometheus reads scrape_config_files into a
 * separate list that its Config does not print. */
static void scrape_configs_emit(struct yemit *e, const struct prom_config *c)
{
    bool any = false;
    for (size_t i = 0; i < c->n_scrape_configs; i++) {
        const struct prom_scrape_config *s = &c->scrape_configs[i];
        if (s->source_file && c->file && strcmp(s->source_file, c->file) != 0)
            continue;
        if (!any)
            sbuf_puts(e->out, "scrape_configs:\n");
        any = true;
        yitem_block(e, 0, scrape_block, s);
    }
}

void prom_config_marshal(const struct prom_config *c, struct sbuf *out)
{
    struct yemit e = {out};
    ykv_block(&e, 0, "global", global_block, &c->global);
    ykv_block(&e, 0, "runtime", runtime_block, &c->runtime_gogc);
    if (c->alerting.alert_relabel_configs.n || c->alerting.n_alertmanagers)
        ykv_block(&e, 0, "alerting", alerting_block, &c->alerting);
    if (c->rule_files.n)
        ykv_strlist(&e, 0, "rule_files", &c->rule_files, false);
    if (c->scrape_config_files.n)
        ykv_strlist(&e, 0, "scrape_config_files", &c->scrape_config_files, false);
    scrape_configs_emit(&e, c);
    if (c->storage.has_tsdb || c->storage.has_exemplars)
        ykv_block(&e, 0, "storage", storage_block, &c->storage);
    if (c->tracing.enabled)
        ykv_block(&e, 0, "tracing", tracing_block, &c->tracing);
    ykv_items(&e, 0, "remote_write", c->remote_write, c->n_remote_write, sizeof *c->remote_write,
              remote_write_block);
    ykv_items(&e, 0, "remote_read", c->remote_read, c->n_remote_read, sizeof *c->remote_read,
              remote_read_block);
    ykv_block(&e, 0, "otlp", otlp_block, &c->otlp);
}
