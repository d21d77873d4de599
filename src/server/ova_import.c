/* ova_import: PUT /import of something that is not an XVA — a Xenon
 * extension, since xapi's /import takes XVAs only and Xen Orchestra parses
 * OVAs and VMDKs in the browser. The body's first bytes decide:
 *  - a tar whose first member is an .ovf: an OVA package; its disks are
 *    staged in files of the SR as they stream in, and the VM gets the
 *    OVF's name, vCPUs and memory;
 *  - a qcow2, VMDK (sparse) or dynamic VHD image: a VM with that one disk
 *    (named by the name_label query argument);
 *  - anything else goes to the XVA importer (xva_import.c).
 * Nothing is made before the whole body is in: then each disk is checked
 * (sm/foreign.c) and copied into a new VDI, and the VM and VBDs are created
 * (api/transfer_ova.c); a failure at any point removes what was made and
 * the staged files. What the body, its members and the new VM are is
 * decided in formats/ova.c; here are the HTTP route and the staging. */
#include "../sm/foreign.h"
#include "http_route.h"
#include "../formats/ova.h"
#include "../formats/tar.h"
#include "vdi_stream.h"
#include "../formats/xva.h"
#include "../api/storage.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_FILES 64

struct staged {
	char *name; /* the member's name in the package (never used as a path) */
	char *path; /* our file in the SR */
	int fd;
};

struct oin {
	bool ova; /* else one bare image */
	struct sm_sr sr;
	bool sr_open;
	char sr_ref[REF_STRLEN + 1];
	struct route_req *rr;
	struct tar_reader tar; /* the OVA's stream */
	bool in_ovf;
	struct strbuf ovf;
	struct staged files[MAX_FILES];
	size_t nfiles;
	int cur; /* the file being written, -1 none */
	/* made at the end, removed on failure */
	char vm[REF_STRLEN + 1];
	char (*vdis)[REF_STRLEN + 1];
	size_t nvdis;
};

