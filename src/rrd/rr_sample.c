/* rr_sample: one tick's named values, the description of each data source
 * as xapi gives it (units, range, default), and the rates a VM's or the
 * host's cumulative counters make between two ticks. */
#include "rr.h"
#include "../base/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rr_kind_name(enum rr_kind k)
{
	return k == RR_HOST ? "host" : k == RR_VM ? "vm" : "sr";
}

void rr_sample_add(struct rr_sample *s, const char *name, double v)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 32;
		s->v = xrealloc(s->v, s->cap * sizeof *s->v);
	}
	snprintf(s->v[s->n].name, RR_NAME_MAX, "%s", name);
	s->v[s->n].v = v;
	s->n++;
}

double rr_sample_get(const struct rr_sample *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i].name, name))
			return s->v[i].v;
	return NAN;
}

void rr_sample_reset(struct rr_sample *s)
{
	s->n = 0;
}

void rr_sample_free(struct rr_sample *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}

void rr_vm_counters_init(struct rr_vm_counters *c)
{
	memset(c, 0, sizeof *c);
	c->memory = c->memory_target = c->memory_internal_free = -1;
}

/* ---- descriptions ---- */

static bool has_suffix(const char *s, const char *suf, size_t *stem)
{
	size_t n = strlen(s), m = strlen(suf);
	if (n < m || strcmp(s + n - m, suf))
		return false;
	*stem = n - m;
	return true;
}

static void set(struct rr_ds_info *o, const char *units, bool dflt, double min, double max, const char *fmt,
		const char *arg)
{
	o->units = units;
	o->dflt = dflt;
	o->min = min;
	o->max = max;
	snprintf(o->description, sizeof o->description, fmt, arg);
}

/* An SR's I/O figure by its name without the SR part: true if known. */
static bool describe_sr_io(const char *base, const char *sr, struct rr_ds_info *o)
{
	static const struct {
		const char *name, *units, *fmt;
	} io[] = {
		{"read", "B/s", "Reads from SR%s, in B/s"},
		{"write", "B/s", "Writes to SR%s, in B/s"},
		{"read_latency", "μs", "Read latency of SR%s, in microseconds"},
		{"write_latency", "μs", "Write latency of SR%s, in microseconds"},
		{"latency", "μs", "Average I/O latency of SR%s"},
		{"iops_read", "requests/s", "Read requests per second of SR%s"},
		{"iops_write", "requests/s", "Write requests per second of SR%s"},
		{"iops_total", "requests/s", "I/O requests per second of SR%s"},
		{"io_throughput_read", "MiB/s", "Data read from SR%s, in MiB/s"},
		{"io_throughput_write", "MiB/s", "Data written to SR%s, in MiB/s"},
		{"io_throughput_total", "MiB/s", "All I/O of SR%s, in MiB/s"},
		{"inflight", "requests", "Number of I/O requests currently in flight on SR%s"},
	};
	for (size_t i = 0; i < sizeof io / sizeof io[0]; i++)
		if (!strcmp(base, io[i].name)) {
			set(o, io[i].units, true, 0, INFINITY, io[i].fmt, sr);
			return true;
		}
	return false;
}

