/* xen_config: a VM's libxl_domain_config, built from its vm_spec with
 * nothing but libxl's types (no hypervisor needed), so the unit tests can
 * compare it whole, through libxl's own JSON generator, on any machine. */
#include "xen_int.h"
#include "../base/errors_gen.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

libxl_domain_type xen_domain_type(const struct vm_spec *vm)
{
	if (!strcmp(vm->domain_type, "hvm"))
		return LIBXL_DOMAIN_TYPE_HVM;
	if (!strcmp(vm->domain_type, "pv"))
		return LIBXL_DOMAIN_TYPE_PV;
	if (!strcmp(vm->domain_type, "pvh") || !strcmp(vm->domain_type, "pv_in_pvh"))
		return LIBXL_DOMAIN_TYPE_PVH;
	return vm->boot == VM_BOOT_FIRMWARE ? LIBXL_DOMAIN_TYPE_HVM : LIBXL_DOMAIN_TYPE_PV;
}

/* A platform flag as xapi reads it: "true"/"1", "false"/"0"; absent
 * leaves libxl's default. */
static int flag(const struct vm_spec *vm, const char *key, libxl_defbool *out, struct xerr *err)
{
	const char *s = xv_map_get_str(&vm->platform, key);
	if (!s || !*s)
		return 0;
	if (!strcmp(s, "true") || !strcmp(s, "1"))
		libxl_defbool_set(out, true);
	else if (!strcmp(s, "false") || !strcmp(s, "0"))
		libxl_defbool_set(out, false);
	else
		return xerr_set(err, ERR_INVALID_VALUE, key, s, NULL);
	return 0;
}

static int platform_int(const struct vm_spec *vm, const char *key, long long *out, struct xerr *err)
{
	const char *s = xv_map_get_str(&vm->platform, key);
	if (!s || !*s)
		return 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*end || v < 0)
		return xerr_set(err, ERR_INVALID_VALUE, key, s, NULL);
	*out = v;
	return 1;
}

/* key_value_list: NULL-terminated key, value, key, value… */
static char **kv_list(const xv *map, const char *prefix)
{
	size_t n = map->kind == XV_MAP ? map->u.m->n : 0, k = 0;
	char **l = xcalloc(2 * n + 1, sizeof *l);
	for (size_t i = 0; i < n; i++) {
		const char *v = xv_as_str(&map->u.m->vals[i]);
		if (!v)
			continue;
		const char *key = map->u.m->keys[i];
		if (prefix && strncmp(key, prefix, strlen(prefix)) != 0) {
			if (asprintf(&l[k], "%s/%s", prefix, key) < 0)
				abort();
		} else {
			l[k] = xstrdup(key);
		}
		l[k + 1] = xstrdup(v);
		k += 2;
	}
	return l;
}

static int vdev_name(libxl_domain_type type, const struct vm_disk *d, char *buf, size_t len, struct xerr *err)
{
	if (d->position < 0 || d->position > 25) {
		char pos[16];
		snprintf(pos, sizeof pos, "%d", d->position);
		return xerr_set(err, ERR_INVALID_DEVICE, pos, NULL);
	}
	/* HVM: the first four are the emulated IDE disks (hda…hdd) the PV
	 * drivers take over; beyond, PV only, as xapi names them */
	const char *pfx = type == LIBXL_DOMAIN_TYPE_HVM && d->position < 4 ? "hd" : "xvd";
	snprintf(buf, len, "%s%c", pfx, 'a' + d->position);
	return 0;
}

int xen_disk_of(const struct vm_spec *vm, libxl_domain_type type, const struct vm_disk *d,
		libxl_device_disk *out, struct xerr *err)
{
	(void)vm;
	char vdev[8];
	if (vdev_name(type, d, vdev, sizeof vdev, err) < 0)
		return -1;
	libxl_device_disk_init(out);
	out->vdev = xstrdup(vdev);
	out->backend = LIBXL_DISK_BACKEND_QDISK;
	out->is_cdrom = d->is_cdrom;
	out->removable = d->is_cdrom;
	out->readwrite = !d->read_only && !d->is_cdrom;
	if (!d->path) {
		out->format = LIBXL_DISK_FORMAT_EMPTY;
		return 0;
	}
	out->pdev_path = xstrdup(d->path);
	if (!strcmp(d->format, "qcow2"))
		out->format = LIBXL_DISK_FORMAT_QCOW2;
	else if (!strcmp(d->format, "raw") || !*d->format)
		out->format = LIBXL_DISK_FORMAT_RAW;
	else if (!strcmp(d->format, "vhd"))
		out->format = LIBXL_DISK_FORMAT_VHD;
	else
		return xerr_set(err, ERR_INVALID_VALUE, "format", d->format, NULL);
	return 0;
}

