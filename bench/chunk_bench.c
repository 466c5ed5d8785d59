/* chunk_bench.c — bytes and nanoseconds per sample of storage/chunk.h.
 *
 * Not part of the CMake build.  From the repository root:
 *
 *   gcc -std=c11 -O2 -D_GNU_SOURCE -I. bench/chunk_bench.c storage/chunk.c \
 *       storage/chunk_block.c util/sbuf.c -lzstd -lm -o /tmp/chunk_bench
 *   /tmp/chunk_bench [--series N] [--samples N] [--jitter-ms J]
 *   /tmp/chunk_bench --node http://127.0.0.1:19100/metrics [--samples N] [--every-ms M]
 *                    [--save FILE]        (keep the pages' values to rerun with --load FILE)
 *
 * The synthetic data set imitates what storage-compression.md measured on a
 * real node_exporter + Prometheus: ~70 % constant series, integer and
 * centi-second counters, 17-digit float sums, noisy gauges (scrape
 * durations with 9 decimals, memory sizes, wall-clock time), slowly moving
 * one-decimal gauges; a 15 s grid, optionally with +-J ms of jitter.
 * --node scrapes a running node_exporter (prometheus-node-exporter
 * --web.listen-address=127.0.0.1:19100) N times, M ms apart, and stamps the
 * pages on a 15 s grid: real value shapes, though counters move less per
 * sample than at 15 s.  Series missing from any page are dropped.
 *
 * It prints, for the head chunk: bytes per sample in the buffers, memory
 * per series (struct + allocated buffer, at the end of a chunk and averaged
 * over its life), append and iterate ns per sample (appends in scrape order:
 * one sample to every series, then the next); for the block codec at each
 * zstd level and pick policy: bytes per sample including the header,
 * encode and decode ns per sample, and which value codecs won.  Every chunk
 * and block is also decoded once more, untimed, and compared bit for bit
 * with its input; a mismatch is reported on stderr.  The machine's other
 * load shows in the ns figures: run it twice. */
#include <math.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "storage/chunk.h"
#include "util/sbuf.h"

#define PROM_NAN UINT64_C(0x7ff8000000000001)

struct dataset {
    const char *name;
    size_t nseries, n; /* n samples per series */
    int64_t *ts;       /* nseries x n */
    double *vs;        /* nseries x n */
};

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

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static void dataset_alloc(struct dataset *ds, size_t nseries, size_t n)
{
    ds->nseries = nseries;
    ds->n = n;
    ds->ts = xmalloc(nseries * n * sizeof *ds->ts);
    ds->vs = xmalloc(nseries * n * sizeof *ds->vs);
}

static void grid_times(struct rng *r, int64_t *ts, size_t n, int jitter_ms)
{
    int64_t t0 = INT64_C(1700000000000);
    for (size_t i = 0; i < n; i++) {
        int64_t j = jitter_ms ? (int64_t)rng_below(r, 2 * (uint64_t)jitter_ms + 1) - jitter_ms : 0;
        ts[i] = t0 + (int64_t)i * 15000 + j;
    }
}

/* One synthetic series of a kind drawn with node_exporter-like odds. */
static void synth_series(struct rng *r, double *vs, size_t n)
{
    static const double consts[] = {0, 1, 2, 4, 1024, 4096, 1.6994e9, 4.2e9, 0.5, 3.0e10};
    uint64_t kind = rng_below(r, 100);
    double acc = (double)rng_below(r, 1u << 30);
    double scale = floor(pow(10, rng_unit(r) * 6)); /* counter rates: 1 to 1e6 per scrape */
    for (size_t i = 0; i < n; i++) {
        if (kind < 70) { /* constant */
            vs[i] = consts[kind % 10];
        } else if (kind < 78) { /* byte/packet counter */
            acc += (double)rng_below(r, (uint64_t)scale * 2 + 1);
            vs[i] = acc;
        } else if (kind < 83) { /* cpu seconds: 0.01 s resolution */
            acc += (double)rng_below(r, 1500);
            vs[i] = acc / 100;
        } else if (kind < 86) { /* histogram _sum of float durations */
            acc += rng_unit(r) * 0.05;
            vs[i] = acc / (double)(1u << 30);
        } else if (kind < 90) { /* scrape duration seconds: 9 decimals, noise */
            vs[i] = (double)(50000 + rng_below(r, 2000000)) / 1e9;
        } else if (kind < 93) { /* memory gauge: pages, random walk */
            acc += (double)((int64_t)rng_below(r, 2001) - 1000) * 4096;
            vs[i] = fabs(acc) * 4096;
        } else if (kind < 95) { /* go_memstats-like: random integers */
            vs[i] = (double)(4000000 + rng_below(r, 3000000));
        } else if (kind < 98) { /* temperature: one decimal, moves rarely */
            acc = i == 0 ? 45.0
                         : acc + (rng_below(r, 20) == 0 ? ((double)rng_below(r, 11) - 5) / 10 : 0);
            vs[i] = round(acc * 10) / 10;
        } else { /* node_time_seconds: wall clock with ns fraction */
            vs[i] = 1.7e9 + (double)i * 15 + rng_unit(r) * 0.01;
        }
    }
}

