/* scrape_append.c — one scraped page into one appender batch: the scrape
 * cache, sample-label mutation (honor_labels / exported_), metric
 * relabeling, limits, staleness and the report series.  See
 * scrape_internal.h for the design; the rules follow Prometheus 3's
 * scrapeLoop.append, mutateSampleLabels, verifyLabelLimits and report.
 *
 * Memory.  The cache is the scrape side's cost per active series, so what
 * it keeps between scrapes is one 32-byte entry per series (hash of the
 * raw key, ref, flags: keytab.c), its index slots and the page order (4
 * bytes a series).  No label set is kept: until storage has given a series
 * its ref, the labels are built again from the line (the first scrape, or
 * after a failed commit or the series' garbage collection), which is what
 * a miss costs anyway.  The attempt's seen refs and the spare order array
 * are freed after each scrape, as the loop frees its body and the
 * appender its batch buffers (scrape.c, tsdb_append.c).  Measured with
 * bench/scrape.sh 30 50 2000 5 (100k active series), whole process RSS:
 * 998 B/series with 80-byte entries plus a separate key, kept bodies and
 * appender buffers and mapped LMDB pages; 517 with 33-byte malloc'd
 * entries holding the raw key; at 1M series (500 targets) these entries,
 * buckets and order took ~104 B a series, the keytab ~42. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/scrape_internal.h"

#define N_REPORT 5
static const char *const report_names[N_REPORT] = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
};

struct scrape_cache {
    struct scrape_keytab tab;
    uint32_t iter;
    uint32_t *order; /* last good scrape's series (entry numbers), in page order */
    size_t norder, caporder;
    uint32_t *next; /* this attempt's */
    size_t nnext, capnext;
    uint64_t *seen_refs;
    size_t nseen, capseen;
    struct sbuf scratch;
    struct textparse_label_text *lt;
    size_t ltcap;
    struct label_set work, tlabels;
    bool have_tlabels;
    uint64_t report_refs[N_REPORT];
    struct label_set report_lbls[N_REPORT];
    struct scrape_metadata meta;
};

const struct scrape_metadata *scrape_cache_metadata(const struct scrape_cache *c)
{
    return &c->meta;
}

struct scrape_cache *scrape_cache_new(void)
{
    struct scrape_cache *c = xcalloc(1, sizeof *c);
    scrape_keytab_init(&c->tab);
    return c;
}

void scrape_cache_free(struct scrape_cache *c)
{
    if (!c)
        return;
    scrape_keytab_free(&c->tab);
    scrape_metadata_free(&c->meta);
    free(c->order);
    free(c->next);
    free(c->seen_refs);
    free(c->lt);
    sbuf_free(&c->scratch);
    label_set_free(&c->work);
    label_set_free(&c->tlabels);
    for (int i = 0; i < N_REPORT; i++)
        label_set_free(&c->report_lbls[i]);
    free(c);
}

size_t scrape_cache_size(const struct scrape_cache *c)
{
    return c->tab.n;
}

void scrape_target_series_labels(const struct scrape_target *t, struct label_set *out)
{
    label_set_clear(out);
    for (size_t i = 0; i < t->labels.n; i++)
        if (strncmp(t->labels.v[i].name, "__", 2) != 0)
            label_set_set(out, t->labels.v[i].name, t->labels.v[i].value);
}

static void ensure_tlabels(struct scrape_cache *c, const struct scrape_target *t)
{
    if (c->have_tlabels)
        return;
    scrape_target_series_labels(t, &c->tlabels);
    for (int i = 0; i < N_REPORT; i++) {
        label_set_copy(&c->report_lbls[i], &c->tlabels);
        label_set_set(&c->report_lbls[i], "__name__", report_names[i]);
    }
    c->have_tlabels = true;
}

static void begin_attempt(struct scrape_cache *c)
{
    c->iter++;
    c->nnext = 0;
    c->nseen = 0;
}

static void push_next(struct scrape_cache *c, uint32_t e)
{
    if (c->nnext == c->capnext) {
        c->capnext = c->capnext ? 2 * c->capnext : 256;
        c->next = xrealloc(c->next, c->capnext * sizeof *c->next);
    }
    c->next[c->nnext++] = e;
}

/* mutateSampleLabels without the relabeling: target labels onto the scraped
 * set, either only where absent (honor_labels) or overriding, with the
 * scraped values kept as exported_<name> (shortest names first). */
