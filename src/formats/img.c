/* img: disk images through qemu-nbd and libnbd, or read straight from
 * their files with an extent map (see img.h). The
 * allocation map is fetched lazily, a window at a time, and cached, since
 * readers walk the image front to back. */
#include "img.h"
#include "imgmap.h"
#include "qcow2w.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <libnbd.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define WINDOW (1LL << 30) /* block status asked per request */

struct img {
	struct imgmap *map; /* read-only local chains: read directly, no NBD */
	/* new local qcow2 images: written in order to tmp, renamed to path
	 * by img_flush */
	struct qcow2w *qw;
	char *qw_path, *qw_tmp;
	bool qw_done;
	struct nbd_handle *h;
	int aio_err; /* errno of a failed queued write, reported on the next call */
	int64_t size;
	struct imgmap_ext *ext; /* cached extents, contiguous from ext_from */
	size_t n, cap;
	int64_t ext_from, ext_to;
};

/* VDI_IO_ERROR carries one description of the failure, as xapi's do
 * ("Device I/O errors"): what failed, on what, and why, in one string. */
static int io_fail(struct xerr *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int io_fail(struct xerr *err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return xerr_set(err, ERR_VDI_IO_ERROR, msg, NULL);
}

static int nbd_fail(struct xerr *err, const char *what)
{
	return io_fail(err, "%s: %s", what, nbd_get_error() ? nbd_get_error() : "");
}

struct img *img_open(const char *path, const char *format, bool writable, struct imgmap *map,
		     struct xerr *err)
{
	if (map && writable) {
		imgmap_free(map);
		map = NULL;
	}
	if (map) {
		struct img *im = xcalloc(1, sizeof *im);
		im->map = map;
		im->size = map->size;
		return im;
	}
	struct nbd_handle *h = nbd_create();
	if (!h) {
		nbd_fail(err, "nbd_create");
		return NULL;
	}
	nbd_add_meta_context(h, LIBNBD_CONTEXT_BASE_ALLOCATION);
	const char *fmt = format ? format : "raw";
	/* Read-only opens skip the image lock (--image-opts, file.locking=off):
	 * a running VM's QEMU holds it, and xapi exports such disks too. */
	struct strbuf opts = STRBUF_INIT;
	sb_printf(&opts, "driver=%s,file.driver=file,file.locking=off,file.filename=", fmt);
	for (const char *p = path; *p; p++) { /* commas are doubled in option values */
		if (*p == ',')
			sb_putc(&opts, ',');
		sb_putc(&opts, *p);
	}
	char *ro_argv[] = {"qemu-nbd", "-r", "--image-opts", opts.buf, NULL};
	/* a share's URL (nfs://…) has no local file to unlock: opened as is */
	char *ro_url_argv[] = {"qemu-nbd", "-r", "-f", (char *)fmt, (char *)path, NULL};
	char *rw_argv[] = {"qemu-nbd", "-f", (char *)fmt, "--cache=writeback", "--discard=unmap",
			   (char *)path, NULL};
	int rc = nbd_connect_systemd_socket_activation(h, writable ? rw_argv
								  : path[0] == '/' ? ro_argv : ro_url_argv);
	sb_free(&opts);
	if (rc < 0) {
		nbd_fail(err, "cannot serve the image");
		nbd_close(h);
		return NULL;
	}
	struct img *im = xcalloc(1, sizeof *im);
	im->h = h;
	im->size = nbd_get_size(h);
	if (im->size < 0) {
		nbd_fail(err, "nbd_get_size");
		img_close(im);
		return NULL;
	}
	return im;
}

struct img *img_open_fresh(const char *path, int64_t size, struct xerr *err)
{
	char *tmp = xasprintf("%s.import", path);
	unlink(tmp); /* one an earlier daemon left, never anyone else's */
	struct qcow2w *w = qcow2w_create(tmp, size);
	if (!w) {
		io_fail(err, "cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return NULL;
	}
	struct img *im = xcalloc(1, sizeof *im);
	im->qw = w;
	im->size = size;
	im->qw_path = xstrdup(path);
	im->qw_tmp = tmp;
	return im;
}

static int qw_fail(struct img *im, struct xerr *err)
{
	return io_fail(err, "write %s: %s", im->qw_tmp, strerror(errno));
}

void img_close(struct img *im)
{
	if (!im)
		return;
	if (im->qw) {
		qcow2w_free(im->qw);
		if (!im->qw_done)
			unlink(im->qw_tmp); /* unfinished: the VDI keeps its empty image */
		free(im->qw_path);
		free(im->qw_tmp);
	}
	if (im->h) {
		nbd_shutdown(im->h, 0);
		nbd_close(im->h);
	}
	imgmap_free(im->map);
	free(im->ext);
	free(im);
}

int64_t img_size(const struct img *im)
{
	return im->size;
}

static int status_cb(void *user, const char *metacontext, uint64_t offset, uint32_t *entries,
		     size_t nr, int *error)
{
	struct img *im = user;
	(void)error;
	if (strcmp(metacontext, LIBNBD_CONTEXT_BASE_ALLOCATION))
		return 0;
	int64_t off = (int64_t)offset;
	for (size_t i = 0; i + 1 < nr; i += 2) {
		bool data = !(entries[i + 1] & LIBNBD_STATE_ZERO);
		int64_t len = entries[i];
		if (im->n && im->ext[im->n - 1].data == data &&
		    im->ext[im->n - 1].off + im->ext[im->n - 1].len == off) {
			im->ext[im->n - 1].len += len;
		} else {
			if (im->n == im->cap) {
				im->cap = im->cap ? im->cap * 2 : 64;
				im->ext = xrealloc(im->ext, im->cap * sizeof *im->ext);
			}
			im->ext[im->n++] = (struct imgmap_ext){.off = off, .len = len, .data = data};
		}
		off += len;
	}
	im->ext_to = off;
	return 0;
}

static int fetch(struct img *im, int64_t off, struct xerr *err)
{
	im->n = 0;
	im->ext_from = im->ext_to = off;
	int64_t want = im->size - off < WINDOW ? im->size - off : WINDOW;
	if (nbd_can_meta_context(im->h, LIBNBD_CONTEXT_BASE_ALLOCATION) != 1) {
		im->ext = xrealloc(im->ext, sizeof *im->ext);
		im->ext[0] = (struct imgmap_ext){.off = off, .len = want, .data = true};
		im->n = 1;
		im->ext_to = off + want;
		return 0;
	}
	nbd_extent_callback cb = {.callback = status_cb, .user_data = im};
	if (nbd_block_status(im->h, (uint64_t)want, (uint64_t)off, cb, 0) < 0)
		return nbd_fail(err, "block status");
	if (im->ext_to <= off)
		return nbd_fail(err, "block status made no progress");
	return 0;
}

int img_extent(struct img *im, int64_t off, int64_t *len, bool *data, struct xerr *err)
{
	if (off >= im->size) {
		*len = 0;
		*data = false;
		return 0;
	}
	if (im->qw)
		return xerr_set(err, ERR_VDI_IO_ERROR, "a new image being written is not read", NULL);
	if (im->map) {
		const struct imgmap_ext *e = imgmap_find(im->map, off);
		*len = e->off + e->len - off;
		*data = e->data;
		return 0;
	}
	if (off < im->ext_from || off >= im->ext_to) {
		if (fetch(im, off, err) < 0)
			return -1;
	}
	const struct imgmap_ext *e = imgmap_ext_find(im->ext, im->n, off);
	*len = e->off + e->len - off;
	if (off + *len > im->size)
		*len = im->size - off;
	*data = e->data;
	return 0;
}

int img_read(struct img *im, void *buf, size_t n, int64_t off, struct xerr *err)
{
	if (im->qw)
		return xerr_set(err, ERR_VDI_IO_ERROR, "a new image being written is not read", NULL);
	if (im->map) {
		if (imgmap_read(im->map, buf, n, off) < 0)
			return io_fail(err, "read: %s", strerror(errno));
		return 0;
	}
	char *p = buf;
	while (n) {
		int64_t len;
		bool data;
		if (img_extent(im, off, &len, &data, err) < 0)
			return -1;
		if (len <= 0)
			return xerr_set(err, ERR_VDI_IO_ERROR, "read beyond the end", NULL);
		size_t k = (uint64_t)len < n ? (size_t)len : n;
		if (!data)
			memset(p, 0, k);
		else if (nbd_pread(im->h, p, k, (uint64_t)off, 0) < 0)
			return nbd_fail(err, "read");
		p += k;
		off += (int64_t)k;
		n -= k;
	}
	return 0;
}

/* Writes are queued (a copy of the data each), so receiving the next
 * piece overlaps qemu-nbd writing this one; at most MAX_QUEUED in flight.
 * NBD may complete them in any order: callers never write a range twice
 * (transfers are sequential), and img_flush waits for them all. */
#define MAX_QUEUED 8

static int write_done(void *user, int *error)
{
	struct img *im = *(struct img **)user; /* struct wbuf starts with it */
	if (*error && !im->aio_err)
		im->aio_err = *error;
	return 1; /* retire the command */
}

static int aio_check(struct img *im, struct xerr *err)
{
	if (im->aio_err)
		return io_fail(err, "write: %s", strerror(im->aio_err));
	return 0;
}

/* A write buffer: the image pointer the completion needs, then the data. */
struct wbuf {
	struct img *im;
	char data[];
};

void *img_wbuf(size_t n)
{
	struct wbuf *w = xmalloc(sizeof *w + n);
	return w->data;
}

void img_wbuf_free(void *buf)
{
	if (buf)
		free((char *)buf - offsetof(struct wbuf, data));
}

int img_write_take(struct img *im, void *buf, size_t n, int64_t off, struct xerr *err)
{
	struct wbuf *w = (struct wbuf *)(void *)((char *)buf - offsetof(struct wbuf, data));
	if (im->qw) {
		int rc = qcow2w_write(im->qw, w->data, n, off);
		free(w);
		return rc < 0 ? qw_fail(im, err) : 0;
	}
	im->ext_from = im->ext_to = 0; /* the cached map is stale now */
	while (nbd_aio_in_flight(im->h) >= MAX_QUEUED)
		if (nbd_poll(im->h, -1) < 0) {
			free(w);
			return nbd_fail(err, "write");
		}
	if (aio_check(im, err) < 0) {
		free(w);
		return -1;
	}
	w->im = im;
	/* the free callback drops the buffer once NBD is done with it */
	nbd_completion_callback cb = {.callback = write_done, .user_data = w, .free = free};
	if (nbd_aio_pwrite(im->h, w->data, n, (uint64_t)off, cb, 0) < 0)
		return nbd_fail(err, "write");
	nbd_poll(im->h, 0); /* move what is ready along without waiting */
	return 0;
}

int img_write(struct img *im, const void *buf, size_t n, int64_t off, struct xerr *err)
{
	if (im->qw)
		return qcow2w_write(im->qw, buf, n, off) < 0 ? qw_fail(im, err) : 0;
	void *copy = img_wbuf(n);
	memcpy(copy, buf, n);
	return img_write_take(im, copy, n, off, err);
}

int img_zero(struct img *im, size_t n, int64_t off, struct xerr *err)
{
	if (im->qw)
		return 0; /* a new image reads as zeros where nothing was written */
	im->ext_from = im->ext_to = 0;
	if (nbd_zero(im->h, n, (uint64_t)off, 0) < 0)
		return nbd_fail(err, "write zeroes");
	return 0;
}

int img_flush(struct img *im, struct xerr *err)
{
	if (im->qw) {
		if (im->qw_done)
			return 0;
		if (qcow2w_finish(im->qw) < 0)
			return qw_fail(im, err);
		/* the finished image takes the VDI's name in one step */
		if (rename(im->qw_tmp, im->qw_path) < 0)
			return io_fail(err, "rename to %s: %s", im->qw_path, strerror(errno));
		im->qw_done = true;
		return 0;
	}
	while (nbd_aio_in_flight(im->h) > 0)
		if (nbd_poll(im->h, -1) < 0)
			return nbd_fail(err, "write");
	if (aio_check(im, err) < 0)
		return -1;
	if (nbd_flush(im->h, 0) < 0)
		return nbd_fail(err, "flush");
	return 0;
}

bool buf_is_zero(const void *buf, size_t n)
{
	const unsigned char *p = buf;
	/* a word at a time once aligned */
	while (n && ((uintptr_t)p & 7)) {
		if (*p)
			return false;
		p++;
		n--;
	}
	const uint64_t *w = (const uint64_t *)(const void *)p;
	for (; n >= 8; n -= 8)
		if (*w++)
			return false;
	p = (const unsigned char *)w;
	while (n--)
		if (*p++)
			return false;
	return true;
}
