/* check.c — type checking of a parsed query (Prometheus's checkAST).
 *
 * Runs once the whole text parsed, over the tree in the order Prometheus
 * visits it, so that the first error found is the one Prometheus reports:
 * a binary operation checks both operands before itself, an aggregation
 * its operand before its parameter, a call its argument count before its
 * arguments.  Besides reporting errors it settles two things the grammar
 * leaves open: set operators match many-to-many, and an operation that is
 * not between two instant vectors loses its vector matching.
 *
 * Long operator chains ("a + b + c + ...") make trees as deep as they are
 * long, so binary nodes are checked along their left spine iteratively;
 * every other kind of nesting is bounded by the parser's depth limit. */
#include <stdio.h>
#include <string.h>

#include "query/promql_internal.h"
#include "util/sbuf.h"

static void check_node(struct parser *p, struct promql_expr *e);

static bool is_space_byte(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Where the operator of a binary expression starts (its opRange). */
static size_t binary_op_start(const struct parser *p, const struct promql_expr *e)
{
    size_t i = e->binary.lhs->pos.end;
    while (i < p->len && is_space_byte(p->input[i]))
        i++;
    return i;
}

static void expect_type(struct parser *p, struct promql_expr *e, enum promql_type want,
                        const char *context)
{
    check_node(p, e);
    if (e->type != want)
        parser_fail(p, e->pos.start, e->pos.end, "expected type %s in %s, got %s",
                    promql_type_name(want), context, promql_type_name(e->type));
}

static void check_aggregate(struct parser *p, struct promql_expr *e)
{
    expect_type(p, e->aggregate.expr, PROMQL_VECTOR, "aggregation expression");
    switch (e->aggregate.op) {
    case PROMQL_AGG_TOPK:
    case PROMQL_AGG_BOTTOMK:
    case PROMQL_AGG_QUANTILE:
    case PROMQL_AGG_LIMITK:
    case PROMQL_AGG_LIMIT_RATIO:
        expect_type(p, e->aggregate.param, PROMQL_SCALAR, "aggregation parameter");
        break;
    case PROMQL_AGG_COUNT_VALUES:
        expect_type(p, e->aggregate.param, PROMQL_STRING, "aggregation parameter");
        break;
    default:
        break;
    }
}

static void fail_on_and_group(struct parser *p, const struct promql_vector_matching *m,
                              size_t op_at)
{
    for (size_t i = 0; m->on && i < m->nlabels; i++)
        for (size_t j = 0; j < m->ninclude; j++) {
            if (strcmp(m->labels[i], m->include[j]) != 0)
                continue;
            struct sbuf b = SBUF_INIT;
            go_quote(&b, m->labels[i], strlen(m->labels[i]));
            char q[300];
            snprintf(q, sizeof q, "%s", b.data);
            sbuf_free(&b);
            parser_fail(p, op_at, op_at, "label %s must not occur in ON and GROUP clause at once",
                        q);
        }
}

/* Vector matching is for two instant vectors, and set operators match
 * many-to-many without fill. */
static void check_vector_matching(struct parser *p, struct promql_expr *e, enum promql_type lt,
                                  enum promql_type rt)
{
    struct promql_vector_matching *m = e->binary.matching;
    bool fill = m->fill_lhs_set || m->fill_rhs_set;
    if (lt != PROMQL_VECTOR || rt != PROMQL_VECTOR) {
        if (m->nlabels > 0)
            parser_fail(p, e->pos.start, e->pos.end,
                        "vector matching only allowed between instant vectors");
        if (fill)
            parser_fail(p, e->pos.start, e->pos.end,
                        "filling in missing series only allowed between instant vectors");
        e->binary.matching = NULL;
    } else if (promql_op_is_set(e->binary.op)) {
        if (m->card == PROMQL_CARD_ONE_TO_MANY || m->card == PROMQL_CARD_MANY_TO_ONE)
            parser_fail(p, e->pos.start, e->pos.end, "no grouping allowed for \"%s\" operation",
                        promql_op_name(e->binary.op));
        if (m->card != PROMQL_CARD_MANY_TO_MANY)
            parser_fail(p, e->pos.start, e->pos.end, "set operations must always be many-to-many");
        if (fill)
            parser_fail(p, e->pos.start, e->pos.end,
                        "filling in missing series not allowed for set operators");
    }
}

/* The operator's own rules, once both operands are checked. */
static void check_binary_self(struct parser *p, struct promql_expr *e)
{
    enum promql_op op = e->binary.op;
    enum promql_type lt = e->binary.lhs->type, rt = e->binary.rhs->type;
    struct promql_vector_matching *m = e->binary.matching;
    size_t op_at = binary_op_start(p, e);
    if (e->binary.return_bool && !promql_op_is_comparison(op))
        parser_fail(p, op_at, op_at, "bool modifier can only be used on comparison operators");
    if (promql_op_is_comparison(op) && !e->binary.return_bool && lt == PROMQL_SCALAR &&
        rt == PROMQL_SCALAR)
        parser_fail(p, op_at, op_at, "comparisons between scalars must use BOOL modifier");
    if (promql_op_is_set(op) && m->card == PROMQL_CARD_ONE_TO_ONE)
        m->card = PROMQL_CARD_MANY_TO_MANY;
    fail_on_and_group(p, m, op_at);
    if (lt != PROMQL_SCALAR && lt != PROMQL_VECTOR)
        parser_fail(p, e->binary.lhs->pos.start, e->binary.lhs->pos.end,
                    "binary expression must contain only scalar and instant vector types");
    if (rt != PROMQL_SCALAR && rt != PROMQL_VECTOR)
        parser_fail(p, e->binary.rhs->pos.start, e->binary.rhs->pos.end,
                    "binary expression must contain only scalar and instant vector types");
    check_vector_matching(p, e, lt, rt);
    if ((lt == PROMQL_SCALAR || rt == PROMQL_SCALAR) && promql_op_is_set(op))
        parser_fail(p, e->pos.start, e->pos.end,
                    "set operator \"%s\" not allowed in binary scalar expression",
                    promql_op_name(op));
}

/* A chain of binary operations: left spine bottom-up, so that each node's
 * left operand is fully checked before its right one and itself. */
static void check_binary(struct parser *p, struct promql_expr *e)
{
    size_t n = 0;
    for (struct promql_expr *x = e; x->kind == PROMQL_EXPR_BINARY; x = x->binary.lhs)
        n++;
    struct promql_expr **spine = promql_arena_alloc(p->arena, n * sizeof *spine);
    size_t i = n;
    for (struct promql_expr *x = e; x->kind == PROMQL_EXPR_BINARY; x = x->binary.lhs)
        spine[--i] = x;
    check_node(p, spine[0]->binary.lhs);
    for (i = 0; i < n; i++) {
        check_node(p, spine[i]->binary.rhs);
        check_binary_self(p, spine[i]);
    }
}

static void check_call_arity(struct parser *p, const struct promql_expr *e)
{
    const struct promql_function *f = e->call.func;
    size_t nargs = e->call.nargs;
    char q[128];
    struct sbuf b = SBUF_INIT;
    go_quote(&b, f->name, strlen(f->name));
    snprintf(q, sizeof q, "%s", b.data);
    sbuf_free(&b);
    if (f->variadic == 0) {
        if ((size_t)f->nargs != nargs)
            parser_fail(p, e->pos.start, e->pos.end,
                        "expected %d argument(s) in call to %s, got %zu", f->nargs, q, nargs);
        return;
    }
    size_t min = (size_t)f->nargs - 1;
    if (min > nargs)
        parser_fail(p, e->pos.start, e->pos.end,
                    "expected at least %zu argument(s) in call to %s, got %zu", min, q, nargs);
    if (f->variadic > 0 && min + (size_t)f->variadic < nargs)
        parser_fail(p, e->pos.start, e->pos.end,
                    "expected at most %zu argument(s) in call to %s, got %zu",
                    min + (size_t)f->variadic, q, nargs);
}

/* info(v, {label selectors}): the second argument selects info metrics by
 * labels only and may match everything. */
static void check_info(struct parser *p, struct promql_expr *e)
{
    struct promql_expr *sel = e->call.args[1];
    if (sel->type != PROMQL_VECTOR)
        parser_fail(p, e->pos.start, e->pos.end,
                    "expected type instant vector in call to function \"info\", got %s",
                    promql_type_name(sel->type));
    if (sel->kind != PROMQL_EXPR_VECTOR_SELECTOR)
        parser_fail(p, sel->pos.start, sel->pos.end, "expected label selectors only");
    if (sel->vs.name)
        parser_fail(p, sel->pos.start, sel->pos.end,
                    "expected label selectors only, got vector selector instead");
    sel->vs.bypass_empty_check = true;
}

static void check_call(struct parser *p, struct promql_expr *e)
{
    const struct promql_function *f = e->call.func;
    check_call_arity(p, e);
    if (f->id == PROMQL_FN_INFO && e->call.nargs > 1)
        check_info(p, e);
    for (size_t i = 0; i < e->call.nargs; i++) {
        size_t k = i;
        if (k >= (size_t)f->nargs) {
            if (f->variadic == 0)
                break;
            k = (size_t)f->nargs - 1;
        }
        struct promql_expr *arg = e->call.args[i];
        check_node(p, arg);
        if (arg->type != f->arg_types[k])
            parser_fail(p, arg->pos.start, arg->pos.end,
                        "expected type %s in call to function \"%s\", got %s",
                        promql_type_name(f->arg_types[k]), f->name, promql_type_name(arg->type));
    }
}

static void check_vector_selector(struct parser *p, const struct promql_expr *e)
{
    if (e->vs.name) {
        for (size_t i = 0; i + 1 < e->vs.nmatchers; i++) {
            const struct label_matcher *m = &e->vs.matchers[i];
            if (strcmp(m->name, "__name__") != 0)
                continue;
            struct sbuf b = SBUF_INIT;
            go_quote(&b, e->vs.name, strlen(e->vs.name));
            sbuf_puts(&b, " or ");
            go_quote(&b, m->value, strlen(m->value));
            char q[400];
            snprintf(q, sizeof q, "%s", b.data);
            sbuf_free(&b);
            parser_fail(p, e->pos.start, e->pos.end, "metric name must not be set twice: %s", q);
        }
        return;
    }
    if (!e->vs.bypass_empty_check && promql_matchers_match_empty(e->vs.matchers, e->vs.nmatchers))
        parser_fail(p, e->pos.start, e->pos.end,
                    "vector selector must contain at least one non-empty matcher");
}

static void check_node(struct parser *p, struct promql_expr *e)
{
    switch (e->kind) {
    case PROMQL_EXPR_AGGREGATE:
        check_aggregate(p, e);
        break;
    case PROMQL_EXPR_BINARY:
        check_binary(p, e);
        break;
    case PROMQL_EXPR_CALL:
        check_call(p, e);
        break;
    case PROMQL_EXPR_PAREN:
        check_node(p, e->paren.expr);
        break;
    case PROMQL_EXPR_UNARY: {
        check_node(p, e->unary.expr);
        enum promql_type t = e->unary.expr->type;
        if (t != PROMQL_SCALAR && t != PROMQL_VECTOR)
            parser_fail(p, e->pos.start, e->pos.end,
                        "unary expression only allowed on expressions of type scalar or instant "
                        "vector, got \"%s\"",
                        promql_type_name(t));
        break;
    }
    case PROMQL_EXPR_SUBQUERY:
        check_node(p, e->subquery.expr);
        if (e->subquery.expr->type != PROMQL_VECTOR)
            parser_fail(p, e->pos.start, e->pos.end,
                        "subquery is only allowed on instant vector, got %s instead",
                        promql_type_raw_name(e->subquery.expr->type));
        break;
    case PROMQL_EXPR_MATRIX_SELECTOR:
        check_node(p, e->matrix.vs);
        break;
    case PROMQL_EXPR_VECTOR_SELECTOR:
        check_vector_selector(p, e);
        break;
    case PROMQL_EXPR_NUMBER:
    case PROMQL_EXPR_STRING:
    case PROMQL_EXPR_DURATION:
        break;
    }
}

void check_expr(struct parser *p, const struct promql_expr *e)
{
    check_node(p, (struct promql_expr *)e);
}
