/* template_parse.c — the parser of Go's text/template.
 *
 * A recursive-descent parser over the lexer's token array that builds the
 * same tree as Go's text/template/parse: lists of text and actions; if,
 * range, with (each with an else list; "else if" and "else with" nest a
 * new node in the else list); template calls; pipelines of commands whose
 * arguments are fields, variables, function identifiers, literals and
 * parenthesized pipelines.  {{define}} and {{block}} add named trees to the
 * template set.  Like Go, the parser checks that functions exist and that
 * variables are declared in an enclosing scope; errors carry Go's wording
 * ("template: NAME:LINE: unexpected ...") and stop the parse with a longjmp
 * back to tmpl_parse (the heap owns everything allocated on the way). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/template/template_internal.h"
#include "util/gostrconv.h"

#define MAX_PARSE_DEPTH 200

/* Pseudo node types for {{else}} and {{end}} while parsing. */
#define TN_ELSE_MARK (TN_STRING + 100)
#define TN_END_MARK  (TN_STRING + 101)

struct pending_def {
    const char *name;
    struct tmpl_node *root;
};

struct parser {
    struct tmpl *t;
    struct tmpl_heap *h;
    const char *text;
    const char *parse_name;
    const struct tmpl_funcs *fs;
    struct tmpl_token *toks;
    size_t ntok, i, seen; /* next token; furthest token looked at */
    const char **vars;
    size_t nvars, capvars;
    int range_depth, depth, action_line;
    struct pending_def *defs; /* added to the set only if the parse succeeds */
    size_t ndefs;
    char *err;
    size_t errsz;
    jmp_buf fail;
};

