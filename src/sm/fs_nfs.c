/* fs_nfs: the sm_fs of an NFS export through libnfs's synchronous calls.
 * One libnfs context per opened SR (an sm_sr lives for one operation, in
 * one thread), mounted on the export at first use; paths are sr->path URLs
 * translated to paths inside the export. */
#include "fs_nfs.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <nfsc/libnfs.h>

/* Sync calls give up on a silent server rather than hang the API. */
#define NFS_TIMEOUT_MS 20000

struct nfs_priv {
	struct nfs_context *nfs;
	char *server, *export;
	char *prefix; /* nfs://server/export: what URLs start with */
	int version;
	bool mounted;
	int err;      /* -errno of a failed mount, kept for later calls */
	char *why;    /* libnfs's message for it */
};

static struct nfs_priv *priv_of(const struct sm_sr *sr)
{
	return sr->priv;
}

static int do_mount(struct nfs_priv *p)
{
	if (p->mounted)
		return 0;
	if (p->err)
		return p->err;
	p->nfs = nfs_init_context();
	if (!p->nfs) {
		p->why = xstrdup("cannot make an NFS context");
		return p->err = -ENOMEM;
	}
	nfs_set_timeout(p->nfs, NFS_TIMEOUT_MS);
	if (p->version == 4)
		nfs_set_version(p->nfs, 4); /* NFS_V4 */
	int rc = nfs_mount(p->nfs, p->server, p->export);
	if (rc < 0) {
		const char *m = nfs_get_error(p->nfs);
		p->why = xstrdup(m ? m : strerror(-rc));
		log_warn("sm nfs: mounting %s:%s: %s", p->server, p->export, p->why);
		nfs_destroy_context(p->nfs);
		p->nfs = NULL;
		return p->err = rc;
	}
	p->mounted = true;
	return 0;
}

/* The path inside the export of a URL under the prefix; NULL (errno set)
 * when not connected or the URL is not one of this export's. */
static const char *rel(const struct sm_sr *sr, const char *url, struct nfs_context **nfs)
{
	struct nfs_priv *p = priv_of(sr);
	if (!p) {
		errno = EINVAL;
		return NULL;
	}
	int rc = do_mount(p);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	size_t n = strlen(p->prefix);
	if (strncmp(url, p->prefix, n) != 0 || (url[n] && url[n] != '/')) {
		errno = EXDEV;
		return NULL;
	}
	*nfs = p->nfs;
	return url[n] ? url + n : "/";
}

static int ret(int rc)
{
	if (rc < 0) {
		errno = -rc;
		return -1;
	}
	return 0;
}

static int n_stat(const struct sm_sr *sr, const char *path, struct stat *st)
{
	struct nfs_context *nfs;
	const char *r = rel(sr, path, &nfs);
	if (!r)
		return -1;
	struct nfs_stat_64 s;
	int rc = nfs_stat64(nfs, r, &s);
	if (rc < 0)
		return ret(rc);
	memset(st, 0, sizeof *st);
	st->st_mode = (mode_t)s.nfs_mode;
	st->st_size = (off_t)s.nfs_size;
	st->st_nlink = (nlink_t)s.nfs_nlink;
	st->st_uid = (uid_t)s.nfs_uid;
	st->st_gid = (gid_t)s.nfs_gid;
	/* NFSv3 reports bytes used; st_blocks counts 512-byte units */
	st->st_blocks = (blkcnt_t)(s.nfs_used ? (s.nfs_used + 511) / 512 : s.nfs_blocks);
	st->st_mtime = (time_t)s.nfs_mtime;
	return 0;
}

static ssize_t n_pread(const struct sm_sr *sr, const char *path, void *buf, size_t n, off_t off)
{
	struct nfs_context *nfs;
	const char *r = rel(sr, path, &nfs);
	if (!r)
		return -1;
	struct nfsfh *fh;
	int rc = nfs_open(nfs, r, O_RDONLY, &fh);
	if (rc < 0)
		return ret(rc);
	size_t done = 0;
	while (done < n) {
		rc = nfs_pread(nfs, fh, (uint64_t)off + done, n - done, (char *)buf + done);
		if (rc <= 0)
			break;
		done += (size_t)rc;
	}
	nfs_close(nfs, fh);
	if (rc < 0)
		return ret(rc);
	return (ssize_t)done;
}

