/* vdi_data: bytes kept at the start of a VDI's virtual disk, whatever the
 * driver's image format — what a metadata VDI holds (the pool's database
 * for disaster recovery). Written and read through qemu-img on the path
 * the driver attaches, so a remote SR (nfs://) works as a local one. */
#include "sm.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *temp_file(struct xerr *err)
{
	mkdir(sm_run_dir(), 0700);
	char *path = xasprintf("%s/vdi-data-XXXXXX", sm_run_dir());
	int fd = mkstemp(path);
	if (fd < 0) {
		sm_fail(err, SM_E_VDI_UNAVAILABLE, "cannot make a temporary file", strerror(errno));
		free(path);
		return NULL;
	}
	close(fd);
	return path;
}

static int write_all(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -1;
	const char *p = data;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			close(fd);
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return close(fd);
}

int sm_vdi_write_data(struct sm_sr *sr, const struct sm_vdi *vdi, const void *data, size_t len,
		      struct xerr *err)
{
	if (len > (size_t)vdi->virtual_size)
		return sm_fail(err, SM_E_VDI_SIZE, "the data does not fit the VDI", NULL);
	char *tmp = temp_file(err);
	if (!tmp)
		return -1;
	int rc = -1;
	struct sm_attach_info a = {0};
	if (write_all(tmp, data, len) < 0) {
		sm_fail(err, SM_E_VDI_UNAVAILABLE, "cannot write a temporary file", strerror(errno));
		goto out;
	}
	if (sr->drv->vdi_attach(sr, vdi, true, &a, err) < 0)
		goto out;
	/* -n: the image exists; only the source's length is written */
	const char *args[] = {"convert", "-n", "-f", "raw", "-O", a.format, tmp, a.path, NULL};
	rc = sm_qemu_img(args, NULL, SM_E_VDI_UNAVAILABLE, "cannot write the VDI", err);
	sr->drv->vdi_detach(sr, vdi, NULL);
	sm_attach_info_free(&a);
out:
	unlink(tmp);
	free(tmp);
	return rc;
}

int sm_vdi_read_data(struct sm_sr *sr, const struct sm_vdi *vdi, size_t len, void **out, struct xerr *err)
{
	*out = NULL;
	if (len > (size_t)vdi->virtual_size)
		len = (size_t)vdi->virtual_size;
	size_t bs = 4096, count = (len + bs - 1) / bs;
	if (!count)
		return sm_fail(err, SM_E_VDI_UNAVAILABLE, "nothing to read", NULL);
	char *tmp = temp_file(err);
	if (!tmp)
		return -1;
	struct sm_attach_info a = {0};
	int rc = -1;
	if (sr->drv->vdi_attach(sr, vdi, false, &a, err) < 0)
		goto out;
	char *ifp = xasprintf("if=%s", a.path), *ofp = xasprintf("of=%s", tmp);
	char cnt[40];
	snprintf(cnt, sizeof cnt, "count=%zu", count);
	/* -U: another host may have the image open */
	const char *args[] = {"dd", "-U", "-f", a.format, "-O", "raw", "bs=4096", cnt, ifp, ofp, NULL};
	unlink(tmp);
	rc = sm_qemu_img(args, NULL, SM_E_VDI_UNAVAILABLE, "cannot read the VDI", err);
	free(ifp);
	free(ofp);
	sr->drv->vdi_detach(sr, vdi, NULL);
	sm_attach_info_free(&a);
	if (rc == 0) {
		FILE *f = fopen(tmp, "rb");
		char *buf = xcalloc(1, len + 1);
		size_t got = f ? fread(buf, 1, len, f) : 0;
		if (f)
			fclose(f);
		if (got != len) {
			free(buf);
			rc = sm_fail(err, SM_E_VDI_UNAVAILABLE, "short read of the VDI", NULL);
		} else {
			*out = buf;
		}
	}
out:
	unlink(tmp);
	free(tmp);
	return rc;
}
