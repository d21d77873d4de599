/* sr: SR and PBD messages. SR.create makes the SR through its driver and
 * records SR + plugged PBD in one transaction; SR.scan reconciles the VDI
 * records of an SR with the images its driver finds (new files appear,
 * vanished ones are forgotten unless in use). */
#include "storage.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An SM record for the driver, as bootstrap makes for ext and iso. */
static void ensure_sm(struct db_txn *t, const struct sm_driver *drv)
{
	struct db *db = db_txn_db(t);
	for (struct db_obj *o = db_first(db, SC_C_SM); o; o = db_next(o))
		if (strcmp(db_peek_str(o, SC_F_SM__type), drv->type) == 0)
			return;
	struct db_obj *sm = db_create(t, SC_C_SM, NULL);
	db_set_str(t, sm, SC_F_SM__type, drv->type);
	db_set_str(t, sm, SC_F_SM__name_label, drv->name);
	db_set_str(t, sm, SC_F_SM__name_description, drv->description);
	db_set_str(t, sm, SC_F_SM__vendor, "Xenon");
	db_set_str(t, sm, SC_F_SM__version, "1.0");
	db_set_str(t, sm, SC_F_SM__required_api_version, "1.0");
	xv conf = xv_map_new(), caps = xv_arr_new(), feats = xv_map_new();
	for (const char *const *k = drv->configuration; k && k[0] && k[1]; k += 2)
		xv_map_set_str(&conf, k[0], k[1]);
	for (const char *const *k = drv->path_keys; !drv->configuration && k && *k; k++)
		xv_map_set_str(&conf, *k, "local directory holding the images");
	for (const char *const *f = drv->features; f && f[0]; f += 2) {
		xv_arr_push_str(&caps, f[0]);
		xv_map_set(&feats, f[0], xv_int(atoll(f[1])));
	}
	db_set(t, sm, SC_F_SM__configuration, conf);
	db_set(t, sm, SC_F_SM__capabilities, caps);
	db_set(t, sm, SC_F_SM__features, feats);
}

/* A CD drive whose image vanished is left empty rather than deleted: the
 * VM keeps its drive, as after an eject. */
static void forget_vanished(struct db_txn *t, struct db_obj *vdi)
{
	struct db *db = db_txn_db(t);
	xv vbds = db_get(db, vdi, SC_F_VDI__VBDs);
	for (size_t i = 0; i < xv_len(&vbds); i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (vbd && strcmp(db_peek_str(vbd, SC_F_VBD__type), "CD") == 0) {
			db_set_str(t, vbd, SC_F_VBD__VDI, REF_NULL);
			db_set_bool(t, vbd, SC_F_VBD__empty, true);
		}
	}
	xv_free(&vbds);
	storage_vdi_forget(t, vdi);
}

/* Makes the SR's VDI records match what the driver found. */
static void merge_scan(struct db_txn *t, struct db_obj *sro, struct sm_vdi_list *l)
{
	struct db *db = db_txn_db(t);
	bool *seen = xcalloc(l->n + 1, sizeof *seen);
	xv vdis = db_get(db, sro, SC_F_SR__VDIs);
	for (size_t i = 0; i < xv_len(&vdis); i++) {
		struct db_obj *o = db_lookup_cls(db, SC_C_VDI, xv_as_str(xv_arr_get(&vdis, i)));
		if (!o)
			continue;
		const char *loc = db_peek_str(o, SC_F_VDI__location);
		size_t k = 0;
		while (k < l->n && !(l->v[k].location && !seen[k] && !strcmp(l->v[k].location, loc)))
			k++;
		if (k < l->n) {
			seen[k] = true;
			storage_vdi_apply(t, o, &l->v[k]);
			if (db_peek_bool(o, SC_F_VDI__missing))
				db_set_bool(t, o, SC_F_VDI__missing, false);
			if (l->v[k].hidden && db_peek_bool(o, SC_F_VDI__managed)) {
				db_set_bool(t, o, SC_F_VDI__managed, false);
				storage_vdi_update_allowed(t, o);
			}
		} else if (op_busy(o)) {
			/* an operation is under way on it: its result will tell */
		} else if (!strcmp(db_peek_str(o, SC_F_VDI__type), "cbt_metadata") ||
			   !strcmp(db_peek_str(o, SC_F_VDI__type), "ha_statefile")) {
			/* VDI.data_destroy removed its image on purpose; the HA
			 * statefile is a raw file of its own (pool_ha.c) */
		} else if (storage_vdi_in_use(db, o)) {
			db_set_bool(t, o, SC_F_VDI__missing, true);
		} else {
			log_info("SR.scan: %s (%s) is gone from SR %s; forgetting it",
				 db_peek_str(o, SC_F_VDI__uuid), loc, db_peek_str(sro, SC_F_SR__uuid));
			forget_vanished(t, o);
		}
	}
	xv_free(&vdis);
	for (size_t k = 0; k < l->n; k++) {
		if (seen[k])
			continue;
		if (!l->v[k].uuid[0] || db_lookup_uuid(db, SC_C_VDI, l->v[k].uuid))
			uuid_generate_str(l->v[k].uuid);
		struct db_obj *o = storage_vdi_new(t, sro, &l->v[k]);
		log_info("SR.scan: introduced %s (%s) in SR %s", db_peek_str(o, SC_F_VDI__uuid),
			 l->v[k].location, db_peek_str(sro, SC_F_SR__uuid));
	}
	free(seen);
}

