/* Sample encodings (storage/chunk.h): the head chunk and the block codec.
 *
 * The specification is "lossless to the bit": every test compares the IEEE
 * bits of what comes out with what went in (memcmp, so NaN payloads and
 * -0.0 count).  Series are generated from a seeded PRNG as the product of a
 * value shape (constant, counters, noisy gauges, 17-digit floats, raw random
 * bits, special values, mixed scales) and a timestamp shape (grid, jitter,
 * gaps, irregular, huge and negative deltas), at several lengths.  Corrupt
 * input is covered by truncating and mutating valid encodings thousands of
 * times: decoding must fail cleanly or yield strictly increasing samples. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/chunk.h"
#include "util/sbuf.h"

#define STALE_NAN UINT64_C(0x7ff0000000000002) /* Prometheus's staleness marker */
#define PROM_NAN  UINT64_C(0x7ff8000000000001) /* Go's math.NaN() */
#define MAXN      1024

struct rng {
    uint64_t s;
};

static uint64_t rng_next(struct rng *r)
{
    uint64_t z = (r->s += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rng_below(struct rng *r, uint64_t n)
{
    return rng_next(r) % n;
}

static double rng_unit(struct rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53;
}

static double from_bits(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static uint64_t to_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static const uint64_t special_bits[] = {
    STALE_NAN,
    PROM_NAN,
    UINT64_C(0x7ff8000000000000), /* quiet NaN */
    UINT64_C(0xfff8000000000000), /* negative quiet NaN */
    UINT64_C(0x7ff4000000000000), /* signalling NaN */
    UINT64_C(0x7fffffffffffffff),
    UINT64_C(0x7ff0000000000000), /* +Inf */
    UINT64_C(0xfff0000000000000), /* -Inf */
    UINT64_C(0x8000000000000000), /* -0.0 */
    UINT64_C(0x0000000000000000), /* +0.0 */
    UINT64_C(0x0000000000000001), /* smallest denormal */
    UINT64_C(0x000fffffffffffff), /* largest denormal */
    UINT64_C(0x8000000000000001), /* negative denormal */
};

static double special_value(struct rng *r)
{
    size_t n = sizeof special_bits / sizeof special_bits[0];
    uint64_t i = rng_below(r, n + 8);
    if (i < n)
        return from_bits(special_bits[i]);
    static const double more[8] = {1e300,   0x1p63,  -0x1p63, 0.1 + 0.2,
                                   DBL_MAX, DBL_MIN, 1e-300,  1.0};
    return more[i - n];
}

enum vshape {
    V_CONST_ZERO,
    V_CONST_DEC,
    V_CONST_STALE,
    V_COUNTER_INT,
    V_COUNTER_CENTI,
    V_GAUGE_BYTES,
    V_GAUGE_NOISE,
    V_FLOAT17,
    V_FLOAT_SUM,
    V_RANDOM_BITS,
    V_SPECIAL,
    V_GOES_STALE,
    V_MIXED_SCALE,
    V_NAN_MIX,
    V_SHAPES
};

static void gen_values(struct rng *r, enum vshape shape, double *vs, size_t n)
{
    double acc = (double)rng_below(r, 1000000);
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case V_CONST_ZERO:
            vs[i] = 0;
            break;
        case V_CONST_DEC:
            vs[i] = 4.2e9 + 0.25;
            break;
        case V_CONST_STALE:
            vs[i] = from_bits(STALE_NAN);
            break;
        case V_COUNTER_INT:
            acc += (double)rng_below(r, 100000);
            vs[i] = acc;
            break;
        case V_COUNTER_CENTI: /* node_cpu_seconds_total: 0.01 s resolution */
            acc += (double)rng_below(r, 1500);
            vs[i] = acc / 100;
            break;
        case V_GAUGE_BYTES:
            vs[i] = 1e9 + (double)(rng_below(r, 1 << 20) * 4096);
            break;
        case V_GAUGE_NOISE: /* scrape durations: 9 decimal places */
            vs[i] = (double)(100000 + rng_below(r, 900000)) / 1e9;
            break;
        case V_FLOAT17:
            vs[i] = rng_unit(r);
            break;
        case V_FLOAT_SUM:
            acc += rng_unit(r) * 0.01;
            vs[i] = acc;
            break;
        case V_RANDOM_BITS:
            vs[i] = from_bits(rng_next(r));
            break;
        case V_SPECIAL:
            vs[i] = special_value(r);
            break;
        case V_GOES_STALE:
            vs[i] = i + 1 == n && n > 1 ? from_bits(STALE_NAN) : (double)(i * 3) / 10;
            break;
        case V_MIXED_SCALE:
            vs[i] = i % 2 ? 1.5e-9 * (double)(i + 1) : 1e9 + (double)i;
            break;
        case V_NAN_MIX:
            vs[i] = rng_below(r, 4) == 0 ? from_bits(rng_below(r, 2) ? STALE_NAN : PROM_NAN)
                                         : (double)rng_below(r, 100);
            break;
        default:
            vs[i] = 0;
        }
    }
}

enum tshape { T_GRID, T_JITTER, T_GAPS, T_IRREGULAR, T_HUGE, T_NEGATIVE, T_EXTREMES, T_SHAPES };

static void gen_times(struct rng *r, enum tshape shape, int64_t *ts, size_t n)
{
    int64_t t = INT64_C(1700000000000) + (int64_t)rng_below(r, 15000);
    for (size_t i = 0; i < n; i++) {
        switch (shape) {
        case T_GRID:
            ts[i] = t + (int64_t)i * 15000;
            break;
        case T_JITTER:
            ts[i] = t + (int64_t)i * 15000 + (int64_t)rng_below(r, 11) - 5;
            break;
        case T_GAPS:
            t += 15000 * (rng_below(r, 10) == 0 ? (int64_t)rng_below(r, 40) + 2 : 1);
            ts[i] = t;
            break;
        case T_IRREGULAR:
            t += 1 + (int64_t)rng_below(r, 1000000);
            ts[i] = t;
            break;
        case T_HUGE: /* steps up to 2^52 ms from far in the past */
            ts[i] = i == 0 ? INT64_MIN / 2 : ts[i - 1] + 1 + (int64_t)(rng_next(r) >> 12);
            break;
        case T_NEGATIVE:
            ts[i] = -INT64_C(86400000) * 365 + (int64_t)i * 60000;
            break;
        case T_EXTREMES: /* the whole int64 range in a few steps */
            ts[i] = i == 0 ? INT64_MIN : i + 1 == n ? INT64_MAX : INT64_MIN + (int64_t)i;
            break;
        default:
            ts[i] = (int64_t)i;
        }
    }
}

/* ---- Head chunk ---- */

/* Checks a head chunk's samples; sts: the expected start timestamps of a
 * chunk with an ST column, NULL for one without. */
static void head_expect_st(const uint8_t *buf, size_t len, size_t count, const int64_t *ts,
                           const double *vs, const int64_t *sts)
{
    struct head_chunk_iter it;
    head_chunk_iter_init(&it, buf, len, (uint16_t)count, sts != NULL);
    int64_t t;
    double v;
    size_t i = 0;
    while (head_chunk_iter_next(&it, &t, &v)) {
        assert_true(i < count);
        assert_int_equal(t, ts[i]);
        assert_memory_equal(&v, &vs[i], sizeof v);
        if (sts)
            assert_int_equal(it.st, sts[i]);
        i++;
    }
    assert_false(head_chunk_iter_failed(&it));
    assert_int_equal(i, count);
}

static void head_expect(const uint8_t *buf, size_t len, size_t count, const int64_t *ts,
                        const double *vs)
{
    head_expect_st(buf, len, count, ts, vs, NULL);
}

/* Appends all samples; checks the whole chunk and a prefix copied midway
 * (the reader's snapshot) still decodes after further appends. */
static void head_roundtrip(const int64_t *ts, const double *vs, size_t n, uint16_t max)
{
    struct head_chunk c;
    head_chunk_init(&c, max);
    size_t snap_at = n / 2, snap_len = 0;
    uint8_t *snap = NULL;
    for (size_t i = 0; i < n; i++) {
        if (i == snap_at && i > 0) {
            snap_len = head_chunk_len(&c);
            snap = malloc(snap_len);
            memcpy(snap, c.buf, snap_len);
        }
        assert_int_equal(head_chunk_append(&c, ts[i], vs[i]), 0);
    }
    assert_int_equal(c.count, n);
    assert_true(c.cap >= head_chunk_len(&c));
    assert_int_equal(head_chunk_first_t(&c), ts[0]);
    uint8_t *copy = malloc(head_chunk_len(&c) + 1);
    memcpy(copy, c.buf, head_chunk_len(&c));
    head_expect(copy, head_chunk_len(&c), n, ts, vs);
    if (snap) {
        head_expect(snap, snap_len, snap_at, ts, vs);
        head_expect(c.buf, head_chunk_len(&c), snap_at, ts, vs); /* any count <= c.count */
    }
    free(snap);
    free(copy);
    head_chunk_free(&c);
}

static void test_head_roundtrip_all_shapes(void **state)
{
    (void)state;
    static int64_t ts[MAXN];
    static double vs[MAXN];
    static const size_t sizes[] = {1, 2, 3, 17, 120, 240};
    struct rng r = {1};
    for (int vsh = 0; vsh < V_SHAPES; vsh++)
        for (int tsh = 0; tsh < T_SHAPES; tsh++)
            for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                size_t n = sizes[s];
                gen_times(&r, (enum tshape)tsh, ts, n);
                gen_values(&r, (enum vshape)vsh, vs, n);
                head_roundtrip(ts, vs, n, 240);
            }
}

