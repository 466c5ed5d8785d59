/* The series index: ids, postings and Prometheus matcher semantics.
 *
 * The central test is differential: thousands of random label sets go into
 * the index and into a plain array, and hundreds of random selectors (all
 * four matcher types, empty values, alternations, prefixes, .*, .+, classes,
 * regexes that match "") are resolved by index_select and by evaluating
 * every matcher on every series of the array, with PCRE2 anchored by hand.
 * Label name and value listings are checked the same way, and every
 * series' label set, lookup and existence after each batch.  Around it:
 * lookups, hash collisions, long values, deletes, persistence, aborted
 * txns, statistics, readers running while a writer commits batches, and
 * the on-disk format: series groups filled across txns and thinned by
 * deletes, the packed hash table's splits, postings encodings, repacking,
 * and migrating a format-1 index built record by record. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <errno.h>
#include <pcre2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "storage/index_internal.h"

/* --- Environment --------------------------------------------------------- */

struct fx {
    char dir[64];
    MDB_env *env;
    struct index *ix;
};

static void fx_open(struct fx *f)
{
    if (!f->dir[0]) {
        strcpy(f->dir, "/tmp/vigil-index-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
    }
    assert_int_equal(mdb_env_create(&f->env), 0);
    assert_int_equal(mdb_env_set_mapsize(f->env, 1ULL << 30), 0);
    assert_int_equal(mdb_env_set_maxdbs(f->env, 16), 0);
    assert_int_equal(mdb_env_open(f->env, f->dir, MDB_NOTLS, 0644), 0);
    MDB_txn *txn;
    char err[256] = "";
    assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
    if (index_open(txn, &f->ix, err, sizeof err) != 0)
        fail_msg("index_open: %s", err);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

static void fx_close(struct fx *f)
{
    index_free(f->ix);
    mdb_env_close(f->env);
    f->ix = NULL;
    f->env = NULL;
}

static void fx_destroy(struct fx *f)
{
    fx_close(f);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
}

static MDB_txn *txn_write(struct fx *f)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->env, NULL, 0, &txn), 0);
    return txn;
}

static MDB_txn *txn_read(struct fx *f)
{
    MDB_txn *txn;
    assert_int_equal(mdb_txn_begin(f->env, NULL, MDB_RDONLY, &txn), 0);
    return txn;
}

static void txn_commit(struct fx *f, MDB_txn *txn)
{
    assert_int_equal(index_flush(f->ix, txn), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

/* Builds a label set from "name", "value", ... pairs (already sorted). */
static struct labels mk(struct label *buf, size_t n, const char **kv)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (struct label){kv[2 * i], kv[2 * i + 1]};
    return (struct labels){buf, n};
}

static uint32_t add(struct fx *f, MDB_txn *txn, const struct labels *ls, bool want_created)
{
    uint32_t id = 0;
    bool created;
    assert_int_equal(index_series_add(f->ix, txn, ls, &id, &created), 0);
    assert_int_equal(created, want_created);
    return id;
}

static uint64_t select_card(struct fx *f, MDB_txn *txn, const struct label_matcher *ms, size_t n)
{
    roaring_bitmap_t *b;
    char err[256] = "";
    assert_int_equal(index_select(f->ix, txn, ms, n, &b, err, sizeof err), 0);
    uint64_t c = roaring_bitmap_get_cardinality(b);
    roaring_bitmap_free(b);
    return c;
}

/* --- The model: the same series in an array ------------------------------ */

#define MAX_LABELS 10

struct mseries {
    struct label v[MAX_LABELS];
    size_t n;
    uint32_t id;
    bool live;
};

struct model {
    struct mseries *s;
    size_t n;
};

static uint64_t rng_state = 88172645463325252ULL;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

/* Label names in sorted order, with their value pools. */
static const char *const metric_names[] = {"up",
                                           "http_requests_total",
                                           "node_cpu_seconds_total",
                                           "node_cpu_guest_seconds_total",
                                           "node_memory_MemFree_bytes",
                                           "go_gc_duration_seconds"};
static const char *const pool_cpu[] = {"0", "1", "2", "3", "10", "11"};
static const char *const pool_instance[] = {"host-1:9100",  "host-2:9100",  "host-3:9100",
                                            "host-10:9100", "host-11:9100", "db-1:9187",
                                            "db-2:9187",    "web-1:8080"};
static const char *const pool_job[] = {"node", "api", "db", "web", "apiserver"};
static const char *const pool_le[] = {"0.1", "0.5", "1", "+Inf"};
static const char *const pool_mode[] = {"idle", "user", "system", "iowait", "irq"};
static const char *const pool_path[] = {"/", "/api", "/api/v1", "/apix", "/a\nb", "/\xc3\xbc"};
static char serial_buf[400][8];
static const char *pool_serial[400]; /* s000 ... s399, filled by main */
static const char *const pool_zone[] = {"eu-1", "eu-2", "us-1", "us-east-1", "EU-1"};

struct pool {
    const char *name;
    const char *const *v;
    size_t n;
    unsigned percent; /* how often a series has the label */
};

#define POOL(name, arr, pct)                                                                       \
    {                                                                                              \
        name, arr, sizeof arr / sizeof *arr, pct                                                   \
    }
static const struct pool pools[] = {
    POOL("__name__", metric_names, 97),
    POOL("cpu", pool_cpu, 40),
    POOL("instance", pool_instance, 90),
    POOL("job", pool_job, 85),
    POOL("le", pool_le, 25),
    POOL("mode", pool_mode, 45),
    POOL("path", pool_path, 30),
    POOL("serial", pool_serial, 60),
    POOL("zone", pool_zone, 50),
};
#define NPOOLS (sizeof pools / sizeof *pools)

static void model_random_set(struct mseries *s)
{
    do {
        s->n = 0;
        for (size_t p = 0; p < NPOOLS; p++)
            if (rnd(100) < pools[p].percent)
                s->v[s->n++] = (struct label){pools[p].name, pools[p].v[rnd((uint32_t)pools[p].n)]};
    } while (s->n == 0);
}

static bool mseries_same(const struct mseries *a, const struct mseries *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, b->v[i].name) || strcmp(a->v[i].value, b->v[i].value))
            return false;
    return true;
}

static const char *mseries_get(const struct mseries *s, const char *name)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].name, name) == 0)
            return s->v[i].value;
    return "";
}

/* Adds `count` random sets in batches, checking ids against the model. */
static void model_fill(struct fx *f, struct model *m, size_t count, size_t batch)
{
    m->s = realloc(m->s, (m->n + count) * sizeof *m->s);
    MDB_txn *txn = NULL;
    for (size_t k = 0; k < count; k++) {
        if (!txn)
            txn = txn_write(f);
        struct mseries s = {0};
        model_random_set(&s);
        struct labels ls = {s.v, s.n};
        bool created;
        assert_int_equal(index_series_add(f->ix, txn, &ls, &s.id, &created), 0);
        size_t found = m->n;
        for (size_t i = 0; i < m->n; i++)
            if (m->s[i].live && mseries_same(&m->s[i], &s))
                found = i;
        assert_int_equal(created, found == m->n);
        if (found < m->n) {
            assert_int_equal(s.id, m->s[found].id);
        } else {
            s.live = true;
            m->s[m->n++] = s;
        }
        if ((k + 1) % batch == 0 || k + 1 == count) {
            txn_commit(f, txn);
            txn = NULL;
        }
    }
}

/* --- Brute force --------------------------------------------------------- */

struct bmatcher {
    struct label_matcher m;
    pcre2_code *re;
    pcre2_match_data *md;
};

