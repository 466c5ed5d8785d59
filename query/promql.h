/* promql.h — the PromQL front end: parse a query into an AST, check its
 * types, and print it back the way Prometheus does.
 *
 * One query = one arena.  promql_parse() allocates every node, string and
 * array of the tree from the arena the caller passes; nothing in the tree
 * is freed on its own and promql_arena_free() releases all of it in one
 * step.  Strings in the tree are borrowed from the arena; the input text is
 * copied, so it may be freed right after parsing.  A finished tree is
 * read-only and may be read from several threads at once.
 *
 * The accepted language is Prometheus 3.x's (the snapshot the conformance
 * tests in shared/promql-tests come from): literals, selectors with every
 * matcher form and quoted UTF-8 names, range selectors, subqueries, offset
 * and @ in either order, duration expressions inside [..] and after offset,
 * all binary operators with Prometheus's precedence and vector matching,
 * all aggregations and the whole function table.  Experimental parts are
 * behind feature bits, like Prometheus's --enable-feature flags.  Errors
 * carry Prometheus's exact wording and position ("1:14: parse error: ...").
 *
 * The AST mirrors Prometheus's parser package so that an evaluator written
 * against Prometheus's engine maps onto it node for node. */
#ifndef VIGIL_QUERY_PROMQL_H
#define VIGIL_QUERY_PROMQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/labels.h"

struct sbuf;

/* ---- Arena ------------------------------------------------------------ */

/* A bump allocator; see query/arena.c.  Allocation failure aborts, like
 * util/sbuf.h's xmalloc. */
struct promql_arena;

struct promql_arena *promql_arena_new(void);
void promql_arena_free(struct promql_arena *a);
/* Zeroed memory aligned for any object; lives until promql_arena_free(). */
void *promql_arena_alloc(struct promql_arena *a, size_t n);
/* Forgets everything allocated (as free + new) but keeps the memory, in
 * one block as large as all of it was, so that work of the same size
 * again (the next step of a range query) allocates nothing. */
void promql_arena_reset(struct promql_arena *a);
/* Copies n bytes and appends a NUL. */
char *promql_arena_strndup(struct promql_arena *a, const char *s, size_t n);
/* Bytes handed out so far (for query statistics and limits). */
size_t promql_arena_used(const struct promql_arena *a);

/* ---- Types and operators ---------------------------------------------- */

/* Static result type of an expression (Prometheus's ValueType). */
enum promql_type {
    PROMQL_NONE,
    PROMQL_SCALAR,
    PROMQL_VECTOR, /* instant vector */
    PROMQL_MATRIX, /* range vector */
    PROMQL_STRING,
};

/* "scalar", "instant vector", "range vector", "string", "none": the words
 * Prometheus's error messages use (DocumentedType). */
const char *promql_type_name(enum promql_type t);

enum promql_op {
    PROMQL_OP_NONE,
    /* arithmetic */
    PROMQL_OP_ADD,
    PROMQL_OP_SUB,
    PROMQL_OP_MUL,
    PROMQL_OP_DIV,
    PROMQL_OP_MOD,
    PROMQL_OP_POW,
    PROMQL_OP_ATAN2,
    PROMQL_OP_TRIM_UPPER, /* </ : drop histogram observations above the threshold */
    PROMQL_OP_TRIM_LOWER, /* >/ : drop histogram observations below the threshold */
    /* comparison */
    PROMQL_OP_EQL, /* == */
    PROMQL_OP_NEQ,
    PROMQL_OP_GTR,
    PROMQL_OP_LSS,
    PROMQL_OP_GTE,
    PROMQL_OP_LTE,
    /* set */
    PROMQL_OP_AND,
    PROMQL_OP_OR,
    PROMQL_OP_UNLESS,
    /* only in duration expressions (PROMQL_EXPR_DURATION) */
    PROMQL_OP_STEP,   /* step() */
    PROMQL_OP_RANGE,  /* range() */
    PROMQL_OP_MIN_OF, /* min_of(a, b) */
    PROMQL_OP_MAX_OF, /* max_of(a, b) */
};

/* The operator's spelling: "+", "==", "and", "atan2", "step", ... */
const char *promql_op_name(enum promql_op op);
bool promql_op_is_comparison(enum promql_op op);
bool promql_op_is_set(enum promql_op op);

