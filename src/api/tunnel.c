/* tunnel: tunnel.create/destroy. A tunnel gives a network an access PIF
 * tunnel<N> on the host; plugged, the network's bridge gets one Open
 * vSwitch tunnel port (vxlan or gre, in userspace on the netdev datapath)
 * to each other end: the same network's tunnels on the pool's other hosts
 * and the addresses in the network's other_config:tunnel_peers, with the
 * key other_config:tunnel_key or one derived from the network's uuid. The
 * packets leave through the transport PIF's bridge, whose address is the
 * tunnel's local end. In a pool the master makes the records and each
 * host plugs its own PIFs (pif_plug_ref calls the PIF's host): a tunnel
 * made or destroyed on one host, the network's tunnels on the others get
 * their ports again. */
#include "pif.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/uuid.h"
#include "../net/net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cp(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

static void random_mac(char out[18])
{
	unsigned char b[6];
	char u[UUID_STRLEN + 1];
	uuid_generate_str(u); /* random hex digits */
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)strtoul((char[]){u[2 * i], u[2 * i + 1], 0}, NULL, 16);
	b[0] = (unsigned char)((b[0] & 0xfe) | 0x02);
	snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
}

/* The network's other tunnels, plugged, get their ports again: one to
 * the tunnel made, none to the one gone. On their hosts (pif_plug_ref
 * calls there); a host that cannot be reached now gets them when it plugs
 * its tunnel again. Called with the PIF lock held. */
static void others_refresh(struct rpc_ctx *ctx, const char *net, const char *except)
{
	xv accs = xv_arr_new();
	db_rdlock(ctx->db);
	for (struct db_obj *tu = db_first(ctx->db, SC_C_tunnel); tu; tu = db_next(tu)) {
		struct db_obj *acc = db_lookup_cls(ctx->db, SC_C_PIF, db_peek_str(tu, SC_F_tunnel__access_PIF));
		if (acc && strcmp(acc->ref, except) != 0 && !strcmp(db_peek_str(acc, SC_F_PIF__network), net) &&
		    db_peek_bool(acc, SC_F_PIF__currently_attached))
			xv_arr_push_str(&accs, acc->ref);
	}
	db_unlock(ctx->db);
	for (size_t i = 0; i < xv_len(&accs); i++) {
		struct xerr e = XERR_INIT;
		if (pif_plug_ref(ctx, xv_as_str(xv_arr_get(&accs, i)), &e) < 0)
			log_warn("tunnel: the ports of %s not refreshed: %s", xv_as_str(xv_arr_get(&accs, i)),
				 e.nparams ? e.params[0] : e.code ? e.code : "?");
		xerr_clear(&e);
	}
	xv_free(&accs);
}

