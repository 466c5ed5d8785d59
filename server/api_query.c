/* api_query.c — /api/v1/query and /api/v1/query_range.
 *
 * The handler runs on the loop thread only to read and check parameters
 * and parse the PromQL (a parse error is answered at once, 400 bad_data as
 * Prometheus does).  Evaluation and the JSON of its result run on libuv's
 * worker pool through api_work.c: they read storage through their own
 * snapshot and never touch the loop's state; the reply goes out on the loop
 * thread.  Storage is closed at shutdown only once no query is running
 * (vigil_server.queries_running).
 *
 * Error shapes and HTTP codes are Prometheus's: bad_data 400 for bad
 * parameters, execution 422 for evaluation errors (including the sample
 * limit), timeout 503 when --query.timeout (or timeout=) expires. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query/promql.h"
#include "server/server.h"
#include "util/duration.h"

/* Prometheus refuses range queries with more points than this per series. */
#define QUERY_MAX_POINTS 11000

/* One query, from its parse on the loop thread to its answer on a worker. */
struct query_job {
    struct promql_arena *arena; /* owns expr */
    const struct promql_expr *expr;
    char *query;
    bool range;
    int64_t t, start, end, step;
    struct promql_eval_opts opts;
    struct metric *canceled; /* vigil_server.queries_canceled (atomic updates) */
    struct query_log *log;   /* the server's; written from the worker */
    bool per_step_allowed;   /* --enable-feature=promql-per-step-stats */
    enum { STATS_NONE, STATS_BASIC, STATS_ALL } stats; /* stats= */
    long limit;                                        /* limit=; 0 = none */
    /* Monotonic ns: handler entry, parsed, work start, work end. */
    int64_t t_begin, t_parsed, t_run, t_ran;
    char client[64], method[8], path[64]; /* for the query log */
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A duration in seconds from nanoseconds, as Go's Duration.Seconds(). */
static void json_seconds(struct sbuf *b, int64_t ns)
{
    api_json_float(b, (double)(ns / 1000000000) + (double)(ns % 1000000000) / 1e9);
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A duration parameter: float seconds ("15", "0.5") or a Prometheus
 * duration ("15s", "1m").  Replies and returns -1 when it does not parse. */
static int duration_param(struct http_request *r, const char *name, int64_t *ms)
{
    const char *v = http_request_param(r, name);
    char *end;
    double f = v ? strtod(v, &end) : 0;
    if (v && end != v && *end == '\0' && isfinite(f)) {
        *ms = (int64_t)llround(f * 1000.0);
        return 0;
    }
    if (v && duration_parse(v, ms) == 0)
        return 0;
    char msg[512];
    snprintf(msg, sizeof msg, "invalid parameter \"%s\": cannot parse \"%s\" to a valid duration",
             name, v ? v : "");
    http_reply_json_error(r, 400, "bad_data", msg);
    return -1;
}

static void json_strings(struct sbuf *b, const char *key, const char **v, size_t n)
{
    if (!n)
        return;
    sbuf_printf(b, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_putc(b, ',');
        sbuf_put_json_string(b, v[i], strlen(v[i]));
    }
    sbuf_putc(b, ']');
}

/* Prometheus's query statistics object (stats=...): timings in seconds,
 * samples, and with stats=all the samples of each step. */
static void stats_json(const struct query_job *j, const struct promql_result *res, struct sbuf *b)
{
    int64_t eval = j->t_ran - j->t_run, queue = j->t_run - j->t_parsed;
    sbuf_puts(b, "{\"timings\":{\"evalTotalTime\":");
    json_seconds(b, eval);
    sbuf_puts(b, ",\"resultSortTime\":0,\"queryPreparationTime\":");
    json_seconds(b, j->t_parsed - j->t_begin);
    sbuf_puts(b, ",\"innerEvalTime\":");
    json_seconds(b, eval);
    sbuf_puts(b, ",\"execQueueTime\":");
    json_seconds(b, queue);
    sbuf_puts(b, ",\"execTotalTime\":");
    json_seconds(b, j->t_ran - j->t_begin);
    sbuf_puts(b, "}");
    if (!res) {
        sbuf_putc(b, '}');
        return;
    }
    const struct promql_query_stats *st = &res->stats;
    sbuf_puts(b, ",\"samples\":{");
    if (j->stats == STATS_ALL && st->step_samples) {
        sbuf_puts(b, "\"totalQueryableSamplesPerStep\":[");
        int64_t t0 = j->range ? j->start : j->t, step = j->range ? j->step : 0;
        for (size_t i = 0; i < st->nsteps; i++) {
            int64_t t = t0 + (int64_t)i * step;
            sbuf_puts(b, i ? ",[" : "[");
            api_json_float(b, (double)t / 1000.0);
            sbuf_printf(b, ",%llu]", (unsigned long long)st->step_samples[i]);
        }
        sbuf_puts(b, "],");
    }
    sbuf_printf(b, "\"totalQueryableSamples\":%llu,\"peakSamples\":%llu}}",
                (unsigned long long)st->total_samples, (unsigned long long)st->peak_samples);
}

/* Prometheus 3's limit=: at most that many series, with a warning. */
static void result_limit(const struct query_job *j, struct promql_result *r)
{
    if (j->limit <= 0 || (r->type != PROMQL_VECTOR && r->type != PROMQL_MATRIX) ||
        r->nseries <= (size_t)j->limit)
        return;
    r->nseries = (size_t)j->limit;
    const char **w = promql_arena_alloc(r->arena, (r->nwarnings + 1) * sizeof *w);
    if (r->nwarnings)
        memcpy(w, r->warnings, r->nwarnings * sizeof *w);
    w[r->nwarnings++] = "results truncated due to limit";
    r->warnings = w;
}

/* formatDate: RFC 3339 in UTC with milliseconds. */
static void log_date(struct sbuf *b, int64_t ms)
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    char buf[64];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    sbuf_printf(b, "\"%s.%03dZ\"", buf, (int)(ms - (int64_t)t * 1000));
}

/* One JSON line per query in the query log (global.query_log_file), with
 * the fields and key order of Prometheus's: httpRequest, params, stats,
 * ts, and error when it failed. */
static void query_log_write(const struct query_job *j, const struct promql_result *res,
                            const char *error)
{
    if (!j->log || !query_log_enabled(j->log))
        return;
    struct sbuf b = SBUF_INIT;
    int64_t start = j->range ? j->start : j->t, end = j->range ? j->end : j->t;
    if (error) {
        sbuf_puts(&b, "{\"error\":");
        sbuf_put_json_string(&b, error, strlen(error));
        sbuf_putc(&b, ',');
    } else {
        sbuf_putc(&b, '{');
    }
    sbuf_puts(&b, "\"httpRequest\":{\"clientIP\":");
    sbuf_put_json_string(&b, j->client, strlen(j->client));
    sbuf_printf(&b, ",\"method\":\"%s\",\"path\":", j->method);
    sbuf_put_json_string(&b, j->path, strlen(j->path));
    sbuf_puts(&b, "},\"params\":{\"end\":");
    log_date(&b, end);
    sbuf_puts(&b, ",\"query\":");
    sbuf_put_json_string(&b, j->query, strlen(j->query));
    sbuf_puts(&b, ",\"start\":");
    log_date(&b, start);
    sbuf_printf(&b, ",\"step\":%lld},\"stats\":", (long long)(j->range ? j->step / 1000 : 0));
    stats_json(j, res, &b);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    sbuf_puts(&b, ",\"ts\":");
    log_date(&b, (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000);
    sbuf_puts(&b, "}\n");
    query_log_append(j->log, b.data, b.len);
    sbuf_free(&b);
}

static void query_answer(const struct query_job *j, struct promql_result *res,
                         struct api_answer *ans)
{
    struct sbuf *b = &ans->body;
    result_limit(j, res);
    sbuf_puts(b, "{\"status\":\"success\",\"data\":");
    promql_result_json(res, b);
    if (j->stats != STATS_NONE) {
        b->data[--b->len] = '\0'; /* reopen the data object */
        sbuf_puts(b, ",\"stats\":");
        stats_json(j, res, b);
        sbuf_putc(b, '}');
    }
    json_strings(b, "warnings", res->warnings, res->nwarnings);
    json_strings(b, "infos", res->infos, res->ninfos);
    sbuf_putc(b, '}');
}

/* On a worker: evaluates and writes the answer. */
static void query_work(struct tsdb *db, void *p, struct api_answer *ans)
{
    struct query_job *j = p;
    struct promql_result *res = NULL;
    char err[1024];
    j->t_run = mono_ns();
    int rc = j->range ? promql_eval_range(db, j->query, j->expr, j->start, j->end, j->step,
                                          &j->opts, &res, err, sizeof err)
                      : promql_eval_instant(db, j->query, j->expr, j->t, &j->opts, &res, err,
                                            sizeof err);
    j->t_ran = mono_ns();
    query_log_write(j, res, rc != 0 ? err : NULL);
    if (rc != 0) {
        bool timeout = strstr(err, "query timed out") != NULL;
        bool canceled = strstr(err, "query was canceled") != NULL;
        if (canceled)
            metric_inc(j->canceled);
        api_answer_error(ans, timeout || canceled ? 503 : 422,
                         timeout    ? "timeout"
                         : canceled ? "canceled"
                                    : "execution",
                         "%s", err);
    } else {
        query_answer(j, res, ans);
    }
    promql_result_free(res);
}

static void query_job_drop(void *p)
{
    struct query_job *j = p;
    promql_arena_free(j->arena);
    free(j->query);
    free(j);
}

/* Who asked, for the query log: the client's IP without the port, as
 * Prometheus logs it, the method and the path. */
static void query_job_client(struct query_job *j, struct http_request *r)
{
    snprintf(j->client, sizeof j->client, "%s", http_request_remote_addr(r));
    char *colon = strrchr(j->client, ':');
    if (colon)
        *colon = '\0';
    if (j->client[0] == '[') {
        memmove(j->client, j->client + 1, strlen(j->client));
        char *br = strchr(j->client, ']');
        if (br)
            *br = '\0';
    }
    snprintf(j->method, sizeof j->method, "%s", http_request_method(r));
    snprintf(j->path, sizeof j->path, "%s", http_request_path(r));
}

/* Common to both endpoints: the query text, parsed. */
static struct query_job *query_job_new(struct vigil_server *s, struct http_request *r)
{
    const char *q = http_request_param(r, "query");
    if (!q || !*q) {
        http_reply_json_error(r, 400, "bad_data",
                              "invalid parameter \"query\": unknown position: "
                              "parse error: no expression found in input");
        return NULL;
    }
    struct query_job *j = xcalloc(1, sizeof *j);
    j->t_begin = mono_ns();
    j->query = xstrdup(q);
    j->canceled = s->queries_canceled;
    j->log = s->query_log;
    j->per_step_allowed = s->per_step_stats;
    query_job_client(j, r);
    j->arena = promql_arena_new();
    struct promql_parse_error pe;
    j->expr = promql_parse(j->arena, q, strlen(q), PROMQL_FEATURES_DEFAULT, &pe);
    if (!j->expr) {
        char msg[700];
        snprintf(msg, sizeof msg, "invalid parameter \"query\": %s", pe.msg);
        http_reply_json_error(r, 400, "bad_data", msg);
        query_job_drop(j);
        return NULL;
    }
    j->opts.lookback_ms = s->flags.query_lookback_delta_ms;
    j->opts.max_samples = (size_t)s->flags.query_max_samples;
    j->opts.timeout_ms = s->flags.query_timeout_ms;
    j->opts.delayed_name_removal = s->delayed_name_removal;
    j->opts.use_start_timestamps = s->use_start_timestamps;
    /* A client that hangs up cancels its query between evaluation steps. */
    j->opts.cancel = http_request_gone_flag(r);
    return j;
}

/* timeout= may only shorten --query.timeout; lookback_delta= overrides;
 * stats= asks for the statistics object; limit= caps the series. */
static int query_job_opts(struct query_job *j, struct http_request *r)
{
    int64_t ms;
    const char *st = http_request_param(r, "stats");
    if (st && *st) {
        /* Per-step counts only with --enable-feature=promql-per-step-stats,
         * as in Prometheus. */
        j->stats = strcmp(st, "all") == 0 && j->per_step_allowed ? STATS_ALL : STATS_BASIC;
        j->opts.per_step_stats = j->stats == STATS_ALL;
    }
    const char *lim = http_request_param(r, "limit");
    if (lim && *lim) {
        char *end;
        long v = strtol(lim, &end, 10);
        if (*end || v < 0) {
            char msg[300];
            snprintf(msg, sizeof msg,
                     "invalid parameter \"limit\": cannot parse \"%s\" to a valid limit", lim);
            http_reply_json_error(r, 400, "bad_data", msg);
            return -1;
        }
        j->limit = v;
    }
    if (http_request_param(r, "timeout")) {
        if (duration_param(r, "timeout", &ms) < 0)
            return -1;
        if (ms > 0 && (j->opts.timeout_ms == 0 || ms < j->opts.timeout_ms))
            j->opts.timeout_ms = ms;
    }
    if (http_request_param(r, "lookback_delta")) {
        if (duration_param(r, "lookback_delta", &ms) < 0)
            return -1;
        if (ms > 0)
            j->opts.lookback_ms = ms;
    }
    return 0;
}

static void handle_query(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!api_ready(s, r))
        return;
    struct query_job *j = query_job_new(s, r);
    if (!j)
        return;
    if (api_time_param(r, "time", now_ms(), &j->t) < 0 || query_job_opts(j, r) < 0) {
        query_job_drop(j);
        return;
    }
    j->t_parsed = mono_ns();
    api_work_start(s, r, j, query_work, query_job_drop);
}

static void handle_query_range(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!api_ready(s, r))
        return;
    struct query_job *j = query_job_new(s, r);
    if (!j)
        return;
    j->range = true;
    const char *why = NULL;
    if (api_time_param(r, "start", INT64_MIN, &j->start) < 0 ||
        api_time_param(r, "end", INT64_MIN, &j->end) < 0 ||
        duration_param(r, "step", &j->step) < 0 || query_job_opts(j, r) < 0) {
        query_job_drop(j);
        return;
    }
    if (j->start == INT64_MIN)
        why = "invalid parameter \"start\": cannot parse \"\" to a valid timestamp";
    else if (j->end == INT64_MIN)
        why = "invalid parameter \"end\": cannot parse \"\" to a valid timestamp";
    else if (j->end < j->start)
        why = "invalid parameter \"end\": end timestamp must not be before start time";
    else if (j->step <= 0)
        why = "invalid parameter \"step\": zero or negative query resolution step widths are not "
              "accepted. Try a positive integer";
    else if ((j->end - j->start) / j->step > QUERY_MAX_POINTS)
        why = "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the "
              "query resolution (?step=XX)";
    if (why) {
        http_reply_json_error(r, 400, "bad_data", why);
        query_job_drop(j);
        return;
    }
    j->t_parsed = mono_ns();
    api_work_start(s, r, j, query_work, query_job_drop);
}

