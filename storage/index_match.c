/* index_match.c — resolving PromQL label matchers to series ids.
 *
 * Semantics are Prometheus's (tsdb/querier.go, PostingsForMatchers): a
 * series matches when every matcher accepts its value for the matcher's
 * name, a missing label having the value "".  Each matcher is seen as an
 * inner test t on values (equality, or the anchored regex) and a flag
 * `negate` for != and !~, so that the matcher accepts v when t(v) != negate.
 * With S(want) = the union of the postings of the name's values v with
 * t(v) == want:
 *
 *   - a matcher that rejects "" selects S(!negate): series must have the
 *     label with an accepted value.  These are intersected first.
 *   - a matcher that accepts "" selects every series except S(negate), the
 *     series that have the label with a rejected value.  These are
 *     subtracted afterwards, from the intersection, or from the all-series
 *     list when no matcher rejects "".
 *
 * So name="" subtracts the name's presence list, name!="v" subtracts one
 * pair, and =~".*" costs nothing.  S is computed from the name's values,
 * never by visiting series, and how depends on the shape of the regex (RE2
 * syntax, run by PCRE2):
 *
 *   a|b|c (literals, escaped punctuation allowed)   one lookup per literal
 *   foo.*                                            a key range scan
 *   .*                                               every value
 *   .+                                               presence list
 *   anything else                                    every value of the
 *                                                    name through PCRE2-JIT
 *
 * When the intersection so far is much smaller than the number of values a
 * general regex would have to scan (`{__name__="x", path=~".*api"}` with a
 * million paths), the matcher is deferred and tested on the remaining
 * series' own label values instead.  Regexes are compiled per call, each
 * with its own match data and a match limit, so concurrent selects share
 * nothing. */
#include "storage/index_internal.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Backtracking budget of one regex match against one value. */
#define INDEX_REGEX_MATCH_LIMIT 1000000
/* A general regex is tested series-side when the current selection has
 * fewer than 1/INDEX_DEFER_RATIO as many series as the name has values. */
#define INDEX_DEFER_RATIO 4

enum index_vm_kind {
    INDEX_VM_LITERALS, /* t(v) = v is one of the literals */
    INDEX_VM_ANY,      /* .*  */
    INDEX_VM_NONEMPTY, /* .+  */
    INDEX_VM_PREFIX,   /* literal .* */
    INDEX_VM_REGEX,    /* PCRE2 */
};

/* One matcher, compiled for this call. */
struct index_vm {
    const struct label_matcher *m;
    size_t nlen;
    enum index_vm_kind kind;
    bool negate;
    bool accepts_empty; /* the matcher accepts "" (series without the label) */
    bool deferred;
    struct sbuf lits; /* literals (or the prefix), each followed by a NUL */
    pcre2_code *re;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
};

static void index_vm_free(struct index_vm *vm)
{
    sbuf_free(&vm->lits);
    pcre2_match_data_free(vm->md);
    pcre2_match_context_free(vm->mctx);
    pcre2_code_free(vm->re);
}

/* Recognises the regex shapes with fast paths, unescaping literals into
 * vm->lits.  Anything it is unsure of is INDEX_VM_REGEX. */
static enum index_vm_kind index_regex_shape(const char *re, struct index_vm *vm)
{
    if (strcmp(re, ".*") == 0)
        return INDEX_VM_ANY;
    if (strcmp(re, ".+") == 0)
        return INDEX_VM_NONEMPTY;
    bool alt = false;
    for (const char *p = re; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '\\') {
            unsigned char e = (unsigned char)p[1];
            if (e == 0 || e >= 0x80 || (e >= '0' && e <= '9') || (e >= 'a' && e <= 'z') ||
                (e >= 'A' && e <= 'Z'))
                return INDEX_VM_REGEX; /* \d, \pL, \Q ... */
            sbuf_putc(&vm->lits, (char)e);
            p++;
        } else if (c == '|') {
            sbuf_putc(&vm->lits, '\0');
            alt = true;
        } else if (c == '.' && p[1] == '*' && p[2] == '\0' && !alt && vm->lits.len > 0) {
            sbuf_putc(&vm->lits, '\0');
            return INDEX_VM_PREFIX;
        } else if (strchr(".+*?()[]{}^$", c)) {
            return INDEX_VM_REGEX;
        } else {
            sbuf_putc(&vm->lits, (char)c);
        }
    }
    sbuf_putc(&vm->lits, '\0');
    return INDEX_VM_LITERALS;
}

