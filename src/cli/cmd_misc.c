/* cmd_misc: the commands on storage, network, hosts and tasks. Most are
 * table rows: "call Class.method on the object with this uuid", or "build
 * a Class record from these params and call Class.create" — typed by the
 * schema, so a row is all a new command of either shape needs. */
#include "cmd.h"
#include "base/mem.h"
#include "base/uuid.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Class.method(object by uuid) ---- */

struct uuid_op {
	const char *xe_class; /* the class uuid= names */
	const char *method;   /* called with the ref */
	bool async;
	const char *force_method; /* used instead with --force, or NULL */
};

static int h_uuid_op(struct xe_ctx *x, struct xerr *err)
{
	const struct uuid_op *op = x->cmd->data;
	const struct xe_class *xc = xe_class_find(op->xe_class);
	char *ref = NULL;
	if (xs_by_uuid(x->s, xc->cls, xe_req(x, "uuid"), &ref, err) < 0)
		return -1;
	bool force = false;
	int rc = xe_param_bool(x->params, "force", false, &force, err);
	const char *m = force && op->force_method ? op->force_method : op->method;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	if (rc == 0)
		rc = op->async ? xe_call_wait(x, m, &a, NULL, err) : xc_call(x->c, m, &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

/* ---- Class.create(record from params) ---- */

struct field_spec {
	const char *field; /* wire field of the record */
	const char *param; /* xe param ("x:" collects x:key=value pairs), or NULL */
	const char *dflt;  /* when the param is absent (NULL: leave the field out) */
};

struct create_spec {
	int cls;
	const struct field_spec *fields;
	int print_cls; /* class of the returned ref, printed as a uuid */
};

/* Every param written prefix:key=value, as a map. */
static xv map_params(struct xe_ctx *x, const char *prefix)
{
	xv m = xv_map_new();
	size_t n = strlen(prefix);
	for (size_t i = 0; i < x->params->n; i++)
		if (strncmp(x->params->items[i].k, prefix, n) == 0)
			xv_map_set_str(&m, x->params->items[i].k + n, x->params->items[i].v);
	return m;
}

static int build_field(struct xe_ctx *x, const struct sc_field *f, const struct field_spec *fs,
		       xv *rec, struct xerr *err)
{
	const char *param = fs->param;
	size_t plen = param ? strlen(param) : 0;
	if (param && plen && param[plen - 1] == ':') {
		xv m = map_params(x, param);
		if (f->type->kind == SC_SET) {
			/* tags:a=... style sets take the keys. */
			xv s = xv_arr_new();
			for (size_t i = 0; i < xv_len(&m); i++)
				xv_arr_push_str(&s, m.u.m->keys[i]);
			xv_free(&m);
			m = s;
		}
		xv_map_set(rec, f->name, m);
		return 0;
	}
	const char *text = param ? xe_param(x->params, param) : NULL;
	if (!text)
		text = fs->dflt;
	if (!text)
		return 0;
	xv v;
	if (f->type->kind == SC_INT && param && strstr(param, "size")) {
		int64_t n;
		if (xe_parse_size(text, &n) < 0)
			return xe_fail(err, "Failed to parse parameter '%s': expecting a size in bytes "
					    "(suffix KiB, MiB, GiB or TiB)",
				       param);
		v = xv_int(n);
	} else if (xe_value_for(x, f->type, param ? param : f->name, text, &v, err) < 0) {
		return -1;
	}
	xv_map_set(rec, f->name, v);
	return 0;
}

static int h_create(struct xe_ctx *x, struct xerr *err)
{
	const struct create_spec *cs = x->cmd->data;
	const struct sc_class *c = &sc_classes[cs->cls];
	xv rec = xv_map_new();
	int rc = 0;
	for (const struct field_spec *fs = cs->fields; fs->field && rc == 0; fs++) {
		int fi = sc_field_find(cs->cls, fs->field);
		if (fi < 0)
			continue;
		rc = build_field(x, &c->fields[fi], fs, &rec, err);
	}
	xv ref = XV_NIL_INIT;
	if (rc == 0) {
		char *m = xasprintf("%s.create", c->name);
		xv a = xv_arr_new();
		xv_arr_push(&a, rec);
		rec = (xv)XV_NIL_INIT;
		rc = xc_call(x->c, m, &a, &ref, err);
		xv_free(&a);
		free(m);
	}
	if (rc == 0)
		rc = xe_print_uuid_of(x, cs->print_cls, xv_as_str(&ref), err);
	xv_free(&ref);
	xv_free(&rec);
	return rc;
}

static const struct field_spec network_fields[] = {
	{"name_label", "name-label", NULL}, {"name_description", "name-description", ""},
	{"MTU", "MTU", "1500"},             {"other_config", NULL, ""},
	{"bridge", "bridge", ""},           {"managed", "managed", "true"},
	{"tags", NULL, ""},               {NULL, NULL, NULL}};
static const struct field_spec vdi_fields[] = {
	{"SR", "sr-uuid", NULL},          {"name_label", "name-label", NULL},
	{"name_description", NULL, ""},   {"virtual_size", "virtual-size", NULL},
	{"type", "type", "user"},         {"sharable", "sharable", "false"},
	{"read_only", NULL, "false"},     {"sm_config", "sm-config:", NULL},
	{"tags", "tags:", NULL},          {NULL, NULL, NULL}};
static const struct field_spec vbd_fields[] = {
	{"VM", "vm-uuid", NULL},          {"VDI", "vdi-uuid", ""},
	{"userdevice", "device", NULL},   {"bootable", "bootable", "false"},
	{"mode", "mode", "RW"},           {"type", "type", "Disk"},
	{"unpluggable", "unpluggable", "true"}, {"empty", "empty", "false"},
	{"other_config", NULL, ""},       {"qos_algorithm_type", NULL, ""},
	{NULL, NULL, NULL}};
static const struct field_spec vif_fields[] = {
	{"device", "device", NULL}, {"network", "network-uuid", NULL}, {"VM", "vm-uuid", NULL},
	{"MAC", "mac", ""},         {"MTU", NULL, "1500"},             {"other_config", NULL, ""},
	{NULL, NULL, NULL}};
static const struct field_spec pbd_fields[] = {
	{"host", "host-uuid", NULL}, {"SR", "sr-uuid", NULL}, {"device_config", "device-config:", NULL},
	{"other_config", NULL, ""}, {NULL, NULL, NULL}};
static const struct field_spec secret_fields[] = {
	{"value", "value", NULL}, {"other_config", NULL, ""}, {NULL, NULL, NULL}};

static const struct field_spec appliance_fields[] = {
	{"name_label", "name-label", NULL}, {"name_description", "name-description", ""}, {NULL, NULL, NULL}};
static const struct field_spec vmss_fields[] = {
	{"name_label", "name-label", NULL},
	{"name_description", "name-description", ""},
	{"enabled", "enabled", "true"},
	{"type", "type", NULL},
	{"retained_snapshots", "retained-snapshots", "7"},
	{"frequency", "frequency", NULL},
	{"schedule", "schedule:", NULL},
	{NULL, NULL, NULL}};

static const struct create_spec create_appliance = {SC_C_VM_appliance, appliance_fields, SC_C_VM_appliance};
static const struct create_spec create_vmss = {SC_C_VMSS, vmss_fields, SC_C_VMSS};
static const struct create_spec create_network = {SC_C_network, network_fields, SC_C_network};
static const struct create_spec create_vdi = {SC_C_VDI, vdi_fields, SC_C_VDI};
static const struct create_spec create_vbd = {SC_C_VBD, vbd_fields, SC_C_VBD};
static const struct create_spec create_vif = {SC_C_VIF, vif_fields, SC_C_VIF};
static const struct create_spec create_pbd = {SC_C_PBD, pbd_fields, SC_C_PBD};
static const struct create_spec create_secret = {SC_C_secret, secret_fields, SC_C_secret};

/* vbd-create with no vdi-uuid makes an empty CD drive. */
static int h_vbd_create(struct xe_ctx *x, struct xerr *err)
{
	struct xe_params p = {0};
	for (size_t i = 0; i < x->params->n; i++)
		xe_params_add(&p, x->params->items[i].k, x->params->items[i].v);
	if (!xe_param(&p, "vdi-uuid") || !*xe_param(&p, "vdi-uuid")) {
		xe_params_add(&p, "empty", "true");
		if (!xe_param(&p, "type"))
			xe_params_add(&p, "type", "CD");
	}
	const struct xe_params *saved = x->params;
	x->params = &p;
	int rc = h_create(x, err);
	x->params = saved;
	xe_params_free(&p);
	return rc;
}

/* ---- the rest ---- */

static int h_sr_create(struct xe_ctx *x, struct xerr *err)
{
	char *host = NULL;
	const char *hu = xe_param(x->params, "host-uuid");
	int rc;
	if (hu) {
		rc = xs_by_uuid(x->s, SC_C_host, hu, &host, err);
	} else {
		/* The host this session is on: session.get_this_host(s, self=s). */
		xv h = XV_NIL_INIT;
		rc = xs_call(x->s, "session.get_this_host", &h, err, xc_session(x->c), NULL);
		host = rc == 0 ? xstrdup(xv_as_str(&h) ? xv_as_str(&h) : REF_NULL) : NULL;
		xv_free(&h);
	}
	if (rc < 0)
		return -1;
	int64_t size = 0;
	const char *ps = xe_param(x->params, "physical-size");
	bool shared = false;
	if (ps && xe_parse_size(ps, &size) < 0)
		rc = xe_fail(err, "Failed to parse parameter 'physical-size'");
	if (rc == 0)
		rc = xe_param_bool(x->params, "shared", false, &shared, err);
	xv ref = XV_NIL_INIT;
	if (rc == 0) {
		xv a = xv_arr_new();
		xv_arr_push_str(&a, host);
		xv_arr_push(&a, map_params(x, "device-config:"));
		xv_arr_push(&a, xv_int(size));
		xv_arr_push_str(&a, xe_req(x, "name-label"));
		xv_arr_push_str(&a, xe_req(x, "name-description"));
		xv_arr_push_str(&a, xe_req(x, "type"));
		xv_arr_push_str(&a, xe_req(x, "content-type"));
		xv_arr_push(&a, xv_bool(shared));
		xv_arr_push(&a, map_params(x, "sm-config:"));
		rc = xe_call_wait(x, "SR.create", &a, &ref, err);
		xv_free(&a);
	}
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_SR, xv_as_str(&ref), err);
	xv_free(&ref);
	free(host);
	return rc;
}

/* vdi-clone / vdi-snapshot: VDI.<op>(vdi, driver_params), new uuid printed. */
static int h_vdi_make(struct xe_ctx *x, struct xerr *err)
{
	const char *method = x->cmd->data;
	char *ref = NULL;
	if (xs_by_uuid(x->s, SC_C_VDI, xe_req(x, "uuid"), &ref, err) < 0)
		return -1;
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, ref);
	xv_arr_push(&a, map_params(x, "driver-params-"));
	int rc = xe_call_wait(x, method, &a, &res, err);
	const char *made = xv_as_str(&res);
	const char *nl = xe_param(x->params, "new-name-label");
	const char *nd = xe_param(x->params, "new-name-description");
	if (rc == 0 && nl)
		rc = xs_call(x->s, "VDI.set_name_label", NULL, err, made, nl, NULL);
	if (rc == 0 && nd)
		rc = xs_call(x->s, "VDI.set_name_description", NULL, err, made, nd, NULL);
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_VDI, made, err);
	xv_free(&a);
	xv_free(&res);
	free(ref);
	return rc;
}

