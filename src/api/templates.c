/* templates: the default template table and its expansion into VM records.
 * Names, uuids, memory, disk sizes, platform keys and recommendations are
 * those of guest-templates-json as XCP-ng 8.3 ships it (2.0.15 plus XCP-ng's
 * additions), so clients that look templates up by name or uuid find them. */
#include "templates.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../base/uuid.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#define MiB (INT64_C(1) << 20)
#define GiB (INT64_C(1) << 30)

enum tpl_kind { F_OTHER, F_LINUX_BIOS, F_LINUX_UEFI, F_WINDOWS };

/* What a family of templates shares: guest-templates-json's base-*.json. */
struct tpl_family {
	const char *description; /* may hold one %s: the template name */
	const char *install_methods;
	bool linux_template;
	const char *firmware, *boot_order;
	int vcpus;
	const char *generation_id;   /* Windows reads it as VM-Generation-ID */
	const char *const *platform; /* key, value, ..., NULL */
	/* the recommendations XML */
	int64_t max_memory;
	int vcpus_min;
	bool vendor_device, gpu, sriov, bios, uefi, secure_boot;
};

enum {
	T_NO_BIOS = 1 << 0, /* UEFI only */
	T_SRIOV = 1 << 1,   /* recommends SR-IOV networks (Windows Server) */
	T_SLATE = 1 << 2,   /* platform acpi_laptop_slate: tablet-mode aware Windows */
	T_VTPM = 1 << 3,    /* platform vtpm: Windows 11 wants a TPM */
	T_ARCH64 = 1 << 4,  /* other_config install-arch x86_64 (SUSE's installer) */
};

struct tpl {
	const char *name, *uuid, *label; /* name_label, uuid, reference_label */
	enum tpl_kind fam;
	int min_mib;  /* memory_static_min; the other limits are twice it */
	int disk_gib; /* one system disk; 0 for none */
	unsigned flags;
	int vcpus; /* 0: the family's */
};

/* Every template: firmware-independent machine basics (blank_template.py). */
static const char *const platform_common[] = {
	"nx", "true", "acpi", "1", "apic", "true", "pae", "true", "hpet", "true", NULL,
};

static const char *const platform_other[] = {"viridian", "true", "secureboot", "false", NULL};

static const char *const platform_linux_bios[] = {
	"vga", "std", "videoram", "8", "viridian", "false", "device_id", "0001",
	"device-model", "qemu-upstream-compat", "secureboot", "false", NULL,
};

/* UEFI guests carry no device-model: the toolstack picks the UEFI one. */
static const char *const platform_linux_uefi[] = {
	"vga", "std", "videoram", "8", "viridian", "false", "device_id", "0001",
	"secureboot", "auto", NULL,
};

static const char *const platform_windows[] = {
	"device_id", "0002", "viridian", "true", "viridian_time_ref_count", "true",
	"viridian_reference_tsc", "true", "viridian_apic_assist", "true",
	"viridian_crash_ctl", "true", "viridian_stimer", "true", "secureboot", "auto",
	"vga", "std", "videoram", "8", NULL,
};

#define LINUX_DESCRIPTION                                                                   \
	"Install from CD, or from a network repository: after vm-install, point "          \
	"other-config:install-repository at http://<server>/<path> or nfs:<server>:/<path>"

