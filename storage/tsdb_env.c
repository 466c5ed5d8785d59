/* tsdb_env.c — the LMDB environment: the txn gate, map growth, used bytes.
 *
 * LMDB maps its file into memory at a fixed size (the map), and a write
 * that needs a page beyond it fails with MDB_MAP_FULL.  The map is address
 * space, not disk (the file grows only as pages are written), so tsdb_open
 * asks for 1 TiB and growth is rare; but an operator may start smaller
 * (tsdb_options.initial_map_bytes), and a map that can only be set at open
 * would turn a full map into an outage.  mdb_env_set_mapsize can grow the
 * map of an open environment, but only while no transaction of this
 * process is active: it unmaps and remaps, and every reader's pointers
 * into the old map would dangle.
 *
 * So every txn holder passes a gate: a count of threads inside (env_users)
 * under a mutex.  Entering does not wait for anyone to leave, so nested
 * entries (a thread holding a query's series set that appends, as a rule
 * evaluation may) are fine, and queries never wait for each other.  A
 * writer that gets MDB_MAP_FULL aborts its txn, leaves the gate, and grows
 * the map: it waits for the gate to empty, first for up to a second while
 * newcomers still enter (readers first: a query is never delayed for a
 * write), then for up to five more seconds with the gate closed to
 * newcomers (so a stream of overlapping queries cannot starve it).  With
 * the gate empty it remaps under the mutex, doubling the size, and the
 * writer runs its txn again from the start (tsdb_write).  If the gate does
 * not empty in time, e.g. because the growing thread itself holds a series
 * set, it gives up and the write fails with MDB_MAP_FULL; the flusher
 * simply retries on its next round, an appender's commit reports it.  The
 * worst a query can see is a pause of those five seconds.  The gate is a
 * counter rather than a pthread rwlock because a series set may be freed
 * on another thread than the one that created it, which a rwlock forbids.
 *
 * Used bytes.  LMDB never shrinks its file; freed pages go to a free list
 * (DBI 0) and are reused by later writes.  What is "in use" is therefore
 * (last page + 1 - pages on the free list) * page size: the free list is a
 * B-tree of (txn id -> page list), and the first word of each list is its
 * length, which is what `mdb_stat -f` sums.  Pages freed by recent txns
 * but still visible to an old reader count as free here, though LMDB cannot
 * reuse them until that reader ends.  Pages that are only partly full (a
 * deleted block leaves a hole in its leaf page) count as used: see
 * retention.c for what that means for size-based retention.
 *
 * The lock file.  LMDB keeps its reader table in lock.mdb beside data.mdb:
 * 64 KiB for the 1024 reader slots opened here, worth keeping only while
 * the environment is open, since LMDB resets it on every first open.  It
 * is removed when the TSDB closes cleanly (the data directory's flock,
 * held until after, means no other Vigil has the environment open; an
 * external mdb_stat reading it meanwhile would only see its own reads go
 * stale), and from snapshots once written: after an import of the
 * bench/storage.sh dataset it was 65,664 of the directory's 446,592 bytes.
 *
 * Resident pages.  Every page a txn reads through the map, and every page
 * a write txn copies before changing it, stays mapped in this process and
 * counts in its RSS although it is only clean page cache.  Creating 100k
 * series (index records, hash and postings pages) leaves ~200 bytes per
 * series of the index mapped for good, though steady-state ingestion never
 * reads the index again (scrape caches hold the series ids).  So after a
 * round that wrote, the flusher drops the mapping of the used part of the
 * file with MADV_DONTNEED (tsdb_env_pages_release): on a read-only shared
 * file mapping that only unmaps, the pages stay cached, and the next read
 * maps them again with a minor fault.  Pointers readers hold stay valid.
 * It runs inside the gate, so the map is not being replaced meanwhile.
 * Measured (bench/scrape.sh-like, 50 targets x 2000 series, 40 s): the
 * data.mdb mapping held 19.6 MiB resident (~200 B/series) before, <1 MiB
 * after a release. */
