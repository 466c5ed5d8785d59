/* eval_info.c — the experimental info(v, {selector}) function: enriching
 * series with the data labels of "info" series (target_info, *_info) that
 * share their identifying labels, instance and job.
 *
 * The selector chooses the info series: its __name__ matchers pick the info
 * metrics (none: target_info; only negative ones: they narrow ".+_info"),
 * the others are data label matchers — an info series must satisfy them,
 * and only the labels they name are copied (all labels when there are
 * none).  ev_info_prepare reads the info series once, over the whole range
 * the query needs, like a selector; they are read at the time of the first
 * selector in v (its @ and offset included).
 *
 * At each step every info series contributes its newest sample within the
 * lookback delta; of two series of one metric with the same identifying
 * labels the newer sample wins (the same timestamp is an error).  A series
 * of v whose name every __name__ matcher accepts is an info series itself
 * and passes unchanged.  Any other series gets, per info metric, the data
 * labels of the info series matching its instance/job (labels it already
 * has win; two info metrics disagreeing on a label is an error).  A series
 * no info series matched is dropped when some data label matcher rejects
 * the empty value, else it passes unchanged.  This follows Prometheus's
 * promql/info.go. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdio.h>
#include <string.h>

#include "query/eval_internal.h"
#include "storage/tsdb.h"
#include "util/sbuf.h"

static const char *const info_id_labels[] = {"instance", "job"};
#define INFO_NID 2

/* The matchers of info(v, {selector}), split into the effective __name__
 * matchers and the data label matchers. */
struct info_sel {
    struct label_matcher *name;
    size_t nname;
    const struct label_matcher **data;
    size_t ndata;
};

static bool matcher_positive(const struct label_matcher *m)
{
    return m->type == LABEL_MATCH_EQ || m->type == LABEL_MATCH_RE;
}

static void info_sel_get(struct evaluator *ev, const struct promql_expr *e, struct info_sel *is)
{
    const struct promql_expr *sel = e->call.nargs > 1 ? e->call.args[1] : NULL;
    size_t n = sel ? sel->vs.nmatchers : 0;
    is->name = promql_arena_alloc(ev->a, (n + 2) * sizeof *is->name);
    is->data = promql_arena_alloc(ev->a, (n + 1) * sizeof *is->data);
    is->nname = is->ndata = 0;
    bool any_name = false, positive = false;
    for (size_t i = 0; i < n; i++) {
        const struct label_matcher *m = &sel->vs.matchers[i];
        if (strcmp(m->name, "__name__") != 0) {
            is->data[is->ndata++] = m;
            continue;
        }
        any_name = true;
        positive = positive || matcher_positive(m);
    }
    if (!any_name)
        is->name[is->nname++] = (struct label_matcher){LABEL_MATCH_EQ, "__name__", "target_info"};
    else if (!positive)
        is->name[is->nname++] = (struct label_matcher){LABEL_MATCH_RE, "__name__", ".+_info"};
    for (size_t i = 0; i < n; i++)
        if (strcmp(sel->vs.matchers[i].name, "__name__") == 0)
            is->name[is->nname++] = sel->vs.matchers[i];
}

static const struct promql_expr *info_first_selector(const struct promql_expr *e)
{
    const struct promql_expr *out[1];
    return promql_expr_selectors(e->call.args[0], out, 1) ? out[0] : NULL;
}

void ev_info_prepare(struct evaluator *ev, const struct promql_expr *e, int64_t mint, int64_t maxt)
{
    struct info_sel is;
    info_sel_get(ev, e, &is);
    struct label_matcher *ms = promql_arena_alloc(ev->qa, (is.nname + is.ndata + 1) * sizeof *ms);
    size_t nms = 0;
    for (size_t i = 0; i < is.nname; i++)
        ms[nms++] = is.name[i];
    for (size_t i = 0; i < is.ndata; i++)
        ms[nms++] = *is.data[i];
    /* the info series hang off the call's node */
    struct ev_node *n = ev_node_get(ev, e);
    n->offset_ms = 0;
    n->at_set = false;
    const struct promql_expr *vs = info_first_selector(e);
    if (vs) {
        n->offset_ms = ev_node_get(ev, vs)->offset_ms;
        if (vs->vs.mods.at != PROMQL_AT_NONE) {
            n->at_set = true;
            n->at_ms = ev_resolve_at(ev, &vs->vs.mods);
            mint = maxt = n->at_ms;
        }
    }
    n->load_mint = mint - n->offset_ms - ev->lookback_ms;
    n->load_maxt = maxt - n->offset_ms;
    ev_load_series(ev, n, ms, nms, false);
}

/* ---- matching names against the __name__ matchers ---- */