static void synth_dataset(struct dataset *ds, size_t nseries, size_t n, int jitter_ms)
{
    struct rng r = {42};
    dataset_alloc(ds, nseries, n);
    ds->name = jitter_ms ? "synthetic, 15 s grid with jitter" : "synthetic, exact 15 s grid";
    for (size_t s = 0; s < nseries; s++) {
        grid_times(&r, ds->ts + s * n, n, jitter_ms);
        synth_series(&r, ds->vs + s * n, n);
    }
}

/* ---- Real pages from a node_exporter ---- */

/* GET url (http://host:port/path) into out; -1 on failure. */
static int http_get(const char *url, struct sbuf *out)
{
    char host[256], port[16] = "80";
    const char *p = strncmp(url, "http://", 7) == 0 ? url + 7 : url;
    const char *slash = strchr(p, '/'), *path = slash ? slash : "/";
    size_t hl = (size_t)((slash ? slash : p + strlen(p)) - p);
    if (hl >= sizeof host)
        return -1;
    memcpy(host, p, hl);
    host[hl] = '\0';
    char *colon = strchr(host, ':');
    if (colon) {
        snprintf(port, sizeof port, "%s", colon + 1);
        *colon = '\0';
    }
    struct addrinfo hints = {0}, *ai;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -1;
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
        freeaddrinfo(ai);
        if (fd >= 0)
            close(fd);
        return -1;
    }
    freeaddrinfo(ai);
    char req[512];
    int rl = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, host);
    if (write(fd, req, (size_t)rl) != rl) {
        close(fd);
        return -1;
    }
    sbuf_reset(out);
    char buf[65536];
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0)
        sbuf_append(out, buf, (size_t)got);
    close(fd);
    char *body = out->data ? strstr(out->data, "\r\n\r\n") : NULL;
    if (!body || strncmp(out->data, "HTTP/1.", 7) != 0 || strncmp(out->data + 9, "200", 3))
        return -1;
    body += 4;
    size_t bl = out->len - (size_t)(body - out->data);
    memmove(out->data, body, bl);
    out->len = bl;
    out->data[bl] = '\0';
    return 0;
}

struct page_sample {
    char *key;
    double v;
};

/* Parses the text exposition format: name{labels} value [timestamp]. */
static size_t page_parse(char *text, struct page_sample **out)
{
    size_t n = 0, cap = 0;
    *out = NULL;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (*line == '#' || *line == '\0')
            continue;
        char *e = line;
        bool quoted = false;
        for (; *e && (quoted || *e != ' '); e++) {
            if (*e == '\\' && e[1])
                e++;
            else if (*e == '"')
                quoted = !quoted;
        }
        if (!*e)
            continue;
        *e++ = '\0';
        double v;
        if (strncmp(e, "NaN", 3) == 0) {
            uint64_t b = PROM_NAN;
            memcpy(&v, &b, sizeof v);
        } else {
            v = strtod(e, NULL);
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 1024;
            *out = xrealloc(*out, cap * sizeof **out);
        }
        (*out)[n].key = line;
        (*out)[n].v = v;
        n++;
    }
    return n;
}

