/* pool_forward: where a call runs in a pool (see pool_forward.h).
 *
 * The master decides: VM.start picks a host (the VM's affinity if it can
 * boot there, else the host with the most free memory among those that
 * can), VM.start_on names one, a call on a VM resident on another host
 * goes to that host, host.* calls that act on a machine go to it. Such a
 * call is sent, with its arguments, to that host's xenond under the pool's
 * session (the pool secret) and answered with what it answers; the
 * caller's task, if any, stays on the master and completes with it. A host
 * that is not live, or cannot be reached, is HOST_OFFLINE.
 *
 * A member's writes (its VM operations, guest events) go to the master:
 * the store's replicator on a member sends each transaction to the
 * master's internal pool.apply_entry, which commits it through Raft; the
 * member's own copy comes back through the log. */
#include "op.h"
#include "pool_forward.h"
#include "pif.h"
#include "../base/clock.h"
#include "api.h"
#include "pool_join.h"
#include "pool_peer.h"
#include "storage.h"
#include "../base/file.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "tls.h"
#include "../wire/wire.h"
#include "../db/durable.h"
#include "../pool/raft.h"

#include <pthread.h>
#include <stdio.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

/* ---- the pool's session ---- */

static bool session_of(struct server *srv, const char *file, char out[REF_STRLEN + 1])
{
	char *path = xasprintf("%s/%s", srv->cfg.data_dir, file);
	FILE *f = fopen(path, "r");
	free(path);
	char line[128] = "";
	if (f) {
		if (!fgets(line, sizeof line, f))
			line[0] = 0;
		fclose(f);
	}
	line[strcspn(line, "\r\n")] = 0;
	if (strlen(line) != UUID_STRLEN)
		return false;
	snprintf(out, REF_STRLEN + 1, "OpaqueRef:%.36s", line);
	return true;
}

static bool pool_session(struct server *srv, char out[REF_STRLEN + 1])
{
	return session_of(srv, POOL_SECRET_FILE, out);
}

/* The pool's session, or the one of a secret staged by pool.rotate_secret
 * (accepted beside it until the rotation commits). */
static bool is_pool_session(struct server *srv, const char *ref)
{
	char mine[REF_STRLEN + 1];
	return ref && ((pool_session(srv, mine) && !strcmp(mine, ref)) ||
		       (session_of(srv, POOL_SECRET_STAGED_FILE, mine) && !strcmp(mine, ref)));
}

bool pool_session_accept(struct server *srv, const char *ref, struct rpc_ctx *ctx)
{
	if (!srv->raft || !is_pool_session(srv, ref))
		return false;
	snprintf(ctx->session, sizeof ctx->session, "%s", ref);
	snprintf(ctx->user, sizeof ctx->user, "%s", "root");
	ctx->roles = ~0u;
	ctx->rbac_exempt = true;
	return true;
}

static bool forwarded(const struct rpc_ctx *ctx)
{
	return ctx->session[0] && is_pool_session(ctx->srv, ctx->session);
}

bool pool_call_is_forwarded(const struct rpc_ctx *ctx)
{
	return forwarded(ctx);
}

static bool arg_true(const xv *v)
{
	return v && v->kind == XV_BOOL && v->u.b;
}

/* ---- the connection to another host ---- */

/* uuid -> address of the pool's hosts, for the callers that may not read
 * the store (a member's replicator runs under its write lock). */
static pthread_mutex_t hosts_lock = PTHREAD_MUTEX_INITIALIZER;
/* pool.tls_verification_enabled, as last seen: then no plain HTTP to a
 * host whose certificate this one lacks */
static bool tls_verify;
static struct { char uuid[UUID_STRLEN + 1], address[96]; } known[64];
static size_t nknown;

void pool_hosts_refresh(struct server *srv)
{
	pthread_mutex_lock(&hosts_lock);
	db_rdlock(srv->db);
	nknown = 0;
	for (struct db_obj *h = db_first(srv->db, SC_C_host); h && nknown < 64; h = db_next(h)) {
		snprintf(known[nknown].uuid, sizeof known[nknown].uuid, "%s", db_peek_str(h, SC_F_host__uuid));
		snprintf(known[nknown].address, sizeof known[nknown].address, "%s",
			 db_peek_str(h, SC_F_host__address));
		nknown++;
	}
	struct db_obj *pool = db_first(srv->db, SC_C_pool);
	__atomic_store_n(&tls_verify, pool && db_peek_bool(pool, SC_F_pool__tls_verification_enabled), __ATOMIC_RELEASE);
	db_unlock(srv->db);
	pthread_mutex_unlock(&hosts_lock);
}

int pool_tls_port(struct server *srv)
{
	const char *colon = strrchr(srv->cfg.tls_listen, ':');
	return colon ? atoi(colon + 1) : 0;
}

/* A connection to the host uuid (NULL: the host at address, as last
 * seen): over TLS, its key pinned, when this host serves TLS and has the
 * host's certificate (exchanged at its join); else plain HTTP. */
