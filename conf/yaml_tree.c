/* yaml_tree.c — YAML to positioned node trees, and the typed decoder.
 *
 * libyaml gives a stream of events; we build nodes from it with an explicit
 * stack (no recursion on input depth, so a hostile deeply nested file cannot
 * overflow the C stack: depth is capped at YTREE_MAX_DEPTH).  Anchors are kept
 * in a small table and aliases point at the anchored node, so an alias costs
 * nothing; `<<` merge keys are expanded when their mapping ends, explicit keys
 * winning over merged ones, as go-yaml does.
 *
 * All nodes, strings and item arrays come from one bump arena: a config is
 * decoded once and then the whole tree is dropped in one step. */
#include "conf/yaml_tree.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "util/duration.h"
#include "util/sbuf.h"

#define YTREE_MAX_DEPTH 256
#define YTREE_MAX_BYTES (64u << 20)

/* ---- arena ---- */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
};

static void *arena_alloc(void **arena, size_t n)
{
    struct arena_block *b = *arena;
    n = (n + 15) & ~(size_t)15;
    if (!b || b->used + n > b->cap) {
        size_t cap = n > 32768 ? n : 32768;
        struct arena_block *nb = xmalloc(sizeof *nb + cap);
        nb->next = b;
        nb->used = 0;
        nb->cap = cap;
        *arena = b = nb;
    }
    void *p = b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

static char *arena_strdup(void **arena, const char *s, size_t n)
{
    char *p = arena_alloc(arena, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

static void arena_free(void *arena)
{
    struct arena_block *b = arena;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
}

/* ---- tree building ---- */

/* A node under construction: items accumulate in a growable heap array and
 * are copied into the arena when the collection ends. */
struct frame {
    struct ynode *node;
    struct ynode **items;
    size_t n, cap;
};

struct anchor {
    char *name;
    struct ynode *node;
};

struct builder {
    struct ytree *t;
    const char *name;
    struct conf_error *err;
    struct frame stack[YTREE_MAX_DEPTH];
    int depth;
    struct anchor *anchors;
    size_t nanchors, capanchors;
    struct ynode *root;
};

static void frame_push_item(struct frame *f, struct ynode *n)
{
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->items = xrealloc(f->items, f->cap * sizeof *f->items);
    }
    f->items[f->n++] = n;
}

static void builder_add_anchor(struct builder *b, const unsigned char *name, struct ynode *n)
{
    if (!name)
        return;
    if (b->nanchors == b->capanchors) {
        b->capanchors = b->capanchors ? b->capanchors * 2 : 8;
        b->anchors = xrealloc(b->anchors, b->capanchors * sizeof *b->anchors);
    }
    b->anchors[b->nanchors].name = xstrdup((const char *)name);
    b->anchors[b->nanchors].node = n;
    b->nanchors++;
}

static struct ynode *builder_find_anchor(struct builder *b, const unsigned char *name)
{
    for (size_t i = b->nanchors; i-- > 0;)
        if (strcmp(b->anchors[i].name, (const char *)name) == 0)
            return b->anchors[i].node;
    return NULL;
}

static int builder_fail(struct builder *b, yaml_mark_t mark, const char *what)
{
    snprintf(b->err->msg, sizeof b->err->msg, "%s:%zu:%zu: yaml: %s", b->name, mark.line + 1,
             mark.column + 1, what);
    return -1;
}

static struct ynode *node_new(struct builder *b, enum ynode_kind kind, yaml_mark_t mark)
{
    struct ynode *n = arena_alloc(&b->t->arena, sizeof *n);
    n->kind = kind;
    n->line = (int)mark.line + 1;
    n->col = (int)mark.column + 1;
    return n;
}

static bool scalar_is_plain_null(const struct ynode *n)
{
    const char *s = n->s;
    return !n->quoted && (*s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
                          strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0);
}

static bool key_is_merge(const struct ynode *k)
{
    return k->kind == YNODE_SCALAR && !k->quoted && strcmp(k->s, "<<") == 0;
}

static bool map_has_key(struct ynode **items, size_t npairs, const char *key)
{
    for (size_t i = 0; i < npairs; i++)
        if (items[2 * i]->kind == YNODE_SCALAR && strcmp(items[2 * i]->s, key) == 0)
            return true;
    return false;
}

/* Expands `<<: *anchor` (or a list of anchors) into the mapping being
 * closed: explicit keys first, then merged keys that are not already set. */
static int map_expand_merges(struct builder *b, struct frame *f, yaml_mark_t mark)
{
    bool any = false;
    for (size_t i = 0; i + 1 < f->n; i += 2)
        any |= key_is_merge(f->items[i]);
    if (!any)
        return 0;
    struct frame out = {0};
    for (size_t i = 0; i + 1 < f->n; i += 2) {
        if (key_is_merge(f->items[i]))
            continue;
        frame_push_item(&out, f->items[i]);
        frame_push_item(&out, f->items[i + 1]);
    }
    for (size_t i = 0; i + 1 < f->n; i += 2) {
        if (!key_is_merge(f->items[i]))
            continue;
        struct ynode *v = f->items[i + 1];
        struct ynode *single[1] = {v};
        struct ynode **srcs = v->kind == YNODE_SEQ ? v->items : single;
        size_t nsrc = v->kind == YNODE_SEQ ? v->n : 1;
        for (size_t s = 0; s < nsrc; s++) {
            if (srcs[s]->kind != YNODE_MAP) {
                free(out.items);
                return builder_fail(b, mark, "map merge requires map or sequence of maps");
            }
            for (size_t j = 0; j < srcs[s]->n; j++) {
                struct ynode *k = srcs[s]->items[2 * j];
                if (k->kind == YNODE_SCALAR && map_has_key(out.items, out.n / 2, k->s))
                    continue;
                frame_push_item(&out, k);
                frame_push_item(&out, srcs[s]->items[2 * j + 1]);
            }
        }
    }
    free(f->items);
    *f = (struct frame){f->node, out.items, out.n, out.cap};
    return 0;
}

/* Attaches a finished node to its parent (or makes it the root). */
static void builder_attach(struct builder *b, struct ynode *n)
{
    if (b->depth == 0) {
        if (!b->root)
            b->root = n;
        return;
    }
    frame_push_item(&b->stack[b->depth - 1], n);
}

static int builder_open(struct builder *b, enum ynode_kind kind, yaml_mark_t mark,
                        const unsigned char *anchor)
{
    if (b->depth == YTREE_MAX_DEPTH)
        return builder_fail(b, mark, "document nested too deeply");
    struct ynode *n = node_new(b, kind, mark);
    builder_add_anchor(b, anchor, n);
    b->stack[b->depth++] = (struct frame){n, NULL, 0, 0};
    return 0;
}

static int builder_close(struct builder *b, yaml_mark_t mark)
{
    struct frame *f = &b->stack[b->depth - 1];
    if (f->node->kind == YNODE_MAP && map_expand_merges(b, f, mark) < 0) {
        free(f->items);
        b->depth--;
        return -1;
    }
    struct ynode *n = f->node;
    n->items = arena_alloc(&b->t->arena, (f->n ? f->n : 1) * sizeof *n->items);
    if (f->n)
        memcpy(n->items, f->items, f->n * sizeof *n->items);
    n->n = n->kind == YNODE_MAP ? f->n / 2 : f->n;
    free(f->items);
    b->depth--;
    builder_attach(b, n);
    return 0;
}

static void builder_scalar(struct builder *b, const yaml_event_t *ev)
{
    struct ynode *n = node_new(b, YNODE_SCALAR, ev->start_mark);
    n->s = arena_strdup(&b->t->arena, (const char *)ev->data.scalar.value, ev->data.scalar.length);
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    if (scalar_is_plain_null(n))
        n->kind = YNODE_NULL;
    builder_add_anchor(b, ev->data.scalar.anchor, n);
    builder_attach(b, n);
}

/* True if n is a collection still being built (an alias to it would make
 * the tree cyclic; go-yaml rejects that too). */
static bool builder_is_open(const struct builder *b, const struct ynode *n)
{
    for (int i = 0; i < b->depth; i++)
        if (b->stack[i].node == n)
            return true;
    return false;
}

static int builder_event(struct builder *b, const yaml_event_t *ev, bool *done)
{
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        builder_scalar(b, ev);
        return 0;
    case YAML_SEQUENCE_START_EVENT:
        return builder_open(b, YNODE_SEQ, ev->start_mark, ev->data.sequence_start.anchor);
    case YAML_MAPPING_START_EVENT:
        return builder_open(b, YNODE_MAP, ev->start_mark, ev->data.mapping_start.anchor);
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        return builder_close(b, ev->start_mark);
    case YAML_ALIAS_EVENT: {
        struct ynode *n = builder_find_anchor(b, ev->data.alias.anchor);
        if (!n)
            return builder_fail(b, ev->start_mark, "unknown anchor referenced");
        if (builder_is_open(b, n)) /* `&a [*a]`: a cycle decoders would chase forever */
            return builder_fail(b, ev->start_mark, "anchor value contains itself");
        builder_attach(b, n);
        return 0;
    }
    case YAML_DOCUMENT_END_EVENT:
    case YAML_STREAM_END_EVENT:
        *done = true;
        return 0;
    default:
        return 0;
    }
}

int ytree_load_string(struct ytree *t, const char *name, const char *text, size_t len,
                      struct conf_error *err)
{
    yaml_parser_t parser;
    struct builder *b = xcalloc(1, sizeof *b);
    b->t = t;
    b->name = name;
    b->err = err;
    t->root = NULL;
    t->arena = NULL;
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    int rc = 0;
    for (bool done = false; !done && rc == 0;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(err->msg, sizeof err->msg, "%s:%zu:%zu: yaml: %s", name,
                     parser.problem_mark.line + 1, parser.problem_mark.column + 1,
                     parser.problem ? parser.problem : "parse error");
            rc = -1;
            break;
        }
        rc = builder_event(b, &ev, &done);
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    while (b->depth > 0)
        free(b->stack[--b->depth].items);
    for (size_t i = 0; i < b->nanchors; i++)
        free(b->anchors[i].name);
    free(b->anchors);
    if (rc == 0) {
        yaml_mark_t zero = {0, 0, 0};
        t->root = b->root ? b->root : node_new(b, YNODE_NULL, zero);
    } else {
        arena_free(t->arena);
        t->arena = NULL;
    }
    free(b);
    return rc;
}

int ytree_load_file(struct ytree *t, const char *path, struct conf_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err->msg, sizeof err->msg, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct sbuf buf = SBUF_INIT;
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        sbuf_append(&buf, chunk, n);
        if (buf.len > YTREE_MAX_BYTES)
            break;
    }
    int read_err = ferror(f);
    fclose(f);
    if (read_err || buf.len > YTREE_MAX_BYTES) {
        snprintf(err->msg, sizeof err->msg, "%s: %s", path,
                 read_err ? "read error" : "file larger than 64 MiB");
        sbuf_free(&buf);
        return -1;
    }
    int rc = ytree_load_string(t, path, buf.data ? buf.data : "", buf.len, err);
    sbuf_free(&buf);
    return rc;
}

