/* xenops: the table of backends (see xenops.h). */
#include "xenops.h"

#include <stdlib.h>
#include <string.h>

extern const struct xenops_backend xenops_sim;

static const struct xenops_backend *const backends[] = {
	&xenops_sim,
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
	free(s->pv_kernel);
	free(s->pv_ramdisk);
	free(s->pv_args);
}
