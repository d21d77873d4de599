/* host_maint: a host going into maintenance — host.disable (no new VM is
 * placed on it) and host.enable, the VMs that would keep it from being
 * emptied (host.get_vms_which_prevent_evacuation; host.evacuate and
 * host.assert_can_evacuate check them alike), how the host is powered on
 * (host.set_power_on_mode, host.power_on), and host.shutdown /
 * host.reboot, refused as xapi refuses them until the host is disabled
 * (HOST_NOT_DISABLED) and runs no VM (HOST_IN_USE). Here a host is its
 * xenond: its shutdown stops the daemon, its reboot restarts it (the
 * machine is not this daemon's to stop). */
#include "api.h"
#include "generic.h"
#include "op.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "server.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int set_enabled(struct rpc_ctx *ctx, xv *args, bool on, struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	if (!h) {
		db_abort(t);
		return -1;
	}
	db_set_bool(t, h, SC_F_host__enabled, on);
	if (db_commit(t, err) < 0)
		return -1;
	log_info("host %s: %s", db_peek_str(h, SC_F_host__name_label), on ? "enabled" : "disabled");
	return 0;
}

static int host_disable(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	return set_enabled(ctx, args, false, err);
}

static int host_enable(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	return set_enabled(ctx, args, true, err);
}

static bool runs_here(struct db_obj *vm, const char *host)
{
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	return !db_peek_bool(vm, SC_F_VM__is_control_domain) &&
	       (!strcmp(ps, "Running") || !strcmp(ps, "Paused")) &&
	       !strcmp(db_peek_str(vm, SC_F_VM__resident_on), host);
}

/* Whether a disk of vm is on an SR no other host of the pool reaches (a
 * local SR): the VM cannot leave without storage motion. */
static const char *local_disk(struct db *db, struct db_obj *vm, const char *host)
{
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	const char *found = NULL;
	for (size_t i = 0; i < xv_len(&vbds) && !found; i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		struct db_obj *vdi = vbd && !db_peek_bool(vbd, SC_F_VBD__empty)
					     ? db_lookup_cls(db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI))
					     : NULL;
		struct db_obj *sr = vdi ? db_lookup_cls(db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
		if (sr && !db_peek_bool(sr, SC_F_SR__shared))
			found = vdi->ref;
	}
	xv_free(&vbds);
	(void)host;
	return found;
}

static int64_t footprint(const struct db_obj *vm)
{
	return db_peek_int(vm, SC_F_VM__memory_dynamic_max) + db_peek_int(vm, SC_F_VM__memory_overhead);
}

/* Memory left on host h for guests, as VM placement counts it, less what
 * plan already gives it. */
static int64_t host_free(struct db *db, struct db_obj *h, int64_t planned)
{
	struct db_obj *hm = db_lookup_cls(db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
	if (!hm)
		return 0;
	int64_t f = db_peek_int(hm, SC_F_host_metrics__memory_total) - db_peek_int(h, SC_F_host__memory_overhead);
	for (struct db_obj *o = db_first(db, SC_C_VM); o; o = db_next(o))
		if (runs_here(o, h->ref))
			f -= footprint(o);
	return f - planned;
}

/* Where each VM running on host goes (VM ref -> host ref), first fit
 * over the enabled, live hosts; unplaced VMs are left out. Hold the lock. */
static xv plan_evacuation(struct db *db, struct db_obj *host)
{
	xv plan = xv_map_new();
	size_t n = db_count(db, SC_C_host);
	int64_t *planned = xcalloc(n + 1, sizeof *planned);
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm)) {
		if (!runs_here(vm, host->ref))
			continue;
		size_t i = 0;
		for (struct db_obj *h = db_first(db, SC_C_host); h && i < n; h = db_next(h), i++) {
			struct db_obj *m = db_lookup_cls(db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
			if (h == host || !db_peek_bool(h, SC_F_host__enabled) || !m ||
			    !db_peek_bool(m, SC_F_host_metrics__live) || host_free(db, h, planned[i]) < footprint(vm))
				continue;
			planned[i] += footprint(vm);
			xv_map_set_str(&plan, vm->ref, h->ref);
			break;
		}
	}
	free(planned);
	return plan;
}