void ytree_free(struct ytree *t)
{
    arena_free(t->arena);
    t->arena = NULL;
    t->root = NULL;
}

const struct ynode *ynode_get(const struct ynode *map, const char *key)
{
    if (!map || map->kind != YNODE_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++) {
        const struct ynode *k = map->items[2 * i];
        if (k->kind == YNODE_SCALAR && strcmp(k->s, key) == 0)
            return map->items[2 * i + 1];
    }
    return NULL;
}

bool ynode_is_null(const struct ynode *n)
{
    return !n || n->kind == YNODE_NULL;
}

/* ---- decoding ---- */

void ydec_init(struct ydec *d, const char *file, struct conf_error *err)
{
    d->file = file;
    d->err = err;
    d->path[0] = '\0';
    d->pathlen = 0;
}

static size_t ydec_push(struct ydec *d, const char *fmt, const char *name, size_t idx)
{
    size_t old = d->pathlen;
    if (d->pathlen < sizeof d->path) {
        int w = name ? snprintf(d->path + d->pathlen, sizeof d->path - d->pathlen, fmt, name)
                     : snprintf(d->path + d->pathlen, sizeof d->path - d->pathlen, fmt, idx);
        if (w > 0)
            d->pathlen += (size_t)w;
        if (d->pathlen >= sizeof d->path)
            d->pathlen = sizeof d->path - 1;
    }
    return old;
}

