/* rtnl: the few rtnetlink requests the ioctls lack — delete a link
 * (whether or not a process still holds its tap), label it (IFLA_IFALIAS:
 * which VM a tap belongs to, so a restarted daemon removes only its own
 * strays), and list links with their labels. Netlink, unlike /sys, always
 * answers for the namespace the daemon runs in. */
#include "net.h"
#include "../base/mem.h"

#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct req {
	struct nlmsghdr h;
	struct ifinfomsg i;
	char attrs[512];
};

static int nl_open(void)
{
	int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (s < 0)
		return -1;
	struct sockaddr_nl sa = {.nl_family = AF_NETLINK};
	if (bind(s, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(s);
		return -1;
	}
	return s;
}

static void add_attr(struct req *r, unsigned short type, const void *data, size_t len)
{
	struct rtattr *a = (struct rtattr *)((char *)r + NLMSG_ALIGN(r->h.nlmsg_len));
	a->rta_type = type;
	a->rta_len = (unsigned short)RTA_LENGTH(len);
	memcpy(RTA_DATA(a), data, len);
	r->h.nlmsg_len = NLMSG_ALIGN(r->h.nlmsg_len) + RTA_ALIGN(a->rta_len);
}

/* Sends r and waits for its acknowledgement: 0, or -errno. */
static int nl_talk(struct req *r)
{
	int s = nl_open();
	if (s < 0)
		return -errno;
	r->h.nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	r->h.nlmsg_seq = 1;
	int rc = -EIO;
	if (send(s, r, r->h.nlmsg_len, 0) < 0) {
		rc = -errno;
		goto out;
	}
	char buf[8192];
	for (;;) {
		ssize_t n = recv(s, buf, sizeof buf, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		size_t left = (size_t)n;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_type == NLMSG_ERROR) {
				rc = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				goto out;
			}
		}
	}
out:
	close(s);
	return rc;
}

static void req_init(struct req *r, unsigned short type, int ifindex)
{
	memset(r, 0, sizeof *r);
	r->h.nlmsg_len = NLMSG_LENGTH(sizeof r->i);
	r->h.nlmsg_type = type;
	r->i.ifi_family = AF_UNSPEC;
	r->i.ifi_index = ifindex;
}

int net_link_delete(const char *name, struct xerr *err)
{
	/* rules and an Open vSwitch port outlive the link: they go first */
	int64_t d;
	int dev;
	bool vif = net_vif_parse(name, &d, &dev);
	if (vif) {
		net_vifpol_lock();
		net_vif_policy_clear(name);
	}
	int rc = 0;
	if (net_backend() == NET_BACKEND_OVS && net_ovs_port_del(name, err) < 0)
		rc = -1;
	int idx = rc == 0 ? (int)if_nametoindex(name) : 0;
	if (idx) {
		struct req r;
		req_init(&r, RTM_DELLINK, idx);
		int e = nl_talk(&r);
		if (e < 0 && e != -ENODEV)
			rc = xerr_internal(err, "cannot delete link %s: %s", name, strerror(-e));
	}
	if (vif)
		net_vifpol_unlock();
	return rc;
}

int net_link_set_alias(const char *name, const char *alias, struct xerr *err)
{
	int idx = (int)if_nametoindex(name);
	if (!idx)
		return xerr_internal(err, "no such link %s", name);
	struct req r;
	req_init(&r, RTM_SETLINK, idx);
	size_t len = strnlen(alias, 255);
	char a[256];
	memcpy(a, alias, len);
	a[len] = '\0';
	add_attr(&r, IFLA_IFALIAS, a, len + 1);
	int rc = nl_talk(&r);
	if (rc < 0)
		return xerr_internal(err, "cannot label link %s: %s", name, strerror(-rc));
	return 0;
}

/* One RTM_NEWLINK of the dump: appended to the list when it is a vif. */
static void take_link(struct nlmsghdr *h, struct net_vif **out, size_t *n)
{
	struct ifinfomsg *i = NLMSG_DATA(h);
	int len = (int)IFLA_PAYLOAD(h);
	const char *name = NULL, *alias = "";
	for (struct rtattr *a = IFLA_RTA(i); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_IFNAME)
			name = RTA_DATA(a);
		else if (a->rta_type == IFLA_IFALIAS)
			alias = RTA_DATA(a);
	}
	struct net_vif v = {0};
	if (!name || strlen(name) >= sizeof v.name || !net_vif_parse(name, &v.domid, &v.devid))
		return;
	snprintf(v.name, sizeof v.name, "%s", name);
	snprintf(v.label, sizeof v.label, "%s", alias);
	*out = xrealloc(*out, (*n + 1) * sizeof **out);
	(*out)[(*n)++] = v;
}

int net_vifs_list(struct net_vif **out, size_t *n, struct xerr *err)
{
	*out = NULL;
	*n = 0;
	int s = nl_open();
	if (s < 0)
		return xerr_internal(err, "netlink: %s", strerror(errno));
	struct req r;
	req_init(&r, RTM_GETLINK, 0);
	r.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	r.h.nlmsg_seq = 1;
	int rc = 0;
	if (send(s, &r, r.h.nlmsg_len, 0) < 0) {
		rc = xerr_internal(err, "netlink: %s", strerror(errno));
		goto out;
	}
	char buf[32768];
	for (;;) {
		ssize_t got = recv(s, buf, sizeof buf, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			rc = xerr_internal(err, "netlink: %s", got < 0 ? strerror(errno) : "closed");
			goto out;
		}
		size_t left = (size_t)got;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				int e = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
				rc = xerr_internal(err, "netlink dump: %s", strerror(e));
				goto out;
			}
			if (h->nlmsg_type == RTM_NEWLINK)
				take_link(h, out, n);
		}
	}
out:
	close(s);
	if (rc < 0) {
		free(*out);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
