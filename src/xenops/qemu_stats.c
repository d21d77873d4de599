/* qemu_stats: a running QEMU's cumulative counters for the 5-s metrics
 * (xenops_backend.stats), read without spawning anything:
 *   - each vCPU's CPU time from its thread in /proc/<pid>/task/<tid>/
 *     (schedstat's nanoseconds, else stat's utime + stime); the thread ids
 *     come from QMP query-cpus-fast once and are kept with the VM;
 *   - each disk's bytes, requests and their total time from QMP
 *     query-blockstats (devices vbd<position>, qemu_argv.c);
 *   - the memory the guest holds from QMP query-balloon, and what it has
 *     free (memory_internal_free) from the balloon driver's statistics
 *     (qom-get guest-stats of balloon0; the polling interval is set to
 *     the tick's the first time a guest has reported none);
 *   - each NIC's bytes and errors from its tap's counters in
 *     /sys/class/net/vif<domid>.<device>/statistics (the guest receives
 *     what the tap transmits).
 * The monitor is asked only when the VM can be claimed within a few
 * milliseconds and each command is given little time, so a VM in the
 * middle of a long operation, or a QEMU slow to answer, holds up the
 * sampler briefly: its CPU and NIC figures are still read, its disks and
 * balloon are left unknown for that tick. */
#include "qemu_int.h"
#include "qmp.h"
#include "../base/log.h"
#include "../net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STATS_CLAIM_WAIT_MS 20  /* another operation owns the VM: skip QMP this tick */
#define STATS_QMP_TIMEOUT_MS 500
#define BALLOON_PATH "/machine/peripheral/balloon0" /* qemu_argv.c's id */

