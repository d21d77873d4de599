/* vm_build: what a domain is built from, prepared for the backend — boot
 * files from the host's guest-kernel directory (nowhere else, as xapi allows
 * only /boot/guest), the VM's disks attached through their SR drivers — and
 * the VBD and VDI state that follows a domain's life. */
#include "storage.h"
#include "vm_ops.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- boot files ---- */

/* xapi's assert_boot_file_is_whitelisted: PERMISSION_DENIED with its words. */
static int illegal(const char *name, struct xerr *err)
{
	char *m = xasprintf("illegal boot file path %s", name);
	xerr_set(err, ERR_PERMISSION_DENIED, m, NULL);
	free(m);
	return -1;
}

static bool inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return !strncmp(path, dir, n) && path[n] == '/' && path[n + 1];
}

/* name (relative to the guest-kernel directory, or absolute inside it) as
 * the absolute path of an existing file there, symlinks resolved — so a
 * link cannot lead out of the directory. */
static int boot_file(struct server *srv, const char *vm_ref, const char *name, char **out,
		     struct xerr *err)
{
	*out = NULL;
	if (!*name)
		return 0;
	if (strstr(name, ".."))
		return illegal(name, err);
	const char *cfg_dir = srv->cfg.guest_kernel_dir;
	char dir[PATH_MAX];
	bool have_dir = realpath(cfg_dir, dir) != NULL;
	char *full = name[0] == '/' ? xstrdup(name) : xasprintf("%s/%s", cfg_dir, name);
	if (!inside(full, cfg_dir) && !(have_dir && inside(full, dir))) {
		free(full);
		return illegal(name, err);
	}
	char real[PATH_MAX];
	if (!have_dir || !realpath(full, real)) {
		int e = errno;
		char *m = xasprintf("cannot open %s: %s", full, strerror(have_dir ? e : ENOENT));
		free(full);
		xerr_set(err, ERR_BOOTLOADER_FAILED, vm_ref, m, NULL);
		free(m);
		return -1;
	}
	free(full);
	if (!inside(real, dir))
		return illegal(name, err);
	*out = xstrdup(real);
	return 0;
}

int vm_boot_files(struct server *srv, struct vm_spec *s, struct xerr *err)
{
	if (s->boot != VM_BOOT_DIRECT)
		return 0;
	char *k, *r;
	if (boot_file(srv, s->ref, s->pv_kernel, &k, err) < 0)
		return -1;
	if (boot_file(srv, s->ref, s->pv_ramdisk, &r, err) < 0) {
		free(k);
		return -1;
	}
	if (k) {
		free(s->pv_kernel);
		s->pv_kernel = k;
	}
	if (r) {
		free(s->pv_ramdisk);
		s->pv_ramdisk = r;
	}
	return 0;
}

/* ---- disks ---- */

struct build_disk {
	int position;
	bool cd, empty, writable, bootable;
	struct sm_sr sr;   /* opened when !empty */
	struct sm_vdi vdi;
	bool attached;
};

struct vm_build {
	size_t n;
	struct build_disk *d;
};

void vm_build_free(struct vm_build *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++) {
		if (!b->d[i].empty) {
			sm_sr_close(&b->d[i].sr);
			sm_vdi_free(&b->d[i].vdi);
		}
	}
	free(b->d);
	free(b);
}

/* One VBD into b: an image to attach (its SR opened) or an empty CD drive;
 * a disk without an image is left out. */
static int collect_vbd(struct vm_build *b, struct rpc_ctx *ctx, struct db_obj *vbd, const char *vdi_ref,
		       struct xerr *err)
{
	struct db *db = ctx->db;
	const char *type = db_peek_str(vbd, SC_F_VBD__type);
	if (strcmp(type, "Disk") != 0 && strcmp(type, "CD") != 0)
		return 0; /* floppies: not emulated */
	struct build_disk *d = &b->d[b->n];
	memset(d, 0, sizeof *d);
	d->position = storage_vbd_position(db_peek_str(vbd, SC_F_VBD__userdevice));
	d->cd = !strcmp(type, "CD");
	d->bootable = db_peek_bool(vbd, SC_F_VBD__bootable);
	struct db_obj *vdi = db_lookup_cls(db, SC_C_VDI, vdi_ref ? vdi_ref : db_peek_str(vbd, SC_F_VBD__VDI));
	d->empty = db_peek_bool(vbd, SC_F_VBD__empty) || !vdi;
	if (d->empty && !d->cd)
		return 0; /* a disk without an image: nothing to give the guest */
	if (d->position < 0)
		return xerr_set(err, ERR_INVALID_DEVICE, db_peek_str(vbd, SC_F_VBD__userdevice), NULL);
	b->n++;
	if (d->empty)
		return 0;
	d->writable = !strcmp(db_peek_str(vbd, SC_F_VBD__mode), "RW") && !db_peek_bool(vdi, SC_F_VDI__read_only) &&
		      !d->cd;
	/* files are being written into it (VDI.write_file holds it read-write) */
	const xv *ops = db_peek(vdi, SC_F_VDI__current_operations);
	for (size_t i = 0; i < xv_len(ops); i++)
		if (!strcmp(xv_as_str(&ops->u.m->vals[i]), "blocked")) {
			d->empty = true;
			return op_check_idle(vdi, err);
		}
	struct db_obj *sr = db_lookup_cls(db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR));
	if (!sr) {
		d->empty = true;
		return xerr_set(err, ERR_VDI_MISSING, vdi->ref, REF_NULL, NULL);
	}
	if (storage_sr_open(ctx, sr, true, &d->sr, err) < 0) {
		sm_sr_close(&d->sr);
		d->empty = true;
		return -1;
	}
	sm_vdi_init(&d->vdi);
	storage_vdi_view(vdi, &d->vdi);
	return 0;
}

