/* vm_resources: a VM's memory and vCPU settings with xapi's checks — the
 * static and dynamic ranges (MEMORY_CONSTRAINT_VIOLATION_ORDER unless
 * static_min <= dynamic_min <= dynamic_max <= static_max), the dynamic
 * range applied live through the balloon, vCPU hot-plug up to VCPUs_max,
 * and VCPUs_params (weight, cap, mask) applied to a running domain, with
 * VM_metrics saying what the domain actually has. */
#include "api.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../xenops/xenops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define VCPU_LIVE_RULE "VCPU values must satisfy: 0 < VCPUs ≤ VCPUs_max"
#define VCPU_RULE "VCPU values must satisfy: 0 < VCPUs_at_startup ≤ VCPUs_max"

static void op_token(struct rpc_ctx *ctx, char token[REF_STRLEN + 1])
{
	if (ctx->task[0])
		snprintf(token, REF_STRLEN + 1, "%s", ctx->task);
	else
		ref_generate(token);
}

static int check_order(int64_t smin, int64_t dmin, int64_t dmax, int64_t smax, struct xerr *err)
{
	if (smin <= dmin && dmin <= dmax && dmax <= smax)
		return 0;
	return xerr_set(err, ERR_MEMORY_CONSTRAINT_VIOLATION_ORDER, NULL);
}

static struct db_obj *metrics_of(struct db_txn *t, struct db_obj *vm)
{
	return db_lookup_cls(db_txn_db(t), SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
}

static bool running(struct db_obj *vm)
{
	return !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Running");
}

void vm_apply_vcpu_params(struct server *srv, const struct vm_spec *s, const xv *params, xv *applied)
{
	*applied = XV_NIL_INIT;
	if (!srv->backend->set_vcpu_params || !xv_len(params))
		return;
	struct xerr e = XERR_INIT;
	if (srv->backend->set_vcpu_params(&srv->xh, s, params, applied, &e) < 0) {
		log_warn("vm %s: VCPUs_params not applied: %s", s->uuid, e.nparams ? e.params[0] : e.code);
		xv_free(applied);
	}
	xerr_clear(&e);
}

void vm_record_vcpu_params(struct db_txn *t, struct db_obj *vm, const xv *applied)
{
	struct db_obj *m = metrics_of(t, vm);
	if (m)
		db_set(t, m, SC_F_VM_metrics__VCPUs_params,
		       applied && applied->kind == XV_MAP ? xv_copy(applied) : xv_map_new());
}

void vm_memory_reported(struct server *srv, const char *vm_uuid, int64_t actual)
{
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *vm = db_lookup_uuid(srv->db, SC_C_VM, vm_uuid);
	const char *ps = vm ? db_peek_str(vm, SC_F_VM__power_state) : "";
	struct db_obj *m = vm ? metrics_of(t, vm) : NULL;
	if (!m || (strcmp(ps, "Running") != 0 && strcmp(ps, "Paused") != 0) ||
	    db_peek_int(m, SC_F_VM_metrics__memory_actual) == actual) {
		db_abort(t);
		return;
	}
	db_set_int(t, m, SC_F_VM_metrics__memory_actual, actual);
	db_set(t, m, SC_F_VM_metrics__last_updated, xv_time(time(NULL)));
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0)
		log_warn("vm %s: recording memory_actual: %s", vm_uuid, e.code);
	xerr_clear(&e);
}

/* ---- memory ---- */

/* The dynamic range: on a halted VM the record only; on a running one the
 * balloon follows (target dynamic_max: with no memory pressure to share out,
 * as squeezed gives a VM its dynamic_max when the host has room). */
