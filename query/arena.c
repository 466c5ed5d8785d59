/* arena.c — the per-query bump allocator.
 *
 * A query's AST is built once, read by the evaluator and then thrown away
 * whole, so its memory is handed out from a chain of blocks by bumping a
 * pointer and released by walking the chain once.  Blocks start at 4 KiB
 * and double up to 1 MiB; a request larger than a block gets a block of its
 * own, so no request is ever refused short of malloc failing (which aborts,
 * as util/sbuf.h's allocators do).  Every allocation is zeroed and aligned
 * for any object.  An arena belongs to one thread at a time.  A reset
 * merges the chain into one block, for work that repeats (range steps). */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "query/promql.h"
#include "util/sbuf.h"

struct arena_block {
    struct arena_block *next;
    size_t cap, used;
    alignas(max_align_t) unsigned char data[];
};

struct promql_arena {
    struct arena_block *head;
    size_t next_cap;
    size_t total;
};

enum { ARENA_MIN_BLOCK = 4096, ARENA_MAX_BLOCK = 1 << 20 };

struct promql_arena *promql_arena_new(void)
{
    struct promql_arena *a = xcalloc(1, sizeof *a);
    a->next_cap = ARENA_MIN_BLOCK;
    return a;
}

void promql_arena_free(struct promql_arena *a)
{
    if (!a)
        return;
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(a);
}

void promql_arena_reset(struct promql_arena *a)
{
    struct arena_block *b = a->head;
    if (b && b->next) {
        size_t cap = 0;
        while (b) {
            struct arena_block *next = b->next;
            cap += b->cap;
            free(b);
            b = next;
        }
        b = xmalloc(sizeof *b + cap);
        b->cap = cap;
        b->next = NULL;
        a->head = b;
    }
    if (b)
        b->used = 0;
    a->total = 0;
}

static struct arena_block *arena_block_add(struct promql_arena *a, size_t need)
{
    size_t cap = a->next_cap;
    while (cap < need)
        cap *= 2;
    if (a->next_cap < ARENA_MAX_BLOCK)
        a->next_cap *= 2;
    struct arena_block *b = xmalloc(sizeof *b + cap);
    b->cap = cap;
    b->used = 0;
    b->next = a->head;
    a->head = b;
    return b;
}

void *promql_arena_alloc(struct promql_arena *a, size_t n)
{
    const size_t align = alignof(max_align_t);
    n = (n + align - 1) & ~(align - 1);
    if (n == 0)
        n = align;
    struct arena_block *b = a->head;
    if (!b || b->cap - b->used < n)
        b = arena_block_add(a, n);
    void *p = b->data + b->used;
    b->used += n;
    a->total += n;
    memset(p, 0, n);
    return p;
}

char *promql_arena_strndup(struct promql_arena *a, const char *s, size_t n)
{
    char *p = promql_arena_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

size_t promql_arena_used(const struct promql_arena *a)
{
    return a->total;
}
