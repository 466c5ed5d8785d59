/* test_alerting_notifier.c — delivery to Alertmanager, as a specification.
 *
 * Each test runs a libuv loop with the notifier and a tiny in-process HTTP
 * receiver (one uv_tcp listener answering every request with a chosen
 * status and "Connection: close", recording method, path, headers and
 * body), configured through a prometheus.yml text like a user's.  What is
 * checked is what Prometheus 3 does: the exact API v2 body (key order,
 * millisecond RFC 3339 times, annotations left out when empty), headers,
 * batches of 256, external labels that never override an alert's own,
 * alert_relabel_configs globally and per Alertmanager set, the bounded queue
 * dropping its oldest, failures counted per Alertmanager and a batch
 * dropped only when no Alertmanager of a set took it, file_sd discovery
 * (and its refresh) with relabel_configs dropping an Alertmanager, and the
 * drain on stop.  The last test posts to a real Alertmanager (Debian's
 * prometheus-alertmanager) when it is installed, and is skipped otherwise.
 *
 * Runs with cwd = tests/unit; scratch files go to a mkdtemp directory. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "alerting/notifier.h"
#include "alerting/notifier_internal.h"

/* ---- A tiny HTTP receiver ---- */

struct req {
    char *head; /* request line and headers */
    char *body;
};

struct sink {
    uv_tcp_t srv;
    int port;
    int status; /* what to answer */
    struct req reqs[512];
    size_t nreqs;
};

struct conn {
    uv_tcp_t tcp;
    struct sink *sink;
    struct sbuf in;
    uv_write_t wr;
    bool answered;
};

static void on_conn_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    sbuf_free(&c->in);
    free(c);
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    struct conn *c = w->data;
    uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
}

static void on_alloc(uv_handle_t *h, size_t sz, uv_buf_t *buf)
{
    (void)h;
    buf->base = malloc(sz);
    buf->len = sz;
}

/* Whether c->in holds a whole request; records it. */
static bool request_complete(struct conn *c)
{
    char *end = c->in.data ? strstr(c->in.data, "\r\n\r\n") : NULL;
    if (!end)
        return false;
    size_t hlen = (size_t)(end - c->in.data) + 4;
    const char *cl = strcasestr(c->in.data, "content-length:");
    size_t blen = cl && cl < end ? (size_t)strtoul(cl + 15, NULL, 10) : 0;
    if (c->in.len < hlen + blen)
        return false;
    struct sink *s = c->sink;
    if (s->nreqs < sizeof s->reqs / sizeof *s->reqs) {
        s->reqs[s->nreqs].head = xstrndup(c->in.data, hlen);
        s->reqs[s->nreqs].body = xstrndup(c->in.data + hlen, blen);
        s->nreqs++;
    }
    return true;
}

static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    struct conn *c = st->data;
    if (nread > 0)
        sbuf_append(&c->in, buf->base, (size_t)nread);
    free(buf->base);
    if (nread < 0) {
        if (!c->answered)
            uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
        return;
    }
    if (c->answered || !request_complete(c))
        return;
    c->answered = true;
    uv_read_stop(st);
    static char resp[128];
    snprintf(resp, sizeof resp, "HTTP/1.1 %d X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
             c->sink->status);
    uv_buf_t b = uv_buf_init(resp, (unsigned)strlen(resp));
    c->wr.data = c;
    uv_write(&c->wr, st, &b, 1, on_written);
}