static bool bmatcher_init(struct bmatcher *b, const struct label_matcher *m)
{
    b->m = *m;
    b->re = NULL;
    b->md = NULL;
    if (m->type == LABEL_MATCH_EQ || m->type == LABEL_MATCH_NEQ)
        return true;
    char pat[512];
    snprintf(pat, sizeof pat, "^(?:%s)\\z", m->value);
    int ec;
    PCRE2_SIZE off;
    b->re = pcre2_compile((PCRE2_SPTR)pat, PCRE2_ZERO_TERMINATED, PCRE2_DOTALL | PCRE2_UTF, &ec,
                          &off, NULL);
    if (!b->re)
        return false;
    b->md = pcre2_match_data_create_from_pattern(b->re, NULL);
    return true;
}

static void bmatcher_free(struct bmatcher *b)
{
    pcre2_match_data_free(b->md);
    pcre2_code_free(b->re);
}

static bool bmatcher_match(const struct bmatcher *b, const char *v)
{
    switch (b->m.type) {
    case LABEL_MATCH_EQ:
        return strcmp(v, b->m.value) == 0;
    case LABEL_MATCH_NEQ:
        return strcmp(v, b->m.value) != 0;
    case LABEL_MATCH_RE:
        return pcre2_match(b->re, (PCRE2_SPTR)v, strlen(v), 0, 0, b->md, NULL) >= 0;
    case LABEL_MATCH_NRE:
        return pcre2_match(b->re, (PCRE2_SPTR)v, strlen(v), 0, 0, b->md, NULL) < 0;
    }
    return false;
}

/* The live series matching every matcher, as a bitmap. */
static roaring_bitmap_t *brute_select(const struct model *m, const struct label_matcher *ms,
                                      size_t n)
{
    struct bmatcher b[8];
    for (size_t j = 0; j < n; j++)
        assert_true(bmatcher_init(&b[j], &ms[j]));
    roaring_bitmap_t *r = roaring_bitmap_create();
    for (size_t i = 0; i < m->n; i++) {
        if (!m->s[i].live)
            continue;
        bool ok = true;
        for (size_t j = 0; j < n && ok; j++)
            ok = bmatcher_match(&b[j], mseries_get(&m->s[i], ms[j].name));
        if (ok)
            roaring_bitmap_add(r, m->s[i].id);
    }
    for (size_t j = 0; j < n; j++)
        bmatcher_free(&b[j]);
    return r;
}

/* --- Random selectors ---------------------------------------------------- */

/* clang-format off */
static const char *const regex_templates[] = {
    ".*", ".+", "", "node_cpu.*", "node_.*", "host-1.*", "host-1:9100|db-1:9187", "api|web",
    "api|web|", "|idle", "(idle|user)", "[a-h].*", "[0-9]+", "1.*", ".*-1", ".*:9100", "/api.*",
    "\\/api", "/a.b", "/.+", "(?i)eu-1", "EU.*", "x*", "h.*|d.*", "up", "u.", "(up|go_.*)",
    "\\+Inf|0\\.5", "0.5", "i(dle|rq)", "[^i].*", "nonexistent", ".*e.*", "/\xc3\xbc", "/.", "a^",
    ".?", "s[0-3]7.*", ".*9", "s.*5|s00.", "s1.*", "host-1:9100", "user|system|iowait|irq|idle",
};
/* clang-format on */
#define NTEMPLATES (sizeof regex_templates / sizeof *regex_templates)

/* Quotes a pool value's regex metacharacters into buf. */
static const char *regex_quote(const char *v, char *buf)
{
    char *o = buf;
    for (; *v; v++) {
        if (strchr(".+*?()[]{}^$|\\", *v))
            *o++ = '\\';
        *o++ = *v;
    }
    *o = '\0';
    return buf;
}

static void random_matcher(struct label_matcher *m, char *buf)
{
    size_t p = rnd(NPOOLS + 1);
    m->name = p < NPOOLS ? pools[p].name : "absent";
    m->type = (enum label_match_type)rnd(4);
    if (m->type == LABEL_MATCH_EQ || m->type == LABEL_MATCH_NEQ) {
        uint32_t r = rnd(10);
        m->value = r < 2                  ? ""
                   : r < 3 || p == NPOOLS ? "nope"
                                          : pools[p].v[rnd((uint32_t)pools[p].n)];
    } else {
        uint32_t r = rnd(10);
        m->value = r < 2 && p < NPOOLS ? regex_quote(pools[p].v[rnd((uint32_t)pools[p].n)], buf)
                                       : regex_templates[rnd(NTEMPLATES)];
    }
}

/* A narrow selection plus a general regex on the 400-value label, the
 * case where the regex is tested on the series instead of the values. */
static const char *const serial_regexes[] = {"s[0-3]7.*", ".*9",    "s.*5|s00.", "[0-9]+",
                                             "s.(1|2).*", "|s1.*7", "s\\d+"};

static size_t narrow_selector(struct label_matcher *ms)
{
    static const size_t narrow[] = {1, 2, 3}; /* cpu, instance, job */
    size_t n = 0;
    for (size_t i = 0; i < 3; i++) {
        const struct pool *p = &pools[narrow[i]];
        ms[n++] = (struct label_matcher){LABEL_MATCH_EQ, p->name, p->v[rnd((uint32_t)p->n)]};
    }
    ms[n++] =
        (struct label_matcher){(enum label_match_type)(LABEL_MATCH_RE + rnd(2)), "serial",
                               serial_regexes[rnd(sizeof serial_regexes / sizeof *serial_regexes)]};
    return n;
}

static const char *const type_str[] = {"=", "!=", "=~", "!~"};

static void print_selector(const struct label_matcher *ms, size_t n)
{
    fprintf(stderr, "selector {");
    for (size_t j = 0; j < n; j++)
        fprintf(stderr, "%s%s%s\"%s\"", j ? ", " : "", ms[j].name, type_str[ms[j].type],
                ms[j].value);
    fprintf(stderr, "}\n");
}

static void check_select(struct fx *f, MDB_txn *txn, const struct model *m,
                         const struct label_matcher *ms, size_t n)
{
    roaring_bitmap_t *got, *want = brute_select(m, ms, n);
    char err[256] = "";
    int rc = index_select(f->ix, txn, ms, n, &got, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "index_select: %s\n", err);
    assert_int_equal(rc, 0);
    if (!roaring_bitmap_equals(got, want)) {
        print_selector(ms, n);
        fprintf(stderr, "index: %llu series, brute force: %llu\n",
                (unsigned long long)roaring_bitmap_get_cardinality(got),
                (unsigned long long)roaring_bitmap_get_cardinality(want));
    }
    assert_true(roaring_bitmap_equals(got, want));
    roaring_bitmap_free(got);
    roaring_bitmap_free(want);
}

/* Label names of the series in sel (all live series if sel is NULL). */
static void check_names(struct fx *f, MDB_txn *txn, const struct model *m,
                        const struct label_matcher *ms, size_t n, const roaring_bitmap_t *sel)
{
    struct index_strings got = INDEX_STRINGS_INIT;
    char err[256] = "";
    assert_int_equal(index_label_names(f->ix, txn, ms, n, &got, err, sizeof err), 0);
    size_t k = 0;
    for (size_t p = 0; p < NPOOLS; p++) {
        bool seen = false;
        for (size_t i = 0; i < m->n && !seen; i++)
            seen = m->s[i].live && (!sel || roaring_bitmap_contains(sel, m->s[i].id)) &&
                   *mseries_get(&m->s[i], pools[p].name);
        if (!seen)
            continue;
        assert_true(k < got.n);
        assert_string_equal(got.v[k], pools[p].name);
        k++;
    }
    assert_int_equal(k, got.n);
    index_strings_free(&got);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void check_values(struct fx *f, MDB_txn *txn, const struct model *m, size_t p,
                         const struct label_matcher *ms, size_t n, const roaring_bitmap_t *sel)
{
    const char *want[400];
    size_t nw = 0;
    for (size_t v = 0; v < pools[p].n; v++) {
        bool seen = false;
        for (size_t i = 0; i < m->n && !seen; i++)
            seen = m->s[i].live && (!sel || roaring_bitmap_contains(sel, m->s[i].id)) &&
                   strcmp(mseries_get(&m->s[i], pools[p].name), pools[p].v[v]) == 0;
        if (seen)
            want[nw++] = pools[p].v[v];
    }
    qsort(want, nw, sizeof *want, cmp_str);
    struct index_strings got = INDEX_STRINGS_INIT;
    char err[256] = "";
    assert_int_equal(index_label_values(f->ix, txn, pools[p].name, ms, n, &got, err, sizeof err),
                     0);
    assert_int_equal(got.n, nw);
    for (size_t i = 0; i < nw; i++)
        assert_string_equal(got.v[i], want[i]);
    index_strings_free(&got);
}

static size_t model_live(const struct model *m)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += m->s[i].live;
    return n;
}

