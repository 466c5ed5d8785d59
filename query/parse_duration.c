/* parse_duration.c — number literals and duration expressions.
 *
 * A duration in PromQL is a number of seconds: "5m" and "300" mean the same
 * range, and Prometheus 3 lets ranges, subquery steps and offsets be
 * arithmetic on such numbers: [5m+30s], [2*step()], offset -(1h/2),
 * [min_of(step(), 1m)].  Constant parts fold into a number literal where
 * Prometheus folds them (a sign on a literal), everything else stays a
 * PROMQL_EXPR_DURATION tree that the evaluator computes once step() and
 * range() are known.  Inside brackets the full arithmetic grammar applies;
 * after "offset" only one operand does, so that "foo offset 5m - 8" is
 * (foo offset 5m) - 8 and "foo offset -2^2" is (foo offset -2)^2; longer
 * offset expressions need parentheses.
 *
 * Checks made here, worded as in Prometheus: literals must fit a Go
 * time.Duration ("duration out of range"), ranges and steps that are
 * literals must be positive, a literal zero divisor is rejected, and
 * arithmetic needs the duration-expression feature. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "query/promql_internal.h"

enum { DUR_PREC_ADD = 4, DUR_PREC_MUL = 5, DUR_PREC_POW = 6 };

/* Prometheus accepts NaN here and then computes with whatever its Go
 * build makes of int64(NaN); a NaN duration is rejected instead. */
bool duration_literal_out_of_range(double seconds)
{
    return isnan(seconds) || seconds > 9223372036.854775807 || seconds < -9223372036.854775808;
}

/* time.Duration(math.Round(s * 1e9)) truncated to milliseconds, as
 * Prometheus's engine converts durations. */
int64_t duration_seconds_to_ms(double seconds)
{
    double ns = round(seconds * 1e9);
    if (isnan(ns) || ns >= 9223372036854775807.0 || ns <= -9223372036854775808.0)
        return isnan(ns) || ns < 0 ? INT64_MIN / 1000000 : INT64_MAX / 1000000;
    return (int64_t)ns / 1000000;
}

/* Go's Duration.Seconds(). */
static double duration_ns_seconds(int64_t ns)
{
    return (double)(ns / 1000000000) + (double)(ns % 1000000000) / 1e9;
}

struct promql_expr *parse_number_literal(struct parser *p)
{
    struct token t = parser_take(p);
    struct promql_expr *e =
        parser_new_expr(p, PROMQL_EXPR_NUMBER, PROMQL_SCALAR, t.pos, t.pos + t.len);
    char err[400];
    if (t.type == TOK_DURATION) {
        int64_t ns;
        if (model_duration_parse(t.val, t.len, &ns, err, sizeof err) < 0)
            parser_fail(p, t.pos, t.pos + t.len, "%s", err);
        e->number.value = duration_ns_seconds(ns);
        e->number.duration = true;
        return e;
    }
    if (go_parse_number(t.val, t.len, &e->number.value, err, sizeof err) < 0)
        parser_fail(p, t.pos, t.pos + t.len, "error parsing number: %s", err);
    return e;
}

static struct promql_expr *dur_new(struct parser *p, enum promql_op op,
                                   const struct promql_expr *lhs, const struct promql_expr *rhs,
                                   size_t start, size_t end)
{
    struct promql_expr *e = parser_new_expr(p, PROMQL_EXPR_DURATION, PROMQL_SCALAR, start, end);
    e->duration.op = op;
    e->duration.lhs = lhs;
    e->duration.rhs = rhs;
    return e;
}

static struct promql_expr *dur_literal(struct parser *p)
{
    struct promql_expr *e = parse_number_literal(p);
    if (duration_literal_out_of_range(e->number.value))
        parser_fail(p, e->pos.start, e->pos.end, "duration out of range");
    return e;
}

static void dur_experimental(struct parser *p, const struct promql_expr *e)
{
    if (!(p->features & PROMQL_FEATURE_DURATION_EXPR))
        parser_fail(p, e->pos.start, e->pos.end, "experimental duration expression is not enabled");
}

/* (e): a duration tree is marked as written in parentheses; a literal is
 * wrapped in a unary plus so that it prints with its parentheses. */
static struct promql_expr *dur_wrap(struct parser *p, struct promql_expr *e, size_t start,
                                    size_t end)
{
    if (e->kind == PROMQL_EXPR_DURATION) {
        e->duration.wrapped = true;
        return e;
    }
    struct promql_expr *w = dur_new(p, PROMQL_OP_ADD, NULL, e, start, end);
    w->duration.wrapped = true;
    return w;
}

static struct promql_expr *dur_expr(struct parser *p, int min_prec);

static struct token dur_expect(struct parser *p, enum tok t)
{
    if (parser_peek(p)->type != t)
        parser_syntax_error(p);
    return parser_take(p);
}

