/* am_timeinterval.c — `time_intervals:` and `mute_time_intervals:`.
 *
 * Both sections have the same shape: named lists of interval entries, each
 * entry a conjunction of optional fields (times, weekdays, days_of_month,
 * months, years, location).  Everything is parsed here into integers so
 * that "is t inside?" later is plain comparisons:
 *   times         minutes of the day, [start, end), "HH:MM" with 24:00 as end
 *   weekdays      0 = sunday .. 6 = saturday, "monday:friday" ranges
 *   days_of_month 1..31 or -31..-1 counted from the month's end
 *   months        1..12 (names or numbers), years as written
 * Validation is timeinterval.go's, rule for rule and in its order,
 * including its leniencies: month numbers are not range-checked, a null
 * list item is the zero range (go-yaml skips the unmarshaller for null),
 * and names are lower-cased before lookup ("Monday" is fine).
 *
 * A location must load as Go's time.LoadLocation would: "", "UTC" and
 * "Local" always do; anything else must be a TZif file under
 * /usr/share/zoneinfo (the system database Go reads first). */
#include "conf/am_internal.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"

#define AM_ZONEINFO_DIR "/usr/share/zoneinfo/"

static const char *const weekday_names[] = {"sunday",   "monday", "tuesday", "wednesday",
                                            "thursday", "friday", "saturday"};
static const char *const month_names[] = {"",        "january",  "february", "march",  "april",
                                          "may",     "june",     "july",     "august", "september",
                                          "october", "november", "december"};

/* Go's strconv.Atoi, with its error text. */
static int go_atoi(const char *s, int *v, char *err, size_t n)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    if (!*p)
        goto syntax;
    for (const char *q = p; *q; q++)
        if (!isdigit((unsigned char)*q))
            goto syntax;
    errno = 0;
    long long x = strtoll(s, NULL, 10);
    if (errno == ERANGE || x > 2147483647LL || x < -2147483647LL - 1) {
        snprintf(err, n, "strconv.Atoi: parsing \"%s\": value out of range", s);
        return -1;
    }
    *v = (int)x;
    return 0;
syntax:
    snprintf(err, n, "strconv.Atoi: parsing \"%s\": invalid syntax", s);
    return -1;
}

enum range_kind { RK_WEEKDAY, RK_DAY_OF_MONTH, RK_MONTH, RK_YEAR };

/* One member of a range: a name or a number, per the kind. */
static int range_member(enum range_kind k, const char *s, int *v, char *err, size_t n)
{
    if (k == RK_WEEKDAY) {
        for (int i = 0; i < 7; i++)
            if (strcmp(s, weekday_names[i]) == 0)
                return *v = i, 0;
        snprintf(err, n, "%s is not a valid weekday", s);
        return -1;
    }
    if (k == RK_MONTH) {
        for (int i = 1; i <= 12; i++)
            if (strcmp(s, month_names[i]) == 0)
                return *v = i, 0;
        if (go_atoi(s, v, err, n) < 0) {
            snprintf(err, n, "%s is not a valid month", s);
            return -1;
        }
        return 0;
    }
    return go_atoi(s, v, err, n);
}

/* stringableRangeFromString: "a" or "a:b", lower-cased. */
static int range_parse(enum range_kind k, const char *in, struct am_range *r, char *err, size_t n)
{
    char *s = xstrdup(in);
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    int rc = -1;
    char *colon = strchr(s, ':');
    if (!colon) {
        rc = range_member(k, s, &r->begin, err, n);
        r->end = r->begin;
    } else if (strchr(colon + 1, ':')) {
        snprintf(err, n, "couldn't parse range %s, invalid format", s);
    } else {
        *colon = '\0';
        rc = range_member(k, s, &r->begin, err, n);
        if (rc == 0)
            rc = range_member(k, colon + 1, &r->end, err, n);
    }
    free(s);
    return rc;
}

static int day_of_month_check(const struct am_range *r, char *err, size_t n)
{
    if (r->begin == 0 || r->begin < -31 || r->begin > 31) {
        snprintf(err, n, "%d is not a valid day of the month: out of range", r->begin);
        return -1;
    }
    if (r->end == 0 || r->end < -31 || r->end > 31) {
        snprintf(err, n, "%d is not a valid day of the month: out of range", r->end);
        return -1;
    }
    if (r->begin < 0 && r->end > 0) {
        snprintf(err, n, "end day must be negative if start day is negative");
        return -1;
    }
    int b = r->begin < 0 ? 28 + r->begin : r->begin, e = r->end < 0 ? 28 + r->end : r->end;
    if (b > e) {
        snprintf(err, n, "end day %d is always before start day %d", r->end, r->begin);
        return -1;
    }
    return 0;
}

