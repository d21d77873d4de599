/* vm_ops: what VM modules share — allowed-operations bookkeeping and
 * memory checks (vm.c), copies, snapshots and provisioning (vm_copy.c). */
#ifndef XENON_VM_OPS_H
#define XENON_VM_OPS_H

#include "op.h"
#include "../db/db.h"
#include "../xenops/xenops.h"

struct server;
struct rpc_ctx;

void vm_update_allowed_operations(struct db_txn *t, struct db_obj *vm);
int vm_check_memory_constraints(struct db_obj *vm, struct xerr *err);
/* A fresh random other_config:mac_seed, which VIF.create derives MACs from
 * (xapi gives one to every new VM, clone and copy; snapshots keep theirs). */
void vm_new_mac_seed(struct db_txn *t, struct db_obj *vm);
/* is_a_template := value; false is the VM's install, as xapi counts it:
 * VM_metrics.install_time := now. */
void vm_set_template(struct db_txn *t, struct db_obj *vm, bool value);
/* Whether op may start on vm now: power state, template, control domain,
 * blocked_operations and operations in progress, with xapi's errors. */
int vm_check_op(struct db_obj *vm, const char *op, struct xerr *err);


/* ---- the VM lifecycle (vm.c) as backends' reports need it ---- */

/* The automatic actions after a guest-initiated change: a hard shutdown
 * (destroy) or a hard reboot (restart) of vm_ref, marked in
 * current_operations like a client's call but not subject to
 * blocked_operations. 1 while another operation holds the VM. */
int vm_lifecycle_auto(struct server *srv, const char *vm_ref, bool restart, struct xerr *err);
/* Records a live domain (Running or Paused, domid, resident_on, metrics)
 * or a halted VM, with the VBDs and VDIs that follow. */
void vm_record_running(struct db_txn *t, struct db_obj *vm, struct server *srv, bool paused,
		       int64_t domid, bool new_domain);
void vm_record_halted(struct db_txn *t, struct db_obj *vm, const char *state);
/* The rfb and vt100 console records of a live VM (vm_console.c). */
void vm_consoles_ensure(struct db_txn *t, struct db_obj *vm, struct server *srv);
void vm_consoles_destroy(struct db_txn *t, struct db_obj *vm);
/* A domid no VM holds, growing like Xen's. Inside a transaction. */
int64_t vm_next_domid(struct db *db);

/* vm_check_op, then op_mark (op.c; op_end unmarks). */
int vm_op_begin(struct db_txn *t, struct db_obj *vm, const char *op, const char *token,
		struct xerr *err);
/* VM.create (vm.c) and VBD.create (vbd.c) from a record as the calls
 * take it; *result the new ref. */
int vm_create(struct rpc_ctx *ctx, const xv *rec, xv *result, struct xerr *err);
int vbd_create(struct rpc_ctx *ctx, const xv *rec, xv *result, struct xerr *err);
/* VM.destroy of a halted or suspended VM (vm_copy.c). */
int vm_destroy(struct rpc_ctx *ctx, const char *vm_ref, struct xerr *err);
/* What the backend needs of vm, copied out of the store. */
void vm_spec_of(struct db_obj *vm, struct vm_spec *s);
/* Host memory left for guests, counting every running or paused VM here
 * but except (dynamic_max + overhead each) and the host's overhead; -1
 * when the host has no metrics. */
int64_t vm_host_free_memory(struct server *srv, const struct db_obj *except);

/* ---- live memory and vCPUs (vm_resources.c) ---- */

/* What the guest holds now (bytes), as its balloon driver moved it: the
 * backend's report_memory (xenops.h); VM_metrics.memory_actual follows. */
void vm_memory_reported(struct server *srv, const char *vm_uuid, int64_t actual);
/* Applies VCPUs_params to a domain just built (backend permitting);
 * *applied gets the keys that took effect. */
void vm_apply_vcpu_params(struct server *srv, const struct vm_spec *s, const xv *params, xv *applied);
/* VM_metrics.VCPUs_params := applied (a map; NIL counts as empty). */
void vm_record_vcpu_params(struct db_txn *t, struct db_obj *vm, const xv *applied);

/* ---- the suspend image in a VDI (vm_suspend.c) ---- */

/* VM.suspend, before the backend saves: the VM's suspend VDI made on the
 * suspend SR (VM_NO_SUSPEND_SR, SR_SUSPEND_SPACE_INSUFFICIENT), recorded
 * in VM.suspend_VDI and attached, its image in s->suspend_image. */
