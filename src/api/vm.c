/* vm: the VM lifecycle with xapi's preconditions. Each operation marks the
 * VM's current_operations in one transaction, lets the backend act with
 * the store unlocked, then records the outcome in a second transaction —
 * so concurrent callers see OTHER_OPERATION_IN_PROGRESS, not a race. */
#include "api.h"
#include "metrics.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/uuid.h"
#include "../xenops/xenops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum ps { PS_HALTED = 1, PS_PAUSED = 2, PS_RUNNING = 4, PS_SUSPENDED = 8 };

static int power_bit(const char *s)
{
	if (!strcmp(s, "Halted"))
		return PS_HALTED;
	if (!strcmp(s, "Paused"))
		return PS_PAUSED;
	if (!strcmp(s, "Running"))
		return PS_RUNNING;
	if (!strcmp(s, "Suspended"))
		return PS_SUSPENDED;
	return 0;
}

static const char *power_name(int bit)
{
	switch (bit) {
	case PS_HALTED: return "halted";
	case PS_PAUSED: return "paused";
	case PS_RUNNING: return "running";
	default: return "suspended";
	}
}

/* Operations allowed in each power state, and the list xapi names in
 * VM_BAD_POWER_STATE (xapi_vm_lifecycle.ml allowed_power_states). */
#define ALL_STATES (PS_HALTED | PS_PAUSED | PS_RUNNING | PS_SUSPENDED)
static const struct {
	const char *op;
	int states;
	const char *expected;
	bool template_ok;
} op_table[] = {
	{"start", PS_HALTED, "halted", false},
	{"start_on", PS_HALTED, "halted", false},
	{"provision", PS_HALTED, "halted", true},
	{"unpause", PS_PAUSED, "paused", false},
	{"resume", PS_SUSPENDED, "suspended", false},
	{"resume_on", PS_SUSPENDED, "suspended", false},
	{"clean_shutdown", PS_RUNNING, "running", false},
	{"clean_reboot", PS_RUNNING, "running", false},
	{"pause", PS_RUNNING, "running", false},
	{"suspend", PS_RUNNING, "running", false},
	{"pool_migrate", PS_RUNNING, "running", false},
	{"changing_VCPUs_live", PS_RUNNING, "running", false},
	{"changing_memory_live", PS_RUNNING, "running", false},
	{"hard_reboot", PS_RUNNING | PS_PAUSED, "paused, running", false},
	{"hard_shutdown", PS_RUNNING | PS_PAUSED | PS_SUSPENDED, "paused, suspended, running", false},
	{"shutdown", PS_RUNNING | PS_PAUSED | PS_SUSPENDED, "paused, suspended, running", false},
	{"checkpoint", PS_RUNNING | PS_PAUSED | PS_SUSPENDED, "paused, suspended, running", false},
	/* snapshots may also be cloned while suspended (see vm_check_op) */
	{"clone", PS_HALTED, "halted", true},
	{"copy", PS_HALTED, "halted", true},
	{"destroy", PS_HALTED | PS_SUSPENDED, "halted, suspended", true},
	{"export", PS_HALTED | PS_SUSPENDED, "halted, suspended", true},
	{"snapshot", ALL_STATES, "halted, paused, suspended, running", false},
	{"revert", ALL_STATES, "halted, paused, suspended, running", true},
	{"power_state_reset", ALL_STATES, "halted, paused, suspended, running", false},
	{"changing_static_range", PS_HALTED, "halted", true},
	{"changing_memory_limits", PS_HALTED, "halted", true},
	{"changing_VCPUs", PS_HALTED, "halted", true},
	{"changing_dynamic_range", PS_HALTED | PS_RUNNING, "halted, running", true},
	{"changing_shadow_memory", PS_HALTED, "halted", true},
	{"changing_NVRAM", PS_HALTED, "halted", true},
	{"make_into_template", PS_HALTED, "halted", false},
	{"metadata_export", ALL_STATES, "halted, paused, suspended, running", true},
};

