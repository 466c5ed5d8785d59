/* metrics.c — the metrics registry and its text exposition.
 *
 * Layout: the registry keeps its families in an array sorted by name; each
 * family keeps its children in an array sorted by label values.  Both arrays
 * only grow (nothing is ever unregistered), so exposition is a merge-free walk
 * and a lookup is a binary search.  Children are allocated one by one and
 * never move, which is what lets callers cache a struct metric pointer.
 *
 * Values: a counter or gauge is a double kept as its bit pattern in an
 * _Atomic uint64_t, so set is one atomic store and add is a compare-exchange
 * loop — no lock on the hot path.  A histogram child keeps one atomic count
 * per bucket (not cumulative, so an observation touches one counter) plus the
 * +Inf bucket, and its sum as atomic double bits.  Its _count is not stored:
 * exposition derives it from the bucket counts, so _count always equals the
 * +Inf bucket even while observations race with a scrape (_sum may lag or
 * lead by the observations in flight, as with any lock-free histogram).
 *
 * Locks: reg->mu guards the family array and the collector list; f->mu
 * guards one family's child array.  Order is reg->mu before f->mu.
 * reg->collect_mu serialises collector runs (and collector removal, so that
 * after removal the context is no longer in use); it is taken before either
 * of the others, and collectors run with neither held, so a collector may
 * register families or create children. */
#include "util/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

const double METRICS_DEFAULT_BUCKETS[METRICS_DEFAULT_NBUCKETS] = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

struct metric {
    struct metric_family *family; /* back pointer, for the type and bounds */
    char **values;                /* family->nlabels owned strings */
    _Atomic uint64_t bits;        /* counter/gauge value, or histogram sum (double bits) */
    _Atomic uint64_t *buckets;    /* histogram: nbounds + 1 per-bucket counts; else NULL */
};

struct metric_family {
    char *name;
    char *help; /* NULL: no HELP line */
    enum metric_type type;
    char **label_names;
    size_t nlabels;
    double *bounds; /* histogram upper bounds, ascending, without +Inf */
    size_t nbounds;
    pthread_mutex_t mu; /* guards children, nchildren, cap */
    struct metric **children;
    size_t nchildren, cap;
};

struct collector {
    metrics_collect_fn fn;
    void *ctx; /* borrowed */
};

struct metrics_registry {
    pthread_mutex_t mu; /* guards families and collectors */
    struct metric_family **families;
    size_t nfamilies, fcap;
    struct collector *collectors;
    size_t ncollectors, ccap;
    pthread_mutex_t collect_mu; /* serialises collector runs */
};

/* ---- doubles in atomics ---- */

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, sizeof d);
    return d;
}

static void atomic_double_add(_Atomic uint64_t *p, double v)
{
    uint64_t old = atomic_load_explicit(p, memory_order_relaxed);
    uint64_t upd;
    do {
        upd = double_bits(bits_double(old) + v);
    } while (!atomic_compare_exchange_weak_explicit(p, &old, upd, memory_order_relaxed,
                                                    memory_order_relaxed));
}

static double atomic_double_load(const _Atomic uint64_t *p)
{
    return bits_double(atomic_load_explicit((_Atomic uint64_t *)p, memory_order_relaxed));
}

/* ---- name validation ---- */

static bool name_char_ok(char c, bool first, bool colon_ok)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
        return true;
    if (c == ':')
        return colon_ok;
    return !first && c >= '0' && c <= '9';
}

static bool name_valid(const char *s, bool colon_ok)
{
    if (!s || !*s)
        return false;
    for (size_t i = 0; s[i]; i++)
        if (!name_char_ok(s[i], i == 0, colon_ok))
            return false;
    return true;
}

static bool label_names_valid(const char *const *names, enum metric_type type)
{
    for (size_t i = 0; names && names[i]; i++) {
        if (!name_valid(names[i], false) || strncmp(names[i], "__", 2) == 0)
            return false;
        if (type == METRIC_HISTOGRAM && strcmp(names[i], "le") == 0)
            return false;
        if (type == METRIC_SUMMARY && strcmp(names[i], "quantile") == 0)
            return false;
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return false;
    }
    return true;
}

