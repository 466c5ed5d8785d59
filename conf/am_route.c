/* am_route.c — the routing tree and inhibit rules of alertmanager.yml.
 *
 * A route is decoded in place into struct am_route: `match`, `match_re` and
 * `matchers` all append to the one matcher list (then sorted), and
 * ydec_map's seen[] flags record which options this route wrote.  The
 * checks of config.Route.UnmarshalYAML follow (group_by names, `...` alone,
 * no duplicates, group_interval / repeat_interval not zero).
 *
 * Inheritance is a second pass from the root down, with dispatch/route.go's
 * rules: receiver and timers are taken from the parent unless written; a
 * group_by that names labels replaces the parent's, while `[]` or `['...']`
 * keep the parent's labels (the latter switching to group-by-all), exactly
 * as NewRoute tests `cr.GroupBy != nil`.  Matchers, `continue` and time
 * intervals are never inherited.
 *
 * The config-level checks (root rules, receivers and time intervals named
 * by the tree) walk the YAML nodes beside the decoded routes so errors point
 * at the offending line; they visit children before parents, as
 * checkReceiver and checkTimeInterval do, so the first error reported is
 * the one Alertmanager reports. */
#include "conf/am_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"

#define AM_DEFAULT_GROUP_WAIT_MS      (30 * 1000LL)
#define AM_DEFAULT_GROUP_INTERVAL_MS  (5 * 60 * 1000LL)
#define AM_DEFAULT_REPEAT_INTERVAL_MS (4 * 3600 * 1000LL)

static int dec_routes(struct ydec *d, const struct ynode *n, void *out);

enum {
    F_RECEIVER,
    F_GROUP_BY,
    F_MATCH,
    F_MATCH_RE,
    F_MATCHERS,
    F_MUTE,
    F_ACTIVE,
    F_CONTINUE,
    F_ROUTES,
    F_GROUP_WAIT,
    F_GROUP_INTERVAL,
    F_REPEAT_INTERVAL,
    F_NFIELDS
};

static const struct yfield route_fields[] = {
    [F_RECEIVER] = YFIELD(struct am_route, receiver, ydec_string),
    [F_GROUP_BY] = YFIELD(struct am_route, group_by, am_dec_strlist),
    [F_MATCH] = YFIELD_NAMED("match", struct am_route, matchers, am_dec_match_map),
    [F_MATCH_RE] = YFIELD_NAMED("match_re", struct am_route, matchers, am_dec_match_re_map),
    [F_MATCHERS] = YFIELD(struct am_route, matchers, am_dec_matchers),
    [F_MUTE] = YFIELD(struct am_route, mute_time_intervals, am_dec_strlist),
    [F_ACTIVE] = YFIELD(struct am_route, active_time_intervals, am_dec_strlist),
    [F_CONTINUE] = YFIELD_NAMED("continue", struct am_route, continue_matching, ydec_bool),
    [F_ROUTES] = {"routes", dec_routes, 0}, /* gets the whole route */
    [F_GROUP_WAIT] = YFIELD_NAMED("group_wait", struct am_route, group_wait_ms, am_dec_duration),
    [F_GROUP_INTERVAL] =
        YFIELD_NAMED("group_interval", struct am_route, group_interval_ms, am_dec_duration),
    [F_REPEAT_INTERVAL] =
        YFIELD_NAMED("repeat_interval", struct am_route, repeat_interval_ms, am_dec_duration),
    [F_NFIELDS] = {NULL, NULL, 0},
};

/* group_by: valid names or `...` alone, no duplicates. */
static int route_check_group_by(struct ydec *d, const struct ynode *n, const struct am_route *r)
{
    const struct ynode *gb = ynode_get(n, "group_by");
    bool all = false, named = false;
    for (size_t i = 0; i < r->group_by.n; i++) {
        const char *l = r->group_by.v[i];
        size_t old = ydec_push_field(d, "group_by");
        ydec_push_index(d, i);
        if (strcmp(l, "...") == 0) {
            all = true;
        } else if (!am_label_name_valid(l)) {
            return ydec_fail(d, gb->items[i], "invalid label name \"%s\" in group_by list", l);
        } else {
            named = true;
            for (size_t j = 0; j < i; j++)
                if (strcmp(r->group_by.v[j], l) == 0)
                    return ydec_fail(d, gb->items[i], "duplicated label \"%s\" in group_by", l);
        }
        ydec_pop(d, old);
    }
    if (all && named)
        return am_fail_at(d, n, "group_by",
                          "cannot have wildcard group_by (`...`) and other other labels at the "
                          "same time");
    return 0;
}

static bool field_set(const struct ynode *n, const bool *seen, int f)
{
    return seen[f] && !am_field_null(n, route_fields[f].name);
}

