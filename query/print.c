/* print.c — an AST back to PromQL text, as Prometheus's Expr.String().
 *
 * The canonical form is what rule files, alert annotations and the
 * format_query API show, so it follows Prometheus byte for byte: single
 * spaces around binary operators, "sum by (a) (x)" with the grouping first,
 * matchers sorted by their printed text with the metric name pulled out in
 * front, strings double-quoted with Go's escapes, numbers in Go's shortest
 * fixed-point form ("1e+21" prints as "1000000000000000000000"), numbers
 * written as durations printed back as durations, and @ times with three
 * decimals.  Parentheses come only from ParenExpr nodes and duration
 * expressions written in parentheses; the tree needs no others because
 * its shape already is the precedence. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "query/promql_internal.h"
#include "util/sbuf.h"

static void print_expr(struct sbuf *b, const struct promql_expr *e);

void print_label_list(struct sbuf *b, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_puts(b, ", ");
        if (label_name_is_legacy(names[i]))
            sbuf_puts(b, names[i]);
        else
            go_quote(b, names[i], strlen(names[i]));
    }
}

static void print_matcher(struct sbuf *b, const struct label_matcher *m)
{
    static const char *const ops[] = {"=", "!=", "=~", "!~"};
    if (label_name_is_legacy(m->name))
        sbuf_puts(b, m->name);
    else
        go_quote(b, m->name, strlen(m->name));
    sbuf_puts(b, ops[m->type]);
    go_quote(b, m->value, strlen(m->value));
}

static int compare_cstr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* name{matchers}, the matchers sorted as Prometheus sorts their text. */
static void print_selector_core(struct sbuf *b, const struct promql_expr *vs)
{
    const char *name = vs->vs.name;
    size_t n = vs->vs.nmatchers, k = 0;
    char **texts = xcalloc(n ? n : 1, sizeof *texts);
    for (size_t i = 0; i < n; i++) {
        const struct label_matcher *m = &vs->vs.matchers[i];
        if (name && m->type == LABEL_MATCH_EQ && strcmp(m->name, "__name__") == 0 &&
            strcmp(m->value, name) == 0 && m->value[0])
            continue;
        struct sbuf t = SBUF_INIT;
        print_matcher(&t, m);
        texts[k++] = sbuf_detach(&t);
    }
    if (name)
        sbuf_puts(b, name);
    if (!k && !name)
        /* Only info()'s second argument can be empty.  Prometheus prints
         * nothing here, which does not parse back; "{}" does. */
        sbuf_puts(b, "{}");
    if (k) {
        qsort(texts, k, sizeof *texts, compare_cstr);
        sbuf_putc(b, '{');
        for (size_t i = 0; i < k; i++) {
            if (i)
                sbuf_putc(b, ',');
            sbuf_puts(b, texts[i]);
            free(texts[i]);
        }
        sbuf_putc(b, '}');
    }
    free(texts);
}

static void print_duration_ms(struct sbuf *b, int64_t ms)
{
    if (ms < 0) {
        sbuf_putc(b, '-');
        ms = -ms;
    }
    model_duration_format(b, ms);
}

static void print_at(struct sbuf *b, const struct promql_time_mods *m)
{
    switch (m->at) {
    case PROMQL_AT_TIMESTAMP:
        sbuf_printf(b, " @ %.3f", (double)m->at_ms / 1000.0);
        break;
    case PROMQL_AT_START:
        sbuf_puts(b, " @ start()");
        break;
    case PROMQL_AT_END:
        sbuf_puts(b, " @ end()");
        break;
    case PROMQL_AT_NONE:
        break;
    }
}

static void print_offset(struct sbuf *b, const struct promql_time_mods *m)
{
    if (m->offset_expr) {
        sbuf_puts(b, " offset ");
        print_expr(b, m->offset_expr);
    } else if (m->offset_ms != 0) {
        sbuf_puts(b, " offset ");
        print_duration_ms(b, m->offset_ms);
    }
}

static void print_range_modifier(struct sbuf *b, const struct promql_expr *vs)
{
    if (vs->vs.anchored)
        sbuf_puts(b, " anchored");
    else if (vs->vs.smoothed)
        sbuf_puts(b, " smoothed");
}

static void print_vector_selector(struct sbuf *b, const struct promql_expr *e)
{
    print_selector_core(b, e);
    print_at(b, &e->vs.mods);
    print_range_modifier(b, e);
    print_offset(b, &e->vs.mods);
}

static void print_range(struct sbuf *b, int64_t ms, const struct promql_expr *expr)
{
    if (expr)
        print_expr(b, expr);
    else
        print_duration_ms(b, ms);
}

static void print_matrix_selector(struct sbuf *b, const struct promql_expr *e)
{
    const struct promql_expr *vs = e->matrix.vs;
    print_selector_core(b, vs);
    sbuf_putc(b, '[');
    print_range(b, e->matrix.range_ms, e->matrix.range_expr);
    sbuf_putc(b, ']');
    print_range_modifier(b, vs);
    print_at(b, &vs->vs.mods);
    print_offset(b, &vs->vs.mods);
}

