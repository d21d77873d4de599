/* config: xenond.conf — KEY=VALUE lines read into struct server_config
 * (api/server.h), every key with a default so the daemon runs with none. */
#ifndef XENON_CONFIG_H
#define XENON_CONFIG_H

#include "../api/server.h"

/* Fills every key with its default (see server_config_load). */
void server_config_defaults(struct server_config *c);
/* Reads KEY=VALUE lines; unknown keys are an error so typos are caught. */
int server_config_load(struct server_config *c, const char *path, struct xerr *err);
int server_config_set(struct server_config *c, const char *key, const char *value, struct xerr *err);
void server_config_free(struct server_config *c);

#endif
