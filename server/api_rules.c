/* api_rules.c — /api/v1/rules, /api/v1/alerts and /api/v1/alertmanagers.
 *
 * The rules manager (alerting/rules.h) shows each group under the group's
 * lock through a visitor; this file only filters and writes Prometheus's
 * JSON shapes (web/api/v1's RuleGroup, AlertingRule, RecordingRule, Alert):
 * durations and evaluation times as float seconds, times as RFC 3339 with
 * nanoseconds (the zero time when never evaluated), alert values in Go's
 * 'e' format ("1e+00"), fields in Go's struct order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/notifier.h"
#include "alerting/rules.h"
#include "query/promql.h"
#include "server/server.h"
#include "util/gostrconv.h"

#define FILTER_MAX 64

struct rules_filter {
    bool want_alerting, want_recording;
    bool exclude_alerts;
    const char *names[FILTER_MAX], *groups[FILTER_MAX], *files[FILTER_MAX];
    size_t nnames, ngroups, nfiles;
};

struct rules_ctx {
    struct sbuf *b;
    const struct rules_filter *f;
    size_t ngroups, nalerts;
};

static bool listed(const char *const *v, size_t n, const char *s)
{
    if (!n)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return true;
    return false;
}

static void alert_json(struct sbuf *b, const struct alert_info *a)
{
    sbuf_puts(b, "{\"labels\":");
    promql_labels_json(&a->labels, b);
    sbuf_puts(b, ",\"annotations\":");
    promql_labels_json(&a->annotations, b);
    sbuf_printf(b, ",\"state\":\"%s\",\"activeAt\":", alert_state_name(a->state));
    api_json_time(b, a->active_at_ms);
    if (a->keep_firing_since_ms) {
        sbuf_puts(b, ",\"keepFiringSince\":");
        api_json_time(b, a->keep_firing_since_ms);
    }
    char v[40];
    sbuf_puts(b, ",\"value\":\"");
    sbuf_puts(b, go_format_float_exp(a->value, 'e', v, sizeof v));
    sbuf_puts(b, "\"}");
}

static void rule_json(struct sbuf *b, const struct rule_info *r, bool exclude_alerts)
{
    sbuf_putc(b, '{');
    if (r->alerting)
        sbuf_printf(b, "\"state\":\"%s\",", alert_state_name(r->state));
    sbuf_puts(b, "\"name\":");
    sbuf_put_json_string(b, r->name, strlen(r->name));
    sbuf_puts(b, ",\"query\":");
    sbuf_put_json_string(b, r->query, strlen(r->query));
    if (r->alerting) {
        sbuf_puts(b, ",\"duration\":");
        api_json_float(b, (double)r->for_ms / 1000.0);
        sbuf_puts(b, ",\"keepFiringFor\":");
        api_json_float(b, (double)r->keep_firing_for_ms / 1000.0);
    }
    if (r->alerting || r->labels.n) {
        sbuf_puts(b, ",\"labels\":");
        promql_labels_json(&r->labels, b);
    }
    if (r->alerting) {
        sbuf_puts(b, ",\"annotations\":");
        promql_labels_json(&r->annotations, b);
        sbuf_puts(b, ",\"alerts\":[");
        for (size_t i = 0; !exclude_alerts && i < r->nalerts; i++) {
            if (i)
                sbuf_putc(b, ',');
            alert_json(b, &r->alerts[i]);
        }
        sbuf_putc(b, ']');
    }
    sbuf_printf(b, ",\"health\":\"%s\"", rule_health_name(r->health));
    if (r->last_error[0]) {
        sbuf_puts(b, ",\"lastError\":");
        sbuf_put_json_string(b, r->last_error, strlen(r->last_error));
    }
    sbuf_puts(b, ",\"evaluationTime\":");
    api_json_float(b, r->eval_seconds);
    sbuf_puts(b, ",\"lastEvaluation\":");
    api_json_time(b, r->last_eval_ms);
    sbuf_printf(b, ",\"type\":\"%s\"}", r->alerting ? "alerting" : "recording");
}

static bool rule_wanted(const struct rules_filter *f, const struct rule_info *r)
{
    if (r->alerting ? !f->want_alerting : !f->want_recording)
        return false;
    return listed(f->names, f->nnames, r->name);
}

static void group_json(void *arg, const struct rule_group_info *g)
{
    struct rules_ctx *c = arg;
    const struct rules_filter *f = c->f;
    if (!listed(f->groups, f->ngroups, g->name) || !listed(f->files, f->nfiles, g->file))
        return;
    size_t shown = 0;
    struct sbuf rules = SBUF_INIT;
    for (size_t i = 0; i < g->nrules; i++) {
        if (!rule_wanted(f, &g->rules[i]))
            continue;
        if (shown++)
            sbuf_putc(&rules, ',');
        rule_json(&rules, &g->rules[i], f->exclude_alerts);
    }
    /* Prometheus leaves out groups a rule filter emptied. */
    bool filtered = f->nnames || !f->want_alerting || !f->want_recording;
    if (filtered && !shown) {
        sbuf_free(&rules);
        return;
    }
    struct sbuf *b = c->b;
    if (c->ngroups++)
        sbuf_putc(b, ',');
    sbuf_puts(b, "{\"name\":");
    sbuf_put_json_string(b, g->name, strlen(g->name));
    sbuf_puts(b, ",\"file\":");
    sbuf_put_json_string(b, g->file, strlen(g->file));
    sbuf_puts(b, ",\"rules\":[");
    sbuf_append(b, rules.data ? rules.data : "", rules.len);
    sbuf_puts(b, "],\"interval\":");
    api_json_float(b, (double)g->interval_ms / 1000.0);
    sbuf_printf(b, ",\"limit\":%lld,\"evaluationTime\":", (long long)g->limit);
    api_json_float(b, g->eval_seconds);
    sbuf_puts(b, ",\"lastEvaluation\":");
    api_json_time(b, g->last_eval_ms);
    sbuf_putc(b, '}');
    sbuf_free(&rules);
}

