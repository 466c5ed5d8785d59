/* lex.c — the PromQL lexer.
 *
 * PromQL cannot be tokenised context-free: inside {...} keywords are plain
 * label names and "=~" is one token, inside [...] only durations, numbers,
 * ':' and the duration functions are allowed, and '#' starts a comment
 * except inside strings.  Prometheus solves this with a state machine where
 * each state scans one kind of text and names the next state; this file
 * keeps that design state for state (a switch over enum lex_state instead
 * of Go's function values), because users see its decisions in error
 * messages: where "bad number or duration syntax" triggers, which text it
 * quotes and at which byte it points all fall out of the exact order of
 * accept/peek/backup calls.  Positions are bytes, runes are decoded the
 * way Go decodes them (invalid UTF-8 becomes U+FFFD, which strings reject).
 *
 * The lexer is pulled one token at a time by the parser (lexer_next), so a
 * lexing error surfaces exactly when the parser first looks at it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "query/promql_internal.h"
#include "util/sbuf.h"

#define LEX_EOF (-1)

static const struct {
    const char *word;
    enum tok type;
} lex_keywords[] = {
    {"and", TOK_LAND},
    {"or", TOK_LOR},
    {"unless", TOK_LUNLESS},
    {"atan2", TOK_ATAN2},
    {"sum", TOK_SUM},
    {"avg", TOK_AVG},
    {"count", TOK_COUNT},
    {"min", TOK_MIN},
    {"max", TOK_MAX},
    {"group", TOK_GROUP},
    {"stddev", TOK_STDDEV},
    {"stdvar", TOK_STDVAR},
    {"topk", TOK_TOPK},
    {"bottomk", TOK_BOTTOMK},
    {"count_values", TOK_COUNT_VALUES},
    {"quantile", TOK_QUANTILE},
    {"limitk", TOK_LIMITK},
    {"limit_ratio", TOK_LIMIT_RATIO},
    {"offset", TOK_OFFSET},
    {"smoothed", TOK_SMOOTHED},
    {"anchored", TOK_ANCHORED},
    {"by", TOK_BY},
    {"without", TOK_WITHOUT},
    {"on", TOK_ON},
    {"ignoring", TOK_IGNORING},
    {"group_left", TOK_GROUP_LEFT},
    {"group_right", TOK_GROUP_RIGHT},
    {"fill", TOK_FILL},
    {"fill_left", TOK_FILL_LEFT},
    {"fill_right", TOK_FILL_RIGHT},
    {"bool", TOK_BOOL},
    {"start", TOK_START},
    {"end", TOK_END},
    {"step", TOK_STEP},
    {"range", TOK_RANGE},
    {"min_of", TOK_MIN_OF},
    {"max_of", TOK_MAX_OF},
    {"inf", TOK_NUMBER},
    {"nan", TOK_NUMBER},
};

/* Case-insensitive keyword lookup; TOK_EOF when the word is no keyword. */
static enum tok lex_keyword(const char *s, size_t n)
{
    char low[16];
    if (n >= sizeof low)
        return TOK_EOF;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        low[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
    }
    low[n] = '\0';
    for (size_t i = 0; i < sizeof lex_keywords / sizeof lex_keywords[0]; i++)
        if (strcmp(lex_keywords[i].word, low) == 0)
            return lex_keywords[i].type;
    return TOK_EOF;
}

static bool is_space(int32_t r)
{
    return r == ' ' || r == '\t' || r == '\n' || r == '\r';
}

static bool is_alpha(int32_t r)
{
    return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
}

static bool is_digit(int32_t r)
{
    return r >= '0' && r <= '9';
}

static bool is_alnum(int32_t r)
{
    return is_alpha(r) || is_digit(r);
}

static bool in_set(const char *set, int32_t r)
{
    return r > 0 && r < 0x80 && strchr(set, (int)r) != NULL;
}

static int32_t lex_next(struct lexer *l)
{
    if (l->pos >= l->len) {
        l->width = 0;
        return LEX_EOF;
    }
    size_t w;
    int32_t r = utf8_decode(l->input + l->pos, l->len - l->pos, &w);
    l->width = w;
    l->pos += w;
    return r;
}

static void lex_backup(struct lexer *l)
{
    l->pos -= l->width;
}