/* The VMs running on host that cannot be moved off it, each with xapi's
 * error (code and parameters) saying why. Hold the store's lock. */
static xv blockers(struct db *db, struct db_obj *host)
{
	xv out = xv_map_new();
	size_t nhosts = db_count(db, SC_C_host);
	xv plan = plan_evacuation(db, host);
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm)) {
		if (!runs_here(vm, host->ref))
			continue;
		xv why = xv_arr_new();
		const char *vdi = NULL;
		if (nhosts < 2) {
			xv_arr_push_str(&why, ERR_VM_MIGRATE_FAILED);
			xv_arr_push_str(&why, vm->ref);
			xv_arr_push_str(&why, host->ref);
			xv_arr_push_str(&why, REF_NULL);
			xv_arr_push_str(&why, "no other host in the pool");
		} else if ((vdi = local_disk(db, vm, host->ref))) {
			xv_arr_push_str(&why, ERR_VM_REQUIRES_SR);
			xv_arr_push_str(&why, vm->ref);
			struct db_obj *v = db_lookup_cls(db, SC_C_VDI, vdi);
			xv_arr_push_str(&why, v ? db_peek_str(v, SC_F_VDI__SR) : REF_NULL);
		} else if (!strcmp(db_peek_str(vm, SC_F_VM__power_state), "Paused")) {
			xv_arr_push_str(&why, ERR_VM_BAD_POWER_STATE);
			xv_arr_push_str(&why, vm->ref);
			xv_arr_push_str(&why, "running");
			xv_arr_push_str(&why, "paused");
		} else if (!xv_map_get(&plan, vm->ref)) {
			char need[32];
			snprintf(need, sizeof need, "%lld", (long long)footprint(vm));
			xv_arr_push_str(&why, ERR_HOST_NOT_ENOUGH_FREE_MEMORY);
			xv_arr_push_str(&why, need);
			xv_arr_push_str(&why, "0");
		}
		if (xv_len(&why))
			xv_map_set(&out, vm->ref, why);
		else
			xv_free(&why);
	}
	xv_free(&plan);
	return out;
}

static int get_vms_which_prevent_evacuation(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	if (h)
		*result = blockers(ctx->db, h);
	db_unlock(ctx->db);
	return h ? 0 : -1;
}

/* Whether every VM running on host can leave it (the store's lock held):
 * else, as xapi, host.evacuate raises the first VM's reason and
 * host.assert_can_evacuate all of them in CANNOT_EVACUATE_HOST
 * ("code,param,…|code,…"). */
static int assert_evacuable(struct db *db, struct db_obj *host, bool all, struct xerr *err)
{
	xv block = blockers(db, host);
	int rc = 0;
	if (xv_len(&block) && !all) {
		const xv *why = &block.u.m->vals[0];
		const char *p[5] = {NULL};
		for (size_t i = 1; i < xv_len(why) && i < 5; i++)
			p[i - 1] = xv_as_str(xv_arr_get(why, i));
		rc = xerr_set(err, xv_as_str(xv_arr_get(why, 0)), p[0], p[1], p[2], p[3], NULL);
	} else if (xv_len(&block)) {
		struct strbuf sb = STRBUF_INIT;
		for (size_t k = 0; k < xv_len(&block); k++) {
			const xv *why = &block.u.m->vals[k];
			for (size_t i = 0; i < xv_len(why); i++)
				sb_printf(&sb, "%s%s", i ? "," : k ? "|" : "", xv_as_str(xv_arr_get(why, i)));
		}
		rc = xerr_set(err, ERR_CANNOT_EVACUATE_HOST, sb.buf ? sb.buf : "", NULL);
		sb_free(&sb);
	}
	xv_free(&block);
	return rc;
}

static int host_assert_can_evacuate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	int rc = h ? assert_evacuable(ctx->db, h, true, err) : -1;
	db_unlock(ctx->db);
	return rc;
}

