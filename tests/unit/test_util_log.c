/* test_util_log.c — log lines in logfmt and JSON, levels, thread safety.
 *
 * Lines are written to a pipe (or a file for the threaded test) and read
 * back; the time field is checked for its shape and cut off, the rest is
 * compared byte for byte with what Prometheus 3 (slog) prints. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/log.h"

struct pipe_logger {
    int rd, wr;
    struct logger *lg;
};

static void pipe_logger_open(struct pipe_logger *p, enum log_level min, enum log_format fmt)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    fcntl(fds[0], F_SETFL, O_NONBLOCK);
    p->rd = fds[0];
    p->wr = fds[1];
    p->lg = logger_new(p->wr, min, fmt);
}

static void pipe_logger_close(struct pipe_logger *p)
{
    logger_free(p->lg);
    close(p->rd);
    close(p->wr);
}

/* Everything written so far (possibly ""), caller frees. */
static char *pipe_logger_drain(struct pipe_logger *p)
{
    static const size_t cap = 65536;
    char *buf = malloc(cap);
    ssize_t n = read(p->rd, buf, cap - 1);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* 2026-11-26T22:25:03.123Z */
static int is_timestamp(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        if (shape[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != shape[i])
            return 0;
    }
    return 1;
}

/* Checks a logfmt line's leading time field and returns what follows it. */
static const char *logfmt_after_time(const char *line)
{
    assert_memory_equal(line, "time=", 5);
    assert_true(is_timestamp(line + 5));
    assert_int_equal(line[5 + 24], ' ');
    return line + 5 + 25;
}

/* Checks a JSON line's leading time member and returns what follows it. */
static const char *json_after_time(const char *line)
{
    assert_memory_equal(line, "{\"time\":\"", 9);
    assert_true(is_timestamp(line + 9));
    assert_memory_equal(line + 9 + 24, "\",", 2);
    return line + 9 + 26;
}

static void test_parse(void **state)
{
    (void)state;
    enum log_level lvl = LOG_INFO;
    enum log_format fmt = LOG_FORMAT_LOGFMT;
    assert_int_equal(log_level_parse("debug", &lvl), 0);
    assert_int_equal(lvl, LOG_DEBUG);
    assert_int_equal(log_level_parse("warn", &lvl), 0);
    assert_int_equal(lvl, LOG_WARN);
    assert_int_equal(log_level_parse("error", &lvl), 0);
    assert_int_equal(lvl, LOG_ERROR);
    assert_int_equal(log_level_parse("info", &lvl), 0);
    assert_int_equal(lvl, LOG_INFO);
    assert_int_equal(log_level_parse("INFO", &lvl), -1);
    assert_int_equal(log_level_parse("warning", &lvl), -1);
    assert_int_equal(log_level_parse("", &lvl), -1);
    assert_int_equal(lvl, LOG_INFO);
    assert_int_equal(log_format_parse("json", &fmt), 0);
    assert_int_equal(fmt, LOG_FORMAT_JSON);
    assert_int_equal(log_format_parse("logfmt", &fmt), 0);
    assert_int_equal(fmt, LOG_FORMAT_LOGFMT);
    assert_int_equal(log_format_parse("text", &fmt), -1);
    assert_string_equal(log_level_name(LOG_WARN), "warn");
}

static void test_logfmt_line(void **state)
{
    (void)state;
    struct pipe_logger p;
    pipe_logger_open(&p, LOG_INFO, LOG_FORMAT_LOGFMT);
    log_info(p.lg, "web", "Start listening for connections", "address", "0.0.0.0:9090");
    char *out = pipe_logger_drain(&p);
    assert_string_equal(logfmt_after_time(out), "level=info component=web "
                                                "msg=\"Start listening for connections\" "
                                                "address=0.0.0.0:9090\n");
    free(out);
    pipe_logger_close(&p);
}

static void test_logfmt_quoting(void **state)
{
    (void)state;
    struct pipe_logger p;
    pipe_logger_open(&p, LOG_DEBUG, LOG_FORMAT_LOGFMT);
    log_warn(p.lg, "tsdb", "compaction", "empty", "", "eq", "a=b", "quote", "say \"hi\"", "bs",
             "C:\\dir", "nl", "one\ntwo", "ctl", "tab\there\x01", "utf8", "grüße");
    char *out = pipe_logger_drain(&p);
    assert_string_equal(logfmt_after_time(out),
                        "level=warn component=tsdb msg=compaction empty=\"\" eq=\"a=b\" "
                        "quote=\"say \\\"hi\\\"\" bs=C:\\dir nl=\"one\\ntwo\" "
                        "ctl=\"tab\\there\\x01\" utf8=grüße\n");
    free(out);
    pipe_logger_close(&p);
}

static void test_logfmt_missing_value_and_no_component(void **state)
{
    (void)state;
    struct pipe_logger p;
    pipe_logger_open(&p, LOG_DEBUG, LOG_FORMAT_LOGFMT);
    log_error(p.lg, NULL, "odd", "k", "v", "dangling");
    char *out = pipe_logger_drain(&p);
    assert_string_equal(logfmt_after_time(out), "level=error msg=odd k=v dangling=(MISSING)\n");
    free(out);
    pipe_logger_close(&p);
}

static void test_json_line(void **state)
{
    (void)state;
    struct pipe_logger p;
    pipe_logger_open(&p, LOG_DEBUG, LOG_FORMAT_JSON);
    log_debug(p.lg, "web", "Start listening for connections", "address", "0.0.0.0:9090", "err",
              "bad \"thing\"\n\\");
    log_info(p.lg, NULL, "bare");
    char *out = pipe_logger_drain(&p);
    char *second = strchr(out, '\n') + 1;
    assert_string_equal(json_after_time(second), "\"level\":\"info\",\"msg\":\"bare\"}\n");
    second[0] = '\0';
    assert_string_equal(json_after_time(out),
                        "\"level\":\"debug\",\"component\":\"web\","
                        "\"msg\":\"Start listening for connections\","
                        "\"address\":\"0.0.0.0:9090\",\"err\":\"bad \\\"thing\\\"\\n\\\\\"}\n");
    free(out);
    pipe_logger_close(&p);
}

static void test_level_filtering(void **state)
{
    (void)state;
    struct pipe_logger p;
    pipe_logger_open(&p, LOG_WARN, LOG_FORMAT_LOGFMT);
    assert_false(log_enabled(p.lg, LOG_INFO));
    assert_true(log_enabled(p.lg, LOG_WARN));
    assert_false(log_enabled(NULL, LOG_ERROR));
    log_debug(p.lg, "c", "hidden");
    log_info(p.lg, "c", "hidden");
    char *out = pipe_logger_drain(&p);
    assert_string_equal(out, "");
    free(out);
    log_warn(p.lg, "c", "shown");
    log_error(p.lg, "c", "shown");
    out = pipe_logger_drain(&p);
    char *line2 = strchr(out, '\n') + 1;
    assert_string_equal(logfmt_after_time(line2), "level=error component=c msg=shown\n");
    line2[0] = '\0';
    assert_string_equal(logfmt_after_time(out), "level=warn component=c msg=shown\n");
    free(out);
    pipe_logger_close(&p);
    log_error(NULL, "c", "discarded"); /* a NULL logger is a sink */
}

/* Lines from many threads never interleave: every line read back is whole. */
#define THREADS 4
#define LINES   500

static void *log_run(void *arg)
{
    struct logger *lg = arg;
    char id[32];
    snprintf(id, sizeof id, "%lu", (unsigned long)pthread_self());
    for (int i = 0; i < LINES; i++)
        log_info(lg, "worker", "a fairly long message so lines are not tiny", "thread", id,
                 "padding", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    return NULL;
}

static void test_threads_write_whole_lines(void **state)
{
    (void)state;
    char path[] = "/tmp/vigil-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fcntl(fd, F_SETFL, O_APPEND);
    struct logger *lg = logger_new(fd, LOG_INFO, LOG_FORMAT_LOGFMT);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, log_run, lg), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    logger_free(lg);
    FILE *f = fdopen(fd, "r");
    rewind(f);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        const char *rest = logfmt_after_time(line);
        assert_memory_equal(rest, "level=info component=worker msg=\"a fairly long", 46);
        assert_non_null(strstr(rest, " padding=xxxxxxxx"));
        assert_string_equal(strchr(rest, '\n'), "\n");
        n++;
    }
    assert_int_equal(n, THREADS * LINES);
    fclose(f);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_logfmt_line),
        cmocka_unit_test(test_logfmt_quoting),
        cmocka_unit_test(test_logfmt_missing_value_and_no_component),
        cmocka_unit_test(test_json_line),
        cmocka_unit_test(test_level_filtering),
        cmocka_unit_test(test_threads_write_whole_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
