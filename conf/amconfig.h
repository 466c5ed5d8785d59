/* amconfig.h — alertmanager.yml, loaded unchanged, as typed structs.
 *
 * Vigil reads the file a user already has for Alertmanager and must accept
 * exactly what Alertmanager 0.25 accepts (`amtool check-config` is the
 * oracle), with the same defaults.  Three fields added after 0.25 are
 * accepted on top, because users of newer releases write them: webhook
 * `url_file` and `timeout`, and `msteams_configs`.
 *
 * What the loader resolves, so that routing and notification code need not:
 *  - every route carries its *effective* options: receiver, group_by and the
 *    three timers inherited from the parent (root from the defaults 30s / 5m
 *    / 4h), as dispatch/route.go computes them;
 *  - `match`, `match_re` and `matchers` are merged into one sorted matcher
 *    list per route or inhibit side (name, then value, then operator, as
 *    Alertmanager sorts them), regexes compiled anchored ^(?:re)$;
 *  - notifier configs without http_config point at the global one; email,
 *    Slack, PagerDuty, OpsGenie, WeChat, VictorOps, Telegram and Webex
 *    configs get their global defaults filled in;
 *  - relative template paths and http_config file paths are joined to the
 *    config file's directory (only by am_config_load_file).
 *
 * Ownership: am_config_load_* returns one heap tree owned by the caller and
 * released by am_config_free; every pointer inside belongs to it, except the
 * `http_config` pointers of notifier configs, which borrow either their own
 * `http_config_own` or `global.http_config`.  A loaded config is immutable,
 * so any thread may read it; matching (am_matcher_matches) is thread-safe. */
#ifndef VIGIL_CONF_AMCONFIG_H
#define VIGIL_CONF_AMCONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf/conf_error.h"
#include "conf/http_client.h" /* struct prom_http_client, prom_tls_config */
#include "conf/yaml_tree.h"   /* struct ystrlist, struct ystrmap */

struct pcre2_real_code_8; /* pcre2_code from <pcre2.h> (8-bit) */

/* ---- matchers ---- */

/* In Alertmanager's sort order: =, !=, =~, !~. */
enum am_match_op { AM_MATCH_EQ, AM_MATCH_NE, AM_MATCH_RE, AM_MATCH_NRE };

struct am_matcher {
    char *name;
    enum am_match_op op;
    /* The value as Alertmanager holds it: for `matchers:` strings the
     * unquoted, unescaped text; for `match_re:` entries the regex already
     * anchored, "^(?:re)$" (that is what appears in group keys). */
    char *value;
    struct pcre2_real_code_8 *re; /* RE/NRE: compiled "^(?:value)$"; else NULL */
};

struct am_matchers {
    struct am_matcher *v;
    size_t n;
};

/* True if the label value (use "" for a missing label) satisfies m. */
bool am_matcher_matches(const struct am_matcher *m, const char *value);

/* Parses one string in Alertmanager's matcher syntax (`a="b"`, `a!~b.*`,
 * `{a="b", c!="d"}`, ...) and appends the matchers to out, unsorted.
 * Returns 0, or -1 with the reason in err (Alertmanager's wording). */
int am_matchers_parse(const char *s, struct am_matchers *out, char *err, size_t errlen);
void am_matchers_free(struct am_matchers *ms);

/* ---- HTTP client settings ----
 *
 * http_config and tls_config are conf/http_client.h's structs, decoded in
 * the Alertmanager 0.25 dialect (prometheus/common 0.39's field set). */

/* ---- global ---- */

/* "host:port" as Go's net.SplitHostPort splits it; both NULL if unset. */
struct am_hostport {
    char *host, *port;
};

struct am_global_config {
    int64_t resolve_timeout_ms;           /* default 5m */
    struct prom_http_client *http_config; /* never NULL after loading */
    char *smtp_from, *smtp_hello;         /* hello default "localhost" */
    struct am_hostport smtp_smarthost;
    char *smtp_auth_username, *smtp_auth_password, *smtp_auth_password_file;
    char *smtp_auth_secret, *smtp_auth_identity;
    bool smtp_require_tls; /* default true */
    char *slack_api_url, *slack_api_url_file;
    char *pagerduty_url, *opsgenie_api_url, *opsgenie_api_key, *opsgenie_api_key_file;
    char *wechat_api_url, *wechat_api_secret, *wechat_api_corp_id;
    char *victorops_api_url, *victorops_api_key, *victorops_api_key_file;
    char *telegram_api_url, *webex_api_url;
};

