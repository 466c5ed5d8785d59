/* chunk_block.c — the block codec: one series over one closed window.
 *
 * A block is the LMDB value for (series, window start); the start time t0
 * lives in the key, so the block stores timestamps relative to it.  Layout:
 *
 *   u8       header: bits 0-3 value codec (enum block_vmode),
 *                    bits 4-5 timestamp layout (enum block_tmode),
 *                    bit 6 body is a zstd frame, bit 7 ST column present
 *   uvarint  sample count n >= 1
 *   uvarint  interval, only for BLOCK_T_CONST
 *   body     [timestamp section][ST section, if bit 7][value section], raw
 *            or as one zstd frame (magicless, no checksum, content size or
 *            dictionary id)
 *
 * Timestamps.  A scrape grid gives equal deltas, stored as the one interval
 * in the header: a regular 480-sample block spends 5 bytes on time.
 * Otherwise the smaller of two sections: BLOCK_T_DOD is the first
 * delta (uvarint) then zigzag-varint deltas of deltas; BLOCK_T_GRID is the
 * mean interval then each sample's zigzag offset from t0 + i*interval, which
 * halves the spread of pure jitter (dod mixes three samples' jitter) but
 * loses to DOD after a gap.  All arithmetic is mod 2^64.
 *
 * Values.  Following storage-compression.md, each block takes the smallest
 * of these codecs; varints are LEB128, zigzag for signed:
 *   CONST_RAW   8 raw bytes          CONST_DEC   K, zz(m)  (value m/10^K)
 *   DEC_DELTA   K, zz(M0), zz(M_i - M_i-1)
 *   DEC_DELTA2  K, zz(M0), zz(M1 - M0), zz of deltas of deltas
 *   DEC_FOR     K, zz(min M), uvarint(M_i - min)        (noisy gauges)
 *   XOR         the Gorilla bitstream of chunk.c        (17-digit floats)
 *   RAW_DELTA   8 raw bytes, zz(bits_i - bits_i-1)      (same-exponent floats)
 *   RAW         8 raw bytes per value                   (the upper bound)
 * The decimal codecs write v_i as M_i / 10^K, |M_i| <= 2^53, K <= 22: then
 * M_i and 10^K are exact doubles, IEEE division is correctly rounded, and
 * decoding is one division (Clinger's fast path).  The encoder finds each
 * value's smallest exponent, checked bit for bit (chunk_dec_try: -0.0, NaN
 * payloads such as the staleness marker, ±Inf, denormals and 17-digit
 * floats never pass), picks the common K by a cost model (dec_pick_k) and
 * rescales by the integer 10^(K-k), which denotes the same rational and so
 * divides back to the same double.  Values that do not fit at K are
 * exceptions: the K byte gets bit 7, the stream carries a stand-in (the
 * nearest decimal, or the previous mantissa for NaN/Inf), and a list after
 * it, uvarint count then (uvarint index gap, zz(bits - stand-in's bits)),
 * patches each one back bit for bit — no exception ever goes through a
 * decimal round trip.  This matters on real pages: node_exporter prints
 * CPU seconds as float sums, so about 1 value in 10 of those series is
 * 17.702000000000002 rather than 17.702; with one exception costing ~2
 * bytes instead of the whole block going to XOR, real data shrank 6 %.
 *
 * Start timestamps.  Bit 7 was reserved (and refused by the decoder) before
 * blocks could carry STs, so every older block still decodes the same and a
 * block without ST costs nothing more.  The section is a uvarint byte
 * length (so a reader that does not want STs skips it in one step), then
 * entries, each a uvarint x with a tag in its low 3 bits (enum
 * chunk_st_tag: relative to the previous sample's ST, starting from 0, to
 * its time, the first sample's own, or to the sample's own time): SAME,
 * OWN_T, PREV_T and ZERO stand for a run of (x >> 3) + 1 samples, and x ==
 * EXPLICIT for one sample whose zigzag ST - T follows.  So a counter with
 * one start in the block costs about 7 bytes (an explicit ST, then one
 * run) and a delta series about the same (ST_i = T_i-1: one run of
 * PREV_T), before zstd.
 *
 * Choosing.  Raw sizes of all candidates are computed without writing
 * them; then (BLOCK_PICK_TOP2, the default) the two smallest are written
 * and compressed, and the smallest result wins.  zstd is kept only if it
 * shrinks the body.  Measured by bench/chunk_bench.c: see the numbers and
 * the reasoning for TOP2 in the comment above block_pick_order.
 *
 * Decoding checks every read against the end of its input, every count
 * against the caller's capacity and every timestamp against its
 * predecessor; corrupt or hostile bytes give -1, never a crash. */
#include "storage/chunk.h"

#include <endian.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY /* ZSTD_c_format / ZSTD_d_format */
#include <zstd.h>

#include "util/sbuf.h"

#define HDR_VMODE_MASK  0x0f
#define HDR_TMODE_SHIFT 4
#define HDR_ZSTD        0x40
#define HDR_ST          0x80
#define DEC_MAX_M       (INT64_C(1) << 53)
#define ZSTD_MIN_BODY   16 /* below this a zstd frame cannot be smaller */