static int32_t lex_peek(struct lexer *l)
{
    int32_t r = lex_next(l);
    lex_backup(l);
    return r;
}

static bool lex_accept(struct lexer *l, const char *set)
{
    if (in_set(set, lex_next(l)))
        return true;
    lex_backup(l);
    return false;
}

static bool lex_is(struct lexer *l, const char *set)
{
    return in_set(set, lex_peek(l));
}

static void lex_accept_run(struct lexer *l, const char *set)
{
    while (in_set(set, lex_next(l))) {
    }
    lex_backup(l);
}

static void lex_emit(struct lexer *l, enum tok t)
{
    l->out->type = t;
    l->out->pos = l->start;
    l->out->val = l->input + l->start;
    l->out->len = l->pos - l->start;
    l->start = l->pos;
    l->scanned = true;
}

static void lex_ignore(struct lexer *l)
{
    l->start = l->pos;
}

/* An error token carrying the message; the scan ends. */
static enum lex_state lex_errorf(struct lexer *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static enum lex_state lex_errorf(struct lexer *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(l->errbuf, sizeof l->errbuf, fmt, ap);
    va_end(ap);
    l->out->type = TOK_ERROR;
    l->out->pos = l->start;
    l->out->val = l->errbuf;
    l->out->len = strlen(l->errbuf);
    l->scanned = true;
    return LS_STOP;
}

/* Error texts quoting runes or strings with Go's %q. */
static enum lex_state lex_error_rune(struct lexer *l, const char *prefix, int32_t r,
                                     const char *suffix)
{
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, prefix);
    go_quote_rune(&b, r);
    sbuf_puts(&b, suffix);
    enum lex_state s = lex_errorf(l, "%s", b.data);
    sbuf_free(&b);
    return s;
}

static enum lex_state lex_error_unicode(struct lexer *l, const char *prefix, int32_t r,
                                        const char *suffix)
{
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, prefix);
    go_format_unicode(&b, r);
    sbuf_puts(&b, suffix);
    enum lex_state s = lex_errorf(l, "%s", b.data);
    sbuf_free(&b);
    return s;
}

static void lex_skip_spaces(struct lexer *l)
{
    while (is_space(lex_peek(l)))
        lex_next(l);
    lex_ignore(l);
}

static bool lex_at_comment(const struct lexer *l)
{
    return l->pos < l->len && l->input[l->pos] == '#';
}

/* After a letter that may start step/range/min_of/max_of inside brackets:
 * emits the keyword if the whole word is one. */
static bool lex_scan_duration_keyword(struct lexer *l)
{
    for (;;) {
        int32_t r = lex_next(l);
        if (is_alpha(r))
            continue;
        lex_backup(l);
        enum tok kw = lex_keyword(l->input + l->start, l->pos - l->start);
        if (kw == TOK_STEP || kw == TOK_RANGE || kw == TOK_MIN_OF || kw == TOK_MAX_OF) {
            lex_emit(l, kw);
            return true;
        }
        return false;
    }
}

/* The bracket-only cases of lex_statements: ':' and duration keywords. */
static enum lex_state lex_statements_bracket_alpha(struct lexer *l, int32_t r)
{
    if (r == ':') {
        if (l->got_colon)
            return lex_error_rune(l, "unexpected colon ", r, "");
        if (lex_peek(l) == ':') {
            lex_next(l);
            lex_emit(l, TOK_DOUBLE_COLON);
        } else {
            lex_emit(l, TOK_COLON);
        }
        l->got_colon = true;
        return LS_STATEMENTS;
    }
    if (strchr("sSmMrR", (int)r) && lex_scan_duration_keyword(l))
        return LS_STATEMENTS;
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "unexpected character: ");
    go_quote_rune(&b, r);
    sbuf_puts(&b, ", expected ");
    go_quote_rune(&b, ':');
    enum lex_state s = lex_errorf(l, "%s", b.data);
    sbuf_free(&b);
    return s;
}

static enum lex_state lex_statements_eof(struct lexer *l)
{
    if (l->paren_depth != 0)
        return lex_errorf(l, "unclosed left parenthesis");
    if (l->bracket_open)
        return lex_errorf(l, "unclosed left bracket");
    lex_emit(l, TOK_EOF);
    return LS_STOP;
}