static void test_head_special_values_bit_exact(void **state)
{
    (void)state;
    size_t n = sizeof special_bits / sizeof special_bits[0];
    int64_t ts[64];
    double vs[64];
    /* every special after every other special, so each XOR code shape occurs */
    for (size_t a = 0; a < n; a++) {
        for (size_t b = 0; b < n; b++) {
            ts[2 * b] = (int64_t)(4 * b);
            ts[2 * b + 1] = (int64_t)(4 * b + 1);
            vs[2 * b] = from_bits(special_bits[a]);
            vs[2 * b + 1] = from_bits(special_bits[b]);
        }
        head_roundtrip(ts, vs, 2 * n, 120);
    }
}

static void test_head_decimal_transitions(void **state)
{
    (void)state;
    /* exponents up and down, the 2^50 mantissa limit of the decimal codes,
     * non-decimals in between (their successor's delta base comes from the
     * non-decimal's bits), and decimals that are not the shortest form */
    static const double vals[] = {
        0,
        1,
        1.5,
        0.001,
        1e-22,
        3e-22,
        NAN,
        0.25,
        1125899906842623.0, /* 2^50 - 1 */
        1125899906842624.0, /* 2^50 */
        1125899906842625.0,
        -1125899906842623.0,
        9007199254740991.0, /* 2^53 - 1 */
        0.1,
        0.30000000000000004,
        0.3,
        -0.0,
        0.0,
        123456789.123,
        123456789.124,
        1e300,
        5e-324,
        1e22,
        1e21,
        2.5,
        2.5000000000000004,
        2.5,
        -7.75,
        -7.5,
        1e-9,
        2e-9,
        1.0000000001,
        1.0000000002,
        0.1 + 0.7,
        0.8,
    };
    size_t n = sizeof vals / sizeof vals[0];
    int64_t ts[64];
    double vs[64];
    for (size_t i = 0; i < n; i++) {
        ts[i] = (int64_t)i * 15000;
        vs[i] = vals[i];
    }
    head_roundtrip(ts, vs, n, 120);
    for (size_t i = 0; i < n; i++) /* reversed: exponents fall too */
        vs[i] = vals[n - 1 - i];
    head_roundtrip(ts, vs, n, 120);
}

/* Bytes of a 120-sample chunk of the given shape on a 15 s grid. */
static size_t head_size_of(enum vshape shape)
{
    int64_t ts[120];
    double vs[120];
    struct rng r = {21};
    gen_times(&r, T_GRID, ts, 120);
    gen_values(&r, shape, vs, 120);
    struct head_chunk c;
    head_chunk_init(&c, 120);
    for (int i = 0; i < 120; i++)
        assert_int_equal(head_chunk_append(&c, ts[i], vs[i]), 0);
    size_t len = head_chunk_len(&c);
    head_chunk_free(&c);
    return len;
}

