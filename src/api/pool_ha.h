/* pool_ha: high availability of a pool (pool.enable_ha and the rest, the
 * heartbeat on the shared SR, self-fencing and restarts). See pool_ha.c. */
#ifndef XENON_POOL_HA_H
#define XENON_POOL_HA_H

#include <stdbool.h>
#include <stddef.h>

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

/* True (once) for a VM whose QEMU a fence killed: the VM logic leaves
 * its exit alone (the pool has the VM restarted elsewhere). */
bool pool_ha_swallow_report(const char *vm_uuid);

/* On a pool member (whose store may be behind): VMs it records running
 * here ("<ref>/<domid>/<unix time>" each) have no domain any more; the master, whose store decides, records
 * those it still has here Halted (and restarts the protected ones while HA
 * is on). Asynchronous. */
void pool_ha_report_gone(struct server *srv, const char *const *vm_refs, size_t n);

/* xenond --ha-watchdog FD FENCE_AFTER_MS RUN_DIR: the watchdog process
 * (pool_ha.c); returns its exit status. */
int pool_ha_watchdog_main(int argc, char **argv);
/* The pipe to this host's watchdog (-1: none), kept across a restart of
 * the daemon (restart.c passes it to the new image in XENON_HA_WD_FD). */
int pool_ha_watchdog_fd(void);

#endif
