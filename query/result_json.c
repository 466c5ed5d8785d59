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
#include "util/sbuf.h"

static void put_time(struct sbuf *b, int64_t t)
{
    int64_t s = t / 1000, ms = t % 1000;
    if (ms < 0) {
        ms += 1000;
        s -= 1;
    }
    if (t < 0 && ms) {
        /* Go's float formatting of a negative time */
        double v = (double)t / 1000;
        go_format_float_f(b, v);
        return;
    }
    sbuf_printf(b, "%" PRId64, s);
    if (ms) {
        char frac[8];
        snprintf(frac, sizeof frac, "%03" PRId64, ms);
        size_t n = strlen(frac);
        while (n > 0 && frac[n - 1] == '0')
            frac[--n] = 0;
        sbuf_printf(b, ".%s", frac);
    }
}

static void put_point(struct sbuf *b, const struct promql_point *p)
{
    sbuf_putc(b, '[');
    put_time(b, p->t);
    sbuf_puts(b, ",\"");
    go_format_float_f(b, p->v);
    sbuf_puts(b, "\"]");
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
