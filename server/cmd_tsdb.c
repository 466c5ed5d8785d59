/* cmd_tsdb.c — `vigil tsdb ...`: operator tools on a data directory.
 *
 *   vigil tsdb stats DIR     cardinality, head and disk figures
 *   vigil tsdb dump DIR [--match=SELECTOR]
 *                            every sample as OpenMetrics text (with
 *                            timestamps), which `vigil tsdb import` and
 *                            `promtool tsdb create-blocks-from openmetrics`
 *                            read back
 *   vigil tsdb import [--storage.tsdb.path=DIR] FILE|-
 *                            OpenMetrics text with timestamps into DIR
 *                            (default data/): how users migrate, and how
 *                            the benchmarks load data
 *
 * Both open the directory like the server does (taking its lock, replaying
 * its WAL), so they refuse to run beside a live server on the same data. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "query/promql.h"
#include "scrape/textparse.h"
#include "server/server.h"
#include "util/fsutil.h"

#define IMPORT_BATCH 65536 /* samples per appender commit */

static struct tsdb *cmd_tsdb_open(const char *dir)
{
    struct tsdb *db;
    char err[512];
    struct tsdb_options o = {0};
    if (tsdb_open(dir, &o, &db, err, sizeof err) < 0) {
        fprintf(stderr, "vigil: error: %s\n", err);
        return NULL;
    }
    return db;
}

static void print_stat_list(const char *title, const struct tsdb_stat_list *l)
{
    printf("\n%s:\n", title);
    for (size_t i = 0; i < l->n; i++)
        printf("%-60s %" PRIu64 "\n", l->v[i].name, l->v[i].count);
}

static int cmd_tsdb_stats(const char *dir)
{
    struct tsdb *db = cmd_tsdb_open(dir);
    if (!db)
        return 1;
    struct tsdb_stats st;
    char err[256];
    int rc = tsdb_stats_get(db, 10, &st, err, sizeof err);
    if (rc == 0) {
        printf("Series:          %" PRIu64 "\n", st.num_series);
        printf("Label pairs:     %" PRIu64 "\n", st.num_label_pairs);
        printf("Head series:     %" PRIu64 "\n", st.head_series);
        printf("Head chunks:     %" PRIu64 "\n", st.head_chunks);
        if (st.head_min_time <= st.head_max_time)
            printf("Head time range: %" PRId64 " .. %" PRId64 " (ms)\n", st.head_min_time,
                   st.head_max_time);
        printf("Blocks:          %" PRIu64 "\n", st.blocks);
        printf("Bytes on disk:   %" PRIu64 "\n", st.disk_bytes);
        print_stat_list("Highest cardinality metric names", &st.series_by_metric);
        print_stat_list("Highest cardinality labels", &st.values_by_name);
        print_stat_list("Label names with highest cumulative label value length",
                        &st.bytes_by_name);
        print_stat_list("Most common label pairs", &st.series_by_pair);
        tsdb_stats_free(&st);
    } else {
        fprintf(stderr, "vigil: error: %s\n", err);
    }
    tsdb_close(db);
    return rc == 0 ? 0 : 1;
}

/* Label values are escaped as the text formats require. */
static void print_escaped(const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            putchar('\\'), putchar(*s);
        else if (*s == '\n')
            fputs("\\n", stdout);
        else
            putchar(*s);
    }
}

static void print_series_name(const struct labels *ls)
{
    const char *name = "";
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].name, "__name__") == 0)
            name = ls->v[i].value;
    fputs(name, stdout);
    bool first = true;
    for (size_t i = 0; i < ls->n; i++) {
        if (strcmp(ls->v[i].name, "__name__") == 0)
            continue;
        printf("%s%s=\"", first ? "{" : ",", ls->v[i].name);
        print_escaped(ls->v[i].value);
        putchar('"');
        first = false;
    }
    if (!first)
        putchar('}');
}

