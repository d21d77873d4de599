/* inspect: looking inside disk images with libguestfs — partitions,
 * filesystems, the operating system, and the files of a guest filesystem.
 * One worker thread owns the appliance: callers queue requests on it and
 * wait, the appliance stays up for a short idle time after the last one
 * (so a sequence of calls on the same disks pays its start once), and a
 * watchdog kills it when one request runs past the time limit. */
#ifndef XENON_INSPECT_H
#define XENON_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "../base/xv.h"

/* One disk handed to the appliance: a local image (path, format), or an
 * NBD export on a unix socket (nbd_socket; format "raw" then). key names
 * the disk's identity (the VDI's uuid): the warm appliance is reused when
 * a request names the same keys in the same order and mode. */
struct insp_drive {
	const char *key;
	const char *path;
	const char *format;
	const char *nbd_socket;
};

struct insp_config {
	int idle_s;    /* the appliance is shut after this long unused */
	int timeout_s; /* a launch, and then one request, at most this long each */
	uint64_t max_read, max_write; /* bytes a read or write may move */
};

/* Starts the worker (idempotent; later configs replace the limits). */
void insp_init(const struct insp_config *cfg);
/* Shuts the appliance and ends the worker. */
void insp_shutdown(void);

/* Progress of a request, 0..1, on the worker's thread. */
typedef void (*insp_progress)(void *arg, double p);

/* The partition tables, filesystems and operating systems of the drives:
 * {"disks": [{device, partition_table, size, partitions: [...]}],
 *  "filesystems": [{device, type, label, uuid, size, used}],
 *  "operating_systems": [{root, type, distro, product_name, major_version,
 *  minor_version, hostname, applications, mountpoints}]}. Read-only. */
int insp_inspect(const struct insp_drive *d, size_t n, insp_progress pg, void *arg, xv *out,
		 struct xerr *err);

/* File access inside one filesystem of one drive. fs: a device as
 * insp_inspect names it ("/dev/sda1"), or "" for the operating system's
 * root (its mountpoints mounted as the guest mounts them), else the only
 * (or first) filesystem. path: absolute inside the guest; symlinks are
 * resolved inside the guest filesystem, never out of it. */
struct insp_file {
	const struct insp_drive *drive;
	const char *fs;
	const char *path;
};

/* Entries of a directory: [{name, type, size, mode, mtime, target}]. */
int insp_list(const struct insp_file *f, xv *out, struct xerr *err);
/* {path (resolved), type, size, mode, uid, gid, mtime, target}. */
int insp_stat(const struct insp_file *f, xv *out, struct xerr *err);
/* A regular file's content into host_file (created, truncated); *size
 * gets its length. Fails when larger than max_read. */
int insp_download(const struct insp_file *f, const char *host_file, uint64_t *size, struct xerr *err);
/* host_file's content as the guest file (created or replaced) with mode
 * (permission bits; -1: an existing file keeps its own, a new one gets the
 * filesystem's default). The
 * drive is attached read-write for this. */
int insp_upload(const struct insp_file *f, const char *host_file, int mode, struct xerr *err);

/* The limits in force. */
uint64_t insp_max_read(void);
uint64_t insp_max_write(void);

/* A request's path made canonical inside a guest filesystem, given a way
 * to look at it: lookup(arg, p) answers for the absolute, symlink-free
 * path p 0 (not a symlink or absent), 1 (a symlink, *target filled,
 * owned) or -1 (an error, err set). Out: owned, absolute, without "." or
 * "..", with no symlink in it (the last component too unless
 * keep_last). Exposed for tests. */
typedef int (*insp_lookup)(void *arg, const char *p, char **target, struct xerr *err);
char *insp_resolve(const char *path, bool keep_last, insp_lookup lookup, void *arg, struct xerr *err);

#endif
