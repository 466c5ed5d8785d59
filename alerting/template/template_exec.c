/* template_exec.c — executes a parsed template, as Go's text/template/exec.go.
 *
 * A tree walk over the parse tree with a current value "dot" and a stack of
 * variables (each {{template}} call starts a frame whose only variable is
 * $).  Commands evaluate fields (map keys, struct fields, sample .Labels
 * and .Value), variables, literals and function calls; arguments are
 * checked against each function's Go parameter types the way reflection
 * does, so the same templates fail with the same messages.  An error
 * longjmps back to tmpl_execute with the message already formatted as Go
 * does ("template: NAME:LINE:COL: executing \"NAME\" at <node>: ...").
 *
 * Everything made during execution comes from one heap freed at the end.
 * Depth (template calls, nested pipelines), output size and the number of
 * executed steps are bounded (template.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/template/template_exec.h"

/* ---- Node printing (for error context) -------------------------------- */

static void list_string(struct sbuf *b, const struct tmpl_node *n)
{
    for (size_t i = 0; n && i < n->nkids; i++)
        tmpl_node_string(b, n->kids[i]);
}

static void control_string(struct sbuf *b, const char *kw, const struct tmpl_node *n)
{
    sbuf_printf(b, "{{%s ", kw);
    tmpl_node_string(b, n->node);
    sbuf_puts(b, "}}");
    list_string(b, n->list);
    if (n->elselist) {
        sbuf_puts(b, "{{else}}");
        list_string(b, n->elselist);
    }
    sbuf_puts(b, "{{end}}");
}

void tmpl_node_string(struct sbuf *b, const struct tmpl_node *n)
{
    if (!n)
        return;
    switch (n->type) {
    case TN_LIST:
        list_string(b, n);
        return;
    case TN_TEXT:
        sbuf_append(b, n->str, n->len);
        return;
    case TN_ACTION:
        sbuf_puts(b, "{{");
        tmpl_node_string(b, n->node);
        sbuf_puts(b, "}}");
        return;
    case TN_IF:
        control_string(b, "if", n);
        return;
    case TN_RANGE:
        control_string(b, "range", n);
        return;
    case TN_WITH:
        control_string(b, "with", n);
        return;
    case TN_TEMPLATE:
        sbuf_puts(b, "{{template ");
        tmpl_quote(b, n->str, strlen(n->str));
        if (n->node) {
            sbuf_putc(b, ' ');
            tmpl_node_string(b, n->node);
        }
        sbuf_puts(b, "}}");
        return;
    case TN_BREAK:
        sbuf_puts(b, "{{break}}");
        return;
    case TN_CONTINUE:
        sbuf_puts(b, "{{continue}}");
        return;
    case TN_PIPE:
        for (size_t i = 0; i < n->ndecl; i++)
            sbuf_printf(b, "%s%s", i ? ", " : "", n->decl[i]);
        if (n->ndecl)
            sbuf_puts(b, n->is_assign ? " = " : " := ");
        for (size_t i = 0; i < n->nkids; i++) {
            if (i)
                sbuf_puts(b, " | ");
            tmpl_node_string(b, n->kids[i]);
        }
        return;
    case TN_COMMAND:
        for (size_t i = 0; i < n->nkids; i++) {
            if (i)
                sbuf_putc(b, ' ');
            bool paren = n->kids[i]->type == TN_PIPE;
            if (paren)
                sbuf_putc(b, '(');
            tmpl_node_string(b, n->kids[i]);
            if (paren)
                sbuf_putc(b, ')');
        }
        return;
    case TN_FIELD:
        for (size_t i = 0; i < n->nidents; i++)
            sbuf_printf(b, ".%s", n->idents[i]);
        return;
    case TN_VARIABLE:
        for (size_t i = 0; i < n->nidents; i++)
            sbuf_printf(b, "%s%s", i ? "." : "", n->idents[i]);
        return;
    case TN_CHAIN:
        if (n->node->type == TN_PIPE)
            sbuf_putc(b, '(');
        tmpl_node_string(b, n->node);
        if (n->node->type == TN_PIPE)
            sbuf_putc(b, ')');
        for (size_t i = 0; i < n->nidents; i++)
            sbuf_printf(b, ".%s", n->idents[i]);
        return;
    case TN_IDENT:
        sbuf_append(b, n->str, n->len);
        return;
    case TN_DOT:
        sbuf_putc(b, '.');
        return;
    case TN_NIL:
        sbuf_puts(b, "nil");
        return;
    case TN_BOOL:
        sbuf_puts(b, n->b ? "true" : "false");
        return;
    case TN_NUMBER:
    case TN_STRING:
        sbuf_puts(b, n->text);
        return;
    }
}

