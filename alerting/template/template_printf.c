/* template_printf.c — Go's fmt.Sprintf, Sprint and Sprintln over template
 * values, for the print/printf/println builtins and Prometheus's humanize*.
 *
 * The format walk follows fmt's doPrintf: flags (# 0 + - space), width and
 * precision (also from '*' arguments), explicit argument indexes [n], and
 * Go's in-band errors: %!d(string=x) for a verb that does not fit the
 * value, %!d(MISSING), %!(EXTRA int=1), %!(NOVERB), %!(BADWIDTH).  Values
 * are printed per kind as fmt does: integers in any base with Go's sign
 * and zero-padding rules, floats through the C library for fixed
 * precisions (same digits as strconv) and sbuf_put_float for the shortest
 * form, strings quoted with strconv.Quote for %q, containers element by
 * element with the verb applied to each. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/template/template_internal.h"

struct fmtflags {
    bool sharp, zero, plus, minus, space, sharp_v, plus_v;
    bool wid_present, prec_present;
    int wid, prec;
};

static size_t rune_count(const char *s, size_t n)
{
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] & 0xC0) != 0x80)
            c++;
    return c;
}

static void write_padding(struct sbuf *b, const struct fmtflags *f, int n)
{
    for (int i = 0; i < n; i++)
        sbuf_putc(b, f->zero ? '0' : ' ');
}

static void pad(struct sbuf *b, const struct fmtflags *f, const char *s, size_t n)
{
    if (!f->wid_present || f->wid == 0) {
        sbuf_append(b, s, n);
        return;
    }
    int width = f->wid - (int)rune_count(s, n);
    if (f->minus) {
        sbuf_append(b, s, n);
        struct fmtflags sp = *f;
        sp.zero = false;
        write_padding(b, &sp, width);
    } else {
        write_padding(b, f, width);
        sbuf_append(b, s, n);
    }
}

static void fmt_integer(struct sbuf *b, struct fmtflags *f, uint64_t u, int base, bool is_signed,
                        char verb)
{
    bool negative = is_signed && (int64_t)u < 0;
    if (negative)
        u = -u;
    char buf[200];
    int i = (int)sizeof buf;
    int prec = 0;
    if (f->prec_present) {
        prec = f->prec > 150 ? 150 : f->prec;
        if (prec == 0 && u == 0) {
            bool z = f->zero;
            f->zero = false;
            write_padding(b, f, f->wid);
            f->zero = z;
            return;
        }
    } else if (f->zero && f->wid_present) {
        prec = f->wid > 150 ? 150 : f->wid;
        if (negative || f->plus || f->space)
            prec--;
    }
    const char *digits = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        buf[--i] = digits[u % (uint64_t)base];
        u /= (uint64_t)base;
    } while (u > 0);
    while (i > 0 && prec > (int)sizeof buf - i - 0 && i > 10)
        buf[--i] = '0';
    if (f->sharp) {
        if (base == 2) {
            buf[--i] = 'b';
            buf[--i] = '0';
        } else if (base == 8 && buf[i] != '0') {
            buf[--i] = '0';
        } else if (base == 16) {
            buf[--i] = verb == 'X' ? 'X' : 'x';
            buf[--i] = '0';
        }
    }
    if (verb == 'O') {
        buf[--i] = 'o';
        buf[--i] = '0';
    }
    if (negative)
        buf[--i] = '-';
    else if (f->plus)
        buf[--i] = '+';
    else if (f->space)
        buf[--i] = ' ';
    bool z = f->zero;
    f->zero = false;
    pad(b, f, buf + i, sizeof buf - (size_t)i);
    f->zero = z;
}

void tmpl_format_float(struct sbuf *b, double v, char verb, int prec)
{
    if (prec < 0 && (verb == 'g' || verb == 'G')) {
        struct sbuf t = SBUF_INIT;
        sbuf_put_float(&t, v);
        if (verb == 'G')
            for (size_t i = 0; i < t.len; i++)
                if (t.data[i] == 'e')
                    t.data[i] = 'E';
        sbuf_append(b, t.data, t.len);
        sbuf_free(&t);
        return;
    }
    if (isnan(v)) {
        sbuf_puts(b, "NaN");
        return;
    }
    if (isinf(v)) {
        sbuf_puts(b, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (prec < 0)
        prec = 6;
    if (prec > 1000)
        prec = 1000;
    char fmt[8] = {'%', '.', '*', verb, 0};
    sbuf_printf(b, fmt, prec, v);
}

/* Go's %x of a float: C's %a with at least two exponent digits. */
static void fmt_hexfloat(struct sbuf *b, double v, char verb, int prec)
{
    char tmp[64];
    if (prec >= 0)
        snprintf(tmp, sizeof tmp, verb == 'X' ? "%.*A" : "%.*a", prec > 20 ? 20 : prec, v);
    else
        snprintf(tmp, sizeof tmp, verb == 'X' ? "%A" : "%a", v);
    char *p = strpbrk(tmp, "pP");
    if (!p) {
        sbuf_puts(b, tmp);
        return;
    }
    sbuf_append(b, tmp, (size_t)(p - tmp) + 2);
    if (strlen(p + 2) < 2)
        sbuf_putc(b, '0');
    sbuf_puts(b, p + 2);
}

