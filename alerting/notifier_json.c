/* notifier_json.c — the body Prometheus POSTs to Alertmanager's
 * /api/v2/alerts, byte for byte as Go writes it.
 *
 * Prometheus converts its alerts to go-swagger's models.PostableAlerts and
 * json.Marshal's them.  A PostableAlert marshals as two concatenated parts:
 * its own fields (annotations omitempty, endsAt, startsAt) then the embedded
 * Alert's (generatorURL omitempty, labels), so the key order is fixed and
 * not alphabetical; label sets are Go maps, written with sorted keys.  Times
 * are strfmt.DateTime: RFC 3339 with milliseconds.  Strings get
 * encoding/json's escaping: the usual JSON escapes plus <, >, & and U+2028 /
 * U+2029 as \u sequences, and invalid UTF-8 replaced by U+FFFD. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting/notifier_internal.h"

void notifier_time_format(int64_t ms, char out[40])
{
    if (ms == 0) {
        strcpy(out, "0001-01-01T00:00:00.000Z");
        return;
    }
    int64_t sec = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, 40, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned char c = s[0];
    size_t len;
    unsigned min;
    unsigned cp;
    if (c < 0x80)
        return 1;
    if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

/* A JSON string as Go's encoding/json writes it (HTML-safe). */
static void put_go_string(struct sbuf *b, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    sbuf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t len = utf8_len(s + i, n - i);
            if (len == 0) {
                sbuf_puts(b, "\\ufffd");
                i++;
            } else if (len == 3 && c == 0xE2 && s[i + 1] == 0x80 &&
                       (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
                sbuf_puts(b, s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
                i += 3;
            } else {
                sbuf_append(b, s + i, len);
                i += len;
            }
            continue;
        }
        i++;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            sbuf_append(b, e, 2);
        } else if (c == '\n') {
            sbuf_puts(b, "\\n");
        } else if (c == '\r') {
            sbuf_puts(b, "\\r");
        } else if (c == '\t') {
            sbuf_puts(b, "\\t");
        } else if (c < 0x20 || c == '<' || c == '>' || c == '&') {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            sbuf_append(b, e, 6);
        } else {
            sbuf_putc(b, (char)c);
        }
    }
    sbuf_putc(b, '"');
}

static void put_key(struct sbuf *b, const char *key, bool first)
{
    if (!first)
        sbuf_putc(b, ',');
    put_go_string(b, key);
    sbuf_putc(b, ':');
}

static void put_labels(struct sbuf *b, const struct label_set *ls)
{
    sbuf_putc(b, '{');
    for (size_t i = 0; i < ls->n; i++) {
        put_key(b, ls->v[i].name, i == 0);
        put_go_string(b, ls->v[i].value);
    }
    sbuf_putc(b, '}');
}

static void put_alert(struct sbuf *b, const struct nalert *a)
{
    char t[40];
    bool first = true;
    sbuf_putc(b, '{');
    if (a->nann > 0) {
        put_key(b, "annotations", first);
        first = false;
        sbuf_putc(b, '{');
        for (size_t i = 0; i < a->nann; i++) {
            put_key(b, a->ann[i].name, i == 0);
            put_go_string(b, a->ann[i].value);
        }
        sbuf_putc(b, '}');
    }
    put_key(b, "endsAt", first);
    notifier_time_format(a->ends_at_ms, t);
    put_go_string(b, t);
    put_key(b, "startsAt", false);
    notifier_time_format(a->starts_at_ms, t);
    put_go_string(b, t);
    if (a->generator_url && a->generator_url[0]) {
        put_key(b, "generatorURL", false);
        put_go_string(b, a->generator_url);
    }
    put_key(b, "labels", false);
    put_labels(b, &a->labels);
    sbuf_putc(b, '}');
}

void notifier_payload_encode(struct sbuf *out, const struct nalert *const *alerts, size_t n)
{
    sbuf_putc(out, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            sbuf_putc(out, ',');
        put_alert(out, alerts[i]);
    }
    sbuf_putc(out, ']');
}

void nalert_free(struct nalert *a)
{
    if (!a)
        return;
    label_set_free(&a->labels);
    for (size_t i = 0; i < a->nann; i++) {
        free(a->ann[i].name);
        free(a->ann[i].value);
    }
    free(a->ann);
    free(a->generator_url);
    free(a);
}
