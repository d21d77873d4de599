/* vdi: VDI messages on top of the storage drivers. Each operation checks
 * and marks the VDI in one transaction, lets the driver work with the
 * store unlocked, then records the outcome in a second transaction; a
 * driver failure changes no record, and image files made for a commit
 * that fails are removed again. */
#include "api.h"
#include "storage.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <stdio.h>
#include <string.h>

/* Fields VDI.create takes from its record (xapi's constructor fields). */
static const int create_fields[] = {
	SC_F_VDI__name_label, SC_F_VDI__name_description, SC_F_VDI__SR, SC_F_VDI__virtual_size,
	SC_F_VDI__type, SC_F_VDI__sharable, SC_F_VDI__read_only, SC_F_VDI__other_config,
	SC_F_VDI__xenstore_data, SC_F_VDI__sm_config, SC_F_VDI__tags,
};
#define NCREATE (sizeof create_fields / sizeof create_fields[0])

static int call_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return vdi_create(ctx, xv_arr_get(args, 0), result, err);
}

int vdi_create(struct rpc_ctx *ctx, const xv *rec, xv *result, struct xerr *err)
{
	xv vals[NCREATE];
	if (generic_create_fields(SC_C_VDI, rec, create_fields, NCREATE, vals, err) < 0)
		return -1;
	const char *sr_ref = xv_as_str(&vals[2]);
	struct sm_sr sr;
	struct sm_vdi v;
	sm_vdi_init(&v);
	memset(&sr, 0, sizeof sr);
	int rc = -1;
	db_rdlock(ctx->db);
	struct db_obj *sro = generic_lookup(ctx, SC_C_SR, &vals[2], err);
	rc = sro ? storage_sr_open(ctx, sro, true, &sr, err) : -1;
	db_unlock(ctx->db);
	if (rc < 0)
		goto out;
	rc = -1;
	if (!sr.drv->vdi_create) {
		xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, sr_ref, NULL);
		goto out;
	}
	uuid_generate_str(v.uuid);
	v.virtual_size = vals[3].kind == XV_INT ? vals[3].u.i : 0;
	v.read_only = vals[6].kind == XV_BOOL && vals[6].u.b;
	xv_free(&v.sm_config);
	v.sm_config = xv_copy(&vals[9]);

	storage_ops_lock();
	if (sr.drv->vdi_create(&sr, &v, err) < 0) {
		storage_unlock();
		goto out;
	}
	struct sm_stat st;
	bool have_st = sr.drv->sr_stat(&sr, &st, NULL) == 0;
	struct db_txn *t = db_begin(ctx->db);
	sro = db_lookup_cls(ctx->db, SC_C_SR, sr_ref);
	if (!sro) {
		db_abort(t);
		handle_invalid(err, SC_C_SR, sr_ref);
		storage_undo_create(&sr, &v);
		storage_unlock();
		goto out;
	}
	struct db_obj *o = storage_vdi_new(t, sro, &v);
	for (size_t i = 0; i < NCREATE; i++) {
		int f = create_fields[i];
		if (f == SC_F_VDI__SR || f == SC_F_VDI__virtual_size || f == SC_F_VDI__sm_config)
			continue;
		db_set(t, o, f, vals[i]);
		vals[i] = XV_NIL_INIT;
	}
	storage_vdi_update_allowed(t, o);
	storage_sr_refresh(t, sro, have_st ? &st : NULL);
	char ref[REF_STRLEN + 1];
	memcpy(ref, o->ref, sizeof ref);
	rc = db_commit(t, err);
	if (rc < 0)
		storage_undo_create(&sr, &v);
	else
		*result = xv_str(ref);
	storage_unlock();
out:
	for (size_t i = 0; i < NCREATE; i++)
		xv_free(&vals[i]);
	sm_vdi_free(&v);
	sm_sr_close(&sr);
	return rc;
}

/* The checks every VDI operation shares, then the mark; fills sr and v.
 * Runs inside t. */
static struct db_obj *begin(struct rpc_ctx *ctx, struct db_txn *t, const xv *ref, const char *op,
			    const char *token, struct sm_sr *sr, struct sm_vdi *v, struct xerr *err)
{
	struct db_obj *vdi = generic_lookup(ctx, SC_C_VDI, ref, err);
	if (!vdi)
		return NULL;
	return vdi_begin_op(ctx, t, vdi, op, token, sr, v, err);
}