static int dynamic_range(struct rpc_ctx *ctx, xv *args, int which, struct xerr *err)
{
	struct server *srv = ctx->srv;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm || vm_check_op(vm, "changing_dynamic_range", err) < 0) {
		db_abort(t);
		return -1;
	}
	int64_t old_min = db_peek_int(vm, SC_F_VM__memory_dynamic_min);
	int64_t old_max = db_peek_int(vm, SC_F_VM__memory_dynamic_max);
	int64_t old_target = db_peek_int(vm, SC_F_VM__memory_target);
	/* which: 0 = (min, max), 1 = min only, 2 = max only */
	int64_t min = which == 2 ? old_min : arg_int(args, 1);
	int64_t max = which == 1 ? old_max : which == 2 ? arg_int(args, 1) : arg_int(args, 2);
	if (check_order(db_peek_int(vm, SC_F_VM__memory_static_min), min, max,
			db_peek_int(vm, SC_F_VM__memory_static_max), err) < 0) {
		db_abort(t);
		return -1;
	}
	bool live = running(vm);
	if (live && max > old_max) {
		/* the VM may grow to its new dynamic_max: that must fit, as
		 * xapi's reserve_memory_for_dynamic_change asks (in KiB) */
		int64_t avail = vm_host_free_memory(srv, NULL);
		if (avail >= 0 && max - old_max > avail) {
			char need_k[32], avail_k[32];
			snprintf(need_k, sizeof need_k, "%lld", (long long)((max - old_max) / 1024));
			snprintf(avail_k, sizeof avail_k, "%lld", (long long)(avail / 1024));
			db_abort(t);
			return xerr_set(err, ERR_HOST_NOT_ENOUGH_FREE_MEMORY, need_k, avail_k, NULL);
		}
	}
	/* memory_target is unused; xapi keeps it at dynamic_min */
	db_set_int(t, vm, SC_F_VM__memory_target, min);
	db_set_int(t, vm, SC_F_VM__memory_dynamic_min, min);
	db_set_int(t, vm, SC_F_VM__memory_dynamic_max, max);
	if (!live || !srv->backend->set_memory_target)
		return db_commit(t, err);

	/* the new range is in the record (and in the host's accounting)
	 * while the guest moves; put back if the backend fails */
	char token[REF_STRLEN + 1], ref[REF_STRLEN + 1];
	op_token(ctx, token);
	memcpy(ref, vm->ref, sizeof ref);
	if (vm_op_begin(t, vm, "changing_dynamic_range", token, err) < 0) {
		db_abort(t);
		return -1;
	}
	struct vm_spec spec;
	vm_spec_of(vm, &spec);
	if (db_commit(t, err) < 0) {
		vm_spec_free(&spec);
		return -1;
	}
	int64_t actual = -1;
	int r = srv->backend->set_memory_target(&srv->xh, &spec, max, &actual, err);
	vm_spec_free(&spec);
	t = db_begin(ctx->db);
	vm = db_lookup_cls(ctx->db, SC_C_VM, ref);
	if (vm) {
		if (r < 0) {
			db_set_int(t, vm, SC_F_VM__memory_target, old_target);
			db_set_int(t, vm, SC_F_VM__memory_dynamic_min, old_min);
			db_set_int(t, vm, SC_F_VM__memory_dynamic_max, old_max);
		}
		struct db_obj *m = metrics_of(t, vm);
		if (m && r == 0 && actual >= 0) {
			db_set_int(t, m, SC_F_VM_metrics__memory_actual, actual);
			db_set(t, m, SC_F_VM_metrics__last_updated, xv_time(time(NULL)));
		}
		op_end(t, vm, token);
	}
	return db_commit_outcome(t, r, err);
}

static int set_memory_dynamic_range(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return dynamic_range(ctx, args, 0, err);
}

static int set_memory_dynamic_min(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return dynamic_range(ctx, args, 1, err);
}

static int set_memory_dynamic_max(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return dynamic_range(ctx, args, 2, err);
}

/* Halted-only changes of the limits: op names the operation xapi marks
 * (its power states come from vm.c's table). */
static int set_limits(struct rpc_ctx *ctx, xv *args, const char *op, const int64_t *smin,
		      const int64_t *smax, const int64_t *dmin, const int64_t *dmax, struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm || vm_check_op(vm, op, err) < 0) {
		db_abort(t);
		return -1;
	}
	int64_t v[4] = {
		smin ? *smin : db_peek_int(vm, SC_F_VM__memory_static_min),
		dmin ? *dmin : db_peek_int(vm, SC_F_VM__memory_dynamic_min),
		dmax ? *dmax : db_peek_int(vm, SC_F_VM__memory_dynamic_max),
		smax ? *smax : db_peek_int(vm, SC_F_VM__memory_static_max),
	};
	if (check_order(v[0], v[1], v[2], v[3], err) < 0) {
		db_abort(t);
		return -1;
	}
	db_set_int(t, vm, SC_F_VM__memory_static_min, v[0]);
	db_set_int(t, vm, SC_F_VM__memory_static_max, v[3]);
	if (dmin || dmax) {
		db_set_int(t, vm, SC_F_VM__memory_dynamic_min, v[1]);
		db_set_int(t, vm, SC_F_VM__memory_dynamic_max, v[2]);
		db_set_int(t, vm, SC_F_VM__memory_target, v[1]);
	}
	return db_commit(t, err);
}