/* ---- Errors ----------------------------------------------------------- */

void tmpl_exec_fail(struct exec *e, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    const char *name = e->def->name;
    if (!e->node) {
        snprintf(e->err, e->errsz, "template: %s: %s", name, msg);
        longjmp(e->fail, 1);
    }
    /* Location: line and 0-based byte column of the node in its text. */
    const char *text = e->def->text;
    size_t pos = e->node->pos;
    int line = 1;
    size_t line_start = 0;
    for (size_t i = 0; i < pos && text[i]; i++)
        if (text[i] == '\n') {
            line++;
            line_start = i + 1;
        }
    struct sbuf ctx = SBUF_INIT;
    tmpl_node_string(&ctx, e->node);
    struct sbuf qname = SBUF_INIT;
    tmpl_quote(&qname, name, strlen(name));
    snprintf(e->err, e->errsz, "template: %s:%d:%zu: executing %s at <%s>: %s", e->def->parse_name,
             line, pos - line_start, qname.data, ctx.data ? ctx.data : "", msg);
    sbuf_free(&ctx);
    sbuf_free(&qname);
    longjmp(e->fail, 1);
}

static void step(struct exec *e)
{
    char here;
    uintptr_t used = (uintptr_t)e->stack_base - (uintptr_t)&here;
    if (used > TMPL_MAX_STACK && used < ((uintptr_t)1 << 40)) /* stacks grow down */
        tmpl_exec_fail(e, "template nesting exceeds %u bytes of stack", TMPL_MAX_STACK);
    if (++e->steps > TMPL_MAX_STEPS)
        tmpl_exec_fail(e, "execution exceeded %d steps", TMPL_MAX_STEPS);
    if (tmpl_heap_used(e->h) > TMPL_MAX_HEAP)
        tmpl_exec_fail(e, "execution exceeded %u bytes of memory", TMPL_MAX_HEAP);
}

static void write_out(struct exec *e, const char *p, size_t n)
{
    if (e->out->len - e->out_start + n > TMPL_MAX_OUTPUT) {
        e->node = NULL;
        tmpl_exec_fail(e, "output exceeds %u bytes", TMPL_MAX_OUTPUT);
    }
    sbuf_append(e->out, p, n);
}

/* ---- Variables -------------------------------------------------------- */

static void var_push(struct exec *e, const char *name, const struct tmpl_value *v)
{
    if (e->nvars == e->capvars) {
        e->capvars = e->capvars ? e->capvars * 2 : 16;
        e->vars = xrealloc(e->vars, e->capvars * sizeof *e->vars);
    }
    e->vars[e->nvars].name = name;
    e->vars[e->nvars].v = v;
    e->nvars++;
}

static struct exec_var *var_find(struct exec *e, const char *name)
{
    for (size_t i = e->nvars; i-- > e->base;)
        if (strcmp(e->vars[i].name, name) == 0)
            return &e->vars[i];
    tmpl_exec_fail(e, "undefined variable: %s", name);
    return NULL;
}

/* ---- Fields ----------------------------------------------------------- */

static const struct tmpl_value *eval_pipeline(struct exec *e, const struct tmpl_value *dot,
                                              const struct tmpl_node *pipe);

static const struct tmpl_value *missing_key(struct exec *e, const struct tmpl_value *m,
                                            const char *field)
{
    switch (e->t->missingkey) {
    case TMPL_MISSINGKEY_ZERO:
        return m->u.map->elem_is_string ? tmpl_value_stringn(e->h, "", 0) : tmpl_value_invalid();
    case TMPL_MISSINGKEY_ERROR:
        tmpl_exec_fail(e, "map has no entry for key \"%s\"", field);
        return NULL;
    default:
        return tmpl_value_invalid();
    }
}

