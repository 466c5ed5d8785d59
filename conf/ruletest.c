/* ruletest.c — promtool's rule unit-test files (`promtool test rules`):
 * decoded strictly, as promtool's yaml.UnmarshalStrict does, into struct
 * rule_test_file.  The runner lives in alerting/rules_unittest.c; this file
 * only knows the format.
 *
 * rule_files are resolved against the test file's directory and globbed,
 * as promtool's resolveAndGlobFilepaths does; a glob that matches nothing
 * is an error there, and here. */
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/config.h"
#include "conf/yaml_tree.h"
#include "util/sbuf.h"

static int dec_series(struct ydec *d, const struct ynode *n, void *out)
{
    static const struct yfield f[] = {
        YFIELD(struct rule_test_series, series, ydec_string),
        YFIELD(struct rule_test_series, values, ydec_string),
        {0},
    };
    return ydec_map(d, n, f, out, NULL);
}

static int dec_alert(struct ydec *d, const struct ynode *n, void *out)
{
    static const struct yfield f[] = {
        YFIELD(struct rule_test_alert, exp_labels, ydec_strmap),
        YFIELD(struct rule_test_alert, exp_annotations, ydec_strmap),
        {0},
    };
    return ydec_map(d, n, f, out, NULL);
}

static int dec_alerts(struct ydec *d, const struct ynode *n, void *out)
{
    struct rule_test_alert_case *c = out;
    return ydec_seq(d, n, &c->exp_alerts, &c->n_exp_alerts, sizeof *c->exp_alerts, dec_alert);
}

static int dec_alert_case(struct ydec *d, const struct ynode *n, void *out)
{
    static const struct yfield f[] = {
        YFIELD(struct rule_test_alert_case, eval_time, ydec_duration),
        YFIELD(struct rule_test_alert_case, alertname, ydec_string),
        {"exp_alerts", dec_alerts, 0},
        {0},
    };
    return ydec_map(d, n, f, out, NULL);
}

static int dec_sample(struct ydec *d, const struct ynode *n, void *out)
{
    static const struct yfield f[] = {
        YFIELD(struct rule_test_sample, labels, ydec_string),
        YFIELD(struct rule_test_sample, value, ydec_float),
        YFIELD(struct rule_test_sample, histogram, ydec_string),
        {0},
    };
    return ydec_map(d, n, f, out, NULL);
}

static int dec_samples(struct ydec *d, const struct ynode *n, void *out)
{
    struct rule_test_expr_case *c = out;
    return ydec_seq(d, n, &c->exp_samples, &c->n_exp_samples, sizeof *c->exp_samples, dec_sample);
}

static int dec_expr_case(struct ydec *d, const struct ynode *n, void *out)
{
    static const struct yfield f[] = {
        YFIELD(struct rule_test_expr_case, expr, ydec_string),
        YFIELD(struct rule_test_expr_case, eval_time, ydec_duration),
        {"exp_samples", dec_samples, 0},
        {0},
    };
    return ydec_map(d, n, f, out, NULL);
}

static int dec_input(struct ydec *d, const struct ynode *n, void *out)
{
    struct rule_test_group *g = out;
    return ydec_seq(d, n, &g->input_series, &g->n_input_series, sizeof *g->input_series,
                    dec_series);
}

static int dec_alert_cases(struct ydec *d, const struct ynode *n, void *out)
{
    struct rule_test_group *g = out;
    return ydec_seq(d, n, &g->alert_tests, &g->n_alert_tests, sizeof *g->alert_tests,
                    dec_alert_case);
}

static int dec_expr_cases(struct ydec *d, const struct ynode *n, void *out)
{
    struct rule_test_group *g = out;
    return ydec_seq(d, n, &g->expr_tests, &g->n_expr_tests, sizeof *g->expr_tests, dec_expr_case);
}

static int dec_group(struct ydec *d, const struct ynode *n, void *out)
{
    static const struct yfield f[] = {
        YFIELD(struct rule_test_group, interval, ydec_duration),
        {"input_series", dec_input, 0},
        {"alert_rule_test", dec_alert_cases, 0},
        {"promql_expr_test", dec_expr_cases, 0},
        YFIELD(struct rule_test_group, external_labels, ydec_strmap),
        YFIELD(struct rule_test_group, external_url, ydec_string),
        YFIELD_NAMED("name", struct rule_test_group, name, ydec_string),
        {0},
    };
    return ydec_map(d, n, f, out, NULL);
}