struct peer *pool_open_peer(struct server *srv, const char *uuid, const char *address, long timeout_s)
{
	char found[UUID_STRLEN + 1] = "";
	if (!uuid) {
		pthread_mutex_lock(&hosts_lock);
		for (size_t i = 0; i < nknown && !found[0]; i++)
			if (!strcmp(known[i].address, address))
				snprintf(found, sizeof found, "%.*s", UUID_STRLEN, known[i].uuid);
		pthread_mutex_unlock(&hosts_lock);
		uuid = found;
	}
	int tls_port = pool_tls_port(srv);
	char *pem = NULL;
	if (tls_port > 0 && uuid[0]) {
		char *path = xasprintf("%s/%s/%s.pem", srv->cfg.data_dir, POOL_CERTS_DIR, uuid);
		pem = file_read(path, 0, NULL);
		free(path);
	}
	if (!pem && __atomic_load_n(&tls_verify, __ATOMIC_ACQUIRE)) {
		log_warn("pool: no verified TLS to %s (%s): its certificate is unknown here", address, uuid);
		return NULL;
	}
	if (!pem)
		return peer_open(address, pool_api_port(srv), timeout_s);
	struct xerr e = XERR_INIT;
	char *pin = tls_cert_pins(pem, &e);
	free(pem);
	xerr_clear(&e);
	/* a certificate that is no longer one: nothing to trust, no call */
	struct peer *p = peer_open_tls(address, tls_port, pin ? pin : "sha256//none", timeout_s);
	free(pin);
	return p;
}

int pool_call_at(struct server *srv, const char *address, const char *method, const xv *args, xv *result,
		 struct xerr *err)
{
	return pool_call_at_within(srv, address, method, args, 30, result, err);
}

int pool_call_at_within(struct server *srv, const char *address, const char *method, const xv *args,
			long timeout_s, xv *result, struct xerr *err)
{
	char session[REF_STRLEN + 1];
	if (!pool_session(srv, session))
		return xerr_internal(err, "pool: this host has no pool secret");
	struct peer *p = pool_open_peer(srv, NULL, address, timeout_s);
	if (!p)
		return xerr_internal(err, "pool: no connection to %s", address);
	peer_set_session(p, session);
	enum peer_result r = peer_call(p, method, args, result, err);
	peer_close(p);
	return r == PEER_OK ? 0 : -1;
}

bool pool_member_answers(struct server *srv, const char *uuid, const char *address)
{
	char session[REF_STRLEN + 1];
	if (!pool_session(srv, session))
		return false;
	struct peer *p = pool_open_peer(srv, uuid, address, 2);
	if (!p)
		return false;
	peer_set_session(p, session);
	xv a = xv_arr_new();
	xv_arr_push_str(&a, "0");
	struct xerr e = XERR_INIT;
	bool ok = peer_call(p, "pool.wait_applied", &a, NULL, &e) == PEER_OK;
	if (!ok)
		log_debug("pool: %s (%s) does not answer: %s %s", address, uuid, e.code ? e.code : "?",
			 e.nparams ? e.params[0] : "");
	xerr_clear(&e);
	xv_free(&a);
	peer_close(p);
	return ok;
}

/* ---- placement ---- */

static int64_t host_free_memory(struct db *db, struct db_obj *h)
{
	struct db_obj *m = db_lookup_cls(db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
	int64_t total = m ? db_peek_int(m, SC_F_host_metrics__memory_total) : 0;
	int64_t used = db_peek_int(h, SC_F_host__memory_overhead);
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm)) {
		const char *ps = db_peek_str(vm, SC_F_VM__power_state);
		if (!db_peek_bool(vm, SC_F_VM__is_control_domain) &&
		    !strcmp(db_peek_str(vm, SC_F_VM__resident_on), h->ref) &&
		    (!strcmp(ps, "Running") || !strcmp(ps, "Paused")))
			used += db_peek_int(vm, SC_F_VM__memory_dynamic_max) + db_peek_int(vm, SC_F_VM__memory_overhead);
	}
	return total > used ? total - used : 0;
}

static bool host_live(struct db *db, struct db_obj *h)
{
	struct db_obj *m = db_lookup_cls(db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
	return m && db_peek_bool(m, SC_F_host_metrics__live);
}

/* xapi's assert_can_boot_here, as far as it applies here: the host is
 * live and enabled, every SR of the VM's disks has a plugged PBD there,
 * the VM's memory fits. Under the caller's read lock. */
static int can_boot_on(struct db *db, struct db_obj *vm, struct db_obj *h, struct xerr *err)
{
	if (!host_live(db, h))
		return xerr_set(err, ERR_HOST_NOT_LIVE, NULL);
	if (!db_peek_bool(h, SC_F_host__enabled))
		return xerr_set(err, ERR_HOST_DISABLED, h->ref, NULL);
	for (struct db_obj *vbd = db_first(db, SC_C_VBD); vbd; vbd = db_next(vbd)) {
		if (strcmp(db_peek_str(vbd, SC_F_VBD__VM), vm->ref) || db_peek_bool(vbd, SC_F_VBD__empty))
			continue;
		struct db_obj *vdi = db_lookup_cls(db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI));
		const char *sr = vdi ? db_peek_str(vdi, SC_F_VDI__SR) : NULL;
		if (!sr)
			continue;
		bool plugged = false;
		for (struct db_obj *pbd = db_first(db, SC_C_PBD); pbd && !plugged; pbd = db_next(pbd))
			plugged = !strcmp(db_peek_str(pbd, SC_F_PBD__SR), sr) &&
				  !strcmp(db_peek_str(pbd, SC_F_PBD__host), h->ref) &&
				  db_peek_bool(pbd, SC_F_PBD__currently_attached);
		if (!plugged)
			return xerr_set(err, ERR_VM_REQUIRES_SR, vm->ref, sr, NULL);
	}
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	bool resident = !strcmp(db_peek_str(vm, SC_F_VM__resident_on), h->ref) &&
			(!strcmp(ps, "Running") || !strcmp(ps, "Paused"));
	int64_t need = db_peek_int(vm, SC_F_VM__memory_static_max) + db_peek_int(vm, SC_F_VM__memory_overhead);
	int64_t avail = host_free_memory(db, h);
	if (!resident && need > avail) {
		char n[24], a[24];
		snprintf(n, sizeof n, "%lld", (long long)need);
		snprintf(a, sizeof a, "%lld", (long long)avail);
		return xerr_set(err, ERR_HOST_NOT_ENOUGH_FREE_MEMORY, n, a, NULL);
	}
	return 0;
}

