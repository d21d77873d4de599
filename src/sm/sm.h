/* sm: the storage driver interface. A driver serves one kind of SR (a
 * directory of qcow2 files, a directory of ISO images; later NFS, LVM…)
 * behind a small table of function pointers, as libvirt's storage backends
 * do. Drivers never touch the store: the API layer (src/api/vdi.c, sr.c)
 * copies what a driver needs out of the records, calls it with the store
 * unlocked, and records what it reports. */
#ifndef XENON_SM_H
#define XENON_SM_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/uuid.h"
#include "../base/xerr.h"
#include "../base/xv.h"

struct sm_driver;
struct sm_fs;
struct sm_live_ops;
struct imgmap;
struct img;

/* An SR as a driver sees it: its identity, the PBD's device_config and the
 * directory that config names (checked: absolute, no "." or ".." parts),
 * or for a remote share the URL of that directory (nfs://server/path). */
struct sm_sr {
	const struct sm_driver *drv;
	char uuid[UUID_STRLEN + 1];
	xv device_config; /* owned copy */
	char *path;       /* owned */
	/* how the driver reaches path's files (fs.h): local calls unless the
	 * driver's sr_open chose a remote client; priv is that client's */
	const struct sm_fs *fs;
	void *priv;
	/* SR.sm_config allocation=thick: whole disks are reserved up front,
	 * not only their metadata (thin provisioning, the default). */
	bool thick;
};

/* A VDI as a driver sees it. In calls, uuid/location/virtual_size describe
 * the image; drivers fill the rest (and new uuids and locations). */
struct sm_vdi {
	char uuid[UUID_STRLEN + 1];
	char *location;   /* owned: the image's name inside the SR */
	char *name_label; /* owned, may be NULL: a name a scan suggests */
	int64_t virtual_size;
	int64_t physical_utilisation;
	bool read_only;
	/* A base image left behind by a snapshot or clone: read-only and kept
	 * out of clients' sight (VDI.managed = false), like xapi's hidden VHD
	 * parents. */
	bool hidden;
	char parent[UUID_STRLEN + 1]; /* uuid of the base below, "" if none */
	xv sm_config;                 /* owned map: keys the driver sets */
};

struct sm_vdi_list {
	size_t n;
	struct sm_vdi *v;
};

struct sm_stat {
	int64_t physical_size, physical_utilisation;
};

/* What a VM backend needs to open a disk. */
struct sm_attach_info {
	char *path;         /* owned, absolute */
	const char *format; /* "qcow2", "raw" */
	bool read_only;
};

struct sm_driver {
	const char *type; /* SR.type it serves */
	const char *name, *description;
	const char *content_type; /* the SR's, when SR.create is not told */
	const char *image_format; /* of its VDIs, for sm_config image-format */
	const char *const *path_keys; /* device_config keys naming the directory */
	const char *const *features;  /* SM.features: name, version, …, NULL */
	/* SM.configuration: key, description, …, NULL; when NULL, the
	 * path_keys, each "local directory holding the images" */
	const char *const *configuration;
	/* Storage every host reaches (a network share): SR.create makes the
	 * SR shared whatever the call says. */
	bool shared;

	/* Optional: fills sr->path (and fs, priv) from device_config when the
	 * SR is not a local directory named by path_keys; sr_close releases
	 * what it made. */
	int (*sr_open)(struct sm_sr *sr, struct xerr *err);
	void (*sr_close)(struct sm_sr *sr);

	int (*sr_create)(struct sm_sr *sr, struct xerr *err);
	int (*sr_attach)(struct sm_sr *sr, struct xerr *err);
	int (*sr_detach)(struct sm_sr *sr, struct xerr *err);
	/* Every image in the SR, hidden bases included. */
	int (*sr_scan)(struct sm_sr *sr, struct sm_vdi_list *out, struct xerr *err);
	/* The SRs device_config points at, as xapi's probe XML. */
	int (*sr_probe)(struct sm_sr *sr, char **xml, struct xerr *err);
	/* Removes what the driver made; refuses while images remain. */
	int (*sr_delete)(struct sm_sr *sr, struct xerr *err);
	int (*sr_stat)(struct sm_sr *sr, struct sm_stat *st, struct xerr *err);