static int range_check(enum range_kind k, const struct am_range *r, char *err, size_t n)
{
    switch (k) {
    case RK_WEEKDAY:
        if (r->begin > r->end) {
            snprintf(err, n, "start day cannot be before end day");
            return -1;
        }
        return 0;
    case RK_DAY_OF_MONTH:
        return day_of_month_check(r, err, n);
    case RK_MONTH:
        if (r->begin > r->end) {
            const char *b = r->begin >= 1 && r->begin <= 12 ? month_names[r->begin] : "";
            const char *e = r->end >= 1 && r->end <= 12 ? month_names[r->end] : "";
            snprintf(err, n, "end month %s is before start month %s", e, b);
            return -1;
        }
        return 0;
    case RK_YEAR:
        if (r->begin > r->end) {
            snprintf(err, n, "end year %d is before start year %d", r->end, r->begin);
            return -1;
        }
        return 0;
    }
    return 0;
}

static int dec_range_list(struct ydec *d, const struct ynode *n, enum range_kind k,
                          struct am_range **v, size_t *count)
{
    if (n->kind != YNODE_SEQ)
        return ydec_fail(d, n, "expected a list of ranges");
    *v = xcalloc(n->n ? n->n : 1, sizeof **v);
    *count = n->n;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        char err[256];
        if (it->kind == YNODE_NULL)
            continue; /* the zero range, unchecked */
        size_t old = ydec_push_index(d, i);
        if (it->kind != YNODE_SCALAR)
            return ydec_fail(d, it, "expected a string");
        if (range_parse(k, it->s, &(*v)[i], err, sizeof err) < 0 ||
            range_check(k, &(*v)[i], err, sizeof err) < 0)
            return ydec_fail(d, it, "%s", err);
        ydec_pop(d, old);
    }
    return 0;
}

static int dec_weekdays(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_time_interval_spec *s = out;
    s->present |= AM_TI_WEEKDAYS;
    return dec_range_list(d, n, RK_WEEKDAY, &s->weekdays, &s->nweekdays);
}

static int dec_days_of_month(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_time_interval_spec *s = out;
    s->present |= AM_TI_DAYS_OF_MONTH;
    return dec_range_list(d, n, RK_DAY_OF_MONTH, &s->days_of_month, &s->ndays_of_month);
}

static int dec_months(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_time_interval_spec *s = out;
    s->present |= AM_TI_MONTHS;
    return dec_range_list(d, n, RK_MONTH, &s->months, &s->nmonths);
}

static int dec_years(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_time_interval_spec *s = out;
    s->present |= AM_TI_YEARS;
    return dec_range_list(d, n, RK_YEAR, &s->years, &s->nyears);
}

/* ---- times ---- */

/* "HH:MM" (00:00..23:59) or "24:00" to minutes; -1 if malformed. */
static int time_of_day(const char *s)
{
    if (strcmp(s, "24:00") == 0)
        return 1440;
    if (strlen(s) != 5 || s[2] != ':' || !isdigit((unsigned char)s[0]) ||
        !isdigit((unsigned char)s[1]) || s[3] < '0' || s[3] > '5' || !isdigit((unsigned char)s[4]))
        return -1;
    int h = (s[0] - '0') * 10 + (s[1] - '0');
    if (h > 23)
        return -1;
    return h * 60 + (s[3] - '0') * 10 + (s[4] - '0');
}

struct time_raw {
    char *start_time, *end_time;
};

static const struct yfield time_fields[] = {
    YFIELD(struct time_raw, start_time, ydec_string),
    YFIELD(struct time_raw, end_time, ydec_string),
    {NULL, NULL, 0},
};

/* Checks t into r; on error fills err and names the field at fault (NULL:
 * the range as a whole). */
static int time_range_check(const struct time_raw *t, struct am_time_range *r, char *err, size_t n,
                            const char **field)
{
    *field = NULL;
    if (!t->start_time || !*t->start_time || !t->end_time || !*t->end_time) {
        snprintf(err, n, "both start and end times must be provided");
        return -1;
    }
    int s = time_of_day(t->start_time), e = time_of_day(t->end_time);
    if (s < 0 || e < 0) {
        *field = s < 0 ? "start_time" : "end_time";
        snprintf(err, n, "couldn't parse timestamp %s, invalid format",
                 s < 0 ? t->start_time : t->end_time);
        return -1;
    }
    if (s >= e) {
        snprintf(err, n, "start time cannot be equal or greater than end time");
        return -1;
    }
    r->start_minute = s;
    r->end_minute = e;
    return 0;
}

