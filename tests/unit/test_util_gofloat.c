/* Shortest float formatting (util/gofloat.c) against Go's strconv.
 *
 * Two oracles.  A table of strconv.FormatFloat outputs taken from Go 1.19
 * (the 'f', 'g' and 'e' forms), among them powers of two, where the
 * rounding interval is lopsided and the earlier snprintf-based search
 * printed 17 digits where Go prints 16 (2^-24 is 5.960464477539063e-08 in
 * Go).  And a slow exact definition checked over millions of random doubles
 * (bit patterns of every exponent, subnormals, integers, short decimals,
 * powers of two and ten): the shortest digit count n at which some n-digit
 * decimal reads back (strtod) as the same double — found by bisection,
 * since a decimal that reads back still does with a zero appended — and at
 * that length the correctly rounded one (snprintf) if it reads back, else
 * its neighbour on the other side of v, the only other candidate.
 * VIGIL_GOFLOAT_N sets the random count per kind (default 400,000: about
 * two million doubles in all). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/gostrconv.h"
#include "util/sbuf.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static double from_bits(uint64_t b)
{
    double v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static bool reads_back(double v, uint64_t m, int e)
{
    char s[48];
    snprintf(s, sizeof s, "%llue%d", (unsigned long long)m, e);
    return strtod(s, NULL) == v;
}

static uint64_t pow10u(int n)
{
    uint64_t p = 1;
    while (n-- > 0)
        p *= 10;
    return p;
}

/* The nd-digit decimal m·10^e Go would print for v > 0, if one reads back. */
static bool oracle_probe(double v, int nd, uint64_t *om, int *oe)
{
    char s[48];
    snprintf(s, sizeof s, "%.*e", nd - 1, v);
    uint64_t m = 0;
    const char *p = s;
    for (; *p != 'e'; p++)
        if (*p != '.')
            m = m * 10 + (uint64_t)(*p - '0');
    int e = atoi(p + 1) - (nd - 1);
    uint64_t cand[3] = {m, m - 1, m + 1};
    int cexp[3] = {e, e, e};
    if (m == pow10u(nd - 1)) { /* below a power of ten the grid is finer */
        cand[1] = pow10u(nd) - 1;
        cexp[1] = e - 1;
    }
    for (int i = 0; i < 3; i++)
        if (cand[i] > 0 && reads_back(v, cand[i], cexp[i])) {
            *om = cand[i];
            *oe = cexp[i];
            return true;
        }
    return false;
}

/* The digits and decimal point position of the shortest form of |v|. */
static int oracle_digits(double v, char *digits, int *dp)
{
    v = fabs(v);
    if (v == 0) {
        digits[0] = '\0';
        *dp = 0;
        return 0;
    }
    int lo = 1, hi = 17;
    uint64_t m = 0;
    int e = 0;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (oracle_probe(v, mid, &m, &e))
            hi = mid;
        else
            lo = mid + 1;
    }
    assert_true(oracle_probe(v, lo, &m, &e));
    while (m % 10 == 0) {
        m /= 10;
        e++;
    }
    int n = snprintf(digits, 32, "%llu", (unsigned long long)m);
    *dp = e + n;
    return n;
}

static void check_one(double v)
{
    char want[32], got[32];
    int wdp, gdp;
    int wn = oracle_digits(v, want, &wdp);
    int gn = go_float_digits(v, got, &gdp);
    if (wn != gn || strcmp(want, got) != 0 || (wn && wdp != gdp)) {
        uint64_t b;
        memcpy(&b, &v, sizeof b);
        fail_msg("%016llx (%.17g): want %s dp %d, got %s dp %d", (unsigned long long)b, v, want,
                 wdp, got, gdp);
    }
    /* the 'f' layout reads back and carries exactly those digits */
    char f[GO_FLOAT_F_MAX + 1];
    size_t n = go_float_f(f, v);
    f[n] = '\0';
    assert_true(strtod(f, NULL) == v);
    char seen[GO_FLOAT_F_MAX];
    size_t k = 0;
    for (const char *p = f; *p; p++)
        if (*p >= '0' && *p <= '9' && (k || *p != '0'))
            seen[k++] = *p;
    while (k > 0 && seen[k - 1] == '0')
        k--;
    seen[k] = '\0';
    assert_string_equal(seen, want);
}

static long random_count(void)
{
    const char *s = getenv("VIGIL_GOFLOAT_N");
    return s ? atol(s) : 400000;
}

static void test_gofloat_random_bits(void **state)
{
    (void)state;
    long n = random_count();
    for (long i = 0; i < n; i++) {
        double v = from_bits(rng_next());
        if (isfinite(v))
            check_one(v);
    }
}

static void test_gofloat_subnormals_and_powers(void **state)
{
    (void)state;
    long n = random_count() / 4;
    for (long i = 0; i < n; i++) {
        check_one(from_bits(rng_next() & 0x000fffffffffffffULL));
        check_one(-from_bits(rng_next() & 0x000fffffffffffffULL));
        check_one(ldexp(1.0, (int)(rng_next() % 2098) - 1074));
        check_one(ldexp(1.0, (int)(rng_next() % 2098) - 1074) * (1 + 0x1p-52));
    }
    for (int e = -323; e <= 308; e++) {
        check_one(pow(10, e));
        check_one(nextafter(pow(10, e), 0));
        check_one(nextafter(pow(10, e), INFINITY));
    }
}

