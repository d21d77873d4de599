/* rr_host: the host's own figures from /proc — per-CPU busy time,
 * load average, memory and interface counters — and their rates under
 * xcp-rrdd's names (cpu<N>, cpu_avg, loadavg, memory_*_kib, pif_*). */
#include "rr.h"
#include "../base/mem.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static FILE *open_in(const char *root, const char *rel)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", root ? root : "/proc", rel);
	return fopen(path, "r");
}

static void read_stat(const char *root, struct rr_host_counters *c)
{
	FILE *f = open_in(root, "stat");
	if (!f)
		return;
	char line[512];
	size_t cap = 0;
	while (fgets(line, sizeof line, f)) {
		int n;
		/* cpu<N> lines only, not the "cpu " total */
		if (strncmp(line, "cpu", 3) || line[3] < '0' || line[3] > '9' || sscanf(line + 3, "%d", &n) != 1 ||
		    n > 4096)
			continue;
		long long v[10] = {0};
		char *p = strchr(line, ' ');
		int k = 0;
		while (p && k < 10) {
			char *e;
			long long x = strtoll(p, &e, 10);
			if (e == p)
				break;
			v[k++] = x;
			p = e;
		}
		if (k < 4)
			continue;
		if ((size_t)n >= cap) {
			size_t ncap = (size_t)n + 16;
			c->busy = xrealloc(c->busy, ncap * sizeof *c->busy);
			c->total = xrealloc(c->total, ncap * sizeof *c->total);
			for (size_t i = cap; i < ncap; i++)
				c->busy[i] = c->total[i] = -1;
			cap = ncap;
		}
		/* user nice system idle iowait irq softirq steal (guest is in user) */
		long long total = 0;
		for (int i = 0; i < k && i < 8; i++)
			total += v[i];
		c->total[n] = total;
		c->busy[n] = total - v[3] - (k > 4 ? v[4] : 0);
		if (n + 1 > c->ncpus)
			c->ncpus = n + 1;
	}
	fclose(f);
}

static void read_meminfo(const char *root, struct rr_host_counters *c)
{
	FILE *f = open_in(root, "meminfo");
	if (!f)
		return;
	char line[256];
	long long avail = -1, free_ = -1, v;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "MemTotal: %lld", &v) == 1)
			c->mem_total_kib = v;
		else if (sscanf(line, "MemFree: %lld", &v) == 1)
			free_ = v;
		else if (sscanf(line, "MemAvailable: %lld", &v) == 1)
			avail = v;
	}
	fclose(f);
	/* what a new VM could have: the page cache gives way */
	c->mem_free_kib = avail >= 0 ? avail : free_;
}

static bool is_physical(const char *root, const char *dev)
{
	if (!root) {
		char path[300];
		snprintf(path, sizeof path, "/sys/class/net/%s/device", dev);
		if (access(path, F_OK) == 0)
			return true;
	}
	return !strncmp(dev, "eth", 3) || !strncmp(dev, "en", 2) || !strncmp(dev, "wl", 2);
}

