/* qemu_argv: a VM's QEMU command line, built from its vm_spec. Every path is
 * absolute (-daemonize changes to "/"), every device has a stable id named
 * after its Xen counterpart (vbd<position>) so QMP can find it later. */
#include "qemu_disk.h"
#include "qemu_int.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void push(struct qemu_argv *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void push(struct qemu_argv *a, const char *fmt, ...)
{
	if (a->n + 2 > a->cap) {
		a->cap = a->cap ? a->cap * 2 : 64;
		a->v = xrealloc(a->v, a->cap * sizeof *a->v);
	}
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&a->v[a->n], fmt, ap) < 0)
		abort();
	va_end(ap);
	a->n++;
	a->v[a->n] = NULL;
}

void qemu_argv_free(struct qemu_argv *a)
{
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i]);
	free(a->v);
	memset(a, 0, sizeof *a);
}

/* A value inside a QEMU option list: commas are doubled. Owned. */
static char *esc(const char *s)
{
	struct strbuf sb = {0};
	for (; *s; s++) {
		if (*s == ',')
			sb_putc(&sb, ',');
		sb_putc(&sb, *s);
	}
	return sb_detach(&sb);
}

static void host_accel(const struct qemu_host *h, struct qemu_argv *a)
{
	/* "kvm:tcg": each in turn, QEMU takes the first that initialises */
	const char *spec = h->accel ? h->accel : h->kvm ? "kvm:tcg" : "tcg";
	char *copy = xstrdup(spec), *save = NULL;
	for (char *tok = strtok_r(copy, ":", &save); tok; tok = strtok_r(NULL, ":", &save)) {
		push(a, "-accel");
		push(a, "%s", tok);
	}
	free(copy);
}

static int64_t platform_int(const struct vm_spec *vm, const char *key, int64_t dflt)
{
	const char *s = xv_map_get_str(&vm->platform, key);
	if (!s || !*s)
		return dflt;
	char *end;
	long long v = strtoll(s, &end, 10);
	return *end ? -1 : v;
}

static int add_cpus(const struct vm_spec *vm, struct qemu_argv *a, struct xerr *err)
{
	int64_t max = vm->vcpus_max > 0 ? vm->vcpus_max : 1;
	int64_t now = vm->vcpus_at_startup > 0 ? vm->vcpus_at_startup : 1;
	if (now > max)
		now = max;
	int64_t cps = platform_int(vm, "cores-per-socket", 0);
	if (cps < 0 || (cps > 0 && max % cps != 0))
		/* xapi's Vm_platform check, same words */
		return xerr_set(err, ERR_INVALID_VALUE, "platform:cores-per-socket",
				"VCPUs_max must be a multiple of this field", NULL);
	if (cps > 0)
		push(a, "cpus=%lld,maxcpus=%lld,sockets=%lld,cores=%lld,threads=1", (long long)now,
		     (long long)max, (long long)(max / cps), (long long)cps);
	else
		push(a, "cpus=%lld,maxcpus=%lld", (long long)now, (long long)max);
	return 0;
}

static bool format_ok(const char *f)
{
	if (!*f)
		return false;
	for (; *f; f++)
		if (!islower((unsigned char)*f) && !isdigit((unsigned char)*f))
			return false;
	return true;
}

/* A disk on a share an SR driver reaches in userspace (an nfs:// or
 * nbd+unix:// URL, qemu_disk.c), as -blockdev JSON. */
static int push_share(struct qemu_argv *a, const struct vm_disk *d, bool ro, struct xerr *err)
{
	json_t *file = qemu_disk_file_node(d->path);
	if (!file)
		return xerr_internal(err, "disk %d: cannot open '%s'", d->position, d->path);
	char node[32];
	snprintf(node, sizeof node, "vbd%d-file", d->position);
	json_object_set_new(file, "node-name", json_string(node));
	json_object_set_new(file, "read-only", json_boolean(ro));
	char *js = json_dumps(file, JSON_COMPACT);
	json_decref(file);
	push(a, "%s", js);
	free(js);
	return 0;
}

/* Where a disk goes: emulated IDE for the first four devices of a
 * firmware-booted VM (what an HVM guest without drivers boots from, as
 * qemu-trad gives Xen HVM guests), virtio for the rest and for direct-boot
 * guests, whose kernels bring their drivers as Xen PV guests do. CD drives
 * are always IDE. */