static ssize_t n_pwrite(const struct sm_sr *sr, const char *path, const void *buf, size_t n, off_t off)
{
	struct nfs_context *nfs;
	const char *r = rel(sr, path, &nfs);
	if (!r)
		return -1;
	struct nfsfh *fh;
	int rc = nfs_open(nfs, r, O_WRONLY, &fh);
	if (rc == -ENOENT)
		rc = nfs_create(nfs, r, O_WRONLY, 0600, &fh);
	if (rc < 0)
		return ret(rc);
	size_t done = 0;
	while (done < n) {
		rc = nfs_pwrite(nfs, fh, (uint64_t)off + done, n - done, (const char *)buf + done);
		if (rc <= 0)
			break;
		done += (size_t)rc;
	}
	if (rc >= 0)
		rc = nfs_fsync(nfs, fh);
	nfs_close(nfs, fh);
	if (rc < 0)
		return ret(rc);
	return (ssize_t)done;
}

static int n_create_excl(const struct sm_sr *sr, const char *path, int mode, int64_t size)
{
	struct nfs_context *nfs;
	const char *r = rel(sr, path, &nfs);
	if (!r)
		return -1;
	struct nfsfh *fh;
	int rc = nfs_create(nfs, r, O_WRONLY | O_EXCL, mode, &fh);
	if (rc < 0)
		return ret(rc);
	if (size > 0)
		rc = nfs_ftruncate(nfs, fh, (uint64_t)size);
	nfs_close(nfs, fh);
	if (rc < 0) {
		nfs_unlink(nfs, r);
		return ret(rc);
	}
	return 0;
}

static int n_unlink(const struct sm_sr *sr, const char *path)
{
	struct nfs_context *nfs;
	const char *r = rel(sr, path, &nfs);
	return r ? ret(nfs_unlink(nfs, r)) : -1;
}

static int n_rename(const struct sm_sr *sr, const char *from, const char *to)
{
	struct nfs_context *nfs;
	const char *a = rel(sr, from, &nfs), *b = a ? rel(sr, to, &nfs) : NULL;
	return b ? ret(nfs_rename(nfs, a, b)) : -1;
}

static int n_link(const struct sm_sr *sr, const char *from, const char *to)
{
	struct nfs_context *nfs;
	const char *a = rel(sr, from, &nfs), *b = a ? rel(sr, to, &nfs) : NULL;
	return b ? ret(nfs_link(nfs, a, b)) : -1;
}

static int n_chmod(const struct sm_sr *sr, const char *path, int mode)
{
	struct nfs_context *nfs;
	const char *r = rel(sr, path, &nfs);
	return r ? ret(nfs_chmod(nfs, r, mode)) : -1;
}

static int n_mkdir(const struct sm_sr *sr, const char *path, int mode)
{
	struct nfs_context *nfs;
	const char *r = rel(sr, path, &nfs);
	if (!r)
		return -1;
	int rc = nfs_mkdir(nfs, r);
	if (rc == 0 && mode != 0755)
		rc = nfs_chmod(nfs, r, mode);
	return ret(rc);
}

static int n_rmdir(const struct sm_sr *sr, const char *path)
{
	struct nfs_context *nfs;
	const char *r = rel(sr, path, &nfs);
	return r ? ret(nfs_rmdir(nfs, r)) : -1;
}

static int n_list(const struct sm_sr *sr, const char *dir, char ***names, size_t *n)
{
	*names = NULL;
	*n = 0;
	struct nfs_context *nfs;
	const char *r = rel(sr, dir, &nfs);
	if (!r)
		return -1;
	struct nfsdir *d;
	int rc = nfs_opendir(nfs, r, &d);
	if (rc < 0)
		return ret(rc);
	struct nfsdirent *e;
	while ((e = nfs_readdir(nfs, d))) {
		if (!strcmp(e->name, ".") || !strcmp(e->name, ".."))
			continue;
		*names = xrealloc(*names, sizeof **names * (*n + 1));
		(*names)[(*n)++] = xstrdup(e->name);
	}
	nfs_closedir(nfs, d);
	return 0;
}