static enum lex_state lex_statements_compare(struct lexer *l, int32_t r)
{
    int32_t t;
    switch (r) {
    case '=':
        t = lex_peek(l);
        if (t == '=') {
            lex_next(l);
            lex_emit(l, TOK_EQLC);
        } else if (t == '~') {
            return lex_error_rune(l, "unexpected character after '=': ", t, "");
        } else {
            lex_emit(l, TOK_EQL);
        }
        break;
    case '!':
        t = lex_next(l);
        if (t != '=')
            return lex_error_rune(l, "unexpected character after '!': ", t, "");
        lex_emit(l, TOK_NEQ);
        break;
    case '<':
        t = lex_peek(l);
        if (t == '=' || t == '/')
            lex_next(l);
        lex_emit(l, t == '=' ? TOK_LTE : t == '/' ? TOK_TRIM_UPPER : TOK_LSS);
        break;
    default: /* '>' */
        t = lex_peek(l);
        if (t == '=' || t == '/')
            lex_next(l);
        lex_emit(l, t == '=' ? TOK_GTE : t == '/' ? TOK_TRIM_LOWER : TOK_GTR);
    }
    return LS_STATEMENTS;
}

static enum lex_state lex_statements_brackets(struct lexer *l, int32_t r)
{
    switch (r) {
    case '(':
        lex_emit(l, TOK_LEFT_PAREN);
        l->paren_depth++;
        return LS_STATEMENTS;
    case ')':
        lex_emit(l, TOK_RIGHT_PAREN);
        l->paren_depth--;
        if (l->paren_depth < 0)
            return lex_error_rune(l, "unexpected right parenthesis ", r, "");
        return LS_STATEMENTS;
    case '{':
        lex_emit(l, TOK_LEFT_BRACE);
        l->brace_open = true;
        return LS_INSIDE_BRACES;
    case '[':
        if (l->bracket_open)
            return lex_error_rune(l, "unexpected left bracket ", r, "");
        l->got_colon = false;
        lex_emit(l, TOK_LEFT_BRACKET);
        if (is_space(lex_peek(l)))
            lex_skip_spaces(l);
        l->bracket_open = true;
        return LS_DURATION_EXPR;
    default: /* ']' */
        if (!l->bracket_open)
            return lex_error_rune(l, "unexpected right bracket ", r, "");
        lex_emit(l, TOK_RIGHT_BRACKET);
        l->bracket_open = false;
        return LS_STATEMENTS;
    }
}

static enum lex_state lex_statements(struct lexer *l)
{
    if (l->brace_open)
        return LS_INSIDE_BRACES;
    if (lex_at_comment(l))
        return LS_LINE_COMMENT;
    int32_t r = lex_next(l);
    if (r == LEX_EOF)
        return lex_statements_eof(l);
    if (is_space(r))
        return LS_SPACE;
    if (is_digit(r) || (r == '.' && is_digit(lex_peek(l)))) {
        lex_backup(l);
        return LS_NUMBER_OR_DURATION;
    }
    if (is_alpha(r) || r == ':') {
        if (!l->bracket_open) {
            lex_backup(l);
            return LS_KEYWORD_OR_IDENTIFIER;
        }
        return lex_statements_bracket_alpha(l, r);
    }
    switch (r) {
    case ',':
        lex_emit(l, TOK_COMMA);
        break;
    case '*':
        lex_emit(l, TOK_MUL);
        break;
    case '/':
        lex_emit(l, TOK_DIV);
        break;
    case '%':
        lex_emit(l, TOK_MOD);
        break;
    case '+':
        lex_emit(l, TOK_ADD);
        break;
    case '-':
        lex_emit(l, TOK_SUB);
        break;
    case '^':
        lex_emit(l, TOK_POW);
        break;
    case '@':
        lex_emit(l, TOK_AT);
        break;
    case '=':
    case '!':
    case '<':
    case '>':
        return lex_statements_compare(l, r);
    case '"':
    case '\'':
        l->string_open = r;
        return LS_STRING;
    case '`':
        l->string_open = r;
        return LS_RAW_STRING;
    case '(':
    case ')':
    case '{':
    case '[':
    case ']':
        return lex_statements_brackets(l, r);
    default:
        return lex_error_rune(l, "unexpected character: ", r, "");
    }
    return LS_STATEMENTS;
}

