/* transfer: the API side of the HTTP transfers. The handlers in server/
 * parse a request and pump bytes; opening, marking and attaching a VDI,
 * finding the target SR, and making or removing records happen here, under
 * the caller's context, as a call's would. */
#include "transfer.h"
#include "storage.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../formats/imgmap.h"

#include <stdio.h>
#include <string.h>

static struct db_obj *lookup(struct db *db, int cls, const char *id)
{
	return strncmp(id, "OpaqueRef:", 10) ? db_lookup_uuid(db, cls, id) : db_lookup_cls(db, cls, id);
}

/* The busy mark; "copy" is the vdi_operations value nearest a transfer. */
static int mark_vdi(struct rpc_ctx *ctx, const char *id, bool writable, struct transfer_image *out,
		    struct xerr *err)
{
	/* the token is the task; this also clears marks a previous run of the
	 * daemon left, before this one's can be mistaken for them */
	char token[REF_STRLEN + 1];
	storage_token(ctx, token);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vdi = lookup(ctx->db, SC_C_VDI, id);
	int rc = 0;
	if (!vdi)
		rc = xerr_set(err, ERR_HANDLE_INVALID, "VDI", id, NULL);
	else if (writable && storage_vdi_in_use(ctx->db, vdi))
		rc = xerr_set(err, ERR_VDI_IN_USE, vdi->ref, "copy", NULL);
	else
		rc = op_begin(t, vdi, "copy", token, err);
	if (rc < 0) {
		db_abort(t);
		return -1;
	}
	if (db_commit(t, err) < 0)
		return -1;
	out->db = ctx->db;
	snprintf(out->mark, sizeof out->mark, "%s", token);
	snprintf(out->ref, sizeof out->ref, "%s", vdi->ref);
	return 0;
}

/* The SR opened for its driver and the driver's view of the VDI. */
static int view_vdi(struct rpc_ctx *ctx, const char *id, struct transfer_image *out, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *vdi = lookup(ctx->db, SC_C_VDI, id);
	struct db_obj *sro = vdi ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
	int rc = -1;
	if (!vdi)
		xerr_set(err, ERR_HANDLE_INVALID, "VDI", id, NULL);
	else if (!sro)
		xerr_set(err, ERR_HANDLE_INVALID, "SR", db_peek_str(vdi, SC_F_VDI__SR), NULL);
	else if ((rc = storage_sr_open(ctx, sro, true, &out->sr, err)) == 0) {
		snprintf(out->ref, sizeof out->ref, "%s", vdi->ref);
		storage_vdi_view(vdi, &out->v);
	}
	db_unlock(ctx->db);
	return rc;
}

/* Whether the local image at path holds nothing: one image, no data. */
static bool image_empty(const char *path)
{
	struct imgmap *m = sm_imgmap_open(path, "qcow2");
	bool empty = m && m->nfds == 1;
	for (size_t i = 0; empty && i < m->n; i++)
		empty = !m->ext[i].data;
	imgmap_free(m);
	return empty;
}

int transfer_image_open(struct rpc_ctx *ctx, const char *id, bool writable, enum transfer_fresh fresh,
			struct transfer_image *out, struct xerr *err)
{
	memset(out, 0, sizeof *out);
	sm_vdi_init(&out->v);
	if (!id || !*id)
		return xerr_set(err, ERR_INVALID_VALUE, "vdi", "", NULL);
	if (ctx->task[0] && mark_vdi(ctx, id, writable, out, err) < 0)
		return -1;
	if (view_vdi(ctx, id, out, err) < 0)
		return -1;
	if (!out->sr.drv->vdi_attach)
		return xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, out->ref, NULL);
	if (out->sr.drv->vdi_attach(&out->sr, &out->v, writable, &out->att, err) < 0)
		return -1;
	out->attached = true;
	/* a VDI made for this import (or one still empty, for an upload that
	 * comes in order), in a local file: written directly */
	bool direct = fresh != TRANSFER_EXISTING && !out->sr.thick && out->att.format &&
		      !strcmp(out->att.format, "qcow2") && out->att.path[0] == '/' &&
		      (fresh == TRANSFER_FRESH || image_empty(out->att.path));
	out->im = direct ? img_open_fresh(out->att.path, out->v.virtual_size, err)
			 : sm_img_open(out->att.path, out->att.format, writable, err);
	return out->im ? 0 : -1;
}