/* Dumps the series matching `match` (a PromQL selector; NULL = all). */
static int cmd_tsdb_dump(const char *dir, const char *match)
{
    struct promql_arena *arena = promql_arena_new();
    const struct label_matcher *ms = NULL;
    size_t nms = 0;
    if (match) {
        struct promql_parse_error pe;
        struct promql_expr *sel = promql_parse_selector(arena, match, strlen(match), &pe);
        if (!sel) {
            fprintf(stderr, "vigil: error: --match: %s\n", pe.msg);
            promql_arena_free(arena);
            return 2;
        }
        ms = sel->vs.matchers;
        nms = sel->vs.nmatchers;
    }
    struct tsdb *db = cmd_tsdb_open(dir);
    if (!db) {
        promql_arena_free(arena);
        return 1;
    }
    struct tsdb_series_set *set;
    char err[256];
    int rc = tsdb_select(db, ms, nms, INT64_MIN, INT64_MAX, &set, err, sizeof err);
    promql_arena_free(arena);
    if (rc < 0) {
        fprintf(stderr, "vigil: error: %s\n", err);
        tsdb_close(db);
        return 1;
    }
    const struct labels *ls;
    const int64_t *ts;
    const double *vs;
    size_t n;
    struct sbuf line = SBUF_INIT;
    while (tsdb_series_set_next(set, &ls, &ts, &vs, &n)) {
        for (size_t i = 0; i < n; i++) {
            print_series_name(ls);
            sbuf_reset(&line);
            sbuf_put_float(&line, vs[i]);
            /* OpenMetrics timestamps are seconds. */
            printf(" %s %" PRId64 ".%03d\n", line.data, ts[i] / 1000 - (ts[i] % 1000 < 0),
                   (int)(((ts[i] % 1000) + 1000) % 1000));
        }
    }
    printf("# EOF\n");
    sbuf_free(&line);
    tsdb_series_set_free(set);
    tsdb_close(db);
    return 0;
}

/* Reads all of path ("-" = stdin) into memory. */
static int read_all(const char *path, struct sbuf *out)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "vigil: error: open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        sbuf_append(out, buf, n);
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (bad) {
        fprintf(stderr, "vigil: error: read %s failed\n", path);
        return -1;
    }
    return 0;
}

static int label_text_cmp(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

/* The series of the current sample as a sorted label set without empty
 * values, as Prometheus builds series from exposition text. */
static size_t import_labels(struct textparse *p, struct sbuf *scratch,
                            struct textparse_label_text **tv, size_t *tvcap, struct label **lv)
{
    size_t need = textparse_label_count(p) + 1;
    if (need > *tvcap) {
        *tvcap = need * 2;
        *tv = xrealloc(*tv, *tvcap * sizeof **tv);
        *lv = xrealloc(*lv, *tvcap * sizeof **lv);
    }
    sbuf_reset(scratch);
    size_t n = textparse_labels_unescape(p, scratch, *tv), m = 0;
    for (size_t i = 0; i < n; i++)
        if ((*tv)[i].value_len)
            (*lv)[m++] = (struct label){(*tv)[i].name, (*tv)[i].value};
    qsort(*lv, m, sizeof **lv, label_text_cmp);
    return m;
}

struct import_state {
    struct tsdb_appender *app;
    uint64_t *refs; /* stable until commit: the appender fills new series' refs */
    size_t nrefs;
    uint64_t samples, rejected, series;
    const char *last_raw;
    size_t last_len;
    uint64_t *last_ref;
};

static int import_commit(struct import_state *st)
{
    struct tsdb_commit_stats cs;
    if (tsdb_appender_commit(st->app, &cs) < 0) {
        fprintf(stderr, "vigil: error: %s\n", tsdb_appender_error(st->app));
        return -1;
    }
    st->samples += cs.appended;
    st->rejected += cs.out_of_order + cs.duplicate;
    st->series += cs.series_created;
    st->nrefs = 0;
    st->last_raw = NULL;
    return 0;
}

static void import_progress(const struct import_state *st, double t0, bool done)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double el = (double)ts.tv_sec + ts.tv_nsec / 1e9 - t0;
    fprintf(stderr, "%simported %" PRIu64 " samples, %" PRIu64 " new series (%.0f samples/s)%s",
            done ? "" : "\r", st->samples, st->series, el > 0 ? (double)st->samples / el : 0.0,
            done ? "\n" : "");
}

