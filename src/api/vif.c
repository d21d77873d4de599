/* vif: VIF messages with xapi's checks — create (MACs derived from the VM's
 * mac_seed as xapi's gen_mac derives them, device numbers unique per VM),
 * destroy, plug/unplug/unplug_force into a running domain through the
 * backend — and the VIF state that follows a domain's life (the NICs a new
 * domain gets, currently_attached, allowed_operations). */
#include "api.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/uuid.h"

#include <ctype.h>
#include <gnutls/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- MACs ---- */

/* xapi's Helpers.is_valid_MAC: six pairs of hex digits separated by ':'. */
static bool mac_valid(const char *m)
{
	if (strlen(m) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? m[i] != ':' : !isxdigit((unsigned char)m[i]))
			return false;
	return true;
}

/* xapi's gen_mac (device, seed): MD5 applied 2*device+1 times to the seed;
 * four bytes of that and two of its own MD5, made locally administered
 * and unicast. The same seed and device give the same MAC as on XenServer,
 * so a VM moved between them keeps its addresses. */
static void gen_mac(int device, const char *seed, char out[18])
{
	unsigned char h[16], h2[16];
	gnutls_hash_fast(GNUTLS_DIG_MD5, seed, strlen(seed), h);
	for (int i = 0; i < device * 2; i++) {
		unsigned char in[16];
		memcpy(in, h, sizeof in);
		gnutls_hash_fast(GNUTLS_DIG_MD5, in, sizeof in, h);
	}
	gnutls_hash_fast(GNUTLS_DIG_MD5, h, sizeof h, h2);
	unsigned b0 = (h[0] | 0x2u) & ~0x1u;
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b0, h[1], h[2], h[3], h2[1], h2[2]);
}

/* xapi's valid_device: an unsigned decimal integer ("%u"). */
static int device_number(const char *s)
{
	if (!*s || strlen(s) > 9)
		return -1;
	for (const char *p = s; *p; p++)
		if (!isdigit((unsigned char)*p))
			return -1;
	return atoi(s);
}

/* ---- state that follows the VM ---- */

static bool vm_running(const struct db_obj *vm)
{
	return !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Running");
}

/* xapi's valid_operations for a VIF, less the errors: attach always (no
 * operation in progress), plug or unplug while the VM runs. */
void vif_update_allowed(struct db_txn *t, struct db_obj *vif)
{
	struct db_obj *vm = db_lookup_cls(db_txn_db(t), SC_C_VM, db_peek_str(vif, SC_F_VIF__VM));
	xv ops = xv_arr_new();
	if (!xv_len(db_peek(vif, SC_F_VIF__current_operations))) {
		xv_arr_push_str(&ops, "attach");
		if (vm && vm_running(vm) && !db_peek_bool(vm, SC_F_VM__is_control_domain))
			xv_arr_push_str(&ops, db_peek_bool(vif, SC_F_VIF__currently_attached) ? "unplug" : "plug");
	}
	db_set(t, vif, SC_F_VIF__allowed_operations, ops);
}

void vm_vifs_mark(struct db_txn *t, struct db_obj *vm, bool attached)
{
	struct db *db = db_txn_db(t);
	xv vifs = db_get(db, vm, SC_F_VM__VIFs);
	for (size_t i = 0; i < xv_len(&vifs); i++) {
		struct db_obj *vif = db_lookup_cls(db, SC_C_VIF, xv_as_str(xv_arr_get(&vifs, i)));
		if (!vif)
			continue;
		if (db_peek_bool(vif, SC_F_VIF__currently_attached) != attached)
			db_set_bool(t, vif, SC_F_VIF__currently_attached, attached);
		vif_update_allowed(t, vif);
	}
	xv_free(&vifs);
}

/* One VIF as the backend gets it; false when its network is gone or its
 * device is not a number. */
