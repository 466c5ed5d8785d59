/* The PromQL front end: what parses, what it prints back as, and which
 * error Prometheus would report for what does not parse.
 *
 * Expected texts come from Prometheus's own parser and printer tests
 * (parse_test.go, printer_test.go) where they have a case, and otherwise
 * from the rules those files encode.  The corpus test reads every query of
 * the .test files of shared/promql-tests: Prometheus's runner parses all of them, so
 * every one must parse here too, and print back to text that parses to
 * the same text.  Runs with cwd = tests/unit and VIGIL_SRC = the source
 * root (the corpus is skipped when it is not there). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/promql.h"
#include "util/sbuf.h"

/* ---- Helpers ---------------------------------------------------------- */

static struct promql_expr *parse_with(struct promql_arena *a, const char *q, unsigned features,
                                      struct promql_parse_error *err)
{
    return promql_parse(a, q, strlen(q), features, err);
}

/* Parses q with every feature on and returns its printed form (malloc'd),
 * or NULL with the error in *err. */
static char *format_query(const char *q, unsigned features, struct promql_parse_error *err)
{
    struct promql_arena *a = promql_arena_new();
    struct promql_expr *e = parse_with(a, q, features, err);
    char *out = NULL;
    if (e) {
        struct sbuf b = SBUF_INIT;
        promql_format(e, &b);
        out = sbuf_detach(&b);
    }
    promql_arena_free(a);
    return out;
}

static int failures;

static void check_valid(const char *in, const char *want, unsigned features)
{
    struct promql_parse_error err;
    char *got = format_query(in, features, &err);
    if (!want)
        want = in;
    if (!got) {
        print_message("FAIL parse %s\n  error: %s\n", in, err.msg);
        failures++;
        return;
    }
    if (strcmp(got, want) != 0) {
        print_message("FAIL print %s\n  want: %s\n  got:  %s\n", in, want, got);
        failures++;
    } else {
        /* Round trip: the printed form parses and prints the same. */
        char *again = format_query(got, features, &err);
        if (!again || strcmp(again, got) != 0) {
            print_message("FAIL round trip %s\n  first: %s\n  again: %s\n", in, got,
                          again ? again : err.msg);
            failures++;
        }
        free(again);
    }
    free(got);
}

static void check_error(const char *in, const char *want, unsigned features)
{
    struct promql_parse_error err;
    char *got = format_query(in, features, &err);
    if (got) {
        print_message("FAIL accepted %s\n  printed: %s\n  want error: %s\n", in, got, want);
        failures++;
    } else if (strcmp(err.msg, want) != 0) {
        print_message("FAIL error %s\n  want: %s\n  got:  %s\n", in, want, err.msg);
        failures++;
    }
    free(got);
}

struct text_case {
    const char *in;
    const char *out; /* printed form, or error; NULL: same as in */
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---- Valid queries and their canonical form --------------------------- */

static const struct text_case valid_literals[] = {
    {"1", NULL},
    {"+Inf", NULL},
    {"-Inf", NULL},
    {"inF", "+Inf"},
    {"-inf", "-Inf"},
    {"NaN", NULL},
    {"nan", "NaN"},
    {".5", "0.5"},
    {"5.", "5"},
    {"2.", "2"},
    {"123.4567", NULL},
    {"5e-3", "0.005"},
    {"5e3", "5000"},
    {"0xc", "12"},
    {"0x_1F", "31"},
    {"0755", "493"},
    {"08", "8"},
    {"1_000", "1000"},
    {"+5.5e-3", "0.0055"},
    {"-0755", "-493"},
    {"12.34e+6", "12340000"},
    {"-0.2e-6", "-0.0000002"},
    {"1e21", "1000000000000000000000"},
    {"1048576", NULL},
    {"0.1", NULL},
    {"1 + 1", NULL},
    {"1 - 1", NULL},
    {"1 * 1", NULL},
    {"1 % 1", NULL},
    {"1 / 1", NULL},
    {"1 == bool 1", NULL},
    {"1 != bool 1", NULL},
    {"1 > bool 1", NULL},
    {"1 >= bool 1", NULL},
    {"1 < bool 1", NULL},
    {"1 <= bool 1", NULL},
    {"1 ^ 2", NULL},
    {"1 atan2 2", NULL},
    {"h </ +Inf", NULL},
    {"h >/ 0.5", NULL},
    {"histogram_count(h</2)", "histogram_count(h </ 2)"},
    {"h >/ on(a) g", "h >/ on (a) g"},
    {"1 ATAN2 2", "1 atan2 2"},
    {"-1^2", "-1 ^ 2"},
    {"-1*2", "-1 * 2"},
    {"-1+2", "-1 + 2"},
    {"-1^-2", "-1 ^ -2"},
    {"+1 + -2 * 1", "1 + -2 * 1"},
    {"1 + 2/(3*1)", "1 + 2 / (3 * 1)"},
    {"1 < bool 2 - 1 * 2", NULL},
    {"- - 1", "1"},
    {"-(1)", NULL},
    {"((1) / (0))", NULL},
    {"1m", NULL},
    {"vector(1m30s)", NULL},
    {"-5m", NULL},
    {"\"double-quoted string \\\" with escaped quote\"", NULL},
    {"'single-quoted string \\' with escaped quote'",
     "\"single-quoted string ' with escaped quote\""},
    {"`backtick-quoted string`", "\"backtick-quoted string\""},
    {"\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\" - \\xFF\\377\\u1234\\U00010111\\U0001011111\xe2\x98\xba\"",
     "\"\\a\\b\\f\\n\\r\\t\\v\\\\\\\" - \\xff\\xff\xe1\x88\xb4\xf0\x90\x84\x91\xf0\x90\x84\x91"
     "11\xe2\x98\xba\""},
    {"`\\a\\b\\f\\n\\r\\t\\v\\\\\\\"\\' - \\xFF`",
     "\"\\\\a\\\\b\\\\f\\\\n\\\\r\\\\t\\\\v\\\\\\\\\\\\\\\"\\\\' - \\\\xFF\""},
    {"\"\"", NULL},
    {"(\"Foo\")", NULL},
    {"\" Foo \"", NULL},
    {"\"\\u00e9\\x41\"", "\"\xc3\xa9"
                         "A\""},
    {"\"tab\there\"", "\"tab\\there\""},
};

static const struct text_case valid_selectors[] = {
    {"foo", NULL},
    {"min", NULL},
    {"sum", NULL},
    {"start", NULL},
    {"end", NULL},
    {"step", NULL},
    {"fill", NULL},
    {"foo:bar{a=\"bc\"}", NULL},
    {":foo", NULL},
    {"{\"foo\"}", "{__name__=\"foo\"}"},
    {"{'foo\\'bar', 'a\\\\dos\\\\path'='boo\\\\urns'}",
     "{\"a\\\\dos\\\\path\"=\"boo\\\\urns\",__name__=\"foo'bar\"}"},
    {"{\"foo\", a=\"bc\"}", "{__name__=\"foo\",a=\"bc\"}"},
    {"foo{NaN='bc'}", "foo{NaN=\"bc\"}"},
    {"foo{bar='}'}", "foo{bar=\"}\"}"},
    {"foo{a=\"b\", foo!=\"bar\", test=~\"test\", bar!~\"baz\"}",
     "foo{a=\"b\",bar!~\"baz\",foo!=\"bar\",test=~\"test\"}"},
    {"{a=\"b\", foo!=\"bar\", \"foo\", test=~\"test\", bar!~\"baz\"}",
     "{__name__=\"foo\",a=\"b\",bar!~\"baz\",foo!=\"bar\",test=~\"test\"}"},
    {"foo{a=\"b\", foo!=\"bar\", test=~\"test\", bar!~\"baz\",}",
     "foo{a=\"b\",bar!~\"baz\",foo!=\"bar\",test=~\"test\"}"},
    {"{__name__=~\"bar\", __name__!~\"baz\"}", "{__name__!~\"baz\",__name__=~\"bar\"}"},
    {"{__name__=\"bar\", __name__=\"baz\"}", "{__name__=\"bar\",__name__=\"baz\"}"},
    {"{\"bar\", __name__=\"baz\"}", "{__name__=\"bar\",__name__=\"baz\"}"},
    {"{__name__=\"a\"}", NULL},
    {"{__name__=\"\",a=\"x\"}", NULL},
    {"{\"a.b\"=\"c\"}", NULL},
    {"{\"0\"=\"1\"}", NULL},
    {"{\"_0\"=\"1\"}", "{_0=\"1\"}"},
    {"{\"\"=\"0\"}", NULL},
    {"{``=\"0\"}", "{\"\"=\"0\"}"},
    {"{\"my.metric\", \"a.b\"=\"c\"}", "{\"a.b\"=\"c\",__name__=\"my.metric\"}"},
    {"foo{\"service.name\"=\"api\"}", NULL},
    {"foo{}", "foo"},
    {"foo{x=\"\"}", NULL},
    {"{x=\"\", y=\"a\"}", "{x=\"\",y=\"a\"}"},
    {"{a=~\".+\"}", NULL},
    {"{a!~\".*\"}", NULL},
    {"{a!~\"\"}", NULL},
    {"{a=~\"\\\\b\"}", NULL},
    {"{a=~\"(?i)abc|(?P<x>d+)\"}", NULL},
    {"{a=~\"[[:alpha:]]+\\\\d{2,3}\"}", NULL},
    {"{a=~\"x*?y\"}", NULL},
    {"{a=~\"\\\\pL\\\\p{Greek}\"}", NULL},
    {"{a=~\"a{,2}\"}", NULL},
    {"offset{step=\"1s\"}[5m]", NULL},
    {"step{offset=\"1s\"}[5m]", NULL},
    {"anchored{job=\"test\"}", NULL},
    {"smoothed{job=\"test\"}", NULL},
    {"start{end=\"foo\"}", NULL},
    {"end{start=\"foo\"}", NULL},
    {"by{x=\"y\"}", NULL},
    {"sum{x=\"y\"}", NULL},
    {"foo OFFSET 1h30m", "foo offset 1h30m"},
    {"foo OFFSET 1m30ms", "foo offset 1m30ms"},
    {"foo offset 5m", NULL},
    {"foo offset -7m", NULL},
    {"foo offset 0", "foo"},
    {"foo offset 1.5", "foo offset 1s500ms"},
    {"foo offset 90d", NULL},
    {"foo offset 14d", "foo offset 2w"},
    {"foo offset 365d", "foo offset 1y"},
    {"foo offset 1y1d", "foo offset 366d"},
    {"foo @ 1603774568", "foo @ 1603774568.000"},
    {"foo @ -100", "foo @ -100.000"},
    {"foo @ .3", "foo @ 0.300"},
    {"foo @ 3.", "foo @ 3.000"},
    {"foo @ 3.33", "foo @ 3.330"},
    {"foo @ 3.3333", "foo @ 3.333"},
    {"foo @ 3.3335", "foo @ 3.334"},
    {"foo @ 3e2", "foo @ 300.000"},
    {"foo @ 3e-1", "foo @ 0.300"},
    {"foo @ 0xA", "foo @ 10.000"},
    {"foo @ -3.3e1", "foo @ -33.000"},
    {"foo @ 1m40s", "foo @ 100.000"},
    {"foo @ +5", "foo @ 5.000"},
    {"foo @ start()", NULL},
    {"foo @ end()", NULL},
    {"foo offset 5m @ 10", "foo @ 10.000 offset 5m"},
    {"foo @ 10 offset 5m", "foo @ 10.000 offset 5m"},
    {"metric offset 50s @ 100", "metric @ 100.000 offset 50s"},
};

static const struct text_case valid_ranges[] = {
    {"test[1000ms]", "test[1s]"},
    {"test[1001ms]", "test[1s1ms]"},
    {"test[5s]", NULL},
    {"test[5m]", NULL},
    {"foo[5m30s]", NULL},
    {"test[5h] OFFSET 5m", "test[5h] offset 5m"},
    {"test[5d] OFFSET 10s", "test[5d] offset 10s"},
    {"test[5w] offset 2w", NULL},
    {"test{a=\"b\"}[5y] OFFSET 3d", "test{a=\"b\"}[5y] offset 3d"},
    {"test{a=\"b\"}[5m] OFFSET 3600", "test{a=\"b\"}[5m] offset 1h"},
    {"foo[3ms] @ 2.345", NULL},
    {"foo[4s180ms] @ 2.345", NULL},
    {"foo[4.18] @ 2.345", "foo[4s180ms] @ 2.345"},
    {"foo[4.018] @ 2.345", "foo[4s18ms] @ 2.345"},
    {"test{a=\"b\"}[5y] @ 1603774699", "test{a=\"b\"}[5y] @ 1603774699.000"},
    {"test[5]", "test[5s]"},
    {"some_metric[5m] @ 1m", "some_metric[5m] @ 60.000"},
    {"test[5y] @ start()", NULL},
    {"test[5y] @ end()", NULL},
    {"a[12m] offset -3m", NULL},
    {"a[90d]", NULL},
    {"a[400d]", NULL},
    {"a[365d]", "a[1y]"},
    {"a{c=\"d\"}[5m] offset 1m", NULL},
    {"foo{bar=\"baz\"}[10m:6s]", NULL},
    {"foo{bar=\"baz\"}[10m5s:1h6ms]", NULL},
    {"foo[10m:]", NULL},
    {"a[1h:5m] offset 1m", NULL},
    {"foo[30:10]", "foo[30s:10s]"},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:5s])", NULL},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:])[4m:3s]", NULL},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] offset 4m)[4m:3s]", NULL},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ 1603775091)[4m:3s]",
     "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ 1603775091.000)[4m:3s]"},
    {"min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ -160377509)[4m:3s]",
     "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:] @ -160377509.000)[4m:3s]"},
    {"sum without(and, by, avg, count, alert, annotations)(some_metric) [30m:10s]",
     "sum without (and, by, avg, count, alert, annotations) (some_metric)[30m:10s]"},
    {"some_metric OFFSET 1m [10m:5s]", "some_metric offset 1m[10m:5s]"},
    {"some_metric @ 123 [10m:5s]", "some_metric @ 123.000[10m:5s]"},
    {"some_metric @ 123 offset 1m [10m:5s]", "some_metric @ 123.000 offset 1m[10m:5s]"},
    {"some_metric offset 1m @ 123 [10m:5s]", "some_metric @ 123.000 offset 1m[10m:5s]"},
    {"some_metric[10m:5s] offset 1m @ 123", "some_metric[10m:5s] @ 123.000 offset 1m"},
    {"(foo + bar{nm=\"val\"})[5m:]", NULL},
    {"(foo + bar{nm=\"val\"})[5m:] offset 10m", NULL},
    {"(foo + bar{nm=\"val\"} @ 1234)[5m:] @ 1603775019",
     "(foo + bar{nm=\"val\"} @ 1234.000)[5m:] @ 1603775019.000"},
    {"foo[10m:6s] @ start()", NULL},
    {"foo[10m:6s] @ end()", NULL},
    {"rate(foo[5m])[10m:1m]", NULL},
    {"foo[ 5m ]", "foo[5m]"},
    {"foo[5m] # comment", "foo[5m]"},
    {"foo[1h:step()]", NULL},
};