static enum lex_state lex_inside_braces(struct lexer *l)
{
    if (lex_at_comment(l))
        return LS_LINE_COMMENT;
    int32_t r = lex_next(l), nr;
    if (r == LEX_EOF)
        return lex_errorf(l, "unexpected end of input inside braces");
    if (is_space(r))
        return LS_SPACE;
    if (is_alpha(r)) {
        lex_backup(l);
        return LS_IDENTIFIER;
    }
    switch (r) {
    case ',':
        lex_emit(l, TOK_COMMA);
        break;
    case '"':
    case '\'':
        l->string_open = r;
        return LS_STRING;
    case '`':
        l->string_open = r;
        return LS_RAW_STRING;
    case '=':
        if (lex_next(l) == '~') {
            lex_emit(l, TOK_EQL_REGEX);
            break;
        }
        lex_backup(l);
        lex_emit(l, TOK_EQL);
        break;
    case '!':
        nr = lex_next(l);
        if (nr == '~')
            lex_emit(l, TOK_NEQ_REGEX);
        else if (nr == '=')
            lex_emit(l, TOK_NEQ);
        else
            return lex_error_rune(l, "unexpected character after '!' inside braces: ", nr, "");
        break;
    case '{':
        return lex_error_rune(l, "unexpected left brace ", r, "");
    case '}':
        lex_emit(l, TOK_RIGHT_BRACE);
        l->brace_open = false;
        return LS_STATEMENTS;
    default:
        return lex_error_rune(l, "unexpected character inside braces: ", r, "");
    }
    return LS_INSIDE_BRACES;
}

static int digit_val(int32_t ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return 16;
}

/* A backslash escape inside a quoted string; the backslash is consumed. */
static enum lex_state lex_escape(struct lexer *l)
{
    int n;
    uint32_t base, max;
    int32_t ch = lex_next(l);
    if (ch == l->string_open || (ch > 0 && strchr("abfnrtv\\", (int)ch)))
        return LS_STRING;
    if (ch >= '0' && ch <= '7') {
        n = 3, base = 8, max = 255;
    } else if (ch == 'x') {
        ch = lex_next(l);
        n = 2, base = 16, max = 255;
    } else if (ch == 'u') {
        ch = lex_next(l);
        n = 4, base = 16, max = 0x10FFFF;
    } else if (ch == 'U') {
        ch = lex_next(l);
        n = 8, base = 16, max = 0x10FFFF;
    } else if (ch == LEX_EOF) {
        return lex_errorf(l, "escape sequence not terminated");
    } else {
        return lex_error_unicode(l, "unknown escape sequence ", ch, "");
    }
    uint32_t x = 0;
    while (n > 0) {
        uint32_t d = (uint32_t)digit_val(ch);
        if (d >= base) {
            if (ch == LEX_EOF)
                return lex_errorf(l, "escape sequence not terminated");
            return lex_error_unicode(l, "illegal character ", ch, " in escape sequence");
        }
        x = x * base + d;
        if (--n > 0)
            ch = lex_next(l);
    }
    if (x > max || (x >= 0xD800 && x < 0xE000))
        return lex_errorf(l, "escape sequence is an invalid Unicode code point");
    return LS_STRING;
}

static enum lex_state lex_string(struct lexer *l)
{
    for (;;) {
        int32_t r = lex_next(l);
        if (r == '\\')
            return LS_ESCAPE;
        if (r == 0xFFFD)
            return lex_errorf(l, "invalid UTF-8 rune");
        if (r == LEX_EOF || r == '\n')
            return lex_errorf(l, "unterminated quoted string");
        if (r == l->string_open)
            break;
    }
    lex_emit(l, TOK_STRING);
    return LS_STATEMENTS;
}

static enum lex_state lex_raw_string(struct lexer *l)
{
    for (;;) {
        int32_t r = lex_next(l);
        if (r == 0xFFFD)
            return lex_errorf(l, "invalid UTF-8 rune");
        if (r == LEX_EOF)
            return lex_errorf(l, "unterminated raw string");
        if (r == l->string_open)
            break;
    }
    lex_emit(l, TOK_STRING);
    return LS_STATEMENTS;
}

static enum lex_state lex_space(struct lexer *l)
{
    while (is_space(lex_peek(l)))
        lex_next(l);
    lex_ignore(l);
    return LS_STATEMENTS;
}

