/* Unit tests of the Xen backend's configuration builder: the
 * libxl_domain_config each kind of VM turns into (PV with a direct kernel or
 * pygrub, PVH, HVM with SeaBIOS or OVMF; disks as qdisk, CDs, VIFs named
 * netback's vif<domid>.<device> on their bridges, xenstore and platform data, the
 * platform flags xapi's hosts map), written by libxl's own JSON generator
 * (libxl_domain_config_to_json) and compared whole against
 * tests/unit/golden/xen/<case>.json; and xapi's errors for what cannot be
 * built. No hypervisor is needed. After a deliberate change, rewrite the
 * files and review the diff:
 *
 *     XENON_REGENERATE_GOLDEN=1 meson test -C build-check test_xen
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/errors_gen.h"
#include "base/mem.h"
#include "xenops/xen_int.h"

static void base_spec(struct vm_spec *s, const char *name)
{
	memset(s, 0, sizeof *s);
	snprintf(s->uuid, sizeof s->uuid, "5f0c3d1e-8a7b-4c2d-9e6f-0a1b2c3d4e5f");
	snprintf(s->ref, sizeof s->ref, "OpaqueRef:1b2c3d4e-0000-4000-8000-000000000001");
	snprintf(s->name, sizeof s->name, "%s", name);
	s->domid = 7;
	s->vcpus_max = 4;
	s->vcpus_at_startup = 2;
	s->memory_static_max = 512LL << 20;
	s->memory_dynamic_max = 384LL << 20;
	s->memory_dynamic_min = 256LL << 20;
	s->platform = xv_map_new();
	s->hvm_boot_params = xv_map_new();
	s->other_config = xv_map_new();
	s->xenstore_data = xv_map_new();
	snprintf(s->firmware, sizeof s->firmware, "bios");
	s->boot_order = xstrdup("cd");
	s->pv_kernel = xstrdup("");
	s->pv_ramdisk = xstrdup("");
	s->pv_args = xstrdup("");
	s->pv_bootloader = xstrdup("");
}

static void add_disk(struct vm_spec *s, int pos, const char *path, const char *fmt, bool ro, bool cd)
{
	s->disks = xrealloc(s->disks, (s->ndisks + 1) * sizeof *s->disks);
	struct vm_disk *d = &s->disks[s->ndisks++];
	memset(d, 0, sizeof *d);
	d->position = pos;
	d->path = path ? xstrdup(path) : NULL;
	snprintf(d->format, sizeof d->format, "%s", fmt);
	d->read_only = ro;
	d->is_cdrom = cd;
}

static void add_nic(struct vm_spec *s, int dev, const char *mac, const char *bridge, int64_t mtu)
{
	s->nics = xrealloc(s->nics, (s->nnics + 1) * sizeof *s->nics);
	struct vm_nic *n = &s->nics[s->nnics++];
	memset(n, 0, sizeof *n);
	n->device = dev;
	snprintf(n->mac, sizeof n->mac, "%s", mac);
	snprintf(n->bridge, sizeof n->bridge, "%s", bridge);
	n->mtu = mtu;
}

static void direct_kernel(struct vm_spec *s)
{
	s->boot = VM_BOOT_DIRECT;
	free(s->pv_kernel);
	free(s->pv_ramdisk);
	free(s->pv_args);
	s->pv_kernel = xstrdup("/var/lib/xenon/guest-kernels/vmlinuz");
	s->pv_ramdisk = xstrdup("/var/lib/xenon/guest-kernels/initrd.img");
	s->pv_args = xstrdup("console=hvc0 quiet");
}

/* ---- the cases ---- */

static void case_pv(struct vm_spec *s)
{
	base_spec(s, "pv-direct");
	direct_kernel(s);
	snprintf(s->domain_type, sizeof s->domain_type, "pv");
	add_disk(s, 0, "/srv/sr/3a1f.qcow2", "qcow2", false, false);
	add_disk(s, 1, "/srv/sr/77c2.img", "raw", true, false);
	add_disk(s, 3, "/srv/iso/tools.iso", "raw", true, true);
	add_disk(s, 2, NULL, "", true, true); /* empty drive: none for PV */
	add_nic(s, 0, "aa:bb:cc:00:11:22", "xenbr0", 0);
	add_nic(s, 1, "02:00:00:00:00:01", "xapi1", 9000);
	xv_map_set_str(&s->xenstore_data, "vm-data/role", "web");
	xv_map_set_str(&s->xenstore_data, "owner", "ops");
	xv_map_set_str(&s->platform, "nx", "true");
}

