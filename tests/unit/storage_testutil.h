/* storage_testutil.h — helpers the storage tests share: temporary data
 * dirs, opening with the flusher paused, appending one sample, reading a
 * series back, label values and metric values.  Header-only (static) so
 * each test executable links only the storage library. */
#ifndef VIGIL_TESTS_STORAGE_TESTUTIL_H
#define VIGIL_TESTS_STORAGE_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/tsdb.h"
#include "storage/tsdb_internal.h"
#include "util/metrics.h"

#define HOUR_MS (3600LL * 1000)
/* A window-aligned base time (Nov 2023). */
#define BASE_T (236111LL * TSDB_WINDOW_MS)

static inline char *tu_tmpdir(void)
{
    char tmpl[] = "/tmp/vigil-tsdb-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static inline void tu_rm_rf(char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* Opens with the flusher paused: the test decides when maintenance runs. */
static inline struct tsdb *tu_open(const char *dir, struct tsdb_options *o)
{
    struct tsdb *db = NULL;
    char err[256] = "";
    if (!o->commit_interval_ms)
        o->commit_interval_ms = 20;
    if (tsdb_open(dir, o, &db, err, sizeof err) < 0)
        fail_msg("tsdb_open: %s", err);
    tsdb_flusher_pause(db, true);
    return db;
}

/* {__name__=metric, i="<i>"} */
struct tu_name {
    char ibuf[16];
    struct label l[2];
    struct labels ls;
};

static inline void tu_name_set(struct tu_name *s, const char *metric, int i)
{
    snprintf(s->ibuf, sizeof s->ibuf, "%d", i);
    s->l[0] = (struct label){"__name__", metric};
    s->l[1] = (struct label){"i", s->ibuf};
    s->ls = (struct labels){s->l, 2};
}

/* Appends (t, v) to metric{i} in a batch of its own; ref is the caller's
 * cache (labels are passed while it is 0).  Returns the commit stats. */
static inline struct tsdb_commit_stats tu_append(struct tsdb *db, const char *metric, int i,
                                                 uint64_t *ref, int64_t t, double v)
{
    struct tu_name n;
    tu_name_set(&n, metric, i);
    struct tsdb_appender *a = tsdb_appender_new(db);
    struct tsdb_commit_stats st;
    assert_int_equal(tsdb_append(a, ref, *ref ? NULL : &n.ls, t, v), 0);
    assert_int_equal(tsdb_appender_commit(a, &st), 0);
    tsdb_appender_free(a);
    return st;
}

/* Reads metric{i} over all time into ts/vs (up to max); returns the count
 * and checks the timestamps ascend strictly. */
static inline size_t tu_read(struct tsdb *db, const char *metric, int i, int64_t *ts, double *vs,
                             size_t max)
{
    char ibuf[16];
    snprintf(ibuf, sizeof ibuf, "%d", i);
    struct label_matcher m[2] = {{LABEL_MATCH_EQ, "__name__", metric}, {LABEL_MATCH_EQ, "i", ibuf}};
    struct tsdb_series_set *set;
    char err[256];
    assert_int_equal(tsdb_select(db, m, 2, INT64_MIN, INT64_MAX, &set, err, sizeof err), 0);
    const struct labels *ls;
    const int64_t *t;
    const double *v;
    size_t n = 0, got = 0;
    if (tsdb_series_set_next(set, &ls, &t, &v, &n)) {
        for (size_t k = 0; k < n; k++) {
            if (k)
                assert_true(t[k] > t[k - 1]);
            if (got < max) {
                ts[got] = t[k];
                vs[got] = v[k];
            }
            got++;
        }
    }
    tsdb_series_set_free(set);
    return got;
}

/* Whether the values of label `name` (no matchers: the whole index)
 * include value. */
static inline bool tu_has_value(struct tsdb *db, const char *name, const char *value)
{
    struct tsdb_strings s;
    char err[256];
    assert_int_equal(
        tsdb_label_values(db, name, NULL, 0, INT64_MIN, INT64_MAX, &s, err, sizeof err), 0);
    bool found = false;
    for (size_t i = 0; i < s.n; i++)
        found |= strcmp(s.v[i], value) == 0;
    tsdb_strings_free(&s);
    return found;
}

/* The value of an unlabelled (or fully spelled) sample line, -1 if absent. */
static inline double tu_metric(struct metrics_registry *r, const char *name)
{
    struct sbuf out = SBUF_INIT;
    metrics_registry_write_text(r, &out);
    char pat[256];
    snprintf(pat, sizeof pat, "\n%s ", name);
    const char *p = out.data ? strstr(out.data, pat) : NULL;
    double v = p ? strtod(p + strlen(pat), NULL) : -1;
    sbuf_free(&out);
    return v;
}

#endif