void rr_ds_describe(enum rr_kind k, const char *name, struct rr_ds_info *o)
{
	char mid[RR_NAME_MAX];
	size_t stem;
	int n;
	set(o, "", false, -INFINITY, INFINITY, "%s", name);
	if (sscanf(name, "cpu%d", &n) == 1 && strspn(name + 3, "0123456789") == strlen(name + 3)) {
		snprintf(mid, sizeof mid, "%d", n);
		set(o, "(fraction)", true, 0, 1, k == RR_HOST ? "Physical cpu usage for cpu %s" : "CPU%s usage", mid);
		return;
	}
	if (k == RR_HOST) {
		if (!strcmp(name, "cpu_avg"))
			set(o, "(fraction)", true, 0, 1, "%sAverage physical cpu usage", "");
		else if (!strcmp(name, "loadavg"))
			set(o, "(fraction)", true, 0, INFINITY, "%sDomain0 loadavg", "");
		else if (!strcmp(name, "memory_total_kib"))
			set(o, "KiB", true, 0, INFINITY, "%sTotal amount of memory in the host", "");
		else if (!strcmp(name, "memory_free_kib"))
			set(o, "KiB", true, 0, INFINITY, "%sTotal amount of free memory", "");
		else if (!strcmp(name, "running_vcpus"))
			set(o, "count", true, 0, INFINITY, "%sThe total number of running vCPUs", "");
		else if (!strcmp(name, "pif_aggr_rx"))
			set(o, "B/s", true, 0, INFINITY, "%sBytes per second received on all physical interfaces", "");
		else if (!strcmp(name, "pif_aggr_tx"))
			set(o, "B/s", true, 0, INFINITY, "%sBytes per second sent on all physical interfaces", "");
		else if (!strncmp(name, "pif_", 4)) {
			const char *rest = name + 4;
			static const struct {
				const char *suf, *units, *fmt;
				bool dflt;
			} pif[] = {
				{"_rx_errors", "(errors/s)", "Receive errors per second on physical interface %s", false},
				{"_tx_errors", "(errors/s)", "Transmit errors per second on physical interface %s", false},
				{"_rx", "B/s", "Bytes per second received on physical interface %s", true},
				{"_tx", "B/s", "Bytes per second sent on physical interface %s", true},
			};
			for (size_t i = 0; i < sizeof pif / sizeof pif[0]; i++)
				if (has_suffix(rest, pif[i].suf, &stem)) {
					snprintf(mid, sizeof mid, "%.*s", (int)stem, rest);
					set(o, pif[i].units, pif[i].dflt, 0, INFINITY, pif[i].fmt, mid);
					return;
				}
		} else {
			/* <figure>_<sr8> */
			size_t len = strlen(name);
			if (len > 9 && name[len - 9] == '_' && strspn(name + len - 8, "0123456789abcdef") == 8) {
				char sr[10];
				snprintf(mid, sizeof mid, "%.*s", (int)(len - 9), name);
				snprintf(sr, sizeof sr, " %s", name + len - 8);
				describe_sr_io(mid, sr, o);
			}
		}
		return;
	}
	if (k == RR_SR) {
		describe_sr_io(name, "", o);
		return;
	}
	if (k != RR_VM)
		return;
	if (!strcmp(name, "cpu_usage"))
		set(o, "(fraction)", true, 0, 1, "%sDomain CPU usage", "");
	else if (!strcmp(name, "memory"))
		set(o, "B", true, 0, INFINITY, "%sMemory currently allocated to VM", "");
	else if (!strcmp(name, "memory_target"))
		set(o, "B", true, 0, INFINITY, "%sTarget of VM balloon driver", "");
	else if (!strcmp(name, "memory_internal_free"))
		set(o, "KiB", true, 0, INFINITY, "%sMemory used as reported by the guest agent", "");
	else if (!strncmp(name, "vif_", 4)) {
		static const struct {
			const char *suf, *units, *fmt;
			bool dflt;
		} vif[] = {
			{"_rx_errors", "(errors/s)", "Receive errors per second on virtual interface number '%s'", false},
			{"_tx_errors", "(errors/s)", "Transmit errors per second on virtual interface number '%s'", false},
			{"_rx", "B/s", "Bytes per second received on virtual interface number '%s'", true},
			{"_tx", "B/s", "Bytes per second transmitted on virtual interface number '%s'", true},
		};
		for (size_t i = 0; i < sizeof vif / sizeof vif[0]; i++)
			if (has_suffix(name + 4, vif[i].suf, &stem)) {
				snprintf(mid, sizeof mid, "%.*s", (int)stem, name + 4);
				set(o, vif[i].units, vif[i].dflt, 0, INFINITY, vif[i].fmt, mid);
				return;
			}
	} else if (!strncmp(name, "vbd_", 4)) {
		static const struct {
			const char *suf, *units, *fmt;
			bool dflt;
		} vbd[] = {
			{"_read_latency", "μs", "Reads from device '%s' latency", true},
			{"_write_latency", "μs", "Writes to device '%s' latency", true},
			{"_iops_read", "requests/s", "Read requests per second from device '%s'", true},
			{"_iops_write", "requests/s", "Write requests per second to device '%s'", true},
			{"_iops_total", "requests/s", "I/O requests per second of device '%s'", true},
			{"_io_throughput_read", "MiB/s", "Data read from device '%s', in MiB/s", true},
			{"_io_throughput_write", "MiB/s", "Data written to device '%s', in MiB/s", true},
			{"_io_throughput_total", "MiB/s", "All I/O of device '%s', in MiB/s", true},
			{"_inflight", "requests", "Number of I/O requests currently in flight on device '%s'", true},
			{"_read", "B/s", "Reads from device '%s' in bytes per second", true},
			{"_write", "B/s", "Writes to device '%s' in bytes per second", true},
		};
		for (size_t i = 0; i < sizeof vbd / sizeof vbd[0]; i++)
			if (has_suffix(name + 4, vbd[i].suf, &stem)) {
				snprintf(mid, sizeof mid, "%.*s", (int)stem, name + 4);
				set(o, vbd[i].units, vbd[i].dflt, 0, INFINITY, vbd[i].fmt, mid);
				return;
			}
	}
}

