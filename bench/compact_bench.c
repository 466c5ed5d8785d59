/* compact_bench.c — bytes per sample of the TSDB's blocks before and after
 * compaction (storage/compact.c), on node_exporter-like data.
 *
 * Not part of the CMake build.  From the repository root, after building
 * the storage library (e.g. cmake --build build --target vigil_storage):
 *
 *   gcc -std=c11 -O2 -D_GNU_SOURCE -I. bench/compact_bench.c \
 *       build/libvigil_storage.a build/libvigil_util.a \
 *       -llmdb -lzstd -lxxhash -lroaring -lpcre2-8 -lpthread -lm -o /tmp/compact_bench
 *   /tmp/compact_bench [--series N] [--hours H] [--jitter-ms J] [--live 0|1] [--dir D]
 *
 * The data set is bench/chunk_bench.c's synthetic one (the shapes that
 * storage-compression.md measured on a real node_exporter + Prometheus:
 * ~70 % constant series, integer and centisecond counters, 17-digit float
 * sums, noisy gauges, slow one-decimal gauges; a 15 s grid), appended
 * through the public API one scrape (one batch over all series) at a time,
 * with the flusher's work run every 30 min of data as the flusher would.
 * It then reports, for the windows that are finished (and so compacted),
 * the blocks DBI's entries and key + value bytes per sample, before
 * compaction (one block per 120-sample head chunk) and after (one block
 * per series and 2 h window); for the whole blocks DBI its pages per
 * sample and fill, and the LMDB file's used bytes.  With --live 1 the
 * maintenance run every 30 min of data compacts too (what the flusher
 * does), so "before" is already the steady state.  Last, a what-if: the
 * finished windows' blocks written into a scratch LMDB densely (in key
 * order with MDB_APPEND), the page cost a layout with append-only writes
 * would reach.
 *
 * With the archive (compaction moves finished windows there, window
 * first, by appends): pages of both DBIs per sample, 2000 series, debug
 * build of the library:
 *   12 h, one compaction at the end, grid:   1.56 -> 1.24 (the archive's
 *     own pages 0.87 per archived sample; the blocks DBI keeps its emptied
 *     pages until new blocks fill them)
 *   12 h, one compaction at the end, jitter: 3.08 -> 2.90 (archive 2.13
 *     per archived sample; dense was 2.06)
 *   48 h, --live 1, grid:   0.873 (was 1.44)
 *   48 h, --live 1, jitter: 2.15 (was 3.07)
 * "read all" times one tsdb_select over everything.
 *
 * Before the archive (2000 series, 12 h, exact grid, one compaction at the end):
 * key + value 0.847 -> 0.678 B/sample (keys 0.100 -> 0.025, values
 * 0.747 -> 0.653), but pages 1.56 -> 1.57 B/sample: the B-tree is 54 %
 * full before and 45 % after, since LMDB only merges leaves under a
 * quarter full.  48 h: 1.39 B/sample in pages never compacted, 1.44
 * compacted all along; densely written 0.88. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/tsdb.h"
#include "storage/tsdb_internal.h"

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

/* One series' generator state (chunk_bench.c's kinds, drawn per series). */
struct gen {
    uint64_t kind;
    double acc, scale;
    long i;
};

static void gen_init(struct gen *g, struct rng *r)
{
    g->kind = rng_below(r, 100);
    g->acc = (double)rng_below(r, 1u << 30);
    g->scale = floor(pow(10, rng_unit(r) * 6));
    g->i = 0;
}

static double gen_next(struct gen *g, struct rng *r)
{
    static const double consts[] = {0, 1, 2, 4, 1024, 4096, 1.6994e9, 4.2e9, 0.5, 3.0e10};
    double v;
    long i = g->i++;
    if (g->kind < 70) {
        v = consts[g->kind % 10];
    } else if (g->kind < 78) {
        g->acc += (double)rng_below(r, (uint64_t)g->scale * 2 + 1);
        v = g->acc;
    } else if (g->kind < 83) {
        g->acc += (double)rng_below(r, 1500);
        v = g->acc / 100;
    } else if (g->kind < 86) {
        g->acc += rng_unit(r) * 0.05;
        v = g->acc / (double)(1u << 30);
    } else if (g->kind < 90) {
        v = (double)(50000 + rng_below(r, 2000000)) / 1e9;
    } else if (g->kind < 93) {
        g->acc += (double)((int64_t)rng_below(r, 2001) - 1000) * 4096;
        v = fabs(g->acc) * 4096;
    } else if (g->kind < 95) {
        v = (double)(4000000 + rng_below(r, 3000000));
    } else if (g->kind < 98) {
        g->acc = i == 0
                     ? 45.0
                     : g->acc + (rng_below(r, 20) == 0 ? ((double)rng_below(r, 11) - 5) / 10 : 0);
        v = round(g->acc * 10) / 10;
    } else {
        v = 1.7e9 + (double)i * 15 + rng_unit(r) * 0.01;
    }
    return v;
}

