/* test_scrape_textparse.c — the exposition parsers, as a specification.
 *
 * What Prometheus 3 accepts and rejects is the contract, so most tests are
 * tables of inputs with the entries or the error ("line N: ...") expected.
 * Real pages: a node_exporter page committed under data/textparse, and a
 * live one when prometheus-node-exporter is installed; every sample of them
 * must parse to the line's own series bytes and a value that prints back to
 * the same text.  Oracles: glibc's strtod (correctly rounded, like Go) for a
 * few hundred thousand floats, and, when promtool is installed, Prometheus's
 * own OpenMetrics parser through `promtool tsdb create-blocks-from
 * openmetrics` for values and timestamps.  The ns/sample figure on the
 * node_exporter page is printed, to compare with the ingest study.
 *
 * Runs with cwd = tests/unit; VIGIL_SRC points at the source tree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scrape/textparse.h"
#include "scrape/textparse_internal.h"

#define PROM TEXTPARSE_PROMETHEUS
#define OM   TEXTPARSE_OPENMETRICS

/* ---- helpers ---- */

static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct sbuf b = SBUF_INIT;
    char tmp[65536];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        sbuf_append(&b, tmp, n);
    fclose(f);
    *len = b.len;
    return sbuf_detach(&b);
}

static char *data_file(const char *name, size_t *len)
{
    char path[4096];
    const char *src = getenv("VIGIL_SRC");
    if (src)
        snprintf(path, sizeof path, "%s/tests/unit/data/textparse/%s", src, name);
    else
        snprintf(path, sizeof path, "data/textparse/%s", name);
    char *buf = read_whole(path, len);
    if (!buf)
        fail_msg("cannot read %s: %s", path, strerror(errno));
    return buf;
}

static bool str_equals(struct textparse_str s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.s, lit, s.len) == 0;
}

#define assert_str(span, lit)                                                                      \
    do {                                                                                           \
        struct textparse_str s_ = (span);                                                          \
        if (!str_equals(s_, (lit)))                                                                \
            fail_msg("got \"%.*s\", want \"%s\"", (int)s_.len, s_.s, (lit));                       \
    } while (0)

static uint64_t bits_of(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* Parses all of text; returns the last entry (END or ERROR) and counts series. */
static enum textparse_entry parse_all(enum textparse_format f, const char *text, size_t len,
                                      size_t *series, char *err, size_t errcap)
{
    struct textparse p;
    textparse_init(&p, f, text, len);
    enum textparse_entry e;
    size_t n = 0;
    while ((e = textparse_next(&p)) != TEXTPARSE_END && e != TEXTPARSE_ERROR)
        if (e == TEXTPARSE_SERIES)
            n++;
    if (series)
        *series = n;
    if (err)
        snprintf(err, errcap, "%s", textparse_error(&p));
    textparse_free(&p);
    return e;
}

/* Advances to the next SERIES entry, failing on anything but metadata. */
static void next_series(struct textparse *p)
{
    enum textparse_entry e;
    while ((e = textparse_next(p)) != TEXTPARSE_SERIES) {
        if (e == TEXTPARSE_ERROR || e == TEXTPARSE_END || e == TEXTPARSE_EOF)
            fail_msg("expected a series, got entry %d: %s", e, textparse_error(p));
    }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static double ns_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) * 1e9 + (double)(t1.tv_nsec - t0->tv_nsec);
}

/* ---- real pages ---- */

/* Checks a Prometheus-format page line by line against the parse: every
 * sample line is one series whose raw bytes are the line up to its last
 * space, whose value prints back (Go's shortest form) to the line's value
 * text, and whose line number is the line's; HELP and TYPE lines count. */
static size_t check_real_page(const char *buf, size_t len)
{
    struct textparse p;
    textparse_init(&p, PROM, buf, len);
    struct sbuf sb = SBUF_INIT, vb = SBUF_INIT;
    size_t series = 0, help = 0, type = 0, want_help = 0, want_type = 0;
    unsigned long line = 0;
    const char *s = buf, *end = buf + len;
    while (s < end) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *e = nl ? nl : end;
        line++;
        if (e == s) {
            s = e + 1;
            continue;
        }
        if (*s == '#') {
            want_help += strncmp(s, "# HELP ", 7) == 0;
            want_type += strncmp(s, "# TYPE ", 7) == 0;
            s = e + 1;
            continue;
        }
        enum textparse_entry en;
        while ((en = textparse_next(&p)) != TEXTPARSE_SERIES) {
            if (en == TEXTPARSE_ERROR)
                fail_msg("%s", textparse_error(&p));
            assert_int_not_equal(en, TEXTPARSE_END);
            help += en == TEXTPARSE_HELP;
            type += en == TEXTPARSE_TYPE;
        }
        series++;
        const char *sp = e;
        while (sp > s && sp[-1] != ' ')
            sp--;
        const char *raw;
        size_t rawlen;
        textparse_series(&p, &raw, &rawlen);
        assert_int_equal(rawlen, (size_t)(sp - 1 - s));
        assert_memory_equal(raw, s, rawlen);
        assert_int_equal(textparse_line(&p), line);
        assert_false(textparse_timestamp(&p, NULL));
        sbuf_reset(&vb);
        sbuf_put_float(&vb, textparse_value(&p));
        if (vb.len != (size_t)(e - sp) || memcmp(vb.data, sp, vb.len) != 0)
            fail_msg("line %lu: value %.*s printed back as %s", line, (int)(e - sp), sp, vb.data);
        /* the label spans rebuild the series bytes */
        sbuf_reset(&sb);
        struct textparse_str nm = textparse_metric_name(&p);
        sbuf_append(&sb, nm.s, nm.len);
        size_t nl_ = textparse_label_count(&p);
        const struct textparse_label *l = textparse_labels(&p);
        for (size_t i = 0; i < nl_; i++) {
            sbuf_puts(&sb, i ? "," : "{");
            sbuf_append(&sb, l[i].name.s, l[i].name.len);
            sbuf_puts(&sb, "=\"");
            sbuf_append(&sb, l[i].value.s, l[i].value.len);
            sbuf_puts(&sb, "\"");
        }
        if (nl_)
            sbuf_puts(&sb, "}");
        assert_int_equal(sb.len, rawlen);
        assert_memory_equal(sb.data, raw, rawlen);
        s = e + 1;
    }
    enum textparse_entry en;
    while ((en = textparse_next(&p)) != TEXTPARSE_END) {
        assert_int_not_equal(en, TEXTPARSE_ERROR);
        assert_int_not_equal(en, TEXTPARSE_SERIES);
        help += en == TEXTPARSE_HELP;
        type += en == TEXTPARSE_TYPE;
    }
    assert_int_equal(help, want_help);
    assert_int_equal(type, want_type);
    assert_null(p.heap); /* never left the inline label array */
    textparse_free(&p);
    sbuf_free(&sb);
    sbuf_free(&vb);
    return series;
}

static void test_node_exporter_committed(void **state)
{
    (void)state;
    size_t len;
    char *buf = data_file("node_exporter.prom", &len);
    assert_int_equal(check_real_page(buf, len), 507);
    free(buf);
}

/* Starts prometheus-node-exporter on a free loopback port, GETs /metrics
 * over a plain socket, stops it.  Returns the body or NULL. */
static char *fetch_live_node_exporter(size_t *len)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0 || getsockname(s, (struct sockaddr *)&a, &al))
        return NULL;
    int port = ntohs(a.sin_port);
    close(s);
    char listen[64];
    snprintf(listen, sizeof listen, "--web.listen-address=127.0.0.1:%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int dn = open("/dev/null", O_RDWR);
        dup2(dn, 1);
        dup2(dn, 2);
        execl("/usr/bin/prometheus-node-exporter", "prometheus-node-exporter", listen,
              (char *)NULL);
        _exit(127);
    }
    char *body = NULL;
    for (int tries = 0; tries < 100 && !body; tries++) {
        usleep(50000);
        s = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
            close(s);
            continue;
        }
        const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\nAccept: text/plain\r\n"
                           "Accept-Encoding: identity\r\nConnection: close\r\n\r\n";
        if (write(s, req, sizeof req - 1) != (ssize_t)(sizeof req - 1)) {
            close(s);
            continue;
        }
        struct sbuf r = SBUF_INIT;
        char tmp[65536];
        ssize_t n;
        while ((n = read(s, tmp, sizeof tmp)) > 0)
            sbuf_append(&r, tmp, (size_t)n);
        close(s);
        const char *hdr_end = r.data ? strstr(r.data, "\r\n\r\n") : NULL;
        if (hdr_end && strncmp(r.data + 4, "/1.", 3) == 0 && strncmp(r.data + 8, " 200", 4) == 0) {
            *len = r.len - (size_t)(hdr_end + 4 - r.data);
            body = xstrndup(hdr_end + 4, *len);
        }
        sbuf_free(&r);
    }
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    return body;
}

