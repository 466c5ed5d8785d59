/* log.c — formatting and writing one log line per event.
 *
 * An event is assembled in a private sbuf (field order: time, level,
 * component, msg, then the caller's pairs) and handed to the kernel with a
 * single write(2), retried only for the unwritten tail after a short write
 * or EINTR.  Nothing in struct logger changes after logger_new, so there is
 * no lock: concurrent events cost one allocation each and never interleave
 * within a line as long as the kernel writes the line in one piece.
 *
 * logfmt follows Go's log/slog TextHandler, which Prometheus 3 uses:
 * a value is quoted when it is empty or has a space, '=', '"' or a control
 * byte, and a backslash alone does not force quoting.  JSON strings go
 * through sbuf_put_json_string. */
#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/sbuf.h"

struct logger {
    int fd; /* borrowed */
    enum log_level min;
    enum log_format fmt;
};

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const format_names[] = {"logfmt", "json"};

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = LOG_DEBUG; s && i <= LOG_ERROR; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -1;
}

int log_format_parse(const char *s, enum log_format *out)
{
    for (int i = LOG_FORMAT_LOGFMT; s && i <= LOG_FORMAT_JSON; i++) {
        if (strcmp(s, format_names[i]) == 0) {
            *out = (enum log_format)i;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level lvl)
{
    if ((int)lvl < LOG_DEBUG || lvl > LOG_ERROR)
        return "unknown";
    return level_names[lvl];
}

struct logger *logger_new(int fd, enum log_level min, enum log_format fmt)
{
    struct logger *lg = xmalloc(sizeof *lg);
    *lg = (struct logger){fd, min, fmt};
    return lg;
}

void logger_free(struct logger *lg)
{
    free(lg);
}

bool log_enabled(const struct logger *lg, enum log_level lvl)
{
    return lg && lvl >= lg->min;
}

/* Now as 2026-11-26T22:25:03.123Z into buf (n >= 32). */
static void log_format_time(char *buf, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    size_t len = strftime(buf, n, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + len, n - len, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

static int logfmt_needs_quoting(const char *s)
{
    if (!*s)
        return 1;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ' || c == '=' || c == '"' || c < 0x20)
            return 1;
    }
    return 0;
}

/* Quotes s as Go's strconv.Quote does for ASCII. */
static void logfmt_put_quoted(struct sbuf *b, const char *s)
{
    sbuf_putc(b, '"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"':
            sbuf_puts(b, "\\\"");
            break;
        case '\\':
            sbuf_puts(b, "\\\\");
            break;
        case '\n':
            sbuf_puts(b, "\\n");
            break;
        case '\r':
            sbuf_puts(b, "\\r");
            break;
        case '\t':
            sbuf_puts(b, "\\t");
            break;
        default:
            if (c < 0x20)
                sbuf_printf(b, "\\x%02x", c);
            else
                sbuf_putc(b, (char)c);
        }
    }
    sbuf_putc(b, '"');
}

static void logfmt_put_token(struct sbuf *b, const char *s)
{
    if (logfmt_needs_quoting(s))
        logfmt_put_quoted(b, s);
    else
        sbuf_puts(b, s);
}

/* Appends one field; first says no separator is needed before it. */
static void log_put_field(struct sbuf *b, enum log_format fmt, int first, const char *key,
                          const char *value)
{
    if (fmt == LOG_FORMAT_JSON) {
        if (!first)
            sbuf_putc(b, ',');
        sbuf_put_json_string(b, key, strlen(key));
        sbuf_putc(b, ':');
        sbuf_put_json_string(b, value, strlen(value));
        return;
    }
    if (!first)
        sbuf_putc(b, ' ');
    logfmt_put_token(b, key);
    sbuf_putc(b, '=');
    logfmt_put_token(b, value);
}

/* Writes all of p, retrying after EINTR and short writes. */
static void log_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        p += w;
        n -= (size_t)w;
    }
}

/* Builds the whole line: fixed fields, then the caller's pairs. */
static void log_format_line(const struct logger *lg, struct sbuf *b, enum log_level lvl,
                            const char *component, const char *msg, va_list ap)
{
    enum log_format fmt = lg->fmt;
    char now[48];
    log_format_time(now, sizeof now);
    if (fmt == LOG_FORMAT_JSON)
        sbuf_putc(b, '{');
    log_put_field(b, fmt, 1, "time", now);
    log_put_field(b, fmt, 0, "level", log_level_name(lvl));
    if (component)
        log_put_field(b, fmt, 0, "component", component);
    log_put_field(b, fmt, 0, "msg", msg ? msg : "");
    const char *key;
    while ((key = va_arg(ap, const char *)) != NULL) {
        const char *value = va_arg(ap, const char *);
        log_put_field(b, fmt, 0, key, value ? value : "(MISSING)");
        if (!value)
            break;
    }
    if (fmt == LOG_FORMAT_JSON)
        sbuf_putc(b, '}');
    sbuf_putc(b, '\n');
}

void log_at(struct logger *lg, enum log_level lvl, const char *component, const char *msg, ...)
{
    if (!log_enabled(lg, lvl))
        return;
    struct sbuf b = SBUF_INIT;
    va_list ap;
    va_start(ap, msg);
    log_format_line(lg, &b, lvl, component, msg, ap);
    va_end(ap);
    log_write_all(lg->fd, b.data, b.len);
    sbuf_free(&b);
}