enum promql_agg_op {
    PROMQL_AGG_SUM,
    PROMQL_AGG_AVG,
    PROMQL_AGG_COUNT,
    PROMQL_AGG_MIN,
    PROMQL_AGG_MAX,
    PROMQL_AGG_GROUP,
    PROMQL_AGG_STDDEV,
    PROMQL_AGG_STDVAR,
    PROMQL_AGG_TOPK,         /* param: scalar */
    PROMQL_AGG_BOTTOMK,      /* param: scalar */
    PROMQL_AGG_COUNT_VALUES, /* param: string */
    PROMQL_AGG_QUANTILE,     /* param: scalar */
    PROMQL_AGG_LIMITK,       /* param: scalar; experimental */
    PROMQL_AGG_LIMIT_RATIO,  /* param: scalar; experimental */
};

const char *promql_agg_op_name(enum promql_agg_op op); /* "sum", "count_values", ... */

/* ---- Functions -------------------------------------------------------- */

/* Every function of Prometheus's table, for the evaluator to switch on. */
enum promql_func_id {
    PROMQL_FN_ABS,
    PROMQL_FN_ABSENT,
    PROMQL_FN_ABSENT_OVER_TIME,
    PROMQL_FN_ACOS,
    PROMQL_FN_ACOSH,
    PROMQL_FN_ASIN,
    PROMQL_FN_ASINH,
    PROMQL_FN_ATAN,
    PROMQL_FN_ATANH,
    PROMQL_FN_AVG_OVER_TIME,
    PROMQL_FN_CEIL,
    PROMQL_FN_CHANGES,
    PROMQL_FN_CLAMP,
    PROMQL_FN_CLAMP_MAX,
    PROMQL_FN_CLAMP_MIN,
    PROMQL_FN_COS,
    PROMQL_FN_COSH,
    PROMQL_FN_COUNT_OVER_TIME,
    PROMQL_FN_DAY_OF_MONTH,
    PROMQL_FN_DAY_OF_WEEK,
    PROMQL_FN_DAY_OF_YEAR,
    PROMQL_FN_DAYS_IN_MONTH,
    PROMQL_FN_DEG,
    PROMQL_FN_DELTA,
    PROMQL_FN_DERIV,
    PROMQL_FN_DOUBLE_EXPONENTIAL_SMOOTHING,
    PROMQL_FN_END,
    PROMQL_FN_EXP,
    PROMQL_FN_FIRST_OVER_TIME,
    PROMQL_FN_FLOOR,
    PROMQL_FN_HISTOGRAM_AVG,
    PROMQL_FN_HISTOGRAM_COUNT,
    PROMQL_FN_HISTOGRAM_FRACTION,
    PROMQL_FN_HISTOGRAM_QUANTILE,
    PROMQL_FN_HISTOGRAM_QUANTILES,
    PROMQL_FN_HISTOGRAM_STDDEV,
    PROMQL_FN_HISTOGRAM_STDVAR,
    PROMQL_FN_HISTOGRAM_SUM,
    PROMQL_FN_HOUR,
    PROMQL_FN_IDELTA,
    PROMQL_FN_INCREASE,
    PROMQL_FN_INFO,
    PROMQL_FN_INTEGRAL,
    PROMQL_FN_IRATE,
    PROMQL_FN_LABEL_JOIN,
    PROMQL_FN_LABEL_REPLACE,
    PROMQL_FN_LAST_OVER_TIME,
    PROMQL_FN_LN,
    PROMQL_FN_LOG10,
    PROMQL_FN_LOG2,
    PROMQL_FN_MAD_OVER_TIME,
    PROMQL_FN_MAX_OF,
    PROMQL_FN_MAX_OVER_TIME,
    PROMQL_FN_MIN_OF,
    PROMQL_FN_MIN_OVER_TIME,
    PROMQL_FN_MINUTE,
    PROMQL_FN_MONTH,
    PROMQL_FN_PI,
    PROMQL_FN_PREDICT_LINEAR,
    PROMQL_FN_PRESENT_OVER_TIME,
    PROMQL_FN_QUANTILE_OVER_TIME,
    PROMQL_FN_RAD,
    PROMQL_FN_RANGE,
    PROMQL_FN_RATE,
    PROMQL_FN_RESETS,
    PROMQL_FN_ROUND,
    PROMQL_FN_SCALAR,
    PROMQL_FN_SGN,
    PROMQL_FN_SIN,
    PROMQL_FN_SINH,
    PROMQL_FN_SORT,
    PROMQL_FN_SORT_BY_LABEL,
    PROMQL_FN_SORT_BY_LABEL_DESC,
    PROMQL_FN_SORT_DESC,
    PROMQL_FN_SQRT,
    PROMQL_FN_START,
    PROMQL_FN_START_TIMESTAMP,
    PROMQL_FN_STDDEV_OVER_TIME,
    PROMQL_FN_STDVAR_OVER_TIME,
    PROMQL_FN_STEP,
    PROMQL_FN_SUM_OVER_TIME,
    PROMQL_FN_TAN,
    PROMQL_FN_TANH,
    PROMQL_FN_TIME,
    PROMQL_FN_TIMESTAMP,
    PROMQL_FN_TS_OF_FIRST_OVER_TIME,
    PROMQL_FN_TS_OF_LAST_OVER_TIME,
    PROMQL_FN_TS_OF_MAX_OVER_TIME,
    PROMQL_FN_TS_OF_MIN_OVER_TIME,
    PROMQL_FN_VECTOR,
    PROMQL_FN_YEAR,
    PROMQL_FN__COUNT
};

