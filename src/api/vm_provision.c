/* vm_provision: VM.provision — the disks a template's other_config:disks
 * XML asks for become real images (through each SR's driver) with their
 * VDI and VBD records, as xapi_templates.ml makes them. The images are made
 * with the store unlocked and removed again if the records cannot be
 * committed. */
#include "storage.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pdisk {
	char device[32];
	int64_t size;
	bool bootable;
	char type[32];
	char sr[REF_STRLEN + 1];
	struct sm_sr h;
	struct sm_vdi v;
	bool made;
};

/* Reads one attribute of a <disk .../> element of the provision XML. */
static char *xml_attr(const char *elem, const char *name)
{
	char pat[64];
	snprintf(pat, sizeof pat, " %s=\"", name);
	const char *p = strstr(elem, pat);
	if (!p)
		return NULL;
	p += strlen(pat);
	const char *q = strchr(p, '"');
	return q ? xstrndup(p, (size_t)(q - p)) : NULL;
}

static const char *default_sr(struct db *db)
{
	struct db_obj *pool = db_first(db, SC_C_pool);
	return pool ? db_peek_str(pool, SC_F_pool__default_SR) : REF_NULL;
}

/* One <disk device= size= sr= bootable= type=/>; sr is an SR uuid, ""
 * meaning the pool's default SR (a ref is accepted too). */
static int parse_disk(struct rpc_ctx *ctx, const char *elem, const char *xml, struct pdisk *d,
		      struct xerr *err)
{
	char *device = xml_attr(elem, "device"), *size = xml_attr(elem, "size");
	char *sr = xml_attr(elem, "sr"), *boot = xml_attr(elem, "bootable");
	char *type = xml_attr(elem, "type");
	int rc = 0;
	char *end = NULL;
	long long sz = size ? strtoll(size, &end, 10) : -1;
	if (!device || !*device || strlen(device) >= sizeof d->device || !size || !end || *end || sz < 0) {
		rc = xerr_set(err, ERR_INVALID_VALUE, "other_config:disks", xml, NULL);
		goto out;
	}
	struct db_obj *sro = NULL;
	if (sr && *sr)
		sro = db_lookup_uuid(ctx->db, SC_C_SR, sr);
	if (!sro)
		sro = db_lookup_cls(ctx->db, SC_C_SR, sr && *sr ? sr : default_sr(ctx->db));
	if (!sro) {
		rc = xerr_set(err, ERR_UUID_INVALID, "sr", sr ? sr : "", NULL);
		goto out;
	}
	snprintf(d->device, sizeof d->device, "%s", device);
	d->size = sz;
	d->bootable = boot && !strcmp(boot, "true");
	snprintf(d->type, sizeof d->type, "%s", type && sc_enum_find(sc_classes[SC_C_VDI].fields[SC_F_VDI__type].type->en, type) >= 0 ? type : "user");
	snprintf(d->sr, sizeof d->sr, "%s", sro->ref);
	xv_free(&d->h.device_config);
	rc = storage_sr_open(ctx, sro, true, &d->h, err);
	if (rc == 0 && !d->h.drv->vdi_create)
		rc = xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, sro->ref, NULL);
out:
	free(device), free(size), free(sr), free(boot), free(type);
	return rc;
}

static void pdisks_free(struct pdisk *d, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		sm_sr_close(&d[i].h);
		sm_vdi_free(&d[i].v);
	}
	free(d);
}

static void undo(struct pdisk *d, size_t n)
{
	for (size_t i = n; i-- > 0;)
		if (d[i].made)
			storage_undo_create(&d[i].h, &d[i].v);
}

/* The records of one disk: VDI named after its device, VBD on the VM. */
static void record_disk(struct db_txn *t, struct db_obj *vm, struct db_obj *sro, struct pdisk *d)
{
	struct db_obj *vdi = storage_vdi_new(t, sro, &d->v);
	db_set_str(t, vdi, SC_F_VDI__name_label, d->device);
	db_set_str(t, vdi, SC_F_VDI__name_description, "Created by template provisioner");
	db_set_str(t, vdi, SC_F_VDI__type, d->type);
	struct db_obj *vbd = db_create(t, SC_C_VBD, NULL);
	db_set_str(t, vbd, SC_F_VBD__VM, vm->ref);
	db_set_str(t, vbd, SC_F_VBD__VDI, vdi->ref);
	db_set_str(t, vbd, SC_F_VBD__userdevice, d->device);
	db_set_bool(t, vbd, SC_F_VBD__bootable, d->bootable);
	db_set_str(t, vbd, SC_F_VBD__type, "Disk");
	db_set_str(t, vbd, SC_F_VBD__mode, "RW");
	db_set_bool(t, vbd, SC_F_VBD__unpluggable, strcmp(d->type, "system") != 0);
	xv oc = xv_map_new();
	xv_map_set_str(&oc, "owner", "");
	db_set(t, vbd, SC_F_VBD__other_config, oc);
	storage_vdi_update_allowed(t, vdi);
}

