/* rules_unittest.c — `vigil test rules`: runs promtool's rule unit-test
 * files with promtool's verdicts, messages and exit status.
 *
 * Each test group gets a fresh database in a temporary directory, its
 * input_series loaded in the expanding notation (query/promqltest's
 * loader), and the rule files loaded as real rule groups (rule_group.c),
 * so the rules run exactly as the server runs them.  Then, as promtool
 * does: the groups are evaluated at 0, evaluation_interval, ... up to the
 * largest alert eval_time, in group_eval_order; after the evaluation at ts,
 * every alert test whose eval_time falls in [ts, ts + interval) compares
 * the firing alerts of that name with the expected ones (labels plus
 * alertname, and annotations); an evaluation error ends the group.  Last,
 * each promql_expr_test runs its query at eval_time and compares the
 * samples exactly.  Failures print promtool's text, so a diff of the two
 * tools' outputs is meaningful. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alerting/rules_internal.h"
#include "storage/tsdb.h"
#include "util/duration.h"
#include "util/fsutil.h"
#include "util/gostrconv.h"
#include "util/sbuf.h"

/* One failure message of a test file. */
struct errlist {
    char **v;
    size_t n;
};

static void err_add(struct errlist *e, struct sbuf *msg)
{
    e->v = xrealloc(e->v, (e->n + 1) * sizeof *e->v);
    e->v[e->n++] = sbuf_detach(msg);
}

static void errlist_free(struct errlist *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i]);
    free(e->v);
}

/* ---- labels and alerts as promtool prints and compares them ---- */

struct la_pair {
    struct label_set labels, annotations;
};

static int labels_cmp(const struct label_set *a, const struct label_set *b)
{
    for (size_t i = 0; i < a->n && i < b->n; i++) {
        int c = strcmp(a->v[i].name, b->v[i].name);
        if (!c)
            c = strcmp(a->v[i].value, b->v[i].value);
        if (c)
            return c;
    }
    return a->n < b->n ? -1 : a->n > b->n;
}

static int la_cmp(const void *x, const void *y)
{
    const struct la_pair *a = x, *b = y;
    int c = labels_cmp(&a->labels, &b->labels);
    return c ? c : labels_cmp(&a->annotations, &b->annotations);
}

static void la_free(struct la_pair *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        label_set_free(&v[i].labels);
        label_set_free(&v[i].annotations);
    }
    free(v);
}

/* promtool's labelsAndAnnotations.String(), indented as it indents it. */
static void la_format(const struct la_pair *v, size_t n, const char *indent, struct sbuf *out)
{
    if (!n) {
        sbuf_puts(out, "[]");
        return;
    }
    sbuf_puts(out, "[");
    for (size_t i = 0; i < n; i++) {
        sbuf_printf(out, "%s\n%s%zu:\n%s  Labels:", i ? "," : "", indent, i, indent);
        label_set_format(&v[i].labels, out);
        sbuf_printf(out, "\n%s  Annotations:", indent);
        label_set_format(&v[i].annotations, out);
    }
    sbuf_printf(out, "\n%s]", indent);
}

/* ---- one test group ---- */

struct tg_run {
    const struct rule_test_file *file;
    const struct rule_test_group *tg;
    int64_t eval_interval;
    struct tsdb *db;
    struct rule_group **groups;
    size_t ngroups;
    struct errlist *errs;
};

static int group_order(const struct rule_test_file *f, const char *name)
{
    for (size_t i = 0; i < f->group_eval_order.n; i++)
        if (strcmp(f->group_eval_order.v[i], name) == 0)
            return (int)i;
    return 0;
}

/* Stable sort by group_eval_order (insertion sort: few groups). */
static void groups_order(struct tg_run *t)
{
    for (size_t i = 1; i < t->ngroups; i++) {
        struct rule_group *g = t->groups[i];
        int k = group_order(t->file, g->name);
        size_t j = i;
        while (j > 0 && group_order(t->file, t->groups[j - 1]->name) > k) {
            t->groups[j] = t->groups[j - 1];
            j--;
        }
        t->groups[j] = g;
    }
}

static void name_prefix(const struct tg_run *t, struct sbuf *m)
{
    if (t->tg->name && t->tg->name[0])
        sbuf_printf(m, "    name: %s,\n", t->tg->name);
}

