/* template_prom.c — rule label/annotation expansion as Prometheus does it.
 *
 * Prometheus's alerting rule prepends four variable definitions to the
 * user's text, parses the result as a template named "__alert_<rule>"
 * with missingkey=zero and Prometheus's function map, and executes it with
 * a struct {Labels, ExternalLabels, ExternalURL, Value}.  Errors are
 * wrapped as template.Expander.Expand wraps them; the positions in them
 * count the prelude's bytes, exactly as in Prometheus. */
#include <stdio.h>
#include <string.h>

#include "alerting/template/template_internal.h"

#define PROM_PRELUDE                                                                               \
    "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}"                                 \
    "{{$externalURL := .ExternalURL}}{{$value := .Value}}"

#define PROM_DATA_TYPE                                                                             \
    "struct { Labels map[string]string; ExternalLabels map[string]string; ExternalURL string; "    \
    "Value interface {} }"

int tmpl_expand_prom(const char *text, const struct tmpl_prom_data *d, struct sbuf *out, char *err,
                     size_t errsz)
{
    const char *name = d->name ? d->name : "";
    struct sbuf src = SBUF_INIT;
    sbuf_puts(&src, PROM_PRELUDE);
    sbuf_puts(&src, text);
    struct tmpl_funcs fs = {.v = tmpl_prom_funcs, .n = tmpl_prom_nfuncs, .ctx = (void *)d};
    struct tmpl *t = tmpl_new(name, TMPL_MISSINGKEY_ZERO);
    char msg[1024];
    int rc = tmpl_parse(t, src.data, src.len, &fs, msg, sizeof msg);
    sbuf_free(&src);
    if (rc != 0) {
        snprintf(err, errsz, "error parsing template %s: %s", name, msg);
        tmpl_free(t);
        return -1;
    }
    struct tmpl_heap *h = tmpl_heap_new();
    struct tmpl_value *data = tmpl_value_struct(h, PROM_DATA_TYPE);
    tmpl_map_set(h, data, "Labels", tmpl_value_labels(h, d->labels));
    tmpl_map_set(h, data, "ExternalLabels", tmpl_value_labels(h, d->external_labels));
    tmpl_map_set(h, data, "ExternalURL",
                 tmpl_value_string(h, d->external_url ? d->external_url : ""));
    tmpl_map_set(h, data, "Value", tmpl_value_float(h, d->value));
    size_t len = out->len;
    rc = tmpl_execute(t, NULL, data, &fs, out, msg, sizeof msg);
    if (rc != 0) {
        snprintf(err, errsz, "error executing template %s: %s", name, msg);
        out->len = len; /* Expand returns no partial output */
        if (out->data)
            out->data[len] = '\0';
    }
    tmpl_heap_free(h);
    tmpl_free(t);
    return rc;
}
