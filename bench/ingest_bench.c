/* ingest_bench.c — what appending costs Vigil's storage, per sample and per
 * active series, and how long a restart takes with that many series.
 *
 * Creates N series (node_exporter-like label sets: 500 metric names, job,
 * instance, and a per-series label), appends R rounds of one sample per
 * series through the real appender API in batches of B samples (one batch
 * is what one scrape commits), then reports:
 *   - CPU time per appended sample (user+sys of the whole process, so the
 *     committer and flusher threads are included) and samples/s per core,
 *   - resident memory per active series (RSS after the rounds minus RSS
 *     before the first series, divided by N),
 *   - restart time: close, reopen (WAL replay into the head), first select.
 * The scrape and parse cost is not included: see bench/http.sh and the
 * scrape benchmark for those.
 *
 *   build/bench_ingest [series=1000000] [rounds=20] [batch=2000] [dir]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "storage/tsdb.h"
#include "util/fsutil.h"

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static long rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

struct series_labels {
    char name[32], inst[32], id[16];
    struct label l[4];
    struct labels ls;
};

/* Series i: metric node_metric_<i%500>, job node, instance host-<i/500>,
 * and id=<i> so every set is distinct. */
static void series_labels_set(struct series_labels *s, uint32_t i)
{
    snprintf(s->name, sizeof s->name, "node_metric_%u", i % 500);
    snprintf(s->inst, sizeof s->inst, "host-%u:9100", i / 500);
    snprintf(s->id, sizeof s->id, "%u", i);
    s->l[0] = (struct label){"__name__", s->name};
    s->l[1] = (struct label){"id", s->id};
    s->l[2] = (struct label){"instance", s->inst};
    s->l[3] = (struct label){"job", "node"};
    s->ls = (struct labels){s->l, 4};
}

static struct tsdb *open_db(const char *dir)
{
    struct tsdb *db;
    char err[512];
    if (tsdb_open(dir, NULL, &db, err, sizeof err) < 0) {
        fprintf(stderr, "tsdb_open: %s\n", err);
        exit(1);
    }
    return db;
}

static void append_rounds(struct tsdb *db, uint64_t *refs, uint32_t n, int rounds, uint32_t batch,
                          int64_t t0)
{
    struct tsdb_appender *a = tsdb_appender_new(db);
    for (int r = 0; r < rounds; r++) {
        for (uint32_t i = 0; i < n; i++) {
            struct series_labels s;
            const struct labels *ls = NULL;
            if (!refs[i]) {
                series_labels_set(&s, i);
                ls = &s.ls;
            }
            /* Counters and gauges: a mix of constant and changing values. */
            double v = i % 3 == 0 ? 1.0 : (double)(r * (i % 7)) + 0.25 * (i % 5);
            tsdb_append(a, &refs[i], ls, t0 + (int64_t)r * 15000, v);
            if ((i + 1) % batch == 0 || i + 1 == n)
                if (tsdb_appender_commit(a, NULL) < 0) {
                    fprintf(stderr, "commit: %s\n", tsdb_appender_error(a));
                    exit(1);
                }
        }
    }
    tsdb_appender_free(a);
}

int main(int argc, char **argv)
{
    uint32_t n = argc > 1 ? (uint32_t)atol(argv[1]) : 1000000;
    int rounds = argc > 2 ? atoi(argv[2]) : 20;
    uint32_t batch = argc > 3 ? (uint32_t)atol(argv[3]) : 2000;
    char tmpl[] = "/tmp/vigil-ingest-XXXXXX";
    const char *dir = argc > 4 ? argv[4] : mkdtemp(tmpl);
    uint64_t *refs = calloc(n, sizeof *refs);
    int64_t t0 = (int64_t)time(NULL) * 1000 - (int64_t)rounds * 15000;

    long rss0 = rss_kib();
    struct tsdb *db = open_db(dir);
    /* Round 0 creates the series; it is timed apart from the steady rounds. */
    double c0 = cpu_seconds(), w0 = wall_seconds();
    append_rounds(db, refs, n, 1, batch, t0);
    double c1 = cpu_seconds(), w1 = wall_seconds();
    append_rounds(db, refs, n, rounds - 1, batch, t0 + 15000);
    double c2 = cpu_seconds(), w2 = wall_seconds();
    long rss1 = rss_kib();
    uint64_t steady = (uint64_t)n * (uint64_t)(rounds - 1);
    printf("series                      %" PRIu32 "\n", n);
    printf("create (first sample)       %.2f us CPU/series, %.1f s wall\n", (c1 - c0) * 1e6 / n,
           w1 - w0);
    printf("append (steady)             %.3f us CPU/sample, %.0f samples/s per core, %.0f "
           "samples/s wall\n",
           steady ? (c2 - c1) * 1e6 / (double)steady : 0.0,
           c2 > c1 ? (double)steady / (c2 - c1) : 0.0, (double)steady / (w2 - w1));
    printf("resident memory             %.0f bytes per active series (RSS %ld -> %ld KiB)\n",
           (double)(rss1 - rss0) * 1024.0 / n, rss0, rss1);

    double w3 = wall_seconds();
    tsdb_close(db);
    double w4 = wall_seconds();
    db = open_db(dir);
    struct label_matcher m = {LABEL_MATCH_EQ, "__name__", "node_metric_7"};
    struct tsdb_series_set *set;
    char err[256];
    size_t got = 0;
    if (tsdb_select(db, &m, 1, INT64_MIN, INT64_MAX, &set, err, sizeof err) == 0) {
        const struct labels *ls;
        const int64_t *ts;
        const double *vs;
        size_t k;
        while (tsdb_series_set_next(set, &ls, &ts, &vs, &k))
            got += k;
        tsdb_series_set_free(set);
    }
    double w5 = wall_seconds();
    printf("restart                     close %.2f s, open + WAL replay + first select %.2f s "
           "(%zu samples of one metric)\n",
           w4 - w3, w5 - w4, got);
    tsdb_close(db);
    if (argc <= 4)
        fs_remove_tree(dir);
    free(refs);
    return 0;
}
