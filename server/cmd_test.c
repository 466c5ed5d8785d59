/* cmd_test.c — `vigil test rules FILE...`: promtool's rule unit tests
 * (alerting/rules_unittest.c), with promtool's output and exit status. */
#include <stdio.h>
#include <string.h>

#include "alerting/rules.h"
#include "server/server.h"

int cmd_test(int argc, char **argv)
{
    bool help = argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0);
    if (help || argc < 2 || strcmp(argv[0], "rules") != 0) {
        fprintf(help ? stdout : stderr, "usage: vigil test rules TEST-FILE...\n");
        return help ? 0 : 2;
    }
    return rules_unittest_run((const char *const *)argv + 1, (size_t)argc - 1, stdout);
}
