/* pretty.c — Prometheus's Prettify(), the format_query layout.
 *
 * A node whose one-line form (promql_format) fits in 100 bytes is printed
 * on one line, indented by two spaces per nesting level; a longer one is
 * split: operands of a binary operation on their own lines around the
 * operator line, arguments of a call or aggregation one per line inside
 * "(" and ")".  The rules, quirks included (a subquery that fits is not
 * indented), are Prometheus's, so format_query answers the same text. */
#include <string.h>

#include "query/promql_internal.h"
#include "util/sbuf.h"

enum { PRETTY_MAX_LINE = 100 };

static void pretty(struct sbuf *b, const struct promql_expr *e, int level);

static void indent(struct sbuf *b, int level)
{
    for (int i = 0; i < level; i++)
        sbuf_puts(b, "  ");
}

static bool needs_split(const struct promql_expr *e)
{
    struct sbuf t = SBUF_INIT;
    promql_format(e, &t);
    bool split = t.len > PRETTY_MAX_LINE;
    sbuf_free(&t);
    return split;
}

static void one_line(struct sbuf *b, const struct promql_expr *e, int level)
{
    indent(b, level);
    promql_format(e, b);
}

static void pretty_aggregate(struct sbuf *b, const struct promql_expr *e, int level)
{
    indent(b, level);
    print_aggregate_head(b, e);
    sbuf_puts(b, "(\n");
    if (e->aggregate.param) {
        pretty(b, e->aggregate.param, level + 1);
        sbuf_puts(b, ",\n");
    }
    pretty(b, e->aggregate.expr, level + 1);
    sbuf_putc(b, '\n');
    indent(b, level);
    sbuf_putc(b, ')');
}

static void pretty_binary(struct sbuf *b, const struct promql_expr *e, int level)
{
    pretty(b, e->binary.lhs, level + 1);
    sbuf_putc(b, '\n');
    indent(b, level);
    sbuf_puts(b, promql_op_name(e->binary.op));
    if (e->binary.return_bool)
        sbuf_puts(b, " bool");
    print_vector_matching(b, e);
    sbuf_putc(b, '\n');
    pretty(b, e->binary.rhs, level + 1);
}

static void pretty_call(struct sbuf *b, const struct promql_expr *e, int level)
{
    indent(b, level);
    sbuf_puts(b, e->call.func->name);
    sbuf_puts(b, "(\n");
    for (size_t i = 0; i < e->call.nargs; i++) {
        if (i)
            sbuf_puts(b, ",\n");
        pretty(b, e->call.args[i], level + 1);
    }
    sbuf_putc(b, '\n');
    indent(b, level);
    sbuf_putc(b, ')');
}

static void pretty_unary(struct sbuf *b, const struct promql_expr *e, int level)
{
    struct sbuf child = SBUF_INIT;
    pretty(&child, e->unary.expr, level);
    size_t s = 0, n = child.len;
    while (s < n && strchr(" \t\n\r", child.data[s]))
        s++;
    while (n > s && strchr(" \t\n\r", child.data[n - 1]))
        n--;
    indent(b, level);
    sbuf_puts(b, promql_op_name(e->unary.op));
    sbuf_append(b, child.data + s, n - s);
    sbuf_free(&child);
}

static void pretty(struct sbuf *b, const struct promql_expr *e, int level)
{
    switch (e->kind) {
    case PROMQL_EXPR_UNARY:
        pretty_unary(b, e, level);
        return;
    case PROMQL_EXPR_SUBQUERY:
        if (!needs_split(e)) {
            promql_format(e, b);
            return;
        }
        pretty(b, e->subquery.expr, level);
        print_subquery_suffix(b, e);
        return;
    case PROMQL_EXPR_AGGREGATE:
    case PROMQL_EXPR_BINARY:
    case PROMQL_EXPR_CALL:
    case PROMQL_EXPR_PAREN:
        if (!needs_split(e)) {
            one_line(b, e, level);
            return;
        }
        break;
    default:
        one_line(b, e, level);
        return;
    }
    switch (e->kind) {
    case PROMQL_EXPR_AGGREGATE:
        pretty_aggregate(b, e, level);
        break;
    case PROMQL_EXPR_BINARY:
        pretty_binary(b, e, level);
        break;
    case PROMQL_EXPR_CALL:
        pretty_call(b, e, level);
        break;
    default: /* paren */
        indent(b, level);
        sbuf_puts(b, "(\n");
        pretty(b, e->paren.expr, level + 1);
        sbuf_putc(b, '\n');
        indent(b, level);
        sbuf_putc(b, ')');
        break;
    }
}

void promql_format_pretty(const struct promql_expr *e, struct sbuf *out)
{
    pretty(out, e, 0);
}
