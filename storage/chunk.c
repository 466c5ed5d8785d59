/* chunk.c — the head chunk: one series' open window, as a bitstream.
 *
 * The head chunk is appended one sample at a time on the ingest path and
 * must stay small, because every active series owns one.  It is a single
 * bitstream, most significant bit first, in a buffer that starts at 24 bytes
 * and grows by 1.25x (sizes chosen to fill glibc's 16k-8 byte malloc chunks):
 *
 *   sample 0   t0 as 64 raw bits, then the value's IEEE-754 bits (64)
 *   sample i   '0' if its timestamp delta and its value equal the previous
 *              sample's, else '1', timestamp code, value code
 *
 *   timestamp  delta-of-delta D = (t_i - t_i-1) - (t_i-1 - t_i-2), the
 *              previous delta being 0 for sample 1 (so it codes t1 - t0):
 *                '0'                 D == 0                  1 bit
 *                '10'    + 7 bits    -64 <= D < 64            9   ms jitter
 *                '110'   + 14 bits   |D| < 2^13              17
 *                '1110'  + 20 bits   |D| < 2^19 (8.7 min)    24   first delta
 *                '11110' + 32 bits   |D| < 2^31 (24 days)    37
 *                '11111' + 64 bits   anything                69
 *              in two's complement; all arithmetic is mod 2^64, so any
 *              strictly increasing int64 sequence round-trips.
 *   value      the cheapest of:
 *                '0'                          same bits as the last value
 *                '10'   + dec                 decimal delta
 *                '110'  + window bits         XOR, the last window (Gorilla)
 *                '1110' + 5 lead + 6 width + bits   XOR, a new window
 *                '1111' + 5 bits k + dec      decimal restart at exponent k
 *              dec is a zigzag integer: '0' + 6 bits, '10' + 13, '110' + 22,
 *              or '111' + 6 bits (L - 1) + L bits.
 *   ST         only in a chunk with an ST column (its keeper holds the
 *              flag), after every sample's other codes, the '0' sample
 *              too; relative to the previous sample (chunk_st_tag):
 *                '0'                 the previous sample's ST      1 bit
 *                '10'                the previous sample's time    2
 *                '110'               no ST (0)                     3
 *                '1110'              the sample's own time         4
 *                '1111' + timestamp code of ST - T                 5-73
 *              A cumulative counter with a known start pays 1 bit a
 *              sample, a delta series 2, and a chunk without the column
 *              nothing: a series' chunk gets one only when a sample with
 *              an ST arrives (storage/head.c).
 *
 * Decimal codes.  Most sample values are short decimals (counters in
 * bytes or centiseconds, durations with 9 decimals), whose XOR is ~50
 * bits because 0.01 is not a binary fraction.  The chunk keeps an exponent
 * k (0 at the start): a value v with v == m / 10^k bit for bit
 * (chunk_dec_try; |m| < 2^50) is coded as m minus the base, the integer
 * nearest v_prev * 10^k, which writer and reader both compute from the
 * previous value's bits (for a decimal-coded predecessor it is exactly
 * its m).  A value that needs more decimals restarts at the smallest
 * larger k that fits, absolute; the search rests for 32 samples after a
 * miss, so 17-digit floats pay one extra multiply-divide a sample, not 22.
 * NaNs (the staleness marker too), -0.0, infinities and 17-digit floats
 * never pass the check and take XOR.  A window is reused only when that is
 * cheaper than opening a new one (Prometheus reuses whenever the bits fit).
 *
 * Why: scrape timestamps sit on a grid, so D is 0 nearly always (a scraper
 * should snap a few ms of jitter to the grid, as Prometheus does), and 70 %
 * of series are constant: with the leading '0' they cost 1 bit a sample and
 * a constant 120-sample chunk is 34 bytes.  Measured (bench/chunk_bench.c,
 * 120-sample chunks): on 507 real node_exporter series, plain Gorilla
 * (dod + XOR) was 1.42 B/sample, the decimal codes 0.92 and with the '0'
 * flag 0.85 (memory per series at the end of a chunk 234 -> 162 B), for
 * ~3 ns more per append; synthetic data 1.37 -> 1.04.  Unsnapped +-5 ms
 * jitter costs the flag 6 %.  Denser codecs (per-window choice, zstd) need the whole
 * window: they live in the block codec (chunk_block.c), which re-encodes a
 * chunk once it closes.  The stream is append-only, which is what lets a
 * reader copy a prefix (chunk.h).  The plain Gorilla XOR coder here also
 * serves the block codec's BLOCK_V_XOR mode (chunk_xor_*). */
