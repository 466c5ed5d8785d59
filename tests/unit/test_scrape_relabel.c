/* test_scrape_relabel.c — relabeling, as a specification.
 *
 * Each case is a label set, a relabel_configs list written as the user
 * writes it in prometheus.yml (loaded through conf/, so Prometheus's
 * defaults and validation apply), and the result: the label set, sorted and
 * without empty values, or DROP.  The first block follows the cases of
 * Prometheus's model/relabel/relabel_test.go (TestRelabel) — same inputs,
 * same expected outputs; the rest pin down behaviour Prometheus has through
 * Go's regexp and Expand: full anchoring, `.` matching newlines, `$` only at
 * the end, `$1x` naming a group "1x", `$$`, named groups, the replace fast
 * path, Unicode case mapping, snapshots for labelmap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/relabel.h"

#define DROP "DROP"

struct rcase {
    const char *in;    /* "a=foo|b=bar": pairs split on '|' */
    const char *rules; /* YAML flow sequence of relabel_configs */
    const char *out;   /* expected, same notation, or DROP */
};

static void parse_set(const char *text, struct label_set *s)
{
    label_set_clear(s);
    char *dup = strdup(text), *save = NULL;
    for (char *p = strtok_r(dup, "|", &save); p; p = strtok_r(NULL, "|", &save)) {
        char *eq = strchr(p, '=');
        assert_non_null(eq);
        *eq = '\0';
        label_set_set(s, p, eq + 1);
    }
    free(dup);
}

static char *format_set(const struct label_set *s)
{
    struct sbuf b = SBUF_INIT;
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            sbuf_putc(&b, '|');
        sbuf_printf(&b, "%s=%s", s->v[i].name, s->v[i].value);
    }
    return sbuf_detach(&b);
}

static struct relabel_rules *compile_yaml(const char *rules)
{
    char yaml[4096];
    snprintf(yaml, sizeof yaml, "scrape_configs:\n  - job_name: t\n    relabel_configs: %s\n",
             rules);
    struct prom_config *c = NULL;
    struct conf_error err = {{0}};
    if (prom_config_load_string("test.yml", yaml, strlen(yaml), &c, &err) < 0)
        fail_msg("config %s: %s", rules, err.msg);
    struct relabel_rules *r = NULL;
    char msg[512];
    if (relabel_rules_compile(&c->scrape_configs[0].relabel_configs, PROM_NAMES_UTF8, &r, msg,
                              sizeof msg) < 0)
        fail_msg("compile %s: %s", rules, msg);
    prom_config_free(c); /* the rules keep their own copies */
    return r;
}

static void run_cases(const struct rcase *cases, size_t n)
{
    struct label_set s = LABEL_SET_INIT;
    for (size_t i = 0; i < n; i++) {
        struct relabel_rules *r = compile_yaml(cases[i].rules);
        parse_set(cases[i].in, &s);
        bool keep = relabel_apply(r, &s);
        char *got = keep ? format_set(&s) : strdup(DROP);
        if (strcmp(got, cases[i].out) != 0)
            fail_msg("case %zu: %s on {%s}\n  want %s\n  got  %s", i, cases[i].rules, cases[i].in,
                     cases[i].out, got);
        /* Sorted, no empty values. */
        for (size_t j = 0; keep && j < s.n; j++) {
            assert_true(*s.v[j].value != '\0');
            if (j)
                assert_true(strcmp(s.v[j - 1].name, s.v[j].name) < 0);
        }
        free(got);
        relabel_rules_free(r);
    }
    label_set_free(&s);
}

#define RUN(cases) run_cases(cases, sizeof cases / sizeof *cases)

