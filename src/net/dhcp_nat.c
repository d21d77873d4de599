/* dhcp_nat: dnsmasq (DHCP, TFTP) and an nftables table per internal
 * network. dnsmasq runs as a daemon with its pid file in the network's
 * state directory and no DNS (port 0); the table masquerades what the
 * network sends elsewhere and lets the replies back in. Both programs are
 * run without a shell. */
#include "dhcp_nat.h"
#include "net.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static bool truthy(const char *v)
{
	return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

static bool parse_ip(const char *s, uint32_t *out)
{
	struct in_addr a;
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return false;
	*out = ntohl(a.s_addr);
	return true;
}

static void ip_text(uint32_t a, char out[INET_ADDRSTRLEN])
{
	struct in_addr x = {htonl(a)};
	inet_ntop(AF_INET, &x, out, INET_ADDRSTRLEN);
}

static int prefix_len(uint32_t mask)
{
	int n = 0;
	while (n < 32 && (mask & (0x80000000u >> n)))
		n++;
	return n;
}

int net_dhcp_nat_parse(const char *ip_begin, const char *ip_end, const char *netmask,
		       const char *dhcp, const char *nat, struct net_dhcp_nat *out, struct xerr *err)
{
	memset(out, 0, sizeof *out);
	out->dhcp = truthy(dhcp);
	out->nat = truthy(nat);
	if (!out->dhcp && !out->nat)
		return 1;
	uint32_t begin, end = 0, mask;
	if (!parse_ip(ip_begin, &begin))
		return xerr_set(err, ERR_INVALID_VALUE, "other_config:ip_begin", ip_begin ? ip_begin : "", NULL);
	if (!parse_ip(netmask, &mask) || mask == 0 || (~mask & (~mask + 1)) != 0 || ~mask < 3)
		return xerr_set(err, ERR_INVALID_VALUE, "other_config:netmask", netmask ? netmask : "", NULL);
	uint32_t net = begin & mask, bcast = net | ~mask;
	if (begin == net || begin == bcast)
		return xerr_set(err, ERR_INVALID_VALUE, "other_config:ip_begin", ip_begin, NULL);
	if (out->dhcp && (!parse_ip(ip_end, &end) || (end & mask) != net || end <= begin || end == bcast))
		return xerr_set(err, ERR_INVALID_VALUE, "other_config:ip_end", ip_end ? ip_end : "", NULL);
	out->host_addr = begin;
	out->netmask = mask;
	out->range_lo = begin + 1;
	out->range_hi = end;
	return 0;
}

void net_dhcp_nat_table(const char *bridge, char out[32])
{
	snprintf(out, 32, "xenon_%s", bridge);
}

/* Runs argv (argv[0] a full path), stdin from `in` when given; 0 when it
 * exits 0, else -1 with its stderr in err. */
static int run(char *const argv[], const char *in, struct xerr *err)
{
	int inp[2] = {-1, -1}, errp[2] = {-1, -1};
	if ((in && pipe2(inp, O_CLOEXEC) < 0) || pipe2(errp, O_CLOEXEC) < 0)
		return xerr_internal(err, "%s: pipe: %s", argv[0], strerror(errno));
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (in)
		posix_spawn_file_actions_adddup2(&fa, inp[0], 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(errp[1]);
	if (in)
		close(inp[0]);
	if (rc != 0) {
		if (in)
			close(inp[1]);
		close(errp[0]);
		return xerr_internal(err, "%s: %s", argv[0], strerror(rc));
	}
	if (in) {
		size_t n = strlen(in);
		while (n) {
			ssize_t w = write(inp[1], in, n);
			if (w <= 0)
				break;
			in += w;
			n -= (size_t)w;
		}
		close(inp[1]);
	}
	char buf[1024];
	size_t got = 0;
	ssize_t r;
	while ((r = read(errp[0], buf + got, sizeof buf - 1 - got)) > 0 && got < sizeof buf - 1)
		got += (size_t)r;
	buf[got] = '\0';
	close(errp[0]);
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return 0;
	buf[strcspn(buf, "\n")] = '\0';
	return xerr_internal(err, "%s failed: %s", argv[0], *buf ? buf : "no message");
}

static int set_addr(const char *bridge, uint32_t addr, uint32_t mask, struct xerr *err)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return xerr_internal(err, "socket: %s", strerror(errno));
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", bridge);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(addr);
	int rc = 0;
	if (ioctl(s, SIOCSIFADDR, &ifr) < 0) {
		rc = xerr_internal(err, "%s: setting its address: %s", bridge, strerror(errno));
	} else if (addr) {
		sin->sin_addr.s_addr = htonl(mask);
		if (ioctl(s, SIOCSIFNETMASK, &ifr) < 0)
			rc = xerr_internal(err, "%s: setting its netmask: %s", bridge, strerror(errno));
	}
	close(s);
	return rc;
}

static char *pid_path(const char *state_dir)
{
	return xasprintf("%s/dnsmasq.pid", state_dir);
}

/* Whether pid is a live (not zombie) dnsmasq. */
static bool is_dnsmasq(pid_t pid)
{
	char path[64], comm[32] = "", stat[256] = "";
	snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof comm, f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r"))) {
		if (!fgets(stat, sizeof stat, f))
			stat[0] = '\0';
		fclose(f);
	}
	const char *close_paren = strrchr(stat, ')');
	bool zombie = close_paren && close_paren[1] == ' ' && close_paren[2] == 'Z';
	return !strcmp(comm, "dnsmasq") && !zombie;
}

