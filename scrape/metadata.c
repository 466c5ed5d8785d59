/* metadata.c — per-target metric metadata (HELP, TYPE, UNIT) for the
 * metadata APIs.
 *
 * A page's metadata lines rarely change between scrapes, so the parse only
 * notes where they are (spans into the body, which lives until the scrape
 * is finished) and hashes their bytes; the owned entries are rebuilt only
 * when that hash differs from the last applied page's.  The steady-state
 * cost per scrape is one XXH3 pass over the metadata bytes and no
 * allocation.
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

static void entries_free(struct scrape_meta_entry *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].name);
        free(v[i].help);
        free(v[i].unit);
    }
    free(v);
}

static struct scrape_meta_entry *entry_for(struct scrape_meta_entry **v, size_t *n, size_t *cap,
                                           struct textparse_str name)
{
    for (size_t i = *n; i-- > 0;)
        if (strlen((*v)[i].name) == name.len && memcmp((*v)[i].name, name.s, name.len) == 0)
            return &(*v)[i];
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 64;
        *v = xrealloc(*v, *cap * sizeof **v);
    }
    struct scrape_meta_entry *e = &(*v)[(*n)++];
    *e =
        (struct scrape_meta_entry){xstrndup(name.s, name.len), "unknown", xstrdup(""), xstrdup("")};
    return e;
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct scrape_meta_entry *)a)->name,
                  ((const struct scrape_meta_entry *)b)->name);
}

void scrape_metadata_commit(struct scrape_metadata *md)
{
    if (md->applied && md->pending_hash == md->hash)
        return;
    struct scrape_meta_entry *v = NULL;
    size_t n = 0, cap = 0;
    struct sbuf text = SBUF_INIT;
    for (size_t i = 0; i < md->nspans; i++) {
        const struct scrape_meta_span *s = &md->spans[i];
        struct scrape_meta_entry *e = entry_for(&v, &n, &cap, s->name);
        sbuf_reset(&text);
        if (s->kind == TEXTPARSE_TYPE) {
            snprintf(e->type, sizeof e->type, "%s", textparse_mtype_name(s->type));
            continue;
        }
        textparse_unescape(&text, s->text);
        char **dst = s->kind == TEXTPARSE_HELP ? &e->help : &e->unit;
        free(*dst);
        *dst = xstrdup(text.data ? text.data : "");
    }
    sbuf_free(&text);
    if (n)
        qsort(v, n, sizeof *v, entry_cmp);
    entries_free(md->v, md->n);
    md->v = v;
    md->n = n;
    md->hash = md->pending_hash;
    md->applied = true;
}

void scrape_metadata_free(struct scrape_metadata *md)
{
    entries_free(md->v, md->n);
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