/* The query parameter, parsed; replies 400 bad_data and returns NULL when
 * it does not parse.  The tree lives in *a (the caller frees it). */
static struct promql_expr *query_param_parse(struct http_request *r, struct promql_arena **a)
{
    const char *q = http_request_param(r, "query");
    *a = promql_arena_new();
    struct promql_parse_error pe;
    struct promql_expr *e = q ? promql_parse(*a, q, strlen(q), PROMQL_FEATURES_DEFAULT, &pe) : NULL;
    if (!e) {
        char msg[700];
        snprintf(msg, sizeof msg, "invalid parameter \"query\": %s",
                 q ? pe.msg : "unknown position: parse error: no expression found in input");
        http_reply_json_error(r, 400, "bad_data", msg);
    }
    return e;
}

/* /api/v1/parse_query (Prometheus 3): the syntax tree as JSON. */
static void handle_parse_query(struct http_request *r, void *ctx)
{
    (void)ctx;
    struct promql_arena *a;
    struct promql_expr *e = query_param_parse(r, &a);
    if (e) {
        struct sbuf b = SBUF_INIT;
        sbuf_puts(&b, "{\"status\":\"success\",\"data\":");
        promql_ast_json(e, &b);
        sbuf_putc(&b, '}');
        http_reply_sbuf(r, 200, "application/json", &b);
    }
    promql_arena_free(a);
}