/* Whether another SR's PBD already names this directory: two SRs on one
 * directory would each scan in the other's images. */
static bool dir_taken(struct db *db, const char *path)
{
	size_t n = strlen(path);
	while (n > 1 && path[n - 1] == '/')
		n--;
	for (struct db_obj *p = db_first(db, SC_C_PBD); p; p = db_next(p)) {
		const xv *dc = db_peek(p, SC_F_PBD__device_config);
		static const char *const keys[] = {"path", "location"};
		for (size_t k = 0; k < 2; k++) {
			const char *q = xv_map_get_str(dc, keys[k]);
			size_t m = q ? strlen(q) : 0;
			while (m > 1 && q[m - 1] == '/')
				m--;
			if (q && m == n && strncmp(q, path, n) == 0)
				return true;
		}
	}
	return false;
}

static int sr_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *type = arg_str(args, 5);
	const char *content_type = arg_str(args, 6);
	char uuid[UUID_STRLEN + 1];
	uuid_generate_str(uuid);
	db_rdlock(ctx->db);
	struct db_obj *host = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	char host_ref[REF_STRLEN + 1];
	if (host)
		memcpy(host_ref, host->ref, sizeof host_ref);
	db_unlock(ctx->db);
	if (!host)
		return -1;
	struct sm_sr sr;
	if (sm_sr_open(&sr, type, uuid, xv_arr_get(args, 1), err) < 0) {
		sm_sr_close(&sr);
		return -1;
	}
	struct sm_vdi_list l = {0};
	struct sm_stat st = {0, 0};
	int rc = -1;
	storage_ops_lock();
	db_rdlock(ctx->db);
	bool taken = dir_taken(ctx->db, sr.path);
	db_unlock(ctx->db);
	if (taken) {
		sm_fail(err, SM_E_SR_EXISTS, sr.path, "");
		goto out;
	}
	if (sr.drv->sr_create(&sr, err) < 0)
		goto out;
	if (sr.drv->sr_attach(&sr, err) < 0 || sr.drv->sr_stat(&sr, &st, err) < 0 ||
	    (!strcmp(sr.drv->content_type, "iso") && sr.drv->sr_scan(&sr, &l, err) < 0)) {
		sr.drv->sr_delete(&sr, NULL);
		goto out;
	}
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *o = db_create(t, SC_C_SR, NULL);
	db_set_str(t, o, SC_F_SR__uuid, uuid);
	db_set_str(t, o, SC_F_SR__name_label, arg_str(args, 3));
	db_set_str(t, o, SC_F_SR__name_description, arg_str(args, 4));
	db_set_str(t, o, SC_F_SR__type, sr.drv->type);
	db_set_str(t, o, SC_F_SR__content_type, *content_type ? content_type : sr.drv->content_type);
	db_set_bool(t, o, SC_F_SR__shared, arg_bool(args, 7) || sr.drv->shared);
	db_set(t, o, SC_F_SR__sm_config, xv_copy(xv_arr_get(args, 8)));
	struct db_obj *pbd = db_create(t, SC_C_PBD, NULL);
	db_set_str(t, pbd, SC_F_PBD__host, host_ref);
	db_set_str(t, pbd, SC_F_PBD__SR, o->ref);
	db_set(t, pbd, SC_F_PBD__device_config, xv_copy(&sr.device_config));
	db_set_bool(t, pbd, SC_F_PBD__currently_attached, true);
	ensure_sm(t, sr.drv);
	merge_scan(t, o, &l);
	storage_sr_refresh(t, o, &st);
	char ref[REF_STRLEN + 1];
	memcpy(ref, o->ref, sizeof ref);
	rc = db_commit(t, err);
	if (rc < 0)
		sr.drv->sr_delete(&sr, NULL);
	else
		*result = xv_str(ref);
