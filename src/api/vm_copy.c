/* vm_copy: clone, copy, snapshot, checkpoint, revert and destroy. Disks go
 * through the storage drivers: clone and snapshot make each VDI a
 * copy-on-write child of a new hidden base (O(1) in disk size), copy makes
 * full copies. The disks are checked and marked in one transaction, the
 * image work runs with the store unlocked, and every record is made in one
 * final transaction — whose failure undoes the image work. */
#include "metrics.h"
#include "storage.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../xenops/xenops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* VM fields that describe one instance, not its configuration: a copy
 * starts them afresh. */
static bool instance_field(int f)
{
	switch (f) {
	case SC_F_VM__uuid:
	case SC_F_VM__allowed_operations:
	case SC_F_VM__current_operations:
	case SC_F_VM__resident_on:
	case SC_F_VM__scheduled_to_be_resident_on:
	case SC_F_VM__domid:
	case SC_F_VM__metrics:
	case SC_F_VM__guest_metrics:
	case SC_F_VM__is_a_snapshot:
	case SC_F_VM__snapshot_of:
	case SC_F_VM__snapshot_time:
	case SC_F_VM__is_control_domain:
	case SC_F_VM__is_default_template:
	case SC_F_VM__parent:
	case SC_F_VM__suspend_VDI:
		return true;
	default:
		return false;
	}
}

static struct db_obj *copy_fields(struct db_txn *t, int cls, struct db_obj *src,
				  bool (*skip)(int field))
{
	struct db_obj *dst = db_create(t, cls, NULL);
	const struct sc_class *c = &sc_classes[cls];
	for (int f = 0; f < c->nfields; f++) {
		if (f == c->uuid_field || sc_field_is_derived(&c->fields[f]) || (skip && skip(f)))
			continue;
		db_set(t, dst, f, xv_copy(db_peek(src, f)));
	}
	return dst;
}

enum copy_kind { COPY_CLONE, COPY_COPY, COPY_SNAPSHOT, COPY_CHECKPOINT };
static const char *const op_names[] = {"clone", "copy", "snapshot", "checkpoint"};

/* One disk of the VM: its source VDI and what the drivers made of it. */
struct disk {
	char vbd[REF_STRLEN + 1], vdi[REF_STRLEN + 1];
	char dst_sr[REF_STRLEN + 1];
	char userdevice[32];
	bool full;   /* a full copy: VM.copy, or an SR without copy-on-write */
	int same_as; /* another VBD of the same VDI: index of that disk, or -1 */
	bool done;   /* the image work happened: undo it on failure */
	struct sm_sr src, dst;
	struct sm_vdi v, base, snap; /* snap: the new image, for both kinds */
	char new_vdi[REF_STRLEN + 1];
};

struct plan {
	enum copy_kind kind;
	char token[REF_STRLEN + 1];
	char vm[REF_STRLEN + 1];
	char vm_uuid[UUID_STRLEN + 1];
	bool live; /* a running VM's disks: through live_ops */
	const struct sm_live_ops *live_ops; /* the VM backend's */
	size_t n;
	struct disk *d;
	xv marked; /* VDI refs carrying token */
};

static struct disk *plan_add(struct plan *p)
{
	p->d = xrealloc(p->d, sizeof *p->d * (p->n + 1));
	struct disk *d = &p->d[p->n++];
	memset(d, 0, sizeof *d);
	d->same_as = -1;
	d->src.device_config = xv_map_new();
	d->dst.device_config = xv_map_new();
	sm_vdi_init(&d->v);
	sm_vdi_init(&d->base);
	sm_vdi_init(&d->snap);
	return d;
}

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		struct disk *d = &p->d[i];
		sm_sr_close(&d->src);
		sm_sr_close(&d->dst);
		sm_vdi_free(&d->v);
		sm_vdi_free(&d->base);
		sm_vdi_free(&d->snap);
	}
	free(p->d);
	xv_free(&p->marked);
}

static bool vbd_is_cd(const struct db_obj *vbd)
{
	return strcmp(db_peek_str(vbd, SC_F_VBD__type), "CD") == 0;
}

/* Checks each disk the operation touches, opens its SRs and marks its VDI
 * with the operation. Inside the marking transaction. */
