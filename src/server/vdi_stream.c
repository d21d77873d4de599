/* vdi_stream: GET /export_raw_vdi and PUT /import_raw_vdi. Exports read
 * the image through formats/img.c, so only allocated extents are read; raw is
 * sent as is, vhd as a dynamic VHD generated on the fly (formats/vhd_out.c), qcow2
 * as a flattened copy. Imports write through the same NBD path, skipping
 * zero blocks of a fresh image; qcow2 and VMDK uploads (and VHD ones for a
 * new VDI, whose size is only known from the image) are staged in a file
 * of the SR and checked first (sm/foreign.c). A VDI created for the upload is
 * destroyed again if the upload fails. */
#include "../sm/foreign.h"
#include "http_route.h"
#include "vdi_stream.h"
#include "../formats/chunked.h"
#include "../formats/vhd.h"
#include "../api/storage.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../formats/imgmap.h"
#include "../formats/img.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUFSZ (1 << 20)

int stream_open_image(struct route_req *rr, const char *id, bool writable, enum transfer_fresh fresh,
		      struct transfer_image *out)
{
	return transfer_image_open(&rr->ctx, id, writable, fresh, out, &rr->err);
}

/* ---- export ---- */

struct exp {
	struct transfer_image vi, base;
	int fd; /* qcow2: the flattened copy, already unlinked */
	struct vhd_out *vhd;
	int64_t last_progress;
};

static ssize_t read_raw(struct route_req *rr, uint64_t pos, char *buf, size_t max)
{
	struct exp *e = rr->h;
	int64_t size = img_size(e->vi.im);
	if ((int64_t)pos >= size)
		return 0;
	size_t n = (uint64_t)size - pos < max ? (size_t)((uint64_t)size - pos) : max;
	if (img_read(e->vi.im, buf, n, (int64_t)pos, &rr->err) < 0)
		return -1;
	if ((int64_t)pos - e->last_progress > size / 50) {
		e->last_progress = (int64_t)pos;
		route_progress(rr, (double)pos / (double)size);
	}
	return (ssize_t)n;
}

static ssize_t read_file(struct route_req *rr, uint64_t pos, char *buf, size_t max)
{
	struct exp *e = rr->h;
	ssize_t n = pread(e->fd, buf, max, (off_t)pos);
	if (n < 0)
		xerr_set(&rr->err, ERR_VDI_IO_ERROR, strerror(errno), NULL);
	return n;
}

static ssize_t read_vhd(struct route_req *rr, uint64_t pos, char *buf, size_t max)
{
	struct exp *e = rr->h;
	return vhd_out_read(e->vhd, e->vi.im, pos, buf, max, &rr->err);
}

/* A flattened qcow2 copy of the chain next to the image, unlinked at once
 * so nothing is left behind whatever happens to the transfer. */
static int qcow2_copy(struct route_req *rr, struct exp *e)
{
	/* an SR on a share has no local directory: the run directory then */
	const char *dir = e->vi.sr.path[0] == '/' ? e->vi.sr.path : sm_run_dir();
	char *tmp = xasprintf("%s/.export-%s.qcow2", dir, rr->task + 10);
	const char *args[] = {"convert", "-q", "-O", "qcow2", "-f", e->vi.att.format,
			      e->vi.att.path, tmp, NULL};
	int rc = sm_qemu_img(args, NULL, SM_E_VDI_UNAVAILABLE, "export failed", &rr->err);
	if (rc == 0) {
		e->fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (e->fd < 0)
			rc = xerr_set(&rr->err, ERR_VDI_IO_ERROR, strerror(errno), NULL);
	}
	unlink(tmp);
	free(tmp);
	return rc;
}

