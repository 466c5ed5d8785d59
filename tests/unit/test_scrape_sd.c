/* test_scrape_sd.c — the pure parts of http, dns and docker SD, as a
 * specification: a DNS answer message (built here byte by byte, as a
 * resolver returns it) becomes the targets and __meta_dns_* labels
 * Prometheus's discovery/dns gives; http_sd's Content-Type check and group
 * decoding; docker_sd's targets from /containers/json and /networks; label
 * name sanitizing.
 *
 * The e2e test (tests/e2e/test_sd.py) runs the same mechanisms live. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/sd.h"

/* ---- helpers ---- */

static char *fmt_group(const struct prom_target_group *g)
{
    struct sbuf b = SBUF_INIT;
    for (size_t i = 0; i < g->targets.n; i++)
        sbuf_printf(&b, "%s%s", i ? "," : "", g->targets.v[i]);
    for (size_t i = 0; i < g->labels.n; i++)
        sbuf_printf(&b, "|%s=%s", g->labels.keys[i], g->labels.values[i]);
    return sbuf_detach(&b);
}

static void assert_group(const struct sd_groups *gs, size_t i, const char *want)
{
    assert_true(i < gs->n);
    char *got = fmt_group(&gs->v[i]);
    if (strcmp(got, want) != 0)
        fail_msg("group %zu\n  want %s\n  got  %s", i, want, got);
    free(got);
}

struct msg {
    unsigned char b[1024];
    size_t n;
};

static void put16(struct msg *m, unsigned v)
{
    m->b[m->n++] = (unsigned char)(v >> 8);
    m->b[m->n++] = (unsigned char)v;
}

static void put_name(struct msg *m, const char *name)
{
    while (*name) {
        size_t l = strcspn(name, ".");
        m->b[m->n++] = (unsigned char)l;
        memcpy(m->b + m->n, name, l);
        m->n += l;
        name += l + (name[l] == '.');
    }
    m->b[m->n++] = 0;
}

/* Header and question for `name`; answers follow with answer(). */
static void msg_start(struct msg *m, const char *name, unsigned qtype, unsigned ancount)
{
    m->n = 0;
    put16(m, 0x1234);
    put16(m, 0x8180);
    put16(m, 1);
    put16(m, ancount);
    put16(m, 0);
    put16(m, 0);
    put_name(m, name);
    put16(m, qtype);
    put16(m, 1);
}

/* An answer owned by the question's name (compression pointer 0xc00c). */
static void answer(struct msg *m, unsigned type, const unsigned char *rdata, size_t len)
{
    put16(m, 0xc00c);
    put16(m, type);
    put16(m, 1);
    put16(m, 0);
    put16(m, 30);
    put16(m, (unsigned)len);
    memcpy(m->b + m->n, rdata, len);
    m->n += len;
}

static size_t rdata_name(unsigned char *out, size_t pre, const char *name)
{
    struct msg t = {.n = 0};
    put_name(&t, name);
    memcpy(out + pre, t.b, t.n);
    return pre + t.n;
}

/* ---- DNS ---- */

static void test_dns_srv(void **state)
{
    (void)state;
    struct msg m;
    msg_start(&m, "_metrics._tcp.example.org", 33, 3);
    unsigned char rd[300] = {0, 10, 0, 5, 0x23, 0x8c}; /* prio 10, weight 5, port 9100 */
    answer(&m, 33, rd, rdata_name(rd, 6, "node1.example.org"));
    rd[4] = 0x23, rd[5] = 0xf0; /* 9200 */
    answer(&m, 33, rd, rdata_name(rd, 6, "node2.example.org"));
    /* a CNAME in the answer section is not a target */
    answer(&m, 5, rd, rdata_name(rd, 0, "alias.example.org"));
    struct sd_groups gs = {0};
    char err[256];
    assert_int_equal(
        sd_dns_answer_parse(m.b, m.n, "_metrics._tcp.example.org", 0, &gs, err, sizeof err), 0);
    assert_int_equal(gs.n, 2);
    assert_group(
        &gs, 0,
        "node1.example.org:9100|__meta_dns_name=_metrics._tcp.example.org"
        "|__meta_dns_srv_record_port=9100|__meta_dns_srv_record_target=node1.example.org.");
    assert_group(
        &gs, 1,
        "node2.example.org:9200|__meta_dns_name=_metrics._tcp.example.org"
        "|__meta_dns_srv_record_port=9200|__meta_dns_srv_record_target=node2.example.org.");
    assert_string_equal(gs.source[0], "_metrics._tcp.example.org");
    sd_groups_free(&gs);
}