static int vm_provision(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	char token[REF_STRLEN + 1], vm_ref[REF_STRLEN + 1], vm_uuid[UUID_STRLEN + 1];
	storage_token(ctx, token);
	struct pdisk *d = NULL;
	size_t n = 0;
	int rc = -1;

	/* 1: read the XML, check the SRs, mark the VM */
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (!vm) {
		db_abort(t);
		return -1;
	}
	if (vm_check_op(vm, "provision", err) < 0) {
		db_abort(t);
		return -1;
	}
	const char *disks = xv_map_get_str(db_peek(vm, SC_F_VM__other_config), "disks");
	char *xml = xstrdup(disks ? disks : "");
	for (char *p = strstr(xml, "<disk"); p; p = strstr(p + 5, "<disk")) {
		char *end = strchr(p, '>');
		if (!end)
			break;
		char save = *end;
		*end = '\0';
		d = xrealloc(d, sizeof *d * (n + 1));
		memset(&d[n], 0, sizeof d[n]);
		d[n].h.device_config = xv_map_new();
		sm_vdi_init(&d[n].v);
		n++;
		rc = parse_disk(ctx, p, disks, &d[n - 1], err);
		*end = save;
		if (rc < 0)
			break;
	}
	free(xml);
	memcpy(vm_ref, vm->ref, sizeof vm_ref);
	snprintf(vm_uuid, sizeof vm_uuid, "%s", db_peek_str(vm, SC_F_VM__uuid));
	if (n && rc < 0) {
		db_abort(t);
		goto out;
	}
	if (n == 0) {
		/* nothing to make: the bookkeeping alone */
		xv_map_del(db_edit(t, vm, SC_F_VM__other_config), "disks");
		vm_set_template(t, vm, false);
		vm_update_allowed_operations(t, vm);
		rc = db_commit(t, err);
		goto out;
	}
	op_mark(t, vm, "provision", token);
	if ((rc = db_commit(t, err)) < 0)
		goto out;

	/* 2: the images, store unlocked */
	storage_ops_lock();
	for (size_t i = 0; i < n; i++) {
		uuid_generate_str(d[i].v.uuid);
		d[i].v.virtual_size = d[i].size;
		/* xapi passes the VM as a hint to the SM backend */
		xv_map_set_str(&d[i].v.sm_config, "vmhint", vm_uuid);
		if ((rc = d[i].h.drv->vdi_create(&d[i].h, &d[i].v, err)) < 0)
			break;
		d[i].made = true;
	}
	if (rc == 0) {
		/* 3: the records, all at once */
		t = db_begin(ctx->db);
		vm = db_lookup_cls(ctx->db, SC_C_VM, vm_ref);
		if (!vm)
			rc = handle_invalid(err, SC_C_VM, vm_ref);
		for (size_t i = 0; rc == 0 && i < n; i++) {
			struct db_obj *sro = db_lookup_cls(ctx->db, SC_C_SR, d[i].sr);
			if (!sro) {
				rc = handle_invalid(err, SC_C_SR, d[i].sr);
				break;
			}
			record_disk(t, vm, sro, &d[i]);
			struct sm_stat st;
			bool have_st = d[i].h.drv->sr_stat(&d[i].h, &st, NULL) == 0;
			storage_sr_refresh(t, sro, have_st ? &st : NULL);
		}
		if (rc == 0) {
			xv_map_del(db_edit(t, vm, SC_F_VM__other_config), "disks");
			vm_set_template(t, vm, false);
			op_end(t, vm, token);
			rc = db_commit(t, err);
		} else {
			db_abort(t);
		}
	}
	if (rc < 0)
		undo(d, n);
	storage_unlock();
	if (rc < 0)
		op_clear_marks(ctx->db, NULL, vm_ref, token);
out:
	pdisks_free(d, n);
	return rc;
}

RPC_IMPL(VM, provision, vm_provision, RPC_SLOW);
