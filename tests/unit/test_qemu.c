/* Unit tests of the QEMU backend's pure parts: the command line a vm_spec
 * turns into (boot methods, disks and their buses, boot order, vCPU
 * topology, escaping, xapi's errors for what cannot be built) and the QMP
 * client against a fake monitor (greeting, ids matched across interleaved
 * events, errors, timeouts, the peer going away).
 *
 * Whole command lines are compared against golden files, one argument a
 * line, in tests/unit/golden/qemu/<case>.args (see golden_cases below), so
 * an extra, missing or reordered flag fails. After a deliberate change to
 * the command line, rewrite them and review the diff:
 *
 *     XENON_REGENERATE_GOLDEN=1 meson test -C build-check test_qemu
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/mem.h"
#include "xenops/qemu_int.h"
#include "xenops/qmp.h"

/* ---- the command line ---- */

static struct qemu_host host(void)
{
	struct qemu_host h = {0};
	h.binary = xstrdup("qemu-system-x86_64");
	h.accel = xstrdup("kvm:tcg");
	return h;
}

static void spec_init(struct vm_spec *s)
{
	memset(s, 0, sizeof *s);
	snprintf(s->uuid, sizeof s->uuid, "0b8e3b1e-1111-4a4a-9c9c-123456789abc");
	snprintf(s->ref, sizeof s->ref, "OpaqueRef:0b8e3b1e-1111-4a4a-9c9c-123456789abc");
	s->vcpus_max = 4;
	s->vcpus_at_startup = 2;
	s->memory_static_max = 256 << 20;
	s->memory_dynamic_max = 256 << 20;
	s->platform = xv_map_new();
	s->hvm_boot_params = xv_map_new();
	s->other_config = xv_map_new();
	s->boot = VM_BOOT_DIRECT;
	snprintf(s->firmware, sizeof s->firmware, "bios");
	s->boot_order = xstrdup("cd");
	s->pv_kernel = xstrdup("/k/vmlinuz");
	s->pv_ramdisk = xstrdup("/k/initrd.img");
	s->pv_args = xstrdup("console=ttyS0 root=/dev/vda");
	s->pv_bootloader = xstrdup("");
}

static void add_disk(struct vm_spec *s, int pos, const char *path, bool cd, bool ro)
{
	s->disks = xrealloc(s->disks, (s->ndisks + 1) * sizeof *s->disks);
	struct vm_disk *d = &s->disks[s->ndisks++];
	memset(d, 0, sizeof *d);
	d->position = pos;
	d->path = path ? xstrdup(path) : NULL;
	snprintf(d->format, sizeof d->format, "%s", cd ? "raw" : "qcow2");
	d->is_cdrom = cd;
	d->read_only = ro;
}

/* The argument after flag whose value starts with prefix (NULL if none). */
static const char *arg_of(const struct qemu_argv *a, const char *flag, const char *prefix)
{
	for (size_t i = 0; i + 1 < a->n; i++)
		if (!strcmp(a->v[i], flag) && !strncmp(a->v[i + 1], prefix, strlen(prefix)))
			return a->v[i + 1];
	return NULL;
}

