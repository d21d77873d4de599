/* bootstrap: makes the store describe this host. A fresh store gets the
 * records xapi's installer and first boot leave behind; every start then
 * refreshes what the machine reports, all in one transaction. */
#include "bootstrap.h"
#include "hostinfo.h"
#include "templates.h"
#include "../base/dir.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../net/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>

#ifndef XENON_VERSION
#define XENON_VERSION "0.1.0"
#endif

#define MiB (INT64_C(1) << 20)
#define GiB (INT64_C(1) << 30)

/* XCP-ng 8.3 as clients see it: XO keys features on product_version and
 * platform_version, the SDKs on the API version. */
static const char *const software_version_fixed[] = {
	"product_brand", "Xenon",
	"product_version", "8.3.0",
	"product_version_text", "8.3",
	"product_version_text_short", "8.3",
	"platform_name", "XCP",
	"platform_version", "3.4.0",
	"build_number", "xenon-" XENON_VERSION,
	"git_id", "0",
	"is_preview_release", "false",
	"xapi", "24.0",
	"xapi_build", "24.0.0",
	"xen", "none", /* guests run under QEMU, not a Xen hypervisor */
	"xencenter_min", "2.21",
	"xencenter_max", "2.21",
	"db_schema", "5.786",
	"dbv", "2024.0902",
	"date", "2024-09-02",
	NULL,
};
#define API_VERSION_MAJOR 2
#define API_VERSION_MINOR 21

/* License restrictions as an unrestricted XCP-ng pool reports them; XO
 * reads several (restrict_zstd_export, restrict_vtpm) unconditionally. */
static const char *const pool_restrictions[] = {
	"restrict_vswitch_controller", "restrict_lab", "restrict_stage", "restrict_storagelink",
	"restrict_storagelink_site_recovery", "restrict_web_selfservice",
	"restrict_web_selfservice_manager", "restrict_hotfix_apply", "restrict_export_resource_data",
	"restrict_read_caching", "restrict_cifs", "restrict_health_check", "restrict_xcm",
	"restrict_vm_memory_introspection", "restrict_batch_hotfix_apply",
	"restrict_management_on_vlan", "restrict_ws_proxy", "restrict_vlan", "restrict_qos",
	"restrict_pool_attached_storage", "restrict_netapp", "restrict_equalogic",
	"restrict_pooling", "restrict_marathon", "restrict_email_alerting",
	"restrict_historical_performance", "restrict_wlb", "restrict_rbac", "restrict_dmc",
	"restrict_checkpoint", "restrict_cpu_masking", "restrict_connection", "platform_filter",
	"regular_nag_dialog", "restrict_vmpr", "restrict_vmss", "restrict_intellicache",
	"restrict_gpu", "restrict_dr", "restrict_vif_locking", "restrict_storage_xen_motion",
	"restrict_vgpu", "restrict_integrated_gpu_passthrough", "restrict_vss",
	"restrict_guest_agent_auto_update", "restrict_pci_device_for_auto_update",
	"restrict_xen_motion", "restrict_guest_ip_setting", "restrict_ad",
	"restrict_nested_virt", "restrict_live_patching", "restrict_set_vcpus_number_live",
	"restrict_pvs_proxy", "restrict_igmp_snooping", "restrict_rpu", "restrict_pool_size",
	"restrict_cbt", "restrict_usb_passthrough", "restrict_network_sriov", "restrict_corosync",
	"restrict_zstd_export", "restrict_pool_secret_rotation",
	"restrict_certificate_verification", "restrict_updates", "restrict_internal_repo_access",
	"restrict_vtpm", NULL,
};

/* Storage drivers the host offers; features as the SM plugins declare
 * them (name, version; a version above 1 is written NAME/version there). */
struct sm_def {
	const char *type, *name, *description;
	const char *const *features;
	const char *const *configuration; /* key, description, ..., NULL */
};

