/* cmd_migrate: xe vm-migrate and vdi-pool-migrate, host-evacuate, and a
 * host's power-on mode (host-set-power-on-mode, host-power-on).
 *
 * vm-migrate with remote-master moves the VM to another pool (or a
 * standalone host) with its disks, as xapi's CLI does it: xe logs in to
 * the remote master, asks its host.migrate_receive for the dest map, maps
 * the VDIs (vdi:<vdi-uuid>=<sr-uuid>, or destination-sr-uuid= for all)
 * and VIFs (vif:<vif-uuid>=<network-uuid>, else the remote network the
 * migration uses) onto the remote's objects and calls VM.migrate_send here.
 * Without it, VM.pool_migrate to host= within the pool. */
#include "cmd.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* Every param written prefix:key=value, as a map. */
static xv prefixed(struct xe_ctx *x, const char *prefix)
{
	xv m = xv_map_new();
	size_t n = strlen(prefix);
	for (size_t i = 0; i < x->params->n; i++)
		if (strncmp(x->params->items[i].k, prefix, n) == 0)
			xv_map_set_str(&m, x->params->items[i].k + n, x->params->items[i].v);
	return m;
}

/* "<class>.get_by_uuid" on a client. */
static int remote_by_uuid(struct xc *c, const char *cls, const char *uuid, char **ref, struct xerr *err)
{
	char m[64];
	snprintf(m, sizeof m, "%s.get_by_uuid", cls);
	xv r = XV_NIL_INIT;
	if (xc_call_strs(c, m, &r, err, uuid, NULL) < 0)
		return -1;
	*ref = xstrdup(xv_as_str(&r) ? xv_as_str(&r) : "");
	xv_free(&r);
	return 0;
}

/* An SR by uuid: on the remote pool's client, or on this pool's when
 * remote is NULL. */
static int sr_by_uuid(struct xe_ctx *x, struct xc *remote, const char *uuid, char **ref, struct xerr *err)
{
	return remote ? remote_by_uuid(remote, "SR", uuid, ref, err) : xs_by_uuid(x->s, SC_C_SR, uuid, ref, err);
}

/* The VDI map into vdis: each vdi:<vdi-uuid>=<sr-uuid>, then every other
 * disk of the VM (not a CD) to destination-sr-uuid= if given. */
static int vdi_map(struct xe_ctx *x, struct xc *remote, const char *vm_ref, xv *vdis, struct xerr *err)
{
	int rc = 0;
	xv given = prefixed(x, "vdi:");
	for (size_t i = 0; rc == 0 && i < xv_len(&given); i++) {
		char *vdi = NULL, *sr = NULL;
		rc = xs_by_uuid(x->s, SC_C_VDI, given.u.m->keys[i], &vdi, err);
		if (rc == 0)
			rc = sr_by_uuid(x, remote, xv_as_str(&given.u.m->vals[i]), &sr, err);
		if (rc == 0)
			xv_map_set_str(vdis, vdi, sr);
		free(vdi);
		free(sr);
	}
	xv_free(&given);
	const char *all_sr = xe_param(x->params, "destination-sr-uuid");
	if (rc < 0 || !all_sr)
		return rc;
	char *sr = NULL;
	xv vbds = XV_NIL_INIT;
	rc = sr_by_uuid(x, remote, all_sr, &sr, err);
	if (rc == 0)
		rc = xs_call(x->s, "VM.get_VBDs", &vbds, err, vm_ref, NULL);
	for (size_t i = 0; rc == 0 && i < xv_len(&vbds); i++) {
		xv vdi = XV_NIL_INIT, type = XV_NIL_INIT;
		const char *vbd = xv_as_str(xv_arr_get(&vbds, i));
		if (xs_call(x->s, "VBD.get_VDI", &vdi, err, vbd, NULL) < 0 ||
		    xs_call(x->s, "VBD.get_type", &type, err, vbd, NULL) < 0) {
			rc = -1;
		} else {
			const char *v = xv_as_str(&vdi), *t = xv_as_str(&type);
			if (v && strcmp(v, "OpaqueRef:NULL") != 0 && t && strcmp(t, "CD") != 0 && !xv_map_get(vdis, v))
				xv_map_set_str(vdis, v, sr);
		}
		xv_free(&vdi);
		xv_free(&type);
	}
	xv_free(&vbds);
	free(sr);
	return rc;
}

