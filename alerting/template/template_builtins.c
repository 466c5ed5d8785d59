/* template_builtins.c — text/template's predefined functions.
 *
 * and, or, not, len, index, slice, print, printf, println, html, js,
 * urlquery, call, eq, ne, lt, le, gt, ge — with Go's semantics and error
 * texts.  Comparisons follow Go's basic kinds: bool, int, float, string;
 * values of different kinds are "incompatible types for comparison" (so
 * `eq $value 1` fails, as in Go, because $value is a float64 and 1 an int),
 * and anything else is an "invalid type for comparison".  and/or are
 * listed here for name lookup and arity; the executor evaluates them
 * because they short-circuit.  Also the lookup of user function tables. */
#include <stdio.h>
#include <string.h>

#include "alerting/template/template_exec.h"

static int fail(struct tmpl_call *c, const char *msg)
{
    snprintf(c->err, c->errsz, "%s", msg);
    return -1;
}

static int fn_not(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                  const struct tmpl_value **res)
{
    (void)argc;
    *res = tmpl_value_bool(c->heap, !tmpl_value_truth(argv[0]));
    return 0;
}

static int fn_len(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                  const struct tmpl_value **res)
{
    (void)argc;
    const struct tmpl_value *v = argv[0];
    switch (v->kind) {
    case TMPL_STRING:
        *res = tmpl_value_int(c->heap, (int64_t)v->u.s.n);
        return 0;
    case TMPL_LIST:
        *res = tmpl_value_int(c->heap, (int64_t)v->u.list->n);
        return 0;
    case TMPL_MAP:
        *res = tmpl_value_int(c->heap, (int64_t)v->u.map->n);
        return 0;
    case TMPL_NIL:
        return fail(c, v->type ? "len of nil pointer" : "len of untyped nil");
    default:
        snprintf(c->err, c->errsz, "len of type %s", tmpl_value_type(v));
        return -1;
    }
}

/* Go's indexArg: an integer index within [0, cap]. */
static int index_arg(struct tmpl_call *c, const struct tmpl_value *x, size_t cap, size_t *out)
{
    if (x->kind == TMPL_INVALID || (x->kind == TMPL_NIL && !x->type))
        return fail(c, "cannot index slice/array with nil");
    if (x->kind != TMPL_INT) {
        snprintf(c->err, c->errsz, "cannot index slice/array with type %s", tmpl_value_type(x));
        return -1;
    }
    if (x->u.i < 0 || (uint64_t)x->u.i > cap) {
        snprintf(c->err, c->errsz, "index out of range: %lld", (long long)x->u.i);
        return -1;
    }
    *out = (size_t)x->u.i;
    return 0;
}

static int fn_index(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                    const struct tmpl_value **res)
{
    const struct tmpl_value *item = argv[0];
    if (item->kind == TMPL_INVALID || (item->kind == TMPL_NIL && !item->type))
        return fail(c, "index of untyped nil");
    for (size_t i = 1; i < argc; i++) {
        const struct tmpl_value *x = argv[i];
        size_t at;
        switch (item->kind) {
        case TMPL_LIST:
        case TMPL_STRING: {
            bool str = item->kind == TMPL_STRING;
            size_t len = str ? item->u.s.n : item->u.list->n;
            if (index_arg(c, x, len, &at) != 0)
                return -1;
            if (at == len)
                return fail(c, str ? "reflect: string index out of range"
                                   : "reflect: slice index out of range");
            if (str) {
                struct tmpl_value *b = tmpl_value_int(c->heap, (unsigned char)item->u.s.p[at]);
                b->type = "uint8";
                item = b;
            } else {
                item = item->u.list->v[at];
            }
            break;
        }
        case TMPL_MAP: {
            if (x->kind == TMPL_INVALID || (x->kind == TMPL_NIL && !x->type))
                return fail(c, "value is nil; should be of type string");
            if (x->kind != TMPL_STRING) {
                snprintf(c->err, c->errsz, "value has type %s; should be string",
                         tmpl_value_type(x));
                return -1;
            }
            const struct tmpl_value *v = tmpl_map_get(item, x->u.s.p, x->u.s.n);
            if (!v)
                v = item->u.map->elem_is_string ? tmpl_value_stringn(c->heap, "", 0)
                                                : tmpl_value_nil();
            item = v;
            break;
        }
        case TMPL_NIL:
            return fail(c, "index of nil pointer");
        default:
            snprintf(c->err, c->errsz, "can't index item of type %s",
                     item->kind == TMPL_SAMPLE ? "template.sample" : tmpl_value_type(item));
            return -1;
        }
    }
    *res = item;
    return 0;
}