struct db_obj *vdi_begin_op(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *vdi, const char *op,
			    const char *token, struct sm_sr *sr, struct sm_vdi *v, struct xerr *err)
{
	/* a cbt_metadata VDI has no data left to work on */
	if (!strcmp(db_peek_str(vdi, SC_F_VDI__type), "cbt_metadata") && strcmp(op, "destroy") != 0) {
		xerr_set(err, ERR_VDI_INCOMPATIBLE_TYPE, vdi->ref, "cbt_metadata", NULL);
		return NULL;
	}
	if (!db_peek_bool(vdi, SC_F_VDI__managed)) {
		xerr_set(err, ERR_VDI_NOT_MANAGED, vdi->ref, NULL);
		return NULL;
	}
	struct db_obj *sro = db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
	if (!sro) {
		handle_invalid(err, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
		return NULL;
	}
	if (storage_sr_open(ctx, sro, true, sr, err) < 0)
		return NULL;
	/* what xapi lets run on an attached disk; copy only on a read-only one */
	bool live_ok = !strcmp(op, "snapshot") || !strcmp(op, "clone");
	bool used = !strcmp(op, "copy") ? storage_vdi_in_use_rw(ctx->db, vdi)
					: storage_vdi_in_use(ctx->db, vdi);
	if (!live_ok && used) {
		xerr_set(err, ERR_VDI_IN_USE, vdi->ref, op, NULL);
		return NULL;
	}
	if (op_begin(t, vdi, op, token, err) < 0)
		return NULL;
	storage_vdi_view(vdi, v);
	return vdi;
}

int vdi_delete_image(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *vdi, const char *token,
		     struct sm_sr *sr, struct sm_vdi *v,
		     void (*record)(struct db_txn *t, struct db_obj *vdi, const char *token),
		     struct xerr *err)
{
	char ref[REF_STRLEN + 1];
	memcpy(ref, vdi->ref, sizeof ref);
	if (db_commit(t, err) < 0)
		return -1;

	storage_ops_lock();
	xv gc = xv_arr_new();
	if (sr->drv->vdi_delete(sr, v, &gc, err) < 0) {
		storage_unlock();
		xv marked = xv_arr_new();
		xv_arr_push_str(&marked, ref);
		op_clear_marks(ctx->db, &marked, NULL, token);
		xv_free(&marked);
		xv_free(&gc);
		return -1;
	}
	struct sm_stat st;
	bool have_st = sr->drv->sr_stat(sr, &st, NULL) == 0;
	t = db_begin(ctx->db);
	vdi = db_lookup_cls(ctx->db, SC_C_VDI, ref);
	/* the SR before record runs: destroy's record deletes the VDI */
	struct db_obj *sro = vdi ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
	if (vdi)
		record(t, vdi, token);
	storage_forget_uuids(t, &gc);
	if (sro)
		storage_sr_refresh(t, sro, have_st ? &st : NULL);
	/* the image is gone whatever happens now; a failed commit leaves a
	 * record SR.scan will drop */
	int rc = db_commit(t, err);
	storage_unlock();
	xv_free(&gc);
	return rc;
}

static void forget_record(struct db_txn *t, struct db_obj *vdi, const char *token)
{
	(void)token; /* the mark goes with the record */
	storage_vdi_forget(t, vdi);
}

int vdi_destroy(struct rpc_ctx *ctx, const char *vdi_ref, struct xerr *err)
{
	char token[REF_STRLEN + 1];
	storage_token(ctx, token);
	struct sm_sr sr = {0};
	struct sm_vdi v;
	sm_vdi_init(&v);
	xv arg = xv_str(vdi_ref);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vdi = begin(ctx, t, &arg, "destroy", token, &sr, &v, err);
	xv_free(&arg);
	int rc = -1;
	if (vdi)
		rc = vdi_delete_image(ctx, t, vdi, token, &sr, &v, forget_record, err);
	else
		db_abort(t);
	if (rc == 0)
		storage_coalesce_kick(); /* a base may have one image left on it */
	sm_sr_close(&sr);
	sm_vdi_free(&v);
	return rc;
}

static int call_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return vdi_destroy(ctx, arg_str(args, 0), err);
}

