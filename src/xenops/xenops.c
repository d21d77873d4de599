/* xenops: the table of backends (see xenops.h). */
#include "xenops.h"
#include "backends.h"

#include <stdlib.h>
#include <string.h>

static const struct xenops_backend *const backends[] = {
	&xenops_sim,
	&xenops_qemu,
#ifdef XENON_HAVE_XEN
	&xenops_xen,
#endif
};

const struct xenops_backend *xenops_find(const char *name)
{
	for (size_t i = 0; i < sizeof backends / sizeof backends[0]; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

void vm_spec_free(struct vm_spec *s)
{
	xv_free(&s->platform);
	xv_free(&s->hvm_boot_params);
	xv_free(&s->other_config);
	xv_free(&s->xenstore_data);
	free(s->pv_kernel);
	free(s->pv_ramdisk);
	free(s->pv_args);
	free(s->pv_bootloader);
	free(s->boot_order);
	free(s->suspend_image);
	s->suspend_image = NULL;
	for (size_t i = 0; i < s->ndisks; i++)
		free(s->disks[i].path);
	free(s->disks);
	s->disks = NULL;
	s->ndisks = 0;
	free(s->nics);
	s->nics = NULL;
	s->nnics = 0;
}