/* ---- rates ---- */

/* Per-second increase of a counter, NaN when unknown or reset. */
static double rate(int64_t a, int64_t b, double dt)
{
	if (a < 0 || b < 0 || b < a || dt <= 0)
		return NAN;
	return (double)(b - a) / dt;
}

void rr_vm_rates(const struct rr_vm_counters *p, const struct rr_vm_counters *c, double dt,
		 struct rr_sample *out)
{
	char name[RR_NAME_MAX];
	double sum = 0;
	int known = 0;
	for (int i = 0; i < c->nvcpus && i < RR_MAX_VCPUS; i++) {
		double f = p && i < p->nvcpus ? rate(p->vcpu_ns[i], c->vcpu_ns[i], dt) / 1e9 : NAN;
		if (!isnan(f)) {
			sum += f;
			known++;
		}
		snprintf(name, sizeof name, "cpu%d", i);
		rr_sample_add(out, name, f);
	}
	rr_sample_add(out, "cpu_usage", known && known == c->nvcpus ? sum / known : NAN);
	rr_sample_add(out, "memory", c->memory >= 0 ? (double)c->memory : NAN);
	rr_sample_add(out, "memory_target", c->memory_target >= 0 ? (double)c->memory_target : NAN);
	rr_sample_add(out, "memory_internal_free",
		      c->memory_internal_free >= 0 ? (double)c->memory_internal_free : NAN);
	for (int i = 0; i < c->nvifs && i < RR_MAX_VIFS; i++) {
		const struct rr_vif_counters *v = &c->vif[i], *pv = NULL;
		for (int j = 0; p && j < p->nvifs; j++)
			if (p->vif[j].device == v->device)
				pv = &p->vif[j];
		snprintf(name, sizeof name, "vif_%d_rx", v->device);
		rr_sample_add(out, name, pv ? rate(pv->rx_bytes, v->rx_bytes, dt) : NAN);
		snprintf(name, sizeof name, "vif_%d_tx", v->device);
		rr_sample_add(out, name, pv ? rate(pv->tx_bytes, v->tx_bytes, dt) : NAN);
		snprintf(name, sizeof name, "vif_%d_rx_errors", v->device);
		rr_sample_add(out, name, pv ? rate(pv->rx_errors, v->rx_errors, dt) : NAN);
		snprintf(name, sizeof name, "vif_%d_tx_errors", v->device);
		rr_sample_add(out, name, pv ? rate(pv->tx_errors, v->tx_errors, dt) : NAN);
	}
	for (int i = 0; i < c->ndisks && i < RR_MAX_DISKS; i++) {
		const struct rr_disk_counters *d = &c->disk[i], *pd = NULL;
		for (int j = 0; p && j < p->ndisks; j++)
			if (!strcmp(p->disk[j].dev, d->dev))
				pd = &p->disk[j];
		double rd = pd ? rate(pd->rd_bytes, d->rd_bytes, dt) : NAN;
		double wr = pd ? rate(pd->wr_bytes, d->wr_bytes, dt) : NAN;
		double ri = pd ? rate(pd->rd_ops, d->rd_ops, dt) : NAN;
		double wi = pd ? rate(pd->wr_ops, d->wr_ops, dt) : NAN;
		/* mean time of the requests completed since the last tick, µs */
		double rl = pd && d->rd_ops > pd->rd_ops && d->rd_ns >= pd->rd_ns
				    ? (double)(d->rd_ns - pd->rd_ns) / (double)(d->rd_ops - pd->rd_ops) / 1e3
				    : (pd && d->rd_ops == pd->rd_ops ? 0 : NAN);
		double wl = pd && d->wr_ops > pd->wr_ops && d->wr_ns >= pd->wr_ns
				    ? (double)(d->wr_ns - pd->wr_ns) / (double)(d->wr_ops - pd->wr_ops) / 1e3
				    : (pd && d->wr_ops == pd->wr_ops ? 0 : NAN);
		static const char *const suf[] = {"read", "write", "read_latency", "write_latency",
						   "iops_read", "iops_write", "iops_total", "io_throughput_read",
						   "io_throughput_write", "io_throughput_total", "inflight"};
		double val[] = {rd, wr, rl, wl, ri, wi, ri + wi, rd / 1048576.0, wr / 1048576.0,
				(rd + wr) / 1048576.0, d->inflight >= 0 ? (double)d->inflight : NAN};
		for (size_t k = 0; k < sizeof suf / sizeof suf[0]; k++) {
			snprintf(name, sizeof name, "vbd_%s_%s", d->dev, suf[k]);
			rr_sample_add(out, name, val[k]);
		}
	}
}

