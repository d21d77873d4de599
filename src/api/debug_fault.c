/* debug.fault_arm and debug.fault_status: the fault points (base/fault.h)
 * over the API, for the fault-injection tests. Registered only when the
 * daemon runs with --debug-faults or XENON_FAULT set; a normal daemon has
 * no such messages (MESSAGE_METHOD_UNKNOWN). */
#include "api.h"
#include "../base/fault.h"

#include <stdio.h>
#include <stdlib.h>

static const struct sc_type t_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_int = {.kind = SC_INT, .text = "int"};
static const struct sc_type t_void = {.kind = SC_VOID, .text = "void"};
static const struct sc_type t_counts = {
	.kind = SC_MAP, .key = &t_string, .val = &t_int, .text = "(string -> int) map"};

static const struct sc_param arm_params[] = {{"point", &t_string}, {"n", &t_int}};

static const struct sc_message msg_arm = {
	.name = "fault_arm", .session = true, .roles = SC_ROLE_POOL_ADMIN,
	.nparams = 2, .params = arm_params, .result = &t_void};
static const struct sc_message msg_status = {
	.name = "fault_status", .session = true, .roles = SC_ROLE_POOL_ADMIN,
	.nparams = 0, .params = NULL, .result = &t_counts};

static int64_t int_arg(const xv *v)
{
	if (v && v->kind == XV_INT)
		return v->u.i;
	const char *s = v ? xv_as_str(v) : NULL;
	return s ? strtoll(s, NULL, 10) : -1;
}

/* Fails the nth hit of the point from now (0 disarms). */
static int fault_arm_call(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *name = xv_as_str(xv_arr_get(args, 0));
	int p = name ? fault_find(name) : -1;
	int64_t n = int_arg(xv_arr_get(args, 1));
	if (p < 0 || n < 0)
		return xerr_internal(err, "debug.fault_arm: no fault point %s or a bad count",
				     name ? name : "?");
	fault_arm((enum fault_point)p, (uint64_t)n);
	*result = XV_NIL_INIT;
	return 0;
}

/* Every point's hits so far ("qmp"), and failures injected ("qmp.fired"). */
static int fault_status_call(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	xv m = xv_map_new();
	for (int p = 0; p < FAULT_NPOINTS; p++) {
		char key[48];
		snprintf(key, sizeof key, "%s.fired", fault_name((enum fault_point)p));
		xv_map_set(&m, fault_name((enum fault_point)p), xv_int((int64_t)fault_hits((enum fault_point)p)));
		xv_map_set(&m, key, xv_int((int64_t)fault_fired((enum fault_point)p)));
	}
	*result = m;
	return 0;
}

void api_debug_fault_init(void)
{
	rpc_register_extra("debug", &msg_arm, fault_arm_call, 0);
	rpc_register_extra("debug", &msg_status, fault_status_call, 0);
}
