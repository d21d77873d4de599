/* qemu_int: what the QEMU backend's files share — the registry of running
 * QEMUs (qemu.c), the command line (qemu_argv.c), the processes and their
 * files in the run directory (qemu_proc.c), live snapshots (qemu_live.c). */
#ifndef XENON_QEMU_INT_H
#define XENON_QEMU_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "xenops.h"

/* Host facts the command line depends on, found once at init. */
struct qemu_host {
	char *binary;    /* $XENON_QEMU, else qemu-system-x86_64 */
	bool kvm;        /* hardware virtualisation usable: -accel kvm first */
	char *accel;     /* $XENON_QEMU_ACCEL ("kvm", "tcg", "kvm:tcg"), else NULL */
	char *ovmf_code; /* NULL when no OVMF firmware is installed */
	char *ovmf_vars; /* its variable-store template */
};

void qemu_host_probe(struct qemu_host *h);
void qemu_host_free(struct qemu_host *h);

/* A NULL-terminated argv of owned strings. */
struct qemu_argv {
	char **v;
	size_t n, cap;
};
void qemu_argv_free(struct qemu_argv *a);

/* The command line for vm in dir (<run-dir>/vm/<uuid>): unprivileged, stopped
 * (-S) until the backend says cont, with QMP, serial, VNC and the guest
 * agent on unix sockets in dir. incoming adds -incoming defer (resume).
 * INVALID_DEVICE, BOOTLOADER_FAILED, UNKNOWN_BOOTLOADER, … on what QEMU
 * cannot be given. */
int qemu_argv_build(const struct qemu_host *h, const struct vm_spec *vm, const char *dir,
		    bool incoming, struct qemu_argv *out, struct xerr *err);

/* ---- processes and run-directory files (qemu_proc.c) ---- */

/* <run-dir>/vm/<uuid>, owned. */
char *qemu_vm_dir(const char *run_dir, const char *uuid);
/* <dir>/<name>, owned. */
char *qemu_file(const char *dir, const char *name);

/* Runs argv in a session of its own (left to init, so it outlives
 * xenond), with fds[i] as its descriptor 3 + i and no other descriptor of
 * the daemon's, and waits until its monitor socket is there: 0 and its
 * pid, or FAILED_TO_START_EMULATOR with what QEMU printed. */
int qemu_launch(const struct qemu_argv *argv, const char *dir, const char *vm_ref, const int *fds, size_t nfds,
		pid_t *pid, struct xerr *err);
/* The last lines QEMU printed (dir/qemu.log), owned. */
char *qemu_log_tail(const char *dir);

/* ---- the unprivileged user and the files it may open (qemu_priv.c) ---- */

/* QEMU of domid d runs as uid and gid QEMU_UID_BASE + d (mod the range). */
#define QEMU_UID_BASE 720896u
#define QEMU_UID_RANGE 65536u
/* The descriptor NIC 0's tap is in QEMU (NIC i: + i). */
#define QEMU_TAP_FD0 3
uid_t qemu_vm_uid(int64_t domid);
/* An ACL entry on path for uid (read, and write if write) and search on
 * the directories above it that others cannot search, recorded in
 * dir/grants. */
int qemu_grant_path(const char *dir, uid_t uid, const char *path, bool write, struct xerr *err);
/* The same for a disk: the image, its qcow2 backing chain, or the socket
 * of an nbd+unix:// URL. */
int qemu_grant_disk(const char *dir, uid_t uid, const char *path, bool write, struct xerr *err);
/* Takes away every grant recorded in dir/grants (qemu_clean_dir does). */
void qemu_revoke_all(const char *dir);

/* The pid in dir/qemu.pid, or -1. */
pid_t qemu_read_pid(const char *dir);
/* Whether pid is a live (not zombie) QEMU started for uuid (its command
 * line names guest=<uuid>), so a recycled pid is never taken for it. */
bool qemu_pid_is_vm(pid_t pid, const char *uuid);
/* Waits up to timeout_ms for pid to be gone (or a zombie). */
bool qemu_wait_gone(pid_t pid, const char *uuid, int timeout_ms);

int64_t qemu_read_domid(const char *dir);
void qemu_write_domid(const char *dir, int64_t domid);

/* Removes what a running QEMU keeps in dir (sockets, pid and domid files);
 * the serial log stays for whoever wants to read how the guest ended. */
void qemu_clean_dir(const char *dir);
/* Removes dir and everything in it (a start that failed). */
void qemu_remove_dir(const char *dir);

/* ---- the registry of running QEMUs (qemu.c) ---- */

struct qvm;
struct qmp;
/* The VM's QEMU, owned by the caller until qemu_release (other operations
 * on it wait); NULL when the VM has none here. */