static int route_decode(struct ydec *d, const struct ynode *n, struct am_route *r)
{
    bool seen[F_NFIELDS];
    if (n->kind == YNODE_NULL)
        return ydec_fail(d, n, "expected a route mapping, got null");
    if (ydec_map(d, n, route_fields, r, seen) < 0)
        return -1;
    r->receiver_set = r->receiver && *r->receiver;
    r->group_by_set = field_set(n, seen, F_GROUP_BY);
    r->group_wait_set = field_set(n, seen, F_GROUP_WAIT);
    r->group_interval_set = field_set(n, seen, F_GROUP_INTERVAL);
    r->repeat_interval_set = field_set(n, seen, F_REPEAT_INTERVAL);
    if (route_check_group_by(d, n, r) < 0)
        return -1;
    if (r->group_interval_set && r->group_interval_ms == 0)
        return am_fail_at(d, n, "group_interval", "group_interval cannot be zero");
    if (r->repeat_interval_set && r->repeat_interval_ms == 0)
        return am_fail_at(d, n, "repeat_interval", "repeat_interval cannot be zero");
    am_matchers_sort(&r->matchers);
    return 0;
}

static int dec_route_item(struct ydec *d, const struct ynode *n, void *out)
{
    return route_decode(d, n, out);
}

static int dec_routes(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_route *r = out;
    return ydec_seq(d, n, &r->routes, &r->nroutes, sizeof *r->routes, dec_route_item);
}

int am_dec_route(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_route **p = out;
    *p = xcalloc(1, sizeof **p);
    return route_decode(d, n, *p);
}

/* ---- inheritance ---- */

static void strlist_copy(struct ystrlist *dst, const struct ystrlist *src)
{
    ystrlist_free(dst);
    dst->v = xcalloc(src->n ? src->n : 1, sizeof *dst->v);
    for (size_t i = 0; i < src->n; i++)
        dst->v[dst->n++] = xstrdup(src->v[i]);
}

/* Effective group_by: own labels if any are named, else the parent's. */
static void route_inherit_group_by(struct am_route *r, const struct am_route *parent)
{
    struct ystrlist own = r->group_by, eff = {0};
    bool own_all = false;
    for (size_t i = 0; i < own.n; i++) {
        if (strcmp(own.v[i], "...") == 0)
            own_all = true;
        else {
            eff.v = xrealloc(eff.v, (eff.n + 1) * sizeof *eff.v);
            eff.v[eff.n++] = xstrdup(own.v[i]);
        }
    }
    ystrlist_free(&r->group_by);
    if (eff.n) {
        r->group_by = eff;
        r->group_by_all = false;
        return;
    }
    free(eff.v);
    if (parent)
        strlist_copy(&r->group_by, &parent->group_by);
    r->group_by_all = own_all || (parent && parent->group_by_all);
}

void am_route_inherit(struct am_route *r, const struct am_route *parent)
{
    if (!r->receiver_set) {
        free(r->receiver);
        r->receiver = parent && parent->receiver ? xstrdup(parent->receiver) : NULL;
    }
    route_inherit_group_by(r, parent);
    if (!r->group_wait_set)
        r->group_wait_ms = parent ? parent->group_wait_ms : AM_DEFAULT_GROUP_WAIT_MS;
    if (!r->group_interval_set)
        r->group_interval_ms = parent ? parent->group_interval_ms : AM_DEFAULT_GROUP_INTERVAL_MS;
    if (!r->repeat_interval_set)
        r->repeat_interval_ms = parent ? parent->repeat_interval_ms : AM_DEFAULT_REPEAT_INTERVAL_MS;
    for (size_t i = 0; i < r->nroutes; i++)
        am_route_inherit(&r->routes[i], r);
}

/* Releases what r holds (not r itself). */
static void route_clear(struct am_route *r)
{
    free(r->receiver);
    ystrlist_free(&r->group_by);
    am_matchers_free(&r->matchers);
    ystrlist_free(&r->mute_time_intervals);
    ystrlist_free(&r->active_time_intervals);
    for (size_t i = 0; i < r->nroutes; i++)
        route_clear(&r->routes[i]);
    free(r->routes);
}

void am_route_free(struct am_route *r)
{
    if (!r)
        return;
    route_clear(r);
    free(r);
}

/* ---- config-level checks ---- */