out:
	storage_unlock();
	sm_vdi_list_free(&l);
	sm_sr_close(&sr);
	return rc;
}

/* Opens the SR named by args[0] for a driver call made with the store
 * unlocked; its ref is copied out so the record can be found again. */
static int open_arg_sr(struct rpc_ctx *ctx, xv *args, struct sm_sr *sr, char ref[REF_STRLEN + 1],
		       struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *sro = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 0), err);
	int rc = sro ? storage_sr_open(ctx, sro, true, sr, err) : -1;
	if (rc == 0)
		memcpy(ref, sro->ref, REF_STRLEN + 1);
	db_unlock(ctx->db);
	return rc;
}

static int sr_scan(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct sm_sr sr = {0};
	char ref[REF_STRLEN + 1];
	int rc = open_arg_sr(ctx, args, &sr, ref, err);
	struct db_obj *sro;
	if (rc < 0) {
		sm_sr_close(&sr);
		return -1;
	}
	struct sm_vdi_list l = {0};
	struct sm_stat st;
	storage_scan_lock();
	rc = sr.drv->sr_scan(&sr, &l, err);
	if (rc == 0) {
		bool have_st = sr.drv->sr_stat(&sr, &st, NULL) == 0;
		struct db_txn *t = db_begin(ctx->db);
		sro = db_lookup_cls(ctx->db, SC_C_SR, ref);
		if (sro) {
			merge_scan(t, sro, &l);
			storage_sr_refresh(t, sro, have_st ? &st : NULL);
		}
		rc = db_commit(t, err);
	}
	storage_unlock();
	sm_vdi_list_free(&l);
	sm_sr_close(&sr);
	return rc;
}

static int sr_update(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct sm_sr sr = {0};
	char ref[REF_STRLEN + 1];
	int rc = open_arg_sr(ctx, args, &sr, ref, err);
	struct db_obj *sro;
	struct sm_stat st;
	if (rc == 0)
		rc = sr.drv->sr_stat(&sr, &st, err);
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		sro = db_lookup_cls(ctx->db, SC_C_SR, ref);
		if (sro)
			storage_sr_refresh(t, sro, &st);
		rc = db_commit(t, err);
	}
	sm_sr_close(&sr);
	return rc;
}

/* Checks shared by destroy and forget (xapi_sr_operations.ml). */
static int assert_unplugged(struct db *db, struct db_obj *sro, struct xerr *err)
{
	xv pbds = db_get(db, sro, SC_F_SR__PBDs);
	bool attached = false;
	for (size_t i = 0; i < xv_len(&pbds); i++) {
		struct db_obj *p = db_lookup_cls(db, SC_C_PBD, xv_as_str(xv_arr_get(&pbds, i)));
		attached |= p && db_peek_bool(p, SC_F_PBD__currently_attached);
	}
	xv_free(&pbds);
	const char *indestructible = xv_map_get_str(db_peek(sro, SC_F_SR__other_config), "indestructible");
	if (indestructible && !strcmp(indestructible, "true"))
		return xerr_set(err, ERR_SR_INDESTRUCTIBLE, sro->ref, NULL);
	if (attached)
		return xerr_set(err, ERR_SR_HAS_PBD, sro->ref, NULL);
	return 0;
}

/* Removes the SR's records: PBDs, VDIs (with their VBDs), the SR, and the
 * pool's pointers to it. */
