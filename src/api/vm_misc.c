/* vm_misc: VM calls answered from the store — copy_bios_strings (the
 * host's SMBIOS strings into a VM that has none, and the VM's affinity),
 * assert_operation_valid (the checks an operation would meet), call_plugin
 * (only xapi's guest-agent-operation plugin exists, and no guest here
 * offers its control features) and query_services, which xapi itself
 * answers NOT_IMPLEMENTED. */
#include "api.h"
#include "vm_ops.h"

#include <stdio.h>
#include <string.h>

static int vm_copy_bios_strings(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	struct db_obj *h = vm ? generic_lookup(ctx, SC_C_host, xv_arr_get(args, 1), err) : NULL;
	if (h && xv_len(db_peek(vm, SC_F_VM__bios_strings)) > 0) {
		xerr_set(err, ERR_VM_BIOS_STRINGS_ALREADY_SET, NULL);
		h = NULL;
	}
	if (!h) {
		db_abort(t);
		return -1;
	}
	db_set(t, vm, SC_F_VM__bios_strings, xv_copy(db_peek(h, SC_F_host__bios_strings)));
	db_set_str(t, vm, SC_F_VM__affinity, h->ref);
	return db_commit(t, err);
}

static int vm_assert_operation_valid(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	int rc = vm ? vm_check_op(vm, arg_str(args, 1), err) : -1;
	db_unlock(ctx->db);
	return rc;
}

/* xapi_vm.ml call_plugin: XENAPI_MISSING_PLUGIN for any plugin but
 * guest-agent-operation; its functions need the guest agent's control
 * features, which no guest here advertises. */
static int vm_call_plugin(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	db_unlock(ctx->db);
	if (!vm)
		return -1;
	const char *plugin = arg_str(args, 1), *fn = arg_str(args, 2);
	if (strcmp(plugin, "guest-agent-operation"))
		return xerr_set(err, ERR_XENAPI_MISSING_PLUGIN, plugin, NULL);
	char msg[512];
	if (strcmp(fn, "request-rdp-on") && strcmp(fn, "request-rdp-off") && strcmp(fn, "run-script")) {
		snprintf(msg, sizeof msg, "The requested fn \"%s\" could not be found in plugin \"%s\".", fn, plugin);
		return xerr_set(err, ERR_XENAPI_PLUGIN_FAILURE, "failed to find fn", msg, msg, NULL);
	}
	snprintf(msg, sizeof msg,
		 "The requested fn \"%s\" of plugin \"%s\" could not be executed for lack of guest agent control "
		 "feature.",
		 fn, plugin);
	return xerr_set(err, ERR_XENAPI_PLUGIN_FAILURE, "failed to execute fn", msg, msg, NULL);
}

static int vm_query_services(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	db_unlock(ctx->db);
	return vm ? xerr_set(err, ERR_NOT_IMPLEMENTED, "query_services", NULL) : -1;
}

/* VM.send_sysrq and send_trigger: to a running VM's domain through the
 * backend (QEMU: the keyboard's Alt+SysRq+key, NMI, reset, power button). */
static int vm_send_input(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	bool sysrq = !strcmp(ctx->msg->name, "send_sysrq");
	const char *arg = arg_str(args, 1);
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	struct vm_spec spec;
	int rc = vm ? 0 : -1;
	if (vm && strcmp(db_peek_str(vm, SC_F_VM__power_state), "Running")) {
		char state[16];
		snprintf(state, sizeof state, "%s", db_peek_str(vm, SC_F_VM__power_state));
		state[0] = (char)(state[0] | 0x20);
		rc = xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "running", state, NULL);
	}
	if (rc == 0)
		vm_spec_of(vm, &spec);
	db_unlock(ctx->db);
	if (rc < 0)
		return -1;
	bool ok = sysrq ? strlen(arg) == 1 && ((arg[0] >= 'a' && arg[0] <= 'z') || (arg[0] >= '0' && arg[0] <= '9'))
			: !strcmp(arg, "nmi") || !strcmp(arg, "reset") || !strcmp(arg, "power");
	if (!ok)
		rc = xerr_set(err, ERR_INVALID_VALUE, sysrq ? "key" : "trigger", arg, NULL);
	else if (!ctx->srv->backend->send_input)
		rc = xerr_set(err, ERR_NOT_IMPLEMENTED, ctx->msg->name, NULL);
	else
		rc = ctx->srv->backend->send_input(&ctx->srv->xh, &spec, sysrq ? "sysrq" : "trigger", arg, err);
	vm_spec_free(&spec);
	return rc;
}

/* VM.add_to_NVRAM and remove_from_NVRAM: plain edits of the map, as
 * xapi's (adding a key already there: MAP_DUPLICATE_KEY). */
static int vm_edit_nvram(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	bool add = !strcmp(ctx->msg->name, "add_to_NVRAM");
	const char *key = arg_str(args, 1);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (vm && add && xv_map_get(db_peek(vm, SC_F_VM__NVRAM), key)) {
		xerr_set(err, ERR_MAP_DUPLICATE_KEY, "VM", "NVRAM", vm->ref, key, NULL);
		vm = NULL;
	}
	if (!vm) {
		db_abort(t);
		return -1;
	}
	xv *m = db_edit(t, vm, SC_F_VM__NVRAM);
	if (add)
		xv_map_set_str(m, key, arg_str(args, 2));
	else
		xv_map_del(m, key);
	return db_commit(t, err);
}

RPC_IMPL(VM, add_to_NVRAM, vm_edit_nvram, 0);
RPC_IMPL(VM, remove_from_NVRAM, vm_edit_nvram, 0);
RPC_IMPL(VM, send_sysrq, vm_send_input, RPC_SLOW);
RPC_IMPL(VM, send_trigger, vm_send_input, RPC_SLOW);
RPC_IMPL(VM, copy_bios_strings, vm_copy_bios_strings, 0);
RPC_IMPL(VM, assert_operation_valid, vm_assert_operation_valid, 0);
RPC_IMPL(VM, call_plugin, vm_call_plugin, 0);
RPC_IMPL(VM, query_services, vm_query_services, 0);
