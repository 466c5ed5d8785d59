/* config.c — loading prometheus.yml: the top level, the global section,
 * rule_files and scrape_config_files.
 *
 * A load is: parse the YAML into a positioned tree (yaml_tree.c), decode the
 * `global` section first — every job inherits from it, and YAML does not
 * promise it comes first in the file — then decode the rest of the root
 * mapping in file order with one field table, then the checks that span
 * sections (unique job names), then the environment expansion of external
 * labels that Prometheus 3 does after parsing, and finally the jobs of
 * scrape_config_files.  The first error stops the load; it names the file,
 * line, column and field path.
 *
 * The sections live in their own files: prom_scrape.c (jobs), http_client.c
 * (HTTP client), prom_sd.c (service discovery), prom_relabel.c (relabel
 * rules), prom_sections.c (alerting, remote storage, storage, tracing,
 * otlp).  Rule files are rulefile.c.  The tree is freed before returning:
 * the config owns copies of everything it keeps. */
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf/prom_internal.h"
#include "util/sbuf.h"

_Static_assert(offsetof(struct prom_config, n_scrape_configs) ==
                   offsetof(struct prom_config, scrape_configs) + sizeof(void *),
               "n_scrape_configs must follow scrape_configs");

#define MS_SECOND 1000LL
#define MS_MINUTE (60 * MS_SECOND)

/* ---- global ---- */

static int dec_external_labels(struct ydec *d, const struct ynode *n, void *out)
{
    if (ydec_strmap(d, n, out) < 0)
        return -1;
    for (size_t i = 0; i < n->n; i++) {
        const struct ynode *v = n->items[2 * i + 1];
        if (v->kind == YNODE_SCALAR && !prom_utf8_is_valid(v->s))
            return ydec_fail(d, v, "\"%s\" is not a valid label value", v->s);
    }
    return 0;
}

static const struct yfield global_fields[] = {
    YFIELD_NAMED("scrape_interval", struct prom_global_config, scrape_interval_ms, ydec_duration),
    YFIELD_NAMED("scrape_timeout", struct prom_global_config, scrape_timeout_ms, ydec_duration),
    YFIELD(struct prom_global_config, scrape_protocols, prom_dec_protocols),
    YFIELD_NAMED("evaluation_interval", struct prom_global_config, evaluation_interval_ms,
                 ydec_duration),
    YFIELD_NAMED("rule_query_offset", struct prom_global_config, rule_query_offset_ms,
                 ydec_duration),
    YFIELD(struct prom_global_config, query_log_file, prom_dec_path),
    YFIELD(struct prom_global_config, scrape_failure_log_file, prom_dec_path),
    YFIELD(struct prom_global_config, external_labels, dec_external_labels),
    YFIELD(struct prom_global_config, body_size_limit, ydec_bytesize),
    YFIELD(struct prom_global_config, sample_limit, ydec_uint),
    YFIELD(struct prom_global_config, target_limit, ydec_uint),
    YFIELD(struct prom_global_config, label_limit, ydec_uint),
    YFIELD(struct prom_global_config, label_name_length_limit, ydec_uint),
    YFIELD(struct prom_global_config, label_value_length_limit, ydec_uint),
    YFIELD(struct prom_global_config, keep_dropped_targets, ydec_uint),
    YFIELD(struct prom_global_config, metric_name_validation_scheme, prom_dec_scheme),
    YFIELD(struct prom_global_config, metric_name_escaping_scheme, ydec_string),
    YFIELD(struct prom_global_config, scrape_native_histograms, ydec_bool),
    YFIELD(struct prom_global_config, convert_classic_histograms_to_nhcb, ydec_bool),
    YFIELD(struct prom_global_config, always_scrape_classic_histograms, ydec_bool),
    YFIELD(struct prom_global_config, extra_scrape_metrics, ydec_bool),
    {NULL, NULL, 0},
};

static int global_check_labels(struct ydec *d, const struct ynode *n,
                               const struct prom_global_config *g)
{
    const struct ynode *labels = ynode_get(n, "external_labels");
    for (size_t i = 0; i < g->external_labels.n; i++) {
        const char *name = g->external_labels.keys[i];
        if (prom_label_name_is_valid(name, g->metric_name_validation_scheme))
            continue;
        for (size_t j = 0; j < labels->n; j++)
            if (strcmp(labels->items[2 * j]->s, name) == 0)
                labels = labels->items[2 * j];
        ydec_push_field(d, "external_labels");
        return ydec_fail(d, labels, "\"%s\" is not a valid label name", name);
    }
    return 0;
}

