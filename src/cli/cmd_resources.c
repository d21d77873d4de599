/* cmd_resources: xe's memory and vCPU commands on selected VMs, as xapi's
 * cli_operations.ml maps them: sizes take xe's suffixes (KiB, MiB, ...),
 * vm-memory-target-set pins the dynamic range at the target, and
 * vm-vcpu-hotplug is VM.set_VCPUs_number_live. */
#include "cmd.h"
#include "base/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One call on each selected VM: method(ref, ints...). */
struct res_call {
	const char *method;
	int n;
	int64_t v[4];
};

static int op_call(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	const struct res_call *c = ud;
	xv args = xv_arr_new();
	xv_arr_push_str(&args, o->ref);
	for (int i = 0; i < c->n; i++)
		xv_arr_push(&args, xv_int(c->v[i]));
	int rc = xc_call(x->c, c->method, &args, NULL, err);
	xv_free(&args);
	return rc;
}

/* Reads the size parameters names[] into c->v, with xapi's words when one
 * is not a size. */
static int sizes(struct xe_ctx *x, const char *const *names, struct res_call *c, struct xerr *err)
{
	for (c->n = 0; names[c->n]; c->n++) {
		const char *s = xe_req(x, names[c->n]);
		if (xe_parse_size(s, &c->v[c->n]) < 0)
			return xe_fail(err, "Failed to parse field '%s': expecting an integer (possibly with "
					    "suffix KiB, MiB, GiB, TiB), got '%s'", names[c->n], s);
	}
	return 0;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

static int run(struct xe_ctx *x, const char *method, const char *const *names, bool templates,
	       struct xerr *err)
{
	struct res_call c = {.method = method};
	if (sizes(x, names, &c, err) < 0)
		return -1;
	return xe_do_selected(x, "vm", true, templates, true, op_call, &c, err);
}

static int h_dynamic_range(struct xe_ctx *x, struct xerr *err)
{
	return run(x, "VM.set_memory_dynamic_range", L("min", "max"), true, err);
}

static int h_static_range(struct xe_ctx *x, struct xerr *err)
{
	return run(x, "VM.set_memory_static_range", L("min", "max"), true, err);
}

static int h_limits(struct xe_ctx *x, struct xerr *err)
{
	return run(x, "VM.set_memory_limits", L("static-min", "static-max", "dynamic-min", "dynamic-max"),
		   true, err);
}

static int h_memory(struct xe_ctx *x, struct xerr *err)
{
	return run(x, "VM.set_memory", L("memory"), true, err);
}

/* xapi: the dynamic range pinned at the target (set_memory_target_live is
 * a no-op there) */
static int h_target(struct xe_ctx *x, struct xerr *err)
{
	struct res_call c = {.method = "VM.set_memory_dynamic_range"};
	if (sizes(x, L("target"), &c, err) < 0)
		return -1;
	c.n = 2;
	c.v[1] = c.v[0];
	return xe_do_selected(x, "vm", true, false, true, op_call, &c, err);
}

static int h_vcpu_hotplug(struct xe_ctx *x, struct xerr *err)
{
	const char *s = xe_req(x, "new-vcpus");
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return xe_fail(err, "Failed to parse parameter 'new-vcpus': expecting an integer");
	struct res_call c = {.method = "VM.set_VCPUs_number_live", .n = 1, .v = {n}};
	return xe_do_selected(x, "vm", false, false, true, op_call, &c, err);
}

#define VM_SEL XE_CMD_VM_SEL

const struct xe_cmd xe_resource_cmds[] = {
	{"vm-memory-dynamic-range-set", L("min", "max"), NULL,
	 "Configure the dynamic memory range of a VM. The dynamic memory range defines soft lower "
	 "and upper limits for a VM's memory. It's possible to change these fields when a VM is "
	 "running or halted. The dynamic range must fit within the static range.",
	 VM_SEL, h_dynamic_range, NULL},
	{"vm-memory-static-range-set", L("min", "max"), NULL,
	 "Configure the static memory range of a VM. The static memory range defines hard lower "
	 "and upper limits for a VM's memory. It's possible to change these fields only when a VM "
	 "is halted. The static range must encompass the dynamic range.",
	 VM_SEL, h_static_range, NULL},
	{"vm-memory-limits-set", L("static-min", "static-max", "dynamic-min", "dynamic-max"), NULL,
	 "Configure the memory limits of a VM.", VM_SEL, h_limits, NULL},
	{"vm-memory-set", L("memory"), NULL, "Configure the memory allocation of a VM.", VM_SEL,
	 h_memory, NULL},
	{"vm-memory-target-set", L("target"), NULL,
	 "Set the memory target for a halted or running VM. The given value must be within the "
	 "range defined by the VM's memory_static_min and memory_static_max values.",
	 VM_SEL, h_target, NULL},
	{"vm-memory-balloon", L("target"), NULL,
	 "Set the memory target for a running VM (deprecated: use vm-memory-dynamic-range-set).",
	 VM_SEL | XE_CMD_HIDDEN, h_target, NULL},
	{"vm-vcpu-hotplug", L("new-vcpus"), NULL,
	 "Dynamically adjust the number of VCPUs available to running VM.", VM_SEL, h_vcpu_hotplug,
	 NULL},
};
const size_t xe_resource_ncmds = sizeof xe_resource_cmds / sizeof xe_resource_cmds[0];
