/* xenops: the VM backend interface. The VM logic in api/vm.c decides what
 * should happen; a backend makes it so (QEMU over QMP, or the simulator
 * that changes nothing but state). Adding a backend touches its own file
 * and one line in xenops.c. */
#ifndef XENON_XENOPS_H
#define XENON_XENOPS_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "../net/net.h"
#include "../base/xv.h"
#include "../rrd/rr.h"

struct sm_live_ops;

/* A disk as the backend opens it: the storage driver's attach result for
 * one VBD, or an empty CD drive. */
struct vm_disk {
	int position;    /* VBD.userdevice as a number (0 = xvda / hda) */
	char *path;      /* owned, absolute; NULL for an empty CD drive */
	char format[16]; /* "qcow2", "raw" */
	bool read_only, is_cdrom, bootable;
	char vdi_uuid[40]; /* "" for an empty drive */
};

/* A NIC as the backend gives it: one VIF of the VM, on its network's
 * bridge. The host side is a tap named vif<domid>.<device>. */
struct vm_nic {
	int device;         /* VIF.device as a number */
	char mac[18];       /* VIF.MAC, "xx:xx:xx:xx:xx:xx" */
	char bridge[16];    /* network.bridge */
	int64_t mtu;        /* VIF.MTU, else network.MTU; 0: the bridge's */
	int64_t bridge_mtu; /* network.MTU; 0: leave the bridge's as it is */
	struct net_vif_policy policy; /* applied to the tap once it is made */
	/* the network is carried by a tunnel: a virtio NIC offers the guest
	 * no checksum or segmentation offload, so every frame leaves the guest
	 * complete (a switch's tunnel port may not finish offloaded ones), and
	 * tells it mtu (what the tunnel carries whole) */
	bool tunnelled;
};

/* How the VM boots, as xapi's Helpers.boot_method_of_vm decides it:
 * HVM_boot_policy set → firmware; else PV_bootloader empty → the kernel
 * named by PV_kernel; else a bootloader run on the boot disk. */
enum vm_boot { VM_BOOT_FIRMWARE, VM_BOOT_DIRECT, VM_BOOT_BOOTLOADER };

/* What a backend needs to run a VM, copied out of the store so the
 * backend works without holding the store's lock. */
struct vm_spec {
	char uuid[40];
	char ref[48];
	char name[256];
	/* The domain's id: for start, resume and reboot the new domain's,
	 * chosen before the backend is called (it persists it). */
	int64_t domid;
	int64_t vcpus_max, vcpus_at_startup;
	int64_t memory_static_max, memory_dynamic_max, memory_dynamic_min;
	xv platform, hvm_boot_params, other_config; /* owned maps */
	xv xenstore_data;    /* owned map: VM.xenstore_data (the Xen backend's) */
	char domain_type[16]; /* VM.domain_type: "hvm", "pv", "pvh", "pv_in_pvh", "" */
	enum vm_boot boot;
	char firmware[16]; /* VM_BOOT_FIRMWARE: "bios" or "uefi" */
	char *boot_order; /* VM_BOOT_FIRMWARE: HVM_boot_params order, "cd" by default */
	/* VM_BOOT_DIRECT: absolute paths inside the host's guest-kernel
	 * directory (checked by the VM logic), "" when unset */
	char *pv_kernel, *pv_ramdisk, *pv_args;
	char *pv_bootloader;
	/* start, resume and reboot only: the VM's VBDs, attached */
	struct vm_disk *disks;
	size_t ndisks;
	/* start, resume and reboot only: the VM's VIFs (src/net makes the
	 * taps vif<domid>.<device> on each NIC's bridge) */
	struct vm_nic *nics;
	size_t nnics;
	/* suspend and resume only: where the memory image goes or comes
	 * from — the image of the VM's suspend VDI as its driver attaches
	 * it (VM.suspend_VDI, made and destroyed by the VM logic) */
	char *suspend_image;
	char suspend_format[16]; /* "qcow2", "raw" */
};

void vm_spec_free(struct vm_spec *s);

/* ---- what a backend tells the VM logic above it ---- */

enum xenops_event {
	XENOPS_EV_SHUTDOWN, /* the guest powered itself off */
	XENOPS_EV_REBOOT,   /* the guest asked to be rebooted */
	XENOPS_EV_CRASH,    /* the guest crashed (panicked) */
	XENOPS_EV_DIED,     /* the domain is gone without being asked (QEMU exited) */
};

