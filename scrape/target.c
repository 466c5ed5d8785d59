/* target.c — targets from service discovery, relabeled (Prometheus's
 * scrape/target.go PopulateLabels, discovery/file; the loop-driven
 * mechanisms, http / dns / docker, live in sd_*.c and hand their groups
 * to the discovery here).
 *
 * Building is a pure function of the job config and the current groups, so
 * every refresh rebuilds the whole set: jobs have at most thousands of
 * targets and refreshes come minutes apart, while keeping the code one
 * straight path that is easy to check against Prometheus.  The per-file
 * state (last good groups of each file) is what survives between refreshes.
 * See target.h for the rules. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <xxhash.h>

#include "conf/yaml_tree.h"
#include "scrape/sd.h"
#include "scrape/target.h"
#include "util/duration.h"

/* ---- Discovered labels ---- */

void target_discovered_labels(const struct prom_scrape_config *cfg, const char *address,
                              const struct ystrmap *group_labels, struct label_set *out)
{
    label_set_clear(out);
    label_set_set(out, "__address__", address);
    for (size_t i = 0; group_labels && i < group_labels->n; i++)
        if (strcmp(group_labels->keys[i], "__address__") != 0)
            label_set_set(out, group_labels->keys[i], group_labels->values[i]);
    char iv[32], to[32];
    duration_format(cfg->scrape_interval_ms, iv, sizeof iv);
    duration_format(cfg->scrape_timeout_ms, to, sizeof to);
    const char *defaults[][2] = {
        {"job", cfg->job_name},
        {"__scrape_interval__", iv},
        {"__scrape_timeout__", to},
        {"__metrics_path__", cfg->metrics_path ? cfg->metrics_path : "/metrics"},
        {"__scheme__", cfg->scheme ? cfg->scheme : "http"},
    };
    for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
        if (!*label_set_get(out, defaults[i][0]))
            label_set_set(out, defaults[i][0], defaults[i][1] ? defaults[i][1] : "");
    struct sbuf name = SBUF_INIT;
    for (size_t i = 0; i < cfg->n_params; i++) {
        const struct prom_named_list *p = &cfg->params[i];
        sbuf_reset(&name);
        sbuf_printf(&name, "__param_%s", p->name);
        if (p->values.n > 0 && !*label_set_get(out, name.data))
            label_set_set(out, name.data, p->values.v[0]);
    }
    sbuf_free(&name);
}

/* ---- URL and hash ---- */

static void put_escaped(struct sbuf *b, const char *s, bool query)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                     c == '-' || c == '_' || c == '.' || c == '~';
        if (!query && !plain && c && strchr("/:@!$&'()*+,;=", c))
            plain = true;
        if (plain) {
            sbuf_putc(b, (char)c);
        } else if (query && c == ' ') {
            sbuf_putc(b, '+');
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            sbuf_append(b, e, 3);
        }
    }
}

struct qparam {
    const char *key;
    const char *const *values;
    size_t n;
    const char *first; /* overrides values[0] (a __param_ label) */
};

static int qparam_cmp(const void *a, const void *b)
{
    return strcmp(((const struct qparam *)a)->key, ((const struct qparam *)b)->key);
}

/* Target.URL(): the job's params, the first value of each replaced by a
 * __param_<name> label; keys sorted, as url.Values.Encode does. */
