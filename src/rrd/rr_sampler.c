/* rr_sampler: every 5 s (on the wall clock's multiples of 5, as
 * xcp-rrdd), one pass: the host from /proc, then every running VM
 * through the ops the layer above registered; rates from the counters
 * kept since the last tick; one store update per object. The VMs' disks
 * are summed per SR: the host's iops_*_<sr8>, io_throughput_*_<sr8>,
 * read/write_latency_<sr8> and the SR's own RRD; their vCPUs make the
 * host's running_vcpus. A VM not reported any more has halted: its RRD
 * is flushed and stays as the archive. */
#include "rr_int.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct vm_state {
	char uuid[40];
	struct rr_vm_counters c;
	int64_t at_ms;
	unsigned seen;
};

struct sr_state {
	char uuid[40];
	struct rr_sr_io io; /* this tick's */
};

struct rr_sampler {
	struct rr_store *st;
	struct hmap srs; /* uuid → struct sr_state: every SR seen with a disk */
	char host_uuid[40];
	const struct rr_ops *ops;
	void *arg;
	struct hmap vms; /* uuid → struct vm_state */
	struct rr_host_counters host;
	int64_t host_ms;
	bool have_host;
	unsigned gen;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop, running;
};

struct rr_tick {
	struct rr_sampler *s;
	time_t t;
	bool min_max;
	struct rr_sample sample;
	int running_vcpus;
};

void rr_tick_vm(struct rr_tick *tick, const char *uuid, const struct rr_vm_counters *c)
{
	struct rr_sampler *s = tick->s;
	int64_t now = clock_now_ms();
	struct vm_state *v = hmap_get(&s->vms, uuid);
	bool fresh = !v;
	if (fresh) {
		v = xcalloc(1, sizeof *v);
		snprintf(v->uuid, sizeof v->uuid, "%s", uuid);
		hmap_put(&s->vms, v->uuid, v);
	}
	rr_sample_reset(&tick->sample);
	double dt = fresh ? 0 : (double)(now - v->at_ms) / 1000.0;
	rr_vm_rates(fresh ? NULL : &v->c, c, dt, &tick->sample);
	tick->running_vcpus += c->nvcpus;
	for (int i = 0; i < c->ndisks && i < RR_MAX_DISKS; i++) {
		const struct rr_disk_counters *d = &c->disk[i], *pd = NULL;
		if (!d->sr[0])
			continue;
		for (int j = 0; !fresh && j < v->c.ndisks; j++)
			if (!strcmp(v->c.disk[j].dev, d->dev) && !strcmp(v->c.disk[j].sr, d->sr))
				pd = &v->c.disk[j];
		struct sr_state *ss = hmap_get(&s->srs, d->sr);
		if (!ss) {
			ss = xcalloc(1, sizeof *ss);
			snprintf(ss->uuid, sizeof ss->uuid, "%s", d->sr);
			hmap_put(&s->srs, ss->uuid, ss);
		}
		rr_sr_io_add(&ss->io, pd, d, dt);
	}
	v->c = *c;
	v->at_ms = now;
	v->seen = s->gen;
	struct xerr err = XERR_INIT;
	if (rr_store_update(s->st, RR_VM, uuid, tick->t, &tick->sample, tick->min_max, &err) < 0) {
		log_warn("rrd: VM %s: %s", uuid, err.nparams ? err.params[0] : err.code);
		xerr_clear(&err);
	}
	if (s->ops->published)
		s->ops->published(s->arg, RR_VM, uuid, &tick->sample, tick->t);
}

