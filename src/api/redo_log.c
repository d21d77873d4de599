/* redo_log: pool.enable_redo_log / disable_redo_log. The pool's database
 * is kept, beside the master's own disk, in a VDI of type redo_log on the
 * SR given, so that it survives the master's storage: the database
 * replication's writer (dr.c) rewrites that VDI after changes, at most once
 * a second, as it does the DR metadata VDIs (header, then the SQLite image
 * of the store: a copy VDI.open_database can read). */
#include "api.h"
#include "storage.h"
#include "../base/log.h"

#include <stdio.h>
#include <string.h>

/* The image of the store, as in the DR metadata VDIs */
#define REDO_LOG_SIZE (256LL << 20)

/* A redo-log VDI already on the SR, big enough, as xapi reuses one. */
static void find_vdi(struct db *db, struct db_obj *sr, char out[REF_STRLEN + 1])
{
	xv vdis = db_get(db, sr, SC_F_SR__VDIs);
	for (size_t i = 0; i < xv_len(&vdis) && !out[0]; i++) {
		struct db_obj *v = db_lookup_cls(db, SC_C_VDI, xv_as_str(xv_arr_get(&vdis, i)));
		if (v && !strcmp(db_peek_str(v, SC_F_VDI__type), "redo_log") &&
		    db_peek_int(v, SC_F_VDI__virtual_size) >= REDO_LOG_SIZE && !db_peek_bool(v, SC_F_VDI__is_a_snapshot))
			snprintf(out, REF_STRLEN + 1, "%s", v->ref);
	}
	xv_free(&vdis);
}

static int make_vdi(struct rpc_ctx *ctx, const char *sr_ref, char out[REF_STRLEN + 1], struct xerr *err)
{
	xv rec = xv_map_new(), smc = xv_map_new(), res = XV_NIL_INIT;
	xv_map_set_str(&smc, "type", "raw");
	xv_map_set_str(&rec, "SR", sr_ref);
	xv_map_set_str(&rec, "name_label", "Metadata redo-log");
	xv_map_set_str(&rec, "name_description", "Used when HA is disabled, while extra security is still desired");
	xv_map_set(&rec, "virtual_size", xv_int(REDO_LOG_SIZE));
	xv_map_set_str(&rec, "type", "redo_log");
	xv_map_set(&rec, "sharable", xv_bool(true));
	xv_map_set(&rec, "sm_config", smc);
	int rc = vdi_create(ctx, &rec, &res, err);
	xv_free(&rec);
	if (rc == 0)
		snprintf(out, REF_STRLEN + 1, "%s", xv_as_str(&res) ? xv_as_str(&res) : "");
	xv_free(&res);
	return rc;
}

/* pool.enable_redo_log(sr): the VDI found or made, the database written
 * into it once before the call returns (else CANNOT_ENABLE_REDO_LOG, and a
 * VDI made goes again), then pool.redo_log_vdi / redo_log_enabled set. */
static int pool_enable_redo_log(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	char sr_ref[REF_STRLEN + 1] = "", vdi[REF_STRLEN + 1] = "";
	db_rdlock(ctx->db);
	struct db_obj *sr = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 0), err);
	if (sr) {
		snprintf(sr_ref, sizeof sr_ref, "%s", sr->ref);
		find_vdi(ctx->db, sr, vdi);
	}
	db_unlock(ctx->db);
	if (!sr)
		return -1;
	bool made = false;
	if (!vdi[0]) {
		struct xerr e = XERR_INIT;
		if (make_vdi(ctx, sr_ref, vdi, &e) < 0) {
			log_warn("pool.enable_redo_log: no VDI on SR %s: %s", sr_ref, e.code);
			xerr_clear(&e);
			return xerr_set(err, ERR_CANNOT_ENABLE_REDO_LOG,
					"failed to create a VDI for the redo log on the SR with the given UUID.", NULL);
		}
		made = true;
	}
	struct xerr e = XERR_INIT;
	int rc = dr_write_now(ctx->srv, vdi, &e);
	if (rc < 0) {
		log_warn("pool.enable_redo_log: cannot write the database to VDI %s: %s", vdi, e.code);
		xerr_set(err, ERR_CANNOT_ENABLE_REDO_LOG, "failed to write the database to the redo log's VDI.", NULL);
	}
	xerr_clear(&e);
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		struct db_obj *p = db_first(ctx->db, SC_C_pool), *v = db_lookup_cls(ctx->db, SC_C_VDI, vdi);
		if (!p || !v) {
			db_abort(t);
			rc = xerr_set(err, ERR_CANNOT_ENABLE_REDO_LOG, "the redo log's VDI is gone.", NULL);
		} else {
			db_set_str(t, p, SC_F_pool__redo_log_vdi, vdi);
			db_set_bool(t, p, SC_F_pool__redo_log_enabled, true);
			rc = db_commit(t, err);
		}
	}
	if (rc < 0 && made) {
		vdi_destroy(ctx, vdi, &e);
		xerr_clear(&e);
	}
	if (rc == 0)
		log_info("pool: redo log enabled on VDI %s (SR %s)", vdi, sr_ref);
	return rc;
}

/* pool.disable_redo_log: the VDI stops being written (once the call
 * returns, no write is under way); as xapi, it stays, and so does
 * pool.redo_log_vdi. */
static int pool_disable_redo_log(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	*result = XV_NIL_INIT;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = db_first(ctx->db, SC_C_pool);
	if (p && db_peek_bool(p, SC_F_pool__redo_log_enabled))
		db_set_bool(t, p, SC_F_pool__redo_log_enabled, false);
	if (db_commit(t, err) < 0)
		return -1;
	dr_quiesce();
	log_info("pool: redo log disabled");
	return 0;
}

RPC_IMPL(pool, enable_redo_log, pool_enable_redo_log, RPC_SLOW);
RPC_IMPL(pool, disable_redo_log, pool_disable_redo_log, RPC_SLOW);