void vm_update_allowed_operations(struct db_txn *t, struct db_obj *vm)
{
	xv ops = xv_arr_new();
	bool busy = op_busy(vm);
	bool tmpl = db_peek_bool(vm, SC_F_VM__is_a_template);
	bool dom0 = db_peek_bool(vm, SC_F_VM__is_control_domain);
	int ps = power_bit(db_peek_str(vm, SC_F_VM__power_state));
	for (size_t i = 0; i < sizeof op_table / sizeof op_table[0] && !busy && !dom0; i++) {
		if (!(op_table[i].states & ps))
			continue;
		if (tmpl && !op_table[i].template_ok)
			continue;
		xv_arr_push_str(&ops, op_table[i].op);
	}
	db_set(t, vm, SC_F_VM__allowed_operations, ops);
}

int vm_check_op(struct db_obj *vm, const char *op, struct xerr *err)
{
	if (op_check_idle(vm, err) < 0)
		return -1;
	if (db_peek_bool(vm, SC_F_VM__is_control_domain))
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED,
				"This operation is not allowed on the control domain", NULL);
	int ps = power_bit(db_peek_str(vm, SC_F_VM__power_state));
	for (size_t i = 0; i < sizeof op_table / sizeof op_table[0]; i++) {
		if (strcmp(op_table[i].op, op) != 0)
			continue;
		bool tmpl = db_peek_bool(vm, SC_F_VM__is_a_template);
		bool snap = db_peek_bool(vm, SC_F_VM__is_a_snapshot);
		if (tmpl && !op_table[i].template_ok)
			return xerr_set(err, ERR_VM_IS_TEMPLATE, vm->ref, op, NULL);
		int states = op_table[i].states;
		const char *expected = op_table[i].expected;
		if (snap && (!strcmp(op, "clone") || !strcmp(op, "copy"))) {
			states |= PS_SUSPENDED;
			expected = "halted, suspended";
		}
		if (!(states & ps))
			return xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, expected, power_name(ps), NULL);
		break;
	}
	const xv *blocked = xv_map_get(db_peek(vm, SC_F_VM__blocked_operations), op);
	if (blocked)
		return xerr_set(err, ERR_OPERATION_BLOCKED, vm->ref, xv_as_str(blocked) ?: "", NULL);
	return 0;
}

static void spec_from(struct db_obj *vm, struct vm_spec *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->uuid, sizeof s->uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
	snprintf(s->ref, sizeof s->ref, "%s", vm->ref);
	snprintf(s->name, sizeof s->name, "%s", db_peek_str(vm, SC_F_VM__name_label));
	s->domid = db_peek_int(vm, SC_F_VM__domid);
	s->vcpus_max = db_peek_int(vm, SC_F_VM__VCPUs_max);
	s->vcpus_at_startup = db_peek_int(vm, SC_F_VM__VCPUs_at_startup);
	s->memory_static_max = db_peek_int(vm, SC_F_VM__memory_static_max);
	s->memory_dynamic_max = db_peek_int(vm, SC_F_VM__memory_dynamic_max);
	s->memory_dynamic_min = db_peek_int(vm, SC_F_VM__memory_dynamic_min);
	s->platform = xv_copy(db_peek(vm, SC_F_VM__platform));
	s->hvm_boot_params = xv_copy(db_peek(vm, SC_F_VM__HVM_boot_params));
	s->other_config = xv_copy(db_peek(vm, SC_F_VM__other_config));
	s->xenstore_data = xv_copy(db_peek(vm, SC_F_VM__xenstore_data));
	snprintf(s->domain_type, sizeof s->domain_type, "%s", db_peek_str(vm, SC_F_VM__domain_type));
	s->pv_kernel = xstrdup(db_peek_str(vm, SC_F_VM__PV_kernel));
	s->pv_ramdisk = xstrdup(db_peek_str(vm, SC_F_VM__PV_ramdisk));
	s->pv_args = xstrdup(db_peek_str(vm, SC_F_VM__PV_args));
	s->pv_bootloader = xstrdup(db_peek_str(vm, SC_F_VM__PV_bootloader));
	/* xapi's Helpers.boot_method_of_vm */
	s->boot = *db_peek_str(vm, SC_F_VM__HVM_boot_policy) ? VM_BOOT_FIRMWARE
		  : !*s->pv_bootloader                        ? VM_BOOT_DIRECT
							      : VM_BOOT_BOOTLOADER;
	const char *fw = xv_map_get_str(&s->hvm_boot_params, "firmware");
	snprintf(s->firmware, sizeof s->firmware, "%s", fw && *fw ? fw : "bios");
	const char *order = xv_map_get_str(&s->hvm_boot_params, "order");
	s->boot_order = xstrdup(order && *order ? order : "cd");
}

