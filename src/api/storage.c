/* storage: glue between VDI/SR/VBD records and the storage drivers (see
 * storage.h). Also registers the storage handlers: api_storage_init is the
 * one entry point xenond's rpc_init calls. */
#include "storage.h"
#include "op.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static pthread_rwlock_t scan_lock = PTHREAD_RWLOCK_INITIALIZER;

void storage_ops_lock(void)
{
	pthread_rwlock_rdlock(&scan_lock);
}

void storage_scan_lock(void)
{
	pthread_rwlock_wrlock(&scan_lock);
}

void storage_unlock(void)
{
	pthread_rwlock_unlock(&scan_lock);
}

/* Marks left by a daemon that stopped in the middle of an operation: no
 * task survives a restart, so before the first storage operation of this
 * process runs, they are cleared (as xapi cancels tasks at start). */
static struct db *boot_db;
static pthread_once_t boot_once = PTHREAD_ONCE_INIT;

static bool storage_op(const char *op)
{
	/* the VM operations vm_copy.c and vm_provision.c mark, and the
	 * exports of the HTTP handlers (xva_export.c) */
	static const char *const ops[] = {"clone", "copy", "snapshot", "checkpoint", "provision",
					  "revert", "export", "metadata_export", NULL};
	for (const char *const *o = ops; *o; o++)
		if (!strcmp(*o, op))
			return true;
	return false;
}

static void boot_cleanup(void)
{
	struct db *db = boot_db;
	struct db_txn *t = db_begin(db);
	size_t n = 0;
	for (struct db_obj *v = db_first(db, SC_C_VDI); v; v = db_next(v)) {
		n += op_busy(v);
		op_clear_all(t, v);
	}
	for (struct db_obj *v = db_first(db, SC_C_VBD); v; v = db_next(v)) {
		n += op_busy(v);
		op_clear_all(t, v);
	}
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm)) {
		/* the keys first: op_end edits the map */
		const xv *cur = db_peek(vm, SC_F_VM__current_operations);
		xv stale = xv_arr_new();
		for (size_t i = 0; cur->kind == XV_MAP && i < cur->u.m->n; i++)
			if (storage_op(xv_as_str(&cur->u.m->vals[i]) ?: ""))
				xv_arr_push_str(&stale, cur->u.m->keys[i]);
		for (size_t i = 0; i < xv_len(&stale); i++)
			op_end(t, vm, xv_as_str(xv_arr_get(&stale, i)));
		n += xv_len(&stale) > 0;
		xv_free(&stale);
	}
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0)
		log_error("storage: cannot clear stale operations: %s", e.code);
	else if (n)
		log_warn("storage: cleared the operations %zu objects were marked with before a restart", n);
	xerr_clear(&e);
}

void storage_token(const struct rpc_ctx *ctx, char out[REF_STRLEN + 1])
{
	boot_db = ctx->db;
	pthread_once(&boot_once, boot_cleanup);
	if (ctx->task[0])
		snprintf(out, REF_STRLEN + 1, "%s", ctx->task);
	else
		ref_generate(out);
}

struct db_obj *storage_pbd(struct db *db, const char *host_ref, struct db_obj *sr)
{
	xv pbds = db_get(db, sr, SC_F_SR__PBDs);
	struct db_obj *found = NULL;
	for (size_t i = 0; i < xv_len(&pbds) && !found; i++) {
		struct db_obj *p = db_lookup_cls(db, SC_C_PBD, xv_as_str(xv_arr_get(&pbds, i)));
		if (p && strcmp(db_peek_str(p, SC_F_PBD__host), host_ref) == 0)
			found = p;
	}
	xv_free(&pbds);
	return found;
}