static char *target_url(const struct prom_scrape_config *cfg, const struct label_set *ls)
{
    size_t cap = cfg->n_params + ls->n, n = 0;
    struct qparam *q = cap ? xcalloc(cap, sizeof *q) : NULL;
    for (size_t i = 0; i < cfg->n_params; i++)
        q[n++] = (struct qparam){cfg->params[i].name, (const char *const *)cfg->params[i].values.v,
                                 cfg->params[i].values.n, NULL};
    for (size_t i = 0; i < ls->n; i++) {
        if (strncmp(ls->v[i].name, "__param_", 8) != 0)
            continue;
        const char *key = ls->v[i].name + 8;
        size_t j = 0;
        while (j < n && strcmp(q[j].key, key) != 0)
            j++;
        if (j == n)
            q[n++] = (struct qparam){key, NULL, 0, NULL};
        q[j].first = ls->v[i].value;
    }
    if (n)
        qsort(q, n, sizeof *q, qparam_cmp);
    struct sbuf b = SBUF_INIT;
    sbuf_printf(&b, "%s://%s", label_set_get(ls, "__scheme__"), label_set_get(ls, "__address__"));
    const char *path = label_set_get(ls, "__metrics_path__");
    if (*path && *path != '/')
        sbuf_putc(&b, '/');
    put_escaped(&b, path, false);
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        size_t nv = q[i].n ? q[i].n : 1;
        for (size_t k = 0; k < nv; k++) {
            const char *v = k == 0 && q[i].first ? q[i].first : (q[i].n ? q[i].values[k] : "");
            sbuf_putc(&b, first ? '?' : '&');
            first = false;
            put_escaped(&b, q[i].key, true);
            sbuf_putc(&b, '=');
            put_escaped(&b, v, true);
        }
    }
    free(q);
    return sbuf_detach(&b);
}

/* Target.hash(): FNV-1a over "%016d" of labels.Hash() (xxhash64 of the
 * canonical bytes) and the URL. */
