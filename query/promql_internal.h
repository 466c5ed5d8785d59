/* promql_internal.h — what the files of query/ share and nobody else sees:
 * the token set, the lexer, the parser state and the Go-compatible string,
 * number and duration helpers.  Prometheus's wording of errors and of
 * printed queries comes from Go's strconv and fmt, so several helpers here
 * exist to write text byte for byte as Go would. */
#ifndef VIGIL_QUERY_PROMQL_INTERNAL_H
#define VIGIL_QUERY_PROMQL_INTERNAL_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "query/promql.h"
#include "util/gostrconv.h"

struct sbuf;

/* ---- Tokens ----------------------------------------------------------- */

/* Grouped like Prometheus's item types, because error messages describe a
 * token by its group: operators print as <op:+>, aggregators as <aggr:sum>,
 * keywords as <by>, everything else quoted. */
enum tok {
    TOK_EOF,
    TOK_ERROR,
    TOK_COMMENT,
    TOK_IDENTIFIER,
    TOK_METRIC_IDENTIFIER, /* an identifier containing ':' */
    TOK_NUMBER,
    TOK_DURATION,
    TOK_STRING,
    /* punctuation */
    TOK_LEFT_PAREN,
    TOK_RIGHT_PAREN,
    TOK_LEFT_BRACE,
    TOK_RIGHT_BRACE,
    TOK_LEFT_BRACKET,
    TOK_RIGHT_BRACKET,
    TOK_COMMA,
    TOK_EQL, /* = */
    TOK_COLON,
    TOK_DOUBLE_COLON,
    /* operators */
    TOK_OPERATORS_START,
    TOK_ADD,
    TOK_SUB,
    TOK_MUL,
    TOK_DIV,
    TOK_MOD,
    TOK_POW,
    TOK_EQLC, /* == */
    TOK_NEQ,
    TOK_LSS,
    TOK_LTE,
    TOK_GTR,
    TOK_GTE,
    TOK_EQL_REGEX,
    TOK_NEQ_REGEX,
    TOK_AT,
    TOK_LAND,
    TOK_LOR,
    TOK_LUNLESS,
    TOK_ATAN2,
    TOK_TRIM_UPPER, /* </ */
    TOK_TRIM_LOWER, /* >/ */
    TOK_OPERATORS_END,
    /* aggregators */
    TOK_AGGREGATORS_START,
    TOK_AVG,
    TOK_BOTTOMK,
    TOK_COUNT,
    TOK_COUNT_VALUES,
    TOK_GROUP,
    TOK_MAX,
    TOK_MIN,
    TOK_QUANTILE,
    TOK_STDDEV,
    TOK_STDVAR,
    TOK_SUM,
    TOK_TOPK,
    TOK_LIMITK,
    TOK_LIMIT_RATIO,
    TOK_AGGREGATORS_END,
    /* keywords */
    TOK_KEYWORDS_START,
    TOK_BOOL,
    TOK_BY,
    TOK_GROUP_LEFT,
    TOK_GROUP_RIGHT,
    TOK_IGNORING,
    TOK_OFFSET,
    TOK_SMOOTHED,
    TOK_ANCHORED,
    TOK_ON,
    TOK_WITHOUT,
    TOK_FILL,
    TOK_FILL_LEFT,
    TOK_FILL_RIGHT,
    TOK_KEYWORDS_END,
    /* preprocessors and duration functions */
    TOK_START,
    TOK_END,
    TOK_STEP,
    TOK_RANGE,
    TOK_MIN_OF,
    TOK_MAX_OF,
};

struct token {
    enum tok type;
    size_t pos; /* byte offset of the token in the input */
    const char *val;
    size_t len;
};

/* ---- Lexer (lex.c) ---------------------------------------------------- */

enum lex_state {
    LS_STOP,
    LS_STATEMENTS,
    LS_INSIDE_BRACES,
    LS_STRING,
    LS_RAW_STRING,
    LS_ESCAPE,
    LS_SPACE,
    LS_LINE_COMMENT,
    LS_NUMBER_OR_DURATION,
    LS_KEYWORD_OR_IDENTIFIER,
    LS_IDENTIFIER,
    LS_DURATION_EXPR,
};

/* A port of Prometheus's state-machine lexer: the same states, the same
 * lookahead, the same error texts, since a query's error message depends
 * on exactly where and how the lexer gives up. */
