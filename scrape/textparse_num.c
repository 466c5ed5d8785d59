/* textparse_num.c — numbers read exactly as Prometheus (that is, Go) reads them.
 *
 * Sample values go through Prometheus's parseFloat: refuse any 'p', 'P' or '_'
 * ("unsupported character in float"), then strconv.ParseFloat(s, 64).  What
 * Go accepts, and so what this file accepts:
 *
 *     [+-]? ( digits [ '.' digits? ] | '.' digits ) ( [eE] [+-]? digits )?
 *     [+-]? ( "inf" | "infinity" )      any letter case
 *     "nan"                             any letter case, no sign
 *
 * Hexadecimal floats need a 'p' exponent in Go, so with 'p' refused every
 * "0x..." is a syntax error.  Overflow to ±Inf is an error (ErrRange) and
 * fails the line; underflow to zero or a subnormal is not.  Go clamps a long
 * exponent at the first value >= 10000 while reading it; so do we, because
 * it decides the result for absurd inputs such as 1e5-digit integers.
 *
 * Conversion must be bit-identical to Go, which is correctly rounded.  The
 * common case takes Clinger's fast path exactly as Go's atof64exact does: a
 * mantissa that fits in 52 bits times or divided by an exact power of ten
 * (10^0..10^22) is one correctly rounded IEEE operation.  Everything else
 * (17-digit values, big exponents) is rewritten as "[-]DIGITSeEXP" — the
 * significant digits with no decimal point, so strtod reads no
 * locale-dependent character and no strtod_l/locale object is needed — and
 * handed to glibc's strtod, which is correctly rounded too.  At most 800
 * significant digits are kept, plus a sticky '1' when non-zero digits were
 * cut: a double's halfway points need at most 767 digits, so the rounding
 * cannot change (Go's own slow path truncates at 800 digits the same way).
 * That fallback ran for 3-5 of the 507 values of a node_exporter page in the
 * ingest study.  strtod follows the current rounding mode; Vigil never
 * changes it from round-to-nearest. */
#include "scrape/textparse_internal.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if FLT_EVAL_METHOD != 0
#error "the float fast path needs double arithmetic in double precision (SSE2, not x87)"
#endif

#define MAX_SIG_DIGITS 800 /* as Go's decimal type */
#define MANT_DIGITS    19  /* decimal digits that always fit a uint64 */

static const double pow10_exact[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static double go_nan(void)
{
    uint64_t bits = 0x7ff8000000000001ULL; /* math.NaN() and Prometheus's value.NormalNaN */
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static bool equal_fold(const char *s, const char *lower, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) != lower[i]) /* lower[] holds letters only */
            return false;
    return true;
}

/* Go's special(): whole-string "inf", "infinity" (signed or not), "nan" (unsigned). */
static bool parse_special(const char *s, size_t n, double *out)
{
    bool neg = false, signed_ = false;
    if (n > 0 && (s[0] == '+' || s[0] == '-')) {
        neg = s[0] == '-';
        signed_ = true;
        s++;
        n--;
    }
    if ((n == 3 && equal_fold(s, "inf", 3)) || (n == 8 && equal_fold(s, "infinity", 8))) {
        *out = neg ? -INFINITY : INFINITY;
        return true;
    }
    if (!signed_ && n == 3 && equal_fold(s, "nan", 3)) {
        *out = go_nan();
        return true;
    }
    return false;
}

/* What a scan of the decimal syntax learns, in Go's readFloat terms: the
 * value is 0.DIGITS x 10^dp, DIGITS being the significant digits; the first
 * (at most) 19 of them are in mant. */
struct decimal_scan {
    bool neg, trunc;
    uint64_t mant;
    int nd_mant;
    int64_t dp;
    size_t mant_end; /* where the mantissa's characters end */
};