static void test_direct_boot(void **state)
{
	(void)state;
	struct qemu_host h = host();
	struct vm_spec s;
	spec_init(&s);
	xv_map_set_str(&s.platform, "cores-per-socket", "2");
	add_disk(&s, 0, "/sr/a,b.qcow2", false, false);
	add_disk(&s, 3, NULL, true, true);
	struct qemu_argv a;
	struct xerr err = XERR_INIT;
	assert_int_equal(qemu_argv_build(&h, &s, "/run/vm/x", false, &a, &err), 0);
	assert_null(a.v[a.n]);
	assert_string_equal(a.v[0], "qemu-system-x86_64");
	assert_non_null(arg_of(&a, "-name", "guest=0b8e3b1e-1111-4a4a-9c9c-123456789abc,"));
	assert_non_null(arg_of(&a, "-accel", "kvm"));
	assert_non_null(arg_of(&a, "-accel", "tcg"));
	assert_string_equal(arg_of(&a, "-m", ""), "256M");
	assert_string_equal(arg_of(&a, "-smp", ""), "cpus=2,maxcpus=4,sockets=2,cores=2,threads=1");
	assert_string_equal(arg_of(&a, "-kernel", ""), "/k/vmlinuz");
	assert_string_equal(arg_of(&a, "-initrd", ""), "/k/initrd.img");
	assert_string_equal(arg_of(&a, "-append", ""), "console=ttyS0 root=/dev/vda");
	assert_string_equal(arg_of(&a, "-pidfile", ""), "/run/vm/x/qemu.pid");
	assert_non_null(arg_of(&a, "-chardev", "socket,id=qmp,path=/run/vm/x/qmp.sock,server=on,wait=off"));
	assert_non_null(arg_of(&a, "-chardev", "socket,id=serial0,path=/run/vm/x/serial.sock,server=on,wait=off,"
					       "logfile=/run/vm/x/serial.log,logappend=on"));
	assert_string_equal(arg_of(&a, "-vnc", ""), "unix:/run/vm/x/vnc.sock");
	/* a comma in a path is doubled; direct boot puts disks on virtio */
	assert_non_null(arg_of(&a, "-blockdev", "driver=file,node-name=vbd0-file,filename=/sr/a,,b.qcow2,read-only=off"));
	assert_non_null(arg_of(&a, "-blockdev", "driver=qcow2,node-name=vbd0,file=vbd0-file,read-only=off"));
	assert_non_null(arg_of(&a, "-device", "virtio-blk-pci,id=vbd0,drive=vbd0"));
	assert_string_equal(arg_of(&a, "-device", "ide-cd"), "ide-cd,bus=ide.1,unit=1,id=vbd3");
	/* unprivileged (uid from the domid), seccomp forbidding fork and exec,
	 * so no -daemonize */
	assert_non_null(arg_of(&a, "-sandbox", "on,obsolete=deny,spawn=deny,resourcecontrol=deny"));
	assert_non_null(arg_of(&a, "-runas", ""));
	assert_true(strcmp(arg_of(&a, "-runas", ""), "0:0") != 0);
	for (size_t i = 0; i < a.n; i++)
		assert_string_not_equal(a.v[i], "-daemonize");
	assert_null(arg_of(&a, "-incoming", ""));
	qemu_argv_free(&a);
	assert_int_equal(qemu_argv_build(&h, &s, "/run/vm/x", true, &a, &err), 0);
	assert_string_equal(arg_of(&a, "-incoming", ""), "defer");
	qemu_argv_free(&a);
	vm_spec_free(&s);
	qemu_host_free(&h);
}