/* The host VM.start runs on: affinity first, else the most free memory. */
static struct db_obj *place(struct db *db, struct db_obj *vm)
{
	struct xerr e = XERR_INIT;
	struct db_obj *aff = db_lookup_cls(db, SC_C_host, db_peek_str(vm, SC_F_VM__affinity));
	if (aff && can_boot_on(db, vm, aff, &e) == 0)
		return aff;
	xerr_clear(&e);
	struct db_obj *best = NULL;
	int64_t best_free = -1;
	for (struct db_obj *h = db_first(db, SC_C_host); h; h = db_next(h)) {
		if (can_boot_on(db, vm, h, &e) < 0) {
			xerr_clear(&e);
			continue;
		}
		int64_t f = host_free_memory(db, h);
		if (f > best_free) {
			best = h;
			best_free = f;
		}
	}
	return best;
}

static int assert_can_boot_here(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	struct db_obj *h = vm ? generic_lookup(ctx, SC_C_host, xv_arr_get(args, 1), err) : NULL;
	int rc = h ? can_boot_on(ctx->db, vm, h, err) : -1;
	db_unlock(ctx->db);
	return rc;
}

static int get_possible_hosts(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (vm) {
		*result = xv_arr_new();
		for (struct db_obj *h = db_first(ctx->db, SC_C_host); h; h = db_next(h)) {
			struct xerr e = XERR_INIT;
			if (can_boot_on(ctx->db, vm, h, &e) == 0)
				xv_arr_push_str(result, h->ref);
			xerr_clear(&e);
		}
	}
	db_unlock(ctx->db);
	return vm ? 0 : -1;
}

/* ---- which calls go where ---- */

enum target {
	T_VM_RESIDENT, T_VM_START, T_ARG1_HOST, T_ARG0_HOST, T_PBD_HOST, T_SR_CREATE,
	T_SR_ARG, T_SR_OF_VDI, T_SR_IN_RECORD, /* where the SR is plugged */
	T_PIF_HOST, /* the host of the PIF (argument 0) */
	T_VIF_VM,   /* where the VIF's VM runs */
	T_VDI_VM,   /* where the running VM with the VDI (argument 0) runs */
};

static const struct {
	int cls;
	const char *msg;
	enum target how;
} routes[] = {
	{SC_C_VM, "start", T_VM_START},
	{SC_C_VM, "start_on", T_ARG1_HOST},
	{SC_C_VM, "resume_on", T_ARG1_HOST},
	{SC_C_VM, "clean_shutdown", T_VM_RESIDENT},
	{SC_C_VM, "hard_shutdown", T_VM_RESIDENT},
	{SC_C_VM, "shutdown", T_VM_RESIDENT},
	{SC_C_VM, "clean_reboot", T_VM_RESIDENT},
	{SC_C_VM, "hard_reboot", T_VM_RESIDENT},
	{SC_C_VM, "pause", T_VM_RESIDENT},
	{SC_C_VM, "unpause", T_VM_RESIDENT},
	{SC_C_VM, "suspend", T_VM_RESIDENT},
	{SC_C_VM, "pool_migrate", T_VM_RESIDENT},
	{SC_C_VM, "restart_device_models", T_VM_RESIDENT},
	{SC_C_VM, "migrate_send", T_VM_RESIDENT},
	{SC_C_VM, "assert_can_migrate", T_VM_RESIDENT},
	{SC_C_VDI, "pool_migrate", T_VDI_VM},
	{SC_C_host, "evacuate", T_ARG0_HOST},
	{SC_C_host, "migrate_receive", T_ARG0_HOST},
	{SC_C_VM, "set_memory_dynamic_range", T_VM_RESIDENT},
	{SC_C_VM, "set_memory_target_live", T_VM_RESIDENT},
	{SC_C_VM, "set_VCPUs_number_live", T_VM_RESIDENT},
	{SC_C_VM, "guest_exec", T_VM_RESIDENT},
	{SC_C_VM, "guest_file_write", T_VM_RESIDENT},
	{SC_C_VM, "guest_file_read", T_VM_RESIDENT},
	{SC_C_PBD, "plug", T_PBD_HOST},
	{SC_C_PBD, "unplug", T_PBD_HOST},
	{SC_C_SR, "create", T_SR_CREATE},
	{SC_C_SR, "scan", T_SR_ARG},
	{SC_C_SR, "update", T_SR_ARG},
	{SC_C_VDI, "create", T_SR_IN_RECORD},
	{SC_C_VDI, "destroy", T_SR_OF_VDI},
	{SC_C_VDI, "snapshot", T_SR_OF_VDI},
	{SC_C_VDI, "clone", T_SR_OF_VDI},
	{SC_C_VDI, "resize", T_SR_OF_VDI},
	{SC_C_VDI, "update", T_SR_OF_VDI},
	{SC_C_host, "restart_agent", T_ARG0_HOST},
	{SC_C_host, "get_servertime", T_ARG0_HOST},
	{SC_C_host, "get_server_localtime", T_ARG0_HOST},
	{SC_C_host, "call_plugin", T_ARG0_HOST},
	{SC_C_host, "dmesg_clear", T_ARG0_HOST},
	{SC_C_host, "get_log", T_ARG0_HOST},
	{SC_C_host, "get_server_certificate", T_ARG0_HOST},
	{SC_C_host, "refresh_server_certificate", T_ARG0_HOST},
	{SC_C_host, "enable_external_auth", T_ARG0_HOST},
	{SC_C_host, "disable_external_auth", T_ARG0_HOST},
	{SC_C_PIF, "scan", T_ARG0_HOST},
	{SC_C_PIF, "plug", T_PIF_HOST},
	{SC_C_PIF, "unplug", T_PIF_HOST},
	{SC_C_PIF, "reconfigure_ip", T_PIF_HOST},
	{SC_C_PIF, "reconfigure_ipv6", T_PIF_HOST},
	{SC_C_VIF, "move", T_VIF_VM},
};

