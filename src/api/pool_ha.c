/* pool_ha: high availability — a protected VM comes back on another host
 * when its host dies, and never runs twice against its disks.
 *
 * pool.enable_ha(heartbeat_srs, configuration) makes a statefile VDI
 * (type ha_statefile) on the first shared SR given (or any shared SR every
 * host reaches), records it in pool.ha_statefiles and host.ha_statefiles,
 * and arms every host. The HA timeout T is configuration:timeout, else
 * pool.other_config:default_ha_timeout, else 60 s, as xapi.
 *
 * Liveness has two sources: the pool's Raft membership (a member hears its
 * leader; the leader knows when it last heard each member) and a heartbeat
 * through the statefile's SR: every host rewrites a small record of its own
 * next to the statefile image (<statefile-uuid>.hb-<host-uuid>, reached in
 * userspace through the SR's driver as its disks are) every T/10.
 *
 * The safety rule: a host that has neither heard its Raft leader nor
 * written its heartbeat for 3T/4 kills every QEMU of its own (self-fence,
 * as Xen's watchdog does for xapi's xhad), through their pid files, on a
 * thread that waits for neither the store nor the backend, so within T
 * nothing of it runs. The master declares a host dead only once it has
 * neither heard from it through Raft nor seen its heartbeat record change
 * for T + T/2 while its own reads of the SR succeed; a new master counts
 * from its election. Only then are the dead host's VMs recorded Halted and
 * the protected ones started on hosts that answer and have room:
 * ha_restart_priority "restart" first, then "best-effort" (tried once),
 * each in VM.order. A fenced host that hears the pool again tells the
 * master which VMs it stopped (pool.ha_fenced), as does a member whose
 * daemon starts to find VMs it recorded running gone: a member's store may
 * be behind the pool's, so the master's decides — what it still records
 * there becomes Halted, the protected ones restart.
 *
 * The watchdog: while HA is armed, a process of its own (xenond
 * --ha-watchdog, spawned by the fence thread) is fed a byte every 100 ms
 * through a pipe as long as the host is in the pool or on the SR; when the
 * bytes stop for 3T/4 — xenond died, hangs, was stopped, or is fencing —
 * it kills every QEMU of the host itself. A restarting xenond
 * (host.restart_agent) hands the pipe to its new image (XENON_HA_WD_FD);
 * pool.disable_ha sends it away ('D').
 *
 * Beside it: VM.assert_agile (xapi's agility, which protecting a VM
 * requires), pool.ha_compute_vm_failover_plan (the plan's placement for
 * the hosts and VMs given), and host.declare_dead (a user vouches that a
 * host is off: its VMs are lost as when the master finds it dead). */
#include "pool_ha.h"
#include "api.h"
#include "pool_forward.h"
#include "storage.h"
#include "vm_ops.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/uuid.h"
#include "../pool/raft.h"
#include "../sm/fs.h"
#include "../sm/sm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define HA_DEFAULT_TIMEOUT 60
#define HA_MIN_TIMEOUT 10
#define HB_RECORD 128
#define MAX_HOSTS 64

static int64_t prevent_until; /* the master's: no restart before then (clock_now_ms) */

static void ip_of(const char *addr, char out[POOL_ADDR_MAX])
{
	snprintf(out, POOL_ADDR_MAX, "%s", addr);
	char *colon = strrchr(out, ':');
	if (colon)
		*colon = 0;
}

/* ---- what the store says ---- */

static struct db_obj *the_pool(struct db *db)
{
	return db_first(db, SC_C_pool);
}

static bool ha_on(struct db *db)
{
	struct db_obj *p = the_pool(db);
	return p && db_peek_bool(p, SC_F_pool__ha_enabled);
}

int pool_ha_refuse(struct db *db, struct xerr *err)
{
	db_rdlock(db);
	bool on = ha_on(db);
	db_unlock(db);
	return on ? xerr_set(err, ERR_HA_IS_ENABLED, NULL) : 0;
}

static int parse_timeout(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = s ? strtoll(s, &end, 10) : -1;
	if (!s || errno || end == s || *end || v < HA_MIN_TIMEOUT || v > 86400)
		return -1;
	*out = v;
	return 0;
}

static int64_t ha_timeout(struct db_obj *pool)
{
	int64_t t;
	if (parse_timeout(xv_map_get_str(db_peek(pool, SC_F_pool__ha_configuration), "timeout"), &t) == 0)
		return t;
	if (parse_timeout(xv_map_get_str(db_peek(pool, SC_F_pool__other_config), "default_ha_timeout"), &t) == 0)
		return t;
	return HA_DEFAULT_TIMEOUT;
}

enum prio { PRIO_NONE, PRIO_RESTART, PRIO_BEST_EFFORT };

/* ha_restart_priority: "restart" (and the legacy "0".."3"), "best-effort",
 * "" — anything else is -1. */
static int prio_of(const char *s)
{
	if (!s || !*s)
		return PRIO_NONE;
	if (!strcmp(s, "restart") || (s[0] >= '0' && s[0] <= '3' && !s[1]))
		return PRIO_RESTART;
	if (!strcmp(s, "best-effort"))
		return PRIO_BEST_EFFORT;
	return -1;
}

static bool live_state(const char *ps)
{
	return !strcmp(ps, "Running") || !strcmp(ps, "Paused");
}

static bool host_is_live(struct db *db, struct db_obj *h)
{
	struct db_obj *m = db_lookup_cls(db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
	return m && db_peek_bool(m, SC_F_host_metrics__live);
}

static int64_t footprint(struct db_obj *vm)
{
	return db_peek_int(vm, SC_F_VM__memory_dynamic_max) + db_peek_int(vm, SC_F_VM__memory_overhead);
}

/* Memory host h has left for guests (running and paused VMs counted). */
static int64_t host_free(struct db *db, struct db_obj *h)
{
	struct db_obj *m = db_lookup_cls(db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
	if (!m)
		return 0;
	int64_t f = db_peek_int(m, SC_F_host_metrics__memory_total) - db_peek_int(h, SC_F_host__memory_overhead);
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm))
		if (!db_peek_bool(vm, SC_F_VM__is_control_domain) &&
		    live_state(db_peek_str(vm, SC_F_VM__power_state)) &&
		    !strcmp(db_peek_str(vm, SC_F_VM__resident_on), h->ref))
			f -= footprint(vm);
	return f;
}

/* ---- the failover plan ---- */

struct plan {
	size_t nhosts, nvms;
	int64_t free[MAX_HOSTS];
	struct { int64_t need; size_t host; } vm[1024];
};

/* The live hosts and the protected running VMs; conf (a VM ref -> priority
 * map) replaces the VMs' own priorities when given. Under the read lock. */
static void plan_collect(struct db *db, const xv *conf, struct plan *p)
{
	memset(p, 0, sizeof *p);
	char refs[MAX_HOSTS][REF_STRLEN + 1];
	for (struct db_obj *h = db_first(db, SC_C_host); h && p->nhosts < MAX_HOSTS; h = db_next(h)) {
		if (!host_is_live(db, h)) /* as xapi: the live set only */
			continue;
		snprintf(refs[p->nhosts], sizeof refs[0], "%s", h->ref);
		p->free[p->nhosts++] = host_free(db, h);
	}
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm && p->nvms < 1024; vm = db_next(vm)) {
		if (db_peek_bool(vm, SC_F_VM__is_control_domain) || !live_state(db_peek_str(vm, SC_F_VM__power_state)))
			continue;
		const char *pr = conf ? xv_map_get_str(conf, vm->ref) : db_peek_str(vm, SC_F_VM__ha_restart_priority);
		if (prio_of(pr) != PRIO_RESTART)
			continue;
		for (size_t i = 0; i < p->nhosts; i++)
			if (!strcmp(refs[i], db_peek_str(vm, SC_F_VM__resident_on))) {
				p->vm[p->nvms].need = footprint(vm);
				p->vm[p->nvms++].host = i;
			}
	}
}

#define PLAN_NOWHERE ((size_t)-1)

struct moving { int64_t need; size_t vm; };

/* largest first; the VMs' order breaks ties */
static int moving_cmp(const void *a, const void *b)
{
	const struct moving *x = a, *y = b;
	if (x->need != y->need)
		return x->need < y->need ? 1 : -1;
	return x->vm < y->vm ? -1 : x->vm > y->vm;
}

/* Places the VMs of the hosts in mask (and those on none of the plan's
 * hosts) on the others: largest first, each on the host with the most room
 * left. where (when given) gets each VM's host, PLAN_NOWHERE for one that
 * does not fit or stays; the answer is whether every one fits. */
static bool plan_place(const struct plan *p, uint64_t mask, size_t *where)
{
	int64_t room[MAX_HOSTS];
	struct moving *m = xmalloc((p->nvms + 1) * sizeof *m);
	size_t n = 0, alive = 0;
	for (size_t i = 0; i < p->nhosts; i++) {
		room[i] = (mask >> i) & 1 ? -1 : p->free[i];
		alive += !((mask >> i) & 1);
	}
	for (size_t i = 0; i < p->nvms; i++) {
		if (where)
			where[i] = PLAN_NOWHERE;
		if (p->vm[i].host == PLAN_NOWHERE || ((mask >> p->vm[i].host) & 1))
			m[n++] = (struct moving){p->vm[i].need, i};
	}
	qsort(m, n, sizeof m[0], moving_cmp);
	bool all = !n || alive;
	for (size_t k = 0; k < n && alive && (all || where); k++) {
		size_t best = 0;
		for (size_t j = 1; j < p->nhosts; j++)
			if (room[j] > room[best])
				best = j;
		if (room[best] < m[k].need) {
			all = false;
			continue;
		}
		room[best] -= m[k].need;
		if (where)
			where[m[k].vm] = best;
	}
	free(m);
	return all;
}