/* Bounds must be strictly ascending and not NaN; a trailing +Inf is fine
 * (the caller drops it). */
static bool bounds_valid(const double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(b[i]))
            return false;
        if (i > 0 && !(b[i] > b[i - 1]))
            return false;
    }
    return true;
}

/* ---- children ---- */

/* Histograms and summaries count observations (a summary as a histogram
 * without bounds: one bucket, the count). */
static bool type_observes(enum metric_type t)
{
    return t == METRIC_HISTOGRAM || t == METRIC_SUMMARY;
}

static int values_cmp(const struct metric_family *f, char *const *a, const char *const *b)
{
    for (size_t i = 0; i < f->nlabels; i++) {
        int c = strcmp(a[i], b[i] ? b[i] : "");
        if (c != 0)
            return c;
    }
    return 0;
}

static struct metric *metric_new(struct metric_family *f, const char *const *values)
{
    struct metric *m = xcalloc(1, sizeof *m);
    m->family = f;
    m->values = xcalloc(f->nlabels ? f->nlabels : 1, sizeof *m->values);
    for (size_t i = 0; i < f->nlabels; i++)
        m->values[i] = xstrdup(values[i] ? values[i] : "");
    atomic_init(&m->bits, double_bits(0));
    if (type_observes(f->type)) {
        m->buckets = xcalloc(f->nbounds + 1, sizeof *m->buckets);
        for (size_t i = 0; i <= f->nbounds; i++)
            atomic_init(&m->buckets[i], 0);
    }
    return m;
}

static void metric_free(struct metric *m, size_t nlabels)
{
    for (size_t i = 0; i < nlabels; i++)
        free(m->values[i]);
    free(m->values);
    free((void *)m->buckets);
    free(m);
}

/* Index of the child with these values, or where it would be inserted;
 * *found says which.  Caller holds f->mu. */