static int opt_vdi(struct xe_ctx *x, const char *param, char **ref, struct xerr *err)
{
	const char *u = xe_param(x->params, param);
	*ref = NULL;
	if (!u) {
		*ref = xstrdup(REF_NULL);
		return 0;
	}
	return xs_by_uuid(x->s, SC_C_VDI, u, ref, err);
}

static int h_vdi_copy(struct xe_ctx *x, struct xerr *err)
{
	char *vdi = NULL, *sr = NULL, *base = NULL, *into = NULL;
	int rc = xs_by_uuid(x->s, SC_C_VDI, xe_req(x, "uuid"), &vdi, err);
	const char *sru = xe_param(x->params, "sr-uuid");
	if (rc == 0)
		rc = sru ? xs_by_uuid(x->s, SC_C_SR, sru, &sr, err) : (sr = xstrdup(REF_NULL), 0);
	if (rc == 0)
		rc = opt_vdi(x, "base-vdi-uuid", &base, err);
	if (rc == 0)
		rc = opt_vdi(x, "into-vdi-uuid", &into, err);
	xv res = XV_NIL_INIT;
	if (rc == 0) {
		xv a = xv_arr_new();
		xv_arr_push_str(&a, vdi);
		xv_arr_push_str(&a, sr);
		xv_arr_push_str(&a, base);
		xv_arr_push_str(&a, into);
		rc = xe_call_wait(x, "VDI.copy", &a, &res, err);
		xv_free(&a);
	}
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_VDI, xv_as_str(&res), err);
	xv_free(&res);
	free(vdi);
	free(sr);
	free(base);
	free(into);
	return rc;
}

