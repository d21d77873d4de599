/* qemu_net: a QEMU domain's NICs. Each VIF is a persistent tap named
 * vif<domid>.<device> on its network's bridge, made before QEMU starts (or
 * before a hot-plug) and removed once the domain is gone, so the host sees
 * the same interfaces a XenServer host shows. QEMU opens a tap by name and
 * never runs scripts. Taps carry the label xenon:<vm-uuid>, so a daemon
 * restarted after kill -9 removes its own strays and nobody else's. */
#include "qemu_int.h"
#include "qmp.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../net/net.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LABEL_PREFIX "xenon:"
#define QMP_TIMEOUT_MS 10000
#define UNPLUG_WAIT_MS 10000 /* the guest acknowledges a PCI unplug */
#define UNPLUG_FORCE_WAIT_MS 2000

/* The emulated model: what the template asks for (platform:nic_type, as
 * xenopsd reads it), else rtl8139 for a firmware-booted (HVM) guest —
 * xenopsd's default, which guests without drivers know — and virtio-net for
 * a direct-boot guest, whose kernel brings its drivers as a PV guest does. */
static const char *nic_model(const struct vm_spec *vm)
{
	const char *t = xv_map_get_str(&vm->platform, "nic_type");
	bool ok = t && *t && strlen(t) < 32;
	for (const char *c = t; ok && *c; c++)
		ok = islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-' || *c == '_';
	if (ok)
		return t;
	return vm->boot == VM_BOOT_FIRMWARE ? "rtl8139" : "virtio-net-pci";
}

static bool mac_ok(const char *m)
{
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? m[i] != ':' : !isxdigit((unsigned char)m[i]))
			return false;
	return m[17] == '\0';
}

char *qemu_nic_netdev_opts(const struct vm_spec *vm, const struct vm_nic *nic)
{
	char tap[NET_IFNAMSIZ];
	net_vif_name(vm->domid, nic->device, tap);
	return xasprintf("tap,id=vif%d,ifname=%s,script=no,downscript=no", nic->device, tap);
}

char *qemu_nic_netdev_fd_opts(const struct vm_nic *nic, int fd)
{
	return xasprintf("tap,id=vif%d,fd=%d", nic->device, fd);
}

int qemu_tap_open(const struct vm_spec *vm, const struct vm_nic *nic, struct xerr *err)
{
	char tap[NET_IFNAMSIZ];
	net_vif_name(vm->domid, nic->device, tap);
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", tap);
	/* as QEMU would open it by name: no packet info, virtio-net headers */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return xerr_internal(err, "cannot open tap %s: %s", tap, strerror(e));
	}
	return fd;
}

/* Only virtio-net has the offload switch and tells the guest an MTU; the
 * emulated cards finish their frames in QEMU. */
static bool nic_tunnelled(const struct vm_spec *vm, const struct vm_nic *nic)
{
	return nic->tunnelled && !strcmp(nic_model(vm), "virtio-net-pci");
}

char *qemu_nic_device_opts(const struct vm_spec *vm, const struct vm_nic *nic)
{
	char extra[48] = "";
	if (nic_tunnelled(vm, nic) && nic->mtu > 0)
		snprintf(extra, sizeof extra, ",csum=off,host_mtu=%lld", (long long)nic->mtu);
	else if (nic_tunnelled(vm, nic))
		snprintf(extra, sizeof extra, ",csum=off");
	return xasprintf("%s,id=nic%d,netdev=vif%d,mac=%s%s", nic_model(vm), nic->device, nic->device,
			 nic->mac, extra);
}

/* The label of the vif link `name`; false when there is no such link. */
static bool vif_label(const char *name, char out[128])
{
	struct net_vif *v;
	size_t n;
	struct xerr e = XERR_INIT;
	bool found = false;
	if (net_vifs_list(&v, &n, &e) < 0) {
		xerr_clear(&e);
		return false;
	}
	for (size_t i = 0; i < n && !found; i++) {
		if (!strcmp(v[i].name, name)) {
			snprintf(out, 128, "%s", v[i].label);
			found = true;
		}
	}
	free(v);
	return found;
}