static void test_head_decimal_codes_are_dense(void **state)
{
    (void)state;
    /* centi-second counters take 12-bit deltas, not ~50-bit XORs: flag +
     * timestamp + '10' + '10' + 13 bits a sample; 9-decimal noise 2 + 2 + 3 + 22 */
    assert_true(head_size_of(V_COUNTER_CENTI) <= 16 + 4 + 119 * 19 / 8 + 8);
    assert_true(head_size_of(V_GAUGE_NOISE) <= 16 + 4 + 119 * 29 / 8 + 8);
    /* constants on a grid cost 1 bit a sample */
    assert_true(head_size_of(V_CONST_DEC) <= 16 + 4 + 119 / 8 + 1);
}

static void test_head_full_and_order(void **state)
{
    (void)state;
    struct head_chunk c;
    head_chunk_init(&c, 120);
    for (int i = 0; i < 120; i++)
        assert_int_equal(head_chunk_append(&c, 1000 + i * 15000, 1.0), 0);
    assert_int_equal(head_chunk_append(&c, 1000 + 120 * 15000, 1.0), HEAD_CHUNK_FULL);
    assert_int_equal(c.count, 120);
    /* a constant 120-sample chunk: 16 bytes + 26 bits + 118 * 1 bit */
    assert_true(head_chunk_len(&c) <= 34);
    assert_true(c.cap <= 40);
    head_chunk_free(&c);

    head_chunk_init(&c, 10);
    assert_int_equal(head_chunk_append(&c, 100, 1), 0);
    assert_int_equal(head_chunk_append(&c, 100, 2), -1);
    assert_int_equal(head_chunk_append(&c, 99, 2), -1);
    assert_int_equal(head_chunk_append(&c, 101, 2), 0);
    assert_int_equal(c.count, 2);
    head_chunk_free(&c);
}

/* A reset chunk keeps its buffer and encodes the next samples as if new:
 * nothing of the previous chunk's bits shows through. */
static void test_head_reset_keeps_buffer(void **state)
{
    (void)state;
    static int64_t ts[MAXN];
    static double vs[MAXN];
    struct rng r = {7};
    struct head_chunk c;
    head_chunk_init(&c, 120);
    for (int vsh = 0; vsh < V_SHAPES; vsh++) {
        gen_times(&r, T_JITTER, ts, 120);
        gen_values(&r, (enum vshape)vsh, vs, 120);
        for (size_t i = 0; i < 120; i++)
            assert_int_equal(head_chunk_append(&c, ts[i], vs[i]), 0);
        uint8_t *buf = c.buf;
        uint32_t cap = c.cap;
        head_chunk_reset(&c);
        assert_int_equal(c.count, 0);
        assert_ptr_equal(c.buf, buf);
        assert_int_equal(c.cap, cap);
        for (size_t i = 0; i < 17; i++)
            assert_int_equal(head_chunk_append(&c, ts[i], vs[i]), 0);
        head_expect(c.buf, head_chunk_len(&c), 17, ts, vs);
        head_chunk_reset(&c);
    }
    head_chunk_free(&c);
}

static void test_head_max_count_worst_case(void **state)
{
    (void)state;
    /* 65535 samples of random bits and irregular huge steps: the buffer
     * grows to the worst case and is bounded by it. */
    size_t n = 65535;
    int64_t *ts = malloc(n * sizeof *ts);
    double *vs = malloc(n * sizeof *vs);
    struct rng r = {7};
    for (size_t i = 0; i < n; i++) {
        ts[i] = i == 0 ? INT64_MIN + 1 : ts[i - 1] + 1 + (int64_t)(rng_next(&r) >> 17);
        vs[i] = from_bits(rng_next(&r));
    }
    struct head_chunk c;
    head_chunk_init(&c, 65535);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(head_chunk_append(&c, ts[i], vs[i]), 0);
    assert_int_equal(head_chunk_append(&c, INT64_MAX, 0), HEAD_CHUNK_FULL);
    assert_true(c.cap <= 19 * n + 24);
    head_expect(c.buf, head_chunk_len(&c), n, ts, vs);
    head_chunk_free(&c);
    free(ts);
    free(vs);
}

static void test_head_short_buffer_fails_cleanly(void **state)
{
    (void)state;
    int64_t ts[120];
    double vs[120];
    struct rng r = {3};
    gen_times(&r, T_JITTER, ts, 120);
    gen_values(&r, V_FLOAT17, vs, 120);
    struct head_chunk c;
    head_chunk_init(&c, 120);
    for (int i = 0; i < 120; i++)
        head_chunk_append(&c, ts[i], vs[i]);
    size_t len = head_chunk_len(&c);
    for (size_t cut = 0; cut < len; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, c.buf, cut);
        struct head_chunk_iter it;
        head_chunk_iter_init(&it, p, cut, 120, false);
        int64_t t;
        double v;
        size_t got = 0;
        while (head_chunk_iter_next(&it, &t, &v))
            got++;
        assert_true(got < 120);
        assert_true(head_chunk_iter_failed(&it));
        free(p);
    }
    head_chunk_free(&c);
}

static void test_head_mutations_never_crash(void **state)
{
    (void)state;
    struct rng r = {11};
    int64_t ts[240];
    double vs[240];
    for (int round = 0; round < 6000; round++) {
        size_t n = 1 + rng_below(&r, 240);
        gen_times(&r, (enum tshape)rng_below(&r, T_SHAPES), ts, n);
        gen_values(&r, (enum vshape)rng_below(&r, V_SHAPES), vs, n);
        struct head_chunk c;
        head_chunk_init(&c, 240);
        for (size_t i = 0; i < n; i++)
            head_chunk_append(&c, ts[i], vs[i]);
        size_t len = head_chunk_len(&c);
        uint8_t *p = malloc(len);
        memcpy(p, c.buf, len);
        for (int f = 1 + (int)rng_below(&r, 4); f > 0; f--)
            p[rng_below(&r, len)] ^= (uint8_t)(1u << rng_below(&r, 8));
        size_t cut = rng_below(&r, 3) ? len : rng_below(&r, len + 1);
        struct head_chunk_iter it;
        head_chunk_iter_init(&it, p, cut, (uint16_t)(n + rng_below(&r, 3)), false);
        int64_t t, prev = INT64_MIN;
        double v;
        size_t got = 0;
        while (head_chunk_iter_next(&it, &t, &v)) {
            assert_true(got == 0 || t > prev);
            prev = t;
            got++;
        }
        free(p);
        head_chunk_free(&c);
    }
}

