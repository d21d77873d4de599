/* vdi_inspect: Xenon's disk inspection calls (extensions, like the guest
 * agent's): VDI.inspect, VDI.list_directory, VDI.stat, VDI.read_file,
 * VDI.write_file and VM.inspect, and what the /vdi_file transfer needs.
 * The work is libguestfs's, in inspect/; here a VDI becomes an image to
 * hand it: read-only, through a snapshot made for the call (and destroyed
 * after it) when a running VM holds the disk; read-write only on a disk
 * nobody uses, marked busy meanwhile. */
#include "vdi_inspect.h"
#include "op.h"
#include "storage.h"
#include "../base/b64.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../inspect/inspect.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a file may weigh over XML-RPC (base64); /vdi_file for more. */
#define RPC_FILE_MAX (16u << 20)

static int env_int(const char *name, int dflt)
{
	const char *v = getenv(name);
	return v && *v ? atoi(v) : dflt;
}

static void init_once(void)
{
	/* the environment tunes the appliance for tests and small hosts */
	struct insp_config c = {
		.idle_s = env_int("XENON_INSPECT_IDLE_S", 60),
		.timeout_s = env_int("XENON_INSPECT_TIMEOUT_S", 300),
		.max_read = (uint64_t)env_int("XENON_INSPECT_MAX_MIB", 1024) << 20,
		.max_write = (uint64_t)env_int("XENON_INSPECT_MAX_MIB", 1024) << 20,
	};
	insp_init(&c);
}

static void init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, init_once);
}

static struct db_obj *find(struct db *db, int cls, const char *id)
{
	return strncmp(id, "OpaqueRef:", 10) ? db_lookup_uuid(db, cls, id) : db_lookup_cls(db, cls, id);
}

static void set_progress(void *arg, double p)
{
	struct rpc_ctx *ctx = arg;
	if (ctx->task[0])
		op_task_progress(ctx->db, ctx->task, p);
}

/* ---- a VDI as an image for the appliance ---- */

struct disk {
	char ref[REF_STRLEN + 1];  /* the VDI named */
	char uuid[40];             /* its uuid */
	char image[40];            /* the uuid of the image looked at */
	char snap[REF_STRLEN + 1]; /* a snapshot made for the call, "" none */
	char token[REF_STRLEN + 1]; /* a write's busy mark, "" none */
	struct sm_sr sr;
	struct sm_vdi v;
	struct sm_attach_info a;
	bool attached;
	struct insp_drive d;
};

static void disk_init(struct disk *dk)
{
	memset(dk, 0, sizeof *dk);
	sm_vdi_init(&dk->v);
}

static void disk_close(struct rpc_ctx *ctx, struct disk *dk)
{
	if (dk->attached && dk->sr.drv->vdi_detach) {
		struct xerr e = XERR_INIT;
		dk->sr.drv->vdi_detach(&dk->sr, &dk->v, &e);
		xerr_clear(&e);
	}
	sm_attach_info_free(&dk->a);
	sm_vdi_free(&dk->v);
	sm_sr_close(&dk->sr);
	if (dk->token[0])
		op_clear_marks(ctx->db, NULL, dk->ref, dk->token);
	if (dk->snap[0]) {
		struct xerr e = XERR_INIT;
		if (vdi_destroy(ctx, dk->snap, &e) < 0)
			log_warn("inspect: the snapshot %s made for reading could not be destroyed: %s", dk->snap,
				 e.code ? e.code : "?");
		xerr_clear(&e);
	}
	memset(dk, 0, sizeof *dk);
}

/* The checks a VDI gets before anything is looked at; fills ref/uuid and
 * whether a running VM holds it. Hold the store's lock. */
