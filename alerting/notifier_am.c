/* notifier_am.c — Alertmanager sets: from one `alerting.alertmanagers`
 * entry's service discovery to the URLs alerts are POSTed to.
 *
 * Discovery is scrape/'s (target_discovery: static_configs, file_sd_configs
 * re-read every refresh_interval); only turning a group into Alertmanagers
 * differs from scraping, and follows Prometheus's AlertmanagerFromGroup:
 * each address starts as {__address__, __scheme__ = scheme, __alerts_path__
 * = path.Join("/", path_prefix, "/api/v2/alerts")}, the group's labels are
 * added (they may override the scheme and path, not the address), then the
 * entry's relabel_configs run.  A dropped Alertmanager is remembered by the
 * URL of its labels before relabeling; a kept one must have an address
 * without '/', or its whole group is skipped with an error, as in Go.  The
 * URL is scheme://address/path; duplicates (by URL) are dropped.
 *
 * Every refresh rebuilds the set (a few Alertmanagers, minutes apart), gets
 * the metric children of each URL (so sent and errors show 0 at once, as
 * Prometheus initialises them) and tells the notifier. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting/notifier_internal.h"

/* ---- URLs ---- */

/* Go's path.Join("/", prefix, "/api/v2/alerts"): segments joined, empty
 * and "." segments removed, ".." resolved, always absolute. */
