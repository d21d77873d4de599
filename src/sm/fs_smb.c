/* fs_smb: the sm_fs of an SMB share through libsmbclient; one context per
 * opened SR, logged in at first use. URLs are libsmbclient's own
 * (smb://server:port/share/path), so paths need no translation. */
#include "fs_smb.h"
#include "smb_ctx.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/uuid.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define SMB_TIMEOUT_MS 20000

struct smb_priv {
	SMBCCTX *ctx;
	char *user, *password, *workgroup;
	char *server, *share_path; /* for messages and nbdkit */
	int port;
	int err; /* errno of a failed login, kept */
};

static SMBCCTX *ctx_of(const struct sm_sr *sr)
{
	struct smb_priv *p = sr->priv;
	if (!p || sr->fs != &sm_smb_fs) {
		errno = EINVAL;
		return NULL;
	}
	if (p->ctx)
		return p->ctx;
	if (p->err) {
		errno = p->err;
		return NULL;
	}
	struct smb_cred c = {p->user, p->password, p->workgroup};
	p->ctx = smb_ctx_new(&c, SMB_TIMEOUT_MS);
	if (!p->ctx)
		p->err = errno ? errno : EIO;
	return p->ctx;
}

static int u_stat(const struct sm_sr *sr, const char *path, struct stat *st)
{
	SMBCCTX *c = ctx_of(sr);
	if (!c)
		return -1;
	memset(st, 0, sizeof *st);
	return smbc_getFunctionStat(c)(c, path, st) < 0 ? -1 : 0;
}

static ssize_t u_pread(const struct sm_sr *sr, const char *path, void *buf, size_t n, off_t off)
{
	SMBCCTX *c = ctx_of(sr);
	if (!c)
		return -1;
	SMBCFILE *f = smbc_getFunctionOpen(c)(c, path, O_RDONLY, 0);
	if (!f)
		return -1;
	ssize_t done = -1;
	if (smbc_getFunctionLseek(c)(c, f, off, SEEK_SET) >= 0) {
		done = 0;
		while ((size_t)done < n) {
			ssize_t r = smbc_getFunctionRead(c)(c, f, (char *)buf + done, n - (size_t)done);
			if (r < 0)
				done = -1;
			if (r <= 0)
				break;
			done += r;
		}
	}
	int e = errno;
	smbc_getFunctionClose(c)(c, f);
	errno = e;
	return done;
}

static int u_create_excl(const struct sm_sr *sr, const char *path, int mode, int64_t size)
{
	SMBCCTX *c = ctx_of(sr);
	if (!c)
		return -1;
	SMBCFILE *f = smbc_getFunctionOpen(c)(c, path, O_WRONLY | O_CREAT | O_EXCL, (mode_t)mode);
	if (!f)
		return -1;
	int rc = size > 0 ? smbc_getFunctionFtruncate(c)(c, f, (off_t)size) : 0;
	int e = errno;
	smbc_getFunctionClose(c)(c, f);
	if (rc < 0) {
		smbc_getFunctionUnlink(c)(c, path);
		errno = e;
		return -1;
	}
	return 0;
}

static int u_unlink(const struct sm_sr *sr, const char *path)
{
	SMBCCTX *c = ctx_of(sr);
	return c ? smbc_getFunctionUnlink(c)(c, path) : -1;
}

static int u_rename(const struct sm_sr *sr, const char *from, const char *to)
{
	SMBCCTX *c = ctx_of(sr);
	return c ? smbc_getFunctionRename(c)(c, from, c, to) : -1;
}

static int u_chmod(const struct sm_sr *sr, const char *path, int mode)
{
	SMBCCTX *c = ctx_of(sr);
	return c ? smbc_getFunctionChmod(c)(c, path, (mode_t)mode) : -1;
}

static int u_mkdir(const struct sm_sr *sr, const char *path, int mode)
{
	SMBCCTX *c = ctx_of(sr);
	return c ? smbc_getFunctionMkdir(c)(c, path, (mode_t)mode) : -1;
}

static int u_rmdir(const struct sm_sr *sr, const char *path)
{
	SMBCCTX *c = ctx_of(sr);
	return c ? smbc_getFunctionRmdir(c)(c, path) : -1;
}

