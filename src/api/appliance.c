/* appliance: VM appliances (vApps) and VM snapshot schedules (VMSS).
 *
 * VM_appliance.start, clean_shutdown, hard_shutdown and shutdown act on
 * the appliance's VMs that are not yet in the state wanted, grouped by
 * their `order`: groups start in ascending order and shut down in
 * descending order (xapi_vm_appliance.ml), each group waiting, before the
 * next, for the longest start_delay (shutdown_delay) of its VMs, as the
 * datamodel describes those fields. A VM that did not reach the state makes
 * the call fail with OPERATION_PARTIALLY_FAILED naming it.
 *
 * VMSS.snapshot_now snapshots every VM of the schedule, marks the
 * snapshots is_vmss_snapshot and keeps the newest retained_snapshots of
 * them, destroying older ones with their disks (what xapi's vmss plugin
 * does). A thread runs the enabled schedules: hourly at schedule:min,
 * daily at hour:min, weekly on the days listed, in the host's local time;
 * the configuration key vmss-interval (seconds, for tests) runs every
 * enabled schedule that often instead. */
#include "api.h"
#include "vm_ops.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- VM_appliance ---- */

struct member {
	char ref[REF_STRLEN + 1];
	int64_t order, start_delay, shutdown_delay;
};

static int by_order(const void *a, const void *b)
{
	const struct member *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

enum app_op { APP_START, APP_CLEAN, APP_HARD, APP_SHUTDOWN };

static const char *const op_names[] = {"VM_appliance.start", "VM_appliance.clean_shutdown",
				       "VM_appliance.hard_shutdown", "VM_appliance.shutdown"};

/* The members not yet in state, sorted by order; *n of them. */
static struct member *members(struct db *db, struct db_obj *app, const char *state, size_t *n)
{
	xv vms = db_get(db, app, SC_F_VM_appliance__VMs);
	struct member *m = xcalloc(xv_len(&vms) + 1, sizeof *m);
	*n = 0;
	for (size_t i = 0; i < xv_len(&vms); i++) {
		struct db_obj *vm = db_lookup_cls(db, SC_C_VM, xv_as_str(xv_arr_get(&vms, i)));
		if (!vm || !strcmp(db_peek_str(vm, SC_F_VM__power_state), state))
			continue;
		struct member *p = &m[(*n)++];
		snprintf(p->ref, sizeof p->ref, "%s", vm->ref);
		p->order = db_peek_int(vm, SC_F_VM__order);
		p->start_delay = db_peek_int(vm, SC_F_VM__start_delay);
		p->shutdown_delay = db_peek_int(vm, SC_F_VM__shutdown_delay);
	}
	xv_free(&vms);
	qsort(m, *n, sizeof *m, by_order);
	return m;
}

static void run_vm_op(struct rpc_ctx *ctx, enum app_op op, bool paused, const char *ref)
{
	struct rpc_ctx sub = *ctx;
	sub.task[0] = '\0'; /* the VM calls are marked under tokens of their own */
	sub.cls = SC_C_VM;
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, ref);
	const struct rpc_entry *e = op == APP_START  ? &rpc_impl_VM__start
				    : op == APP_CLEAN ? &rpc_impl_VM__clean_shutdown
				    : op == APP_HARD  ? &rpc_impl_VM__hard_shutdown
						      : &rpc_impl_VM__shutdown;
	if (op == APP_START) {
		xv_arr_push(&a, xv_bool(paused));
		xv_arr_push(&a, xv_bool(false));
	}
	struct xerr e2 = XERR_INIT;
	if (e->fn(&sub, &a, &res, &e2) < 0)
		log_info("%s: %s of %s: %s", op_names[op], op == APP_START ? "start" : "shutdown", ref,
			 e2.code ? e2.code : "failed");
	xerr_clear(&e2);
	xv_free(&a);
	xv_free(&res);
}