struct qvm *qemu_claim(const char *uuid);
void qemu_release(struct qvm *v);
/* qemu_claim waiting at most wait_ms while another operation owns the
 * VM: NULL when it has no QEMU here or is still owned then. */
struct qvm *qemu_try_claim(const char *uuid, int wait_ms);
/* The metrics' cache of the VM's vCPU thread ids: the QEMU's pid and up
 * to max ids into tids, their count (0 before any was set), -1 when the VM
 * has no QEMU here. Read without claiming the VM. */
int qemu_vcpu_tids(const char *uuid, pid_t *pid, pid_t *tids, int max);
/* Sets that cache (v claimed). */
void qemu_set_vcpu_tids(struct qvm *v, const pid_t *tids, int n);
/* Its monitor connection; NULL for an adopted QEMU whose monitor did not
 * answer. */
struct qmp *qemu_vm_qmp(struct qvm *v);
/* qemu_claim with its monitor: NULL (err set) when the VM has no QEMU or
 * its monitor does not answer. */
struct qvm *qemu_claim_qmp(const char *uuid, struct qmp **q, struct xerr *err);
bool qemu_vm_running(struct qvm *v);

/* ---- migration (qemu.c for the registry, qemu_migrate.c) ---- */

/* A new QEMU for vm waiting for a migration stream (-incoming defer), left
 * paused; the dispatcher reports nothing of it while incoming is set. */
int qemu_start_incoming(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err);
void qemu_set_incoming(struct qvm *v, bool incoming);
/* Records the guest as running (cont) or paused (stop), unless it ended. */
void qemu_mark_running(struct qvm *v, bool running);
bool qemu_vm_dead(struct qvm *v);
/* Ends v's QEMU (claimed), its taps and files, and forgets v. */
int qemu_destroy(struct qvm *v, struct xerr *err);
int qemu_migrate_receive(const struct xenops_host *host, const struct vm_spec *vm, const int *nbd_disks,
			 size_t n_nbd, struct xenops_mig_listen *l, struct xerr *err);
int qemu_migrate_finish(const struct xenops_host *host, const struct vm_spec *vm, bool paused, int timeout_s,
			const char *history, size_t history_len, struct xerr *err);
int qemu_console_read(const struct xenops_host *host, const char *uuid, size_t max, char **out, size_t *len);
void qemu_migrate_abort(const struct xenops_host *host, const struct vm_spec *vm);
int qemu_migrate_send(const struct xenops_host *host, const struct vm_spec *vm, const struct xenops_mig_target *t,
		      struct xenops_mig_stats *st, struct xerr *err);

/* The PCI slot of each device with an id on bus 0 of the QEMU on monitor
 * q, {id: "slot.function"} (hex, as the addr property takes it), owned;
 * NULL when the monitor fails. */
json_t *qemu_pci_slots(struct qmp *q, struct xerr *err);
/* The running guest's state from the QEMU on monitor from into the one on
 * monitor to (started with -incoming defer), over a socket pair: 0 when
 * to has all of it (from's guest stopped, to's not yet running); on
 * failure from's guest runs on unless the stream had completed. */
int qemu_migrate_local(struct qmp *from, struct qmp *to, struct xenops_mig_stats *st, struct xerr *err);

int qemu_disk_move(const struct xenops_host *host, const char *uuid, const struct vm_disk *to, struct xerr *err);
/* The name of the node at the top of device vbd<pos> (owned), NULL (err
 * set) when the VM has no such disk open (qemu_live.c). */
char *qemu_top_node(struct qmp *q, const char *uuid, int pos, struct xerr *err);

/* ---- suspend images (qemu_save.c) ---- */

/* The running QEMU's state into the image at path (a suspend VDI's, in
 * format), flushed before it returns: the guest is stopped at the end. */
int qemu_save_state(struct qmp *q, const char *path, const char *format, struct xerr *err);
/* Loads the image into a QEMU started with -incoming defer; the guest is
 * left stopped (-S). */
int qemu_load_state(struct qmp *q, const char *path, const char *format, struct xerr *err);

/* ---- live snapshots of running disks (qemu_live.c) ---- */

struct sm_live_ops;
extern const struct sm_live_ops qemu_live_ops;

/* qemu_hotplug.c: xenops_backend.disk_plug, disk_unplug and cd_change */
struct qmp;
/* Deletes the block nodes of disk pos (named vbd<pos>…) no device or
 * other node uses any more; with all (its device is gone), waits until
 * every one has gone, so its images are closed on return. */
void qemu_del_nodes(struct qmp *q, int pos, bool all);
int qemu_disk_plug(const struct xenops_host *host, const char *uuid, const struct vm_disk *d, struct xerr *err);
int qemu_disk_unplug(const struct xenops_host *host, const char *uuid, int position, bool force, const char *vbd_ref,
		     struct xerr *err);
