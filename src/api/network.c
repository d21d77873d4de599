/* network: network.create with xapi's bridge rules — a free xapi<N> name
 * when none is given, reserved prefixes and long names refused, one network
 * per bridge — and network.destroy refused while VIFs are attached or PIFs
 * remain. The bridge itself is made on demand when a VM needs it (src/net). */
#include "api.h"
#include "network_lab.h"
#include "../base/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* xapi's bridge_blacklist: prefixes of the host's own interfaces */
static const char *const reserved[] = {"xen", "xapi", "vif", "tap", "eth"};

static bool bridge_taken(struct db *db, const char *name)
{
	for (struct db_obj *n = db_first(db, SC_C_network); n; n = db_next(n))
		if (!strcmp(db_peek_str(n, SC_F_network__bridge), name))
			return true;
	return false;
}

/* xapi's choose_bridge_name: "xapi" and a counter that only grows. */
static void choose_bridge(struct db *db, char out[16])
{
	static unsigned counter; /* under network_create's lock */
	do
		snprintf(out, 16, "xapi%u", counter++);
	while (bridge_taken(db, out));
}

static int network_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const xv *rec = xv_arr_get(args, 0);
	const char *given = xv_map_get_str(rec, "bridge");
	char bridge[16] = "";
	/* one create at a time: two callers must not take the same bridge */
	static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
	pthread_mutex_lock(&create_lock);
	db_rdlock(ctx->db);
	int rc = 0;
	if (!given || !*given) {
		choose_bridge(ctx->db, bridge);
	} else {
		bool bad = strlen(given) > 15;
		for (size_t i = 0; i < sizeof reserved / sizeof reserved[0] && !bad; i++)
			bad = !strncmp(given, reserved[i], strlen(reserved[i]));
		if (bad)
			rc = xerr_set(err, ERR_INVALID_VALUE, "bridge", given, NULL);
		else if (bridge_taken(ctx->db, given))
			rc = xerr_set(err, ERR_BRIDGE_NAME_EXISTS, given, NULL);
		else
			snprintf(bridge, sizeof bridge, "%s", given);
	}
	db_unlock(ctx->db);
	if (rc == 0) /* the built-in DHCP/NAT keys (network_lab.c) */
		rc = network_lab_check(xv_map_get(rec, "other_config"), err);
	if (rc < 0) {
		pthread_mutex_unlock(&create_lock);
		return -1;
	}
	/* the generic constructor, with the bridge and MTU settled */
	xv copy = xv_copy(xv_arr_get(args, 0));
	xv_map_set_str(&copy, "bridge", bridge);
	const xv *mtu = xv_map_get(&copy, "MTU");
	bool mtu_ok = mtu && ((mtu->kind == XV_INT && mtu->u.i > 0) ||
			      (mtu->kind == XV_STR && atoll(xv_as_str(mtu)) > 0));
	if (!mtu_ok)
		xv_map_set(&copy, "MTU", xv_int(1500));
	xv a = xv_arr_new();
	xv_arr_push(&a, copy);
	rc = generic_handler(SC_C_network, ctx->msg)(ctx, &a, result, err);
	pthread_mutex_unlock(&create_lock);
	xv_free(&a);
	return rc;
}

static int network_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *net = generic_lookup(ctx, SC_C_network, xv_arr_get(args, 0), err);
	if (net) {
		xv vifs = db_get(ctx->db, net, SC_F_network__VIFs);
		xv attached = xv_arr_new();
		for (size_t i = 0; i < xv_len(&vifs); i++) {
			const char *ref = xv_as_str(xv_arr_get(&vifs, i));
			struct db_obj *vif = db_lookup_cls(ctx->db, SC_C_VIF, ref);
			if (vif && db_peek_bool(vif, SC_F_VIF__currently_attached))
				xv_arr_push_str(&attached, ref);
		}
		xv pifs = db_get(ctx->db, net, SC_F_network__PIFs);
		const xv *in = xv_len(&attached) ? &attached : xv_len(&pifs) ? &pifs : NULL;
		if (in) {
			const char **p = xcalloc(xv_len(in) + 1, sizeof *p);
			for (size_t i = 0; i < xv_len(in); i++)
				p[i] = xv_as_str(xv_arr_get(in, i));
			/* every VIF or PIF, as xapi lists them */
			if (in == &attached)
				xerr_setv(err, ERR_NETWORK_CONTAINS_VIF, xv_len(in), p);
			else
				xerr_setv(err, ERR_NETWORK_CONTAINS_PIF, xv_len(in), p);
			free(p);
			net = NULL;
		}
		xv_free(&vifs);
		xv_free(&attached);
		xv_free(&pifs);
	}
	if (!net) {
		db_abort(t);
		return -1;
	}
	db_delete(t, net);
	return db_commit(t, err);
}

RPC_IMPL(network, create, network_create, 0);
RPC_IMPL(network, destroy, network_destroy, 0);