/* Reads the filter parameters; replies 400 and returns -1 on a bad one. */
static int filter_parse(struct http_request *r, struct rules_filter *f)
{
    *f = (struct rules_filter){.want_alerting = true, .want_recording = true};
    const char *type = http_request_param(r, "type");
    if (type && *type) {
        if (strcmp(type, "alert") == 0)
            f->want_recording = false;
        else if (strcmp(type, "record") == 0)
            f->want_alerting = false;
        else {
            char msg[300];
            snprintf(msg, sizeof msg, "not supported value %s", type);
            http_reply_json_error(r, 400, "bad_data", msg);
            return -1;
        }
    }
    f->nnames = http_request_param_all(r, "rule_name[]", f->names, FILTER_MAX);
    f->ngroups = http_request_param_all(r, "rule_group[]", f->groups, FILTER_MAX);
    f->nfiles = http_request_param_all(r, "file[]", f->files, FILTER_MAX);
    if (f->nnames > FILTER_MAX || f->ngroups > FILTER_MAX || f->nfiles > FILTER_MAX) {
        http_reply_json_error(r, 400, "bad_data", "too many filter values");
        return -1;
    }
    const char *ex = http_request_param(r, "exclude_alerts");
    if (ex && *ex) {
        if (strcmp(ex, "true") == 0 || strcmp(ex, "1") == 0)
            f->exclude_alerts = true;
        else if (strcmp(ex, "false") != 0 && strcmp(ex, "0") != 0) {
            http_reply_json_error(r, 400, "bad_data",
                                  "parsing exclude_alerts: strconv.ParseBool: invalid syntax");
            return -1;
        }
    }
    return 0;
}

static void handle_rules(struct http_request *r, void *arg)
{
    struct vigil_server *s = arg;
    struct rules_filter f;
    if (filter_parse(r, &f) < 0)
        return;
    struct sbuf b = SBUF_INIT;
    struct rules_ctx c = {&b, &f, 0, 0};
    sbuf_puts(&b, "{\"status\":\"success\",\"data\":{\"groups\":[");
    if (s->rules)
        rules_manager_each_group(s->rules, group_json, &c);
    sbuf_puts(&b, "]}}");
    http_reply_sbuf(r, 200, "application/json", &b);
}

static void group_alerts_json(void *arg, const struct rule_group_info *g)
{
    struct rules_ctx *c = arg;
    for (size_t i = 0; i < g->nrules; i++)
        for (size_t j = 0; j < g->rules[i].nalerts; j++) {
            if (c->nalerts++)
                sbuf_putc(c->b, ',');
            alert_json(c->b, &g->rules[i].alerts[j]);
        }
}

static void handle_alerts(struct http_request *r, void *arg)
{
    struct vigil_server *s = arg;
    struct sbuf b = SBUF_INIT;
    struct rules_ctx c = {&b, NULL, 0, 0};
    sbuf_puts(&b, "{\"status\":\"success\",\"data\":{\"alerts\":[");
    if (s->rules)
        rules_manager_each_group(s->rules, group_alerts_json, &c);
    sbuf_puts(&b, "]}}");
    http_reply_sbuf(r, 200, "application/json", &b);
}

struct am_ctx {
    struct sbuf active, dropped;
};

static void am_json(void *arg, const char *url, bool active)
{
    struct am_ctx *c = arg;
    struct sbuf *b = active ? &c->active : &c->dropped;
    if (b->len)
        sbuf_putc(b, ',');
    sbuf_puts(b, "{\"url\":");
    sbuf_put_json_string(b, url, strlen(url));
    sbuf_putc(b, '}');
}

static void handle_alertmanagers(struct http_request *r, void *arg)
{
    struct vigil_server *s = arg;
    struct am_ctx c = {SBUF_INIT, SBUF_INIT};
    if (s->notifier)
        notifier_each_alertmanager(s->notifier, am_json, &c);
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "{\"status\":\"success\",\"data\":{\"activeAlertmanagers\":[");
    sbuf_append(&b, c.active.data ? c.active.data : "", c.active.len);
    sbuf_puts(&b, "],\"droppedAlertmanagers\":[");
    sbuf_append(&b, c.dropped.data ? c.dropped.data : "", c.dropped.len);
    sbuf_puts(&b, "]}}");
    sbuf_free(&c.active);
    sbuf_free(&c.dropped);
    http_reply_sbuf(r, 200, "application/json", &b);
}

void server_api_rules_register(struct vigil_server *s)
{
    http_server_route(s->http, "GET", "/api/v1/rules", false, "/api/v1/rules", handle_rules, s);
    http_server_route(s->http, "GET", "/api/v1/alerts", false, "/api/v1/alerts", handle_alerts, s);
    http_server_route(s->http, "GET", "/api/v1/alertmanagers", false, "/api/v1/alertmanagers",
                      handle_alertmanagers, s);
}
