/* chunk.h — the sample encodings of storage/ (storage-internal: other modules
 * include storage/tsdb.h, never this).
 *
 * Two encodings, both pure functions of their inputs (no I/O, no globals):
 *
 *   head chunk  the open in-memory chunk of one series: appended one sample at
 *               a time on the ingest path, readable while it grows.  A
 *               bitstream: delta-of-delta timestamps, values as decimal
 *               deltas or Gorilla XOR, one bit for "same as before"; layout
 *               and measurements in storage/chunk.c.
 *   block       the closed, immutable encoding of one series over one time
 *               window, stored as an LMDB value.  Per block the smallest of
 *               several value codecs (constant, decimal delta / delta2 /
 *               frame-of-reference with bit-exact exceptions, XOR, raw-bit
 *               delta, raw), then zstd if it helps; layout in
 *               storage/chunk_block.c.
 *
 * Start timestamps (ST).  A sample may carry the int64 ms time its counter
 * started (0 = unknown, as in Prometheus).  Both encodings keep ST in an
 * optional column that a chunk or block either has or lacks as a whole, so
 * series that never have one pay nothing: a head chunk's flag lives with
 * whoever keeps its bytes (storage/head.h), a block's in its header.  ST
 * values are coded relative to the previous sample (chunk_st_tag): the same
 * ST again (a cumulative counter), the sample's own time (OTel's unknown
 * start), the previous sample's time (a delta series, OTel's ST_i =
 * T_i-1), zero, or explicit as ST - T.
 *
 * Threads.  A struct head_chunk has one writer.  Readers on other threads
 * must share a lock with the writer (the caller's, e.g. the series lock):
 * under it they copy head_chunk_len(c) bytes of c->buf and c->count, then
 * drop the lock and iterate the copy.  The writer only ever appends bits, so
 * such a copy stays a valid encoding of the first `count` samples forever;
 * what the lock protects is the buffer pointer, which append may realloc.
 * Iterating c->buf in place is equally fine while the lock is held.
 * A struct block_codec (zstd contexts and scratch) belongs to one thread at a
 * time: keep one per worker thread and pass it explicitly. */
#ifndef VIGIL_STORAGE_CHUNK_H
#define VIGIL_STORAGE_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sbuf;

/* ---- Head chunk ------------------------------------------------------- */

#define HEAD_CHUNK_FULL 1 /* head_chunk_append: max_count reached; cut a new chunk */

/* 48 bytes on LP64.  The sample bytes live in buf, which starts at 24 bytes
 * on the first append and grows by 1.25x, never past what the remaining
 * max_count samples could need (head_chunk_reset keeps it for the next
 * chunk). */
struct head_chunk {
    uint8_t *buf;       /* owned; NULL until the first append; bits past nbits are 0 */
    int64_t tlast;      /* timestamp of the last sample */
    uint64_t dlast;     /* last timestamp delta (mod 2^64) */
    uint64_t vlast;     /* IEEE-754 bits of the last value */
    uint32_t nbits;     /* bits written to buf */
    uint32_t cap;       /* bytes allocated at buf */
    uint16_t count;     /* samples appended */
    uint16_t max_count; /* the chunk refuses samples past this many */
    uint8_t lead;       /* XOR window of the last value: leading zero bits, */
    uint8_t trail;      /* trailing zero bits; lead == 0xff: no window yet */
    uint8_t k;          /* decimal exponent of the value codes (chunk.c) */
    uint8_t backoff;    /* samples to go before searching a new exponent again */
};

/* max_count >= 1 (e.g. 120 or 240).  Allocates nothing. */
void head_chunk_init(struct head_chunk *c, uint16_t max_count);
/* Appends one sample.  Returns 0; HEAD_CHUNK_FULL (sample not taken) when
 * count == max_count; -1 (sample not taken) if t <= the last timestamp —
 * the caller orders samples, this is only a guard.  Never fails otherwise
 * (allocation failure aborts, as everywhere in Vigil). */
int head_chunk_append(struct head_chunk *c, int64_t t, double v);
/* The same for a chunk with an ST column: every sample of the chunk must be
 * appended this way (and no sample of a plain chunk).  *st_last is the
 * caller's memory of the last sample's ST, which the codes are relative
 * to: whatever it holds before the first sample is ignored, and it is
 * updated when the sample is taken.  Keeping it outside the chunk keeps
 * struct head_chunk at 48 bytes for the series that have no ST. */
int head_chunk_append_st(struct head_chunk *c, int64_t t, double v, int64_t st, int64_t *st_last);
/* Frees buf; c may be re-initialised afterwards. */
void head_chunk_free(struct head_chunk *c);
/* Empties c for a new chunk of the same max_count, keeping its buffer:
 * the next chunk of a series needs about as many bytes as the last. */
