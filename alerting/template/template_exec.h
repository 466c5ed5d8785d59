/* template_exec.h — the executor's state, shared by template_exec.c and the
 * builtins in template_builtins.c.  Internal to alerting/template/. */
#ifndef VIGIL_ALERTING_TEMPLATE_EXEC_H
#define VIGIL_ALERTING_TEMPLATE_EXEC_H

#include <setjmp.h>

#include "alerting/template/template_internal.h"

/* Memory one execution may allocate for intermediate values. */
#define TMPL_MAX_HEAP (64u << 20)

enum exec_ctrl { CTRL_NONE, CTRL_BREAK, CTRL_CONTINUE };

struct exec_var {
    const char *name;
    const struct tmpl_value *v;
};

struct exec {
    const struct tmpl *t;
    const struct tmpl_def *def; /* the template being executed */
    const struct tmpl_funcs *fs;
    struct tmpl_heap *h;
    struct sbuf *out;
    size_t out_start;
    const struct tmpl_value *data;
    const struct tmpl_node *node; /* where we are, for error messages */
    struct exec_var *vars;        /* malloc'd stack; frame starts at base */
    size_t nvars, capvars, base;
    int depth;              /* {{template}} calls, as Go counts them */
    const char *stack_base; /* for the stack budget */
    long steps;
    enum exec_ctrl ctrl;
    char *err;
    size_t errsz;
    jmp_buf fail;
};

/* Formats Go's execution error at e->node and longjmps out. */
void tmpl_exec_fail(struct exec *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)))
__attribute__((noreturn));
/* Evaluates argument node n for a parameter of type t (a sig letter, or 0
 * for "any, unchecked"). */
const struct tmpl_value *tmpl_exec_arg(struct exec *e, const struct tmpl_value *dot, char t,
                                       const struct tmpl_node *n);
const struct tmpl_value *tmpl_exec_validate(struct exec *e, const struct tmpl_value *v, char t);

/* The builtin functions (and, or, len, index, printf, eq, ...); and/or have
 * fn NULL: the executor short-circuits them itself. */
const struct tmpl_func *tmpl_builtin_find(const char *name, size_t n);

#endif