static void test_firmware_boot(void **state)
{
	(void)state;
	struct qemu_host h = host();
	free(h.accel);
	h.accel = NULL; /* no hardware virtualisation: TCG alone */
	struct vm_spec s;
	spec_init(&s);
	s.boot = VM_BOOT_FIRMWARE;
	free(s.boot_order);
	s.boot_order = xstrdup("dc");
	add_disk(&s, 0, "/sr/a.qcow2", false, false);
	add_disk(&s, 1, "/sr/b.qcow2", false, true);
	add_disk(&s, 3, "/iso/x.iso", true, true);
	add_disk(&s, 5, "/sr/c.qcow2", false, false);
	struct qemu_argv a;
	struct xerr err = XERR_INIT;
	assert_int_equal(qemu_argv_build(&h, &s, "/r", false, &a, &err), 0);
	assert_string_equal(arg_of(&a, "-accel", ""), "tcg");
	assert_null(arg_of(&a, "-accel", "kvm"));
	assert_null(arg_of(&a, "-kernel", ""));
	/* order "dc": the CD first, then the disks in device order */
	assert_non_null(arg_of(&a, "-device", "ide-cd,bus=ide.1,unit=1,id=vbd3,drive=vbd3,bootindex=0"));
	assert_non_null(arg_of(&a, "-device", "ide-hd,bus=ide.0,unit=0,id=vbd0,drive=vbd0,bootindex=1"));
	assert_non_null(arg_of(&a, "-device", "ide-hd,bus=ide.0,unit=1,id=vbd1,drive=vbd1,bootindex=2"));
	assert_non_null(arg_of(&a, "-device", "virtio-blk-pci,id=vbd5,drive=vbd5,bootindex=3"));
	assert_non_null(arg_of(&a, "-blockdev", "driver=file,node-name=vbd1-file,filename=/sr/b.qcow2,read-only=on"));
	assert_non_null(arg_of(&a, "-blockdev", "driver=raw,node-name=vbd3,file=vbd3-file,read-only=on"));
	assert_null(arg_of(&a, "-drive", "if=pflash"));
	qemu_argv_free(&a);

	/* UEFI: the code read-only, the VM's own variable store */
	snprintf(s.firmware, sizeof s.firmware, "uefi");
	assert_int_equal(qemu_argv_build(&h, &s, "/r", false, &a, &err), -1);
	assert_string_equal(err.code, "INTERNAL_ERROR");
	xerr_clear(&err);
	h.ovmf_code = xstrdup("/fw/CODE.fd");
	h.ovmf_vars = xstrdup("/fw/VARS.fd");
	assert_int_equal(qemu_argv_build(&h, &s, "/r", false, &a, &err), 0);
	assert_non_null(arg_of(&a, "-drive", "if=pflash,format=raw,unit=0,readonly=on,file=/fw/CODE.fd"));
	assert_non_null(arg_of(&a, "-drive", "if=pflash,format=raw,unit=1,file=/r/OVMF_VARS.fd"));
	qemu_argv_free(&a);
	vm_spec_free(&s);
	qemu_host_free(&h);
}

static void expect_error(struct vm_spec *s, const char *code, const char *p0, const char *p1)
{
	struct qemu_host h = host();
	struct qemu_argv a;
	struct xerr err = XERR_INIT;
	assert_int_equal(qemu_argv_build(&h, s, "/r", false, &a, &err), -1);
	assert_null(a.v);
	assert_string_equal(err.code, code);
	if (p0)
		assert_string_equal(err.params[0], p0);
	if (p1)
		assert_string_equal(err.params[1], p1);
	xerr_clear(&err);
	qemu_host_free(&h);
}

static void test_errors(void **state)
{
	(void)state;
	struct vm_spec s;
	spec_init(&s);
	xv_map_set_str(&s.platform, "cores-per-socket", "3"); /* 4 vCPUs */
	expect_error(&s, "INVALID_VALUE", "platform:cores-per-socket", NULL);
	xv_map_set_str(&s.platform, "cores-per-socket", "2");
	free(s.pv_kernel);
	s.pv_kernel = xstrdup("");
	expect_error(&s, "BOOTLOADER_FAILED", s.ref, NULL);
	s.boot = VM_BOOT_BOOTLOADER;
	free(s.pv_bootloader);
	s.pv_bootloader = xstrdup("pygrub");
	expect_error(&s, "UNKNOWN_BOOTLOADER", s.ref, "pygrub");
	s.boot = VM_BOOT_FIRMWARE;
	snprintf(s.firmware, sizeof s.firmware, "coreboot");
	expect_error(&s, "INVALID_VALUE", "HVM_boot_params:firmware", "coreboot");
	snprintf(s.firmware, sizeof s.firmware, "bios");
	free(s.boot_order);
	s.boot_order = xstrdup("cx");
	expect_error(&s, "INVALID_VALUE", "HVM_boot_params:order", "cx");
	free(s.boot_order);
	s.boot_order = xstrdup("c");
	add_disk(&s, 5, "/iso/x.iso", true, true); /* CD drives live on IDE: 0-3 */
	expect_error(&s, "INVALID_DEVICE", "5", NULL);
	vm_spec_free(&s);
}