/* Appends one sample line; consecutive lines of the same series share a
 * ref, so the label set is decoded once per series run. */
static int import_sample(struct import_state *st, struct textparse *p, struct sbuf *scratch,
                         struct textparse_label_text **tv, size_t *tvcap, struct label **lv)
{
    int64_t t;
    if (!textparse_timestamp(p, &t)) {
        fprintf(stderr, "vigil: error: line %lu: sample without a timestamp\n", textparse_line(p));
        return -1;
    }
    const char *raw;
    size_t rawlen;
    textparse_series(p, &raw, &rawlen);
    bool same = st->last_raw && rawlen == st->last_len && memcmp(raw, st->last_raw, rawlen) == 0;
    if (!same || !*st->last_ref) {
        size_t n = import_labels(p, scratch, tv, tvcap, lv);
        struct labels ls = {*lv, n};
        if (!same) {
            st->last_ref = &st->refs[st->nrefs++];
            *st->last_ref = 0;
        }
        st->last_raw = raw;
        st->last_len = rawlen;
        if (tsdb_append(st->app, st->last_ref, &ls, t, textparse_value(p)) < 0) {
            fprintf(stderr, "vigil: error: line %lu: %s\n", textparse_line(p),
                    tsdb_appender_error(st->app));
            return -1;
        }
    } else if (tsdb_append(st->app, st->last_ref, NULL, t, textparse_value(p)) < 0) {
        return -1;
    }
    return st->nrefs == IMPORT_BATCH ? import_commit(st) : 0;
}

static int import_parse(struct tsdb *db, const struct sbuf *text)
{
    struct import_state st = {.app = tsdb_appender_new(db)};
    st.refs = xmalloc(IMPORT_BATCH * sizeof *st.refs);
    struct textparse p;
    textparse_init(&p, TEXTPARSE_OPENMETRICS, text->data ? text->data : "", text->len);
    struct sbuf scratch = SBUF_INIT;
    struct textparse_label_text *tv = NULL;
    struct label *lv = NULL;
    size_t tvcap = 0, pending = 0;
    bool tty = isatty(2);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    double t0 = (double)ts.tv_sec + ts.tv_nsec / 1e9;
    int rc = 0;
    for (enum textparse_entry e; rc == 0 && (e = textparse_next(&p)) != TEXTPARSE_END;) {
        if (e == TEXTPARSE_ERROR) {
            fprintf(stderr, "vigil: error: %s\n", textparse_error(&p));
            rc = -1;
        } else if (e == TEXTPARSE_SERIES) {
            rc = import_sample(&st, &p, &scratch, &tv, &tvcap, &lv);
            if (++pending == IMPORT_BATCH) {
                rc = rc ? rc : import_commit(&st);
                pending = 0;
                if (tty)
                    import_progress(&st, t0, false);
            }
        }
    }
    if (rc == 0)
        rc = import_commit(&st);
    if (rc == 0) {
        if (tty)
            fputc('\n', stderr);
        import_progress(&st, t0, true);
        if (st.rejected)
            fprintf(stderr, "%" PRIu64 " samples rejected (out of order or duplicate)\n",
                    st.rejected);
    }
    textparse_free(&p);
    sbuf_free(&scratch);
    free(tv);
    free(lv);
    free(st.refs);
    tsdb_appender_free(st.app);
    return rc;
}

