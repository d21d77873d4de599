/* vm_copy: clone, copy, snapshot, checkpoint, revert, provision and
 * destroy, at the level of records. Disks are copied as VDI records here;
 * the storage layer turns each into copy-on-write data. */
#include "api.h"
#include "vm_ops.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* VM fields that describe one instance, not its configuration: a copy
 * starts them afresh. */
static bool instance_field(int f)
{
	switch (f) {
	case SC_F_VM__uuid:
	case SC_F_VM__allowed_operations:
	case SC_F_VM__current_operations:
	case SC_F_VM__resident_on:
	case SC_F_VM__scheduled_to_be_resident_on:
	case SC_F_VM__domid:
	case SC_F_VM__metrics:
	case SC_F_VM__guest_metrics:
	case SC_F_VM__is_a_snapshot:
	case SC_F_VM__snapshot_of:
	case SC_F_VM__snapshot_time:
	case SC_F_VM__is_control_domain:
	case SC_F_VM__is_default_template:
	case SC_F_VM__parent:
	case SC_F_VM__suspend_VDI:
		return true;
	default:
		return false;
	}
}

static struct db_obj *copy_fields(struct db_txn *t, int cls, struct db_obj *src,
				  bool (*skip)(int field))
{
	struct db_obj *dst = db_create(t, cls, NULL);
	const struct sc_class *c = &sc_classes[cls];
	for (int f = 0; f < c->nfields; f++) {
		if (f == c->uuid_field || sc_field_is_derived(&c->fields[f]) || (skip && skip(f)))
			continue;
		db_set(t, dst, f, xv_copy(db_peek(src, f)));
	}
	return dst;
}

static bool vdi_instance_field(int f)
{
	switch (f) {
	case SC_F_VDI__allowed_operations:
	case SC_F_VDI__current_operations:
	case SC_F_VDI__location:
	case SC_F_VDI__is_a_snapshot:
	case SC_F_VDI__snapshot_of:
	case SC_F_VDI__snapshot_time:
		return true;
	default:
		return false;
	}
}

static bool plain_instance_field(int f)
{
	(void)f;
	return false;
}

/* A new VDI record with the source's data description. */
static struct db_obj *copy_vdi(struct db_txn *t, struct db_obj *src, const char *sr, bool snapshot)
{
	struct db_obj *d = copy_fields(t, SC_C_VDI, src, vdi_instance_field);
	db_set_str(t, d, SC_F_VDI__location, db_peek_str(d, SC_F_VDI__uuid));
	if (sr)
		db_set_str(t, d, SC_F_VDI__SR, sr);
	if (snapshot) {
		db_set_bool(t, d, SC_F_VDI__is_a_snapshot, true);
		db_set_str(t, d, SC_F_VDI__snapshot_of, src->ref);
		db_set(t, d, SC_F_VDI__snapshot_time, xv_time(time(NULL)));
	}
	return d;
}

enum copy_kind { COPY_CLONE, COPY_COPY, COPY_SNAPSHOT, COPY_CHECKPOINT };

