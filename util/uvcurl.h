/* uvcurl.h — libcurl's multi-socket interface driven by a libuv loop.
 *
 * Outbound HTTP (scrapes, alert notifications) must never block the loop, so
 * it goes through one CURLM per user whose sockets and timeout libuv
 * watches: curl's socket callback gets a uv_poll per socket it asks about,
 * its timer callback one uv_timer; readiness goes back to
 * curl_multi_socket_action, and every transfer that finishes is handed to
 * the owner's `done` callback (already removed from the multi handle, so the
 * callback may reuse or free the easy handle, or add new ones).
 *
 * Ownership: the owner keeps its easy handles (uvcurl never frees one) and
 * tells them apart with CURLOPT_PRIVATE.  uvcurl_close abandons transfers
 * still running (without calling `done`), cleans up the multi handle and
 * closes the libuv handles; the struct frees itself once libuv has run the
 * close callbacks.  uvcurl_close may be called from inside `done`.
 *
 * Threads: everything on the loop thread. */
#ifndef VIGIL_UTIL_UVCURL_H
#define VIGIL_UTIL_UVCURL_H

#include <stddef.h>

#include <curl/curl.h>
#include <uv.h>

struct uvcurl;

/* A transfer ended with `res` (CURLE_OK, or why it failed). */
typedef void (*uvcurl_done_fn)(void *ctx, CURL *easy, CURLcode res);

/* ctx is borrowed until uvcurl_close.  Returns 0 and *out, or -1 with err
 * (libcurl could not start). */
int uvcurl_new(uv_loop_t *loop, uvcurl_done_fn done, void *ctx, struct uvcurl **out, char *err,
               size_t errsize);
/* Starts a transfer on a configured easy handle (borrowed until `done`, or
 * until uvcurl_remove).  Returns 0, or -1 if curl refused it. */
int uvcurl_add(struct uvcurl *u, CURL *easy);
/* Abandons a running transfer (no `done` call for it). */
void uvcurl_remove(struct uvcurl *u, CURL *easy);
/* See the top; NULL is a no-op.  The pointer is dead afterwards. */
void uvcurl_close(struct uvcurl *u);

#endif
