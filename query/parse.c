/* parse.c — PromQL's grammar as a recursive-descent parser.
 *
 * Prometheus parses with a yacc grammar; this is a hand-written equivalent
 * by precedence climbing.  Binary operators bind, loosest first: or; and,
 * unless; the comparisons; + -; * / % atan2 and the histogram trims </ >/;
 * ^ (right-associative).  A
 * unary sign binds like *, so its operand extends over ^ only: -2^2 is
 * -(2^2), -2*3 is (-2)*3, and a sign on a number literal folds into it.
 * Tighter than any operator are the postfix modifiers of a primary: [range],
 * [range:step], offset, @ and anchored/smoothed, in any order and count
 * (repeats are rejected with Prometheus's semantic errors, not as syntax).
 *
 * Errors.  The first error ends the parse (longjmp to promql_parse), which
 * is also the one Prometheus reports: it collects all errors but prints the
 * first.  To report the same first error, checks that Prometheus makes in
 * a grammar action before it reads the next token are made here before
 * peeking at the next token too; tokens are therefore lexed lazily.
 * Syntax errors are worded by the innermost construct that has an error
 * rule in Prometheus's grammar (aggregation, offset, @, brackets), kept in
 * parser.ctx, so "sum(foo +)" says "unexpected \")\" in aggregation" just
 * as yacc's error recovery makes Prometheus say it.
 *
 * Type checking (check.c) runs after a successful parse, as Prometheus's
 * checkAST does, so its errors come after every syntax error. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "query/promql_internal.h"
#include "util/sbuf.h"

/* ---- Errors ----------------------------------------------------------- */

/* Prometheus's PositionRange.StartPosInput: 1-based line and byte column. */
static void parser_position(const struct parser *p, size_t pos, int *line, int *col)
{
    if (p->len == 0 || pos > p->len) {
        *line = *col = 0;
        return;
    }
    long last_nl = -1;
    int ln = 1;
    for (size_t i = 0; i < pos; i++)
        if (p->input[i] == '\n') {
            last_nl = (long)i;
            ln++;
        }
    *line = ln;
    *col = (int)((long)pos - last_nl);
}

_Noreturn void parser_fail(struct parser *p, size_t start, size_t end, const char *fmt, ...)
{
    struct promql_parse_error *err = p->err;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->detail, sizeof err->detail, fmt, ap);
        va_end(ap);
        parser_position(p, start, &err->line, &err->col);
        err->start = start;
        err->end = end;
        if (p->len == 0)
            snprintf(err->msg, sizeof err->msg, "unknown position: parse error: %s", err->detail);
        else
            snprintf(err->msg, sizeof err->msg, "%d:%d: parse error: %s", err->line, err->col,
                     err->detail);
    }
    p->failed = true;
    longjmp(p->fail, 1);
}

static bool tok_in(enum tok t, enum tok lo, enum tok hi)
{
    return t > lo && t < hi;
}

static bool tok_has_text_name(enum tok t)
{
    return (t >= TOK_LEFT_PAREN && t <= TOK_DOUBLE_COLON) ||
           tok_in(t, TOK_OPERATORS_START, TOK_OPERATORS_END) ||
           tok_in(t, TOK_AGGREGATORS_START, TOK_AGGREGATORS_END) ||
           tok_in(t, TOK_KEYWORDS_START, TOK_KEYWORDS_END) || (t >= TOK_START && t <= TOK_MAX_OF);
}

/* Prometheus's Item.String(). */
static void token_string(struct sbuf *b, const struct token *t)
{
    if (t->type == TOK_EOF) {
        sbuf_puts(b, "EOF");
    } else if (t->type == TOK_IDENTIFIER || t->type == TOK_METRIC_IDENTIFIER) {
        go_quote(b, t->val, t->len);
    } else if (tok_in(t->type, TOK_KEYWORDS_START, TOK_KEYWORDS_END)) {
        sbuf_printf(b, "<%.*s>", (int)t->len, t->val);
    } else if (tok_in(t->type, TOK_OPERATORS_START, TOK_OPERATORS_END)) {
        sbuf_printf(b, "<op:%.*s>", (int)t->len, t->val);
    } else if (tok_in(t->type, TOK_AGGREGATORS_START, TOK_AGGREGATORS_END)) {
        sbuf_printf(b, "<aggr:%.*s>", (int)t->len, t->val);
    } else if (t->len > 10) {
        go_quote_prefix(b, t->val, t->len, 10);
        sbuf_puts(b, "...");
    } else {
        go_quote(b, t->val, t->len);
    }
}

/* Prometheus's Item.desc(). */
static void token_desc(struct sbuf *b, const struct token *t)
{
    if (tok_has_text_name(t->type)) {
        token_string(b, t);
        return;
    }
    switch (t->type) {
    case TOK_EOF:
        sbuf_puts(b, "end of input");
        return;
    case TOK_IDENTIFIER:
        sbuf_puts(b, "identifier ");
        break;
    case TOK_METRIC_IDENTIFIER:
        sbuf_puts(b, "metric identifier ");
        break;
    case TOK_STRING:
        sbuf_puts(b, "string ");
        break;
    case TOK_NUMBER:
        sbuf_puts(b, "number ");
        break;
    case TOK_DURATION:
        sbuf_puts(b, "duration ");
        break;
    default:
        break;
    }
    token_string(b, t);
}

_Noreturn void parser_unexpected(struct parser *p, const char *context, const char *expected)
{
    const struct token *t = parser_peek(p);
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "unexpected ");
    token_desc(&b, t);
    if (context && *context)
        sbuf_printf(&b, " in %s", context);
    if (expected && *expected)
        sbuf_printf(&b, ", expected %s", expected);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", b.data);
    sbuf_free(&b);
    parser_fail(p, t->pos, t->pos + t->len, "%s", msg);
}