struct block_codec {
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
    int level; /* compression level currently set on cctx; 0 = none yet */
    enum block_pick pick;
    uint8_t *body; /* raw body being built */
    size_t body_cap;
    uint8_t *zbuf; /* a compressed candidate, or a decompressed body */
    size_t zbuf_cap;
    int64_t *m; /* decimal mantissas of the values being encoded */
    uint8_t *k; /* and the exponent each was found exact at */
    size_t dec_cap;
};

/* ---- Small helpers ---- */

static inline uint64_t zz_enc(uint64_t x) /* x: an int64 as bits */
{
    return (x << 1) ^ (0 - (x >> 63));
}

static inline uint64_t zz_dec(uint64_t u)
{
    return (u >> 1) ^ (0 - (u & 1));
}

static inline size_t uv_len(uint64_t v)
{
    return 1 + (size_t)(63 - __builtin_clzll(v | 1)) / 7;
}

static inline uint8_t *uv_put(uint8_t *q, uint64_t v)
{
    while (v >= 0x80) {
        *q++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *q++ = (uint8_t)v;
    return q;
}

/* Reads a uvarint; NULL if it runs past end or is longer than 64 bits. */
static inline const uint8_t *uv_get(const uint8_t *q, const uint8_t *end, uint64_t *out)
{
    if (q < end && *q < 0x80) {
        *out = *q;
        return q + 1;
    }
    uint64_t v = 0;
    for (unsigned shift = 0; q < end && shift < 64; shift += 7) {
        uint8_t b = *q++;
        if (shift == 63 && b > 1)
            return NULL;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (b < 0x80) {
            *out = v;
            return q;
        }
    }
    return NULL;
}

static inline uint8_t *le64_put(uint8_t *q, uint64_t v)
{
    v = htole64(v);
    memcpy(q, &v, sizeof v);
    return q + 8;
}

static inline uint64_t le64_get(const uint8_t *q)
{
    uint64_t v;
    memcpy(&v, q, sizeof v);
    return le64toh(v);
}

static void grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    *p = xrealloc(*p, n * elem);
    *cap = n;
}

/* ---- Codec state ---- */

struct block_codec *block_codec_new(void)
{
    struct block_codec *bc = xcalloc(1, sizeof *bc);
    bc->cctx = ZSTD_createCCtx();
    bc->dctx = ZSTD_createDCtx();
    if (!bc->cctx || !bc->dctx)
        abort();
    ZSTD_CCtx_setParameter(bc->cctx, ZSTD_c_format, ZSTD_f_zstd1_magicless);
    ZSTD_CCtx_setParameter(bc->cctx, ZSTD_c_checksumFlag, 0);
    ZSTD_CCtx_setParameter(bc->cctx, ZSTD_c_contentSizeFlag, 0);
    ZSTD_CCtx_setParameter(bc->cctx, ZSTD_c_dictIDFlag, 0);
    ZSTD_DCtx_setParameter(bc->dctx, ZSTD_d_format, ZSTD_f_zstd1_magicless);
    bc->pick = BLOCK_PICK_TOP2;
    return bc;
}

void block_codec_free(struct block_codec *bc)
{
    if (!bc)
        return;
    ZSTD_freeCCtx(bc->cctx);
    ZSTD_freeDCtx(bc->dctx);
    free(bc->body);
    free(bc->zbuf);
    free(bc->m);
    free(bc->k);
    free(bc);
}

void block_codec_set_pick(struct block_codec *bc, enum block_pick pick)
{
    bc->pick = pick;
}

/* Upper bound of a raw body of n samples: timestamps <= 10 bytes a sample
 * (+10), values <= 10 bytes a sample (+16: exponent byte, XOR tail), and
 * with an ST column <= 11 bytes a sample (+10: its length). */
static size_t body_bound(size_t n, bool st)
{
    return 20 * n + 64 + (st ? 11 * n + 10 : 0);
}

/* ---- Header ---- */

struct block_hdr {
    size_t count;
    enum block_tmode tmode;
    enum block_vmode vmode;
    bool zstd;
    bool st;
    uint64_t interval;   /* BLOCK_T_CONST */
    const uint8_t *body; /* start of the body within the block */
};

static bool hdr_parse(const uint8_t *p, size_t len, struct block_hdr *h)
{
    const uint8_t *end = p + len;
    if (len < 2)
        return false;
    h->vmode = (enum block_vmode)(p[0] & HDR_VMODE_MASK);
    h->tmode = (enum block_tmode)(p[0] >> HDR_TMODE_SHIFT & 3);
    h->zstd = p[0] & HDR_ZSTD;
    h->st = p[0] & HDR_ST;
    uint64_t count;
    const uint8_t *q = uv_get(p + 1, end, &count);
    if (!q || count == 0 || count > BLOCK_MAX_COUNT || h->vmode >= BLOCK_V_COUNT)
        return false;
    if ((h->tmode == BLOCK_T_ONE) != (count == 1))
        return false;
    h->interval = 0;
    if (h->tmode == BLOCK_T_CONST && !(q = uv_get(q, end, &h->interval)))
        return false;
    h->count = (size_t)count;
    h->body = q;
    return true;
}

size_t block_count(const uint8_t *p, size_t len)
{
    struct block_hdr h;
    return hdr_parse(p, len, &h) ? h.count : 0;
}

