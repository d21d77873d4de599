/* link: bridges and taps through the classic ioctls (the same calls brctl
 * and tunctl make) — create a bridge, make a persistent tap, enslave it,
 * set MTU and bring links up. Names and labels are in rtnl.c. */
#include "net.h"
#include "../base/fault.h"
#include "../base/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/ethtool.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

bool net_vif_name(int64_t domid, int devid, char out[NET_IFNAMSIZ])
{
	int n = snprintf(out, NET_IFNAMSIZ, "vif%" PRId64 ".%d", domid, devid);
	return domid >= 0 && devid >= 0 && n > 0 && n < NET_IFNAMSIZ;
}

bool net_vif_parse(const char *name, int64_t *domid, int *devid)
{
	if (strncmp(name, "vif", 3) != 0)
		return false;
	char *end;
	errno = 0;
	long long d = strtoll(name + 3, &end, 10);
	if (end == name + 3 || *end != '.' || errno || d < 0)
		return false;
	const char *dev = end + 1;
	long v = strtol(dev, &end, 10);
	if (end == dev || *end || v < 0 || v > 65535)
		return false;
	*domid = d;
	*devid = (int)v;
	return true;
}

static int fail(struct xerr *err, const char *what, const char *name, int e)
{
	/* xapi reports host network failures as INTERNAL_ERROR with the detail */
	return xerr_internal(err, "%s %s: %s", what, name, strerror(e));
}

static int ctl_socket(void)
{
	return socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

static void ifr_of(struct ifreq *ifr, const char *name)
{
	memset(ifr, 0, sizeof *ifr);
	snprintf(ifr->ifr_name, IFNAMSIZ, "%s", name);
}

bool net_link_exists(const char *name)
{
	return if_nametoindex(name) != 0;
}

/* The link's driver as ethtool names it ("bridge", "tun", "veth"…); ""
 * when it cannot be told. */
static void driver_of(int s, const char *name, char out[32])
{
	struct ethtool_drvinfo info = {.cmd = ETHTOOL_GDRVINFO};
	struct ifreq ifr;
	ifr_of(&ifr, name);
	ifr.ifr_data = (char *)&info;
	out[0] = '\0';
	if (ioctl(s, SIOCETHTOOL, &ifr) == 0)
		snprintf(out, 32, "%s", info.driver);
}

/* An existing link of that name must be of the expected kind: a network
 * named after the host's eth0 or lo must not change them. */
static int check_kind(int s, const char *name, const char *driver, struct xerr *err)
{
	char d[32];
	driver_of(s, name, d);
	if (strcmp(d, driver) != 0)
		return xerr_internal(err, "%s exists and is not a %s (driver '%s')", name,
				     !strcmp(driver, "tun") ? "tap" : driver, d);
	return 0;
}

static int set_mtu(int s, const char *name, int64_t mtu, struct xerr *err)
{
	if (mtu <= 0)
		return 0;
	struct ifreq ifr;
	ifr_of(&ifr, name);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(s, SIOCSIFMTU, &ifr) < 0)
		return fail(err, "cannot set the MTU of", name, errno);
	return 0;
}

static int set_up(int s, const char *name, struct xerr *err)
{
	struct ifreq ifr;
	ifr_of(&ifr, name);
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0)
		return fail(err, "cannot read the flags of", name, errno);
	if (ifr.ifr_flags & IFF_UP)
		return 0;
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
		return fail(err, "cannot bring up", name, errno);
	return 0;
}

