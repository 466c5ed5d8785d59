/* promqltest.c — runs Prometheus's PromQL test scripts (the .test files in
 * shared/promql-tests, format in FORMAT.md there) against Vigil's storage
 * and evaluator: `vigil promqltest FILE...`.
 *
 * A file is read top to bottom.  `load` lines are expanded and appended
 * through a real struct tsdb opened on a temporary directory (one per
 * file, removed at the end; `clear` reopens it empty), each load committed
 * as one batch.  Each `eval` block runs one instant or range query and is
 * scored as a whole: error or not (and the error text), annotations,
 * result type, the exact set of series, every value within Prometheus's
 * tolerance (almost.Equal with epsilon 1e-6), order when asked.  Blocks
 * that expect native histogram values ({{...}}) are counted as skipped:
 * Vigil stores float samples only, and histogram samples in load lines are
 * dropped.  A series line may be preceded by an `@st` line giving its
 * samples' start timestamps (FORMAT.md section 4.2), appended with them;
 * queries run with use_start_timestamps on, as Prometheus's test engine
 * does.  The extra range-mode and @-rewriting cross-checks of
 * Prometheus's runner (FORMAT.md section 13) are not performed. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <ctype.h>
#include <ftw.h>
#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "query/promql.h"
#include "query/promql_internal.h"
#include "storage/tsdb.h"
#include "util/duration.h"
#include "util/sbuf.h"

#define STALE_BITS 0x7ff0000000000002ULL

struct pt_ctx {
    const char *path;
    FILE *out;
    struct promqltest_stats *st;
    char dir[256];
    char datadir[300];
    int gen;
    struct tsdb *db;
    /* label sets of series loaded with native histogram samples */
    struct promql_arena *hist_arena;
    struct labels *hist;
    size_t nhist, caphist;
    char *outcome; /* per line of an eval block's start: 'P', 'F', 'S' or 0 (not run) */
};

/* ---- small helpers ---- */

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = 0;
    return s;
}

static int parse_time(const char *s, int64_t *ms)
{
    if (duration_parse(s, ms) == 0)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (end != s && *end == 0) {
        *ms = (int64_t)(v * 1000);
        return 0;
    }
    return -1;
}

static double stale_nan(void)
{
    uint64_t b = STALE_BITS;
    double v;
    memcpy(&v, &b, 8);
    return v;
}

static bool is_stale(double v)
{
    uint64_t b;
    memcpy(&b, &v, 8);
    return b == STALE_BITS;
}

/* A number or a duration (in seconds), the whole string. */
static int parse_num(const char *s, size_t n, double *v)
{
    char buf[128];
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end;
    if (go_parse_number(buf, n, v, NULL, 0) == 0)
        return 0;
    *v = strtod(buf, &end);
    if (end != buf && *end == 0)
        return 0;
    int64_t ms;
    const char *d = buf;
    bool neg = false;
    if (*d == '-' || *d == '+') {
        neg = *d == '-';
        d++;
    }
    if (duration_parse(d, &ms) == 0) {
        *v = (double)ms / 1000 * (neg ? -1 : 1);
        return 0;
    }
    return -1;
}

struct values {
    double *v;
    bool *present;
    size_t n, cap;
    bool hist;
};

static void values_push(struct values *vs, double v, bool present)
{
    if (vs->n == vs->cap) {
        vs->cap = vs->cap ? vs->cap * 2 : 16;
        vs->v = xrealloc(vs->v, vs->cap * sizeof *vs->v);
        vs->present = xrealloc(vs->present, vs->cap * sizeof *vs->present);
    }
    vs->v[vs->n] = v;
    vs->present[vs->n] = present;
    vs->n++;
}

static void values_free(struct values *vs)
{
    free(vs->v);
    free(vs->present);
    memset(vs, 0, sizeof *vs);
}

/* Whether p..e is written as an expansion (AxN, A+BxN): in the load
 * notation "0x12" is thirteen zeros, never the hex number 18, as
 * Prometheus's series lexer reads it. */
static bool is_expansion(const char *p, const char *e)
{
    const char *x = NULL;
    for (const char *q = e - 1; q > p; q--)
        if (*q == 'x') {
            x = q;
            break;
        }
    if (!x || x + 1 == e)
        return false;
    for (const char *q = x + 1; q < e; q++)
        if (*q < '0' || *q > '9')
            return false;
    return true;
}

