/* pif.h: what bond.c shares with pif.c — the lock of host network
 * changes and plugging a PIF by ref. */
#ifndef XENON_API_PIF_H
#define XENON_API_PIF_H

#include "api.h"

/* the most members a bond may have */
#define PIF_BOND_MAX 8
/* the most other ends a tunnel's bridge is given */
#define PIF_TUNNEL_PEERS 16

/* Serialises the calls that change the host's interfaces. */
void pif_lock(void);
void pif_unlock(void);
/* Whether calls touch the host's links (false under the simulator). */
bool pif_live(struct rpc_ctx *ctx);
/* Plugs (unplugs) the PIF ref on the host and marks it; under pif_lock. */
int pif_plug_ref(struct rpc_ctx *ctx, const char *ref, struct xerr *err);
int pif_unplug_ref(struct rpc_ctx *ctx, const char *ref, struct xerr *err);
/* Applies a plugged bond master's mode and properties again. */
int pif_bond_apply(struct rpc_ctx *ctx, const char *master, struct xerr *err);
/* On the master, once the host host_ref joined: a tunnel on each private
 * network the pool's other hosts reach by tunnels, over the joined host's
 * configured PIF on the network their transport PIFs are on (tunnel.c).
 * Returns how many could not be made yet (tried again: those made are
 * skipped). */
int tunnel_joined_host(struct server *srv, const char *host_ref);

#endif
