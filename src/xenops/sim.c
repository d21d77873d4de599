/* sim: a backend whose VMs are only state. Every operation succeeds at
 * once, so API tests and scale benchmarks need no guest. */
#include "xenops.h"

#include <stdlib.h>

static int sim_init(struct server *srv, struct xerr *err)
{
	(void)srv;
	(void)err;
	return 0;
}

static int sim_start(struct server *srv, const struct vm_spec *vm, bool paused, struct xerr *err)
{
	(void)srv, (void)vm, (void)paused, (void)err;
	return 0;
}

static int sim_stop(struct server *srv, const struct vm_spec *vm, bool clean, struct xerr *err)
{
	(void)srv, (void)vm, (void)clean, (void)err;
	return 0;
}

static int sim_simple(struct server *srv, const struct vm_spec *vm, struct xerr *err)
{
	(void)srv, (void)vm, (void)err;
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
};
