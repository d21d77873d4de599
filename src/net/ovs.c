/* ovs: the openvswitch network backend. Bridges are Open vSwitch bridges
 * on the userspace (netdev) datapath where the kernel has no openvswitch
 * module, and taps are their ports. Open vSwitch is driven the way xapi's
 * networkd drives it: through ovs-vsctl, never a client of our own. When
 * the host's own Open vSwitch runs (in this network namespace) it is used;
 * otherwise xenond starts ovsdb-server and ovs-vswitchd with their database
 * under its data directory, under their own --monitor (which restarts a
 * crashed daemon), and leaves them running across its own restarts, as
 * guests keep running then too. */
#include "net.h"
#include "../base/dir.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define HOST_OVS_RUNDIR "/var/run/openvswitch"
#define OVS_SCHEMA "/usr/share/openvswitch/vswitch.ovsschema"
#define RUN_TIMEOUT_MS 20000
#define OUT_CAP 65536

static enum net_backend backend = NET_BACKEND_BRIDGE;
static bool own_daemons; /* started by us, so ours to restart */
static char own_data_dir[512];
static char ovs_rundir[512];  /* OVS_RUNDIR of the daemons we talk to */
static char ovs_db[600];      /* unix:<rundir>/db.sock */
static char datapath[16] = "netdev";

enum net_backend net_backend(void)
{
	return backend;
}

const char *net_backend_name(void)
{
	return backend == NET_BACKEND_OVS ? "openvswitch" : "bridge";
}

const char *net_ovs_datapath(void)
{
	return datapath;
}

int net_run(const char *const *argv, char **out)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	size_t ne = 0;
	while (environ[ne])
		ne++;
	char **env = xcalloc(ne + 4, sizeof *env);
	size_t k = 0;
	for (size_t i = 0; i < ne; i++)
		if (strncmp(environ[i], "OVS_", 4) != 0)
			env[k++] = environ[i];
	char *e1 = xasprintf("OVS_RUNDIR=%s", ovs_rundir), *e2 = xasprintf("OVS_DBDIR=%s", ovs_rundir),
	     *e3 = xasprintf("OVS_LOGDIR=%s", ovs_rundir);
	env[k++] = e1;
	env[k++] = e2;
	env[k++] = e3;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t def;
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	int e = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, env);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	free(e1);
	free(e2);
	free(e3);
	free(env);
	close(p[1]);
	if (e != 0) {
		close(p[0]);
		if (out)
			*out = xasprintf("cannot run %s: %s", argv[0], strerror(e));
		return -1;
	}
	char *buf = xmalloc(OUT_CAP + 1);
	size_t len = 0;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool timed_out = false;
	for (;;) {
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long left = RUN_TIMEOUT_MS - ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		if (poll(&pf, 1, (int)left) <= 0)
			continue;
		char tmp[4096];
		ssize_t r = read(p[0], tmp, sizeof tmp);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		size_t take = (size_t)r < OUT_CAP - len ? (size_t)r : OUT_CAP - len;
		memcpy(buf + len, tmp, take);
		len += take;
	}
	close(p[0]);
	buf[len] = '\0';
	while (len && (buf[len - 1] == '\n' || buf[len - 1] == ' '))
		buf[--len] = '\0';
	int st;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (out)
		*out = buf;
	else
		free(buf);
	if (timed_out)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int net_ovs_vsctl(const char *const *args, char **out, struct xerr *err)
{
	size_t n = 0;
	while (args[n])
		n++;
	const char **argv = xcalloc(n + 5, sizeof *argv);
	char *db = xasprintf("--db=%s", ovs_db);
	size_t k = 0;
	argv[k++] = "ovs-vsctl";
	argv[k++] = db;
	argv[k++] = "--timeout=15";
	for (size_t i = 0; i < n; i++)
		argv[k++] = args[i];
	char *o = NULL;
	int rc = net_run(argv, &o);
	if (rc != 0) {
		/* the command as given, and what ovs-vsctl said */
		char cmd[512] = "";
		size_t used = 0;
		for (size_t i = 0; i < n && used < sizeof cmd; i++) {
			int w = snprintf(cmd + used, sizeof cmd - used, "%s%s", i ? " " : "", args[i]);
			used += w > 0 ? (size_t)w : 0;
		}
		xerr_internal(err, "ovs-vsctl %s: %s", cmd, o && *o ? o : "failed");
	}
	free(db);
	free(argv);
	if (rc == 0 && out)
		*out = o;
	else
		free(o);
	return rc == 0 ? 0 : -1;
}

