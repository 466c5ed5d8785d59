/* procstat.h — process_* metrics about Vigil itself.
 *
 * The same metrics, names and HELP texts as client_golang's process
 * collector, so dashboards built for Prometheus's own /metrics work:
 *
 *   process_cpu_seconds_total         counter  user + system CPU time
 *   process_resident_memory_bytes     gauge    RSS
 *   process_virtual_memory_bytes      gauge    VSZ
 *   process_virtual_memory_max_bytes  gauge    RLIMIT_AS soft limit
 *                                              (1.8446744073709552e+19 if unlimited)
 *   process_open_fds                  gauge    entries in /proc/self/fd
 *   process_max_fds                   gauge    RLIMIT_NOFILE soft limit
 *   process_start_time_seconds        gauge    /proc/stat btime + starttime
 *
 * Values are read from /proc/self by a collector that runs before each
 * exposition, on the scraping thread.  Linux only.  A read that fails leaves
 * the previous values in place. */
#ifndef VIGIL_UTIL_PROCSTAT_H
#define VIGIL_UTIL_PROCSTAT_H

#include "util/metrics.h"

struct procstat;

/* Registers the process_* families on reg and a collector that refreshes
 * them.  The caller owns the result and frees it with procstat_free.
 * Returns NULL if one of the names is already registered on reg (families
 * registered before the clash stay, exposed as 0). */
struct procstat *procstat_register(struct metrics_registry *reg);

/* Detaches the collector from the registry (waiting for a run in progress)
 * and frees ps; the families stay, frozen at their last values.  Call it
 * before metrics_registry_free.  NULL is a no-op. */
void procstat_free(struct procstat *ps);

#endif