static int plan_disks(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *vm, const char *sr_ref,
		      const xv *ignore, struct plan *p, struct xerr *err)
{
	struct db *db = ctx->db;
	bool snap = p->kind == COPY_SNAPSHOT || p->kind == COPY_CHECKPOINT;
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	int rc = 0;
	for (size_t i = 0; i < xv_len(&vbds) && rc == 0; i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		struct db_obj *vdi = vbd ? db_lookup_cls(db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI)) : NULL;
		if (!vdi || vbd_is_cd(vbd))
			continue; /* CDs are shared, not copied */
		xv r = xv_str(vdi->ref);
		bool skip = ignore && xv_arr_contains(ignore, &r);
		xv_free(&r);
		if (skip)
			continue;
		struct disk *d = plan_add(p);
		snprintf(d->vbd, sizeof d->vbd, "%s", vbd->ref);
		snprintf(d->vdi, sizeof d->vdi, "%s", vdi->ref);
		snprintf(d->userdevice, sizeof d->userdevice, "%s", db_peek_str(vbd, SC_F_VBD__userdevice));
		for (size_t k = 0; k + 1 < p->n; k++)
			if (!strcmp(p->d[k].vdi, d->vdi) && p->d[k].same_as < 0)
				d->same_as = (int)k;
		if (d->same_as >= 0)
			continue;
		if (!db_peek_bool(vdi, SC_F_VDI__managed)) {
			rc = xerr_set(err, ERR_VDI_NOT_MANAGED, vdi->ref, NULL);
			break;
		}
		struct db_obj *src_sr = db_lookup_cls(db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
		if (!src_sr) {
			rc = handle_invalid(err, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
			break;
		}
		xv_free(&d->src.device_config);
		if ((rc = storage_sr_open(ctx, src_sr, true, &d->src, err)) < 0)
			break;
		d->full = p->kind == COPY_COPY || !(snap ? d->src.drv->vdi_snapshot : d->src.drv->vdi_clone);
		struct db_obj *dst = d->full && sr_ref ? db_lookup_cls(db, SC_C_SR, sr_ref) : src_sr;
		snprintf(d->dst_sr, sizeof d->dst_sr, "%s", dst->ref);
		if (d->full) {
			xv_free(&d->dst.device_config);
			if ((rc = storage_sr_open(ctx, dst, true, &d->dst, err)) < 0)
				break;
			if (!d->dst.drv->vdi_create) {
				rc = xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, dst->ref, NULL);
				break;
			}
		}
		if ((rc = op_begin(t, vdi, d->full ? "copy" : snap ? "snapshot" : "clone", p->token,
				   err)) < 0)
			break;
		xv_arr_push_str(&p->marked, vdi->ref);
		storage_vdi_view(vdi, &d->v);
	}
	xv_free(&vbds);
	return rc;
}

static void undo_disk(struct disk *d)
{
	if (!d->done)
		return;
	if (d->full)
		storage_undo_create(&d->dst, &d->snap);
	else if (d->src.drv->vdi_clone_undo(&d->src, &d->v, &d->base, &d->snap, NULL) < 0)
		log_error("VM: cannot undo the copy-on-write of %s", d->v.location);
	d->done = false;
}

/* The image work, store unlocked; on failure what was done is undone. */
static int do_disks(struct plan *p, struct xerr *err)
{
	bool snap = p->kind == COPY_SNAPSHOT || p->kind == COPY_CHECKPOINT;
	for (size_t i = 0; i < p->n; i++) {
		struct disk *d = &p->d[i];
		if (d->same_as >= 0)
			continue;
		int rc;
		if (d->full) {
			uuid_generate_str(d->snap.uuid);
			d->snap.virtual_size = d->v.virtual_size;
			rc = d->dst.drv->vdi_create(&d->dst, &d->snap, err);
			if (rc == 0) {
				d->done = true;
				rc = sm_vdi_copy(&d->src, &d->v, &d->dst, &d->snap, err);
			}
		} else {
			rc = storage_cow(&d->src, &d->v, &d->base, &d->snap, snap, p->live_ops, p->live ? p->vm_uuid : NULL,
					 d->userdevice, err);
			d->done = rc == 0;
		}
		if (rc < 0) {
			for (size_t k = i + 1; k-- > 0;)
				undo_disk(&p->d[k]);
			return -1;
		}
	}
	return 0;
}

