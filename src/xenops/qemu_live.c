/* qemu_live: snapshots of disks a running QEMU holds (sm_live_ops). The SR
 * driver renames the image to the new base and puts a fresh overlay at its
 * name, but QEMU still writes to the old inode. Between freeze (guest
 * stopped) and thaw, reopen opens the overlay as a new node and makes it the
 * disk's top with the open node as its backing (QMP blockdev-snapshot), so
 * the guest's writes land in the overlay from then on. */
#include "qemu_disk.h"
#include "qemu_int.h"
#include "qmp.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../sm/sm.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LIVE_QMP_TIMEOUT_MS 10000

/* VMs between freeze and thaw: claimed, so nothing else touches them. */
struct frozen {
	char uuid[40];
	struct qvm *v;
	bool was_running;
	struct frozen *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct frozen *frozen;

static struct frozen *take(const char *uuid, bool unlink)
{
	pthread_mutex_lock(&lock);
	struct frozen **pp = &frozen;
	while (*pp && strcmp((*pp)->uuid, uuid) != 0)
		pp = &(*pp)->next;
	struct frozen *f = *pp;
	if (f && unlink)
		*pp = f->next;
	pthread_mutex_unlock(&lock);
	return f;
}

static int live_freeze(const char *uuid, struct xerr *err)
{
	struct qvm *v = qemu_claim(uuid);
	if (!v)
		return 0; /* no QEMU holds the image */
	struct frozen *f = xcalloc(1, sizeof *f);
	snprintf(f->uuid, sizeof f->uuid, "%s", uuid);
	f->v = v;
	f->was_running = qemu_vm_running(v);
	if (f->was_running &&
	    (!qemu_vm_qmp(v) || qmp_exec(qemu_vm_qmp(v), "stop", NULL, NULL, LIVE_QMP_TIMEOUT_MS, err) < 0)) {
		if (!qemu_vm_qmp(v))
			xerr_internal(err, "VM %s: no monitor connection to its QEMU", uuid);
		free(f);
		qemu_release(v);
		return -1;
	}
	pthread_mutex_lock(&lock);
	f->next = frozen;
	frozen = f;
	pthread_mutex_unlock(&lock);
	return 0;
}

/* The name of the node at the top of device vbd<pos>. */
static char *top_node(struct qmp *q, const char *uuid, int pos, struct xerr *err)
{
	json_t *blocks = NULL;
	if (qmp_exec(q, "query-block", NULL, &blocks, LIVE_QMP_TIMEOUT_MS, err) < 0)
		return NULL;
	char id[32], path[48];
	snprintf(id, sizeof id, "vbd%d", pos);
	snprintf(path, sizeof path, "/vbd%d/", pos);
	char *found = NULL;
	size_t i;
	json_t *b;
	json_array_foreach(blocks, i, b) {
		const char *qdev = json_string_value(json_object_get(b, "qdev"));
		const char *node = json_string_value(json_object_get(json_object_get(b, "inserted"), "node-name"));
		if (qdev && node && !found && (!strcmp(qdev, id) || strstr(qdev, path)))
			found = xstrdup(node);
	}
	json_decref(blocks);
	if (!found)
		xerr_internal(err, "VM %s has no open disk vbd%d", uuid, pos);
	return found;
}

static int live_reopen(const char *uuid, const char *userdevice, const struct sm_attach_info *disk,
		       struct xerr *err)
{
	struct frozen *f = take(uuid, false);
	if (!f)
		return 0;
	struct qmp *q = qemu_vm_qmp(f->v);
	char *end;
	long pos = strtol(userdevice, &end, 10);
	if (*end || pos < 0 || pos > 254 || !q)
		return xerr_internal(err, "VM %s: cannot reopen disk '%s'", uuid, userdevice);
	char *top = top_node(q, uuid, (int)pos, err);
	if (!top)
		return -1;
	static unsigned gen;
	char node[32];
	snprintf(node, sizeof node, "vbd%ld-s%u", pos, __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED));
	/* backing null: blockdev-snapshot gives it the open node */
	json_t *file = qemu_disk_file_node(disk->path);
	if (!file) {
		free(top);
		return xerr_internal(err, "VM %s: cannot open '%s'", uuid, disk->path);
	}
	json_t *add = json_pack("{ss ss so sn}", "driver", disk->format, "node-name", node, "file",
				file, "backing");
	int r = qmp_exec(q, "blockdev-add", add, NULL, LIVE_QMP_TIMEOUT_MS, err);
	if (r == 0) {
		r = qmp_exec(q, "blockdev-snapshot", json_pack("{ss ss}", "node", top, "overlay", node), NULL,
			     LIVE_QMP_TIMEOUT_MS, err);
		if (r < 0) {
			struct xerr e = XERR_INIT;
			qmp_exec(q, "blockdev-del", json_pack("{ss}", "node-name", node), NULL,
				 LIVE_QMP_TIMEOUT_MS, &e);
			xerr_clear(&e);
		}
	}
	if (r == 0)
		log_info("qemu %s: disk %ld now writes to %s (over %s)", uuid, pos, disk->path, top);
	free(top);
	return r;
}

static void live_thaw(const char *uuid)
{
	struct frozen *f = take(uuid, true);
	if (!f)
		return;
	struct qmp *q = qemu_vm_qmp(f->v);
	if (f->was_running && q) {
		struct xerr e = XERR_INIT;
		if (qmp_exec(q, "cont", NULL, NULL, LIVE_QMP_TIMEOUT_MS, &e) < 0)
			log_error("qemu %s: cont after a live snapshot: %s", uuid, e.nparams ? e.params[0] : e.code);
		xerr_clear(&e);
	}
	qemu_release(f->v);
	free(f);
}

const struct sm_live_ops qemu_live_ops = {
	.freeze = live_freeze,
	.reopen = live_reopen,
	.thaw = live_thaw,
};