static int node_dataset(struct dataset *ds, const char *url, size_t scrapes, int every_ms)
{
    struct sbuf page = SBUF_INIT;
    struct page_sample *first = NULL, *cur = NULL;
    char *first_text = NULL;
    size_t nfirst = 0;
    bool *alive = NULL;
    for (size_t k = 0; k < scrapes; k++) {
        if (http_get(url, &page) < 0) {
            fprintf(stderr, "chunk_bench: GET %s failed\n", url);
            return -1;
        }
        if (k == 0) {
            first_text = sbuf_detach(&page);
            nfirst = page_parse(first_text, &first);
            dataset_alloc(ds, nfirst, scrapes);
            alive = xcalloc(nfirst, 1);
            memset(alive, 1, nfirst);
            for (size_t s = 0; s < nfirst; s++)
                ds->vs[s * scrapes] = first[s].v;
        } else {
            size_t ncur = page_parse(page.data, &cur), j = 0;
            for (size_t s = 0; s < nfirst; s++) {
                /* pages keep their order; resynchronise on a missing line */
                size_t at = j;
                while (at < ncur && strcmp(cur[at].key, first[s].key) != 0)
                    at++;
                if (at == ncur) {
                    alive[s] = 0;
                    continue;
                }
                ds->vs[s * scrapes + k] = cur[at].v;
                j = at + 1;
            }
            free(cur);
        }
        if (every_ms)
            usleep((useconds_t)every_ms * 1000);
    }
    size_t kept = 0;
    for (size_t s = 0; s < nfirst; s++) {
        if (!alive[s])
            continue;
        memmove(ds->vs + kept * scrapes, ds->vs + s * scrapes, scrapes * sizeof *ds->vs);
        kept++;
    }
    ds->nseries = kept;
    struct rng r = {1};
    for (size_t s = 0; s < kept; s++)
        grid_times(&r, ds->ts + s * scrapes, scrapes, 0);
    ds->name = "node_exporter pages on a 15 s grid";
    free(alive);
    free(first);
    free(first_text);
    sbuf_free(&page);
    return 0;
}

/* A data set as a flat file: nseries, n, then ts and vs (host byte order). */
static int dataset_save(const struct dataset *ds, const char *path)
{
    FILE *f = fopen(path, "wb");
    uint64_t hdr[2] = {ds->nseries, ds->n};
    size_t cells = ds->nseries * ds->n;
    int ok = f && fwrite(hdr, sizeof hdr, 1, f) == 1 &&
             fwrite(ds->ts, sizeof *ds->ts, cells, f) == cells &&
             fwrite(ds->vs, sizeof *ds->vs, cells, f) == cells;
    if (f)
        ok &= fclose(f) == 0;
    return ok ? 0 : -1;
}

static int dataset_load(struct dataset *ds, const char *path)
{
    FILE *f = fopen(path, "rb");
    uint64_t hdr[2];
    if (!f || fread(hdr, sizeof hdr, 1, f) != 1) {
        if (f)
            fclose(f);
        return -1;
    }
    dataset_alloc(ds, (size_t)hdr[0], (size_t)hdr[1]);
    size_t cells = ds->nseries * ds->n;
    int ok = fread(ds->ts, sizeof *ds->ts, cells, f) == cells &&
             fread(ds->vs, sizeof *ds->vs, cells, f) == cells;
    fclose(f);
    ds->name = path;
    return ok ? 0 : -1;
}

/* ---- Measurements ---- */