static char *alerts_path(const char *prefix)
{
    struct sbuf in = SBUF_INIT;
    sbuf_printf(&in, "/%s/api/v2/alerts", prefix ? prefix : "");
    char **seg = xcalloc(in.len + 1, sizeof *seg);
    size_t nseg = 0;
    char *save = NULL;
    for (char *t = strtok_r(in.data, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (strcmp(t, ".") == 0)
            continue;
        if (strcmp(t, "..") == 0) {
            if (nseg)
                nseg--;
            continue;
        }
        seg[nseg++] = t;
    }
    struct sbuf out = SBUF_INIT;
    for (size_t i = 0; i < nseg; i++)
        sbuf_printf(&out, "/%s", seg[i]);
    if (!out.len)
        sbuf_putc(&out, '/');
    free(seg);
    sbuf_free(&in);
    return sbuf_detach(&out);
}

void amset_target_labels(const struct prom_alertmanager_config *cfg, const char *address,
                         const struct ystrmap *group_labels, struct label_set *out)
{
    label_set_clear(out);
    label_set_set(out, "__address__", address);
    label_set_set(out, "__scheme__", cfg->scheme ? cfg->scheme : "http");
    char *path = alerts_path(cfg->path_prefix);
    label_set_set(out, "__alerts_path__", path);
    free(path);
    for (size_t i = 0; group_labels && i < group_labels->n; i++)
        if (strcmp(group_labels->keys[i], "__address__") != 0)
            label_set_set(out, group_labels->keys[i], group_labels->values[i]);
}

char *amset_url(const struct label_set *ls)
{
    struct sbuf b = SBUF_INIT;
    const char *path = label_set_get(ls, "__alerts_path__");
    sbuf_printf(&b, "%s://%s%s%s", label_set_get(ls, "__scheme__"),
                label_set_get(ls, "__address__"), path[0] && path[0] != '/' ? "/" : "", path);
    return sbuf_detach(&b);
}

/* ---- Building the set from the groups ---- */

struct sync_state {
    struct amset *s;
    struct nam *ams; /* the new set */
    size_t nams;
    char **dropped;
    size_t ndropped;
};

static bool url_seen(const struct sync_state *st, const char *url)
{
    for (size_t i = 0; i < st->nams; i++)
        if (strcmp(st->ams[i].url, url) == 0)
            return true;
    return false;
}

static struct metric *child(struct metric_family *f, const char *url)
{
    const char *v[] = {url};
    return f ? metric_family_with(f, v) : NULL;
}

static void am_add(struct sync_state *st, char *url)
{
    if (url_seen(st, url)) {
        free(url);
        return;
    }
    struct notifier_shared *sh = st->s->sh;
    st->ams = xrealloc(st->ams, (st->nams + 1) * sizeof *st->ams);
    st->ams[st->nams++] =
        (struct nam){url, child(sh->sent, url), child(sh->errors, url), child(sh->latency, url)};
}

/* AlertmanagerFromGroup: all of a group's Alertmanagers, or none and an
 * error. */
static void sync_group(void *ctx, const struct prom_target_group *g, const char *source)
{
    struct sync_state *st = ctx;
    struct amset *s = st->s;
    struct label_set lb = LABEL_SET_INIT;
    char **urls = g->targets.n ? xcalloc(g->targets.n, sizeof *urls) : NULL;
    bool *kept = g->targets.n ? xcalloc(g->targets.n, sizeof *kept) : NULL;
    const char *bad = NULL;
    for (size_t i = 0; i < g->targets.n && !bad; i++) {
        amset_target_labels(s->cfg, g->targets.v[i], &g->labels, &lb);
        char *pre = amset_url(&lb);
        kept[i] = relabel_apply(s->rules, &lb);
        if (!kept[i]) {
            urls[i] = pre;
            continue;
        }
        free(pre);
        if (strchr(label_set_get(&lb, "__address__"), '/'))
            bad = g->targets.v[i];
        else
            urls[i] = amset_url(&lb);
    }
    if (bad) {
        char msg[600];
        snprintf(msg, sizeof msg, "group %s: \"%s\" is not a valid hostname", source, bad);
        log_error(s->sh->log, "notifier", "Creating discovered Alertmanagers failed", "config",
                  s->key, "err", msg);
    }
    for (size_t i = 0; i < g->targets.n; i++) {
        if (bad || !urls[i]) {
            free(urls[i]);
        } else if (kept[i]) {
            am_add(st, urls[i]);
        } else {
            st->dropped = xrealloc(st->dropped, (st->ndropped + 1) * sizeof *st->dropped);
            st->dropped[st->ndropped++] = urls[i];
        }
    }
    free(urls);
    free(kept);
    label_set_free(&lb);
}

static void ams_free(struct nam *ams, size_t n, char **dropped, size_t ndropped)
{
    for (size_t i = 0; i < n; i++)
        free(ams[i].url);
    free(ams);
    for (size_t i = 0; i < ndropped; i++)
        free(dropped[i]);
    free(dropped);
}

void amset_sync(struct amset *s)
{
    struct sync_state st = {.s = s};
    target_discovery_each_group(s->disc, sync_group, &st);
    ams_free(s->ams, s->nams, s->dropped, s->ndropped);
    s->ams = st.ams;
    s->nams = st.nams;
    s->dropped = st.dropped;
    s->ndropped = st.ndropped;
    if (s->sh->ams_changed)
        s->sh->ams_changed(s->sh->ctx);
}

/* ---- Lifecycle ---- */

static void amset_refresh(struct amset *s);

/* An http / dns / docker SD config has new groups. */
static void on_sd_changed(void *ctx)
{
    amset_refresh(ctx);
}

int amset_new(struct notifier_shared *sh, const struct prom_alertmanager_config *cfg, size_t idx,
              enum prom_name_validation names, struct amset **out, char *err, size_t errsize)
{
    struct amset *s = xcalloc(1, sizeof *s);
    s->sh = sh;
    s->cfg = cfg;
    snprintf(s->key, sizeof s->key, "config-%zu", idx);
    char msg[512];
    if (relabel_rules_compile(&cfg->relabel_configs, names, &s->rules, msg, sizeof msg) < 0) {
        snprintf(err, errsize, "alertmanagers[%zu]: relabel_configs: %s", idx, msg);
        free(s);
        return -1;
    }
    if (relabel_rules_compile(&cfg->alert_relabel_configs, names, &s->alert_rules, msg,
                              sizeof msg) < 0) {
        snprintf(err, errsize, "alertmanagers[%zu]: alert_relabel_configs: %s", idx, msg);
        relabel_rules_free(s->rules);
        free(s);
        return -1;
    }
    struct target_discovery_options dop = {
        .loop = sh->loop, .log = sh->log, .name = s->key, .changed = on_sd_changed, .ctx = s};
    s->disc = target_discovery_new(&cfg->sd, &dop);
    uv_timer_init(sh->loop, &s->sd_timer);
    s->sd_timer.data = s;
    *out = s;
    return 0;
}

static void on_sd_timer(uv_timer_t *t);

/* Refreshes what is due, rebuilds, and arms the timer for the next file_sd
 * re-read. */
static void amset_refresh(struct amset *s)
{
    int64_t now = (int64_t)uv_now(s->sh->loop);
    target_discovery_refresh(s->disc, now);
    const struct ystrlist *errs = target_discovery_errors(s->disc);
    for (size_t i = 0; i < errs->n; i++)
        log_error(s->sh->log, "discovery", "Error reading file", "discovery", "file", "config",
                  s->key, "err", errs->v[i]);
    amset_sync(s);
    int64_t next = target_discovery_next_refresh_ms(s->disc);
    if (next != INT64_MAX)
        uv_timer_start(&s->sd_timer, on_sd_timer, (uint64_t)(next > now ? next - now : 0), 0);
}

static void on_sd_timer(uv_timer_t *t)
{
    amset_refresh(t->data);
}

void amset_start(struct amset *s)
{
    amset_refresh(s);
}

void amset_stop_discovery(struct amset *s)
{
    uv_timer_stop(&s->sd_timer);
    target_discovery_stop(s->disc);
}

static void on_set_closed(uv_handle_t *h)
{
    struct amset *s = h->data;
    target_discovery_free(s->disc);
    relabel_rules_free(s->rules);
    relabel_rules_free(s->alert_rules);
    ams_free(s->ams, s->nams, s->dropped, s->ndropped);
    free(s);
}

void amset_close(struct amset *s)
{
    uv_timer_stop(&s->sd_timer);
    target_discovery_stop(s->disc); /* the config may go before on_set_closed */
    uv_close((uv_handle_t *)&s->sd_timer, on_set_closed);
}