/* A host the SR is plugged on: NULL when this one is (or none is). */
static struct db_obj *sr_host(struct db *db, const char *sr, const char *me)
{
	struct db_obj *other = NULL;
	for (struct db_obj *pbd = db_first(db, SC_C_PBD); pbd; pbd = db_next(pbd)) {
		if (strcmp(db_peek_str(pbd, SC_F_PBD__SR), sr) || !db_peek_bool(pbd, SC_F_PBD__currently_attached))
			continue;
		if (!strcmp(db_peek_str(pbd, SC_F_PBD__host), me))
			return NULL;
		if (!other)
			other = db_lookup_cls(db, SC_C_host, db_peek_str(pbd, SC_F_PBD__host));
	}
	return other;
}

bool pool_forward_wanted(struct rpc_ctx *ctx, xv *args)
{
	struct server *srv = ctx->srv;
	struct pool_raft *raft = __atomic_load_n(&srv->raft, __ATOMIC_ACQUIRE);
	if (!raft || !ctx->msg || !pool_raft_is_leader(raft))
		return false;
	int route = -1;
	for (size_t i = 0; i < sizeof routes / sizeof *routes && route < 0; i++)
		if (routes[i].cls == ctx->cls && !strcmp(routes[i].msg, ctx->msg->name))
			route = (int)i;
	if (route < 0 || forwarded(ctx))
		return false;
	char target[REF_STRLEN + 1] = "";
	db_rdlock(ctx->db);
	if (db_count(ctx->db, SC_C_host) > 1) {
		const char *a0 = xv_as_str(xv_arr_get(args, 0)), *a1 = xv_as_str(xv_arr_get(args, 1));
		struct db_obj *vm = a0 ? db_lookup_cls(ctx->db, SC_C_VM, a0) : NULL;
		struct db_obj *h = NULL;
		switch (routes[route].how) {
		case T_VM_RESIDENT:
			if (vm && strcmp(db_peek_str(vm, SC_F_VM__power_state), "Halted"))
				h = db_lookup_cls(ctx->db, SC_C_host, db_peek_str(vm, SC_F_VM__resident_on));
			break;
		case T_VM_START:
			if (vm && !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Halted") &&
			    !db_peek_bool(vm, SC_F_VM__is_a_template)) {
				h = place(ctx->db, vm);
				if (!h) /* pool_forward_call answers NO_HOSTS_AVAILABLE */
					snprintf(target, sizeof target, "%s", REF_NULL);
			}
			break;
		case T_ARG1_HOST:
			h = a1 && vm ? db_lookup_cls(ctx->db, SC_C_host, a1) : NULL;
			break;
		case T_ARG0_HOST:
			h = a0 ? db_lookup_cls(ctx->db, SC_C_host, a0) : NULL;
			break;
		case T_PIF_HOST: {
			struct db_obj *pif = a0 ? db_lookup_cls(ctx->db, SC_C_PIF, a0) : NULL;
			h = pif ? db_lookup_cls(ctx->db, SC_C_host, db_peek_str(pif, SC_F_PIF__host)) : NULL;
			break;
		}
		case T_VDI_VM: {
			struct db_obj *vdi = a0 ? db_lookup_cls(ctx->db, SC_C_VDI, a0) : NULL;
			struct db_obj *vbd = vdi ? storage_vdi_running_vbd(ctx->db, vdi) : NULL;
			struct db_obj *owner = vbd ? db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM)) : NULL;
			if (owner)
				h = db_lookup_cls(ctx->db, SC_C_host, db_peek_str(owner, SC_F_VM__resident_on));
			break;
		}
		case T_VIF_VM: {
			struct db_obj *vif = a0 ? db_lookup_cls(ctx->db, SC_C_VIF, a0) : NULL;
			struct db_obj *owner = vif ? db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vif, SC_F_VIF__VM)) : NULL;
			if (owner && strcmp(db_peek_str(owner, SC_F_VM__power_state), "Halted"))
				h = db_lookup_cls(ctx->db, SC_C_host, db_peek_str(owner, SC_F_VM__resident_on));
			break;
		}
		case T_PBD_HOST: {
			struct db_obj *pbd = a0 ? db_lookup_cls(ctx->db, SC_C_PBD, a0) : NULL;
			h = pbd ? db_lookup_cls(ctx->db, SC_C_host, db_peek_str(pbd, SC_F_PBD__host)) : NULL;
			break;
		}
		case T_SR_ARG:
		case T_SR_OF_VDI:
		case T_SR_IN_RECORD: {
			const char *sr = routes[route].how == T_SR_ARG ? a0
					 : routes[route].how == T_SR_IN_RECORD
						 ? xv_map_get_str(xv_arr_get(args, 0), "SR")
						 : NULL;
			if (routes[route].how == T_SR_OF_VDI) {
				struct db_obj *vdi = a0 ? db_lookup_cls(ctx->db, SC_C_VDI, a0) : NULL;
				sr = vdi ? db_peek_str(vdi, SC_F_VDI__SR) : NULL;
			}
			h = sr ? sr_host(ctx->db, sr, srv->host_ref) : NULL;
			break;
		}
		case T_SR_CREATE:
			h = a0 ? db_lookup_cls(ctx->db, SC_C_host, a0) : NULL;
			/* a shared SR made here still needs its PBDs on the others */
			if (h && !strcmp(h->ref, srv->host_ref) && arg_true(xv_arr_get(args, 7)))
				snprintf(target, sizeof target, "%s", h->ref);
			break;
		}
		if (h && strcmp(h->ref, srv->host_ref))
			snprintf(target, sizeof target, "%s", h->ref);
	}
	db_unlock(ctx->db);
	if (!target[0])
		return false;
	xv_arr_push_str(args, target); /* pool_forward_call takes it back */
	return true;
}

