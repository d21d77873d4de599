/* coalesce: keeps disk chains short in the background. Every snapshot or
 * clone leaves a hidden base under the disk; once the snapshots on a base
 * are gone, the base has one image left on it and only lengthens that
 * image's chain. One thread finds such bases (in the store: hidden VDIs
 * that exactly one VDI names as its vhd-parent) and has the SR driver fold
 * each into its image — with qemu-img for an idle disk, by the running
 * QEMU (block-stream) for a disk a VM has open, so the guest never waits.
 * The image keeps its uuid, location and VBDs; the base's record goes.
 *
 * A base a cbt_metadata VDI still names is kept: changed-block lists
 * against that VDI compare chain layers from the base up. A base is left
 * alone until it has had one image on it for coalesce-delay seconds, so
 * work on a disk right after its snapshots went (a backup tool's next
 * snapshot, a resize) does not meet the coalescer; while an image is being
 * coalesced its current_operations say "blocked". */
#include "api.h"
#include "storage.h"
#include "../base/clock.h"
#include "../base/hmap.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define POLL_S 30          /* a look without being asked */
#define RETRY_AFTER_S 120  /* a coalesce that failed is not retried sooner */
#define MAX_FAILED 64
#define MAX_WAITING 256

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stopping, kicked;
	/* children whose coalesce failed, and when */
	char failed[MAX_FAILED][UUID_STRLEN + 1];
	time_t failed_at[MAX_FAILED];
	size_t nfailed;
	/* images that are candidates, and since when (the quiet period) */
	char waiting[MAX_WAITING][UUID_STRLEN + 1];
	time_t since[MAX_WAITING];
	bool seen[MAX_WAITING];
	size_t nwaiting;
	int delay_s;
} C = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

void storage_coalesce_kick(void)
{
	pthread_mutex_lock(&C.lock);
	C.kicked = true;
	pthread_cond_signal(&C.cond);
	pthread_mutex_unlock(&C.lock);
}

static bool failed_recently(const char *uuid)
{
	time_t now = time(NULL);
	for (size_t i = 0; i < C.nfailed; i++)
		if (!strcmp(C.failed[i], uuid) && now - C.failed_at[i] < RETRY_AFTER_S)
			return true;
	return false;
}

static void note_failed(const char *uuid)
{
	size_t i = 0;
	while (i < C.nfailed && strcmp(C.failed[i], uuid))
		i++;
	if (i == C.nfailed) {
		if (C.nfailed == MAX_FAILED)
			i = 0; /* the oldest entry is as good as any to forget */
		else
			C.nfailed++;
	}
	snprintf(C.failed[i], sizeof C.failed[i], "%s", uuid);
	C.failed_at[i] = time(NULL);
}

/* Whether uuid has been a candidate for the whole quiet period; notes it
 * as one now. */
static bool quiet_enough(const char *uuid)
{
	time_t now = time(NULL);
	for (size_t i = 0; i < C.nwaiting; i++) {
		if (!strcmp(C.waiting[i], uuid)) {
			C.seen[i] = true;
			return now - C.since[i] >= C.delay_s;
		}
	}
	if (C.nwaiting < MAX_WAITING) {
		snprintf(C.waiting[C.nwaiting], sizeof C.waiting[0], "%s", uuid);
		C.since[C.nwaiting] = now;
		C.seen[C.nwaiting++] = true;
	}
	return C.delay_s == 0;
}

/* Forgets candidates not seen in the last look: the period starts over. */
static void forget_unseen(void)
{
	size_t k = 0;
	for (size_t i = 0; i < C.nwaiting; i++) {
		if (!C.seen[i])
			continue;
		if (k != i) {
			memcpy(C.waiting[k], C.waiting[i], sizeof C.waiting[0]);
			C.since[k] = C.since[i];
		}
		C.seen[k++] = false;
	}
	C.nwaiting = k;
}

