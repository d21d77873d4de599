/* host_misc: small host and VM calls answered from the record or the
 * clock — local time, memory overheads by xapi's HVM model, allowed
 * operations recomputed — and the host calls xapi itself answers with
 * NOT_IMPLEMENTED (dmesg_clear, get_log, list_methods), with its
 * parameters. */
#include "api.h"
#include "op.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* xapi's Date.localtime: the host's wall clock, in the datetime type. */
static int get_server_localtime(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	db_unlock(ctx->db);
	if (!h)
		return -1;
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	*result = xv_time((int64_t)now + tm.tm_gmtoff);
	return 0;
}

/* xapi's host_compute_memory_overhead: the record's cached value. */
static int host_compute_memory_overhead(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	if (h)
		*result = xv_int(db_peek_int(h, SC_F_host__memory_overhead));
	db_unlock(ctx->db);
	return h ? 0 : -1;
}

static int64_t mib_of_bytes_used(int64_t b)
{
	return (b + (1 << 20) - 1) >> 20;
}

static int64_t mib_of_pages_used(int64_t pages)
{
	return (pages + 255) / 256;
}

/* xapi's Memory.HVM.overhead_mib (every VM here is HVM): one MiB inside
 * and one outside the guest, the shadow pages (256 a vCPU, one a MiB of
 * static_max for the p2m map and one for resident shadows, times the
 * shadow multiplier, at least 1 MiB) and 38 pages a vCPU. */
static int64_t vm_memory_overhead_bytes(int64_t static_max, int64_t vcpus, double multiplier)
{
	int64_t max_mib = mib_of_bytes_used(static_max);
	int64_t shadow = (int64_t)((double)mib_of_pages_used(256 * vcpus + 2 * max_mib) * multiplier);
	if (shadow < 1)
		shadow = 1;
	int64_t mib = 1 + 1 + shadow + mib_of_pages_used(38 * vcpus);
	return mib << 20;
}

static int vm_compute_memory_overhead(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (vm) {
		const xv *mult = db_peek(vm, SC_F_VM__HVM_shadow_multiplier);
		*result = xv_int(vm_memory_overhead_bytes(db_peek_int(vm, SC_F_VM__memory_static_max),
							  db_peek_int(vm, SC_F_VM__VCPUs_max),
							  mult && mult->kind == XV_FLOAT ? mult->u.f : 1.0));
	}
	db_unlock(ctx->db);
	return vm ? 0 : -1;
}

static int vm_update_allowed_operations(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm) {
		db_abort(t);
		return -1;
	}
	op_update_allowed(t, vm);
	return db_commit(t, err);
}

/* xapi raises NOT_IMPLEMENTED for these, with these parameters
 * (xapi_host.ml: "dmesg_clear", "get_log", and "list_method"). */
static int host_dmesg_clear(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	db_unlock(ctx->db);
	return h ? xerr_set(err, ERR_NOT_IMPLEMENTED, "dmesg_clear", NULL) : -1;
}

static int host_get_log(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	db_unlock(ctx->db);
	return h ? xerr_set(err, ERR_NOT_IMPLEMENTED, "get_log", NULL) : -1;
}

static int host_list_methods(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx, (void)args, (void)result;
	return xerr_set(err, ERR_NOT_IMPLEMENTED, "list_method", NULL);
}

/* xapi's maximise_memory: the largest static_max (whole MiB) whose start
 * memory — static_max and the overhead it brings — fits in total, with 64
 * vCPUs assumed when approximate. */
static int vm_maximise_memory(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	int64_t vcpus = 0;
	double mult = 1.0;
	if (vm) {
		const xv *m = db_peek(vm, SC_F_VM__HVM_shadow_multiplier);
		mult = m && m->kind == XV_FLOAT ? m->u.f : 1.0;
		vcpus = arg_bool(args, 2) ? 64 : db_peek_int(vm, SC_F_VM__VCPUs_max);
	}
	db_unlock(ctx->db);
	if (!vm)
		return -1;
	int64_t total = arg_int(args, 1), lo = 0, hi = total > 0 ? total : 0;
	/* bisect for the largest fitting value, as xapi's Helpers.bisect */
	while (lo < hi) {
		int64_t mid = lo + (hi - lo + 1) / 2;
		if (mid + vm_memory_overhead_bytes(mid, vcpus, mult) <= total)
			lo = mid;
		else
			hi = mid - 1;
	}
	*result = xv_int(lo & ~(int64_t)((1 << 20) - 1));
	return 0;
}

/* xapi: a running VM, a multiplier of at least 1; the overhead follows.
 * Guests here have no Xen shadow pool to resize: the record is what
 * changes. */
static int vm_set_shadow_multiplier_live(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const xv *mv = xv_arr_get(args, 1);
	double mult = mv && mv->kind == XV_FLOAT ? mv->u.f : mv && mv->kind == XV_INT ? (double)mv->u.i : 0.0;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	int rc = vm ? 0 : -1;
	const char *ps = vm ? db_peek_str(vm, SC_F_VM__power_state) : "";
	if (vm && strcmp(ps, "Running")) {
		char lower[16];
		snprintf(lower, sizeof lower, "%s", ps);
		lower[0] = (char)(lower[0] | 0x20);
		rc = xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "running", lower, NULL);
	} else if (vm && !(mult >= 1.0)) {
		char v[32];
		snprintf(v, sizeof v, "%g", mult);
		rc = xerr_set(err, ERR_INVALID_VALUE, "multiplier", v, NULL);
	}
	if (rc < 0) {
		db_abort(t);
		return -1;
	}
	db_set(t, vm, SC_F_VM__HVM_shadow_multiplier, xv_float(mult));
	db_set_int(t, vm, SC_F_VM__memory_overhead,
		   vm_memory_overhead_bytes(db_peek_int(vm, SC_F_VM__memory_static_max),
					    db_peek_int(vm, SC_F_VM__VCPUs_max), mult));
	return db_commit(t, err);
}

RPC_IMPL(VM, maximise_memory, vm_maximise_memory, 0);
RPC_IMPL(VM, set_shadow_multiplier_live, vm_set_shadow_multiplier_live, 0);
RPC_IMPL(host, get_server_localtime, get_server_localtime, 0);
RPC_IMPL(host, compute_memory_overhead, host_compute_memory_overhead, 0);
RPC_IMPL(VM, compute_memory_overhead, vm_compute_memory_overhead, 0);
RPC_IMPL(VM, update_allowed_operations, vm_update_allowed_operations, 0);
RPC_IMPL(host, dmesg_clear, host_dmesg_clear, 0);
RPC_IMPL(host, get_log, host_get_log, 0);
RPC_IMPL(host, list_methods, host_list_methods, 0);