int vm_op_begin(struct db_txn *t, struct db_obj *vm, const char *op, const char *token, struct xerr *err)
{
	if (vm_check_op(vm, op, err) < 0)
		return -1;
	op_mark(t, vm, op, token);
	return 0;
}

void vm_spec_of(struct db_obj *vm, struct vm_spec *s)
{
	spec_from(vm, s);
}

/* Domids grow like Xen's, so a vif name is not reused right away. */
int64_t vm_next_domid(struct db *db)
{
	static int64_t last;
	int64_t max = last;
	for (struct db_obj *o = db_first(db, SC_C_VM); o; o = db_next(o))
		if (db_peek_int(o, SC_F_VM__domid) > max)
			max = db_peek_int(o, SC_F_VM__domid);
	last = max + 1;
	return last;
}

static struct db_obj *ensure_metrics(struct db_txn *t, struct db_obj *vm)
{
	struct db *db = db_txn_db(t);
	struct db_obj *m = db_lookup_cls(db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
	if (!m) {
		m = db_create(t, SC_C_VM_metrics, NULL);
		db_set_str(t, vm, SC_F_VM__metrics, m->ref);
	}
	return m;
}

void vm_record_running(struct db_txn *t, struct db_obj *vm, struct server *srv, bool paused,
		       int64_t domid, bool new_domain)
{
	db_set_str(t, vm, SC_F_VM__power_state, paused ? "Paused" : "Running");
	if (new_domain)
		db_set_int(t, vm, SC_F_VM__domid, domid >= 0 ? domid : vm_next_domid(db_txn_db(t)));
	db_set_str(t, vm, SC_F_VM__resident_on, srv->host_ref);
	db_set_str(t, vm, SC_F_VM__scheduled_to_be_resident_on, REF_NULL);
	struct db_obj *m = ensure_metrics(t, vm);
	if (new_domain) {
		db_set(t, m, SC_F_VM_metrics__start_time, xv_time(time(NULL)));
		vm_vbds_mark(t, vm, true);
		vm_vifs_mark(t, vm, true);
	}
	db_set_int(t, m, SC_F_VM_metrics__VCPUs_number, db_peek_int(vm, SC_F_VM__VCPUs_at_startup));
	db_set_int(t, m, SC_F_VM_metrics__memory_actual, db_peek_int(vm, SC_F_VM__memory_dynamic_max));
	db_set(t, m, SC_F_VM_metrics__last_updated, xv_time(time(NULL)));
	db_set_str(t, m, SC_F_VM_metrics__current_domain_type, db_peek_str(vm, SC_F_VM__domain_type));
	db_set_bool(t, m, SC_F_VM_metrics__hvm, *db_peek_str(vm, SC_F_VM__HVM_boot_policy) != '\0');
	vm_consoles_ensure(t, vm, srv);
}

void vm_record_halted(struct db_txn *t, struct db_obj *vm, const char *state)
{
	db_set_str(t, vm, SC_F_VM__power_state, state);
	db_set_int(t, vm, SC_F_VM__domid, -1);
	db_set_str(t, vm, SC_F_VM__resident_on, REF_NULL);
	vm_consoles_destroy(t, vm);
	/* a suspended VM's disks stay its own (VBDs attached), as in xapi */
	if (strcmp(state, "Suspended") != 0) {
		vm_vbds_mark(t, vm, false);
		vm_vifs_mark(t, vm, false);
	}
	struct db_obj *m = db_lookup_cls(db_txn_db(t), SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
	if (m) {
		db_set_int(t, m, SC_F_VM_metrics__memory_actual, 0);
		db_set_int(t, m, SC_F_VM_metrics__VCPUs_number, 0);
		db_set(t, m, SC_F_VM_metrics__VCPUs_params, xv_map_new()); /* none applied */
		db_set(t, m, SC_F_VM_metrics__last_updated, xv_time(time(NULL)));
	}
}

/* Memory a running VM holds on the host, as xapi accounts it. */
static int64_t vm_footprint(const struct db_obj *vm)
{
	return db_peek_int(vm, SC_F_VM__memory_dynamic_max) + db_peek_int(vm, SC_F_VM__memory_overhead);
}

int64_t vm_host_free_memory(struct server *srv, const struct db_obj *except)
{
	struct db *db = srv->db;
	struct db_obj *host = db_lookup_cls(db, SC_C_host, srv->host_ref);
	struct db_obj *hm = host ? db_lookup_cls(db, SC_C_host_metrics,
						 db_peek_str(host, SC_F_host__metrics)) : NULL;
	if (!hm)
		return -1;
	int64_t free_mem = db_peek_int(hm, SC_F_host_metrics__memory_total) -
			   db_peek_int(host, SC_F_host__memory_overhead);
	for (struct db_obj *o = db_first(db, SC_C_VM); o; o = db_next(o)) {
		int ps = power_bit(db_peek_str(o, SC_F_VM__power_state));
		if (o != except && (ps & (PS_RUNNING | PS_PAUSED)) &&
		    strcmp(db_peek_str(o, SC_F_VM__resident_on), srv->host_ref) == 0)
			free_mem -= vm_footprint(o);
	}
	return free_mem;
}

static int check_host_memory(struct server *srv, struct db_obj *vm, struct xerr *err)
{
	int64_t free_mem = vm_host_free_memory(srv, vm);
	if (free_mem == -1)
		return 0;
	int64_t need = vm_footprint(vm);
	if (need > free_mem) {
		char n[32], a[32];
		snprintf(n, sizeof n, "%lld", (long long)need);
		snprintf(a, sizeof a, "%lld", (long long)(free_mem > 0 ? free_mem : 0));
		return xerr_set(err, ERR_HOST_NOT_ENOUGH_FREE_MEMORY, n, a, NULL);
	}
	return 0;
}

int vm_check_memory_constraints(struct db_obj *vm, struct xerr *err)
{
	int64_t smin = db_peek_int(vm, SC_F_VM__memory_static_min);
	int64_t dmin = db_peek_int(vm, SC_F_VM__memory_dynamic_min);
	int64_t dmax = db_peek_int(vm, SC_F_VM__memory_dynamic_max);
	int64_t smax = db_peek_int(vm, SC_F_VM__memory_static_max);
	if (!(smin <= dmin && dmin <= dmax && dmax <= smax))
		return xerr_set(err, ERR_MEMORY_CONSTRAINT_VIOLATION,
				"Memory limits must satisfy: static_min <= dynamic_min <= dynamic_max <= static_max",
				NULL);
	return 0;
}

enum lifecycle {
	L_START, L_CLEAN_SHUTDOWN, L_HARD_SHUTDOWN, L_SHUTDOWN, L_CLEAN_REBOOT, L_HARD_REBOOT,
	L_PAUSE, L_UNPAUSE, L_SUSPEND, L_RESUME, L_POWER_STATE_RESET,
};

static const char *const lifecycle_op[] = {
	"start", "clean_shutdown", "hard_shutdown", "shutdown", "clean_reboot", "hard_reboot",
	"pause", "unpause", "suspend", "resume", "power_state_reset",
};

static int backend_do(struct server *srv, enum lifecycle l, const struct vm_spec *s, bool paused,
		      struct xerr *err)
{
	const struct xenops_backend *b = srv->backend;
	const struct xenops_host *h = &srv->xh;
	switch (l) {
	case L_START: return b->start(h, s, paused, err);
	case L_CLEAN_SHUTDOWN: return b->shutdown(h, s, true, err);
	case L_HARD_SHUTDOWN: return b->shutdown(h, s, false, err);
	case L_SHUTDOWN:
		if (b->shutdown(h, s, true, err) == 0)
			return 0;
		xerr_clear(err);
		return b->shutdown(h, s, false, err);
	case L_CLEAN_REBOOT: return b->reboot(h, s, true, err);
	case L_HARD_REBOOT: return b->reboot(h, s, false, err);
	case L_PAUSE: return b->pause(h, s, err);
	case L_UNPAUSE: return b->unpause(h, s, err);
	case L_SUSPEND: return b->suspend(h, s, err);
	case L_RESUME: return b->resume(h, s, paused, err);
	case L_POWER_STATE_RESET: return 0;
	}
	return 0;
}

static void record_outcome(struct db_txn *t, struct db_obj *vm, struct server *srv, enum lifecycle l,
			   bool paused, int64_t domid)
{
	switch (l) {
	case L_START:
	case L_RESUME:
		vm_record_running(t, vm, srv, paused, domid, true);
		break;
	case L_CLEAN_REBOOT:
	case L_HARD_REBOOT:
		vm_record_running(t, vm, srv, false, domid, true);
		break;
	case L_UNPAUSE:
		vm_record_running(t, vm, srv, false, -1, false);
		break;
	case L_PAUSE:
		vm_record_running(t, vm, srv, true, -1, false);
		break;
	case L_SUSPEND:
		vm_record_halted(t, vm, "Suspended");
		break;
	case L_CLEAN_SHUTDOWN:
	case L_HARD_SHUTDOWN:
	case L_SHUTDOWN:
	case L_POWER_STATE_RESET:
		vm_record_halted(t, vm, "Halted");
		break;
	}
}

/* Operations that build a new domain, and those that end one. */
static bool builds_domain(enum lifecycle l)
{
	return l == L_START || l == L_RESUME || l == L_CLEAN_REBOOT || l == L_HARD_REBOOT;
}

static bool ends_domain(enum lifecycle l)
{
	return l == L_CLEAN_SHUTDOWN || l == L_HARD_SHUTDOWN || l == L_SHUTDOWN || l == L_SUSPEND;
}

/* Runs l on vm, found inside the open transaction t (committed or aborted
 * here). automatic: a backend's report asked for it (no client, no
 * blocked_operations; 1 when another operation holds the VM). */
static int lifecycle_run(struct server *srv, struct db_txn *t, struct db_obj *vm, enum lifecycle l,
			 bool paused, const char *token, bool automatic, struct xerr *err)
{
	struct db *db = db_txn_db(t);
	if (automatic) {
		if (op_busy(vm)) {
			db_abort(t);
			return 1;
		}
		op_mark(t, vm, lifecycle_op[l], token);
	} else if (vm_op_begin(t, vm, lifecycle_op[l], token, err) < 0) {
		db_abort(t);
		return -1;
	}
	if ((l == L_START || l == L_RESUME) &&
	    (vm_check_memory_constraints(vm, err) < 0 || check_host_memory(srv, vm, err) < 0)) {
		db_abort(t);
		return -1;
	}
	char ref[REF_STRLEN + 1];
	memcpy(ref, vm->ref, sizeof ref);
	bool was_suspended = power_bit(db_peek_str(vm, SC_F_VM__power_state)) == PS_SUSPENDED;
	struct vm_spec spec;
	spec_from(vm, &spec);
	xv vcpu_params = xv_copy(db_peek(vm, SC_F_VM__VCPUs_params));
	struct vm_build *build = NULL;
	if (builds_domain(l)) {
		spec.domid = vm_next_domid(db);
		if (vm_boot_files(srv, &spec, err) < 0 || vif_spec_nics(db, vm, &spec, l == L_RESUME, err) < 0 ||
		    !(build = vm_build_collect(srv, vm, err))) {
			db_abort(t);
			vm_spec_free(&spec);
			xv_free(&vcpu_params);
			return -1;
		}
	} else if (ends_domain(l)) {
		/* to detach the disks once the domain is gone */
		struct xerr ignore = XERR_INIT;
		build = vm_build_collect(srv, vm, &ignore);
		xerr_clear(&ignore);
	}
	if (db_commit(t, err) < 0) {
		vm_spec_free(&spec);
		vm_build_free(build);
		xv_free(&vcpu_params);
		return -1;
	}

	int r = builds_domain(l) ? vm_build_attach(build, &spec, err) : 0;
	struct vm_image *image = NULL; /* the suspend VDI (vm_suspend.c) */
	if (r == 0 && (l == L_SUSPEND || l == L_RESUME)) {
		image = l == L_SUSPEND ? vm_suspend_image_new(srv, ref, &spec, true, err)
				       : vm_suspend_image_open(srv, ref, &spec, err);
		r = image ? 0 : -1;
	}
	if (r == 0)
		r = backend_do(srv, l, &spec, paused, err);
	if (r == 0 && builds_domain(l) && srv->backend->domid) {
		/* the hypervisor's choice where it made another */
		int64_t d = srv->backend->domid(&srv->xh, spec.uuid);
		if (d >= 0)
			spec.domid = d;
	}
	xv vcpu_applied = XV_NIL_INIT; /* VCPUs_params as the new domain took them */
	if (r == 0 && builds_domain(l))
		vm_apply_vcpu_params(srv, &spec, &vcpu_params, &vcpu_applied);
	/* a failed suspend leaves no image behind; a resumed VM's is spent */
	vm_suspend_image_done(image, l == L_SUSPEND ? r < 0 : r == 0);
	if (r == 0 && was_suspended && (l == L_HARD_SHUTDOWN || l == L_SHUTDOWN))
		vm_suspend_image_discard(srv, ref);
	if ((r < 0 && (l == L_START || l == L_RESUME)) || (r == 0 && ends_domain(l)))
		vm_build_detach(build);
	/* a reboot that failed after the old domain went leaves none */
	bool gone = r < 0 && (l == L_CLEAN_REBOOT || l == L_HARD_REBOOT) && srv->backend->active &&
		    !srv->backend->active(&srv->xh, spec.uuid);

	t = db_begin(db);
	vm = db_lookup_cls(db, SC_C_VM, ref);
	if (vm) {
		if (r == 0)
			record_outcome(t, vm, srv, l, paused, spec.domid);
		else if (gone)
			vm_record_halted(t, vm, "Halted");
		if (r == 0 && builds_domain(l))
			vm_record_vcpu_params(t, vm, &vcpu_applied);
		op_end(t, vm, token);
	}
	struct xerr ce = XERR_INIT;
	if (db_commit(t, &ce) < 0) {
		/* the outcome is not recorded, so the record still says what it
		 * said before: a domain started for it goes again, and the mark
		 * is cleared on its own */
		if (r == 0 && l == L_START) {
			struct xerr e = XERR_INIT;
			backend_do(srv, L_HARD_SHUTDOWN, &spec, false, &e);
			xerr_clear(&e);
			vm_build_detach(build);
		}
		op_clear_marks(db, NULL, ref, token);
		if (r == 0) {
			xerr_move(err, &ce);
			r = -1;
		}
	}
	xerr_clear(&ce);
	vm_spec_free(&spec);
	vm_build_free(build);
	xv_free(&vcpu_params);
	xv_free(&vcpu_applied);
	return r;
}

static int lifecycle(struct rpc_ctx *ctx, xv *args, enum lifecycle l, bool paused, struct xerr *err)
{
	char token[REF_STRLEN + 1];
	if (ctx->task[0])
		snprintf(token, sizeof token, "%s", ctx->task);
	else
		ref_generate(token);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm) {
		db_abort(t);
		return -1;
	}
	int rc = lifecycle_run(ctx->srv, t, vm, l, paused, token, false, err);
	if (rc == 0 && ends_domain(l))
		metrics_move_now(ctx->srv); /* a member's archive to the master */
	return rc;
}

int vm_lifecycle_auto(struct server *srv, const char *vm_ref, bool restart, struct xerr *err)
{
	char token[REF_STRLEN + 1];
	ref_generate(token);
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, vm_ref);
	if (!vm) {
		db_abort(t);
		return 0;
	}
	return lifecycle_run(srv, t, vm, restart ? L_HARD_REBOOT : L_HARD_SHUTDOWN, false, token, true,
			     err);
}