_Noreturn void parser_syntax_error(struct parser *p)
{
    switch (p->ctx) {
    case ECTX_AGGREGATION:
        parser_unexpected(p, "aggregation", "");
    case ECTX_OFFSET:
        parser_unexpected(p, "offset", "number, duration, step(), or range()");
    case ECTX_AT:
        parser_unexpected(p, "@", "timestamp");
    case ECTX_RANGE:
        parser_unexpected(p, "subquery or range selector", "number, duration, step(), or range()");
    case ECTX_SUBQ_STEP:
        parser_unexpected(p, "subquery selector", "number, duration, step(), range(), or \"]\"");
    case ECTX_NONE:
        break;
    }
    parser_unexpected(p, "", "");
}

/* ---- Tokens ----------------------------------------------------------- */

const struct token *parser_peek(struct parser *p)
{
    if (!p->have_tok) {
        do
            lexer_next(&p->lex, &p->tok);
        while (p->tok.type == TOK_COMMENT);
        p->have_tok = true;
        if (p->tok.type == TOK_ERROR)
            parser_fail(p, p->tok.pos, p->len, "%s", p->tok.val);
    }
    return &p->tok;
}

struct token parser_take(struct parser *p)
{
    parser_peek(p);
    p->have_tok = false;
    p->prev_end = p->tok.pos + p->tok.len;
    return p->tok;
}

bool parser_accept(struct parser *p, enum tok t)
{
    if (parser_peek(p)->type != t)
        return false;
    parser_take(p);
    return true;
}

static struct token parser_expect(struct parser *p, enum tok t)
{
    if (parser_peek(p)->type != t)
        parser_syntax_error(p);
    return parser_take(p);
}

struct promql_expr *parser_new_expr(struct parser *p, enum promql_expr_kind kind,
                                    enum promql_type type, size_t start, size_t end)
{
    struct promql_expr *e = promql_arena_alloc(p->arena, sizeof *e);
    e->kind = kind;
    e->type = type;
    e->pos.start = (uint32_t)start;
    e->pos.end = (uint32_t)end;
    return e;
}

static char *parser_strdup(struct parser *p, const char *s, size_t n)
{
    return promql_arena_strndup(p->arena, s, n);
}

/* Tokens that may name a metric (Prometheus's metric_identifier). */
static bool tok_is_metric_name(enum tok t)
{
    switch (t) {
    case TOK_IDENTIFIER:
    case TOK_METRIC_IDENTIFIER:
    case TOK_BY:
    case TOK_WITHOUT:
    case TOK_OFFSET:
    case TOK_LAND:
    case TOK_LOR:
    case TOK_LUNLESS:
    case TOK_START:
    case TOK_END:
    case TOK_STEP:
    case TOK_RANGE:
    case TOK_MIN_OF:
    case TOK_MAX_OF:
    case TOK_ANCHORED:
    case TOK_SMOOTHED:
        return true;
    default:
        return tok_in(t, TOK_AGGREGATORS_START, TOK_AGGREGATORS_END);
    }
}

/* Tokens that may name a label in grouping lists (maybe_label). */
static bool tok_is_label_name(enum tok t)
{
    switch (t) {
    case TOK_BOOL:
    case TOK_GROUP_LEFT:
    case TOK_GROUP_RIGHT:
    case TOK_IGNORING:
    case TOK_ON:
    case TOK_ATAN2:
        return true;
    default:
        return tok_is_metric_name(t);
    }
}

bool parser_tok_starts_expr(enum tok t)
{
    switch (t) {
    case TOK_NUMBER:
    case TOK_DURATION:
    case TOK_STRING:
    case TOK_LEFT_BRACE:
    case TOK_LEFT_PAREN:
    case TOK_ADD:
    case TOK_SUB:
        return true;
    default:
        return tok_is_metric_name(t);
    }
}

/* ---- Growable arrays in the arena ------------------------------------- */

struct vec {
    void **v;
    size_t n, cap;
};

static void vec_push(struct parser *p, struct vec *v, void *x)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 4;
        void **nv = promql_arena_alloc(p->arena, cap * sizeof *nv);
        if (v->n)
            memcpy(nv, v->v, v->n * sizeof *nv);
        v->v = nv;
        v->cap = cap;
    }
    v->v[v->n++] = x;
}

/* ---- Label matchers --------------------------------------------------- */

static bool tok_is_match_op(enum tok t)
{
    return t == TOK_EQL || t == TOK_NEQ || t == TOK_EQL_REGEX || t == TOK_NEQ_REGEX;
}

static const char *parser_unquote(struct parser *p, const struct token *t, size_t *len)
{
    size_t n = 0;
    const char *s = go_unquote(p->arena, t->val, t->len, &n);
    if (!s) {
        struct sbuf b = SBUF_INIT;
        go_quote(&b, t->val, t->len);
        char q[300];
        snprintf(q, sizeof q, "%s", b.data);
        sbuf_free(&b);
        parser_fail(p, t->pos, t->pos + t->len, "error unquoting string %s: invalid syntax", q);
    }
    if (len)
        *len = n;
    return s;
}