/* ---- whole command lines against golden files ---- */

/* Everything the argv depends on is fixed here: no host probing, no
 * environment, the run directory named after the spec's uuid. */
#define RUN_DIR "/run/xenon/vm/0b8e3b1e-1111-4a4a-9c9c-123456789abc"

static void add_nic(struct vm_spec *s, int device, const char *mac)
{
	s->nics = xrealloc(s->nics, (s->nnics + 1) * sizeof *s->nics);
	struct vm_nic *n = &s->nics[s->nnics++];
	memset(n, 0, sizeof *n);
	n->device = device;
	snprintf(n->mac, sizeof n->mac, "%s", mac);
	snprintf(n->bridge, sizeof n->bridge, "xenbr0");
}

/* A firmware-booted (HVM) guest with BIOS and one disk and a CD. */
static void hvm(struct qemu_host *h, struct vm_spec *s)
{
	(void)h;
	s->boot = VM_BOOT_FIRMWARE;
	add_disk(s, 0, "/sr/5f0c/disk0.qcow2", false, false);
	add_disk(s, 3, "/iso/debian.iso", true, true);
}

static void case_hvm_bios(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)incoming;
	hvm(h, s);
}

static void case_hvm_uefi(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)incoming;
	hvm(h, s);
	snprintf(s->firmware, sizeof s->firmware, "uefi");
	h->ovmf_code = xstrdup("/usr/share/OVMF/OVMF_CODE_4M.fd");
	h->ovmf_vars = xstrdup("/usr/share/OVMF/OVMF_VARS_4M.fd");
}

/* No hardware virtualisation and no XENON_QEMU_ACCEL: TCG alone; a
 * Cirrus card asked for by platform:vga. */
static void case_hvm_tcg_cirrus(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)incoming;
	hvm(h, s);
	free(h->accel);
	h->accel = NULL;
	h->kvm = false;
	xv_map_set_str(&s->platform, "vga", "cirrus");
}

/* Hardware virtualisation found, no accel configured: kvm then tcg. */
static void case_hvm_kvm_probed(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)incoming;
	hvm(h, s);
	free(h->accel);
	h->accel = NULL;
	h->kvm = true;
}

/* Direct kernel boot with initrd and command line; disks on virtio; a
 * comma in a path doubled. */
static void case_direct_kernel(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)h;
	(void)incoming;
	add_disk(s, 0, "/sr/5f0c/root,1.qcow2", false, false);
	add_disk(s, 1, "/sr/5f0c/data.raw", false, true);
	snprintf(s->disks[1].format, sizeof s->disks[1].format, "raw");
}

/* Direct boot with only a kernel: no -initrd, no -append. */
static void case_direct_kernel_only(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)h;
	(void)incoming;
	free(s->pv_ramdisk);
	s->pv_ramdisk = xstrdup("");
	free(s->pv_args);
	s->pv_args = xstrdup("");
}

/* Several disks and CDs, boot order "dc": IDE for the first four
 * positions, virtio beyond; an empty CD drive; a read-only disk. */
static void case_disks_and_cds(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)h;
	(void)incoming;
	s->boot = VM_BOOT_FIRMWARE;
	free(s->boot_order);
	s->boot_order = xstrdup("dc");
	add_disk(s, 0, "/sr/5f0c/a.qcow2", false, false);
	add_disk(s, 1, "/sr/5f0c/b.qcow2", false, true);
	add_disk(s, 2, NULL, true, true);
	add_disk(s, 3, "/iso/x.iso", true, true);
	add_disk(s, 4, "/sr/5f0c/c.qcow2", false, false);
	add_disk(s, 7, "/sr/5f0c/d.qcow2", false, false);
}

