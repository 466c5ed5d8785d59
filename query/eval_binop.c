/* eval_binop.c — binary operators: scalar/scalar, vector/scalar and
 * vector/vector with Prometheus's matching rules.
 *
 * Vector matching hashes each side by its match signature (the on() labels,
 * or all labels but the ignoring() ones and __name__).  Set operators only
 * look at signatures.  The others take the "one" side into a map (a second
 * series with the same signature there is the many-to-many error), then
 * walk the "many" side; a signature matched twice in one-to-one matching,
 * or a result label set produced twice in group_left/right, is an error
 * with Prometheus's wording.  Arithmetic and `bool` mark the metric name
 * for removal; comparisons without bool filter and keep the left value.
 * The experimental fill()/fill_left()/fill_right() modifiers pair a sample
 * that has no partner with a stand-in carrying the fill value and the
 * match labels (see vector_binop). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "query/eval_internal.h"
#include "util/sbuf.h"

double ev_binop_float(enum promql_op op, double l, double r, bool *keep)
{
    *keep = true;
    switch (op) {
    case PROMQL_OP_ADD:
        return l + r;
    case PROMQL_OP_SUB:
        return l - r;
    case PROMQL_OP_MUL:
        return l * r;
    case PROMQL_OP_DIV:
        return l / r;
    case PROMQL_OP_POW:
        return pow(l, r);
    case PROMQL_OP_MOD:
        return fmod(l, r);
    case PROMQL_OP_ATAN2:
        return atan2(l, r);
    case PROMQL_OP_EQL:
        *keep = l == r;
        return l;
    case PROMQL_OP_NEQ:
        *keep = l != r;
        return l;
    case PROMQL_OP_GTR:
        *keep = l > r;
        return l;
    case PROMQL_OP_LSS:
        *keep = l < r;
        return l;
    case PROMQL_OP_GTE:
        *keep = l >= r;
        return l;
    case PROMQL_OP_LTE:
        *keep = l <= r;
        return l;
    default:
        *keep = false;
        return NAN;
    }
}

static bool drops_name(enum promql_op op)
{
    switch (op) {
    case PROMQL_OP_ADD:
    case PROMQL_OP_SUB:
    case PROMQL_OP_MUL:
    case PROMQL_OP_DIV:
    case PROMQL_OP_MOD:
    case PROMQL_OP_POW:
    case PROMQL_OP_ATAN2:
        return true;
    default:
        return false;
    }
}

/* The match signature of ls into b. */
static void signature(const struct labels *ls, const struct promql_vector_matching *m,
                      struct sbuf *b)
{
    sbuf_reset(b);
    for (size_t i = 0; i < ls->n; i++) {
        bool listed = false;
        for (size_t k = 0; k < m->nlabels; k++)
            if (strcmp(m->labels[k], ls->v[i].name) == 0)
                listed = true;
        if (m->on ? !listed : (listed || strcmp(ls->v[i].name, "__name__") == 0))
            continue;
        sbuf_puts(b, ls->v[i].name);
        sbuf_putc(b, (char)0xff);
        sbuf_puts(b, ls->v[i].value);
        sbuf_putc(b, (char)0xff);
    }
    if (!b->data)
        sbuf_puts(b, "");
}

static struct ev_value set_op(struct evaluator *ev, const struct promql_expr *e, struct ev_value l,
                              struct ev_value r)
{
    const struct promql_vector_matching *m = e->binary.matching;
    struct ev_value o = {.type = PROMQL_VECTOR};
    o.s = ev_alloc(ev, (l.n + r.n) * sizeof *o.s);
    struct strmap map;
    struct sbuf b = SBUF_INIT;
    bool found;
    switch (e->binary.op) {
    case PROMQL_OP_AND:
    case PROMQL_OP_UNLESS:
        strmap_init(&map, ev->a, r.n);
        for (size_t i = 0; i < r.n; i++) {
            signature(&r.s[i].ls, m, &b);
            strmap_put(&map, b.data, b.len, &found);
        }
        for (size_t i = 0; i < l.n; i++) {
            signature(&l.s[i].ls, m, &b);
            bool in = strmap_get(&map, b.data, b.len) != NULL;
            if (in == (e->binary.op == PROMQL_OP_AND))
                o.s[o.n++] = l.s[i];
        }
        break;
    default: /* OR */
        strmap_init(&map, ev->a, l.n);
        for (size_t i = 0; i < l.n; i++) {
            signature(&l.s[i].ls, m, &b);
            strmap_put(&map, b.data, b.len, &found);
            o.s[o.n++] = l.s[i];
        }
        for (size_t i = 0; i < r.n; i++) {
            signature(&r.s[i].ls, m, &b);
            if (!strmap_get(&map, b.data, b.len))
                o.s[o.n++] = r.s[i];
        }
        break;
    }
    sbuf_free(&b);
    return o;
}

