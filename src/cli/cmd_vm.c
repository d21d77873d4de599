/* cmd_vm: VM lifecycle commands on selected VMs (vm-start, -shutdown,
 * -clone, ...), each mapped onto the XenAPI call xapi's xe makes; long
 * ones run as Async calls and wait for their task. vm-install and the
 * uninstall/snapshot family live in cmd_install.c. */
#include "cmd.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

/* Calls method(ref, extra args...) synchronously or via Async + wait. */
static int vm_call(struct xe_ctx *x, const char *method, bool async, const char *ref, xv *extra,
		   int nextra, xv *result, struct xerr *err)
{
	xv args = xv_arr_new();
	xv_arr_push_str(&args, ref);
	for (int i = 0; i < nextra; i++)
		xv_arr_push(&args, extra[i]);
	int rc = async ? xe_call_wait(x, method, &args, result, err)
		       : xc_call(x->c, method, &args, result, err);
	xv_free(&args);
	return rc;
}

static int bool_param(struct xe_ctx *x, const char *k, bool *b, struct xerr *err)
{
	return xe_param_bool(x->params, k, false, b, err);
}

/* on=<host>: a uuid, name-label or hostname. */
static int host_by_name_or_id(struct xe_ctx *x, const char *name, char **ref, struct xerr *err)
{
	xv all = XV_NIL_INIT;
	if (xs_get_all(x->s, SC_C_host, &all, err) < 0)
		return -1;
	*ref = NULL;
	for (size_t i = 0; i < xv_len(&all) && !*ref; i++) {
		const xv *r = &all.u.m->vals[i];
		static const char *const keys[] = {"uuid", "name_label", "hostname"};
		for (size_t k = 0; k < 3 && !*ref; k++) {
			const char *v = xv_map_get_str(r, keys[k]);
			if (v && strcmp(v, name) == 0)
				*ref = xstrdup(all.u.m->keys[i]);
		}
	}
	xv_free(&all);
	return *ref ? 0 : xe_fail(err, "Host %s not found", name);
}

static int op_start(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	bool paused, force;
	(void)ud;
	if (bool_param(x, "paused", &paused, err) < 0 || bool_param(x, "force", &force, err) < 0)
		return -1;
	const char *on = xe_param(x->params, "on");
	if (on) {
		char *host;
		if (host_by_name_or_id(x, on, &host, err) < 0)
			return -1;
		xv a[] = {xv_str_own(host), xv_bool(paused), xv_bool(force)};
		return vm_call(x, "VM.start_on", true, o->ref, a, 3, NULL, err);
	}
	xv a[] = {xv_bool(paused), xv_bool(force)};
	return vm_call(x, "VM.start", true, o->ref, a, 2, NULL, err);
}

static int op_resume(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	bool force;
	(void)ud;
	if (bool_param(x, "force", &force, err) < 0)
		return -1;
	const char *on = xe_param(x->params, "on");
	if (on) {
		char *host;
		if (host_by_name_or_id(x, on, &host, err) < 0)
			return -1;
		xv a[] = {xv_str_own(host), xv_bool(false), xv_bool(force)};
		return vm_call(x, "VM.resume_on", true, o->ref, a, 3, NULL, err);
	}
	xv a[] = {xv_bool(false), xv_bool(force)};
	return vm_call(x, "VM.resume", true, o->ref, a, 2, NULL, err);
}

/* Operations that differ only in the call: ud names it; a leading '+'
 * marks the Async form, "a|b" picks b with --force. */
static int op_simple(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	const char *spec = ud;
	bool async = spec[0] == '+';
	if (async)
		spec++;
	char *method = xstrdup(spec), *bar = strchr(method, '|');
	if (bar) {
		bool force;
		if (bool_param(x, "force", &force, err) < 0) {
			free(method);
			return -1;
		}
		*bar = 0;
		if (force)
			memmove(method + 3, bar + 1, strlen(bar + 1) + 1); /* keep "VM." */
	}
	int rc = vm_call(x, method, async, o->ref, NULL, 0, NULL, err);
	free(method);
	return rc;
}

static int h_start(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", true, false, true, op_start, NULL, err);
}

static int h_resume(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", false, false, true, op_resume, NULL, err);
}

static int h_shutdown(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", false, false, true, op_simple,
			      "+VM.clean_shutdown|hard_shutdown", err);
}

static int h_reboot(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", false, false, true, op_simple, "VM.clean_reboot|hard_reboot",
			      err);
}

static int h_suspend(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", false, false, true, op_simple, "+VM.suspend", err);
}

static int h_pause(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", false, false, true, op_simple, "VM.pause", err);
}

static int h_unpause(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", false, false, true, op_simple, "VM.unpause", err);
}

static int need_force(struct xe_ctx *x, struct xerr *err)
{
	bool force;
	if (bool_param(x, "force", &force, err) < 0)
		return -1;
	if (!force)
		return xe_fail(err, "This operation is dangerous and may cause data loss. This "
				    "operation must be forced (use --force).");
	return 0;
}