/* ---- an SR's I/O ---- */

void rr_sr_io_add(struct rr_sr_io *acc, const struct rr_disk_counters *p, const struct rr_disk_counters *c,
		  double dt)
{
	if (c->inflight > 0)
		acc->inflight += (double)c->inflight;
	if (!p || dt <= 0 || c->rd_bytes < p->rd_bytes || c->wr_bytes < p->wr_bytes || c->rd_ops < p->rd_ops ||
	    c->wr_ops < p->wr_ops || p->rd_bytes < 0 || p->wr_bytes < 0 || p->rd_ops < 0 || p->wr_ops < 0)
		return;
	acc->rd_bytes += (double)(c->rd_bytes - p->rd_bytes) / dt;
	acc->wr_bytes += (double)(c->wr_bytes - p->wr_bytes) / dt;
	acc->rd_ops += (double)(c->rd_ops - p->rd_ops) / dt;
	acc->wr_ops += (double)(c->wr_ops - p->wr_ops) / dt;
	if (c->rd_ns >= p->rd_ns && p->rd_ns >= 0)
		acc->rd_ns += (double)(c->rd_ns - p->rd_ns) / dt;
	if (c->wr_ns >= p->wr_ns && p->wr_ns >= 0)
		acc->wr_ns += (double)(c->wr_ns - p->wr_ns) / dt;
}

void rr_sr_rates(const struct rr_sr_io *io, const char *sr8, struct rr_sample *out)
{
	/* mean time of a request completed in the tick, µs; 0 without any */
	double rl = io->rd_ops > 0 ? io->rd_ns / io->rd_ops / 1e3 : 0;
	double wl = io->wr_ops > 0 ? io->wr_ns / io->wr_ops / 1e3 : 0;
	double ops = io->rd_ops + io->wr_ops;
	double l = ops > 0 ? (io->rd_ns + io->wr_ns) / ops / 1e3 : 0;
	static const char *const suf[] = {"read",	  "write",	   "read_latency",	  "write_latency",
					   "latency",	  "iops_read",	   "iops_write",	  "iops_total",
					   "io_throughput_read", "io_throughput_write", "io_throughput_total", "inflight"};
	double val[] = {io->rd_bytes,
			io->wr_bytes,
			rl,
			wl,
			l,
			io->rd_ops,
			io->wr_ops,
			ops,
			io->rd_bytes / 1048576.0,
			io->wr_bytes / 1048576.0,
			(io->rd_bytes + io->wr_bytes) / 1048576.0,
			io->inflight};
	char name[RR_NAME_MAX];
	for (size_t k = 0; k < sizeof suf / sizeof suf[0]; k++) {
		if (sr8)
			snprintf(name, sizeof name, "%s_%.8s", suf[k], sr8);
		else
			snprintf(name, sizeof name, "%s", suf[k]);
		rr_sample_add(out, name, val[k]);
	}
}