/* The methods of time.Time and time.Duration that templates use. */
static const struct tmpl_value *time_method(struct exec *e, const struct tmpl_value *v,
                                            const char *m)
{
    int64_t ns = v->u.ns;
    if (strcmp(m, "String") == 0) {
        struct sbuf b = SBUF_INIT;
        tmpl_value_print(&b, v, 0);
        const struct tmpl_value *r = tmpl_value_stringn(e->h, b.data ? b.data : "", b.len);
        sbuf_free(&b);
        return r;
    }
    if (v->kind == TMPL_TIME) {
        int64_t sec = ns / 1000000000 - (ns % 1000000000 < 0);
        if (strcmp(m, "Unix") == 0)
            return tmpl_value_int(e->h, sec);
        if (strcmp(m, "UnixMilli") == 0)
            return tmpl_value_int(e->h, ns / 1000000 - (ns % 1000000 < 0));
        if (strcmp(m, "UnixNano") == 0)
            return tmpl_value_int(e->h, ns);
        if (strcmp(m, "UTC") == 0 || strcmp(m, "Local") == 0)
            return v;
        return NULL;
    }
    if (strcmp(m, "Seconds") == 0)
        return tmpl_value_float(e->h, (double)(ns / 1000000000) + (double)(ns % 1000000000) / 1e9);
    if (strcmp(m, "Minutes") == 0)
        return tmpl_value_float(e->h,
                                (double)(ns / 60000000000) + (double)(ns % 60000000000) / 6e10);
    if (strcmp(m, "Hours") == 0)
        return tmpl_value_float(e->h, (double)(ns / 3600000000000) +
                                          (double)(ns % 3600000000000) / 3.6e12);
    if (strcmp(m, "Milliseconds") == 0)
        return tmpl_value_int(e->h, ns / 1000000);
    if (strcmp(m, "Nanoseconds") == 0)
        return tmpl_value_int(e->h, ns);
    return NULL;
}

static const struct tmpl_value *eval_field(struct exec *e, const char *field, bool has_args,
                                           const struct tmpl_value *recv)
{
    step(e);
    switch (recv->kind) {
    case TMPL_INVALID:
        if (e->t->missingkey == TMPL_MISSINGKEY_ERROR)
            tmpl_exec_fail(e, "nil data; no entry for key \"%s\"", field);
        return tmpl_value_invalid();
    case TMPL_MAP: {
        if (has_args)
            tmpl_exec_fail(e, "%s is not a method but has arguments", field);
        const struct tmpl_value *v = tmpl_map_get(recv, field, strlen(field));
        return v ? v : missing_key(e, recv, field);
    }
    case TMPL_STRUCT: {
        const struct tmpl_value *v = tmpl_map_get(recv, field, strlen(field));
        if (!v)
            break;
        if (has_args)
            tmpl_exec_fail(e, "%s has arguments but cannot be invoked as function", field);
        return v;
    }
    case TMPL_SAMPLE:
        if (strcmp(field, "Labels") && strcmp(field, "Value"))
            break;
        if (has_args)
            tmpl_exec_fail(e, "%s has arguments but cannot be invoked as function", field);
        if (field[0] == 'L')
            return recv->u.sample->labels;
        return tmpl_value_float(e->h, recv->u.sample->value);
    case TMPL_TIME:
    case TMPL_DURATION: {
        const struct tmpl_value *m = time_method(e, recv, field);
        if (!m)
            break;
        if (has_args)
            tmpl_exec_fail(e, "wrong number of args for %s: want 0 got 1", field);
        return m;
    }
    case TMPL_NIL:
        if (recv->type && strcmp(recv->type, "*template.sample") == 0 &&
            (strcmp(field, "Labels") == 0 || strcmp(field, "Value") == 0))
            tmpl_exec_fail(e, "nil pointer evaluating %s.%s", recv->type, field);
        if (!recv->type)
            tmpl_exec_fail(e, "nil pointer evaluating interface {}.%s", field);
        break;
    default:
        break;
    }
    tmpl_exec_fail(e, "can't evaluate field %s in type %s", field, tmpl_value_type(recv));
    return NULL;
}