/* The remote host named by host= / host-uuid= (uuid or name), or the
 * remote's only host. */
static int remote_host(struct xe_ctx *x, struct xc *c, char **ref, struct xerr *err)
{
	const char *want = xe_param(x->params, "host-uuid");
	if (!want)
		want = xe_param(x->params, "host");
	xv all = XV_NIL_INIT;
	if (xc_call_strs(c, "host.get_all_records", &all, err, NULL) < 0)
		return -1;
	int found = 0;
	for (size_t i = 0; i < xv_len(&all); i++) {
		const xv *rec = &all.u.m->vals[i];
		const char *uuid = xv_map_get_str(rec, "uuid"), *name = xv_map_get_str(rec, "name_label");
		if (!want || (uuid && !strcmp(uuid, want)) || (name && !strcmp(name, want))) {
			if (!found++)
				*ref = xstrdup(all.u.m->keys[i]);
		}
	}
	xv_free(&all);
	if (found == 1)
		return 0;
	if (found > 1) {
		free(*ref);
		*ref = NULL;
	}
	return xe_fail(err, found ? "The remote has several hosts: name one with host=" : "No such remote host: %s",
		       want ? want : "");
}

/* The network of the remote host's management PIF. */
static int remote_mgmt_network(struct xc *c, const char *host, char **ref, struct xerr *err)
{
	xv all = XV_NIL_INIT;
	if (xc_call_strs(c, "PIF.get_all_records", &all, err, NULL) < 0)
		return -1;
	*ref = NULL;
	for (size_t i = 0; i < xv_len(&all) && !*ref; i++) {
		const xv *rec = &all.u.m->vals[i];
		const xv *mg = xv_map_get(rec, "management");
		const char *h = xv_map_get_str(rec, "host");
		bool is_mgmt = mg && ((mg->kind == XV_BOOL && mg->u.b) || (xv_as_str(mg) && !strcmp(xv_as_str(mg), "true")));
		if (is_mgmt && h && !strcmp(h, host))
			*ref = xstrdup(xv_map_get_str(rec, "network") ? xv_map_get_str(rec, "network") : "");
	}
	xv_free(&all);
	return *ref ? 0 : xe_fail(err, "The remote host has no management interface");
}

static char *master_url(const char *m)
{
	if (!strncmp(m, "http://", 7) || !strncmp(m, "https://", 8))
		return xstrdup(m);
	return strchr(m, ':') ? xasprintf("http://%s", m) : xasprintf("https://%s", m);
}