#include "storage/tsdb_internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define ENV_GROW_OPEN_WAIT_MS   1000 /* newcomers still enter */
#define ENV_GROW_CLOSED_WAIT_MS 5000 /* newcomers wait */
#define ENV_WRITE_ATTEMPTS      12

void tsdb_env_enter(struct tsdb *db)
{
    pthread_mutex_lock(&db->env_mu);
    while (db->env_closed)
        pthread_cond_wait(&db->env_cv, &db->env_mu);
    db->env_users++;
    pthread_mutex_unlock(&db->env_mu);
}

void tsdb_env_leave(struct tsdb *db)
{
    pthread_mutex_lock(&db->env_mu);
    if (--db->env_users == 0)
        pthread_cond_broadcast(&db->env_cv);
    pthread_mutex_unlock(&db->env_mu);
}

int tsdb_read_begin(struct tsdb *db, MDB_txn **txn)
{
    tsdb_env_enter(db);
    int rc = mdb_txn_begin(db->env, NULL, MDB_RDONLY, txn);
    if (rc != 0)
        tsdb_env_leave(db);
    return rc;
}

void tsdb_read_end(struct tsdb *db, MDB_txn *txn)
{
    mdb_txn_abort(txn);
    tsdb_env_leave(db);
}

int tsdb_env_sync(struct tsdb *db)
{
    tsdb_env_enter(db);
    int rc = mdb_env_sync(db->env, 1);
    tsdb_env_leave(db);
    return rc;
}

static struct timespec deadline_after(int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    return ts;
}

/* Waits (env_mu held) until the gate is empty or the deadline passes. */
static bool env_wait_empty(struct tsdb *db, int64_t ms)
{
    struct timespec until = deadline_after(ms);
    while (db->env_users > 0)
        if (pthread_cond_timedwait(&db->env_cv, &db->env_mu, &until) == ETIMEDOUT)
            break;
    return db->env_users == 0;
}

/* Remaps at twice the size; env_mu held, gate empty. */
static int env_remap(struct tsdb *db)
{
    uint64_t cur = atomic_load(&db->map_bytes);
    uint64_t next = cur * 2;
    int rc = mdb_env_set_mapsize(db->env, (size_t)next);
    if (rc != 0)
        return rc;
    MDB_envinfo info;
    mdb_env_info(db->env, &info);
    atomic_store(&db->map_bytes, (uint64_t)info.me_mapsize);
    char from[32], to[32];
    snprintf(from, sizeof from, "%llu", (unsigned long long)cur);
    snprintf(to, sizeof to, "%llu", (unsigned long long)info.me_mapsize);
    log_info(db->opts.log, "tsdb", "LMDB map grown", "from_bytes", from, "to_bytes", to);
    if (db->m_map_grows)
        metric_inc(db->m_map_grows);
    return 0;
}

int tsdb_env_grow(struct tsdb *db, uint64_t seen_bytes)
{
    pthread_mutex_lock(&db->env_mu);
    /* Another grower may be waiting with the gate closed: let it finish. */
    while (db->env_closed)
        pthread_cond_wait(&db->env_cv, &db->env_mu);
    int rc = 0;
    if (atomic_load(&db->map_bytes) > seen_bytes)
        goto out; /* someone else grew it meanwhile */
    if (!env_wait_empty(db, ENV_GROW_OPEN_WAIT_MS)) {
        db->env_closed = true;
        bool empty = env_wait_empty(db, ENV_GROW_CLOSED_WAIT_MS);
        db->env_closed = false;
        pthread_cond_broadcast(&db->env_cv);
        if (!empty) {
            rc = MDB_MAP_FULL;
            log_warn(db->opts.log, "tsdb", "Growing the LMDB map: transactions still open", "err",
                     "retrying later");
            goto out;
        }
    }
    if (atomic_load(&db->map_bytes) <= seen_bytes)
        rc = env_remap(db);
out:
    pthread_mutex_unlock(&db->env_mu);
    return rc;
}