static void fmt_float(struct sbuf *b, struct fmtflags *f, double v, char verb, int prec)
{
    if (f->prec_present)
        prec = f->prec;
    struct sbuf num = SBUF_INIT;
    sbuf_putc(&num, '+');
    if (verb == 'x' || verb == 'X')
        fmt_hexfloat(&num, v, verb, prec);
    else
        tmpl_format_float(&num, v, verb == 'F' ? 'f' : verb, prec);
    char *s = num.data;
    size_t n = num.len;
    if (s[1] == '-' || s[1] == '+') {
        s++;
        n--;
    }
    if (f->space && s[0] == '+' && !f->plus)
        s[0] = ' ';
    if (s[1] == 'I' || s[1] == 'N') {
        bool z = f->zero;
        f->zero = false;
        if (s[1] == 'N' && !f->space && !f->plus) {
            s++;
            n--;
        }
        pad(b, f, s, n);
        f->zero = z;
    } else if (f->plus || s[0] != '+') {
        if (f->zero && f->wid_present && f->wid > (int)n) {
            sbuf_putc(b, s[0]);
            write_padding(b, f, f->wid - (int)n);
            sbuf_append(b, s + 1, n - 1);
        } else {
            pad(b, f, s, n);
        }
    } else {
        pad(b, f, s + 1, n - 1);
    }
    sbuf_free(&num);
}

static void fmt_string(struct sbuf *b, struct fmtflags *f, const char *s, size_t n, char verb)
{
    if (f->prec_present && verb != 'x' && verb != 'X') { /* precision counts runes */
        size_t i = 0;
        for (int r = 0; i < n && r < f->prec; r++) {
            i++;
            while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80)
                i++;
        }
        n = i;
    }
    struct sbuf t = SBUF_INIT;
    if (verb == 'q' || (verb == 'v' && f->sharp_v)) {
        tmpl_quote(&t, s, n);
    } else if (verb == 'x' || verb == 'X') {
        const char *digits = verb == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
        size_t len = f->prec_present && (size_t)f->prec < n ? (size_t)f->prec : n;
        for (size_t i = 0; i < len; i++) {
            if (f->space && i > 0)
                sbuf_putc(&t, ' ');
            if (f->sharp && (f->space || i == 0)) {
                sbuf_putc(&t, '0');
                sbuf_putc(&t, verb);
            }
            sbuf_putc(&t, digits[(unsigned char)s[i] >> 4]);
            sbuf_putc(&t, digits[(unsigned char)s[i] & 15]);
        }
    } else {
        pad(b, f, s, n);
        return;
    }
    pad(b, f, t.data ? t.data : "", t.len);
    sbuf_free(&t);
}

static void print_arg(struct sbuf *b, struct fmtflags *f, const struct tmpl_value *v, char verb,
                      int depth);

static void bad_verb(struct sbuf *b, const struct tmpl_value *v, char verb)
{
    sbuf_printf(b, "%%!%c(", verb);
    if (v->kind == TMPL_NIL && !v->type) {
        sbuf_puts(b, "<nil>");
    } else {
        sbuf_printf(b, "%s=", tmpl_value_type(v));
        struct fmtflags plain = {0};
        print_arg(b, &plain, v, 'v', 0);
    }
    sbuf_putc(b, ')');
}