static const char *const sm_ext_features[] = {
	"SR_PROBE", "1", "SR_UPDATE", "1", "VDI_CREATE", "1",
	"VDI_DELETE", "1", "VDI_ATTACH", "1", "VDI_DETACH", "1", "VDI_UPDATE", "1",
	"VDI_CLONE", "1", "VDI_SNAPSHOT", "1", "VDI_RESIZE", "1", "VDI_MIRROR", "1",
	"VDI_GENERATE_CONFIG", "1", "VDI_RESET_ON_BOOT", "2", "ATOMIC_PAUSE", "1",
	"VDI_CONFIG_CBT", "1", "VDI_ACTIVATE", "1", "VDI_DEACTIVATE", "1",
	"THIN_PROVISIONING", "1", "VDI_READ_CACHING", "1", NULL,
};
static const char *const sm_iso_features[] = {
	"VDI_CREATE", "1", "VDI_DELETE", "1", "VDI_ATTACH", "1", "VDI_DETACH", "1",
	"SR_SCAN", "1", "SR_ATTACH", "1", "SR_DETACH", "1", NULL,
};
static const char *const sm_ext_config[] = {
	"path", "local directory holding the disk images (required)", NULL,
};
static const char *const sm_iso_config[] = {
	"location", "directory holding the ISO images (required)",
	"legacy_mode", "true: the directory is used as is, not a subdirectory per SR", NULL,
};

static const struct sm_def sm_defs[] = {
	{"ext", "Local file storage", "Disks as copy-on-write image files in a local directory",
	 sm_ext_features, sm_ext_config},
	{"iso", "ISO", "CD and DVD images stored as files in ISO format", sm_iso_features,
	 sm_iso_config},
};

struct boot {
	struct db_txn *t;
	struct db *db;
	const struct hostinfo *hi;
	const char *data_dir, *bridge;
	bool pooled;
	const char *host_ref;
	struct db_obj *pool, *host;
};

/* ---- helpers ---- */

static xv kv_map(const char *const *kv)
{
	xv m = xv_map_new();
	for (; kv && kv[0]; kv += 2)
		xv_map_set_str(&m, kv[0], kv[1]);
	return m;
}

static xv int_str(int64_t i)
{
	return xv_str_own(xasprintf("%lld", (long long)i));
}

/* The many side of a link (host.PIFs from PIF.host) is derived by the store
 * when the schema declares the relation; where it does not, it is a stored
 * set and is kept in step here. */
static void link_add(struct db_txn *t, struct db_obj *o, int field, const char *ref)
{
	if (sc_field_is_derived(&sc_classes[o->cls].fields[field]))
		return;
	xv r = xv_str(ref);
	if (xv_arr_contains(db_peek(o, field), &r)) {
		xv_free(&r);
		return;
	}
	xv_arr_push(db_edit(t, o, field), r);
}

static void link_del(struct db_txn *t, struct db_obj *o, int field, const char *ref)
{
	if (sc_field_is_derived(&sc_classes[o->cls].fields[field]))
		return;
	xv r = xv_str(ref);
	if (xv_arr_contains(db_peek(o, field), &r))
		xv_arr_remove(db_edit(t, o, field), &r);
	xv_free(&r);
}

static void map_field_set(struct db_txn *t, struct db_obj *o, int field, const char *key,
			  const char *val)
{
	const char *cur = xv_map_get_str(db_peek(o, field), key);
	if (!cur || strcmp(cur, val) != 0)
		xv_map_set_str(db_edit(t, o, field), key, val);
}

static void fs_sizes(const char *path, int64_t *size, int64_t *used)
{
	struct statvfs st;
	*size = *used = 0;
	if (statvfs(path, &st) == 0) {
		*size = (int64_t)st.f_blocks * (int64_t)st.f_frsize;
		*used = (int64_t)(st.f_blocks - st.f_bfree) * (int64_t)st.f_frsize;
	}
}

/* A control domain's share of the machine: a sixteenth, within 1-8 GiB,
 * never more than half of a small host. */
static int64_t dom0_memory(int64_t total)
{
	int64_t m = total / 16;
	if (m < GiB)
		m = total / 2 < GiB ? total / 2 : GiB;
	if (m > 8 * GiB)
		m = 8 * GiB;
	return m / MiB * MiB;
}

/* ---- creation ---- */

/* Driver records are created when missing, on every start; the features
 * of those kept are set to what the driver declares now. */
