/* rulefile.c — Prometheus rule files (rulefmt): groups of recording and
 * alerting rules.
 *
 * A rule file is `groups:` only; each group has a name unique in the file,
 * an optional interval, limit, query_offset and labels, and its rules.  A
 * rule is exactly one of `record` (a metric name; no for, keep_firing_for or
 * annotations) or `alert`, with an `expr`, and optional labels (and
 * annotations for alerts).  We apply the checks of Prometheus 3's
 * rulefmt.Parse in its order, stopping at the first error, which carries the
 * file, line and column of the offending node and its path
 * ("rules.yml:14:15: groups[1].rules[0].record: invalid recording rule
 * name: a{b}").
 *
 * Label and annotation values of alerting rules are Go templates; checking
 * them belongs to the template engine, and checking `expr` to the PromQL
 * parser: the caller may pass a validator for expressions (see
 * rule_file_options), which this file calls once per rule. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/prom_internal.h"
#include "util/sbuf.h"

static const struct yfield rule_fields[] = {
    YFIELD(struct rule_file_rule, record, ydec_string),
    YFIELD(struct rule_file_rule, alert, ydec_string),
    YFIELD(struct rule_file_rule, expr, ydec_string),
    YFIELD_NAMED("for", struct rule_file_rule, for_ms, ydec_duration),
    YFIELD_NAMED("keep_firing_for", struct rule_file_rule, keep_firing_for_ms, ydec_duration),
    YFIELD(struct rule_file_rule, labels, ydec_strmap),
    YFIELD(struct rule_file_rule, annotations, ydec_strmap),
    {NULL, NULL, 0},
};

static int dec_rule(struct ydec *d, const struct ynode *n, void *out)
{
    struct rule_file_rule *r = out;
    r->pos = (struct prom_pos){n->line, n->col};
    if (ydec_map(d, n, rule_fields, r, NULL) < 0)
        return -1;
    const struct ynode *e = ynode_get(n, "expr");
    r->expr_pos = e ? (struct prom_pos){e->line, e->col} : r->pos;
    /* Go's zero value for an absent or null string is "". */
    if (r->record && !*r->record) {
        free(r->record);
        r->record = NULL;
    }
    if (r->alert && !*r->alert) {
        free(r->alert);
        r->alert = NULL;
    }
    return 0;
}

/* Like ydec_seq, but null entries are dropped, as Prometheus's yaml.v3
 * decoding of rule files drops them ("groups: [~]" is an empty file). */
