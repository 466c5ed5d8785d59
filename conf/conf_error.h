/* conf_error.h — the error object every config loader fills.
 *
 * Messages name the place and the reason in one line, as
 * "prometheus.yml:12:22: scrape_configs[0].scrape_interval: \"15x\" is not a
 * valid duration", so a person can go straight to the fix. */
#ifndef VIGIL_CONF_ERROR_H
#define VIGIL_CONF_ERROR_H

struct conf_error {
    char msg[1024];
};

#endif