struct measure {
    uint64_t entries, key_bytes, val_bytes, samples;
    uint64_t used_bytes; /* the whole LMDB file in use */
    uint64_t pages;      /* blocks DBI: branch + leaf + overflow */
    uint64_t apages;     /* archive DBI: branch + leaf + overflow */
    uint64_t leaf, overflow, branch, all_entries, all_bytes, all_samples, archive_entries;
    uint32_t psize;
};

/* Blocks starting before `until` (the finished windows). */
static void measure(struct tsdb *db, int64_t until, struct measure *m)
{
    memset(m, 0, sizeof *m);
    MDB_txn *txn;
    MDB_cursor *c;
    if (tsdb_read_begin(db, &txn) != 0 || mdb_cursor_open(txn, db->blocks, &c) != 0)
        exit(1);
    MDB_val key, val;
    while (mdb_cursor_get(c, &key, &val, MDB_NEXT) == 0) {
        uint32_t id;
        int64_t t0;
        tsdb_block_key_decode(key.mv_data, &id, &t0);
        uint64_t dt;
        const uint8_t *p = val.mv_data;
        size_t k = tsdb_uvarint_get(p, p + val.mv_size, &dt);
        m->all_entries++;
        m->all_bytes += key.mv_size + val.mv_size;
        m->all_samples += block_count(p + k, val.mv_size - k);
        if (t0 >= until)
            continue;
        m->entries++;
        m->key_bytes += key.mv_size;
        m->val_bytes += val.mv_size;
        m->samples += block_count(p + k, val.mv_size - k);
    }
    mdb_cursor_close(c);
    /* The archive holds finished windows only. */
    if (mdb_cursor_open(txn, db->archive, &c) != 0)
        exit(1);
    struct block_codec *bc = block_codec_new();
    struct archive_group g = {0};
    while (mdb_cursor_get(c, &key, &val, MDB_NEXT) == 0) {
        int64_t w;
        uint32_t grp;
        uint64_t cnt = 0;
        archive_key_decode(key.mv_data, &w, &grp);
        const uint8_t *kp = key.mv_data;
        /* A group's samples are counted at its first piece. */
        if (kp[12] == 0 && kp[13] == 0) {
            if (archive_group_load(txn, db->archive, bc, w, grp, true, &g) != 0)
                exit(1);
            for (size_t i = 0; i < g.n; i++)
                cnt += block_count((const uint8_t *)g.body.data + g.m[i].off, g.m[i].len);
        }
        m->all_entries++;
        m->all_bytes += key.mv_size + val.mv_size;
        m->all_samples += cnt;
        m->entries++;
        m->key_bytes += key.mv_size;
        m->val_bytes += val.mv_size;
        m->samples += cnt;
        m->archive_entries++;
    }
    archive_group_free(&g);
    block_codec_free(bc);
    mdb_cursor_close(c);
    MDB_stat st, as;
    mdb_stat(txn, db->blocks, &st);
    mdb_stat(txn, db->archive, &as);
    m->pages = st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    m->apages = as.ms_branch_pages + as.ms_leaf_pages + as.ms_overflow_pages;
    m->leaf = st.ms_leaf_pages + as.ms_leaf_pages;
    m->overflow = st.ms_overflow_pages + as.ms_overflow_pages;
    m->branch = st.ms_branch_pages + as.ms_branch_pages;
    m->psize = st.ms_psize;
    m->used_bytes = tsdb_env_used_bytes(db, txn);
    tsdb_read_end(db, txn);
}

