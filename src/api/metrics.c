/* metrics: the daemon's side of the rrd layer — it tells the sampler which
 * VMs run here and asks the backend for their counters (one pass, copied
 * out of the store first), keeps VM_metrics and host_metrics in step with
 * the samples, and implements the data source messages of VM, host and
 * SR. */
#include "api.h"
#include "metrics.h"
#include "perfmon.h"
#include "pool_forward.h"
#include "../base/b64.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../pool/raft.h"
#include "../base/mem.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct metrics {
	struct server *srv;
	struct rr_store *st;
	struct rr_sampler *sampler;
	char host_uuid[40];
	pthread_mutex_t mu;
	struct hmap last;  /* uuid → struct rr_sample: each object's latest sample */
	char **pifs;       /* the host's physical PIF devices, NULL-terminated */
	struct perfmon *pm; /* the alarms of other_config:perfmon (sampler thread only) */
	size_t npifs;
	pthread_t mover; /* moves VMs' RRDs where they belong (a pool's hosts) */
	pthread_cond_t wake;
	bool stop, moving;
};

/* The relation behind a derived set field (the one-side field it inverts). */
static int field_relation(int cls, int field)
{
	const struct sc_field *f = &sc_classes[cls].fields[field];
	return sc_classes[f->rel_cls].fields[f->rel_field].rel_index;
}