/* Every series of the model, live or deleted: its label set, existence
 * and lookup by labels, in txn. */
static void check_series(struct fx *f, MDB_txn *txn, const struct model *m)
{
    struct index_labels out = INDEX_LABELS_INIT;
    for (size_t i = 0; i < m->n; i++) {
        const struct mseries *s = &m->s[i];
        int rc = index_series_labels(f->ix, txn, s->id, &out);
        assert_int_equal(rc, s->live ? 0 : MDB_NOTFOUND);
        assert_int_equal(index_series_exists(f->ix, txn, s->id), rc);
        uint32_t id;
        struct labels ls = {(struct label *)s->v, s->n};
        assert_int_equal(index_series_lookup(f->ix, txn, &ls, &id), 0);
        if (!s->live)
            continue;
        assert_int_equal(id, s->id);
        assert_int_equal(out.ls.n, s->n);
        for (size_t j = 0; j < s->n; j++) {
            assert_string_equal(out.ls.v[j].name, s->v[j].name);
            assert_string_equal(out.ls.v[j].value, s->v[j].value);
        }
    }
    index_labels_free(&out);
}

/* Random selectors and listings against the model. */
static void check_random(struct fx *f, const struct model *m, int queries, int listings)
{
    MDB_txn *txn = txn_read(f);
    check_series(f, txn, m);
    struct label_matcher ms[4];
    char bufs[4][64];
    for (int q = 0; q < queries; q++) {
        size_t n = 1 + rnd(3);
        for (size_t j = 0; j < n; j++)
            random_matcher(&ms[j], bufs[j]);
        check_select(f, txn, m, ms, n);
        if (q % 4 == 0)
            check_select(f, txn, m, ms, narrow_selector(ms));
    }
    check_names(f, txn, m, NULL, 0, NULL);
    for (size_t p = 0; p < NPOOLS; p++)
        check_values(f, txn, m, p, NULL, 0, NULL);
    for (int q = 0; q < listings; q++) {
        size_t n = 1 + rnd(2);
        for (size_t j = 0; j < n; j++)
            random_matcher(&ms[j], bufs[j]);
        roaring_bitmap_t *sel = brute_select(m, ms, n);
        check_names(f, txn, m, ms, n, sel);
        check_values(f, txn, m, rnd(NPOOLS), ms, n, sel);
        roaring_bitmap_free(sel);
    }
    assert_int_equal(index_series_count(f->ix, txn), model_live(m));
    mdb_txn_abort(txn);
}

/* --- Tests --------------------------------------------------------------- */