/* step() or range(); the keyword is the lookahead. */
static struct promql_expr *dur_step_range(struct parser *p)
{
    struct token kw = parser_take(p);
    dur_expect(p, TOK_LEFT_PAREN);
    struct token close = dur_expect(p, TOK_RIGHT_PAREN);
    return dur_new(p, kw.type == TOK_STEP ? PROMQL_OP_STEP : PROMQL_OP_RANGE, NULL, NULL, kw.pos,
                   close.pos + 1);
}

/* min_of(a, b) or max_of(a, b); positioned as Prometheus does, from a to b. */
static struct promql_expr *dur_min_max(struct parser *p)
{
    enum promql_op op = parser_take(p).type == TOK_MIN_OF ? PROMQL_OP_MIN_OF : PROMQL_OP_MAX_OF;
    dur_expect(p, TOK_LEFT_PAREN);
    struct promql_expr *a = dur_expr(p, 1);
    dur_expect(p, TOK_COMMA);
    struct promql_expr *b = dur_expr(p, 1);
    dur_expect(p, TOK_RIGHT_PAREN);
    return dur_new(p, op, a, b, a->pos.start, b->pos.end);
}

/* "(" duration ")"; the lookahead is "(". */
static struct promql_expr *dur_paren(struct parser *p, struct promql_expr **inner_out)
{
    struct token open = parser_take(p);
    struct promql_expr *inner = dur_expr(p, 1);
    struct token close = dur_expect(p, TOK_RIGHT_PAREN);
    dur_experimental(p, inner);
    if (inner_out)
        *inner_out = inner;
    return dur_wrap(p, inner, open.pos, close.pos + 1);
}

static struct promql_expr *dur_primary(struct parser *p)
{
    switch (parser_peek(p)->type) {
    case TOK_NUMBER:
    case TOK_DURATION:
        return dur_literal(p);
    case TOK_STEP:
    case TOK_RANGE:
        return dur_step_range(p);
    case TOK_MIN_OF:
    case TOK_MAX_OF:
        return dur_min_max(p);
    case TOK_LEFT_PAREN:
        return dur_paren(p, NULL);
    default:
        parser_syntax_error(p);
    }
}

/* A sign before a duration operand: folded into a literal, else a unary
 * node (a plus disappears). */
static struct promql_expr *dur_apply_sign(struct parser *p, const struct token *op,
                                          struct promql_expr *operand)
{
    if (operand->kind == PROMQL_EXPR_NUMBER) {
        if (op->type == TOK_SUB)
            operand->number.value = -operand->number.value;
        if (duration_literal_out_of_range(operand->number.value))
            parser_fail(p, op->pos, op->pos + op->len, "duration out of range");
        operand->pos.start = (uint32_t)op->pos;
        return operand;
    }
    if (op->type == TOK_ADD)
        return operand;
    return dur_new(p, PROMQL_OP_SUB, NULL, operand, op->pos, operand->pos.end);
}

static struct promql_expr *dur_unary(struct parser *p)
{
    enum tok t = parser_peek(p)->type;
    if (t != TOK_ADD && t != TOK_SUB)
        return dur_primary(p);
    struct token op = parser_take(p);
    return dur_apply_sign(p, &op, dur_expr(p, DUR_PREC_POW));
}

static int dur_prec(enum tok t, enum promql_op *op)
{
    switch (t) {
    case TOK_ADD:
        *op = PROMQL_OP_ADD;
        return DUR_PREC_ADD;
    case TOK_SUB:
        *op = PROMQL_OP_SUB;
        return DUR_PREC_ADD;
    case TOK_MUL:
        *op = PROMQL_OP_MUL;
        return DUR_PREC_MUL;
    case TOK_DIV:
        *op = PROMQL_OP_DIV;
        return DUR_PREC_MUL;
    case TOK_MOD:
        *op = PROMQL_OP_MOD;
        return DUR_PREC_MUL;
    case TOK_POW:
        *op = PROMQL_OP_POW;
        return DUR_PREC_POW;
    default:
        return 0;
    }
}

static struct promql_expr *dur_expr(struct parser *p, int min_prec)
{
    if (++p->depth > PARSE_MAX_DEPTH) {
        const struct token *t = parser_peek(p);
        parser_fail(p, t->pos, t->pos + t->len, "expression nesting too deep");
    }
    struct promql_expr *lhs = dur_unary(p);
    for (;;) {
        enum promql_op op;
        int prec = dur_prec(parser_peek(p)->type, &op);
        if (prec == 0 || prec < min_prec)
            break;
        struct token optok = parser_take(p);
        struct promql_expr *rhs = dur_expr(p, prec == DUR_PREC_POW ? prec : prec + 1);
        dur_experimental(p, lhs);
        if ((op == PROMQL_OP_DIV || op == PROMQL_OP_MOD) && rhs->kind == PROMQL_EXPR_NUMBER &&
            rhs->number.value == 0)
            parser_fail(p, optok.pos, optok.pos + 1,
                        op == PROMQL_OP_DIV ? "division by zero" : "modulo by zero");
        lhs = dur_new(p, op, lhs, rhs, lhs->pos.start, rhs->pos.end);
    }
    p->depth--;
    return lhs;
}