static void print_int(struct sbuf *b, struct fmtflags *f, int64_t i, char verb,
                      const struct tmpl_value *v)
{
    switch (verb) {
    case 'v':
    case 'd':
        fmt_integer(b, f, (uint64_t)i, 10, true, verb);
        return;
    case 'b':
        fmt_integer(b, f, (uint64_t)i, 2, true, verb);
        return;
    case 'o':
    case 'O':
        fmt_integer(b, f, (uint64_t)i, 8, true, verb);
        return;
    case 'x':
    case 'X':
        fmt_integer(b, f, (uint64_t)i, 16, true, verb);
        return;
    case 'c':
    case 'q': {
        struct sbuf t = SBUF_INIT;
        uint32_t r = i < 0 || i > 0x10FFFF || (i >= 0xD800 && i <= 0xDFFF) ? 0xFFFD : (uint32_t)i;
        char u[5] = {0};
        if (r < 0x80)
            u[0] = (char)r;
        else if (r < 0x800)
            u[0] = (char)(0xC0 | (r >> 6)), u[1] = (char)(0x80 | (r & 0x3F));
        else if (r < 0x10000)
            u[0] = (char)(0xE0 | (r >> 12)), u[1] = (char)(0x80 | ((r >> 6) & 0x3F)),
            u[2] = (char)(0x80 | (r & 0x3F));
        else
            u[0] = (char)(0xF0 | (r >> 18)), u[1] = (char)(0x80 | ((r >> 12) & 0x3F)),
            u[2] = (char)(0x80 | ((r >> 6) & 0x3F)), u[3] = (char)(0x80 | (r & 0x3F));
        if (verb == 'c') {
            pad(b, f, u, strlen(u));
            return;
        }
        if (r == '\'') {
            sbuf_puts(&t, "'\\''");
        } else {
            tmpl_quote(&t, u, strlen(u));
            t.data[0] = t.data[t.len - 1] = '\'';
            if (r == '"') {
                sbuf_reset(&t);
                sbuf_puts(&t, "'\"'");
            }
        }
        pad(b, f, t.data, t.len);
        sbuf_free(&t);
        return;
    }
    case 'U': {
        char u[48];
        int w = snprintf(u, sizeof u, "U+%04" PRIX64, (uint64_t)i);
        if (f->sharp && i >= 0x20 && i <= 0x10FFFF && i != 0x7f && !(i >= 0x80 && i < 0xA0) &&
            !(i >= 0xD800 && i <= 0xDFFF)) {
            struct sbuf r = SBUF_INIT;
            struct fmtflags plain = {0};
            print_int(&r, &plain, i, 'c', v);
            snprintf(u + w, sizeof u - (size_t)w, " '%s'", r.data);
            sbuf_free(&r);
        }
        pad(b, f, u, strlen(u));
        return;
    }
    default:
        bad_verb(b, v, verb);
    }
}

static void print_arg(struct sbuf *b, struct fmtflags *f, const struct tmpl_value *v, char verb,
                      int depth)
{
    if (verb == 'T') {
        const char *t = tmpl_value_type(v);
        fmt_string(b, f, t, strlen(t), 's');
        return;
    }
    switch (v->kind) {
    case TMPL_INVALID:
    case TMPL_NIL:
        if (v->kind == TMPL_INVALID && depth == 0) {
            sbuf_puts(b, "<invalid reflect.Value>");
            return;
        }
        if (verb == 'v')
            pad(b, f, "<nil>", 5);
        else
            bad_verb(b, v, verb);
        return;
    case TMPL_BOOL:
        if (verb == 't' || verb == 'v')
            pad(b, f, v->u.b ? "true" : "false", v->u.b ? 4 : 5);
        else
            bad_verb(b, v, verb);
        return;
    case TMPL_INT:
        print_int(b, f, v->u.i, verb, v);
        return;
    case TMPL_FLOAT:
        switch (verb) {
        case 'v':
            fmt_float(b, f, v->u.f, 'g', -1);
            return;
        case 'b':
        case 'g':
        case 'G':
        case 'x':
        case 'X':
            fmt_float(b, f, v->u.f, verb == 'b' ? 'g' : verb, -1);
            return;
        case 'f':
        case 'e':
        case 'E':
        case 'F':
            fmt_float(b, f, v->u.f, verb, 6);
            return;
        default:
            bad_verb(b, v, verb);
            return;
        }
    case TMPL_STRING:
        if (verb == 'v' || verb == 's' || verb == 'x' || verb == 'X' || verb == 'q')
            fmt_string(b, f, v->u.s.p, v->u.s.n, verb);
        else
            bad_verb(b, v, verb);
        return;
    case TMPL_TIME:
    case TMPL_DURATION:
        if (verb == 'v' || verb == 's' || verb == 'x' || verb == 'X' || verb == 'q') {
            struct sbuf t = SBUF_INIT;
            tmpl_value_print(&t, v, 0);
            fmt_string(b, f, t.data, t.len, verb);
            sbuf_free(&t);
        } else if (v->kind == TMPL_DURATION) {
            print_int(b, f, v->u.ns, verb, v);
        } else {
            bad_verb(b, v, verb);
        }
        return;
    case TMPL_MAP:
    case TMPL_STRUCT: {
        bool st = v->kind == TMPL_STRUCT;
        const struct tmpl_map *m = v->u.map;
        sbuf_puts(b, st ? "{" : "map[");
        for (size_t i = 0; i < m->n; i++) {
            if (i)
                sbuf_putc(b, ' ');
            if (!st || f->plus_v) {
                if (st) {
                    sbuf_puts(b, m->keys[i]);
                } else {
                    struct tmpl_value k = {.kind = TMPL_STRING};
                    k.u.s.p = m->keys[i];
                    k.u.s.n = strlen(m->keys[i]);
                    print_arg(b, f, &k, verb, depth + 1);
                }
                sbuf_putc(b, ':');
            }
            print_arg(b, f, m->vals[i], verb, depth + 1);
        }
        sbuf_puts(b, st ? "}" : "]");
        return;
    }
    case TMPL_LIST:
        sbuf_putc(b, '[');
        for (size_t i = 0; i < v->u.list->n; i++) {
            if (i)
                sbuf_putc(b, ' ');
            print_arg(b, f, v->u.list->v[i], verb, depth + 1);
        }
        sbuf_putc(b, ']');
        return;
    case TMPL_SAMPLE: {
        struct tmpl_value val = {.kind = TMPL_FLOAT};
        val.u.f = v->u.sample->value;
        sbuf_puts(b, f->plus_v ? "&{Labels:" : "&{");
        print_arg(b, f, v->u.sample->labels, verb, depth + 1);
        sbuf_puts(b, f->plus_v ? " Value:" : " ");
        print_arg(b, f, &val, verb, depth + 1);
        sbuf_putc(b, '}');
        return;
    }
    }
}