/* ---- the daemons ---- */

static bool pid_alive(const char *pidfile, pid_t *out)
{
	FILE *f = fopen(pidfile, "r");
	if (!f)
		return false;
	long pid = 0;
	bool ok = fscanf(f, "%ld", &pid) == 1 && pid > 0;
	fclose(f);
	if (ok && kill((pid_t)pid, 0) != 0 && errno == ESRCH)
		ok = false;
	if (ok && out)
		*out = (pid_t)pid;
	return ok;
}

/* The host's ovs-vswitchd runs, and in our network namespace: its bridges
 * are ours to use. Another namespace's would put our ports out of reach. */
static bool host_ovs_here(void)
{
	pid_t pid;
	if (!pid_alive(HOST_OVS_RUNDIR "/ovs-vswitchd.pid", &pid) ||
	    !pid_alive(HOST_OVS_RUNDIR "/ovsdb-server.pid", NULL))
		return false;
	char path[64];
	snprintf(path, sizeof path, "/proc/%ld/ns/net", (long)pid);
	struct stat a, b;
	return stat(path, &a) == 0 && stat("/proc/self/ns/net", &b) == 0 && a.st_ino == b.st_ino &&
	       a.st_dev == b.st_dev;
}

static int start_daemon(const char *name, const char *const *argv, struct xerr *err)
{
	char *o = NULL;
	int rc = net_run(argv, &o);
	if (rc != 0)
		xerr_internal(err, "cannot start %s: %s", name, o && *o ? o : "failed");
	else
		log_info("net: started %s (%s)", name, ovs_rundir);
	free(o);
	return rc == 0 ? 0 : -1;
}