/* labels.NewMatcher: regex matchers must be valid RE2. */
static void parser_make_matcher(struct parser *p, struct label_matcher *m, const struct token *name,
                                const char *label, enum tok op, const struct token *value)
{
    size_t vlen;
    m->name = label;
    m->value = parser_unquote(p, value, &vlen);
    /* Label names and values are C strings in Vigil's storage: a NUL
     * would silently cut the value (and change what a regex means), so
     * it is refused instead. */
    if (memchr(m->value, '\0', vlen))
        parser_fail(p, value->pos, value->pos + value->len,
                    "label matcher value contains a NUL byte");
    switch (op) {
    case TOK_NEQ:
        m->type = LABEL_MATCH_NEQ;
        break;
    case TOK_EQL_REGEX:
        m->type = LABEL_MATCH_RE;
        break;
    case TOK_NEQ_REGEX:
        m->type = LABEL_MATCH_NRE;
        break;
    default:
        m->type = LABEL_MATCH_EQ;
        break;
    }
    if (m->type == LABEL_MATCH_RE || m->type == LABEL_MATCH_NRE) {
        char err[400];
        bool empty;
        if (regex_check(m->value, vlen, &empty, err, sizeof err) < 0)
            parser_fail(p, name->pos, value->pos + value->len, "%s", err);
    }
}

/* One matcher inside braces; the lookahead is its first token. */
static void parse_label_matcher(struct parser *p, struct label_matcher *m)
{
    const struct token *t = parser_peek(p);
    if (t->type != TOK_IDENTIFIER && t->type != TOK_STRING)
        parser_unexpected(p, "label matching", "identifier or \"}\"");
    struct token name = parser_take(p);
    size_t nlen = name.len;
    const char *label = name.type == TOK_STRING ? parser_unquote(p, &name, &nlen)
                                                : parser_strdup(p, name.val, name.len);
    if (memchr(label, '\0', nlen))
        parser_fail(p, name.pos, name.pos + name.len, "label name contains a NUL byte");
    if (!tok_is_match_op(parser_peek(p)->type)) {
        if (name.type == TOK_IDENTIFIER)
            parser_unexpected(p, "label matching", "label matching operator");
        m->type = LABEL_MATCH_EQ; /* {"metric.name"} */
        m->name = "__name__";
        m->value = label;
        return;
    }
    enum tok op = parser_take(p).type;
    if (parser_peek(p)->type != TOK_STRING)
        parser_unexpected(p, "label matching", "string");
    struct token value = parser_take(p);
    parser_make_matcher(p, m, &name, label, op, &value);
}

/* "{" matchers "}"; fills the selector's matchers and returns the end. */
static size_t parse_label_matchers(struct parser *p, struct promql_expr *vs, const char *name)
{
    parser_take(p); /* { */
    size_t n = 0, cap = 4;
    struct label_matcher *ms = promql_arena_alloc(p->arena, cap * sizeof *ms);
    while (parser_peek(p)->type != TOK_RIGHT_BRACE) {
        if (n + 2 > cap) {
            struct label_matcher *nm = promql_arena_alloc(p->arena, 2 * cap * sizeof *nm);
            memcpy(nm, ms, n * sizeof *nm);
            ms = nm, cap *= 2;
        }
        parse_label_matcher(p, &ms[n++]);
        if (parser_accept(p, TOK_COMMA))
            continue;
        if (parser_peek(p)->type != TOK_RIGHT_BRACE)
            parser_unexpected(p, "label matching", "\",\" or \"}\"");
    }
    size_t end = parser_take(p).pos + 1;
    if (name) {
        if (n + 1 > cap) {
            struct label_matcher *nm = promql_arena_alloc(p->arena, (n + 1) * sizeof *nm);
            memcpy(nm, ms, n * sizeof *nm);
            ms = nm;
        }
        ms[n++] = (struct label_matcher){LABEL_MATCH_EQ, "__name__", name};
    }
    vs->vs.matchers = ms;
    vs->vs.nmatchers = n;
    return end;
}

/* A selector: an optional name token (already taken) and optional braces. */
static struct promql_expr *parse_vector_selector(struct parser *p, const struct token *name_tok)
{
    size_t start = name_tok ? name_tok->pos : parser_peek(p)->pos;
    struct promql_expr *e = parser_new_expr(p, PROMQL_EXPR_VECTOR_SELECTOR, PROMQL_VECTOR, start,
                                            name_tok ? name_tok->pos + name_tok->len : start);
    const char *name = name_tok ? parser_strdup(p, name_tok->val, name_tok->len) : NULL;
    e->vs.name = name;
    if (!name_tok || parser_peek(p)->type == TOK_LEFT_BRACE) {
        e->pos.end = (uint32_t)parse_label_matchers(p, e, name);
        return e;
    }
    struct label_matcher *m = promql_arena_alloc(p->arena, sizeof *m);
    *m = (struct label_matcher){LABEL_MATCH_EQ, "__name__", name};
    e->vs.matchers = m;
    e->vs.nmatchers = 1;
    return e;
}

/* ---- Grouping labels -------------------------------------------------- */

static const char *parse_grouping_label(struct parser *p)
{
    const struct token *t = parser_peek(p);
    if (tok_is_label_name(t->type)) {
        struct token l = parser_take(p);
        return parser_strdup(p, l.val, l.len);
    }
    if (t->type != TOK_STRING)
        parser_unexpected(p, "grouping opts", "label");
    struct token l = parser_take(p);
    size_t n;
    const char *s = parser_unquote(p, &l, &n);
    if (n == 0 || !utf8_valid(s, n) || memchr(s, '\0', n)) {
        struct sbuf b = SBUF_INIT;
        go_quote(&b, s, n);
        char q[300];
        snprintf(q, sizeof q, "%s", b.data);
        sbuf_free(&b);
        parser_fail(p, l.pos, l.pos + l.len, "invalid label name for grouping: %s", q);
    }
    return s;
}