#include "storage/chunk.h"

#include <endian.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"

#if UINTPTR_MAX == UINT64_MAX
_Static_assert(sizeof(struct head_chunk) == 48,
               "a head chunk is per-series memory: keep it 48 bytes");
#endif

#define HEAD_CHUNK_FIRST_CAP 24
#define SAMPLE_MAX_BITS      (1 + 69 + 79) /* flag + widest timestamp + widest value code */
#define ST_MAX_BITS          (4 + 69)      /* '1111' + widest timestamp code */
#define NO_WINDOW            0xff

/* ---- Bit output ---- */

/* Writes the low n bits of v (1 <= n <= 64, bits above n zero) at bit *pos of
 * buf, most significant first.  Bits from *pos on must be zero. */
static inline void bits_put(uint8_t *buf, size_t *pos, uint64_t v, unsigned n)
{
    uint8_t *p = buf + (*pos >> 3);
    unsigned room = 8 - (unsigned)(*pos & 7);
    *pos += n;
    if (n <= room) {
        *p |= (uint8_t)(v << (room - n));
        return;
    }
    n -= room;
    *p++ |= (uint8_t)(v >> n);
    while (n >= 8) {
        n -= 8;
        *p++ = (uint8_t)(v >> n);
    }
    if (n)
        *p = (uint8_t)(v << (8 - n));
}

/* A code split into a prefix and a payload, each at most 64 bits. */
struct code {
    uint64_t hdr, payload;
    uint8_t hlen, plen;
};

static inline void code_put(uint8_t *buf, size_t *pos, const struct code *c)
{
    if (c->hlen + c->plen <= 64) {
        uint64_t all = c->plen ? c->hdr << c->plen | c->payload : c->hdr;
        bits_put(buf, pos, all, c->hlen + c->plen);
        return;
    }
    bits_put(buf, pos, c->hdr, c->hlen);
    bits_put(buf, pos, c->payload, c->plen);
}

/* ---- Bit input ---- */

static void bitr_init(struct chunk_bitr *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->end = p + len;
    r->acc = 0;
    r->avail = 0;
    r->pad = 0;
}

/* Tops acc up to at least 56 valid bits.  Past the end it feeds zero bytes
 * and counts them in pad, so a reader never touches memory it was not
 * given; bitr_overrun tells whether any of those zeros were consumed. */
static inline void bitr_refill(struct chunk_bitr *r)
{
    if (r->end - r->p >= 8) {
        uint64_t w;
        memcpy(&w, r->p, sizeof w);
        r->acc |= be64toh(w) >> r->avail;
        r->p += (63 - r->avail) >> 3;
        r->avail |= 56;
        return;
    }
    while (r->avail <= 56) {
        uint64_t b = 0;
        if (r->p < r->end)
            b = *r->p++;
        else
            r->pad++;
        r->acc |= b << (56 - r->avail);
        r->avail += 8;
    }
}

static inline void bitr_skip(struct chunk_bitr *r, unsigned n)
{
    r->acc <<= n;
    r->avail -= n;
}

/* Reads n bits, 1 <= n <= 56. */
static inline uint64_t bitr_get(struct chunk_bitr *r, unsigned n)
{
    if (r->avail < n)
        bitr_refill(r);
    uint64_t v = r->acc >> (64 - n);
    bitr_skip(r, n);
    return v;
}