/* Disks reached in userspace: an NFS share and an NBD export. */
static void case_share_disks(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)h;
	(void)incoming;
	add_disk(s, 0, "nfs://filer/export/sr/a.qcow2", false, false);
	add_disk(s, 1, "nbd+unix:///iso?socket=/run/xenon/smb/1.sock", false, true);
	snprintf(s->disks[1].format, sizeof s->disks[1].format, "raw");
}

/* Three NICs of a firmware-booted guest (rtl8139 by default). */
static void case_nics_hvm(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)incoming;
	hvm(h, s);
	s->domid = 7;
	add_nic(s, 0, "aa:bb:cc:00:00:01");
	add_nic(s, 1, "aa:bb:cc:00:00:02");
	add_nic(s, 4, "aa:bb:cc:00:00:05");
}

/* Boot order "dnc": the CD first, then the NICs in device order (their
 * iPXE ROM), then the disk; the NICs get bootindex 1 and 2. */
static void case_nics_pxe(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)incoming;
	hvm(h, s);
	s->domid = 9;
	free(s->boot_order);
	s->boot_order = xstrdup("dnc");
	add_nic(s, 3, "aa:bb:cc:00:02:04");
	add_nic(s, 0, "aa:bb:cc:00:02:01");
}

/* NICs of a direct-boot guest (virtio), and a model from platform:nic_type. */
static void case_nics_model(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)h;
	(void)incoming;
	s->domid = 12;
	add_nic(s, 0, "aa:bb:cc:00:01:01");
	add_nic(s, 1, "aa:bb:cc:00:01:02");
	xv_map_set_str(&s->platform, "nic_type", "e1000");
}

/* NICs on tunnelled networks: a virtio NIC without offloads, one on a
 * plain network beside it; an emulated card has no such switch. */
static void case_nics_tunnel(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)h;
	(void)incoming;
	s->domid = 13;
	add_nic(s, 0, "aa:bb:cc:00:03:01");
	add_nic(s, 1, "aa:bb:cc:00:03:02");
	s->nics[0].tunnelled = true;
	s->nics[0].mtu = 1450;
}

static void case_nics_tunnel_model(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	case_nics_tunnel(h, s, incoming);
	xv_map_set_str(&s->platform, "nic_type", "e1000");
}

/* One vCPU, no topology; memory rounded up to whole MiB. */
static void case_vcpu_one(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)h;
	(void)incoming;
	s->vcpus_max = 1;
	s->vcpus_at_startup = 1;
	s->memory_static_max = (100 << 20) + 1;
}

/* More at startup than the maximum (clamped), sockets of 4 cores, 8 GiB. */
static void case_vcpu_topology(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)h;
	(void)incoming;
	s->vcpus_max = 8;
	s->vcpus_at_startup = 12;
	s->memory_static_max = 8LL << 30;
	xv_map_set_str(&s->platform, "cores-per-socket", "4");
}

/* Too little memory: 16 MiB at least; unset vCPU counts: one. */
static void case_memory_floor(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	(void)h;
	(void)incoming;
	s->vcpus_max = 0;
	s->vcpus_at_startup = 0;
	s->memory_static_max = 4 << 20;
}

/* Resume: QEMU waits for the migration stream. */
static void case_resume(struct qemu_host *h, struct vm_spec *s, bool *incoming)
{
	hvm(h, s);
	*incoming = true;
}

