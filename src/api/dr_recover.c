/* dr_recover: VM.recover and VM_appliance.recover, their checks and the
 * SRs they need (xapi's Xapi_dr / Xapi_vm_helpers). The caller's session
 * reads the database the VMs come from — usually another pool's, opened
 * from a metadata VDI (dr.c) — and session_to names the pool they go
 * into. Their metadata is imported there in one transaction keeping their
 * uuids: the VM, its VBDs on the VDIs of the same uuids (on SRs that pool
 * has plugged: VM_REQUIRES_SR otherwise), its VIFs on the networks of the
 * same uuid or name, and an appliance's record. A VM of the same uuid
 * already there is replaced when the one imported is newer or when
 * forced (VM_TO_IMPORT_IS_NOT_NEWER_VERSION otherwise), if halted. */
#include "api.h"
#include "storage.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the source's records, with references as uuids ---- */

struct item {
	int cls;
	char uuid[UUID_STRLEN + 1];
	char ref[REF_STRLEN + 1]; /* in the source */
	xv *f;           /* every stored field; refs (and sets of refs) as target uuids */
	char extra[256]; /* a VIF's network's name_label */
};

struct plan {
	struct item *v;
	size_t n;
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		for (int f = 0; f < sc_classes[p->v[i].cls].nfields; f++)
			xv_free(&p->v[i].f[f]);
		free(p->v[i].f);
	}
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static const char *uuid_of(struct db *db, const char *ref)
{
	struct db_obj *o = ref ? db_lookup(db, ref) : NULL;
	int uf = o ? sc_classes[o->cls].uuid_field : -1;
	return uf >= 0 ? db_peek_str(o, uf) : "";
}

static xv refs_to_uuids(struct db *db, const struct sc_type *t, const xv *val)
{
	if (t->kind == SC_REF)
		return xv_str(uuid_of(db, xv_as_str(val)));
	if (t->kind == SC_SET && t->elem->kind == SC_REF) {
		xv out = xv_arr_new();
		for (size_t i = 0; i < xv_len(val); i++) {
			const char *u = uuid_of(db, xv_as_str(xv_arr_get(val, i)));
			if (*u)
				xv_arr_push_str(&out, u);
		}
		return out;
	}
	return xv_copy(val);
}

static struct item *plan_add(struct plan *p, struct db *db, struct db_obj *o)
{
	const struct sc_class *c = &sc_classes[o->cls];
	p->v = xrealloc(p->v, (p->n + 1) * sizeof *p->v);
	struct item *it = &p->v[p->n++];
	memset(it, 0, sizeof *it);
	it->cls = o->cls;
	snprintf(it->ref, sizeof it->ref, "%s", o->ref);
	snprintf(it->uuid, sizeof it->uuid, "%s", db_peek_str(o, c->uuid_field));
	it->f = xcalloc((size_t)c->nfields, sizeof *it->f);
	for (int f = 0; f < c->nfields; f++)
		if (!sc_field_is_derived(&c->fields[f]))
			it->f[f] = refs_to_uuids(db, c->fields[f].type, db_peek(o, f));
	return it;
}

/* ---- checks (under the locks of both stores) ---- */

/* The SRs a VM needs: those of its VDIs but CDs, ISO SRs left out. */
static void required_srs(struct db *db, struct db_obj *vm, xv *out)
{
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	for (size_t i = 0; i < xv_len(&vbds); i++) {
		struct db_obj *b = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (!b || !strcmp(db_peek_str(b, SC_F_VBD__type), "CD"))
			continue;
		struct db_obj *v = db_lookup_cls(db, SC_C_VDI, db_peek_str(b, SC_F_VBD__VDI));
		struct db_obj *sr = v ? db_lookup_cls(db, SC_C_SR, db_peek_str(v, SC_F_VDI__SR)) : NULL;
		if (!sr || !strcmp(db_peek_str(sr, SC_F_SR__content_type), "iso"))
			continue;
		xv ref = xv_str(sr->ref);
		if (!xv_arr_contains(out, &ref))
			xv_arr_push(out, ref);
		else
			xv_free(&ref);
	}
	xv_free(&vbds);
}