static int vdi_check(struct rpc_ctx *ctx, const char *id, struct disk *dk, bool *in_use, struct xerr *err)
{
	struct db_obj *vdi = id && *id ? find(ctx->db, SC_C_VDI, id) : NULL;
	if (!vdi)
		return xerr_set(err, ERR_HANDLE_INVALID, "VDI", id ? id : "", NULL);
	if (!strcmp(db_peek_str(vdi, SC_F_VDI__type), "cbt_metadata"))
		return xerr_set(err, ERR_VDI_INCOMPATIBLE_TYPE, vdi->ref, "cbt_metadata", NULL);
	if (op_check_idle(vdi, err) < 0)
		return -1;
	snprintf(dk->ref, sizeof dk->ref, "%s", vdi->ref);
	snprintf(dk->uuid, sizeof dk->uuid, "%s", db_peek_str(vdi, SC_F_VDI__uuid));
	*in_use = storage_vdi_in_use(ctx->db, vdi);
	return 0;
}

/* The image of ref (the VDI or its snapshot) opened for the driver. */
static int disk_attach(struct rpc_ctx *ctx, const char *ref, bool rw, struct disk *dk, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *vdi = db_lookup_cls(ctx->db, SC_C_VDI, ref);
	struct db_obj *sro = vdi ? db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(vdi, SC_F_VDI__SR)) : NULL;
	int rc = -1;
	if (!vdi)
		xerr_set(err, ERR_HANDLE_INVALID, "VDI", ref, NULL);
	else if (!sro)
		xerr_set(err, ERR_HANDLE_INVALID, "SR", db_peek_str(vdi, SC_F_VDI__SR), NULL);
	else if ((rc = storage_sr_open(ctx, sro, true, &dk->sr, err)) == 0) {
		storage_vdi_view(vdi, &dk->v);
		snprintf(dk->image, sizeof dk->image, "%s", db_peek_str(vdi, SC_F_VDI__uuid));
	}
	db_unlock(ctx->db);
	if (rc < 0)
		return -1;
	if (!dk->sr.drv->vdi_attach)
		return xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, db_peek_str(vdi, SC_F_VDI__SR), NULL);
	if (dk->sr.drv->vdi_attach(&dk->sr, &dk->v, rw, &dk->a, err) < 0)
		return -1;
	dk->attached = true;
	dk->d.key = dk->image;
	dk->d.path = dk->a.path;
	dk->d.format = dk->a.format ? dk->a.format : "raw";
	return 0;
}

/* For reading: the VDI's image, or a snapshot of it taken now when a
 * running VM holds it (what the VM writes meanwhile is not looked at). */
static int disk_open_ro(struct rpc_ctx *ctx, const char *id, struct disk *dk, struct xerr *err)
{
	bool in_use = false;
	db_rdlock(ctx->db);
	int rc = vdi_check(ctx, id, dk, &in_use, err);
	db_unlock(ctx->db);
	if (rc < 0)
		return -1;
	const char *ref = dk->ref;
	if (in_use) {
		xv snap = XV_NIL_INIT;
		if (vdi_snapshot_of(ctx, dk->ref, &snap, err) < 0)
			return -1;
		snprintf(dk->snap, sizeof dk->snap, "%s", xv_as_str(&snap));
		xv_free(&snap);
		ref = dk->snap;
	}
	return disk_attach(ctx, ref, false, dk, err);
}