/* The firing alerts named `name`, over every group. */
static struct la_pair *firing_alerts(const struct tg_run *t, const char *name, size_t *n)
{
    struct la_pair *v = NULL;
    *n = 0;
    for (size_t i = 0; i < t->ngroups; i++)
        for (size_t j = 0; j < t->groups[i]->nrules; j++) {
            const struct rule *r = &t->groups[i]->rules[j];
            if (!r->alerting || strcmp(r->name, name) != 0)
                continue;
            for (size_t k = 0; k < r->alerts.n; k++) {
                const struct alert *a = r->alerts.v[k];
                if (a->state != ALERT_FIRING)
                    continue;
                v = xrealloc(v, (*n + 1) * sizeof *v);
                v[*n] = (struct la_pair){LABEL_SET_INIT, LABEL_SET_INIT};
                label_set_copy(&v[*n].labels, &a->labels);
                label_set_copy(&v[*n].annotations, &a->annotations);
                (*n)++;
            }
        }
    return v;
}

static void check_alert_case(struct tg_run *t, const struct rule_test_alert_case *c)
{
    size_t ngot, nexp = c->n_exp_alerts;
    struct la_pair *got = firing_alerts(t, c->alertname, &ngot);
    struct la_pair *exp = xcalloc(nexp + 1, sizeof *exp);
    for (size_t i = 0; i < nexp; i++) {
        const struct rule_test_alert *a = &c->exp_alerts[i];
        for (size_t k = 0; k < a->exp_labels.n; k++)
            label_set_set(&exp[i].labels, a->exp_labels.keys[k], a->exp_labels.values[k]);
        label_set_set(&exp[i].labels, "alertname", c->alertname);
        for (size_t k = 0; k < a->exp_annotations.n; k++)
            label_set_set(&exp[i].annotations, a->exp_annotations.keys[k],
                          a->exp_annotations.values[k]);
    }
    if (ngot)
        qsort(got, ngot, sizeof *got, la_cmp);
    if (nexp)
        qsort(exp, nexp, sizeof *exp, la_cmp);
    bool same = ngot == nexp;
    for (size_t i = 0; same && i < nexp; i++)
        same = la_cmp(&got[i], &exp[i]) == 0;
    if (!same) {
        struct sbuf m = SBUF_INIT;
        char d[64];
        name_prefix(t, &m);
        sbuf_printf(&m, "    alertname: %s, time: %s, \n        exp:", c->alertname,
                    duration_format(c->eval_time, d, sizeof d));
        la_format(exp, nexp, "            ", &m);
        sbuf_puts(&m, ", \n        got:");
        la_format(got, ngot, "            ", &m);
        err_add(t->errs, &m);
    }
    la_free(got, ngot);
    la_free(exp, nexp);
}

/* ---- promql_expr_test ---- */

struct psample {
    struct label_set ls;
    double v;
};

static int psample_cmp(const void *x, const void *y)
{
    return labels_cmp(&((const struct psample *)x)->ls, &((const struct psample *)y)->ls);
}

static void psamples_format(const struct psample *v, size_t n, struct sbuf *out)
{
    if (!n) {
        sbuf_puts(out, "nil");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char f[64];
        if (i)
            sbuf_puts(out, ", ");
        label_set_format(&v[i].ls, out);
        sbuf_printf(out, " %s", go_format_float_exp(v[i].v, 'E', f, sizeof f));
    }
}

static void psamples_free(struct psample *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        label_set_free(&v[i].ls);
    free(v);
}

/* ParseMetric: a selector of equality matchers, into a label set. */
static int parse_metric(const char *text, struct label_set *ls, char *err, size_t errsz)
{
    if (!text[0])
        return 0; /* a scalar's sample: no labels */
    struct promql_arena *a = promql_arena_new();
    struct promql_parse_error pe;
    struct promql_expr *e = promql_parse_selector(a, text, strlen(text), &pe);
    int rc = 0;
    if (!e) {
        snprintf(err, errsz, "%s", pe.msg);
        rc = -1;
    }
    for (size_t i = 0; e && i < e->vs.nmatchers; i++)
        label_set_set(ls, e->vs.matchers[i].name, e->vs.matchers[i].value);
    promql_arena_free(a);
    return rc;
}

struct psamples {
    struct psample *v;
    size_t n;
};

static void psample_add(void *ctx, const struct labels *ls, double v)
{
    struct psamples *p = ctx;
    p->v = xrealloc(p->v, (p->n + 1) * sizeof *p->v);
    struct psample *s = &p->v[p->n++];
    *s = (struct psample){.ls = LABEL_SET_INIT, .v = v};
    for (size_t k = 0; k < ls->n; k++)
        label_set_set(&s->ls, ls->v[k].name, ls->v[k].value);
}

static int run_query(struct tg_run *t, const char *q, int64_t at, struct psample **out, size_t *n,
                     char *err, size_t errsz)
{
    struct promql_eval_opts opts = {.default_step_ms = t->eval_interval};
    struct psamples p = {0};
    int rc = rule_query_each(t->db, q, at, &opts, psample_add, &p,
                             "rule result is not a vector or scalar", err, errsz);
    if (rc < 0) {
        psamples_free(p.v, p.n);
        p = (struct psamples){0};
    }
    *out = p.v;
    *n = p.n;
    return rc;
}