/* A plan exists for any nfail hosts failing at once. */
static bool plan_exists(const struct plan *p, int64_t nfail)
{
	if (nfail <= 0)
		return true;
	if ((size_t)nfail >= p->nhosts)
		return p->nvms == 0;
	if (p->nhosts > 20)
		return false;
	for (uint64_t mask = 1; mask < (1ull << p->nhosts); mask++)
		if (__builtin_popcountll(mask) == nfail && !plan_place(p, mask, NULL))
			return false;
	return true;
}

static int64_t plan_max(const struct plan *p)
{
	int64_t n = 0;
	while ((size_t)(n + 1) < p->nhosts && plan_exists(p, n + 1))
		n++;
	return n;
}

/* pool.ha_plan_exists_for and ha_overcommitted after a change. */
static void plan_record(struct db_txn *t, struct db *db)
{
	struct db_obj *pool = the_pool(db);
	if (!pool)
		return;
	struct plan *p = xmalloc(sizeof *p);
	plan_collect(db, NULL, p);
	int64_t ntol = db_peek_int(pool, SC_F_pool__ha_host_failures_to_tolerate), max = plan_max(p);
	free(p);
	int64_t exists = max < ntol ? max : ntol, was = db_peek_int(pool, SC_F_pool__ha_plan_exists_for);
	const char *uuid = db_peek_str(pool, SC_F_pool__uuid);
	if (was != exists) {
		db_set_int(t, pool, SC_F_pool__ha_plan_exists_for, exists);
		/* as xapi: the body is how many failures the plan now survives */
		if (max < was) {
			char body[24];
			snprintf(body, sizeof body, "%lld", (long long)max);
			message_add(t, "HA_POOL_DROP_IN_PLAN_EXISTS_FOR", 3, "Pool", uuid, body);
		}
	}
	bool over = exists < ntol;
	if (db_peek_bool(pool, SC_F_pool__ha_overcommitted) != over) {
		db_set_bool(t, pool, SC_F_pool__ha_overcommitted, over);
		if (over)
			message_add(t, "HA_POOL_OVERCOMMITTED", 3, "Pool", uuid, "");
	}
}

/* On the master while HA is on: the plan again, as hosts and VMs come and
 * go between the calls that record it. */
static void plan_refresh(struct db *db)
{
	struct db_txn *t = db_begin(db);
	struct db_obj *pool = the_pool(db);
	if (!pool || !db_peek_bool(pool, SC_F_pool__ha_enabled)) { /* HA just turned off */
		db_abort(t);
		return;
	}
	plan_record(t, db);
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0)
		log_warn("HA: the failover plan not recorded: %s", e.code);
	xerr_clear(&e);
}

/* ---- the calls ---- */

/* A shared SR every host has plugged, whose driver can hold the
 * heartbeat records: 0, else INCOMPATIBLE_STATEFILE_SR [type]. */
static int sr_can_host(struct rpc_ctx *ctx, struct db_obj *sr, struct xerr *err)
{
	const char *type = db_peek_str(sr, SC_F_SR__type);
	bool ok = db_peek_bool(sr, SC_F_SR__shared);
	for (struct db_obj *h = ok ? db_first(ctx->db, SC_C_host) : NULL; h && ok; h = db_next(h)) {
		struct db_obj *pbd = storage_pbd(ctx->db, h->ref, sr);
		ok = pbd && db_peek_bool(pbd, SC_F_PBD__currently_attached);
	}
	const struct sm_driver *drv = sm_driver_find(type);
	if (!ok || !drv || !drv->vdi_create || !strcmp(type, "iso") || !strcmp(type, "smb"))
		return xerr_set(err, ERR_INCOMPATIBLE_STATEFILE_SR, type, NULL);
	return 0;
}

static char *hb_name(const char *statefile_uuid, const char *host_uuid)
{
	return xasprintf("%s.hb-%s", statefile_uuid, host_uuid);
}

/* One heartbeat record of this host into the open SR. */
static int hb_write(struct sm_sr *sr, const char *sf_uuid, const char *host_uuid, uint64_t seq)
{
	const struct sm_fs *fs = sm_fs_of(sr);
	if (!fs->pwrite) {
		errno = ENOTSUP;
		return -1;
	}
	char *name = hb_name(sf_uuid, host_uuid);
	struct xerr e = XERR_INIT;
	char *path = sm_path(sr, name, &e);
	free(name);
	xerr_clear(&e);
	if (!path) {
		errno = EINVAL;
		return -1;
	}
	char rec[HB_RECORD];
	memset(rec, ' ', sizeof rec);
	int n = snprintf(rec, sizeof rec, "xenon-ha %s seq=%llu ms=%lld", host_uuid, (unsigned long long)seq,
			 (long long)clock_now_ms());
	if (n > 0 && (size_t)n < sizeof rec)
		rec[n] = ' ';
	rec[sizeof rec - 1] = '\n';
	ssize_t w = fs->pwrite(sr, path, rec, sizeof rec, 0);
	free(path);
	return w == (ssize_t)sizeof rec ? 0 : -1;
}

static int pool_enable_ha(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	const xv *srs = xv_arr_get(args, 0), *conf = xv_arr_get(args, 1);
	int64_t timeout;
	const char *ts = conf ? xv_map_get_str(conf, "timeout") : NULL;
	if (ts && parse_timeout(ts, &timeout) < 0)
		return xerr_set(err, ERR_INVALID_VALUE, "timeout", ts, NULL);
	char sr_ref[REF_STRLEN + 1] = "";
	db_rdlock(ctx->db);
	struct db_obj *pool = the_pool(ctx->db);
	int rc = 0;
	if (pool && db_peek_bool(pool, SC_F_pool__ha_enabled))
		rc = xerr_set(err, ERR_HA_IS_ENABLED, NULL);
	for (struct db_obj *h = rc ? NULL : db_first(ctx->db, SC_C_host); h && !rc; h = db_next(h))
		if (!host_is_live(ctx->db, h))
			rc = xerr_set(err, ERR_HOST_OFFLINE, h->ref, NULL);
	for (size_t i = 0; !rc && i < xv_len(srs); i++) {
		struct db_obj *sr = generic_lookup(ctx, SC_C_SR, xv_arr_get(srs, i), err);
		if (!sr || sr_can_host(ctx, sr, err) < 0)
			rc = -1;
		else if (!sr_ref[0])
			snprintf(sr_ref, sizeof sr_ref, "%s", sr->ref);
	}
	for (struct db_obj *sr = rc || xv_len(srs) ? NULL : db_first(ctx->db, SC_C_SR); sr && !sr_ref[0];
	     sr = db_next(sr)) {
		struct xerr e = XERR_INIT;
		if (sr_can_host(ctx, sr, &e) == 0)
			snprintf(sr_ref, sizeof sr_ref, "%s", sr->ref);
		xerr_clear(&e);
	}
	if (!rc && !sr_ref[0])
		rc = xerr_set(err, ERR_CANNOT_CREATE_STATE_FILE, NULL);
	db_unlock(ctx->db);
	if (rc)
		return -1;

	/* the statefile: a raw file next to the SR's images, reached as they
	 * are (in userspace for a network SR), and this host's first
	 * heartbeat record beside it */
	struct sm_sr sr;
	struct sm_vdi v;
	sm_vdi_init(&v);
	uuid_generate_str(v.uuid);
	v.virtual_size = 4 << 20;
	v.location = xasprintf("%s.statefile", v.uuid);
	char my_uuid[UUID_STRLEN + 1] = "";
	db_rdlock(ctx->db);
	struct db_obj *sro = db_lookup_cls(ctx->db, SC_C_SR, sr_ref), *me = db_lookup_cls(ctx->db, SC_C_host, ctx->srv->host_ref);
	if (me)
		snprintf(my_uuid, sizeof my_uuid, "%s", db_peek_str(me, SC_F_host__uuid));
	rc = sro && me ? storage_sr_open(ctx, sro, true, &sr, err) : xerr_set(err, ERR_CANNOT_CREATE_STATE_FILE, NULL);
	db_unlock(ctx->db);
	if (rc < 0) {
		sm_vdi_free(&v);
		return -1;
	}
	struct xerr e = XERR_INIT;
	char *path = sm_path(&sr, v.location, &e);
	xerr_clear(&e);
	if (!path || sm_fs_of(&sr)->create_excl(&sr, path, 0600, v.virtual_size) < 0) {
		log_warn("HA: cannot make the statefile on SR %s: %s", sr_ref, strerror(errno));
		rc = xerr_set(err, ERR_CANNOT_CREATE_STATE_FILE, NULL);
	} else if (hb_write(&sr, v.uuid, my_uuid, 0) < 0) {
		log_warn("HA: the statefile's SR takes no heartbeat: %s", strerror(errno));
		rc = xerr_set(err, ERR_HA_HOST_CANNOT_ACCESS_STATEFILE, NULL);
	}
	if (rc < 0 && path) {
		sm_fs_of(&sr)->unlink(&sr, path);
		char *hb = hb_name(v.uuid, my_uuid), *hp = sm_path(&sr, hb, &e);
		xerr_clear(&e);
		if (hp)
			sm_fs_of(&sr)->unlink(&sr, hp);
		free(hp);
		free(hb);
	}
	free(path);
	sm_sr_close(&sr);
	if (rc < 0) {
		sm_vdi_free(&v);
		return -1;
	}
	char sf_uuid[UUID_STRLEN + 1];
	snprintf(sf_uuid, sizeof sf_uuid, "%s", v.uuid);

	struct db_txn *t = db_begin(ctx->db);
	pool = the_pool(ctx->db);
	sro = db_lookup_cls(ctx->db, SC_C_SR, sr_ref);
	if (!pool || !sro || db_peek_bool(pool, SC_F_pool__ha_enabled)) {
		db_abort(t);
		sm_vdi_free(&v);
		return xerr_set(err, pool && sro ? ERR_HA_IS_ENABLED : ERR_CANNOT_CREATE_STATE_FILE, NULL);
	}
	struct db_obj *vo = storage_vdi_new(t, sro, &v);
	sm_vdi_free(&v);
	db_set_str(t, vo, SC_F_VDI__name_label, "Statefile for HA");
	db_set_str(t, vo, SC_F_VDI__name_description, "Used for storage heartbeating");
	db_set_str(t, vo, SC_F_VDI__type, "ha_statefile");
	db_set_bool(t, vo, SC_F_VDI__sharable, true);
	xv files = xv_arr_new();
	xv_arr_push_str(&files, vo->ref);
	db_set(t, pool, SC_F_pool__ha_enabled, xv_bool(true));
	db_set(t, pool, SC_F_pool__ha_statefiles, xv_copy(&files));
	db_set(t, pool, SC_F_pool__ha_configuration, conf ? xv_copy(conf) : xv_map_new());
	db_set_str(t, pool, SC_F_pool__ha_cluster_stack, "xhad");
	for (struct db_obj *h = db_first(ctx->db, SC_C_host); h; h = db_next(h))
		db_set(t, h, SC_F_host__ha_statefiles, xv_copy(&files));
	xv_free(&files);
	plan_record(t, ctx->db);
	if (db_commit(t, err) < 0)
		return -1;
	log_info("HA: enabled, statefile %s on SR %s", sf_uuid, sr_ref);
	return 0;
}