/* "(" label, ... ")" after by/without/on/ignoring/group_x. */
static const char **parse_grouping_labels(struct parser *p, size_t *n)
{
    if (parser_peek(p)->type != TOK_LEFT_PAREN)
        parser_unexpected(p, "grouping opts", "\"(\"");
    parser_take(p);
    struct vec v = {0};
    while (parser_peek(p)->type != TOK_RIGHT_PAREN) {
        vec_push(p, &v, (void *)parse_grouping_label(p));
        if (parser_accept(p, TOK_COMMA))
            continue;
        if (parser_peek(p)->type != TOK_RIGHT_PAREN)
            parser_unexpected(p, "grouping opts", "\",\" or \")\"");
    }
    parser_take(p);
    *n = v.n;
    return v.v ? (const char **)v.v : promql_arena_alloc(p->arena, sizeof(char *));
}

/* ---- Expressions ------------------------------------------------------ */

static struct promql_expr *parse_expr(struct parser *p, int min_prec);

static int binop_prec(enum tok t)
{
    switch (t) {
    case TOK_LOR:
        return 1;
    case TOK_LAND:
    case TOK_LUNLESS:
        return 2;
    case TOK_EQLC:
    case TOK_NEQ:
    case TOK_LTE:
    case TOK_LSS:
    case TOK_GTE:
    case TOK_GTR:
        return 3;
    case TOK_ADD:
    case TOK_SUB:
        return 4;
    case TOK_MUL:
    case TOK_DIV:
    case TOK_MOD:
    case TOK_ATAN2:
    case TOK_TRIM_UPPER:
    case TOK_TRIM_LOWER:
        return 5;
    case TOK_POW:
        return 6;
    default:
        return 0;
    }
}

enum { PREC_POW = 6 };

static enum promql_op tok_binop(enum tok t)
{
    switch (t) {
    case TOK_ADD:
        return PROMQL_OP_ADD;
    case TOK_SUB:
        return PROMQL_OP_SUB;
    case TOK_MUL:
        return PROMQL_OP_MUL;
    case TOK_DIV:
        return PROMQL_OP_DIV;
    case TOK_MOD:
        return PROMQL_OP_MOD;
    case TOK_POW:
        return PROMQL_OP_POW;
    case TOK_ATAN2:
        return PROMQL_OP_ATAN2;
    case TOK_TRIM_UPPER:
        return PROMQL_OP_TRIM_UPPER;
    case TOK_TRIM_LOWER:
        return PROMQL_OP_TRIM_LOWER;
    case TOK_EQLC:
        return PROMQL_OP_EQL;
    case TOK_NEQ:
        return PROMQL_OP_NEQ;
    case TOK_GTR:
        return PROMQL_OP_GTR;
    case TOK_LSS:
        return PROMQL_OP_LSS;
    case TOK_GTE:
        return PROMQL_OP_GTE;
    case TOK_LTE:
        return PROMQL_OP_LTE;
    case TOK_LAND:
        return PROMQL_OP_AND;
    case TOK_LOR:
        return PROMQL_OP_OR;
    case TOK_LUNLESS:
        return PROMQL_OP_UNLESS;
    default:
        return PROMQL_OP_NONE;
    }
}

static enum promql_agg_op tok_aggop(enum tok t)
{
    switch (t) {
    case TOK_AVG:
        return PROMQL_AGG_AVG;
    case TOK_COUNT:
        return PROMQL_AGG_COUNT;
    case TOK_MIN:
        return PROMQL_AGG_MIN;
    case TOK_MAX:
        return PROMQL_AGG_MAX;
    case TOK_GROUP:
        return PROMQL_AGG_GROUP;
    case TOK_STDDEV:
        return PROMQL_AGG_STDDEV;
    case TOK_STDVAR:
        return PROMQL_AGG_STDVAR;
    case TOK_TOPK:
        return PROMQL_AGG_TOPK;
    case TOK_BOTTOMK:
        return PROMQL_AGG_BOTTOMK;
    case TOK_COUNT_VALUES:
        return PROMQL_AGG_COUNT_VALUES;
    case TOK_QUANTILE:
        return PROMQL_AGG_QUANTILE;
    case TOK_LIMITK:
        return PROMQL_AGG_LIMITK;
    case TOK_LIMIT_RATIO:
        return PROMQL_AGG_LIMIT_RATIO;
    default:
        return PROMQL_AGG_SUM;
    }
}

/* "(" args ")" of a call or an aggregation; the lookahead is "(". */
static struct promql_expr **parse_call_args(struct parser *p, size_t *n)
{
    parser_take(p);
    struct vec v = {0};
    if (!parser_accept(p, TOK_RIGHT_PAREN)) {
        for (;;) {
            vec_push(p, &v, parse_expr(p, 1));
            if (parser_peek(p)->type == TOK_COMMA) {
                struct token comma = parser_take(p);
                if (parser_tok_starts_expr(parser_peek(p)->type))
                    continue;
                parser_fail(p, comma.pos, comma.pos + 1,
                            "trailing commas not allowed in function call args");
            }
            parser_expect(p, TOK_RIGHT_PAREN);
            break;
        }
    }
    *n = v.n;
    return (struct promql_expr **)v.v;
}