static void copy_req(struct db *db, struct db_obj *vm, struct xenops_stats_req *r)
{
	memset(r, 0, sizeof *r);
	snprintf(r->uuid, sizeof r->uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
	r->domid = db_peek_int(vm, SC_F_VM__domid);
	struct db_obj *m = db_lookup_cls(db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
	r->vcpus = m ? db_peek_int(m, SC_F_VM_metrics__VCPUs_number) : 0;
	if (r->vcpus <= 0)
		r->vcpus = db_peek_int(vm, SC_F_VM__VCPUs_at_startup);
	r->memory_actual = m ? db_peek_int(m, SC_F_VM_metrics__memory_actual) : 0;
	r->memory_target = db_peek_int(vm, SC_F_VM__memory_target);
	if (r->memory_target <= 0)
		r->memory_target = db_peek_int(vm, SC_F_VM__memory_dynamic_max);
	/* VM.VBDs and VM.VIFs are derived: the objects pointing at the VM */
	const struct db_objvec *vbds = db_referrers(db, field_relation(SC_C_VM, SC_F_VM__VBDs), vm->ref);
	for (size_t i = 0; vbds && i < vbds->n && r->ndisks < RR_MAX_DISKS; i++) {
		struct db_obj *b = vbds->v[i];
		if (!db_peek_bool(b, SC_F_VBD__currently_attached))
			continue;
		const char *ud = db_peek_str(b, SC_F_VBD__userdevice);
		r->disk[r->ndisks].position = ud && *ud >= '0' && *ud <= '9' ? atoi(ud) : -1;
		r->disk[r->ndisks].is_cdrom = !strcmp(db_peek_str(b, SC_F_VBD__type), "CD");
		struct db_obj *vdi = db_lookup_cls(db, SC_C_VDI, db_peek_str(b, SC_F_VBD__VDI));
		struct db_obj *sr = vdi ? db_lookup_cls(db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
		snprintf(r->disk[r->ndisks].sr, sizeof r->disk[r->ndisks].sr, "%s",
			 sr ? db_peek_str(sr, SC_F_SR__uuid) : "");
		r->ndisks++;
	}
	const struct db_objvec *vifs = db_referrers(db, field_relation(SC_C_VM, SC_F_VM__VIFs), vm->ref);
	for (size_t i = 0; vifs && i < vifs->n && r->nvifs < RR_MAX_VIFS; i++) {
		struct db_obj *v = vifs->v[i];
		if (!db_peek_bool(v, SC_F_VIF__currently_attached))
			continue;
		r->vif[r->nvifs++] = atoi(db_peek_str(v, SC_F_VIF__device));
	}
}

static void collect_vms(void *arg, struct rr_tick *tick)
{
	struct metrics *m = arg;
	struct server *srv = m->srv;
	if (!srv->backend->stats)
		return;
	struct xenops_stats_req *reqs = NULL;
	size_t n = 0, cap = 0;
	db_rdlock(srv->db);
	for (struct db_obj *vm = db_first(srv->db, SC_C_VM); vm; vm = db_next(vm)) {
		const char *ps = db_peek_str(vm, SC_F_VM__power_state);
		if ((strcmp(ps, "Running") && strcmp(ps, "Paused")) ||
		    strcmp(db_peek_str(vm, SC_F_VM__resident_on), srv->host_ref) ||
		    db_peek_bool(vm, SC_F_VM__is_control_domain))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			reqs = xrealloc(reqs, cap * sizeof *reqs);
		}
		copy_req(srv->db, vm, &reqs[n++]);
	}
	db_unlock(srv->db);
	struct rr_vm_counters *c = xmalloc(sizeof *c);
	for (size_t i = 0; i < n; i++) {
		rr_vm_counters_init(c);
		if (srv->backend->stats(&srv->xh, &reqs[i], c) < 0)
			continue;
		/* each disk's SR, by its position (xvd<a + position>) */
		for (int d = 0; d < c->ndisks; d++)
			for (int j = 0; j < reqs[i].ndisks; j++)
				if (reqs[i].disk[j].position == c->disk[d].dev[3] - 'a' && !reqs[i].disk[j].is_cdrom)
					snprintf(c->disk[d].sr, sizeof c->disk[d].sr, "%s", reqs[i].disk[j].sr);
		rr_tick_vm(tick, reqs[i].uuid, c);
	}
	free(c);
	free(reqs);
}

/* The space of the SRs plugged here, from their records (the driver's
 * last scan): the SR RRDs' size and physical_utilisation. */
static void collect_srs(void *arg, struct rr_tick *tick)
{
	struct metrics *m = arg;
	struct server *srv = m->srv;
	struct sr_space {
		char uuid[40];
		double size, util;
	} *sp = NULL;
	size_t n = 0;
	db_rdlock(srv->db);
	for (struct db_obj *p = db_first(srv->db, SC_C_PBD); p; p = db_next(p)) {
		if (!db_peek_bool(p, SC_F_PBD__currently_attached) || strcmp(db_peek_str(p, SC_F_PBD__host), srv->host_ref))
			continue;
		struct db_obj *sr = db_lookup_cls(srv->db, SC_C_SR, db_peek_str(p, SC_F_PBD__SR));
		if (!sr)
			continue;
		sp = xrealloc(sp, (n + 1) * sizeof *sp);
		snprintf(sp[n].uuid, sizeof sp[n].uuid, "%s", db_peek_str(sr, SC_F_SR__uuid));
		sp[n].size = (double)db_peek_int(sr, SC_F_SR__physical_size);
		sp[n].util = (double)db_peek_int(sr, SC_F_SR__physical_utilisation);
		n++;
	}
	db_unlock(srv->db);
	for (size_t i = 0; i < n; i++)
		rr_tick_sr(tick, sp[i].uuid, sp[i].size, sp[i].util);
	free(sp);
}

static const char *const *pif_devices(void *arg)
{
	struct metrics *m = arg;
	struct server *srv = m->srv;
	for (size_t i = 0; i < m->npifs; i++)
		free(m->pifs[i]);
	m->npifs = 0;
	db_rdlock(srv->db);
	for (struct db_obj *p = db_first(srv->db, SC_C_PIF); p; p = db_next(p)) {
		if (!db_peek_bool(p, SC_F_PIF__physical) || strcmp(db_peek_str(p, SC_F_PIF__host), srv->host_ref))
			continue;
		m->pifs = xrealloc(m->pifs, (m->npifs + 2) * sizeof *m->pifs);
		m->pifs[m->npifs++] = xstrdup(db_peek_str(p, SC_F_PIF__device));
	}
	db_unlock(srv->db);
	if (!m->npifs)
		return NULL;
	m->pifs[m->npifs] = NULL;
	return (const char *const *)m->pifs;
}

static bool min_max(void *arg)
{
	struct metrics *m = arg;
	db_rdlock(m->srv->db);
	struct db_obj *pool = db_first(m->srv->db, SC_C_pool);
	const char *v = pool ? xv_map_get_str(db_peek(pool, SC_F_pool__other_config), "create_min_max_in_new_VM_RRDs")
			     : NULL;
	bool on = v && !strcmp(v, "true");
	db_unlock(m->srv->db);
	return on;
}

/* The host's control domain is watched with the host's tick: its
 * variables (fs_usage, log_fs_usage, mem_usage) measure the host itself,
 * as xapi's perfmon measures dom0's. */
static void control_domain_sample(struct metrics *m, time_t at)
{
	char uuid[40] = "";
	db_rdlock(m->srv->db);
	for (struct db_obj *vm = db_first(m->srv->db, SC_C_VM); vm; vm = db_next(vm))
		if (db_peek_bool(vm, SC_F_VM__is_control_domain) &&
		    !strcmp(db_peek_str(vm, SC_F_VM__resident_on), m->srv->host_ref)) {
			snprintf(uuid, sizeof uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
			break;
		}
	db_unlock(m->srv->db);
	if (!uuid[0])
		return;
	struct rr_sample s = {0}; /* dom0 has no RRD of its own here */
	perfmon_sample(m->pm, m->srv->db, RR_VM, uuid, &s, (int64_t)at);
}

/* The records follow the samples only where they differ, so a steady VM
 * costs the store nothing. */
static void published(void *arg, enum rr_kind k, const char *uuid, const struct rr_sample *s, time_t at)
{
	struct metrics *m = arg;
	pthread_mutex_lock(&m->mu);
	struct rr_sample *keep = hmap_get(&m->last, uuid);
	if (!keep) {
		keep = xcalloc(1, sizeof *keep + 40);
		char *key = (char *)(keep + 1);
		snprintf(key, 40, "%s", uuid);
		hmap_put(&m->last, key, keep);
	}
	rr_sample_reset(keep);
	for (size_t i = 0; i < s->n; i++)
		rr_sample_add(keep, s->v[i].name, s->v[i].v);
	pthread_mutex_unlock(&m->mu);
	perfmon_sample(m->pm, m->srv->db, k, uuid, s, (int64_t)at);
	if (k == RR_HOST)
		control_domain_sample(m, at);
	if (k != RR_VM)
		return;
	double mem = rr_sample_get(s, "memory");
	if (isnan(mem))
		return;
	struct db *db = m->srv->db;
	db_rdlock(db);
	struct db_obj *vm = db_lookup_uuid(db, SC_C_VM, uuid);
	struct db_obj *vmm = vm ? db_lookup_cls(db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics)) : NULL;
	bool differs = vmm && db_peek_int(vmm, SC_F_VM_metrics__memory_actual) != (int64_t)mem;
	db_unlock(db);
	if (!differs)
		return;
	struct db_txn *t = db_begin(db);
	vm = db_lookup_uuid(db, SC_C_VM, uuid);
	vmm = vm ? db_lookup_cls(db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics)) : NULL;
	if (!vmm) {
		db_abort(t);
		return;
	}
	db_set_int(t, vmm, SC_F_VM_metrics__memory_actual, (int64_t)mem);
	struct xerr err = XERR_INIT;
	db_commit(t, &err);
	xerr_clear(&err);
}

/* ---- Prometheus ---- */

struct prom_family {
	struct strbuf lines;
};

static void prom_label(struct strbuf *sb, const char *k, const char *v, bool first)
{
	if (!first)
		sb_putc(sb, ',');
	sb_puts(sb, k);
	sb_puts(sb, "=\"");
	for (const char *p = v; *p; p++) {
		if (*p == '\\' || *p == '"')
			sb_putc(sb, '\\'), sb_putc(sb, *p);
		else if (*p == '\n')
			sb_puts(sb, "\\n");
		else
			sb_putc(sb, *p);
	}
	sb_putc(sb, '"');
}

static void prom_value(struct strbuf *sb, double v)
{
	char buf[40];
	if (isinf(v))
		sb_puts(sb, v > 0 ? "+Inf" : "-Inf");
	else {
		snprintf(buf, sizeof buf, "%.17g", v);
		sb_puts(sb, buf);
	}
}

/* One object's sample into the families (name -> struct prom_family). */
static void prom_object(struct hmap *fam, enum rr_kind k, const struct rr_sample *s, const char *labels)
{
	char name[RR_NAME_MAX + 16];
	for (size_t i = 0; i < s->n; i++) {
		if (isnan(s->v[i].v))
			continue;
		snprintf(name, sizeof name, "xen_%s_%s", rr_kind_name(k), s->v[i].name);
		for (char *p = name; *p; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
			      *p == '_'))
				*p = '_';
		/* a gauge may not end as counters and histograms do:
		 * vbd_xvda_iops_total -> xen_vm_vbd_xvda_iops_all */
		size_t len = strlen(name);
		if (len > 6 && !strcmp(name + len - 6, "_total"))
			strcpy(name + len - 6, "_all");
		struct prom_family *f = hmap_get(fam, name);
		if (!f) {
			f = xcalloc(1, sizeof *f + strlen(name) + 1);
			char *key = (char *)(f + 1);
			strcpy(key, name);
			struct rr_ds_info info;
			rr_ds_describe(k, s->v[i].name, &info);
			sb_printf(&f->lines, "# HELP %s %s", key, info.description);
			if (info.units && *info.units)
				sb_printf(&f->lines, " (%s)", info.units);
			sb_printf(&f->lines, "\n# TYPE %s gauge\n", key);
			hmap_put(fam, key, f);
		}
		sb_puts(&f->lines, name);
		sb_putc(&f->lines, '{');
		sb_puts(&f->lines, labels);
		sb_puts(&f->lines, "} ");
		prom_value(&f->lines, s->v[i].v);
		sb_putc(&f->lines, '\n');
	}
}