static void on_connection(uv_stream_t *srv, int status)
{
    assert_int_equal(status, 0);
    struct conn *c = xcalloc(1, sizeof *c);
    c->sink = srv->data;
    uv_tcp_init(srv->loop, &c->tcp);
    c->tcp.data = c;
    assert_int_equal(uv_accept(srv, (uv_stream_t *)&c->tcp), 0);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void sink_start(uv_loop_t *loop, struct sink *s, int status)
{
    memset(s, 0, sizeof *s);
    s->status = status;
    uv_tcp_init(loop, &s->srv);
    s->srv.data = s;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    assert_int_equal(uv_tcp_bind(&s->srv, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&s->srv, 64, on_connection), 0);
    struct sockaddr_in got;
    int len = sizeof got;
    uv_tcp_getsockname(&s->srv, (struct sockaddr *)&got, &len);
    s->port = ntohs(got.sin_port);
}

static void sink_close(struct sink *s)
{
    uv_close((uv_handle_t *)&s->srv, NULL);
}

static void sink_free(struct sink *s)
{
    for (size_t i = 0; i < s->nreqs; i++) {
        free(s->reqs[i].head);
        free(s->reqs[i].body);
    }
}

/* A port nothing listens on. */
static int closed_port(uv_loop_t *loop)
{
    struct sink s;
    sink_start(loop, &s, 200);
    int port = s.port;
    sink_close(&s);
    uv_run(loop, UV_RUN_NOWAIT);
    return port;
}

/* ---- Fixture ---- */

struct fx {
    uv_loop_t loop;
    struct metrics_registry *reg;
    struct notifier *n;
    struct prom_config *cfg;
    char dir[64];
};

static struct prom_config *config_load(const char *fmt, ...)
{
    char yaml[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(yaml, sizeof yaml, fmt, ap);
    va_end(ap);
    struct prom_config *c = NULL;
    struct conf_error ce = {{0}};
    if (prom_config_load_string("prometheus.yml", yaml, strlen(yaml), &c, &ce) < 0)
        fail_msg("config: %s\n%s", ce.msg, yaml);
    return c;
}

static void fx_init(struct fx *f, size_t capacity)
{
    memset(f, 0, sizeof *f);
    uv_loop_init(&f->loop);
    f->reg = metrics_registry_new();
    struct notifier_options o = {.loop = &f->loop,
                                 .metrics = f->reg,
                                 .queue_capacity = capacity,
                                 .user_agent = "Vigil/test",
                                 .drain_timeout_ms = 3000};
    char err[256];
    if (notifier_new(&o, &f->n, err, sizeof err) < 0)
        fail_msg("%s", err);
    strcpy(f->dir, "/tmp/vigil-notifier-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
}

static void fx_apply(struct fx *f, struct prom_config *c)
{
    char err[512];
    if (notifier_apply_config(f->n, c, err, sizeof err) < 0)
        fail_msg("%s", err);
    prom_config_free(f->cfg);
    f->cfg = c;
}

static void fx_done(struct fx *f)
{
    notifier_stop(f->n, NULL, NULL);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    notifier_free(f->n);
    prom_config_free(f->cfg);
    metrics_registry_free(f->reg);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
}

static bool cond_requests(void *arg)
{
    struct sink **s = arg;
    return s[0]->nreqs >= (size_t)(uintptr_t)s[1];
}

/* Runs the loop until cond holds or 5 s pass. */
static void run_until(struct fx *f, bool (*cond)(void *), void *arg)
{
    uint64_t deadline = uv_hrtime() + 5000000000ull;
    while (!cond(arg) && uv_hrtime() < deadline) {
        uv_update_time(&f->loop);
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
    if (!cond(arg))
        fail_msg("timed out");
}

static void wait_requests(struct fx *f, struct sink *s, size_t n)
{
    void *arg[2] = {s, (void *)(uintptr_t)n};
    run_until(f, cond_requests, arg);
}

/* Lets the loop run for ms (for things that must not happen). */
static void run_for(struct fx *f, int ms)
{
    uint64_t deadline = uv_hrtime() + (uint64_t)ms * 1000000ull;
    while (uv_hrtime() < deadline) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        usleep(1000);
    }
}

static bool cond_queue_empty_and_idle(void *arg)
{
    struct fx *f = arg;
    return notifier_queue_length(f->n) == 0;
}

/* The value of one exposed sample line ("name{labels}"), or -1. */
static double metric_get(struct fx *f, const char *series)
{
    struct sbuf b = SBUF_INIT;
    metrics_registry_write_text(f->reg, &b);
    double v = -1;
    size_t n = strlen(series);
    for (char *line = b.data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            v = strtod(line + n + 1, NULL);
        line = nl ? nl + 1 : NULL;
    }
    sbuf_free(&b);
    return v;
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        k++;
    return k;
}

/* An alert {alertname=name, ...} with static storage for its labels. */
struct alert_buf {
    struct label lab[4];
    struct label ann[2];
    char name[32];
};

static struct notifier_alert make_alert(struct alert_buf *b, const char *name, const char *sev)
{
    snprintf(b->name, sizeof b->name, "%s", name);
    size_t n = 0;
    b->lab[n++] = (struct label){"alertname", b->name};
    if (sev)
        b->lab[n++] = (struct label){"severity", sev};
    return (struct notifier_alert){
        .labels = {b->lab, n}, .starts_at_ms = 1795411537937, .ends_at_ms = 1795411777937};
}

/* ---- Tests ---- */

static void test_payload_shape_and_headers(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    struct sink s;
    sink_start(&f.loop, &s, 200);
    fx_apply(&f, config_load("global:\n"
                             "  external_labels: {replica: a, severity: from-global}\n"
                             "alerting:\n"
                             "  alertmanagers:\n"
                             "  - path_prefix: /am/\n"
                             "    static_configs:\n"
                             "    - targets: ['127.0.0.1:%d']\n",
                             s.port));
    struct label lab[] = {{"alertname", "DiskFull"}, {"severity", "critical"}};
    struct label ann[] = {{"description", "<b>a & b</b>"}, {"summary", "disk \"a\" full"}};
    struct notifier_alert a = {
        .labels = {lab, 2},
        .annotations = {ann, 2},
        .starts_at_ms = 1795411037937, /* 2026-11-23T05:17:17.937Z */
        .ends_at_ms = 1795411537937,
        .generator_url = "http://vm:19090/graph?g0.expr=up&g0.tab=1",
    };
    struct notifier_alert bare = {.labels = {lab, 1}, .starts_at_ms = 1795411037000};
    struct notifier_alert both[] = {a, bare};
    notifier_send(f.n, both, 2);
    wait_requests(&f, &s, 1);
    assert_string_equal(
        s.reqs[0].body,
        "[{\"annotations\":{\"description\":\"\\u003cb\\u003ea \\u0026 b\\u003c/b\\u003e\","
        "\"summary\":\"disk \\\"a\\\" full\"},"
        "\"endsAt\":\"2026-11-23T05:25:37.937Z\",\"startsAt\":\"2026-11-23T05:17:17.937Z\","
        "\"generatorURL\":\"http://vm:19090/graph?g0.expr=up\\u0026g0.tab=1\","
        "\"labels\":{\"alertname\":\"DiskFull\",\"replica\":\"a\",\"severity\":\"critical\"}},"
        "{\"endsAt\":\"0001-01-01T00:00:00.000Z\",\"startsAt\":\"2026-11-23T05:17:17.000Z\","
        "\"labels\":{\"alertname\":\"DiskFull\",\"replica\":\"a\",\"severity\":\"from-global\"}}]");
    const char *h = s.reqs[0].head;
    assert_true(strncmp(h, "POST /am/api/v2/alerts HTTP/1.1\r\n", 33) == 0);
    assert_non_null(strcasestr(h, "\r\nContent-Type: application/json\r\n"));
    assert_non_null(strcasestr(h, "\r\nUser-Agent: Vigil/test\r\n"));
    run_until(&f, cond_queue_empty_and_idle, &f);
    run_for(&f, 50);
    char series[160];
    snprintf(series, sizeof series,
             "prometheus_notifications_sent_total{alertmanager=\"http://127.0.0.1:%d/am/api/v2/"
             "alerts\"}",
             s.port);
    assert_true(metric_get(&f, series) == 2);
    snprintf(series, sizeof series,
             "prometheus_notifications_latency_seconds_count{alertmanager=\"http://127.0.0.1:%d/"
             "am/api/v2/alerts\"}",
             s.port);
    assert_true(metric_get(&f, series) == 1);
    assert_true(metric_get(&f, "prometheus_notifications_dropped_total") == 0);
    assert_true(metric_get(&f, "prometheus_notifications_queue_capacity") == 10000);
    assert_true(metric_get(&f, "prometheus_notifications_alertmanagers_discovered") == 1);
    sink_close(&s);
    fx_done(&f);
    sink_free(&s);
}

static void test_time_format(void **state)
{
    (void)state;
    char t[40];
    notifier_time_format(0, t);
    assert_string_equal(t, "0001-01-01T00:00:00.000Z");
    notifier_time_format(1, t);
    assert_string_equal(t, "1970-01-01T00:00:00.001Z");
    notifier_time_format(-1, t);
    assert_string_equal(t, "1969-12-31T23:59:59.999Z");
    notifier_time_format(1795411537937, t);
    assert_string_equal(t, "2026-11-23T05:25:37.937Z");
}

static void test_batches_of_256(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    struct sink s;
    sink_start(&f.loop, &s, 200);
    fx_apply(&f, config_load("alerting:\n"
                             "  alertmanagers:\n"
                             "  - static_configs:\n"
                             "    - targets: ['127.0.0.1:%d']\n",
                             s.port));
    static struct alert_buf bufs[300];
    static struct notifier_alert as[300];
    for (int i = 0; i < 300; i++) {
        char name[32];
        snprintf(name, sizeof name, "A%03d", i);
        as[i] = make_alert(&bufs[i], name, NULL);
    }
    notifier_send(f.n, as, 300);
    wait_requests(&f, &s, 2);
    run_for(&f, 100);
    assert_int_equal(s.nreqs, 2);
    assert_int_equal(count_of(s.reqs[0].body, "\"labels\""), 256);
    assert_int_equal(count_of(s.reqs[1].body, "\"labels\""), 44);
    assert_non_null(strstr(s.reqs[0].body, "\"A000\""));
    assert_non_null(strstr(s.reqs[1].body, "\"A256\""));
    sink_close(&s);
    fx_done(&f);
    sink_free(&s);
}

static void test_alert_relabel_global_and_per_set(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    struct sink s1, s2;
    sink_start(&f.loop, &s1, 200);
    sink_start(&f.loop, &s2, 200);
    /* Global: drop severity=none.  Set 2 only: rename team, and drop
     * alerts named Quiet. */
    fx_apply(&f, config_load("alerting:\n"
                             "  alert_relabel_configs:\n"
                             "  - {source_labels: [severity], regex: none, action: drop}\n"
                             "  alertmanagers:\n"
                             "  - static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                             "  - static_configs: [{targets: ['127.0.0.1:%d']}]\n"
                             "    alert_relabel_configs:\n"
                             "    - {source_labels: [alertname], regex: Quiet, action: drop}\n"
                             "    - {target_label: team, replacement: set2}\n",
                             s1.port, s2.port));
    struct alert_buf b[3];
    struct notifier_alert as[3] = {make_alert(&b[0], "Loud", "page"),
                                   make_alert(&b[1], "Dropped", "none"),
                                   make_alert(&b[2], "Quiet", "info")};
    notifier_send(f.n, as, 3);
    wait_requests(&f, &s1, 1);
    wait_requests(&f, &s2, 1);
    assert_int_equal(count_of(s1.reqs[0].body, "\"labels\""), 2);
    assert_null(strstr(s1.reqs[0].body, "Dropped"));
    assert_null(strstr(s1.reqs[0].body, "team"));
    assert_non_null(strstr(s1.reqs[0].body, "Quiet"));
    assert_string_equal(s2.reqs[0].body,
                        "[{\"endsAt\":\"2026-11-23T05:29:37.937Z\",\"startsAt\":\"2026-11-23T05:"
                        "25:37.937Z\",\"labels\":{\"alertname\":\"Loud\",\"severity\":\"page\","
                        "\"team\":\"set2\"}}]");
    sink_close(&s1);
    sink_close(&s2);
    fx_done(&f);
    sink_free(&s1);
    sink_free(&s2);
}

static void test_queue_overflow_drops_oldest(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 5);
    struct sink s;
    sink_start(&f.loop, &s, 200);
    fx_apply(&f, config_load("alerting:\n"
                             "  alertmanagers:\n"
                             "  - static_configs: [{targets: ['127.0.0.1:%d']}]\n",
                             s.port));
    struct alert_buf b[8];
    struct notifier_alert as[8];
    for (int i = 0; i < 8; i++) {
        char name[8];
        snprintf(name, sizeof name, "A%d", i);
        as[i] = make_alert(&b[i], name, NULL);
    }
    /* The loop does not run between the sends: 3 + 5 alerts into 5 slots. */
    notifier_send(f.n, as, 3);
    notifier_send(f.n, as + 3, 5);
    assert_int_equal(notifier_queue_length(f.n), 5);
    assert_true(metric_get(&f, "prometheus_notifications_dropped_total") == 3);
    assert_true(metric_get(&f, "prometheus_notifications_queue_length") == 5);
    wait_requests(&f, &s, 1);
    const char *body = s.reqs[0].body;
    assert_null(strstr(body, "\"A0\""));
    assert_null(strstr(body, "\"A2\""));
    for (int i = 3; i < 8; i++) {
        char q[8];
        snprintf(q, sizeof q, "\"A%d\"", i);
        assert_non_null(strstr(body, q));
    }
    assert_true(strstr(body, "\"A3\"") < strstr(body, "\"A7\""));
    run_for(&f, 50);
    assert_true(metric_get(&f, "prometheus_notifications_queue_length") == 0);
    sink_close(&s);
    fx_done(&f);
    sink_free(&s);
}

static void test_failing_alertmanagers(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    struct sink ok, bad;
    sink_start(&f.loop, &ok, 200);
    sink_start(&f.loop, &bad, 500);
    int refused = closed_port(&f.loop);
    /* Set 0: one refusing, one 500 -> the batch is dropped.  Set 1: one 500,
     * one good -> delivered there, but set 0's failure still drops it. */
    fx_apply(&f, config_load("alerting:\n"
                             "  alertmanagers:\n"
                             "  - static_configs: [{targets: ['127.0.0.1:%d', '127.0.0.1:%d']}]\n"
                             "    path_prefix: /zero\n"
                             "  - static_configs: [{targets: ['127.0.0.1:%d', '127.0.0.1:%d']}]\n",
                             refused, bad.port, bad.port, ok.port));
    struct alert_buf b[2];
    struct notifier_alert as[2] = {make_alert(&b[0], "A", NULL), make_alert(&b[1], "B", NULL)};
    notifier_send(f.n, as, 2);
    wait_requests(&f, &ok, 1);
    wait_requests(&f, &bad, 2);
    run_for(&f, 200);
    char series[200];
    snprintf(series, sizeof series,
             "prometheus_notifications_errors_total{alertmanager=\"http://127.0.0.1:%d/zero/api/"
             "v2/alerts\"}",
             refused);
    assert_true(metric_get(&f, series) == 2);
    snprintf(series, sizeof series,
             "prometheus_notifications_sent_total{alertmanager=\"http://127.0.0.1:%d/zero/api/v2/"
             "alerts\"}",
             refused);
    assert_true(metric_get(&f, series) == 2); /* Go counts attempts as sent too */
    snprintf(series, sizeof series,
             "prometheus_notifications_errors_total{alertmanager=\"http://127.0.0.1:%d/zero/api/"
             "v2/alerts\"}",
             bad.port);
    assert_true(metric_get(&f, series) == 2);
    snprintf(series, sizeof series,
             "prometheus_notifications_errors_total{alertmanager=\"http://127.0.0.1:%d/api/v2/"
             "alerts\"}",
             ok.port);
    assert_true(metric_get(&f, series) == 0);
    assert_true(metric_get(&f, "prometheus_notifications_dropped_total") == 2);

    /* Without the failing set, one good Alertmanager is enough. */
    fx_apply(&f, config_load("alerting:\n"
                             "  alertmanagers:\n"
                             "  - static_configs: [{targets: ['127.0.0.1:%d', '127.0.0.1:%d']}]\n",
                             bad.port, ok.port));
    notifier_send(f.n, as, 1);
    wait_requests(&f, &ok, 2);
    run_for(&f, 200);
    assert_true(metric_get(&f, "prometheus_notifications_dropped_total") == 2);
    sink_close(&ok);
    sink_close(&bad);
    fx_done(&f);
    sink_free(&ok);
    sink_free(&bad);
}

struct am_list {
    char text[1024];
};

static void collect_am(void *ctx, const char *url, bool active)
{
    struct am_list *l = ctx;
    size_t n = strlen(l->text);
    snprintf(l->text + n, sizeof l->text - n, "%s%s %s", n ? "|" : "", active ? "+" : "-", url);
}

static char *am_list(struct fx *f, struct am_list *l)
{
    l->text[0] = '\0';
    notifier_each_alertmanager(f->n, collect_am, l);
    return l->text;
}

static void write_file(const char *path, const char *text)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *fp = fopen(tmp, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    assert_int_equal(rename(tmp, path), 0);
}

struct am_wait {
    struct fx *f;
    const char *want;
};

static bool cond_am_list(void *arg)
{
    struct am_wait *w = arg;
    struct am_list l;
    return strcmp(am_list(w->f, &l), w->want) == 0;
}

static void test_file_sd_and_relabel_drop(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    struct sink s;
    sink_start(&f.loop, &s, 200);
    char path[128], json[512];
    snprintf(path, sizeof path, "%s/ams.json", f.dir);
    snprintf(json, sizeof json,
             "[{\"targets\": [\"127.0.0.1:%d\", \"10.0.0.9:9093\"], \"labels\": {\"env\": "
             "\"prod\"}},\n"
             " {\"targets\": [\"127.0.0.1:%d\"], \"labels\": {\"__scheme__\": \"https\"}}]\n",
             s.port, s.port);
    write_file(path, json);
    /* relabel_configs drop the 10.0.0.9 one; the https group is a second
     * Alertmanager (another URL). */
    fx_apply(&f,
             config_load("alerting:\n"
                         "  alertmanagers:\n"
                         "  - file_sd_configs: [{files: ['%s'], refresh_interval: 100ms}]\n"
                         "    path_prefix: prefix\n"
                         "    relabel_configs:\n"
                         "    - {source_labels: [__address__], regex: '10\\..*', action: drop}\n",
                         path));
    struct am_list l;
    char want[512];
    snprintf(want, sizeof want,
             "+ http://127.0.0.1:%d/prefix/api/v2/alerts|+ https://127.0.0.1:%d/prefix/api/v2/"
             "alerts|- http://10.0.0.9:9093/prefix/api/v2/alerts",
             s.port, s.port);
    assert_string_equal(am_list(&f, &l), want);
    assert_true(metric_get(&f, "prometheus_notifications_alertmanagers_discovered") == 2);

    /* The file changes: the next refresh sees it. */
    snprintf(json, sizeof json, "[{\"targets\": [\"127.0.0.1:%d\"]}]\n", s.port);
    write_file(path, json);
    snprintf(want, sizeof want, "+ http://127.0.0.1:%d/prefix/api/v2/alerts", s.port);
    struct am_wait w = {&f, want};
    run_until(&f, cond_am_list, &w);
    assert_true(metric_get(&f, "prometheus_notifications_alertmanagers_discovered") == 1);

    struct alert_buf b;
    struct notifier_alert a = make_alert(&b, "FromFileSD", NULL);
    notifier_send(f.n, &a, 1);
    wait_requests(&f, &s, 1);
    assert_true(strncmp(s.reqs[0].head, "POST /prefix/api/v2/alerts ", 27) == 0);
    sink_close(&s);
    fx_done(&f);
    sink_free(&s);
}

static void test_target_labels_and_url(void **state)
{
    (void)state;
    struct prom_config *c = config_load("alerting:\n"
                                        "  alertmanagers:\n"
                                        "  - scheme: https\n"
                                        "    path_prefix: /a/../b//c/\n"
                                        "    static_configs: [{targets: ['am:9093']}]\n");
    struct label_set ls = LABEL_SET_INIT;
    struct ystrmap gl = {0};
    amset_target_labels(&c->alerting.alertmanagers[0], "am:9093", &gl, &ls);
    assert_string_equal(label_set_get(&ls, "__alerts_path__"), "/b/c/api/v2/alerts");
    char *url = amset_url(&ls);
    assert_string_equal(url, "https://am:9093/b/c/api/v2/alerts");
    free(url);
    label_set_free(&ls);
    prom_config_free(c);
}

static void test_stop_drains_queue(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    struct sink s;
    sink_start(&f.loop, &s, 200);
    fx_apply(&f, config_load("alerting:\n"
                             "  alertmanagers:\n"
                             "  - static_configs: [{targets: ['127.0.0.1:%d']}]\n",
                             s.port));
    static struct alert_buf bufs[600];
    static struct notifier_alert as[600];
    for (int i = 0; i < 600; i++) {
        char name[32];
        snprintf(name, sizeof name, "D%03d", i);
        as[i] = make_alert(&bufs[i], name, NULL);
    }
    notifier_send(f.n, as, 600);
    notifier_stop(f.n, NULL, NULL);
    notifier_send(f.n, as, 1); /* after the stop: dropped */
    wait_requests(&f, &s, 3);
    sink_close(&s);
    uv_run(&f.loop, UV_RUN_DEFAULT); /* returns once the notifier has closed everything */
    size_t total = 0;
    for (size_t i = 0; i < s.nreqs; i++)
        total += count_of(s.reqs[i].body, "\"labels\"");
    assert_int_equal(total, 600);
    assert_true(metric_get(&f, "prometheus_notifications_dropped_total") == 1);
    fx_done(&f);
    sink_free(&s);
}

struct sender {
    pthread_t th;
    struct notifier *n;
    int id;
};

static void *sender_main(void *arg)
{
    struct sender *sd = arg;
    for (int i = 0; i < 100; i++) {
        struct alert_buf b;
        char name[32];
        snprintf(name, sizeof name, "T%d_%03d", sd->id, i);
        struct notifier_alert a = make_alert(&b, name, NULL);
        notifier_send(sd->n, &a, 1);
    }
    return NULL;
}

static bool cond_labels(void *arg)
{
    struct sink *s = arg;
    size_t total = 0;
    for (size_t i = 0; i < s->nreqs; i++)
        total += count_of(s->reqs[i].body, "\"labels\"");
    return total >= 400;
}

/* The rules engine sends from worker threads while the loop sends. */
static void test_send_from_threads(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    struct sink s;
    sink_start(&f.loop, &s, 200);
    fx_apply(&f, config_load("alerting:\n"
                             "  alertmanagers:\n"
                             "  - static_configs: [{targets: ['127.0.0.1:%d']}]\n",
                             s.port));
    struct sender sd[4];
    for (int i = 0; i < 4; i++) {
        sd[i] = (struct sender){.n = f.n, .id = i};
        assert_int_equal(pthread_create(&sd[i].th, NULL, sender_main, &sd[i]), 0);
    }
    run_for(&f, 20);
    for (int i = 0; i < 4; i++)
        pthread_join(sd[i].th, NULL);
    run_until(&f, cond_labels, &s);
    assert_true(metric_get(&f, "prometheus_notifications_dropped_total") == 0);
    sink_close(&s);
    fx_done(&f);
    sink_free(&s);
}

static void test_no_alertmanagers_discards(void **state)
{
    (void)state;
    struct fx f;
    fx_init(&f, 0);
    fx_apply(&f, config_load("scrape_configs: []\n"));
    struct alert_buf b;
    struct notifier_alert a = make_alert(&b, "Nowhere", NULL);
    notifier_send(f.n, &a, 1);
    run_until(&f, cond_queue_empty_and_idle, &f);
    assert_true(metric_get(&f, "prometheus_notifications_dropped_total") == 0);
    fx_done(&f);
}

/* ---- A real Alertmanager ---- */

#define AM_BIN "/usr/bin/prometheus-alertmanager"

static size_t collect_body(char *p, size_t size, size_t n, void *arg)
{
    sbuf_append(arg, p, size * n);
    return size * n;
}

/* Blocking GET (test only). */
static int http_get(const char *url, struct sbuf *out)
{
    CURL *e = curl_easy_init();
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, collect_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    CURLcode rc = curl_easy_perform(e);
    long code = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(e);
    return rc == CURLE_OK ? (int)code : -1;
}

static void on_am_exit(uv_process_t *p, int64_t status, int sig)
{
    (void)status;
    (void)sig;
    uv_close((uv_handle_t *)p, NULL);
}

/* Waits for the Alertmanager, sends it one alert through the notifier and
 * reads it back.  NULL, or what went wrong. */
static const char *real_am_check(struct fx *f, const char *base, int port)
{
    static char why[4096];
    char url[128];
    snprintf(url, sizeof url, "%s/-/ready", base);
    int code = -1;
    for (int i = 0; i < 100 && code != 200; i++) {
        struct sbuf b = SBUF_INIT;
        code = http_get(url, &b);
        sbuf_free(&b);
        if (code != 200)
            usleep(100000);
    }
    if (code != 200)
        return "the Alertmanager did not become ready";
    fx_apply(f, config_load("global: {external_labels: {replica: r1}}\n"
                            "alerting:\n"
                            "  alertmanagers:\n"
                            "  - static_configs: [{targets: ['127.0.0.1:%d']}]\n",
                            port));
    struct label lab[] = {{"alertname", "VigilRealAM"}, {"severity", "info"}};
    struct label ann[] = {{"summary", "sent by the notifier test"}};
    int64_t now = (int64_t)time(NULL) * 1000;
    struct notifier_alert a = {.labels = {lab, 2},
                               .annotations = {ann, 1},
                               .starts_at_ms = now - 60000,
                               .ends_at_ms = now + 240000,
                               .generator_url = "http://vigil:9090/graph?g0.expr=up&g0.tab=1"};
    notifier_send(f->n, &a, 1);
    char sent[160], errors[160];
    snprintf(sent, sizeof sent,
             "prometheus_notifications_sent_total{alertmanager=\"%s/api/v2/alerts\"}", base);
    snprintf(errors, sizeof errors,
             "prometheus_notifications_errors_total{alertmanager=\"%s/api/v2/alerts\"}", base);
    for (int i = 0; i < 50 && metric_get(f, sent) != 1; i++)
        run_for(f, 100);
    if (metric_get(f, sent) != 1 || metric_get(f, errors) != 0)
        return "the POST failed";
    snprintf(url, sizeof url, "%s/api/v2/alerts", base);
    struct sbuf b = SBUF_INIT;
    code = http_get(url, &b);
    /* Go's encoder writes & as \u0026. */
    bool ok =
        code == 200 && b.data && strstr(b.data, "\"alertname\":\"VigilRealAM\"") &&
        strstr(b.data, "\"replica\":\"r1\"") &&
        strstr(b.data, "\"generatorURL\":\"http://vigil:9090/graph?g0.expr=up\\u0026g0.tab=1\"") &&
        strstr(b.data, "\"summary\":\"sent by the notifier test\"") &&
        strstr(b.data, "\"state\":\"active\"");
    snprintf(why, sizeof why, "alert not in Alertmanager (HTTP %d): %s", code,
             b.data ? b.data : "(empty)");
    sbuf_free(&b);
    return ok ? NULL : why;
}

static void test_real_alertmanager(void **state)
{
    (void)state;
    if (access(AM_BIN, X_OK) != 0) {
        skip();
        return;
    }
    struct fx f;
    fx_init(&f, 0);
    int port = closed_port(&f.loop);
    char cfgpath[128], storage[128], listen[64], cfgflag[160], stflag[160];
    snprintf(cfgpath, sizeof cfgpath, "%s/alertmanager.yml", f.dir);
    snprintf(storage, sizeof storage, "%s/data", f.dir);
    write_file(cfgpath, "route: {receiver: blackhole}\nreceivers: [{name: blackhole}]\n");
    snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
    snprintf(cfgflag, sizeof cfgflag, "--config.file=%s", cfgpath);
    snprintf(stflag, sizeof stflag, "--storage.path=%s", storage);
    char *args[] = {
        AM_BIN, cfgflag, stflag, listen, "--cluster.listen-address=", "--log.level=warn", NULL};
    uv_process_t proc;
    uv_stdio_container_t stdio[3] = {
        {.flags = UV_IGNORE}, {.flags = UV_IGNORE}, {.flags = UV_IGNORE}};
    uv_process_options_t po = {
        .file = AM_BIN, .args = args, .exit_cb = on_am_exit, .stdio = stdio, .stdio_count = 3};
    assert_int_equal(uv_spawn(&f.loop, &proc, &po), 0);
    /* From here on nothing may fail before the Alertmanager is killed. */
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d", port);
    const char *why = real_am_check(&f, base, port);
    uv_process_kill(&proc, SIGTERM);
    fx_done(&f);
    if (why)
        fail_msg("%s", why);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_target_labels_and_url),
        cmocka_unit_test(test_payload_shape_and_headers),
        cmocka_unit_test(test_batches_of_256),
        cmocka_unit_test(test_alert_relabel_global_and_per_set),
        cmocka_unit_test(test_queue_overflow_drops_oldest),
        cmocka_unit_test(test_failing_alertmanagers),
        cmocka_unit_test(test_file_sd_and_relabel_drop),
        cmocka_unit_test(test_stop_drains_queue),
        cmocka_unit_test(test_send_from_threads),
        cmocka_unit_test(test_no_alertmanagers_discards),
        cmocka_unit_test(test_real_alertmanager),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