static int seq_without_nulls(struct ydec *d, const struct ynode *n, void *arr, size_t elem_size,
                             ydec_fn item)
{
    size_t *count = (size_t *)((char *)arr + sizeof(void *));
    if (n->kind != YNODE_SEQ)
        return ydec_fail(d, n, "expected a list, got %s",
                         n->kind == YNODE_MAP ? "a mapping" : "a scalar");
    char *base = xcalloc(n->n ? n->n : 1, elem_size);
    *(void **)arr = base;
    *count = 0;
    for (size_t i = 0; i < n->n; i++) {
        if (ynode_is_null(n->items[i]))
            continue;
        size_t old = ydec_push_index(d, i);
        if (item(d, n->items[i], base + (*count)++ * elem_size) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

/* The node of the i-th non-null entry of seq; *orig gets its index. */
static const struct ynode *nth_entry(const struct ynode *seq, size_t i, size_t *orig)
{
    for (size_t k = 0; k < seq->n; k++) {
        if (ynode_is_null(seq->items[k]))
            continue;
        if (i-- == 0) {
            *orig = k;
            return seq->items[k];
        }
    }
    *orig = 0;
    return seq;
}

static int dec_rules(struct ydec *d, const struct ynode *n, void *out)
{
    return seq_without_nulls(d, n, out, sizeof(struct rule_file_rule), dec_rule);
}

_Static_assert(offsetof(struct rule_file_group, n_rules) ==
                   offsetof(struct rule_file_group, rules) + sizeof(void *),
               "n_rules must follow rules");
_Static_assert(offsetof(struct rule_file, n_groups) ==
                   offsetof(struct rule_file, groups) + sizeof(void *),
               "n_groups must follow groups");

static int dec_query_offset(struct ydec *d, const struct ynode *n, void *out)
{
    struct rule_file_group *g =
        (struct rule_file_group *)((char *)out - offsetof(struct rule_file_group, query_offset_ms));
    if (ydec_duration(d, n, out) < 0)
        return -1;
    g->has_query_offset = true;
    return 0;
}

static const struct yfield group_fields[] = {
    YFIELD(struct rule_file_group, name, ydec_string),
    YFIELD_NAMED("interval", struct rule_file_group, interval_ms, ydec_duration),
    YFIELD_NAMED("query_offset", struct rule_file_group, query_offset_ms, dec_query_offset),
    YFIELD(struct rule_file_group, limit, ydec_int),
    YFIELD(struct rule_file_group, rules, dec_rules),
    YFIELD(struct rule_file_group, labels, ydec_strmap),
    {NULL, NULL, 0},
};

static int dec_group(struct ydec *d, const struct ynode *n, void *out)
{
    struct rule_file_group *g = out;
    g->pos = (struct prom_pos){n->line, n->col};
    return ydec_map(d, n, group_fields, g, NULL);
}

static int dec_groups(struct ydec *d, const struct ynode *n, void *out)
{
    return seq_without_nulls(d, n, out, sizeof(struct rule_file_group), dec_group);
}

static const struct yfield file_fields[] = {
    YFIELD(struct rule_file, groups, dec_groups),
    {NULL, NULL, 0},
};

/* ---- validation ---- */

struct rule_check {
    struct ydec *d;
    const struct rule_file_options *opts;
};

/* Fails at the key `name` of mapping `field` inside map (labels, ...). */
static int fail_at_key(struct ydec *d, const struct ynode *map, const char *field, const char *name,
                       const char *fmt, const char *arg)
{
    const struct ynode *m = ynode_get(map, field);
    for (size_t i = 0; m && i < m->n; i++) {
        if (strcmp(m->items[2 * i]->s, name) == 0) {
            ydec_push_field(d, field);
            return ydec_fail(d, m->items[2 * i], fmt, arg);
        }
    }
    return ydec_fail(d, map, fmt, arg);
}

static int labels_check(struct rule_check *rc, const struct ynode *map, const struct ystrmap *l)
{
    for (size_t i = 0; i < l->n; i++) {
        if (!prom_label_name_is_valid(l->keys[i], rc->opts->names) ||
            strcmp(l->keys[i], "__name__") == 0)
            return fail_at_key(rc->d, map, "labels", l->keys[i], "invalid label name: %s",
                               l->keys[i]);
        if (!prom_utf8_is_valid(l->values[i]))
            return fail_at_key(rc->d, map, "labels", l->keys[i], "invalid label value: %s",
                               l->values[i]);
    }
    return 0;
}

static int record_check(struct rule_check *rc, const struct ynode *n,
                        const struct rule_file_rule *r)
{
    struct ydec *d = rc->d;
    if (r->annotations.n > 0)
        return prom_fail_at(d, n, "annotations", "invalid field 'annotations' in recording rule");
    if (r->for_ms != 0)
        return prom_fail_at(d, n, "for", "invalid field 'for' in recording rule");
    if (r->keep_firing_for_ms != 0)
        return prom_fail_at(d, n, "keep_firing_for",
                            "invalid field 'keep_firing_for' in recording rule");
    if (!prom_metric_name_is_valid(r->record, rc->opts->names))
        return prom_fail_at(d, n, "record", "invalid recording rule name: %s", r->record);
    if (strchr(r->record, '{') || strchr(r->record, '}'))
        return prom_fail_at(d, n, "record",
                            "braces present in the recording rule name; should it be in expr?: %s",
                            r->record);
    return 0;
}

static int expr_check(struct rule_check *rc, const struct ynode *n, const struct rule_file_rule *r)
{
    if (!r->expr || !*r->expr)
        return prom_fail_at(rc->d, n, "expr", "field 'expr' must be set in rule");
    if (!rc->opts->validate_expr)
        return 0;
    char msg[512] = "";
    if (rc->opts->validate_expr(r->expr, rc->opts->validate_arg, msg, sizeof msg) < 0)
        return prom_fail_at(rc->d, n, "expr", "could not parse expression: %s", msg);
    return 0;
}

static int rule_check(struct rule_check *rc, const struct ynode *n, const struct rule_file_rule *r)
{
    struct ydec *d = rc->d;
    if (r->record && r->alert)
        return prom_fail_at(d, n, "record", "only one of 'record' and 'alert' must be set");
    if (!r->record && !r->alert)
        return ydec_fail(d, n, "one of 'record' or 'alert' must be set");
    if (expr_check(rc, n, r) < 0)
        return -1;
    if (r->record && record_check(rc, n, r) < 0)
        return -1;
    if (labels_check(rc, n, &r->labels) < 0)
        return -1;
    for (size_t i = 0; i < r->annotations.n; i++)
        if (!prom_label_name_is_valid(r->annotations.keys[i], rc->opts->names))
            return fail_at_key(d, n, "annotations", r->annotations.keys[i],
                               "invalid annotation name: %s", r->annotations.keys[i]);
    return 0;
}

static int group_check(struct rule_check *rc, const struct ynode *n, const struct rule_file *rf,
                       size_t gi)
{
    struct ydec *d = rc->d;
    const struct rule_file_group *g = &rf->groups[gi];
    if (!g->name || !*g->name)
        return prom_fail_at(d, n, "name", "Groupname must not be empty");
    for (size_t j = 0; j < gi; j++)
        if (strcmp(rf->groups[j].name, g->name) == 0)
            return prom_fail_at(d, n, "name", "groupname: \"%s\" is repeated in the same file",
                                g->name);
    if (labels_check(rc, n, &g->labels) < 0)
        return -1;
    const struct ynode *rules = ynode_get(n, "rules");
    for (size_t i = 0; i < g->n_rules; i++) {
        size_t at, old = ydec_push_field(d, "rules");
        const struct ynode *rn = nth_entry(rules, i, &at);
        ydec_push_index(d, at);
        if (rule_check(rc, rn, &g->rules[i]) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

static int file_check(struct rule_check *rc, const struct ynode *root, const struct rule_file *rf)
{
    const struct ynode *groups = ynode_get(root, "groups");
    for (size_t i = 0; i < rf->n_groups; i++) {
        size_t at, old = ydec_push_field(rc->d, "groups");
        const struct ynode *gn = nth_entry(groups, i, &at);
        ydec_push_index(rc->d, at);
        if (group_check(rc, gn, rf, i) < 0)
            return -1;
        ydec_pop(rc->d, old);
    }
    return 0;
}

/* ---- loading ---- */

static int rule_file_decode(struct ytree *t, const char *name, const struct rule_file_options *opts,
                            struct rule_file **out, struct conf_error *err)
{
    static const struct rule_file_options defaults = {NULL, NULL, PROM_NAMES_UTF8};
    struct rule_file *rf = xcalloc(1, sizeof *rf);
    rf->path = xstrdup(name);
    struct prom_dec pd = {.scheme = opts ? opts->names : PROM_NAMES_UTF8};
    ydec_init(&pd.yd, name, err);
    struct rule_check rc = {&pd.yd, opts ? opts : &defaults};
    int rv = ydec_map(&pd.yd, t->root, file_fields, rf, NULL);
    if (rv == 0)
        rv = file_check(&rc, t->root, rf);
    if (rv < 0) {
        rule_file_free(rf);
        return -1;
    }
    *out = rf;
    return 0;
}

int rule_file_load_opts(const char *path, const struct rule_file_options *opts,
                        struct rule_file **out, struct conf_error *err)
{
    struct ytree t;
    *out = NULL;
    if (ytree_load_file(&t, path, err) < 0)
        return -1;
    int rc = rule_file_decode(&t, path, opts, out, err);
    ytree_free(&t);
    return rc;
}

int rule_file_load(const char *path, struct rule_file **out, struct conf_error *err)
{
    return rule_file_load_opts(path, NULL, out, err);
}

int rule_file_load_string(const char *name, const char *yaml, size_t len,
                          const struct rule_file_options *opts, struct rule_file **out,
                          struct conf_error *err)
{
    struct ytree t;
    *out = NULL;
    if (ytree_load_string(&t, name, yaml, len, err) < 0)
        return -1;
    int rc = rule_file_decode(&t, name, opts, out, err);
    ytree_free(&t);
    return rc;
}

static void rule_free(struct rule_file_rule *r)
{
    free(r->record);
    free(r->alert);
    free(r->expr);
    ystrmap_free(&r->labels);
    ystrmap_free(&r->annotations);
}

void rule_file_free(struct rule_file *rf)
{
    if (!rf)
        return;
    for (size_t i = 0; i < rf->n_groups; i++) {
        struct rule_file_group *g = &rf->groups[i];
        free(g->name);
        for (size_t j = 0; j < g->n_rules; j++)
            rule_free(&g->rules[j]);
        free(g->rules);
        ystrmap_free(&g->labels);
    }
    free(rf->groups);
    free(rf->path);
    free(rf);
}

size_t rule_file_rule_count(const struct rule_file *rf)
{
    size_t n = 0;
    for (size_t i = 0; i < rf->n_groups; i++)
        n += rf->groups[i].n_rules;
    return n;
}