static bool float_same(double a, double b, bool fuzzy)
{
    if (a == b)
        return true;
    return fuzzy && fabs(a - b) <= 1e-12 * fmax(fabs(a), fabs(b));
}

static void check_expr_case(struct tg_run *t, const struct rule_test_expr_case *c)
{
    char d[64], err[1024];
    const char *expr = c->expr ? c->expr : "";
    duration_format(c->eval_time, d, sizeof d);
    struct psample *got;
    size_t ngot;
    struct sbuf m = SBUF_INIT;
    if (run_query(t, expr, c->eval_time, &got, &ngot, err, sizeof err) < 0) {
        sbuf_puts(&m, "    expr: ");
        go_quote(&m, expr, strlen(expr));
        sbuf_printf(&m, ", time: %s, err: %s", d, err);
        err_add(t->errs, &m);
        return;
    }
    struct psample *exp = xcalloc(c->n_exp_samples + 1, sizeof *exp);
    size_t nexp = 0;
    for (size_t i = 0; i < c->n_exp_samples; i++, nexp++) {
        const char *lt = c->exp_samples[i].labels ? c->exp_samples[i].labels : "";
        exp[i].v = c->exp_samples[i].value;
        if (parse_metric(lt, &exp[i].ls, err, sizeof err) < 0) {
            sbuf_puts(&m, "    expr: ");
            go_quote(&m, expr, strlen(expr));
            sbuf_printf(&m, ", time: %s, err: labels ", d);
            go_quote(&m, lt, strlen(lt));
            sbuf_printf(&m, ": %s", err);
            err_add(t->errs, &m);
            psamples_free(exp, nexp + 1);
            psamples_free(got, ngot);
            return;
        }
    }
    if (nexp)
        qsort(exp, nexp, sizeof *exp, psample_cmp);
    if (ngot)
        qsort(got, ngot, sizeof *got, psample_cmp);
    bool same = nexp == ngot;
    for (size_t i = 0; same && i < nexp; i++)
        same = psample_cmp(&exp[i], &got[i]) == 0 &&
               float_same(exp[i].v, got[i].v, t->file->fuzzy_compare);
    if (!same) {
        sbuf_puts(&m, "    expr: ");
        go_quote(&m, expr, strlen(expr));
        sbuf_printf(&m, ", time: %s,\n        exp: ", d);
        psamples_format(exp, nexp, &m);
        sbuf_puts(&m, "\n        got: ");
        psamples_format(got, ngot, &m);
        err_add(t->errs, &m);
    }
    psamples_free(exp, nexp);
    psamples_free(got, ngot);
}

/* ---- driving a group ---- */

/* Evaluates every group at ts; an evaluation error is reported and ends
 * the test group (returns -1). */
static int eval_round(struct tg_run *t, int64_t ts)
{
    int rc = 0;
    for (size_t i = 0; i < t->ngroups; i++) {
        struct rule_group *g = t->groups[i];
        rule_group_eval(g, ts, ts);
        for (size_t j = 0; j < g->nrules; j++) {
            if (!g->rules[j].last_error)
                continue;
            struct sbuf m = SBUF_INIT;
            char d[64];
            sbuf_printf(&m, "    rule: %s, time: %s, err: %s", g->rules[j].name,
                        duration_format_go(ts, d, sizeof d), g->rules[j].last_error);
            err_add(t->errs, &m);
            rc = -1;
        }
    }
    return rc;
}

static int cmp_case_time(const void *x, const void *y)
{
    const struct rule_test_alert_case *a = *(const struct rule_test_alert_case *const *)x;
    const struct rule_test_alert_case *b = *(const struct rule_test_alert_case *const *)y;
    return a->eval_time < b->eval_time ? -1 : a->eval_time > b->eval_time;
}

static void run_alert_tests(struct tg_run *t)
{
    const struct rule_test_group *tg = t->tg;
    int64_t maxt = 0;
    const struct rule_test_alert_case **cases = xcalloc(tg->n_alert_tests + 1, sizeof *cases);
    for (size_t i = 0; i < tg->n_alert_tests; i++) {
        cases[i] = &tg->alert_tests[i];
        if (tg->alert_tests[i].eval_time > maxt)
            maxt = tg->alert_tests[i].eval_time;
    }
    if (tg->n_alert_tests)
        qsort(cases, tg->n_alert_tests, sizeof *cases, cmp_case_time);
    size_t cur = 0;
    for (int64_t ts = 0; ts <= maxt; ts += t->eval_interval) {
        if (eval_round(t, ts) < 0)
            break;
        while (cur < tg->n_alert_tests && cases[cur]->eval_time >= ts &&
               cases[cur]->eval_time < ts + t->eval_interval)
            check_alert_case(t, cases[cur++]);
    }
    free(cases);
}