int storage_sr_open(struct rpc_ctx *ctx, struct db_obj *sr, bool need_plugged, struct sm_sr *out,
		    struct xerr *err)
{
	memset(out, 0, sizeof *out);
	out->device_config = xv_map_new();
	struct db_obj *pbd = storage_pbd(ctx->db, ctx->srv->host_ref, sr);
	if (!pbd || (need_plugged && !db_peek_bool(pbd, SC_F_PBD__currently_attached)))
		return xerr_set(err, ERR_SR_HAS_NO_PBDS, sr->ref, NULL);
	xv_free(&out->device_config);
	if (sm_sr_open(out, db_peek_str(sr, SC_F_SR__type), db_peek_str(sr, SC_F_SR__uuid),
		       db_peek(pbd, SC_F_PBD__device_config), err) < 0)
		return -1;
	const char *alloc = xv_map_get_str(db_peek(sr, SC_F_SR__sm_config), "allocation");
	out->thick = alloc && !strcmp(alloc, "thick");
	return 0;
}

void storage_vdi_view(struct db_obj *vdi, struct sm_vdi *out)
{
	sm_vdi_free(out);
	sm_vdi_init(out);
	snprintf(out->uuid, sizeof out->uuid, "%s", db_peek_str(vdi, SC_F_VDI__uuid));
	out->location = xstrdup(db_peek_str(vdi, SC_F_VDI__location));
	out->virtual_size = db_peek_int(vdi, SC_F_VDI__virtual_size);
	out->physical_utilisation = db_peek_int(vdi, SC_F_VDI__physical_utilisation);
	out->read_only = db_peek_bool(vdi, SC_F_VDI__read_only);
	out->hidden = !db_peek_bool(vdi, SC_F_VDI__managed);
	xv_free(&out->sm_config);
	out->sm_config = xv_copy(db_peek(vdi, SC_F_VDI__sm_config));
	const char *p = xv_map_get_str(&out->sm_config, "vhd-parent");
	snprintf(out->parent, sizeof out->parent, "%s", p ? p : "");
}

void storage_vdi_apply(struct db_txn *t, struct db_obj *o, const struct sm_vdi *v)
{
	if (v->location)
		db_set_str(t, o, SC_F_VDI__location, v->location);
	db_set_int(t, o, SC_F_VDI__virtual_size, v->virtual_size);
	db_set_int(t, o, SC_F_VDI__physical_utilisation, v->physical_utilisation);
	xv sc = xv_copy(db_peek(o, SC_F_VDI__sm_config));
	const struct xv_map *m = v->sm_config.kind == XV_MAP ? v->sm_config.u.m : NULL;
	for (size_t i = 0; m && i < m->n; i++)
		xv_map_set(&sc, m->keys[i], xv_copy(&m->vals[i]));
	if (!v->parent[0])
		xv_map_del(&sc, "vhd-parent");
	db_set(t, o, SC_F_VDI__sm_config, sc);
}

struct db_obj *storage_vdi_new(struct db_txn *t, struct db_obj *sr, const struct sm_vdi *v)
{
	struct db *db = db_txn_db(t);
	struct db_obj *o = db_create(t, SC_C_VDI, NULL);
	if (uuid_is_valid(v->uuid) && !db_lookup_uuid(db, SC_C_VDI, v->uuid))
		db_set_str(t, o, SC_F_VDI__uuid, v->uuid);
	db_set_str(t, o, SC_F_VDI__SR, sr->ref);
	db_set_bool(t, o, SC_F_VDI__read_only, v->read_only);
	db_set_bool(t, o, SC_F_VDI__managed, !v->hidden);
	if (v->hidden)
		db_set_str(t, o, SC_F_VDI__name_label, "base copy");
	else if (v->name_label)
		db_set_str(t, o, SC_F_VDI__name_label, v->name_label);
	storage_vdi_apply(t, o, v);
	storage_vdi_update_allowed(t, o);
	return o;
}