/* Where a disk of a running VM is, for the live-snapshot hook. */
struct live_target {
	bool live;
	char vm_uuid[UUID_STRLEN + 1];
	char userdevice[32];
};

static void find_live(struct db *db, const struct sm_live_ops *live, struct db_obj *vdi, struct live_target *lt)
{
	memset(lt, 0, sizeof *lt);
	struct db_obj *vbd = live ? storage_vdi_running_vbd(db, vdi) : NULL;
	struct db_obj *vm = vbd ? db_lookup_cls(db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM)) : NULL;
	if (!vm)
		return;
	lt->live = true;
	snprintf(lt->vm_uuid, sizeof lt->vm_uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
	snprintf(lt->userdevice, sizeof lt->userdevice, "%s", db_peek_str(vbd, SC_F_VBD__userdevice));
}

int storage_cow(struct sm_sr *sr, struct sm_vdi *v, struct sm_vdi *base, struct sm_vdi *snap,
		bool is_snapshot, const struct sm_live_ops *live, const char *vm_uuid, const char *userdevice,
		struct xerr *err)
{
	if (!vm_uuid)
		live = NULL;
	if (live && live->freeze(vm_uuid, err) < 0)
		return -1;
	int rc = is_snapshot ? sr->drv->vdi_snapshot(sr, v, base, snap, err)
			     : sr->drv->vdi_clone(sr, v, base, snap, err);
	if (rc == 0 && live) {
		struct sm_attach_info a = {0};
		rc = sr->drv->vdi_attach(sr, v, true, &a, err);
		if (rc == 0)
			rc = live->reopen(vm_uuid, userdevice, &a, err);
		sm_attach_info_free(&a);
		if (rc < 0)
			sr->drv->vdi_clone_undo(sr, v, base, snap, NULL);
	}
	if (live)
		live->thaw(vm_uuid);
	return rc;
}

static int snapshot_or_clone(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err,
			     bool is_snapshot)
{
	const char *op = is_snapshot ? "snapshot" : "clone";
	char token[REF_STRLEN + 1], ref[REF_STRLEN + 1];
	storage_token(ctx, token);
	struct sm_sr sr = {0};
	struct sm_vdi v, base, snap;
	sm_vdi_init(&v);
	sm_vdi_init(&base);
	sm_vdi_init(&snap);
	struct live_target lt;
	xv marked = xv_arr_new();
	int rc = -1;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vdi = generic_lookup(ctx, SC_C_VDI, xv_arr_get(args, 0), err);
	if (vdi && is_snapshot && db_peek_bool(vdi, SC_F_VDI__sharable)) {
		xerr_set(err, ERR_VDI_IS_SHARABLE, vdi->ref, NULL);
		vdi = NULL;
	}
	if (vdi)
		vdi = begin(ctx, t, xv_arr_get(args, 0), op, token, &sr, &v, err);
	if (vdi && !(is_snapshot ? sr.drv->vdi_snapshot : sr.drv->vdi_clone)) {
		xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, db_peek_str(vdi, SC_F_VDI__SR), NULL);
		vdi = NULL;
	}
	if (!vdi) {
		db_abort(t);
		goto out;
	}
	memcpy(ref, vdi->ref, sizeof ref);
	xv_arr_push_str(&marked, ref);
	find_live(ctx->db, ctx->srv->backend->live, vdi, &lt);
	if (db_commit(t, err) < 0)
		goto out;

	storage_ops_lock();
	if (storage_cow(&sr, &v, &base, &snap, is_snapshot, ctx->srv->backend->live, lt.live ? lt.vm_uuid : NULL,
			lt.userdevice,
			err) < 0) {
		storage_unlock();
		op_clear_marks(ctx->db, &marked, NULL, token);
		goto out;
	}
	struct sm_stat st;
	bool have_st = sr.drv->sr_stat(&sr, &st, NULL) == 0;
	t = db_begin(ctx->db);
	vdi = db_lookup_cls(ctx->db, SC_C_VDI, ref);
	struct db_obj *sro = vdi ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
	if (!vdi || !sro) {
		/* cannot happen while marked, but never record half an answer */
		db_abort(t);
		handle_invalid(err, SC_C_VDI, ref);
		sr.drv->vdi_clone_undo(&sr, &v, &base, &snap, NULL);
		storage_unlock();
		goto out;
	}
	struct db_obj *n = storage_cow_records(t, vdi, &v, &base, &snap, is_snapshot);
	char nref[REF_STRLEN + 1];
	memcpy(nref, n->ref, sizeof nref);
	op_end(t, vdi, token);
	storage_sr_refresh(t, sro, have_st ? &st : NULL);
	rc = db_commit(t, err);
	if (rc < 0) {
		sr.drv->vdi_clone_undo(&sr, &v, &base, &snap, NULL);
		storage_unlock();
		op_clear_marks(ctx->db, &marked, NULL, token);
		goto out;
	}
	storage_unlock();
	*result = xv_str(nref);