static int fn_slice(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                    const struct tmpl_value **res)
{
    const struct tmpl_value *item = argv[0];
    size_t nidx = argc - 1;
    if (item->kind == TMPL_INVALID || (item->kind == TMPL_NIL && !item->type))
        return fail(c, "slice of untyped nil");
    if (nidx > 3) {
        snprintf(c->err, c->errsz, "too many slice indexes: %zu", nidx);
        return -1;
    }
    size_t len;
    if (item->kind == TMPL_STRING) {
        if (nidx == 3)
            return fail(c, "cannot 3-index slice a string");
        len = item->u.s.n;
    } else if (item->kind == TMPL_LIST) {
        len = item->u.list->n;
    } else {
        snprintf(c->err, c->errsz, "can't slice item of type %s", tmpl_value_type(item));
        return -1;
    }
    size_t idx[3] = {0, len, len};
    for (size_t i = 0; i < nidx; i++)
        if (index_arg(c, argv[1 + i], len, &idx[i]) != 0)
            return -1;
    if (idx[0] > idx[1]) {
        snprintf(c->err, c->errsz, "invalid slice index: %zu > %zu", idx[0], idx[1]);
        return -1;
    }
    if (nidx == 3 && idx[1] > idx[2]) {
        snprintf(c->err, c->errsz, "invalid slice index: %zu > %zu", idx[1], idx[2]);
        return -1;
    }
    if (item->kind == TMPL_STRING) {
        struct tmpl_value *s = tmpl_value_stringn(c->heap, item->u.s.p + idx[0], idx[1] - idx[0]);
        s->type = item->type;
        *res = s;
        return 0;
    }
    struct tmpl_value *l = tmpl_value_list(c->heap);
    l->type = item->type;
    for (size_t i = idx[0]; i < idx[1]; i++)
        tmpl_list_append(c->heap, l, item->u.list->v[i]);
    *res = l;
    return 0;
}

static int result_sbuf(struct tmpl_call *c, struct sbuf *b, const struct tmpl_value **res)
{
    *res = tmpl_value_stringn(c->heap, b->data ? b->data : "", b->len);
    sbuf_free(b);
    return 0;
}

static int fn_print(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                    const struct tmpl_value **res)
{
    struct sbuf b = SBUF_INIT;
    tmpl_sprint(&b, argv, argc);
    return result_sbuf(c, &b, res);
}

static int fn_println(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                      const struct tmpl_value **res)
{
    struct sbuf b = SBUF_INIT;
    tmpl_sprintln(&b, argv, argc);
    return result_sbuf(c, &b, res);
}

static int fn_printf(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                     const struct tmpl_value **res)
{
    struct sbuf b = SBUF_INIT;
    tmpl_sprintf(&b, argv[0]->u.s.p, argv[0]->u.s.n, argv + 1, argc - 1);
    return result_sbuf(c, &b, res);
}

/* text/template's evalArgs: a lone string as is, else fmt.Sprint. */
static void eval_args(struct tmpl_heap *heap, struct sbuf *b, const struct tmpl_value *const *argv,
                      size_t argc)
{
    if (argc == 1 && argv[0]->kind == TMPL_STRING && !argv[0]->type) {
        sbuf_append(b, argv[0]->u.s.p, argv[0]->u.s.n);
        return;
    }
    /* printableValue turns a nil interface into "<no value>" first. */
    const struct tmpl_value **v = tmpl_heap_alloc(heap, (argc + 1) * sizeof *v);
    for (size_t i = 0; i < argc; i++) {
        v[i] = argv[i];
        if (argv[i]->kind == TMPL_INVALID || (argv[i]->kind == TMPL_NIL && !argv[i]->type))
            v[i] = tmpl_value_string(heap, "<no value>");
    }
    tmpl_sprint(b, v, argc);
}

static int fn_html(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                   const struct tmpl_value **res)
{
    struct sbuf in = SBUF_INIT, b = SBUF_INIT;
    eval_args(c->heap, &in, argv, argc);
    for (size_t i = 0; i < in.len; i++) {
        switch (in.data[i]) {
        case '"':
            sbuf_puts(&b, "&#34;");
            break;
        case '\'':
            sbuf_puts(&b, "&#39;");
            break;
        case '&':
            sbuf_puts(&b, "&amp;");
            break;
        case '<':
            sbuf_puts(&b, "&lt;");
            break;
        case '>':
            sbuf_puts(&b, "&gt;");
            break;
        case '\0':
            sbuf_puts(&b, "\xef\xbf\xbd");
            break;
        default:
            sbuf_putc(&b, in.data[i]);
        }
    }
    sbuf_free(&in);
    return result_sbuf(c, &b, res);
}

