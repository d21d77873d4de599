/* smb_ctx: see smb_ctx.h. libsmbclient asks for credentials through a
 * callback; each context carries its own copy as its user data, so two
 * SRs with different accounts never see each other's. */
#include "smb_ctx.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cred_copy {
	char *user, *password, *workgroup;
};

static void put(char *dst, int len, const char *src)
{
	if (src && len > 0)
		snprintf(dst, (size_t)len, "%s", src);
}

static void auth(SMBCCTX *c, const char *srv, const char *shr, char *wg, int wglen, char *un,
		 int unlen, char *pw, int pwlen)
{
	(void)srv;
	(void)shr;
	struct cred_copy *cc = smbc_getOptionUserData(c);
	if (!cc)
		return;
	put(wg, wglen, cc->workgroup);
	put(un, unlen, cc->user);
	put(pw, pwlen, cc->password);
}

static char *dup0(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

SMBCCTX *smb_ctx_new(const struct smb_cred *cred, int timeout_ms)
{
	SMBCCTX *c = smbc_new_context();
	if (!c)
		return NULL;
	struct cred_copy *cc = calloc(1, sizeof *cc);
	if (!cc) {
		smbc_free_context(c, 1);
		errno = ENOMEM;
		return NULL;
	}
	cc->user = dup0(cred->user);
	cc->password = dup0(cred->password);
	cc->workgroup = dup0(cred->workgroup);
	smbc_setOptionUserData(c, cc);
	smbc_setFunctionAuthDataWithContext(c, auth);
	smbc_setOptionNoAutoAnonymousLogin(c, cc->user != NULL);
	smbc_setOptionProtocols(c, "SMB2_02", NULL);
	smbc_setTimeout(c, timeout_ms);
	smbc_setDebug(c, 0);
	if (!smbc_init_context(c)) {
		int e = errno;
		smb_ctx_free(c);
		errno = e ? e : EIO;
		return NULL;
	}
	return c;
}

void smb_ctx_free(SMBCCTX *c)
{
	if (!c)
		return;
	struct cred_copy *cc = smbc_getOptionUserData(c);
	smbc_setOptionUserData(c, NULL);
	smbc_free_context(c, 1);
	if (cc) {
		free(cc->user);
		if (cc->password)
			memset(cc->password, 0, strlen(cc->password));
		free(cc->password);
		free(cc->workgroup);
		free(cc);
	}
}
