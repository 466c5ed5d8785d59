/* api.c — the Prometheus HTTP API endpoints that do not evaluate PromQL:
 * build/runtime/flags/TSDB status, label names and values, series.
 *
 * Every answer has Prometheus's envelope, {"status":"success","data":...}
 * or {"status":"error","errorType":...,"error":...} with Prometheus's HTTP
 * codes, and empty lists are [] (Grafana checks Array.isArray).  Parameters
 * come from the query string merged with a form body (the HTTP layer does
 * that), so GET and POST behave the same where Prometheus allows both.
 *
 * The status endpoints run on the loop thread: each reads a few counters.
 * Label names, label values and series may walk much of the index, so
 * their handlers only check parameters on the loop thread (bad input is
 * answered at once) and leave the storage walk and the JSON to a worker
 * (api_work.c); query evaluation does the same (api_query.c). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "query/promql.h"
#include "server/server.h"
#include "util/gostrconv.h"

#define JSON          "application/json"
#define API_MAX_MATCH 64
/* The version Grafana reads to pick its Prometheus feature set: Vigil
 * implements Prometheus 3's API, so it says so (see shared/interop). */
#define API_PROMETHEUS_VERSION "3.5.0"

/* Prometheus's defaults for a missing start / end: far past and future. */
#define API_MIN_TIME (INT64_MIN / 4)
#define API_MAX_TIME (INT64_MAX / 4)

static void reply_success(struct http_request *r, struct sbuf *data, const char *warning)
{
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "{\"status\":\"success\",\"data\":");
    sbuf_append(&b, data->data ? data->data : "null", data->data ? data->len : 4);
    if (warning) {
        sbuf_puts(&b, ",\"warnings\":[");
        sbuf_put_json_string(&b, warning, strlen(warning));
        sbuf_putc(&b, ']');
    }
    sbuf_putc(&b, '}');
    http_reply_sbuf(r, 200, JSON, &b);
}

bool api_ready(struct vigil_server *s, struct http_request *r)
{
    if (s->tsdb && s->ready)
        return true;
    http_reply_json_error(r, 503, "unavailable", "TSDB not ready");
    return false;
}

/* Prometheus's parseTime: float Unix seconds or RFC 3339. */
int api_parse_time(const char *v, int64_t *ms)
{
    char *end;
    errno = 0;
    double f = strtod(v, &end);
    if (end != v && *end == '\0' && !errno && isfinite(f)) {
        *ms = (int64_t)llround(f * 1000.0);
        return 0;
    }
    struct tm tm = {0};
    const char *p = strptime(v, "%Y-%m-%dT%H:%M:%S", &tm);
    if (!p)
        return -1;
    double frac = 0;
    if (*p == '.') {
        char *q;
        frac = strtod(p, &q);
        p = q;
    }
    int64_t off = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
        off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
        if (*p == '-')
            off = -off;
        p += 6;
    } else {
        return -1;
    }
    if (*p)
        return -1;
    *ms = ((int64_t)timegm(&tm) - off) * 1000 + (int64_t)llround(frac * 1000.0);
    return 0;
}

int api_time_param(struct http_request *r, const char *name, int64_t def, int64_t *ms)
{
    const char *v = http_request_param(r, name);
    *ms = def;
    if (!v || !*v)
        return 0;
    if (api_parse_time(v, ms) == 0)
        return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "invalid parameter \"%s\": cannot parse \"%s\" to a valid timestamp",
             name, v);
    http_reply_json_error(r, 400, "bad_data", msg);
    return -1;
}

static int api_limit_param(struct http_request *r, size_t *limit)
{
    const char *v = http_request_param(r, "limit");
    *limit = 0;
    if (!v || !*v)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (*end || n < 0) {
        http_reply_json_error(r, 400, "bad_data", "limit must be a non-negative number");
        return -1;
    }
    *limit = (size_t)n;
    return 0;
}

/* Parses every match[] into selectors; replies and returns -1 on error. */
static int api_match_params(struct http_request *r, struct promql_arena *a,
                            const struct promql_expr **sel, size_t *nsel)
{
    const char *vals[API_MAX_MATCH];
    size_t n = http_request_param_all(r, "match[]", vals, API_MAX_MATCH);
    if (n > API_MAX_MATCH) {
        http_reply_json_error(r, 400, "bad_data", "too many match[] parameters");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        struct promql_parse_error e;
        sel[i] = promql_parse_selector(a, vals[i], strlen(vals[i]), &e);
        if (!sel[i]) {
            char msg[700];
            snprintf(msg, sizeof msg, "invalid parameter \"match[]\": %s", e.msg);
            http_reply_json_error(r, 400, "bad_data", msg);
            return -1;
        }
    }
    *nsel = n;
    return 0;
}