static int fn_js(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                 const struct tmpl_value **res)
{
    struct sbuf in = SBUF_INIT, b = SBUF_INIT;
    eval_args(c->heap, &in, argv, argc);
    for (size_t i = 0; i < in.len; i++) {
        unsigned char ch = (unsigned char)in.data[i];
        switch (ch) {
        case '\\':
            sbuf_puts(&b, "\\\\");
            break;
        case '\'':
            sbuf_puts(&b, "\\'");
            break;
        case '"':
            sbuf_puts(&b, "\\\"");
            break;
        case '<':
            sbuf_puts(&b, "\\u003C");
            break;
        case '>':
            sbuf_puts(&b, "\\u003E");
            break;
        case '&':
            sbuf_puts(&b, "\\u0026");
            break;
        case '=':
            sbuf_puts(&b, "\\u003D");
            break;
        default:
            if (ch < ' ')
                sbuf_printf(&b, "\\u%04X", ch);
            else
                sbuf_putc(&b, (char)ch);
        }
    }
    sbuf_free(&in);
    return result_sbuf(c, &b, res);
}

static int fn_urlquery(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                       const struct tmpl_value **res)
{
    struct sbuf in = SBUF_INIT, b = SBUF_INIT;
    eval_args(c->heap, &in, argv, argc);
    for (size_t i = 0; i < in.len; i++) {
        unsigned char ch = (unsigned char)in.data[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            ch == '-' || ch == '_' || ch == '.' || ch == '~')
            sbuf_putc(&b, (char)ch);
        else if (ch == ' ')
            sbuf_putc(&b, '+');
        else
            sbuf_printf(&b, "%%%02X", ch);
    }
    sbuf_free(&in);
    return result_sbuf(c, &b, res);
}

static int fn_call(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                   const struct tmpl_value **res)
{
    (void)argc;
    (void)res;
    if (argv[0]->kind == TMPL_INVALID || (argv[0]->kind == TMPL_NIL && !argv[0]->type))
        return fail(c, "call of nil");
    snprintf(c->err, c->errsz, "non-function of type %s", tmpl_value_type(argv[0]));
    return -1;
}

/* ---- Comparisons ------------------------------------------------------ */

enum basic_kind { K_INVALID, K_BOOL, K_INT, K_FLOAT, K_STRING };

static enum basic_kind basic_kind(const struct tmpl_value *v)
{
    switch (v->kind) {
    case TMPL_BOOL:
        return K_BOOL;
    case TMPL_INT:
        return K_INT;
    case TMPL_FLOAT:
        return K_FLOAT;
    case TMPL_STRING:
        return K_STRING;
    default:
        return K_INVALID;
    }
}

static bool is_valid(const struct tmpl_value *v)
{
    return v->kind != TMPL_INVALID && !(v->kind == TMPL_NIL && !v->type);
}

static int str_cmp(const struct tmpl_value *a, const struct tmpl_value *b)
{
    size_t n = a->u.s.n < b->u.s.n ? a->u.s.n : b->u.s.n;
    int c = memcmp(a->u.s.p, b->u.s.p, n);
    if (c)
        return c;
    return a->u.s.n < b->u.s.n ? -1 : a->u.s.n > b->u.s.n;
}

static int fn_eq(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                 const struct tmpl_value **res)
{
    const struct tmpl_value *a = argv[0];
    if (argc < 2)
        return fail(c, "missing argument for comparison");
    enum basic_kind k1 = basic_kind(a);
    for (size_t i = 1; i < argc; i++) {
        const struct tmpl_value *b = argv[i];
        enum basic_kind k2 = basic_kind(b);
        bool truth = false;
        if (k1 != k2) {
            if (is_valid(a) && is_valid(b))
                return fail(c, "incompatible types for comparison");
        } else {
            switch (k1) {
            case K_BOOL:
                truth = a->u.b == b->u.b;
                break;
            case K_INT:
                truth = a->u.i == b->u.i;
                break;
            case K_FLOAT:
                truth = a->u.f == b->u.f;
                break;
            case K_STRING:
                truth = str_cmp(a, b) == 0;
                break;
            default:
                if (!is_valid(a) || !is_valid(b) || a->kind == TMPL_NIL || b->kind == TMPL_NIL) {
                    truth = (!is_valid(a) || a->kind == TMPL_NIL) ==
                            (!is_valid(b) || b->kind == TMPL_NIL);
                } else if (a->kind == TMPL_SAMPLE || a->kind == TMPL_TIME ||
                           a->kind == TMPL_DURATION) {
                    if (strcmp(tmpl_value_type(a), tmpl_value_type(b)) != 0) {
                        snprintf(c->err, c->errsz, "non-comparable types %s, %s",
                                 tmpl_value_type(a), tmpl_value_type(b));
                        return -1;
                    }
                    truth = a == b; /* pointers */
                } else {
                    struct sbuf pb = SBUF_INIT;
                    tmpl_value_print(&pb, b, 1);
                    snprintf(c->err, c->errsz, "non-comparable type %s: %s", pb.data,
                             tmpl_value_type(b));
                    sbuf_free(&pb);
                    return -1;
                }
            }
        }
        if (truth) {
            *res = tmpl_value_bool(c->heap, true);
            return 0;
        }
    }
    *res = tmpl_value_bool(c->heap, false);
    return 0;
}

