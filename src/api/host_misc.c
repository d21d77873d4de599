/* host_misc: small host and VM calls answered from the record or the
 * clock — local time, memory overheads by xapi's HVM model, allowed
 * operations recomputed — and the host calls xapi itself answers with
 * NOT_IMPLEMENTED (dmesg_clear, get_log, list_methods), with its
 * parameters. */
#include "api.h"
#include "op.h"

#include <math.h>
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

RPC_IMPL(host, get_server_localtime, get_server_localtime, 0);
RPC_IMPL(host, compute_memory_overhead, host_compute_memory_overhead, 0);
RPC_IMPL(VM, compute_memory_overhead, vm_compute_memory_overhead, 0);
RPC_IMPL(VM, update_allowed_operations, vm_update_allowed_operations, 0);
RPC_IMPL(host, dmesg_clear, host_dmesg_clear, 0);
RPC_IMPL(host, get_log, host_get_log, 0);
RPC_IMPL(host, list_methods, host_list_methods, 0);
