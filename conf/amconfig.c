/* amconfig.c — loading alertmanager.yml: the top level, `global:`, and the
 * checks Alertmanager runs on the config as a whole.
 *
 * Loading is three passes over one YAML tree (conf/yaml_tree.h):
 *  1. decode: every section into the typed structs of amconfig.h, with the
 *     per-type rules of Alertmanager's UnmarshalYAML methods (am_route.c,
 *     am_receiver.c, am_notifier.c, am_timeinterval.c, http_client.c);
 *  2. validate: Config.UnmarshalYAML's whole-file rules in its order —
 *     global "at most one of" pairs, receiver names unique and their global
 *     defaults, root route rules, receivers and time intervals named by the
 *     tree defined, time interval names unique, no `continue` on the root;
 *  3. resolve: route inheritance and relative paths.
 * The tree stays alive through pass 2 so that every error can point at the
 * offending line (amtool's messages have no position; ours add it and the
 * field path, and otherwise keep amtool's wording).
 *
 * Errors stop the load at the first one: the result is all or nothing. */
#include "conf/amconfig.h"

#include <stdlib.h>
#include <string.h>

#include "conf/am_internal.h"
#include "util/sbuf.h"

/* ---- global ---- */

static const struct yfield global_fields[] = {
    YFIELD_NAMED("resolve_timeout", struct am_global_config, resolve_timeout_ms, am_dec_duration),
    YFIELD(struct am_global_config, http_config, am_dec_http_config),
    YFIELD(struct am_global_config, smtp_from, ydec_string),
    YFIELD(struct am_global_config, smtp_hello, ydec_string),
    YFIELD(struct am_global_config, smtp_smarthost, am_dec_hostport),
    YFIELD(struct am_global_config, smtp_auth_username, ydec_string),
    YFIELD(struct am_global_config, smtp_auth_password, ydec_string),
    YFIELD(struct am_global_config, smtp_auth_password_file, ydec_string),
    YFIELD(struct am_global_config, smtp_auth_secret, ydec_string),
    YFIELD(struct am_global_config, smtp_auth_identity, ydec_string),
    YFIELD(struct am_global_config, smtp_require_tls, ydec_bool),
    YFIELD(struct am_global_config, slack_api_url, am_dec_secret_url),
    YFIELD(struct am_global_config, slack_api_url_file, ydec_string),
    YFIELD(struct am_global_config, pagerduty_url, am_dec_url),
    YFIELD(struct am_global_config, opsgenie_api_url, am_dec_url),
    YFIELD(struct am_global_config, opsgenie_api_key, ydec_string),
    YFIELD(struct am_global_config, opsgenie_api_key_file, ydec_string),
    YFIELD(struct am_global_config, wechat_api_url, am_dec_url),
    YFIELD(struct am_global_config, wechat_api_secret, ydec_string),
    YFIELD(struct am_global_config, wechat_api_corp_id, ydec_string),
    YFIELD(struct am_global_config, victorops_api_url, am_dec_url),
    YFIELD(struct am_global_config, victorops_api_key, ydec_string),
    YFIELD(struct am_global_config, victorops_api_key_file, ydec_string),
    YFIELD(struct am_global_config, telegram_api_url, am_dec_url),
    YFIELD(struct am_global_config, webex_api_url, am_dec_url),
    {NULL, NULL, 0},
};

/* DefaultGlobalConfig(). */
static void global_defaults(struct am_global_config *g)
{
    g->resolve_timeout_ms = 5 * 60 * 1000;
    g->http_config = am_http_config_new_default();
    g->smtp_hello = xstrdup("localhost");
    g->smtp_require_tls = true;
    g->pagerduty_url = xstrdup("https://events.pagerduty.com/v2/enqueue");
    g->opsgenie_api_url = xstrdup("https://api.opsgenie.com/");
    g->wechat_api_url = xstrdup("https://qyapi.weixin.qq.com/cgi-bin/");
    g->victorops_api_url =
        xstrdup("https://alert.victorops.com/integrations/generic/20131114/alert/");
    g->telegram_api_url = xstrdup("https://api.telegram.org");
    g->webex_api_url = xstrdup("https://webexapis.com/v1/messages");
}

/* An explicit null zeroes a field in go-yaml: URLs become unset, the
 * timeout 0, require_tls false.  (http_config keeps the default client.) */
static void global_nulls(const struct ynode *n, struct am_global_config *g)
{
    for (const struct yfield *f = global_fields; f->name; f++) {
        if (f->decode != am_dec_url && f->decode != am_dec_secret_url)
            continue;
        if (am_field_null(n, f->name)) {
            char **p = (char **)((char *)g + f->offset);
            free(*p);
            *p = NULL;
        }
    }
    if (am_field_null(n, "resolve_timeout"))
        g->resolve_timeout_ms = 0;
    if (am_field_null(n, "smtp_require_tls"))
        g->smtp_require_tls = false;
}

