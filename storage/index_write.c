/* index_write.c — creating, finding and deleting series; merging postings.
 *
 * A series is created by writing its label set (a raw record in
 * index.fresh, appended, since ids only grow) and its hash-table entry
 * (index_hash.c), and by queueing one postings change per label pair, one
 * per label name (its presence list) and one for the all-series list.
 * Rewriting a roaring bitmap costs its whole size, so changes are not
 * applied one series at a time: the queue interns each key once (a hash
 * table; a batch of 10k node_exporter series has a few thousand distinct
 * keys but a hundred thousand changes), and index_flush sorts only the
 * distinct keys, buckets the changes by key, folds each key's ids into the
 * stored bitmap and rewrites every touched record once.  Sorted keys also
 * make the puts walk the B-tree in order.  Because a name's presence key
 * (name 0x00) sorts just before its pairs (name 0x00 value), the flush
 * meets a name's presence first, keeps it open while the name's pairs are
 * merged, counts the values that appeared or vanished, and writes it last
 * with the new value count.  The flush then compresses the series groups
 * the txn finished or deleted from (index_series.c), in the same txn, and
 * frees the writer's buffers.
 *
 * The queue belongs to the txn that holds LMDB's writer lock; it records
 * that txn's id so that a batch never leaks into another txn unnoticed.
 * The next id lives in index.meta and is cached for the txn, written back
 * at flush, so an aborted txn gives its ids out again. */
#include "storage/index_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Canonical bytes of a label set, on the stack when they fit. */
struct index_canon {
    char stack[1024];
    char *p;
    size_t n;
};

/* A label set the index can store: at least one label, names sorted and
 * unique, no empty or 0xFF-containing strings, names of bounded length. */
static bool index_labels_valid(const struct labels *ls)
{
    if (!ls || ls->n == 0)
        return false;
    for (size_t i = 0; i < ls->n; i++) {
        const char *nm = ls->v[i].name, *val = ls->v[i].value;
        if (!nm || !val || !*nm || !*val || strlen(nm) > INDEX_NAME_MAX)
            return false;
        if (strchr(nm, 0xFF) || strchr(val, 0xFF))
            return false;
        if (i > 0 && strcmp(ls->v[i - 1].name, nm) >= 0)
            return false;
    }
    return true;
}

static void index_canon_encode(const struct labels *ls, struct index_canon *c)
{
    size_t n = 0;
    for (size_t i = 0; i < ls->n; i++)
        n += strlen(ls->v[i].name) + strlen(ls->v[i].value) + 2;
    c->p = n <= sizeof c->stack ? c->stack : xmalloc(n);
    c->n = 0;
    for (size_t i = 0; i < ls->n; i++) {
        size_t nl = strlen(ls->v[i].name), vl = strlen(ls->v[i].value);
        memcpy(c->p + c->n, ls->v[i].name, nl);
        c->p[c->n + nl] = (char)0xFF;
        memcpy(c->p + c->n + nl + 1, ls->v[i].value, vl);
        c->p[c->n + nl + 1 + vl] = (char)0xFF;
        c->n += nl + vl + 2;
    }
}

static void index_canon_release(struct index_canon *c)
{
    if (c->p != c->stack)
        free(c->p);
}

/* A label-set lookup: the canonical bytes looked for, and the reader that
 * decodes candidates' groups. */
struct index_find {
    const struct index *ix;
    MDB_txn *txn;
    const char *canon;
    size_t n;
    struct index_labels *scratch;
    uint32_t id;
};

#define INDEX_FIND_HIT (-1) /* stops index_hash_visit; no LMDB or errno code */