static bool scan_decimal(const char *s, size_t n, struct decimal_scan *d)
{
    size_t i = 0;
    memset(d, 0, sizeof *d);
    if (i < n && (s[i] == '+' || s[i] == '-')) {
        d->neg = s[i] == '-';
        i++;
    }
    if (i + 2 < n && s[i] == '0' && (s[i + 1] | 0x20) == 'x')
        return false; /* hexadecimal: Go requires a 'p' exponent */
    bool sawdot = false, sawdigits = false;
    int64_t nd = 0;
    for (; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (sawdot)
                break;
            sawdot = true;
            d->dp = nd;
            continue;
        }
        if (!is_digit(c))
            break;
        sawdigits = true;
        if (c == '0' && nd == 0) { /* leading zeros */
            d->dp--;
            continue;
        }
        nd++;
        if (d->nd_mant < MANT_DIGITS) {
            d->mant = d->mant * 10 + (uint64_t)(c - '0');
            d->nd_mant++;
        } else if (c != '0') {
            d->trunc = true;
        }
    }
    if (!sawdigits)
        return false;
    if (!sawdot)
        d->dp = nd;
    d->mant_end = i;
    if (i < n && (s[i] | 0x20) == 'e') {
        i++;
        if (i >= n)
            return false;
        int64_t esign = 1, e = 0;
        if (s[i] == '+' || s[i] == '-') {
            esign = s[i] == '-' ? -1 : 1;
            i++;
        }
        if (i >= n || !is_digit(s[i]))
            return false;
        for (; i < n && is_digit(s[i]); i++)
            if (e < 10000)
                e = e * 10 + (s[i] - '0');
        d->dp += e * esign;
    }
    return i == n;
}

/* Go's atof64exact. */
static bool fast_path(const struct decimal_scan *d, double *out)
{
    if (d->mant >> 52)
        return false;
    int64_t exp = d->mant ? d->dp - d->nd_mant : 0;
    double f = (double)d->mant;
    if (d->neg)
        f = -f;
    if (exp == 0) {
        *out = f;
        return true;
    }
    if (exp > 0 && exp <= 15 + 22) {
        if (exp > 22) {
            f *= pow10_exact[exp - 22];
            exp = 22;
        }
        if (f > 1e15 || f < -1e15)
            return false;
        *out = f * pow10_exact[exp];
        return true;
    }
    if (exp < 0 && exp >= -22) {
        *out = f / pow10_exact[-exp];
        return true;
    }
    return false;
}

/* Everything else: "[-]DIGITSeEXP" through strtod (see the top comment). */
static double slow_path(const char *s, const struct decimal_scan *d)
{
    char tmp[1 + MAX_SIG_DIGITS + 1 + 32];
    size_t k = 0, nsig = 0;
    bool cut = false;
    if (d->neg)
        tmp[k++] = '-';
    size_t first = k;
    size_t last_nonzero = k; /* one past the last non-zero digit kept */
    for (size_t i = 0; i < d->mant_end; i++) {
        char c = s[i];
        if (!is_digit(c) || (c == '0' && nsig == 0))
            continue;
        nsig++;
        if (k - first < MAX_SIG_DIGITS) {
            tmp[k++] = c;
            if (c != '0')
                last_nonzero = k;
        } else if (c != '0') {
            cut = true;
        }
    }
    if (cut)
        tmp[k++] = '1'; /* sticky: the value lies strictly above the kept digits */
    else
        k = last_nonzero; /* trailing zeros only move the exponent */
    size_t ndig = k - first;
    if (ndig == 0)
        return d->neg ? -0.0 : 0.0;
    /* value = 0.DIGITS x 10^dp = DIGITS x 10^(dp - ndig) */
    int64_t e = d->dp - (int64_t)ndig;
    if (e > 1000000)
        e = 1000000;
    if (e < -1000000)
        e = -1000000;
    snprintf(tmp + k, sizeof tmp - k, "e%lld", (long long)e);
    return strtod(tmp, NULL);
}

static bool has_unsupported(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == 'p' || s[i] == 'P' || s[i] == '_')
            return true;
    return false;
}

/* The common case in one pass: [+-]digits[.digits][e[+-]digits] with at
 * most 19 digits in all, so that the digits, leading zeros included, are an
 * exact uint64 and the value is mant x 10^(exp - fraction digits).  Exact
 * when Clinger's conditions hold; anything else returns false and goes the
 * long way, which decides syntax and handles the rest. */
