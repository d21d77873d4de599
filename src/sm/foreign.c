/* foreign: staged foreign images checked and copied in (see foreign.h);
 * the checks themselves are formats/foreign.c's. */
#include "foreign.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "sm.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUFSZ (1 << 20)

static int bad(struct xerr *err, const char *fmt, const char *why)
{
	char *msg = xasprintf("not a valid %s image: %s", fmt, why);
	xerr_set(err, ERR_IMPORT_ERROR, msg, NULL); /* copies it */
	free(msg);
	return -1;
}

/* The first FOREIGN_HEADER_BYTES of the file and the last 512; their
 * lengths in *nhead and *ntail (0 when unreadable). */
static void read_ends(int fd, unsigned char *head, size_t *nhead, unsigned char *tail,
		      size_t *ntail)
{
	ssize_t n = pread(fd, head, FOREIGN_HEADER_BYTES, 0);
	*nhead = n > 0 ? (size_t)n : 0;
	*ntail = 0;
	off_t end = lseek(fd, 0, SEEK_END);
	if (end >= 512 && pread(fd, tail, 512, end - 512) == 512)
		*ntail = 512;
}

const char *foreign_sniff_file(const char *path)
{
	unsigned char head[FOREIGN_HEADER_BYTES], tail[512];
	size_t nh, nt;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	read_ends(fd, head, &nh, tail, &nt);
	close(fd);
	const char *f = foreign_sniff(head, nh);
	return f ? f : foreign_sniff_tail(tail, nt); /* a fixed VHD: its footer only at the end */
}

/* The header must agree with the format asked for (a VMDK text descriptor,
 * which names its extents' files, or any non-image never reaches qemu) and
 * pass foreign_check_header. A fixed VHD has its footer only at the end. */
static int check_header(const char *path, const char *fmt, struct xerr *err)
{
	unsigned char head[FOREIGN_HEADER_BYTES], tail[512];
	size_t nh = 0, nt = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		read_ends(fd, head, &nh, tail, &nt);
		close(fd);
	}
	if (!strcmp(fmt, "vhd") && !foreign_sniff(head, nh) && foreign_sniff_tail(tail, nt))
		return foreign_check_header(fmt, tail, nt, err);
	return foreign_check_header(fmt, head, nh, err);
}

int foreign_inspect(const char *path, const char *fmt, int64_t *vsize, struct xerr *err)
{
	if (!foreign_format(fmt))
		return xerr_set(err, ERR_INVALID_VALUE, "format", fmt ? fmt : "", NULL);
	if (check_header(path, fmt, err) < 0)
		return -1;
	const char *qf = foreign_qemu_fmt(fmt);
	char *out = NULL;
	struct xerr e = XERR_INIT;
	const char *info_args[] = {"info", "--output=json", "-f", qf, path, NULL};
	int rc = sm_qemu_img(info_args, &out, SM_E_VDI_UNAVAILABLE, "info", &e);
	xerr_clear(&e);
	if (rc < 0)
		return bad(err, fmt, "qemu-img cannot open it (truncated or corrupt)");
	rc = foreign_check_info(out, path, fmt, vsize, err);
	free(out);
	if (rc < 0)
		return -1;
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
	struct img *src = sm_img_open(path, foreign_qemu_fmt(fmt), false, err);
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