void metrics_prometheus(struct server *srv, struct strbuf *out)
{
	struct metrics *m = srv->metrics;
	if (!m)
		return;
	struct hmap fam;
	hmap_init(&fam);
	struct strbuf labels = STRBUF_INIT;
	struct db *db = srv->db;
	/* published() never holds mu while it takes the store's lock */
	db_rdlock(db);
	pthread_mutex_lock(&m->mu);
	const struct rr_sample *hs = hmap_get(&m->last, m->host_uuid);
	if (hs) {
		prom_label(&labels, "host_uuid", m->host_uuid, true);
		prom_object(&fam, RR_HOST, hs, labels.buf);
	}
	for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm)) {
		const char *ps = db_peek_str(vm, SC_F_VM__power_state);
		if ((strcmp(ps, "Running") && strcmp(ps, "Paused")) ||
		    strcmp(db_peek_str(vm, SC_F_VM__resident_on), srv->host_ref))
			continue;
		const struct rr_sample *s = hmap_get(&m->last, db_peek_str(vm, SC_F_VM__uuid));
		if (!s)
			continue;
		sb_reset(&labels);
		prom_label(&labels, "vm_uuid", db_peek_str(vm, SC_F_VM__uuid), true);
		prom_label(&labels, "vm_name", db_peek_str(vm, SC_F_VM__name_label), false);
		prom_object(&fam, RR_VM, s, labels.buf);
	}
	for (struct db_obj *sr = db_first(db, SC_C_SR); sr; sr = db_next(sr)) {
		const struct rr_sample *s = hmap_get(&m->last, db_peek_str(sr, SC_F_SR__uuid));
		if (!s)
			continue;
		sb_reset(&labels);
		prom_label(&labels, "sr_uuid", db_peek_str(sr, SC_F_SR__uuid), true);
		prom_label(&labels, "sr_name", db_peek_str(sr, SC_F_SR__name_label), false);
		prom_object(&fam, RR_SR, s, labels.buf);
	}
	pthread_mutex_unlock(&m->mu);
	db_unlock(db);
	sb_free(&labels);
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&fam, &it, &k, &v);) {
		struct prom_family *f = v;
		sb_add(out, f->lines.buf, f->lines.len);
		sb_free(&f->lines);
		free(f);
	}
	hmap_free(&fam);
}

