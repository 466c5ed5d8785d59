/* conf_kind.c — telling a prometheus.yml from an alertmanager.yml.
 *
 * `vigil check config` takes either, like promtool and amtool together;
 * the two formats share no top-level key, so the keys decide. */
#include "conf/conf.h"
#include "conf/yaml_tree.h"

enum conf_kind conf_file_kind(const char *path)
{
    struct ytree t;
    struct conf_error err;
    if (ytree_load_file(&t, path, &err) < 0)
        return CONF_KIND_UNREADABLE;
    enum conf_kind k = CONF_KIND_PROMETHEUS;
    if (ynode_get(t.root, "route") || ynode_get(t.root, "receivers") ||
        ynode_get(t.root, "inhibit_rules"))
        k = CONF_KIND_ALERTMANAGER;
    ytree_free(&t);
    return k;
}
