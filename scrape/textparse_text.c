/* textparse_text.c — what the parser does with text once a line has parsed.
 *
 * The parser proper (textparse.c) hands out spans of the bytes as written.
 * This file holds the text work that is either needed on every line but
 * cheap (UTF-8 validation of non-ASCII label values, the duplicate-name
 * check) or needed only on a scrape-cache miss (decoding escapes into the
 * caller's sbuf, canonical le/quantile values):
 *
 *  - Escapes decode as Go's strings.Replacer does in Prometheus: \\ \" \n
 *    for names and label values (and OpenMetrics HELP), \\ \n for the
 *    Prometheus format's HELP; any other backslash is kept, with the byte
 *    after it.  Comparing names decodes on the fly, so `"a"` equals `a`
 *    without writing anything anywhere.
 *  - Duplicate names: pairwise for the usual handful of labels; past
 *    DUP_PAIRWISE_MAX a sort of pointers (scratch owned by the parser), so a
 *    line with 100 000 labels costs n log n, not n^2.
 *  - Metric families and created timestamps follow Prometheus 3
 *    (isSeriesPartOfFamily, OpenMetricsParser.CreatedTimestamp).  The
 *    created-timestamp look-ahead runs a second parser over the following
 *    lines; its answer holds for every sample up to the line that decided it,
 *    so it is cached and a parse stays linear where Prometheus's look-ahead
 *    can be quadratic in the size of a family. */
#include "scrape/textparse_internal.h"

#include <stdlib.h>
#include <string.h>

#define DUP_PAIRWISE_MAX 16

/* ---- UTF-8 ---- */

