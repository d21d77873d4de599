/* pif: the host's network interfaces as xapi models them. PIF.scan makes a
 * PIF (and a network on bridge xenbr<N>) for each NIC the host has,
 * PIF.plug makes the NIC a port of its network's bridge and puts the PIF's
 * address on the bridge, PIF.unplug undoes that; reconfigure_ip/_ipv6 change
 * the address (live when plugged); host.management_reconfigure moves the
 * management flag and host.address. VLAN.create makes an untagged PIF on the
 * tagged PIF's device, plugged as an Open vSwitch fake bridge (parent bridge
 * and tag) or, on the bridge backend, a kernel VLAN device on a Linux
 * bridge; pool.create_VLAN_from_PIF does that for every PIF of the network
 * on the pool's live hosts, rolling back on error; pool.create_VLAN does it
 * on each host's PIF of a device name. PIF.set_property sets gro on the
 * NIC(s); PIF.introduce makes one NIC's PIF as PIF.scan does;
 * PIF.db_introduce and PIF.db_forget make and drop records only.
 *
 * With the simulator backend every call changes records only, as the
 * simulator's VMs make no links: the host's interfaces are left alone. */
#include "pool_ha.h"
#include "api.h"
#include "hostinfo.h"
#include "pif.h"
#include "pool_forward.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../net/net.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one host change at a time: plug, unplug, reconfigure, VLAN, bond */
static pthread_mutex_t host_net_lock = PTHREAD_MUTEX_INITIALIZER;

void pif_lock(void)
{
	pthread_mutex_lock(&host_net_lock);
}

void pif_unlock(void)
{
	pthread_mutex_unlock(&host_net_lock);
}

bool pif_live(struct rpc_ctx *ctx)
{
	return strcmp(ctx->srv->backend->name, "sim") != 0;
}

/* What plugging needs of a PIF, read under the lock. */
struct pif_view {
	char ref[REF_STRLEN + 1], host[REF_STRLEN + 1], network[REF_STRLEN + 1];
	char device[NET_IFNAMSIZ], bridge[NET_IFNAMSIZ];
	char mode[16], ip[64], netmask[64], gateway[64];
	char mode6[16], ip6[128], gateway6[128];
	int64_t vlan, mtu;
	bool physical, attached, management, disallow_unplug, bond_slave;
	int gro; /* properties:gro: 1 on, 0 off, -1 not set */
	/* a VLAN PIF: the tagged PIF (its ref, bridge, whether attached) */
	char tagged[REF_STRLEN + 1], tagged_bridge[NET_IFNAMSIZ];
	bool tagged_attached;
	/* a bond's master PIF: the mode, properties and members' devices */
	char bond[REF_STRLEN + 1], bond_mode[32];
	char hashing[32], lacp_time[16], fallback[16], aggkey[32];
	char members[PIF_BOND_MAX][NET_IFNAMSIZ];
	size_t nmembers;
	/* a tunnel's access PIF: protocol, key and the other ends */
	char tunnel[REF_STRLEN + 1], proto[8];
	uint32_t key;
	char peers[PIF_TUNNEL_PEERS][64];
	size_t npeers;
};