static int cross_pool(struct xe_ctx *x, const char *vm_ref, struct xerr *err)
{
	const char *user = xe_param(x->params, "remote-username"), *pw = xe_param(x->params, "remote-password");
	if (!user || !pw)
		return xe_fail(err, "remote-master needs remote-username and remote-password");
	char *url = master_url(xe_param(x->params, "remote-master"));
	struct xc_opts opts = {0};
	struct xc *c = xc_new(url, &opts);
	free(url);
	char *host = NULL, *net = NULL;
	xv dest = XV_NIL_INIT, vdis = XV_NIL_INIT, vifs = XV_NIL_INIT, res = XV_NIL_INIT;
	int rc = xc_login(c, user, pw, err);
	if (rc == 0)
		rc = remote_host(x, c, &host, err);
	const char *netu = xe_param(x->params, "remote-network");
	if (rc == 0)
		rc = netu ? remote_by_uuid(c, "network", netu, &net, err) : remote_mgmt_network(c, host, &net, err);
	if (rc == 0) {
		xv a = xv_arr_new();
		xv_arr_push_str(&a, host);
		xv_arr_push_str(&a, net);
		xv_arr_push(&a, xv_map_new());
		rc = xc_call(c, "host.migrate_receive", &a, &dest, err);
		xv_free(&a);
	}
	/* the maps: local VDI/VIF refs to the remote's SR/network refs */
	vdis = xv_map_new();
	vifs = xv_map_new();
	if (rc == 0)
		rc = vdi_map(x, c, vm_ref, &vdis, err);
	xv given = prefixed(x, "vif:");
	for (size_t i = 0; rc == 0 && i < xv_len(&given); i++) {
		char *vif = NULL, *n = NULL;
		rc = xs_by_uuid(x->s, SC_C_VIF, given.u.m->keys[i], &vif, err);
		if (rc == 0)
			rc = remote_by_uuid(c, "network", xv_as_str(&given.u.m->vals[i]), &n, err);
		if (rc == 0)
			xv_map_set_str(&vifs, vif, n);
		free(vif);
		free(n);
	}
	xv_free(&given);
	if (rc == 0) {
		/* VIFs not named go to the network the migration uses */
		xv vl = XV_NIL_INIT;
		rc = xs_call(x->s, "VM.get_VIFs", &vl, err, vm_ref, NULL);
		for (size_t i = 0; rc == 0 && i < xv_len(&vl); i++)
			if (!xv_map_get(&vifs, xv_as_str(xv_arr_get(&vl, i))))
				xv_map_set_str(&vifs, xv_as_str(xv_arr_get(&vl, i)), net);
		xv_free(&vl);
	}
	bool live = true;
	if (rc == 0)
		rc = xe_param_bool(x->params, "live", true, &live, err);
	if (rc == 0) {
		xv opts_m = xv_map_new();
		const char *force = xe_param(x->params, "force");
		if (force)
			xv_map_set_str(&opts_m, "force", force);
		xv a = xv_arr_new();
		xv_arr_push_str(&a, vm_ref);
		xv_arr_push(&a, xv_copy(&dest));
		xv_arr_push(&a, xv_bool(live));
		xv_arr_push(&a, xv_copy(&vdis));
		xv_arr_push(&a, xv_copy(&vifs));
		xv_arr_push(&a, opts_m);
		rc = xe_call_wait(x, "VM.migrate_send", &a, &res, err);
		xv_free(&a);
	}
	struct xerr e = XERR_INIT;
	xc_logout(c, &e);
	xerr_clear(&e);
	xc_free(c);
	free(host);
	free(net);
	xv_free(&dest);
	xv_free(&vdis);
	xv_free(&vifs);
	xv_free(&res);
	return rc;
}

/* vm-migrate host= with vdi:<vdi-uuid>=<sr-uuid> or destination-sr-uuid=:
 * storage motion within the pool, as xe does it: the host's dest map
 * (host.migrate_receive on network-uuid=, else its management network),
 * then VM.migrate_send with the VDI map and no VIF map. */
static int in_pool_sxm(struct xe_ctx *x, const char *vm_ref, const char *href, struct xerr *err)
{
	char *net = NULL;
	const char *netu = xe_param(x->params, "network-uuid");
	int rc = netu ? xs_by_uuid(x->s, SC_C_network, netu, &net, err) : 0;
	if (rc == 0 && !net) {
		xv pifs = XV_NIL_INIT;
		rc = xs_get_all(x->s, SC_C_PIF, &pifs, err);
		for (size_t i = 0; rc == 0 && i < xv_len(&pifs) && !net; i++) {
			const xv *rec = &pifs.u.m->vals[i];
			const xv *mg = xv_map_get(rec, "management");
			const char *h = xv_map_get_str(rec, "host"), *n = xv_map_get_str(rec, "network");
			if (mg && mg->kind == XV_BOOL && mg->u.b && h && !strcmp(h, href) && n)
				net = xstrdup(n);
		}
		xv_free(&pifs);
		if (rc == 0 && !net)
			rc = xe_fail(err, "The host has no management interface");
	}
	xv dest = XV_NIL_INIT, vdis = xv_map_new(), res = XV_NIL_INIT;
	if (rc == 0) {
		xv a = xv_arr_new();
		xv_arr_push_str(&a, href);
		xv_arr_push_str(&a, net);
		xv_arr_push(&a, xv_map_new());
		rc = xc_call(x->c, "host.migrate_receive", &a, &dest, err);
		xv_free(&a);
	}
	if (rc == 0)
		rc = vdi_map(x, NULL, vm_ref, &vdis, err);
	bool live = true;
	if (rc == 0)
		rc = xe_param_bool(x->params, "live", true, &live, err);
	if (rc == 0) {
		xv opts_m = xv_map_new();
		const char *force = xe_param(x->params, "force");
		if (force)
			xv_map_set_str(&opts_m, "force", force);
		xv a = xv_arr_new();
		xv_arr_push_str(&a, vm_ref);
		xv_arr_push(&a, xv_copy(&dest));
		xv_arr_push(&a, xv_bool(live));
		xv_arr_push(&a, xv_copy(&vdis));
		xv_arr_push(&a, xv_map_new());
		xv_arr_push(&a, opts_m);
		rc = xe_call_wait(x, "VM.migrate_send", &a, &res, err);
		xv_free(&a);
	}
	free(net);
	xv_free(&dest);
	xv_free(&vdis);
	xv_free(&res);
	return rc;
}