/* Selectors every Prometheus user writes, spelled out. */
static void test_select_semantics_by_example(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    struct label l[3];
    MDB_txn *txn = txn_write(&f);
    struct labels a = mk(l, 2, (const char *[]){"__name__", "up", "job", "api"});
    uint32_t ida = add(&f, txn, &a, true);
    struct labels b = mk(l, 2, (const char *[]){"__name__", "up", "job", "web"});
    uint32_t idb = add(&f, txn, &b, true);
    struct labels c = mk(l, 1, (const char *[]){"__name__", "up"});
    uint32_t idc = add(&f, txn, &c, true);
    struct labels d = mk(l, 2, (const char *[]){"__name__", "down", "job", "api"});
    uint32_t idd = add(&f, txn, &d, true);
    assert_int_equal(ida, 1);
    assert_int_equal(idb, 2);
    assert_int_equal(idc, 3);
    assert_int_equal(idd, 4);
    txn_commit(&f, txn);

    txn = txn_read(&f);
    struct label_matcher up = {LABEL_MATCH_EQ, "__name__", "up"};
    struct label_matcher ms[2] = {up, {LABEL_MATCH_EQ, "job", ""}};
    assert_int_equal(select_card(&f, txn, ms, 2), 1); /* up without job */
    ms[1] = (struct label_matcher){LABEL_MATCH_NEQ, "job", "api"};
    assert_int_equal(select_card(&f, txn, ms, 2), 2); /* web, and the one without job */
    ms[1] = (struct label_matcher){LABEL_MATCH_NEQ, "job", ""};
    assert_int_equal(select_card(&f, txn, ms, 2), 2); /* has a job */
    ms[1] = (struct label_matcher){LABEL_MATCH_RE, "job", "api|"};
    assert_int_equal(select_card(&f, txn, ms, 2), 2); /* api, and no job */
    ms[1] = (struct label_matcher){LABEL_MATCH_NRE, "job", "a.*"};
    assert_int_equal(select_card(&f, txn, ms, 2), 2);
    ms[1] = (struct label_matcher){LABEL_MATCH_RE, "job", ".+"};
    assert_int_equal(select_card(&f, txn, ms, 2), 2);
    ms[1] = (struct label_matcher){LABEL_MATCH_RE, "job", ".*"};
    assert_int_equal(select_card(&f, txn, ms, 2), 3);
    ms[1] = (struct label_matcher){LABEL_MATCH_RE, "job", "ap"}; /* anchored */
    assert_int_equal(select_card(&f, txn, ms, 2), 0);
    ms[0] = (struct label_matcher){LABEL_MATCH_EQ, "nolabel", ""};
    assert_int_equal(select_card(&f, txn, ms, 1), 4); /* only empty-matching: all series */
    assert_int_equal(select_card(&f, txn, NULL, 0), 4);
    ms[0] = (struct label_matcher){LABEL_MATCH_EQ, "", "x"};
    assert_int_equal(select_card(&f, txn, ms, 1), 0);
    char huge[600];
    memset(huge, 'n', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    ms[0] = (struct label_matcher){LABEL_MATCH_EQ, huge, ""};
    assert_int_equal(select_card(&f, txn, ms, 1), 4);
    ms[0] = (struct label_matcher){LABEL_MATCH_RE, huge, "x.*"};
    assert_int_equal(select_card(&f, txn, ms, 1), 0);
    struct index_strings vals = INDEX_STRINGS_INIT;
    char err[256];
    assert_int_equal(index_label_values(f.ix, txn, huge, NULL, 0, &vals, err, sizeof err), 0);
    assert_int_equal(vals.n, 0);
    index_strings_free(&vals);
    assert_int_equal(index_series_count(f.ix, txn), 4);
    mdb_txn_abort(txn);
    fx_destroy(&f);
}

static void test_lookup_add_and_labels(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    struct label l[3];
    struct labels a = mk(l, 3, (const char *[]){"__name__", "up", "instance", "h:1", "job", "x"});
    MDB_txn *txn = txn_write(&f);
    uint32_t id = add(&f, txn, &a, true), again;
    assert_int_equal(id, 1);
    assert_int_equal(add(&f, txn, &a, false), id); /* in the same txn, before flush */
    assert_int_equal(index_series_lookup(f.ix, txn, &a, &again), 0);
    assert_int_equal(again, id);

    MDB_txn *other = txn_read(&f); /* not committed: invisible */
    assert_int_equal(index_series_lookup(f.ix, other, &a, &again), 0);
    assert_int_equal(again, 0);
    mdb_txn_abort(other);
    txn_commit(&f, txn);

    txn = txn_read(&f);
    assert_int_equal(index_series_lookup(f.ix, txn, &a, &again), 0);
    assert_int_equal(again, id);
    struct labels absent = mk(l, 2, (const char *[]){"__name__", "up", "job", "x"});
    assert_int_equal(index_series_lookup(f.ix, txn, &absent, &again), 0);
    assert_int_equal(again, 0);

    struct index_labels out = INDEX_LABELS_INIT;
    assert_int_equal(index_series_labels(f.ix, txn, id, &out), 0);
    assert_int_equal(out.ls.n, 3);
    assert_string_equal(out.ls.v[0].name, "__name__");
    assert_string_equal(out.ls.v[0].value, "up");
    assert_string_equal(out.ls.v[1].name, "instance");
    assert_string_equal(out.ls.v[1].value, "h:1");
    assert_string_equal(out.ls.v[2].name, "job");
    assert_string_equal(out.ls.v[2].value, "x");
    assert_int_equal(index_series_labels(f.ix, txn, 99, &out), MDB_NOTFOUND);
    const void *bytes;
    size_t n;
    assert_int_equal(index_series_bytes(f.ix, txn, id, &out, &bytes, &n), 0);
    assert_int_equal(n, strlen("__name__") + strlen("up") + strlen("instance") + strlen("h:1") +
                            strlen("job") + strlen("x") + 6);
    assert_memory_equal(bytes, "__name__\xffup\xff", 12);
    assert_int_equal(index_series_exists(f.ix, txn, id), 0);
    assert_int_equal(index_series_exists(f.ix, txn, 99), MDB_NOTFOUND);
    index_labels_free(&out);
    mdb_txn_abort(txn);

    /* Sets the index cannot hold. */
    txn = txn_write(&f);
    bool created;
    struct labels bad = mk(l, 2, (const char *[]){"job", "x", "__name__", "up"}); /* unsorted */
    assert_int_equal(index_series_add(f.ix, txn, &bad, &id, &created), EINVAL);
    bad = mk(l, 2, (const char *[]){"a", "x", "a", "y"}); /* duplicate name */
    assert_int_equal(index_series_add(f.ix, txn, &bad, &id, &created), EINVAL);
    bad = mk(l, 1, (const char *[]){"a", ""}); /* empty value */
    assert_int_equal(index_series_add(f.ix, txn, &bad, &id, &created), EINVAL);
    bad = mk(l, 1, (const char *[]){"a", "\xff"});
    assert_int_equal(index_series_add(f.ix, txn, &bad, &id, &created), EINVAL);
    bad = (struct labels){l, 0};
    assert_int_equal(index_series_add(f.ix, txn, &bad, &id, &created), EINVAL);
    txn_commit(&f, txn);
    fx_destroy(&f);
}

static void test_random_selectors_match_brute_force(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    struct model m = {0};
    model_fill(&f, &m, 3000, 250);
    assert_true(m.n > 1000);
    check_random(&f, &m, 500, 60);
    free(m.s);
    fx_destroy(&f);
}

/* Deletes, then the same checks, then again after closing the env. */
static void test_delete_and_reopen(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    struct model m = {0};
    model_fill(&f, &m, 1500, 300);
    for (int round = 0; round < 2; round++) {
        MDB_txn *txn = txn_write(&f);
        for (size_t i = 0; i < m.n; i++) {
            if (!m.s[i].live || rnd(4) != 0)
                continue;
            assert_int_equal(index_series_delete(f.ix, txn, m.s[i].id), 0);
            m.s[i].live = false;
        }
        txn_commit(&f, txn);
        check_random(&f, &m, 150, 20);
    }
    MDB_txn *txn = txn_write(&f);
    assert_int_equal(index_series_delete(f.ix, txn, 999999), MDB_NOTFOUND);
    /* Delete every series of one value: the value leaves the listing. */
    for (size_t i = 0; i < m.n; i++) {
        if (m.s[i].live && strcmp(mseries_get(&m.s[i], "zone"), "us-east-1") == 0) {
            assert_int_equal(index_series_delete(f.ix, txn, m.s[i].id), 0);
            m.s[i].live = false;
        }
    }
    txn_commit(&f, txn);
    txn = txn_read(&f);
    for (size_t i = 0; i < m.n; i++) {
        uint32_t id;
        struct labels ls = {m.s[i].v, m.s[i].n};
        assert_int_equal(index_series_lookup(f.ix, txn, &ls, &id), 0);
        assert_int_equal(id, m.s[i].live ? m.s[i].id : 0);
    }
    assert_int_equal(index_series_count(f.ix, txn), model_live(&m));
    mdb_txn_abort(txn);

    fx_close(&f);
    fx_open(&f);
    check_random(&f, &m, 150, 20);
    /* Ids are never reused, even after a reopen. */
    uint32_t max = 0;
    for (size_t i = 0; i < m.n; i++)
        max = m.s[i].id > max ? m.s[i].id : max;
    size_t before = m.n;
    model_fill(&f, &m, 200, 100);
    for (size_t i = before; i < m.n; i++)
        assert_true(m.s[i].id > max);
    check_random(&f, &m, 100, 10);
    free(m.s);
    fx_destroy(&f);
}

static uint64_t hash_constant(const void *p, size_t n)
{
    (void)p;
    (void)n;
    return 42;
}

/* Every set in one hash bucket: lookups must compare the stored bytes. */
static void test_hash_collisions(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    index_hash_fn_set(f.ix, hash_constant);
    char vals[50][16];
    struct label l[2];
    MDB_txn *txn = txn_write(&f);
    for (int i = 0; i < 50; i++) {
        snprintf(vals[i], sizeof vals[i], "v%d", i);
        struct labels ls = mk(l, 2, (const char *[]){"__name__", "m", "k", vals[i]});
        assert_int_equal(add(&f, txn, &ls, true), (uint32_t)i + 1);
    }
    txn_commit(&f, txn);
    txn = txn_write(&f);
    assert_int_equal(index_series_delete(f.ix, txn, 20), 0);
    for (int i = 0; i < 50; i++) {
        struct labels ls = mk(l, 2, (const char *[]){"__name__", "m", "k", vals[i]});
        uint32_t id;
        assert_int_equal(index_series_lookup(f.ix, txn, &ls, &id), 0);
        assert_int_equal(id, i == 19 ? 0 : (uint32_t)i + 1);
    }
    struct labels ls = mk(l, 2, (const char *[]){"__name__", "m", "k", vals[19]});
    assert_int_equal(add(&f, txn, &ls, true), 51); /* a deleted set comes back with a new id */
    ls = mk(l, 2, (const char *[]){"__name__", "m", "k", "nope"});
    uint32_t id;
    assert_int_equal(index_series_lookup(f.ix, txn, &ls, &id), 0);
    assert_int_equal(id, 0);
    txn_commit(&f, txn);
    txn = txn_read(&f);
    struct label_matcher m = {LABEL_MATCH_EQ, "k", "v19"};
    assert_int_equal(select_card(&f, txn, &m, 1), 1);
    mdb_txn_abort(txn);
    fx_destroy(&f);
}

/* Values and label sets longer than LMDB's 511-byte keys. */
static void test_long_values(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    char name[201];
    memset(name, 'n', 200);
    name[200] = '\0';
    char v[4][800];
    for (int i = 0; i < 4; i++) {
        memset(v[i], 'a', 700);
        snprintf(v[i] + 700, 100, "%c-tail", "dcba"[i]); /* same first 700 bytes */
    }
    v[3][400] = '\0'; /* a short one among them */
    struct label l[2];
    MDB_txn *txn = txn_write(&f);
    for (int i = 0; i < 4; i++) {
        struct labels ls = mk(l, 2, (const char *[]){"__name__", "long", name, v[i]});
        add(&f, txn, &ls, true);
    }
    txn_commit(&f, txn);

    txn = txn_read(&f);
    for (int i = 0; i < 4; i++) {
        struct label_matcher m = {LABEL_MATCH_EQ, name, v[i]};
        roaring_bitmap_t *b;
        char err[256];
        assert_int_equal(index_select(f.ix, txn, &m, 1, &b, err, sizeof err), 0);
        assert_int_equal(roaring_bitmap_get_cardinality(b), 1);
        assert_true(roaring_bitmap_contains(b, (uint32_t)i + 1));
        roaring_bitmap_free(b);
        struct labels ls = mk(l, 2, (const char *[]){"__name__", "long", name, v[i]});
        uint32_t id;
        assert_int_equal(index_series_lookup(f.ix, txn, &ls, &id), 0);
        assert_int_equal(id, (uint32_t)i + 1);
    }
    char re[32];
    snprintf(re, sizeof re, "a{700}[bc]-tail");
    struct label_matcher m = {LABEL_MATCH_RE, name, re};
    assert_int_equal(select_card(&f, txn, &m, 1), 2);
    char prefix[720];
    memcpy(prefix, v[0], 701);
    strcpy(prefix + 701, ".*"); /* a prefix longer than the key room */
    m = (struct label_matcher){LABEL_MATCH_RE, name, prefix};
    assert_int_equal(select_card(&f, txn, &m, 1), 1);
    struct index_strings vals = INDEX_STRINGS_INIT;
    char err[256];
    assert_int_equal(index_label_values(f.ix, txn, name, NULL, 0, &vals, err, sizeof err), 0);
    assert_int_equal(vals.n, 4);
    assert_string_equal(vals.v[0], v[3]);
    assert_string_equal(vals.v[1], v[2]);
    assert_string_equal(vals.v[2], v[1]);
    assert_string_equal(vals.v[3], v[0]);
    index_strings_free(&vals);
    mdb_txn_abort(txn);

    txn = txn_write(&f);
    assert_int_equal(index_series_delete(f.ix, txn, 2), 0);
    txn_commit(&f, txn);
    txn = txn_read(&f);
    m = (struct label_matcher){LABEL_MATCH_RE, name, "a+.-tail"};
    assert_int_equal(select_card(&f, txn, &m, 1), 2);
    mdb_txn_abort(txn);
    fx_destroy(&f);
}

static void test_regex_errors(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    char v[64];
    memset(v, 'a', 40);
    strcpy(v + 40, "b c");
    struct label l[2];
    MDB_txn *txn = txn_write(&f);
    struct labels ls = mk(l, 2, (const char *[]){"__name__", "m", "k", v});
    add(&f, txn, &ls, true);
    txn_commit(&f, txn);
    txn = txn_read(&f);
    roaring_bitmap_t *b;
    char err[256] = "";
    struct label_matcher m = {LABEL_MATCH_RE, "k", "(a"};
    assert_int_equal(index_select(f.ix, txn, &m, 1, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "invalid regular expression \"(a\" for label k"));
    m = (struct label_matcher){LABEL_MATCH_RE, "k", "(a|aa)+c"};
    assert_int_equal(index_select(f.ix, txn, &m, 1, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "limit"));
    mdb_txn_abort(txn);
    fx_destroy(&f);
}

/* An aborted batch leaves nothing behind, its ids are given again. */
static void test_abort_and_discard(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    struct label l[2];
    struct labels a = mk(l, 2, (const char *[]){"__name__", "m", "k", "a"});
    MDB_txn *txn = txn_write(&f);
    assert_int_equal(add(&f, txn, &a, true), 1);
    mdb_txn_abort(txn);
    index_discard(f.ix);
    txn = txn_write(&f);
    struct labels b = mk(l, 2, (const char *[]){"__name__", "m", "k", "b"});
    assert_int_equal(add(&f, txn, &b, true), 1);
    txn_commit(&f, txn);
    txn = txn_read(&f);
    struct label_matcher m = {LABEL_MATCH_EQ, "k", "a"};
    assert_int_equal(select_card(&f, txn, &m, 1), 0);
    m.value = "b";
    assert_int_equal(select_card(&f, txn, &m, 1), 1);
    mdb_txn_abort(txn);
    fx_destroy(&f);
}

static void test_stats(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    struct label l[3];
    MDB_txn *txn = txn_write(&f);
    for (int i = 0; i < 6; i++) {
        char inst[16];
        snprintf(inst, sizeof inst, "h%d", i);
        const char *metric = i < 4 ? "up" : "scrape_duration";
        struct labels ls = mk(
            l, 3,
            (const char *[]){"__name__", metric, "instance", inst, "job", i % 2 ? "odd" : "even"});
        add(&f, txn, &ls, true);
    }
    txn_commit(&f, txn);
    txn = txn_read(&f);
    struct index_stats s;
    char err[256];
    assert_int_equal(index_stats_get(f.ix, txn, 2, &s, err, sizeof err), 0);
    assert_int_equal(s.num_series, 6);
    assert_int_equal(s.num_label_pairs, 2 + 6 + 2);
    assert_int_equal(s.series_by_metric.n, 2);
    assert_string_equal(s.series_by_metric.v[0].name, "up");
    assert_int_equal(s.series_by_metric.v[0].count, 4);
    assert_string_equal(s.series_by_metric.v[1].name, "scrape_duration");
    assert_int_equal(s.series_by_metric.v[1].count, 2);
    assert_int_equal(s.values_by_name.n, 2);
    assert_string_equal(s.values_by_name.v[0].name, "instance");
    assert_int_equal(s.values_by_name.v[0].count, 6);
    assert_string_equal(s.values_by_name.v[1].name, "__name__");
    assert_int_equal(s.values_by_name.v[1].count, 2);
    assert_string_equal(s.series_by_pair.v[0].name, "__name__=up");
    assert_int_equal(s.series_by_pair.v[0].count, 4);
    assert_string_equal(s.series_by_pair.v[1].name, "job=even");
    assert_int_equal(s.series_by_pair.v[1].count, 3);
    assert_string_equal(s.bytes_by_name.v[0].name, "__name__"); /* 4*2 + 2*15 */
    assert_int_equal(s.bytes_by_name.v[0].count, 38);
    assert_string_equal(s.bytes_by_name.v[1].name, "job"); /* 3*4 + 3*3 */
    assert_int_equal(s.bytes_by_name.v[1].count, 21);
    index_stats_free(&s);
    mdb_txn_abort(txn);
    fx_destroy(&f);
}

/* --- Readers against a committing writer --------------------------------- */

#define CONC_BATCHES 40
#define CONC_BATCH   250

struct conc {
    struct fx *f;
    atomic_int done;
    atomic_int failures;
    atomic_long reads;
};

static void *conc_writer(void *arg)
{
    struct conc *c = arg;
    for (int b = 0; b < CONC_BATCHES; b++) {
        MDB_txn *txn;
        if (mdb_txn_begin(c->f->env, NULL, 0, &txn) != 0) {
            c->failures++;
            break;
        }
        char batch[16];
        snprintf(batch, sizeof batch, "b%03d", b);
        for (int i = 0; i < CONC_BATCH; i++) {
            char inst[16];
            snprintf(inst, sizeof inst, "i%d", i);
            struct label l[3] = {{"__name__", "conc"}, {"batch", batch}, {"inst", inst}};
            struct labels ls = {l, 3};
            uint32_t id;
            bool created;
            if (index_series_add(c->f->ix, txn, &ls, &id, &created) != 0 || !created)
                c->failures++;
        }
        if (index_flush(c->f->ix, txn) != 0 || mdb_txn_commit(txn) != 0)
            c->failures++;
    }
    c->done = 1;
    return NULL;
}

static uint64_t conc_card(struct conc *c, MDB_txn *txn, struct label_matcher *ms, size_t n)
{
    roaring_bitmap_t *b;
    char err[256];
    if (index_select(c->f->ix, txn, ms, n, &b, err, sizeof err) != 0) {
        c->failures++;
        return 0;
    }
    uint64_t card = roaring_bitmap_get_cardinality(b);
    roaring_bitmap_free(b);
    return card;
}

static void *conc_reader(void *arg)
{
    struct conc *c = arg;
    while (!c->done) {
        MDB_txn *txn;
        if (mdb_txn_begin(c->f->env, NULL, MDB_RDONLY, &txn) != 0) {
            c->failures++;
            break;
        }
        struct label_matcher m = {LABEL_MATCH_EQ, "__name__", "conc"};
        uint64_t all = conc_card(c, txn, &m, 1);
        if (all % CONC_BATCH != 0 || index_series_count(c->f->ix, txn) != all)
            c->failures++;
        m = (struct label_matcher){LABEL_MATCH_RE, "batch", "b.*"};
        if (conc_card(c, txn, &m, 1) != all)
            c->failures++;
        if (all > 0) {
            char last[16];
            snprintf(last, sizeof last, "b%03d", (int)(all / CONC_BATCH) - 1);
            struct label_matcher two[2] = {{LABEL_MATCH_EQ, "batch", last},
                                           {LABEL_MATCH_RE, "inst", "i1.*"}};
            if (conc_card(c, txn, two, 1) != CONC_BATCH || conc_card(c, txn, two, 2) != 111)
                c->failures++;
        }
        mdb_txn_abort(txn);
        c->reads++;
    }
    return NULL;
}

static void test_concurrent_readers_see_whole_batches(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    struct conc c = {.f = &f};
    pthread_t w, r[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&r[i], NULL, conc_reader, &c), 0);
    assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
    pthread_join(w, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(r[i], NULL);
    assert_int_equal(c.failures, 0);
    assert_true(c.reads > 0);
    MDB_txn *txn = txn_read(&f);
    assert_int_equal(index_series_count(f.ix, txn), CONC_BATCHES * CONC_BATCH);
    mdb_txn_abort(txn);
    fx_destroy(&f);
}

/* --- The on-disk format -------------------------------------------------- */

static size_t dbi_entries(MDB_txn *txn, const char *name)
{
    MDB_dbi dbi;
    MDB_stat st;
    assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
    assert_int_equal(mdb_stat(txn, dbi, &st), 0);
    return st.ms_entries;
}

/* Deletes about one series in `one_in` of the live ones, in txn. */
static void model_delete_some(struct fx *f, MDB_txn *txn, struct model *m, uint32_t one_in)
{
    for (size_t i = 0; i < m->n; i++) {
        if (!m->s[i].live || rnd(one_in) != 0)
            continue;
        assert_int_equal(index_series_delete(f->ix, txn, m->s[i].id), 0);
        m->s[i].live = false;
    }
}

/* Series added in txns of every size around the group size, read back in
 * their own txn before and after the flush and after the commit, deletes
 * from finished and unfinished groups in the same txns, then a repack,
 * more series in the repacked unfinished group, and a reopen. */
static void test_groups_across_txns(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    struct model m = {0};
    static const size_t sizes[] = {1, 3, 15, 16, 17, 1, 40, 2, 31, 33, 64, 5};
    for (size_t round = 0; round < 2 * sizeof sizes / sizeof *sizes; round++) {
        size_t n = sizes[round % (sizeof sizes / sizeof *sizes)];
        m.s = realloc(m.s, (m.n + n) * sizeof *m.s);
        MDB_txn *txn = txn_write(&f);
        if (round % 3 == 2)
            model_delete_some(&f, txn, &m, 5);
        for (size_t k = 0; k < n; k++) {
            struct mseries s = {0};
            char *serial = malloc(16); /* unique: every add creates a series */
            snprintf(serial, 16, "g%zu.%zu", round, k);
            s.v[s.n++] = (struct label){"__name__", "grouped"};
            s.v[s.n++] = (struct label){"serial", serial};
            s.id = add(&f, txn, &(struct labels){s.v, s.n}, true);
            s.live = true;
            m.s[m.n++] = s;
        }
        check_series(&f, txn, &m); /* before the flush */
        assert_int_equal(index_flush(f.ix, txn), 0);
        check_series(&f, txn, &m); /* after it, groups compressed */
        assert_int_equal(mdb_txn_commit(txn), 0);
        txn = txn_read(&f);
        check_series(&f, txn, &m);
        /* Only the unfinished group's series stay raw. */
        assert_true(dbi_entries(txn, "index.fresh") < INDEX_GROUP_SERIES);
        mdb_txn_abort(txn);
    }
    /* Deletes, then a repack: the unfinished group becomes a group record
     * and later series of it are raw records beside it until it is full. */
    MDB_txn *txn = txn_write(&f);
    model_delete_some(&f, txn, &m, 3);
    assert_int_equal(index_flush(f.ix, txn), 0);
    assert_int_equal(index_repack(f.ix, txn), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    txn = txn_read(&f);
    assert_int_equal(dbi_entries(txn, "index.fresh"), 0);
    check_series(&f, txn, &m);
    mdb_txn_abort(txn);
    model_fill(&f, &m, 40, 7);
    fx_close(&f);
    fx_open(&f);
    txn = txn_read(&f);
    check_series(&f, txn, &m);
    check_select(&f, txn, &m, &(struct label_matcher){LABEL_MATCH_EQ, "__name__", "grouped"}, 1);
    check_select(&f, txn, &m, &(struct label_matcher){LABEL_MATCH_RE, "serial", "g1.*"}, 1);
    mdb_txn_abort(txn);
    for (size_t i = 0; i < m.n; i++)
        if (strcmp(m.s[i].v[0].value, "grouped") == 0)
            free((char *)m.s[i].v[1].value);
    free(m.s);
    fx_destroy(&f);
}

/* A hash made from the set's "k" label: k=N hashes to N << 32, so the
 * test decides which entries share a table record or a hash. */
static uint64_t hash_from_k(const void *p, size_t n)
{
    const char *k = memmem(p, n, "k\xff", 2);
    return k ? strtoull(k + 2, NULL, 10) << 32 : 0;
}

static uint32_t add_k(struct fx *f, MDB_txn *txn, const char *k, const char *tag, bool created)
{
    struct label l[3] = {{"__name__", "h"}, {"k", k}, {"t", tag}};
    return add(f, txn, &(struct labels){l, 3}, created);
}

static uint32_t lookup_k(struct fx *f, MDB_txn *txn, const char *k, const char *tag)
{
    struct label l[3] = {{"__name__", "h"}, {"k", k}, {"t", tag}};
    uint32_t id;
    assert_int_equal(index_series_lookup(f->ix, txn, &(struct labels){l, 3}, &id), 0);
    return id;
}

/* The packed hash table: records split between different hashes only,
 * one hash's entries stay together beyond a record's worth, an emptied
 * record goes, and hashes below every record key start one at 0. */
static void test_hash_table_records(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    index_hash_fn_set(f.ix, hash_from_k);
    char k[16], tag[16];
    uint32_t ids[3][300];
    MDB_txn *txn = txn_write(&f);
    for (int i = 0; i < 300; i++) { /* hashes 1000..1299: several records */
        snprintf(k, sizeof k, "%d", 1000 + i);
        ids[0][i] = add_k(&f, txn, k, "a", true);
    }
    for (int i = 0; i < 300; i++) { /* 300 sets under hash 500 */
        snprintf(tag, sizeof tag, "%d", i);
        ids[1][i] = add_k(&f, txn, "500", tag, true);
    }
    txn_commit(&f, txn);
    txn = txn_read(&f);
    assert_true(dbi_entries(txn, "index.hashes") > 3);
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "%d", 1000 + i);
        snprintf(tag, sizeof tag, "%d", i);
        assert_int_equal(lookup_k(&f, txn, k, "a"), ids[0][i]);
        assert_int_equal(lookup_k(&f, txn, "500", tag), ids[1][i]);
    }
    mdb_txn_abort(txn);
    /* Empty the low records (key 0 among them), then go below them. */
    txn = txn_write(&f);
    for (int i = 0; i < 300; i++)
        assert_int_equal(index_series_delete(f.ix, txn, ids[1][i]), 0);
    for (int i = 0; i < 150; i++)
        assert_int_equal(index_series_delete(f.ix, txn, ids[0][i]), 0);
    for (int i = 0; i < 300; i++) {
        snprintf(k, sizeof k, "%d", i);
        ids[2][i] = add_k(&f, txn, k, "b", true);
    }
    txn_commit(&f, txn);
    for (int pass = 0; pass < 2; pass++) {
        txn = txn_read(&f);
        for (int i = 0; i < 300; i++) {
            snprintf(k, sizeof k, "%d", 1000 + i);
            snprintf(tag, sizeof tag, "%d", i);
            assert_int_equal(lookup_k(&f, txn, k, "a"), i < 150 ? 0 : ids[0][i]);
            assert_int_equal(lookup_k(&f, txn, "500", tag), 0);
            snprintf(k, sizeof k, "%d", i);
            assert_int_equal(lookup_k(&f, txn, k, "b"), ids[2][i]);
        }
        mdb_txn_abort(txn);
        txn = txn_write(&f); /* the same after a dense rewrite */
        assert_int_equal(index_repack(f.ix, txn), 0);
        txn_commit(&f, txn);
    }
    fx_destroy(&f);
}