/* For writing: a disk nobody uses, marked busy ("blocked") until closed. */
static int disk_open_rw(struct rpc_ctx *ctx, const char *id, struct disk *dk, struct xerr *err)
{
	char token[REF_STRLEN + 1];
	storage_token(ctx, token);
	bool in_use = false;
	struct db_txn *t = db_begin(ctx->db);
	int rc = vdi_check(ctx, id, dk, &in_use, err);
	struct db_obj *vdi = rc == 0 ? db_lookup_cls(ctx->db, SC_C_VDI, dk->ref) : NULL;
	if (vdi && in_use)
		rc = xerr_set(err, ERR_VDI_IN_USE, dk->ref, "write_file", NULL);
	/* a VM of this disk on its way up (or anywhere) holds it next */
	xv vbds = vdi && rc == 0 ? db_get(ctx->db, vdi, SC_F_VDI__VBDs) : xv_arr_new();
	for (size_t i = 0; rc == 0 && i < xv_len(&vbds); i++) {
		struct db_obj *vbd = db_lookup_cls(ctx->db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
		struct db_obj *vm = vbd ? db_lookup_cls(ctx->db, SC_C_VM, db_peek_str(vbd, SC_F_VBD__VM)) : NULL;
		if (vm && op_busy(vm))
			rc = op_check_idle(vm, err);
	}
	xv_free(&vbds);
	if (rc == 0 && vdi && db_peek_bool(vdi, SC_F_VDI__read_only))
		rc = xerr_set(err, ERR_VDI_READONLY, dk->ref, NULL);
	else if (rc == 0 && vdi && db_peek_bool(vdi, SC_F_VDI__is_a_snapshot))
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "a snapshot is not written to", NULL);
	else if (rc == 0 && vdi) {
		struct sm_sr sr = {0};
		struct sm_vdi v;
		sm_vdi_init(&v);
		if (!vdi_begin_op(ctx, t, vdi, "blocked", token, &sr, &v, err))
			rc = -1;
		sm_vdi_free(&v);
		sm_sr_close(&sr);
	}
	if (rc < 0) {
		db_abort(t);
		return -1;
	}
	if (db_commit(t, err) < 0)
		return -1;
	snprintf(dk->token, sizeof dk->token, "%s", token);
	return disk_attach(ctx, dk->ref, true, dk, err);
}

/* ---- the calls ---- */

static const char *vdi_arg(xv *args)
{
	const xv *v = xv_arr_get(args, 0);
	return v ? xv_as_str(v) : "";
}

/* The report's disks named by VDI rather than by the image looked at. */
static void name_disks(xv *report, struct disk *dks, size_t n)
{
	xv *disks = xv_map_get_mut(report, "disks");
	for (size_t i = 0; disks && i < xv_len(disks) && i < n; i++) {
		xv *d = (xv *)xv_arr_get(disks, i);
		xv_map_set_str(d, "key", dks[i].uuid);
		xv_map_set_str(d, "vdi", dks[i].ref);
		xv_map_set(d, "snapshot", xv_bool(dks[i].snap[0] != '\0'));
	}
}

/* VDI.inspect(vdi) -> report */
static int vdi_inspect(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	init();
	struct disk dk;
	disk_init(&dk);
	int rc = disk_open_ro(ctx, vdi_arg(args), &dk, err);
	set_progress(ctx, 0.1);
	if (rc == 0)
		rc = insp_inspect(&dk.d, 1, set_progress, ctx, result, err);
	if (rc == 0)
		name_disks(result, &dk, 1);
	disk_close(ctx, &dk);
	return rc;
}