static uint64_t target_hash(const struct label_set *ls, const char *url)
{
    XXH64_state_t *st = XXH64_createState();
    XXH64_reset(st, 0);
    static const char ff = (char)0xff;
    for (size_t i = 0; i < ls->n; i++) {
        XXH64_update(st, ls->v[i].name, strlen(ls->v[i].name));
        XXH64_update(st, &ff, 1);
        XXH64_update(st, ls->v[i].value, strlen(ls->v[i].value));
        XXH64_update(st, &ff, 1);
    }
    uint64_t lh = XXH64_digest(st);
    XXH64_freeState(st);
    char buf[32];
    snprintf(buf, sizeof buf, "%016llu", (unsigned long long)lh);
    uint64_t h = 14695981039346656037ull;
    for (const char *p = buf; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (const char *p = url; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h;
}

/* ---- PopulateLabels ---- */

static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        size_t len;
        uint32_t c, min;
        if ((*p & 0xe0) == 0xc0)
            len = 2, c = *p & 0x1f, min = 0x80;
        else if ((*p & 0xf0) == 0xe0)
            len = 3, c = *p & 0x0f, min = 0x800;
        else if ((*p & 0xf8) == 0xf0)
            len = 4, c = *p & 0x07, min = 0x10000;
        else
            return false;
        for (size_t i = 1; i < len; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            c = c << 6 | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        p += len;
    }
    return true;
}

void scrape_target_free(struct scrape_target *t)
{
    label_set_free(&t->labels);
    label_set_free(&t->discovered);
    free(t->url);
    memset(t, 0, sizeof *t);
}

int target_populate(const struct prom_scrape_config *cfg, struct relabel_rules *rules,
                    struct label_set *lb, struct scrape_target *t, char *err, size_t errsize)
{
    memset(t, 0, sizeof *t);
    label_set_copy(&t->discovered, lb);
    if (!relabel_apply(rules, lb))
        return 0;
    const char *addr = label_set_get(lb, "__address__");
    if (!*addr) {
        snprintf(err, errsize, "no address");
        goto fail;
    }
    if (strchr(addr, '/')) {
        snprintf(err, errsize, "\"%s\" is not a valid hostname", addr);
        goto fail;
    }
    const char *iv = label_set_get(lb, "__scrape_interval__");
    const char *to = label_set_get(lb, "__scrape_timeout__");
    if (duration_parse(iv, &t->interval_ms) < 0) {
        snprintf(err, errsize, "error parsing scrape interval: not a valid duration string: \"%s\"",
                 iv);
        goto fail;
    }
    if (t->interval_ms == 0) {
        snprintf(err, errsize, "scrape interval cannot be 0");
        goto fail;
    }
    if (duration_parse(to, &t->timeout_ms) < 0) {
        snprintf(err, errsize, "error parsing scrape timeout: not a valid duration string: \"%s\"",
                 to);
        goto fail;
    }
    if (t->timeout_ms == 0) {
        snprintf(err, errsize, "scrape timeout cannot be 0");
        goto fail;
    }
    if (t->timeout_ms > t->interval_ms) {
        snprintf(err, errsize,
                 "scrape timeout cannot be greater than scrape interval (\"%s\" > \"%s\")", to, iv);
        goto fail;
    }
    for (size_t i = lb->n; i-- > 0;)
        if (strncmp(lb->v[i].name, "__meta_", 7) == 0)
            label_set_del(lb, lb->v[i].name);
    if (!*label_set_get(lb, "instance"))
        label_set_set(lb, "instance", label_set_get(lb, "__address__"));
    for (size_t i = 0; i < lb->n; i++)
        if (!utf8_valid(lb->v[i].value)) {
            snprintf(err, errsize, "invalid label value for \"%s\": \"%s\"", lb->v[i].name,
                     lb->v[i].value);
            goto fail;
        }
    label_set_copy(&t->labels, lb);
    t->url = target_url(cfg, &t->labels);
    t->hash = target_hash(&t->labels, t->url);
    return 1;
fail:
    scrape_target_free(t);
    return -1;
}

/* ---- Target sets ---- */

void target_set_free(struct target_set *s)
{
    for (size_t i = 0; i < s->n_active; i++)
        scrape_target_free(&s->active[i]);
    free(s->active);
    for (size_t i = 0; i < s->n_dropped; i++)
        label_set_free(&s->dropped[i]);
    free(s->dropped);
    ystrlist_free(&s->errors);
    memset(s, 0, sizeof *s);
}

static void strlist_push(struct ystrlist *l, char *owned)
{
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = owned;
}

/* TargetsFromGroup for one group; `source` names it in errors. */
static void target_set_add_group(struct target_set *s, const struct prom_scrape_config *cfg,
                                 struct relabel_rules *rules, const struct prom_target_group *g,
                                 const char *source)
{
    struct label_set lb = LABEL_SET_INIT;
    for (size_t i = 0; i < g->targets.n; i++) {
        target_discovered_labels(cfg, g->targets.v[i], &g->labels, &lb);
        struct scrape_target t;
        char err[512];
        int rc = target_populate(cfg, rules, &lb, &t, err, sizeof err);
        if (rc < 0) {
            struct sbuf m = SBUF_INIT;
            sbuf_printf(&m, "instance %zu in group %s: %s", i, source, err);
            strlist_push(&s->errors, sbuf_detach(&m));
            continue;
        }
        if (rc == 0) {
            s->n_dropped_total++;
            if (cfg->keep_dropped_targets == 0 || s->n_dropped < cfg->keep_dropped_targets) {
                s->dropped = xrealloc(s->dropped, (s->n_dropped + 1) * sizeof *s->dropped);
                s->dropped[s->n_dropped] = (struct label_set)LABEL_SET_INIT;
                label_set_copy(&s->dropped[s->n_dropped++], &t.discovered);
            }
            scrape_target_free(&t);
            continue;
        }
        bool dup = false;
        for (size_t j = 0; j < s->n_active && !dup; j++)
            dup = s->active[j].hash == t.hash && strcmp(s->active[j].url, t.url) == 0;
        if (dup) {
            scrape_target_free(&t);
            continue;
        }
        s->active = xrealloc(s->active, (s->n_active + 1) * sizeof *s->active);
        s->active[s->n_active++] = t;
    }
    label_set_free(&lb);
}

/* ---- file_sd files ---- */

void target_groups_free(struct prom_target_group *groups, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ystrlist_free(&groups[i].targets);
        ystrmap_free(&groups[i].labels);
    }
    free(groups);
}