static void read_netdev(const char *root, const char *const *pifs, struct rr_host_counters *c)
{
	FILE *f = open_in(root, "net/dev");
	if (!f)
		return;
	char line[512];
	size_t cap = 0;
	while (fgets(line, sizeof line, f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		*colon = '\0';
		char *dev = line + strspn(line, " ");
		bool want = false;
		if (pifs) {
			for (size_t i = 0; pifs[i]; i++)
				want |= !strcmp(pifs[i], dev);
		} else {
			want = is_physical(root, dev);
		}
		if (!want)
			continue;
		long long v[16] = {0};
		char *p = colon + 1;
		for (int i = 0; i < 16; i++) {
			char *e;
			v[i] = strtoll(p, &e, 10);
			p = e;
		}
		if ((size_t)c->npifs == cap) {
			cap = cap ? cap * 2 : 8;
			c->pif = xrealloc(c->pif, cap * sizeof *c->pif);
		}
		struct rr_pif_counters *pc = &c->pif[c->npifs++];
		snprintf(pc->dev, sizeof pc->dev, "%s", dev);
		pc->rx_bytes = v[0];
		pc->rx_errors = v[2];
		pc->tx_bytes = v[8];
		pc->tx_errors = v[10];
		pc->physical = true;
	}
	fclose(f);
}

int rr_host_read(const char *root, const char *const *pifs, struct rr_host_counters *c)
{
	memset(c, 0, sizeof *c);
	c->loadavg = NAN;
	c->mem_total_kib = c->mem_free_kib = -1;
	read_stat(root, c);
	FILE *f = open_in(root, "loadavg");
	if (f) {
		if (fscanf(f, "%lf", &c->loadavg) != 1)
			c->loadavg = NAN;
		fclose(f);
	}
	read_meminfo(root, c);
	read_netdev(root, pifs, c);
	return c->ncpus > 0 ? 0 : -1;
}

void rr_host_counters_free(struct rr_host_counters *c)
{
	free(c->busy);
	free(c->total);
	free(c->pif);
	memset(c, 0, sizeof *c);
}

static double rate(int64_t a, int64_t b, double dt)
{
	if (a < 0 || b < 0 || b < a || dt <= 0)
		return NAN;
	return (double)(b - a) / dt;
}

void rr_host_rates(const struct rr_host_counters *p, const struct rr_host_counters *c, double dt,
		   struct rr_sample *out)
{
	char name[RR_NAME_MAX];
	double sum = 0;
	int known = 0;
	for (int i = 0; i < c->ncpus; i++) {
		double f = NAN;
		if (p && i < p->ncpus && c->total[i] > p->total[i] && p->busy[i] >= 0 && c->busy[i] >= p->busy[i])
			f = (double)(c->busy[i] - p->busy[i]) / (double)(c->total[i] - p->total[i]);
		if (!isnan(f)) {
			sum += f;
			known++;
		}
		snprintf(name, sizeof name, "cpu%d", i);
		rr_sample_add(out, name, f);
	}
	rr_sample_add(out, "cpu_avg", known ? sum / known : NAN);
	rr_sample_add(out, "loadavg", c->loadavg);
	rr_sample_add(out, "memory_total_kib", c->mem_total_kib >= 0 ? (double)c->mem_total_kib : NAN);
	rr_sample_add(out, "memory_free_kib", c->mem_free_kib >= 0 ? (double)c->mem_free_kib : NAN);
	double arx = 0, atx = 0;
	bool aknown = p != NULL;
	for (int i = 0; i < c->npifs; i++) {
		const struct rr_pif_counters *v = &c->pif[i], *pv = NULL;
		for (int j = 0; p && j < p->npifs; j++)
			if (!strcmp(p->pif[j].dev, v->dev))
				pv = &p->pif[j];
		double rx = pv ? rate(pv->rx_bytes, v->rx_bytes, dt) : NAN;
		double tx = pv ? rate(pv->tx_bytes, v->tx_bytes, dt) : NAN;
		if (isnan(rx) || isnan(tx))
			aknown = false;
		else {
			arx += rx;
			atx += tx;
		}
		snprintf(name, sizeof name, "pif_%s_rx", v->dev);
		rr_sample_add(out, name, rx);
		snprintf(name, sizeof name, "pif_%s_tx", v->dev);
		rr_sample_add(out, name, tx);
		snprintf(name, sizeof name, "pif_%s_rx_errors", v->dev);
		rr_sample_add(out, name, pv ? rate(pv->rx_errors, v->rx_errors, dt) : NAN);
		snprintf(name, sizeof name, "pif_%s_tx_errors", v->dev);
		rr_sample_add(out, name, pv ? rate(pv->tx_errors, v->tx_errors, dt) : NAN);
	}
	rr_sample_add(out, "pif_aggr_rx", aknown ? arx : NAN);
	rr_sample_add(out, "pif_aggr_tx", aknown ? atx : NAN);
}
