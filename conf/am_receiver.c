/* am_receiver.c — `receivers:` and the four integrations modelled in full:
 * webhook, email, Slack and PagerDuty.
 *
 * Each notifier config is decoded the way Alertmanager's UnmarshalYAML
 * does it: the struct starts from the integration's defaults (send_resolved,
 * the default templates), the YAML mapping overwrites them (an explicit
 * null zeroes a field, as go-yaml does), then the integration's own checks
 * run.  Defaults that come from the `global:` section (SMTP settings, Slack
 * and PagerDuty URLs, the shared http_config) are applied afterwards by
 * am_receiver_apply_global, which Config.UnmarshalYAML's loop mirrors; the
 * other integrations go to am_notifier.c's generic key/value store. */
#include "conf/am_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"

/* Replaces *dst by a copy of src when *dst is empty. */
static void str_inherit(char **dst, const char *src)
{
    if (am_str_set(*dst))
        return;
    free(*dst);
    *dst = src ? xstrdup(src) : NULL;
}

/* ---- webhook ---- */

static const struct yfield webhook_fields[] = {
    YFIELD(struct am_webhook_config, send_resolved, ydec_bool),
    YFIELD_NAMED("http_config", struct am_webhook_config, http_config_own, am_dec_http_config),
    YFIELD(struct am_webhook_config, url, am_dec_url),
    YFIELD(struct am_webhook_config, url_file, ydec_string),
    YFIELD(struct am_webhook_config, max_alerts, am_dec_uint),
    YFIELD_NAMED("timeout", struct am_webhook_config, timeout_ns, am_dec_go_duration),
    {NULL, NULL, 0},
};

static int dec_webhook(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_webhook_config *w = out;
    if (n->kind == YNODE_NULL)
        return ydec_fail(d, n, "expected a webhook config mapping, got null");
    w->send_resolved = true;
    if (ydec_map(d, n, webhook_fields, w, NULL) < 0)
        return -1;
    if (am_field_null(n, "send_resolved"))
        w->send_resolved = false;
    if (!w->url && !am_str_set(w->url_file))
        return ydec_fail(d, n, "missing URL in webhook config");
    if (w->url && am_str_set(w->url_file))
        return ydec_fail(d, n, "at most one of url & url_file must be configured");
    return 0;
}

static void webhook_free(struct am_webhook_config *w)
{
    am_http_config_free(w->http_config_own);
    free(w->url);
    free(w->url_file);
}

/* ---- email ---- */

static const struct yfield email_fields[] = {
    YFIELD(struct am_email_config, send_resolved, ydec_bool),
    YFIELD(struct am_email_config, to, ydec_string),
    YFIELD(struct am_email_config, from, ydec_string),
    YFIELD(struct am_email_config, hello, ydec_string),
    YFIELD(struct am_email_config, smarthost, am_dec_hostport),
    YFIELD(struct am_email_config, auth_username, ydec_string),
    YFIELD(struct am_email_config, auth_password, ydec_string),
    YFIELD(struct am_email_config, auth_password_file, ydec_string),
    YFIELD(struct am_email_config, auth_secret, ydec_string),
    YFIELD(struct am_email_config, auth_identity, ydec_string),
    YFIELD(struct am_email_config, headers, ydec_strmap),
    YFIELD(struct am_email_config, html, ydec_string),
    YFIELD(struct am_email_config, text, ydec_string),
    YFIELD(struct am_email_config, require_tls, ydec_bool),
    YFIELD(struct am_email_config, tls_config, am_dec_tls_config),
    {NULL, NULL, 0},
};

/* Go's textproto.CanonicalMIMEHeaderKey: "x-team" -> "X-Team"; a key with
 * bytes that cannot be in a header name is returned unchanged. */
static char *mime_header_canonical(const char *k)
{
    for (const char *p = k; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= ' ' || c >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}", c))
            return xstrdup(k);
    }
    char *s = xstrdup(k);
    bool upper = true;
    for (char *p = s; *p; p++) {
        *p = (char)(upper ? toupper((unsigned char)*p) : tolower((unsigned char)*p));
        upper = *p == '-';
    }
    return s;
}

