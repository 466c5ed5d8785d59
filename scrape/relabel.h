/* relabel.h — scrape-internal: Prometheus relabeling on label sets.
 *
 * Used for a job's relabel_configs (targets), metric_relabel_configs (each
 * scraped series, on a cache miss only) and alerting's alert_relabel_configs.
 * The semantics are Prometheus 3's model/relabel: the rules run in order on
 * one mutable label set; keep/drop/keepequal/dropequal may drop the whole
 * set; replace/lowercase/uppercase/hashmod/labelmap/labeldrop/labelkeep
 * rewrite it.  Regexes are compiled once (PCRE2 + JIT, anchored as
 * ^(?s:re)$, `$` end-of-text only as in Go) with a match limit; `$1`,
 * `${1}`, `${name}` and `$$` in target_label / replacement expand as Go's
 * Regexp.Expand does.
 *
 * struct label_set is the mutable label set the rules work on: it owns its
 * strings, is always sorted by name, and never holds an empty value (setting
 * "" deletes), so label_set_view() is directly a `struct labels`.
 *
 * Threads: compiled rules carry their PCRE2 match data, so one `struct
 * relabel_rules` may be used by one thread at a time (the scrape loop's
 * thread); compile another copy for another thread. */
#ifndef VIGIL_SCRAPE_RELABEL_H
#define VIGIL_SCRAPE_RELABEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/config.h"
#include "storage/labels.h"
#include "util/sbuf.h"

/* ---- Mutable label sets ---- */

struct label_set {
    struct label *v; /* owned name and value strings; sorted; values non-empty */
    size_t n, cap;
};

#define LABEL_SET_INIT                                                                             \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

void label_set_free(struct label_set *s); /* leaves an empty, reusable set */
void label_set_clear(struct label_set *s);
/* The value of name, or "" if absent (a borrowed pointer, valid until the
 * set changes). */
const char *label_set_get(const struct label_set *s, const char *name);
/* Sets name to value (copied); an empty value deletes the label. */
void label_set_set(struct label_set *s, const char *name, const char *value);
void label_set_setn(struct label_set *s, const char *name, const char *value, size_t vlen);
void label_set_del(struct label_set *s, const char *name);
void label_set_copy(struct label_set *dst, const struct label_set *src);
/* A borrowed view, valid until the set changes. */
struct labels label_set_view(const struct label_set *s);
/* Canonical text for logs and tests: {a="1", b="2"} (values Go-quoted). */
void label_set_format(const struct label_set *s, struct sbuf *out);

/* ---- Rules ---- */

struct relabel_rules;

/* Regex match steps allowed per match (PCRE2 match limit); a regex that
 * exceeds it counts as not matching, and relabel_rules_limit_hits counts it. */
#define RELABEL_MATCH_LIMIT 1000000u

/* Compiles a loaded list (copied: the config may be freed afterwards).
 * `names` is the job's name validation scheme (target labels produced by a
 * replace are checked against it, as Prometheus does).  Returns 0 and *out
 * (free with relabel_rules_free), or -1 with a message in err naming the
 * rule ("relabel_configs[2]: regex \"(\": missing closing parenthesis"). */
int relabel_rules_compile(const struct prom_relabel_list *list, enum prom_name_validation names,
                          struct relabel_rules **out, char *err, size_t errsize);
void relabel_rules_free(struct relabel_rules *r);          /* NULL is a no-op */
size_t relabel_rules_count(const struct relabel_rules *r); /* 0 for NULL */
uint64_t relabel_rules_limit_hits(const struct relabel_rules *r);

/* Runs the rules on s in order.  Returns true if the set is kept (s holds the
 * result), false if a rule dropped it (s is then unspecified).  NULL or empty
 * rules keep s unchanged. */
bool relabel_apply(struct relabel_rules *r, struct label_set *s);

/* md5 of data (RFC 1321); used by hashmod.  Exposed for tests. */
void relabel_md5(const void *data, size_t len, uint8_t digest[16]);

#endif