/* ---- where a VM's RRD lives in a pool ----
 *
 * As xapi keeps them: a running VM's on the host it runs on, a halted or
 * suspended VM's archived on the master. A host that holds the RRD of a
 * VM running elsewhere sends it there (the master, the archive of a VM
 * started on a member; the source of a migration, to its destination);
 * a member that holds a halted VM's sends it to the master. Each move
 * waits until the receiver has applied what the sender saw (so it agrees
 * where the VM is), and the sender drops its copy only if nothing was
 * sampled into it meanwhile. */

#define MOVE_EVERY_S 2
#define MOVE_TIMEOUT_S 30

/* Where the RRD of VM uuid belongs when not here: a host ref, or "". */
static void rrd_home(struct server *srv, const char *uuid, bool master, char to[REF_STRLEN + 1])
{
	to[0] = 0;
	db_rdlock(srv->db);
	struct db_obj *vm = db_lookup_uuid(srv->db, SC_C_VM, uuid);
	if (vm && !db_peek_bool(vm, SC_F_VM__is_control_domain)) {
		const char *ps = db_peek_str(vm, SC_F_VM__power_state);
		const char *on = db_peek_str(vm, SC_F_VM__resident_on);
		bool running = !strcmp(ps, "Running") || !strcmp(ps, "Paused");
		struct db_obj *pool = db_first(srv->db, SC_C_pool);
		const char *mref = pool ? db_peek_str(pool, SC_F_pool__master) : "";
		if (running && strcmp(on, srv->host_ref) && db_lookup_cls(srv->db, SC_C_host, on))
			snprintf(to, REF_STRLEN + 1, "%s", on);
		else if (!running && !master && db_lookup_cls(srv->db, SC_C_host, mref) && strcmp(mref, srv->host_ref))
			snprintf(to, REF_STRLEN + 1, "%s", mref);
	}
	db_unlock(srv->db);
}

