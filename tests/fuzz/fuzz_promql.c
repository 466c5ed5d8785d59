/* fuzz_promql.c — libFuzzer target for the PromQL parser and printers.
 *
 * Each input is parsed with every feature on and with the defaults, and as
 * a lone selector (the series API's match[]).  When it parses, every
 * printer runs (canonical text, pretty text, the parse_query JSON), and
 * the canonical text must parse again and print to the same text: the
 * printer writes what the parser reads, so a query survives a round trip
 * through format_query or a rule file.  Errors must carry a message.
 *
 *   tests/fuzz/run_fuzz.sh promql 300 /tmp/fuzz */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "query/promql.h"
#include "util/sbuf.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void round_trip(const struct promql_expr *e, unsigned features)
{
    struct sbuf once = SBUF_INIT, twice = SBUF_INIT, pretty = SBUF_INIT, json = SBUF_INIT;
    promql_format(e, &once);
    promql_format_pretty(e, &pretty);
    promql_ast_json(e, &json);
    struct promql_arena *a = promql_arena_new();
    struct promql_parse_error err;
    const char *text = once.data ? once.data : "";
    struct promql_expr *again = promql_parse(a, text, once.len, features, &err);
    CHECK(again != NULL);
    promql_format(again, &twice);
    CHECK(once.len == twice.len && memcmp(text, twice.data ? twice.data : "", once.len) == 0);
    promql_arena_free(a);
    sbuf_free(&once);
    sbuf_free(&twice);
    sbuf_free(&pretty);
    sbuf_free(&json);
}

static void parse_with(const uint8_t *data, size_t size, unsigned features)
{
    struct promql_arena *a = promql_arena_new();
    struct promql_parse_error err;
    struct promql_expr *e = promql_parse(a, (const char *)data, size, features, &err);
    if (e)
        round_trip(e, features);
    else
        CHECK(err.msg[0] != '\0');
    promql_arena_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0; /* deep nesting is bounded by the parser; long inputs only slow the run */
    parse_with(data, size, PROMQL_FEATURES_ALL);
    parse_with(data, size, PROMQL_FEATURES_DEFAULT);
    struct promql_arena *a = promql_arena_new();
    struct promql_parse_error err;
    struct promql_expr *sel = promql_parse_selector(a, (const char *)data, size, &err);
    CHECK(sel == NULL || sel->kind == PROMQL_EXPR_VECTOR_SELECTOR);
    promql_arena_free(a);
    return 0;
}
