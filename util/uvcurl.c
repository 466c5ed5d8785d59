/* uvcurl.c — the curl-multi ↔ libuv glue (see uvcurl.h).
 *
 * curl tells us, per socket, whether to watch it for reading, writing, both
 * or no longer (CURLMOPT_SOCKETFUNCTION): each watched socket gets a struct
 * csock holding its uv_poll, attached to the socket inside curl with
 * curl_multi_assign so the next call finds it.  curl also tells us when it
 * next wants to be called without socket activity (CURLMOPT_TIMERFUNCTION):
 * one uv_timer.  Both paths end in curl_multi_socket_action and then in a
 * sweep of curl_multi_info_read that hands finished transfers to the owner.
 *
 * The owner may close the uvcurl from inside its `done` callback (a notifier
 * that has just sent its last batch), so the sweep counts how deep it is and
 * a close requested during it runs when the outermost sweep returns. */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/sbuf.h"
#include "util/uvcurl.h"

struct csock {
    uv_poll_t poll;
    curl_socket_t fd;
    struct uvcurl *u;
    struct csock *prev, *next;
};

struct uvcurl {
    uv_loop_t *loop;
    CURLM *multi;
    uv_timer_t timer;
    struct csock *socks;
    uvcurl_done_fn done;
    void *ctx;
    int depth;          /* nested sweeps in progress */
    bool close_pending; /* uvcurl_close called during a sweep */
    bool closed;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void on_sock_closed(uv_handle_t *h)
{
    free(h->data);
}

static void csock_close(struct csock *cs)
{
    struct uvcurl *u = cs->u;
    if (cs->prev)
        cs->prev->next = cs->next;
    else
        u->socks = cs->next;
    if (cs->next)
        cs->next->prev = cs->prev;
    uv_poll_stop(&cs->poll);
    uv_close((uv_handle_t *)&cs->poll, on_sock_closed);
}

static void close_now(struct uvcurl *u);

/* Hands every finished transfer to the owner. */
static void sweep(struct uvcurl *u)
{
    CURLMsg *msg;
    int left;
    u->depth++;
    while (!u->close_pending && (msg = curl_multi_info_read(u->multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        CURL *e = msg->easy_handle;
        CURLcode res = msg->data.result;
        curl_multi_remove_handle(u->multi, e);
        u->done(u->ctx, e, res);
    }
    if (--u->depth == 0 && u->close_pending)
        close_now(u);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
    struct csock *cs = h->data;
    struct uvcurl *u = cs->u;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE)
        flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE)
        flags |= CURL_CSELECT_OUT;
    int running;
    curl_multi_socket_action(u->multi, cs->fd, flags, &running);
    sweep(u);
}

static int on_curl_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct uvcurl *u = userp;
    struct csock *cs = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (cs) {
            csock_close(cs);
            if (u->multi)
                curl_multi_assign(u->multi, s, NULL);
        }
        return 0;
    }
    if (!cs) {
        cs = xcalloc(1, sizeof *cs);
        cs->fd = s;
        cs->u = u;
        if (uv_poll_init_socket(u->loop, &cs->poll, s) != 0) {
            free(cs);
            return -1;
        }
        cs->poll.data = cs;
        cs->next = u->socks;
        if (u->socks)
            u->socks->prev = cs;
        u->socks = cs;
        curl_multi_assign(u->multi, s, cs);
    }
    int ev = 0;
    if (what & CURL_POLL_IN)
        ev |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        ev |= UV_WRITABLE;
    uv_poll_start(&cs->poll, ev, on_poll);
    return 0;
}

static void on_timeout(uv_timer_t *t)
{
    struct uvcurl *u = t->data;
    int running;
    curl_multi_socket_action(u->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    sweep(u);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct uvcurl *u = userp;
    if (u->closed)
        return 0;
    if (timeout_ms < 0)
        uv_timer_stop(&u->timer);
    else
        uv_timer_start(&u->timer, on_timeout, (uint64_t)timeout_ms, 0);
    return 0;
}

int uvcurl_new(uv_loop_t *loop, uvcurl_done_fn done, void *ctx, struct uvcurl **out, char *err,
               size_t errsize)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        snprintf(err, errsize, "libcurl initialisation failed: %s",
                 curl_easy_strerror(curl_init_rc));
        return -1;
    }
    struct uvcurl *u = xcalloc(1, sizeof *u);
    u->loop = loop;
    u->done = done;
    u->ctx = ctx;
    u->multi = curl_multi_init();
    if (!u->multi) {
        snprintf(err, errsize, "curl_multi_init failed");
        free(u);
        return -1;
    }
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(u->multi, CURLMOPT_SOCKETDATA, u);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(u->multi, CURLMOPT_TIMERDATA, u);
    uv_timer_init(loop, &u->timer);
    u->timer.data = u;
    *out = u;
    return 0;
}

int uvcurl_add(struct uvcurl *u, CURL *easy)
{
    if (u->closed || u->close_pending)
        return -1;
    return curl_multi_add_handle(u->multi, easy) == CURLM_OK ? 0 : -1;
}

void uvcurl_remove(struct uvcurl *u, CURL *easy)
{
    if (u->multi)
        curl_multi_remove_handle(u->multi, easy);
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void close_now(struct uvcurl *u)
{
    u->closed = true;
    uv_timer_stop(&u->timer);
    /* Cleaning up may report CURL_POLL_REMOVE for kept-alive sockets. */
    curl_multi_cleanup(u->multi);
    u->multi = NULL;
    while (u->socks)
        csock_close(u->socks);
    uv_close((uv_handle_t *)&u->timer, on_timer_closed);
}

void uvcurl_close(struct uvcurl *u)
{
    if (!u || u->closed || u->close_pending)
        return;
    if (u->depth > 0) {
        u->close_pending = true;
        return;
    }
    close_now(u);
}
