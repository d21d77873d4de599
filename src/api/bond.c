/* bond: Bond.create/destroy/set_mode/set_property as xapi has them. The
 * master PIF bond<N> takes the primary member's IP configuration (and the
 * management flag), the members lose theirs and are plugged only through
 * the bond: an Open vSwitch bond port of the network's bridge (modes
 * active-backup, balance-slb, lacp; the netdev datapath runs them in
 * userspace). Destroy gives the configuration back to the primary member
 * and plugs the members again if the bond was plugged. */
#include "pif.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../net/net.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void cp(char *dst, size_t n, const char *s)
{
	snprintf(dst, n, "%s", s ? s : "");
}

static bool mac_ok(const char *m)
{
	if (strlen(m) != 17)
		return false;
	for (int i = 0; i < 17; i++)
		if (i % 3 == 2 ? m[i] != ':' : !isxdigit((unsigned char)m[i]))
			return false;
	return true;
}

static bool is_int(const char *s)
{
	char *end;
	if (!*s)
		return false;
	strtoll(s, &end, 10);
	return !*end;
}

/* One property checked as xapi's Bond validation does; its default filled
 * in when absent. */
static int property_ok(const char *mode, const char *k, const char *v, struct xerr *err)
{
	bool ok = true;
	if (!strcmp(k, "hashing_algorithm"))
		ok = !strcmp(v, "src_mac") || !strcmp(v, "tcpudp_ports");
	else if (!strcmp(k, "lacp-time"))
		ok = !strcmp(v, "slow") || !strcmp(v, "fast");
	else if (!strcmp(k, "lacp-fallback-ab"))
		ok = !strcmp(v, "true") || !strcmp(v, "false");
	else if (!strcmp(k, "lacp-aggregation-key"))
		ok = is_int(v);
	else
		return 0; /* others are kept as given, as xapi keeps them */
	(void)mode;
	return ok ? 0 : xerr_set(err, ERR_INVALID_VALUE, k, v, NULL);
}

/* xapi's defaults: lacp gets tcpudp_ports hashing, slow LACP and fallback
 * to active-backup; other modes src_mac hashing. */
static int properties_of(const char *mode, const xv *given, xv *out, struct xerr *err)
{
	*out = xv_map_new();
	bool lacp = !strcmp(mode, "lacp");
	xv_map_set_str(out, "hashing_algorithm", lacp ? "tcpudp_ports" : "src_mac");
	if (lacp) {
		xv_map_set_str(out, "lacp-time", "slow");
		xv_map_set_str(out, "lacp-fallback-ab", "true");
	}
	for (size_t i = 0; given && given->kind == XV_MAP && i < given->u.m->n; i++) {
		const char *k = given->u.m->keys[i], *v = xv_as_str(&given->u.m->vals[i]);
		if (!k || !v)
			continue;
		if (property_ok(mode, k, v, err) < 0) {
			xv_free(out);
			return -1;
		}
		if (!lacp && strncmp(k, "lacp", 4) == 0)
			continue; /* lacp's own, meaningless in this mode */
		xv_map_set_str(out, k, v);
	}
	return 0;
}

static bool mode_ok(const char *m)
{
	return !strcmp(m, "balance-slb") || !strcmp(m, "active-backup") || !strcmp(m, "lacp");
}

static bool has_ip(struct db_obj *p)
{
	const char *m = db_peek_str(p, SC_F_PIF__ip_configuration_mode);
	return (*m && strcmp(m, "None") != 0) || strcmp(db_peek_str(p, SC_F_PIF__ipv6_configuration_mode), "None") > 0;
}

static void copy_ip(struct db_txn *t, struct db_obj *from, struct db_obj *to)
{
	static const int f[] = {SC_F_PIF__ip_configuration_mode, SC_F_PIF__IP, SC_F_PIF__netmask, SC_F_PIF__gateway,
				SC_F_PIF__DNS, SC_F_PIF__ipv6_configuration_mode, SC_F_PIF__IPv6,
				SC_F_PIF__ipv6_gateway, SC_F_PIF__primary_address_type};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		db_set(t, to, f[i], xv_copy(db_peek(from, f[i])));
}

