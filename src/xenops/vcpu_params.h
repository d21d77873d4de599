/* vcpu_params: VM.VCPUs_params as xapi reads it (weight and cap for Xen's
 * credit scheduler, mask for vCPU affinity) and its translation to what
 * Linux offers a QEMU process: cgroup cpu weights and bandwidth limits,
 * and per-thread CPU affinity. Pure: no files, no processes. */
#ifndef XENON_VCPU_PARAMS_H
#define XENON_VCPU_PARAMS_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

#include "../base/xv.h"

#define VCPU_WEIGHT_DEFAULT 256 /* Xen credit scheduler's default weight */
#define VCPU_WEIGHT_MAX 65535
#define VCPU_MASKS_MAX 64
#define CPU_PERIOD_US 100000 /* cpu.max / cfs period: cgroup's default */

struct vcpu_params {
	/* a key present but not a number in range is left unset, as xapi
	 * falls back to the default; bad_* says so */
	bool has_weight, has_cap, has_mask;
	bool bad_weight, bad_cap, bad_mask;
	int64_t weight; /* 1..65535 */
	int64_t cap;    /* percent of one physical CPU; 0 = no cap */
	/* "1,2,3": every vCPU gets this set; "1,2; 3": vCPU n gets set n,
	 * vCPUs past the list the first one */
	size_t nmasks;
	cpu_set_t masks[VCPU_MASKS_MAX];
};

/* Reads weight, cap and mask from a VCPUs_params map (other keys ignored). */
void vcpu_params_parse(const xv *map, struct vcpu_params *p);

/* Xen weight (1..65535, default 256) as cgroup v2 cpu.weight (1..10000,
 * default 100) and cgroup v1 cpu.shares (2..262144, default 1024): the
 * default maps to the default and the ratio between VMs is kept. */
int64_t vcpu_weight_to_cgroup2(int64_t weight);
int64_t vcpu_weight_to_shares(int64_t weight);
/* Xen cap (percent of one physical CPU across all the VM's vCPUs; 0 = none)
 * as a CFS quota in microseconds per CPU_PERIOD_US; -1 = no limit. */
int64_t vcpu_cap_to_quota(int64_t cap);

/* The affinity of vCPU index i (NULL when no mask applies). */
const cpu_set_t *vcpu_mask_for(const struct vcpu_params *p, size_t i);

#endif
