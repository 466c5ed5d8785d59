/* duration.c — parsing and printing Prometheus durations and byte sizes.
 *
 * Prometheus's model.ParseDuration accepts terms in strictly decreasing unit
 * order, each unit once ("1h30m" but not "30m1h" or "1m1m"); we enforce the
 * same so that a config valid here is valid there and vice versa. */
#include "util/duration.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

struct unit {
    const char *name;
    int64_t ms;
};

/* Ordered largest first; "ms" precedes "m" and "s" only in matching. */
static const struct unit duration_units[] = {
    {"y", 365LL * 24 * 3600 * 1000},
    {"w", 7LL * 24 * 3600 * 1000},
    {"d", 24LL * 3600 * 1000},
    {"h", 3600LL * 1000},
    {"m", 60LL * 1000},
    {"s", 1000},
    {"ms", 1},
};
enum { N_DURATION_UNITS = sizeof duration_units / sizeof duration_units[0] };

static int match_unit(const char **p)
{
    /* "ms" must win over "m". */
    if ((*p)[0] == 'm' && (*p)[1] == 's') {
        *p += 2;
        return N_DURATION_UNITS - 1;
    }
    for (int i = 0; i < N_DURATION_UNITS - 1; i++) {
        if (**p == duration_units[i].name[0]) {
            *p += 1;
            return i;
        }
    }
    return -1;
}

int duration_parse(const char *s, int64_t *ms)
{
    if (!s || !*s)
        return -1;
    if (strcmp(s, "0") == 0) {
        *ms = 0;
        return 0;
    }
    const char *p = s;
    int64_t total = 0;
    int last_unit = -1;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n > (INT64_MAX - 9) / 10)
                return -1;
            n = n * 10 + (*p++ - '0');
        }
        int u = match_unit(&p);
        if (u < 0 || u <= last_unit)
            return -1;
        last_unit = u;
        if (n > INT64_MAX / duration_units[u].ms)
            return -1;
        int64_t add = n * duration_units[u].ms;
        if (total > INT64_MAX - add)
            return -1;
        total += add;
    }
    *ms = total;
    return 0;
}

char *duration_format(int64_t ms, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    if (ms <= 0) {
        snprintf(buf, n, ms == 0 ? "0s" : "%lldms", (long long)ms);
        return buf;
    }
    size_t off = 0;
    buf[0] = '\0';
    for (int i = 0; i < N_DURATION_UNITS && off < n; i++) {
        /* Like Prometheus, years and weeks only when they divide exactly:
         * "90d" reads better than "12w6d". */
        if (i < 2 && ms % duration_units[i].ms != 0)
            continue;
        int64_t q = ms / duration_units[i].ms;
        if (q == 0)
            continue;
        ms -= q * duration_units[i].ms;
        int w = snprintf(buf + off, n - off, "%lld%s", (long long)q, duration_units[i].name);
        if (w < 0)
            break;
        off += (size_t)w;
    }
    return buf;
}

char *duration_format_go(int64_t ms, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    const char *sign = ms < 0 ? "-" : "";
    uint64_t u = ms < 0 ? (uint64_t)-ms : (uint64_t)ms;
    if (u == 0) {
        snprintf(buf, n, "0s");
    } else if (u < 1000) {
        snprintf(buf, n, "%s%llums", sign, (unsigned long long)u);
    } else {
        uint64_t h = u / 3600000, m = u / 60000 % 60, s = u / 1000 % 60, frac = u % 1000;
        char secs[32];
        if (frac) {
            snprintf(secs, sizeof secs, "%llu.%03llu", (unsigned long long)s,
                     (unsigned long long)frac);
            size_t k = strlen(secs);
            while (secs[k - 1] == '0')
                secs[--k] = '\0';
        } else {
            snprintf(secs, sizeof secs, "%llu", (unsigned long long)s);
        }
        if (h)
            snprintf(buf, n, "%s%lluh%llum%ss", sign, (unsigned long long)h, (unsigned long long)m,
                     secs);
        else if (m)
            snprintf(buf, n, "%s%llum%ss", sign, (unsigned long long)m, secs);
        else
            snprintf(buf, n, "%s%ss", sign, secs);
    }
    return buf;
}

int bytesize_parse(const char *s, int64_t *bytes)
{
    static const char *prefixes = "KMGTPE";
    if (!s || !*s)
        return -1;
    if (strcmp(s, "0") == 0) {
        *bytes = 0;
        return 0;
    }
    const char *p = s;
    int64_t total = 0;
    while (*p) {
        if (!isdigit((unsigned char)*p))
            return -1;
        int64_t n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n > (INT64_MAX - 9) / 10)
                return -1;
            n = n * 10 + (*p++ - '0');
        }
        int shift = 0;
        const char *pf = *p ? strchr(prefixes, *p) : NULL;
        if (pf) {
            shift = 10 * (int)(pf - prefixes + 1);
            p++;
            if (*p == 'i')
                p++;
        }
        if (*p != 'B')
            return -1;
        p++;
        if (shift >= 63 || n > (INT64_MAX >> shift))
            return -1;
        int64_t add = n << shift;
        if (total > INT64_MAX - add)
            return -1;
        total += add;
    }
    *bytes = total;
    return 0;
}