/* GlobalConfig.UnmarshalYAML: zero means unset; the timeout may not exceed
 * the interval and defaults to min(10s, interval). */
static int global_finish(struct ydec *d, const struct ynode *n, struct prom_global_config *g)
{
    if (global_check_labels(d, n, g) < 0)
        return -1;
    const char *e = g->metric_name_escaping_scheme;
    if (e && *e && strcmp(e, "allow-utf-8") && strcmp(e, "underscores") && strcmp(e, "dots") &&
        strcmp(e, "values"))
        return prom_fail_at(d, n, "metric_name_escaping_scheme",
                            "unknown global name escaping method specified, must be one of "
                            "'allow-utf-8', 'underscores', 'dots', or 'values', got \"%s\"",
                            e);
    if (g->scrape_interval_ms == 0)
        g->scrape_interval_ms = MS_MINUTE;
    if (g->scrape_timeout_ms > g->scrape_interval_ms)
        return prom_fail_at(d, n, "scrape_timeout",
                            "global scrape timeout greater than scrape interval");
    if (g->scrape_timeout_ms == 0)
        g->scrape_timeout_ms =
            g->scrape_interval_ms < 10 * MS_SECOND ? g->scrape_interval_ms : 10 * MS_SECOND;
    if (g->evaluation_interval_ms == 0)
        g->evaluation_interval_ms = MS_MINUTE;
    return 0;
}

static int global_decode(struct ydec *d, const struct ynode *root, struct prom_global_config *g)
{
    const struct ynode *n = ynode_get(root, "global");
    size_t old = ydec_push_field(d, "global");
    if (n && ydec_map(d, n, global_fields, g, NULL) < 0)
        return -1;
    /* Without a global mapping Prometheus keeps DefaultGlobalConfig, whose
     * escaping scheme is set (a written global section starts empty). */
    if (ynode_is_null(n))
        g->metric_name_escaping_scheme = xstrdup("allow-utf-8");
    if (global_finish(d, n, g) < 0)
        return -1;
    ydec_pop(d, old);
    return 0;
}

/* Prometheus 3 expands ${VAR} in external label values after parsing. */
static void global_expand_env(struct prom_global_config *g)
{
    for (size_t i = 0; i < g->external_labels.n; i++) {
        char *v = prom_env_expand(g->external_labels.values[i]);
        free(g->external_labels.values[i]);
        g->external_labels.values[i] = v;
    }
}

/* ---- the root mapping ---- */

static int dec_skip(struct ydec *d, const struct ynode *n, void *out)
{
    (void)d, (void)n, (void)out; /* decoded beforehand */
    return 0;
}

static const struct yfield runtime_fields[] = {
    {"gogc", ydec_int, 0},
    {NULL, NULL, 0},
};

static int dec_runtime(struct ydec *d, const struct ynode *n, void *out)
{
    return ydec_map(d, n, runtime_fields, out, NULL);
}

/* Prometheus's ^[^*]*(\*[^/]*)?$ : at most a '*' in the last element. */
static bool file_pattern_is_valid(const char *p)
{
    const char *star = strchr(p, '*');
    return !star || !strchr(star, '/');
}

static int dec_file_patterns(struct ydec *d, const struct ynode *n, struct ystrlist *l,
                             const char *what)
{
    if (ydec_strlist(d, n, l) < 0)
        return -1;
    for (size_t i = 0; i < l->n; i++) {
        if (!file_pattern_is_valid(l->v[i])) {
            ydec_push_index(d, i);
            return ydec_fail(d, n->items[i], "invalid %s file path \"%s\"", what, l->v[i]);
        }
        prom_path_resolve(prom_dec_of(d)->dir, &l->v[i]);
    }
    return 0;
}

static int dec_rule_files(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_config *c =
        (struct prom_config *)((char *)out - offsetof(struct prom_config, rule_files));
    if (dec_file_patterns(d, n, &c->rule_files, "rule") < 0)
        return -1;
    free(c->rule_files_pos);
    c->rule_files_pos = xcalloc(n->n ? n->n : 1, sizeof *c->rule_files_pos);
    for (size_t i = 0; i < n->n; i++)
        c->rule_files_pos[i] = (struct prom_pos){n->items[i]->line, n->items[i]->col};
    return 0;
}

static int dec_scrape_config_files(struct ydec *d, const struct ynode *n, void *out)
{
    return dec_file_patterns(d, n, out, "scrape config");
}

static int dec_scrape_list(struct ydec *d, const struct ynode *n, void *out)
{
    struct prom_dec *pd = prom_dec_of(d);
    size_t *count = (size_t *)((char *)out + sizeof(void *));
    int rc = prom_dec_scrape_configs(d, n, out, count);
    pd->scheme = pd->global->metric_name_validation_scheme; /* jobs may have changed it */
    return rc;
}