static int tap_up(const struct vm_spec *vm, const struct vm_nic *nic, struct xerr *err)
{
	char tap[NET_IFNAMSIZ], label[64], held[128];
	if (!net_vif_name(vm->domid, nic->device, tap))
		return xerr_internal(err, "VIF device %d of domain %lld: no interface name fits", nic->device,
				     (long long)vm->domid);
	if (!mac_ok(nic->mac))
		return xerr_set(err, ERR_MAC_INVALID, nic->mac, NULL);
	snprintf(label, sizeof label, LABEL_PREFIX "%s", vm->uuid);
	/* a tap of this name that another VM (another xenond in this
	 * namespace) holds is not taken over */
	if (vif_label(tap, held) && strcmp(held, label) != 0)
		return xerr_internal(err, "%s already exists (%s)", tap, *held ? held : "not made by xenond");
	if (net_bridge_ensure(nic->bridge, nic->bridge_mtu, err) < 0 ||
	    net_tap_create(tap, nic->bridge, nic->mtu, label, err) < 0)
		return -1;
	/* locking, QoS and the rest before the guest can send a frame */
	if (net_vif_policy_apply(tap, nic->bridge, &nic->policy, err) < 0) {
		struct xerr e = XERR_INIT;
		net_link_delete(tap, &e);
		xerr_clear(&e);
		return -1;
	}
	return 0;
}

int qemu_nics_up(const struct vm_spec *vm, struct xerr *err)
{
	for (size_t i = 0; i < vm->nnics; i++) {
		if (tap_up(vm, &vm->nics[i], err) < 0) {
			qemu_nics_down(vm->uuid, vm->domid);
			return -1;
		}
	}
	return 0;
}

void qemu_nics_down(const char *uuid, int64_t domid)
{
	if (domid < 0)
		return;
	struct net_vif *v;
	size_t n;
	struct xerr e = XERR_INIT;
	if (net_vifs_list(&v, &n, &e) < 0) {
		log_warn("qemu: listing taps of domain %lld: %s", (long long)domid,
			 e.nparams ? e.params[0] : e.code);
		xerr_clear(&e);
		return;
	}
	char label[64];
	snprintf(label, sizeof label, LABEL_PREFIX "%s", uuid);
	for (size_t i = 0; i < n; i++) {
		/* only this VM's: the namespace may hold another xenond's */
		if (v[i].domid != domid || strcmp(v[i].label, label) != 0)
			continue;
		if (net_link_delete(v[i].name, &e) < 0) {
			log_warn("qemu: %s", e.nparams ? e.params[0] : e.code);
			xerr_clear(&e);
		}
	}
	free(v);
}

void qemu_nics_sweep(const struct xenops_host *host, const char *const *uuids, const int64_t *domids, size_t n)
{
	struct net_vif *v;
	size_t nv;
	struct xerr e = XERR_INIT;
	if (net_vifs_list(&v, &nv, &e) < 0) {
		log_warn("qemu: cannot list taps: %s", e.nparams ? e.params[0] : e.code);
		xerr_clear(&e);
		return;
	}
	for (size_t i = 0; i < nv; i++) {
		if (strncmp(v[i].label, LABEL_PREFIX, strlen(LABEL_PREFIX)) != 0)
			continue; /* not made by a xenond */
		const char *uuid = v[i].label + strlen(LABEL_PREFIX);
		if (!host->ops->vm_known(host->arg, uuid))
			continue; /* another daemon's VM */
		bool live = false;
		for (size_t j = 0; j < n && !live; j++)
			live = !strcmp(uuids[j], uuid) && domids[j] == v[i].domid;
		if (live)
			continue;
		log_info("qemu: removing tap %s of VM %s: its domain is gone", v[i].name, uuid);
		if (net_link_delete(v[i].name, &e) < 0) {
			log_warn("qemu: %s", e.nparams ? e.params[0] : e.code);
			xerr_clear(&e);
		}
	}
	free(v);
}

/* ---- hot-plug ---- */