static size_t family_child_search(const struct metric_family *f, const char *const *values,
                                  bool *found)
{
    size_t lo = 0, hi = f->nchildren;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = values_cmp(f, f->children[mid]->values, values);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

/* Caller holds f->mu (or f is not yet shared). */
static struct metric *family_child_insert(struct metric_family *f, size_t at,
                                          const char *const *values)
{
    if (f->nchildren == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4;
        f->children = xrealloc(f->children, f->cap * sizeof *f->children);
    }
    memmove(&f->children[at + 1], &f->children[at], (f->nchildren - at) * sizeof *f->children);
    f->children[at] = metric_new(f, values);
    f->nchildren++;
    return f->children[at];
}

struct metric *metric_family_with(struct metric_family *f, const char *const *label_values)
{
    if (!f || (f->nlabels > 0 && !label_values))
        return NULL;
    pthread_mutex_lock(&f->mu);
    bool found;
    size_t at = family_child_search(f, label_values, &found);
    struct metric *m = found ? f->children[at] : family_child_insert(f, at, label_values);
    pthread_mutex_unlock(&f->mu);
    return m;
}

enum metric_type metric_family_type(const struct metric_family *f)
{
    return f->type;
}

/* ---- families ---- */

static struct metric_family *family_new(const char *name, const char *help,
                                        const char *const *label_names, enum metric_type type,
                                        const double *bounds, size_t nbounds)
{
    struct metric_family *f = xcalloc(1, sizeof *f);
    f->name = xstrdup(name);
    f->help = help ? xstrdup(help) : NULL;
    f->type = type;
    while (label_names && label_names[f->nlabels])
        f->nlabels++;
    f->label_names = xcalloc(f->nlabels ? f->nlabels : 1, sizeof *f->label_names);
    for (size_t i = 0; i < f->nlabels; i++)
        f->label_names[i] = xstrdup(label_names[i]);
    if (nbounds > 0 && isinf(bounds[nbounds - 1]) && bounds[nbounds - 1] > 0)
        nbounds--;
    f->bounds = xcalloc(nbounds ? nbounds : 1, sizeof *f->bounds);
    if (nbounds > 0)
        memcpy(f->bounds, bounds, nbounds * sizeof *bounds);
    f->nbounds = nbounds;
    pthread_mutex_init(&f->mu, NULL);
    if (f->nlabels == 0)
        family_child_insert(f, 0, NULL);
    return f;
}

static void family_free(struct metric_family *f)
{
    for (size_t i = 0; i < f->nchildren; i++)
        metric_free(f->children[i], f->nlabels);
    free(f->children);
    for (size_t i = 0; i < f->nlabels; i++)
        free(f->label_names[i]);
    free(f->label_names);
    free(f->bounds);
    free(f->help);
    free(f->name);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

/* Index of the family called name, or its insertion point.  Caller holds
 * reg->mu. */
static size_t registry_family_search(const struct metrics_registry *reg, const char *name,
                                     bool *found)
{
    size_t lo = 0, hi = reg->nfamilies;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(reg->families[mid]->name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

static struct metric_family *registry_family_add(struct metrics_registry *reg, const char *name,
                                                 const char *help, const char *const *label_names,
                                                 enum metric_type type, const double *bounds,
                                                 size_t nbounds)
{
    if (!reg || !name_valid(name, true) || !label_names_valid(label_names, type) ||
        (nbounds > 0 && !bounds) || !bounds_valid(bounds, nbounds))
        return NULL;
    pthread_mutex_lock(&reg->mu);
    bool found;
    size_t at = registry_family_search(reg, name, &found);
    if (found) {
        pthread_mutex_unlock(&reg->mu);
        return NULL;
    }
    struct metric_family *f = family_new(name, help, label_names, type, bounds, nbounds);
    if (reg->nfamilies == reg->fcap) {
        reg->fcap = reg->fcap ? reg->fcap * 2 : 16;
        reg->families = xrealloc(reg->families, reg->fcap * sizeof *reg->families);
    }
    memmove(&reg->families[at + 1], &reg->families[at],
            (reg->nfamilies - at) * sizeof *reg->families);
    reg->families[at] = f;
    reg->nfamilies++;
    pthread_mutex_unlock(&reg->mu);
    return f;
}

struct metric_family *metrics_counter_new(struct metrics_registry *reg, const char *name,
                                          const char *help, const char *const *label_names)
{
    return registry_family_add(reg, name, help, label_names, METRIC_COUNTER, NULL, 0);
}

struct metric_family *metrics_gauge_new(struct metrics_registry *reg, const char *name,
                                        const char *help, const char *const *label_names)
{
    return registry_family_add(reg, name, help, label_names, METRIC_GAUGE, NULL, 0);
}

struct metric_family *metrics_histogram_new(struct metrics_registry *reg, const char *name,
                                            const char *help, const char *const *label_names,
                                            const double *buckets, size_t nbuckets)
{
    return registry_family_add(reg, name, help, label_names, METRIC_HISTOGRAM, buckets, nbuckets);
}

struct metric_family *metrics_summary_new(struct metrics_registry *reg, const char *name,
                                          const char *help, const char *const *label_names)
{
    return registry_family_add(reg, name, help, label_names, METRIC_SUMMARY, NULL, 0);
}

/* ---- registry ---- */

struct metrics_registry *metrics_registry_new(void)
{
    struct metrics_registry *reg = xcalloc(1, sizeof *reg);
    pthread_mutex_init(&reg->mu, NULL);
    pthread_mutex_init(&reg->collect_mu, NULL);
    return reg;
}

void metrics_registry_free(struct metrics_registry *reg)
{
    if (!reg)
        return;
    free(reg->collectors);
    for (size_t i = 0; i < reg->nfamilies; i++)
        family_free(reg->families[i]);
    free(reg->families);
    pthread_mutex_destroy(&reg->mu);
    pthread_mutex_destroy(&reg->collect_mu);
    free(reg);
}

void metrics_registry_add_collector(struct metrics_registry *reg, metrics_collect_fn fn, void *ctx)
{
    pthread_mutex_lock(&reg->mu);
    if (reg->ncollectors == reg->ccap) {
        reg->ccap = reg->ccap ? reg->ccap * 2 : 4;
        reg->collectors = xrealloc(reg->collectors, reg->ccap * sizeof *reg->collectors);
    }
    reg->collectors[reg->ncollectors++] = (struct collector){fn, ctx};
    pthread_mutex_unlock(&reg->mu);
}

/* Holding collect_mu means no collector is running, so once this returns
 * nothing calls fn(ctx) again. */
void metrics_registry_remove_collector(struct metrics_registry *reg, metrics_collect_fn fn,
                                       void *ctx)
{
    pthread_mutex_lock(&reg->collect_mu);
    pthread_mutex_lock(&reg->mu);
    for (size_t i = 0; i < reg->ncollectors; i++) {
        if (reg->collectors[i].fn == fn && reg->collectors[i].ctx == ctx) {
            memmove(&reg->collectors[i], &reg->collectors[i + 1],
                    (reg->ncollectors - i - 1) * sizeof *reg->collectors);
            reg->ncollectors--;
            break;
        }
    }
    pthread_mutex_unlock(&reg->mu);
    pthread_mutex_unlock(&reg->collect_mu);
}

/* Runs every collector with no registry lock held (a collector may create
 * children or register families); collect_mu keeps two scrapes from
 * running the same collector at once. */
static void registry_collectors_run(struct metrics_registry *reg)
{
    pthread_mutex_lock(&reg->collect_mu);
    pthread_mutex_lock(&reg->mu);
    size_t n = reg->ncollectors;
    struct collector *snap = xcalloc(n ? n : 1, sizeof *snap);
    if (n > 0)
        memcpy(snap, reg->collectors, n * sizeof *snap);
    pthread_mutex_unlock(&reg->mu);
    for (size_t i = 0; i < n; i++)
        snap[i].fn(snap[i].ctx);
    free(snap);
    pthread_mutex_unlock(&reg->collect_mu);
}

/* ---- updates ---- */

void metric_inc(struct metric *m)
{
    metric_add(m, 1);
}

void metric_dec(struct metric *m)
{
    if (m && m->family->type == METRIC_GAUGE)
        atomic_double_add(&m->bits, -1);
}

void metric_add(struct metric *m, double v)
{
    if (!m || type_observes(m->family->type))
        return;
    if (m->family->type == METRIC_COUNTER && !(v >= 0))
        return;
    atomic_double_add(&m->bits, v);
}

void metric_set(struct metric *m, double v)
{
    if (!m || type_observes(m->family->type))
        return;
    atomic_store_explicit(&m->bits, double_bits(v), memory_order_relaxed);
}

/* First bucket whose upper bound is >= v; nbounds (+Inf) for larger or NaN. */
static size_t histogram_bucket_index(const struct metric_family *f, double v)
{
    size_t lo = 0, hi = f->nbounds;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (f->bounds[mid] >= v)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

void metric_observe(struct metric *m, double v)
{
    if (!m || !type_observes(m->family->type))
        return;
    size_t i = histogram_bucket_index(m->family, v);
    atomic_fetch_add_explicit(&m->buckets[i], 1, memory_order_relaxed);
    atomic_double_add(&m->bits, v);
}

uint64_t metric_histogram_cumulative(const struct metric *m, size_t i)
{
    if (!m || !type_observes(m->family->type))
        return 0;
    if (i > m->family->nbounds)
        i = m->family->nbounds;
    uint64_t n = 0;
    for (size_t j = 0; j <= i; j++)
        n += atomic_load_explicit(&m->buckets[j], memory_order_relaxed);
    return n;
}

double metric_histogram_sum(const struct metric *m)
{
    if (!m || !type_observes(m->family->type))
        return 0;
    return atomic_double_load(&m->bits);
}

double metric_value(const struct metric *m)
{
    if (!m)
        return 0;
    if (type_observes(m->family->type))
        return (double)metric_histogram_cumulative(m, m->family->nbounds);
    return atomic_double_load(&m->bits);
}

/* ---- exposition ---- */

/* Escapes \ and newline, and " too when quoted (label values). */
static void text_put_escaped(struct sbuf *out, const char *s, bool quoted)
{
    for (; *s; s++) {
        if (*s == '\\')
            sbuf_puts(out, "\\\\");
        else if (*s == '\n')
            sbuf_puts(out, "\\n");
        else if (*s == '"' && quoted)
            sbuf_puts(out, "\\\"");
        else
            sbuf_putc(out, *s);
    }
}

/* Go's writeFloat prints both zeros as "0". */
static void text_put_float(struct sbuf *out, double v)
{
    if (v == 0)
        sbuf_putc(out, '0');
    else
        sbuf_put_float(out, v);
}

/* name+suffix{labels[,le="bound"]} value\n */
static void text_put_sample(struct sbuf *out, const struct metric *m, const char *suffix,
                            const double *le, double value)
{
    const struct metric_family *f = m->family;
    sbuf_puts(out, f->name);
    sbuf_puts(out, suffix);
    if (f->nlabels > 0 || le) {
        char sep = '{';
        for (size_t i = 0; i < f->nlabels; i++, sep = ',') {
            sbuf_putc(out, sep);
            sbuf_puts(out, f->label_names[i]);
            sbuf_puts(out, "=\"");
            text_put_escaped(out, m->values[i], true);
            sbuf_putc(out, '"');
        }
        if (le) {
            sbuf_putc(out, sep);
            sbuf_puts(out, "le=\"");
            text_put_float(out, *le);
            sbuf_putc(out, '"');
        }
        sbuf_putc(out, '}');
    }
    sbuf_putc(out, ' ');
    text_put_float(out, value);
    sbuf_putc(out, '\n');
}

static void text_put_histogram(struct sbuf *out, const struct metric *m)
{
    const struct metric_family *f = m->family;
    if (f->type == METRIC_SUMMARY) {
        uint64_t n = atomic_load_explicit(&m->buckets[0], memory_order_relaxed);
        text_put_sample(out, m, "_sum", NULL, atomic_double_load(&m->bits));
        text_put_sample(out, m, "_count", NULL, (double)n);
        return;
    }
    /* _count is the running total of the buckets, so it always equals the
     * +Inf bucket; _sum is read apart and may differ by observations in
     * flight. */
    double sum = atomic_double_load(&m->bits);
    uint64_t cum = 0;
    for (size_t i = 0; i <= f->nbounds; i++) {
        cum += atomic_load_explicit(&m->buckets[i], memory_order_relaxed);
        double le = i < f->nbounds ? f->bounds[i] : INFINITY;
        text_put_sample(out, m, "_bucket", &le, (double)cum);
    }
    text_put_sample(out, m, "_sum", NULL, sum);
    text_put_sample(out, m, "_count", NULL, (double)cum);
}

static const char *metric_type_name(enum metric_type t)
{
    switch (t) {
    case METRIC_COUNTER:
        return "counter";
    case METRIC_GAUGE:
        return "gauge";
    case METRIC_HISTOGRAM:
        return "histogram";
    case METRIC_SUMMARY:
        return "summary";
    }
    return "untyped";
}

/* Caller holds reg->mu; takes f->mu. */
static void text_put_family(struct sbuf *out, struct metric_family *f)
{
    pthread_mutex_lock(&f->mu);
    if (f->nchildren == 0) {
        pthread_mutex_unlock(&f->mu);
        return; /* like client_golang: a family with no children is not exposed */
    }
    if (f->help) {
        sbuf_printf(out, "# HELP %s ", f->name);
        text_put_escaped(out, f->help, false);
        sbuf_putc(out, '\n');
    }
    sbuf_printf(out, "# TYPE %s %s\n", f->name, metric_type_name(f->type));
    for (size_t i = 0; i < f->nchildren; i++) {
        const struct metric *m = f->children[i];
        if (type_observes(f->type))
            text_put_histogram(out, m);
        else
            text_put_sample(out, m, "", NULL, atomic_double_load(&m->bits));
    }
    pthread_mutex_unlock(&f->mu);
}

void metrics_registry_write_text(struct metrics_registry *reg, struct sbuf *out)
{
    registry_collectors_run(reg);
    pthread_mutex_lock(&reg->mu);
    for (size_t i = 0; i < reg->nfamilies; i++)
        text_put_family(out, reg->families[i]);
    pthread_mutex_unlock(&reg->mu);
}