static const struct tmpl_value *eval_field_chain(struct exec *e, const struct tmpl_value *recv,
                                                 const char *const *idents, size_t n, bool has_args)
{
    for (size_t i = 0; i + 1 < n; i++)
        recv = eval_field(e, idents[i], false, recv);
    return eval_field(e, idents[n - 1], has_args, recv);
}

static void not_a_function(struct exec *e, const struct tmpl_node *cmd_first, size_t nargs,
                           const struct tmpl_value *final)
{
    if (nargs > 1 || final) {
        struct sbuf b = SBUF_INIT;
        tmpl_node_string(&b, cmd_first);
        char s[256];
        snprintf(s, sizeof s, "%s", b.data ? b.data : "");
        sbuf_free(&b);
        tmpl_exec_fail(e, "can't give argument to non-function %s", s);
    }
}

/* A field, variable or chain node evaluated as a command's first word
 * (nargs counts the command's words) or as an argument (nargs 0). */
static const struct tmpl_value *eval_ref(struct exec *e, const struct tmpl_value *dot,
                                         const struct tmpl_node *n, size_t nargs,
                                         const struct tmpl_value *final)
{
    e->node = n;
    bool has_args = nargs > 1 || final;
    if (n->type == TN_FIELD)
        return eval_field_chain(e, dot, n->idents, n->nidents, has_args);
    if (n->type == TN_VARIABLE) {
        const struct tmpl_value *v = var_find(e, n->idents[0])->v;
        if (n->nidents == 1) {
            not_a_function(e, n, nargs, final);
            return v;
        }
        return eval_field_chain(e, v, n->idents + 1, n->nidents - 1, has_args);
    }
    /* TN_CHAIN */
    if (n->node->type == TN_NIL)
        tmpl_exec_fail(e, "indirection through explicit nil in %s", "nil");
    /* Go leaves the error position at the last node evaluated. */
    const struct tmpl_value *recv = tmpl_exec_arg(e, dot, 0, n->node);
    return eval_field_chain(e, recv, n->idents, n->nidents, has_args);
}

/* ---- Arguments -------------------------------------------------------- */

static const char *type_name(char t)
{
    switch (t) {
    case 's':
        return "string";
    case 'f':
        return "float64";
    case 'i':
        return "int";
    case 'b':
        return "bool";
    case 'a':
        return "interface {}";
    case 'S':
        return "*template.sample";
    case 'Q':
        return "template.queryResult";
    default:
        return "reflect.Value";
    }
}

static const struct tmpl_value *zero_of(struct exec *e, char t)
{
    struct tmpl_value *v;
    switch (t) {
    case 'a':
        return tmpl_value_nil();
    case 'R':
        return tmpl_value_invalid();
    case 'S':
        v = tmpl_heap_alloc(e->h, sizeof *v);
        v->kind = TMPL_NIL;
        v->type = "*template.sample";
        return v;
    case 'Q':
        v = tmpl_value_list(e->h);
        v->type = "template.queryResult";
        return v;
    default:
        return NULL;
    }
}

const struct tmpl_value *tmpl_exec_validate(struct exec *e, const struct tmpl_value *v, char t)
{
    if (t == 0)
        return v;
    if (v->kind == TMPL_INVALID || (v->kind == TMPL_NIL && !v->type)) {
        const struct tmpl_value *z = zero_of(e, t);
        if (!z)
            tmpl_exec_fail(e, "invalid value; expected %s", type_name(t));
        return z;
    }
    bool ok;
    switch (t) {
    case 's':
        ok = v->kind == TMPL_STRING && !v->type;
        break;
    case 'f':
        ok = v->kind == TMPL_FLOAT && !v->type;
        break;
    case 'i':
        ok = v->kind == TMPL_INT && !v->type;
        break;
    case 'b':
        ok = v->kind == TMPL_BOOL && !v->type;
        break;
    case 'S':
        ok = v->kind == TMPL_SAMPLE ||
             (v->kind == TMPL_NIL && strcmp(v->type, "*template.sample") == 0);
        break;
    case 'Q':
        ok = v->kind == TMPL_LIST && v->type && strcmp(v->type, "template.queryResult") == 0;
        break;
    default:
        ok = true;
    }
    if (!ok)
        tmpl_exec_fail(e, "wrong type for value; expected %s; got %s", type_name(t),
                       tmpl_value_type(v));
    return v;
}