static const struct tpl_family families[] = {
	[F_OTHER] = {
		.description = "Installs a guest from any boot media: a CD/DVD image or the network",
		.install_methods = "cdrom", .firmware = "bios", .boot_order = "cd", .vcpus = 1,
		.platform = platform_other, .max_memory = 128 * GiB,
		.bios = true, .uefi = true, .secure_boot = true,
	},
	[F_LINUX_BIOS] = {
		.description = LINUX_DESCRIPTION, .install_methods = "cdrom,nfs,http,ftp",
		.linux_template = true, .firmware = "bios", .boot_order = "cdn", .vcpus = 1,
		.platform = platform_linux_bios, .max_memory = 1536 * GiB,
		.gpu = true, .sriov = true, .bios = true,
	},
	[F_LINUX_UEFI] = {
		.description = LINUX_DESCRIPTION, .install_methods = "cdrom,nfs,http,ftp",
		.linux_template = true, .firmware = "uefi", .boot_order = "cdn", .vcpus = 1,
		.platform = platform_linux_uefi, .max_memory = 1536 * GiB,
		.gpu = true, .sriov = true, .bios = true, .uefi = true, .secure_boot = true,
	},
	[F_WINDOWS] = {
		.description = "Disks are provisioned when a VM is made from this template; "
			       "its settings suit %s",
		.install_methods = "cdrom", .firmware = "uefi", .boot_order = "cd", .vcpus = 2,
		.generation_id = "0:0", .platform = platform_windows, .max_memory = 1536 * GiB,
		.vcpus_min = 2, .vendor_device = true, .bios = true, .uefi = true,
		.secure_boot = true,
	},
};

