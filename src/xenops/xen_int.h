/* xen_int: the Xen backend's parts shared between its files (xen.c drives
 * libxl, xen_config.c builds the domain configuration from a vm_spec). */
#ifndef XENON_XEN_INT_H
#define XENON_XEN_INT_H

#include <libxl.h>

#include "xenops.h"

/* The libxl kind of domain a VM gets, as xapi decides it: VM.domain_type
 * when set ("pv_in_pvh" runs as PVH here: no shim), else HVM for a VM
 * booting firmware and PV otherwise. */
libxl_domain_type xen_domain_type(const struct vm_spec *vm);

/* cfg (initialised by the caller with libxl_domain_config_init, disposed
 * by the caller in every case) from vm: create info with the VM's name,
 * uuid, requested domid, platform and xenstore data; build info for PV
 * (direct kernel or bootloader), PVH (direct kernel) or HVM (qemu-xen,
 * SeaBIOS or OVMF, VNC on loopback); disks as qdisk, CDs, VIFs on their
 * bridges named vif<domid>.<device>. Bad platform values: INVALID_VALUE. */
int xen_config_build(const struct vm_spec *vm, libxl_domain_config *cfg, struct xerr *err);

/* The configuration as libxl's own JSON generator writes it (owned);
 * ctx may be NULL. */
char *xen_config_json(libxl_ctx *ctx, const struct vm_spec *vm, struct xerr *err);

/* The disk as libxl takes it for hot-plug and CD changes. */
int xen_disk_of(const struct vm_spec *vm, libxl_domain_type type, const struct vm_disk *d,
		libxl_device_disk *out, struct xerr *err);
/* The NIC as libxl takes it for hot-plug. */
int xen_nic_of(const struct vm_spec *vm, libxl_domain_type type, const struct vm_nic *n, libxl_device_nic *out,
	       struct xerr *err);

/* xen_console.c: the domain's console (PV console, or HVM's serial port)
 * relayed to <dir>/serial.sock and serial.log. NULL when it has none. */
struct xen_console;
struct xen_console *xen_console_start(libxl_ctx *ctx, uint32_t domid, bool hvm, const char *dir);
void xen_console_stop(struct xen_console *c);

/* xen_store.c: what the guest's tools wrote in xenstore (data/, attr/,
 * control/feature-*), answered as the guest agent's commands the VM logic
 * asks for (guest-info, guest-get-osinfo, guest-network-get-interfaces).
 * -2 (err set) when the guest reports nothing. */
struct xs_handle;
int xen_guest_query(struct xs_handle *xs, uint32_t domid, const char *json_cmd, xv *result, struct xerr *err);
/* The VM uuid xenstore holds for domid (/local/domain/<domid>/vm →
 * /vm/<uuid>), into uuid[40]; -1 when there is none. */
int xen_domain_uuid(struct xs_handle *xs, uint32_t domid, char *uuid);

#endif
