/* Rule groups as the evaluator runs them, on a real database in a
 * temporary directory: recording rules and their labels, staleness markers,
 * the alert state machine (pending, firing, for, keep_firing_for, resolved
 * retention), ALERTS / ALERTS_FOR_STATE, the group limit, duplicate label
 * sets, for-state restore and evaluation-time alignment. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/rules_internal.h"
#include "storage/tsdb.h"
#include "util/fsutil.h"

#define MINUTE 60000

struct fixture {
    char dir[64];
    struct tsdb *db;
    struct rule_file *rf;
    struct rule_group *g;
};

static struct fixture *fixture_new(const char *rules_yaml, bool restored)
{
    struct fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/vigil-rules-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    struct tsdb_options o = {0};
    char err[512];
    if (tsdb_open(f->dir, &o, &f->db, err, sizeof err) < 0)
        fail_msg("tsdb_open: %s", err);
    struct conf_error ce;
    if (rule_file_load_string("r.yml", rules_yaml, strlen(rules_yaml), NULL, &f->rf, &ce) < 0)
        fail_msg("rule file: %s", ce.msg);
    struct rule_env env = {.db = f->db,
                           .external_url = "http://x:9090",
                           .resend_delay_ms = MINUTE,
                           .outage_tolerance_ms = 60 * MINUTE,
                           .grace_period_ms = 10 * MINUTE};
    f->g =
        rule_group_new(f->rf, &f->rf->groups[0], &env, NULL, MINUTE, 0, restored, err, sizeof err);
    if (!f->g)
        fail_msg("group: %s", err);
    return f;
}

static void fixture_free(struct fixture *f)
{
    rule_group_free(f->g);
    rule_file_free(f->rf);
    tsdb_close(f->db);
    fs_remove_tree(f->dir);
    free(f);
}

/* Appends {__name__=name, instance=inst} = v at t (ms). */
static void put(struct fixture *f, const char *name, const char *inst, int64_t t, double v)
{
    struct label l[2] = {{"__name__", name}, {"instance", inst}};
    struct labels ls = {l, 2};
    struct tsdb_appender *a = tsdb_appender_new(f->db);
    uint64_t ref = 0;
    assert_int_equal(tsdb_append(a, &ref, &ls, t, v), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL), 0);
    tsdb_appender_free(a);
}

/* The last sample at or before t of the one series matching selector
 * name{label=value}; returns the number of series. */
static size_t last_sample(struct fixture *f, const char *name, const char *label, const char *value,
                          int64_t t, double *v, int64_t *ts)
{
    struct label_matcher m[2] = {{LABEL_MATCH_EQ, "__name__", name},
                                 {LABEL_MATCH_EQ, label, value}};
    struct tsdb_series_set *set;
    char err[256];
    assert_int_equal(tsdb_select(f->db, m, label ? 2 : 1, 0, t, &set, err, sizeof err), 0);
    const struct labels *ls;
    const int64_t *tv;
    const double *vv;
    size_t n, count = 0;
    while (tsdb_series_set_next(set, &ls, &tv, &vv, &n)) {
        count++;
        *v = vv[n - 1];
        *ts = tv[n - 1];
    }
    tsdb_series_set_free(set);
    return count;
}

static bool is_stale(double v)
{
    union {
        double d;
        uint64_t u;
    } x = {.d = v};
    return x.u == TSDB_STALE_NAN_BITS;
}

static void test_recording_rule_labels_and_staleness(void **state)
{
    (void)state;
    struct fixture *f = fixture_new("groups:\n- name: g\n  rules:\n"
                                    "  - record: job:x:sum\n    expr: sum by (instance) (x)\n"
                                    "    labels: {team: a}\n",
                                    true);
    put(f, "x", "a", 0, 2);
    rule_group_eval(f->g, 0, 0);
    double v;
    int64_t t;
    assert_int_equal(last_sample(f, "job:x:sum", "team", "a", 0, &v, &t), 1);
    assert_true(v == 2 && t == 0);
    assert_int_equal(f->g->rules[0].health, RULE_HEALTH_OK);
    /* x is gone (older than the lookback): the output series gets a marker. */
    rule_group_eval(f->g, 10 * MINUTE, 10 * MINUTE);
    assert_int_equal(last_sample(f, "job:x:sum", "team", "a", 10 * MINUTE, &v, &t), 1);
    assert_true(is_stale(v));
    assert_int_equal(t, 10 * MINUTE);
    fixture_free(f);
}