void rr_sampler_tick(struct rr_sampler *s, time_t t)
{
	struct rr_tick tick = {.s = s, .t = t};
	tick.min_max = s->ops->min_max ? s->ops->min_max(s->arg) : false;
	s->gen++;
	/* the VMs, first: the host's figures include their SRs' */
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&s->srs, &it, &k, &v);)
		memset(&((struct sr_state *)v)->io, 0, sizeof((struct sr_state *)v)->io);
	if (s->ops->collect_vms)
		s->ops->collect_vms(s->arg, &tick);
	/* the host */
	struct rr_host_counters now;
	const char *const *pifs = s->ops->pif_devices ? s->ops->pif_devices(s->arg) : NULL;
	int64_t ms = clock_now_ms();
	if (rr_host_read(NULL, pifs, &now) == 0) {
		rr_sample_reset(&tick.sample);
		rr_host_rates(s->have_host ? &s->host : NULL, &now, (double)(ms - s->host_ms) / 1000.0,
			      &tick.sample);
		rr_sample_add(&tick.sample, "running_vcpus", tick.running_vcpus);
		for (size_t it = 0; hmap_next(&s->srs, &it, &k, &v);)
			rr_sr_rates(&((struct sr_state *)v)->io, ((struct sr_state *)v)->uuid, &tick.sample);
		struct xerr err = XERR_INIT;
		if (rr_store_update(s->st, RR_HOST, s->host_uuid, t, &tick.sample, tick.min_max, &err) < 0) {
			log_warn("rrd: host: %s", err.nparams ? err.params[0] : err.code);
			xerr_clear(&err);
		}
		if (s->ops->published)
			s->ops->published(s->arg, RR_HOST, s->host_uuid, &tick.sample, t);
		rr_host_counters_free(&s->host);
		s->host = now;
		s->host_ms = ms;
		s->have_host = true;
	} else {
		rr_host_counters_free(&now);
	}
	/* the SRs */
	for (size_t it = 0; hmap_next(&s->srs, &it, &k, &v);) {
		struct sr_state *ss = v;
		rr_sample_reset(&tick.sample);
		rr_sr_rates(&ss->io, NULL, &tick.sample);
		struct xerr err = XERR_INIT;
		if (rr_store_update(s->st, RR_SR, ss->uuid, t, &tick.sample, tick.min_max, &err) < 0) {
			log_warn("rrd: SR %s: %s", ss->uuid, err.nparams ? err.params[0] : err.code);
			xerr_clear(&err);
		}
		if (s->ops->published)
			s->ops->published(s->arg, RR_SR, ss->uuid, &tick.sample, t);
	}
	/* those gone since: halted; their RRDs written out as archives */
	char **gone = NULL;
	size_t ngone = 0;
	for (size_t it = 0; hmap_next(&s->vms, &it, &k, &v);) {
		struct vm_state *vs = v;
		if (vs->seen != s->gen) {
			gone = xrealloc(gone, (ngone + 1) * sizeof *gone);
			gone[ngone++] = vs->uuid;
		}
	}
	for (size_t i = 0; i < ngone; i++) {
		struct vm_state *vs = hmap_del(&s->vms, gone[i]);
		rr_store_flush(s->st, vs->uuid);
		free(vs);
	}
	free(gone);
	rr_sample_free(&tick.sample);
}

static void *sampler_main(void *arg)
{
	struct rr_sampler *s = arg;
	pthread_mutex_lock(&s->mu);
	while (!s->stop) {
		struct timespec now;
		clock_gettime(CLOCK_REALTIME, &now);
		time_t next = now.tv_sec - now.tv_sec % RR_STEP + RR_STEP;
		struct timespec at = {.tv_sec = next, .tv_nsec = 0};
		int rc = 0;
		while (!s->stop && rc != ETIMEDOUT)
			rc = pthread_cond_timedwait(&s->cv, &s->mu, &at);
		if (s->stop)
			break;
		pthread_mutex_unlock(&s->mu);
		rr_sampler_tick(s, next);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

struct rr_sampler *rr_sampler_start(struct rr_store *st, const char *host_uuid, const struct rr_ops *ops,
				    void *arg)
{
	struct rr_sampler *s = xcalloc(1, sizeof *s);
	s->st = st;
	snprintf(s->host_uuid, sizeof s->host_uuid, "%s", host_uuid);
	s->ops = ops;
	s->arg = arg;
	hmap_init(&s->vms);
	hmap_init(&s->srs);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_REALTIME);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&s->thread, NULL, sampler_main, s) == 0)
		s->running = true;
	else
		log_error("rrd: cannot start the sampler");
	return s;
}

void rr_sampler_stop(struct rr_sampler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->mu);
	s->stop = true;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	if (s->running)
		pthread_join(s->thread, NULL);
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&s->vms, &it, &k, &v);)
		free(v);
	hmap_free(&s->vms);
	for (size_t it = 0; hmap_next(&s->srs, &it, &k, &v);)
		free(v);
	hmap_free(&s->srs);
	rr_host_counters_free(&s->host);
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->cv);
	free(s);
}