static void test_node_exporter_live(void **state)
{
    (void)state;
    if (access("/usr/bin/prometheus-node-exporter", X_OK) != 0)
        skip();
    size_t len;
    char *body = fetch_live_node_exporter(&len);
    if (!body)
        fail_msg("could not scrape a live node_exporter");
    size_t n = check_real_page(body, len);
    assert_true(n > 100);
    print_message("live node_exporter page: %zu bytes, %zu series\n", len, n);
    free(body);
}

/* ns per sample over the committed node_exporter page: the median of 11
 * runs, as in the ingest study (which measured 44-67 ns for a full parse). */
static int dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double bench_page(const char *buf, size_t len, bool decode)
{
    enum { RUNS = 11, PASSES = 100 };
    double ns[RUNS];
    struct sbuf sb = SBUF_INIT;
    struct textparse_label_text v[64];
    volatile double sink = 0;
    size_t samples = 0;
    for (int r = 0; r < RUNS; r++) {
        struct timespec t0;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        samples = 0;
        for (int pass = 0; pass < PASSES; pass++) {
            struct textparse p;
            textparse_init(&p, PROM, buf, len);
            enum textparse_entry e;
            while ((e = textparse_next(&p)) != TEXTPARSE_END) {
                if (e != TEXTPARSE_SERIES)
                    continue;
                const char *raw;
                size_t rawlen;
                int64_t ts;
                textparse_series(&p, &raw, &rawlen);
                sink += textparse_value(&p) + (double)rawlen + textparse_timestamp(&p, &ts);
                if (decode) {
                    sbuf_reset(&sb);
                    sink += (double)textparse_labels_unescape(&p, &sb, v);
                }
                samples++;
            }
            textparse_free(&p);
        }
        ns[r] = ns_since(&t0) / (double)samples;
    }
    sbuf_free(&sb);
    (void)sink;
    qsort(ns, RUNS, sizeof ns[0], dbl_cmp);
    return ns[RUNS / 2];
}

static void test_node_exporter_speed_and_no_allocation(void **state)
{
    (void)state;
    size_t len;
    char *buf = data_file("node_exporter.prom", &len);
    /* No allocation at all while parsing a page. */
    struct textparse p;
    size_t before = mallinfo2().uordblks;
    textparse_init(&p, PROM, buf, len);
    size_t n = 0;
    for (enum textparse_entry e; (e = textparse_next(&p)) != TEXTPARSE_END;)
        n += e == TEXTPARSE_SERIES;
    size_t after = mallinfo2().uordblks;
    textparse_free(&p);
    assert_int_equal(n, 507);
    assert_int_equal(before, after);
    double parse = bench_page(buf, len, false);
    double decode = bench_page(buf, len, true);
    print_message("node_exporter page, 507 samples: parse %.1f ns/sample; "
                  "parse + decode labels into an sbuf %.1f ns/sample\n",
                  parse, decode);
    free(buf);
}

/* ---- the feature files ---- */

struct want_series {
    const char *raw;    /* the series bytes */
    const char *labels; /* decoded: "__name__=x,a=b" */
    double value;
    bool has_ts;
    int64_t ts;
};

static void decoded_labels(struct textparse *p, struct sbuf *out)
{
    struct sbuf sb = SBUF_INIT;
    struct textparse_label_text v[64];
    size_t n = textparse_labels_unescape(p, &sb, v);
    sbuf_reset(out);
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_putc(out, ',');
        sbuf_append(out, v[i].name, v[i].name_len);
        sbuf_putc(out, '=');
        sbuf_append(out, v[i].value, v[i].value_len);
        assert_int_equal(v[i].name[v[i].name_len], '\0');
        assert_int_equal(v[i].value[v[i].value_len], '\0');
    }
    sbuf_free(&sb);
}

static void check_series(struct textparse *p, const struct want_series *w)
{
    next_series(p);
    const char *raw;
    size_t rawlen;
    textparse_series(p, &raw, &rawlen);
    if (rawlen != strlen(w->raw) || memcmp(raw, w->raw, rawlen) != 0)
        fail_msg("series %.*s, want %s", (int)rawlen, raw, w->raw);
    struct sbuf lb = SBUF_INIT;
    decoded_labels(p, &lb);
    assert_string_equal(lb.data, w->labels);
    sbuf_free(&lb);
    double v = textparse_value(p);
    if (isnan(w->value))
        assert_int_equal(bits_of(v), 0x7ff8000000000001ULL);
    else
        assert_int_equal(bits_of(v), bits_of(w->value));
    int64_t ts = 0;
    assert_int_equal(textparse_timestamp(p, &ts), w->has_ts);
    if (w->has_ts)
        assert_int_equal(ts, w->ts);
}

static void test_openmetrics_features(void **state)
{
    (void)state;
    size_t len;
    char *buf = data_file("openmetrics_features.om", &len);
    struct textparse p;
    textparse_init(&p, OM, buf, len);
    struct sbuf sb = SBUF_INIT;

    assert_int_equal(textparse_next(&p), TEXTPARSE_HELP);
    assert_str(textparse_meta_name(&p), "http_requests");
    assert_true(textparse_help(&p).escaped);
    textparse_help_unescape(&p, &sb);
    assert_string_equal(sb.data,
                        "Requests served, with a \\ backslash, a \n newline and a \" quote.");
    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    assert_int_equal(textparse_type(&p), TEXTPARSE_MTYPE_COUNTER);

    check_series(
        &p, &(struct want_series){"http_requests_total{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"}",
                                  "__name__=http_requests_total,code=200,path=/a\"b\\c\nd", 1027,
                                  true, 1700000000500});
    assert_int_equal(textparse_line(&p), 3);
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_COUNTER);
    assert_false(textparse_series_is_created(&p));
    int64_t ct = 0;
    assert_true(textparse_created_timestamp(&p, &ct));
    assert_int_equal(ct, 1699990000250);
    struct textparse_exemplar ex;
    assert_false(textparse_exemplar(&p, &ex));

    check_series(
        &p, &(struct want_series){"http_requests_created{code=\"200\",path=\"/a\\\"b\\\\c\\nd\"}",
                                  "__name__=http_requests_created,code=200,path=/a\"b\\c\nd",
                                  1699990000.25, false, 0});
    assert_true(textparse_series_is_created(&p));
    check_series(&p, &(struct want_series){"http_requests_total{code=\"500\"}",
                                           "__name__=http_requests_total,code=500", 3, true,
                                           1700000000500});
    assert_true(textparse_exemplar(&p, &ex));
    assert_int_equal(ex.label_count, 2);
    assert_str(ex.labels[0].name, "trace_id");
    assert_str(ex.labels[0].value, "oHg5SJYRHA0");
    assert_str(ex.labels[1].name, "span_id");
    assert_str(ex.labels[1].value, "1");
    assert_true(ex.value == 1.5);
    assert_true(ex.has_ts);
    assert_int_equal(ex.ts, 1700000000123);
    assert_int_equal(textparse_label_count(&p), 1); /* exemplar labels are not series labels */
    assert_true(textparse_created_timestamp(&p, &ct));
    assert_int_equal(ct, 1699990000750);

    check_series(&p, &(struct want_series){"http_requests_created{code=\"500\"}",
                                           "__name__=http_requests_created,code=500", 1699990000.75,
                                           false, 0});

    assert_int_equal(textparse_next(&p), TEXTPARSE_HELP);
    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    assert_int_equal(textparse_type(&p), TEXTPARSE_MTYPE_HISTOGRAM);
    assert_int_equal(textparse_next(&p), TEXTPARSE_UNIT);
    assert_str(textparse_meta_name(&p), "rpc_seconds");
    assert_str(textparse_unit(&p), "seconds");
    check_series(&p, &(struct want_series){"rpc_seconds_bucket{le=\"0.1\"}",
                                           "__name__=rpc_seconds_bucket,le=0.1", 3, false, 0});
    assert_true(textparse_exemplar(&p, &ex));
    assert_int_equal(ex.label_count, 1);
    assert_false(ex.has_ts);
    assert_true(ex.value == 0.05);
    assert_true(textparse_created_timestamp(&p, &ct)); /* le is not part of the match */
    assert_int_equal(ct, 1699990000000);
    check_series(&p, &(struct want_series){"rpc_seconds_bucket{le=\"1\"}",
                                           "__name__=rpc_seconds_bucket,le=1.0", 5, false, 0});
    assert_false(textparse_exemplar(&p, &ex));
    check_series(&p, &(struct want_series){"rpc_seconds_bucket{le=\"+Inf\"}",
                                           "__name__=rpc_seconds_bucket,le=+Inf", 6, false, 0});
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_HISTOGRAM);
    check_series(
        &p, &(struct want_series){"rpc_seconds_count", "__name__=rpc_seconds_count", 6, false, 0});
    assert_true(textparse_created_timestamp(&p, &ct));
    check_series(
        &p, &(struct want_series){"rpc_seconds_sum", "__name__=rpc_seconds_sum", 4.25, false, 0});
    check_series(&p, &(struct want_series){"rpc_seconds_created", "__name__=rpc_seconds_created",
                                           1699990000, false, 0});
    assert_true(textparse_series_is_created(&p));

    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    assert_int_equal(textparse_type(&p), TEXTPARSE_MTYPE_SUMMARY);
    check_series(&p, &(struct want_series){"rpc_quantiles{quantile=\"0.50\"}",
                                           "__name__=rpc_quantiles,quantile=0.5", 0.2, false, 0});
    assert_false(textparse_created_timestamp(&p, &ct)); /* no _created line in the family */
    check_series(&p, &(struct want_series){"rpc_quantiles{quantile=\"1\"}",
                                           "__name__=rpc_quantiles,quantile=1.0", 0.9, false, 0});
    check_series(
        &p, &(struct want_series){"rpc_quantiles_sum", "__name__=rpc_quantiles_sum", 12, false, 0});
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_SUMMARY);
    check_series(&p, &(struct want_series){"rpc_quantiles_count", "__name__=rpc_quantiles_count",
                                           40, false, 0});

    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    assert_int_equal(textparse_type(&p), TEXTPARSE_MTYPE_GAUGEHISTOGRAM);
    check_series(&p, &(struct want_series){"queue_depth_bucket{le=\"10\"}",
                                           "__name__=queue_depth_bucket,le=10", 4, false, 0});
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_GAUGEHISTOGRAM);
    check_series(&p, &(struct want_series){"queue_depth_bucket{le=\"+Inf\"}",
                                           "__name__=queue_depth_bucket,le=+Inf", 5, false, 0});
    check_series(&p, &(struct want_series){"queue_depth_gcount", "__name__=queue_depth_gcount", 5,
                                           false, 0});
    check_series(
        &p, &(struct want_series){"queue_depth_gsum", "__name__=queue_depth_gsum", 17, false, 0});
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_GAUGEHISTOGRAM);

    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    assert_int_equal(textparse_type(&p), TEXTPARSE_MTYPE_INFO);
    check_series(&p, &(struct want_series){"build_info{version=\"1.2.3\",revision=\"abc\"}",
                                           "__name__=build_info,version=1.2.3,revision=abc", 1,
                                           false, 0});
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_INFO);
    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    assert_int_equal(textparse_type(&p), TEXTPARSE_MTYPE_STATESET);
    check_series(&p, &(struct want_series){"feature{feature=\"a\"}", "__name__=feature,feature=a",
                                           1, false, 0});
    check_series(&p, &(struct want_series){"feature{feature=\"b\"}", "__name__=feature,feature=b",
                                           0, false, 0});

    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    check_series(&p, &(struct want_series){"temperature{room=\"k\xc3\xbc"
                                           "che\"}",
                                           "__name__=temperature,room=k\xc3\xbc"
                                           "che",
                                           -0.35, true, -1500});
    assert_false(textparse_created_timestamp(&p, &ct)); /* gauges have none */
    check_series(&p, &(struct want_series){"temperature{room=\"attic\"}",
                                           "__name__=temperature,room=attic", NAN, false, 0});
    check_series(&p, &(struct want_series){"temperature{room=\"roof\"}",
                                           "__name__=temperature,room=roof", INFINITY, false, 0});
    check_series(&p,
                 &(struct want_series){"temperature{room=\"cellar\"}",
                                       "__name__=temperature,room=cellar", -INFINITY, false, 0});
    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    assert_int_equal(textparse_type(&p), TEXTPARSE_MTYPE_UNKNOWN);
    check_series(&p, &(struct want_series){"mystery", "__name__=mystery", 1e-3, false, 0});

    assert_int_equal(textparse_next(&p), TEXTPARSE_HELP);
    assert_str(textparse_meta_name(&p), "my.utf8.metric");
    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    assert_str(textparse_meta_name(&p), "my.utf8.metric");
    check_series(&p, &(struct want_series){"{\"my.utf8.metric\",\"a.b\"=\"c\",d=\"e\"}",
                                           "__name__=my.utf8.metric,a.b=c,d=e", 42, false, 0});
    assert_str(textparse_metric_name(&p), "my.utf8.metric");
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_GAUGE);
    check_series(&p, &(struct want_series){"{\"my.utf8.metric\",}", "__name__=my.utf8.metric", 43,
                                           true, 17250});
    assert_true(textparse_exemplar(&p, &ex));
    assert_int_equal(ex.label_count, 0);

    assert_int_equal(textparse_next(&p), TEXTPARSE_EOF);
    assert_int_equal(textparse_next(&p), TEXTPARSE_END);
    assert_int_equal(textparse_next(&p), TEXTPARSE_END);
    textparse_free(&p);
    sbuf_free(&sb);
    free(buf);
}