static const struct yfield root_fields[] = {
    {"global", dec_skip, 0},
    YFIELD_NAMED("runtime", struct prom_config, runtime_gogc, dec_runtime),
    YFIELD(struct prom_config, alerting, prom_dec_alerting),
    YFIELD(struct prom_config, rule_files, dec_rule_files),
    YFIELD(struct prom_config, scrape_config_files, dec_scrape_config_files),
    YFIELD(struct prom_config, scrape_configs, dec_scrape_list),
    YFIELD(struct prom_config, storage, prom_dec_storage),
    YFIELD(struct prom_config, tracing, prom_dec_tracing),
    YFIELD(struct prom_config, remote_write, prom_dec_remote_writes),
    YFIELD(struct prom_config, remote_read, prom_dec_remote_reads),
    YFIELD(struct prom_config, otlp, prom_dec_otlp),
    {NULL, NULL, 0},
};

/* Job names are unique across the file (and scrape_config_files). */
static int jobs_check_unique(struct ydec *d, const struct ynode *root, const struct prom_config *c)
{
    const struct ynode *list = ynode_get(root, "scrape_configs");
    for (size_t i = 1; i < c->n_scrape_configs; i++) {
        for (size_t j = 0; j < i; j++) {
            if (strcmp(c->scrape_configs[i].job_name, c->scrape_configs[j].job_name) != 0)
                continue;
            ydec_push_field(d, "scrape_configs");
            ydec_push_index(d, i);
            return prom_fail_at(d, list->items[i], "job_name",
                                "found multiple scrape configs with job name \"%s\"",
                                c->scrape_configs[i].job_name);
        }
    }
    return 0;
}

/* ---- scrape_config_files ---- */

/* Go's filepath.Dir. */
static char *path_dir(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return xstrdup(".");
    if (slash == path)
        return xstrdup("/");
    char *dir = xstrndup(path, (size_t)(slash - path));
    char *clean = prom_path_clean(dir);
    free(dir);
    return clean;
}

struct job_list {
    struct prom_scrape_config *v;
    size_t n;
};

static void job_list_free(struct job_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        prom_scrape_config_free(&l->v[i]);
    free(l->v);
}

static const struct yfield scrape_file_fields[] = {
    {"scrape_configs", dec_scrape_list, 0},
    {NULL, NULL, 0},
};

static int jobs_append(struct ydec *d, const struct ynode *root, struct prom_config *c,
                       struct job_list *l)
{
    const struct ynode *list = ynode_get(root, "scrape_configs");
    for (size_t i = 0; i < l->n; i++) {
        for (size_t j = 0; j < c->n_scrape_configs; j++) {
            const struct prom_scrape_config *o = &c->scrape_configs[j];
            if (strcmp(o->job_name, l->v[i].job_name) != 0)
                continue;
            bool main = strcmp(o->source_file, c->file) == 0;
            ydec_push_field(d, "scrape_configs");
            ydec_push_index(d, i);
            return prom_fail_at(d, list->items[i], "job_name",
                                "found multiple scrape configs with job name \"%s\", first "
                                "found in %s%s%s",
                                o->job_name, main ? "" : "\"",
                                main ? "main config file" : o->source_file, main ? "" : "\"");
        }
        c->scrape_configs =
            xrealloc(c->scrape_configs, (c->n_scrape_configs + 1) * sizeof *c->scrape_configs);
        c->scrape_configs[c->n_scrape_configs++] = l->v[i];
        memset(&l->v[i], 0, sizeof l->v[i]);
    }
    return 0;
}

static int scrape_file_load(struct prom_config *c, const char *file, bool resolve,
                            struct conf_error *err)
{
    struct ytree t;
    if (ytree_load_file(&t, file, err) < 0)
        return -1;
    char *dir = resolve ? path_dir(file) : NULL;
    struct prom_dec pd = {
        .dir = dir, .scheme = c->global.metric_name_validation_scheme, .global = &c->global};
    ydec_init(&pd.yd, file, err);
    struct job_list l = {NULL, 0};
    int rc = ydec_map(&pd.yd, t.root, scrape_file_fields, &l, NULL);
    if (rc == 0)
        rc = jobs_append(&pd.yd, t.root, c, &l);
    job_list_free(&l);
    free(dir);
    ytree_free(&t);
    return rc;
}