/* Writes a sorted string list (union of lists, deduplicated) as JSON. */
static void json_string_union(struct sbuf *b, struct tsdb_strings *lists, size_t nlists,
                              size_t limit, bool *truncated)
{
    size_t *pos = xcalloc(nlists ? nlists : 1, sizeof *pos);
    const char *last = NULL;
    size_t emitted = 0;
    sbuf_putc(b, '[');
    for (;;) {
        const char *min = NULL;
        for (size_t i = 0; i < nlists; i++)
            if (pos[i] < lists[i].n && (!min || strcmp(lists[i].v[pos[i]], min) < 0))
                min = lists[i].v[pos[i]];
        if (!min)
            break;
        for (size_t i = 0; i < nlists; i++)
            while (pos[i] < lists[i].n && strcmp(lists[i].v[pos[i]], min) == 0)
                pos[i]++;
        if (last && strcmp(last, min) == 0)
            continue;
        if (limit && emitted == limit) {
            *truncated = true;
            break;
        }
        if (emitted++)
            sbuf_putc(b, ',');
        sbuf_put_json_string(b, min, strlen(min));
        last = min;
    }
    sbuf_putc(b, ']');
    free(pos);
}

/* What a label or series listing needs on the worker: its parameters,
 * copied, and the match[] selectors, parsed into the job's arena. */
struct listing_job {
    struct promql_arena *arena;
    const struct promql_expr *sel[API_MAX_MATCH];
    size_t nsel;
    char *name; /* label values: the label; NULL for names and series */
    int64_t mint, maxt;
    size_t limit;
};

static void listing_job_free(void *p)
{
    struct listing_job *j = p;
    promql_arena_free(j->arena);
    free(j->name);
    free(j);
}

/* Reads start, end, limit and match[] on the loop thread; replies and
 * returns NULL when storage is not ready or a parameter is bad. */
static struct listing_job *listing_job_new(struct vigil_server *s, struct http_request *r)
{
    if (!api_ready(s, r))
        return NULL;
    struct listing_job *j = xcalloc(1, sizeof *j);
    j->arena = promql_arena_new();
    if (api_time_param(r, "start", API_MIN_TIME, &j->mint) < 0 ||
        api_time_param(r, "end", API_MAX_TIME, &j->maxt) < 0 || api_limit_param(r, &j->limit) < 0 ||
        api_match_params(r, j->arena, j->sel, &j->nsel) < 0) {
        listing_job_free(j);
        return NULL;
    }
    return j;
}

/* On a worker, for /labels and /label/<name>/values: one listing per
 * match[] (or one without), merged. */
static void label_listing_work(struct tsdb *db, void *p, struct api_answer *ans)
{
    struct listing_job *j = p;
    size_t nlists = j->nsel ? j->nsel : 1;
    struct tsdb_strings *lists = xcalloc(nlists, sizeof *lists);
    char err[512];
    int rc = 0;
    for (size_t i = 0; i < nlists && rc == 0; i++) {
        const struct label_matcher *ms = j->nsel ? j->sel[i]->vs.matchers : NULL;
        size_t nm = j->nsel ? j->sel[i]->vs.nmatchers : 0;
        rc = j->name ? tsdb_label_values(db, j->name, ms, nm, j->mint, j->maxt, &lists[i], err,
                                         sizeof err)
                     : tsdb_label_names(db, ms, nm, j->mint, j->maxt, &lists[i], err, sizeof err);
    }
    if (rc == 0) {
        struct sbuf data = SBUF_INIT;
        bool truncated = false;
        json_string_union(&data, lists, nlists, j->limit, &truncated);
        api_answer_success(ans, &data, truncated ? "results truncated due to limit" : NULL);
    } else {
        api_answer_error(ans, 422, "execution", "%s", err);
    }
    for (size_t i = 0; i < nlists; i++)
        tsdb_strings_free(&lists[i]);
    free(lists);
}

/* name NULL: label names; else the values of that label (copied). */
static void api_label_listing(struct vigil_server *s, struct http_request *r, const char *name)
{
    struct listing_job *j = listing_job_new(s, r);
    if (!j)
        return;
    j->name = name ? xstrdup(name) : NULL;
    api_work_start(s, r, j, label_listing_work, listing_job_free);
}

static void handle_labels(struct http_request *r, void *ctx)
{
    api_label_listing(ctx, r, NULL);
}

/* Prometheus 3 escapes label names that are not legacy identifiers in the
 * path as U__<name> with _ as __ and other characters as _<hex>_. */
