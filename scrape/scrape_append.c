/* scrape_append.c — one scraped page into one appender batch: the scrape
 * cache, sample-label mutation (honor_labels / exported_), metric
 * relabeling, limits, staleness and the report series.  See
 * scrape_internal.h for the design; the rules follow Prometheus 3's
 * scrapeLoop.append, mutateSampleLabels, verifyLabelLimits and report.
 *
 * Memory.  The cache is the scrape side's cost per active series, so what
 * it keeps between scrapes is: one allocation per series (a 33-byte entry
 * with the raw key inline, no hash: see struct centry), the bucket array
 * and the page-order array (8 bytes a series each).  Label sets are freed
 * once storage has given the ref; the attempt's seen refs and the spare
 * order array are freed after each scrape, as the loop frees its body and
 * the appender its batch buffers (scrape.c, tsdb_append.c).  Measured with
 * bench/scrape.sh 30 50 2000 5 (100k active series), whole process RSS:
 * 998 B/series before (entries of 80 bytes plus a separate key, kept
 * bodies and appender buffers, mapped LMDB pages), 517 after, with
 * VictoriaMetrics at 1199 in the same run; CPU 0.83 -> 0.85 us/sample.
 * bench/scrape.sh 30 100 2000 5 after: Vigil 429, VictoriaMetrics 758,
 * Prometheus 2192 B/series (an earlier 60 s run before: 921, 726, 2288). */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "scrape/scrape_internal.h"

/* One cached series: a single allocation of 33 bytes plus the raw series
 * bytes (the key), which follow the header in place.  The label set is only
 * held until the tsdb has given the series a ref.  The key's hash is not
 * kept: a lookup compares length and bytes along a chain of ~1 entry, and
 * growing the table hashes the keys again (cache_insert). */
struct centry {
    struct centry *next;    /* hash chain */
    uint64_t ref;           /* 0 until the tsdb has given one */
    struct label_set *lbls; /* for the first append only: freed once ref is set */
    uint32_t seen_iter;     /* attempt that last saw it (compared for equality) */
    uint32_t keylen;
    bool dropped : 1;   /* by metric_relabel_configs */
    bool tracked : 1;   /* staleness tracked in the attempt seen_iter */
    bool prev_seen : 1; /* tracked in the last successful scrape */
    char key[];         /* raw series bytes, keylen of them, not NUL-terminated */
};

#define N_REPORT 5
static const char *const report_names[N_REPORT] = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
};

struct scrape_cache {
    struct centry **buckets;
    size_t nbuckets, n;
    uint32_t iter;
    struct centry **order; /* last good scrape's series, in page order */
    size_t norder, caporder;
    struct centry **next; /* this attempt's */
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
    c->nbuckets = 64;
    c->buckets = xcalloc(c->nbuckets, sizeof *c->buckets);
    return c;
}

static void centry_lbls_free(struct centry *e)
{
    if (!e->lbls)
        return;
    label_set_free(e->lbls);
    free(e->lbls);
    e->lbls = NULL;
}

static void centry_free(struct centry *e)
{
    centry_lbls_free(e);
    free(e);
}

void scrape_cache_free(struct scrape_cache *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nbuckets; i++)
        for (struct centry *e = c->buckets[i], *nx; e; e = nx) {
            nx = e->next;
            centry_free(e);
        }
    scrape_metadata_free(&c->meta);
    free(c->buckets);
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
    return c->n;
}

static struct centry *cache_lookup(struct scrape_cache *c, uint64_t h, const char *k, size_t len)
{
    for (struct centry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->next)
        if (e->keylen == len && memcmp(e->key, k, len) == 0)
            return e;
    return NULL;
}

static void cache_insert(struct scrape_cache *c, struct centry *e, uint64_t h)
{
    if (c->n + 1 > c->nbuckets) {
        size_t nb = c->nbuckets * 2;
        struct centry **b = xcalloc(nb, sizeof *b);
        for (size_t i = 0; i < c->nbuckets; i++)
            for (struct centry *x = c->buckets[i], *nx; x; x = nx) {
                nx = x->next;
                size_t bi = XXH3_64bits(x->key, x->keylen) & (nb - 1);
                x->next = b[bi];
                b[bi] = x;
            }
        free(c->buckets);
        c->buckets = b;
        c->nbuckets = nb;
    }
    e->next = c->buckets[h & (c->nbuckets - 1)];
    c->buckets[h & (c->nbuckets - 1)] = e;
    c->n++;
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

static void push_next(struct scrape_cache *c, struct centry *e)
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

/* A cache miss: decode, mutate, relabel, check; a new entry (not yet in the
 * table) or NULL with err. */
static struct centry *entry_build(struct scrape_cache *c, struct textparse *p,
                                  const struct scrape_page_opts *o, const char *raw, size_t rawlen,
                                  char *err, size_t errsize)
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
            return NULL;
        }
        label_set_setn(ls, c->lt[i].name, c->lt[i].value, c->lt[i].value_len);
    }
    mutate_labels(c, ls, o->cfg->honor_labels);
    if (rawlen > UINT32_MAX) {
        snprintf(err, errsize, "series of %zu bytes is too long", rawlen);
        return NULL;
    }
    struct centry *e = xcalloc(1, offsetof(struct centry, key) + rawlen);
    memcpy(e->key, raw, rawlen);
    e->keylen = (uint32_t)rawlen;
    if (!relabel_apply(o->metric_rules, ls) || ls->n == 0) {
        e->dropped = true;
        return e;
    }
    if (check_series(o->cfg, ls, err, errsize) < 0) {
        centry_free(e);
        return NULL;
    }
    e->lbls = xcalloc(1, sizeof *e->lbls);
    label_set_copy(e->lbls, ls);
    return e;
}