static int export_begin(struct route_req *rr)
{
	const char *tar = route_arg(rr, "format");
	if (tar && !strcmp(tar, "tar")) {
		rr->rt = &route_export_vdi_tar; /* xva_export.c: XVA-style chunks */
		return rr->rt->begin(rr);
	}
	struct exp *e = xcalloc(1, sizeof *e);
	e->fd = -1;
	rr->h = e;
	const char *fmt = route_arg(rr, "format");
	if (!fmt)
		fmt = "raw";
	const char *base = route_arg(rr, "base");
	if (base && !*base)
		base = NULL;
	if (strcmp(fmt, "raw") && strcmp(fmt, "vhd") && strcmp(fmt, "qcow2"))
		return xerr_set(&rr->err, ERR_INVALID_VALUE, "format", fmt, NULL);
	/* a delta needs a format that can leave blocks out */
	if (base && strcmp(fmt, "vhd"))
		return xerr_set(&rr->err, ERR_INVALID_VALUE, "base", "deltas are exported as format=vhd",
				NULL);
	if (stream_open_image(rr, route_arg(rr, "vdi"), false, TRANSFER_EXISTING, &e->vi) < 0)
		return -1;
	if (base && stream_open_image(rr, base, false, TRANSFER_EXISTING, &e->base) < 0)
		return -1;
	if (!strcmp(fmt, "raw"))
		return route_send_stream(rr, (uint64_t)img_size(e->vi.im), "application/octet-stream",
					 NULL, read_raw);
	if (!strcmp(fmt, "vhd")) {
		e->vhd = vhd_out_new(e->vi.im, e->base.im, e->vi.v.uuid, &rr->err);
		if (!e->vhd)
			return -1;
		return route_send_stream(rr, vhd_out_size(e->vhd), "application/vhd", NULL, read_vhd);
	}
	if (qcow2_copy(rr, e) < 0)
		return -1;
	struct stat st;
	fstat(e->fd, &st);
	return route_send_stream(rr, (uint64_t)st.st_size, "application/x-qemu-disk", NULL, read_file);
}

static void export_release(struct route_req *rr)
{
	struct exp *e = rr->h;
	if (!e)
		return;
	transfer_image_close(&e->vi);
	transfer_image_close(&e->base);
}

static void export_free(struct route_req *rr)
{
	struct exp *e = rr->h;
	if (!e)
		return;
	export_release(rr);
	if (e->fd >= 0)
		close(e->fd);
	vhd_out_free(e->vhd);
	free(e);
}

const struct route route_export_raw_vdi = {
	.method = "GET", .path = "/export_raw_vdi", .begin = export_begin,
	.release = export_release, .free = export_free,
};

/* ---- import ---- */

struct imp {
	struct transfer_image vi;
	char new_vdi[REF_STRLEN + 1]; /* created for this upload: destroyed on failure */
	bool fresh;                   /* all zero before: zero blocks need no write */
	char *buf;
	size_t fill;
	int64_t off; /* image offset of buf */
	int64_t limit; /* bytes of the body that are disk data */
	struct vhd_in *vhd; /* format=vhd: the parser */
	const char *staged; /* qcow2, vmdk (vhd for a new VDI): its format */
	char *tmp; /* ... and the file the upload lands in first */
	int tfd;
	int64_t last_progress;
	struct chunked *ck; /* chunked=true: the chunk reader (formats/chunked.h) */
};

static const struct chunked_ops ck_ops; /* below */

int import_target_sr(struct route_req *rr, char out[REF_STRLEN + 1])
{
	const char *sr = route_arg(rr, "sr_id");
	return transfer_target_sr(&rr->ctx, sr ? sr : route_arg(rr, "sr_uuid"), out, &rr->err);
}

/* Whether factor times the announced upload fits in sr (an upload of
 * unknown length is not checked). */
static int space_check(struct route_req *rr, struct sm_sr *sr, int factor)
{
	if (!rr->has_length || rr->content_length >= ROUTE_UNKNOWN_LENGTH)
		return 0;
	return sm_space_check(sr, factor * (int64_t)rr->content_length, &rr->err);
}

int import_open_target_sr(struct route_req *rr, char sr_ref[REF_STRLEN + 1], struct sm_sr *sr,
			  int factor)
{
	if (import_target_sr(rr, sr_ref) < 0 || transfer_sr_open(&rr->ctx, sr_ref, sr, &rr->err) < 0)
		return -1;
	if (space_check(rr, sr, factor) < 0) {
		sm_sr_close(sr);
		return -1;
	}
	return 0;
}

