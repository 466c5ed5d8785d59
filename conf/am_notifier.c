/* am_notifier.c — the integrations not modelled field by field: OpsGenie,
 * Pushover, VictorOps, WeChat, Telegram, SNS, Webex, MS Teams, Discord.
 *
 * Vigil must load a file using them even before it can notify through
 * them, and must reject what Alertmanager rejects.  So each kind has a
 * schema: its field names with a value kind (string, bool, integer, URL,
 * Go duration, string map, sigv4 block, OpsGenie responders), its default
 * values, and a check function holding the rules of its UnmarshalYAML.
 * Unknown fields, wrong types and broken values are errors exactly as for
 * the typed integrations.
 *
 * Values land in a flat key/value store, sorted by key, with nested values
 * flattened ("details.team", "responders[0].type", "sigv4.region").  The
 * defaults (templates, send_resolved, global URLs and keys) are stored too,
 * so a field that is absent is empty/zero, never "use the default": a
 * future notifier reads only the store.  Schemas are Alertmanager 0.25's,
 * plus msteams_configs (added after 0.25). */
#include "conf/am_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/sbuf.h"

enum nf_kind {
    NF_STR,
    NF_BOOL,
    NF_INT,
    NF_URL,
    NF_SECRET_URL,
    NF_GODUR,
    NF_STRMAP,
    NF_SIGV4,
    NF_RESPONDERS
};

struct nf_field {
    const char *name;
    enum nf_kind kind;
};

struct nf_default {
    const char *key, *value;
};

struct nf_schema {
    const char *name;
    bool send_resolved;
    const struct nf_field *fields;     /* NULL-name terminated */
    const struct nf_default *defaults; /* NULL-key terminated */
    int (*check)(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc);
};

#define TPL(x) "{{ template \"" x "\" . }}"

/* ---- the store ---- */

static size_t kv_find(const struct am_notifier_config *nc, const char *key, bool *found)
{
    size_t lo = 0, hi = nc->nfields;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(nc->fields[mid].key, key);
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

const char *am_notifier_get(const struct am_notifier_config *n, const char *key)
{
    bool found;
    size_t i = kv_find(n, key, &found);
    return found ? n->fields[i].value : NULL;
}

void am_notifier_set(struct am_notifier_config *nc, const char *key, const char *value)
{
    bool found;
    size_t i = kv_find(nc, key, &found);
    if (found) {
        free(nc->fields[i].value);
        nc->fields[i].value = xstrdup(value);
        return;
    }
    nc->fields = xrealloc(nc->fields, (nc->nfields + 1) * sizeof *nc->fields);
    memmove(&nc->fields[i + 1], &nc->fields[i], (nc->nfields - i) * sizeof *nc->fields);
    nc->fields[i].key = xstrdup(key);
    nc->fields[i].value = xstrdup(value);
    nc->nfields++;
}

/* Removes key and everything nested under it ("key.x", "key[0]..."). */
static void kv_unset_tree(struct am_notifier_config *nc, const char *key)
{
    size_t kl = strlen(key), out = 0;
    for (size_t i = 0; i < nc->nfields; i++) {
        const char *k = nc->fields[i].key;
        if (strncmp(k, key, kl) == 0 && (k[kl] == '\0' || k[kl] == '.' || k[kl] == '[')) {
            free(nc->fields[i].key);
            free(nc->fields[i].value);
            continue;
        }
        nc->fields[out++] = nc->fields[i];
    }
    nc->nfields = out;
}

static bool kv_set(const struct am_notifier_config *nc, const char *key)
{
    const char *v = am_notifier_get(nc, key);
    return v && *v;
}

/* ---- value decoders ---- */

static int nf_strmap(struct ydec *d, const struct ynode *n, const char *key,
                     struct am_notifier_config *nc)
{
    struct ystrmap m = {0};
    int rc = ydec_strmap(d, n, &m);
    for (size_t i = 0; rc == 0 && i < m.n; i++) {
        char k[512];
        snprintf(k, sizeof k, "%s.%s", key, m.keys[i]);
        am_notifier_set(nc, k, m.values[i]);
    }
    ystrmap_free(&m);
    return rc;
}

struct sigv4 {
    char *region, *access_key, *secret_key, *profile, *role_arn;
};

static const struct yfield sigv4_fields[] = {
    YFIELD(struct sigv4, region, ydec_string),     YFIELD(struct sigv4, access_key, ydec_string),
    YFIELD(struct sigv4, secret_key, ydec_string), YFIELD(struct sigv4, profile, ydec_string),
    YFIELD(struct sigv4, role_arn, ydec_string),   {NULL, NULL, 0},
};

static int nf_sigv4(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc)
{
    struct sigv4 s = {0};
    char **all[] = {&s.region, &s.access_key, &s.secret_key, &s.profile, &s.role_arn};
    int rc = ydec_map(d, n, sigv4_fields, &s, NULL);
    if (rc == 0 && (!s.access_key || !*s.access_key) != (!s.secret_key || !*s.secret_key))
        rc = ydec_fail(d, n,
                       "must provide a AWS SigV4 Access key and Secret Key if credentials are "
                       "specified in the SigV4 config");
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        if (rc == 0 && *all[i]) {
            char k[64];
            snprintf(k, sizeof k, "sigv4.%s", sigv4_fields[i].name);
            am_notifier_set(nc, k, *all[i]);
        }
        free(*all[i]);
    }
    return rc;
}