static int n_statvfs(const struct sm_sr *sr, const char *path, struct sm_stat *st, int64_t *avail)
{
	struct nfs_context *nfs;
	const char *r = rel(sr, path, &nfs);
	if (!r)
		return -1;
	struct nfs_statvfs_64 v;
	int rc = nfs_statvfs64(nfs, r, &v);
	if (rc < 0)
		return ret(rc);
	int64_t unit = (int64_t)(v.f_frsize ? v.f_frsize : v.f_bsize);
	st->physical_size = (int64_t)v.f_blocks * unit;
	st->physical_utilisation = (int64_t)(v.f_blocks - v.f_bfree) * unit;
	*avail = (int64_t)v.f_bavail * unit;
	return 0;
}

const struct sm_fs sm_nfs_fs = {
	.stat = n_stat,
	.pread = n_pread,
	.pwrite = n_pwrite,
	.create_excl = n_create_excl,
	.unlink = n_unlink,
	.rename = n_rename,
	.link = n_link,
	.chmod = n_chmod,
	.mkdir = n_mkdir,
	.rmdir = n_rmdir,
	.list = n_list,
	.statvfs = n_statvfs,
	.full_backing_names = true,
};

static bool server_ok(const char *s)
{
	if (!s || !*s || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (*s <= ' ' || *s == '/' || *s == '?' || *s == '#' || *s == '@' || *s == '%' ||
		    (unsigned char)*s == 0x7f)
			return false;
	return true;
}

int sm_nfs_open(struct sm_sr *sr, const char *server, const char *export, const char *sub,
		const char *version, struct xerr *err)
{
	int v = 3;
	if (version && *version) {
		/* nfs.validate_nfsversion: "3" or anything starting with "4" */
		if (strcmp(version, "3") != 0 && version[0] != '4')
			return sm_fail(err, SM_E_NFS_VERSION, "Invalid nfsversion.", "");
		v = version[0] == '4' ? 4 : 3;
	}
	if (!server_ok(server)) {
		char *why = xasprintf("'%s' is not a host name or address", server ? server : "");
		sm_fail(err, SM_E_DNS, why, "");
		free(why);
		return -1;
	}
	struct nfs_priv *p = xcalloc(1, sizeof *p);
	p->server = xstrdup(server);
	/* "/" alone would make "nfs://host/" + "/sub" */
	size_t n = strlen(export);
	while (n > 1 && export[n - 1] == '/')
		n--;
	p->export = xstrndup(export, n);
	p->version = v;
	p->prefix = xasprintf("nfs://%s%s", server, strcmp(p->export, "/") ? p->export : "");
	sr->priv = p;
	sr->fs = &sm_nfs_fs;
	sr->path = sub && *sub ? xasprintf("%s/%s", p->prefix, sub) : xstrdup(p->prefix);
	return 0;
}

void sm_nfs_close(struct sm_sr *sr)
{
	struct nfs_priv *p = sr->priv;
	if (!p || sr->fs != &sm_nfs_fs)
		return;
	if (p->nfs) {
		if (p->mounted)
			nfs_umount(p->nfs);
		nfs_destroy_context(p->nfs);
	}
	free(p->server);
	free(p->export);
	free(p->prefix);
	free(p->why);
	free(p);
	sr->priv = NULL;
}

/* Whether the failure came before the server answered the mount: nothing
 * at that address speaks NFS (SM's "NFSTarget": a refused connection, no
 * portmapper or no NFS program registered) rather than a server refusing
 * the export, which libnfs reports with the mount protocol's status. */
static bool unreachable(const char *why)
{
	return !why || !(strstr(why, "MNT3ERR") || strstr(why, "Mount failed") ||
			 strstr(why, "NFS4ERR") || strstr(why, "NFS3ERR"));
}

int sm_nfs_connect(const struct sm_sr *sr, int target_code, int mount_code, struct xerr *err)
{
	struct nfs_priv *p = priv_of(sr);
	if (!p)
		return sm_fail(err, mount_code, "not an NFS SR", "");
	if (p->mounted)
		return 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
	if (getaddrinfo(p->server, NULL, &hints, &ai) != 0) {
		char *why = xasprintf("cannot resolve %s", p->server);
		sm_fail(err, SM_E_DNS, why, "");
		free(why);
		return -1;
	}
	freeaddrinfo(ai);
	int rc = do_mount(p);
	if (rc == 0)
		return 0;
	char *why = xasprintf("%s:%s: %s", p->server, p->export, p->why ? p->why : strerror(-rc));
	sm_fail(err, unreachable(p->why) ? target_code : mount_code, why, "");
	free(why);
	return -1;
}
