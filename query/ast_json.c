/* ast_json.c — a parsed query as JSON, the shape of Prometheus 3's
 * /api/v1/parse_query (web/api/v1's translateAST).
 *
 * Every node is an object with a "type" and its parts; Go encodes those
 * maps with sorted keys, so the keys here are written in byte order too.
 * Durations are milliseconds, @ timestamps milliseconds or null, number
 * literals strings in Go's 'f' format, and empty lists [] (never null).
 * Known difference: duration expressions (promql-duration-expr) are
 * written as null where Prometheus would show the computed duration. */
#include <string.h>

#include "query/promql.h"
#include "query/promql_internal.h"
#include "util/sbuf.h"

static void put_str(struct sbuf *b, const char *s)
{
    if (!s) {
        sbuf_puts(b, "null");
        return;
    }
    sbuf_put_json_string(b, s, strlen(s));
}

static void put_list(struct sbuf *b, const char *const *v, size_t n)
{
    sbuf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_putc(b, ',');
        put_str(b, v[i]);
    }
    sbuf_putc(b, ']');
}

static const char *match_op(enum label_match_type t)
{
    switch (t) {
    case LABEL_MATCH_NEQ:
        return "!=";
    case LABEL_MATCH_RE:
        return "=~";
    case LABEL_MATCH_NRE:
        return "!~";
    default:
        return "=";
    }
}

static void put_matchers(struct sbuf *b, const struct promql_expr *vs)
{
    sbuf_putc(b, '[');
    for (size_t i = 0; i < vs->vs.nmatchers; i++) {
        const struct label_matcher *m = &vs->vs.matchers[i];
        sbuf_puts(b, i ? ",{\"name\":" : "{\"name\":");
        put_str(b, m->name);
        sbuf_printf(b, ",\"type\":\"%s\",\"value\":", match_op(m->type));
        put_str(b, m->value);
        sbuf_putc(b, '}');
    }
    sbuf_putc(b, ']');
}

/* "offset", "startOrEnd" and "timestamp" of a selector or subquery; the
 * caller writes the keys that sort between them. */
static void put_offset(struct sbuf *b, const struct promql_time_mods *m)
{
    sbuf_printf(b, "\"offset\":%lld", (long long)m->offset_ms);
}

static void put_at(struct sbuf *b, const struct promql_time_mods *m)
{
    sbuf_puts(b, ",\"startOrEnd\":");
    sbuf_puts(b, m->at == PROMQL_AT_START ? "\"start\""
                 : m->at == PROMQL_AT_END ? "\"end\""
                                          : "null");
    sbuf_puts(b, ",\"timestamp\":");
    if (m->at == PROMQL_AT_TIMESTAMP)
        sbuf_printf(b, "%lld", (long long)m->at_ms);
    else
        sbuf_puts(b, "null");
}

const char *promql_type_raw_name(enum promql_type t)
{
    switch (t) {
    case PROMQL_SCALAR:
        return "scalar";
    case PROMQL_VECTOR:
        return "vector";
    case PROMQL_MATRIX:
        return "matrix";
    case PROMQL_STRING:
        return "string";
    case PROMQL_NONE:
        break;
    }
    return "none";
}

static const char *card_name(enum promql_card c)
{
    switch (c) {
    case PROMQL_CARD_MANY_TO_ONE:
        return "many-to-one";
    case PROMQL_CARD_ONE_TO_MANY:
        return "one-to-many";
    case PROMQL_CARD_MANY_TO_MANY:
        return "many-to-many";
    default:
        return "one-to-one";
    }
}

static void node_json(const struct promql_expr *e, struct sbuf *b);

static void call_json(const struct promql_expr *e, struct sbuf *b)
{
    const struct promql_function *f = e->call.func;
    sbuf_puts(b, "{\"args\":[");
    for (size_t i = 0; i < e->call.nargs; i++) {
        if (i)
            sbuf_putc(b, ',');
        node_json(e->call.args[i], b);
    }
    sbuf_puts(b, "],\"func\":{\"argTypes\":[");
    for (int i = 0; i < f->nargs; i++)
        sbuf_printf(b, "%s\"%s\"", i ? "," : "", promql_type_raw_name(f->arg_types[i]));
    sbuf_puts(b, "],\"name\":");
    put_str(b, f->name);
    sbuf_printf(b, ",\"returnType\":\"%s\",\"variadic\":%d},\"type\":\"call\"}",
                promql_type_raw_name(f->return_type), f->variadic);
}

