/* test_conf_amconfig.c — the alertmanager.yml loader, as a specification.
 *
 * What Alertmanager 0.25 does with a config file, Vigil must do: the same
 * verdict, the same defaults, the same inheritance.  These tests pin that
 * down on the seed stack's real alertmanager.yml, on small inline configs,
 * and on the files in data/am/: every valid_*.yml must load, every
 * invalid_*.yml must fail with the message in its first line
 * ("# expect: line:col: path: reason").  `amtool check-config` (0.25) gives
 * the same verdict on every one of those files.
 *
 * Runs with cwd = tests/unit; VIGIL_SRC points at the source tree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/amconfig.h"

#define DATA_DIR "data/am"

/* ---- helpers ---- */

static struct am_config *load(const char *yaml)
{
    struct am_config *c = NULL;
    struct conf_error err = {{0}};
    int rc = am_config_load_string("am.yml", yaml, strlen(yaml), &c, &err);
    if (rc != 0)
        fail_msg("unexpected load error: %s", err.msg);
    assert_non_null(c);
    return c;
}

/* Loads yaml expecting failure; returns the message (static buffer). */
static const char *load_error(const char *yaml)
{
    static struct conf_error err;
    struct am_config *c = NULL;
    memset(&err, 0, sizeof err);
    int rc = am_config_load_string("am.yml", yaml, strlen(yaml), &c, &err);
    if (rc == 0) {
        am_config_free(c);
        fail_msg("config loaded but should not have:\n%s", yaml);
    }
    assert_null(c);
    return err.msg;
}

static void assert_matcher(const struct am_matcher *m, const char *name, enum am_match_op op,
                           const char *value)
{
    assert_string_equal(m->name, name);
    assert_int_equal(m->op, op);
    assert_string_equal(m->value, value);
    if (op == AM_MATCH_RE || op == AM_MATCH_NRE)
        assert_non_null(m->re);
    else
        assert_null(m->re);
}

static void assert_strlist(const struct ystrlist *l, size_t n, ...)
{
    va_list ap;
    assert_int_equal(l->n, n);
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(l->v[i], va_arg(ap, const char *));
    va_end(ap);
}

#define SEC  1000LL
#define MIN  (60 * SEC)
#define HOUR (60 * MIN)

/* ---- the seed stack's alertmanager.yml ---- */

static int seed_setup(void **state)
{
    const char *src = getenv("VIGIL_SRC");
    char path[4096];
    snprintf(path, sizeof path, "%s/../shared/fixtures/seedstack/alertmanager.yml",
             src ? src : "../..");
    FILE *f = fopen(path, "r");
    if (!f) {
        *state = NULL;
        return 0;
    }
    fclose(f);
    struct am_config *c = NULL;
    struct conf_error err = {{0}};
    if (am_config_load_file(path, &c, &err) != 0) {
        fprintf(stderr, "seedstack: %s\n", err.msg);
        return -1;
    }
    *state = c;
    return 0;
}

static int seed_teardown(void **state)
{
    am_config_free(*state);
    return 0;
}

#define SEED_OR_SKIP(c)                                                                            \
    const struct am_config *c = *state;                                                            \
    if (!c)                                                                                        \
    skip()

static void test_seed_root_route(void **state)
{
    SEED_OR_SKIP(c);
    const struct am_route *r = c->route;
    assert_string_equal(r->receiver, "default-receiver");
    assert_strlist(&r->group_by, 2, "alertname", "service");
    assert_false(r->group_by_all);
    assert_int_equal(r->group_wait_ms, 30 * SEC);
    assert_int_equal(r->group_interval_ms, 5 * MIN);
    assert_int_equal(r->repeat_interval_ms, 4 * HOUR);
    assert_int_equal(r->matchers.n, 0);
    assert_false(r->continue_matching);
    assert_int_equal(r->nroutes, 8);
    assert_int_equal(c->global.resolve_timeout_ms, 5 * MIN);
}

static void test_seed_child_routes(void **state)
{
    SEED_OR_SKIP(c);
    const struct am_route *w = &c->route->routes[0];
    assert_string_equal(w->receiver, "heartbeat");
    assert_int_equal(w->matchers.n, 1);
    assert_matcher(&w->matchers.v[0], "alertname", AM_MATCH_EQ, "Watchdog");
    assert_strlist(&w->group_by, 1, "alertname");
    assert_int_equal(w->group_wait_ms, 0);
    assert_true(w->group_wait_set);
    assert_int_equal(w->group_interval_ms, 1 * MIN);
    assert_int_equal(w->repeat_interval_ms, 1 * HOUR);

    const struct am_route *crit = &c->route->routes[1];
    assert_string_equal(crit->receiver, "critical-alerts");
    assert_true(crit->continue_matching);
    assert_matcher(&crit->matchers.v[0], "severity", AM_MATCH_EQ, "critical");
    assert_strlist(&crit->group_by, 3, "alertname", "service", "instance");

    /* security: no group_by of its own, so the root's. */
    const struct am_route *sec = &c->route->routes[2];
    assert_false(sec->group_by_set);
    assert_strlist(&sec->group_by, 2, "alertname", "service");
    assert_int_equal(sec->group_wait_ms, 10 * SEC);
    assert_int_equal(sec->repeat_interval_ms, 3 * HOUR);

    /* database: `match:` becomes an equality matcher. */
    const struct am_route *db = &c->route->routes[4];
    assert_matcher(&db->matchers.v[0], "team", AM_MATCH_EQ, "database");
    assert_string_equal(db->receiver, "database-team");
}