/* ---- Block codec ---- */

static const int levels[] = {BLOCK_ZSTD_OFF, 1, BLOCK_ZSTD_DEFAULT, 19};

static void block_roundtrip(struct block_codec *bc, const int64_t *ts, const double *vs, size_t n,
                            int level, struct block_info *info)
{
    struct sbuf out = SBUF_INIT;
    sbuf_append(&out, "key", 3); /* encode appends: existing bytes stay */
    assert_int_equal(block_encode(bc, ts, vs, NULL, n, level, &out), 0);
    assert_memory_equal(out.data, "key", 3);
    const uint8_t *p = (const uint8_t *)out.data + 3;
    size_t len = out.len - 3;
    assert_int_equal(block_count(p, len), n);
    struct block_info bi;
    assert_int_equal(block_inspect(p, len, &bi), 0);
    assert_int_equal(bi.count, n);
    if (level == BLOCK_ZSTD_OFF)
        assert_false(bi.zstd);
    int64_t *dts = malloc(n * sizeof *dts);
    double *dvs = malloc(n * sizeof *dvs);
    assert_int_equal(block_decode(bc, p, len, ts[0], dts, dvs, NULL, n), (int)n);
    assert_memory_equal(dts, ts, n * sizeof *ts);
    assert_memory_equal(dvs, vs, n * sizeof *vs);
    if (n > 1)
        assert_int_equal(block_decode(bc, p, len, ts[0], dts, dvs, NULL, n - 1), -1);
    if (info)
        *info = bi;
    free(dts);
    free(dvs);
    sbuf_free(&out);
}

static void test_block_roundtrip_all_shapes(void **state)
{
    (void)state;
    static int64_t ts[MAXN];
    static double vs[MAXN];
    static const size_t sizes[] = {1, 2, 3, 17, 120, 480, 1000};
    struct block_codec *bc = block_codec_new();
    struct rng r = {2};
    for (int pick = BLOCK_PICK_RAW; pick <= BLOCK_PICK_ZSTD; pick++) {
        block_codec_set_pick(bc, (enum block_pick)pick);
        for (int vsh = 0; vsh < V_SHAPES; vsh++)
            for (int tsh = 0; tsh < T_SHAPES; tsh++)
                for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
                    size_t n = sizes[s];
                    gen_times(&r, (enum tshape)tsh, ts, n);
                    gen_values(&r, (enum vshape)vsh, vs, n);
                    block_roundtrip(bc, ts, vs, n, levels[(vsh + tsh + s) % 4], NULL);
                }
    }
    block_codec_free(bc);
}

static void test_block_special_values_bit_exact(void **state)
{
    (void)state;
    struct block_codec *bc = block_codec_new();
    size_t ns = sizeof special_bits / sizeof special_bits[0];
    int64_t ts[64];
    double vs[64];
    for (size_t a = 0; a < ns; a++) {
        /* alone (a constant block), then next to each other special */
        for (size_t i = 0; i < 8; i++) {
            ts[i] = (int64_t)i * 15000;
            vs[i] = from_bits(special_bits[a]);
        }
        struct block_info bi;
        block_roundtrip(bc, ts, vs, 8, BLOCK_ZSTD_DEFAULT, &bi);
        assert_true(bi.vmode == BLOCK_V_CONST_RAW || bi.vmode == BLOCK_V_CONST_DEC);
        if (bi.vmode == BLOCK_V_CONST_DEC) /* of the specials only +0.0 is a decimal */
            assert_int_equal(special_bits[a], 0);
        for (size_t b = 0; b < ns; b++) {
            ts[2 * b] = (int64_t)(4 * b);
            ts[2 * b + 1] = (int64_t)(4 * b + 1);
            vs[2 * b] = from_bits(special_bits[a]);
            vs[2 * b + 1] = from_bits(special_bits[b]);
        }
        for (size_t l = 0; l < 4; l++)
            block_roundtrip(bc, ts, vs, 2 * ns, levels[l], NULL);
    }
    block_codec_free(bc);
}

static void test_block_staleness_marker_not_plain_nan(void **state)
{
    (void)state;
    struct block_codec *bc = block_codec_new();
    int64_t ts[4] = {0, 15000, 30000, 45000};
    double vs[4] = {1.5, from_bits(STALE_NAN), from_bits(PROM_NAN), from_bits(STALE_NAN)};
    for (size_t l = 0; l < 4; l++)
        block_roundtrip(bc, ts, vs, 4, levels[l], NULL);
    /* a decimal series that goes stale in its last sample keeps a decimal
     * codec: the marker is an exception restored from its bits */
    double gs[120];
    int64_t gt[120];
    for (int i = 0; i < 120; i++) {
        gt[i] = i * 15000;
        gs[i] = i < 119 ? i * 0.5 : from_bits(STALE_NAN);
    }
    struct block_info bi;
    block_roundtrip(bc, gt, gs, 120, BLOCK_ZSTD_OFF, &bi);
    assert_true(bi.vmode >= BLOCK_V_DEC_DELTA && bi.vmode <= BLOCK_V_DEC_FOR);
    struct sbuf out = SBUF_INIT;
    assert_int_equal(block_encode(bc, gt, gs, NULL, 120, BLOCK_ZSTD_OFF, &out), 0);
    assert_true(out.len < 140);
    sbuf_free(&out);
    block_codec_free(bc);
}

static void test_block_negative_zero_survives(void **state)
{
    (void)state;
    struct block_codec *bc = block_codec_new();
    int64_t ts[6] = {0, 1, 2, 3, 4, 5};
    double vs[6] = {0.0, -0.0, 1.0, -0.0, 2.0, 0.0};
    for (size_t l = 0; l < 4; l++)
        block_roundtrip(bc, ts, vs, 6, levels[l], NULL);
    for (int i = 0; i < 6; i++)
        vs[i] = -0.0;
    struct block_info bi;
    block_roundtrip(bc, ts, vs, 6, BLOCK_ZSTD_OFF, &bi);
    assert_int_equal(bi.vmode, BLOCK_V_CONST_RAW);
    block_codec_free(bc);
}

