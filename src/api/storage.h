/* storage: what the VDI, SR, VBD and VM handlers share between the records
 * and the storage drivers — opening a record's SR for its driver, turning
 * driver reports into VDI records, operation marks, in-use checks and SR
 * accounting. */
#ifndef XENON_API_STORAGE_H
#define XENON_API_STORAGE_H

#include "api.h"
#include "op.h"
#include "../sm/sm.h"


/* Mutations of images hold this shared from their driver call until their
 * records are committed; SR.scan holds it exclusively, so a scan never sees
 * files whose records are still on their way (or records whose files are
 * on their way out). Take it before the store's lock, never after. */
void storage_ops_lock(void);
void storage_scan_lock(void);
void storage_unlock(void);

/* The key for current_operations: the Async task, else a fresh ref. Call
 * it outside any transaction: the daemon's first call clears the marks an
 * earlier daemon left, in a transaction of its own. */
void storage_token(const struct rpc_ctx *ctx, char out[REF_STRLEN + 1]);

/* This host's PBD of sr, or NULL. */
struct db_obj *storage_pbd(struct db *db, const char *host_ref, struct db_obj *sr);
/* Opens sr for its driver from this host's PBD. With need_plugged the PBD
 * must be attached (SR_HAS_NO_PBDS otherwise, as xapi's
 * assert_pbd_is_plugged). Hold the store's lock. */
int storage_sr_open(struct rpc_ctx *ctx, struct db_obj *sr, bool need_plugged, struct sm_sr *out,
		    struct xerr *err);

/* The driver's view of a VDI record; out (initialised or zeroed) is replaced. */
void storage_vdi_view(struct db_obj *vdi, struct sm_vdi *out);
/* A new VDI record for an image a driver reports; uuid and location from
 * v (a fresh uuid if v has none). managed = !hidden. */
struct db_obj *storage_vdi_new(struct db_txn *t, struct db_obj *sr, const struct sm_vdi *v);
/* Updates a record from the driver's report: sizes, location, sm_config
 * keys the driver owns (image-format, vhd-parent). */
void storage_vdi_apply(struct db_txn *t, struct db_obj *o, const struct sm_vdi *v);
/* Records for a snapshot or clone of src (whose driver view after the
 * operation is srcv): the hidden base, the new VDI (returned) with src's
 * metadata copied as xapi copies it, and src pointing at the base. */
struct db_obj *storage_cow_records(struct db_txn *t, struct db_obj *src, const struct sm_vdi *srcv,
				   const struct sm_vdi *base, const struct sm_vdi *snap,
				   bool is_snapshot);

/* The driver's snapshot or clone of v (base and snap initialised by the
 * caller), wrapped in the running VM's freeze and reopen when vm_uuid names
 * the VM whose QEMU holds the disk and live (the backend's) is not NULL. */
int storage_cow(struct sm_sr *sr, struct sm_vdi *v, struct sm_vdi *base, struct sm_vdi *snap,
		bool is_snapshot, const struct sm_live_ops *live, const char *vm_uuid, const char *userdevice,
		struct xerr *err);

/* A VDI is in use while a VBD of it is attached or belongs to a VM that is
 * running, paused or suspended (the VM backend holds its disks then). */
bool storage_vdi_in_use(struct db *db, struct db_obj *vdi);
/* Only read-write use counts (what blocks VDI.copy, as xapi). */
bool storage_vdi_in_use_rw(struct db *db, struct db_obj *vdi);
/* The VM and VBD using vdi in a running VM, for the live-snapshot hook. */
struct db_obj *storage_vdi_running_vbd(struct db *db, struct db_obj *vdi);

/* allowed_operations of a VDI (op.c marks and clears operations). */
void storage_vdi_update_allowed(struct db_txn *t, struct db_obj *vdi);
/* A VBD's allowed_operations, which follow its VM's power state. */
void storage_vbd_update_allowed(struct db_txn *t, struct db_obj *vbd);
/* A VBD device name as a number: "3", "xvdd", "hdd", "sdd" are all 3; -1
 * if it is none of these. */
int storage_vbd_position(const char *userdevice);
/* The guest's name for device number n: 0 → xvda, 26 → xvdaa. */
void storage_vbd_device_name(int n, char out[16]);

/* ---- VDI operations (vdi.c) ---- */

/* The checks every VDI operation with driver work shares (managed, SR
 * plugged, not in use unless op is snapshot/clone, not cbt_metadata unless
 * destroying), then the mark; fills sr and v. Runs inside t. */
struct db_obj *vdi_begin_op(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *vdi, const char *op,
			    const char *token, struct sm_sr *sr, struct sm_vdi *v, struct xerr *err);
/* The rest of an operation that deletes a VDI's image (VDI.destroy,
 * VDI.data_destroy), from t holding its mark on vdi (vdi_begin_op):
 * commits t, has the driver delete v's image and the bases nothing needs
 * any more, then in one transaction lets record change the VDI's record
 * (if it still exists; record also clears or drops the mark), drops the
 * collected bases' records and refreshes the SR. A driver failure clears
 * the mark and changes nothing else. */
int vdi_delete_image(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *vdi, const char *token,
		     struct sm_sr *sr, struct sm_vdi *v,
		     void (*record)(struct db_txn *t, struct db_obj *vdi, const char *token),
		     struct xerr *err);

/* VDI.create from a record as the call takes it; *result its ref. */
int vdi_create(struct rpc_ctx *ctx, const xv *rec, xv *result, struct xerr *err);
/* VDI.clone(vdi_ref, {}); *result the clone's ref. */
int vdi_clone(struct rpc_ctx *ctx, const char *vdi_ref, xv *result, struct xerr *err);
/* VDI.snapshot(vdi_ref, {}); *result the snapshot's ref. */
int vdi_snapshot_of(struct rpc_ctx *ctx, const char *vdi_ref, xv *result, struct xerr *err);
/* VDI.destroy: the image (and bases nothing needs any more) and records. */
int vdi_destroy(struct rpc_ctx *ctx, const char *vdi_ref, struct xerr *err);

/* Deletes a VDI record with its VBDs, clearing any VM.suspend_VDI. */
void storage_vdi_forget(struct db_txn *t, struct db_obj *vdi);
/* Deletes the records of bases a driver garbage-collected (uuids). */
void storage_forget_uuids(struct db_txn *t, const xv *uuids);

/* SR accounting: physical size/utilisation from st (when not NULL),
 * virtual_allocation as the sum of its managed VDIs' sizes. */
void storage_sr_refresh(struct db_txn *t, struct db_obj *sr, const struct sm_stat *st);

/* Deletes image files made during an operation whose records could not be
 * committed. */
void storage_undo_create(struct sm_sr *sr, const struct sm_vdi *v);

#endif
