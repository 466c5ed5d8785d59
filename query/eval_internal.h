/* eval_internal.h — what the evaluator's files (eval.c, eval_binop.c,
 * eval_agg.c, eval_func.c, result_json.c) share; not for other modules.
 *
 * Values during evaluation live in arenas: the query arena (preloaded
 * series, step-invariant results, the final result) and one step arena per
 * outer evaluation step, freed when the step's output has been merged into
 * the result.  Label sets are immutable once built and may be shared by any
 * number of samples.  Errors unwind with longjmp to the entry point; only
 * arena memory is live at that moment, so nothing leaks. */
#ifndef VIGIL_QUERY_EVAL_INTERNAL_H
#define VIGIL_QUERY_EVAL_INTERNAL_H

#include <setjmp.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "query/promql.h"

struct tsdb;

/* One sample of an instant vector. t is the sample's own timestamp when it
 * comes straight from a selector (timestamp() reads it), else the
 * evaluation time.  drop: the metric name is to be removed at the end
 * (delayed name removal, as Prometheus's runner enables it). */
struct ev_sample {
    struct labels ls;
    double v;
    int64_t t;
    bool drop;
    uint32_t sid; /* the label set's identity (see below), 0 if none */
};

/* One series of a range vector: the points in the window, stale markers
 * already removed.  st: the points' start timestamps (0 where none), only
 * straight from a selector with use_start_timestamps and a series that has
 * some; NULL otherwise (expressions and subqueries cut them off, as in
 * Prometheus). */
struct ev_series {
    struct labels ls;
    const int64_t *t;
    const double *v;
    size_t n;
    bool drop;
    uint32_t sid;
    const int64_t *st;
};

/* Label set identities (sid).  A label set that lives as long as the query
 * — a selector's series, an aggregation group's labels — gets a number
 * (ev_sid_new), and samples that carry it unchanged carry the number too,
 * so that what is worked out from labels (an aggregation group, a result
 * series) is looked up by number at the next step instead of by building
 * and hashing a key.  Equal sids mean equal label sets (not the converse:
 * lookups by sid fall back to the key once per sid).  Whoever changes a
 * sample's labels must clear its sid; positional initializers leave it 0,
 * which is always correct, only slower. */

struct ev_value {
    enum promql_type type;
    double scalar;
    const char *str;
    size_t slen;
    struct ev_sample *s; /* PROMQL_VECTOR */
    size_t n;
    struct ev_series *m; /* PROMQL_MATRIX */
    size_t nm;
    int64_t mint, maxt; /* the window (mint, maxt] of a matrix */
};

/* Per-node facts computed before evaluation. */
struct ev_node {
    const struct promql_expr *e;
    bool invariant; /* same value at every step (@ pinned, literals) */
    bool cached;    /* val holds the value (invariant nodes) */
    struct ev_value val;
    int64_t range_ms, step_ms, offset_ms; /* resolved durations */
    /* preloaded series of a vector selector (also for matrix selectors) */
    bool loaded;
    int64_t load_mint, load_maxt;
    struct ev_series *series;
    size_t nseries;
    /* info(): the @ time (at_set) of the selector whose time the info
     * series are read at; offset_ms holds its offset */
    bool at_set;
    int64_t at_ms;
    /* selectors: per preloaded series the window of the last step, which
     * the next (later) step slides forward instead of searching anew;
     * cur_t is the last reference time, cur_lo/cur_hi first/last index */
    bool cur_valid;
    int64_t cur_t;
    size_t *cur_lo, *cur_hi;
    /* aggregations: groups remembered by input sid (eval_agg.c) */
    struct ev_agg_cache *agg;
};

struct evaluator {
    struct tsdb *db;
    struct promql_arena *qa;      /* query arena */
    struct promql_arena *a;       /* where new values go: qa or the step arena */
    int64_t start, end, interval; /* the query; interval 0 for instant */
    int64_t lookback_ms, default_step_ms;
    size_t max_samples;
    const volatile int *cancel;
    int64_t deadline_ns; /* CLOCK_MONOTONIC; 0 = none */
    struct ev_node *nodes;
    size_t nnodes, capnodes;
    char *err;
    size_t errsz;
    jmp_buf jb;
    struct promql_result *res; /* for annotations */
    const char *query;         /* text, for annotation positions */
    size_t step_index;         /* of the outer step being evaluated */
    bool delayed_name_removal; /* promql_eval_opts.delayed_name_removal */
    bool use_st;               /* promql_eval_opts.use_start_timestamps */
    uint32_t nsids;            /* label set identities handed out */
};