/* Parses a decimal number at format[*i]; Go's parsenum. */
static bool parse_num(const char *s, size_t *i, size_t end, int *num)
{
    bool present = false;
    *num = 0;
    while (*i < end && s[*i] >= '0' && s[*i] <= '9') {
        if (*num > 1000000) /* Go calls this "too large": no width at all */
            return false;
        *num = *num * 10 + (s[*i] - '0');
        (*i)++;
        present = true;
    }
    return present;
}

struct argstate {
    size_t argnum;
    bool reordered, good;
};

/* An explicit argument index "[n]" at format[*i]; Go's argNumber. */
static bool arg_number(struct argstate *a, const char *s, size_t *i, size_t end, size_t argc)
{
    if (*i >= end || s[*i] != '[')
        return false;
    a->reordered = true;
    size_t wid = 1;
    bool ok = false;
    long index = 0;
    if (end - *i >= 3) {
        for (size_t j = *i + 1; j < end; j++) {
            if (s[j] != ']')
                continue;
            size_t k = *i + 1;
            int num = 0;
            bool present = parse_num(s, &k, j, &num);
            wid = j - *i + 1;
            if (present && k == j) {
                ok = true;
                index = (long)num - 1;
            }
            break;
        }
    }
    *i += wid;
    if (ok && index >= 0 && (size_t)index < argc) {
        a->argnum = (size_t)index;
        return true;
    }
    a->good = false;
    return ok;
}

static bool int_from_arg(const struct tmpl_value *const *argv, size_t argc, struct argstate *a,
                         int *num)
{
    bool ok = false;
    *num = 0;
    if (a->argnum < argc) {
        const struct tmpl_value *v = argv[a->argnum];
        if (v->kind == TMPL_INT && v->u.i > -1000000 && v->u.i < 1000000) {
            *num = (int)v->u.i;
            ok = true;
        }
        a->argnum++;
    }
    return ok;
}

