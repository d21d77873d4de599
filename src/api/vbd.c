/* vbd: VBD messages with xapi's checks — create (with "autodetect" device
 * numbers and empty CD drives), destroy, CD insert/eject, plug/unplug.
 * On a running VM whose backend hot-plugs, plug/unplug/insert/eject are
 * carried into the domain by vbd_live.c; otherwise they change records.
 * Also the device numbers still free on a VM (VM.get_allowed_VBD_devices). */
#include "storage.h"
#include "vbd_live.h"
#include "vm_ops.h"
#include "../base/mem.h"
#include "server.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEVICE 254 /* xapi's allowed_VBD_devices_HVM: 0..254 */

int storage_vbd_position(const char *s)
{
	if (!*s)
		return -1;
	if (isdigit((unsigned char)s[0])) {
		char *end;
		long n = strtol(s, &end, 10);
		return *end || n < 0 || n > MAX_DEVICE || (s[0] == '0' && s[1]) ? -1 : (int)n;
	}
	const char *p = !strncmp(s, "xvd", 3) ? s + 3 : !strncmp(s, "hd", 2) || !strncmp(s, "sd", 2) ? s + 2 : NULL;
	if (!p || !*p)
		return -1;
	/* xvda..xvdz, then xvdaa.. as Linux counts */
	int n = 0;
	for (; *p; p++) {
		if (*p < 'a' || *p > 'z')
			return -1;
		n = n * 26 + (*p - 'a' + 1);
		if (n > MAX_DEVICE + 1)
			return -1;
	}
	return n - 1;
}

void storage_vbd_device_name(int n, char out[16])
{
	char tmp[8];
	int i = 0;
	for (n = n + 1; n > 0 && i < 7; n = (n - 1) / 26)
		tmp[i++] = (char)('a' + (n - 1) % 26);
	int k = snprintf(out, 16, "xvd");
	while (i > 0 && k < 15)
		out[k++] = tmp[--i];
	out[k] = '\0';
}

static void lower(const char *s, char *out, size_t n)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

static bool vm_live(const struct db_obj *vm)
{
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	return !strcmp(ps, "Running") || !strcmp(ps, "Paused");
}

void storage_vbd_update_allowed(struct db_txn *t, struct db_obj *vbd)
{
	struct db_obj *vm = db_lookup_cls(db_txn_db(t), SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM));
	xv ops = xv_arr_new();
	bool cd = !strcmp(db_peek_str(vbd, SC_F_VBD__type), "CD");
	bool attached = db_peek_bool(vbd, SC_F_VBD__currently_attached);
	if (op_busy(vbd)) {
		db_set(t, vbd, SC_F_VBD__allowed_operations, ops);
		return;
	}
	if (vm && vm_live(vm)) {
		xv_arr_push_str(&ops, attached ? "unplug" : "plug");
		if (attached)
			xv_arr_push_str(&ops, "unplug_force");
	} else if (vm && strcmp(db_peek_str(vm, SC_F_VM__power_state), "Suspended") != 0) {
		xv_arr_push_str(&ops, "attach");
	}
	if (cd && vm && strcmp(db_peek_str(vm, SC_F_VM__power_state), "Suspended") != 0)
		xv_arr_push_str(&ops, db_peek_bool(vbd, SC_F_VBD__empty) ? "insert" : "eject");
	db_set(t, vbd, SC_F_VBD__allowed_operations, ops);
}

static const int create_fields[] = {
	SC_F_VBD__VM, SC_F_VBD__VDI, SC_F_VBD__device, SC_F_VBD__userdevice, SC_F_VBD__bootable,
	SC_F_VBD__mode, SC_F_VBD__type, SC_F_VBD__unpluggable, SC_F_VBD__empty,
	SC_F_VBD__other_config, SC_F_VBD__currently_attached, SC_F_VBD__qos_algorithm_type,
	SC_F_VBD__qos_algorithm_params,
};
#define NCREATE (sizeof create_fields / sizeof create_fields[0])
enum { I_VM, I_VDI, I_DEVICE, I_USERDEVICE, I_BOOTABLE, I_MODE, I_TYPE, I_UNPLUGGABLE, I_EMPTY,
       I_OTHER, I_ATTACHED };

