/* sd_docker.c — docker_sd_configs (Prometheus's discovery/moby docker.go
 * and network.go).
 *
 * A refresh is two GETs on the Docker Engine API, one after the other:
 * /containers/json (with the config's filters as the `filters` query
 * parameter, JSON {"name": {"value": true}} as the Docker client encodes
 * them) and then /networks.  host is unix:///path (curl connects to the
 * socket: CURLOPT_UNIX_SOCKET_PATH), tcp://host:port (plain HTTP), or
 * http(s)://; as in Prometheus, the HTTP client settings (auth, TLS,
 * proxy) apply only to http and https hosts.  Both answers are then turned
 * into targets by sd_docker_groups, a pure function:
 *
 *   for each container with a name, for each of its networks (a container
 *   in "container:<id>" mode borrows the networks of the container it
 *   shares; with match_first_network only the network first by name), one
 *   target per TCP port (ip:private port, with __meta_docker_port_private,
 *   and _public / _public_ip when published), or, when there is none, one
 *   target at ip:<port> (host_networking_host for host networking);
 *
 * each labelled with __meta_docker_container_id / _name / _network_mode,
 * __meta_docker_container_label_<sanitized name>, __meta_docker_network_ip
 * and the network's __meta_docker_network_id / _name / _scope / _internal /
 * _ingress / _label_<sanitized name>.  All targets form Prometheus's one
 * group "Docker"; here each is a group of its own (see sd.h).
 *
 * JSON is read with the YAML parser (JSON is YAML's flow style). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/yaml_tree.h"
#include "scrape/sd.h"

/* ---- JSON helpers ---- */

static const char *jstr(const struct ynode *map, const char *key)
{
    const struct ynode *v = map && map->kind == YNODE_MAP ? ynode_get(map, key) : NULL;
    return v && v->kind == YNODE_SCALAR && !ynode_is_null(v) ? v->s : "";
}

static const struct ynode *jget(const struct ynode *map, const char *key, enum ynode_kind kind)
{
    const struct ynode *v = map && map->kind == YNODE_MAP ? ynode_get(map, key) : NULL;
    return v && v->kind == kind ? v : NULL;
}

static const char *jbool(const struct ynode *map, const char *key)
{
    return strcmp(jstr(map, key), "true") == 0 ? "true" : "false";
}

/* Labels {k: v} → prefix + sanitized k = v. */
static void put_labels(struct ystrmap *out, const struct ynode *labels, const char *prefix)
{
    struct sbuf name = SBUF_INIT;
    for (size_t i = 0; labels && i < labels->n; i++) {
        const struct ynode *k = labels->items[2 * i], *v = labels->items[2 * i + 1];
        if (k->kind != YNODE_SCALAR)
            continue;
        sbuf_reset(&name);
        sbuf_puts(&name, prefix);
        sd_label_sanitize(&name, k->s);
        struct prom_target_group tmp = {.labels = *out};
        sd_label_put(&tmp, name.data, v->kind == YNODE_SCALAR && !ynode_is_null(v) ? v->s : "");
        *out = tmp.labels;
    }
    sbuf_free(&name);
}

static void map_put(struct ystrmap *m, const char *k, const char *v)
{
    struct prom_target_group tmp = {.labels = *m};
    sd_label_put(&tmp, k, v);
    *m = tmp.labels;
}

/* ---- Networks ---- */

struct net_labels {
    char *id;
    struct ystrmap labels;
};

static size_t networks_labels(const struct ynode *root, struct net_labels **out)
{
    size_t n = 0;
    *out = NULL;
    for (size_t i = 0; root && root->kind == YNODE_SEQ && i < root->n; i++) {
        const struct ynode *nw = root->items[i];
        if (nw->kind != YNODE_MAP)
            continue;
        *out = xrealloc(*out, (n + 1) * sizeof **out);
        struct net_labels *nl = &(*out)[n++];
        memset(nl, 0, sizeof *nl);
        nl->id = xstrdup(jstr(nw, "Id"));
        map_put(&nl->labels, "__meta_docker_network_id", nl->id);
        map_put(&nl->labels, "__meta_docker_network_name", jstr(nw, "Name"));
        map_put(&nl->labels, "__meta_docker_network_scope", jstr(nw, "Scope"));
        map_put(&nl->labels, "__meta_docker_network_internal", jbool(nw, "Internal"));
        map_put(&nl->labels, "__meta_docker_network_ingress", jbool(nw, "Ingress"));
        put_labels(&nl->labels, jget(nw, "Labels", YNODE_MAP), "__meta_docker_network_label_");
    }
    return n;
}

static const struct ystrmap *network_labels_of(const struct net_labels *nl, size_t n,
                                               const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(nl[i].id, id) == 0)
            return &nl[i].labels;
    return NULL;
}

