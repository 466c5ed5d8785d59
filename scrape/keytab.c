/* keytab.c — the scrape cache's store: one 32-byte entry per cached series,
 * found by the 128-bit hash of its raw series bytes.
 *
 * The cache (scrape_append.c) is the scrape side's memory per active
 * series, so its layout is chosen for size:
 *
 *   entries  fixed 32-byte struct scrape_centry in pages of KEYTAB_PAGE,
 *            numbered densely (page * KEYTAB_PAGE + slot).  Pages never
 *            move, because the appender holds &entry->ref until commit;
 *            freed entries go on a free list threaded through seen_iter.
 *   index    open addressing with linear probing over uint32 slots (entry
 *            number + 1, 0 empty), any size (the hash is mapped onto it by
 *            a multiply, not a mask), kept between 3/8 and 3/4 full;
 *            removal shifts the probe run back, so there are no tombstones.
 *
 * The key is XXH3-128 of the line's raw series bytes with a seed drawn per
 * table, not the bytes: 16 bytes instead of 40-150 (node_exporter lines are
 * 40-80, kube-state-metrics' longer), and no separate allocation.  Two lines
 * of one target would have to hash alike for a sample to go to the wrong
 * series: with 10^4 series in a target that is a chance of ~10^-31 per
 * new line, and the seed keeps a target from aiming for one (and a target
 * can only ever reach its own series that way, as every series carries the
 * target's labels unless honor_labels lets it name any series anyway).
 * Prometheus keeps the bytes (and the labels) and pays several times this.
 *
 * Measured (bench/scrape.sh-like, 500 targets x 2005 series): the old
 * cache cost ~104 B a series (a malloc'd 33-byte entry with the key inline,
 * a chained bucket and the page-order pointer); this one ~42 (entry,
 * ~6 of index, 4 of page order).
 *
 * Single-threaded: a table belongs to its target's scrape loop. */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <xxhash.h>

#include "scrape/scrape_internal.h"

#define KEYTAB_PAGE      64 /* entries a page: 2 KiB */
#define KEYTAB_MIN_SLOTS 64

void scrape_keytab_init(struct scrape_keytab *t)
{
    memset(t, 0, sizeof *t);
    t->free_head = KEYTAB_NONE;
    /* The seed only needs to be unknown to the targets; without entropy
     * the table's address still differs per target and per run. */
    if (getrandom(&t->seed, sizeof t->seed, GRND_NONBLOCK) != (ssize_t)sizeof t->seed)
        t->seed = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull;
}

void scrape_keytab_free(struct scrape_keytab *t)
{
    for (uint32_t i = 0; i < t->npages; i++)
        free(t->pages[i]);
    free(t->pages);
    free(t->slots);
    memset(t, 0, sizeof *t);
    t->free_head = KEYTAB_NONE;
}

struct scrape_ckey scrape_keytab_key(const struct scrape_keytab *t, const char *raw, size_t len)
{
    XXH128_hash_t h = XXH3_128bits_withSeed(raw, len, t->seed);
    return (struct scrape_ckey){h.low64, h.high64};
}

static bool ckey_eq(struct scrape_ckey a, struct scrape_ckey b)
{
    return a.lo == b.lo && a.hi == b.hi;
}

struct scrape_centry *scrape_keytab_at(const struct scrape_keytab *t, uint32_t i)
{
    return &t->pages[i / KEYTAB_PAGE][i % KEYTAB_PAGE];
}

/* Where a key's probe run starts: the hash scaled onto [0, nslots). */
static uint32_t home_of(uint64_t lo, uint32_t nslots)
{
    return (uint32_t)(((unsigned __int128)lo * nslots) >> 64);
}

static uint32_t slot_next(uint32_t i, uint32_t nslots)
{
    return i + 1 == nslots ? 0 : i + 1;
}

uint32_t scrape_keytab_find(const struct scrape_keytab *t, struct scrape_ckey k)
{
    if (!t->nslots)
        return KEYTAB_NONE;
    for (uint32_t i = home_of(k.lo, t->nslots);; i = slot_next(i, t->nslots)) {
        uint32_t s = t->slots[i];
        if (!s)
            return KEYTAB_NONE;
        if (ckey_eq(scrape_keytab_at(t, s - 1)->key, k))
            return s - 1;
    }
}

static void slots_put(uint32_t *slots, uint32_t nslots, uint64_t lo, uint32_t entry)
{
    uint32_t i = home_of(lo, nslots);
    while (slots[i])
        i = slot_next(i, nslots);
    slots[i] = entry + 1;
}