struct lexer {
    const char *input;
    size_t len;
    enum lex_state state;
    size_t pos, start, width;
    struct token *out;
    bool scanned;
    int paren_depth;
    bool brace_open, bracket_open, got_colon, got_duration;
    int string_open; /* quote rune of the string being read */
    char errbuf[512];
};

void lexer_init(struct lexer *l, const char *input, size_t len);
void lexer_next(struct lexer *l, struct token *t);

/* ---- Parser (parse.c, parse_duration.c, check.c) ---------------------- */

/* Where a syntax error is reported from: the innermost construct whose
 * grammar rule has an error production in Prometheus's yacc grammar. */
enum err_ctx {
    ECTX_NONE,
    ECTX_AGGREGATION,
    ECTX_OFFSET,
    ECTX_AT,
    ECTX_RANGE,     /* after "[" */
    ECTX_SUBQ_STEP, /* after "[range:" */
};

struct parser {
    struct promql_arena *arena;
    const char *input;
    size_t len;
    unsigned features;
    struct lexer lex;
    struct token tok; /* lookahead, valid when have_tok */
    bool have_tok;
    size_t prev_end; /* end of the last consumed token */
    enum err_ctx ctx;
    int depth;
    struct promql_parse_error *err;
    bool failed;
    jmp_buf fail; /* the first error ends the parse */
};

enum { PARSE_MAX_DEPTH = 1000 };

/* Token access: peek lexes lazily so that checks Prometheus makes before it
 * reads the next token also come first here. */
const struct token *parser_peek(struct parser *p);
struct token parser_take(struct parser *p);
bool parser_accept(struct parser *p, enum tok t);

/* Records the error at byte `start` and longjmps out of the parse. */
_Noreturn void parser_fail(struct parser *p, size_t start, size_t end, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* "unexpected <token>[ in <context>][, expected <what>]" for the lookahead. */
_Noreturn void parser_unexpected(struct parser *p, const char *context, const char *expected);
/* The same with the message of the innermost error context. */
_Noreturn void parser_syntax_error(struct parser *p);

struct promql_expr *parser_new_expr(struct parser *p, enum promql_expr_kind kind,
                                    enum promql_type type, size_t start, size_t end);
bool parser_tok_starts_expr(enum tok t);

/* parse_duration.c: numbers, durations and duration expressions. */
struct promql_expr *parse_number_literal(struct parser *p);
struct promql_expr *parse_range_duration(struct parser *p); /* positive_duration_expr */
struct promql_expr *parse_offset_duration(struct parser *p);
int64_t duration_seconds_to_ms(double seconds);
bool duration_literal_out_of_range(double seconds);

/* ast_json.c: Prometheus's ValueType strings ("scalar", "vector",
 * "matrix", "string"), as its messages and parse_query print them. */
const char *promql_type_raw_name(enum promql_type t);

/* check.c: Prometheus's checkAST, run once the whole query parsed. */
void check_expr(struct parser *p, const struct promql_expr *e);

/* ---- Helpers (gostr.c) ------------------------------------------------ */

/* Prometheus's strutil.Unquote for a lexed STRING token (quotes included).
 * Returns the value in the arena, its length in *len; NULL on error. */
char *go_unquote(struct promql_arena *a, const char *s, size_t n, size_t *len);

/* model.ParseDuration: 0 or -1 with Prometheus's message in err. */
int model_duration_parse(const char *s, size_t n, int64_t *ns, char *err, size_t errsz);
/* model.Duration.String() of a millisecond count (y and w only when exact). */
void model_duration_format(struct sbuf *b, int64_t ms);

/* Label names that need no quotes: [a-zA-Z_][a-zA-Z0-9_]* */
bool label_name_is_legacy(const char *s);

/* ---- Regex (regex.c) -------------------------------------------------- */

/* Checks RE2 syntax the way Go's regexp/syntax does for Prometheus's
 * matchers.  Returns 0 and whether the fully anchored regex matches "",
 * or -1 with Go's error text ("error parsing regexp: ..."). */
int regex_check(const char *re, size_t n, bool *matches_empty, char *err, size_t errsz);

/* ---- Printing (print.c) ----------------------------------------------- */

void print_label_list(struct sbuf *b, const char *const *names, size_t n);
void print_vector_matching(struct sbuf *b, const struct promql_expr *e);
void print_subquery_suffix(struct sbuf *b, const struct promql_expr *e);
void print_aggregate_head(struct sbuf *b, const struct promql_expr *e);

#endif