static bool nic_of(struct db *db, struct db_obj *vif, struct vm_nic *nic)
{
	struct db_obj *net = db_lookup_cls(db, SC_C_network, db_peek_str(vif, SC_F_VIF__network));
	int dev = device_number(db_peek_str(vif, SC_F_VIF__device));
	if (!net || dev < 0)
		return false;
	memset(nic, 0, sizeof *nic);
	nic->device = dev;
	snprintf(nic->mac, sizeof nic->mac, "%s", db_peek_str(vif, SC_F_VIF__MAC));
	snprintf(nic->bridge, sizeof nic->bridge, "%s", db_peek_str(net, SC_F_network__bridge));
	/* VIF.MTU is what the VIF was created with; the network's otherwise */
	nic->mtu = db_peek_int(vif, SC_F_VIF__MTU) > 0 ? db_peek_int(vif, SC_F_VIF__MTU)
							: db_peek_int(net, SC_F_network__MTU);
	nic->bridge_mtu = db_peek_int(net, SC_F_network__MTU);
	return true;
}

int vm_nics_collect(struct db *db, struct db_obj *vm, struct vm_spec *s, bool only_attached,
		    struct xerr *err)
{
	xv vifs = db_get(db, vm, SC_F_VM__VIFs);
	s->nics = xcalloc(xv_len(&vifs) + 1, sizeof *s->nics);
	s->nnics = 0;
	int rc = 0;
	for (size_t i = 0; i < xv_len(&vifs) && rc == 0; i++) {
		struct db_obj *vif = db_lookup_cls(db, SC_C_VIF, xv_as_str(xv_arr_get(&vifs, i)));
		if (!vif || (only_attached && !db_peek_bool(vif, SC_F_VIF__currently_attached)))
			continue;
		if (!nic_of(db, vif, &s->nics[s->nnics])) {
			/* xapi: a VIF whose network is gone stops the start */
			const char *net = db_peek_str(vif, SC_F_VIF__network);
			rc = db_lookup_cls(db, SC_C_network, net)
				     ? xerr_set(err, "INVALID_DEVICE", db_peek_str(vif, SC_F_VIF__device), NULL)
				     : handle_invalid(err, SC_C_network, net);
			break;
		}
		s->nnics++;
	}
	xv_free(&vifs);
	return rc;
}

/* ---- create and destroy ---- */

static const int create_fields[] = {
	SC_F_VIF__device, SC_F_VIF__network, SC_F_VIF__VM, SC_F_VIF__MAC, SC_F_VIF__MTU,
	SC_F_VIF__other_config, SC_F_VIF__currently_attached, SC_F_VIF__qos_algorithm_type,
	SC_F_VIF__qos_algorithm_params, SC_F_VIF__locking_mode, SC_F_VIF__ipv4_allowed,
	SC_F_VIF__ipv6_allowed,
};
#define NCREATE (sizeof create_fields / sizeof create_fields[0])
enum { I_DEVICE, I_NETWORK, I_VM, I_MAC, I_MTU, I_OTHER, I_ATTACHED };

static int vif_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const xv *rec = xv_arr_get(args, 0);
	xv vals[NCREATE];
	int rc = -1;
	if (generic_create_fields(SC_C_VIF, rec, create_fields, NCREATE, vals, err) < 0)
		return -1;
	size_t nv = NCREATE;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, &vals[I_VM], err);
	struct db_obj *net = vm ? generic_lookup(ctx, SC_C_network, &vals[I_NETWORK], err) : NULL;
	const char *device = xv_as_str(&vals[I_DEVICE]);
	const char *mac = xv_as_str(&vals[I_MAC]);
	int dev = net ? device_number(device) : -1;
	if (net && dev < 0)
		xerr_set(err, "INVALID_DEVICE", device, NULL);
	/* an empty MAC is derived from the VM's seed, as xapi does */
	char made[18] = "";
	const char *seed = vm ? xv_map_get_str(db_peek(vm, SC_F_VM__other_config), "mac_seed") : NULL;
	if (dev >= 0 && seed && !*mac) {
		gen_mac(dev, seed, made);
		mac = made;
	}
	if (dev >= 0 && !mac_valid(mac)) {
		xerr_set(err, "MAC_INVALID", mac, NULL);
		dev = -1;
	}
	if (dev >= 0) {
		xv vifs = db_get(ctx->db, vm, SC_F_VM__VIFs);
		for (size_t i = 0; i < xv_len(&vifs) && dev >= 0; i++) {
			struct db_obj *o = db_lookup_cls(ctx->db, SC_C_VIF, xv_as_str(xv_arr_get(&vifs, i)));
			if (o && device_number(db_peek_str(o, SC_F_VIF__device)) == dev) {
				xerr_set(err, "DEVICE_ALREADY_EXISTS", device, NULL);
				dev = -1;
			}
		}
		xv_free(&vifs);
	}
	if (dev < 0) {
		db_abort(t);
		goto out;
	}
	/* only a suspended VM's VIFs may be created attached */
	bool suspended = !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Suspended");
	struct db_obj *o = db_create(t, SC_C_VIF, NULL);
	for (size_t i = 0; i < NCREATE; i++) {
		if (i == I_MAC || (i == I_ATTACHED && !suspended))
			continue;
		db_set(t, o, create_fields[i], vals[i]);
		vals[i] = XV_NIL_INIT;
	}
	db_set_str(t, o, SC_F_VIF__MAC, mac);
	db_set_bool(t, o, SC_F_VIF__MAC_autogenerated, made[0] != '\0');
	vif_update_allowed(t, o);
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

