/* rules_internal.h — alerting-internal: rule groups, rules and alerts, shared
 * by the evaluator (rule_group.c, alert_rule.c), the scheduler
 * (rules_manager.c) and the unit-test runner (rules_unittest.c).
 *
 * A group is built from one group of a loaded rule file and owns
 * everything in it.  Its evaluation (rule_group_eval) is synchronous and
 * runs on one thread at a time; the scheduler calls it on a worker, the
 * unit-test runner directly.  Mutable state read by the API (health, last
 * error, alerts) changes only under the group's lock. */
#ifndef VIGIL_ALERTING_RULES_INTERNAL_H
#define VIGIL_ALERTING_RULES_INTERNAL_H

#include <pthread.h>

#include "alerting/rules.h"
#include "scrape/relabel.h" /* struct label_set */

/* Alerts resolved this long ago are forgotten (Prometheus's resolvedRetention). */
#define ALERT_RESOLVED_RETENTION_MS (15 * 60 * 1000)

/* A set of label sets keyed by their hash, sorted by hash: a rule's output
 * series of its last evaluation (for staleness markers), an alerting rule's
 * alerts. */
struct series_entry {
    uint64_t hash;
    struct label_set ls; /* owned */
};
struct series_set_map {
    struct series_entry *v;
    size_t n, cap;
};
uint64_t labels_hash(const struct labels *ls);
/* Index of hash, or -1. */
long series_set_map_find(const struct series_set_map *m, uint64_t hash);
/* Takes ownership of ls's strings (ls is left empty); false if hash was there. */
bool series_set_map_add(struct series_set_map *m, uint64_t hash, struct label_set *ls);
void series_set_map_free(struct series_set_map *m);

struct alert {
    struct label_set labels, annotations; /* owned */
    uint64_t hash;                        /* of labels */
    enum alert_state state;
    double value;
    /* ms; 0 = the zero time */
    int64_t active_at, fired_at, resolved_at, last_sent_at, valid_until, keep_firing_since;
};

/* Alerts by label hash, sorted by it; owns the alerts. */
struct alert_map {
    struct alert **v;
    size_t n, cap;
};

struct rule {
    bool alerting;
    char *name;  /* record or alert */
    char *query; /* the expression as Prometheus prints it */
    struct promql_arena *arena;
    const struct promql_expr *expr;
    struct label_set labels;      /* the group's labels, overridden by the rule's */
    struct label_set annotations; /* alerting rules */
    int64_t for_ms, keep_firing_for_ms;
    /* Under the group's lock. */
    enum rule_health health;
    char *last_error; /* owned; NULL when none */
    double eval_seconds;
    int64_t last_eval_ms;
    struct alert_map alerts; /* the active map */
    bool restored;           /* ALERTS series are written only once for-state is restored */
    /* Only the evaluating thread. */
    struct series_set_map prev; /* series written at the last evaluation */
};

/* What every group evaluates with; pointers borrowed from the manager,
 * which outlives its groups. */
struct rule_env {
    struct tsdb *db;
    struct notifier *notifier; /* NULL: alerts are not sent */
    struct logger *log;
    const char *external_url;
    struct labels external_labels; /* borrowed from the group's copy */
    struct promql_eval_opts eval;
    int64_t resend_delay_ms, outage_tolerance_ms, grace_period_ms;
};

struct rule_group_metrics; /* rules_manager.c */

struct rule_group {
    char *file, *name;
    char *key; /* "file;name", Prometheus's group key and rule_group label */
    int64_t interval_ms, limit, query_offset_ms;
    struct rule *rules;
    size_t nrules;
    struct rule_env env;
    struct label_set external_labels; /* owned copy behind env.external_labels */
    pthread_mutex_t mu;
    /* Under mu. */
    double eval_seconds;
    int64_t last_eval_ms;
    uint64_t last_samples;
    /* Only the evaluating thread. */
    unsigned evaluations;
    bool should_restore;                /* restore for-state after the second evaluation */
    struct rule_group_metrics *metrics; /* NULL outside the server */
    /* Scheduling: the manager's (loop thread). */
    void *sched;
};