struct cand {
	char child[REF_STRLEN + 1], sr[REF_STRLEN + 1];
	char vm_uuid[UUID_STRLEN + 1], userdevice[32];
	bool live;
};

static const char *parent_of(struct db_obj *vdi)
{
	const char *p = xv_map_get_str(db_peek(vdi, SC_F_VDI__sm_config), "vhd-parent");
	return p ? p : "";
}

/* One image whose base can be folded into it, under the read lock. */
static bool find(struct db *db, struct cand *c)
{
	/* how many VDIs name each base, counted as pointer-sized integers */
	struct hmap users;
	hmap_init(&users);
	for (struct db_obj *v = db_first(db, SC_C_VDI); v; v = db_next(v)) {
		const char *p = parent_of(v);
		if (!*p)
			continue;
		hmap_put(&users, p, (void *)((uintptr_t)hmap_get(&users, p) + 1));
	}
	bool found = false;
	for (struct db_obj *v = db_first(db, SC_C_VDI); v; v = db_next(v)) {
		const char *p = parent_of(v);
		if (!*p || (uintptr_t)hmap_get(&users, p) != 1)
			continue; /* no base, or a base others still use */
		struct db_obj *base = db_lookup_uuid(db, SC_C_VDI, p);
		if (!base || db_peek_bool(base, SC_F_VDI__managed) ||
		    strcmp(db_peek_str(base, SC_F_VDI__SR), db_peek_str(v, SC_F_VDI__SR)) ||
		    op_busy(base))
			continue;
		if (!strcmp(db_peek_str(v, SC_F_VDI__type), "cbt_metadata") ||
		    op_busy(v) ||
		    failed_recently(db_peek_str(v, SC_F_VDI__uuid)) || !quiet_enough(db_peek_str(v, SC_F_VDI__uuid)))
			continue;
		if (found)
			continue; /* one at a time; the rest only marked as seen */
		struct db_obj *sr = db_lookup_cls(db, SC_C_SR, db_peek_str(v, SC_F_VDI__SR));
		const struct sm_driver *drv = sr ? sm_driver_find(db_peek_str(sr, SC_F_SR__type)) : NULL;
		if (!drv || !drv->vdi_coalesce)
			continue;
		memset(c, 0, sizeof *c);
		snprintf(c->child, sizeof c->child, "%s", v->ref);
		snprintf(c->sr, sizeof c->sr, "%s", sr->ref);
		struct db_obj *vbd = storage_vdi_running_vbd(db, v);
		struct db_obj *vm = vbd ? db_lookup_cls(db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM)) : NULL;
		if (vm) {
			c->live = true;
			snprintf(c->vm_uuid, sizeof c->vm_uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
			snprintf(c->userdevice, sizeof c->userdevice, "%s", db_peek_str(vbd, SC_F_VBD__userdevice));
		}
		found = true;
	}
	hmap_free(&users);
	if (!found)
		forget_unseen();
	return found;
}

/* Coalesces one candidate: the image marked, the driver at work with the
 * store unlocked, then the records. */
