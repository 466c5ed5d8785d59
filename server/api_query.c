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
};

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

static void query_answer(const struct promql_result *res, struct api_answer *ans)
{
    struct sbuf *b = &ans->body;
    sbuf_puts(b, "{\"status\":\"success\",\"data\":");
    promql_result_json(res, b);
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
    int rc = j->range ? promql_eval_range(db, j->query, j->expr, j->start, j->end, j->step,
                                          &j->opts, &res, err, sizeof err)
                      : promql_eval_instant(db, j->query, j->expr, j->t, &j->opts, &res, err,
                                            sizeof err);
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
        query_answer(res, ans);
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
    j->query = xstrdup(q);
    j->canceled = s->queries_canceled;
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
    /* A client that hangs up cancels its query between evaluation steps. */
    j->opts.cancel = http_request_gone_flag(r);
    return j;
}

/* timeout= may only shorten --query.timeout; lookback_delta= overrides. */
static int query_job_opts(struct query_job *j, struct http_request *r)
{
    int64_t ms;
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
    api_work_start(s, r, j, query_work, query_job_drop);
}

/* /api/v1/format_query: the query pretty-printed as Prometheus does. */
static void handle_format_query(struct http_request *r, void *ctx)
{
    (void)ctx;
    const char *q = http_request_param(r, "query");
    struct promql_arena *a = promql_arena_new();
    struct promql_parse_error pe;
    struct promql_expr *e = q ? promql_parse(a, q, strlen(q), PROMQL_FEATURES_DEFAULT, &pe) : NULL;
    if (!e) {
        char msg[700];
        snprintf(msg, sizeof msg, "invalid parameter \"query\": %s",
                 q ? pe.msg : "unknown position: parse error: no expression found in input");
        http_reply_json_error(r, 400, "bad_data", msg);
        promql_arena_free(a);
        return;
    }
    struct sbuf text = SBUF_INIT, b = SBUF_INIT;
    promql_format_pretty(e, &text);
    sbuf_puts(&b, "{\"status\":\"success\",\"data\":");
    sbuf_put_json_string(&b, text.data ? text.data : "", text.len);
    sbuf_putc(&b, '}');
    http_reply_sbuf(r, 200, "application/json", &b);
    sbuf_free(&text);
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
    }
}