static void stop_dnsmasq(const char *state_dir)
{
	char *pp = pid_path(state_dir);
	FILE *f = fopen(pp, "r");
	long pid = 0;
	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = 0;
		fclose(f);
	}
	if (pid > 1 && is_dnsmasq((pid_t)pid)) {
		kill((pid_t)pid, SIGTERM);
		for (int i = 0; i < 100 && is_dnsmasq((pid_t)pid); i++)
			nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
		if (is_dnsmasq((pid_t)pid)) {
			log_warn("net: dnsmasq %ld ignored SIGTERM", pid);
			kill((pid_t)pid, SIGKILL);
		}
	}
	unlink(pp);
	free(pp);
}

static int start_dnsmasq(const struct net_dhcp_nat *c, struct xerr *err)
{
	char lo[INET_ADDRSTRLEN], hi[INET_ADDRSTRLEN], mask[INET_ADDRSTRLEN], host[INET_ADDRSTRLEN];
	ip_text(c->range_lo, lo);
	ip_text(c->range_hi, hi);
	ip_text(c->netmask, mask);
	ip_text(c->host_addr, host);
	char *a_iface = xasprintf("--interface=%s", c->bridge);
	char *a_range = xasprintf("--dhcp-range=%s,%s,%s,1h", lo, hi, mask);
	char *a_router = xasprintf("--dhcp-option=option:router,%s", host);
	char *a_lease = xasprintf("--dhcp-leasefile=%s/leases", c->state_dir);
	char *a_pid = xasprintf("--pid-file=%s/dnsmasq.pid", c->state_dir);
	char *a_log = xasprintf("--log-facility=%s/dnsmasq.log", c->state_dir);
	char *a_tftp = c->tftp_root ? xasprintf("--tftp-root=%s", c->tftp_root) : NULL;
	char *a_boot = c->boot_file && *c->boot_file ? xasprintf("--dhcp-boot=%s", c->boot_file) : NULL;
	char *argv[24];
	int n = 0;
	argv[n++] = (char *)"/usr/sbin/dnsmasq";
	argv[n++] = (char *)"--conf-file=/dev/null";
	argv[n++] = (char *)"--port=0"; /* DHCP and TFTP only, no DNS */
	argv[n++] = (char *)"--bind-interfaces";
	argv[n++] = a_iface;
	argv[n++] = (char *)"--except-interface=lo";
	argv[n++] = a_range;
	argv[n++] = (char *)"--dhcp-authoritative";
	argv[n++] = (char *)"--dhcp-no-override";
	argv[n++] = (char *)"--no-ping"; /* no 3-s probe before each offer: the network is ours */
	if (c->nat)
		argv[n++] = a_router; /* the way out is through the host */
	else
		argv[n++] = (char *)"--dhcp-option=option:router"; /* none */
	argv[n++] = a_lease;
	argv[n++] = a_pid;
	argv[n++] = a_log;
	argv[n++] = (char *)"--log-dhcp";
	/* the TFTP root sits in xenond's own (private) directory */
	argv[n++] = (char *)"--user=root";
	if (a_tftp) {
		argv[n++] = (char *)"--enable-tftp";
		argv[n++] = a_tftp;
	}
	if (a_boot)
		argv[n++] = a_boot;
	argv[n] = NULL;
	int rc = run(argv, NULL, err); /* returns once dnsmasq has daemonised */
	free(a_iface);
	free(a_range);
	free(a_router);
	free(a_lease);
	free(a_pid);
	free(a_log);
	free(a_tftp);
	free(a_boot);
	return rc;
}

