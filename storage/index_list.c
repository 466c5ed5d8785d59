/* index_list.c — label names, label values and cardinality statistics.
 *
 * All three read the postings DBI directly.  Its keys sort by name, then
 * value, and each name's first key is its presence record, so the label
 * names are found by seeking from one name to the next (name 0x01 is the
 * smallest key above every name 0x00 ... key), touching one record per
 * name; a name's values are one range scan.  Restricted by matchers, a name
 * is kept if its presence list meets the selection, and a value if its
 * postings do — unless the selection is much smaller than the name's value
 * count, in which case the selected series' own labels are read instead.
 *
 * The statistics need no bitmap at all: every record carries its
 * cardinality, and presence records their value count, so one pass over
 * the keys keeps bounded top-N lists. */
#include "storage/index_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Series-side listing when selection * RATIO < number of values. */
#define INDEX_LIST_SERIES_RATIO 4

/* --- String lists -------------------------------------------------------- */

void index_strings_push(struct index_strings *s, const char *p, size_t n)
{
    sbuf_append(&s->buf, p, n);
    sbuf_putc(&s->buf, '\0');
    s->n++;
}

static int index_strings_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void index_strings_finish(struct index_strings *s, bool sort_dedup)
{
    free(s->v);
    s->v = xmalloc((s->n ? s->n : 1) * sizeof *s->v);
    char *p = s->buf.data;
    for (size_t i = 0; i < s->n; i++, p += strlen(p) + 1)
        s->v[i] = p;
    if (!sort_dedup || s->n < 2)
        return;
    qsort(s->v, s->n, sizeof *s->v, index_strings_cmp);
    size_t k = 1;
    for (size_t i = 1; i < s->n; i++)
        if (strcmp(s->v[i], s->v[k - 1]) != 0)
            s->v[k++] = s->v[i];
    s->n = k;
}

void index_strings_free(struct index_strings *s)
{
    free(s->v);
    sbuf_free(&s->buf);
    *s = (struct index_strings)INDEX_STRINGS_INIT;
}

/* --- Label names --------------------------------------------------------- */

/* Whether the bitmap of record p shares a series with sel. */
static int index_posting_meets(const struct index_posting *p, const roaring_bitmap_t *sel,
                               bool *meets)
{
    roaring_bitmap_t *b = index_posting_bitmap(p);
    if (!b)
        return MDB_CORRUPTED;
    *meets = roaring_bitmap_intersect(b, sel);
    index_bitmap_free(b);
    return 0;
}

/* Visits the first record of every name (its presence record). */
static int index_names_walk(const struct index *ix, MDB_txn *txn, const roaring_bitmap_t *sel,
                            struct index_strings *out)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open(txn, ix->postings, &cur);
    if (rc != 0)
        return rc;
    unsigned char next[INDEX_NAME_MAX + 2];
    MDB_val k, d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
    while (rc == 0) {
        const char *sep = memchr(k.mv_data, '\0', k.mv_size);
        size_t nlen = sep ? (size_t)(sep - (const char *)k.mv_data) : 0;
        if (!sep || nlen > INDEX_NAME_MAX) {
            rc = MDB_CORRUPTED;
            break;
        }
        bool keep = nlen > 0;
        struct index_posting p;
        if (keep && sel && (rc = index_posting_decode(&k, &d, nlen, &p)) == 0)
            rc = index_posting_meets(&p, sel, &keep);
        if (rc != 0)
            break;
        if (keep)
            index_strings_push(out, k.mv_data, nlen);
        memcpy(next, k.mv_data, nlen);
        next[nlen] = 0x01;
        k = (MDB_val){nlen + 1, next};
        rc = mdb_cursor_get(cur, &k, &d, MDB_SET_RANGE);
    }
    mdb_cursor_close(cur);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* sel = the series matching ms, or NULL when n == 0. */
static int index_list_select(const struct index *ix, MDB_txn *txn, const struct label_matcher *ms,
                             size_t n, roaring_bitmap_t **sel, char *err, size_t errlen)
{
    *sel = NULL;
    return n ? index_select(ix, txn, ms, n, sel, err, errlen) : 0;
}

