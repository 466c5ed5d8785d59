/* cmd_promqltest.c — `vigil promqltest FILE...`: runs Prometheus's PromQL
 * test scripts against Vigil's evaluator (query/promqltest.c) and exits 0
 * only when every eval block of every file passed. */
#include <stdio.h>
#include <string.h>

#include "query/promql.h"
#include "server/server.h"

int cmd_promqltest(int argc, char **argv)
{
    if (argc < 1 || strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0) {
        fprintf(argc < 1 ? stderr : stdout, "usage: vigil promqltest FILE...\n");
        return argc < 1 ? 2 : 0;
    }
    int status = 0;
    struct promqltest_stats total = {0, 0, 0};
    for (int i = 0; i < argc; i++) {
        struct promqltest_stats st;
        if (argc > 1)
            printf("== %s\n", argv[i]);
        int rc = promqltest_run_file(argv[i], stdout, &st);
        total.passed += st.passed;
        total.failed += st.failed;
        total.skipped += st.skipped;
        if (rc != 0)
            status = 1;
    }
    /* The last line counts every file's eval blocks: N passed, N failed,
     * N skipped (each file's own count ends its part). */
    if (argc > 1)
        printf("%d passed, %d failed, %d skipped\n", total.passed, total.failed, total.skipped);
    fflush(stdout);
    return status;
}
