/* server.c — the HTTP server: options, listeners, accepting and draining.
 *
 * A server is a set of listening sockets, a route table and a list of open
 * connections (conn.c owns what happens on each).  It holds no thread of its
 * own: every callback runs on the libuv loop that it was created with.
 *
 * Shutdown is a small state machine.  http_server_shutdown closes the
 * listeners, asks each connection to drain (close now if idle, else after the
 * response in progress) and arms a timer that force-closes the rest.  Each
 * handle's close callback calls server_drain_check; when no listener and no
 * connection is left, the drain timer itself is closed and its close callback
 * — the last callback that touches the server — calls on_drained.  Requests
 * still in handlers at that point are cut loose (their srv becomes NULL) so a
 * late reply never touches a freed server.
 *
 * The Date header is formatted at most once per second and the gzip stream
 * is allocated once and reset per response: both are per-server state, not
 * globals, because the loop thread owns them.  So is the TLS configuration
 * (tls.c): swapping it affects only connections accepted afterwards. */
#include "server/http/http_internal.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void server_drain_check(struct http_server *s);

static char *server_prefix_normalize(const char *p)
{
    if (!p)
        return xstrdup("");
    size_t n = strlen(p);
    while (n > 0 && p[n - 1] == '/')
        n--;
    if (n == 0)
        return xstrdup("");
    struct sbuf b = SBUF_INIT;
    if (p[0] != '/')
        sbuf_putc(&b, '/');
    sbuf_append(&b, p, n);
    return sbuf_detach(&b);
}

static int server_cors_compile(struct http_server *s, const char *origin)
{
    if (!origin)
        return 0;
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b, "^(%s)$", origin);
    int rc = regcomp(&s->cors_re, b.data, REG_EXTENDED | REG_NOSUB);
    sbuf_free(&b);
    if (rc != 0)
        return -1;
    s->cors_enabled = true;
    s->cors_any = strcmp(origin, ".*") == 0;
    return 0;
}

static void server_options_apply(struct http_server_options *o)
{
    if (!o->max_header_bytes)
        o->max_header_bytes = 64 * 1024;
    if (!o->max_body_bytes)
        o->max_body_bytes = 32 * 1024 * 1024;
    if (!o->header_timeout_ms)
        o->header_timeout_ms = 10000;
    if (!o->idle_timeout_ms)
        o->idle_timeout_ms = 120000;
    if (!o->write_timeout_ms)
        o->write_timeout_ms = 60000;
    if (!o->max_connections)
        o->max_connections = 10000;
    o->route_prefix = NULL;
    o->cors_origin = NULL;
}

struct http_server *http_server_new(uv_loop_t *loop, const struct http_server_options *opts)
{
    struct http_server *s = xcalloc(1, sizeof *s);
    s->loop = loop;
    if (opts)
        s->opts = *opts;
    if (server_cors_compile(s, opts ? opts->cors_origin : NULL) != 0) {
        free(s);
        return NULL;
    }
    s->prefix = server_prefix_normalize(opts ? opts->route_prefix : NULL);
    s->prefix_len = strlen(s->prefix);
    server_options_apply(&s->opts);
    http_conn_parser_settings(&s->parser_settings);
    return s;
}

void http_server_free(struct http_server *s)
{
    if (!s)
        return;
    http_routes_free(s);
    for (size_t i = 0; i < s->nlisteners; i++)
        free(s->listeners[i]);
    free(s->listeners);
    if (s->cors_enabled)
        regfree(&s->cors_re);
    if (s->gzip_ready)
        deflateEnd(&s->gzip);
    http_tls_free(s->tls);
    free(s->tls_rbuf);
    free(s->prefix);
    free(s);
}

void http_server_set_gate(struct http_server *s, http_gate_fn fn, void *ctx)
{
    s->gate = fn;
    s->gate_ctx = ctx;
}

