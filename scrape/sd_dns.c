/* sd_dns.c — dns_sd_configs (Prometheus's discovery/dns).
 *
 * Like Prometheus, this asks the DNS servers of /etc/resolv.conf directly
 * (search domains applied, TCP on truncation) and does not read
 * /etc/hosts: a refresh is one res_nsearch per name, for the config's
 * record type, on libuv's worker pool (uv_queue_work), because the
 * resolver blocks.  The worker parses the answers into groups
 * (sd_dns_answer_parse, a pure function the unit tests feed canned
 * messages); the after-work callback, back on the loop, merges them.
 *
 * Each name stands alone, as in Prometheus: a name whose lookup fails
 * (SERVFAIL, timeout) keeps the groups it gave last and is logged; a name
 * that does not exist (NXDOMAIN) or has no records of the type gives no
 * targets.  Per record: A / AAAA → ip:port; SRV → target:port from the
 * record, with __meta_dns_srv_record_target (the record's name, trailing
 * dot kept) and __meta_dns_srv_record_port; MX and NS → name:port with
 * __meta_dns_mx_record_target / __meta_dns_ns_record_target; CNAMEs are
 * skipped.  Every target has __meta_dns_name, the name as configured.
 *
 * For tests, VIGIL_DNS_SD_NAMESERVER=ip:port (IPv4) replaces the servers
 * of resolv.conf. */
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scrape/sd.h"

/* ---- Answers → groups ---- */

static void host_port(struct sbuf *b, const char *host, int port)
{
    if (strchr(host, ':'))
        sbuf_printf(b, "[%s]:%d", host, port);
    else
        sbuf_printf(b, "%s:%d", host, port);
}

/* A domain name from the message: "example.com." as miekg/dns prints it. */
static int rr_name(const unsigned char *msg, size_t len, const unsigned char *p, char *out,
                   size_t outsize)
{
    char tmp[NS_MAXDNAME];
    if (dn_expand(msg, msg + len, p, tmp, sizeof tmp) < 0)
        return -1;
    if (strcmp(tmp, ".") == 0 || tmp[0] == '\0')
        snprintf(out, outsize, ".");
    else
        snprintf(out, outsize, "%s.", tmp);
    return 0;
}

/* One answer record → one group, or nothing (skipped).  Returns -1 on a
 * malformed record. */
static int record_to_group(const unsigned char *msg, size_t len, ns_rr *rr, const char *name,
                           int port, struct sd_groups *out)
{
    const unsigned char *rd = ns_rr_rdata(*rr);
    size_t rdlen = ns_rr_rdlen(*rr);
    char host[NS_MAXDNAME + 2], ip[INET6_ADDRSTRLEN];
    const char *label = NULL;
    int p = port;
    struct sbuf addr = SBUF_INIT;
    switch (ns_rr_type(*rr)) {
    case ns_t_a:
    case ns_t_aaaa: {
        int af = ns_rr_type(*rr) == ns_t_a ? AF_INET : AF_INET6;
        if (rdlen != (af == AF_INET ? 4u : 16u) || !inet_ntop(af, rd, ip, sizeof ip))
            return -1;
        host_port(&addr, ip, port);
        break;
    }
    case ns_t_srv:
        if (rdlen < 7 || rr_name(msg, len, rd + 6, host, sizeof host) < 0)
            return -1;
        p = rd[4] << 8 | rd[5];
        label = "__meta_dns_srv_record_target";
        break;
    case ns_t_mx:
        if (rdlen < 3 || rr_name(msg, len, rd + 2, host, sizeof host) < 0)
            return -1;
        label = "__meta_dns_mx_record_target";
        break;
    case ns_t_ns:
        if (rr_name(msg, len, rd, host, sizeof host) < 0)
            return -1;
        label = "__meta_dns_ns_record_target";
        break;
    default: /* CNAME and anything else: not a target */
        return 0;
    }
    if (label) {
        char bare[sizeof host];
        snprintf(bare, sizeof bare, "%s", host);
        size_t n = strlen(bare);
        while (n && bare[n - 1] == '.')
            bare[--n] = '\0';
        host_port(&addr, bare, p);
    }
    struct prom_target_group *g = sd_groups_add_target(out, name, addr.data);
    sbuf_free(&addr);
    sd_label_put(g, "__meta_dns_name", name);
    if (label)
        sd_label_put(g, label, host);
    if (ns_rr_type(*rr) == ns_t_srv) {
        char ps[16];
        snprintf(ps, sizeof ps, "%d", p);
        sd_label_put(g, "__meta_dns_srv_record_port", ps);
    }
    return 0;
}