static enum lex_state lex_line_comment(struct lexer *l)
{
    l->pos += 1;
    int32_t r = lex_next(l);
    while (r != '\r' && r != '\n' && r != LEX_EOF)
        r = lex_next(l);
    lex_backup(l);
    lex_emit(l, TOK_COMMENT);
    return LS_STATEMENTS;
}

/* Scans a decimal, hex or float literal; the text need not be a valid
 * number yet, the parser converts it.  Mirrors Prometheus's scanNumber,
 * quirks included (e.g. in hex literals 'e' also counts as an exponent). */
static bool lex_scan_number_body(struct lexer *l, const char *digits)
{
    bool dot_done = false, exp_done = false;
    char any[40];
    snprintf(any, sizeof any, "%s._eE", digits);
    bool hex = strlen(digits) > 10;
    while (lex_is(l, any)) {
        if (lex_is(l, ".") && dot_done) {
            lex_accept(l, ".");
            return false;
        }
        if (lex_is(l, "eE") && exp_done) {
            lex_accept(l, "eE");
            return false;
        }
        if (lex_accept(l, ".")) {
            dot_done = true;
            if (lex_accept(l, "_.") || hex)
                return false;
            continue;
        }
        if (lex_accept(l, "eE")) {
            exp_done = true;
            lex_accept(l, "+-");
            if (lex_accept(l, "._eE") || lex_peek(l) == LEX_EOF)
                return false;
            continue;
        }
        if (lex_accept(l, "_")) {
            if (lex_accept(l, "._eE") || lex_peek(l) == LEX_EOF)
                return false;
            continue;
        }
        lex_accept_run(l, digits);
    }
    return true;
}

static bool lex_scan_number(struct lexer *l)
{
    size_t initial = l->pos;
    const char *digits = "0123456789";
    if (lex_accept(l, "0") && lex_accept(l, "xX")) {
        lex_accept(l, "_");
        digits = "0123456789abcdefABCDEF";
    }
    lex_accept(l, ".");
    lex_accept(l, digits);
    if (!lex_scan_number_body(l, digits))
        return false;
    if (l->pos == initial)
        return false;
    return !is_alnum(lex_peek(l));
}

static bool lex_accept_remaining_duration(struct lexer *l)
{
    if (!lex_accept(l, "smhdwy"))
        return false;
    lex_accept(l, "s");
    while (lex_accept(l, "0123456789")) {
        while (lex_accept(l, "0123456789")) {
        }
        if (!lex_accept(l, "smhdw"))
            return false;
        lex_accept(l, "s");
    }
    return !is_alnum(lex_next(l));
}

static enum lex_state lex_number_or_duration(struct lexer *l)
{
    if (lex_scan_number(l)) {
        lex_emit(l, TOK_NUMBER);
        return LS_STATEMENTS;
    }
    if (lex_accept_remaining_duration(l)) {
        lex_backup(l);
        lex_emit(l, TOK_DURATION);
        return LS_STATEMENTS;
    }
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "bad number or duration syntax: ");
    go_quote(&b, l->input + l->start, l->pos - l->start);
    enum lex_state s = lex_errorf(l, "%s", b.data);
    sbuf_free(&b);
    return s;
}

/* fill, fill_left and fill_right are keywords only before a '(', so that
 * existing metrics of those names keep working. */
static bool lex_followed_by_paren(const struct lexer *l)
{
    size_t i = l->pos;
    while (i < l->len && is_space((unsigned char)l->input[i]))
        i++;
    return i < l->len && l->input[i] == '(';
}

static enum lex_state lex_keyword_or_identifier(struct lexer *l)
{
    for (;;) {
        int32_t r = lex_next(l);
        if (is_alnum(r) || r == ':')
            continue;
        lex_backup(l);
        break;
    }
    const char *word = l->input + l->start;
    size_t n = l->pos - l->start;
    enum tok kw = lex_keyword(word, n);
    if (kw != TOK_EOF) {
        bool fill = kw == TOK_FILL || kw == TOK_FILL_LEFT || kw == TOK_FILL_RIGHT;
        lex_emit(l, fill && !lex_followed_by_paren(l) ? TOK_IDENTIFIER : kw);
    } else if (memchr(word, ':', n)) {
        lex_emit(l, TOK_METRIC_IDENTIFIER);
    } else {
        lex_emit(l, TOK_IDENTIFIER);
    }
    return LS_STATEMENTS;
}