struct promql_expr *parse_range_duration(struct parser *p)
{
    struct promql_expr *e = dur_expr(p, 1);
    if (e->kind == PROMQL_EXPR_NUMBER && e->number.value <= 0)
        parser_fail(p, e->pos.start, e->pos.end, "duration must be greater than 0");
    return e;
}

/* After "offset": one operand, optionally signed. */
struct promql_expr *parse_offset_duration(struct parser *p)
{
    enum tok t = parser_peek(p)->type;
    if (t != TOK_ADD && t != TOK_SUB)
        return dur_primary(p);
    struct token op = parser_take(p);
    switch (parser_peek(p)->type) {
    case TOK_NUMBER:
    case TOK_DURATION:
        return dur_apply_sign(p, &op, parse_number_literal(p));
    case TOK_STEP:
    case TOK_RANGE:
    case TOK_MIN_OF:
    case TOK_MAX_OF: {
        struct promql_expr *f = dur_primary(p);
        return dur_new(p, op.type == TOK_SUB ? PROMQL_OP_SUB : PROMQL_OP_ADD, NULL, f, op.pos,
                       f->pos.end);
    }
    case TOK_LEFT_PAREN: {
        struct promql_expr *inner;
        struct promql_expr *w = dur_paren(p, &inner);
        if (w != inner) /* a wrapped literal takes the literal's position */
            w->pos = inner->pos;
        return dur_apply_sign(p, &op, w);
    }
    default:
        parser_syntax_error(p);
    }
}

/* ---- Evaluation (for the engine) -------------------------------------- */

/* Prometheus's DurationExpr.PositionRange(). */
static void dur_position(const struct promql_expr *e, size_t *start, size_t *end)
{
    *start = e->pos.start;
    *end = e->pos.end;
    if (e->kind == PROMQL_EXPR_DURATION && e->duration.rhs && e->duration.op != PROMQL_OP_STEP &&
        e->duration.op != PROMQL_OP_RANGE)
        *end = e->duration.rhs->pos.end;
}

static int dur_eval(const struct promql_expr *e, double step, double range, double *out, char *err,
                    size_t errsz)
{
    if (e->kind == PROMQL_EXPR_NUMBER) {
        *out = e->number.value;
        return 0;
    }
    double l = 0, r = 0;
    if (e->duration.lhs && dur_eval(e->duration.lhs, step, range, &l, err, errsz) < 0)
        return -1;
    if (e->duration.rhs && dur_eval(e->duration.rhs, step, range, &r, err, errsz) < 0)
        return -1;
    size_t start, end;
    dur_position(e, &start, &end);
    switch (e->duration.op) {
    case PROMQL_OP_STEP:
        *out = step;
        return 0;
    case PROMQL_OP_RANGE:
        *out = range;
        return 0;
    case PROMQL_OP_MIN_OF:
        *out = isnan(l) || isnan(r) ? NAN : fmin(l, r);
        return 0;
    case PROMQL_OP_MAX_OF:
        *out = isnan(l) || isnan(r) ? NAN : fmax(l, r);
        return 0;
    case PROMQL_OP_ADD:
        *out = e->duration.lhs ? l + r : r;
        return 0;
    case PROMQL_OP_SUB:
        *out = e->duration.lhs ? l - r : -r;
        return 0;
    case PROMQL_OP_MUL:
        *out = l * r;
        return 0;
    case PROMQL_OP_POW:
        *out = pow(l, r);
        return 0;
    case PROMQL_OP_DIV:
    case PROMQL_OP_MOD:
        if (r == 0) {
            snprintf(err, errsz, "%zu:%zu: %s by zero", start, end,
                     e->duration.op == PROMQL_OP_DIV ? "division" : "modulo");
            return -1;
        }
        *out = e->duration.op == PROMQL_OP_DIV ? l / r : fmod(l, r);
        return 0;
    default:
        snprintf(err, errsz, "unexpected duration expression operator \"%s\"",
                 promql_op_name(e->duration.op));
        return -1;
    }
}

int promql_duration_eval(const struct promql_expr *e, int64_t step_ms, int64_t range_ms,
                         bool allow_negative, int64_t *ms, char *err, size_t errsz)
{
    double d;
    if (dur_eval(e, (double)step_ms / 1000, (double)range_ms / 1000, &d, err, errsz) < 0)
        return -1;
    size_t start, end;
    dur_position(e, &start, &end);
    if (d <= 0 && !allow_negative) {
        snprintf(err, errsz, "%zu:%zu: duration must be greater than 0", start, end);
        return -1;
    }
    double v = d * 1000;
    if (isnan(v) || v >= 9223372036854775807.0 || v <= -9223372036854775808.0) {
        snprintf(err, errsz, "%zu:%zu: duration is out of range", start, end);
        return -1;
    }
    *ms = (int64_t)v;
    return 0;
}