static bool label_name_unescape(const char *in, struct sbuf *out)
{
    if (strncmp(in, "U__", 3) != 0) {
        sbuf_puts(out, in);
        return true;
    }
    for (const char *p = in + 3; *p; p++) {
        if (*p != '_') {
            sbuf_putc(out, *p);
            continue;
        }
        if (p[1] == '_') {
            sbuf_putc(out, '_');
            p++;
            continue;
        }
        char *end;
        unsigned long cp = strtoul(p + 1, &end, 16);
        if (end == p + 1 || *end != '_' || cp > 0x10ffff)
            return false;
        char u[4];
        size_t n = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (n == 1)
            u[0] = (char)cp;
        else {
            for (size_t i = n - 1; i > 0; i--, cp >>= 6)
                u[i] = (char)(0x80 | (cp & 0x3f));
            u[0] = (char)((n == 2 ? 0xc0 : n == 3 ? 0xe0 : 0xf0) | cp);
        }
        sbuf_append(out, u, n);
        p = end;
    }
    return true;
}

static void handle_label_values(struct http_request *r, void *ctx)
{
    const char *path = http_request_path(r) + strlen("/api/v1/label/");
    const char *slash = strchr(path, '/');
    if (!slash || strcmp(slash, "/values") != 0 || slash == path) {
        http_reply(r, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
        return;
    }
    struct sbuf raw = SBUF_INIT, name = SBUF_INIT;
    sbuf_append(&raw, path, (size_t)(slash - path));
    if (!label_name_unescape(raw.data, &name)) {
        char msg[512];
        snprintf(msg, sizeof msg, "invalid label name: \"%s\"", raw.data);
        http_reply_json_error(r, 400, "bad_data", msg);
    } else {
        api_label_listing(ctx, r, name.data);
    }
    sbuf_free(&raw);
    sbuf_free(&name);
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The series' label sets as JSON objects, one string each. */
struct series_objs {
    char **v;
    size_t n, cap;
};

static void series_objs_free(struct series_objs *o)
{
    for (size_t i = 0; i < o->n; i++)
        free(o->v[i]);
    free(o->v);
}

/* Appends the series one selector matches in [mint, maxt].  0 or -1. */
static int series_collect(struct tsdb *db, const struct promql_expr *sel, int64_t mint,
                          int64_t maxt, struct series_objs *o, char *err, size_t errlen)
{
    struct tsdb_series_set *ss;
    if (tsdb_select(db, sel->vs.matchers, sel->vs.nmatchers, mint, maxt, &ss, err, errlen) < 0)
        return -1;
    const struct labels *ls;
    const int64_t *ts;
    const double *vs;
    size_t n;
    while (tsdb_series_set_next(ss, &ls, &ts, &vs, &n)) {
        struct sbuf one = SBUF_INIT;
        promql_labels_json(ls, &one);
        if (o->n == o->cap) {
            o->cap = o->cap ? o->cap * 2 : 64;
            o->v = xrealloc(o->v, o->cap * sizeof *o->v);
        }
        o->v[o->n++] = sbuf_detach(&one);
    }
    tsdb_series_set_free(ss);
    return 0;
}

/* On a worker: each series once, sorted, even when several selectors
 * match it. */
static void series_work(struct tsdb *db, void *p, struct api_answer *ans)
{
    struct listing_job *j = p;
    struct series_objs o = {0};
    char err[512];
    for (size_t i = 0; i < j->nsel; i++) {
        if (series_collect(db, j->sel[i], j->mint, j->maxt, &o, err, sizeof err) < 0) {
            api_answer_error(ans, 422, "execution", "%s", err);
            series_objs_free(&o);
            return;
        }
    }
    if (o.n)
        qsort(o.v, o.n, sizeof *o.v, cmp_strp);
    struct sbuf data = SBUF_INIT;
    bool truncated = false;
    size_t emitted = 0;
    sbuf_putc(&data, '[');
    for (size_t i = 0; i < o.n; i++) {
        if (i && strcmp(o.v[i], o.v[i - 1]) == 0)
            continue;
        if (j->limit && emitted == j->limit) {
            truncated = true;
            break;
        }
        if (emitted++)
            sbuf_putc(&data, ',');
        sbuf_puts(&data, o.v[i]);
    }
    sbuf_putc(&data, ']');
    api_answer_success(ans, &data, truncated ? "results truncated due to limit" : NULL);
    series_objs_free(&o);
}

static void handle_series(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    struct listing_job *j = listing_job_new(s, r);
    if (!j)
        return;
    if (j->nsel == 0) {
        http_reply_json_error(r, 400, "bad_data", "no match[] parameter provided");
        listing_job_free(j);
        return;
    }
    api_work_start(s, r, j, series_work, listing_job_free);
}

static void handle_buildinfo(struct http_request *r, void *ctx)
{
    (void)ctx;
    struct sbuf d = SBUF_INIT;
    sbuf_printf(&d,
                "{\"version\":\"%s\",\"revision\":\"vigil-%s\",\"branch\":\"main\","
                "\"buildUser\":\"vigil\",\"buildDate\":\"%s\",\"goVersion\":\"none (C11)\"}",
                API_PROMETHEUS_VERSION, VIGIL_VERSION, __DATE__);
    reply_success(r, &d, NULL);
    sbuf_free(&d);
}

static void flag_json(void *ctx, const char *name, const char *value)
{
    struct sbuf *b = ctx;
    if (b->len > 1)
        sbuf_putc(b, ',');
    sbuf_put_json_string(b, name, strlen(name));
    sbuf_putc(b, ':');
    sbuf_put_json_string(b, value, strlen(value));
}

static void handle_flags(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    struct sbuf d = SBUF_INIT;
    sbuf_putc(&d, '{');
    flags_each(&s->flags, flag_json, &d);
    sbuf_putc(&d, '}');
    reply_success(r, &d, NULL);
    sbuf_free(&d);
}

void api_json_float(struct sbuf *b, double v)
{
    double a = fabs(v);
    if (a != 0 && (a < 1e-6 || a >= 1e21)) {
        /* Go's encoding/json: 'e' format with the exponent's leading zero
         * dropped ("7.5e-07" becomes "7.5e-7"). */
        char buf[64];
        go_format_float_exp(v, 'e', buf, sizeof buf);
        char *e = strchr(buf, 'e');
        if (e && (e[1] == '-' || e[1] == '+') && e[2] == '0' && e[3])
            memmove(e + 2, e + 3, strlen(e + 3) + 1);
        sbuf_puts(b, buf);
        return;
    }
    go_format_float_f(b, v);
}

void api_json_time(struct sbuf *b, int64_t ms)
{
    if (ms <= 0) {
        sbuf_puts(b, "\"0001-01-01T00:00:00Z\"");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    sbuf_printf(b, "\"%s", buf);
    int frac = (int)(ms % 1000);
    if (frac) {
        char f[8];
        snprintf(f, sizeof f, ".%03d", frac);
        size_t n = strlen(f);
        while (f[n - 1] == '0')
            f[--n] = '\0';
        sbuf_puts(b, f);
    }
    sbuf_puts(b, "Z\"");
}

static void rfc3339(double secs, char *buf, size_t n)
{
    time_t t = (time_t)secs;
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + k, n - k, ".%03dZ", (int)((secs - (double)t) * 1000));
}

static void handle_runtimeinfo(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    char cwd[1024] = "", start[64], last[64];
    if (!getcwd(cwd, sizeof cwd))
        cwd[0] = '\0';
    rfc3339(s->start_time, start, sizeof start);
    rfc3339(metric_value(s->reload_success_ts), last, sizeof last);
    struct sbuf d = SBUF_INIT;
    sbuf_puts(&d, "{\"startTime\":");
    sbuf_put_json_string(&d, start, strlen(start));
    sbuf_puts(&d, ",\"CWD\":");
    sbuf_put_json_string(&d, cwd, strlen(cwd));
    sbuf_printf(&d,
                ",\"reloadConfigSuccess\":%s,\"lastConfigTime\":\"%s\",\"corruptionCount\":0,"
                "\"goroutineCount\":%ld,\"GOMAXPROCS\":%ld,\"GOMEMLIMIT\":%lld,\"GOGC\":\"\","
                "\"GODEBUG\":\"\",\"storageRetention\":",
                metric_value(s->reload_success) == 1 ? "true" : "false", last,
                sysconf(_SC_NPROCESSORS_ONLN) + 2, sysconf(_SC_NPROCESSORS_ONLN),
                (long long)INT64_MAX);
    struct sbuf ret = SBUF_INIT;
    sbuf_puts(&ret, s->flags.retention_time);
    if (s->flags.retention_bytes > 0)
        sbuf_printf(&ret, " or %s", s->flags.retention_size);
    sbuf_put_json_string(&d, ret.data, ret.len);
    sbuf_putc(&d, '}');
    reply_success(r, &d, NULL);
    sbuf_free(&d);
    sbuf_free(&ret);
}

static void json_stat_list(struct sbuf *b, const char *key, const struct tsdb_stat_list *l)
{
    sbuf_printf(b, ",\"%s\":[", key);
    for (size_t i = 0; i < l->n; i++) {
        if (i)
            sbuf_putc(b, ',');
        sbuf_puts(b, "{\"name\":");
        sbuf_put_json_string(b, l->v[i].name, strlen(l->v[i].name));
        sbuf_printf(b, ",\"value\":%" PRIu64 "}", l->v[i].count);
    }
    sbuf_putc(b, ']');
}

static void handle_tsdb_status(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!api_ready(s, r))
        return;
    size_t limit = 10;
    const char *lv = http_request_param(r, "limit");
    if (lv && *lv) {
        char *end;
        long n = strtol(lv, &end, 10);
        if (*end || n < 1) {
            http_reply_json_error(r, 400, "bad_data", "limit must be a positive number");
            return;
        }
        limit = (size_t)n;
    }
    struct tsdb_stats st;
    char err[512];
    if (tsdb_stats_get(s->tsdb, limit, &st, err, sizeof err) < 0) {
        http_reply_json_error(r, 500, "internal", err);
        return;
    }
    bool empty = st.head_min_time > st.head_max_time;
    struct sbuf d = SBUF_INIT;
    sbuf_printf(&d,
                "{\"headStats\":{\"numSeries\":%" PRIu64 ",\"numLabelPairs\":%" PRIu64
                ",\"chunkCount\":%" PRIu64 ",\"minTime\":%" PRId64 ",\"maxTime\":%" PRId64 "}",
                st.head_series, st.num_label_pairs, st.head_chunks,
                empty ? (int64_t)INT64_MAX : st.head_min_time,
                empty ? (int64_t)INT64_MIN : st.head_max_time);
    json_stat_list(&d, "seriesCountByMetricName", &st.series_by_metric);
    json_stat_list(&d, "labelValueCountByLabelName", &st.values_by_name);
    json_stat_list(&d, "memoryInBytesByLabelName", &st.bytes_by_name);
    json_stat_list(&d, "seriesCountByLabelValuePair", &st.series_by_pair);
    sbuf_putc(&d, '}');
    reply_success(r, &d, NULL);
    sbuf_free(&d);
    tsdb_stats_free(&st);
}

/* Vigil replays its WAL before it reports ready, so there is never a
 * replay in progress to report. */
static void handle_walreplay(struct http_request *r, void *ctx)
{
    (void)ctx;
    struct sbuf d = SBUF_INIT;
    sbuf_puts(&d, "{\"min\":0,\"max\":0,\"current\":0}");
    reply_success(r, &d, NULL);
    sbuf_free(&d);
}

/* Prometheus with exemplar storage off (its default) answers an empty
 * list; Grafana probes this to decide whether to offer exemplars. */
static void handle_query_exemplars(struct http_request *r, void *ctx)
{
    (void)ctx;
    struct sbuf d = SBUF_INIT;
    sbuf_puts(&d, "[]");
    reply_success(r, &d, NULL);
    sbuf_free(&d);
}

void server_api_register(struct vigil_server *s)
{
    struct http_server *h = s->http;
    http_server_route(h, "GET", "/api/v1/status/buildinfo", false, "/api/v1/status/buildinfo",
                      handle_buildinfo, s);
    http_server_route(h, "GET", "/api/v1/status/flags", false, "/api/v1/status/flags", handle_flags,
                      s);
    http_server_route(h, "GET", "/api/v1/status/runtimeinfo", false, "/api/v1/status/runtimeinfo",
                      handle_runtimeinfo, s);
    http_server_route(h, "GET", "/api/v1/status/tsdb", false, "/api/v1/status/tsdb",
                      handle_tsdb_status, s);
    http_server_route(h, "GET", "/api/v1/status/walreplay", false, "/api/v1/status/walreplay",
                      handle_walreplay, s);
    for (int post = 0; post < 2; post++) {
        const char *m = post ? "POST" : "GET";
        http_server_route(h, m, "/api/v1/labels", false, "/api/v1/labels", handle_labels, s);
        http_server_route(h, m, "/api/v1/series", false, "/api/v1/series", handle_series, s);
        http_server_route(h, m, "/api/v1/query_exemplars", false, "/api/v1/query_exemplars",
                          handle_query_exemplars, s);
    }
    http_server_route(h, "GET", "/api/v1/label/", true, "/api/v1/label/:name/values",
                      handle_label_values, s);
    server_api_query_register(s);
    server_api_admin_register(s);
    server_federate_register(s);
    server_api_targets_register(s);
    server_api_rules_register(s);
    server_api_status_config_register(s);
}