static struct labels match_labels(struct evaluator *ev, const struct labels *ls,
                                  const struct promql_vector_matching *m)
{
    if (m->on)
        return lbl_keep(ev->a, ls, m->labels, m->nlabels);
    return lbl_del(ev->a, ls, m->labels, m->nlabels, true);
}

static struct labels result_metric(struct evaluator *ev, const struct labels *l,
                                   const struct labels *r, enum promql_op op,
                                   const struct promql_vector_matching *m)
{
    struct labels out = *l;
    (void)op;
    if (m->card == PROMQL_CARD_ONE_TO_ONE) {
        if (m->on)
            out = lbl_keep(ev->a, &out, m->labels, m->nlabels);
        else
            out = lbl_del(ev->a, &out, m->labels, m->nlabels, false);
    }
    for (size_t i = 0; i < m->ninclude; i++) {
        const char *v = lbl_get(r, m->include[i]);
        out = lbl_set(ev->a, &out, m->include[i], v);
    }
    return out;
}

/* State of one vector-vector operation at one step.  lhs is the "many"
 * side (the right operand for group_right), rhs the "one" side. */
struct binop_run {
    struct evaluator *ev;
    const struct promql_expr *e;
    const struct promql_vector_matching *m;
    struct strmap matched;  /* signatures that produced a pair */
    struct strmap inserted; /* signature + result labels, for group_left/right */
    struct sbuf key, scratch;
    struct ev_value *o;
    int64_t ts;
};

static _Noreturn void binop_fail(struct binop_run *br, const char *msg)
{
    sbuf_free(&br->key);
    sbuf_free(&br->scratch);
    ev_fail(br->ev, "%s", msg);
}

/* Computes one matched pair (ls from the many side, rs from the one side)
 * with signature sig.  The duplicate checks come before a comparison
 * filters the pair, as in Prometheus. */
static void binop_pair(struct binop_run *br, const struct ev_sample *ls, const struct ev_sample *rs,
                       const char *sig, size_t siglen)
{
    struct sbuf *scratch = &br->scratch;
    const struct promql_vector_matching *m = br->m;
    enum promql_op op = br->e->binary.op;
    bool rb = br->e->binary.return_bool;
    double fl = ls->v, fr = rs->v;
    if (m->card == PROMQL_CARD_ONE_TO_MANY) {
        fl = rs->v;
        fr = ls->v;
    }
    bool keep;
    double v = ev_binop_float(op, fl, fr, &keep);
    struct labels met = result_metric(br->ev, &ls->ls, &rs->ls, op, m);
    bool found;
    strmap_put(&br->matched, sig, siglen, &found);
    if (m->card == PROMQL_CARD_ONE_TO_ONE && found)
        binop_fail(br, "multiple matches for labels: many-to-one matching must be explicit "
                       "(group_left/group_right)");
    if (m->card != PROMQL_CARD_ONE_TO_ONE) {
        sbuf_reset(scratch);
        sbuf_append(scratch, sig, siglen);
        sbuf_putc(scratch, 0);
        struct labels ml = met;
        if (drops_name(op) || rb)
            ml = lbl_drop_name(br->ev->a, &ml);
        lbl_key(&ml, scratch);
        strmap_put(&br->inserted, scratch->data, scratch->len, &found);
        if (found)
            binop_fail(br, "multiple matches for labels: grouping labels must ensure unique "
                           "matches");
    }
    if (rb)
        v = keep ? 1 : 0;
    else if (!keep)
        return;
    bool drop = drops_name(op) || rb || ls->drop;
    br->o->s[br->o->n++] = (struct ev_sample){met, v, br->ts, drop, 0};
}

/* A stand-in for a missing partner under fill(): the fill value, labelled
 * with the match labels of the series it stands in for. */
static struct ev_sample fill_sample(struct evaluator *ev, const struct ev_sample *of,
                                    const struct promql_vector_matching *m, double v, int64_t ts)
{
    return (struct ev_sample){match_labels(ev, &of->ls, m), v, ts, false, 0};
}

static void check_one_side_unique(struct binop_run *br, const struct ev_value *rhs,
                                  struct strmap *right)
{
    const struct promql_vector_matching *m = br->m;
    for (size_t i = 0; i < rhs->n; i++) {
        signature(&rhs->s[i].ls, m, &br->key);
        bool found;
        size_t *slot = strmap_put(right, br->key.data, br->key.len, &found);
        if (!found) {
            *slot = i;
            continue;
        }
        struct sbuf msg = SBUF_INIT;
        struct labels ml = match_labels(br->ev, &rhs->s[i].ls, m);
        sbuf_puts(&msg, "found duplicate series for the match group ");
        lbl_string(&ml, &msg);
        sbuf_printf(&msg, " on the %s hand-side of the operation: [",
                    m->card == PROMQL_CARD_ONE_TO_MANY ? "left" : "right");
        lbl_string(&rhs->s[*slot].ls, &msg);
        sbuf_puts(&msg, ", ");
        lbl_string(&rhs->s[i].ls, &msg);
        sbuf_puts(&msg, "];many-to-many matching not allowed: matching labels must be unique on "
                        "one side");
        char tmp[1024];
        snprintf(tmp, sizeof tmp, "%s", msg.data);
        sbuf_free(&msg);
        binop_fail(br, tmp);
    }
}