static int vbd_check(struct db *db, xv *vals, struct db_obj *vm, struct db_obj *vdi, struct xerr *err)
{
	bool cd = !strcmp(xv_as_str(&vals[I_TYPE]), "CD");
	bool empty = vals[I_EMPTY].u.b;
	if (vdi) {
		static const char *const ok[] = {"system", "user", "ephemeral", "suspend", "crashdump",
						 "metadata", "rrd", "pvs_cache", NULL};
		const char *type = db_peek_str(vdi, SC_F_VDI__type);
		bool fine = false;
		for (const char *const *k = ok; *k && !fine; k++)
			fine = !strcmp(*k, type);
		if (!fine)
			return xerr_set(err, ERR_VDI_INCOMPATIBLE_TYPE, vdi->ref, type, NULL);
	}
	if (cd && strcmp(xv_as_str(&vals[I_MODE]), "RO") != 0)
		return xerr_set(err, ERR_VBD_CDS_MUST_BE_READONLY, NULL);
	if (!cd && empty)
		return xerr_set(err, ERR_VBD_NOT_REMOVABLE_MEDIA, "in constructor", NULL);
	if (vdi && !strcmp(xv_as_str(&vals[I_MODE]), "RW") && db_peek_bool(vdi, SC_F_VDI__read_only))
		return xerr_set(err, ERR_VDI_READONLY, vdi->ref, NULL);
	const xv *cur = db_peek(vm, SC_F_VM__current_operations);
	for (size_t i = 0; i < xv_len(cur); i++) {
		const char *op = xv_as_str(&cur->u.m->vals[i]);
		if (!strcmp(op, "migrate_send") || !strcmp(op, "pool_migrate"))
			return xerr_set(err, ERR_OTHER_OPERATION_IN_PROGRESS, "VM", vm->ref, op,
					cur->u.m->keys[i], NULL);
	}
	(void)db;
	return 0;
}

/* The device numbers vm's VBDs hold: each VBD's userdevice and, once it
 * has one, its device ("xvdb"), as xapi's all_used_VBD_devices. */
static void used_devices(struct db *db, struct db_obj *vm, bool used[MAX_DEVICE + 1])
{
	memset(used, 0, (MAX_DEVICE + 1) * sizeof *used);
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	for (size_t i = 0; i < xv_len(&vbds); i++) {
		struct db_obj *b = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (!b)
			continue;
		int n = storage_vbd_position(db_peek_str(b, SC_F_VBD__userdevice));
		int d = storage_vbd_position(db_peek_str(b, SC_F_VBD__device));
		if (n >= 0)
			used[n] = true;
		if (d >= 0)
			used[d] = true;
	}
	xv_free(&vbds);
}

/* The first device number no VBD of vm uses, or the number asked for. */
static int pick_device(struct db *db, struct db_obj *vm, const char *userdevice, struct xerr *err)
{
	bool used[MAX_DEVICE + 1];
	used_devices(db, vm, used);
	if (!strcmp(userdevice, "autodetect")) {
		for (int n = 0; n <= MAX_DEVICE; n++)
			if (!used[n])
				return n;
		return xerr_set(err, ERR_INVALID_DEVICE, userdevice, NULL);
	}
	int n = storage_vbd_position(userdevice);
	if (n < 0)
		return xerr_set(err, ERR_INVALID_DEVICE, userdevice, NULL);
	if (used[n])
		return xerr_set(err, ERR_DEVICE_ALREADY_EXISTS, userdevice, NULL);
	return n;
}