static int bond_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const xv *members_arg = xv_arr_get(args, 1);
	const char *mac = arg_str(args, 2), *mode = arg_str(args, 3);
	if (*mac && !mac_ok(mac))
		return xerr_set(err, ERR_MAC_INVALID, mac, NULL);
	if (!mode_ok(mode))
		return xerr_set(err, ERR_INVALID_VALUE, "mode", mode, NULL);
	xv props;
	if (properties_of(mode, xv_arr_get(args, 4), &props, err) < 0)
		return -1;
	pif_lock();
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *net = generic_lookup(ctx, SC_C_network, xv_arr_get(args, 0), err);
	struct db_obj *m[PIF_BOND_MAX];
	size_t n = 0;
	int rc = net ? 0 : -1;
	for (size_t i = 0; rc == 0 && members_arg && i < xv_len(members_arg); i++) {
		struct db_obj *p = generic_lookup(ctx, SC_C_PIF, xv_arr_get(members_arg, i), err);
		if (!p) {
			rc = -1;
			break;
		}
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup |= m[j] == p;
		if (dup)
			continue; /* xapi setifies the members */
		if (n == PIF_BOND_MAX)
			rc = xerr_set(err, ERR_INVALID_VALUE, "members", "more than 8", NULL);
		else
			m[n++] = p;
	}
	const char *host = n ? db_peek_str(m[0], SC_F_PIF__host) : "";
	size_t with_ip = 0;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (!ref_is_null(db_peek_str(m[i], SC_F_PIF__bond_slave_of)))
			rc = xerr_set(err, ERR_PIF_ALREADY_BONDED, m[i]->ref, NULL);
		else if (db_peek_int(m[i], SC_F_PIF__VLAN) >= 0)
			rc = xerr_set(err, ERR_PIF_VLAN_EXISTS, db_peek_str(m[i], SC_F_PIF__device), NULL);
		else if (!db_peek_bool(m[i], SC_F_PIF__physical))
			rc = xerr_set(err, ERR_PIF_IS_NOT_PHYSICAL, m[i]->ref, NULL);
		else if (strcmp(db_peek_str(m[i], SC_F_PIF__host), host) != 0)
			rc = xerr_set(err, ERR_PIF_CANNOT_BOND_CROSS_HOST, NULL);
		with_ip += has_ip(m[i]);
	}
	if (rc == 0 && n < 2)
		rc = xerr_set(err, ERR_PIF_BOND_NEEDS_MORE_MEMBERS, NULL);
	if (rc == 0 && with_ip > 1)
		rc = xerr_set(err, ERR_PIF_BOND_MORE_THAN_ONE_IP, NULL);
	for (struct db_obj *q = rc == 0 ? db_first(ctx->db, SC_C_PIF) : NULL; q && rc == 0; q = db_next(q))
		if (!strcmp(db_peek_str(q, SC_F_PIF__network), net->ref) && !strcmp(db_peek_str(q, SC_F_PIF__host), host))
			rc = xerr_set(err, ERR_NETWORK_ALREADY_CONNECTED, host, q->ref, NULL);
	/* one bond device name per host: bond<N>, the first N free */
	char device[NET_IFNAMSIZ] = "";
	for (int k = 0; rc == 0 && !device[0]; k++) {
		snprintf(device, sizeof device, "bond%d", k);
		for (struct db_obj *q = db_first(ctx->db, SC_C_PIF); q; q = db_next(q))
			if (!strcmp(db_peek_str(q, SC_F_PIF__host), host) && !strcmp(db_peek_str(q, SC_F_PIF__device), device))
				device[0] = '\0';
		if (!device[0] && k > 64)
			rc = xerr_internal(err, "no free bond device name");
	}
	if (rc < 0) {
		db_abort(t);
		xv_free(&props);
		pif_unlock();
		return -1;
	}
	/* the primary: the management PIF, else the first with an address,
	 * else the first */
	struct db_obj *primary = NULL;
	for (size_t i = 0; i < n && !primary; i++)
		if (db_peek_bool(m[i], SC_F_PIF__management))
			primary = m[i];
	for (size_t i = 0; i < n && !primary; i++)
		if (has_ip(m[i]))
			primary = m[i];
	if (!primary)
		primary = m[0];
	bool plugged = false, management = db_peek_bool(primary, SC_F_PIF__management);
	char member_refs[PIF_BOND_MAX][REF_STRLEN + 1];
	for (size_t i = 0; i < n; i++) {
		plugged |= db_peek_bool(m[i], SC_F_PIF__currently_attached);
		cp(member_refs[i], sizeof member_refs[i], m[i]->ref);
	}
	struct db_obj *master = db_create(t, SC_C_PIF, NULL);
	struct db_obj *bond = db_create(t, SC_C_Bond, NULL);
	db_set_str(t, master, SC_F_PIF__device, device);
	db_set_str(t, master, SC_F_PIF__host, host);
	db_set_str(t, master, SC_F_PIF__network, net->ref);
	db_set_str(t, master, SC_F_PIF__MAC, *mac ? mac : db_peek_str(primary, SC_F_PIF__MAC));
	db_set_int(t, master, SC_F_PIF__MTU, db_peek_int(net, SC_F_network__MTU));
	db_set_int(t, master, SC_F_PIF__VLAN, -1);
	db_set_bool(t, master, SC_F_PIF__physical, false);
	db_set_bool(t, master, SC_F_PIF__managed, true);
	db_set_bool(t, master, SC_F_PIF__currently_attached, false);
	db_set_bool(t, master, SC_F_PIF__management, management);
	db_set_bool(t, master, SC_F_PIF__disallow_unplug, false);
	db_set_str(t, master, SC_F_PIF__bond_slave_of, REF_NULL);
	db_set_str(t, master, SC_F_PIF__VLAN_master_of, REF_NULL);
	db_set_str(t, master, SC_F_PIF__metrics, REF_NULL);
	copy_ip(t, primary, master);
	db_set_str(t, bond, SC_F_Bond__master, master->ref);
	db_set_str(t, bond, SC_F_Bond__primary_slave, primary->ref);
	db_set_str(t, bond, SC_F_Bond__mode, mode);
	db_set(t, bond, SC_F_Bond__properties, props);
	db_set_bool(t, bond, SC_F_Bond__auto_update_mac, !*mac);
	db_set_int(t, bond, SC_F_Bond__links_up, 0);
	for (size_t i = 0; i < n; i++) {
		db_set_str(t, m[i], SC_F_PIF__bond_slave_of, bond->ref);
		db_set_str(t, m[i], SC_F_PIF__ip_configuration_mode, "None");
		db_set_str(t, m[i], SC_F_PIF__IP, "");
		db_set_str(t, m[i], SC_F_PIF__netmask, "");
		db_set_str(t, m[i], SC_F_PIF__gateway, "");
		db_set_bool(t, m[i], SC_F_PIF__disallow_unplug, false);
		db_set_bool(t, m[i], SC_F_PIF__management, false);
	}
	char bref[REF_STRLEN + 1], mref[REF_STRLEN + 1];
	cp(bref, sizeof bref, bond->ref);
	cp(mref, sizeof mref, master->ref);
	/* the members come off their bridges before the bond takes them */
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (db_peek_bool(m[i], SC_F_PIF__currently_attached))
			db_set_bool(t, m[i], SC_F_PIF__currently_attached, false);
	rc = db_commit(t, err);
	if (rc == 0 && pif_live(ctx)) {
		/* unplug the members' own bridges' ports (records already say so) */
		db_rdlock(ctx->db);
		for (size_t i = 0; i < n; i++) {
			struct db_obj *p = db_lookup_cls(ctx->db, SC_C_PIF, member_refs[i]);
			struct db_obj *pn = p ? db_lookup_cls(ctx->db, SC_C_network, db_peek_str(p, SC_F_PIF__network)) : NULL;
			struct xerr e = XERR_INIT;
			if (pn) {
				const char *br = db_peek_str(pn, SC_F_network__bridge);
				if (net_link_exists(br))
					net_ip_configure(br, "None", "", "", "", &e); /* the address is the bond's now */
				xerr_clear(&e);
				net_port_del(br, db_peek_str(p, SC_F_PIF__device), &e);
			}
			xerr_clear(&e);
		}
		db_unlock(ctx->db);
	}
	if (rc == 0 && (plugged || management) && pif_plug_ref(ctx, mref, err) < 0) {
		/* undo: the records as they were, the members plugged again */
		struct xerr e = XERR_INIT;
		struct db_txn *u = db_begin(ctx->db);
		struct db_obj *b = db_lookup_cls(ctx->db, SC_C_Bond, bref);
		struct db_obj *mp = db_lookup_cls(ctx->db, SC_C_PIF, mref);
		struct db_obj *pr = b ? db_lookup_cls(ctx->db, SC_C_PIF, db_peek_str(b, SC_F_Bond__primary_slave)) : NULL;
		if (pr && mp)
			copy_ip(u, mp, pr);
		if (pr)
			db_set_bool(u, pr, SC_F_PIF__management, management);
		for (size_t i = 0; i < n; i++) {
			struct db_obj *p = db_lookup_cls(ctx->db, SC_C_PIF, member_refs[i]);
			if (p)
				db_set_str(u, p, SC_F_PIF__bond_slave_of, REF_NULL);
		}
		if (mp)
			db_delete(u, mp);
		if (b)
			db_delete(u, b);
		db_commit(u, &e);
		xerr_clear(&e);
		if (plugged)
			for (size_t i = 0; i < n; i++) {
				pif_plug_ref(ctx, member_refs[i], &e);
				xerr_clear(&e);
			}
		rc = -1;
	}
	pif_unlock();
	if (rc == 0) {
		log_info("bond: %s (%s) made of %zu PIFs", device, mode, n);
		*result = xv_str(bref);
	}
	return rc;
}

