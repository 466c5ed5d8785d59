/* labelset.c — struct label_set: the mutable, owned label set that
 * relabeling and target building work on.
 *
 * A sorted array of (name, value) pairs with owned strings.  Sets are small
 * (a target has tens of labels, a series a handful), so lookups are binary
 * searches and inserts shift the tail: simpler and faster at these sizes
 * than a hash.  An empty value is never stored, so the array is always a
 * valid `struct labels` (storage/labels.h) as it stands. */
#include <stdlib.h>
#include <string.h>

#include "scrape/relabel.h"

static size_t ls_find(const struct label_set *s, const char *name, bool *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(s->v[mid].name, name);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

void label_set_clear(struct label_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((void *)s->v[i].name);
        free((void *)s->v[i].value);
    }
    s->n = 0;
}

void label_set_free(struct label_set *s)
{
    label_set_clear(s);
    free(s->v);
    s->v = NULL;
    s->cap = 0;
}

const char *label_set_get(const struct label_set *s, const char *name)
{
    bool found;
    size_t i = ls_find(s, name, &found);
    return found ? s->v[i].value : "";
}

void label_set_del(struct label_set *s, const char *name)
{
    bool found;
    size_t i = ls_find(s, name, &found);
    if (!found)
        return;
    free((void *)s->v[i].name);
    free((void *)s->v[i].value);
    memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof *s->v);
    s->n--;
}

void label_set_setn(struct label_set *s, const char *name, const char *value, size_t vlen)
{
    if (vlen == 0) {
        label_set_del(s, name);
        return;
    }
    bool found;
    size_t i = ls_find(s, name, &found);
    char *v = xstrndup(value, vlen);
    if (found) {
        free((void *)s->v[i].value);
        s->v[i].value = v;
        return;
    }
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 8;
        s->v = xrealloc(s->v, s->cap * sizeof *s->v);
    }
    memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof *s->v);
    s->v[i].name = xstrdup(name);
    s->v[i].value = v;
    s->n++;
}

void label_set_set(struct label_set *s, const char *name, const char *value)
{
    label_set_setn(s, name, value, strlen(value));
}

void label_set_copy(struct label_set *dst, const struct label_set *src)
{
    label_set_clear(dst);
    if (dst->cap < src->n) {
        dst->cap = src->n;
        dst->v = xrealloc(dst->v, dst->cap * sizeof *dst->v);
    }
    for (size_t i = 0; i < src->n; i++) {
        dst->v[i].name = xstrdup(src->v[i].name);
        dst->v[i].value = xstrdup(src->v[i].value);
    }
    dst->n = src->n;
}

struct labels label_set_view(const struct label_set *s)
{
    return (struct labels){s->v, s->n};
}

static void put_quoted(struct sbuf *b, const char *s)
{
    sbuf_putc(b, '"');
    for (; *s; s++) {
        switch (*s) {
        case '"':
            sbuf_puts(b, "\\\"");
            break;
        case '\\':
            sbuf_puts(b, "\\\\");
            break;
        case '\n':
            sbuf_puts(b, "\\n");
            break;
        default:
            sbuf_putc(b, *s);
        }
    }
    sbuf_putc(b, '"');
}

void label_set_format(const struct label_set *s, struct sbuf *out)
{
    sbuf_putc(out, '{');
    for (size_t i = 0; i < s->n; i++) {
        if (i)
            sbuf_puts(out, ", ");
        sbuf_puts(out, s->v[i].name);
        sbuf_putc(out, '=');
        put_quoted(out, s->v[i].value);
    }
    sbuf_putc(out, '}');
}