static void test_dns_a_aaaa_mx_ns(void **state)
{
    (void)state;
    struct msg m;
    struct sd_groups gs = {0};
    char err[256];
    unsigned char a[4] = {10, 0, 0, 7};
    msg_start(&m, "web.example.org", 1, 1);
    answer(&m, 1, a, 4);
    assert_int_equal(sd_dns_answer_parse(m.b, m.n, "web.example.org", 80, &gs, err, sizeof err), 0);
    assert_group(&gs, 0, "10.0.0.7:80|__meta_dns_name=web.example.org");
    sd_groups_free(&gs);

    unsigned char v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
    msg_start(&m, "web.example.org", 28, 1);
    answer(&m, 28, v6, 16);
    assert_int_equal(sd_dns_answer_parse(m.b, m.n, "web.example.org", 80, &gs, err, sizeof err), 0);
    assert_group(&gs, 0, "[2001:db8::1]:80|__meta_dns_name=web.example.org");
    sd_groups_free(&gs);

    unsigned char rd[300] = {0, 10};
    msg_start(&m, "example.org", 15, 1);
    answer(&m, 15, rd, rdata_name(rd, 2, "mail.example.org"));
    assert_int_equal(sd_dns_answer_parse(m.b, m.n, "example.org", 25, &gs, err, sizeof err), 0);
    assert_group(&gs, 0,
                 "mail.example.org:25|__meta_dns_mx_record_target=mail.example.org."
                 "|__meta_dns_name=example.org");
    sd_groups_free(&gs);

    msg_start(&m, "example.org", 2, 1);
    answer(&m, 2, rd, rdata_name(rd, 0, "ns1.example.org"));
    assert_int_equal(sd_dns_answer_parse(m.b, m.n, "example.org", 53, &gs, err, sizeof err), 0);
    assert_group(&gs, 0,
                 "ns1.example.org:53|__meta_dns_name=example.org"
                 "|__meta_dns_ns_record_target=ns1.example.org.");
    sd_groups_free(&gs);

    /* an empty answer: no targets; a truncated message: an error */
    msg_start(&m, "none.example.org", 1, 0);
    assert_int_equal(sd_dns_answer_parse(m.b, m.n, "none.example.org", 1, &gs, err, sizeof err), 0);
    assert_int_equal(gs.n, 0);
    msg_start(&m, "web.example.org", 1, 1);
    answer(&m, 1, a, 4);
    assert_int_equal(sd_dns_answer_parse(m.b, m.n - 3, "web.example.org", 80, &gs, err, sizeof err),
                     -1);
    sd_groups_free(&gs);
}

/* ---- HTTP ---- */

static void test_http_content_type(void **state)
{
    (void)state;
    assert_true(sd_http_content_type_ok("application/json"));
    assert_true(sd_http_content_type_ok(" Application/JSON "));
    assert_true(sd_http_content_type_ok("application/json; charset=utf-8"));
    assert_true(sd_http_content_type_ok("application/json;charset=\"UTF-8\""));
    assert_false(sd_http_content_type_ok("application/json; charset=latin1"));
    assert_false(sd_http_content_type_ok("text/plain"));
    assert_false(sd_http_content_type_ok(""));
}

static void test_http_groups(void **state)
{
    (void)state;
    const char *body = "[{\"targets\": [\"a:1\", \"b:2\"], \"labels\": {\"env\": \"prod\"}},"
                       " {\"targets\": [\"c:3\"], \"unknown\": 1}]";
    struct sd_groups gs = {0};
    char err[256];
    assert_int_equal(sd_http_groups("http://sd/x", body, strlen(body), &gs, err, sizeof err), 0);
    assert_int_equal(gs.n, 2);
    assert_group(&gs, 0, "a:1,b:2|__meta_url=http://sd/x|env=prod");
    assert_group(&gs, 1, "c:3|__meta_url=http://sd/x");
    assert_string_equal(gs.source[1], "http://sd/x:1");
    sd_groups_free(&gs);
    const char *bad = "[null]";
    assert_int_equal(sd_http_groups("http://sd/x", bad, strlen(bad), &gs, err, sizeof err), -1);
    assert_non_null(strstr(err, "nil target group item found"));
    sd_groups_free(&gs);
}

/* ---- Docker ---- */