/* The index rebuilt with nslots slots, for the entries in use. */
static void slots_rebuild(struct scrape_keytab *t, uint32_t nslots)
{
    free(t->slots);
    t->slots = xcalloc(nslots, sizeof *t->slots);
    t->nslots = nslots;
    for (uint32_t i = 0; i < t->hw; i++) {
        const struct scrape_centry *e = scrape_keytab_at(t, i);
        if (e->used)
            slots_put(t->slots, nslots, e->key.lo, i);
    }
}

/* Slots for n entries at about 5/8 full, the middle of the band kept. */
static uint32_t slots_for(uint32_t n)
{
    uint64_t s = (uint64_t)n * 8 / 5 + 1;
    return s < KEYTAB_MIN_SLOTS ? KEYTAB_MIN_SLOTS : (uint32_t)s;
}

static uint32_t entry_take(struct scrape_keytab *t)
{
    if (t->free_head != KEYTAB_NONE) {
        uint32_t i = t->free_head;
        t->free_head = scrape_keytab_at(t, i)->seen_iter;
        return i;
    }
    if (t->hw == t->npages * KEYTAB_PAGE) {
        t->pages = xrealloc(t->pages, (t->npages + 1) * sizeof *t->pages);
        t->pages[t->npages++] = xmalloc(KEYTAB_PAGE * sizeof **t->pages);
    }
    return t->hw++;
}

uint32_t scrape_keytab_add(struct scrape_keytab *t, struct scrape_ckey k)
{
    if ((uint64_t)(t->n + 1) * 4 > (uint64_t)t->nslots * 3)
        slots_rebuild(t, slots_for(t->n + 1));
    uint32_t i = entry_take(t);
    *scrape_keytab_at(t, i) = (struct scrape_centry){.key = k, .used = true};
    slots_put(t->slots, t->nslots, k.lo, i);
    t->n++;
    return i;
}

/* Whether slot j's entry, whose run starts at home, may move back to the
 * hole at i: only if home is not cyclically within (i, j]. */
static bool may_fill(uint32_t home, uint32_t i, uint32_t j)
{
    return i <= j ? (home <= i || home > j) : (home <= i && home > j);
}

void scrape_keytab_remove(struct scrape_keytab *t, uint32_t entry)
{
    struct scrape_centry *e = scrape_keytab_at(t, entry);
    uint32_t i = home_of(e->key.lo, t->nslots);
    while (t->slots[i] != entry + 1)
        i = slot_next(i, t->nslots);
    t->slots[i] = 0;
    for (uint32_t j = slot_next(i, t->nslots); t->slots[j]; j = slot_next(j, t->nslots)) {
        uint32_t home = home_of(scrape_keytab_at(t, t->slots[j] - 1)->key.lo, t->nslots);
        if (may_fill(home, i, j)) {
            t->slots[i] = t->slots[j];
            t->slots[j] = 0;
            i = j;
        }
    }
    e->used = false;
    e->seen_iter = t->free_head;
    t->free_head = entry;
    t->n--;
}

/* Moves the entries in use to the front, in order, renumbering the n
 * entry numbers in refs; frees the pages left empty. */
static void entries_compact(struct scrape_keytab *t, uint32_t *refs, size_t n)
{
    uint32_t *map = xmalloc((t->hw ? t->hw : 1) * sizeof *map);
    uint32_t j = 0;
    for (uint32_t i = 0; i < t->hw; i++) {
        struct scrape_centry *e = scrape_keytab_at(t, i);
        map[i] = j;
        if (e->used)
            *scrape_keytab_at(t, j++) = *e;
    }
    for (size_t k = 0; k < n; k++)
        refs[k] = map[refs[k]];
    free(map);
    t->hw = j;
    t->free_head = KEYTAB_NONE;
    uint32_t keep = (j + KEYTAB_PAGE - 1) / KEYTAB_PAGE;
    for (uint32_t p = keep; p < t->npages; p++)
        free(t->pages[p]);
    t->npages = keep;
}

void scrape_keytab_tidy(struct scrape_keytab *t, uint32_t *refs, size_t n)
{
    if (t->hw - t->n > KEYTAB_PAGE && t->hw - t->n > t->n) {
        entries_compact(t, refs, n);
        slots_rebuild(t, slots_for(t->n));
    } else if (t->nslots > KEYTAB_MIN_SLOTS && (uint64_t)t->n * 8 < (uint64_t)t->nslots * 3) {
        slots_rebuild(t, slots_for(t->n));
    }
}