int vbd_create(struct rpc_ctx *ctx, const xv *rec, xv *result, struct xerr *err)
{
	xv vals[NCREATE];
	int rc = -1;
	if (generic_create_fields(SC_C_VBD, rec, create_fields, NCREATE, vals, err) < 0)
		return -1;
	size_t nv = NCREATE;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, &vals[I_VM], err);
	bool empty = vals[I_EMPTY].kind == XV_BOOL && vals[I_EMPTY].u.b;
	struct db_obj *vdi = NULL;
	if (vm && !empty)
		vdi = generic_lookup(ctx, SC_C_VDI, &vals[I_VDI], err);
	if (!vm || (!empty && !vdi) || vbd_check(ctx->db, vals, vm, vdi, err) < 0) {
		db_abort(t);
		goto out;
	}
	int n = pick_device(ctx->db, vm, xv_as_str(&vals[I_USERDEVICE]), err);
	if (n < 0) {
		db_abort(t);
		goto out;
	}
	bool suspended = !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Suspended");
	struct db_obj *o = db_create(t, SC_C_VBD, NULL);
	for (size_t i = 0; i < NCREATE; i++) {
		int f = create_fields[i];
		if (f == SC_F_VBD__userdevice || f == SC_F_VBD__VDI)
			continue;
		/* a device and an attachment exist only for a suspended VM's disks */
		if ((f == SC_F_VBD__device || f == SC_F_VBD__currently_attached) && !suspended)
			continue;
		db_set(t, o, f, vals[i]);
		vals[i] = XV_NIL_INIT;
	}
	char num[16];
	snprintf(num, sizeof num, "%d", n);
	db_set_str(t, o, SC_F_VBD__userdevice,
		   strcmp(xv_as_str(&vals[I_USERDEVICE]), "autodetect") == 0 ? num : xv_as_str(&vals[I_USERDEVICE]));
	db_set_str(t, o, SC_F_VBD__VDI, vdi ? vdi->ref : REF_NULL);
	storage_vbd_update_allowed(t, o);
	if (vdi)
		storage_vdi_update_allowed(t, vdi);
	char ref[REF_STRLEN + 1];
	memcpy(ref, o->ref, sizeof ref);
	rc = db_commit(t, err);
	if (rc == 0)
		*result = xv_str(ref);
out:
	for (size_t i = 0; i < nv; i++)
		xv_free(&vals[i]);
	return rc;
}

static int call_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return vbd_create(ctx, xv_arr_get(args, 0), result, err);
}

static int vbd_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vbd = generic_lookup(ctx, SC_C_VBD, xv_arr_get(args, 0), err);
	if (vbd && db_peek_bool(vbd, SC_F_VBD__currently_attached)) {
		struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM));
		char *msg = xasprintf("VBD '%s' still attached to '%s'", db_peek_str(vbd, SC_F_VBD__uuid),
				      vm ? db_peek_str(vm, SC_F_VM__uuid) : "");
		xerr_set(err, ERR_OPERATION_NOT_ALLOWED, msg, NULL);
		free(msg);
		vbd = NULL;
	}
	if (!vbd) {
		db_abort(t);
		return -1;
	}
	struct db_obj *vdi = db_lookup_cls(ctx->db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI));
	db_delete(t, vbd);
	if (vdi)
		storage_vdi_update_allowed(t, vdi);
	return db_commit(t, err);
}

/* The VBD and its VM, with xapi's assert_not_suspended and
 * assert_removable. */
static struct db_obj *removable(struct rpc_ctx *ctx, const xv *ref, struct db_obj **vmp,
				struct xerr *err)
{
	struct db_obj *vbd = generic_lookup(ctx, SC_C_VBD, ref, err);
	if (!vbd)
		return NULL;
	struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM));
	if (!vm) {
		handle_invalid(err, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM));
		return NULL;
	}
	*vmp = vm;
	if (strcmp(db_peek_str(vbd, SC_F_VBD__type), "CD") != 0) {
		xerr_set(err, ERR_VBD_NOT_REMOVABLE_MEDIA, vbd->ref, NULL);
		return NULL;
	}
	return vbd;
}

static int not_suspended(struct db_obj *vm, struct xerr *err)
{
	if (!strcmp(db_peek_str(vm, SC_F_VM__power_state), "Suspended"))
		return xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "halted, running", "suspended", NULL);
	return 0;
}