static int pool_disable_ha(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	*result = XV_NIL_INIT;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *pool = the_pool(ctx->db);
	if (!pool || !db_peek_bool(pool, SC_F_pool__ha_enabled)) {
		db_abort(t);
		return xerr_set(err, ERR_HA_NOT_ENABLED, NULL);
	}
	xv files = db_get(ctx->db, pool, SC_F_pool__ha_statefiles);
	db_set(t, pool, SC_F_pool__ha_enabled, xv_bool(false));
	db_set(t, pool, SC_F_pool__ha_statefiles, xv_arr_new());
	db_set(t, pool, SC_F_pool__ha_configuration, xv_map_new());
	db_set_str(t, pool, SC_F_pool__ha_cluster_stack, "");
	db_set_int(t, pool, SC_F_pool__ha_plan_exists_for, 0);
	db_set_bool(t, pool, SC_F_pool__ha_overcommitted, false);
	for (struct db_obj *h = db_first(ctx->db, SC_C_host); h; h = db_next(h))
		db_set(t, h, SC_F_host__ha_statefiles, xv_arr_new());
	if (db_commit(t, err) < 0) {
		xv_free(&files);
		return -1;
	}
	/* the statefile and every heartbeat record next to it */
	for (size_t i = 0; i < xv_len(&files); i++) {
		const char *ref = xv_as_str(xv_arr_get(&files, i));
		struct sm_sr sr;
		char sf_uuid[UUID_STRLEN + 1] = "";
		struct xerr e = XERR_INIT;
		db_rdlock(ctx->db);
		struct db_obj *vdi = db_lookup_cls(ctx->db, SC_C_VDI, ref);
		struct db_obj *sro = vdi ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
		if (vdi)
			snprintf(sf_uuid, sizeof sf_uuid, "%s", db_peek_str(vdi, SC_F_VDI__uuid));
		int rc = sro ? storage_sr_open(ctx, sro, true, &sr, &e) : -1;
		xv hosts = xv_arr_new();
		for (struct db_obj *h = db_first(ctx->db, SC_C_host); h; h = db_next(h))
			xv_arr_push_str(&hosts, db_peek_str(h, SC_F_host__uuid));
		db_unlock(ctx->db);
		if (rc == 0) {
			char *sfp = vdi ? sm_path(&sr, db_peek_str(vdi, SC_F_VDI__location), &e) : NULL;
			if (sfp)
				sm_fs_of(&sr)->unlink(&sr, sfp);
			free(sfp);
			for (size_t j = 0; j < xv_len(&hosts); j++) {
				char *name = hb_name(sf_uuid, xv_as_str(xv_arr_get(&hosts, j)));
				char *path = sm_path(&sr, name, &e);
				if (path)
					sm_fs_of(&sr)->unlink(&sr, path);
				free(path);
				free(name);
			}
			sm_sr_close(&sr);
		}
		xv_free(&hosts);
		xerr_clear(&e);
		struct db_txn *ft = db_begin(ctx->db);
		vdi = db_lookup_cls(ctx->db, SC_C_VDI, ref);
		if (vdi)
			storage_vdi_forget(ft, vdi);
		if (db_commit(ft, &e) < 0)
			log_warn("HA: the statefile %s stays: %s", ref, e.code);
		xerr_clear(&e);
	}
	xv_free(&files);
	log_info("HA: disabled");
	return 0;
}

static int set_ntol(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	int64_t v = arg_int(args, 1);
	if (v < 0)
		return xerr_set(err, ERR_INVALID_VALUE, "ha_host_failures_to_tolerate", "negative", NULL);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *pool = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err);
	if (!pool) {
		db_abort(t);
		return -1;
	}
	if (db_peek_bool(pool, SC_F_pool__ha_enabled) && !db_peek_bool(pool, SC_F_pool__ha_allow_overcommit)) {
		struct plan *p = xmalloc(sizeof *p);
		plan_collect(ctx->db, NULL, p);
		bool ok = plan_exists(p, v);
		free(p);
		if (!ok) {
			db_abort(t);
			return xerr_set(err, ERR_HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN, NULL);
		}
	}
	db_set_int(t, pool, SC_F_pool__ha_host_failures_to_tolerate, v);
	db_commit(t, NULL); /* the value is in; what follows depends on it */
	t = db_begin(ctx->db);
	plan_record(t, ctx->db);
	return db_commit(t, err);
}

/* How many host failures the pool's plan tolerates, with the VMs'
 * priorities, or those conf maps VMs to (the hypothetical call). */
static int64_t max_failures(struct db *db, const xv *conf)
{
	struct plan *p = xmalloc(sizeof *p);
	db_rdlock(db);
	plan_collect(db, conf, p);
	db_unlock(db);
	int64_t n = plan_max(p);
	free(p);
	return n;
}

static int compute_max(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)err;
	*result = xv_int(max_failures(ctx->db, NULL));
	return 0;
}

static int compute_hypothetical(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const xv *conf = xv_arr_get(args, 0);
	for (size_t i = 0; conf && i < xv_len(conf); i++)
		if (prio_of(xv_as_str(&conf->u.m->vals[i])) < 0)
			return xerr_set(err, ERR_INVALID_VALUE, "ha_restart_priority", xv_as_str(&conf->u.m->vals[i]), NULL);
	*result = xv_int(max_failures(ctx->db, conf));
	return 0;
}

static int plan_exists_call(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)err;
	struct plan *p = xmalloc(sizeof *p);
	db_rdlock(ctx->db);
	plan_collect(ctx->db, NULL, p);
	db_unlock(ctx->db);
	*result = xv_bool(plan_exists(p, arg_int(args, 0)));
	free(p);
	return 0;
}

/* xapi's Agility: an SR is properly shared when it is marked shared and
 * every enabled host has it plugged. */
static bool sr_properly_shared(struct db *db, struct db_obj *sr)
{
	if (!db_peek_bool(sr, SC_F_SR__shared))
		return false;
	for (struct db_obj *h = db_first(db, SC_C_host); h; h = db_next(h)) {
		struct db_obj *pbd = db_peek_bool(h, SC_F_host__enabled) ? storage_pbd(db, h->ref, sr) : NULL;
		if (db_peek_bool(h, SC_F_host__enabled) && !(pbd && db_peek_bool(pbd, SC_F_PBD__currently_attached)))
			return false;
	}
	return true;
}

/* A network is properly shared when every enabled host has a PIF on it
 * that is no bond's member; it is an SR-IOV network when one of its PIFs
 * is an SR-IOV logical PIF. */
static bool network_properly_shared(struct db *db, struct db_obj *net, bool *sriov)
{
	xv pifs = db_get(db, net, SC_F_network__PIFs);
	bool ok = true;
	*sriov = false;
	for (struct db_obj *h = db_first(db, SC_C_host); h; h = db_next(h)) {
		bool has = !db_peek_bool(h, SC_F_host__enabled);
		for (size_t i = 0; i < xv_len(&pifs) && !has; i++) {
			struct db_obj *pif = db_lookup_cls(db, SC_C_PIF, xv_as_str(xv_arr_get(&pifs, i)));
			has = pif && !strcmp(db_peek_str(pif, SC_F_PIF__host), h->ref) &&
			      !db_lookup_cls(db, SC_C_Bond, db_peek_str(pif, SC_F_PIF__bond_slave_of));
		}
		ok = ok && has;
	}
	for (size_t i = 0; i < xv_len(&pifs); i++) {
		struct db_obj *pif = db_lookup_cls(db, SC_C_PIF, xv_as_str(xv_arr_get(&pifs, i)));
		*sriov = *sriov || (pif && xv_len(db_peek(pif, SC_F_PIF__sriov_logical_PIF_of)) > 0);
	}
	xv_free(&pifs);
	return ok;
}

/* A VM is agile — it can run on (and be restarted on) any enabled host —
 * when it has no vGPU and no VUSB, its disks are on properly shared SRs and
 * its VIFs on properly shared networks, none SR-IOV: else xapi's error for
 * the first thing that holds it. Under the store's lock. */