/* Postings values: gap lists and roaring bitmaps, whichever is shorter,
 * decode to the bitmap they were made from. */
static void test_posting_encodings(void **state)
{
    (void)state;
    static const uint32_t cards[] = {1, 2, 3, 15, 16, 17, 100, 5000};
    static const uint32_t spreads[] = {1, 3, 1000, 1u << 24};
    for (size_t c = 0; c < sizeof cards / sizeof *cards; c++) {
        for (size_t s = 0; s < sizeof spreads / sizeof *spreads; s++) {
            roaring_bitmap_t *bm = roaring_bitmap_create();
            uint64_t id = spreads[s] == 1 ? 1 : rnd(1000) + 1;
            for (uint32_t i = 0; i < cards[c] && id <= UINT32_MAX; i++) {
                roaring_bitmap_add(bm, (uint32_t)id);
                id += 1 + rnd(spreads[s]);
            }
            if (s == 3)
                roaring_bitmap_add(bm, UINT32_MAX);
            roaring_bitmap_run_optimize(bm);
            for (int is_long = 0; is_long < 2; is_long++) {
                struct sbuf b = SBUF_INIT;
                const char *value = is_long ? "long value kept in the record" : NULL;
                size_t vlen = value ? strlen(value) : 0;
                index_posting_encode(bm, is_long ? (uint32_t)vlen : 7, value, vlen, &b);
                /* A pair key with a long value cut (value in the record)
                 * or a presence key (aux its own). */
                MDB_val key =
                    is_long ? (MDB_val){6, (void *)"name\0v"} : (MDB_val){5, (void *)"name\0"};
                MDB_val data = {b.len, b.data};
                struct index_posting p;
                assert_int_equal(index_posting_decode(&key, &data, 4, &p), 0);
                assert_int_equal(p.card, roaring_bitmap_get_cardinality(bm));
                if (p.card <= 2)
                    assert_true(p.is_list);
                if (p.card > 16)
                    assert_false(p.is_list);
                if (is_long) {
                    assert_int_equal(p.vlen, vlen);
                    assert_memory_equal(p.value, value, vlen);
                } else {
                    assert_int_equal(p.aux, 7);
                }
                roaring_bitmap_t *got = index_posting_bitmap(&p);
                assert_non_null(got);
                assert_true(roaring_bitmap_equals(got, bm));
                roaring_bitmap_free(got);
                /* A gap list cut short is corrupt, never wrong (roaring
                 * checks its own, printing why). */
                data.mv_size--;
                if (p.is_list && index_posting_decode(&key, &data, 4, &p) == 0)
                    assert_null(index_posting_bitmap(&p));
                sbuf_free(&b);
            }
            roaring_bitmap_free(bm);
        }
    }
}