static int vbd_insert(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	char token[REF_STRLEN + 1];
	storage_token(ctx, token); /* before the transaction: the first clears old marks in its own */
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = NULL;
	struct db_obj *vbd = generic_lookup(ctx, SC_C_VBD, xv_arr_get(args, 0), err);
	if (vbd) {
		vm = db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM));
		/* xapi checks the power state before the media */
		if (vm && not_suspended(vm, err) < 0)
			vbd = NULL;
	}
	if (vbd)
		vbd = removable(ctx, xv_arr_get(args, 0), &vm, err);
	if (vbd && !db_peek_bool(vbd, SC_F_VBD__empty)) {
		xerr_set(err, ERR_VBD_NOT_EMPTY, vbd->ref, NULL);
		vbd = NULL;
	}
	struct db_obj *vdi = vbd ? generic_lookup(ctx, SC_C_VDI, xv_arr_get(args, 1), err) : NULL;
	if (vdi && !db_peek_bool(vdi, SC_F_VDI__managed)) {
		xerr_set(err, ERR_VDI_NOT_MANAGED, vdi->ref, NULL);
		vdi = NULL;
	}
	if (!vdi) {
		db_abort(t);
		return -1;
	}
	bool live = vbd_live_applies(ctx->srv, vm);
	if (live) {
		if (vbd_live_begin(t, vbd, token, VBD_LIVE_INSERT, err) < 0) {
			db_abort(t);
			return -1;
		}
	}
	db_set_str(t, vbd, SC_F_VBD__VDI, vdi->ref);
	db_set_bool(t, vbd, SC_F_VBD__empty, false);
	storage_vbd_update_allowed(t, vbd);
	storage_vdi_update_allowed(t, vdi);
	char ref[REF_STRLEN + 1];
	snprintf(ref, sizeof ref, "%s", vbd->ref);
	if (db_commit(t, err) < 0)
		return -1;
	return live ? vbd_live_run(ctx, ref, token, VBD_LIVE_INSERT, false, err) : 0;
}

static int vbd_eject(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	char token[REF_STRLEN + 1];
	storage_token(ctx, token); /* before the transaction: the first clears old marks in its own */
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = NULL;
	struct db_obj *vbd = removable(ctx, xv_arr_get(args, 0), &vm, err);
	if (vbd && db_peek_bool(vbd, SC_F_VBD__empty)) {
		xerr_set(err, ERR_VBD_IS_EMPTY, vbd->ref, NULL);
		vbd = NULL;
	}
	if (vbd && not_suspended(vm, err) < 0)
		vbd = NULL;
	if (!vbd) {
		db_abort(t);
		return -1;
	}
	if (vbd_live_applies(ctx->srv, vm)) {
		char ref[REF_STRLEN + 1];
		snprintf(ref, sizeof ref, "%s", vbd->ref);
		if (vbd_live_begin(t, vbd, token, VBD_LIVE_EJECT, err) < 0) {
			db_abort(t);
			return -1;
		}
		if (db_commit(t, err) < 0)
			return -1;
		return vbd_live_run(ctx, ref, token, VBD_LIVE_EJECT, false, err);
	}
	struct db_obj *vdi = db_lookup_cls(ctx->db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI));
	db_set_str(t, vbd, SC_F_VBD__VDI, REF_NULL);
	db_set_bool(t, vbd, SC_F_VBD__empty, true);
	storage_vbd_update_allowed(t, vbd);
	if (vdi)
		storage_vdi_update_allowed(t, vdi);
	return db_commit(t, err);
}

/* Hot-plug into a running domain: a virtio disk, as the guest brings its
 * drivers; the emulated IDE devices of a firmware-booted VM (its first four
 * disks, its CD drives) cannot be added or removed while it runs. */
static int plug_live(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *vbd, struct db_obj *vm, bool plug,
		     bool force, const char *token, struct xerr *err)
{
	bool firmware = *db_peek_str(vm, SC_F_VM__HVM_boot_policy) != '\0';
	int pos = storage_vbd_position(db_peek_str(vbd, SC_F_VBD__userdevice));
	bool cd = !strcmp(db_peek_str(vbd, SC_F_VBD__type), "CD");
	int rc = 0;
	if (cd)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "CD drives cannot be hot-plugged", NULL);
	else if (firmware && pos >= 0 && pos < 4)
		rc = xerr_set(err, ERR_VM_MISSING_PV_DRIVERS, vm->ref, NULL);
	else if (plug && (db_peek_bool(vbd, SC_F_VBD__empty) ||
			  !db_lookup_cls(ctx->db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI))))
		rc = xerr_set(err, ERR_VBD_IS_EMPTY, vbd->ref, NULL);
	char ref[REF_STRLEN + 1];
	snprintf(ref, sizeof ref, "%s", vbd->ref);
	if (rc < 0 || vbd_live_begin(t, vbd, token, plug ? VBD_LIVE_PLUG : VBD_LIVE_UNPLUG, err) < 0) {
		db_abort(t);
		return -1;
	}
	if (db_commit(t, err) < 0)
		return -1;
	return vbd_live_run(ctx, ref, token, plug ? VBD_LIVE_PLUG : VBD_LIVE_UNPLUG, force, err);
}

