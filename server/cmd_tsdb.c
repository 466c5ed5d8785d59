/* cmd_tsdb.c — `vigil tsdb ...`: operator tools on a data directory.
 *
 *   vigil tsdb stats DIR     cardinality, head and disk figures
 *   vigil tsdb dump DIR      every sample as OpenMetrics text (with
 *                            timestamps), which `vigil tsdb import` and
 *                            `promtool tsdb create-blocks-from openmetrics`
 *                            read back
 *
 * Both open the directory like the server does (taking its lock, replaying
 * its WAL), so they refuse to run beside a live server on the same data. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "server/server.h"

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

static int cmd_tsdb_dump(const char *dir)
{
    struct tsdb *db = cmd_tsdb_open(dir);
    if (!db)
        return 1;
    struct tsdb_series_set *set;
    char err[256];
    if (tsdb_select(db, NULL, 0, INT64_MIN, INT64_MAX, &set, err, sizeof err) < 0) {
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

int cmd_tsdb(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[0], "stats") == 0)
        return cmd_tsdb_stats(argv[1]);
    if (argc == 2 && strcmp(argv[0], "dump") == 0)
        return cmd_tsdb_dump(argv[1]);
    fprintf(stderr, "usage: vigil tsdb stats DIR | vigil tsdb dump DIR\n");
    return 2;
}