int xen_nic_of(const struct vm_spec *vm, libxl_domain_type type, const struct vm_nic *n, libxl_device_nic *out,
	       struct xerr *err)
{
	libxl_device_nic_init(out);
	unsigned m[6];
	char extra;
	if (sscanf(n->mac, "%2x:%2x:%2x:%2x:%2x:%2x%c", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5], &extra) != 6)
		return xerr_set(err, ERR_MAC_INVALID, n->mac, NULL);
	for (int i = 0; i < 6; i++)
		out->mac[i] = (uint8_t)m[i];
	out->devid = n->device;
	out->bridge = xstrdup(n->bridge);
	if (n->mtu > 0)
		out->mtu = (int)n->mtu;
	/* no ifname: netback names it vif<domid>.<device> with the domid Xen
	 * gave, as xapi's hosts show it (a name set here would have the hotplug
	 * script rename it onto itself and fail); HVM adds the emulated twin
	 * vif<domid>.<device>-emu the PV drivers replace */
	(void)vm;
	if (type == LIBXL_DOMAIN_TYPE_HVM) {
		out->nictype = LIBXL_NIC_TYPE_VIF_IOEMU;
		out->model = xstrdup("e1000");
	} else {
		out->nictype = LIBXL_NIC_TYPE_VIF;
	}
	return 0;
}

static int build_hvm(const struct vm_spec *vm, libxl_domain_build_info *b, struct xerr *err)
{
	b->device_model_version = LIBXL_DEVICE_MODEL_VERSION_QEMU_XEN;
	if (!strcmp(vm->firmware, "uefi"))
		b->u.hvm.bios = LIBXL_BIOS_TYPE_OVMF;
	else if (!strcmp(vm->firmware, "bios"))
		b->u.hvm.bios = LIBXL_BIOS_TYPE_SEABIOS;
	else
		return xerr_set(err, ERR_INVALID_VALUE, "HVM_boot_params:firmware", vm->firmware, NULL);
	b->u.hvm.boot = xstrdup(vm->boot_order && *vm->boot_order ? vm->boot_order : "cd");
	/* the platform keys xapi's hosts give HVM guests */
	if (flag(vm, "acpi", &b->acpi, err) < 0 || flag(vm, "apic", &b->apic, err) < 0 ||
	    flag(vm, "pae", &b->u.hvm.pae, err) < 0 || flag(vm, "nx", &b->u.hvm.nx, err) < 0 ||
	    flag(vm, "viridian", &b->u.hvm.viridian, err) < 0 || flag(vm, "hpet", &b->u.hvm.hpet, err) < 0 ||
	    flag(vm, "usb", &b->u.hvm.usb, err) < 0 || flag(vm, "nested-virt", &b->nested_hvm, err) < 0 ||
	    flag(vm, "exp-nested-hvm", &b->nested_hvm, err) < 0)
		return -1;
	const char *tz = xv_map_get_str(&vm->platform, "timeoffset");
	if (tz && *tz) {
		char *end;
		(void)strtoll(tz, &end, 10);
		if (*end)
			return xerr_set(err, ERR_INVALID_VALUE, "timeoffset", tz, NULL);
		b->u.hvm.timeoffset = xstrdup(tz);
	}
	const char *vga = xv_map_get_str(&vm->platform, "vga");
	if (!vga || !*vga || !strcmp(vga, "std"))
		b->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_STD;
	else if (!strcmp(vga, "cirrus"))
		b->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_CIRRUS;
	else if (!strcmp(vga, "none"))
		b->u.hvm.vga.kind = LIBXL_VGA_INTERFACE_TYPE_NONE;
	else
		return xerr_set(err, ERR_INVALID_VALUE, "vga", vga, NULL);
	long long vram = 0;
	int r = platform_int(vm, "videoram", &vram, err);
	if (r < 0)
		return -1;
	if (r)
		b->video_memkb = (uint64_t)vram * 1024;
	/* the console: VNC on loopback (the web console's proxy reaches it),
	 * the serial port on a pty xenconsoled serves */
	libxl_defbool_set(&b->u.hvm.vnc.enable, true);
	b->u.hvm.vnc.listen = xstrdup("127.0.0.1");
	libxl_defbool_set(&b->u.hvm.vnc.findunused, true);
	libxl_defbool_set(&b->u.hvm.nographic, false);
	libxl_defbool_set(&b->u.hvm.xen_platform_pci, true);
	b->u.hvm.serial = xstrdup("pty");
	return 0;
}

static int build_kernel(const struct vm_spec *vm, libxl_domain_build_info *b, struct xerr *err)
{
	if (vm->boot == VM_BOOT_BOOTLOADER) {
		if (strcmp(vm->pv_bootloader, "pygrub"))
			return xerr_set(err, ERR_UNKNOWN_BOOTLOADER, vm->ref, vm->pv_bootloader, NULL);
		b->bootloader = xstrdup("pygrub");
	} else {
		if (!vm->pv_kernel || !*vm->pv_kernel)
			return xerr_set(err, ERR_INVALID_VALUE, "PV_kernel", "", NULL);
		b->kernel = xstrdup(vm->pv_kernel);
		if (vm->pv_ramdisk && *vm->pv_ramdisk)
			b->ramdisk = xstrdup(vm->pv_ramdisk);
	}
	if (vm->pv_args && *vm->pv_args)
		b->cmdline = xstrdup(vm->pv_args);
	return 0;
}