int sd_dns_answer_parse(const unsigned char *msg, size_t len, const char *name, int port,
                        struct sd_groups *out, char *err, size_t errsize)
{
    ns_msg h;
    if (ns_initparse(msg, (int)len, &h) < 0) {
        snprintf(err, errsize, "could not parse the DNS answer for %s", name);
        return -1;
    }
    int n = ns_msg_count(h, ns_s_an);
    for (int i = 0; i < n; i++) {
        ns_rr rr;
        if (ns_parserr(&h, ns_s_an, i, &rr) < 0 ||
            record_to_group(msg, len, &rr, name, port, out) < 0) {
            snprintf(err, errsize, "malformed record %d in the DNS answer for %s", i, name);
            return -1;
        }
    }
    return 0;
}

/* ---- The refresh on a worker ---- */

struct dns_name_result {
    struct sd_groups groups;
    char *err; /* NULL: the groups replace the name's */
};

struct dns_job {
    uv_work_t work;
    struct sd_refresher *r; /* NULL once abandoned */
    struct sd_host *host;
    char **names; /* copies */
    size_t n;
    int qtype, port;
    char *nameserver; /* test override, or NULL */
    struct dns_name_result *res;
};

struct dns_sd {
    char **names;
    size_t n;
    int qtype, port;
    char *nameserver;
    struct dns_job *job; /* in flight */
};

static void dns_job_free(struct dns_job *j)
{
    for (size_t i = 0; i < j->n; i++) {
        free(j->names[i]);
        if (j->res) {
            sd_groups_free(&j->res[i].groups);
            free(j->res[i].err);
        }
    }
    free(j->names);
    free(j->res);
    free(j->nameserver);
    free(j);
}

static void resolver_override(res_state st, const char *ns)
{
    char ip[64];
    int port = 53;
    const char *colon = strrchr(ns, ':');
    snprintf(ip, sizeof ip, "%.*s", colon ? (int)(colon - ns) : (int)strlen(ns), ns);
    if (colon)
        port = atoi(colon + 1);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
        return;
    st->nsaddr_list[0] = sa;
    st->nscount = 1;
}

/* One name: the answer, or why not. */
static void dns_lookup_one(res_state st, const struct dns_job *j, size_t i,
                           struct dns_name_result *out)
{
    enum { ANSWER_MAX = 65536 };
    unsigned char *buf = xmalloc(ANSWER_MAX);
    char err[512];
    int len = res_nsearch(st, j->names[i], ns_c_in, j->qtype, buf, ANSWER_MAX);
    if (len < 0) {
        int h = st->res_h_errno;
        if (h != HOST_NOT_FOUND && h != NO_DATA) { /* not "there is nothing" */
            snprintf(err, sizeof err, "could not resolve \"%s\": %s", j->names[i], hstrerror(h));
            out->err = xstrdup(err);
        }
    } else if (sd_dns_answer_parse(buf, (size_t)len, j->names[i], j->port, &out->groups, err,
                                   sizeof err) < 0) {
        sd_groups_free(&out->groups);
        out->err = xstrdup(err);
    }
    free(buf);
}

static void dns_work(uv_work_t *w)
{
    struct dns_job *j = w->data;
    j->res = xcalloc(j->n, sizeof *j->res);
    struct __res_state st;
    memset(&st, 0, sizeof st);
    if (res_ninit(&st) < 0) {
        for (size_t i = 0; i < j->n; i++)
            j->res[i].err = xstrdup("could not load resolv.conf");
        return;
    }
    st.retrans = 2; /* seconds per try, as miekg/dns's 2 s dial and read timeouts */
    st.retry = 2;
    if (j->nameserver)
        resolver_override(&st, j->nameserver);
    for (size_t i = 0; i < j->n; i++)
        dns_lookup_one(&st, j, i, &j->res[i]);
    res_nclose(&st);
}