/* Vector-vector arithmetic and comparison.  With fill_right(v) a many-side
 * sample without a partner is paired with v; with fill_left(v) every
 * one-side sample no pair used is paired with v afterwards.  The fill
 * values are not swapped for group_right, as in Prometheus. */
static struct ev_value vector_binop(struct evaluator *ev, const struct promql_expr *e,
                                    struct ev_value l, struct ev_value r, int64_t ts)
{
    const struct promql_vector_matching *m = e->binary.matching;
    struct ev_value lhs = l, rhs = r;
    if (m->card == PROMQL_CARD_ONE_TO_MANY) {
        lhs = r;
        rhs = l;
    }
    struct ev_value o = {.type = PROMQL_VECTOR};
    o.s = ev_alloc(ev, (lhs.n + rhs.n + 1) * sizeof *o.s);
    struct binop_run br = {
        .ev = ev, .e = e, .m = m, .key = SBUF_INIT, .scratch = SBUF_INIT, .o = &o, .ts = ts};
    struct strmap right;
    strmap_init(&right, ev->a, rhs.n);
    check_one_side_unique(&br, &rhs, &right);
    strmap_init(&br.matched, ev->a, lhs.n);
    strmap_init(&br.inserted, ev->a, lhs.n);
    for (size_t i = 0; i < lhs.n; i++) {
        signature(&lhs.s[i].ls, m, &br.key);
        size_t *ri = strmap_get(&right, br.key.data, br.key.len);
        if (ri) {
            binop_pair(&br, &lhs.s[i], &rhs.s[*ri], br.key.data, br.key.len);
        } else if (m->fill_rhs_set) {
            struct ev_sample f = fill_sample(ev, &lhs.s[i], m, m->fill_rhs, ts);
            binop_pair(&br, &lhs.s[i], &f, br.key.data, br.key.len);
        }
    }
    for (size_t i = 0; m->fill_lhs_set && i < rhs.n; i++) {
        signature(&rhs.s[i].ls, m, &br.key);
        if (strmap_get(&br.matched, br.key.data, br.key.len))
            continue;
        struct ev_sample f = fill_sample(ev, &rhs.s[i], m, m->fill_lhs, ts);
        binop_pair(&br, &f, &rhs.s[i], br.key.data, br.key.len);
    }
    sbuf_free(&br.key);
    sbuf_free(&br.scratch);
    return o;
}

struct ev_value ev_binary(struct evaluator *ev, const struct promql_expr *e, int64_t ts)
{
    struct ev_value l = ev_eval(ev, e->binary.lhs, ts);
    struct ev_value r = ev_eval(ev, e->binary.rhs, ts);
    enum promql_op op = e->binary.op;
    bool rb = e->binary.return_bool;
    if (l.type == PROMQL_SCALAR && r.type == PROMQL_SCALAR) {
        bool keep;
        double v = ev_binop_float(op, l.scalar, r.scalar, &keep);
        if (promql_op_is_comparison(op))
            v = keep ? 1 : 0;
        return (struct ev_value){.type = PROMQL_SCALAR, .scalar = v};
    }
    if (l.type == PROMQL_VECTOR && r.type == PROMQL_VECTOR) {
        if (promql_op_is_set(op))
            return set_op(ev, e, l, r);
        return vector_binop(ev, e, l, r, ts);
    }
    /* vector and scalar */
    bool swap = l.type == PROMQL_SCALAR;
    struct ev_value vec = swap ? r : l;
    double sc = swap ? l.scalar : r.scalar;
    struct ev_value o = {.type = PROMQL_VECTOR};
    o.s = ev_alloc(ev, (vec.n + 1) * sizeof *o.s);
    for (size_t i = 0; i < vec.n; i++) {
        double lf = vec.s[i].v, rf = sc;
        if (swap) {
            lf = sc;
            rf = vec.s[i].v;
        }
        bool keep;
        double v = ev_binop_float(op, lf, rf, &keep);
        if (promql_op_is_comparison(op) && swap)
            v = rf;
        if (rb) {
            v = keep ? 1 : 0;
            keep = true;
        }
        if (!keep)
            continue;
        o.s[o.n++] = (struct ev_sample){vec.s[i].ls, v, ts, vec.s[i].drop || drops_name(op) || rb,
                                        vec.s[i].sid};
    }
    return o;
}