/* Expands a load-notation value list. */
static int parse_values(const char *s, struct values *out)
{
    memset(out, 0, sizeof *out);
    const char *p = s;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        if (p[0] == '{' && p[1] == '{') {
            /* native histogram: {{...}} optionally followed by +{{..}}xN or xN */
            out->hist = true;
            long reps = 0;
            for (;;) {
                const char *q = strstr(p, "}}");
                if (!q)
                    return -1;
                p = q + 2;
                if ((*p == '+' || *p == '-') && p[1] == '{')
                    continue;
                break;
            }
            if (*p == 'x') {
                reps = strtol(p + 1, (char **)&p, 10);
            }
            for (long i = 0; i <= reps; i++)
                values_push(out, 0, false);
            continue;
        }
        const char *e = p;
        while (*e && *e != ' ' && *e != '\t')
            e++;
        size_t n = (size_t)(e - p);
        double v;
        if (n == 1 && *p == '_') {
            values_push(out, 0, false);
        } else if (n > 2 && p[0] == '_' && p[1] == 'x') {
            long k = strtol(p + 2, NULL, 10);
            for (long i = 0; i < k; i++)
                values_push(out, 0, false);
        } else if (n == 5 && strncmp(p, "stale", 5) == 0) {
            values_push(out, stale_nan(), true);
        } else if (!is_expansion(p, e) && parse_num(p, n, &v) == 0) {
            values_push(out, v, true);
        } else {
            /* A[+-]BxN or AxN */
            const char *x = NULL;
            for (const char *q = e - 1; q > p; q--)
                if (*q == 'x') {
                    x = q;
                    break;
                }
            if (!x)
                return -1;
            char *endn;
            long reps = strtol(x + 1, &endn, 10);
            if (endn != e || x + 1 == e)
                return -1;
            const char *sep = NULL;
            for (const char *q = p + 1; q < x; q++)
                if ((*q == '+' || *q == '-') && q[-1] != 'e' && q[-1] != 'E')
                    sep = q;
            double a, b = 0;
            if (sep) {
                if (parse_num(p, (size_t)(sep - p), &a) < 0 ||
                    parse_num(sep + 1, (size_t)(x - sep - 1), &b) < 0)
                    return -1;
                if (*sep == '-')
                    b = -b;
            } else if (parse_num(p, (size_t)(x - p), &a) < 0) {
                return -1;
            }
            for (long i = 0; i <= reps; i++)
                values_push(out, a + b * (double)i, true);
        }
        p = e;
    }
    return 0;
}

/* ---- start timestamps: @st lines ---- */

/* The slots of an @st line: whether each has a start timestamp, and its
 * offset (ms) from the sample's own time. */
struct st_slots {
    int64_t *off;
    bool *present;
    size_t n, cap;
};

static void st_push(struct st_slots *s, int64_t off, bool present)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 16;
        s->off = xrealloc(s->off, s->cap * sizeof *s->off);
        s->present = xrealloc(s->present, s->cap * sizeof *s->present);
    }
    s->off[s->n] = off;
    s->present[s->n++] = present;
}

static void st_slots_free(struct st_slots *s)
{
    free(s->off);
    free(s->present);
    memset(s, 0, sizeof *s);
}

/* A signed duration: "-30s", "+1m", "0", "-59999ms". */
static int parse_st_offset(const char *p, size_t n, int64_t *ms)
{
    char buf[64];
    bool neg = n && *p == '-';
    if (n && (*p == '-' || *p == '+'))
        p++, n--;
    if (n == 0 || n >= sizeof buf)
        return -1;
    memcpy(buf, p, n);
    buf[n] = 0;
    if (duration_parse(buf, ms) < 0)
        return -1;
    if (neg)
        *ms = -*ms;
    return 0;
}

/* One item of an @st line, p..e: "_", "_xN" (N slots without ST), "D",
 * "DxN" (N+1 slots of D), "D+ExN" / "D-ExN" (N+1 slots D, D±E, ...). */
static int parse_st_item(const char *p, const char *e, struct st_slots *out)
{
    size_t n = (size_t)(e - p);
    if (n == 1 && *p == '_') {
        st_push(out, 0, false);
        return 0;
    }
    int64_t d, step = 0;
    if (!is_expansion(p, e))
        return parse_st_offset(p, n, &d) < 0 ? -1 : (st_push(out, d, true), 0);
    const char *x = e - 1;
    while (*x != 'x')
        x--;
    long reps = strtol(x + 1, NULL, 10);
    if (x == p + 1 && *p == '_') {
        for (long i = 0; i < reps; i++)
            st_push(out, 0, false);
        return 0;
    }
    const char *sep = NULL; /* the sign before E; a sign at p belongs to D */
    for (const char *q = p + 1; q < x; q++)
        if (*q == '+' || *q == '-')
            sep = q;
    if (parse_st_offset(p, (size_t)((sep ? sep : x) - p), &d) < 0 ||
        (sep && parse_st_offset(sep, (size_t)(x - sep), &step) < 0))
        return -1;
    for (long i = 0; i <= reps; i++)
        st_push(out, d + step * i, true);
    return 0;
}

static int parse_st_slots(const char *s, struct st_slots *out)
{
    memset(out, 0, sizeof *out);
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        const char *e = s;
        while (*e && *e != ' ' && *e != '\t')
            e++;
        if (e > s && parse_st_item(s, e, out) < 0)
            return -1;
        s = e;
    }
    return 0;
}

/* Splits "name{...} values" into the selector text and the values. */
static const char *split_series(const char *s, size_t *sel_len)
{
    const char *p = s;
    bool inq = false;
    int depth = 0;
    while (*p) {
        if (inq) {
            if (*p == '\\' && p[1])
                p++;
            else if (*p == '"')
                inq = false;
        } else if (*p == '"') {
            inq = true;
        } else if (*p == '{') {
            depth++;
        } else if (*p == '}') {
            depth--;
            if (depth == 0) {
                p++;
                break;
            }
        } else if ((*p == ' ' || *p == '\t') && depth == 0) {
            break;
        }
        p++;
    }
    *sel_len = (size_t)(p - s);
    return p;
}

/* Whether line is an @st line ("name@st ..." or "name{...}@st ..."); then
 * *sel_len is the series' selector length and *rest its slots. */
static bool st_line(const char *line, size_t *sel_len, const char **rest)
{
    size_t sl;
    const char *r = split_series(line, &sl);
    if (sl >= 3 && strncmp(r - 3, "@st", 3) == 0) {
        *sel_len = sl - 3;
        *rest = r;
        return true;
    }
    if (strncmp(r, "@st", 3) == 0 && (r[3] == ' ' || r[3] == '\t' || !r[3])) {
        *sel_len = sl;
        *rest = r + 3;
        return true;
    }
    return false;
}