static void case_pv_pygrub(struct vm_spec *s)
{
	base_spec(s, "pv-pygrub");
	s->boot = VM_BOOT_BOOTLOADER;
	free(s->pv_bootloader);
	s->pv_bootloader = xstrdup("pygrub");
	s->vcpus_max = 1;
	s->vcpus_at_startup = 1;
	add_disk(s, 0, "/srv/sr/9d0e.qcow2", "qcow2", false, false);
	add_nic(s, 0, "aa:bb:cc:00:11:33", "xenbr0", 1500);
}

static void case_pvh(struct vm_spec *s)
{
	base_spec(s, "pvh");
	direct_kernel(s);
	snprintf(s->domain_type, sizeof s->domain_type, "pvh");
	add_disk(s, 0, "/srv/sr/a0b1.qcow2", "qcow2", false, false);
	add_nic(s, 0, "aa:bb:cc:00:11:44", "xenbr0", 0);
}

static void case_hvm_bios(struct vm_spec *s)
{
	base_spec(s, "hvm-bios");
	s->boot = VM_BOOT_FIRMWARE;
	snprintf(s->domain_type, sizeof s->domain_type, "hvm");
	free(s->boot_order);
	s->boot_order = xstrdup("dcn");
	static const char *const plat[][2] = {
		{"acpi", "1"},      {"apic", "true"}, {"pae", "true"},       {"viridian", "false"},
		{"nx", "true"},     {"hpet", "0"},    {"timeoffset", "-3600"}, {"vga", "cirrus"},
		{"videoram", "8"},  {"usb", "false"}, {"nested-virt", "true"}, {"device_id", "0001"},
	};
	for (size_t i = 0; i < sizeof plat / sizeof plat[0]; i++)
		xv_map_set_str(&s->platform, plat[i][0], plat[i][1]);
	add_disk(s, 0, "/srv/sr/c2d3.qcow2", "qcow2", false, false);
	add_disk(s, 3, NULL, "", true, true);
	add_disk(s, 4, "/srv/sr/e4f5.img", "raw", false, false);
	add_nic(s, 0, "aa:bb:cc:00:11:55", "xenbr0", 0);
}

static void case_hvm_uefi(struct vm_spec *s)
{
	base_spec(s, "hvm-uefi");
	s->boot = VM_BOOT_FIRMWARE; /* no domain_type: firmware boot means HVM */
	snprintf(s->firmware, sizeof s->firmware, "uefi");
	add_disk(s, 0, "/srv/sr/f6a7.qcow2", "qcow2", false, false);
	add_disk(s, 1, "/srv/iso/debian.iso", "raw", true, true);
	xv_map_set_str(&s->xenstore_data, "vm-data/mmio-hole-size", "268435456");
}

static const struct golden_case {
	const char *name;
	void (*make)(struct vm_spec *);
} golden_cases[] = {
	{"pv_direct", case_pv},     {"pv_pygrub", case_pv_pygrub}, {"pvh", case_pvh},
	{"hvm_bios", case_hvm_bios}, {"hvm_uefi", case_hvm_uefi},
};
#define NGOLDEN (sizeof golden_cases / sizeof golden_cases[0])

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *p = NULL;
	size_t n = 0, got;
	char chunk[4096];
	while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
		p = xrealloc(p, n + got + 1);
		memcpy(p + n, chunk, got);
		n += got;
	}
	fclose(f);
	if (!p)
		p = xcalloc(1, 1);
	p[n] = 0;
	return p;
}

static void first_difference(const char *name, const char *want, const char *got)
{
	int line = 1;
	const char *w = want, *g = got;
	while (*w && *w == *g) {
		if (*w == '\n')
			line++;
		w++, g++;
	}
	fprintf(stderr, "golden %s: line %d differs\n  expected: %.60s\n  built:    %.60s\n", name, line, w, g);
}

