/* functions.c — PromQL's function table and the names of its operators.
 *
 * One row per function, as in Prometheus's parser.Functions: argument
 * types, how many optional trailing arguments there may be, the result
 * type, and whether --enable-feature=promql-experimental-functions is
 * needed.  The parser checks calls against the row; the evaluator switches
 * on its id.  holt_winters is absent: Prometheus 3 renamed it to
 * double_exponential_smoothing, so by default it is an unknown function
 * there too.  The table is sorted by name for binary search. */
#include <string.h>

#include "query/promql_internal.h"

#define S   PROMQL_SCALAR
#define V   PROMQL_VECTOR
#define M   PROMQL_MATRIX
#define STR PROMQL_STRING

/* name, id, {arg types}, nargs, variadic, return type, experimental */
static const struct promql_function functions[] = {
    {"abs", PROMQL_FN_ABS, {V}, 1, 0, V, false},
    {"absent", PROMQL_FN_ABSENT, {V}, 1, 0, V, false},
    {"absent_over_time", PROMQL_FN_ABSENT_OVER_TIME, {M}, 1, 0, V, false},
    {"acos", PROMQL_FN_ACOS, {V}, 1, 0, V, false},
    {"acosh", PROMQL_FN_ACOSH, {V}, 1, 0, V, false},
    {"asin", PROMQL_FN_ASIN, {V}, 1, 0, V, false},
    {"asinh", PROMQL_FN_ASINH, {V}, 1, 0, V, false},
    {"atan", PROMQL_FN_ATAN, {V}, 1, 0, V, false},
    {"atanh", PROMQL_FN_ATANH, {V}, 1, 0, V, false},
    {"avg_over_time", PROMQL_FN_AVG_OVER_TIME, {M}, 1, 0, V, false},
    {"ceil", PROMQL_FN_CEIL, {V}, 1, 0, V, false},
    {"changes", PROMQL_FN_CHANGES, {M}, 1, 0, V, false},
    {"clamp", PROMQL_FN_CLAMP, {V, S, S}, 3, 0, V, false},
    {"clamp_max", PROMQL_FN_CLAMP_MAX, {V, S}, 2, 0, V, false},
    {"clamp_min", PROMQL_FN_CLAMP_MIN, {V, S}, 2, 0, V, false},
    {"cos", PROMQL_FN_COS, {V}, 1, 0, V, false},
    {"cosh", PROMQL_FN_COSH, {V}, 1, 0, V, false},
    {"count_over_time", PROMQL_FN_COUNT_OVER_TIME, {M}, 1, 0, V, false},
    {"day_of_month", PROMQL_FN_DAY_OF_MONTH, {V}, 1, 1, V, false},
    {"day_of_week", PROMQL_FN_DAY_OF_WEEK, {V}, 1, 1, V, false},
    {"day_of_year", PROMQL_FN_DAY_OF_YEAR, {V}, 1, 1, V, false},
    {"days_in_month", PROMQL_FN_DAYS_IN_MONTH, {V}, 1, 1, V, false},
    {"deg", PROMQL_FN_DEG, {V}, 1, 0, V, false},
    {"delta", PROMQL_FN_DELTA, {M}, 1, 0, V, false},
    {"deriv", PROMQL_FN_DERIV, {M}, 1, 0, V, false},
    {"double_exponential_smoothing",
     PROMQL_FN_DOUBLE_EXPONENTIAL_SMOOTHING,
     {M, S, S},
     3,
     0,
     V,
     true},
    {"end", PROMQL_FN_END, {0}, 0, 0, S, true},
    {"exp", PROMQL_FN_EXP, {V}, 1, 0, V, false},
    {"first_over_time", PROMQL_FN_FIRST_OVER_TIME, {M}, 1, 0, V, true},
    {"floor", PROMQL_FN_FLOOR, {V}, 1, 0, V, false},
    {"histogram_avg", PROMQL_FN_HISTOGRAM_AVG, {V}, 1, 0, V, false},
    {"histogram_count", PROMQL_FN_HISTOGRAM_COUNT, {V}, 1, 0, V, false},
    {"histogram_fraction", PROMQL_FN_HISTOGRAM_FRACTION, {S, S, V}, 3, 0, V, false},
    {"histogram_quantile", PROMQL_FN_HISTOGRAM_QUANTILE, {S, V}, 2, 0, V, false},
    {"histogram_quantiles", PROMQL_FN_HISTOGRAM_QUANTILES, {V, STR, S, S}, 4, 9, V, true},
    {"histogram_stddev", PROMQL_FN_HISTOGRAM_STDDEV, {V}, 1, 0, V, false},
    {"histogram_stdvar", PROMQL_FN_HISTOGRAM_STDVAR, {V}, 1, 0, V, false},
    {"histogram_sum", PROMQL_FN_HISTOGRAM_SUM, {V}, 1, 0, V, false},
    {"hour", PROMQL_FN_HOUR, {V}, 1, 1, V, false},
    {"idelta", PROMQL_FN_IDELTA, {M}, 1, 0, V, false},
    {"increase", PROMQL_FN_INCREASE, {M}, 1, 0, V, false},
    {"info", PROMQL_FN_INFO, {V, V}, 2, 1, V, true},
    {"integral", PROMQL_FN_INTEGRAL, {M, S}, 2, 1, V, true},
    {"irate", PROMQL_FN_IRATE, {M}, 1, 0, V, false},
    {"label_join", PROMQL_FN_LABEL_JOIN, {V, STR, STR, STR}, 4, -1, V, false},
    {"label_replace", PROMQL_FN_LABEL_REPLACE, {V, STR, STR, STR, STR}, 5, 0, V, false},
    {"last_over_time", PROMQL_FN_LAST_OVER_TIME, {M}, 1, 0, V, false},
    {"ln", PROMQL_FN_LN, {V}, 1, 0, V, false},
    {"log10", PROMQL_FN_LOG10, {V}, 1, 0, V, false},
    {"log2", PROMQL_FN_LOG2, {V}, 1, 0, V, false},
    {"mad_over_time", PROMQL_FN_MAD_OVER_TIME, {M}, 1, 0, V, true},
    {"max_of", PROMQL_FN_MAX_OF, {S, S}, 2, 0, S, true},
    {"max_over_time", PROMQL_FN_MAX_OVER_TIME, {M}, 1, 0, V, false},
    {"min_of", PROMQL_FN_MIN_OF, {S, S}, 2, 0, S, true},
    {"min_over_time", PROMQL_FN_MIN_OVER_TIME, {M}, 1, 0, V, false},
    {"minute", PROMQL_FN_MINUTE, {V}, 1, 1, V, false},
    {"month", PROMQL_FN_MONTH, {V}, 1, 1, V, false},
    {"pi", PROMQL_FN_PI, {0}, 0, 0, S, false},
    {"predict_linear", PROMQL_FN_PREDICT_LINEAR, {M, S}, 2, 0, V, false},
    {"present_over_time", PROMQL_FN_PRESENT_OVER_TIME, {M}, 1, 0, V, false},
    {"quantile_over_time", PROMQL_FN_QUANTILE_OVER_TIME, {S, M}, 2, 0, V, false},
    {"rad", PROMQL_FN_RAD, {V}, 1, 0, V, false},
    {"range", PROMQL_FN_RANGE, {0}, 0, 0, S, true},
    {"rate", PROMQL_FN_RATE, {M}, 1, 0, V, false},
    {"resets", PROMQL_FN_RESETS, {M}, 1, 0, V, false},
    {"round", PROMQL_FN_ROUND, {V, S}, 2, 1, V, false},
    {"scalar", PROMQL_FN_SCALAR, {V}, 1, 0, S, false},
    {"sgn", PROMQL_FN_SGN, {V}, 1, 0, V, false},
    {"sin", PROMQL_FN_SIN, {V}, 1, 0, V, false},
    {"sinh", PROMQL_FN_SINH, {V}, 1, 0, V, false},
    {"sort", PROMQL_FN_SORT, {V}, 1, 0, V, false},
    {"sort_by_label", PROMQL_FN_SORT_BY_LABEL, {V, STR}, 2, -1, V, true},
    {"sort_by_label_desc", PROMQL_FN_SORT_BY_LABEL_DESC, {V, STR}, 2, -1, V, true},
    {"sort_desc", PROMQL_FN_SORT_DESC, {V}, 1, 0, V, false},
    {"sqrt", PROMQL_FN_SQRT, {V}, 1, 0, V, false},
    {"start", PROMQL_FN_START, {0}, 0, 0, S, true},
    {"start_timestamp", PROMQL_FN_START_TIMESTAMP, {V}, 1, 0, V, true},
    {"stddev_over_time", PROMQL_FN_STDDEV_OVER_TIME, {M}, 1, 0, V, false},
    {"stdvar_over_time", PROMQL_FN_STDVAR_OVER_TIME, {M}, 1, 0, V, false},
    {"step", PROMQL_FN_STEP, {0}, 0, 0, S, true},
    {"sum_over_time", PROMQL_FN_SUM_OVER_TIME, {M}, 1, 0, V, false},
    {"tan", PROMQL_FN_TAN, {V}, 1, 0, V, false},
    {"tanh", PROMQL_FN_TANH, {V}, 1, 0, V, false},
    {"time", PROMQL_FN_TIME, {0}, 0, 0, S, false},
    {"timestamp", PROMQL_FN_TIMESTAMP, {V}, 1, 0, V, false},
    {"ts_of_first_over_time", PROMQL_FN_TS_OF_FIRST_OVER_TIME, {M}, 1, 0, V, true},
    {"ts_of_last_over_time", PROMQL_FN_TS_OF_LAST_OVER_TIME, {M}, 1, 0, V, true},
    {"ts_of_max_over_time", PROMQL_FN_TS_OF_MAX_OVER_TIME, {M}, 1, 0, V, true},
    {"ts_of_min_over_time", PROMQL_FN_TS_OF_MIN_OVER_TIME, {M}, 1, 0, V, true},
    {"vector", PROMQL_FN_VECTOR, {S}, 1, 0, V, false},
    {"year", PROMQL_FN_YEAR, {V}, 1, 1, V, false},
};