static void test_seed_nested_route_inherits(void **state)
{
    SEED_OR_SKIP(c);
    const struct am_route *dev = &c->route->routes[5];
    assert_string_equal(dev->receiver, "development-team");
    assert_int_equal(dev->nroutes, 1);
    const struct am_route *n = &dev->routes[0];
    /* Only match_re and group_by are written; the rest is the parent's. */
    assert_false(n->receiver_set);
    assert_string_equal(n->receiver, "development-team");
    assert_int_equal(n->group_wait_ms, 30 * SEC);
    assert_int_equal(n->group_interval_ms, 2 * MIN);
    assert_int_equal(n->repeat_interval_ms, 2 * HOUR);
    assert_strlist(&n->group_by, 3, "alertname", "service", "instance");
    assert_int_equal(n->matchers.n, 1);
    /* match_re values are held anchored, as in Alertmanager's group keys. */
    assert_matcher(&n->matchers.v[0], "alertname", AM_MATCH_RE,
                   "^(?:(High|Critical|Endpoint.*)ErrorRate|.*ResponseTime)$");
    assert_true(am_matcher_matches(&n->matchers.v[0], "HighErrorRate"));
    assert_true(am_matcher_matches(&n->matchers.v[0], "EndpointFooErrorRate"));
    assert_true(am_matcher_matches(&n->matchers.v[0], "SlowResponseTime"));
    assert_false(am_matcher_matches(&n->matchers.v[0], "HighErrorRateX"));
    assert_false(am_matcher_matches(&n->matchers.v[0], "LowErrorRate"));
}

static void test_seed_time_interval_refs(void **state)
{
    SEED_OR_SKIP(c);
    const struct am_route *ops = &c->route->routes[6], *biz = &c->route->routes[7];
    assert_strlist(&ops->mute_time_intervals, 1, "maintenance-window");
    assert_int_equal(ops->active_time_intervals.n, 0);
    assert_strlist(&biz->active_time_intervals, 1, "business-hours");
    assert_int_equal(biz->repeat_interval_ms, 12 * HOUR);
    assert_non_null(am_config_time_interval(c, "business-hours"));
    assert_null(am_config_time_interval(c, "weekend"));
}

static void test_seed_inhibit_rules(void **state)
{
    SEED_OR_SKIP(c);
    assert_int_equal(c->ninhibit_rules, 3);
    const struct am_inhibit_rule *r0 = &c->inhibit_rules[0], *r1 = &c->inhibit_rules[1],
                                 *r2 = &c->inhibit_rules[2];
    assert_matcher(&r0->source.v[0], "severity", AM_MATCH_EQ, "critical");
    assert_matcher(&r0->target.v[0], "severity", AM_MATCH_EQ, "warning");
    assert_strlist(&r0->equal, 1, "instance");
    assert_matcher(&r1->target.v[0], "alertname", AM_MATCH_RE, ".*(ErrorRate|ResponseTime)");
    assert_true(am_matcher_matches(&r1->target.v[0], "HighErrorRate"));
    assert_false(am_matcher_matches(&r1->target.v[0], "ServiceDown"));
    assert_strlist(&r1->equal, 1, "job");
    assert_strlist(&r2->equal, 2, "instance", "database");
}

static void test_seed_receivers(void **state)
{
    SEED_OR_SKIP(c);
    assert_int_equal(c->nreceivers, 9);
    const struct am_receiver *hb = am_config_receiver(c, "heartbeat");
    assert_non_null(hb);
    assert_int_equal(hb->nwebhook, 1);
    assert_string_equal(hb->webhook[0].url, "http://127.0.0.1:5001/webhook/heartbeat");
    assert_false(hb->webhook[0].send_resolved);
    const struct am_receiver *def = am_config_receiver(c, "default-receiver");
    assert_true(def->webhook[0].send_resolved); /* webhook default */
    assert_int_equal(def->webhook[0].max_alerts, 0);
    /* No http_config of its own: the global one, with its defaults. */
    assert_null(def->webhook[0].http_config_own);
    assert_ptr_equal(def->webhook[0].http_config, c->global.http_config);
    assert_true(def->webhook[0].http_config->follow_redirects);
    assert_true(def->webhook[0].http_config->enable_http2);
    assert_int_equal(am_config_receiver(c, "info-digest")->webhook[0].max_alerts, 20);
    assert_null(am_config_receiver(c, "nobody"));
}

