/* Durations, byte sizes and float formatting as Prometheus writes them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "util/duration.h"
#include "util/sbuf.h"

static void test_duration_parse_valid(void **state)
{
    (void)state;
    struct {
        const char *s;
        int64_t ms;
    } cases[] = {
        {"0", 0},         {"15s", 15000},     {"1h30m", 5400000},
        {"1d", 86400000}, {"1w", 604800000},  {"1y", 31536000000LL},
        {"100ms", 100},   {"1m1s1ms", 61001}, {"2h0m", 7200000},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t ms = -1;
        assert_int_equal(duration_parse(cases[i].s, &ms), 0);
        assert_int_equal(ms, cases[i].ms);
    }
}

static void test_duration_parse_invalid(void **state)
{
    (void)state;
    const char *bad[] = {
        "",   "15x",  "s", "1.5s", "-1s", "30m1h", "1m1m", "1h 2m", "99999999999999999999y",
        "15", "1ms1s"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t ms;
        assert_int_equal(duration_parse(bad[i], &ms), -1);
    }
}

static void test_duration_format(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(duration_format(0, buf, sizeof buf), "0s");
    assert_string_equal(duration_format(15000, buf, sizeof buf), "15s");
    assert_string_equal(duration_format(5400000, buf, sizeof buf), "1h30m");
    assert_string_equal(duration_format(1209600000, buf, sizeof buf), "2w");
    assert_string_equal(duration_format(61001, buf, sizeof buf), "1m1s1ms");
    assert_string_equal(duration_format(90LL * 86400000, buf, sizeof buf), "90d");
    assert_string_equal(duration_format(366LL * 86400000, buf, sizeof buf), "366d");
    assert_string_equal(duration_format(365LL * 86400000, buf, sizeof buf), "1y");
    int64_t back;
    assert_int_equal(duration_parse(duration_format(93784005, buf, sizeof buf), &back), 0);
    assert_int_equal(back, 93784005);
}

static void test_bytesize(void **state)
{
    (void)state;
    int64_t b;
    assert_int_equal(bytesize_parse("0", &b), 0);
    assert_int_equal(b, 0);
    assert_int_equal(bytesize_parse("512MB", &b), 0);
    assert_int_equal(b, 512LL << 20);
    assert_int_equal(bytesize_parse("1GiB", &b), 0);
    assert_int_equal(b, 1LL << 30);
    assert_int_equal(bytesize_parse("100B", &b), 0);
    assert_int_equal(b, 100);
    assert_int_equal(bytesize_parse("10", &b), -1);
    assert_int_equal(bytesize_parse("10XB", &b), -1);
    assert_int_equal(bytesize_parse("", &b), -1);
}

static void check_float(double v, const char *want)
{
    struct sbuf b = SBUF_INIT;
    sbuf_put_float(&b, v);
    assert_string_equal(b.data, want);
    sbuf_free(&b);
}

/* Expected strings are what Go's strconv.FormatFloat(v, 'g', -1, 64) prints. */
static void test_float_format(void **state)
{
    (void)state;
    check_float(0, "0");
    check_float(1, "1");
    check_float(100, "100");
    check_float(123456, "123456");
    check_float(1e6, "1e+06");
    check_float(1234567, "1.234567e+06");
    check_float(0.1, "0.1");
    check_float(0.0001, "0.0001");
    check_float(0.00001, "1e-05");
    check_float(-2.5, "-2.5");
    check_float(1.0 / 3, "0.3333333333333333");
    check_float(NAN, "NaN");
    check_float(INFINITY, "+Inf");
    check_float(-INFINITY, "-Inf");
    check_float(1.8446744073709552e19, "1.8446744073709552e+19");
}

static void test_sbuf_json_string(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    sbuf_put_json_string(&b, "a\"b\\c\n\x01", 7);
    assert_string_equal(b.data, "\"a\\\"b\\\\c\\n\\u0001\"");
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_duration_parse_valid), cmocka_unit_test(test_duration_parse_invalid),
        cmocka_unit_test(test_duration_format),      cmocka_unit_test(test_bytesize),
        cmocka_unit_test(test_float_format),         cmocka_unit_test(test_sbuf_json_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