void http_server_set_observer(struct http_server *s, http_observer_fn fn, void *ctx)
{
    s->observer = fn;
    s->observer_ctx = ctx;
}

void http_server_set_tls(struct http_server *s, struct http_tls *t)
{
    http_tls_free(s->tls); /* connections still using it hold their own reference */
    s->tls = t;
    if (t && !s->tls_rbuf)
        s->tls_rbuf = xmalloc(HTTP_TLS_READ_SIZE);
}

uint64_t http_server_tls_handshake_errors(const struct http_server *s)
{
    return s->tls_handshake_errors;
}

size_t http_server_connection_count(const struct http_server *s)
{
    return s->nconns;
}

int http_server_port(const struct http_server *s)
{
    return s->nlisteners ? s->listeners[0]->port : -1;
}

/* ---- listening ---- */

/* Splits "host:port", "[v6]:port" or ":port" into host ("" = any) and port. */
static int server_address_split(const char *address, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = address;
    size_t hn;
    if (address[0] == '[') {
        const char *close = strchr(address, ']');
        if (!close || close[1] != ':')
            return -1;
        h = address + 1;
        hn = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(address, ':');
        if (!colon || memchr(address, ':', (size_t)(colon - address)))
            return -1;
        hn = (size_t)(colon - address);
    }
    if (hn >= hostlen)
        return -1;
    memcpy(host, h, hn);
    host[hn] = '\0';
    const char *p = colon + 1;
    if (!*p || strlen(p) > 5 || strspn(p, "0123456789") != strlen(p))
        return -1;
    *port = atoi(p);
    return *port <= 65535 ? 0 : -1;
}

/* Whether this kernel can make IPv6 sockets (it may be booted without). */
static bool server_ipv6_available(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0)
        return false;
    close(fd);
    return true;
}

static int server_address_resolve(const char *host, int port, struct sockaddr_storage *ss,
                                  char *err, size_t errlen, const char *address)
{
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(*host ? host : NULL, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "listen tcp %s: lookup %s: %s", address, host, gai_strerror(rc));
        return -1;
    }
    /* For "any" prefer the IPv6 wildcard: it also accepts IPv4 (dual stack). */
    struct addrinfo *pick = res;
    bool want6 = !*host && server_ipv6_available();
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (want6 ? ai->ai_family == AF_INET6 : (!*host && ai->ai_family == AF_INET)) {
            pick = ai;
            break;
        }
    }
    memcpy(ss, pick->ai_addr, pick->ai_addrlen);
    freeaddrinfo(res);
    return 0;
}

static void server_on_listener_closed(uv_handle_t *h)
{
    struct http_listener *l = h->data;
    l->srv->listeners_open--;
    server_drain_check(l->srv);
}

static void server_on_connection(uv_stream_t *listener, int status)
{
    struct http_listener *l = listener->data;
    if (status < 0 || l->srv->shutting_down)
        return;
    http_conn_accept(l->srv, listener);
}

static int server_listener_bind(struct http_listener *l, const struct sockaddr *sa)
{
    int rc = uv_tcp_bind(&l->tcp, sa, 0);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&l->tcp, 511, server_on_connection);
    if (rc == 0) {
        struct sockaddr_storage bound;
        int len = sizeof bound;
        if (uv_tcp_getsockname(&l->tcp, (struct sockaddr *)&bound, &len) == 0)
            l->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                        : ((struct sockaddr_in *)&bound)->sin_port);
    }
    return rc;
}