static int appliance_op(struct rpc_ctx *ctx, xv *args, struct xerr *err, enum app_op op, bool paused)
{
	const char *want = op != APP_START ? "Halted" : paused ? "Paused" : "Running";
	db_rdlock(ctx->db);
	struct db_obj *app = generic_lookup(ctx, SC_C_VM_appliance, xv_arr_get(args, 0), err);
	size_t n = 0;
	struct member *m = app ? members(ctx->db, app, want, &n) : NULL;
	db_unlock(ctx->db);
	if (!app)
		return -1;
	bool up = op == APP_START;
	/* groups of equal order: ascending to start, descending to stop */
	size_t i = 0;
	while (i < n) {
		size_t lo, hi; /* the group [lo, hi) in sorted order */
		if (up) {
			lo = i;
			for (hi = lo; hi < n && m[hi].order == m[lo].order; hi++)
				;
		} else {
			hi = n - i;
			for (lo = hi - 1; lo > 0 && m[lo - 1].order == m[hi - 1].order; lo--)
				;
		}
		int64_t delay = 0;
		for (size_t k = lo; k < hi; k++) {
			run_vm_op(ctx, op, paused, m[k].ref);
			int64_t d = up ? m[k].start_delay : m[k].shutdown_delay;
			if (d > delay)
				delay = d;
		}
		i += hi - lo;
		if (i < n && delay > 0)
			sleep((unsigned)(delay > 3600 ? 3600 : delay));
	}
	/* which did not get there */
	const char **failed = xcalloc(n + 2, sizeof *failed);
	size_t nf = 0;
	failed[nf++] = op_names[op];
	db_rdlock(ctx->db);
	for (size_t k = 0; k < n; k++) {
		struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, m[k].ref);
		if (vm && strcmp(db_peek_str(vm, SC_F_VM__power_state), want))
			failed[nf++] = m[k].ref;
	}
	db_unlock(ctx->db);
	int rc = nf > 1 ? xerr_setv(err, ERR_OPERATION_PARTIALLY_FAILED, nf, failed) : 0;
	free(failed);
	free(m);
	return rc;
}

static int app_start(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return appliance_op(ctx, args, err, APP_START, arg_bool(args, 1));
}

static int app_clean_shutdown(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return appliance_op(ctx, args, err, APP_CLEAN, false);
}

static int app_hard_shutdown(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return appliance_op(ctx, args, err, APP_HARD, false);
}

static int app_shutdown(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return appliance_op(ctx, args, err, APP_SHUTDOWN, false);
}

/* ---- VMSS ---- */

struct snap {
	char ref[REF_STRLEN + 1];
	int64_t time;
};

static int newest_first(const void *a, const void *b)
{
	const struct snap *x = a, *y = b;
	return x->time > y->time ? -1 : x->time < y->time;
}

/* Destroys a snapshot and the disks only it holds. */
static void destroy_snapshot(struct rpc_ctx *ctx, const char *ref)
{
	xv vdis = xv_arr_new();
	db_rdlock(ctx->db);
	struct db_obj *s = db_lookup_cls(ctx->db, SC_C_VM, ref);
	xv vbds = s ? db_get(ctx->db, s, SC_F_VM__VBDs) : xv_arr_new();
	for (size_t i = 0; i < xv_len(&vbds); i++) {
		struct db_obj *b = db_lookup_cls(ctx->db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (b && !strcmp(db_peek_str(b, SC_F_VBD__type), "Disk") &&
		    db_lookup_cls(ctx->db, SC_C_VDI, db_peek_str(b, SC_F_VBD__VDI)))
			xv_arr_push_str(&vdis, db_peek_str(b, SC_F_VBD__VDI));
	}
	xv_free(&vbds);
	db_unlock(ctx->db);
	struct xerr e = XERR_INIT;
	if (s && vm_destroy(ctx, ref, &e) < 0)
		log_info("VMSS: destroying snapshot %s: %s", ref, e.code ? e.code : "failed");
	xerr_clear(&e);
	for (size_t i = 0; i < xv_len(&vdis); i++) {
		struct rpc_ctx sub = *ctx;
		sub.cls = SC_C_VDI;
		xv a = xv_arr_new(), r = XV_NIL_INIT;
		xv_arr_push_str(&a, xv_as_str(xv_arr_get(&vdis, i)));
		if (rpc_impl_VDI__destroy.fn(&sub, &a, &r, &e) < 0)
			log_info("VMSS: destroying a snapshot's disk: %s", e.code ? e.code : "failed");
		xerr_clear(&e);
		xv_free(&a);
		xv_free(&r);
	}
	xv_free(&vdis);
}

/* Keeps the newest `keep` schedule snapshots of vm. */
static void retain(struct rpc_ctx *ctx, const char *vm_ref, int64_t keep)
{
	db_rdlock(ctx->db);
	struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, vm_ref);
	xv snaps = vm ? db_get(ctx->db, vm, SC_F_VM__snapshots) : xv_arr_new();
	struct snap *s = xcalloc(xv_len(&snaps) + 1, sizeof *s);
	size_t n = 0;
	for (size_t i = 0; i < xv_len(&snaps); i++) {
		struct db_obj *o = db_lookup_cls(ctx->db, SC_C_VM, xv_as_str(xv_arr_get(&snaps, i)));
		if (!o || !db_peek_bool(o, SC_F_VM__is_vmss_snapshot))
			continue;
		snprintf(s[n].ref, sizeof s[n].ref, "%s", o->ref);
		const xv *t = db_peek(o, SC_F_VM__snapshot_time);
		s[n++].time = t && t->kind == XV_TIME ? t->u.i : 0;
	}
	xv_free(&snaps);
	db_unlock(ctx->db);
	qsort(s, n, sizeof *s, newest_first);
	for (size_t i = (size_t)(keep > 0 ? keep : 1); i < n; i++)
		destroy_snapshot(ctx, s[i].ref);
	free(s);
}