/* VM.inspect(vm) -> report over every disk of the VM at once */
static int vm_inspect(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	init();
	xv vdis = xv_arr_new(), devs = xv_arr_new();
	db_rdlock(ctx->db);
	struct db_obj *vm = generic_lookup(ctx, SC_C_VM, xv_arr_get(args, 0), err);
	if (vm) {
		xv vbds = db_get(ctx->db, vm, SC_F_VM__VBDs);
		for (size_t i = 0; i < xv_len(&vbds); i++) {
			struct db_obj *vbd = db_lookup_cls(ctx->db, SC_C_VBD, xv_as_str(xv_arr_get(&vbds, i)));
			if (!vbd || strcmp(db_peek_str(vbd, SC_F_VBD__type), "Disk") ||
			    !db_lookup_cls(ctx->db, SC_C_VDI, db_peek_str(vbd, SC_F_VBD__VDI)))
				continue;
			xv_arr_push_str(&vdis, db_peek_str(vbd, SC_F_VBD__VDI));
			xv_arr_push_str(&devs, db_peek_str(vbd, SC_F_VBD__userdevice));
		}
		xv_free(&vbds);
	}
	db_unlock(ctx->db);
	int rc = vm ? 0 : -1;
	size_t n = xv_len(&vdis);
	if (rc == 0 && n == 0)
		rc = xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "the VM has no disks", NULL);
	struct disk *dks = xcalloc(n ? n : 1, sizeof *dks);
	struct insp_drive *drv = xcalloc(n ? n : 1, sizeof *drv);
	for (size_t i = 0; i < n; i++)
		disk_init(&dks[i]);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = disk_open_ro(ctx, xv_as_str(xv_arr_get(&vdis, i)), &dks[i], err);
		drv[i] = dks[i].d;
	}
	set_progress(ctx, 0.1);
	if (rc == 0)
		rc = insp_inspect(drv, n, set_progress, ctx, result, err);
	if (rc == 0) {
		name_disks(result, dks, n);
		xv *disks = xv_map_get_mut(result, "disks");
		for (size_t i = 0; disks && i < xv_len(disks) && i < n; i++)
			xv_map_set_str((xv *)xv_arr_get(disks, i), "userdevice", xv_as_str(xv_arr_get(&devs, i)));
	}
	for (size_t i = 0; i < n; i++)
		disk_close(ctx, &dks[i]);
	free(dks);
	free(drv);
	xv_free(&vdis);
	xv_free(&devs);
	return rc;
}

/* One file call: the disk opened, the call made, the disk closed. */
static int file_call(struct rpc_ctx *ctx, const char *vdi, const char *fs, const char *path, bool rw,
		     int (*fn)(const struct insp_file *f, void *arg, struct xerr *err), void *arg,
		     struct xerr *err)
{
	init();
	struct disk dk;
	disk_init(&dk);
	int rc = rw ? disk_open_rw(ctx, vdi, &dk, err) : disk_open_ro(ctx, vdi, &dk, err);
	set_progress(ctx, 0.1);
	struct insp_file f = {.drive = &dk.d, .fs = fs ? fs : "", .path = path ? path : ""};
	if (rc == 0)
		rc = fn(&f, arg, err);
	disk_close(ctx, &dk);
	return rc;
}

static int f_list(const struct insp_file *f, void *arg, struct xerr *err)
{
	return insp_list(f, arg, err);
}

static int f_stat(const struct insp_file *f, void *arg, struct xerr *err)
{
	return insp_stat(f, arg, err);
}

struct xfer {
	const char *host_file;
	uint64_t size, limit;
	int mode;
};

static int f_download(const struct insp_file *f, void *arg, struct xerr *err)
{
	struct xfer *x = arg;
	if (x->limit) { /* over XML-RPC: refused before any byte moves */
		xv st = XV_NIL_INIT;
		if (insp_stat(f, &st, err) < 0)
			return -1;
		const xv *sz = xv_map_get(&st, "size");
		int64_t size = sz && sz->kind == XV_INT ? sz->u.i : 0;
		xv_free(&st);
		if ((uint64_t)size > x->limit) {
			char s[24], l[24];
			snprintf(s, sizeof s, "%lld", (long long)size);
			snprintf(l, sizeof l, "%llu", (unsigned long long)x->limit);
			return xerr_set(err, ERR_INSPECT_FILE_TOO_LARGE, f->path, s, l, NULL);
		}
	}
	return insp_download(f, x->host_file, &x->size, err);
}

static int f_upload(const struct insp_file *f, void *arg, struct xerr *err)
{
	struct xfer *x = arg;
	return insp_upload(f, x->host_file, x->mode, err);
}

/* VDI.list_directory(vdi, filesystem, path) -> entries */
static int vdi_list_directory(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return file_call(ctx, vdi_arg(args), arg_str(args, 1), arg_str(args, 2), false, f_list, result, err);
}

