/* nic: the host's NICs as PIFs see them — which links are physical, making
 * one a port of its network's bridge, and its address configuration (on
 * the bridge, as on XenServer: the NIC itself carries no address). Static
 * addresses through `ip`, DHCP through busybox's udhcpc with a script of
 * ours that touches only the interface (never the host's resolv.conf). */
#include "net.h"
#include "../base/dir.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static char state_dir[512]; /* <data-dir>/net: DHCP client pid files */

void net_set_state_dir(const char *data_dir)
{
	snprintf(state_dir, sizeof state_dir, "%s/net", data_dir);
	net_vifpol_set_dir(state_dir);
	char *failed = NULL;
	if (dir_make_all(state_dir, 0700, &failed) < 0) {
		log_warn("net: cannot create %s", failed);
		free(failed);
	}
}

void net_link_driver(const char *name, char out[32])
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
	ifr.ifr_data = (char *)&info;
	out[0] = '\0';
	if (s >= 0 && ioctl(s, SIOCETHTOOL, &ifr) == 0)
		snprintf(out, 32, "%s", info.driver);
	if (s >= 0)
		close(s);
}

/* Generic receive offload of dev on or off (ethtool's "gro"), as
 * PIF.properties:gro asks. */
int net_link_set_gro(const char *dev, bool on, struct xerr *err)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return xerr_internal(err, "socket: %s", strerror(errno));
	struct ethtool_value ev = {.cmd = ETHTOOL_SGRO, .data = on ? 1 : 0};
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
	ifr.ifr_data = (char *)&ev;
	int rc = ioctl(s, SIOCETHTOOL, &ifr);
	int e = errno;
	close(s);
	if (rc < 0)
		return xerr_internal(err, "cannot turn gro %s on %s: %s", on ? "on" : "off", dev, strerror(e));
	return 0;
}

/* Whether dev has generic receive offload on; -1 if it cannot be told. */
int net_link_gro(const char *dev)
{
	int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -1;
	struct ethtool_value ev = {.cmd = ETHTOOL_GGRO};
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", dev);
	ifr.ifr_data = (char *)&ev;
	int rc = ioctl(s, SIOCETHTOOL, &ifr);
	close(s);
	return rc < 0 ? -1 : ev.data != 0;
}

/* Names no NIC has: our bridges, taps, bonds, Open vSwitch's own. */
static bool reserved_name(const char *n)
{
	static const char *const pre[] = {"lo", "vif", "tap", "xenbr", "xapi", "bond", "ovs-", "tunnel"};
	for (size_t i = 0; i < sizeof pre / sizeof pre[0]; i++)
		if (!strncmp(n, pre[i], strlen(pre[i])))
			return true;
	return false;
}