static int dec_time_range(struct ydec *d, const struct ynode *n, void *out)
{
    if (n->kind == YNODE_NULL)
        return 0; /* the zero range, unchecked */
    struct time_raw t = {0};
    char err[256];
    const char *field;
    int rc = ydec_map(d, n, time_fields, &t, NULL);
    if (rc == 0 && time_range_check(&t, out, err, sizeof err, &field) < 0)
        rc = field ? am_fail_at(d, n, field, "%s", err) : ydec_fail(d, n, "%s", err);
    free(t.start_time);
    free(t.end_time);
    return rc;
}

static int dec_times(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_time_interval_spec *s = out;
    s->present |= AM_TI_TIMES;
    return ydec_seq(d, n, &s->times, &s->ntimes, sizeof *s->times, dec_time_range);
}

/* ---- location ---- */

static const char *location_problem(const char *name, char *err, size_t n)
{
    if (!*name || strcmp(name, "UTC") == 0 || strcmp(name, "Local") == 0)
        return NULL;
    if (strstr(name, "..") || name[0] == '/' || name[0] == '\\') {
        snprintf(err, n, "time: invalid location name");
        return err;
    }
    struct sbuf path = SBUF_INIT;
    sbuf_printf(&path, AM_ZONEINFO_DIR "%s", name);
    FILE *f = fopen(path.data, "rb");
    sbuf_free(&path);
    if (!f) {
        snprintf(err, n, "unknown time zone %s", name);
        return err;
    }
    char magic[4];
    size_t got = fread(magic, 1, sizeof magic, f);
    int read_err = ferror(f);
    fclose(f);
    if (read_err) {
        snprintf(err, n, "%s: is a directory", name);
        return err;
    }
    if (got != 4 || memcmp(magic, "TZif", 4) != 0) {
        snprintf(err, n, "malformed time zone information");
        return err;
    }
    return NULL;
}

static int dec_location(struct ydec *d, const struct ynode *n, void *out)
{
    if (n->kind != YNODE_SCALAR)
        return ydec_fail(d, n, "expected a time zone name");
    char err[256];
    if (location_problem(n->s, err, sizeof err))
        return ydec_fail(d, n, "%s", err);
    char **p = out;
    free(*p);
    *p = *n->s ? xstrdup(n->s) : NULL;
    return 0;
}

static const struct yfield spec_fields[] = {
    {"times", dec_times, 0},
    {"weekdays", dec_weekdays, 0},
    {"days_of_month", dec_days_of_month, 0},
    {"months", dec_months, 0},
    {"years", dec_years, 0},
    YFIELD(struct am_time_interval_spec, location, dec_location),
    {NULL, NULL, 0},
};

static int dec_spec(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, spec_fields, out, NULL);
}

static int dec_specs(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_time_interval *ti = out;
    return ydec_seq(d, n, &ti->specs, &ti->nspecs, sizeof *ti->specs, dec_spec);
}

/* ---- named intervals ---- */

static const struct yfield interval_fields[] = {
    YFIELD(struct am_time_interval, name, ydec_string),
    {"time_intervals", dec_specs, 0},
    {NULL, NULL, 0},
};

static int dec_interval(struct ydec *d, const struct ynode *n, struct am_time_interval *ti)
{
    if (n->kind == YNODE_NULL) {
        ti->name = xstrdup(""); /* go-yaml's zero value, unchecked */
        return 0;
    }
    if (ydec_map(d, n, interval_fields, ti, NULL) < 0)
        return -1;
    if (!ti->name || !*ti->name)
        return ydec_fail(d, n, "missing name in %stime interval",
                         ti->deprecated_section ? "mute " : "");
    return 0;
}

static int dec_interval_list(struct ydec *d, const struct ynode *n, struct am_config *c,
                             bool deprecated)
{
    if (n->kind != YNODE_SEQ)
        return ydec_fail(d, n, "expected a list of time intervals");
    c->time_intervals =
        xrealloc(c->time_intervals, (c->ntime_intervals + n->n + 1) * sizeof *c->time_intervals);
    for (size_t i = 0; i < n->n; i++) {
        struct am_time_interval *ti = &c->time_intervals[c->ntime_intervals++];
        memset(ti, 0, sizeof *ti);
        ti->deprecated_section = deprecated;
        size_t old = ydec_push_index(d, i);
        if (dec_interval(d, n->items[i], ti) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

int am_dec_mute_time_intervals(struct ydec *d, const struct ynode *n, void *out)
{
    return dec_interval_list(d, n, out, true);
}

int am_dec_time_intervals(struct ydec *d, const struct ynode *n, void *out)
{
    return dec_interval_list(d, n, out, false);
}

void am_time_interval_free(struct am_time_interval *ti)
{
    free(ti->name);
    for (size_t i = 0; i < ti->nspecs; i++) {
        struct am_time_interval_spec *s = &ti->specs[i];
        free(s->times);
        free(s->weekdays);
        free(s->days_of_month);
        free(s->months);
        free(s->years);
        free(s->location);
    }
    free(ti->specs);
}