/* A domain found alive at start. */
struct xenops_domain {
	char uuid[40];
	int64_t domid;
	bool paused;
};

/* The VM logic's side (api/vm_events.c), registered with the backend
 * through struct xenops_host: a backend never names a symbol of the layer
 * above it. arg is the host's, passed back as it is. */
struct xenops_ops {
	/* A guest-initiated change: applies the VM's actions_after_shutdown,
	 * _reboot or _crash through the backend and records the outcome.
	 * Returns 0 when done (or nothing was to be done), 1 while an
	 * operation on the VM is in progress — report again once it has
	 * finished. */
	int (*report)(void *arg, const char *vm_uuid, enum xenops_event ev);
	/* What the guest holds now (bytes), as its balloon driver moved it:
	 * VM_metrics.memory_actual of a live VM follows. */
	void (*report_memory)(void *arg, const char *vm_uuid, int64_t actual);
	/* Makes the VM records agree with the domains found alive at start:
	 * those VMs Running or Paused with their domids (a domain without one,
	 * -1, gets a new one, written back into live), VMs recorded as running
	 * without a domain Halted; operations left marked by an earlier daemon
	 * are cleared (no task survives a restart). */
	void (*reconcile)(void *arg, struct xenops_domain *live, size_t n);
	/* Whether the VM is this daemon's (its store has it): what a backend
	 * finds of other daemons' VMs on the host it leaves alone. */
	bool (*vm_known)(void *arg, const char *vm_uuid);
};

/* What a backend is given instead of the daemon: where its per-VM files
 * go and whom it reports to. Filled by the VM logic before init; lives as
 * long as the daemon. */
struct xenops_host {
	const char *run_dir; /* <run-dir>: VMs' sockets under <run-dir>/vm/<uuid>/ */
	const struct xenops_ops *ops;
	void *arg;
};


/* What the metrics ask a backend about one running VM (api/metrics.c
 * copies it out of the store each tick). */
struct xenops_stats_req {
	char uuid[40];
	int64_t domid;
	int64_t vcpus;          /* VCPUs_number now */
	int64_t memory_target;  /* bytes (memory_target, else dynamic_max) */
	int64_t memory_actual;  /* bytes (VM_metrics.memory_actual) */
	int ndisks;
	struct {
		int position; /* userdevice: 0 → xvda */
		bool is_cdrom;
		char sr[40]; /* its VDI's SR uuid ("" none) */
	} disk[RR_MAX_DISKS];
	int nvifs;
	int vif[RR_MAX_VIFS]; /* devices */
};

/* ---- live migration between hosts (either side's xenond) ---- */

/* A migration's stream (memory and disks) over TLS: the PEM of the CAs
 * trusted (this host's and the peer's), of this host's certificate and of
 * its key. Each side presents its certificate and verifies the other's;
 * the source also checks the destination's certificate names name. */
struct xenops_mig_tls {
	const char *ca, *cert, *key;
	const char *dh; /* the server's DH parameters (PKCS#3 PEM), NULL: QEMU makes some */
	char name[64];
};

/* What the destination listens on: QEMU's incoming migration on
 * addr:port, and, for disks that move with the VM, its NBD server on
 * addr:nbd_port exporting each one (writable) as "vbd<position>". */
struct xenops_mig_listen {
	char addr[64];
	int port;
	int nbd_port; /* 0: no disk moves */
	const struct xenops_mig_tls *tls; /* NULL: plain TCP */
};

/* The source's side: where to send and what to mirror first. */
struct xenops_mig_target {
	char addr[64];
	int port;
	int nbd_port;      /* 0: the disks stay where they are (shared SR) */
	const int *mirror; /* positions of the disks mirrored into the NBD exports */
	size_t nmirror;
	int64_t max_bandwidth; /* bytes/s the memory stream and each mirror may use; 0: no cap */
	const struct xenops_mig_tls *tls; /* NULL: plain TCP */
	/* Set (from another thread) to stop: the migration is cancelled and
	 * the VM goes on running here. __atomic */
	const bool *cancel;
	/* Optional: called now and then with the share 0..1 of the memory
	 * sent (what is left to send, dirtied pages included, against the
	 * whole): it may go down again while the guest dirties pages. Called
	 * from the migrating thread: it only records the figure. */
	void (*progress)(void *arg, double fraction);
	void *progress_arg;
};

