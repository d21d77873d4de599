/* foreign: staged foreign images checked and copied in (see foreign.h). */
#include "foreign.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/xv.h"
#include "sm.h"
#include "../base/jsonv.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUFSZ (1 << 20)

const char *foreign_sniff(const void *p, size_t n)
{
	const unsigned char *b = p;
	if (n >= 4 && !memcmp(b, "QFI\xfb", 4))
		return "qcow2";
	if (n >= 4 && !memcmp(b, "KDMV", 4))
		return "vmdk";
	if (n >= 8 && !memcmp(b, "conectix", 8))
		return "vhd";
	return NULL;
}

bool foreign_format(const char *fmt)
{
	return fmt && (!strcmp(fmt, "qcow2") || !strcmp(fmt, "vmdk") || !strcmp(fmt, "vhd"));
}

/* qemu's driver name for an API format name */
static const char *qemu_fmt(const char *fmt)
{
	return !strcmp(fmt, "vhd") ? "vpc" : fmt;
}

static int bad(struct xerr *err, const char *fmt, const char *why)
{
	char *msg = xasprintf("not a valid %s image: %s", fmt, why);
	xerr_set(err, ERR_IMPORT_ERROR, msg, NULL); /* copies it */
	free(msg);
	return -1;
}

const char *foreign_sniff_file(const char *path)
{
	unsigned char head[8] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	ssize_t n = pread(fd, head, sizeof head, 0);
	const char *f = n > 0 ? foreign_sniff(head, (size_t)n) : NULL;
	off_t end = lseek(fd, 0, SEEK_END);
	if (!f && end >= 512 && pread(fd, head, sizeof head, end - 512) == 8 &&
	    !memcmp(head, "conectix", 8))
		f = "vhd"; /* a fixed VHD: its footer only at the end */
	close(fd);
	return f;
}

/* The magic must agree with the format asked for: a VMDK text descriptor
 * (which names its extents' files) or any non-image never reaches qemu. A
 * fixed VHD has its footer only at the end. */
static int check_magic(const char *path, const char *fmt, struct xerr *err)
{
	const char *seen = foreign_sniff_file(path);
	if (!seen || strcmp(seen, fmt))
		return bad(err, fmt, "wrong magic");
	return 0;
}

/* Whether a qemu-img info record names any file but path: a backing file,
 * an external data file, or (VMDK) an extent elsewhere. */
static bool names_other_file(const xv *info, const char *path)
{
	if (xv_map_get(info, "backing-filename") || xv_map_get(info, "full-backing-filename") ||
	    xv_map_get(info, "backing-filename-format"))
		return true;
	const xv *data = xv_map_get(xv_map_get(info, "format-specific"), "data");
	if (xv_map_get(data, "data-file") || xv_map_get(data, "data-file-raw"))
		return true;
	const xv *ext = xv_map_get(data, "extents");
	for (size_t i = 0; ext && i < xv_len(ext); i++) {
		const char *f = xv_as_str(xv_map_get(xv_arr_get(ext, i), "filename"));
		if (!f || strcmp(f, path))
			return true;
	}
	return false;
}

int foreign_inspect(const char *path, const char *fmt, int64_t *vsize, struct xerr *err)
{
	if (!foreign_format(fmt))
		return xerr_set(err, ERR_INVALID_VALUE, "format", fmt ? fmt : "", NULL);
	if (check_magic(path, fmt, err) < 0)
		return -1;
	const char *qf = qemu_fmt(fmt);
	char *out = NULL;
	struct xerr e = XERR_INIT;
	const char *info_args[] = {"info", "--output=json", "-f", qf, path, NULL};
	int rc = sm_qemu_img(info_args, &out, SM_E_VDI_UNAVAILABLE, "info", &e);
	xerr_clear(&e);
	if (rc < 0)
		return bad(err, fmt, "qemu-img cannot open it (truncated or corrupt)");
	xv info = XV_NIL_INIT;
	rc = jsonv_parse(out, strlen(out), &info, &e);
	free(out);
	xerr_clear(&e);
	if (rc < 0 || info.kind != XV_MAP) {
		xv_free(&info);
		return bad(err, fmt, "unreadable qemu-img info");
	}
	const xv *vs = xv_map_get(&info, "virtual-size");
	*vsize = vs && vs->kind == XV_INT ? vs->u.i : -1;
	bool other = names_other_file(&info, path);
	xv_free(&info);
	if (other) {
		log_warn("import: refused %s image naming another file", fmt);
		return xerr_set(err, ERR_IMPORT_ERROR, "the image names another file (backing file, "
				"data file or extent): not accepted", NULL);
	}
	if (*vsize <= 0)
		return bad(err, fmt, "no virtual size");
	if (*vsize > FOREIGN_MAX_SIZE) {
		char m[32];
		snprintf(m, sizeof m, "%lld", (long long)FOREIGN_MAX_SIZE);
		return xerr_set(err, ERR_VDI_TOO_LARGE, "OpaqueRef:NULL", m, NULL);
	}
	/* a cut-off image opens fine but points past its end: check finds it.
	 * 0 clean, 3 leaked clusters only (harmless), 63 no check for this
	 * format (vpc refuses truncated files at open already) */
	const char *check_args[] = {"check", "-q", "-f", qf, path, NULL};
	struct sm_run r;
	int st = sm_qemu_img_status(check_args, &r);
	if (st != 0 && st != 3 && st != 63) {
		log_info("import: qemu-img check of a %s upload: status %d: %s", fmt, st,
			 r.err ? r.err : "");
		sm_run_free(&r);
		return bad(err, fmt, "qemu-img check found it truncated or corrupt");
	}
	sm_run_free(&r);
	return 0;
}

int foreign_copy(const char *path, const char *fmt, struct img *dst, bool fresh,
		 struct xerr *err)
{
	struct img *src = sm_img_open(path, qemu_fmt(fmt), false, err);
	if (!src)
		return -1;
	int rc = 0;
	int64_t size = img_size(src);
	char *buf = xmalloc(BUFSZ);
	for (int64_t off = 0; rc == 0 && off < size;) {
		int64_t len;
		bool data;
		if ((rc = img_extent(src, off, &len, &data, err)) < 0)
			break;
		if (len > BUFSZ)
			len = BUFSZ;
		if (!data)
			rc = fresh ? 0 : img_zero(dst, (size_t)len, off, err);
		else if ((rc = img_read(src, buf, (size_t)len, off, err)) == 0)
			rc = buf_is_zero(buf, (size_t)len) && fresh
				     ? 0
				     : img_write(dst, buf, (size_t)len, off, err);
		off += len;
	}
	free(buf);
	img_close(src);
	return rc;
}
