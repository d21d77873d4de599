/* smb_nbdkit: an nbdkit plugin serving one file of an SMB share, read-only,
 * through libsmbclient. QEMU has no SMB block driver and this machine kind
 * has no kernel CIFS client, so an ISO on an SMB ISO SR reaches a VM's CD
 * drive as an NBD export (fs_smb.c starts `nbdkit … xenon-smb-plugin.so
 * url=smb://server:port/share/file.iso user=… password=+FILE`). Runs in
 * nbdkit's process, so it survives xenond restarts with the VM. */
#define NBDKIT_API_VERSION 2
#include <nbdkit-plugin.h>

#include "smb_ctx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char *url, *user, *password, *workgroup;

static void smb_unload(void)
{
	free(url);
	free(user);
	free(password);
	free(workgroup);
}

static int smb_config(const char *key, const char *value)
{
	char **slot = !strcmp(key, "url") ? &url : !strcmp(key, "user") ? &user
						  : !strcmp(key, "workgroup") ? &workgroup : NULL;
	if (!strcmp(key, "password")) {
		free(password);
		/* "+FILE", "-" or "-FD": never the password itself on argv */
		return nbdkit_read_password(value, &password);
	}
	if (!slot) {
		nbdkit_error("unknown parameter '%s'", key);
		return -1;
	}
	free(*slot);
	*slot = *value ? strdup(value) : NULL;
	return 0;
}

static int smb_config_complete(void)
{
	if (!url || strncmp(url, "smb://", 6) != 0) {
		nbdkit_error("url=smb://server/share/file is required");
		return -1;
	}
	return 0;
}

struct handle {
	SMBCCTX *ctx;
	SMBCFILE *f;
	int64_t size;
};

static void *smb_open(int readonly)
{
	(void)readonly;
	struct handle *h = calloc(1, sizeof *h);
	if (!h) {
		nbdkit_error("out of memory");
		return NULL;
	}
	struct smb_cred c = {user, password, workgroup};
	h->ctx = smb_ctx_new(&c, 30000);
	if (!h->ctx) {
		nbdkit_error("libsmbclient: %s", strerror(errno));
		free(h);
		return NULL;
	}
	h->f = smbc_getFunctionOpen(h->ctx)(h->ctx, url, O_RDONLY, 0);
	struct stat st;
	if (!h->f || smbc_getFunctionFstat(h->ctx)(h->ctx, h->f, &st) < 0) {
		nbdkit_error("%s: %s", url, strerror(errno));
		if (h->f)
			smbc_getFunctionClose(h->ctx)(h->ctx, h->f);
		smb_ctx_free(h->ctx);
		free(h);
		return NULL;
	}
	h->size = (int64_t)st.st_size;
	return h;
}

static void smb_close(void *handle)
{
	struct handle *h = handle;
	smbc_getFunctionClose(h->ctx)(h->ctx, h->f);
	smb_ctx_free(h->ctx);
	free(h);
}

static int64_t smb_get_size(void *handle)
{
	return ((struct handle *)handle)->size;
}

static int smb_pread(void *handle, void *buf, uint32_t count, uint64_t offset, uint32_t flags)
{
	(void)flags;
	struct handle *h = handle;
	if (smbc_getFunctionLseek(h->ctx)(h->ctx, h->f, (off_t)offset, SEEK_SET) < 0) {
		nbdkit_error("lseek: %s", strerror(errno));
		return -1;
	}
	char *p = buf;
	while (count > 0) {
		ssize_t r = smbc_getFunctionRead(h->ctx)(h->ctx, h->f, p, count);
		if (r < 0) {
			nbdkit_error("read: %s", strerror(errno));
			return -1;
		}
		if (r == 0) { /* past the end: zeros, as a short file reads */
			memset(p, 0, count);
			break;
		}
		p += r;
		count -= (uint32_t)r;
	}
	return 0;
}

/* one libsmbclient context per connection, one request at a time on it */
#define THREAD_MODEL NBDKIT_THREAD_MODEL_SERIALIZE_REQUESTS

static struct nbdkit_plugin plugin = {
	.name = "xenon-smb",
	.version = "1.0",
	.longname = "Xenon: a file on an SMB share, read-only",
	.unload = smb_unload,
	.config = smb_config,
	.config_complete = smb_config_complete,
	.config_help = "url=smb://server[:port]/share/file user=… password=+FILE workgroup=…",
	.open = smb_open,
	.close = smb_close,
	.get_size = smb_get_size,
	.pread = smb_pread,
};

NBDKIT_REGISTER_PLUGIN(plugin)
