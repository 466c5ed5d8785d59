/* api_work.c — "run this on a worker and reply": how API handlers take
 * storage work off the loop thread.
 *
 * A handler checks its parameters on the loop thread (bad input is answered
 * at once), packs what the work needs into a job it allocates, and hands
 * the job to api_work_start with a work function.  The work function runs
 * on libuv's worker pool (uv_queue_work): it reads or changes storage
 * (tsdb_* may be called from any thread) and builds the whole answer —
 * status, content type and body, or a Prometheus error — into a struct
 * api_answer.  It touches nothing else: not the request (whose accessors
 * belong to the loop thread), not the server struct.  The after-callback,
 * back on the loop thread, sends the answer, frees the job and, if this was
 * the last piece of work after a stop, closes storage.
 *
 * vigil_server.queries_running counts the work between api_work_start and
 * its after-callback.  server_finish (lifecycle.c) leaves storage open
 * while it is non-zero; the last job to finish then closes it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

/* One job in flight: owned by this file from api_work_start to done. */
struct api_work {
    uv_work_t work;
    struct vigil_server *s;
    struct http_request *req; /* borrowed until the reply */
    struct tsdb *db;          /* open while queries_running > 0 */
    void *job;                /* the handler's, freed by free_job */
    api_work_fn fn;
    void (*free_job)(void *job);
    struct api_answer ans;
};

void api_answer_error(struct api_answer *ans, int status, const char *error_type, const char *fmt,
                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ans->error, sizeof ans->error, fmt, ap);
    va_end(ap);
    ans->status = status;
    ans->error_type = error_type;
}

void api_answer_success(struct api_answer *ans, struct sbuf *data, const char *warning)
{
    struct sbuf *b = &ans->body;
    sbuf_puts(b, "{\"status\":\"success\",\"data\":");
    sbuf_append(b, data->data ? data->data : "null", data->data ? data->len : 4);
    if (warning) {
        sbuf_puts(b, ",\"warnings\":[");
        sbuf_put_json_string(b, warning, strlen(warning));
        sbuf_putc(b, ']');
    }
    sbuf_putc(b, '}');
    sbuf_free(data);
}

static void api_work_run(uv_work_t *w)
{
    struct api_work *aw = w->data;
    aw->fn(aw->db, aw->job, &aw->ans);
}

static void api_work_reply(struct api_work *aw)
{
    struct api_answer *a = &aw->ans;
    if (a->error_type)
        http_reply_json_error(aw->req, a->status, a->error_type, a->error);
    else
        http_reply_sbuf(aw->req, a->status, a->content_type, &a->body);
}

/* The last work to finish after the stop (server_finish has run) closes
 * storage. */
static void api_work_finished(struct vigil_server *s)
{
    if (--s->queries_running == 0 && server_stop_done(s) && s->tsdb) {
        tsdb_close(s->tsdb);
        s->tsdb = NULL;
    }
}

static void api_work_free(struct api_work *aw)
{
    if (aw->free_job)
        aw->free_job(aw->job);
    else
        free(aw->job);
    sbuf_free(&aw->ans.body);
    free(aw);
}

static void api_work_done(uv_work_t *w, int status)
{
    struct api_work *aw = w->data;
    struct vigil_server *s = aw->s;
    if (status == UV_ECANCELED)
        api_answer_error(&aw->ans, 503, "unavailable", "request canceled at shutdown");
    api_work_reply(aw);
    api_work_free(aw);
    api_work_finished(s);
}

void api_work_start(struct vigil_server *s, struct http_request *r, void *job, api_work_fn fn,
                    void (*free_job)(void *job))
{
    struct api_work *aw = xcalloc(1, sizeof *aw);
    aw->s = s;
    aw->req = r;
    aw->db = s->tsdb;
    aw->job = job;
    aw->fn = fn;
    aw->free_job = free_job;
    aw->ans.status = 200;
    aw->ans.content_type = "application/json";
    aw->work.data = aw;
    int rc = uv_queue_work(s->loop, &aw->work, api_work_run, api_work_done);
    if (rc < 0) {
        http_reply_json_error(r, 500, "internal", uv_strerror(rc));
        api_work_free(aw);
        return;
    }
    s->queries_running++;
}