	/* vdi->uuid and virtual_size given; fills location, sizes, sm_config. */
	int (*vdi_create)(struct sm_sr *sr, struct sm_vdi *vdi, struct xerr *err);
	/* Deletes the image, then bases no image depends on any more; their
	 * uuids are appended to gc (an array) so their records can go too. */
	int (*vdi_delete)(struct sm_sr *sr, const struct sm_vdi *vdi, xv *gc, struct xerr *err);
	/* Copy-on-write: vdi's data becomes the read-only base (new uuid,
	 * hidden), vdi and the new image become empty overlays on it. vdi keeps
	 * its uuid and location. Fills base and snap (initialised by the
	 * caller); updates vdi. */
	int (*vdi_snapshot)(struct sm_sr *sr, struct sm_vdi *vdi, struct sm_vdi *base,
			    struct sm_vdi *snap, struct xerr *err);
	int (*vdi_clone)(struct sm_sr *sr, struct sm_vdi *vdi, struct sm_vdi *base,
			 struct sm_vdi *snap, struct xerr *err);
	/* Undoes a snapshot or clone whose records could not be committed. */
	int (*vdi_clone_undo)(struct sm_sr *sr, struct sm_vdi *vdi, const struct sm_vdi *base,
			      const struct sm_vdi *snap, struct xerr *err);
	/* Grows the image; size is rounded up and written back. */
	int (*vdi_resize)(struct sm_sr *sr, struct sm_vdi *vdi, int64_t *size, struct xerr *err);
	int (*vdi_attach)(struct sm_sr *sr, const struct sm_vdi *vdi, bool writable,
			  struct sm_attach_info *out, struct xerr *err);
	int (*vdi_detach)(struct sm_sr *sr, const struct sm_vdi *vdi, struct xerr *err);
	/* Changed-block tracking: the blocks (SM_CBT_BLOCK each) whose data
	 * differs between two snapshots of one disk, as xapi's base64 bitmap
	 * (bit b of byte b/8 least significant first). from may have lost its
	 * data to VDI.data_destroy; from->parent then names its base. */
	int (*vdi_changed_blocks)(struct sm_sr *sr, const struct sm_vdi *from,
				  const struct sm_vdi *to, char **b64, struct xerr *err);
	/* Optional. Coalescing: when child backs onto a hidden base that no
	 * other image backs onto, the base's data is folded into child, child
	 * then backs onto the base's own parent (or nothing) and the base is
	 * deleted — so chains do not grow with every snapshot taken and
	 * deleted. vm_uuid/userdevice: child is open in that running VM, whose
	 * emulator does the copy (live->stream, live being the VM backend's
	 * operations, NULL if it has none); vm_uuid NULL: qemu-img does.
	 * child's uuid and location stay; its record is refreshed. *gone gets
	 * the deleted base's uuid, "" when there was nothing to do. */
	int (*vdi_coalesce)(struct sm_sr *sr, struct sm_vdi *child, const struct sm_live_ops *live,
			    const char *vm_uuid,
			    const char *userdevice, char gone[UUID_STRLEN + 1], struct xerr *err);
};

#define SM_CBT_BLOCK 65536

/* The deepest chain a snapshot or clone may make (an image and its bases),
 * as XenServer bounds VHD chains: past it, SR_BACKEND_FAILURE_109 until
 * the coalescer has folded bases whose snapshots are gone. */
#define SM_MAX_CHAIN 30

/* ---- free space (space.c) ---- */
/* Bytes the SR's filesystem still has for its user (statvfs f_bavail). */
int64_t sm_free_space(const char *path);
int sm_qcow2_measure(int64_t size, int64_t *empty, int64_t *full, struct xerr *err);
/* SR_FULL(need, available) when need bytes do not fit. */
int sm_space_check(const struct sm_sr *sr, int64_t need, struct xerr *err);
/* Room to make n_meta empty qcow2 images of new_size (old_size 0), or to
 * grow one from old_size; whole: fully allocated (thick), not metadata. */
int sm_space_for(const struct sm_sr *sr, int64_t old_size, int64_t new_size, int n_meta,
		 bool whole, struct xerr *err);

/* ---- qcow2 chains (file driver, cbt.c) ---- */
/* 0 and uuid's backing uuid ("" at the root) when <uuid>.qcow2 exists. */
int sm_file_backing(const struct sm_sr *sr, const char *uuid, char parent[UUID_STRLEN + 1]);
int sm_cbt_changed_blocks(struct sm_sr *sr, const struct sm_vdi *from, const struct sm_vdi *to,
			  char **out, struct xerr *err);
/* Sets the bits of blocks `qemu-img map` of <uuid>.qcow2 finds allocated
 * in the top `layers` images of its chain. */
