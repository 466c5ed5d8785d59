/* main.c — the vigil command: subcommand dispatch and the server's start.
 *
 * `vigil [flags]` runs the server; `vigil check ...`, `vigil promqltest`,
 * `vigil test rules` and `vigil tsdb ...` are tools that run and exit.  Only main() exits;
 * everything below returns statuses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server.h"
#include "util/procstat.h"

static int server_main(int argc, char **argv)
{
    struct vigil_server s;
    memset(&s, 0, sizeof s);
    int rc = flags_parse(&s.flags, argc, argv, stdout, stderr);
    if (rc != 0) {
        flags_free(&s.flags);
        return rc == 1 ? 0 : 2;
    }
    enum log_level level;
    enum log_format format;
    if (log_level_parse(s.flags.log_level, &level) < 0 ||
        log_format_parse(s.flags.log_format, &format) < 0) {
        fprintf(stderr, "vigil: error: invalid --log.level '%s' or --log.format '%s', try --help\n",
                s.flags.log_level, s.flags.log_format);
        flags_free(&s.flags);
        return 2;
    }
    s.log = logger_new(2, level, format);
    rc = server_run(&s);
    logger_free(s.log);
    flags_free(&s.flags);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "check") == 0)
        return cmd_check(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "promqltest") == 0)
        return cmd_promqltest(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "test") == 0)
        return cmd_test(argc - 2, argv + 2);
    if (argc >= 2 && strcmp(argv[1], "tsdb") == 0)
        return cmd_tsdb(argc - 2, argv + 2);
    return server_main(argc - 1, argv + 1);
}