#define LIFECYCLE_HANDLER(fn, op, paused_arg)                                         \
	static int fn(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)      \
	{                                                                               \
		(void)result;                                                           \
		return lifecycle(ctx, args, op, paused_arg, err);                        \
	}

LIFECYCLE_HANDLER(vm_start, L_START, arg_bool(args, 1))
LIFECYCLE_HANDLER(vm_start_on, L_START, arg_bool(args, 2))
LIFECYCLE_HANDLER(vm_clean_shutdown, L_CLEAN_SHUTDOWN, false)
LIFECYCLE_HANDLER(vm_hard_shutdown, L_HARD_SHUTDOWN, false)
LIFECYCLE_HANDLER(vm_shutdown, L_SHUTDOWN, false)
LIFECYCLE_HANDLER(vm_clean_reboot, L_CLEAN_REBOOT, false)
LIFECYCLE_HANDLER(vm_hard_reboot, L_HARD_REBOOT, false)
LIFECYCLE_HANDLER(vm_pause, L_PAUSE, false)
LIFECYCLE_HANDLER(vm_unpause, L_UNPAUSE, false)
LIFECYCLE_HANDLER(vm_suspend, L_SUSPEND, false)
LIFECYCLE_HANDLER(vm_resume, L_RESUME, arg_bool(args, 1))
LIFECYCLE_HANDLER(vm_resume_on, L_RESUME, arg_bool(args, 2))
LIFECYCLE_HANDLER(vm_power_state_reset, L_POWER_STATE_RESET, false)