static void cp(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

static void add_peer(struct pif_view *v, const char *ip)
{
	struct in_addr a;
	if (!ip || inet_pton(AF_INET, ip, &a) != 1 || v->npeers == PIF_TUNNEL_PEERS)
		return;
	for (size_t i = 0; i < v->npeers; i++)
		if (!strcmp(v->peers[i], ip))
			return;
	cp(v->peers[v->npeers++], sizeof v->peers[0], ip);
}

/* The key (VNI or GRE key): the network's other_config:tunnel_key, else
 * 24 bits of its uuid, the same on every host of the pool. The other
 * ends: the transport PIFs' addresses of the network's tunnels on the
 * pool's other hosts, and other_config:tunnel_peers (addresses of hosts
 * outside the pool, comma-separated). */
static void tunnel_peers(struct db *db, struct db_obj *p, struct db_obj *net, struct pif_view *v)
{
	if (!net)
		return;
	const xv *oc = db_peek(net, SC_F_network__other_config);
	const char *k = xv_map_get_str(oc, "tunnel_key");
	char *end;
	unsigned long key = k ? strtoul(k, &end, 10) : 0;
	if (!k || *end || !*k || key > 0xffffff)
		key = strtoul(db_peek_str(net, SC_F_network__uuid), NULL, 16) & 0xffffff;
	v->key = (uint32_t)key;
	for (struct db_obj *tu = db_first(db, SC_C_tunnel); tu; tu = db_next(tu)) {
		struct db_obj *acc = db_lookup_cls(db, SC_C_PIF, db_peek_str(tu, SC_F_tunnel__access_PIF));
		struct db_obj *tr = db_lookup_cls(db, SC_C_PIF, db_peek_str(tu, SC_F_tunnel__transport_PIF));
		if (acc && tr && acc != p && !strcmp(db_peek_str(acc, SC_F_PIF__network), net->ref) &&
		    strcmp(db_peek_str(acc, SC_F_PIF__host), db_peek_str(p, SC_F_PIF__host)) != 0)
			add_peer(v, db_peek_str(tr, SC_F_PIF__IP));
	}
	const char *list = xv_map_get_str(oc, "tunnel_peers");
	char *copy = xstrdup(list ? list : ""), *save = NULL;
	for (char *tok = strtok_r(copy, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save))
		add_peer(v, tok);
	free(copy);
}

static void view_read(struct db *db, struct db_obj *p, struct pif_view *v)
{
	memset(v, 0, sizeof *v);
	cp(v->ref, sizeof v->ref, p->ref);
	cp(v->host, sizeof v->host, db_peek_str(p, SC_F_PIF__host));
	cp(v->network, sizeof v->network, db_peek_str(p, SC_F_PIF__network));
	cp(v->device, sizeof v->device, db_peek_str(p, SC_F_PIF__device));
	cp(v->mode, sizeof v->mode, db_peek_str(p, SC_F_PIF__ip_configuration_mode));
	cp(v->ip, sizeof v->ip, db_peek_str(p, SC_F_PIF__IP));
	cp(v->netmask, sizeof v->netmask, db_peek_str(p, SC_F_PIF__netmask));
	cp(v->gateway, sizeof v->gateway, db_peek_str(p, SC_F_PIF__gateway));
	cp(v->mode6, sizeof v->mode6, db_peek_str(p, SC_F_PIF__ipv6_configuration_mode));
	const xv *six = db_peek(p, SC_F_PIF__IPv6);
	cp(v->ip6, sizeof v->ip6, six && xv_len(six) ? xv_as_str(xv_arr_get(six, 0)) : "");
	cp(v->gateway6, sizeof v->gateway6, db_peek_str(p, SC_F_PIF__ipv6_gateway));
	v->vlan = db_peek_int(p, SC_F_PIF__VLAN);
	v->mtu = db_peek_int(p, SC_F_PIF__MTU);
	v->physical = db_peek_bool(p, SC_F_PIF__physical);
	v->attached = db_peek_bool(p, SC_F_PIF__currently_attached);
	v->management = db_peek_bool(p, SC_F_PIF__management);
	v->disallow_unplug = db_peek_bool(p, SC_F_PIF__disallow_unplug);
	v->bond_slave = !ref_is_null(db_peek_str(p, SC_F_PIF__bond_slave_of));
	const char *gro = xv_map_get_str(db_peek(p, SC_F_PIF__properties), "gro");
	v->gro = gro ? !strcmp(gro, "on") : -1;
	struct db_obj *net = db_lookup_cls(db, SC_C_network, v->network);
	if (net) {
		cp(v->bridge, sizeof v->bridge, db_peek_str(net, SC_F_network__bridge));
		if (v->mtu <= 0)
			v->mtu = db_peek_int(net, SC_F_network__MTU);
	}
	struct db_obj *vlan = db_lookup_cls(db, SC_C_VLAN, db_peek_str(p, SC_F_PIF__VLAN_master_of));
	struct db_obj *tagged = vlan ? db_lookup_cls(db, SC_C_PIF, db_peek_str(vlan, SC_F_VLAN__tagged_PIF)) : NULL;
	for (struct db_obj *b = db_first(db, SC_C_Bond); b && !v->bond[0]; b = db_next(b)) {
		if (strcmp(db_peek_str(b, SC_F_Bond__master), p->ref) != 0)
			continue;
		cp(v->bond, sizeof v->bond, b->ref);
		cp(v->bond_mode, sizeof v->bond_mode, db_peek_str(b, SC_F_Bond__mode));
		const xv *props = db_peek(b, SC_F_Bond__properties);
		cp(v->hashing, sizeof v->hashing, xv_map_get_str(props, "hashing_algorithm"));
		cp(v->lacp_time, sizeof v->lacp_time, xv_map_get_str(props, "lacp-time"));
		cp(v->fallback, sizeof v->fallback, xv_map_get_str(props, "lacp-fallback-ab"));
		cp(v->aggkey, sizeof v->aggkey, xv_map_get_str(props, "lacp-aggregation-key"));
		for (struct db_obj *m = db_first(db, SC_C_PIF); m && v->nmembers < PIF_BOND_MAX; m = db_next(m))
			if (!strcmp(db_peek_str(m, SC_F_PIF__bond_slave_of), b->ref))
				cp(v->members[v->nmembers++], NET_IFNAMSIZ, db_peek_str(m, SC_F_PIF__device));
	}
	for (struct db_obj *tu = db_first(db, SC_C_tunnel); tu && !v->tunnel[0]; tu = db_next(tu)) {
		if (strcmp(db_peek_str(tu, SC_F_tunnel__access_PIF), p->ref) != 0)
			continue;
		cp(v->tunnel, sizeof v->tunnel, tu->ref);
		cp(v->proto, sizeof v->proto, db_peek_str(tu, SC_F_tunnel__protocol));
		tunnel_peers(db, p, net, v);
	}
	if (tagged) {
		cp(v->tagged, sizeof v->tagged, tagged->ref);
		v->tagged_attached = db_peek_bool(tagged, SC_F_PIF__currently_attached);
		struct db_obj *tn = db_lookup_cls(db, SC_C_network, db_peek_str(tagged, SC_F_PIF__network));
		cp(v->tagged_bridge, sizeof v->tagged_bridge, tn ? db_peek_str(tn, SC_F_network__bridge) : "");
	}
}

/* How many objects of cls have field = ref (the many side of a relation,
 * read from the one side so it also holds inside a transaction). */
static size_t count_refs(struct db *db, int cls, int field, const char *ref)
{
	size_t n = 0;
	for (struct db_obj *o = db_first(db, cls); o; o = db_next(o))
		n += !strcmp(db_peek_str(o, field), ref);
	return n;
}

/* ---- the host side ---- */

static int addresses_up(const struct pif_view *v, struct xerr *err)
{
	const char *mode = !strcmp(v->mode, "Static") || !strcmp(v->mode, "DHCP") ? v->mode : "None";
	if (net_ip_configure(v->bridge, mode, v->ip, v->netmask, v->gateway, err) < 0)
		return -1;
	if (!strcmp(v->mode6, "Static") && v->ip6[0])
		return net_ipv6_configure(v->bridge, "Static", v->ip6, v->gateway6, err);
	return 0;
}

/* The VLAN's own link on the bridge backend: <device>.<tag> */
static void vlan_link(const struct pif_view *v, char out[NET_IFNAMSIZ])
{
	/* tags are 0..4094: 9 + 1 + 4 characters fit */
	if (snprintf(out, NET_IFNAMSIZ, "%.9s.%lld", v->device, (long long)v->vlan) >= NET_IFNAMSIZ)
		out[NET_IFNAMSIZ - 1] = 0;
}

/* The bond's OVS settings (xapi networkd's mapping): lacp as lacp=active
 * with balance-tcp (tcpudp_ports) or balance-slb (src_mac), other modes as
 * themselves with lacp off; lacp-time and lacp-fallback-ab in the port's
 * other_config, the aggregation key on each member. */
static int bond_settings(const struct pif_view *v, struct xerr *err)
{
	bool lacp = !strcmp(v->bond_mode, "lacp");
	char mode[64], lacpv[32], ltime[64], fb[64];
	snprintf(mode, sizeof mode, "bond_mode=%s",
		 !lacp ? v->bond_mode : !strcmp(v->hashing, "src_mac") ? "balance-slb" : "balance-tcp");
	snprintf(lacpv, sizeof lacpv, "lacp=%s", lacp ? "active" : "off");
	snprintf(ltime, sizeof ltime, "other_config:lacp-time=%s", v->lacp_time[0] ? v->lacp_time : "slow");
	snprintf(fb, sizeof fb, "other_config:lacp-fallback-ab=%s", v->fallback[0] ? v->fallback : "true");
	const char *a[] = {"set", "port", v->device, mode, lacpv, ltime, fb, NULL};
	if (net_ovs_vsctl(a, NULL, err) < 0)
		return -1;
	for (size_t i = 0; lacp && v->aggkey[0] && i < v->nmembers; i++) {
		char k[80];
		snprintf(k, sizeof k, "other_config:lacp-aggregation-key=%s", v->aggkey);
		const char *b[] = {"set", "interface", v->members[i], k, NULL};
		if (net_ovs_vsctl(b, NULL, err) < 0)
			return -1;
	}
	return 0;
}

static int host_bond_up(const struct pif_view *v, struct xerr *err)
{
	if (net_backend() != NET_BACKEND_OVS)
		return xerr_set(err, ERR_OPENVSWITCH_NOT_ACTIVE, NULL);
	const char *a[8 + PIF_BOND_MAX] = {"--may-exist", "add-bond", v->bridge, v->device};
	size_t k = 4;
	for (size_t i = 0; i < v->nmembers; i++) {
		if (!net_nic_is_physical(v->members[i]))
			return xerr_set(err, ERR_PIF_DEVICE_NOT_FOUND, NULL);
		/* a member leaves its own bridge first */
		if (net_ovs_port_del(v->members[i], err) < 0)
			return -1;
		a[k++] = v->members[i];
	}
	a[k] = NULL;
	if (net_ovs_vsctl(a, NULL, err) < 0 || bond_settings(v, err) < 0)
		return -1;
	for (size_t i = 0; i < v->nmembers; i++)
		if (net_link_up(v->members[i], true, err) < 0)
			return -1;
	return 0;
}

int pif_bond_apply(struct rpc_ctx *ctx, const char *master, struct xerr *err)
{
	struct pif_view v;
	db_rdlock(ctx->db);
	struct db_obj *p = db_lookup_cls(ctx->db, SC_C_PIF, master);
	if (p)
		view_read(ctx->db, p, &v);
	db_unlock(ctx->db);
	if (!p || !v.attached || !pif_live(ctx) || net_backend() != NET_BACKEND_OVS)
		return 0;
	return bond_settings(&v, err);
}

/* Tunnel ports: t<key:6 hex><peer address:8 hex>, one per other end. */
static void tunnel_port(const struct pif_view *v, const char *peer, char out[NET_IFNAMSIZ])
{
	struct in_addr a = {0};
	inet_pton(AF_INET, peer, &a);
	snprintf(out, NET_IFNAMSIZ, "t%06x%08x", (unsigned)(v->key & 0xffffff), (unsigned)ntohl(a.s_addr));
}

/* Removes the bridge's tunnel ports of this key not in keep (NULL: all). */
static int tunnel_ports_prune(const struct pif_view *v, bool keep_peers, struct xerr *err)
{
	char *out = NULL;
	const char *ls[] = {"list-ports", v->bridge, NULL};
	if (!net_ovs_bridge_exists(v->bridge))
		return 0;
	if (net_ovs_vsctl(ls, &out, err) < 0)
		return -1;
	char prefix[16];
	snprintf(prefix, sizeof prefix, "t%06x", (unsigned)(v->key & 0xffffff));
	int rc = 0;
	char *save = NULL;
	for (char *port = strtok_r(out, "\n", &save); port && rc == 0; port = strtok_r(NULL, "\n", &save)) {
		if (strncmp(port, prefix, strlen(prefix)) != 0 || strlen(port) != 15)
			continue;
		bool wanted = false;
		for (size_t i = 0; keep_peers && i < v->npeers && !wanted; i++) {
			char name[NET_IFNAMSIZ];
			tunnel_port(v, v->peers[i], name);
			wanted = !strcmp(name, port);
		}
		if (!wanted)
			rc = net_ovs_port_del(port, err);
	}
	free(out);
	return rc;
}

static int host_tunnel_up(const struct pif_view *v, struct xerr *err)
{
	if (net_backend() != NET_BACKEND_OVS)
		return xerr_set(err, ERR_OPENVSWITCH_NOT_ACTIVE, NULL);
	if (net_bridge_ensure(v->bridge, v->mtu, err) < 0)
		return -1;
	char key[32], type[32];
	snprintf(key, sizeof key, "options:key=%u", (unsigned)v->key);
	snprintf(type, sizeof type, "type=%s", !strcmp(v->proto, "vxlan") ? "vxlan" : "gre");
	for (size_t i = 0; i < v->npeers; i++) {
		char name[NET_IFNAMSIZ], remote[96];
		tunnel_port(v, v->peers[i], name);
		snprintf(remote, sizeof remote, "options:remote_ip=%s", v->peers[i]);
		/* protected: what comes in from a tunnel never goes out through
		 * another, so a full mesh of three hosts or more has no loop */
		const char *a[] = {"--may-exist", "add-port", v->bridge, name, "--", "set", "interface", name, type,
				   remote, key, "--", "set", "port", name, "protected=true", NULL};
		if (net_ovs_vsctl(a, NULL, err) < 0)
			return -1;
	}
	return tunnel_ports_prune(v, true, err);
}

static int host_plug(const struct pif_view *v, struct xerr *err)
{
	if (v->physical) {
		if (!net_nic_is_physical(v->device))
			return xerr_set(err, ERR_PIF_DEVICE_NOT_FOUND, NULL);
		if (net_bridge_ensure(v->bridge, v->mtu, err) < 0 || net_port_add(v->bridge, v->device, err) < 0)
			return -1;
		/* its properties (xapi's gro); a NIC that cannot change it keeps
		 * what it has */
		struct xerr e = XERR_INIT;
		if (v->gro >= 0 && net_link_set_gro(v->device, v->gro == 1, &e) < 0)
			log_warn("pif: %s: %s", v->device, e.nparams ? e.params[0] : e.code);
		xerr_clear(&e);
	} else if (v->bond[0]) {
		if (net_bridge_ensure(v->bridge, v->mtu, err) < 0 || host_bond_up(v, err) < 0)
			return -1;
	} else if (v->tunnel[0]) {
		if (host_tunnel_up(v, err) < 0)
			return -1;
	} else if (v->vlan >= 0 && v->tagged[0]) {
		char tag[24];
		snprintf(tag, sizeof tag, "%lld", (long long)v->vlan);
		if (net_backend() == NET_BACKEND_OVS) {
			/* a fake bridge: ports on it carry the tag on the parent */
			const char *a[] = {"--may-exist", "add-br", v->bridge, v->tagged_bridge, tag, NULL};
			if (net_ovs_vsctl(a, NULL, err) < 0)
				return -1;
			if (net_link_up(v->bridge, true, err) < 0)
				return -1;
		} else {
			char link[NET_IFNAMSIZ];
			vlan_link(v, link);
			const char *a[] = {"ip", "link", "add", "link", v->device, "name", link, "type", "vlan", "id",
					   tag, NULL};
			char *o = NULL;
			if (!net_link_exists(link) && net_run(a, &o) != 0) {
				xerr_internal(err, "cannot make VLAN %s on %s: %s", tag, v->device,
					      o && *o ? o : "ip link add failed");
				free(o);
				return -1;
			}
			free(o);
			if (net_bridge_ensure(v->bridge, v->mtu, err) < 0 || net_port_add(v->bridge, link, err) < 0) {
				struct xerr e = XERR_INIT;
				net_link_delete(link, &e);
				xerr_clear(&e);
				return -1;
			}
		}
	} else {
		return xerr_internal(err, "PIF %s: nothing to plug on this host", v->device);
	}
	return addresses_up(v, err);
}

static int host_unplug(const struct pif_view *v, struct xerr *err)
{
	struct xerr e = XERR_INIT;
	if (net_link_exists(v->bridge))
		net_ip_configure(v->bridge, "None", "", "", "", &e); /* also ends a DHCP client */
	xerr_clear(&e);
	if (v->physical)
		return net_port_del(v->bridge, v->device, err);
	if (v->bond[0] && net_backend() == NET_BACKEND_OVS)
		return net_ovs_port_del(v->device, err);
	if (v->tunnel[0] && net_backend() == NET_BACKEND_OVS)
		return tunnel_ports_prune(v, false, err);
	if (v->vlan >= 0 && net_backend() == NET_BACKEND_OVS) {
		const char *a[] = {"--if-exists", "del-br", v->bridge, NULL};
		return net_ovs_vsctl(a, NULL, err);
	}
	if (v->vlan >= 0) {
		char link[NET_IFNAMSIZ];
		vlan_link(v, link);
		return net_link_delete(link, err);
	}
	return 0;
}

static void metrics_refresh(struct db_txn *t, struct db_obj *p, const char *device)
{
	struct db_obj *m = db_lookup_cls(db_txn_db(t), SC_C_PIF_metrics, db_peek_str(p, SC_F_PIF__metrics));
	if (!m)
		return;
	struct hostinfo_nic n;
	memset(&n, 0, sizeof n);
	hostinfo_nic_read(&n, device);
	if (!n.pci_bus_path[0]) /* no device: the driver ethtool reports */
		net_link_driver(device, n.driver);
	db_set_bool(t, m, SC_F_PIF_metrics__carrier, n.carrier);
	db_set_int(t, m, SC_F_PIF_metrics__speed, n.speed);
	db_set_bool(t, m, SC_F_PIF_metrics__duplex, n.duplex);
	db_set_str(t, m, SC_F_PIF_metrics__vendor_id, n.vendor_id);
	db_set_str(t, m, SC_F_PIF_metrics__device_id, n.device_id);
	db_set_str(t, m, SC_F_PIF_metrics__device_name, n.driver);
	db_set_str(t, m, SC_F_PIF_metrics__pci_bus_path, n.pci_bus_path);
	/* no PCI database here: the vendor's name is its PCI id, or the
	 * driver for a NIC with no PCI device (a veth) */
	db_set_str(t, m, SC_F_PIF_metrics__vendor_name, n.vendor_id[0] ? n.vendor_id : n.driver);
	db_set(t, m, SC_F_PIF_metrics__last_updated, xv_time(time(NULL)));
}

/* Sets currently_attached (and the metrics) after a host change. */
static int mark_attached(struct rpc_ctx *ctx, const char *ref, bool attached, struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = db_lookup_cls(ctx->db, SC_C_PIF, ref);
	if (p) {
		db_set_bool(t, p, SC_F_PIF__currently_attached, attached);
		if (db_peek_bool(p, SC_F_PIF__physical))
			metrics_refresh(t, p, db_peek_str(p, SC_F_PIF__device));
	}
	return db_commit(t, err);
}

/* In a pool, a PIF of another host is plugged there: its xenond changes
 * its links and records the result (the records, from any host). */
static bool on_other_host(struct rpc_ctx *ctx, const struct pif_view *v)
{
	return pif_live(ctx) && ctx->srv->host_ref[0] && strcmp(v->host, ctx->srv->host_ref) != 0;
}

static int call_on_pif_host(struct rpc_ctx *ctx, const struct pif_view *v, const char *method, struct xerr *err)
{
	xv a = xv_arr_new(), r = XV_NIL_INIT;
	xv_arr_push_str(&a, v->ref);
	int rc = pool_call_on_host(ctx->srv, v->host, method, &a, NULL, &r, err);
	xv_free(&r);
	xv_free(&a);
	return rc;
}

/* Plugs the PIF ref (its tagged PIF first, for a VLAN). Called with
 * host_net_lock held. */
int pif_plug_ref(struct rpc_ctx *ctx, const char *ref, struct xerr *err)
{
	struct pif_view v;
	db_rdlock(ctx->db);
	struct db_obj *p = db_lookup_cls(ctx->db, SC_C_PIF, ref);
	if (p)
		view_read(ctx->db, p, &v);
	db_unlock(ctx->db);
	if (!p)
		return xerr_set(err, ERR_HANDLE_INVALID, "PIF", ref, NULL);
	if (v.bond_slave)
		return xerr_set(err, ERR_CANNOT_PLUG_BOND_SLAVE, ref, NULL);
	if (on_other_host(ctx, &v))
		return call_on_pif_host(ctx, &v, "PIF.plug", err);
	/* a VLAN's parent bridge first */
	if (v.tagged[0] && !v.tagged_attached && pif_plug_ref(ctx, v.tagged, err) < 0)
		return -1;
	if (pif_live(ctx)) {
		if (host_plug(&v, err) < 0) {
			struct xerr e = XERR_INIT;
			host_unplug(&v, &e);
			xerr_clear(&e);
			return -1;
		}
	}
	log_info("pif: plugged %s (%s on %s)", ref, v.device, v.bridge);
	return mark_attached(ctx, ref, true, err);
}

int pif_unplug_ref(struct rpc_ctx *ctx, const char *ref, struct xerr *err)
{
	struct pif_view v;
	db_rdlock(ctx->db);
	struct db_obj *p = db_lookup_cls(ctx->db, SC_C_PIF, ref);
	if (p)
		view_read(ctx->db, p, &v);
	db_unlock(ctx->db);
	if (!p)
		return xerr_set(err, ERR_HANDLE_INVALID, "PIF", ref, NULL);
	if (on_other_host(ctx, &v))
		return call_on_pif_host(ctx, &v, "PIF.unplug", err);
	if (pif_live(ctx) && host_unplug(&v, err) < 0)
		return -1;
	return mark_attached(ctx, ref, false, err);
}

/* ---- PIF.* ---- */

static struct db_obj *pif_arg(struct rpc_ctx *ctx, xv *args, struct xerr *err)
{
	return generic_lookup(ctx, SC_C_PIF, xv_arr_get(args, 0), err);
}

static int pif_plug(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *p = pif_arg(ctx, args, err);
	char ref[REF_STRLEN + 1] = "";
	if (p)
		cp(ref, sizeof ref, p->ref);
	db_unlock(ctx->db);
	if (!p)
		return -1;
	pthread_mutex_lock(&host_net_lock);
	int rc = pif_plug_ref(ctx, ref, err);
	pthread_mutex_unlock(&host_net_lock);
	return rc;
}

static int pif_unplug(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *p = pif_arg(ctx, args, err);
	char ref[REF_STRLEN + 1] = "";
	int rc = p ? 0 : -1;
	if (p) {
		cp(ref, sizeof ref, p->ref);
		if (db_peek_bool(p, SC_F_PIF__disallow_unplug))
			rc = xerr_set(err, ERR_PIF_DOES_NOT_ALLOW_UNPLUG, ref, NULL);
		else if (db_peek_bool(p, SC_F_PIF__management))
			rc = xerr_set(err, ERR_PIF_IS_MANAGEMENT_INTERFACE, ref, NULL);
	}
	db_unlock(ctx->db);
	if (rc < 0)
		return -1;
	pthread_mutex_lock(&host_net_lock);
	rc = pif_unplug_ref(ctx, ref, err);
	pthread_mutex_unlock(&host_net_lock);
	return rc;
}

static bool ipv4_ok(const char *s)
{
	struct in_addr a;
	return s && inet_pton(AF_INET, s, &a) == 1;
}

static bool ipv6_cidr_ok(const char *s)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", s ? s : "");
	char *slash = strchr(buf, '/');
	if (!slash)
		return false;
	*slash = 0;
	char *end;
	long pl = strtol(slash + 1, &end, 10);
	struct in6_addr a;
	return *end == 0 && slash[1] && pl >= 0 && pl <= 128 && inet_pton(AF_INET6, buf, &a) == 1;
}