/* Canonicalises header names; two spellings of one name are an error. */
static int email_headers_canonical(struct ydec *d, const struct ynode *n, struct ystrmap *h)
{
    struct ystrmap out = {xcalloc(h->n + 1, sizeof(char *)), xcalloc(h->n + 1, sizeof(char *)), 0};
    for (size_t i = 0; i < h->n; i++) {
        char *c = mime_header_canonical(h->keys[i]);
        if (ystrmap_get(&out, c)) {
            am_fail_at(d, n, "headers", "duplicate header \"%s\" in email config", c);
            free(c);
            ystrmap_free(&out);
            return -1;
        }
        size_t at = out.n;
        while (at > 0 && strcmp(out.keys[at - 1], c) > 0) {
            out.keys[at] = out.keys[at - 1];
            out.values[at] = out.values[at - 1];
            at--;
        }
        out.keys[at] = c;
        out.values[at] = xstrdup(h->values[i]);
        out.n++;
    }
    ystrmap_free(h);
    *h = out;
    return 0;
}

static int dec_email(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_email_config *e = out;
    if (n->kind == YNODE_NULL)
        return ydec_fail(d, n, "expected an email config mapping, got null");
    e->html = xstrdup("{{ template \"email.default.html\" . }}");
    if (ydec_map(d, n, email_fields, e, NULL) < 0)
        return -1;
    /* require_tls is a *bool: written (non-null) means set, else global. */
    e->require_tls_set = ynode_get(n, "require_tls") && !am_field_null(n, "require_tls");
    if (!am_str_set(e->to))
        return ydec_fail(d, n, "missing to address in email config");
    return email_headers_canonical(d, n, &e->headers);
}

static void email_free(struct am_email_config *e)
{
    free(e->to);
    free(e->from);
    free(e->hello);
    free(e->smarthost.host);
    free(e->smarthost.port);
    free(e->auth_username);
    free(e->auth_password);
    free(e->auth_password_file);
    free(e->auth_secret);
    free(e->auth_identity);
    ystrmap_free(&e->headers);
    free(e->html);
    free(e->text);
    am_tls_config_free(&e->tls_config);
}

/* ---- slack ---- */

static const struct yfield slack_field_fields[] = {
    YFIELD(struct am_slack_field, title, ydec_string),
    YFIELD(struct am_slack_field, value, ydec_string),
    YFIELD_NAMED("short", struct am_slack_field, short_value, ydec_bool),
    {NULL, NULL, 0},
};

static int dec_slack_field(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_slack_field *f = out;
    if (n->kind == YNODE_NULL)
        return 0; /* a nil *SlackField: accepted unchecked */
    if (ydec_map(d, n, slack_field_fields, f, NULL) < 0)
        return -1;
    f->short_set = ynode_get(n, "short") && !am_field_null(n, "short");
    if (!am_str_set(f->title))
        return ydec_fail(d, n, "missing title in Slack field configuration");
    if (!am_str_set(f->value))
        return ydec_fail(d, n, "missing value in Slack field configuration");
    return 0;
}

static const struct yfield slack_confirm_fields[] = {
    YFIELD(struct am_slack_confirm, text, ydec_string),
    YFIELD(struct am_slack_confirm, title, ydec_string),
    YFIELD(struct am_slack_confirm, ok_text, ydec_string),
    YFIELD(struct am_slack_confirm, dismiss_text, ydec_string),
    {NULL, NULL, 0},
};

static void slack_confirm_free(struct am_slack_confirm *c)
{
    if (!c)
        return;
    free(c->text);
    free(c->title);
    free(c->ok_text);
    free(c->dismiss_text);
    free(c);
}

static int dec_slack_confirm(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_slack_confirm **p = out;
    *p = xcalloc(1, sizeof **p);
    if (ydec_map(d, n, slack_confirm_fields, *p, NULL) < 0)
        return -1;
    if (!am_str_set((*p)->text))
        return ydec_fail(d, n, "missing text in Slack confirmation configuration");
    return 0;
}