/* The new VDI records, one per disk; inside the final transaction. */
static int record_disks(struct db_txn *t, struct plan *p, struct xerr *err)
{
	struct db *db = db_txn_db(t);
	bool snap = p->kind == COPY_SNAPSHOT || p->kind == COPY_CHECKPOINT;
	for (size_t i = 0; i < p->n; i++) {
		struct disk *d = &p->d[i];
		if (d->same_as >= 0) {
			memcpy(d->new_vdi, p->d[d->same_as].new_vdi, sizeof d->new_vdi);
			continue;
		}
		struct db_obj *vdi = db_lookup_cls(db, SC_C_VDI, d->vdi);
		struct db_obj *sr = db_lookup_cls(db, SC_C_SR, d->dst_sr);
		if (!vdi || !sr)
			return handle_invalid(err, vdi ? SC_C_SR : SC_C_VDI, vdi ? d->dst_sr : d->vdi);
		struct db_obj *n;
		if (d->full) {
			n = storage_vdi_new(t, sr, &d->snap);
			static const int copied[] = {
				SC_F_VDI__name_label, SC_F_VDI__name_description, SC_F_VDI__type,
				SC_F_VDI__sharable, SC_F_VDI__other_config, SC_F_VDI__xenstore_data,
				SC_F_VDI__tags, SC_F_VDI__on_boot, SC_F_VDI__allow_caching,
			};
			for (size_t k = 0; k < sizeof copied / sizeof copied[0]; k++)
				db_set(t, n, copied[k], xv_copy(db_peek(vdi, copied[k])));
			if (snap) {
				db_set_bool(t, n, SC_F_VDI__is_a_snapshot, true);
				db_set_str(t, n, SC_F_VDI__snapshot_of, vdi->ref);
				db_set(t, n, SC_F_VDI__snapshot_time, xv_time(time(NULL)));
			}
		} else {
			n = storage_cow_records(t, vdi, &d->v, &d->base, &d->snap, snap);
		}
		memcpy(d->new_vdi, n->ref, sizeof d->new_vdi);
		op_end(t, vdi, p->token);
	}
	/* each SR touched, once: its accounting */
	for (size_t i = 0; i < p->n; i++) {
		struct disk *d = &p->d[i];
		bool first = d->same_as < 0;
		for (size_t k = 0; k < i && first; k++)
			first = strcmp(p->d[k].dst_sr, d->dst_sr) != 0;
		struct db_obj *sr = first ? db_lookup_cls(db, SC_C_SR, d->dst_sr) : NULL;
		struct sm_sr *h = d->full ? &d->dst : &d->src;
		struct sm_stat st;
		if (sr)
			storage_sr_refresh(t, sr, h->drv && h->drv->sr_stat(h, &st, NULL) == 0 ? &st : NULL);
	}
	return 0;
}

static const struct disk *plan_find(const struct plan *p, const char *vbd)
{
	for (size_t i = 0; p && i < p->n; i++)
		if (!strcmp(p->d[i].vbd, vbd))
			return &p->d[i];
	return NULL;
}

/* Copies the VM record with its VBDs (pointing at the new VDIs the plan
 * made; CDs keep theirs) and VIFs. */