#define PROMQL_FUNC_MAX_ARGS 5

/* A row of the function table (Prometheus's parser.Function).  Arity:
 * variadic == 0 takes exactly nargs arguments; variadic > 0 takes
 * nargs-1 .. nargs-1+variadic; variadic < 0 takes nargs-1 or more.  Extra
 * arguments have the type of the last entry of arg_types. */
struct promql_function {
    const char *name;
    enum promql_func_id id;
    enum promql_type arg_types[PROMQL_FUNC_MAX_ARGS];
    int nargs;
    int variadic;
    enum promql_type return_type;
    bool experimental; /* needs PROMQL_FEATURE_EXPERIMENTAL_FUNCTIONS */
};

/* NULL when there is no such function.  The table is static. */
const struct promql_function *promql_function_lookup(const char *name, size_t len);
const struct promql_function *promql_function_by_id(enum promql_func_id id);

/* ---- AST -------------------------------------------------------------- */

/* Byte offsets into the query text, [start, end). */
struct promql_pos {
    uint32_t start, end;
};

enum promql_expr_kind {
    PROMQL_EXPR_NUMBER,
    PROMQL_EXPR_STRING,
    PROMQL_EXPR_VECTOR_SELECTOR,
    PROMQL_EXPR_MATRIX_SELECTOR,
    PROMQL_EXPR_SUBQUERY,
    PROMQL_EXPR_PAREN,
    PROMQL_EXPR_UNARY,
    PROMQL_EXPR_BINARY,
    PROMQL_EXPR_AGGREGATE,
    PROMQL_EXPR_CALL,
    /* Arithmetic on durations; only appears as a range, step or offset
     * expression (never as an operand of the other kinds).  Evaluated per
     * query once step() and range() are known. */
    PROMQL_EXPR_DURATION,
};

enum promql_at {
    PROMQL_AT_NONE,
    PROMQL_AT_TIMESTAMP, /* at_ms holds the time */
    PROMQL_AT_START,     /* @ start() */
    PROMQL_AT_END,       /* @ end() */
};

/* offset and @, shared by vector selectors and subqueries.  A matrix
 * selector keeps its modifiers on its inner vector selector, as Prometheus
 * does.  Durations are milliseconds; sub-millisecond parts are truncated,
 * as Prometheus's engine truncates them. */
struct promql_time_mods {
    int64_t offset_ms;                     /* original offset (positive = back in time) */
    const struct promql_expr *offset_expr; /* set instead when it is an expression */
    enum promql_at at;
    int64_t at_ms;
};

enum promql_card {
    PROMQL_CARD_ONE_TO_ONE,
    PROMQL_CARD_MANY_TO_ONE, /* group_left */
    PROMQL_CARD_ONE_TO_MANY, /* group_right */
    PROMQL_CARD_MANY_TO_MANY,
};

