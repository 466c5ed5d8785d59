/* procstat.c — reading /proc/self into the process_* metrics.
 *
 * Sources, as Prometheus's procfs library (behind client_golang) reads them:
 * /proc/self/stat gives utime and stime in clock ticks (divided by
 * sysconf(_SC_CLK_TCK)), vsize in bytes, rss in pages (times the page size)
 * and starttime in ticks since boot; /proc/stat's btime is the boot time in
 * Unix seconds, so start time = btime + starttime / ticks.  The limits come
 * from getrlimit (the soft limits procfs reads from /proc/self/limits), an
 * unlimited one reported as 2^64-1 like procfs does.  Open descriptors are
 * the entries of /proc/self/fd, minus the one used to list them.
 *
 * The start time never changes, so it is computed once at registration; the
 * rest is refreshed by the collector before each exposition.  The caller
 * owns struct procstat; the registry only borrows it as the collector's
 * context until procstat_free removes the collector.  The comm field
 * of /proc/self/stat may hold spaces and parentheses, so fields are counted
 * from the last ')'. */
#include "util/procstat.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

struct procstat {
    struct metrics_registry *reg; /* borrowed: where the collector is registered */
    struct metric *cpu_seconds;
    struct metric *resident_bytes;
    struct metric *virtual_bytes;
    struct metric *virtual_max_bytes;
    struct metric *open_fds;
    struct metric *max_fds;
    struct metric *start_time;
    double ticks_per_second;
    double page_size;
};

/* The /proc/self/stat fields Vigil exposes. */
struct proc_stat_fields {
    unsigned long long utime, stime, starttime, vsize;
    long long rss;
};

/* Reads a whole small /proc file into buf (NUL-terminated).  Returns the
 * length or -1. */
static ssize_t procstat_read_file(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = 0;
    while (len + 1 < n) {
        ssize_t r = read(fd, buf + len, n - 1 - len);
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    buf[len] = '\0';
    return (ssize_t)len;
}

/* Parses fields 14 (utime), 15 (stime), 22 (starttime), 23 (vsize) and
 * 24 (rss) of /proc/self/stat.  Returns 0 or -1. */
static int procstat_read_stat(struct proc_stat_fields *out)
{
    char buf[4096];
    if (procstat_read_file("/proc/self/stat", buf, sizeof buf) <= 0)
        return -1;
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt
     * majflt cmajflt utime(14) stime(15) cutime cstime priority nice
     * num_threads itrealvalue starttime(22) vsize(23) rss(24). */
    int n = sscanf(p + 1,
                   "%*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu"
                   " %*s %*s %*s %*s %*s %*s %llu %llu %lld",
                   &out->utime, &out->stime, &out->starttime, &out->vsize, &out->rss);
    return n == 5 ? 0 : -1;
}

/* btime from /proc/stat, or -1. */
static double procstat_boot_time(void)
{
    char buf[16384];
    if (procstat_read_file("/proc/stat", buf, sizeof buf) <= 0)
        return -1;
    const char *p = strstr(buf, "\nbtime ");
    if (!p)
        return -1;
    return strtod(p + 7, NULL);
}

/* Entries of /proc/self/fd other than the directory's own descriptor. */
static int procstat_count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int self = dirfd(d), n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (atoi(e->d_name) != self)
            n++;
    }
    closedir(d);
    return n;
}

/* A soft limit as procfs reports it: unlimited is 2^64-1. */
static double procstat_rlimit(int resource)
{
    struct rlimit rl;
    if (getrlimit(resource, &rl) != 0)
        return -1;
    if (rl.rlim_cur == RLIM_INFINITY)
        return (double)UINT64_MAX;
    return (double)rl.rlim_cur;
}

static void procstat_collect(void *ctx)
{
    struct procstat *ps = ctx;
    struct proc_stat_fields st;
    if (procstat_read_stat(&st) == 0) {
        metric_set(ps->cpu_seconds, (double)(st.utime + st.stime) / ps->ticks_per_second);
        metric_set(ps->virtual_bytes, (double)st.vsize);
        metric_set(ps->resident_bytes, (double)st.rss * ps->page_size);
    }
    int fds = procstat_count_fds();
    if (fds >= 0)
        metric_set(ps->open_fds, fds);
    double v = procstat_rlimit(RLIMIT_NOFILE);
    if (v >= 0)
        metric_set(ps->max_fds, v);
    v = procstat_rlimit(RLIMIT_AS);
    if (v >= 0)
        metric_set(ps->virtual_max_bytes, v);
}

/* Registers one family without labels and returns its only child. */
static struct metric *procstat_family(struct metrics_registry *reg, enum metric_type type,
                                      const char *name, const char *help)
{
    struct metric_family *f = type == METRIC_COUNTER ? metrics_counter_new(reg, name, help, NULL)
                                                     : metrics_gauge_new(reg, name, help, NULL);
    return f ? metric_family_with(f, NULL) : NULL;
}

static int procstat_families(struct procstat *ps, struct metrics_registry *reg)
{
    ps->cpu_seconds = procstat_family(reg, METRIC_COUNTER, "process_cpu_seconds_total",
                                      "Total user and system CPU time spent in seconds.");
    ps->open_fds =
        procstat_family(reg, METRIC_GAUGE, "process_open_fds", "Number of open file descriptors.");
    ps->max_fds = procstat_family(reg, METRIC_GAUGE, "process_max_fds",
                                  "Maximum number of open file descriptors.");
    ps->virtual_bytes = procstat_family(reg, METRIC_GAUGE, "process_virtual_memory_bytes",
                                        "Virtual memory size in bytes.");
    ps->virtual_max_bytes = procstat_family(reg, METRIC_GAUGE, "process_virtual_memory_max_bytes",
                                            "Maximum amount of virtual memory available in bytes.");
    ps->resident_bytes = procstat_family(reg, METRIC_GAUGE, "process_resident_memory_bytes",
                                         "Resident memory size in bytes.");
    ps->start_time = procstat_family(reg, METRIC_GAUGE, "process_start_time_seconds",
                                     "Start time of the process since unix epoch in seconds.");
    return ps->cpu_seconds && ps->open_fds && ps->max_fds && ps->virtual_bytes &&
                   ps->virtual_max_bytes && ps->resident_bytes && ps->start_time
               ? 0
               : -1;
}

struct procstat *procstat_register(struct metrics_registry *reg)
{
    struct procstat *ps = xcalloc(1, sizeof *ps);
    ps->reg = reg;
    long tck = sysconf(_SC_CLK_TCK);
    long page = sysconf(_SC_PAGESIZE);
    ps->ticks_per_second = tck > 0 ? (double)tck : 100;
    ps->page_size = page > 0 ? (double)page : 4096;
    if (procstat_families(ps, reg) != 0) {
        free(ps);
        return NULL;
    }
    struct proc_stat_fields st;
    double btime = procstat_boot_time();
    if (btime >= 0 && procstat_read_stat(&st) == 0)
        metric_set(ps->start_time, btime + (double)st.starttime / ps->ticks_per_second);
    metrics_registry_add_collector(reg, procstat_collect, ps);
    return ps;
}

void procstat_free(struct procstat *ps)
{
    if (!ps)
        return;
    metrics_registry_remove_collector(ps->reg, procstat_collect, ps);
    free(ps);
}