/* model/relabel/relabel_test.go, TestRelabel. */
static void test_prometheus_cases(void **state)
{
    (void)state;
    static const struct rcase cases[] = {
        {"a=foo|b=bar|c=baz",
         "[{source_labels: [a], regex: 'f(.*)', target_label: d, replacement: 'ch${1}-ch${1}'}]",
         "a=foo|b=bar|c=baz|d=choo-choo"},
        {"a=foo|b=bar|c=baz",
         "[{source_labels: [a, b], regex: 'f(.*);(.*)r', target_label: a, replacement: "
         "'b${1}${2}m'}, {source_labels: [c, a], regex: '(b).*b(.*)ba(.*)', target_label: d, "
         "replacement: '$1$2$2$3'}]",
         "a=boobam|b=bar|c=baz|d=boooom"},
        {"a=foo",
         "[{source_labels: [a], regex: '.*o.*', action: drop}, {source_labels: [a], regex: "
         "'f(.*)', target_label: d, replacement: 'ch$1-ch$1'}]",
         DROP},
        {"a=foo|b=bar", "[{source_labels: [a], regex: '.*o.*', action: drop}]", DROP},
        {"a=abc", "[{source_labels: [a], regex: '.*(b).*', target_label: d}]", "a=abc|d=b"},
        {"a=foo", "[{source_labels: [a], regex: no-match, action: drop}]", "a=foo"},
        {"a=foo", "[{source_labels: [a], regex: 'f|o', action: drop}]", "a=foo"},
        {"a=foo", "[{source_labels: [a], regex: no-match, action: keep}]", DROP},
        {"a=foo", "[{source_labels: [a], regex: 'f.*', action: keep}]", "a=foo"},
        {"a=boo", "[{source_labels: [a], regex: f, target_label: b, replacement: bar}]", "a=boo"},
        {"a=foo|b=bar|c=baz",
         "[{source_labels: [c], target_label: d, action: hashmod, modulus: 1000}]",
         "a=foo|b=bar|c=baz|d=976"},
        {"a=foo\nbar", "[{source_labels: [a], target_label: b, action: hashmod, modulus: 1000}]",
         "a=foo\nbar|b=734"},
        {"a=foo|b1=bar|b2=baz", "[{regex: '(b.*)', replacement: 'bar_${1}', action: labelmap}]",
         "a=foo|b1=bar|b2=baz|bar_b1=bar|bar_b2=baz"},
        {"a=foo|__meta_my_bar=aaa|__meta_my_baz=bbb|__meta_other=ccc",
         "[{regex: '__meta_(my.*)', replacement: '${1}', action: labelmap}]",
         "__meta_my_bar=aaa|__meta_my_baz=bbb|__meta_other=ccc|a=foo|my_bar=aaa|my_baz=bbb"},
        {"a=some-name-value",
         "[{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${2}', "
         "target_label: '${1}'}]",
         "a=some-name-value|name=value"},
        {"a=some-name-value",
         "[{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${3}', "
         "target_label: '${1}'}]",
         "a=some-name-value"},
        {"a=some-name-0",
         "[{source_labels: [a], regex: 'some-([^-]+)-([^,]+)', replacement: '${1}', "
         "target_label: '${3}'}, {source_labels: [a], regex: 'some-([^-]+)(-[^,]+)', "
         "replacement: '${1}', target_label: '${3}'}]",
         "a=some-name-0"},
        {"__meta_sd_tags=path:/secret,job:some-job,label:foo=bar",
         "[{source_labels: [__meta_sd_tags], regex: '(?:.+,|^)path:(/[^,]+).*', replacement: "
         "'${1}', target_label: __metrics_path__}, {source_labels: [__meta_sd_tags], regex: "
         "'(?:.+,|^)job:([^,]+).*', replacement: '${1}', target_label: job}, {source_labels: "
         "[__meta_sd_tags], regex: '(?:.+,|^)label:([^=]+)=([^,]+).*', replacement: '${2}', "
         "target_label: '${1}'}]",
         "__meta_sd_tags=path:/secret,job:some-job,label:foo=bar|__metrics_path__=/secret|foo=bar|"
         "job=some-job"},
        {"__meta_kubernetes_pod_container_port_name=foo|"
         "__meta_kubernetes_pod_annotation_XXX_metrics_port=9091",
         "[{regex: '^__meta_kubernetes_pod_container_port_name$', action: labeldrop}, "
         "{source_labels: [__meta_kubernetes_pod_annotation_XXX_metrics_port], regex: '(.+)', "
         "replacement: metrics, target_label: __meta_kubernetes_pod_container_port_name}, "
         "{source_labels: [__meta_kubernetes_pod_container_port_name], regex: '^metrics$', "
         "action: keep}]",
         "__meta_kubernetes_pod_annotation_XXX_metrics_port=9091|"
         "__meta_kubernetes_pod_container_port_name=metrics"},
        {"a=foo|b1=bar|b2=baz", "[{regex: '(b.*)', action: labelkeep}]", "b1=bar|b2=baz"},
        {"a=foo|b1=bar|b2=baz", "[{regex: '(b.*)', action: labeldrop}]", "a=foo"},
        {"foo=bAr123Foo",
         "[{source_labels: [foo], action: uppercase, target_label: foo_uppercase}, "
         "{source_labels: [foo], action: lowercase, target_label: foo_lowercase}]",
         "foo=bAr123Foo|foo_lowercase=bar123foo|foo_uppercase=BAR123FOO"},
        {"__tmp_port=1234|__port1=1234|__port2=5678",
         "[{source_labels: [__tmp_port], action: keepequal, target_label: __port1}]",
         "__port1=1234|__port2=5678|__tmp_port=1234"},
        {"__tmp_port=1234|__port1=1234|__port2=5678",
         "[{source_labels: [__tmp_port], action: dropequal, target_label: __port1}]", DROP},
        {"__tmp_port=1234|__port1=1234|__port2=5678",
         "[{source_labels: [__tmp_port], action: dropequal, target_label: __port2}]",
         "__port1=1234|__port2=5678|__tmp_port=1234"},
        {"__tmp_port=1234|__port1=1234|__port2=5678",
         "[{source_labels: [__tmp_port], action: keepequal, target_label: __port2}]", DROP},
    };
    RUN(cases);
}

