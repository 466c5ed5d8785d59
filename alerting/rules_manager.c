/* rules_manager.c — runs the rule groups on the libuv loop: one timer per
 * group, evaluations on the worker pool, reloads that keep alert state.
 *
 * Each group has a scheduler record (struct sched) with a uv_timer and a
 * uv_work_t.  The timer fires at the group's next aligned evaluation time
 * (wall clock: rule_group_eval_timestamp), and the evaluation itself runs
 * with uv_queue_work, so a slow query never stalls scrapes or the HTTP
 * server.  A tick that finds the group still evaluating, or that comes
 * late by whole intervals, counts those iterations as missed, as
 * Prometheus's prometheus_rule_group_iterations_missed_total does; the
 * next evaluation keeps the aligned phase.
 *
 * A reload loads every rule file first (any error: nothing changes), then
 * pairs each new group with the running group of the same key.  The new
 * one takes over the old one's state (rule_group_copy_state) once the old
 * one is not evaluating — at once, or when its evaluation finishes.
 * Groups that no longer exist write staleness markers for their series on
 * a worker and are freed.  Evaluations in flight hold their group; a group
 * is freed only on the loop thread, after its work and timer are done. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting/rules_internal.h"
#include "util/log.h"
#include "util/metrics.h"
#include "util/sbuf.h"

struct rule_group_metrics {
    struct metric *evals, *failures, *missed, *iterations, *interval, *last_ts, *last_duration,
        *rules, *last_samples;
    struct metric *rule_duration, *group_duration; /* the manager's, shared by all groups */
};

struct sched {
    struct rules_manager *m;
    struct rule_group *g;
    uv_timer_t timer;
    uv_work_t work;
    int64_t next_ts;    /* the next aligned evaluation time (ms) */
    int64_t eval_ts;    /* of the evaluation in flight */
    bool running;       /* work queued and not yet done */
    bool retired;       /* no longer scheduled: free once idle */
    bool stale_pending; /* retired without a successor: stale markers to write */
    bool stale_trip;    /* the work in flight writes them */
    struct sched *heir; /* retired in favour of this one: copy state to it */
    bool waiting;       /* an heir waiting for its predecessor's state */
    struct rule_group_metrics metrics;
    struct sched *next; /* the manager's list of every live record */
};