/* Go's idealConstant: an untyped number literal as int or float64. */
static const struct tmpl_value *ideal_constant(struct exec *e, const struct tmpl_node *n)
{
    e->node = n;
    const char *s = n->text;
    bool hex_int = (s[0] == '0' || ((s[0] == '-' || s[0] == '+') && s[1] == '0')) &&
                   strpbrk(s, "xX") && !strpbrk(s, "pP");
    if (n->is_float && !hex_int && s[0] != '\'' && strpbrk(s, ".eEpP"))
        return tmpl_value_float(e->h, n->f);
    if (n->is_int)
        return tmpl_value_int(e->h, n->i);
    tmpl_exec_fail(e, "%s overflows int", s);
    return NULL;
}

static const struct tmpl_value *eval_function(struct exec *e, const struct tmpl_value *dot,
                                              const struct tmpl_node *ident,
                                              const struct tmpl_node *cmd,
                                              const struct tmpl_value *final);

const struct tmpl_value *tmpl_exec_arg(struct exec *e, const struct tmpl_value *dot, char t,
                                       const struct tmpl_node *n)
{
    e->node = n;
    switch (n->type) {
    case TN_DOT:
        return tmpl_exec_validate(e, dot, t);
    case TN_NIL: {
        const struct tmpl_value *z = t == 0 ? tmpl_value_nil() : zero_of(e, t);
        if (!z)
            tmpl_exec_fail(e, "cannot assign nil to %s", type_name(t));
        return z;
    }
    case TN_FIELD:
    case TN_VARIABLE:
    case TN_CHAIN:
        return tmpl_exec_validate(e, eval_ref(e, dot, n, 0, NULL), t);
    case TN_PIPE:
        return tmpl_exec_validate(e, eval_pipeline(e, dot, n), t);
    case TN_IDENT:
        return tmpl_exec_validate(e, eval_function(e, dot, n, n, NULL), t);
    default:
        break;
    }
    const char *what = NULL;
    switch (t) {
    case 'b':
        if (n->type == TN_BOOL)
            return tmpl_value_bool(e->h, n->b);
        what = "bool";
        break;
    case 'f':
        if (n->type == TN_NUMBER && n->is_float)
            return tmpl_value_float(e->h, n->f);
        what = "float";
        break;
    case 'i':
        if (n->type == TN_NUMBER && n->is_int)
            return tmpl_value_int(e->h, n->i);
        what = "integer";
        break;
    case 's':
        if (n->type == TN_STRING)
            return tmpl_value_stringn(e->h, n->str, n->len);
        what = "string";
        break;
    case 0:
    case 'a':
    case 'R':
        if (n->type == TN_BOOL)
            return tmpl_value_bool(e->h, n->b);
        if (n->type == TN_NUMBER)
            return ideal_constant(e, n);
        if (n->type == TN_STRING)
            return tmpl_value_stringn(e->h, n->str, n->len);
        break;
    default:
        break;
    }
    struct sbuf b = SBUF_INIT;
    tmpl_node_string(&b, n);
    char s[256];
    snprintf(s, sizeof s, "%s", b.data ? b.data : "");
    sbuf_free(&b);
    if (what)
        tmpl_exec_fail(e, "expected %s; found %s", what, s);
    tmpl_exec_fail(e, "can't handle %s for arg of type %s", s, type_name(t));
    return NULL;
}

/* ---- Calls ------------------------------------------------------------ */