static const struct yfield slack_action_fields[] = {
    YFIELD(struct am_slack_action, type, ydec_string),
    YFIELD(struct am_slack_action, text, ydec_string),
    YFIELD(struct am_slack_action, url, ydec_string),
    YFIELD(struct am_slack_action, style, ydec_string),
    YFIELD(struct am_slack_action, name, ydec_string),
    YFIELD(struct am_slack_action, value, ydec_string),
    YFIELD_NAMED("confirm", struct am_slack_action, confirm, dec_slack_confirm),
    {NULL, NULL, 0},
};

static int dec_slack_action(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_slack_action *a = out;
    if (n->kind == YNODE_NULL)
        return 0; /* a nil *SlackAction: accepted unchecked */
    if (ydec_map(d, n, slack_action_fields, a, NULL) < 0)
        return -1;
    if (!am_str_set(a->type))
        return ydec_fail(d, n, "missing type in Slack action configuration");
    if (!am_str_set(a->text))
        return ydec_fail(d, n, "missing text in Slack action configuration");
    if (am_str_set(a->url)) { /* a link button: the message-action fields go */
        free(a->name);
        free(a->value);
        slack_confirm_free(a->confirm);
        a->name = a->value = NULL;
        a->confirm = NULL;
    } else if (am_str_set(a->name)) {
        free(a->url);
        a->url = NULL;
    } else {
        return ydec_fail(d, n, "missing name or url in Slack action configuration");
    }
    return 0;
}

static int dec_slack_fields(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_slack_config *s = out;
    return ydec_seq(d, n, &s->fields, &s->nfields, sizeof *s->fields, dec_slack_field);
}

static int dec_slack_actions(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_slack_config *s = out;
    return ydec_seq(d, n, &s->actions, &s->nactions, sizeof *s->actions, dec_slack_action);
}

static const struct yfield slack_fields[] = {
    YFIELD(struct am_slack_config, send_resolved, ydec_bool),
    YFIELD_NAMED("http_config", struct am_slack_config, http_config_own, am_dec_http_config),
    YFIELD(struct am_slack_config, api_url, am_dec_secret_url),
    YFIELD(struct am_slack_config, api_url_file, ydec_string),
    YFIELD(struct am_slack_config, channel, ydec_string),
    YFIELD(struct am_slack_config, username, ydec_string),
    YFIELD(struct am_slack_config, color, ydec_string),
    YFIELD(struct am_slack_config, title, ydec_string),
    YFIELD(struct am_slack_config, title_link, ydec_string),
    YFIELD(struct am_slack_config, pretext, ydec_string),
    YFIELD(struct am_slack_config, text, ydec_string),
    {"fields", dec_slack_fields, 0},
    YFIELD(struct am_slack_config, short_fields, ydec_bool),
    YFIELD(struct am_slack_config, footer, ydec_string),
    YFIELD(struct am_slack_config, fallback, ydec_string),
    YFIELD(struct am_slack_config, callback_id, ydec_string),
    YFIELD(struct am_slack_config, icon_emoji, ydec_string),
    YFIELD(struct am_slack_config, icon_url, ydec_string),
    YFIELD(struct am_slack_config, image_url, ydec_string),
    YFIELD(struct am_slack_config, thumb_url, ydec_string),
    YFIELD(struct am_slack_config, link_names, ydec_bool),
    YFIELD(struct am_slack_config, mrkdwn_in, am_dec_strlist),
    {"actions", dec_slack_actions, 0},
    {NULL, NULL, 0},
};

