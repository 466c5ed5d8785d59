/* am_internal.h — conf-internal: what the alertmanager.yml loader's files
 * share (amconfig.c, am_route.c, am_matcher.c, am_timeinterval.c,
 * am_receiver.c, am_notifier.c, am_util.c, and http_client.c's
 * Alertmanager dialect).  Nothing outside conf/ includes this.
 *
 * Decoders have ydec's signature (struct ydec *, node, out) so they fit in
 * yfield tables.  The one piece of extra context, the directory relative
 * file paths are joined to, travels in a `struct am_dec` whose first member
 * is the `struct ydec`; am_dec_of(d) recovers it.
 *
 * Go-isms the loader must reproduce live here too: go-yaml's null handling
 * (a null value zeroes a field instead of keeping its default), Go's
 * url.Parse and net.SplitHostPort checks, time.ParseDuration. */
#ifndef VIGIL_CONF_AM_INTERNAL_H
#define VIGIL_CONF_AM_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/amconfig.h"
#include "conf/yaml_tree.h"

struct am_dec {
    struct ydec yd;  /* first: decoders get &yd */
    const char *dir; /* relative paths are joined to this; NULL: left alone */
};

static inline struct am_dec *am_dec_of(struct ydec *d)
{
    return (struct am_dec *)d;
}

/* True for a non-empty string: Go's `s != ""` on a field that may be NULL. */
static inline bool am_str_set(const char *s)
{
    return s && *s;
}

/* ---- am_util.c ---- */

/* Fails at the value of `field` in map (the field appended to the path) if
 * present, else at the map itself.  Returns -1. */
int am_fail_at(struct ydec *d, const struct ynode *map, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* True if map has `key` with an explicit null value: go-yaml then sets the
 * field to its zero value, whatever the default was. */
bool am_field_null(const struct ynode *map, const char *key);
/* True if s is a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*). */
bool am_label_name_valid(const char *s);
/* Go's filepath.Join(dir, p) for relative p; a copy of p otherwise. */
char *am_path_join(const char *dir, const char *p);
void am_path_resolve(const struct ydec *d, char **p);

/* Decoders for tables. */
int am_dec_strlist(struct ydec *d, const struct ynode *n, void *out);  /* ystrlist; null items "" */
int am_dec_int(struct ydec *d, const struct ynode *n, void *out);      /* int64; floats truncated */
int am_dec_uint(struct ydec *d, const struct ynode *n, void *out);     /* uint64, likewise */
int am_dec_duration(struct ydec *d, const struct ynode *n, void *out); /* int64 ms, model */
int am_dec_go_duration(struct ydec *d, const struct ynode *n, void *out); /* int64 ns, time */
int am_dec_url(struct ydec *d, const struct ynode *n, void *out);         /* char *, http(s) */
int am_dec_secret_url(struct ydec *d, const struct ynode *n, void *out);  /* also "<secret>" */
int am_dec_hostport(struct ydec *d, const struct ynode *n, void *out);    /* am_hostport */
int am_dec_path(struct ydec *d, const struct ynode *n, void *out);        /* char *, resolved */

/* Go url.Parse's checks: NULL if s parses, else the message (in buf). */
const char *am_url_parse_problem(const char *s, char *buf, size_t n);
/* Alertmanager's config.URL checks (parse, http/https scheme, host). */
const char *am_url_problem(const char *s, char *buf, size_t n);
/* Go time.ParseDuration; 0 or -1 with the message in buf. */
int am_go_duration_parse(const char *s, int64_t *ns, char *buf, size_t n);
/* Go net.SplitHostPort plus Alertmanager's empty-port rule. */
int am_hostport_split(const char *s, char **host, char **port, char *buf, size_t n);

/* ---- http_client.c (the Alertmanager 0.25 dialect) ---- */

/* `http_config`: decodes, validates as common 0.39 does and joins file
 * paths to the config's directory; *out is replaced even on failure. */
int am_dec_http_config(struct ydec *d, const struct ynode *n, void *out); /* prom_http_client ** */
/* An email `tls_config`: decoded only, paths left as written. */
int am_dec_tls_config(struct ydec *d, const struct ynode *n, void *out); /* prom_tls_config * */
struct prom_http_client *am_http_config_new_default(void);
void am_http_config_free(struct prom_http_client *h);
void am_tls_config_free(struct prom_tls_config *t);

/* ---- am_matcher.c ---- */

/* `matchers:` — a list of matcher strings, appended to the am_matchers. */
int am_dec_matchers(struct ydec *d, const struct ynode *n, void *out);
/* `match:` / `match_re:` — label name to value / regex, appended. */
int am_dec_match_map(struct ydec *d, const struct ynode *n, void *out);
int am_dec_match_re_map(struct ydec *d, const struct ynode *n, void *out);
/* Alertmanager's order: name, value, then operator. */
void am_matchers_sort(struct am_matchers *ms);
/* Compiles "^(?:re)$" with Go RE2 syntax rules; 0 or -1, message in buf. */
int am_regex_compile(const char *re, struct pcre2_real_code_8 **out, char *buf, size_t n);

/* ---- am_route.c ---- */

int am_dec_route(struct ydec *d, const struct ynode *n, void *out); /* struct am_route ** */
/* Fills the effective (inherited) options of the tree from root down. */
void am_route_inherit(struct am_route *r, const struct am_route *parent);
void am_route_free(struct am_route *r);
int am_dec_inhibit_rules(struct ydec *d, const struct ynode *n, void *out); /* am_config * */
void am_inhibit_rule_free(struct am_inhibit_rule *r);
/* Config-level checks on the tree: receivers and time intervals named. */
int am_route_check_root(struct ydec *d, const struct ynode *n, const struct am_route *r);
int am_route_check_receivers(struct ydec *d, const struct ynode *n, const struct am_route *r,
                             const struct am_config *c);
int am_route_check_intervals(struct ydec *d, const struct ynode *n, const struct am_route *r,
                             const struct am_config *c);

/* ---- am_timeinterval.c ---- */

/* `mute_time_intervals:` / `time_intervals:` lists, appended to the
 * config's time_intervals. */
int am_dec_mute_time_intervals(struct ydec *d, const struct ynode *n, void *out);
int am_dec_time_intervals(struct ydec *d, const struct ynode *n, void *out);
void am_time_interval_free(struct am_time_interval *ti);

/* ---- am_receiver.c ---- */

int am_dec_receivers(struct ydec *d, const struct ynode *n, void *out); /* struct am_config * */
void am_receiver_free(struct am_receiver *r);
/* Fills defaults from the global section and runs the checks Alertmanager
 * runs on the whole config; n is the receiver's node. */
int am_receiver_apply_global(struct ydec *d, const struct ynode *n, struct am_receiver *r,
                             const struct am_global_config *g);

/* ---- am_notifier.c ---- */

/* The `<kind>_configs:` key of a generic notifier, or NULL if key is none. */
bool am_notifier_kind_of(const char *key, enum am_notifier_kind *kind);
/* Decodes a `<kind>_configs` list into the receiver's `other` array. */
int am_dec_notifiers(struct ydec *d, const struct ynode *n, enum am_notifier_kind kind,
                     struct am_receiver *r);
int am_notifier_apply_global(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc,
                             const struct am_global_config *g);
void am_notifier_free(struct am_notifier_config *nc);
/* Sets (replacing) a flattened field. */
void am_notifier_set(struct am_notifier_config *nc, const char *key, const char *value);

#endif
