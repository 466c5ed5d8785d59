/* api_admin.c — the admin API: delete_series, clean_tombstones, snapshot.
 *
 * Only with --web.enable-admin-api; otherwise Prometheus 2.42 answers 500
 * {"errorType":"unavailable","error":"admin APIs disabled"}, and so do we
 * (checked against it by the e2e tests).  POST and PUT, as Prometheus.
 * The storage operations are synchronous and bounded by the data they
 * touch; they run on the loop thread for now (a delete of a huge range
 * belongs on a worker, noted for the HTTP API issue). */
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
    int64_t mint, maxt;
    if (n > ADMIN_MAX_MATCH || admin_time(r, "start", INT64_MIN / 4, &mint) < 0 ||
        admin_time(r, "end", INT64_MAX / 4, &maxt) < 0) {
        if (n > ADMIN_MAX_MATCH)
            http_reply_json_error(r, 400, "bad_data", "too many match[] parameters");
        return;
    }
    struct promql_arena *a = promql_arena_new();
    for (size_t i = 0; i < n; i++) {
        struct promql_parse_error pe;
        struct promql_expr *sel = promql_parse_selector(a, vals[i], strlen(vals[i]), &pe);
        char err[700];
        if (!sel) {
            snprintf(err, sizeof err, "%s", pe.msg);
            http_reply_json_error(r, 400, "bad_data", err);
            promql_arena_free(a);
            return;
        }
        if (tsdb_delete_series(s->tsdb, sel->vs.matchers, sel->vs.nmatchers, mint, maxt, err,
                               sizeof err) < 0) {
            http_reply_json_error(r, 500, "internal", err);
            promql_arena_free(a);
            return;
        }
    }
    promql_arena_free(a);
    http_reply(r, 204, NULL, "", 0);
}

static void handle_clean_tombstones(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!admin_enabled(s, r))
        return;
    char err[512];
    if (tsdb_clean_tombstones(s->tsdb, err, sizeof err) < 0) {
        http_reply_json_error(r, 500, "internal", err);
        return;
    }
    http_reply(r, 204, NULL, "", 0);
}

static void handle_snapshot(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    if (!admin_enabled(s, r))
        return;
    const char *skip = http_request_param(r, "skip_head");
    bool skip_head = skip && (strcmp(skip, "true") == 0 || strcmp(skip, "1") == 0);
    char name[TSDB_SNAPSHOT_NAME_LEN], err[512];
    if (tsdb_snapshot(s->tsdb, skip_head, name, sizeof name, err, sizeof err) < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "create snapshot: %s", err);
        http_reply_json_error(r, 500, "internal", msg);
        return;
    }
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b, "{\"status\":\"success\",\"data\":{\"name\":\"%s\"}}", name);
    http_reply_sbuf(r, 200, "application/json", &b);
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