static void test_recording_duplicate_labelset_is_an_error(void **state)
{
    (void)state;
    /* Dropping the instance label through the rule's labels cannot make
     * duplicates, but overwriting it with a constant does. */
    struct fixture *f = fixture_new("groups:\n- name: g\n  rules:\n"
                                    "  - record: r\n    expr: x\n    labels: {instance: same}\n",
                                    true);
    put(f, "x", "a", 0, 1);
    put(f, "x", "b", 0, 2);
    rule_group_eval(f->g, 0, 0);
    assert_int_equal(f->g->rules[0].health, RULE_HEALTH_ERR);
    assert_non_null(strstr(f->g->rules[0].last_error, "same labelset"));
    fixture_free(f);
}

static void test_group_limit(void **state)
{
    (void)state;
    struct fixture *f = fixture_new("groups:\n- name: g\n  limit: 1\n  rules:\n"
                                    "  - record: r\n    expr: x\n"
                                    "  - alert: A\n    expr: x > 0\n",
                                    true);
    put(f, "x", "a", 0, 1);
    put(f, "x", "b", 0, 2);
    rule_group_eval(f->g, 0, 0);
    assert_string_equal(f->g->rules[0].last_error, "exceeded limit of 1 with 2 series");
    assert_string_equal(f->g->rules[1].last_error, "exceeded limit of 1 with 2 alerts");
    assert_int_equal(f->g->rules[1].alerts.n, 0);
    fixture_free(f);
}

static const struct alert *only_alert(const struct rule *r)
{
    assert_int_equal(r->alerts.n, 1);
    return r->alerts.v[0];
}

static void test_alert_for_and_resolve(void **state)
{
    (void)state;
    struct fixture *f = fixture_new("groups:\n- name: g\n  rules:\n"
                                    "  - alert: Down\n    expr: up == 0\n    for: 2m\n"
                                    "    labels: {sev: '{{ $labels.instance }}-x'}\n",
                                    true);
    struct rule *r = &f->g->rules[0];
    for (int i = 0; i <= 4; i++)
        put(f, "up", "a", i * MINUTE, i < 4 ? 0 : 1);
    rule_group_eval(f->g, 0, 0);
    assert_int_equal(only_alert(r)->state, ALERT_PENDING);
    assert_int_equal(only_alert(r)->active_at, 0);
    rule_group_eval(f->g, MINUTE, MINUTE);
    assert_int_equal(only_alert(r)->state, ALERT_PENDING);
    rule_group_eval(f->g, 2 * MINUTE, 2 * MINUTE);
    assert_int_equal(only_alert(r)->state, ALERT_FIRING);
    assert_int_equal(only_alert(r)->fired_at, 2 * MINUTE);
    /* Labels: the sample's without __name__, the rule's expanded, alertname. */
    struct labels ls = label_set_view(&only_alert(r)->labels);
    assert_int_equal(ls.n, 3);
    assert_string_equal(label_set_get(&only_alert(r)->labels, "sev"), "a-x");
    assert_string_equal(label_set_get(&only_alert(r)->labels, "alertname"), "Down");
    double v;
    int64_t t;
    assert_int_equal(last_sample(f, "ALERTS", "alertstate", "firing", 2 * MINUTE, &v, &t), 1);
    assert_int_equal(last_sample(f, "ALERTS_FOR_STATE", "alertname", "Down", 2 * MINUTE, &v, &t),
                     1);
    assert_true(v == 0); /* activeAt, Unix seconds */
    /* Recovered: inactive, resolved, kept for the notifier, ALERTS stale. */
    rule_group_eval(f->g, 4 * MINUTE, 4 * MINUTE);
    assert_int_equal(only_alert(r)->state, ALERT_INACTIVE);
    assert_int_equal(only_alert(r)->resolved_at, 4 * MINUTE);
    assert_int_equal(last_sample(f, "ALERTS", "alertstate", "firing", 4 * MINUTE, &v, &t), 1);
    assert_true(is_stale(v));
    /* Forgotten once the retention has passed. */
    rule_group_eval(f->g, 20 * MINUTE, 20 * MINUTE);
    assert_int_equal(r->alerts.n, 0);
    fixture_free(f);
}