/* Reads n bits, 1 <= n <= 64. */
static inline uint64_t bitr_get_wide(struct chunk_bitr *r, unsigned n)
{
    if (n <= 56)
        return bitr_get(r, n);
    uint64_t hi = bitr_get(r, n - 32);
    return hi << 32 | bitr_get(r, 32);
}

static inline bool bitr_overrun(const struct chunk_bitr *r)
{
    return (size_t)r->pad * 8 > r->avail;
}

/* Bits consumed so far. */
static inline size_t bitr_consumed(const struct chunk_bitr *r, const uint8_t *start)
{
    return ((size_t)(r->p - start) + r->pad) * 8 - r->avail;
}

/* ---- Timestamp delta-of-delta codes ---- */

static const uint8_t dod_payload_bits[6] = {0, 7, 14, 20, 32, 64};

static inline struct code dod_code(int64_t dod)
{
    struct code c = {0, 0, 1, 0};
    if (dod == 0)
        return c;
    unsigned b = 1;
    for (; b < 5; b++) {
        int64_t half = INT64_C(1) << (dod_payload_bits[b] - 1);
        if (dod >= -half && dod < half)
            break;
    }
    unsigned n = dod_payload_bits[b];
    c.hlen = (uint8_t)(b < 5 ? b + 1 : 5);
    c.hdr = b < 5 ? ((UINT64_C(1) << b) - 1) << 1 : 0x1f;
    c.plen = (uint8_t)n;
    c.payload = n == 64 ? (uint64_t)dod : (uint64_t)dod & ((UINT64_C(1) << n) - 1);
    return c;
}

static inline int64_t dod_get(struct chunk_bitr *r)
{
    if (r->avail < 5)
        bitr_refill(r);
    unsigned ones = (unsigned)__builtin_clzll(~r->acc | (UINT64_C(1) << 58));
    if (ones == 0) {
        bitr_skip(r, 1);
        return 0;
    }
    unsigned b = ones < 5 ? ones : 5;
    bitr_skip(r, b < 5 ? b + 1 : 5);
    unsigned n = dod_payload_bits[b];
    uint64_t u = bitr_get_wide(r, n);
    if (n < 64 && (u >> (n - 1)))
        u |= ~UINT64_C(0) << n; /* sign-extend */
    return u64_to_i64(u);
}

/* ---- Start timestamp codes ---- */

/* Prepends the bits p (plen of them) to a code's prefix. */
static inline struct code code_prefix(struct code c, uint64_t p, unsigned plen)
{
    c.hdr |= p << c.hlen;
    c.hlen = (uint8_t)(c.hlen + plen);
    return c;
}

/* '0' same ST | '10' previous time | '110' none | '1110' own time |
 * '1111' + dod code of ST - T */
static inline struct code st_code(int64_t st, int64_t prev_st, int64_t prev_t, int64_t t)
{
    struct code c = {0, 0, 1, 0};
    switch (chunk_st_tag(st, prev_st, prev_t, t)) {
    case CHUNK_ST_SAME:
        return c;
    case CHUNK_ST_PREV_T:
        c.hdr = 2, c.hlen = 2;
        return c;
    case CHUNK_ST_ZERO:
        c.hdr = 6, c.hlen = 3;
        return c;
    case CHUNK_ST_OWN_T:
        c.hdr = 14, c.hlen = 4;
        return c;
    default:
        return code_prefix(dod_code(u64_to_i64((uint64_t)st - (uint64_t)t)), 15, 4);
    }
}

/* Reads one ST code into *st (which holds the previous sample's ST). */
static inline void st_get(struct chunk_bitr *r, int64_t *st, int64_t prev_t, int64_t t)
{
    if (r->avail < 4)
        bitr_refill(r);
    unsigned ones = (unsigned)__builtin_clzll(~r->acc | (UINT64_C(1) << 59));
    bitr_skip(r, ones < 4 ? ones + 1 : 4);
    if (ones == 1)
        *st = prev_t;
    else if (ones == 2)
        *st = 0;
    else if (ones == 3)
        *st = t;
    else if (ones == 4)
        *st = u64_to_i64((uint64_t)t + (uint64_t)dod_get(r));
}