static int index_vm_compile(struct index_vm *vm, char *err, size_t errlen)
{
    int ec;
    PCRE2_SIZE off;
    uint32_t opts = PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_DOTALL | PCRE2_DOLLAR_ENDONLY |
                    PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_NEVER_BACKSLASH_C;
    vm->re = pcre2_compile((PCRE2_SPTR)vm->m->value, PCRE2_ZERO_TERMINATED, opts, &ec, &off, NULL);
    if (!vm->re) {
        char msg[256];
        pcre2_get_error_message(ec, (PCRE2_UCHAR *)msg, sizeof msg);
        snprintf(err, errlen, "invalid regular expression \"%s\" for label %s: %s at offset %zu",
                 vm->m->value, vm->m->name, msg, (size_t)off);
        return -1;
    }
    pcre2_jit_compile(vm->re, PCRE2_JIT_COMPLETE); /* on failure the interpreter runs */
    vm->md = pcre2_match_data_create_from_pattern(vm->re, NULL);
    vm->mctx = pcre2_match_context_create(NULL);
    if (!vm->md || !vm->mctx)
        abort();
    pcre2_set_match_limit(vm->mctx, INDEX_REGEX_MATCH_LIMIT);
    return 0;
}

/* t(v): 1 if the inner test accepts v, 0 if not, -1 (with err) if the
 * regex gave up. */
static int index_vm_test(struct index_vm *vm, const char *v, size_t n, char *err, size_t errlen)
{
    switch (vm->kind) {
    case INDEX_VM_ANY:
        return 1;
    case INDEX_VM_NONEMPTY:
        return n > 0;
    case INDEX_VM_PREFIX:
        return n >= vm->lits.len - 1 && memcmp(v, vm->lits.data, vm->lits.len - 1) == 0;
    case INDEX_VM_LITERALS:
        for (const char *l = vm->lits.data; l < vm->lits.data + vm->lits.len; l += strlen(l) + 1)
            if (strlen(l) == n && memcmp(l, v, n) == 0)
                return 1;
        return 0;
    case INDEX_VM_REGEX:
        break;
    }
    int rc = pcre2_match(vm->re, (PCRE2_SPTR)v, n, 0, 0, vm->md, vm->mctx);
    if (rc >= 0)
        return 1;
    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    char msg[128];
    pcre2_get_error_message(rc, (PCRE2_UCHAR *)msg, sizeof msg);
    snprintf(err, errlen, "regular expression \"%s\" for label %s: %s", vm->m->value, vm->m->name,
             msg);
    return -1;
}

static int index_vm_init(struct index_vm *vm, const struct label_matcher *m, char *err,
                         size_t errlen)
{
    *vm = (struct index_vm){.m = m, .nlen = strlen(m->name)};
    vm->negate = m->type == LABEL_MATCH_NEQ || m->type == LABEL_MATCH_NRE;
    if (m->type == LABEL_MATCH_EQ || m->type == LABEL_MATCH_NEQ) {
        vm->kind = INDEX_VM_LITERALS;
        sbuf_append(&vm->lits, m->value, strlen(m->value) + 1);
    } else {
        vm->kind = index_regex_shape(m->value, vm);
        if (vm->kind == INDEX_VM_REGEX && index_vm_compile(vm, err, errlen) < 0)
            return -1;
    }
    int t = index_vm_test(vm, "", 0, err, errlen);
    if (t < 0)
        return -1;
    vm->accepts_empty = (t == 1) != vm->negate;
    return 0;
}

/* --- Computing S(want) from a name's values ------------------------------ */

static int index_or_posting(roaring_bitmap_t *acc, const struct index_posting *p)
{
    roaring_bitmap_t *b = index_posting_bitmap(p);
    if (!b)
        return MDB_CORRUPTED;
    roaring_bitmap_or_inplace(acc, b);
    index_bitmap_free(b);
    return 0;
}

/* Union of the postings of every value starting with prefix (or, with a
 * test vm, of every such value v with t(v) == want). */
static int index_scan_union(const struct index *ix, MDB_txn *txn, struct index_vm *vm,
                            const char *prefix, size_t plen, bool test, bool want,
                            roaring_bitmap_t *acc, char *err, size_t errlen)
{
    struct index_value_iter it;
    int rc = index_value_iter_open(ix, txn, vm->m->name, prefix, plen, &it);
    struct index_posting p;
    while (rc == 0 && (rc = index_value_iter_next(&it, &p)) == 0) {
        if (test) {
            int t = index_vm_test(vm, p.value, p.vlen, err, errlen);
            if (t < 0) {
                index_value_iter_close(&it);
                return -1;
            }
            if ((t == 1) != want)
                continue;
        }
        rc = index_or_posting(acc, &p);
    }
    index_value_iter_close(&it);
    return rc == MDB_NOTFOUND ? 0 : rc;
}