/* Checks promtool's up-front conditions; false after reporting one. */
static bool group_valid(struct tg_run *t)
{
    for (size_t i = 0; i < t->tg->n_alert_tests; i++) {
        const struct rule_test_alert_case *c = &t->tg->alert_tests[i];
        if (c->alertname && c->alertname[0])
            continue;
        struct sbuf m = SBUF_INIT;
        char d[64];
        sbuf_printf(&m,
                    "an item under alert_rule_test misses required attribute alertname at "
                    "eval_time %s",
                    duration_format(c->eval_time, d, sizeof d));
        if (t->tg->name && t->tg->name[0])
            sbuf_printf(&m, " (in TestGroup %s)", t->tg->name);
        err_add(t->errs, &m);
        return false;
    }
    return true;
}

static int load_inputs(struct tg_run *t, int64_t interval, char *err, size_t errsz)
{
    size_t n = t->tg->n_input_series;
    char **lines = xcalloc(n + 1, sizeof *lines);
    for (size_t i = 0; i < n; i++) {
        struct sbuf l = SBUF_INIT;
        const struct rule_test_series *s = &t->tg->input_series[i];
        sbuf_printf(&l, "%s %s", s->series ? s->series : "", s->values ? s->values : "");
        lines[i] = sbuf_detach(&l);
    }
    int rc = promqltest_load(t->db, (const char *const *)lines, n, interval, err, errsz);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    return rc;
}

static void run_group(const struct rule_test_file *f, const struct rule_test_group *tg,
                      struct errlist *errs)
{
    struct tg_run t = {.file = f, .tg = tg, .errs = errs};
    t.eval_interval = f->evaluation_interval ? f->evaluation_interval : 60000;
    int64_t interval = tg->interval ? tg->interval : t.eval_interval;
    char dir[] = "/tmp/vigil-ruletest-XXXXXX", err[1024];
    struct sbuf m = SBUF_INIT;
    if (!mkdtemp(dir)) {
        sbuf_puts(&m, "cannot create a temporary directory");
        err_add(errs, &m);
        return;
    }
    struct tsdb_options o = {0};
    if (tsdb_open(dir, &o, &t.db, err, sizeof err) < 0 ||
        load_inputs(&t, interval, err, sizeof err) < 0) {
        sbuf_puts(&m, err);
        err_add(errs, &m);
        goto out;
    }
    struct rule_env env = {
        .db = t.db,
        .external_url = tg->external_url ? tg->external_url : "",
        .eval = {.default_step_ms = t.eval_interval},
        .resend_delay_ms = 60000,
        .outage_tolerance_ms = 3600000,
        .grace_period_ms = 600000,
    };
    if (rule_groups_load(&f->rule_files, &env, &tg->external_labels, interval, 0, true, &t.groups,
                         &t.ngroups, err, sizeof err) < 0) {
        sbuf_puts(&m, err);
        err_add(errs, &m);
        goto out;
    }
    groups_order(&t);
    if (group_valid(&t)) {
        run_alert_tests(&t);
        for (size_t i = 0; i < tg->n_expr_tests; i++)
            check_expr_case(&t, &tg->expr_tests[i]);
    }
out:
    for (size_t i = 0; i < t.ngroups; i++)
        rule_group_free(t.groups[i]);
    free(t.groups);
    if (t.db)
        tsdb_close(t.db);
    fs_remove_tree(dir);
}

static int run_file(const char *path, FILE *out)
{
    fprintf(out, "Unit Testing:  %s\n", path);
    struct rule_test_file *f;
    struct conf_error ce;
    struct errlist errs = {0};
    if (rule_test_file_load(path, &f, &ce) < 0) {
        struct sbuf m = SBUF_INIT;
        sbuf_puts(&m, ce.msg);
        err_add(&errs, &m);
    } else {
        for (size_t i = 0; i < f->n_tests; i++)
            run_group(f, &f->tests[i], &errs);
        rule_test_file_free(f);
    }
    if (errs.n) {
        fflush(out);
        fprintf(stderr, "  FAILED:\n");
        for (size_t i = 0; i < errs.n; i++) {
            fprintf(stderr, "%s\n", errs.v[i]);
            fflush(stderr);
            fprintf(out, "\n");
        }
    } else {
        fprintf(out, "  SUCCESS\n");
    }
    fprintf(out, "\n");
    fflush(out);
    int failed = errs.n > 0;
    errlist_free(&errs);
    return failed;
}

int rules_unittest_run(const char *const *files, size_t nfiles, FILE *out)
{
    int failed = 0;
    for (size_t i = 0; i < nfiles; i++)
        failed |= run_file(files[i], out);
    return failed ? 1 : 0;
}
