/* scrape_internal.h — scrape-internal: turning one scraped page into one
 * appender batch (scrape_append.c, its cache's store keytab.c), shared by
 * the scrape loop (scrape.c) and the unit tests.
 *
 * Per target, a struct scrape_cache maps the raw series bytes of a sample
 * line (name and label block exactly as written), by their 128-bit hash, to
 * what the series became: its tsdb ref, or "dropped by
 * metric_relabel_configs".  A line is first compared with the line at the
 * same position of the previous scrape (pages rarely change order, so one
 * comparison usually proves identity), then looked up; only on a miss, or
 * while storage has not given the series a ref yet, are labels unescaped,
 * merged with the target's labels (honor_labels or exported_ renaming),
 * relabeled and checked against the limits.
 *
 * Staleness, as Prometheus: a series seen in the previous successful scrape
 * and absent from this one gets a stale NaN at this scrape's timestamp; a
 * failed scrape marks every series of the previous one stale.  Series with
 * an explicit timestamp are not tracked unless track_timestamps_staleness.
 *
 * One batch per scrape: the page's samples, the stale markers and the five
 * report series (up, scrape_duration_seconds, scrape_samples_scraped,
 * scrape_samples_post_metric_relabeling, scrape_series_added) go through one
 * appender and one commit.  A cache belongs to its target's loop (one
 * thread); refs inside it must stay put until commit, so entries live in
 * pages that never move and are only evicted or compacted in
 * scrape_cache_iter_done. */
#ifndef VIGIL_SCRAPE_INTERNAL_H
#define VIGIL_SCRAPE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scrape/relabel.h"
#include "scrape/target.h"
#include "scrape/textparse.h"
#include "storage/tsdb.h"

struct scrape_cache;

/* ---- The cache's store (keytab.c) ---- */

#define KEYTAB_NONE UINT32_MAX

struct scrape_ckey {
    uint64_t lo, hi; /* XXH3-128 of the raw series bytes, seeded per table */
};

/* One cached series: 32 bytes, no allocation of its own. */
struct scrape_centry {
    struct scrape_ckey key;
    uint64_t ref;       /* the tsdb's; 0 until it has given one */
    uint32_t seen_iter; /* attempt that last saw it; the next free entry while free */
    bool used : 1;
    bool dropped : 1;   /* by metric_relabel_configs */
    bool tracked : 1;   /* staleness tracked in the attempt seen_iter */
    bool prev_seen : 1; /* tracked in the last successful scrape */
};

/* Entries by number (stable while in use), found by key. */
struct scrape_keytab {
    struct scrape_centry **pages;
    uint32_t npages;
    uint32_t hw;        /* entries numbered so far: 0..hw-1, used or free */
    uint32_t n;         /* in use */
    uint32_t free_head; /* first free entry below hw, or KEYTAB_NONE */
    uint32_t *slots;    /* index: entry number + 1, 0 empty */
    uint32_t nslots;
    uint64_t seed;
};

void scrape_keytab_init(struct scrape_keytab *t);
void scrape_keytab_free(struct scrape_keytab *t);
struct scrape_ckey scrape_keytab_key(const struct scrape_keytab *t, const char *raw, size_t len);
/* The entry with key k, or KEYTAB_NONE. */
uint32_t scrape_keytab_find(const struct scrape_keytab *t, struct scrape_ckey k);
/* A new entry for k (not in the table): zero but for key and used. */
uint32_t scrape_keytab_add(struct scrape_keytab *t, struct scrape_ckey k);
struct scrape_centry *scrape_keytab_at(const struct scrape_keytab *t, uint32_t i);
void scrape_keytab_remove(struct scrape_keytab *t, uint32_t i);
/* Between scrapes (nobody holds an entry's address): gives memory back
 * after many removals, which may renumber the entries; the n entry numbers
 * in refs are renumbered with them. */
