/* index_bench.c — micro-benchmark of the series index (storage/index*.c).
 *
 * Builds an index of node_exporter-like series in an LMDB env under /tmp,
 * the way scrapes create them (one target's metrics after another), in
 * batches of one write txn each, then times selectors and listings:
 *
 *   500 metric names x 1000 instances x 2 (label "mode") = 1M series, with
 *   job = one of 10 per instance, and on 50 of the metrics a label "uid"
 *   unique per series (100k values) for the high-cardinality cases.
 *
 * Built with the project as build/bench_index (bench/scrape.sh runs it at
 * the scale of its scrape run):
 *
 *   build/bench_index [instances (default 1000)] [batch (default 10000)] [nosync]
 *
 * "nosync" opens the env with MDB_NOSYNC, leaving out the two fsyncs of
 * every commit, which on a slow disk dominate the build time.
 * The data directory is removed at exit. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "storage/index.h"

#define METRICS   500
#define UID_EVERY 10 /* every 10th metric carries a unique uid label */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
    fprintf(stderr, "index_bench: %s: %s\n", what, rc ? mdb_strerror(rc) : "failed");
    exit(1);
}

static const char *const families[] = {
    "cpu",     "cpu_guest", "memory", "disk",     "filesystem", "network", "netstat",
    "vmstat",  "load",      "boot",   "time",     "entropy",    "filefd",  "forks",
    "intr",    "context",   "procs",  "sockstat", "softnet",    "hwmon",   "thermal",
    "systemd", "textfile",  "arp",    "edac",
};
#define NFAMILIES (sizeof families / sizeof *families)

static void metric_name(int m, char *buf, size_t n)
{
    snprintf(buf, n, "node_%s_%d_total", families[m % NFAMILIES], m / (int)NFAMILIES);
}