static int index_literals_union(const struct index *ix, MDB_txn *txn, struct index_vm *vm,
                                roaring_bitmap_t *acc)
{
    for (const char *l = vm->lits.data; l < vm->lits.data + vm->lits.len; l += strlen(l) + 1) {
        if (!*l)
            continue; /* no series has the value "" */
        struct index_posting p;
        int rc = index_posting_get(ix, txn, vm->m->name, vm->nlen, l, strlen(l), &p);
        if (rc == 0)
            rc = index_or_posting(acc, &p);
        if (rc != 0 && rc != MDB_NOTFOUND)
            return rc;
    }
    return 0;
}

/* *out = S(want) for vm's name: a new bitmap.  Returns 0, -1 with err. */
static int index_vm_union(const struct index *ix, MDB_txn *txn, struct index_vm *vm, bool want,
                          roaring_bitmap_t **out, char *err, size_t errlen)
{
    const char *name = vm->m->name;
    roaring_bitmap_t *acc = roaring_bitmap_create();
    int rc = 0;
    bool from_presence = !want; /* S(false) = presence minus S(true) */
    switch (vm->kind) {
    case INDEX_VM_ANY:
    case INDEX_VM_NONEMPTY:
        from_presence = want; /* every value passes: S(true) = presence, S(false) = {} */
        break;
    case INDEX_VM_LITERALS:
        rc = index_literals_union(ix, txn, vm, acc);
        break;
    case INDEX_VM_PREFIX:
        rc = index_scan_union(ix, txn, vm, vm->lits.data, vm->lits.len - 1, false, true, acc, err,
                              errlen);
        break;
    case INDEX_VM_REGEX:
        rc = index_scan_union(ix, txn, vm, "", 0, true, want, acc, err, errlen);
        from_presence = false;
        break;
    }
    if (rc == 0 && from_presence) {
        roaring_bitmap_t *presence;
        rc = index_postings_load(ix, txn, name, vm->nlen, "", 0, &presence);
        if (rc == 0) {
            roaring_bitmap_andnot_inplace(presence, acc);
            index_bitmap_free(acc);
            acc = presence;
        }
    }
    if (rc != 0) {
        if (rc > 0 || rc < -1)
            snprintf(err, errlen, "index: label %s: %s", name, mdb_strerror(rc));
        index_bitmap_free(acc);
        return -1;
    }
    *out = acc;
    return 0;
}

/* --- Planning and evaluating a selector --------------------------------- */

/* Cheap matchers first: they shrink the set the expensive ones work on. */
static int index_vm_rank(const struct index_vm *vm)
{
    int rank = vm->kind == INDEX_VM_REGEX ? 2 : vm->kind == INDEX_VM_PREFIX ? 1 : 0;
    return (vm->accepts_empty ? 3 : 0) + rank;
}

static int index_vm_order(const void *a, const void *b)
{
    const struct index_vm *x = *(struct index_vm *const *)a, *y = *(struct index_vm *const *)b;
    int d = index_vm_rank(x) - index_vm_rank(y);
    return d ? d : (x < y ? -1 : x > y);
}

/* Whether testing vm on each of `card` series beats scanning the name's
 * values. */
static bool index_vm_defer(const struct index *ix, MDB_txn *txn, const struct index_vm *vm,
                           uint64_t card)
{
    if (vm->kind != INDEX_VM_REGEX)
        return false;
    struct index_posting p;
    if (index_posting_get(ix, txn, vm->m->name, vm->nlen, "", 0, &p) != 0)
        return false;
    return card * INDEX_DEFER_RATIO < p.aux;
}