static bool ipv6_ok(const char *s)
{
	struct in6_addr a;
	return s && inet_pton(AF_INET6, s, &a) == 1;
}

/* DNS: comma-separated addresses of either family, or empty. */
static bool dns_ok(const char *s)
{
	if (!*s)
		return true;
	char *copy = xstrdup(s), *save = NULL;
	bool ok = true;
	for (char *tok = strtok_r(copy, ",", &save); tok && ok; tok = strtok_r(NULL, ",", &save))
		ok = ipv4_ok(tok) || ipv6_ok(tok);
	free(copy);
	return ok;
}

/* Re-applies the PIF's addresses when it is plugged. */
static int apply_if_attached(struct rpc_ctx *ctx, const char *ref, struct xerr *err)
{
	struct pif_view v;
	db_rdlock(ctx->db);
	struct db_obj *p = db_lookup_cls(ctx->db, SC_C_PIF, ref);
	if (p)
		view_read(ctx->db, p, &v);
	db_unlock(ctx->db);
	if (!p || !v.attached || !pif_live(ctx))
		return 0;
	return addresses_up(&v, err);
}

static int pif_reconfigure_ip(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *mode = arg_str(args, 1), *ip = arg_str(args, 2), *mask = arg_str(args, 3),
		   *gw = arg_str(args, 4), *dns = arg_str(args, 5);
	int rc = 0;
	if (!strcmp(mode, "Static")) {
		if (!ipv4_ok(ip))
			rc = xerr_set(err, ERR_INVALID_IP_ADDRESS_SPECIFIED, "IP", NULL);
		else if (!ipv4_ok(mask) || net_netmask_prefix(mask) < 0)
			rc = xerr_set(err, ERR_INVALID_IP_ADDRESS_SPECIFIED, "netmask", NULL);
		else if (*gw && !ipv4_ok(gw))
			rc = xerr_set(err, ERR_INVALID_IP_ADDRESS_SPECIFIED, "gateway", NULL);
		else if (!dns_ok(dns))
			rc = xerr_set(err, ERR_INVALID_IP_ADDRESS_SPECIFIED, "DNS", NULL);
	} else if (strcmp(mode, "DHCP") != 0 && strcmp(mode, "None") != 0) {
		rc = xerr_set(err, ERR_INVALID_VALUE, "mode", mode, NULL);
	}
	if (rc < 0)
		return -1;
	pthread_mutex_lock(&host_net_lock);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = pif_arg(ctx, args, err);
	if (p && !strcmp(mode, "None") && db_peek_bool(p, SC_F_PIF__management)) {
		xerr_set(err, ERR_PIF_IS_MANAGEMENT_INTERFACE, p->ref, NULL);
		p = NULL;
	}
	char ref[REF_STRLEN + 1] = "";
	if (p) {
		cp(ref, sizeof ref, p->ref);
		bool stat = !strcmp(mode, "Static");
		db_set_str(t, p, SC_F_PIF__ip_configuration_mode, mode);
		db_set_str(t, p, SC_F_PIF__IP, stat ? ip : "");
		db_set_str(t, p, SC_F_PIF__netmask, stat ? mask : "");
		db_set_str(t, p, SC_F_PIF__gateway, stat ? gw : "");
		db_set_str(t, p, SC_F_PIF__DNS, stat ? dns : "");
		rc = db_commit(t, err);
	} else {
		db_abort(t);
		rc = -1;
	}
	if (rc == 0)
		rc = apply_if_attached(ctx, ref, err);
	pthread_mutex_unlock(&host_net_lock);
	return rc;
}