/* VDI.stat(vdi, filesystem, path) -> record */
static int vdi_stat(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return file_call(ctx, vdi_arg(args), arg_str(args, 1), arg_str(args, 2), false, f_stat, result, err);
}

/* A private file in the run directory for a file on its way. */
static char *staging(struct rpc_ctx *ctx, int *fd, struct xerr *err)
{
	char *p = xasprintf("%s/vdi-file.XXXXXX", ctx->srv->cfg.run_dir);
	*fd = mkstemp(p);
	if (*fd < 0) {
		free(p);
		xerr_internal(err, "cannot make a staging file in %s", ctx->srv->cfg.run_dir);
		return NULL;
	}
	return p;
}

char *vdi_file_staging(struct rpc_ctx *ctx, int *fd, struct xerr *err)
{
	return staging(ctx, fd, err);
}

int vdi_file_download(struct rpc_ctx *ctx, const char *vdi, const char *fs, const char *path,
		      const char *host_file, uint64_t *size, struct xerr *err)
{
	struct xfer x = {.host_file = host_file};
	int rc = file_call(ctx, vdi, fs, path, false, f_download, &x, err);
	*size = x.size;
	return rc;
}

int vdi_file_upload(struct rpc_ctx *ctx, const char *vdi, const char *fs, const char *path,
		    const char *host_file, int mode, struct xerr *err)
{
	struct xfer x = {.host_file = host_file, .mode = mode};
	return file_call(ctx, vdi, fs, path, true, f_upload, &x, err);
}

int vdi_file_parse_mode(const char *s, int *mode, struct xerr *err)
{
	*mode = -1;
	if (!s || !*s)
		return 0;
	char *end;
	long m = strtol(s, &end, 8);
	if (*end || m < 0 || m > 07777)
		return xerr_set(err, ERR_INVALID_VALUE, "mode", s, NULL);
	*mode = (int)m;
	return 0;
}

uint64_t vdi_file_max(void)
{
	init();
	return insp_max_write();
}

/* VDI.read_file(vdi, filesystem, path) -> base64 */
static int vdi_read_file(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	int fd;
	char *tmp = staging(ctx, &fd, err);
	if (!tmp)
		return -1;
	struct xfer x = {.host_file = tmp, .limit = RPC_FILE_MAX};
	int rc = file_call(ctx, vdi_arg(args), arg_str(args, 1), arg_str(args, 2), false, f_download, &x, err);
	if (rc == 0) {
		unsigned char *buf = xmalloc(x.size ? x.size : 1);
		ssize_t got = pread(fd, buf, x.size, 0);
		if (got < 0 || (uint64_t)got != x.size)
			rc = xerr_internal(err, "the staged file is short");
		else
			*result = xv_str_own(b64_encode(buf, x.size));
		free(buf);
	}
	close(fd);
	unlink(tmp);
	free(tmp);
	return rc;
}

/* VDI.write_file(vdi, filesystem, path, data, mode) */
static int vdi_write_file(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	int mode;
	if (vdi_file_parse_mode(arg_str(args, 4), &mode, err) < 0)
		return -1;
	size_t n = 0;
	const char *b = arg_str(args, 3);
	unsigned char *data = b64_decode(b, &n);
	if (!data)
		return xerr_set(err, ERR_INVALID_VALUE, "data", "not base64", NULL);
	if (n > RPC_FILE_MAX) {
		free(data);
		char s[24], l[24];
		snprintf(s, sizeof s, "%zu", n);
		snprintf(l, sizeof l, "%u", RPC_FILE_MAX);
		return xerr_set(err, ERR_INSPECT_FILE_TOO_LARGE, arg_str(args, 2), s, l, NULL);
	}
	int fd;
	char *tmp = staging(ctx, &fd, err);
	int rc = tmp ? 0 : -1;
	if (rc == 0 && n && write(fd, data, n) != (ssize_t)n)
		rc = xerr_internal(err, "cannot stage the file");
	free(data);
	if (tmp) {
		close(fd);
		if (rc == 0) {
			struct xfer x = {.host_file = tmp, .mode = mode};
			rc = file_call(ctx, vdi_arg(args), arg_str(args, 1), arg_str(args, 2), true, f_upload, &x,
				       err);
		}
		unlink(tmp);
		free(tmp);
	}
	return rc;
}