int http_server_listen(struct http_server *s, const char *address, char *err, size_t errlen)
{
    char host[256];
    int port;
    struct sockaddr_storage ss;
    if (s->shutting_down) {
        snprintf(err, errlen, "listen tcp %s: server is shutting down", address);
        return -1;
    }
    if (server_address_split(address, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "listen tcp %s: address must be host:port, [ipv6]:port or :port",
                 address);
        return -1;
    }
    if (server_address_resolve(host, port, &ss, err, errlen, address) != 0)
        return -1;

    struct http_listener *l = xcalloc(1, sizeof *l);
    l->srv = s;
    l->port = -1;
    uv_tcp_init(s->loop, &l->tcp);
    l->tcp.data = l;
    s->listeners = xrealloc(s->listeners, (s->nlisteners + 1) * sizeof *s->listeners);
    s->listeners[s->nlisteners++] = l;
    s->listeners_open++;

    int rc = server_listener_bind(l, (const struct sockaddr *)&ss);
    if (rc != 0) {
        snprintf(err, errlen, "listen tcp %s: %s", address, uv_strerror(rc));
        uv_close((uv_handle_t *)&l->tcp, server_on_listener_closed);
        return -1;
    }
    return 0;
}

/* ---- shutdown ---- */

static void server_on_drain_timer_closed(uv_handle_t *h)
{
    struct http_server *s = h->data;
    s->drain_timer_open = false;
    /* Handlers still running keep their requests; cut them loose. */
    for (struct http_request *r = s->detached; r;) {
        struct http_request *next = r->next;
        r->srv = NULL;
        r->next = r->prev = NULL;
        r = next;
    }
    s->detached = NULL;
    if (s->on_drained)
        s->on_drained(s->drain_arg);
}

static void server_drain_check(struct http_server *s)
{
    if (!s->shutting_down || s->drained || s->nconns > 0 || s->listeners_open > 0)
        return;
    s->drained = true;
    uv_timer_stop(&s->drain_timer);
    uv_close((uv_handle_t *)&s->drain_timer, server_on_drain_timer_closed);
}

static void server_force_close(struct http_server *s)
{
    for (struct http_conn *c = s->conns; c; c = c->next)
        http_conn_close(c);
}

static void server_on_drain_timeout(uv_timer_t *t)
{
    server_force_close(t->data);
}

void http_server_shutdown(struct http_server *s, uint64_t timeout_ms, void (*on_drained)(void *arg),
                          void *arg)
{
    if (s->shutting_down)
        return;
    s->shutting_down = true;
    s->on_drained = on_drained;
    s->drain_arg = arg;
    uv_timer_init(s->loop, &s->drain_timer);
    s->drain_timer.data = s;
    s->drain_timer_open = true;

    for (size_t i = 0; i < s->nlisteners; i++)
        if (!uv_is_closing((uv_handle_t *)&s->listeners[i]->tcp))
            uv_close((uv_handle_t *)&s->listeners[i]->tcp, server_on_listener_closed);
    if (timeout_ms == 0) {
        server_force_close(s);
    } else {
        for (struct http_conn *c = s->conns; c; c = c->next)
            http_conn_drain(c);
        uv_timer_start(&s->drain_timer, server_on_drain_timeout, timeout_ms, 0);
    }
    server_drain_check(s);
}

/* ---- shared with conn.c / reply.c ---- */

void http_server_conn_gone(struct http_server *s, struct http_conn *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    server_drain_check(s);
}

void http_server_detach(struct http_server *s, struct http_request *r)
{
    r->prev = NULL;
    r->next = s->detached;
    if (s->detached)
        s->detached->prev = r;
    s->detached = r;
}

void http_server_undetach(struct http_server *s, struct http_request *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        s->detached = r->next;
    if (r->next)
        r->next->prev = r->prev;
    r->next = r->prev = NULL;
}

void http_server_observe(struct http_server *s, struct http_request *r)
{
    if (!s->observer)
        return;
    double secs = (double)(uv_hrtime() - r->t_start) / 1e9;
    s->observer(s->observer_ctx, r->handler ? r->handler : "", r->method ? r->method : "",
                r->status, secs);
}

const char *http_server_date(struct http_server *s)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    time_t now = time(NULL);
    if (now == s->date_sec && s->date[0])
        return s->date;
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(s->date, sizeof s->date, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    s->date_sec = now;
    return s->date;
}