static int ovs_start(const char *data_dir, struct xerr *err)
{
	if (host_ovs_here()) {
		snprintf(ovs_rundir, sizeof ovs_rundir, "%s", HOST_OVS_RUNDIR);
		snprintf(ovs_db, sizeof ovs_db, "unix:%s/db.sock", ovs_rundir);
		log_info("net: using the host's Open vSwitch");
		return 0;
	}
	char *failed = NULL;
	char *dir = xasprintf("%s/ovs", data_dir);
	int made = dir_make_all(dir, 0700, &failed);
	if (made < 0) {
		xerr_internal(err, "cannot create %s: %s", failed, strerror(-made));
		free(failed);
		free(dir);
		return -1;
	}
	/* a unix socket path has at most 107 bytes */
	if (strlen(dir) + sizeof "/ovs-vswitchd.99999999.ctl" > 107 || strlen(dir) >= sizeof ovs_rundir - 32) {
		xerr_internal(err, "the data directory %s is too long for Open vSwitch's sockets", data_dir);
		free(dir);
		return -1;
	}
	snprintf(ovs_rundir, sizeof ovs_rundir, "%s", dir);
	snprintf(ovs_db, sizeof ovs_db, "unix:%s/db.sock", dir);
	free(dir);
	own_daemons = true;
	snprintf(own_data_dir, sizeof own_data_dir, "%s", data_dir);
	char db[600], sock[600], pid1[600], pid2[600], log1[600], log2[600], remote[620];
	snprintf(db, sizeof db, "%s/conf.db", ovs_rundir);
	snprintf(sock, sizeof sock, "%s/db.sock", ovs_rundir);
	snprintf(pid1, sizeof pid1, "--pidfile=%s/ovsdb-server.pid", ovs_rundir);
	snprintf(pid2, sizeof pid2, "--pidfile=%s/ovs-vswitchd.pid", ovs_rundir);
	snprintf(log1, sizeof log1, "--log-file=%s/ovsdb-server.log", ovs_rundir);
	snprintf(log2, sizeof log2, "--log-file=%s/ovs-vswitchd.log", ovs_rundir);
	snprintf(remote, sizeof remote, "--remote=punix:%s", sock);
	if (access(db, F_OK) != 0) {
		const char *argv[] = {"ovsdb-tool", "create", db, OVS_SCHEMA, NULL};
		char *o = NULL;
		int rc = net_run(argv, &o);
		if (rc != 0)
			xerr_internal(err, "cannot create the Open vSwitch database %s: %s", db,
				      o && *o ? o : "ovsdb-tool failed");
		free(o);
		if (rc != 0)
			return -1;
	}
	if (!pid_alive(pid1 + strlen("--pidfile="), NULL)) {
		const char *argv[] = {"ovsdb-server", db, remote, pid1, log1, "--detach", "--monitor",
				      "--no-chdir", NULL};
		if (start_daemon("ovsdb-server", argv, err) < 0)
			return -1;
	}
	/* guests' NICs hand large (GSO) frames to their taps: without
	 * userspace TSO the netdev datapath drops them, and only small
	 * packets (ping, ARP) would pass */
	const char *init[] = {"--no-wait", "init", "--", "set", "Open_vSwitch", ".",
			      "other_config:userspace-tso-enable=true", NULL};
	if (net_ovs_vsctl(init, NULL, err) < 0)
		return -1;
	if (!pid_alive(pid2 + strlen("--pidfile="), NULL)) {
		char dbarg[620];
		snprintf(dbarg, sizeof dbarg, "unix:%s", sock);
		const char *argv[] = {"ovs-vswitchd", dbarg, pid2, log2, "--detach", "--monitor",
				      "--no-chdir", NULL};
		if (start_daemon("ovs-vswitchd", argv, err) < 0)
			return -1;
	}
	return 0;
}

int net_backend_init(const char *name, const char *data_dir, struct xerr *err)
{
	net_set_state_dir(data_dir);
	if (!name || !*name || !strcmp(name, "bridge")) {
		backend = NET_BACKEND_BRIDGE;
		return 0;
	}
	if (strcmp(name, "openvswitch") != 0)
		return xerr_internal(err, "config: network-backend must be bridge or openvswitch, not '%s'", name);
	backend = NET_BACKEND_OVS;
	if (ovs_start(data_dir, err) < 0)
		return -1;
	/* the kernel datapath where the module is there, else userspace */
	snprintf(datapath, sizeof datapath, "%s",
		 access("/sys/module/openvswitch", F_OK) == 0 ? "system" : "netdev");
	log_info("net: Open vSwitch backend, %s datapath", datapath);
	return 0;
}

void net_backend_check(void)
{
	if (backend != NET_BACKEND_OVS || !own_daemons)
		return;
	char p1[600], p2[600];
	snprintf(p1, sizeof p1, "%s/ovsdb-server.pid", ovs_rundir);
	snprintf(p2, sizeof p2, "%s/ovs-vswitchd.pid", ovs_rundir);
	if (pid_alive(p1, NULL) && pid_alive(p2, NULL))
		return;
	/* killed outright (their --monitor restarts them only after a crash):
	 * the database keeps the bridges and ports, a new ovs-vswitchd
	 * makes them again */
	log_warn("net: Open vSwitch is not running: starting it again");
	struct xerr e = XERR_INIT;
	if (ovs_start(own_data_dir, &e) < 0)
		log_error("net: %s", e.nparams ? e.params[0] : e.code);
	xerr_clear(&e);
}

/* ---- bridges and ports ---- */

