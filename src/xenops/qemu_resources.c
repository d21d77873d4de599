/* qemu_resources: live changes of a running QEMU's memory and vCPUs — the
 * balloon target (QMP balloon, read back with query-balloon), vCPU hot-plug
 * and unplug (query-hotpluggable-cpus, device_add / device_del; the -smp
 * maxcpus= of qemu_argv.c leaves the slots), and VCPUs_params: weight and
 * cap through a cgroup (qemu_cgroup.c), mask as each vCPU thread's CPU
 * affinity (query-cpus-fast gives the thread ids). */
#include "qemu_int.h"
#include "qmp.h"
#include "vcpu_params.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RES_QMP_TIMEOUT_MS 10000
#define BALLOON_WAIT_MS 20000    /* a guest's balloon driver takes ~1 s under TCG */
#define BALLOON_TOLERANCE (1 << 20) /* xapi's wait_memory_target tolerance */
#define UNPLUG_WAIT_MS 15000     /* the guest acknowledges an ACPI eject */

static void sleep_ms(int ms)
{
	nanosleep(&(struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L}, NULL);
}

static int64_t balloon_actual(struct qmp *q, struct xerr *err)
{
	json_t *r = NULL;
	if (qmp_exec(q, "query-balloon", NULL, &r, RES_QMP_TIMEOUT_MS, err) < 0)
		return -1;
	int64_t a = (int64_t)json_integer_value(json_object_get(r, "actual"));
	json_decref(r);
	return a;
}

int qemu_set_memory_target(const struct xenops_host *host, const struct vm_spec *vm, int64_t target,
			   int64_t *actual, struct xerr *err)
{
	(void)host;
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(vm->uuid, &q, err);
	if (!v)
		return -1;
	int rc = qmp_exec(q, "balloon", json_pack("{sI}", "value", (json_int_t)target), NULL,
			  RES_QMP_TIMEOUT_MS, err);
	int64_t a = -1;
	/* wait for the guest's driver to get there, as xapi's
	 * wait_memory_target_live does, so memory_actual is what the guest
	 * has; a paused guest cannot move, and a guest without a balloon
	 * driver never does: then the last value read stands */
	bool running = qemu_vm_running(v);
	for (int64_t until = clock_now_ms() + BALLOON_WAIT_MS; rc == 0;) {
		a = balloon_actual(q, err);
		if (a < 0) {
			rc = -1;
			break;
		}
		if (llabs(a - target) <= BALLOON_TOLERANCE || !running || clock_now_ms() > until)
			break;
		sleep_ms(200);
	}
	qemu_release(v);
	if (rc == 0) {
		*actual = a;
		log_info("qemu %s: balloon target %lld MiB, guest has %lld MiB", vm->uuid,
			 (long long)(target >> 20), (long long)(a >> 20));
	}
	return rc;
}

/* ---- vCPUs ---- */

struct cpu_slot {
	const char *type, *qom; /* qom NULL: a free slot */
	json_t *props;
	int64_t order;
};