static int vm_agile(struct db *db, struct db_obj *vm, struct xerr *err)
{
	if (xv_len(db_peek(vm, SC_F_VM__VGPUs)))
		return xerr_set(err, ERR_VM_HAS_VGPU, vm->ref, NULL);
	if (xv_len(db_peek(vm, SC_F_VM__VUSBs)))
		return xerr_set(err, ERR_VM_HAS_VUSBS, vm->ref, NULL);
	xv vbds = db_get(db, vm, SC_F_VM__VBDs), vifs = db_get(db, vm, SC_F_VM__VIFs);
	int rc = 0;
	for (size_t i = 0; i < xv_len(&vbds) && !rc; i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		struct db_obj *vdi = vbd && !db_peek_bool(vbd, SC_F_VBD__empty)
					     ? db_lookup_cls(db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI))
					     : NULL;
		struct db_obj *sr = vdi ? db_lookup_cls(db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
		if (sr && !sr_properly_shared(db, sr))
			rc = xerr_set(err, ERR_HA_CONSTRAINT_VIOLATION_SR_NOT_SHARED, sr->ref, NULL);
	}
	for (size_t i = 0; i < xv_len(&vifs) && !rc; i++) {
		struct db_obj *vif = db_lookup_cls(db, SC_C_VIF, xv_as_str(xv_arr_get(&vifs, i)));
		struct db_obj *net = vif ? db_lookup_cls(db, SC_C_network, db_peek_str(vif, SC_F_VIF__network)) : NULL;
		bool sriov = false;
		if (net && !network_properly_shared(db, net, &sriov))
			rc = xerr_set(err, ERR_HA_CONSTRAINT_VIOLATION_NETWORK_NOT_SHARED, net->ref, NULL);
		else if (net && sriov)
			rc = xerr_set(err, ERR_VM_HAS_SRIOV_VIF, vm->ref, NULL);
	}
	xv_free(&vbds);
	xv_free(&vifs);
	return rc;
}

static int vm_assert_agile(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	int rc = vm ? vm_agile(ctx->db, vm, err) : -1;
	db_unlock(ctx->db);
	return rc;
}

/* pool.ha_compute_vm_failover_plan(failed_hosts, failed_vms): where each
 * failed VM would restart were those hosts gone — {"host": ref}, or
 * {"error_code": …}: the VM's agility error (such a VM is not placed), else
 * HOST_NOT_ENOUGH_FREE_MEMORY. The hosts left are the live ones not
 * named; the placement is the failover plan's. */
static int compute_vm_failover_plan(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const xv *hosts = xv_arr_get(args, 0), *vms = xv_arr_get(args, 1);
	struct plan *p = xmalloc(sizeof *p);
	memset(p, 0, sizeof *p);
	char (*href)[REF_STRLEN + 1] = xcalloc(MAX_HOSTS, sizeof *href);
	size_t nv = xv_len(vms), *where = xcalloc(nv + 1, sizeof *where);
	char **code = xcalloc(nv + 1, sizeof *code);
	size_t *slot = xcalloc(nv + 1, sizeof *slot);
	uint64_t mask = 0;
	int rc = 0;
	db_rdlock(ctx->db);
	for (size_t i = 0; i < xv_len(hosts) && rc == 0; i++)
		if (!generic_lookup(ctx, SC_C_host, xv_arr_get(hosts, i), err))
			rc = -1;
	for (size_t i = 0; i < nv && rc == 0; i++)
		if (!generic_lookup(ctx, SC_C_VM, xv_arr_get(vms, i), err))
			rc = -1;
	for (struct db_obj *h = db_first(ctx->db, SC_C_host); h && rc == 0 && p->nhosts < MAX_HOSTS; h = db_next(h)) {
		bool failed = !host_is_live(ctx->db, h);
		for (size_t i = 0; i < xv_len(hosts) && !failed; i++)
			failed = !strcmp(xv_as_str(xv_arr_get(hosts, i)), h->ref);
		if (failed)
			mask |= 1ull << p->nhosts;
		snprintf(href[p->nhosts], REF_STRLEN + 1, "%s", h->ref);
		p->free[p->nhosts++] = host_free(ctx->db, h);
	}
	for (size_t i = 0; i < nv && rc == 0; i++) {
		struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, xv_as_str(xv_arr_get(vms, i)));
		struct xerr e = XERR_INIT;
		slot[i] = PLAN_NOWHERE;
		if (vm_agile(ctx->db, vm, &e) < 0) {
			code[i] = xstrdup(e.code);
		} else if (p->nvms < sizeof p->vm / sizeof p->vm[0]) {
			slot[i] = p->nvms;
			p->vm[p->nvms].need = footprint(vm);
			p->vm[p->nvms++].host = PLAN_NOWHERE;
		}
		xerr_clear(&e);
	}
	db_unlock(ctx->db);
	if (rc == 0) {
		plan_place(p, mask, where);
		*result = xv_map_new();
		for (size_t i = 0; i < nv; i++) {
			xv entry = xv_map_new();
			size_t h = slot[i] == PLAN_NOWHERE ? PLAN_NOWHERE : where[slot[i]];
			if (h != PLAN_NOWHERE)
				xv_map_set_str(&entry, "host", href[h]);
			else
				xv_map_set_str(&entry, "error_code", code[i] ? code[i] : ERR_HOST_NOT_ENOUGH_FREE_MEMORY);
			xv_map_set(result, xv_as_str(xv_arr_get(vms, i)), entry);
		}
	}
	for (size_t i = 0; i < nv; i++)
		free(code[i]);
	free(slot);
	free(code);
	free(where);
	free(href);
	free(p);
	return rc;
}

static int set_priority(struct rpc_ctx *ctx, const xv *ref, const char *value, struct xerr *err)
{
	int pr = prio_of(value);
	if (pr < 0)
		return xerr_set(err, ERR_INVALID_VALUE, "ha_restart_priority", value, NULL);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, ref, err);
	int rc = vm ? 0 : -1;
	if (rc == 0 && db_peek_bool(vm, SC_F_VM__is_control_domain))
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the control domain cannot be protected", NULL);
	bool on = rc == 0 && ha_on(ctx->db);
	if (rc == 0 && on && pr == PRIO_RESTART)
		rc = vm_agile(ctx->db, vm, err);
	if (rc == 0 && on && pr == PRIO_RESTART && !db_peek_bool(the_pool(ctx->db), SC_F_pool__ha_allow_overcommit) &&
	    live_state(db_peek_str(vm, SC_F_VM__power_state))) {
		xv conf = xv_map_new();
		for (struct db_obj *o = db_first(ctx->db, SC_C_VM); o; o = db_next(o))
			xv_map_set_str(&conf, o->ref, o == vm ? value : db_peek_str(o, SC_F_VM__ha_restart_priority));
		struct plan *p = xmalloc(sizeof *p);
		plan_collect(ctx->db, &conf, p);
		if (!plan_exists(p, db_peek_int(the_pool(ctx->db), SC_F_pool__ha_host_failures_to_tolerate)))
			rc = xerr_set(err, ERR_HA_OPERATION_WOULD_BREAK_FAILOVER_PLAN, NULL);
		free(p);
		xv_free(&conf);
	}
	if (rc) {
		db_abort(t);
		return -1;
	}
	db_set_str(t, vm, SC_F_VM__ha_restart_priority, value);
	db_set_bool(t, vm, SC_F_VM__ha_always_run, pr != PRIO_NONE); /* xapi keeps the two together */
	if (db_commit(t, err) < 0)
		return -1;
	t = db_begin(ctx->db);
	plan_record(t, ctx->db);
	return db_commit(t, err);
}

static int vm_set_ha_restart_priority(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	return set_priority(ctx, xv_arr_get(args, 0), arg_str(args, 1), err);
}

/* Deprecated: true protects the VM ("restart" unless it has a priority),
 * false unprotects it. */
static int vm_set_ha_always_run(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	const char *value = "";
	char keep[32] = "";
	if (arg_bool(args, 1)) {
		db_rdlock(ctx->db);
		struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
		if (vm)
			snprintf(keep, sizeof keep, "%s", db_peek_str(vm, SC_F_VM__ha_restart_priority));
		db_unlock(ctx->db);
		if (!vm)
			return -1;
		value = prio_of(keep) > 0 ? keep : "restart";
	}
	return set_priority(ctx, xv_arr_get(args, 0), value, err);
}

static int assert_can_host(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	db_rdlock(ctx->db);
	struct db_obj *sr = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 0), err);
	int rc = sr ? sr_can_host(ctx, sr, err) : -1;
	db_unlock(ctx->db);
	return rc;
}

/* No protected VM is restarted for that long (0: restarts again). */
static int prevent_restarts(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	int64_t s = arg_int(args, 0);
	if (s < 0)
		return xerr_set(err, ERR_INVALID_VALUE, "seconds", "negative", NULL);
	if (pool_ha_refuse(ctx->db, err) == 0)
		return xerr_set(err, ERR_HA_NOT_ENABLED, NULL);
	xerr_clear(err);
	__atomic_store_n(&prevent_until, s ? clock_now_ms() + s * 1000 : 0, __ATOMIC_RELEASE);
	log_info("HA: restarts %s", s ? "held back" : "allowed again");
	return 0;
}

RPC_IMPL(SR, assert_can_host_ha_statefile, assert_can_host, 0);
RPC_IMPL(pool, ha_prevent_restarts_for, prevent_restarts, 0);
RPC_IMPL(pool, enable_ha, pool_enable_ha, RPC_SLOW);
RPC_IMPL(pool, disable_ha, pool_disable_ha, RPC_SLOW);
RPC_IMPL(pool, set_ha_host_failures_to_tolerate, set_ntol, 0);
RPC_IMPL(pool, ha_compute_max_host_failures_to_tolerate, compute_max, 0);
RPC_IMPL(pool, ha_compute_hypothetical_max_host_failures_to_tolerate, compute_hypothetical, 0);
RPC_IMPL(pool, ha_failover_plan_exists, plan_exists_call, 0);
RPC_IMPL(pool, ha_compute_vm_failover_plan, compute_vm_failover_plan, 0);
RPC_IMPL(VM, assert_agile, vm_assert_agile, 0);
RPC_IMPL(VM, set_ha_restart_priority, vm_set_ha_restart_priority, 0);
RPC_IMPL(VM, set_ha_always_run, vm_set_ha_always_run, 0);

/* ---- the running part ---- */