static int add_disk(const struct vm_spec *vm, const struct vm_disk *d, int bootindex,
		    struct qemu_argv *a, struct xerr *err)
{
	char pos[16];
	snprintf(pos, sizeof pos, "%d", d->position);
	bool ide = d->is_cdrom || (vm->boot == VM_BOOT_FIRMWARE && d->position < 4);
	if (d->position < 0 || (ide && d->position >= 4))
		return xerr_set(err, ERR_INVALID_DEVICE, pos, NULL);
	const char *ro = d->read_only || d->is_cdrom ? "on" : "off";
	if (d->path) {
		if (!format_ok(d->format))
			return xerr_internal(err, "disk %d: unknown image format '%s'", d->position, d->format);
		push(a, "-blockdev");
		if (d->path[0] == '/') {
			char *p = esc(d->path);
			push(a, "driver=file,node-name=vbd%d-file,filename=%s,read-only=%s", d->position, p,
			     ro);
			free(p);
		} else if (push_share(a, d, ro[1] == 'n', err) < 0) {
			return -1;
		}
		push(a, "-blockdev");
		push(a, "driver=%s,node-name=vbd%d,file=vbd%d-file,read-only=%s", d->format, d->position,
		     d->position, ro);
	}
	char drive[32] = "", boot[32] = "";
	if (d->path)
		snprintf(drive, sizeof drive, ",drive=vbd%d", d->position);
	if (bootindex >= 0)
		snprintf(boot, sizeof boot, ",bootindex=%d", bootindex);
	push(a, "-device");
	if (ide)
		push(a, "%s,bus=ide.%d,unit=%d,id=vbd%d%s%s", d->is_cdrom ? "ide-cd" : "ide-hd",
		     d->position / 2, d->position % 2, d->position, drive, boot);
	else
		push(a, "virtio-blk-pci,id=vbd%d%s%s", d->position, drive, boot);
	return 0;
}

/* Boot priority from HVM_boot_params order: c = the disks, d = the CD
 * drives, n = the NICs (PXE through the model's iPXE ROM), each group in
 * device order. */
static int order_rank(const struct vm_spec *vm, char what)
{
	if (vm->boot != VM_BOOT_FIRMWARE)
		return -1;
	const char *order = vm->boot_order && *vm->boot_order ? vm->boot_order : "cd";
	const char *at = strchr(order, what);
	return at ? (int)(at - order) : -1;
}

static int boot_rank(const struct vm_spec *vm, const struct vm_disk *d)
{
	return order_rank(vm, d->is_cdrom ? 'd' : 'c');
}

/* How many NICs boot before rank (all of them share the rank of n). */
static int nics_before(const struct vm_spec *vm, int rank)
{
	int n = order_rank(vm, 'n');
	return n >= 0 && n < rank ? (int)vm->nnics : 0;
}

/* The bootindex of NIC i: after the disks and CDs ranked before n, in
 * device order; -1 when n is not in the order. */
static int nic_bootindex(const struct vm_spec *vm, size_t i)
{
	int rank = order_rank(vm, 'n');
	if (rank < 0)
		return -1;
	int idx = 0;
	for (size_t j = 0; j < vm->ndisks; j++) {
		int r = boot_rank(vm, &vm->disks[j]);
		if (r >= 0 && r < rank)
			idx++;
	}
	for (size_t j = 0; j < vm->nnics; j++)
		if (vm->nics[j].device < vm->nics[i].device)
			idx++;
	return idx;
}

static int add_disks(const struct vm_spec *vm, struct qemu_argv *a, struct xerr *err)
{
	/* bootindex: rank first, then device order within a rank */
	for (size_t i = 0; i < vm->ndisks; i++) {
		const struct vm_disk *d = &vm->disks[i];
		int rank = boot_rank(vm, d), idx = -1;
		if (rank >= 0) {
			idx = nics_before(vm, rank);
			for (size_t j = 0; j < vm->ndisks; j++) {
				int r = boot_rank(vm, &vm->disks[j]);
				if (r >= 0 && (r < rank || (r == rank && vm->disks[j].position < d->position)))
					idx++;
			}
		}
		if (add_disk(vm, d, idx, a, err) < 0)
			return -1;
	}
	return 0;
}

