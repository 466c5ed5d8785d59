/* tsdb_labels.c — label names and values for the HTTP API.
 *
 * Without matchers the index answers directly from its postings keys (no
 * series is visited).  With matchers the answer must only cover series that
 * have samples in the time range, as Prometheus's does: the matching series
 * are selected like a query would select them and their label sets
 * collected.  That is the expensive path, taken only when a client narrows
 * by selector (Grafana's metric browser does, with a metric name). */
#include "storage/tsdb_internal.h"

#include <stdlib.h>
#include <string.h>

struct strset {
    struct sbuf buf; /* NUL-terminated strings back to back */
    size_t *off;
    size_t n, cap;
};

static void strset_add(struct strset *s, const char *str)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->off = xrealloc(s->off, s->cap * sizeof *s->off);
    }
    s->off[s->n++] = s->buf.len;
    sbuf_append(&s->buf, str, strlen(str) + 1);
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts, removes duplicates and hands the strings to out.  Pointers are
 * made only now: the buffer may have moved while strings were added. */
static void strset_finish(struct strset *s, struct tsdb_strings *out)
{
    struct sbuf *owned = xmalloc(sizeof *owned);
    *owned = s->buf;
    out->v = xcalloc(s->n ? s->n : 1, sizeof *out->v);
    out->priv = owned;
    for (size_t i = 0; i < s->n; i++)
        out->v[i] = owned->data + s->off[i];
    qsort(out->v, s->n, sizeof *out->v, cmp_strp);
    out->n = 0;
    for (size_t i = 0; i < s->n; i++)
        if (!out->n || strcmp(out->v[out->n - 1], out->v[i]) != 0)
            out->v[out->n++] = out->v[i];
    free(s->off);
}

void tsdb_strings_free(struct tsdb_strings *s)
{
    if (s->priv) {
        sbuf_free(s->priv);
        free(s->priv);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
    s->priv = NULL;
}

static void from_index(struct index_strings *is, struct tsdb_strings *out)
{
    struct strset set = {SBUF_INIT, NULL, 0, 0};
    for (size_t i = 0; i < is->n; i++)
        strset_add(&set, is->v[i]);
    strset_finish(&set, out);
}

/* Collects names (name == NULL) or one label's values from the series
 * matching ms with samples in range. */
static int collect_from_series(struct tsdb *db, const char *name, const struct label_matcher *ms,
                               size_t n, int64_t mint, int64_t maxt, struct tsdb_strings *out,
                               char *err, size_t errlen)
{
    struct tsdb_series_set *ss;
    if (tsdb_select(db, ms, n, mint, maxt, &ss, err, errlen) < 0)
        return -1;
    struct strset set = {SBUF_INIT, NULL, 0, 0};
    const struct labels *ls;
    const int64_t *ts;
    const double *vs;
    size_t cnt;
    while (tsdb_series_set_next(ss, &ls, &ts, &vs, &cnt)) {
        for (size_t i = 0; i < ls->n; i++) {
            if (!name)
                strset_add(&set, ls->v[i].name);
            else if (strcmp(ls->v[i].name, name) == 0)
                strset_add(&set, ls->v[i].value);
        }
    }
    tsdb_series_set_free(ss);
    strset_finish(&set, out);
    return 0;
}

static int index_listing(struct tsdb *db, const char *name, struct tsdb_strings *out, char *err,
                         size_t errlen)
{
    MDB_txn *txn;
    if (tsdb_read_begin(db, &txn) != 0) {
        snprintf(err, errlen, "storage: cannot begin a read transaction");
        return -1;
    }
    struct index_strings is = INDEX_STRINGS_INIT;
    int rc = name ? index_label_values(db->index, txn, name, NULL, 0, &is, err, errlen)
                  : index_label_names(db->index, txn, NULL, 0, &is, err, errlen);
    tsdb_read_end(db, txn);
    if (rc == 0)
        from_index(&is, out);
    index_strings_free(&is);
    return rc;
}

int tsdb_label_names(struct tsdb *db, const struct label_matcher *ms, size_t n, int64_t mint,
                     int64_t maxt, struct tsdb_strings *out, char *err, size_t errlen)
{
    if (n == 0)
        return index_listing(db, NULL, out, err, errlen);
    return collect_from_series(db, NULL, ms, n, mint, maxt, out, err, errlen);
}

int tsdb_label_values(struct tsdb *db, const char *name, const struct label_matcher *ms, size_t n,
                      int64_t mint, int64_t maxt, struct tsdb_strings *out, char *err,
                      size_t errlen)
{
    if (n == 0)
        return index_listing(db, name, out, err, errlen);
    return collect_from_series(db, name, ms, n, mint, maxt, out, err, errlen);
}