#undef S
#undef V
#undef M
#undef STR

enum { N_FUNCTIONS = sizeof functions / sizeof functions[0] };

_Static_assert((int)N_FUNCTIONS == (int)PROMQL_FN__COUNT, "one table row per function id");

const struct promql_function *promql_function_lookup(const char *name, size_t len)
{
    size_t lo = 0, hi = N_FUNCTIONS;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        const char *f = functions[mid].name;
        size_t flen = strlen(f);
        int c = memcmp(f, name, flen < len ? flen : len);
        if (c == 0)
            c = flen < len ? -1 : flen > len ? 1 : 0;
        if (c == 0)
            return &functions[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

const struct promql_function *promql_function_by_id(enum promql_func_id id)
{
    for (size_t i = 0; i < N_FUNCTIONS; i++)
        if (functions[i].id == id)
            return &functions[i];
    return NULL;
}

const char *promql_type_name(enum promql_type t)
{
    switch (t) {
    case PROMQL_SCALAR:
        return "scalar";
    case PROMQL_VECTOR:
        return "instant vector";
    case PROMQL_MATRIX:
        return "range vector";
    case PROMQL_STRING:
        return "string";
    case PROMQL_NONE:
        break;
    }
    return "none";
}

const char *promql_op_name(enum promql_op op)
{
    static const char *const names[] = {
        [PROMQL_OP_NONE] = "",         [PROMQL_OP_ADD] = "+",         [PROMQL_OP_SUB] = "-",
        [PROMQL_OP_MUL] = "*",         [PROMQL_OP_DIV] = "/",         [PROMQL_OP_MOD] = "%",
        [PROMQL_OP_POW] = "^",         [PROMQL_OP_ATAN2] = "atan2",   [PROMQL_OP_EQL] = "==",
        [PROMQL_OP_TRIM_UPPER] = "</", [PROMQL_OP_TRIM_LOWER] = ">/", [PROMQL_OP_NEQ] = "!=",
        [PROMQL_OP_GTR] = ">",         [PROMQL_OP_LSS] = "<",         [PROMQL_OP_GTE] = ">=",
        [PROMQL_OP_LTE] = "<=",        [PROMQL_OP_AND] = "and",       [PROMQL_OP_OR] = "or",
        [PROMQL_OP_UNLESS] = "unless", [PROMQL_OP_STEP] = "step",     [PROMQL_OP_RANGE] = "range",
        [PROMQL_OP_MIN_OF] = "min_of", [PROMQL_OP_MAX_OF] = "max_of",
    };
    return (size_t)op < sizeof names / sizeof names[0] ? names[op] : "";
}

bool promql_op_is_comparison(enum promql_op op)
{
    return op >= PROMQL_OP_EQL && op <= PROMQL_OP_LTE;
}

bool promql_op_is_set(enum promql_op op)
{
    return op == PROMQL_OP_AND || op == PROMQL_OP_OR || op == PROMQL_OP_UNLESS;
}

const char *promql_agg_op_name(enum promql_agg_op op)
{
    static const char *const names[] = {
        [PROMQL_AGG_SUM] = "sum",
        [PROMQL_AGG_AVG] = "avg",
        [PROMQL_AGG_COUNT] = "count",
        [PROMQL_AGG_MIN] = "min",
        [PROMQL_AGG_MAX] = "max",
        [PROMQL_AGG_GROUP] = "group",
        [PROMQL_AGG_STDDEV] = "stddev",
        [PROMQL_AGG_STDVAR] = "stdvar",
        [PROMQL_AGG_TOPK] = "topk",
        [PROMQL_AGG_BOTTOMK] = "bottomk",
        [PROMQL_AGG_COUNT_VALUES] = "count_values",
        [PROMQL_AGG_QUANTILE] = "quantile",
        [PROMQL_AGG_LIMITK] = "limitk",
        [PROMQL_AGG_LIMIT_RATIO] = "limit_ratio",
    };
    return (size_t)op < sizeof names / sizeof names[0] ? names[op] : "";
}
