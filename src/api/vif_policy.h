/* vif_policy: what a VIF may do on its bridge (locking mode, allowed
 * addresses, ratelimit, promiscuous, MTU), read from the store, applied
 * when its tap is made and again whenever the records change. */
#ifndef XENON_API_VIF_POLICY_H
#define XENON_API_VIF_POLICY_H

#include "server.h"
#include "../net/net.h"

/* The policy of VIF vif on network net (network_default resolved). */
void vif_policy_of(struct db *db, struct db_obj *vif, struct db_obj *net, struct net_vif_policy *p);
/* The thread that re-applies policies of running VMs' VIFs after a change
 * (a VIF's fields, its network's default_locking_mode or MTU). */
void vif_policy_start(struct server *srv);
void vif_policy_stop(void);

#endif