static struct db_obj *copy_vm(struct db_txn *t, struct db_obj *vm, const char *name,
			      enum copy_kind kind, const xv *ignore_vdis, const struct plan *p)
{
	struct db *db = db_txn_db(t);
	struct db_obj *n = copy_fields(t, SC_C_VM, vm, instance_field);
	db_set_str(t, n, SC_F_VM__name_label, name);
	db_set_int(t, n, SC_F_VM__domid, -1);
	struct db_obj *m = db_create(t, SC_C_VM_metrics, NULL);
	db_set_str(t, n, SC_F_VM__metrics, m->ref);
	/* the install time carries over, as xapi's copy_metrics */
	struct db_obj *om = db_lookup_cls(db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
	if (om)
		db_set(t, m, SC_F_VM_metrics__install_time, db_get(db, om, SC_F_VM_metrics__install_time));
	bool snap = kind == COPY_SNAPSHOT || kind == COPY_CHECKPOINT;
	if (snap) {
		db_set_bool(t, n, SC_F_VM__is_a_snapshot, true);
		db_set_bool(t, n, SC_F_VM__is_a_template, true);
		db_set_str(t, n, SC_F_VM__snapshot_of, vm->ref);
		db_set(t, n, SC_F_VM__snapshot_time, xv_time(time(NULL)));
		db_set_str(t, n, SC_F_VM__power_state, kind == COPY_CHECKPOINT &&
			   strcmp(db_peek_str(vm, SC_F_VM__power_state), "Halted") != 0 ? "Suspended" : "Halted");
		/* the snapshot tree: the new snapshot is the VM's parent from now on */
		db_set_str(t, n, SC_F_VM__parent, db_peek_str(vm, SC_F_VM__parent));
		db_set_str(t, vm, SC_F_VM__parent, n->ref);
	} else {
		/* a suspended snapshot's clone or copy stays suspended (xapi) */
		db_set_str(t, n, SC_F_VM__power_state,
			   !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Suspended") ? "Suspended" : "Halted");
		db_set_str(t, n, SC_F_VM__parent, vm->ref);
		xv_map_del(db_edit(t, n, SC_F_VM__other_config), "default_template");
		vm_new_mac_seed(t, n);
	}
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	for (size_t i = 0; i < xv_len(&vbds); i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (!vbd)
			continue;
		struct db_obj *vdi = db_lookup_cls(db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI));
		xv vdi_ref = vdi ? xv_str(vdi->ref) : XV_NIL_INIT;
		bool ignored = vdi && !vbd_is_cd(vbd) && ignore_vdis && xv_arr_contains(ignore_vdis, &vdi_ref);
		xv_free(&vdi_ref);
		if (ignored)
			continue;
		struct db_obj *nb = copy_fields(t, SC_C_VBD, vbd, NULL);
		db_set_str(t, nb, SC_F_VBD__VM, n->ref);
		db_set_bool(t, nb, SC_F_VBD__currently_attached, false);
		db_set(t, nb, SC_F_VBD__allowed_operations, xv_arr_new());
		db_set(t, nb, SC_F_VBD__current_operations, xv_map_new());
		const struct disk *d = plan_find(p, vbd->ref);
		if (d)
			db_set_str(t, nb, SC_F_VBD__VDI, d->new_vdi);
	}
	xv_free(&vbds);
	xv vifs = db_get(db, vm, SC_F_VM__VIFs);
	for (size_t i = 0; i < xv_len(&vifs); i++) {
		struct db_obj *vif = db_lookup_cls(db, SC_C_VIF, xv_as_str(xv_arr_get(&vifs, i)));
		if (!vif)
			continue;
		struct db_obj *nv = copy_fields(t, SC_C_VIF, vif, NULL);
		db_set_str(t, nv, SC_F_VIF__VM, n->ref);
		/* a snapshot keeps the MACs; a new VM's come from its new seed */
		if (!snap) {
			vif_fresh_mac(t, nv, xv_map_get_str(db_peek(n, SC_F_VM__other_config), "mac_seed"));
			db_set(t, nv, SC_F_VIF__runtime_properties, xv_map_new()); /* never built */
		}
		db_set_bool(t, nv, SC_F_VIF__currently_attached, false);
	}
	xv_free(&vifs);
	vm_update_allowed_operations(t, n);
	return n;
}

/* The snapshot of a suspended VM: its own clone of the VM's suspend VDI
 * (vdi_ref, REF_NULL for none) as its suspend_VDI, as xapi copies it. */
static int clone_memory(struct rpc_ctx *ctx, const char *vdi_ref, const char *snap_ref,
			struct xerr *err)
{
	if (ref_is_null(vdi_ref))
		return 0;
	xv clone = XV_NIL_INIT;
	int rc = vdi_clone(ctx, vdi_ref, &clone, err);
	if (rc == 0) {
		struct db_txn *t = db_begin(ctx->db);
		struct db_obj *snap = db_lookup_cls(ctx->db, SC_C_VM, snap_ref);
		if (snap)
			db_set_str(t, snap, SC_F_VM__suspend_VDI, xv_as_str(&clone));
		rc = db_commit(t, err);
	}
	xv_free(&clone);
	return rc;
}

static int copy_handler(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err,
			enum copy_kind kind)
{
	struct plan p = {.kind = kind, .marked = xv_arr_new()};
	storage_token(ctx, p.token);
	const xv *ignore = kind == COPY_SNAPSHOT ? xv_arr_get(args, 2) : NULL;
	int rc = -1;