static int dec_global(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_global_config *g = out;
    if (ydec_map(d, n, global_fields, g, NULL) < 0)
        return -1;
    global_nulls(n, g);
    return 0;
}

static void global_free(struct am_global_config *g)
{
    am_http_config_free(g->http_config);
    char **strs[] = {&g->smtp_from,
                     &g->smtp_hello,
                     &g->smtp_smarthost.host,
                     &g->smtp_smarthost.port,
                     &g->smtp_auth_username,
                     &g->smtp_auth_password,
                     &g->smtp_auth_password_file,
                     &g->smtp_auth_secret,
                     &g->smtp_auth_identity,
                     &g->slack_api_url,
                     &g->slack_api_url_file,
                     &g->pagerduty_url,
                     &g->opsgenie_api_url,
                     &g->opsgenie_api_key,
                     &g->opsgenie_api_key_file,
                     &g->wechat_api_url,
                     &g->wechat_api_secret,
                     &g->wechat_api_corp_id,
                     &g->victorops_api_url,
                     &g->victorops_api_key,
                     &g->victorops_api_key_file,
                     &g->telegram_api_url,
                     &g->webex_api_url};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
}

/* The "at most one of" pairs Config.UnmarshalYAML checks on global. */
static int global_check(struct ydec *d, const struct ynode *n, const struct am_global_config *g)
{
    static const struct {
        const char *a, *b;
    } pairs[] = {
        {"slack_api_url", "slack_api_url_file"},
        {"opsgenie_api_key", "opsgenie_api_key_file"},
        {"victorops_api_key", "victorops_api_key_file"},
        {"smtp_auth_password", "smtp_auth_password_file"},
    };
    const char *vals[][2] = {
        {g->slack_api_url, g->slack_api_url_file},
        {g->opsgenie_api_key, g->opsgenie_api_key_file},
        {g->victorops_api_key, g->victorops_api_key_file},
        {g->smtp_auth_password, g->smtp_auth_password_file},
    };
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) {
        if (!am_str_set(vals[i][0]) || !am_str_set(vals[i][1]))
            continue;
        size_t old = ydec_push_field(d, "global");
        am_fail_at(d, n, pairs[i].b, "at most one of %s & %s must be configured", pairs[i].a,
                   pairs[i].b);
        ydec_pop(d, old);
        return -1;
    }
    return 0;
}

/* ---- top level ---- */

static const struct yfield config_fields[] = {
    YFIELD_NAMED("global", struct am_config, global, dec_global),
    YFIELD_NAMED("route", struct am_config, route, am_dec_route),
    {"inhibit_rules", am_dec_inhibit_rules, 0},
    {"receivers", am_dec_receivers, 0},
    YFIELD(struct am_config, templates, am_dec_strlist),
    {"mute_time_intervals", am_dec_mute_time_intervals, 0},
    {"time_intervals", am_dec_time_intervals, 0},
    {NULL, NULL, 0},
};