static void forget_records(struct db_txn *t, struct db_obj *sro)
{
	struct db *db = db_txn_db(t);
	static const int fields[] = {SC_F_SR__PBDs, SC_F_SR__VDIs};
	for (size_t k = 0; k < 2; k++) {
		xv refs = db_get(db, sro, fields[k]);
		for (size_t i = 0; i < xv_len(&refs); i++) {
			struct db_obj *o = db_lookup(db, xv_as_str(xv_arr_get(&refs, i)));
			if (o && o->cls == SC_C_VDI)
				storage_vdi_forget(t, o);
			else if (o)
				db_delete(t, o);
		}
		xv_free(&refs);
	}
	struct db_obj *pool = db_first(db, SC_C_pool);
	static const int pool_fields[] = {SC_F_pool__default_SR, SC_F_pool__suspend_image_SR,
					  SC_F_pool__crash_dump_SR};
	for (size_t i = 0; pool && i < 3; i++)
		if (strcmp(db_peek_str(pool, pool_fields[i]), sro->ref) == 0)
			db_set_str(t, pool, pool_fields[i], REF_NULL);
	for (struct db_obj *h = db_first(db, SC_C_host); h; h = db_next(h)) {
		if (strcmp(db_peek_str(h, SC_F_host__suspend_image_sr), sro->ref) == 0)
			db_set_str(t, h, SC_F_host__suspend_image_sr, REF_NULL);
		if (strcmp(db_peek_str(h, SC_F_host__crash_dump_sr), sro->ref) == 0)
			db_set_str(t, h, SC_F_host__crash_dump_sr, REF_NULL);
	}
	db_delete(t, sro);
}

static int sr_forget(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *sro = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 0), err);
	if (!sro || assert_unplugged(ctx->db, sro, err) < 0) {
		db_abort(t);
		return -1;
	}
	forget_records(t, sro);
	return db_commit(t, err);
}

static int sr_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct sm_sr sr = {0};
	char ref[REF_STRLEN + 1];
	int rc = -1;
	db_rdlock(ctx->db);
	struct db_obj *sro = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 0), err);
	if (!sro || assert_unplugged(ctx->db, sro, err) < 0)
		goto unlock;
	xv pbds = db_get(ctx->db, sro, SC_F_SR__PBDs);
	size_t npbds = xv_len(&pbds);
	xv_free(&pbds);
	if (npbds == 0) {
		xerr_set(err, ERR_SR_HAS_NO_PBDS, sro->ref, NULL);
		goto unlock;
	}
	xv vdis = db_get(ctx->db, sro, SC_F_SR__VDIs);
	bool managed = false;
	for (size_t i = 0; i < xv_len(&vdis); i++) {
		struct db_obj *v = db_lookup_cls(ctx->db, SC_C_VDI, xv_as_str(xv_arr_get(&vdis, i)));
		managed |= v && db_peek_bool(v, SC_F_VDI__managed);
	}
	xv_free(&vdis);
	if (managed) {
		xerr_set(err, ERR_SR_NOT_EMPTY, NULL);
		goto unlock;
	}
	rc = storage_sr_open(ctx, sro, false, &sr, err);
	memcpy(ref, sro->ref, sizeof ref);
unlock:
	db_unlock(ctx->db);
	if (rc < 0) {
		sm_sr_close(&sr);
		return -1;
	}
	storage_ops_lock();
	rc = sr.drv->sr_delete(&sr, err);
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		sro = db_lookup_cls(ctx->db, SC_C_SR, ref);
		if (sro)
			forget_records(t, sro);
		rc = db_commit(t, err);
	}
	storage_unlock();
	sm_sr_close(&sr);
	return rc;
}

static int sr_probe(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	struct sm_sr sr;
	char *xml = NULL;
	int rc = sm_sr_open(&sr, arg_str(args, 2), "", xv_arr_get(args, 1), err);
	if (rc == 0)
		rc = sr.drv->sr_probe(&sr, &xml, err);
	if (rc == 0)
		*result = xv_str_own(xml);
	sm_sr_close(&sr);
	return rc;
}

static int sr_get_supported_types(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	(void)args;
	(void)err;
	*result = xv_arr_new();
	for (const char *const *t = sm_driver_types(); *t; t++)
		xv_arr_push_str(result, *t);
	return 0;
}

