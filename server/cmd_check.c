/* cmd_check.c — `vigil check config FILE...`.
 *
 * One command for what users run promtool and amtool for: a prometheus.yml
 * is checked with every rule file it names (like `promtool check config`),
 * an alertmanager.yml like `amtool check-config`.  The output mimics both
 * tools line for line so scripts that grep them keep working; the exit
 * status is 0 when every file is valid, 1 otherwise, 2 on a usage error. */
#include <stdio.h>
#include <string.h>

#include "query/promql.h"
#include "server/server.h"

/* The PromQL parser checks each rule's expression, as promtool does. */
static int rule_expr_validate(const char *expr, void *arg, char *msg, size_t msgsize)
{
    (void)arg;
    struct promql_arena *a = promql_arena_new();
    struct promql_parse_error e;
    struct promql_expr *x = promql_parse(a, expr, strlen(expr), PROMQL_FEATURES_DEFAULT, &e);
    if (!x)
        snprintf(msg, msgsize, "%s", e.msg);
    promql_arena_free(a);
    return x ? 0 : -1;
}

static int check_rule_file(const char *path)
{
    struct rule_file *rf;
    struct conf_error err = {{0}};
    struct rule_file_options opts = {.validate_expr = rule_expr_validate};
    printf("Checking %s\n", path);
    if (rule_file_load_opts(path, &opts, &rf, &err) < 0) {
        printf("  FAILED:\n%s\n\n", err.msg);
        return -1;
    }
    printf("  SUCCESS: %zu rules found\n\n", rule_file_rule_count(rf));
    rule_file_free(rf);
    return 0;
}

static int check_prometheus(const char *path)
{
    struct prom_config *c;
    struct conf_error err = {{0}};
    printf("Checking %s\n", path);
    if (prom_config_load_file(path, &c, &err) < 0) {
        printf("  FAILED: %s\n\n", err.msg);
        return -1;
    }
    struct ystrlist files = {0};
    if (prom_config_rule_files(c, &files, &err) < 0) {
        printf("  FAILED: %s\n\n", err.msg);
        prom_config_free(c);
        return -1;
    }
    printf("  SUCCESS: %zu rule files found\n", files.n);
    printf(" SUCCESS: %s is valid prometheus config file syntax\n\n", path);
    int rc = 0;
    for (size_t i = 0; i < files.n; i++)
        rc |= check_rule_file(files.v[i]);
    ystrlist_free(&files);
    prom_config_free(c);
    return rc;
}

static int check_alertmanager(const char *path)
{
    struct am_config *c;
    struct conf_error err = {{0}};
    if (am_config_load_file(path, &c, &err) < 0) {
        printf("Checking '%s'  FAILED: %s\n\n", path, err.msg);
        return -1;
    }
    struct am_config_summary sum;
    am_config_summarize(c, &sum);
    printf("Checking '%s'  SUCCESS\nFound:\n", path);
    if (sum.has_global)
        printf(" - global config\n");
    if (sum.has_route)
        printf(" - route\n");
    printf(" - %zu inhibit rules\n - %zu receivers\n - %zu templates\n\n", sum.inhibit_rules,
           sum.receivers, sum.templates);
    am_config_free(c);
    return 0;
}

static int check_config_files(int argc, char **argv)
{
    if (argc < 1) {
        fprintf(stderr, "vigil: error: required argument 'config-files' not provided\n");
        return 2;
    }
    int failed = 0;
    for (int i = 0; i < argc; i++) {
        int rc;
        switch (conf_file_kind(argv[i])) {
        case CONF_KIND_ALERTMANAGER:
            rc = check_alertmanager(argv[i]);
            break;
        default:
            rc = check_prometheus(argv[i]);
            break;
        }
        failed |= rc != 0;
    }
    return failed ? 1 : 0;
}

int cmd_check(int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "config") == 0)
        return check_config_files(argc - 1, argv + 1);
    if (argc >= 1 && strcmp(argv[0], "rules") == 0) {
        int failed = 0;
        for (int i = 1; i < argc; i++)
            failed |= check_rule_file(argv[i]) != 0;
        return argc < 2 ? 2 : failed ? 1 : 0;
    }
    fprintf(stderr, "usage: vigil check config FILE... | vigil check rules FILE...\n");
    return 2;
}