static int h_reset_powerstate(struct xe_ctx *x, struct xerr *err)
{
	if (need_force(x, err) < 0)
		return -1;
	return xe_do_selected(x, "vm", false, false, true, op_simple, "VM.power_state_reset", err);
}

/* ---- clone, copy, snapshot, checkpoint: make a VM, print its uuid ---- */

struct made {
	const char *method;
	size_t n;
	char **refs;
};

static int op_make(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	struct made *m = ud;
	xv a[3];
	int na = 0;
	a[na++] = xv_str(xe_req(x, "new-name-label"));
	if (strcmp(m->method, "VM.copy") == 0) {
		const char *sr = xe_param(x->params, "sr-uuid");
		char *sref = NULL;
		if (sr && xs_by_uuid(x->s, SC_C_SR, sr, &sref, err) < 0) {
			xv_free(&a[0]);
			return -1;
		}
		a[na++] = xv_str_own(sref ? sref : xstrdup("OpaqueRef:NULL"));
	}
	if (strcmp(m->method, "VM.snapshot") == 0) {
		/* ignore_vdis has a default, but xe always sends it. */
		const char *ignore = xe_param(x->params, "ignore-vdi-uuids");
		xv ign;
		if (xe_value_for(x, sc_message_find(SC_C_VM, "snapshot")->params[2].type,
				 "ignore-vdi-uuids", ignore ? ignore : "", &ign, err) < 0) {
			xv_free(&a[0]);
			return -1;
		}
		a[na++] = ign;
	}
	xv ref = XV_NIL_INIT;
	if (vm_call(x, m->method, true, o->ref, a, na, &ref, err) < 0)
		return -1;
	m->refs = xrealloc(m->refs, sizeof(char *) * (m->n + 1));
	m->refs[m->n++] = xstrdup(xv_as_str(&ref) ? xv_as_str(&ref) : "");
	xv_free(&ref);
	return 0;
}

static int make_vms(struct xe_ctx *x, const char *method, bool templates, bool multiple_ok,
		    struct xerr *err)
{
	struct made m = {method, 0, NULL};
	int rc = xe_do_selected(x, "vm", false, templates, multiple_ok, op_make, &m, err);
	const char *desc = xe_param(x->params, "new-name-description");
	if (m.n && desc) {
		struct xerr e2 = XERR_INIT;
		if (xs_call(x->s, "VM.set_name_description", NULL, &e2, m.refs[0], desc, NULL) < 0 &&
		    rc == 0) {
			xerr_move(err, &e2);
			rc = -1;
		}
		xerr_clear(&e2);
	}
	for (size_t i = 0; i < m.n; i++) {
		if (rc == 0 && xe_print_uuid_of(x, SC_C_VM, m.refs[i], err) < 0)
			rc = -1;
		free(m.refs[i]);
	}
	free(m.refs);
	return rc;
}

static int h_clone(struct xe_ctx *x, struct xerr *err)
{
	return make_vms(x, "VM.clone", true, true, err);
}

static int h_copy(struct xe_ctx *x, struct xerr *err)
{
	return make_vms(x, "VM.copy", true, false, err);
}

static int h_snapshot(struct xe_ctx *x, struct xerr *err)
{
	return make_vms(x, "VM.snapshot", false, true, err);
}

static int h_checkpoint(struct xe_ctx *x, struct xerr *err)
{
	return make_vms(x, "VM.checkpoint", false, true, err);
}

static int h_destroy(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	xv rec = XV_NIL_INIT;
	if (xe_fetch_by_uuid(x, xe_class_find("vm"), xe_req(x, "uuid"), &ref, &rec, err) < 0)
		return -1;
	const xv *cd = xv_map_get(&rec, "is_control_domain");
	int rc;
	if (cd && cd->kind == XV_BOOL && cd->u.b)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED,
			      "You cannot destroy a control domain via the CLI", NULL);
	else
		rc = xs_call(x->s, "VM.destroy", NULL, err, ref, NULL);
	free(ref);
	xv_free(&rec);
	return rc;
}

static int op_copy_bios(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	return xs_call(x->s, "VM.copy_bios_strings", NULL, err, o->ref, (const char *)ud, NULL);
}