static bool parse_simple(const char *s, size_t n, double *out)
{
    size_t i = 0;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+')) {
        neg = s[i] == '-';
        i++;
    }
    uint64_t mant = 0;
    size_t start = i;
    unsigned dgt;
    while (i < n && (dgt = (unsigned)(s[i] - '0')) < 10) {
        mant = mant * 10 + dgt;
        i++;
    }
    size_t nd = i - start, frac = 0;
    if (i < n && s[i] == '.') {
        size_t fs = ++i;
        while (i < n && (dgt = (unsigned)(s[i] - '0')) < 10) {
            mant = mant * 10 + dgt;
            i++;
        }
        frac = i - fs;
        nd += frac;
    }
    if (nd == 0 || nd > MANT_DIGITS)
        return false;
    int exp = 0;
    if (i < n && (s[i] | 0x20) == 'e') {
        int esign = 1;
        if (++i < n && (s[i] == '+' || s[i] == '-'))
            esign = s[i++] == '-' ? -1 : 1;
        size_t es = i;
        while (i < n && (dgt = (unsigned)(s[i] - '0')) < 10 && exp < 10000) {
            exp = exp * 10 + (int)dgt;
            i++;
        }
        if (i == es)
            return false;
        exp *= esign;
    }
    if (i != n || mant >> 53)
        return false;
    exp -= (int)frac;
    double f = (double)mant;
    if (neg)
        f = -f;
    if (exp > 22 && exp <= 22 + 15) {
        f *= pow10_exact[exp - 22];
        exp = 22;
        if (f > 1e15 || f < -1e15)
            return false;
    }
    if (exp >= 0 && exp <= 22)
        *out = f * pow10_exact[exp];
    else if (exp < 0 && exp >= -22)
        *out = f / pow10_exact[-exp];
    else
        return false;
    return true;
}

/* strconv.ParseFloat without hexadecimal and underscores. */
static enum textparse_num parse_float_plain(const char *s, size_t n, double *out)
{
    if (parse_simple(s, n, out))
        return TEXTPARSE_NUM_OK;
    struct decimal_scan d;
    if (!scan_decimal(s, n, &d))
        return parse_special(s, n, out) ? TEXTPARSE_NUM_OK : TEXTPARSE_NUM_SYNTAX;
    if (d.trunc || !fast_path(&d, out))
        *out = slow_path(s, &d);
    return isinf(*out) ? TEXTPARSE_NUM_RANGE : TEXTPARSE_NUM_OK;
}

enum textparse_num textparse_num_float(const char *s, size_t n, double *out)
{
    enum textparse_num r = parse_float_plain(s, n, out);
    /* Only a failed parse can have seen p, P or _; Prometheus checks for
     * them first, so they decide the error. */
    if (r != TEXTPARSE_NUM_OK && has_unsupported(s, n))
        return TEXTPARSE_NUM_UNSUPPORTED;
    return r;
}

/* Go's underscoreOK: underscores only between digits (or after a base prefix). */
static bool underscore_ok(const char *s, size_t n)
{
    char saw = '^';
    size_t i = 0;
    if (n >= 1 && (s[0] == '-' || s[0] == '+')) {
        s++;
        n--;
    }
    bool hex = false;
    if (n >= 2 && s[0] == '0' &&
        ((s[1] | 0x20) == 'b' || (s[1] | 0x20) == 'o' || (s[1] | 0x20) == 'x')) {
        i = 2;
        saw = '0';
        hex = (s[1] | 0x20) == 'x';
    }
    for (; i < n; i++) {
        char c = s[i], l = (char)(c | 0x20);
        if (is_digit(c) || (hex && l >= 'a' && l <= 'f')) {
            saw = '0';
            continue;
        }
        if (c == '_') {
            if (saw != '0')
                return false;
            saw = '_';
            continue;
        }
        if (saw == '_')
            return false;
        saw = '!';
    }
    return saw != '_';
}

enum textparse_num textparse_num_float_go(const char *s, size_t n, double *out)
{
    if (!memchr(s, '_', n))
        return parse_float_plain(s, n, out);
    char tmp[128];
    if (n > sizeof tmp || !underscore_ok(s, n))
        return TEXTPARSE_NUM_SYNTAX; /* over-long label values stay as written */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] != '_')
            tmp[k++] = s[i];
    return parse_float_plain(tmp, k, out);
}

enum textparse_num textparse_num_int64(const char *s, size_t n, int64_t *out)
{
    uint64_t v = 0;
    if (n == 0)
        return TEXTPARSE_NUM_SYNTAX;
    for (size_t i = 0; i < n; i++) {
        if (!is_digit(s[i]))
            return TEXTPARSE_NUM_SYNTAX;
        uint64_t dgt = (uint64_t)(s[i] - '0');
        if (v > (UINT64_C(9223372036854775807) - dgt) / 10)
            return TEXTPARSE_NUM_RANGE;
        v = v * 10 + dgt;
    }
    *out = (int64_t)v;
    return TEXTPARSE_NUM_OK;
}

int64_t textparse_num_seconds_to_ms(double seconds)
{
    double ms = seconds * 1000;
    if (ms >= -9223372036854775808.0 && ms < 9223372036854775808.0)
        return (int64_t)ms;
    return INT64_MIN;
}