int net_ovs_bridge_ensure(const char *bridge, int64_t mtu, struct xerr *err)
{
	if (net_ovs_bridge_exists(bridge)) {
		/* there already, perhaps a VLAN's fake bridge: only the MTU */
		char m[64];
		snprintf(m, sizeof m, "mtu_request=%lld", (long long)mtu);
		const char *a[] = {"set", "interface", bridge, m, NULL};
		return mtu > 0 ? net_ovs_vsctl(a, NULL, err) : 0;
	}
	char dp[64], m[64];
	snprintf(dp, sizeof dp, "datapath_type=%s", datapath);
	snprintf(m, sizeof m, "mtu_request=%lld", (long long)mtu);
	const char *args[] = {"--may-exist", "add-br", bridge, "--", "set", "bridge", bridge, dp,
			      mtu > 0 ? "--" : NULL, "set", "interface", bridge, m, NULL};
	return net_ovs_vsctl(args, NULL, err);
}

/* The userspace datapath reads a port's frames from a packet socket; the
 * kernel would also take them into the host's own stack (which answers
 * for any of its addresses on any link), so a guest could reach the host
 * past the bridge and its rules. An nftables netdev ingress chain, which
 * runs after packet sockets have their copy, drops them there. */
static void stack_table(const char *dev, char out[64])
{
	snprintf(out, 64, "xenon_port_%s", dev);
	for (char *c = out; *c; c++)
		if (*c == '.' || *c == '-')
			*c = '_';
}

static int stack_off(const char *dev, struct xerr *err)
{
	if (!strcmp(datapath, "system"))
		return 0; /* the kernel datapath takes the frames itself */
	char table[64], text[512], path[700];
	stack_table(dev, table);
	snprintf(text, sizeof text,
		 "add table netdev %s\ndelete table netdev %s\n"
		 "table netdev %s {\n chain port_in {\n  type filter hook ingress device \"%s\" priority 0; policy drop;\n }\n}\n",
		 table, table, table, dev);
	snprintf(path, sizeof path, "%s/%s.nft", ovs_rundir, table);
	FILE *f = fopen(path, "w");
	if (!f)
		return xerr_internal(err, "cannot write %s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	const char *a[] = {"nft", "-f", path, NULL};
	char *o = NULL;
	int rc = net_run(a, &o);
	unlink(path);
	if (rc != 0)
		xerr_internal(err, "nft (keeping %s's frames from the host's stack): %s", dev, o && *o ? o : "failed");
	free(o);
	return rc == 0 ? 0 : -1;
}

static void stack_on(const char *dev)
{
	char table[64], *o = NULL;
	stack_table(dev, table);
	const char *a[] = {"nft", "delete", "table", "netdev", table, NULL};
	net_run(a, &o); /* none: nothing to remove */
	free(o);
}

int net_ovs_port_add(const char *bridge, const char *port, struct xerr *err)
{
	char *cur = NULL;
	struct xerr e = XERR_INIT;
	const char *q[] = {"port-to-br", port, NULL};
	if (net_ovs_vsctl(q, &cur, &e) == 0 && cur && *cur && strcmp(cur, bridge) != 0) {
		/* left on another bridge (the VIF moved network) */
		const char *d[] = {"--if-exists", "del-port", cur, port, NULL};
		net_ovs_vsctl(d, NULL, &e);
	}
	xerr_clear(&e);
	free(cur);
	const char *args[] = {"--may-exist", "add-port", bridge, port, NULL};
	if (net_ovs_vsctl(args, NULL, err) < 0)
		return -1;
	if (stack_off(port, err) < 0) {
		struct xerr e2 = XERR_INIT;
		net_ovs_port_del(port, &e2);
		xerr_clear(&e2);
		return -1;
	}
	return 0;
}

int net_ovs_port_del(const char *port, struct xerr *err)
{
	const char *args[] = {"--if-exists", "del-port", port, NULL};
	int rc = net_ovs_vsctl(args, NULL, err);
	if (rc == 0)
		stack_on(port);
	return rc;
}

bool net_ovs_bridge_exists(const char *bridge)
{
	struct xerr e = XERR_INIT;
	const char *args[] = {"br-exists", bridge, NULL};
	bool ok = net_ovs_vsctl(args, NULL, &e) == 0;
	xerr_clear(&e);
	return ok;
}
