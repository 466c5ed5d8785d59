/* Opening the data directory: creation, exclusive lock, reopen. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/tsdb.h"

static char *make_tmpdir(void)
{
    char tmpl[] = "/tmp/vigil-tsdb-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void rm_rf(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_open_creates_nested_dir(void **state)
{
    (void)state;
    char *tmp = make_tmpdir();
    char dir[512];
    snprintf(dir, sizeof dir, "%s/a/b/data/", tmp);
    struct tsdb *db = NULL;
    char err[256] = "";
    assert_int_equal(tsdb_open(dir, NULL, &db, err, sizeof err), 0);
    char lock[600];
    snprintf(lock, sizeof lock, "%s/a/b/data/lock", tmp);
    struct stat st;
    assert_int_equal(stat(lock, &st), 0);
    assert_string_equal(strrchr(tsdb_dir(db), '/'), "/data");
    tsdb_close(db);
    rm_rf(tmp);
    free(tmp);
}

static void test_second_open_is_refused_until_close(void **state)
{
    (void)state;
    char *tmp = make_tmpdir();
    struct tsdb *a = NULL, *b = NULL;
    char err[256] = "";
    assert_int_equal(tsdb_open(tmp, NULL, &a, err, sizeof err), 0);
    assert_int_equal(tsdb_open(tmp, NULL, &b, err, sizeof err), -1);
    assert_non_null(strstr(err, "held by another process"));
    tsdb_close(a);
    assert_int_equal(tsdb_open(tmp, NULL, &b, err, sizeof err), 0);
    tsdb_close(b);
    rm_rf(tmp);
    free(tmp);
}

/* A killed server leaves no stale lock: flock dies with the process. */
static void test_lock_released_by_killed_process(void **state)
{
    (void)state;
    char *tmp = make_tmpdir();
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    if (pid == 0) {
        struct tsdb *db;
        char err[256];
        if (tsdb_open(tmp, NULL, &db, err, sizeof err) < 0)
            _exit(1);
        if (write(ready[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    struct tsdb *db = NULL;
    char err[256] = "";
    assert_int_equal(tsdb_open(tmp, NULL, &db, err, sizeof err), 0);
    tsdb_close(db);
    close(ready[0]);
    close(ready[1]);
    rm_rf(tmp);
    free(tmp);
}

static void test_unwritable_path_reports_why(void **state)
{
    (void)state;
    struct tsdb *db = NULL;
    char err[256] = "";
    assert_int_equal(tsdb_open("/proc/vigil-cannot-exist/data", NULL, &db, err, sizeof err), -1);
    assert_non_null(strstr(err, "/proc/vigil-cannot-exist"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_creates_nested_dir),
        cmocka_unit_test(test_second_open_is_refused_until_close),
        cmocka_unit_test(test_lock_released_by_killed_process),
        cmocka_unit_test(test_unwritable_path_reports_why),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
