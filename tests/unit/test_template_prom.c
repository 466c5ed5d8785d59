/* Prometheus rule template expansion: tmpl_expand_prom against outputs of
 * the real Prometheus (promtool test rules, 2.42) and Go's text/template. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/template/template.h"
#include "util/sbuf.h"

static const struct label test_labels[] = {{"__name__", "up"}, {"instance", "h:9"}, {"job", "a"}};

static char *expand(const char *text, double value, int *rc, char *err, size_t errsz)
{
    struct labels ls = {test_labels, 3};
    struct labels ext = {NULL, 0};
    struct tmpl_prom_data d = {.name = "__alert_X",
                               .labels = &ls,
                               .external_labels = &ext,
                               .external_url = "http://prom.example:9090/prefix",
                               .value = value,
                               .now_ms = 1704164645123};
    struct sbuf out = SBUF_INIT;
    *rc = tmpl_expand_prom(text, &d, &out, err, errsz);
    return sbuf_detach(&out);
}

static void check(const char *text, double value, const char *want)
{
    char err[1024] = "";
    int rc;
    char *got = expand(text, value, &rc, err, sizeof err);
    if (rc != 0 || strcmp(got, want) != 0) {
        print_error("template %s\n  want %s\n  got  %s (rc %d, err %s)\n", text, want, got, rc,
                    err);
        free(got);
        fail();
    }
    free(got);
}

static void check_err(const char *text, double value, const char *want)
{
    char err[1024] = "";
    int rc;
    char *got = expand(text, value, &rc, err, sizeof err);
    if (rc == 0 || strcmp(err, want) != 0) {
        print_error("template %s\n  want error %s\n  got  %s (rc %d, output %s)\n", text, want, err,
                    rc, got);
        free(got);
        fail();
    }
    free(got);
}

static void test_basic(void **state)
{
    (void)state;
    check("[{{ $labels.missing }}]", 1, "[]");
    check("{{ 1e6 }} {{ $value }}", 1, "1e+06 1");
    check("{{ humanizeTimestamp 1704164645.1234567 }}", 1, "2024-01-02 03:04:05.123 +0000 UTC");
    check("{{ toTime 1704164645.5 }}", 1, "2024-01-02 03:04:05.5 +0000 UTC");
    check("{{ $labels }}|{{ . }}", 1,
          "map[__name__:up instance:h:9 job:a]|{map[__name__:up instance:h:9 job:a] map[] "
          "http://prom.example:9090/prefix 1}");
    check_err("{{ $value | humanize \"x\" }}", 1,
              "error executing template __alert_X: template: __alert_X:1:124: executing "
              "\"__alert_X\" at <humanize>: wrong number of args for humanize: want 1 got 2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_basic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
