/* vm_suspend: a suspended VM's memory image lives in a VDI of type
 * "suspend" (VM.suspend_VDI), as in xapi (Xapi_xenops.suspend / resume,
 * Xapi_vm.hard_shutdown): VM.suspend makes it on the suspend SR, sized for
 * the memory, before the backend saves into it, and destroys it again if
 * the suspend fails; VM.resume loads from it and then destroys it; a hard
 * shutdown of the suspended VM destroys it too. The image is whatever its
 * SR's driver keeps (a qcow2 on the file SR); the backend reads and writes
 * it through QEMU's block layer. */
#include "storage.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MiB (INT64_C(1) << 20)

struct vm_image {
	struct server *srv;
	char vm_ref[REF_STRLEN + 1];
	char vdi_ref[REF_STRLEN + 1];
	struct sm_sr sr;
	struct sm_vdi v;
	bool attached;
	bool recorded; /* it is VM.suspend_VDI (not a checkpoint's, yet) */
};

/* A context for calls the daemon makes on its own behalf. */
static void self_ctx(struct server *srv, struct rpc_ctx *ctx)
{
	memset(ctx, 0, sizeof *ctx);
	ctx->srv = srv;
	ctx->db = srv->db;
	ctx->proto = -1;
}

/* xapi's Helpers.choose_suspend_sr: VM.suspend_SR, then the pool's
 * suspend_image_SR, then the host's suspend_image_sr — the first that
 * exists with a PBD on the VM's host. Hold the store's lock. */
static struct db_obj *choose_sr(struct server *srv, struct db_obj *vm, struct xerr *err)
{
	struct db *db = srv->db;
	const char *host_ref = db_peek_str(vm, SC_F_VM__resident_on);
	if (ref_is_null(host_ref))
		host_ref = srv->host_ref;
	struct db_obj *pool = db_lookup_cls(db, SC_C_pool, srv->pool_ref);
	struct db_obj *host = db_lookup_cls(db, SC_C_host, host_ref);
	const char *cands[] = {
		db_peek_str(vm, SC_F_VM__suspend_SR),
		pool ? db_peek_str(pool, SC_F_pool__suspend_image_SR) : REF_NULL,
		host ? db_peek_str(host, SC_F_host__suspend_image_sr) : REF_NULL,
	};
	for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
		struct db_obj *sr = db_lookup_cls(db, SC_C_SR, cands[i]);
		if (sr && storage_pbd(db, host_ref, sr))
			return sr;
	}
	xerr_set(err, ERR_VM_NO_SUSPEND_SR, vm->ref, NULL);
	return NULL;
}

/* Xapi_xenops.suspend's space_needed: the memory with 20% and 5% margins
 * plus 100 MiB (no vGPU framebuffers here). */
static int64_t space_needed(int64_t static_max)
{
	return (int64_t)((double)static_max * 1.2 * 1.05) + 100 * MiB;
}

static void set_suspend_vdi(struct server *srv, const char *vm_ref, const char *vdi_ref)
{
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, vm_ref);
	if (vm)
		db_set_str(t, vm, SC_F_VM__suspend_VDI, vdi_ref);
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0)
		log_warn("VM %s: cannot record its suspend VDI: %s", vm_ref, e.code);
	xerr_clear(&e);
}

/* Destroys the VDI (logged, not fatal: xapi forgets it whatever happens)
 * and, when it was recorded there, clears VM.suspend_VDI. */
static void destroy_image(struct server *srv, const char *vm_ref, const char *vdi_ref, bool recorded)
{
	struct rpc_ctx ctx;
	self_ctx(srv, &ctx);
	struct xerr e = XERR_INIT;
	if (!ref_is_null(vdi_ref) && vdi_destroy(&ctx, vdi_ref, &e) < 0)
		log_warn("VM %s: cannot destroy its suspend VDI %s: %s %s", vm_ref, vdi_ref,
			 e.code ? e.code : "", e.nparams ? e.params[0] : "");
	xerr_clear(&e);
	if (recorded)
		set_suspend_vdi(srv, vm_ref, REF_NULL);
}