bool net_nic_is_physical(const char *name)
{
	if (reserved_name(name) || !net_link_exists(name))
		return false;
	char path[300];
	snprintf(path, sizeof path, "/sys/class/net/%s/device", name);
	if (access(path, F_OK) == 0)
		return true;
	/* a veth: what a host in a network namespace has for a cable */
	char d[32];
	net_link_driver(name, d);
	return !strcmp(d, "veth");
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int net_nics_scan(char ***out, size_t *n)
{
	DIR *d = opendir("/sys/class/net");
	if (!d)
		return -1;
	size_t cap = 8;
	char **v = xcalloc(cap, sizeof *v);
	*n = 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || strlen(e->d_name) >= NET_IFNAMSIZ || !net_nic_is_physical(e->d_name))
			continue;
		if (*n == cap)
			v = xrealloc(v, (cap *= 2) * sizeof *v);
		v[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	qsort(v, *n, sizeof *v, cmp_name);
	*out = v;
	return 0;
}

static int ip(struct xerr *err, const char *const *argv)
{
	char *o = NULL;
	int rc = net_run(argv, &o);
	if (rc != 0 && err) {
		char cmd[256] = "";
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

int net_link_up(const char *dev, bool up, struct xerr *err)
{
	const char *a[] = {"ip", "link", "set", "dev", dev, up ? "up" : "down", NULL};
	return ip(err, a);
}

int net_port_add(const char *bridge, const char *dev, struct xerr *err)
{
	if (net_backend() == NET_BACKEND_OVS) {
		if (net_ovs_port_add(bridge, dev, err) < 0)
			return -1;
	} else {
		const char *a[] = {"ip", "link", "set", "dev", dev, "master", bridge, NULL};
		if (ip(err, a) < 0)
			return -1;
	}
	return net_link_up(dev, true, err);
}

int net_port_del(const char *bridge, const char *dev, struct xerr *err)
{
	(void)bridge;
	if (net_backend() == NET_BACKEND_OVS)
		return net_ovs_port_del(dev, err);
	if (!net_link_exists(dev))
		return 0;
	const char *a[] = {"ip", "link", "set", "dev", dev, "nomaster", NULL};
	return ip(err, a);
}

int net_netmask_prefix(const char *mask)
{
	struct in_addr a;
	if (inet_pton(AF_INET, mask, &a) != 1)
		return -1;
	uint32_t m = ntohl(a.s_addr);
	int p = 0;
	while (p < 32 && (m & (UINT32_C(1) << (31 - p))))
		p++;
	/* contiguous ones only */
	if (p < 32 && (m << p) != 0)
		return -1;
	return p;
}

static void dhcp_stop(const char *dev)
{
	char pidf[700];
	snprintf(pidf, sizeof pidf, "%s/udhcpc-%s.pid", state_dir, dev);
	FILE *f = fopen(pidf, "r");
	long pid = 0;
	if (f) {
		if (fscanf(f, "%ld", &pid) == 1 && pid > 0)
			kill((pid_t)pid, SIGTERM);
		fclose(f);
		unlink(pidf);
	}
}

/* The script udhcpc runs on a lease: the address and default route on
 * the interface, nothing else of the host's. */
static const char dhcp_script[] =
	"#!/bin/sh\n"
	"case \"$1\" in\n"
	"deconfig) ip -4 addr flush dev \"$interface\" ;;\n"
	"bound|renew)\n"
	"  ip -4 addr flush dev \"$interface\"\n"
	"  ip addr add \"$ip/${mask:-24}\" dev \"$interface\"\n"
	"  [ -n \"$router\" ] && ip route replace default via \"${router%% *}\" dev \"$interface\"\n"
	"  ;;\n"
	"esac\n"
	"exit 0\n";

static int dhcp_start(const char *dev, struct xerr *err)
{
	char *failed = NULL;
	int made = dir_make_all(state_dir, 0700, &failed);
	if (made < 0) {
		xerr_internal(err, "cannot create %s: %s", failed, strerror(-made));
		free(failed);
		return -1;
	}
	char script[700], pidf[700];
	snprintf(script, sizeof script, "%s/udhcpc.script", state_dir);
	snprintf(pidf, sizeof pidf, "%s/udhcpc-%s.pid", state_dir, dev);
	FILE *f = fopen(script, "w");
	if (!f || fputs(dhcp_script, f) < 0) {
		if (f)
			fclose(f);
		return xerr_internal(err, "cannot write %s: %s", script, strerror(errno));
	}
	fclose(f);
	chmod(script, 0700);
	dhcp_stop(dev);
	/* -b: to the background once a first attempt is made; -t/-T: try
	 * 3 times 2 s apart before that */
	const char *a[] = {"busybox", "udhcpc", "-i", dev, "-p", pidf, "-s", script, "-b", "-t", "3", "-T", "2",
			   "-S", NULL};
	return ip(err, a);
}

int net_ip_configure(const char *dev, const char *mode, const char *addr, const char *netmask,
		     const char *gateway, struct xerr *err)
{
	dhcp_stop(dev);
	const char *flush[] = {"ip", "-4", "addr", "flush", "dev", dev, NULL};
	if (ip(err, flush) < 0)
		return -1;
	if (!strcmp(mode, "DHCP"))
		return dhcp_start(dev, err);
	if (strcmp(mode, "Static") != 0)
		return 0;
	char cidr[80];
	snprintf(cidr, sizeof cidr, "%s/%d", addr, net_netmask_prefix(netmask));
	const char *add[] = {"ip", "addr", "add", cidr, "dev", dev, NULL};
	if (ip(err, add) < 0)
		return -1;
	if (gateway && *gateway) {
		const char *r[] = {"ip", "route", "replace", "default", "via", gateway, "dev", dev, NULL};
		if (ip(err, r) < 0)
			return -1;
	}
	return 0;
}

int net_ipv6_configure(const char *dev, const char *mode, const char *addr, const char *gateway,
		       struct xerr *err)
{
	const char *flush[] = {"ip", "-6", "addr", "flush", "dev", dev, "scope", "global", NULL};
	if (ip(err, flush) < 0)
		return -1;
	if (strcmp(mode, "Static") != 0)
		return 0; /* None; DHCP and Autoconf: the kernel's router solicitation */
	const char *add[] = {"ip", "-6", "addr", "add", addr, "dev", dev, NULL};
	if (ip(err, add) < 0)
		return -1;
	if (gateway && *gateway) {
		const char *r[] = {"ip", "-6", "route", "replace", "default", "via", gateway, "dev", dev, NULL};
		if (ip(err, r) < 0)
			return -1;
	}
	return 0;
}

int net_ipv4_of(const char *dev, char *addr, size_t alen, char *mask, size_t mlen)
{
	const char *a[] = {"ip", "-4", "-o", "addr", "show", "dev", dev, NULL};
	char *o = NULL;
	int rc = net_run(a, &o);
	addr[0] = mask[0] = '\0';
	char *p = rc == 0 && o ? strstr(o, " inet ") : NULL;
	int prefix = -1;
	char a4[64];
	if (p && sscanf(p, " inet %63[0-9.]/%d", a4, &prefix) == 2 && prefix >= 0 && prefix <= 32) {
		uint32_t m = prefix ? ~UINT32_C(0) << (32 - prefix) : 0;
		struct in_addr in = {.s_addr = htonl(m)};
		snprintf(addr, alen, "%s", a4);
		inet_ntop(AF_INET, &in, mask, (socklen_t)mlen);
	}
	free(o);
	return addr[0] ? 0 : -1;
}
