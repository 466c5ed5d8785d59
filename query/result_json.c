/* result_json.c — a query result as the "data" object of Prometheus's
 * HTTP API: {"resultType":"vector","result":[{"metric":{...},"value":[t,"v"]}]}.
 * Timestamps are seconds with up to three decimals (1435781451.781), values
 * strings as Go's strconv.FormatFloat(v, 'f', -1, 64), with "NaN", "+Inf",
 * "-Inf". */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query/promql.h"
#include "query/promql_internal.h"
#include "util/gostrconv.h"
#include "util/sbuf.h"

/* Writes the decimal digits of v at out, two at a time; returns their
 * count. */
static size_t put_u64(char *out, uint64_t v)
{
    static const char pairs[] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    size_t n = 1;
    for (uint64_t x = v; x >= 10; x /= 10)
        n++;
    char *p = out + n;
    while (v >= 100) {
        p -= 2;
        memcpy(p, pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10) {
        p -= 2;
        memcpy(p, pairs + 2 * v, 2);
    } else {
        *--p = (char)('0' + v);
    }
    return n;
}

/* Seconds with the milliseconds' trailing zeros cut (1435781451.78). */
static void put_time(struct sbuf *b, int64_t t)
{
    int64_t s = t / 1000, ms = t % 1000;
    if (t < 0 && ms) {
        /* Go's float formatting of a negative time */
        go_format_float_f(b, (double)t / 1000);
        return;
    }
    sbuf_reserve(b, 26);
    char *p = b->data + b->len;
    if (s < 0) {
        *p++ = '-';
        p += put_u64(p, (uint64_t)0 - (uint64_t)s);
    } else {
        p += put_u64(p, (uint64_t)s);
    }
    if (ms) {
        char frac[3] = {(char)('0' + ms / 100), (char)('0' + ms / 10 % 10), (char)('0' + ms % 10)};
        size_t n = frac[2] != '0' ? 3 : frac[1] != '0' ? 2 : 1;
        *p++ = '.';
        memcpy(p, frac, n);
        p += n;
    }
    b->len = (size_t)(p - b->data);
    b->data[b->len] = '\0';
}

/* [t,"v"] straight into the buffer. */
static void put_point(struct sbuf *b, const struct promql_point *p)
{
    sbuf_reserve(b, GO_FLOAT_F_MAX + 32);
    b->data[b->len++] = '[';
    put_time(b, p->t);
    sbuf_reserve(b, GO_FLOAT_F_MAX + 4);
    char *o = b->data + b->len;
    *o++ = ',';
    *o++ = '"';
    o += go_float_f(o, p->v);
    *o++ = '"';
    *o++ = ']';
    b->len = (size_t)(o - b->data);
    b->data[b->len] = '\0';
}

void promql_labels_json(const struct labels *ls, struct sbuf *b)
{
    sbuf_putc(b, '{');
    for (size_t i = 0; i < ls->n; i++) {
        if (i)
            sbuf_putc(b, ',');
        sbuf_put_json_string(b, ls->v[i].name, strlen(ls->v[i].name));
        sbuf_putc(b, ':');
        sbuf_put_json_string(b, ls->v[i].value, strlen(ls->v[i].value));
    }
    sbuf_putc(b, '}');
}

static void put_metric(struct sbuf *b, const struct labels *ls)
{
    sbuf_puts(b, "{\"metric\":");
    promql_labels_json(ls, b);
    sbuf_putc(b, ',');
}

/* About the size of a matrix's JSON, so the buffer grows once: a point
 * takes some 30 bytes ("[1435781451.781,\"12.5\"]"), a label set some 100. */
static size_t result_size_hint(const struct promql_result *r)
{
    size_t n = 64;
    for (size_t i = 0; i < r->nseries; i++)
        n += 128 + r->series[i].npoints * 32;
    return n;
}

void promql_result_json(const struct promql_result *r, struct sbuf *b)
{
    switch (r->type) {
    case PROMQL_SCALAR: {
        struct promql_point p = {r->t, r->scalar};
        sbuf_puts(b, "{\"resultType\":\"scalar\",\"result\":");
        put_point(b, &p);
        sbuf_putc(b, '}');
        return;
    }
    case PROMQL_STRING:
        sbuf_puts(b, "{\"resultType\":\"string\",\"result\":[");
        put_time(b, r->t);
        sbuf_putc(b, ',');
        sbuf_put_json_string(b, r->str, r->slen);
        sbuf_puts(b, "]}");
        return;
    case PROMQL_VECTOR:
        sbuf_puts(b, "{\"resultType\":\"vector\",\"result\":[");
        for (size_t i = 0; i < r->nseries; i++) {
            if (i)
                sbuf_putc(b, ',');
            put_metric(b, &r->series[i].labels);
            sbuf_puts(b, "\"value\":");
            put_point(b, &r->series[i].points[0]);
            sbuf_putc(b, '}');
        }
        sbuf_puts(b, "]}");
        return;
    default:
        sbuf_reserve(b, result_size_hint(r));
        sbuf_puts(b, "{\"resultType\":\"matrix\",\"result\":[");
        for (size_t i = 0; i < r->nseries; i++) {
            if (i)
                sbuf_putc(b, ',');
            put_metric(b, &r->series[i].labels);
            sbuf_puts(b, "\"values\":[");
            for (size_t k = 0; k < r->series[i].npoints; k++) {
                if (k)
                    sbuf_putc(b, ',');
                put_point(b, &r->series[i].points[k]);
            }
            sbuf_puts(b, "]}");
        }
        sbuf_puts(b, "]}");
        return;
    }
}
