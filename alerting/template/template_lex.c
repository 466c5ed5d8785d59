/* template_lex.c — the lexer of Go's text/template, token for token.
 *
 * The text is split in one pass into a token array: runs of plain text,
 * and inside {{ }} the action's tokens (fields, variables, identifiers,
 * literals, punctuation, keywords).  Go's lexer is a state machine run as
 * the parser pulls; here the whole array is produced up front, ending with
 * TT_EOF, or with TT_ERROR at the first error (whose message, e.g.
 * "unclosed action", is Go's).  Trim markers ("{{- " and " -}}") are
 * applied to the neighbouring text tokens here, as in Go; comments
 * ("{{/" "* ... *" "/}}") produce no token. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/template/template_internal.h"

struct lexer {
    struct tmpl_heap *heap;
    const char *in;
    size_t n;
    size_t pos, start;
    int line; /* line of `start` */
    int paren;
    struct tmpl_token *toks;
    size_t ntok, cap;
    bool done;
};

static bool is_space(int c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_alnum(int c)
{
    /* Bytes of multi-byte UTF-8 runes count as letters, as most runes
     * outside ASCII that appear in identifiers are. */
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c >= 0x80 && c <= 0xFF);
}

static int peek(const struct lexer *l)
{
    return l->pos < l->n ? (unsigned char)l->in[l->pos] : -1;
}

static bool has_prefix(const struct lexer *l, size_t at, const char *p)
{
    size_t pl = strlen(p);
    return at <= l->n && l->n - at >= pl && memcmp(l->in + at, p, pl) == 0;
}

static void count_lines(struct lexer *l, size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        if (l->in[i] == '\n')
            l->line++;
}

static void push(struct lexer *l, enum tmpl_tok_type t, size_t start, size_t end, int line,
                 const char *val)
{
    if (l->ntok == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->toks = xrealloc(l->toks, l->cap * sizeof *l->toks);
    }
    struct tmpl_token *k = &l->toks[l->ntok++];
    k->type = t;
    k->pos = start;
    k->len = val ? strlen(val) : end - start;
    k->line = line;
    k->val = val ? val : l->in + start;
}

/* Emits in[start:pos] and moves start to pos. */
static void emit(struct lexer *l, enum tmpl_tok_type t)
{
    push(l, t, l->start, l->pos, l->line, NULL);
    count_lines(l, l->start, l->pos);
    l->start = l->pos;
}

static void ignore(struct lexer *l)
{
    count_lines(l, l->start, l->pos);
    l->start = l->pos;
}

