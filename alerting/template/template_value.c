/* template_value.c — the value model of the template engine and the heap
 * that owns values, tokens and parse trees.
 *
 * The heap is a bump allocator: a list of 64 KiB blocks (larger requests
 * get a block of their own), freed in one step.  Values never move and are
 * never freed one by one, so they can point at each other freely.
 *
 * Maps keep their keys sorted, because Go's fmt and `range` visit map keys
 * in sorted order; lookups are binary searches.  Structs keep their fields
 * in declaration order (fmt prints them that way).  Printing follows fmt's
 * %v: map[k:v], [a b], {f1 f2}, shortest floats ("1e+06"), and the
 * String() methods of time.Time and time.Duration. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerting/template/template_internal.h"

#define HEAP_BLOCK (64 * 1024)

struct heap_block {
    struct heap_block *next;
    size_t used, cap;
    max_align_t data[];
};

struct tmpl_heap {
    struct heap_block *head;
    size_t total;
};

struct tmpl_heap *tmpl_heap_new(void)
{
    return xcalloc(1, sizeof(struct tmpl_heap));
}

void tmpl_heap_free(struct tmpl_heap *h)
{
    if (!h)
        return;
    struct heap_block *b = h->head;
    while (b) {
        struct heap_block *next = b->next;
        free(b);
        b = next;
    }
    free(h);
}

void *tmpl_heap_alloc(struct tmpl_heap *h, size_t n)
{
    n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
    if (n == 0)
        n = sizeof(max_align_t);
    struct heap_block *b = h->head;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > HEAP_BLOCK / 2 ? n : HEAP_BLOCK;
        struct heap_block *nb = xmalloc(sizeof *nb + cap);
        nb->used = 0;
        nb->cap = cap;
        h->total += cap;
        if (b && cap == n) { /* keep filling the current block */
            nb->next = b->next;
            b->next = nb;
            nb->used = n;
            memset(nb->data, 0, n);
            return nb->data;
        }
        nb->next = b;
        h->head = b = nb;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

size_t tmpl_heap_used(const struct tmpl_heap *h)
{
    return h->total;
}