int qemu_vif_plug(const struct xenops_host *host, const struct vm_spec *vm, const struct vm_nic *nic,
		  struct xerr *err)
{
	(void)host;
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(vm->uuid, &q, err);
	if (!v)
		return -1;
	char tap[NET_IFNAMSIZ], id[32], nid[32];
	net_vif_name(vm->domid, nic->device, tap);
	snprintf(id, sizeof id, "vif%d", nic->device);
	snprintf(nid, sizeof nid, "nic%d", nic->device);
	int r = tap_up(vm, nic, err);
	if (r == 0) {
		/* opened here and handed over: QEMU runs unprivileged */
		int fd = qemu_tap_open(vm, nic, err);
		r = fd < 0 ? -1
			   : qmp_exec_fd(q, "getfd", json_pack("{ss}", "fdname", id), fd, NULL, QMP_TIMEOUT_MS, err);
		if (fd >= 0)
			close(fd);
		if (r == 0)
			r = qmp_exec(q, "netdev_add", json_pack("{ss ss ss}", "type", "tap", "id", id, "fd", id), NULL,
				     QMP_TIMEOUT_MS, err);
		if (r < 0) {
			struct xerr e = XERR_INIT;
			net_link_delete(tap, &e);
			xerr_clear(&e);
		}
	}
	if (r == 0) {
		json_t *dev = json_pack("{ss ss ss ss}", "driver", nic_model(vm), "id", nid, "netdev", id,
					"mac", nic->mac);
		if (nic_tunnelled(vm, nic)) {
			json_object_set_new(dev, "csum", json_false());
			if (nic->mtu > 0)
				json_object_set_new(dev, "host_mtu", json_integer(nic->mtu));
		}
		r = qmp_exec(q, "device_add", dev, NULL, QMP_TIMEOUT_MS, err);
		if (r < 0) {
			struct xerr e = XERR_INIT;
			qmp_exec(q, "netdev_del", json_pack("{ss}", "id", id), NULL, QMP_TIMEOUT_MS, &e);
			xerr_clear(&e);
			net_link_delete(tap, &e);
			xerr_clear(&e);
		}
	}
	qemu_release(v);
	if (r == 0)
		log_info("qemu %s: plugged %s (%s)", vm->uuid, tap, nic->mac);
	return r;
}

/* Whether the device id is still in the machine (the guest has not yet
 * released it). */
static bool device_present(struct qmp *q, const char *id)
{
	json_t *ret = NULL;
	struct xerr e = XERR_INIT;
	bool present = false;
	if (qmp_exec(q, "qom-list", json_pack("{ss}", "path", "/machine/peripheral"), &ret, QMP_TIMEOUT_MS,
		     &e) == 0) {
		size_t i;
		json_t *p;
		json_array_foreach(ret, i, p)
		{
			const char *name = json_string_value(json_object_get(p, "name"));
			if (name && !strcmp(name, id))
				present = true;
		}
	}
	xerr_clear(&e);
	json_decref(ret);
	return present;
}

int qemu_vif_unplug(const struct xenops_host *host, const struct vm_spec *vm, int device, bool force,
		    struct xerr *err)
{
	(void)host;
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(vm->uuid, &q, err);
	if (!v)
		return -1;
	char tap[NET_IFNAMSIZ], id[32], nid[32];
	net_vif_name(vm->domid, device, tap);
	snprintf(id, sizeof id, "vif%d", device);
	snprintf(nid, sizeof nid, "nic%d", device);
	struct xerr e = XERR_INIT;
	if (device_present(q, nid)) {
		/* a PCI unplug is a request: the guest ejects the device */
		if (qmp_exec(q, "device_del", json_pack("{ss}", "id", nid), NULL, QMP_TIMEOUT_MS, &e) < 0)
			log_warn("qemu %s: device_del %s: %s", vm->uuid, nid, e.nparams ? e.params[0] : e.code);
		xerr_clear(&e);
		int64_t until = clock_now_ms() + (force ? UNPLUG_FORCE_WAIT_MS : UNPLUG_WAIT_MS);
		while (device_present(q, nid) && clock_now_ms() < until)
			usleep(100 * 1000);
		if (!force && device_present(q, nid)) {
			qemu_release(v);
			/* xapi's words when the device stays */
			char *m = xasprintf("vif_unplug: the guest did not release %s", tap);
			xerr_set(err, ERR_INTERNAL_ERROR, m, NULL);
			free(m);
			return -1;
		}
	}
	/* forced, the guest loses the link even if it keeps the device */
	qmp_exec(q, "netdev_del", json_pack("{ss}", "id", id), NULL, QMP_TIMEOUT_MS, &e);
	xerr_clear(&e);
	qemu_release(v);
	char label[64], held[128];
	snprintf(label, sizeof label, LABEL_PREFIX "%s", vm->uuid);
	if (vif_label(tap, held) && !strcmp(held, label) && net_link_delete(tap, err) < 0)
		return -1;
	log_info("qemu %s: unplugged %s", vm->uuid, tap);
	return 0;
}