int index_label_names(const struct index *ix, MDB_txn *txn, const struct label_matcher *ms,
                      size_t n, struct index_strings *out, char *err, size_t errlen)
{
    roaring_bitmap_t *sel;
    if (index_list_select(ix, txn, ms, n, &sel, err, errlen) < 0)
        return -1;
    int rc = index_names_walk(ix, txn, sel, out);
    index_bitmap_free(sel);
    index_strings_finish(out, false);
    if (rc != 0) {
        snprintf(err, errlen, "index: label names: %s", mdb_strerror(rc));
        return -1;
    }
    return 0;
}

/* --- Label values -------------------------------------------------------- */

static int index_values_walk(const struct index *ix, MDB_txn *txn, const char *name,
                             const roaring_bitmap_t *sel, struct index_strings *out, bool *unsorted)
{
    struct index_value_iter it;
    int rc = index_value_iter_open(ix, txn, name, "", 0, &it);
    struct index_posting p;
    size_t room = index_pkey_value_room(strlen(name));
    while (rc == 0 && (rc = index_value_iter_next(&it, &p)) == 0) {
        bool keep = true;
        if (sel && (rc = index_posting_meets(&p, sel, &keep)) != 0)
            break;
        if (keep)
            index_strings_push(out, p.value, p.vlen);
        *unsorted |= p.vlen > room; /* long values sharing a cut key come in hash order */
    }
    index_value_iter_close(&it);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* Reads name's value from each selected series. */
static int index_values_from_series(const struct index *ix, MDB_txn *txn, const char *name,
                                    const roaring_bitmap_t *sel, struct index_strings *out)
{
    roaring_uint32_iterator_t it;
    roaring_init_iterator(sel, &it);
    size_t nlen = strlen(name);
    struct index_labels scratch = INDEX_LABELS_INIT;
    int rc = 0;
    for (; rc == 0 && it.has_value; roaring_advance_uint32_iterator(&it)) {
        const void *canon;
        size_t cn;
        rc = index_series_bytes(ix, txn, it.current_value, &scratch, &canon, &cn);
        if (rc == MDB_NOTFOUND) {
            rc = 0;
            continue;
        }
        const char *v;
        size_t vlen;
        if (rc == 0)
            index_canon_find(canon, cn, name, nlen, &v, &vlen);
        if (rc == 0 && vlen > 0)
            index_strings_push(out, v, vlen);
    }
    index_labels_free(&scratch);
    return rc;
}

int index_label_values(const struct index *ix, MDB_txn *txn, const char *name,
                       const struct label_matcher *ms, size_t n, struct index_strings *out,
                       char *err, size_t errlen)
{
    size_t nlen = strlen(name);
    if (nlen == 0 || nlen > INDEX_NAME_MAX) {
        index_strings_finish(out, false);
        return 0; /* no series has such a label */
    }
    roaring_bitmap_t *sel;
    if (index_list_select(ix, txn, ms, n, &sel, err, errlen) < 0)
        return -1;
    struct index_posting presence;
    int rc = index_posting_get(ix, txn, name, nlen, "", 0, &presence);
    bool unsorted = false;
    if (rc == 0 && sel &&
        roaring_bitmap_get_cardinality(sel) * INDEX_LIST_SERIES_RATIO < presence.aux) {
        rc = index_values_from_series(ix, txn, name, sel, out);
        unsorted = true;
    } else if (rc == 0) {
        rc = index_values_walk(ix, txn, name, sel, out, &unsorted);
    }
    index_bitmap_free(sel);
    index_strings_finish(out, unsorted);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        snprintf(err, errlen, "index: values of label %s: %s", name, mdb_strerror(rc));
        return -1;
    }
    return 0;
}

/* --- Statistics ---------------------------------------------------------- */

/* A bounded list of the largest counts; equal counts keep arrival order. */
struct index_topn {
    struct index_stat_list *list;
    size_t limit;
};