static int set_memory_static_range(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	int64_t min = arg_int(args, 1), max = arg_int(args, 2);
	return set_limits(ctx, args, "changing_static_range", &min, &max, NULL, NULL, err);
}

static int set_memory_static_min(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	int64_t v = arg_int(args, 1);
	return set_limits(ctx, args, "changing_static_range", &v, NULL, NULL, NULL, err);
}

static int set_memory_static_max(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	int64_t v = arg_int(args, 1);
	return set_limits(ctx, args, "changing_static_range", NULL, &v, NULL, NULL, err);
}

static int set_memory_limits(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	int64_t smin = arg_int(args, 1), smax = arg_int(args, 2), dmin = arg_int(args, 3),
		dmax = arg_int(args, 4);
	return set_limits(ctx, args, "changing_memory_limits", &smin, &smax, &dmin, &dmax, err);
}

/* xapi: static_max, dynamic_min and dynamic_max all to value */
static int set_memory(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	int64_t v = arg_int(args, 1);
	return set_limits(ctx, args, "changing_memory_limits", NULL, &v, &v, &v, err);
}

/* Deprecated: xapi checks the operation and does nothing (clients use
 * set_memory_dynamic_range). */
static int set_memory_target_live(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	int r = vm ? vm_check_op(vm, "changing_memory_live", err) : -1;
	db_unlock(ctx->db);
	return r;
}

/* ---- vCPUs ---- */

static int invalid_vcpus(const char *rule, int64_t n, struct xerr *err)
{
	char s[32];
	snprintf(s, sizeof s, "%lld", (long long)n);
	return xerr_set(err, ERR_INVALID_VALUE, rule, s, NULL);
}

static int set_VCPUs_max(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	int64_t v = arg_int(args, 1);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	int r = !vm || vm_check_op(vm, "changing_VCPUs", err) < 0 ? -1 : 0;
	if (r == 0 && (v < 1 || v < db_peek_int(vm, SC_F_VM__VCPUs_at_startup)))
		r = invalid_vcpus(VCPU_RULE, v, err);
	if (r < 0) {
		db_abort(t);
		return -1;
	}
	db_set_int(t, vm, SC_F_VM__VCPUs_max, v);
	return db_commit(t, err);
}

/* xapi marks no operation here: any power state (a running VM takes the
 * value at its next boot; set_VCPUs_number_live changes it live). */
static int set_VCPUs_at_startup(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	int64_t v = arg_int(args, 1);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	int r = vm ? 0 : -1;
	if (r == 0 && db_peek_bool(vm, SC_F_VM__is_control_domain))
		r = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "set_VCPUs_at_startup is not allowed on dom0", NULL);
	if (r == 0 && (v < 1 || v > db_peek_int(vm, SC_F_VM__VCPUs_max)))
		r = invalid_vcpus(VCPU_RULE, v, err);
	if (r < 0) {
		db_abort(t);
		return -1;
	}
	db_set_int(t, vm, SC_F_VM__VCPUs_at_startup, v);
	return db_commit(t, err);
}

/* A live change of a running VM's vCPUs: marks changing_VCPUs_live, runs
 * fn with the store unlocked, records what it reports. */
struct vcpu_live {
	int64_t nvcpu;      /* set_VCPUs_number_live */
	const char *key, *value; /* add_to_VCPUs_params_live */
};