static int u_list(const struct sm_sr *sr, const char *dir, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	SMBCCTX *c = ctx_of(sr);
	if (!c)
		return -1;
	SMBCFILE *d = smbc_getFunctionOpendir(c)(c, dir);
	if (!d)
		return -1;
	struct smbc_dirent *e;
	while ((e = smbc_getFunctionReaddir(c)(c, d))) {
		if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
			continue;
		if (e->smbc_type != SMBC_FILE && e->smbc_type != SMBC_DIR)
			continue;
		*names = xrealloc(*names, sizeof **names * (*n + 1));
		(*names)[(*n)++] = xstrdup(e->name);
	}
	smbc_getFunctionClosedir(c)(c, d);
	return 0;
}

static int u_statvfs(const struct sm_sr *sr, const char *path, struct sm_stat *st, int64_t *avail)
{
	SMBCCTX *c = ctx_of(sr);
	if (!c)
		return -1;
	struct statvfs v;
	if (smbc_getFunctionStatVFS(c)(c, (char *)path, &v) < 0)
		return -1;
	int64_t unit = (int64_t)(v.f_frsize ? v.f_frsize : v.f_bsize);
	st->physical_size = (int64_t)v.f_blocks * unit;
	st->physical_utilisation = (int64_t)(v.f_blocks - v.f_bfree) * unit;
	*avail = (int64_t)v.f_bavail * unit;
	return 0;
}

/* libsmbclient's thread support (smbc_thread_posix) is not in Debian's
 * build: one SMB call at a time, whichever SR and thread. ISO libraries
 * are listed rarely; image data goes through nbdkit, not here. */
static pthread_mutex_t smb_lock = PTHREAD_MUTEX_INITIALIZER;

#define LOCKED(ret, name, params, args)                 \
	static ret s_##name params                       \
	{                                                \
		pthread_mutex_lock(&smb_lock);           \
		ret r = u_##name args;                   \
		int e = errno;                           \
		pthread_mutex_unlock(&smb_lock);         \
		errno = e;                               \
		return r;                                \
	}

LOCKED(int, stat, (const struct sm_sr *sr, const char *path, struct stat *st), (sr, path, st))
LOCKED(ssize_t, pread, (const struct sm_sr *sr, const char *path, void *buf, size_t n, off_t off),
       (sr, path, buf, n, off))
LOCKED(int, create_excl, (const struct sm_sr *sr, const char *path, int mode, int64_t size),
       (sr, path, mode, size))
LOCKED(int, unlink, (const struct sm_sr *sr, const char *path), (sr, path))
LOCKED(int, rename, (const struct sm_sr *sr, const char *from, const char *to), (sr, from, to))
LOCKED(int, chmod, (const struct sm_sr *sr, const char *path, int mode), (sr, path, mode))
LOCKED(int, mkdir, (const struct sm_sr *sr, const char *path, int mode), (sr, path, mode))
LOCKED(int, rmdir, (const struct sm_sr *sr, const char *path), (sr, path))
LOCKED(int, list, (const struct sm_sr *sr, const char *dir, char ***names, size_t *n),
       (sr, dir, names, n))
LOCKED(int, statvfs, (const struct sm_sr *sr, const char *path, struct sm_stat *st, int64_t *avail),
       (sr, path, st, avail))

const struct sm_fs sm_smb_fs = {
	.stat = s_stat,
	.pread = s_pread,
	.create_excl = s_create_excl,
	.unlink = s_unlink,
	.rename = s_rename,
	.link = NULL,
	.chmod = s_chmod,
	.mkdir = s_mkdir,
	.rmdir = s_rmdir,
	.list = s_list,
	.statvfs = s_statvfs,
	.full_backing_names = true,
};

int sm_smb_open(struct sm_sr *sr, const char *server, int port, const char *share_path,
		const char *user, const char *password, const char *workgroup, struct xerr *err)
{
	(void)err;
	struct smb_priv *p = xcalloc(1, sizeof *p);
	p->server = xstrdup(server);
	p->share_path = xstrdup(share_path);
	p->port = port;
	p->user = user && *user ? xstrdup(user) : NULL;
	p->password = password ? xstrdup(password) : NULL;
	p->workgroup = workgroup && *workgroup ? xstrdup(workgroup) : NULL;
	sr->priv = p;
	sr->fs = &sm_smb_fs;
	char portbuf[16] = "";
	if (port > 0)
		snprintf(portbuf, sizeof portbuf, ":%d", port);
	sr->path = xasprintf("smb://%s%s/%s", server, portbuf, share_path);
	return 0;
}

