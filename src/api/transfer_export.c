/* transfer_export: what GET /export and /export_metadata read of the
 * store — the VM and the records it references as ova.xml lists them, with
 * refs rewritten to Ref:N, and the export's mark on the VM (xapi's
 * lock_vm). server/xva_export.c encodes and streams them. */
#include "transfer.h"
#include "storage.h"
#include "vm_ops.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* xapi's counter is process-global and need not start at 0 */
static unsigned long ref_counter;

struct refmap {
	size_t n;
	char (*ref)[REF_STRLEN + 1];
	unsigned long *id;
};

static unsigned long refmap_add(struct refmap *m, const char *ref)
{
	m->ref = xrealloc(m->ref, (m->n + 1) * sizeof *m->ref);
	m->id = xrealloc(m->id, (m->n + 1) * sizeof *m->id);
	snprintf(m->ref[m->n], sizeof m->ref[0], "%s", ref);
	m->id[m->n] = __atomic_fetch_add(&ref_counter, 1, __ATOMIC_RELAXED);
	return m->id[m->n++];
}

static long refmap_find(const struct refmap *m, const char *ref)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->ref[i], ref))
			return (long)m->id[i];
	return -1;
}

/* Every ref in v becomes Ref:N, or OpaqueRef:NULL when not exported. */
static void rewrite(xv *v, const struct refmap *m)
{
	if (v->kind == XV_STR && !strncmp(v->u.s, "OpaqueRef:", 10)) {
		long id = refmap_find(m, v->u.s);
		xv_free(v);
		*v = id < 0 ? xv_str("OpaqueRef:NULL") : xv_str_own(xasprintf("Ref:%ld", id));
	} else if (v->kind == XV_ARR) {
		for (size_t i = 0; i < v->u.a->n; i++)
			rewrite(&v->u.a->items[i], m);
	} else if (v->kind == XV_MAP) {
		for (size_t i = 0; i < v->u.m->n; i++)
			rewrite(&v->u.m->vals[i], m);
	}
}

