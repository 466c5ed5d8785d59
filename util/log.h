/* log.h — structured logging: one line per event, logfmt or JSON.
 *
 * An event is a level, a component, a message and key/value string pairs:
 *
 *   log_info(lg, "web", "Start listening for connections", "address", addr);
 *
 * logfmt (as Prometheus 3 prints it):
 *   time=2026-11-26T22:25:03.123Z level=info component=web
 *       msg="Start listening for connections" address=0.0.0.0:9090
 * JSON:
 *   {"time":"2026-11-26T22:25:03.123Z","level":"info","component":"web",
 *    "msg":"Start listening for connections","address":"0.0.0.0:9090"}
 * (each one line).  Time is UTC with milliseconds.  A logfmt value (or key)
 * is quoted when it is empty or contains a space, '=', '"' or a control
 * character, escaping \" \\ \n \r \t and \xHH as Go's strconv.Quote does.
 *
 * Threads: a logger is immutable after logger_new, so any thread may log
 * through it without a lock; each event is formatted in its own buffer and
 * written with one write(2) of the whole line, so lines from different
 * threads do not interleave (pipes guarantee this up to PIPE_BUF bytes,
 * regular files opened O_APPEND in practice).
 *
 * Note: the level names LOG_DEBUG/LOG_INFO clash with <syslog.h>'s macros;
 * do not include both in one file. */
#ifndef VIGIL_UTIL_LOG_H
#define VIGIL_UTIL_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_FORMAT_LOGFMT, LOG_FORMAT_JSON };

/* "debug", "info", "warn", "error" -> 0 and *out set; anything else -1. */
int log_level_parse(const char *s, enum log_level *out);
/* "logfmt", "json" -> 0 and *out set; anything else -1. */
int log_format_parse(const char *s, enum log_format *out);
/* "debug", "info", "warn", "error". */
const char *log_level_name(enum log_level lvl);

struct logger;

/* Logs events at min or above to fd.  The fd is borrowed: logger_free does
 * not close it. */
struct logger *logger_new(int fd, enum log_level min, enum log_format fmt);
void logger_free(struct logger *lg); /* NULL is a no-op */

/* Whether an event at lvl would be written (false for a NULL logger): lets a
 * caller skip formatting values nobody will see. */
bool log_enabled(const struct logger *lg, enum log_level lvl);

/* msg is followed by key, value pairs (const char *), terminated by a NULL
 * key.  A NULL value writes the key with the value "(MISSING)" and ends the
 * list (so an odd-length list is safe).  component may be NULL (no
 * component field).  A NULL logger discards the event.  Write errors are
 * ignored: there is nowhere left to report them. */
void log_at(struct logger *lg, enum log_level lvl, const char *component, const char *msg, ...)
    __attribute__((sentinel));

#define log_debug(lg, comp, ...) log_at(lg, LOG_DEBUG, comp, __VA_ARGS__, (const char *)NULL)
#define log_info(lg, comp, ...)  log_at(lg, LOG_INFO, comp, __VA_ARGS__, (const char *)NULL)
#define log_warn(lg, comp, ...)  log_at(lg, LOG_WARN, comp, __VA_ARGS__, (const char *)NULL)
#define log_error(lg, comp, ...) log_at(lg, LOG_ERROR, comp, __VA_ARGS__, (const char *)NULL)

#endif
