/* template.h — Go's text/template, as Prometheus and Alertmanager use it.
 *
 * Two layers.  The generic engine parses a template text once (tmpl_parse)
 * and executes it any number of times (tmpl_execute) against a data value
 * built from the small value model below and a chain of function tables.
 * The Prometheus layer (tmpl_expand_prom) does what a rule's label and
 * annotation expansion does: the $labels/$value prelude, Prometheus's
 * function set (humanize, query, ...) and Prometheus's error wording.
 *
 * Values model the Go types templates see: nil, bool, int, float64, string,
 * maps with string keys (iterated in sorted key order, as Go does), structs
 * (maps whose missing fields are errors), lists, query-result samples
 * (fields .Labels and .Value), time.Time and time.Duration.  Every value is
 * allocated from a tmpl_heap and lives until the heap is freed; values are
 * read-only once built.  Strings passed to constructors are copied.
 *
 * Limits keep bad templates from hurting the process: {{template}} calls
 * nest at most TMPL_MAX_DEPTH deep, the executor uses at most
 * TMPL_MAX_STACK bytes of the calling thread's stack (so run it on a thread
 * with at least 1 MiB of stack), output is capped at TMPL_MAX_OUTPUT bytes
 * and work at TMPL_MAX_STEPS steps; parentheses and control structures
 * nest at most 200 deep.  Each is a parse or execution error, never a
 * crash.  A parsed template is read-only during
 * execution and may be executed from several threads at once. */
#ifndef VIGIL_ALERTING_TEMPLATE_H
#define VIGIL_ALERTING_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "storage/labels.h"

struct sbuf;

#define TMPL_MAX_DEPTH  1000
#define TMPL_MAX_OUTPUT (1u << 20)
#define TMPL_MAX_STEPS  5000000
#define TMPL_MAX_STACK  (512u << 10)

/* ---- Values ----------------------------------------------------------- */

struct tmpl_heap; /* a bump allocator owning values */
struct tmpl_value;

struct tmpl_heap *tmpl_heap_new(void);
void tmpl_heap_free(struct tmpl_heap *h);

/* Go's untyped nil (prints "<nil>"). */
const struct tmpl_value *tmpl_value_nil(void);
struct tmpl_value *tmpl_value_bool(struct tmpl_heap *h, bool b);
struct tmpl_value *tmpl_value_int(struct tmpl_heap *h, int64_t i);
struct tmpl_value *tmpl_value_float(struct tmpl_heap *h, double f);
struct tmpl_value *tmpl_value_string(struct tmpl_heap *h, const char *s);
struct tmpl_value *tmpl_value_stringn(struct tmpl_heap *h, const char *s, size_t n);
/* time.Time (nanoseconds since the epoch, printed in UTC) and
 * time.Duration (nanoseconds). */
struct tmpl_value *tmpl_value_time(struct tmpl_heap *h, int64_t unix_ns);
struct tmpl_value *tmpl_value_duration(struct tmpl_heap *h, int64_t ns);
/* A map[string]string (elem_is_string) or map[string]interface {}; a
 * missing key reads as "" or nil. */
struct tmpl_value *tmpl_value_map(struct tmpl_heap *h, bool elem_is_string);
/* A struct: like a map, but reading a missing field is an execution error
 * ("can't evaluate field X in type <type_name>"). */
struct tmpl_value *tmpl_value_struct(struct tmpl_heap *h, const char *type_name);
/* Sets key (copied) to v (borrowed from the same heap); replaces. */
void tmpl_map_set(struct tmpl_heap *h, struct tmpl_value *map, const char *key,
                  const struct tmpl_value *v);
struct tmpl_value *tmpl_value_list(struct tmpl_heap *h);
void tmpl_list_append(struct tmpl_heap *h, struct tmpl_value *list, const struct tmpl_value *v);
/* A Prometheus query result (template.queryResult): a list to fill with
 * tmpl_list_append(sample values), as the `query` function returns. */
struct tmpl_value *tmpl_value_query_result(struct tmpl_heap *h);
/* A map[string]string holding a label set (copied). */
struct tmpl_value *tmpl_value_labels(struct tmpl_heap *h, const struct labels *ls);
/* A query-result sample: .Labels (map[string]string) and .Value. */
struct tmpl_value *tmpl_value_sample(struct tmpl_heap *h, const struct labels *ls, double v);

/* ---- Functions -------------------------------------------------------- */

/* What a function gets when called: the execution's heap for its result,
 * the ctx of its table, and room for an error message. */
struct tmpl_call {
    struct tmpl_heap *heap;
    void *ctx;
    char *err;
    size_t errsz;
};