static const struct tmpl_value *eval_call(struct exec *e, const struct tmpl_value *dot,
                                          const struct tmpl_func *f, void *ctx,
                                          const struct tmpl_node *cmd, const char *name,
                                          struct tmpl_node *const *args, size_t nargs,
                                          const struct tmpl_value *final)
{
    const char *sig = f->sig;
    size_t slen = strlen(sig);
    bool variadic = slen > 0 && sig[slen - 1] == '*';
    size_t nparams = variadic ? slen - 1 : slen;
    size_t num_in = nargs + (final ? 1 : 0);
    size_t nfixed = nargs;
    if (variadic) {
        nfixed = nparams - 1;
        if (num_in < nfixed)
            tmpl_exec_fail(e, "wrong number of args for %s: want at least %zu got %zu", name,
                           nfixed, nargs);
    } else if (num_in != nparams) {
        tmpl_exec_fail(e, "wrong number of args for %s: want %zu got %zu", name, nparams, num_in);
    }
    bool andor = f->fn == NULL && (strcmp(name, "and") == 0 || strcmp(name, "or") == 0);
    if (andor) { /* short-circuit */
        bool is_or = name[0] == 'o';
        const struct tmpl_value *v = NULL;
        for (size_t i = 0; i < nargs; i++) {
            v = tmpl_exec_arg(e, dot, 'R', args[i]);
            if (tmpl_value_truth(v) == is_or)
                return v;
        }
        if (final)
            v = tmpl_exec_validate(e, final, 'R');
        return v;
    }
    const struct tmpl_value **argv = tmpl_heap_alloc(e->h, (num_in + 1) * sizeof *argv);
    size_t i = 0;
    for (; i < nfixed && i < nargs; i++)
        argv[i] = tmpl_exec_arg(e, dot, sig[i], args[i]);
    if (variadic)
        for (; i < nargs; i++)
            argv[i] = tmpl_exec_arg(e, dot, sig[nparams - 1], args[i]);
    if (final) {
        char t = sig[nparams - 1];
        if (variadic && num_in - 1 < nfixed)
            t = sig[num_in - 1];
        argv[i] = tmpl_exec_validate(e, final, t);
    }
    char msg[768] = "";
    struct tmpl_call c = {.heap = e->h, .ctx = ctx, .err = msg, .errsz = sizeof msg};
    const struct tmpl_value *result = NULL;
    int rc = f->fn(&c, argv, num_in, &result);
    if (rc != 0) {
        e->node = cmd;
        tmpl_exec_fail(e, "error calling %s: %s", name, msg);
    }
    return result ? result : tmpl_value_invalid();
}

static const struct tmpl_value *eval_function(struct exec *e, const struct tmpl_value *dot,
                                              const struct tmpl_node *ident,
                                              const struct tmpl_node *cmd,
                                              const struct tmpl_value *final)
{
    e->node = ident;
    step(e);
    void *ctx = NULL;
    const struct tmpl_func *f = tmpl_builtin_find(ident->str, ident->len);
    if (!f)
        f = tmpl_funcs_find(e->fs, ident->str, ident->len, &ctx);
    if (!f)
        tmpl_exec_fail(e, "\"%s\" is not a defined function", ident->str);
    struct tmpl_node *const *args = cmd->type == TN_COMMAND ? cmd->kids + 1 : NULL;
    size_t nargs = cmd->type == TN_COMMAND ? cmd->nkids - 1 : 0;
    return eval_call(e, dot, f, ctx, cmd, ident->str, args, nargs, final);
}

static const struct tmpl_value *eval_command(struct exec *e, const struct tmpl_value *dot,
                                             const struct tmpl_node *cmd,
                                             const struct tmpl_value *final)
{
    const struct tmpl_node *first = cmd->kids[0];
    step(e);
    switch (first->type) {
    case TN_FIELD:
    case TN_CHAIN:
    case TN_VARIABLE:
        return eval_ref(e, dot, first, cmd->nkids, final);
    case TN_IDENT:
        return eval_function(e, dot, first, cmd, final);
    case TN_PIPE:
        not_a_function(e, first, cmd->nkids, final);
        return eval_pipeline(e, dot, first);
    default:
        break;
    }
    e->node = first;
    not_a_function(e, first, cmd->nkids, final);
    switch (first->type) {
    case TN_BOOL:
        return tmpl_value_bool(e->h, first->b);
    case TN_DOT:
        return dot;
    case TN_NIL:
        tmpl_exec_fail(e, "nil is not a command");
        return NULL;
    case TN_NUMBER:
        return ideal_constant(e, first);
    default:
        return tmpl_value_stringn(e->h, first->str, first->len);
    }
}

