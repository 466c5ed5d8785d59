/* fuzz_textparse.c — libFuzzer target for the exposition parsers.
 *
 * Each input is parsed as Prometheus text and as OpenMetrics, with every
 * accessor exercised (label decoding, exemplars, created-timestamp
 * look-ahead, HELP unescaping, line numbers) and invariants checked: every
 * span lies inside the input, decoded text is never longer than the raw
 * text plus the normalised-float slack, errors carry a line number.  The
 * input's first 64 bytes are also read as a float and compared with strtod
 * whenever the parser accepts them as a decimal.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. tests/fuzz/fuzz_textparse.c \
 *       scrape/textparse*.c util/sbuf.c -lm -o /tmp/fuzz_textparse
 *   /tmp/fuzz_textparse -max_total_time=300 /tmp/corpus tests/unit/data/textparse */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/textparse.h"
#include "scrape/textparse_internal.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_span(const uint8_t *data, size_t size, struct textparse_str s)
{
    if (s.len == 0)
        return;
    CHECK((const uint8_t *)s.s >= data && (const uint8_t *)s.s + s.len <= data + size);
}

static void check_series(struct textparse *p, const uint8_t *data, size_t size, struct sbuf *sb)
{
    const char *raw;
    size_t rawlen;
    textparse_series(p, &raw, &rawlen);
    check_span(data, size, (struct textparse_str){raw, rawlen, false});
    check_span(data, size, textparse_metric_name(p));
    size_t n = textparse_label_count(p);
    const struct textparse_label *l = textparse_labels(p);
    size_t rawsum = textparse_metric_name(p).len;
    for (size_t i = 0; i < n; i++) {
        check_span(data, size, l[i].name);
        check_span(data, size, l[i].value);
        rawsum += l[i].name.len + l[i].value.len;
    }
    struct textparse_label_text *v = malloc((n + 1) * sizeof *v);
    sbuf_reset(sb);
    CHECK(textparse_labels_unescape(p, sb, v) == n + 1);
    size_t decoded = 0;
    for (size_t i = 0; i <= n; i++) {
        CHECK(v[i].name[v[i].name_len] == '\0' && v[i].value[v[i].value_len] == '\0');
        decoded += v[i].value_len + (i ? v[i].name_len : 0);
    }
    CHECK(decoded <= rawsum + 32 * n);
    free(v);
    struct textparse_exemplar ex;
    if (textparse_exemplar(p, &ex))
        for (size_t i = 0; i < ex.label_count; i++) {
            check_span(data, size, ex.labels[i].name);
            check_span(data, size, ex.labels[i].value);
        }
    int64_t ms;
    (void)textparse_timestamp(p, &ms);
    (void)textparse_series_type(p);
    (void)textparse_series_is_created(p);
    (void)textparse_created_timestamp(p, &ms);
}

static void parse(enum textparse_format f, const uint8_t *data, size_t size)
{
    struct textparse p;
    struct sbuf sb = SBUF_INIT;
    textparse_init(&p, f, (const char *)data, size);
    unsigned long last_line = 0;
    for (;;) {
        enum textparse_entry e = textparse_next(&p);
        if (e == TEXTPARSE_END)
            break;
        if (e == TEXTPARSE_ERROR) {
            CHECK(strncmp(textparse_error(&p), "line ", 5) == 0);
            CHECK(textparse_next(&p) == TEXTPARSE_ERROR);
            break;
        }
        unsigned long line = textparse_line(&p);
        CHECK(line >= last_line);
        last_line = line;
        switch (e) {
        case TEXTPARSE_SERIES:
            check_series(&p, data, size, &sb);
            break;
        case TEXTPARSE_HELP:
            check_span(data, size, textparse_meta_name(&p));
            check_span(data, size, textparse_help(&p));
            sbuf_reset(&sb);
            textparse_help_unescape(&p, &sb);
            CHECK(sb.len <= textparse_help(&p).len);
            break;
        case TEXTPARSE_TYPE:
        case TEXTPARSE_UNIT:
            check_span(data, size, textparse_meta_name(&p));
            (void)textparse_type(&p);
            break;
        case TEXTPARSE_COMMENT:
            check_span(data, size, textparse_comment(&p));
            break;
        default:
            break;
        }
    }
    textparse_free(&p);
    sbuf_free(&sb);
}

/* The float reader against strtod, on decimal inputs it accepts. */
static void check_float(const uint8_t *data, size_t size)
{
    char s[65];
    size_t n = size < 64 ? size : 64;
    memcpy(s, data, n);
    s[n] = '\0';
    if (strlen(s) != n)
        return;
    double v;
    enum textparse_num r = textparse_num_float(s, n, &v);
    for (size_t i = 0; i < n; i++)
        if ((s[i] | 0x20) == 'n' || (s[i] | 0x20) == 'i')
            return; /* NaN/Inf spellings: Go's rules, not strtod's */
    if (r == TEXTPARSE_NUM_OK || r == TEXTPARSE_NUM_RANGE) {
        double w = strtod(s, NULL);
        CHECK(memcmp(&v, &w, sizeof v) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    parse(TEXTPARSE_PROMETHEUS, data, size);
    parse(TEXTPARSE_OPENMETRICS, data, size);
    check_float(data, size);
    return 0;
}