/* ---- Containers ---- */

struct docker_build {
    const struct sd_docker_opts *o;
    const struct ynode *containers;
    struct net_labels *nets;
    size_t nnets;
    struct sd_groups *out;
};

static const struct ynode *container_by_id(const struct ynode *containers, const char *id)
{
    for (size_t i = 0; i < containers->n; i++)
        if (strcmp(jstr(containers->items[i], "Id"), id) == 0)
            return containers->items[i];
    return NULL;
}

/* The container's networks, or those of the container it shares
 * ("container:<id>" network mode), followed as far as it goes. */
static const struct ynode *container_networks(const struct docker_build *b, const struct ynode *c)
{
    const struct ynode *nets = jget(jget(c, "NetworkSettings", YNODE_MAP), "Networks", YNODE_MAP);
    const char *mode = jstr(jget(c, "HostConfig", YNODE_MAP), "NetworkMode");
    for (size_t hops = 0; (!nets || nets->n == 0) && hops < b->containers->n; hops++) {
        if (strncmp(mode, "container:", 10) != 0)
            break;
        const struct ynode *other = container_by_id(b->containers, mode + 10);
        if (!other)
            break;
        nets = jget(jget(other, "NetworkSettings", YNODE_MAP), "Networks", YNODE_MAP);
        mode = jstr(jget(other, "HostConfig", YNODE_MAP), "NetworkMode");
    }
    return nets;
}

static void host_port(struct sbuf *b, const char *host, const char *port)
{
    if (strchr(host, ':'))
        sbuf_printf(b, "[%s]:%s", host, port);
    else
        sbuf_printf(b, "%s:%s", host, port);
}

/* One target: common (container) labels, the network's, then extra. */
static struct prom_target_group *add_target(const struct docker_build *b, const char *addr,
                                            const struct ystrmap *common,
                                            const struct ystrmap *netl)
{
    struct prom_target_group *g = sd_groups_add_target(b->out, "Docker", addr);
    for (size_t i = 0; i < common->n; i++)
        sd_label_put(g, common->keys[i], common->values[i]);
    for (size_t i = 0; netl && i < netl->n; i++)
        sd_label_put(g, netl->keys[i], netl->values[i]);
    return g;
}

static void network_targets(const struct docker_build *b, const struct ynode *c,
                            const struct ynode *net, const struct ystrmap *common)
{
    const char *ip = jstr(net, "IPAddress");
    const struct ystrmap *netl = network_labels_of(b->nets, b->nnets, jstr(net, "NetworkID"));
    const struct ynode *ports = jget(c, "Ports", YNODE_SEQ);
    bool added = false;
    struct sbuf addr = SBUF_INIT;
    char num[32];
    for (size_t i = 0; ports && i < ports->n; i++) {
        const struct ynode *p = ports->items[i];
        if (strcmp(jstr(p, "Type"), "tcp") != 0)
            continue;
        snprintf(num, sizeof num, "%lu", strtoul(jstr(p, "PrivatePort"), NULL, 10));
        sbuf_reset(&addr);
        host_port(&addr, ip, num);
        struct prom_target_group *g = add_target(b, addr.data, common, netl);
        sd_label_put(g, "__meta_docker_network_ip", ip);
        sd_label_put(g, "__meta_docker_port_private", num);
        unsigned long pub = strtoul(jstr(p, "PublicPort"), NULL, 10);
        if (pub > 0) {
            snprintf(num, sizeof num, "%lu", pub);
            sd_label_put(g, "__meta_docker_port_public", num);
            sd_label_put(g, "__meta_docker_port_public_ip", jstr(p, "IP"));
        }
        added = true;
    }
    if (!added) {
        sbuf_reset(&addr);
        if (strcmp(jstr(jget(c, "HostConfig", YNODE_MAP), "NetworkMode"), "host") != 0) {
            snprintf(num, sizeof num, "%d", b->o->port);
            host_port(&addr, ip, num);
        } else {
            sbuf_puts(&addr, b->o->host_networking_host);
        }
        struct prom_target_group *g = add_target(b, addr.data, common, netl);
        sd_label_put(g, "__meta_docker_network_ip", ip);
    }
    sbuf_free(&addr);
}

static int cmp_key(const void *a, const void *b)
{
    const struct ynode *x = *(const struct ynode *const *)a, *y = *(const struct ynode *const *)b;
    return strcmp(x->s, y->s);
}

