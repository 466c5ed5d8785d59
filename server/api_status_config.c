/* api_status_config.c — GET /api/v1/status/config: the loaded
 * prometheus.yml as Prometheus prints it.
 *
 * Prometheus answers {"status":"success","data":{"yaml":"<config>"}} with
 * its config.Config marshalled back to YAML; conf/config_yaml.c does the
 * marshalling from the immutable `struct prom_config` the server holds.
 * The config is swapped only on the loop thread (reload), and this handler
 * runs there too, so it reads vigil_server.config directly; printing a
 * config is a few microseconds of string work, no need for a worker. */
#include <string.h>

#include "conf/config.h"
#include "server/server.h"

static void handle_status_config(struct http_request *r, void *ctx)
{
    struct vigil_server *s = ctx;
    struct sbuf yaml = SBUF_INIT;
    if (s->config)
        prom_config_marshal(s->config, &yaml);
    struct sbuf b = SBUF_INIT;
    sbuf_puts(&b, "{\"status\":\"success\",\"data\":{\"yaml\":");
    sbuf_put_json_string(&b, yaml.data ? yaml.data : "", yaml.len);
    sbuf_puts(&b, "}}");
    sbuf_free(&yaml);
    http_reply_sbuf(r, 200, "application/json", &b);
}

void server_api_status_config_register(struct vigil_server *s)
{
    http_server_route(s->http, "GET", "/api/v1/status/config", false, "/api/v1/status/config",
                      handle_status_config, s);
}