static void bench_head(const struct dataset *ds, uint16_t chunk)
{
    size_t ns = ds->nseries, n = ds->n - ds->n % chunk, nchunks = n / chunk;
    if (nchunks == 0)
        return;
    struct head_chunk *hc = xcalloc(ns, sizeof *hc);
    size_t bytes = 0, mem_full = 0, fill = 0, fill_count = 0;
    double t_append = 0, t_iter = 0;
    int64_t *ts = xmalloc(chunk * sizeof *ts);
    double *vs = xmalloc(chunk * sizeof *vs);
    for (size_t c = 0; c < nchunks; c++) {
        for (size_t s = 0; s < ns; s++)
            head_chunk_init(&hc[s], chunk);
        double t = now_ns();
        for (size_t i = c * chunk; i < (c + 1) * chunk; i++)
            for (size_t s = 0; s < ns; s++)
                head_chunk_append(&hc[s], ds->ts[s * ds->n + i], ds->vs[s * ds->n + i]);
        t_append += now_ns() - t;
        /* life-average memory: replay one series' growth */
        for (size_t s = 0; s < ns; s++) {
            bytes += head_chunk_len(&hc[s]);
            mem_full += sizeof hc[s] + hc[s].cap;
            struct head_chunk tmp;
            head_chunk_init(&tmp, chunk);
            for (size_t i = c * chunk; i < (c + 1) * chunk; i++) {
                head_chunk_append(&tmp, ds->ts[s * ds->n + i], ds->vs[s * ds->n + i]);
                fill += sizeof tmp + tmp.cap;
                fill_count++;
            }
            head_chunk_free(&tmp);
        }
        t = now_ns();
        double sink = 0;
        for (size_t s = 0; s < ns; s++) {
            struct head_chunk_iter it;
            head_chunk_iter_init(&it, hc[s].buf, head_chunk_len(&hc[s]), hc[s].count, false);
            size_t k = 0;
            while (head_chunk_iter_next(&it, &ts[k], &vs[k]))
                k++;
            sink += vs[k - 1];
        }
        t_iter += now_ns() - t;
        for (size_t s = 0; s < ns; s++) { /* bit for bit, untimed */
            struct head_chunk_iter it;
            head_chunk_iter_init(&it, hc[s].buf, head_chunk_len(&hc[s]), hc[s].count, false);
            size_t k = 0;
            while (head_chunk_iter_next(&it, &ts[k], &vs[k]))
                k++;
            const size_t at = s * ds->n + c * chunk;
            if (k != chunk || memcmp(ts, ds->ts + at, chunk * sizeof *ts) ||
                memcmp(vs, ds->vs + at, chunk * sizeof *vs))
                fprintf(stderr, "chunk_bench: head chunk of series %zu does not round-trip\n", s);
        }
        if (sink == 12345.678)
            printf(" ");
        for (size_t s = 0; s < ns; s++)
            head_chunk_free(&hc[s]);
    }
    double samples = (double)(ns * n);
    printf("head chunk %3u: %6.3f B/sample in buffers; memory/series %5.1f B at chunk end, "
           "%5.1f B life-average; append %5.1f ns, iterate %5.1f ns per sample\n",
           chunk, (double)bytes / samples, (double)mem_full / (double)(ns * nchunks),
           (double)fill / (double)fill_count, t_append / samples, t_iter / samples);
    free(hc);
    free(ts);
    free(vs);
}

struct block_run {
    size_t bytes, mode_samples[BLOCK_V_COUNT], zstd_blocks, blocks;
    double t_enc, t_dec;
};

static void bench_block_once(const struct dataset *ds, struct block_codec *bc, size_t blen,
                             int level, struct block_run *run)
{
    struct sbuf out = SBUF_INIT;
    size_t *offs = xmalloc((ds->n / blen + 2) * ds->nseries * sizeof *offs), nb = 0;
    memset(run, 0, sizeof *run);
    double t = now_ns();
    for (size_t s = 0; s < ds->nseries; s++)
        for (size_t i = 0; i + blen <= ds->n; i += blen) {
            offs[nb++] = out.len;
            block_encode(bc, ds->ts + s * ds->n + i, ds->vs + s * ds->n + i, NULL, blen, level,
                         &out);
        }
    run->t_enc = now_ns() - t;
    offs[nb] = out.len;
    run->bytes = out.len;
    run->blocks = nb;
    int64_t *ts = xmalloc(blen * sizeof *ts);
    double *vs = xmalloc(blen * sizeof *vs);
    double best = 1e300;
    for (int pass = 0; pass < 3; pass++) {
        t = now_ns();
        for (size_t b = 0; b < nb; b++) {
            const uint8_t *p = (const uint8_t *)out.data + offs[b];
            if (block_decode(bc, p, offs[b + 1] - offs[b], 0, ts, vs, NULL, blen) != (int)blen)
                fprintf(stderr, "chunk_bench: block %zu does not decode\n", b);
        }
        t = now_ns() - t;
        best = t < best ? t : best;
    }
    run->t_dec = best;
    for (size_t b = 0, s = 0, i = 0; b < nb; b++) { /* bit for bit, untimed */
        const uint8_t *p = (const uint8_t *)out.data + offs[b];
        const int64_t *wt = ds->ts + s * ds->n + i;
        const double *wv = ds->vs + s * ds->n + i;
        block_decode(bc, p, offs[b + 1] - offs[b], wt[0], ts, vs, NULL, blen);
        if (memcmp(ts, wt, blen * sizeof *ts) || memcmp(vs, wv, blen * sizeof *vs))
            fprintf(stderr, "chunk_bench: block %zu does not round-trip\n", b);
        if ((i += blen) + blen > ds->n)
            i = 0, s++;
    }
    for (size_t b = 0; b < nb; b++) {
        struct block_info bi;
        block_inspect((const uint8_t *)out.data + offs[b], offs[b + 1] - offs[b], &bi);
        run->mode_samples[bi.vmode] += bi.count;
        run->zstd_blocks += bi.zstd;
    }
    free(ts);
    free(vs);
    free(offs);
    sbuf_free(&out);
}