/* How the two sides of a vector-vector binary operation are matched. */
struct promql_vector_matching {
    enum promql_card card;
    const char **labels; /* on(...) / ignoring(...) label names */
    size_t nlabels;
    bool on;              /* on() rather than ignoring() */
    const char **include; /* group_left(...) / group_right(...) extra labels */
    size_t ninclude;
    /* fill / fill_left / fill_right (experimental) */
    bool fill_lhs_set, fill_rhs_set;
    double fill_lhs, fill_rhs;
};

struct promql_expr {
    enum promql_expr_kind kind;
    enum promql_type type; /* static result type */
    struct promql_pos pos; /* Prometheus's PositionRange of the node */
    union {
        struct {
            double value;
            bool duration; /* written as a duration ("5m"); value is in seconds */
        } number;
        struct {
            const char *value; /* unquoted; may contain NUL bytes, hence len */
            size_t len;
        } string;
        struct {
            const char *name; /* metric name written outside braces, else NULL */
            /* All matchers in source order; a name written outside the braces
             * comes last as __name__="name", as in Prometheus. */
            const struct label_matcher *matchers;
            size_t nmatchers;
            struct promql_time_mods mods;
            bool anchored, smoothed; /* experimental range modifiers */
            bool bypass_empty_check; /* second argument of info() */
        } vs;
        struct {
            struct promql_expr *vs; /* a PROMQL_EXPR_VECTOR_SELECTOR */
            int64_t range_ms;
            const struct promql_expr *range_expr; /* set instead when an expression */
        } matrix;
        struct {
            struct promql_expr *expr;
            int64_t range_ms;
            const struct promql_expr *range_expr;
            int64_t step_ms; /* 0: the default evaluation interval */
            const struct promql_expr *step_expr;
            struct promql_time_mods mods;
        } subquery;
        struct {
            struct promql_expr *expr;
        } paren;
        struct {
            enum promql_op op; /* PROMQL_OP_ADD or PROMQL_OP_SUB */
            struct promql_expr *expr;
        } unary;
        struct {
            enum promql_op op;
            struct promql_expr *lhs, *rhs;
            bool return_bool;
            /* NULL unless both sides are instant vectors. */
            struct promql_vector_matching *matching;
        } binary;
        struct {
            enum promql_agg_op op;
            struct promql_expr *expr;
            struct promql_expr *param; /* NULL unless the op takes one */
            const char **grouping;
            size_t ngrouping;
            bool without;
        } aggregate;
        struct {
            const struct promql_function *func;
            struct promql_expr **args;
            size_t nargs;
        } call;
        struct {
            /* ADD/SUB/MUL/DIV/MOD/POW with lhs and rhs; unary ADD/SUB with
             * rhs only; STEP/RANGE with neither; MIN_OF/MAX_OF with both.
             * Leaves are PROMQL_EXPR_NUMBER nodes. */
            enum promql_op op;
            const struct promql_expr *lhs, *rhs;
            bool wrapped; /* written in parentheses */
        } duration;
    };
};

/* ---- Parsing ---------------------------------------------------------- */

/* Feature bits, Prometheus's --enable-feature flags for the parser. */
enum promql_feature {
    PROMQL_FEATURE_EXPERIMENTAL_FUNCTIONS = 1u << 0, /* promql-experimental-functions */
    PROMQL_FEATURE_DURATION_EXPR = 1u << 1,          /* promql-duration-expr */
    PROMQL_FEATURE_EXTENDED_RANGE = 1u << 2,         /* anchored / smoothed */
    PROMQL_FEATURE_FILL = 1u << 3,                   /* fill() binop modifiers */
};
/* Prometheus 3.x's defaults: duration expressions on, the rest off. */
#define PROMQL_FEATURES_DEFAULT ((unsigned)PROMQL_FEATURE_DURATION_EXPR)
/* What Prometheus's own test runner enables. */
#define PROMQL_FEATURES_ALL 0xfu

struct promql_parse_error {
    char msg[512];     /* as Prometheus prints it: "1:14: parse error: unexpected \"}\"" */
    char detail[448];  /* the message alone: "unexpected \"}\"" */
    int line, col;     /* 1-based; 0 when the position is unknown (empty input) */
    size_t start, end; /* byte range in the input */
};