/* Every VM running on the host live-migrated to hosts that fit, refused
 * up front (with the first blocker's error) when any cannot go. */
/* One VM of an evacuation's batch, migrated on a thread of its own with a
 * copy of the call's context: without its task, which counts the VMs done
 * (its cancel stops the evacuation between batches). */
struct evac_move {
	struct rpc_ctx ctx;
	const char *vm, *to, *network; /* network: NULL for the migration's default */
	struct xerr err;
	int rc;
	pthread_t thread;
	bool started;
};

static void *evac_main(void *arg)
{
	struct evac_move *m = arg;
	log_info("host.evacuate: VM %s to host %s", m->vm, m->to);
	m->rc = vm_pool_migrate_to(&m->ctx, m->vm, m->to, m->network, &m->err);
	return NULL;
}

/* xapi's default when the call gives no batch size (its
 * evacuation-batch-size) */
#define EVACUATE_BATCH 10

/* Every VM running on the host live-migrated to hosts that fit, refused
 * up front (with the first blocker's error) when any cannot go; in
 * batches of evacuate_batch_size at once, over the network given (as
 * VM.pool_migrate's network option). The first failure ends it after its
 * batch, with that VM's error. */
static int host_evacuate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	const xv *bs = xv_arr_get(args, 2);
	int64_t batch = bs && bs->kind == XV_INT && bs->u.i > 0 ? bs->u.i : EVACUATE_BATCH;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	const char *net = xv_as_str(xv_arr_get(args, 1));
	int rc = h ? 0 : -1;
	if (rc == 0 && net && strcmp(net, REF_NULL) != 0 && !generic_lookup(ctx, SC_C_network, xv_arr_get(args, 1), err))
		rc = -1;
	if (rc == 0)
		rc = assert_evacuable(ctx->db, h, false, err);
	xv plan = rc == 0 ? plan_evacuation(ctx->db, h) : XV_NIL_INIT;
	db_unlock(ctx->db);
	size_t n = rc == 0 ? xv_len(&plan) : 0;
	struct evac_move *moves = n ? xcalloc(n, sizeof *moves) : NULL;
	for (size_t first = 0; rc == 0 && first < n; first += (size_t)batch) {
		size_t end = first + (size_t)batch < n ? first + (size_t)batch : n;
		for (size_t i = first; i < end; i++) {
			struct evac_move *m = &moves[i];
			m->ctx = *ctx;
			m->ctx.task[0] = '\0';
			m->vm = plan.u.m->keys[i];
			m->to = xv_as_str(&plan.u.m->vals[i]);
			m->network = net && strcmp(net, REF_NULL) != 0 ? net : NULL;
			m->started = pthread_create(&m->thread, NULL, evac_main, m) == 0;
			if (!m->started)
				evac_main(m);
		}
		for (size_t i = first; i < end; i++) {
			struct evac_move *m = &moves[i];
			if (m->started)
				pthread_join(m->thread, NULL);
			if (m->rc < 0 && rc == 0) {
				xerr_move(err, &m->err);
				rc = -1;
			}
			xerr_clear(&m->err);
		}
		if (ctx->task[0]) {
			op_task_progress(ctx->db, ctx->task, (double)end / (double)n);
			if (rc == 0 && end < n && op_task_cancelling(ctx->db, ctx->task))
				rc = xerr_set(err, ERR_TASK_CANCELLED, ctx->task, NULL);
		}
	}
	free(moves);
	xv_free(&plan);
	return rc;
}

/* host.set_power_on_mode(self, mode, config), as xapi: both stored; the
 * secrets the old configuration named (keys ending password_secret) are
 * destroyed, unless the new one names them too. */