static void errorf(struct lexer *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void errorf(struct lexer *l, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    push(l, TT_ERROR, l->start, l->start, l->line, tmpl_heap_strndup(l->heap, msg, strlen(msg)));
    l->done = true;
}

/* Go's %#U for the rune at pos (e.g. U+0021 '!'). */
static void rune_errorf(struct lexer *l, const char *what, size_t at)
{
    int c = at < l->n ? (unsigned char)l->in[at] : 0;
    if (c >= 0x20 && c < 0x7f)
        errorf(l, "%s U+%04X '%c'", what, c, c);
    else
        errorf(l, "%s U+%04X", what, c);
}

static bool left_trim_marker(const struct lexer *l, size_t at)
{
    return at + 1 < l->n && l->in[at] == '-' && is_space((unsigned char)l->in[at + 1]);
}

/* At "}}" or " -}}"; *trim says which. */
static bool at_right_delim(const struct lexer *l, bool *trim)
{
    *trim = false;
    if (l->pos + 1 < l->n && is_space((unsigned char)l->in[l->pos]) && l->in[l->pos + 1] == '-' &&
        has_prefix(l, l->pos + 2, "}}")) {
        *trim = true;
        return true;
    }
    return has_prefix(l, l->pos, "}}");
}

static bool at_terminator(const struct lexer *l)
{
    int c = peek(l);
    if (c < 0 || is_space(c))
        return true;
    if (c == '.' || c == ',' || c == '|' || c == ':' || c == ')' || c == '(')
        return true;
    return has_prefix(l, l->pos, "}}");
}

static void skip_space_after(struct lexer *l)
{
    while (l->pos < l->n && is_space((unsigned char)l->in[l->pos]))
        l->pos++;
    ignore(l);
}

static bool lex_comment(struct lexer *l)
{
    l->pos += 2;
    const char *end = NULL;
    for (size_t i = l->pos; i + 1 < l->n; i++)
        if (l->in[i] == '*' && l->in[i + 1] == '/') {
            end = l->in + i;
            break;
        }
    if (!end) {
        errorf(l, "unclosed comment");
        return false;
    }
    l->pos = (size_t)(end - l->in) + 2;
    bool trim;
    if (!at_right_delim(l, &trim)) {
        errorf(l, "comment ends before closing delimiter");
        return false;
    }
    l->pos += (trim ? 2 : 0) + 2;
    ignore(l);
    if (trim)
        skip_space_after(l);
    return true;
}

static bool accept(struct lexer *l, const char *valid)
{
    int c = peek(l);
    if (c > 0 && strchr(valid, c)) {
        l->pos++;
        return true;
    }
    return false;
}

static void accept_run(struct lexer *l, const char *valid)
{
    while (accept(l, valid))
        ;
}

static bool scan_number(struct lexer *l)
{
    accept(l, "+-");
    const char *digits = "0123456789_";
    if (accept(l, "0")) {
        if (accept(l, "xX"))
            digits = "0123456789abcdefABCDEF_";
        else if (accept(l, "oO"))
            digits = "01234567_";
        else if (accept(l, "bB"))
            digits = "01_";
    }
    accept_run(l, digits);
    if (accept(l, "."))
        accept_run(l, digits);
    if (strlen(digits) == 11 && accept(l, "eE")) {
        accept(l, "+-");
        accept_run(l, "0123456789_");
    }
    if (strlen(digits) == 23 && accept(l, "pP")) {
        accept(l, "+-");
        accept_run(l, "0123456789_");
    }
    accept(l, "i");
    if (l->pos < l->n && is_alnum((unsigned char)l->in[l->pos])) {
        l->pos++;
        return false;
    }
    return true;
}

static void lex_number(struct lexer *l)
{
    if (!scan_number(l)) {
        errorf(l, "bad number syntax: \"%.*s\"", (int)(l->pos - l->start), l->in + l->start);
        return;
    }
    int c = peek(l);
    if (c == '+' || c == '-') { /* complex: 1+2i */
        if (!scan_number(l) || l->in[l->pos - 1] != 'i') {
            errorf(l, "bad number syntax: \"%.*s\"", (int)(l->pos - l->start), l->in + l->start);
            return;
        }
    }
    emit(l, TT_NUMBER);
}

static void lex_quote(struct lexer *l, char q, enum tmpl_tok_type t, const char *msg)
{
    for (;;) {
        int c = peek(l);
        if (c < 0 || (c == '\n' && q != '`')) {
            errorf(l, "%s", msg);
            return;
        }
        l->pos++;
        if (c == '\\' && q != '`') {
            c = peek(l);
            if (c < 0 || c == '\n') {
                errorf(l, "%s", msg);
                return;
            }
            l->pos++;
        } else if (c == q) {
            break;
        }
    }
    emit(l, t);
}

static const struct {
    const char *word;
    enum tmpl_tok_type type;
} keywords[] = {
    {"block", TT_BLOCK},
    {"break", TT_BREAK},
    {"continue", TT_CONTINUE},
    {"define", TT_DEFINE},
    {"else", TT_ELSE},
    {"end", TT_END},
    {"if", TT_IF},
    {"range", TT_RANGE},
    {"nil", TT_NIL},
    {"template", TT_TEMPLATE},
    {"with", TT_WITH},
};

static void lex_identifier(struct lexer *l)
{
    while (l->pos < l->n && is_alnum((unsigned char)l->in[l->pos]))
        l->pos++;
    if (!at_terminator(l)) {
        rune_errorf(l, "bad character", l->pos);
        return;
    }
    size_t len = l->pos - l->start;
    const char *w = l->in + l->start;
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
        if (strlen(keywords[i].word) == len && memcmp(keywords[i].word, w, len) == 0) {
            emit(l, keywords[i].type);
            return;
        }
    if ((len == 4 && memcmp(w, "true", 4) == 0) || (len == 5 && memcmp(w, "false", 5) == 0))
        emit(l, TT_BOOL);
    else
        emit(l, TT_IDENT);
}

/* After '.' or '$' (already consumed). */
static void lex_field_or_var(struct lexer *l, enum tmpl_tok_type t)
{
    if (at_terminator(l)) {
        emit(l, t == TT_VARIABLE ? TT_VARIABLE : TT_DOT);
        return;
    }
    while (l->pos < l->n && is_alnum((unsigned char)l->in[l->pos]))
        l->pos++;
    if (!at_terminator(l)) {
        rune_errorf(l, "bad character", l->pos);
        return;
    }
    emit(l, t);
}

static void lex_space(struct lexer *l)
{
    int nspaces = 0;
    while (l->pos < l->n && is_space((unsigned char)l->in[l->pos])) {
        l->pos++;
        nspaces++;
    }
    /* A space followed by "-}}" belongs to the delimiter. */
    if (l->pos < l->n && l->in[l->pos] == '-' && has_prefix(l, l->pos + 1, "}}")) {
        l->pos--;
        if (nspaces == 1)
            return;
    }
    emit(l, TT_SPACE);
}

/* One step inside an action; returns false when the action ended. */
static bool lex_action_step(struct lexer *l)
{
    bool trim;
    if (at_right_delim(l, &trim)) {
        if (l->paren != 0) {
            errorf(l, "unclosed left paren");
            return false;
        }
        if (trim) {
            l->pos += 2;
            ignore(l);
        }
        l->pos += 2;
        emit(l, TT_RIGHT);
        if (trim)
            skip_space_after(l);
        return false;
    }
    int c = peek(l);
    if (c < 0) {
        errorf(l, "unclosed action");
        return false;
    }
    if (is_space(c)) {
        lex_space(l);
        return true;
    }
    l->pos++;
    switch (c) {
    case '=':
        emit(l, TT_ASSIGN);
        return true;
    case ':':
        if (peek(l) != '=') {
            errorf(l, "expected :=");
            return false;
        }
        l->pos++;
        emit(l, TT_DECLARE);
        return true;
    case '|':
        emit(l, TT_PIPE);
        return true;
    case '"':
        lex_quote(l, '"', TT_STRING, "unterminated quoted string");
        return !l->done;
    case '`':
        lex_quote(l, '`', TT_RAWSTRING, "unterminated raw quoted string");
        return !l->done;
    case '\'':
        lex_quote(l, '\'', TT_CHAR, "unterminated character constant");
        return !l->done;
    case '$':
        lex_field_or_var(l, TT_VARIABLE);
        return !l->done;
    case '.':
        if (peek(l) < '0' || peek(l) > '9') {
            lex_field_or_var(l, TT_FIELD);
            return !l->done;
        }
        l->pos--; /* ".5" is a number */
        lex_number(l);
        return !l->done;
    case '+':
    case '-':
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
    case '8':
    case '9':
        l->pos--;
        lex_number(l);
        return !l->done;
    case '(':
        emit(l, TT_LPAREN);
        l->paren++;
        return true;
    case ')':
        if (--l->paren < 0) {
            errorf(l, "unexpected right paren");
            return false;
        }
        emit(l, TT_RPAREN);
        return true;
    }
    if (is_alnum(c)) {
        l->pos--;
        lex_identifier(l);
        return !l->done;
    }
    if (c == ',') {
        emit(l, TT_COMMA);
        return true;
    }
    if (c > ' ' && c < 0x7f) {
        emit(l, TT_OTHERCHAR);
        return true;
    }
    rune_errorf(l, "unrecognized character in action:", l->pos - 1);
    return false;
}

static void lex_all(struct lexer *l)
{
    while (!l->done) {
        /* Text up to the next "{{". */
        const char *d = NULL;
        for (size_t i = l->pos; i + 1 < l->n; i++)
            if (l->in[i] == '{' && l->in[i + 1] == '{') {
                d = l->in + i;
                break;
            }
        if (!d) {
            l->pos = l->n;
            if (l->pos > l->start)
                emit(l, TT_TEXT);
            push(l, TT_EOF, l->n, l->n, l->line, NULL);
            return;
        }
        size_t at = (size_t)(d - l->in);
        bool trim = left_trim_marker(l, at + 2);
        size_t end = at;
        if (trim)
            while (end > l->start && is_space((unsigned char)l->in[end - 1]))
                end--;
        l->pos = end;
        if (l->pos > l->start)
            emit(l, TT_TEXT);
        l->pos = at;
        ignore(l);
        /* The left delimiter. */
        l->pos = at + 2;
        size_t after = trim ? 2 : 0;
        if (has_prefix(l, l->pos + after, "/*")) {
            l->pos += after;
            ignore(l);
            if (!lex_comment(l))
                return;
            continue;
        }
        emit(l, TT_LEFT);
        l->pos += after;
        ignore(l);
        l->paren = 0;
        while (lex_action_step(l))
            ;
    }
}

struct tmpl_token *tmpl_lex(struct tmpl_heap *h, const char *text, size_t n, size_t *ntok)
{
    struct lexer l = {.heap = h, .in = text, .n = n, .line = 1};
    lex_all(&l);
    struct tmpl_token *out = tmpl_heap_alloc(h, l.ntok * sizeof *out);
    memcpy(out, l.toks, l.ntok * sizeof *out);
    *ntok = l.ntok;
    free(l.toks);
    return out;
}