static const struct tmpl_value *eval_pipeline(struct exec *e, const struct tmpl_value *dot,
                                              const struct tmpl_node *pipe)
{
    if (!pipe)
        return tmpl_value_invalid();
    e->node = pipe;
    const struct tmpl_value *v = NULL;
    for (size_t i = 0; i < pipe->nkids; i++) {
        v = eval_command(e, dot, pipe->kids[i], v);
        if (v->kind == TMPL_NIL && !v->type) /* an empty interface unwraps to "no value" */
            v = tmpl_value_invalid();
    }
    for (size_t i = 0; i < pipe->ndecl; i++) {
        if (pipe->is_assign)
            var_find(e, pipe->decl[i])->v = v;
        else
            var_push(e, pipe->decl[i], v);
    }
    return v;
}

/* ---- Statements ------------------------------------------------------- */

static void walk(struct exec *e, const struct tmpl_value *dot, const struct tmpl_node *n);

static void print_value(struct exec *e, const struct tmpl_value *v)
{
    struct sbuf b = SBUF_INIT;
    tmpl_value_print(&b, v, 0);
    if (b.len)
        write_out(e, b.data, b.len);
    sbuf_free(&b);
}

static void walk_if_or_with(struct exec *e, const struct tmpl_value *dot, const struct tmpl_node *n)
{
    size_t mark = e->nvars;
    const struct tmpl_value *v = eval_pipeline(e, dot, n->node);
    if (tmpl_value_truth(v))
        walk(e, n->type == TN_WITH ? v : dot, n->list);
    else if (n->elselist)
        walk(e, dot, n->elselist);
    e->nvars = mark;
}

/* One iteration of range; false to stop (break). */
static bool range_iteration(struct exec *e, const struct tmpl_node *r, const struct tmpl_value *key,
                            const struct tmpl_value *elem, size_t mark)
{
    const struct tmpl_node *pipe = r->node;
    if (pipe->ndecl > 0) {
        if (pipe->is_assign)
            var_find(e, pipe->decl[0])->v = pipe->ndecl > 1 ? key : elem;
        else
            e->vars[mark - 1].v = elem;
    }
    if (pipe->ndecl > 1) {
        if (pipe->is_assign)
            var_find(e, pipe->decl[1])->v = elem;
        else
            e->vars[mark - 2].v = key;
    }
    walk(e, elem, r->list);
    e->nvars = mark;
    enum exec_ctrl c = e->ctrl;
    e->ctrl = CTRL_NONE;
    return c != CTRL_BREAK;
}

static void walk_range(struct exec *e, const struct tmpl_value *dot, const struct tmpl_node *r)
{
    size_t outer = e->nvars;
    e->node = r;
    const struct tmpl_value *v = eval_pipeline(e, dot, r->node);
    size_t mark = e->nvars;
    bool ran = false;
    switch (v->kind) {
    case TMPL_LIST:
        for (size_t i = 0; i < v->u.list->n; i++) {
            ran = true;
            step(e);
            if (!range_iteration(e, r, tmpl_value_int(e->h, (int64_t)i), v->u.list->v[i], mark))
                break;
        }
        break;
    case TMPL_MAP:
        for (size_t i = 0; i < v->u.map->n; i++) {
            ran = true;
            step(e);
            if (!range_iteration(e, r, tmpl_value_string(e->h, v->u.map->keys[i]),
                                 v->u.map->vals[i], mark))
                break;
        }
        break;
    case TMPL_INT:
        if (r->node->ndecl > 1)
            tmpl_exec_fail(e, "can't use %lld to iterate over more than one variable",
                           (long long)v->u.i);
        for (int64_t i = 0; i < v->u.i; i++) {
            ran = true;
            step(e);
            const struct tmpl_value *iv = tmpl_value_int(e->h, i);
            if (!range_iteration(e, r, iv, iv, mark))
                break;
        }
        break;
    case TMPL_INVALID:
        break;
    default: {
        struct sbuf b = SBUF_INIT;
        tmpl_value_print(&b, v, 0);
        char s[256];
        snprintf(s, sizeof s, "%s", b.data ? b.data : "");
        sbuf_free(&b);
        tmpl_exec_fail(e, "range can't iterate over %s", s);
    }
    }
    if (!ran && r->elselist)
        walk(e, dot, r->elselist);
    e->nvars = outer;
}