void head_chunk_reset(struct head_chunk *c);
/* Bytes of buf that hold the c->count samples: what a reader copies. */
size_t head_chunk_len(const struct head_chunk *c);
/* Timestamp of the first sample (count must be >= 1). */
int64_t head_chunk_first_t(const struct head_chunk *c);

struct chunk_bitr {
    const uint8_t *p, *end; /* next byte to load, end of the input */
    uint64_t acc;           /* unread bits, most significant first */
    uint32_t avail;         /* valid bits in acc */
    uint32_t pad;           /* zero bytes fed in past end (overrun if ever consumed) */
};

struct head_chunk_iter {
    struct chunk_bitr r;
    int64_t t;
    uint64_t delta, v;
    int64_t m;  /* decimal mantissa of v, if dec */
    int64_t st; /* the current sample's ST; 0 in a chunk without ST column */
    uint32_t left, done;
    uint8_t lead, trail, k;
    bool dec; /* v was decimal-coded at exponent k */
    bool has_st;
    bool failed;
};

/* Iterates the first `count` samples encoded in buf[0..len), which has an
 * ST column if has_st (the flag its keeper holds).  buf is borrowed for the
 * life of the iterator.  The bytes may come from anywhere: reads are
 * bounds-checked. */
void head_chunk_iter_init(struct head_chunk_iter *it, const uint8_t *buf, size_t len,
                          uint16_t count, bool has_st);
/* Yields the next sample; false at the end or on corrupt bytes.  The
 * sample's ST is it->st afterwards. */
bool head_chunk_iter_next(struct head_chunk_iter *it, int64_t *t, double *v);
/* True if iteration stopped early because the bytes were corrupt/short. */
bool head_chunk_iter_failed(const struct head_chunk_iter *it);

/* ---- Block codec ------------------------------------------------------ */

#define BLOCK_MAX_COUNT    (1u << 24) /* samples per block; keeps counts in an int */
#define BLOCK_ZSTD_OFF     0          /* zstd_level: store the raw body */
#define BLOCK_ZSTD_DEFAULT 3

/* How block_encode picks the value codec of a block. */
enum block_pick {
    BLOCK_PICK_RAW,  /* the smallest raw (pre-zstd) candidate */
    BLOCK_PICK_TOP2, /* the two smallest raw candidates through zstd: the default */
    BLOCK_PICK_ZSTD, /* every candidate through zstd (slowest, smallest) */
};

/* Value codecs (bits 0-3 of a block's header byte). */
enum block_vmode {
    BLOCK_V_CONST_RAW,  /* one value, 8 raw bytes */
    BLOCK_V_CONST_DEC,  /* one value as a decimal */
    BLOCK_V_DEC_DELTA,  /* decimals: first, then deltas (+ exceptions) */
    BLOCK_V_DEC_DELTA2, /* decimals: first, first delta, deltas of deltas (+ exc.) */
    BLOCK_V_DEC_FOR,    /* decimals: minimum, then offsets from it (+ exc.) */
    BLOCK_V_XOR,        /* Gorilla XOR bitstream of the IEEE bits */
    BLOCK_V_RAW_DELTA,  /* deltas of the IEEE bits as integers */
    BLOCK_V_RAW,        /* 8 raw bytes per value */
    BLOCK_V_COUNT
};

/* Timestamp layouts (bits 4-5 of the header byte). */
enum block_tmode {
    BLOCK_T_ONE,   /* a single sample: nothing stored */
    BLOCK_T_CONST, /* constant interval */
    BLOCK_T_DOD,   /* first delta, then zigzag deltas of deltas */
    BLOCK_T_GRID,  /* mean interval, then each sample's offset from that grid */
};

struct block_codec;

struct block_codec *block_codec_new(void);
void block_codec_free(struct block_codec *bc);
void block_codec_set_pick(struct block_codec *bc, enum block_pick pick);

/* Encodes n >= 1 samples (ts strictly increasing) and appends the block to
 * out.  ts[0] is not stored: the caller keeps it (in the LMDB key) and hands
 * it back to block_decode.  sts: the samples' start timestamps, or NULL;
 * the block gets an ST column only if one of them is not 0.  zstd_level:
 * BLOCK_ZSTD_OFF, or a zstd level (1..19 sensible; BLOCK_ZSTD_DEFAULT = 3).
 * Lossless to the bit for every double, NaN payloads included.  Returns 0,
 * or -1 (nothing appended) if n is 0 or above BLOCK_MAX_COUNT, or ts is not
 * strictly increasing. */
int block_encode(struct block_codec *bc, const int64_t *ts, const double *vs, const int64_t *sts,
                 size_t n, int zstd_level, struct sbuf *out);
