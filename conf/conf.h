/* conf.h — the conf module's public face: Vigil reads Prometheus's and
 * Alertmanager's configuration formats unchanged.
 *
 *   config.h    prometheus.yml and rule files (struct prom_config, rule_file)
 *   amconfig.h  alertmanager.yml (struct am_config)
 *
 * Every loader fills a struct conf_error whose message names file:line:col,
 * the field path and the reason. */
#ifndef VIGIL_CONF_CONF_H
#define VIGIL_CONF_CONF_H

#include "conf/amconfig.h"
#include "conf/conf_error.h"
#include "conf/config.h"

/* --web.config.file (exporter-toolkit format). */
struct web_config {
    struct ystrmap basic_auth_users; /* user -> bcrypt hash; none: no auth */
    struct ystrmap headers;          /* added to every response */
    bool tls;                        /* tls_server_config has a certificate */
};
/* Loads and validates path.  Returns 0 and *out (web_config_free), or -1
 * with err ("web.yml:3:5: basic_auth_users: ..."). */
int web_config_load_file(const char *path, struct web_config **out, struct conf_error *err);
void web_config_free(struct web_config *c);

enum conf_kind { CONF_KIND_PROMETHEUS, CONF_KIND_ALERTMANAGER, CONF_KIND_UNREADABLE };

/* Tells which format a file is in by its top-level keys: a mapping with
 * `route`, `receivers` or `inhibit_rules` is an alertmanager.yml, anything
 * else is taken for a prometheus.yml. */
enum conf_kind conf_file_kind(const char *path);

#endif
