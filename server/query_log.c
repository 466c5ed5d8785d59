/* query_log.c — the query log (global.query_log_file): one JSON line per
 * query, as Prometheus's engine writes it.
 *
 * Query workers append lines (api_query.c builds them) while a reload may
 * switch files on the loop thread, so the file sits behind a mutex; each
 * line goes out in one fwrite and is flushed, so lines never interleave
 * and a reader sees whole lines. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"

struct query_log {
    pthread_mutex_t mu;
    FILE *f;    /* NULL when no query log is configured */
    char *path; /* of f */
};

struct query_log *query_log_new(void)
{
    struct query_log *l = xcalloc(1, sizeof *l);
    pthread_mutex_init(&l->mu, NULL);
    return l;
}

void query_log_free(struct query_log *l)
{
    if (!l)
        return;
    if (l->f)
        fclose(l->f);
    free(l->path);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

int query_log_reopen(struct query_log *l, const char *path, char *err, size_t errsz)
{
    pthread_mutex_lock(&l->mu);
    int rc = 0;
    if (!(path && l->path && strcmp(path, l->path) == 0)) { /* unchanged: keep it open */
        if (l->f)
            fclose(l->f);
        free(l->path);
        l->f = NULL;
        l->path = NULL;
        if (path && !(l->f = fopen(path, "a"))) {
            snprintf(err, errsz, "open %s: %s", path, strerror(errno));
            rc = -1;
        } else if (path) {
            l->path = xstrdup(path);
        }
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

void query_log_append(struct query_log *l, const char *line, size_t n)
{
    pthread_mutex_lock(&l->mu);
    if (l->f) {
        fwrite(line, 1, n, l->f);
        fflush(l->f);
    }
    pthread_mutex_unlock(&l->mu);
}

bool query_log_enabled(struct query_log *l)
{
    pthread_mutex_lock(&l->mu);
    bool on = l->f != NULL;
    pthread_mutex_unlock(&l->mu);
    return on;
}