/* The SR of that uuid is in the destination with a plugged PBD. */
static bool sr_plugged(struct db *dst, const char *uuid)
{
	struct db_obj *sr = db_lookup_uuid(dst, SC_C_SR, uuid);
	xv pbds = sr ? db_get(dst, sr, SC_F_SR__PBDs) : xv_arr_new();
	bool any = false;
	for (size_t i = 0; i < xv_len(&pbds) && !any; i++) {
		struct db_obj *p = db_lookup_cls(dst, SC_C_PBD, xv_as_str(xv_arr_get(&pbds, i)));
		any = p && db_peek_bool(p, SC_F_PBD__currently_attached);
	}
	xv_free(&pbds);
	return any;
}

/* The store session_to (args[1]) answers from: the pool's own. */
static int dest_db(struct rpc_ctx *ctx, xv *args, struct db **out, struct xerr *err)
{
	const char *to = arg_str(args, 1);
	struct db *d = ctx->srv && ctx->srv->foreign_store_of ? ctx->srv->foreign_store_of(ctx->srv, to) : NULL;
	if (!d && ctx->srv && !ctx->srv->foreign_store_of) /* no daemon: sessions are rows of this store */
		d = db_lookup_cls(ctx->db, SC_C_session, to) ? ctx->db : NULL;
	if (!d)
		return xerr_set(err, ERR_SESSION_INVALID, to, NULL);
	if (ctx->srv && d != ctx->srv->db)
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED,
				"session_to reads a copy of a database: VMs are recovered into a pool", NULL);
	*out = d;
	return 0;
}

/* The VMs the call is about (a VM, or an appliance's), control domains
 * left out; under the source's read lock. */
static int recovery_vms(struct rpc_ctx *ctx, xv *args, xv *vms, struct xerr *err)
{
	struct db_obj *o = generic_lookup(ctx, ctx->cls, xv_arr_get(args, 0), err);
	if (!o)
		return -1;
	xv all = ctx->cls == SC_C_VM ? xv_arr_new() : db_get(ctx->db, o, SC_F_VM_appliance__VMs);
	if (ctx->cls == SC_C_VM)
		xv_arr_push_str(&all, o->ref);
	for (size_t i = 0; i < xv_len(&all); i++) {
		struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, xv_as_str(xv_arr_get(&all, i)));
		if (vm && !db_peek_bool(vm, SC_F_VM__is_control_domain))
			xv_arr_push_str(vms, vm->ref);
	}
	xv_free(&all);
	return 0;
}

/* The source's SRs the VMs need that the destination lacks (refs of the
 * source); the first VM lacking one in *vm_out when given. */
static void missing_srs(struct db *src, struct db *dst, const xv *vms, xv *out, char *vm_out)
{
	for (size_t i = 0; i < xv_len(vms); i++) {
		struct db_obj *vm = db_lookup_cls(src, SC_C_VM, xv_as_str(xv_arr_get(vms, i)));
		xv srs = xv_arr_new();
		if (vm)
			required_srs(src, vm, &srs);
		for (size_t k = 0; k < xv_len(&srs); k++) {
			const char *ref = xv_as_str(xv_arr_get(&srs, k));
			struct db_obj *sr = db_lookup_cls(src, SC_C_SR, ref);
			if (!sr || sr_plugged(dst, db_peek_str(sr, SC_F_SR__uuid)))
				continue;
			if (vm_out && !*vm_out)
				snprintf(vm_out, REF_STRLEN + 1, "%s", vm->ref);
			xv r = xv_str(ref);
			if (!xv_arr_contains(out, &r))
				xv_arr_push(out, r);
			else
				xv_free(&r);
		}
		xv_free(&srs);
	}
}

/* Both stores read-locked (once when they are one). */
static void lock2(struct db *a, struct db *b)
{
	db_rdlock(a);
	if (b != a)
		db_rdlock(b);
}

static void unlock2(struct db *a, struct db *b)
{
	if (b != a)
		db_unlock(b);
	db_unlock(a);
}

