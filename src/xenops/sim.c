/* sim: a backend whose VMs are only state. Every operation succeeds at
 * once, so API tests and scale benchmarks need no guest. */
#include "backends.h"
#include "xenops.h"

#include <stdlib.h>

static int sim_init(const struct xenops_host *host, struct xerr *err)
{
	(void)host;
	(void)err;
	return 0;
}

static int sim_start(const struct xenops_host *host, const struct vm_spec *vm, bool paused, struct xerr *err)
{
	(void)host, (void)vm, (void)paused, (void)err;
	return 0;
}

static int sim_stop(const struct xenops_host *host, const struct vm_spec *vm, bool clean, struct xerr *err)
{
	(void)host, (void)vm, (void)clean, (void)err;
	return 0;
}

static int sim_simple(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err)
{
	(void)host, (void)vm, (void)err;
	return 0;
}

/* Live changes: the simulated guest does at once what it is asked. */
static int sim_memory(const struct xenops_host *host, const struct vm_spec *vm, int64_t target, int64_t *actual,
		      struct xerr *err)
{
	(void)host, (void)vm, (void)err;
	*actual = target;
	return 0;
}

static int sim_vcpus(const struct xenops_host *host, const struct vm_spec *vm, int64_t n, int64_t *now,
		     struct xerr *err)
{
	(void)host, (void)vm, (void)err;
	*now = n;
	return 0;
}

static int sim_vcpu_params(const struct xenops_host *host, const struct vm_spec *vm, const xv *params,
			   xv *applied, struct xerr *err)
{
	(void)host, (void)vm, (void)err;
	*applied = xv_map_new();
	static const char *const keys[] = {"weight", "cap", "mask"};
	for (int i = 0; i < 3; i++)
		if (xv_map_get_str(params, keys[i]))
			xv_map_set_str(applied, keys[i], xv_map_get_str(params, keys[i]));
	return 0;
}

const struct xenops_backend xenops_sim = {
	.name = "sim",
	.init = sim_init,
	.start = sim_start,
	.shutdown = sim_stop,
	.reboot = sim_stop,
	.pause = sim_simple,
	.unpause = sim_simple,
	.suspend = sim_simple,
	.resume = sim_start,
	.set_memory_target = sim_memory,
	.set_vcpus = sim_vcpus,
	.set_vcpu_params = sim_vcpu_params,
};
