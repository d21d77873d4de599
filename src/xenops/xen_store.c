/* xen_store: what a Xen guest's tools report through xenstore, in the
 * places xapi's hosts read them (data/os_..., attr/PVAddons/..., attr/vif/...,
 * control/feature-*), answered in the shape of the guest agent's replies so
 * the VM logic fills VM_guest_metrics the same way for every backend. */
#include "xen_int.h"
#include "../base/errors_gen.h"
#include "../base/mem.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

/* /local/domain/<domid>/<rel>, owned; NULL when absent. */
static char *rd(struct xs_handle *xs, uint32_t domid, const char *rel)
{
	char path[256];
	snprintf(path, sizeof path, "/local/domain/%u/%s", domid, rel);
	unsigned len = 0;
	char *v = xs_read(xs, XBT_NULL, path, &len);
	return v;
}

static char **ls(struct xs_handle *xs, uint32_t domid, const char *rel, unsigned *n)
{
	char path[256];
	snprintf(path, sizeof path, "/local/domain/%u/%s", domid, rel);
	*n = 0;
	return xs_directory(xs, XBT_NULL, path, n);
}

static void put(xv *m, const char *key, char *owned)
{
	if (owned)
		xv_map_set(m, key, xv_str_own(owned));
}

static bool is_one(char *owned)
{
	bool r = owned && !strcmp(owned, "1");
	free(owned);
	return r;
}

static void guest_info(struct xs_handle *xs, uint32_t domid, xv *out)
{
	char *v[4];
	static const char *const k[] = {"MajorVersion", "MinorVersion", "MicroVersion", "BuildVersion"};
	for (int i = 0; i < 4; i++) {
		char rel[64];
		snprintf(rel, sizeof rel, "attr/PVAddons/%s", k[i]);
		v[i] = rd(xs, domid, rel);
	}
	char *ver = xasprintf("%s.%s.%s.%s", v[0] ? v[0] : "0", v[1] ? v[1] : "0", v[2] ? v[2] : "0",
			      v[3] ? v[3] : "0");
	for (int i = 0; i < 4; i++)
		free(v[i]);
	*out = xv_map_new();
	xv_map_set(out, "version", xv_str_own(ver));
	xv cmds = xv_arr_new();
	/* the PV control path: the guest's kernel says what it handles */
	bool off = is_one(rd(xs, domid, "control/feature-poweroff"));
	bool reboot = is_one(rd(xs, domid, "control/feature-reboot"));
	if (off && reboot) {
		xv c = xv_map_new();
		xv_map_set_str(&c, "name", "guest-shutdown");
		xv_map_set(&c, "enabled", xv_bool(true));
		xv_arr_push(&cmds, c);
	}
	xv_map_set(out, "supported_commands", cmds);
}

static void os_info(struct xs_handle *xs, uint32_t domid, xv *out)
{
	*out = xv_map_new();
	put(out, "pretty-name", rd(xs, domid, "data/os_name"));
	put(out, "id", rd(xs, domid, "data/os_distro"));
	put(out, "kernel-release", rd(xs, domid, "data/os_uname"));
	char *maj = rd(xs, domid, "data/os_majorver"), *min = rd(xs, domid, "data/os_minorver");
	if (maj)
		xv_map_set(out, "version-id", xv_str_own(xasprintf("%s.%s", maj, min ? min : "0")));
	free(maj);
	free(min);
}

/* attr/vif/<device>/ipv4/<n> and ipv6/<n>, as eth<device> */
static void net_info(struct xs_handle *xs, uint32_t domid, xv *out)
{
	*out = xv_arr_new();
	unsigned nd = 0;
	char **devs = ls(xs, domid, "attr/vif", &nd);
	for (unsigned i = 0; i < nd; i++) {
		xv ifc = xv_map_new(), addrs = xv_arr_new();
		xv_map_set(&ifc, "name", xv_str_own(xasprintf("eth%s", devs[i])));
		static const char *const fam[] = {"ipv4", "ipv6"};
		for (int f = 0; f < 2; f++) {
			char rel[128];
			snprintf(rel, sizeof rel, "attr/vif/%s/%s", devs[i], fam[f]);
			unsigned na = 0;
			char **idx = ls(xs, domid, rel, &na);
			for (unsigned j = 0; j < na; j++) {
				char rel2[192];
				snprintf(rel2, sizeof rel2, "%s/%s", rel, idx[j]);
				char *ip = rd(xs, domid, rel2);
				if (!ip)
					continue;
				xv a = xv_map_new();
				xv_map_set_str(&a, "ip-address-type", fam[f]);
				xv_map_set(&a, "ip-address", xv_str_own(ip));
				xv_arr_push(&addrs, a);
			}
			free(idx);
		}
		xv_map_set(&ifc, "ip-addresses", addrs);
		xv_arr_push(out, ifc);
	}
	free(devs);
}

int xen_guest_query(struct xs_handle *xs, uint32_t domid, const char *json_cmd, xv *result, struct xerr *err)
{
	json_error_t je;
	json_t *cmd = json_loads(json_cmd, 0, &je);
	const char *what = cmd ? json_string_value(json_object_get(cmd, "execute")) : NULL;
	char *name = xstrdup(what ? what : "");
	json_decref(cmd);
	int r = 0;
	/* a guest whose tools never wrote anything has no agent to speak of */
	unsigned n = 0;
	char **data = ls(xs, domid, "data", &n);
	free(data);
	bool reporting = n > 0 || is_one(rd(xs, domid, "control/feature-poweroff"));
	if (!reporting)
		r = xerr_set(err, ERR_INTERNAL_ERROR, "the guest reports nothing in xenstore", NULL), r = -2;
	else if (!strcmp(name, "guest-info"))
		guest_info(xs, domid, result);
	else if (!strcmp(name, "guest-get-osinfo"))
		os_info(xs, domid, result);
	else if (!strcmp(name, "guest-network-get-interfaces"))
		net_info(xs, domid, result);
	else
		r = xerr_set(err, ERR_INTERNAL_ERROR, "not offered by a Xen guest's tools", NULL);
	free(name);
	return r;
}

int xen_domain_uuid(struct xs_handle *xs, uint32_t domid, char *uuid)
{
	char *vm = rd(xs, domid, "vm");
	if (!vm)
		return -1;
	const char *u = strrchr(vm, '/');
	int r = -1;
	if (u && strlen(u + 1) == 36) {
		memcpy(uuid, u + 1, 37);
		r = 0;
	}
	free(vm);
	return r;
}