static int label_cmp_name(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

/* Parses a series descriptor into sorted labels (arena). */
static int parse_labels(struct promql_arena *a, const char *s, size_t n, struct labels *out,
                        char *err, size_t errsz)
{
    struct promql_parse_error perr;
    struct promql_expr *e;
    if (n == 2 && s[0] == '{' && s[1] == '}') {
        *out = (struct labels){NULL, 0};
        return 0;
    }
    e = promql_parse_selector(a, s, n, &perr);
    if (!e) {
        snprintf(err, errsz, "%s", perr.msg);
        return -1;
    }
    struct label *v = promql_arena_alloc(a, (e->vs.nmatchers + 1) * sizeof *v);
    size_t k = 0;
    for (size_t i = 0; i < e->vs.nmatchers; i++) {
        if (!e->vs.matchers[i].value[0])
            continue;
        v[k++] = (struct label){e->vs.matchers[i].name, e->vs.matchers[i].value};
    }
    qsort(v, k, sizeof *v, label_cmp_name);
    *out = (struct labels){v, k};
    return 0;
}

static void labels_key(const struct labels *ls, struct sbuf *b)
{
    sbuf_reset(b);
    sbuf_puts(b, "{");
    for (size_t i = 0; i < ls->n; i++) {
        if (i)
            sbuf_puts(b, ", ");
        sbuf_printf(b, "%s=", ls->v[i].name);
        go_quote(b, ls->v[i].value, strlen(ls->v[i].value));
    }
    sbuf_puts(b, "}");
}

/* ---- database ---- */

static int rm_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static int db_open(struct pt_ctx *c)
{
    snprintf(c->datadir, sizeof c->datadir, "%s/data%d", c->dir, c->gen++);
    char err[256];
    struct tsdb_options o;
    memset(&o, 0, sizeof o);
    /* Prometheus's test storage takes samples in any order (a later load
     * may go back in time, as ooo.test's do): an unbounded
     * out_of_order_time_window. */
    o.ooo_window_ms = INT64_MAX;
    if (tsdb_open(c->datadir, &o, &c->db, err, sizeof err) < 0) {
        fprintf(c->out, "%s: cannot open storage: %s\n", c->path, err);
        c->db = NULL;
        return -1;
    }
    return 0;
}

static void db_close(struct pt_ctx *c)
{
    if (c->db) {
        tsdb_close(c->db);
        c->db = NULL;
        nftw(c->datadir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
    }
}

/* Remembers a series that holds (or, for load_with_nhcb, yields) native
 * histogram samples, so that blocks reading it count as skipped. */
static void hist_record(struct pt_ctx *c, const char *sel, size_t sl, bool native)
{
    struct labels ls;
    char err[600];
    if (parse_labels(c->hist_arena, sel, sl, &ls, err, sizeof err) < 0)
        return;
    if (!native) {
        /* load_with_nhcb: X_bucket{le=...}, X_count, X_sum give X */
        const char *name = NULL;
        for (size_t i = 0; i < ls.n; i++)
            if (strcmp(ls.v[i].name, "__name__") == 0)
                name = ls.v[i].value;
        if (!name)
            return;
        size_t nl = strlen(name);
        static const char *const suf[] = {"_bucket", "_count", "_sum"};
        bool ok = false;
        for (int k = 0; k < 3 && !ok; k++) {
            size_t sn = strlen(suf[k]);
            if (nl > sn && strcmp(name + nl - sn, suf[k]) == 0) {
                struct label *v = promql_arena_alloc(c->hist_arena, (ls.n + 1) * sizeof *v);
                size_t m = 0;
                for (size_t i = 0; i < ls.n; i++) {
                    if (strcmp(ls.v[i].name, "le") == 0)
                        continue;
                    v[m] = ls.v[i];
                    if (strcmp(ls.v[i].name, "__name__") == 0)
                        v[m].value = promql_arena_strndup(c->hist_arena, name, nl - sn);
                    m++;
                }
                ls = (struct labels){v, m};
                ok = true;
            }
        }
        if (!ok)
            return;
    }
    if (c->nhist == c->caphist) {
        c->caphist = c->caphist ? c->caphist * 2 : 16;
        c->hist = xrealloc(c->hist, c->caphist * sizeof *c->hist);
    }
    c->hist[c->nhist++] = ls;
}

static bool matcher_ok(const struct label_matcher *m, const struct labels *ls)
{
    const char *v = "";
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].name, m->name) == 0)
            v = ls->v[i].value;
    switch (m->type) {
    case LABEL_MATCH_EQ:
        return strcmp(v, m->value) == 0;
    case LABEL_MATCH_NEQ:
        return strcmp(v, m->value) != 0;
    default: {
        struct sbuf re = SBUF_INIT;
        sbuf_printf(&re, "^(?s:%s)$", m->value);
        int ec;
        PCRE2_SIZE eo;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)re.data, re.len, PCRE2_UTF, &ec, &eo, NULL);
        sbuf_free(&re);
        if (!code)
            return false;
        pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
        bool hit = pcre2_match(code, (PCRE2_SPTR)v, strlen(v), 0, 0, md, NULL) >= 0;
        pcre2_match_data_free(md);
        pcre2_code_free(code);
        return m->type == LABEL_MATCH_RE ? hit : !hit;
    }
    }
}