int xen_config_build(const struct vm_spec *vm, libxl_domain_config *cfg, struct xerr *err)
{
	libxl_domain_type type = xen_domain_type(vm);
	if (type == LIBXL_DOMAIN_TYPE_HVM && vm->boot != VM_BOOT_FIRMWARE)
		return xerr_set(err, ERR_INVALID_VALUE, "domain_type", vm->domain_type, NULL);
	if (type != LIBXL_DOMAIN_TYPE_HVM && vm->boot == VM_BOOT_FIRMWARE)
		return xerr_set(err, ERR_INVALID_VALUE, "domain_type", vm->domain_type, NULL);

	libxl_domain_create_info *c = &cfg->c_info;
	c->type = type;
	c->name = xstrdup(vm->name);
	if (libxl_uuid_from_string(&c->uuid, vm->uuid))
		return xerr_set(err, ERR_INVALID_VALUE, "uuid", vm->uuid, NULL);
	if (vm->domid > 0 && vm->domid < 0x7ff0)
		c->domid = (libxl_domid)vm->domid;
	/* xenstore: VM.xenstore_data under vm-data/, VM.platform under
	 * platform/, as xapi's hosts lay them out */
	c->xsdata = kv_list(&vm->xenstore_data, "vm-data");
	c->platformdata = kv_list(&vm->platform, NULL);
	if (type != LIBXL_DOMAIN_TYPE_PV)
		libxl_defbool_set(&c->hap, true);

	libxl_domain_build_info *b = &cfg->b_info;
	libxl_domain_build_info_init_type(b, type);
	int64_t vmax = vm->vcpus_max > 0 ? vm->vcpus_max : 1;
	int64_t vnow = vm->vcpus_at_startup > 0 ? vm->vcpus_at_startup : 1;
	if (vnow > vmax)
		vnow = vmax;
	if (vmax > 128)
		return xerr_set(err, ERR_INVALID_VALUE, "VCPUs_max", "more than 128", NULL);
	b->max_vcpus = (int)vmax;
	b->avail_vcpus.size = (uint32_t)((vmax + 7) / 8);
	b->avail_vcpus.map = xcalloc(b->avail_vcpus.size, 1);
	for (int64_t i = 0; i < vnow; i++)
		b->avail_vcpus.map[i / 8] |= (uint8_t)(1u << (i % 8));
	int64_t smax = vm->memory_static_max, dmax = vm->memory_dynamic_max;
	if (smax <= 0)
		return xerr_set(err, ERR_INVALID_VALUE, "memory_static_max", "0", NULL);
	b->max_memkb = (uint64_t)smax / 1024;
	b->target_memkb = (uint64_t)(dmax > 0 && dmax <= smax ? dmax : smax) / 1024;
	int r = type == LIBXL_DOMAIN_TYPE_HVM ? build_hvm(vm, b, err) : build_kernel(vm, b, err);
	if (r < 0)
		return -1;

	/* guest-initiated changes come back to the VM logic, which applies
	 * actions_after_*; what libxl records is only the default */
	cfg->on_poweroff = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
	cfg->on_reboot = LIBXL_ACTION_ON_SHUTDOWN_RESTART;
	cfg->on_crash = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;
	cfg->on_watchdog = LIBXL_ACTION_ON_SHUTDOWN_DESTROY;

	cfg->disks = xcalloc(vm->ndisks ? vm->ndisks : 1, sizeof *cfg->disks);
	for (size_t i = 0; i < vm->ndisks; i++) {
		const struct vm_disk *d = &vm->disks[i];
		/* an empty CD drive exists for HVM's emulated IDE only */
		if (d->is_cdrom && !d->path && type != LIBXL_DOMAIN_TYPE_HVM)
			continue;
		if (xen_disk_of(vm, type, d, &cfg->disks[cfg->num_disks], err) < 0) {
			libxl_device_disk_dispose(&cfg->disks[cfg->num_disks]);
			return -1;
		}
		cfg->num_disks++;
	}
	cfg->nics = xcalloc(vm->nnics ? vm->nnics : 1, sizeof *cfg->nics);
	for (size_t i = 0; i < vm->nnics; i++) {
		if (xen_nic_of(vm, type, &vm->nics[i], &cfg->nics[cfg->num_nics], err) < 0) {
			libxl_device_nic_dispose(&cfg->nics[cfg->num_nics]);
			return -1;
		}
		cfg->num_nics++;
	}
	return 0;
}

char *xen_config_json(libxl_ctx *ctx, const struct vm_spec *vm, struct xerr *err)
{
	libxl_domain_config cfg;
	libxl_domain_config_init(&cfg);
	char *json = NULL;
	if (xen_config_build(vm, &cfg, err) == 0) {
		json = libxl_domain_config_to_json(ctx, &cfg);
		if (!json)
			xerr_internal(err, "libxl could not write the domain configuration");
	}
	libxl_domain_config_dispose(&cfg);
	return json;
}