static int plug_common(struct rpc_ctx *ctx, xv *args, bool plug, bool force, struct xerr *err)
{
	char token[REF_STRLEN + 1];
	storage_token(ctx, token); /* before the transaction: the first clears old marks in its own */
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vbd = generic_lookup(ctx, SC_C_VBD, xv_arr_get(args, 0), err);
	struct db_obj *vm = vbd ? db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM)) : NULL;
	if (vbd && !vm)
		handle_invalid(err, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM));
	if (vm && !vm_live(vm)) {
		char ps[32];
		lower(db_peek_str(vm, SC_F_VM__power_state), ps, sizeof ps);
		xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "running", ps, NULL);
		vm = NULL;
	}
	if (vm && db_peek_bool(vbd, SC_F_VBD__currently_attached) == plug) {
		if (plug)
			xerr_set(err, ERR_DEVICE_ALREADY_ATTACHED, vbd->ref, NULL);
		else
			xerr_set(err, ERR_DEVICE_ALREADY_DETACHED, vbd->ref, NULL);
		vm = NULL;
	}
	if (vm && !plug && !force && !db_peek_bool(vbd, SC_F_VBD__unpluggable)) {
		xerr_set(err, ERR_VBD_NOT_UNPLUGGABLE, vbd->ref, NULL);
		vm = NULL;
	}
	if (!vm) {
		db_abort(t);
		return -1;
	}
	if (vbd_live_applies(ctx->srv, vm))
		return plug_live(ctx, t, vbd, vm, plug, force, token, err);
	db_set_bool(t, vbd, SC_F_VBD__currently_attached, plug);
	if (plug) {
		char dev[16];
		int n = storage_vbd_position(db_peek_str(vbd, SC_F_VBD__userdevice));
		storage_vbd_device_name(n < 0 ? 0 : n, dev);
		db_set_str(t, vbd, SC_F_VBD__device, dev);
	}
	storage_vbd_update_allowed(t, vbd);
	struct db_obj *vdi = db_lookup_cls(ctx->db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI));
	if (vdi)
		storage_vdi_update_allowed(t, vdi);
	return db_commit(t, err);
}

static int vbd_plug(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return plug_common(ctx, args, true, false, err);
}

static int vbd_unplug(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return plug_common(ctx, args, false, false, err);
}

static int vbd_unplug_force(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return plug_common(ctx, args, false, true, err);
}

/* VM.get_allowed_VBD_devices: the numbers VBD.create would accept for a
 * disk, in order. Current xapi allows 0..254 to every guest, HVM or PV
 * (it stopped narrowing HVM guests without PV drivers to 0..3), and
 * 0..255 to the control domain; Xenon's VBD.create takes 0..254 on any
 * VM, dom0 included, so that is the range offered here. */
static int vm_get_allowed_vbd_devices(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	bool used[MAX_DEVICE + 1];
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (vm)
		used_devices(ctx->db, vm, used);
	db_unlock(ctx->db);
	if (!vm)
		return -1;
	*result = vm_free_devices(used, MAX_DEVICE);
	return 0;
}

RPC_IMPL(VM, get_allowed_VBD_devices, vm_get_allowed_vbd_devices, 0);
RPC_IMPL(VBD, create, call_create, 0);
RPC_IMPL(VBD, destroy, vbd_destroy, 0);
RPC_IMPL(VBD, insert, vbd_insert, 0);
RPC_IMPL(VBD, eject, vbd_eject, 0);
RPC_IMPL(VBD, plug, vbd_plug, 0);
RPC_IMPL(VBD, unplug, vbd_unplug, 0);
RPC_IMPL(VBD, unplug_force, vbd_unplug_force, 0);