int sm_cbt_map_layers(const struct sm_sr *sr, const char *uuid, size_t layers, unsigned char *bm,
		      int64_t nblocks, struct xerr *err);

/* ---- the driver table ---- */
const struct sm_driver *sm_driver_find(const char *type);
/* SR types served, for SR.get_supported_types: a NULL-terminated list. */
const char *const *sm_driver_types(void);

/* Fills sr for the driver of `type`: SR_UNKNOWN_DRIVER, or the driver's
 * "missing location" failure when device_config names no usable path. */
int sm_sr_open(struct sm_sr *sr, const char *type, const char *uuid, const xv *device_config,
	       struct xerr *err);
void sm_sr_close(struct sm_sr *sr);

void sm_vdi_init(struct sm_vdi *v);
void sm_vdi_free(struct sm_vdi *v);
void sm_vdi_list_free(struct sm_vdi_list *l);
struct sm_vdi *sm_vdi_list_add(struct sm_vdi_list *l);
void sm_attach_info_free(struct sm_attach_info *a);

/* Full copy of src's data (its whole chain, flattened) into dst, which
 * exists and is at least as large: qemu-img convert between whatever the
 * two drivers attach. */
int sm_vdi_copy(struct sm_sr *src_sr, const struct sm_vdi *src, struct sm_sr *dst_sr,
		const struct sm_vdi *dst, struct xerr *err);

/* ---- bytes at the start of a VDI (vdi_data.c) ----
 * Writes len bytes at offset 0 of the VDI's virtual disk (they must fit). */
int sm_vdi_write_data(struct sm_sr *sr, const struct sm_vdi *vdi, const void *data, size_t len,
		      struct xerr *err);
/* Reads the first len bytes (at most the virtual size) into *out, an
 * allocation with a NUL after them. */
int sm_vdi_read_data(struct sm_sr *sr, const struct sm_vdi *vdi, size_t len, void **out, struct xerr *err);

/* ---- helpers for drivers ---- */

/* SR_BACKEND_FAILURE [code, "<SM description> [opterr=<opterr>]", detail]:
 * SM's numbered errors (XE_SR_ERRORCODES) in the shape xapi reports them.
 * detail carries a tool's stderr. Returns -1. */
int sm_fail(struct xerr *err, int code, const char *opterr, const char *detail);

/* SM error numbers used here (XE_SR_ERRORCODES.xml). */
enum {
	SM_E_VDI_IN_USE = 24,
	SM_E_UNIMPLEMENTED = 38,
	SM_E_SR_NOT_EMPTY = 39,
	SM_E_SR_SCAN = 40,
	SM_E_SR_EXISTS = 42,
	SM_E_VDI_EXISTS = 43,
	SM_E_SR_NO_SPACE = 44,
	SM_E_VDI_UNAVAILABLE = 46,
	SM_E_SR_UNAVAILABLE = 47,
	SM_E_FILE_SR_CREATE = 61,
	SM_E_FILE_SR_RMDIR = 62,
	SM_E_VDI_REMOVE = 64,
	SM_E_VDI_CREATE = 78,
	SM_E_VDI_SIZE = 79,
	SM_E_VDI_CLONE = 81,
	SM_E_VDI_SNAPSHOT = 82,
	SM_E_NFS_VERSION = 72,
	SM_E_NFS_MOUNT = 73,
	SM_E_NFS_CREATE = 88,
	SM_E_NFS_DELETE = 76,
	SM_E_CONFIG_LOCATION_MISSING = 94,
	SM_E_CONFIG_SERVERPATH_MISSING = 101,
	SM_E_CONFIG_SERVER_MISSING = 102,
	SM_E_CONFIG_SERVERPATH_BAD = 103,
	SM_E_NFS_TARGET = 108,
	SM_E_SMB_MOUNT = 111,
	SM_E_DNS = 140,
	SM_E_VDI_RESIZE = 110,
	SM_E_CHAIN_TOO_LONG = 109,
	SM_E_VDI_MISSING = 144,
	SM_E_ISO_LOCATION_MISSING = 220,
	SM_E_ISO_MOUNT_FAILURE = 222,
	SM_E_ISO_SHARENAME_FAILURE = 224,
	SM_E_ISO_LOCATION_STRING = 225,
	SM_E_ISO_LOCAL_PATH = 226,
};

/* <sr dir>/<name>, refusing any name that could leave the directory or
 * hide in it: empty, "/", a leading ".", control bytes, over 255 bytes.
 * NULL with SR_BACKEND_FAILURE (VDIUnavailable) otherwise. */