/* Attaches the VDI for the backend: its image's path and format into s. */
static struct vm_image *attach(struct server *srv, const char *vm_ref, const char *vdi_ref,
			       struct vm_spec *s, struct xerr *err)
{
	struct rpc_ctx ctx;
	self_ctx(srv, &ctx);
	struct vm_image *im = xcalloc(1, sizeof *im);
	im->srv = srv;
	snprintf(im->vm_ref, sizeof im->vm_ref, "%s", vm_ref);
	snprintf(im->vdi_ref, sizeof im->vdi_ref, "%s", vdi_ref);
	sm_vdi_init(&im->v);
	db_rdlock(srv->db);
	struct db_obj *vdi = db_lookup_cls(srv->db, SC_C_VDI, vdi_ref);
	struct db_obj *sro = vdi ? db_lookup_cls(srv->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
	int rc = !vdi ? handle_invalid(err, SC_C_VDI, vdi_ref)
		 : !sro ? handle_invalid(err, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR))
			: storage_sr_open(&ctx, sro, true, &im->sr, err);
	if (rc == 0)
		storage_vdi_view(vdi, &im->v);
	db_unlock(srv->db);
	struct sm_attach_info ai = {0};
	if (rc == 0 && !im->sr.drv->vdi_attach)
		rc = xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, sro ? sro->ref : REF_NULL, NULL);
	if (rc == 0)
		rc = im->sr.drv->vdi_attach(&im->sr, &im->v, true, &ai, err);
	if (rc < 0) {
		sm_sr_close(&im->sr);
		sm_vdi_free(&im->v);
		free(im);
		return NULL;
	}
	im->attached = true;
	free(s->suspend_image);
	s->suspend_image = ai.path;
	snprintf(s->suspend_format, sizeof s->suspend_format, "%s", ai.format ? ai.format : "raw");
	ai.path = NULL;
	sm_attach_info_free(&ai);
	return im;
}

struct vm_image *vm_suspend_image_new(struct server *srv, const char *vm_ref, struct vm_spec *s,
				      bool record, struct xerr *err)
{
	struct rpc_ctx ctx;
	self_ctx(srv, &ctx);
	char sr_ref[REF_STRLEN + 1];
	int64_t need = 0;
	struct sm_sr sr;
	memset(&sr, 0, sizeof sr);
	db_rdlock(srv->db);
	struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, vm_ref);
	struct db_obj *sro = vm ? choose_sr(srv, vm, err) : NULL;
	int rc = !vm ? handle_invalid(err, SC_C_VM, vm_ref) : !sro ? -1 : 0;
	if (rc == 0) {
		snprintf(sr_ref, sizeof sr_ref, "%s", sro->ref);
		need = space_needed(db_peek_int(vm, SC_F_VM__memory_static_max));
		rc = storage_sr_open(&ctx, sro, true, &sr, err);
	}
	db_unlock(srv->db);
	/* xapi asks the SR to inflate the image fully (initial_allocation):
	 * the whole image must fit before the guest is stopped */
	if (rc == 0 && sm_space_check(&sr, need, err) < 0) {
		xerr_clear(err);
		rc = xerr_set(err, ERR_SR_SUSPEND_SPACE_INSUFFICIENT, sr_ref, NULL);
	}
	sm_sr_close(&sr);
	if (rc < 0)
		return NULL;

	char size[32];
	snprintf(size, sizeof size, "%lld", (long long)need);
	xv rec = xv_map_new(), smc = xv_map_new();
	xv_map_set_str(&smc, "vm_hint", s->uuid);
	xv_map_set_str(&smc, "initial_allocation", size);
	xv_map_set_str(&rec, "name_label", "Suspend image");
	xv_map_set_str(&rec, "name_description", "Suspend image");
	xv_map_set_str(&rec, "SR", sr_ref);
	xv_map_set(&rec, "virtual_size", xv_int(need));
	xv_map_set_str(&rec, "type", "suspend");
	xv_map_set(&rec, "sharable", xv_bool(false));
	xv_map_set(&rec, "read_only", xv_bool(false));
	xv_map_set(&rec, "other_config", xv_map_new());
	xv_map_set(&rec, "xenstore_data", xv_map_new());
	xv_map_set(&rec, "sm_config", smc);
	xv_map_set(&rec, "tags", xv_arr_new());
	xv result = XV_NIL_INIT;
	rc = vdi_create(&ctx, &rec, &result, err);
	xv_free(&rec);
	if (rc < 0) {
		/* the SR's own no-space failures, as xapi reports them here */
		if (err->code && (!strcmp(err->code, "SR_FULL") ||
				  !strcmp(err->code, "SR_BACKEND_FAILURE_44"))) {
			xerr_clear(err);
			xerr_set(err, ERR_SR_SUSPEND_SPACE_INSUFFICIENT, sr_ref, NULL);
		}
		return NULL;
	}
	char vdi_ref[REF_STRLEN + 1];
	snprintf(vdi_ref, sizeof vdi_ref, "%s", xv_as_str(&result) ? xv_as_str(&result) : REF_NULL);
	xv_free(&result);
	if (record)
		set_suspend_vdi(srv, vm_ref, vdi_ref);
	struct vm_image *im = attach(srv, vm_ref, vdi_ref, s, err);
	if (!im)
		destroy_image(srv, vm_ref, vdi_ref, record);
	else
		im->recorded = record;
	return im;
}