static int pif_reconfigure_ipv6(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *mode = arg_str(args, 1), *ip6 = arg_str(args, 2), *gw = arg_str(args, 3),
		   *dns = arg_str(args, 4);
	int rc = 0;
	if (!strcmp(mode, "Static")) {
		if (!ipv6_cidr_ok(ip6))
			rc = xerr_set(err, ERR_INVALID_IP_ADDRESS_SPECIFIED, "IPv6", NULL);
		else if (*gw && !ipv6_ok(gw))
			rc = xerr_set(err, ERR_INVALID_IP_ADDRESS_SPECIFIED, "gateway", NULL);
		else if (!dns_ok(dns))
			rc = xerr_set(err, ERR_INVALID_IP_ADDRESS_SPECIFIED, "DNS", NULL);
	} else if (strcmp(mode, "DHCP") != 0 && strcmp(mode, "None") != 0 && strcmp(mode, "Autoconf") != 0) {
		rc = xerr_set(err, ERR_INVALID_VALUE, "mode", mode, NULL);
	}
	if (rc < 0)
		return -1;
	pthread_mutex_lock(&host_net_lock);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = pif_arg(ctx, args, err);
	if (p && !strcmp(mode, "None") && db_peek_bool(p, SC_F_PIF__management) &&
	    !strcmp(db_peek_str(p, SC_F_PIF__primary_address_type), "IPv6")) {
		xerr_set(err, ERR_PIF_IS_MANAGEMENT_INTERFACE, p->ref, NULL);
		p = NULL;
	}
	char ref[REF_STRLEN + 1] = "";
	bool attached = false;
	char bridge[NET_IFNAMSIZ] = "";
	if (p) {
		cp(ref, sizeof ref, p->ref);
		bool stat = !strcmp(mode, "Static");
		db_set_str(t, p, SC_F_PIF__ipv6_configuration_mode, mode);
		xv six = xv_arr_new();
		if (stat)
			xv_arr_push_str(&six, ip6);
		db_set(t, p, SC_F_PIF__IPv6, six);
		db_set_str(t, p, SC_F_PIF__ipv6_gateway, stat ? gw : "");
		if (stat && *dns)
			db_set_str(t, p, SC_F_PIF__DNS, dns);
		attached = db_peek_bool(p, SC_F_PIF__currently_attached);
		struct db_obj *net = db_lookup_cls(ctx->db, SC_C_network, db_peek_str(p, SC_F_PIF__network));
		cp(bridge, sizeof bridge, net ? db_peek_str(net, SC_F_network__bridge) : "");
		rc = db_commit(t, err);
	} else {
		db_abort(t);
		rc = -1;
	}
	if (rc == 0 && attached && pif_live(ctx))
		rc = net_ipv6_configure(bridge, !strcmp(mode, "Static") ? "Static" : "None", ip6, gw, err);
	pthread_mutex_unlock(&host_net_lock);
	return rc;
}

/* xenbr<N>: N from eth<N>, else the first number no network's bridge has */
static void physical_bridge(struct db *db, const char *device, char out[NET_IFNAMSIZ])
{
	char *end;
	if (!strncmp(device, "eth", 3) && device[3]) {
		long n = strtol(device + 3, &end, 10);
		if (!*end && n >= 0 && n < 10000) {
			snprintf(out, NET_IFNAMSIZ, "xenbr%ld", n);
			return;
		}
	}
	for (int n = 0;; n++) {
		snprintf(out, NET_IFNAMSIZ, "xenbr%d", n);
		bool taken = false;
		for (struct db_obj *o = db_first(db, SC_C_network); o && !taken; o = db_next(o))
			taken = !strcmp(db_peek_str(o, SC_F_network__bridge), out);
		char want[NET_IFNAMSIZ];
		snprintf(want, sizeof want, "eth%d", n);
		/* keep xenbr<N> for an eth<N> the host may also have */
		if (!taken && !net_link_exists(want))
			return;
	}
}

/* A PIF for NIC device on host, on the network of bridge xenbr<N> (made
 * if no network has it, reused if it has no PIF on this host). */
