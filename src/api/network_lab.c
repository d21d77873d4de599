/* network_lab: the other_config keys of an internal network's built-in
 * DHCP server and NAT (ip_begin, ip_end, netmask, dhcp, nat; see
 * net/dhcp_nat.h) checked where they are written — network.create and the
 * other_config setters — so a bad value is refused with INVALID_VALUE
 * naming the key instead of being stored and never applied. The setters
 * are otherwise the generic ones. */
#include "api.h"
#include "network_lab.h"
#include "../net/dhcp_nat.h"

int network_lab_check(const xv *oc, struct xerr *err)
{
	if (!oc || oc->kind != XV_MAP)
		return 0;
	struct net_dhcp_nat c;
	return net_dhcp_nat_parse(xv_map_get_str(oc, "ip_begin"), xv_map_get_str(oc, "ip_end"),
				  xv_map_get_str(oc, "netmask"), xv_map_get_str(oc, "dhcp"),
				  xv_map_get_str(oc, "nat"), &c, err) < 0
		       ? -1
		       : 0;
}

/* The network's other_config after the call would apply: NIL when the
 * network is unknown (the generic handler then says so). */
static xv after(struct rpc_ctx *ctx, xv *args, bool add)
{
	xv oc = XV_NIL_INIT;
	db_rdlock(ctx->db);
	struct db_obj *net = db_lookup_cls(ctx->db, SC_C_network, xv_as_str(xv_arr_get(args, 0)));
	if (net)
		oc = xv_copy(db_peek(net, SC_F_network__other_config));
	db_unlock(ctx->db);
	const char *key = xv_as_str(xv_arr_get(args, 1));
	if (oc.kind != XV_MAP || !key)
		return oc;
	if (add)
		xv_map_set_str(&oc, key, xv_as_str(xv_arr_get(args, 2)) ? xv_as_str(xv_arr_get(args, 2)) : "");
	else
		xv_map_del(&oc, key);
	return oc;
}

static int checked(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err, const xv *oc)
{
	if (network_lab_check(oc, err) < 0)
		return -1;
	return generic_handler(SC_C_network, ctx->msg)(ctx, args, result, err);
}

static int set_other_config(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return checked(ctx, args, result, err, xv_arr_get(args, 1));
}

static int add_to_other_config(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	xv oc = after(ctx, args, true);
	int rc = checked(ctx, args, result, err, &oc);
	xv_free(&oc);
	return rc;
}

static int remove_from_other_config(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	xv oc = after(ctx, args, false);
	int rc = checked(ctx, args, result, err, &oc);
	xv_free(&oc);
	return rc;
}

RPC_IMPL(network, set_other_config, set_other_config, 0);
RPC_IMPL(network, add_to_other_config, add_to_other_config, 0);
RPC_IMPL(network, remove_from_other_config, remove_from_other_config, 0);