static int bond_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	pif_lock();
	db_rdlock(ctx->db);
	struct db_obj *b = generic_lookup(ctx, SC_C_Bond, xv_arr_get(args, 0), err);
	char bref[REF_STRLEN + 1] = "", mref[REF_STRLEN + 1] = "";
	bool plugged = false;
	if (b) {
		cp(bref, sizeof bref, b->ref);
		cp(mref, sizeof mref, db_peek_str(b, SC_F_Bond__master));
		struct db_obj *mp = db_lookup_cls(ctx->db, SC_C_PIF, mref);
		plugged = mp && (db_peek_bool(mp, SC_F_PIF__currently_attached) || db_peek_bool(mp, SC_F_PIF__management));
	}
	db_unlock(ctx->db);
	int rc = b ? 0 : -1;
	if (rc == 0 && plugged)
		rc = pif_unplug_ref(ctx, mref, err);
	char members[PIF_BOND_MAX][REF_STRLEN + 1];
	size_t n = 0;
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		b = db_lookup_cls(ctx->db, SC_C_Bond, bref);
		struct db_obj *mp = db_lookup_cls(ctx->db, SC_C_PIF, mref);
		struct db_obj *pr = b ? db_lookup_cls(ctx->db, SC_C_PIF, db_peek_str(b, SC_F_Bond__primary_slave)) : NULL;
		if (pr && mp) {
			copy_ip(t, mp, pr);
			db_set_bool(t, pr, SC_F_PIF__management, db_peek_bool(mp, SC_F_PIF__management));
			if (db_peek_bool(mp, SC_F_PIF__disallow_unplug))
				db_set_bool(t, pr, SC_F_PIF__disallow_unplug, true);
		}
		for (struct db_obj *q = db_first(ctx->db, SC_C_PIF); q; q = db_next(q))
			if (!strcmp(db_peek_str(q, SC_F_PIF__bond_slave_of), bref)) {
				db_set_str(t, q, SC_F_PIF__bond_slave_of, REF_NULL);
				if (n < PIF_BOND_MAX)
					cp(members[n++], REF_STRLEN + 1, q->ref);
			}
		if (mp)
			db_delete(t, mp);
		if (b)
			db_delete(t, b);
		rc = db_commit(t, err);
	}
	/* the members plugged again if the bond was */
	for (size_t i = 0; rc == 0 && plugged && i < n; i++)
		rc = pif_plug_ref(ctx, members[i], err);
	pif_unlock();
	return rc;
}