bool block_has_st(const uint8_t *p, size_t len)
{
    struct block_hdr h;
    return hdr_parse(p, len, &h) && h.st;
}

int block_inspect(const uint8_t *p, size_t len, struct block_info *info)
{
    struct block_hdr h;
    if (!hdr_parse(p, len, &h))
        return -1;
    info->count = h.count;
    info->tmode = h.tmode;
    info->vmode = h.vmode;
    info->zstd = h.zstd;
    info->st = h.st;
    return 0;
}

const char *block_vmode_name(enum block_vmode m)
{
    static const char *const names[BLOCK_V_COUNT] = {
        "const_raw", "const_dec", "dec_delta", "dec_delta2", "dec_for", "xor", "raw_delta", "raw",
    };
    return (unsigned)m < BLOCK_V_COUNT ? names[m] : "?";
}

/* ---- Timestamps ---- */

struct ts_plan {
    enum block_tmode mode;
    uint64_t interval; /* BLOCK_T_CONST, BLOCK_T_GRID */
};

static inline unsigned bit_len(uint64_t v)
{
    return 64 - (unsigned)__builtin_clzll(v | 1);
}

/* Payload bits of the GRID section (see ts_plan_make). */
static size_t ts_grid_bits(const int64_t *ts, size_t n, uint64_t interval)
{
    size_t bits = 0;
    uint64_t t0 = (uint64_t)ts[0];
    for (size_t i = 1; i < n; i++)
        bits += bit_len(zz_enc((uint64_t)ts[i] - t0 - i * interval));
    return bits;
}

/* Picks the timestamp layout; -1 if ts is not strictly increasing.  DOD and
 * GRID are compared by the significant bits of their varints, not by bytes:
 * with a few ms of jitter both are one byte a sample, but the grid offsets
 * have half the spread and compress to about 1 bit a sample less. */
static int ts_plan_make(const int64_t *ts, size_t n, struct ts_plan *tp)
{
    tp->mode = BLOCK_T_ONE;
    tp->interval = 0;
    if (n == 1)
        return 0;
    uint64_t d1 = (uint64_t)ts[1] - (uint64_t)ts[0], prev = d1;
    size_t dod_bits = 0;
    bool regular = true;
    for (size_t i = 1; i < n; i++) {
        if (ts[i] <= ts[i - 1])
            return -1;
        uint64_t d = (uint64_t)ts[i] - (uint64_t)ts[i - 1];
        dod_bits += i >= 2 ? bit_len(zz_enc(d - prev)) : 0;
        regular &= d == d1;
        prev = d;
    }
    if (regular) {
        tp->mode = BLOCK_T_CONST;
        tp->interval = d1;
        return 0;
    }
    /* the mean interval, rounded: flooring would make pure jitter drift */
    uint64_t span = (uint64_t)ts[n - 1] - (uint64_t)ts[0], rem = span % (n - 1);
    uint64_t interval = span / (n - 1) + (rem >= (n - 1) - rem);
    bool grid = ts_grid_bits(ts, n, interval) <= dod_bits + bit_len(d1);
    tp->mode = grid ? BLOCK_T_GRID : BLOCK_T_DOD;
    tp->interval = grid ? interval : 0;
    return 0;
}

static uint8_t *ts_write(const int64_t *ts, size_t n, const struct ts_plan *tp, uint8_t *q)
{
    uint64_t t0 = (uint64_t)ts[0];
    if (tp->mode == BLOCK_T_GRID) {
        q = uv_put(q, tp->interval);
        for (size_t i = 1; i < n; i++)
            q = uv_put(q, zz_enc((uint64_t)ts[i] - t0 - i * tp->interval));
    } else if (tp->mode == BLOCK_T_DOD) {
        uint64_t prev = (uint64_t)ts[1] - t0;
        q = uv_put(q, prev);
        for (size_t i = 2; i < n; i++) {
            uint64_t d = (uint64_t)ts[i] - (uint64_t)ts[i - 1];
            q = uv_put(q, zz_enc(d - prev));
            prev = d;
        }
    }
    return q;
}

/* Fills ts[0..n) from the section at q; returns the end of the section, or
 * NULL if it is corrupt or the timestamps are not strictly increasing. */
static const uint8_t *ts_read(const struct block_hdr *h, const uint8_t *q, const uint8_t *end,
                              int64_t t0, int64_t *ts)
{
    size_t n = h->count;
    uint64_t x = 0, d = h->interval;
    ts[0] = t0;
    if (h->tmode == BLOCK_T_CONST) {
        for (size_t i = 1; i < n; i++)
            ts[i] = u64_to_i64((uint64_t)t0 + i * d);
    } else if (h->tmode == BLOCK_T_DOD) {
        if (n >= 2 && !(q = uv_get(q, end, &d)))
            return NULL;
        ts[1] = u64_to_i64((uint64_t)t0 + d);
        for (size_t i = 2; i < n; i++) {
            if (!(q = uv_get(q, end, &x)))
                return NULL;
            d += zz_dec(x);
            ts[i] = u64_to_i64((uint64_t)ts[i - 1] + d);
        }
    } else if (h->tmode == BLOCK_T_GRID) {
        if (!(q = uv_get(q, end, &d)))
            return NULL;
        for (size_t i = 1; i < n; i++) {
            if (!(q = uv_get(q, end, &x)))
                return NULL;
            ts[i] = u64_to_i64((uint64_t)t0 + i * d + zz_dec(x));
        }
    }
    bool ok = true;
    for (size_t i = 1; i < n; i++)
        ok &= ts[i] > ts[i - 1];
    return ok ? q : NULL;
}