static void test_prometheus_features(void **state)
{
    (void)state;
    size_t len;
    char *buf = data_file("prometheus_features.prom", &len);
    struct textparse p;
    textparse_init(&p, PROM, buf, len);
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(textparse_next(&p), TEXTPARSE_COMMENT);
    assert_str(textparse_comment(&p),
               "# A Prometheus text format (0.0.4) page using what the format allows");
    assert_int_equal(textparse_next(&p), TEXTPARSE_COMMENT);
    assert_int_equal(textparse_next(&p), TEXTPARSE_HELP);
    assert_int_equal(textparse_line(&p), 4); /* the blank line 3 was skipped */
    textparse_help_unescape(&p, &sb);
    /* \" is no escape in 0.0.4 HELP text */
    assert_string_equal(sb.data,
                        "Number of goroutines, with \\ and \n escapes (but \\\" is not one).");
    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    assert_int_equal(textparse_type(&p), TEXTPARSE_MTYPE_GAUGE);
    check_series(&p,
                 &(struct want_series){"go_goroutines", "__name__=go_goroutines", 42, false, 0});
    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE); /* tab-separated, indented */
    assert_str(textparse_meta_name(&p), "requests");
    assert_int_equal(textparse_type(&p), TEXTPARSE_MTYPE_COUNTER);
    check_series(&p, &(struct want_series){"requests{code=\"200\",  method=\"GET\"}",
                                           "__name__=requests,code=200,method=GET", 1027, true,
                                           1700000000000});
    check_series(&p, &(struct want_series){"requests { code = \"500\" , method = \"POST\" , }",
                                           "__name__=requests,code=500,method=POST", 3, false, 0});
    check_series(&p, &(struct want_series){"requests{code=\"404\" method=\"GET\"}",
                                           "__name__=requests,code=404,method=GET", 7, true,
                                           1700000000123});
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_COUNTER);
    assert_int_equal(textparse_next(&p), TEXTPARSE_TYPE);
    assert_int_equal(textparse_type(&p), TEXTPARSE_MTYPE_UNKNOWN); /* untyped */
    check_series(&p, &(struct want_series){"temperature{room=\"k\xc3\xbc"
                                           "che\",note=\"a\\qb\"}",
                                           "__name__=temperature,room=k\xc3\xbc"
                                           "che,note=a\\qb",
                                           -0.35, false, 0});
    check_series(&p, &(struct want_series){"temperature", "__name__=temperature", NAN, false, 0});
    check_series(&p, &(struct want_series){"temperature{room=\"roof\"}",
                                           "__name__=temperature,room=roof", INFINITY, false, 0});
    check_series(&p,
                 &(struct want_series){"temperature{room=\"cellar\"}",
                                       "__name__=temperature,room=cellar", -INFINITY, false, 0});
    check_series(&p, &(struct want_series){"temperature{multi=\"line\nvalue\"}",
                                           "__name__=temperature,multi=line\nvalue", 1, false, 0});
    assert_int_equal(textparse_line(&p), 16);
    assert_int_equal(textparse_next(&p), TEXTPARSE_HELP);
    assert_str(textparse_meta_name(&p), "my.utf8.metric");
    check_series(&p, &(struct want_series){"{\"my.utf8.metric\", \"a.b\"=\"c\"}",
                                           "__name__=my.utf8.metric,a.b=c", 42, false, 0});
    check_series(
        &p, &(struct want_series){"{\"my.utf8.metric\"}", "__name__=my.utf8.metric", 43, false, 0});
    assert_int_equal(textparse_next(&p), TEXTPARSE_COMMENT);
    assert_str(textparse_comment(&p), "#no space after the hash is a comment too");
    assert_int_equal(textparse_next(&p), TEXTPARSE_END);
    textparse_free(&p);
    sbuf_free(&sb);
    free(buf);
}

/* ---- what is accepted, entry by entry ---- */

struct accept_case {
    enum textparse_format f;
    const char *in;
    size_t len; /* 0: strlen */
    size_t series;
    const char *first; /* decoded labels of the first series, or NULL */
    double value;      /* of the first series */
};

