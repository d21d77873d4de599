/* transfer_xva: the records of an XVA import. server/xva_import.c parses
 * the archive and writes the disks; the VM, VBD and VIF records its
 * ova.xml describes are made here in one transaction, and a metadata
 * import's disks are found here among the VDIs this host has. */
#include "transfer.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ova.xml's ids (Ref:N) and what they were imported as. */
struct idmap {
	size_t n;
	char **id;
	char (*ref)[REF_STRLEN + 1];
};

static void idmap_set(struct idmap *m, const char *id, const char *ref)
{
	m->id = xrealloc(m->id, (m->n + 1) * sizeof *m->id);
	m->ref = xrealloc(m->ref, (m->n + 1) * sizeof *m->ref);
	m->id[m->n] = xstrdup(id);
	snprintf(m->ref[m->n++], REF_STRLEN + 1, "%s", ref);
}

static const char *idmap_get(const struct idmap *m, const char *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->id[i], id))
			return m->ref[i];
	return NULL;
}

static void idmap_free(struct idmap *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->id[i]);
	free(m->id);
	free(m->ref);
}

/* Snapshot fields that describe the exporting host's instance. */
static bool skip_field(int cls, int f)
{
	if (cls == SC_C_VM)
		switch (f) {
		case SC_F_VM__allowed_operations: case SC_F_VM__current_operations:
		case SC_F_VM__resident_on: case SC_F_VM__scheduled_to_be_resident_on:
		case SC_F_VM__domid: case SC_F_VM__metrics: case SC_F_VM__guest_metrics:
		case SC_F_VM__is_control_domain: case SC_F_VM__is_default_template:
		case SC_F_VM__parent: case SC_F_VM__suspend_VDI: case SC_F_VM__power_state:
		case SC_F_VM__affinity:
			return true;
		}
	if (cls == SC_C_VBD)
		switch (f) {
		case SC_F_VBD__allowed_operations: case SC_F_VBD__current_operations:
		case SC_F_VBD__currently_attached:
			return true;
		}
	if (cls == SC_C_VIF)
		switch (f) {
		case SC_F_VIF__allowed_operations: case SC_F_VIF__current_operations:
		case SC_F_VIF__currently_attached:
			return true;
		}
	return false;
}

/* Ref:N becomes what it was imported as; foreign refs become NULL. */
static void remap(xv *v, const struct idmap *m)
{
	if (v->kind == XV_STR && (!strncmp(v->u.s, "Ref:", 4) ||
				  (!strncmp(v->u.s, "OpaqueRef:", 10) && strcmp(v->u.s, "OpaqueRef:NULL")))) {
		const char *r = idmap_get(m, v->u.s);
		xv_free(v);
		*v = xv_str(r ? r : "OpaqueRef:NULL");
	} else if (v->kind == XV_ARR) {
		for (size_t i = 0; i < v->u.a->n; i++)
			remap(&v->u.a->items[i], m);
	} else if (v->kind == XV_MAP) {
		for (size_t i = 0; i < v->u.m->n; i++)
			remap(&v->u.m->vals[i], m);
	}
}

static void set_fields(struct db_txn *t, struct db_obj *o, int cls, const xv *snap,
		       const struct idmap *m)
{
	const struct sc_class *c = &sc_classes[cls];
	for (size_t i = 0; snap->kind == XV_MAP && i < snap->u.m->n; i++) {
		int f = sc_field_find(cls, snap->u.m->keys[i]);
		if (f < 0 || f == c->uuid_field || sc_field_is_derived(&c->fields[f]) || skip_field(cls, f))
			continue;
		xv v = xv_copy(&snap->u.m->vals[i]);
		remap(&v, m);
		struct xerr e = XERR_INIT;
		if (sc_coerce(c->fields[f].type, c->fields[f].name, &v, &e) < 0) {
			xerr_clear(&e);
			xv_free(&v);
			continue;
		}
		db_set(t, o, f, v);
	}
}

/* A local network for an exported one: same bridge, else same name, else
 * the first there is. */
static const char *local_network(struct db *db, const xv *snap)
{
	const char *bridge = xv_as_str(xv_map_get(snap, "bridge"));
	const char *name = xv_as_str(xv_map_get(snap, "name_label"));
	struct db_obj *first = NULL, *by_name = NULL;
	for (struct db_obj *n = db_first(db, SC_C_network); n; n = db_next(n)) {
		if (bridge && !strcmp(db_peek_str(n, SC_F_network__bridge), bridge))
			return n->ref;
		if (name && !by_name && !strcmp(db_peek_str(n, SC_F_network__name_label), name))
			by_name = n;
		if (!first)
			first = n;
	}
	return by_name ? by_name->ref : first ? first->ref : NULL;
}

static const struct transfer_xva_disk *disk_of(const struct transfer_xva *x, const char *id)
{
	for (size_t i = 0; i < x->ndisks; i++)
		if (!strcmp(x->disks[i].id, id))
			return &x->disks[i];
	return NULL;
}

/* The class of a record ova.xml describes that the import makes, or -1. */
static int made_class(const char *cls)
{
	return !strcmp(cls, "VM") ? SC_C_VM : !strcmp(cls, "VBD") ? SC_C_VBD : !strcmp(cls, "VIF") ? SC_C_VIF : -1;
}