static void slack_defaults(struct am_slack_config *s)
{
    s->color = xstrdup("{{ if eq .Status \"firing\" }}danger{{ else }}good{{ end }}");
    s->username = xstrdup("{{ template \"slack.default.username\" . }}");
    s->title = xstrdup("{{ template \"slack.default.title\" . }}");
    s->title_link = xstrdup("{{ template \"slack.default.titlelink\" . }}");
    s->icon_emoji = xstrdup("{{ template \"slack.default.iconemoji\" . }}");
    s->icon_url = xstrdup("{{ template \"slack.default.iconurl\" . }}");
    s->pretext = xstrdup("{{ template \"slack.default.pretext\" . }}");
    s->text = xstrdup("{{ template \"slack.default.text\" . }}");
    s->fallback = xstrdup("{{ template \"slack.default.fallback\" . }}");
    s->callback_id = xstrdup("{{ template \"slack.default.callbackid\" . }}");
    s->footer = xstrdup("{{ template \"slack.default.footer\" . }}");
}

static int dec_slack(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_slack_config *s = out;
    if (n->kind == YNODE_NULL)
        return ydec_fail(d, n, "expected a slack config mapping, got null");
    slack_defaults(s);
    if (ydec_map(d, n, slack_fields, s, NULL) < 0)
        return -1;
    if (s->api_url && am_str_set(s->api_url_file))
        return ydec_fail(d, n, "at most one of api_url & api_url_file must be configured");
    return 0;
}

static void slack_free(struct am_slack_config *s)
{
    am_http_config_free(s->http_config_own);
    char **strs[] = {&s->api_url,    &s->api_url_file, &s->channel,    &s->username,
                     &s->color,      &s->title,        &s->title_link, &s->pretext,
                     &s->text,       &s->footer,       &s->fallback,   &s->callback_id,
                     &s->icon_emoji, &s->icon_url,     &s->image_url,  &s->thumb_url};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    for (size_t i = 0; i < s->nfields; i++) {
        free(s->fields[i].title);
        free(s->fields[i].value);
    }
    free(s->fields);
    ystrlist_free(&s->mrkdwn_in);
    for (size_t i = 0; i < s->nactions; i++) {
        struct am_slack_action *a = &s->actions[i];
        free(a->type);
        free(a->text);
        free(a->url);
        free(a->style);
        free(a->name);
        free(a->value);
        slack_confirm_free(a->confirm);
    }
    free(s->actions);
}

/* ---- pagerduty ---- */

static const struct yfield pd_image_fields[] = {
    YFIELD(struct am_pagerduty_image, src, ydec_string),
    YFIELD(struct am_pagerduty_image, alt, ydec_string),
    YFIELD(struct am_pagerduty_image, href, ydec_string),
    {NULL, NULL, 0},
};

static const struct yfield pd_link_fields[] = {
    YFIELD(struct am_pagerduty_link, href, ydec_string),
    YFIELD(struct am_pagerduty_link, text, ydec_string),
    {NULL, NULL, 0},
};

static int dec_pd_image(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, pd_image_fields, out, NULL);
}

static int dec_pd_link(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, pd_link_fields, out, NULL);
}

static int dec_pd_images(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_pagerduty_config *p = out;
    return ydec_seq(d, n, &p->images, &p->nimages, sizeof *p->images, dec_pd_image);
}

static int dec_pd_links(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_pagerduty_config *p = out;
    return ydec_seq(d, n, &p->links, &p->nlinks, sizeof *p->links, dec_pd_link);
}

static const struct yfield pagerduty_fields[] = {
    YFIELD(struct am_pagerduty_config, send_resolved, ydec_bool),
    YFIELD_NAMED("http_config", struct am_pagerduty_config, http_config_own, am_dec_http_config),
    YFIELD(struct am_pagerduty_config, service_key, ydec_string),
    YFIELD(struct am_pagerduty_config, service_key_file, ydec_string),
    YFIELD(struct am_pagerduty_config, routing_key, ydec_string),
    YFIELD(struct am_pagerduty_config, routing_key_file, ydec_string),
    YFIELD(struct am_pagerduty_config, url, am_dec_url),
    YFIELD(struct am_pagerduty_config, client, ydec_string),
    YFIELD(struct am_pagerduty_config, client_url, ydec_string),
    YFIELD(struct am_pagerduty_config, description, ydec_string),
    YFIELD(struct am_pagerduty_config, details, ydec_strmap),
    {"images", dec_pd_images, 0},
    {"links", dec_pd_links, 0},
    YFIELD(struct am_pagerduty_config, source, ydec_string),
    YFIELD(struct am_pagerduty_config, severity, ydec_string),
    YFIELD_NAMED("class", struct am_pagerduty_config, class_, ydec_string),
    YFIELD(struct am_pagerduty_config, component, ydec_string),
    YFIELD(struct am_pagerduty_config, group, ydec_string),
    {NULL, NULL, 0},
};