static void ensure_sms(struct boot *b)
{
	for (size_t i = 0; i < sizeof sm_defs / sizeof sm_defs[0]; i++) {
		const struct sm_def *d = &sm_defs[i];
		struct db_obj *sm = NULL;
		for (struct db_obj *o = db_first(b->db, SC_C_SM); o && !sm; o = db_next(o))
			if (strcmp(db_peek_str(o, SC_F_SM__type), d->type) == 0)
				sm = o;
		if (!sm) {
			sm = db_create(b->t, SC_C_SM, NULL);
			db_set_str(b->t, sm, SC_F_SM__type, d->type);
			db_set_str(b->t, sm, SC_F_SM__name_label, d->name);
			db_set_str(b->t, sm, SC_F_SM__name_description, d->description);
			db_set_str(b->t, sm, SC_F_SM__vendor, "Xenon");
			db_set_str(b->t, sm, SC_F_SM__version, "1.0");
			db_set_str(b->t, sm, SC_F_SM__required_api_version, "1.0");
			db_set(b->t, sm, SC_F_SM__configuration, kv_map(d->configuration));
		}
		xv caps = xv_arr_new(), feats = xv_map_new();
		for (const char *const *f = d->features; f[0]; f += 2) {
			xv_arr_push_str(&caps, f[0]);
			xv_map_set(&feats, f[0], xv_int(atoll(f[1])));
		}
		db_set(b->t, sm, SC_F_SM__capabilities, caps);
		db_set(b->t, sm, SC_F_SM__features, feats);
	}
}

static struct db_obj *create_sr(struct boot *b, const char *name, const char *type,
				const char *content_type)
{
	struct db_obj *sr = db_create(b->t, SC_C_SR, NULL);
	db_set_str(b->t, sr, SC_F_SR__name_label, name);
	db_set_str(b->t, sr, SC_F_SR__type, type);
	db_set_str(b->t, sr, SC_F_SR__content_type, content_type);
	db_set_bool(b->t, sr, SC_F_SR__shared, false);
	return sr;
}

/* Plugs the SR on this host: the storage driver attaches it at start. */
static void create_pbd(struct boot *b, struct db_obj *sr, xv device_config)
{
	struct db_obj *pbd = db_create(b->t, SC_C_PBD, NULL);
	db_set_str(b->t, pbd, SC_F_PBD__host, b->host->ref);
	db_set_str(b->t, pbd, SC_F_PBD__SR, sr->ref);
	db_set(b->t, pbd, SC_F_PBD__device_config, device_config);
	db_set_bool(b->t, pbd, SC_F_PBD__currently_attached, true);
	link_add(b->t, sr, SC_F_SR__PBDs, pbd->ref);
	link_add(b->t, b->host, SC_F_host__PBDs, pbd->ref);
}

static int make_dir(const char *path, struct xerr *err)
{
	int rc = dir_make_all(path, 0700, NULL);
	if (rc < 0)
		return xerr_internal(err, "cannot create %s: %s", path, strerror(-rc));
	return 0;
}

/* The default local SR; its directory is named after its uuid. */
static struct db_obj *create_local_sr(struct boot *b, struct xerr *err)
{
	struct db_obj *sr = create_sr(b, "Local storage", "ext", "user");
	char *dir = xasprintf("%s/sr/%s", b->data_dir, db_peek_str(sr, SC_F_SR__uuid));
	if (make_dir(dir, err) < 0) {
		free(dir);
		return NULL;
	}
	static const char *const other[] = {
		"i18n-key", "local-storage", "i18n-original-value-name_label", "Local storage", NULL,
	};
	db_set(b->t, sr, SC_F_SR__other_config, kv_map(other));
	xv dc = xv_map_new();
	xv_map_set_str(&dc, "path", dir);
	create_pbd(b, sr, dc);
	free(dir);
	return sr;
}

static struct db_obj *create_iso_sr(struct boot *b, struct xerr *err)
{
	struct db_obj *sr = create_sr(b, "ISO library", "iso", "iso");
	char *dir = xasprintf("%s/iso", b->data_dir);
	if (make_dir(dir, err) < 0) {
		free(dir);
		return NULL;
	}
	xv dc = xv_map_new();
	xv_map_set_str(&dc, "location", dir);
	xv_map_set_str(&dc, "legacy_mode", "true");
	create_pbd(b, sr, dc);
	free(dir);
	return sr;
}