/* One run of the schedule vmss_ref: its VMs snapshotted, old snapshots
 * removed, last_run_time set. *made gets the new snapshots' refs. */
static int vmss_run(struct rpc_ctx *ctx, const char *vmss_ref, xv *made, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *v = db_lookup_cls(ctx->db, SC_C_VMSS, vmss_ref);
	if (!v) {
		db_unlock(ctx->db);
		return handle_invalid(err, SC_C_VMSS, vmss_ref);
	}
	xv vms = db_get(ctx->db, v, SC_F_VMSS__VMs);
	int64_t keep = db_peek_int(v, SC_F_VMSS__retained_snapshots);
	bool checkpoint = !strcmp(db_peek_str(v, SC_F_VMSS__type), "checkpoint");
	db_unlock(ctx->db);
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
	for (size_t i = 0; i < xv_len(&vms); i++) {
		const char *vm_ref = xv_as_str(xv_arr_get(&vms, i));
		db_rdlock(ctx->db);
		struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, vm_ref);
		char *name = vm ? xasprintf("%s-%s", db_peek_str(vm, SC_F_VM__name_label), stamp) : NULL;
		db_unlock(ctx->db);
		if (!name)
			continue;
		struct rpc_ctx sub = *ctx;
		sub.cls = SC_C_VM;
		sub.task[0] = '\0';
		xv a = xv_arr_new(), snap = XV_NIL_INIT;
		xv_arr_push_str(&a, vm_ref);
		xv_arr_push_str(&a, name);
		if (!checkpoint)
			xv_arr_push(&a, xv_arr_new()); /* ignore_vdis */
		struct xerr e = XERR_INIT;
		const struct rpc_entry *fn = checkpoint ? &rpc_impl_VM__checkpoint : &rpc_impl_VM__snapshot;
		if (fn->fn(&sub, &a, &snap, &e) == 0) {
			struct db_txn *t = db_begin(ctx->db);
			struct db_obj *s = db_lookup_cls(ctx->db, SC_C_VM, xv_as_str(&snap));
			if (s)
				db_set_bool(t, s, SC_F_VM__is_vmss_snapshot, true);
			if (db_commit(t, &e) == 0 && made)
				xv_arr_push_str(made, xv_as_str(&snap));
			retain(ctx, vm_ref, keep);
		} else {
			log_info("VMSS %s: snapshot of %s: %s", vmss_ref, vm_ref, e.code ? e.code : "failed");
		}
		xerr_clear(&e);
		xv_free(&a);
		xv_free(&snap);
		free(name);
	}
	xv_free(&vms);
	struct db_txn *t = db_begin(ctx->db);
	v = db_lookup_cls(ctx->db, SC_C_VMSS, vmss_ref);
	if (v)
		db_set(t, v, SC_F_VMSS__last_run_time, xv_time((int64_t)now));
	return db_commit(t, err);
}