static void move_rrd(struct metrics *m, const char *uuid, const char *to)
{
	struct server *srv = m->srv;
	struct strbuf sb = STRBUF_INIT;
	time_t last = 0;
	struct xerr err = XERR_INIT;
	if (rr_store_export(m->st, RR_VM, uuid, &sb, &last, &err) < 0) {
		xerr_clear(&err);
		sb_free(&sb);
		return;
	}
	char *data = b64_encode((const unsigned char *)sb.buf, sb.len);
	sb_free(&sb);
	xv args = xv_arr_new();
	xv_arr_push_str(&args, "vm");
	xv_arr_push_str(&args, uuid);
	xv_arr_push(&args, xv_str_own(data));
	int rc = pool_call_on_host_within(srv, to, "pool.put_rrd", &args, MOVE_TIMEOUT_S, NULL, &err);
	xv_free(&args);
	if (rc == 0) {
		bool gone = rr_store_remove(m->st, RR_VM, uuid, last);
		log_info("metrics: the RRD of VM %s sent to host %s%s", uuid, to, gone ? "" : " (kept here: sampled since)");
	} else {
		log_debug("metrics: the RRD of VM %s stays here for now: %s", uuid, err.code ? err.code : "?");
	}
	xerr_clear(&err);
}

static void move_rrds(struct metrics *m)
{
	struct server *srv = m->srv;
	if (!srv->raft)
		return;
	bool master = pool_raft_is_leader(srv->raft);
	size_t n = 0;
	char **uuids = rr_store_list(m->st, RR_VM, &n);
	for (size_t i = 0; i < n; i++) {
		char to[REF_STRLEN + 1];
		rrd_home(srv, uuids[i], master, to);
		if (to[0])
			move_rrd(m, uuids[i], to);
	}
	rr_names_free(uuids, n);
}