static void test_accepted_inputs(void **state)
{
    (void)state;
    static const struct accept_case cases[] = {
        /* Prometheus format: blanks, optional final newline, blank lines */
        {PROM, "a 1", 0, 1, "__name__=a", 1},
        {PROM, "\n\n  \t\na 1\n\n", 0, 1, "__name__=a", 1},
        {PROM, "a\t\t1\t\n", 0, 1, "__name__=a", 1},
        {PROM, "", 0, 0, NULL, 0},
        {PROM, "# only a comment", 0, 0, NULL, 0},
        /* the value may follow the name or '}' directly */
        {PROM, "a-1\n", 0, 1, "__name__=a", -1},
        {PROM, "a{b=\"c\"}2\n", 0, 1, "__name__=a,b=c", 2},
        {PROM, "a {b=\"c\"} 3\n", 0, 1, "__name__=a,b=c", 3},
        /* a leading blank is part of the name, as in Prometheus 3 */
        {PROM, " a 1\n", 0, 1, "__name__= a", 1},
        /* NUL: at a line start (after blanks), the input ends there */
        {PROM, "a 1\n\0b 2\n", 9, 1, "__name__=a", 1},
        {PROM, "a 1\n  \0 garbage", 15, 1, "__name__=a", 1},
        {PROM, "#x\0y\nb 2\n", 9, 0, NULL, 0},
        /* ... inside label values and after a closing quote it is kept */
        {PROM, "a{b=\"c\0d\"} 1", 12, 1, "__name__=a,b=c", 1},
        {PROM, "a{b=\"c\"\0} 1", 11, 1, "__name__=a,b=c\"", 1},
        {PROM, "# HELP a x\0y\na 1\n", 17, 1, "__name__=a", 1},
        /* escapes other than \\ \" \n stay as written */
        {PROM, "a{b=\"\\q\\t\"} 1\n", 0, 1, "__name__=a,b=\\q\\t", 1},
        {PROM, "a{b=\"\\\\n\"} 1\n", 0, 1, "__name__=a,b=\\n", 1},
        /* label names: legacy charset or quoted UTF-8 */
        {PROM, "a{_b0=\"c\"} 1\n", 0, 1, "__name__=a,_b0=c", 1},
        {PROM, "a{\"b.c\"=\"d\",\"\xe2\x82\xac\"=\"e\"} 1\n", 0, 1,
         "__name__=a,b.c=d,\xe2\x82\xac=e", 1},
        {PROM, "{\"a\\\"b\"} 1\n", 0, 1, "__name__=a\"b", 1},
        {PROM, "a:b:c 1\n", 0, 1, "__name__=a:b:c", 1},
        {PROM, "_ 1\n", 0, 1, "__name__=_", 1},
        /* HELP/TYPE lines the lexer turns into comments */
        {PROM, "# HELP\n# HELPx a\n# TYPEa b\n#\n", 0, 0, NULL, 0},
        {PROM, "# HELP a\n# HELP a   \na 1\n", 0, 1, "__name__=a", 1},
        {PROM, "# EOF\na 1\n", 0, 1, "__name__=a", 1},
        /* values as Go reads them */
        {PROM, "a +Inf\nb\t-inf\nc Infinity\nd nan\ne .5\nf 5.\ng -0\nh 1E+2\n", 0, 8, "__name__=a",
         INFINITY},
        {PROM, "a 1e-400\n", 0, 1, "__name__=a", 0},
        {PROM, "a 0.30000000000000004\n", 0, 1, "__name__=a", 0.30000000000000004},
        {PROM, "a 1 9223372036854775807\n", 0, 1, "__name__=a", 1},
        /* OpenMetrics */
        {OM, "# EOF", 0, 0, NULL, 0},
        {OM, "# EOF\n", 0, 0, NULL, 0},
        {OM, "a 1\n# EOF", 0, 1, "__name__=a", 1},
        {OM, "a 1\n# EOF\n\0\0", 11, 1, "__name__=a", 1},
        {OM, "a{b=\"c\",} 1\n# EOF\n", 0, 1, "__name__=a,b=c", 1},
        {OM, "a{} 1\n# EOF\n", 0, 1, "__name__=a", 1},
        {OM, "a 1 # {} 2\n# EOF\n", 0, 1, "__name__=a", 1},
        {OM, "a 1 # {a=\"b\",} 2 3\n# EOF\n", 0, 1, "__name__=a", 1},
        {OM, "a_total 1 -1.5 # {a=\"\xc3\xa9\"} 2\n# EOF\n", 0, 1, "__name__=a_total", 1},
        {OM, "# HELP a \n# UNIT a \n# TYPE a unknown\n# EOF\n", 0, 0, NULL, 0},
        {OM, "# HELP a x\n\0\0a 1\n# EOF\n", 22, 1, "__name__=a", 1},
        {OM, "# UNIT a_b_seconds seconds\n# EOF\n", 0, 0, NULL, 0},
        {OM, "a{b=\"\\q\"} 1\n# EOF\n", 0, 1, "__name__=a,b=\\q", 1},
    };
    struct sbuf lb = SBUF_INIT;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct accept_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        struct textparse p;
        textparse_init(&p, c->f, c->in, len);
        size_t n = 0;
        enum textparse_entry e;
        while ((e = textparse_next(&p)) != TEXTPARSE_END) {
            if (e == TEXTPARSE_ERROR)
                fail_msg("case %zu: %s", i, textparse_error(&p));
            if (e != TEXTPARSE_SERIES)
                continue;
            if (n++ == 0 && c->first) {
                decoded_labels(&p, &lb);
                if (strcmp(lb.data, c->first) != 0)
                    fail_msg("case %zu: labels %s, want %s", i, lb.data, c->first);
                if (bits_of(textparse_value(&p)) != bits_of(c->value))
                    fail_msg("case %zu: value %g, want %g", i, textparse_value(&p), c->value);
            }
        }
        if (n != c->series)
            fail_msg("case %zu: %zu series, want %zu", i, n, c->series);
        textparse_free(&p);
    }
    sbuf_free(&lb);
}

/* ---- what is rejected, with which message and line ---- */

struct reject_case {
    enum textparse_format f;
    const char *in;
    size_t len;      /* 0: strlen */
    const char *err; /* the whole "line N: ..." or a prefix of it */
};