static void binary_json(const struct promql_expr *e, struct sbuf *b)
{
    sbuf_printf(b, "{\"bool\":%s,\"lhs\":", e->binary.return_bool ? "true" : "false");
    node_json(e->binary.lhs, b);
    sbuf_puts(b, ",\"matching\":");
    const struct promql_vector_matching *m = e->binary.matching;
    if (m) {
        sbuf_printf(b, "{\"card\":\"%s\",\"include\":", card_name(m->card));
        put_list(b, m->include, m->ninclude);
        sbuf_puts(b, ",\"labels\":");
        put_list(b, m->labels, m->nlabels);
        sbuf_printf(b, ",\"on\":%s}", m->on ? "true" : "false");
    } else {
        /* Prometheus's grammar gives every binary expression a matching,
         * one-to-one unless modifiers say otherwise. */
        sbuf_puts(b, "{\"card\":\"one-to-one\",\"include\":[],\"labels\":[],\"on\":false}");
    }
    sbuf_puts(b, ",\"op\":");
    put_str(b, promql_op_name(e->binary.op));
    sbuf_puts(b, ",\"rhs\":");
    node_json(e->binary.rhs, b);
    sbuf_puts(b, ",\"type\":\"binaryExpr\"}");
}

static void node_json(const struct promql_expr *e, struct sbuf *b)
{
    switch (e->kind) {
    case PROMQL_EXPR_NUMBER:
        sbuf_puts(b, "{\"type\":\"numberLiteral\",\"val\":\"");
        go_format_float_f(b, e->number.value);
        sbuf_puts(b, "\"}");
        break;
    case PROMQL_EXPR_STRING:
        sbuf_puts(b, "{\"type\":\"stringLiteral\",\"val\":");
        sbuf_put_json_string(b, e->string.value, e->string.len);
        sbuf_putc(b, '}');
        break;
    case PROMQL_EXPR_VECTOR_SELECTOR:
        sbuf_puts(b, "{\"matchers\":");
        put_matchers(b, e);
        sbuf_puts(b, ",\"name\":");
        put_str(b, e->vs.name ? e->vs.name : "");
        sbuf_putc(b, ',');
        put_offset(b, &e->vs.mods);
        put_at(b, &e->vs.mods);
        sbuf_puts(b, ",\"type\":\"vectorSelector\"}");
        break;
    case PROMQL_EXPR_MATRIX_SELECTOR: {
        const struct promql_expr *vs = e->matrix.vs;
        sbuf_puts(b, "{\"matchers\":");
        put_matchers(b, vs);
        sbuf_puts(b, ",\"name\":");
        put_str(b, vs->vs.name ? vs->vs.name : "");
        sbuf_putc(b, ',');
        put_offset(b, &vs->vs.mods);
        sbuf_printf(b, ",\"range\":%lld", (long long)e->matrix.range_ms);
        put_at(b, &vs->vs.mods);
        sbuf_puts(b, ",\"type\":\"matrixSelector\"}");
        break;
    }
    case PROMQL_EXPR_SUBQUERY:
        sbuf_puts(b, "{\"expr\":");
        node_json(e->subquery.expr, b);
        sbuf_putc(b, ',');
        put_offset(b, &e->subquery.mods);
        sbuf_printf(b, ",\"range\":%lld", (long long)e->subquery.range_ms);
        put_at(b, &e->subquery.mods);
        sbuf_printf(b, ",\"step\":%lld,\"type\":\"subquery\"}", (long long)e->subquery.step_ms);
        break;
    case PROMQL_EXPR_PAREN:
        sbuf_puts(b, "{\"expr\":");
        node_json(e->paren.expr, b);
        sbuf_puts(b, ",\"type\":\"parenExpr\"}");
        break;
    case PROMQL_EXPR_UNARY:
        sbuf_puts(b, "{\"expr\":");
        node_json(e->unary.expr, b);
        sbuf_printf(b, ",\"op\":\"%s\",\"type\":\"unaryExpr\"}", promql_op_name(e->unary.op));
        break;
    case PROMQL_EXPR_BINARY:
        binary_json(e, b);
        break;
    case PROMQL_EXPR_AGGREGATE:
        sbuf_puts(b, "{\"expr\":");
        node_json(e->aggregate.expr, b);
        sbuf_puts(b, ",\"grouping\":");
        put_list(b, e->aggregate.grouping, e->aggregate.ngrouping);
        sbuf_printf(b, ",\"op\":\"%s\",\"param\":", promql_agg_op_name(e->aggregate.op));
        if (e->aggregate.param)
            node_json(e->aggregate.param, b);
        else
            sbuf_puts(b, "null");
        sbuf_printf(b, ",\"type\":\"aggregation\",\"without\":%s}",
                    e->aggregate.without ? "true" : "false");
        break;
    case PROMQL_EXPR_CALL:
        call_json(e, b);
        break;
    case PROMQL_EXPR_DURATION:
        sbuf_puts(b, "null");
        break;
    }
}

void promql_ast_json(const struct promql_expr *e, struct sbuf *out)
{
    node_json(e, out);
}