struct watch {
	char uuid[UUID_STRLEN + 1], ref[REF_STRLEN + 1], address[POOL_ADDR_MAX];
	char content[HB_RECORD];
	int64_t sf_change, raft_seen, dead_at;
	bool dead;
};

struct pending {
	char ref[REF_STRLEN + 1];
	int prio;
	int64_t order;
	char avoid[REF_STRLEN + 1]; /* the host its last try failed on: another first */
};

/* A VM whose host is lost: recorded Halted in t, and queued in q (up to
 * 64) for a restart when it is protected. */
static void lost_vm(struct db_txn *t, struct db_obj *vm, struct pending *q, size_t *nq)
{
	int pr = prio_of(db_peek_str(vm, SC_F_VM__ha_restart_priority));
	if (pr > 0 && *nq < 64) {
		struct pending *p = &q[(*nq)++];
		memset(p, 0, sizeof *p);
		snprintf(p->ref, sizeof p->ref, "%s", vm->ref);
		p->prio = pr;
		p->order = db_peek_int(vm, SC_F_VM__order);
	}
	vm_record_halted(t, vm, "Halted");
	op_clear_all(t, vm);
	vm_update_allowed_operations(t, vm);
}

static struct {
	struct server *srv;
	pthread_t io, watch, restart;
	bool running;
	volatile bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under lock */
	bool armed;
	int64_t timeout_ms;
	char sf_uuid[UUID_STRLEN + 1], sr_ref[REF_STRLEN + 1];
	int64_t last_sf_ok, last_raft_ok, read_ok_at;
	bool leading;
	struct watch hosts[MAX_HOSTS];
	size_t nhosts;
	struct pending queue[256];
	size_t nqueue;
	/* under lock: this host's live VMs as the store said last (the io
	 * thread's copy, so a fence needs no lock of the store) */
	struct { char uuid[UUID_STRLEN + 1], ref[REF_STRLEN + 1]; int64_t domid; } here[64];
	size_t nhere;
	/* under lock: QEMUs a fence killed, whose exit the VM logic must not
	 * act on (pool_ha_swallow_report) */
	char swept[64][UUID_STRLEN + 1];
	size_t nswept;
	/* under lock: set by the fence thread, cleared by the watch thread */
	bool fenced;
	char fenced_vms[64][REF_STRLEN + 48]; /* ref/domid/lost-at */
	size_t nfenced;
	pthread_t fencer;
} H = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void nap(int64_t ms)
{
	for (int64_t left = ms; left > 0 && !H.stop; left -= 100)
		usleep((useconds_t)(left < 100 ? left : 100) * 1000);
}

/* Reads the HA settings from this host's store. */
static void read_config(void)
{
	struct db *db = H.srv->db;
	db_rdlock(db);
	struct db_obj *pool = the_pool(db);
	bool on = pool && db_peek_bool(pool, SC_F_pool__ha_enabled);
	const xv *files = on ? db_peek(pool, SC_F_pool__ha_statefiles) : NULL;
	struct db_obj *vdi = files && xv_len(files) ? db_lookup_cls(db, SC_C_VDI, xv_as_str(xv_arr_get(files, 0))) : NULL;
	int64_t t = pool ? ha_timeout(pool) * 1000 : 0;
	pthread_mutex_lock(&H.lock);
	bool was = H.armed;
	H.armed = on && vdi;
	if (H.armed) {
		snprintf(H.sf_uuid, sizeof H.sf_uuid, "%s", db_peek_str(vdi, SC_F_VDI__uuid));
		snprintf(H.sr_ref, sizeof H.sr_ref, "%s", db_peek_str(vdi, SC_F_VDI__SR));
		H.timeout_ms = t;
		if (!was) { /* armed now: counted from here */
			int64_t now = clock_now_ms();
			H.last_sf_ok = H.last_raft_ok = now;
			H.nhosts = 0;
			H.leading = false;
			log_info("HA: armed on this host (timeout %lld s)", (long long)(t / 1000));
		}
	} else if (was) {
		H.nqueue = 0;
		log_info("HA: disarmed on this host");
	}
	pthread_mutex_unlock(&H.lock);
	db_unlock(db);
}

static struct watch *watch_of(const char *uuid, int64_t now)
{
	for (size_t i = 0; i < H.nhosts; i++)
		if (!strcmp(H.hosts[i].uuid, uuid))
			return &H.hosts[i];
	if (H.nhosts == MAX_HOSTS)
		return NULL;
	struct watch *w = &H.hosts[H.nhosts++];
	memset(w, 0, sizeof *w);
	snprintf(w->uuid, sizeof w->uuid, "%s", uuid);
	w->sf_change = w->raft_seen = now;
	return w;
}

/* The heartbeat: this host's record written, and on the master the
 * others' read, every T/10. Blocking I/O stays on this thread. */