char *tmpl_heap_strndup(struct tmpl_heap *h, const char *s, size_t n)
{
    char *p = tmpl_heap_alloc(h, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

/* ---- Constructors ----------------------------------------------------- */

static const struct tmpl_value nil_value = {.kind = TMPL_NIL};
static const struct tmpl_value invalid_value = {.kind = TMPL_INVALID};

const struct tmpl_value *tmpl_value_nil(void)
{
    return &nil_value;
}

const struct tmpl_value *tmpl_value_invalid(void)
{
    return &invalid_value;
}

static struct tmpl_value *value_new(struct tmpl_heap *h, enum tmpl_kind k)
{
    struct tmpl_value *v = tmpl_heap_alloc(h, sizeof *v);
    v->kind = k;
    return v;
}

struct tmpl_value *tmpl_value_bool(struct tmpl_heap *h, bool b)
{
    struct tmpl_value *v = value_new(h, TMPL_BOOL);
    v->u.b = b;
    return v;
}

struct tmpl_value *tmpl_value_int(struct tmpl_heap *h, int64_t i)
{
    struct tmpl_value *v = value_new(h, TMPL_INT);
    v->u.i = i;
    return v;
}

struct tmpl_value *tmpl_value_float(struct tmpl_heap *h, double f)
{
    struct tmpl_value *v = value_new(h, TMPL_FLOAT);
    v->u.f = f;
    return v;
}

struct tmpl_value *tmpl_value_stringn(struct tmpl_heap *h, const char *s, size_t n)
{
    struct tmpl_value *v = value_new(h, TMPL_STRING);
    v->u.s.p = tmpl_heap_strndup(h, s, n);
    v->u.s.n = n;
    return v;
}

struct tmpl_value *tmpl_value_string(struct tmpl_heap *h, const char *s)
{
    return tmpl_value_stringn(h, s, strlen(s));
}

struct tmpl_value *tmpl_value_time(struct tmpl_heap *h, int64_t unix_ns)
{
    struct tmpl_value *v = value_new(h, TMPL_TIME);
    v->u.ns = unix_ns;
    return v;
}

struct tmpl_value *tmpl_value_duration(struct tmpl_heap *h, int64_t ns)
{
    struct tmpl_value *v = value_new(h, TMPL_DURATION);
    v->u.ns = ns;
    return v;
}

struct tmpl_value *tmpl_value_map(struct tmpl_heap *h, bool elem_is_string)
{
    struct tmpl_value *v = value_new(h, TMPL_MAP);
    v->u.map = tmpl_heap_alloc(h, sizeof *v->u.map);
    v->u.map->elem_is_string = elem_is_string;
    return v;
}

struct tmpl_value *tmpl_value_struct(struct tmpl_heap *h, const char *type_name)
{
    struct tmpl_value *v = value_new(h, TMPL_STRUCT);
    v->u.map = tmpl_heap_alloc(h, sizeof *v->u.map);
    v->u.map->type_name = tmpl_heap_strndup(h, type_name, strlen(type_name));
    return v;
}

/* Index of key in a sorted map, or where it would go (*found false). */
static size_t map_search(const struct tmpl_map *m, const char *key, size_t klen, bool *found)
{
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *k = m->keys[mid];
        size_t kl = strlen(k);
        int c = memcmp(k, key, kl < klen ? kl : klen);
        if (c == 0)
            c = kl < klen ? -1 : kl > klen ? 1 : 0;
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

static void map_grow(struct tmpl_heap *h, struct tmpl_map *m)
{
    if (m->n < m->cap)
        return;
    size_t cap = m->cap ? m->cap * 2 : 8;
    const char **keys = tmpl_heap_alloc(h, cap * sizeof *keys);
    const struct tmpl_value **vals = tmpl_heap_alloc(h, cap * sizeof *vals);
    if (m->n) {
        memcpy(keys, m->keys, m->n * sizeof *keys);
        memcpy(vals, m->vals, m->n * sizeof *vals);
    }
    m->keys = keys;
    m->vals = vals;
    m->cap = cap;
}

void tmpl_map_set(struct tmpl_heap *h, struct tmpl_value *mv, const char *key,
                  const struct tmpl_value *v)
{
    struct tmpl_map *m = mv->u.map;
    size_t klen = strlen(key), at;
    bool found = false;
    if (mv->kind == TMPL_STRUCT) {
        for (at = 0; at < m->n; at++)
            if (strcmp(m->keys[at], key) == 0) {
                m->vals[at] = v;
                return;
            }
    } else {
        at = map_search(m, key, klen, &found);
        if (found) {
            m->vals[at] = v;
            return;
        }
    }
    map_grow(h, m);
    memmove(m->keys + at + 1, m->keys + at, (m->n - at) * sizeof *m->keys);
    memmove(m->vals + at + 1, m->vals + at, (m->n - at) * sizeof *m->vals);
    m->keys[at] = tmpl_heap_strndup(h, key, klen);
    m->vals[at] = v;
    m->n++;
}

const struct tmpl_value *tmpl_map_get(const struct tmpl_value *mv, const char *key, size_t klen)
{
    const struct tmpl_map *m = mv->u.map;
    if (mv->kind == TMPL_STRUCT) {
        for (size_t i = 0; i < m->n; i++)
            if (strlen(m->keys[i]) == klen && memcmp(m->keys[i], key, klen) == 0)
                return m->vals[i];
        return NULL;
    }
    bool found;
    size_t at = map_search(m, key, klen, &found);
    return found ? m->vals[at] : NULL;
}

struct tmpl_value *tmpl_value_list(struct tmpl_heap *h)
{
    struct tmpl_value *v = value_new(h, TMPL_LIST);
    v->u.list = tmpl_heap_alloc(h, sizeof *v->u.list);
    return v;
}

struct tmpl_value *tmpl_value_query_result(struct tmpl_heap *h)
{
    struct tmpl_value *v = tmpl_value_list(h);
    v->type = "template.queryResult";
    return v;
}

void tmpl_list_append(struct tmpl_heap *h, struct tmpl_value *lv, const struct tmpl_value *v)
{
    struct tmpl_list *l = lv->u.list;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        const struct tmpl_value **nv = tmpl_heap_alloc(h, cap * sizeof *nv);
        if (l->n)
            memcpy(nv, l->v, l->n * sizeof *nv);
        l->v = nv;
        l->cap = cap;
    }
    l->v[l->n++] = v;
}

struct tmpl_value *tmpl_value_labels(struct tmpl_heap *h, const struct labels *ls)
{
    struct tmpl_value *m = tmpl_value_map(h, true);
    size_t n = ls ? ls->n : 0;
    if (n == 0)
        return m;
    /* Label sets are sorted already: fill the arrays directly. */
    struct tmpl_map *mm = m->u.map;
    mm->keys = tmpl_heap_alloc(h, n * sizeof *mm->keys);
    mm->vals = tmpl_heap_alloc(h, n * sizeof *mm->vals);
    mm->cap = n;
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(ls->v[i - 1].name, ls->v[i].name) >= 0) {
            mm->n = i; /* not sorted after all: insert the rest */
            for (; i < n; i++)
                tmpl_map_set(h, m, ls->v[i].name, tmpl_value_string(h, ls->v[i].value));
            return m;
        }
        mm->keys[i] = tmpl_heap_strndup(h, ls->v[i].name, strlen(ls->v[i].name));
        mm->vals[i] = tmpl_value_string(h, ls->v[i].value);
        mm->n = i + 1;
    }
    return m;
}

