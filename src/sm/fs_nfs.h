/* fs_nfs: an SR's files on an NFS export, reached in userspace through
 * libnfs (no kernel NFS client, no mount): the NFS SR's qcow2 directory and
 * NFS ISO libraries. sr->path becomes nfs://server/export[/sub], the URL
 * form QEMU's nfs block driver and qemu-img open. */
#ifndef XENON_SM_FS_NFS_H
#define XENON_SM_FS_NFS_H

#include "fs.h"
#include "sm.h"

extern const struct sm_fs sm_nfs_fs;

/* Makes sr an NFS one: export is the server's exported path (absolute),
 * sub a directory inside it ("" for the export itself); version "3"
 * (default, NULL or "") or "4…". Connects lazily, on first use. Fails
 * with NFSVersion for another version. */
int sm_nfs_open(struct sm_sr *sr, const char *server, const char *export, const char *sub,
		const char *version, struct xerr *err);
void sm_nfs_close(struct sm_sr *sr);

/* Connects and mounts now, reporting failures as SM does: DNSError when
 * server does not resolve, target_code when nothing answers as an NFS
 * server there, mount_code when the export cannot be mounted. */
int sm_nfs_connect(const struct sm_sr *sr, int target_code, int mount_code, struct xerr *err);

#endif