static void test_gofloat_integers_and_decimals(void **state)
{
    (void)state;
    long n = random_count();
    for (long i = 0; i < n; i++) {
        check_one((double)(int64_t)(rng_next() >> (rng_next() % 64)));
        check_one((double)(rng_next() % 100000000) / pow(10, (double)(rng_next() % 22)));
    }
}

/* strconv.FormatFloat(v, 'f' | 'g' | 'e', -1, 64), printed by Go 1.19. */
static void test_gofloat_go_table(void **state)
{
    (void)state;
    static const struct {
        uint64_t bits;
        const char *f, *g, *e;
    } cases[] = {
        {0x0000000000000000, "0", "0", "0e+00"},
        {0x8000000000000000, "-0", "-0", "-0e+00"},
        {0x3ff0000000000000, "1", "1", "1e+00"},
        {0x3fb999999999999a, "0.1", "0.1", "1e-01"},
        {0x4059000000000000, "100", "100", "1e+02"},
        {0x3fd3333333333333, "0.3", "0.3", "3e-01"},
        {0x400921fb54442d18, "3.141592653589793", "3.141592653589793", "3.141592653589793e+00"},
        {0xc0c81cd70a3d70a4, "-12345.68", "-12345.68", "-1.234568e+04"},
        {0x4415af1d78b58c40, "100000000000000000000", "1e+20", "1e+20"},
        {0x3eb0c6f7a0b5ed8d, "0.000001", "1e-06", "1e-06"},
        {0x44b52d02c7e14af6, "100000000000000000000000", "1e+23", "1e+23"},
        {0x403213eab367a0f9, "18.0778", "18.0778", "1.80778e+01"},
        {0x41ca6f3177000000, "886989550", "8.8698955e+08", "8.8698955e+08"},
        {0x43ba2722ad9497fb, "1884513097995516700", "1.8845130979955167e+18",
         "1.8845130979955167e+18"},
        {0x3dd5e89433388dba, "0.0000000000797027", "7.97027e-11", "7.97027e-11"},
        {0x42fe3f1494fe57c0, "532100433307004", "5.32100433307004e+14", "5.32100433307004e+14"},
        /* powers of two: 16 digits where a correctly rounded 16-digit
         * decimal does not read back but the other neighbour does */
        {0x3e70000000000000, "0.00000005960464477539063", "5.960464477539063e-08",
         "5.960464477539063e-08"},
        {0x4830000000000000, "5444517870735016000000000000000000000000", "5.444517870735016e+39",
         "5.444517870735016e+39"},
        {0x2d70000000000000, NULL, "7.854549544476363e-90", "7.854549544476363e-90"},
        {0x61f0000000000000, NULL, "5.758609657015292e+163", "5.758609657015292e+163"},
        {0x0000000000000001, NULL, "5e-324", "5e-324"},
        {0x000fffffffffffff, NULL, "2.225073858507201e-308", "2.225073858507201e-308"},
        {0x0010000000000000, NULL, "2.2250738585072014e-308", "2.2250738585072014e-308"},
        {0x7fefffffffffffff, NULL, "1.7976931348623157e+308", "1.7976931348623157e+308"},
        {0x7ff0000000000000, "+Inf", "+Inf", NULL},
        {0xfff0000000000000, "-Inf", "-Inf", NULL},
        {0x7ff8000000000001, "NaN", "NaN", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = from_bits(cases[i].bits);
        char buf[GO_FLOAT_F_MAX + 1];
        if (cases[i].f) {
            buf[go_float_f(buf, v)] = '\0';
            assert_string_equal(buf, cases[i].f);
            struct sbuf b = SBUF_INIT;
            go_format_float_f(&b, v);
            assert_string_equal(b.data, cases[i].f);
            sbuf_free(&b);
        }
        buf[go_float_g(buf, v)] = '\0';
        assert_string_equal(buf, cases[i].g);
        struct sbuf b = SBUF_INIT;
        sbuf_put_float(&b, v);
        assert_string_equal(b.data, cases[i].g);
        sbuf_free(&b);
        if (cases[i].e) {
            go_float_shortest_e(v, 'e', buf, sizeof buf);
            assert_string_equal(buf, cases[i].e);
        }
    }
    char buf[40];
    assert_int_equal(go_float_shortest_e(1.5e-7, 'E', buf, sizeof buf), 2);
    assert_string_equal(buf, "1.5E-07");
    assert_int_equal(go_float_shortest_e(0, 'e', buf, sizeof buf), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gofloat_go_table),
        cmocka_unit_test(test_gofloat_random_bits),
        cmocka_unit_test(test_gofloat_subnormals_and_powers),
        cmocka_unit_test(test_gofloat_integers_and_decimals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
