/* cmd_metrics: xe's data source commands of VMs, hosts and SRs, as xapi's
 * cli_operations.ml has them (and the SRs'): *-data-source-list prints each source's
 * record, -query its latest value, -record and -forget change what the
 * object's RRD keeps. */
#include "cmd.h"
#include "base/mem.h"

#include <stdio.h>
#include <string.h>

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

struct ds_call {
	const char *cls; /* "VM", "host" or "SR" */
	const char *msg;
};

static const char *num(const xv *v, char *buf, size_t n)
{
	double d = !v ? 0 : v->kind == XV_FLOAT ? v->u.f : v->kind == XV_INT ? (double)v->u.i : 0;
	snprintf(buf, n, "%.3f", d);
	return buf;
}

static int op_list(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	const struct ds_call *c = ud;
	char method[64];
	snprintf(method, sizeof method, "%s.get_data_sources", c->cls);
	xv args = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&args, o->ref);
	int rc = xc_call(x->c, method, &args, &res, err);
	xv_free(&args);
	if (rc < 0)
		return -1;
	xv out = xv_arr_new();
	for (size_t i = 0; i < xv_len(&res); i++) {
		const xv *d = xv_arr_get(&res, i);
		char b1[32], b2[32];
		const xv *en = xv_map_get(d, "enabled"), *st = xv_map_get(d, "standard");
		xv r = xv_map_new();
		xv_map_set_str(&r, "name_label ( RO)", xv_map_get_str(d, "name_label"));
		xv_map_set_str(&r, "name_description ( RO)", xv_map_get_str(d, "name_description"));
		xv_map_set_str(&r, "enabled ( RO)", en && en->kind == XV_BOOL && en->u.b ? "true" : "false");
		xv_map_set_str(&r, "standard ( RO)", st && st->kind == XV_BOOL && st->u.b ? "true" : "false");
		xv_map_set_str(&r, "min ( RO)", num(xv_map_get(d, "min"), b1, sizeof b1));
		xv_map_set_str(&r, "max ( RO)", num(xv_map_get(d, "max"), b2, sizeof b2));
		xv_map_set_str(&r, "units ( RO)", xv_map_get_str(d, "units"));
		xv_arr_push(&out, r);
	}
	xe_print_table(x->out, &out);
	xv_free(&out);
	xv_free(&res);
	return 0;
}

static int op_named(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	const struct ds_call *c = ud;
	char method[64];
	snprintf(method, sizeof method, "%s.%s", c->cls, c->msg);
	xv args = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&args, o->ref);
	xv_arr_push_str(&args, xe_req(x, "data-source"));
	int rc = xc_call(x->c, method, &args, &res, err);
	xv_free(&args);
	if (rc == 0 && !strcmp(c->msg, "query_data_source")) {
		char buf[64];
		snprintf(buf, sizeof buf, "%f", res.kind == XV_FLOAT ? res.u.f : res.kind == XV_INT ? (double)res.u.i : 0);
		xe_print_line(x->out, buf);
	}
	xv_free(&res);
	return rc;
}

#define HANDLERS(pfx, cls, klass)                                                                               \
	static int pfx##_list(struct xe_ctx *x, struct xerr *err)                                               \
	{                                                                                                       \
		struct ds_call c = {cls, "get_data_sources"};                                                   \
		return xe_do_selected(x, klass, false, false, false, op_list, &c, err);                         \
	}                                                                                                       \
	static int pfx##_query(struct xe_ctx *x, struct xerr *err)                                              \
	{                                                                                                       \
		struct ds_call c = {cls, "query_data_source"};                                                  \
		return xe_do_selected(x, klass, false, false, false, op_named, &c, err);                        \
	}                                                                                                       \
	static int pfx##_record(struct xe_ctx *x, struct xerr *err)                                             \
	{                                                                                                       \
		struct ds_call c = {cls, "record_data_source"};                                                 \
		return xe_do_selected(x, klass, false, false, true, op_named, &c, err);                         \
	}                                                                                                       \
	static int pfx##_forget(struct xe_ctx *x, struct xerr *err)                                             \
	{                                                                                                       \
		struct ds_call c = {cls, "forget_data_source_archives"};                                        \
		return xe_do_selected(x, klass, false, false, true, op_named, &c, err);                         \
	}

HANDLERS(vm, "VM", "vm")
HANDLERS(host, "host", "host")
HANDLERS(sr, "SR", "sr")

const struct xe_cmd xe_metrics_cmds[] = {
	{"vm-data-source-list", NULL, NULL, "List the data sources that can be recorded for a VM.",
	 XE_CMD_VM_SEL, vm_list, NULL},
	{"vm-data-source-query", L("data-source"), NULL, "Query the last value read from a VM data source.",
	 XE_CMD_VM_SEL, vm_query, NULL},
	{"vm-data-source-record", L("data-source"), NULL, "Record the specified data source for a VM.",
	 XE_CMD_VM_SEL, vm_record, NULL},
	{"vm-data-source-forget", L("data-source"), NULL,
	 "Stop recording the specified data source for a VM, and forget all of the recorded data.",
	 XE_CMD_VM_SEL, vm_forget, NULL},
	{"host-data-source-list", NULL, NULL, "List the data sources that can be recorded for a host.",
	 XE_CMD_HOST_SEL, host_list, NULL},
	{"host-data-source-query", L("data-source"), NULL, "Query the last value read from a host data source.",
	 XE_CMD_HOST_SEL, host_query, NULL},
	{"host-data-source-record", L("data-source"), NULL, "Record the specified data source for a host.",
	 XE_CMD_HOST_SEL, host_record, NULL},
	{"host-data-source-forget", L("data-source"), NULL,
	 "Stop recording the specified data source for a host, and forget all of the recorded data.",
	 XE_CMD_HOST_SEL, host_forget, NULL},
	{"sr-data-source-list", NULL, NULL, "List the data sources that can be recorded for an SR.",
	 XE_CMD_SR_SEL, sr_list, NULL},
	{"sr-data-source-query", L("data-source"), NULL, "Query the last value read from an SR data source.",
	 XE_CMD_SR_SEL, sr_query, NULL},
	{"sr-data-source-record", L("data-source"), NULL, "Record the specified data source for an SR.",
	 XE_CMD_SR_SEL, sr_record, NULL},
	{"sr-data-source-forget", L("data-source"), NULL,
	 "Stop recording the specified data source for an SR, and forget all of the recorded data.",
	 XE_CMD_SR_SEL, sr_forget, NULL},
};
const size_t xe_metrics_ncmds = sizeof xe_metrics_cmds / sizeof xe_metrics_cmds[0];