/* ---- Start timestamps ---- */

static bool st_any(const int64_t *sts, size_t n)
{
    for (size_t i = 0; sts && i < n; i++)
        if (sts[i])
            return true;
    return false;
}

#define ST_TAG_BITS 3

/* A run of `run` samples of one tag as an entry. */
static uint8_t *st_put_run(uint8_t *q, enum chunk_st_tag tag, uint64_t run)
{
    return run ? uv_put(q, (run - 1) << ST_TAG_BITS | tag) : q;
}

/* Writes the ST section (length, entries) at q; returns its end. */
static uint8_t *st_write(const int64_t *ts, const int64_t *sts, size_t n, uint8_t *q)
{
    uint8_t *e = q + 10, *start = e; /* entries first, the length in front after */
    enum chunk_st_tag run_tag = CHUNK_ST_SAME;
    uint64_t run = 0;
    for (size_t i = 0; i < n; i++) {
        enum chunk_st_tag tag =
            chunk_st_tag(sts[i], i ? sts[i - 1] : 0, i ? ts[i - 1] : ts[0], ts[i]);
        if (tag == run_tag && tag != CHUNK_ST_EXPLICIT) {
            run++;
            continue;
        }
        e = st_put_run(e, run_tag, run);
        run = 0;
        if (tag == CHUNK_ST_EXPLICIT) {
            *e++ = CHUNK_ST_EXPLICIT;
            e = uv_put(e, zz_enc((uint64_t)sts[i] - (uint64_t)ts[i]));
        } else {
            run_tag = tag;
            run = 1;
        }
    }
    e = st_put_run(e, run_tag, run);
    size_t len = (size_t)(e - start);
    uint8_t *body = uv_put(q, len);
    memmove(body, start, len);
    return body + len;
}

/* Reads the ST section at q into sts (or skips it if sts is NULL); returns
 * its end, or NULL if it is corrupt or does not cover exactly n samples. */
static const uint8_t *st_read(const uint8_t *q, const uint8_t *end, const int64_t *ts, int64_t *sts,
                              size_t n)
{
    uint64_t len, x, z;
    if (!(q = uv_get(q, end, &len)) || len > (uint64_t)(end - q))
        return NULL;
    const uint8_t *send = q + len;
    if (!sts)
        return send;
    int64_t prev = 0;
    for (size_t i = 0; i < n;) {
        if (!(q = uv_get(q, send, &x)))
            return NULL;
        enum chunk_st_tag tag = (enum chunk_st_tag)(x & ((1u << ST_TAG_BITS) - 1));
        uint64_t run = x >> ST_TAG_BITS;
        if (tag == CHUNK_ST_EXPLICIT) {
            if (run || !(q = uv_get(q, send, &z)))
                return NULL;
            prev = sts[i] = u64_to_i64((uint64_t)ts[i] + zz_dec(z));
            i++;
            continue;
        }
        if (tag > CHUNK_ST_EXPLICIT || run >= n - i)
            return NULL;
        for (run++; run; run--, i++) {
            if (tag == CHUNK_ST_OWN_T)
                prev = ts[i];
            else if (tag == CHUNK_ST_PREV_T)
                prev = ts[i ? i - 1 : 0];
            else if (tag == CHUNK_ST_ZERO)
                prev = 0;
            sts[i] = prev;
        }
    }
    return q == send ? send : NULL;
}

/* ---- Decimal conversion ---- */

/* The smallest k at which v is an exact decimal m / 10^k, or -1. */
static int dec_one(double v, int64_t *m)
{
    for (int k = 0; k <= CHUNK_DEC_MAX_K; k++) {
        int r = chunk_dec_try(v, k, m);
        if (r == CHUNK_DEC_EXACT)
            return k;
        if (r == CHUNK_DEC_OVERFLOW)
            return -1;
    }
    return -1;
}

#define DEC_EXCEPTION 0xff /* bc->k[i]: value i is patched, not a decimal */
#define DEC_FLAG_EXC  0x80 /* in the exponent byte: an exception list follows */

/* The smallest k at which v is a decimal, searching from the guess *g (a
 * series' values tend to share it); DEC_EXCEPTION if there is none. */
static uint8_t dec_min_k(double v, unsigned *g, int64_t *m)
{
    unsigned k = *g;
    int64_t m2;
    if (chunk_dec_try(v, k, m) == CHUNK_DEC_EXACT) {
        while (k > 0 && chunk_dec_try(v, k - 1, &m2) == CHUNK_DEC_EXACT)
            *m = m2, k--;
        return (uint8_t)(*g = k);
    }
    for (k = 0; k <= CHUNK_DEC_MAX_K; k++) {
        int r = chunk_dec_try(v, k, m);
        if (r == CHUNK_DEC_EXACT)
            return (uint8_t)(*g = k);
        if (r == CHUNK_DEC_OVERFLOW)
            break;
    }
    return DEC_EXCEPTION;
}