static void pagerduty_default_details(struct ystrmap *m)
{
    static const char *const def[][2] = {
        {"firing", "{{ template \"pagerduty.default.instances\" .Alerts.Firing }}"},
        {"num_firing", "{{ .Alerts.Firing | len }}"},
        {"num_resolved", "{{ .Alerts.Resolved | len }}"},
        {"resolved", "{{ template \"pagerduty.default.instances\" .Alerts.Resolved }}"},
    };
    for (size_t i = 0; i < sizeof def / sizeof *def; i++) {
        if (ystrmap_get(m, def[i][0]))
            continue;
        m->keys = xrealloc(m->keys, (m->n + 1) * sizeof *m->keys);
        m->values = xrealloc(m->values, (m->n + 1) * sizeof *m->values);
        size_t at = m->n;
        while (at > 0 && strcmp(m->keys[at - 1], def[i][0]) > 0) {
            m->keys[at] = m->keys[at - 1];
            m->values[at] = m->values[at - 1];
            at--;
        }
        m->keys[at] = xstrdup(def[i][0]);
        m->values[at] = xstrdup(def[i][1]);
        m->n++;
    }
}

static int dec_pagerduty(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_pagerduty_config *p = out;
    if (n->kind == YNODE_NULL)
        return ydec_fail(d, n, "expected a pagerduty config mapping, got null");
    p->send_resolved = true;
    p->description = xstrdup("{{ template \"pagerduty.default.description\" .}}");
    p->client = xstrdup("{{ template \"pagerduty.default.client\" . }}");
    p->client_url = xstrdup("{{ template \"pagerduty.default.clientURL\" . }}");
    if (ydec_map(d, n, pagerduty_fields, p, NULL) < 0)
        return -1;
    if (am_field_null(n, "send_resolved"))
        p->send_resolved = false;
    if (!am_str_set(p->routing_key) && !am_str_set(p->service_key) &&
        !am_str_set(p->routing_key_file) && !am_str_set(p->service_key_file))
        return ydec_fail(d, n, "missing service or routing key in PagerDuty config");
    if (am_str_set(p->routing_key) && am_str_set(p->routing_key_file))
        return ydec_fail(d, n, "at most one of routing_key & routing_key_file must be configured");
    if (am_str_set(p->service_key) && am_str_set(p->service_key_file))
        return ydec_fail(d, n, "at most one of service_key & service_key_file must be configured");
    str_inherit(&p->source, p->client);
    pagerduty_default_details(&p->details);
    return 0;
}

static void pagerduty_free(struct am_pagerduty_config *p)
{
    am_http_config_free(p->http_config_own);
    char **strs[] = {&p->service_key, &p->service_key_file, &p->routing_key, &p->routing_key_file,
                     &p->url,         &p->client,           &p->client_url,  &p->description,
                     &p->source,      &p->severity,         &p->class_,      &p->component,
                     &p->group};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        free(*strs[i]);
    ystrmap_free(&p->details);
    for (size_t i = 0; i < p->nimages; i++) {
        free(p->images[i].src);
        free(p->images[i].alt);
        free(p->images[i].href);
    }
    free(p->images);
    for (size_t i = 0; i < p->nlinks; i++) {
        free(p->links[i].href);
        free(p->links[i].text);
    }
    free(p->links);
}

/* ---- receivers ---- */