/* What a migration measured (source side). */
struct xenops_mig_stats {
	int64_t total_ms;    /* the migrate command's run (QEMU's total-time) */
	int64_t downtime_ms; /* QEMU's reported downtime */
	int64_t mirror_ms;   /* disks mirrored before the memory started */
	int64_t bytes;       /* RAM transferred */
	int phase;           /* how far it got: 0 disks, 1 memory, 2 done */
};

struct xenops_backend {
	const char *name;
	/* Called once before the API is served: finds domains that outlived an
	 * earlier daemon and reports them with host->ops->reconcile. The
	 * backend keeps host. */
	int (*init)(const struct xenops_host *host, struct xerr *err);
	int (*start)(const struct xenops_host *host, const struct vm_spec *vm, bool paused, struct xerr *err);
	int (*shutdown)(const struct xenops_host *host, const struct vm_spec *vm, bool clean, struct xerr *err);
	/* A new domain (vm->domid) from vm's current configuration. */
	int (*reboot)(const struct xenops_host *host, const struct vm_spec *vm, bool clean, struct xerr *err);
	int (*pause)(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err);
	int (*unpause)(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err);
	int (*suspend)(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err);
	int (*resume)(const struct xenops_host *host, const struct vm_spec *vm, bool paused, struct xerr *err);
	/* Optional. The live domain's state into vm->suspend_image, the
	 * domain left as it was (VM.checkpoint; the caller paused it). NULL:
	 * the backend has no memory to save (the simulator). */
	int (*save)(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err);
	/* Optional. Whether the VM has a domain here: after a failed reboot
	 * the old one may be gone. NULL means "as the records say". */
	bool (*active)(const struct xenops_host *host, const char *vm_uuid);
	/* Optional. The domid the VM's domain has now, as the hypervisor gave
	 * it (-1: none): after start, resume and reboot the VM logic records
	 * this one rather than the one it chose. NULL: the chosen one. */
	int64_t (*domid)(const struct xenops_host *host, const char *vm_uuid);
	/* Optional, called before init. The memory of the machine the
	 * backend's domains share, in bytes (a Xen dom0's /proc/meminfo sees
	 * only the dom0's); 0: unknown, /proc/meminfo's is the host's. */
	int64_t (*host_memory)(void);
	/* Optional. At daemon exit: stop watching domains (they keep running). */
	void (*fini)(const struct xenops_host *host);
	/* Optional. Snapshots and coalescing of disks the backend's running
	 * VMs hold open (sm.h); the VM logic hands them to storage drivers.
	 * NULL: disks of running VMs are handled as halted ones are. */
	const struct sm_live_ops *live;
	/* Optional. Runs one guest-agent command, json_cmd as qemu-ga takes it
	 * ({"execute": …, "arguments": {…}}); *result gets its "return" value.
	 * -2 (err set) when no agent answers, -1 on other failures. NULL: the
	 * backend has no guest agent (the simulator). */
	int (*agent_call)(const struct xenops_host *host, const char *vm_uuid, const char *json_cmd, xv *result,
			  int timeout_ms, struct xerr *err);
	/* Optional, all three or none. Disks of a running VM: d (attached,
	 * not a CD) hot-plugged at d->position; the disk at position let go
	 * (DEVICE_DETACH_TIMEOUT naming vbd_ref when the guest holds on to it;
	 * force waits less); a CD drive's medium changed to d->path, or
	 * ejected when d->path is NULL. NULL: changes are records only. */
	int (*disk_plug)(const struct xenops_host *host, const char *vm_uuid, const struct vm_disk *d, struct xerr *err);
	int (*disk_unplug)(const struct xenops_host *host, const char *vm_uuid, int position, bool force,
			   const char *vbd_ref, struct xerr *err);
	int (*cd_change)(const struct xenops_host *host, const char *vm_uuid, const struct vm_disk *d, struct xerr *err);
	/* Optional live changes of a running VM (NULL: not supported).
	 * The guest's memory target (balloon) in bytes; *actual gets what the
	 * guest holds once it has moved there (or stopped trying). */
	int (*set_memory_target)(const struct xenops_host *host, const struct vm_spec *vm, int64_t target,
				 int64_t *actual, struct xerr *err);
	/* Hot-plugs or unplugs vCPUs to n (1..VCPUs_max, checked by the VM
	 * logic); *now gets the count present afterwards, -1 if unknown. */
	int (*set_vcpus)(const struct xenops_host *host, const struct vm_spec *vm, int64_t n, int64_t *now,
			 struct xerr *err);
	/* Applies VCPUs_params (weight, cap, mask); *applied (owned) gets the
	 * keys that took effect with their values — only those. */
	int (*set_vcpu_params)(const struct xenops_host *host, const struct vm_spec *vm, const xv *params,
			       xv *applied, struct xerr *err);
	/* Optional. Hot-plug of one NIC into the running domain vm->domid,
	 * and its removal (force: without waiting for the guest to let go).
	 * NULL: plugging changes only the records (the simulator). */
	int (*vif_plug)(const struct xenops_host *host, const struct vm_spec *vm, const struct vm_nic *nic,
			struct xerr *err);
	int (*vif_unplug)(const struct xenops_host *host, const struct vm_spec *vm, int device, bool force,
			  struct xerr *err);
	/* Optional. The running domain's cumulative counters for the 5-s
	 * metrics (vCPU times, memory, disks, VIFs; rr.h), read without
	 * spawning anything: called once per VM per tick. s says what the
	 * VM has (uuid, domid, vCPUs, memory, disks' positions, VIFs'
	 * devices). NULL: no figures. */
	int (*stats)(const struct xenops_host *host, const struct xenops_stats_req *s, struct rr_vm_counters *out);
	/* Optional. Input to the running domain: kind "sysrq" presses
	 * Alt+SysRq+arg (a letter or digit) on its keyboard; kind "trigger"
	 * pulls arg: "nmi", "reset" or "power" (the power button). NULL: the
	 * VM logic answers as xapi does (NOT_IMPLEMENTED). */
	int (*send_input)(const struct xenops_host *host, const struct vm_spec *vm, const char *kind, const char *arg,
			  struct xerr *err);
	/* Optional, all four or none: live migration. The destination:
	 * migrate_receive starts vm's QEMU waiting for the stream (taps made
	 * first; with disks, its NBD server exports the disks listed in
	 * nbd_disks) and fills where it listens (l->addr given by the
	 * caller); migrate_finish waits for the stream's end, then runs the
	 * guest (or leaves it paused); migrate_abort removes what receive
	 * made (QEMU, taps, files). The source: migrate_send mirrors the
	 * disks, then sends the memory; on success the guest is stopped here
	 * (destroy it with shutdown once the destination runs it, or unpause
	 * it when the destination failed); on failure (-1) or cancel (-2,
	 * err set) the guest runs on here as before. */
	int (*migrate_receive)(const struct xenops_host *host, const struct vm_spec *vm, const int *nbd_disks,
			       size_t n_nbd, struct xenops_mig_listen *l, struct xerr *err);
	int (*migrate_finish)(const struct xenops_host *host, const struct vm_spec *vm, bool paused, int timeout_s,
			      const char *history, size_t history_len, struct xerr *err);
	void (*migrate_abort)(const struct xenops_host *host, const struct vm_spec *vm);
	int (*migrate_send)(const struct xenops_host *host, const struct vm_spec *vm, const struct xenops_mig_target *t,
			    struct xenops_mig_stats *st, struct xerr *err);
	/* Optional. The last max bytes (at most) of the VM's serial console
	 * log here, owned into *out: the history a migration carries along
	 * (migrate_finish's history, written into the destination's log before
	 * the guest runs there). -1 when there is none. */
	int (*console_read)(const struct xenops_host *host, const char *vm_uuid, size_t max, char **out,
			    size_t *len);
	/* Optional. The running domain's disk at to->position copied into the
	 * image to (attached, empty, as large) while the guest runs, then
	 * used instead of the one it had, which is closed on return. NULL:
	 * disks of running VMs do not move. */
	int (*disk_move)(const struct xenops_host *host, const char *vm_uuid, const struct vm_disk *to,
			 struct xerr *err);
	/* Optional. A new device model for the running domain
	 * (VM.restart_device_models): a fresh emulator for vm — vm->domid the
	 * new domain's, disks and NICs given as for start — takes the guest
	 * over live on this host, and the old one ends. On failure (-1) the
	 * guest runs on in the old one and nothing of the new one is left.
	 * *st gets what the hand-over measured. NULL: not supported. */
	int (*restart_dm)(const struct xenops_host *host, const struct vm_spec *vm, struct xenops_mig_stats *st,
			  struct xerr *err);
};

const struct xenops_backend *xenops_find(const char *name);

#endif