/* Parses and type-checks an expression.  Returns the root, or NULL with
 * *err filled (err may be NULL).  The input need not be NUL-terminated. */
struct promql_expr *promql_parse(struct promql_arena *a, const char *input, size_t len,
                                 unsigned features, struct promql_parse_error *err);

/* Parses a lone vector selector, like Prometheus's ParseMetricSelector
 * (the series / labels APIs' match[]): no ranges, modifiers or operators,
 * and, as there, no check for an empty-matching selector (see
 * promql_matchers_match_empty).  Returns a PROMQL_EXPR_VECTOR_SELECTOR. */
struct promql_expr *promql_parse_selector(struct promql_arena *a, const char *input, size_t len,
                                          struct promql_parse_error *err);

/* Whether the matcher accepts the empty value (regexes fully anchored,
 * RE2 syntax).  A selector all of whose matchers do is rejected by
 * promql_parse ("vector selector must contain at least one non-empty
 * matcher"). */
bool promql_matcher_matches_empty(const struct label_matcher *m);
bool promql_matchers_match_empty(const struct label_matcher *m, size_t n);

/* Computes a duration expression (a range, step or offset written as
 * arithmetic) for a query with the given step and range (end - start), as
 * Prometheus's engine does before evaluation: in float seconds, then
 * truncated to milliseconds.  Ranges and steps must come out positive,
 * offsets may not (allow_negative).  Returns 0, or -1 with the engine's
 * message in err ("4:10: duration must be greater than 0": byte offsets). */
int promql_duration_eval(const struct promql_expr *e, int64_t step_ms, int64_t range_ms,
                         bool allow_negative, int64_t *ms, char *err, size_t errsz);

/* ---- Walking ---------------------------------------------------------- */

/* Calls fn on e and its descendants, parents first, children in
 * Prometheus's order (an aggregation's operand before its parameter;
 * duration expressions are not visited).  Stops early and returns
 * fn's value when it is non-zero. */
int promql_expr_walk(const struct promql_expr *e, int (*fn)(const struct promql_expr *e, void *ctx),
                     void *ctx);

/* Stores up to cap vector selectors of e (inner selectors of matrix
 * selectors included) in out, in walk order, and returns how many there
 * are in all — Prometheus's ExtractSelectors, for match[] style uses. */
size_t promql_expr_selectors(const struct promql_expr *e, const struct promql_expr **out,
                             size_t cap);

/* ---- Printing --------------------------------------------------------- */

/* Appends the canonical text of e, as Prometheus's Expr.String(): used for
 * rule files and /api/v1/format_query's building blocks. */
void promql_format(const struct promql_expr *e, struct sbuf *out);
/* Appends Prometheus's Prettify() output (format_query): nodes longer than
 * 100 bytes are split over indented lines. */
void promql_format_pretty(const struct promql_expr *e, struct sbuf *out);

/* Appends the tree as Prometheus 3's /api/v1/parse_query shows it (its
 * translateAST): nested objects with sorted keys (query/ast_json.c). */
void promql_ast_json(const struct promql_expr *e, struct sbuf *out);

/* ---- Evaluation (query/eval*.c) --------------------------------------- */

struct tsdb;

/* Engine settings; zero values give Prometheus's defaults. */
struct promql_eval_opts {
    int64_t lookback_ms;        /* 0 = 5m: an instant selector sees samples in (t-lookback, t] */
    int64_t default_step_ms;    /* 0 = 1m: subquery step when written [5m:] */
    size_t max_samples;         /* 0 = 50000000 */
    int64_t timeout_ms;         /* 0 = none */
    const volatile int *cancel; /* non-zero: stop between steps; may be NULL */
    bool per_step_stats;        /* fill promql_result.stats.step_samples (stats=all) */
    /* --enable-feature=promql-delayed-name-removal: metric names dropped by
     * functions and operators go only at the end of the query, so series
     * that differ only by name may meet in between.  Off (Prometheus's
     * default), such a function result is an error. */
    bool delayed_name_removal;
    /* --enable-feature=use-start-timestamps (experimental in Prometheus):
     * rate, increase, irate and resets read the samples' start timestamps
     * (a restart since the previous sample is a counter reset; a start
     * inside the range replaces the extrapolation to the left), and
     * start_timestamp() returns them.  Off, STs are not even read. */
    bool use_start_timestamps;
};