static int vmss_snapshot_now(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *v = generic_lookup(ctx, SC_C_VMSS, xv_arr_get(args, 0), err);
	char ref[REF_STRLEN + 1] = "";
	if (v)
		snprintf(ref, sizeof ref, "%s", v->ref);
	db_unlock(ctx->db);
	if (!v)
		return -1;
	xv made = xv_arr_new();
	int rc = vmss_run(ctx, ref, &made, err);
	if (rc == 0) { /* the new snapshots' refs, comma-separated */
		size_t len = 1;
		for (size_t i = 0; i < xv_len(&made); i++)
			len += strlen(xv_as_str(xv_arr_get(&made, i))) + 1;
		char *s = xcalloc(len, 1);
		for (size_t i = 0; i < xv_len(&made); i++) {
			if (i)
				strcat(s, ",");
			strcat(s, xv_as_str(xv_arr_get(&made, i)));
		}
		*result = xv_str_own(s);
	}
	xv_free(&made);
	return rc;
}

/* xapi's schedule keys: min in 0/15/30/45, hour 0..23, days a comma list
 * of weekday names (Map_check: INVALID_VALUE ["schedule:<key>"; value]). */
static const char *const weekdays[] = {"Monday", "Tuesday", "Wednesday", "Thursday",
				       "Friday", "Saturday", "Sunday"};

static bool schedule_value_ok(const char *key, const char *v)
{
	if (!strcmp(key, "min"))
		return !strcmp(v, "0") || !strcmp(v, "15") || !strcmp(v, "30") || !strcmp(v, "45");
	if (!strcmp(key, "hour")) {
		char *end;
		long h = strtol(v, &end, 10);
		return *v && !*end && h >= 0 && h <= 23;
	}
	if (!strcmp(key, "days")) {
		char *copy = xstrdup(v), *save = NULL;
		bool ok = *v != '\0';
		for (char *d = strtok_r(copy, ",", &save); d && ok; d = strtok_r(NULL, ",", &save)) {
			bool found = false;
			for (size_t i = 0; i < 7; i++)
				found |= !strcmp(d, weekdays[i]);
			ok = found;
		}
		free(copy);
		return ok;
	}
	return false;
}

static int vmss_edit_schedule(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	bool add = !strcmp(ctx->msg->name, "add_to_schedule");
	const char *key = arg_str(args, 1), *value = add ? arg_str(args, 2) : "";
	if (add && !schedule_value_ok(key, value)) {
		char *field = xasprintf("schedule:%s", key);
		xerr_set(err, ERR_INVALID_VALUE, field, value, NULL);
		free(field);
		return -1;
	}
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *v = generic_lookup(ctx, SC_C_VMSS, xv_arr_get(args, 0), err);
	if (!v) {
		db_abort(t);
		return -1;
	}
	xv *m = db_edit(t, v, SC_F_VMSS__schedule);
	if (add)
		xv_map_set_str(m, key, value);
	else
		xv_map_del(m, key);
	return db_commit(t, err);
}

/* When the scheduler first saw each schedule: one that never ran is due
 * at its first slot after that, not at once for a slot already past. */
struct seen {
	char ref[REF_STRLEN + 1];
	int64_t at;
};
static struct seen *seen;
static size_t nseen;

static int64_t first_seen(const char *ref, time_t now)
{
	for (size_t i = 0; i < nseen; i++)
		if (!strcmp(seen[i].ref, ref))
			return seen[i].at;
	seen = xrealloc(seen, (nseen + 1) * sizeof *seen);
	snprintf(seen[nseen].ref, sizeof seen[nseen].ref, "%s", ref);
	seen[nseen].at = (int64_t)now;
	return seen[nseen++].at;
}

bool vmss_slot_due(const char *freq, const xv *sch, int64_t last, time_t now)
{
	const char *min = xv_map_get_str(sch, "min"), *hour = xv_map_get_str(sch, "hour");
	const char *days = xv_map_get_str(sch, "days");
	struct tm tm;
	localtime_r(&now, &tm);
	struct tm slot = tm;
	slot.tm_sec = 0;
	slot.tm_min = min ? atoi(min) : 0;
	if (strcmp(freq, "hourly"))
		slot.tm_hour = hour ? atoi(hour) : 0;
	if (!strcmp(freq, "weekly")) {
		const char *today = weekdays[(tm.tm_wday + 6) % 7];
		if (!days || !strstr(days, today))
			return false;
	}
	slot.tm_isdst = -1;
	time_t at = mktime(&slot);
	return at <= now && last < at;
}

