/* yaml_tree.h — conf-internal: YAML documents as trees of positioned nodes,
 * and a small schema-driven decoder that turns them into typed structs.
 *
 * Loading is two steps.  ytree_load_* turns libyaml's event stream into a
 * tree where every node remembers its line and column, with aliases
 * resolved and `<<` merge keys expanded (as go-yaml, which Prometheus and
 * Alertmanager use, does).  Then decoders walk the tree with a `struct ydec`
 * that carries the file name and the field path ("scrape_configs[0].params"),
 * so every error can say file:line:col, path and reason.
 *
 * Nodes live in one arena owned by the `struct ytree`; ytree_free releases
 * all of them.  Decoded values never point into the tree: decoders copy. */
#ifndef VIGIL_CONF_YAML_TREE_H
#define VIGIL_CONF_YAML_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf_error.h"

enum ynode_kind { YNODE_NULL, YNODE_SCALAR, YNODE_SEQ, YNODE_MAP };

struct ynode {
    enum ynode_kind kind;
    int line, col;        /* 1-based position of the node's start */
    const char *s;        /* scalar text (NUL-terminated); NULL for other kinds */
    bool quoted;          /* scalar was quoted: "null" / "~" / "" stay strings */
    size_t n;             /* seq: item count; map: pair count */
    struct ynode **items; /* seq: items[i]; map: items[2i] key, items[2i+1] value */
};

struct ytree {
    struct ynode *root; /* NULL-kind node for an empty document */
    void *arena;        /* private */
};

/* Parses the first YAML document of text.  `name` is the file name used in
 * errors.  Returns 0, or -1 with err filled ("name:line:col: yaml: ..."). */
int ytree_load_string(struct ytree *t, const char *name, const char *text, size_t len,
                      struct conf_error *err);
/* Reads and parses a file.  On error, err says why (including "open: ..."). */
int ytree_load_file(struct ytree *t, const char *path, struct conf_error *err);
void ytree_free(struct ytree *t);

/* Map lookup by key; NULL if absent. */
const struct ynode *ynode_get(const struct ynode *map, const char *key);
/* True for an explicit or implicit YAML null (`key:`, `~`, `null`). */
bool ynode_is_null(const struct ynode *n);

/* ---- Decoding ---- */

struct ydec {
    const char *file;
    struct conf_error *err;
    char path[512];
    size_t pathlen;
};

void ydec_init(struct ydec *d, const char *file, struct conf_error *err);
/* Path segments: ydec_push_field appends ".name" (or "name" at the root),
 * ydec_push_index "[i]"; each returns the old length for ydec_pop. */
size_t ydec_push_field(struct ydec *d, const char *name);
size_t ydec_push_index(struct ydec *d, size_t i);
void ydec_pop(struct ydec *d, size_t oldlen);
/* Fills err with "file:line:col: path: <message>" for node n; returns -1. */
int ydec_fail(struct ydec *d, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A field of a YAML mapping: its key, a decoder and where in the target
 * struct its value goes.  Decoders return 0 or -1 (after ydec_fail). */
typedef int (*ydec_fn)(struct ydec *d, const struct ynode *n, void *out);
struct yfield {
    const char *name;
    ydec_fn decode;
    size_t offset;
};
#define YFIELD(type, member, fn)                                                                   \
    {                                                                                              \
#member, fn, offsetof(type, member)                                                        \
    }
#define YFIELD_NAMED(name, type, member, fn)                                                       \
    {                                                                                              \
        name, fn, offsetof(type, member)                                                           \
    }

/* Decodes a mapping against a NULL-name-terminated field table into obj.
 * Unknown keys and duplicate keys are errors, as in Prometheus's strict
 * unmarshalling; null values leave the field untouched (its default).
 * If `seen` is non-NULL it receives one flag per field (true if present). */
int ydec_map(struct ydec *d, const struct ynode *n, const struct yfield *fields, void *obj,
             bool *seen);

/* Primitive decoders, usable in field tables.  Strings are xstrdup'd (the
 * previous value, if any, is freed). */
int ydec_string(struct ydec *d, const struct ynode *n, void *out);   /* char ** */
int ydec_bool(struct ydec *d, const struct ynode *n, void *out);     /* bool * */
int ydec_int(struct ydec *d, const struct ynode *n, void *out);      /* int64_t * */
int ydec_uint(struct ydec *d, const struct ynode *n, void *out);     /* uint64_t * (>= 0) */
int ydec_float(struct ydec *d, const struct ynode *n, void *out);    /* double * */
int ydec_duration(struct ydec *d, const struct ynode *n, void *out); /* int64_t * ms */
int ydec_bytesize(struct ydec *d, const struct ynode *n, void *out); /* int64_t * */

/* A list of owned strings. */
struct ystrlist {
    char **v;
    size_t n;
};
int ydec_strlist(struct ydec *d, const struct ynode *n, void *out); /* struct ystrlist * */
void ystrlist_free(struct ystrlist *l);

/* A string->string mapping, kept sorted by key (label sets, headers). */
struct ystrmap {
    char **keys;
    char **values;
    size_t n;
};
int ydec_strmap(struct ydec *d, const struct ynode *n, void *out); /* struct ystrmap * */
const char *ystrmap_get(const struct ystrmap *m, const char *key);
/* Sets key to value (both copied), keeping the map sorted. */
void ystrmap_set(struct ystrmap *m, const char *key, const char *value);
void ystrmap_free(struct ystrmap *m);

/* Decodes a sequence by calling item() for each element into a growing
 * array of elem_size-byte zero-initialised elements: *(void **)arr,
 * *count. */
int ydec_seq(struct ydec *d, const struct ynode *n, void *arr, size_t *count, size_t elem_size,
             ydec_fn item);

#endif