static struct promql_expr *parse_call(struct parser *p, const struct token *name)
{
    size_t nargs;
    struct promql_expr **args = parse_call_args(p, &nargs);
    char fname[64];
    size_t flen = name->len < sizeof fname ? name->len : sizeof fname - 1;
    for (size_t i = 0; i < flen; i++) {
        char c = name->val[i];
        /* Keyword-named functions (start, step, ...) match in any case. */
        fname[i] = name->type != TOK_IDENTIFIER && c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
    }
    fname[flen] = '\0';
    const struct promql_function *fn =
        name->len < sizeof fname ? promql_function_lookup(fname, flen) : NULL;
    struct sbuf q = SBUF_INIT;
    go_quote(&q, name->val, name->len);
    char quoted[128];
    snprintf(quoted, sizeof quoted, "%s", q.data);
    sbuf_free(&q);
    if (!fn)
        parser_fail(p, name->pos, name->pos + name->len, "unknown function with name %s", quoted);
    if (fn->experimental && !(p->features & PROMQL_FEATURE_EXPERIMENTAL_FUNCTIONS))
        parser_fail(p, name->pos, name->pos + name->len, "function %s is not enabled", quoted);
    struct promql_expr *e =
        parser_new_expr(p, PROMQL_EXPR_CALL, fn->return_type, name->pos, p->prev_end);
    e->call.func = fn;
    e->call.args = args;
    e->call.nargs = nargs;
    return e;
}

/* Prometheus's newAggregateExpr: argument count and experimental ops. */
static void aggregate_finish(struct parser *p, struct promql_expr *e, struct promql_expr **args,
                             size_t nargs)
{
    e->pos.end = (uint32_t)p->prev_end;
    if (nargs == 0)
        parser_fail(p, e->pos.start, e->pos.end, "no arguments for aggregate expression provided");
    size_t want = 1;
    enum promql_agg_op op = e->aggregate.op;
    if (op == PROMQL_AGG_TOPK || op == PROMQL_AGG_BOTTOMK || op == PROMQL_AGG_COUNT_VALUES ||
        op == PROMQL_AGG_QUANTILE || op == PROMQL_AGG_LIMITK || op == PROMQL_AGG_LIMIT_RATIO) {
        if ((op == PROMQL_AGG_LIMITK || op == PROMQL_AGG_LIMIT_RATIO) &&
            !(p->features & PROMQL_FEATURE_EXPERIMENTAL_FUNCTIONS))
            parser_fail(p, e->pos.start, e->pos.end,
                        "%s() is experimental and must be enabled with "
                        "--enable-feature=promql-experimental-functions",
                        promql_agg_op_name(op));
        want = 2;
        e->aggregate.param = args[0];
    }
    if (nargs != want)
        parser_fail(p, e->pos.start, e->pos.end,
                    "wrong number of arguments for aggregate expression provided, expected %zu, "
                    "got %zu",
                    want, nargs);
    e->aggregate.expr = args[want - 1];
}

static void parse_aggregate_modifier(struct parser *p, struct promql_expr *e)
{
    e->aggregate.without = parser_take(p).type == TOK_WITHOUT;
    e->aggregate.grouping = parse_grouping_labels(p, &e->aggregate.ngrouping);
}

/* An aggregation; op was taken and the lookahead is "(", by or without. */
static struct promql_expr *parse_aggregate(struct parser *p, const struct token *op)
{
    enum err_ctx saved = p->ctx;
    p->ctx = ECTX_AGGREGATION;
    struct promql_expr *e = parser_new_expr(p, PROMQL_EXPR_AGGREGATE, PROMQL_VECTOR, op->pos, 0);
    e->aggregate.op = tok_aggop(op->type);
    size_t nargs;
    struct promql_expr **args;
    enum tok t = parser_peek(p)->type;
    if (t == TOK_BY || t == TOK_WITHOUT) {
        parse_aggregate_modifier(p, e);
        if (parser_peek(p)->type != TOK_LEFT_PAREN)
            parser_syntax_error(p);
        args = parse_call_args(p, &nargs);
    } else {
        args = parse_call_args(p, &nargs);
        t = parser_peek(p)->type;
        if (t == TOK_BY || t == TOK_WITHOUT)
            parse_aggregate_modifier(p, e);
    }
    aggregate_finish(p, e, args, nargs);
    p->ctx = saved;
    return e;
}

static struct promql_expr *parse_paren(struct parser *p)
{
    struct token open = parser_take(p);
    struct promql_expr *inner = parse_expr(p, 1);
    struct token close = parser_expect(p, TOK_RIGHT_PAREN);
    struct promql_expr *e =
        parser_new_expr(p, PROMQL_EXPR_PAREN, inner->type, open.pos, close.pos + 1);
    e->paren.expr = inner;
    return e;
}

static struct promql_expr *parse_string_literal(struct parser *p)
{
    struct token t = parser_take(p);
    struct promql_expr *e =
        parser_new_expr(p, PROMQL_EXPR_STRING, PROMQL_STRING, t.pos, t.pos + t.len);
    e->string.value = parser_unquote(p, &t, &e->string.len);
    return e;
}

/* A name: an aggregation, a call or a selector, by what follows it. */
static struct promql_expr *parse_named(struct parser *p)
{
    struct token name = parser_take(p);
    enum tok next = parser_peek(p)->type;
    if (tok_in(name.type, TOK_AGGREGATORS_START, TOK_AGGREGATORS_END) &&
        (next == TOK_LEFT_PAREN || next == TOK_BY || next == TOK_WITHOUT))
        return parse_aggregate(p, &name);
    bool callable =
        name.type == TOK_IDENTIFIER || (name.type >= TOK_START && name.type <= TOK_MAX_OF);
    if (callable && next == TOK_LEFT_PAREN)
        return parse_call(p, &name);
    return parse_vector_selector(p, &name);
}

