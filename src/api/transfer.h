/* transfer: what the HTTP transfer handlers (server/vdi_stream.c,
 * xva_export.c, xva_import.c, ova_import.c) need of the API, so that a
 * transfer takes the road a call takes: the caller's context and errors,
 * the store read and written only here. */
#ifndef XENON_API_TRANSFER_H
#define XENON_API_TRANSFER_H

#include "api.h"
#include "../formats/img.h"
#include "../sm/sm.h"

/* A VDI's image opened for streaming. While open it is marked busy with
 * the context's task (when it has one), as xapi's handlers hold theirs
 * attached: a concurrent destroy, resize or second transfer gets
 * OTHER_OPERATION_IN_PROGRESS. */
struct transfer_image {
	char ref[REF_STRLEN + 1];
	struct db *db;
	char mark[REF_STRLEN + 1]; /* the busy mark's token, cleared by close */
	struct sm_sr sr;
	struct sm_vdi v;
	struct sm_attach_info att;
	bool attached;
	struct img *im;
};

enum transfer_fresh {
	TRANSFER_EXISTING,      /* through the driver's attach (qemu-nbd) */
	TRANSFER_FRESH,         /* a VDI just made, written in order directly */
	TRANSFER_FRESH_IF_EMPTY /* directly while its local qcow2 holds nothing */
};

/* Opens the VDI named by id (ref or uuid); a writable open of a disk a
 * running VM uses is VDI_IN_USE. On failure err is set and
 * transfer_image_close must still be called. */
int transfer_image_open(struct rpc_ctx *ctx, const char *id, bool writable, enum transfer_fresh fresh,
			struct transfer_image *out, struct xerr *err);
void transfer_image_close(struct transfer_image *ti);

/* The task a transfer reports to, given by the client (task_id=): a task
 * that does not exist is HANDLE_INVALID. */
int transfer_task_check(struct rpc_ctx *ctx, const char *task_ref, struct xerr *err);

/* The SR an import goes to: id (ref or uuid), else the pool's default. */
int transfer_target_sr(struct rpc_ctx *ctx, const char *id, char out[REF_STRLEN + 1],
		       struct xerr *err);
/* Opens sr_ref (plugged) for its driver. */
int transfer_sr_open(struct rpc_ctx *ctx, const char *sr_ref, struct sm_sr *out, struct xerr *err);
/* Where an upload is staged before qemu-img reads it: the SR's own
 * directory when it is local (same filesystem, space checked), else the
 * run directory (a share is reached by URL, not by path). */
const char *transfer_staging_dir(const struct sm_sr *sr);

/* VDI.create from rec (a VDI record as the call takes it; consumed); its
 * ref into out. */
int transfer_vdi_create(struct rpc_ctx *ctx, xv rec, char out[REF_STRLEN + 1], struct xerr *err);
/* A user disk of size bytes in sr_ref. */
int transfer_vdi_create_user(struct rpc_ctx *ctx, const char *sr_ref, const char *label, int64_t size,
			     char out[REF_STRLEN + 1], struct xerr *err);
/* VM.create and VBD.create from rec (consumed), for an OVA's records;
 * the VM's ref into out. */
int transfer_vm_create(struct rpc_ctx *ctx, xv rec, char out[REF_STRLEN + 1], struct xerr *err);
int transfer_vbd_create(struct rpc_ctx *ctx, xv rec, struct xerr *err);
/* The VM vm describes (formats/ova.h) with a VBD for each of vdis in
 * order, the first bootable; the VM's ref into out (set as soon as the VM
 * is made, so that a failure after it can discard it). */
struct ova_vm;
int transfer_ova_vm_create(struct rpc_ctx *ctx, const struct ova_vm *vm,
			   const char (*vdis)[REF_STRLEN + 1], size_t nvdis, char out[REF_STRLEN + 1],
			   struct xerr *err);
/* What a failed import made goes again: logged, never an error. */
void transfer_vdi_discard(struct rpc_ctx *ctx, const char *vdi_ref);
void transfer_vm_discard(struct rpc_ctx *ctx, const char *vm_ref);

/* ---- XVA exports (transfer_export.c) ---- */

/* The export of the VM id (ref or uuid): *top ova.xml's value (version and
 * objects, refs as Ref:N); unless metadata_only, the disks to send, their
 * VDI refs into vdi_refs and their Ref:N ids into disk_ids. A running or
 * paused VM is VM_BAD_POWER_STATE unless metadata_only. */
int transfer_xva_plan(struct rpc_ctx *ctx, const char *id, bool metadata_only, xv *top, xv *vdi_refs,
		      xv *disk_ids, struct xerr *err);
/* The VM busy with op (export, metadata_export) while it streams, as
 * xapi's lock_vm: its ref and the mark's token out; unmark clears it. */
int transfer_vm_mark(struct rpc_ctx *ctx, const char *id, const char *op, char vm_ref[REF_STRLEN + 1],
		     char mark[REF_STRLEN + 1], struct xerr *err);
void transfer_vm_unmark(struct rpc_ctx *ctx, const char *vm_ref, const char *mark);

/* ---- XVA imports (transfer_xva.c) ---- */

/* One disk of an XVA as the importer placed it. */
struct transfer_xva_disk {
	const char *id;  /* its Ref:N in ova.xml */
	const char *ref; /* the local VDI; "" when a forced metadata import left it out */
	const xv *snap;  /* its record in ova.xml */
};

struct transfer_xva {
	const xv *objs; /* ova.xml's objects */
	const struct transfer_xva_disk *disks;
	size_t ndisks;
	const char *sr_ref;
	bool restore;  /* the VM keeps its uuid when no VM here has it */
	bool metadata; /* the disks are VDIs found here (read_only left alone) */
};

/* The VM, VBD and VIF records ova.xml describes, in one transaction, with
 * its refs remapped to what they were imported as (networks matched by
 * bridge, then name); the VM's ref into out. */
int transfer_xva_commit(struct rpc_ctx *ctx, const struct transfer_xva *x, char out[REF_STRLEN + 1],
			struct xerr *err);

/* What a metadata import knows of a disk, to find it here as xapi does: a
 * vdi:<uuid>=<uuid> mapping, else the SR by uuid and the VDI by location,
 * else the same uuid. */
struct transfer_xva_where {
	const char *id, *uuid, *location, *sr_uuid, *mapped;
	bool force; /* a disk not found is left out, not an error */
};
/* The local VDI into out ("" if left out); VDI_LOCATION_MISSING, or
 * VDI_CONTENT_ID_MISSING without the SR, when not found. */
int transfer_xva_find_disk(struct rpc_ctx *ctx, const struct transfer_xva_where *w,
			   char out[REF_STRLEN + 1], struct xerr *err);
/* This host's API version, which an archive must not be newer than. */
void transfer_api_version(struct rpc_ctx *ctx, int64_t *major, int64_t *minor);

#endif
