/* vm_events: what the VM logic does with a backend's reports — a guest
 * that shut down, rebooted or crashed gets its actions_after_* (through the
 * same lifecycle as clients' calls), and at start the records are made to
 * agree with the domains that outlived the previous daemon. These are the
 * operations the VM logic registers with the backend (struct xenops_ops):
 * the backend calls up only through them. */
#include "api.h"
#include "vm_ops.h"
#include "pool_ha.h"
#include "../pool/raft.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const event_names[] = {"shutdown", "reboot", "crash", "died"};

static bool live_state(const char *ps)
{
	return !strcmp(ps, "Running") || !strcmp(ps, "Paused");
}

static int vm_events_report(void *arg, const char *vm_uuid, enum xenops_event ev)
{
	struct server *srv = arg;
	struct db *db = srv->db;
	if (pool_ha_swallow_report(vm_uuid)) {
		log_info("vm %s: guest %s: killed by this host's HA fence, left to the pool", vm_uuid,
			 event_names[ev]);
		return 0;
	}
	db_rdlock(db);
	struct db_obj *vm = db_lookup_uuid(db, SC_C_VM, vm_uuid);
	if (!vm) {
		db_unlock(db);
		log_warn("vm %s: guest %s, but no VM has this uuid", vm_uuid, event_names[ev]);
		return 0;
	}
	if (op_busy(vm)) {
		db_unlock(db);
		return 1; /* the operation in progress decides; asked again after it */
	}
	/* xapi's on_normal_exit (destroy | restart) and on_crash_behaviour */
	const char *action = ev == XENOPS_EV_SHUTDOWN ? db_peek_str(vm, SC_F_VM__actions_after_shutdown)
			     : ev == XENOPS_EV_REBOOT ? db_peek_str(vm, SC_F_VM__actions_after_reboot)
			     : ev == XENOPS_EV_CRASH  ? db_peek_str(vm, SC_F_VM__actions_after_crash)
						      : "destroy";
	bool restart = !strcmp(action, "restart") || !strcmp(action, "coredump_and_restart") ||
		       !strcmp(action, "rename_restart");
	bool preserve = !strcmp(action, "preserve");
	/* a VM the records hold halted has nothing to restart */
	if (!live_state(db_peek_str(vm, SC_F_VM__power_state)))
		restart = preserve = false;
	char ref[REF_STRLEN + 1];
	snprintf(ref, sizeof ref, "%s", vm->ref);
	db_unlock(db);

	log_info("vm %s: guest %s: %s", vm_uuid, event_names[ev],
		 preserve ? "preserved, paused" : restart ? "restarting" : "destroying");
	if (preserve) {
		/* TODO(crashdump): coredump_* actions via dump-guest-memory once
		 * there is a crash-dump SR */
		struct db_txn *t = db_begin(db);
		vm = db_lookup_cls(db, SC_C_VM, ref);
		if (vm)
			vm_record_running(t, vm, srv, true, -1, false);
		struct xerr e = XERR_INIT;
		if (db_commit(t, &e) < 0)
			log_error("vm %s: cannot record the crash: %s", vm_uuid, e.code);
		xerr_clear(&e);
		return 0;
	}
	struct xerr err = XERR_INIT;
	int r = vm_lifecycle_auto(srv, ref, restart, &err);
	if (r < 0)
		log_error("vm %s: %s after the guest's %s failed: %s %s", vm_uuid,
			  restart ? "restart" : "destroy", event_names[ev], err.code,
			  err.nparams ? err.params[err.nparams - 1] : "");
	xerr_clear(&err);
	return r == 1 ? 1 : 0;
}