static void test_seed_time_intervals(void **state)
{
    SEED_OR_SKIP(c);
    assert_int_equal(c->ntime_intervals, 2);
    const struct am_time_interval *bh = am_config_time_interval(c, "business-hours");
    assert_false(bh->deprecated_section);
    assert_int_equal(bh->nspecs, 1);
    const struct am_time_interval_spec *s = &bh->specs[0];
    assert_int_equal(s->present, AM_TI_WEEKDAYS | AM_TI_TIMES);
    assert_int_equal(s->nweekdays, 1);
    assert_int_equal(s->weekdays[0].begin, 1);
    assert_int_equal(s->weekdays[0].end, 5);
    assert_int_equal(s->ntimes, 1);
    assert_int_equal(s->times[0].start_minute, 9 * 60);
    assert_int_equal(s->times[0].end_minute, 17 * 60);
    assert_string_equal(s->location, "Europe/London");
    const struct am_time_interval_spec *m =
        &am_config_time_interval(c, "maintenance-window")->specs[0];
    assert_int_equal(m->weekdays[0].begin, 0);
    assert_int_equal(m->weekdays[0].end, 0);
    assert_int_equal(m->times[0].start_minute, 120);
    assert_int_equal(m->times[0].end_minute, 240);
    assert_string_equal(m->location, "UTC");
}

static void test_seed_summary(void **state)
{
    SEED_OR_SKIP(c);
    struct am_config_summary s;
    am_config_summarize(c, &s);
    assert_int_equal(s.receivers, 9);
    assert_int_equal(s.inhibit_rules, 3);
    assert_int_equal(s.templates, 0);
    assert_int_equal(s.time_intervals, 2);
    assert_true(s.has_global);
    assert_true(s.has_route);
}

/* ---- data/am: valid and invalid files ---- */

static bool has_prefix_suffix(const char *name, const char *prefix)
{
    size_t n = strlen(name), p = strlen(prefix);
    return n > p + 4 && strncmp(name, prefix, p) == 0 && strcmp(name + n - 4, ".yml") == 0;
}

static size_t for_each_data_file(const char *prefix, void (*fn)(const char *path))
{
    DIR *d = opendir(DATA_DIR);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (!has_prefix_suffix(e->d_name, prefix))
            continue;
        char path[512];
        snprintf(path, sizeof path, DATA_DIR "/%s", e->d_name);
        fn(path);
        n++;
    }
    closedir(d);
    return n;
}

static void check_valid_file(const char *path)
{
    struct am_config *c = NULL;
    struct conf_error err = {{0}};
    if (am_config_load_file(path, &c, &err) != 0)
        fail_msg("%s should load: %s", path, err.msg);
    assert_non_null(c->route);
    am_config_free(c);
}

static void check_invalid_file(const char *path)
{
    char line[1024], want[1200];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char *got_line = fgets(line, sizeof line, f);
    fclose(f);
    assert_non_null(got_line);
    line[strcspn(line, "\n")] = '\0';
    if (strncmp(line, "# expect: ", 10) != 0)
        fail_msg("%s: first line must be '# expect: line:col: ...'", path);
    snprintf(want, sizeof want, "%s:%s", path, line + 10);
    struct am_config *c = NULL;
    struct conf_error err = {{0}};
    if (am_config_load_file(path, &c, &err) == 0) {
        am_config_free(c);
        fail_msg("%s should not load", path);
    }
    assert_null(c);
    assert_string_equal(err.msg, want);
}

static void test_valid_files(void **state)
{
    (void)state;
    assert_true(for_each_data_file("valid_", check_valid_file) >= 5);
}

static void test_invalid_files(void **state)
{
    (void)state;
    assert_true(for_each_data_file("invalid_", check_invalid_file) >= 20);
}

/* ---- matcher syntax ---- */

static void test_matchers_parse_forms(void **state)
{
    (void)state;
    struct am_matchers ms = {0};
    char err[256];
    assert_int_equal(
        am_matchers_parse("{foo = \"bar\", dings != \"bums\", }", &ms, err, sizeof err), 0);
    assert_int_equal(ms.n, 2);
    assert_matcher(&ms.v[0], "foo", AM_MATCH_EQ, "bar");
    assert_matcher(&ms.v[1], "dings", AM_MATCH_NE, "bums");
    assert_int_equal(am_matchers_parse("code=~5.., job!~\"node|cadvisor\"", &ms, err, sizeof err),
                     0);
    assert_int_equal(ms.n, 4);
    assert_matcher(&ms.v[2], "code", AM_MATCH_RE, "5..");
    assert_matcher(&ms.v[3], "job", AM_MATCH_NRE, "node|cadvisor");
    /* Escapes in quoted values; a stray backslash stays literal. */
    assert_int_equal(am_matchers_parse("q=\"say \\\"hi, there\\\"\\n\\d\"", &ms, err, sizeof err),
                     0);
    assert_matcher(&ms.v[4], "q", AM_MATCH_EQ, "say \"hi, there\"\n\\d");
    /* Empty value, colon in the name, whitespace around tokens. */
    assert_int_equal(am_matchers_parse("  a:b =  ", &ms, err, sizeof err), 0);
    assert_matcher(&ms.v[5], "a:b", AM_MATCH_EQ, "");
    /* Nothing at all is no matcher. */
    assert_int_equal(am_matchers_parse("", &ms, err, sizeof err), 0);
    assert_int_equal(am_matchers_parse("{}", &ms, err, sizeof err), 0);
    assert_int_equal(ms.n, 6);
    am_matchers_free(&ms);
}

