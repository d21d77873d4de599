/* vif_policy: builds a VIF's net_vif_policy from its record — xapi's
 * locking_mode (network_default takes the network's default_locking_mode),
 * ipv4_allowed/ipv6_allowed, qos_algorithm_type "ratelimit" with
 * qos_algorithm_params:kbps, other_config:promiscuous, the network's MTU —
 * and keeps running VMs' taps in step with it: a thread looks at the store
 * when it changed and applies what differs from what it applied last, so
 * every way of changing those fields (explicit calls, generic setters,
 * xe vif-param-set) is live. Also VIF.add/remove_ipv4_allowed and
 * _ipv6_allowed, which check the address first. */
#include "api.h"
#include "vif_policy.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void vif_policy_of(struct db *db, struct db_obj *vif, struct db_obj *net, struct net_vif_policy *p)
{
	(void)db;
	memset(p, 0, sizeof *p);
	const char *mode = db_peek_str(vif, SC_F_VIF__locking_mode);
	if (!*mode || !strcmp(mode, "network_default"))
		mode = net ? db_peek_str(net, SC_F_network__default_locking_mode) : "unlocked";
	p->lock = !strcmp(mode, "locked") ? NET_LOCK_LOCKED : !strcmp(mode, "disabled") ? NET_LOCK_DISABLED
											: NET_LOCK_UNLOCKED;
	snprintf(p->mac, sizeof p->mac, "%s", db_peek_str(vif, SC_F_VIF__MAC));
	const xv *v4 = db_peek(vif, SC_F_VIF__ipv4_allowed);
	p->n4 = 0;
	for (size_t i = 0; v4 && v4->kind == XV_ARR && i < xv_len(v4) && p->n4 < NET_VIF_ADDRS; i++) {
		const char *a = xv_as_str(xv_arr_get(v4, i));
		if (a && *a)
			snprintf(p->ipv4[p->n4++], sizeof p->ipv4[0], "%s", a);
	}
	const xv *v6 = db_peek(vif, SC_F_VIF__ipv6_allowed);
	for (size_t i = 0; v6 && v6->kind == XV_ARR && i < xv_len(v6) && p->n6 < NET_VIF_ADDRS; i++) {
		const char *a = xv_as_str(xv_arr_get(v6, i));
		if (a && *a)
			snprintf(p->ipv6[p->n6++], sizeof p->ipv6[0], "%s", a);
	}
	if (!strcmp(db_peek_str(vif, SC_F_VIF__qos_algorithm_type), "ratelimit")) {
		const char *k = xv_map_get_str(db_peek(vif, SC_F_VIF__qos_algorithm_params), "kbps");
		p->kbps = k ? atoll(k) : 0;
		if (p->kbps < 0)
			p->kbps = 0;
	}
	const char *pr = xv_map_get_str(db_peek(vif, SC_F_VIF__other_config), "promiscuous");
	p->promiscuous = pr && (!strcmp(pr, "true") || !strcmp(pr, "on"));
	p->mtu = net ? db_peek_int(net, SC_F_network__MTU) : 0;
}

/* ---- the thread ---- */

struct applied {
	char tap[NET_IFNAMSIZ], bridge[NET_IFNAMSIZ];
	struct net_vif_policy p;
	bool seen;
};

static struct {
	pthread_t th;
	bool running, stop;
	struct server *srv;
	struct applied *v;
	size_t n, cap;
} pol;

static struct applied *find(const char *tap)
{
	for (size_t i = 0; i < pol.n; i++)
		if (!strcmp(pol.v[i].tap, tap))
			return &pol.v[i];
	return NULL;
}

struct want {
	char tap[NET_IFNAMSIZ], bridge[NET_IFNAMSIZ];
	struct net_vif_policy p;
};

