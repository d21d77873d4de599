/* net: the host side of VM networking — Linux bridges (one per network,
 * named by network.bridge) and persistent taps named vif<domid>.<devid> as
 * on XenServer, so `tcpdump -i vif3.0` works on the host. Plain ioctls for
 * bridges and taps, a little rtnetlink for what ioctls cannot do (delete a
 * link, label it, list links with their labels). With the openvswitch
 * backend (ovs.c) a bridge is an Open vSwitch bridge and taps are its
 * ports. Everything acts on the network namespace the daemon runs in. */
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

/* Runs a host tool (argv[0] looked up in PATH; OVS_RUNDIR, OVS_DBDIR and
 * OVS_LOGDIR point at our Open vSwitch); *out (owned, when asked) gets its
 * stdout and stderr, trailing newlines cut. Returns its exit status, or -1
 * when it could not run or ran longer than 20 s. */
int net_run(const char *const *argv, char **out);

/* ---- the backend: "bridge" (Linux bridges) or "openvswitch" ---- */
enum net_backend { NET_BACKEND_BRIDGE, NET_BACKEND_OVS };
/* Chooses the backend named in the configuration; for openvswitch, finds
 * the host's Open vSwitch (running in this namespace) or starts
 * ovsdb-server and ovs-vswitchd with their database in <data_dir>/ovs. */
int net_backend_init(const char *name, const char *data_dir, struct xerr *err);
enum net_backend net_backend(void);
/* Starts again the Open vSwitch daemons xenond started, if they are gone
 * (called every few seconds). */
void net_backend_check(void);
/* What software_version.network_backend says: "bridge" or "openvswitch". */
const char *net_backend_name(void);
/* "netdev" (userspace) or "system" (the kernel module). */
const char *net_ovs_datapath(void);
/* Runs ovs-vsctl against our database with args; *out (when asked, owned)
 * holds its output. A failure is INTERNAL_ERROR with what it said. */
int net_ovs_vsctl(const char *const *args, char **out, struct xerr *err);
int net_ovs_bridge_ensure(const char *bridge, int64_t mtu, struct xerr *err);
bool net_ovs_bridge_exists(const char *bridge);
/* Makes port a port of bridge (moving it from another bridge). */
int net_ovs_port_add(const char *bridge, const char *port, struct xerr *err);
/* 0 when the port is gone or was never there. */
int net_ovs_port_del(const char *port, struct xerr *err);

/* ---- NICs (nic.c) ---- */
/* Where DHCP client state goes: <data_dir>/net. */
void net_set_state_dir(const char *data_dir);
/* A NIC: a link backed by a device, or a veth (a namespaced host's cable);
 * never our bridges, taps, bonds or tunnels. */
bool net_nic_is_physical(const char *name);
/* The link's driver as ethtool names it ("veth", "e1000e"...); "" if unknown. */
void net_link_driver(const char *name, char out[32]);
/* The NICs of this namespace, sorted by name: *out (each and the array
 * owned, free()) of *n. */
int net_nics_scan(char ***out, size_t *n);
/* Generic receive offload of dev: set on or off; read (1, 0, -1 unknown). */
int net_link_set_gro(const char *dev, bool on, struct xerr *err);
int net_link_gro(const char *dev);
int net_link_up(const char *dev, bool up, struct xerr *err);
/* dev as a port of bridge (either backend), up; and back out. */
int net_port_add(const char *bridge, const char *dev, struct xerr *err);
int net_port_del(const char *bridge, const char *dev, struct xerr *err);
/* The prefix length of a dotted netmask, -1 if it is none. */
int net_netmask_prefix(const char *mask);
/* IPv4 on dev: mode "None" (no address), "DHCP" (a client in the
 * background), "Static" (addr/netmask, default route via gateway if set). */
int net_ip_configure(const char *dev, const char *mode, const char *addr, const char *netmask,
		     const char *gateway, struct xerr *err);
/* IPv6 on dev: "None", "Static" (addr in CIDR form), others left to the kernel. */
int net_ipv6_configure(const char *dev, const char *mode, const char *addr, const char *gateway,
		       struct xerr *err);
/* The first IPv4 address of dev and its netmask, dotted; -1 if none. */
int net_ipv4_of(const char *dev, char *addr, size_t alen, char *mask, size_t mlen);

/* ---- what a VIF may do (vifpol.c) ---- */
enum net_lock { NET_LOCK_UNLOCKED, NET_LOCK_LOCKED, NET_LOCK_DISABLED };
#define NET_VIF_ADDRS 8
struct net_vif_policy {
	int lock;     /* enum net_lock, network_default resolved */
	char mac[18]; /* the only source MAC a locked VIF may use */
	char ipv4[NET_VIF_ADDRS][48];
	size_t n4;
	char ipv6[NET_VIF_ADDRS][64];
	size_t n6;
	int64_t kbps;     /* ratelimit of what the guest sends; 0: none */
	bool promiscuous; /* sees all the bridge's traffic */
	int64_t mtu;      /* the tap's; 0: left as it is */
};
/* Where rule files are written while they are loaded. */
void net_vifpol_set_dir(const char *dir);
/* Applies p to the tap on bridge (replacing what was applied before);
 * 0 when the tap does not exist. */
int net_vif_policy_apply(const char *tap, const char *bridge, const struct net_vif_policy *p, struct xerr *err);
/* Removes what was applied for the tap (before the tap goes); called
 * under net_vifpol_lock, which net_link_delete holds while it removes a
 * vif link so that no policy is applied to it meanwhile. */
void net_vif_policy_clear(const char *tap);
void net_vifpol_lock(void);
void net_vifpol_unlock(void);

#endif
