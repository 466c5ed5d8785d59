/* federate.c — GET /federate: the newest sample of every series matching
 * the match[] selectors, in the Prometheus text format, as Prometheus
 * serves it to a federating server.
 *
 * "Newest" means within the lookback delta before now and not a staleness
 * marker.  Series are grouped by metric name (one `# TYPE name untyped`
 * line each) and sorted by label set; the server's external labels are
 * added where a series does not carry the label itself.  Every sample
 * carries its timestamp in milliseconds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query/promql.h"
#include "server/server.h"

#define FEDERATE_MAX_MATCH 64

struct fed_sample {
    char *name;   /* metric name */
    char *labels; /* {a="b",...} rendered, "" when none */
    double v;
    int64_t t;
};

static void put_label_value(struct sbuf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            sbuf_putc(b, '\\'), sbuf_putc(b, *v);
        else if (*v == '\n')
            sbuf_puts(b, "\\n");
        else
            sbuf_putc(b, *v);
    }
}

static int label_cmp(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name, ((const struct label *)b)->name);
}

static bool has_label(const struct labels *ls, const char *name)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].name, name) == 0)
            return true;
    return false;
}

/* Renders the series' labels (without __name__), then, as Prometheus does,
 * the external labels it does not carry itself, sorted by name; the
 * external labels always include instance="" so that a federating server
 * (honor_labels) does not put its own target's instance on the series. */
static char *render_labels(const struct labels *ls, const struct ystrmap *ext)
{
    struct label *extv = xmalloc((ext->n + 1) * sizeof *extv);
    size_t next = 0;
    for (size_t j = 0; j < ext->n; j++)
        extv[next++] = (struct label){ext->keys[j], ext->values[j]};
    if (!ystrmap_get(ext, "instance"))
        extv[next++] = (struct label){"instance", ""};
    qsort(extv, next, sizeof *extv, label_cmp);
    struct sbuf b = SBUF_INIT;
    size_t n = 0;
    for (size_t i = 0; i < ls->n + next; i++) {
        const struct label *l = i < ls->n ? &ls->v[i] : &extv[i - ls->n];
        if (i < ls->n && (strcmp(l->name, "__name__") == 0 || !l->value[0]))
            continue;
        if (i >= ls->n && has_label(ls, l->name))
            continue;
        sbuf_puts(&b, n++ ? "," : "{");
        sbuf_printf(&b, "%s=\"", l->name);
        put_label_value(&b, l->value);
        sbuf_putc(&b, '"');
    }
    if (n)
        sbuf_putc(&b, '}');
    free(extv);
    return sbuf_detach(&b);
}

static int fed_cmp(const void *a, const void *b)
{
    const struct fed_sample *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->labels, y->labels);
}

static const char *metric_name(const struct labels *ls)
{
    for (size_t i = 0; i < ls->n; i++)
        if (strcmp(ls->v[i].name, "__name__") == 0)
            return ls->v[i].value;
    return "";
}

static bool is_stale(double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return bits == TSDB_STALE_NAN_BITS;
}

static void handle_federate(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!api_ready(s, r))
        return;
    const char *vals[FEDERATE_MAX_MATCH];
    size_t nsel = http_request_param_all(r, "match[]", vals, FEDERATE_MAX_MATCH);
    if (nsel == 0 || nsel > FEDERATE_MAX_MATCH) {
        const char *m = nsel ? "too many match[] parameters\n" : "no match[] parameter provided\n";
        http_reply(r, 400, "text/plain; charset=utf-8", m, strlen(m));
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t maxt = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
    int64_t mint = maxt - s->flags.query_lookback_delta_ms;
    struct promql_arena *a = promql_arena_new();
    struct fed_sample *out = NULL;
    size_t n = 0, cap = 0;
    const struct ystrmap *ext = &s->config->global.external_labels;
    char err[700] = "";
    for (size_t i = 0; i < nsel && !err[0]; i++) {
        struct promql_parse_error pe;
        struct promql_expr *sel = promql_parse_selector(a, vals[i], strlen(vals[i]), &pe);
        struct tsdb_series_set *ss;
        if (!sel) {
            snprintf(err, sizeof err, "%s", pe.msg);
            break;
        }
        if (tsdb_select(s->tsdb, sel->vs.matchers, sel->vs.nmatchers, mint, maxt, &ss, err,
                        sizeof err) < 0)
            break;
        const struct labels *ls;
        const int64_t *ts;
        const double *vs;
        size_t k;
        while (tsdb_series_set_next(ss, &ls, &ts, &vs, &k)) {
            if (is_stale(vs[k - 1]))
                continue;
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                out = xrealloc(out, cap * sizeof *out);
            }
            out[n++] = (struct fed_sample){xstrdup(metric_name(ls)), render_labels(ls, ext),
                                           vs[k - 1], ts[k - 1]};
        }
        tsdb_series_set_free(ss);
    }
    promql_arena_free(a);
    if (err[0]) {
        strcat(err, "\n");
        http_reply(r, 400, "text/plain; charset=utf-8", err, strlen(err));
    } else {
        if (n)
            qsort(out, n, sizeof *out, fed_cmp);
        struct sbuf b = SBUF_INIT;
        for (size_t i = 0; i < n; i++) {
            if (i && fed_cmp(&out[i], &out[i - 1]) == 0)
                continue; /* matched by two selectors */
            if (!i || strcmp(out[i].name, out[i - 1].name) != 0)
                sbuf_printf(&b, "# TYPE %s untyped\n", out[i].name);
            sbuf_printf(&b, "%s%s ", out[i].name, out[i].labels);
            sbuf_put_float(&b, out[i].v);
            sbuf_printf(&b, " %lld\n", (long long)out[i].t);
        }
        http_reply_sbuf(r, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
    }
    for (size_t i = 0; i < n; i++) {
        free(out[i].name);
        free(out[i].labels);
    }
    free(out);
}

void server_federate_register(struct vigil_server *s)
{
    http_server_route(s->http, "GET", "/federate", false, "/federate", handle_federate, s);
}