static void create_host(struct boot *b)
{
	const struct hostinfo *hi = b->hi;
	struct db_txn *t = b->t;
	struct db_obj *h = db_create(t, SC_C_host, NULL);
	b->host = h;
	db_set_str(t, h, SC_F_host__name_label, hi->hostname);
	db_set_bool(t, h, SC_F_host__enabled, true);
	db_set_int(t, h, SC_F_host__API_version_major, API_VERSION_MAJOR);
	db_set_int(t, h, SC_F_host__API_version_minor, API_VERSION_MINOR);
	db_set_str(t, h, SC_F_host__API_version_vendor, "XenSource");
	xv caps = xv_arr_new();
	xv_arr_push_str(&caps, "hvm-3.0-x86_32");
	xv_arr_push_str(&caps, "hvm-3.0-x86_32p");
	xv_arr_push_str(&caps, "hvm-3.0-x86_64");
	db_set(t, h, SC_F_host__capabilities, caps);
	/* guests run as QEMU processes: no hypervisor heap to account for */
	db_set_int(t, h, SC_F_host__memory_overhead, 0);
	db_set_str(t, h, SC_F_host__edition, "xenon");
	db_set_str(t, h, SC_F_host__sched_policy, "credit");
	db_set_str(t, h, SC_F_host__display, "enabled");

	/* xapi's installer names the initiator after the install date */
	struct tm tm;
	time_t now = (time_t)hi->now;
	gmtime_r(&now, &tm);
	char iqn[96];
	snprintf(iqn, sizeof iqn, "iqn.%04d-%02d.org.xenon:%.8s", tm.tm_year + 1900, tm.tm_mon + 1,
		 db_peek_str(h, SC_F_host__uuid));
	db_set_str(t, h, SC_F_host__iscsi_iqn, iqn);
	map_field_set(t, h, SC_F_host__other_config, "iscsi_iqn", iqn);
	map_field_set(t, h, SC_F_host__other_config, "multipathing", "false");

	struct db_obj *m = db_create(t, SC_C_host_metrics, NULL);
	db_set_str(t, h, SC_F_host__metrics, m->ref);
}

static void create_dom0(struct boot *b)
{
	struct db_txn *t = b->t;
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	db_set_bool(t, vm, SC_F_VM__is_control_domain, true);
	db_set_str(t, vm, SC_F_VM__name_description,
		   "The host's own operating system, where xenond runs and guests are managed");
	db_set_str(t, vm, SC_F_VM__affinity, b->host->ref);
	db_set_str(t, vm, SC_F_VM__domain_type, "pv");
	db_set_str(t, vm, SC_F_VM__domarch, "x64");
	db_set_str(t, vm, SC_F_VM__generation_id, "");
	db_set_bool(t, vm, SC_F_VM__has_vendor_device, false);
	map_field_set(t, vm, SC_F_VM__other_config, "storage_driver_domain", vm->ref);
	map_field_set(t, vm, SC_F_VM__other_config, "is_system_domain", "true");

	struct db_obj *m = db_create(t, SC_C_VM_metrics, NULL);
	db_set(t, m, SC_F_VM_metrics__install_time, xv_time(b->hi->now));
	db_set_str(t, m, SC_F_VM_metrics__current_domain_type, "pv");
	db_set_str(t, vm, SC_F_VM__metrics, m->ref);
	db_set_str(t, b->host, SC_F_host__control_domain, vm->ref);
}

