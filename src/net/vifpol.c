/* vifpol: what a VIF may do on its bridge — xapi's locking modes (locked:
 * only its MAC with its allowed addresses leaves the guest; disabled:
 * nothing passes), the ratelimit QoS (kbps the guest may send) and
 * other_config:promiscuous (it sees the whole bridge's traffic). On Open
 * vSwitch: OpenFlow rules on the bridge (the parent of a VLAN's fake
 * bridge) marked with a cookie per port, an OpenFlow meter, a mirror to
 * it. On the bridge backend: an nftables table per tap in the bridge
 * family (rules and a rate limit) and the tap made promiscuous. */
#include "net.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COOKIE_BASE 0x58454e0000000000ULL /* "XEN" and the port number */

static char flow_dir[512];
/* a tap's rules are applied and removed one at a time, and not while the
 * tap is being removed (a late apply would leave rules for a gone port) */
static pthread_mutex_t pol_lock = PTHREAD_MUTEX_INITIALIZER;

void net_vifpol_lock(void)
{
	pthread_mutex_lock(&pol_lock);
}

void net_vifpol_unlock(void)
{
	pthread_mutex_unlock(&pol_lock);
}

void net_vifpol_set_dir(const char *dir)
{
	snprintf(flow_dir, sizeof flow_dir, "%s", dir);
}

static int run_tool(const char *const *argv, struct xerr *err)
{
	char *o = NULL;
	int rc = net_run(argv, &o);
	if (rc != 0) {
		char cmd[200] = "";
		size_t used = 0;
		for (size_t i = 0; argv[i] && used < sizeof cmd; i++) {
			int w = snprintf(cmd + used, sizeof cmd - used, "%s%s", i ? " " : "", argv[i]);
			used += w > 0 ? (size_t)w : 0;
		}
		xerr_internal(err, "%s: %s", cmd, o && *o ? o : "failed");
	}
	free(o);
	return rc == 0 ? 0 : -1;
}

/* Writes text to a file of ours and runs argv with the file as last
 * argument (ovs-ofctl add-flows, nft -f). */