static void *mover_main(void *arg)
{
	struct metrics *m = arg;
	pthread_mutex_lock(&m->mu);
	while (!m->stop) {
		struct timespec at;
		clock_realtime_after(&at, MOVE_EVERY_S * 1000);
		pthread_cond_timedwait(&m->wake, &m->mu, &at);
		if (m->stop)
			break;
		pthread_mutex_unlock(&m->mu);
		move_rrds(m);
		pthread_mutex_lock(&m->mu);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

void metrics_move_now(struct server *srv)
{
	struct metrics *m = srv->metrics;
	if (!m)
		return;
	pthread_mutex_lock(&m->mu);
	pthread_cond_signal(&m->wake);
	pthread_mutex_unlock(&m->mu);
}

void metrics_forget(struct server *srv, enum rr_kind k, const char *uuid)
{
	struct metrics *m = srv->metrics;
	if (m && rr_store_remove(m->st, k, uuid, 0))
		log_info("metrics: the RRD of %s %s removed with it", rr_kind_name(k), uuid);
}

/* pool.put_rrd(kind, uuid, data): another host of the pool hands this
 * one an object's RRD (rr_store_export's bundle, base64). */
static int put_rrd(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	*result = XV_NIL_INIT;
	if (!pool_call_is_forwarded(ctx))
		return xerr_set(err, ERR_PERMISSION_DENIED, "pool.put_rrd is for the pool's hosts", NULL);
	if (!ctx->srv->metrics)
		return xerr_set(err, ERR_INTERNAL_ERROR, "metrics are not running", NULL);
	const char *kind = arg_str(args, 0), *uuid = arg_str(args, 1), *text = arg_str(args, 2);
	enum rr_kind k;
	if (kind && !strcmp(kind, "vm"))
		k = RR_VM;
	else if (kind && !strcmp(kind, "host"))
		k = RR_HOST;
	else if (kind && !strcmp(kind, "sr"))
		k = RR_SR;
	else
		return xerr_set(err, ERR_INVALID_VALUE, "kind", kind ? kind : "", NULL);
	size_t len = 0;
	unsigned char *data = text ? b64_decode(text, &len) : NULL;
	if (!data || !uuid)
		return xerr_set(err, ERR_INVALID_VALUE, "data", "not base64", NULL);
	int rc = rr_store_import(ctx->srv->metrics->st, k, uuid, (const char *)data, len, err);
	free(data);
	if (rc == 0)
		log_info("metrics: the RRD of %s %s received", kind, uuid);
	return rc;
}

static const struct sc_type t_rrd_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_rrd_void = {.kind = SC_VOID, .text = "void"};
static const struct sc_param put_rrd_params[] = {
	{"kind", &t_rrd_string}, {"uuid", &t_rrd_string}, {"data", &t_rrd_string}};
static const struct sc_message msg_put_rrd = {
	.name = "put_rrd", .session = true, .roles = SC_ROLE_POOL_ADMIN, .nparams = 3,
	.params = put_rrd_params, .result = &t_rrd_void};

RPC_EXTRA(pool, put_rrd, &msg_put_rrd, put_rrd, RPC_SLOW);

static const struct rr_ops metrics_ops = {
	.collect_vms = collect_vms,
	.pif_devices = pif_devices,
	.min_max = min_max,
	.published = published,
	.collect_srs = collect_srs,
};

void metrics_start(struct server *srv)
{
	struct metrics *m = xcalloc(1, sizeof *m);
	m->srv = srv;
	pthread_mutex_init(&m->mu, NULL);
	hmap_init(&m->last);
	m->pm = perfmon_new();
	db_rdlock(srv->db);
	struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	snprintf(m->host_uuid, sizeof m->host_uuid, "%s", h ? db_peek_str(h, SC_F_host__uuid) : "");
	db_unlock(srv->db);
	char *dir = xasprintf("%s/rrd", srv->cfg.data_dir);
	struct xerr err = XERR_INIT;
	/* a file written every 6 ticks (30 s): what a crash may lose */
	m->st = rr_store_open(dir, 6, &err);
	free(dir);
	if (!m->st) {
		log_error("metrics: %s", err.nparams ? err.params[0] : err.code);
		xerr_clear(&err);
		perfmon_free(m->pm);
		free(m);
		return;
	}
	m->sampler = rr_sampler_start(m->st, m->host_uuid, &metrics_ops, m);
	pthread_cond_init(&m->wake, NULL);
	m->moving = pthread_create(&m->mover, NULL, mover_main, m) == 0;
	srv->metrics = m;
}

void metrics_stop(struct server *srv)
{
	struct metrics *m = srv->metrics;
	if (!m)
		return;
	if (m->moving) {
		pthread_mutex_lock(&m->mu);
		m->stop = true;
		pthread_cond_signal(&m->wake);
		pthread_mutex_unlock(&m->mu);
		pthread_join(m->mover, NULL);
	}
	pthread_cond_destroy(&m->wake);
	rr_sampler_stop(m->sampler);
	rr_store_close(m->st); /* the pending updates to their files */
	perfmon_free(m->pm);
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&m->last, &it, &k, &v);) {
		rr_sample_free(v);
		free(v);
	}
	hmap_free(&m->last);
	for (size_t i = 0; i < m->npifs; i++)
		free(m->pifs[i]);
	free(m->pifs);
	pthread_mutex_destroy(&m->mu);
	free(m);
	srv->metrics = NULL;
}