static void mutate_labels(struct scrape_cache *c, struct label_set *ls, bool honor)
{
    const struct label_set *tl = &c->tlabels;
    if (honor) {
        for (size_t i = 0; i < tl->n; i++)
            if (!*label_set_get(ls, tl->v[i].name))
                label_set_set(ls, tl->v[i].name, tl->v[i].value);
        return;
    }
    struct label conflicts[64];
    char *owned[64];
    size_t nc = 0;
    for (size_t i = 0; i < tl->n; i++) {
        const char *have = label_set_get(ls, tl->v[i].name);
        if (*have && nc < 64) {
            owned[nc] = xstrdup(have);
            conflicts[nc++] = (struct label){tl->v[i].name, owned[nc - 1]};
        }
        label_set_set(ls, tl->v[i].name, tl->v[i].value);
    }
    /* Stable sort by name length (insertion sort; few conflicts). */
    for (size_t i = 1; i < nc; i++)
        for (size_t j = i; j > 0 && strlen(conflicts[j - 1].name) > strlen(conflicts[j].name);
             j--) {
            struct label t = conflicts[j];
            conflicts[j] = conflicts[j - 1];
            conflicts[j - 1] = t;
        }
    struct sbuf name = SBUF_INIT;
    for (size_t i = 0; i < nc; i++) {
        sbuf_reset(&name);
        sbuf_puts(&name, conflicts[i].name);
        for (;;) {
            struct sbuf nn = SBUF_INIT;
            sbuf_printf(&nn, "exported_%s", name.data);
            sbuf_free(&name);
            name = nn;
            if (!*label_set_get(ls, name.data)) {
                label_set_set(ls, name.data, conflicts[i].value);
                break;
            }
        }
    }
    sbuf_free(&name);
    for (size_t i = 0; i < nc; i++)
        free(owned[i]);
}

static size_t utf8_runes(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}

/* Validity and verifyLabelLimits; 0 or -1 with err. */
static int check_series(const struct prom_scrape_config *cfg, const struct label_set *ls, char *err,
                        size_t errsize)
{
    const char *met = label_set_get(ls, "__name__");
    if (!*met) {
        snprintf(err, errsize, "missing metric name (__name__ label)");
        return -1;
    }
    for (size_t i = 0; i < ls->n; i++)
        if (!prom_label_name_is_valid(ls->v[i].name, cfg->metric_name_validation_scheme) ||
            (i == 0 && !prom_metric_name_is_valid(met, cfg->metric_name_validation_scheme))) {
            struct sbuf b = SBUF_INIT;
            label_set_format(ls, &b);
            snprintf(err, errsize, "invalid metric name or label names: %s", b.data);
            sbuf_free(&b);
            return -1;
        }
    if (cfg->label_limit && ls->n > cfg->label_limit) {
        snprintf(err, errsize,
                 "label_limit exceeded (metric: %.50s, number of labels: %zu, limit: %llu)", met,
                 ls->n, (unsigned long long)cfg->label_limit);
        return -1;
    }
    for (size_t i = 0; i < ls->n; i++) {
        size_t nl = strlen(ls->v[i].name), vl = utf8_runes(ls->v[i].value);
        if (cfg->label_name_length_limit && nl > cfg->label_name_length_limit) {
            snprintf(err, errsize,
                     "label_name_length_limit exceeded (metric: %.50s, label name: %.50s, "
                     "length: %zu, limit: %llu)",
                     met, ls->v[i].name, nl, (unsigned long long)cfg->label_name_length_limit);
            return -1;
        }
        if (cfg->label_value_length_limit && vl > cfg->label_value_length_limit) {
            snprintf(err, errsize,
                     "label_value_length_limit exceeded (metric: %.50s, label name: %.50s, value: "
                     "\"%.50s\", length: %zu, limit: %llu)",
                     met, ls->v[i].name, ls->v[i].value, vl,
                     (unsigned long long)cfg->label_value_length_limit);
            return -1;
        }
    }
    return 0;
}

enum series_build { SERIES_KEPT, SERIES_DROPPED, SERIES_INVALID };

/* The line's series as it will be stored: decoded, mutated, relabeled and
 * checked into c->work, or dropped by the rules, or invalid (err set). */
static enum series_build series_build(struct scrape_cache *c, struct textparse *p,
                                      const struct scrape_page_opts *o, char *err, size_t errsize)
{
    size_t need = textparse_label_count(p) + 1;
    if (need > c->ltcap) {
        c->ltcap = need * 2;
        c->lt = xrealloc(c->lt, c->ltcap * sizeof *c->lt);
    }
    sbuf_reset(&c->scratch);
    size_t k = textparse_labels_unescape(p, &c->scratch, c->lt);
    struct label_set *ls = &c->work;
    label_set_clear(ls);
    for (size_t i = 0; i < k; i++) {
        if (i > 0 && *label_set_get(ls, c->lt[i].name)) {
            snprintf(err, errsize, "label name \"%s\" is not unique", c->lt[i].name);
            return SERIES_INVALID;
        }
        label_set_setn(ls, c->lt[i].name, c->lt[i].value, c->lt[i].value_len);
    }
    mutate_labels(c, ls, o->cfg->honor_labels);
    if (!relabel_apply(o->metric_rules, ls) || ls->n == 0)
        return SERIES_DROPPED;
    return check_series(o->cfg, ls, err, errsize) < 0 ? SERIES_INVALID : SERIES_KEPT;
}