static int get_srs_required_for_recovery(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct db *dst;
	if (dest_db(ctx, args, &dst, err) < 0)
		return -1;
	xv vms = xv_arr_new();
	lock2(ctx->db, dst);
	int rc = recovery_vms(ctx, args, &vms, err);
	if (rc == 0) {
		*result = xv_arr_new();
		missing_srs(ctx->db, dst, &vms, result, NULL);
	}
	unlock2(ctx->db, dst);
	xv_free(&vms);
	return rc;
}

static int check_recoverable(struct rpc_ctx *ctx, struct db *dst, const xv *vms, struct xerr *err)
{
	xv miss = xv_arr_new();
	char vm[REF_STRLEN + 1] = "";
	missing_srs(ctx->db, dst, vms, &miss, vm);
	int rc = xv_len(&miss) ? xerr_set(err, ERR_VM_REQUIRES_SR, vm, xv_as_str(xv_arr_get(&miss, 0)), NULL) : 0;
	xv_free(&miss);
	return rc;
}

static int assert_can_be_recovered(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db *dst;
	if (dest_db(ctx, args, &dst, err) < 0)
		return -1;
	xv vms = xv_arr_new();
	lock2(ctx->db, dst);
	int rc = recovery_vms(ctx, args, &vms, err);
	if (rc == 0)
		rc = check_recoverable(ctx, dst, &vms, err);
	unlock2(ctx->db, dst);
	xv_free(&vms);
	return rc;
}

/* ---- the import ---- */

/* A value of the plan as the destination holds it: uuids back to refs,
 * REF_NULL for what it lacks. */
static xv uuids_to_refs(struct db *db, const struct sc_type *t, const xv *val)
{
	if (t->kind == SC_REF) {
		const char *u = xv_as_str(val);
		struct db_obj *o = u && *u ? db_lookup_uuid(db, t->cls, u) : NULL;
		return xv_str(o ? o->ref : REF_NULL);
	}
	if (t->kind == SC_SET && t->elem->kind == SC_REF) {
		xv out = xv_arr_new();
		for (size_t i = 0; i < xv_len(val); i++) {
			struct db_obj *o = db_lookup_uuid(db, t->elem->cls, xv_as_str(xv_arr_get(val, i)));
			if (o)
				xv_arr_push_str(&out, o->ref);
		}
		return out;
	}
	return xv_copy(val);
}

static struct db_obj *put(struct db_txn *t, const struct item *it)
{
	struct db *db = db_txn_db(t);
	const struct sc_class *c = &sc_classes[it->cls];
	struct db_obj *o = db_create(t, it->cls, NULL);
	for (int f = 0; f < c->nfields; f++)
		if (!sc_field_is_derived(&c->fields[f]))
			db_set(t, o, f, uuids_to_refs(db, c->fields[f].type, &it->f[f]));
	return o;
}

/* A VM replaced: its VBDs, VIFs and metrics go with it (its VDIs stay). */
static void drop_vm(struct db_txn *t, struct db_obj *vm)
{
	struct db *db = db_txn_db(t);
	static const int owned[] = {SC_F_VM__VBDs, SC_F_VM__VIFs, SC_F_VM__consoles};
	for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++) {
		xv refs = db_get(db, vm, owned[k]);
		for (size_t i = 0; i < xv_len(&refs); i++) {
			struct db_obj *o = db_lookup(db, xv_as_str(xv_arr_get(&refs, i)));
			if (o)
				db_delete(t, o);
		}
		xv_free(&refs);
	}
	static const int metrics[] = {SC_F_VM__metrics, SC_F_VM__guest_metrics};
	for (size_t k = 0; k < 2; k++) {
		struct db_obj *m = db_lookup(db, db_peek_str(vm, metrics[k]));
		if (m)
			db_delete(t, m);
	}
	db_delete(t, vm);
}

static void state_name(const char *ps, char out[16])
{
	snprintf(out, 16, "%s", ps);
	out[0] = (char)(out[0] | 0x20);
}

/* The plan's VM (item vi, with its VBDs and VIFs after it up to end) into
 * the destination. */