static void test_block_decimal_exceptions(void **state)
{
    (void)state;
    /* centi-second counters as node_exporter prints them: now and then a
     * float sum such as 17.702000000000002 that is no short decimal; -0.0
     * and the staleness marker are exceptions too */
    struct block_codec *bc = block_codec_new();
    int64_t ts[480];
    double vs[480];
    struct rng r = {17};
    for (int i = 0; i < 480; i++) {
        ts[i] = i * 15000;
        double v = (double)(1770200 + i * 150 + (int)rng_below(&r, 10)) / 100;
        vs[i] = i % 37 == 5 ? from_bits(to_bits(v) + 1) : i % 101 == 7 ? -0.0 : v;
    }
    vs[479] = from_bits(STALE_NAN);
    struct block_info bi;
    for (size_t l = 0; l < 4; l++)
        block_roundtrip(bc, ts, vs, 480, levels[l], &bi);
    assert_true(bi.vmode >= BLOCK_V_DEC_DELTA && bi.vmode <= BLOCK_V_DEC_FOR);
    struct sbuf out = SBUF_INIT;
    assert_int_equal(block_encode(bc, ts, vs, NULL, 480, BLOCK_ZSTD_OFF, &out), 0);
    assert_true(out.len < 480 * 2); /* XOR would take ~6 bytes a sample */
    /* when every value would be an exception there is no decimal codec */
    for (int i = 0; i < 480; i++)
        vs[i] = from_bits(rng_next(&r));
    block_roundtrip(bc, ts, vs, 480, BLOCK_ZSTD_OFF, &bi);
    assert_true(bi.vmode >= BLOCK_V_XOR);
    sbuf_free(&out);
    block_codec_free(bc);
}

static void test_block_chooses_dense_codecs(void **state)
{
    (void)state;
    struct block_codec *bc = block_codec_new();
    int64_t ts[480];
    double vs[480];
    struct block_info bi;
    struct sbuf out = SBUF_INIT;

    /* constant on a grid: header, count, interval and a decimal */
    for (int i = 0; i < 480; i++) {
        ts[i] = INT64_C(1700000000000) + i * 15000;
        vs[i] = 1;
    }
    block_roundtrip(bc, ts, vs, 480, BLOCK_ZSTD_DEFAULT, &bi);
    assert_int_equal(bi.vmode, BLOCK_V_CONST_DEC);
    assert_int_equal(bi.tmode, BLOCK_T_CONST);
    assert_int_equal(block_encode(bc, ts, vs, NULL, 480, BLOCK_ZSTD_DEFAULT, &out), 0);
    assert_true(out.len <= 8);

    /* a centi-second counter: a decimal codec, far below 8 bytes a sample */
    struct rng r = {5};
    gen_values(&r, V_COUNTER_CENTI, vs, 480);
    out.len = 0;
    assert_int_equal(block_encode(bc, ts, vs, NULL, 480, BLOCK_ZSTD_DEFAULT, &out), 0);
    assert_int_equal(block_inspect((uint8_t *)out.data, out.len, &bi), 0);
    assert_true(bi.vmode >= BLOCK_V_DEC_DELTA && bi.vmode <= BLOCK_V_DEC_FOR);
    assert_true(out.len < 480 * 2);

    /* 17-digit floats are not decimals */
    gen_values(&r, V_FLOAT17, vs, 480);
    block_roundtrip(bc, ts, vs, 480, BLOCK_ZSTD_DEFAULT, &bi);
    assert_true(bi.vmode >= BLOCK_V_XOR);

    /* jitter takes the grid or dod layout, not more than ~1 byte a sample */
    gen_times(&r, T_JITTER, ts, 480);
    gen_values(&r, V_CONST_ZERO, vs, 480);
    block_roundtrip(bc, ts, vs, 480, BLOCK_ZSTD_OFF, &bi);
    assert_true(bi.tmode == BLOCK_T_GRID || bi.tmode == BLOCK_T_DOD);
    out.len = 0;
    assert_int_equal(block_encode(bc, ts, vs, NULL, 480, BLOCK_ZSTD_OFF, &out), 0);
    assert_true(out.len <= 480 + 16);
    sbuf_free(&out);
    block_codec_free(bc);
}

static void test_block_decimal_edges(void **state)
{
    (void)state;
    struct block_codec *bc = block_codec_new();
    /* values near the limits of the decimal fast path, and decimals at very
     * different exponents in one block */
    static const double vals[][4] = {
        {9007199254740992.0, 9007199254740991.0, 1.0, 2.0},
        {0.1, 0.2, 0.30000000000000004, 0.3},
        {1e-22, 2e-22, 3e-22, 1e-21},
        {1e22, 1e21, 1e15, 1.0},
        {123456.789, 0.000001, 1e9, 42},
        {-1.5, -2.25, -3.125, -0.0625},
        {5e-324, 1e-310, 2.2250738585072014e-308, 1},
        {1e300, -1e300, 1.7976931348623157e308, 0},
    };
    int64_t ts[4] = {-3, -2, -1, 0};
    for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++)
        for (size_t l = 0; l < 4; l++)
            block_roundtrip(bc, ts, vals[i], 4, levels[l], NULL);
    block_codec_free(bc);
}

static void test_block_encode_rejects_bad_input(void **state)
{
    (void)state;
    struct block_codec *bc = block_codec_new();
    struct sbuf out = SBUF_INIT;
    int64_t ts[3] = {10, 20, 20};
    double vs[3] = {1, 2, 3};
    assert_int_equal(block_encode(bc, ts, vs, NULL, 0, 3, &out), -1);
    assert_int_equal(block_encode(bc, ts, vs, NULL, 3, 3, &out), -1);
    ts[2] = 15;
    assert_int_equal(block_encode(bc, ts, vs, NULL, 3, 3, &out), -1);
    assert_int_equal(out.len, 0);
    assert_int_equal(block_count((const uint8_t *)"", 0), 0);
    assert_int_equal(block_count((const uint8_t *)"\x0f\x01", 2), 0); /* no such value codec */
    int64_t dts[4];
    double dvs[4];
    assert_int_equal(block_decode(bc, (const uint8_t *)"", 0, 0, dts, dvs, NULL, 4), -1);
    sbuf_free(&out);
    block_codec_free(bc);
}

