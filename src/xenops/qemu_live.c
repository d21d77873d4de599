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
#include <time.h>

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
char *qemu_top_node(struct qmp *q, const char *uuid, int pos, struct xerr *err)
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
	char *top = qemu_top_node(q, uuid, (int)pos, err);
	if (!top)
		return -1;
	static unsigned gen;
	char node[32];
	snprintf(node, sizeof node, "vbd%ld-s%u", pos, __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED));
	/* the overlay is opened by the VM's unprivileged QEMU */
	if (qemu_vm_grant(f->v, disk->path, true, err) < 0) {
		free(top);
		return -1;
	}
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

/* The node, in the whole graph, that opens the image at path. */
static char *node_of_file(struct qmp *q, const char *path, struct xerr *err)
{
	json_t *nodes = NULL;
	if (qmp_exec(q, "query-named-block-nodes", json_pack("{sb}", "flat", 1), &nodes, LIVE_QMP_TIMEOUT_MS,
		     err) < 0)
		return NULL;
	char *found = NULL;
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n) {
		const char *file = json_string_value(json_object_get(n, "file"));
		const char *drv = json_string_value(json_object_get(n, "drv"));
		const char *name = json_string_value(json_object_get(n, "node-name"));
		/* the format node, not the protocol node under it */
		if (!found && file && name && drv && strcmp(drv, "file") && !strcmp(file, path))
			found = xstrdup(name);
	}
	json_decref(nodes);
	if (!found)
		xerr_internal(err, "no node opens %s", path);
	return found;
}

/* Waits for a job started with auto-dismiss off, then dismisses it; its
 * error, if any, into err. Block jobs run while the guest does: no limit
 * but the job's own end. */
static int wait_job(struct qmp *q, const char *id, struct xerr *err)
{
	for (;;) {
		json_t *jobs = NULL;
		if (qmp_exec(q, "query-jobs", NULL, &jobs, LIVE_QMP_TIMEOUT_MS, err) < 0)
			return -1;
		const char *status = NULL, *error = NULL;
		char *msg = NULL;
		size_t i;
		json_t *j;
		json_array_foreach(jobs, i, j) {
			if (strcmp(json_string_value(json_object_get(j, "id")) ?: "", id))
				continue;
			status = json_string_value(json_object_get(j, "status"));
			error = json_string_value(json_object_get(j, "error"));
			if (error)
				msg = xstrdup(error);
		}
		bool done = status && !strcmp(status, "concluded");
		bool gone = !status;
		json_decref(jobs);
		if (done) {
			struct xerr e = XERR_INIT;
			qmp_exec(q, "job-dismiss", json_pack("{ss}", "id", id), NULL, LIVE_QMP_TIMEOUT_MS, &e);
			xerr_clear(&e);
			int rc = msg ? xerr_internal(err, "block job %s: %s", id, msg) : 0;
			free(msg);
			return rc;
		}
		free(msg);
		if (gone)
			return xerr_internal(err, "block job %s vanished", id);
		struct timespec nap = {0, 100 * 1000000};
		nanosleep(&nap, NULL);
	}
}

static int live_stream(const char *uuid, const char *userdevice, const char *backing_path,
		       const char *backing_name, struct xerr *err)
{
	char *end;
	long pos = strtol(userdevice, &end, 10);
	if (*end || pos < 0 || pos > 254)
		return xerr_internal(err, "VM %s: no disk '%s'", uuid, userdevice);
	struct qvm *v = qemu_claim(uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no QEMU here", uuid);
	struct qmp *q = qemu_vm_qmp(v);
	char *top = q ? qemu_top_node(q, uuid, (int)pos, err) : NULL;
	char *base = NULL;
	int r = -1;
	if (!q)
		xerr_internal(err, "VM %s: no monitor connection to its QEMU", uuid);
	else if (top && (!backing_path || (base = node_of_file(q, backing_path, err)))) {
		char id[32];
		snprintf(id, sizeof id, "coalesce-vbd%ld", pos);
		json_t *args = json_pack("{ss ss sb}", "job-id", id, "device", top, "auto-dismiss", 0);
		if (base) {
			json_object_set_new(args, "base-node", json_string(base));
			json_object_set_new(args, "backing-file", json_string(backing_name));
		}
		r = qmp_exec(q, "block-stream", args, NULL, LIVE_QMP_TIMEOUT_MS, err);
		if (r == 0)
			r = wait_job(q, id, err);
		if (r == 0) {
			qemu_del_nodes(q, (int)pos, false); /* the base's node, out of the chain now */
			log_info("qemu %s: disk %ld streamed onto %s", uuid, pos, backing_path ? backing_path : "nothing");
		}
	}
	free(top);
	free(base);
	qemu_release(v);
	return r;
}

const struct sm_live_ops qemu_live_ops = {
	.freeze = live_freeze,
	.reopen = live_reopen,
	.thaw = live_thaw,
	.stream = live_stream,
};