static void create_network(struct boot *b)
{
	const struct hostinfo *hi = b->hi;
	struct db_txn *t = b->t;
	struct db_obj *net = db_create(t, SC_C_network, NULL);
	db_set_str(t, net, SC_F_network__name_label, "Pool-wide network associated with eth0");
	db_set_str(t, net, SC_F_network__bridge, b->bridge);
	db_set_int(t, net, SC_F_network__MTU, 1500);
	db_set_bool(t, net, SC_F_network__managed, true);
	map_field_set(t, net, SC_F_network__other_config, "automatic", "true");

	/* the bridge itself is made by the network code; this is the record */
	struct db_obj *pif = db_create(t, SC_C_PIF, NULL);
	db_set_str(t, pif, SC_F_PIF__device, "eth0");
	db_set_str(t, pif, SC_F_PIF__host, b->host->ref);
	db_set_str(t, pif, SC_F_PIF__network, net->ref);
	db_set_str(t, pif, SC_F_PIF__MAC, hi->nic.mac);
	db_set_int(t, pif, SC_F_PIF__MTU, 1500);
	db_set_int(t, pif, SC_F_PIF__VLAN, -1);
	db_set_bool(t, pif, SC_F_PIF__physical, true);
	db_set_bool(t, pif, SC_F_PIF__currently_attached, true);
	db_set_bool(t, pif, SC_F_PIF__management, true);
	db_set_bool(t, pif, SC_F_PIF__managed, true);
	db_set_str(t, pif, SC_F_PIF__ip_configuration_mode, "Static");
	db_set_str(t, pif, SC_F_PIF__bond_slave_of, REF_NULL);
	map_field_set(t, pif, SC_F_PIF__properties, "gro", "on");
	link_add(t, net, SC_F_network__PIFs, pif->ref);
	link_add(t, b->host, SC_F_host__PIFs, pif->ref);

	struct db_obj *m = db_create(t, SC_C_PIF_metrics, NULL);
	const struct hostinfo_nic *n = &hi->nic;
	/* no NIC found: the management address is still reachable, so up */
	db_set_bool(t, m, SC_F_PIF_metrics__carrier, hi->have_nic ? n->carrier : true);
	db_set_str(t, m, SC_F_PIF_metrics__device_name, n->driver[0] ? n->driver : n->name);
	db_set_str(t, m, SC_F_PIF_metrics__vendor_id, n->vendor_id);
	db_set_str(t, m, SC_F_PIF_metrics__device_id, n->device_id);
	db_set_str(t, m, SC_F_PIF_metrics__pci_bus_path, n->pci_bus_path);
	db_set_int(t, m, SC_F_PIF_metrics__speed, n->speed);
	db_set_bool(t, m, SC_F_PIF_metrics__duplex, n->duplex);
	db_set(t, m, SC_F_PIF_metrics__last_updated, xv_time(hi->now));
	db_set_str(t, pif, SC_F_PIF__metrics, m->ref);
}

static void create_pool(struct boot *b, struct db_obj *local_sr)
{
	struct db_txn *t = b->t;
	struct db_obj *p = db_create(t, SC_C_pool, NULL);
	b->pool = p;
	db_set_str(t, p, SC_F_pool__name_label, "");
	db_set_str(t, p, SC_F_pool__master, b->host->ref);
	db_set_str(t, p, SC_F_pool__default_SR, local_sr->ref);
	db_set_str(t, p, SC_F_pool__suspend_image_SR, local_sr->ref);
	db_set_str(t, p, SC_F_pool__crash_dump_SR, local_sr->ref);
	xv r = xv_map_new();
	for (const char *const *k = pool_restrictions; *k; k++)
		xv_map_set_str(&r, *k, "false");
	xv_map_set_str(&r, "enable_xha", "true");
	db_set(t, p, SC_F_pool__restrictions, r);
	db_set_str(t, b->host, SC_F_host__suspend_image_sr, local_sr->ref);
	db_set_str(t, b->host, SC_F_host__crash_dump_sr, local_sr->ref);
}

static int create_fresh(struct boot *b, struct xerr *err)
{
	create_host(b);
	create_dom0(b);
	struct db_obj *local = create_local_sr(b, err);
	if (!local || !create_iso_sr(b, err))
		return -1;
	create_network(b);
	create_pool(b, local);
	log_info("bootstrap: new pool, host %s (%s)", b->hi->hostname,
		 db_peek_str(b->host, SC_F_host__uuid));
	return 0;
}

/* ---- every start: refresh from the machine ---- */

static void refresh_software_version(struct boot *b)
{
	xv sv = kv_map(software_version_fixed);
	xv_map_set_str(&sv, "network_backend", net_backend_name()); /* bridge | openvswitch */
	xv_map_set_str(&sv, "hostname", b->hi->hostname);
	xv_map_set_str(&sv, "linux", b->hi->kernel);
	db_set(b->t, b->host, SC_F_host__software_version, sv);
}