/* A new VDI of size bytes in sr_id (or the pool's default SR). */
static int create_vdi(struct route_req *rr, struct imp *im, int64_t size)
{
	char sr_ref[REF_STRLEN + 1];
	if (import_target_sr(rr, sr_ref) < 0)
		return -1;
	return transfer_vdi_create_user(&rr->ctx, sr_ref, "imported disk", size, im->new_vdi, &rr->err);
}

static int flush_buf(struct route_req *rr, struct imp *im)
{
	if (!im->fill)
		return 0;
	int rc = 0;
	if (im->off + (int64_t)im->fill > img_size(im->vi.im))
		rc = xerr_set(&rr->err, ERR_IMPORT_ERROR, "the upload is larger than the disk", NULL);
	else if (buf_is_zero(im->buf, im->fill))
		rc = im->fresh ? 0 : img_zero(im->vi.im, im->fill, im->off, &rr->err);
	else {
		/* the full buffer goes to the image as it is; a fresh one takes its place */
		rc = img_write_take(im->vi.im, im->buf, im->fill, im->off, &rr->err);
		im->buf = img_wbuf(BUFSZ);
	}
	im->off += (int64_t)im->fill;
	im->fill = 0;
	int64_t total = img_size(im->vi.im);
	if (rc == 0 && im->off - im->last_progress > total / 50) {
		im->last_progress = im->off;
		route_progress(rr, (double)im->off / (double)total);
	}
	return rc;
}

/* Data the VHD parser found, at its place on the disk. */
static int vhd_write(void *arg, int64_t off, const char *p, size_t n, struct xerr *err)
{
	struct route_req *rr = arg;
	struct imp *im = rr->h;
	if (off + (int64_t)n > img_size(im->vi.im))
		return xerr_set(err, ERR_IMPORT_ERROR, "the upload is larger than the disk", NULL);
	if (buf_is_zero(p, n))
		return im->fresh ? 0 : img_zero(im->vi.im, n, off, err);
	return img_write(im->vi.im, p, n, off, err);
}

/* The staging file in the target SR (the VDI's, else sr_id's), after a
 * check that the upload fits there. */