static const struct golden_case {
	const char *name;
	void (*setup)(struct qemu_host *h, struct vm_spec *s, bool *incoming);
} golden_cases[] = {
	{"hvm_bios", case_hvm_bios},
	{"hvm_uefi", case_hvm_uefi},
	{"hvm_tcg_cirrus", case_hvm_tcg_cirrus},
	{"hvm_kvm_probed", case_hvm_kvm_probed},
	{"direct_kernel", case_direct_kernel},
	{"direct_kernel_only", case_direct_kernel_only},
	{"disks_and_cds", case_disks_and_cds},
	{"share_disks", case_share_disks},
	{"nics_hvm", case_nics_hvm},
	{"nics_model", case_nics_model},
	{"nics_pxe", case_nics_pxe},
	{"nics_tunnel", case_nics_tunnel},
	{"nics_tunnel_model", case_nics_tunnel_model},
	{"vcpu_one", case_vcpu_one},
	{"vcpu_topology", case_vcpu_topology},
	{"memory_floor", case_memory_floor},
	{"resume", case_resume},
};
#define NGOLDEN (sizeof golden_cases / sizeof golden_cases[0])

static char *golden_path(const char *name)
{
	return xasprintf("%s/qemu/%s.args", GOLDEN_DIR, name);
}

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

/* The argv one argument a line; an argument holding a newline could not
 * be told apart, so none may. */
static char *argv_text(const struct qemu_argv *a)
{
	size_t len = 1;
	for (size_t i = 0; i < a->n; i++) {
		assert_null(strchr(a->v[i], '\n'));
		len += strlen(a->v[i]) + 1;
	}
	char *t = xcalloc(1, len), *p = t;
	for (size_t i = 0; i < a->n; i++)
		p += sprintf(p, "%s\n", a->v[i]);
	return t;
}

/* Line number (from 1) of the first difference, and both lines. */
static void report_difference(const char *name, const char *want, const char *got)
{
	int line = 1;
	const char *w = want, *g = got;
	while (*w && *g) {
		const char *we = strchr(w, '\n'), *ge = strchr(g, '\n');
		size_t wl = we ? (size_t)(we - w) : strlen(w), gl = ge ? (size_t)(ge - g) : strlen(g);
		if (wl != gl || memcmp(w, g, wl) != 0)
			break;
		w += wl + (we ? 1 : 0);
		g += gl + (ge ? 1 : 0);
		line++;
	}
	fprintf(stderr, "golden %s: line %d differs\n  expected: %.*s\n  built:    %.*s\n", name, line,
		(int)strcspn(w, "\n"), *w ? w : "(end of file)", (int)strcspn(g, "\n"), *g ? g : "(end of argv)");
	fprintf(stderr, "whole argv built for %s:\n%s", name, got);
	fprintf(stderr, "if the change is meant: XENON_REGENERATE_GOLDEN=1 meson test -C <build> test_qemu\n");
}

static void test_golden(void **state)
{
	(void)state;
	const char *regen = getenv("XENON_REGENERATE_GOLDEN");
	bool write = regen && *regen && strcmp(regen, "0") != 0;
	int failed = 0;
	for (size_t i = 0; i < NGOLDEN; i++) {
		const struct golden_case *c = &golden_cases[i];
		struct qemu_host h = host();
		struct vm_spec s;
		spec_init(&s);
		bool incoming = false;
		c->setup(&h, &s, &incoming);
		struct qemu_argv a;
		struct xerr err = XERR_INIT;
		if (qemu_argv_build(&h, &s, RUN_DIR, incoming, &a, &err) < 0)
			fail_msg("golden %s: %s %s", c->name, err.code, err.nparams ? err.params[0] : "");
		char *got = argv_text(&a), *path = golden_path(c->name);
		if (write) {
			FILE *f = fopen(path, "w");
			if (!f)
				fail_msg("cannot write %s: %s", path, strerror(errno));
			fputs(got, f);
			assert_int_equal(fclose(f), 0);
		} else {
			char *want = read_all(path);
			if (!want) {
				fprintf(stderr, "golden %s: %s is missing\n", c->name, path);
				failed++;
			} else if (strcmp(want, got) != 0) {
				report_difference(c->name, want, got);
				failed++;
			}
			free(want);
		}
		free(got);
		free(path);
		qemu_argv_free(&a);
		vm_spec_free(&s);
		qemu_host_free(&h);
	}
	assert_int_equal(failed, 0);
}