static int index_find_visit(void *arg, uint32_t cand)
{
    struct index_find *f = arg;
    const void *p;
    size_t pn;
    int rc = index_series_bytes(f->ix, f->txn, cand, f->scratch, &p, &pn);
    if (rc == MDB_NOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (pn != f->n || memcmp(p, f->canon, pn) != 0)
        return 0; /* a hash clash */
    f->id = cand;
    return INDEX_FIND_HIT;
}

/* 0 and *id if the set with these canonical bytes (hash h) exists,
 * MDB_NOTFOUND if not, or an LMDB error. */
static int index_series_find(const struct index *ix, MDB_txn *txn, uint64_t h, const char *canon,
                             size_t n, struct index_labels *scratch, uint32_t *id)
{
    struct index_find f = {ix, txn, canon, n, scratch, 0};
    int rc = index_hash_visit(ix, txn, index_hash32(h), index_find_visit, &f);
    if (rc == INDEX_FIND_HIT) {
        *id = f.id;
        return 0;
    }
    return rc ? rc : MDB_NOTFOUND;
}

int index_series_lookup(const struct index *ix, MDB_txn *txn, const struct labels *ls, uint32_t *id)
{
    *id = 0;
    if (!index_labels_valid(ls))
        return 0; /* such a set can never have been added */
    struct index_canon c;
    index_canon_encode(ls, &c);
    struct index_labels scratch = INDEX_LABELS_INIT;
    int rc = index_series_find(ix, txn, ix->hash_fn(c.p, c.n), c.p, c.n, &scratch, id);
    index_labels_free(&scratch);
    index_canon_release(&c);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

/* --- The pending queue --------------------------------------------------- */

static uint64_t index_pair_hash(const char *name, size_t nlen, const char *value, size_t vlen)
{
    return XXH3_64bits_withSeed(value, vlen, XXH3_64bits(name, nlen));
}

static bool index_pending_key_is(const struct index_pending *pd, const struct index_pending_key *k,
                                 const char *name, size_t nlen, const char *value, size_t vlen)
{
    const char *b = pd->keys.data + k->off;
    return k->len == nlen + 1 + vlen && memcmp(b, name, nlen) == 0 && b[nlen] == '\0' &&
           memcmp(b + nlen + 1, value, vlen) == 0;
}

/* Doubles the slot table and re-inserts every key. */
static void index_pending_rehash(struct index_pending *pd)
{
    free(pd->slots);
    pd->nslots = pd->nslots ? pd->nslots * 2 : 4096;
    pd->slots = xcalloc(pd->nslots, sizeof *pd->slots);
    for (size_t i = 0; i < pd->nk; i++) {
        const char *b = pd->keys.data + pd->k[i].off;
        size_t nlen = strlen(b);
        uint64_t h = index_pair_hash(b, nlen, b + nlen + 1, pd->k[i].len - nlen - 1);
        size_t j = h & (pd->nslots - 1);
        while (pd->slots[j])
            j = (j + 1) & (pd->nslots - 1);
        pd->slots[j] = (uint32_t)i + 1;
    }
}

/* The index of key name 0x00 value, interned on first use. */
static uint32_t index_pending_key(struct index_pending *pd, const char *name, size_t nlen,
                                  const char *value, size_t vlen)
{
    if (2 * (pd->nk + 1) > pd->nslots)
        index_pending_rehash(pd);
    size_t j = index_pair_hash(name, nlen, value, vlen) & (pd->nslots - 1);
    for (; pd->slots[j]; j = (j + 1) & (pd->nslots - 1))
        if (index_pending_key_is(pd, &pd->k[pd->slots[j] - 1], name, nlen, value, vlen))
            return pd->slots[j] - 1;
    if (pd->nk == pd->kcap) {
        pd->kcap = pd->kcap ? pd->kcap * 2 : 1024;
        pd->k = xrealloc(pd->k, pd->kcap * sizeof *pd->k);
    }
    uint32_t off = (uint32_t)pd->keys.len;
    sbuf_append(&pd->keys, name, nlen);
    sbuf_putc(&pd->keys, '\0');
    sbuf_append(&pd->keys, value, vlen);
    sbuf_putc(&pd->keys, '\0'); /* not part of the key: keeps strlen on the name safe */
    pd->k[pd->nk] = (struct index_pending_key){off, (uint32_t)(nlen + 1 + vlen), 0, 0};
    pd->slots[j] = (uint32_t)pd->nk + 1;
    return (uint32_t)pd->nk++;
}

static void index_pending_push(struct index_pending *pd, const char *name, size_t nlen,
                               const char *value, size_t vlen, uint32_t id, bool del)
{
    uint32_t key = index_pending_key(pd, name, nlen, value, vlen);
    if (pd->nc == pd->ccap) {
        pd->ccap = pd->ccap ? pd->ccap * 2 : 4096;
        pd->c = xrealloc(pd->c, pd->ccap * sizeof *pd->c);
    }
    pd->c[pd->nc++] = (struct index_pending_change){key, id, del};
    pd->k[key].nchanges++;
}

/* Queues the changes for every list series id is on: the all-series list,
 * and for each label its pair and its name's presence. */
static void index_pending_series(struct index_pending *pd, const char *canon, size_t n, uint32_t id,
                                 bool del)
{
    index_pending_push(pd, "", 0, "", 0, id, del);
    const char *p = canon, *end = canon + n;
    while (p < end) {
        const char *ne = memchr(p, 0xFF, (size_t)(end - p));
        const char *ve = ne ? memchr(ne + 1, 0xFF, (size_t)(end - ne - 1)) : NULL;
        if (!ve)
            return;
        index_pending_push(pd, p, (size_t)(ne - p), "", 0, id, del);
        index_pending_push(pd, p, (size_t)(ne - p), ne + 1, (size_t)(ve - ne - 1), id, del);
        p = ve + 1;
    }
}

static void index_pending_clear(struct index_pending *pd)
{
    pd->nk = 0;
    pd->nc = 0;
    pd->ndirty = 0;
    sbuf_reset(&pd->keys);
    if (pd->slots)
        memset(pd->slots, 0, pd->nslots * sizeof *pd->slots);
}

/* Ties the queue to txn, loading the next id on the txn's first write. */
static int index_pending_begin(struct index *ix, MDB_txn *txn)
{
    struct index_pending *pd = &ix->pending;
    size_t tid = mdb_txn_id(txn);
    if (pd->txn_id == tid)
        return 0;
    if (pd->nc > 0)
        return EINVAL; /* an earlier txn was neither flushed nor discarded */
    MDB_val k = {7, "next_id"}, d;
    int rc = mdb_get(txn, ix->meta, &k, &d);
    if (rc == MDB_NOTFOUND) {
        pd->next_id = 1;
    } else if (rc == 0 && d.mv_size == sizeof pd->next_id) {
        memcpy(&pd->next_id, d.mv_data, sizeof pd->next_id);
    } else {
        return rc ? rc : MDB_CORRUPTED;
    }
    pd->first_id = pd->next_id;
    pd->txn_id = tid;
    return 0;
}

void index_discard(struct index *ix)
{
    index_pending_clear(&ix->pending);
    ix->pending.txn_id = 0;
}

/* --- Adding and deleting ------------------------------------------------- */

static int index_series_create(struct index *ix, MDB_txn *txn, const struct index_canon *c,
                               uint64_t h, uint32_t *id)
{
    int rc = index_pending_begin(ix, txn);
    if (rc != 0)
        return rc;
    uint32_t nid = ix->pending.next_id;
    if (nid == 0)
        return ENOSPC; /* 2^32 - 1 series have been created */
    rc = index_series_put(ix, txn, nid, c->p, c->n);
    if (rc == 0)
        rc = index_hash_add(ix, txn, index_hash32(h), nid);
    if (rc != 0)
        return rc;
    index_pending_series(&ix->pending, c->p, c->n, nid, false);
    ix->pending.next_id = nid + 1;
    *id = nid;
    return 0;
}

int index_series_add(struct index *ix, MDB_txn *txn, const struct labels *ls, uint32_t *id,
                     bool *created)
{
    *created = false;
    if (!index_labels_valid(ls))
        return EINVAL;
    struct index_canon c;
    index_canon_encode(ls, &c);
    uint64_t h = ix->hash_fn(c.p, c.n);
    int rc = index_series_find(ix, txn, h, c.p, c.n, &ix->w.scratch, id);
    if (rc == MDB_NOTFOUND) {
        rc = index_series_create(ix, txn, &c, h, id);
        *created = rc == 0;
    }
    index_canon_release(&c);
    return rc;
}

int index_series_delete(struct index *ix, MDB_txn *txn, uint32_t id)
{
    const void *p;
    size_t n;
    int rc = index_series_bytes(ix, txn, id, &ix->w.scratch, &p, &n);
    if (rc == 0)
        rc = index_pending_begin(ix, txn);
    if (rc != 0)
        return rc;
    char *canon = xmalloc(n); /* the map page changes under the deletes below */
    memcpy(canon, p, n);
    rc = index_hash_del(ix, txn, index_hash32(ix->hash_fn(canon, n)), id);
    if (rc == 0 || rc == MDB_NOTFOUND)
        rc = index_series_remove(ix, txn, id);
    if (rc == 0)
        index_pending_series(&ix->pending, canon, n, id, true);
    free(canon);
    return rc;
}

/* --- Flushing ------------------------------------------------------------ */

/* Orders key indexes by their bytes. */
static int index_pending_cmp(const void *a, const void *b, void *arg)
{
    const struct index_pending *pd = arg;
    const struct index_pending_key *x = &pd->k[*(const uint32_t *)a];
    const struct index_pending_key *y = &pd->k[*(const uint32_t *)b];
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(pd->keys.data + x->off, pd->keys.data + y->off, n);
    if (c == 0 && x->len != y->len)
        c = x->len < y->len ? -1 : 1;
    return c;
}

/* A stored record loaded for merging: its bitmap (new, owned) and aux. */
struct index_record {
    const char *name;
    size_t nlen;
    const char *value;
    size_t vlen;
    struct index_pkey key;
    roaring_bitmap_t *bm;
    uint32_t aux;
    bool existed;
};

static int index_record_load(const struct index *ix, MDB_txn *txn, struct index_record *r)
{
    index_pkey_build(&r->key, r->name, r->nlen, r->value, r->vlen);
    MDB_val k = {r->key.n, r->key.b}, d;
    struct index_posting p;
    int rc = mdb_get(txn, ix->postings, &k, &d);
    r->existed = rc == 0;
    r->aux = 0;
    if (rc == MDB_NOTFOUND) {
        r->bm = roaring_bitmap_create();
        return 0;
    }
    if (rc == 0)
        rc = index_posting_decode(&k, &d, r->nlen, &p);
    if (rc != 0)
        return rc;
    if (r->key.is_long && (p.vlen != r->vlen || memcmp(p.value, r->value, r->vlen) != 0))
        return MDB_KEYEXIST; /* two long values with one cut key: 2^-64 */
    r->aux = p.aux;
    r->bm = index_posting_bitmap(&p);
    return r->bm ? 0 : MDB_CORRUPTED;
}

/* Writes r->bm back (or deletes the record if the bitmap is empty) and
 * frees the bitmap.  aux is stored for short keys; long keys store the
 * value's length there. */
static int index_record_store(struct index *ix, MDB_txn *txn, struct index_record *r, uint32_t aux)
{
    MDB_val k = {r->key.n, r->key.b};
    int rc = 0;
    if (roaring_bitmap_is_empty(r->bm)) {
        if (r->existed)
            rc = mdb_del(txn, ix->postings, &k, NULL);
    } else {
        roaring_bitmap_run_optimize(r->bm);
        struct sbuf *b = &ix->w.rec;
        sbuf_reset(b);
        if (r->key.is_long)
            index_posting_encode(r->bm, (uint32_t)r->vlen, r->value, r->vlen, b);
        else
            index_posting_encode(r->bm, aux, NULL, 0, b);
        MDB_val d = {b->len, b->data};
        rc = mdb_put(txn, ix->postings, &k, &d, 0);
    }
    index_bitmap_free(r->bm);
    r->bm = NULL;
    return rc;
}

/* The flush's walk: the presence record of the current name stays open
 * while that name's pairs are merged. */
struct index_flush {
    struct index *ix;
    MDB_txn *txn;
    uint32_t *adds;
    uint32_t *dels;
    struct index_record presence; /* presence.bm == NULL: none open */
    int64_t nvalues;
};

static int index_flush_close_name(struct index_flush *f)
{
    if (!f->presence.bm)
        return 0;
    uint32_t nv = f->nvalues > 0 ? (uint32_t)f->nvalues : 0;
    return index_record_store(f->ix, f->txn, &f->presence, nv);
}

static int index_flush_open_name(struct index_flush *f, const char *name, size_t nlen)
{
    if (f->presence.bm && f->presence.nlen == nlen && memcmp(f->presence.name, name, nlen) == 0)
        return 0;
    int rc = index_flush_close_name(f);
    if (rc != 0)
        return rc;
    f->presence = (struct index_record){.name = name, .nlen = nlen, .value = "", .vlen = 0};
    rc = index_record_load(f->ix, f->txn, &f->presence);
    f->nvalues = f->presence.aux;
    return rc;
}

/* Applies one key's adds and removals. */
static int index_flush_group(struct index_flush *f, const char *lkey, size_t len, size_t nadd,
                             size_t ndel)
{
    const char *sep = memchr(lkey, '\0', len);
    size_t nlen = (size_t)(sep - lkey);
    int rc = index_flush_open_name(f, lkey, nlen);
    if (rc != 0)
        return rc;
    struct index_record *r = &f->presence, pair;
    if (len > nlen + 1) {
        pair = (struct index_record){
            .name = lkey, .nlen = nlen, .value = sep + 1, .vlen = len - nlen - 1};
        r = &pair;
        rc = index_record_load(f->ix, f->txn, r);
        if (rc != 0)
            return rc;
    }
    roaring_bitmap_add_many(r->bm, nadd, f->adds);
    for (size_t i = 0; i < ndel; i++)
        roaring_bitmap_remove(r->bm, f->dels[i]);
    if (r == &f->presence)
        return 0;
    f->nvalues += (int64_t)!roaring_bitmap_is_empty(r->bm) - (int64_t)r->existed;
    return index_record_store(f->ix, f->txn, r, 0);
}

/* Buckets the changes by key (a counting sort) and applies the keys in
 * byte order. */
static int index_flush_groups(struct index_flush *f)
{
    struct index_pending *pd = &f->ix->pending;
    uint32_t *order = xmalloc((pd->nk ? pd->nk : 1) * sizeof *order);
    uint32_t *bucket = xmalloc((pd->nc ? pd->nc : 1) * sizeof *bucket);
    size_t pos = 0;
    for (size_t i = 0; i < pd->nk; i++) {
        order[i] = (uint32_t)i;
        pd->k[i].first = (uint32_t)pos;
        pos += pd->k[i].nchanges;
        pd->k[i].nchanges = 0;
    }
    for (size_t j = 0; j < pd->nc; j++) {
        struct index_pending_key *k = &pd->k[pd->c[j].key];
        bucket[k->first + k->nchanges++] = (uint32_t)j;
    }
    qsort_r(order, pd->nk, sizeof *order, index_pending_cmp, pd);
    int rc = 0;
    for (size_t i = 0; i < pd->nk && rc == 0; i++) {
        const struct index_pending_key *k = &pd->k[order[i]];
        size_t nadd = 0, ndel = 0;
        for (uint32_t j = k->first; j < k->first + k->nchanges; j++) {
            const struct index_pending_change *c = &pd->c[bucket[j]];
            if (c->del)
                f->dels[ndel++] = c->id;
            else
                f->adds[nadd++] = c->id;
        }
        rc = index_flush_group(f, pd->keys.data + k->off, k->len, nadd, ndel);
    }
    free(order);
    free(bucket);
    if (rc == 0)
        rc = index_flush_close_name(f);
    index_bitmap_free(f->presence.bm); /* left open by an error */
    return rc;
}

int index_flush(struct index *ix, MDB_txn *txn)
{
    struct index_pending *pd = &ix->pending;
    if (pd->txn_id == 0)
        return 0;
    if (pd->txn_id != mdb_txn_id(txn))
        return pd->nc ? EINVAL : 0;
    struct index_flush f = {.ix = ix, .txn = txn};
    f.adds = xmalloc((pd->nc ? pd->nc : 1) * sizeof *f.adds);
    f.dels = xmalloc((pd->nc ? pd->nc : 1) * sizeof *f.dels);
    int rc = index_flush_groups(&f);
    free(f.adds);
    free(f.dels);
    if (rc == 0)
        rc = index_groups_compact(ix, txn);
    if (rc == 0) {
        MDB_val k = {7, "next_id"}, d = {sizeof pd->next_id, &pd->next_id};
        rc = mdb_put(txn, ix->meta, &k, &d, 0);
    }
    index_pending_clear(pd);
    pd->first_id = pd->next_id; /* a second flush in the txn redoes nothing */
    index_writer_release(&ix->w);
    return rc;
}

/* ---- repacking ---- */

int index_dbi_rewrite(MDB_txn *txn, MDB_dbi dbi,
                      int (*fix)(const MDB_val *key, const MDB_val *val, struct sbuf *out))
{
    MDB_cursor *c;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc != 0)
        return rc;
    struct sbuf all = SBUF_INIT; /* (u32 klen, u32 vlen, key, value)... */
    size_t n = 0;
    MDB_val k, v;
    while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
        uint32_t len[2] = {(uint32_t)k.mv_size, (uint32_t)v.mv_size};
        size_t at = all.len;
        sbuf_append(&all, len, sizeof len);
        sbuf_append(&all, k.mv_data, k.mv_size);
        if (!fix) {
            sbuf_append(&all, v.mv_data, v.mv_size);
        } else if ((rc = fix(&k, &v, &all)) != 0) {
            break;
        } else {
            len[1] = (uint32_t)(all.len - at - sizeof len - k.mv_size);
            memcpy(all.data + at, len, sizeof len);
        }
        n++;
    }
    mdb_cursor_close(c);
    if (rc == MDB_NOTFOUND)
        rc = n ? mdb_drop(txn, dbi, 0) : 0;
    for (size_t at = 0, i = 0; rc == 0 && i < n; i++) {
        uint32_t len[2];
        memcpy(len, all.data + at, sizeof len);
        k = (MDB_val){len[0], all.data + at + sizeof len};
        v = (MDB_val){len[1], all.data + at + sizeof len + len[0]};
        at += sizeof len + len[0] + len[1];
        rc = mdb_put(txn, dbi, &k, &v, MDB_APPEND);
    }
    sbuf_free(&all);
    return rc;
}

/* Keys put in batches into the middle of the tree (postings) or in random
 * order (hashes) leave leaves about 60 % full; rewriting each DBI in key
 * order with MDB_APPEND fills every leaf, and the series DBI gets its
 * unfinished group compressed too. */
int index_repack(struct index *ix, MDB_txn *txn)
{
    int rc = index_dbi_rewrite(txn, ix->postings, NULL);
    if (rc == 0)
        rc = index_hash_repack(ix, txn);
    if (rc == 0)
        rc = index_series_repack(ix, txn);
    index_writer_release(&ix->w);
    return rc;
}