static void test_block_large(void **state)
{
    (void)state;
    size_t n = 100000;
    int64_t *ts = malloc(n * sizeof *ts);
    double *vs = malloc(n * sizeof *vs);
    struct rng r = {9};
    gen_times(&r, T_GAPS, ts, n);
    gen_values(&r, V_GAUGE_NOISE, vs, n);
    struct block_codec *bc = block_codec_new();
    block_roundtrip(bc, ts, vs, n, BLOCK_ZSTD_DEFAULT, NULL);
    gen_values(&r, V_RANDOM_BITS, vs, n);
    block_roundtrip(bc, ts, vs, n, 1, NULL);
    block_codec_free(bc);
    free(ts);
    free(vs);
}

/* Decodes a mutated block; it may fail, and if it does not, what it yields
 * must respect the cap and be strictly increasing in time. */
static void block_decode_hostile(struct block_codec *bc, const uint8_t *p, size_t len)
{
    static int64_t ts[MAXN];
    static double vs[MAXN];
    int got = block_decode(bc, p, len, 12345, ts, vs, NULL, MAXN);
    assert_true(got == -1 || (got >= 1 && got <= MAXN));
    for (int i = 1; i < got; i++)
        assert_true(ts[i] > ts[i - 1]);
    size_t c = block_count(p, len);
    assert_true(got == -1 || c == (size_t)got);
}

static void test_block_mutations_never_crash(void **state)
{
    (void)state;
    static int64_t ts[MAXN];
    static double vs[MAXN];
    struct block_codec *bc = block_codec_new();
    struct rng r = {13};
    struct sbuf out = SBUF_INIT;
    int mutations = 0;
    while (mutations < 25000) {
        size_t n = 1 + rng_below(&r, 600);
        gen_times(&r, (enum tshape)rng_below(&r, T_SHAPES), ts, n);
        gen_values(&r, (enum vshape)rng_below(&r, V_SHAPES), vs, n);
        out.len = 0;
        assert_int_equal(block_encode(bc, ts, vs, NULL, n, levels[rng_below(&r, 3)], &out), 0);
        size_t len = out.len;
        uint8_t *p = malloc(len);
        /* every truncation of a few blocks, random mutations of all */
        if (mutations % 50 == 0)
            for (size_t cut = 0; cut < len; cut++, mutations++)
                block_decode_hostile(bc, (const uint8_t *)out.data, cut);
        for (int k = 0; k < 20; k++, mutations++) {
            memcpy(p, out.data, len);
            int kind = (int)rng_below(&r, 4);
            for (int f = 1 + (int)rng_below(&r, 3); f > 0; f--) {
                size_t at = rng_below(&r, len);
                if (kind == 0)
                    p[at] ^= (uint8_t)(1u << rng_below(&r, 8));
                else if (kind == 1)
                    p[at] = (uint8_t)rng_next(&r);
                else if (kind == 2 && at < 4)
                    p[at] = (uint8_t)rng_next(&r); /* the header */
                else
                    p[rng_below(&r, len < 8 ? len : 8)] ^= (uint8_t)rng_next(&r);
            }
            size_t cut = rng_below(&r, 4) ? len : rng_below(&r, len + 1);
            block_decode_hostile(bc, p, cut);
        }
        free(p);
    }
    /* and pure garbage */
    uint8_t junk[256];
    for (int k = 0; k < 2000; k++) {
        size_t len = rng_below(&r, sizeof junk);
        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)rng_next(&r);
        if (len)
            junk[0] &= 0x7f;
        block_decode_hostile(bc, junk, len);
    }
    sbuf_free(&out);
    block_codec_free(bc);
}

/* ---- Start timestamps ---- */

enum stshape {
    ST_NONE,     /* an ST column of zeros */
    ST_CONST,    /* a cumulative counter started before the chunk */
    ST_PREV_T,   /* a delta series: ST_i = T_i-1 */
    ST_EQ_T,     /* OTel's unknown start: ST == T */
    ST_AFTER_T,  /* invalid, but stored as given */
    ST_NEGATIVE, /* before 1970, down to INT64_MIN */
    ST_RESETS,   /* constant with restarts inside the chunk */
    ST_MIXED,    /* runs of all of the above */
    ST_RANDOM,   /* any int64 */
    ST_SHAPES
};

static int64_t st_one(struct rng *r, enum stshape shape, const int64_t *ts, const int64_t *sts,
                      size_t i)
{
    int64_t prev = i ? sts[i - 1] : 0;
    switch (shape) {
    case ST_CONST: /* mod 2^64, as the timestamps may be INT64_MIN */
        return i ? prev : (int64_t)((uint64_t)ts[0] - 1234567);
    case ST_PREV_T:
        return i ? ts[i - 1] : (int64_t)((uint64_t)ts[0] - 15000);
    case ST_EQ_T:
        return ts[i];
    case ST_AFTER_T:
        return (int64_t)((uint64_t)ts[i] + 1 + rng_below(r, 100000));
    case ST_NEGATIVE:
        return i % 7 == 6 ? INT64_MIN : -INT64_C(315360000000) - (int64_t)rng_below(r, 3);
    case ST_RESETS:
        return i && rng_below(r, 8) ? prev : (int64_t)((uint64_t)ts[i] - rng_below(r, 15000));
    case ST_MIXED: {
        static const enum stshape kinds[] = {ST_NONE, ST_CONST, ST_PREV_T, ST_EQ_T, ST_RESETS};
        return st_one(r, kinds[(i / 5) % 5], ts, sts, i);
    }
    case ST_RANDOM:
        return rng_below(r, 4) ? (int64_t)rng_next(r) : 0;
    default:
        return 0;
    }
}

static void gen_sts(struct rng *r, enum stshape shape, const int64_t *ts, int64_t *sts, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sts[i] = st_one(r, shape, ts, sts, i);
}

/* A chunk with an ST column round-trips t, v and ST, also as a prefix
 * copied midway; its size is the plain chunk's plus the ST codes. */