	/* 1: check, and mark the VM and its VDIs */
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm || vm_check_op(vm, op_names[kind], err) < 0)
		goto fail;
	const char *sr = NULL;
	if (kind == COPY_COPY) {
		sr = arg_str(args, 2);
		if (!ref_is_null(sr) && !db_lookup_cls(ctx->db, SC_C_SR, sr)) {
			handle_invalid(err, SC_C_SR, sr);
			goto fail;
		}
		if (ref_is_null(sr))
			sr = NULL;
	}
	if (plan_disks(ctx, t, vm, sr, ignore, &p, err) < 0)
		goto fail;
	memcpy(p.vm, vm->ref, sizeof p.vm);
	snprintf(p.vm_uuid, sizeof p.vm_uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	bool live_vm = !strcmp(ps, "Running") || !strcmp(ps, "Paused");
	p.live_ops = ctx->srv->backend->live;
	p.live = p.live_ops && live_vm;
	/* a checkpoint of a live VM keeps its memory too (vm_suspend.c); a
	 * checkpoint, clone or copy of a suspended one (a snapshot) gets a
	 * clone of its suspend VDI, as xapi's Xapi_vm_clone (a snapshot none) */
	bool memory = kind == COPY_CHECKPOINT && live_vm;
	char vm_mem[REF_STRLEN + 1];
	snprintf(vm_mem, sizeof vm_mem, "%s",
		 kind != COPY_SNAPSHOT && !strcmp(ps, "Suspended") ? db_peek_str(vm, SC_F_VM__suspend_VDI)
								   : REF_NULL);
	if (p.n || memory) {
		op_mark(t, vm, op_names[kind], p.token);
	}
	if (p.n == 0 && !memory) {
		/* no disk to touch: records only, in this one transaction */
		struct db_obj *n = copy_vm(t, vm, arg_str(args, 1), kind, ignore, NULL);
		char nref[REF_STRLEN + 1];
		memcpy(nref, n->ref, sizeof nref);
		rc = db_commit(t, err);
		if (rc == 0)
			rc = clone_memory(ctx, vm_mem, nref, err);
		if (rc == 0)
			*result = xv_str(nref);
		goto out;
	}
	if (db_commit(t, err) < 0)
		goto out;

	/* 2: the image work, store unlocked */
	struct vm_checkpoint *ck = NULL;
	if (memory && !(ck = vm_checkpoint_begin(ctx->srv, p.vm, err))) {
		op_clear_marks(ctx->db, &p.marked, p.vm, p.token);
		goto out;
	}
	storage_ops_lock();
	int drc = do_disks(&p, err);
	if (drc == 0 && ck && vm_checkpoint_save(ck, err) < 0) {
		for (size_t k = p.n; k-- > 0;)
			undo_disk(&p.d[k]);
		drc = -1;
	}
	if (drc < 0) {
		storage_unlock();
		vm_checkpoint_end(ck, false);
		op_clear_marks(ctx->db, &p.marked, p.vm, p.token);
		goto out;
	}

	/* 3: every record in one transaction */
	t = db_begin(ctx->db);
	vm = db_lookup_cls(ctx->db, SC_C_VM, p.vm);
	if (!vm) {
		handle_invalid(err, SC_C_VM, p.vm);
		db_abort(t);
		goto undo;
	}
	if (record_disks(t, &p, err) < 0) {
		db_abort(t);
		goto undo;
	}
	struct db_obj *n = copy_vm(t, vm, arg_str(args, 1), kind, ignore, &p);
	if (ck)
		db_set_str(t, n, SC_F_VM__suspend_VDI, vm_checkpoint_vdi(ck));
	char nref[REF_STRLEN + 1];
	memcpy(nref, n->ref, sizeof nref);
	op_end(t, vm, p.token);
	if (db_commit(t, err) < 0)
		goto undo;
	storage_unlock();
	vm_checkpoint_end(ck, true);
	rc = clone_memory(ctx, vm_mem, nref, err);
	if (rc == 0)
		*result = xv_str(nref);
	goto out;
undo:
	for (size_t k = p.n; k-- > 0;)
		undo_disk(&p.d[k]);
	storage_unlock();
	vm_checkpoint_end(ck, false);
	op_clear_marks(ctx->db, &p.marked, p.vm, p.token);
	goto out;
fail:
	db_abort(t);
out:
	plan_free(&p);
	return rc;
}

static int vm_clone(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return copy_handler(ctx, args, result, err, COPY_CLONE);
}

static int vm_copy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return copy_handler(ctx, args, result, err, COPY_COPY);
}