int am_route_check_root(struct ydec *d, const struct ynode *n, const struct am_route *r)
{
    if (!r->receiver_set)
        return ydec_fail(d, n, "root route must specify a default receiver");
    if (r->matchers.n) {
        const char *k = ynode_get(n, "matchers") ? "matchers"
                        : ynode_get(n, "match")  ? "match"
                                                 : "match_re";
        return am_fail_at(d, n, k, "root route must not have any matchers");
    }
    if (r->mute_time_intervals.n)
        return am_fail_at(d, n, "mute_time_intervals",
                          "root route must not have any mute time intervals");
    if (r->active_time_intervals.n)
        return am_fail_at(d, n, "active_time_intervals",
                          "root route must not have any active time intervals");
    return 0;
}

/* Calls check(child) for every child route, with the path set up. */
typedef int (*route_check_fn)(struct ydec *d, const struct ynode *n, const struct am_route *r,
                              const struct am_config *c);

static int route_check_children(struct ydec *d, const struct ynode *n, const struct am_route *r,
                                const struct am_config *c, route_check_fn check)
{
    const struct ynode *rs = ynode_get(n, "routes");
    for (size_t i = 0; i < r->nroutes; i++) {
        size_t old = ydec_push_field(d, "routes");
        ydec_push_index(d, i);
        if (check(d, rs->items[i], &r->routes[i], c) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

int am_route_check_receivers(struct ydec *d, const struct ynode *n, const struct am_route *r,
                             const struct am_config *c)
{
    if (route_check_children(d, n, r, c, am_route_check_receivers) < 0)
        return -1;
    if (r->receiver_set && !am_config_receiver(c, r->receiver))
        return am_fail_at(d, n, "receiver", "undefined receiver \"%s\" used in route", r->receiver);
    return 0;
}

static int route_check_interval_list(struct ydec *d, const struct ynode *n, const char *key,
                                     const struct ystrlist *l, const struct am_config *c)
{
    for (size_t i = 0; i < l->n; i++) {
        if (am_config_time_interval(c, l->v[i]))
            continue;
        size_t old = ydec_push_field(d, key);
        ydec_push_index(d, i);
        ydec_fail(d, ynode_get(n, key)->items[i], "undefined time interval \"%s\" used in route",
                  l->v[i]);
        ydec_pop(d, old);
        return -1;
    }
    return 0;
}

int am_route_check_intervals(struct ydec *d, const struct ynode *n, const struct am_route *r,
                             const struct am_config *c)
{
    if (route_check_children(d, n, r, c, am_route_check_intervals) < 0)
        return -1;
    if (route_check_interval_list(d, n, "active_time_intervals", &r->active_time_intervals, c) < 0)
        return -1;
    return route_check_interval_list(d, n, "mute_time_intervals", &r->mute_time_intervals, c);
}

/* ---- inhibit rules ---- */

/* `equal`: label names; a null item is the empty name, unchecked (go-yaml
 * does not call LabelName's unmarshaller for null). */
static int dec_equal(struct ydec *d, const struct ynode *n, void *out)
{
    if (am_dec_strlist(d, n, out) < 0)
        return -1;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        if (it->kind == YNODE_NULL || am_label_name_valid(it->s))
            continue;
        size_t old = ydec_push_index(d, i);
        ydec_fail(d, it, "\"%s\" is not a valid label name", it->s);
        ydec_pop(d, old);
        return -1;
    }
    return 0;
}

static const struct yfield inhibit_fields[] = {
    YFIELD_NAMED("source_match", struct am_inhibit_rule, source, am_dec_match_map),
    YFIELD_NAMED("source_match_re", struct am_inhibit_rule, source, am_dec_match_re_map),
    YFIELD_NAMED("source_matchers", struct am_inhibit_rule, source, am_dec_matchers),
    YFIELD_NAMED("target_match", struct am_inhibit_rule, target, am_dec_match_map),
    YFIELD_NAMED("target_match_re", struct am_inhibit_rule, target, am_dec_match_re_map),
    YFIELD_NAMED("target_matchers", struct am_inhibit_rule, target, am_dec_matchers),
    YFIELD_NAMED("equal", struct am_inhibit_rule, equal, dec_equal),
    {NULL, NULL, 0},
};

/* A null list item is a rule that inhibits nothing (amtool accepts it). */
static int dec_inhibit_rule(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_inhibit_rule *r = out;
    if (ydec_map(d, n, inhibit_fields, r, NULL) < 0)
        return -1;
    am_matchers_sort(&r->source);
    am_matchers_sort(&r->target);
    return 0;
}

int am_dec_inhibit_rules(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_config *c = out;
    return ydec_seq(d, n, &c->inhibit_rules, &c->ninhibit_rules, sizeof *c->inhibit_rules,
                    dec_inhibit_rule);
}

void am_inhibit_rule_free(struct am_inhibit_rule *r)
{
    am_matchers_free(&r->source);
    am_matchers_free(&r->target);
    ystrlist_free(&r->equal);
}