static void *io_main(void *arg)
{
	(void)arg;
	struct server *srv = H.srv;
	struct sm_sr sr;
	bool open = false;
	char open_sr[REF_STRLEN + 1] = "";
	uint64_t seq = 0;
	bool warned = false;
	while (!H.stop) {
		read_config();
		pthread_mutex_lock(&H.lock);
		bool armed = H.armed, leading = H.leading;
		int64_t period = H.timeout_ms / 10;
		char sf_uuid[UUID_STRLEN + 1], sr_ref[REF_STRLEN + 1];
		snprintf(sf_uuid, sizeof sf_uuid, "%s", H.sf_uuid);
		snprintf(sr_ref, sizeof sr_ref, "%s", H.sr_ref);
		pthread_mutex_unlock(&H.lock);
		if (open && (!armed || strcmp(open_sr, sr_ref))) {
			sm_sr_close(&sr);
			open = false;
		}
		if (!armed) {
			nap(200);
			continue;
		}
		char me[UUID_STRLEN + 1] = "";
		struct { char uuid[UUID_STRLEN + 1]; } others[MAX_HOSTS];
		size_t nothers = 0;
		struct xerr e = XERR_INIT;
		db_rdlock(srv->db);
		struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
		if (h)
			snprintf(me, sizeof me, "%s", db_peek_str(h, SC_F_host__uuid));
		for (struct db_obj *o = db_first(srv->db, SC_C_host); o && nothers < MAX_HOSTS; o = db_next(o))
			if (o != h)
				snprintf(others[nothers++].uuid, sizeof others[0].uuid, "%s", db_peek_str(o, SC_F_host__uuid));
		pthread_mutex_lock(&H.lock);
		H.nhere = 0;
		for (struct db_obj *vm = db_first(srv->db, SC_C_VM); vm && H.nhere < 64; vm = db_next(vm)) {
			if (db_peek_bool(vm, SC_F_VM__is_control_domain) ||
			    !live_state(db_peek_str(vm, SC_F_VM__power_state)) ||
			    strcmp(db_peek_str(vm, SC_F_VM__resident_on), srv->host_ref))
				continue;
			snprintf(H.here[H.nhere].uuid, sizeof H.here[0].uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
			snprintf(H.here[H.nhere].ref, sizeof H.here[0].ref, "%s", vm->ref);
			H.here[H.nhere++].domid = db_peek_int(vm, SC_F_VM__domid);
		}
		pthread_mutex_unlock(&H.lock);
		if (!open) {
			struct db_obj *sro = db_lookup_cls(srv->db, SC_C_SR, sr_ref);
			struct rpc_ctx c = {.srv = srv, .db = srv->db};
			open = sro && storage_sr_open(&c, sro, false, &sr, &e) == 0;
			if (open)
				snprintf(open_sr, sizeof open_sr, "%s", sr_ref);
		}
		db_unlock(srv->db);
		xerr_clear(&e);
		if (open && me[0] && hb_write(&sr, sf_uuid, me, ++seq) == 0) {
			pthread_mutex_lock(&H.lock);
			H.last_sf_ok = clock_now_ms();
			pthread_mutex_unlock(&H.lock);
			if (warned)
				log_info("HA: the heartbeat SR answers again");
			warned = false;
		} else {
			if (!warned)
				log_warn("HA: cannot write the heartbeat on the statefile's SR: %s",
					 open ? strerror(errno) : "SR not reachable");
			warned = true;
			if (open)
				sm_sr_close(&sr);
			open = false;
		}
		/* the master reads everyone's record */
		bool all = open && leading;
		for (size_t i = 0; all && i < nothers && !H.stop; i++) {
			char *name = hb_name(sf_uuid, others[i].uuid);
			char *path = sm_path(&sr, name, &e);
			xerr_clear(&e);
			free(name);
			char buf[HB_RECORD];
			memset(buf, 0, sizeof buf);
			ssize_t n = path ? sm_fs_of(&sr)->pread(&sr, path, buf, sizeof buf - 1, 0) : -1;
			free(path);
			if (n < 0 && errno != ENOENT) {
				all = false;
				break;
			}
			int64_t now = clock_now_ms();
			pthread_mutex_lock(&H.lock);
			struct watch *w = watch_of(others[i].uuid, now);
			if (w && strcmp(w->content, buf)) {
				snprintf(w->content, sizeof w->content, "%s", buf);
				w->sf_change = now;
			}
			pthread_mutex_unlock(&H.lock);
		}
		if (all) {
			pthread_mutex_lock(&H.lock);
			H.read_ok_at = clock_now_ms();
			pthread_mutex_unlock(&H.lock);
		}
		nap(period > 300 ? period : 300);
	}
	if (open)
		sm_sr_close(&sr);
	return NULL;
}

static size_t kill_qemus(const char *run_dir, char (*uuids)[UUID_STRLEN + 1], size_t max);

/* Self-fence: every QEMU of this host killed at once (through their pid
 * files: neither the store nor the backend's locks are needed), then the
 * backend tidies up after each VM the store had here; nothing is written
 * (this host cannot write now). */
static void fence(void)
{
	struct server *srv = H.srv;
	char killed[64][UUID_STRLEN + 1];
	size_t nk = kill_qemus(srv->cfg.run_dir, killed, 64);
	pthread_mutex_lock(&H.lock);
	for (size_t i = 0; i < nk && H.nswept < 64; i++)
		snprintf(H.swept[H.nswept++], UUID_STRLEN + 1, "%.*s", UUID_STRLEN, killed[i]);
	size_t n = H.nhere;
	struct vm_spec specs[64];
	for (size_t i = 0; i < n; i++) {
		memset(&specs[i], 0, sizeof specs[i]);
		snprintf(specs[i].uuid, sizeof specs[i].uuid, "%s", H.here[i].uuid);
		snprintf(specs[i].ref, sizeof specs[i].ref, "%s", H.here[i].ref);
		specs[i].domid = H.here[i].domid;
		if (H.nfenced < 64)
			snprintf(H.fenced_vms[H.nfenced++], sizeof H.fenced_vms[0], "%s/%lld/%lld", H.here[i].ref,
				 (long long)H.here[i].domid, (long long)time(NULL));
	}
	H.fenced = true;
	pthread_mutex_unlock(&H.lock);
	log_error("HA: this host has lost the pool and the heartbeat SR: fenced (%zu QEMUs killed)", nk);
	for (size_t i = 0; i < n; i++) {
		struct xerr e = XERR_INIT;
		if (srv->backend->shutdown(&srv->xh, &specs[i], false, &e) < 0)
			log_error("HA: fencing: VM %s: %s", specs[i].uuid, e.code);
		else
			log_info("HA: fencing: VM %s stopped", specs[i].uuid);
		xerr_clear(&e);
		vm_spec_free(&specs[i]);
	}
}

bool pool_ha_swallow_report(const char *vm_uuid)
{
	pthread_mutex_lock(&H.lock);
	bool found = false;
	for (size_t i = 0; i < H.nswept && !found; i++)
		if (!strcmp(H.swept[i], vm_uuid)) {
			found = true;
			memmove(H.swept[i], H.swept[i + 1], (H.nswept - i - 1) * sizeof H.swept[0]);
			H.nswept--;
		}
	pthread_mutex_unlock(&H.lock);
	return found;
}

/* Telling the master of a fence, on a thread of its own: this host's
 * store may stay busy a while after a partition (a deposed master's
 * writes), and the fence rule must not wait for it. */
struct tell {
	struct server *srv;
	char vms[64][REF_STRLEN + 48]; /* ref/domid/lost-at */
	size_t n;
};

static void *tell_main(void *arg)
{
	struct tell *t = arg;
	struct server *srv = t->srv;
	for (int attempt = 0; attempt < 30 && !H.stop; attempt++) {
		char laddr[POOL_ADDR_MAX] = "", master[POOL_ADDR_MAX];
		if (!srv->raft || !pool_raft_leader(srv->raft, laddr)) {
			nap(1000);
			continue;
		}
		ip_of(laddr, master);
		xv a = xv_arr_new(), vms = xv_arr_new();
		xv_arr_push_str(&a, srv->host_ref);
		for (size_t i = 0; i < t->n; i++)
			xv_arr_push_str(&vms, t->vms[i]);
		xv_arr_push(&a, vms);
		struct xerr e = XERR_INIT;
		xv res = XV_NIL_INIT;
		int rc = pool_call_at(srv, master, "pool.ha_fenced", &a, &res, &e);
		xv_free(&res);
		xv_free(&a);
		if (rc == 0) {
			log_info("HA: the master knows which VMs this host has lost");
			xerr_clear(&e);
			break;
		}
		log_warn("HA: the master does not take this host's lost VMs yet: %s", e.code);
		xerr_clear(&e);
		nap(1000);
	}
	free(t);
	return NULL;
}

void pool_ha_report_gone(struct server *srv, const char *const *vm_refs, size_t n)
{
	struct tell *t = xcalloc(1, sizeof *t);
	t->srv = srv;
	for (size_t i = 0; i < n && t->n < 64; i++)
		snprintf(t->vms[t->n++], sizeof t->vms[0], "%s", vm_refs[i]);
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (!t->n || pthread_create(&th, &at, tell_main, t) != 0)
		free(t);
	pthread_attr_destroy(&at);
}

/* Back in the pool after a fence: this host may run VMs again. The master
 * is told which VMs were stopped here; its store, not this host's (which
 * may be behind after a partition), decides: what it still records here
 * becomes Halted and the protected ones restart. */
static void unfence(void)
{
	struct tell *t = xcalloc(1, sizeof *t);
	t->srv = H.srv;
	pthread_mutex_lock(&H.lock);
	t->n = H.nfenced;
	memcpy(t->vms, H.fenced_vms, t->n * sizeof t->vms[0]);
	H.nfenced = 0;
	H.fenced = false;
	pthread_mutex_unlock(&H.lock);
	log_info("HA: this host hears the pool again after its fence (%zu VMs were stopped here)", t->n);
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	if (!t->n || pthread_create(&th, &at, tell_main, t) != 0)
		free(t);
	pthread_attr_destroy(&at);
}

static int pending_cmp(const void *a, const void *b)
{
	const struct pending *x = a, *y = b;
	if (x->prio != y->prio)
		return x->prio - y->prio;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* The restarts found: queued in order for the master's restart thread. */
static void queue_restarts(const struct pending *q, size_t nq)
{
	pthread_mutex_lock(&H.lock);
	for (size_t i = 0; i < nq && H.nqueue < 256; i++)
		H.queue[H.nqueue++] = q[i];
	qsort(H.queue, H.nqueue, sizeof H.queue[0], pending_cmp);
	pthread_cond_broadcast(&H.cond);
	pthread_mutex_unlock(&H.lock);
}

/* Host h is gone, in t: its metrics say so, and every VM the store has
 * running or paused there is recorded Halted (lost_vm: the protected ones
 * queued in q). Returns how many VMs it had. */
static size_t host_lost(struct db_txn *t, struct db *db, struct db_obj *h, struct pending *q, size_t *nq)
{
	struct db_obj *m = db_lookup_cls(db, SC_C_host_metrics, db_peek_str(h, SC_F_host__metrics));
	if (m && db_peek_bool(m, SC_F_host_metrics__live))
		db_set_bool(t, m, SC_F_host_metrics__live, false);
	size_t nvms = 0;
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm)) {
		if (db_peek_bool(vm, SC_F_VM__is_control_domain) || !live_state(db_peek_str(vm, SC_F_VM__power_state)) ||
		    strcmp(db_peek_str(vm, SC_F_VM__resident_on), h->ref))
			continue;
		lost_vm(t, vm, q, nq);
		nvms++;
	}
	return nvms;
}

/* On the master: host w is dead (fenced for sure by now). Its VMs are
 * recorded Halted and the protected ones queued for a restart. */
static int declare_dead(struct watch *w, int64_t silent_ms)
{
	struct server *srv = H.srv;
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *h = db_lookup_uuid(srv->db, SC_C_host, w->uuid);
	if (!h) {
		db_abort(t);
		return -1;
	}
	struct pending q[64];
	size_t nq = 0, nvms = host_lost(t, srv->db, h, q, &nq);
	char *body = xasprintf("Host '%s' failed: silent for %lld ms (Raft and heartbeat)",
			       db_peek_str(h, SC_F_host__name_label), (long long)silent_ms);
	message_add(t, "HA_HOST_FAILED", 3, "Host", w->uuid, body);
	free(body);
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0) {
		log_warn("HA: host %s: cannot record it dead: %s", w->uuid, e.code);
		xerr_clear(&e);
		return -1;
	}
	log_error("HA: host %s silent for %lld ms (Raft and heartbeat): dead; %zu VMs halted, %zu to restart",
		  w->uuid, (long long)silent_ms, nvms, nq);
	queue_restarts(q, nq);
	return 0;
}

/* host.declare_dead(host), as xapi: refused for this host and for one that
 * answers (HOST_IS_LIVE) — the user vouches that it is off; then its VMs
 * are recorded Halted as for a host HA found dead (the protected ones
 * restarted elsewhere while HA is on) and it is disabled. */
static int host_declare_dead(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	struct server *srv = ctx->srv;
	char href[REF_STRLEN + 1] = "", uuid[UUID_STRLEN + 1] = "", address[POOL_ADDR_MAX] = "";
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	if (h) {
		snprintf(href, sizeof href, "%s", h->ref);
		snprintf(uuid, sizeof uuid, "%s", db_peek_str(h, SC_F_host__uuid));
		snprintf(address, sizeof address, "%s", db_peek_str(h, SC_F_host__address));
	}
	db_unlock(ctx->db);
	if (!h)
		return -1;
	/* asked whatever the store says: a heartbeat may be late */
	if (!strcmp(href, srv->host_ref) || (srv->raft && address[0] && pool_member_answers(srv, uuid, address)))
		return xerr_set(err, ERR_HOST_IS_LIVE, href, NULL);
	struct db_txn *t = db_begin(ctx->db);
	h = db_lookup_cls(ctx->db, SC_C_host, href);
	if (!h) {
		db_abort(t);
		return handle_invalid(err, SC_C_host, href);
	}
	struct pending q[64];
	size_t nq = 0, nvms = host_lost(t, ctx->db, h, q, &nq);
	bool on = ha_on(ctx->db);
	if (db_peek_bool(h, SC_F_host__enabled))
		db_set_bool(t, h, SC_F_host__enabled, false);
	if (db_commit(t, err) < 0)
		return -1;
	log_warn("host %s declared dead by a user: %zu VMs recorded Halted%s", uuid, nvms,
		 on && nq ? ", the protected ones to restart" : "");
	if (on)
		queue_restarts(q, nq);
	return 0;
}

/* pool.ha_fenced(host, vms), on the master: vms have no domain on host
 * any more (its fence stopped them, or they went with a power loss). Those
 * the master still records running there are Halted now, the protected
 * ones queued for a restart (while HA is on). */