struct vm_image *vm_suspend_image_open(struct server *srv, const char *vm_ref, struct vm_spec *s,
				       struct xerr *err)
{
	char vdi_ref[REF_STRLEN + 1] = REF_NULL;
	db_rdlock(srv->db);
	struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, vm_ref);
	if (vm)
		snprintf(vdi_ref, sizeof vdi_ref, "%s", db_peek_str(vm, SC_F_VM__suspend_VDI));
	bool have = db_lookup_cls(srv->db, SC_C_VDI, vdi_ref) != NULL;
	db_unlock(srv->db);
	if (!vm) {
		handle_invalid(err, SC_C_VM, vm_ref);
		return NULL;
	}
	if (!have) {
		/* nothing to resume from: xapi resets the VM to Halted */
		log_warn("VM %s: suspended without a suspend VDI; it is Halted now", vm_ref);
		struct db_txn *t = db_begin(srv->db);
		vm = db_lookup_cls(srv->db, SC_C_VM, vm_ref);
		if (vm) {
			db_set_str(t, vm, SC_F_VM__suspend_VDI, REF_NULL);
			vm_record_halted(t, vm, "Halted");
		}
		struct xerr e = XERR_INIT;
		db_commit(t, &e);
		xerr_clear(&e);
		xerr_set(err, ERR_VM_HAS_NO_SUSPEND_VDI, "VM", vm_ref, NULL);
		return NULL;
	}
	struct vm_image *im = attach(srv, vm_ref, vdi_ref, s, err);
	if (im)
		im->recorded = true;
	return im;
}

void vm_suspend_image_done(struct vm_image *im, bool destroy)
{
	if (!im)
		return;
	if (im->attached && im->sr.drv->vdi_detach) {
		struct xerr e = XERR_INIT;
		if (im->sr.drv->vdi_detach(&im->sr, &im->v, &e) < 0)
			log_warn("VM %s: detaching its suspend VDI: %s", im->vm_ref, e.code);
		xerr_clear(&e);
	}
	sm_sr_close(&im->sr);
	sm_vdi_free(&im->v);
	if (destroy)
		destroy_image(im->srv, im->vm_ref, im->vdi_ref, im->recorded);
	free(im);
}

void vm_suspend_image_discard(struct server *srv, const char *vm_ref)
{
	char vdi_ref[REF_STRLEN + 1] = REF_NULL;
	db_rdlock(srv->db);
	struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, vm_ref);
	if (vm)
		snprintf(vdi_ref, sizeof vdi_ref, "%s", db_peek_str(vm, SC_F_VM__suspend_VDI));
	db_unlock(srv->db);
	if (vm)
		destroy_image(srv, vm_ref, vdi_ref, true);
}

/* ---- VM.checkpoint of a live VM ---- */

struct vm_checkpoint {
	struct server *srv;
	struct vm_spec spec;
	struct vm_image *im;
	bool paused_here;
};

struct vm_checkpoint *vm_checkpoint_begin(struct server *srv, const char *vm_ref, struct xerr *err)
{
	struct vm_checkpoint *c = xcalloc(1, sizeof *c);
	c->srv = srv;
	bool running = false;
	db_rdlock(srv->db);
	struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, vm_ref);
	if (vm) {
		snprintf(c->spec.uuid, sizeof c->spec.uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
		snprintf(c->spec.ref, sizeof c->spec.ref, "%s", vm->ref);
		snprintf(c->spec.name, sizeof c->spec.name, "%s", db_peek_str(vm, SC_F_VM__name_label));
		c->spec.domid = db_peek_int(vm, SC_F_VM__domid);
		running = !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Running");
	}
	db_unlock(srv->db);
	if (!vm) {
		handle_invalid(err, SC_C_VM, vm_ref);
		free(c);
		return NULL;
	}
	c->im = vm_suspend_image_new(srv, vm_ref, &c->spec, false, err);
	if (!c->im) {
		vm_spec_free(&c->spec);
		free(c);
		return NULL;
	}
	/* memory and disks of one instant: the guest stays paused from the
	 * disk snapshots until its memory is saved */
	if (running) {
		if (srv->backend->pause(&srv->xh, &c->spec, err) < 0) {
			vm_checkpoint_end(c, false);
			return NULL;
		}
		c->paused_here = true;
	}
	return c;
}

int vm_checkpoint_save(struct vm_checkpoint *c, struct xerr *err)
{
	/* a backend without memory to save (the simulator) leaves it empty */
	if (!c->srv->backend->save)
		return 0;
	return c->srv->backend->save(&c->srv->xh, &c->spec, err);
}

const char *vm_checkpoint_vdi(const struct vm_checkpoint *c)
{
	return c->im->vdi_ref;
}

void vm_checkpoint_end(struct vm_checkpoint *c, bool keep)
{
	if (!c)
		return;
	struct xerr e = XERR_INIT;
	if (c->paused_here && c->srv->backend->unpause(&c->srv->xh, &c->spec, &e) < 0)
		log_error("VM %s: cannot let it run on after its checkpoint: %s", c->spec.ref,
			  e.nparams ? e.params[0] : e.code);
	xerr_clear(&e);
	vm_suspend_image_done(c->im, !keep);
	vm_spec_free(&c->spec);
	free(c);
}
