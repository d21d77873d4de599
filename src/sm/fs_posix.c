/* fs_posix: the sm_fs of a local directory, plain POSIX calls. */
#include "fs.h"
#include "sm.h"
#include "../base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int p_stat(const struct sm_sr *sr, const char *path, struct stat *st)
{
	(void)sr;
	return stat(path, st);
}

static ssize_t p_pread(const struct sm_sr *sr, const char *path, void *buf, size_t n, off_t off)
{
	(void)sr;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	ssize_t r = pread(fd, buf, n, off);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static ssize_t p_pwrite(const struct sm_sr *sr, const char *path, const void *buf, size_t n, off_t off)
{
	(void)sr;
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	ssize_t r = pwrite(fd, buf, n, off);
	int e = errno;
	close(fd);
	errno = e;
	return r;
}

static int p_create_excl(const struct sm_sr *sr, const char *path, int mode, int64_t size)
{
	(void)sr;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return -1;
	if (size > 0 && ftruncate(fd, (off_t)size) < 0) {
		int e = errno;
		close(fd);
		unlink(path);
		errno = e;
		return -1;
	}
	close(fd);
	return 0;
}

static int p_unlink(const struct sm_sr *sr, const char *path)
{
	(void)sr;
	return unlink(path);
}

static int p_rename(const struct sm_sr *sr, const char *from, const char *to)
{
	(void)sr;
	return rename(from, to);
}

static int p_link(const struct sm_sr *sr, const char *from, const char *to)
{
	(void)sr;
	return link(from, to);
}

static int p_chmod(const struct sm_sr *sr, const char *path, int mode)
{
	(void)sr;
	return chmod(path, (mode_t)mode);
}

static int p_mkdir(const struct sm_sr *sr, const char *path, int mode)
{
	(void)sr;
	return mkdir(path, (mode_t)mode);
}

static int p_rmdir(const struct sm_sr *sr, const char *path)
{
	(void)sr;
	return rmdir(path);
}

static int p_list(const struct sm_sr *sr, const char *dir, char ***names, size_t *n)
{
	(void)sr;
	*names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		*names = xrealloc(*names, sizeof **names * (*n + 1));
		(*names)[(*n)++] = xstrdup(e->d_name);
	}
	closedir(d);
	return 0;
}

static int p_statvfs(const struct sm_sr *sr, const char *path, struct sm_stat *st, int64_t *avail)
{
	(void)sr;
	struct statvfs v;
	if (statvfs(path, &v) < 0)
		return -1;
	st->physical_size = (int64_t)v.f_blocks * (int64_t)v.f_frsize;
	st->physical_utilisation = (int64_t)(v.f_blocks - v.f_bfree) * (int64_t)v.f_frsize;
	*avail = (int64_t)v.f_bavail * (int64_t)v.f_frsize;
	return 0;
}

const struct sm_fs sm_posix_fs = {
	.stat = p_stat,
	.pread = p_pread,
	.pwrite = p_pwrite,
	.create_excl = p_create_excl,
	.unlink = p_unlink,
	.rename = p_rename,
	.link = p_link,
	.chmod = p_chmod,
	.mkdir = p_mkdir,
	.rmdir = p_rmdir,
	.list = p_list,
	.statvfs = p_statvfs,
	.full_backing_names = false,
};

void sm_fs_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

const struct sm_fs *sm_fs_of(const struct sm_sr *sr)
{
	return sr && sr->fs ? sr->fs : &sm_posix_fs;
}
