/* qemu_hotplug: disks changed while the VM runs — a virtio disk hot-plugged
 * or unplugged (blockdev-add + device_add, device_del + blockdev-del) and a
 * CD drive's medium inserted or ejected. Devices and nodes are named as at
 * start (device vbd<position>), so a disk plugged live looks to later
 * operations (live snapshots, unplug) like one the VM started with. */
#include "qemu_disk.h"
#include "qemu_int.h"
#include "qmp.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define DISK_QMP_TIMEOUT_MS 10000
/* How long a guest gets to let a device go (ACPI eject); xapi's unplug
 * waits for the guest's frontend likewise. */
#define UNPLUG_WAIT_MS 20000
#define UNPLUG_FORCE_WAIT_MS 3000

/* Whether QEMU has a device with this id. */
static bool device_exists(struct qmp *q, const char *id)
{
	char path[64];
	snprintf(path, sizeof path, "/machine/peripheral/%s", id);
	struct xerr e = XERR_INIT;
	json_t *ret = NULL;
	int r = qmp_exec(q, "qom-get", json_pack("{ss ss}", "path", path, "property", "type"), &ret,
			 DISK_QMP_TIMEOUT_MS, &e);
	json_decref(ret);
	xerr_clear(&e);
	return r == 0;
}

static void del_node(struct qmp *q, const char *node)
{
	struct xerr e = XERR_INIT;
	qmp_exec(q, "blockdev-del", json_pack("{ss}", "node-name", node), NULL, DISK_QMP_TIMEOUT_MS, &e);
	xerr_clear(&e);
}

/* How many block nodes of disk pos there are (named vbd<pos> or
 * vbd<pos>-…), deleting each when del; -1 when QEMU does not answer. */
static int disk_nodes(struct qmp *q, int pos, bool del)
{
	char prefix[24], exact[24];
	snprintf(exact, sizeof exact, "vbd%d", pos);
	snprintf(prefix, sizeof prefix, "vbd%d-", pos);
	json_t *nodes = NULL, *n;
	struct xerr e = XERR_INIT;
	if (qmp_exec(q, "query-named-block-nodes", json_pack("{sb}", "flat", 1), &nodes,
		     DISK_QMP_TIMEOUT_MS, &e) < 0) {
		xerr_clear(&e);
		return -1;
	}
	int found = 0;
	size_t i;
	json_array_foreach(nodes, i, n) {
		const char *name = json_string_value(json_object_get(n, "node-name"));
		if (!name || (strcmp(name, exact) && strncmp(name, prefix, strlen(prefix))))
			continue;
		found++;
		if (del)
			del_node(q, name);
	}
	json_decref(nodes);
	return found;
}

/* Deletes the block nodes of disk pos that no device uses any more: those
 * named vbd<pos>… (start, hot-plug and live-snapshot nodes alike), in as
 * many rounds as the chain is deep, since a node goes only after the one
 * above it. With all (the disk's device is gone), every node must go, and a
 * device just deleted may hold its nodes a moment longer (requests still
 * draining): rounds that free nothing are retried for up to
 * NODES_GONE_WAIT_MS, so that the image is closed — its lock let go — when
 * this returns. Otherwise it stops at the first round that frees nothing
 * (the nodes a device still uses stay). */
#define NODES_GONE_WAIT_MS 5000
void qemu_del_nodes(struct qmp *q, int pos, bool all)
{
	int64_t until = clock_now_ms() + NODES_GONE_WAIT_MS;
	int left = disk_nodes(q, pos, false);
	while (left > 0) {
		disk_nodes(q, pos, true);
		int now_left = disk_nodes(q, pos, false);
		if (now_left < 0 || (now_left >= left && !all))
			return;
		if (now_left >= left) {
			if (clock_now_ms() >= until) {
				log_warn("qemu: %d block node(s) of disk %d still in use", now_left, pos);
				return;
			}
			struct timespec nap = {0, 50 * 1000000};
			nanosleep(&nap, NULL);
		}
		left = now_left;
	}
}