/* Whether schedule v is due at now (local time), given its last run. */
static bool due(const struct db_obj *v, time_t now, int interval_s)
{
	const xv *lr = db_peek(v, SC_F_VMSS__last_run_time);
	int64_t last = lr && lr->kind == XV_TIME ? lr->u.i : 0;
	if (interval_s > 0)
		return now - last >= interval_s;
	if (last == 0)
		last = first_seen(v->ref, now);
	return vmss_slot_due(db_peek_str(v, SC_F_VMSS__frequency), db_peek(v, SC_F_VMSS__schedule), last, now);
}

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stop;
	struct server *srv;
} S = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static void *scheduler(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&S.lock);
	while (!S.stop) {
		struct timespec ts;
		clock_realtime_after(&ts, 1000);
		pthread_cond_timedwait(&S.cond, &S.lock, &ts);
		if (S.stop)
			break;
		pthread_mutex_unlock(&S.lock);
		struct server *srv = S.srv;
		struct rpc_ctx ctx = {.srv = srv, .db = srv->db, .rbac_exempt = true};
		snprintf(ctx.user, sizeof ctx.user, "%s", "__dom0__vmss");
		xv todo = xv_arr_new();
		time_t now = time(NULL);
		db_rdlock(srv->db);
		for (struct db_obj *v = db_first(srv->db, SC_C_VMSS); v; v = db_next(v))
			if (db_peek_bool(v, SC_F_VMSS__enabled) && due(v, now, srv->cfg.vmss_interval_s))
				xv_arr_push_str(&todo, v->ref);
		db_unlock(srv->db);
		for (size_t i = 0; i < xv_len(&todo); i++) {
			struct xerr e = XERR_INIT;
			if (vmss_run(&ctx, xv_as_str(xv_arr_get(&todo, i)), NULL, &e) < 0)
				log_info("VMSS %s: %s", xv_as_str(xv_arr_get(&todo, i)), e.code ? e.code : "failed");
			xerr_clear(&e);
		}
		xv_free(&todo);
		pthread_mutex_lock(&S.lock);
	}
	pthread_mutex_unlock(&S.lock);
	return NULL;
}

void vmss_start(struct server *srv)
{
	S.srv = srv;
	S.stop = false;
	S.running = pthread_create(&S.thread, NULL, scheduler, NULL) == 0;
}

void vmss_stop(void)
{
	if (!S.running)
		return;
	pthread_mutex_lock(&S.lock);
	S.stop = true;
	pthread_cond_signal(&S.cond);
	pthread_mutex_unlock(&S.lock);
	pthread_join(S.thread, NULL);
	S.running = false;
	free(seen);
	seen = NULL;
	nseen = 0;
}

/* xapi: a schedule still holding VMs stays (VMSS_HAS_VM). */
static int vmss_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *v = generic_lookup(ctx, SC_C_VMSS, xv_arr_get(args, 0), err);
	xv vms = v ? db_get(ctx->db, v, SC_F_VMSS__VMs) : xv_arr_new();
	bool held = xv_len(&vms) > 0;
	xv_free(&vms);
	if (!v || held) {
		db_abort(t);
		return v ? xerr_set(err, ERR_VMSS_HAS_VM, NULL) : -1;
	}
	db_delete(t, v);
	return db_commit(t, err);
}

RPC_IMPL(VMSS, destroy, vmss_destroy, 0);
RPC_IMPL(VM_appliance, start, app_start, RPC_SLOW);
RPC_IMPL(VM_appliance, clean_shutdown, app_clean_shutdown, RPC_SLOW);
RPC_IMPL(VM_appliance, hard_shutdown, app_hard_shutdown, RPC_SLOW);
RPC_IMPL(VM_appliance, shutdown, app_shutdown, RPC_SLOW);
RPC_IMPL(VMSS, snapshot_now, vmss_snapshot_now, RPC_SLOW);
RPC_IMPL(VMSS, add_to_schedule, vmss_edit_schedule, 0);
RPC_IMPL(VMSS, remove_from_schedule, vmss_edit_schedule, 0);
