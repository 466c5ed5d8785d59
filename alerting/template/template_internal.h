/* template_internal.h — what the files of alerting/template/ share: the value
 * representation, the token stream, the parse tree and the executor's
 * state.  Not for other modules: they include template.h. */
#ifndef VIGIL_ALERTING_TEMPLATE_INTERNAL_H
#define VIGIL_ALERTING_TEMPLATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alerting/template/template.h"
#include "util/sbuf.h"

/* ---- Heap ------------------------------------------------------------- */

void *tmpl_heap_alloc(struct tmpl_heap *h, size_t n);
char *tmpl_heap_strndup(struct tmpl_heap *h, const char *s, size_t n);
size_t tmpl_heap_used(const struct tmpl_heap *h);

/* ---- Values ----------------------------------------------------------- */

enum tmpl_kind {
    TMPL_INVALID, /* Go's invalid reflect.Value: "<no value>" */
    TMPL_NIL,     /* untyped nil / nil pointer: "<nil>" */
    TMPL_BOOL,
    TMPL_INT,
    TMPL_FLOAT,
    TMPL_STRING,
    TMPL_MAP,
    TMPL_STRUCT,
    TMPL_LIST,
    TMPL_SAMPLE,
    TMPL_TIME,
    TMPL_DURATION,
};

struct tmpl_map {
    size_t n, cap;
    const char **keys; /* sorted (maps) or in declaration order (structs) */
    const struct tmpl_value **vals;
    bool elem_is_string;
    const char *type_name; /* structs */
};

struct tmpl_list {
    size_t n, cap;
    const struct tmpl_value **v;
};

struct tmpl_sample {
    const struct tmpl_value *labels; /* map[string]string */
    double value;
};

struct tmpl_value {
    enum tmpl_kind kind;
    /* Go type name where it differs from the kind's default, e.g.
     * "template.HTML" for a string, "template.queryResult" for a list. */
    const char *type;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p; /* NUL-terminated too */
            size_t n;
        } s;
        struct tmpl_map *map;
        struct tmpl_list *list;
        struct tmpl_sample *sample;
        int64_t ns; /* TIME: since the epoch; DURATION */
    } u;
};

const struct tmpl_value *tmpl_value_invalid(void);
/* Go's type name of v, as %T prints it. */
const char *tmpl_value_type(const struct tmpl_value *v);
/* Go's truth: false, 0, "", nil, empty map or list are false. */
bool tmpl_value_truth(const struct tmpl_value *v);
/* Looks key up in a map or struct; NULL if absent. */
const struct tmpl_value *tmpl_map_get(const struct tmpl_value *m, const char *key, size_t klen);
/* fmt.Sprint's %v of one value (depth > 0 inside maps and lists). */
void tmpl_value_print(struct sbuf *b, const struct tmpl_value *v, int depth);
/* time.Time.String() in UTC and time.Duration.String(). */
void tmpl_time_format(struct sbuf *b, int64_t unix_ns);
void tmpl_duration_format(struct sbuf *b, int64_t ns);
/* strconv.Quote. */
void tmpl_quote(struct sbuf *b, const char *s, size_t n);

/* fmt.Sprintf / Sprint / Sprintln over template values. */
void tmpl_sprintf(struct sbuf *b, const char *fmt, size_t fmtlen,
                  const struct tmpl_value *const *argv, size_t argc);
void tmpl_sprint(struct sbuf *b, const struct tmpl_value *const *argv, size_t argc);
void tmpl_sprintln(struct sbuf *b, const struct tmpl_value *const *argv, size_t argc);
/* %g-style formatting with explicit precision, as Go's strconv 'g'. */
void tmpl_format_float(struct sbuf *b, double v, char verb, int prec);

/* ---- Lexer ------------------------------------------------------------ */