static int vm_snapshot(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return copy_handler(ctx, args, result, err, COPY_SNAPSHOT);
}

/* VM.checkpoint: a snapshot whose memory is kept too — for a running or
 * paused VM, the guest is paused across the disk snapshots and the save
 * of its memory into the snapshot's suspend VDI, then runs on; VM.revert
 * gives the VM a clone of that VDI to resume from. */
static int vm_checkpoint(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return copy_handler(ctx, args, result, err, COPY_CHECKPOINT);
}

/* Deletes a VM and what belongs only to it; its VDIs stay, as in xapi. */
static void delete_vm(struct db_txn *t, struct db_obj *vm)
{
	struct db *db = db_txn_db(t);
	static const int owned[] = {SC_F_VM__VBDs, SC_F_VM__VIFs, SC_F_VM__consoles, SC_F_VM__VTPMs};
	static const int owned_cls[] = {SC_C_VBD, SC_C_VIF, SC_C_console, SC_C_VTPM};
	xv vdis = xv_arr_new();
	for (size_t k = 0; k < sizeof owned / sizeof owned[0]; k++) {
		xv refs = db_get(db, vm, owned[k]);
		for (size_t i = 0; i < xv_len(&refs); i++) {
			struct db_obj *o = db_lookup_cls(db, owned_cls[k], xv_as_str(xv_arr_get(&refs, i)));
			if (o && o->cls == SC_C_VBD)
				xv_arr_push_str(&vdis, db_peek_str(o, SC_F_VBD__VDI));
			if (o)
				db_delete(t, o);
		}
		xv_free(&refs);
	}
	struct db_obj *m = db_lookup_cls(db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
	if (m)
		db_delete(t, m);
	struct db_obj *gm = db_lookup_cls(db, SC_C_VM_guest_metrics, db_peek_str(vm, SC_F_VM__guest_metrics));
	if (gm)
		db_delete(t, gm);
	db_delete(t, vm);
	/* the disks left behind may now be destroyed */
	for (size_t i = 0; i < xv_len(&vdis); i++) {
		struct db_obj *v = db_lookup_cls(db, SC_C_VDI, xv_as_str(xv_arr_get(&vdis, i)));
		if (v)
			storage_vdi_update_allowed(t, v);
	}
	xv_free(&vdis);
}

static int destroy(struct rpc_ctx *ctx, const xv *ref, struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, ref, err);
	if (!vm)
		goto fail;
	if (vm_check_op(vm, "destroy", err) < 0)
		goto fail;
	char uuid[40];
	snprintf(uuid, sizeof uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
	delete_vm(t, vm);
	if (db_commit(t, err) < 0)
		return -1;
	metrics_forget(ctx->srv, RR_VM, uuid); /* its archive goes with it, as xapi's */
	return 0;
fail:
	db_abort(t);
	return -1;
}

int vm_destroy(struct rpc_ctx *ctx, const char *vm_ref, struct xerr *err)
{
	xv ref = xv_str(vm_ref);
	int rc = destroy(ctx, &ref, err);
	xv_free(&ref);
	return rc;
}

static int call_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return destroy(ctx, xv_arr_get(args, 0), err);
}

/* After a failed revert that had already stopped the VM: the VM is halted
 * whatever else happened. */