/* Copies the VM with its disks (VBDs and, except CDs, VDIs) and VIFs. */
static struct db_obj *copy_vm(struct db_txn *t, struct db_obj *vm, const char *name,
			      enum copy_kind kind, const char *sr, const xv *ignore_vdis)
{
	struct db *db = db_txn_db(t);
	struct db_obj *n = copy_fields(t, SC_C_VM, vm, instance_field);
	db_set_str(t, n, SC_F_VM__name_label, name);
	db_set_int(t, n, SC_F_VM__domid, -1);
	struct db_obj *m = db_create(t, SC_C_VM_metrics, NULL);
	db_set_str(t, n, SC_F_VM__metrics, m->ref);
	bool snap = kind == COPY_SNAPSHOT || kind == COPY_CHECKPOINT;
	if (snap) {
		db_set_bool(t, n, SC_F_VM__is_a_snapshot, true);
		db_set_bool(t, n, SC_F_VM__is_a_template, true);
		db_set_str(t, n, SC_F_VM__snapshot_of, vm->ref);
		db_set(t, n, SC_F_VM__snapshot_time, xv_time(time(NULL)));
		db_set_str(t, n, SC_F_VM__power_state, kind == COPY_CHECKPOINT &&
			   strcmp(db_peek_str(vm, SC_F_VM__power_state), "Halted") != 0 ? "Suspended" : "Halted");
		/* the snapshot tree: the new snapshot is the VM's parent from now on */
		db_set_str(t, n, SC_F_VM__parent, db_peek_str(vm, SC_F_VM__parent));
		db_set_str(t, vm, SC_F_VM__parent, n->ref);
	} else {
		db_set_str(t, n, SC_F_VM__power_state, "Halted");
		db_set_str(t, n, SC_F_VM__parent, vm->ref);
		xv *oc = db_edit(t, n, SC_F_VM__other_config);
		xv_map_del(oc, "default_template");
		xv_map_del(oc, "mac_seed");
	}
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	for (size_t i = 0; i < xv_len(&vbds); i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (!vbd)
			continue;
		struct db_obj *vdi = db_lookup_cls(db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI));
		bool cd = strcmp(db_peek_str(vbd, SC_F_VBD__type), "CD") == 0;
		xv vdi_ref = vdi ? xv_str(vdi->ref) : XV_NIL_INIT;
		if (vdi && ignore_vdis && xv_arr_contains(ignore_vdis, &vdi_ref)) {
			xv_free(&vdi_ref);
			continue;
		}
		xv_free(&vdi_ref);
		struct db_obj *nb = copy_fields(t, SC_C_VBD, vbd, plain_instance_field);
		db_set_str(t, nb, SC_F_VBD__VM, n->ref);
		db_set_bool(t, nb, SC_F_VBD__currently_attached, false);
		db_set(t, nb, SC_F_VBD__allowed_operations, xv_arr_new());
		db_set(t, nb, SC_F_VBD__current_operations, xv_map_new());
		if (vdi && !cd) {
			struct db_obj *nd = copy_vdi(t, vdi, kind == COPY_COPY && sr ? sr : NULL, snap);
			db_set_str(t, nb, SC_F_VBD__VDI, nd->ref);
		}
	}
	xv_free(&vbds);
	xv vifs = db_get(db, vm, SC_F_VM__VIFs);
	for (size_t i = 0; i < xv_len(&vifs); i++) {
		struct db_obj *vif = db_lookup_cls(db, SC_C_VIF, xv_as_str(xv_arr_get(&vifs, i)));
		if (!vif)
			continue;
		struct db_obj *nv = copy_fields(t, SC_C_VIF, vif, plain_instance_field);
		db_set_str(t, nv, SC_F_VIF__VM, n->ref);
		db_set_bool(t, nv, SC_F_VIF__currently_attached, false);
	}
	xv_free(&vifs);
	vm_update_allowed_operations(t, n);
	return n;
}

static int copy_handler(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err,
			enum copy_kind kind)
{
	static const char *const op_names[] = {"clone", "copy", "snapshot", "checkpoint"};
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm)
		goto fail;
	bool tmpl = db_peek_bool(vm, SC_F_VM__is_a_template);
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	if (db_peek_bool(vm, SC_F_VM__is_control_domain)) {
		xerr_set(err, "OPERATION_NOT_ALLOWED", "This operation is not allowed on the control domain", NULL);
		goto fail;
	}
	if ((kind == COPY_CLONE || kind == COPY_COPY) && strcmp(ps, "Halted") && strcmp(ps, "Suspended")) {
		xerr_set(err, "VM_BAD_POWER_STATE", vm->ref, "halted", ps, NULL);
		goto fail;
	}
	if ((kind == COPY_SNAPSHOT || kind == COPY_CHECKPOINT) && tmpl &&
	    !db_peek_bool(vm, SC_F_VM__is_a_snapshot)) {
		xerr_set(err, "VM_IS_TEMPLATE", vm->ref, op_names[kind], NULL);
		goto fail;
	}
	if (xv_len(db_peek(vm, SC_F_VM__current_operations))) {
		const xv *cur = db_peek(vm, SC_F_VM__current_operations);
		xerr_set(err, "OTHER_OPERATION_IN_PROGRESS", "VM", vm->ref,
			 xv_as_str(&cur->u.m->vals[0]), cur->u.m->keys[0], NULL);
		goto fail;
	}
	const char *sr = NULL;
	if (kind == COPY_COPY) {
		sr = arg_str(args, 2);
		if (!ref_is_null(sr) && !db_lookup_cls(ctx->db, SC_C_SR, sr)) {
			handle_invalid(err, SC_C_SR, sr);
			goto fail;
		}
		if (ref_is_null(sr))
			sr = NULL;
	}
	const xv *ignore = kind == COPY_SNAPSHOT ? xv_arr_get(args, 2) : NULL;
	struct db_obj *n = copy_vm(t, vm, arg_str(args, 1), kind, sr, ignore);
	*result = xv_str(n->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
fail:
	db_abort(t);
	return -1;
}