static int op_migrate(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	(void)ud;
	if (xe_param(x->params, "remote-master"))
		return cross_pool(x, o->ref, err);
	const char *h = xe_param(x->params, "host-uuid");
	if (!h)
		h = xe_param(x->params, "host");
	if (!h)
		return xe_fail(err, "vm-migrate needs host= (or remote-master= for another pool)");
	xv hosts = XV_NIL_INIT;
	if (xs_get_all(x->s, SC_C_host, &hosts, err) < 0)
		return -1;
	const char *href = NULL;
	for (size_t i = 0; i < xv_len(&hosts) && !href; i++) {
		const xv *rec = &hosts.u.m->vals[i];
		const char *uuid = xv_map_get_str(rec, "uuid"), *name = xv_map_get_str(rec, "name_label");
		if ((uuid && !strcmp(uuid, h)) || (name && !strcmp(name, h)))
			href = hosts.u.m->keys[i];
	}
	int rc = -1;
	xv vdi_args = prefixed(x, "vdi:");
	bool sxm = xv_len(&vdi_args) || xe_param(x->params, "destination-sr-uuid");
	xv_free(&vdi_args);
	if (!href) {
		rc = xe_fail(err, "No such host: %s", h);
	} else if (sxm) {
		rc = in_pool_sxm(x, o->ref, href, err);
	} else {
		xv opts_m = xv_map_new();
		static const char *const keys[] = {"live", "force", "compress", NULL};
		for (const char *const *k = keys; *k; k++)
			if (xe_param(x->params, *k))
				xv_map_set_str(&opts_m, *k, xe_param(x->params, *k));
		const char *netu = xe_param(x->params, "network-uuid");
		char *net = NULL;
		rc = netu ? xs_by_uuid(x->s, SC_C_network, netu, &net, err) : 0;
		if (net)
			xv_map_set_str(&opts_m, "network", net);
		free(net);
		xv a = xv_arr_new(), res = XV_NIL_INIT;
		xv_arr_push_str(&a, o->ref);
		xv_arr_push_str(&a, href);
		xv_arr_push(&a, opts_m);
		if (rc == 0)
			rc = xe_call_wait(x, "VM.pool_migrate", &a, &res, err);
		xv_free(&a);
		xv_free(&res);
	}
	xv_free(&hosts);
	return rc;
}

static int h_vm_migrate(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "vm", false, false, true, op_migrate, NULL, err);
}

static int h_vdi_pool_migrate(struct xe_ctx *x, struct xerr *err)
{
	char *vdi = NULL, *sr = NULL;
	int rc = xs_by_uuid(x->s, SC_C_VDI, xe_req(x, "uuid"), &vdi, err);
	if (rc == 0)
		rc = xs_by_uuid(x->s, SC_C_SR, xe_req(x, "sr-uuid"), &sr, err);
	xv res = XV_NIL_INIT;
	if (rc == 0) {
		xv a = xv_arr_new();
		xv_arr_push_str(&a, vdi);
		xv_arr_push_str(&a, sr);
		xv_arr_push(&a, xv_map_new());
		rc = xe_call_wait(x, "VDI.pool_migrate", &a, &res, err);
		xv_free(&a);
	}
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_VDI, xv_as_str(&res), err);
	xv_free(&res);
	free(vdi);
	free(sr);
	return rc;
}