static int import_vm(struct db_txn *t, const struct plan *p, size_t vi, size_t end, bool force, bool same_db,
		     struct xerr *err)
{
	struct db *db = db_txn_db(t);
	const struct item *it = &p->v[vi];
	struct db_obj *old = db_lookup_uuid(db, SC_C_VM, it->uuid);
	if (old) {
		int64_t have = db_peek_int(old, SC_F_VM__version);
		int64_t got = it->f[SC_F_VM__version].kind == XV_INT ? it->f[SC_F_VM__version].u.i : 0;
		const char *ps = db_peek_str(old, SC_F_VM__power_state);
		if (strcmp(ps, "Halted")) { /* left as it is when forced */
			char s[16];
			state_name(ps, s);
			return force ? 0 : xerr_set(err, ERR_VM_BAD_POWER_STATE, old->ref, "halted", s, NULL);
		}
		if (!force && have >= got) {
			char a[24], b[24];
			snprintf(a, sizeof a, "%lld", (long long)have);
			snprintf(b, sizeof b, "%lld", (long long)got);
			return xerr_set(err, ERR_VM_TO_IMPORT_IS_NOT_NEWER_VERSION, old->ref, a, b, NULL);
		}
		if (same_db && !strcmp(old->ref, it->ref)) /* recovered into its own pool: it is there */
			return 0;
		drop_vm(t, old);
	}
	struct db_obj *vm = put(t, it);
	static const int fresh[] = {SC_F_VM__resident_on, SC_F_VM__scheduled_to_be_resident_on,
				    SC_F_VM__guest_metrics};
	for (size_t k = 0; k < sizeof fresh / sizeof fresh[0]; k++)
		db_set_str(t, vm, fresh[k], REF_NULL);
	db_set_int(t, vm, SC_F_VM__domid, -1);
	db_set(t, vm, SC_F_VM__current_operations, xv_map_new());
	struct db_obj *m = db_create(t, SC_C_VM_metrics, NULL);
	db_set_str(t, vm, SC_F_VM__metrics, m->ref);
	/* a suspended VM stays so when its memory image came along */
	bool suspended = !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Suspended") &&
			 strcmp(db_peek_str(vm, SC_F_VM__suspend_VDI), REF_NULL);
	db_set_str(t, vm, SC_F_VM__power_state, suspended ? "Suspended" : "Halted");
	if (!suspended)
		db_set_str(t, vm, SC_F_VM__suspend_VDI, REF_NULL);
	for (size_t i = vi + 1; i < end; i++) {
		const struct item *c = &p->v[i];
		if (c->cls == SC_C_VBD) {
			struct db_obj *b = put(t, c);
			db_set_str(t, b, SC_F_VBD__VM, vm->ref);
			db_set_bool(t, b, SC_F_VBD__currently_attached, false);
			db_set(t, b, SC_F_VBD__current_operations, xv_map_new());
			const char *want = xv_as_str(&c->f[SC_F_VBD__VDI]);
			if (!strcmp(db_peek_str(b, SC_F_VBD__VDI), REF_NULL) && want && *want) {
				if (strcmp(db_peek_str(b, SC_F_VBD__type), "CD"))
					return xerr_set(err, ERR_UUID_INVALID, "VDI", want, NULL);
				db_set_bool(t, b, SC_F_VBD__empty, true); /* an ISO this pool lacks */
			}
			storage_vbd_update_allowed(t, b);
			struct db_obj *vdi = db_lookup_cls(db, SC_C_VDI, db_peek_str(b, SC_F_VBD__VDI));
			if (vdi)
				storage_vdi_update_allowed(t, vdi);
		} else if (c->cls == SC_C_VIF) {
			const char *want = xv_as_str(&c->f[SC_F_VIF__network]);
			struct db_obj *net = db_lookup_uuid(db, SC_C_network, want ? want : "");
			for (struct db_obj *n = net ? NULL : db_first(db, SC_C_network); n && !net; n = db_next(n))
				if (c->extra[0] && !strcmp(db_peek_str(n, SC_F_network__name_label), c->extra))
					net = n;
			if (!net) {
				log_info("dr: VM %s: VIF %s left out, no network '%s' here", it->uuid, c->uuid, c->extra);
				continue;
			}
			struct db_obj *v = put(t, c);
			db_set_str(t, v, SC_F_VIF__VM, vm->ref);
			db_set_str(t, v, SC_F_VIF__network, net->ref);
			db_set_bool(t, v, SC_F_VIF__currently_attached, false);
			db_set(t, v, SC_F_VIF__current_operations, xv_map_new());
		}
	}
	vm_update_allowed_operations(t, vm);
	return 0;
}

