/* xenops: the VM backend interface. The VM logic in api/vm.c decides what
 * should happen; a backend makes it so (QEMU over QMP, or the simulator
 * that changes nothing but state). Adding a backend touches its own file
 * and one line in xenops.c. */
#ifndef XENON_XENOPS_H
#define XENON_XENOPS_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "../base/xv.h"

struct server;

/* What a backend needs to run a VM, copied out of the store so the
 * backend works without holding the store's lock. */
struct vm_spec {
	char uuid[40];
	char name[256];
	int64_t domid;
	int64_t vcpus_max, vcpus_at_startup;
	int64_t memory_static_max, memory_dynamic_max, memory_dynamic_min;
	xv platform, hvm_boot_params, other_config; /* owned maps */
	char *pv_kernel, *pv_ramdisk, *pv_args;
};

void vm_spec_free(struct vm_spec *s);

struct xenops_backend {
	const char *name;
	int (*init)(struct server *srv, struct xerr *err);
	int (*start)(struct server *srv, const struct vm_spec *vm, bool paused, struct xerr *err);
	int (*shutdown)(struct server *srv, const struct vm_spec *vm, bool clean, struct xerr *err);
	int (*reboot)(struct server *srv, const struct vm_spec *vm, bool clean, struct xerr *err);
	int (*pause)(struct server *srv, const struct vm_spec *vm, struct xerr *err);
	int (*unpause)(struct server *srv, const struct vm_spec *vm, struct xerr *err);
	int (*suspend)(struct server *srv, const struct vm_spec *vm, struct xerr *err);
	int (*resume)(struct server *srv, const struct vm_spec *vm, bool paused, struct xerr *err);
};

const struct xenops_backend *xenops_find(const char *name);

#endif