static int dec_groups(struct ydec *d, const struct ynode *n, void *out)
{
    struct rule_test_file *t = out;
    return ydec_seq(d, n, &t->tests, &t->n_tests, sizeof *t->tests, dec_group);
}

/* Relative names are joined to the test file's directory, then globbed. */
static int resolve_rule_files(struct rule_test_file *t, const char *path, struct conf_error *err)
{
    char *dup = xstrdup(path);
    const char *dir = dirname(dup);
    struct ystrlist out = {0};
    int rc = 0;
    for (size_t i = 0; i < t->rule_files.n && rc == 0; i++) {
        const char *f = t->rule_files.v[i];
        struct sbuf p = SBUF_INIT;
        if (f[0] == '/')
            sbuf_puts(&p, f);
        else
            sbuf_printf(&p, "%s/%s", dir, f);
        glob_t g;
        if (glob(p.data, 0, NULL, &g) != 0) {
            snprintf(err->msg, sizeof err->msg, "%s: no files match pattern \"%s\"", path, p.data);
            rc = -1;
        } else {
            out.v = xrealloc(out.v, (out.n + g.gl_pathc + 1) * sizeof *out.v);
            for (size_t j = 0; j < g.gl_pathc; j++)
                out.v[out.n++] = xstrdup(g.gl_pathv[j]);
            globfree(&g);
        }
        sbuf_free(&p);
    }
    free(dup);
    ystrlist_free(&t->rule_files);
    t->rule_files = out;
    return rc;
}

int rule_test_file_load(const char *path, struct rule_test_file **out, struct conf_error *err)
{
    struct ytree tree;
    if (ytree_load_file(&tree, path, err) < 0)
        return -1;
    static const struct yfield f[] = {
        YFIELD(struct rule_test_file, rule_files, ydec_strlist),
        YFIELD(struct rule_test_file, evaluation_interval, ydec_duration),
        YFIELD(struct rule_test_file, group_eval_order, ydec_strlist),
        {"tests", dec_groups, 0},
        YFIELD(struct rule_test_file, fuzzy_compare, ydec_bool),
        {0},
    };
    struct rule_test_file *t = xcalloc(1, sizeof *t);
    struct ydec d;
    ydec_init(&d, path, err);
    int rc = tree.root && tree.root->kind != YNODE_NULL ? ydec_map(&d, tree.root, f, t, NULL) : 0;
    ytree_free(&tree);
    if (rc == 0)
        rc = resolve_rule_files(t, path, err);
    if (rc < 0) {
        rule_test_file_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

static void group_free(struct rule_test_group *g)
{
    for (size_t i = 0; i < g->n_input_series; i++) {
        free(g->input_series[i].series);
        free(g->input_series[i].values);
    }
    free(g->input_series);
    for (size_t i = 0; i < g->n_alert_tests; i++) {
        struct rule_test_alert_case *c = &g->alert_tests[i];
        free(c->alertname);
        for (size_t j = 0; j < c->n_exp_alerts; j++) {
            ystrmap_free(&c->exp_alerts[j].exp_labels);
            ystrmap_free(&c->exp_alerts[j].exp_annotations);
        }
        free(c->exp_alerts);
    }
    free(g->alert_tests);
    for (size_t i = 0; i < g->n_expr_tests; i++) {
        struct rule_test_expr_case *c = &g->expr_tests[i];
        free(c->expr);
        for (size_t j = 0; j < c->n_exp_samples; j++) {
            free(c->exp_samples[j].labels);
            free(c->exp_samples[j].histogram);
        }
        free(c->exp_samples);
    }
    free(g->expr_tests);
    ystrmap_free(&g->external_labels);
    free(g->external_url);
    free(g->name);
}

void rule_test_file_free(struct rule_test_file *t)
{
    if (!t)
        return;
    ystrlist_free(&t->rule_files);
    ystrlist_free(&t->group_eval_order);
    for (size_t i = 0; i < t->n_tests; i++)
        group_free(&t->tests[i]);
    free(t->tests);
    free(t);
}