xv vm_free_devices(const bool *used, int max)
{
	xv list = xv_arr_new();
	for (int n = 0; n <= max; n++) {
		char num[16];
		snprintf(num, sizeof num, "%d", n);
		if (!used[n])
			xv_arr_push_str(&list, num);
	}
	return list;
}

void vm_new_mac_seed(struct db_txn *t, struct db_obj *vm)
{
	char seed[UUID_STRLEN + 1];
	uuid_generate_str(seed);
	xv_map_set_str(db_edit(t, vm, SC_F_VM__other_config), "mac_seed", seed);
}

void vm_set_template(struct db_txn *t, struct db_obj *vm, bool value)
{
	db_set_bool(t, vm, SC_F_VM__is_a_template, value);
	if (!value)
		db_set(t, ensure_metrics(t, vm), SC_F_VM_metrics__install_time, xv_time(time(NULL)));
}

/* VM.set_is_a_template: a template made a VM is installed now (xapi). */
static int vm_set_is_a_template(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm) {
		db_abort(t);
		return -1;
	}
	vm_set_template(t, vm, arg_bool(args, 1));
	vm_update_allowed_operations(t, vm);
	return db_commit(t, err);
}

/* VM.create: the generic constructor plus what xapi adds to every VM. */
int vm_create(struct rpc_ctx *ctx, const xv *rec, xv *result, struct xerr *err)
{
	if (generic_create(ctx, SC_C_VM, rec, result, err) < 0)
		return -1;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, xv_as_str(result));
	if (vm) {
		ensure_metrics(t, vm);
		db_set_int(t, vm, SC_F_VM__domid, -1);
		/* xapi gives every new VM a random mac_seed: its VIFs' MACs */
		if (!xv_map_get(db_peek(vm, SC_F_VM__other_config), "mac_seed"))
			vm_new_mac_seed(t, vm);
		vm_update_allowed_operations(t, vm);
	}
	return db_commit(t, err);
}