static int ha_fenced(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	struct server *srv = ctx->srv;
	const char *host = arg_str(args, 0);
	const xv *vms = xv_arr_get(args, 1);
	if (!srv->raft || !pool_raft_is_leader(srv->raft))
		return xerr_set(err, ERR_HOST_IS_SLAVE, "", NULL);
	struct db_txn *t = db_begin(ctx->db);
	struct pending q[64];
	size_t nq = 0, n = 0;
	for (size_t i = 0; i < xv_len(vms); i++) {
		/* ref/domid/lost-at: the domain that is gone, not a later one
		 * of the VM (started there again since) */
		char ref[REF_STRLEN + 48];
		snprintf(ref, sizeof ref, "%s", xv_as_str(xv_arr_get(vms, i)) ? xv_as_str(xv_arr_get(vms, i)) : "");
		char *slash = strchr(ref, '/'), *slash2 = slash ? strchr(slash + 1, '/') : NULL;
		long long domid = slash ? strtoll(slash + 1, NULL, 10) : -1;
		long long lost_at = slash2 ? strtoll(slash2 + 1, NULL, 10) : 0;
		if (slash)
			*slash = 0;
		struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, ref);
		if (!vm || !live_state(db_peek_str(vm, SC_F_VM__power_state)) ||
		    strcmp(db_peek_str(vm, SC_F_VM__resident_on), host) || !slash2 ||
		    db_peek_int(vm, SC_F_VM__domid) != domid)
			continue;
		struct db_obj *m = db_lookup_cls(ctx->db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
		const xv *st = m ? db_peek(m, SC_F_VM_metrics__start_time) : NULL;
		if (st && st->kind == XV_TIME && st->u.i > lost_at)
			continue;
		lost_vm(t, vm, q, &nq);
		n++;
	}
	if (db_commit(t, err) < 0)
		return -1;
	log_info("HA: host %s has lost %zu VMs: %zu it still ran recorded Halted, %zu to restart", host,
		 xv_len(vms), n, nq);
	queue_restarts(q, nq);
	return 0;
}

static const struct sc_type t_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_strings = {.kind = SC_SET, .elem = &t_string, .text = "string set"};
static const struct sc_type t_void = {.kind = SC_VOID, .text = "void"};
/* vms: "<VM ref>/<domid>/<unix time it was lost>" each */
static const struct sc_param fenced_params[] = {{"host", &t_string}, {"vms", &t_strings}};
static const struct sc_message msg_ha_fenced = {
	.name = "ha_fenced", .session = true, .roles = SC_ROLE_POOL_ADMIN, .nparams = 2,
	.params = fenced_params, .result = &t_void};
RPC_EXTRA(pool, ha_fenced, &msg_ha_fenced, ha_fenced, 0);
RPC_IMPL(host, declare_dead, host_declare_dead, RPC_SLOW);

static bool watched_dead(const char *href)
{
	for (size_t i = 0; i < H.nhosts; i++)
		if (!strcmp(H.hosts[i].ref, href))
			return H.hosts[i].dead;
	return false;
}

/* The master's restarts, one at a time: each VM on the live host with the
 * most room; a "restart" VM that does not start stays queued. */
static void *restart_main(void *arg)
{
	(void)arg;
	struct server *srv = H.srv;
	pthread_mutex_lock(&H.lock);
	while (!H.stop) {
		if (!H.nqueue || !H.armed || !H.leading ||
		    __atomic_load_n(&prevent_until, __ATOMIC_ACQUIRE) > clock_now_ms()) {
			struct timespec ts;
			clock_realtime_after(&ts, 1000);
			pthread_cond_timedwait(&H.cond, &H.lock, &ts);
			continue;
		}
		struct pending p = H.queue[0];
		memmove(H.queue, H.queue + 1, (H.nqueue - 1) * sizeof H.queue[0]);
		H.nqueue--;
		pthread_mutex_unlock(&H.lock);
		char best[REF_STRLEN + 1] = "";
		bool halted = false;
		struct cand { char ref[REF_STRLEN + 1], uuid[UUID_STRLEN + 1], address[POOL_ADDR_MAX]; int64_t room; } c[MAX_HOSTS];
		size_t nc = 0;
		db_rdlock(srv->db);
		struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, p.ref);
		halted = vm && !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Halted") &&
			 prio_of(db_peek_str(vm, SC_F_VM__ha_restart_priority)) > 0;
		for (struct db_obj *h = halted ? db_first(srv->db, SC_C_host) : NULL; h && nc < MAX_HOSTS; h = db_next(h)) {
			pthread_mutex_lock(&H.lock);
			bool dead = watched_dead(h->ref);
			pthread_mutex_unlock(&H.lock);
			int64_t f = host_free(srv->db, h);
			if (dead || !host_is_live(srv->db, h) || !db_peek_bool(h, SC_F_host__enabled) || f < footprint(vm))
				continue;
			snprintf(c[nc].ref, sizeof c[nc].ref, "%s", h->ref);
			snprintf(c[nc].uuid, sizeof c[nc].uuid, "%s", db_peek_str(h, SC_F_host__uuid));
			snprintf(c[nc].address, sizeof c[nc].address, "%s", db_peek_str(h, SC_F_host__address));
			/* the host the last try failed on comes last */
			c[nc++].room = strcmp(h->ref, p.avoid) ? f : -1;
		}
		db_unlock(srv->db);
		/* the most room first, among the hosts that answer now */
		for (size_t k = 0; k < nc && !best[0]; k++) {
			size_t m = k;
			for (size_t j = k + 1; j < nc; j++)
				if (c[j].room > c[m].room)
					m = j;
			struct cand tmp = c[k];
			c[k] = c[m];
			c[m] = tmp;
			if (!strcmp(c[k].ref, srv->host_ref) || pool_member_answers(srv, c[k].uuid, c[k].address))
				snprintf(best, sizeof best, "%.*s", REF_STRLEN, c[k].ref);
		}
		int rc = -1;
		struct xerr e = XERR_INIT;
		if (halted && best[0]) {
			xv a = xv_arr_new();
			xv_arr_push_str(&a, p.ref);
			xv_arr_push_str(&a, best);
			xv_arr_push(&a, xv_bool(false));
			xv_arr_push(&a, xv_bool(false));
			rc = pool_call_on_host(srv, best, "VM.start_on", &a, NULL, NULL, &e);
			xv_free(&a);
			if (rc == 0)
				log_info("HA: VM %s restarted on host %s", p.ref, best);
			else
				log_warn("HA: VM %s not restarted on host %s: %s %s", p.ref, best, e.code,
					 e.nparams ? e.params[e.nparams - 1] : "");
		} else if (halted) {
			log_warn("HA: VM %s: no host has room for it now", p.ref);
		}
		xerr_clear(&e);
		pthread_mutex_lock(&H.lock);
		if (rc < 0 && halted && p.prio == PRIO_RESTART && H.nqueue < 256) {
			snprintf(p.avoid, sizeof p.avoid, "%s", best);
			H.queue[H.nqueue++] = p; /* again, after the others */
			struct timespec ts;
			clock_realtime_after(&ts, 2000);
			pthread_cond_timedwait(&H.cond, &H.lock, &ts);
		}
	}
	pthread_mutex_unlock(&H.lock);
	return NULL;
}


/* On the master: who was last heard when, and who is dead. */
static void monitor(struct pool_raft *raft, int64_t now)
{
	struct server *srv = H.srv;
	struct pool_raft_member m[POOL_MAX_MEMBERS];
	unsigned nm = pool_raft_members(raft, m, POOL_MAX_MEMBERS);
	struct { char uuid[UUID_STRLEN + 1], ref[REF_STRLEN + 1], address[POOL_ADDR_MAX]; } hs[MAX_HOSTS];
	size_t n = 0;
	db_rdlock(srv->db);
	for (struct db_obj *h = db_first(srv->db, SC_C_host); h && n < MAX_HOSTS; h = db_next(h)) {
		if (!strcmp(h->ref, srv->host_ref))
			continue;
		snprintf(hs[n].uuid, sizeof hs[n].uuid, "%s", db_peek_str(h, SC_F_host__uuid));
		snprintf(hs[n].ref, sizeof hs[n].ref, "%s", h->ref);
		snprintf(hs[n++].address, sizeof hs[0].address, "%s", db_peek_str(h, SC_F_host__address));
	}
	db_unlock(srv->db);
	pthread_mutex_lock(&H.lock);
	int64_t limit = H.timeout_ms + H.timeout_ms / 2;
	struct watch *dead[MAX_HOSTS];
	int64_t silent[MAX_HOSTS];
	size_t ndead = 0;
	for (size_t i = 0; i < n; i++) {
		struct watch *w = watch_of(hs[i].uuid, now);
		if (!w)
			continue;
		snprintf(w->ref, sizeof w->ref, "%s", hs[i].ref);
		snprintf(w->address, sizeof w->address, "%s", hs[i].address);
		for (unsigned k = 0; k < nm; k++) {
			char ip[POOL_ADDR_MAX];
			ip_of(m[k].address, ip);
			if (!strcmp(ip, w->address) && m[k].quiet_ms != UINT64_MAX && now - (int64_t)m[k].quiet_ms > w->raft_seen)
				w->raft_seen = now - (int64_t)m[k].quiet_ms;
		}
		int64_t seen = w->raft_seen > w->sf_change ? w->raft_seen : w->sf_change;
		if (w->dead) {
			if (seen > w->dead_at) {
				w->dead = false;
				log_info("HA: host %s is back", w->uuid);
			}
			continue;
		}
		if (now - w->raft_seen > limit && now - w->sf_change > limit && H.read_ok_at - w->sf_change > limit) {
			dead[ndead] = w;
			silent[ndead++] = now - seen;
		}
	}
	pthread_mutex_unlock(&H.lock);
	for (size_t i = 0; i < ndead; i++)
		if (declare_dead(dead[i], silent[i]) == 0) {
			pthread_mutex_lock(&H.lock);
			dead[i]->dead = true;
			dead[i]->dead_at = clock_now_ms();
			pthread_mutex_unlock(&H.lock);
		}
}