static void walk_template(struct exec *e, const struct tmpl_value *dot, const struct tmpl_node *n)
{
    e->node = n;
    const struct tmpl_def *d = tmpl_def_find(e->t, n->str);
    if (!d || !d->root)
        tmpl_exec_fail(e, "template \"%s\" not defined", n->str);
    const struct tmpl_value *v = eval_pipeline(e, dot, n->node);
    if (++e->depth > TMPL_MAX_DEPTH) {
        e->node = n;
        tmpl_exec_fail(e, "exceeded maximum template depth (%d)", TMPL_MAX_DEPTH);
    }
    const struct tmpl_def *saved_def = e->def;
    size_t saved_base = e->base, saved_n = e->nvars;
    e->def = d;
    e->base = e->nvars;
    var_push(e, "$", v);
    walk(e, v, d->root);
    e->def = saved_def;
    e->base = saved_base;
    e->nvars = saved_n;
    e->depth--;
}

static void walk(struct exec *e, const struct tmpl_value *dot, const struct tmpl_node *n)
{
    e->node = n;
    step(e);
    switch (n->type) {
    case TN_ACTION: {
        const struct tmpl_value *v = eval_pipeline(e, dot, n->node);
        if (n->node->ndecl == 0)
            print_value(e, v);
        return;
    }
    case TN_BREAK:
        e->ctrl = CTRL_BREAK;
        return;
    case TN_CONTINUE:
        e->ctrl = CTRL_CONTINUE;
        return;
    case TN_IF:
    case TN_WITH:
        walk_if_or_with(e, dot, n);
        return;
    case TN_LIST:
        for (size_t i = 0; i < n->nkids && e->ctrl == CTRL_NONE; i++)
            walk(e, dot, n->kids[i]);
        return;
    case TN_RANGE:
        walk_range(e, dot, n);
        return;
    case TN_TEMPLATE:
        walk_template(e, dot, n);
        return;
    case TN_TEXT:
        write_out(e, n->str, n->len);
        return;
    default:
        tmpl_exec_fail(e, "unknown node");
    }
}

int tmpl_execute(const struct tmpl *t, const char *name, const struct tmpl_value *data,
                 const struct tmpl_funcs *fs, struct sbuf *out, char *err, size_t errsz)
{
    const char *want = name ? name : t->name;
    const struct tmpl_def *d = tmpl_def_find(t, want);
    if (!d || !d->root) {
        struct sbuf q = SBUF_INIT;
        tmpl_quote(&q, want, strlen(want));
        if (!name || strcmp(name, t->name) == 0)
            snprintf(err, errsz, "template: %s: %s is an incomplete or empty template", want,
                     q.data);
        else
            snprintf(err, errsz, "template: no template %s associated with template \"%s\"", q.data,
                     t->name);
        sbuf_free(&q);
        return -1;
    }
    struct exec *e = xcalloc(1, sizeof *e);
    e->t = t;
    e->def = d;
    e->fs = fs;
    e->h = tmpl_heap_new();
    e->out = out;
    e->out_start = out->len;
    e->err = err;
    e->errsz = errsz;
    /* Go's Execute(w, nil): dot is the invalid value, not a typed nil. */
    e->data = data && !(data->kind == TMPL_NIL && !data->type) ? data : tmpl_value_invalid();
    char stack_base;
    e->stack_base = &stack_base;
    int rc = 0;
    if (setjmp(e->fail) == 0) {
        var_push(e, "$", e->data);
        walk(e, e->data, d->root);
    } else {
        rc = -1;
    }
    free(e->vars);
    tmpl_heap_free(e->h);
    free(e);
    return rc;
}