static void perr(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void perr(struct parser *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    size_t at = p->seen < p->ntok ? p->seen : p->ntok - 1;
    snprintf(p->err, p->errsz, "template: %s:%d: %s", p->parse_name, p->toks[at].line, msg);
    longjmp(p->fail, 1);
}

/* ---- Tokens ----------------------------------------------------------- */

static struct tmpl_token *peek(struct parser *p)
{
    if (p->i > p->seen)
        p->seen = p->i;
    return &p->toks[p->i];
}

static struct tmpl_token *next(struct parser *p)
{
    struct tmpl_token *k = peek(p);
    if (k->type != TT_EOF && k->type != TT_ERROR)
        p->i++;
    return k;
}

/* Makes k the next token again. */
static void backup(struct parser *p, const struct tmpl_token *k)
{
    p->i = (size_t)(k - p->toks);
}

static struct tmpl_token *peek_nonspace(struct parser *p)
{
    while (peek(p)->type == TT_SPACE)
        p->i++;
    return peek(p);
}

static struct tmpl_token *next_nonspace(struct parser *p)
{
    peek_nonspace(p);
    return next(p);
}

static bool is_keyword(enum tmpl_tok_type t)
{
    return t >= TT_BLOCK;
}

/* Go's item.String(). */
static void token_describe(const struct tmpl_token *k, char *buf, size_t n)
{
    if (k->type == TT_EOF) {
        snprintf(buf, n, "EOF");
        return;
    }
    if (k->type == TT_ERROR || k->type == TT_LEFT || k->type == TT_RIGHT) {
        snprintf(buf, n, "%s%.*s%s", k->type == TT_ERROR ? "" : "\"", (int)k->len, k->val,
                 k->type == TT_ERROR ? "" : "\"");
        return;
    }
    if (is_keyword(k->type)) {
        snprintf(buf, n, "<%.*s>", (int)k->len, k->val);
        return;
    }
    struct sbuf b = SBUF_INIT;
    size_t len = k->len, runes = 0, cut = 0;
    for (cut = 0; cut < len && runes < 10; cut++)
        if (((unsigned char)k->val[cut] & 0xC0) != 0x80)
            runes++;
    while (cut < len && ((unsigned char)k->val[cut] & 0xC0) == 0x80)
        cut++;
    tmpl_quote(&b, k->val, cut < len ? cut : len);
    snprintf(buf, n, "%s%s", b.data, cut < len ? "..." : "");
    sbuf_free(&b);
}

static void unexpected(struct parser *p, const struct tmpl_token *k, const char *context)
{
    if (k->type == TT_ERROR) {
        if (p->action_line != 0 && p->action_line != k->line) {
            size_t l = k->len;
            bool is_action = l >= 7 && memcmp(k->val + l - 7, " action", 7) == 0;
            perr(p, "%.*s%s %s:%d", (int)k->len, k->val,
                 is_action ? " started at" : " in action started at", p->parse_name,
                 p->action_line);
        }
        perr(p, "%.*s", (int)k->len, k->val);
    }
    char d[64];
    token_describe(k, d, sizeof d);
    perr(p, "unexpected %s in %s", d, context);
}

static struct tmpl_token *expect(struct parser *p, enum tmpl_tok_type t, const char *context)
{
    struct tmpl_token *k = next_nonspace(p);
    if (k->type != t)
        unexpected(p, k, context);
    return k;
}

/* ---- Nodes ------------------------------------------------------------ */

static struct tmpl_node *node_new(struct parser *p, enum tmpl_node_type t,
                                  const struct tmpl_token *k)
{
    struct tmpl_node *n = tmpl_heap_alloc(p->h, sizeof *n);
    n->type = t;
    n->pos = k->pos;
    n->line = k->line;
    return n;
}

static void node_append(struct parser *p, struct tmpl_node *parent, struct tmpl_node *kid)
{
    /* Grow by doubling; capacity is implied by powers of two. */
    size_t n = parent->nkids;
    if ((n & (n - 1)) == 0) {
        struct tmpl_node **nk = tmpl_heap_alloc(p->h, (n ? n * 2 : 1) * sizeof *nk);
        if (n)
            memcpy(nk, parent->kids, n * sizeof *nk);
        parent->kids = nk;
    }
    parent->kids[parent->nkids++] = kid;
}

static void idents_append(struct parser *p, const char ***v, size_t *n, const char *s, size_t len)
{
    const char **nv = tmpl_heap_alloc(p->h, (*n + 1) * sizeof *nv);
    if (*n)
        memcpy(nv, *v, *n * sizeof *nv);
    nv[(*n)++] = tmpl_heap_strndup(p->h, s, len);
    *v = nv;
}

static void vars_push(struct parser *p, const char *name, size_t len)
{
    if (p->nvars == p->capvars) {
        p->capvars = p->capvars ? p->capvars * 2 : 16;
        const char **nv = tmpl_heap_alloc(p->h, p->capvars * sizeof *nv);
        if (p->nvars)
            memcpy(nv, p->vars, p->nvars * sizeof *nv);
        p->vars = nv;
    }
    p->vars[p->nvars++] = tmpl_heap_strndup(p->h, name, len);
}

/* ---- Literals --------------------------------------------------------- */

static void put_utf8(struct sbuf *b, uint32_t r)
{
    char u[4];
    if (r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
        r = 0xFFFD;
    if (r < 0x80) {
        sbuf_putc(b, (char)r);
    } else if (r < 0x800) {
        u[0] = (char)(0xC0 | (r >> 6));
        u[1] = (char)(0x80 | (r & 0x3F));
        sbuf_append(b, u, 2);
    } else if (r < 0x10000) {
        u[0] = (char)(0xE0 | (r >> 12));
        u[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        u[2] = (char)(0x80 | (r & 0x3F));
        sbuf_append(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | (r >> 18));
        u[1] = (char)(0x80 | ((r >> 12) & 0x3F));
        u[2] = (char)(0x80 | ((r >> 6) & 0x3F));
        u[3] = (char)(0x80 | (r & 0x3F));
        sbuf_append(b, u, 4);
    }
}

/* strconv.Unquote for "..." and '...' bodies: returns 0 or -1. *rune_out
 * (char constants) receives the single rune. */
static int unquote(const char *s, size_t n, char q, struct sbuf *out)
{
    for (size_t i = 0; i < n;) {
        char c = s[i++];
        if (c == q || c == '\n')
            return -1;
        if (c != '\\') {
            sbuf_putc(out, c);
            continue;
        }
        if (i >= n)
            return -1;
        c = s[i++];
        int digits = 0;
        switch (c) {
        case 'a':
            sbuf_putc(out, '\a');
            continue;
        case 'b':
            sbuf_putc(out, '\b');
            continue;
        case 'f':
            sbuf_putc(out, '\f');
            continue;
        case 'n':
            sbuf_putc(out, '\n');
            continue;
        case 'r':
            sbuf_putc(out, '\r');
            continue;
        case 't':
            sbuf_putc(out, '\t');
            continue;
        case 'v':
            sbuf_putc(out, '\v');
            continue;
        case '\\':
            sbuf_putc(out, '\\');
            continue;
        case '\'':
        case '"':
            if (c != q)
                return -1;
            sbuf_putc(out, c);
            continue;
        case 'x':
            digits = 2;
            break;
        case 'u':
            digits = 4;
            break;
        case 'U':
            digits = 8;
            break;
        case '0':
        case '1':
        case '2':
        case '3':
        case '4':
        case '5':
        case '6':
        case '7': {
            if (i + 2 > n)
                return -1;
            int v = c - '0';
            for (int k = 0; k < 2; k++) {
                char d = s[i++];
                if (d < '0' || d > '7')
                    return -1;
                v = v * 8 + (d - '0');
            }
            if (v > 255)
                return -1;
            sbuf_putc(out, (char)v);
            continue;
        }
        default:
            return -1;
        }
        if (i + (size_t)digits > n)
            return -1;
        uint32_t v = 0;
        for (int k = 0; k < digits; k++) {
            int d = go_hex_digit((char)(unsigned char)s[i++]);
            if (d < 0)
                return -1;
            v = v * 16 + (uint32_t)d;
        }
        if (c == 'x') {
            sbuf_putc(out, (char)v);
        } else {
            if (v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
                return -1;
            put_utf8(out, v);
        }
    }
    return 0;
}

static struct tmpl_node *parse_string(struct parser *p, const struct tmpl_token *k)
{
    struct tmpl_node *n = node_new(p, TN_STRING, k);
    n->text = tmpl_heap_strndup(p->h, k->val, k->len);
    struct sbuf b = SBUF_INIT;
    if (k->type == TT_RAWSTRING) {
        for (size_t i = 1; i + 1 < k->len; i++)
            if (k->val[i] != '\r') /* Unquote drops \r from raw strings */
                sbuf_putc(&b, k->val[i]);
    } else if (unquote(k->val + 1, k->len - 2, '"', &b) != 0) {
        sbuf_free(&b);
        perr(p, "invalid syntax");
    }
    n->str = tmpl_heap_strndup(p->h, b.data ? b.data : "", b.len);
    n->len = b.len;
    sbuf_free(&b);
    return n;
}

/* Parses an integer literal in Go's base-0 syntax; false if it is not one
 * (or overflows). */
static bool parse_int(const char *s, bool *neg, uint64_t *u)
{
    *neg = false;
    if (*s == '+' || *s == '-')
        *neg = *s++ == '-';
    int base = 10;
    if (s[0] == '0' && (s[1] | 0x20) == 'x')
        base = 16, s += 2;
    else if (s[0] == '0' && (s[1] | 0x20) == 'o')
        base = 8, s += 2;
    else if (s[0] == '0' && (s[1] | 0x20) == 'b')
        base = 2, s += 2;
    else if (s[0] == '0' && s[1])
        base = 8, s += 1;
    if (!*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        int d = go_hex_digit((char)(unsigned char)*s);
        if (d < 0 || d >= base)
            return false;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base)
            return false;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    *u = v;
    return true;
}

static struct tmpl_node *parse_number(struct parser *p, const struct tmpl_token *k)
{
    struct tmpl_node *n = node_new(p, TN_NUMBER, k);
    n->text = tmpl_heap_strndup(p->h, k->val, k->len);
    if (k->type == TT_CHAR) {
        struct sbuf b = SBUF_INIT;
        int rc = unquote(k->val + 1, k->len - 2, '\'', &b);
        uint32_t r = 0;
        const unsigned char *s = (const unsigned char *)(b.data ? b.data : "");
        size_t len = b.len, used = 0;
        if (rc == 0 && len > 0) {
            if (s[0] < 0x80)
                r = s[0], used = 1;
            else {
                used = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : 2;
                r = s[0] & (0x7F >> used);
                for (size_t i = 1; i < used && i < len; i++)
                    r = (r << 6) | (s[i] & 0x3F);
            }
        }
        sbuf_free(&b);
        if (rc != 0 || len == 0)
            perr(p, "invalid syntax");
        if (used != len)
            perr(p, "malformed character constant: %s", n->text);
        n->is_int = n->is_float = true;
        n->i = r;
        n->f = r;
        return n;
    }
    char buf[128];
    size_t len = 0;
    bool ok = k->len < sizeof buf && go_underscore_ok(k->val, k->len);
    for (size_t i = 0; ok && i < k->len; i++)
        if (k->val[i] != '_')
            buf[len++] = k->val[i];
    buf[len] = '\0';
    bool neg;
    uint64_t u;
    if (ok && parse_int(buf, &neg, &u)) {
        if ((!neg && u <= INT64_MAX) || (neg && u <= (uint64_t)INT64_MAX + 1)) {
            n->is_int = true;
            n->i = neg ? (int64_t)(0 - u) : (int64_t)u;
            n->is_float = true;
            n->f = (double)n->i;
            return n;
        }
        if (!neg) { /* a uint64 only: Go keeps it as a float too */
            n->is_float = true;
            n->f = (double)u;
            return n;
        }
    }
    char *end;
    errno = 0;
    double f = ok && len > 0 && buf[len - 1] != 'i' ? strtod(buf, &end) : 0;
    if (ok && len > 0 && buf[len - 1] != 'i' && end == buf + len &&
        !(errno == ERANGE && isinf(f))) {
        if (!strpbrk(buf, ".eEpP") || (strpbrk(buf, "xX") && !strpbrk(buf, "pP")))
            perr(p, "integer overflow: \"%s\"", n->text);
        n->is_float = true;
        n->f = f;
        if (f >= -9.2233720368547758e18 && f < 9.2233720368547758e18 && (double)(int64_t)f == f) {
            n->is_int = true;
            n->i = (int64_t)f;
        }
        return n;
    }
    perr(p, "illegal number syntax: \"%s\"", n->text);
    return NULL;
}

/* ---- Pipelines -------------------------------------------------------- */

static struct tmpl_node *pipeline(struct parser *p, const char *context, enum tmpl_tok_type end);

static struct tmpl_node *use_var(struct parser *p, const struct tmpl_token *k)
{
    struct tmpl_node *n = node_new(p, TN_VARIABLE, k);
    idents_append(p, &n->idents, &n->nidents, k->val, k->len);
    for (size_t i = p->nvars; i-- > 0;)
        if (strlen(p->vars[i]) == k->len && memcmp(p->vars[i], k->val, k->len) == 0)
            return n;
    perr(p, "undefined variable \"%.*s\"", (int)k->len, k->val);
    return NULL;
}

static struct tmpl_node *term(struct parser *p)
{
    struct tmpl_token *k = next_nonspace(p);
    struct tmpl_node *n;
    switch (k->type) {
    case TT_IDENT: {
        void *ctx;
        if (!tmpl_is_builtin(k->val, k->len) && !tmpl_funcs_find(p->fs, k->val, k->len, &ctx))
            perr(p, "function \"%.*s\" not defined", (int)k->len, k->val);
        n = node_new(p, TN_IDENT, k);
        n->str = tmpl_heap_strndup(p->h, k->val, k->len);
        n->len = k->len;
        return n;
    }
    case TT_DOT:
        return node_new(p, TN_DOT, k);
    case TT_NIL:
        return node_new(p, TN_NIL, k);
    case TT_VARIABLE:
        return use_var(p, k);
    case TT_FIELD:
        n = node_new(p, TN_FIELD, k);
        idents_append(p, &n->idents, &n->nidents, k->val + 1, k->len - 1);
        return n;
    case TT_BOOL:
        n = node_new(p, TN_BOOL, k);
        n->b = k->val[0] == 't';
        return n;
    case TT_NUMBER:
    case TT_CHAR:
        return parse_number(p, k);
    case TT_LPAREN:
        if (++p->depth > MAX_PARSE_DEPTH)
            perr(p, "max expression depth exceeded");
        n = pipeline(p, "parenthesized pipeline", TT_RPAREN);
        p->depth--;
        return n;
    case TT_STRING:
    case TT_RAWSTRING:
        return parse_string(p, k);
    default:
        backup(p, k);
        return NULL;
    }
}

static const char *node_text(struct parser *p, const struct tmpl_node *n)
{
    struct sbuf b = SBUF_INIT;
    tmpl_node_string(&b, n);
    const char *s = tmpl_heap_strndup(p->h, b.data ? b.data : "", b.len);
    sbuf_free(&b);
    return s;
}

static struct tmpl_node *operand(struct parser *p)
{
    struct tmpl_node *n = term(p);
    if (!n || peek(p)->type != TT_FIELD)
        return n;
    switch (n->type) {
    case TN_BOOL:
    case TN_STRING:
    case TN_NUMBER:
    case TN_NIL:
    case TN_DOT: {
        struct sbuf q = SBUF_INIT;
        const char *txt = node_text(p, n);
        tmpl_quote(&q, txt, strlen(txt));
        const char *qs = tmpl_heap_strndup(p->h, q.data, q.len);
        sbuf_free(&q);
        perr(p, "unexpected . after term %s", qs);
    } break;
    case TN_FIELD:
    case TN_VARIABLE:
        break;
    default: {
        struct tmpl_node *c = node_new(p, TN_CHAIN, peek(p));
        c->node = n;
        n = c;
    }
    }
    /* Like Go, a node with chained fields sits at its first chained field. */
    n->pos = peek(p)->pos;
    n->line = peek(p)->line;
    while (peek(p)->type == TT_FIELD) {
        struct tmpl_token *k = next(p);
        idents_append(p, &n->idents, &n->nidents, k->val + 1, k->len - 1);
    }
    return n;
}

static struct tmpl_node *command(struct parser *p)
{
    struct tmpl_node *cmd = node_new(p, TN_COMMAND, peek_nonspace(p));
    for (;;) {
        peek_nonspace(p);
        struct tmpl_node *o = operand(p);
        if (o)
            node_append(p, cmd, o);
        struct tmpl_token *k = next(p);
        if (k->type == TT_SPACE)
            continue;
        if (k->type == TT_RIGHT || k->type == TT_RPAREN)
            backup(p, k);
        else if (k->type != TT_PIPE)
            unexpected(p, k, "operand");
        break;
    }
    if (cmd->nkids == 0)
        perr(p, "empty command");
    return cmd;
}

static void check_pipeline(struct parser *p, const struct tmpl_node *pipe, const char *context)
{
    if (pipe->nkids == 0)
        perr(p, "missing value for %s", context);
    for (size_t i = 1; i < pipe->nkids; i++) {
        enum tmpl_node_type t = pipe->kids[i]->kids[0]->type;
        if (t == TN_BOOL || t == TN_DOT || t == TN_NIL || t == TN_NUMBER || t == TN_STRING)
            perr(p, "non executable command in pipeline stage %zu", i + 1);
    }
}

static struct tmpl_node *pipeline(struct parser *p, const char *context, enum tmpl_tok_type end)
{
    struct tmpl_node *pipe = node_new(p, TN_PIPE, peek_nonspace(p));
    for (;;) { /* declarations */
        struct tmpl_token *v = peek_nonspace(p);
        if (v->type != TT_VARIABLE)
            break;
        size_t save = p->i;
        next(p);
        struct tmpl_token *after = peek(p);
        struct tmpl_token *nx = peek_nonspace(p);
        if (nx->type == TT_ASSIGN || nx->type == TT_DECLARE) {
            pipe->is_assign = nx->type == TT_ASSIGN;
            next(p);
            idents_append(p, &pipe->decl, &pipe->ndecl, v->val, v->len);
            vars_push(p, v->val, v->len);
            break;
        }
        if (nx->type == TT_COMMA) {
            next(p);
            idents_append(p, &pipe->decl, &pipe->ndecl, v->val, v->len);
            vars_push(p, v->val, v->len);
            if (strcmp(context, "range") == 0 && pipe->ndecl < 2) {
                enum tmpl_tok_type t = peek_nonspace(p)->type;
                if (t == TT_VARIABLE || t == TT_RIGHT || t == TT_RPAREN)
                    continue;
                perr(p, "range can only initialize variables");
            }
            perr(p, "too many declarations in %s", context);
        }
        (void)after;
        p->i = save;
        break;
    }
    for (;;) {
        struct tmpl_token *k = next_nonspace(p);
        if (k->type == end) {
            check_pipeline(p, pipe, context);
            return pipe;
        }
        switch (k->type) {
        case TT_BOOL:
        case TT_CHAR:
        case TT_DOT:
        case TT_FIELD:
        case TT_IDENT:
        case TT_NUMBER:
        case TT_NIL:
        case TT_RAWSTRING:
        case TT_STRING:
        case TT_VARIABLE:
        case TT_LPAREN:
            backup(p, k);
            node_append(p, pipe, command(p));
            break;
        default:
            unexpected(p, k, context);
        }
    }
}

/* ---- Control structures ----------------------------------------------- */

static struct tmpl_node *item_list(struct parser *p, struct tmpl_node **end);
static struct tmpl_node *text_or_action(struct parser *p);

static struct tmpl_node *parse_control(struct parser *p, enum tmpl_node_type type,
                                       const char *context)
{
    size_t nvars = p->nvars;
    if (++p->depth > MAX_PARSE_DEPTH)
        perr(p, "max control depth exceeded");
    struct tmpl_node *n = node_new(p, type, peek_nonspace(p));
    n->node = pipeline(p, context, TT_RIGHT);
    n->pos = n->node->pos;
    if (type == TN_RANGE)
        p->range_depth++;
    struct tmpl_node *end;
    n->list = item_list(p, &end);
    if (type == TN_RANGE)
        p->range_depth--;
    if ((int)end->type == TN_ELSE_MARK) { /* {{else}} */
        enum tmpl_tok_type t = peek(p)->type;
        if ((type == TN_IF && t == TT_IF) || (type == TN_WITH && t == TT_WITH)) {
            next(p);
            n->elselist = node_new(p, TN_LIST, peek(p));
            node_append(p, n->elselist, parse_control(p, type, context));
        } else {
            n->elselist = item_list(p, &end);
            if ((int)end->type != TN_END_MARK)
                perr(p, "expected end; found {{else}}");
        }
    }
    p->nvars = nvars;
    p->depth--;
    return n;
}

static struct tmpl_node *mark_node(struct parser *p, int type, const struct tmpl_token *k)
{
    struct tmpl_node *n = node_new(p, TN_LIST, k);
    n->type = (enum tmpl_node_type)type;
    return n;
}

static void add_def(struct parser *p, const char *name, struct tmpl_node *root);

static const char *template_name(struct parser *p, const struct tmpl_token *k, const char *context)
{
    if (k->type != TT_STRING && k->type != TT_RAWSTRING)
        unexpected(p, k, context);
    return parse_string(p, k)->str;
}

static struct tmpl_node *template_control(struct parser *p, bool block)
{
    const char *context = block ? "block clause" : "template clause";
    struct tmpl_token *k = next_nonspace(p);
    struct tmpl_node *n = node_new(p, TN_TEMPLATE, k);
    n->str = template_name(p, k, context);
    if (block) {
        n->node = pipeline(p, context, TT_RIGHT);
        size_t nvars = p->nvars;
        p->nvars = 1; /* a new tree: only $ */
        struct tmpl_node *end;
        struct tmpl_node *root = item_list(p, &end);
        if ((int)end->type != TN_END_MARK)
            perr(p, "unexpected {{else}} in %s", context);
        p->nvars = nvars;
        add_def(p, n->str, root);
        return n;
    }
    struct tmpl_token *r = next_nonspace(p);
    if (r->type != TT_RIGHT) {
        backup(p, r);
        n->node = pipeline(p, context, TT_RIGHT);
    }
    return n;
}

static struct tmpl_node *action(struct parser *p)
{
    struct tmpl_token *k = next_nonspace(p);
    switch (k->type) {
    case TT_BLOCK:
        return template_control(p, true);
    case TT_BREAK:
    case TT_CONTINUE: {
        bool brk = k->type == TT_BREAK;
        struct tmpl_token *r = next_nonspace(p);
        if (r->type != TT_RIGHT)
            unexpected(p, r, brk ? "{{break}}" : "{{continue}}");
        if (p->range_depth == 0)
            perr(p, "%s outside {{range}}", brk ? "{{break}}" : "{{continue}}");
        return node_new(p, brk ? TN_BREAK : TN_CONTINUE, k);
    }
    case TT_ELSE: {
        struct tmpl_token *n = peek_nonspace(p);
        if (n->type == TT_IF || n->type == TT_WITH)
            return mark_node(p, TN_ELSE_MARK, n);
        return mark_node(p, TN_ELSE_MARK, expect(p, TT_RIGHT, "else"));
    }
    case TT_END:
        return mark_node(p, TN_END_MARK, expect(p, TT_RIGHT, "end"));
    case TT_IF:
        return parse_control(p, TN_IF, "if");
    case TT_RANGE:
        return parse_control(p, TN_RANGE, "range");
    case TT_WITH:
        return parse_control(p, TN_WITH, "with");
    case TT_TEMPLATE:
        return template_control(p, false);
    default:
        break;
    }
    backup(p, k);
    struct tmpl_token *at = peek_nonspace(p);
    struct tmpl_node *n = node_new(p, TN_ACTION, at);
    n->node = pipeline(p, "command", TT_RIGHT);
    return n;
}

static struct tmpl_node *text_or_action(struct parser *p)
{
    struct tmpl_token *k = next_nonspace(p);
    if (k->type == TT_TEXT) {
        struct tmpl_node *n = node_new(p, TN_TEXT, k);
        n->str = k->val;
        n->len = k->len;
        return n;
    }
    if (k->type == TT_LEFT) {
        int saved = p->action_line;
        p->action_line = k->line;
        struct tmpl_node *n = action(p);
        p->action_line = saved;
        return n;
    }
    unexpected(p, k, "input");
    return NULL;
}

static struct tmpl_node *item_list(struct parser *p, struct tmpl_node **end)
{
    struct tmpl_node *list = node_new(p, TN_LIST, peek_nonspace(p));
    while (peek_nonspace(p)->type != TT_EOF) {
        struct tmpl_node *n = text_or_action(p);
        if ((int)n->type == TN_ELSE_MARK || (int)n->type == TN_END_MARK) {
            *end = n;
            return list;
        }
        node_append(p, list, n);
    }
    perr(p, "unexpected EOF");
    return NULL;
}

/* ---- Template set ----------------------------------------------------- */

static bool tree_is_empty(const struct tmpl_node *n)
{
    if (!n)
        return true;
    if (n->type == TN_TEXT) {
        for (size_t i = 0; i < n->len; i++)
            if (!strchr(" \t\r\n", n->str[i]))
                return false;
        return true;
    }
    if (n->type != TN_LIST)
        return false;
    for (size_t i = 0; i < n->nkids; i++)
        if (!tree_is_empty(n->kids[i]))
            return false;
    return true;
}

const struct tmpl_def *tmpl_def_find(const struct tmpl *t, const char *name)
{
    for (size_t i = 0; i < t->ndefs; i++)
        if (strcmp(t->defs[i].name, name) == 0)
            return &t->defs[i];
    return NULL;
}

static void add_def(struct parser *p, const char *name, struct tmpl_node *root)
{
    struct pending_def *nd = tmpl_heap_alloc(p->h, (p->ndefs + 1) * sizeof *nd);
    if (p->ndefs)
        memcpy(nd, p->defs, p->ndefs * sizeof *nd);
    nd[p->ndefs].name = name;
    nd[p->ndefs].root = root;
    p->defs = nd;
    p->ndefs++;
}

static void commit_def(struct parser *p, const char *name, struct tmpl_node *root)
{
    struct tmpl *t = p->t;
    struct tmpl_def *d = (struct tmpl_def *)tmpl_def_find(t, name);
    if (d) {
        if (tree_is_empty(root) && d->root)
            return; /* an empty redefinition keeps the old body, as in Go */
    } else {
        if (t->ndefs == t->capdefs) {
            t->capdefs = t->capdefs ? t->capdefs * 2 : 4;
            t->defs = xrealloc(t->defs, t->capdefs * sizeof *t->defs);
        }
        d = &t->defs[t->ndefs++];
        d->name = tmpl_heap_strndup(t->heap, name, strlen(name));
    }
    d->root = root;
    d->text = p->text;
    d->parse_name = (char *)p->parse_name;
}

static void parse_definition(struct parser *p)
{
    struct tmpl_token *k = next_nonspace(p);
    const char *name = template_name(p, k, "define clause");
    expect(p, TT_RIGHT, "define clause");
    p->nvars = 1;
    struct tmpl_node *end;
    struct tmpl_node *root = item_list(p, &end);
    if ((int)end->type != TN_END_MARK)
        perr(p, "unexpected {{else}} in define clause");
    add_def(p, name, root);
}

static struct tmpl_node *parse_top(struct parser *p)
{
    struct tmpl_node *root = node_new(p, TN_LIST, peek(p));
    while (peek(p)->type != TT_EOF) {
        if (peek(p)->type == TT_LEFT) {
            size_t save = p->i;
            next(p);
            if (next_nonspace(p)->type == TT_DEFINE) {
                parse_definition(p);
                p->nvars = 1;
                continue;
            }
            p->i = save;
        }
        struct tmpl_node *n = text_or_action(p);
        if ((int)n->type == TN_ELSE_MARK || (int)n->type == TN_END_MARK)
            perr(p, "unexpected %s", (int)n->type == TN_ELSE_MARK ? "{{else}}" : "{{end}}");
        node_append(p, root, n);
    }
    return root;
}

struct tmpl *tmpl_new(const char *name, enum tmpl_missingkey mk)
{
    struct tmpl *t = xcalloc(1, sizeof *t);
    t->heap = tmpl_heap_new();
    t->name = tmpl_heap_strndup(t->heap, name, strlen(name));
    t->missingkey = mk;
    return t;
}

void tmpl_free(struct tmpl *t)
{
    if (!t)
        return;
    free(t->defs);
    tmpl_heap_free(t->heap);
    free(t);
}

int tmpl_parse(struct tmpl *t, const char *text, size_t n, const struct tmpl_funcs *fs, char *err,
               size_t errsz)
{
    struct parser *p = xcalloc(1, sizeof *p);
    p->t = t;
    p->h = t->heap;
    p->text = tmpl_heap_strndup(t->heap, text, n);
    p->parse_name = t->name;
    p->fs = fs;
    p->err = err;
    p->errsz = errsz;
    p->toks = tmpl_lex(t->heap, p->text, n, &p->ntok);
    vars_push(p, "$", 1);
    int rc = 0;
    if (setjmp(p->fail) == 0) {
        struct tmpl_node *root = parse_top(p);
        add_def(p, t->name, root);
        for (size_t i = 0; i < p->ndefs; i++)
            commit_def(p, p->defs[i].name, p->defs[i].root);
    } else {
        rc = -1;
    }
    free(p);
    return rc;
}