static int stage_new(struct route_req *rr, struct oin *o, const char *name)
{
	if (o->nfiles == MAX_FILES)
		return xerr_set(&rr->err, ERR_IMPORT_ERROR, "too many files in the package", NULL);
	struct staged *f = &o->files[o->nfiles];
	f->path = xasprintf("%s/.import-%s-%zu", transfer_staging_dir(&o->sr), rr->task + 10, o->nfiles);
	f->fd = open(f->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (f->fd < 0) {
		free(f->path);
		f->path = NULL;
		return xerr_set(&rr->err, ERR_VDI_IO_ERROR, strerror(errno), NULL);
	}
	f->name = xstrdup(name);
	o->cur = (int)o->nfiles++;
	return 0;
}

static int stage_write(struct route_req *rr, struct oin *o, const char *p, size_t n)
{
	int fd = o->files[o->cur].fd;
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0)
			return xerr_set(&rr->err, ERR_VDI_IO_ERROR, strerror(errno), NULL);
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One member of the OVA begins: the descriptor is kept in memory, a
 * manifest or certificate skipped, anything else staged. */
static int member(void *arg, const char *name, uint64_t size)
{
	struct oin *o = arg;
	struct route_req *rr = o->rr;
	o->cur = -1;
	o->in_ovf = false;
	switch (ova_member_kind(name, size)) {
	case OVA_MEMBER_OVF:
		if (o->ovf.len || size > OVA_MAX_OVF)
			return xerr_set(&rr->err, ERR_IMPORT_ERROR, "one .ovf of at most 4 MiB expected",
					NULL);
		o->in_ovf = true;
		return 0;
	case OVA_MEMBER_SKIP:
		return 0;
	case OVA_MEMBER_FILE:
		break;
	}
	return stage_new(rr, o, name);
}

static int member_data(void *arg, const char *p, size_t n)
{
	struct oin *o = arg;
	if (o->in_ovf)
		sb_add(&o->ovf, p, n);
	else if (o->cur >= 0)
		return stage_write(o->rr, o, p, n);
	return 0;
}

static int member_end(void *arg)
{
	(void)arg;
	return 0;
}

static const struct tar_reader_ops ova_members = {member, member_data, member_end};

/* ---- the route ---- */

static int oin_begin(struct route_req *rr, bool ova)
{
	struct oin *o = xcalloc(1, sizeof *o);
	rr->h = o;
	o->ova = ova;
	o->cur = -1;
	o->rr = rr;
	tar_reader_init(&o->tar, &ova_members, o);
	/* the staged files and then the VDIs: twice the upload at worst */
	if (import_open_target_sr(rr, o->sr_ref, &o->sr, 2) < 0)
		return -1;
	o->sr_open = true;
	return ova ? 0 : stage_new(rr, o, "disk");
}

static int oin_data(struct route_req *rr, const char *p, size_t n)
{
	struct oin *o = rr->h;
	if (!o->ova)
		return stage_write(rr, o, p, n);
	int rc = tar_reader_feed(&o->tar, p, n);
	if (rc == TAR_BAD_HEADER)
		return xerr_set(&rr->err, ERR_IMPORT_ERROR, "corrupt tar header", NULL);
	return rc;
}

/* A new VDI holding the staged image f. */
static int make_disk(struct route_req *rr, struct oin *o, struct staged *f,
		     const struct ova_disk *d)
{
	const char *fmt = foreign_sniff_file(f->path);
	if (!fmt)
		return xerr_set(&rr->err, ERR_IMPORT_ERROR, "a disk of the package is not a qcow2, "
				"VMDK or VHD image", NULL);
	int64_t vsize;
	if (foreign_inspect(f->path, fmt, &vsize, &rr->err) < 0)
		return -1;
	char ref[REF_STRLEN + 1];
	if (transfer_vdi_create_user(&rr->ctx, o->sr_ref, d->label,
				     d->capacity > vsize ? d->capacity : vsize, ref, &rr->err) < 0)
		return -1;
	o->vdis = xrealloc(o->vdis, (o->nvdis + 1) * sizeof *o->vdis);
	snprintf(o->vdis[o->nvdis++], REF_STRLEN + 1, "%s", ref);
	struct transfer_image vi;
	int rc = stream_open_image(rr, o->vdis[o->nvdis - 1], true, TRANSFER_EXISTING, &vi);
	if (rc == 0)
		rc = foreign_copy(f->path, fmt, vi.im, true, &rr->err);
	if (rc == 0)
		rc = img_flush(vi.im, &rr->err);
	transfer_image_close(&vi);
	/* the staged copy is not needed any more: free its space now */
	unlink(f->path);
	return rc;
}

static struct staged *find_file(struct oin *o, const char *href)
{
	for (size_t i = 0; i < o->nfiles; i++)
		if (!strcmp(o->files[i].name, href))
			return &o->files[i];
	return NULL;
}

/* The disks, then the VM and its VBDs. */
static int make_all(struct route_req *rr, struct oin *o, const struct ova_vm *vm)
{
	for (size_t i = 0; i < vm->ndisks; i++) {
		const struct ova_disk *d = &vm->disks[i];
		struct staged *f = d->href ? find_file(o, d->href) : &o->files[0];
		if (!f) {
			char *msg = xasprintf("a disk file of the OVF is missing: %s", d->href);
			xerr_set(&rr->err, ERR_IMPORT_ERROR, msg, NULL);
			free(msg);
			return -1;
		}
		if (make_disk(rr, o, f, d) < 0)
			return -1;
	}
	return transfer_ova_vm_create(&rr->ctx, vm, (const char (*)[REF_STRLEN + 1])o->vdis, o->nvdis,
				      o->vm, &rr->err);
}

static int finish_ova(struct route_req *rr, struct oin *o)
{
	if (!tar_reader_ended(&o->tar))
		return xerr_set(&rr->err, ERR_IMPORT_ERROR_PREMATURE_EOF, NULL);
	struct ovf ovf;
	if (ovf_parse(o->ovf.buf ? o->ovf.buf : "", o->ovf.len, &ovf, &rr->err) < 0)
		return -1;
	struct ova_vm vm;
	int rc = ova_vm_from_ovf(&ovf, &vm, &rr->err);
	ovf_free(&ovf);
	if (rc < 0)
		return -1;
	rc = make_all(rr, o, &vm);
	ova_vm_free(&vm);
	return rc;
}

static int oin_build(struct route_req *rr, struct oin *o);

/* The staged files, gone before the answer so that a client never finds
 * them in the SR after it. */
static void drop_staged(struct oin *o)
{
	for (size_t i = 0; i < o->nfiles; i++) {
		if (o->files[i].fd >= 0)
			close(o->files[i].fd);
		o->files[i].fd = -1;
		if (o->files[i].path)
			unlink(o->files[i].path);
	}
}

static int oin_finish(struct route_req *rr)
{
	struct oin *o = rr->h;
	for (size_t i = 0; i < o->nfiles; i++) {
		close(o->files[i].fd);
		o->files[i].fd = -1;
	}
	int rc = oin_build(rr, o);
	drop_staged(o);
	if (rc < 0)
		return -1;
	/* the result xapi's /import gives: the new VM's ref in an array */
	rr->result = xv_arr_new();
	xv_arr_push_str(&rr->result, o->vm);
	return 0;
}

/* The disks and the VM of a whole upload. */
static int oin_build(struct route_req *rr, struct oin *o)
{
	if (o->ova)
		return finish_ova(rr, o);
	struct ova_vm vm;
	ova_vm_from_image(route_arg(rr, "name_label"), &vm);
	int rc = make_all(rr, o, &vm);
	ova_vm_free(&vm);
	return rc;
}

/* The upload ended early (unknown length): an OVA is whole at its end
 * blocks; a bare image is checked whole in finish. */
static bool oin_complete(struct route_req *rr)
{
	struct oin *o = rr->h;
	return o && (!o->ova || tar_reader_ended(&o->tar));
}

static void oin_abort(struct route_req *rr)
{
	struct oin *o = rr->h;
	if (!o)
		return;
	drop_staged(o);
	if (o->vm[0])
		transfer_vm_discard(&rr->ctx, o->vm);
	for (size_t i = 0; i < o->nvdis; i++)
		transfer_vdi_discard(&rr->ctx, o->vdis[i]);
	o->nvdis = 0;
	o->vm[0] = '\0';
}

static void oin_free(struct route_req *rr)
{
	struct oin *o = rr->h;
	if (!o)
		return;
	drop_staged(o);
	for (size_t i = 0; i < o->nfiles; i++) {
		free(o->files[i].path);
		free(o->files[i].name);
	}
	if (o->sr_open)
		sm_sr_close(&o->sr);
	sb_free(&o->ovf);
	free(o->vdis);
	free(o);
}

static int begin_ova(struct route_req *rr)
{
	return oin_begin(rr, true);
}

static int begin_image(struct route_req *rr)
{
	return oin_begin(rr, false);
}

static const struct route route_import_ova = {
	.method = "PUT", .path = "/import", .begin = begin_ova, .data = oin_data,
	.finish = oin_finish, .complete = oin_complete, .abort = oin_abort, .free = oin_free,
};

static const struct route route_import_image = {
	.method = "PUT", .path = "/import", .begin = begin_image, .data = oin_data,
	.finish = oin_finish, .complete = oin_complete, .abort = oin_abort, .free = oin_free,
};

/* ---- /import: the first bytes pick the importer ---- */

struct sniff {
	unsigned char buf[OVA_SNIFF];
	size_t fill;
};

static const struct route *choose(const struct sniff *s)
{
	switch (ova_body_kind(s->buf, s->fill)) {
	case OVA_BODY_IMAGE:
		return &route_import_image;
	case OVA_BODY_OVA:
		return &route_import_ova;
	case OVA_BODY_OTHER:
		break;
	}
	return &route_import_xva;
}

/* Hands the request to its importer along with what was held back. */
static int dispatch(struct route_req *rr)
{
	struct sniff *s = rr->h;
	rr->h = NULL;
	rr->rt = choose(s);
	int rc = rr->rt->begin(rr);
	if (rc == 0 && s->fill)
		rc = rr->rt->data(rr, (const char *)s->buf, s->fill);
	free(s);
	return rc;
}

static int sniff_begin(struct route_req *rr)
{
	if (!rr->has_length) /* as xapi: an upload needs a Content-Length */
		return xerr_set(&rr->err, ERR_IMPORT_ERROR_CANNOT_HANDLE_CHUNKED, NULL);
	rr->h = xcalloc(1, sizeof(struct sniff));
	return 0;
}

static int sniff_data(struct route_req *rr, const char *p, size_t n)
{
	struct sniff *s = rr->h;
	size_t k = OVA_SNIFF - s->fill < n ? OVA_SNIFF - s->fill : n;
	memcpy(s->buf + s->fill, p, k);
	s->fill += k;
	if (s->fill < OVA_SNIFF)
		return 0;
	if (dispatch(rr) < 0)
		return -1;
	return n > k ? rr->rt->data(rr, p + k, n - k) : 0;
}

/* A body shorter than the sniff: decided on what there is. */
static int sniff_finish(struct route_req *rr)
{
	if (dispatch(rr) < 0)
		return -1;
	return rr->rt->finish(rr);
}

static bool sniff_complete(struct route_req *rr)
{
	(void)rr;
	xerr_set(&rr->err, ERR_IMPORT_ERROR_PREMATURE_EOF, NULL);
	return false;
}

static void sniff_free(struct route_req *rr)
{
	free(rr->h);
	rr->h = NULL;
}

const struct route route_import = {
	.method = "PUT", .path = "/import", .begin = sniff_begin, .data = sniff_data,
	.finish = sniff_finish, .complete = sniff_complete, .free = sniff_free,
};