static void test_docker(void **state)
{
    (void)state;
    const char *containers =
        "[{\"Id\": \"c1\", \"Names\": [\"/web\"], \"Labels\": {\"a.b-c\": \"x\", \"é\": \"y\"},"
        "  \"HostConfig\": {\"NetworkMode\": \"bridge\"},"
        "  \"Ports\": [{\"IP\": \"0.0.0.0\", \"PrivatePort\": 8080, \"PublicPort\": 80,"
        "              \"Type\": \"tcp\"}, {\"PrivatePort\": 53, \"Type\": \"udp\"}],"
        "  \"NetworkSettings\": {\"Networks\": {\"zeta\": {\"NetworkID\": \"n2\","
        "     \"IPAddress\": \"10.0.2.2\"}, \"bridge\": {\"NetworkID\": \"n1\","
        "     \"IPAddress\": \"fd00::2\"}}}},"
        " {\"Id\": \"c2\", \"Names\": [\"/side\"], \"HostConfig\": {\"NetworkMode\": "
        "\"container:c1\"}, \"NetworkSettings\": {\"Networks\": {}}},"
        " {\"Id\": \"c3\", \"Names\": [], \"HostConfig\": {\"NetworkMode\": \"bridge\"}}]";
    const char *networks = "[{\"Id\": \"n1\", \"Name\": \"bridge\", \"Scope\": \"local\","
                           "  \"Internal\": true, \"Labels\": {\"k\": \"v\"}}]";
    struct sd_docker_opts o = {80, "localhost", true};
    struct sd_groups gs = {0};
    char err[256];
    assert_int_equal(sd_docker_groups(containers, strlen(containers), networks, strlen(networks),
                                      &o, &gs, err, sizeof err),
                     0);
    assert_int_equal(gs.n, 2);
    assert_group(&gs, 0,
                 "[fd00::2]:8080|__meta_docker_container_id=c1"
                 "|__meta_docker_container_label__=y|__meta_docker_container_label_a_b_c=x"
                 "|__meta_docker_container_name=/web|__meta_docker_container_network_mode=bridge"
                 "|__meta_docker_network_id=n1|__meta_docker_network_ingress=false"
                 "|__meta_docker_network_internal=true|__meta_docker_network_ip=fd00::2"
                 "|__meta_docker_network_label_k=v|__meta_docker_network_name=bridge"
                 "|__meta_docker_network_scope=local|__meta_docker_port_private=8080"
                 "|__meta_docker_port_public=80|__meta_docker_port_public_ip=0.0.0.0");
    /* the sidecar has c1's network and no ports of its own: the default port */
    assert_group(&gs, 1,
                 "[fd00::2]:80|__meta_docker_container_id=c2|__meta_docker_container_name=/side"
                 "|__meta_docker_container_network_mode=container:c1|__meta_docker_network_id=n1"
                 "|__meta_docker_network_ingress=false|__meta_docker_network_internal=true"
                 "|__meta_docker_network_ip=fd00::2|__meta_docker_network_label_k=v"
                 "|__meta_docker_network_name=bridge|__meta_docker_network_scope=local");
    sd_groups_free(&gs);

    /* every network, and an unknown network has no network labels */
    o.match_first_network = false;
    assert_int_equal(sd_docker_groups(containers, strlen(containers), networks, strlen(networks),
                                      &o, &gs, err, sizeof err),
                     0);
    assert_int_equal(gs.n, 4);
    assert_group(&gs, 0,
                 "10.0.2.2:8080|__meta_docker_container_id=c1"
                 "|__meta_docker_container_label__=y|__meta_docker_container_label_a_b_c=x"
                 "|__meta_docker_container_name=/web|__meta_docker_container_network_mode=bridge"
                 "|__meta_docker_network_ip=10.0.2.2|__meta_docker_port_private=8080"
                 "|__meta_docker_port_public=80|__meta_docker_port_public_ip=0.0.0.0");
    sd_groups_free(&gs);

    assert_int_equal(sd_docker_groups("{", 1, "[]", 2, &o, &gs, err, sizeof err), -1);
    assert_non_null(strstr(err, "error while listing containers"));
    sd_groups_free(&gs);
}

static void test_sanitize(void **state)
{
    (void)state;
    struct sbuf b = SBUF_INIT;
    sd_label_sanitize(&b, "com.docker.compose/project-1_x:é");
    assert_string_equal(b.data, "com_docker_compose_project_1_x__");
    sbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_srv),
        cmocka_unit_test(test_dns_a_aaaa_mx_ns),
        cmocka_unit_test(test_http_content_type),
        cmocka_unit_test(test_http_groups),
        cmocka_unit_test(test_docker),
        cmocka_unit_test(test_sanitize),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