/* ---- routing tree ---- */

struct am_route {
    /* Effective values (inherited when not written on this route). */
    char *receiver;
    struct ystrlist group_by; /* label names, as written where last set */
    bool group_by_all;        /* `...` */
    int64_t group_wait_ms, group_interval_ms, repeat_interval_ms;
    /* What this route itself wrote. */
    bool receiver_set, group_by_set, group_wait_set, group_interval_set, repeat_interval_set;
    /* Not inherited. */
    struct am_matchers matchers; /* match + match_re + matchers, sorted */
    bool continue_matching;      /* `continue` */
    struct ystrlist mute_time_intervals, active_time_intervals;
    struct am_route *routes;
    size_t nroutes;
};

struct am_inhibit_rule {
    struct am_matchers source, target; /* each sorted, like route matchers */
    struct ystrlist equal;
};

/* ---- receivers ---- */

struct am_webhook_config {
    bool send_resolved; /* default true */
    struct prom_http_client *http_config_own;
    const struct prom_http_client *http_config; /* own or the global one */
    char *url, *url_file;                       /* exactly one is set */
    uint64_t max_alerts;                        /* 0: no limit */
    int64_t timeout_ns;                         /* 0: none (post-0.25 field) */
};

struct am_email_config {
    bool send_resolved; /* default false */
    char *to, *from, *hello;
    struct am_hostport smarthost; /* effective: global smtp_smarthost unless written */
    char *auth_username, *auth_password, *auth_password_file, *auth_secret, *auth_identity;
    struct ystrmap headers; /* names canonicalised ("Subject", "X-Team") */
    char *html, *text;      /* html defaults to the email.default.html template */
    bool require_tls;       /* effective (global smtp_require_tls unless written) */
    bool require_tls_set;   /* written in this email config */
    struct prom_tls_config tls_config;
};

struct am_slack_field {
    char *title, *value;
    bool short_set, short_value;
};

struct am_slack_confirm {
    char *text, *title, *ok_text, *dismiss_text;
};

struct am_slack_action {
    char *type, *text, *url, *style, *name, *value;
    struct am_slack_confirm *confirm; /* NULL if absent (or cleared: url set) */
};

struct am_slack_config {
    bool send_resolved; /* default false */
    struct prom_http_client *http_config_own;
    const struct prom_http_client *http_config;
    char *api_url, *api_url_file; /* one of them, or from global */
    char *channel, *username, *color, *title, *title_link, *pretext, *text;
    struct am_slack_field *fields;
    size_t nfields;
    bool short_fields, link_names;
    char *footer, *fallback, *callback_id, *icon_emoji, *icon_url, *image_url, *thumb_url;
    struct ystrlist mrkdwn_in;
    struct am_slack_action *actions;
    size_t nactions;
};

struct am_pagerduty_image {
    char *src, *alt, *href;
};

struct am_pagerduty_link {
    char *href, *text;
};

struct am_pagerduty_config {
    bool send_resolved; /* default true */
    struct prom_http_client *http_config_own;
    const struct prom_http_client *http_config;
    char *service_key, *service_key_file, *routing_key, *routing_key_file;
    char *url; /* effective: global pagerduty_url unless written */
    char *client, *client_url, *description;
    struct ystrmap details; /* with firing/resolved/num_* defaults added */
    struct am_pagerduty_image *images;
    size_t nimages;
    struct am_pagerduty_link *links;
    size_t nlinks;
    char *source; /* defaults to client */
    char *severity, *class_, *component, *group;
};

/* The integrations Vigil does not model field by field (yet). */
enum am_notifier_kind {
    AM_NOTIFIER_OPSGENIE,
    AM_NOTIFIER_PUSHOVER,
    AM_NOTIFIER_VICTOROPS,
    AM_NOTIFIER_WECHAT,
    AM_NOTIFIER_TELEGRAM,
    AM_NOTIFIER_SNS,
    AM_NOTIFIER_WEBEX,
    AM_NOTIFIER_MSTEAMS,
    AM_NOTIFIER_DISCORD,
};