static bool is_iso_vdi(struct db *db, struct db_obj *vdi)
{
	struct db_obj *sr = db_lookup_cls(db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
	return !sr || !strcmp(db_peek_str(sr, SC_F_SR__content_type), "iso");
}

static void add_obj(xv *objs, struct db *db, const char *cls, struct db_obj *o, long id)
{
	xv e = xv_map_new();
	xv_map_set_str(&e, "class", cls);
	xv_map_set(&e, "id", xv_str_own(xasprintf("Ref:%ld", id)));
	xv_map_set(&e, "snapshot", db_record(db, o));
	xv_arr_push(objs, e);
}

/* The exported objects: the VM, its metrics, VBDs, VDIs (not CDs or ISOs)
 * and their SRs, VIFs and their networks. */
struct eobj {
	const char *name;
	struct db_obj *o;
};

/* ova.xml's version map, from this host's record. */
static xv version_of(struct db_obj *host)
{
	xv ver = xv_map_new();
	char date[32];
	time_t now = time(NULL);
	strftime(date, sizeof date, "%Y-%m-%d", gmtime(&now));
	xv_map_set_str(&ver, "hostname", host ? db_peek_str(host, SC_F_host__hostname) : "xenon");
	xv_map_set_str(&ver, "date", date);
	xv_map_set_str(&ver, "product_version", "8.4.0");
	xv_map_set_str(&ver, "product_brand", "Xenon");
	xv_map_set_str(&ver, "build_number", "xenon");
	xv_map_set(&ver, "xapi_major", xv_int(host ? db_peek_int(host, SC_F_host__API_version_major) : 2));
	xv_map_set(&ver, "xapi_minor", xv_int(host ? db_peek_int(host, SC_F_host__API_version_minor) : 21));
	xv_map_set(&ver, "export_vsn", xv_int(2));
	return ver;
}

int transfer_xva_plan(struct rpc_ctx *ctx, const char *id, bool metadata_only, xv *top, xv *vdi_refs,
		      xv *disk_ids, struct xerr *err)
{
	struct db *db = ctx->db;
	db_rdlock(db);
	struct db_obj *vm = strncmp(id, "OpaqueRef:", 10) ? db_lookup_uuid(db, SC_C_VM, id)
							 : db_lookup_cls(db, SC_C_VM, id);
	if (!vm) {
		db_unlock(db);
		return xerr_set(err, ERR_HANDLE_INVALID, "VM", id, NULL);
	}
	/* disks in use change under the export: xapi wants the VM halted or
	 * suspended (clients export a snapshot of a running VM) */
	const char *ps = db_peek_str(vm, SC_F_VM__power_state);
	if (!metadata_only && (!strcmp(ps, "Running") || !strcmp(ps, "Paused"))) {
		xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "halted", ps, NULL);
		db_unlock(db);
		return -1;
	}
	struct refmap m = {0};
	struct eobj objs[512];
	size_t n = 0;
	objs[n++] = (struct eobj){"VM", vm};
	refmap_add(&m, vm->ref);
	struct db_obj *met = db_lookup_cls(db, SC_C_VM_metrics, db_peek_str(vm, SC_F_VM__metrics));
	if (met) {
		objs[n++] = (struct eobj){"VM_metrics", met};
		refmap_add(&m, met->ref);
	}
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	for (size_t i = 0; i < xv_len(&vbds) && n < 500; i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (!vbd)
			continue;
		objs[n++] = (struct eobj){"VBD", vbd};
		refmap_add(&m, vbd->ref);
		struct db_obj *vdi = db_lookup_cls(db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI));
		bool cd = !strcmp(db_peek_str(vbd, SC_F_VBD__type), "CD");
		if (!vdi || cd || is_iso_vdi(db, vdi) || refmap_find(&m, vdi->ref) >= 0)
			continue;
		objs[n++] = (struct eobj){"VDI", vdi};
		unsigned long vid = refmap_add(&m, vdi->ref);
		struct db_obj *sr = db_lookup_cls(db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
		if (sr && refmap_find(&m, sr->ref) < 0) {
			objs[n++] = (struct eobj){"SR", sr};
			refmap_add(&m, sr->ref);
		}
		if (!metadata_only) {
			xv_arr_push(disk_ids, xv_str_own(xasprintf("Ref:%lu", vid)));
			xv_arr_push_str(vdi_refs, vdi->ref);
		}
	}
	xv_free(&vbds);
	xv vifs = db_get(db, vm, SC_F_VM__VIFs);
	for (size_t i = 0; i < xv_len(&vifs) && n < 500; i++) {
		struct db_obj *vif = db_lookup_cls(db, SC_C_VIF, xv_as_str(xv_arr_get(&vifs, i)));
		if (!vif)
			continue;
		objs[n++] = (struct eobj){"VIF", vif};
		refmap_add(&m, vif->ref);
		struct db_obj *net = db_lookup_cls(db, SC_C_network, db_peek_str(vif, SC_F_VIF__network));
		if (net && refmap_find(&m, net->ref) < 0) {
			objs[n++] = (struct eobj){"network", net};
			refmap_add(&m, net->ref);
		}
	}
	xv_free(&vifs);

	xv list = xv_arr_new();
	for (size_t i = 0; i < n; i++)
		add_obj(&list, db, objs[i].name, objs[i].o, refmap_find(&m, objs[i].o->ref));
	rewrite(&list, &m);
	struct db_obj *host = db_lookup_cls(db, SC_C_host, ctx->srv->host_ref);
	xv ver = version_of(host);
	db_unlock(db);
	*top = xv_map_new();
	xv_map_set(top, "version", ver);
	xv_map_set(top, "objects", list);
	free(m.ref);
	free(m.id);
	return 0;
}

int transfer_vm_mark(struct rpc_ctx *ctx, const char *id, const char *op, char vm_ref[REF_STRLEN + 1],
		     char mark[REF_STRLEN + 1], struct xerr *err)
{
	char token[REF_STRLEN + 1];
	storage_token(ctx, token);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = strncmp(id, "OpaqueRef:", 10) ? db_lookup_uuid(ctx->db, SC_C_VM, id)
							 : db_lookup_cls(ctx->db, SC_C_VM, id);
	if (!vm) {
		db_abort(t);
		return xerr_set(err, ERR_HANDLE_INVALID, "VM", id, NULL);
	}
	if (vm_op_begin(t, vm, op, token, err) < 0) {
		db_abort(t);
		return -1;
	}
	snprintf(vm_ref, REF_STRLEN + 1, "%s", vm->ref);
	if (db_commit(t, err) < 0)
		return -1;
	snprintf(mark, REF_STRLEN + 1, "%s", token);
	return 0;
}

void transfer_vm_unmark(struct rpc_ctx *ctx, const char *vm_ref, const char *mark)
{
	op_clear_marks(ctx->db, NULL, vm_ref, mark);
}