static int host_set_power_on_mode(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	const xv *conf = xv_arr_get(args, 2);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	if (!h) {
		db_abort(t);
		return -1;
	}
	const xv *old = db_peek(h, SC_F_host__power_on_config);
	for (size_t i = 0; old && old->kind == XV_MAP && i < xv_len(old); i++) {
		const char *k = old->u.m->keys[i], *v = xv_as_str(&old->u.m->vals[i]);
		size_t kl = strlen(k), sl = strlen("password_secret");
		bool kept = false;
		for (size_t j = 0; conf && conf->kind == XV_MAP && j < xv_len(conf) && !kept; j++)
			kept = v && xv_as_str(&conf->u.m->vals[j]) && !strcmp(v, xv_as_str(&conf->u.m->vals[j]));
		struct db_obj *sec = kl >= sl && !strcmp(k + kl - sl, "password_secret") && v && !kept
					     ? db_lookup_uuid(ctx->db, SC_C_secret, v)
					     : NULL;
		if (sec)
			db_delete(t, sec);
	}
	db_set_str(t, h, SC_F_host__power_on_mode, arg_str(args, 1));
	db_set(t, h, SC_F_host__power_on_config, conf && conf->kind == XV_MAP ? xv_copy(conf) : xv_map_new());
	return db_commit(t, err);
}

/* host.power_on(host), as xapi without its power-on-host plugin: refused
 * for a live host (HOST_IS_LIVE) and for one with no power-on mode
 * (HOST_POWER_ON_MODE_DISABLED); else xapi calls the plugin, which no host
 * here has (XENAPI_MISSING_PLUGIN): no machine is woken from here. */
static int host_power_on(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	int rc = h ? 0 : -1;
	if (rc == 0) {
		struct db_obj *m = db_lookup_cls(ctx->db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
		if (m && db_peek_bool(m, SC_F_host_metrics__live))
			rc = xerr_set(err, ERR_HOST_IS_LIVE, h->ref, NULL);
		else if (!db_peek_str(h, SC_F_host__power_on_mode)[0])
			rc = xerr_set(err, ERR_HOST_POWER_ON_MODE_DISABLED, NULL);
		else
			rc = xerr_set(err, ERR_XENAPI_MISSING_PLUGIN, "power-on-host", NULL);
	}
	db_unlock(ctx->db);
	return rc;
}

/* xapi's checks before a host goes down: disabled first, then empty. */
static int assert_may_stop(struct rpc_ctx *ctx, xv *args, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	int rc = h ? 0 : -1;
	if (rc == 0 && db_peek_bool(h, SC_F_host__enabled))
		rc = xerr_set(err, ERR_HOST_NOT_DISABLED, NULL);
	for (struct db_obj *vm = rc == 0 ? db_first(ctx->db, SC_C_VM) : NULL; vm && rc == 0; vm = db_next(vm))
		if (runs_here(vm, h->ref))
			rc = xerr_set(err, ERR_HOST_IN_USE, h->ref, "vm", vm->ref, NULL);
	if (rc == 0 && strcmp(h->ref, ctx->srv->host_ref) != 0)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the host is not this one: call its own xenond", NULL);
	db_unlock(ctx->db);
	return rc;
}

static int host_shutdown(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	if (assert_may_stop(ctx, args, err) < 0)
		return -1;
	log_info("host.shutdown: the daemon stops");
	/* the answer goes out first; the daemon's SIGTERM handler stops it */
	raise(SIGTERM);
	return 0;
}

static int host_reboot(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	if (assert_may_stop(ctx, args, err) < 0)
		return -1;
	if (!ctx->srv->request_restart)
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "this daemon cannot restart itself", NULL);
	log_info("host.reboot: the daemon restarts");
	ctx->srv->request_restart();
	return 0;
}

RPC_IMPL(host, disable, host_disable, 0);
RPC_IMPL(host, enable, host_enable, 0);
RPC_IMPL(host, get_vms_which_prevent_evacuation, get_vms_which_prevent_evacuation, 0);
RPC_IMPL(host, shutdown, host_shutdown, 0);
RPC_IMPL(host, evacuate, host_evacuate, RPC_SLOW);
RPC_IMPL(host, reboot, host_reboot, 0);
RPC_IMPL(host, assert_can_evacuate, host_assert_can_evacuate, 0);
RPC_IMPL(host, set_power_on_mode, host_set_power_on_mode, 0);
RPC_IMPL(host, power_on, host_power_on, 0);