static struct db_obj *introduce(struct db_txn *t, struct db_obj *host, const char *device)
{
	struct db *db = db_txn_db(t);
	char bridge[NET_IFNAMSIZ];
	physical_bridge(db, device, bridge);
	struct db_obj *net = NULL;
	for (struct db_obj *o = db_first(db, SC_C_network); o && !net; o = db_next(o))
		if (!strcmp(db_peek_str(o, SC_F_network__bridge), bridge))
			net = o;
	if (net) {
		for (struct db_obj *q = db_first(db, SC_C_PIF); q && net; q = db_next(q))
			if (!strcmp(db_peek_str(q, SC_F_PIF__network), net->ref) &&
			    !strcmp(db_peek_str(q, SC_F_PIF__host), host->ref))
				net = NULL;
		if (!net)
			return NULL; /* the bridge is another PIF's here */
	} else {
		net = db_create(t, SC_C_network, NULL);
		char *label = xasprintf("Pool-wide network associated with %s", device);
		db_set_str(t, net, SC_F_network__name_label, label);
		free(label);
		db_set_str(t, net, SC_F_network__bridge, bridge);
		db_set_int(t, net, SC_F_network__MTU, 1500);
		db_set_bool(t, net, SC_F_network__managed, true);
		xv oc = xv_map_new();
		xv_map_set_str(&oc, "automatic", "true");
		db_set(t, net, SC_F_network__other_config, oc);
	}
	struct hostinfo_nic n;
	memset(&n, 0, sizeof n);
	hostinfo_nic_read(&n, device);
	struct db_obj *p = db_create(t, SC_C_PIF, NULL);
	db_set_str(t, p, SC_F_PIF__device, device);
	db_set_str(t, p, SC_F_PIF__host, host->ref);
	db_set_str(t, p, SC_F_PIF__network, net->ref);
	db_set_str(t, p, SC_F_PIF__MAC, n.mac);
	db_set_int(t, p, SC_F_PIF__MTU, 1500);
	db_set_int(t, p, SC_F_PIF__VLAN, -1);
	db_set_bool(t, p, SC_F_PIF__physical, true);
	db_set_bool(t, p, SC_F_PIF__managed, true);
	db_set_bool(t, p, SC_F_PIF__currently_attached, false);
	db_set_bool(t, p, SC_F_PIF__management, false);
	db_set_bool(t, p, SC_F_PIF__disallow_unplug, false);
	db_set_str(t, p, SC_F_PIF__ip_configuration_mode, "None");
	db_set_str(t, p, SC_F_PIF__ipv6_configuration_mode, "None");
	db_set_str(t, p, SC_F_PIF__primary_address_type, "IPv4");
	db_set_str(t, p, SC_F_PIF__bond_slave_of, REF_NULL);
	db_set_str(t, p, SC_F_PIF__VLAN_master_of, REF_NULL);
	xv props = xv_map_new();
	xv_map_set_str(&props, "gro", "on");
	db_set(t, p, SC_F_PIF__properties, props);
	struct db_obj *m = db_create(t, SC_C_PIF_metrics, NULL);
	db_set_str(t, p, SC_F_PIF__metrics, m->ref);
	metrics_refresh(t, p, device);
	log_info("pif: introduced %s on %s", device, bridge);
	return p;
}

static int pif_scan(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	char **nics = NULL;
	size_t n = 0;
	if (net_nics_scan(&nics, &n) < 0)
		return xerr_internal(err, "cannot list the host's interfaces");
	pthread_mutex_lock(&host_net_lock);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *host = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	int rc = -1;
	if (host) {
		for (size_t i = 0; i < n; i++) {
			bool known = false;
			for (struct db_obj *q = db_first(ctx->db, SC_C_PIF); q && !known; q = db_next(q))
				known = !strcmp(db_peek_str(q, SC_F_PIF__host), host->ref) &&
					db_peek_bool(q, SC_F_PIF__physical) &&
					!strcmp(db_peek_str(q, SC_F_PIF__device), nics[i]);
			if (!known)
				introduce(t, host, nics[i]);
		}
		rc = db_commit(t, err);
	} else {
		db_abort(t);
	}
	pthread_mutex_unlock(&host_net_lock);
	for (size_t i = 0; i < n; i++)
		free(nics[i]);
	free(nics);
	return rc;
}

static int pif_forget(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	pthread_mutex_lock(&host_net_lock);
	db_rdlock(ctx->db);
	struct db_obj *p = pif_arg(ctx, args, err);
	char ref[REF_STRLEN + 1] = "";
	int rc = p ? 0 : -1;
	bool attached = false;
	if (p) {
		cp(ref, sizeof ref, p->ref);
		if (db_peek_bool(p, SC_F_PIF__management))
			rc = xerr_set(err, ERR_PIF_IS_MANAGEMENT_INTERFACE, ref, NULL);
		else if (count_refs(ctx->db, SC_C_VLAN, SC_F_VLAN__tagged_PIF, ref))
			rc = xerr_set(err, ERR_PIF_VLAN_STILL_EXISTS, ref, NULL);
		else if (count_refs(ctx->db, SC_C_tunnel, SC_F_tunnel__transport_PIF, ref))
			rc = xerr_set(err, ERR_PIF_TUNNEL_STILL_EXISTS, ref, NULL);
		else if (!ref_is_null(db_peek_str(p, SC_F_PIF__bond_slave_of)))
			rc = xerr_set(err, ERR_PIF_ALREADY_BONDED, ref, NULL);
		else if (!db_peek_bool(p, SC_F_PIF__physical))
			rc = xerr_set(err, ERR_PIF_IS_NOT_PHYSICAL, ref, NULL);
		attached = db_peek_bool(p, SC_F_PIF__currently_attached);
	}
	db_unlock(ctx->db);
	if (rc == 0 && attached)
		rc = pif_unplug_ref(ctx, ref, err);
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		p = db_lookup_cls(ctx->db, SC_C_PIF, ref);
		struct db_obj *m = p ? db_lookup_cls(ctx->db, SC_C_PIF_metrics, db_peek_str(p, SC_F_PIF__metrics)) : NULL;
		struct db_obj *net = p ? db_lookup_cls(ctx->db, SC_C_network, db_peek_str(p, SC_F_PIF__network)) : NULL;
		if (m)
			db_delete(t, m);
		if (p)
			db_delete(t, p);
		/* the network goes with its last PIF unless VIFs use it (xapi) */
		if (net) {
			if (count_refs(ctx->db, SC_C_PIF, SC_F_PIF__network, net->ref) <= 1 &&
			    !count_refs(ctx->db, SC_C_VIF, SC_F_VIF__network, net->ref))
				db_delete(t, net);
		}
		rc = db_commit(t, err);
	}
	pthread_mutex_unlock(&host_net_lock);
	return rc;
}

/* ---- host.management_reconfigure ---- */

static int host_management_reconfigure(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	pthread_mutex_lock(&host_net_lock);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = generic_lookup(ctx, SC_C_PIF, xv_arr_get(args, 0), err);
	int rc = p ? 0 : -1;
	struct db_obj *host = p ? db_lookup_cls(ctx->db, SC_C_host, db_peek_str(p, SC_F_PIF__host)) : NULL;
	char addr[64] = "";
	if (p) {
		const char *mode = db_peek_str(p, SC_F_PIF__ip_configuration_mode);
		const xv *six = db_peek(p, SC_F_PIF__IPv6);
		bool v6 = !strcmp(db_peek_str(p, SC_F_PIF__primary_address_type), "IPv6");
		if (v6 ? (!six || !xv_len(six)) : (!strcmp(mode, "None") || !*mode))
			rc = xerr_set(err, ERR_PIF_HAS_NO_NETWORK_CONFIGURATION, p->ref, NULL);
		else if (!host)
			rc = xerr_set(err, ERR_HANDLE_INVALID, "host", db_peek_str(p, SC_F_PIF__host), NULL);
	}
	if (rc == 0 && !db_peek_bool(p, SC_F_PIF__currently_attached)) {
		/* plugged first, as xapi does */
		char ref[REF_STRLEN + 1];
		cp(ref, sizeof ref, p->ref);
		db_abort(t);
		rc = pif_plug_ref(ctx, ref, err);
		t = db_begin(ctx->db);
		p = db_lookup_cls(ctx->db, SC_C_PIF, ref);
		host = p ? db_lookup_cls(ctx->db, SC_C_host, db_peek_str(p, SC_F_PIF__host)) : NULL;
		if (rc == 0 && (!p || !host))
			rc = xerr_set(err, ERR_HANDLE_INVALID, "PIF", ref, NULL);
	}
	if (rc == 0) {
		const char *ip = db_peek_str(p, SC_F_PIF__IP);
		if (!*ip) {
			/* DHCP: the address the bridge got */
			char mask[64];
			struct db_obj *net = db_lookup_cls(ctx->db, SC_C_network, db_peek_str(p, SC_F_PIF__network));
			if (net)
				net_ipv4_of(db_peek_str(net, SC_F_network__bridge), addr, sizeof addr, mask, sizeof mask);
		} else {
			cp(addr, sizeof addr, ip);
		}
		for (struct db_obj *q = db_first(ctx->db, SC_C_PIF); q; q = db_next(q))
			if (q != p && !strcmp(db_peek_str(q, SC_F_PIF__host), host->ref) &&
			    db_peek_bool(q, SC_F_PIF__management))
				db_set_bool(t, q, SC_F_PIF__management, false);
		db_set_bool(t, p, SC_F_PIF__management, true);
		if (addr[0])
			db_set_str(t, host, SC_F_host__address, addr);
		rc = db_commit(t, err);
	} else {
		db_abort(t);
	}
	pthread_mutex_unlock(&host_net_lock);
	return rc;
}

/* ---- VLAN ---- */

