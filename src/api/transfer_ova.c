/* transfer_ova: the records of a VM imported from an OVA or a bare image
 * (formats/ova.h's description): the VM, HVM with BIOS boot, and a VBD
 * per disk in order, the first bootable. */
#include "transfer.h"
#include "vm_ops.h"
#include "../formats/ova.h"

#include <stdio.h>

static xv vm_record(const struct ova_vm *vm)
{
	xv rec = xv_map_new();
	xv_map_set_str(&rec, "name_label", vm->name);
	xv_map_set_str(&rec, "name_description", vm->description);
	xv_map_set(&rec, "user_version", xv_int(1));
	xv_map_set(&rec, "is_a_template", xv_bool(false));
	xv_map_set_str(&rec, "affinity", REF_NULL);
	xv_map_set(&rec, "memory_static_max", xv_int(vm->memory));
	xv_map_set(&rec, "memory_dynamic_max", xv_int(vm->memory));
	xv_map_set(&rec, "memory_dynamic_min", xv_int(vm->memory));
	xv_map_set(&rec, "memory_static_min", xv_int(vm->memory));
	xv_map_set(&rec, "VCPUs_params", xv_map_new());
	xv_map_set(&rec, "VCPUs_max", xv_int(vm->vcpus));
	xv_map_set(&rec, "VCPUs_at_startup", xv_int(vm->vcpus));
	xv_map_set_str(&rec, "actions_after_shutdown", "destroy");
	xv_map_set_str(&rec, "actions_after_reboot", "restart");
	xv_map_set_str(&rec, "actions_after_crash", "restart");
	static const char *const empty[] = {"PV_bootloader", "PV_kernel", "PV_ramdisk", "PV_args",
					    "PV_bootloader_args", "PV_legacy_args", "PCI_bus",
					    "recommendations", NULL};
	for (size_t i = 0; empty[i]; i++)
		xv_map_set_str(&rec, empty[i], "");
	xv_map_set_str(&rec, "HVM_boot_policy", "BIOS order");
	xv boot = xv_map_new();
	xv_map_set_str(&boot, "order", "cd");
	xv_map_set(&rec, "HVM_boot_params", boot);
	xv plat = xv_map_new();
	xv_map_set_str(&plat, "cores-per-socket", "1");
	xv_map_set(&rec, "platform", plat);
	xv_map_set(&rec, "other_config", xv_map_new());
	xv_map_set_str(&rec, "domain_type", "hvm");
	return rec;
}

static xv vbd_record(const char *vm_ref, const char *vdi_ref, size_t i)
{
	char dev[24];
	snprintf(dev, sizeof dev, "%zu", i);
	xv vbd = xv_map_new();
	xv_map_set_str(&vbd, "VM", vm_ref);
	xv_map_set_str(&vbd, "VDI", vdi_ref);
	xv_map_set_str(&vbd, "userdevice", dev);
	xv_map_set(&vbd, "bootable", xv_bool(i == 0));
	xv_map_set_str(&vbd, "mode", "RW");
	xv_map_set_str(&vbd, "type", "Disk");
	xv_map_set(&vbd, "unpluggable", xv_bool(false));
	xv_map_set(&vbd, "empty", xv_bool(false));
	xv_map_set(&vbd, "other_config", xv_map_new());
	xv_map_set_str(&vbd, "qos_algorithm_type", "");
	xv_map_set(&vbd, "qos_algorithm_params", xv_map_new());
	return vbd;
}

int transfer_ova_vm_create(struct rpc_ctx *ctx, const struct ova_vm *vm,
			   const char (*vdis)[REF_STRLEN + 1], size_t nvdis, char out[REF_STRLEN + 1],
			   struct xerr *err)
{
	if (transfer_vm_create(ctx, vm_record(vm), out, err) < 0)
		return -1;
	for (size_t i = 0; i < nvdis; i++)
		if (transfer_vbd_create(ctx, vbd_record(out, vdis[i], i), err) < 0)
			return -1;
	return 0;
}