static int scrape_files_load(struct prom_config *c, bool resolve, struct conf_error *err)
{
    for (size_t i = 0; i < c->scrape_config_files.n; i++) {
        glob_t g;
        int rc = glob(c->scrape_config_files.v[i], GLOB_PERIOD, NULL, &g);
        if (rc == GLOB_NOMATCH)
            continue;
        if (rc != 0) {
            snprintf(err->msg, sizeof err->msg,
                     "%s: error retrieving scrape config files for \"%s\"", c->file,
                     c->scrape_config_files.v[i]);
            return -1;
        }
        for (size_t j = 0; j < g.gl_pathc && rc == 0; j++)
            rc = scrape_file_load(c, g.gl_pathv[j], resolve, err);
        globfree(&g);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* ---- loading ---- */

static int config_decode(struct prom_dec *pd, const struct ynode *root, struct prom_config *c)
{
    struct ydec *d = &pd->yd;
    if (global_decode(d, root, &c->global) < 0)
        return -1;
    pd->scheme = c->global.metric_name_validation_scheme;
    if (ydec_map(d, root, root_fields, c, NULL) < 0)
        return -1;
    if (jobs_check_unique(d, root, c) < 0)
        return -1;
    if (prom_sections_finish(d, root, c) < 0)
        return -1;
    global_expand_env(&c->global);
    return 0;
}

static int config_load(const char *name, const char *dir, const char *text, size_t len,
                       bool from_file, struct prom_config **out, struct conf_error *err)
{
    struct ytree t;
    *out = NULL;
    int rc =
        from_file ? ytree_load_file(&t, name, err) : ytree_load_string(&t, name, text, len, err);
    if (rc < 0)
        return -1;
    struct prom_config *c = xcalloc(1, sizeof *c);
    c->file = xstrdup(name);
    prom_sections_init(c);
    struct prom_dec pd = {.dir = dir, .global = &c->global};
    ydec_init(&pd.yd, name, err);
    rc = config_decode(&pd, t.root, c);
    ytree_free(&t);
    if (rc == 0)
        rc = scrape_files_load(c, dir != NULL, err);
    if (rc < 0) {
        prom_config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int prom_config_load_file(const char *path, struct prom_config **out, struct conf_error *err)
{
    char *dir = path_dir(path);
    int rc = config_load(path, dir, NULL, 0, true, out, err);
    free(dir);
    return rc;
}

int prom_config_load_string(const char *name, const char *yaml, size_t len,
                            struct prom_config **out, struct conf_error *err)
{
    return config_load(name, NULL, yaml, len, false, out, err);
}

static void global_free(struct prom_global_config *g)
{
    ystrmap_free(&g->external_labels);
    free(g->query_log_file);
    free(g->scrape_failure_log_file);
    free(g->metric_name_escaping_scheme);
}

void prom_config_free(struct prom_config *c)
{
    if (!c)
        return;
    free(c->file);
    global_free(&c->global);
    ystrlist_free(&c->rule_files);
    free(c->rule_files_pos);
    ystrlist_free(&c->scrape_config_files);
    for (size_t i = 0; i < c->n_scrape_configs; i++)
        prom_scrape_config_free(&c->scrape_configs[i]);
    free(c->scrape_configs);
    prom_sections_free(c);
    free(c);
}

/* ---- rule_files ---- */

static void strlist_push(struct ystrlist *l, const char *s)
{
    l->v = xrealloc(l->v, (l->n + 1) * sizeof *l->v);
    l->v[l->n++] = xstrdup(s);
}

int prom_config_rule_files(const struct prom_config *c, struct ystrlist *out,
                           struct conf_error *err)
{
    int rc = 0;
    out->v = NULL;
    out->n = 0;
    for (size_t i = 0; i < c->rule_files.n; i++) {
        const char *pat = c->rule_files.v[i];
        glob_t g;
        int grc = glob(pat, GLOB_PERIOD, NULL, &g);
        if (grc == 0) {
            for (size_t j = 0; j < g.gl_pathc; j++)
                strlist_push(out, g.gl_pathv[j]);
            globfree(&g);
            continue;
        }
        if (grc == GLOB_NOMATCH && strchr(pat, '*'))
            continue; /* a glob that matches nothing is fine */
        if (rc == 0) {
            struct prom_pos p = c->rule_files_pos ? c->rule_files_pos[i] : (struct prom_pos){1, 1};
            snprintf(err->msg, sizeof err->msg, "%s:%d:%d: rule_files[%zu]: %s \"%s\"", c->file,
                     p.line, p.col, i,
                     grc == GLOB_NOMATCH ? "missing rule file: no file matches"
                                         : "cannot expand rule file pattern",
                     pat);
            rc = -1;
        }
    }
    return rc;
}
