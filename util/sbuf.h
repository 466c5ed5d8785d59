/* sbuf.h — a growable byte buffer.
 *
 * Used wherever Vigil builds text of unknown length: HTTP responses, the
 * /metrics exposition, log lines, error messages.  The buffer owns `data`;
 * it is always NUL-terminated after any append so it can be used as a C
 * string.  Allocation failure aborts: a monitoring server that cannot
 * allocate a few bytes has nothing better to do. */
#ifndef VIGIL_UTIL_SBUF_H
#define VIGIL_UTIL_SBUF_H

#include <stdarg.h>
#include <stddef.h>

struct sbuf {
    char *data; /* owned; NULL until the first append */
    size_t len;
    size_t cap;
};

#define SBUF_INIT                                                                                  \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void sbuf_reserve(struct sbuf *b, size_t extra);
void sbuf_append(struct sbuf *b, const void *p, size_t n);
void sbuf_puts(struct sbuf *b, const char *s);
void sbuf_putc(struct sbuf *b, char c);
void sbuf_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sbuf_vprintf(struct sbuf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included. */
void sbuf_put_json_string(struct sbuf *b, const char *s, size_t n);
/* Appends a float the way Prometheus prints sample values: shortest
 * round-trip form, "NaN", "+Inf", "-Inf". */
void sbuf_put_float(struct sbuf *b, double v);
void sbuf_reset(struct sbuf *b);
/* Gives the bytes to the caller (who frees them) and empties the buffer. */
char *sbuf_detach(struct sbuf *b);
void sbuf_free(struct sbuf *b);

/* Helpers for owned C strings. */
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);

#endif