struct responder {
    char *id, *name, *username, *type;
};

static const struct yfield responder_fields[] = {
    YFIELD(struct responder, id, ydec_string),
    YFIELD(struct responder, name, ydec_string),
    YFIELD(struct responder, username, ydec_string),
    YFIELD(struct responder, type, ydec_string),
    {NULL, NULL, 0},
};

static const char *nz(const char *s)
{
    return s ? s : "";
}

/* OpsGenieConfig's responder rules; may lower-case r->type. */
static int responder_check(struct ydec *d, const struct ynode *n, struct responder *r)
{
    static const char *const types[] = {"team", "teams", "user", "escalation", "schedule"};
    if (!*nz(r->id) && !*nz(r->username) && !*nz(r->name))
        return ydec_fail(d, n,
                         "opsGenieConfig responder {%s %s %s %s} has to have at least one of id, "
                         "username or name specified",
                         nz(r->id), nz(r->name), nz(r->username), nz(r->type));
    if (strstr(nz(r->type), "{{"))
        return 0; /* a template, resolved per notification */
    for (char *p = r->type; p && *p; p++)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(nz(r->type), types[i]) == 0)
            return 0;
    return ydec_fail(d, n,
                     "opsGenieConfig responder {%s %s %s %s} type does not match valid options "
                     "^(team|teams|user|escalation|schedule)$",
                     nz(r->id), nz(r->name), nz(r->username), nz(r->type));
}