static int dec_webhooks(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_receiver *r = out;
    return ydec_seq(d, n, &r->webhook, &r->nwebhook, sizeof *r->webhook, dec_webhook);
}

static int dec_emails(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_receiver *r = out;
    return ydec_seq(d, n, &r->email, &r->nemail, sizeof *r->email, dec_email);
}

static int dec_slacks(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_receiver *r = out;
    return ydec_seq(d, n, &r->slack, &r->nslack, sizeof *r->slack, dec_slack);
}

static int dec_pagerduties(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_receiver *r = out;
    return ydec_seq(d, n, &r->pagerduty, &r->npagerduty, sizeof *r->pagerduty, dec_pagerduty);
}

#define AM_GENERIC_LIST(fn, kind)                                                                  \
    static int fn(struct ydec *d, const struct ynode *n, void *out)                                \
    {                                                                                              \
        return am_dec_notifiers(d, n, kind, out);                                                  \
    }
AM_GENERIC_LIST(dec_opsgenies, AM_NOTIFIER_OPSGENIE)
AM_GENERIC_LIST(dec_pushovers, AM_NOTIFIER_PUSHOVER)
AM_GENERIC_LIST(dec_victoropses, AM_NOTIFIER_VICTOROPS)
AM_GENERIC_LIST(dec_wechats, AM_NOTIFIER_WECHAT)
AM_GENERIC_LIST(dec_telegrams, AM_NOTIFIER_TELEGRAM)
AM_GENERIC_LIST(dec_snses, AM_NOTIFIER_SNS)
AM_GENERIC_LIST(dec_webexes, AM_NOTIFIER_WEBEX)
AM_GENERIC_LIST(dec_msteamses, AM_NOTIFIER_MSTEAMS)
AM_GENERIC_LIST(dec_discords, AM_NOTIFIER_DISCORD)

static const struct yfield receiver_fields[] = {
    YFIELD(struct am_receiver, name, ydec_string),
    {"discord_configs", dec_discords, 0},
    {"email_configs", dec_emails, 0},
    {"pagerduty_configs", dec_pagerduties, 0},
    {"slack_configs", dec_slacks, 0},
    {"webhook_configs", dec_webhooks, 0},
    {"opsgenie_configs", dec_opsgenies, 0},
    {"wechat_configs", dec_wechats, 0},
    {"pushover_configs", dec_pushovers, 0},
    {"victorops_configs", dec_victoropses, 0},
    {"sns_configs", dec_snses, 0},
    {"telegram_configs", dec_telegrams, 0},
    {"webex_configs", dec_webexes, 0},
    {"msteams_configs", dec_msteamses, 0},
    {NULL, NULL, 0},
};

static int dec_receiver(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_receiver *r = out;
    if (n->kind == YNODE_NULL)
        return ydec_fail(d, n, "expected a receiver mapping, got null");
    if (ydec_map(d, n, receiver_fields, r, NULL) < 0)
        return -1;
    if (!am_str_set(r->name))
        return ydec_fail(d, n, "missing name in receiver");
    return 0;
}

int am_dec_receivers(struct ydec *d, const struct ynode *n, void *out)
{
    struct am_config *c = out;
    return ydec_seq(d, n, &c->receivers, &c->nreceivers, sizeof *c->receivers, dec_receiver);
}

void am_receiver_free(struct am_receiver *r)
{
    free(r->name);
    for (size_t i = 0; i < r->nwebhook; i++)
        webhook_free(&r->webhook[i]);
    free(r->webhook);
    for (size_t i = 0; i < r->nemail; i++)
        email_free(&r->email[i]);
    free(r->email);
    for (size_t i = 0; i < r->nslack; i++)
        slack_free(&r->slack[i]);
    free(r->slack);
    for (size_t i = 0; i < r->npagerduty; i++)
        pagerduty_free(&r->pagerduty[i]);
    free(r->pagerduty);
    for (size_t i = 0; i < r->nother; i++)
        am_notifier_free(&r->other[i]);
    free(r->other);
}

/* ---- global defaults (Config.UnmarshalYAML's receiver loop) ---- */