static const struct tpl templates[] = {
	{"Other install media", "552bce37-51b2-445d-84f2-5f33fa112d7e", "other-install-media", F_OTHER, 128, 0, 0, 0},

	{"Debian Bullseye 11", "acfeecf4-4007-412b-8f13-6d61a6aee5bd", "debian-11", F_LINUX_BIOS, 512, 10, 0, 0},
	{"Debian Bookworm 12", "07d91aaa-43f7-430a-bf84-0edb6714df0f", "debian-12", F_LINUX_UEFI, 1024, 10, 0, 0},
	{"Debian Trixie 13", "0f690a2c-2bf3-4bde-b5b6-3fd236adbc88", "debian-13", F_LINUX_UEFI, 1024, 10, 0, 0},
	{"Ubuntu Jammy Jellyfish 22.04", "df1a0e64-3799-482b-aa9f-1ed713c7dac5", "ubuntu-22.04", F_LINUX_UEFI, 1024, 10, 0, 0},
	{"Ubuntu Noble Numbat 24.04", "ff1f3e17-84d9-4d72-962d-571c4ceb527b", "ubuntu-24.04", F_LINUX_UEFI, 1024, 10, 0, 0},
	{"Rocky Linux 8", "6ce77bf9-ab30-4a1a-a757-011b52d89997", "rocky-8", F_LINUX_UEFI, 2048, 10, 0, 0},
	{"Rocky Linux 9", "1a647cf9-99c1-4e9c-b3b4-6b9989c530be", "rocky-9", F_LINUX_UEFI, 2048, 15, 0, 0},
	{"Rocky Linux 10", "651760be-61eb-42d2-b49b-6df2521266c5", "rocky-10", F_LINUX_UEFI, 2048, 15, 0, 0},
	{"AlmaLinux 8", "7aa32be8-a06c-4ade-8a1d-49e51e03e9d2", "almalinux-8", F_LINUX_BIOS, 2048, 10, 0, 0},
	{"AlmaLinux 9", "09d6b4cc-dd4b-4619-aacb-01576ccd5b0f", "almalinux-9", F_LINUX_BIOS, 2048, 15, 0, 0},
	{"AlmaLinux 10", "1d1fef56-2e79-49cb-97bb-ec5401096b0b", "almalinux-10", F_LINUX_UEFI, 2048, 15, 0, 0},
	{"CentOS Stream 8", "6de5fcb6-aad9-42b6-8dce-865ae9b933f9", "centos-stream-8", F_LINUX_BIOS, 2048, 15, 0, 0},
	{"CentOS Stream 9", "a3d70e4d-c5ac-4dfb-999b-30a0a7efe546", "centos-9", F_LINUX_BIOS, 2048, 10, 0, 0},
	{"CentOS Stream 10", "203103c5-f257-4ef6-ac59-f3e7184c8b1b", "centos-10", F_LINUX_UEFI, 2048, 10, 0, 0},
	{"Red Hat Enterprise Linux 8", "612863ed-900d-456d-b4b7-38b70915fd1f", "rhel-8", F_LINUX_UEFI, 2048, 10, 0, 0},
	{"Red Hat Enterprise Linux 9", "6c91b878-5095-421e-a914-224b3bb1088c", "rhel-9", F_LINUX_UEFI, 2048, 10, 0, 0},
	{"Red Hat Enterprise Linux 10 (preview)", "7375046a-c05e-435b-9f04-5314a64e6a5e", "rhel-10", F_LINUX_UEFI, 2048, 10, 0, 0},
	{"Oracle Linux 8", "6959dfe8-534c-4c58-8a8c-3c3792293543", "oel-8", F_LINUX_UEFI, 2048, 10, 0, 2},
	{"Oracle Linux 9", "609d03e9-d7aa-448b-b9bf-9a3f7c613506", "oel-9", F_LINUX_BIOS, 2048, 15, 0, 0},
	{"Oracle Linux 10", "64310f80-396d-4096-bfae-3d2bdbb6e8b2", "oel-10", F_LINUX_UEFI, 2048, 15, 0, 0},
	{"SUSE Linux Enterprise 15 (64-bit)", "b5915805-d800-459d-826a-322dc9cf07e2", "sle-15-64bit", F_LINUX_UEFI, 1024, 8, T_ARCH64, 0},
	{"Generic Linux BIOS", "dfbd1201-329f-4c87-9f0c-78a6f5270ba0", "generic-linux-bios", F_LINUX_BIOS, 1024, 10, 0, 0},
	{"Generic Linux UEFI", "b73b736f-8dee-4bbe-9380-30d1e1854958", "generic-linux-uefi", F_LINUX_UEFI, 1024, 10, 0, 0},

	{"Windows 10 (64-bit)", "7774689b-4ca1-4dea-8545-dddd6b64c17f", "windows-10-64bit", F_WINDOWS, 2048, 32, T_SLATE, 0},
	{"Windows 11", "1f8728f9-6354-4a68-adc3-222c34f2bb94", "windows-11", F_WINDOWS, 4096, 64, T_SLATE | T_VTPM | T_NO_BIOS, 0},
	{"Windows Server 2016 (64-bit)", "c15fab79-6cce-4e1f-916f-a64b98ff9e7d", "windows-server-2016-64bit", F_WINDOWS, 1024, 32, T_SRIOV, 0},
	{"Windows Server 2019 (64-bit)", "d986ea98-09fa-4e9a-9ee6-e6c78119496f", "windows-server-2019-64bit", F_WINDOWS, 1024, 32, T_SRIOV, 0},
	{"Windows Server 2022 (64-bit)", "1c33af1c-e919-418c-ad45-85d7d6fb604a", "windows-server-2022-64bit", F_WINDOWS, 1024, 32, T_SRIOV, 0},
	{"Windows Server 2025", "905ab443-e415-4d52-bfef-e14b147eac4e", "windows-server-2025", F_WINDOWS, 2048, 64, T_SRIOV | T_NO_BIOS, 0},
};

#define NTEMPLATES (sizeof templates / sizeof templates[0])

size_t templates_count(void) { return NTEMPLATES; }

const char *templates_name(size_t i) { return i < NTEMPLATES ? templates[i].name : NULL; }

/* ---- record values ---- */

static void map_put_list(xv *m, const char *const *kv)
{
	for (; kv && kv[0]; kv += 2)
		xv_map_set_str(m, kv[0], kv[1]);
}

static int tpl_vcpus(const struct tpl *tp)
{
	return tp->vcpus ? tp->vcpus : families[tp->fam].vcpus;
}

static xv tpl_platform(const struct tpl *tp)
{
	xv m = xv_map_new();
	map_put_list(&m, platform_common);
	map_put_list(&m, families[tp->fam].platform);
	/* XO writes cores-per-socket into every VM that lacks it; shipping it
	 * (all vCPUs in one socket, as XO would) keeps listings read-only. */
	xv_map_set(&m, "cores-per-socket", xv_str_own(xasprintf("%d", tpl_vcpus(tp))));
	if (tp->flags & T_SLATE)
		xv_map_set_str(&m, "acpi_laptop_slate", "1");
	if (tp->flags & T_VTPM)
		xv_map_set_str(&m, "vtpm", "true");
	return m;
}