/* --- Format 1 ------------------------------------------------------------ */

/* Writes the model as format 1 stored it (index.c): label sets under their
 * ids, one (u64 hash -> id) record per series, postings behind a u32
 * cardinality, u32 aux header as portable roaring bitmaps, version 1. */
static void v1_write(struct fx *f, const struct model *m, uint32_t next_id)
{
    MDB_txn *txn = txn_write(f);
    MDB_dbi series, hash, postings, meta;
    assert_int_equal(mdb_dbi_open(txn, "index.series", MDB_CREATE | MDB_INTEGERKEY, &series), 0);
    assert_int_equal(
        mdb_dbi_open(txn, "index.hash",
                     MDB_CREATE | MDB_INTEGERKEY | MDB_DUPSORT | MDB_DUPFIXED | MDB_INTEGERDUP,
                     &hash),
        0);
    assert_int_equal(mdb_dbi_open(txn, "index.postings", MDB_CREATE, &postings), 0);
    assert_int_equal(mdb_dbi_open(txn, "index.meta", MDB_CREATE, &meta), 0);
    /* Postings first gathered per key: (key, bitmap, aux, long value). */
    struct v1p {
        struct index_pkey key;
        roaring_bitmap_t *bm;
        const char *value; /* NULL for presence and all-series records */
        uint32_t nvalues;
    } *ps = NULL;
    size_t np = 0;
    for (size_t i = 0; i < m->n; i++) {
        const struct mseries *s = &m->s[i];
        if (!s->live)
            continue;
        char canon[4096];
        size_t cn = 0;
        for (size_t j = 0; j < s->n; j++)
            cn += (size_t)snprintf(canon + cn, sizeof canon - cn, "%s\xff%s\xff", s->v[j].name,
                                   s->v[j].value);
        MDB_val k = {sizeof s->id, (void *)&s->id}, d = {cn, canon};
        assert_int_equal(mdb_put(txn, series, &k, &d, 0), 0);
        uint64_t h = XXH3_64bits(canon, cn);
        k = (MDB_val){sizeof h, &h};
        d = (MDB_val){sizeof s->id, (void *)&s->id};
        assert_int_equal(mdb_put(txn, hash, &k, &d, 0), 0);
        for (size_t j = 0; j <= 2 * s->n; j++) {
            const char *name = j == 0 ? "" : s->v[(j - 1) / 2].name;
            const char *value = j % 2 == 0 && j > 0 ? s->v[(j - 1) / 2].value : "";
            struct index_pkey key;
            index_pkey_build(&key, name, strlen(name), value, strlen(value));
            size_t at = 0;
            while (at < np && (ps[at].key.n != key.n || memcmp(ps[at].key.b, key.b, key.n)))
                at++;
            if (at == np) {
                ps = realloc(ps, (np + 1) * sizeof *ps);
                ps[np++] =
                    (struct v1p){key, roaring_bitmap_create(), key.is_long ? value : NULL, 0};
            }
            roaring_bitmap_add(ps[at].bm, s->id);
        }
    }
    /* A presence record (name 0x00) counts the pair records under it. */
    for (size_t i = 0; i < np; i++)
        for (size_t q = 0; ps[i].key.n > 1 && ps[i].key.b[ps[i].key.n - 1] == 0 && q < np; q++)
            ps[i].nvalues +=
                ps[q].key.n > ps[i].key.n && memcmp(ps[q].key.b, ps[i].key.b, ps[i].key.n) == 0;
    for (size_t i = 0; i < np; i++) {
        size_t vlen = ps[i].value ? strlen(ps[i].value) : 0;
        size_t blen = roaring_bitmap_portable_size_in_bytes(ps[i].bm);
        char *v = malloc(8 + vlen + blen);
        uint32_t card = (uint32_t)roaring_bitmap_get_cardinality(ps[i].bm);
        uint32_t aux = ps[i].value ? (uint32_t)vlen : ps[i].nvalues;
        memcpy(v, &card, 4);
        memcpy(v + 4, &aux, 4);
        memcpy(v + 8, ps[i].value ? ps[i].value : "", vlen);
        roaring_bitmap_portable_serialize(ps[i].bm, v + 8 + vlen);
        MDB_val k = {ps[i].key.n, ps[i].key.b}, d = {8 + vlen + blen, v};
        assert_int_equal(mdb_put(txn, postings, &k, &d, 0), 0);
        free(v);
        roaring_bitmap_free(ps[i].bm);
    }
    free(ps);
    uint32_t version = 1;
    MDB_val k = {7, "version"}, d = {4, &version};
    assert_int_equal(mdb_put(txn, meta, &k, &d, 0), 0);
    k = (MDB_val){7, "next_id"};
    d = (MDB_val){4, &next_id};
    assert_int_equal(mdb_put(txn, meta, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
}

/* A format-1 index (with deleted ids and long values) opens as format 2:
 * the same series, selections, listings and lookups; the old hash DBI is
 * gone; new ids continue after the old ones. */
static void test_format1_migrates(void **state)
{
    (void)state;
    struct fx f = {0};
    strcpy(f.dir, "/tmp/vigil-index-XXXXXX");
    assert_non_null(mkdtemp(f.dir));
    assert_int_equal(mdb_env_create(&f.env), 0);
    assert_int_equal(mdb_env_set_mapsize(f.env, 1ULL << 30), 0);
    assert_int_equal(mdb_env_set_maxdbs(f.env, 16), 0);
    assert_int_equal(mdb_env_open(f.env, f.dir, MDB_NOTLS, 0644), 0);
    struct model m = {0};
    m.s = calloc(1200, sizeof *m.s);
    static char longv[3][700];
    for (uint32_t id = 1; m.n < 1200; id += 1 + (rnd(8) == 0) * rnd(40)) {
        struct mseries *s = &m.s[m.n];
        model_random_set(s);
        if (m.n < 3) { /* a value longer than a key holds */
            memset(longv[m.n], 'a' + (int)m.n, sizeof longv[m.n] - 1);
            s->v[s->n++] = (struct label){"zzlong", longv[m.n]};
        }
        bool dup = false;
        for (size_t i = 0; i < m.n && !dup; i++)
            dup = mseries_same(&m.s[i], s);
        if (dup)
            continue;
        s->id = id;
        s->live = true;
        m.n++;
    }
    uint32_t next = m.s[m.n - 1].id + 5;
    v1_write(&f, &m, next);
    mdb_env_close(f.env);
    fx_open(&f); /* migrates */
    MDB_txn *txn = txn_read(&f);
    MDB_dbi old;
    assert_int_equal(mdb_dbi_open(txn, "index.hash", 0, &old), MDB_NOTFOUND);
    MDB_dbi meta;
    MDB_val k = {7, "version"}, d;
    assert_int_equal(mdb_dbi_open(txn, "index.meta", 0, &meta), 0);
    assert_int_equal(mdb_get(txn, meta, &k, &d), 0);
    uint32_t version;
    memcpy(&version, d.mv_data, sizeof version);
    assert_int_equal(version, 2);
    size_t groups = 0;
    for (size_t i = 0; i < m.n; i++)
        groups += i == 0 || m.s[i].id / INDEX_GROUP_SERIES != m.s[i - 1].id / INDEX_GROUP_SERIES;
    assert_int_equal(dbi_entries(txn, "index.series"), groups);
    assert_int_equal(dbi_entries(txn, "index.fresh"), 0);
    check_series(&f, txn, &m);
    for (size_t i = 0; i < 3; i++)
        check_select(&f, txn, &m, &(struct label_matcher){LABEL_MATCH_EQ, "zzlong", longv[i]}, 1);
    mdb_txn_abort(txn);
    /* The listings' oracle knows the pools' names and values only. */
    txn = txn_write(&f);
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(index_series_delete(f.ix, txn, m.s[i].id), 0);
        m.s[i].live = false;
    }
    txn_commit(&f, txn);
    check_random(&f, &m, 200, 20);
    size_t before = m.n;
    model_fill(&f, &m, 100, 30);
    for (size_t i = before; i < m.n; i++)
        assert_true(m.s[i].id >= next);
    fx_close(&f);
    fx_open(&f); /* format 2 now: opens as is */
    check_random(&f, &m, 50, 5);
    free(m.s);
    fx_destroy(&f);
}

/* A format this build does not know is refused with a message. */
static void test_newer_format_refused(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    MDB_txn *txn = txn_write(&f);
    uint32_t v = 3;
    MDB_val k = {7, "version"}, d = {4, &v};
    assert_int_equal(mdb_put(txn, f.ix->meta, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    index_free(f.ix);
    struct index *ix = NULL;
    char err[256] = "";
    txn = txn_write(&f);
    assert_int_equal(index_open(txn, &ix, err, sizeof err), -1);
    mdb_txn_abort(txn);
    assert_non_null(strstr(err, "format 3"));
    f.ix = NULL;
    fx_destroy(&f);
}

/* A damaged group record reads as MDB_CORRUPTED, not as wrong labels. */
static void test_corrupt_group(void **state)
{
    (void)state;
    struct fx f = {0};
    fx_open(&f);
    MDB_txn *txn = txn_write(&f);
    for (int i = 1; i <= 40; i++) {
        char serial[16];
        snprintf(serial, sizeof serial, "c%d", i);
        struct label l[2] = {{"__name__", "c"}, {"serial", serial}};
        assert_int_equal(add(&f, txn, &(struct labels){l, 2}, true), (uint32_t)i);
    }
    txn_commit(&f, txn);
    txn = txn_write(&f);
    uint32_t base = 16, tail = 32;
    MDB_val k = {sizeof base, &base}, d;
    assert_int_equal(mdb_get(txn, f.ix->series, &k, &d), 0);
    char *cut = malloc(d.mv_size);
    memcpy(cut, d.mv_data, d.mv_size);
    d = (MDB_val){d.mv_size - 1, cut}; /* the frame one byte short */
    assert_int_equal(mdb_put(txn, f.ix->series, &k, &d, 0), 0);
    k.mv_data = &tail;
    d.mv_size = 1; /* the tag alone */
    assert_int_equal(mdb_put(txn, f.ix->series, &k, &d, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    free(cut);
    txn = txn_read(&f);
    struct index_labels out = INDEX_LABELS_INIT;
    assert_int_equal(index_series_labels(f.ix, txn, 17, &out), MDB_CORRUPTED);
    assert_int_equal(index_series_labels(f.ix, txn, 33, &out), MDB_CORRUPTED);
    assert_int_equal(index_series_exists(f.ix, txn, 33), MDB_CORRUPTED);
    assert_int_equal(index_series_labels(f.ix, txn, 1, &out), 0);
    index_labels_free(&out);
    mdb_txn_abort(txn);
    fx_destroy(&f);
}

int main(void)
{
    for (int i = 0; i < 400; i++) {
        snprintf(serial_buf[i], sizeof serial_buf[i], "s%03d", i);
        pool_serial[i] = serial_buf[i];
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_select_semantics_by_example),
        cmocka_unit_test(test_lookup_add_and_labels),
        cmocka_unit_test(test_random_selectors_match_brute_force),
        cmocka_unit_test(test_delete_and_reopen),
        cmocka_unit_test(test_hash_collisions),
        cmocka_unit_test(test_long_values),
        cmocka_unit_test(test_regex_errors),
        cmocka_unit_test(test_abort_and_discard),
        cmocka_unit_test(test_stats),
        cmocka_unit_test(test_concurrent_readers_see_whole_batches),
        cmocka_unit_test(test_groups_across_txns),
        cmocka_unit_test(test_hash_table_records),
        cmocka_unit_test(test_posting_encodings),
        cmocka_unit_test(test_format1_migrates),
        cmocka_unit_test(test_newer_format_refused),
        cmocka_unit_test(test_corrupt_group),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
