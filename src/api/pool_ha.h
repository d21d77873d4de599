/* pool_ha: high availability of a pool (pool.enable_ha and the rest, the
 * heartbeat on the shared SR, self-fencing and restarts). See pool_ha.c. */
#ifndef XENON_POOL_HA_H
#define XENON_POOL_HA_H

#include "../base/xerr.h"
#include "../db/db.h"

struct server;

/* The HA threads of this host (every host of a pool runs them; they act
 * only while pool.ha_enabled). */
void pool_ha_start(struct server *srv);
void pool_ha_stop(void);

/* HA_IS_ENABLED while the pool has HA on (what xapi refuses then: eject,
 * designate_new_master, emergency transition, joins, management
 * reconfiguration). Takes the store's read lock. */
int pool_ha_refuse(struct db *db, struct xerr *err);

#endif