static int run_with_file(const char *const *argv, size_t argc, const char *tap, const char *text,
			 struct xerr *err)
{
	char path[700];
	snprintf(path, sizeof path, "%s/%s.rules", flow_dir[0] ? flow_dir : "/tmp", tap);
	FILE *f = fopen(path, "w");
	if (!f)
		return xerr_internal(err, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	const char **a = xcalloc(argc + 2, sizeof *a);
	for (size_t i = 0; i < argc; i++)
		a[i] = argv[i];
	a[argc] = path;
	int rc = run_tool(a, err);
	free(a);
	unlink(path);
	return rc;
}

/* ---- Open vSwitch ---- */

static int ovs_parent(const char *bridge, char out[NET_IFNAMSIZ], struct xerr *err)
{
	char *o = NULL;
	const char *a[] = {"br-to-parent", bridge, NULL};
	if (net_ovs_vsctl(a, &o, err) < 0)
		return -1;
	snprintf(out, NET_IFNAMSIZ, "%s", o);
	free(o);
	return 0;
}

static int ovs_ofport(const char *tap, long *port, struct xerr *err)
{
	char *o = NULL;
	const char *a[] = {"get", "interface", tap, "ofport", NULL};
	if (net_ovs_vsctl(a, &o, err) < 0)
		return -1;
	*port = strtol(o, NULL, 10);
	free(o);
	if (*port <= 0)
		return xerr_internal(err, "%s has no OpenFlow port yet", tap);
	return 0;
}

static int ofctl(struct xerr *err, const char *cmd, const char *bridge, const char *arg)
{
	const char *a[] = {"ovs-ofctl", "-O", "OpenFlow13", cmd, bridge, arg, NULL};
	return run_tool(a, err);
}

/* The rules of the tap's port (OpenFlow 1.3, for meters): a locked VIF's
 * allowed frames pass, the rest of what it sends is dropped; a disabled
 * VIF's frames are dropped both ways; a ratelimit is a meter (the
 * userspace datapath's own; ingress policing through tc would come after
 * the datapath has read the frame) on everything the VIF may send. */
static int ovs_flows(const char *tap, const char *bridge, const struct net_vif_policy *p, struct xerr *err)
{
	char parent[NET_IFNAMSIZ];
	long port;
	if (ovs_parent(bridge, parent, err) < 0 || ovs_ofport(tap, &port, err) < 0)
		return -1;
	unsigned long long cookie = COOKIE_BASE | (unsigned long long)port;
	char match[64], meter[32];
	snprintf(match, sizeof match, "cookie=0x%llx/-1", cookie);
	snprintf(meter, sizeof meter, "meter=%ld", port);
	struct xerr e = XERR_INIT;
	if (p->lock == NET_LOCK_UNLOCKED && p->kbps <= 0) {
		if (ofctl(err, "del-flows", parent, match) < 0)
			return -1;
		ofctl(&e, "del-meter", parent, meter); /* none: nothing to remove */
		xerr_clear(&e);
		return 0;
	}
	/* the old rules and the new ones are swapped in one bundle: a rule
	 * changed while the guest sends lets nothing through in between */
	struct strbuf sb;
	sb_init(&sb);
	sb_printf(&sb, "delete %s\n", match);
	char pass[32] = "NORMAL";
	if (p->kbps > 0) {
		/* the burst holds a 64 KiB segment (userspace TSO) and a tenth
		 * of a second */
		long long burst = p->kbps / 10 > 600 ? p->kbps / 10 : 600;
		char m[160];
		snprintf(m, sizeof m, "meter=%ld,kbps,burst,band=type=drop,rate=%lld,burst_size=%lld", port,
			 (long long)p->kbps, burst);
		if (ofctl(&e, "mod-meter", parent, m) < 0) {
			xerr_clear(&e);
			if (ofctl(err, "add-meter", parent, m) < 0) {
				sb_free(&sb);
				return -1;
			}
		}
		snprintf(pass, sizeof pass, "meter:%ld,NORMAL", port);
	}
	if (p->lock == NET_LOCK_LOCKED) {
		for (size_t i = 0; i < p->n4; i++) {
			sb_printf(&sb,
				  "add cookie=0x%llx,priority=20000,in_port=%ld,dl_src=%s,arp,arp_sha=%s,arp_spa=%s,"
				  "actions=%s\n",
				  cookie, port, p->mac, p->mac, p->ipv4[i], pass);
			sb_printf(&sb, "add cookie=0x%llx,priority=20000,in_port=%ld,dl_src=%s,ip,nw_src=%s,actions=%s\n",
				  cookie, port, p->mac, p->ipv4[i], pass);
		}
		for (size_t i = 0; i < p->n6; i++)
			sb_printf(&sb,
				  "add cookie=0x%llx,priority=20000,in_port=%ld,dl_src=%s,ipv6,ipv6_src=%s,actions=%s\n",
				  cookie, port, p->mac, p->ipv6[i], pass);
	} else if (p->lock == NET_LOCK_DISABLED) {
		/* nothing reaches the guest either */
		sb_printf(&sb, "add cookie=0x%llx,priority=19000,dl_dst=%s,actions=drop\n", cookie, p->mac);
	}
	if (p->lock == NET_LOCK_UNLOCKED)
		sb_printf(&sb, "add cookie=0x%llx,priority=19000,in_port=%ld,actions=%s\n", cookie, port, pass);
	else
		sb_printf(&sb, "add cookie=0x%llx,priority=19000,in_port=%ld,actions=drop\n", cookie, port);
	const char *add[] = {"ovs-ofctl", "-O", "OpenFlow13,OpenFlow14", "--bundle", "add-flows", parent};
	int rc = run_with_file(add, 6, tap, sb.buf ? sb.buf : "", err);
	sb_free(&sb);
	if (rc == 0 && p->kbps <= 0) {
		ofctl(&e, "del-meter", parent, meter); /* no flow uses it now */
		xerr_clear(&e);
	}
	return rc;
}

static int ovs_qos(const char *tap, const struct net_vif_policy *p, struct xerr *err)
{
	(void)p; /* the meter in ovs_flows does it; no tc policer left over */
	const char *a[] = {"set", "interface", tap, "ingress_policing_rate=0", "ingress_policing_burst=0", NULL};
	return net_ovs_vsctl(a, NULL, err);
}

static int ovs_mirror(const char *tap, const char *bridge, bool on, struct xerr *err)
{
	char parent[NET_IFNAMSIZ], name[32];
	if (ovs_parent(bridge, parent, err) < 0)
		return -1;
	snprintf(name, sizeof name, "m-%s", tap);
	char *o = NULL;
	struct xerr e = XERR_INIT;
	char cond[64];
	snprintf(cond, sizeof cond, "name=%s", name);
	const char *find[] = {"--bare", "--columns=_uuid", "find", "mirror", cond, NULL};
	bool have = net_ovs_vsctl(find, &o, &e) == 0 && o && *o;
	xerr_clear(&e);
	int rc = 0;
	if (have && !on) {
		const char *a[] = {"remove", "bridge", parent, "mirrors", o, NULL};
		rc = net_ovs_vsctl(a, NULL, err);
	} else if (!have && on) {
		char nm[48];
		snprintf(nm, sizeof nm, "name=%s", name);
		const char *a[] = {"--", "--id=@p", "get", "port", tap, "--", "--id=@m", "create", "mirror", nm,
				   "select-all=true", "output-port=@p", "--", "add", "bridge", parent, "mirrors", "@m",
				   NULL};
		rc = net_ovs_vsctl(a, NULL, err);
	}
	free(o);
	return rc;
}

/* ---- the bridge backend: nftables and tc ---- */

static void nft_allow(struct strbuf *sb, const char *tap, const struct net_vif_policy *p)
{
	for (size_t i = 0; i < p->n4; i++) {
		sb_printf(sb, "  iifname \"%s\" ether saddr %s arp saddr ip %s arp saddr ether %s accept\n", tap,
			  p->mac, p->ipv4[i], p->mac);
		sb_printf(sb, "  iifname \"%s\" ether saddr %s ip saddr %s accept\n", tap, p->mac, p->ipv4[i]);
	}
	for (size_t i = 0; i < p->n6; i++)
		sb_printf(sb, "  iifname \"%s\" ether saddr %s ip6 saddr %s accept\n", tap, p->mac, p->ipv6[i]);
}

static void nft_table(char out[48], const char *tap)
{
	snprintf(out, 48, "xenon_%s", tap);
	for (char *c = out; *c; c++)
		if (*c == '.')
			*c = '_';
}

/* One table per tap, replaced whole: its forward chain (to other ports)
 * and input chain (to the host) let a locked VIF's allowed frames through
 * and drop the rest; a disabled VIF's frames are dropped both ways. */
static int nft_rules(const char *tap, const struct net_vif_policy *p, struct xerr *err)
{
	char table[48];
	nft_table(table, tap);
	if (p->lock == NET_LOCK_UNLOCKED && p->kbps <= 0) {
		/* nothing to enforce: no table (and no need for nft at all) */
		const char *d[] = {"nft", "delete", "table", "bridge", table, NULL};
		char *o = NULL;
		net_run(d, &o);
		free(o);
		return 0;
	}
	struct strbuf sb;
	sb_init(&sb);
	sb_printf(&sb, "add table bridge %s\ndelete table bridge %s\n", table, table);
	if (p->lock != NET_LOCK_UNLOCKED || p->kbps > 0) {
		sb_printf(&sb, "table bridge %s {\n", table);
		for (int hook = 0; hook < 2; hook++) {
			sb_printf(&sb, " chain %s {\n  type filter hook %s priority 0; policy accept;\n",
				  hook ? "guest_in" : "guest_fwd", hook ? "input" : "forward");
			/* the ratelimit: what the guest sends beyond kbps is dropped
			 * (this kernel's tc has no classifier to police with) */
			if (p->kbps > 0) {
				/* a burst that holds a 64 KiB segment (GSO), else every
				 * large segment would be "over" */
				long long kb = p->kbps / 8 > 1 ? p->kbps / 8 : 1;
				sb_printf(&sb, "  iifname \"%s\" limit rate over %lld kbytes/second burst %lld kbytes drop\n",
					  tap, kb, kb / 10 > 80 ? kb / 10 : 80);
			}
			if (p->lock == NET_LOCK_LOCKED)
				nft_allow(&sb, tap, p);
			else if (p->lock == NET_LOCK_DISABLED && !hook)
				sb_printf(&sb, "  oifname \"%s\" drop\n", tap);
			if (p->lock != NET_LOCK_UNLOCKED)
				sb_printf(&sb, "  iifname \"%s\" drop\n", tap);
			sb_printf(&sb, " }\n");
		}
		sb_printf(&sb, "}\n");
	}
	const char *a[] = {"nft", "-f"};
	int rc = run_with_file(a, 2, tap, sb.buf ? sb.buf : "", err);
	sb_free(&sb);
	return rc;
}

static int apply(const char *tap, const char *bridge, const struct net_vif_policy *p, struct xerr *err)
{
	if (!net_link_exists(tap))
		return 0;
	if (p->mtu > 0) {
		char m[24];
		snprintf(m, sizeof m, "%lld", (long long)p->mtu);
		const char *a[] = {"ip", "link", "set", "dev", tap, "mtu", m, NULL};
		if (run_tool(a, err) < 0)
			return -1;
		/* the network's bridge follows: the host's side of the network
		 * (its address on an internal network, the NIC behind it) has
		 * the MTU the guests have */
		if (bridge && *bridge && net_link_exists(bridge) && net_bridge_ensure(bridge, p->mtu, err) < 0)
			return -1;
	}
	if (net_backend() == NET_BACKEND_OVS) {
		if (ovs_flows(tap, bridge, p, err) < 0 || ovs_qos(tap, p, err) < 0 ||
		    ovs_mirror(tap, bridge, p->promiscuous, err) < 0)
			return -1;
		return 0;
	}
	if (nft_rules(tap, p, err) < 0)
		return -1;
	/* a Linux bridge has no mirror: the tap is set promiscuous, the
	 * nearest equivalent */
	const char *a[] = {"ip", "link", "set", "dev", tap, "promisc", p->promiscuous ? "on" : "off", NULL};
	return run_tool(a, err);
}

int net_vif_policy_apply(const char *tap, const char *bridge, const struct net_vif_policy *p, struct xerr *err)
{
	net_vifpol_lock();
	int rc = apply(tap, bridge, p, err);
	net_vifpol_unlock();
	return rc;
}

void net_vif_policy_clear(const char *tap)
{
	struct xerr e = XERR_INIT;
	if (net_backend() == NET_BACKEND_BRIDGE) {
		char table[48], *o = NULL;
		nft_table(table, tap);
		const char *a[] = {"nft", "delete", "table", "bridge", table, NULL};
		net_run(a, &o); /* none: nothing to remove */
		free(o);
		return;
	}
	/* flows outlive their port: they go by the port's cookie */
	char *br = NULL;
	const char *q[] = {"port-to-br", tap, NULL};
	if (net_ovs_vsctl(q, &br, &e) == 0 && br && *br) {
		struct net_vif_policy none = {.lock = NET_LOCK_UNLOCKED};
		ovs_flows(tap, br, &none, &e);
		xerr_clear(&e);
		ovs_mirror(tap, br, false, &e);
	}
	xerr_clear(&e);
	free(br);
}