/* Whether a selector of e selects a series loaded with histograms. */
static bool reads_histograms(const struct pt_ctx *c, const struct promql_expr *e)
{
    const struct promql_expr *sel[256];
    size_t n = promql_expr_selectors(e, sel, 256);
    if (n > 256)
        n = 256;
    for (size_t i = 0; i < n; i++)
        for (size_t h = 0; h < c->nhist; h++) {
            bool all = true;
            for (size_t k = 0; k < sel[i]->vs.nmatchers && all; k++)
                all = matcher_ok(&sel[i]->vs.matchers[k], &c->hist[h]);
            if (all)
                return true;
        }
    return false;
}

/* Loads one block of "series values" lines into db as one batch, samples
 * at 0, interval, 2*interval, ...  c (may be NULL) records the series that
 * carry native histograms.  Returns 0, or -1 with err. */
static int load_block(struct pt_ctx *c, struct tsdb *db, const char *const *lines, size_t n,
                      int64_t interval, bool nhcb, char *err, size_t errsz)
{
    struct promql_arena *a = promql_arena_new();
    struct tsdb_appender *ap = tsdb_appender_new(db);
    uint64_t *refs = xcalloc(n + 1, sizeof *refs);
    int rc = 0;
    struct sbuf kb = SBUF_INIT, stkey = SBUF_INIT; /* stkey: the series of a pending @st line */
    struct st_slots sts = {0};
    bool st_pending = false;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t sl;
        const char *rest = split_series(lines[i], &sl);
        struct labels ls;
        char perr[600];
        bool is_st = st_line(lines[i], &sl, &rest);
        if (parse_labels(a, lines[i], sl, &ls, perr, sizeof perr) < 0) {
            snprintf(err, errsz, "bad series in load: %s", perr);
            rc = -1;
            break;
        }
        if (is_st) {
            /* for the series line that must come next */
            st_slots_free(&sts);
            if (st_pending || parse_st_slots(rest, &sts) < 0) {
                snprintf(err, errsz, "bad @st line in load: %s", lines[i]);
                rc = -1;
                break;
            }
            labels_key(&ls, &stkey);
            st_pending = true;
            continue;
        }
        /* A series listed twice: the later line wins, as in Prometheus's
         * runner (its load command keys series by label hash). */
        labels_key(&ls, &kb);
        bool with_st = st_pending;
        st_pending = false;
        if (with_st && strcmp(stkey.data, kb.data) != 0) {
            snprintf(err, errsz, "bad @st line in load: %s is followed by %s, not its values",
                     stkey.data, kb.data);
            rc = -1;
            break;
        }
        bool later = false;
        for (size_t k = i + 1; k < n && !later; k++) {
            size_t sl2;
            const char *r2 = split_series(lines[k], &sl2);
            if (st_line(lines[k], &sl2, &r2))
                continue;
            struct labels ls2;
            if (parse_labels(a, lines[k], sl2, &ls2, perr, sizeof perr) == 0) {
                struct sbuf k2 = SBUF_INIT;
                labels_key(&ls2, &k2);
                later = strcmp(k2.data, kb.data) == 0;
                sbuf_free(&k2);
            }
        }
        if (later)
            continue;
        struct values vs;
        if (parse_values(rest, &vs) < 0) {
            snprintf(err, errsz, "bad values in load: %s", rest);
            values_free(&vs);
            rc = -1;
            break;
        }
        if (with_st && sts.n != vs.n) {
            snprintf(err, errsz, "bad @st line in load: %zu slots for the %zu values of %s", sts.n,
                     vs.n, kb.data);
            values_free(&vs);
            rc = -1;
            break;
        }
        if (c && (vs.hist || nhcb))
            hist_record(c, lines[i], sl, vs.hist);
        for (size_t k = 0; k < vs.n; k++) {
            if (!vs.present[k])
                continue;
            int64_t t = (int64_t)k * interval;
            int64_t st = with_st && sts.present[k] ? t + sts.off[k] : 0;
            if (tsdb_append_st(ap, &refs[i], refs[i] ? NULL : &ls, t, vs.v[k], st) < 0) {
                snprintf(err, errsz, "append: %s", tsdb_appender_error(ap));
                rc = -1;
                break;
            }
        }
        values_free(&vs);
    }
    if (rc == 0 && st_pending) {
        snprintf(err, errsz, "bad @st line in load: no values line for %s after it", stkey.data);
        rc = -1;
    }
    st_slots_free(&sts);
    sbuf_free(&stkey);
    if (rc == 0 && tsdb_appender_commit(ap, NULL) < 0) {
        snprintf(err, errsz, "commit: %s", tsdb_appender_error(ap));
        rc = -1;
    }
    if (rc < 0)
        tsdb_appender_rollback(ap);
    tsdb_appender_free(ap);
    free(refs);
    sbuf_free(&kb);
    promql_arena_free(a);
    return rc;
}

int promqltest_load(struct tsdb *db, const char *const *lines, size_t n, int64_t interval_ms,
                    char *err, size_t errsz)
{
    return load_block(NULL, db, lines, n, interval_ms, false, err, errsz);
}

static int do_load(struct pt_ctx *c, char **lines, size_t n, int64_t interval, int lineno)
{
    bool nhcb = strncmp(lines[-1], "load_with_nhcb", 14) == 0;
    char err[800];
    if (load_block(c, c->db, (const char *const *)lines, n, interval, nhcb, err, sizeof err) < 0) {
        fprintf(c->out, "%s:%d: %s\n", c->path, lineno, err);
        return -1;
    }
    return 0;
}