struct db_obj *storage_cow_records(struct db_txn *t, struct db_obj *src, const struct sm_vdi *srcv,
				   const struct sm_vdi *base, const struct sm_vdi *snap,
				   bool is_snapshot)
{
	struct db *db = db_txn_db(t);
	struct db_obj *sr = db_lookup_cls(db, SC_C_SR, db_peek_str(src, SC_F_VDI__SR));
	struct db_obj *b = storage_vdi_new(t, sr, base);
	db_set_str(t, b, SC_F_VDI__type, db_peek_str(src, SC_F_VDI__type));
	struct db_obj *n = storage_vdi_new(t, sr, snap);
	/* the metadata xapi copies onto a snapshot or clone (snapshot_and_clone) */
	static const int copied[] = {
		SC_F_VDI__name_label, SC_F_VDI__name_description, SC_F_VDI__type,
		SC_F_VDI__sharable, SC_F_VDI__other_config, SC_F_VDI__xenstore_data,
		SC_F_VDI__on_boot, SC_F_VDI__allow_caching, SC_F_VDI__tags,
	};
	for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++)
		db_set(t, n, copied[i], xv_copy(db_peek(src, copied[i])));
	if (is_snapshot) {
		db_set_bool(t, n, SC_F_VDI__is_a_snapshot, true);
		db_set_str(t, n, SC_F_VDI__snapshot_of, src->ref);
		db_set(t, n, SC_F_VDI__snapshot_time, xv_time(time(NULL)));
		/* a snapshot keeps tracking state; a clone starts without (xapi) */
		db_set_bool(t, n, SC_F_VDI__cbt_enabled, db_peek_bool(src, SC_F_VDI__cbt_enabled));
	}
	storage_vdi_apply(t, src, srcv);
	storage_vdi_update_allowed(t, n);
	return n;
}

static bool vm_holds_disks(const struct db_obj *vm)
{
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	return !strcmp(ps, "Running") || !strcmp(ps, "Paused") || !strcmp(ps, "Suspended");
}

static bool in_use(struct db *db, struct db_obj *vdi, bool rw_only)
{
	xv vbds = db_get(db, vdi, SC_F_VDI__VBDs);
	bool used = false;
	for (size_t i = 0; i < xv_len(&vbds) && !used; i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (!vbd || (rw_only && strcmp(db_peek_str(vbd, SC_F_VBD__mode), "RW") != 0))
			continue;
		struct db_obj *vm = db_lookup_cls(db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM));
		used = db_peek_bool(vbd, SC_F_VBD__currently_attached) || (vm && vm_holds_disks(vm));
	}
	xv_free(&vbds);
	return used;
}

bool storage_vdi_in_use(struct db *db, struct db_obj *vdi)
{
	return in_use(db, vdi, false);
}

bool storage_vdi_in_use_rw(struct db *db, struct db_obj *vdi)
{
	return in_use(db, vdi, true);
}

struct db_obj *storage_vdi_running_vbd(struct db *db, struct db_obj *vdi)
{
	xv vbds = db_get(db, vdi, SC_F_VDI__VBDs);
	struct db_obj *found = NULL;
	for (size_t i = 0; i < xv_len(&vbds) && !found; i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		struct db_obj *vm = vbd ? db_lookup_cls(db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM)) : NULL;
		const char *ps = vm ? db_peek_str(vm, SC_F_VM__power_state) : "";
		if (!strcmp(ps, "Running") || !strcmp(ps, "Paused"))
			found = vbd;
	}
	xv_free(&vbds);
	return found;
}