void sm_smb_close(struct sm_sr *sr)
{
	struct smb_priv *p = sr->priv;
	if (!p || sr->fs != &sm_smb_fs)
		return;
	pthread_mutex_lock(&smb_lock);
	smb_ctx_free(p->ctx);
	pthread_mutex_unlock(&smb_lock);
	free(p->user);
	if (p->password)
		memset(p->password, 0, strlen(p->password));
	free(p->password);
	free(p->workgroup);
	free(p->server);
	free(p->share_path);
	free(p);
	sr->priv = NULL;
}

int sm_smb_connect(const struct sm_sr *sr, int mount_code, int share_code, struct xerr *err)
{
	struct stat st;
	if (s_stat(sr, sr->path, &st) == 0 && S_ISDIR(st.st_mode))
		return 0;
	int e = errno;
	struct smb_priv *p = sr->priv;
	char *why = xasprintf("//%s/%s: %s", p ? p->server : "", p ? p->share_path : "",
			      strerror(e ? e : ENOTDIR));
	log_warn("sm smb: %s", why);
	/* the server answered, but has no such share or directory */
	bool missing = e == ENOENT || e == ENOTDIR || e == ENODEV || e == 0;
	sm_fail(err, missing ? share_code : mount_code, why, "");
	free(why);
	return -1;
}

/* ---- attaching an image: nbdkit and Xenon's SMB plugin ---- */

static char *plugin_path(void)
{
	const char *env = getenv("XENON_NBDKIT_SMB_PLUGIN");
	if (env && *env)
		return xstrdup(env);
	/* beside xenond in a build tree, else where it is installed */
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			char *p = xasprintf("%s/xenon-smb-plugin.so", exe);
			if (access(p, R_OK) == 0)
				return p;
			free(p);
		}
	}
#ifdef XENON_PLUGIN_DIR
	return xstrdup(XENON_PLUGIN_DIR "/xenon-smb-plugin.so");
#else
	return xstrdup("xenon-smb-plugin.so");
#endif
}

int sm_smb_attach(const struct sm_sr *sr, const char *file_url, struct sm_attach_info *out,
		  struct xerr *err)
{
	struct smb_priv *p = sr->priv;
	char *dir = xasprintf("%s/smb", sm_run_dir());
	mkdir(sm_run_dir(), 0700);
	mkdir(dir, 0700);
	char id[UUID_STRLEN + 1];
	uuid_generate_str(id);
	char *sock = xasprintf("%s/%s.sock", dir, id);
	char *pwf = xasprintf("%s/%s.pw", dir, id);
	char *plugin = plugin_path();
	char *url_arg = xasprintf("url=%s", file_url);
	char *user_arg = p->user ? xasprintf("user=%s", p->user) : xstrdup("user=");
	char *wg_arg = p->workgroup ? xasprintf("workgroup=%s", p->workgroup) : xstrdup("workgroup=");
	char *pw_arg = xasprintf("password=+%s", pwf);
	int rc = -1;
	/* the password goes through a private file, never the command line */
	int fd = open(pwf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		char *why = xasprintf("cannot write %s: %s", pwf, strerror(errno));
		sm_fail(err, SM_E_VDI_UNAVAILABLE, why, "");
		free(why);
		goto out;
	}
	const char *pw = p->password ? p->password : "";
	ssize_t w = write(fd, pw, strlen(pw));
	close(fd);
	if (w != (ssize_t)strlen(pw)) {
		sm_fail(err, SM_E_VDI_UNAVAILABLE, "cannot write the password file", "");
		goto out;
	}
	/* nbdkit forks into the background once the socket listens; exitlast
	 * ends it when QEMU, its only client, disconnects */
	const char *argv[] = {"nbdkit", "--unix", sock, "--readonly",
			      "--filter=exitlast", plugin, url_arg, user_arg, wg_arg, pw_arg, NULL};
	struct sm_run r;
	int st = sm_run(argv, &r);
	if (st != 0) {
		log_warn("sm smb: nbdkit for %s failed (status %d): %s", file_url, st, r.err);
		sm_fail(err, SM_E_VDI_UNAVAILABLE, "nbdkit failed", r.err);
	} else {
		out->path = xasprintf("nbd+unix:///?socket=%s", sock);
		out->format = "raw";
		out->read_only = true;
		rc = 0;
	}
	sm_run_free(&r);
out:
	unlink(pwf);
	free(sock);
	free(pwf);
	free(dir);
	free(plugin);
	free(url_arg);
	free(user_arg);
	free(wg_arg);
	free(pw_arg);
	return rc;
}