enum tmpl_tok_type {
    TT_ERROR,
    TT_EOF,
    TT_TEXT,
    TT_LEFT,  /* {{ */
    TT_RIGHT, /* }} */
    TT_SPACE,
    TT_FIELD,    /* .Foo */
    TT_VARIABLE, /* $x */
    TT_IDENT,
    TT_STRING,
    TT_RAWSTRING,
    TT_CHAR, /* 'a' */
    TT_NUMBER,
    TT_BOOL,
    TT_NIL,
    TT_DOT,
    TT_PIPE,
    TT_LPAREN,
    TT_RPAREN,
    TT_ASSIGN,  /* = */
    TT_DECLARE, /* := */
    TT_COMMA,
    TT_OTHERCHAR,
    /* keywords */
    TT_BLOCK,
    TT_BREAK,
    TT_CONTINUE,
    TT_DEFINE,
    TT_ELSE,
    TT_END,
    TT_IF,
    TT_RANGE,
    TT_TEMPLATE,
    TT_WITH,
};

struct tmpl_token {
    enum tmpl_tok_type type;
    size_t pos;      /* byte offset in the text */
    size_t len;      /* bytes of val */
    int line;        /* 1-based line the token starts on */
    const char *val; /* points into the text, or an error message (heap) */
};

/* Splits text into tokens (ending with TT_EOF or TT_ERROR), allocated from
 * h.  Text tokens already have {{- -}} trimming applied. */
struct tmpl_token *tmpl_lex(struct tmpl_heap *h, const char *text, size_t n, size_t *ntok);

/* ---- Parse tree ------------------------------------------------------- */

enum tmpl_node_type {
    TN_LIST,
    TN_TEXT,
    TN_ACTION,
    TN_IF,
    TN_RANGE,
    TN_WITH,
    TN_TEMPLATE,
    TN_BREAK,
    TN_CONTINUE,
    TN_PIPE,
    TN_COMMAND,
    TN_FIELD,    /* .A.B */
    TN_VARIABLE, /* $x.A.B */
    TN_CHAIN,    /* (pipe).A.B */
    TN_IDENT,    /* function name */
    TN_DOT,
    TN_NIL,
    TN_BOOL,
    TN_NUMBER,
    TN_STRING,
};

struct tmpl_node {
    enum tmpl_node_type type;
    size_t pos;
    int line;
    /* TN_LIST: kids; TN_PIPE: kids = commands; TN_COMMAND: kids = args */
    struct tmpl_node **kids;
    size_t nkids;
    /* TN_TEXT, TN_STRING (unquoted value), TN_IDENT: */
    const char *str;
    size_t len;
    /* TN_FIELD, TN_VARIABLE, TN_CHAIN: field names; for TN_VARIABLE
     * idents[0] is the variable name with its '$'. */
    const char **idents;
    size_t nidents;
    struct tmpl_node *node; /* TN_CHAIN: the operand; TN_ACTION etc.: the pipeline */
    /* TN_IF/RANGE/WITH: list and else list; TN_TEMPLATE: name in str. */
    struct tmpl_node *list, *elselist;
    /* TN_PIPE: declared variables and whether it is `=` rather than `:=`. */
    const char **decl;
    size_t ndecl;
    bool is_assign;
    /* TN_BOOL */
    bool b;
    /* TN_NUMBER */
    bool is_int, is_float;
    int64_t i;
    double f;
    const char *text; /* TN_NUMBER source text and printed forms of nodes */
};

struct tmpl_def {
    char *name;
    struct tmpl_node *root;
    const char *text; /* the parse's text, for error positions */
    char *parse_name; /* the template the text was parsed as */
};

struct tmpl {
    char *name;
    enum tmpl_missingkey missingkey;
    struct tmpl_heap *heap; /* tokens, nodes, texts */
    struct tmpl_def *defs;
    size_t ndefs, capdefs;
};

const struct tmpl_def *tmpl_def_find(const struct tmpl *t, const char *name);
/* Appends the Go source form of a node (for "at <...>" in errors). */
void tmpl_node_string(struct sbuf *b, const struct tmpl_node *n);
/* Finds a function by name in a chain; NULL if absent. */
const struct tmpl_func *tmpl_funcs_find(const struct tmpl_funcs *fs, const char *name, size_t n,
                                        void **ctx);
bool tmpl_is_builtin(const char *name, size_t n);

#endif