static int h_vdi_resize(struct xe_ctx *x, struct xerr *err)
{
	int64_t size;
	if (xe_parse_size(xe_req(x, "disk-size"), &size) < 0)
		return xe_fail(err, "Failed to parse parameter 'disk-size': expecting a size in bytes "
				    "(suffix KiB, MiB, GiB or TiB)");
	char *ref = NULL;
	if (xs_by_uuid(x->s, SC_C_VDI, xe_req(x, "uuid"), &ref, err) < 0)
		return -1;
	bool online = false;
	int rc = xe_param_bool(x->params, "online", false, &online, err);
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	xv_arr_push(&a, xv_int(size));
	if (rc == 0)
		rc = xe_call_wait(x, online ? "VDI.resize_online" : "VDI.resize", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static int h_message_create(struct xe_ctx *x, struct xerr *err)
{
	static const struct {
		const char *param, *cls;
		int sc;
	} targets[] = {{"vm-uuid", "VM", SC_C_VM},
		       {"host-uuid", "Host", SC_C_host},
		       {"sr-uuid", "SR", SC_C_SR},
		       {"pool-uuid", "Pool", SC_C_pool}};
	const char *cls = NULL, *uuid = NULL;
	for (size_t i = 0; i < 4; i++)
		if (xe_param(x->params, targets[i].param)) {
			if (cls)
				return xe_fail(err, "Exactly one of vm-uuid, host-uuid, sr-uuid or "
						    "pool-uuid must be given");
			cls = targets[i].cls;
			uuid = xe_param(x->params, targets[i].param);
		}
	if (!cls)
		return xe_fail(err, "Need one of vm-uuid, host-uuid, sr-uuid or pool-uuid");
	char *end;
	long long prio = strtoll(xe_req(x, "priority"), &end, 10);
	if (*end || end == xe_req(x, "priority"))
		return xe_fail(err, "Parameter priority must be an integer");
	xv a = xv_arr_new();
	xv_arr_push_str(&a, xe_req(x, "name"));
	xv_arr_push(&a, xv_int(prio));
	xv_arr_push_str(&a, cls);
	xv_arr_push_str(&a, uuid);
	xv_arr_push_str(&a, xe_req(x, "body"));
	int rc = xc_call(x->c, "message.create", &a, NULL, err);
	xv_free(&a);
	return rc;
}

static int h_pool_join(struct xe_ctx *x, struct xerr *err)
{
	bool force = false;
	if (xe_param_bool(x->params, "force", false, &force, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, xe_req(x, "master-address"));
	xv_arr_push_str(&a, xe_req(x, "master-username"));
	xv_arr_push_str(&a, xe_req(x, "master-password"));
	int rc = xe_call_wait(x, force ? "pool.join_force" : "pool.join", &a, NULL, err);
	xv_free(&a);
	return rc;
}

static int h_pool_eject(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (xs_by_uuid(x->s, SC_C_host, xe_req(x, "host-uuid"), &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xe_call_wait(x, "pool.eject", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

/* appliance-start [paused=true]: VM_appliance.start, waited for. */
static int h_appliance_start(struct xe_ctx *x, struct xerr *err)
{
	bool paused = false;
	if (xe_param_bool(x->params, "paused", false, &paused, err) < 0)
		return -1;
	char *ref = NULL;
	if (xs_by_uuid(x->s, SC_C_VM_appliance, xe_req(x, "uuid"), &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	xv_arr_push(&a, xv_bool(paused));
	int rc = xe_call_wait(x, "VM_appliance.start", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

/* vm-recover, vm-assert-can-be-recovered, appliance-recover and
 * appliance-assert-can-be-recovered: the VM or appliance uuid= as the
 * database of the metadata VDI database:vdi-uuid= knows it (a session on
 * that database for the time of the call), else as this pool's does;
 * recovered into this session's pool. */
struct dr_call {
	int cls;
	const char *method;
	bool force; /* takes force= */
};

static int h_dr_call(struct xe_ctx *x, struct xerr *err)
{
	const struct dr_call *d = x->cmd->data;
	bool force = false;
	if (d->force && xe_param_bool(x->params, "force", false, &force, err) < 0)
		return -1;
	const char *vdi_uuid = xe_param(x->params, "database:vdi-uuid");
	char *to = xstrdup(xc_session(x->c)), *dbs = NULL, *ref = NULL;
	int rc = 0;
	if (vdi_uuid) {
		char *vdi = NULL;
		xv res = XV_NIL_INIT;
		rc = xs_by_uuid(x->s, SC_C_VDI, vdi_uuid, &vdi, err);
		if (rc == 0) {
			xv a = xv_arr_new();
			xv_arr_push_str(&a, vdi);
			rc = xc_call(x->c, "VDI.open_database", &a, &res, err);
			xv_free(&a);
		}
		if (rc == 0) {
			dbs = xstrdup(xv_as_str(&res) ?: "");
			xc_set_session(x->c, dbs);
			xs_invalidate(x->s);
		}
		xv_free(&res);
		free(vdi);
	}
	if (rc == 0)
		rc = xs_by_uuid(x->s, d->cls, xe_req(x, "uuid"), &ref, err);
	if (rc == 0) {
		xv a = xv_arr_new(), res = XV_NIL_INIT;
		xv_arr_push_str(&a, ref);
		xv_arr_push_str(&a, to);
		if (d->force)
			xv_arr_push(&a, xv_bool(force));
		rc = xc_call(x->c, d->method, &a, &res, err);
		xv_free(&a);
		xv_free(&res);
	}
	if (dbs) {
		xv a = xv_arr_new(), res = XV_NIL_INIT;
		struct xerr e = XERR_INIT;
		xc_call(x->c, "session.logout", &a, &res, &e);
		xerr_clear(&e);
		xv_free(&a);
		xv_free(&res);
		xc_set_session(x->c, to);
		xs_invalidate(x->s);
	}
	free(ref);
	free(dbs);
	free(to);
	return rc;
}

/* drtask-create type= sr-whitelist=uuid,… device-config:…: DR_task.create;
 * prints the task's uuid. */
static int h_drtask_create(struct xe_ctx *x, struct xerr *err)
{
	xv a = xv_arr_new(), white = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, xe_req(x, "type"));
	xv_arr_push(&a, map_params(x, "device-config:"));
	char *list = xstrdup(xe_req(x, "sr-whitelist"));
	for (char *save = NULL, *u = strtok_r(list, ",", &save); u; u = strtok_r(NULL, ",", &save))
		xv_arr_push_str(&white, u);
	free(list);
	xv_arr_push(&a, white);
	int rc = xe_call_wait(x, "DR_task.create", &a, &res, err);
	xv_free(&a);
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_DR_task, xv_as_str(&res), err);
	xv_free(&res);
	return rc;
}

/* vmss-snapshot-now: VMSS.snapshot_now, waited for. */
static int h_vmss_snapshot_now(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (xs_by_uuid(x->s, SC_C_VMSS, xe_req(x, "uuid"), &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xe_call_wait(x, "VMSS.snapshot_now", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static int op_host(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	return xs_call(x->s, ud, NULL, err, o->ref, NULL);
}

static int h_host_enable(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "host", false, false, true, op_host, "host.enable", err);
}

/* A host call with the host and the named params' values (strings), its
 * string result printed when print is set. */
struct host_call {
	const char *method;
	const char *const *params; /* xe params passed in order, or NULL */
	bool print;
};

static int op_host_call(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	const struct host_call *hc = ud;
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, o->ref);
	for (const char *const *p = hc->params; p && *p; p++)
		xv_arr_push_str(&a, xe_param(x->params, *p) ?: "");
	int rc = xc_call(x->c, hc->method, &a, &res, err);
	if (rc == 0 && hc->print && xv_as_str(&res))
		xe_print_line(x->out, xv_as_str(&res));
	xv_free(&a);
	xv_free(&res);
	return rc;
}

static int h_host_call(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "host", false, false, true, op_host_call, (void *)x->cmd->data, err);
}

/* host-bugreport-upload [url=] [http-proxy=]: the status archive PUT to url. */
static int op_bugreport(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	(void)ud;
	xv a = xv_arr_new(), opts = xv_map_new();
	const char *proxy = xe_param(x->params, "http-proxy");
	if (proxy)
		xv_map_set_str(&opts, "http_proxy", proxy);
	xv_arr_push_str(&a, o->ref);
	xv_arr_push_str(&a, xe_param(x->params, "url") ?: "");
	xv_arr_push(&a, opts);
	int rc = xe_call_wait(x, "host.bugreport_upload", &a, NULL, err);
	xv_free(&a);
	return rc;
}

static int h_host_bugreport_upload(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "host", false, false, true, op_bugreport, NULL, err);
}

static int h_host_disable(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "host", false, false, true, op_host, "host.disable", err);
}

static int h_host_restart_agent(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "host", false, false, true, op_host, "host.restart_agent", err);
}

/* event-wait class=<c> field=value field=/=value: returns once an object
 * of the class matches every condition (now or after a change). */
static int h_event_wait(struct xe_ctx *x, struct xerr *err)
{
	const char *cname = xe_req(x, "class");
	const struct xe_class *xc = xe_class_find(cname);
	int cls = xc ? xc->cls : sc_class_find_lower(cname);
	if (cls < 0 || !xc)
		return xe_fail(err, "Cli listening for class '%s' not currently implemented", cname);
	const char *classes[] = {sc_classes[cls].lname, NULL};
	char *token = NULL;
	int rc = 0;
	bool done = false;
	while (!done && rc == 0) {
		xv args = xv_arr_new(), batch = XV_NIL_INIT;
		xv cl = xv_arr_new();
		xv_arr_push_str(&cl, classes[0]);
		xv_arr_push(&args, cl);
		xv_arr_push_str(&args, token ? token : "");
		xv_arr_push(&args, xv_float(30.0));
		rc = xc_call(x->c, "event.from", &args, &batch, err);
		xv_free(&args);
		const char *tok = xv_map_get_str(&batch, "token");
		if (tok) {
			free(token);
			token = xstrdup(tok);
		}
		const xv *evs = xv_map_get(&batch, "events");
		for (size_t i = 0; rc == 0 && !done && evs && i < xv_len(evs); i++) {
			const xv *ev = xv_arr_get(evs, i);
			const xv *snap = xv_map_get(ev, "snapshot");
			const char *op = xv_map_get_str(ev, "operation");
			if (!snap || snap->kind != XV_MAP || (op && strcmp(op, "del") == 0))
				continue;
			xv rec = xv_copy(snap);
			xe_record_coerce(cls, &rec);
			struct xe_obj o = {cls, xv_map_get_str(ev, "ref"), &rec};
			bool all = true;
			for (size_t p = 0; all && p < x->params->n; p++) {
				const char *k = x->params->items[p].k, *v = x->params->items[p].v;
				if (strcmp(k, "class") == 0 || xe_is_stdparam(k))
					continue;
				bool neg = strncmp(v, "/=", 2) == 0;
				const struct xe_param *xp = xe_param_find(xc, k);
				if (!xp) {
					rc = xe_fail(err, "key missing: %s", k);
					break;
				}
				char *t = xe_param_text(&x->s->r, xc, xp, &o);
				bool eq = strcmp(t, neg ? v + 2 : v) == 0;
				free(t);
				all = neg ? !eq : eq;
			}
			done = rc == 0 && all;
			xv_free(&rec);
		}
		xv_free(&batch);
	}
	free(token);
	return rc;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})
#define UUID_OP(name, cls, method, async, force, help)                                           \
	{name, L("uuid"), force ? L("force") : NULL, help, 0, h_uuid_op,                          \
	 &(const struct uuid_op){cls, method, async, force}}

const struct xe_cmd xe_misc_cmds[] = {
	{"network-create", L("name-label"), L("name-description", "MTU", "bridge", "managed"),
	 "Create a network; prints its uuid.", 0, h_create, &create_network},
	UUID_OP("network-destroy", "network", "network.destroy", false, NULL, "Destroy a network."),
	UUID_OP("task-cancel", "task", "task.cancel", false, NULL, "Ask a running task to cancel."),
	{"event-wait", L("class"), NULL,
	 "Wait until an object of the class has the given field=value (or field=/=value for "
	 "'not equal') settings.",
	 0, h_event_wait, NULL},
	{"vdi-create", L("sr-uuid", "name-label", "virtual-size"),
	 L("sm-config:", "sharable", "tags:", "type"),
	 "Create a VDI of virtual-size (bytes, or with a KiB/MiB/GiB/TiB suffix); prints its uuid.",
	 0, h_create, &create_vdi},
	UUID_OP("vdi-destroy", "vdi", "VDI.destroy", true, NULL, "Destroy a VDI and its data."),
	UUID_OP("vdi-forget", "vdi", "VDI.forget", false, NULL,
		"Forget a VDI record, leaving its data in the SR."),
	{"vdi-clone", L("uuid"), L("driver-params-", "new-name-label", "new-name-description"),
	 "Clone a VDI; prints the new uuid.", 0, h_vdi_make, "VDI.clone"},
	{"vdi-snapshot", L("uuid"), L("driver-params-"), "Snapshot a VDI; prints the new uuid.", 0,
	 h_vdi_make, "VDI.snapshot"},
	{"vdi-copy", L("uuid"), L("sr-uuid", "base-vdi-uuid", "into-vdi-uuid"),
	 "Copy a VDI onto an SR (or into an existing VDI); prints the new uuid.", 0, h_vdi_copy,
	 NULL},
	{"vdi-resize", L("uuid", "disk-size"), L("online"), "Grow a VDI to disk-size.", 0,
	 h_vdi_resize, NULL},
	{"vbd-create", L("vm-uuid", "device"), L("vdi-uuid", "bootable", "type", "mode", "unpluggable"),
	 "Create a VBD attaching a VDI (or an empty CD drive) to a VM; prints its uuid.", 0,
	 h_vbd_create, &create_vbd},
	UUID_OP("vbd-destroy", "vbd", "VBD.destroy", false, NULL, "Destroy a VBD."),
	UUID_OP("vbd-plug", "vbd", "VBD.plug", true, NULL, "Hot-plug a VBD into its running VM."),
	UUID_OP("vbd-unplug", "vbd", "VBD.unplug", true, "VBD.unplug_force",
		"Hot-unplug a VBD from its running VM."),
	UUID_OP("vbd-eject", "vbd", "VBD.eject", true, NULL, "Eject the disc of a CD VBD."),
	{"vif-create", L("device", "network-uuid", "vm-uuid"), L("mac"),
	 "Create a VIF connecting a VM to a network; prints its uuid.", 0, h_create, &create_vif},
	UUID_OP("vif-destroy", "vif", "VIF.destroy", false, NULL, "Destroy a VIF."),
	UUID_OP("vif-plug", "vif", "VIF.plug", true, NULL, "Hot-plug a VIF into its running VM."),
	UUID_OP("vif-unplug", "vif", "VIF.unplug", true, "VIF.unplug_force",
		"Hot-unplug a VIF from its running VM."),
	{"pbd-create", L("host-uuid", "sr-uuid"), L("device-config:"),
	 "Create a PBD connecting a host to an SR; prints its uuid.", 0, h_create, &create_pbd},
	UUID_OP("pbd-destroy", "pbd", "PBD.destroy", false, NULL, "Destroy a PBD."),
	UUID_OP("pbd-plug", "pbd", "PBD.plug", true, NULL, "Attach an SR to the PBD's host."),
	UUID_OP("pbd-unplug", "pbd", "PBD.unplug", true, NULL, "Detach an SR from the PBD's host."),
	{"sr-create", L("name-label", "type"),
	 L("name-description", "host-uuid", "device-config:", "shared", "physical-size",
	   "content-type", "sm-config:"),
	 "Create an SR of the given type; prints its uuid.", 0, h_sr_create, NULL},
	UUID_OP("sr-destroy", "sr", "SR.destroy", true, NULL, "Destroy an SR and all its data."),
	UUID_OP("sr-forget", "sr", "SR.forget", false, NULL,
		"Forget an SR record, leaving its data in place."),
	UUID_OP("sr-scan", "sr", "SR.scan", true, NULL, "Rescan an SR for VDIs."),
	{"host-enable", NULL, NULL, "Enable the selected host(s) to run VMs.", XE_CMD_HOST_SEL,
	 h_host_enable, NULL},
	{"host-disable", NULL, NULL, "Stop the selected host(s) from starting new VMs.",
	 XE_CMD_HOST_SEL, h_host_disable, NULL},
	{"host-restart-agent", NULL, NULL,
	 "Restart the toolstack daemon on the selected host(s) a second after the call returns; "
	 "running VMs are not affected.",
	 XE_CMD_HOST_SEL, h_host_restart_agent, NULL},
	{"host-dmesg", NULL, NULL, "Print the kernel log of the selected host(s).", XE_CMD_HOST_SEL, h_host_call,
	 &(const struct host_call){"host.dmesg", NULL, true}},
	{"host-get-system-status-capabilities", NULL, NULL,
	 "Print what the host's status archive holds (XML).", XE_CMD_HOST_SEL, h_host_call,
	 &(const struct host_call){"host.get_system_status_capabilities", NULL, true}},
	{"host-bugreport-upload", NULL, L("url", "http-proxy"),
	 "Upload the host's status archive to url (http://, by PUT).", XE_CMD_HOST_SEL,
	 h_host_bugreport_upload, NULL},
	{"host-set-hostname-live", L("host-name"), NULL, "Change the host's hostname now.", XE_CMD_HOST_SEL,
	 h_host_call, &(const struct host_call){"host.set_hostname_live", L("host-name"), false}},
	{"host-syslog-reconfigure", NULL, NULL,
	 "Send the daemon's log to the host's logging:syslog_destination (or stop when it is unset).",
	 XE_CMD_HOST_SEL, h_host_call, &(const struct host_call){"host.syslog_reconfigure", NULL, false}},
	{"host-send-debug-keys", L("keys"), NULL, "Send debug keys to the hypervisor (none here: no effect).",
	 XE_CMD_HOST_SEL, h_host_call, &(const struct host_call){"host.send_debug_keys", L("keys"), false}},
	{"host-sync-data", NULL, NULL, "Bring the host's copy of the pool's blobs up to date.", XE_CMD_HOST_SEL,
	 h_host_call, &(const struct host_call){"host.sync_data", NULL, false}},
	{"host-enable-display", NULL, NULL, "Enable the host's display (from the next boot); prints the state.",
	 XE_CMD_HOST_SEL, h_host_call, &(const struct host_call){"host.enable_display", NULL, true}},
	{"host-disable-display", NULL, NULL, "Disable the host's display (from the next boot); prints the state.",
	 XE_CMD_HOST_SEL, h_host_call, &(const struct host_call){"host.disable_display", NULL, true}},
	{"host-get-sched-gran", NULL, NULL, "Print the host's scheduler granularity.", XE_CMD_HOST_SEL,
	 h_host_call, &(const struct host_call){"host.get_sched_gran", NULL, true}},
	{"secret-create", L("value"), NULL, "Store a secret; prints its uuid.", 0, h_create,
	 &create_secret},
	UUID_OP("secret-destroy", "secret", "secret.destroy", false, NULL, "Destroy a secret."),
	UUID_OP("vlan-destroy", "vlan", "VLAN.destroy", false, NULL, "Destroy a VLAN."),
	UUID_OP("bond-destroy", "bond", "Bond.destroy", false, NULL, "Destroy a bond."),
	{"pool-join", L("master-address", "master-username", "master-password"), L("force"),
	 "Make this host a member of the pool whose master is at master-address; force=true "
	 "skips the homogeneity checks. The host restarts its daemon as a member.",
	 0, h_pool_join, NULL},
	{"pool-eject", L("host-uuid"), NULL,
	 "Remove a host from the pool: it restarts as a pool of one, with its VMs and local "
	 "storage lost to the pool.",
	 0, h_pool_eject, NULL},
	{"appliance-create", L("name-label"), L("name-description"),
	 "Create a VM appliance; VMs join it through their appliance field. Prints its uuid.", 0, h_create,
	 &create_appliance},
	UUID_OP("appliance-destroy", "appliance", "VM_appliance.destroy", false, NULL, "Destroy a VM appliance."),
	{"appliance-start", L("uuid"), L("paused"),
	 "Start the appliance's VMs, in ascending order, each order group waiting its start delay.", 0,
	 h_appliance_start, NULL},
	UUID_OP("appliance-shutdown", "appliance", "VM_appliance.clean_shutdown", true,
		"VM_appliance.hard_shutdown",
		"Shut the appliance's VMs down in descending order (--force: hard shutdown)."),
	{"vm-recover", L("uuid"), L("database:vdi-uuid", "force"),
	 "Recover a VM from the database of a metadata VDI into this pool (force=true: replace a "
	 "copy here that is not older).",
	 0, h_dr_call, &(const struct dr_call){SC_C_VM, "VM.recover", true}},
	{"vm-assert-can-be-recovered", L("uuid"), L("database:vdi-uuid"),
	 "Check that this pool has the storage a VM of a metadata VDI's database needs.", 0, h_dr_call,
	 &(const struct dr_call){SC_C_VM, "VM.assert_can_be_recovered", false}},
	{"appliance-recover", L("uuid"), L("database:vdi-uuid", "force"),
	 "Recover an appliance and its VMs from the database of a metadata VDI into this pool.", 0,
	 h_dr_call, &(const struct dr_call){SC_C_VM_appliance, "VM_appliance.recover", true}},
	{"appliance-assert-can-be-recovered", L("uuid", "database:vdi-uuid"), NULL,
	 "Check that this pool has the storage an appliance of a metadata VDI's database needs.", 0,
	 h_dr_call, &(const struct dr_call){SC_C_VM_appliance, "VM_appliance.assert_can_be_recovered", false}},
	{"drtask-create", L("type", "sr-whitelist"), L("device-config:"),
	 "Introduce and plug the SRs of the whitelist whose metadata VDIs the storage holds; prints the "
	 "task's uuid.", 0, h_drtask_create, NULL},
	UUID_OP("drtask-destroy", "drtask", "DR_task.destroy", true, NULL,
		"Unplug and forget the SRs a DR task introduced, then the task."),
	UUID_OP("sr-enable-database-replication", "sr", "SR.enable_database_replication", true, NULL,
		"Keep the pool's database in a metadata VDI on the SR, for disaster recovery."),
	UUID_OP("sr-disable-database-replication", "sr", "SR.disable_database_replication", true, NULL,
		"Stop keeping the pool's database on the SR; its metadata VDI is destroyed."),
	{"vmss-create", L("name-label", "type", "frequency"),
	 L("name-description", "enabled", "retained-snapshots", "schedule:"),
	 "Create a VM snapshot schedule (type snapshot|checkpoint, frequency hourly|daily|weekly, "
	 "schedule:min=, schedule:hour=, schedule:days=); prints its uuid.",
	 0, h_create, &create_vmss},
	UUID_OP("vmss-destroy", "vmss", "VMSS.destroy", false, NULL, "Destroy a VM snapshot schedule."),
	{"vmss-snapshot-now", L("uuid"), NULL, "Run the VM snapshot schedule now.", 0, h_vmss_snapshot_now,
	 NULL},
	{"message-create", L("name", "priority", "body"),
	 L("vm-uuid", "host-uuid", "sr-uuid", "pool-uuid"),
	 "Create a message about an object; exactly one of the optional uuids must be given.", 0,
	 h_message_create, NULL},
};
const size_t xe_misc_ncmds = sizeof xe_misc_cmds / sizeof xe_misc_cmds[0];