static int op_evacuate(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	(void)ud;
	const char *netu = xe_param(x->params, "network-uuid"), *bs = xe_param(x->params, "batch-size");
	char *net = NULL, *end = NULL;
	long long batch = bs ? strtoll(bs, &end, 10) : 0;
	if (bs && (!*bs || *end || batch < 0))
		return xerr_set(err, ERR_INVALID_VALUE, "batch-size", bs, NULL);
	int rc = netu ? xs_by_uuid(x->s, SC_C_network, netu, &net, err) : 0;
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, o->ref);
	xv_arr_push_str(&a, net ? net : "OpaqueRef:NULL");
	xv_arr_push(&a, xv_int(batch));
	if (rc == 0)
		rc = xe_call_wait(x, "host.evacuate", &a, &res, err);
	free(net);
	xv_free(&a);
	xv_free(&res);
	return rc;
}

static int h_host_evacuate(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "host", false, false, false, op_evacuate, NULL, err);
}

/* host-set-power-on-mode power-on-mode= [power-on-config:<k>=<v>…] */
static int op_power_on_mode(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	(void)ud;
	xv a = xv_arr_new(), conf = xv_map_new();
	for (size_t i = 0; i < x->params->n; i++)
		if (!strncmp(x->params->items[i].k, "power-on-config:", 16))
			xv_map_set_str(&conf, x->params->items[i].k + 16, x->params->items[i].v);
	xv_arr_push_str(&a, o->ref);
	xv_arr_push_str(&a, xe_req(x, "power-on-mode"));
	xv_arr_push(&a, conf);
	int rc = xc_call(x->c, "host.set_power_on_mode", &a, NULL, err);
	xv_free(&a);
	return rc;
}

static int h_host_set_power_on_mode(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "host", false, false, true, op_power_on_mode, NULL, err);
}

static int op_power_on(struct xe_ctx *x, const struct xe_obj *o, void *ud, struct xerr *err)
{
	(void)ud;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, o->ref);
	int rc = xe_call_wait(x, "host.power_on", &a, NULL, err);
	xv_free(&a);
	return rc;
}

static int h_host_power_on(struct xe_ctx *x, struct xerr *err)
{
	return xe_do_selected(x, "host", false, false, true, op_power_on, NULL, err);
}

const struct xe_cmd xe_migrate_cmds[] = {
	{"host-set-power-on-mode", L("power-on-mode"), L("power-on-config:"),
	 "Set how the selected host is powered on (\"\" for none, wake-on-lan, iLO, DRAC, IPMI or a plugin's "
	 "own), with power-on-config:<key>=<value>.",
	 XE_CMD_HOST_SEL, h_host_set_power_on_mode, NULL},
	{"host-power-on", NULL, NULL, "Power on the selected host (one that is off) by its power-on mode.",
	 XE_CMD_HOST_SEL, h_host_power_on, NULL},
	{"host-evacuate", NULL, L("network-uuid", "batch-size"),
	 "Live-migrate every VM running on the selected host to other hosts of the pool, batch-size= at once "
	 "(10 by default), over network-uuid= if given.",
	 XE_CMD_STANDARD | XE_CMD_HOST_SEL, h_host_evacuate, NULL},
	{"vm-migrate", NULL,
	 L("host", "host-uuid", "live", "force", "compress", "network-uuid", "remote-master", "remote-username",
	   "remote-password", "remote-network", "destination-sr-uuid", "vdi:", "vif:"),
	 "Migrate the selected VM(s): to host= of this pool (with its disks to that host's SRs given "
	 "vdi:<vdi-uuid>=<sr-uuid> or destination-sr-uuid=), or with remote-master= (and its credentials) "
	 "to another pool or host with its disks (vdi:<vdi-uuid>=<sr-uuid>, destination-sr-uuid=).",
	 XE_CMD_STANDARD | XE_CMD_VM_SEL, h_vm_migrate, NULL},
	{"vdi-pool-migrate", L("uuid", "sr-uuid"), NULL,
	 "Move a VDI of a running VM to another SR of its host; prints the new VDI's uuid.", 0,
	 h_vdi_pool_migrate, NULL},
};
const size_t xe_migrate_ncmds = sizeof xe_migrate_cmds / sizeof xe_migrate_cmds[0];
