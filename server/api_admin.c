/* api_admin.c — the admin API: delete_series, clean_tombstones, snapshot.
 *
 * Only with --web.enable-admin-api; otherwise Prometheus 2.42 answers 500
 * {"errorType":"unavailable","error":"admin APIs disabled"}, and so do we
 * (checked against it by the e2e tests).  POST and PUT, as Prometheus.
 * The handlers check the flag and the parameters on the loop thread (bad
 * input is answered at once); the storage operations, which can rewrite
 * blocks or copy the whole database, run on a worker (api_work.c) so that
 * scrapes and other requests go on meanwhile. */
#include <stdlib.h>
#include <string.h>

#include "query/promql.h"
#include "server/server.h"

#define ADMIN_MAX_MATCH 64

static bool admin_enabled(struct vigil_server *s, struct http_request *r)
{
    if (!s->flags.enable_admin_api) {
        http_reply_json_error(r, 500, "unavailable", "admin APIs disabled");
        return false;
    }
    return api_ready(s, r);
}

/* Prometheus words time errors of this endpoint its own way. */
static int admin_time(struct http_request *r, const char *name, int64_t def, int64_t *ms)
{
    const char *v = http_request_param(r, name);
    *ms = def;
    if (!v || !*v)
        return 0;
    if (api_parse_time(v, ms) == 0)
        return 0;
    char msg[600];
    snprintf(msg, sizeof msg,
             "invalid parameter \"%s\": Invalid time value for '%s': cannot parse \"%s\" to a "
             "valid timestamp",
             name, name, v);
    http_reply_json_error(r, 400, "bad_data", msg);
    return -1;
}

/* delete_series: the selectors, parsed into the job's arena, and the range. */
struct delete_job {
    struct promql_arena *arena;
    const struct promql_expr *sel[ADMIN_MAX_MATCH];
    size_t nsel;
    int64_t mint, maxt;
};

static void delete_job_free(void *p)
{
    struct delete_job *j = p;
    promql_arena_free(j->arena);
    free(j);
}

/* Parses every match[]; replies 400 with the parser's message and returns
 * -1 at the first that does not parse. */
static int delete_job_parse(struct delete_job *j, struct http_request *r, const char **vals,
                            size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct promql_parse_error pe;
        j->sel[i] = promql_parse_selector(j->arena, vals[i], strlen(vals[i]), &pe);
        if (!j->sel[i]) {
            http_reply_json_error(r, 400, "bad_data", pe.msg);
            return -1;
        }
    }
    j->nsel = n;
    return 0;
}

/* On a worker: deletes per selector, in order, as Prometheus does. */
static void delete_work(struct tsdb *db, void *p, struct api_answer *ans)
{
    struct delete_job *j = p;
    char err[700];
    for (size_t i = 0; i < j->nsel; i++) {
        if (tsdb_delete_series(db, j->sel[i]->vs.matchers, j->sel[i]->vs.nmatchers, j->mint,
                               j->maxt, err, sizeof err) < 0) {
            api_answer_error(ans, 500, "internal", "%s", err);
            return;
        }
    }
    ans->status = 204;
    ans->content_type = NULL;
}

static void handle_delete_series(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!admin_enabled(s, r))
        return;
    const char *vals[ADMIN_MAX_MATCH];
    size_t n = http_request_param_all(r, "match[]", vals, ADMIN_MAX_MATCH);
    if (n == 0) {
        http_reply_json_error(r, 400, "bad_data", "no match[] parameter provided");
        return;
    }
    struct delete_job *j = xcalloc(1, sizeof *j);
    if (n > ADMIN_MAX_MATCH || admin_time(r, "start", INT64_MIN / 4, &j->mint) < 0 ||
        admin_time(r, "end", INT64_MAX / 4, &j->maxt) < 0) {
        if (n > ADMIN_MAX_MATCH)
            http_reply_json_error(r, 400, "bad_data", "too many match[] parameters");
        free(j);
        return;
    }
    j->arena = promql_arena_new();
    if (delete_job_parse(j, r, vals, n) < 0) {
        delete_job_free(j);
        return;
    }
    api_work_start(s, r, j, delete_work, delete_job_free);
}

static void clean_tombstones_work(struct tsdb *db, void *p, struct api_answer *ans)
{
    (void)p;
    char err[512];
    if (tsdb_clean_tombstones(db, err, sizeof err) < 0) {
        api_answer_error(ans, 500, "internal", "%s", err);
        return;
    }
    ans->status = 204;
    ans->content_type = NULL;
}

static void handle_clean_tombstones(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!admin_enabled(s, r))
        return;
    api_work_start(s, r, NULL, clean_tombstones_work, NULL);
}

struct snapshot_job {
    bool skip_head;
};

static void snapshot_work(struct tsdb *db, void *p, struct api_answer *ans)
{
    struct snapshot_job *j = p;
    char name[TSDB_SNAPSHOT_NAME_LEN], err[512];
    if (tsdb_snapshot(db, j->skip_head, name, sizeof name, err, sizeof err) < 0) {
        api_answer_error(ans, 500, "internal", "create snapshot: %s", err);
        return;
    }
    sbuf_printf(&ans->body, "{\"status\":\"success\",\"data\":{\"name\":\"%s\"}}", name);
}

static void handle_snapshot(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!admin_enabled(s, r))
        return;
    const char *skip = http_request_param(r, "skip_head");
    struct snapshot_job *j = xcalloc(1, sizeof *j);
    j->skip_head = skip && (strcmp(skip, "true") == 0 || strcmp(skip, "1") == 0);
    api_work_start(s, r, j, snapshot_work, NULL);
}

void server_api_admin_register(struct vigil_server *s)
{
    static const char *const methods[] = {"POST", "PUT"};
    for (int i = 0; i < 2; i++) {
        http_server_route(s->http, methods[i], "/api/v1/admin/tsdb/delete_series", false,
                          "/api/v1/admin/tsdb/delete_series", handle_delete_series, s);
        http_server_route(s->http, methods[i], "/api/v1/admin/tsdb/clean_tombstones", false,
                          "/api/v1/admin/tsdb/clean_tombstones", handle_clean_tombstones, s);
        http_server_route(s->http, methods[i], "/api/v1/admin/tsdb/snapshot", false,
                          "/api/v1/admin/tsdb/snapshot", handle_snapshot, s);
    }
}