static enum lex_state lex_identifier(struct lexer *l)
{
    while (is_alnum(lex_next(l))) {
    }
    lex_backup(l);
    lex_emit(l, TOK_IDENTIFIER);
    return LS_STATEMENTS;
}

static enum lex_state lex_duration_expr_op(struct lexer *l, int32_t r)
{
    static const char ops[] = "+-*/%^,";
    static const enum tok types[] = {TOK_ADD, TOK_SUB, TOK_MUL,  TOK_DIV,
                                     TOK_MOD, TOK_POW, TOK_COMMA};
    lex_emit(l, types[strchr(ops, (int)r) - ops]);
    return LS_DURATION_EXPR;
}

/* Right after "[": arithmetic on durations until the first number. */
static enum lex_state lex_duration_expr(struct lexer *l)
{
    int32_t r = lex_next(l);
    if (r == LEX_EOF)
        return lex_errorf(l, "unexpected end of input in duration expression");
    if (is_space(r)) {
        lex_skip_spaces(l);
        return LS_DURATION_EXPR;
    }
    if (is_digit(r) || (r == '.' && is_digit(lex_peek(l)))) {
        lex_backup(l);
        l->got_duration = true;
        return LS_NUMBER_OR_DURATION;
    }
    if (in_set("+-*/%^,", r))
        return lex_duration_expr_op(l, r);
    switch (r) {
    case ']':
        lex_emit(l, TOK_RIGHT_BRACKET);
        l->bracket_open = false;
        l->got_colon = false;
        return LS_STATEMENTS;
    case ':':
        lex_emit(l, TOK_COLON);
        if (!l->got_duration)
            return lex_errorf(l, "unexpected colon before duration in duration expression");
        if (l->got_colon)
            return lex_errorf(l, "unexpected repeated colon in duration expression");
        l->got_colon = true;
        return LS_DURATION_EXPR;
    case '(':
        lex_emit(l, TOK_LEFT_PAREN);
        l->paren_depth++;
        return LS_DURATION_EXPR;
    case ')':
        lex_emit(l, TOK_RIGHT_PAREN);
        l->paren_depth--;
        if (l->paren_depth < 0)
            return lex_error_rune(l, "unexpected right parenthesis ", r, "");
        return LS_DURATION_EXPR;
    case 's':
    case 'S':
    case 'm':
    case 'M':
    case 'r':
    case 'R':
        if (lex_scan_duration_keyword(l))
            return LS_DURATION_EXPR;
        break;
    }
    return lex_error_rune(l, "unexpected character in duration expression: ", r, "");
}

static enum lex_state lex_step(struct lexer *l, enum lex_state s)
{
    switch (s) {
    case LS_STATEMENTS:
        return lex_statements(l);
    case LS_INSIDE_BRACES:
        return lex_inside_braces(l);
    case LS_STRING:
        return lex_string(l);
    case LS_RAW_STRING:
        return lex_raw_string(l);
    case LS_ESCAPE:
        return lex_escape(l);
    case LS_SPACE:
        return lex_space(l);
    case LS_LINE_COMMENT:
        return lex_line_comment(l);
    case LS_NUMBER_OR_DURATION:
        return lex_number_or_duration(l);
    case LS_KEYWORD_OR_IDENTIFIER:
        return lex_keyword_or_identifier(l);
    case LS_IDENTIFIER:
        return lex_identifier(l);
    case LS_DURATION_EXPR:
        return lex_duration_expr(l);
    case LS_STOP:
        break;
    }
    return LS_STOP;
}

void lexer_init(struct lexer *l, const char *input, size_t len)
{
    memset(l, 0, sizeof *l);
    l->input = input;
    l->len = len;
    l->state = LS_STATEMENTS;
}

void lexer_next(struct lexer *l, struct token *t)
{
    l->scanned = false;
    l->out = t;
    if (l->state == LS_STOP) {
        lex_emit(l, TOK_EOF);
        return;
    }
    while (!l->scanned) {
        if (l->state == LS_STOP) {
            lex_emit(l, TOK_EOF);
            return;
        }
        l->state = lex_step(l, l->state);
    }
}