/* Returns 0 with *result set, or -1 with c->err set (the engine prefixes
 * "error calling NAME: ").  Arguments have been checked against sig. */
typedef int (*tmpl_func_fn)(struct tmpl_call *c, const struct tmpl_value *const *argv, size_t argc,
                            const struct tmpl_value **result);

/* sig lists the Go parameter types, one letter each: 's' string,
 * 'f' float64, 'i' int, 'a' interface{} (anything), 'S' *sample,
 * 'Q' a query result (list of samples); a trailing '*' makes the last one
 * variadic.  Arguments of the wrong type fail as Go's reflection does. */
struct tmpl_func {
    const char *name;
    const char *sig;
    tmpl_func_fn fn;
};

/* A chain of function tables; each table's functions get its ctx.  Names
 * are looked up table by table; builtins (and, len, printf, ...) cannot be
 * overridden.  Tables are borrowed. */
struct tmpl_funcs {
    const struct tmpl_func *v;
    size_t n;
    void *ctx;
    const struct tmpl_funcs *next;
};

/* ---- Templates -------------------------------------------------------- */

enum tmpl_missingkey {
    TMPL_MISSINGKEY_DEFAULT, /* missing map key: "no value" (prints "<no value>") */
    TMPL_MISSINGKEY_ZERO,    /* the map's zero value ("" for map[string]string) */
    TMPL_MISSINGKEY_ERROR,   /* an execution error */
};

struct tmpl; /* a named template and the templates it defines */

struct tmpl *tmpl_new(const char *name, enum tmpl_missingkey mk);
void tmpl_free(struct tmpl *t);
/* Parses text (n bytes; copied) into t, adding its {{define}}s; like Go's
 * Template.Parse, a later parse may redefine templates.  fs names the
 * functions the text may call (ctx unused here).  Returns 0, or -1 with err
 * as Go words it ("template: NAME:LINE: ..."). */
int tmpl_parse(struct tmpl *t, const char *text, size_t n, const struct tmpl_funcs *fs, char *err,
               size_t errsz);
/* Executes template `name` (NULL: t's own) with data as dot, appending to
 * out.  fs must provide the functions the parse was given.  Values made
 * during execution live in a private heap; data is borrowed.  Returns 0, or
 * -1 with err ("template: NAME:LINE:COL: executing \"NAME\" at <...>: ...");
 * out then holds the partial output, as Go's writer would. */
int tmpl_execute(const struct tmpl *t, const char *name, const struct tmpl_value *data,
                 const struct tmpl_funcs *fs, struct sbuf *out, char *err, size_t errsz);

/* ---- Prometheus ------------------------------------------------------- */

/* A query result row for the `query` template function. */
struct tmpl_samples; /* opaque, owned by the engine */
/* Adds one sample (labels and value are copied). */
void tmpl_samples_add(struct tmpl_samples *s, const struct labels *ls, double v);
/* Runs PromQL `query` at time t_ms and adds the instant-vector (or scalar:
 * one sample without labels) results to out.  0, or -1 with err. */
typedef int (*tmpl_query_fn)(void *ctx, const char *query, int64_t t_ms, struct tmpl_samples *out,
                             char *err, size_t errsz);

struct tmpl_prom_data {
    const char *name;                     /* template name, e.g. "__alert_HighLatency" */
    const struct labels *labels;          /* $labels (sorted label set, storage/labels.h) */
    const struct labels *external_labels; /* $externalLabels */
    const char
        *external_url;   /* $externalURL, also for externalURL/graphLink/tableLink/pathPrefix */
    double value;        /* $value */
    int64_t now_ms;      /* evaluation time: `now`, and the time queries run at */
    tmpl_query_fn query; /* may be NULL: `query` then fails with an error */
    void *query_ctx;
};

/* Prometheus's template functions (template.go's funcMap); the table's ctx
 * must be a struct tmpl_prom_data. */
extern const struct tmpl_func tmpl_prom_funcs[];
extern const size_t tmpl_prom_nfuncs;

/* Expands text exactly as Prometheus's rules do: the text is prefixed with
 * "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"
 * "{{$externalURL := .ExternalURL}}{{$value := .Value}}" (error positions
 * count those bytes, as in Prometheus), parsed, executed with the data
 * struct {Labels, ExternalLabels, ExternalURL, Value}, and the output
 * appended to out.  Returns 0, or -1 with err holding the text Prometheus's
 * Expander.Expand returns ("error parsing template NAME: ..." or "error
 * executing template NAME: ..."); out is then left as it was. */
int tmpl_expand_prom(const char *text, const struct tmpl_prom_data *d, struct sbuf *out, char *err,
                     size_t errsz);

#endif