/* Keeps the series of *sel whose own values the deferred matchers accept. */
static int index_filter_series(const struct index *ix, MDB_txn *txn, roaring_bitmap_t **sel,
                               struct index_vm **vms, size_t n, char *err, size_t errlen)
{
    uint64_t card = roaring_bitmap_get_cardinality(*sel);
    uint32_t *ids = xmalloc((card ? card : 1) * sizeof *ids);
    roaring_bitmap_to_uint32_array(*sel, ids);
    size_t kept = 0;
    int rc = 0;
    struct index_labels scratch = INDEX_LABELS_INIT;
    for (size_t i = 0; i < card && rc == 0; i++) {
        const void *canon;
        size_t cn;
        if (index_series_bytes(ix, txn, ids[i], &scratch, &canon, &cn) != 0)
            continue;
        bool ok = true;
        for (size_t j = 0; j < n && ok && rc == 0; j++) {
            if (!vms[j]->deferred)
                continue;
            const char *v;
            size_t vlen;
            index_canon_find(canon, cn, vms[j]->m->name, vms[j]->nlen, &v, &vlen);
            int t = index_vm_test(vms[j], v, vlen, err, errlen);
            rc = t < 0 ? -1 : 0;
            ok = (t == 1) != vms[j]->negate;
        }
        if (ok)
            ids[kept++] = ids[i];
    }
    index_labels_free(&scratch);
    if (rc == 0) {
        index_bitmap_free(*sel);
        *sel = roaring_bitmap_of_ptr(kept, ids);
    }
    free(ids);
    return rc;
}

/* Applies one matcher to *sel (NULL = nothing intersected yet). */
static int index_vm_apply(const struct index *ix, MDB_txn *txn, struct index_vm *vm,
                          roaring_bitmap_t **sel, char *err, size_t errlen)
{
    if (vm->nlen == 0 || vm->nlen > INDEX_NAME_MAX) { /* a label no series can have */
        if (!vm->accepts_empty) {
            index_bitmap_free(*sel);
            *sel = roaring_bitmap_create();
        }
        return 0;
    }
    if (*sel && index_vm_defer(ix, txn, vm, roaring_bitmap_get_cardinality(*sel))) {
        vm->deferred = true;
        return 0;
    }
    if (!*sel && vm->accepts_empty &&
        index_postings_load(ix, txn, "", 0, "", 0, sel) != 0) { /* start from all series */
        snprintf(err, errlen, "index: reading the all-series list failed");
        return -1;
    }
    bool want = vm->accepts_empty ? vm->negate : !vm->negate; /* see the top of the file */
    roaring_bitmap_t *s;
    if (index_vm_union(ix, txn, vm, want, &s, err, errlen) < 0)
        return -1;
    if (vm->accepts_empty) {
        roaring_bitmap_andnot_inplace(*sel, s);
        index_bitmap_free(s);
    } else if (*sel) {
        roaring_bitmap_and_inplace(*sel, s);
        index_bitmap_free(s);
    } else {
        *sel = s;
    }
    return 0;
}

static int index_select_planned(const struct index *ix, MDB_txn *txn, struct index_vm **order,
                                size_t n, roaring_bitmap_t **out, char *err, size_t errlen)
{
    roaring_bitmap_t *sel = NULL;
    bool deferred = false;
    for (size_t i = 0; i < n; i++) {
        if (sel && roaring_bitmap_is_empty(sel))
            break;
        if (index_vm_apply(ix, txn, order[i], &sel, err, errlen) < 0) {
            index_bitmap_free(sel);
            return -1;
        }
        deferred |= order[i]->deferred;
    }
    if (!sel && index_postings_load(ix, txn, "", 0, "", 0, &sel) != 0) {
        snprintf(err, errlen, "index: reading the all-series list failed");
        return -1;
    }
    if (deferred && !roaring_bitmap_is_empty(sel) &&
        index_filter_series(ix, txn, &sel, order, n, err, errlen) < 0) {
        index_bitmap_free(sel);
        return -1;
    }
    *out = sel;
    return 0;
}

int index_select(const struct index *ix, MDB_txn *txn, const struct label_matcher *ms, size_t n,
                 roaring_bitmap_t **out, char *err, size_t errlen)
{
    struct index_vm *vms = xcalloc(n ? n : 1, sizeof *vms);
    struct index_vm **order = xcalloc(n ? n : 1, sizeof *order);
    int rc = 0;
    size_t ready = 0;
    for (; ready < n && rc == 0; ready++) {
        rc = index_vm_init(&vms[ready], &ms[ready], err, errlen);
        order[ready] = &vms[ready];
    }
    if (rc == 0) {
        qsort(order, n, sizeof *order, index_vm_order);
        rc = index_select_planned(ix, txn, order, n, out, err, errlen);
    }
    for (size_t i = 0; i < ready; i++)
        index_vm_free(&vms[i]);
    free(vms);
    free(order);
    return rc;
}