static int tunnel_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *proto = arg_str(args, 2);
	if (strcmp(proto, "gre") != 0 && strcmp(proto, "vxlan") != 0)
		return xerr_set(err, ERR_INVALID_VALUE, "protocol", proto, NULL);
	if (pif_live(ctx) && net_backend() != NET_BACKEND_OVS)
		return xerr_set(err, ERR_OPENVSWITCH_NOT_ACTIVE, NULL);
	pif_lock();
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *tr = generic_lookup(ctx, SC_C_PIF, xv_arr_get(args, 0), err);
	struct db_obj *net = tr ? generic_lookup(ctx, SC_C_network, xv_arr_get(args, 1), err) : NULL;
	int rc = net ? 0 : -1;
	const char *host = tr ? db_peek_str(tr, SC_F_PIF__host) : "";
	/* every host of the pool runs Open vSwitch */
	for (struct db_obj *h = rc == 0 ? db_first(ctx->db, SC_C_host) : NULL; h && rc == 0; h = db_next(h)) {
		const char *nb = xv_map_get_str(db_peek(h, SC_F_host__software_version), "network_backend");
		if (nb && strcmp(nb, "openvswitch") != 0)
			rc = xerr_set(err, ERR_OPENVSWITCH_NOT_ACTIVE, NULL);
	}
	for (struct db_obj *tu = rc == 0 ? db_first(ctx->db, SC_C_tunnel) : NULL; tu && rc == 0; tu = db_next(tu))
		if (!strcmp(db_peek_str(tu, SC_F_tunnel__access_PIF), tr->ref))
			rc = xerr_set(err, ERR_IS_TUNNEL_ACCESS_PIF, tr->ref, NULL);
	if (rc == 0) {
		const char *mode = db_peek_str(tr, SC_F_PIF__ip_configuration_mode);
		if (!*mode || !strcmp(mode, "None"))
			rc = xerr_set(err, ERR_TRANSPORT_PIF_NOT_CONFIGURED, tr->ref, NULL);
	}
	for (struct db_obj *q = rc == 0 ? db_first(ctx->db, SC_C_PIF) : NULL; q && rc == 0; q = db_next(q))
		if (!strcmp(db_peek_str(q, SC_F_PIF__network), net->ref) && !strcmp(db_peek_str(q, SC_F_PIF__host), host))
			rc = xerr_set(err, ERR_NETWORK_ALREADY_CONNECTED, host, q->ref, NULL);
	char device[NET_IFNAMSIZ] = "";
	for (int k = 0; rc == 0 && !device[0] && k < 10000; k++) {
		snprintf(device, sizeof device, "tunnel%d", k);
		for (struct db_obj *q = db_first(ctx->db, SC_C_PIF); q; q = db_next(q))
			if (!strcmp(db_peek_str(q, SC_F_PIF__host), host) && !strcmp(db_peek_str(q, SC_F_PIF__device), device))
				device[0] = '\0';
	}
	if (rc < 0) {
		db_abort(t);
		pif_unlock();
		return -1;
	}
	char mac[18];
	random_mac(mac);
	struct db_obj *acc = db_create(t, SC_C_PIF, NULL);
	struct db_obj *tu = db_create(t, SC_C_tunnel, NULL);
	db_set_str(t, acc, SC_F_PIF__device, device);
	db_set_str(t, acc, SC_F_PIF__host, host);
	db_set_str(t, acc, SC_F_PIF__network, net->ref);
	db_set_str(t, acc, SC_F_PIF__MAC, mac);
	db_set_int(t, acc, SC_F_PIF__MTU, -1);
	db_set_int(t, acc, SC_F_PIF__VLAN, -1);
	db_set_bool(t, acc, SC_F_PIF__physical, false);
	db_set_bool(t, acc, SC_F_PIF__managed, true);
	db_set_bool(t, acc, SC_F_PIF__currently_attached, false);
	db_set_bool(t, acc, SC_F_PIF__management, false);
	db_set_bool(t, acc, SC_F_PIF__disallow_unplug, false);
	db_set_str(t, acc, SC_F_PIF__ip_configuration_mode, "None");
	db_set_str(t, acc, SC_F_PIF__ipv6_configuration_mode, "None");
	db_set_str(t, acc, SC_F_PIF__primary_address_type, "IPv4");
	db_set_str(t, acc, SC_F_PIF__bond_slave_of, REF_NULL);
	db_set_str(t, acc, SC_F_PIF__VLAN_master_of, REF_NULL);
	db_set_str(t, acc, SC_F_PIF__metrics, REF_NULL);
	db_set_str(t, tu, SC_F_tunnel__access_PIF, acc->ref);
	db_set_str(t, tu, SC_F_tunnel__transport_PIF, tr->ref);
	db_set_str(t, tu, SC_F_tunnel__protocol, proto);
	xv st = xv_map_new();
	xv_map_set_str(&st, "active", "false");
	db_set(t, tu, SC_F_tunnel__status, st);
	char tref[REF_STRLEN + 1], aref[REF_STRLEN + 1], trref[REF_STRLEN + 1], nref[REF_STRLEN + 1];
	cp(nref, sizeof nref, net->ref);
	cp(tref, sizeof tref, tu->ref);
	cp(aref, sizeof aref, acc->ref);
	cp(trref, sizeof trref, tr->ref);
	bool tr_attached = db_peek_bool(tr, SC_F_PIF__currently_attached);
	rc = db_commit(t, err);
	/* the transport first: its bridge carries the tunnel's packets */
	if (rc == 0 && !tr_attached)
		rc = pif_plug_ref(ctx, trref, err);
	if (rc == 0)
		rc = pif_plug_ref(ctx, aref, err);
	if (rc < 0 && tref[0]) {
		struct xerr e = XERR_INIT;
		struct db_txn *u = db_begin(ctx->db);
		struct db_obj *o = db_lookup_cls(ctx->db, SC_C_tunnel, tref);
		if (o)
			db_delete(u, o);
		o = db_lookup_cls(ctx->db, SC_C_PIF, aref);
		if (o)
			db_delete(u, o);
		db_commit(u, &e);
		xerr_clear(&e);
	} else if (rc == 0) {
		struct xerr e = XERR_INIT;
		struct db_txn *u = db_begin(ctx->db);
		struct db_obj *o = db_lookup_cls(ctx->db, SC_C_tunnel, tref);
		if (o)
			xv_map_set_str(db_edit(u, o, SC_F_tunnel__status), "active", "true");
		db_commit(u, &e);
		xerr_clear(&e);
		others_refresh(ctx, nref, aref);
	}
	pif_unlock();
	if (rc == 0) {
		log_info("tunnel: %s (%s) on %s", device, proto, db_peek_str(net, SC_F_network__bridge));
		*result = xv_str(tref);
	}
	return rc;
}