/* Fails at `<list>[i]` under the receiver node n. */
static int fail_item(struct ydec *d, const struct ynode *n, const char *list, size_t i,
                     const char *msg)
{
    size_t old = ydec_push_field(d, list);
    ydec_push_index(d, i);
    ydec_fail(d, ynode_get(n, list)->items[i], "%s", msg);
    ydec_pop(d, old);
    return -1;
}

static void hostport_copy(struct am_hostport *dst, const struct am_hostport *src)
{
    dst->host = src->host ? xstrdup(src->host) : NULL;
    dst->port = src->port ? xstrdup(src->port) : NULL;
}

static int email_apply_global(struct ydec *d, const struct ynode *n, size_t i,
                              struct am_email_config *e, const struct am_global_config *g)
{
    if (!e->smarthost.host && !e->smarthost.port) {
        if (!g->smtp_smarthost.host && !g->smtp_smarthost.port)
            return fail_item(d, n, "email_configs", i, "no global SMTP smarthost set");
        hostport_copy(&e->smarthost, &g->smtp_smarthost);
    }
    if (!am_str_set(e->from)) {
        if (!am_str_set(g->smtp_from))
            return fail_item(d, n, "email_configs", i, "no global SMTP from set");
        str_inherit(&e->from, g->smtp_from);
    }
    str_inherit(&e->hello, g->smtp_hello);
    str_inherit(&e->auth_username, g->smtp_auth_username);
    if (!am_str_set(e->auth_password) && !am_str_set(e->auth_password_file)) {
        str_inherit(&e->auth_password, g->smtp_auth_password);
        str_inherit(&e->auth_password_file, g->smtp_auth_password_file);
    }
    str_inherit(&e->auth_secret, g->smtp_auth_secret);
    str_inherit(&e->auth_identity, g->smtp_auth_identity);
    if (!e->require_tls_set)
        e->require_tls = g->smtp_require_tls;
    return 0;
}

int am_receiver_apply_global(struct ydec *d, const struct ynode *n, struct am_receiver *r,
                             const struct am_global_config *g)
{
    for (size_t i = 0; i < r->nwebhook; i++) {
        struct am_webhook_config *w = &r->webhook[i];
        w->http_config = w->http_config_own ? w->http_config_own : g->http_config;
    }
    for (size_t i = 0; i < r->nemail; i++)
        if (email_apply_global(d, n, i, &r->email[i], g) < 0)
            return -1;
    for (size_t i = 0; i < r->nslack; i++) {
        struct am_slack_config *s = &r->slack[i];
        s->http_config = s->http_config_own ? s->http_config_own : g->http_config;
        if (!s->api_url && !am_str_set(s->api_url_file)) {
            if (!g->slack_api_url && !am_str_set(g->slack_api_url_file))
                return fail_item(d, n, "slack_configs", i,
                                 "no global Slack API URL set either inline or in a file");
            str_inherit(&s->api_url, g->slack_api_url);
            str_inherit(&s->api_url_file, g->slack_api_url_file);
        }
    }
    for (size_t i = 0; i < r->npagerduty; i++) {
        struct am_pagerduty_config *p = &r->pagerduty[i];
        p->http_config = p->http_config_own ? p->http_config_own : g->http_config;
        if (!p->url) {
            if (!g->pagerduty_url)
                return fail_item(d, n, "pagerduty_configs", i, "no global PagerDuty URL set");
            p->url = xstrdup(g->pagerduty_url);
        }
    }
    size_t idx[AM_NOTIFIER_DISCORD + 1] = {0};
    for (size_t i = 0; i < r->nother; i++) {
        struct am_notifier_config *nc = &r->other[i];
        char key[64];
        snprintf(key, sizeof key, "%s_configs", am_notifier_kind_name(nc->kind));
        size_t at = idx[nc->kind]++, old = ydec_push_field(d, key);
        ydec_push_index(d, at);
        if (am_notifier_apply_global(d, ynode_get(n, key)->items[at], nc, g) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}