static void test_golden(void **state)
{
	(void)state;
	bool regen = getenv("XENON_REGENERATE_GOLDEN") != NULL;
	int bad = 0;
	for (size_t i = 0; i < NGOLDEN; i++) {
		const struct golden_case *c = &golden_cases[i];
		struct vm_spec s;
		c->make(&s);
		struct xerr err = XERR_INIT;
		char *json = xen_config_json(NULL, &s, &err);
		if (!json)
			fail_msg("golden %s: %s %s", c->name, err.code, err.nparams ? err.params[0] : "");
		size_t len = strlen(json);
		char *text = xasprintf("%s%s", json, len && json[len - 1] == '\n' ? "" : "\n");
		char *path = xasprintf("%s/xen/%s.json", GOLDEN_DIR, c->name);
		if (regen) {
			FILE *f = fopen(path, "w");
			assert_non_null(f);
			fputs(text, f);
			fclose(f);
		} else {
			char *want = read_all(path);
			if (!want) {
				fprintf(stderr, "golden %s: %s is missing\n", c->name, path);
				bad++;
			} else if (strcmp(want, text) != 0) {
				first_difference(c->name, want, text);
				bad++;
			}
			free(want);
		}
		free(path);
		free(text);
		free(json);
		xerr_clear(&err);
		vm_spec_free(&s);
	}
	assert_int_equal(bad, 0);
}

/* Every file in golden/xen belongs to a case. */
static void test_golden_no_strays(void **state)
{
	(void)state;
	char *dir = xasprintf("%s/xen", GOLDEN_DIR);
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	int files = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		bool known = false;
		for (size_t i = 0; i < NGOLDEN && !known; i++) {
			char want[64];
			snprintf(want, sizeof want, "%s.json", golden_cases[i].name);
			known = !strcmp(want, e->d_name);
		}
		if (!known)
			fail_msg("golden/xen/%s belongs to no case", e->d_name);
		files++;
	}
	closedir(d);
	free(dir);
	assert_int_equal(files, (int)NGOLDEN);
}

/* What the built configuration holds, read from libxl's structure itself. */
static void test_config_fields(void **state)
{
	(void)state;
	struct vm_spec s;
	case_pv(&s);
	libxl_domain_config cfg;
	libxl_domain_config_init(&cfg);
	struct xerr err = XERR_INIT;
	assert_int_equal(xen_config_build(&s, &cfg, &err), 0);
	assert_int_equal(cfg.c_info.type, LIBXL_DOMAIN_TYPE_PV);
	assert_int_equal(cfg.c_info.domid, 7);
	assert_int_equal(cfg.b_info.max_memkb, 512 * 1024);
	assert_int_equal(cfg.b_info.target_memkb, 384 * 1024);
	assert_int_equal(cfg.b_info.max_vcpus, 4);
	assert_int_equal(cfg.b_info.avail_vcpus.map[0], 0x3);
	/* the empty CD drive is left out of a PV guest */
	assert_int_equal(cfg.num_disks, 3);
	assert_string_equal(cfg.disks[0].vdev, "xvda");
	assert_int_equal(cfg.disks[0].backend, LIBXL_DISK_BACKEND_QDISK);
	assert_int_equal(cfg.disks[0].format, LIBXL_DISK_FORMAT_QCOW2);
	assert_int_equal(cfg.disks[0].readwrite, 1);
	assert_int_equal(cfg.disks[1].readwrite, 0);
	assert_string_equal(cfg.disks[2].vdev, "xvdd");
	assert_int_equal(cfg.disks[2].is_cdrom, 1);
	assert_int_equal(cfg.num_nics, 2);
	assert_null(cfg.nics[1].ifname); /* netback's vif<domid>.<device> */
	assert_int_equal(cfg.nics[1].devid, 1);
	assert_string_equal(cfg.nics[1].bridge, "xapi1");
	assert_int_equal(cfg.nics[1].mtu, 9000);
	assert_int_equal(cfg.nics[0].mac[5], 0x22);
	/* xenstore data lands under vm-data/, whatever its key said */
	char **kv = cfg.c_info.xsdata;
	assert_string_equal(kv[0], "vm-data/role");
	assert_string_equal(kv[1], "web");
	assert_string_equal(kv[2], "vm-data/owner");
	assert_string_equal(kv[3], "ops");
	assert_null(kv[4]);
	libxl_domain_config_dispose(&cfg);
	vm_spec_free(&s);
}