char *sm_path(const struct sm_sr *sr, const char *name, struct xerr *err);
bool sm_name_ok(const char *name);
/* An absolute directory path without "." or ".." components. */
bool sm_dir_path_ok(const char *path);

/* Runs a program found in PATH with argv, never through a shell, and
 * captures its stdout (whole, up to 256 MiB) and stderr (first 64 KiB). Returns its exit
 * status, 127 if it could not be started, or 128+signal. */
struct sm_run {
	int status;
	char *out, *err; /* owned, NUL-terminated */
};
int sm_run(const char *const *argv, struct sm_run *res);
/* n programs at once (res[n]); returns the first non-zero status, else 0. */
int sm_run_many(const char *const *const *argvs, size_t n, struct sm_run *res);
void sm_run_free(struct sm_run *res);

/* qemu-img ARGS…: on failure sets sm_fail(code, what, stderr). *out gets
 * its stdout when out is not NULL. The binary is $XENON_QEMU_IMG, else
 * "qemu-img" (sm_set_qemu_img overrides both, for tests). */
int sm_qemu_img(const char *const *args, char **out, int code, const char *what,
		struct xerr *err);
/* n qemu-img runs at once (no stdout kept): what a snapshot's two
 * overlays need, so each costs one process start, not two in a row. */
int sm_qemu_img_many(const char *const *const *args, size_t n, int code, const char *what,
		     struct xerr *err);
void sm_set_qemu_img(const char *path);
/* qemu-img ARGS… whose exit status means something (qemu-img check):
 * the status, with res filled (sm_run_free it). */
int sm_qemu_img_status(const char *const *args, struct sm_run *res);

/* Where drivers keep sockets of helper processes (the daemon's run
 * directory; $TMPDIR or /tmp until set). sm_run_dir's result stays valid
 * until the next sm_set_run_dir. */
void sm_set_run_dir(const char *dir);
const char *sm_run_dir(void);

/* The extent map of a local qcow2 or raw image (formats/imgmap.h) from
 * qemu-img info and map; NULL when the image does not qualify or qemu-img
 * fails (logged at debug level). */
struct imgmap *sm_imgmap_open(const char *path, const char *format);
/* The image reader of formats/img.h; read-only opens of local qcow2 and
 * raw chains get their extent map, so reads skip qemu-nbd. */
struct img *sm_img_open(const char *path, const char *format, bool writable, struct xerr *err);

/* One lock for image metadata changes (renames, creates, deletes) across
 * drivers: a snapshot's rename-then-create must not interleave with a
 * delete's garbage collection. Not held across long copies. */
void sm_lock(void);
void sm_unlock(void);

/* Free space of the filesystem holding path, as FileSR reports it. */
int sm_statvfs(const char *path, struct sm_stat *st);
/* The same through the SR's fs (fs.h), with what its user may still
 * write in *avail (may be NULL). */
int sm_sr_statvfs(const struct sm_sr *sr, struct sm_stat *st, int64_t *avail);

/* ---- running VMs ----
 * A disk open in a running QEMU cannot simply have its file renamed and
 * replaced: QEMU would keep writing to the old inode, which has become the
 * shared base. The QEMU backend has these operations (its
 * xenops_backend.live), which the VM logic passes to the calls that need
 * them; VM.snapshot and VDI.snapshot of a disk of a running VM then:
 *   freeze(vm)                   QMP 'stop': no guest writes in between
 *   driver vdi_snapshot          rename A→base, new overlay at A's path
 *   reopen(vm, userdevice, path) QMP blockdev-add path (backing: the open
 *                                node, now the base) + blockdev-snapshot
 *   thaw(vm)                     QMP 'cont'
 * Without them (the sim backend opens no files), disks of
 * running VMs are snapshotted as halted ones are. */
struct sm_live_ops {
	int (*freeze)(const char *vm_uuid, struct xerr *err);
	int (*reopen)(const char *vm_uuid, const char *userdevice, const struct sm_attach_info *disk,
		      struct xerr *err);
	void (*thaw)(const char *vm_uuid);
	/* Copies into the running disk everything its chain holds below the
	 * image at backing_path (NULL: the whole chain), then has it back onto
	 * that image, recorded as backing_name in its header (QMP
	 * block-stream); returns once the job has finished. */
	int (*stream)(const char *vm_uuid, const char *userdevice, const char *backing_path,
		      const char *backing_name, struct xerr *err);
};

#endif