static const struct text_case valid_aggregations[] = {
    {"sum by (foo)(some_metric)", "sum by (foo) (some_metric)"},
    {"avg by (foo)(some_metric)", "avg by (foo) (some_metric)"},
    {"max by (foo)(some_metric)", "max by (foo) (some_metric)"},
    {"sum without (foo) (some_metric)", NULL},
    {"sum (some_metric) without (foo)", "sum without (foo) (some_metric)"},
    {"stddev(some_metric)", NULL},
    {"stdvar by (foo)(some_metric)", "stdvar by (foo) (some_metric)"},
    {"sum by ()(some_metric)", "sum(some_metric)"},
    {"sum by (foo,bar,)(some_metric)", "sum by (foo, bar) (some_metric)"},
    {"sum by (foo,)(some_metric)", "sum by (foo) (some_metric)"},
    {"topk(5, some_metric)", NULL},
    {"bottomk(5, some_metric)", NULL},
    {"quantile(0.9, some_metric)", NULL},
    {"count_values(\"value\", some_metric)", NULL},
    {"group(x)", NULL},
    {"count(x)", NULL},
    {"min(x)", NULL},
    {"limitk(2, x)", NULL},
    {"limit_ratio(0.5, x)", NULL},
    {"sum without(and, by, avg, count, alert, annotations)(some_metric)",
     "sum without (and, by, avg, count, alert, annotations) (some_metric)"},
    {"sum by (\"foo bar\")({\"some.metric\"})",
     "sum by (\"foo bar\") ({__name__=\"some.metric\"})"},
    {"sum by (\"foo\", bar, 'baz')({\"some.metric\"})",
     "sum by (foo, bar, baz) ({__name__=\"some.metric\"})"},
    {"sum(sum)", NULL},
    {"a + sum", NULL},
    {"MIN(http_requests) BY (job)", "min by (job) (http_requests)"},
    {"SUM(http_requests) by (job)", "sum by (job) (http_requests)"},
    {"sum by (anchored)(some_metric)", "sum by (anchored) (some_metric)"},
    {"sum by (smoothed)(some_metric)", "sum by (smoothed) (some_metric)"},
    {"sum by (start, end, step, range, bool, on, group_left)(x)",
     "sum by (start, end, step, range, bool, on, group_left) (x)"},
    {"sum without () (x)", NULL},
    {"sum without() (task:errors:rate10s{job=\"s\"})",
     "sum without () (task:errors:rate10s{job=\"s\"})"},
    {"sum by() (task:errors:rate10s{job=\"s\"})", "sum(task:errors:rate10s{job=\"s\"})"},
    {"sum by(\"foo.bar\") (x)", "sum by (\"foo.bar\") (x)"},
    {"sum by (a:b) (x)", "sum by (\"a:b\") (x)"},
    {"count by(\"\xc3\xb6\xc3\xb6\xc3\xb6\", job) (foo)",
     "count by (\"\xc3\xb6\xc3\xb6\xc3\xb6\", job) (foo)"},
    {"sum by (job)(rate(http_requests_total[30m]))",
     "sum by (job) (rate(http_requests_total[30m]))"},
    {"(sum(foo))", NULL},
    {"(sum(foo) by (bar))", "(sum by (bar) (foo))"},
    {"topk by (instance) (1, {__name__=~\"http_requests(_histogram)?\"})", NULL},
    {"quantile without(point)(0.8, x)", "quantile without (point) (0.8, x)"},
};

static const struct text_case valid_binary[] = {
    {"foo * bar", NULL},
    {"foo * sum", NULL},
    {"foo == 1", NULL},
    {"foo == bool 1", NULL},
    {"2.5 / bar", NULL},
    {"foo and bar", NULL},
    {"foo AND bar", "foo and bar"},
    {"foo or bar", NULL},
    {"foo unless bar", NULL},
    {"foo + bar or bla and blub", NULL},
    {"foo and bar unless baz or qux", NULL},
    {"bar + on(foo) bla / on(baz, buz) group_right(test) blub",
     "bar + on (foo) bla / on (baz, buz) group_right (test) blub"},
    {"foo * on(test,blub) bar", "foo * on (test, blub) bar"},
    {"foo * on(test,blub) group_left bar", "foo * on (test, blub) group_left () bar"},
    {"foo and on(test,blub) bar", "foo and on (test, blub) bar"},
    {"foo and on() bar", "foo and on () bar"},
    {"foo and ignoring(test,blub) bar", "foo and ignoring (test, blub) bar"},
    {"foo and ignoring() bar", "foo and bar"},
    {"foo unless on(bar) baz", "foo unless on (bar) baz"},
    {"foo / on(test,blub) group_left(bar) bar", "foo / on (test, blub) group_left (bar) bar"},
    {"foo / ignoring(test,blub) group_left(blub) bar",
     "foo / ignoring (test, blub) group_left (blub) bar"},
    {"foo - on(test,blub) group_right(bar,foo) bar",
     "foo - on (test, blub) group_right (bar, foo) bar"},
    {"a - on() c", "a - on () c"},
    {"a - on(b) group_left(x, y) c", "a - on (b) group_left (x, y) c"},
    {"a - on(b) group_left() (c)", "a - on (b) group_left () (c)"},
    {"a - ignoring() c", "a - c"},
    {"a - ignoring() group_left(__metric__) c", "a - ignoring () group_left (__metric__) c"},
    {"a - ignoring() group_left c", "a - ignoring () group_left () c"},
    {"foo / on(\"\xc3\xa4\xc3\xa4\xc3\xa4\") group_left(\"\xc3\xb6\xc3\xb6\xc3\xb6\") bar",
     "foo / on (\"\xc3\xa4\xc3\xa4\xc3\xa4\") group_left (\"\xc3\xb6\xc3\xb6\xc3\xb6\") bar"},
    {"foo / on(legacy, \"x.y\") bar", "foo / on (legacy, \"x.y\") bar"},
    {"up > bool 0", NULL},
    {"-some_metric", NULL},
    {"+some_metric", NULL},
    {" +some_metric", "+some_metric"},
    {" +{\"some_metric\"}", "+{__name__=\"some_metric\"}"},
    {"1 + on() foo", "1 + foo"},
    {"foo offset 5s-8", "foo offset 5s - 8"},
    {"a + fill(-23) b", "a + fill (-23) b"},
    {"a + fill_left(-23) b", "a + fill_left (-23) b"},
    {"a + fill_right(42) b", "a + fill_right (42) b"},
    {"a + fill_left(-23) fill_right(42) b", "a + fill_left (-23) fill_right (42) b"},
    {"a + fill_right(42) fill_left(-23) b", "a + fill_left (-23) fill_right (42) b"},
    {"a + fill_left(5) fill_right(5) b", "a + fill (5) b"},
    {"a + on(b) group_left fill(-23) c", "a + on (b) group_left () fill (-23) c"},
    {"a + fill(Inf) b", "a + fill (+Inf) b"},
    {"a == bool fill(1e6) b", "a == bool fill (1e+06) b"},
    {"other + fill(0) fill", "other + fill (0) fill"},
    {"fill_left + fill_right", NULL},
    {"sum(x) # the end", "sum(x)"},
    {"# leading\nfoo", "foo"},
    {"foo{a=\"b\" # inside\n}", "foo{a=\"b\"}"},
    {"foo\n+\nbar", "foo + bar"},
};

static const struct text_case valid_functions[] = {
    {"time()", NULL},
    {"floor(some_metric{foo!=\"bar\"})", NULL},
    {"rate(some_metric[5m])", NULL},
    {"round(some_metric)", NULL},
    {"round(some_metric, 5)", NULL},
    {"label_replace(testmetric, \"dst\", \"destination-value-$1\", \"src\", \"source-value-(.*)\")",
     NULL},
    {"label_join(x, \"a\", \",\", \"b\", \"c\")", NULL},
    {"label_join(x, \"a\", \",\")", NULL},
    {"day_of_week()", NULL},
    {"day_of_week(x)", NULL},
    {"sort_by_label(x, \"a\", \"b\")", NULL},
    {"histogram_quantiles(x, \"q\", 0.1, 0.2)", NULL},
    {"info(rate(http_request_counter_total{}[5m]))", "info(rate(http_request_counter_total[5m]))"},
    {"info(http_request_counter_total{namespace=\"zzz\"}, {foo=\"bar\", bar=\"baz\"})",
     "info(http_request_counter_total{namespace=\"zzz\"}, {bar=\"baz\",foo=\"bar\"})"},
    {"info(x, {foo=~\".*\"})", NULL},
    {"start()", NULL},
    {"end()", NULL},
    {"step()", NULL},
    {"STEP()", "step()"},
    {"range()", NULL},
    {"min_of(3, 5)", NULL},
    {"max_of(3, NaN)", NULL},
    {"vector(range())", NULL},
    {"metric * step()", NULL},
    {"(end() + start()) / 2", NULL},
    {"double_exponential_smoothing(x[5m], 0.5, 0.5)", NULL},
    {"predict_linear(foo[1h], 3000)", NULL},
    {"quantile_over_time(0.5, x[5m])", NULL},
    {"clamp(x, 0, 1)", NULL},
    {"absent(nonexistent{job=\"x\"})", NULL},
    {"pi()", NULL},
    {"scalar(x)", NULL},
    {"vector(1)", NULL},
    {"timestamp(x)", NULL},
    {"histogram_fraction(0, 1, x)", NULL},
    {"start_timestamp(series)", NULL},
    {"mad_over_time(x[5m])", NULL},
    {"ts_of_max_over_time(x[5m])", NULL},
    {"integral(x[5m])", NULL},
    {"rate((foo[5m]))", NULL},
    {"sum(rate(x[5m] )) by (job) > bool 0.5", "sum by (job) (rate(x[5m])) > bool 0.5"},
};