/* The common exponent, by a cost model in centibits: a value whose own
 * exponent is j <= K costs ~12 bits of delta plus 3.32 per digit of K above
 * j; a value left out costs an exception, ~24 bits.  So K covers the
 * values that agree, and a few 17-digit floats do not drag every delta up
 * to 16 digits. */
static int dec_pick_k(const uint8_t *k, size_t n)
{
    size_t hist[CHUNK_DEC_MAX_K + 1] = {0}, covered = 0, dist = 0, best = SIZE_MAX;
    int K = 0;
    for (size_t i = 0; i < n; i++)
        if (k[i] != DEC_EXCEPTION)
            hist[k[i]]++;
    for (int j = 0; j <= CHUNK_DEC_MAX_K; j++) {
        dist += covered; /* every value covered so far gets one digit longer */
        covered += hist[j];
        size_t cost = covered * 1200 + dist * 332 + (n - covered) * 2400;
        if (cost < best)
            best = cost, K = j;
    }
    return K;
}

/* m * 10^up, if that stays within 2^53. */
static bool dec_rescale(int64_t *m, int up)
{
    if (up == 0 || *m == 0)
        return true;
    if (up > 15) /* 10^16 > 2^53 */
        return false;
    return !__builtin_mul_overflow(*m, (int64_t)chunk_pow10[up], m) && *m <= DEC_MAX_M &&
           *m >= -DEC_MAX_M;
}

/* What the decoder computes from a mantissa: (double)m / 10^K. */
static inline uint64_t dec_value_bits(int64_t m, int K)
{
    double v = (double)m;
    return dbl_bits(K ? v / chunk_pow10[K] : v);
}

/* The mantissa standing in for an exception: the integer nearest v * 10^K
 * (so 17.702000000000002 sits between its neighbours and its correction is
 * an ulp or two), or the previous mantissa for NaN, ±Inf and huge values. */
static int64_t dec_stand_in(double v, int K, int64_t prev)
{
    double x = v * chunk_pow10[K];
    if (!(fabs(x) < 0x1p53))
        return prev;
    int64_t t = (int64_t)x;
    double f = x - (double)t;
    return t + (f >= 0.5) - (f <= -0.5);
}

/* The exception of value i: its bits minus those its mantissa decodes to. */
static inline uint64_t dec_correction(const struct block_codec *bc, const double *vs, size_t i,
                                      int K)
{
    return zz_enc(dbl_bits(vs[i]) - dec_value_bits(bc->m[i], K));
}

/* Converts the values to M_i / 10^K with one common K, into bc->m; values
 * that are not such decimals (or not at K) get a stand-in mantissa and are
 * marked DEC_EXCEPTION in bc->k, to be patched bit for bit after decoding.
 * Returns K (and the bytes of the exception list in *exc_size), or -1 if
 * no value is a decimal. */
static int dec_block(struct block_codec *bc, const double *vs, size_t n, size_t *exc_size)
{
    int64_t *m = bc->m, prev = 0;
    uint8_t *k = bc->k;
    unsigned guess = 0;
    for (size_t i = 0; i < n; i++)
        k[i] = dec_min_k(vs[i], &guess, &m[i]);
    int K = dec_pick_k(k, n);
    size_t nexc = 0, last = 0, size = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] <= K && dec_rescale(&m[i], K - k[i])) {
            k[i] = (uint8_t)K;
            prev = m[i];
            continue;
        }
        k[i] = DEC_EXCEPTION;
        m[i] = prev = dec_stand_in(vs[i], K, prev);
        size += uv_len(i - last) + uv_len(dec_correction(bc, vs, i, K));
        last = i;
        nexc++;
    }
    *exc_size = nexc ? uv_len(nexc) + size : 0;
    return nexc < n ? K : -1;
}

/* ---- Value candidates ---- */

struct val_plan {
    size_t size[BLOCK_V_COUNT]; /* raw bytes of each candidate; 0: not applicable */
    int K;                      /* decimal exponent; -1: no decimal candidates */
    size_t exc_size;            /* bytes of the decimal codecs' exception list */
    int64_t const_m;            /* CONST_DEC mantissa */
};

static bool vals_constant(const double *vs, size_t n)
{
    uint64_t b0 = dbl_bits(vs[0]);
    for (size_t i = 1; i < n; i++)
        if (dbl_bits(vs[i]) != b0)
            return false;
    return true;
}

static void val_plan_decimal(const int64_t *m, size_t n, struct val_plan *vp)
{
    size_t head = 1 + uv_len(zz_enc((uint64_t)m[0]));
    size_t delta = head, delta2 = head;
    int64_t min = m[0], dprev = 0;
    for (size_t i = 1; i < n; i++) {
        int64_t d = m[i] - m[i - 1];
        delta += uv_len(zz_enc((uint64_t)d));
        delta2 += uv_len(zz_enc(i == 1 ? (uint64_t)d : (uint64_t)(d - dprev)));
        dprev = d;
        min = m[i] < min ? m[i] : min;
    }
    size_t fr = 1 + uv_len(zz_enc((uint64_t)min));
    for (size_t i = 0; i < n; i++)
        fr += uv_len((uint64_t)(m[i] - min));
    vp->size[BLOCK_V_DEC_DELTA] = delta + vp->exc_size;
    vp->size[BLOCK_V_DEC_DELTA2] = delta2 + vp->exc_size;
    vp->size[BLOCK_V_DEC_FOR] = fr + vp->exc_size;
}