static int tunnel_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	pif_lock();
	db_rdlock(ctx->db);
	struct db_obj *tu = generic_lookup(ctx, SC_C_tunnel, xv_arr_get(args, 0), err);
	char tref[REF_STRLEN + 1] = "", aref[REF_STRLEN + 1] = "", nref[REF_STRLEN + 1] = "";
	bool attached = false;
	if (tu) {
		cp(tref, sizeof tref, tu->ref);
		cp(aref, sizeof aref, db_peek_str(tu, SC_F_tunnel__access_PIF));
		struct db_obj *acc = db_lookup_cls(ctx->db, SC_C_PIF, aref);
		attached = acc && db_peek_bool(acc, SC_F_PIF__currently_attached);
		cp(nref, sizeof nref, acc ? db_peek_str(acc, SC_F_PIF__network) : "");
	}
	db_unlock(ctx->db);
	int rc = tu ? 0 : -1;
	if (rc == 0 && attached)
		rc = pif_unplug_ref(ctx, aref, err);
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		struct db_obj *o = db_lookup_cls(ctx->db, SC_C_PIF, aref);
		if (o)
			db_delete(t, o);
		o = db_lookup_cls(ctx->db, SC_C_tunnel, tref);
		if (o)
			db_delete(t, o);
		rc = db_commit(t, err);
	}
	if (rc == 0 && nref[0])
		others_refresh(ctx, nref, aref);
	pif_unlock();
	return rc;
}

int tunnel_joined_host(struct server *srv, const char *host_ref)
{
	int failed = 0;
	struct rpc_ctx ctx = {.srv = srv, .db = srv->db, .rbac_exempt = true};
	xv todo = xv_arr_new(); /* [transport PIF, network, protocol] … */
	db_rdlock(srv->db);
	for (struct db_obj *tu = db_first(srv->db, SC_C_tunnel); tu; tu = db_next(tu)) {
		struct db_obj *acc = db_lookup_cls(srv->db, SC_C_PIF, db_peek_str(tu, SC_F_tunnel__access_PIF));
		struct db_obj *tr = db_lookup_cls(srv->db, SC_C_PIF, db_peek_str(tu, SC_F_tunnel__transport_PIF));
		if (!acc || !tr || !strcmp(db_peek_str(acc, SC_F_PIF__host), host_ref))
			continue;
		const char *net = db_peek_str(acc, SC_F_PIF__network), *tnet = db_peek_str(tr, SC_F_PIF__network);
		struct db_obj *mine = NULL; /* the joined host's PIF there */
		bool has = false;
		for (struct db_obj *q = db_first(srv->db, SC_C_PIF); q; q = db_next(q)) {
			if (strcmp(db_peek_str(q, SC_F_PIF__host), host_ref) != 0)
				continue;
			has = has || !strcmp(db_peek_str(q, SC_F_PIF__network), net);
			const char *mode = db_peek_str(q, SC_F_PIF__ip_configuration_mode);
			if (!strcmp(db_peek_str(q, SC_F_PIF__network), tnet) && *mode && strcmp(mode, "None"))
				mine = q;
		}
		for (size_t i = 0; i < xv_len(&todo) && !has; i++)
			has = !strcmp(xv_as_str(xv_arr_get(xv_arr_get(&todo, i), 1)), net);
		if (has || !mine)
			continue;
		xv a = xv_arr_new();
		xv_arr_push_str(&a, mine->ref);
		xv_arr_push_str(&a, net);
		xv_arr_push_str(&a, db_peek_str(tu, SC_F_tunnel__protocol));
		xv_arr_push(&todo, a);
	}
	db_unlock(srv->db);
	for (size_t i = 0; i < xv_len(&todo); i++) {
		xv a = xv_copy(xv_arr_get(&todo, i)), r = XV_NIL_INIT;
		struct xerr e = XERR_INIT;
		if (tunnel_create(&ctx, &a, &r, &e) < 0) {
			log_warn("tunnel: none for the joined host on %s yet: %s", xv_as_str(xv_arr_get(&a, 1)),
				 e.nparams ? e.params[0] : e.code ? e.code : "?");
			failed++;
		} else
			log_info("tunnel: %s for the joined host", xv_as_str(&r));
		xv_free(&a);
		xv_free(&r);
		xerr_clear(&e);
	}
	xv_free(&todo);
	return failed;
}

RPC_IMPL(tunnel, create, tunnel_create, RPC_SLOW);
RPC_IMPL(tunnel, destroy, tunnel_destroy, RPC_SLOW);