/* Back on the loop: each name's new groups, or its old ones if it failed. */
static void dns_work_done(uv_work_t *w, int status)
{
    (void)status;
    struct dns_job *j = w->data;
    struct sd_refresher *r = j->r;
    if (!r) { /* abandoned by dns_sd_stop */
        struct sd_host *h = j->host;
        dns_job_free(j);
        sd_host_unpend(h);
        return;
    }
    struct dns_sd *s = r->state;
    s->job = NULL;
    struct sd_metrics *m = r->host->metrics;
    struct sd_groups merged = {0};
    for (size_t i = 0; i < j->n; i++) {
        if (m && m->dns_lookups)
            metric_inc(m->dns_lookups);
        if (!j->res[i].err) {
            sd_groups_copy(&merged, &j->res[i].groups);
            continue;
        }
        if (m && m->dns_lookup_failures)
            metric_inc(m->dns_lookup_failures);
        log_error(r->host->log, "discovery", "Error refreshing DNS targets", "discovery", "dns",
                  "config", r->host->name, "err", j->res[i].err);
        struct sd_groups keep = {0};
        for (size_t k = 0; k < r->groups.n; k++)
            if (strcmp(r->groups.source[k], j->names[i]) == 0) {
                struct sd_groups one = {&r->groups.v[k], &r->groups.source[k], 1};
                sd_groups_copy(&keep, &one);
            }
        sd_groups_copy(&merged, &keep);
        sd_groups_free(&keep);
    }
    dns_job_free(j);
    sd_refresher_done(r, &merged, NULL);
}

static void dns_sd_start(struct sd_refresher *r)
{
    struct dns_sd *s = r->state;
    struct dns_job *j = xcalloc(1, sizeof *j);
    j->r = r;
    j->host = r->host;
    j->n = s->n;
    j->names = xcalloc(s->n, sizeof *j->names);
    for (size_t i = 0; i < s->n; i++)
        j->names[i] = xstrdup(s->names[i]);
    j->qtype = s->qtype;
    j->port = s->port;
    j->nameserver = s->nameserver ? xstrdup(s->nameserver) : NULL;
    j->work.data = j;
    if (uv_queue_work(r->host->loop, &j->work, dns_work, dns_work_done) != 0) {
        dns_job_free(j);
        sd_refresher_done(r, NULL, "could not queue the DNS lookups");
        return;
    }
    s->job = j;
}

static bool dns_sd_stop(struct sd_refresher *r)
{
    struct dns_sd *s = r->state;
    bool done = true;
    if (s->job) {
        s->job->r = NULL; /* its after-work callback frees it and unpends */
        done = false;
    }
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->nameserver);
    free(s);
    return done;
}

static const struct sd_mech dns_mech = {"dns", dns_sd_start, dns_sd_stop};

struct sd_refresher *sd_dns_new(struct sd_host *h, const struct prom_dns_sd *cfg)
{
    static const int qtypes[] = {[PROM_DNS_SRV] = ns_t_srv,
                                 [PROM_DNS_A] = ns_t_a,
                                 [PROM_DNS_AAAA] = ns_t_aaaa,
                                 [PROM_DNS_MX] = ns_t_mx,
                                 [PROM_DNS_NS] = ns_t_ns};
    struct dns_sd *s = xcalloc(1, sizeof *s);
    s->n = cfg->names.n;
    s->names = s->n ? xcalloc(s->n, sizeof *s->names) : NULL;
    struct sbuf key = SBUF_INIT;
    sbuf_printf(&key, "dns\xff%d\xff%lld", (int)cfg->type, (long long)cfg->port);
    for (size_t i = 0; i < s->n; i++) {
        s->names[i] = xstrdup(cfg->names.v[i]);
        sbuf_printf(&key, "\xff%s", cfg->names.v[i]);
    }
    s->qtype = qtypes[cfg->type];
    s->port = (int)cfg->port;
    const char *ns = getenv("VIGIL_DNS_SD_NAMESERVER");
    s->nameserver = ns && *ns ? xstrdup(ns) : NULL;
    return sd_refresher_new(h, &dns_mech, s, sbuf_detach(&key), cfg->refresh_interval_ms);
}