/* An LMDB file keeps the pages its B-trees freed; a snapshot is a copy
 * without them.  After an import the head is empty and the WAL holds
 * nothing, so the snapshot is the whole database: it replaces the LMDB
 * directory (the old one is removed only after the rename). */
static int import_swap_in_snapshot(const char *dir, const char *snap)
{
    char from[4096], to[4096], old[4096], snapdir[4096];
    snprintf(from, sizeof from, "%s/snapshots/%s/index.mdb", dir, snap);
    snprintf(to, sizeof to, "%s/index.mdb", dir);
    snprintf(old, sizeof old, "%s/index.mdb.old", dir);
    if (rename(to, old) < 0 || rename(from, to) < 0) {
        fprintf(stderr, "vigil: error: replacing %s with its compacted copy: %s\n", to,
                strerror(errno));
        return -1;
    }
    snprintf(snapdir, sizeof snapdir, "%s/snapshots/%s", dir, snap);
    if (fs_remove_tree(old) < 0 || fs_remove_tree(snapdir) < 0)
        return -1;
    snprintf(snapdir, sizeof snapdir, "%s/snapshots", dir);
    rmdir(snapdir); /* only if no other snapshot is there */
    return 0;
}

static int cmd_tsdb_import(int argc, char **argv)
{
    const char *dir = "data/", *file = NULL;
    for (int i = 0; i < argc; i++) {
        if (strncmp(argv[i], "--storage.tsdb.path=", 20) == 0)
            dir = argv[i] + 20;
        else if (strcmp(argv[i], "--storage.tsdb.path") == 0 && i + 1 < argc)
            dir = argv[++i];
        else if (!file && (argv[i][0] != '-' || strcmp(argv[i], "-") == 0))
            file = argv[i];
        else {
            fprintf(stderr, "vigil: error: unexpected argument '%s'\n", argv[i]);
            return 2;
        }
    }
    if (!file) {
        fprintf(stderr, "usage: vigil tsdb import [--storage.tsdb.path=DIR] FILE|-\n");
        return 2;
    }
    struct sbuf text = SBUF_INIT;
    if (read_all(file, &text) < 0)
        return 1;
    struct tsdb *db = cmd_tsdb_open(dir);
    if (!db) {
        sbuf_free(&text);
        return 1;
    }
    int rc = import_parse(db, &text);
    sbuf_free(&text);
    if (rc == 0 && tsdb_flush_head(db) < 0)
        rc = -1;
    char snap[TSDB_SNAPSHOT_NAME_LEN], err[512];
    bool compacted = rc == 0 && tsdb_snapshot(db, true, snap, sizeof snap, err, sizeof err) == 0;
    tsdb_close(db);
    if (compacted && import_swap_in_snapshot(dir, snap) < 0)
        rc = -1;
    return rc == 0 ? 0 : 1;
}

int cmd_tsdb(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "import") == 0)
        return cmd_tsdb_import(argc - 1, argv + 1);
    if (argc == 2 && strcmp(argv[0], "stats") == 0)
        return cmd_tsdb_stats(argv[1]);
    if (argc >= 2 && strcmp(argv[0], "dump") == 0) {
        const char *dir = NULL, *match = NULL;
        for (int i = 1; i < argc; i++) {
            if (strncmp(argv[i], "--match=", 8) == 0)
                match = argv[i] + 8;
            else if (strcmp(argv[i], "--match") == 0 && i + 1 < argc)
                match = argv[++i];
            else if (!dir)
                dir = argv[i];
            else
                dir = NULL, argc = 0; /* a second directory: usage error below */
        }
        if (dir)
            return cmd_tsdb_dump(dir, match);
    }
    fprintf(stderr, "usage: vigil tsdb stats DIR | vigil tsdb dump DIR [--match=SELECTOR] | "
                    "vigil tsdb import [--storage.tsdb.path=DIR] FILE|-\n");
    return 2;
}