/* One field of a generic notifier, flattened: nested values get dotted and
 * indexed keys ("details.team", "responders[0].type", "sigv4.region").
 * Values are the scalar text; defaults filled by the loader are included. */
struct am_kv {
    char *key, *value;
};

struct am_notifier_config {
    enum am_notifier_kind kind;
    bool send_resolved; /* with the integration's default */
    struct prom_http_client *http_config_own;
    const struct prom_http_client *http_config;
    struct am_kv *fields; /* sorted by key */
    size_t nfields;
};

/* The value of a flattened field, or NULL. */
const char *am_notifier_get(const struct am_notifier_config *n, const char *key);
/* "opsgenie", "pushover", ... as in `<name>_configs`. */
const char *am_notifier_kind_name(enum am_notifier_kind k);

struct am_receiver {
    char *name;
    struct am_webhook_config *webhook;
    size_t nwebhook;
    struct am_email_config *email;
    size_t nemail;
    struct am_slack_config *slack;
    size_t nslack;
    struct am_pagerduty_config *pagerduty;
    size_t npagerduty;
    struct am_notifier_config *other; /* all other kinds, in file order */
    size_t nother;
};

/* ---- time intervals ---- */

struct am_range {
    int begin, end; /* inclusive */
};

struct am_time_range {
    int start_minute, end_minute; /* minutes of the day, end exclusive, <= 1440 */
};

/* Which fields of an interval entry were written (an empty list written as
 * `[]` is present and matches nothing, as in Alertmanager). */
enum {
    AM_TI_TIMES = 1 << 0,
    AM_TI_WEEKDAYS = 1 << 1,
    AM_TI_DAYS_OF_MONTH = 1 << 2,
    AM_TI_MONTHS = 1 << 3,
    AM_TI_YEARS = 1 << 4,
};

struct am_time_interval_spec {
    unsigned present; /* AM_TI_* bits */
    struct am_time_range *times;
    size_t ntimes;
    struct am_range *weekdays; /* 0 = sunday .. 6 = saturday */
    size_t nweekdays;
    struct am_range *days_of_month; /* 1..31, or -31..-1 from the month's end */
    size_t ndays_of_month;
    struct am_range *months; /* 1 = january */
    size_t nmonths;
    struct am_range *years;
    size_t nyears;
    char *location; /* IANA name, "Local" or "UTC"; NULL: UTC */
};

struct am_time_interval {
    char *name;
    bool deprecated_section;             /* from `mute_time_intervals:` */
    struct am_time_interval_spec *specs; /* the interval is active if any spec matches */
    size_t nspecs;
};

/* ---- the whole file ---- */

struct am_config {
    struct am_global_config global;
    struct am_route *route; /* never NULL after loading */
    struct am_inhibit_rule *inhibit_rules;
    size_t ninhibit_rules;
    struct am_receiver *receivers;
    size_t nreceivers;
    struct ystrlist templates;
    /* Both sections, in file order (deprecated_section tells which). */
    struct am_time_interval *time_intervals;
    size_t ntime_intervals;
};

/* Loads and validates; on success *out owns a new config.  On failure
 * returns -1, *out is NULL and err says "file:line:col: path: reason". */
int am_config_load_file(const char *path, struct am_config **out, struct conf_error *err);
/* As above from memory; `name` is used in errors; relative paths stay as
 * written. */
int am_config_load_string(const char *name, const char *yaml, size_t len, struct am_config **out,
                          struct conf_error *err);
void am_config_free(struct am_config *c);

const struct am_receiver *am_config_receiver(const struct am_config *c, const char *name);
const struct am_time_interval *am_config_time_interval(const struct am_config *c, const char *name);

/* Counts for the `amtool check-config` style summary.  has_global is
 * always true once loaded, as in amtool (the defaults make one). */
struct am_config_summary {
    size_t receivers, inhibit_rules, templates, time_intervals;
    bool has_global, has_route;
};
void am_config_summarize(const struct am_config *c, struct am_config_summary *out);

#endif