static const struct text_case valid_durations[] = {
    {"foo[step()]", NULL},
    {"foo[-step()]", NULL},
    {"foo[(step())]", NULL},
    {"foo[-(step())]", NULL},
    {"foo offset step()", NULL},
    {"foo offset -step()", NULL},
    {"foo offset +step()", "foo offset step()"},
    {"foo offset (step())", NULL},
    {"foo offset -(step())", NULL},
    {"foo offset +(5*2)", "foo offset (5 * 2)"},
    {"foo offset +min_of(10s, 20s)", "foo offset min_of(10s, 20s)"},
    {"foo offset -min_of(10s, 20s)", NULL},
    {"foo offset -min_of(10s, +max_of(step() ^ 2, 2))",
     "foo offset -min_of(10s, max_of(step() ^ 2, 2))"},
    {"foo[200-min_of(-step()^+step(),1)]", "foo[200 - min_of(-step() ^ step(), 1)]"},
    {"foo[200 - min_of(step() + 10s, -max_of(step() ^ 2, 3))]", NULL},
    {"foo[range()]", NULL},
    {"foo[-range()]", NULL},
    {"foo offset range()", NULL},
    {"foo offset -range()", NULL},
    {"foo[max_of(range(), 5s)]", NULL},
    {"foo offset +(5)", "foo offset (5)"},
    {"foo offset -(5)", NULL},
    {"foo offset (5)", NULL},
    {"foo offset (5m)", NULL},
    {"foo[(5s)]", NULL},
    {"foo[(5m):(1m)]", NULL},
    {"foo[11s+10s-5*2^2]", "foo[11s + 10s - 5 * 2 ^ 2]"},
    {"foo[-(10s-5s)+20s]", "foo[-(10s - 5s) + 20s]"},
    {"foo[-10s+15s]", "foo[-10s + 15s]"},
    {"foo[  -  step  (  )  ]", "foo[-step()]"},
    {"foo[   step  (  )  ]", "foo[step()]"},
    {"foo[2m/range()]", "foo[2m / range()]"},
    {"foo[max_of(step(),5s)]", "foo[max_of(step(), 5s)]"},
    {"foo offset max_of(step(),5s)", "foo offset max_of(step(), 5s)"},
    {"foo offset -min_of(5s,step()+8s)", "foo offset -min_of(5s, step() + 8s)"},
    {"foo[4s+4s:1s*2] offset (5s-8)", "foo[4s + 4s:1s * 2] offset (5s - 8)"},
    {"rate(foo[2m+2m])", "rate(foo[2m + 2m])"},
    {"foo offset -1^1", "foo offset -1s ^ 1"},
    {"foo offset -(1^2)", "foo offset -(1 ^ 2)"},
    {"foo offset (-1^2)", "foo offset (-1 ^ 2)"},
    {"foo[-2^2]", "foo[-2 ^ 2]"},
    {"foo[0+-2^2]", "foo[0 + -2 ^ 2]"},
    {"changes(http_requests[26m+4m])", "changes(http_requests[26m + 4m])"},
    {"changes(http_requests[60*30])", "changes(http_requests[60 * 30])"},
    {"changes(http_requests[24m+((1.5*2m)+2m)])",
     "changes(http_requests[24m + ((1.5 * 2m) + 2m)])"},
    {"changes(http_requests[(9m30s+30s)*3])", "changes(http_requests[(9m30s + 30s) * 3])"},
    {"sum_over_time(m[29s+1s:((((8 - 2) / 3) * 7s) % 4) + 8000ms])",
     "sum_over_time(m[29s + 1s:((((8 - 2) / 3) * 7s) % 4) + 8s])"},
    {"m offset -(20*(((((8 - 2) / 3) * 7s) % 4) + 8000ms))",
     "m offset -(20 * (((((8 - 2) / 3) * 7s) % 4) + 8s))"},
    {"metric1_total offset 100 + 2", "metric1_total offset 1m40s + 2"},
    {"metric1_total offset (2 ^ 2)", NULL},
    {"metric1_total offset -2 * 2", "metric1_total offset -2s * 2"},
    {"metric1_total offset -4", "metric1_total offset -4s"},
    {"metric1_total offset step()^0", "metric1_total offset step() ^ 0"},
    {"metric1_total offset -min_of(step(), 1s)^0", "metric1_total offset -min_of(step(), 1s) ^ 0"},
    {"metric1_total offset (STEP()/10)", "metric1_total offset (step() / 10)"},
    {"count_over_time(m[1+(STep()-5)*2])", "count_over_time(m[1 + (step() - 5) * 2])"},
    {"count_over_time(m[((max_of(min_of((step()+1),((1h))),1ms)))])",
     "count_over_time(m[(max_of(min_of((step() + 1), (1h)), 1ms))])"},
    {"foo[5m:step()]", NULL},
};

static const struct text_case valid_extended_ranges[] = {
    {"a anchored", NULL},
    {"a[5m] anchored", NULL},
    {"a{b=\"c\"}[5m] anchored", NULL},
    {"a{b=\"c\"}[5m] anchored offset 1m", NULL},
    {"a{b=\"c\"}[5m] anchored @ start() offset 1m", NULL},
    {"a{b=\"c\"}[5m] offset 1m anchored", "a{b=\"c\"}[5m] anchored offset 1m"},
    {"a smoothed", NULL},
    {"a[5m] smoothed", NULL},
    {"a{b=\"c\"}[5m] smoothed @ start() offset 1m", NULL},
    {"increase(metric[1m] anchored)", NULL},
    {"a @ 10 anchored offset 1m", "a @ 10.000 anchored offset 1m"},
};

static void run_valid(const struct text_case *cases, size_t n, unsigned features)
{
    for (size_t i = 0; i < n; i++)
        check_valid(cases[i].in, cases[i].out, features);
}

static void test_valid_queries(void **state)
{
    (void)state;
    failures = 0;
    run_valid(valid_literals, N(valid_literals), PROMQL_FEATURES_ALL);
    run_valid(valid_selectors, N(valid_selectors), PROMQL_FEATURES_ALL);
    run_valid(valid_ranges, N(valid_ranges), PROMQL_FEATURES_ALL);
    run_valid(valid_aggregations, N(valid_aggregations), PROMQL_FEATURES_ALL);
    run_valid(valid_binary, N(valid_binary), PROMQL_FEATURES_ALL);
    run_valid(valid_functions, N(valid_functions), PROMQL_FEATURES_ALL);
    run_valid(valid_durations, N(valid_durations), PROMQL_FEATURES_ALL);
    run_valid(valid_extended_ranges, N(valid_extended_ranges), PROMQL_FEATURES_ALL);
    assert_int_equal(failures, 0);
    /* A sub-millisecond range is accepted but prints as 0s, as in Prometheus
     * (so this one does not survive a round trip there either). */
    char *tiny = format_query("a[0.0001]", PROMQL_FEATURES_ALL, NULL);
    assert_non_null(tiny);
    assert_string_equal(tiny, "a[0s]");
    free(tiny);
}

/* ---- Errors ----------------------------------------------------------- */