static int fn_ne(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                 const struct tmpl_value **res)
{
    if (fn_eq(c, argv, argc, res) != 0)
        return -1;
    *res = tmpl_value_bool(c->heap, !(*res)->u.b);
    return 0;
}

/* Go's lt; *lt receives a < b. */
static int less(struct tmpl_call *c, const struct tmpl_value *a, const struct tmpl_value *b,
                bool *lt)
{
    enum basic_kind k1 = basic_kind(a), k2 = basic_kind(b);
    if (k1 == K_INVALID || k2 == K_INVALID)
        return fail(c, "invalid type for comparison");
    if (k1 != k2)
        return fail(c, "incompatible types for comparison");
    switch (k1) {
    case K_INT:
        *lt = a->u.i < b->u.i;
        return 0;
    case K_FLOAT:
        *lt = a->u.f < b->u.f;
        return 0;
    case K_STRING:
        *lt = str_cmp(a, b) < 0;
        return 0;
    default:
        return fail(c, "invalid type for comparison");
    }
}

static int compare(struct tmpl_call *c, const struct tmpl_value *const *argv, char op,
                   const struct tmpl_value **res)
{
    bool lt, truth;
    if (less(c, argv[0], argv[1], &lt) != 0)
        return -1;
    if (op == '<') {
        truth = lt;
    } else {
        bool le = lt;
        if (!le) { /* le is lt || eq */
            const struct tmpl_value *eq;
            if (fn_eq(c, argv, 2, &eq) != 0)
                return -1;
            le = eq->u.b;
        }
        truth = op == 'l' ? le : op == '>' ? !le : !lt;
    }
    *res = tmpl_value_bool(c->heap, truth);
    return 0;
}

static int fn_lt(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                 const struct tmpl_value **res)
{
    (void)argc;
    return compare(c, argv, '<', res);
}

static int fn_le(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                 const struct tmpl_value **res)
{
    (void)argc;
    return compare(c, argv, 'l', res);
}

static int fn_gt(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                 const struct tmpl_value **res)
{
    (void)argc;
    return compare(c, argv, '>', res);
}

static int fn_ge(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                 const struct tmpl_value **res)
{
    (void)argc;
    return compare(c, argv, 'g', res);
}

static const struct tmpl_func builtins[] = {
    {"and", "RR*", NULL},
    {"call", "RR*", fn_call},
    {"eq", "RR*", fn_eq},
    {"ge", "RR", fn_ge},
    {"gt", "RR", fn_gt},
    {"html", "a*", fn_html},
    {"index", "RR*", fn_index},
    {"js", "a*", fn_js},
    {"le", "RR", fn_le},
    {"len", "R", fn_len},
    {"lt", "RR", fn_lt},
    {"ne", "RR", fn_ne},
    {"not", "R", fn_not},
    {"or", "RR*", NULL},
    {"print", "a*", fn_print},
    {"printf", "sa*", fn_printf},
    {"println", "a*", fn_println},
    {"slice", "RR*", fn_slice},
    {"urlquery", "a*", fn_urlquery},
};

const struct tmpl_func *tmpl_builtin_find(const char *name, size_t n)
{
    for (size_t i = 0; i < sizeof builtins / sizeof builtins[0]; i++)
        if (strlen(builtins[i].name) == n && memcmp(builtins[i].name, name, n) == 0)
            return &builtins[i];
    return NULL;
}

bool tmpl_is_builtin(const char *name, size_t n)
{
    return tmpl_builtin_find(name, n) != NULL;
}

const struct tmpl_func *tmpl_funcs_find(const struct tmpl_funcs *fs, const char *name, size_t n,
                                        void **ctx)
{
    for (; fs; fs = fs->next)
        for (size_t i = 0; i < fs->n; i++)
            if (strlen(fs->v[i].name) == n && memcmp(fs->v[i].name, name, n) == 0) {
                *ctx = fs->ctx;
                return &fs->v[i];
            }
    return NULL;
}