static void bench_block(const struct dataset *ds, size_t blen, int level, enum block_pick pick,
                        bool modes)
{
    static const char *const picks[] = {"raw ", "top2", "all "};
    struct block_codec *bc = block_codec_new();
    block_codec_set_pick(bc, pick);
    struct block_run run;
    bench_block_once(ds, bc, blen, level, &run);
    double samples = (double)(run.blocks * blen);
    printf("block %4zu zstd %2d pick %s: %6.3f B/sample; encode %6.1f ns, decode %5.2f ns per "
           "sample; %zu/%zu blocks zstd\n",
           blen, level, picks[pick], (double)run.bytes / samples, run.t_enc / samples,
           run.t_dec / samples, run.zstd_blocks, run.blocks);
    if (modes) {
        printf("    value codecs (share of samples):");
        for (int m = 0; m < BLOCK_V_COUNT; m++)
            if (run.mode_samples[m])
                printf(" %s %.1f%%", block_vmode_name((enum block_vmode)m),
                       100.0 * (double)run.mode_samples[m] / samples);
        printf("\n");
    }
    block_codec_free(bc);
}

static void bench_dataset(const struct dataset *ds)
{
    printf("\n== %s: %zu series x %zu samples = %zu samples\n", ds->name, ds->nseries, ds->n,
           ds->nseries * ds->n);
    bench_head(ds, 120);
    bench_head(ds, 240);
    static const size_t blens[] = {120, 480};
    for (size_t b = 0; b < 2; b++) {
        if (blens[b] > ds->n)
            continue;
        bench_block(ds, blens[b], BLOCK_ZSTD_OFF, BLOCK_PICK_RAW, false);
        for (int pick = BLOCK_PICK_RAW; pick <= BLOCK_PICK_ZSTD; pick++)
            bench_block(ds, blens[b], 3, (enum block_pick)pick, pick == BLOCK_PICK_TOP2);
        bench_block(ds, blens[b], 1, BLOCK_PICK_TOP2, false);
        bench_block(ds, blens[b], 19, BLOCK_PICK_TOP2, false);
    }
}

int main(int argc, char **argv)
{
    size_t nseries = 1000, n = 1440, every_ms = 250;
    int jitter = -1;
    const char *node = NULL, *save = NULL, *load = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--series"))
            nseries = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--samples"))
            n = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--jitter-ms"))
            jitter = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--node"))
            node = argv[i + 1];
        else if (!strcmp(argv[i], "--every-ms"))
            every_ms = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--save"))
            save = argv[i + 1];
        else if (!strcmp(argv[i], "--load"))
            load = argv[i + 1];
        else
            break;
    }
    if (argc % 2 == 0) {
        fprintf(stderr,
                "usage: %s [--series N] [--samples N] [--jitter-ms J] "
                "[--node URL [--every-ms M]] [--save FILE] [--load FILE]\n",
                argv[0]);
        return 2;
    }
    struct dataset ds;
    if (node || load) {
        if (node ? node_dataset(&ds, node, n, (int)every_ms) < 0 : dataset_load(&ds, load) < 0) {
            fprintf(stderr, "chunk_bench: no data from %s\n", node ? node : load);
            return 1;
        }
        if (save && dataset_save(&ds, save) < 0)
            fprintf(stderr, "chunk_bench: cannot write %s\n", save);
        bench_dataset(&ds);
        free(ds.ts);
        free(ds.vs);
        return 0;
    }
    /* no --jitter-ms: both an exact grid and +-5 ms */
    for (int j = jitter < 0 ? 0 : jitter; j <= (jitter < 0 ? 5 : jitter); j += 5) {
        synth_dataset(&ds, nseries, n, j);
        if (save && dataset_save(&ds, save) < 0)
            fprintf(stderr, "chunk_bench: cannot write %s\n", save);
        bench_dataset(&ds);
        free(ds.ts);
        free(ds.vs);
    }
    return 0;
}
