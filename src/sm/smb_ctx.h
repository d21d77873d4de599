/* smb_ctx: a libsmbclient context logged in with given credentials, shared
 * by the SMB fs (fs_smb.c, in xenond) and the nbdkit plugin that serves an
 * ISO on a share to QEMU (smb_nbdkit.c, in nbdkit). */
#ifndef XENON_SM_SMB_CTX_H
#define XENON_SM_SMB_CTX_H

#include <libsmbclient.h>

struct smb_cred {
	const char *user, *password, *workgroup; /* may be NULL */
};

/* A ready context (NULL with errno set): SMB2 or later, no anonymous
 * fallback when credentials are given, cred (copied) answered to every
 * server asking. smb_ctx_free releases it and its copy. */
SMBCCTX *smb_ctx_new(const struct smb_cred *cred, int timeout_ms);
void smb_ctx_free(SMBCCTX *c);

#endif