static int node_fail(char *err, size_t errsize, const char *path, const struct ynode *n,
                     const char *what)
{
    snprintf(err, errsize, "%s:%d:%d: %s", path, n->line, n->col, what);
    return -1;
}

/* One {targets, labels} mapping; meta_name = meta_value is added (the
 * file's path, the http_sd URL). */
static int decode_group(const char *path, bool strict, const struct ynode *n, const char *meta_name,
                        const char *meta_value, struct prom_target_group *g, char *err,
                        size_t errsize)
{
    if (ynode_is_null(n))
        return node_fail(err, errsize, path, n, "nil target group item found");
    if (n->kind != YNODE_MAP)
        return node_fail(err, errsize, path, n, "a target group must be a mapping");
    g->pos = (struct prom_pos){n->line, n->col};
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        const char *key = k->kind == YNODE_SCALAR ? k->s : "";
        if (strcmp(key, "targets") == 0) {
            if (ynode_is_null(v))
                continue;
            if (v->kind != YNODE_SEQ)
                return node_fail(err, errsize, path, v, "targets must be a list of strings");
            for (size_t j = 0; j < v->n; j++) {
                if (v->items[j]->kind != YNODE_SCALAR)
                    return node_fail(err, errsize, path, v->items[j], "a target must be a string");
                strlist_push(&g->targets, xstrdup(v->items[j]->s));
            }
        } else if (strcmp(key, "labels") == 0) {
            if (ynode_is_null(v))
                continue;
            if (v->kind != YNODE_MAP)
                return node_fail(err, errsize, path, v, "labels must be a mapping");
            for (size_t j = 0; j < v->n; j++) {
                const struct ynode *lk = v->items[2 * j], *lv = v->items[2 * j + 1];
                if (lk->kind != YNODE_SCALAR || !prom_label_name_is_valid(lk->s, PROM_NAMES_UTF8)) {
                    char m[300];
                    snprintf(m, sizeof m, "\"%s\" is not a valid label name",
                             lk->kind == YNODE_SCALAR ? lk->s : "");
                    return node_fail(err, errsize, path, lk, m);
                }
                if (lv->kind != YNODE_SCALAR && !ynode_is_null(lv))
                    return node_fail(err, errsize, path, lv, "a label value must be a string");
                ystrmap_set(&g->labels, lk->s, lv->kind == YNODE_SCALAR ? lv->s : "");
            }
        } else if (strict) {
            char m[300];
            snprintf(m, sizeof m,
                     "field %s not found in type struct { Targets []string; Labels "
                     "model.LabelSet }",
                     key);
            return node_fail(err, errsize, path, k, m);
        } /* JSON ignores unknown fields */
    }
    ystrmap_set(&g->labels, meta_name, meta_value);
    return 0;
}

/* A document holding a list of groups (or nothing). */
static int decode_groups(const char *path, bool strict, const struct ynode *root,
                         const char *meta_name, const char *meta_value,
                         struct prom_target_group **groups, size_t *n, char *err, size_t errsize)
{
    if (!root || ynode_is_null(root))
        return 0;
    if (root->kind != YNODE_SEQ)
        return node_fail(err, errsize, path, root, "the file must hold a list of target groups");
    struct prom_target_group *g = root->n ? xcalloc(root->n, sizeof *g) : NULL;
    for (size_t i = 0; i < root->n; i++) {
        if (decode_group(path, strict, root->items[i], meta_name, meta_value, &g[i], err, errsize) <
            0) {
            target_groups_free(g, root->n);
            return -1;
        }
    }
    *groups = g;
    *n = root->n;
    return 0;
}