/* The line's cache entry, created on a miss (then *built says whether
 * c->work holds its labels).  KEYTAB_NONE if the series is invalid. */
static uint32_t entry_for_line(struct scrape_cache *c, struct textparse *p,
                               const struct scrape_page_opts *o, size_t pos, bool *built,
                               struct scrape_page_result *r)
{
    const char *raw;
    size_t rawlen;
    textparse_series(p, &raw, &rawlen);
    struct scrape_ckey k = scrape_keytab_key(&c->tab, raw, rawlen);
    *built = false;
    if (pos < c->norder) {
        uint32_t e = c->order[pos];
        struct scrape_ckey ek = scrape_keytab_at(&c->tab, e)->key;
        if (ek.lo == k.lo && ek.hi == k.hi)
            return e; /* the in-order prediction held */
    }
    uint32_t e = scrape_keytab_find(&c->tab, k);
    if (e != KEYTAB_NONE)
        return e;
    enum series_build b = series_build(c, p, o, r->err, sizeof r->err);
    if (b == SERIES_INVALID)
        return KEYTAB_NONE;
    e = scrape_keytab_add(&c->tab, k);
    scrape_keytab_at(&c->tab, e)->dropped = b == SERIES_DROPPED;
    *built = b == SERIES_KEPT;
    if (b == SERIES_KEPT)
        r->series_added++;
    return e;
}

/* Appends to the entry's series: by ref, or by the labels in c->work
 * while it has none (storage then sets the ref at commit). */
