/* route.c — the route table and request dispatch.
 *
 * Routes are a flat array searched linearly: a server has a few dozen, set
 * up once, and a scan of them costs less than the request's header parsing.
 * A path is matched in two rounds, as the header promises: exact routes
 * first, then prefix routes, of which the longest matching prefix wins.  In
 * each round, the routes with the winning path are checked for the method;
 * when the path matched but no method did, the answer is 405 with an Allow
 * header listing what would have matched.  A prefix route "/a/" matches
 * everything that starts with it; "/a" matches "/a" and what is under "/a/",
 * not "/ab".
 *
 * Dispatch order: target decoding (400 if malformed, then close), route
 * prefix (404 outside it), route match (404/405), Prometheus's CORS preflight
 * (OPTIONS on an /api/ path answers 204 unless a route takes OPTIONS), then
 * parameters (400 if malformed: bad_data JSON on /api/ paths), then the
 * handler. */
#include "server/http/http_internal.h"

#include <stdlib.h>
#include <string.h>

struct route_match {
    const struct http_route *route; /* path and method matched */
    const struct http_route *path;  /* path matched (a 405 if route is NULL) */
};

void http_server_route(struct http_server *s, const char *method, const char *path, bool prefix,
                       const char *name, http_handler_fn fn, void *ctx)
{
    if (s->nroutes == s->route_cap) {
        s->route_cap = s->route_cap ? 2 * s->route_cap : 32;
        s->routes = xrealloc(s->routes, s->route_cap * sizeof *s->routes);
    }
    struct http_route *rt = &s->routes[s->nroutes++];
    rt->method = method ? xstrdup(method) : NULL;
    rt->path = xstrdup(path);
    rt->path_len = strlen(path);
    rt->prefix = prefix;
    rt->name = xstrdup(name ? name : path);
    rt->fn = fn;
    rt->ctx = ctx;
}

void http_routes_free(struct http_server *s)
{
    for (size_t i = 0; i < s->nroutes; i++) {
        free(s->routes[i].method);
        free(s->routes[i].path);
        free(s->routes[i].name);
    }
    free(s->routes);
    s->routes = NULL;
    s->nroutes = s->route_cap = 0;
}

static bool route_method_ok(const struct http_route *rt, const char *method)
{
    if (!rt->method || strcmp(rt->method, method) == 0)
        return true;
    return strcmp(rt->method, "GET") == 0 && strcmp(method, "HEAD") == 0;
}

static bool route_path_ok(const struct http_route *rt, const char *path)
{
    if (!rt->prefix)
        return strcmp(rt->path, path) == 0;
    size_t n = rt->path_len;
    if (strncmp(rt->path, path, n) != 0)
        return false;
    return n == 0 || rt->path[n - 1] == '/' || path[n] == '\0' || path[n] == '/';
}

/* One round: among routes of kind `prefix` matching path, those with the
 * longest path (all of equal length for exact routes) compete on method. */
static void route_find_round(const struct http_server *s, const char *path, const char *method,
                             bool prefix, struct route_match *m)
{
    size_t best = 0;
    bool any = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct http_route *rt = &s->routes[i];
        if (rt->prefix == prefix && route_path_ok(rt, path) && (!any || rt->path_len > best)) {
            best = rt->path_len;
            any = true;
        }
    }
    for (size_t i = 0; any && i < s->nroutes; i++) {
        const struct http_route *rt = &s->routes[i];
        if (rt->prefix != prefix || rt->path_len != best || !route_path_ok(rt, path))
            continue;
        if (!m->path)
            m->path = rt;
        if (route_method_ok(rt, method)) {
            m->route = rt;
            return;
        }
    }
}

static void route_find(const struct http_server *s, const char *path, const char *method,
                       struct route_match *m)
{
    m->route = m->path = NULL;
    route_find_round(s, path, method, false, m);
    if (!m->path)
        route_find_round(s, path, method, true, m);
}

/* The Allow header of a 405: the methods of the routes sharing the matched
 * route's path, HEAD where GET is, OPTIONS on /api/ paths (preflight). */
static void route_allow(const struct http_request *r, const struct http_route *hit, struct sbuf *b)
{
    const struct http_server *s = r->srv;
    bool get = false;
    for (size_t i = 0; i < s->nroutes; i++) {
        const struct http_route *rt = &s->routes[i];
        if (rt->prefix != hit->prefix || strcmp(rt->path, hit->path) != 0 || !rt->method)
            continue;
        sbuf_printf(b, "%s%s", b->len ? ", " : "", rt->method);
        get = get || strcmp(rt->method, "GET") == 0;
    }
    if (get)
        sbuf_puts(b, ", HEAD");
    if (r->api_path)
        sbuf_printf(b, "%sOPTIONS", b->len ? ", " : "");
}

/* Strips the server's route prefix from r->path; false if outside it. */
static bool route_prefix_strip(const struct http_server *s, struct http_request *r)
{
    size_t n = s->prefix_len;
    if (n == 0)
        return true;
    if (strncmp(r->path, s->prefix, n) != 0)
        return false;
    if (r->path[n] == '\0')
        r->path = "/";
    else if (r->path[n] == '/')
        r->path += n;
    else
        return false;
    return true;
}

static void route_not_found(struct http_request *r)
{
    http_reply_header(r, "X-Content-Type-Options", "nosniff");
    http_reply(r, 404, "text/plain; charset=utf-8", "404 page not found\n", 19);
}

static void route_not_allowed(struct http_request *r, const struct http_route *hit)
{
    struct sbuf allow = SBUF_INIT;
    route_allow(r, hit, &allow);
    http_reply_header(r, "Allow", allow.data);
    sbuf_free(&allow);
    http_reply(r, 405, "text/plain; charset=utf-8", "Method Not Allowed\n", 19);
}

static void route_bad_params(struct http_request *r, const char *why)
{
    struct sbuf msg = SBUF_INIT;
    sbuf_printf(&msg, "error parsing form values: %s", why);
    if (r->api_path) {
        http_reply_json_error(r, 400, "bad_data", msg.data);
    } else {
        sbuf_putc(&msg, '\n');
        http_reply(r, 400, "text/plain; charset=utf-8", msg.data, msg.len);
    }
    sbuf_free(&msg);
}

void http_route_dispatch(struct http_request *r)
{
    struct http_server *s = r->srv;
    if (http_req_parse_target(r) != 0) {
        r->keep_alive = false;
        http_reply_plain(r, 400, NULL);
        return;
    }
    if (s->gate && !s->gate(s->gate_ctx, r))
        return;
    if (!route_prefix_strip(s, r)) {
        route_not_found(r);
        return;
    }
    r->api_path = strncmp(r->path, "/api/", 5) == 0;
    struct route_match m;
    route_find(s, r->path, r->method, &m);
    if (m.path)
        r->handler = m.route ? m.route->name : m.path->name;
    bool preflight = !m.route && r->api_path && strcmp(r->method, "OPTIONS") == 0;
    r->cors = s->cors_enabled && r->api_path && (m.route || preflight);
    if (preflight) {
        http_reply(r, 204, NULL, "", 0);
        return;
    }
    if (!m.path) {
        route_not_found(r);
        return;
    }
    if (!m.route) {
        route_not_allowed(r, m.path);
        return;
    }
    struct sbuf err = SBUF_INIT;
    if (http_req_parse_params(r, &err) != 0) {
        route_bad_params(r, err.data);
        sbuf_free(&err);
        return;
    }
    sbuf_free(&err);
    m.route->fn(r, m.route->ctx);
}
