/* metadata.c — per-target metric metadata (HELP, TYPE, UNIT) for the
 * metadata APIs.
 *
 * A page's metadata lines rarely change between scrapes, so the parse only
 * notes where they are (spans into the body, which lives until the scrape
 * is finished) and hashes their bytes; the entries are rebuilt only when
 * that hash differs from the last applied page's.  The steady-state cost
 * per scrape is one XXH3 pass over the metadata bytes and growing the span
 * array, which is freed after the page: kept, it cost 16 bytes per active
 * series at 1M series (500 targets of ~200 families).  The entries' strings
 * share one allocation (text), as the entries do: three small mallocs per
 * family (one of them for an empty unit) had cost ~10 bytes a series more.
 *
 * Also here: matching a target's labels against a selector, for the
 * targets/metadata API's match_target (the index does this for series). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "scrape/scrape_internal.h"

void scrape_metadata_begin(struct scrape_metadata *md)
{
    md->nspans = 0;
    md->pending_hash = 0;
}

void scrape_metadata_note(struct scrape_metadata *md, struct textparse *p, enum textparse_entry en)
{
    struct textparse_str name = textparse_meta_name(p);
    struct textparse_str text = en == TEXTPARSE_HELP   ? textparse_help(p)
                                : en == TEXTPARSE_UNIT ? textparse_unit(p)
                                                       : (struct textparse_str){"", 0, false};
    if (md->nspans == md->capspans) {
        md->capspans = md->capspans ? md->capspans * 2 : 64;
        md->spans = xrealloc(md->spans, md->capspans * sizeof *md->spans);
    }
    md->spans[md->nspans++] =
        (struct scrape_meta_span){en, name, text, en == TEXTPARSE_TYPE ? textparse_type(p) : 0};
    uint8_t kind = (uint8_t)en;
    md->pending_hash = XXH3_64bits_withSeed(&kind, 1, md->pending_hash);
    md->pending_hash = XXH3_64bits_withSeed(name.s, name.len, md->pending_hash);
    md->pending_hash = XXH3_64bits_withSeed(text.s, text.len, md->pending_hash);
    if (en == TEXTPARSE_TYPE) {
        uint8_t t = (uint8_t)textparse_type(p);
        md->pending_hash = XXH3_64bits_withSeed(&t, 1, md->pending_hash);
    }
}

/* An entry while the page's spans are applied: its strings as offsets
 * into the text being built (which may move). */
struct meta_build {
    size_t name, help, unit;
    enum textparse_mtype type;
};

/* The entry of family name, added if new (searched from the end: a
 * family's HELP and TYPE lines are adjacent). */
static struct meta_build *build_for(struct meta_build **v, size_t *n, size_t *cap,
                                    struct sbuf *text, struct textparse_str name)
{
    for (size_t i = *n; i-- > 0;)
        if (strlen(text->data + (*v)[i].name) == name.len &&
            memcmp(text->data + (*v)[i].name, name.s, name.len) == 0)
            return &(*v)[i];
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    struct meta_build *e = &(*v)[(*n)++];
    *e = (struct meta_build){text->len, 0, 0, TEXTPARSE_MTYPE_UNKNOWN};
    sbuf_append(text, name.s, name.len);
    sbuf_putc(text, '\0');
    return e;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct scrape_meta_entry *)a)->name,
                  ((const struct scrape_meta_entry *)b)->name);
}

/* The entries of the page's spans, strings in text (which starts with
 * the empty string, the default help and unit); returns their number. */
static size_t meta_build(const struct scrape_metadata *md, struct sbuf *text,
                         struct meta_build **out)
{
    struct meta_build *v = NULL;
    size_t n = 0, cap = 0;
    sbuf_putc(text, '\0');
    for (size_t i = 0; i < md->nspans; i++) {
        const struct scrape_meta_span *s = &md->spans[i];
        struct meta_build *e = build_for(&v, &n, &cap, text, s->name);
        if (s->kind == TEXTPARSE_TYPE) {
            e->type = s->type;
            continue;
        }
        size_t off = text->len;
        textparse_unescape(text, s->text);
        sbuf_putc(text, '\0');
        *(s->kind == TEXTPARSE_HELP ? &e->help : &e->unit) = off;
    }
    *out = v;
    return n;
}

void scrape_metadata_commit(struct scrape_metadata *md)
{
    if (md->applied && md->pending_hash == md->hash)
        return;
    struct sbuf text = SBUF_INIT;
    struct meta_build *b;
    size_t n = meta_build(md, &text, &b);
    /* The text no longer grows: trimmed, the entries may point into it. */
    size_t len = text.len;
    char *t = xrealloc(sbuf_detach(&text), len);
    struct scrape_meta_entry *v = xmalloc((n ? n : 1) * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = (struct scrape_meta_entry){t + b[i].name, textparse_mtype_name(b[i].type),
                                          t + b[i].help, t + b[i].unit};
    free(b);
    if (n)
        qsort(v, n, sizeof *v, entry_cmp);
    free(md->v);
    free(md->text);
    md->v = v;
    md->n = n;
    md->text = t;
    md->hash = md->pending_hash;
    md->applied = true;
}

void scrape_metadata_end(struct scrape_metadata *md)
{
    free(md->spans);
    md->spans = NULL;
    md->nspans = md->capspans = 0;
}

void scrape_metadata_free(struct scrape_metadata *md)
{
    free(md->v);
    free(md->text);
    free(md->spans);
    memset(md, 0, sizeof *md);
}

/* ---- matching targets by selector (targets/metadata's match_target) ---- */

static bool matcher_value_matches(const struct label_matcher *m, const char *v)
{
    if (m->type == LABEL_MATCH_EQ || m->type == LABEL_MATCH_NEQ)
        return (strcmp(v, m->value) == 0) == (m->type == LABEL_MATCH_EQ);
    struct sbuf re = SBUF_INIT;
    sbuf_printf(&re, "^(?s:%s)$", m->value);
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)re.data, re.len, PCRE2_UTF | PCRE2_DOLLAR_ENDONLY,
                                     &ec, &eo, NULL);
    sbuf_free(&re);
    bool hit = false;
    if (code) {
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
        hit = pcre2_match(code, (PCRE2_SPTR)v, strlen(v), 0, 0, md, NULL) >= 0;
        pcre2_match_data_free(md);
        pcre2_code_free(code);
    }
    return hit == (m->type == LABEL_MATCH_RE);
}

bool scrape_labels_match(const struct labels *ls, const struct label_matcher *ms, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *v = "";
        for (size_t k = 0; k < ls->n; k++)
            if (strcmp(ls->v[k].name, ms[i].name) == 0)
                v = ls->v[k].value;
        if (!matcher_value_matches(&ms[i], v))
            return false;
    }
    return true;
}