/* VLAN.create's checks and records; the new PIF's ref in out. */
static int vlan_create_txn(struct rpc_ctx *ctx, const xv *tagged_arg, int64_t tag, const xv *net_arg,
			   char out_pif[REF_STRLEN + 1], char out_vlan[REF_STRLEN + 1], struct xerr *err)
{
	if (tag < 0 || tag > 4094) {
		char s[32];
		snprintf(s, sizeof s, "%lld", (long long)tag);
		return xerr_set(err, ERR_VLAN_TAG_INVALID, s, NULL);
	}
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *tagged = generic_lookup(ctx, SC_C_PIF, tagged_arg, err);
	struct db_obj *net = tagged ? generic_lookup(ctx, SC_C_network, net_arg, err) : NULL;
	int rc = net ? 0 : -1;
	struct db_obj *host = net ? db_lookup_cls(ctx->db, SC_C_host, db_peek_str(tagged, SC_F_PIF__host)) : NULL;
	const char *device = tagged ? db_peek_str(tagged, SC_F_PIF__device) : "";
	if (rc == 0 && db_peek_int(tagged, SC_F_PIF__VLAN) >= 0)
		rc = xerr_set(err, ERR_PIF_IS_VLAN, tagged->ref, NULL);
	else if (rc == 0 && !db_peek_bool(tagged, SC_F_PIF__managed))
		rc = xerr_set(err, ERR_PIF_UNMANAGED, tagged->ref, NULL);
	else if (rc == 0 && !ref_is_null(db_peek_str(tagged, SC_F_PIF__bond_slave_of)))
		rc = xerr_set(err, ERR_CANNOT_ADD_VLAN_TO_BOND_SLAVE, tagged->ref, NULL);
	else if (rc == 0 && !host)
		rc = xerr_set(err, ERR_HANDLE_INVALID, "host", db_peek_str(tagged, SC_F_PIF__host), NULL);
	if (rc == 0) {
		/* the device and tag on this host, and the network on this host */
		for (struct db_obj *q = db_first(ctx->db, SC_C_PIF); q && rc == 0; q = db_next(q)) {
			if (strcmp(db_peek_str(q, SC_F_PIF__host), host->ref) != 0)
				continue;
			if (!strcmp(db_peek_str(q, SC_F_PIF__device), device) && db_peek_int(q, SC_F_PIF__VLAN) == tag)
				rc = xerr_set(err, ERR_PIF_VLAN_EXISTS, device, NULL);
			else if (!strcmp(db_peek_str(q, SC_F_PIF__network), net->ref))
				rc = xerr_set(err, ERR_NETWORK_ALREADY_CONNECTED, host->ref, q->ref, NULL);
		}
	}
	if (rc < 0) {
		db_abort(t);
		return -1;
	}
	struct db_obj *p = db_create(t, SC_C_PIF, NULL);
	struct db_obj *v = db_create(t, SC_C_VLAN, NULL);
	db_set_str(t, p, SC_F_PIF__device, device);
	db_set_str(t, p, SC_F_PIF__host, host->ref);
	db_set_str(t, p, SC_F_PIF__network, net->ref);
	db_set_str(t, p, SC_F_PIF__MAC, "fe:ff:ff:ff:ff:ff");
	db_set_int(t, p, SC_F_PIF__MTU, db_peek_int(tagged, SC_F_PIF__MTU));
	db_set_int(t, p, SC_F_PIF__VLAN, tag);
	db_set_bool(t, p, SC_F_PIF__physical, false);
	db_set_bool(t, p, SC_F_PIF__managed, true);
	db_set_bool(t, p, SC_F_PIF__currently_attached, false);
	db_set_bool(t, p, SC_F_PIF__management, false);
	db_set_bool(t, p, SC_F_PIF__disallow_unplug, false);
	db_set_str(t, p, SC_F_PIF__ip_configuration_mode, "None");
	db_set_str(t, p, SC_F_PIF__ipv6_configuration_mode, "None");
	db_set_str(t, p, SC_F_PIF__primary_address_type, "IPv4");
	db_set_str(t, p, SC_F_PIF__bond_slave_of, REF_NULL);
	db_set_str(t, p, SC_F_PIF__VLAN_master_of, v->ref);
	/* it shares the tagged PIF's metrics */
	db_set_str(t, p, SC_F_PIF__metrics, db_peek_str(tagged, SC_F_PIF__metrics));
	db_set_str(t, v, SC_F_VLAN__tagged_PIF, tagged->ref);
	db_set_str(t, v, SC_F_VLAN__untagged_PIF, p->ref);
	db_set_int(t, v, SC_F_VLAN__tag, tag);
	cp(out_pif, REF_STRLEN + 1, p->ref);
	cp(out_vlan, REF_STRLEN + 1, v->ref);
	return db_commit(t, err);
}

static void vlan_records_delete(struct rpc_ctx *ctx, const char *vlan_ref)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *v = db_lookup_cls(ctx->db, SC_C_VLAN, vlan_ref);
	struct db_obj *p = v ? db_lookup_cls(ctx->db, SC_C_PIF, db_peek_str(v, SC_F_VLAN__untagged_PIF)) : NULL;
	if (p)
		db_delete(t, p);
	if (v)
		db_delete(t, v);
	struct xerr e = XERR_INIT;
	db_commit(t, &e);
	xerr_clear(&e);
}

/* Creates and plugs one VLAN; on a failed plug nothing is left. */
static int vlan_create_one(struct rpc_ctx *ctx, const xv *tagged, int64_t tag, const xv *net,
			   char vlan_ref[REF_STRLEN + 1], char pif_ref[REF_STRLEN + 1], struct xerr *err)
{
	if (vlan_create_txn(ctx, tagged, tag, net, pif_ref, vlan_ref, err) < 0)
		return -1;
	if (pif_plug_ref(ctx, pif_ref, err) < 0) {
		vlan_records_delete(ctx, vlan_ref);
		return -1;
	}
	return 0;
}

static int vlan_destroy_ref(struct rpc_ctx *ctx, const char *vlan_ref, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *v = db_lookup_cls(ctx->db, SC_C_VLAN, vlan_ref);
	char pif[REF_STRLEN + 1] = "";
	bool attached = false;
	if (v) {
		struct db_obj *p = db_lookup_cls(ctx->db, SC_C_PIF, db_peek_str(v, SC_F_VLAN__untagged_PIF));
		if (p) {
			cp(pif, sizeof pif, p->ref);
			attached = db_peek_bool(p, SC_F_PIF__currently_attached);
		}
	}
	db_unlock(ctx->db);
	if (pif[0] && attached && pif_unplug_ref(ctx, pif, err) < 0)
		return -1;
	vlan_records_delete(ctx, vlan_ref);
	return 0;
}

static int vlan_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	char vref[REF_STRLEN + 1], pref[REF_STRLEN + 1];
	pthread_mutex_lock(&host_net_lock);
	int rc = vlan_create_one(ctx, xv_arr_get(args, 0), arg_int(args, 1), xv_arr_get(args, 2), vref, pref, err);
	pthread_mutex_unlock(&host_net_lock);
	if (rc == 0)
		*result = xv_str(vref);
	return rc;
}

static int vlan_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	pthread_mutex_lock(&host_net_lock);
	db_rdlock(ctx->db);
	struct db_obj *v = generic_lookup(ctx, SC_C_VLAN, xv_arr_get(args, 0), err);
	char ref[REF_STRLEN + 1] = "";
	if (v)
		cp(ref, sizeof ref, v->ref);
	db_unlock(ctx->db);
	int rc = v ? vlan_destroy_ref(ctx, ref, err) : -1;
	pthread_mutex_unlock(&host_net_lock);
	return rc;
}

/* VLAN.create with tag on network for each PIF of pifs, under
 * host_net_lock; the VLAN PIFs made as *result, or, when one fails, every
 * one made before it destroyed. */
static int vlans_on(struct rpc_ctx *ctx, const xv *pifs, int64_t tag, const xv *network, xv *result,
		    struct xerr *err)
{
	xv made = xv_arr_new(), vlans = xv_arr_new();
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < xv_len(pifs); i++) {
		char vref[REF_STRLEN + 1], pref[REF_STRLEN + 1];
		rc = vlan_create_one(ctx, xv_arr_get(pifs, i), tag, network, vref, pref, err);
		if (rc == 0) {
			xv_arr_push_str(&made, pref);
			xv_arr_push_str(&vlans, vref);
		}
	}
	if (rc < 0) {
		for (size_t i = 0; i < xv_len(&vlans); i++) {
			struct xerr e = XERR_INIT;
			vlan_destroy_ref(ctx, xv_as_str(xv_arr_get(&vlans, i)), &e);
			xerr_clear(&e);
		}
		xv_free(&made);
	} else {
		*result = made;
	}
	xv_free(&vlans);
	return rc;
}

/* pool.create_VLAN_from_PIF(pif, network, VLAN): VLAN.create on every PIF
 * of pif's network on a live host; any failure destroys those made. */
static int pool_create_vlan_from_pif(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	pthread_mutex_lock(&host_net_lock);
	db_rdlock(ctx->db);
	struct db_obj *p = generic_lookup(ctx, SC_C_PIF, xv_arr_get(args, 0), err);
	xv tagged = xv_arr_new();
	if (p) {
		struct db_obj *net = db_lookup_cls(ctx->db, SC_C_network, db_peek_str(p, SC_F_PIF__network));
		for (struct db_obj *q = net ? db_first(ctx->db, SC_C_PIF) : NULL; q; q = db_next(q)) {
			if (strcmp(db_peek_str(q, SC_F_PIF__network), net->ref) != 0)
				continue;
			struct db_obj *h = q ? db_lookup_cls(ctx->db, SC_C_host, db_peek_str(q, SC_F_PIF__host)) : NULL;
			struct db_obj *hm = h ? db_lookup_cls(ctx->db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics))
					      : NULL;
			if (q && (!hm || db_peek_bool(hm, SC_F_host_metrics__live)))
				xv_arr_push_str(&tagged, q->ref);
		}
		if (!xv_len(&tagged))
			xv_arr_push_str(&tagged, p->ref);
	}
	db_unlock(ctx->db);
	int rc = p ? vlans_on(ctx, &tagged, arg_int(args, 2), xv_arr_get(args, 1), result, err) : -1;
	pthread_mutex_unlock(&host_net_lock);
	xv_free(&tagged);
	return rc;
}