void tmpl_sprintf(struct sbuf *b, const char *s, size_t end, const struct tmpl_value *const *argv,
                  size_t argc)
{
    struct argstate a = {0};
    for (size_t i = 0; i < end;) {
        a.good = true;
        size_t last = i;
        while (i < end && s[i] != '%')
            i++;
        if (i > last)
            sbuf_append(b, s + last, i - last);
        if (i >= end)
            break;
        i++;
        struct fmtflags f = {0};
        for (; i < end; i++) {
            char c = s[i];
            if (c == '#')
                f.sharp = true;
            else if (c == '0')
                f.zero = !f.minus;
            else if (c == '+')
                f.plus = true;
            else if (c == '-')
                f.minus = true, f.zero = false;
            else if (c == ' ')
                f.space = true;
            else
                break;
        }
        bool after_index = arg_number(&a, s, &i, end, argc);
        if (i < end && s[i] == '*') {
            i++;
            f.wid_present = int_from_arg(argv, argc, &a, &f.wid);
            if (!f.wid_present)
                sbuf_puts(b, "%!(BADWIDTH)");
            if (f.wid < 0) {
                f.wid = -f.wid;
                f.minus = true;
                f.zero = false;
            }
            after_index = false;
        } else {
            f.wid_present = parse_num(s, &i, end, &f.wid);
            if (after_index && f.wid_present)
                a.good = false;
        }
        if (i + 1 < end && s[i] == '.') {
            i++;
            if (after_index)
                a.good = false;
            after_index = arg_number(&a, s, &i, end, argc);
            if (i < end && s[i] == '*') {
                i++;
                f.prec_present = int_from_arg(argv, argc, &a, &f.prec);
                if (f.prec < 0) {
                    f.prec = 0;
                    f.prec_present = false;
                }
                if (!f.prec_present)
                    sbuf_puts(b, "%!(BADPREC)");
                after_index = false;
            } else {
                f.prec_present = parse_num(s, &i, end, &f.prec);
                if (!f.prec_present) {
                    f.prec = 0;
                    f.prec_present = true;
                }
            }
        }
        if (!after_index)
            after_index = arg_number(&a, s, &i, end, argc);
        if (i >= end) {
            sbuf_puts(b, "%!(NOVERB)");
            break;
        }
        size_t vlen = 1;
        while (i + vlen < end && ((unsigned char)s[i + vlen] & 0xC0) == 0x80)
            vlen++;
        char verb = s[i];
        i += vlen;
        if (verb == '%') {
            sbuf_putc(b, '%');
        } else if (!a.good) {
            sbuf_puts(b, "%!");
            sbuf_append(b, s + i - vlen, vlen);
            sbuf_puts(b, "(BADINDEX)");
        } else if (a.argnum >= argc) {
            sbuf_puts(b, "%!");
            sbuf_append(b, s + i - vlen, vlen);
            sbuf_puts(b, "(MISSING)");
        } else {
            if (verb == 'v') {
                f.sharp_v = f.sharp;
                f.sharp = false;
                f.plus_v = f.plus;
                f.plus = false;
            }
            if (vlen > 1) { /* a non-ASCII verb never fits */
                sbuf_puts(b, "%!");
                sbuf_append(b, s + i - vlen, vlen);
                sbuf_printf(b, "(%s=", tmpl_value_type(argv[a.argnum]));
                struct fmtflags plain = {0};
                print_arg(b, &plain, argv[a.argnum], 'v', 0);
                sbuf_putc(b, ')');
            } else {
                print_arg(b, &f, argv[a.argnum], verb, 0);
            }
            a.argnum++;
        }
    }
    if (!a.reordered && a.argnum < argc) {
        sbuf_puts(b, "%!(EXTRA ");
        for (size_t i = a.argnum; i < argc; i++) {
            if (i > a.argnum)
                sbuf_puts(b, ", ");
            if (argv[i]->kind == TMPL_NIL && !argv[i]->type) {
                sbuf_puts(b, "<nil>");
            } else {
                struct fmtflags plain = {0};
                sbuf_printf(b, "%s=", tmpl_value_type(argv[i]));
                print_arg(b, &plain, argv[i], 'v', 0);
            }
        }
        sbuf_putc(b, ')');
    }
}

static bool is_string_arg(const struct tmpl_value *v)
{
    return v->kind == TMPL_STRING;
}

void tmpl_sprint(struct sbuf *b, const struct tmpl_value *const *argv, size_t argc)
{
    bool prev_string = false;
    for (size_t i = 0; i < argc; i++) {
        bool is_string = is_string_arg(argv[i]);
        if (i > 0 && !is_string && !prev_string)
            sbuf_putc(b, ' ');
        struct fmtflags f = {0};
        print_arg(b, &f, argv[i], 'v', 0);
        prev_string = is_string;
    }
}

void tmpl_sprintln(struct sbuf *b, const struct tmpl_value *const *argv, size_t argc)
{
    for (size_t i = 0; i < argc; i++) {
        if (i > 0)
            sbuf_putc(b, ' ');
        struct fmtflags f = {0};
        print_arg(b, &f, argv[i], 'v', 0);
    }
    sbuf_putc(b, '\n');
}