size_t ydec_push_field(struct ydec *d, const char *name)
{
    return ydec_push(d, d->pathlen ? ".%s" : "%s", name, 0);
}

size_t ydec_push_index(struct ydec *d, size_t i)
{
    return ydec_push(d, "[%zu]", NULL, i);
}

void ydec_pop(struct ydec *d, size_t oldlen)
{
    d->pathlen = oldlen;
    d->path[oldlen] = '\0';
}

int ydec_fail(struct ydec *d, const struct ynode *n, const char *fmt, ...)
{
    char what[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    int line = n ? n->line : 1, col = n ? n->col : 1;
    if (d->pathlen)
        snprintf(d->err->msg, sizeof d->err->msg, "%s:%d:%d: %s: %s", d->file, line, col, d->path,
                 what);
    else
        snprintf(d->err->msg, sizeof d->err->msg, "%s:%d:%d: %s", d->file, line, col, what);
    return -1;
}

static const char *kind_name(const struct ynode *n)
{
    switch (n->kind) {
    case YNODE_SEQ:
        return "a list";
    case YNODE_MAP:
        return "a mapping";
    case YNODE_NULL:
        return "null";
    default:
        return "a scalar";
    }
}

int ydec_map(struct ydec *d, const struct ynode *n, const struct yfield *fields, void *obj,
             bool *seen)
{
    size_t nfields = 0;
    while (fields[nfields].name)
        nfields++;
    if (seen)
        memset(seen, 0, nfields * sizeof *seen);
    if (ynode_is_null(n))
        return 0;
    if (n->kind != YNODE_MAP)
        return ydec_fail(d, n, "expected a mapping, got %s", kind_name(n));
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        if (k->kind != YNODE_SCALAR)
            return ydec_fail(d, k, "mapping keys must be strings");
        for (size_t j = 0; j < i; j++)
            if (n->items[2 * j]->kind == YNODE_SCALAR && strcmp(n->items[2 * j]->s, k->s) == 0)
                return ydec_fail(d, k, "field %s already set", k->s);
        size_t f = 0;
        while (f < nfields && strcmp(fields[f].name, k->s) != 0)
            f++;
        if (f == nfields)
            return ydec_fail(d, k, "unknown field \"%s\"", k->s);
        if (seen)
            seen[f] = true;
        if (ynode_is_null(v) && fields[f].decode != ydec_string)
            continue;
        size_t old = ydec_push_field(d, k->s);
        int rc = fields[f].decode(d, v, (char *)obj + fields[f].offset);
        if (rc < 0)
            return rc;
        ydec_pop(d, old);
    }
    return 0;
}