static void report(const char *what, const struct measure *m)
{
    double s = (double)m->samples;
    printf("%-22s blocks %8llu  samples %10llu  key+value %.4f B/sample (values %.4f)  "
           "pages (blocks + archive) %.4f B/sample (%.4f + %.4f)  LMDB used %.2f MiB\n",
           what, (unsigned long long)m->entries, (unsigned long long)m->samples,
           (double)(m->key_bytes + m->val_bytes) / s, (double)m->val_bytes / s,
           (double)(m->pages + m->apages) * m->psize / (double)m->all_samples,
           (double)m->pages * m->psize / (double)m->all_samples,
           (double)m->apages * m->psize / (double)m->all_samples,
           (double)m->used_bytes / 1048576.0);
    printf("%-22s both DBIs: %llu entries (%llu archived), %.4f B/sample key+value; pages: %llu "
           "leaf, %llu "
           "overflow, %llu branch; leaf+branch fill %.0f %%\n",
           "", (unsigned long long)m->all_entries, (unsigned long long)m->archive_entries,
           (double)m->all_bytes / (double)m->all_samples, (unsigned long long)m->leaf,
           (unsigned long long)m->overflow, (unsigned long long)m->branch,
           100.0 * (double)m->all_bytes / (double)((m->leaf + m->branch) * m->psize));
}

struct kv {
    uint8_t key[12];
    MDB_val val;
};

static int kv_cmp(const void *a, const void *b)
{
    return memcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key, 12);
}

/* What if: the finished windows' blocks written densely (MDB_APPEND, in
 * key order) into a fresh env, keyed id-major as now or window-major. */
static void what_if_dense(struct tsdb *db, int64_t until, const char *dir, bool window_major)
{
    MDB_txn *txn;
    MDB_cursor *c;
    if (tsdb_read_begin(db, &txn) != 0 || mdb_cursor_open(txn, db->blocks, &c) != 0)
        exit(1);
    size_t n = 0, cap = 1024;
    struct kv *v = malloc(cap * sizeof *v);
    MDB_val key, val;
    uint64_t samples = 0, bytes = 0;
    while (mdb_cursor_get(c, &key, &val, MDB_NEXT) == 0) {
        uint32_t id;
        int64_t t0;
        tsdb_block_key_decode(key.mv_data, &id, &t0);
        if (t0 >= until)
            continue;
        if (n == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        if (window_major)
            tsdb_compact_key(t0, id, v[n].key); /* (t0, id): t0 is the window's start here */
        else
            memcpy(v[n].key, key.mv_data, 12);
        v[n].val = val;
        uint64_t dt;
        const uint8_t *p = val.mv_data;
        size_t k = tsdb_uvarint_get(p, p + val.mv_size, &dt);
        samples += block_count(p + k, val.mv_size - k);
        bytes += 12 + val.mv_size;
        n++;
    }
    if (n == 0) { /* compaction moved every finished window to the archive */
        mdb_cursor_close(c);
        tsdb_read_end(db, txn);
        free(v);
        return;
    }
    qsort(v, n, sizeof *v, kv_cmp);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0)
        exit(1);
    MDB_env *env;
    MDB_txn *w;
    MDB_dbi dbi;
    mdb_env_create(&env);
    mdb_env_set_mapsize(env, 1ULL << 32);
    if (mdb_env_open(env, dir, MDB_NOSYNC, 0644) != 0 || mdb_txn_begin(env, NULL, 0, &w) != 0 ||
        mdb_dbi_open(w, NULL, 0, &dbi) != 0)
        exit(1);
    for (size_t i = 0; i < n; i++) {
        MDB_val k = {12, v[i].key};
        if (mdb_put(w, dbi, &k, &v[i].val, MDB_APPEND) != 0)
            exit(1);
    }
    MDB_stat st;
    mdb_stat(w, dbi, &st);
    mdb_txn_commit(w);
    mdb_env_close(env);
    mdb_cursor_close(c);
    tsdb_read_end(db, txn);
    free(v);
    double pages = (double)(st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages);
    printf("what if dense (%s):  key+value %.4f B/sample, pages %.4f B/sample (%llu leaf, "
           "%llu overflow)\n",
           window_major ? "window-major" : "id-major", (double)bytes / (double)samples,
           pages * st.ms_psize / (double)samples, (unsigned long long)st.ms_leaf_pages,
           (unsigned long long)st.ms_overflow_pages);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        exit(1);
}