void storage_vdi_update_allowed(struct db_txn *t, struct db_obj *vdi)
{
	struct db *db = db_txn_db(t);
	xv ops = xv_arr_new();
	struct db_obj *sr = db_lookup_cls(db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
	const struct sm_driver *drv = sr ? sm_driver_find(db_peek_str(sr, SC_F_SR__type)) : NULL;
	bool busy = op_busy(vdi);
	bool cbt_meta = !strcmp(db_peek_str(vdi, SC_F_VDI__type), "cbt_metadata");
	if (drv && !busy && db_peek_bool(vdi, SC_F_VDI__managed) && cbt_meta) {
		/* a snapshot whose data VDI.data_destroy removed */
		xv_arr_push_str(&ops, "destroy");
		xv_arr_push_str(&ops, "forget");
		xv_arr_push_str(&ops, "list_changed_blocks");
	} else if (drv && !busy && db_peek_bool(vdi, SC_F_VDI__managed)) {
		bool used = storage_vdi_in_use(db, vdi);
		bool snap = db_peek_bool(vdi, SC_F_VDI__is_a_snapshot);
		bool cbt = db_peek_bool(vdi, SC_F_VDI__cbt_enabled);
		if (drv->vdi_changed_blocks && !snap)
			xv_arr_push_str(&ops, cbt ? "disable_cbt" : "enable_cbt");
		if (drv->vdi_changed_blocks && cbt)
			xv_arr_push_str(&ops, "list_changed_blocks");
		if (snap && cbt && !used)
			xv_arr_push_str(&ops, "data_destroy");
		if (drv->vdi_clone)
			xv_arr_push_str(&ops, "clone");
		if (!storage_vdi_in_use_rw(db, vdi))
			xv_arr_push_str(&ops, "copy");
		if (!used) {
			xv_arr_push_str(&ops, "destroy");
			xv_arr_push_str(&ops, "forget");
			if (drv->vdi_resize)
				xv_arr_push_str(&ops, "resize");
		}
		if (drv->vdi_snapshot && !db_peek_bool(vdi, SC_F_VDI__sharable))
			xv_arr_push_str(&ops, "snapshot");
		xv_arr_push_str(&ops, "update");
	}
	db_set(t, vdi, SC_F_VDI__allowed_operations, ops);
}

void storage_vdi_forget(struct db_txn *t, struct db_obj *vdi)
{
	struct db *db = db_txn_db(t);
	xv vbds = db_get(db, vdi, SC_F_VDI__VBDs);
	for (size_t i = 0; i < xv_len(&vbds); i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (vbd)
			db_delete(t, vbd);
	}
	xv_free(&vbds);
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm))
		if (strcmp(db_peek_str(vm, SC_F_VM__suspend_VDI), vdi->ref) == 0)
			db_set_str(t, vm, SC_F_VM__suspend_VDI, REF_NULL);
	db_delete(t, vdi);
}

void storage_forget_uuids(struct db_txn *t, const xv *uuids)
{
	for (size_t i = 0; i < xv_len(uuids); i++) {
		struct db_obj *v = db_lookup_uuid(db_txn_db(t), SC_C_VDI, xv_as_str(xv_arr_get(uuids, i)));
		if (v)
			storage_vdi_forget(t, v);
	}
}

void storage_sr_refresh(struct db_txn *t, struct db_obj *sr, const struct sm_stat *st)
{
	struct db *db = db_txn_db(t);
	if (st && st->physical_size > 0) {
		db_set_int(t, sr, SC_F_SR__physical_size, st->physical_size);
		db_set_int(t, sr, SC_F_SR__physical_utilisation, st->physical_utilisation);
	}
	xv vdis = db_get(db, sr, SC_F_SR__VDIs);
	int64_t alloc = 0;
	for (size_t i = 0; i < xv_len(&vdis); i++) {
		struct db_obj *v = db_lookup_cls(db, SC_C_VDI, xv_as_str(xv_arr_get(&vdis, i)));
		if (v && db_peek_bool(v, SC_F_VDI__managed))
			alloc += db_peek_int(v, SC_F_VDI__virtual_size);
	}
	xv_free(&vdis);
	db_set_int(t, sr, SC_F_SR__virtual_allocation, alloc);
}

void storage_undo_create(struct sm_sr *sr, const struct sm_vdi *v)
{
	struct xerr e = XERR_INIT;
	if (sr->drv->vdi_delete(sr, v, NULL, &e) < 0)
		log_error("storage: cannot remove %s from SR %s after a failed commit: %s",
			  v->location ? v->location : "", sr->uuid, e.nparams > 1 ? e.params[1] : "");
	xerr_clear(&e);
}