struct vm_image;
struct vm_image *vm_suspend_image_new(struct server *srv, const char *vm_ref, struct vm_spec *s,
				      bool record, struct xerr *err);
/* VM.resume: VM.suspend_VDI attached for the backend to load from; when
 * the VM has none, VM_HAS_NO_SUSPEND_VDI and the VM is Halted (as xapi). */
struct vm_image *vm_suspend_image_open(struct server *srv, const char *vm_ref, struct vm_spec *s,
				       struct xerr *err);
/* Detaches; destroy: the VDI is destroyed and VM.suspend_VDI cleared (a
 * failed suspend, a done resume). NULL is a no-op. */
void vm_suspend_image_done(struct vm_image *im, bool destroy);
/* A suspended VM shut down: its suspend VDI goes (as xapi's hard_shutdown). */
void vm_suspend_image_discard(struct server *srv, const char *vm_ref);

/* VM.checkpoint of a running or paused VM (vm_copy.c): begin makes the
 * snapshot's suspend VDI and pauses a running guest; after the disk
 * snapshots, save puts the memory into it; end lets the guest run again
 * and, unless keep, destroys the VDI. */
struct vm_checkpoint;
struct vm_checkpoint *vm_checkpoint_begin(struct server *srv, const char *vm_ref, struct xerr *err);
int vm_checkpoint_save(struct vm_checkpoint *c, struct xerr *err);
const char *vm_checkpoint_vdi(const struct vm_checkpoint *c);
void vm_checkpoint_end(struct vm_checkpoint *c, bool keep);

/* ---- building a domain (vm_build.c) ---- */

/* Resolves a direct-boot VM's PV_kernel and PV_ramdisk inside the host's
 * guest-kernel directory: PERMISSION_DENIED for a path elsewhere (as
 * xapi's boot-file whitelist), BOOTLOADER_FAILED for a missing file. */
int vm_boot_files(struct server *srv, struct vm_spec *s, struct xerr *err);
/* The VM's disks: their SRs opened and images found under the store's
 * lock (collect), then attached by the drivers with it released. */
struct vm_build;
struct vm_build *vm_build_collect(struct server *srv, struct db_obj *vm, struct xerr *err);
/* The same with, for each VBD ref that instead (a map, NULL: none) names,
 * the VDI it gives instead of the VBD's (storage motion within a pool: the
 * destination builds the domain on the new disks before the records
 * change). */
struct vm_build *vm_build_collect_with(struct server *srv, struct db_obj *vm, const xv *instead, struct xerr *err);
/* The same for the VBDs plugged into the running domain only (a new
 * device model for it has the devices it has). */
struct vm_build *vm_build_collect_plugged(struct server *srv, struct db_obj *vm, struct xerr *err);
/* The same for one VBD (hot-plug, CD insert): no disk in it when the VBD
 * gives the guest nothing (an empty disk, a floppy). */
struct vm_build *vm_build_collect_vbd(struct server *srv, struct db_obj *vbd, struct xerr *err);
int vm_build_attach(struct vm_build *b, struct vm_spec *s, struct xerr *err);
void vm_build_detach(struct vm_build *b);
void vm_build_free(struct vm_build *b);
/* VBD.currently_attached and device, and the allowed_operations of the
 * VM's VBDs and VDIs, after the domain started (attached) or ended. */
void vm_vbds_mark(struct db_txn *t, struct db_obj *vm, bool attached);

/* ---- VIFs (vif.c) ---- */

/* The VM's VIFs as the NICs of its spec s (network bridge, MAC, MTU);
 * only_attached for a resumed domain, whose saved state has only the NICs
 * it had. */
int vif_spec_nics(struct db *db, struct db_obj *vm, struct vm_spec *s, bool only_attached,
		  struct xerr *err);
/* VIF.currently_attached and allowed_operations after the domain started
 * (attached) or ended. */
void vm_vifs_mark(struct db_txn *t, struct db_obj *vm, bool attached);
void vif_update_allowed(struct db_txn *t, struct db_obj *vif);
/* The MAC derived from seed for the VIF's device, as VIF.create makes one
 * for MAC "" (a clone's or copy's VIFs, as xapi's Xapi_vif_helpers.copy). */
void vif_fresh_mac(struct db_txn *t, struct db_obj *vif, const char *seed);

/* ---- migration (vm_migrate.c, vm_migrate_pool.c) ---- */

/* VM.pool_migrate of vm (running here) to host, live, over network (its
 * "network" option) unless NULL. */
int vm_pool_migrate_to(struct rpc_ctx *ctx, const char *vm, const char *host, const char *network,
		       struct xerr *err);

#endif