int target_groups_from_json(const char *name, const char *text, size_t len, const char *meta_name,
                            const char *meta_value, struct prom_target_group **groups, size_t *n,
                            char *err, size_t errsize)
{
    *groups = NULL;
    *n = 0;
    struct ytree t;
    struct conf_error ce = {{0}};
    if (ytree_load_string(&t, name, text, len, &ce) < 0) {
        snprintf(err, errsize, "%s", ce.msg);
        return -1;
    }
    int rc = decode_groups(name, false, t.root, meta_name, meta_value, groups, n, err, errsize);
    ytree_free(&t);
    return rc;
}

int target_file_sd_read(const char *path, struct prom_target_group **groups, size_t *n, char *err,
                        size_t errsize)
{
    *groups = NULL;
    *n = 0;
    const char *ext = strrchr(path, '.');
    bool json = ext && strcasecmp(ext, ".json") == 0;
    /* JSON is read with the YAML parser (JSON is YAML's flow style). */
    struct ytree t;
    struct conf_error ce = {{0}};
    if (ytree_load_file(&t, path, &ce) < 0) {
        snprintf(err, errsize, "%s", ce.msg);
        return -1;
    }
    int rc = decode_groups(path, !json, t.root, "__meta_filepath", path, groups, n, err, errsize);
    ytree_free(&t);
    return rc;
}

/* ---- Discovery: static and file_sd groups over time ---- */

struct sd_file {
    char *path;
    struct prom_target_group *groups;
    size_t n;
};

struct file_sd_state {
    const struct prom_file_sd *cfg;
    int64_t next_ms;
    struct sd_file *files; /* sorted by path */
    size_t n;
};

struct target_discovery {
    const struct prom_sd_configs *sd;
    struct file_sd_state *fsd;
    size_t n_fsd;
    bool refreshed_once;
    struct ystrlist errors;
    /* http, dns and docker SD (sd.h), in that order; none without a loop */
    struct sd_host host;
    struct sd_refresher **refs;
    size_t nrefs;
};

static void discovery_release(struct sd_host *h)
{
    struct target_discovery *d =
        (struct target_discovery *)((char *)h - offsetof(struct target_discovery, host));
    free(d->host.user_agent);
    free(d->host.name);
    free(d);
}

static void discovery_add_ref(struct target_discovery *d, struct sd_refresher *r)
{
    d->refs = xrealloc(d->refs, (d->nrefs + 1) * sizeof *d->refs);
    d->refs[d->nrefs++] = r;
}

struct target_discovery *target_discovery_new(const struct prom_sd_configs *sd,
                                              const struct target_discovery_options *o)
{
    struct target_discovery *d = xcalloc(1, sizeof *d);
    d->sd = sd;
    d->n_fsd = sd->n_file_sd;
    d->fsd = d->n_fsd ? xcalloc(d->n_fsd, sizeof *d->fsd) : NULL;
    for (size_t i = 0; i < d->n_fsd; i++)
        d->fsd[i].cfg = &sd->file_sd[i];
    d->host.release = discovery_release;
    if (!o || !o->loop)
        return d;
    d->host.loop = o->loop;
    d->host.log = o->log;
    d->host.metrics = o->metrics;
    d->host.user_agent = xstrdup(o->user_agent ? o->user_agent : "Vigil");
    d->host.name = xstrdup(o->name ? o->name : "");
    d->host.changed = o->changed;
    d->host.ctx = o->ctx;
    for (size_t i = 0; i < sd->n_http_sd; i++)
        discovery_add_ref(d, sd_http_new(&d->host, &sd->http_sd[i]));
    for (size_t i = 0; i < sd->n_dns_sd; i++)
        discovery_add_ref(d, sd_dns_new(&d->host, &sd->dns_sd[i]));
    for (size_t i = 0; i < sd->n_docker_sd; i++)
        discovery_add_ref(d, sd_docker_new(&d->host, &sd->docker_sd[i]));
    return d;
}

void target_discovery_adopt(struct target_discovery *d, const struct target_discovery *old)
{
    if (!old)
        return;
    for (size_t i = 0; i < d->nrefs; i++)
        for (size_t k = 0; k < old->nrefs; k++)
            if (d->refs[i]->groups.n == 0 && strcmp(d->refs[i]->key, old->refs[k]->key) == 0) {
                sd_groups_copy(&d->refs[i]->groups, &old->refs[k]->groups);
                break;
            }
}