static void test_pending_alert_dropped_at_once(void **state)
{
    (void)state;
    struct fixture *f = fixture_new(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x > 0\n    for: 5m\n", true);
    put(f, "x", "a", 0, 1);
    put(f, "x", "a", MINUTE, 0);
    rule_group_eval(f->g, 0, 0);
    assert_int_equal(only_alert(&f->g->rules[0])->state, ALERT_PENDING);
    rule_group_eval(f->g, MINUTE, MINUTE);
    assert_int_equal(f->g->rules[0].alerts.n, 0);
    fixture_free(f);
}

static void test_keep_firing_for(void **state)
{
    (void)state;
    struct fixture *f = fixture_new("groups:\n- name: g\n  rules:\n"
                                    "  - alert: A\n    expr: x > 0\n    keep_firing_for: 2m\n",
                                    true);
    struct rule *r = &f->g->rules[0];
    put(f, "x", "a", 0, 1);
    put(f, "x", "a", MINUTE, 0);
    rule_group_eval(f->g, 0, 0);
    assert_int_equal(only_alert(r)->state, ALERT_FIRING); /* for 0: at once */
    rule_group_eval(f->g, MINUTE, MINUTE);
    assert_int_equal(only_alert(r)->state, ALERT_FIRING);
    assert_int_equal(only_alert(r)->keep_firing_since, MINUTE);
    rule_group_eval(f->g, 2 * MINUTE, 2 * MINUTE);
    assert_int_equal(only_alert(r)->state, ALERT_FIRING);
    rule_group_eval(f->g, 3 * MINUTE, 3 * MINUTE);
    assert_int_equal(only_alert(r)->state, ALERT_INACTIVE);
    assert_int_equal(only_alert(r)->resolved_at, 3 * MINUTE);
    fixture_free(f);
}

static void test_annotations_follow_value(void **state)
{
    (void)state;
    struct fixture *f = fixture_new("groups:\n- name: g\n  rules:\n"
                                    "  - alert: A\n    expr: x\n    for: 1h\n"
                                    "    annotations: {v: 'value {{ $value }}'}\n",
                                    true);
    struct rule *r = &f->g->rules[0];
    put(f, "x", "a", 0, 1);
    put(f, "x", "a", MINUTE, 7);
    rule_group_eval(f->g, 0, 0);
    rule_group_eval(f->g, MINUTE, MINUTE);
    assert_string_equal(label_set_get(&only_alert(r)->annotations, "v"), "value 7");
    assert_true(only_alert(r)->value == 7);
    assert_int_equal(only_alert(r)->active_at, 0); /* state kept */
    fixture_free(f);
}

static void test_for_state_restore(void **state)
{
    (void)state;
    /* A group freshly loaded at start-up (restored = false) writes no
     * ALERTS until it has restored activeAt from ALERTS_FOR_STATE, after
     * its second evaluation. */
    struct fixture *f = fixture_new(
        "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: x > 0\n    for: 30m\n", false);
    struct rule *r = &f->g->rules[0];
    /* Before the "restart": active since t=100s, last seen at 20m. */
    struct label l[3] = {{"__name__", "ALERTS_FOR_STATE"}, {"alertname", "A"}, {"instance", "a"}};
    struct labels ls = {l, 3};
    struct tsdb_appender *a = tsdb_appender_new(f->db);
    uint64_t ref = 0;
    assert_int_equal(tsdb_append(a, &ref, &ls, 20 * MINUTE, 100), 0);
    assert_int_equal(tsdb_appender_commit(a, NULL), 0);
    tsdb_appender_free(a);
    put(f, "x", "a", 25 * MINUTE, 1);
    put(f, "x", "a", 26 * MINUTE, 1);
    rule_group_eval(f->g, 25 * MINUTE, 25 * MINUTE);
    double v;
    int64_t t;
    assert_int_equal(last_sample(f, "ALERTS", "alertname", "A", 25 * MINUTE, &v, &t), 0);
    rule_group_eval(f->g, 26 * MINUTE, 26 * MINUTE);
    assert_true(r->restored);
    /* Pending 20m - 100s before the outage, 30m needed: the remaining time
     * is more than the grace period, so activeAt moves by the downtime. */
    assert_int_equal(only_alert(r)->active_at, 100000 + (26 * MINUTE - 20 * MINUTE));
    fixture_free(f);
}

static void test_eval_timestamp_alignment(void **state)
{
    (void)state;
    struct fixture *f = fixture_new("groups:\n- name: g\n  interval: 15s\n  rules:\n"
                                    "  - record: r\n    expr: vector(1)\n",
                                    true);
    int64_t now = 1700000012345;
    int64_t ts = rule_group_eval_timestamp(f->g, now);
    assert_true(ts <= now && now - ts < 15000);
    /* The phase is a property of the group, not of the moment. */
    assert_int_equal(rule_group_eval_timestamp(f->g, now + 15000), ts + 15000);
    assert_int_equal(rule_group_eval_timestamp(f->g, ts + 1), ts); /* ns truncated to ms */
    fixture_free(f);
}

static void test_query_offset_and_group_labels(void **state)
{
    (void)state;
    /* The query runs at ts - query_offset and its output is stamped with
     * that time; group labels apply to every rule, the rule's win. */
    struct fixture *f = fixture_new("groups:\n- name: g\n  query_offset: 1m\n"
                                    "  labels: {team: infra, tier: '1'}\n  rules:\n"
                                    "  - record: r\n    expr: x\n    labels: {tier: '2'}\n",
                                    true);
    put(f, "x", "a", 0, 5);
    put(f, "x", "a", 2 * MINUTE, 9);
    rule_group_eval(f->g, 2 * MINUTE + 30000, 0);
    double v;
    int64_t t;
    assert_int_equal(last_sample(f, "r", "team", "infra", 10 * MINUTE, &v, &t), 1);
    assert_true(v == 5); /* x as of 1m30s: the sample at 0 */
    assert_int_equal(t, MINUTE + 30000);
    assert_int_equal(last_sample(f, "r", "tier", "2", 10 * MINUTE, &v, &t), 1);
    fixture_free(f);
}

static void test_generator_url(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    alert_generator_url("http://h:9090", "rate(x{a=\"b c\"}[5m]) > 0", &b);
    assert_string_equal(b.data, "http://h:9090/graph?g0.expr=rate%28x%7Ba%3D%22b+c%22%7D%5B5m%5D"
                                "%29+%3E+0&g0.tab=1");
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_recording_rule_labels_and_staleness),
        cmocka_unit_test(test_recording_duplicate_labelset_is_an_error),
        cmocka_unit_test(test_group_limit),
        cmocka_unit_test(test_alert_for_and_resolve),
        cmocka_unit_test(test_pending_alert_dropped_at_once),
        cmocka_unit_test(test_keep_firing_for),
        cmocka_unit_test(test_annotations_follow_value),
        cmocka_unit_test(test_for_state_restore),
        cmocka_unit_test(test_eval_timestamp_alignment),
        cmocka_unit_test(test_query_offset_and_group_labels),
        cmocka_unit_test(test_generator_url),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