/* An Async call on the host p: its task followed until it ends, its
 * progress copied to the caller's task, the caller's cancel passed on. */
static enum peer_result follow_task(struct server *srv, struct peer *p, const char *task,
				    const char *remote, xv *result, struct xerr *err)
{
	bool cancelled = false;
	for (;;) {
		xv st = XV_NIL_INIT, pr = XV_NIL_INIT;
		enum peer_result r = peer_call_strs(p, "task.get_status", &st, err, remote, NULL);
		if (r == PEER_OK)
			r = peer_call_strs(p, "task.get_progress", &pr, err, remote, NULL);
		char status[16];
		snprintf(status, sizeof status, "%s", xv_as_str(&st) ? xv_as_str(&st) : "");
		double progress = pr.kind == XV_FLOAT ? pr.u.f : 0;
		xv_free(&st);
		xv_free(&pr);
		if (r != PEER_OK)
			return r;
		if (task[0])
			op_task_progress(srv->db, task, progress);
		if (!strcmp(status, "success")) {
			xv text = XV_NIL_INIT;
			r = peer_call_strs(p, "task.get_result", &text, err, remote, NULL);
			const char *t = xv_as_str(&text);
			if (r == PEER_OK && t && t[0] && wire_xml_parse_value(t, strlen(t), result, err) < 0)
				r = PEER_BAD_ANSWER;
			xv_free(&text);
			break;
		}
		if (!strcmp(status, "failure") || !strcmp(status, "cancelled")) {
			xv info = XV_NIL_INIT;
			r = peer_call_strs(p, "task.get_error_info", &info, err, remote, NULL);
			if (r == PEER_OK) {
				const char *code = xv_as_str(xv_arr_get(&info, 0));
				xerr_set(err, code ? code : ERR_INTERNAL_ERROR, NULL);
				/* a cancel names the task the caller has, not the other host's */
				bool own = code && !strcmp(code, ERR_TASK_CANCELLED) && task[0];
				for (size_t i = 1; i < xv_len(&info); i++) {
					const char *v = xv_as_str(xv_arr_get(&info, i));
					xerr_add(err, own && i == 1 ? task : v ? v : "");
				}
				r = PEER_FAILURE;
			}
			xv_free(&info);
			break;
		}
		if (!cancelled && task[0] && op_task_cancelling(srv->db, task)) {
			struct xerr e = XERR_INIT;
			peer_call_strs(p, "task.cancel", NULL, &e, remote, NULL);
			xerr_clear(&e);
			cancelled = true;
		}
		usleep(100000);
	}
	struct xerr e = XERR_INIT;
	peer_call_strs(p, "task.destroy", NULL, &e, remote, NULL);
	xerr_clear(&e);
	return err && err->code ? PEER_FAILURE : PEER_OK;
}

/* Runs method with args (no session) on the host href's xenond, after it
 * has applied every entry this host has; with the caller's task (task
 * not ""), as an Async call there that the caller's task follows.
 * HOST_OFFLINE when the host is not live or cannot be reached. */
static int call_on_host(struct server *srv, const char *href, const char *method, const xv *args,
			const char *task, long timeout_s, xv *result, struct xerr *err);

int pool_call_on_host(struct server *srv, const char *href, const char *method, const xv *args,
		      const char *task, xv *result, struct xerr *err)
{
	return call_on_host(srv, href, method, args, task, 3600, result, err);
}

int pool_call_on_host_within(struct server *srv, const char *href, const char *method, const xv *args,
			     long timeout_s, xv *result, struct xerr *err)
{
	return call_on_host(srv, href, method, args, NULL, timeout_s, result, err);
}