/* pool.management_reconfigure(network): host.management_reconfigure on
 * every host with its PIF on the network, the members first and this host
 * last. Every host must have a configured PIF there of the address type
 * of its management interface: checked before any host moves. */
static int pool_management_reconfigure(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (pool_ha_refuse(ctx->db, err) < 0)
		return -1;
	db_rdlock(ctx->db);
	struct db_obj *net = generic_lookup(ctx, SC_C_network, xv_arr_get(args, 0), err);
	int rc = net ? 0 : -1;
	xv hosts = xv_arr_new(), pifs = xv_arr_new();
	for (struct db_obj *h = rc == 0 ? db_first(ctx->db, SC_C_host) : NULL; h && rc == 0; h = db_next(h)) {
		struct db_obj *to = NULL, *now = NULL;
		for (struct db_obj *q = db_first(ctx->db, SC_C_PIF); q; q = db_next(q)) {
			if (strcmp(db_peek_str(q, SC_F_PIF__host), h->ref) != 0)
				continue;
			if (!strcmp(db_peek_str(q, SC_F_PIF__network), net->ref))
				to = q;
			if (db_peek_bool(q, SC_F_PIF__management))
				now = q;
		}
		if (!to) {
			rc = xerr_set(err, ERR_PIF_NOT_PRESENT, h->ref, net->ref, NULL);
			break;
		}
		const char *type = db_peek_str(to, SC_F_PIF__primary_address_type);
		const char *mode = db_peek_str(to, SC_F_PIF__ip_configuration_mode);
		const xv *six = db_peek(to, SC_F_PIF__IPv6);
		if (now && strcmp(db_peek_str(now, SC_F_PIF__primary_address_type), type) != 0)
			rc = xerr_set(err, ERR_PIF_INCOMPATIBLE_PRIMARY_ADDRESS_TYPE, to->ref, NULL);
		else if (!strcmp(type, "IPv6") ? (!six || !xv_len(six)) : (!*mode || !strcmp(mode, "None")))
			rc = xerr_set(err, ERR_PIF_HAS_NO_NETWORK_CONFIGURATION, to->ref, NULL);
		else {
			xv_arr_push_str(&hosts, h->ref);
			xv_arr_push_str(&pifs, to->ref);
		}
	}
	db_unlock(ctx->db);
	/* the members first, then this host */
	size_t n = xv_len(&hosts);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *href = xv_as_str(xv_arr_get(&hosts, i));
		if (!strcmp(href, ctx->srv->host_ref))
			continue;
		xv a = xv_arr_new();
		xv_arr_push_str(&a, xv_as_str(xv_arr_get(&pifs, i)));
		xv r = XV_NIL_INIT;
		rc = pool_call_on_host(ctx->srv, href, "host.management_reconfigure", &a, NULL, &r, err);
		xv_free(&r);
		xv_free(&a);
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (strcmp(xv_as_str(xv_arr_get(&hosts, i)), ctx->srv->host_ref) != 0)
			continue;
		xv a = xv_arr_new();
		xv_arr_push_str(&a, xv_as_str(xv_arr_get(&pifs, i)));
		xv r = XV_NIL_INIT;
		rc = host_management_reconfigure(ctx, &a, &r, err);
		xv_free(&r);
		xv_free(&a);
	}
	xv_free(&hosts);
	xv_free(&pifs);
	return rc;
}

RPC_IMPL(PIF, scan, pif_scan, 0);
RPC_IMPL(PIF, plug, pif_plug, RPC_SLOW);
RPC_IMPL(PIF, unplug, pif_unplug, RPC_SLOW);
RPC_IMPL(PIF, forget, pif_forget, 0);
RPC_IMPL(PIF, reconfigure_ip, pif_reconfigure_ip, 0);
RPC_IMPL(PIF, reconfigure_ipv6, pif_reconfigure_ipv6, 0);
RPC_IMPL(host, management_reconfigure, host_management_reconfigure, 0);
RPC_IMPL(VLAN, create, vlan_create, RPC_SLOW);
RPC_IMPL(VLAN, destroy, vlan_destroy, RPC_SLOW);
RPC_IMPL(pool, create_VLAN_from_PIF, pool_create_vlan_from_pif, RPC_SLOW);
RPC_IMPL(pool, management_reconfigure, pool_management_reconfigure, RPC_SLOW);

/* ---- properties, introduce, the records alone ---- */

/* The bond whose master p is, or NULL. */
static struct db_obj *bond_of_master(struct db *db, const struct db_obj *p)
{
	for (struct db_obj *b = db_first(db, SC_C_Bond); b; b = db_next(b))
		if (!strcmp(db_peek_str(b, SC_F_Bond__master), p->ref))
			return b;
	return NULL;
}

/* GRO on the device(s) of an attached PIF: a NIC's own, a bond's members. */
static int gro_apply(struct db *db, struct db_obj *p, bool on, struct xerr *err)
{
	struct db_obj *bond = bond_of_master(db, p);
	if (!bond)
		return net_link_set_gro(db_peek_str(p, SC_F_PIF__device), on, err);
	for (struct db_obj *m = db_first(db, SC_C_PIF); m; m = db_next(m))
		if (!strcmp(db_peek_str(m, SC_F_PIF__bond_slave_of), bond->ref) &&
		    net_link_set_gro(db_peek_str(m, SC_F_PIF__device), on, err) < 0)
			return -1;
	return 0;
}

/* PIF.set_property(self, name, value): xapi knows one property, gro
 * (on/off), on a NIC that is no bond member or on a bond's master (its
 * members take it too); applied to the device when the PIF is plugged. */
static int pif_set_property(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *name = arg_str(args, 1), *value = arg_str(args, 2);
	if (strcmp(name, "gro") != 0 || (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)) {
		char *m = xasprintf("%s = %s", name, value);
		xerr_set(err, ERR_INVALID_VALUE, "properties", m, NULL);
		free(m);
		return -1;
	}
	db_rdlock(ctx->db);
	struct db_obj *p = pif_arg(ctx, args, err);
	struct pif_view v;
	if (p)
		view_read(ctx->db, p, &v);
	db_unlock(ctx->db);
	if (!p)
		return -1;
	if (on_other_host(ctx, &v)) {
		xv r = XV_NIL_INIT;
		int rc = pool_call_on_host(ctx->srv, v.host, "PIF.set_property", args, NULL, &r, err);
		xv_free(&r);
		return rc;
	}
	pthread_mutex_lock(&host_net_lock);
	struct db_txn *t = db_begin(ctx->db);
	p = db_lookup_cls(ctx->db, SC_C_PIF, v.ref);
	int rc = 0;
	struct db_obj *bond = p ? bond_of_master(ctx->db, p) : NULL;
	if (!p)
		rc = xerr_set(err, ERR_HANDLE_INVALID, "PIF", v.ref, NULL);
	else if ((!db_peek_bool(p, SC_F_PIF__physical) && !bond) ||
		 !ref_is_null(db_peek_str(p, SC_F_PIF__bond_slave_of)))
		rc = xerr_set(err, ERR_CANNOT_CHANGE_PIF_PROPERTIES, p->ref, NULL);
	if (rc == 0) {
		xv_map_set_str(db_edit(t, p, SC_F_PIF__properties), name, value);
		for (struct db_obj *m = bond ? db_first(ctx->db, SC_C_PIF) : NULL; m; m = db_next(m))
			if (!strcmp(db_peek_str(m, SC_F_PIF__bond_slave_of), bond->ref))
				xv_map_set_str(db_edit(t, m, SC_F_PIF__properties), name, value);
		/* the device first: a refusal leaves the record as it was */
		if (pif_live(ctx) && db_peek_bool(p, SC_F_PIF__currently_attached))
			rc = gro_apply(ctx->db, p, !strcmp(value, "on"), err);
	}
	if (rc == 0)
		rc = db_commit(t, err);
	else
		db_abort(t);
	pthread_mutex_unlock(&host_net_lock);
	return rc;
}