static size_t head_st_roundtrip(const int64_t *ts, const double *vs, const int64_t *sts, size_t n)
{
    struct head_chunk c;
    head_chunk_init(&c, (uint16_t)n);
    int64_t st_last = 12345; /* ignored before the first sample */
    size_t snap_at = n / 2, snap_len = 0;
    uint8_t *snap = NULL;
    for (size_t i = 0; i < n; i++) {
        if (i == snap_at && i > 0) {
            snap_len = head_chunk_len(&c);
            snap = malloc(snap_len);
            memcpy(snap, c.buf, snap_len);
        }
        assert_int_equal(head_chunk_append_st(&c, ts[i], vs[i], sts[i], &st_last), 0);
        assert_int_equal(st_last, sts[i]);
    }
    assert_int_equal(head_chunk_append_st(&c, ts[n - 1], vs[0], 1, &st_last), HEAD_CHUNK_FULL);
    assert_int_equal(st_last, sts[n - 1]); /* a refused sample leaves it */
    head_expect_st(c.buf, head_chunk_len(&c), n, ts, vs, sts);
    if (snap)
        head_expect_st(snap, snap_len, snap_at, ts, vs, sts);
    size_t len = head_chunk_len(&c);
    free(snap);
    head_chunk_free(&c);
    return len;
}

static size_t head_plain_len(const int64_t *ts, const double *vs, size_t n)
{
    struct head_chunk c;
    head_chunk_init(&c, (uint16_t)n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(head_chunk_append(&c, ts[i], vs[i]), 0);
    size_t len = head_chunk_len(&c);
    head_chunk_free(&c);
    return len;
}

static void test_head_st_roundtrip(void **state)
{
    (void)state;
    static int64_t ts[MAXN], sts[MAXN];
    static double vs[MAXN];
    static const size_t sizes[] = {1, 2, 3, 17, 120, 240};
    struct rng r = {21};
    for (int sh = 0; sh < ST_SHAPES; sh++)
        for (int tsh = 0; tsh < T_SHAPES; tsh++)
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
                size_t n = sizes[si];
                gen_times(&r, (enum tshape)tsh, ts, n);
                gen_values(&r, (enum vshape)rng_below(&r, V_SHAPES), vs, n);
                gen_sts(&r, (enum stshape)sh, ts, sts, n);
                head_st_roundtrip(ts, vs, sts, n);
            }
}

/* What the codes cost: 1 bit a sample for a constant ST, 2 for a delta
 * series, on top of the plain chunk and one explicit code. */
static void test_head_st_cost(void **state)
{
    (void)state;
    static int64_t ts[120], sts[120];
    static double vs[120];
    struct rng r = {22};
    gen_times(&r, T_GRID, ts, 120);
    gen_values(&r, V_COUNTER_INT, vs, 120);
    size_t plain = head_plain_len(ts, vs, 120);
    gen_sts(&r, ST_CONST, ts, sts, 120);
    assert_true(head_st_roundtrip(ts, vs, sts, 120) <= plain + 15 + 6);
    gen_sts(&r, ST_PREV_T, ts, sts, 120);
    assert_true(head_st_roundtrip(ts, vs, sts, 120) <= plain + 30 + 6);
    gen_sts(&r, ST_EQ_T, ts, sts, 120);
    assert_true(head_st_roundtrip(ts, vs, sts, 120) <= plain + 60 + 1);
    gen_sts(&r, ST_NONE, ts, sts, 120);
    assert_true(head_st_roundtrip(ts, vs, sts, 120) <= plain + 15 + 1);
}

/* Truncated chunks with an ST column fail cleanly. */
static void test_head_st_truncated(void **state)
{
    (void)state;
    static int64_t ts[120], sts[120];
    static double vs[120];
    struct rng r = {23};
    for (int sh = 0; sh < ST_SHAPES; sh++) {
        gen_times(&r, T_JITTER, ts, 120);
        gen_values(&r, V_FLOAT17, vs, 120);
        gen_sts(&r, (enum stshape)sh, ts, sts, 120);
        struct head_chunk c;
        head_chunk_init(&c, 120);
        int64_t st_last = 0;
        for (size_t i = 0; i < 120; i++)
            head_chunk_append_st(&c, ts[i], vs[i], sts[i], &st_last);
        size_t len = head_chunk_len(&c);
        for (size_t cut = 0; cut < len; cut++) {
            struct head_chunk_iter it;
            head_chunk_iter_init(&it, c.buf, cut, 120, true);
            int64_t t;
            double v;
            size_t i = 0;
            while (head_chunk_iter_next(&it, &t, &v)) {
                assert_int_equal(t, ts[i]);
                assert_int_equal(it.st, sts[i]);
                i++;
            }
            assert_true(head_chunk_iter_failed(&it));
        }
        head_chunk_free(&c);
    }
}

/* Encodes with sts and checks the ST column round-trips, is skipped by a
 * reader without sts, and is absent when every ST is 0.  Returns the
 * block's size. */