static int want_scalar(struct ydec *d, const struct ynode *n, const char *what)
{
    if (n->kind == YNODE_SCALAR)
        return 0;
    return ydec_fail(d, n, "expected %s, got %s", what, kind_name(n));
}

int ydec_string(struct ydec *d, const struct ynode *n, void *out)
{
    char **p = out;
    if (n->kind == YNODE_NULL) {
        free(*p);
        *p = NULL;
        return 0;
    }
    if (want_scalar(d, n, "a string") < 0)
        return -1;
    free(*p);
    *p = xstrdup(n->s);
    return 0;
}

int ydec_bool(struct ydec *d, const struct ynode *n, void *out)
{
    /* go-yaml v2 (YAML 1.1) spellings, "y" and "n" included. */
    static const char *yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES",
                                "on",   "On",   "ON",   "y",   "Y"};
    static const char *no[] = {"false", "False", "FALSE", "no", "No", "NO",
                               "off",   "Off",   "OFF",   "n",  "N"};
    if (want_scalar(d, n, "a boolean") < 0)
        return -1;
    for (size_t i = 0; !n->quoted && i < sizeof yes / sizeof *yes; i++) {
        if (strcmp(n->s, yes[i]) == 0) {
            *(bool *)out = true;
            return 0;
        }
        if (strcmp(n->s, no[i]) == 0) {
            *(bool *)out = false;
            return 0;
        }
    }
    return ydec_fail(d, n, "cannot unmarshal \"%s\" into a boolean", n->s);
}