void print_subquery_suffix(struct sbuf *b, const struct promql_expr *e)
{
    sbuf_putc(b, '[');
    print_range(b, e->subquery.range_ms, e->subquery.range_expr);
    sbuf_putc(b, ':');
    if (e->subquery.step_ms != 0)
        print_duration_ms(b, e->subquery.step_ms);
    else if (e->subquery.step_expr)
        print_expr(b, e->subquery.step_expr);
    sbuf_putc(b, ']');
    print_at(b, &e->subquery.mods);
    print_offset(b, &e->subquery.mods);
}

static void print_number(struct sbuf *b, const struct promql_expr *e)
{
    double v = e->number.value;
    if (!e->number.duration) {
        go_format_float_f(b, v);
        return;
    }
    /* model.Duration(v * 1e9).String(), the nanoseconds truncated. */
    double ns = (v < 0 ? -v : v) * 1e9;
    int64_t ms = ns >= 9.2e18 ? INT64_MAX / 1000000 : (int64_t)ns / 1000000;
    if (v < 0)
        sbuf_putc(b, '-');
    model_duration_format(b, ms);
}

void print_vector_matching(struct sbuf *b, const struct promql_expr *e)
{
    const struct promql_vector_matching *m = e->binary.matching;
    if (!m)
        return;
    bool grouped = m->card == PROMQL_CARD_MANY_TO_ONE || m->card == PROMQL_CARD_ONE_TO_MANY;
    if (m->nlabels > 0 || m->on || grouped) {
        sbuf_puts(b, m->on ? " on (" : " ignoring (");
        print_label_list(b, m->labels, m->nlabels);
        sbuf_putc(b, ')');
    }
    if (grouped) {
        sbuf_puts(b, m->card == PROMQL_CARD_MANY_TO_ONE ? " group_left (" : " group_right (");
        print_label_list(b, m->include, m->ninclude);
        sbuf_putc(b, ')');
    }
    if (m->fill_lhs_set && m->fill_rhs_set && m->fill_lhs == m->fill_rhs) {
        sbuf_puts(b, " fill (");
        go_format_float_v(b, m->fill_lhs);
        sbuf_putc(b, ')');
        return;
    }
    if (m->fill_lhs_set) {
        sbuf_puts(b, " fill_left (");
        go_format_float_v(b, m->fill_lhs);
        sbuf_putc(b, ')');
    }
    if (m->fill_rhs_set) {
        sbuf_puts(b, " fill_right (");
        go_format_float_v(b, m->fill_rhs);
        sbuf_putc(b, ')');
    }
}

/* "lhs op[ bool][ matching] rhs" for a chain, walked along its left spine. */
static void print_binary(struct sbuf *b, const struct promql_expr *e)
{
    size_t n = 0;
    for (const struct promql_expr *x = e; x->kind == PROMQL_EXPR_BINARY; x = x->binary.lhs)
        n++;
    const struct promql_expr **spine = xcalloc(n, sizeof *spine);
    size_t i = n;
    for (const struct promql_expr *x = e; x->kind == PROMQL_EXPR_BINARY; x = x->binary.lhs)
        spine[--i] = x;
    const struct promql_expr *first = spine[0]->binary.lhs;
    if (spine[0]->binary.op == PROMQL_OP_POW && first->kind == PROMQL_EXPR_NUMBER &&
        isinf(first->number.value) && first->number.value > 0)
        /* Prometheus prints "+Inf ^ x", which parses back as +(Inf ^ x):
         * without the sign the text means what the tree does. */
        sbuf_puts(b, "Inf");
    else
        print_expr(b, first);
    for (i = 0; i < n; i++) {
        const struct promql_expr *x = spine[i];
        sbuf_putc(b, ' ');
        sbuf_puts(b, promql_op_name(x->binary.op));
        if (x->binary.return_bool)
            sbuf_puts(b, " bool");
        print_vector_matching(b, x);
        sbuf_putc(b, ' ');
        print_expr(b, x->binary.rhs);
    }
    free(spine);
}

void print_aggregate_head(struct sbuf *b, const struct promql_expr *e)
{
    sbuf_puts(b, promql_agg_op_name(e->aggregate.op));
    if (e->aggregate.without || e->aggregate.ngrouping > 0) {
        sbuf_puts(b, e->aggregate.without ? " without (" : " by (");
        print_label_list(b, e->aggregate.grouping, e->aggregate.ngrouping);
        sbuf_puts(b, ") ");
    }
}

static void print_aggregate(struct sbuf *b, const struct promql_expr *e)
{
    print_aggregate_head(b, e);
    sbuf_putc(b, '(');
    if (e->aggregate.param) {
        print_expr(b, e->aggregate.param);
        sbuf_puts(b, ", ");
    }
    print_expr(b, e->aggregate.expr);
    sbuf_putc(b, ')');
}