/* A small file's text into buf (NUL-terminated); -1 if unreadable. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	return n;
}

static int64_t read_int(const char *path)
{
	char buf[64];
	if (read_small(path, buf, sizeof buf) <= 0)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	return errno || end == buf ? -1 : (int64_t)v;
}

/* CPU time of one thread in ns, -1 when it is gone. */
static int64_t thread_ns(pid_t pid, pid_t tid)
{
	static long ticks;
	char path[96], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", (int)pid, (int)tid);
	if (read_small(path, buf, sizeof buf) > 0) {
		char *end;
		long long ns = strtoll(buf, &end, 10);
		if (end != buf && ns >= 0)
			return ns;
	}
	/* no schedstat (CONFIG_SCHED_INFO off): utime and stime, fields 14
	 * and 15, in clock ticks, counted after the command's parenthesis */
	snprintf(path, sizeof path, "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	if (read_small(path, buf, sizeof buf) <= 0)
		return -1;
	char *p = strrchr(buf, ')');
	if (!p)
		return -1;
	unsigned long long ut, st;
	if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	if (!ticks)
		ticks = sysconf(_SC_CLK_TCK) > 0 ? sysconf(_SC_CLK_TCK) : 100;
	return (int64_t)((ut + st) * (1000000000ULL / (unsigned long long)ticks));
}

/* query-cpus-fast: thread ids by cpu-index into the VM's cache. */
static void refresh_tids(struct qvm *v, struct qmp *q, const char *uuid)
{
	json_t *r = NULL;
	struct xerr e = XERR_INIT;
	if (qmp_exec(q, "query-cpus-fast", NULL, &r, STATS_QMP_TIMEOUT_MS, &e) < 0) {
		log_debug("qemu %s: query-cpus-fast: %s", uuid, e.nparams ? e.params[0] : e.code);
		xerr_clear(&e);
		return;
	}
	pid_t tids[RR_MAX_VCPUS];
	int n = 0;
	size_t i;
	json_t *c;
	json_array_foreach(r, i, c) {
		json_int_t idx = json_integer_value(json_object_get(c, "cpu-index"));
		if (idx < 0 || idx >= RR_MAX_VCPUS)
			continue;
		while (n <= idx)
			tids[n++] = 0;
		tids[idx] = (pid_t)json_integer_value(json_object_get(c, "thread-id"));
	}
	json_decref(r);
	qemu_set_vcpu_tids(v, tids, n);
}

/* The position of a device id path "/machine/peripheral/vbd<N>[/…]" or
 * "vbd<N>", -1 for any other. */
static int vbd_position(const char *qdev)
{
	if (!qdev)
		return -1;
	const char *p = strstr(qdev, "vbd");
	if (!p || (p != qdev && p[-1] != '/'))
		return -1;
	char *end;
	long n = strtol(p + 3, &end, 10);
	if (end == p + 3 || (*end && *end != '/') || n < 0 || n > 25)
		return -1;
	return (int)n;
}

static void read_disks(struct qmp *q, const struct xenops_stats_req *s, struct rr_vm_counters *o)
{
	json_t *r = NULL;
	struct xerr e = XERR_INIT;
	if (qmp_exec(q, "query-blockstats", NULL, &r, STATS_QMP_TIMEOUT_MS, &e) < 0) {
		log_debug("qemu %s: query-blockstats: %s", s->uuid, e.nparams ? e.params[0] : e.code);
		xerr_clear(&e);
		return;
	}
	size_t i;
	json_t *b;
	json_array_foreach(r, i, b) {
		int pos = vbd_position(json_string_value(json_object_get(b, "qdev")));
		bool want = false;
		for (int k = 0; k < s->ndisks && pos >= 0; k++)
			if (s->disk[k].position == pos && !s->disk[k].is_cdrom)
				want = true;
		json_t *st = json_object_get(b, "stats");
		if (!want || !st || o->ndisks >= RR_MAX_DISKS)
			continue;
		struct rr_disk_counters *d = &o->disk[o->ndisks++];
		snprintf(d->dev, sizeof d->dev, "xvd%c", 'a' + pos);
		d->rd_bytes = json_integer_value(json_object_get(st, "rd_bytes"));
		d->wr_bytes = json_integer_value(json_object_get(st, "wr_bytes"));
		d->rd_ops = json_integer_value(json_object_get(st, "rd_operations"));
		d->wr_ops = json_integer_value(json_object_get(st, "wr_operations"));
		d->rd_ns = json_integer_value(json_object_get(st, "rd_total_time_ns"));
		d->wr_ns = json_integer_value(json_object_get(st, "wr_total_time_ns"));
		d->inflight = -1; /* QEMU does not count requests in flight */
	}
	json_decref(r);
}

static void read_balloon(struct qmp *q, const char *uuid, struct rr_vm_counters *o)
{
	json_t *r = NULL;
	struct xerr e = XERR_INIT;
	if (qmp_exec(q, "query-balloon", NULL, &r, STATS_QMP_TIMEOUT_MS, &e) < 0) {
		log_debug("qemu %s: query-balloon: %s", uuid, e.nparams ? e.params[0] : e.code);
		xerr_clear(&e);
		return;
	}
	json_t *a = json_object_get(r, "actual");
	if (json_is_integer(a))
		o->memory = json_integer_value(a);
	json_decref(r);
	/* the guest's own figures, as its balloon driver reports them */
	r = NULL;
	if (qmp_exec(q, "qom-get", json_pack("{ss ss}", "path", BALLOON_PATH, "property", "guest-stats"), &r,
		     STATS_QMP_TIMEOUT_MS, &e) < 0) {
		xerr_clear(&e);
		return;
	}
	json_t *st = json_object_get(r, "stats");
	json_t *av = json_object_get(st, "stat-available-memory");
	json_int_t avail = json_is_integer(av) ? json_integer_value(av) : -1;
	json_int_t free_ = json_integer_value(json_object_get(st, "stat-free-memory"));
	bool never = json_integer_value(json_object_get(r, "last-update")) == 0;
	json_decref(r);
	/* MemAvailable when the guest tells it, else MemFree; -1: not told */
	if (avail >= 0)
		o->memory_internal_free = avail / 1024;
	else if (free_ > 0)
		o->memory_internal_free = free_ / 1024;
	if (never &&
	    qmp_exec(q, "qom-set",
		     json_pack("{ss ss si}", "path", BALLOON_PATH, "property", "guest-stats-polling-interval",
				 "value", (int)RR_STEP),
		     NULL, STATS_QMP_TIMEOUT_MS, &e) < 0)
		xerr_clear(&e);
}

static void read_vifs(const struct xenops_stats_req *s, struct rr_vm_counters *o)
{
	static const char *const names[] = {"tx_bytes", "rx_bytes", "tx_errors", "rx_errors"};
	for (int i = 0; i < s->nvifs && o->nvifs < RR_MAX_VIFS; i++) {
		char tap[NET_IFNAMSIZ], path[128];
		if (!net_vif_name(s->domid, s->vif[i], tap))
			continue;
		int64_t v[4];
		for (int k = 0; k < 4; k++) {
			snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", tap, names[k]);
			v[k] = read_int(path);
		}
		if (v[0] < 0 && v[1] < 0)
			continue; /* no tap (yet) */
		struct rr_vif_counters *c = &o->vif[o->nvifs++];
		c->device = s->vif[i];
		/* the tap transmits what the guest receives */
		c->rx_bytes = v[0];
		c->tx_bytes = v[1];
		c->rx_errors = v[2];
		c->tx_errors = v[3];
	}
}

int qemu_stats(const struct xenops_host *host, const struct xenops_stats_req *s, struct rr_vm_counters *o)
{
	(void)host;
	pid_t pid, tids[RR_MAX_VCPUS];
	int n = qemu_vcpu_tids(s->uuid, &pid, tids, RR_MAX_VCPUS);
	if (n < 0)
		return -1;
	o->memory_target = s->memory_target;
	o->memory = s->memory_actual > 0 ? s->memory_actual : -1;
	bool stale = n == 0 || n < s->vcpus;
	for (int i = 0; i < n && !stale; i++)
		if (tids[i] > 0 && thread_ns(pid, tids[i]) < 0)
			stale = true; /* vCPU unplugged, or a new QEMU */

	struct qvm *v = qemu_try_claim(s->uuid, STATS_CLAIM_WAIT_MS);
	struct qmp *q = v ? qemu_vm_qmp(v) : NULL;
	if (q && !qmp_is_closed(q)) {
		if (stale) {
			refresh_tids(v, q, s->uuid);
			n = qemu_vcpu_tids(s->uuid, &pid, tids, RR_MAX_VCPUS);
		}
		read_disks(q, s, o);
		read_balloon(q, s->uuid, o);
	}
	if (v)
		qemu_release(v);

	/* the vCPUs the VM has now: the ids QEMU reported, as many as
	 * VCPUs_number says when it says fewer (an unplug not yet seen) */
	int nv = n > 0 ? n : 0;
	if (s->vcpus > 0 && s->vcpus < nv)
		nv = (int)s->vcpus;
	o->nvcpus = nv;
	for (int i = 0; i < nv; i++)
		o->vcpu_ns[i] = tids[i] > 0 ? thread_ns(pid, tids[i]) : -1;
	read_vifs(s, o);
	return 0;
}