/* Refs first, so fields can point at each other: made[i] for objs[i]. */
static void create_refs(struct db_txn *t, const struct transfer_xva *x, struct idmap *m,
			struct db_obj **made)
{
	for (size_t i = 0; i < xv_len(x->objs); i++) {
		const xv *o = xv_arr_get(x->objs, i);
		const char *cls = xv_as_str(xv_map_get(o, "class"));
		const char *id = xv_as_str(xv_map_get(o, "id"));
		const xv *snap = xv_map_get(o, "snapshot");
		if (!strcmp(cls, "SR"))
			idmap_set(m, id, x->sr_ref);
		const char *net = !strcmp(cls, "network") ? local_network(db_txn_db(t), snap) : NULL;
		if (net)
			idmap_set(m, id, net);
		int c = made_class(cls);
		/* a disk's VBD whose VDI a forced metadata import left out */
		const char *vdi = xv_as_str(xv_map_get(snap, "VDI"));
		if (c < 0 || (c == SC_C_VBD && disk_of(x, vdi ? vdi : "") && !idmap_get(m, vdi)))
			continue;
		made[i] = db_create(t, c, NULL);
		idmap_set(m, id, made[i]->ref);
	}
}

static void fill_record(struct db_txn *t, const struct transfer_xva *x, const struct idmap *m,
			struct db_obj *o, const xv *snap)
{
	set_fields(t, o, o->cls, snap, m);
	if (o->cls == SC_C_VM) {
		db_set_str(t, o, SC_F_VM__power_state, "Halted");
		db_set_int(t, o, SC_F_VM__domid, -1);
		struct db_obj *met = db_create(t, SC_C_VM_metrics, NULL);
		db_set_str(t, o, SC_F_VM__metrics, met->ref);
		const char *uuid = xv_as_str(xv_map_get(snap, "uuid"));
		if (x->restore && uuid && !db_lookup_uuid(db_txn_db(t), SC_C_VM, uuid))
			db_set_str(t, o, SC_F_VM__uuid, uuid);
	}
	if (o->cls == SC_C_VBD) {
		db_set_bool(t, o, SC_F_VBD__currently_attached, false);
		/* a CD's disc stays behind: an empty drive */
		const char *vdi = xv_as_str(xv_map_get(snap, "VDI"));
		if (!vdi || !idmap_get(m, vdi))
			db_set_bool(t, o, SC_F_VBD__empty, true);
	}
	if (o->cls == SC_C_VIF)
		db_set_bool(t, o, SC_F_VIF__currently_attached, false);
}

int transfer_xva_commit(struct rpc_ctx *ctx, const struct transfer_xva *x, char out[REF_STRLEN + 1],
			struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj **made = xcalloc(xv_len(x->objs) + 1, sizeof *made);
	struct idmap m = {0};
	for (size_t i = 0; i < x->ndisks; i++)
		if (x->disks[i].ref[0]) /* not a disk a forced metadata import left out */
			idmap_set(&m, x->disks[i].id, x->disks[i].ref);
	create_refs(t, x, &m, made);
	out[0] = '\0';
	for (size_t i = 0; i < xv_len(x->objs); i++) {
		if (!made[i])
			continue;
		fill_record(t, x, &m, made[i], xv_map_get(xv_arr_get(x->objs, i), "snapshot"));
		if (made[i]->cls == SC_C_VM)
			snprintf(out, REF_STRLEN + 1, "%s", made[i]->ref);
	}
	for (size_t i = 0; i < x->ndisks && !x->metadata; i++) {
		struct db_obj *v = db_lookup_cls(ctx->db, SC_C_VDI, x->disks[i].ref);
		const xv *ro = xv_map_get(x->disks[i].snap, "read_only");
		if (v && ro && ro->kind == XV_BOOL && ro->u.b)
			db_set_bool(t, v, SC_F_VDI__read_only, true);
	}
	for (size_t i = 0; i < xv_len(x->objs); i++)
		if (made[i] && made[i]->cls == SC_C_VM)
			vm_update_allowed_operations(t, made[i]);
	free(made);
	idmap_free(&m);
	return db_commit(t, err);
}

int transfer_xva_find_disk(struct rpc_ctx *ctx, const struct transfer_xva_where *w, char out[REF_STRLEN + 1],
			   struct xerr *err)
{
	struct db *db = ctx->db;
	out[0] = '\0';
	db_rdlock(db);
	struct db_obj *sr = w->sr_uuid ? db_lookup_uuid(db, SC_C_SR, w->sr_uuid) : NULL;
	struct db_obj *found = w->mapped ? db_lookup_uuid(db, SC_C_VDI, w->mapped) : NULL;
	for (struct db_obj *v = db_first(db, SC_C_VDI); !found && !w->mapped && sr && w->location && v;
	     v = db_next(v))
		if (!strcmp(db_peek_str(v, SC_F_VDI__SR), sr->ref) &&
		    !strcmp(db_peek_str(v, SC_F_VDI__location), w->location))
			found = v;
	if (!found && !w->mapped && w->uuid)
		found = db_lookup_uuid(db, SC_C_VDI, w->uuid);
	int rc = 0;
	if (found)
		snprintf(out, REF_STRLEN + 1, "%s", found->ref);
	else if (w->force)
		log_info("import: no VDI for %s here; left out (force)", w->uuid ? w->uuid : w->id);
	else if (sr)
		rc = xerr_set(err, ERR_VDI_LOCATION_MISSING, sr->ref, w->location ? w->location : "", NULL);
	else
		rc = xerr_set(err, ERR_VDI_CONTENT_ID_MISSING, NULL);
	db_unlock(db);
	return rc;
}

void transfer_api_version(struct rpc_ctx *ctx, int64_t *major, int64_t *minor)
{
	db_rdlock(ctx->db);
	struct db_obj *host = db_lookup_cls(ctx->db, SC_C_host, ctx->srv->host_ref);
	*major = host ? db_peek_int(host, SC_F_host__API_version_major) : 2;
	*minor = host ? db_peek_int(host, SC_F_host__API_version_minor) : 21;
	db_unlock(ctx->db);
}