static void sd_files_free(struct sd_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(f[i].path);
        target_groups_free(f[i].groups, f[i].n);
    }
    free(f);
}

void target_discovery_stop(struct target_discovery *d)
{
    for (size_t i = 0; i < d->nrefs; i++)
        sd_refresher_close(d->refs[i]);
    free(d->refs);
    d->refs = NULL;
    d->nrefs = 0;
}

void target_discovery_free(struct target_discovery *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_fsd; i++)
        sd_files_free(d->fsd[i].files, d->fsd[i].n);
    free(d->fsd);
    d->fsd = NULL;
    d->n_fsd = 0;
    ystrlist_free(&d->errors);
    target_discovery_stop(d);
    sd_host_close(&d->host); /* frees d, now or once the refreshers are closed */
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* discovery/file refresh(): every file the globs match now; a file that
 * fails keeps its previous groups. */
static void file_sd_refresh(struct target_discovery *d, struct file_sd_state *fs)
{
    struct ystrlist paths = {0};
    for (size_t i = 0; i < fs->cfg->files.n; i++) {
        glob_t g;
        if (glob(fs->cfg->files.v[i], 0, NULL, &g) == 0)
            for (size_t j = 0; j < g.gl_pathc; j++)
                strlist_push(&paths, xstrdup(g.gl_pathv[j]));
        globfree(&g);
    }
    if (paths.n)
        qsort(paths.v, paths.n, sizeof *paths.v, cmp_str);
    struct sd_file *nf = paths.n ? xcalloc(paths.n, sizeof *nf) : NULL;
    size_t nn = 0;
    for (size_t i = 0; i < paths.n; i++) {
        if (nn && strcmp(nf[nn - 1].path, paths.v[i]) == 0)
            continue; /* two globs matched the same file */
        struct sd_file *f = &nf[nn++];
        f->path = xstrdup(paths.v[i]);
        char err[600];
        if (target_file_sd_read(f->path, &f->groups, &f->n, err, sizeof err) == 0)
            continue;
        struct sbuf m = SBUF_INIT;
        sbuf_printf(&m, "error reading file \"%s\": %s", f->path, err);
        strlist_push(&d->errors, sbuf_detach(&m));
        for (size_t k = 0; k < fs->n; k++)
            if (strcmp(fs->files[k].path, f->path) == 0) { /* keep the last good groups */
                f->groups = fs->files[k].groups;
                f->n = fs->files[k].n;
                fs->files[k].groups = NULL;
                fs->files[k].n = 0;
            }
    }
    ystrlist_free(&paths);
    sd_files_free(fs->files, fs->n);
    fs->files = nf;
    fs->n = nn;
}

void target_discovery_refresh(struct target_discovery *d, int64_t now_ms)
{
    ystrlist_free(&d->errors);
    for (size_t i = 0; i < d->n_fsd; i++) {
        struct file_sd_state *fs = &d->fsd[i];
        if (d->refreshed_once && now_ms < fs->next_ms)
            continue;
        file_sd_refresh(d, fs);
        int64_t ri = fs->cfg->refresh_interval_ms > 0 ? fs->cfg->refresh_interval_ms : 300000;
        fs->next_ms = now_ms + ri;
    }
    if (!d->refreshed_once)
        for (size_t i = 0; i < d->nrefs; i++)
            sd_refresher_start(d->refs[i]);
    d->refreshed_once = true;
}

int64_t target_discovery_next_refresh_ms(const struct target_discovery *d)
{
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < d->n_fsd; i++)
        if (d->fsd[i].next_ms < next)
            next = d->fsd[i].next_ms;
    return next;
}