/* Every file in golden/qemu belongs to a case: a case renamed or removed
 * leaves no file that nothing checks. */
static void test_golden_no_strays(void **state)
{
	(void)state;
	char *dir = xasprintf("%s/qemu", GOLDEN_DIR);
	DIR *d = opendir(dir);
	assert_non_null(d);
	int strays = 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		bool known = false;
		for (size_t i = 0; i < NGOLDEN && !known; i++) {
			size_t cn = strlen(golden_cases[i].name);
			known = n == cn + 5 && !strncmp(e->d_name, golden_cases[i].name, cn) &&
				!strcmp(e->d_name + cn, ".args");
		}
		if (!known) {
			fprintf(stderr, "%s/%s belongs to no case of test_qemu.c\n", dir, e->d_name);
			strays++;
		}
	}
	closedir(d);
	free(dir);
	assert_int_equal(strays, 0);
}

/* ---- QMP against a fake monitor ---- */

struct fake {
	char path[108];
	int listen_fd;
	pthread_t thread;
	int mode; /* 0: well-behaved; 1: close after capabilities */
};

static void say(int fd, const char *line)
{
	size_t n = strlen(line);
	assert_int_equal(write(fd, line, n), (ssize_t)n);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int fd = accept(f->listen_fd, NULL, NULL);
	say(fd, "{\"QMP\": {\"version\": {}, \"capabilities\": []}}\n");
	FILE *in = fdopen(dup(fd), "r");
	char line[4096];
	while (fgets(line, sizeof line, in)) {
		json_t *m = json_loads(line, 0, NULL);
		const char *cmd = json_string_value(json_object_get(m, "execute"));
		json_int_t id = json_integer_value(json_object_get(m, "id"));
		char out[512];
		if (!strcmp(cmd, "qmp_capabilities")) {
			snprintf(out, sizeof out, "{\"return\": {}, \"id\": %lld}\n", (long long)id);
			say(fd, out);
			if (f->mode == 1) {
				json_decref(m);
				break;
			}
		} else if (!strcmp(cmd, "query-status")) {
			/* an event and a stray reply come first */
			say(fd, "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": true, \"reason\": \"guest-reset\"}}\n");
			say(fd, "{\"return\": {}, \"id\": 99999}\n");
			snprintf(out, sizeof out, "{\"return\": {\"status\": \"running\"}, \"id\": %lld}\n", (long long)id);
			say(fd, out);
		} else if (!strcmp(cmd, "query-limits")) {
			/* QEMU's unsigned 64-bit "no limit", past jansson's integers,
			 * beside a string that looks like one */
			snprintf(out, sizeof out,
				 "{\"return\": {\"max\": 18446744073709551615, \"small\": 42, "
				 "\"name\": \"99999999999999999999 \\\" x\", \"ratio\": 1.5e3}, \"id\": %lld}\n",
				 (long long)id);
			say(fd, out);
		} else if (!strcmp(cmd, "bogus")) {
			snprintf(out, sizeof out,
				 "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command bogus has not been found\"}, \"id\": %lld}\n",
				 (long long)id);
			say(fd, out);
		} /* "silent": no reply at all */
		json_decref(m);
	}
	fclose(in);
	close(fd);
	return NULL;
}

static void fake_start(struct fake *f, int mode)
{
	memset(f, 0, sizeof *f);
	f->mode = mode;
	snprintf(f->path, sizeof f->path, "/tmp/xenon-qmp-test-%d.sock", (int)getpid());
	unlink(f->path);
	f->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	strcpy(sa.sun_path, f->path);
	assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&sa, sizeof sa), 0);
	assert_int_equal(listen(f->listen_fd, 1), 0);
	pthread_create(&f->thread, NULL, fake_main, f);
}

