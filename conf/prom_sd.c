/* prom_sd.c — service discovery sections of scrape and alertmanager configs.
 *
 * Prometheus inlines every SD mechanism as a `<name>_sd_configs` list in the
 * containing mapping.  We decode the five Vigil runs (static, file, http,
 * dns, docker) into typed arrays with Prometheus's defaults and checks, and
 * accept the others whole: their lists are not looked into, only their
 * names are recorded in `sd.unsupported` so the server can warn that those
 * targets will not be discovered.  A null entry in any list is the error
 * Prometheus gives ("empty or null section in static_configs").
 *
 * Each array field in `struct prom_sd_configs` is followed by its count;
 * decoders receive the array's address and find the count right after it
 * (checked by the static assertions below). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/prom_internal.h"
#include "util/sbuf.h"

#define COUNT_FOLLOWS(type, arr, cnt)                                                              \
    _Static_assert(offsetof(type, cnt) == offsetof(type, arr) + sizeof(void *),                    \
                   #cnt " must follow " #arr)
COUNT_FOLLOWS(struct prom_sd_configs, static_configs, n_static_configs);
COUNT_FOLLOWS(struct prom_sd_configs, file_sd, n_file_sd);
COUNT_FOLLOWS(struct prom_sd_configs, http_sd, n_http_sd);
COUNT_FOLLOWS(struct prom_sd_configs, dns_sd, n_dns_sd);
COUNT_FOLLOWS(struct prom_sd_configs, docker_sd, n_docker_sd);
COUNT_FOLLOWS(struct prom_docker_sd, filters, n_filters);

static size_t *count_after(void *arr)
{
    return (size_t *)((char *)arr + sizeof(void *));
}

/* ydec_seq item decoders get no list name; each mechanism wraps this. */
static int sd_entry_nonnull(struct ydec *d, const struct ynode *n, const char *list)
{
    if (ynode_is_null(n))
        return ydec_fail(d, n, "empty or null section in %s", list);
    return 0;
}

/* ---- static_configs ---- */

static int dec_target_labels(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_strmap(d, n, out) < 0)
        return -1;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *k = n->items[2 * i], *v = n->items[2 * i + 1];
        if (!prom_label_name_is_valid(k->s, PROM_NAMES_UTF8))
            return ydec_fail(d, k, "\"%s\" is not a valid label name", k->s);
        if (v->kind == YNODE_SCALAR && !prom_utf8_is_valid(v->s))
            return ydec_fail(d, v, "\"%s\" is not a valid label value", v->s);
    }
    return 0;
}

static const struct yfield target_group_fields[] = {
    YFIELD(struct prom_target_group, targets, ydec_strlist),
    YFIELD(struct prom_target_group, labels, dec_target_labels),
    {NULL, NULL, 0},
};

static int dec_target_group(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_target_group *g = out;
    if (sd_entry_nonnull(d, n, "static_configs") < 0)
        return -1;
    g->pos = (struct prom_pos){n->line, n->col};
    return ydec_map(d, n, target_group_fields, g, NULL);
}

int prom_dec_static_configs(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_seq(d, n, out, count_after(out), sizeof(struct prom_target_group),
                    dec_target_group);
}

/* ---- file_sd_configs ---- */

static const struct yfield file_sd_fields[] = {
    YFIELD(struct prom_file_sd, files, ydec_strlist),
    YFIELD_NAMED("refresh_interval", struct prom_file_sd, refresh_interval_ms, ydec_duration),
    {NULL, NULL, 0},
};

/* Prometheus's ^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$ */
static bool file_sd_name_is_valid(const char *s)
{
    const char *star = strchr(s, '*');
    if (star && strchr(star + 1, '/'))
        return false;
    const char *dot = strrchr(s, '.');
    if (!dot || (star && dot < star))
        return false;
    static const char *ext[] = {"json", "yml", "yaml", "JSON", "YML", "YAML"};
    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (strcmp(dot + 1, ext[i]) == 0)
            return true;
    return false;
}

static int dec_file_sd(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_file_sd *f = out;
    if (sd_entry_nonnull(d, n, "file_sd_configs") < 0)
        return -1;
    f->refresh_interval_ms = 5 * 60 * 1000;
    if (ydec_map(d, n, file_sd_fields, f, NULL) < 0)
        return -1;
    if (f->files.n == 0)
        return prom_fail_at(d, n, "files",
                            "file service discovery config must contain at least one path name");
    const struct ynode *files = ynode_get(n, "files");
    for (size_t i = 0; i < f->files.n; i++) {
        if (!file_sd_name_is_valid(f->files.v[i])) {
            ydec_push_field(d, "files");
            ydec_push_index(d, i);
            return ydec_fail(d, files->items[i], "path name \"%s\" is not valid for file discovery",
                             f->files.v[i]);
        }
        prom_path_resolve(prom_dec_of(d)->dir, &f->files.v[i]);
    }
    return 0;
}