static void record_stopped(struct db *db, const char *vm_ref)
{
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_lookup_cls(db, SC_C_VM, vm_ref);
	if (vm) {
		db_set_str(t, vm, SC_F_VM__power_state, "Halted");
		db_set_int(t, vm, SC_F_VM__domid, -1);
		db_set_str(t, vm, SC_F_VM__resident_on, REF_NULL);
		vm_update_allowed_operations(t, vm);
	}
	struct xerr e = XERR_INIT;
	db_commit(t, &e);
	xerr_clear(&e);
}

/* The VM's VBDs become copies of the snapshot's, on the clones the plan
 * made; the VDIs it had are listed in old. Inside the final transaction. */
static void revert_vbds(struct db_txn *t, struct db_obj *vm, struct db_obj *snap,
			const struct plan *p, xv *old)
{
	struct db *db = db_txn_db(t);
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	for (size_t i = 0; i < xv_len(&vbds); i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (!vbd)
			continue;
		if (!vbd_is_cd(vbd) && !ref_is_null(db_peek_str(vbd, SC_F_VBD__VDI)))
			xv_arr_push_str(old, db_peek_str(vbd, SC_F_VBD__VDI));
		db_delete(t, vbd);
	}
	xv_free(&vbds);
	vbds = db_get(db, snap, SC_F_VM__VBDs);
	for (size_t i = 0; i < xv_len(&vbds); i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (!vbd)
			continue;
		struct db_obj *nb = copy_fields(t, SC_C_VBD, vbd, NULL);
		db_set_str(t, nb, SC_F_VBD__VM, vm->ref);
		db_set_bool(t, nb, SC_F_VBD__currently_attached, false);
		db_set(t, nb, SC_F_VBD__allowed_operations, xv_arr_new());
		db_set(t, nb, SC_F_VBD__current_operations, xv_map_new());
		const struct disk *d = plan_find(p, vbd->ref);
		if (d)
			db_set_str(t, nb, SC_F_VBD__VDI, d->new_vdi);
	}
	xv_free(&vbds);
}

/* VM.revert(snapshot): as xapi's Xapi_vm_snapshot.revert — a running VM is
 * stopped; it takes back the snapshot's configuration and power state
 * (Halted, or Suspended for a checkpoint); each disk becomes a fresh
 * copy-on-write clone of the snapshot's disk and the disks it had are
 * destroyed. */