static void refresh_cpu_info(struct boot *b)
{
	const struct hostinfo *hi = b->hi;
	const struct hostinfo_cpu *c = &hi->cpus[0];
	xv ci = xv_map_new();
	xv_map_set(&ci, "cpu_count", int_str((int64_t)hi->ncpus));
	xv_map_set(&ci, "socket_count", int_str(hi->sockets));
	xv_map_set(&ci, "threads_per_core", int_str(hi->threads_per_core));
	xv_map_set_str(&ci, "vendor", c->vendor);
	xv_map_set_str(&ci, "speed", c->speed);
	xv_map_set_str(&ci, "modelname", c->modelname);
	xv_map_set(&ci, "family", int_str(c->family));
	xv_map_set(&ci, "model", int_str(c->model));
	xv_map_set_str(&ci, "stepping", c->stepping);
	xv_map_set_str(&ci, "flags", c->flags);
	xv_map_set_str(&ci, "features", hi->features);
	xv_map_set_str(&ci, "features_hvm", hi->features);
	xv_map_set_str(&ci, "features_hvm_host", hi->features);
	db_set(b->t, b->host, SC_F_host__cpu_info, ci);

	/* the pool's view: the common denominator, which one host is */
	xv pi = xv_map_new();
	xv_map_set(&pi, "cpu_count", int_str((int64_t)hi->ncpus));
	xv_map_set(&pi, "socket_count", int_str(hi->sockets));
	xv_map_set_str(&pi, "vendor", c->vendor);
	xv_map_set_str(&pi, "features_hvm", hi->features);
	xv_map_set_str(&pi, "features_hvm_host", hi->features);
	db_set(b->t, b->pool, SC_F_pool__cpu_info, pi);
}

static void set_host_cpu(struct db_txn *t, struct db_obj *o, const struct hostinfo *hi, size_t i)
{
	const struct hostinfo_cpu *c = &hi->cpus[i];
	db_set_int(t, o, SC_F_host_cpu__number, (int64_t)i);
	db_set_str(t, o, SC_F_host_cpu__vendor, c->vendor);
	db_set_int(t, o, SC_F_host_cpu__speed, (int64_t)atof(c->speed));
	db_set_str(t, o, SC_F_host_cpu__modelname, c->modelname);
	db_set_int(t, o, SC_F_host_cpu__family, c->family);
	db_set_int(t, o, SC_F_host_cpu__model, c->model);
	db_set_str(t, o, SC_F_host_cpu__stepping, c->stepping);
	db_set_str(t, o, SC_F_host_cpu__flags, c->flags);
	db_set_str(t, o, SC_F_host_cpu__features, hi->features);
}

/* One host_cpu per logical CPU, matched by number: CPUs that went away
 * (a smaller VM host, a changed cpuset) lose their rows. */
static void refresh_host_cpus(struct boot *b)
{
	const struct hostinfo *hi = b->hi;
	struct db_obj **have = xcalloc(hi->ncpus, sizeof *have);
	for (struct db_obj *o = db_first(b->db, SC_C_host_cpu), *next; o; o = next) {
		next = db_next(o);
		if (strcmp(db_peek_str(o, SC_F_host_cpu__host), b->host->ref) != 0)
			continue;
		int64_t n = db_peek_int(o, SC_F_host_cpu__number);
		if (n >= 0 && (size_t)n < hi->ncpus && !have[n]) {
			have[n] = o;
			continue;
		}
		link_del(b->t, b->host, SC_F_host__host_CPUs, o->ref);
		db_delete(b->t, o);
	}
	for (size_t i = 0; i < hi->ncpus; i++) {
		struct db_obj *o = have[i];
		if (!o) {
			o = db_create(b->t, SC_C_host_cpu, NULL);
			db_set_str(b->t, o, SC_F_host_cpu__host, b->host->ref);
			link_add(b->t, b->host, SC_F_host__host_CPUs, o->ref);
		}
		set_host_cpu(b->t, o, hi, i);
	}
	free(have);
}

static char *dom0_name(const char *hostname)
{
	return xasprintf("Control domain on host: %s", hostname);
}

/* A renamed machine renames the records that still carry the old name;
 * names a user chose are left alone. */
static void refresh_names(struct boot *b, struct db_obj *dom0)
{
	const char *now = b->hi->hostname;
	char *old = xstrdup(db_peek_str(b->host, SC_F_host__hostname));
	if (strcmp(db_peek_str(b->host, SC_F_host__name_label), old) == 0)
		db_set_str(b->t, b->host, SC_F_host__name_label, now);
	char *old_dom0 = dom0_name(old);
	const char *label = db_peek_str(dom0, SC_F_VM__name_label);
	if (!*label || strcmp(label, old_dom0) == 0)
		db_set(b->t, dom0, SC_F_VM__name_label, xv_str_own(dom0_name(now)));
	db_set_str(b->t, b->host, SC_F_host__hostname, now);
	free(old_dom0);
	free(old);
}