/* Builds one group from a loaded rule file's group; expressions are parsed
 * here.  restored: whether alerting rules may write ALERTS at once (false
 * only for the groups of the first load, which restore for-state).
 * Returns the group, or NULL with err. */
struct rule_group *rule_group_new(const struct rule_file *rf, const struct rule_file_group *fg,
                                  const struct rule_env *env, const struct ystrmap *external_labels,
                                  int64_t default_interval_ms, int64_t default_query_offset_ms,
                                  bool restored, char *err, size_t errsz);
void rule_group_free(struct rule_group *g);
/* Loads every group of the files; on error frees what it built: -1. */
int rule_groups_load(const struct ystrlist *files, const struct rule_env *env,
                     const struct ystrmap *external_labels, int64_t default_interval_ms,
                     int64_t default_query_offset_ms, bool restored, struct rule_group ***out,
                     size_t *n, char *err, size_t errsz);
/* Takes over from old (same key) the alerts, staleness bookkeeping and
 * last evaluation of rules with the same kind, name and labels, as
 * Prometheus's Group.CopyState.  Neither group may be evaluating. */
void rule_group_copy_state(struct rule_group *g, struct rule_group *old);

/* Evaluates every rule of g at ts (ms): queries at ts - query_offset,
 * writes results, ALERTS and stale markers, sends alerts.  Then, after
 * the second evaluation of a freshly loaded group, restores for-state as
 * of now_ms. */
void rule_group_eval(struct rule_group *g, int64_t ts, int64_t now_ms);
/* Writes stale markers at ts for every series g wrote at its last
 * evaluation (a group removed by a reload). */
void rule_group_mark_stale(struct rule_group *g, int64_t ts);
/* The evaluation time Prometheus's Group.EvalTimestamp gives for now_ms:
 * the latest aligned time <= now_ms. */
int64_t rule_group_eval_timestamp(const struct rule_group *g, int64_t now_ms);

/* Runs the PromQL text query as an instant query at t and calls fn for each
 * sample of the vector, or once (no labels) for a scalar, as Prometheus's
 * EngineQueryFunc hands results to rules and templates.  Returns 0, or -1
 * with err: a parse or evaluation error, or not_vector for another type. */
typedef void (*rule_sample_fn)(void *ctx, const struct labels *ls, double v);
int rule_query_each(struct tsdb *db, const char *query, int64_t t,
                    const struct promql_eval_opts *opts, rule_sample_fn fn, void *ctx,
                    const char *not_vector, char *err, size_t errsz);

/* rules_manager.c: the group's self-metrics (g->metrics set). */
void rules_metrics_failure(struct rule_group *g);
void rules_metrics_rule(struct rule_group *g, double seconds);
void rules_metrics_iteration(struct rule_group *g, double seconds);

/* alert_rule.c */

/* One output sample of a rule: its series and value.  ref caches the
 * series for the appender. */
struct rule_sample {
    struct label_set ls; /* owned */
    double v;
    uint64_t ref;
};
struct rule_vector {
    struct rule_sample *v;
    size_t n, cap;
};
void rule_vector_free(struct rule_vector *vec);
struct rule_sample *rule_vector_push(struct rule_vector *vec);

/* Runs an alerting rule on its query result at ts: updates the alerts
 * (under g->mu), fills out with ALERTS / ALERTS_FOR_STATE samples once
 * restored.  Returns 0, or -1 with err (a duplicate label set, the limit). */
int alert_rule_eval(struct rule_group *g, struct rule *r, const struct promql_result *res,
                    int64_t ts, struct rule_vector *out, char *err, size_t errsz);
/* Hands the alerts that need it to the notifier (Prometheus's sendAlerts). */
void alert_rule_send(struct rule_group *g, struct rule *r, int64_t ts);
/* Restores the for-state of r's alerts from ALERTS_FOR_STATE at now_ms. */
void alert_rule_restore(struct rule_group *g, struct rule *r, int64_t now_ms);
void alert_free(struct alert *a);
void alert_map_clear(struct alert_map *m); /* frees every alert; keeps the array */
void alert_map_free(struct alert_map *m);
/* "/graph?g0.expr=<query escaped>&g0.tab=1" after the external URL. */
void alert_generator_url(const char *external_url, const char *query, struct sbuf *out);

#endif