int net_bridge_ensure(const char *bridge, int64_t mtu, struct xerr *err)
{
	if (!*bridge || strlen(bridge) >= IFNAMSIZ)
		return xerr_set(err, ERR_INVALID_VALUE, "bridge", bridge, NULL);
	if (net_backend() == NET_BACKEND_OVS) {
		/* a link of that name that is no Open vSwitch bridge is not ours */
		if (net_link_exists(bridge) && !net_ovs_bridge_exists(bridge))
			return xerr_internal(err, "%s exists and is not an Open vSwitch bridge", bridge);
		bool had = net_link_exists(bridge);
		if (net_ovs_bridge_ensure(bridge, mtu, err) < 0)
			return -1;
		if (!had)
			log_info("net: created Open vSwitch bridge %s (%s datapath)", bridge, net_ovs_datapath());
		int s = ctl_socket();
		if (s < 0)
			return fail(err, "cannot open a control socket for", bridge, errno);
		int rc = set_up(s, bridge, err);
		close(s);
		return rc;
	}
	int s = ctl_socket();
	if (s < 0)
		return fail(err, "cannot open a control socket for", bridge, errno);
	int rc = 0;
	if (!net_link_exists(bridge)) {
		if (ioctl(s, SIOCBRADDBR, bridge) < 0 && errno != EEXIST)
			rc = fail(err, "cannot create bridge", bridge, errno);
		else
			log_info("net: created bridge %s", bridge);
	}
	if (rc == 0)
		rc = check_kind(s, bridge, "bridge", err);
	if (rc == 0)
		rc = set_mtu(s, bridge, mtu, err);
	if (rc == 0)
		rc = set_up(s, bridge, err);
	close(s);
	return rc;
}

/* A persistent tap: it outlives our descriptor, so QEMU can open it by
 * name and the daemon can be restarted under a running guest. */
static int make_tap(const char *name, struct xerr *err)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(err, "cannot open /dev/net/tun for", name, errno);
	struct ifreq ifr;
	ifr_of(&ifr, name);
	/* the flags QEMU's tap backend asks for; IFF_VNET_HDR is per open
	 * file, so it need not match here */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	int rc = 0;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		rc = fail(err, "cannot create tap", name, errno);
	else if (ioctl(fd, TUNSETPERSIST, 1) < 0)
		rc = fail(err, "cannot make persistent tap", name, errno);
	close(fd);
	return rc;
}

static int enslave(int s, const char *bridge, const char *name, struct xerr *err)
{
	struct ifreq ifr;
	ifr_of(&ifr, bridge);
	ifr.ifr_ifindex = (int)if_nametoindex(name);
	if (!ifr.ifr_ifindex)
		return fail(err, "no such link", name, errno);
	/* the "tap" fault point: the tap exists, its bridge refuses it */
	if (fault_hit(FAULT_TAP)) {
		errno = EIO;
		return fail(err, "cannot add to its bridge tap", name, errno);
	}
	if (net_backend() == NET_BACKEND_OVS)
		return net_ovs_port_add(bridge, name, err);
	/* EBUSY: already a port (a tap reused after a restart) */
	if (ioctl(s, SIOCBRADDIF, &ifr) < 0 && errno != EBUSY)
		return fail(err, "cannot add to its bridge tap", name, errno);
	return 0;
}

int net_tap_create(const char *name, const char *bridge, int64_t mtu, const char *label,
		   struct xerr *err)
{
	int s = ctl_socket();
	if (s < 0)
		return fail(err, "cannot open a control socket for", name, errno);
	/* a link of that name that is no tap is not ours to take or remove */
	if (net_link_exists(name) && check_kind(s, name, "tun", err) < 0) {
		close(s);
		return -1;
	}
	if (make_tap(name, err) < 0) {
		close(s);
		return -1;
	}
	/* MTU before enslaving: a bridge takes the smallest of its ports' */
	int rc = set_mtu(s, name, mtu, err);
	if (rc == 0)
		rc = enslave(s, bridge, name, err);
	if (rc == 0)
		rc = set_up(s, name, err);
	close(s);
	if (rc == 0 && label && net_link_set_alias(name, label, err) < 0)
		rc = -1;
	if (rc == 0)
		return 0;
	struct xerr e = XERR_INIT;
	net_link_delete(name, &e);
	xerr_clear(&e);
	return -1;
}