static int append_entry(struct tsdb_appender *app, struct scrape_cache *c, struct scrape_centry *e,
                        int64_t t, double v, int64_t st, char *err, size_t errsize)
{
    struct labels view = label_set_view(&c->work);
    if (tsdb_append_st(app, &e->ref, e->ref ? NULL : &view, t, v, st) < 0) {
        snprintf(err, errsize, "%s", tsdb_appender_error(app));
        return -1;
    }
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static double stale_nan(void)
{
    uint64_t bits = TSDB_STALE_NAN_BITS;
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Stale markers for series tracked in the last good scrape and not in this
 * attempt (by ref, so two raw spellings of one series count once).  An
 * entry without ref has no series in storage (collected: gc.c), so
 * nothing to mark. */
static void append_stale(struct tsdb_appender *app, struct scrape_cache *c, int64_t t,
                         struct scrape_page_result *r)
{
    if (c->nseen > 1)
        qsort(c->seen_refs, c->nseen, sizeof *c->seen_refs, cmp_u64);
    char err[256];
    for (uint32_t i = 0; i < c->tab.hw; i++) {
        struct scrape_centry *e = scrape_keytab_at(&c->tab, i);
        if (!e->used || !e->prev_seen || !e->ref || (e->seen_iter == c->iter && e->tracked))
            continue;
        if (c->nseen && bsearch(&e->ref, c->seen_refs, c->nseen, sizeof *c->seen_refs, cmp_u64))
            continue;
        if (append_entry(app, c, e, t, stale_nan(), 0, err, sizeof err) == 0)
            r->stale_markers++;
    }
}

int scrape_append_page(struct tsdb_appender *app, struct scrape_cache *c,
                       const struct scrape_page_opts *o, enum textparse_format fmt,
                       const char *body, size_t len, int64_t t_ms, struct scrape_page_result *r)
{
    memset(r, 0, sizeof *r);
    ensure_tlabels(c, o->target);
    begin_attempt(c);
    const struct prom_scrape_config *cfg = o->cfg;
    struct textparse p;
    textparse_init(&p, fmt, body, len);
    scrape_metadata_begin(&c->meta);
    int rc = 0;
    size_t pos = 0;
    for (enum textparse_entry en; (en = textparse_next(&p)) != TEXTPARSE_END;) {
        if (en == TEXTPARSE_ERROR) {
            snprintf(r->err, sizeof r->err, "%s", textparse_error(&p));
            rc = -1;
            break;
        }
        if (en == TEXTPARSE_EOF)
            break;
        if (en == TEXTPARSE_HELP || en == TEXTPARSE_TYPE || en == TEXTPARSE_UNIT)
            scrape_metadata_note(&c->meta, &p, en);
        if (en != TEXTPARSE_SERIES)
            continue;
        r->samples_scraped++;
        bool built;
        uint32_t ei = entry_for_line(c, &p, o, pos, &built, r);
        if (ei == KEYTAB_NONE) {
            rc = -1;
            break;
        }
        pos++;
        push_next(c, ei);
        struct scrape_centry *e = scrape_keytab_at(&c->tab, ei);
        e->seen_iter = c->iter;
        if (e->dropped)
            continue;
        if (!e->ref && !built) {
            /* No series yet (a failed commit, or collected): name it by
             * labels again (the rules are those it passed before: a
             * changed configuration gets a new cache). */
            enum series_build b = series_build(c, &p, o, r->err, sizeof r->err);
            if (b == SERIES_INVALID) {
                rc = -1;
                break;
            }
            if ((e->dropped = b == SERIES_DROPPED))
                continue;
        }
        int64_t ts, st = 0;
        bool has_ts = cfg->honor_timestamps && textparse_timestamp(&p, &ts);
        /* The family's _created time as the sample's start (st-storage);
         * the look-ahead is paid only then. */
        if (o->store_st && !textparse_series_is_created(&p) &&
            !textparse_created_timestamp(&p, &st))
            st = 0;
        if (append_entry(app, c, e, has_ts ? ts : t_ms, textparse_value(&p), st, r->err,
                         sizeof r->err) < 0) {
            rc = -1;
            break;
        }
        r->samples_post++;
        if (cfg->sample_limit && r->samples_post > cfg->sample_limit) {
            snprintf(r->err, sizeof r->err, "sample limit exceeded");
            rc = -1;
            break;
        }
        e->tracked = !has_ts || cfg->track_timestamps_staleness;
        if (e->tracked && e->ref) {
            if (c->nseen == c->capseen) {
                c->capseen = c->capseen ? 2 * c->capseen : 256;
                c->seen_refs = xrealloc(c->seen_refs, c->capseen * sizeof *c->seen_refs);
            }
            c->seen_refs[c->nseen++] = e->ref;
        }
    }
    textparse_free(&p);
    if (rc == 0) {
        append_stale(app, c, t_ms, r);
        scrape_metadata_commit(&c->meta);
    }
    scrape_metadata_end(&c->meta);
    return rc;
}

void scrape_append_failed(struct tsdb_appender *app, struct scrape_cache *c, int64_t t_ms,
                          struct scrape_page_result *r)
{
    begin_attempt(c);
    append_stale(app, c, t_ms, r);
}

int scrape_append_report(struct tsdb_appender *app, struct scrape_cache *c,
                         const struct scrape_target *t, int64_t t_ms, bool up, double duration_s,
                         const struct scrape_page_result *r)
{
    ensure_tlabels(c, t);
    double v[N_REPORT] = {up ? 1 : 0, duration_s, (double)r->samples_scraped,
                          (double)r->samples_post, (double)r->series_added};
    for (int i = 0; i < N_REPORT; i++) {
        struct labels view = label_set_view(&c->report_lbls[i]);
        if (tsdb_append(app, &c->report_refs[i], c->report_refs[i] ? NULL : &view, t_ms, v[i]) < 0)
            return -1;
    }
    return 0;
}

void scrape_append_report_stale(struct tsdb_appender *app, struct scrape_cache *c, int64_t t_ms)
{
    for (int i = 0; i < N_REPORT; i++) {
        if (!c->report_refs[i])
            continue;
        tsdb_append(app, &c->report_refs[i], NULL, t_ms, stale_nan());
    }
}

/* Between scrapes the cache keeps its entries, the index and the page
 * order; this attempt's seen refs and the spare order array are scratch
 * (4-8 bytes a series each) and go. */
static void cache_scratch_free(struct scrape_cache *c)
{
    free(c->seen_refs);
    c->seen_refs = NULL;
    c->nseen = c->capseen = 0;
    free(c->next);
    c->next = NULL;
    c->nnext = c->capnext = 0;
}

void scrape_cache_iter_done(struct scrape_cache *c, bool ok)
{
    if (!ok) {
        cache_scratch_free(c);
        return;
    }
    for (uint32_t i = 0; i < c->tab.hw; i++) {
        struct scrape_centry *e = scrape_keytab_at(&c->tab, i);
        if (!e->used)
            continue;
        if (e->seen_iter != c->iter)
            scrape_keytab_remove(&c->tab, i);
        else
            e->prev_seen = e->tracked && !e->dropped;
    }
    uint32_t *t = c->order;
    size_t tcap = c->caporder;
    c->order = c->next;
    c->caporder = c->capnext;
    c->norder = c->nnext;
    c->next = t;
    c->capnext = tcap;
    cache_scratch_free(c);
    scrape_keytab_tidy(&c->tab, c->order, c->norder);
}