/* dom0 is the running host itself: always Running, sized like the machine. */
static void refresh_dom0(struct boot *b, struct db_obj *vm)
{
	const struct hostinfo *hi = b->hi;
	struct db_txn *t = b->t;
	int64_t mem = dom0_memory(hi->memory_total);
	int64_t ncpus = (int64_t)hi->ncpus;
	db_set_str(t, vm, SC_F_VM__power_state, "Running");
	db_set_int(t, vm, SC_F_VM__domid, 0);
	db_set_str(t, vm, SC_F_VM__resident_on, b->host->ref);
	link_add(t, b->host, SC_F_host__resident_VMs, vm->ref);
	db_set_int(t, vm, SC_F_VM__VCPUs_max, ncpus);
	db_set_int(t, vm, SC_F_VM__VCPUs_at_startup, ncpus);
	int fields[] = {SC_F_VM__memory_static_min, SC_F_VM__memory_dynamic_min,
			SC_F_VM__memory_dynamic_max, SC_F_VM__memory_static_max,
			SC_F_VM__memory_target};
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		db_set_int(t, vm, fields[i], mem);
	char cps[24];
	snprintf(cps, sizeof cps, "%lld", (long long)(ncpus / hi->sockets ? ncpus / hi->sockets : 1));
	map_field_set(t, vm, SC_F_VM__platform, "cores-per-socket", cps);

	struct db_obj *m = db_lookup_cls(b->db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
	if (m) {
		db_set_int(t, m, SC_F_VM_metrics__memory_actual, mem);
		db_set_int(t, m, SC_F_VM_metrics__VCPUs_number, ncpus);
		db_set(t, m, SC_F_VM_metrics__start_time, xv_time(hi->boot_time));
		db_set(t, m, SC_F_VM_metrics__last_updated, xv_time(hi->now));
	}
}

static void refresh_metrics(struct boot *b)
{
	struct db_obj *m = db_lookup_cls(b->db, SC_C_host_metrics,
					 db_peek_str(b->host, SC_F_host__metrics));
	if (!m) {
		m = db_create(b->t, SC_C_host_metrics, NULL);
		db_set_str(b->t, b->host, SC_F_host__metrics, m->ref);
	}
	db_set_int(b->t, m, SC_F_host_metrics__memory_total, b->hi->memory_total);
	db_set_bool(b->t, m, SC_F_host_metrics__live, true);
	db_set(b->t, m, SC_F_host_metrics__last_updated, xv_time(b->hi->now));
}

static void refresh_host(struct boot *b)
{
	const struct hostinfo *hi = b->hi;
	struct db_obj *h = b->host;
	char num[24];
	refresh_software_version(b);
	refresh_cpu_info(b);
	refresh_host_cpus(b);
	refresh_metrics(b);
	db_set_str(b->t, h, SC_F_host__address, hi->address);
	db_set(b->t, h, SC_F_host__bios_strings, xv_copy(&hi->bios_strings));
	snprintf(num, sizeof num, "%lld", (long long)hi->boot_time);
	map_field_set(b->t, h, SC_F_host__other_config, "boot_time", num);
	snprintf(num, sizeof num, "%lld", (long long)hi->now);
	map_field_set(b->t, h, SC_F_host__other_config, "agent_start_time", num);
}

/* The management PIF follows the address the host advertises. */
static void refresh_management_pif(struct boot *b)
{
	const struct hostinfo *hi = b->hi;
	for (struct db_obj *p = db_first(b->db, SC_C_PIF); p; p = db_next(p)) {
		if (!db_peek_bool(p, SC_F_PIF__management) ||
		    strcmp(db_peek_str(p, SC_F_PIF__host), b->host->ref) != 0 ||
		    strcmp(db_peek_str(p, SC_F_PIF__ip_configuration_mode), "Static") != 0)
			continue;
		db_set_str(b->t, p, SC_F_PIF__IP, hi->address);
		db_set_str(b->t, p, SC_F_PIF__netmask, hi->netmask);
		db_set_str(b->t, p, SC_F_PIF__gateway, hi->gateway);
		db_set_str(b->t, p, SC_F_PIF__DNS, hi->dns);
	}
}

/* Local directory SRs report their filesystem's size until the storage
 * driver takes over accounting. */
static void refresh_sr_sizes(struct boot *b)
{
	for (struct db_obj *p = db_first(b->db, SC_C_PBD); p; p = db_next(p)) {
		if (strcmp(db_peek_str(p, SC_F_PBD__host), b->host->ref) != 0)
			continue;
		struct db_obj *sr = db_lookup_cls(b->db, SC_C_SR, db_peek_str(p, SC_F_PBD__SR));
		const xv *dc = db_peek(p, SC_F_PBD__device_config);
		const char *path = xv_map_get_str(dc, "path");
		if (!path)
			path = xv_map_get_str(dc, "location");
		if (!sr || !path || path[0] != '/')
			continue;
		int64_t size, used;
		fs_sizes(path, &size, &used);
		if (size == 0)
			continue;
		db_set_int(b->t, sr, SC_F_SR__physical_size, size);
		db_set_int(b->t, sr, SC_F_SR__physical_utilisation, used);
	}
}

static int refresh_all(struct boot *b, struct xerr *err)
{
	struct db_obj *dom0 = db_lookup_cls(b->db, SC_C_VM,
					    db_peek_str(b->host, SC_F_host__control_domain));
	if (!dom0) { /* a member's bare record, made by the master of a configured pool */
		create_dom0(b);
		dom0 = db_lookup_cls(b->db, SC_C_VM, db_peek_str(b->host, SC_F_host__control_domain));
		if (!dom0)
			return xerr_internal(err, "bootstrap: host %s has no control domain", b->host->ref);
	}
	refresh_names(b, dom0);
	refresh_host(b);
	refresh_dom0(b, dom0);
	refresh_management_pif(b);
	refresh_sr_sizes(b);
	ensure_sms(b);
	int n = templates_ensure(b->t);
	if (n > 0)
		log_info("bootstrap: created %d default template%s", n, n == 1 ? "" : "s");
	return 0;
}

/* ---- entry points ---- */

struct db_obj *bootstrap_this_host(struct db *db)
{
	struct db_obj *pool = db_first(db, SC_C_pool);
	struct db_obj *h = pool ? db_lookup_cls(db, SC_C_host, db_peek_str(pool, SC_F_pool__master))
				: NULL;
	return h ? h : db_first(db, SC_C_host);
}

static int bootstrap_txn(struct boot *b, struct xerr *err)
{
	b->pool = db_first(b->db, SC_C_pool);
	if (!b->pool) {
		if (create_fresh(b, err) < 0)
			return -1;
	} else if (b->pooled) {
		/* in a pool, this host's own record (the master may be another) */
		b->host = b->host_ref ? db_lookup_cls(b->db, SC_C_host, b->host_ref) : NULL;
		if (!b->host)
			return 0; /* none yet: the master makes it */
	} else {
		b->host = bootstrap_this_host(b->db);
		if (!b->host)
			return xerr_internal(err, "bootstrap: the pool has no master host");
	}
	return refresh_all(b, err);
}

int bootstrap_host(struct db *db, const struct bootstrap_opts *o, struct xerr *err)
{
	static const struct bootstrap_opts none;
	if (!o)
		o = &none;
	struct hostinfo hi;
	hostinfo_read(&hi, o->hostname, o->address, o->memory_total);
	struct boot b = {
		.db = db,
		.hi = &hi,
		.data_dir = o->data_dir && *o->data_dir ? o->data_dir : "/var/lib/xenon",
		.bridge = o->bridge && *o->bridge ? o->bridge : "xenbr0",
		.pooled = o->pooled,
		.host_ref = o->host_ref,
	};
	/* the SR root exists before the transaction so its size can be read */
	char *root = xasprintf("%s/sr", b.data_dir);
	int rc = make_dir(root, err);
	free(root);
	if (rc == 0) {
		b.t = db_begin(db);
		rc = bootstrap_txn(&b, err);
		if (rc < 0)
			db_abort(b.t);
		else
			rc = db_commit(b.t, err);
	}
	if (rc == 0)
		log_info("bootstrap: host %s at %s, %zu CPUs, %lld MiB", hi.hostname, hi.address,
			 hi.ncpus, (long long)(hi.memory_total / MiB));
	hostinfo_free(&hi);
	return rc;
}