/* ---- eval blocks ---- */

enum ann_kind { ANN_ANY, ANN_MSG, ANN_RE };
struct ann_exp {
    bool info;
    enum ann_kind kind;
    const char *text;
};

struct exp_series {
    struct labels ls;
    char *key;
    struct values vals;
    bool matched;
};

struct block {
    int line;
    bool range;
    int64_t at, start, end, step;
    const char *query;
    bool expect_fail;
    const char *fail_msg, *fail_re;
    struct ann_exp ann[16];
    size_t nann;
    bool no_warn, no_info;
    bool ordered;
    bool has_string;
    const char *str;
    size_t slen;
    bool has_rv;
    int64_t rv_start, rv_end, rv_step;
    bool scalar;
    double scalar_v;
    struct exp_series *s;
    size_t ns, caps;
    bool skip;
    char why[512];
};

static bool re_search(const char *re, const char *text)
{
    int ec;
    PCRE2_SIZE eo;
    pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &ec, &eo, NULL);
    if (!c)
        return false;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(c, NULL);
    int rc = pcre2_match(c, (PCRE2_SPTR)text, strlen(text), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    return rc >= 0;
}

static bool float_eq(double exp, double got)
{
    if (is_stale(exp) || is_stale(got))
        return is_stale(exp) && is_stale(got);
    if (isnan(exp) && isnan(got))
        return true;
    if (exp == got)
        return true;
    const double eps = 1e-6, minNormal = 2.2250738585072014e-308;
    double absSum = fabs(exp) + fabs(got);
    double diff = fabs(exp - got);
    if (exp == 0 || got == 0 || absSum < minNormal)
        return diff < eps * minNormal;
    return diff / fmin(absSum, 1.7976931348623157e308) < eps;
}