static int add_boot(const struct qemu_host *h, const struct vm_spec *vm, const char *dir,
		    struct qemu_argv *a, struct xerr *err)
{
	switch (vm->boot) {
	case VM_BOOT_FIRMWARE:
		if (!strcmp(vm->firmware, "uefi")) {
			if (!h->ovmf_code)
				return xerr_internal(err, "UEFI firmware (OVMF) is not installed on this host");
			char *code = esc(h->ovmf_code), *vars = esc(dir);
			push(a, "-drive");
			push(a, "if=pflash,format=raw,unit=0,readonly=on,file=%s", code);
			push(a, "-drive");
			push(a, "if=pflash,format=raw,unit=1,file=%s/OVMF_VARS.fd", vars);
			free(code);
			free(vars);
		} else if (strcmp(vm->firmware, "bios") != 0) {
			return xerr_set(err, ERR_INVALID_VALUE, "HVM_boot_params:firmware", vm->firmware, NULL);
		}
		for (const char *o = vm->boot_order ? vm->boot_order : ""; *o; o++)
			if (!strchr("cdn", *o))
				return xerr_set(err, ERR_INVALID_VALUE, "HVM_boot_params:order",
						vm->boot_order, NULL);
		return 0;
	case VM_BOOT_DIRECT:
		if (!vm->pv_kernel || !*vm->pv_kernel)
			return xerr_set(err, ERR_BOOTLOADER_FAILED, vm->ref,
					"PV_kernel is empty: there is no kernel to boot", NULL);
		push(a, "-kernel");
		push(a, "%s", vm->pv_kernel);
		if (vm->pv_ramdisk && *vm->pv_ramdisk) {
			push(a, "-initrd");
			push(a, "%s", vm->pv_ramdisk);
		}
		if (vm->pv_args && *vm->pv_args) {
			push(a, "-append");
			push(a, "%s", vm->pv_args);
		}
		return 0;
	case VM_BOOT_BOOTLOADER:
		/* TODO(pygrub): extract the kernel from the boot disk */
		return xerr_set(err, ERR_UNKNOWN_BOOTLOADER, vm->ref, vm->pv_bootloader, NULL);
	}
	return 0;
}

int qemu_argv_build(const struct qemu_host *h, const struct vm_spec *vm, const char *dir,
		    bool incoming, struct qemu_argv *a, struct xerr *err)
{
	memset(a, 0, sizeof *a);
	char *d = esc(dir);
	int64_t mib = (vm->memory_static_max + (1 << 20) - 1) >> 20;
	if (mib < 16)
		mib = 16;
	push(a, "%s", h->binary);
	push(a, "-name");
	push(a, "guest=%s,debug-threads=on", vm->uuid);
	push(a, "-uuid");
	push(a, "%s", vm->uuid);
	push(a, "-no-user-config");
	push(a, "-nodefaults");
	push(a, "-machine");
	push(a, "pc");
	host_accel(h, a);
	push(a, "-cpu");
	push(a, "max");
	push(a, "-m");
	push(a, "%lldM", (long long)mib);
	push(a, "-smp");
	if (add_cpus(vm, a, err) < 0)
		goto fail;
	/* the guest's shutdown, reboot and panic stop it and wait for us: the
	 * VM's actions_after_* decide, as a Xen domain stays "shutdown" until
	 * the toolstack reaps it */
	push(a, "-action");
	push(a, "reboot=shutdown,shutdown=pause,panic=pause");
	/* seccomp; elevateprivileges=deny and spawn=deny would forbid
	 * -daemonize's setsid and fork */
	push(a, "-sandbox");
	push(a, "on,obsolete=deny,resourcecontrol=deny");
	push(a, "-rtc");
	push(a, "base=utc");
	push(a, "-S");
	push(a, "-daemonize");
	push(a, "-pidfile");
	push(a, "%s/qemu.pid", dir);
	push(a, "-chardev");
	push(a, "socket,id=qmp,path=%s/qmp.sock,server=on,wait=off", d);
	push(a, "-mon");
	push(a, "chardev=qmp,mode=control");
	/* the log file gets every byte whether or not a console client is
	 * connected, and the guest never blocks on it */
	push(a, "-chardev");
	push(a, "socket,id=serial0,path=%s/serial.sock,server=on,wait=off,logfile=%s/serial.log,logappend=on",
	     d, d);
	push(a, "-serial");
	push(a, "chardev:serial0");
	push(a, "-display");
	push(a, "none");
	push(a, "-vnc");
	push(a, "unix:%s/vnc.sock", d);
	const char *vga = xv_map_get_str(&vm->platform, "vga");
	push(a, "-device");
	push(a, "%s", vga && !strcmp(vga, "cirrus") ? "cirrus-vga" : "VGA");
	push(a, "-device");
	push(a, "pvpanic");
	push(a, "-device");
	push(a, "virtio-balloon-pci,id=balloon0");
	push(a, "-device");
	push(a, "virtio-serial-pci,id=vser0");
	push(a, "-chardev");
	push(a, "socket,id=ga0,path=%s/ga.sock,server=on,wait=off", d);
	push(a, "-device");
	push(a, "virtserialport,bus=vser0.0,chardev=ga0,name=org.qemu.guest_agent.0");
	if (add_boot(h, vm, dir, a, err) < 0 || add_disks(vm, a, err) < 0)
		goto fail;
	/* the taps exist already (qemu_net.c): QEMU only opens them */
	for (size_t i = 0; i < vm->nnics; i++) {
		char *netdev = qemu_nic_netdev_opts(vm, &vm->nics[i]), *dev = qemu_nic_device_opts(vm, &vm->nics[i]);
		push(a, "-netdev");
		push(a, "%s", netdev);
		push(a, "-device");
		int boot = nic_bootindex(vm, i);
		if (boot >= 0)
			push(a, "%s,bootindex=%d", dev, boot);
		else
			push(a, "%s", dev);
		free(netdev);
		free(dev);
	}
	if (incoming) {
		push(a, "-incoming");
		push(a, "defer");
	}
	free(d);
	return 0;
fail:
	free(d);
	qemu_argv_free(a);
	return -1;
}