/* Adds every series of instance h. */
static void add_instance(struct index *ix, MDB_txn *txn, int h, uint32_t *uid)
{
    char inst[32], job[16], name[64], uidv[16];
    snprintf(inst, sizeof inst, "10.%d.%d.%d:9100", h / 65536, h / 256 % 256, h % 256);
    snprintf(job, sizeof job, "job-%d", h % 10);
    for (int m = 0; m < METRICS; m++) {
        metric_name(m, name, sizeof name);
        for (int mode = 0; mode < 2; mode++) {
            struct label l[5];
            size_t n = 0;
            l[n++] = (struct label){"__name__", name};
            l[n++] = (struct label){"instance", inst};
            l[n++] = (struct label){"job", job};
            l[n++] = (struct label){"mode", mode ? "user" : "idle"};
            if (m % UID_EVERY == 0) {
                snprintf(uidv, sizeof uidv, "u%07u", (*uid)++);
                l[n++] = (struct label){"uid", uidv};
            }
            struct labels ls = {l, n};
            uint32_t id;
            bool created;
            int rc = index_series_add(ix, txn, &ls, &id, &created);
            if (rc != 0)
                die("index_series_add", rc);
        }
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

enum bench_kind { SELECT, SELECT_LABELS, VALUES, NAMES, STATS };

struct bench_query {
    const char *title;
    enum bench_kind kind;
    struct label_matcher ms[3];
    size_t n;
    const char *name; /* VALUES */
};

/* Runs q once; returns the number of results. */
static uint64_t bench_run(struct index *ix, MDB_txn *txn, const struct bench_query *q,
                          struct index_labels *lb)
{
    char err[256];
    roaring_bitmap_t *b = NULL;
    uint64_t n = 0;
    if (q->kind == SELECT || q->kind == SELECT_LABELS) {
        if (index_select(ix, txn, q->ms, q->n, &b, err, sizeof err) < 0) {
            fprintf(stderr, "index_bench: %s: %s\n", q->title, err);
            exit(1);
        }
        n = roaring_bitmap_get_cardinality(b);
        if (q->kind == SELECT_LABELS) {
            roaring_uint32_iterator_t it;
            roaring_init_iterator(b, &it);
            for (; it.has_value; roaring_advance_uint32_iterator(&it))
                if (index_series_labels(ix, txn, it.current_value, lb) != 0)
                    die("index_series_labels", 0);
        }
        roaring_bitmap_free(b);
    } else if (q->kind == VALUES || q->kind == NAMES) {
        struct index_strings s = INDEX_STRINGS_INIT;
        int rc = q->kind == VALUES
                     ? index_label_values(ix, txn, q->name, q->ms, q->n, &s, err, sizeof err)
                     : index_label_names(ix, txn, q->ms, q->n, &s, err, sizeof err);
        if (rc < 0)
            die(err, 0);
        n = s.n;
        index_strings_free(&s);
    } else {
        struct index_stats st;
        if (index_stats_get(ix, txn, 10, &st, err, sizeof err) < 0)
            die(err, 0);
        n = st.num_label_pairs;
        index_stats_free(&st);
    }
    return n;
}

/* Repeats q for about 0.3 s (at least 3, at most 500 runs). */
static void bench_time(struct index *ix, MDB_env *env, const struct bench_query *q)
{
    static double t[500];
    struct index_labels lb = INDEX_LABELS_INIT;
    MDB_txn *txn;
    int rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &txn);
    if (rc != 0)
        die("mdb_txn_begin", rc);
    uint64_t results = 0;
    int runs = 0;
    double start = now_s();
    while (runs < 500 && (runs < 3 || now_s() - start < 0.3)) {
        double t0 = now_s();
        results = bench_run(ix, txn, q, &lb);
        t[runs++] = now_s() - t0;
    }
    mdb_txn_abort(txn);
    index_labels_free(&lb);
    qsort(t, (size_t)runs, sizeof *t, cmp_double);
    printf("  %-58s %8llu results  median %9.3f ms  min %9.3f ms  (%d runs)\n", q->title,
           (unsigned long long)results, t[runs / 2] * 1e3, t[0] * 1e3, runs);
}

static MDB_env *bench_env(const char *dir, unsigned flags)
{
    MDB_env *env;
    int rc = mdb_env_create(&env);
    if (rc == 0)
        rc = mdb_env_set_mapsize(env, 8ULL << 30);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(env, 16);
    if (rc == 0)
        rc = mdb_env_open(env, dir, MDB_NOTLS | flags, 0644);
    if (rc != 0)
        die("mdb_env_open", rc);
    return env;
}

static struct index *bench_build(MDB_env *env, int instances, int batch)
{
    MDB_txn *txn;
    char err[256];
    struct index *ix;
    int rc = mdb_txn_begin(env, NULL, 0, &txn);
    if (rc != 0 || index_open(txn, &ix, err, sizeof err) < 0 || mdb_txn_commit(txn) != 0)
        die("index_open", rc);
    uint32_t uid = 0;
    int per_txn = batch / (METRICS * 2) > 0 ? batch / (METRICS * 2) : 1;
    double t0 = now_s(), t_flush = 0, t_commit = 0;
    for (int h = 0; h < instances; h += per_txn) {
        if ((rc = mdb_txn_begin(env, NULL, 0, &txn)) != 0)
            die("mdb_txn_begin", rc);
        for (int k = h; k < h + per_txn && k < instances; k++)
            add_instance(ix, txn, k, &uid);
        double t1 = now_s();
        if ((rc = index_flush(ix, txn)) != 0)
            die("index_flush", rc);
        double t2 = now_s();
        if ((rc = mdb_txn_commit(txn)) != 0)
            die("mdb_txn_commit", rc);
        t_flush += t2 - t1;
        t_commit += now_s() - t2;
    }
    double dt = now_s() - t0;
    double n = (double)instances * METRICS * 2;
    printf("build: %.0f series in txns of %d series: %.2f s (%.1f us/series, %.0f series/s)\n"
           "       of which index_flush %.2f s, commit %.2f s\n",
           n, per_txn * METRICS * 2, dt, dt / n * 1e6, n / dt, t_flush, t_commit);
    return ix;
}

static void bench_size(MDB_env *env, const char *dir)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(env, &info);
    mdb_env_stat(env, &st);
    char path[512];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    struct stat sb;
    stat(path, &sb);
    printf("size: data.mdb %.1f MiB on disk (%.1f MiB allocated), %.1f MiB in use\n",
           (double)sb.st_size / 1048576.0, (double)sb.st_blocks * 512 / 1048576.0,
           (double)(info.me_last_pgno + 1) * st.ms_psize / 1048576.0);
    static const char *const dbis[] = {"index.series", "index.hashes", "index.postings"};
    MDB_txn *txn;
    if (mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
        return;
    for (size_t i = 0; i < sizeof dbis / sizeof *dbis; i++) {
        MDB_dbi dbi;
        MDB_stat ds;
        if (mdb_dbi_open(txn, dbis[i], 0, &dbi) != 0 || mdb_stat(txn, dbi, &ds) != 0)
            continue;
        size_t pages = ds.ms_branch_pages + ds.ms_leaf_pages + ds.ms_overflow_pages;
        printf("  %-15s %9zu records %8.1f MiB in pages\n", dbis[i], ds.ms_entries,
               (double)pages * ds.ms_psize / 1048576.0);
    }
    mdb_txn_abort(txn);
}

int main(int argc, char **argv)
{
    int instances = argc > 1 ? atoi(argv[1]) : 1000;
    int batch = argc > 2 ? atoi(argv[2]) : 10000;
    char dir[] = "/tmp/vigil-index-bench-XXXXXX";
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    bool nosync = argc > 3 && strcmp(argv[3], "nosync") == 0;
    MDB_env *env = bench_env(dir, nosync ? MDB_NOSYNC : 0);
    struct index *ix = bench_build(env, instances, batch);
    bench_size(env, dir);

    const struct bench_query qs[] = {
        {"__name__=\"node_cpu_0_total\" -> ids",
         SELECT,
         {{LABEL_MATCH_EQ, "__name__", "node_cpu_0_total"}},
         1,
         NULL},
        {"__name__=\"node_cpu_0_total\" -> label sets",
         SELECT_LABELS,
         {{LABEL_MATCH_EQ, "__name__", "node_cpu_0_total"}},
         1,
         NULL},
        {"{job=\"job-3\", __name__=~\"node_cpu.*\"}",
         SELECT,
         {{LABEL_MATCH_EQ, "job", "job-3"}, {LABEL_MATCH_RE, "__name__", "node_cpu.*"}},
         2,
         NULL},
        {"{__name__=\"node_load_0_total\", instance=\"10.0.1.7:9100\"}",
         SELECT,
         {{LABEL_MATCH_EQ, "__name__", "node_load_0_total"},
          {LABEL_MATCH_EQ, "instance", "10.0.1.7:9100"}},
         2,
         NULL},
        {"{__name__=\"node_disk_0_total\", mode!=\"idle\"}",
         SELECT,
         {{LABEL_MATCH_EQ, "__name__", "node_disk_0_total"}, {LABEL_MATCH_NEQ, "mode", "idle"}},
         2,
         NULL},
        {"__name__=~\"node_(cpu|disk)_1.*\" (regex, 500 values)",
         SELECT,
         {{LABEL_MATCH_RE, "__name__", "node_(cpu|disk)_1.*"}},
         1,
         NULL},
        {"instance=~\"10\\\\.0\\\\.1.*:9100\" (regex, 1000 values)",
         SELECT,
         {{LABEL_MATCH_RE, "instance", "10\\.0\\.1.*:9100"}},
         1,
         NULL},
        {"uid=~\".*12.4.*\" (regex, 100k values)",
         SELECT,
         {{LABEL_MATCH_RE, "uid", ".*12.4.*"}},
         1,
         NULL},
        {"{__name__=\"node_cpu_0_total\", uid=~\".*1.3.*\"}",
         SELECT,
         {{LABEL_MATCH_EQ, "__name__", "node_cpu_0_total"}, {LABEL_MATCH_RE, "uid", ".*1.3.*"}},
         2,
         NULL},
        {"{__name__=~\"node_.*\", job!=\"job-1\"} (large)",
         SELECT,
         {{LABEL_MATCH_RE, "__name__", "node_.*"}, {LABEL_MATCH_NEQ, "job", "job-1"}},
         2,
         NULL},
        {"label names", NAMES, {{0}}, 0, NULL},
        {"label values of instance", VALUES, {{0}}, 0, "instance"},
        {"label values of instance {__name__=\"node_cpu_0_total\"}",
         VALUES,
         {{LABEL_MATCH_EQ, "__name__", "node_cpu_0_total"}},
         1,
         "instance"},
        {"status/tsdb statistics (top 10)", STATS, {{0}}, 0, NULL},
    };
    printf("queries:\n");
    for (size_t i = 0; i < sizeof qs / sizeof *qs; i++)
        bench_time(ix, env, &qs[i]);

    index_free(ix);
    mdb_env_close(env);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