static struct promql_expr *parse_primary(struct parser *p)
{
    const struct token *t = parser_peek(p);
    switch (t->type) {
    case TOK_NUMBER:
    case TOK_DURATION:
        return parse_number_literal(p);
    case TOK_STRING:
        return parse_string_literal(p);
    case TOK_LEFT_PAREN:
        return parse_paren(p);
    case TOK_LEFT_BRACE:
        return parse_vector_selector(p, NULL);
    default:
        if (tok_is_metric_name(t->type))
            return parse_named(p);
        parser_syntax_error(p);
    }
}

/* ---- Postfix modifiers ------------------------------------------------ */

/* The time modifiers a node can carry, or NULL. */
static struct promql_time_mods *expr_time_mods(struct promql_expr *e)
{
    switch (e->kind) {
    case PROMQL_EXPR_VECTOR_SELECTOR:
        return &e->vs.mods;
    case PROMQL_EXPR_MATRIX_SELECTOR:
        return &e->matrix.vs->vs.mods;
    case PROMQL_EXPR_SUBQUERY:
        return &e->subquery.mods;
    default:
        return NULL;
    }
}

/* A literal duration as milliseconds, or the expression to compute later. */
static void set_duration(const struct promql_expr *d, int64_t *ms, const struct promql_expr **expr)
{
    if (d && d->kind == PROMQL_EXPR_NUMBER)
        *ms = duration_seconds_to_ms(d->number.value);
    else
        *expr = d;
}

/* e[range]; the "]" was just taken, "[" is at open. */
static struct promql_expr *make_matrix(struct parser *p, struct promql_expr *e, size_t open,
                                       const struct promql_expr *range)
{
    const char *why = NULL;
    if (e->kind != PROMQL_EXPR_VECTOR_SELECTOR)
        why = "ranges only allowed for vector selectors";
    else if (e->vs.mods.offset_ms != 0 || e->vs.mods.offset_expr)
        why = "no offset modifiers allowed before range";
    else if (e->vs.mods.at != PROMQL_AT_NONE)
        why = "no @ modifiers allowed before range";
    if (why)
        parser_fail(p, open, p->prev_end, "%s", why);
    struct promql_expr *r =
        parser_new_expr(p, PROMQL_EXPR_MATRIX_SELECTOR, PROMQL_MATRIX, e->pos.start, p->prev_end);
    r->matrix.vs = e;
    set_duration(range, &r->matrix.range_ms, &r->matrix.range_expr);
    return r;
}

/* e[range:step]; the lookahead is ":". */
static struct promql_expr *parse_subquery(struct parser *p, struct promql_expr *e,
                                          const struct promql_expr *range)
{
    parser_take(p);
    p->ctx = ECTX_SUBQ_STEP;
    const struct promql_expr *step = NULL;
    if (parser_peek(p)->type != TOK_RIGHT_BRACKET) {
        step = parse_range_duration(p);
        if (parser_peek(p)->type != TOK_RIGHT_BRACKET)
            parser_unexpected(p, "subquery selector", "\"]\"");
    }
    parser_take(p);
    struct promql_expr *r =
        parser_new_expr(p, PROMQL_EXPR_SUBQUERY, PROMQL_MATRIX, e->pos.start, p->prev_end);
    r->subquery.expr = e;
    set_duration(range, &r->subquery.range_ms, &r->subquery.range_expr);
    set_duration(step, &r->subquery.step_ms, &r->subquery.step_expr);
    return r;
}

static struct promql_expr *parse_range_or_subquery(struct parser *p, struct promql_expr *e)
{
    struct token open = parser_take(p);
    enum err_ctx saved = p->ctx;
    p->ctx = ECTX_RANGE;
    const struct promql_expr *range = parse_range_duration(p);
    enum tok t = parser_peek(p)->type;
    if (t != TOK_RIGHT_BRACKET && t != TOK_COLON)
        parser_unexpected(p, "subquery or range", "\":\" or \"]\"");
    struct promql_expr *r;
    if (parser_accept(p, TOK_RIGHT_BRACKET))
        r = make_matrix(p, e, open.pos, range);
    else
        r = parse_subquery(p, e, range);
    p->ctx = saved;
    return r;
}

static void parse_offset(struct parser *p, struct promql_expr *e)
{
    parser_take(p);
    enum err_ctx saved = p->ctx;
    p->ctx = ECTX_OFFSET;
    const struct promql_expr *d = parse_offset_duration(p);
    p->ctx = saved;
    struct promql_time_mods *m = expr_time_mods(e);
    if (!m)
        parser_fail(p, e->pos.start, e->pos.end,
                    "offset modifier must be preceded by an instant vector selector or range "
                    "vector selector or a subquery");
    if (m->offset_ms != 0 || m->offset_expr)
        parser_fail(p, e->pos.start, e->pos.end, "offset may not be set multiple times");
    if (d->kind == PROMQL_EXPR_NUMBER)
        m->offset_ms = duration_seconds_to_ms(d->number.value);
    else
        m->offset_expr = d;
    e->pos.end = (uint32_t)p->prev_end;
}

/* The value after "@": a signed number or duration, start() or end(). */
static enum promql_at parse_at_value(struct parser *p, double *ts)
{
    enum tok t = parser_peek(p)->type;
    if (t == TOK_START || t == TOK_END) {
        parser_take(p);
        parser_expect(p, TOK_LEFT_PAREN);
        parser_expect(p, TOK_RIGHT_PAREN);
        return t == TOK_START ? PROMQL_AT_START : PROMQL_AT_END;
    }
    double sign = 1;
    if (t == TOK_ADD || t == TOK_SUB) {
        sign = parser_take(p).type == TOK_SUB ? -1 : 1;
        t = parser_peek(p)->type;
    }
    if (t != TOK_NUMBER && t != TOK_DURATION)
        parser_syntax_error(p);
    *ts = sign * parse_number_literal(p)->number.value;
    return PROMQL_AT_TIMESTAMP;
}

