/* wlb: Workload Balancing, which needs a WLB server this toolstack has no
 * client for. The pool's wlb_url stays empty, so the calls answer as
 * xapi's do on a pool where WLB was never initialized (workload_balancing.ml:
 * WLB_NOT_INITIALIZED), and initialize_wlb as xapi's does when it cannot
 * reach the server named. */
#include "api.h"

static int wlb_not_initialized(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	int cls = ctx->cls;
	if (cls == SC_C_VM || cls == SC_C_host) {
		db_rdlock(ctx->db);
		struct db_obj *o = generic_lookup(ctx, cls, xv_arr_get(args, 0), err);
		db_unlock(ctx->db);
		if (!o)
			return -1;
	}
	return xerr_set(err, ERR_WLB_NOT_INITIALIZED, NULL);
}

static int initialize_wlb(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx, (void)args, (void)result;
	return xerr_set(err, ERR_WLB_CONNECTION_REFUSED, NULL);
}

RPC_IMPL(pool, initialize_wlb, initialize_wlb, 0);
RPC_IMPL(pool, deconfigure_wlb, wlb_not_initialized, 0);
RPC_IMPL(pool, send_wlb_configuration, wlb_not_initialized, 0);
RPC_IMPL(pool, retrieve_wlb_configuration, wlb_not_initialized, 0);
RPC_IMPL(pool, retrieve_wlb_recommendations, wlb_not_initialized, 0);
RPC_IMPL(VM, retrieve_wlb_recommendations, wlb_not_initialized, 0);
RPC_IMPL(host, retrieve_wlb_evacuate_recommendations, wlb_not_initialized, 0);
