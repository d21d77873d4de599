/* cmd_pool_master: moving a pool's master — pool-designate-new-master,
 * pool-sync-database, high availability (pool-ha-enable, pool-ha-disable,
 * pool-ha-compute-max-host-failures-to-tolerate), and the emergency pair for a pool whose master is
 * gone (pool-emergency-transition-to-master on a slave, then
 * pool-recover-slaves on it), host-declare-dead, and the database's redo
 * log (pool-enable-redo-log, pool-disable-redo-log). */
#include "cmd.h"
#include "base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int h_designate(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (xs_by_uuid(x->s, SC_C_host, xe_req(x, "host-uuid"), &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xc_call(x->c, "pool.designate_new_master", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static int h_call0(struct xe_ctx *x, struct xerr *err)
{
	xv a = xv_arr_new();
	int rc = xc_call(x->c, (const char *)x->cmd->data, &a, NULL, err);
	xv_free(&a);
	return rc;
}

static int h_reset(struct xe_ctx *x, struct xerr *err)
{
	xv a = xv_arr_new();
	xv_arr_push_str(&a, xe_req(x, "master-address"));
	int rc = xc_call(x->c, "pool.emergency_reset_master", &a, NULL, err);
	xv_free(&a);
	return rc;
}

static int h_recover(struct xe_ctx *x, struct xerr *err)
{
	xv a = xv_arr_new(), hosts = XV_NIL_INIT;
	int rc = xc_call(x->c, "pool.recover_slaves", &a, &hosts, err);
	xv_free(&a);
	size_t n = rc == 0 ? xv_len(&hosts) : 0;
	xv uuids = xv_arr_new();
	for (size_t i = 0; rc == 0 && i < n; i++) {
		xv uuid = XV_NIL_INIT;
		rc = xs_call(x->s, "host.get_uuid", &uuid, err, xv_as_str(xv_arr_get(&hosts, i)), NULL);
		xv_arr_push_str(&uuids, xv_as_str(&uuid) ? xv_as_str(&uuid) : "");
		xv_free(&uuid);
	}
	if (rc == 0) {
		const char **items = xcalloc(n + 1, sizeof *items);
		for (size_t i = 0; i < n; i++)
			items[i] = xv_as_str(xv_arr_get(&uuids, i));
		xe_print_list(x->out, items, n);
		free(items);
	}
	xv_free(&uuids);
	xv_free(&hosts);
	return rc;
}

/* pool-ha-enable [heartbeat-sr-uuids=<uuid>,…] [ha-config:timeout=<s>] */
static int h_ha_enable(struct xe_ctx *x, struct xerr *err)
{
	xv srs = xv_arr_new(), conf = xv_map_new();
	int rc = 0;
	for (size_t i = 0; i < x->params->n && rc == 0; i++) {
		const char *k = x->params->items[i].k, *v = x->params->items[i].v;
		if (!strncmp(k, "ha-config:", 10)) {
			xv_map_set_str(&conf, k + 10, v);
			continue;
		}
		if (strcmp(k, "heartbeat-sr-uuids") != 0)
			continue;
		char *list = xstrdup(v), *save = NULL;
		for (char *u = strtok_r(list, ",", &save); u && rc == 0; u = strtok_r(NULL, ",", &save)) {
			char *ref = NULL;
			rc = xs_by_uuid(x->s, SC_C_SR, u, &ref, err);
			if (rc == 0)
				xv_arr_push_str(&srs, ref);
			free(ref);
		}
		free(list);
	}
	xv a = xv_arr_new();
	xv_arr_push(&a, srs);
	xv_arr_push(&a, conf);
	if (rc == 0)
		rc = xc_call(x->c, "pool.enable_ha", &a, NULL, err);
	xv_free(&a);
	return rc;
}

static int h_ha_compute_max(struct xe_ctx *x, struct xerr *err)
{
	xv a = xv_arr_new(), n = XV_NIL_INIT;
	int rc = xc_call(x->c, "pool.ha_compute_max_host_failures_to_tolerate", &a, &n, err);
	if (rc == 0) {
		char buf[32];
		snprintf(buf, sizeof buf, "%lld", (long long)(n.kind == XV_INT ? n.u.i : 0));
		xe_print_line(x->out, buf);
	}
	xv_free(&a);
	xv_free(&n);
	return rc;
}