static void parse_at(struct parser *p, struct promql_expr *e)
{
    parser_take(p);
    enum err_ctx saved = p->ctx;
    p->ctx = ECTX_AT;
    double ts = 0;
    enum promql_at at = parse_at_value(p, &ts);
    p->ctx = saved;
    if (at == PROMQL_AT_TIMESTAMP &&
        (isnan(ts) || isinf(ts) || ts >= 9223372036854775807.0 || ts <= -9223372036854775808.0)) {
        struct sbuf b = SBUF_INIT;
        go_format_float_fixed6(&b, ts);
        char v[400];
        snprintf(v, sizeof v, "%s", b.data);
        sbuf_free(&b);
        parser_fail(p, e->pos.start, e->pos.end, "timestamp out of bounds for @ modifier: %s", v);
    }
    struct promql_time_mods *m = expr_time_mods(e);
    if (!m)
        parser_fail(p, e->pos.start, e->pos.end,
                    "@ modifier must be preceded by an instant vector selector or range vector "
                    "selector or a subquery");
    if (m->at != PROMQL_AT_NONE)
        parser_fail(p, e->pos.start, e->pos.end, "@ <timestamp> may not be set multiple times");
    m->at = at;
    if (at == PROMQL_AT_TIMESTAMP)
        m->at_ms = (int64_t)llround(ts * 1000);
    e->pos.end = (uint32_t)p->prev_end;
}

/* anchored / smoothed after a selector (Prometheus's setAnchored). */
static void parse_range_modifier(struct parser *p, struct promql_expr *e)
{
    bool anchored = parser_take(p).type == TOK_ANCHORED;
    const char *what = anchored ? "anchored" : "smoothed";
    if (!(p->features & PROMQL_FEATURE_EXTENDED_RANGE))
        parser_fail(p, e->pos.start, e->pos.end, "%s modifier is experimental and not enabled",
                    what);
    struct promql_expr *vs = e;
    if (e->kind == PROMQL_EXPR_MATRIX_SELECTOR)
        vs = e->matrix.vs;
    else if (e->kind == PROMQL_EXPR_SUBQUERY)
        parser_fail(p, e->pos.start, e->pos.end, "%s modifier is not supported for subqueries",
                    what);
    else if (e->kind != PROMQL_EXPR_VECTOR_SELECTOR)
        parser_fail(p, e->pos.start, e->pos.end, "%s modifier not implemented", what);
    if (anchored)
        vs->vs.anchored = true;
    else
        vs->vs.smoothed = true;
    if (vs->vs.anchored && vs->vs.smoothed)
        parser_fail(p, e->pos.start, e->pos.end,
                    "anchored and smoothed modifiers cannot be used together");
}

static struct promql_expr *parse_postfix(struct parser *p, struct promql_expr *e)
{
    for (;;) {
        switch (parser_peek(p)->type) {
        case TOK_LEFT_BRACKET:
            e = parse_range_or_subquery(p, e);
            break;
        case TOK_OFFSET:
            parse_offset(p, e);
            break;
        case TOK_AT:
            parse_at(p, e);
            break;
        case TOK_ANCHORED:
        case TOK_SMOOTHED:
            parse_range_modifier(p, e);
            break;
        default:
            return e;
        }
    }
}

/* ---- Unary and binary ------------------------------------------------- */

static struct promql_expr *parse_unary(struct parser *p)
{
    enum tok t = parser_peek(p)->type;
    if (t != TOK_ADD && t != TOK_SUB)
        return parse_postfix(p, parse_primary(p));
    struct token op = parser_take(p);
    struct promql_expr *operand = parse_expr(p, PREC_POW);
    if (operand->kind == PROMQL_EXPR_NUMBER) {
        if (op.type == TOK_SUB)
            operand->number.value = -operand->number.value;
        operand->pos.start = (uint32_t)op.pos;
        return operand;
    }
    struct promql_expr *e =
        parser_new_expr(p, PROMQL_EXPR_UNARY, operand->type, op.pos, operand->pos.end);
    e->unary.op = op.type == TOK_SUB ? PROMQL_OP_SUB : PROMQL_OP_ADD;
    e->unary.expr = operand;
    return e;
}

static double parse_fill_value(struct parser *p)
{
    parser_take(p);
    if (parser_peek(p)->type != TOK_LEFT_PAREN)
        parser_unexpected(p, "", "");
    parser_take(p);
    double sign = 1;
    enum tok t = parser_peek(p)->type;
    if (t == TOK_ADD || t == TOK_SUB) {
        sign = parser_take(p).type == TOK_SUB ? -1 : 1;
        t = parser_peek(p)->type;
    }
    if (t != TOK_NUMBER && t != TOK_DURATION)
        parser_unexpected(p, "", "");
    double v = sign * parse_number_literal(p)->number.value;
    if (parser_peek(p)->type != TOK_RIGHT_PAREN)
        parser_unexpected(p, "", "");
    parser_take(p);
    return v;
}