static void test_matchers_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in, *err;
    } cases[] = {
        {"1a=b", "bad matcher format: 1a=b"},
        {"a", "bad matcher format: a"},
        {"a=b,,c=d", "bad matcher format: "},
        {"a~=b", "bad matcher format: a~=b"},
        {"a=\"b", "matcher value contains unescaped double quote: \"b"},
        {"a=b\"", "matcher value contains unescaped double quote: b\""},
        {"a=\"x\"y\"", "matcher value contains unescaped double quote: \"x\"y\""},
        {"a=\"\xff\"", "matcher value not valid UTF-8: \"\xff\""},
        {"a=~(", "error parsing regexp: missing closing parenthesis: `^(?:()$`"},
        {"a=~x(?=y)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"},
        {"a=~(\\w)\\1", "error parsing regexp: invalid escape sequence: `\\1`"},
        {"a=~x++", "error parsing regexp: invalid nested repetition operator: `++`"},
        {"a=~\"x{1001}\"", "error parsing regexp: invalid repeat count: `{1001}`"},
        {"a=~\\K", "error parsing regexp: invalid escape sequence: `\\K`"},
    };
    /* As in Go, one trailing "}" is cut before anything else: x{1001 is a
     * valid regex with a literal brace. */
    struct am_matchers ok = {0};
    char e[256];
    assert_int_equal(am_matchers_parse("a=~x{1001}", &ok, e, sizeof e), 0);
    assert_matcher(&ok.v[0], "a", AM_MATCH_RE, "x{1001");
    am_matchers_free(&ok);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct am_matchers ms = {0};
        char err[256] = "";
        if (am_matchers_parse(cases[i].in, &ms, err, sizeof err) == 0)
            fail_msg("%s: parsed but should not", cases[i].in);
        assert_string_equal(err, cases[i].err);
        am_matchers_free(&ms);
    }
}