static int call_on_host(struct server *srv, const char *href, const char *method, const xv *args,
			const char *task, long timeout_s, xv *result, struct xerr *err)
{
	char address[96] = "", uuid[UUID_STRLEN + 1] = "", session[REF_STRLEN + 1];
	db_rdlock(srv->db);
	struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, href);
	bool live = h && host_live(srv->db, h);
	if (h) {
		snprintf(address, sizeof address, "%s", db_peek_str(h, SC_F_host__address));
		snprintf(uuid, sizeof uuid, "%s", db_peek_str(h, SC_F_host__uuid));
	}
	db_unlock(srv->db);
	if (!live || !pool_session(srv, session))
		return xerr_set(err, ERR_HOST_OFFLINE, href, NULL);
	struct peer *p = pool_open_peer(srv, uuid, address, timeout_s);
	if (p)
		peer_set_session(p, session);
	xv params = xv_arr_new();
	for (size_t i = 0; i < xv_len(args); i++)
		xv_arr_push(&params, xv_copy(xv_arr_get(args, i)));
	struct xerr e = XERR_INIT;
	xv res = XV_NIL_INIT;
	log_debug("pool: %s forwarded to %s", method, address);
	/* the host first applies every entry this one has: the call sees what
	 * the caller saw */
	char applied[24];
	snprintf(applied, sizeof applied, "%llu", (unsigned long long)pool_raft_applied(srv->raft));
	xv wait = xv_arr_new();
	xv_arr_push_str(&wait, applied);
	enum peer_result r = p ? peer_call(p, "pool.wait_applied", &wait, NULL, &e) : PEER_UNREACHABLE;
	xv_free(&wait);
	bool async = task && task[0];
	char amethod[160];
	snprintf(amethod, sizeof amethod, "Async.%s", method);
	if (r == PEER_OK)
		r = peer_call(p, async ? amethod : method, &params, &res, &e);
	if (r == PEER_OK && async) {
		char remote[REF_STRLEN + 1];
		snprintf(remote, sizeof remote, "%s", xv_as_str(&res) ? xv_as_str(&res) : "");
		xv_free(&res);
		r = follow_task(srv, p, task, remote, &res, &e);
	}
	xv_free(&params);
	peer_close(p);
	if (r == PEER_OK) {
		if (result)
			*result = res;
		else
			xv_free(&res);
		return 0;
	}
	xv_free(&res);
	if (r == PEER_FAILURE) {
		xerr_move(err, &e);
		return -1;
	}
	log_warn("pool: %s on %s: %s", method, address, e.nparams ? e.params[0] : "?");
	xerr_clear(&e);
	return xerr_set(err, ERR_HOST_OFFLINE, href, NULL);
}

struct peer *pool_peer_for_host(struct server *srv, const char *href, struct xerr *err)
{
	char address[96] = "", uuid[UUID_STRLEN + 1] = "", session[REF_STRLEN + 1];
	db_rdlock(srv->db);
	struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, href);
	bool live = h && host_live(srv->db, h);
	if (h) {
		snprintf(address, sizeof address, "%s", db_peek_str(h, SC_F_host__address));
		snprintf(uuid, sizeof uuid, "%s", db_peek_str(h, SC_F_host__uuid));
	}
	db_unlock(srv->db);
	struct peer *p = live && pool_session(srv, session) ? pool_open_peer(srv, uuid, address, 60) : NULL;
	if (!p) {
		xerr_set(err, ERR_HOST_OFFLINE, href, NULL);
		return NULL;
	}
	peer_set_session(p, session);
	return p;
}

static int call_pbd_plug(struct server *srv, const char *href, const char *pbd, struct xerr *err)
{
	xv a = xv_arr_new();
	xv_arr_push_str(&a, pbd);
	int rc = pool_call_on_host(srv, href, "PBD.plug", &a, NULL, NULL, err);
	xv_free(&a);
	return rc;
}

/* A shared SR: a PBD for every other host (the device_config of the
 * first, less SRmaster), each plugged there. A host that cannot plug it
 * keeps it unplugged (logged), as it would after a failed PBD.plug. */