static void test_rejected_inputs(void **state)
{
    (void)state;
    static const struct reject_case cases[] = {
        /* truncated lines */
        {PROM, "a 1\nb{c=\"d", 0, "line 2: unexpected end of label value"},
        {PROM, "a 1\nb{c=\"d\n\n\n", 0, "line 2: unexpected end of label value"},
        {PROM, "a{", 0, "line 1: expected label name, got newline"},
        {PROM, "a{b", 0, "line 1: expected equal, got newline"},
        {PROM, "a{b=", 0, "line 1: expected label value, got newline"},
        {PROM, "a{b=\"c\"", 0, "line 1: expected label name, got newline"},
        {PROM, "a", 0, "line 1: expected value after metric, got newline"},
        {PROM, "{\"a", 0, "line 1: unexpected end of quoted name"},
        {OM, "a{b=\"c", 0, "line 1: unexpected end of label value"},
        {OM, "a 1", 0, "line 1: data does not end with # EOF"},
        {OM, "a 1\n", 0, "line 2: data does not end with # EOF"},
        {OM, "", 0, "line 1: data does not end with # EOF"},
        {OM, "# HELP a x", 0, "line 1: expected text in HELP, got end of input"},
        {OM, "a 1 2", 0, "line 1: expected next entry after timestamp, got end of input"},
        {OM, "a 1 # {b=\"c\"} 2", 0, "line 1: data does not end with # EOF"},
        /* bad escapes */
        {PROM, "a{b=\"c\\\nd\"} 1\n", 0, "line 1: invalid escape sequence in label value"},
        {OM, "a{b=\"c\\\nd\"} 1\n# EOF\n", 0, "line 1: invalid escape sequence in label value"},
        {OM, "a{b=\"c\nd\"} 1\n# EOF\n", 0, "line 1: unexpected newline in label value"},
        {OM, "a 1 # {b=\"c\0\"} 1\n# EOF\n", 24,
         "line 1: unexpected NUL byte in exemplar label value"},
        /* duplicate label names, however they are spelt */
        {PROM, "a{b=\"c\",b=\"d\"} 1\n", 0, "line 1: duplicate label name \"b\""},
        {PROM, "a{b=\"c\",\"b\"=\"d\"} 1\n", 0, "line 1: duplicate label name \"b\""},
        {PROM, "a{\"\\q\"=\"c\",\"\\\\q\"=\"d\"} 1\n", 0, "line 1: duplicate label name"},
        {PROM, "a{__name__=\"b\"} 1\n", 0, "line 1: duplicate label name \"__name__\""},
        {OM, "x 1\na{b=\"1\",c=\"2\",b=\"3\"} 1\n# EOF\n", 0, "line 2: duplicate label name \"b\""},
        {PROM, "{\"a\",\"b\"} 1\n", 0, "line 1: metric name already set"},
        {PROM, "a{\"b\"} 1\n", 0, "line 1: metric name already set"},
        {PROM, "{b=\"c\"} 1\n", 0, "line 1: metric name not set"},
        {PROM, "{__name__=\"c\"} 1\n", 0, "line 1: metric name not set"},
        /* invalid UTF-8 */
        {PROM, "a{b=\"\xff\"} 1\n", 0, "line 1: invalid UTF-8 label value \"\\\"\\xff\\\"\""},
        {PROM, "a{b=\"\xc0\x80\"} 1\n", 0, "line 1: invalid UTF-8 label value"},
        {PROM, "a{b=\"\xed\xa0\x80\"} 1\n", 0, "line 1: invalid UTF-8 label value"},
        {PROM, "a{b=\"\xf4\x90\x80\x80\"} 1\n", 0, "line 1: invalid UTF-8 label value"},
        {PROM, "a{b=\"\xe2\x82\"} 1\n", 0, "line 1: invalid UTF-8 label value"},
        {OM, "a 1 # {b=\"\xff\"} 1\n# EOF\n", 0, "line 1: invalid UTF-8 label value"},
        {PROM, "{\"\xff\"} 1\n", 0, "line 1: invalid UTF-8 name"},
        {PROM, "# HELP a \xff\n", 0, "line 1: help text \"\\xff\" is not valid UTF-8"},
        /* NaN/Inf spellings Go refuses, and other bad values */
        {PROM, "a +NaN\n", 0, "line 1: invalid value \"+NaN\": invalid syntax"},
        {PROM, "a -nan\n", 0, "line 1: invalid value \"-nan\": invalid syntax"},
        {PROM, "a infin\n", 0, "line 1: invalid value \"infin\": invalid syntax"},
        {PROM, "a Inf_\n", 0, "line 1: invalid value \"Inf_\": unsupported character in float"},
        {PROM, "a 0x1p3\n", 0, "line 1: invalid value \"0x1p3\": unsupported character in float"},
        {PROM, "a 0x10\n", 0, "line 1: invalid value \"0x10\": invalid syntax"},
        {PROM, "a 1_000\n", 0, "line 1: invalid value \"1_000\": unsupported character in float"},
        {PROM, "a 1e400\n", 0, "line 1: invalid value \"1e400\": value out of range"},
        {PROM, "a -1e400\n", 0, "line 1: invalid value \"-1e400\": value out of range"},
        {PROM, "a .\n", 0, "line 1: invalid value \".\": invalid syntax"},
        {PROM, "a 1e\n", 0, "line 1: invalid value \"1e\": invalid syntax"},
        {PROM, "a 1}\n", 0, "line 1: invalid value \"1}\": invalid syntax"},
        {PROM, "a 1\r\n", 0, "line 1: invalid value \"1\\r\": invalid syntax"},
        {OM, "a 1\r\n# EOF\n", 0, "line 1: invalid value \"1\\r\": invalid syntax"},
        {OM, "a 1\n# EOF\r\n", 0, "line 2: unexpected data after # EOF"},
        /* bad timestamps */
        {PROM, "a 1 9223372036854775808\n", 0,
         "line 1: invalid timestamp \"9223372036854775808\": value out of range"},
        {PROM, "a 1 -5\n", 0, "line 1: expected timestamp or new record, got \"-5\""},
        {PROM, "a 1 1.5\n", 0, "line 1: expected next entry after timestamp, got \".5\""},
        {PROM, "a 1 2 3\n", 0, "line 1: expected next entry after timestamp, got \"3\""},
        {PROM, "a 1 2\r\n", 0, "line 1: expected next entry after timestamp, got \"\\r\""},
        {OM, "a 1 NaN\n# EOF\n", 0, "line 1: invalid timestamp \"NaN\": not a finite number"},
        {OM, "a 1 -Inf\n# EOF\n", 0, "line 1: invalid timestamp \"-Inf\": not a finite number"},
        {OM, "a 1 x\n# EOF\n", 0, "line 1: invalid timestamp \"x\": invalid syntax"},
        {OM, "a 1 1e999\n# EOF\n", 0, "line 1: invalid timestamp \"1e999\": value out of range"},
        {OM, "a 1 1  \n# EOF\n", 0, "line 1: expected next entry after timestamp"},
        {OM, "a 1 1 # {} 1 NaN\n# EOF\n", 0,
         "line 1: invalid exemplar timestamp \"NaN\": not a finite number"},
        {OM, "a 1 1 # {} 1 2 3\n# EOF\n", 0,
         "line 1: expected next entry after exemplar timestamp, got \" 3\""},
        /* OpenMetrics structure */
        {OM, "a 1\n# EOF\nb 1\n", 0, "line 2: unexpected data after # EOF"},
        {OM, "a 1\n# EOF\n\n", 0, "line 2: unexpected data after # EOF"},
        {OM, "a 1\n\n# EOF\n", 0, "line 2: expected a valid start token, got newline"},
        {OM, "# comment\n# EOF\n", 0, "line 1: expected a valid start token"},
        {OM, "#\n# EOF\n", 0, "line 1: expected a valid start token"},
        {OM, " a 1\n# EOF\n", 0, "line 1: expected a valid start token"},
        {OM, "a  1\n# EOF\n", 0, "line 1: expected value after metric, got \"  1\""},
        {OM, "a\t1\n# EOF\n", 0, "line 1: expected value after metric"},
        {OM, "a {b=\"c\"} 1\n# EOF\n", 0, "line 1: invalid value \"{b=\\\"c\\\"}\""},
        {OM, "a{b=\"c\" ,d=\"e\"} 1\n# EOF\n", 0, "line 1: expected comma or brace close"},
        {OM, "a{b=\"c\"d=\"e\"} 1\n# EOF\n", 0, "line 1: expected comma or brace close"},
        {OM, "a{b,c=\"d\"} 1\n# EOF\n", 0, "line 1: expected equal, got \",c=\\\"d\\\"} 1\""},
        {OM, "a{b = \"c\"} 1\n# EOF\n", 0, "line 1: expected equal"},
        {OM, "a 1 # {a=\"b\"}\n# EOF\n", 0, "line 1: expected value after exemplar labels"},
        {OM, "a 1 # {\"a\"=\"b\"} 1\n# EOF\n", 0, "line 1: expected label name in exemplar"},
        {OM, "a 1 # {a} 1\n# EOF\n", 0, "line 1: expected equal, got \"} 1\""},
        {OM, "a 1 # x\n# EOF\n", 0, "line 1: expected timestamp or comment"},
        {OM, "a 1 #{} 1\n# EOF\n", 0, "line 1: invalid timestamp \"#{}\": invalid syntax"},
        {OM, "# TYPE a untyped\n# EOF\n", 0, "line 1: invalid metric type \"untyped\""},
        {OM, "# TYPE a counter \n# EOF\n", 0, "line 1: invalid metric type \"counter \""},
        {OM, "# UNIT a_bytes seconds\n# EOF\n", 0,
         "line 1: unit \"seconds\" not a suffix of metric \"a_bytes\""},
        {OM, "# UNIT aseconds seconds\n# EOF\n", 0, "line 1: unit \"seconds\" not a suffix"},
        {OM, "# HELP a\n# EOF\n", 0, "line 1: expected text in HELP, got newline"},
        {OM, "# HELP  a x\n# EOF\n", 0, "line 1: expected metric name after HELP"},
        {OM, "# EOFx", 0, "line 1: unexpected data after # EOF"},
        /* Prometheus-format metadata */
        {PROM, "# TYPE a gaugehistogram\n", 0, "line 1: invalid metric type \"gaugehistogram\""},
        {PROM, "# TYPE a unknown\n", 0, "line 1: invalid metric type \"unknown\""},
        {PROM, "# TYPE a  counter\n", 0, "line 1: invalid metric type \" counter\""},
        {PROM, "# TYPE a\n", 0, "line 1: invalid metric type \"\""},
        {PROM, "# HELP \n", 0, "line 1: expected metric name after HELP, got newline"},
        {PROM, "# HELP 1a x\n", 0, "line 1: expected metric name after HELP, got \"1a x\""},
        {PROM, "# HELP a\0x\n", 10, "line 1: linebreak expected after metadata"},
        {PROM, "# TYPE a\0", 10, "line 1: invalid metric type \"\""}, /* found by fuzzing */
        /* bad starts and label syntax */
        {PROM, "-a 1\n", 0, "line 1: expected a valid start token, got \"-a 1\""},
        {PROM, "a 1\n\n  \n}\n", 0, "line 4: expected a valid start token"},
        {PROM, "a{=\"b\"} 1\n", 0, "line 1: expected label name, got \"=\\\"b\\\"} 1\""},
        {PROM, "a{,b=\"c\"} 1\n", 0, "line 1: expected label name"},
        {PROM, "a{b=\"c\",,d=\"e\"} 1\n", 0, "line 1: expected label name"},
        {PROM, "a{b:c=\"d\"} 1\n", 0, "line 1: expected equal"},
        {PROM, "a{b=c} 1\n", 0, "line 1: expected label value, got \"c} 1\""},
        {PROM, "a{b=\"c\"=\"d\"} 1\n", 0, "line 1: expected label name"},
        {PROM, "a{}{} 1\n", 0, "line 1: expected value after metric, got \"{} 1\""},
        {PROM, "a{b=\0\"c\"} 1\n", 12, "line 1: expected label value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const struct reject_case *c = &cases[i];
        size_t len = c->len ? c->len : strlen(c->in);
        char err[TEXTPARSE_ERR_MAX];
        enum textparse_entry e = parse_all(c->f, c->in, len, NULL, err, sizeof err);
        if (e != TEXTPARSE_ERROR)
            fail_msg("case %zu (%s): accepted", i, c->in);
        if (strncmp(err, c->err, strlen(c->err)) != 0)
            fail_msg("case %zu: error \"%s\", want \"%s\"", i, err, c->err);
    }
}

static void test_errors_are_sticky(void **state)
{
    (void)state;
    const char *in = "a 1\nb{\nc 2\n";
    struct textparse p;
    textparse_init(&p, PROM, in, strlen(in));
    assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
    assert_int_equal(textparse_next(&p), TEXTPARSE_ERROR);
    char first[TEXTPARSE_ERR_MAX];
    snprintf(first, sizeof first, "%s", textparse_error(&p));
    assert_int_equal(textparse_next(&p), TEXTPARSE_ERROR);
    assert_string_equal(textparse_error(&p), first);
    textparse_free(&p);
}

/* ---- labels: escapes, many labels, huge lines ---- */

static void test_unescape(void **state)
{
    (void)state;
    struct sbuf sb = SBUF_INIT;
    struct {
        const char *in, *out;
    } cases[] = {
        {"plain", "plain"},     {"a\\\"b", "a\"b"},  {"a\\\\b", "a\\b"}, {"a\\nb", "a\nb"},
        {"a\\tb\\", "a\\tb\\"}, {"\\\\\\n", "\\\n"}, {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sbuf_reset(&sb);
        textparse_unescape(&sb, (struct textparse_str){cases[i].in, strlen(cases[i].in), true});
        assert_string_equal(sb.data, cases[i].out);
    }
    sbuf_free(&sb);
}

static void test_many_labels(void **state)
{
    (void)state;
    struct sbuf in = SBUF_INIT;
    enum { N = 100 };
    sbuf_puts(&in, "m{");
    for (int i = 0; i < N; i++)
        sbuf_printf(&in, "%sl%d=\"v%d\"", i ? "," : "", i, i);
    sbuf_puts(&in, "} 7\nn{a=\"1\"} 8\n");
    struct textparse p;
    textparse_init(&p, PROM, in.data, in.len);
    next_series(&p);
    assert_int_equal(textparse_label_count(&p), N);
    const struct textparse_label *l = textparse_labels(&p);
    assert_str(l[0].name, "l0");
    assert_str(l[99].value, "v99");
    struct textparse_label_text v[N + 1];
    struct sbuf sb = SBUF_INIT;
    assert_int_equal(textparse_labels_unescape(&p, &sb, v), N + 1);
    assert_string_equal(v[100].name, "l99");
    next_series(&p); /* the heap array stays in use */
    assert_int_equal(textparse_label_count(&p), 1);
    assert_int_equal(textparse_next(&p), TEXTPARSE_END);
    textparse_free(&p);

    /* a duplicate among many, spelt differently */
    sbuf_reset(&in);
    sbuf_puts(&in, "m{");
    for (int i = 0; i < N; i++)
        sbuf_printf(&in, "l%d=\"v\",", i);
    sbuf_puts(&in, "\"l\\q\"=\"x\",\"l5\\0\"=\"y\",\"l\\\\q\"=\"z\"} 1\n");
    char err[TEXTPARSE_ERR_MAX];
    assert_int_equal(parse_all(PROM, in.data, in.len, NULL, err, sizeof err), TEXTPARSE_ERROR);
    assert_string_equal(err, "line 1: duplicate label name \"l\\\\\\\\q\"");
    sbuf_free(&in);
    sbuf_free(&sb);
}

/* Nothing is quadratic: a 10 MB label value, 200 000 labels, a million-digit
 * value, a million-byte comment. */
static void test_huge_lines(void **state)
{
    (void)state;
    struct timespec t0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    struct sbuf in = SBUF_INIT;
    enum { BIG = 10 << 20, LABELS = 200000 };
    sbuf_puts(&in, "m{big=\"");
    sbuf_reserve(&in, BIG);
    memset(in.data + in.len, 'x', BIG);
    in.len += BIG;
    sbuf_puts(&in, "\"} 1\n");
    struct textparse p;
    textparse_init(&p, OM, in.data, in.len);
    next_series(&p);
    assert_int_equal(textparse_labels(&p)[0].value.len, BIG);
    assert_int_equal(textparse_next(&p), TEXTPARSE_ERROR); /* no # EOF */
    textparse_free(&p);

    sbuf_reset(&in);
    sbuf_puts(&in, "m{");
    for (int i = 0; i < LABELS; i++)
        sbuf_printf(&in, "l%d=\"%d\",", i, i);
    sbuf_puts(&in, "} 1\n");
    size_t series;
    assert_int_equal(parse_all(PROM, in.data, in.len, &series, NULL, 0), TEXTPARSE_END);
    assert_int_equal(series, 1);
    in.len -= 4;
    sbuf_puts(&in, "l0=\"again\"} 1\n");
    char err[TEXTPARSE_ERR_MAX];
    assert_int_equal(parse_all(PROM, in.data, in.len, NULL, err, sizeof err), TEXTPARSE_ERROR);
    assert_string_equal(err, "line 1: duplicate label name \"l0\"");

    sbuf_reset(&in);
    sbuf_puts(&in, "m 1");
    for (int i = 0; i < 1000000; i++)
        sbuf_putc(&in, '0');
    sbuf_puts(&in, "\nn 0.");
    for (int i = 0; i < 1000000; i++)
        sbuf_putc(&in, '0');
    sbuf_puts(&in, "1\n");
    assert_int_equal(parse_all(PROM, in.data, in.len, NULL, err, sizeof err), TEXTPARSE_ERROR);
    assert_true(strstr(err, "value out of range") != NULL);
    const char *second = strchr(in.data, '\n') + 1;
    assert_int_equal(parse_all(PROM, second, strlen(second), &series, NULL, 0), TEXTPARSE_END);

    sbuf_reset(&in);
    sbuf_puts(&in, "# ");
    for (int i = 0; i < 1000000; i++)
        sbuf_putc(&in, 'c');
    sbuf_puts(&in, "\nm 1\n");
    assert_int_equal(parse_all(PROM, in.data, in.len, &series, NULL, 0), TEXTPARSE_END);
    assert_int_equal(series, 1);
    sbuf_free(&in);
    double ms = ns_since(&t0) / 1e6;
    print_message("huge lines: %.0f ms\n", ms);
    assert_true(ms < 3000);
}

static void test_label_normalisation(void **state)
{
    (void)state;
    const char *in = "# TYPE h histogram\n"
                     "h_bucket{le=\"1\"} 1\nh_bucket{le=\"1e3\"} 1\nh_bucket{le=\"+Inf\"} 1\n"
                     "h_bucket{le=\"0.50\"} 1\nh_bucket{le=\"1_000\"} 1\nh_bucket{le=\"x\"} 1\n"
                     "h_bucket{le=\"-0\"} 1\nh_bucket{le=\"1e-7\"} 1\nh_bucket{\"le\"=\"2\"} 1\n"
                     "# TYPE s summary\ns{quantile=\"0.990\",le=\"1\"} 1\n"
                     "# TYPE g gauge\ng{le=\"1\",quantile=\"1\"} 1\n";
    const char *want[] = {
        "__name__=h_bucket,le=1.0",      "__name__=h_bucket,le=1000.0", "__name__=h_bucket,le=+Inf",
        "__name__=h_bucket,le=0.5",      "__name__=h_bucket,le=1000.0", "__name__=h_bucket,le=x",
        "__name__=h_bucket,le=-0.0",     "__name__=h_bucket,le=1e-07",  "__name__=h_bucket,le=2.0",
        "__name__=s,quantile=0.99,le=1", "__name__=g,le=1,quantile=1",
    };
    struct textparse p;
    textparse_init(&p, PROM, in, strlen(in));
    struct sbuf lb = SBUF_INIT;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        next_series(&p);
        decoded_labels(&p, &lb);
        assert_string_equal(lb.data, want[i]);
    }
    sbuf_free(&lb);
    textparse_free(&p);
}

/* ---- numbers ---- */

struct float_case {
    const char *in;
    enum textparse_num r;
    uint64_t bits;
};

static void test_float_syntax(void **state)
{
    (void)state;
    const uint64_t NANB = 0x7ff8000000000001ULL, INF = 0x7ff0000000000000ULL,
                   NINF = 0xfff0000000000000ULL;
    const enum textparse_num OK = TEXTPARSE_NUM_OK, SYN = TEXTPARSE_NUM_SYNTAX,
                             RNG = TEXTPARSE_NUM_RANGE, UNS = TEXTPARSE_NUM_UNSUPPORTED;
    const struct float_case cases[] = {
        {"0", OK, 0},
        {"-0", OK, 0x8000000000000000ULL},
        {"+0.0e-5", OK, 0},
        {"1", OK, 0x3ff0000000000000ULL},
        {"+.5e+1", OK, 0x4014000000000000ULL},
        {"5.", OK, 0x4014000000000000ULL},
        {"00012", OK, 0x4028000000000000ULL},
        {"Inf", OK, INF},
        {"+inf", OK, INF},
        {"-INF", OK, NINF},
        {"infinity", OK, INF},
        {"-Infinity", OK, NINF},
        {"NaN", OK, NANB},
        {"nan", OK, NANB},
        {"nAN", OK, NANB},
        {"+NaN", SYN, 0},
        {"-nan", SYN, 0},
        {"infin", SYN, 0},
        {"infinityy", SYN, 0},
        {"in", SYN, 0},
        {"", SYN, 0},
        {"+", SYN, 0},
        {".", SYN, 0},
        {"e5", SYN, 0},
        {"1e", SYN, 0},
        {"1e+", SYN, 0},
        {"1.2.3", SYN, 0},
        {"1 ", SYN, 0},
        {"0x10", SYN, 0},
        {"0x", SYN, 0},
        {"0x1p3", UNS, 0},
        {"1_0", UNS, 0},
        {"1P", UNS, 0},
        {"1e400", RNG, INF},
        {"-1e400", RNG, NINF},
        {"1.7976931348623157e308", OK, 0x7fefffffffffffffULL},
        {"1.7976931348623158e308", OK, 0x7fefffffffffffffULL},
        {"1.7976931348623159e308", RNG, INF},
        {"4.9e-324", OK, 1},
        {"2.4703282292062327e-324", OK, 0},
        {"2.4703282292062328e-324", OK, 1},
        {"1e-400", OK, 0},
        {"2.2250738585072011e-308", OK, 0x000fffffffffffffULL},
        {"9007199254740993", OK, 0x4340000000000000ULL},
        {"9007199254740993.0000000001", OK, 0x4340000000000001ULL},
        {"1e23", OK, 0x44b52d02c7e14af6ULL},
        {"8.41e21", OK, 0x447c7e83209e90b2ULL},
        {"1e99999999999999999999", RNG, INF},
        {"1e-99999999999999999999", OK, 0},
        {"0.000000000000000000000000000001e+30", OK, 0x3ff0000000000000ULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = 0;
        enum textparse_num r = textparse_num_float(cases[i].in, strlen(cases[i].in), &v);
        if (r != cases[i].r)
            fail_msg("\"%s\": status %d, want %d", cases[i].in, r, cases[i].r);
        if ((r == OK || r == RNG) && bits_of(v) != cases[i].bits)
            fail_msg("\"%s\": bits %016llx, want %016llx", cases[i].in,
                     (unsigned long long)bits_of(v), (unsigned long long)cases[i].bits);
    }
    /* Rounding needs digits past the 800th: the exact halfway point between
     * 1 and the next double, then a 1 after 900 zeros. */
    struct sbuf s = SBUF_INIT;
    sbuf_puts(&s, "1.00000000000000011102230246251565404236316680908203125");
    double v;
    assert_int_equal(textparse_num_float(s.data, s.len, &v), OK);
    assert_true(v == 1.0); /* ties to even */
    for (int i = 0; i < 900; i++)
        sbuf_putc(&s, '0');
    sbuf_putc(&s, '1');
    assert_int_equal(textparse_num_float(s.data, s.len, &v), OK);
    assert_true(v == nextafter(1.0, 2.0));
    sbuf_free(&s);
}

static bool float_matches_strtod(const char *text)
{
    double got, want = strtod(text, NULL);
    if (textparse_num_float(text, strlen(text), &got) != TEXTPARSE_NUM_OK && !isinf(want))
        return false;
    return bits_of(got) == bits_of(want);
}

/* Random doubles printed as %.17g and in shortest form, and random decimal
 * strings: textparse reads each exactly as strtod (and so Go) does. */
static void test_float_exactness(void **state)
{
    (void)state;
    char text[128];
    size_t fast_wrong = 0;
    for (int i = 0; i < 300000; i++) {
        uint64_t u = rng();
        double d;
        memcpy(&d, &u, sizeof d);
        if (isnan(d) || isinf(d))
            continue;
        snprintf(text, sizeof text, "%.17g", d);
        double got;
        assert_int_equal(textparse_num_float(text, strlen(text), &got), TEXTPARSE_NUM_OK);
        if (bits_of(got) != u)
            fail_msg("%s read as %.17g", text, got);
    }
    for (int i = 0; i < 40000; i++) {
        uint64_t u = rng();
        double d;
        memcpy(&d, &u, sizeof d);
        if (i % 2)
            d = (double)(rng() % 100000000) / 1000.0; /* typical exporter values */
        if (isnan(d) || isinf(d))
            continue;
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(text, sizeof text, "%.*g", prec, d);
            if (strtod(text, NULL) == d)
                break;
        }
        double got;
        assert_int_equal(textparse_num_float(text, strlen(text), &got), TEXTPARSE_NUM_OK);
        fast_wrong += bits_of(got) != bits_of(d);
    }
    assert_int_equal(fast_wrong, 0);
    for (int i = 0; i < 200000; i++) {
        int ndig = 1 + (int)(rng() % 30), k = 0;
        if (rng() % 2)
            text[k++] = '-';
        int dot = (int)(rng() % (unsigned)(ndig + 1));
        for (int j = 0; j < ndig; j++) {
            if (j == dot)
                text[k++] = '.';
            text[k++] = (char)('0' + rng() % 10);
        }
        if (rng() % 3)
            k += snprintf(text + k, sizeof text - (size_t)k, "e%d", (int)(rng() % 700) - 350);
        text[k] = '\0';
        if (!float_matches_strtod(text))
            fail_msg("%s differs from strtod", text);
    }
}

static void test_timestamps(void **state)
{
    (void)state;
    struct {
        enum textparse_format f;
        const char *in;
        int64_t ms;
        bool ex; /* the exemplar's timestamp */
    } cases[] = {
        {PROM, "a 1 1700000000123\n", 1700000000123, false},
        {PROM, "a 1 0\n", 0, false},
        {PROM, "a 1 000042\n", 42, false},
        {PROM, "a 1 9223372036854775807\n", INT64_MAX, false},
        {OM, "a 1 1700000000.123\n# EOF\n", 1700000000123, false},
        {OM, "a 1 1700000000\n# EOF\n", 1700000000000, false},
        {OM, "a 1 1.0005\n# EOF\n", 1000, false}, /* 1000.4999... truncates */
        {OM, "a 1 -1.5\n# EOF\n", -1500, false},
        {OM, "a 1 -0.0005\n# EOF\n", 0, false}, /* toward zero */
        {OM, "a 1 -0.0015\n# EOF\n", -1, false},
        {OM, "a 1 1e3\n# EOF\n", 1000000, false},
        {OM, "a 1 .5\n# EOF\n", 500, false},
        {OM, "a 1 1e300\n# EOF\n", INT64_MIN, false}, /* Go's int64() on amd64 */
        {OM, "a 1 -9223372036854775.808\n# EOF\n", INT64_MIN, false},
        {OM, "a 1 9223372036854775.807\n# EOF\n", INT64_MIN, false},
        {OM, "a 1 9223372036854774.784\n# EOF\n", 9223372036854773760, false}, /* rounded product */
        {OM, "a 1 # {} 1 1700000000.999\n# EOF\n", 1700000000999, true},
        {OM, "a 1 1 # {} 1 -2.25\n# EOF\n", -2250, true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct textparse p;
        textparse_init(&p, cases[i].f, cases[i].in, strlen(cases[i].in));
        next_series(&p);
        int64_t ms = 0;
        if (cases[i].ex) {
            struct textparse_exemplar ex;
            assert_true(textparse_exemplar(&p, &ex));
            assert_true(ex.has_ts);
            ms = ex.ts;
        } else {
            assert_true(textparse_timestamp(&p, &ms));
        }
        if (ms != cases[i].ms)
            fail_msg("case %zu (%s): %lld ms, want %lld", i, cases[i].in, (long long)ms,
                     (long long)cases[i].ms);
        textparse_free(&p);
    }
}

/* Values and float timestamps as Prometheus's own OpenMetrics parser reads
 * them, through promtool (skipped when it is not installed). */
static void test_promtool_differential(void **state)
{
    (void)state;
    if (access("/usr/bin/promtool", X_OK) != 0)
        skip();
    char dir[] = "/tmp/vigil-textparse-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], cmd[1024];
    snprintf(path, sizeof path, "%s/in.om", dir);
    enum { N = 3000 };
    struct sbuf in = SBUF_INIT;
    for (int i = 0; i < N; i++) {
        uint64_t u = rng();
        double d;
        memcpy(&d, &u, sizeof d);
        char v[64], t[64];
        switch (i % 4) {
        case 0:
            snprintf(v, sizeof v, "%.17g", isnan(d) || isinf(d) ? 1.0 : d);
            break;
        case 1:
            snprintf(v, sizeof v, "%.*g", 1 + (int)(rng() % 17), (double)(rng() % 1000000) / 7);
            break;
        case 2:
            snprintf(v, sizeof v, "%llu.%llue%d", (unsigned long long)(rng() % 100000),
                     (unsigned long long)(rng() % 1000), (int)(rng() % 40) - 20);
            break;
        default:
            snprintf(v, sizeof v, "%s",
                     (const char *[]){"NaN", "+Inf", "-Inf", "-0", "1e-320"}[rng() % 5]);
        }
        snprintf(t, sizeof t, "%llu.%0*llu", 1700000000ULL + rng() % 3000, 1 + (int)(rng() % 9),
                 (unsigned long long)(rng() % 1000000000));
        sbuf_printf(&in, "m{i=\"%d\"} %s %s\n", i, v, t);
    }
    sbuf_puts(&in, "# EOF\n");
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fwrite(in.data, 1, in.len, f);
    fclose(f);
    snprintf(cmd, sizeof cmd,
             "promtool tsdb create-blocks-from openmetrics %s %s/db >/dev/null 2>&1 && "
             "mkdir -p %s/db/wal && promtool tsdb dump %s/db 2>/dev/null",
             path, dir, dir, dir);
    FILE *pipe = popen(cmd, "r");
    assert_non_null(pipe);
    static double want_v[N];
    static int64_t want_t[N];
    static bool seen[N];
    char line[512];
    int got_lines = 0;
    while (fgets(line, sizeof line, pipe)) {
        int idx;
        char vtext[64];
        long long ts;
        const char *q = strstr(line, "i=\"");
        if (!q || sscanf(q, "i=\"%d\"} %63s %lld", &idx, vtext, &ts) != 3 || idx < 0 || idx >= N)
            continue;
        want_v[idx] = strtod(vtext, NULL);
        want_t[idx] = ts;
        seen[idx] = true;
        got_lines++;
    }
    assert_int_equal(pclose(pipe), 0);
    assert_int_equal(got_lines, N);
    struct textparse p;
    textparse_init(&p, OM, in.data, in.len);
    for (int i = 0; i < N; i++) {
        next_series(&p);
        double v = textparse_value(&p);
        int64_t ts;
        assert_true(textparse_timestamp(&p, &ts));
        assert_true(seen[i]);
        bool same = isnan(v) ? isnan(want_v[i]) : bits_of(v) == bits_of(want_v[i]);
        if (!same || ts != want_t[i])
            fail_msg("sample %d: %.17g @%lld, promtool %.17g @%lld", i, v, (long long)ts, want_v[i],
                     (long long)want_t[i]);
    }
    assert_int_equal(textparse_next(&p), TEXTPARSE_EOF);
    textparse_free(&p);
    sbuf_free(&in);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

/* ---- metric families and created timestamps ---- */

static void test_family_match(void **state)
{
    (void)state;
    struct {
        const char *name, *family;
        enum textparse_mtype t;
        bool want;
    } cases[] = {
        {"a", "a", TEXTPARSE_MTYPE_GAUGE, true},
        {"ab", "a", TEXTPARSE_MTYPE_GAUGE, false},
        {"b", "a", TEXTPARSE_MTYPE_GAUGE, false},
        {"a_total", "a", TEXTPARSE_MTYPE_COUNTER, true},
        {"a", "a", TEXTPARSE_MTYPE_COUNTER, true},
        {"a_total", "a_total", TEXTPARSE_MTYPE_COUNTER, true},
        {"a", "a_total", TEXTPARSE_MTYPE_COUNTER, false},
        {"a_created", "a", TEXTPARSE_MTYPE_COUNTER, false},
        {"a_bucket", "a", TEXTPARSE_MTYPE_HISTOGRAM, true},
        {"a_sum", "a", TEXTPARSE_MTYPE_HISTOGRAM, true},
        {"a_count", "a", TEXTPARSE_MTYPE_HISTOGRAM, true},
        {"a_gsum", "a", TEXTPARSE_MTYPE_HISTOGRAM, false},
        {"a_gsum", "a", TEXTPARSE_MTYPE_GAUGEHISTOGRAM, true},
        {"a_gcount", "a", TEXTPARSE_MTYPE_GAUGEHISTOGRAM, true},
        {"a_sum", "a", TEXTPARSE_MTYPE_GAUGEHISTOGRAM, false},
        {"a_sum", "a", TEXTPARSE_MTYPE_SUMMARY, true},
        {"a_bucket", "a", TEXTPARSE_MTYPE_SUMMARY, false},
        {"a_info", "a_info", TEXTPARSE_MTYPE_INFO, true},
        {"a_info", "a", TEXTPARSE_MTYPE_INFO, true},
        {"a", "a", TEXTPARSE_MTYPE_STATESET, true},
        {"a_x", "a", TEXTPARSE_MTYPE_UNKNOWN, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = textparse_family_match(cases[i].name, strlen(cases[i].name), cases[i].family,
                                          strlen(cases[i].family), cases[i].t);
        if (got != cases[i].want)
            fail_msg("%s in %s (%s): %d", cases[i].name, cases[i].family,
                     textparse_mtype_name(cases[i].t), got);
    }
    assert_string_equal(textparse_mtype_name(TEXTPARSE_MTYPE_GAUGEHISTOGRAM), "gaugehistogram");
    assert_string_equal(textparse_mtype_name(TEXTPARSE_MTYPE_UNKNOWN), "unknown");
}

static void test_series_type(void **state)
{
    (void)state;
    const char *in = "# TYPE a histogram\na_bucket{le=\"1\"} 1\na_count 1\nb 1\n"
                     "# TYPE c counter\nc_total 1\n";
    struct textparse p;
    textparse_init(&p, PROM, in, strlen(in));
    next_series(&p);
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_HISTOGRAM);
    next_series(&p);
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_HISTOGRAM);
    next_series(&p);
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_UNKNOWN);
    assert_int_equal(textparse_current_type(&p), TEXTPARSE_MTYPE_HISTOGRAM);
    next_series(&p);
    assert_int_equal(textparse_series_type(&p), TEXTPARSE_MTYPE_COUNTER);
    int64_t ct;
    assert_false(textparse_created_timestamp(&p, &ct)); /* not in the 0.0.4 format */
    textparse_free(&p);
}

/* A large counter family without _created lines: every sample asks, and the
 * answers stay linear in the input. */
static void test_created_timestamp_linear(void **state)
{
    (void)state;
    enum { N = 50000 };
    struct sbuf in = SBUF_INIT;
    sbuf_puts(&in, "# TYPE c counter\n");
    for (int i = 0; i < N; i++)
        sbuf_printf(&in, "c_total{i=\"%d\"} %d\n", i, i);
    sbuf_puts(&in, "c_created{i=\"49999\"} 1.5\nc_total{i=\"x\"} 1\n# EOF\n");
    struct timespec t0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    struct textparse p;
    textparse_init(&p, OM, in.data, in.len);
    int found = 0;
    int64_t ct = 0;
    for (int i = 0; i < N; i++) {
        next_series(&p);
        found += textparse_created_timestamp(&p, &ct);
    }
    assert_int_equal(found, 1);
    assert_int_equal(ct, 1500);
    next_series(&p);
    assert_true(textparse_series_is_created(&p));
    next_series(&p);
    assert_false(textparse_created_timestamp(&p, &ct));
    textparse_free(&p);
    double ms = ns_since(&t0) / 1e6;
    assert_true(ms < 1000);
    sbuf_free(&in);
}

/* Line numbers are those of the entry's first byte, also far into a page. */
static void test_line_numbers(void **state)
{
    (void)state;
    struct sbuf in = SBUF_INIT;
    for (int i = 0; i < 1000; i++)
        sbuf_printf(&in, "# HELP m%d x\nm%d{a=\"multi\nline\"} %d\n\n", i, i, i);
    struct textparse p;
    textparse_init(&p, PROM, in.data, in.len);
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(textparse_next(&p), TEXTPARSE_HELP);
        assert_int_equal(textparse_line(&p), (unsigned long)(4 * i + 1));
        assert_int_equal(textparse_next(&p), TEXTPARSE_SERIES);
        assert_int_equal(textparse_line(&p), (unsigned long)(4 * i + 2));
    }
    textparse_free(&p);
    sbuf_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_node_exporter_committed),
        cmocka_unit_test(test_node_exporter_live),
        cmocka_unit_test(test_node_exporter_speed_and_no_allocation),
        cmocka_unit_test(test_openmetrics_features),
        cmocka_unit_test(test_prometheus_features),
        cmocka_unit_test(test_accepted_inputs),
        cmocka_unit_test(test_rejected_inputs),
        cmocka_unit_test(test_errors_are_sticky),
        cmocka_unit_test(test_unescape),
        cmocka_unit_test(test_many_labels),
        cmocka_unit_test(test_huge_lines),
        cmocka_unit_test(test_label_normalisation),
        cmocka_unit_test(test_float_syntax),
        cmocka_unit_test(test_float_exactness),
        cmocka_unit_test(test_timestamps),
        cmocka_unit_test(test_promtool_differential),
        cmocka_unit_test(test_family_match),
        cmocka_unit_test(test_series_type),
        cmocka_unit_test(test_created_timestamp_linear),
        cmocka_unit_test(test_line_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