out:
	xv_free(&marked);
	sm_vdi_free(&v);
	sm_vdi_free(&base);
	sm_vdi_free(&snap);
	sm_sr_close(&sr);
	return rc;
}

static int vdi_snapshot(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return snapshot_or_clone(ctx, args, result, err, true);
}

static int call_clone(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return snapshot_or_clone(ctx, args, result, err, false);
}

int vdi_clone(struct rpc_ctx *ctx, const char *vdi_ref, xv *result, struct xerr *err)
{
	xv args = xv_arr_new();
	xv_arr_push_str(&args, vdi_ref);
	xv_arr_push(&args, xv_map_new());
	int rc = snapshot_or_clone(ctx, &args, result, err, false);
	xv_free(&args);
	return rc;
}

int vdi_snapshot_of(struct rpc_ctx *ctx, const char *vdi_ref, xv *result, struct xerr *err)
{
	xv args = xv_arr_new();
	xv_arr_push_str(&args, vdi_ref);
	xv_arr_push(&args, xv_map_new());
	int rc = snapshot_or_clone(ctx, &args, result, err, true);
	xv_free(&args);
	return rc;
}

static int vdi_resize(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	char token[REF_STRLEN + 1], ref[REF_STRLEN + 1];
	storage_token(ctx, token);
	struct sm_sr sr = {0};
	struct sm_vdi v;
	sm_vdi_init(&v);
	xv marked = xv_arr_new();
	int64_t size = arg_int(args, 1);
	int rc = -1;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vdi = begin(ctx, t, xv_arr_get(args, 0), "resize", token, &sr, &v, err);
	if (vdi && !sr.drv->vdi_resize) {
		xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, db_peek_str(vdi, SC_F_VDI__SR), NULL);
		vdi = NULL;
	}
	if (!vdi) {
		db_abort(t);
		goto out;
	}
	memcpy(ref, vdi->ref, sizeof ref);
	xv_arr_push_str(&marked, ref);
	if (db_commit(t, err) < 0)
		goto out;

	storage_ops_lock();
	if (sr.drv->vdi_resize(&sr, &v, &size, err) < 0) {
		storage_unlock();
		op_clear_marks(ctx->db, &marked, NULL, token);
		goto out;
	}
	struct sm_stat st;
	bool have_st = sr.drv->sr_stat(&sr, &st, NULL) == 0;
	t = db_begin(ctx->db);
	vdi = db_lookup_cls(ctx->db, SC_C_VDI, ref);
	struct db_obj *sro = vdi ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
	if (vdi) {
		storage_vdi_apply(t, vdi, &v);
		op_end(t, vdi, token);
	}
	if (sro)
		storage_sr_refresh(t, sro, have_st ? &st : NULL);
	/* a grown image cannot be shrunk back; if this commit fails the
	 * record keeps the old size until VDI.update or SR.scan */
	rc = db_commit(t, err);
	storage_unlock();
	if (rc < 0)
		op_clear_marks(ctx->db, &marked, NULL, token);
out:
	xv_free(&marked);
	sm_vdi_free(&v);
	sm_sr_close(&sr);
	return rc;
}

/* VDI.copy(vdi, sr, base_vdi, into_vdi): a full, flattened copy into a new
 * VDI on sr, or into into_vdi when that is a VDI. base_vdi only lets xapi
 * send less data; a full copy gives the same result. */