static void parse_fill_modifiers(struct parser *p, struct promql_vector_matching *m)
{
    enum tok t = parser_peek(p)->type;
    if (t == TOK_FILL) {
        m->fill_lhs = m->fill_rhs = parse_fill_value(p);
        m->fill_lhs_set = m->fill_rhs_set = true;
    } else if (t == TOK_FILL_LEFT) {
        m->fill_lhs = parse_fill_value(p);
        m->fill_lhs_set = true;
        if (parser_peek(p)->type == TOK_FILL_RIGHT) {
            m->fill_rhs = parse_fill_value(p);
            m->fill_rhs_set = true;
        }
    } else if (t == TOK_FILL_RIGHT) {
        m->fill_rhs = parse_fill_value(p);
        m->fill_rhs_set = true;
        if (parser_peek(p)->type == TOK_FILL_LEFT) {
            m->fill_lhs = parse_fill_value(p);
            m->fill_lhs_set = true;
        }
    }
}

/* bool, on/ignoring(...), group_left/right(...), fill...(...) after an
 * operator. */
static struct promql_vector_matching *parse_bin_modifiers(struct parser *p, bool *return_bool)
{
    struct promql_vector_matching *m = promql_arena_alloc(p->arena, sizeof *m);
    m->card = PROMQL_CARD_ONE_TO_ONE;
    *return_bool = parser_accept(p, TOK_BOOL);
    enum tok t = parser_peek(p)->type;
    if (t == TOK_ON || t == TOK_IGNORING) {
        m->on = parser_take(p).type == TOK_ON;
        m->labels = parse_grouping_labels(p, &m->nlabels);
        t = parser_peek(p)->type;
        if (t == TOK_GROUP_LEFT || t == TOK_GROUP_RIGHT) {
            parser_take(p);
            m->card = t == TOK_GROUP_LEFT ? PROMQL_CARD_MANY_TO_ONE : PROMQL_CARD_ONE_TO_MANY;
            if (parser_peek(p)->type == TOK_LEFT_PAREN)
                m->include = parse_grouping_labels(p, &m->ninclude);
        }
    }
    parse_fill_modifiers(p, m);
    return m;
}

static struct promql_expr *parse_expr(struct parser *p, int min_prec)
{
    if (++p->depth > PARSE_MAX_DEPTH) {
        const struct token *t = parser_peek(p);
        parser_fail(p, t->pos, t->pos + t->len, "expression nesting too deep");
    }
    struct promql_expr *lhs = parse_unary(p);
    /* A left-associative chain (a + b + c ...) nests its tree one level per
     * operator without recursing here; the checker, printers and evaluator
     * do recurse, so the chain counts towards the depth limit too. */
    int chain = 0;
    for (;;) {
        enum tok t = parser_peek(p)->type;
        int prec = binop_prec(t);
        if (prec == 0 || prec < min_prec)
            break;
        if (p->depth + ++chain > PARSE_MAX_DEPTH) {
            const struct token *tk = parser_peek(p);
            parser_fail(p, tk->pos, tk->pos + tk->len, "expression nesting too deep");
        }
        parser_take(p);
        bool return_bool;
        struct promql_vector_matching *m = parse_bin_modifiers(p, &return_bool);
        struct promql_expr *rhs = parse_expr(p, prec == PREC_POW ? prec : prec + 1);
        bool both_scalar = lhs->type == PROMQL_SCALAR && rhs->type == PROMQL_SCALAR;
        struct promql_expr *e =
            parser_new_expr(p, PROMQL_EXPR_BINARY, both_scalar ? PROMQL_SCALAR : PROMQL_VECTOR,
                            lhs->pos.start, rhs->pos.end);
        e->binary.op = tok_binop(t);
        e->binary.lhs = lhs;
        e->binary.rhs = rhs;
        e->binary.return_bool = return_bool;
        e->binary.matching = m;
        if ((m->fill_lhs_set || m->fill_rhs_set) && !(p->features & PROMQL_FEATURE_FILL))
            parser_fail(p, e->pos.start, e->pos.end,
                        "binop fill modifiers are experimental and not enabled");
        lhs = e;
    }
    p->depth--;
    return lhs;
}

/* ---- Entry points ----------------------------------------------------- */

static void parser_init(struct parser *p, struct promql_arena *a, const char *input, size_t len,
                        unsigned features, struct promql_parse_error *err)
{
    memset(p, 0, sizeof *p);
    p->arena = a;
    p->input = promql_arena_strndup(a, input, len);
    p->len = len;
    p->features = features;
    p->err = err;
    lexer_init(&p->lex, p->input, len);
    if (err)
        memset(err, 0, sizeof *err);
}

struct promql_expr *promql_parse(struct promql_arena *a, const char *input, size_t len,
                                 unsigned features, struct promql_parse_error *err)
{
    struct parser p;
    parser_init(&p, a, input, len, features, err);
    if (setjmp(p.fail))
        return NULL;
    if (parser_peek(&p)->type == TOK_EOF)
        parser_fail(&p, 0, 0, "no expression found in input");
    struct promql_expr *e = parse_expr(&p, 1);
    if (parser_peek(&p)->type != TOK_EOF)
        parser_syntax_error(&p);
    check_expr(&p, e);
    return e;
}

struct promql_expr *promql_parse_selector(struct promql_arena *a, const char *input, size_t len,
                                          struct promql_parse_error *err)
{
    struct parser p;
    parser_init(&p, a, input, len, PROMQL_FEATURES_DEFAULT, err);
    if (setjmp(p.fail))
        return NULL;
    const struct token *t = parser_peek(&p);
    struct promql_expr *e;
    if (t->type == TOK_LEFT_BRACE) {
        e = parse_vector_selector(&p, NULL);
    } else if (tok_is_metric_name(t->type)) {
        struct token name = parser_take(&p);
        e = parse_vector_selector(&p, &name);
    } else {
        parser_unexpected(&p, "", "");
    }
    if (parser_peek(&p)->type != TOK_EOF)
        parser_unexpected(&p, "", "");
    return e;
}