int prom_dec_file_sd(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_seq(d, n, out, count_after(out), sizeof(struct prom_file_sd), dec_file_sd);
}

/* ---- http_sd_configs ---- */

static const struct yfield http_sd_fields[] = {
    YFIELD(struct prom_http_sd, url, ydec_string),
    YFIELD_NAMED("refresh_interval", struct prom_http_sd, refresh_interval_ms, ydec_duration),
    PROM_HTTP_FIELDS(struct prom_http_sd, http),
    {NULL, NULL, 0},
};

/* The scheme and host of an absolute URL, as Go's url.Parse splits them. */
static int http_sd_url_check(struct ydec *d, const struct ynode *n, const char *url)
{
    if (!url || !*url)
        return prom_fail_at(d, n, "url", "URL is missing");
    const char *why = prom_url_problem(url);
    if (why)
        return prom_fail_at(d, n, "url", "parse \"%s\": %s", url, why);
    const char *colon = strchr(url, ':');
    size_t slen = colon ? (size_t)(colon - url) : 0;
    if (!((slen == 4 && strncasecmp(url, "http", 4) == 0) ||
          (slen == 5 && strncasecmp(url, "https", 5) == 0)))
        return prom_fail_at(d, n, "url", "URL scheme must be 'http' or 'https'");
    const char *host = colon + 1;
    if (strncmp(host, "//", 2) != 0 || strcspn(host + 2, "/?#") == 0 ||
        host[2 + strcspn(host + 2, "/?#@")] == '@' /* only userinfo */)
        return prom_fail_at(d, n, "url", "host is missing in URL");
    return 0;
}

static int dec_http_sd(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_http_sd *h = out;
    if (sd_entry_nonnull(d, n, "http_sd_configs") < 0)
        return -1;
    h->refresh_interval_ms = 60 * 1000;
    prom_http_init(&h->http);
    if (ydec_map(d, n, http_sd_fields, h, NULL) < 0)
        return -1;
    if (http_sd_url_check(d, n, h->url) < 0)
        return -1;
    return prom_http_validate(d, n, &h->http);
}

int prom_dec_http_sd(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_seq(d, n, out, count_after(out), sizeof(struct prom_http_sd), dec_http_sd);
}

/* ---- dns_sd_configs ---- */

static int dec_dns_type(struct ydec *d, const struct ynode *n, void *out)
{
    static const char *names[] = {"SRV", "A", "AAAA", "MX", "NS"};
    if (n->kind != YNODE_SCALAR)
        return ydec_fail(d, n, "expected a DNS record type");
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        if (strcasecmp(n->s, names[i]) == 0) {
            *(enum prom_dns_type *)out = (enum prom_dns_type)i;
            return 0;
        }
    }
    return ydec_fail(d, n, "invalid DNS-SD records type %s", n->s);
}

static const struct yfield dns_sd_fields[] = {
    YFIELD(struct prom_dns_sd, names, ydec_strlist),
    YFIELD_NAMED("refresh_interval", struct prom_dns_sd, refresh_interval_ms, ydec_duration),
    YFIELD(struct prom_dns_sd, type, dec_dns_type),
    YFIELD(struct prom_dns_sd, port, ydec_int),
    {NULL, NULL, 0},
};

static int dec_dns_sd(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_dns_sd *s = out;
    if (sd_entry_nonnull(d, n, "dns_sd_configs") < 0)
        return -1;
    s->refresh_interval_ms = 30 * 1000;
    s->type = PROM_DNS_SRV;
    if (ydec_map(d, n, dns_sd_fields, s, NULL) < 0)
        return -1;
    if (s->names.n == 0)
        return prom_fail_at(d, n, "names",
                            "DNS-SD config must contain at least one SRV record name");
    if (s->type != PROM_DNS_SRV && s->port == 0)
        return prom_fail_at(d, n, "type",
                            "a port is required in DNS-SD configs for all record types except SRV");
    return 0;
}

int prom_dec_dns_sd(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_seq(d, n, out, count_after(out), sizeof(struct prom_dns_sd), dec_dns_sd);
}

/* ---- docker_sd_configs ---- */

static const struct yfield docker_filter_fields[] = {
    YFIELD(struct prom_docker_filter, name, ydec_string),
    YFIELD(struct prom_docker_filter, values, ydec_strlist),
    {NULL, NULL, 0},
};

static int dec_docker_filter(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, docker_filter_fields, out, NULL);
}

static int dec_docker_filters(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_seq(d, n, out, count_after(out), sizeof(struct prom_docker_filter),
                    dec_docker_filter);
}

static const struct yfield docker_sd_fields[] = {
    YFIELD(struct prom_docker_sd, host, ydec_string),
    YFIELD(struct prom_docker_sd, port, ydec_int),
    YFIELD(struct prom_docker_sd, filters, dec_docker_filters),
    YFIELD(struct prom_docker_sd, host_networking_host, ydec_string),
    YFIELD(struct prom_docker_sd, match_first_network, ydec_bool),
    YFIELD_NAMED("refresh_interval", struct prom_docker_sd, refresh_interval_ms, ydec_duration),
    PROM_HTTP_FIELDS(struct prom_docker_sd, http),
    {NULL, NULL, 0},
};

