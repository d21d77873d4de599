/* vbd_live: VBD.plug/unplug and CD insert/eject on a running VM. vbd.c
 * checks the call and marks the VBD's current operation in one
 * transaction; here, with the store's lock released, the VDI is attached or
 * detached through its SR driver and the backend changes the running
 * domain; a last transaction makes the records follow what happened and
 * clears the mark. Whatever fails leaves the VBD as it was. */
#include "storage.h"
#include "vbd_live.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the last transaction needs to know, read with the first. */
struct live {
	char vbd[REF_STRLEN + 1], vm_uuid[40], old_vdi[REF_STRLEN + 1];
	int position;
};

static struct vm_build *collect(struct rpc_ctx *ctx, const char *vbd_ref, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *vbd = db_lookup_cls(ctx->db, SC_C_VBD, vbd_ref);
	struct vm_build *b = vbd ? vm_build_collect_vbd(ctx->srv, vbd, err) : NULL;
	if (!vbd)
		xerr_set(err, ERR_HANDLE_INVALID, "VBD", vbd_ref, NULL);
	db_unlock(ctx->db);
	return b;
}

/* Attaches the VBD's VDI and hands it to fn (plug or medium change). */
static int attach_and(struct rpc_ctx *ctx, const struct live *l,
		      int (*fn)(const struct xenops_host *, const char *, const struct vm_disk *, struct xerr *),
		      struct xerr *err)
{
	struct vm_build *b = collect(ctx, l->vbd, err);
	if (!b)
		return -1;
	struct vm_spec s;
	memset(&s, 0, sizeof s);
	int rc = vm_build_attach(b, &s, err);
	if (rc == 0 && s.ndisks != 1)
		rc = xerr_set(err, ERR_VBD_IS_EMPTY, l->vbd, NULL);
	if (rc == 0 && (rc = fn(&ctx->srv->xh, l->vm_uuid, &s.disks[0], err)) < 0)
		vm_build_detach(b);
	for (size_t i = 0; i < s.ndisks; i++)
		free(s.disks[i].path);
	free(s.disks);
	vm_build_free(b);
	return rc;
}

/* Detaches the VBD's VDI once the domain has let it go. */
static void detach(struct rpc_ctx *ctx, const struct live *l)
{
	struct xerr e = XERR_INIT;
	struct vm_build *b = collect(ctx, l->vbd, &e);
	if (b)
		vm_build_detach(b);
	else
		log_warn("vbd %s: detach: %s", l->vbd, e.code ? e.code : "?");
	vm_build_free(b);
	xerr_clear(&e);
}

static int cd_empty(struct server *srv, const char *uuid, int position, struct xerr *err)
{
	struct vm_disk d = {.position = position, .is_cdrom = true};
	return srv->backend->cd_change(&srv->xh, uuid, &d, err);
}

bool vbd_live_applies(struct server *srv, struct db_obj *vm)
{
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	return srv->backend->disk_plug && (!strcmp(ps, "Running") || !strcmp(ps, "Paused"));
}

int vbd_live_begin(struct db_txn *t, struct db_obj *vbd, const char *token, enum vbd_live_op op,
		   struct xerr *err)
{
	static const char *const names[] = {"plug", "unplug", "insert", "eject"};
	return op_begin(t, vbd, names[op], token, err);
}

int vbd_live_run(struct rpc_ctx *ctx, const char *vbd_ref, const char *token, enum vbd_live_op op,
		 bool force, struct xerr *err)
{
	struct live l = {.position = -1};
	snprintf(l.vbd, sizeof l.vbd, "%s", vbd_ref);
	db_rdlock(ctx->db);
	struct db_obj *vbd = db_lookup_cls(ctx->db, SC_C_VBD, vbd_ref);
	struct db_obj *vm = vbd ? db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM)) : NULL;
	if (vm) {
		snprintf(l.vm_uuid, sizeof l.vm_uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
		snprintf(l.old_vdi, sizeof l.old_vdi, "%s", db_peek_str(vbd, SC_F_VBD__VDI));
		l.position = storage_vbd_position(db_peek_str(vbd, SC_F_VBD__userdevice));
	}
	db_unlock(ctx->db);

	struct server *srv = ctx->srv;
	int rc;
	if (!vm || l.position < 0) {
		rc = xerr_set(err, ERR_HANDLE_INVALID, "VBD", vbd_ref, NULL);
	} else if (op == VBD_LIVE_PLUG) {
		rc = attach_and(ctx, &l, srv->backend->disk_plug, err);
	} else if (op == VBD_LIVE_INSERT) {
		rc = attach_and(ctx, &l, srv->backend->cd_change, err);
	} else {
		rc = op == VBD_LIVE_EJECT ? cd_empty(srv, l.vm_uuid, l.position, err)
					  : srv->backend->disk_unplug(&srv->xh, l.vm_uuid, l.position, force, vbd_ref, err);
		if (rc == 0)
			detach(ctx, &l);
	}

	/* the records follow; the mark goes either way */
	struct db_txn *t = db_begin(ctx->db);
	vbd = db_lookup_cls(ctx->db, SC_C_VBD, vbd_ref);
	if (vbd) {
		op_end(t, vbd, token);
		if (rc == 0 && (op == VBD_LIVE_PLUG || op == VBD_LIVE_UNPLUG)) {
			bool plug = op == VBD_LIVE_PLUG;
			db_set_bool(t, vbd, SC_F_VBD__currently_attached, plug);
			char dev[16] = "";
			if (plug)
				storage_vbd_device_name(l.position, dev);
			db_set_str(t, vbd, SC_F_VBD__device, dev);
		}
		if ((rc == 0 && op == VBD_LIVE_EJECT) || (rc < 0 && op == VBD_LIVE_INSERT)) {
			db_set_str(t, vbd, SC_F_VBD__VDI, REF_NULL);
			db_set_bool(t, vbd, SC_F_VBD__empty, true);
		}
		storage_vbd_update_allowed(t, vbd);
		struct db_obj *vdi = db_lookup_cls(ctx->db, SC_C_VDI, l.old_vdi);
		if (vdi)
			storage_vdi_update_allowed(t, vdi);
	}
	return db_commit_outcome(t, rc, err);
}