int tsdb_write_with(struct tsdb *db, tsdb_write_fn fn, int (*commit_fn)(MDB_txn *txn, void *arg),
                    void *arg)
{
    for (int attempt = 1;; attempt++) {
        tsdb_env_enter(db);
        pthread_mutex_lock(&db->write_mu);
        uint64_t seen = atomic_load(&db->map_bytes);
        MDB_txn *txn;
        int rc = mdb_txn_begin(db->env, NULL, 0, &txn);
        if (rc == 0) {
            rc = fn(txn, arg);
            if (rc == 0)
                rc = commit_fn ? commit_fn(txn, arg) : mdb_txn_commit(txn); /* frees txn */
            else
                mdb_txn_abort(txn);
        }
        if (rc == 0)
            atomic_store(&db->map_written, true);
        else if (db->index)
            index_discard(db->index);
        pthread_mutex_unlock(&db->write_mu);
        tsdb_env_leave(db);
        if (rc != MDB_MAP_FULL || attempt == ENV_WRITE_ATTEMPTS)
            return rc;
        int g = tsdb_env_grow(db, seen);
        if (g != 0)
            return g;
    }
}

int tsdb_write(struct tsdb *db, tsdb_write_fn fn, void *arg)
{
    return tsdb_write_with(db, fn, NULL, arg);
}

void tsdb_env_lockfile_remove(const char *envdir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/lock.mdb", envdir);
    unlink(path); /* ENOENT is fine: already gone, or never made */
}

uint64_t tsdb_env_used_bytes(struct tsdb *db, MDB_txn *txn)
{
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(db->env, &info);
    mdb_env_stat(db->env, &st);
    uint64_t pages = (uint64_t)info.me_last_pgno + 1, free_pages = 0;
    MDB_cursor *c;
    if (mdb_cursor_open(txn, 0, &c) == 0) {
        MDB_val k, v;
        while (mdb_cursor_get(c, &k, &v, MDB_NEXT) == 0) {
            size_t n = 0; /* an IDL: the count, then the page numbers */
            if (v.mv_size >= sizeof n)
                memcpy(&n, v.mv_data, sizeof n);
            free_pages += n;
        }
        mdb_cursor_close(c);
    }
    if (free_pages > pages)
        free_pages = pages;
    return (pages - free_pages) * st.ms_psize;
}

/* Where this process maps the data file: LMDB reports the address only
 * for MDB_FIXEDMAP, so it is the mapping of the file's inode, of the map's
 * size, in /proc/self/maps; NULL if none is found.  Inside the gate. */
static void *env_map_find(struct tsdb *db, size_t mapsize)
{
    int fd;
    struct stat st;
    if (mdb_env_get_fd(db->env, &fd) != 0 || fstat(fd, &st) != 0)
        return NULL;
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return NULL;
    char line[512];
    void *addr = NULL;
    while (!addr && fgets(line, sizeof line, f)) {
        unsigned long lo, hi, ino;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &ino) == 3 &&
            ino == (unsigned long)st.st_ino && hi - lo == mapsize)
            addr = (void *)lo;
    }
    fclose(f);
    return addr;
}

void tsdb_env_pages_release(struct tsdb *db, bool always)
{
    if (!atomic_exchange(&db->map_written, false) && !always)
        return;
    tsdb_env_enter(db);
    MDB_envinfo info;
    MDB_stat st;
    mdb_env_info(db->env, &info);
    mdb_env_stat(db->env, &st);
    if (db->map_addr_size != info.me_mapsize) { /* first call, or the map was replaced */
        db->map_addr = env_map_find(db, info.me_mapsize);
        db->map_addr_size = info.me_mapsize;
    }
    size_t len = ((size_t)info.me_last_pgno + 1) * st.ms_psize;
    if (db->map_addr && len <= info.me_mapsize)
        madvise(db->map_addr, len, MADV_DONTNEED);
    tsdb_env_leave(db);
}
