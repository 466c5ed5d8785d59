/* tsdb.c — opening and closing the data directory.
 *
 * Layout of <dir>:
 *   lock        flock(2)ed exclusively while a server has the dir open; an
 *               flock dies with its process, so a kill -9 never leaves a
 *               stale lock behind (unlike a pid file)
 *   index.mdb/  the LMDB environment (MDB_NOSUBDIR is not used, so LMDB's
 *               own data.mdb and lock.mdb files live in this subdirectory)
 *
 * LMDB is opened with MDB_NOTLS so that read transactions can be handed to
 * worker threads that run queries, and with a generous map size that will
 * grow on demand (mdb_env_set_mapsize) when the storage layer fills it. */
#include "storage/tsdb.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/sbuf.h"

struct tsdb {
    char *dir;
    int lock_fd;
    MDB_env *env;
};

#define TSDB_DEFAULT_MAP_BYTES (1ULL << 30)

/* mkdir -p: creates every missing component of path. */
static int mkdir_all(const char *path)
{
    char *p = xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) < 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = mkdir(p, 0755) < 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

static int tsdb_lock(struct tsdb *db, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/lock", db->dir);
    db->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (db->lock_fd < 0) {
        snprintf(err, errlen, "open %s: %s", path, strerror(errno));
        return -1;
    }
    if (flock(db->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errlen, "lock %s: %s", path,
                 errno == EWOULDBLOCK ? "held by another process (is another server using this "
                                        "data directory?)"
                                      : strerror(errno));
        return -1;
    }
    return 0;
}

static int tsdb_env_open(struct tsdb *db, const struct tsdb_options *opts, char *err,
                         size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/index.mdb", db->dir);
    if (mkdir_all(path) < 0) {
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        return -1;
    }
    int rc = mdb_env_create(&db->env);
    uint64_t map = opts && opts->initial_map_bytes ? opts->initial_map_bytes
                                                   : TSDB_DEFAULT_MAP_BYTES;
    if (rc == 0)
        rc = mdb_env_set_mapsize(db->env, (size_t)map);
    if (rc == 0)
        rc = mdb_env_set_maxdbs(db->env, 16);
    if (rc == 0)
        rc = mdb_env_open(db->env, path, MDB_NOTLS, 0644);
    if (rc != 0) {
        snprintf(err, errlen, "open %s: %s", path, mdb_strerror(rc));
        return -1;
    }
    return 0;
}

int tsdb_open(const char *dir, const struct tsdb_options *opts, struct tsdb **out, char *err,
              size_t errlen)
{
    struct tsdb *db = xcalloc(1, sizeof *db);
    db->lock_fd = -1;
    db->dir = xstrdup(dir);
    size_t n = strlen(db->dir);
    while (n > 1 && db->dir[n - 1] == '/')
        db->dir[--n] = '\0';
    if (mkdir_all(db->dir) < 0) {
        snprintf(err, errlen, "mkdir %s: %s", db->dir, strerror(errno));
        tsdb_close(db);
        return -1;
    }
    if (tsdb_lock(db, err, errlen) < 0 || tsdb_env_open(db, opts, err, errlen) < 0) {
        tsdb_close(db);
        return -1;
    }
    *out = db;
    return 0;
}

void tsdb_close(struct tsdb *db)
{
    if (!db)
        return;
    if (db->env) {
        mdb_env_sync(db->env, 1);
        mdb_env_close(db->env);
    }
    if (db->lock_fd >= 0)
        close(db->lock_fd);
    free(db->dir);
    free(db);
}

const char *tsdb_dir(const struct tsdb *db)
{
    return db->dir;
}