static void index_topn_offer(struct index_topn *t, const char *a, size_t alen, const char *b,
                             size_t blen, uint64_t count)
{
    struct index_stat_list *l = t->list;
    if (t->limit == 0 || (l->n == t->limit && count <= l->v[l->n - 1].count))
        return;
    if (!l->v)
        l->v = xcalloc(t->limit, sizeof *l->v);
    size_t pos = l->n;
    while (pos > 0 && l->v[pos - 1].count < count)
        pos--;
    if (l->n == t->limit)
        free(l->v[--l->n].name);
    memmove(l->v + pos + 1, l->v + pos, (l->n - pos) * sizeof *l->v);
    l->n++;
    char *name = xmalloc(alen + (b ? blen + 1 : 0) + 1);
    memcpy(name, a, alen);
    if (b) {
        name[alen] = '=';
        memcpy(name + alen + 1, b, blen);
    }
    name[alen + (b ? blen + 1 : 0)] = '\0';
    l->v[pos] = (struct index_stat){name, count};
}

struct index_stats_walk {
    struct index_stats *out;
    struct index_topn metric, values, bytes, pair;
    char name[INDEX_NAME_MAX + 1]; /* the name whose pairs are being summed */
    size_t nlen;
    uint64_t name_bytes;
};

static void index_stats_name_end(struct index_stats_walk *w)
{
    if (w->nlen > 0)
        index_topn_offer(&w->bytes, w->name, w->nlen, NULL, 0, w->name_bytes);
    w->nlen = 0;
    w->name_bytes = 0;
}

static void index_stats_record(struct index_stats_walk *w, const MDB_val *k, size_t nlen,
                               const struct index_posting *p)
{
    const char *name = k->mv_data;
    if (nlen == 0) {
        w->out->num_series = p->card;
        return;
    }
    if (k->mv_size == nlen + 1) { /* presence: a new name starts */
        index_stats_name_end(w);
        memcpy(w->name, name, nlen);
        w->nlen = nlen;
        index_topn_offer(&w->values, name, nlen, NULL, 0, p->aux);
        return;
    }
    w->out->num_label_pairs++;
    w->name_bytes += (uint64_t)p->vlen * p->card;
    index_topn_offer(&w->pair, name, nlen, p->value, p->vlen, p->card);
    if (nlen == 8 && memcmp(name, "__name__", 8) == 0)
        index_topn_offer(&w->metric, p->value, p->vlen, NULL, 0, p->card);
}

int index_stats_get(const struct index *ix, MDB_txn *txn, size_t limit, struct index_stats *out,
                    char *err, size_t errlen)
{
    *out = (struct index_stats){0};
    struct index_stats_walk w = {.out = out};
    w.metric = (struct index_topn){&out->series_by_metric, limit};
    w.values = (struct index_topn){&out->values_by_name, limit};
    w.bytes = (struct index_topn){&out->bytes_by_name, limit};
    w.pair = (struct index_topn){&out->series_by_pair, limit};
    MDB_cursor *cur = NULL;
    int rc = mdb_cursor_open(txn, ix->postings, &cur);
    MDB_val k, d;
    if (rc == 0)
        rc = mdb_cursor_get(cur, &k, &d, MDB_FIRST);
    while (rc == 0) {
        const char *sep = memchr(k.mv_data, '\0', k.mv_size);
        size_t nlen = sep ? (size_t)(sep - (const char *)k.mv_data) : INDEX_NAME_MAX + 1;
        struct index_posting p;
        rc = nlen > INDEX_NAME_MAX ? MDB_CORRUPTED : index_posting_decode(&k, &d, nlen, &p);
        if (rc != 0)
            break;
        index_stats_record(&w, &k, nlen, &p);
        rc = mdb_cursor_get(cur, &k, &d, MDB_NEXT);
    }
    index_stats_name_end(&w);
    if (cur)
        mdb_cursor_close(cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        snprintf(err, errlen, "index: statistics: %s", mdb_strerror(rc));
        index_stats_free(out);
        return -1;
    }
    return 0;
}

static void index_stat_list_free(struct index_stat_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i].name);
    free(l->v);
    *l = (struct index_stat_list){NULL, 0};
}

void index_stats_free(struct index_stats *s)
{
    index_stat_list_free(&s->series_by_metric);
    index_stat_list_free(&s->values_by_name);
    index_stat_list_free(&s->bytes_by_name);
    index_stat_list_free(&s->series_by_pair);
}