/* The VM's disks: every VBD's, or the plugged ones only; for a VBD that
 * instead (a map, NULL: none) names, that VDI instead of the VBD's. */
static struct vm_build *collect(struct server *srv, struct db_obj *vm, const xv *instead, bool plugged_only,
				struct xerr *err)
{
	struct db *db = srv->db;
	struct rpc_ctx ctx = {.srv = srv, .db = db};
	struct vm_build *b = xcalloc(1, sizeof *b);
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	b->d = xcalloc(xv_len(&vbds) + 1, sizeof *b->d);
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < xv_len(&vbds); i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (vbd && (!plugged_only || db_peek_bool(vbd, SC_F_VBD__currently_attached)))
			rc = collect_vbd(b, &ctx, vbd, instead ? xv_map_get_str(instead, vbd->ref) : NULL, err);
	}
	xv_free(&vbds);
	if (rc < 0) {
		vm_build_free(b);
		return NULL;
	}
	return b;
}

struct vm_build *vm_build_collect(struct server *srv, struct db_obj *vm, struct xerr *err)
{
	return collect(srv, vm, NULL, false, err);
}

struct vm_build *vm_build_collect_with(struct server *srv, struct db_obj *vm, const xv *instead, struct xerr *err)
{
	return collect(srv, vm, instead, false, err);
}

struct vm_build *vm_build_collect_plugged(struct server *srv, struct db_obj *vm, struct xerr *err)
{
	return collect(srv, vm, NULL, true, err);
}

struct vm_build *vm_build_collect_vbd(struct server *srv, struct db_obj *vbd, struct xerr *err)
{
	struct rpc_ctx ctx = {.srv = srv, .db = srv->db};
	struct vm_build *b = xcalloc(1, sizeof *b);
	b->d = xcalloc(1, sizeof *b->d);
	if (collect_vbd(b, &ctx, vbd, NULL, err) < 0) {
		vm_build_free(b);
		return NULL;
	}
	return b;
}

int vm_build_attach(struct vm_build *b, struct vm_spec *s, struct xerr *err)
{
	s->disks = xcalloc(b->n + 1, sizeof *s->disks);
	s->ndisks = 0;
	for (size_t i = 0; i < b->n; i++) {
		struct build_disk *d = &b->d[i];
		struct vm_disk *o = &s->disks[s->ndisks];
		memset(o, 0, sizeof *o);
		o->position = d->position;
		o->is_cdrom = d->cd;
		o->bootable = d->bootable;
		o->read_only = !d->writable;
		if (!d->empty) {
			struct sm_attach_info ai = {0};
			if (d->sr.drv->vdi_attach(&d->sr, &d->vdi, d->writable, &ai, err) < 0) {
				vm_build_detach(b);
				return -1;
			}
			d->attached = true;
			o->path = ai.path;
			ai.path = NULL;
			snprintf(o->format, sizeof o->format, "%s", ai.format ? ai.format : "raw");
			o->read_only = o->read_only || ai.read_only;
			snprintf(o->vdi_uuid, sizeof o->vdi_uuid, "%s", d->vdi.uuid);
			sm_attach_info_free(&ai);
		}
		s->ndisks++;
	}
	return 0;
}

void vm_build_detach(struct vm_build *b)
{
	for (size_t i = 0; b && i < b->n; i++) {
		struct build_disk *d = &b->d[i];
		if (d->empty || !d->sr.drv->vdi_detach)
			continue;
		struct xerr e = XERR_INIT;
		if (d->sr.drv->vdi_detach(&d->sr, &d->vdi, &e) < 0)
			log_warn("vm: detaching VDI %s: %s", d->vdi.uuid, e.code);
		xerr_clear(&e);
		d->attached = false;
	}
}

/* ---- records that follow the domain ---- */

void vm_vbds_mark(struct db_txn *t, struct db_obj *vm, bool attached)
{
	struct db *db = db_txn_db(t);
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	for (size_t i = 0; i < xv_len(&vbds); i++) {
		struct db_obj *vbd = db_lookup_cls(db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		if (!vbd)
			continue;
		bool plugged = attached && (db_peek_bool(vbd, SC_F_VBD__empty) ||
					    strcmp(db_peek_str(vbd, SC_F_VBD__VDI), REF_NULL) != 0);
		db_set_bool(t, vbd, SC_F_VBD__currently_attached, plugged);
		int pos = storage_vbd_position(db_peek_str(vbd, SC_F_VBD__userdevice));
		char dev[16] = "";
		if (plugged && pos >= 0)
			storage_vbd_device_name(pos, dev);
		if (plugged || strcmp(db_peek_str(vm, SC_F_VM__power_state), "Suspended") != 0)
			db_set_str(t, vbd, SC_F_VBD__device, dev);
		storage_vbd_update_allowed(t, vbd);
		struct db_obj *vdi = db_lookup_cls(db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI));
		if (vdi)
			storage_vdi_update_allowed(t, vdi);
	}
	xv_free(&vbds);
}