/* /api/v1/format_query: the query pretty-printed as Prometheus does. */
static void handle_format_query(struct http_request *r, void *ctx)
{
    (void)ctx;
    struct promql_arena *a;
    struct promql_expr *e = query_param_parse(r, &a);
    if (e) {
        struct sbuf text = SBUF_INIT, b = SBUF_INIT;
        promql_format_pretty(e, &text);
        sbuf_puts(&b, "{\"status\":\"success\",\"data\":");
        sbuf_put_json_string(&b, text.data ? text.data : "", text.len);
        sbuf_putc(&b, '}');
        http_reply_sbuf(r, 200, "application/json", &b);
        sbuf_free(&text);
    }
    promql_arena_free(a);
}

void server_api_query_register(struct vigil_server *s)
{
    for (int post = 0; post < 2; post++) {
        const char *m = post ? "POST" : "GET";
        http_server_route(s->http, m, "/api/v1/query", false, "/api/v1/query", handle_query, s);
        http_server_route(s->http, m, "/api/v1/query_range", false, "/api/v1/query_range",
                          handle_query_range, s);
        http_server_route(s->http, m, "/api/v1/format_query", false, "/api/v1/format_query",
                          handle_format_query, s);
        http_server_route(s->http, m, "/api/v1/parse_query", false, "/api/v1/parse_query",
                          handle_parse_query, s);
    }
}