static void container_targets(const struct docker_build *b, const struct ynode *c)
{
    const struct ynode *names = jget(c, "Names", YNODE_SEQ);
    if (!names || names->n == 0 || names->items[0]->kind != YNODE_SCALAR)
        return;
    struct ystrmap common = {0};
    map_put(&common, "__meta_docker_container_id", jstr(c, "Id"));
    map_put(&common, "__meta_docker_container_name", names->items[0]->s);
    map_put(&common, "__meta_docker_container_network_mode",
            jstr(jget(c, "HostConfig", YNODE_MAP), "NetworkMode"));
    put_labels(&common, jget(c, "Labels", YNODE_MAP), "__meta_docker_container_label_");
    const struct ynode *nets = container_networks(b, c);
    size_t n = nets ? nets->n : 0;
    const struct ynode **keys = n ? xcalloc(n, sizeof *keys) : NULL;
    size_t nk = 0;
    for (size_t i = 0; i < n; i++)
        if (nets->items[2 * i]->kind == YNODE_SCALAR && nets->items[2 * i + 1]->kind == YNODE_MAP)
            keys[nk++] = nets->items[2 * i];
    if (b->o->match_first_network && nk > 1) {
        qsort(keys, nk, sizeof *keys, cmp_key);
        nk = 1;
    }
    for (size_t i = 0; i < nk; i++)
        network_targets(b, c, ynode_get(nets, keys[i]->s), &common);
    free(keys);
    ystrmap_free(&common);
}

int sd_docker_groups(const char *containers, size_t clen, const char *networks, size_t nlen,
                     const struct sd_docker_opts *o, struct sd_groups *out, char *err,
                     size_t errsize)
{
    struct ytree ct, nt;
    struct conf_error ce = {{0}};
    if (ytree_load_string(&ct, "/containers/json", containers, clen, &ce) < 0) {
        snprintf(err, errsize, "error while listing containers: %s", ce.msg);
        return -1;
    }
    if (ytree_load_string(&nt, "/networks", networks, nlen, &ce) < 0) {
        snprintf(err, errsize, "error while computing network labels: %s", ce.msg);
        ytree_free(&ct);
        return -1;
    }
    int rc = 0;
    if (ct.root && !ynode_is_null(ct.root) && ct.root->kind != YNODE_SEQ) {
        snprintf(err, errsize, "error while listing containers: not a list");
        rc = -1;
    } else {
        struct docker_build b = {.o = o, .containers = ct.root, .out = out};
        b.nnets = networks_labels(nt.root, &b.nets);
        for (size_t i = 0; ct.root && ct.root->kind == YNODE_SEQ && i < ct.root->n; i++)
            container_targets(&b, ct.root->items[i]);
        for (size_t i = 0; i < b.nnets; i++) {
            free(b.nets[i].id);
            ystrmap_free(&b.nets[i].labels);
        }
        free(b.nets);
    }
    ytree_free(&ct);
    ytree_free(&nt);
    return rc;
}

/* ---- The refresher ---- */

struct docker_sd {
    char *base;                        /* http://host:port or http://localhost (unix socket) */
    char *unix_socket;                 /* or NULL */
    char *filters;                     /* "?filters=..." or "" */
    const struct prom_http_client *hc; /* NULL unless http(s); borrowed as in sd_http.c */
    struct sd_docker_opts opts;
    char *host_networking_host;
    int64_t interval_ms;
    struct sd_fetch fetch;
    char *containers; /* the first answer, while /networks runs */
    size_t clen;
    struct sd_refresher *r;
};

static void docker_fail(struct docker_sd *s, const char *what, const char *err)
{
    char msg[768];
    snprintf(msg, sizeof msg, "%s: %s", what, err);
    free(s->containers);
    s->containers = NULL;
    sd_refresher_done(s->r, NULL, msg);
}

static bool docker_answer_ok(struct docker_sd *s, struct sd_fetch *f, const char *what,
                             const char *err)
{
    if (err) {
        docker_fail(s, what, err);
        return false;
    }
    if (f->status != 200) {
        char m[600];
        snprintf(m, sizeof m, "Error response from daemon (status %ld): %.400s", f->status,
                 f->body.data ? f->body.data : "");
        docker_fail(s, what, m);
        return false;
    }
    return true;
}

static void docker_on_networks(struct sd_fetch *f, const char *err)
{
    struct docker_sd *s = (struct docker_sd *)((char *)f - offsetof(struct docker_sd, fetch));
    if (!docker_answer_ok(s, f, "error while computing network labels", err))
        return;
    struct sd_groups fresh = {0};
    char msg[512];
    int rc = sd_docker_groups(s->containers, s->clen, f->body.data ? f->body.data : "", f->body.len,
                              &s->opts, &fresh, msg, sizeof msg);
    free(s->containers);
    s->containers = NULL;
    if (rc < 0) {
        sd_groups_free(&fresh);
        sd_refresher_done(s->r, NULL, msg);
        return;
    }
    sd_refresher_done(s->r, &fresh, NULL);
}