static int vm_clone(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return copy_handler(ctx, args, result, err, COPY_CLONE);
}

static int vm_copy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return copy_handler(ctx, args, result, err, COPY_COPY);
}

static int vm_snapshot(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return copy_handler(ctx, args, result, err, COPY_SNAPSHOT);
}

static int vm_checkpoint(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return copy_handler(ctx, args, result, err, COPY_CHECKPOINT);
}

/* Deletes a VM and what belongs only to it; its VDIs stay, as in xapi. */
static void delete_vm(struct db_txn *t, struct db_obj *vm)
{
	struct db *db = db_txn_db(t);
	static const int owned[] = {SC_F_VM__VBDs, SC_F_VM__VIFs, SC_F_VM__consoles};
	static const int owned_cls[] = {SC_C_VBD, SC_C_VIF, SC_C_console};
	for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++) {
		xv refs = db_get(db, vm, owned[k]);
		for (size_t i = 0; i < xv_len(&refs); i++) {
			struct db_obj *o = db_lookup_cls(db, owned_cls[k], xv_as_str(xv_arr_get(&refs, i)));
			if (o)
				db_delete(t, o);
		}
		xv_free(&refs);
	}
	struct db_obj *m = db_lookup_cls(db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
	if (m)
		db_delete(t, m);
	struct db_obj *gm = db_lookup_cls(db, SC_C_VM_guest_metrics, db_peek_str(vm, SC_F_VM__guest_metrics));
	if (gm)
		db_delete(t, gm);
	db_delete(t, vm);
}

static int vm_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm)
		goto fail;
	if (db_peek_bool(vm, SC_F_VM__is_control_domain)) {
		xerr_set(err, "OPERATION_NOT_ALLOWED", "This operation is not allowed on the control domain", NULL);
		goto fail;
	}
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	if (strcmp(ps, "Halted") && strcmp(ps, "Suspended")) {
		xerr_set(err, "VM_BAD_POWER_STATE", vm->ref, "halted", ps, NULL);
		goto fail;
	}
	delete_vm(t, vm);
	return db_commit(t, err);
fail:
	db_abort(t);
	return -1;
}

/* Reverting copies the snapshot's configuration back onto its VM. */
static int vm_revert(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *snap = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!snap)
		goto fail;
	if (!db_peek_bool(snap, SC_F_VM__is_a_snapshot)) {
		xerr_set(err, "REVERT_ONLY_ALLOWED_ON_SNAPSHOT", NULL);
		goto fail;
	}
	struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(snap, SC_F_VM__snapshot_of));
	if (!vm) {
		xerr_set(err, "VM_REVERT_FAILED", snap->ref, "the snapshot's VM no longer exists", NULL);
		goto fail;
	}
	const struct sc_class *c = &sc_classes[SC_C_VM];
	for (int f = 0; f < c->nfields; f++) {
		if (instance_field(f) || sc_field_is_derived(&c->fields[f]) || f == SC_F_VM__name_label ||
		    f == SC_F_VM__is_a_template || f == SC_F_VM__power_state)
			continue;
		db_set(t, vm, f, xv_copy(db_peek(snap, f)));
	}
	db_set_str(t, vm, SC_F_VM__parent, snap->ref);
	vm_update_allowed_operations(t, vm);
	return db_commit(t, err);