static void fake_stop(struct fake *f)
{
	pthread_join(f->thread, NULL);
	close(f->listen_fd);
	unlink(f->path);
}

struct seen {
	pthread_mutex_t lock;
	char last_event[64], reason[64];
	int closed;
};

static void on_event(void *arg, const char *name, json_t *data)
{
	struct seen *s = arg;
	pthread_mutex_lock(&s->lock);
	snprintf(s->last_event, sizeof s->last_event, "%s", name);
	const char *r = json_string_value(json_object_get(data, "reason"));
	snprintf(s->reason, sizeof s->reason, "%s", r ? r : "");
	pthread_mutex_unlock(&s->lock);
}

static void on_closed(void *arg)
{
	struct seen *s = arg;
	pthread_mutex_lock(&s->lock);
	s->closed++;
	pthread_mutex_unlock(&s->lock);
}

static void test_qmp_client(void **state)
{
	(void)state;
	struct fake f;
	fake_start(&f, 0);
	struct seen seen = {.lock = PTHREAD_MUTEX_INITIALIZER};
	struct qmp_handlers h = {.event = on_event, .closed = on_closed, .arg = &seen};
	struct xerr err = XERR_INIT;
	struct qmp *q = qmp_open(f.path, 2000, &h, &err);
	assert_non_null(q);
	json_t *ret = NULL;
	assert_int_equal(qmp_exec(q, "query-status", NULL, &ret, 2000, &err), 0);
	assert_string_equal(json_string_value(json_object_get(ret, "status")), "running");
	json_decref(ret);
	/* the event came before the reply, so it has been delivered */
	assert_string_equal(seen.last_event, "SHUTDOWN");
	assert_string_equal(seen.reason, "guest-reset");
	assert_int_equal(qmp_exec(q, "query-limits", NULL, &ret, 2000, &err), 0);
	assert_int_equal(json_integer_value(json_object_get(ret, "max")), INT64_MAX);
	assert_int_equal(json_integer_value(json_object_get(ret, "small")), 42);
	assert_string_equal(json_string_value(json_object_get(ret, "name")), "99999999999999999999 \" x");
	assert_true(json_real_value(json_object_get(ret, "ratio")) == 1500.0);
	json_decref(ret);
	assert_int_equal(qmp_exec(q, "bogus", NULL, NULL, 2000, &err), -1);
	assert_string_equal(err.code, "INTERNAL_ERROR");
	assert_non_null(strstr(err.params[0], "The command bogus has not been found"));
	xerr_clear(&err);
	assert_int_equal(qmp_exec(q, "silent", NULL, NULL, 200, &err), -1);
	assert_non_null(strstr(err.params[0], "no reply within 200 ms"));
	xerr_clear(&err);
	assert_false(qmp_is_closed(q));
	qmp_close(q); /* ours: no closed callback */
	fake_stop(&f);
	assert_int_equal(seen.closed, 0);

	/* the peer goes away: callback, and commands fail at once */
	fake_start(&f, 1);
	q = qmp_open(f.path, 2000, &h, &err);
	assert_non_null(q);
	fake_stop(&f);
	for (int i = 0; i < 200 && !qmp_is_closed(q); i++)
		usleep(10000);
	assert_true(qmp_is_closed(q));
	assert_int_equal(seen.closed, 1);
	assert_int_equal(qmp_exec(q, "query-status", NULL, NULL, 2000, &err), -1);
	assert_non_null(strstr(err.params[0], "closed"));
	xerr_clear(&err);
	qmp_close(q);

	/* nobody listening */
	assert_null(qmp_open("/nonexistent/qmp.sock", 200, NULL, &err));
	assert_string_equal(err.code, "INTERNAL_ERROR");
	xerr_clear(&err);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_direct_boot),
		cmocka_unit_test(test_firmware_boot),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_golden),
		cmocka_unit_test(test_golden_no_strays),
		cmocka_unit_test(test_qmp_client),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