_Noreturn void ev_fail(struct evaluator *ev, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void ev_warn(struct evaluator *ev, bool info, const struct promql_expr *at, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* ev_warn at a query offset rather than at a node's start. */
void ev_warn_pos(struct evaluator *ev, bool info, uint32_t pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
struct ev_node *ev_node_get(struct evaluator *ev, const struct promql_expr *e);
struct ev_value ev_eval(struct evaluator *ev, const struct promql_expr *e, int64_t ts);
void *ev_alloc(struct evaluator *ev, size_t n);
/* A new label set identity (never 0). */
uint32_t ev_sid_new(struct evaluator *ev);
void ev_check_samples(struct evaluator *ev, size_t n);
/* Counts n samples read by a selector at the current step (statistics). */
void ev_count_samples(struct evaluator *ev, size_t n);

/* labels in the current arena */
const char *lbl_get(const struct labels *ls, const char *name);
int lbl_cmp(const struct labels *a, const struct labels *b);
struct labels lbl_copy(struct promql_arena *a, const struct labels *ls);
struct labels lbl_set(struct promql_arena *a, const struct labels *ls, const char *name,
                      const char *value);
struct labels lbl_del(struct promql_arena *a, const struct labels *ls, const char *const *names,
                      size_t n, bool also_name);
struct labels lbl_keep(struct promql_arena *a, const struct labels *ls, const char *const *names,
                       size_t n);
struct labels lbl_drop_name(struct promql_arena *a, const struct labels *ls);
/* Appends the canonical byte form (name 0xFF value 0xFF ...). */
void lbl_key(const struct labels *ls, struct sbuf *b);
/* Prometheus's Labels.String(): {a="b", c="d"} */
void lbl_string(const struct labels *ls, struct sbuf *b);

/* A string-keyed map to indices (open addressing, FNV-1a), in an arena. */
struct strmap {
    struct promql_arena *a;
    const char **keys;
    size_t *klen;
    size_t *vals;
    size_t cap, n;
};
void strmap_init(struct strmap *m, struct promql_arena *a, size_t hint);
/* Returns a pointer to the value slot; *found tells whether it existed. */
size_t *strmap_put(struct strmap *m, const char *k, size_t klen, bool *found);
size_t *strmap_get(const struct strmap *m, const char *k, size_t klen);

/* Reads the series matching ms over [n->load_mint, n->load_maxt] into n
 * (query arena, sorted by labels; stale markers dropped if drop_stale). */
void ev_load_series(struct evaluator *ev, struct ev_node *n, const struct label_matcher *ms,
                    size_t nms, bool drop_stale);
/* The time an @ modifier stands for. */
int64_t ev_resolve_at(const struct evaluator *ev, const struct promql_time_mods *m);
/* Index of the last sample with t <= ref, or -1. */
ptrdiff_t ev_last_at_or_before(const int64_t *t, size_t n, int64_t ref);
/* start_timestamp() of the vector selector e at ts: each selected sample's
 * start timestamp in seconds (0 where it has none), metric names to be
 * dropped. */
struct ev_value ev_selector_start_timestamps(struct evaluator *ev, const struct promql_expr *e,
                                             int64_t ts);

/* info() (eval_info.c): reading the info series before the first step,
 * and the enrichment at each step. */
void ev_info_prepare(struct evaluator *ev, const struct promql_expr *e, int64_t mint, int64_t maxt);
struct ev_value ev_info(struct evaluator *ev, const struct promql_expr *e, int64_t ts);

/* e without enclosing parentheses. */
const struct promql_expr *ev_unparen(const struct promql_expr *e);

/* anchored / smoothed ranges (eval_extended.c).  s is the slice a matrix
 * selector with the modifier hands out, (start, end] its window. */
bool ev_extended_rate(const struct ev_series *s, int64_t start, int64_t end, bool smoothed,
                      bool counter, bool rate, double *out);
/* The index of the anchor sample (the newest at or before start, else the
 * first); false when no sample lies inside the window. */
bool ev_anchor_index(const struct ev_series *s, int64_t start, size_t *first);
/* The points of an extended selector's result, with synthetic ones at
 * start and end; out has room for s->n + 2.  Returns the count. */
size_t ev_extend_points(const struct ev_series *s, int64_t start, int64_t end, bool smoothed,
                        struct promql_point *out);

/* The parts of evaluation in other files. */
struct ev_value ev_binary(struct evaluator *ev, const struct promql_expr *e, int64_t ts);
struct ev_value ev_aggregate(struct evaluator *ev, const struct promql_expr *e, int64_t ts);
struct ev_value ev_call(struct evaluator *ev, const struct promql_expr *e, int64_t ts);
double ev_binop_float(enum promql_op op, double l, double r, bool *keep);

/* Prometheus's kahanSumInc. */
static inline double kahan_inc(double inc, double sum, double *c)
{
    double t = sum + inc;
    if (__builtin_isinf(t))
        *c = 0;
    else if (__builtin_fabs(sum) >= __builtin_fabs(inc))
        *c += (sum - t) + inc;
    else
        *c += (inc - t) + sum;
    return t;
}

#endif