static int bond_set_mode(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *mode = arg_str(args, 1);
	if (!mode_ok(mode))
		return xerr_set(err, ERR_INVALID_VALUE, "mode", mode, NULL);
	pif_lock();
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *b = generic_lookup(ctx, SC_C_Bond, xv_arr_get(args, 0), err);
	char mref[REF_STRLEN + 1] = "";
	int rc = -1;
	if (b) {
		cp(mref, sizeof mref, db_peek_str(b, SC_F_Bond__master));
		/* the new mode's default properties */
		xv props;
		rc = properties_of(mode, NULL, &props, err);
		if (rc == 0) {
			db_set_str(t, b, SC_F_Bond__mode, mode);
			db_set(t, b, SC_F_Bond__properties, props);
			rc = db_commit(t, err);
		} else {
			db_abort(t);
		}
	} else {
		db_abort(t);
	}
	if (rc == 0)
		rc = pif_bond_apply(ctx, mref, err);
	pif_unlock();
	return rc;
}

static int bond_set_property(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *k = arg_str(args, 1), *v = arg_str(args, 2);
	pif_lock();
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *b = generic_lookup(ctx, SC_C_Bond, xv_arr_get(args, 0), err);
	char mref[REF_STRLEN + 1] = "";
	int rc = b ? property_ok(db_peek_str(b, SC_F_Bond__mode), k, v, err) : -1;
	if (rc == 0) {
		cp(mref, sizeof mref, db_peek_str(b, SC_F_Bond__master));
		xv_map_set_str(db_edit(t, b, SC_F_Bond__properties), k, v);
		rc = db_commit(t, err);
	} else {
		db_abort(t);
	}
	if (rc == 0)
		rc = pif_bond_apply(ctx, mref, err);
	pif_unlock();
	return rc;
}

RPC_IMPL(Bond, create, bond_create, RPC_SLOW);
RPC_IMPL(Bond, destroy, bond_destroy, RPC_SLOW);
RPC_IMPL(Bond, set_mode, bond_set_mode, 0);
RPC_IMPL(Bond, set_property, bond_set_property, 0);