static int vm_revert(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct plan p = {.kind = COPY_CLONE, .marked = xv_arr_new()};
	storage_token(ctx, p.token);
	xv old = xv_arr_new();
	struct vm_spec spec;
	memset(&spec, 0, sizeof spec);
	bool stop = false;
	int rc = -1;
	char snap_ref[REF_STRLEN + 1];

	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *snap = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!snap)
		goto fail;
	if (!db_peek_bool(snap, SC_F_VM__is_a_snapshot)) {
		xerr_set(err, ERR_REVERT_ONLY_ALLOWED_ON_SNAPSHOT, NULL);
		goto fail;
	}
	struct db_obj *vm = db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(snap, SC_F_VM__snapshot_of));
	if (!vm) {
		xerr_set(err, ERR_VM_REVERT_FAILED, snap->ref, "the snapshot's VM no longer exists", NULL);
		goto fail;
	}
	if (vm_check_op(vm, "revert", err) < 0 || plan_disks(ctx, t, snap, NULL, NULL, &p, err) < 0)
		goto fail;
	memcpy(p.vm, vm->ref, sizeof p.vm);
	memcpy(snap_ref, snap->ref, sizeof snap_ref);
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	stop = !strcmp(ps, "Running") || !strcmp(ps, "Paused");
	if (stop) {
		snprintf(spec.uuid, sizeof spec.uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
		snprintf(spec.name, sizeof spec.name, "%s", db_peek_str(vm, SC_F_VM__name_label));
		spec.domid = db_peek_int(vm, SC_F_VM__domid);
	}
	op_mark(t, vm, "revert", p.token);
	if (db_commit(t, err) < 0)
		goto out;

	if (stop && ctx->srv->backend->shutdown(&ctx->srv->xh, &spec, false, err) < 0) {
		op_clear_marks(ctx->db, &p.marked, p.vm, p.token);
		goto out;
	}
	storage_ops_lock();
	if (do_disks(&p, err) < 0) {
		storage_unlock();
		if (stop)
			record_stopped(ctx->db, p.vm);
		op_clear_marks(ctx->db, &p.marked, p.vm, p.token);
		goto out;
	}
	t = db_begin(ctx->db);
	vm = db_lookup_cls(ctx->db, SC_C_VM, p.vm);
	snap = db_lookup_cls(ctx->db, SC_C_VM, snap_ref);
	if (!vm || !snap) {
		handle_invalid(err, SC_C_VM, vm ? snap_ref : p.vm);
		db_abort(t);
		goto undo;
	}
	if (record_disks(t, &p, err) < 0) {
		db_abort(t);
		goto undo;
	}
	revert_vbds(t, vm, snap, &p, &old);
	const struct sc_class *c = &sc_classes[SC_C_VM];
	for (int f = 0; f < c->nfields; f++) {
		if (instance_field(f) || sc_field_is_derived(&c->fields[f]) || f == SC_F_VM__name_label ||
		    f == SC_F_VM__is_a_template || f == SC_F_VM__power_state)
			continue;
		db_set(t, vm, f, xv_copy(db_peek(snap, f)));
	}
	bool suspended = !strcmp(db_peek_str(snap, SC_F_VM__power_state), "Suspended");
	db_set_str(t, vm, SC_F_VM__power_state, suspended ? "Suspended" : "Halted");
	db_set_int(t, vm, SC_F_VM__domid, -1);
	db_set_str(t, vm, SC_F_VM__resident_on, REF_NULL);
	db_set_str(t, vm, SC_F_VM__parent, snap->ref);
	/* the memory the VM had (suspended) goes with its old disks; a
	 * checkpoint's comes back as a clone of the snapshot's suspend VDI */
	char snap_mem[REF_STRLEN + 1];
	snprintf(snap_mem, sizeof snap_mem, "%s", suspended ? db_peek_str(snap, SC_F_VM__suspend_VDI) : REF_NULL);
	if (!ref_is_null(db_peek_str(vm, SC_F_VM__suspend_VDI)))
		xv_arr_push_str(&old, db_peek_str(vm, SC_F_VM__suspend_VDI));
	db_set_str(t, vm, SC_F_VM__suspend_VDI, REF_NULL);
	op_end(t, vm, p.token);
	if (db_commit(t, err) < 0)
		goto undo;
	storage_unlock();
	rc = 0;
	/* the disks the VM had before: nothing uses them any more */
	for (size_t i = 0; i < xv_len(&old); i++) {
		struct xerr e = XERR_INIT;
		if (vdi_destroy(ctx, xv_as_str(xv_arr_get(&old, i)), &e) < 0)
			log_warn("VM.revert: left VDI %s: %s", xv_as_str(xv_arr_get(&old, i)), e.code);
		xerr_clear(&e);
	}
	if (!ref_is_null(snap_mem)) {
		xv clone = XV_NIL_INIT;
		rc = vdi_clone(ctx, snap_mem, &clone, err);
		if (rc == 0) {
			t = db_begin(ctx->db);
			vm = db_lookup_cls(ctx->db, SC_C_VM, p.vm);
			if (vm)
				db_set_str(t, vm, SC_F_VM__suspend_VDI, xv_as_str(&clone));
			rc = db_commit(t, err);
		}
		xv_free(&clone);
	}
	goto out;
undo:
	for (size_t k = p.n; k-- > 0;)
		undo_disk(&p.d[k]);
	storage_unlock();
	if (stop)
		record_stopped(ctx->db, p.vm);
	op_clear_marks(ctx->db, &p.marked, p.vm, p.token);
	goto out;
fail:
	db_abort(t);
out:
	vm_spec_free(&spec);
	xv_free(&old);
	plan_free(&p);
	return rc;
}

RPC_IMPL(VM, revert, vm_revert, RPC_SLOW);

RPC_IMPL(VM, clone, vm_clone, RPC_SLOW);
RPC_IMPL(VM, copy, vm_copy, RPC_SLOW);
RPC_IMPL(VM, snapshot, vm_snapshot, RPC_SLOW);
RPC_IMPL(VM, checkpoint, vm_checkpoint, RPC_SLOW);
RPC_IMPL(VM, destroy, call_destroy, 0);