static void lowercase(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

static bool mac_ok(const char *m)
{
	if (strlen(m) != 17)
		return false;
	for (int i = 0; i < 17; i++) {
		char c = m[i];
		bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (i % 3 == 2 ? c != ':' : !hex)
			return false;
	}
	return true;
}

/* PIF.introduce(host, MAC, device, managed): a PIF for a NIC the host has
 * and no PIF names yet, as PIF.scan makes it; an empty MAC is the NIC's. */
static int pif_introduce(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *host = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	char href[REF_STRLEN + 1] = "";
	if (host)
		cp(href, sizeof href, host->ref);
	db_unlock(ctx->db);
	if (!host)
		return -1;
	/* the NIC is that host's: asked there */
	if (pif_live(ctx) && ctx->srv->host_ref[0] && strcmp(href, ctx->srv->host_ref) != 0)
		return pool_call_on_host(ctx->srv, href, "PIF.introduce", args, NULL, result, err);
	const char *device = arg_str(args, 2);
	char mac[64];
	cp(mac, sizeof mac, arg_str(args, 1));
	lowercase(mac);
	char **nics = NULL;
	size_t n = 0;
	if (net_nics_scan(&nics, &n) < 0)
		return xerr_internal(err, "cannot list the host's interfaces");
	char nic_mac[64] = "";
	for (size_t i = 0; i < n; i++) {
		if (strcmp(nics[i], device) != 0)
			continue;
		struct hostinfo_nic hn;
		memset(&hn, 0, sizeof hn);
		hostinfo_nic_read(&hn, device);
		cp(nic_mac, sizeof nic_mac, hn.mac);
		lowercase(nic_mac);
	}
	for (size_t i = 0; i < n; i++)
		free(nics[i]);
	free(nics);
	if (!mac[0])
		cp(mac, sizeof mac, nic_mac);
	if (!mac_ok(mac))
		return xerr_set(err, ERR_MAC_INVALID, mac, NULL);
	pthread_mutex_lock(&host_net_lock);
	struct db_txn *t = db_begin(ctx->db);
	host = db_lookup_cls(ctx->db, SC_C_host, href);
	int rc = host ? 0 : xerr_set(err, ERR_HANDLE_INVALID, "host", href, NULL);
	for (struct db_obj *q = db_first(ctx->db, SC_C_PIF); q && rc == 0; q = db_next(q))
		if (!strcmp(db_peek_str(q, SC_F_PIF__host), href) && db_peek_bool(q, SC_F_PIF__physical) &&
		    !strcmp(db_peek_str(q, SC_F_PIF__device), device))
			rc = xerr_set(err, ERR_DUPLICATE_PIF_DEVICE_NAME, device, NULL);
	if (rc == 0 && (!nic_mac[0] || strcmp(nic_mac, mac) != 0))
		rc = xerr_set(err, ERR_COULD_NOT_FIND_NETWORK_INTERFACE_WITH_SPECIFIED_DEVICE_NAME_AND_MAC_ADDRESS,
			      NULL);
	struct db_obj *p = rc == 0 ? introduce(t, host, device) : NULL;
	if (rc == 0 && !p)
		rc = xerr_internal(err, "the bridge for %s is another PIF's on this host", device);
	char ref[REF_STRLEN + 1] = "";
	if (p) {
		cp(ref, sizeof ref, p->ref);
		db_set_bool(t, p, SC_F_PIF__managed, arg_bool(args, 3));
	}
	if (rc == 0)
		rc = db_commit(t, err);
	else
		db_abort(t);
	pthread_mutex_unlock(&host_net_lock);
	if (rc == 0)
		*result = xv_str(ref);
	return rc;
}

static bool one_of(const char *s, const char *const *set)
{
	for (; *set; set++)
		if (!strcmp(s, *set))
			return true;
	return false;
}

/* A ref argument that may be null, else must be of cls. */
static bool null_or(struct rpc_ctx *ctx, int cls, xv *args, size_t i, struct xerr *err)
{
	return ref_is_null(arg_str(args, i)) || generic_lookup(ctx, cls, xv_arr_get(args, i), err) != NULL;
}

/* PIF.db_introduce: a PIF record with the given fields (and its metrics);
 * nothing is done on the host. */
static int pif_db_introduce(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	static const char *const modes[] = {"None", "DHCP", "Static", NULL};
	static const char *const modes6[] = {"None", "DHCP", "Static", "Autoconf", NULL};
	static const char *const types[] = {"IPv4", "IPv6", NULL};
	const char *mode = arg_str(args, 7), *mode6 = arg_str(args, 17), *type = arg_str(args, 20);
	if (!one_of(mode, modes))
		return xerr_set(err, ERR_INVALID_VALUE, "ip_configuration_mode", mode, NULL);
	if (!one_of(mode6, modes6))
		return xerr_set(err, ERR_INVALID_VALUE, "ipv6_configuration_mode", mode6, NULL);
	if (!one_of(type, types))
		return xerr_set(err, ERR_INVALID_VALUE, "primary_address_type", type, NULL);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *net = generic_lookup(ctx, SC_C_network, xv_arr_get(args, 1), err);
	struct db_obj *host = net ? generic_lookup(ctx, SC_C_host, xv_arr_get(args, 2), err) : NULL;
	if (!host || !null_or(ctx, SC_C_Bond, args, 12, err) || !null_or(ctx, SC_C_VLAN, args, 13, err)) {
		db_abort(t);
		return -1;
	}
	struct db_obj *p = db_create(t, SC_C_PIF, NULL);
	struct db_obj *m = db_create(t, SC_C_PIF_metrics, NULL);
	db_set_str(t, p, SC_F_PIF__device, arg_str(args, 0));
	db_set_str(t, p, SC_F_PIF__network, net->ref);
	db_set_str(t, p, SC_F_PIF__host, host->ref);
	db_set_str(t, p, SC_F_PIF__MAC, arg_str(args, 3));
	db_set_int(t, p, SC_F_PIF__MTU, arg_int(args, 4));
	db_set_int(t, p, SC_F_PIF__VLAN, arg_int(args, 5));
	db_set_bool(t, p, SC_F_PIF__physical, arg_bool(args, 6));
	db_set_str(t, p, SC_F_PIF__ip_configuration_mode, mode);
	db_set_str(t, p, SC_F_PIF__IP, arg_str(args, 8));
	db_set_str(t, p, SC_F_PIF__netmask, arg_str(args, 9));
	db_set_str(t, p, SC_F_PIF__gateway, arg_str(args, 10));
	db_set_str(t, p, SC_F_PIF__DNS, arg_str(args, 11));
	db_set_str(t, p, SC_F_PIF__bond_slave_of, arg_str(args, 12));
	db_set_str(t, p, SC_F_PIF__VLAN_master_of, arg_str(args, 13));
	db_set_bool(t, p, SC_F_PIF__management, arg_bool(args, 14));
	db_set(t, p, SC_F_PIF__other_config, xv_copy(xv_arr_get(args, 15)));
	db_set_bool(t, p, SC_F_PIF__disallow_unplug, arg_bool(args, 16));
	db_set_str(t, p, SC_F_PIF__ipv6_configuration_mode, mode6);
	db_set(t, p, SC_F_PIF__IPv6, xv_copy(xv_arr_get(args, 18)));
	db_set_str(t, p, SC_F_PIF__ipv6_gateway, arg_str(args, 19));
	db_set_str(t, p, SC_F_PIF__primary_address_type, type);
	db_set_bool(t, p, SC_F_PIF__managed, arg_bool(args, 21));
	db_set(t, p, SC_F_PIF__properties, xv_copy(xv_arr_get(args, 22)));
	db_set_bool(t, p, SC_F_PIF__currently_attached, false);
	db_set_str(t, p, SC_F_PIF__metrics, m->ref);
	char ref[REF_STRLEN + 1];
	cp(ref, sizeof ref, p->ref);
	int rc = db_commit(t, err);
	if (rc == 0)
		*result = xv_str(ref);
	return rc;
}

/* PIF.db_forget: the record goes (and its metrics, when no VLAN PIF shares
 * them); the host is not touched. */
static int pif_db_forget(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = pif_arg(ctx, args, err);
	if (!p) {
		db_abort(t);
		return -1;
	}
	const char *mref = db_peek_str(p, SC_F_PIF__metrics);
	struct db_obj *m = db_lookup_cls(ctx->db, SC_C_PIF_metrics, mref);
	if (m && count_refs(ctx->db, SC_C_PIF, SC_F_PIF__metrics, mref) <= 1)
		db_delete(t, m);
	db_delete(t, p);
	return db_commit(t, err);
}

/* pool.create_VLAN(device, network, VLAN), deprecated in xapi: VLAN.create
 * on every host's non-VLAN PIF of that device (INVALID_VALUE if a host has
 * none); any failure destroys those made. */
static int pool_create_vlan(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *device = arg_str(args, 0);
	int64_t tag = arg_int(args, 2);
	pthread_mutex_lock(&host_net_lock);
	db_rdlock(ctx->db);
	xv tagged = xv_arr_new();
	int rc = 0;
	for (struct db_obj *h = db_first(ctx->db, SC_C_host); h && rc == 0; h = db_next(h)) {
		struct db_obj *base = NULL;
		for (struct db_obj *q = db_first(ctx->db, SC_C_PIF); q && !base; q = db_next(q))
			if (!strcmp(db_peek_str(q, SC_F_PIF__host), h->ref) &&
			    !strcmp(db_peek_str(q, SC_F_PIF__device), device) && db_peek_int(q, SC_F_PIF__VLAN) < 0)
				base = q;
		if (base)
			xv_arr_push_str(&tagged, base->ref);
		else
			rc = xerr_set(err, ERR_INVALID_VALUE, "device", device, NULL);
	}
	db_unlock(ctx->db);
	if (rc == 0)
		rc = vlans_on(ctx, &tagged, tag, xv_arr_get(args, 1), result, err);
	pthread_mutex_unlock(&host_net_lock);
	xv_free(&tagged);
	return rc;
}

RPC_IMPL(PIF, set_property, pif_set_property, RPC_SLOW);
RPC_IMPL(PIF, introduce, pif_introduce, RPC_SLOW);
RPC_IMPL(PIF, db_introduce, pif_db_introduce, 0);
RPC_IMPL(PIF, db_forget, pif_db_forget, 0);
RPC_IMPL(pool, create_VLAN, pool_create_vlan, RPC_SLOW);