int main(int argc, char **argv)
{
    int nseries = 2000, hours = 12, jitter = 0, live = 0;
    const char *dir = "/tmp/vigil-compact-bench";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--series"))
            nseries = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--hours"))
            hours = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--jitter-ms"))
            jitter = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--live"))
            live = atoi(argv[i + 1]);
    }
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        return 1;
    struct tsdb_options o = {.wal_segment_bytes = 8 << 20};
    struct tsdb *db;
    char err[256];
    if (tsdb_open(dir, &o, &db, err, sizeof err) < 0) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    tsdb_flusher_pause(db, true);
    struct rng r = {42};
    struct gen *g = calloc((size_t)nseries, sizeof *g);
    uint64_t *refs = calloc((size_t)nseries, sizeof *refs);
    for (int i = 0; i < nseries; i++)
        gen_init(&g[i], &r);
    int64_t t0 = 236111LL * TSDB_WINDOW_MS; /* window-aligned */
    long scrapes = (long)hours * 240;
    struct tsdb_appender *a = tsdb_appender_new(db);
    for (long k = 0; k < scrapes; k++) {
        for (int i = 0; i < nseries; i++) {
            char name[32], inst[16];
            snprintf(name, sizeof name, "metric_%d", i / 8);
            snprintf(inst, sizeof inst, "%d", i % 8);
            struct label l[3] = {{"__name__", name}, {"instance", inst}, {"job", "node"}};
            struct labels ls = {l, 3};
            int64_t j = jitter ? (int64_t)rng_below(&r, 2 * (uint64_t)jitter + 1) - jitter : 0;
            tsdb_append(a, &refs[i], refs[i] ? NULL : &ls, t0 + k * 15000 + j, gen_next(&g[i], &r));
        }
        if (tsdb_appender_commit(a, NULL) < 0) {
            fprintf(stderr, "commit: %s\n", tsdb_appender_error(a));
            return 1;
        }
        if (k % 120 == 119) { /* what the flusher does meanwhile */
            if (live)
                tsdb_maintain_now(db);
            else
                tsdb_flush_now(db);
        }
    }
    tsdb_appender_free(a);
    tsdb_flush_now(db);
    /* Windows ending an hour before the newest sample are finished. */
    int64_t max_t = t0 + (scrapes - 1) * 15000;
    int64_t until = tsdb_window_start(max_t - TSDB_COMPACT_MARGIN_MS + 1);
    if (until + TSDB_WINDOW_MS <= max_t - TSDB_COMPACT_MARGIN_MS)
        until += TSDB_WINDOW_MS;
    printf("%d series, %d h at 15 s%s: finished windows hold %ld scrapes\n", nseries, hours,
           jitter ? " with jitter" : "", (long)((until - t0) / 15000));
    struct measure before, after;
    measure(db, until, &before);
    report("before compaction", &before);
    struct timespec ta, tb;
    clock_gettime(CLOCK_MONOTONIC, &ta);
    tsdb_maintain_now(db);
    clock_gettime(CLOCK_MONOTONIC, &tb);
    measure(db, until, &after);
    report("after compaction", &after);
    double secs = (double)(tb.tv_sec - ta.tv_sec) + (double)(tb.tv_nsec - ta.tv_nsec) / 1e9;
    printf("compaction took %.3f s (%.1f ns/sample)\n", secs, secs * 1e9 / (double)after.samples);
    /* A read of everything: the archive costs a lookup per series and
     * window. */
    {
        struct label_matcher lm = {LABEL_MATCH_EQ, "job", "node"};
        struct tsdb_series_set *set;
        clock_gettime(CLOCK_MONOTONIC, &ta);
        if (tsdb_select(db, &lm, 1, INT64_MIN, INT64_MAX, &set, err, sizeof err) < 0)
            return 1;
        const struct labels *ls;
        const int64_t *ts;
        const double *vs;
        size_t n, total = 0, ns = 0;
        while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
            total += n;
            ns++;
        }
        tsdb_series_set_free(set);
        clock_gettime(CLOCK_MONOTONIC, &tb);
        secs = (double)(tb.tv_sec - ta.tv_sec) + (double)(tb.tv_nsec - ta.tv_nsec) / 1e9;
        printf("read all: %zu series, %zu samples, %.3f s (%.1f ns/sample)\n", ns, total, secs,
               secs * 1e9 / (double)total);
    }
    char scratch[600];
    snprintf(scratch, sizeof scratch, "%s-dense", dir);
    what_if_dense(db, until, scratch, false);
    tsdb_close(db);
    free(g);
    free(refs);
    if (system(cmd) != 0)
        return 1;
    return 0;
}