static const struct text_case error_cases[] = {
    {"", "unknown position: parse error: no expression found in input"},
    {"# just a comment\n\n", "1:1: parse error: no expression found in input"},
    {"   ", "1:1: parse error: no expression found in input"},
    {"1+", "1:3: parse error: unexpected end of input"},
    {".", "1:1: parse error: unexpected character: '.'"},
    {"2.5.", "1:1: parse error: bad number or duration syntax: \"2.5.\""},
    {"100..4", "1:1: parse error: bad number or duration syntax: \"100..\""},
    {"0deadbeef", "1:1: parse error: bad number or duration syntax: \"0de\""},
    {"1 /", "1:4: parse error: unexpected end of input"},
    {"*1", "1:1: parse error: unexpected <op:*>"},
    {"(1))", "1:5: parse error: unexpected right parenthesis ')'"},
    {"((1)", "1:5: parse error: unclosed left parenthesis"},
    {"(", "1:2: parse error: unclosed left parenthesis"},
    {"1 + )", "1:6: parse error: unexpected right parenthesis ')'"},
    {"1 and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"1 == 1", "1:3: parse error: comparisons between scalars must use BOOL modifier"},
    {"1 or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
    {"1 unless 1",
     "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression"},
    {"1 !~ 1", "1:3: parse error: unexpected character after '!': '~'"},
    {"1 =~ 1", "1:3: parse error: unexpected character after '=': '~'"},
    {"1 !", "1:3: parse error: unexpected character after '!': '\xef\xbf\xbd'"},
    {"-\"string\"", "1:1: parse error: unary expression only allowed on expressions of type scalar "
                    "or instant vector, got \"string\""},
    {"-test[5m]", "1:1: parse error: unary expression only allowed on expressions of type scalar "
                  "or instant vector, got \"range vector\""},
    {"*test", "1:1: parse error: unexpected <op:*>"},
    {"@@", "1:1: parse error: unexpected <op:@>"},
    {"1 offset 1d", "1:1: parse error: offset modifier must be preceded by an instant vector "
                    "selector or range vector selector or a subquery"},
    {"-1 offset 1d", "1:2: parse error: offset modifier must be preceded by an instant vector "
                     "selector or range vector selector or a subquery"},
    {"foo offset 1s offset 2s", "1:1: parse error: offset may not be set multiple times"},
    {"foo[5m:] offset 1m offset 2m", "1:1: parse error: offset may not be set multiple times"},
    {"a - on(b) ignoring(c) d", "1:11: parse error: unexpected <ignoring>"},
    {"foo and 1", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"1 and foo", "1:1: parse error: set operator \"and\" not allowed in binary scalar expression"},
    {"foo or 1", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
    {"1 or foo", "1:1: parse error: set operator \"or\" not allowed in binary scalar expression"},
    {"foo unless 1",
     "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression"},
    {"1 unless foo",
     "1:1: parse error: set operator \"unless\" not allowed in binary scalar expression"},
    {"1 or on(bar) foo", "1:1: parse error: vector matching only allowed between instant vectors"},
    {"foo == on(bar) 10", "1:1: parse error: vector matching only allowed between instant vectors"},
    {"foo + group_left(baz) bar", "1:7: parse error: unexpected <group_left>"},
    {"foo and on(bar) group_left(baz) bar",
     "1:1: parse error: no grouping allowed for \"and\" operation"},
    {"foo and on(bar) group_right(baz) bar",
     "1:1: parse error: no grouping allowed for \"and\" operation"},
    {"foo or on(bar) group_left(baz) bar",
     "1:1: parse error: no grouping allowed for \"or\" operation"},
    {"foo unless on(bar) group_right(baz) bar",
     "1:1: parse error: no grouping allowed for \"unless\" operation"},
    {"http_requests{group=\"production\"} + on(instance) group_left(job,instance) "
     "cpu_count{type=\"smp\"}",
     "1:35: parse error: label \"instance\" must not occur in ON and GROUP clause at once"},
    {"foo + bool bar", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"foo + bool 10", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"foo and bool 10", "1:5: parse error: bool modifier can only be used on comparison operators"},
    {"a + fill(1) 2", "1:1: parse error: filling in missing series only allowed between instant "
                      "vectors"},
    {"a and fill(1) b",
     "1:1: parse error: filling in missing series not allowed for set operators"},
    {"foo @ +Inf", "1:1: parse error: timestamp out of bounds for @ modifier: +Inf"},
    {"foo @ -Inf", "1:1: parse error: timestamp out of bounds for @ modifier: -Inf"},
    {"foo @ NaN", "1:1: parse error: timestamp out of bounds for @ modifier: NaN"},
    {"foo @ 9223372036854775808.000000",
     "1:1: parse error: timestamp out of bounds for @ modifier: 9223372036854775808.000000"},
    {"foo @ -9223372036854775808.000000",
     "1:1: parse error: timestamp out of bounds for @ modifier: -9223372036854775808.000000"},
    {"foo @ 1 @ 2", "1:1: parse error: @ <timestamp> may not be set multiple times"},
    {"rate(some_metric[5m]) @ 1234", "1:1: parse error: @ modifier must be preceded by an instant "
                                     "vector selector or range vector selector or a subquery"},
    {"{", "1:2: parse error: unexpected end of input inside braces"},
    {"}", "1:1: parse error: unexpected character: '}'"},
    {"some{", "1:6: parse error: unexpected end of input inside braces"},
    {"some}", "1:5: parse error: unexpected character: '}'"},
    {"some_metric{a=b}",
     "1:15: parse error: unexpected identifier \"b\" in label matching, expected string"},
    {"some_metric{a:b=\"b\"}", "1:14: parse error: unexpected character inside braces: ':'"},
    {"foo{a*\"b\"}", "1:6: parse error: unexpected character inside braces: '*'"},
    {"foo{a>=\"b\"}", "1:6: parse error: unexpected character inside braces: '>'"},
    {"some_metric{a=\"\xff\"}", "1:15: parse error: invalid UTF-8 rune"},
    {"foo{gibberish}", "1:14: parse error: unexpected \"}\" in label matching, expected label "
                       "matching operator"},
    {"foo{1}", "1:5: parse error: unexpected character inside braces: '1'"},
    {"foo{a!b}", "1:6: parse error: unexpected character after '!' inside braces: 'b'"},
    {"foo{{", "1:5: parse error: unexpected left brace '{'"},
    {"{}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x=\"\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x=~\".*\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x!~\".+\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{x!=\"a\"}", "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\"a|\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\"(a|b)*\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\"^$\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\"a?\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\"x{0}\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\"(?i)\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\"\\\\Q\\\\E\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{a=~\"\\\\B\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"{__name__=~\".*\"}",
     "1:1: parse error: vector selector must contain at least one non-empty matcher"},
    {"foo{__name__=\"bar\"}",
     "1:1: parse error: metric name must not be set twice: \"foo\" or \"bar\""},
    {"foo{__name__= =}", "1:15: parse error: unexpected \"=\" in label matching, expected string"},
    {"foo{,}",
     "1:5: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"foo{a=\"b\",,}",
     "1:11: parse error: unexpected \",\" in label matching, expected identifier or \"}\""},
    {"foo{__name__ == \"bar\"}",
     "1:15: parse error: unexpected \"=\" in label matching, expected string"},
    {"foo{__name__=\"bar\" lol}", "1:20: parse error: unexpected identifier \"lol\" in label "
                                  "matching, expected \",\" or \"}\""},
    {"foo{\"a\"=}", "1:9: parse error: unexpected \"}\" in label matching, expected string"},
    {"foo{\"a\" b}", "1:9: parse error: unexpected identifier \"b\" in label matching, expected "
                     "\",\" or \"}\""},
    {"{a=~\"(\"}", "1:2: parse error: error parsing regexp: missing closing ): `(`"},
    {"{a=~\"a)\"}", "1:2: parse error: error parsing regexp: unexpected ): `a)`"},
    {"{a=~\"a**\"}", "1:2: parse error: error parsing regexp: invalid nested repetition operator: "
                     "`**`"},
    {"{a=~\"*\"}",
     "1:2: parse error: error parsing regexp: missing argument to repetition operator: `*`"},
    {"{a=~\"[a\"}", "1:2: parse error: error parsing regexp: missing closing ]: `[a`"},
    {"{a=~\"\\\\q\"}", "1:2: parse error: error parsing regexp: invalid escape sequence: `\\q`"},
    {"{a=~\"a{2,1}\"}", "1:2: parse error: error parsing regexp: invalid repeat count: `{2,1}`"},
    {"{a=~\"[z-a]\"}",
     "1:2: parse error: error parsing regexp: invalid character class range: `z-a`"},
    {"{a=~\"(?=x)\"}",
     "1:2: parse error: error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
    {"{a=~\"a\\\\\"}",
     "1:2: parse error: error parsing regexp: trailing backslash at end of expression: ``"},
    {"{a=~\"[[:foo:]]\"}",
     "1:2: parse error: error parsing regexp: invalid character class range: `[:foo:]`"},
    {"foo[5mm]", "1:5: parse error: bad number or duration syntax: \"5mm\""},
    {"foo[5m1]", "1:5: parse error: bad number or duration syntax: \"5m1\""},
    {"foo[5m:1m1]", "1:8: parse error: bad number or duration syntax: \"1m1\""},
    {"foo[5y1hs]", "1:5: parse error: unknown unit \"hs\" in duration \"5y1hs\""},
    {"foo[5m1h]", "1:5: parse error: not a valid duration string: \"5m1h\""},
    {"foo[5m1m]", "1:5: parse error: not a valid duration string: \"5m1m\""},
    {"foo[0m]", "1:5: parse error: duration must be greater than 0"},
    {"foo[\"5m\"]", "1:5: parse error: unexpected character in duration expression: '\"'"},
    {"foo[]", "1:5: parse error: unexpected \"]\" in subquery or range selector, expected number, "
              "duration, step(), or range()"},
    {"foo[-1]", "1:5: parse error: duration must be greater than 0"},
    {"foo[5m:0s]", "1:8: parse error: duration must be greater than 0"},
    {"foo[5m 5m]", "1:8: parse error: unexpected duration \"5m\" in subquery or range, expected "
                   "\":\" or \"]\""},
    {"foo[5m:1m 3]",
     "1:11: parse error: unexpected number \"3\" in subquery selector, expected \"]\""},
    {"foo[5m:(1m]", "1:11: parse error: unexpected \"]\" in subquery selector, expected number, "
                    "duration, step(), range(), or \"]\""},
    {"foo[5m +]", "1:9: parse error: unexpected \"]\" in subquery or range selector, expected "
                  "number, duration, step(), or range()"},
    {"foo[5m", "1:7: parse error: unclosed left bracket"},
    {"foo[5m][5m]", "1:8: parse error: ranges only allowed for vector selectors"},
    {"foo[5m] [", "1:10: parse error: unexpected end of input in duration expression"},
    {"some_metric[5m] OFFSET 1mm", "1:24: parse error: bad number or duration syntax: \"1mm\""},
    {"some_metric[5m] OFFSET", "1:23: parse error: unexpected end of input in offset, expected "
                               "number, duration, step(), or range()"},
    {"foo offset bar", "1:12: parse error: unexpected identifier \"bar\" in offset, expected "
                       "number, duration, step(), or range()"},
    {"sum(foo offset)", "1:15: parse error: unexpected \")\" in offset, expected number, duration, "
                        "step(), or range()"},
    {"some_metric OFFSET 1m[5m]", "1:22: parse error: no offset modifiers allowed before range"},
    {"some_metric[5m] @", "1:18: parse error: unexpected end of input in @, expected timestamp"},
    {"foo @ bar", "1:7: parse error: unexpected identifier \"bar\" in @, expected timestamp"},
    {"foo @ start", "1:12: parse error: unexpected end of input in @, expected timestamp"},
    {"foo @ start(", "1:13: parse error: unclosed left parenthesis"},
    {"some_metric @ 1234 [5m]", "1:20: parse error: no @ modifiers allowed before range"},
    {"some_metric @ start() [5m]", "1:23: parse error: no @ modifiers allowed before range"},
    {"some_metric @ end()[5m]", "1:20: parse error: no @ modifiers allowed before range"},
    {"some_metric offset step()[5m]",
     "1:26: parse error: no offset modifiers allowed before range"},
    {"(foo + bar)[5m]", "1:12: parse error: ranges only allowed for vector selectors"},
    {"sum by (\"foo)(some_metric{})", "1:9: parse error: unterminated quoted string"},
    {"sum without(==)(some_metric)",
     "1:13: parse error: unexpected <op:==> in grouping opts, expected label"},
    {"sum without(,)(some_metric)",
     "1:13: parse error: unexpected \",\" in grouping opts, expected label"},
    {"sum without(foo,,)(some_metric)",
     "1:17: parse error: unexpected \",\" in grouping opts, expected label"},
    {"sum by (foo bar) (x)",
     "1:13: parse error: unexpected identifier \"bar\" in grouping opts, expected \",\" or \")\""},
    {"sum by (1) (x)",
     "1:9: parse error: unexpected number \"1\" in grouping opts, expected label"},
    {"sum by (\"\") (x)", "1:9: parse error: invalid label name for grouping: \"\""},
    {"sum some_metric by (test)", "1:5: parse error: unexpected identifier \"some_metric\""},
    {"sum (some_metric) by test",
     "1:22: parse error: unexpected identifier \"test\" in grouping opts, expected \"(\""},
    {"sum without", "1:12: parse error: unexpected end of input in grouping opts, expected \"(\""},
    {"sum by (a) x", "1:12: parse error: unexpected identifier \"x\" in aggregation"},
    {"sum () by (test)", "1:1: parse error: no arguments for aggregate expression provided"},
    {"MIN keep_common (some_metric)", "1:5: parse error: unexpected identifier \"keep_common\""},
    {"MIN (some_metric) keep_common", "1:19: parse error: unexpected identifier \"keep_common\""},
    {"sum (some_metric) without (test) by (test)", "1:34: parse error: unexpected <by>"},
    {"sum without (test) (some_metric) by (test)", "1:34: parse error: unexpected <by>"},
    {"topk(some_metric)", "1:1: parse error: wrong number of arguments for aggregate expression "
                          "provided, expected 2, got 1"},
    {"sum(a, b)", "1:1: parse error: wrong number of arguments for aggregate expression "
                  "provided, expected 1, got 2"},
    {"topk(some_metric,)", "1:17: parse error: trailing commas not allowed in function call args"},
    {"sum(1,)", "1:6: parse error: trailing commas not allowed in function call args"},
    {"rate(a,,b)", "1:7: parse error: trailing commas not allowed in function call args"},
    {"topk(some_metric, other_metric)",
     "1:6: parse error: expected type scalar in aggregation parameter, got instant vector"},
    {"count_values(5, other_metric)",
     "1:14: parse error: expected type string in aggregation parameter, got scalar"},
    {"sum(1)", "1:5: parse error: expected type instant vector in aggregation expression, got "
               "scalar"},
    {"sum(x[5m])", "1:5: parse error: expected type instant vector in aggregation expression, got "
                   "range vector"},
    {"quantile(x, 0.5)",
     "1:13: parse error: expected type instant vector in aggregation expression, got scalar"},
    {"sum(foo +)", "1:10: parse error: unexpected \")\" in aggregation"},
    {"sum(,)", "1:5: parse error: unexpected \",\" in aggregation"},
    {"sum(rate(x[5m] 1))", "1:16: parse error: unexpected number \"1\" in aggregation"},
    {"floor()", "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 0"},
    {"floor(some_metric, other_metric)",
     "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2"},
    {"floor(some_metric, 1)",
     "1:1: parse error: expected 1 argument(s) in call to \"floor\", got 2"},
    {"floor(1)",
     "1:7: parse error: expected type instant vector in call to function \"floor\", got scalar"},
    {"hour(some_metric, some_metric, some_metric)",
     "1:1: parse error: expected at most 1 argument(s) in call to \"hour\", got 3"},
    {"time(some_metric)", "1:1: parse error: expected 0 argument(s) in call to \"time\", got 1"},
    {"non_existent_function_far_bar()",
     "1:1: parse error: unknown function with name \"non_existent_function_far_bar\""},
    {"holt_winters(x[5m], 0.5, 0.5)",
     "1:1: parse error: unknown function with name \"holt_winters\""},
    {"RATE(x[5m])", "1:1: parse error: unknown function with name \"RATE\""},
    {"rate(some_metric)",
     "1:6: parse error: expected type range vector in call to function \"rate\", got instant "
     "vector"},
    {"label_replace(a, `b`, `c\xff`, `d`, `.*`)", "1:23: parse error: invalid UTF-8 rune"},
    {"-=", "1:2: parse error: unexpected \"=\""},
    {"++-++-+-+-<", "1:11: parse error: unexpected <op:<>"},
    {"e-+=/(0)", "1:4: parse error: unexpected \"=\""},
    {"a>b()", "1:3: parse error: unknown function with name \"b\""},
    {"rate(avg)",
     "1:6: parse error: expected type range vector in call to function \"rate\", got instant "
     "vector"},
    {"foo:bar(x)", "1:8: parse error: unexpected \"(\""},
    {"offset(1)", "1:7: parse error: unexpected \"(\""},
    {"on", "1:1: parse error: unexpected <on>"},
    {"bool", "1:1: parse error: unexpected <bool>"},
    {"fill(1)", "1:1: parse error: unexpected <fill>"},
    {"foo sum", "1:5: parse error: unexpected <aggr:sum>"},
    {"foo \"abcdefghijkl\"", "1:5: parse error: unexpected string \"\\\"abcdefghi\"..."},
    {"foo 12345678901234", "1:5: parse error: unexpected number \"1234567890\"..."},
    {"foo some_very_long_identifier_name",
     "1:5: parse error: unexpected identifier \"some_very_long_identifier_name\""},
    {"foo a:b", "1:5: parse error: unexpected metric identifier \"a:b\""},
    {"foo 5m", "1:5: parse error: unexpected duration \"5m\""},
    {"foo +\n  bar baz", "2:7: parse error: unexpected identifier \"baz\""},
    {"foo +\n\n  {x=\"\"}", "3:3: parse error: vector selector must contain at least one "
                            "non-empty matcher"},
    {"`\\``", "1:4: parse error: unterminated raw string"},
    {"\"\\", "1:1: parse error: escape sequence not terminated"},
    {"\"\\c\"", "1:1: parse error: unknown escape sequence U+0063 'c'"},
    {"\"\\x.\"", "1:1: parse error: illegal character U+002E '.' in escape sequence"},
    {"'\\\"'", "1:1: parse error: unknown escape sequence U+0022 '\"'"},
    {"\"\\uD800\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
    {"\"\\400\"", "1:1: parse error: escape sequence is an invalid Unicode code point"},
    {"\"abc", "1:1: parse error: unterminated quoted string"},
    {"\"a\nb\"", "1:1: parse error: unterminated quoted string"},
    {"\"\xef\xbf\xbd\"", "1:1: parse error: invalid UTF-8 rune"},
    {"foo{bar=\"baz\"}[", "1:16: parse error: unexpected end of input in duration expression"},
    {"test[5d] OFFSET 10s [10m:5s]",
     "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
    {"(foo + bar{nm=\"val\"})[5m:][10m:5s]",
     "1:1: parse error: subquery is only allowed on instant vector, got matrix instead"},
    {"1[5m:]", "1:1: parse error: subquery is only allowed on instant vector, got scalar instead"},
    {"rate(food[1m])[1h] offset 1h", "1:15: parse error: ranges only allowed for vector selectors"},
    {"rate(food[1m])[1h] @ 100", "1:15: parse error: ranges only allowed for vector selectors"},
    {"info(rate(http_request_counter_total{}[5m]), target_info{foo=\"bar\"})",
     "1:46: parse error: expected label selectors only, got vector selector instead"},
    {"info(http_request_counter_total{namespace=\"zzz\"}, {foo=\"bar\"} == 1)",
     "1:51: parse error: expected label selectors only"},
    {"info(x, 1)",
     "1:1: parse error: expected type instant vector in call to function \"info\", got scalar"},
    {"foo[step]", "1:9: parse error: unexpected \"]\" in subquery or range selector, expected "
                  "number, duration, step(), or range()"},
    {"foo[step()/0d]", "1:11: parse error: division by zero"},
    {"foo[5s/0d]", "1:7: parse error: division by zero"},
    {"foo offset (4d/0)", "1:15: parse error: division by zero"},
    {"foo[5s%0d]", "1:7: parse error: modulo by zero"},
    {"foo offset 9.5e10", "1:12: parse error: duration out of range"},
    {"foo offset -9.5e10", "1:12: parse error: duration out of range"},
    {"foo[9.5e10]", "1:5: parse error: duration out of range"},
    {"foo offset NaN", "1:12: parse error: duration out of range"},
    {"foo offset -Inf", "1:12: parse error: duration out of range"},
    {"foo[nan]", "1:5: parse error: unexpected character in duration expression: 'n'"},
    {"foo[1m:-Inf]", "1:9: parse error: unexpected character: 'I', expected ':'"},
    {"sum(", "1:5: parse error: unclosed left parenthesis"},
    {"sum(rate(", "1:10: parse error: unclosed left parenthesis"},
    {"foo[5s x 5s]", "1:8: parse error: unexpected character: 'x', expected ':'"},
    {"foo[5s s 5s]", "1:8: parse error: unexpected character: 's', expected ':'"},
    {"foo[x]", "1:5: parse error: unexpected character in duration expression: 'x'"},
    {"foo[step():1m]",
     "1:12: parse error: unexpected colon before duration in duration expression"},
    {"foo[5m:1m:]", "1:10: parse error: unexpected colon ':'"},
    {"foo[5m::1m]", "1:7: parse error: unexpected \"::\" in subquery or range, expected \":\" or "
                    "\"]\""},
    {"foo[[5m]", "1:5: parse error: unexpected character in duration expression: '['"},
    {"foo]", "1:4: parse error: unexpected right bracket ']'"},
    {"1[5m] smoothed", "1:2: parse error: ranges only allowed for vector selectors"},
    {"1[5m] anchored", "1:2: parse error: ranges only allowed for vector selectors"},
    {"foo anchored smoothed", "1:1: parse error: anchored and smoothed modifiers cannot be used "
                              "together"},
    {"foo[5m:] anchored", "1:1: parse error: anchored modifier is not supported for subqueries"},
    {"sum(x) smoothed", "1:1: parse error: smoothed modifier not implemented"},
    {"1 offset", "1:9: parse error: unexpected end of input in offset, expected number, duration, "
                 "step(), or range()"},
    {"a + on(foo bar) b",
     "1:12: parse error: unexpected identifier \"bar\" in grouping opts, expected \",\" or \")\""},
    {"a + on foo b",
     "1:8: parse error: unexpected identifier \"foo\" in grouping opts, expected \"(\""},
    {"a + fill b", "1:10: parse error: unexpected identifier \"b\""},
    {"a + fill() b", "1:10: parse error: unexpected \")\""},
    {"1e400",
     "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e400\": value "
     "out of range"},
    {"1e)", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"1e\": "
            "invalid syntax"},
    {"0xEE", "1:1: parse error: bad number or duration syntax: \"0xEE\""},
    {"0xFFFFFFFFFFFFFFFFFF", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing "
                             "\"0xFFFFFFFFFFFFFFFFFF\": invalid syntax"},
    {".5.5", "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \".5.5\": "
             "invalid syntax"},
    {"foo ; bar", "1:5: parse error: unexpected character: ';'"},
};

static const struct text_case error_cases_default_features[] = {
    {"sort_by_label(x, \"a\")", "1:1: parse error: function \"sort_by_label\" is not enabled"},
    {"step()", "1:1: parse error: function \"step\" is not enabled"},
    {"min_of(1, 2)", "1:1: parse error: function \"min_of\" is not enabled"},
    {"limitk(1, x)", "1:1: parse error: limitk() is experimental and must be enabled with "
                     "--enable-feature=promql-experimental-functions"},
    {"limit_ratio(0.5, x)", "1:1: parse error: limit_ratio() is experimental and must be enabled "
                            "with --enable-feature=promql-experimental-functions"},
    {"x anchored", "1:1: parse error: anchored modifier is experimental and not enabled"},
    {"x[5m] smoothed", "1:1: parse error: smoothed modifier is experimental and not enabled"},
    {"a + fill(0) b", "1:1: parse error: binop fill modifiers are experimental and not enabled"},
    {"a + fill_right(0) b",
     "1:1: parse error: binop fill modifiers are experimental and not enabled"},
};

static const struct text_case error_cases_no_duration_expr[] = {
    {"foo[5m+1m]", "1:5: parse error: experimental duration expression is not enabled"},
    {"foo[(5m)]", "1:6: parse error: experimental duration expression is not enabled"},
    {"foo offset (5m)", "1:13: parse error: experimental duration expression is not enabled"},
    {"foo[5m:1m*2]", "1:8: parse error: experimental duration expression is not enabled"},
};

static void test_parse_errors(void **state)
{
    (void)state;
    failures = 0;
    for (size_t i = 0; i < N(error_cases); i++)
        check_error(error_cases[i].in, error_cases[i].out, PROMQL_FEATURES_ALL);
    for (size_t i = 0; i < N(error_cases_default_features); i++)
        check_error(error_cases_default_features[i].in, error_cases_default_features[i].out,
                    PROMQL_FEATURES_DEFAULT);
    for (size_t i = 0; i < N(error_cases_no_duration_expr); i++)
        check_error(error_cases_no_duration_expr[i].in, error_cases_no_duration_expr[i].out, 0);
    /* What the default features still accept. */
    check_valid("foo[step()]", NULL, PROMQL_FEATURES_DEFAULT);
    check_valid("foo[5m+1m]", "foo[5m + 1m]", PROMQL_FEATURES_DEFAULT);
    check_valid("rate(x[5m])", NULL, 0);
    assert_int_equal(failures, 0);
}

static void test_long_number_error(void **state)
{
    (void)state;
    char q[320], want[800];
    memset(q, '9', 309);
    q[309] = '\0';
    snprintf(want, sizeof want,
             "1:1: parse error: error parsing number: strconv.ParseFloat: parsing \"%s\": value "
             "out of range",
             q);
    failures = 0;
    check_error(q, want, PROMQL_FEATURES_ALL);
    assert_int_equal(failures, 0);
}

/* Prometheus's parser test of 10000 errors: the first one is reported. */
static void test_many_errors_first_reported(void **state)
{
    (void)state;
    struct sbuf q = SBUF_INIT;
    sbuf_putc(&q, '(');
    for (int i = 0; i < 400; i++) /* 800 operators: within the nesting limit */
        sbuf_puts(&q, "-{}-1");
    sbuf_putc(&q, ')');
    for (int i = 0; i < 1000; i++)
        sbuf_puts(&q, "[1m:]");
    failures = 0;
    check_error(q.data,
                "1:3: parse error: vector selector must contain at least one non-empty "
                "matcher",
                PROMQL_FEATURES_ALL);
    sbuf_free(&q);
    assert_int_equal(failures, 0);
}

/* ---- Precedence and associativity ------------------------------------- */

/* Prints the tree with every operation in parentheses. */
static void sexpr(struct sbuf *b, const struct promql_expr *e)
{
    switch (e->kind) {
    case PROMQL_EXPR_BINARY:
        sbuf_putc(b, '(');
        sexpr(b, e->binary.lhs);
        sbuf_printf(b, " %s ", promql_op_name(e->binary.op));
        sexpr(b, e->binary.rhs);
        sbuf_putc(b, ')');
        break;
    case PROMQL_EXPR_UNARY:
        sbuf_printf(b, "(%s", promql_op_name(e->unary.op));
        sexpr(b, e->unary.expr);
        sbuf_putc(b, ')');
        break;
    case PROMQL_EXPR_PAREN:
        sbuf_putc(b, '[');
        sexpr(b, e->paren.expr);
        sbuf_putc(b, ']');
        break;
    default:
        promql_format(e, b);
        break;
    }
}

static const struct text_case precedence_cases[] = {
    {"a + b * c", "(a + (b * c))"},
    {"a * b + c", "((a * b) + c)"},
    {"a - b - c", "((a - b) - c)"},
    {"a / b * c", "((a / b) * c)"},
    {"a % b / c", "((a % b) / c)"},
    {"a ^ b ^ c", "(a ^ (b ^ c))"},
    {"a * b ^ c", "(a * (b ^ c))"},
    {"a atan2 b * c", "((a atan2 b) * c)"},
    {"a * b atan2 c", "((a * b) atan2 c)"},
    {"a + b atan2 c", "(a + (b atan2 c))"},
    {"-a ^ b", "(-(a ^ b))"},
    {"-a * b", "((-a) * b)"},
    {"-a + b", "((-a) + b)"},
    {"-1 * 2", "(-1 * 2)"},
    {"-1 ^ 2", "(-(1 ^ 2))"},
    {"a ^ -b", "(a ^ (-b))"},
    {"2 ^ -3 ^ 2", "(2 ^ (-(3 ^ 2)))"},
    {"a * -b + c", "((a * (-b)) + c)"},
    {"- - 1", "1"},
    {"-(1)", "(-[1])"},
    {"- -a", "(-(-a))"},
    {"a or b and c", "(a or (b and c))"},
    {"a and b or c", "((a and b) or c)"},
    {"a unless b and c", "((a unless b) and c)"},
    {"a or b or c", "((a or b) or c)"},
    {"a == b + c", "(a == (b + c))"},
    {"a + b == c", "((a + b) == c)"},
    {"a > b < c", "((a > b) < c)"},
    {"a == bool b != bool c", "((a == b) != c)"},
    {"a and b == c", "(a and (b == c))"},
    {"a or b unless c == d + e * f ^ g", "(a or (b unless (c == (d + (e * (f ^ g))))))"},
    {"1 + 2 * 3 - 4", "((1 + (2 * 3)) - 4)"},
    {"a + b offset 5m", "(a + b offset 5m)"},
    {"-foo offset 5m", "(-foo offset 5m)"},
    {"a + b @ 5", "(a + b @ 5.000)"},
    {"a * b </ 2 + c", "(((a * b) </ 2) + c)"},
    {"a >/ b ^ c", "(a >/ (b ^ c))"},
    {"(a + b) * c", "([(a + b)] * c)"},
    {"a + sum(b) * c", "(a + (sum(b) * c))"},
    {"a > bool b + on(x) group_left c", "(a > (b + c))"},
};

static void test_precedence(void **state)
{
    (void)state;
    failures = 0;
    for (size_t i = 0; i < N(precedence_cases); i++) {
        struct promql_arena *a = promql_arena_new();
        struct promql_parse_error err;
        const char *in = precedence_cases[i].in;
        struct promql_expr *e = parse_with(a, in, PROMQL_FEATURES_ALL, &err);
        if (!e) {
            print_message("FAIL parse %s: %s\n", in, err.msg);
            failures++;
        } else {
            struct sbuf b = SBUF_INIT;
            sexpr(&b, e);
            if (strcmp(b.data, precedence_cases[i].out) != 0) {
                print_message("FAIL shape %s\n  want: %s\n  got:  %s\n", in,
                              precedence_cases[i].out, b.data);
                failures++;
            }
            sbuf_free(&b);
        }
        promql_arena_free(a);
    }
    assert_int_equal(failures, 0);
}

/* ---- The AST ---------------------------------------------------------- */

static struct promql_expr *must_parse(struct promql_arena *a, const char *q)
{
    struct promql_parse_error err;
    struct promql_expr *e = parse_with(a, q, PROMQL_FEATURES_ALL, &err);
    if (!e)
        fail_msg("%s: %s", q, err.msg);
    return e;
}

static void test_ast_selectors(void **state)
{
    (void)state;
    struct promql_arena *a = promql_arena_new();
    struct promql_expr *e = must_parse(a, "foo{a=\"b\", c!~\"d.*\"} offset 5m @ 100.5");
    assert_int_equal(e->kind, PROMQL_EXPR_VECTOR_SELECTOR);
    assert_int_equal(e->type, PROMQL_VECTOR);
    assert_string_equal(e->vs.name, "foo");
    assert_int_equal(e->vs.nmatchers, 3);
    assert_int_equal(e->vs.matchers[0].type, LABEL_MATCH_EQ);
    assert_string_equal(e->vs.matchers[0].name, "a");
    assert_string_equal(e->vs.matchers[0].value, "b");
    assert_int_equal(e->vs.matchers[1].type, LABEL_MATCH_NRE);
    assert_string_equal(e->vs.matchers[1].value, "d.*");
    assert_string_equal(e->vs.matchers[2].name, "__name__"); /* the name comes last */
    assert_string_equal(e->vs.matchers[2].value, "foo");
    assert_int_equal(e->vs.mods.offset_ms, 300000);
    assert_int_equal(e->vs.mods.at, PROMQL_AT_TIMESTAMP);
    assert_int_equal(e->vs.mods.at_ms, 100500);
    assert_int_equal(e->pos.start, 0);
    assert_int_equal(e->pos.end, 38);

    e = must_parse(a, "{\"my.metric\", \"a.b\"=~\"x\"}");
    assert_null(e->vs.name);
    assert_int_equal(e->vs.nmatchers, 2);
    assert_string_equal(e->vs.matchers[0].name, "__name__");
    assert_string_equal(e->vs.matchers[0].value, "my.metric");
    assert_string_equal(e->vs.matchers[1].name, "a.b");
    assert_int_equal(e->vs.matchers[1].type, LABEL_MATCH_RE);

    e = must_parse(a, "rate(x[5m] offset -1m @ end())");
    assert_int_equal(e->kind, PROMQL_EXPR_CALL);
    assert_int_equal(e->call.func->id, PROMQL_FN_RATE);
    assert_int_equal(e->call.nargs, 1);
    struct promql_expr *m = e->call.args[0];
    assert_int_equal(m->kind, PROMQL_EXPR_MATRIX_SELECTOR);
    assert_int_equal(m->type, PROMQL_MATRIX);
    assert_int_equal(m->matrix.range_ms, 300000);
    assert_null(m->matrix.range_expr);
    assert_int_equal(m->matrix.vs->vs.mods.offset_ms, -60000);
    assert_int_equal(m->matrix.vs->vs.mods.at, PROMQL_AT_END);
    assert_int_equal(m->pos.start, 5);
    assert_int_equal(m->pos.end, 29);
    assert_int_equal(e->pos.end, 30);

    e = must_parse(a, "foo[1h:] @ start() offset 2m");
    assert_int_equal(e->kind, PROMQL_EXPR_SUBQUERY);
    assert_int_equal(e->subquery.range_ms, 3600000);
    assert_int_equal(e->subquery.step_ms, 0);
    assert_null(e->subquery.step_expr);
    assert_int_equal(e->subquery.mods.at, PROMQL_AT_START);
    assert_int_equal(e->subquery.mods.offset_ms, 120000);

    e = must_parse(a, "foo[5m+step():2*step()] offset -(1m)");
    assert_int_equal(e->kind, PROMQL_EXPR_SUBQUERY);
    assert_non_null(e->subquery.range_expr);
    assert_int_equal(e->subquery.range_expr->kind, PROMQL_EXPR_DURATION);
    assert_int_equal(e->subquery.range_expr->duration.op, PROMQL_OP_ADD);
    assert_int_equal(e->subquery.range_expr->duration.lhs->kind, PROMQL_EXPR_NUMBER);
    assert_true(e->subquery.range_expr->duration.lhs->number.duration);
    assert_int_equal(e->subquery.range_expr->duration.rhs->duration.op, PROMQL_OP_STEP);
    assert_int_equal(e->subquery.step_expr->duration.op, PROMQL_OP_MUL);
    const struct promql_expr *off = e->subquery.mods.offset_expr;
    assert_non_null(off);
    assert_int_equal(off->duration.op, PROMQL_OP_SUB);
    assert_null(off->duration.lhs);
    assert_true(off->duration.rhs->duration.wrapped);

    e = must_parse(a, "x anchored");
    assert_true(e->vs.anchored);
    e = must_parse(a, "x[1m] smoothed");
    assert_true(e->matrix.vs->vs.smoothed);
    promql_arena_free(a);
}

static void test_ast_operators(void **state)
{
    (void)state;
    struct promql_arena *a = promql_arena_new();
    struct promql_expr *e = must_parse(a, "a + on(x, y) group_left(z) b");
    assert_int_equal(e->kind, PROMQL_EXPR_BINARY);
    assert_int_equal(e->binary.op, PROMQL_OP_ADD);
    const struct promql_vector_matching *m = e->binary.matching;
    assert_non_null(m);
    assert_true(m->on);
    assert_int_equal(m->card, PROMQL_CARD_MANY_TO_ONE);
    assert_int_equal(m->nlabels, 2);
    assert_string_equal(m->labels[1], "y");
    assert_int_equal(m->ninclude, 1);
    assert_string_equal(m->include[0], "z");

    e = must_parse(a, "a and b");
    assert_int_equal(e->binary.matching->card, PROMQL_CARD_MANY_TO_MANY);
    e = must_parse(a, "a > bool 1");
    assert_null(e->binary.matching);
    assert_true(e->binary.return_bool);
    assert_int_equal(e->type, PROMQL_VECTOR);
    e = must_parse(a, "1 > bool 2");
    assert_int_equal(e->type, PROMQL_SCALAR);
    e = must_parse(a, "a + fill_left(1) fill_right(2) b");
    assert_true(e->binary.matching->fill_lhs_set);
    assert_true(e->binary.matching->fill_rhs_set);
    assert_true(e->binary.matching->fill_lhs == 1 && e->binary.matching->fill_rhs == 2);

    e = must_parse(a, "-foo");
    assert_int_equal(e->kind, PROMQL_EXPR_UNARY);
    assert_int_equal(e->unary.op, PROMQL_OP_SUB);
    e = must_parse(a, "-5");
    assert_int_equal(e->kind, PROMQL_EXPR_NUMBER);
    assert_true(e->number.value == -5);
    assert_int_equal(e->pos.start, 0);
    e = must_parse(a, "5m");
    assert_true(e->number.duration && e->number.value == 300);

    e = must_parse(a, "count_values by (a) (\"v\", x)");
    assert_int_equal(e->kind, PROMQL_EXPR_AGGREGATE);
    assert_int_equal(e->aggregate.op, PROMQL_AGG_COUNT_VALUES);
    assert_int_equal(e->aggregate.param->kind, PROMQL_EXPR_STRING);
    assert_string_equal(e->aggregate.param->string.value, "v");
    assert_int_equal(e->aggregate.ngrouping, 1);
    assert_false(e->aggregate.without);
    assert_int_equal(e->pos.end, 28);

    e = must_parse(a, "sum by (foo)(some_metric)");
    assert_int_equal(e->pos.start, 0);
    assert_int_equal(e->pos.end, 25);
    assert_int_equal(e->aggregate.expr->pos.start, 13);
    assert_int_equal(e->aggregate.expr->pos.end, 24);
    assert_null(e->aggregate.param);

    e = must_parse(a, "info(x, {a=\"b\"})");
    assert_true(e->call.args[1]->vs.bypass_empty_check);

    e = must_parse(a, "\"a\\x00b\"");
    assert_int_equal(e->kind, PROMQL_EXPR_STRING);
    assert_int_equal(e->string.len, 3);
    assert_int_equal(e->type, PROMQL_STRING);
    promql_arena_free(a);
}

static void test_types(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        enum promql_type t;
    } cases[] = {
        {"1", PROMQL_SCALAR},      {"\"s\"", PROMQL_STRING},       {"x", PROMQL_VECTOR},
        {"x[5m]", PROMQL_MATRIX},  {"x[5m:]", PROMQL_MATRIX},      {"(x[5m])", PROMQL_MATRIX},
        {"-x", PROMQL_VECTOR},     {"-(1)", PROMQL_SCALAR},        {"1 + 1", PROMQL_SCALAR},
        {"1 + x", PROMQL_VECTOR},  {"sum(x)", PROMQL_VECTOR},      {"scalar(x)", PROMQL_SCALAR},
        {"time()", PROMQL_SCALAR}, {"rate(x[1m])", PROMQL_VECTOR}, {"min_of(1, 2)", PROMQL_SCALAR},
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct promql_arena *a = promql_arena_new();
        struct promql_expr *e = must_parse(a, cases[i].q);
        assert_int_equal(e->type, cases[i].t);
        promql_arena_free(a);
    }
    assert_string_equal(promql_type_name(PROMQL_VECTOR), "instant vector");
    assert_string_equal(promql_type_name(PROMQL_MATRIX), "range vector");
}

/* ---- Functions: the table and every arity and type rule --------------- */

static const char *value_of_type(enum promql_type t)
{
    switch (t) {
    case PROMQL_SCALAR:
        return "1";
    case PROMQL_VECTOR:
        return "v";
    case PROMQL_MATRIX:
        return "m[5m]";
    case PROMQL_STRING:
        return "\"s\"";
    default:
        return "?";
    }
}

static const char *wrong_value_for(enum promql_type t, enum promql_type *got)
{
    *got = t == PROMQL_SCALAR ? PROMQL_VECTOR : PROMQL_SCALAR;
    return value_of_type(*got);
}

/* "f(a0, a1, ...)" with arg i replaced by `repl` (when i >= 0); returns
 * the column of argument `col_of` in *col. */
static void build_call(struct sbuf *b, const struct promql_function *f, int nargs, int repl_i,
                       const char *repl, int col_of, int *col)
{
    sbuf_reset(b);
    sbuf_puts(b, f->name);
    sbuf_putc(b, '(');
    for (int i = 0; i < nargs; i++) {
        if (i)
            sbuf_puts(b, ", ");
        if (i == col_of)
            *col = (int)b->len + 1;
        int k = i < f->nargs ? i : f->nargs - 1;
        const char *v = i == repl_i ? repl : k < 0 ? "1" : value_of_type(f->arg_types[k]);
        if (f->id == PROMQL_FN_INFO && i == 1 && i != repl_i)
            v = "{a=\"b\"}";
        sbuf_puts(b, v);
    }
    sbuf_putc(b, ')');
}

static void test_function_table(void **state)
{
    (void)state;
    struct sbuf q = SBUF_INIT;
    char want[512];
    failures = 0;
    const struct promql_function *prev = NULL;
    for (int id = 0; id < PROMQL_FN__COUNT; id++) {
        const struct promql_function *f = promql_function_by_id((enum promql_func_id)id);
        assert_non_null(f);
        assert_ptr_equal(promql_function_lookup(f->name, strlen(f->name)), f);
        if (prev && strcmp(prev->name, f->name) >= 0 && prev->id < f->id)
            fail_msg("table not sorted at %s", f->name);
        prev = f;
        int min = f->variadic ? f->nargs - 1 : f->nargs;
        int max = f->variadic < 0 ? f->nargs + 3 : f->nargs - (f->variadic ? 1 : 0) + f->variadic;
        int col = 0;
        /* Every accepted arity parses. */
        for (int n = min; n <= max; n++) {
            build_call(&q, f, n, -1, NULL, -1, &col);
            check_valid(q.data, NULL, PROMQL_FEATURES_ALL);
        }
        /* One too few and one too many. */
        if (min > 0) {
            build_call(&q, f, min - 1, -1, NULL, -1, &col);
            if (f->variadic)
                snprintf(want, sizeof want,
                         "1:1: parse error: expected at least %d argument(s) in call to \"%s\", "
                         "got %d",
                         min, f->name, min - 1);
            else
                snprintf(want, sizeof want,
                         "1:1: parse error: expected %d argument(s) in call to \"%s\", got %d", min,
                         f->name, min - 1);
            check_error(q.data, want, PROMQL_FEATURES_ALL);
        }
        if (f->variadic >= 0) {
            build_call(&q, f, max + 1, -1, NULL, -1, &col);
            if (f->variadic)
                snprintf(want, sizeof want,
                         "1:1: parse error: expected at most %d argument(s) in call to \"%s\", "
                         "got %d",
                         max, f->name, max + 1);
            else
                snprintf(want, sizeof want,
                         "1:1: parse error: expected %d argument(s) in call to \"%s\", got %d", max,
                         f->name, max + 1);
            check_error(q.data, want, PROMQL_FEATURES_ALL);
        }
        /* A wrong type in every position. */
        for (int i = 0; i < max && i < f->nargs + 1; i++) {
            if (f->id == PROMQL_FN_INFO && i == 1)
                continue;
            int k = i < f->nargs ? i : f->nargs - 1;
            enum promql_type got;
            const char *v = wrong_value_for(f->arg_types[k], &got);
            build_call(&q, f, max, i, v, i, &col);
            snprintf(want, sizeof want,
                     "1:%d: parse error: expected type %s in call to function \"%s\", got %s", col,
                     promql_type_name(f->arg_types[k]), f->name, promql_type_name(got));
            check_error(q.data, want, PROMQL_FEATURES_ALL);
        }
        /* Experimental functions need the feature. */
        if (f->experimental && f->id != PROMQL_FN_INFO) {
            build_call(&q, f, min, -1, NULL, -1, &col);
            snprintf(want, sizeof want, "1:1: parse error: function \"%s\" is not enabled",
                     f->name);
            check_error(q.data, want, PROMQL_FEATURES_DEFAULT);
        }
    }
    assert_null(promql_function_lookup("holt_winters", 12));
    assert_null(promql_function_lookup("rat", 3));
    assert_null(promql_function_lookup("ratex", 5));
    sbuf_free(&q);
    assert_int_equal(failures, 0);
}

static void test_aggregation_params(void **state)
{
    (void)state;
    static const char *const plain[] = {"sum", "avg",   "count",  "min",
                                        "max", "group", "stddev", "stdvar"};
    static const char *const scalar_param[] = {"topk", "bottomk", "quantile", "limitk",
                                               "limit_ratio"};
    struct sbuf q = SBUF_INIT;
    char want[256];
    failures = 0;
    for (size_t i = 0; i < N(plain); i++) {
        sbuf_reset(&q);
        sbuf_printf(&q, "%s without (a) (x)", plain[i]);
        check_valid(q.data, NULL, PROMQL_FEATURES_ALL);
        sbuf_reset(&q);
        sbuf_printf(&q, "%s(1, x)", plain[i]);
        snprintf(want, sizeof want,
                 "1:1: parse error: wrong number of arguments for aggregate expression provided, "
                 "expected 1, got 2");
        check_error(q.data, want, PROMQL_FEATURES_ALL);
    }
    for (size_t i = 0; i < N(scalar_param); i++) {
        sbuf_reset(&q);
        sbuf_printf(&q, "%s by (a) (2, x)", scalar_param[i]);
        check_valid(q.data, NULL, PROMQL_FEATURES_ALL);
        sbuf_reset(&q);
        sbuf_printf(&q, "%s(\"2\", x)", scalar_param[i]);
        snprintf(want, sizeof want,
                 "1:%zu: parse error: expected type scalar in aggregation parameter, got string",
                 strlen(scalar_param[i]) + 2);
        check_error(q.data, want, PROMQL_FEATURES_ALL);
        sbuf_reset(&q);
        sbuf_printf(&q, "%s(x)", scalar_param[i]);
        check_error(q.data,
                    "1:1: parse error: wrong number of arguments for aggregate expression "
                    "provided, expected 2, got 1",
                    PROMQL_FEATURES_ALL);
    }
    check_valid("count_values without (a) (\"v\", x)", NULL, PROMQL_FEATURES_ALL);
    check_error("count_values(v, x)",
                "1:14: parse error: expected type string in aggregation parameter, got instant "
                "vector",
                PROMQL_FEATURES_ALL);
    sbuf_free(&q);
    assert_int_equal(failures, 0);
}

/* ---- Selectors API ---------------------------------------------------- */

static void test_parse_selector(void **state)
{
    (void)state;
    struct promql_arena *a = promql_arena_new();
    struct promql_parse_error err;
    struct promql_expr *e = promql_parse_selector(a, "up{job=~\"a.*\"}", 14, &err);
    assert_non_null(e);
    assert_int_equal(e->kind, PROMQL_EXPR_VECTOR_SELECTOR);
    assert_int_equal(e->vs.nmatchers, 2);
    assert_string_equal(e->vs.matchers[1].value, "up");
    e = promql_parse_selector(a, "{}", 2, &err);
    assert_non_null(e); /* no emptiness check here, as in Prometheus */
    assert_true(promql_matchers_match_empty(e->vs.matchers, e->vs.nmatchers));
    e = promql_parse_selector(a, "sum", 3, &err);
    assert_non_null(e);
    static const struct text_case bad[] = {
        {"foo[5m]", "1:4: parse error: unexpected \"[\""},
        {"rate(x)", "1:5: parse error: unexpected \"(\""},
        {"foo offset 5m", "1:5: parse error: unexpected <offset>"},
        {"", "unknown position: parse error: unexpected end of input"},
        {"1", "1:1: parse error: unexpected number \"1\""},
        {"foo{a=b}", "1:7: parse error: unexpected identifier \"b\" in label matching, expected "
                     "string"},
        {"a + b", "1:3: parse error: unexpected <op:+>"},
    };
    for (size_t i = 0; i < N(bad); i++) {
        assert_null(promql_parse_selector(a, bad[i].in, strlen(bad[i].in), &err));
        assert_string_equal(err.msg, bad[i].out);
    }
    promql_arena_free(a);
}

static void test_matchers_match_empty(void **state)
{
    (void)state;
    static const struct {
        enum label_match_type t;
        const char *v;
        bool empty;
    } cases[] = {
        {LABEL_MATCH_EQ, "", true},        {LABEL_MATCH_EQ, "a", false},
        {LABEL_MATCH_NEQ, "", false},      {LABEL_MATCH_NEQ, "a", true},
        {LABEL_MATCH_RE, ".*", true},      {LABEL_MATCH_RE, ".+", false},
        {LABEL_MATCH_RE, "a|b", false},    {LABEL_MATCH_RE, "a||b", true},
        {LABEL_MATCH_RE, "(|a)", true},    {LABEL_MATCH_RE, "a*b*", true},
        {LABEL_MATCH_RE, "[a-z]*", true},  {LABEL_MATCH_RE, "x{0,3}", true},
        {LABEL_MATCH_RE, "x{1,3}", false}, {LABEL_MATCH_RE, "\\bx*", false},
        {LABEL_MATCH_RE, "^$", true},      {LABEL_MATCH_RE, "(?s:.*)", true},
        {LABEL_MATCH_NRE, ".*", false},    {LABEL_MATCH_NRE, "a", true},
        {LABEL_MATCH_RE, "(", false}, /* invalid: never matches */
    };
    for (size_t i = 0; i < N(cases); i++) {
        struct label_matcher m = {cases[i].t, "l", cases[i].v};
        if (promql_matcher_matches_empty(&m) != cases[i].empty)
            fail_msg("matcher %d %s: want %d", cases[i].t, cases[i].v, cases[i].empty);
    }
}

static int count_nodes(const struct promql_expr *e, void *ctx)
{
    (void)e;
    (*(int *)ctx)++;
    return 0;
}

static void test_walk_and_extract(void **state)
{
    (void)state;
    struct promql_arena *a = promql_arena_new();
    struct promql_expr *e =
        must_parse(a, "sum(rate(a[5m])) + b{c=\"d\"} / on() count(e offset 1m) or topk(1, f)");
    const struct promql_expr *sel[8];
    size_t n = promql_expr_selectors(e, sel, 8);
    assert_int_equal(n, 4);
    assert_string_equal(sel[0]->vs.name, "a");
    assert_string_equal(sel[1]->vs.name, "b");
    assert_string_equal(sel[2]->vs.name, "e");
    assert_string_equal(sel[3]->vs.name, "f");
    assert_int_equal(promql_expr_selectors(e, sel, 1), 4);
    int nodes = 0;
    promql_expr_walk(e, count_nodes, &nodes);
    assert_int_equal(nodes, 13);
    promql_arena_free(a);
}

/* ---- Pretty printing -------------------------------------------------- */

static void test_format_pretty(void **state)
{
    (void)state;
    static const struct text_case cases[] = {
        {"sum(rate(x[5m]))", "sum(rate(x[5m]))"},
        {"foo_bar_baz_qux_metric_with_a_really_long_name_number_one + "
         "foo_bar_baz_qux_metric_with_a_really_long_name_number_two",
         "  foo_bar_baz_qux_metric_with_a_really_long_name_number_one\n"
         "+\n"
         "  foo_bar_baz_qux_metric_with_a_really_long_name_number_two"},
        {"sum by (job) (rate(http_requests_total{job=\"api-server\",handler=\"/api/comments/with/"
         "a/very/long/path\"}[5m]))",
         "sum by (job) (\n"
         "  rate(http_requests_total{handler=\"/api/comments/with/a/very/long/path\",job=\"api-"
         "server\"}[5m])\n"
         ")"},
        {"topk(5, foo_bar_baz_qux_metric_with_a_really_long_name_number_one / on (job) group_left "
         "foo_bar_baz_qux_two)",
         "topk(\n"
         "  5,\n"
         "    foo_bar_baz_qux_metric_with_a_really_long_name_number_one\n"
         "  / on (job) group_left ()\n"
         "    foo_bar_baz_qux_two\n"
         ")"},
        {"label_replace(foo_bar_baz_qux_metric_with_a_really_long_name_number_one_and_more, "
         "\"dst\", \"$1\", \"src\", \"(.*)\")",
         "label_replace(\n"
         "  foo_bar_baz_qux_metric_with_a_really_long_name_number_one_and_more,\n"
         "  \"dst\",\n"
         "  \"$1\",\n"
         "  \"src\",\n"
         "  \"(.*)\"\n"
         ")"},
        {"-(foo_bar_baz_qux_metric_with_a_really_long_name_number_one + "
         "foo_bar_baz_qux_metric_with_a_really_long_name_number_two)",
         "-(\n"
         "    foo_bar_baz_qux_metric_with_a_really_long_name_number_one\n"
         "  +\n"
         "    foo_bar_baz_qux_metric_with_a_really_long_name_number_two\n"
         ")"},
    };
    failures = 0;
    for (size_t i = 0; i < N(cases); i++) {
        struct promql_arena *a = promql_arena_new();
        struct promql_expr *e = must_parse(a, cases[i].in);
        struct sbuf b = SBUF_INIT;
        promql_format_pretty(e, &b);
        if (strcmp(b.data, cases[i].out) != 0) {
            print_message("FAIL pretty %s\n  want:\n%s\n  got:\n%s\n", cases[i].in, cases[i].out,
                          b.data);
            failures++;
        }
        /* The pretty form parses back to the same query. */
        char *one = format_query(cases[i].in, PROMQL_FEATURES_ALL, NULL);
        char *back = format_query(b.data, PROMQL_FEATURES_ALL, NULL);
        assert_non_null(back);
        assert_string_equal(one, back);
        free(one);
        free(back);
        sbuf_free(&b);
        promql_arena_free(a);
    }
    assert_int_equal(failures, 0);
}

/* ---- Duration expressions at evaluation time -------------------------- */

static const struct promql_expr *range_or_offset_expr(const struct promql_expr *e)
{
    if (e->kind == PROMQL_EXPR_CALL)
        e = e->call.args[0];
    if (e->kind == PROMQL_EXPR_MATRIX_SELECTOR)
        return e->matrix.range_expr;
    if (e->kind == PROMQL_EXPR_SUBQUERY)
        return e->subquery.range_expr;
    return e->vs.mods.offset_expr;
}

static void test_duration_eval(void **state)
{
    (void)state;
    static const struct {
        const char *q;
        int64_t step_ms, range_ms;
        bool neg;
        int64_t want_ms;
        const char *want_err;
    } cases[] = {
        {"count_over_time(m[1+(STep()-5)*2])", 10000, 0, false, 11000, NULL},
        {"count_over_time(m[step()+1])", 5000, 0, false, 6000, NULL},
        {"count_over_time(m[max_of(min_of(step()+1,1h),1ms)])", 5000, 0, false, 6000, NULL},
        {"count_over_time(m[range()])", 10000, 10000, false, 10000, NULL},
        {"m offset min_of(step(), 1s)", 5000, 0, true, 1000, NULL},
        {"m offset -(min_of(step(), 2s)-5)", 5000, 0, true, 3000, NULL},
        {"m offset -step()", 5000, 0, true, -5000, NULL},
        {"m offset (STEP()/10)", 5000, 0, true, 500, NULL},
        {"m offset range()", 0, 0, true, 0, NULL},
        {"m[(9m30s+30s)*3]", 0, 0, false, 1800000, NULL},
        {"m[5m % 2m]", 0, 0, false, 60000, NULL},
        {"m[2^3]", 0, 0, false, 8000, NULL},
        {"m[1.0005 * 1]", 0, 0, false, 1000, NULL},
        {"m[step()-step()]", 5000, 0, false, 0, "2:15: duration must be greater than 0"},
        {"m[step()+0:1m]", 0, 0, false, 0, "2:10: duration must be greater than 0"},
        {"m[1m / (step() - step())]", 5000, 0, false, 0, "2:23: division by zero"},
        {"m[step()*1e9*1e9]", 1000, 0, false, 0, "2:16: duration is out of range"},
    };
    failures = 0;
    for (size_t i = 0; i < N(cases); i++) {
        struct promql_arena *a = promql_arena_new();
        struct promql_expr *e = must_parse(a, cases[i].q);
        const struct promql_expr *d = range_or_offset_expr(e);
        assert_non_null(d);
        int64_t ms = -1;
        char err[128] = "";
        int rc = promql_duration_eval(d, cases[i].step_ms, cases[i].range_ms, cases[i].neg, &ms,
                                      err, sizeof err);
        if (cases[i].want_err ? (rc == 0 || strcmp(err, cases[i].want_err) != 0)
                              : (rc != 0 || ms != cases[i].want_ms)) {
            print_message("FAIL duration %s: rc %d ms %lld err %s\n", cases[i].q, rc, (long long)ms,
                          err);
            failures++;
        }
        promql_arena_free(a);
    }
    assert_int_equal(failures, 0);
}

/* ---- Arena ------------------------------------------------------------ */

static void test_arena(void **state)
{
    (void)state;
    struct promql_arena *a = promql_arena_new();
    for (int i = 0; i < 10000; i++) {
        unsigned char *p = promql_arena_alloc(a, (size_t)(i % 97) + 1);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        assert_int_equal(p[0], 0);
        p[0] = 0xAA;
    }
    void *big = promql_arena_alloc(a, 3 << 20);
    memset(big, 1, 3 << 20);
    char *s = promql_arena_strndup(a, "hello world", 5);
    assert_string_equal(s, "hello");
    assert_true(promql_arena_used(a) > (3u << 20));
    promql_arena_free(a);
    promql_arena_free(NULL);
}

/* ---- The conformance corpus ------------------------------------------- */

struct corpus_stats {
    int queries, parsed, failed_parse, roundtrip_bad;
    int fail_blocks, fail_msgs, fail_msgs_parse_matched;
};

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* The query of an eval line (FORMAT.md section 6), or NULL. */
static const char *eval_query(char *line)
{
    char *p = line;
    if (strncmp(p, "eval", 4) != 0)
        return NULL;
    p += 4;
    while (*p && *p != ' ')
        p++; /* eval_fail, eval_warn, ... */
    p = trim(p);
    int words = 0;
    if (strncmp(p, "instant", 7) == 0)
        words = 3; /* instant at T */
    else if (strncmp(p, "range", 5) == 0)
        words = 7; /* range from A to B step S */
    for (int i = 0; i < words; i++) {
        while (*p && *p != ' ' && *p != '\t')
            p++;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    return p;
}

static void corpus_check_query(const char *file, int lineno, const char *q, const char *want_err,
                               struct corpus_stats *st)
{
    struct promql_parse_error err;
    st->queries++;
    char *out = format_query(q, PROMQL_FEATURES_ALL, &err);
    if (want_err) {
        st->fail_msgs++;
        if (!out && (strcmp(err.msg, want_err) == 0 || strcmp(err.detail, want_err) == 0))
            st->fail_msgs_parse_matched++;
    }
    if (!out) {
        st->failed_parse++;
        print_message("corpus %s:%d: %s\n  %s\n", file, lineno, q, err.msg);
        return;
    }
    st->parsed++;
    char *again = format_query(out, PROMQL_FEATURES_ALL, &err);
    if (!again || strcmp(again, out) != 0) {
        st->roundtrip_bad++;
        print_message("corpus round trip %s:%d: %s\n  %s\n  %s\n", file, lineno, q, out,
                      again ? again : err.msg);
    }
    free(again);
    free(out);
}

/* The expected failure message of the block starting after line i. */
static const char *block_fail_msg(char **lines, int n, int i, bool *is_fail)
{
    for (int j = i + 1; j < n; j++) {
        char *l = trim(lines[j]);
        if (!*l || *l == '#')
            break;
        if (strncmp(l, "expect fail", 11) == 0) {
            *is_fail = true;
            const char *m = strstr(l, "msg:");
            return m ? trim((char *)m + 4) : NULL;
        }
        if (strncmp(l, "expected_fail_message", 21) == 0) {
            *is_fail = true;
            return trim(l + 21);
        }
    }
    return NULL;
}

static void corpus_file(const char *dir, const char *name, struct corpus_stats *st)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char **lines = NULL;
    int n = 0, cap = 0;
    char buf[65536];
    while (fgets(buf, sizeof buf, f)) {
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            lines = realloc(lines, (size_t)cap * sizeof *lines);
        }
        lines[n++] = strdup(buf);
    }
    fclose(f);
    for (int i = 0; i < n; i++) {
        char *copy = strdup(lines[i]);
        const char *q = eval_query(trim(copy));
        if (q) {
            bool is_fail = strncmp(trim(copy), "eval_fail", 9) == 0;
            const char *msg = block_fail_msg(lines, n, i, &is_fail);
            st->fail_blocks += is_fail;
            corpus_check_query(name, i + 1, q, msg, st);
        }
        free(copy);
    }
    for (int i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
}

static void test_corpus(void **state)
{
    (void)state;
    const char *src = getenv("VIGIL_SRC");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/../shared/promql-tests", src ? src : "../..");
    DIR *d = opendir(dir);
    if (!d) {
        print_message("corpus %s not found: skipped\n", dir);
        skip();
    }
    struct corpus_stats st = {0};
    int files = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        if (len > 5 && strcmp(de->d_name + len - 5, ".test") == 0) {
            corpus_file(dir, de->d_name, &st);
            files++;
        }
    }
    closedir(d);
    print_message("corpus: %d files, %d eval queries, %d parsed, %d failed to parse, %d unstable "
                  "round trips; %d expect-fail blocks, %d with a message, %d of those matched as "
                  "parse errors\n",
                  files, st.queries, st.parsed, st.failed_parse, st.roundtrip_bad, st.fail_blocks,
                  st.fail_msgs, st.fail_msgs_parse_matched);
    assert_true(files > 0);
    assert_int_equal(st.failed_parse, 0);
    assert_int_equal(st.roundtrip_bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_queries),
        cmocka_unit_test(test_parse_errors),
        cmocka_unit_test(test_long_number_error),
        cmocka_unit_test(test_many_errors_first_reported),
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_ast_selectors),
        cmocka_unit_test(test_ast_operators),
        cmocka_unit_test(test_types),
        cmocka_unit_test(test_function_table),
        cmocka_unit_test(test_aggregation_params),
        cmocka_unit_test(test_parse_selector),
        cmocka_unit_test(test_matchers_match_empty),
        cmocka_unit_test(test_walk_and_extract),
        cmocka_unit_test(test_format_pretty),
        cmocka_unit_test(test_duration_eval),
        cmocka_unit_test(test_arena),
        cmocka_unit_test(test_corpus),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