int qemu_disk_plug(const struct xenops_host *host, const char *uuid, const struct vm_disk *d, struct xerr *err)
{
	(void)host;
	if (!d->path || d->is_cdrom)
		return xerr_internal(err, "VM %s: only disks with an image are hot-plugged", uuid);
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(uuid, &q, err);
	if (!v)
		return -1;
	char id[24], node[40], file[48];
	snprintf(id, sizeof id, "vbd%d", d->position);
	static unsigned gen;
	unsigned g = __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED);
	snprintf(node, sizeof node, "vbd%d-h%u", d->position, g);
	snprintf(file, sizeof file, "%s-file", node);
	int r = -1;
	if (device_exists(q, id)) {
		xerr_set(err, ERR_DEVICE_ALREADY_EXISTS, id, NULL);
		goto out;
	}
	bool ro = d->read_only;
	if (qemu_vm_grant(v, d->path, !ro, err) < 0)
		goto out;
	json_t *fnode = qemu_disk_file_node(d->path); /* a local file or a share's URL */
	if (!fnode) {
		xerr_internal(err, "VM %s: cannot open disk '%s'", uuid, d->path);
		goto out;
	}
	json_object_set_new(fnode, "node-name", json_string(file));
	json_object_set_new(fnode, "read-only", json_boolean(ro));
	if (qmp_exec(q, "blockdev-add", fnode, NULL, DISK_QMP_TIMEOUT_MS, err) < 0)
		goto out;
	if (qmp_exec(q, "blockdev-add",
		     json_pack("{ss ss ss sb}", "driver", d->format, "node-name", node, "file", file,
			       "read-only", ro),
		     NULL, DISK_QMP_TIMEOUT_MS, err) < 0) {
		del_node(q, file);
		goto out;
	}
	if (qmp_exec(q, "device_add", json_pack("{ss ss ss}", "driver", "virtio-blk-pci", "id", id, "drive", node),
		     NULL, DISK_QMP_TIMEOUT_MS, err) < 0) {
		del_node(q, node);
		del_node(q, file);
		goto out;
	}
	log_info("qemu %s: disk %d plugged (%s)", uuid, d->position, d->path);
	r = 0;
out:
	qemu_release(v);
	return r;
}

int qemu_disk_unplug(const struct xenops_host *host, const char *uuid, int position, bool force, const char *vbd_ref,
		     struct xerr *err)
{
	(void)host;
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(uuid, &q, err);
	if (!v)
		return -1;
	char id[24];
	snprintf(id, sizeof id, "vbd%d", position);
	int r = -1;
	if (!device_exists(q, id)) {
		r = 0; /* already gone (a guest that ejected it): only the nodes are left */
	} else if (qmp_exec(q, "device_del", json_pack("{ss}", "id", id), NULL, DISK_QMP_TIMEOUT_MS, err) == 0) {
		/* the guest lets the device go in its own time */
		int64_t until = clock_now_ms() + (force ? UNPLUG_FORCE_WAIT_MS : UNPLUG_WAIT_MS);
		struct timespec nap = {0, 50 * 1000000};
		while (device_exists(q, id) && clock_now_ms() < until)
			nanosleep(&nap, NULL);
		if (device_exists(q, id))
			xerr_set(err, ERR_DEVICE_DETACH_TIMEOUT, "VBD", vbd_ref, NULL);
		else
			r = 0;
	}
	if (r == 0) {
		qemu_del_nodes(q, position, true);
		log_info("qemu %s: disk %d unplugged", uuid, position);
	}
	qemu_release(v);
	return r;
}

int qemu_cd_change(const struct xenops_host *host, const char *uuid, const struct vm_disk *d, struct xerr *err)
{
	(void)host;
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(uuid, &q, err);
	if (!v)
		return -1;
	char id[24];
	snprintf(id, sizeof id, "vbd%d", d->position);
	int r;
	if (d->path) {
		/* a closed tray with nothing in it takes the new medium at once */
		r = qemu_vm_grant(v, d->path, false, err);
		if (r == 0)
			r = qmp_exec(q, "blockdev-change-medium",
			     json_pack("{ss ss ss ss}", "id", id, "filename", d->path, "format", d->format,
				       "read-only-mode", "read-only"),
			     NULL, DISK_QMP_TIMEOUT_MS, err);
	} else {
		/* force: a guest that locked the tray does not keep the ISO busy */
		r = qmp_exec(q, "eject", json_pack("{ss sb}", "id", id, "force", 1), NULL, DISK_QMP_TIMEOUT_MS, err);
		if (r == 0)
			qemu_del_nodes(q, d->position, false); /* the nodes the VM started with, if any */
	}
	if (r == 0)
		log_info("qemu %s: CD drive %d %s%s", uuid, d->position, d->path ? "now holds " : "emptied",
			 d->path ? d->path : "");
	qemu_release(v);
	return r;
}
