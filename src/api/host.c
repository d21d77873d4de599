/* host: calls on this host that need more than its record — plugins,
 * server time, free memory, the management interface. */
#include "api.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <string.h>
#include <time.h>

static int get_servertime(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx, (void)args, (void)err;
	*result = xv_time(time(NULL));
	return 0;
}

/* Plugins Xen Orchestra calls on connect; answering in the shape it
 * parses keeps its update checks quiet. */
static int call_plugin(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	db_unlock(ctx->db);
	if (!h)
		return -1;
	const char *plugin = arg_str(args, 1), *fn = arg_str(args, 2);
	if (strcmp(plugin, "updater.py") == 0 && strcmp(fn, "check_update") == 0) {
		*result = xv_str("[]");
		return 0;
	}
	return xerr_set(err, ERR_XENAPI_MISSING_PLUGIN, plugin, NULL);
}

static int compute_free_memory(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	int64_t total = 0, used = 0;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	if (h) {
		struct db_obj *m = db_lookup_cls(ctx->db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
		total = m ? db_peek_int(m, SC_F_host_metrics__memory_total) : 0;
		used = db_peek_int(h, SC_F_host__memory_overhead);
		for (struct db_obj *vm = db_first(ctx->db, SC_C_VM); vm; vm = db_next(vm)) {
			const char *ps = db_peek_str(vm, SC_F_VM__power_state);
			if (strcmp(db_peek_str(vm, SC_F_VM__resident_on), h->ref) == 0 &&
			    (!strcmp(ps, "Running") || !strcmp(ps, "Paused")))
				used += db_peek_int(vm, SC_F_VM__memory_dynamic_max) +
					db_peek_int(vm, SC_F_VM__memory_overhead);
		}
	}
	db_unlock(ctx->db);
	if (!h)
		return -1;
	*result = xv_int(total > used ? total - used : 0);
	return 0;
}

static int get_management_interface(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	struct db_obj *found = NULL;
	for (struct db_obj *p = h ? db_first(ctx->db, SC_C_PIF) : NULL; p; p = db_next(p))
		if (db_peek_bool(p, SC_F_PIF__management) && !strcmp(db_peek_str(p, SC_F_PIF__host), h->ref))
			found = p;
	if (found)
		*result = xv_str(found->ref);
	db_unlock(ctx->db);
	if (!h)
		return -1;
	if (!found)
		*result = xv_str(REF_NULL);
	return 0;
}

/* The call returns; a second later the daemon re-executes itself (see
 * server/restart.c). Running VMs are not touched: the new image adopts
 * them. Operations still under way when it stops are cut short, as
 * xapi's documentation of the call warns. */
static int restart_agent(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	db_unlock(ctx->db);
	if (!h)
		return -1;
	log_info("host.restart_agent: the daemon restarts in a second");
	if (!ctx->srv->request_restart)
		return xerr_set(err, ERR_NOT_IMPLEMENTED, "host.restart_agent", NULL);
	ctx->srv->request_restart();
	return 0;
}

RPC_IMPL(host, restart_agent, restart_agent, 0);
RPC_IMPL(host, get_servertime, get_servertime, 0);
RPC_IMPL(host, call_plugin, call_plugin, 0);
RPC_IMPL(host, compute_free_memory, compute_free_memory, 0);
RPC_IMPL(host, get_management_interface, get_management_interface, 0);