static int stage_open(struct route_req *rr, struct imp *im, const char *vdi)
{
	if (vdi) {
		if (stream_open_image(rr, vdi, true, TRANSFER_EXISTING, &im->vi) < 0 ||
		    space_check(rr, &im->vi.sr, 1) < 0)
			return -1;
	} else {
		char sr_ref[REF_STRLEN + 1];
		if (import_open_target_sr(rr, sr_ref, &im->vi.sr, 1) < 0)
			return -1;
	}
	im->tmp = xasprintf("%s/.import-%s.%s", transfer_staging_dir(&im->vi.sr), rr->task + 10, im->staged);
	im->tfd = open(im->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (im->tfd < 0)
		return xerr_set(&rr->err, ERR_VDI_IO_ERROR, strerror(errno), NULL);
	return 0;
}

static int import_begin(struct route_req *rr)
{
	const char *tar = route_arg(rr, "format");
	if (tar && !strcmp(tar, "tar")) {
		rr->rt = &route_import_vdi_tar; /* xva_import.c: XVA-style chunks */
		return rr->rt->begin(rr);
	}
	struct imp *im = xcalloc(1, sizeof *im);
	im->tfd = -1;
	rr->h = im;
	const char *fmt = route_arg(rr, "format");
	if (!fmt)
		fmt = "raw";
	if (strcmp(fmt, "raw") && !foreign_format(fmt))
		return xerr_set(&rr->err, ERR_INVALID_VALUE, "format", fmt, NULL);
	const char *vdi = route_arg(rr, "vdi");
	if (route_arg_bool(rr, "chunked")) {
		/* as xapi: raw only; the pieces do not say how large the disk is */
		if (strcmp(fmt, "raw"))
			return xerr_set(&rr->err, ERR_IMPORT_ERROR_CANNOT_HANDLE_CHUNKED, NULL);
		if (!vdi || !*vdi)
			return xerr_set(&rr->err, ERR_IMPORT_ERROR, "a chunked upload needs vdi=", NULL);
		im->ck = xcalloc(1, sizeof *im->ck);
	}
	bool fresh_vdi = !vdi || !*vdi;
	if (foreign_format(fmt) && (strcmp(fmt, "vhd") || fresh_vdi))
		im->staged = fmt;
	if (fresh_vdi && !im->staged) {
		if (!rr->has_length || rr->content_length >= ROUTE_UNKNOWN_LENGTH)
			return xerr_set(&rr->err, ERR_IMPORT_ERROR, "a new VDI needs a Content-Length",
					NULL);
		if (create_vdi(rr, im, (int64_t)rr->content_length) < 0)
			return -1;
		vdi = im->new_vdi;
		im->fresh = true;
	}
	if (im->staged)
		return stage_open(rr, im, fresh_vdi ? NULL : vdi);
	/* raw uploads come in order: into a new or still empty VDI they are
	 * written without qemu-nbd */
	int orc = im->fresh		  ? stream_open_image(rr, vdi, true, TRANSFER_FRESH, &im->vi)
		  : !strcmp(fmt, "raw") ? stream_open_image(rr, vdi, true, TRANSFER_FRESH_IF_EMPTY, &im->vi)
					  : stream_open_image(rr, vdi, true, TRANSFER_EXISTING, &im->vi);
	if (orc < 0)
		return -1;
	if (!strcmp(fmt, "vhd")) {
		im->vhd = vhd_in_new(vhd_write, rr, rr->has_length ? (int64_t)rr->content_length : -1);
		return 0;
	}
	if (im->ck)
		chunked_init(im->ck, &ck_ops, rr, (uint64_t)img_size(im->vi.im));
	im->buf = img_wbuf(BUFSZ);
	return 0;
}

static int buffer_data(struct route_req *rr, struct imp *im, const char *p, size_t n)
{
	while (n) {
		size_t k = BUFSZ - im->fill < n ? BUFSZ - im->fill : n;
		memcpy(im->buf + im->fill, p, k);
		im->fill += k;
		p += k;
		n -= k;
		if (im->fill == BUFSZ && flush_buf(rr, im) < 0)
			return -1;
	}
	return 0;
}

/* Moves the write position forward to off; the gap reads as zeros. */
static int skip_to(struct route_req *rr, struct imp *im, int64_t off)
{
	if (flush_buf(rr, im) < 0)
		return -1;
	if (off < im->off)
		return xerr_set(&rr->err, ERR_IMPORT_ERROR, "chunks must come in ascending order", NULL);
	if (off > img_size(im->vi.im))
		return xerr_set(&rr->err, ERR_IMPORT_ERROR, "the upload is larger than the disk", NULL);
	if (!im->fresh && off > im->off && img_zero(im->vi.im, (size_t)(off - im->off), im->off, &rr->err) < 0)
		return -1;
	im->off = off;
	return 0;
}

/* The chunked upload's pieces (formats/chunked.c reads the framing). */
static int ck_piece(void *arg, uint64_t off, uint32_t len, struct xerr *err)
{
	struct route_req *rr = arg;
	struct imp *im = rr->h;
	(void)len;
	(void)err;
	if ((int64_t)off != im->off + (int64_t)im->fill)
		return skip_to(rr, im, (int64_t)off);
	return 0;
}

static int ck_data(void *arg, const char *p, size_t n, struct xerr *err)
{
	struct route_req *rr = arg;
	(void)err;
	return buffer_data(rr, rr->h, p, n);
}

static int ck_end(void *arg, struct xerr *err)
{
	struct route_req *rr = arg;
	struct imp *im = rr->h;
	(void)err;
	return skip_to(rr, im, img_size(im->vi.im));
}

static const struct chunked_ops ck_ops = {.piece = ck_piece, .data = ck_data, .end = ck_end};

static int import_data(struct route_req *rr, const char *p, size_t n)
{
	struct imp *im = rr->h;
	if (im->ck)
		return chunked_feed(im->ck, p, n, &rr->err);
	if (im->vhd)
		return vhd_in_feed(im->vhd, p, n, &rr->err);
	if (im->tfd >= 0) {
		while (n) {
			ssize_t w = write(im->tfd, p, n);
			if (w < 0)
				return xerr_set(&rr->err, ERR_VDI_IO_ERROR, strerror(errno), NULL);
			p += w;
			n -= (size_t)w;
		}
		return 0;
	}
	return buffer_data(rr, im, p, n);
}

/* A staged upload: checked (sm/foreign.c), then copied into the VDI, which
 * is made now for an upload that named none. */
static int import_staged(struct route_req *rr, struct imp *im)
{
	int64_t vsize;
	if (foreign_inspect(im->tmp, im->staged, &vsize, &rr->err) < 0)
		return -1;
	if (!im->vi.im) {
		transfer_image_close(&im->vi); /* only the SR was open, for staging */
		if (create_vdi(rr, im, vsize) < 0 || stream_open_image(rr, im->new_vdi, true, TRANSFER_EXISTING, &im->vi) < 0)
			return -1;
		im->fresh = true;
	}
	if (vsize > img_size(im->vi.im)) {
		char n[32];
		snprintf(n, sizeof n, "%lld", (long long)vsize);
		return xerr_set(&rr->err, ERR_VDI_TOO_SMALL, im->vi.ref, n, NULL);
	}
	return foreign_copy(im->tmp, im->staged, im->vi.im, im->fresh, &rr->err);
}

static void drop_staging(struct imp *im)
{
	if (im->tfd >= 0) {
		close(im->tfd);
		im->tfd = -1;
	}
	if (im->tmp) {
		unlink(im->tmp);
		free(im->tmp);
		im->tmp = NULL;
	}
}

static int import_finish(struct route_req *rr)
{
	struct imp *im = rr->h;
	int rc;
	if (im->tfd >= 0) {
		close(im->tfd);
		im->tfd = -1;
		rc = import_staged(rr, im);
		drop_staging(im); /* before the answer: nothing of it is left then */
	} else if (im->vhd) {
		rc = vhd_in_end(im->vhd, &rr->err);
	} else if (im->ck && !im->ck->ended) {
		rc = xerr_set(&rr->err, ERR_IMPORT_ERROR_PREMATURE_EOF, NULL);
	} else {
		rc = flush_buf(rr, im);
	}
	if (rc == 0)
		rc = img_flush(im->vi.im, &rr->err);
	transfer_image_close(&im->vi);
	if (rc == 0 && im->new_vdi[0])
		rr->result = xv_str(im->new_vdi);
	return rc;
}

/* Raw and VHD uploads of unknown length end when the client hangs up. */
static bool import_complete(struct route_req *rr)
{
	struct imp *im = rr->h;
	if (rr->content_length < ROUTE_UNKNOWN_LENGTH)
		return false;
	if (im->tfd >= 0) /* a staged image is checked whole before use */
		return true;
	if (im->ck)
		return im->ck->ended;
	struct xerr e = XERR_INIT;
	bool ok = !im->vhd || vhd_in_end(im->vhd, &e) == 0;
	xerr_clear(&e);
	return ok;
}

static void import_abort(struct route_req *rr)
{
	struct imp *im = rr->h;
	if (!im)
		return;
	/* the image must be closed (qemu-nbd gone) before its file goes */
	transfer_image_close(&im->vi);
	drop_staging(im);
	if (im->new_vdi[0]) {
		transfer_vdi_discard(&rr->ctx, im->new_vdi);
	}
}

static void import_free(struct route_req *rr)
{
	struct imp *im = rr->h;
	if (!im)
		return;
	transfer_image_close(&im->vi);
	drop_staging(im);
	img_wbuf_free(im->buf);
	vhd_in_free(im->vhd);
	free(im->ck);
	free(im);
}

const struct route route_import_raw_vdi = {
	.method = "PUT", .path = "/import_raw_vdi", .begin = import_begin, .data = import_data,
	.finish = import_finish, .complete = import_complete, .abort = import_abort,
	.free = import_free,
};
