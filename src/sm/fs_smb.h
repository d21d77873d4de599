/* fs_smb: an ISO library on an SMB share, reached in userspace through
 * libsmbclient (no kernel CIFS client): sr->path is
 * smb://server[:port]/share[/dir]. QEMU has no SMB client, so an image is
 * attached as an NBD export that nbdkit serves from the share through
 * Xenon's nbdkit plugin (smb_nbdkit.c). */
#ifndef XENON_SM_FS_SMB_H
#define XENON_SM_FS_SMB_H

#include "fs.h"
#include "sm.h"

extern const struct sm_fs sm_smb_fs;

/* share_path: "share" or "share/dir/…". user/password/workgroup may be
 * NULL (guest access). */
int sm_smb_open(struct sm_sr *sr, const char *server, int port, const char *share_path,
		const char *user, const char *password, const char *workgroup, struct xerr *err);
void sm_smb_close(struct sm_sr *sr);

/* Logs in and checks sr->path is a directory: mount_code when the server
 * cannot be reached or refuses the login, share_code when the share or
 * directory is not there. */
int sm_smb_connect(const struct sm_sr *sr, int mount_code, int share_code, struct xerr *err);

/* An image on the share as QEMU can open it: starts an nbdkit serving the
 * file read-only on a unix socket under the run directory, which exits
 * once its last client (QEMU) has gone. out->path is the
 * nbd+unix:///?socket=… URL. */
int sm_smb_attach(const struct sm_sr *sr, const char *file_url, struct sm_attach_info *out,
		  struct xerr *err);

#endif