/* ---- XOR value codes ---- */

/* The code for `cur` after `prev`, updating the window (*lead, *trail). */
static inline struct code xor_code(uint64_t prev, uint64_t cur, uint8_t *lead, uint8_t *trail)
{
    struct code c = {0, 0, 1, 0};
    uint64_t x = prev ^ cur;
    if (x == 0)
        return c;
    unsigned l = (unsigned)__builtin_clzll(x), t = (unsigned)__builtin_ctzll(x);
    if (l > 31)
        l = 31;
    unsigned sig = 64 - l - t;
    if (*lead != NO_WINDOW && l >= *lead && t >= *trail) {
        unsigned wsig = 64u - *lead - *trail;
        if (2 + wsig <= 13 + sig) {
            c.hdr = 2;
            c.hlen = 2;
            c.payload = x >> *trail;
            c.plen = (uint8_t)wsig;
            return c;
        }
    }
    c.hdr = (UINT64_C(3) << 11) | (uint64_t)l << 6 | (sig & 63);
    c.hlen = 13;
    c.payload = x >> t;
    c.plen = (uint8_t)sig;
    *lead = (uint8_t)l;
    *trail = (uint8_t)t;
    return c;
}

/* The payload of a code that reuses the window (lead, trail). */
static inline bool xor_get_reuse(struct chunk_bitr *r, uint64_t *v, uint8_t lead, uint8_t trail)
{
    if (lead == NO_WINDOW)
        return false;
    *v ^= bitr_get_wide(r, 64u - lead - trail) << trail;
    return true;
}

/* 5 bits lead, 6 bits width (64 as 0), then the payload of a new window. */
static inline bool xor_get_new(struct chunk_bitr *r, uint64_t *v, uint8_t *lead, uint8_t *trail)
{
    uint64_t h = bitr_get(r, 11);
    unsigned l = (unsigned)(h >> 6), sig = (unsigned)(h & 63);
    if (sig == 0)
        sig = 64;
    if (l + sig > 64)
        return false;
    *lead = (uint8_t)l;
    *trail = (uint8_t)(64 - l - sig);
    *v ^= bitr_get_wide(r, sig) << *trail;
    return true;
}

/* Reads one Gorilla value code ('0', '10', '11') into *v.  False if invalid. */
static inline bool xor_get(struct chunk_bitr *r, uint64_t *v, uint8_t *lead, uint8_t *trail)
{
    if (r->avail < 2)
        bitr_refill(r);
    uint64_t top = r->acc;
    if (!(top >> 63)) {
        bitr_skip(r, 1);
        return true;
    }
    bitr_skip(r, 2);
    if (!(top >> 62 & 1))
        return xor_get_reuse(r, v, *lead, *trail);
    return xor_get_new(r, v, lead, trail);
}

/* ---- Decimal value codes ---- */

const double chunk_pow10[CHUNK_DEC_MAX_K + 1] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Tries the two integers around v * 10^k (the product may be one off) and
 * checks the division back bit for bit: 10^k and |m| < 2^53 are exact
 * doubles and IEEE division is correctly rounded, so m / 10^k is exactly
 * the double nearest the decimal — what a decoder computes. */
int chunk_dec_try(double v, unsigned k, int64_t *m)
{
    double x = v * chunk_pow10[k];
    if (!(fabs(x) < 0x1p53) || dbl_bits(v) == dbl_bits(-0.0))
        return CHUNK_DEC_OVERFLOW;
    uint64_t want = dbl_bits(v);
    int64_t t = (int64_t)x;
    if (dbl_bits(k ? (double)t / chunk_pow10[k] : (double)t) == want) {
        *m = t;
        return CHUNK_DEC_EXACT;
    }
    int64_t u = x > (double)t ? t + 1 : t - 1;
    if (k && dbl_bits((double)u / chunk_pow10[k]) == want) {
        *m = u;
        return CHUNK_DEC_EXACT;
    }
    return CHUNK_DEC_INEXACT;
}