/* Go regexp and Regexp.Expand details. */
static void test_regex_and_expand(void **state)
{
    (void)state;
    static const struct rcase cases[] = {
        /* `.` matches a newline ((?s:)); `$` is end of text only. */
        {"a=foo\nbar", "[{source_labels: [a], regex: 'foo.bar', action: keep}]", "a=foo\nbar"},
        {"a=foo\n", "[{source_labels: [a], regex: 'foo', action: keep}]", DROP},
        {"a=foo\n", "[{source_labels: [a], regex: 'foo$', action: keep}]", DROP},
        /* Anchored on both sides even with alternation. */
        {"a=xfoo", "[{source_labels: [a], regex: 'foo|bar', action: keep}]", DROP},
        {"a=bar", "[{source_labels: [a], regex: 'foo|bar', action: keep}]", "a=bar"},
        /* $1x names a group called "1x": empty, so the target is deleted. */
        {"a=foo|b=old", "[{source_labels: [a], target_label: b, replacement: '$1x'}]", "a=foo"},
        {"a=foo", "[{source_labels: [a], target_label: b, replacement: '${1}x'}]", "a=foo|b=foox"},
        /* $$ is a literal $, a lone or malformed $ is kept. */
        {"a=foo", "[{source_labels: [a], target_label: b, replacement: '$$1'}]", "a=foo|b=$1"},
        {"a=foo", "[{source_labels: [a], target_label: b, replacement: 'x$'}]", "a=foo|b=x$"},
        {"a=foo", "[{source_labels: [a], target_label: b, replacement: '${1'}]", "a=foo|b=${1"},
        {"a=foo", "[{source_labels: [a], target_label: b, replacement: '$-1'}]", "a=foo|b=$-1"},
        /* $01 is a name (leading zero), $0 the whole match. */
        {"a=foo", "[{source_labels: [a], regex: 'f(o+)', target_label: b, replacement: '<$01>'}]",
         "a=foo|b=<>"},
        {"a=foo", "[{source_labels: [a], regex: 'f(o+)', target_label: b, replacement: '$0:$1'}]",
         "a=foo|b=foo:oo"},
        /* Named groups, both spellings. */
        {"a=host:9100",
         "[{source_labels: [a], regex: '(?P<host>[^:]+):(?<port>\\d+)', target_label: b, "
         "replacement: '${port}/$host'}]",
         "a=host:9100|b=9100/host"},
        /* A group that took no part expands to "". */
        {"a=x", "[{source_labels: [a], regex: '(y)?(x)', target_label: b, replacement: '[$1]$2'}]",
         "a=x|b=[]x"},
        /* Missing source labels join as "", with the separator. */
        {"b=2", "[{source_labels: [a, b], separator: '-', target_label: c}]", "b=2|c=-2"},
        {"a=1|b=2", "[{source_labels: [a, b], target_label: c}]", "a=1|b=2|c=1;2"},
        /* Fast path: empty value, default regex, no $: target = replacement. */
        {"x=1", "[{source_labels: [nope], target_label: env, replacement: prod}]", "env=prod|x=1"},
        {"x=1", "[{target_label: env, replacement: prod}]", "env=prod|x=1"},
        /* An empty replacement result deletes the target label. */
        {"x=1|env=old", "[{target_label: env, replacement: ''}]", "x=1"},
        {"x=1|env=old", "[{source_labels: [nope], regex: '(.*)', target_label: env}]", "x=1"},
        /* A regex that does not match the empty value: no change. */
        {"x=1|env=old", "[{source_labels: [nope], regex: '(.+)', target_label: env}]",
         "env=old|x=1"},
        /* Case mapping is Unicode; an empty result deletes. */
        {"a=ÄÖÜ straße", "[{source_labels: [a], target_label: l, action: lowercase}]",
         "a=ÄÖÜ straße|l=äöü straße"},
        {"a=ÄÖÜ straße", "[{source_labels: [a], target_label: u, action: uppercase}]",
         "a=ÄÖÜ straße|u=ÄÖÜ STRAßE"}, /* Go: simple mapping, ß stays */
        {"u=x", "[{source_labels: [nope], target_label: u, action: uppercase}]", ""},
        /* (?i) folds Unicode case. */
        {"a=ÄBC", "[{source_labels: [a], regex: '(?i)äbc', action: keep}]", "a=ÄBC"},
        /* labelmap walks the labels as they were before the rule. */
        {"a=1|b=2", "[{regex: '(.*)', replacement: 'x_$1', action: labelmap}]",
         "a=1|b=2|x_a=1|x_b=2"},
        {"a=1|b=2", "[{regex: '(a)', replacement: 'b', action: labelmap}]", "a=1|b=1"},
        /* labeldrop can remove __name__ and everything else. */
        {"__name__=up|job=x", "[{regex: '.*', action: labeldrop}]", ""},
        /* Hashmod on the joined value (shards across values). */
        {"a=foo|b=bar", "[{source_labels: [a, b], target_label: s, action: hashmod, modulus: 1}]",
         "a=foo|b=bar|s=0"},
    };
    RUN(cases);
}