static void test_domain_type(void **state)
{
	(void)state;
	struct vm_spec s;
	base_spec(&s, "t");
	s.boot = VM_BOOT_DIRECT;
	assert_int_equal(xen_domain_type(&s), LIBXL_DOMAIN_TYPE_PV);
	snprintf(s.domain_type, sizeof s.domain_type, "pv_in_pvh");
	assert_int_equal(xen_domain_type(&s), LIBXL_DOMAIN_TYPE_PVH);
	snprintf(s.domain_type, sizeof s.domain_type, "pvh");
	assert_int_equal(xen_domain_type(&s), LIBXL_DOMAIN_TYPE_PVH);
	s.domain_type[0] = 0;
	s.boot = VM_BOOT_FIRMWARE;
	assert_int_equal(xen_domain_type(&s), LIBXL_DOMAIN_TYPE_HVM);
	vm_spec_free(&s);
}

static void expect_error(struct vm_spec *s, const char *code, const char *param0)
{
	libxl_domain_config cfg;
	libxl_domain_config_init(&cfg);
	struct xerr err = XERR_INIT;
	assert_int_equal(xen_config_build(s, &cfg, &err), -1);
	assert_string_equal(err.code, code);
	if (param0) {
		assert_true(err.nparams > 0);
		assert_string_equal(err.params[0], param0);
	}
	xerr_clear(&err);
	libxl_domain_config_dispose(&cfg);
	vm_spec_free(s);
}

static void test_errors(void **state)
{
	(void)state;
	struct vm_spec s;
	case_hvm_bios(&s);
	xv_map_set_str(&s.platform, "viridian", "maybe");
	expect_error(&s, ERR_INVALID_VALUE, "viridian");

	case_hvm_bios(&s);
	xv_map_set_str(&s.platform, "vga", "qxl-ish");
	expect_error(&s, ERR_INVALID_VALUE, "vga");

	case_hvm_bios(&s);
	xv_map_set_str(&s.platform, "videoram", "-1");
	expect_error(&s, ERR_INVALID_VALUE, "videoram");

	case_pv(&s);
	snprintf(s.nics[1].mac, sizeof s.nics[1].mac, "zz:00:00:00:00:01");
	expect_error(&s, ERR_MAC_INVALID, "zz:00:00:00:00:01");

	case_pv(&s);
	s.disks[0].position = 30;
	expect_error(&s, ERR_INVALID_DEVICE, "30");

	case_pv(&s);
	snprintf(s.disks[0].format, sizeof s.disks[0].format, "vmdk");
	expect_error(&s, ERR_INVALID_VALUE, "format");

	/* HVM asked of a VM booting a kernel, PV of one booting firmware */
	case_pv(&s);
	snprintf(s.domain_type, sizeof s.domain_type, "hvm");
	expect_error(&s, ERR_INVALID_VALUE, "domain_type");
	case_hvm_uefi(&s);
	snprintf(s.domain_type, sizeof s.domain_type, "pv");
	expect_error(&s, ERR_INVALID_VALUE, "domain_type");

	case_pv_pygrub(&s);
	free(s.pv_bootloader);
	s.pv_bootloader = xstrdup("eliloader");
	expect_error(&s, ERR_UNKNOWN_BOOTLOADER, NULL);

	case_pv(&s);
	s.pv_kernel[0] = 0;
	expect_error(&s, ERR_INVALID_VALUE, "PV_kernel");

	case_hvm_uefi(&s);
	snprintf(s.firmware, sizeof s.firmware, "coreboot");
	expect_error(&s, ERR_INVALID_VALUE, "HVM_boot_params:firmware");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_golden_no_strays),
		cmocka_unit_test(test_config_fields),
		cmocka_unit_test(test_domain_type),
		cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