static size_t val_size_raw_delta(const double *vs, size_t n)
{
    size_t size = 8;
    for (size_t i = 1; i < n; i++)
        size += uv_len(zz_enc(dbl_bits(vs[i]) - dbl_bits(vs[i - 1])));
    return size;
}

/* Raw sizes of every applicable value codec. */
static void val_plan_make(struct block_codec *bc, const double *vs, size_t n, struct val_plan *vp)
{
    memset(vp, 0, sizeof *vp);
    vp->K = -1;
    if (vals_constant(vs, n)) {
        vp->size[BLOCK_V_CONST_RAW] = 8;
        vp->K = dec_one(vs[0], &vp->const_m);
        if (vp->K >= 0)
            vp->size[BLOCK_V_CONST_DEC] = 1 + uv_len(zz_enc((uint64_t)vp->const_m));
        return;
    }
    vp->K = dec_block(bc, vs, n, &vp->exc_size);
    if (vp->K >= 0)
        val_plan_decimal(bc->m, n, vp);
    vp->size[BLOCK_V_XOR] = chunk_xor_size(vs, n);
    vp->size[BLOCK_V_RAW_DELTA] = val_size_raw_delta(vs, n);
    vp->size[BLOCK_V_RAW] = 8 * n;
}

/* The exception list: count, then (index gap, correction) per exception. */
static uint8_t *val_write_exceptions(const struct block_codec *bc, const double *vs, size_t n,
                                     int K, uint8_t *q)
{
    size_t nexc = 0, last = 0;
    for (size_t i = 0; i < n; i++)
        nexc += bc->k[i] == DEC_EXCEPTION;
    q = uv_put(q, nexc);
    for (size_t i = 0; i < n; i++) {
        if (bc->k[i] != DEC_EXCEPTION)
            continue;
        q = uv_put(q, i - last);
        q = uv_put(q, dec_correction(bc, vs, i, K));
        last = i;
    }
    return q;
}

static uint8_t *val_write_decimal(const struct block_codec *bc, enum block_vmode mode,
                                  const struct val_plan *vp, const double *vs, size_t n, uint8_t *q)
{
    const int64_t *m = bc->m;
    *q++ = (uint8_t)(vp->K | (vp->exc_size ? DEC_FLAG_EXC : 0));
    if (mode == BLOCK_V_DEC_FOR) {
        int64_t min = m[0];
        for (size_t i = 1; i < n; i++)
            min = m[i] < min ? m[i] : min;
        q = uv_put(q, zz_enc((uint64_t)min));
        for (size_t i = 0; i < n; i++)
            q = uv_put(q, (uint64_t)(m[i] - min));
    } else {
        q = uv_put(q, zz_enc((uint64_t)m[0]));
        int64_t dprev = 0;
        for (size_t i = 1; i < n; i++) {
            int64_t d = m[i] - m[i - 1];
            bool dd = mode == BLOCK_V_DEC_DELTA2 && i >= 2;
            q = uv_put(q, zz_enc((uint64_t)(dd ? d - dprev : d)));
            dprev = d;
        }
    }
    return vp->exc_size ? val_write_exceptions(bc, vs, n, vp->K, q) : q;
}

/* Writes the value section in `mode` at q; returns its end. */
static uint8_t *val_write(struct block_codec *bc, enum block_vmode mode, const struct val_plan *vp,
                          const double *vs, size_t n, uint8_t *q)
{
    switch (mode) {
    case BLOCK_V_CONST_RAW:
        return le64_put(q, dbl_bits(vs[0]));
    case BLOCK_V_CONST_DEC:
        *q++ = (uint8_t)vp->K;
        return uv_put(q, zz_enc((uint64_t)vp->const_m));
    case BLOCK_V_DEC_DELTA:
    case BLOCK_V_DEC_DELTA2:
    case BLOCK_V_DEC_FOR:
        return val_write_decimal(bc, mode, vp, vs, n, q);
    case BLOCK_V_XOR:
        memset(q, 0, chunk_xor_bound(n));
        return q + chunk_xor_encode(vs, n, q);
    case BLOCK_V_RAW_DELTA:
        q = le64_put(q, dbl_bits(vs[0]));
        for (size_t i = 1; i < n; i++)
            q = uv_put(q, zz_enc(dbl_bits(vs[i]) - dbl_bits(vs[i - 1])));
        return q;
    case BLOCK_V_RAW:
    default:
        for (size_t i = 0; i < n; i++)
            q = le64_put(q, dbl_bits(vs[i]));
        return q;
    }
}

/* ---- Encoding ---- */

/* The candidates to try, smallest raw size first; returns how many.
 *
 * Why BLOCK_PICK_TOP2 by default (bench/chunk_bench.c, 480-sample blocks,
 * zstd 3): on 507 real node_exporter series the raw-size winner gives
 * 0.445 B/sample, the best two through zstd 0.434 and all candidates 0.433;
 * on synthetic data 0.602 / 0.593 / 0.592.  Raw size misjudges bit-packed
 * XOR against varints that zstd squeezes further, and the second candidate
 * fixes most of that for one more compression (~3 us a block); the other
 * four are not worth their ~3x encode time.  Blocks are encoded once, off
 * the ingest path, so the extra compression is cheap where it is spent. */