static inline uint64_t zz_enc(uint64_t x) /* x: an int64 as bits */
{
    return (x << 1) ^ (0 - (x >> 63));
}

static inline uint64_t zz_dec(uint64_t u)
{
    return (u >> 1) ^ (0 - (u & 1));
}

/* A zigzagged mantissa or mantissa delta u:
 *   '0' + 6 bits | '10' + 13 bits | '110' + 22 bits | '111' + 6 bits (L-1) + L bits */
static inline struct code dec_code(uint64_t u)
{
    struct code c = {0, u, 1, 6};
    if (u < (UINT64_C(1) << 6))
        return c;
    if (u < (UINT64_C(1) << 13)) {
        c.hdr = 2, c.hlen = 2, c.plen = 13;
        return c;
    }
    if (u < (UINT64_C(1) << 22)) {
        c.hdr = 6, c.hlen = 3, c.plen = 22;
        return c;
    }
    unsigned len = 64 - (unsigned)__builtin_clzll(u);
    c.hdr = 7u << 6 | (len - 1);
    c.hlen = 9;
    c.plen = (uint8_t)len;
    return c;
}

static inline uint64_t dec_get(struct chunk_bitr *r)
{
    if (r->avail < 9)
        bitr_refill(r);
    uint64_t top = r->acc;
    if (!(top >> 63)) {
        bitr_skip(r, 1);
        return bitr_get(r, 6);
    }
    if (!(top >> 62 & 1)) {
        bitr_skip(r, 2);
        return bitr_get(r, 13);
    }
    if (!(top >> 61 & 1)) {
        bitr_skip(r, 3);
        return bitr_get(r, 22);
    }
    bitr_skip(r, 9);
    return bitr_get_wide(r, (unsigned)(top >> 55 & 63) + 1);
}

/* What a decimal delta adds to: the integer nearest v * 10^k, or 0 when
 * that is 2^52 or more (or v is NaN/Inf).  Writer and reader both compute
 * it from the previous value's bits, so the writer keeps no mantissa; for
 * a value that was itself coded as m / 10^k with |m| < 2^50 the product is
 * within 1/4 of m, so this returns m exactly. */
static inline int64_t dec_base(uint64_t vbits, unsigned k)
{
    double x = bits_dbl(vbits) * chunk_pow10[k];
    if (!(fabs(x) < 0x1p52))
        return 0;
    int64_t t = (int64_t)x;
    double f = x - (double)t;
    return t + (f >= 0.5) - (f <= -0.5);
}

/* ---- Head chunk ---- */

#define HEAD_DEC_MAX_M   (INT64_C(1) << 50) /* see dec_base */
#define HEAD_DEC_BACKOFF 32                 /* samples without a new-exponent search */

void head_chunk_init(struct head_chunk *c, uint16_t max_count)
{
    memset(c, 0, sizeof *c);
    c->max_count = max_count ? max_count : 1;
    c->lead = NO_WINDOW;
}

void head_chunk_reset(struct head_chunk *c)
{
    uint8_t *buf = c->buf;
    uint32_t cap = c->cap;
    if (buf)
        memset(buf, 0, head_chunk_len(c)); /* bits past nbits are 0 */
    head_chunk_init(c, c->max_count);
    c->buf = buf;
    c->cap = cap;
}

void head_chunk_free(struct head_chunk *c)
{
    free(c->buf);
    c->buf = NULL;
    c->cap = 0;
    c->nbits = 0;
    c->count = 0;
}

size_t head_chunk_len(const struct head_chunk *c)
{
    return ((size_t)c->nbits + 7) / 8;
}

int64_t head_chunk_first_t(const struct head_chunk *c)
{
    uint64_t w;
    memcpy(&w, c->buf, sizeof w);
    return u64_to_i64(be64toh(w));
}