static int share_sr(struct server *srv, const char *sr_ref, struct xerr *err)
{
	struct { char host[REF_STRLEN + 1], pbd[REF_STRLEN + 1]; } made[64];
	size_t n = 0;
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *sr = db_lookup_cls(srv->db, SC_C_SR, sr_ref);
	const xv *cfg = NULL;
	for (struct db_obj *pbd = db_first(srv->db, SC_C_PBD); pbd && sr && !cfg; pbd = db_next(pbd))
		if (!strcmp(db_peek_str(pbd, SC_F_PBD__SR), sr_ref))
			cfg = db_peek(pbd, SC_F_PBD__device_config);
	for (struct db_obj *h = db_first(srv->db, SC_C_host); h && sr && n < 64; h = db_next(h)) {
		bool has = false;
		for (struct db_obj *pbd = db_first(srv->db, SC_C_PBD); pbd && !has; pbd = db_next(pbd))
			has = !strcmp(db_peek_str(pbd, SC_F_PBD__SR), sr_ref) &&
			      !strcmp(db_peek_str(pbd, SC_F_PBD__host), h->ref);
		if (has)
			continue;
		char uuid[UUID_STRLEN + 1];
		uuid_generate_str(uuid);
		struct db_obj *pbd = db_create(t, SC_C_PBD, NULL);
		db_set_str(t, pbd, SC_F_PBD__uuid, uuid);
		db_set_str(t, pbd, SC_F_PBD__host, h->ref);
		db_set_str(t, pbd, SC_F_PBD__SR, sr_ref);
		xv dc = cfg ? xv_copy(cfg) : xv_map_new();
		xv_map_del(&dc, "SRmaster");
		db_set(t, pbd, SC_F_PBD__device_config, dc);
		db_set(t, pbd, SC_F_PBD__other_config, xv_map_new());
		db_set_bool(t, pbd, SC_F_PBD__currently_attached, false);
		snprintf(made[n].host, sizeof made[n].host, "%s", h->ref);
		snprintf(made[n].pbd, sizeof made[n].pbd, "%s", pbd->ref);
		n++;
	}
	if (db_commit(t, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct xerr e = XERR_INIT;
		if (call_pbd_plug(srv, made[i].host, made[i].pbd, &e) < 0)
			log_warn("pool: plugging shared SR %s on host %s: %s", sr_ref, made[i].host,
				 e.code ? e.code : "?");
		xerr_clear(&e);
	}
	return 0;
}

/* The PBDs of shared SRs a host that joined was given, plugged once it
 * answers (its xenond restarts into the pool first). */
static void *plug_joined_main(void *arg)
{
	struct { struct server *srv; char host[REF_STRLEN + 1]; } *j = arg;
	bool tunnels = false;
	for (int i = 0; i < 120; i++) {
		char pbds[32][REF_STRLEN + 1];
		size_t n = 0;
		bool live = false;
		db_rdlock(j->srv->db);
		struct db_obj *h = db_lookup_cls(j->srv->db, SC_C_host, j->host);
		live = h && host_live(j->srv->db, h);
		for (struct db_obj *pbd = db_first(j->srv->db, SC_C_PBD); pbd && h && n < 32; pbd = db_next(pbd)) {
			struct db_obj *sr = db_lookup_cls(j->srv->db, SC_C_SR, db_peek_str(pbd, SC_F_PBD__SR));
			if (sr && db_peek_bool(sr, SC_F_SR__shared) && !db_peek_bool(pbd, SC_F_PBD__currently_attached) &&
			    !strcmp(db_peek_str(pbd, SC_F_PBD__host), j->host))
				snprintf(pbds[n++], REF_STRLEN + 1, "%s", pbd->ref);
		}
		db_unlock(j->srv->db);
		/* the private networks of the pool reach it (again at the next
		 * round while a call to it fails: a host just marked live may
		 * not serve calls yet) */
		if (live && !tunnels)
			tunnels = tunnel_joined_host(j->srv, j->host) == 0;
		if (!h || (live && n == 0 && tunnels))
			break;
		size_t done = 0;
		for (size_t k = 0; live && k < n; k++) {
			struct xerr e = XERR_INIT;
			if (call_pbd_plug(j->srv, j->host, pbds[k], &e) == 0)
				done++;
			else
				log_warn("pool: plugging %s on a new member: %s", pbds[k], e.code ? e.code : "?");
			xerr_clear(&e);
		}
		if (live && done == n && tunnels)
			break;
		sleep(1);
	}
	free(j);
	return NULL;
}

void pool_plug_joined(struct server *srv, const char *host_ref)
{
	struct { struct server *srv; char host[REF_STRLEN + 1]; } *j = xcalloc(1, sizeof *j);
	j->srv = srv;
	snprintf(j->host, sizeof j->host, "%s", host_ref);
	pthread_t th;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &a, plug_joined_main, j) != 0)
		free(j);
	pthread_attr_destroy(&a);
}

int pool_forward_call(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct server *srv = ctx->srv;
	size_t n = xv_len(args);
	const char *target = n ? xv_as_str(xv_arr_get(args, n - 1)) : NULL;
	if (!target)
		return xerr_internal(err, "pool: a forwarded call without its host");
	if (ref_is_null(target))
		return xerr_set(err, ERR_NO_HOSTS_AVAILABLE, NULL);
	char href[REF_STRLEN + 1];
	snprintf(href, sizeof href, "%s", target);
	xv fwd = xv_arr_new();
	for (size_t i = 0; i + 1 < n; i++)
		xv_arr_push(&fwd, xv_copy(xv_arr_get(args, i)));
	int rc = 0;
	db_rdlock(ctx->db);
	struct db_obj *h = db_lookup_cls(ctx->db, SC_C_host, href);
	/* VM.start_on: the host must be able to boot the VM */
	if (h && host_live(ctx->db, h) && ctx->cls == SC_C_VM && !strcmp(ctx->msg->name, "start_on")) {
		struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, xv_as_str(xv_arr_get(&fwd, 0)));
		if (vm)
			rc = can_boot_on(ctx->db, vm, h, err);
	}
	db_unlock(ctx->db);
	bool sr_create = ctx->cls == SC_C_SR && !strcmp(ctx->msg->name, "create");
	if (rc == 0 && sr_create && !strcmp(href, srv->host_ref)) /* a shared SR made here */
		rc = rpc_impl_SR__create.fn(ctx, &fwd, result, err);
	else if (rc == 0) {
		char method[128];
		snprintf(method, sizeof method, "%s.%s", sc_classes[ctx->cls].name, ctx->msg->name);
		rc = pool_call_on_host(srv, href, method, &fwd, ctx->task, result, err);
	}
	bool shared = sr_create && arg_true(xv_arr_get(&fwd, 7));
	xv_free(&fwd);
	if (rc == 0 && shared && xv_as_str(result)) {
		char sr[REF_STRLEN + 1];
		snprintf(sr, sizeof sr, "%s", xv_as_str(result));
		rc = share_sr(srv, sr, err);
	}
	return rc;
}

/* ---- a member's writes ---- */

/* One try at sending a write to the master: 0, or -1 with err set and
 * *again when another try may do (no master known, or it lost the
 * leadership a moment). */