struct rr_store *metrics_store(struct server *srv)
{
	return srv->metrics ? srv->metrics->st : NULL;
}

const char *metrics_host_uuid(struct server *srv)
{
	return srv->metrics ? srv->metrics->host_uuid : "";
}

/* ---- VM/host.get_data_sources, query, record, forget ---- */

static int target(struct rpc_ctx *ctx, xv *args, enum rr_kind *k, char uuid[40], struct xerr *err)
{
	if (!ctx->srv->metrics)
		return xerr_set(err, ERR_INTERNAL_ERROR, "metrics are not running", NULL);
	int cls = ctx->cls == SC_C_host || ctx->cls == SC_C_SR ? ctx->cls : SC_C_VM;
	*k = cls == SC_C_host ? RR_HOST : cls == SC_C_SR ? RR_SR : RR_VM;
	db_rdlock(ctx->db);
	struct db_obj *o = generic_lookup(ctx, cls, xv_arr_get(args, 0), err);
	if (o)
		snprintf(uuid, 40, "%s",
			 db_peek_str(o, cls == SC_C_host ? SC_F_host__uuid : cls == SC_C_SR ? SC_F_SR__uuid : SC_F_VM__uuid));
	db_unlock(ctx->db);
	return o ? 0 : -1;
}

static xv ds_record(enum rr_kind k, const char *name, bool enabled, double value)
{
	struct rr_ds_info info;
	rr_ds_describe(k, name, &info);
	xv r = xv_map_new();
	xv_map_set(&r, "name_label", xv_str(name));
	xv_map_set(&r, "name_description", xv_str(info.description));
	xv_map_set(&r, "enabled", xv_bool(enabled));
	xv_map_set(&r, "standard", xv_bool(info.dflt));
	xv_map_set(&r, "units", xv_str(info.units));
	/* xapi sends the range as floats; infinities would not encode */
	xv_map_set(&r, "min", xv_float(isfinite(info.min) ? info.min : 0));
	xv_map_set(&r, "max", xv_float(isfinite(info.max) ? info.max : 0));
	xv_map_set(&r, "value", xv_float(isfinite(value) ? value : 0));
	return r;
}