static void docker_get(struct docker_sd *s, const char *path, const char *query,
                       sd_fetch_done_fn done, const char *what)
{
    struct sbuf url = SBUF_INIT;
    sbuf_printf(&url, "%s%s%s", s->base, path, query);
    char err[256];
    const char *extra[] = {"Accept: application/json", NULL};
    int rc = sd_fetch_start(&s->fetch, s->r->host, url.data, s->unix_socket, s->hc, extra,
                            s->interval_ms, done, err, sizeof err);
    sbuf_free(&url);
    if (rc < 0)
        docker_fail(s, what, err);
}

static void docker_on_containers(struct sd_fetch *f, const char *err)
{
    struct docker_sd *s = (struct docker_sd *)((char *)f - offsetof(struct docker_sd, fetch));
    if (!docker_answer_ok(s, f, "error while listing containers", err))
        return;
    s->clen = f->body.len;
    s->containers = f->body.len ? xstrndup(f->body.data, f->body.len) : xstrdup("");
    docker_get(s, "/networks", "", docker_on_networks, "error while computing network labels");
}

static void docker_start(struct sd_refresher *r)
{
    struct docker_sd *s = r->state;
    docker_get(s, "/containers/json", s->filters, docker_on_containers,
               "error while listing containers");
}

static bool docker_stop(struct sd_refresher *r)
{
    struct docker_sd *s = r->state;
    sd_fetch_cancel(&s->fetch);
    free(s->base);
    free(s->unix_socket);
    free(s->filters);
    free(s->host_networking_host);
    free(s->containers);
    free(s);
    return true;
}

static const struct sd_mech docker_mech = {"docker", docker_start, docker_stop};

static void put_query_escaped(struct sbuf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            strchr("-_.~", *p))
            sbuf_putc(b, (char)*p);
        else
            sbuf_printf(b, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
    }
}

/* filters.Args's JSON, URL-encoded: {"name":{"v1":true,"v2":true},...}. */
static char *docker_filters_query(const struct prom_docker_sd *cfg)
{
    if (cfg->n_filters == 0)
        return xstrdup("");
    struct sbuf j = SBUF_INIT;
    sbuf_putc(&j, '{');
    for (size_t i = 0; i < cfg->n_filters; i++) {
        const struct prom_docker_filter *f = &cfg->filters[i];
        sbuf_printf(&j, "%s", i ? "," : "");
        sbuf_put_json_string(&j, f->name ? f->name : "", strlen(f->name ? f->name : ""));
        sbuf_putc(&j, ':');
        sbuf_putc(&j, '{');
        for (size_t k = 0; k < f->values.n; k++) {
            sbuf_printf(&j, "%s", k ? "," : "");
            sbuf_put_json_string(&j, f->values.v[k], strlen(f->values.v[k]));
            sbuf_puts(&j, ":true");
        }
        sbuf_putc(&j, '}');
    }
    sbuf_putc(&j, '}');
    struct sbuf q = SBUF_INIT;
    sbuf_puts(&q, "?filters=");
    put_query_escaped(&q, j.data);
    sbuf_free(&j);
    return sbuf_detach(&q);
}

struct sd_refresher *sd_docker_new(struct sd_host *h, const struct prom_docker_sd *cfg)
{
    struct docker_sd *s = xcalloc(1, sizeof *s);
    const char *host = cfg->host;
    if (strncmp(host, "unix://", 7) == 0) {
        s->unix_socket = xstrdup(host + 7);
        s->base = xstrdup("http://localhost");
    } else if (strncmp(host, "tcp://", 6) == 0) {
        struct sbuf b = SBUF_INIT;
        sbuf_printf(&b, "http://%s", host + 6);
        s->base = sbuf_detach(&b);
    } else {
        s->base = xstrdup(host);
        s->hc = &cfg->http;
    }
    size_t bl = strlen(s->base);
    while (bl > 0 && s->base[bl - 1] == '/')
        s->base[--bl] = '\0';
    s->filters = docker_filters_query(cfg);
    s->host_networking_host = xstrdup(cfg->host_networking_host ? cfg->host_networking_host : "");
    s->opts =
        (struct sd_docker_opts){(int)cfg->port, s->host_networking_host, cfg->match_first_network};
    s->interval_ms = cfg->refresh_interval_ms;
    struct sbuf key = SBUF_INIT;
    sbuf_printf(&key, "docker\xff%s\xff%lld\xff%s\xff%s\xff%d", cfg->host, (long long)cfg->port,
                s->filters, s->host_networking_host, cfg->match_first_network);
    s->r = sd_refresher_new(h, &docker_mech, s, sbuf_detach(&key), cfg->refresh_interval_ms);
    return s->r;
}