/* ---- PBD ---- */

static int pbd_plug_common(struct rpc_ctx *ctx, xv *args, bool plug, struct xerr *err)
{
	struct sm_sr sr = {0};
	char ref[REF_STRLEN + 1], sr_ref[REF_STRLEN + 1];
	int rc = -1;
	db_rdlock(ctx->db);
	struct db_obj *pbd = generic_lookup(ctx, SC_C_PBD, xv_arr_get(args, 0), err);
	struct db_obj *sro = pbd ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(pbd, SC_F_PBD__SR)) : NULL;
	if (pbd && !sro)
		handle_invalid(err, SC_C_SR, db_peek_str(pbd, SC_F_PBD__SR));
	if (!sro)
		goto unlock;
	if (db_peek_bool(pbd, SC_F_PBD__currently_attached) == plug) {
		rc = 1; /* already so: nothing to do, as xapi */
		goto unlock;
	}
	if (!plug) {
		xv vdis = db_get(ctx->db, sro, SC_F_SR__VDIs);
		xerr_clear(err);
		for (size_t i = 0; i < xv_len(&vdis); i++) {
			struct db_obj *v = db_lookup_cls(ctx->db, SC_C_VDI, xv_as_str(xv_arr_get(&vdis, i)));
			if (v && storage_vdi_in_use(ctx->db, v)) {
				if (!err->code)
					xerr_set(err, ERR_VDI_IN_USE, NULL);
				xerr_add(err, v->ref);
			}
		}
		xv_free(&vdis);
		if (err->code)
			goto unlock;
	}
	memcpy(ref, pbd->ref, sizeof ref);
	memcpy(sr_ref, sro->ref, sizeof sr_ref);
	rc = sm_sr_open(&sr, db_peek_str(sro, SC_F_SR__type), db_peek_str(sro, SC_F_SR__uuid),
			db_peek(pbd, SC_F_PBD__device_config), err);
unlock:
	db_unlock(ctx->db);
	if (rc != 0) {
		sm_sr_close(&sr);
		return rc > 0 ? 0 : -1;
	}
	rc = plug ? sr.drv->sr_attach(&sr, err) : sr.drv->sr_detach(&sr, err);
	struct sm_stat st;
	bool have_st = plug && rc == 0 && sr.drv->sr_stat(&sr, &st, NULL) == 0;
	/* an attach is followed by a scan, as SM's after_master_attach does:
	 * an SR introduced again finds its VDIs */
	struct sm_vdi_list l = {0};
	bool scanned = false, locked = plug && rc == 0;
	if (locked) {
		storage_scan_lock();
		scanned = sr.drv->sr_scan(&sr, &l, NULL) == 0;
	}
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		pbd = db_lookup_cls(ctx->db, SC_C_PBD, ref);
		sro = db_lookup_cls(ctx->db, SC_C_SR, sr_ref);
		if (pbd)
			db_set_bool(t, pbd, SC_F_PBD__currently_attached, plug);
		if (sro && scanned)
			merge_scan(t, sro, &l);
		if (sro)
			storage_sr_refresh(t, sro, have_st ? &st : NULL);
		rc = db_commit(t, err);
	}
	if (locked)
		storage_unlock();
	sm_vdi_list_free(&l);
	sm_sr_close(&sr);
	return rc;
}

static int pbd_plug(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return pbd_plug_common(ctx, args, true, err);
}

static int pbd_unplug(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return pbd_plug_common(ctx, args, false, err);
}

RPC_IMPL(SR, create, sr_create, RPC_SLOW);
RPC_IMPL(SR, scan, sr_scan, RPC_SLOW);
RPC_IMPL(SR, update, sr_update, 0);
RPC_IMPL(SR, destroy, sr_destroy, RPC_SLOW);
RPC_IMPL(SR, forget, sr_forget, 0);
RPC_IMPL(SR, probe, sr_probe, RPC_SLOW);
RPC_IMPL(SR, get_supported_types, sr_get_supported_types, 0);
RPC_IMPL(PBD, plug, pbd_plug, RPC_SLOW);
RPC_IMPL(PBD, unplug, pbd_unplug, RPC_SLOW);