static int vif_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vif = generic_lookup(ctx, SC_C_VIF, xv_arr_get(args, 0), err);
	struct db_obj *vm = vif ? db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vif, SC_F_VIF__VM)) : NULL;
	const xv *cur = vif ? db_peek(vif, SC_F_VIF__current_operations) : NULL;
	if (cur && xv_len(cur)) {
		xerr_set(err, "OTHER_OPERATION_IN_PROGRESS", "VIF", vif->ref, xv_as_str(&cur->u.m->vals[0]),
			 cur->u.m->keys[0], NULL);
		vif = NULL;
	} else if (vm && vm_running(vm) && db_peek_bool(vif, SC_F_VIF__currently_attached)) {
		xerr_set(err, "OPERATION_NOT_ALLOWED", "VIF currently attached to a running VM", NULL);
		vif = NULL;
	}
	if (!vif) {
		db_abort(t);
		return -1;
	}
	db_delete(t, vif);
	return db_commit(t, err);
}

/* ---- plug and unplug ---- */

static void lower(const char *s, char *out, size_t n)
{
	size_t i = 0;
	for (; s[i] && i + 1 < n; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	out[i] = '\0';
}

/* xapi's Xapi_vif_helpers.valid_operations for plug and unplug, first
 * error first. */
static int check_plug(struct db *db, struct db_obj *vif, struct db_obj *vm, bool plug, struct xerr *err)
{
	const xv *cur = db_peek(vif, SC_F_VIF__current_operations);
	if (xv_len(cur)) {
		char *types = xasprintf("{%s}", xv_as_str(&cur->u.m->vals[0]));
		char *refs = xasprintf("{%s}", cur->u.m->keys[0]);
		xerr_set(err, "OTHER_OPERATION_IN_PROGRESS", "VIF", vif->ref, types, refs, NULL);
		free(types);
		free(refs);
		return -1;
	}
	if (plug && db_peek_bool(vm, SC_F_VM__is_control_domain))
		return xerr_set(err, "OPERATION_NOT_ALLOWED", "Control domain does not support hotplug", NULL);
	bool attached = db_peek_bool(vif, SC_F_VIF__currently_attached);
	if (!vm_running(vm)) {
		char ps[32];
		lower(db_peek_str(vm, SC_F_VM__power_state), ps, sizeof ps);
		return xerr_set(err, "VM_BAD_POWER_STATE", vm->ref, "running", ps, NULL);
	}
	if (plug && attached)
		return xerr_set(err, "DEVICE_ALREADY_ATTACHED", vif->ref, NULL);
	if (!plug && !attached)
		return xerr_set(err, "DEVICE_ALREADY_DETACHED", vif->ref, NULL);
	const xv *vops = db_peek(vm, SC_F_VM__current_operations);
	for (size_t i = 0; i < xv_len(vops); i++) {
		const char *op = xv_as_str(&vops->u.m->vals[i]);
		static const char *const blocking[] = {"clean_shutdown", "hard_shutdown", "suspend", "pause"};
		for (size_t k = 0; k < sizeof blocking / sizeof blocking[0]; k++) {
			if (strcmp(op, blocking[k]) != 0)
				continue;
			char *m = xasprintf("Current operation on VM:%s is %s", vm->ref, op);
			xerr_set(err, "OPERATION_NOT_ALLOWED", m, NULL);
			free(m);
			return -1;
		}
	}
	/* an HVM guest needs its PV drivers to take a hot-plugged NIC */
	if (!strcmp(db_peek_str(vm, SC_F_VM__domain_type), "hvm")) {
		struct db_obj *gm = db_lookup_cls(db, SC_C_VM_guest_metrics, db_peek_str(vm, SC_F_VM__guest_metrics));
		if (!gm || !db_peek_bool(gm, SC_F_VM_guest_metrics__PV_drivers_detected))
			return xerr_set(err, "VM_MISSING_PV_DRIVERS", vm->ref, NULL);
	}
	return 0;
}

static int plug_common(struct rpc_ctx *ctx, xv *args, bool plug, bool force, struct xerr *err)
{
	struct server *srv = ctx->srv;
	char token[REF_STRLEN + 1], vif_ref[REF_STRLEN + 1];
	if (ctx->task[0])
		snprintf(token, sizeof token, "%s", ctx->task);
	else
		ref_generate(token);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vif = generic_lookup(ctx, SC_C_VIF, xv_arr_get(args, 0), err);
	struct db_obj *vm = vif ? db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vif, SC_F_VIF__VM)) : NULL;
	if (vif && !vm)
		handle_invalid(err, SC_C_VM, db_peek_str(vif, SC_F_VIF__VM));
	struct vm_nic nic;
	if (vm && check_plug(ctx->db, vif, vm, plug, err) < 0)
		vm = NULL;
	if (vm && !nic_of(ctx->db, vif, &nic)) {
		handle_invalid(err, SC_C_network, db_peek_str(vif, SC_F_VIF__network));
		vm = NULL;
	}
	if (!vm) {
		db_abort(t);
		return -1;
	}
	/* the VIF is busy until the backend is done: a second plug, or a
	 * destroy, waits its turn */
	struct vm_spec spec;
	vm_spec_of(vm, &spec);
	memcpy(vif_ref, vif->ref, sizeof vif_ref);
	xv_map_set_str(db_edit(t, vif, SC_F_VIF__current_operations), token, plug ? "plug" : "unplug");
	vif_update_allowed(t, vif);
	if (db_commit(t, err) < 0) {
		vm_spec_free(&spec);
		return -1;
	}
	const struct xenops_backend *b = srv->backend;
	int r = 0;
	if (plug && b->vif_plug)
		r = b->vif_plug(&srv->xh, &spec, &nic, err);
	else if (!plug && b->vif_unplug)
		r = b->vif_unplug(&srv->xh, &spec, nic.device, force, err);
	vm_spec_free(&spec);

	t = db_begin(ctx->db);
	vif = db_lookup_cls(ctx->db, SC_C_VIF, vif_ref);
	if (vif) {
		/* a domain that ended meanwhile left the VIF detached */
		vm = db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vif, SC_F_VIF__VM));
		if (r == 0 && (!plug || (vm && vm_running(vm))))
			db_set_bool(t, vif, SC_F_VIF__currently_attached, plug);
		xv_map_del(db_edit(t, vif, SC_F_VIF__current_operations), token);
		vif_update_allowed(t, vif);
	}
	return db_commit_outcome(t, r, err);
}

static int vif_plug(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return plug_common(ctx, args, true, false, err);
}

static int vif_unplug(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return plug_common(ctx, args, false, false, err);
}

static int vif_unplug_force(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return plug_common(ctx, args, false, true, err);
}

void api_vif_init(void)
{
	rpc_register("VIF", "create", vif_create, 0);
	rpc_register("VIF", "destroy", vif_destroy, 0);
	rpc_register("VIF", "plug", vif_plug, RPC_SLOW);
	rpc_register("VIF", "unplug", vif_unplug, RPC_SLOW);
	rpc_register("VIF", "unplug_force", vif_unplug_force, RPC_SLOW);
}