static int block_pick_order(const struct val_plan *vp, enum block_pick pick, int zstd_level,
                            enum block_vmode *order)
{
    int n = 0;
    for (int m = 0; m < BLOCK_V_COUNT; m++) {
        if (!vp->size[m])
            continue;
        int j = n++;
        for (; j > 0 && vp->size[order[j - 1]] > vp->size[m]; j--)
            order[j] = order[j - 1];
        order[j] = (enum block_vmode)m;
    }
    int want = pick == BLOCK_PICK_ZSTD ? n : pick == BLOCK_PICK_TOP2 ? 2 : 1;
    if (zstd_level == BLOCK_ZSTD_OFF)
        want = 1;
    return n < want ? n : want;
}

/* Compresses body[0..len) into bc->zbuf; returns the frame size, or 0 if
 * zstd does not make it smaller. */
static size_t block_zstd(struct block_codec *bc, size_t len, int level)
{
    if (level == BLOCK_ZSTD_OFF || len < ZSTD_MIN_BODY)
        return 0;
    if (bc->level != level) {
        ZSTD_CCtx_setParameter(bc->cctx, ZSTD_c_compressionLevel, level);
        bc->level = level;
    }
    size_t zsize = ZSTD_compress2(bc->cctx, bc->zbuf, bc->zbuf_cap, bc->body, len);
    return !ZSTD_isError(zsize) && zsize < len ? zsize : 0;
}

size_t block_zstd_compress(struct block_codec *bc, const void *src, size_t n, int level,
                           struct sbuf *out)
{
    if (n < ZSTD_MIN_BODY)
        return 0;
    if (bc->level != level) {
        ZSTD_CCtx_setParameter(bc->cctx, ZSTD_c_compressionLevel, level);
        bc->level = level;
    }
    size_t bound = ZSTD_compressBound(n);
    sbuf_reserve(out, bound);
    size_t z = ZSTD_compress2(bc->cctx, out->data + out->len, bound, src, n);
    if (ZSTD_isError(z) || z >= n)
        return 0;
    out->len += z;
    return z;
}

int block_zstd_decompress(struct block_codec *bc, const void *src, size_t len, void *dst, size_t n)
{
    size_t got = ZSTD_decompressDCtx(bc->dctx, dst, n, src, len);
    return ZSTD_isError(got) || got != n ? -1 : 0;
}

static void block_put(struct sbuf *out, size_t base, uint8_t hdr, size_t n,
                      const struct ts_plan *tp, const void *body, size_t len)
{
    uint8_t head[1 + 10 + 10], *q = head;
    *q++ = hdr;
    q = uv_put(q, n);
    if (tp->mode == BLOCK_T_CONST)
        q = uv_put(q, tp->interval);
    out->len = base;
    sbuf_append(out, head, (size_t)(q - head));
    sbuf_append(out, body, len);
}

int block_encode(struct block_codec *bc, const int64_t *ts, const double *vs, const int64_t *sts,
                 size_t n, int zstd_level, struct sbuf *out)
{
    struct ts_plan tp;
    if (n == 0 || n > BLOCK_MAX_COUNT || ts_plan_make(ts, n, &tp) < 0)
        return -1;
    bool st = st_any(sts, n);
    grow((void **)&bc->body, &bc->body_cap, body_bound(n, st), 1);
    grow((void **)&bc->zbuf, &bc->zbuf_cap, ZSTD_compressBound(bc->body_cap), 1);
    size_t dec_cap = bc->dec_cap;
    grow((void **)&bc->m, &bc->dec_cap, n, sizeof *bc->m);
    if (bc->dec_cap != dec_cap)
        bc->k = xrealloc(bc->k, bc->dec_cap);

    struct val_plan vp;
    val_plan_make(bc, vs, n, &vp);
    enum block_vmode order[BLOCK_V_COUNT];
    int ncand = block_pick_order(&vp, bc->pick, zstd_level, order);

    uint8_t *vals = ts_write(ts, n, &tp, bc->body);
    if (st)
        vals = st_write(ts, sts, n, vals);
    size_t base = out->len, best = SIZE_MAX;
    for (int c = 0; c < ncand; c++) {
        size_t len = (size_t)(val_write(bc, order[c], &vp, vs, n, vals) - bc->body);
        size_t zlen = block_zstd(bc, len, zstd_level);
        if ((zlen ? zlen : len) >= best)
            continue;
        best = zlen ? zlen : len;
        uint8_t hdr = (uint8_t)(order[c] | tp.mode << HDR_TMODE_SHIFT | (zlen ? HDR_ZSTD : 0) |
                                (st ? HDR_ST : 0));
        block_put(out, base, hdr, n, &tp, zlen ? bc->zbuf : bc->body, best);
    }
    return 0;
}

/* ---- Decoding ---- */

static void dec_scale(double *vs, size_t n, unsigned K)
{
    if (K == 0)
        return;
    double p = chunk_pow10[K];
    for (size_t i = 0; i < n; i++)
        vs[i] /= p;
}