static int vcpu_live(struct rpc_ctx *ctx, xv *args, const struct vcpu_live *req, struct xerr *err)
{
	struct server *srv = ctx->srv;
	const struct xenops_backend *b = srv->backend;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm || vm_check_op(vm, "changing_VCPUs_live", err) < 0) {
		db_abort(t);
		return -1;
	}
	if (!req->key && (req->nvcpu <= 0 || req->nvcpu > db_peek_int(vm, SC_F_VM__VCPUs_max))) {
		/* xenopsd's Invalid_vcpus carries VCPUs_max, and xapi passes
		 * that on */
		db_abort(t);
		return invalid_vcpus(VCPU_LIVE_RULE, db_peek_int(vm, SC_F_VM__VCPUs_max), err);
	}
	if ((!req->key && !b->set_vcpus) || (req->key && !b->set_vcpu_params)) {
		db_abort(t);
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED,
				"this host's VM backend cannot change vCPUs live", NULL);
	}
	xv params = xv_copy(db_peek(vm, SC_F_VM__VCPUs_params));
	if (params.kind != XV_MAP) {
		xv_free(&params);
		params = xv_map_new();
	}
	if (req->key)
		xv_map_set_str(&params, req->key, req->value);
	char token[REF_STRLEN + 1], ref[REF_STRLEN + 1];
	op_token(ctx, token);
	memcpy(ref, vm->ref, sizeof ref);
	struct vm_spec spec;
	vm_spec_of(vm, &spec);
	if (vm_op_begin(t, vm, "changing_VCPUs_live", token, err) < 0) {
		db_abort(t);
		t = NULL;
	}
	if (!t || db_commit(t, err) < 0) {
		vm_spec_free(&spec);
		xv_free(&params);
		return -1;
	}
	int64_t now = -1;
	int r = 0;
	if (!req->key)
		r = b->set_vcpus(&srv->xh, &spec, req->nvcpu, &now, err);
	/* a new vCPU takes the mask too; a new key takes effect now */
	xv applied = XV_NIL_INIT;
	bool reapply = req->key || (r == 0 && xv_map_get(&params, "mask"));
	if (reapply)
		vm_apply_vcpu_params(srv, &spec, &params, &applied);
	vm_spec_free(&spec);

	t = db_begin(ctx->db);
	vm = db_lookup_cls(ctx->db, SC_C_VM, ref);
	if (vm) {
		struct db_obj *m = metrics_of(t, vm);
		if (!req->key && r == 0)
			db_set_int(t, vm, SC_F_VM__VCPUs_at_startup, req->nvcpu);
		if (req->key)
			db_set(t, vm, SC_F_VM__VCPUs_params, xv_copy(&params));
		if (m && now > 0)
			db_set_int(t, m, SC_F_VM_metrics__VCPUs_number, now);
		if (reapply)
			vm_record_vcpu_params(t, vm, &applied);
		if (m)
			db_set(t, m, SC_F_VM_metrics__last_updated, xv_time(time(NULL)));
		op_end(t, vm, token);
	}
	xv_free(&params);
	xv_free(&applied);
	return db_commit_outcome(t, r, err);
}

static int set_VCPUs_number_live(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct vcpu_live req = {.nvcpu = arg_int(args, 1)};
	return vcpu_live(ctx, args, &req, err);
}

/* xapi answers NOT_IMPLEMENTED here; Xenon applies the key to the running
 * domain (weight, cap, mask) and keeps it in VCPUs_params.
 * VM_metrics.VCPUs_params lists what the domain actually took. */
static int add_to_VCPUs_params_live(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct vcpu_live req = {.key = arg_str(args, 1), .value = arg_str(args, 2)};
	return vcpu_live(ctx, args, &req, err);
}

RPC_IMPL(VM, set_memory_dynamic_range, set_memory_dynamic_range, RPC_SLOW);
RPC_IMPL(VM, set_memory_dynamic_min, set_memory_dynamic_min, RPC_SLOW);
RPC_IMPL(VM, set_memory_dynamic_max, set_memory_dynamic_max, RPC_SLOW);
RPC_IMPL(VM, set_memory_static_range, set_memory_static_range, 0);
RPC_IMPL(VM, set_memory_static_min, set_memory_static_min, 0);
RPC_IMPL(VM, set_memory_static_max, set_memory_static_max, 0);
RPC_IMPL(VM, set_memory_limits, set_memory_limits, 0);
RPC_IMPL(VM, set_memory, set_memory, 0);
RPC_IMPL(VM, set_memory_target_live, set_memory_target_live, 0);
RPC_IMPL(VM, set_VCPUs_max, set_VCPUs_max, 0);
RPC_IMPL(VM, set_VCPUs_at_startup, set_VCPUs_at_startup, 0);
RPC_IMPL(VM, set_VCPUs_number_live, set_VCPUs_number_live, RPC_SLOW);
RPC_IMPL(VM, add_to_VCPUs_params_live, add_to_VCPUs_params_live, RPC_SLOW);