/* Decodes the block p[0..len) whose first timestamp is t0 into ts[] and vs[]
 * (room for cap samples), and, if sts is not NULL, the start timestamps
 * into sts[] (zeros for a block without ST column; with sts NULL the
 * column is skipped unread).  Returns the sample count, or -1 if the bytes
 * are corrupt or hold more than cap samples.  Safe on any input: every read
 * is bounds-checked, and a block that decodes has strictly increasing ts. */
int block_decode(struct block_codec *bc, const uint8_t *p, size_t len, int64_t t0, int64_t *ts,
                 double *vs, int64_t *sts, size_t cap);
/* The sample count from the block's header without decoding it; 0 if the
 * header is corrupt (the body is not checked). */
size_t block_count(const uint8_t *p, size_t len);
/* Whether the block's header says it has an ST column (false if corrupt). */
bool block_has_st(const uint8_t *p, size_t len);

/* zstd with the codec's contexts, magicless frames without checksum,
 * content size or dictionary id, for callers that compress many blocks
 * together (the archive, storage/archive.c).  block_zstd_compress appends
 * the frame of src[0..n) at the given level to out and returns its size;
 * 0 (out unchanged) if the frame would not be smaller than n.
 * block_zstd_decompress expects exactly n bytes out of the frame
 * src[0..len) into dst; -1 if the frame is corrupt or of another size. */
size_t block_zstd_compress(struct block_codec *bc, const void *src, size_t n, int level,
                           struct sbuf *out);
int block_zstd_decompress(struct block_codec *bc, const void *src, size_t len, void *dst, size_t n);

/* What a block's header says (for tests, benchmarks and debugging). */
struct block_info {
    size_t count;
    enum block_tmode tmode;
    enum block_vmode vmode;
    bool zstd;
    bool st; /* has an ST column */
};
int block_inspect(const uint8_t *p, size_t len, struct block_info *info);
const char *block_vmode_name(enum block_vmode m);

/* ---- Shared by storage/chunk*.c only ---------------------------------- */

/* The IEEE-754 bits of a double and back, and two's-complement reading of
 * a uint64 (memcpy: the defined way to reinterpret). */
static inline uint64_t dbl_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

static inline double bits_dbl(uint64_t u)
{
    double v;
    memcpy(&v, &u, sizeof v);
    return v;
}

static inline int64_t u64_to_i64(uint64_t u)
{
    int64_t i;
    memcpy(&i, &u, sizeof i);
    return i;
}

/* How a sample's ST (at time t) relates to its predecessor's (for the
 * first sample of a chunk or block: prev_st 0, prev_t its own time).  The
 * order is the preference when several apply.  CHUNK_ST_EXPLICIT stores
 * ST - T. */
enum chunk_st_tag {
    CHUNK_ST_SAME,   /* the previous sample's ST: a cumulative counter */
    CHUNK_ST_OWN_T,  /* the sample's own time: OTel's "start unknown" */
    CHUNK_ST_PREV_T, /* the previous sample's time: a delta series */
    CHUNK_ST_ZERO,   /* no ST */
    CHUNK_ST_EXPLICIT,
};

static inline enum chunk_st_tag chunk_st_tag(int64_t st, int64_t prev_st, int64_t prev_t, int64_t t)
{
    if (st == prev_st)
        return CHUNK_ST_SAME;
    if (st == t)
        return CHUNK_ST_OWN_T;
    if (st == prev_t)
        return CHUNK_ST_PREV_T;
    return st == 0 ? CHUNK_ST_ZERO : CHUNK_ST_EXPLICIT;
}

#define CHUNK_DEC_MAX_K 22 /* 10^22 is the largest power of ten a double holds exactly */
extern const double chunk_pow10[CHUNK_DEC_MAX_K + 1];
enum { CHUNK_DEC_EXACT, CHUNK_DEC_INEXACT, CHUNK_DEC_OVERFLOW };
/* Is v == m / 10^k exactly (bit for bit), for an integer |m| < 2^53?
 * CHUNK_DEC_EXACT fills *m; CHUNK_DEC_OVERFLOW means no such m exists at k
 * or any larger k (also for NaN, ±Inf and -0.0); CHUNK_DEC_INEXACT: try k + 1. */
int chunk_dec_try(double v, unsigned k, int64_t *m);

/* Gorilla XOR coding of n >= 1 values as a standalone bitstream (the block
 * codec's BLOCK_V_XOR).  encode writes at most chunk_xor_bound(n) bytes to
 * out, which must be zeroed, and returns the bytes used.  decode requires
 * the stream to fill p[0..len) exactly and returns false otherwise. */
size_t chunk_xor_bound(size_t n);
size_t chunk_xor_size(const double *vs, size_t n);
size_t chunk_xor_encode(const double *vs, size_t n, uint8_t *out);
bool chunk_xor_decode(const uint8_t *p, size_t len, size_t n, double *vs);

#endif