void scrape_keytab_tidy(struct scrape_keytab *t, uint32_t *refs, size_t n);

struct scrape_cache *scrape_cache_new(void);
void scrape_cache_free(struct scrape_cache *c); /* NULL is a no-op */
size_t scrape_cache_size(const struct scrape_cache *c);

struct scrape_page_opts {
    const struct prom_scrape_config *cfg; /* honor_*, limits */
    const struct scrape_target *target;
    struct relabel_rules *metric_rules; /* may be NULL */
    bool store_st;                      /* samples carry their _created time as ST */
};

struct scrape_page_result {
    uint64_t samples_scraped; /* sample lines */
    uint64_t samples_post;    /* appended after metric relabeling */
    uint64_t series_added;    /* new to this target's cache */
    uint64_t stale_markers;
    char err[512]; /* set when the call returns -1 */
};

/* Appends the samples of a page (a new attempt of the cache) at t_ms, plus
 * stale markers for vanished series.  On -1 (parse error, a limit, an
 * invalid series) the caller rolls back and calls scrape_append_failed on a
 * fresh appender, as Prometheus does. */
int scrape_append_page(struct tsdb_appender *app, struct scrape_cache *c,
                       const struct scrape_page_opts *o, enum textparse_format fmt,
                       const char *body, size_t len, int64_t t_ms, struct scrape_page_result *r);
/* A failed scrape: stale markers for every series of the last good scrape. */
void scrape_append_failed(struct tsdb_appender *app, struct scrape_cache *c, int64_t t_ms,
                          struct scrape_page_result *r);
/* The five report series, with the target's labels. */
int scrape_append_report(struct tsdb_appender *app, struct scrape_cache *c,
                         const struct scrape_target *t, int64_t t_ms, bool up, double duration_s,
                         const struct scrape_page_result *r);
/* Stale markers for the report series (the target went away). */
void scrape_append_report_stale(struct tsdb_appender *app, struct scrape_cache *c, int64_t t_ms);
/* After the commit (ok) or rollback (!ok): ends the attempt, evicts series
 * gone for two scrapes. */
void scrape_cache_iter_done(struct scrape_cache *c, bool ok);

/* Labels a target puts on every series: those not starting with "__". */
void scrape_target_series_labels(const struct scrape_target *t, struct label_set *out);

/* ---- Metric metadata of a target (metadata.c) ---- */

struct scrape_meta_span {
    enum textparse_entry kind; /* HELP, TYPE or UNIT */
    struct textparse_str name, text;
    enum textparse_mtype type;
};

struct scrape_meta_entry {
    const char *name; /* metric family */
    const char *type; /* "counter", "gauge", ..., "unknown" (static) */
    const char *help; /* unescaped; "" when none */
    const char *unit;
};

struct scrape_metadata {
    struct scrape_meta_entry *v; /* sorted by name; owned, its strings in text */
    size_t n;
    char *text;    /* owned: the entries' strings, NUL-terminated, one after another */
    uint64_t hash; /* of the metadata lines v was built from */
    bool applied;
    /* The page being parsed: spans into its body, and their hash (scratch,
     * freed at scrape_metadata_end). */
    struct scrape_meta_span *spans;
    size_t nspans, capspans;
    uint64_t pending_hash;
};

void scrape_metadata_begin(struct scrape_metadata *md);
void scrape_metadata_note(struct scrape_metadata *md, struct textparse *p, enum textparse_entry en);
/* After a good page, while its body is still alive: rebuilds v if the
 * page's metadata differ from the last applied ones. */
void scrape_metadata_commit(struct scrape_metadata *md);
/* The page is done (committed or not): frees its spans. */
void scrape_metadata_end(struct scrape_metadata *md);
void scrape_metadata_free(struct scrape_metadata *md);
/* The target's metadata as of its last good scrape (borrowed). */
const struct scrape_metadata *scrape_cache_metadata(const struct scrape_cache *c);

#endif
