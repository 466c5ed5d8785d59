/* metrics.h — Vigil's own metrics: a registry exposed on /metrics.
 *
 * Every module counts what it does through this one registry, which the
 * server renders in the Prometheus text exposition format 0.0.4.  A registry
 * holds families (a name, HELP text, a type and label names); a family holds
 * children, one per combination of label values.
 *
 * Threads: everything here may be called from any thread.  Registering a
 * family or a collector takes the registry's mutex; metric_family_with takes
 * the family's mutex (only to create a child).  Updates to a child
 * (metric_inc, metric_add, metric_set, metric_observe) are lock-free atomic
 * operations, so a hot path caches the struct metric pointer once and pays
 * one atomic op per update.
 *
 * Ownership: the registry owns its families, their children and the strings
 * copied into them.  Pointers it returns stay valid until
 * metrics_registry_free, which must not race with any other call. */
#ifndef VIGIL_UTIL_METRICS_H
#define VIGIL_UTIL_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/sbuf.h"

struct metrics_registry;
struct metric_family;
struct metric; /* one child of a family: one set of label values */

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM, METRIC_SUMMARY };

/* The Content-Type of what metrics_registry_write_text produces. */
#define METRICS_TEXT_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Prometheus's default histogram buckets: .005 .01 .025 .05 .1 .25 .5 1 2.5 5 10. */
#define METRICS_DEFAULT_NBUCKETS 11
extern const double METRICS_DEFAULT_BUCKETS[METRICS_DEFAULT_NBUCKETS];

struct metrics_registry *metrics_registry_new(void);
/* Frees families and children (not collector contexts); NULL is a no-op. */
void metrics_registry_free(struct metrics_registry *reg);

/* Registers a family.  name must match [a-zA-Z_:][a-zA-Z0-9_:]*; label_names
 * is a NULL-terminated array of names matching [a-zA-Z_][a-zA-Z0-9_]* and not
 * starting with "__" (or NULL for none), copied.  help may be NULL (no HELP
 * line).  Returns the family, owned by the registry, or NULL if the name is
 * already registered or a name is invalid.  A family without labels gets its
 * one child at once, so it is exposed (as 0) before its first update; a
 * labelled family is exposed once it has a child. */
struct metric_family *metrics_counter_new(struct metrics_registry *reg, const char *name,
                                          const char *help, const char *const *label_names);
struct metric_family *metrics_gauge_new(struct metrics_registry *reg, const char *name,
                                        const char *help, const char *const *label_names);
/* buckets: strictly ascending upper bounds without +Inf (a trailing +Inf is
 * dropped), copied; nbuckets may be 0.  A histogram may not have a label
 * named "le".  Returns NULL on the conditions above or unordered buckets. */
struct metric_family *metrics_histogram_new(struct metrics_registry *reg, const char *name,
                                            const char *help, const char *const *label_names,
                                            const double *buckets, size_t nbuckets);

/* A summary without quantile objectives: metric_observe adds to _sum and
 * _count, exposed as "# TYPE name summary".  (client_golang's objectives,
 * streamed quantiles over a sliding window, are not implemented.)  A
 * summary may not have a label named "quantile". */
struct metric_family *metrics_summary_new(struct metrics_registry *reg, const char *name,
                                          const char *help, const char *const *label_names);

/* Gets or creates the child for these label values: an array with one value
 * per label name of the family (a NULL element counts as ""), or NULL for a
 * family without labels.  Returns NULL only if a labelled family is given a
 * NULL array.  The pointer is stable for the registry's life: cache it. */
struct metric *metric_family_with(struct metric_family *f, const char *const *label_values);
enum metric_type metric_family_type(const struct metric_family *f);

/* Updates; each is one lock-free atomic operation (a compare-exchange loop
 * for doubles).  A call that does not fit the child's type is ignored. */
void metric_inc(struct metric *m);               /* counter or gauge: += 1 */
void metric_dec(struct metric *m);               /* gauge: -= 1 */
void metric_add(struct metric *m, double v);     /* counter: v >= 0 (else ignored); gauge: any */
void metric_set(struct metric *m, double v);     /* gauge; also a counter that mirrors an
                                                    externally kept total (collectors) */
void metric_observe(struct metric *m, double v); /* histogram or summary */

/* Counter or gauge value; for a histogram, its number of observations. */
double metric_value(const struct metric *m);
/* Histogram or summary (0 otherwise): sum of observations. */
double metric_histogram_sum(const struct metric *m);
/* Histogram only (0 otherwise): observations <= upper bound i; i ==
 * nbuckets is the +Inf bucket, i.e. the total count. */
uint64_t metric_histogram_cumulative(const struct metric *m, size_t i);

/* A collector runs right before each exposition, on the thread calling
 * metrics_registry_write_text, to refresh computed metrics (process_*).  It
 * may call any function here except metrics_registry_free and
 * metrics_registry_remove_collector.  Collector runs are serialised, so one
 * collector never runs twice at once. */
typedef void (*metrics_collect_fn)(void *ctx);
/* ctx is borrowed: it must stay valid until the collector is removed or the
 * registry freed. */
void metrics_registry_add_collector(struct metrics_registry *reg, metrics_collect_fn fn, void *ctx);
/* Removes the collector registered with this fn and ctx, waiting for a run
 * in progress to finish; afterwards ctx may be freed.  Unknown pairs are
 * ignored. */
void metrics_registry_remove_collector(struct metrics_registry *reg, metrics_collect_fn fn,
                                       void *ctx);

/* Runs the collectors, then appends the text exposition format 0.0.4 to out:
 * families sorted by name, each with "# HELP" (escaped \\ and \n) and "# TYPE"
 * lines; children sorted by label values (compared in label order); label
 * values escaped (\\ \" \n); histograms as cumulative _bucket{le="..."}
 * lines ending in le="+Inf", then _sum and _count.  Labels are written in
 * the order they were declared, "le" last.  Numbers are printed as Go's
 * strconv 'g' shortest form ("0.005", "1", "+Inf", "1e+06"). */
void metrics_registry_write_text(struct metrics_registry *reg, struct sbuf *out);

#endif
