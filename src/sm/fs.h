/* fs: how a driver reaches the files of its SR. The qcow2 chain logic of
 * the file driver and the ISO library work on paths through this table, so
 * the same code serves a local directory (POSIX calls), an NFS export
 * (libnfs, in userspace) and an SMB share (libsmbclient). Paths are what
 * sm_path() builds from sr->path: a local path, or a URL for a remote
 * share. Every call returns -1 with errno set on failure, as POSIX does. */
#ifndef XENON_SM_FS_H
#define XENON_SM_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct sm_sr;
struct sm_stat;

struct sm_fs {
	/* st_mode, st_size and st_blocks (512-byte units) at least. */
	int (*stat)(const struct sm_sr *sr, const char *path, struct stat *st);
	/* Reads n bytes at off of the file (opened and closed each time). */
	ssize_t (*pread)(const struct sm_sr *sr, const char *path, void *buf, size_t n, off_t off);
	/* Writes n bytes at off, the file made (mode 0600) when missing.
	 * May be NULL: the SR cannot hold small files of ours (the HA
	 * heartbeat). */
	ssize_t (*pwrite)(const struct sm_sr *sr, const char *path, const void *buf, size_t n, off_t off);
	/* Creates an empty file of size bytes; EEXIST when the name is taken. */
	int (*create_excl)(const struct sm_sr *sr, const char *path, int mode, int64_t size);
	int (*unlink)(const struct sm_sr *sr, const char *path);
	int (*rename)(const struct sm_sr *sr, const char *from, const char *to);
	int (*link)(const struct sm_sr *sr, const char *from, const char *to); /* may be NULL */
	int (*chmod)(const struct sm_sr *sr, const char *path, int mode);
	int (*mkdir)(const struct sm_sr *sr, const char *path, int mode);
	int (*rmdir)(const struct sm_sr *sr, const char *path);
	/* The names in a directory, "." and ".." left out: an owned array of
	 * owned strings. */
	int (*list)(const struct sm_sr *sr, const char *dir, char ***names, size_t *n);
	/* Size and use of the filesystem, and what its user may still write. */
	int (*statvfs)(const struct sm_sr *sr, const char *path, struct sm_stat *st, int64_t *avail);
	/* Overlays name their base by its full path (URL) rather than by the
	 * bare file name: QEMU 7.2's nfs driver resolves relative backing
	 * names against the overlay's own name as if it were a directory. */
	bool full_backing_names;
};

extern const struct sm_fs sm_posix_fs;

/* The SR's fs; local when no driver chose one. */
const struct sm_fs *sm_fs_of(const struct sm_sr *sr);

void sm_fs_names_free(char **names, size_t n);

#endif
