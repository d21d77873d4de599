/* vdi_cbt: changed-block tracking messages — VDI.enable_cbt/disable_cbt,
 * list_changed_blocks between two snapshots, and data_destroy, which turns
 * a snapshot into a cbt_metadata VDI: its data goes, its record stays so
 * it can still be compared with later snapshots. */
#include "storage.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool is_cbt_meta(struct db_obj *vdi)
{
	return !strcmp(db_peek_str(vdi, SC_F_VDI__type), "cbt_metadata");
}

static const struct sm_driver *driver_of(struct db *db, struct db_obj *vdi)
{
	struct db_obj *sr = db_lookup_cls(db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
	return sr ? sm_driver_find(db_peek_str(sr, SC_F_SR__type)) : NULL;
}

/* xapi_vdi.ml's checks for enable_cbt/disable_cbt. */
static int set_cbt(struct rpc_ctx *ctx, xv *args, bool on, struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vdi = generic_lookup(ctx, SC_C_VDI, xv_arr_get(args, 0), err);
	const struct sm_driver *drv = vdi ? driver_of(ctx->db, vdi) : NULL;
	const char *type = vdi ? db_peek_str(vdi, SC_F_VDI__type) : "";
	if (!vdi) {
	} else if (db_peek_bool(vdi, SC_F_VDI__is_a_snapshot)) {
		char *why = xasprintf("VDI is a snapshot: %s", vdi->ref);
		xerr_set(err, ERR_OPERATION_NOT_ALLOWED, why, NULL);
		free(why);
		vdi = NULL;
	} else if (!drv || !drv->vdi_changed_blocks) {
		xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, db_peek_str(vdi, SC_F_VDI__SR), NULL);
		vdi = NULL;
	} else if (!strcmp(type, "ha_statefile") || !strcmp(type, "redo_log") ||
		   !strcmp(type, "cbt_metadata") || !db_peek_bool(vdi, SC_F_VDI__managed)) {
		xerr_set(err, ERR_VDI_INCOMPATIBLE_TYPE, vdi->ref, type, NULL);
		vdi = NULL;
	} else if (!strcmp(db_peek_str(vdi, SC_F_VDI__on_boot), "reset")) {
		xerr_set(err, ERR_VDI_ON_BOOT_MODE_INCOMPATIBLE_WITH_OPERATION, NULL);
		vdi = NULL;
	} else if (op_check_idle(vdi, err) < 0) {
		vdi = NULL;
	}
	if (!vdi) {
		db_abort(t);
		return -1;
	}
	/* the qcow2 chain records every write, live or not: switching tracking
	 * on or off only changes what list_changed_blocks may answer */
	db_set_bool(t, vdi, SC_F_VDI__cbt_enabled, on);
	storage_vdi_update_allowed(t, vdi);
	return db_commit(t, err);
}

static int vdi_enable_cbt(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return set_cbt(ctx, args, true, err);
}

static int vdi_disable_cbt(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return set_cbt(ctx, args, false, err);
}

static int vdi_list_changed_blocks(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct sm_sr sr = {0};
	struct sm_vdi from, to;
	sm_vdi_init(&from);
	sm_vdi_init(&to);
	int rc = -1;
	db_rdlock(ctx->db);
	struct db_obj *f = generic_lookup(ctx, SC_C_VDI, xv_arr_get(args, 0), err);
	struct db_obj *o = f ? generic_lookup(ctx, SC_C_VDI, xv_arr_get(args, 1), err) : NULL;
	struct db_obj *sro = o ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(f, SC_F_VDI__SR)) : NULL;
	if (!o) {
	} else if (!db_peek_bool(f, SC_F_VDI__cbt_enabled)) {
		xerr_set(err, ERR_VDI_NO_CBT_METADATA, f->ref, NULL);
	} else if (!db_peek_bool(o, SC_F_VDI__cbt_enabled)) {
		xerr_set(err, ERR_VDI_NO_CBT_METADATA, o->ref, NULL);
	} else if (is_cbt_meta(o)) {
		/* the newer side must still have its data to compare against */
		xerr_set(err, ERR_VDI_INCOMPATIBLE_TYPE, o->ref, "cbt_metadata", NULL);
	} else if (!sro) {
		handle_invalid(err, SC_C_SR, db_peek_str(f, SC_F_VDI__SR));
	} else if (strcmp(db_peek_str(f, SC_F_VDI__SR), db_peek_str(o, SC_F_VDI__SR)) != 0) {
		xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, sro->ref, NULL);
	} else if (storage_sr_open(ctx, sro, true, &sr, err) == 0) {
		if (sr.drv->vdi_changed_blocks) {
			storage_vdi_view(f, &from);
			storage_vdi_view(o, &to);
			rc = 0;
		} else {
			xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, sro->ref, NULL);
		}
	}
	db_unlock(ctx->db);
	if (rc == 0) {
		char *b64 = NULL;
		storage_ops_lock();
		rc = sr.drv->vdi_changed_blocks(&sr, &from, &to, &b64, err);
		storage_unlock();
		if (rc == 0)
			*result = xv_str_own(b64);
	}
	sm_vdi_free(&from);
	sm_vdi_free(&to);
	sm_sr_close(&sr);
	return rc;
}

/* data_destroy's record once the image is gone: metadata only. */
static void to_cbt_metadata(struct db_txn *t, struct db_obj *vdi, const char *token)
{
	db_set_str(t, vdi, SC_F_VDI__type, "cbt_metadata");
	db_set_int(t, vdi, SC_F_VDI__physical_utilisation, 0);
	op_end(t, vdi, token);
}

/* VDI.data_destroy: the snapshot's image goes (and bases nothing else
 * needs); the record stays as type cbt_metadata, keeping in sm_config
 * (vhd-parent) the base it was on for later comparisons. */
static int vdi_data_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	char token[REF_STRLEN + 1];
	storage_token(ctx, token);
	struct sm_sr sr = {0};
	struct sm_vdi v;
	sm_vdi_init(&v);
	int rc = -1;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vdi = generic_lookup(ctx, SC_C_VDI, xv_arr_get(args, 0), err);
	if (vdi && !db_peek_bool(vdi, SC_F_VDI__is_a_snapshot)) {
		char *why = xasprintf("VDI is not a snapshot: %s", vdi->ref);
		xerr_set(err, ERR_OPERATION_NOT_ALLOWED, why, NULL);
		free(why);
		vdi = NULL;
	} else if (vdi && !db_peek_bool(vdi, SC_F_VDI__cbt_enabled)) {
		xerr_set(err, ERR_VDI_NO_CBT_METADATA, vdi->ref, NULL);
		vdi = NULL;
	}
	if (vdi && is_cbt_meta(vdi)) {
		/* already metadata only: nothing left to destroy (as xapi) */
		db_abort(t);
		return 0;
	}
	if (vdi)
		vdi = vdi_begin_op(ctx, t, vdi, "data_destroy", token, &sr, &v, err);
	if (vdi)
		rc = vdi_delete_image(ctx, t, vdi, token, &sr, &v, to_cbt_metadata, err);
	else
		db_abort(t);
	sm_vdi_free(&v);
	sm_sr_close(&sr);
	return rc;
}

RPC_IMPL(VDI, enable_cbt, vdi_enable_cbt, 0);
RPC_IMPL(VDI, disable_cbt, vdi_disable_cbt, 0);
RPC_IMPL(VDI, list_changed_blocks, vdi_list_changed_blocks, RPC_SLOW);
RPC_IMPL(VDI, data_destroy, vdi_data_destroy, RPC_SLOW);