static int nf_responders(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc)
{
    if (n->kind != YNODE_SEQ)
        return ydec_fail(d, n, "expected a list of responders");
    for (size_t i = 0; i < n->n; i++) {
        struct responder r = {0};
        char **all[] = {&r.id, &r.name, &r.username, &r.type};
        size_t old = ydec_push_index(d, i);
        int rc = ydec_map(d, n->items[i], responder_fields, &r, NULL);
        if (rc == 0)
            rc = responder_check(d, n->items[i], &r);
        for (size_t k = 0; k < sizeof all / sizeof *all; k++) {
            if (rc == 0 && *all[k]) {
                char key[64];
                snprintf(key, sizeof key, "responders[%zu].%s", i, responder_fields[k].name);
                am_notifier_set(nc, key, *all[k]);
            }
            free(*all[k]);
        }
        if (rc < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

/* A scalar value of the given kind, validated, stored as text. */
static int nf_scalar(struct ydec *d, const struct ynode *n, enum nf_kind kind, const char *key,
                     struct am_notifier_config *nc)
{
    char *s = NULL;
    int64_t i64;
    bool b;
    char text[32];
    int rc;
    switch (kind) {
    case NF_BOOL:
        if ((rc = ydec_bool(d, n, &b)) == 0)
            am_notifier_set(nc, key, b ? "true" : "false");
        return rc;
    case NF_INT:
        if ((rc = am_dec_int(d, n, &i64)) == 0) {
            snprintf(text, sizeof text, "%lld", (long long)i64);
            am_notifier_set(nc, key, text);
        }
        return rc;
    case NF_URL:
        rc = am_dec_url(d, n, &s);
        break;
    case NF_SECRET_URL:
        rc = am_dec_secret_url(d, n, &s);
        break;
    case NF_GODUR:
        rc = am_dec_go_duration(d, n, &i64) < 0 ? -1 : ydec_string(d, n, &s);
        break;
    default:
        rc = ydec_string(d, n, &s);
        break;
    }
    if (rc == 0)
        am_notifier_set(nc, key, s);
    free(s);
    return rc;
}

static int nf_value(struct ydec *d, const struct ynode *n, const struct nf_field *f,
                    struct am_notifier_config *nc)
{
    kv_unset_tree(nc, f->name);
    if (n->kind == YNODE_NULL)
        return 0; /* go-yaml: the zero value */
    switch (f->kind) {
    case NF_STRMAP:
        return nf_strmap(d, n, f->name, nc);
    case NF_SIGV4:
        return nf_sigv4(d, n, nc);
    case NF_RESPONDERS:
        return nf_responders(d, n, nc);
    default:
        return nf_scalar(d, n, f->kind, f->name, nc);
    }
}

/* ---- per-kind checks (their UnmarshalYAML) ---- */

static int fail_both(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc,
                     const char *a, const char *b)
{
    if (kv_set(nc, a) && kv_set(nc, b))
        return ydec_fail(d, n, "at most one of %s & %s must be configured", a, b);
    return 0;
}

static int check_opsgenie(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc)
{
    return fail_both(d, n, nc, "api_key", "api_key_file");
}

static int check_pushover(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc)
{
    if (!kv_set(nc, "user_key"))
        return ydec_fail(d, n, "missing user key in Pushover config");
    if (!kv_set(nc, "token"))
        return ydec_fail(d, n, "missing token in Pushover config");
    return 0;
}

static int check_victorops(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc)
{
    static const char *const reserved[] = {
        "routing_key",     "message_type", "state_message", "entity_display_name",
        "monitoring_tool", "entity_id",    "entity_state"};
    if (!kv_set(nc, "routing_key"))
        return ydec_fail(d, n, "missing Routing key in VictorOps config");
    if (fail_both(d, n, nc, "api_key", "api_key_file") < 0)
        return -1;
    for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
        char k[64];
        snprintf(k, sizeof k, "custom_fields.%s", reserved[i]);
        if (am_notifier_get(nc, k))
            return am_fail_at(d, n, "custom_fields",
                              "victorOps config contains custom field %s which cannot be used as "
                              "it conflicts with the fixed/static fields",
                              reserved[i]);
    }
    return 0;
}

static int check_wechat(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc)
{
    if (!kv_set(nc, "message_type"))
        am_notifier_set(nc, "message_type", "text");
    const char *t = am_notifier_get(nc, "message_type");
    if (strcmp(t, "text") != 0 && strcmp(t, "markdown") != 0)
        return am_fail_at(d, n, "message_type",
                          "weChat message type \"%s\" does not match valid options "
                          "^(text|markdown)$",
                          t);
    return 0;
}

static int check_telegram(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc)
{
    const char *chat = am_notifier_get(nc, "chat_id"), *pm = am_notifier_get(nc, "parse_mode");
    if (!kv_set(nc, "bot_token"))
        return ydec_fail(d, n, "missing bot_token on telegram_config");
    if (!chat || strcmp(chat, "0") == 0)
        return ydec_fail(d, n, "missing chat_id on telegram_config");
    if (pm && *pm && strcmp(pm, "Markdown") != 0 && strcmp(pm, "MarkdownV2") != 0 &&
        strcmp(pm, "HTML") != 0)
        return am_fail_at(d, n, "parse_mode",
                          "unknown parse_mode on telegram_config, must be Markdown, MarkdownV2, "
                          "HTML or empty string");
    return 0;
}

static int check_sns(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc)
{
    /* Go: (TargetARN == "") != (TopicARN == "") != (PhoneNumber == ""),
     * left to right, which also lets all three through. */
    bool t = !kv_set(nc, "target_arn"), a = !kv_set(nc, "topic_arn"),
         p = !kv_set(nc, "phone_number");
    if ((t != a) != p)
        return ydec_fail(d, n,
                         "must provide either a Target ARN, Topic ARN, or Phone Number for SNS "
                         "config");
    return 0;
}

static int check_webex(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc)
{
    if (!kv_set(nc, "room_id"))
        return ydec_fail(d, n, "missing room_id on webex_config");
    if (!nc->http_config_own || !nc->http_config_own->authorization)
        return ydec_fail(d, n, "missing webex_configs.http_config.authorization");
    return 0;
}

static int check_msteams(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc)
{
    if (!am_notifier_get(nc, "webhook_url") && !kv_set(nc, "webhook_url_file"))
        return ydec_fail(d, n, "one of webhook_url or webhook_url_file must be configured");
    return fail_both(d, n, nc, "webhook_url", "webhook_url_file");
}

/* ---- schemas ---- */

static const struct nf_field opsgenie_fields[] = {
    {"api_key", NF_STR},    {"api_key_file", NF_STR},   {"api_url", NF_URL},
    {"message", NF_STR},    {"description", NF_STR},    {"source", NF_STR},
    {"details", NF_STRMAP}, {"entity", NF_STR},         {"responders", NF_RESPONDERS},
    {"actions", NF_STR},    {"tags", NF_STR},           {"note", NF_STR},
    {"priority", NF_STR},   {"update_alerts", NF_BOOL}, {NULL, NF_STR},
};
static const struct nf_default opsgenie_defaults[] = {
    {"message", TPL("opsgenie.default.message")},
    {"description", TPL("opsgenie.default.description")},
    {"source", TPL("opsgenie.default.source")},
    {NULL, NULL},
};

static const struct nf_field pushover_fields[] = {
    {"user_key", NF_STR}, {"token", NF_STR},     {"title", NF_STR}, {"message", NF_STR},
    {"url", NF_STR},      {"url_title", NF_STR}, {"sound", NF_STR}, {"priority", NF_STR},
    {"retry", NF_GODUR},  {"expire", NF_GODUR},  {"html", NF_BOOL}, {NULL, NF_STR},
};
static const struct nf_default pushover_defaults[] = {
    {"title", TPL("pushover.default.title")},
    {"message", TPL("pushover.default.message")},
    {"url", TPL("pushover.default.url")},
    {"priority", "{{ if eq .Status \"firing\" }}2{{ else }}0{{ end }}"},
    {"retry", "1m"},
    {"expire", "1h"},
    {NULL, NULL},
};

static const struct nf_field victorops_fields[] = {
    {"api_key", NF_STR},
    {"api_key_file", NF_STR},
    {"api_url", NF_URL},
    {"routing_key", NF_STR},
    {"message_type", NF_STR},
    {"state_message", NF_STR},
    {"entity_display_name", NF_STR},
    {"monitoring_tool", NF_STR},
    {"custom_fields", NF_STRMAP},
    {NULL, NF_STR},
};
static const struct nf_default victorops_defaults[] = {
    {"message_type", "CRITICAL"},
    {"state_message", TPL("victorops.default.state_message")},
    {"entity_display_name", TPL("victorops.default.entity_display_name")},
    {"monitoring_tool", TPL("victorops.default.monitoring_tool")},
    {NULL, NULL},
};

static const struct nf_field wechat_fields[] = {
    {"api_secret", NF_STR},   {"corp_id", NF_STR},  {"message", NF_STR}, {"api_url", NF_URL},
    {"to_user", NF_STR},      {"to_party", NF_STR}, {"to_tag", NF_STR},  {"agent_id", NF_STR},
    {"message_type", NF_STR}, {NULL, NF_STR},
};
static const struct nf_default wechat_defaults[] = {
    {"message", TPL("wechat.default.message")},   {"to_user", TPL("wechat.default.to_user")},
    {"to_party", TPL("wechat.default.to_party")}, {"to_tag", TPL("wechat.default.to_tag")},
    {"agent_id", TPL("wechat.default.agent_id")}, {NULL, NULL},
};

static const struct nf_field telegram_fields[] = {
    {"api_url", NF_URL},
    {"bot_token", NF_STR},
    {"chat_id", NF_INT},
    {"message", NF_STR},
    {"disable_notifications", NF_BOOL},
    {"parse_mode", NF_STR},
    {NULL, NF_STR},
};
static const struct nf_default telegram_defaults[] = {
    {"message", TPL("telegram.default.message")},
    {"parse_mode", "HTML"},
    {NULL, NULL},
};

static const struct nf_field sns_fields[] = {
    {"api_url", NF_STR},      {"sigv4", NF_SIGV4},       {"topic_arn", NF_STR},
    {"phone_number", NF_STR}, {"target_arn", NF_STR},    {"subject", NF_STR},
    {"message", NF_STR},      {"attributes", NF_STRMAP}, {NULL, NF_STR},
};
static const struct nf_default sns_defaults[] = {
    {"subject", TPL("sns.default.subject")},
    {"message", TPL("sns.default.message")},
    {NULL, NULL},
};

static const struct nf_field webex_fields[] = {
    {"api_url", NF_URL},
    {"message", NF_STR},
    {"room_id", NF_STR},
    {NULL, NF_STR},
};
static const struct nf_default webex_defaults[] = {
    {"message", TPL("webex.default.message")},
    {NULL, NULL},
};

static const struct nf_field msteams_fields[] = {
    {"webhook_url", NF_SECRET_URL},
    {"webhook_url_file", NF_STR},
    {"title", NF_STR},
    {"summary", NF_STR},
    {"text", NF_STR},
    {NULL, NF_STR},
};
static const struct nf_default msteams_defaults[] = {
    {"title", TPL("msteams.default.title")},
    {"summary", TPL("msteams.default.summary")},
    {"text", TPL("msteams.default.text")},
    {NULL, NULL},
};

static const struct nf_field discord_fields[] = {
    {"webhook_url", NF_SECRET_URL},
    {"title", NF_STR},
    {"message", NF_STR},
    {NULL, NF_STR},
};
static const struct nf_default discord_defaults[] = {
    {"title", TPL("discord.default.title")},
    {"message", TPL("discord.default.message")},
    {NULL, NULL},
};

static const struct nf_schema schemas[] = {
    [AM_NOTIFIER_OPSGENIE] = {"opsgenie", true, opsgenie_fields, opsgenie_defaults, check_opsgenie},
    [AM_NOTIFIER_PUSHOVER] = {"pushover", true, pushover_fields, pushover_defaults, check_pushover},
    [AM_NOTIFIER_VICTOROPS] = {"victorops", true, victorops_fields, victorops_defaults,
                               check_victorops},
    [AM_NOTIFIER_WECHAT] = {"wechat", false, wechat_fields, wechat_defaults, check_wechat},
    [AM_NOTIFIER_TELEGRAM] = {"telegram", true, telegram_fields, telegram_defaults, check_telegram},
    [AM_NOTIFIER_SNS] = {"sns", true, sns_fields, sns_defaults, check_sns},
    [AM_NOTIFIER_WEBEX] = {"webex", true, webex_fields, webex_defaults, check_webex},
    [AM_NOTIFIER_MSTEAMS] = {"msteams", true, msteams_fields, msteams_defaults, check_msteams},
    [AM_NOTIFIER_DISCORD] = {"discord", true, discord_fields, discord_defaults, NULL},
};

const char *am_notifier_kind_name(enum am_notifier_kind k)
{
    return schemas[k].name;
}

bool am_notifier_kind_of(const char *key, enum am_notifier_kind *kind)
{
    for (size_t i = 0; i < sizeof schemas / sizeof *schemas; i++) {
        size_t l = strlen(schemas[i].name);
        if (strncmp(key, schemas[i].name, l) == 0 && strcmp(key + l, "_configs") == 0) {
            *kind = (enum am_notifier_kind)i;
            return true;
        }
    }
    return false;
}

/* ---- decoding one config ---- */

static const struct nf_field *schema_field(const struct nf_schema *s, const char *name)
{
    for (const struct nf_field *f = s->fields; f->name; f++)
        if (strcmp(f->name, name) == 0)
            return f;
    return NULL;
}

/* One `key: value` pair of a notifier mapping. */
static int notifier_pair(struct ydec *d, const struct nf_schema *s, const struct ynode *k,
                         const struct ynode *v, struct am_notifier_config *nc)
{
    const struct nf_field *f = NULL;
    if (strcmp(k->s, "send_resolved") != 0 && strcmp(k->s, "http_config") != 0 &&
        !(f = schema_field(s, k->s)))
        return ydec_fail(d, k, "unknown field \"%s\"", k->s);
    size_t old = ydec_push_field(d, k->s);
    int rc = 0;
    if (f)
        rc = nf_value(d, v, f, nc);
    else if (strcmp(k->s, "send_resolved") == 0)
        rc = v->kind == YNODE_NULL ? (nc->send_resolved = false, 0)
                                   : ydec_bool(d, v, &nc->send_resolved);
    else if (v->kind != YNODE_NULL)
        rc = am_dec_http_config(d, v, &nc->http_config_own);
    if (rc == 0)
        ydec_pop(d, old);
    return rc;
}

static int notifier_decode(struct ydec *d, const struct ynode *n, const struct nf_schema *s,
                           struct am_notifier_config *nc)
{
    if (n->kind != YNODE_MAP)
        return ydec_fail(d, n, "expected a %s config mapping", s->name);
    nc->send_resolved = s->send_resolved;
    for (const struct nf_default *def = s->defaults; def->key; def++)
        am_notifier_set(nc, def->key, def->value);
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        if (k->kind != YNODE_SCALAR)
            return ydec_fail(d, k, "mapping keys must be strings");
        for (size_t j = 0; j < i; j++)
            if (n->items[2 * j]->kind == YNODE_SCALAR && strcmp(n->items[2 * j]->s, k->s) == 0)
                return ydec_fail(d, k, "field %s already set", k->s);
        if (notifier_pair(d, s, k, v, nc) < 0)
            return -1;
    }
    return s->check ? s->check(d, n, nc) : 0;
}

int am_dec_notifiers(struct ydec *d, const struct ynode *n, enum am_notifier_kind kind,
                     struct am_receiver *r)
{
    if (n->kind != YNODE_SEQ)
        return ydec_fail(d, n, "expected a list of %s configs", schemas[kind].name);
    r->other = xrealloc(r->other, (r->nother + n->n + 1) * sizeof *r->other);
    for (size_t i = 0; i < n->n; i++) {
        struct am_notifier_config *nc = &r->other[r->nother++];
        memset(nc, 0, sizeof *nc);
        nc->kind = kind;
        size_t old = ydec_push_index(d, i);
        if (notifier_decode(d, n->items[i], &schemas[kind], nc) < 0)
            return -1;
        ydec_pop(d, old);
    }
    return 0;
}

void am_notifier_free(struct am_notifier_config *nc)
{
    am_http_config_free(nc->http_config_own);
    for (size_t i = 0; i < nc->nfields; i++) {
        free(nc->fields[i].key);
        free(nc->fields[i].value);
    }
    free(nc->fields);
}

/* ---- global defaults ---- */

/* Go appends "/" to a URL's path when missing (OpsGenie, WeChat,
 * VictorOps API URLs). */
static void url_ensure_slash(struct am_notifier_config *nc, const char *key)
{
    const char *u = am_notifier_get(nc, key);
    if (!u)
        return;
    const char *p = strstr(u, "://");
    p = p ? p + 3 : u;
    size_t end = strcspn(p, "?#") + (size_t)(p - u);
    const char *slash = memchr(p, '/', end - (size_t)(p - u));
    if (slash && u[end - 1] == '/')
        return;
    struct sbuf b = SBUF_INIT;
    sbuf_append(&b, u, end);
    sbuf_putc(&b, '/');
    sbuf_puts(&b, u + end);
    am_notifier_set(nc, key, b.data);
    sbuf_free(&b);
}

/* Sets key from the global value if unset; fails with msg if both are. */
static int from_global(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc,
                       const char *key, const char *global, const char *msg)
{
    if (kv_set(nc, key))
        return 0;
    if (!global || !*global)
        return msg ? ydec_fail(d, n, "%s", msg) : 0;
    am_notifier_set(nc, key, global);
    return 0;
}

/* api_key / api_key_file pair from the global pair. */
static int key_from_global(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc,
                           const char *gkey, const char *gfile, const char *msg)
{
    if (kv_set(nc, "api_key") || kv_set(nc, "api_key_file"))
        return 0;
    if (!(gkey && *gkey) && !(gfile && *gfile))
        return ydec_fail(d, n, "%s", msg);
    if (gkey && *gkey)
        am_notifier_set(nc, "api_key", gkey);
    if (gfile && *gfile)
        am_notifier_set(nc, "api_key_file", gfile);
    return 0;
}

int am_notifier_apply_global(struct ydec *d, const struct ynode *n, struct am_notifier_config *nc,
                             const struct am_global_config *g)
{
    nc->http_config = nc->http_config_own ? nc->http_config_own : g->http_config;
    switch (nc->kind) {
    case AM_NOTIFIER_OPSGENIE:
        if (from_global(d, n, nc, "api_url", g->opsgenie_api_url, "no global OpsGenie URL set"))
            return -1;
        url_ensure_slash(nc, "api_url");
        return key_from_global(d, n, nc, g->opsgenie_api_key, g->opsgenie_api_key_file,
                               "no global OpsGenie API Key set either inline or in a file");
    case AM_NOTIFIER_WECHAT:
        if (from_global(d, n, nc, "api_url", g->wechat_api_url, "no global Wechat URL set") ||
            from_global(d, n, nc, "api_secret", g->wechat_api_secret,
                        "no global Wechat ApiSecret set") ||
            from_global(d, n, nc, "corp_id", g->wechat_api_corp_id, "no global Wechat CorpID set"))
            return -1;
        url_ensure_slash(nc, "api_url");
        return 0;
    case AM_NOTIFIER_VICTOROPS:
        if (from_global(d, n, nc, "api_url", g->victorops_api_url, "no global VictorOps URL set"))
            return -1;
        url_ensure_slash(nc, "api_url");
        return key_from_global(d, n, nc, g->victorops_api_key, g->victorops_api_key_file,
                               "no global VictorOps API Key set");
    case AM_NOTIFIER_TELEGRAM:
        return from_global(d, n, nc, "api_url", g->telegram_api_url, NULL);
    case AM_NOTIFIER_DISCORD:
        if (!am_notifier_get(nc, "webhook_url"))
            return ydec_fail(d, n, "no discord webhook URL provided");
        return 0;
    case AM_NOTIFIER_WEBEX:
        return from_global(d, n, nc, "api_url", g->webex_api_url, "no global Webex URL set");
    default:
        return 0;
    }
}