static void vm_events_reconcile(void *arg, struct xenops_domain *live, size_t n)
{
	struct server *srv = arg;
	struct db *db = srv->db;
	struct db_txn *t = db_begin(db);
	bool *seen = xcalloc(n + 1, sizeof *seen);
	bool member = srv->raft && !pool_raft_is_leader(srv->raft);
	char gone_refs[64][REF_STRLEN + 48];
	const char *gone[64];
	size_t ngone = 0;
	size_t halted = 0, adopted = 0;
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm)) {
		if (db_peek_bool(vm, SC_F_VM__is_control_domain))
			continue;
		/* no task outlives the daemon that ran it */
		op_clear_all(t, vm);
		const char *uuid = db_peek_str(vm, SC_F_VM__uuid);
		struct xenops_domain *d = NULL;
		for (size_t i = 0; i < n && !d; i++)
			if (!strcmp(live[i].uuid, uuid)) {
				d = &live[i];
				seen[i] = true;
			}
		bool was_live = live_state(db_peek_str(vm, SC_F_VM__power_state));
		/* in a pool, a VM recorded on another host is that host's */
		const char *on = db_peek_str(vm, SC_F_VM__resident_on);
		if (!d && was_live && !ref_is_null(on) && strcmp(on, srv->host_ref) != 0 &&
		    db_lookup_cls(db, SC_C_host, on))
			continue;
		if (d) {
			if (d->domid < 0)
				d->domid = db_peek_int(vm, SC_F_VM__domid) >= 0 ? db_peek_int(vm, SC_F_VM__domid)
										 : vm_next_domid(db);
			/* the domain is the truth about power: a VM the records
			 * thought halted runs after all */
			if (!was_live)
				log_warn("vm %s: recorded %s, but its domain %lld runs: adopting it", uuid,
					 db_peek_str(vm, SC_F_VM__power_state), (long long)d->domid);
			vm_record_running(t, vm, srv, d->paused, d->domid, !was_live);
			db_set_int(t, vm, SC_F_VM__domid, d->domid);
			adopted++;
		} else if (was_live && member) {
			/* this store may be behind the pool's: the master decides */
			log_warn("vm %s: recorded %s, but its domain is gone: the master is told", uuid,
				 db_peek_str(vm, SC_F_VM__power_state));
			if (ngone < 64) {
				snprintf(gone_refs[ngone], sizeof gone_refs[0], "%s/%lld/%lld", vm->ref,
					 (long long)db_peek_int(vm, SC_F_VM__domid), (long long)time(NULL));
				gone[ngone] = gone_refs[ngone];
				ngone++;
			}
		} else if (was_live) {
			log_warn("vm %s: recorded %s, but its domain is gone: Halted", uuid,
				 db_peek_str(vm, SC_F_VM__power_state));
			vm_record_halted(t, vm, "Halted");
			halted++;
		}
		vm_update_allowed_operations(t, vm);
	}
	for (size_t i = 0; i < n; i++)
		if (!seen[i])
			log_warn("vm %s: a domain runs (domid %lld) but no VM has this uuid; left alone",
				 live[i].uuid, (long long)live[i].domid);
	free(seen);
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0)
		log_error("reconcile: cannot record the domains found: %s", e.code);
	else
		log_info("reconcile: %zu running VMs adopted, %zu found halted", adopted, halted);
	xerr_clear(&e);
	if (ngone)
		pool_ha_report_gone(srv, gone, ngone);
}

static void vm_events_memory(void *arg, const char *vm_uuid, int64_t actual)
{
	vm_memory_reported(arg, vm_uuid, actual);
}

static bool vm_events_vm_known(void *arg, const char *vm_uuid)
{
	struct server *srv = arg;
	db_rdlock(srv->db);
	bool known = db_lookup_uuid(srv->db, SC_C_VM, vm_uuid) != NULL;
	db_unlock(srv->db);
	return known;
}

static const struct xenops_ops vm_events_ops = {
	.report = vm_events_report,
	.report_memory = vm_events_memory,
	.reconcile = vm_events_reconcile,
	.vm_known = vm_events_vm_known,
};

void vm_events_host_init(struct server *srv)
{
	srv->xh.run_dir = srv->cfg.run_dir;
	srv->xh.ops = &vm_events_ops;
	srv->xh.arg = srv;
}