static void nat_down(const char *bridge)
{
	char table[32];
	net_dhcp_nat_table(bridge, table);
	char *argv[] = {(char *)"/usr/sbin/nft", (char *)"delete", (char *)"table", (char *)"ip", table, NULL};
	struct xerr e = XERR_INIT;
	run(argv, NULL, &e); /* fails when there is no such table: nothing to do */
	xerr_clear(&e);
}

static int nat_up(const struct net_dhcp_nat *c, struct xerr *err)
{
	char table[32], net[INET_ADDRSTRLEN];
	net_dhcp_nat_table(c->bridge, table);
	ip_text(c->host_addr & c->netmask, net);
	int plen = prefix_len(c->netmask);
	/* forwarding between interfaces of this namespace, as a router */
	int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1", 1) != 1) {
		if (fd >= 0)
			close(fd);
		return xerr_internal(err, "cannot turn on IPv4 forwarding: %s", strerror(errno));
	}
	close(fd);
	char *script = xasprintf(
		"table ip %s {\n"
		" chain postrouting {\n"
		"  type nat hook postrouting priority srcnat; policy accept;\n"
		"  ip saddr %s/%d ip daddr != %s/%d oifname != \"%s\" masquerade\n"
		" }\n"
		" chain forward {\n"
		"  type filter hook forward priority filter; policy accept;\n"
		"  iifname \"%s\" ip saddr %s/%d accept\n"
		"  oifname \"%s\" ct state established,related accept\n"
		"  oifname \"%s\" drop\n"
		" }\n"
		"}\n",
		table, net, plen, net, plen, c->bridge, c->bridge, net, plen, c->bridge, c->bridge);
	char *argv[] = {(char *)"/usr/sbin/nft", (char *)"-f", (char *)"-", NULL};
	nat_down(c->bridge); /* a table left from before is replaced whole */
	int rc = run(argv, script, err);
	free(script);
	return rc;
}

int net_dhcp_nat_up(const struct net_dhcp_nat *c, struct xerr *err)
{
	if (mkdir(c->state_dir, 0700) < 0 && errno != EEXIST)
		return xerr_internal(err, "%s: %s", c->state_dir, strerror(errno));
	if (net_bridge_ensure(c->bridge, 0, err) < 0)
		return -1;
	if (set_addr(c->bridge, c->host_addr, c->netmask, err) < 0)
		goto fail;
	if (c->nat && nat_up(c, err) < 0)
		goto fail;
	stop_dnsmasq(c->state_dir); /* one left from before */
	if (c->dhcp && start_dnsmasq(c, err) < 0)
		goto fail;
	char a[INET_ADDRSTRLEN];
	ip_text(c->host_addr, a);
	log_info("net: %s: %s/%d%s%s", c->bridge, a, prefix_len(c->netmask), c->dhcp ? ", DHCP" : "",
		 c->nat ? ", NAT" : "");
	return 0;
fail:
	net_dhcp_nat_down(c->bridge, c->state_dir, false);
	return -1;
}

static bool bridge_has_ports(const char *bridge)
{
	if (net_backend() == NET_BACKEND_OVS) {
		/* an Open vSwitch bridge has no brif directory: ask its database
		 * (when it cannot answer, the bridge is kept) */
		const char *a[] = {"list-ports", bridge, NULL};
		char *out = NULL;
		struct xerr e = XERR_INIT;
		bool any = net_ovs_vsctl(a, &out, &e) < 0 || (out && *out);
		xerr_clear(&e);
		free(out);
		return any;
	}
	char path[64];
	snprintf(path, sizeof path, "/sys/class/net/%s/brif", bridge);
	DIR *d = opendir(path);
	if (!d)
		return false;
	bool any = false;
	struct dirent *e;
	while (!any && (e = readdir(d)))
		any = e->d_name[0] != '.';
	closedir(d);
	return any;
}

void net_dhcp_nat_down(const char *bridge, const char *state_dir, bool delete_bridge)
{
	stop_dnsmasq(state_dir);
	nat_down(bridge);
	if (!net_link_exists(bridge))
		return;
	struct xerr e = XERR_INIT;
	if (delete_bridge && !bridge_has_ports(bridge)) {
		if (net_backend() == NET_BACKEND_OVS) {
			const char *a[] = {"--if-exists", "del-br", bridge, NULL};
			net_ovs_vsctl(a, NULL, &e);
		} else {
			net_link_delete(bridge, &e);
		}
	}
	else
		set_addr(bridge, 0, 0, &e);
	xerr_clear(&e);
}
