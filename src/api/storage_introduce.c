/* storage_introduce: records for storage that exists already — SR.introduce
 * (an SR record without PBDs, as xapi_sr.ml makes it; PBD.create and
 * PBD.plug then attach it and the plug's scan brings its VDIs back),
 * VDI.introduce (a record for an image the SR's driver finds at the
 * location given) — VBD.assert_attachable (xapi's checks of the `attach`
 * operation) and SR.probe_ext, which this host's drivers answer as xapi
 * answers for SMAPIv1 types (their probe is raw XML: SR.probe). */
#include "storage.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool known_type(const char *type)
{
	for (const char *const *t = sm_driver_types(); *t; t++)
		if (!strcmp(*t, type))
			return true;
	return false;
}

/* SR.introduce(uuid, name_label, name_description, type, content_type,
 * shared, sm_config): type lowercased, a fresh uuid for "". */
static int sr_introduce(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	char type[64], uuid[UUID_STRLEN + 1];
	snprintf(type, sizeof type, "%s", arg_str(args, 3));
	for (char *p = type; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
	if (!known_type(type))
		return xerr_set(err, ERR_SR_UNKNOWN_DRIVER, type, NULL);
	const char *given = arg_str(args, 0);
	if (*given && !uuid_is_valid(given))
		return xerr_set(err, ERR_INVALID_VALUE, "uuid", given, NULL);
	if (*given)
		snprintf(uuid, sizeof uuid, "%s", given);
	else
		uuid_generate_str(uuid);
	struct db_txn *t = db_begin(ctx->db);
	if (db_lookup_uuid(ctx->db, SC_C_SR, uuid)) {
		db_abort(t);
		return xerr_set(err, ERR_SR_UUID_EXISTS, uuid, NULL);
	}
	const struct sm_driver *drv = sm_driver_find(type);
	const char *content = arg_str(args, 4);
	struct db_obj *o = db_create(t, SC_C_SR, NULL);
	db_set_str(t, o, SC_F_SR__uuid, uuid);
	db_set_str(t, o, SC_F_SR__name_label, arg_str(args, 1));
	db_set_str(t, o, SC_F_SR__name_description, arg_str(args, 2));
	db_set_str(t, o, SC_F_SR__type, type);
	db_set_str(t, o, SC_F_SR__content_type, *content || !drv ? content : drv->content_type);
	db_set_bool(t, o, SC_F_SR__shared, arg_bool(args, 5));
	const xv *smc = xv_arr_get(args, 6);
	if (smc && smc->kind == XV_MAP)
		db_set(t, o, SC_F_SR__sm_config, xv_copy(smc));
	db_set_int(t, o, SC_F_SR__physical_size, -1);
	db_set_int(t, o, SC_F_SR__physical_utilisation, -1);
	*result = xv_str(o->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

/* VDI.introduce(uuid, name_label, name_description, SR, type, sharable,
 * read_only, other_config, location, xenstore_data, sm_config, managed,
 * virtual_size, physical_utilisation, metadata_of_pool, is_a_snapshot,
 * snapshot_time, snapshot_of): the image must be in the SR (the driver's
 * scan finds it) and have no record yet. */
static int vdi_introduce(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *location = arg_str(args, 8), *uuid = arg_str(args, 0);
	struct sm_sr sr = {0};
	char sr_ref[REF_STRLEN + 1] = "";
	db_rdlock(ctx->db);
	struct db_obj *sro = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 3), err);
	int rc = sro ? storage_sr_open(ctx, sro, true, &sr, err) : -1;
	if (rc == 0)
		snprintf(sr_ref, sizeof sr_ref, "%s", sro->ref);
	if (rc == 0 && *uuid && (!uuid_is_valid(uuid) || db_lookup_uuid(ctx->db, SC_C_VDI, uuid)))
		rc = xerr_set(err, !uuid_is_valid(uuid) ? ERR_INVALID_VALUE : ERR_DB_UNIQUENESS_CONSTRAINT_VIOLATION,
			      "VDI", "uuid", uuid, NULL);
	for (struct db_obj *v = rc == 0 ? db_first(ctx->db, SC_C_VDI) : NULL; v; v = db_next(v))
		if (!strcmp(db_peek_str(v, SC_F_VDI__SR), sr_ref) && !strcmp(db_peek_str(v, SC_F_VDI__location), location)) {
			rc = xerr_set(err, ERR_DB_UNIQUENESS_CONSTRAINT_VIOLATION, "VDI", "location", location, NULL);
			break;
		}
	db_unlock(ctx->db);
	if (rc < 0) {
		sm_sr_close(&sr);
		return -1;
	}
	struct sm_vdi_list l = {0};
	storage_scan_lock();
	rc = sr.drv->sr_scan(&sr, &l, err);
	size_t k = 0;
	while (rc == 0 && k < l.n && !(l.v[k].location && !strcmp(l.v[k].location, location)))
		k++;
	if (rc == 0 && k == l.n)
		rc = xerr_set(err, ERR_VDI_LOCATION_MISSING, sr_ref, location, NULL);
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		sro = db_lookup_cls(ctx->db, SC_C_SR, sr_ref);
		if (!sro) {
			db_abort(t);
			rc = handle_invalid(err, SC_C_SR, sr_ref);
			goto out;
		}
		if (*uuid)
			snprintf(l.v[k].uuid, sizeof l.v[k].uuid, "%s", uuid);
		else if (!l.v[k].uuid[0] || db_lookup_uuid(ctx->db, SC_C_VDI, l.v[k].uuid))
			uuid_generate_str(l.v[k].uuid);
		struct db_obj *o = storage_vdi_new(t, sro, &l.v[k]);
		db_set_str(t, o, SC_F_VDI__name_label, arg_str(args, 1));
		db_set_str(t, o, SC_F_VDI__name_description, arg_str(args, 2));
		if (*arg_str(args, 4))
			db_set_str(t, o, SC_F_VDI__type, arg_str(args, 4));
		db_set_bool(t, o, SC_F_VDI__sharable, arg_bool(args, 5));
		db_set_bool(t, o, SC_F_VDI__read_only, arg_bool(args, 6) || l.v[k].read_only);
		const xv *oc = xv_arr_get(args, 7);
		if (oc && oc->kind == XV_MAP)
			db_set(t, o, SC_F_VDI__other_config, xv_copy(oc));
		const xv *xs = xv_arr_get(args, 9);
		if (xs && xs->kind == XV_MAP)
			db_set(t, o, SC_F_VDI__xenstore_data, xv_copy(xs));
		db_set_bool(t, o, SC_F_VDI__is_a_snapshot, arg_bool(args, 15));
		storage_vdi_update_allowed(t, o);
		*result = xv_str(o->ref);
		rc = db_commit(t, err);
		if (rc < 0)
			xv_free(result);
	}
out:
	storage_unlock();
	sm_vdi_list_free(&l);
	sm_sr_close(&sr);
	return rc;
}