static const char *after_colon(const char *s)
{
    const char *p = strchr(s, ':');
    if (!p)
        return "";
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Parses an expectation or result line of a block. */
static int block_line(struct promql_arena *a, struct block *b, char *l, bool *ends)
{
    *ends = false;
    if (strncmp(l, "expect", 6) == 0 && (l[6] == ' ' || l[6] == 0)) {
        char *r = trim(l + 6);
        if (strncmp(r, "fail", 4) == 0) {
            b->expect_fail = true;
            char *m = trim(r + 4);
            if (strncmp(m, "msg", 3) == 0)
                b->fail_msg = promql_arena_strndup(a, after_colon(m), strlen(after_colon(m)));
            else if (strncmp(m, "regex", 5) == 0)
                b->fail_re = promql_arena_strndup(a, after_colon(m), strlen(after_colon(m)));
        } else if (strncmp(r, "no_warn", 7) == 0) {
            b->no_warn = true;
        } else if (strncmp(r, "no_info", 7) == 0) {
            b->no_info = true;
        } else if (strncmp(r, "warn", 4) == 0 || strncmp(r, "info", 4) == 0) {
            if (b->nann < 16) {
                struct ann_exp *ae = &b->ann[b->nann++];
                ae->info = r[0] == 'i';
                char *m = trim(r + 4);
                ae->kind = strncmp(m, "msg", 3) == 0     ? ANN_MSG
                           : strncmp(m, "regex", 5) == 0 ? ANN_RE
                                                         : ANN_ANY;
                ae->text = promql_arena_strndup(a, after_colon(m), strlen(after_colon(m)));
            }
        } else if (strncmp(r, "ordered", 7) == 0) {
            b->ordered = true;
        } else if (strncmp(r, "string", 6) == 0) {
            char *q = trim(r + 6);
            b->has_string = true;
            b->str = go_unquote(a, q, strlen(q), &b->slen);
            if (!b->str)
                return -1;
        } else if (strncmp(r, "range vector", 12) == 0) {
            char f[64], t[64], st[64];
            if (sscanf(r + 12, " from %63s to %63s step %63s", f, t, st) != 3 ||
                parse_time(f, &b->rv_start) < 0 || parse_time(t, &b->rv_end) < 0 ||
                parse_time(st, &b->rv_step) < 0)
                return -1;
            b->has_rv = true;
        } else {
            return -1;
        }
        return 0;
    }
    /* a bare number: scalar result */
    double v;
    if (parse_num(l, strlen(l), &v) == 0 && !strchr(l, ' ')) {
        b->scalar = true;
        b->scalar_v = v;
        *ends = true;
        return 0;
    }
    size_t sl;
    const char *rest = split_series(l, &sl);
    struct labels ls;
    char err[600];
    if (parse_labels(a, l, sl, &ls, err, sizeof err) < 0)
        return -1;
    if (b->ns == b->caps) {
        b->caps = b->caps ? b->caps * 2 : 8;
        b->s = xrealloc(b->s, b->caps * sizeof *b->s);
    }
    struct exp_series *es = &b->s[b->ns++];
    memset(es, 0, sizeof *es);
    es->ls = ls;
    struct sbuf k = SBUF_INIT;
    labels_key(&ls, &k);
    es->key = promql_arena_strndup(a, k.data, k.len);
    sbuf_free(&k);
    if (parse_values(rest, &es->vals) < 0)
        return -1;
    if (es->vals.hist)
        b->skip = true;
    return 0;
}

static void block_free(struct block *b)
{
    for (size_t i = 0; i < b->ns; i++)
        values_free(&b->s[i].vals);
    free(b->s);
}

#define FAILF(...) (snprintf(b->why, sizeof b->why, __VA_ARGS__), false)

static bool check_annotations(struct block *b, const struct promql_result *r)
{
    for (int info = 0; info < 2; info++) {
        const char **list = info ? r->infos : r->warnings;
        size_t n = info ? r->ninfos : r->nwarnings;
        const char *kind = info ? "info" : "warning";
        if ((info ? b->no_info : b->no_warn) && n)
            return FAILF("unexpected %s: %s", kind, list[0]);
        bool any = false, specific = false;
        for (size_t i = 0; i < b->nann; i++) {
            if (b->ann[i].info != (bool)info)
                continue;
            any = true;
            if (b->ann[i].kind != ANN_ANY)
                specific = true;
        }
        if (!any)
            continue;
        if (n == 0)
            return FAILF("expected %s annotation, got none", kind);
        if (!specific)
            continue;
        for (size_t i = 0; i < b->nann; i++) {
            if (b->ann[i].info != (bool)info || b->ann[i].kind == ANN_ANY)
                continue;
            bool hit = false;
            for (size_t k = 0; k < n && !hit; k++)
                hit = b->ann[i].kind == ANN_MSG ? strcmp(list[k], b->ann[i].text) == 0
                                                : re_search(b->ann[i].text, list[k]);
            if (!hit)
                return FAILF("expected %s %s not produced", kind, b->ann[i].text);
        }
        for (size_t k = 0; k < n; k++) {
            bool hit = false;
            for (size_t i = 0; i < b->nann && !hit; i++)
                if (b->ann[i].info == (bool)info && b->ann[i].kind != ANN_ANY)
                    hit = b->ann[i].kind == ANN_MSG ? strcmp(list[k], b->ann[i].text) == 0
                                                    : re_search(b->ann[i].text, list[k]);
            if (!hit)
                return FAILF("unexpected %s: %s", kind, list[k]);
        }
    }
    return true;
}

static struct exp_series *find_exp(struct block *b, const struct labels *ls, struct sbuf *k)
{
    labels_key(ls, k);
    for (size_t i = 0; i < b->ns; i++)
        if (strcmp(b->s[i].key, k->data) == 0)
            return &b->s[i];
    return NULL;
}

static bool check_result(struct block *b, const struct promql_result *r)
{
    if (!check_annotations(b, r))
        return false;
    if (b->has_string || r->type == PROMQL_STRING) {
        if (r->type != PROMQL_STRING)
            return FAILF("expected string, got %s", promql_type_name(r->type));
        const char *want = b->has_string ? b->str : "";
        size_t wl = b->has_string ? b->slen : 0;
        if (wl != r->slen || memcmp(want, r->str, wl) != 0)
            return FAILF("expected string \"%.*s\", got \"%.*s\"", (int)wl, want, (int)r->slen,
                         r->str);
        return true;
    }
    if (b->scalar) {
        if (r->type != PROMQL_SCALAR)
            return FAILF("expected scalar, got %s", promql_type_name(r->type));
        if (!float_eq(b->scalar_v, r->scalar))
            return FAILF("expected scalar %g, got %g", b->scalar_v, r->scalar);
        return true;
    }
    bool matrix = b->range || b->has_rv;
    if (matrix && r->type != PROMQL_MATRIX)
        return FAILF("expected range vector, got %s", promql_type_name(r->type));
    if (!matrix && r->type != PROMQL_VECTOR)
        return FAILF("expected instant vector, got %s", promql_type_name(r->type));
    int64_t start = b->range ? b->start : b->rv_start, step = b->range ? b->step : b->rv_step;
    for (size_t i = 0; i < b->ns; i++)
        b->s[i].matched = false;
    struct sbuf k = SBUF_INIT;
    bool ok = true;
    for (size_t i = 0; i < r->nseries && ok; i++) {
        const struct promql_series *s = &r->series[i];
        struct exp_series *es = find_exp(b, &s->labels, &k);
        if (!es) {
            ok = FAILF("unexpected series %s", k.data);
            break;
        }
        if (es->matched) {
            ok = FAILF("series %s returned twice", k.data);
            break;
        }
        es->matched = true;
        if (b->ordered && es != &b->s[i]) {
            ok = FAILF("series %s returned at position %zu, expected at %zu", k.data, i + 1,
                       (size_t)(es - b->s) + 1);
            break;
        }
        if (!matrix) {
            if (es->vals.n != 1 || !es->vals.present[0]) {
                ok = FAILF("bad expectation for %s", k.data);
                break;
            }
            if (!float_eq(es->vals.v[0], s->points[0].v)) {
                ok = FAILF("series %s: expected %.17g, got %.17g", k.data, es->vals.v[0],
                           s->points[0].v);
            }
            continue;
        }
        size_t pi = 0;
        for (size_t vi = 0; vi < es->vals.n && ok; vi++) {
            if (!es->vals.present[vi])
                continue;
            int64_t t = start + (int64_t)vi * step;
            while (pi < s->npoints && s->points[pi].t < t) {
                ok = FAILF("series %s: unexpected point at %lld: %.17g", k.data,
                           (long long)s->points[pi].t, s->points[pi].v);
                break;
            }
            if (!ok)
                break;
            if (pi >= s->npoints || s->points[pi].t != t) {
                ok = FAILF("series %s: missing point at %lld (expected %.17g)", k.data,
                           (long long)t, es->vals.v[vi]);
                break;
            }
            if (!float_eq(es->vals.v[vi], s->points[pi].v)) {
                ok = FAILF("series %s at %lld: expected %.17g, got %.17g", k.data, (long long)t,
                           es->vals.v[vi], s->points[pi].v);
                break;
            }
            pi++;
        }
        if (ok && pi < s->npoints)
            ok = FAILF("series %s: unexpected point at %lld: %.17g", k.data,
                       (long long)s->points[pi].t, s->points[pi].v);
    }
    for (size_t i = 0; i < b->ns && ok; i++)
        if (!b->s[i].matched)
            ok = FAILF("missing series %s", b->s[i].key);
    sbuf_free(&k);
    return ok;
}

/* Counts and reports a block that needs native histograms, which the
 * storage does not hold yet. */
static void block_skip(struct pt_ctx *c, const struct block *b)
{
    c->st->skipped++;
    c->outcome[b->line - 1] = 'S';
    fprintf(c->out, "SKIP %s:%d: needs native histograms\n", c->path, b->line);
}

static void run_block(struct pt_ctx *c, struct block *b, char **raw, size_t nraw)
{
    if (b->skip) {
        block_skip(c, b);
        return;
    }
    bool pass = false;
    struct promql_result *r = NULL;
    struct promql_arena *a = promql_arena_new();
    struct promql_parse_error perr;
    struct promql_expr *e = promql_parse(a, b->query, strlen(b->query), PROMQL_FEATURES_ALL, &perr);
    char err[1024] = "";
    int rc;
    if (e && reads_histograms(c, e)) {
        block_skip(c, b);
        promql_arena_free(a);
        return;
    }
    if (!e) {
        snprintf(err, sizeof err, "%s", perr.msg);
        rc = -1;
    } else {
        struct promql_eval_opts o;
        memset(&o, 0, sizeof o);
        o.max_samples = 10000;
        o.timeout_ms = 100000;
        o.default_step_ms = 60000;
        o.delayed_name_removal = true; /* as Prometheus's test engine runs */
        o.use_start_timestamps = true;
        if (b->range)
            rc = promql_eval_range(c->db, b->query, e, b->start, b->end, b->step, &o, &r, err,
                                   sizeof err);
        else
            rc = promql_eval_instant(c->db, b->query, e, b->has_rv ? b->rv_end : b->at, &o, &r, err,
                                     sizeof err);
    }
    if (rc < 0) {
        if (!b->expect_fail)
            snprintf(b->why, sizeof b->why, "unexpected error: %s", err);
        else if (b->fail_msg && strcmp(b->fail_msg, err) != 0)
            snprintf(b->why, sizeof b->why, "expected error \"%s\", got \"%s\"", b->fail_msg, err);
        else if (b->fail_re && !re_search(b->fail_re, err))
            snprintf(b->why, sizeof b->why, "expected error matching \"%s\", got \"%s\"",
                     b->fail_re, err);
        else
            pass = true;
    } else if (b->expect_fail) {
        snprintf(b->why, sizeof b->why, "expected an error, got none");
    } else {
        pass = check_result(b, r);
    }
    c->outcome[b->line - 1] = pass ? 'P' : 'F';
    if (pass) {
        c->st->passed++;
    } else {
        c->st->failed++;
        fprintf(c->out, "FAIL %s:%d: %s\n", c->path, b->line, b->why);
        fprintf(c->out, "    query: %s\n", b->query);
        for (size_t i = 1; i < nraw; i++)
            fprintf(c->out, "    expected: %s\n", raw[i]);
        if (r) {
            struct sbuf j = SBUF_INIT;
            promql_result_json(r, &j);
            if (j.len > 2000)
                fprintf(c->out, "    got: %.2000s...\n", j.data);
            else
                fprintf(c->out, "    got: %s\n", j.data);
            sbuf_free(&j);
        }
    }
    promql_result_free(r);
    promql_arena_free(a);
}

/* Parses the eval line into b; returns -1 on a syntax error. */
static int parse_eval_line(struct promql_arena *a, struct block *b, char *l)
{
    char *p = l;
    char *cmd = p;
    while (*p && *p != ' ' && *p != '\t')
        p++;
    size_t cl = (size_t)(p - cmd);
    if (cl == 9 && strncmp(cmd, "eval_fail", 9) == 0)
        b->expect_fail = true;
    else if (cl == 9 && strncmp(cmd, "eval_warn", 9) == 0)
        b->ann[b->nann++] = (struct ann_exp){false, ANN_ANY, ""};
    else if (cl == 9 && strncmp(cmd, "eval_info", 9) == 0)
        b->ann[b->nann++] = (struct ann_exp){true, ANN_ANY, ""};
    else if (cl == 12 && strncmp(cmd, "eval_ordered", 12) == 0)
        b->ordered = true;
    else if (!(cl == 4 && strncmp(cmd, "eval", 4) == 0))
        return -1;
    char w[5][64];
    int off = 0;
    if (sscanf(p, " %63s %63s %63s%n", w[0], w[1], w[2], &off) < 3)
        return -1;
    if (strcmp(w[0], "instant") == 0 && strcmp(w[1], "at") == 0) {
        if (parse_time(w[2], &b->at) < 0)
            return -1;
        p += off;
    } else if (strcmp(w[0], "range") == 0 && strcmp(w[1], "from") == 0) {
        if (parse_time(w[2], &b->start) < 0)
            return -1;
        p += off;
        if (sscanf(p, " %63s %63s %63s %63s%n", w[0], w[1], w[2], w[3], &off) < 4 ||
            strcmp(w[0], "to") || strcmp(w[2], "step") || parse_time(w[1], &b->end) < 0 ||
            parse_time(w[3], &b->step) < 0)
            return -1;
        p += off;
        b->range = true;
    } else {
        return -1;
    }
    p = trim(p);
    b->query = promql_arena_strndup(a, p, strlen(p));
    return 0;
}

/* A file the runner cannot parse fails every eval block of it, as
 * Prometheus's runner fails the whole script: the blocks that ran are
 * recounted as failed and those after the error are reported unrun. */
static void fail_every_block(struct pt_ctx *c, char **lines, size_t nl)
{
    for (size_t k = 0; k < nl; k++) {
        if (strncmp(lines[k], "eval", 4) != 0 || c->outcome[k] == 'F')
            continue;
        if (c->outcome[k] == 'P')
            c->st->passed--;
        else if (c->outcome[k] == 'S')
            c->st->skipped--;
        c->st->failed++;
        c->outcome[k] = 'F';
        fprintf(c->out, "FAIL %s:%zu: the file cannot be parsed (see the error above)\n", c->path,
                k + 1);
    }
}

int promqltest_run_file(const char *path, FILE *out, struct promqltest_stats *st)
{
    memset(st, 0, sizeof *st);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(out, "%s: cannot open: %m\n", path);
        return -1;
    }
    char **lines = NULL;
    size_t nl = 0, cap = 0;
    char *buf = NULL;
    size_t bl = 0;
    while (getline(&buf, &bl, f) >= 0) {
        if (nl == cap) {
            cap = cap ? cap * 2 : 256;
            lines = xrealloc(lines, cap * sizeof *lines);
        }
        char *t = trim(buf);
        lines[nl++] = xstrdup(t[0] == '#' ? "" : t);
    }
    free(buf);
    fclose(f);

    struct pt_ctx c = {.path = path, .out = out, .st = st, .outcome = xcalloc(nl + 1, 1)};
    c.hist_arena = promql_arena_new();
    snprintf(c.dir, sizeof c.dir, "%s/vigil-promqltest-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    int rc = 0;
    if (!mkdtemp(c.dir)) {
        fprintf(out, "%s: mkdtemp: %m\n", path);
        rc = -1;
        goto done;
    }
    if (db_open(&c) < 0) {
        rc = -1;
        goto cleanup;
    }
    size_t i = 0;
    while (i < nl) {
        char *l = lines[i];
        if (!*l) {
            i++;
            continue;
        }
        int lineno = (int)i + 1;
        if (strcmp(l, "clear") == 0) {
            c.nhist = 0;
            db_close(&c);
            if (db_open(&c) < 0) {
                rc = -1;
                break;
            }
            i++;
            continue;
        }
        size_t j = i + 1;
        if (strncmp(l, "load", 4) == 0) {
            while (j < nl && *lines[j])
                j++;
            char *sp = strchr(l, ' ');
            int64_t interval;
            if (!sp || parse_time(trim(sp), &interval) < 0) {
                fprintf(out, "%s:%d: bad load command\n", path, lineno);
                rc = -1;
                break;
            }
            if (do_load(&c, lines + i + 1, j - i - 1, interval, lineno) < 0) {
                rc = -1;
                break;
            }
            i = j;
            continue;
        }
        if (strncmp(l, "eval", 4) == 0) {
            struct block b;
            memset(&b, 0, sizeof b);
            b.line = lineno;
            struct promql_arena *a = promql_arena_new();
            bool bad = parse_eval_line(a, &b, l) < 0;
            while (!bad && j < nl && *lines[j]) {
                bool ends;
                if (strncmp(lines[j], "expected_fail_message", 21) == 0) {
                    b.fail_msg =
                        promql_arena_strndup(a, trim(lines[j] + 21), strlen(trim(lines[j] + 21)));
                    j++;
                    break;
                }
                if (strncmp(lines[j], "expected_fail_regexp", 20) == 0) {
                    b.fail_re =
                        promql_arena_strndup(a, trim(lines[j] + 20), strlen(trim(lines[j] + 20)));
                    j++;
                    break;
                }
                if (block_line(a, &b, lines[j], &ends) < 0) {
                    bad = true;
                    break;
                }
                j++;
                if (ends)
                    break;
            }
            if (bad) {
                st->failed++;
                c.outcome[i] = 'F';
                fprintf(out, "FAIL %s:%d: cannot parse block (line %zu)\n", path, lineno, j + 1);
                while (j < nl && *lines[j])
                    j++;
            } else {
                run_block(&c, &b, lines + i, j - i);
            }
            block_free(&b);
            promql_arena_free(a);
            i = j;
            continue;
        }
        fprintf(out, "%s:%d: unknown command: %s\n", path, lineno, l);
        rc = -1;
        break;
    }
    db_close(&c);
    if (rc < 0)
        fail_every_block(&c, lines, nl);
cleanup:
    nftw(c.dir, rm_cb, 16, FTW_DEPTH | FTW_PHYS);
done:
    free(c.outcome);
    free(c.hist);
    promql_arena_free(c.hist_arena);
    for (size_t k = 0; k < nl; k++)
        free(lines[k]);
    free(lines);
    fprintf(out, "%d passed, %d failed, %d skipped\n", st->passed, st->failed, st->skipped);
    return rc < 0 ? -1 : st->failed ? 1 : 0;
}