/* ---- the extension messages ---- */

static const struct sc_type t_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_void = {.kind = SC_VOID, .text = "void"};
static const struct sc_type t_vdi = {.kind = SC_REF, .cls = SC_C_VDI, .text = "VDI ref"};
static const struct sc_type t_vm = {.kind = SC_REF, .cls = SC_C_VM, .text = "VM ref"};
static const struct sc_type t_report = {
	.kind = SC_MAP, .key = &t_string, .val = &t_string, .text = "inspection report (struct)"};
static const struct sc_type t_record = {
	.kind = SC_MAP, .key = &t_string, .val = &t_string, .text = "file record (struct)"};
static const struct sc_type t_records = {.kind = SC_SET, .elem = &t_record, .text = "file record set"};

static const struct sc_param vdi_params[] = {{"vdi", &t_vdi}};
static const struct sc_param vm_params[] = {{"vm", &t_vm}};
static const struct sc_param file_params[] = {
	{"vdi", &t_vdi}, {"filesystem", &t_string}, {"path", &t_string}};
static const struct sc_param write_params[] = {{"vdi", &t_vdi}, {"filesystem", &t_string},
					       {"path", &t_string}, {"data", &t_string}, {"mode", &t_string}};

/* reads as the guest agent's calls (vm-admin and up); writes change a
 * disk, as starting a VM may: vm-power-admin and up */
#define READERS (SC_ROLE_POOL_ADMIN | SC_ROLE_POOL_OPERATOR | SC_ROLE_VM_POWER_ADMIN | SC_ROLE_VM_ADMIN)
#define WRITERS (SC_ROLE_POOL_ADMIN | SC_ROLE_POOL_OPERATOR | SC_ROLE_VM_POWER_ADMIN)

static const struct sc_message msg_inspect = {
	.name = "inspect", .session = true, .async = true, .roles = READERS,
	.nparams = 1, .params = vdi_params, .result = &t_report};
static const struct sc_message msg_vm_inspect = {
	.name = "inspect", .session = true, .async = true, .roles = READERS,
	.nparams = 1, .params = vm_params, .result = &t_report};
static const struct sc_message msg_list = {
	.name = "list_directory", .session = true, .async = true, .roles = READERS,
	.nparams = 3, .params = file_params, .result = &t_records};
static const struct sc_message msg_stat = {
	.name = "stat", .session = true, .async = true, .roles = READERS,
	.nparams = 3, .params = file_params, .result = &t_record};
static const struct sc_message msg_read = {
	.name = "read_file", .session = true, .async = true, .roles = READERS,
	.nparams = 3, .params = file_params, .result = &t_string};
static const struct sc_message msg_write = {
	.name = "write_file", .session = true, .async = true, .roles = WRITERS,
	.nparams = 5, .params = write_params, .result = &t_void};

RPC_EXTRA(VDI, inspect, &msg_inspect, vdi_inspect, RPC_SLOW);
RPC_EXTRA(VDI, list_directory, &msg_list, vdi_list_directory, RPC_SLOW);
RPC_EXTRA(VDI, stat, &msg_stat, vdi_stat, RPC_SLOW);
RPC_EXTRA(VDI, read_file, &msg_read, vdi_read_file, RPC_SLOW);
RPC_EXTRA(VDI, write_file, &msg_write, vdi_write_file, RPC_SLOW);
RPC_EXTRA(VM, inspect, &msg_vm_inspect, vm_inspect, RPC_SLOW);
