/* net: the host side of VM networking — Linux bridges (one per network,
 * named by network.bridge) and persistent taps named vif<domid>.<devid> as
 * on XenServer, so `tcpdump -i vif3.0` works on the host. Plain ioctls for
 * bridges and taps, a little rtnetlink for what ioctls cannot do (delete a
 * link, label it, list links with their labels). Everything acts on the
 * network namespace the daemon runs in. */
#ifndef XENON_NET_H
#define XENON_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"

/* IFNAMSIZ: names are at most 15 characters */
#define NET_IFNAMSIZ 16

/* "vif<domid>.<devid>"; false when it does not fit in IFNAMSIZ. */
bool net_vif_name(int64_t domid, int devid, char out[NET_IFNAMSIZ]);
/* The domid and devid of a vif<domid>.<devid> name; false for other names. */
bool net_vif_parse(const char *name, int64_t *domid, int *devid);

/* Creates the bridge if absent, sets its MTU (when mtu > 0) and brings it
 * up. Never enslaves a physical interface: the bridge is the network. */
int net_bridge_ensure(const char *bridge, int64_t mtu, struct xerr *err);

/* A persistent tap `name` (IFF_TAP|IFF_NO_PI, what QEMU's tap backend
 * opens by ifname), labelled `label` (its ifalias: says who made it),
 * enslaved to bridge, with the MTU (when > 0), up. A tap of that name left
 * from before is reused. */
int net_tap_create(const char *name, const char *bridge, int64_t mtu, const char *label,
		   struct xerr *err);
/* Removes the link; 0 when it is gone (or was never there). */
int net_link_delete(const char *name, struct xerr *err);
bool net_link_exists(const char *name);
/* Sets the link's ifalias (at most 255 bytes). */
int net_link_set_alias(const char *name, const char *alias, struct xerr *err);

/* Links whose name looks like vif<domid>.<devid>, with their labels. */
struct net_vif {
	char name[NET_IFNAMSIZ];
	int64_t domid;
	int devid;
	char label[128];
};
/* The vif links in this namespace: *out owned (free()), -1 on failure. */
int net_vifs_list(struct net_vif **out, size_t *n, struct xerr *err);

#endif