static int get_data_sources(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	enum rr_kind k;
	char uuid[40];
	if (target(ctx, args, &k, uuid, err) < 0)
		return -1;
	struct metrics *m = ctx->srv->metrics;
	char **names = NULL;
	double *last = NULL;
	size_t n = 0;
	xv out = xv_arr_new();
	bool have = rr_store_sources(m->st, k, uuid, &names, &last, &n) == 0;
	for (size_t i = 0; have && i < n; i++)
		xv_arr_push(&out, ds_record(k, names[i], true, last[i]));
	/* what the latest sample offers besides: not recorded */
	pthread_mutex_lock(&m->mu);
	const struct rr_sample *s = hmap_get(&m->last, uuid);
	for (size_t i = 0; s && i < s->n; i++) {
		bool in = false;
		for (size_t j = 0; j < n && !in; j++)
			in = !strcmp(names[j], s->v[i].name);
		if (!in)
			xv_arr_push(&out, ds_record(k, s->v[i].name, false, s->v[i].v));
	}
	pthread_mutex_unlock(&m->mu);
	if (have) {
		rr_names_free(names, n);
		free(last);
	}
	*result = out;
	return 0;
}

/* xapi relays rrdd's exception as an internal error whose one parameter
 * is the exception printed. */
static int no_such_source(struct xerr *err, const char *name)
{
	char *msg = xasprintf("Rrd.Invalid_data_source(\"%s\")", name);
	xerr_set(err, ERR_INTERNAL_ERROR, msg, NULL);
	free(msg);
	return -1;
}

static int query_data_source(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	enum rr_kind k;
	char uuid[40];
	if (target(ctx, args, &k, uuid, err) < 0)
		return -1;
	const char *want = arg_str(args, 1);
	char **names = NULL;
	double *last = NULL;
	size_t n = 0;
	if (rr_store_sources(ctx->srv->metrics->st, k, uuid, &names, &last, &n) < 0)
		return no_such_source(err, want);
	int rc = -1;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], want)) {
			*result = xv_float(isfinite(last[i]) ? last[i] : 0);
			rc = 0;
		}
	rr_names_free(names, n);
	free(last);
	if (rc < 0)
		return no_such_source(err, want);
	return 0;
}

static int record_data_source(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	enum rr_kind k;
	char uuid[40];
	if (target(ctx, args, &k, uuid, err) < 0)
		return -1;
	if (rr_store_record(ctx->srv->metrics->st, k, uuid, arg_str(args, 1), err) < 0)
		return -1;
	*result = XV_NIL_INIT;
	return 0;
}

static int forget_data_source_archives(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	enum rr_kind k;
	char uuid[40];
	if (target(ctx, args, &k, uuid, err) < 0)
		return -1;
	if (rr_store_forget(ctx->srv->metrics->st, k, uuid, arg_str(args, 1), err) < 0)
		return -1;
	*result = XV_NIL_INIT;
	return 0;
}

RPC_IMPL(VM, get_data_sources, get_data_sources, 0);
RPC_IMPL(VM, query_data_source, query_data_source, 0);
RPC_IMPL(VM, record_data_source, record_data_source, RPC_SLOW);
RPC_IMPL(VM, forget_data_source_archives, forget_data_source_archives, RPC_SLOW);
RPC_IMPL(host, get_data_sources, get_data_sources, 0);
RPC_IMPL(host, query_data_source, query_data_source, 0);
RPC_IMPL(host, record_data_source, record_data_source, RPC_SLOW);
RPC_IMPL(host, forget_data_source_archives, forget_data_source_archives, RPC_SLOW);
RPC_IMPL(SR, get_data_sources, get_data_sources, 0);
RPC_IMPL(SR, query_data_source, query_data_source, 0);
RPC_IMPL(SR, record_data_source, record_data_source, RPC_SLOW);
RPC_IMPL(SR, forget_data_source_archives, forget_data_source_archives, RPC_SLOW);

/* host.backup_rrds: every RRD's pending updates written to its file now
 * (xapi's backs them up to the master's disk; here the files are that
 * copy). The delay xapi waits first is not needed. */
static int backup_rrds(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	db_unlock(ctx->db);
	if (!h)
		return -1;
	if (!ctx->srv->metrics)
		return xerr_set(err, ERR_INTERNAL_ERROR, "metrics are not running", NULL);
	rr_store_flush(ctx->srv->metrics->st, NULL);
	*result = XV_NIL_INIT;
	return 0;
}

RPC_IMPL(host, backup_rrds, backup_rrds, RPC_SLOW);
