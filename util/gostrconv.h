/* gostrconv.h — the parts of Go's strconv, fmt and unicode/utf8 whose exact
 * behaviour Prometheus users see: which numbers parse (PromQL literals,
 * exposition values), how strings are quoted and floats printed (error
 * messages, printed queries, templates). */
#ifndef VIGIL_UTIL_GOSTRCONV_H
#define VIGIL_UTIL_GOSTRCONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sbuf;

/* Go's underscoreOK: in a number literal, '_' may only stand between
 * digits or after a base prefix (0b, 0o, 0x); an optional sign leads. */
bool go_underscore_ok(const char *s, size_t n);
/* The value of a hex digit, or -1. */
int go_hex_digit(char c);

/* strconv.FormatFloat(v, fmt, -1, 64) for fmt 'e' or 'E': the shortest
 * mantissa that reads back as v, a two-digit exponent at least ("1e+00",
 * "1.5E-07"), "NaN", "+Inf", "-Inf".  Writes at most n bytes; returns buf. */
char *go_format_float_exp(double v, char fmt, char *buf, size_t n);
/* The shortest round-trip digits of finite v in C's %e form ("1.5e+07";
 * fmt 'E' for "1.5E+07") into buf; returns the number of significant
 * digits (1 for zero).  util/gofloat.c. */
int go_float_shortest_e(double v, char fmt, char *buf, size_t n);
/* The shortest digits of finite |v| as Go's strconv finds them (Ryū), with
 * the value 0.d1d2... × 10^dp; digits (32 bytes) is NUL-terminated, without
 * leading or trailing zeros; returns their count, 0 for zero. */
int go_float_digits(double v, char *digits, int *dp);
/* strconv.FormatFloat(v, 'f', -1, 64) and (v, 'g', -1, 64) into out, which
 * has room for GO_FLOAT_F_MAX / GO_FLOAT_G_MAX bytes; no NUL; returns the
 * length.  "NaN", "+Inf", "-Inf" as Prometheus prints them. */
#define GO_FLOAT_F_MAX 352
#define GO_FLOAT_G_MAX 32
size_t go_float_f(char *out, double v);
size_t go_float_g(char *out, double v);

/* Go's strconv.Quote / QuoteRune and fmt's %q, %.10q and %#U. */
void go_quote(struct sbuf *b, const char *s, size_t n);
void go_quote_prefix(struct sbuf *b, const char *s, size_t n, size_t max_runes);
void go_quote_rune(struct sbuf *b, int32_t r);
void go_format_unicode(struct sbuf *b, int32_t r);
/* strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent. */
void go_format_float_f(struct sbuf *b, double v);
/* fmt's %v for a float64: strconv 'g' shortest, "+Inf", "NaN". */
void go_format_float_v(struct sbuf *b, double v);
/* fmt's %f: six decimals, "+Inf", "-Inf", "NaN". */
void go_format_float_fixed6(struct sbuf *b, double v);

/* Decodes one UTF-8 rune as Go's utf8.DecodeRuneInString: invalid bytes
 * give U+FFFD with width 1; n == 0 gives -1 (end). */
int32_t utf8_decode(const char *s, size_t n, size_t *width);
size_t utf8_encode(int32_t r, char out[4]);
bool utf8_valid(const char *s, size_t n);

/* Prometheus's parser.number(): strconv.ParseInt(s, 0, 64), else
 * ParseFloat.  0 or -1 with the Go error text in err. */
int go_parse_number(const char *s, size_t n, double *v, char *err, size_t errsz);

#endif