static int dec_docker_sd(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_docker_sd *s = out;
    if (sd_entry_nonnull(d, n, "docker_sd_configs") < 0)
        return -1;
    s->port = 80;
    s->host_networking_host = xstrdup("localhost");
    s->match_first_network = true;
    s->refresh_interval_ms = 60 * 1000;
    prom_http_init(&s->http);
    if (ydec_map(d, n, docker_sd_fields, s, NULL) < 0)
        return -1;
    if (!s->host || !*s->host)
        return prom_fail_at(d, n, "host", "host missing");
    const char *why = prom_url_problem(s->host);
    if (why)
        return prom_fail_at(d, n, "host", "parse \"%s\": %s", s->host, why);
    return prom_http_validate(d, n, &s->http);
}

int prom_dec_docker_sd(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_seq(d, n, out, count_after(out), sizeof(struct prom_docker_sd), dec_docker_sd);
}

/* ---- everything else ---- */

int prom_dec_sd_unsupported(struct ydec *d, const struct ynode *n, void *out)
{
    (void)out; /* the name is recorded by prom_sd_finish */
    if (n->kind != YNODE_SEQ)
        return ydec_fail(d, n, "expected a list of SD configs");
    for (size_t i = 0; i < n->n; i++) {
        if (!ynode_is_null(n->items[i]))
            continue;
        const char *path = strrchr(d->path, '.');
        ydec_push_index(d, i);
        return ydec_fail(d, n->items[i], "empty or null section in %s", path ? path + 1 : d->path);
    }
    return 0;
}

static void strlist_push(struct ystrlist *l, const char *s)
{
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = xstrdup(s);
}

/* Prometheus rejects "http://host/path" in static targets unless relabel
 * rules could rewrite it. */
static int static_targets_check(struct ydec *d, const struct ynode *map,
                                const struct prom_sd_configs *sd)
{
    const struct ynode *sc = ynode_get(map, "static_configs");
    for (size_t i = 0; i < sd->n_static_configs; i++) {
        const struct prom_target_group *g = &sd->static_configs[i];
        for (size_t j = 0; j < g->targets.n; j++) {
            if (!strchr(g->targets.v[j], '/'))
                continue;
            const struct ynode *t = ynode_get(sc->items[i], "targets")->items[j];
            ydec_push_field(d, "static_configs");
            ydec_push_index(d, i);
            ydec_push_field(d, "targets");
            ydec_push_index(d, j);
            return ydec_fail(d, t, "\"%s\" is not a valid hostname", g->targets.v[j]);
        }
    }
    return 0;
}

int prom_sd_finish(struct ydec *d, const struct ynode *map, const struct yfield *fields,
                   const bool *seen, struct prom_sd_configs *sd, bool has_relabel)
{
    for (size_t i = 0; fields[i].name; i++) {
        if (fields[i].decode != prom_dec_sd_unsupported || !seen[i])
            continue;
        const struct ynode *v = ynode_get(map, fields[i].name);
        if (v && v->kind == YNODE_SEQ && v->n > 0)
            strlist_push(&sd->unsupported, fields[i].name);
    }
    if (!has_relabel)
        return static_targets_check(d, map, sd);
    return 0;
}

static void http_sd_free(struct prom_http_sd *h)
{
    free(h->url);
    prom_http_free(&h->http);
}

static void docker_sd_free(struct prom_docker_sd *s)
{
    free(s->host);
    free(s->host_networking_host);
    for (size_t i = 0; i < s->n_filters; i++) {
        free(s->filters[i].name);
        ystrlist_free(&s->filters[i].values);
    }
    free(s->filters);
    prom_http_free(&s->http);
}

void prom_sd_free(struct prom_sd_configs *sd)
{
    for (size_t i = 0; i < sd->n_static_configs; i++) {
        ystrlist_free(&sd->static_configs[i].targets);
        ystrmap_free(&sd->static_configs[i].labels);
    }
    free(sd->static_configs);
    for (size_t i = 0; i < sd->n_file_sd; i++)
        ystrlist_free(&sd->file_sd[i].files);
    free(sd->file_sd);
    for (size_t i = 0; i < sd->n_http_sd; i++)
        http_sd_free(&sd->http_sd[i]);
    free(sd->http_sd);
    for (size_t i = 0; i < sd->n_dns_sd; i++)
        ystrlist_free(&sd->dns_sd[i].names);
    free(sd->dns_sd);
    for (size_t i = 0; i < sd->n_docker_sd; i++)
        docker_sd_free(&sd->docker_sd[i]);
    free(sd->docker_sd);
    ystrlist_free(&sd->unsupported);
}