fail:
	db_abort(t);
	return -1;
}

/* Reads one attribute of a <disk .../> element of the provision XML. */
static char *xml_attr(const char *elem, const char *name)
{
	char pat[64];
	snprintf(pat, sizeof pat, " %s=\"", name);
	const char *p = strstr(elem, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	const char *q = strchr(p, '"');
	return q ? xstrndup(p, (size_t)(q - p)) : NULL;
}

static const char *default_sr(struct db *db)
{
	struct db_obj *pool = db_first(db, SC_C_pool);
	return pool ? db_peek_str(pool, SC_F_pool__default_SR) : REF_NULL;
}

static int vm_provision(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm)
		goto fail;
	const char *disks = xv_map_get_str(db_peek(vm, SC_F_VM__other_config), "disks");
	char *xml = xstrdup(disks ? disks : "");
	for (char *p = strstr(xml, "<disk"); p; p = strstr(p + 5, "<disk")) {
		char *end = strchr(p, '>');
		if (!end)
			break;
		char save = *end;
		*end = '\0';
		char *device = xml_attr(p, "device"), *size = xml_attr(p, "size");
		char *sr = xml_attr(p, "sr"), *boot = xml_attr(p, "bootable"), *type = xml_attr(p, "type");
		*end = save;
		const char *sr_ref = NULL;
		struct db_obj *sro = NULL;
		if (sr && *sr)
			sro = db_lookup_uuid(ctx->db, SC_C_SR, sr);
		if (!sro)
			sro = db_lookup_cls(ctx->db, SC_C_SR, sr && *sr ? sr : default_sr(ctx->db));
		if (sro)
			sr_ref = sro->ref;
		if (!sr_ref || !device || !size) {
			if (sr_ref)
				xerr_set(err, "INVALID_VALUE", "other_config:disks", disks, NULL);
			else
				handle_invalid(err, SC_C_SR, sr ? sr : "");
			free(device), free(size), free(sr), free(boot), free(type), free(xml);
			goto fail;
		}
		struct db_obj *vdi = db_create(t, SC_C_VDI, NULL);
		char *label = xasprintf("%s %s", db_peek_str(vm, SC_F_VM__name_label), device);
		db_set_str(t, vdi, SC_F_VDI__name_label, label);
		free(label);
		db_set_str(t, vdi, SC_F_VDI__SR, sr_ref);
		db_set_int(t, vdi, SC_F_VDI__virtual_size, strtoll(size, NULL, 10));
		db_set_str(t, vdi, SC_F_VDI__type, type && !strcmp(type, "system") ? "system" : "user");
		db_set_str(t, vdi, SC_F_VDI__location, db_peek_str(vdi, SC_F_VDI__uuid));
		struct db_obj *vbd = db_create(t, SC_C_VBD, NULL);
		db_set_str(t, vbd, SC_F_VBD__VM, vm->ref);
		db_set_str(t, vbd, SC_F_VBD__VDI, vdi->ref);
		db_set_str(t, vbd, SC_F_VBD__userdevice, device);
		db_set_bool(t, vbd, SC_F_VBD__bootable, boot && !strcmp(boot, "true"));
		db_set_str(t, vbd, SC_F_VBD__type, "Disk");
		db_set_str(t, vbd, SC_F_VBD__mode, "RW");
		free(device), free(size), free(sr), free(boot), free(type);
	}
	free(xml);
	xv_map_del(db_edit(t, vm, SC_F_VM__other_config), "disks");
	db_set_bool(t, vm, SC_F_VM__is_a_template, false);
	vm_update_allowed_operations(t, vm);
	return db_commit(t, err);
fail:
	db_abort(t);
	return -1;
}

void vm_copy_init(void)
{
	rpc_register("VM", "clone", vm_clone, 0);
	rpc_register("VM", "copy", vm_copy, 0);
	rpc_register("VM", "snapshot", vm_snapshot, 0);
	rpc_register("VM", "checkpoint", vm_checkpoint, 0);
	rpc_register("VM", "revert", vm_revert, 0);
	rpc_register("VM", "provision", vm_provision, 0);
	rpc_register("VM", "destroy", vm_destroy, 0);
}