/* Storage reset the entry's ref (its series had no sample left and was
 * removed: tsdb_append): builds the label set again from this page's
 * line so the next append recreates the series.  0 or -1 with err. */
static int entry_labels_rebuild(struct scrape_cache *c, struct textparse *p,
                                const struct scrape_page_opts *o, struct centry *e, char *err,
                                size_t errsize)
{
    const char *raw;
    size_t rawlen;
    textparse_series(p, &raw, &rawlen);
    struct centry *fresh = entry_build(c, p, o, raw, rawlen, err, errsize);
    if (!fresh)
        return -1;
    e->lbls = fresh->lbls;
    fresh->lbls = NULL;
    centry_free(fresh);
    return 0;
}

static int append_entry(struct tsdb_appender *app, struct centry *e, int64_t t, double v,
                        int64_t st, char *err, size_t errsize)
{
    struct labels view = e->lbls ? label_set_view(e->lbls) : (struct labels){0};
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
 * attempt (by ref, so two raw spellings of one series count once). */
static void append_stale(struct tsdb_appender *app, struct scrape_cache *c, int64_t t,
                         struct scrape_page_result *r)
{
    if (c->nseen > 1)
        qsort(c->seen_refs, c->nseen, sizeof *c->seen_refs, cmp_u64);
    char err[256];
    for (size_t b = 0; b < c->nbuckets; b++)
        for (struct centry *e = c->buckets[b]; e; e = e->next) {
            if (!e->prev_seen || (e->seen_iter == c->iter && e->tracked))
                continue;
            if (!e->ref && !e->lbls)
                continue; /* its series was removed from storage: nothing to mark */
            if (e->ref && c->nseen &&
                bsearch(&e->ref, c->seen_refs, c->nseen, sizeof *c->seen_refs, cmp_u64))
                continue;
            if (append_entry(app, e, t, stale_nan(), 0, err, sizeof err) == 0)
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
        const char *raw;
        size_t rawlen;
        textparse_series(&p, &raw, &rawlen);
        struct centry *e = NULL;
        if (pos < c->norder && c->order[pos]->keylen == rawlen &&
            memcmp(c->order[pos]->key, raw, rawlen) == 0) {
            e = c->order[pos]; /* the in-order prediction held */
        } else {
            uint64_t h = XXH3_64bits(raw, rawlen);
            e = cache_lookup(c, h, raw, rawlen);
            if (!e) {
                e = entry_build(c, &p, o, raw, rawlen, r->err, sizeof r->err);
                if (!e) {
                    rc = -1;
                    break;
                }
                cache_insert(c, e, h);
                if (!e->dropped)
                    r->series_added++;
            }
        }
        pos++;
        push_next(c, e);
        e->seen_iter = c->iter;
        if (e->dropped)
            continue;
        if (!e->ref && !e->lbls && entry_labels_rebuild(c, &p, o, e, r->err, sizeof r->err) < 0) {
            rc = -1;
            break;
        }
        int64_t ts, st = 0;
        bool has_ts = cfg->honor_timestamps && textparse_timestamp(&p, &ts);
        /* The family's _created time as the sample's start (st-storage);
         * the look-ahead is paid only then. */
        if (o->store_st && !textparse_series_is_created(&p) &&
            !textparse_created_timestamp(&p, &st))
            st = 0;
        if (append_entry(app, e, has_ts ? ts : t_ms, textparse_value(&p), st, r->err,
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

/* Between scrapes the cache keeps its entries, the table and the page
 * order; this attempt's seen refs and the spare order array are scratch
 * (8 bytes a series each) and go. */
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
    for (size_t b = 0; b < c->nbuckets; b++) {
        struct centry **pp = &c->buckets[b];
        while (*pp) {
            struct centry *e = *pp;
            if (e->seen_iter != c->iter) {
                *pp = e->next;
                centry_free(e);
                c->n--;
                continue;
            }
            e->prev_seen = e->tracked && !e->dropped;
            /* Once storage has given the series a ref (refs never change),
             * its label set is never needed again: the memory per cached
             * series is then the raw key and a few words. */
            if (e->ref)
                centry_lbls_free(e);
            pp = &e->next;
        }
    }
    struct centry **t = c->order;
    size_t tcap = c->caporder;
    c->order = c->next;
    c->caporder = c->capnext;
    c->norder = c->nnext;
    c->next = t;
    c->capnext = tcap;
    cache_scratch_free(c);
}