/* The provision XML VM.provision reads: one system disk on the default SR. */
static char *tpl_disks(const struct tpl *tp)
{
	bool bootable = tp->fam != F_WINDOWS; /* as guest-templates-json ships them */
	return xasprintf("<provision><disk device=\"0\" size=\"%lld\" sr=\"\" bootable=\"%s\" "
			 "type=\"system\"/></provision>",
			 (long long)(tp->disk_gib * GiB), bootable ? "true" : "false");
}

static xv tpl_other_config(const struct tpl *tp)
{
	const struct tpl_family *fam = &families[tp->fam];
	char seed[UUID_STRLEN + 1];
	uuid_generate_str(seed);
	xv m = xv_map_new();
	xv_map_set_str(&m, "install-methods", fam->install_methods);
	if (fam->linux_template)
		xv_map_set_str(&m, "linux_template", "true");
	if (tp->flags & T_ARCH64)
		xv_map_set_str(&m, "install-arch", "x86_64");
	if (tp->disk_gib)
		xv_map_set(&m, "disks", xv_str_own(tpl_disks(tp)));
	xv_map_set_str(&m, "mac_seed", seed);
	xv_map_set_str(&m, "default_template", "true");
	return m;
}

static void restriction(struct strbuf *sb, const char *field, const char *attr, const char *val)
{
	sb_printf(sb, "<restriction field=\"%s\" %s=\"%s\"/>", field, attr, val);
}

/* The restrictions XML clients read for limits (blank_template.py's order). */
static char *tpl_recommendations(const struct tpl *tp)
{
	const struct tpl_family *fam = &families[tp->fam];
	struct strbuf sb = STRBUF_INIT;
	char num[32];
	sb_puts(&sb, "<restrictions>");
	snprintf(num, sizeof num, "%lld", (long long)fam->max_memory);
	restriction(&sb, "memory-static-max", "max", num);
	if (fam->vcpus_min) {
		snprintf(num, sizeof num, "%d", fam->vcpus_min);
		restriction(&sb, "vcpus-min", "min", num);
	}
	restriction(&sb, "vcpus-max", "max", "64");
	restriction(&sb, "has-vendor-device", "value", fam->vendor_device ? "true" : "false");
	if (fam->gpu) {
		restriction(&sb, "allow-gpu-passthrough", "value", "1");
		restriction(&sb, "allow-vgpu", "value", "1");
	}
	if (fam->sriov || (tp->flags & T_SRIOV))
		restriction(&sb, "allow-network-sriov", "value", "1");
	bool bios = fam->bios && !(tp->flags & T_NO_BIOS);
	restriction(&sb, "supports-bios", "value", bios ? "yes" : "no");
	restriction(&sb, "supports-uefi", "value", fam->uefi ? "yes" : "no");
	restriction(&sb, "supports-secure-boot", "value", fam->secure_boot ? "yes" : "no");
	sb_puts(&sb, "<restriction property=\"number-of-vbds\" max=\"255\"/>"
		     "<restriction property=\"number-of-vifs\" max=\"7\"/>");
	sb_puts(&sb, "</restrictions>");
	return sb_detach(&sb);
}

static xv tpl_boot_params(const struct tpl *tp)
{
	xv m = xv_map_new();
	xv_map_set_str(&m, "order", families[tp->fam].boot_order);
	xv_map_set_str(&m, "firmware", families[tp->fam].firmware);
	return m;
}

/* ---- records ---- */