static int call_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return vm_create(ctx, xv_arr_get(args, 0), result, err);
}

RPC_IMPL(VM, start, vm_start, RPC_SLOW);
RPC_IMPL(VM, start_on, vm_start_on, RPC_SLOW);
RPC_IMPL(VM, clean_shutdown, vm_clean_shutdown, RPC_SLOW);
RPC_IMPL(VM, hard_shutdown, vm_hard_shutdown, RPC_SLOW);
RPC_IMPL(VM, shutdown, vm_shutdown, RPC_SLOW);
RPC_IMPL(VM, clean_reboot, vm_clean_reboot, RPC_SLOW);
RPC_IMPL(VM, hard_reboot, vm_hard_reboot, RPC_SLOW);
RPC_IMPL(VM, pause, vm_pause, RPC_SLOW);
RPC_IMPL(VM, unpause, vm_unpause, RPC_SLOW);
RPC_IMPL(VM, suspend, vm_suspend, RPC_SLOW);
RPC_IMPL(VM, resume, vm_resume, RPC_SLOW);
RPC_IMPL(VM, resume_on, vm_resume_on, RPC_SLOW);
RPC_IMPL(VM, power_state_reset, vm_power_state_reset, 0);
RPC_IMPL(VM, create, call_create, 0);
RPC_IMPL(VM, set_is_a_template, vm_set_is_a_template, 0);