static int vdi_copy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	char token[REF_STRLEN + 1], ref[REF_STRLEN + 1], dst_sr_ref[REF_STRLEN + 1] = "";
	char into_ref[REF_STRLEN + 1] = "";
	storage_token(ctx, token);
	struct sm_sr ssr = {0}, dsr = {0};
	struct sm_vdi v, d;
	sm_vdi_init(&v);
	sm_vdi_init(&d);
	xv marked = xv_arr_new();
	bool created = false;
	int rc = -1;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vdi = begin(ctx, t, xv_arr_get(args, 0), "copy", token, &ssr, &v, err);
	if (!vdi) {
		db_abort(t);
		goto out;
	}
	memcpy(ref, vdi->ref, sizeof ref);
	const char *into_arg = arg_str(args, 3);
	struct db_obj *into = ref_is_null(into_arg) ? NULL : db_lookup_cls(ctx->db, SC_C_VDI, into_arg);
	struct db_obj *dsro;
	if (!ref_is_null(into_arg) && !into) {
		handle_invalid(err, SC_C_VDI, into_arg);
		goto fail;
	}
	if (into) {
		if (db_peek_bool(into, SC_F_VDI__read_only)) {
			xerr_set(err, ERR_VDI_READONLY, into->ref, NULL);
			goto fail;
		}
		if (db_peek_int(into, SC_F_VDI__virtual_size) < v.virtual_size) {
			char n[32];
			snprintf(n, sizeof n, "%lld", (long long)v.virtual_size);
			xerr_set(err, ERR_VDI_TOO_SMALL, into->ref, n, NULL);
			goto fail;
		}
		if (storage_vdi_in_use(ctx->db, into)) {
			xerr_set(err, ERR_VDI_IN_USE, into->ref, "copy", NULL);
			goto fail;
		}
		dsro = db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(into, SC_F_VDI__SR));
	} else {
		dsro = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 1), err);
	}
	if (!dsro || storage_sr_open(ctx, dsro, true, &dsr, err) < 0)
		goto fail;
	if (!into && !dsr.drv->vdi_create) {
		xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, dsro->ref, NULL);
		goto fail;
	}
	if (into && (op_begin(t, into, "copy", token, err) < 0))
		goto fail;
	snprintf(dst_sr_ref, sizeof dst_sr_ref, "%s", dsro->ref);
	xv_arr_push_str(&marked, ref);
	if (into) {
		storage_vdi_view(into, &d);
		snprintf(into_ref, sizeof into_ref, "%s", into->ref);
		xv_arr_push_str(&marked, into_ref);
	}
	if (db_commit(t, err) < 0)
		goto out;

	storage_ops_lock();
	if (!into_ref[0]) {
		uuid_generate_str(d.uuid);
		d.virtual_size = v.virtual_size;
		if (dsr.drv->vdi_create(&dsr, &d, err) < 0)
			goto undo;
		created = true;
	}
	if (sm_vdi_copy(&ssr, &v, &dsr, &d, err) < 0)
		goto undo;
	struct sm_stat st;
	bool have_st = dsr.drv->sr_stat(&dsr, &st, NULL) == 0;
	t = db_begin(ctx->db);
	vdi = db_lookup_cls(ctx->db, SC_C_VDI, ref);
	dsro = db_lookup_cls(ctx->db, SC_C_SR, dst_sr_ref);
	if (!vdi || !dsro) {
		db_abort(t);
		handle_invalid(err, vdi ? SC_C_SR : SC_C_VDI, vdi ? dst_sr_ref : ref);
		goto undo;
	}
	struct db_obj *n = into_ref[0] ? db_lookup_cls(ctx->db, SC_C_VDI, into_ref) : NULL;
	if (!n) {
		n = storage_vdi_new(t, dsro, &d);
		/* as xapi's copy: the source's description, always writable,
		 * no SM state carried over */
		static const int copied[] = {
			SC_F_VDI__name_label, SC_F_VDI__name_description, SC_F_VDI__type,
			SC_F_VDI__sharable, SC_F_VDI__other_config, SC_F_VDI__xenstore_data,
			SC_F_VDI__tags, SC_F_VDI__allow_caching, SC_F_VDI__on_boot,
		};
		for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
			db_set(t, n, copied[i], xv_copy(db_peek(vdi, copied[i])));
	} else {
		op_end(t, n, token);
	}
	op_end(t, vdi, token);
	storage_sr_refresh(t, dsro, have_st ? &st : NULL);
	char nref[REF_STRLEN + 1];
	memcpy(nref, n->ref, sizeof nref);
	rc = db_commit(t, err);
	if (rc < 0)
		goto undo;
	storage_unlock();
	*result = xv_str(nref);
	goto out;