static size_t block_st_roundtrip(struct block_codec *bc, const int64_t *ts, const double *vs,
                                 const int64_t *sts, size_t n, int level)
{
    struct sbuf out = SBUF_INIT, plain = SBUF_INIT;
    assert_int_equal(block_encode(bc, ts, vs, sts, n, level, &out), 0);
    assert_int_equal(block_encode(bc, ts, vs, NULL, n, level, &plain), 0);
    const uint8_t *p = (const uint8_t *)out.data;
    bool any = false;
    for (size_t i = 0; i < n; i++)
        any |= sts[i] != 0;
    assert_int_equal(block_has_st(p, out.len), any);
    struct block_info bi;
    assert_int_equal(block_inspect(p, out.len, &bi), 0);
    assert_int_equal(bi.st, any);
    if (!any) /* no column at all: the plain block, byte for byte */
        assert_true(out.len == plain.len && memcmp(out.data, plain.data, out.len) == 0);
    int64_t *dts = malloc(n * sizeof *dts), *dsts = malloc(n * sizeof *dsts);
    double *dvs = malloc(n * sizeof *dvs);
    memset(dsts, 0xab, n * sizeof *dsts);
    assert_int_equal(block_decode(bc, p, out.len, ts[0], dts, dvs, dsts, n), (int)n);
    assert_memory_equal(dts, ts, n * sizeof *ts);
    assert_memory_equal(dvs, vs, n * sizeof *vs);
    assert_memory_equal(dsts, sts, n * sizeof *sts);
    memset(dts, 0, n * sizeof *dts);
    assert_int_equal(block_decode(bc, p, out.len, ts[0], dts, dvs, NULL, n), (int)n);
    assert_memory_equal(dts, ts, n * sizeof *ts);
    assert_memory_equal(dvs, vs, n * sizeof *vs);
    /* a plain block read with sts gives zeros */
    memset(dsts, 0xab, n * sizeof *dsts);
    assert_int_equal(
        block_decode(bc, (const uint8_t *)plain.data, plain.len, ts[0], dts, dvs, dsts, n), (int)n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(dsts[i], 0);
    size_t len = out.len;
    free(dts);
    free(dsts);
    free(dvs);
    sbuf_free(&out);
    sbuf_free(&plain);
    return len;
}

static void test_block_st_roundtrip(void **state)
{
    (void)state;
    static int64_t ts[MAXN], sts[MAXN];
    static double vs[MAXN];
    static const size_t sizes[] = {1, 2, 3, 17, 120, 480, 1000};
    struct block_codec *bc = block_codec_new();
    struct rng r = {24};
    for (int sh = 0; sh < ST_SHAPES; sh++)
        for (int tsh = 0; tsh < T_SHAPES; tsh++)
            for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
                size_t n = sizes[si];
                gen_times(&r, (enum tshape)tsh, ts, n);
                gen_values(&r, (enum vshape)rng_below(&r, V_SHAPES), vs, n);
                gen_sts(&r, (enum stshape)sh, ts, sts, n);
                block_st_roundtrip(bc, ts, vs, sts, n, levels[rng_below(&r, 4)]);
            }
    block_codec_free(bc);
}

/* The typical patterns cost a few bytes a block, not one a sample. */
static void test_block_st_cost(void **state)
{
    (void)state;
    static int64_t ts[480], sts[480];
    static double vs[480];
    struct block_codec *bc = block_codec_new();
    struct rng r = {25};
    gen_times(&r, T_GRID, ts, 480);
    gen_values(&r, V_COUNTER_INT, vs, 480);
    struct sbuf plain = SBUF_INIT;
    assert_int_equal(block_encode(bc, ts, vs, NULL, 480, BLOCK_ZSTD_OFF, &plain), 0);
    const enum stshape cheap[] = {ST_CONST, ST_PREV_T, ST_EQ_T};
    for (size_t k = 0; k < 3; k++) {
        gen_sts(&r, cheap[k], ts, sts, 480);
        assert_true(block_st_roundtrip(bc, ts, vs, sts, 480, BLOCK_ZSTD_OFF) <= plain.len + 8);
    }
    sbuf_free(&plain);
    block_codec_free(bc);
}

/* Hostile bytes in blocks with an ST column, read with and without sts. */
static void test_block_st_mutations_never_crash(void **state)
{
    (void)state;
    static int64_t ts[MAXN], sts[MAXN], dts[MAXN], dsts[MAXN];
    static double vs[MAXN], dvs[MAXN];
    struct block_codec *bc = block_codec_new();
    struct rng r = {26};
    struct sbuf out = SBUF_INIT;
    for (int round = 0; round < 2000; round++) {
        size_t n = 1 + rng_below(&r, 300);
        gen_times(&r, (enum tshape)rng_below(&r, T_SHAPES), ts, n);
        gen_values(&r, (enum vshape)rng_below(&r, V_SHAPES), vs, n);
        gen_sts(&r, (enum stshape)(1 + rng_below(&r, ST_SHAPES - 1)), ts, sts, n);
        sts[0] = 1; /* at least one ST: the block has the column */
        out.len = 0;
        assert_int_equal(block_encode(bc, ts, vs, sts, n, levels[rng_below(&r, 3)], &out), 0);
        uint8_t *p = malloc(out.len);
        for (int k = 0; k < 10; k++) {
            memcpy(p, out.data, out.len);
            for (int f = 1 + (int)rng_below(&r, 3); f > 0; f--)
                p[rng_below(&r, out.len)] ^= (uint8_t)(1u << rng_below(&r, 8));
            size_t cut = rng_below(&r, 4) ? out.len : rng_below(&r, out.len + 1);
            int got = block_decode(bc, p, cut, 7, dts, dvs, rng_below(&r, 2) ? dsts : NULL, MAXN);
            assert_true(got == -1 || (got >= 1 && got <= MAXN));
            for (int i = 1; i < got; i++)
                assert_true(dts[i] > dts[i - 1]);
        }
        free(p);
    }
    sbuf_free(&out);
    block_codec_free(bc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_roundtrip_all_shapes),
        cmocka_unit_test(test_head_st_roundtrip),
        cmocka_unit_test(test_head_st_cost),
        cmocka_unit_test(test_head_st_truncated),
        cmocka_unit_test(test_block_st_roundtrip),
        cmocka_unit_test(test_block_st_cost),
        cmocka_unit_test(test_block_st_mutations_never_crash),
        cmocka_unit_test(test_head_special_values_bit_exact),
        cmocka_unit_test(test_head_decimal_transitions),
        cmocka_unit_test(test_head_decimal_codes_are_dense),
        cmocka_unit_test(test_head_full_and_order),
        cmocka_unit_test(test_head_reset_keeps_buffer),
        cmocka_unit_test(test_head_max_count_worst_case),
        cmocka_unit_test(test_head_short_buffer_fails_cleanly),
        cmocka_unit_test(test_head_mutations_never_crash),
        cmocka_unit_test(test_block_roundtrip_all_shapes),
        cmocka_unit_test(test_block_special_values_bit_exact),
        cmocka_unit_test(test_block_staleness_marker_not_plain_nan),
        cmocka_unit_test(test_block_negative_zero_survives),
        cmocka_unit_test(test_block_decimal_exceptions),
        cmocka_unit_test(test_block_chooses_dense_codecs),
        cmocka_unit_test(test_block_decimal_edges),
        cmocka_unit_test(test_block_encode_rejects_bad_input),
        cmocka_unit_test(test_block_large),
        cmocka_unit_test(test_block_mutations_never_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