/* xapi_vbd_helpers.ml valid_operations for `attach: no operation in
 * progress on the VBD or its VDI, a managed VDI, and the sharing checks
 * (VDI_IN_USE when another VM holds it read-write, or this VBD would write
 * beside any holder of a VDI that is not sharable; VDI_READONLY when a
 * read-write VBD meets a read-only VDI). */
static int vbd_assert_attachable(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *vbd = generic_lookup(ctx, SC_C_VBD, xv_arr_get(args, 0), err);
	int rc = vbd ? op_check_idle(vbd, err) : -1;
	struct db_obj *vdi = NULL;
	if (rc == 0 && !db_peek_bool(vbd, SC_F_VBD__empty))
		vdi = db_lookup_cls(ctx->db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI));
	if (vdi && !db_peek_bool(vdi, SC_F_VDI__managed))
		rc = xerr_set(err, ERR_VDI_NOT_MANAGED, vbd->ref, NULL);
	if (vdi && rc == 0)
		rc = op_check_idle(vdi, err);
	if (vdi && rc == 0 && !db_peek_bool(vbd, SC_F_VBD__currently_attached)) {
		bool rw = !strcmp(db_peek_str(vbd, SC_F_VBD__mode), "RW");
		bool others = false, other_rw = false;
		xv vbds = db_get(ctx->db, vdi, SC_F_VDI__VBDs);
		for (size_t i = 0; i < xv_len(&vbds); i++) {
			struct db_obj *b = db_lookup_cls(ctx->db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
			if (!b || b == vbd)
				continue;
			struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(b, SC_F_VBD__VM));
			if (!vm || !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Suspended") ||
			    db_peek_bool(vm, SC_F_VM__is_control_domain))
				continue;
			if (!db_peek_bool(b, SC_F_VBD__currently_attached) && !op_busy(b))
				continue;
			others = true;
			other_rw |= !strcmp(db_peek_str(b, SC_F_VBD__mode), "RW");
		}
		xv_free(&vbds);
		if (!db_peek_bool(vdi, SC_F_VDI__sharable) && (other_rw || (rw && others)))
			rc = xerr_set(err, ERR_VDI_IN_USE, vdi->ref, "attach", NULL);
		else if (rw && db_peek_bool(vdi, SC_F_VDI__read_only))
			rc = xerr_set(err, ERR_VDI_READONLY, vdi->ref, NULL);
	}
	db_unlock(ctx->db);
	return rc;
}

static int sr_probe_ext(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	db_unlock(ctx->db);
	if (!h)
		return -1;
	const char *type = arg_str(args, 2);
	if (!known_type(type))
		return xerr_set(err, ERR_SR_UNKNOWN_DRIVER, type, NULL);
	return xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, REF_NULL, NULL); /* no SR yet */
}

RPC_IMPL(SR, introduce, sr_introduce, 0);
RPC_IMPL(SR, probe_ext, sr_probe_ext, 0);
RPC_IMPL(VDI, introduce, vdi_introduce, RPC_SLOW);
RPC_IMPL(VBD, assert_attachable, vbd_assert_attachable, 0);
