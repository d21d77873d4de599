/* cmd_net: xe's networking commands — pif-scan, pif-plug, pif-unplug,
 * pif-forget, pif-reconfigure-ip, pif-reconfigure-ipv6,
 * host-management-reconfigure, pool-management-reconfigure, vlan-create,
 * pool-vlan-create, bond-create, bond-set-mode, tunnel-create and tunnel-destroy — each a
 * thin call of the PIF, VLAN, host or pool message with uuids turned into
 * refs, as xapi's xe has them. */
#include "cmd.h"
#include "session.h"
#include "../base/mem.h"

#include <stdlib.h>
#include <string.h>

/* The ref of the object of class cls whose uuid is the value of param. */
static int ref_param(struct xe_ctx *x, int cls, const char *param, char **ref, struct xerr *err)
{
	return xs_by_uuid(x->s, cls, xe_req(x, param), ref, err);
}

/* One message on a PIF named by uuid=. */
static int h_pif_op(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (ref_param(x, SC_C_PIF, "uuid", &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xe_call_wait(x, x->cmd->data, &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static int h_pif_scan(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (ref_param(x, SC_C_host, "host-uuid", &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xe_call_wait(x, "PIF.scan", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static const char *opt(struct xe_ctx *x, const char *k)
{
	const char *v = xe_param(x->params, k);
	return v ? v : "";
}

/* xe takes modes in lower case (static, dhcp, none); the API's enum is
 * capitalised. */
static const char *mode_of(const char *m)
{
	if (!strcasecmp(m, "static"))
		return "Static";
	if (!strcasecmp(m, "dhcp"))
		return "DHCP";
	if (!strcasecmp(m, "none"))
		return "None";
	if (!strcasecmp(m, "autoconf"))
		return "Autoconf";
	return m;
}

static int h_pif_reconfigure_ip(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (ref_param(x, SC_C_PIF, "uuid", &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	xv_arr_push_str(&a, mode_of(xe_req(x, "mode")));
	xv_arr_push_str(&a, opt(x, "IP"));
	xv_arr_push_str(&a, opt(x, "netmask"));
	xv_arr_push_str(&a, opt(x, "gateway"));
	xv_arr_push_str(&a, opt(x, "DNS"));
	int rc = xe_call_wait(x, "PIF.reconfigure_ip", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static int h_pif_reconfigure_ipv6(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (ref_param(x, SC_C_PIF, "uuid", &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	xv_arr_push_str(&a, mode_of(xe_req(x, "mode")));
	xv_arr_push_str(&a, opt(x, "IPv6"));
	xv_arr_push_str(&a, opt(x, "gateway"));
	xv_arr_push_str(&a, opt(x, "DNS"));
	int rc = xe_call_wait(x, "PIF.reconfigure_ipv6", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static int h_host_management_reconfigure(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (ref_param(x, SC_C_PIF, "pif-uuid", &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xe_call_wait(x, "host.management_reconfigure", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static int h_pool_management_reconfigure(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (ref_param(x, SC_C_network, "network-uuid", &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xe_call_wait(x, "pool.management_reconfigure", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static int vlan_tag(struct xe_ctx *x, int64_t *tag, struct xerr *err)
{
	const char *s = xe_req(x, "vlan");
	char *end;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end)
		return xe_fail(err, "vlan: '%s' is not a number", s);
	*tag = v;
	return 0;
}

/* vlan-create pif-uuid= vlan= network-uuid=: prints the VLAN's uuid;
 * pool-vlan-create: the same for every host, prints the new PIFs' uuids. */
static int h_vlan_create(struct xe_ctx *x, struct xerr *err)
{
	bool pool = !strcmp(x->cmd->name, "pool-vlan-create");
	char *pif = NULL, *net = NULL;
	int64_t tag = 0;
	if (vlan_tag(x, &tag, err) < 0 || ref_param(x, SC_C_PIF, "pif-uuid", &pif, err) < 0)
		return -1;
	if (ref_param(x, SC_C_network, "network-uuid", &net, err) < 0) {
		free(pif);
		return -1;
	}
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, pif);
	if (pool) {
		xv_arr_push_str(&a, net);
		xv_arr_push(&a, xv_int(tag));
	} else {
		xv_arr_push(&a, xv_int(tag));
		xv_arr_push_str(&a, net);
	}
	int rc = xe_call_wait(x, pool ? "pool.create_VLAN_from_PIF" : "VLAN.create", &a, &res, err);
	if (rc == 0 && !pool) {
		rc = xe_print_uuid_of(x, SC_C_VLAN, xv_as_str(&res), err);
	} else if (rc == 0) {
		for (size_t i = 0; rc == 0 && i < xv_len(&res); i++)
			rc = xe_print_uuid_of(x, SC_C_PIF, xv_as_str(xv_arr_get(&res, i)), err);
	}
	xv_free(&a);
	xv_free(&res);
	free(pif);
	free(net);
	return rc;
}

/* bond-create network-uuid= pif-uuids=a,b[,...] [mac=] [mode=]
 * [properties:k=v]: prints the bond's uuid. */
static int h_bond_create(struct xe_ctx *x, struct xerr *err)
{
	char *net = NULL;
	if (ref_param(x, SC_C_network, "network-uuid", &net, err) < 0)
		return -1;
	xv members = xv_arr_new(), props = xv_map_new();
	char *list = xstrdup(xe_req(x, "pif-uuids")), *save = NULL;
	int rc = 0;
	for (char *u = strtok_r(list, ",", &save); u && rc == 0; u = strtok_r(NULL, ",", &save)) {
		char *ref = NULL;
		rc = xs_by_uuid(x->s, SC_C_PIF, u, &ref, err);
		if (rc == 0)
			xv_arr_push_str(&members, ref);
		free(ref);
	}
	free(list);
	for (size_t i = 0; i < x->params->n; i++)
		if (!strncmp(x->params->items[i].k, "properties:", 11))
			xv_map_set_str(&props, x->params->items[i].k + 11, x->params->items[i].v);
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, net);
	xv_arr_push(&a, members);
	xv_arr_push_str(&a, opt(x, "mac"));
	xv_arr_push_str(&a, *opt(x, "mode") ? opt(x, "mode") : "balance-slb");
	xv_arr_push(&a, props);
	if (rc == 0)
		rc = xe_call_wait(x, "Bond.create", &a, &res, err);
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_Bond, xv_as_str(&res), err);
	xv_free(&a);
	xv_free(&res);
	free(net);
	return rc;
}

static int h_bond_set_mode(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (ref_param(x, SC_C_Bond, "uuid", &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	xv_arr_push_str(&a, xe_req(x, "mode"));
	int rc = xe_call_wait(x, "Bond.set_mode", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

static int h_tunnel_destroy(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (ref_param(x, SC_C_tunnel, "uuid", &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xe_call_wait(x, "tunnel.destroy", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

/* tunnel-create pif-uuid= network-uuid= [protocol=gre|vxlan]: prints the
 * tunnel's uuid. */
static int h_tunnel_create(struct xe_ctx *x, struct xerr *err)
{
	char *pif = NULL, *net = NULL;
	if (ref_param(x, SC_C_PIF, "pif-uuid", &pif, err) < 0)
		return -1;
	if (ref_param(x, SC_C_network, "network-uuid", &net, err) < 0) {
		free(pif);
		return -1;
	}
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, pif);
	xv_arr_push_str(&a, net);
	xv_arr_push_str(&a, *opt(x, "protocol") ? opt(x, "protocol") : "gre");
	int rc = xe_call_wait(x, "tunnel.create", &a, &res, err);
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_tunnel, xv_as_str(&res), err);
	xv_free(&a);
	xv_free(&res);
	free(pif);
	free(net);
	return rc;
}

/* vif-configure-ipv4 / -ipv6 uuid= mode= [address=] [gateway=] */
static int h_vif_configure(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (ref_param(x, SC_C_VIF, "uuid", &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	xv_arr_push_str(&a, mode_of(xe_req(x, "mode")));
	xv_arr_push_str(&a, opt(x, "address"));
	xv_arr_push_str(&a, opt(x, "gateway"));
	int rc = xe_call_wait(x, x->cmd->data, &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

/* vif-move uuid= network-uuid= */
static int h_vif_move(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL, *net = NULL;
	if (ref_param(x, SC_C_VIF, "uuid", &ref, err) < 0)
		return -1;
	if (ref_param(x, SC_C_network, "network-uuid", &net, err) < 0) {
		free(ref);
		return -1;
	}
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	xv_arr_push_str(&a, net);
	int rc = xe_call_wait(x, "VIF.move", &a, NULL, err);
	xv_free(&a);
	free(ref);
	free(net);
	return rc;
}

/* pif-introduce host-uuid= device= [mac=] [managed=]: prints the uuid */
static int h_pif_introduce(struct xe_ctx *x, struct xerr *err)
{
	char *host = NULL;
	if (ref_param(x, SC_C_host, "host-uuid", &host, err) < 0)
		return -1;
	const char *managed = opt(x, "managed");
	xv a = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&a, host);
	xv_arr_push_str(&a, opt(x, "mac"));
	xv_arr_push_str(&a, xe_req(x, "device"));
	xv_arr_push(&a, xv_bool(!*managed || !strcasecmp(managed, "true")));
	int rc = xe_call_wait(x, "PIF.introduce", &a, &res, err);
	if (rc == 0)
		rc = xe_print_uuid_of(x, SC_C_PIF, xv_as_str(&res), err);
	xv_free(&a);
	xv_free(&res);
	free(host);
	return rc;
}

/* host-forget uuid=: host.destroy of a host that is gone */
static int h_host_forget(struct xe_ctx *x, struct xerr *err)
{
	char *ref = NULL;
	if (ref_param(x, SC_C_host, "uuid", &ref, err) < 0)
		return -1;
	xv a = xv_arr_new();
	xv_arr_push_str(&a, ref);
	int rc = xe_call_wait(x, "host.destroy", &a, NULL, err);
	xv_free(&a);
	free(ref);
	return rc;
}

/* pool-secret-rotate: pool.rotate_secret */
static int h_pool_secret_rotate(struct xe_ctx *x, struct xerr *err)
{
	xv a = xv_arr_new();
	int rc = xe_call_wait(x, "pool.rotate_secret", &a, NULL, err);
	xv_free(&a);
	return rc;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

const struct xe_cmd xe_net_cmds[] = {
	{"pif-scan", L("host-uuid"), NULL, "Make a PIF for each NIC of the host that has none.", 0, h_pif_scan,
	 NULL},
	{"pif-plug", L("uuid"), NULL, "Bring a PIF up: its NIC joins its network's bridge.", 0, h_pif_op,
	 "PIF.plug"},
	{"pif-unplug", L("uuid"), NULL, "Take a PIF down.", 0, h_pif_op, "PIF.unplug"},
	{"pif-forget", L("uuid"), NULL, "Forget a PIF (and its network when nothing else uses it).", 0,
	 h_pif_op, "PIF.forget"},
	{"pif-reconfigure-ip", L("uuid", "mode"), L("IP", "netmask", "gateway", "DNS"),
	 "Set a PIF's IPv4 configuration: mode=none|dhcp|static (static: IP= netmask= [gateway=] [DNS=]).", 0,
	 h_pif_reconfigure_ip, NULL},
	{"pif-reconfigure-ipv6", L("uuid", "mode"), L("IPv6", "gateway", "DNS"),
	 "Set a PIF's IPv6 configuration: mode=none|dhcp|autoconf|static (static: IPv6=<addr>/<prefix>).", 0,
	 h_pif_reconfigure_ipv6, NULL},
	{"host-management-reconfigure", L("pif-uuid"), NULL,
	 "Make the PIF the host's management interface (plugging it first).", 0, h_host_management_reconfigure,
	 NULL},
	{"pool-management-reconfigure", L("network-uuid"), NULL,
	 "Make every host's PIF on the network its management interface.", 0, h_pool_management_reconfigure,
	 NULL},
	{"vlan-create", L("pif-uuid", "vlan", "network-uuid"), NULL,
	 "Create a VLAN on a PIF's NIC, carrying the network; prints the VLAN's uuid.", 0, h_vlan_create, NULL},
	{"bond-create", L("network-uuid", "pif-uuids"), L("mac", "mode", "properties:"),
	 "Bond PIFs of one host (mode balance-slb, active-backup or lacp); prints the bond's uuid.", 0,
	 h_bond_create, NULL},
	{"bond-set-mode", L("uuid", "mode"), NULL, "Change a bond's mode.", 0, h_bond_set_mode, NULL},
	{"tunnel-create", L("pif-uuid", "network-uuid"), L("protocol"),
	 "Give a network a tunnel (gre or vxlan) over the PIF; prints the tunnel's uuid.", 0, h_tunnel_create,
	 NULL},
	{"tunnel-destroy", L("uuid"), NULL, "Destroy a tunnel.", 0, h_tunnel_destroy, NULL},
	{"vif-configure-ipv4", L("uuid", "mode"), L("address", "gateway"),
	 "Set the IPv4 address the VIF's guest is to take: mode=none|static (static: address=<ip>/<prefix>).", 0,
	 h_vif_configure, "VIF.configure_ipv4"},
	{"vif-configure-ipv6", L("uuid", "mode"), L("address", "gateway"),
	 "Set the IPv6 address the VIF's guest is to take: mode=none|static (static: address=<ip>/<prefix>).", 0,
	 h_vif_configure, "VIF.configure_ipv6"},
	{"vif-move", L("uuid", "network-uuid"), NULL, "Move the VIF to another network (live on a running VM).", 0,
	 h_vif_move, NULL},
	{"pif-introduce", L("host-uuid", "device"), L("mac", "managed"),
	 "Make a PIF for the host's NIC of that name; prints the PIF's uuid.", 0, h_pif_introduce, NULL},
	{"pif-db-forget", L("uuid"), NULL, "Drop a PIF's record only (nothing is done on the host).", 0, h_pif_op,
	 "PIF.db_forget"},
	{"pool-secret-rotate", NULL, NULL, "Give the pool a new secret on every host.", 0, h_pool_secret_rotate,
	 NULL},
	{"host-forget", L("uuid"), NULL,
	 "Forget a host that is gone, without contacting it (pool-eject for a live one).", 0, h_host_forget,
	 NULL},
	{"pool-vlan-create", L("pif-uuid", "vlan", "network-uuid"), NULL,
	 "Create the VLAN on every host's PIF of the same network; prints the new PIFs' uuids.", 0,
	 h_vlan_create, NULL},
};
const size_t xe_net_ncmds = sizeof xe_net_cmds / sizeof xe_net_cmds[0];