bool textparse_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & UINT64_C(0x8080808080808080))) {
                i += 8;
                continue;
            }
        }
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0; /* overlong */
            if (c == 0xed)
                hi = 0x9f; /* surrogates */
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90; /* overlong */
            if (c == 0xf4)
                hi = 0x8f; /* > U+10FFFF */
        } else {
            return false;
        }
        if (n - i - 1 < need || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

/* ---- escapes ---- */

/* The decoded byte for "\c", or -1 if the pair is not an escape. */
static int escape_of(char c, enum textparse_escapes e)
{
    switch (c) {
    case '\\':
        return '\\';
    case 'n':
        return '\n';
    case '"':
        return e == TEXTPARSE_ESC_LABEL ? '"' : -1;
    default:
        return -1;
    }
}

void textparse_unescape_as(struct sbuf *out, const char *s, size_t n, enum textparse_escapes e)
{
    sbuf_reserve(out, n);
    size_t i = 0;
    while (i < n) {
        const char *bs = memchr(s + i, '\\', n - i);
        size_t j = bs ? (size_t)(bs - s) : n;
        sbuf_append(out, s + i, j - i);
        if (j == n)
            break;
        int d = j + 1 < n ? escape_of(s[j + 1], e) : -1;
        sbuf_putc(out, d < 0 ? '\\' : (char)d);
        i = j + (d < 0 ? 1 : 2);
    }
    out->data[out->len] = '\0'; /* also when nothing was appended */
}

void textparse_unescape(struct sbuf *out, struct textparse_str s)
{
    textparse_unescape_as(out, s.s, s.len, TEXTPARSE_ESC_LABEL);
}

/* Decoding iterator over a name, for comparisons that write nothing. */
struct decoder {
    const char *s;
    size_t n, i;
};

static int decoder_next(struct decoder *d)
{
    if (d->i >= d->n)
        return -1;
    char c = d->s[d->i];
    if (c == '\\' && d->i + 1 < d->n) {
        int e = escape_of(d->s[d->i + 1], TEXTPARSE_ESC_LABEL);
        if (e >= 0) {
            d->i += 2;
            return e;
        }
    }
    d->i++;
    return (unsigned char)c;
}

static int str_cmp(const struct textparse_str *a, const struct textparse_str *b)
{
    if (!a->escaped && !b->escaped) {
        size_t n = a->len < b->len ? a->len : b->len;
        int r = memcmp(a->s, b->s, n);
        return r ? r : (a->len > b->len) - (a->len < b->len);
    }
    struct decoder x = {a->s, a->len, 0}, y = {b->s, b->len, 0};
    for (;;) {
        int cx = decoder_next(&x), cy = decoder_next(&y);
        if (cx != cy || cx < 0)
            return cx - cy;
    }
}

static bool str_eq(const struct textparse_str *a, const struct textparse_str *b)
{
    if (!a->escaped && !b->escaped)
        return a->len == b->len && memcmp(a->s, b->s, a->len) == 0;
    return str_cmp(a, b) == 0;
}

static bool str_is(const struct textparse_str *a, const char *lit)
{
    struct textparse_str b = {lit, strlen(lit), false};
    return str_eq(a, &b);
}

/* ---- duplicate label names ---- */

static int label_ptr_cmp(const void *x, const void *y)
{
    const struct textparse_label *a = *(const struct textparse_label *const *)x;
    const struct textparse_label *b = *(const struct textparse_label *const *)y;
    int r = str_cmp(&a->name, &b->name);
    return r ? r : (a > b) - (a < b); /* written order among equals */
}

static size_t dup_sorted(struct textparse *p)
{
    const struct textparse_label *v = textparse_label_array(p);
    size_t n = p->nlabels;
    if (p->dup_cap < n) {
        p->dup_cap = n * 2;
        free((void *)p->dup);
        p->dup = xmalloc(p->dup_cap * sizeof *p->dup);
    }
    for (size_t i = 0; i < n; i++)
        p->dup[i] = &v[i];
    qsort((void *)p->dup, n, sizeof *p->dup, label_ptr_cmp);
    for (size_t i = 1; i < n; i++)
        if (str_eq(&p->dup[i - 1]->name, &p->dup[i]->name))
            return (size_t)(p->dup[i] - v);
    return (size_t)-1;
}

size_t textparse_dup_label(struct textparse *p)
{
    const struct textparse_label *v = textparse_label_array(p);
    size_t n = p->nlabels;
    for (size_t i = 0; i < n; i++)
        if (v[i].name.len >= 8 && str_is(&v[i].name, "__name__"))
            return i;
    if (n > DUP_PAIRWISE_MAX)
        return dup_sorted(p);
    for (size_t i = 1; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (str_eq(&v[i].name, &v[j].name))
                return i;
    return (size_t)-1;
}

/* ---- metric families ---- */

const char *textparse_mtype_name(enum textparse_mtype t)
{
    switch (t) {
    case TEXTPARSE_MTYPE_COUNTER:
        return "counter";
    case TEXTPARSE_MTYPE_GAUGE:
        return "gauge";
    case TEXTPARSE_MTYPE_HISTOGRAM:
        return "histogram";
    case TEXTPARSE_MTYPE_GAUGEHISTOGRAM:
        return "gaugehistogram";
    case TEXTPARSE_MTYPE_SUMMARY:
        return "summary";
    case TEXTPARSE_MTYPE_INFO:
        return "info";
    case TEXTPARSE_MTYPE_STATESET:
        return "stateset";
    default:
        return "unknown";
    }
}

static bool has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

/* Cuts the first of the suffixes that s has (Go's strings.CutSuffix chain). */
static size_t cut_first(const char *s, size_t n, const char *const *suffixes)
{
    for (; *suffixes; suffixes++)
        if (has_suffix(s, n, *suffixes))
            return n - strlen(*suffixes);
    return n;
}

bool textparse_family_match(const char *name, size_t name_len, const char *family,
                            size_t family_len, enum textparse_mtype t)
{
    static const char *const total[] = {"_total", NULL};
    static const char *const info[] = {"_info", NULL};
    static const char *const hist[] = {"_bucket", "_sum", "_count", NULL};
    static const char *const ghist[] = {"_bucket", "_gsum", "_gcount", NULL};
    static const char *const summ[] = {"_sum", "_count", NULL};
    if (name_len < family_len || memcmp(name, family, family_len) != 0)
        return false;
    size_t fam = family_len, got = name_len;
    switch (t) {
    case TEXTPARSE_MTYPE_COUNTER:
        fam = cut_first(family, family_len, total);
        got = cut_first(name, name_len, total);
        break;
    case TEXTPARSE_MTYPE_INFO:
        fam = cut_first(family, family_len, info);
        got = cut_first(name, name_len, info);
        break;
    case TEXTPARSE_MTYPE_HISTOGRAM:
        got = cut_first(name, name_len, hist);
        break;
    case TEXTPARSE_MTYPE_GAUGEHISTOGRAM:
        got = cut_first(name, name_len, ghist);
        break;
    case TEXTPARSE_MTYPE_SUMMARY:
        got = cut_first(name, name_len, summ);
        break;
    default:
        break;
    }
    /* name starts with the whole family name, so equal lengths mean equal names */
    return got == fam;
}

enum textparse_mtype textparse_series_type(const struct textparse *p)
{
    if (p->cur != TEXTPARSE_SERIES || !p->family.s)
        return TEXTPARSE_MTYPE_UNKNOWN;
    if (!textparse_family_match(p->name.s, p->name.len, p->family.s, p->family.len, p->mtype))
        return TEXTPARSE_MTYPE_UNKNOWN;
    return p->mtype;
}

/* ---- created timestamps (OpenMetrics) ---- */

static bool type_requires_ct(enum textparse_mtype t)
{
    return t == TEXTPARSE_MTYPE_COUNTER || t == TEXTPARSE_MTYPE_SUMMARY ||
           t == TEXTPARSE_MTYPE_HISTOGRAM;
}

bool textparse_series_is_created(const struct textparse *p)
{
    return p->cur == TEXTPARSE_SERIES && p->format == TEXTPARSE_OPENMETRICS &&
           type_requires_ct(p->mtype) && has_suffix(p->name.s, p->name.len, "_created");
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *s = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * UINT64_C(0x100000001b3);
    return h;
}

/* The series' identity for matching a _created line, as Prometheus's
 * seriesHash: the first name_len bytes of the metric name and the labels as
 * written, without le (histograms) or quantile (summaries). */
static uint64_t series_key(const struct textparse *p, size_t name_len)
{
    uint64_t h = fnv1a(UINT64_C(0xcbf29ce484222325), p->name.s, name_len);
    h = fnv1a(h, "\xff", 1);
    const struct textparse_label *v = textparse_label_array(p);
    for (size_t i = 0; i < p->nlabels; i++) {
        const struct textparse_str *n = &v[i].name;
        if (p->mtype == TEXTPARSE_MTYPE_SUMMARY && n->len == 8 && !memcmp(n->s, "quantile", 8))
            continue;
        if (p->mtype == TEXTPARSE_MTYPE_HISTOGRAM && n->len == 2 && !memcmp(n->s, "le", 2))
            continue;
        h = fnv1a(fnv1a(h, n->s, n->len), "\xfe", 1);
        h = fnv1a(fnv1a(h, v[i].value.s, v[i].value.len), "\xff", 1);
    }
    return h;
}

/* Reads ahead from p->pos to the first line that is not a plain sample of
 * the family: a _created sample (found) or anything else (not found). */
static void ct_scan(struct textparse *p)
{
    struct textparse q;
    textparse_init(&q, p->format, p->buf, p->len);
    q.pos = p->pos;
    q.mtype = p->mtype;
    p->ct_found = false;
    size_t upto;
    for (;;) {
        upto = q.pos;
        if (textparse_next(&q) != TEXTPARSE_SERIES)
            break;
        if (has_suffix(q.name.s, q.name.len, "_created")) {
            p->ct_found = true;
            p->ct_key = series_key(&q, q.name.len - 8);
            p->ct_ms = textparse_num_seconds_to_ms(q.value);
            break;
        }
    }
    textparse_free(&q);
    p->ct_valid = true;
    p->ct_from = p->pos;
    p->ct_upto = upto;
}

bool textparse_created_timestamp(struct textparse *p, int64_t *ms)
{
    if (p->cur != TEXTPARSE_SERIES || p->format != TEXTPARSE_OPENMETRICS ||
        !type_requires_ct(p->mtype))
        return false;
    size_t name_len = p->mf_name_len < p->name.len ? p->mf_name_len : p->name.len;
    uint64_t key = series_key(p, name_len);
    if (!p->ct_valid || p->pos < p->ct_from || p->pos > p->ct_upto)
        ct_scan(p);
    if (!p->ct_found || p->ct_key != key)
        return false;
    *ms = p->ct_ms;
    return true;
}

/* ---- decoded label sets ---- */

/* Appends the bytes and a NUL; returns where they start. */
static size_t put_decoded(struct sbuf *out, const struct textparse_str *s)
{
    size_t off = out->len;
    textparse_unescape_as(out, s->s, s->len, TEXTPARSE_ESC_LABEL);
    sbuf_append(out, "", 1);
    return off;
}

/* Prometheus 3's normalizeFloatsInLabelValues: le of a histogram and
 * quantile of a summary in OpenMetrics float form ("1" -> "1.0"). */
static void normalize_float_value(struct sbuf *out, size_t off)
{
    double f;
    size_t n = out->len - 1 - off;
    if (textparse_num_float_go(out->data + off, n, &f) != TEXTPARSE_NUM_OK)
        return;
    out->len = off;
    sbuf_put_float(out, f);
    if (!memchr(out->data + off, 'e', out->len - off) &&
        !memchr(out->data + off, '.', out->len - off) && f == f && f - f == 0)
        sbuf_append(out, ".0", 2);
    sbuf_append(out, "", 1);
}

size_t textparse_labels_unescape(const struct textparse *p, struct sbuf *out,
                                 struct textparse_label_text *v)
{
    const struct textparse_label *l = textparse_label_array(p);
    /* Decoding never lengthens text; normalised floats need at most 32
     * bytes.  Reserving it all first keeps out->data still while we point
     * into it. */
    size_t need = p->name.len + 1;
    for (size_t i = 0; i < p->nlabels; i++)
        need += l[i].name.len + l[i].value.len + 2 + 32;
    sbuf_reserve(out, need);
    v[0].name = "__name__";
    v[0].name_len = 8;
    size_t off = put_decoded(out, &p->name);
    v[0].value = out->data + off;
    v[0].value_len = out->len - 1 - off;
    for (size_t i = 0; i < p->nlabels; i++) {
        size_t noff = put_decoded(out, &l[i].name);
        size_t nlen = out->len - 1 - noff;
        size_t voff = put_decoded(out, &l[i].value);
        const char *nm = out->data + noff;
        if ((p->mtype == TEXTPARSE_MTYPE_HISTOGRAM && nlen == 2 && !memcmp(nm, "le", 2)) ||
            (p->mtype == TEXTPARSE_MTYPE_SUMMARY && nlen == 8 && !memcmp(nm, "quantile", 8)))
            normalize_float_value(out, voff);
        v[i + 1] = (struct textparse_label_text){nm, nlen, out->data + voff, out->len - 1 - voff};
    }
    return p->nlabels + 1;
}