/* Makes room for addbits more bits: 1.25x growth (at least 16 bytes),
 * rounded to malloc's chunk sizes, but never more than the remaining samples
 * could ever need (more with an ST column). */
static void head_chunk_reserve(struct head_chunk *c, unsigned addbits, bool st)
{
    size_t need = ((size_t)c->nbits + addbits + 7) / 8;
    if (need <= c->cap)
        return;
    size_t step = c->cap / 4 > 16 ? c->cap / 4 : 16;
    size_t cap = c->cap ? (size_t)c->cap + step : HEAD_CHUNK_FIRST_CAP;
    cap = (cap + 8 + 15) / 16 * 16 - 8;
    size_t sample_max = (SAMPLE_MAX_BITS + (st ? ST_MAX_BITS : 0) + 7) / 8;
    size_t most = need + (size_t)(c->max_count - c->count - 1) * sample_max;
    if (cap > most)
        cap = most;
    if (cap < need)
        cap = need;
    c->buf = xrealloc(c->buf, cap);
    memset(c->buf + c->cap, 0, cap - c->cap);
    c->cap = (uint32_t)cap;
}

/* Writes the first sample's raw time and value (and room for stbits of ST
 * code); returns the bit position after them. */
static size_t head_chunk_put_first(struct head_chunk *c, int64_t t, uint64_t bits, unsigned stbits)
{
    head_chunk_reserve(c, 128 + stbits, stbits > 0);
    size_t pos = 0;
    bits_put(c->buf, &pos, (uint64_t)t, 64);
    bits_put(c->buf, &pos, bits, 64);
    c->tlast = t;
    c->dlast = 0;
    c->vlast = bits;
    c->lead = NO_WINDOW;
    c->k = 0;
    return pos;
}

/* The value-code state an append may change; committed once it is written. */
struct head_vstate {
    uint8_t lead, trail, k, backoff;
};

/* A decimal restart: the smallest exponent above s->k at which v is a
 * decimal, as '1111' + 5 bits k + dec_code(m).  False if there is none;
 * then the search rests for HEAD_DEC_BACKOFF samples, so a series of
 * 17-digit floats does not pay for it on every sample. */
static bool head_dec_restart(double v, struct head_vstate *s, struct code *out)
{
    int64_t m = 0;
    unsigned k = s->k;
    int r = CHUNK_DEC_INEXACT;
    while (r == CHUNK_DEC_INEXACT && k < CHUNK_DEC_MAX_K)
        r = chunk_dec_try(v, ++k, &m);
    if (r != CHUNK_DEC_EXACT || m >= HEAD_DEC_MAX_M || m <= -HEAD_DEC_MAX_M) {
        s->backoff = HEAD_DEC_BACKOFF;
        return false;
    }
    *out = code_prefix(dec_code(zz_enc((uint64_t)m)), 0xf << 5 | k, 9);
    s->k = (uint8_t)k;
    return true;
}

/* The cheapest code for value `bits` after c->vlast:
 *   '0' same | '10' decimal delta | '110' XOR, same window
 *   '1110' XOR, new window | '1111' decimal restart at a new exponent */
static struct code head_value_code(const struct head_chunk *c, uint64_t bits, struct head_vstate *s)
{
    struct code best = {0, 0, 1, 0}, dc;
    if (bits == c->vlast)
        return best;
    struct head_vstate xs = *s;
    best = xor_code(c->vlast, bits, &xs.lead, &xs.trail);
    if (best.hlen == 2) { /* '10' -> '110' */
        best = code_prefix(best, 1, 1);
    } else { /* '11' + 11 bits -> '1110' + 11 bits */
        best.hdr = 0xeu << 11 | (best.hdr & 0x7ff);
        best.hlen = 15;
    }
    if (s->backoff)
        s->backoff--;
    int64_t m;
    int r = chunk_dec_try(bits_dbl(bits), s->k, &m);
    struct head_vstate ds = *s;
    bool dec = false;
    if (r == CHUNK_DEC_EXACT && m < HEAD_DEC_MAX_M && m > -HEAD_DEC_MAX_M) {
        uint64_t delta = (uint64_t)m - (uint64_t)dec_base(c->vlast, s->k);
        dc = code_prefix(dec_code(zz_enc(delta)), 2, 2);
        dec = true;
    } else if (r == CHUNK_DEC_INEXACT && !s->backoff) {
        dec = head_dec_restart(bits_dbl(bits), &ds, &dc);
    }
    if (dec && dc.hlen + dc.plen < best.hlen + best.plen) {
        *s = ds;
        return dc;
    }
    s->lead = xs.lead;
    s->trail = xs.trail;
    s->backoff = ds.backoff;
    return best;
}