/* host-declare-dead uuid= [force=true]: after xapi's warnings, the user's
 * yes (or force) */
static int h_declare_dead(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (xs_by_uuid(x->s, SC_C_host, xe_req(x, "uuid"), &ref, err) < 0)
		return -1;
	bool force = false, yes = false;
	int rc = xe_param_bool(x->params, "force", false, &force, err);
	if (rc == 0 && !force) {
		xe_print_line(x->out, "WARNING: A host should only be declared dead if it is verified offline.");
		xe_print_line(x->out, "WARNING: Performing this operation if the host is still online and has any");
		xe_print_line(x->out, "WARNING: running VMs may lead to possible data loss and/or corruption.");
	}
	if (rc == 0)
		rc = xe_confirm(x, &yes, err);
	if (rc == 0 && yes) {
		xv a = xv_arr_new();
		xv_arr_push_str(&a, ref);
		rc = xe_call_wait(x, "host.declare_dead", &a, NULL, err);
		xv_free(&a);
	}
	free(ref);
	return rc;
}

/* pool-enable-redo-log sr-uuid= */
static int h_enable_redo_log(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (xs_by_uuid(x->s, SC_C_SR, xe_req(x, "sr-uuid"), &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xe_call_wait(x, "pool.enable_redo_log", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

const struct xe_cmd xe_pool_master_cmds[] = {
	{"pool-designate-new-master", L("host-uuid"), NULL,
	 "Make the given host the pool's master (the leadership moves to it once it holds the whole "
	 "database).",
	 0, h_designate, NULL},
	{"pool-emergency-transition-to-master", NULL, NULL,
	 "On a slave whose master is gone: make this host the master, alone (the others are added "
	 "back by pool-recover-slaves).",
	 XE_CMD_LOCAL, h_call0, "pool.emergency_transition_to_master"},
	{"pool-emergency-reset-master", L("master-address"), NULL,
	 "On a host that was master: follow the master at master-address (this host's log is "
	 "dropped; the master's pool-recover-slaves adds it back).",
	 XE_CMD_LOCAL, h_reset, NULL},
	{"pool-recover-slaves", NULL, NULL,
	 "On a master after an emergency transition: add the hosts left out back to the pool; prints "
	 "their uuids.",
	 0, h_recover, NULL},
	{"pool-ha-enable", NULL, L("heartbeat-sr-uuids", "ha-config:"),
	 "Enable high availability: the statefile on the first of the shared SRs given (or one every "
	 "host reaches); ha-config:timeout=<seconds> sets the HA timeout (default 60).",
	 0, h_ha_enable, NULL},
	{"pool-ha-disable", NULL, NULL, "Disable high availability.", 0, h_call0, "pool.disable_ha"},
	{"host-declare-dead", L("uuid"), L("force"),
	 "Declare a host that is off to be dead without contacting it: its VMs are recorded halted (the "
	 "protected ones restarted elsewhere while HA is on) and it is disabled. Asks first, unless force=true.",
	 0, h_declare_dead, NULL},
	{"pool-enable-redo-log", L("sr-uuid"), NULL,
	 "Keep a copy of the pool's database, rewritten after changes, in a redo-log VDI on the SR.", 0,
	 h_enable_redo_log, NULL},
	{"pool-disable-redo-log", NULL, NULL, "Stop writing the pool's database into its redo-log VDI.", 0,
	 h_call0, "pool.disable_redo_log"},
	{"pool-ha-compute-max-host-failures-to-tolerate", NULL, NULL,
	 "The most host failures the pool's protected VMs survive (a restart plan exists).", 0,
	 h_ha_compute_max, NULL},
	{"pool-sync-database", NULL, NULL,
	 "Wait until every host of the pool holds the database up to its last change.", 0, h_call0,
	 "pool.sync_database"},
};
const size_t xe_pool_master_ncmds = sizeof xe_pool_master_cmds / sizeof xe_pool_master_cmds[0];