static int slot_cmp(const void *a, const void *b)
{
	const struct cpu_slot *x = a, *y = b;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int64_t prop(json_t *props, const char *k)
{
	json_t *v = json_object_get(props, k);
	return v ? (int64_t)json_integer_value(v) : 0;
}

/* The vCPUs present, by cpu-index: count and, for unplugging, the
 * qom path of the highest. */
static int cpus_present(struct qmp *q, int64_t *n, char **highest, struct xerr *err)
{
	json_t *r = NULL;
	if (qmp_exec(q, "query-cpus-fast", NULL, &r, RES_QMP_TIMEOUT_MS, err) < 0)
		return -1;
	*n = (int64_t)json_array_size(r);
	int64_t best = -1;
	size_t i;
	json_t *c;
	if (highest)
		*highest = NULL;
	json_array_foreach(r, i, c) {
		int64_t idx = (int64_t)json_integer_value(json_object_get(c, "cpu-index"));
		const char *qom = json_string_value(json_object_get(c, "qom-path"));
		if (highest && idx > best && idx > 0 && qom) {
			best = idx;
			free(*highest);
			*highest = xstrdup(qom);
		}
	}
	json_decref(r);
	return 0;
}

/* Under TCG, QEMU (7.2) gives each vCPU thread it ever starts one of
 * maxcpus translation contexts and never takes one back on unplug: a plug
 * past that aborts QEMU. The threads started so far are counted in the run
 * directory (so a restarted xenond knows), and such a plug is refused. */
static bool under_tcg(struct qmp *q)
{
	json_t *r = NULL;
	struct xerr e = XERR_INIT;
	bool tcg = qmp_exec(q, "query-kvm", NULL, &r, RES_QMP_TIMEOUT_MS, &e) == 0 &&
		   !json_is_true(json_object_get(r, "enabled"));
	json_decref(r);
	xerr_clear(&e);
	return tcg;
}

static int64_t threads_started(const char *dir, int64_t present)
{
	char *p = qemu_file(dir, "vcpu-threads");
	FILE *f = fopen(p, "re");
	long long n = -1;
	if (f) {
		if (fscanf(f, "%lld", &n) != 1)
			n = -1;
		fclose(f);
	}
	free(p);
	return n > present ? n : present;
}

static void threads_record(const char *dir, int64_t n)
{
	char *p = qemu_file(dir, "vcpu-threads");
	FILE *f = fopen(p, "we");
	if (f) {
		fprintf(f, "%lld\n", (long long)n);
		fclose(f);
	}
	free(p);
}

static int plug(struct qmp *q, const struct vm_spec *vm, const char *dir, int64_t want, int64_t have,
		struct xerr *err)
{
	bool tcg = under_tcg(q);
	int64_t started = tcg ? threads_started(dir, have) : 0;
	if (tcg && started + (want - have) > vm->vcpus_max) {
		char *m = xasprintf("this VM's QEMU runs under TCG, which cannot start another vCPU after "
				    "a vCPU unplug (%lld of %lld vCPU threads used): reboot the VM to get "
				    "%lld vCPUs", (long long)started, (long long)vm->vcpus_max, (long long)want);
		xerr_set(err, ERR_OPERATION_NOT_ALLOWED, m, NULL);
		free(m);
		return -1;
	}
	json_t *r = NULL;
	if (qmp_exec(q, "query-hotpluggable-cpus", NULL, &r, RES_QMP_TIMEOUT_MS, err) < 0)
		return -1;
	size_t n = json_array_size(r), nfree = 0;
	struct cpu_slot *free_slots = xcalloc(n + 1, sizeof *free_slots);
	size_t i;
	json_t *c;
	json_array_foreach(r, i, c) {
		if (json_object_get(c, "qom-path"))
			continue;
		struct cpu_slot *s = &free_slots[nfree++];
		s->type = json_string_value(json_object_get(c, "type"));
		s->props = json_object_get(c, "props");
		/* fill sockets, then cores, then threads in order */
		s->order = (prop(s->props, "socket-id") << 32) | (prop(s->props, "core-id") << 16) |
			   prop(s->props, "thread-id");
	}
	qsort(free_slots, nfree, sizeof *free_slots, slot_cmp);
	int rc = 0;
	for (size_t k = 0; rc == 0 && have < want; k++, have++) {
		if (k >= nfree || !free_slots[k].type) {
			rc = xerr_internal(err, "VM %s: no free vCPU slot in its QEMU for vCPU %lld",
					   vm->uuid, (long long)have);
			break;
		}
		json_t *args = json_deep_copy(free_slots[k].props);
		char id[48];
		snprintf(id, sizeof id, "vcpu-s%lld-c%lld-t%lld", (long long)prop(args, "socket-id"),
			 (long long)prop(args, "core-id"), (long long)prop(args, "thread-id"));
		json_object_set_new(args, "driver", json_string(free_slots[k].type));
		json_object_set_new(args, "id", json_string(id));
		rc = qmp_exec(q, "device_add", args, NULL, RES_QMP_TIMEOUT_MS, err);
		if (rc == 0 && tcg)
			threads_record(dir, ++started);
	}
	free(free_slots);
	json_decref(r);
	return rc;
}

static int unplug(struct qmp *q, const struct vm_spec *vm, int64_t want, int64_t have, struct xerr *err)
{
	while (have > want) {
		char *qom = NULL;
		if (cpus_present(q, &have, &qom, err) < 0)
			return -1;
		if (have <= want) {
			free(qom);
			break;
		}
		if (!qom)
			return xerr_internal(err, "VM %s: no vCPU that can be unplugged", vm->uuid);
		/* device_del takes a QOM path as well as an id: vCPUs of the
		 * command line have no id */
		int rc = qmp_exec(q, "device_del", json_pack("{ss}", "id", qom), NULL, RES_QMP_TIMEOUT_MS, err);
		int64_t before = have, until = clock_now_ms() + UNPLUG_WAIT_MS;
		while (rc == 0 && have == before && clock_now_ms() < until) {
			sleep_ms(200);
			rc = cpus_present(q, &have, NULL, err);
		}
		if (rc == 0 && have == before)
			rc = xerr_internal(err, "VM %s: the guest did not release vCPU %s within %d s "
					   "(it needs ACPI CPU hot-unplug)", vm->uuid, qom, UNPLUG_WAIT_MS / 1000);
		free(qom);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int qemu_set_vcpus(const struct xenops_host *host, const struct vm_spec *vm, int64_t n, int64_t *now,
		   struct xerr *err)
{
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(vm->uuid, &q, err);
	if (!v)
		return -1;
	int64_t have = 0;
	int rc = cpus_present(q, &have, NULL, err);
	char *dir = qemu_vm_dir(host->run_dir, vm->uuid);
	if (rc == 0 && n > have)
		rc = plug(q, vm, dir, n, have, err);
	else if (rc == 0 && n < have)
		rc = unplug(q, vm, n, have, err);
	free(dir);
	/* what is there now, whatever happened */
	struct xerr e2 = XERR_INIT;
	if (cpus_present(q, now, NULL, &e2) < 0)
		*now = -1;
	xerr_clear(&e2);
	qemu_release(v);
	if (rc == 0)
		log_info("qemu %s: %lld vCPUs (was %lld)", vm->uuid, (long long)*now, (long long)have);
	return rc;
}

/* ---- VCPUs_params ---- */

/* Pins each vCPU thread to its mask: true when every one took it. */
static bool pin_vcpus(struct qmp *q, const struct vm_spec *vm, const struct vcpu_params *p,
		      struct xerr *err)
{
	json_t *r = NULL;
	if (qmp_exec(q, "query-cpus-fast", NULL, &r, RES_QMP_TIMEOUT_MS, err) < 0)
		return false;
	bool ok = true;
	size_t i;
	json_t *c;
	json_array_foreach(r, i, c) {
		int64_t idx = (int64_t)json_integer_value(json_object_get(c, "cpu-index"));
		pid_t tid = (pid_t)json_integer_value(json_object_get(c, "thread-id"));
		const cpu_set_t *set = vcpu_mask_for(p, (size_t)(idx < 0 ? 0 : idx));
		if (set && sched_setaffinity(tid, sizeof *set, set) < 0) {
			log_warn("qemu %s: vCPU %lld (thread %d): mask not applied: %s", vm->uuid,
				 (long long)idx, (int)tid, strerror(errno));
			ok = false;
		}
	}
	json_decref(r);
	return ok;
}

int qemu_set_vcpu_params(const struct xenops_host *host, const struct vm_spec *vm, const xv *params,
			 xv *applied, struct xerr *err)
{
	(void)host;
	struct vcpu_params p;
	vcpu_params_parse(params, &p);
	*applied = xv_map_new();
	if (p.bad_weight || p.bad_cap || p.bad_mask)
		log_warn("qemu %s: VCPUs_params:%s%s%s not understood: ignored", vm->uuid,
			 p.bad_weight ? " weight" : "", p.bad_cap ? " cap" : "", p.bad_mask ? " mask" : "");
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(vm->uuid, &q, err);
	if (!v) {
		xv_free(applied);
		return -1;
	}
	bool wdone = false, cdone = false, mdone = false;
	/* a VM that never had a weight or cap gets no cgroup; one that had
	 * them keeps its cgroup, set back to the defaults */
	char *dir = NULL;
	bool had = false;
	if (!p.has_weight && !p.has_cap) {
		dir = xasprintf("/proc/%d/cgroup", (int)qemu_vm_pid(v));
		FILE *f = fopen(dir, "re");
		char line[512];
		while (f && fgets(line, sizeof line, f))
			had = had || strstr(line, "/xenon/") != NULL;
		if (f)
			fclose(f);
		free(dir);
	}
	if (p.has_weight || p.has_cap || had)
		qemu_cgroup_apply(vm->uuid, qemu_vm_pid(v), &p, &wdone, &cdone);
	if (p.has_mask)
		mdone = pin_vcpus(q, vm, &p, err);
	xerr_clear(err);
	qemu_release(v);
	static const char *const keys[] = {"weight", "cap", "mask"};
	bool done[] = {wdone, cdone, mdone};
	for (int i = 0; i < 3; i++)
		if (done[i])
			xv_map_set_str(applied, keys[i], xv_map_get_str(params, keys[i]));
	return 0;
}
