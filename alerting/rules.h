/* rules.h — recording and alerting rules (the public interface of alerting/).
 *
 * The rules manager runs the groups of the rule files that prometheus.yml's
 * rule_files name, as Prometheus's rules.Manager does: each group on its
 * own interval, its rules in order, at evaluation times aligned the way
 * Prometheus aligns them (a hash of file and group name picks the offset
 * within the interval, so a restarted server keeps the same phase).
 * Evaluation runs on libuv's worker pool, never on the loop thread, and a
 * group never overlaps itself: a tick that finds the previous evaluation
 * still running is counted as missed.
 *
 * Recording rules write their results to storage with the rule's name and
 * labels, and staleness markers for series that disappear.  Alerting rules
 * keep alerts (inactive / pending / firing, with `for` and
 * `keep_firing_for`), expand label and annotation templates, write the
 * ALERTS and ALERTS_FOR_STATE series, restore `for` state after a restart
 * from ALERTS_FOR_STATE (--rules.alert.for-outage-tolerance and
 * for-grace-period) and hand alerts to the notifier (alerting/notifier.h)
 * at most once per --rules.alert.resend-delay while they fire, and once
 * more when they resolve.
 *
 * A reload (rules_manager_apply) builds every group anew; a group with the
 * same file and name as a running one takes over its alerts, staleness
 * bookkeeping and last evaluation, so unchanged alerts keep their state.
 *
 * Threads: rules_manager_* on the loop thread.  The introspection calls
 * (rules_manager_each_group) see a consistent view of each group under the
 * group's lock while workers evaluate. */
#ifndef VIGIL_ALERTING_RULES_H
#define VIGIL_ALERTING_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <uv.h>

#include "conf/config.h"
#include "query/promql.h"
#include "storage/labels.h"

struct tsdb;
struct notifier;
struct logger;
struct metrics_registry;
struct rules_manager;

struct rules_options {
    uv_loop_t *loop;
    struct tsdb *db;                  /* borrowed */
    struct notifier *notifier;        /* borrowed; NULL: alerts are not sent */
    struct logger *log;               /* borrowed; may be NULL */
    struct metrics_registry *metrics; /* borrowed; may be NULL */
    const char *external_url;         /* copied; "" when unset */
    int64_t outage_tolerance_ms;      /* 0 = 1h */
    int64_t grace_period_ms;          /* 0 = 10m */
    int64_t resend_delay_ms;          /* 0 = 1m */
    struct promql_eval_opts eval;     /* lookback, sample limit, timeout */
};

int rules_manager_new(const struct rules_options *o, struct rules_manager **out, char *err,
                      size_t errsz);
/* Loads the rule files of cfg (and takes its external labels and default
 * interval) and replaces the running groups.  On an error (a rule file
 * that does not load) nothing changes: -1 with err. */
int rules_manager_apply(struct rules_manager *m, const struct prom_config *cfg, char *err,
                        size_t errsz);
/* Stops the timers; evaluations in flight finish on their own.  done is
 * called on the loop thread once none is running (possibly at once). */
void rules_manager_stop(struct rules_manager *m, void (*done)(void *ctx), void *ctx);
void rules_manager_free(struct rules_manager *m); /* after stop's done */

/* ---- Introspection (/api/v1/rules, /api/v1/alerts) ---- */

enum alert_state { ALERT_INACTIVE, ALERT_PENDING, ALERT_FIRING };
const char *alert_state_name(enum alert_state s); /* "inactive", "pending", "firing" */

enum rule_health { RULE_HEALTH_UNKNOWN, RULE_HEALTH_OK, RULE_HEALTH_ERR };
const char *rule_health_name(enum rule_health h); /* "unknown", "ok", "err" */

/* Everything below is borrowed for the duration of the callback. */
struct alert_info {
    struct labels labels, annotations;
    enum alert_state state;
    int64_t active_at_ms;
    int64_t keep_firing_since_ms; /* 0 = not keeping firing */
    double value;
};

struct rule_info {
    bool alerting;
    const char *name;  /* alert or record */
    const char *query; /* the expression as Prometheus prints it */
    int64_t for_ms, keep_firing_for_ms;
    struct labels labels, annotations;
    enum rule_health health;
    const char *last_error; /* "" when none */
    double eval_seconds;
    int64_t last_eval_ms;            /* 0 = never */
    enum alert_state state;          /* the rule's: its most severe alert's */
    const struct alert_info *alerts; /* active alerts (resolved ones left out) */
    size_t nalerts;
};

struct rule_group_info {
    const char *file, *name;
    int64_t interval_ms, limit;
    double eval_seconds;
    int64_t last_eval_ms;
    const struct rule_info *rules;
    size_t nrules;
};

/* Calls fn for each group, in file order then the order within the file. */
void rules_manager_each_group(struct rules_manager *m,
                              void (*fn)(void *ctx, const struct rule_group_info *g), void *ctx);

/* ---- Rule unit tests (`vigil test rules`, alerting/rules_unittest.c) ---- */

/* Runs promtool test rules files; prints as promtool does to out and
 * returns the exit status (0 all passed, 1 a test failed or a file is
 * broken). */
int rules_unittest_run(const char *const *files, size_t nfiles, FILE *out);

#endif