static void tpl_set_memory(struct db_txn *t, struct db_obj *vm, const struct tpl *tp)
{
	/* guest-templates-json's rule: min_memory is static_min, the rest twice it */
	int64_t min = tp->min_mib * MiB;
	db_set_int(t, vm, SC_F_VM__memory_static_min, min);
	db_set_int(t, vm, SC_F_VM__memory_dynamic_min, 2 * min);
	db_set_int(t, vm, SC_F_VM__memory_dynamic_max, 2 * min);
	db_set_int(t, vm, SC_F_VM__memory_static_max, 2 * min);
}

static void tpl_set_identity(struct db_txn *t, struct db_obj *vm, const struct tpl *tp)
{
	const struct tpl_family *fam = &families[tp->fam];
	/* the shipped uuid, unless something already holds it */
	if (!db_lookup_uuid(db_txn_db(t), SC_C_VM, tp->uuid))
		db_set_str(t, vm, SC_F_VM__uuid, tp->uuid);
	db_set_str(t, vm, SC_F_VM__name_label, tp->name);
	db_set(t, vm, SC_F_VM__name_description, xv_str_own(xasprintf(fam->description, tp->name)));
	db_set_str(t, vm, SC_F_VM__reference_label, tp->label);
	db_set_bool(t, vm, SC_F_VM__is_a_template, true);
	db_set_bool(t, vm, SC_F_VM__is_default_template, true);
	/* the loader's blank template sets both, whatever the schema defaults */
	db_set_str(t, vm, SC_F_VM__generation_id, fam->generation_id ? fam->generation_id : "");
	db_set_bool(t, vm, SC_F_VM__has_vendor_device, false);
}

static void tpl_create(struct db_txn *t, const struct tpl *tp, int64_t now)
{
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	tpl_set_identity(t, vm, tp);
	db_set_str(t, vm, SC_F_VM__power_state, "Halted");
	tpl_set_memory(t, vm, tp);
	db_set_int(t, vm, SC_F_VM__VCPUs_max, tpl_vcpus(tp));
	db_set_int(t, vm, SC_F_VM__VCPUs_at_startup, tpl_vcpus(tp));
	db_set_str(t, vm, SC_F_VM__actions_after_shutdown, "destroy");
	db_set_str(t, vm, SC_F_VM__actions_after_reboot, "restart");
	db_set_str(t, vm, SC_F_VM__actions_after_crash, "restart");
	db_set_str(t, vm, SC_F_VM__HVM_boot_policy, "BIOS order");
	db_set(t, vm, SC_F_VM__HVM_boot_params, tpl_boot_params(tp));
	db_set_str(t, vm, SC_F_VM__domain_type, "hvm");
	db_set(t, vm, SC_F_VM__platform, tpl_platform(tp));
	db_set(t, vm, SC_F_VM__other_config, tpl_other_config(tp));
	db_set(t, vm, SC_F_VM__recommendations, xv_str_own(tpl_recommendations(tp)));

	/* xapi gives every VM row a metrics row, templates included */
	struct db_obj *m = db_create(t, SC_C_VM_metrics, NULL);
	db_set(t, m, SC_F_VM_metrics__install_time, xv_time(now));
	db_set(t, m, SC_F_VM_metrics__last_updated, xv_time(now));
	db_set_str(t, vm, SC_F_VM__metrics, m->ref);
}

static bool template_named(struct db *db, const char *name)
{
	for (struct db_obj *o = db_first(db, SC_C_VM); o; o = db_next(o))
		if (db_peek_bool(o, SC_F_VM__is_a_template) &&
		    !db_peek_bool(o, SC_F_VM__is_a_snapshot) &&
		    strcmp(db_peek_str(o, SC_F_VM__name_label), name) == 0)
			return true;
	return false;
}

int templates_ensure(struct db_txn *t)
{
	struct db *db = db_txn_db(t);
	int64_t now = (int64_t)time(NULL);
	int created = 0;
	for (size_t i = 0; i < NTEMPLATES; i++) {
		if (template_named(db, templates[i].name))
			continue;
		tpl_create(t, &templates[i], now);
		created++;
	}
	return created;
}