/* Regexes behave as Go's, anchored. */
static void test_regex_semantics(void **state)
{
    (void)state;
    static const struct {
        const char *re, *value;
        bool match;
    } cases[] = {
        {"web|db", "web", true},
        {"web|db", "webdb", false},
        {"web|db", "xweb", false},
        {"a$", "a\n", false}, /* $ is end of text only */
        {"\\s", "\v", false}, /* Go's \s has no vertical tab */
        {"\\v", "\v", true},
        {"(?i)WEB", "web", true},
        {"^*a", "a", true},
        {"a{,2}", "a{,2}", true}, /* not a repeat in Go */
        {".", "\n", false},
        {"(?s).", "\n", true},
        {"\\pL+", "\xc3\xa9t\xc3\xa9", true},
        {"[[:digit:]]+", "2024", true},
        {"", "", true},
        {"", "x", false},
        {"\\Qa.b\\E", "a.b", true},
        {"\\Qa.b\\E", "axb", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char spec[256], err[256];
        struct am_matchers ms = {0};
        snprintf(spec, sizeof spec, "v=~\"%s\"", cases[i].re);
        if (am_matchers_parse(spec, &ms, err, sizeof err) != 0)
            fail_msg("%s: %s", spec, err);
        if (am_matcher_matches(&ms.v[0], cases[i].value) != cases[i].match)
            fail_msg("%s against \"%s\": expected %s", cases[i].re, cases[i].value,
                     cases[i].match ? "match" : "no match");
        am_matchers_free(&ms);
    }
    struct am_matchers ms = {0};
    char err[256];
    assert_int_equal(am_matchers_parse("a!~x.*, b!=y", &ms, err, sizeof err), 0);
    assert_false(am_matcher_matches(&ms.v[0], "xyz"));
    assert_true(am_matcher_matches(&ms.v[0], "")); /* a missing label is "" */
    assert_true(am_matcher_matches(&ms.v[1], "z"));
    assert_false(am_matcher_matches(&ms.v[1], "y"));
    am_matchers_free(&ms);
}

static void test_route_matchers_sorted(void **state)
{
    (void)state;
    struct am_config *c = load("route:\n"
                               "  receiver: r\n"
                               "  routes:\n"
                               "    - matchers: ['b=\"2\"', 'a!=\"1\"', 'a=\"1\"']\n"
                               "      match: {c: '3'}\n"
                               "      match_re: {a: '1'}\n"
                               "receivers: [{name: r}]\n");
    const struct am_matchers *m = &c->route->routes[0].matchers;
    assert_int_equal(m->n, 5);
    /* name, then value, then operator (= before != before =~). */
    assert_matcher(&m->v[0], "a", AM_MATCH_EQ, "1");
    assert_matcher(&m->v[1], "a", AM_MATCH_NE, "1");
    assert_matcher(&m->v[2], "a", AM_MATCH_RE, "^(?:1)$");
    assert_matcher(&m->v[3], "b", AM_MATCH_EQ, "2");
    assert_matcher(&m->v[4], "c", AM_MATCH_EQ, "3");
    am_config_free(c);
}

/* ---- inheritance and defaults ---- */

static void test_route_group_by_inheritance(void **state)
{
    (void)state;
    struct am_config *c = load("route:\n"
                               "  receiver: r\n"
                               "  group_by: [a, b]\n"
                               "  routes:\n"
                               "    - group_by: []\n"      /* [] keeps the parent's */
                               "    - group_by: ['...']\n" /* all labels */
                               "      routes:\n"
                               "        - receiver: s\n"   /* inherits `...` */
                               "        - group_by: [c]\n" /* names replace it */
                               "    - {}\n"
                               "receivers: [{name: r}, {name: s}]\n");
    const struct am_route *r = c->route;
    assert_strlist(&r->routes[0].group_by, 2, "a", "b");
    assert_true(r->routes[0].group_by_set);
    assert_false(r->routes[0].group_by_all);
    assert_true(r->routes[1].group_by_all);
    assert_true(r->routes[1].routes[0].group_by_all);
    assert_string_equal(r->routes[1].routes[0].receiver, "s");
    assert_false(r->routes[1].routes[1].group_by_all);
    assert_strlist(&r->routes[1].routes[1].group_by, 1, "c");
    assert_string_equal(r->routes[1].routes[1].receiver, "r");
    assert_strlist(&r->routes[2].group_by, 2, "a", "b");
    assert_false(r->routes[2].group_by_set);
    assert_int_equal(r->routes[2].group_wait_ms, 30 * SEC);
    assert_int_equal(r->routes[2].group_interval_ms, 5 * MIN);
    assert_int_equal(r->routes[2].repeat_interval_ms, 4 * HOUR);
    am_config_free(c);
}

static void test_global_defaults(void **state)
{
    (void)state;
    struct am_config *c = load("route: {receiver: r}\nreceivers: [{name: r}]\n");
    const struct am_global_config *g = &c->global;
    assert_int_equal(g->resolve_timeout_ms, 5 * MIN);
    assert_string_equal(g->smtp_hello, "localhost");
    assert_true(g->smtp_require_tls);
    assert_null(g->smtp_from);
    assert_null(g->smtp_smarthost.host);
    assert_string_equal(g->pagerduty_url, "https://events.pagerduty.com/v2/enqueue");
    assert_string_equal(g->opsgenie_api_url, "https://api.opsgenie.com/");
    assert_string_equal(g->wechat_api_url, "https://qyapi.weixin.qq.com/cgi-bin/");
    assert_string_equal(g->victorops_api_url,
                        "https://alert.victorops.com/integrations/generic/20131114/alert/");
    assert_string_equal(g->telegram_api_url, "https://api.telegram.org");
    assert_string_equal(g->webex_api_url, "https://webexapis.com/v1/messages");
    assert_non_null(g->http_config);
    assert_true(g->http_config->follow_redirects);
    assert_null(g->slack_api_url);
    am_config_free(c);
}

static void test_full_file(void **state)
{
    (void)state;
    struct am_config *c = NULL;
    struct conf_error err = {{0}};
    if (am_config_load_file(DATA_DIR "/valid_full.yml", &c, &err) != 0)
        fail_msg("%s", err.msg);
    const struct am_global_config *g = &c->global;
    assert_int_equal(g->resolve_timeout_ms, 10 * MIN);
    assert_string_equal(g->smtp_smarthost.host, "smtp.example.org");
    assert_string_equal(g->smtp_smarthost.port, "587");
    assert_false(g->http_config->follow_redirects);
    assert_true(g->http_config->tls_config.insecure_skip_verify);
    /* Templates are joined to the config file's directory. */
    assert_strlist(&c->templates, 1, DATA_DIR "/templates/*.tmpl");

    const struct am_receiver *ops = am_config_receiver(c, "ops");
    assert_int_equal(ops->nemail, 2);
    const struct am_email_config *e0 = &ops->email[0], *e1 = &ops->email[1];
    assert_string_equal(e0->to, "ops@example.org");
    assert_string_equal(e0->from, "alertmanager@example.org"); /* from global */
    assert_string_equal(e0->hello, "mail.example.org");
    assert_string_equal(e0->smarthost.host, "smtp.example.org");
    assert_string_equal(e0->auth_username, "am");
    assert_string_equal(e0->auth_password, "secret");
    assert_false(e0->require_tls); /* global smtp_require_tls: false */
    assert_false(e0->require_tls_set);
    assert_false(e0->send_resolved);
    assert_string_equal(e0->html, "{{ template \"email.default.html\" . }}");
    assert_string_equal(ystrmap_get(&e0->headers, "Subject"), "Alert {{ .GroupLabels.alertname }}");
    assert_string_equal(ystrmap_get(&e0->headers, "X-Team"), "ops");
    assert_string_equal(e1->from, "other@example.org");
    assert_string_equal(e1->smarthost.host, "relay.example.org");
    assert_string_equal(e1->smarthost.port, "25");
    assert_true(e1->require_tls);
    assert_true(e1->send_resolved);
    assert_string_equal(e1->tls_config.server_name, "relay.example.org");

    const struct am_slack_config *s = &ops->slack[0];
    assert_string_equal(s->api_url, "https://hooks.slack.com/services/T/B/X"); /* global */
    assert_ptr_equal(s->http_config, g->http_config);
    assert_true(s->send_resolved);
    assert_string_equal(s->channel, "#ops");
    assert_string_equal(s->username, "{{ template \"slack.default.username\" . }}");
    assert_int_equal(s->nfields, 1);
    assert_true(s->fields[0].short_set);
    assert_true(s->fields[0].short_value);
    assert_int_equal(s->nactions, 2);
    assert_string_equal(s->actions[0].url, "https://runbooks.example.org/");
    assert_null(s->actions[1].url);
    assert_string_equal(s->actions[1].confirm->text, "Sure?");
    assert_strlist(&s->mrkdwn_in, 2, "text", "title");

    const struct am_webhook_config *w = &ops->webhook[0];
    assert_int_equal(w->max_alerts, 10);
    assert_non_null(w->http_config_own);
    assert_ptr_equal(w->http_config, w->http_config_own);
    assert_string_equal(w->http_config->basic_auth->username, "user");
    assert_true(w->http_config->follow_redirects); /* own config: its own defaults */

    const struct am_receiver *pager = am_config_receiver(c, "pager");
    const struct am_pagerduty_config *p0 = &pager->pagerduty[0], *p1 = &pager->pagerduty[1];
    assert_string_equal(p0->url, "https://events.pagerduty.com/v2/enqueue");
    assert_string_equal(p0->class_, "disk");
    assert_true(p0->send_resolved);
    assert_string_equal(ystrmap_get(&p0->details, "firing"), "custom");
    assert_string_equal(ystrmap_get(&p0->details, "num_firing"), "{{ .Alerts.Firing | len }}");
    assert_string_equal(p0->source, p0->client); /* source defaults to client */
    assert_string_equal(p0->images[0].alt, "graph");
    assert_string_equal(p0->links[0].text, "dashboard");
    assert_string_equal(p1->url, "https://pd.example.org/enqueue");
    /* bearer_token becomes an authorization of type Bearer. */
    assert_string_equal(p1->http_config->authorization->type, "Bearer");
    assert_string_equal(p1->http_config->authorization->credentials, "token");

    assert_int_equal(c->ninhibit_rules, 2);
    assert_matcher(&c->inhibit_rules[0].target.v[0], "severity", AM_MATCH_RE, "^(?:warning|info)$");
    assert_strlist(&c->inhibit_rules[0].equal, 2, "alertname", "instance");
    am_config_free(c);
}

static void test_generic_notifiers(void **state)
{
    (void)state;
    struct am_config *c = NULL;
    struct conf_error err = {{0}};
    if (am_config_load_file(DATA_DIR "/valid_notifiers.yml", &c, &err) != 0)
        fail_msg("%s", err.msg);
    const struct am_receiver *r = &c->receivers[0];
    assert_int_equal(r->nother, 8);
    const struct am_notifier_config *og = &r->other[0];
    assert_int_equal(og->kind, AM_NOTIFIER_OPSGENIE);
    assert_string_equal(am_notifier_kind_name(og->kind), "opsgenie");
    assert_true(og->send_resolved);
    assert_string_equal(am_notifier_get(og, "api_url"), "https://api.eu.opsgenie.com/v2/");
    assert_string_equal(am_notifier_get(og, "api_key"), "ogkey"); /* from global */
    assert_string_equal(am_notifier_get(og, "details.team"), "ops");
    assert_string_equal(am_notifier_get(og, "responders[0].type"), "team"); /* lower-cased */
    assert_string_equal(am_notifier_get(og, "responders[1].type"), "{{ .CommonLabels.kind }}");
    assert_string_equal(am_notifier_get(og, "update_alerts"), "true");
    assert_string_equal(am_notifier_get(og, "source"),
                        "{{ template \"opsgenie.default.source\" . }}");
    assert_null(am_notifier_get(og, "note"));

    const struct am_notifier_config *po = &r->other[1];
    assert_int_equal(po->kind, AM_NOTIFIER_PUSHOVER);
    assert_string_equal(am_notifier_get(po, "expire"), "2h30m");
    const struct am_notifier_config *vo = &r->other[2];
    assert_string_equal(am_notifier_get(vo, "api_key"), "vokey");
    assert_string_equal(am_notifier_get(vo, "message_type"), "CRITICAL");
    const struct am_notifier_config *wc = &r->other[3];
    assert_false(wc->send_resolved); /* wechat default */
    assert_string_equal(am_notifier_get(wc, "corp_id"), "wcorp");
    const struct am_notifier_config *tg = &r->other[4];
    assert_string_equal(am_notifier_get(tg, "chat_id"), "-1001234");
    assert_string_equal(am_notifier_get(tg, "api_url"), "https://api.telegram.org");
    const struct am_notifier_config *sns = &r->other[5];
    assert_string_equal(am_notifier_get(sns, "sigv4.region"), "eu-west-1");
    const struct am_notifier_config *wx = &r->other[6];
    assert_non_null(wx->http_config_own);
    assert_string_equal(wx->http_config->authorization->credentials, "tok");
    assert_string_equal(am_notifier_get(wx, "api_url"), "https://webexapis.com/v1/messages");
    assert_int_equal(r->other[7].kind, AM_NOTIFIER_DISCORD);
    am_config_free(c);
}

/* Newer Alertmanager fields Vigil accepts on top of 0.25. */
static void test_newer_fields(void **state)
{
    (void)state;
    struct am_config *c = load("route: {receiver: r}\n"
                               "receivers:\n"
                               "  - name: r\n"
                               "    webhook_configs:\n"
                               "      - url_file: /etc/hook-url\n"
                               "        timeout: 1.5s\n"
                               "    msteams_configs:\n"
                               "      - webhook_url: 'https://example.webhook.office.com/x'\n");
    const struct am_receiver *r = &c->receivers[0];
    assert_null(r->webhook[0].url);
    assert_string_equal(r->webhook[0].url_file, "/etc/hook-url");
    assert_int_equal(r->webhook[0].timeout_ns, 1500000000LL);
    assert_int_equal(r->other[0].kind, AM_NOTIFIER_MSTEAMS);
    assert_string_equal(am_notifier_get(&r->other[0], "title"),
                        "{{ template \"msteams.default.title\" . }}");
    am_config_free(c);
    assert_string_equal(load_error("route: {receiver: r}\n"
                                   "receivers: [{name: r, msteams_configs: [{title: t}]}]\n"),
                        "am.yml:2:41: receivers[0].msteams_configs[0]: one of webhook_url or "
                        "webhook_url_file must be configured");
}

/* go-yaml: an explicit null zeroes a field whatever its default. */
static void test_null_zeroes_defaults(void **state)
{
    (void)state;
    struct am_config *c = NULL;
    struct conf_error err = {{0}};
    if (am_config_load_file(DATA_DIR "/valid_go_quirks.yml", &c, &err) != 0)
        fail_msg("%s", err.msg);
    const struct am_webhook_config *w = &c->receivers[0].webhook[0];
    assert_false(w->send_resolved);
    assert_int_equal(w->max_alerts, 1);
    assert_true(c->route->group_by_all);
    assert_int_equal(c->route->group_wait_ms, 0);
    const struct am_route *r0 = &c->route->routes[0];
    assert_int_equal(r0->matchers.n, 2);
    assert_matcher(&r0->matchers.v[0], "a", AM_MATCH_EQ, "b");
    assert_matcher(&r0->matchers.v[1], "empty", AM_MATCH_EQ, "");
    assert_int_equal(c->ninhibit_rules, 2);
    assert_int_equal(c->ntime_intervals, 2);
    assert_string_equal(c->time_intervals[0].name, "");
    const struct am_time_interval_spec *q = &c->time_intervals[1].specs[1];
    assert_int_equal(c->time_intervals[1].specs[0].present, 0);
    assert_int_equal(q->months[0].begin, 13);
    assert_int_equal(q->months[1].begin, 0);
    assert_int_equal(q->months[1].end, 1);
    assert_int_equal(q->weekdays[0].begin, 0);
    assert_int_equal(q->years[0].begin, 2020);
    assert_int_equal(q->years[0].end, 2030);
    assert_null(q->location); /* "" is UTC */
    am_config_free(c);

    c = load("global: {smtp_require_tls: ~, resolve_timeout: ~, pagerduty_url: ~}\n"
             "route: {receiver: r}\nreceivers: [{name: r}]\n");
    assert_false(c->global.smtp_require_tls);
    assert_int_equal(c->global.resolve_timeout_ms, 0);
    assert_null(c->global.pagerduty_url);
    am_config_free(c);
}

static void test_time_interval_ranges(void **state)
{
    (void)state;
    struct am_config *c = load("route: {receiver: r}\n"
                               "receivers: [{name: r}]\n"
                               "time_intervals:\n"
                               "  - name: t\n"
                               "    time_intervals:\n"
                               "      - times: [{start_time: '00:00', end_time: '24:00'}]\n"
                               "        weekdays: ['saturday', 'Monday:wednesday']\n"
                               "        days_of_month: ['1:5', '-1', '-7:-1', 15]\n"
                               "        months: ['january:march', '6', 'OCTOBER:12']\n"
                               "        years: ['2020:2022', '2030']\n"
                               "        location: America/New_York\n"
                               "      - times: []\n");
    const struct am_time_interval_spec *s = &c->time_intervals[0].specs[0];
    assert_int_equal(s->times[0].start_minute, 0);
    assert_int_equal(s->times[0].end_minute, 1440);
    assert_int_equal(s->weekdays[0].begin, 6);
    assert_int_equal(s->weekdays[1].begin, 1);
    assert_int_equal(s->weekdays[1].end, 3);
    assert_int_equal(s->ndays_of_month, 4);
    assert_int_equal(s->days_of_month[1].begin, -1);
    assert_int_equal(s->days_of_month[1].end, -1);
    assert_int_equal(s->days_of_month[2].begin, -7);
    assert_int_equal(s->days_of_month[3].end, 15);
    assert_int_equal(s->months[0].begin, 1);
    assert_int_equal(s->months[0].end, 3);
    assert_int_equal(s->months[1].begin, 6);
    assert_int_equal(s->months[2].begin, 10);
    assert_int_equal(s->months[2].end, 12);
    assert_int_equal(s->years[1].begin, 2030);
    assert_string_equal(s->location, "America/New_York");
    /* `times: []` is present and matches nothing. */
    assert_int_equal(c->time_intervals[0].specs[1].present, AM_TI_TIMES);
    assert_int_equal(c->time_intervals[0].specs[1].ntimes, 0);
    am_config_free(c);
}

/* ---- errors for inline configs ---- */

static void test_inline_errors(void **state)
{
    (void)state;
    static const struct {
        const char *yaml, *err;
    } cases[] = {
        {"", "am.yml:1:1: no route provided in config"},
        {"route: {receiver: x}\nreceivers: [{name: r}]\n",
         "am.yml:1:19: route.receiver: undefined receiver \"x\" used in route"},
        {"route: {receiver: r}\nreceivers: [{name: r}, {name: r}]\n",
         "am.yml:2:31: receivers[1].name: notification config name \"r\" is not unique"},
        {"route: {receiver: r, continue: true}\nreceivers: [{name: r}]\n",
         "am.yml:1:32: route.continue: cannot have continue in root route"},
        {"route: {receiver: r, match_re: {a: b}}\nreceivers: [{name: r}]\n",
         "am.yml:1:32: route.match_re: root route must not have any matchers"},
        {"route: {receiver: r, routes: [{matchers: ['a=~\"[\"']}]}\nreceivers: [{name: r}]\n",
         "am.yml:1:43: route.routes[0].matchers[0]: error parsing regexp: missing closing ]: `[`"},
        {"route: {receiver: r}\nreceivers: [{name: r}]\ntime_intervals: [{name: t, "
         "time_intervals: [{location: Nowhere/City}]}]\n",
         "am.yml:3:56: time_intervals[0].time_intervals[0].location: unknown time zone "
         "Nowhere/City"},
        {"route: {receiver: r}\nreceivers: [{name: r}]\nbogus: 1\n",
         "am.yml:3:1: unknown field \"bogus\""},
        {"route: {receiver: r}\nreceivers: [{name: r, webhook_configs: [{url: 'http://x', "
         "max_alerts: -1}]}]\n",
         "am.yml:2:71: receivers[0].webhook_configs[0].max_alerts: cannot unmarshal \"-1\" into an "
         "unsigned integer"},
        {"route: {receiver: r}\nreceivers: [{name: r, email_configs: [{to: a, from: b, "
         "smarthost: 'h'}]}]\n",
         "am.yml:2:67: receivers[0].email_configs[0].smarthost: address h: missing port in "
         "address"},
        {"route: {receiver: r, routes: [{receiver: r, match: {a: b, a: c}}]}\n"
         "receivers: [{name: r}]\n",
         "am.yml:1:59: route.routes[0].match: key \"a\" already set in map"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        assert_string_equal(load_error(cases[i].yaml), cases[i].err);
}

/* A file that cannot be read says so. */
static void test_missing_file(void **state)
{
    (void)state;
    struct am_config *c = (struct am_config *)1;
    struct conf_error err = {{0}};
    assert_int_equal(am_config_load_file(DATA_DIR "/no-such-file.yml", &c, &err), -1);
    assert_null(c);
    assert_non_null(strstr(err.msg, "no-such-file.yml"));
}

int main(void)
{
    const struct CMUnitTest seed[] = {
        cmocka_unit_test(test_seed_root_route),
        cmocka_unit_test(test_seed_child_routes),
        cmocka_unit_test(test_seed_nested_route_inherits),
        cmocka_unit_test(test_seed_time_interval_refs),
        cmocka_unit_test(test_seed_inhibit_rules),
        cmocka_unit_test(test_seed_receivers),
        cmocka_unit_test(test_seed_time_intervals),
        cmocka_unit_test(test_seed_summary),
    };
    const struct CMUnitTest rest[] = {
        cmocka_unit_test(test_valid_files),
        cmocka_unit_test(test_invalid_files),
        cmocka_unit_test(test_matchers_parse_forms),
        cmocka_unit_test(test_matchers_parse_errors),
        cmocka_unit_test(test_regex_semantics),
        cmocka_unit_test(test_route_matchers_sorted),
        cmocka_unit_test(test_route_group_by_inheritance),
        cmocka_unit_test(test_global_defaults),
        cmocka_unit_test(test_full_file),
        cmocka_unit_test(test_generic_notifiers),
        cmocka_unit_test(test_newer_fields),
        cmocka_unit_test(test_null_zeroes_defaults),
        cmocka_unit_test(test_time_interval_ranges),
        cmocka_unit_test(test_inline_errors),
        cmocka_unit_test(test_missing_file),
    };
    int failed =
        cmocka_run_group_tests_name("seedstack alertmanager.yml", seed, seed_setup, seed_teardown);
    failed += cmocka_run_group_tests_name("alertmanager.yml loader", rest, NULL, NULL);
    return failed;
}