undo:
	if (created)
		storage_undo_create(&dsr, &d);
	storage_unlock();
	op_clear_marks(ctx->db, &marked, NULL, token);
	rc = -1;
	goto out;
fail:
	db_abort(t);
out:
	xv_free(&marked);
	sm_vdi_free(&v);
	sm_vdi_free(&d);
	sm_sr_close(&ssr);
	sm_sr_close(&dsr);
	return rc;
}

/* VDI.forget: the record goes, the image stays (SR.scan brings it back). */
static int vdi_forget(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vdi = generic_lookup(ctx, SC_C_VDI, xv_arr_get(args, 0), err);
	if (vdi && op_check_idle(vdi, err) < 0) {
		vdi = NULL;
	} else if (vdi && storage_vdi_in_use(ctx->db, vdi)) {
		xerr_set(err, ERR_VDI_IN_USE, vdi->ref, "forget", NULL);
		vdi = NULL;
	}
	if (!vdi) {
		db_abort(t);
		return -1;
	}
	struct db_obj *sro = db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
	storage_vdi_forget(t, vdi);
	if (sro)
		storage_sr_refresh(t, sro, NULL);
	return db_commit(t, err);
}

/* VDI.update: the record refreshed from the image (sizes, parent). */
static int vdi_update(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct sm_sr sr = {0};
	char ref[REF_STRLEN + 1], sr_ref[REF_STRLEN + 1], location[512];
	db_rdlock(ctx->db);
	struct db_obj *vdi = generic_lookup(ctx, SC_C_VDI, xv_arr_get(args, 0), err);
	struct db_obj *sro = vdi ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
	int rc = -1;
	if (vdi && !sro)
		handle_invalid(err, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
	if (sro && storage_sr_open(ctx, sro, true, &sr, err) == 0) {
		memcpy(ref, vdi->ref, sizeof ref);
		memcpy(sr_ref, sro->ref, sizeof sr_ref);
		snprintf(location, sizeof location, "%s", db_peek_str(vdi, SC_F_VDI__location));
		rc = 0;
	}
	db_unlock(ctx->db);
	if (rc < 0) {
		sm_sr_close(&sr);
		return -1;
	}
	struct sm_vdi_list l = {0};
	rc = sr.drv->sr_scan(&sr, &l, err);
	const struct sm_vdi *found = NULL;
	for (size_t i = 0; rc == 0 && i < l.n && !found; i++)
		if (l.v[i].location && strcmp(l.v[i].location, location) == 0)
			found = &l.v[i];
	if (rc == 0 && !found)
		rc = xerr_set(err, ERR_VDI_MISSING, sr_ref, ref, NULL);
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		vdi = db_lookup_cls(ctx->db, SC_C_VDI, ref);
		if (vdi)
			storage_vdi_apply(t, vdi, found);
		rc = db_commit(t, err);
	}
	sm_vdi_list_free(&l);
	sm_sr_close(&sr);
	return rc;
}

RPC_IMPL(VDI, create, call_create, RPC_SLOW);
RPC_IMPL(VDI, destroy, call_destroy, RPC_SLOW);
RPC_IMPL(VDI, snapshot, vdi_snapshot, RPC_SLOW);
RPC_IMPL(VDI, clone, call_clone, RPC_SLOW);
RPC_IMPL(VDI, resize, vdi_resize, RPC_SLOW);
RPC_IMPL(VDI, copy, vdi_copy, RPC_SLOW);
RPC_IMPL(VDI, forget, vdi_forget, 0);
RPC_IMPL(VDI, update, vdi_update, RPC_SLOW);