int qemu_cd_change(const struct xenops_host *host, const char *uuid, const struct vm_disk *d, struct xerr *err);
/* The QEMU's pid. */
pid_t qemu_vm_pid(struct qvm *v);
/* qemu_grant_disk for the running VM v's QEMU, before it opens path. */
int qemu_vm_grant(struct qvm *v, const char *path, bool write, struct xerr *err);

/* ---- live memory, vCPUs and VCPUs_params (qemu_resources.c) ---- */

int qemu_set_memory_target(const struct xenops_host *host, const struct vm_spec *vm, int64_t target,
			   int64_t *actual, struct xerr *err);
int qemu_set_vcpus(const struct xenops_host *host, const struct vm_spec *vm, int64_t n, int64_t *now,
		   struct xerr *err);
int qemu_set_vcpu_params(const struct xenops_host *host, const struct vm_spec *vm, const xv *params,
			 xv *applied, struct xerr *err);

/* ---- the metrics' counters (qemu_stats.c) ---- */

/* xenops_backend.stats: vCPU thread times from /proc, disks from QMP
 * query-blockstats, memory from query-balloon, NICs from their taps. */
int qemu_stats(const struct xenops_host *host, const struct xenops_stats_req *s, struct rr_vm_counters *out);

/* ---- the VM's cgroup (qemu_cgroup.c) ---- */

struct vcpu_params;
/* Puts pid into the VM's cgroup with p's weight and cap (defaults for
 * those absent): -1 when no cgroup with a cpu controller can be had.
 * *weight_done / *cap_done: the key was given and written. */
int qemu_cgroup_apply(const char *uuid, pid_t pid, const struct vcpu_params *p, bool *weight_done,
		      bool *cap_done);
/* Removes the VM's cgroup (once its QEMU is gone). */
void qemu_cgroup_remove(const char *uuid);
/* Puts a new QEMU in a cgroup of its own, <v2 root>/xenon/<uuid>, with no
 * controller of its own to set: it is counted and contained apart from
 * xenond without changing how it is scheduled (on hosts whose v1 cpu
 * hierarchy holds everything else at the root, a group would compete as
 * one task). VCPUs_params put it in a cpu group (qemu_cgroup_apply). */
int qemu_cgroup_enter(const char *uuid, pid_t pid);
/* The same with the cgroup v2 mount and the v1 cpu hierarchy given (NULL:
 * absent) rather than found in /proc/self/mounts. */
int qemu_cgroup_apply_at(const char *v2root, const char *v1cpu_root, const char *uuid, pid_t pid,
			 const struct vcpu_params *p, bool *weight_done, bool *cap_done);
void qemu_cgroup_remove_at(const char *v2root, const char *v1cpu_root, const char *uuid);
/* ---- NICs and their taps (qemu_net.c) ---- */

/* The -netdev and -device option strings of a NIC, owned. */
char *qemu_nic_netdev_opts(const struct vm_spec *vm, const struct vm_nic *nic);
char *qemu_nic_device_opts(const struct vm_spec *vm, const struct vm_nic *nic);
/* The -netdev of a NIC whose tap QEMU gets as descriptor fd. */
char *qemu_nic_netdev_fd_opts(const struct vm_nic *nic, int fd);
/* The NIC's tap (made by qemu_nics_up) opened for QEMU: the descriptor, or
 * -1 with err set. */
int qemu_tap_open(const struct vm_spec *vm, const struct vm_nic *nic, struct xerr *err);
/* Bridges and taps for every NIC of vm before QEMU starts; on failure
 * none of its taps is left. */
int qemu_nics_up(const struct vm_spec *vm, struct xerr *err);
/* Removes every tap of the VM's domain (once its QEMU is gone). */
void qemu_nics_down(const char *uuid, int64_t domid);
/* At start: removes taps this daemon made for its VMs whose domain is not
 * among the live ones (uuids[i] with domids[i]). */
void qemu_nics_sweep(const struct xenops_host *host, const char *const *uuids, const int64_t *domids, size_t n);
/* xenops_backend.vif_plug / vif_unplug */
int qemu_vif_plug(const struct xenops_host *host, const struct vm_spec *vm, const struct vm_nic *nic,
		  struct xerr *err);
int qemu_vif_unplug(const struct xenops_host *host, const struct vm_spec *vm, int device, bool force,
		    struct xerr *err);

/* qemu_agent.c: xenops_backend.agent_call */
int qemu_agent_call(const struct xenops_host *host, const char *vm_uuid, const char *json_cmd, xv *result,
		    int timeout_ms, struct xerr *err);

#endif