static void coalesce_one(struct server *srv, const struct cand *c)
{
	struct db *db = srv->db;
	struct rpc_ctx ctx = {.srv = srv, .db = db};
	char token[REF_STRLEN + 1];
	storage_token(&ctx, token);
	struct sm_sr sr = {0};
	struct sm_vdi v;
	sm_vdi_init(&v);
	struct xerr err = XERR_INIT;
	char uuid[UUID_STRLEN + 1] = "";
	struct db_txn *t = db_begin(db);
	struct db_obj *vdi = db_lookup_cls(db, SC_C_VDI, c->child);
	struct db_obj *sro = db_lookup_cls(db, SC_C_SR, c->sr);
	int rc = -1;
	if (vdi && sro && op_begin(t, vdi, "blocked", token, &err) == 0) {
		snprintf(uuid, sizeof uuid, "%s", db_peek_str(vdi, SC_F_VDI__uuid));
		storage_vdi_view(vdi, &v);
		rc = storage_sr_open(&ctx, sro, true, &sr, &err);
	}
	if (rc < 0) {
		db_abort(t);
		sm_sr_close(&sr);
		sm_vdi_free(&v);
		xerr_clear(&err);
		return;
	}
	if (db_commit(t, &err) < 0) {
		sm_sr_close(&sr);
		sm_vdi_free(&v);
		xerr_clear(&err);
		return;
	}
	char gone[UUID_STRLEN + 1] = "";
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = sr.drv->vdi_coalesce(&sr, &v, srv->backend->live, c->live ? c->vm_uuid : NULL, c->live ? c->userdevice : NULL, gone,
				  &err);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	t = db_begin(db);
	vdi = db_lookup_cls(db, SC_C_VDI, c->child);
	if (vdi) {
		op_end(t, vdi, token);
		if (rc == 0)
			storage_vdi_apply(t, vdi, &v);
	}
	if (rc == 0 && gone[0]) {
		xv uuids = xv_arr_new();
		xv_arr_push_str(&uuids, gone);
		storage_forget_uuids(t, &uuids);
		xv_free(&uuids);
	}
	struct xerr e2 = XERR_INIT;
	if (db_commit(t, &e2) < 0)
		log_error("coalesce: recording %s: %s", uuid, e2.code);
	xerr_clear(&e2);
	pthread_mutex_lock(&C.lock);
	if (rc < 0 || !gone[0])
		note_failed(uuid); /* failed, or nothing the store expected: not again soon */
	pthread_mutex_unlock(&C.lock);
	if (rc < 0)
		log_warn("coalesce: %s: %s %s", uuid, err.code ? err.code : "?", err.nparams > 1 ? err.params[1] : "");
	else if (gone[0])
		log_info("coalesce: base %s folded into %s%s in %.3f s", gone, uuid, c->live ? " (running)" : "",
			 (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	xerr_clear(&err);
	sm_sr_close(&sr);
	sm_vdi_free(&v);
}

static void *coalescer(void *arg)
{
	struct server *srv = arg;
	pthread_mutex_lock(&C.lock);
	while (!C.stopping) {
		C.kicked = false;
		pthread_mutex_unlock(&C.lock);
		/* as many as there are, one at a time */
		for (int n = 0; n < 256; n++) {
			struct cand c;
			db_rdlock(srv->db);
			pthread_mutex_lock(&C.lock);
			bool any = !C.stopping && find(srv->db, &c);
			pthread_mutex_unlock(&C.lock);
			db_unlock(srv->db);
			if (!any)
				break;
			coalesce_one(srv, &c);
		}
		pthread_mutex_lock(&C.lock);
		if (C.kicked || C.stopping)
			continue;
		/* candidates waiting out their quiet period are looked at again
		 * when it ends */
		int64_t wait_s = C.nwaiting && C.delay_s < POLL_S ? (C.delay_s > 0 ? C.delay_s : 1) : POLL_S;
		struct timespec ts;
		clock_realtime_after(&ts, 1000 * wait_s);
		pthread_cond_timedwait(&C.cond, &C.lock, &ts);
	}
	pthread_mutex_unlock(&C.lock);
	return NULL;
}

void storage_coalesce_start(struct server *srv)
{
	if (C.started || srv->cfg.coalesce_delay_s < 0)
		return;
	C.delay_s = srv->cfg.coalesce_delay_s;
	C.stopping = false;
	C.started = pthread_create(&C.thread, NULL, coalescer, srv) == 0;
}

void storage_coalesce_stop(void)
{
	if (!C.started)
		return;
	pthread_mutex_lock(&C.lock);
	C.stopping = true;
	pthread_cond_signal(&C.cond);
	pthread_mutex_unlock(&C.lock);
	pthread_join(C.thread, NULL);
	C.started = false;
}