static void pass(void)
{
	struct db *db = pol.srv->db;
	struct want *w = NULL;
	size_t n = 0, cap = 0;
	db_rdlock(db);
	for (struct db_obj *vif = db_first(db, SC_C_VIF); vif; vif = db_next(vif)) {
		if (!db_peek_bool(vif, SC_F_VIF__currently_attached))
			continue;
		struct db_obj *vm = db_lookup_cls(db, SC_C_VM, db_peek_str(vif, SC_F_VIF__VM));
		struct db_obj *net = db_lookup_cls(db, SC_C_network, db_peek_str(vif, SC_F_VIF__network));
		if (!vm || !net || strcmp(db_peek_str(vm, SC_F_VM__power_state), "Running") != 0 ||
		    strcmp(db_peek_str(vm, SC_F_VM__resident_on), pol.srv->host_ref) != 0)
			continue;
		char *end;
		long dev = strtol(db_peek_str(vif, SC_F_VIF__device), &end, 10);
		if (*end || dev < 0)
			continue;
		if (n == cap)
			w = xrealloc(w, (cap = cap ? cap * 2 : 8) * sizeof *w);
		if (!net_vif_name(db_peek_int(vm, SC_F_VM__domid), (int)dev, w[n].tap))
			continue;
		snprintf(w[n].bridge, sizeof w[n].bridge, "%s", db_peek_str(net, SC_F_network__bridge));
		vif_policy_of(db, vif, net, &w[n].p);
		n++;
	}
	db_unlock(db);
	for (size_t i = 0; i < pol.n; i++)
		pol.v[i].seen = false;
	for (size_t i = 0; i < n; i++) {
		struct applied *a = find(w[i].tap);
		if (a && !strcmp(a->bridge, w[i].bridge) && !memcmp(&a->p, &w[i].p, sizeof a->p)) {
			a->seen = true;
			continue;
		}
		if (!a) {
			/* a tap made by the backend has its policy already */
			if (pol.n == pol.cap)
				pol.v = xrealloc(pol.v, (pol.cap = pol.cap ? pol.cap * 2 : 8) * sizeof *pol.v);
			a = &pol.v[pol.n++];
			memset(a, 0, sizeof *a);
			snprintf(a->tap, sizeof a->tap, "%s", w[i].tap);
			snprintf(a->bridge, sizeof a->bridge, "%s", w[i].bridge);
			a->p = w[i].p;
			a->seen = true;
			continue;
		}
		struct xerr e = XERR_INIT;
		if (net_vif_policy_apply(w[i].tap, w[i].bridge, &w[i].p, &e) < 0) {
			log_warn("vif: %s: %s", w[i].tap, e.nparams ? e.params[0] : e.code);
			xerr_clear(&e);
			continue; /* tried again at the next change */
		}
		log_info("vif: %s: policy applied (locking %d, %zu+%zu addresses, %lld kbps%s)", w[i].tap, w[i].p.lock,
			 w[i].p.n4, w[i].p.n6, (long long)w[i].p.kbps, w[i].p.promiscuous ? ", promiscuous" : "");
		snprintf(a->bridge, sizeof a->bridge, "%s", w[i].bridge);
		a->p = w[i].p;
		a->seen = true;
	}
	/* forget taps that are gone */
	size_t k = 0;
	for (size_t i = 0; i < pol.n; i++)
		if (pol.v[i].seen)
			pol.v[k++] = pol.v[i];
	pol.n = k;
	free(w);
}

static void *loop(void *arg)
{
	(void)arg;
	uint64_t gen = 0;
	while (!__atomic_load_n(&pol.stop, __ATOMIC_ACQUIRE)) {
		uint64_t g = db_generation(pol.srv->db);
		if (g != gen) {
			gen = g;
			pass();
		}
		usleep(200 * 1000);
	}
	return NULL;
}

void vif_policy_start(struct server *srv)
{
	if (!strcmp(srv->backend->name, "sim") || pol.running)
		return; /* the simulator's VIFs have no taps */
	pol.srv = srv;
	pol.stop = false;
	if (pthread_create(&pol.th, NULL, loop, NULL) == 0)
		pol.running = true;
}

void vif_policy_stop(void)
{
	if (!pol.running)
		return;
	__atomic_store_n(&pol.stop, true, __ATOMIC_RELEASE);
	pthread_join(pol.th, NULL);
	pol.running = false;
	free(pol.v);
	pol.v = NULL;
	pol.n = pol.cap = 0;
}

/* ---- VIF.add/remove_ipv4_allowed, _ipv6_allowed ---- */

static int allowed_change(struct rpc_ctx *ctx, xv *args, int field, int family, bool add, struct xerr *err)
{
	const char *a = arg_str(args, 1);
	unsigned char buf[16];
	if (add && inet_pton(family, a, buf) != 1)
		return xerr_set(err, ERR_INVALID_IP_ADDRESS_SPECIFIED, "value", NULL);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vif = generic_lookup(ctx, SC_C_VIF, xv_arr_get(args, 0), err);
	if (!vif) {
		db_abort(t);
		return -1;
	}
	xv s = xv_str(a);
	const xv *cur = db_peek(vif, field);
	bool has = cur && xv_arr_contains(cur, &s);
	if (add && !has)
		xv_arr_push(db_edit(t, vif, field), s);
	else {
		if (!add && has)
			xv_arr_remove(db_edit(t, vif, field), &s);
		xv_free(&s);
	}
	return db_commit(t, err);
}

static int add_ipv4(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return allowed_change(ctx, args, SC_F_VIF__ipv4_allowed, AF_INET, true, err);
}

static int remove_ipv4(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return allowed_change(ctx, args, SC_F_VIF__ipv4_allowed, AF_INET, false, err);
}

static int add_ipv6(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return allowed_change(ctx, args, SC_F_VIF__ipv6_allowed, AF_INET6, true, err);
}

static int remove_ipv6(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return allowed_change(ctx, args, SC_F_VIF__ipv6_allowed, AF_INET6, false, err);
}

RPC_IMPL(VIF, add_ipv4_allowed, add_ipv4, 0);
RPC_IMPL(VIF, remove_ipv4_allowed, remove_ipv4, 0);
RPC_IMPL(VIF, add_ipv6_allowed, add_ipv6, 0);
RPC_IMPL(VIF, remove_ipv6_allowed, remove_ipv6, 0);