struct rules_manager {
    struct rules_options o;
    char *external_url;
    struct sched **active; /* scheduled, in file and group order */
    size_t nactive;
    struct sched *all; /* active and retired */
    bool loaded;       /* a first load happened: later groups start restored */
    bool stopping;
    void (*stop_done)(void *);
    void *stop_ctx;
    struct metric_family *f_evals, *f_failures, *f_missed, *f_iterations, *f_interval, *f_last_ts,
        *f_last_duration, *f_rules, *f_last_samples;
    struct metric *rule_duration, *group_duration;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- metrics ---- */

static void metrics_register(struct rules_manager *m)
{
    struct metrics_registry *r = m->o.metrics;
    if (!r)
        return;
    static const char *const lbl[] = {"rule_group", NULL};
    m->f_evals = metrics_counter_new(r, "prometheus_rule_evaluations_total",
                                     "The total number of rule evaluations.", lbl);
    m->f_failures = metrics_counter_new(r, "prometheus_rule_evaluation_failures_total",
                                        "The total number of rule evaluation failures.", lbl);
    m->f_missed = metrics_counter_new(
        r, "prometheus_rule_group_iterations_missed_total",
        "The total number of rule group evaluations missed due to slow rule group evaluation.",
        lbl);
    m->f_iterations = metrics_counter_new(r, "prometheus_rule_group_iterations_total",
                                          "The total number of scheduled rule group "
                                          "evaluations, whether executed or missed.",
                                          lbl);
    m->f_interval = metrics_gauge_new(r, "prometheus_rule_group_interval_seconds",
                                      "The interval of a rule group.", lbl);
    m->f_last_ts =
        metrics_gauge_new(r, "prometheus_rule_group_last_evaluation_timestamp_seconds",
                          "The timestamp of the last rule group evaluation in seconds.", lbl);
    m->f_last_duration = metrics_gauge_new(r, "prometheus_rule_group_last_duration_seconds",
                                           "The duration of the last rule group evaluation.", lbl);
    m->f_rules = metrics_gauge_new(r, "prometheus_rule_group_rules", "The number of rules.", lbl);
    m->f_last_samples = metrics_gauge_new(
        r, "prometheus_rule_group_last_evaluation_samples",
        "The number of samples returned during the last rule group evaluation.", lbl);
    /* Summaries without quantiles: _sum and _count, which is what rate()
     * over them needs (see util/metrics.h). */
    m->rule_duration =
        metric_family_with(metrics_summary_new(r, "prometheus_rule_evaluation_duration_seconds",
                                               "The duration for a rule to execute.", NULL),
                           NULL);
    m->group_duration =
        metric_family_with(metrics_summary_new(r, "prometheus_rule_group_duration_seconds",
                                               "The duration of rule group evaluations.", NULL),
                           NULL);
}

static void sched_metrics_init(struct sched *s)
{
    struct rules_manager *m = s->m;
    if (!m->f_evals)
        return;
    const char *v[] = {s->g->key};
    struct rule_group_metrics *x = &s->metrics;
    x->evals = metric_family_with(m->f_evals, v);
    x->failures = metric_family_with(m->f_failures, v);
    x->missed = metric_family_with(m->f_missed, v);
    x->iterations = metric_family_with(m->f_iterations, v);
    x->interval = metric_family_with(m->f_interval, v);
    x->last_ts = metric_family_with(m->f_last_ts, v);
    x->last_duration = metric_family_with(m->f_last_duration, v);
    x->rules = metric_family_with(m->f_rules, v);
    x->last_samples = metric_family_with(m->f_last_samples, v);
    x->rule_duration = m->rule_duration;
    x->group_duration = m->group_duration;
    metric_set(x->interval, (double)s->g->interval_ms / 1000.0);
    metric_set(x->rules, (double)s->g->nrules);
    s->g->metrics = x;
}

void rules_metrics_failure(struct rule_group *g)
{
    metric_inc(g->metrics->failures);
}

void rules_metrics_rule(struct rule_group *g, double seconds)
{
    metric_observe(g->metrics->rule_duration, seconds);
}

void rules_metrics_iteration(struct rule_group *g, double seconds)
{
    struct rule_group_metrics *x = g->metrics;
    metric_observe(x->group_duration, seconds);
    metric_add(x->evals, (double)g->nrules);
    metric_set(x->last_duration, seconds);
    metric_set(x->last_ts, (double)g->last_eval_ms / 1000.0);
    metric_set(x->last_samples, (double)g->last_samples);
}

/* ---- scheduling ---- */

static void sched_arm(struct sched *s);
static void sched_maybe_free(struct sched *s);

static void eval_work(uv_work_t *w)
{
    struct sched *s = w->data;
    if (s->stale_trip)
        rule_group_mark_stale(s->g, wall_ms());
    else
        rule_group_eval(s->g, s->eval_ts, wall_ms());
}

static void eval_done(uv_work_t *w, int status)
{
    struct sched *s = w->data;
    (void)status;
    s->running = false;
    s->stale_trip = false;
    if (s->retired)
        sched_maybe_free(s);
}

static void on_tick(uv_timer_t *t)
{
    struct sched *s = t->data;
    int64_t now = wall_ms(), iv = s->g->interval_ms;
    /* Whole intervals that passed since the due time are missed. */
    int64_t late = now > s->next_ts ? (now - s->next_ts) / iv : 0;
    int64_t ts = s->next_ts + late * iv;
    s->next_ts = ts + iv;
    if (s->metrics.iterations)
        metric_add(s->metrics.iterations, (double)(late + 1));
    if (s->running || s->waiting) {
        late++; /* this tick too */
    } else {
        s->eval_ts = ts;
        s->running = true;
        s->work.data = s;
        uv_queue_work(s->m->o.loop, &s->work, eval_work, eval_done);
    }
    if (late && s->metrics.missed)
        metric_add(s->metrics.missed, (double)late);
    sched_arm(s);
}

static void sched_arm(struct sched *s)
{
    int64_t delay = s->next_ts - wall_ms();
    uv_timer_start(&s->timer, on_tick, delay > 0 ? (uint64_t)delay : 0, 0);
}

static struct sched *sched_new(struct rules_manager *m, struct rule_group *g)
{
    struct sched *s = xcalloc(1, sizeof *s);
    s->m = m;
    s->g = g;
    uv_timer_init(m->o.loop, &s->timer);
    s->timer.data = s;
    s->next = m->all;
    m->all = s;
    sched_metrics_init(s);
    /* Prometheus's first evaluation: one interval after the aligned time. */
    s->next_ts = rule_group_eval_timestamp(g, wall_ms()) + g->interval_ms;
    return s;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct sched *s = h->data;
    struct rules_manager *m = s->m;
    for (struct sched **p = &m->all; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    rule_group_free(s->g);
    free(s);
    if (m->stopping && !m->all && m->stop_done) {
        void (*done)(void *) = m->stop_done;
        m->stop_done = NULL;
        done(m->stop_ctx);
    }
}

/* A retired record goes once it is idle: first its state to its heir, or
 * stale markers (one more trip to a worker) when it has none. */
static void sched_maybe_free(struct sched *s)
{
    if (s->running || uv_is_closing((uv_handle_t *)&s->timer))
        return;
    if (s->heir) {
        rule_group_copy_state(s->heir->g, s->g);
        s->heir->waiting = false;
        s->heir = NULL;
    } else if (s->stale_pending) {
        s->stale_pending = false;
        s->stale_trip = true;
        s->running = true;
        s->work.data = s;
        uv_queue_work(s->m->o.loop, &s->work, eval_work, eval_done);
        return;
    }
    uv_close((uv_handle_t *)&s->timer, on_timer_closed);
}

static void sched_retire(struct sched *s, struct sched *heir, bool mark_stale)
{
    s->retired = true;
    uv_timer_stop(&s->timer);
    s->heir = heir;
    s->stale_pending = !heir && mark_stale;
    if (heir)
        heir->waiting = true;
    sched_maybe_free(s);
}

/* ---- the manager ---- */

int rules_manager_new(const struct rules_options *o, struct rules_manager **out, char *err,
                      size_t errsz)
{
    (void)err;
    (void)errsz;
    struct rules_manager *m = xcalloc(1, sizeof *m);
    m->o = *o;
    m->external_url = xstrdup(o->external_url ? o->external_url : "");
    m->o.external_url = m->external_url;
    if (!m->o.outage_tolerance_ms)
        m->o.outage_tolerance_ms = 3600 * 1000;
    if (!m->o.grace_period_ms)
        m->o.grace_period_ms = 600 * 1000;
    if (!m->o.resend_delay_ms)
        m->o.resend_delay_ms = 60 * 1000;
    metrics_register(m);
    *out = m;
    return 0;
}

static struct rule_env manager_env(const struct rules_manager *m)
{
    return (struct rule_env){
        .db = m->o.db,
        .notifier = m->o.notifier,
        .log = m->o.log,
        .external_url = m->external_url,
        .eval = m->o.eval,
        .resend_delay_ms = m->o.resend_delay_ms,
        .outage_tolerance_ms = m->o.outage_tolerance_ms,
        .grace_period_ms = m->o.grace_period_ms,
    };
}

int rules_manager_apply(struct rules_manager *m, const struct prom_config *cfg, char *err,
                        size_t errsz)
{
    if (m->stopping)
        return 0;
    struct ystrlist files = {0};
    struct conf_error ce;
    if (prom_config_rule_files(cfg, &files, &ce) < 0) {
        snprintf(err, errsz, "%s", ce.msg);
        ystrlist_free(&files);
        return -1;
    }
    struct rule_env env = manager_env(m);
    struct rule_group **groups;
    size_t n;
    int rc = rule_groups_load(&files, &env, &cfg->global.external_labels,
                              cfg->global.evaluation_interval_ms, cfg->global.rule_query_offset_ms,
                              m->loaded, &groups, &n, err, errsz);
    ystrlist_free(&files);
    if (rc < 0)
        return -1;
    m->loaded = true;
    struct sched **next = xcalloc(n + 1, sizeof *next);
    for (size_t i = 0; i < n; i++)
        next[i] = sched_new(m, groups[i]);
    free(groups);
    /* Pair old and new by key; the unpaired old ones are gone. */
    for (size_t i = 0; i < m->nactive; i++) {
        struct sched *old = m->active[i], *heir = NULL;
        for (size_t j = 0; j < n && !heir; j++)
            if (!next[j]->waiting && strcmp(next[j]->g->key, old->g->key) == 0)
                heir = next[j];
        if (heir) /* keep the phase too: same key, same alignment */
            heir->next_ts = old->next_ts;
        sched_retire(old, heir, true);
    }
    free(m->active);
    m->active = next;
    m->nactive = n;
    for (size_t i = 0; i < n; i++)
        sched_arm(next[i]);
    char num[32];
    snprintf(num, sizeof num, "%zu", n);
    log_info(m->o.log, "rules", "Rule groups loaded", "groups", num);
    return 0;
}

void rules_manager_stop(struct rules_manager *m, void (*done)(void *ctx), void *ctx)
{
    m->stopping = true;
    m->stop_done = done;
    m->stop_ctx = ctx;
    for (size_t i = 0; i < m->nactive; i++)
        sched_retire(m->active[i], NULL, false);
    free(m->active);
    m->active = NULL;
    m->nactive = 0;
    if (!m->all && m->stop_done) {
        m->stop_done = NULL;
        done(ctx);
    }
}

void rules_manager_free(struct rules_manager *m)
{
    if (!m)
        return;
    free(m->active);
    free(m->external_url);
    free(m);
}

/* ---- introspection ---- */

static void alerts_info(const struct rule *r, struct alert_info *out, size_t *n,
                        enum alert_state *state)
{
    *n = 0;
    *state = ALERT_INACTIVE;
    for (size_t i = 0; i < r->alerts.n; i++) {
        const struct alert *a = r->alerts.v[i];
        if (a->resolved_at != 0 && a->state == ALERT_INACTIVE)
            continue;
        if (a->state > *state)
            *state = a->state;
        out[(*n)++] = (struct alert_info){
            .labels = label_set_view(&a->labels),
            .annotations = label_set_view(&a->annotations),
            .state = a->state,
            .active_at_ms = a->active_at,
            .keep_firing_since_ms = a->keep_firing_since,
            .value = a->value,
        };
    }
}

static void group_visit(struct rule_group *g, void (*fn)(void *, const struct rule_group_info *),
                        void *ctx)
{
    pthread_mutex_lock(&g->mu);
    struct rule_info *ri = xcalloc(g->nrules + 1, sizeof *ri);
    size_t nalerts = 0;
    for (size_t i = 0; i < g->nrules; i++)
        nalerts += g->rules[i].alerts.n;
    struct alert_info *ai = xcalloc(nalerts + 1, sizeof *ai), *p = ai;
    for (size_t i = 0; i < g->nrules; i++) {
        const struct rule *r = &g->rules[i];
        ri[i] = (struct rule_info){
            .alerting = r->alerting,
            .name = r->name,
            .query = r->query,
            .for_ms = r->for_ms,
            .keep_firing_for_ms = r->keep_firing_for_ms,
            .labels = label_set_view(&r->labels),
            .annotations = label_set_view(&r->annotations),
            .health = r->health,
            .last_error = r->last_error ? r->last_error : "",
            .eval_seconds = r->eval_seconds,
            .last_eval_ms = r->last_eval_ms,
            .alerts = p,
        };
        alerts_info(r, p, &ri[i].nalerts, &ri[i].state);
        p += ri[i].nalerts;
    }
    struct rule_group_info gi = {
        .file = g->file,
        .name = g->name,
        .interval_ms = g->interval_ms,
        .limit = g->limit,
        .eval_seconds = g->eval_seconds,
        .last_eval_ms = g->last_eval_ms,
        .rules = ri,
        .nrules = g->nrules,
    };
    fn(ctx, &gi);
    pthread_mutex_unlock(&g->mu);
    free(ri);
    free(ai);
}

void rules_manager_each_group(struct rules_manager *m,
                              void (*fn)(void *ctx, const struct rule_group_info *g), void *ctx)
{
    for (size_t i = 0; i < m->nactive; i++) {
        struct sched *s = m->active[i];
        /* An heir still waiting shows its predecessor's state. */
        struct rule_group *g = s->g;
        for (struct sched *o = m->all; s->waiting && o; o = o->next)
            if (o->heir == s)
                g = o->g;
        group_visit(g, fn, ctx);
    }
}