/* Patches the exceptions into vs: each adds its correction to the bits. */
static const uint8_t *val_read_exceptions(const uint8_t *q, const uint8_t *end, double *vs,
                                          size_t n)
{
    uint64_t nexc, gap, corr, i = 0;
    if (!(q = uv_get(q, end, &nexc)) || nexc > n)
        return NULL;
    for (uint64_t e = 0; e < nexc; e++) {
        if (!(q = uv_get(q, end, &gap)) || !(q = uv_get(q, end, &corr)) || gap >= n - i)
            return NULL;
        i += gap;
        vs[i] = bits_dbl(dbl_bits(vs[i]) + zz_dec(corr));
    }
    return q;
}

/* The decimal codecs: exponent byte (bit 7: exceptions follow), then
 * varints.  Mantissas go through vs as doubles and are divided by 10^K in
 * one pass at the end. */
static const uint8_t *val_read_decimal(enum block_vmode mode, const uint8_t *q, const uint8_t *end,
                                       double *vs, size_t n)
{
    uint64_t x, acc, d = 0;
    if (q >= end || (*q & ~(DEC_FLAG_EXC | 0x1f)) || (*q & 0x1f) > CHUNK_DEC_MAX_K)
        return NULL;
    unsigned K = *q & 0x1f;
    bool exc = *q++ & DEC_FLAG_EXC;
    if (!(q = uv_get(q, end, &acc)))
        return NULL;
    acc = zz_dec(acc);
    if (mode == BLOCK_V_DEC_FOR) {
        for (size_t i = 0; i < n; i++) {
            if (!(q = uv_get(q, end, &x)))
                return NULL;
            vs[i] = (double)u64_to_i64(acc + x);
        }
    } else {
        vs[0] = (double)u64_to_i64(acc);
        for (size_t i = 1; i < n; i++) {
            if (!(q = uv_get(q, end, &x)))
                return NULL;
            d = mode == BLOCK_V_DEC_DELTA2 && i >= 2 ? d + zz_dec(x) : zz_dec(x);
            acc += d;
            vs[i] = (double)u64_to_i64(acc);
        }
    }
    dec_scale(vs, n, K);
    return exc ? val_read_exceptions(q, end, vs, n) : q;
}

static const uint8_t *val_read(enum block_vmode mode, const uint8_t *q, const uint8_t *end,
                               double *vs, size_t n)
{
    uint64_t x, bits;
    switch (mode) {
    case BLOCK_V_CONST_RAW:
    case BLOCK_V_CONST_DEC:
        if (mode == BLOCK_V_CONST_RAW) {
            if (end - q < 8)
                return NULL;
            bits = le64_get(q);
            q += 8;
        } else {
            if (q >= end || *q > CHUNK_DEC_MAX_K)
                return NULL;
            uint64_t K = *q++;
            if (!(q = uv_get(q, end, &x)))
                return NULL;
            bits = dbl_bits((double)u64_to_i64(zz_dec(x)) / chunk_pow10[K]);
        }
        for (size_t i = 0; i < n; i++)
            vs[i] = bits_dbl(bits);
        return q;
    case BLOCK_V_DEC_DELTA:
    case BLOCK_V_DEC_DELTA2:
    case BLOCK_V_DEC_FOR:
        return val_read_decimal(mode, q, end, vs, n);
    case BLOCK_V_XOR:
        return chunk_xor_decode(q, (size_t)(end - q), n, vs) ? end : NULL;
    case BLOCK_V_RAW_DELTA:
        if (end - q < 8)
            return NULL;
        bits = le64_get(q);
        q += 8;
        vs[0] = bits_dbl(bits);
        for (size_t i = 1; i < n; i++) {
            if (!(q = uv_get(q, end, &x)))
                return NULL;
            bits += zz_dec(x);
            vs[i] = bits_dbl(bits);
        }
        return q;
    case BLOCK_V_RAW:
    default:
        if ((size_t)(end - q) / 8 < n)
            return NULL;
        for (size_t i = 0; i < n; i++, q += 8)
            vs[i] = bits_dbl(le64_get(q));
        return q;
    }
}

int block_decode(struct block_codec *bc, const uint8_t *p, size_t len, int64_t t0, int64_t *ts,
                 double *vs, int64_t *sts, size_t cap)
{
    struct block_hdr h;
    if (!hdr_parse(p, len, &h) || h.count > cap)
        return -1;
    const uint8_t *q = h.body, *end = p + len;
    if (h.zstd) {
        grow((void **)&bc->zbuf, &bc->zbuf_cap, body_bound(h.count, h.st), 1);
        size_t blen = ZSTD_decompressDCtx(bc->dctx, bc->zbuf, bc->zbuf_cap, q, (size_t)(end - q));
        if (ZSTD_isError(blen))
            return -1;
        q = bc->zbuf;
        end = q + blen;
    }
    if (!(q = ts_read(&h, q, end, t0, ts)))
        return -1;
    if (h.st && !(q = st_read(q, end, ts, sts, h.count)))
        return -1;
    if (!(q = val_read(h.vmode, q, end, vs, h.count)) || q != end)
        return -1;
    if (sts && !h.st)
        memset(sts, 0, h.count * sizeof *sts);
    return (int)h.count;
}