/* Appends a sample with its ST code sc (NULL in a chunk without ST).
 * Inlined into both entry points, so that the plain one folds the ST
 * branches away and keeps its append speed (bench/chunk_bench.c). */
static inline __attribute__((always_inline)) int head_chunk_put(struct head_chunk *c, int64_t t,
                                                                double v, const struct code *sc)
{
    uint64_t bits = dbl_bits(v);
    unsigned stbits = sc ? (unsigned)sc->hlen + sc->plen : 0;
    size_t pos;
    if (c->count == 0) {
        pos = head_chunk_put_first(c, t, bits, stbits);
    } else {
        if (c->count >= c->max_count)
            return HEAD_CHUNK_FULL;
        if (t <= c->tlast)
            return -1;
        uint64_t delta = (uint64_t)t - (uint64_t)c->tlast;
        struct code tc = dod_code(u64_to_i64(delta - c->dlast));
        struct head_vstate s = {c->lead, c->trail, c->k, c->backoff};
        struct code vc = head_value_code(c, bits, &s);
        bool same = tc.hlen == 1 && tc.hdr == 0 && vc.hlen == 1 && vc.hdr == 0;
        head_chunk_reserve(c, stbits + (same ? 1 : 1 + tc.hlen + tc.plen + vc.hlen + vc.plen),
                           sc != NULL);
        pos = c->nbits;
        bits_put(c->buf, &pos, !same, 1);
        if (!same) {
            code_put(c->buf, &pos, &tc);
            code_put(c->buf, &pos, &vc);
        }
        c->tlast = t;
        c->dlast = delta;
        c->vlast = bits;
        c->lead = s.lead;
        c->trail = s.trail;
        c->k = s.k;
        c->backoff = s.backoff;
    }
    if (sc)
        code_put(c->buf, &pos, sc);
    c->nbits = (uint32_t)pos;
    c->count++;
    return 0;
}

int head_chunk_append(struct head_chunk *c, int64_t t, double v)
{
    return head_chunk_put(c, t, v, NULL);
}

int head_chunk_append_st(struct head_chunk *c, int64_t t, double v, int64_t st, int64_t *st_last)
{
    bool first = c->count == 0;
    struct code sc = st_code(st, first ? 0 : *st_last, first ? t : c->tlast, t);
    int rc = head_chunk_put(c, t, v, &sc);
    if (rc == 0)
        *st_last = st;
    return rc;
}

void head_chunk_iter_init(struct head_chunk_iter *it, const uint8_t *buf, size_t len,
                          uint16_t count, bool has_st)
{
    memset(it, 0, sizeof *it);
    bitr_init(&it->r, buf, len);
    it->left = count;
    it->lead = NO_WINDOW;
    it->has_st = has_st;
}

static bool head_chunk_iter_fail(struct head_chunk_iter *it)
{
    it->failed = true;
    it->left = 0;
    return false;
}