void target_discovery_each_group(const struct target_discovery *d, target_group_fn fn, void *ctx)
{
    char src[64];
    for (size_t i = 0; i < d->sd->n_static_configs; i++) {
        snprintf(src, sizeof src, "%zu", i);
        fn(ctx, &d->sd->static_configs[i], src);
    }
    struct sbuf fsrc = SBUF_INIT;
    for (size_t i = 0; i < d->n_fsd; i++)
        for (size_t f = 0; f < d->fsd[i].n; f++)
            for (size_t g = 0; g < d->fsd[i].files[f].n; g++) {
                sbuf_reset(&fsrc);
                sbuf_printf(&fsrc, "%s:%zu", d->fsd[i].files[f].path, g);
                fn(ctx, &d->fsd[i].files[f].groups[g], fsrc.data);
            }
    sbuf_free(&fsrc);
    for (size_t i = 0; i < d->nrefs; i++)
        for (size_t g = 0; g < d->refs[i]->groups.n; g++)
            fn(ctx, &d->refs[i]->groups.v[g], d->refs[i]->groups.source[g]);
}

const struct ystrlist *target_discovery_errors(const struct target_discovery *d)
{
    return &d->errors;
}

/* ---- job_targets ---- */

struct job_targets {
    const struct prom_scrape_config *cfg;
    struct relabel_rules *rules;
    struct target_discovery *disc;
    bool refreshed_once;
    struct target_set set;
};

int job_targets_new(const struct prom_scrape_config *cfg, const struct target_discovery_options *o,
                    struct job_targets **out, char *err, size_t errsize)
{
    struct job_targets *jt = xcalloc(1, sizeof *jt);
    jt->cfg = cfg;
    char msg[512];
    if (relabel_rules_compile(&cfg->relabel_configs, cfg->metric_name_validation_scheme, &jt->rules,
                              msg, sizeof msg) < 0) {
        snprintf(err, errsize, "job \"%s\": relabel_configs: %s", cfg->job_name, msg);
        free(jt);
        return -1;
    }
    jt->disc = target_discovery_new(&cfg->sd, o);
    *out = jt;
    return 0;
}

void job_targets_free(struct job_targets *jt)
{
    if (!jt)
        return;
    target_discovery_free(jt->disc);
    relabel_rules_free(jt->rules);
    target_set_free(&jt->set);
    free(jt);
}

static bool sets_differ(const struct target_set *a, const struct target_set *b)
{
    if (a->n_active != b->n_active)
        return true;
    for (size_t i = 0; i < a->n_active; i++)
        if (a->active[i].hash != b->active[i].hash || strcmp(a->active[i].url, b->active[i].url))
            return true;
    return false;
}

struct build_ctx {
    struct job_targets *jt;
    struct target_set *set;
};

static void build_group(void *ctx, const struct prom_target_group *g, const char *source)
{
    struct build_ctx *b = ctx;
    target_set_add_group(b->set, b->jt->cfg, b->jt->rules, g, source);
}

bool job_targets_refresh(struct job_targets *jt, int64_t now_ms)
{
    target_discovery_refresh(jt->disc, now_ms);
    struct target_set ns = {0};
    struct build_ctx b = {jt, &ns};
    target_discovery_each_group(jt->disc, build_group, &b);
    bool changed = !jt->refreshed_once || sets_differ(&ns, &jt->set);
    jt->refreshed_once = true;
    target_set_free(&jt->set);
    jt->set = ns;
    return changed;
}

void job_targets_adopt(struct job_targets *jt, const struct job_targets *old)
{
    target_discovery_adopt(jt->disc, old ? old->disc : NULL);
}

int64_t job_targets_next_refresh_ms(const struct job_targets *jt)
{
    return target_discovery_next_refresh_ms(jt->disc);
}

const struct target_set *job_targets_current(const struct job_targets *jt)
{
    return &jt->set;
}

const struct ystrlist *job_targets_sd_errors(const struct job_targets *jt)
{
    return target_discovery_errors(jt->disc);
}
