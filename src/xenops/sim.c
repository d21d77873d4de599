/* sim: a backend whose VMs are only state. Every operation succeeds at
 * once, so API tests and scale benchmarks need no guest. */
#include "backends.h"
#include "xenops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* ---- metrics: plausible, deterministic series ----
 * Each figure's rate is a + b·sin(ωt + φ) with a, b and φ drawn from the
 * VM's uuid: the counter is its integral, so the sampler's rates come out
 * as that curve (period 10 min) whatever the tick, and two runs agree. */

static uint32_t mix(const char *s, uint32_t salt)
{
	uint32_t h = 2166136261u ^ salt;
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	h ^= h >> 13;
	h *= 0x5bd1e995u;
	return h ^ (h >> 15);
}

static double unit(const char *uuid, uint32_t salt)
{
	return (double)(mix(uuid, salt) % 10000) / 10000.0;
}

/* ∫0..t of a + b·sin(ωu + φ) du */
static double integral(double a, double b, double phi, double t)
{
	const double w = 2 * M_PI / 600;
	return a * t + b / w * (cos(phi) - cos(w * t + phi));
}

static int sim_stats(const struct xenops_host *host, const struct xenops_stats_req *s, struct rr_vm_counters *o)
{
	(void)host;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	/* seconds since a fixed origin: small enough for exact doubles */
	double t = (double)(ts.tv_sec - 1600000000) + ts.tv_nsec / 1e9;
	o->nvcpus = s->vcpus > 0 ? (int)(s->vcpus < RR_MAX_VCPUS ? s->vcpus : RR_MAX_VCPUS) : 1;
	for (int i = 0; i < o->nvcpus; i++) {
		double a = 0.05 + 0.4 * unit(s->uuid, 1u + (uint32_t)i);
		double b = 0.9 * (a < 1 - a ? a : 1 - a);
		o->vcpu_ns[i] = (int64_t)(1e9 * integral(a, b, 6.283 * unit(s->uuid, 100u + (uint32_t)i), t));
	}
	o->memory = s->memory_actual > 0 ? s->memory_actual : s->memory_target;
	o->memory_target = s->memory_target;
	o->memory_internal_free = o->memory > 0 ? (int64_t)((double)o->memory / 1024 * (0.3 + 0.4 * unit(s->uuid, 7))) : -1;
	o->ndisks = 0;
	for (int i = 0; i < s->ndisks && o->ndisks < RR_MAX_DISKS; i++) {
		if (s->disk[i].is_cdrom || s->disk[i].position < 0 || s->disk[i].position > 25)
			continue;
		struct rr_disk_counters *d = &o->disk[o->ndisks++];
		snprintf(d->dev, sizeof d->dev, "xvd%c", 'a' + s->disk[i].position);
		uint32_t k = 200u + (uint32_t)i * 8;
		double ra = 1e5 + 4e6 * unit(s->uuid, k), wa = 1e5 + 2e6 * unit(s->uuid, k + 1);
		double ph = 6.283 * unit(s->uuid, k + 2);
		d->rd_bytes = (int64_t)integral(ra, 0.9 * ra, ph, t);
		d->wr_bytes = (int64_t)integral(wa, 0.9 * wa, ph + 1, t);
		d->rd_ops = d->rd_bytes / 16384;
		d->wr_ops = d->wr_bytes / 16384;
		d->rd_ns = d->rd_ops * 200000;
		d->wr_ns = d->wr_ops * 400000;
		d->inflight = (int64_t)(4 * unit(s->uuid, k + 3));
	}
	o->nvifs = 0;
	for (int i = 0; i < s->nvifs && o->nvifs < RR_MAX_VIFS; i++) {
		struct rr_vif_counters *v = &o->vif[o->nvifs++];
		uint32_t k = 400u + (uint32_t)i * 8;
		double ra = 1e4 + 1e6 * unit(s->uuid, k), ta = 1e4 + 5e5 * unit(s->uuid, k + 1);
		double ph = 6.283 * unit(s->uuid, k + 2);
		v->device = s->vif[i];
		v->rx_bytes = (int64_t)integral(ra, 0.8 * ra, ph, t);
		v->tx_bytes = (int64_t)integral(ta, 0.8 * ta, ph + 2, t);
		v->rx_errors = v->tx_errors = 0;
	}
	return 0;
}

/* A simulated domain has no keyboard or buttons: input is taken and has
 * no effect, as xapi's simulated xenopsd answers. */
static int sim_send_input(const struct xenops_host *host, const struct vm_spec *vm, const char *kind, const char *arg,
			  struct xerr *err)
{
	(void)host, (void)vm, (void)kind, (void)arg, (void)err;
	return 0;
}

/* Live migration between two hosts of a pool (VM.pool_migrate): the
 * simulated domain has no memory to send, so it moves at once; disks that
 * would have to move with it (storage motion) are refused. */
static int sim_migrate_receive(const struct xenops_host *host, const struct vm_spec *vm, const int *nbd_disks,
			       size_t n_nbd, struct xenops_mig_listen *l, struct xerr *err)
{
	(void)host, (void)nbd_disks;
	if (n_nbd)
		return xerr_set(err, ERR_VM_MIGRATE_FAILED, vm->uuid, "", "", "the simulator moves no disks", NULL);
	l->port = 0;
	l->nbd_port = 0;
	return 0;
}

static int sim_migrate_finish(const struct xenops_host *host, const struct vm_spec *vm, bool paused, int timeout_s,
			      const char *history, size_t history_len, struct xerr *err)
{
	(void)host, (void)vm, (void)paused, (void)timeout_s, (void)history, (void)history_len, (void)err;
	return 0;
}

static void sim_migrate_abort(const struct xenops_host *host, const struct vm_spec *vm)
{
	(void)host, (void)vm;
}

static int sim_migrate_send(const struct xenops_host *host, const struct vm_spec *vm, const struct xenops_mig_target *t,
			    struct xenops_mig_stats *st, struct xerr *err)
{
	(void)host;
	if (t->nbd_port || t->nmirror)
		return xerr_set(err, ERR_VM_MIGRATE_FAILED, vm->uuid, "", "", "the simulator moves no disks", NULL);
	memset(st, 0, sizeof *st);
	st->phase = 2;
	return 0;
}

/* A new device model: the simulated domain only changes its id (the VM
 * logic records it). */
static int sim_restart_dm(const struct xenops_host *host, const struct vm_spec *vm, struct xenops_mig_stats *st,
			  struct xerr *err)
{
	(void)host, (void)vm, (void)err;
	memset(st, 0, sizeof *st);
	st->phase = 2;
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
	.stats = sim_stats,
	.send_input = sim_send_input,
	.migrate_receive = sim_migrate_receive,
	.migrate_finish = sim_migrate_finish,
	.migrate_abort = sim_migrate_abort,
	.migrate_send = sim_migrate_send,
	.restart_dm = sim_restart_dm,
};