static void test_md5(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        const char *hex;
    } v[] = {
        {0, "d41d8cd98f00b204e9800998ecf8427e"},   {55, "ef1772b6dff9a122358552954ad0df65"},
        {56, "3b0c8ac703f828b04c6c197006d17218"},  {64, "014842d480b571495a4a0363793f7367"},
        {119, "8a7bd0732ed6a28ce75f6dabc90e1613"}, {1000, "cabe45dcc9ae5b66ba86600cca6b8ba8"},
    };
    char buf[1000];
    memset(buf, 'a', sizeof buf);
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        uint8_t d[16];
        char hex[33];
        relabel_md5(buf, v[i].len, d);
        for (int j = 0; j < 16; j++)
            snprintf(hex + 2 * j, 3, "%02x", d[j]);
        assert_string_equal(hex, v[i].hex);
    }
    uint8_t d[16];
    relabel_md5("abc", 3, d);
    assert_int_equal(d[0], 0x90);
    assert_int_equal(d[15], 0x72);
}

/* Rules built by hand (not through the loader): compile errors and the
 * match limit. */
static void test_compile_errors_and_limit(void **state)
{
    (void)state;
    char *src[] = {"a"};
    struct prom_relabel r = {
        .source_labels = {src, 1},
        .separator = ";",
        .regex = "(",
        .target_label = "",
        .replacement = "$1",
        .action = PROM_RELABEL_KEEP,
        .pos = {7, 5},
    };
    struct prom_relabel_list list = {&r, 1};
    struct relabel_rules *rs = NULL;
    char msg[256];
    assert_int_equal(relabel_rules_compile(&list, PROM_NAMES_UTF8, &rs, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "rule 0 (line 7): regex \"(\""));

    r.action = PROM_RELABEL_HASHMOD;
    r.regex = "(.*)";
    r.target_label = "s";
    assert_int_equal(relabel_rules_compile(&list, PROM_NAMES_UTF8, &rs, msg, sizeof msg), -1);
    assert_non_null(strstr(msg, "non-zero modulus"));

    /* Exponential backtracking stops at the match limit and counts as no
     * match (so keep drops). */
    r.action = PROM_RELABEL_KEEP;
    r.regex = "(a|aa)*(b|c)";
    r.target_label = "";
    assert_int_equal(relabel_rules_compile(&list, PROM_NAMES_UTF8, &rs, msg, sizeof msg), 0);
    struct label_set s = LABEL_SET_INIT;
    label_set_set(&s, "a",
                  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaad");
    assert_false(relabel_apply(rs, &s));
    assert_int_equal(relabel_rules_limit_hits(rs), 1);
    label_set_free(&s);
    relabel_rules_free(rs);

    /* No rules: unchanged. */
    assert_int_equal(relabel_rules_compile(NULL, PROM_NAMES_UTF8, &rs, msg, sizeof msg), 0);
    assert_int_equal(relabel_rules_count(rs), 0);
    label_set_set(&s, "a", "1");
    assert_true(relabel_apply(rs, &s));
    assert_int_equal(s.n, 1);
    label_set_free(&s);
    relabel_rules_free(rs);
}

/* Legacy name validation: a replace whose expanded target is not a legacy
 * name is skipped. */
static void test_target_validity_legacy(void **state)
{
    (void)state;
    char *src[] = {"a"};
    struct prom_relabel r = {
        .source_labels = {src, 1},
        .separator = ";",
        .regex = "(.*)",
        .target_label = "${1}",
        .replacement = "v",
        .action = PROM_RELABEL_REPLACE,
    };
    struct prom_relabel_list list = {&r, 1};
    struct relabel_rules *rs = NULL;
    char msg[256];
    struct label_set s = LABEL_SET_INIT;
    for (int legacy = 0; legacy < 2; legacy++) {
        assert_int_equal(relabel_rules_compile(&list, legacy ? PROM_NAMES_LEGACY : PROM_NAMES_UTF8,
                                               &rs, msg, sizeof msg),
                         0);
        label_set_clear(&s);
        label_set_set(&s, "a", "dotted.name");
        assert_true(relabel_apply(rs, &s));
        assert_string_equal(label_set_get(&s, "dotted.name"), legacy ? "" : "v");
        relabel_rules_free(rs);
    }
    label_set_free(&s);
}

static void test_label_set(void **state)
{
    (void)state;
    struct label_set s = LABEL_SET_INIT, t = LABEL_SET_INIT;
    label_set_set(&s, "z", "1");
    label_set_set(&s, "a", "2");
    label_set_set(&s, "m", "3");
    label_set_set(&s, "a", "4");
    label_set_set(&s, "m", "");
    assert_int_equal(s.n, 2);
    struct labels v = label_set_view(&s);
    assert_string_equal(v.v[0].name, "a");
    assert_string_equal(v.v[0].value, "4");
    assert_string_equal(v.v[1].name, "z");
    label_set_copy(&t, &s);
    label_set_del(&s, "a");
    assert_string_equal(label_set_get(&t, "a"), "4");
    assert_string_equal(label_set_get(&s, "a"), "");
    struct sbuf b = SBUF_INIT;
    label_set_set(&t, "q", "say \"hi\"\n");
    label_set_format(&t, &b);
    assert_string_equal(b.data, "{a=\"4\", q=\"say \\\"hi\\\"\\n\", z=\"1\"}");
    sbuf_free(&b);
    label_set_free(&s);
    label_set_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prometheus_cases),
        cmocka_unit_test(test_regex_and_expand),
        cmocka_unit_test(test_md5),
        cmocka_unit_test(test_compile_errors_and_limit),
        cmocka_unit_test(test_target_validity_legacy),
        cmocka_unit_test(test_label_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