/* Decodes one value code (see head_value_code) into it->v. */
static bool head_value_get(struct head_chunk_iter *it)
{
    struct chunk_bitr *r = &it->r;
    if (r->avail < 4)
        bitr_refill(r);
    uint64_t top = r->acc;
    unsigned ones = (unsigned)__builtin_clzll(~top | (UINT64_C(1) << 59));
    bitr_skip(r, ones < 4 ? ones + 1 : 4);
    if (ones == 0)
        return true;
    if (ones == 2 || ones == 3) {
        it->dec = false;
        return ones == 2 ? xor_get_reuse(r, &it->v, it->lead, it->trail)
                         : xor_get_new(r, &it->v, &it->lead, &it->trail);
    }
    uint64_t m;
    if (ones == 1) {
        m = it->dec ? (uint64_t)it->m : (uint64_t)dec_base(it->v, it->k);
        m += zz_dec(dec_get(r));
    } else {
        it->k = (uint8_t)bitr_get(r, 5);
        if (it->k > CHUNK_DEC_MAX_K)
            return false;
        m = zz_dec(dec_get(r));
    }
    it->m = u64_to_i64(m);
    it->dec = true;
    it->v = dbl_bits((double)it->m / chunk_pow10[it->k]);
    return true;
}

bool head_chunk_iter_next(struct head_chunk_iter *it, int64_t *t, double *v)
{
    if (it->left == 0)
        return false;
    int64_t prev_t;
    if (it->done == 0) {
        it->t = prev_t = u64_to_i64(bitr_get_wide(&it->r, 64));
        it->v = bitr_get_wide(&it->r, 64);
    } else {
        bool same = bitr_get(&it->r, 1) == 0; /* same delta, same value */
        if (!same)
            it->delta += (uint64_t)dod_get(&it->r);
        int64_t next = u64_to_i64((uint64_t)it->t + it->delta);
        if (next <= it->t || (!same && !head_value_get(it)))
            return head_chunk_iter_fail(it);
        prev_t = it->t;
        it->t = next;
    }
    if (it->has_st)
        st_get(&it->r, &it->st, prev_t, it->t);
    if (bitr_overrun(&it->r))
        return head_chunk_iter_fail(it);
    it->left--;
    it->done++;
    *t = it->t;
    *v = bits_dbl(it->v);
    return true;
}

bool head_chunk_iter_failed(const struct head_chunk_iter *it)
{
    return it->failed;
}

/* ---- XOR bitstream for the block codec ---- */

size_t chunk_xor_bound(size_t n)
{
    return (64 + 77 * (n - 1) + 7) / 8;
}

size_t chunk_xor_size(const double *vs, size_t n)
{
    uint64_t prev = dbl_bits(vs[0]);
    uint8_t lead = NO_WINDOW, trail = 0;
    size_t bits = 64;
    for (size_t i = 1; i < n; i++) {
        uint64_t cur = dbl_bits(vs[i]);
        struct code c = xor_code(prev, cur, &lead, &trail);
        bits += c.hlen + c.plen;
        prev = cur;
    }
    return (bits + 7) / 8;
}

size_t chunk_xor_encode(const double *vs, size_t n, uint8_t *out)
{
    uint64_t prev = dbl_bits(vs[0]);
    uint8_t lead = NO_WINDOW, trail = 0;
    size_t pos = 0;
    bits_put(out, &pos, prev, 64);
    for (size_t i = 1; i < n; i++) {
        uint64_t cur = dbl_bits(vs[i]);
        struct code c = xor_code(prev, cur, &lead, &trail);
        code_put(out, &pos, &c);
        prev = cur;
    }
    return (pos + 7) / 8;
}

bool chunk_xor_decode(const uint8_t *p, size_t len, size_t n, double *vs)
{
    struct chunk_bitr r;
    bitr_init(&r, p, len);
    uint64_t v = bitr_get_wide(&r, 64);
    uint8_t lead = NO_WINDOW, trail = 0;
    vs[0] = bits_dbl(v);
    for (size_t i = 1; i < n; i++) {
        if (!xor_get(&r, &v, &lead, &trail) || r.pad > 16)
            return false;
        vs[i] = bits_dbl(v);
    }
    return !bitr_overrun(&r) && (bitr_consumed(&r, p) + 7) / 8 == len;
}