static int recover(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db *dst;
	if (dest_db(ctx, args, &dst, err) < 0)
		return -1;
	bool force = arg_bool(args, 2);
	xv vms = xv_arr_new();
	struct plan p = {0};
	size_t *starts = NULL;
	lock2(ctx->db, dst);
	int rc = recovery_vms(ctx, args, &vms, err);
	if (rc == 0)
		rc = check_recoverable(ctx, dst, &vms, err);
	struct item app = {0};
	bool have_app = false;
	if (rc == 0 && ctx->cls == SC_C_VM_appliance) {
		struct db_obj *a = generic_lookup(ctx, SC_C_VM_appliance, xv_arr_get(args, 0), err);
		if (a) {
			struct plan one = {0};
			plan_add(&one, ctx->db, a);
			app = one.v[0];
			free(one.v);
			have_app = true;
		}
	}
	starts = xcalloc(xv_len(&vms) + 1, sizeof *starts);
	for (size_t i = 0; rc == 0 && i < xv_len(&vms); i++) {
		struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, xv_as_str(xv_arr_get(&vms, i)));
		starts[i] = p.n;
		plan_add(&p, ctx->db, vm);
		static const int parts[] = {SC_F_VM__VBDs, SC_F_VM__VIFs};
		for (size_t k = 0; k < 2; k++) {
			xv refs = db_get(ctx->db, vm, parts[k]);
			for (size_t j = 0; j < xv_len(&refs); j++) {
				struct db_obj *o = db_lookup(ctx->db, xv_as_str(xv_arr_get(&refs, j)));
				if (!o)
					continue;
				struct item *it = plan_add(&p, ctx->db, o);
				struct db_obj *net = o->cls == SC_C_VIF
							     ? db_lookup_cls(ctx->db, SC_C_network,
									     db_peek_str(o, SC_F_VIF__network))
							     : NULL;
				if (net)
					snprintf(it->extra, sizeof it->extra, "%s",
						 db_peek_str(net, SC_F_network__name_label));
			}
			xv_free(&refs);
		}
	}
	starts[xv_len(&vms)] = p.n;
	unlock2(ctx->db, dst);
	if (rc == 0) {
		struct db_txn *t = db_begin(dst);
		if (have_app && !db_lookup_uuid(dst, SC_C_VM_appliance, app.uuid))
			put(t, &app);
		for (size_t i = 0; rc == 0 && i < xv_len(&vms); i++)
			rc = import_vm(t, &p, starts[i], starts[i + 1], force, dst == ctx->db, err);
		if (rc < 0)
			db_abort(t);
		else
			rc = db_commit(t, err);
		if (rc == 0)
			log_info("dr: %zu VM(s) recovered", xv_len(&vms));
	}
	if (have_app) {
		struct plan one = {.v = xmalloc(sizeof app), .n = 1};
		one.v[0] = app;
		plan_free(&one);
	}
	free(starts);
	plan_free(&p);
	xv_free(&vms);
	return rc;
}

RPC_IMPL(VM, get_SRs_required_for_recovery, get_srs_required_for_recovery, 0);
RPC_IMPL(VM, assert_can_be_recovered, assert_can_be_recovered, 0);
RPC_IMPL(VM_appliance, get_SRs_required_for_recovery, get_srs_required_for_recovery, 0);
RPC_IMPL(VM_appliance, assert_can_be_recovered, assert_can_be_recovered, 0);
RPC_IMPL(VM, recover, recover, 0);
RPC_IMPL(VM_appliance, recover, recover, 0);