/* vm-copy-bios-strings host-uuid=…: the host's BIOS strings into the VM. */
static int h_copy_bios_strings(struct xe_ctx *x, struct xerr *err)
{
	char *host = NULL;
	if (xs_by_uuid(x->s, SC_C_host, xe_req(x, "host-uuid"), &host, err) < 0)
		return -1;
	int rc = xe_do_selected(x, "vm", false, false, false, op_copy_bios, host, err);
	free(host);
	return rc;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define STD_VM (XE_CMD_STANDARD | XE_CMD_VM_SEL)

const struct xe_cmd xe_vm_cmds[] = {
	{"vm-start", NULL, L("force", "on", "paused"), "Start the selected VM(s).", STD_VM, h_start,
	 NULL},
	{"vm-shutdown", NULL, L("force"),
	 "Shut down the selected VM(s): cleanly, or at once with --force.", STD_VM, h_shutdown, NULL},
	{"vm-reboot", NULL, L("force"),
	 "Reboot the selected VM(s): cleanly, or at once with --force.", STD_VM, h_reboot, NULL},
	{"vm-suspend", NULL, NULL, "Suspend the selected VM(s).", STD_VM, h_suspend, NULL},
	{"vm-resume", NULL, L("force", "on"), "Resume the selected VM(s).", STD_VM, h_resume, NULL},
	{"vm-pause", NULL, NULL, "Pause the selected running VM(s).", STD_VM, h_pause, NULL},
	{"vm-unpause", NULL, NULL, "Unpause the selected paused VM(s).", STD_VM, h_unpause, NULL},
	{"vm-reset-powerstate", NULL, L("force"),
	 "Mark the selected VM(s) as halted without touching any running domain; for recovery "
	 "after a host failure. Needs --force.",
	 STD_VM, h_reset_powerstate, NULL},
	{"vm-clone", L("new-name-label"), L("new-name-description"),
	 "Clone the selected VM (or template), copy-on-write where the storage allows; prints the "
	 "new uuid.",
	 STD_VM, h_clone, NULL},
	{"vm-copy", L("new-name-label"), L("new-name-description", "sr-uuid"),
	 "Copy the selected VM with full disk copies, onto sr-uuid if given; prints the new uuid.",
	 STD_VM, h_copy, NULL},
	{"vm-snapshot", L("new-name-label"), L("new-name-description", "ignore-vdi-uuids"),
	 "Snapshot the selected VM's disks; prints the snapshot's uuid.", STD_VM, h_snapshot, NULL},
	{"vm-checkpoint", L("new-name-label"), L("new-name-description"),
	 "Snapshot the selected VM's disks and memory; prints the checkpoint's uuid.", STD_VM,
	 h_checkpoint, NULL},
	{"vm-destroy", L("uuid"), NULL,
	 "Destroy the VM record, leaving its disks (see vm-uninstall to remove those too).", 0,
	 h_destroy, NULL},
	{"vm-install", L("new-name-label"),
	 L("template", "template-uuid", "template-name-label", "sr-name-label", "sr-uuid",
	   "copy-bios-strings-from"),
	 "Install a new VM from a template: clone it (or copy it onto the given SR), put its "
	 "disks on that SR or the pool's default SR, and provision them. Prints the new uuid.",
	 XE_CMD_STANDARD, xe_vm_install, NULL},
	{"vm-guest-exec", L("command"), L("stdin", "timeout"),
	 "Run a shell command line in the selected running VM through its guest agent (a Xenon "
	 "extension); prints its output and exits with its exit code.",
	 STD_VM, xe_vm_guest_exec, NULL},
	{"vm-guest-file-read", L("path", "filename"), NULL,
	 "Copy the file path of the selected running VM into the local file filename (guest "
	 "agent; a Xenon extension).", STD_VM, xe_vm_guest_file_read, NULL},
	{"vm-guest-file-write", L("path", "filename"), NULL,
	 "Copy the local file filename into the selected running VM as path (guest agent; a "
	 "Xenon extension).", STD_VM, xe_vm_guest_file_write, NULL},
	{"vm-copy-bios-strings", L("host-uuid"), NULL,
	 "Copy the BIOS strings of the given host to the selected VM (once; a VM keeps them).", STD_VM,
	 h_copy_bios_strings, NULL},
	{"vm-uninstall", NULL, L("force"),
	 "Destroy the selected VM(s), their snapshots and the disks they own.", STD_VM,
	 xe_vm_uninstall, NULL},
	{"template-uninstall", L("template-uuid"), L("force"),
	 "Destroy a template and the disks it owns.", XE_CMD_STANDARD, xe_template_uninstall, NULL},
	{"snapshot-uninstall", NULL, L("uuid", "snapshot-uuid", "force"),
	 "Destroy a snapshot and the disks it owns.", XE_CMD_STANDARD, xe_snapshot_uninstall, NULL},
	{"snapshot-revert", NULL, L("uuid", "snapshot-uuid"),
	 "Revert the snapshotted VM to the state of this snapshot.", XE_CMD_STANDARD,
	 xe_snapshot_revert, NULL},
	{"snapshot-destroy", NULL, L("uuid", "snapshot-uuid"),
	 "Destroy a snapshot record, leaving its disks.", 0, xe_snapshot_destroy, NULL},
	{"snapshot-clone", L("new-name-label"), L("uuid", "new-name-description"),
	 "Create a template by cloning a snapshot; prints its uuid.", XE_CMD_STANDARD,
	 xe_snapshot_clone, NULL},
	{"snapshot-copy", L("new-name-label"), L("uuid", "new-name-description", "sr-uuid"),
	 "Create a template by copying a snapshot; prints its uuid.", XE_CMD_STANDARD,
	 xe_snapshot_copy, NULL},
	{"snapshot-reset-powerstate", NULL, L("uuid", "snapshot-uuid", "force"),
	 "Mark a snapshot as halted. Needs --force.", XE_CMD_STANDARD,
	 xe_snapshot_reset_powerstate, NULL},
};
const size_t xe_vm_ncmds = sizeof xe_vm_cmds / sizeof xe_vm_cmds[0];