static void print_call(struct sbuf *b, const struct promql_expr *e)
{
    sbuf_puts(b, e->call.func->name);
    sbuf_putc(b, '(');
    for (size_t i = 0; i < e->call.nargs; i++) {
        if (i)
            sbuf_puts(b, ", ");
        print_expr(b, e->call.args[i]);
    }
    sbuf_putc(b, ')');
}

static void print_duration_expr(struct sbuf *b, const struct promql_expr *e)
{
    enum promql_op op = e->duration.op;
    if (e->duration.wrapped)
        sbuf_putc(b, '(');
    if (op == PROMQL_OP_STEP || op == PROMQL_OP_RANGE) {
        sbuf_puts(b, op == PROMQL_OP_STEP ? "step()" : "range()");
    } else if (op == PROMQL_OP_MIN_OF || op == PROMQL_OP_MAX_OF) {
        sbuf_puts(b, promql_op_name(op));
        sbuf_putc(b, '(');
        print_expr(b, e->duration.lhs);
        sbuf_puts(b, ", ");
        print_expr(b, e->duration.rhs);
        sbuf_putc(b, ')');
    } else if (!e->duration.lhs) {
        if (op == PROMQL_OP_SUB)
            sbuf_putc(b, '-');
        print_expr(b, e->duration.rhs);
    } else {
        print_expr(b, e->duration.lhs);
        sbuf_printf(b, " %s ", promql_op_name(op));
        print_expr(b, e->duration.rhs);
    }
    if (e->duration.wrapped)
        sbuf_putc(b, ')');
}

static void print_expr(struct sbuf *b, const struct promql_expr *e)
{
    switch (e->kind) {
    case PROMQL_EXPR_NUMBER:
        print_number(b, e);
        break;
    case PROMQL_EXPR_STRING:
        go_quote(b, e->string.value, e->string.len);
        break;
    case PROMQL_EXPR_VECTOR_SELECTOR:
        print_vector_selector(b, e);
        break;
    case PROMQL_EXPR_MATRIX_SELECTOR:
        print_matrix_selector(b, e);
        break;
    case PROMQL_EXPR_SUBQUERY:
        print_expr(b, e->subquery.expr);
        print_subquery_suffix(b, e);
        break;
    case PROMQL_EXPR_PAREN:
        sbuf_putc(b, '(');
        print_expr(b, e->paren.expr);
        sbuf_putc(b, ')');
        break;
    case PROMQL_EXPR_UNARY:
        sbuf_puts(b, promql_op_name(e->unary.op));
        print_expr(b, e->unary.expr);
        break;
    case PROMQL_EXPR_BINARY:
        print_binary(b, e);
        break;
    case PROMQL_EXPR_AGGREGATE:
        print_aggregate(b, e);
        break;
    case PROMQL_EXPR_CALL:
        print_call(b, e);
        break;
    case PROMQL_EXPR_DURATION:
        print_duration_expr(b, e);
        break;
    }
}

void promql_format(const struct promql_expr *e, struct sbuf *out)
{
    print_expr(out, e);
}

/* ---- Walking ---------------------------------------------------------- */

int promql_expr_walk(const struct promql_expr *e, int (*fn)(const struct promql_expr *e, void *ctx),
                     void *ctx)
{
    int rc = fn(e, ctx);
    if (rc)
        return rc;
    switch (e->kind) {
    case PROMQL_EXPR_MATRIX_SELECTOR:
        return promql_expr_walk(e->matrix.vs, fn, ctx);
    case PROMQL_EXPR_SUBQUERY:
        return promql_expr_walk(e->subquery.expr, fn, ctx);
    case PROMQL_EXPR_PAREN:
        return promql_expr_walk(e->paren.expr, fn, ctx);
    case PROMQL_EXPR_UNARY:
        return promql_expr_walk(e->unary.expr, fn, ctx);
    case PROMQL_EXPR_BINARY:
        rc = promql_expr_walk(e->binary.lhs, fn, ctx);
        return rc ? rc : promql_expr_walk(e->binary.rhs, fn, ctx);
    case PROMQL_EXPR_AGGREGATE:
        rc = promql_expr_walk(e->aggregate.expr, fn, ctx);
        if (rc || !e->aggregate.param)
            return rc;
        return promql_expr_walk(e->aggregate.param, fn, ctx);
    case PROMQL_EXPR_CALL:
        for (size_t i = 0; i < e->call.nargs; i++)
            if ((rc = promql_expr_walk(e->call.args[i], fn, ctx)))
                return rc;
        return 0;
    default:
        return 0;
    }
}

struct selector_collect {
    const struct promql_expr **out;
    size_t cap, n;
};

static int selector_collect_one(const struct promql_expr *e, void *ctx)
{
    struct selector_collect *c = ctx;
    if (e->kind == PROMQL_EXPR_VECTOR_SELECTOR) {
        if (c->n < c->cap)
            c->out[c->n] = e;
        c->n++;
    }
    return 0;
}

size_t promql_expr_selectors(const struct promql_expr *e, const struct promql_expr **out,
                             size_t cap)
{
    struct selector_collect c = {out, cap, 0};
    promql_expr_walk(e, selector_collect_one, &c);
    return c.n;
}