/* YAML 1.1's float syntax: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? */
static bool yaml_float_syntax(const char *s)
{
    const char *p = s + (*s == '+' || *s == '-');
    size_t intd = 0, fracd = 0;
    while (isdigit((unsigned char)*p))
        p++, intd++;
    if (*p == '.')
        for (p++; isdigit((unsigned char)*p); p++)
            fracd++;
    if (intd == 0 && fracd == 0)
        return false;
    if (*p == 'e' || *p == 'E') {
        p += 1 + (p[1] == '+' || p[1] == '-');
        if (!isdigit((unsigned char)*p))
            return false;
        while (isdigit((unsigned char)*p))
            p++;
    }
    return *p == '\0';
}

/* An integer as go-yaml v2 reads a plain scalar into an int field: '_' are
 * dropped, then Go's base-0 syntax (0x, 0o, 0b, leading-0 octal), else a
 * YAML float, truncated toward zero. */
static int yaml_int_parse(const char *s, int64_t *v)
{
    char buf[72];
    size_t n = 0;
    for (; *s; s++) {
        if (*s == '_')
            continue;
        if (n + 1 >= sizeof buf)
            return -1;
        buf[n++] = *s;
    }
    buf[n] = '\0';
    const char *p = buf;
    bool neg = *p == '-';
    p += *p == '+' || *p == '-';
    int base = 10;
    if (p[0] == '0' && p[1] && strchr("xXoObB", p[1]))
        base = strchr("xX", p[1]) ? 16 : strchr("oO", p[1]) ? 8 : 2, p += 2;
    else if (p[0] == '0' && p[1])
        base = 8, p += 1;
    if (isalnum((unsigned char)*p)) {
        char *end;
        errno = 0;
        unsigned long long u = strtoull(p, &end, base);
        if (!errno && end != p && *end == '\0') {
            if (u > (unsigned long long)INT64_MAX + neg)
                return -1;
            *v = neg ? (int64_t)(0 - u) : (int64_t)u;
            return 0;
        }
    }
    if (!yaml_float_syntax(buf))
        return -1;
    double f = strtod(buf, NULL);
    if (!(f > -9223372036854775808.0 - 1 && f < 9223372036854775808.0))
        return -1;
    *v = (int64_t)f;
    return 0;
}

int ydec_int(struct ydec *d, const struct ynode *n, void *out)
{
    if (want_scalar(d, n, "an integer") < 0)
        return -1;
    int64_t v;
    if (n->quoted || yaml_int_parse(n->s, &v) < 0)
        return ydec_fail(d, n, "cannot unmarshal \"%s\" into an integer", n->s);
    *(int64_t *)out = v;
    return 0;
}

int ydec_uint(struct ydec *d, const struct ynode *n, void *out)
{
    int64_t v;
    if (ydec_int(d, n, &v) < 0)
        return -1;
    if (v < 0)
        return ydec_fail(d, n, "cannot unmarshal \"%s\" into an unsigned integer", n->s);
    *(uint64_t *)out = (uint64_t)v;
    return 0;
}

int ydec_float(struct ydec *d, const struct ynode *n, void *out)
{
    if (want_scalar(d, n, "a number") < 0)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(n->s, &end);
    if (n->quoted || end == n->s || *end || (errno && !isinf(v)))
        return ydec_fail(d, n, "cannot unmarshal \"%s\" into a number", n->s);
    *(double *)out = v;
    return 0;
}

int ydec_duration(struct ydec *d, const struct ynode *n, void *out)
{
    if (want_scalar(d, n, "a duration") < 0)
        return -1;
    if (duration_parse(n->s, out) < 0)
        return ydec_fail(d, n, "\"%s\" is not a valid duration", n->s);
    return 0;
}

