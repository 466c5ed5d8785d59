/* textparse_internal.h — what the textparse_*.c files share; not for other modules.
 *
 * textparse.c      the two formats' grammars (the line-level parser)
 * textparse_num.c  numbers: Go's strconv.ParseFloat/ParseInt as Prometheus calls them
 * textparse_text.c text: UTF-8 validation, unescaping, duplicate label names,
 *                  metric families, created timestamps, label decoding */
#ifndef VIGIL_SCRAPE_TEXTPARSE_INTERNAL_H
#define VIGIL_SCRAPE_TEXTPARSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scrape/textparse.h"

enum textparse_num {
    TEXTPARSE_NUM_OK,
    TEXTPARSE_NUM_SYNTAX,      /* strconv: invalid syntax */
    TEXTPARSE_NUM_RANGE,       /* strconv: value out of range */
    TEXTPARSE_NUM_UNSUPPORTED, /* Prometheus: 'p', 'P' or '_' in a float */
};

/* A sample value, exemplar value or OpenMetrics timestamp: Prometheus's
 * parseFloat, i.e. strconv.ParseFloat(s, 64) after refusing "pP_".  The
 * result is bit-identical to Go's; NaN is Go's NaN (0x7ff8000000000001). */
enum textparse_num textparse_num_float(const char *s, size_t n, double *out);
/* strconv.ParseFloat(s, 64) itself (underscores allowed between digits),
 * except that hexadecimal floats are refused.  For le/quantile values. */
enum textparse_num textparse_num_float_go(const char *s, size_t n, double *out);
/* strconv.ParseInt(s, 10, 64) for a string of ASCII digits (the lexer
 * guarantees the digits). */
enum textparse_num textparse_num_int64(const char *s, size_t n, int64_t *out);
/* Go's int64(seconds * 1000) as compiled for amd64: truncation toward zero,
 * and 0x8000000000000000 for NaN and anything out of range. */
int64_t textparse_num_seconds_to_ms(double seconds);

/* Go's utf8.Valid. */
bool textparse_utf8_valid(const char *s, size_t n);

/* The two unescaping rule sets: label names and values (\\ \" \n), and the
 * Prometheus format's HELP text (\\ \n). */
enum textparse_escapes { TEXTPARSE_ESC_LABEL, TEXTPARSE_ESC_HELP };
void textparse_unescape_as(struct sbuf *out, const char *s, size_t n, enum textparse_escapes e);

/* Checks the current series' label names for duplicates (__name__ counts as
 * a name).  Returns the index of a label whose name occurs earlier, or
 * (size_t)-1.  Decoded names are compared, so `a` and `"a"` are the same. */
size_t textparse_dup_label(struct textparse *p);

/* The label array in use (inline or heap). */
static inline struct textparse_label *textparse_label_array(const struct textparse *p)
{
    return p->heap ? p->heap : (struct textparse_label *)p->inline_labels;
}

#endif