static bool hw_virt(void)
{
	/* /dev/kvm alone is not enough: a paravirtualised KVM (kvm-pvm, in
	 * some cloud sandboxes) opens fine and then hangs guests. Hardware
	 * virtualisation shows as vmx or svm. */
	if (access("/dev/kvm", R_OK | W_OK) != 0)
		return false;
	FILE *f = fopen("/proc/cpuinfo", "r");
	if (!f)
		return false;
	char line[4096];
	bool found = false;
	while (!found && fgets(line, sizeof line, f)) {
		if (strncmp(line, "flags", 5) != 0)
			continue;
		for (char *save = NULL, *t = strtok_r(line, " \t\n", &save); t && !found;
		     t = strtok_r(NULL, " \t\n", &save))
			found = !strcmp(t, "vmx") || !strcmp(t, "svm");
		break;
	}
	fclose(f);
	return found;
}

void qemu_host_probe(struct qemu_host *h)
{
	memset(h, 0, sizeof *h);
	const char *b = getenv("XENON_QEMU");
	h->binary = xstrdup(b && *b ? b : "qemu-system-x86_64");
	const char *acc = getenv("XENON_QEMU_ACCEL");
	h->accel = acc && *acc ? xstrdup(acc) : NULL;
	h->kvm = hw_virt();
	static const char *const pairs[][2] = {
		{"/usr/share/OVMF/OVMF_CODE_4M.fd", "/usr/share/OVMF/OVMF_VARS_4M.fd"},
		{"/usr/share/OVMF/OVMF_CODE.fd", "/usr/share/OVMF/OVMF_VARS.fd"},
		{"/usr/share/edk2/ovmf/OVMF_CODE.fd", "/usr/share/edk2/ovmf/OVMF_VARS.fd"},
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0] && !h->ovmf_code; i++) {
		if (access(pairs[i][0], R_OK) == 0 && access(pairs[i][1], R_OK) == 0) {
			h->ovmf_code = xstrdup(pairs[i][0]);
			h->ovmf_vars = xstrdup(pairs[i][1]);
		}
	}
}

void qemu_host_free(struct qemu_host *h)
{
	free(h->binary);
	free(h->accel);
	free(h->ovmf_code);
	free(h->ovmf_vars);
	memset(h, 0, sizeof *h);
}