/* What a query read, as Prometheus's query statistics count it: every
 * sample a selector yields at every step (a series' point for an instant
 * selector, the points in range for a range selector). */
struct promql_query_stats {
    uint64_t total_samples; /* totalQueryableSamples */
    uint64_t peak_samples;  /* peakSamples: the largest set of samples held at once */
    uint64_t *step_samples; /* per step (per_step_stats), NULL otherwise; in the arena */
    size_t nsteps;          /* steps at start, start+step, ... */
};

struct promql_point {
    int64_t t; /* ms */
    double v;
};

/* A result series.  An instant vector's series have one point each, at
 * the evaluation time. */
struct promql_series {
    struct labels labels;
    struct promql_point *points;
    size_t npoints;
};

/* The outcome of a query.  Everything lives in arena; free with
 * promql_result_free.  type is PROMQL_SCALAR (scalar, t), PROMQL_STRING
 * (str, slen), PROMQL_VECTOR or PROMQL_MATRIX (series, sorted by labels
 * for a matrix, in evaluation order for a vector). */
struct promql_result {
    enum promql_type type;
    double scalar;
    int64_t t;
    const char *str;
    size_t slen;
    struct promql_series *series;
    size_t nseries;
    /* Annotations as Prometheus renders them ("PromQL warning: ... (1:10)"). */
    const char **warnings;
    size_t nwarnings;
    const char **infos;
    size_t ninfos;
    struct promql_query_stats stats;
    struct promql_arena *arena;
};

/* Evaluates e (parsed from query, which annotations cite) at time t (ms).
 * Returns 0 and *out, or -1 with the engine's message in err ("vector
 * cannot contain metrics with the same labelset", "query processing would
 * load too many samples into memory in query execution", ...). */
int promql_eval_instant(struct tsdb *db, const char *query, const struct promql_expr *e, int64_t t,
                        const struct promql_eval_opts *opts, struct promql_result **out, char *err,
                        size_t errsz);
/* Evaluates e at start, start+step, ... <= end; the result is a matrix
 * (a scalar query gives one series without labels). */
int promql_eval_range(struct tsdb *db, const char *query, const struct promql_expr *e,
                      int64_t start, int64_t end, int64_t step, const struct promql_eval_opts *opts,
                      struct promql_result **out, char *err, size_t errsz);
void promql_result_free(struct promql_result *r);

/* Appends {"resultType":"vector","result":[...]} as Prometheus's HTTP API
 * writes the data of a query response (query/result_json.c). */
void promql_result_json(const struct promql_result *r, struct sbuf *out);
/* Appends a label set as a JSON object {"name":"value",...}, the shape of
 * "metric" in results and of the series API's entries. */
void promql_labels_json(const struct labels *ls, struct sbuf *out);

/* ---- The conformance runner (query/promqltest.c) ------------------------ */

#include <stdio.h>

struct promqltest_stats {
    int passed, failed, skipped; /* eval blocks */
};

/* Runs one Prometheus test script (shared/promql-tests/FORMAT.md) on a
 * fresh database in a temporary directory; prints "FAIL FILE:LINE: ..."
 * for each failing block and a last line "N passed, M failed, K skipped"
 * to out (a file it cannot parse fails every eval block of it).
 * Returns 0 when all blocks passed, 1 when some failed, -1 when the file
 * could not be parsed or run. */
int promqltest_run_file(const char *path, FILE *out, struct promqltest_stats *st);

/* Appends series written in the scripts' load notation, one "series
 * values" string per line (`up{job="a"} 1+1x10 _ stale 5`), as one batch
 * with samples at 0, interval_ms, 2*interval_ms, ... — also what
 * promtool's rule unit tests feed their input_series through.  Returns 0,
 * or -1 with err ("bad values in load: ..."). */
int promqltest_load(struct tsdb *db, const char *const *lines, size_t n, int64_t interval_ms,
                    char *err, size_t errsz);

#endif