struct name_test {
    const struct label_matcher *m;
    pcre2_code *re; /* regex matchers */
    pcre2_match_data *md;
};

static void name_tests_free(struct name_test *t, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (t[i].md)
            pcre2_match_data_free(t[i].md);
        if (t[i].re)
            pcre2_code_free(t[i].re);
    }
}

/* Compiles the regex matchers; returns false (all freed) on a bad one. */
static bool name_tests_init(struct name_test *t, const struct info_sel *is)
{
    for (size_t i = 0; i < is->nname; i++) {
        t[i] = (struct name_test){&is->name[i], NULL, NULL};
        if (is->name[i].type == LABEL_MATCH_EQ || is->name[i].type == LABEL_MATCH_NEQ)
            continue;
        struct sbuf re = SBUF_INIT;
        sbuf_printf(&re, "^(?s:%s)$", is->name[i].value);
        int ec;
        PCRE2_SIZE eo;
        t[i].re = pcre2_compile((PCRE2_SPTR)re.data, re.len, PCRE2_UTF, &ec, &eo, NULL);
        sbuf_free(&re);
        if (!t[i].re) {
            name_tests_free(t, i);
            return false;
        }
        t[i].md = pcre2_match_data_create_from_pattern(t[i].re, NULL);
    }
    return true;
}

static bool name_test_ok(const struct name_test *t, const char *v)
{
    switch (t->m->type) {
    case LABEL_MATCH_EQ:
        return strcmp(v, t->m->value) == 0;
    case LABEL_MATCH_NEQ:
        return strcmp(v, t->m->value) != 0;
    default: {
        bool hit = pcre2_match(t->re, (PCRE2_SPTR)v, strlen(v), 0, 0, t->md, NULL) >= 0;
        return t->m->type == LABEL_MATCH_RE ? hit : !hit;
    }
    }
}

/* Marks the series of v that every __name__ matcher accepts: info series
 * themselves, passed through unchanged. */
static bool *info_ignored(struct evaluator *ev, const struct info_sel *is, const struct ev_value *v)
{
    bool *ign = ev_alloc(ev, v->n + 1);
    struct name_test *t = ev_alloc(ev, (is->nname + 1) * sizeof *t);
    if (!name_tests_init(t, is))
        ev_fail(ev, "invalid regular expression in info() selector");
    for (size_t i = 0; i < v->n; i++) {
        const char *name = lbl_get(&v->s[i].ls, "__name__");
        bool all = true;
        for (size_t k = 0; k < is->nname && all; k++)
            all = name_test_ok(&t[k], name ? name : "");
        ign[i] = all;
    }
    name_tests_free(t, is->nname);
    return ign;
}

/* ---- one step ---- */

/* name 0xff instance/job pairs of ls (those it has) */
static void info_sig(const char *name, const struct labels *ls, struct sbuf *b)
{
    sbuf_reset(b);
    sbuf_puts(b, name);
    sbuf_putc(b, (char)0xff);
    for (size_t i = 0; i < INFO_NID; i++) {
        const char *v = lbl_get(ls, info_id_labels[i]);
        if (!v || !*v)
            continue;
        sbuf_puts(b, info_id_labels[i]);
        sbuf_putc(b, (char)0xff);
        sbuf_puts(b, v);
        sbuf_putc(b, (char)0xff);
    }
}

/* The info samples visible at ref: per signature the newest; names: the
 * distinct info metric names. */
struct info_step {
    struct strmap sigs; /* -> index into the node's series */
    int64_t *t;         /* per series: its sample's time, or INT64_MIN */
    const char **names;
    size_t nnames;
};

static void info_step_collect(struct evaluator *ev, const struct ev_node *n, int64_t ref,
                              struct info_step *st, struct sbuf *key)
{
    strmap_init(&st->sigs, ev->a, n->nseries);
    st->t = ev_alloc(ev, (n->nseries + 1) * sizeof *st->t);
    st->names = ev_alloc(ev, (n->nseries + 1) * sizeof *st->names);
    st->nnames = 0;
    struct strmap names;
    strmap_init(&names, ev->a, 8);
    for (size_t i = 0; i < n->nseries; i++) {
        const struct ev_series *s = &n->series[i];
        const char *name = lbl_get(&s->ls, "__name__");
        name = name ? name : "";
        bool found;
        strmap_put(&names, name, strlen(name), &found);
        if (!found)
            st->names[st->nnames++] = name;
        st->t[i] = INT64_MIN;
        ptrdiff_t k = ev_last_at_or_before(s->t, s->n, ref);
        uint64_t bits = 0;
        if (k >= 0)
            memcpy(&bits, &s->v[k], 8);
        if (k < 0 || s->t[k] <= ref - ev->lookback_ms || bits == TSDB_STALE_NAN_BITS)
            continue;
        st->t[i] = s->t[k];
        info_sig(name, &s->ls, key);
        size_t *slot = strmap_put(&st->sigs, key->data, key->len, &found);
        if (!found) {
            *slot = i;
            continue;
        }
        int64_t other = st->t[*slot];
        if (other == st->t[i]) {
            struct sbuf a = SBUF_INIT, b = SBUF_INIT;
            lbl_string(&n->series[*slot].ls, &a);
            lbl_string(&s->ls, &b);
            char msg[1024];
            snprintf(msg, sizeof msg,
                     "found duplicate series for info metric: existing %s @ %lld, new %s @ %lld",
                     a.data, (long long)other, b.data, (long long)st->t[i]);
            sbuf_free(&a);
            sbuf_free(&b);
            sbuf_free(key);
            ev_fail(ev, "%s", msg);
        }
        if (st->t[i] > other)
            *slot = i;
    }
}