void transfer_image_close(struct transfer_image *ti)
{
	img_close(ti->im);
	ti->im = NULL;
	if (ti->attached && ti->sr.drv->vdi_detach)
		ti->sr.drv->vdi_detach(&ti->sr, &ti->v, NULL);
	ti->attached = false;
	sm_attach_info_free(&ti->att);
	sm_vdi_free(&ti->v);
	sm_sr_close(&ti->sr);
	if (ti->mark[0]) {
		op_clear_marks(ti->db, NULL, ti->ref, ti->mark);
		ti->mark[0] = '\0';
	}
}

int transfer_task_check(struct rpc_ctx *ctx, const char *task_ref, struct xerr *err)
{
	db_rdlock(ctx->db);
	bool ok = db_lookup_cls(ctx->db, SC_C_task, task_ref) != NULL;
	db_unlock(ctx->db);
	return ok ? 0 : xerr_set(err, ERR_HANDLE_INVALID, "task", task_ref, NULL);
}

int transfer_target_sr(struct rpc_ctx *ctx, const char *id, char out[REF_STRLEN + 1], struct xerr *err)
{
	out[0] = '\0';
	db_rdlock(ctx->db);
	struct db_obj *o = NULL;
	if (id) {
		o = lookup(ctx->db, SC_C_SR, id);
	} else {
		struct db_obj *pool = db_first(ctx->db, SC_C_pool);
		if (pool)
			o = db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(pool, SC_F_pool__default_SR));
	}
	if (o)
		snprintf(out, REF_STRLEN + 1, "%s", o->ref);
	db_unlock(ctx->db);
	if (!out[0])
		return xerr_set(err, ERR_HANDLE_INVALID, "SR", id ? id : "", NULL);
	return 0;
}

int transfer_sr_open(struct rpc_ctx *ctx, const char *sr_ref, struct sm_sr *out, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *sro = db_lookup_cls(ctx->db, SC_C_SR, sr_ref);
	int rc = sro ? storage_sr_open(ctx, sro, true, out, err) : xerr_set(err, ERR_HANDLE_INVALID, "SR", sr_ref, NULL);
	db_unlock(ctx->db);
	return rc;
}

const char *transfer_staging_dir(const struct sm_sr *sr)
{
	return sr->path && sr->path[0] == '/' ? sr->path : sm_run_dir();
}

int transfer_vdi_create(struct rpc_ctx *ctx, xv rec, char out[REF_STRLEN + 1], struct xerr *err)
{
	xv res = XV_NIL_INIT;
	int rc = vdi_create(ctx, &rec, &res, err);
	xv_free(&rec);
	if (rc < 0)
		return -1;
	snprintf(out, REF_STRLEN + 1, "%s", xv_as_str(&res));
	xv_free(&res);
	return 0;
}

int transfer_vdi_create_user(struct rpc_ctx *ctx, const char *sr_ref, const char *label, int64_t size,
			     char out[REF_STRLEN + 1], struct xerr *err)
{
	xv rec = xv_map_new();
	xv_map_set_str(&rec, "name_label", label);
	xv_map_set_str(&rec, "SR", sr_ref);
	xv_map_set(&rec, "virtual_size", xv_int(size));
	xv_map_set_str(&rec, "type", "user");
	return transfer_vdi_create(ctx, rec, out, err);
}

int transfer_vm_create(struct rpc_ctx *ctx, xv rec, char out[REF_STRLEN + 1], struct xerr *err)
{
	xv res = XV_NIL_INIT;
	int rc = vm_create(ctx, &rec, &res, err);
	xv_free(&rec);
	if (rc == 0)
		snprintf(out, REF_STRLEN + 1, "%s", xv_as_str(&res));
	xv_free(&res);
	return rc;
}

int transfer_vbd_create(struct rpc_ctx *ctx, xv rec, struct xerr *err)
{
	xv res = XV_NIL_INIT;
	int rc = vbd_create(ctx, &rec, &res, err);
	xv_free(&rec);
	xv_free(&res);
	return rc;
}

void transfer_vdi_discard(struct rpc_ctx *ctx, const char *vdi_ref)
{
	struct xerr e = XERR_INIT;
	if (vdi_destroy(ctx, vdi_ref, &e) < 0)
		log_error("import: could not remove VDI %s: %s", vdi_ref, e.code);
	xerr_clear(&e);
}

void transfer_vm_discard(struct rpc_ctx *ctx, const char *vm_ref)
{
	struct xerr e = XERR_INIT;
	if (vm_destroy(ctx, vm_ref, &e) < 0)
		log_error("import: could not remove VM %s: %s", vm_ref, e.code);
	xerr_clear(&e);
}