static int check_receivers(struct ydec *d, const struct ynode *root, struct am_config *c)
{
    const struct ynode *rs = ynode_get(root, "receivers");
    for (size_t i = 0; i < c->nreceivers; i++) {
        struct am_receiver *r = &c->receivers[i];
        size_t old = ydec_push_field(d, "receivers");
        ydec_push_index(d, i);
        for (size_t j = 0; j < i; j++)
            if (strcmp(c->receivers[j].name, r->name) == 0)
                return am_fail_at(d, rs->items[i], "name",
                                  "notification config name \"%s\" is not unique", r->name);
        if (am_receiver_apply_global(d, rs->items[i], r, &c->global) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

/* True if ti's name was already used by an interval checked before it:
 * Alertmanager checks the deprecated section first, each in file order. */
static bool interval_name_taken(const struct am_config *c, size_t at)
{
    const struct am_time_interval *ti = &c->time_intervals[at];
    for (size_t j = 0; j < c->ntime_intervals; j++) {
        const struct am_time_interval *o = &c->time_intervals[j];
        bool before =
            o->deprecated_section == ti->deprecated_section ? j < at : o->deprecated_section;
        if (before && strcmp(o->name, ti->name) == 0)
            return true;
    }
    return false;
}

static int check_interval_section(struct ydec *d, const struct ynode *root,
                                  const struct am_config *c, bool deprecated)
{
    const char *section = deprecated ? "mute_time_intervals" : "time_intervals";
    size_t idx = 0;
    for (size_t i = 0; i < c->ntime_intervals; i++) {
        const struct am_time_interval *ti = &c->time_intervals[i];
        if (ti->deprecated_section != deprecated)
            continue;
        if (interval_name_taken(c, i)) {
            ydec_push_field(d, section);
            ydec_push_index(d, idx);
            return am_fail_at(d, ynode_get(root, section)->items[idx], "name",
                              "%stime interval \"%s\" is not unique", deprecated ? "mute " : "",
                              ti->name);
        }
        idx++;
    }
    return 0;
}

static int config_validate(struct ydec *d, const struct ynode *root, struct am_config *c)
{
    if (global_check(d, ynode_get(root, "global"), &c->global) < 0)
        return -1;
    if (check_receivers(d, root, c) < 0)
        return -1;
    if (!c->route)
        return ydec_fail(d, root, "no route provided in config");
    const struct ynode *rn = ynode_get(root, "route");
    size_t old = ydec_push_field(d, "route");
    if (am_route_check_root(d, rn, c->route) < 0 ||
        am_route_check_receivers(d, rn, c->route, c) < 0)
        return -1;
    ydec_pop(d, old);
    if (check_interval_section(d, root, c, true) < 0 ||
        check_interval_section(d, root, c, false) < 0)
        return -1;
    old = ydec_push_field(d, "route");
    if (am_route_check_intervals(d, rn, c->route, c) < 0)
        return -1;
    if (c->route->continue_matching)
        return am_fail_at(d, rn, "continue", "cannot have continue in root route");
    ydec_pop(d, old);
    return 0;
}

/* Decodes and validates a parsed tree; the tree stays the caller's. */
static int config_decode(const struct ytree *t, const char *name, const char *dir,
                         struct am_config **out, struct conf_error *err)
{
    struct am_dec dec = {.dir = dir};
    ydec_init(&dec.yd, name, err);
    struct am_config *c = xcalloc(1, sizeof *c);
    global_defaults(&c->global);
    int rc = ydec_map(&dec.yd, t->root, config_fields, c, NULL);
    if (rc == 0)
        rc = config_validate(&dec.yd, t->root, c);
    if (rc < 0) {
        am_config_free(c);
        return -1;
    }
    am_route_inherit(c->route, NULL);
    for (size_t i = 0; i < c->templates.n; i++)
        am_path_resolve(&dec.yd, &c->templates.v[i]);
    *out = c;
    return 0;
}

int am_config_load_string(const char *name, const char *yaml, size_t len, struct am_config **out,
                          struct conf_error *err)
{
    struct ytree t;
    *out = NULL;
    if (ytree_load_string(&t, name, yaml, len, err) < 0)
        return -1;
    int rc = config_decode(&t, name, NULL, out, err);
    ytree_free(&t);
    return rc;
}

int am_config_load_file(const char *path, struct am_config **out, struct conf_error *err)
{
    struct ytree t;
    *out = NULL;
    if (ytree_load_file(&t, path, err) < 0)
        return -1;
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
    int rc = config_decode(&t, path, dir, out, err);
    free(dir);
    ytree_free(&t);
    return rc;
}

void am_config_free(struct am_config *c)
{
    if (!c)
        return;
    global_free(&c->global);
    am_route_free(c->route);
    for (size_t i = 0; i < c->ninhibit_rules; i++)
        am_inhibit_rule_free(&c->inhibit_rules[i]);
    free(c->inhibit_rules);
    for (size_t i = 0; i < c->nreceivers; i++)
        am_receiver_free(&c->receivers[i]);
    free(c->receivers);
    ystrlist_free(&c->templates);
    for (size_t i = 0; i < c->ntime_intervals; i++)
        am_time_interval_free(&c->time_intervals[i]);
    free(c->time_intervals);
    free(c);
}

const struct am_receiver *am_config_receiver(const struct am_config *c, const char *name)
{
    for (size_t i = 0; i < c->nreceivers; i++)
        if (c->receivers[i].name && strcmp(c->receivers[i].name, name) == 0)
            return &c->receivers[i];
    return NULL;
}

const struct am_time_interval *am_config_time_interval(const struct am_config *c, const char *name)
{
    for (size_t i = 0; i < c->ntime_intervals; i++)
        if (c->time_intervals[i].name && strcmp(c->time_intervals[i].name, name) == 0)
            return &c->time_intervals[i];
    return NULL;
}

void am_config_summarize(const struct am_config *c, struct am_config_summary *out)
{
    out->receivers = c->nreceivers;
    out->inhibit_rules = c->ninhibit_rules;
    out->templates = c->templates.n;
    out->time_intervals = c->ntime_intervals;
    out->has_global = true;
    out->has_route = c->route != NULL;
}