struct tmpl_value *tmpl_value_sample(struct tmpl_heap *h, const struct labels *ls, double v)
{
    struct tmpl_value *s = value_new(h, TMPL_SAMPLE);
    s->u.sample = tmpl_heap_alloc(h, sizeof *s->u.sample);
    s->u.sample->labels = tmpl_value_labels(h, ls);
    s->u.sample->value = v;
    return s;
}

/* ---- Type names and truth --------------------------------------------- */

const char *tmpl_value_type(const struct tmpl_value *v)
{
    if (v->type)
        return v->type;
    switch (v->kind) {
    case TMPL_INVALID:
    case TMPL_NIL:
        return "<nil>";
    case TMPL_BOOL:
        return "bool";
    case TMPL_INT:
        return "int";
    case TMPL_FLOAT:
        return "float64";
    case TMPL_STRING:
        return "string";
    case TMPL_MAP:
        return v->u.map->elem_is_string ? "map[string]string" : "map[string]interface {}";
    case TMPL_STRUCT:
        return v->u.map->type_name;
    case TMPL_LIST:
        return "[]interface {}";
    case TMPL_SAMPLE:
        return "*template.sample";
    case TMPL_TIME:
        return "*time.Time";
    case TMPL_DURATION:
        return "*time.Duration";
    }
    return "?";
}

bool tmpl_value_truth(const struct tmpl_value *v)
{
    switch (v->kind) {
    case TMPL_INVALID:
    case TMPL_NIL:
        return false;
    case TMPL_BOOL:
        return v->u.b;
    case TMPL_INT:
        return v->u.i != 0;
    case TMPL_FLOAT:
        return v->u.f != 0;
    case TMPL_STRING:
        return v->u.s.n != 0;
    case TMPL_MAP:
        return v->u.map->n != 0;
    case TMPL_LIST:
        return v->u.list->n != 0;
    default:
        return true; /* structs and non-nil pointers */
    }
}

/* ---- Printing --------------------------------------------------------- */