int ydec_bytesize(struct ydec *d, const struct ynode *n, void *out)
{
    if (want_scalar(d, n, "a byte size") < 0)
        return -1;
    if (bytesize_parse(n->s, out) < 0)
        return ydec_fail(d, n, "\"%s\" is not a valid byte size", n->s);
    return 0;
}

int ydec_strlist(struct ydec *d, const struct ynode *n, void *out)
{
    struct ystrlist *l = out;
    if (n->kind != YNODE_SEQ)
        return ydec_fail(d, n, "expected a list of strings, got %s", kind_name(n));
    ystrlist_free(l);
    l->v = xcalloc(n->n ? n->n : 1, sizeof *l->v);
    for (size_t i = 0; i < n->n; i++) {
        size_t old = ydec_push_index(d, i);
        if (want_scalar(d, n->items[i], "a string") < 0)
            return -1;
        ydec_pop(d, old);
        l->v[l->n++] = xstrdup(n->items[i]->s);
    }
    return 0;
}

void ystrlist_free(struct ystrlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

int ydec_strmap(struct ydec *d, const struct ynode *n, void *out)
{
    struct ystrmap *m = out;
    if (n->kind != YNODE_MAP)
        return ydec_fail(d, n, "expected a mapping of strings, got %s", kind_name(n));
    ystrmap_free(m);
    m->keys = xcalloc(n->n ? n->n : 1, sizeof *m->keys);
    m->values = xcalloc(n->n ? n->n : 1, sizeof *m->values);
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        if (want_scalar(d, k, "a string key") < 0)
            return -1;
        size_t old = ydec_push_field(d, k->s);
        if (v->kind != YNODE_NULL && want_scalar(d, v, "a string") < 0)
            return -1;
        ydec_pop(d, old);
        /* Checked before shifting: a failure must leave m consistent. */
        if (ystrmap_get(m, k->s))
            return ydec_fail(d, k, "duplicate key \"%s\"", k->s);
        /* Insertion sort keeps keys ordered; maps here are small. */
        size_t at = m->n;
        while (at > 0 && strcmp(m->keys[at - 1], k->s) > 0) {
            m->keys[at] = m->keys[at - 1];
            m->values[at] = m->values[at - 1];
            at--;
        }
        m->keys[at] = xstrdup(k->s);
        m->values[at] = xstrdup(v->kind == YNODE_NULL ? "" : v->s);
        m->n++;
    }
    return 0;
}

void ystrmap_set(struct ystrmap *m, const char *k, const char *v)
{
    size_t i = 0;
    while (i < m->n && strcmp(m->keys[i], k) < 0)
        i++;
    if (i < m->n && strcmp(m->keys[i], k) == 0) {
        free(m->values[i]);
        m->values[i] = xstrdup(v);
        return;
    }
    m->keys = xrealloc(m->keys, (m->n + 1) * sizeof *m->keys);
    m->values = xrealloc(m->values, (m->n + 1) * sizeof *m->values);
    memmove(m->keys + i + 1, m->keys + i, (m->n - i) * sizeof *m->keys);
    memmove(m->values + i + 1, m->values + i, (m->n - i) * sizeof *m->values);
    m->keys[i] = xstrdup(k);
    m->values[i] = xstrdup(v);
    m->n++;
}

const char *ystrmap_get(const struct ystrmap *m, const char *key)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i], key) == 0)
            return m->values[i];
    return NULL;
}

void ystrmap_free(struct ystrmap *m)
{
    for (size_t i = 0; i < m->n; i++) {
        free(m->keys[i]);
        free(m->values[i]);
    }
    free(m->keys);
    free(m->values);
    m->keys = m->values = NULL;
    m->n = 0;
}

int ydec_seq(struct ydec *d, const struct ynode *n, void *arr, size_t *count, size_t elem_size,
             ydec_fn item)
{
    if (n->kind != YNODE_SEQ)
        return ydec_fail(d, n, "expected a list, got %s", kind_name(n));
    char *base = xcalloc(n->n ? n->n : 1, elem_size);
    *(void **)arr = base;
    *count = 0;
    for (size_t i = 0; i < n->n; i++) {
        size_t old = ydec_push_index(d, i);
        (*count)++;
        if (item(d, n->items[i], base + i * elem_size) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}