/* ---- the watchdog ---- */

#define WD_ENV "XENON_HA_WD_FD"

static struct {
	int fd;       /* the pipe's write end, -1 when no watchdog */
	pid_t pid;    /* the watchdog's (0 when inherited from an earlier image) */
	int64_t fence_after;
} W = {.fd = -1};

/* Kills every QEMU of a VM under <run_dir>/vm/<uuid>/qemu.pid. */
static size_t kill_qemus(const char *run_dir, char (*uuids)[UUID_STRLEN + 1], size_t max)
{
	char base[4096];
	snprintf(base, sizeof base, "%s/vm", run_dir);
	DIR *d = opendir(base);
	size_t n = 0;
	for (struct dirent *e = d ? readdir(d) : NULL; e; e = readdir(d)) {
		if (e->d_name[0] == '.')
			continue;
		char path[4600], buf[64] = "";
		snprintf(path, sizeof path, "%s/%s/qemu.pid", base, e->d_name);
		FILE *f = fopen(path, "r");
		if (!f)
			continue;
		if (!fgets(buf, sizeof buf, f))
			buf[0] = 0;
		fclose(f);
		long pid = strtol(buf, NULL, 10);
		if (pid <= 1)
			continue;
		/* the process is that VM's QEMU: its command line names it */
		snprintf(path, sizeof path, "/proc/%ld/cmdline", pid);
		char want[300], cmd[8192];
		snprintf(want, sizeof want, "guest=%s,", e->d_name);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		ssize_t len = fd >= 0 ? read(fd, cmd, sizeof cmd - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (len <= 0)
			continue;
		cmd[len] = 0;
		bool match = false;
		for (ssize_t i = 0; i < len && !match; i += (ssize_t)strlen(cmd + i) + 1)
			match = strstr(cmd + i, want) != NULL;
		if (match && kill((pid_t)pid, SIGKILL) == 0) {
			if (uuids && n < max)
				snprintf(uuids[n], UUID_STRLEN + 1, "%.36s", e->d_name);
			n++;
		}
	}
	if (d)
		closedir(d);
	return n;
}

int pool_ha_watchdog_main(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	int fd = atoi(argv[2]);
	int64_t after = strtoll(argv[3], NULL, 10);
	const char *run_dir = argv[4];
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	int64_t last = clock_now_ms();
	bool eof = false;
	for (;;) {
		int64_t left = last + after - clock_now_ms();
		if (left <= 0)
			break;
		if (eof) {
			usleep((useconds_t)(left < 100 ? left : 100) * 1000);
			continue;
		}
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int r = poll(&p, 1, (int)(left < 1000 ? left : 1000));
		if (r <= 0)
			continue;
		char buf[64];
		ssize_t n = read(fd, buf, sizeof buf);
		if (n == 0) {
			eof = true; /* xenond is gone: no more bytes, the time runs out */
			continue;
		}
		if (n < 0)
			continue;
		if (memchr(buf, 'D', (size_t)n))
			return 0; /* HA disabled */
		last = clock_now_ms();
	}
	size_t n = kill_qemus(run_dir, NULL, 0);
	fprintf(stderr, "xenond HA watchdog: no word from xenond for %lld ms: %zu QEMUs killed\n", (long long)after, n);
	return 1;
}

/* A watchdog for this host, or the one an earlier image handed over. */
static void wd_ensure(int64_t fence_after)
{
	struct server *srv = H.srv;
	if (W.fd < 0) {
		const char *e = getenv(WD_ENV);
		if (e && *e) {
			W.fd = atoi(e);
			W.pid = 0;
			W.fence_after = fence_after;
			unsetenv(WD_ENV);
			if (fcntl(W.fd, F_GETFD) < 0)
				W.fd = -1;
			else
				fcntl(W.fd, F_SETFD, FD_CLOEXEC);
		}
	}
	if (W.fd >= 0 && W.pid > 0) {
		int st;
		pid_t r = waitpid(W.pid, &st, WNOHANG);
		if (r == W.pid || (r < 0 && errno == ECHILD)) { /* it fired or died: a new one */
			close(W.fd);
			W.fd = -1;
		}
	}
	if (W.fd >= 0 && W.fence_after != fence_after) { /* a new timeout: a new watchdog */
		(void)!write(W.fd, "D", 1);
		close(W.fd);
		W.fd = -1;
	}
	if (W.fd >= 0)
		return;
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	char fdarg[16], afterarg[24];
	snprintf(fdarg, sizeof fdarg, "%d", 3);
	snprintf(afterarg, sizeof afterarg, "%lld", (long long)fence_after);
	char *argv[] = {"xenond", "--ha-watchdog", fdarg, afterarg, srv->cfg.run_dir, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[0], 3);
	pid_t pid;
	extern char **environ;
	int rc = posix_spawn(&pid, "/proc/self/exe", &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(p[0]);
	if (rc != 0) {
		close(p[1]);
		log_error("HA: cannot start the watchdog: %s", strerror(rc));
		return;
	}
	W.fd = p[1];
	W.pid = pid;
	W.fence_after = fence_after;
	log_info("HA: watchdog %d started (fires after %lld ms without word)", (int)pid, (long long)fence_after);
}

static void wd_feed(void)
{
	if (W.fd >= 0 && write(W.fd, ".", 1) < 0 && errno == EPIPE) {
		close(W.fd);
		W.fd = -1;
	}
}

static void wd_disarm(void)
{
	if (W.fd < 0)
		return;
	(void)!write(W.fd, "D", 1);
	close(W.fd);
	W.fd = -1;
	if (W.pid > 0)
		waitpid(W.pid, NULL, 0);
	W.pid = 0;
	log_info("HA: watchdog stopped");
}

int pool_ha_watchdog_fd(void)
{
	return W.fd;
}

/* Every 100 ms, on every host: the fence rule and the watchdog's food.
 * Nothing here waits for the store. */
static void *fence_main(void *arg)
{
	(void)arg;
	struct server *srv = H.srv;
	while (!H.stop) {
		nap(100);
		struct pool_raft *raft = __atomic_load_n(&srv->raft, __ATOMIC_ACQUIRE);
		int64_t now = clock_now_ms();
		pthread_mutex_lock(&H.lock);
		if (!H.armed) {
			H.fenced = false;
			H.nfenced = 0;
			pthread_mutex_unlock(&H.lock);
			wd_disarm();
			continue;
		}
		if (!raft || pool_raft_leader_heard(raft))
			H.last_raft_ok = now;
		int64_t last = H.last_raft_ok > H.last_sf_ok ? H.last_raft_ok : H.last_sf_ok;
		int64_t fence_after = H.timeout_ms * 3 / 4;
		bool fenced = H.fenced;
		pthread_mutex_unlock(&H.lock);
		if (!fenced && now - last <= fence_after) {
			wd_ensure(fence_after);
			wd_feed();
		} else if (!fenced) {
			fence();
		}
	}
	return NULL;
}

/* Every 100 ms: a fenced host's way back, the master's watch over the
 * others, the restarts asked for at start. */
/* how often the master records the failover plan again */
#define PLAN_REFRESH_MS 2000

static void *watch_main(void *arg)
{
	(void)arg;
	struct server *srv = H.srv;
	int64_t planned_at = 0;
	while (!H.stop) {
		nap(100);
		struct pool_raft *raft = __atomic_load_n(&srv->raft, __ATOMIC_ACQUIRE);
		int64_t now = clock_now_ms();
		pthread_mutex_lock(&H.lock);
		if (!H.armed) {
			pthread_mutex_unlock(&H.lock);
			continue;
		}
		bool raft_ok = !raft || pool_raft_leader_heard(raft);
		bool leading = raft && pool_raft_is_leader(raft);
		if (leading && !H.leading) { /* a new master counts from now */
			for (size_t i = 0; i < H.nhosts; i++) {
				H.hosts[i].sf_change = H.hosts[i].raft_seen = now;
				H.hosts[i].dead = false;
			}
			H.read_ok_at = 0;
		}
		H.leading = leading;
		bool fenced = H.fenced;
		pthread_mutex_unlock(&H.lock);
		if (fenced && raft && raft_ok && pool_raft_leader(raft, NULL))
			unfence();
		if (leading && !fenced)
			monitor(raft, now);
		if (leading && !fenced && now - planned_at >= PLAN_REFRESH_MS) {
			plan_refresh(srv->db);
			planned_at = now;
		}
	}
	return NULL;
}

void pool_ha_start(struct server *srv)
{
	H.srv = srv;
	H.stop = false;
	if (pthread_create(&H.io, NULL, io_main, NULL) != 0)
		return;
	if (pthread_create(&H.watch, NULL, watch_main, NULL) != 0) {
		H.stop = true;
		pthread_join(H.io, NULL);
		return;
	}
	if (pthread_create(&H.restart, NULL, restart_main, NULL) != 0) {
		H.stop = true;
		pthread_join(H.io, NULL);
		pthread_join(H.watch, NULL);
		return;
	}
	if (pthread_create(&H.fencer, NULL, fence_main, NULL) != 0) {
		H.stop = true;
		pthread_join(H.io, NULL);
		pthread_join(H.watch, NULL);
		pthread_join(H.restart, NULL);
		return;
	}
	H.running = true;
}

void pool_ha_stop(void)
{
	if (!H.running)
		return;
	H.stop = true;
	pthread_mutex_lock(&H.lock);
	pthread_cond_broadcast(&H.cond);
	pthread_mutex_unlock(&H.lock);
	pthread_join(H.io, NULL);
	pthread_join(H.watch, NULL);
	pthread_join(H.restart, NULL);
	pthread_join(H.fencer, NULL);
	H.running = false;
}