void tmpl_time_format(struct sbuf *b, int64_t unix_ns)
{
    int64_t sec = unix_ns / 1000000000, ns = unix_ns % 1000000000;
    if (ns < 0) {
        ns += 1000000000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    sbuf_printf(b, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (ns) {
        char frac[16];
        snprintf(frac, sizeof frac, ".%09" PRId64, ns);
        size_t n = strlen(frac);
        while (frac[n - 1] == '0')
            n--;
        sbuf_append(b, frac, n);
    }
    sbuf_puts(b, " +0000 UTC");
}

/* Go's fmtFrac: v's last prec digits as a fraction without trailing zeros. */
static void put_frac(char *buf, size_t *w, uint64_t *v, int prec)
{
    bool print = false;
    for (int i = 0; i < prec; i++) {
        int digit = (int)(*v % 10);
        print = print || digit != 0;
        if (print)
            buf[--*w] = (char)('0' + digit);
        *v /= 10;
    }
    if (print)
        buf[--*w] = '.';
}

static void put_uint(char *buf, size_t *w, uint64_t v)
{
    if (v == 0) {
        buf[--*w] = '0';
        return;
    }
    while (v > 0) {
        buf[--*w] = (char)('0' + v % 10);
        v /= 10;
    }
}

void tmpl_duration_format(struct sbuf *b, int64_t d)
{
    char buf[40];
    size_t w = sizeof buf;
    uint64_t u = d < 0 ? -(uint64_t)d : (uint64_t)d;
    if (u < 1000000000) {
        int prec = 0;
        const char *unit;
        if (u == 0) {
            sbuf_puts(b, "0s");
            return;
        } else if (u < 1000) {
            unit = "ns";
        } else if (u < 1000000) {
            prec = 3;
            unit = "\xc2\xb5s";
        } else {
            prec = 6;
            unit = "ms";
        }
        size_t ul = strlen(unit);
        w -= ul;
        memcpy(buf + w, unit, ul);
        put_frac(buf, &w, &u, prec);
        put_uint(buf, &w, u);
    } else {
        buf[--w] = 's';
        put_frac(buf, &w, &u, 9);
        put_uint(buf, &w, u % 60);
        u /= 60;
        if (u > 0) {
            buf[--w] = 'm';
            put_uint(buf, &w, u % 60);
            u /= 60;
            if (u > 0) {
                buf[--w] = 'h';
                put_uint(buf, &w, u);
            }
        }
    }
    if (d < 0)
        buf[--w] = '-';
    sbuf_append(b, buf + w, sizeof buf - w);
}

/* Decodes one UTF-8 rune at s (n > 0 bytes); returns its length, or 0 for
 * an invalid byte.  */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *r)
{
    if (s[0] < 0x80) {
        *r = s[0];
        return 1;
    }
    size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC0 ? 2 : 0;
    if (len == 0 || len > n || s[0] > 0xF4)
        return 0;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *r = c;
    return len;
}

void tmpl_quote(struct sbuf *b, const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    sbuf_putc(b, '"');
    for (size_t i = 0; i < n;) {
        uint32_t r;
        size_t l = utf8_decode(s + i, n - i, &r);
        if (l == 0) {
            sbuf_printf(b, "\\x%02x", s[i]);
            i++;
            continue;
        }
        i += l;
        switch (r) {
        case '\a':
            sbuf_puts(b, "\\a");
            continue;
        case '\b':
            sbuf_puts(b, "\\b");
            continue;
        case '\f':
            sbuf_puts(b, "\\f");
            continue;
        case '\n':
            sbuf_puts(b, "\\n");
            continue;
        case '\r':
            sbuf_puts(b, "\\r");
            continue;
        case '\t':
            sbuf_puts(b, "\\t");
            continue;
        case '\v':
            sbuf_puts(b, "\\v");
            continue;
        case '\\':
            sbuf_puts(b, "\\\\");
            continue;
        case '"':
            sbuf_puts(b, "\\\"");
            continue;
        }
        if (r < ' ' || r == 0x7f)
            sbuf_printf(b, "\\x%02x", (unsigned)r);
        else if ((r >= 0x80 && r < 0xA0) || r == 0xAD || r == 0xFEFF ||
                 (r >= 0x2028 && r <= 0x2029))
            sbuf_printf(b, "\\u%04x", (unsigned)r);
        else
            sbuf_append(b, s + i - l, l);
    }
    sbuf_putc(b, '"');
}

void tmpl_value_print(struct sbuf *b, const struct tmpl_value *v, int depth)
{
    switch (v->kind) {
    case TMPL_INVALID:
        sbuf_puts(b, depth == 0 ? "<no value>" : "<invalid reflect.Value>");
        return;
    case TMPL_NIL:
        sbuf_puts(b, "<nil>");
        return;
    case TMPL_BOOL:
        sbuf_puts(b, v->u.b ? "true" : "false");
        return;
    case TMPL_INT:
        sbuf_printf(b, "%" PRId64, v->u.i);
        return;
    case TMPL_FLOAT:
        sbuf_put_float(b, v->u.f);
        return;
    case TMPL_STRING:
        sbuf_append(b, v->u.s.p, v->u.s.n);
        return;
    case TMPL_MAP:
    case TMPL_STRUCT: {
        bool st = v->kind == TMPL_STRUCT;
        const struct tmpl_map *m = v->u.map;
        sbuf_puts(b, st ? "{" : "map[");
        for (size_t i = 0; i < m->n; i++) {
            if (i)
                sbuf_putc(b, ' ');
            if (!st) {
                sbuf_puts(b, m->keys[i]);
                sbuf_putc(b, ':');
            }
            tmpl_value_print(b, m->vals[i], depth + 1);
        }
        sbuf_puts(b, st ? "}" : "]");
        return;
    }
    case TMPL_LIST:
        sbuf_putc(b, '[');
        for (size_t i = 0; i < v->u.list->n; i++) {
            if (i)
                sbuf_putc(b, ' ');
            tmpl_value_print(b, v->u.list->v[i], depth + 1);
        }
        sbuf_putc(b, ']');
        return;
    case TMPL_SAMPLE:
        /* Go prints a pointer inside a container as an address; the
         * struct form is as informative and deterministic. */
        sbuf_puts(b, depth == 0 ? "{" : "&{");
        tmpl_value_print(b, v->u.sample->labels, depth + 1);
        sbuf_putc(b, ' ');
        sbuf_put_float(b, v->u.sample->value);
        sbuf_putc(b, '}');
        return;
    case TMPL_TIME:
        tmpl_time_format(b, v->u.ns);
        return;
    case TMPL_DURATION:
        tmpl_duration_format(b, v->u.ns);
        return;
    }
}