static bool data_label_wanted(const struct info_sel *is, const char *name)
{
    if (is->ndata == 0)
        return true;
    for (size_t i = 0; i < is->ndata; i++)
        if (strcmp(is->data[i]->name, name) == 0)
            return true;
    return false;
}

static bool data_matchers_accept_empty(const struct info_sel *is)
{
    for (size_t i = 0; i < is->ndata; i++)
        if (!promql_matcher_matches_empty(is->data[i]))
            return false;
    return true;
}

/* Adds the data labels of info series s to *add (labels of base win);
 * fails on two info metrics disagreeing. */
static void info_copy_labels(struct evaluator *ev, const struct info_sel *is,
                             const struct labels *base, const struct ev_series *s,
                             struct labels *add, struct sbuf *key)
{
    for (size_t i = 0; i < s->ls.n; i++) {
        const struct label *l = &s->ls.v[i];
        if (strcmp(l->name, "__name__") == 0 || !data_label_wanted(is, l->name))
            continue;
        const char *have = lbl_get(add, l->name);
        if (have && *have && strcmp(have, l->value) != 0) {
            sbuf_free(key);
            ev_fail(ev, "conflicting label: %s", l->name);
        }
        if (lbl_get(base, l->name))
            continue;
        *add = lbl_set(ev->a, add, l->name, l->value);
    }
}

/* The enriched labels of one series, or false when it is to be dropped. */
static bool info_enrich(struct evaluator *ev, const struct info_sel *is, const struct ev_node *n,
                        const struct info_step *st, const struct labels *base, struct labels *out,
                        struct sbuf *key)
{
    struct labels add = {NULL, 0};
    size_t seen = 0;
    for (size_t k = 0; k < st->nnames; k++) {
        info_sig(st->names[k], base, key);
        size_t *slot = strmap_get(&st->sigs, key->data, key->len);
        if (!slot)
            continue;
        info_copy_labels(ev, is, base, &n->series[*slot], &add, key);
        seen++;
    }
    if (seen == 0 && !data_matchers_accept_empty(is))
        return false;
    *out = *base;
    for (size_t i = 0; i < add.n; i++)
        *out = lbl_set(ev->a, out, add.v[i].name, add.v[i].value);
    return true;
}

struct ev_value ev_info(struct evaluator *ev, const struct promql_expr *e, int64_t ts)
{
    struct ev_value base = ev_eval(ev, e->call.args[0], ts);
    struct ev_node *n = ev_node_get(ev, e);
    struct info_sel is;
    info_sel_get(ev, e, &is);
    bool *ign = info_ignored(ev, &is, &base);
    int64_t ref = (n->at_set ? n->at_ms : ts) - n->offset_ms;
    struct sbuf key = SBUF_INIT;
    struct info_step st;
    info_step_collect(ev, n, ref, &st, &key);
    struct ev_value o = {.type = PROMQL_VECTOR};
    o.s = ev_alloc(ev, (base.n + 1) * sizeof *o.s);
    struct strmap out;
    strmap_init(&out, ev->a, base.n);
    for (size_t i = 0; i < base.n; i++) {
        struct labels ls = base.s[i].ls;
        if (!ign[i] && !info_enrich(ev, &is, n, &st, &base.s[i].ls, &ls, &key))
            continue;
        sbuf_reset(&key);
        lbl_key(&ls, &key);
        bool found;
        strmap_put(&out, key.data ? key.data : "", key.len, &found);
        if (found) {
            sbuf_free(&key);
            ev_fail(ev, "vector cannot contain metrics with the same labelset");
        }
        o.s[o.n++] = (struct ev_sample){ls, base.s[i].v, ts, base.s[i].drop, 0};
    }
    sbuf_free(&key);
    return o;
}