static int send_to_master(struct server *srv, struct pool_raft *raft, const char *entry, size_t len,
			  long timeout_s, bool *again, struct xerr *err)
{
	char master[POOL_ADDR_MAX], session[REF_STRLEN + 1];
	pool_raft_leader(raft, master);
	char *colon = strrchr(master, ':');
	if (colon)
		*colon = 0;
	*again = true;
	/* a leader not heard from lately is likely cut off or gone: the
	 * write waits for the next one rather than for a dead connection */
	if (!master[0] || !pool_raft_leader_heard(raft))
		return xerr_set(err, ERR_HOST_IS_SLAVE, master, NULL);
	if (!pool_session(srv, session)) {
		*again = false;
		return xerr_set(err, ERR_HOST_IS_SLAVE, master, NULL);
	}
	struct peer *p = pool_open_peer(srv, NULL, master, timeout_s);
	if (p)
		peer_set_session(p, session);
	xv params = xv_arr_new();
	xv_arr_push(&params, xv_strn(entry, len));
	struct xerr e = XERR_INIT;
	enum peer_result r = p ? peer_call(p, "pool.apply_entry", &params, NULL, &e) : PEER_UNREACHABLE;
	xv_free(&params);
	peer_close(p);
	if (r == PEER_OK)
		return 0;
	const char *why = e.nparams ? e.params[0] : e.code ? e.code : "?";
	*again = r != PEER_FAILURE || !strcmp(e.code, ERR_HOST_IS_SLAVE) || strstr(why, "leader");
	log_warn("pool: a write sent to the master %s failed: %s", master, why);
	if (r == PEER_FAILURE) {
		xerr_move(err, &e);
		return -1;
	}
	xerr_clear(&e);
	return xerr_set(err, ERR_HOST_IS_SLAVE, master, NULL);
}

int pool_replicate(void *arg, const char *entry, size_t len, struct xerr *err)
{
	struct server *srv = arg;
	struct pool_raft *raft = __atomic_load_n(&srv->raft, __ATOMIC_ACQUIRE);
	/* a master lost or elected a moment ago: tried again for up to 5 s in
	 * all, each try cut to what is left (the entry puts whole rows: one
	 * that did commit is the same again). The caller holds the store's
	 * write lock, which this host's applier needs: the whole wait is
	 * bounded. A host elected master meanwhile refuses the write at once,
	 * as its Raft node needs that lock to apply the entries of the former
	 * master before it takes writes. */
	int64_t until = clock_now_ms() + 5000;
	for (;;) {
		if (pool_raft_is_leader(raft))
			return pool_raft_replicate(raft, entry, len, err);
		if (pool_raft_taking_over(raft))
			return xerr_set(err, ERR_HOST_IS_SLAVE, "", NULL);
		bool again = false;
		struct xerr e = XERR_INIT;
		long left_s = (long)((until - clock_now_ms() + 999) / 1000);
		if (send_to_master(srv, raft, entry, len, left_s < 1 ? 1 : left_s, &again, &e) == 0)
			return 0;
		if (!again || clock_now_ms() >= until) {
			if (err)
				xerr_move(err, &e);
			xerr_clear(&e);
			return -1;
		}
		xerr_clear(&e);
		usleep(100000);
	}
}

int pool_submit(void *arg, const char *entry, size_t len, struct db_pend *pd, struct xerr *err)
{
	struct server *srv = arg;
	struct pool_raft *raft = __atomic_load_n(&srv->raft, __ATOMIC_ACQUIRE);
	/* the leader pipelines its commits; elsewhere as pool_replicate */
	if (raft && pool_raft_is_leader(raft))
		return pool_raft_replicate_async(raft, entry, len, pd, err);
	return pool_replicate(arg, entry, len, err);
}

static int apply_entry(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *entry = xv_as_str(xv_arr_get(args, 0));
	if (!forwarded(ctx))
		return xerr_set(err, ERR_PERMISSION_DENIED, "pool.apply_entry is for the pool's hosts", NULL);
	if (!entry)
		return xerr_set(err, ERR_FIELD_TYPE_ERROR, "entry", NULL);
	return db_write_entry(ctx->db, entry, strlen(entry), err);
}

static int wait_applied(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *text = xv_as_str(xv_arr_get(args, 0));
	if (!forwarded(ctx))
		return xerr_set(err, ERR_PERMISSION_DENIED, "pool.wait_applied is for the pool's hosts", NULL);
	uint64_t want = text ? strtoull(text, NULL, 10) : 0;
	struct pool_raft *raft = __atomic_load_n(&ctx->srv->raft, __ATOMIC_ACQUIRE);
	/* woken as the entry is applied, 10 s at most */
	if (want && (!raft || !pool_raft_wait_applied(raft, want, 10000)))
		return xerr_set(err, ERR_HOST_OFFLINE, ctx->srv->host_ref, NULL);
	return 0;
}

static const struct sc_type t_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_void = {.kind = SC_VOID, .text = "void"};
static const struct sc_param apply_params[] = {{"entry", &t_string}};
static const struct sc_param wait_params[] = {{"index", &t_string}};
static const struct sc_message msg_wait_applied = {
	.name = "wait_applied", .session = true, .roles = SC_ROLE_POOL_ADMIN, .nparams = 1,
	.params = wait_params, .result = &t_void};
static const struct sc_message msg_apply_entry = {
	.name = "apply_entry", .session = true, .roles = SC_ROLE_POOL_ADMIN, .nparams = 1,
	.params = apply_params, .result = &t_void};

RPC_IMPL(VM, assert_can_boot_here, assert_can_boot_here, 0);
RPC_IMPL(VM, get_possible_hosts, get_possible_hosts, 0);
RPC_EXTRA(pool, apply_entry, &msg_apply_entry, apply_entry, RPC_SLOW);
RPC_EXTRA(pool, wait_applied, &msg_wait_applied, wait_applied, RPC_SLOW);
