/* xva_import: PUT /import. The body (plain tar, gzip or zstd, told apart
 * by magic) is parsed as it arrives: ova.xml creates the disks, chunks are
 * written into them as they come, each checked against its .xxhash. The
 * VM, VBD and VIF records are made in one transaction only once the whole
 * archive is in and verified; before that a failure destroys the disks
 * made so far, so a bad upload leaves nothing behind.
 *
 * PUT /import_metadata takes the same archive without disk data (what GET
 * /export_metadata writes): the VM's disks are VDIs that exist here
 * already, found as xapi finds them (a vdi:<uuid>=<uuid> query mapping,
 * else the SR by uuid and the VDI by location, else the same uuid); a disk
 * not found is VDI_LOCATION_MISSING (VDI_CONTENT_ID_MISSING without the SR)
 * unless force=true, which leaves its VBD out.
 *
 * PUT /import_raw_vdi?format=tar&vdi= is one disk's chunk stream (named
 * vdi/NNNNNNNN, as GET /export_raw_vdi?format=tar and xapi send it) into
 * an existing VDI; checksums are checked, and since the VDI may hold data
 * already, left-out and zero chunks are written as zeros. */
#include "http_route.h"
#include "vdi_stream.h"
#include "../formats/tar.h"
#include "../formats/xva.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../wire/wire.h"

#include <inttypes.h>
#include <xxhash.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OVA (64 << 20)
#define MAX_CHUNK (64 << 20)

struct in_disk {
	char id[32];
	const xv *snap;
	char ref[REF_STRLEN + 1];
	struct transfer_image vi;
	bool open;
	bool existing; /* metadata import: a VDI found here, never to be destroyed */
	int64_t vsize, chunk_size, pos;
	long prev, hashed_counter;
	uint64_t hash;
};

enum entry { E_SKIP, E_OVA, E_CHUNK, E_XXHASH };

struct xin {
	struct route_req *rr;
	struct zin *z;
	struct tar_reader tar; /* the decompressed stream */
	enum entry kind;
	struct in_disk *cur;
	long counter;
	struct strbuf ent; /* ova.xml, a checksum */
	XXH64_state_t *hs; /* the chunk's hash so far */
	int64_t chunk_off;  /* bytes of the chunk written */
	xv top;
	bool have_ova, force, dry_run, restore, metadata;
	bool tar_vdi; /* export_raw_vdi's tar format: one disk, no ova.xml */
	int vsn;
	char sr_ref[REF_STRLEN + 1];
	struct in_disk *disks;
	size_t ndisks;
	int64_t last_progress;
};

static int imp_err(struct xin *x, const char *msg)
{
	return xerr_set(&x->rr->err, ERR_IMPORT_ERROR, msg, NULL);
}

static int64_t as_int(const xv *v)
{
	if (!v)
		return 0;
	if (v->kind == XV_INT)
		return v->u.i;
	const char *s = xv_as_str(v);
	return s ? strtoll(s, NULL, 10) : 0;
}

static struct in_disk *disk_find(struct xin *x, const char *id)
{
	for (size_t i = 0; i < x->ndisks; i++)
		if (!strcmp(x->disks[i].id, id))
			return &x->disks[i];
	return NULL;
}

/* ---- ova.xml: check it, make the disks ---- */

static int create_disk(struct xin *x, struct in_disk *d)
{
	struct route_req *rr = x->rr;
	xv rec = xv_map_new();
	static const char *const keep[] = {"name_label", "name_description", "type", "sharable",
					   "other_config", "tags", NULL};
	for (size_t i = 0; keep[i]; i++) {
		const xv *v = xv_map_get(d->snap, keep[i]);
		if (v)
			xv_map_set(&rec, keep[i], xv_copy(v));
	}
	xv_map_set_str(&rec, "SR", x->sr_ref);
	xv_map_set(&rec, "virtual_size", xv_int(d->vsize));
	xv_map_set(&rec, "read_only", xv_bool(false)); /* set once the data is in */
	if (transfer_vdi_create(&rr->ctx, rec, d->ref, &rr->err) < 0)
		return -1;
	d->open = true; /* closed even if opening fails half-way (its busy mark) */
	return stream_open_image(rr, d->ref, true, TRANSFER_FRESH, &d->vi);
}

/* The exported object with this id (Ref:N) in ova.xml. */
static const xv *snap_of(const xv *objs, const char *id)
{
	for (size_t i = 0; id && i < xv_len(objs); i++) {
		const xv *o = xv_arr_get(objs, i);
		const char *oid = xv_as_str(xv_map_get(o, "id"));
		if (oid && !strcmp(oid, id))
			return xv_map_get(o, "snapshot");
	}
	return NULL;
}

/* Metadata import: the local VDI a described disk is (see the top). */
static int find_disk(struct xin *x, const xv *objs, struct in_disk *d)
{
	struct route_req *rr = x->rr;
	const xv *srsnap = snap_of(objs, xv_as_str(xv_map_get(d->snap, "SR")));
	struct transfer_xva_where w = {
		.id = d->id,
		.uuid = xv_as_str(xv_map_get(d->snap, "uuid")),
		.location = xv_as_str(xv_map_get(d->snap, "location")),
		.sr_uuid = xv_as_str(xv_map_get(srsnap, "uuid")),
		.force = x->force,
	};
	char key[80];
	snprintf(key, sizeof key, "vdi:%s", w.uuid ? w.uuid : "");
	w.mapped = w.uuid ? route_arg(rr, key) : NULL;
	if (transfer_xva_find_disk(&rr->ctx, &w, d->ref, &rr->err) < 0)
		return -1;
	d->existing = d->ref[0] != '\0';
	return 0;
}

static int ova_done(struct xin *x)
{
	struct route_req *rr = x->rr;
	if (x->have_ova)
		return imp_err(x, "two ova.xml files");
	if (wire_xml_parse_value(x->ent.buf ? x->ent.buf : "", x->ent.len, &x->top, &rr->err) < 0)
		return imp_err(x, "ova.xml is not an XML-RPC value");
	x->have_ova = true;
	const xv *ver = xv_map_get(&x->top, "version");
	const xv *objs = xv_map_get(&x->top, "objects");
	if (!ver || !objs || objs->kind != XV_ARR)
		return imp_err(x, "ova.xml lacks version or objects");
	x->vsn = (int)as_int(xv_map_get(ver, "export_vsn"));
	int64_t major, minor;
	transfer_api_version(&rr->ctx, &major, &minor);
	int64_t vmaj = as_int(xv_map_get(ver, "xapi_major")), vmin = as_int(xv_map_get(ver, "xapi_minor"));
	if (!x->force && (vmaj > major || (vmaj == major && vmin > minor)))
		return xerr_set(&rr->err, ERR_IMPORT_INCOMPATIBLE_VERSION, NULL);
	size_t nvm = 0;
	for (size_t i = 0; i < xv_len(objs); i++) {
		const xv *o = xv_arr_get(objs, i);
		const char *cls = xv_as_str(xv_map_get(o, "class"));
		const char *id = xv_as_str(xv_map_get(o, "id"));
		const xv *snap = xv_map_get(o, "snapshot");
		if (!cls || !id || !snap || snap->kind != XV_MAP)
			return imp_err(x, "malformed object in ova.xml");
		nvm += !strcmp(cls, "VM");
		if (strcmp(cls, "VDI") || strlen(id) >= sizeof x->disks[0].id)
			continue;
		x->disks = xrealloc(x->disks, (x->ndisks + 1) * sizeof *x->disks);
		struct in_disk *d = &x->disks[x->ndisks++];
		memset(d, 0, sizeof *d);
		snprintf(d->id, sizeof d->id, "%s", id);
		d->snap = snap;
		d->vsize = as_int(xv_map_get(snap, "virtual_size"));
		d->prev = -1;
		d->hashed_counter = -1;
	}
	if (nvm != 1)
		return imp_err(x, "ova.xml must describe exactly one VM");
	for (size_t i = 0; x->metadata && i < x->ndisks; i++)
		if (find_disk(x, objs, &x->disks[i]) < 0)
			return -1;
	for (size_t i = 0; !x->metadata && !x->dry_run && i < x->ndisks; i++)
		if (create_disk(x, &x->disks[i]) < 0)
			return -1;
	return 0;
}

/* ---- chunks ---- */

/* A chunk's data is written as it streams in, hashed on the way (a chunk
 * that fails its check fails the import, which removes what it wrote):
 * buffering each chunk first cost a copy of every byte. */
static int chunk_begin(struct xin *x, uint64_t size)
{
	struct in_disk *d = x->cur;
	int64_t len = (int64_t)size;
	if (d->chunk_size == 0 && len)
		d->chunk_size = len;
	if (x->counter <= d->prev)
		return imp_err(x, "chunks out of order");
	/* skipped counters are zero chunks; zero-length ones are keep-alives */
	int64_t gap = (x->counter - d->prev - 1) * d->chunk_size;
	if (gap && d->existing && !x->dry_run && d->pos + gap <= d->vsize &&
	    img_zero(d->vi.im, (size_t)gap, d->pos, &x->rr->err) < 0)
		return -1;
	d->pos += gap;
	d->prev = x->counter;
	if (d->pos + len > d->vsize)
		return imp_err(x, "a disk's data runs past its virtual size");
	XXH64_reset(x->hs, 0);
	x->chunk_off = 0;
	return 0;
}

static int chunk_data(struct xin *x, const char *p, size_t n)
{
	struct in_disk *d = x->cur;
	XXH64_update(x->hs, p, n);
	int64_t at = d->pos + x->chunk_off;
	x->chunk_off += (int64_t)n;
	if (x->dry_run)
		return 0;
	if (!buf_is_zero(p, n))
		return img_write(d->vi.im, p, n, at, &x->rr->err);
	/* a new image reads as zeros already */
	return d->existing ? img_zero(d->vi.im, n, at, &x->rr->err) : 0;
}

static int chunk_done(struct xin *x)
{
	struct in_disk *d = x->cur;
	d->hash = XXH64_digest(x->hs);
	d->hashed_counter = x->counter;
	d->pos += x->chunk_off;
	return 0;
}

static int xxhash_done(struct xin *x)
{
	struct in_disk *d = x->cur;
	if (x->force || x->vsn == 0)
		return 0;
	char hex[17];
	snprintf(hex, sizeof hex, "%.*s", (int)(x->ent.len < 16 ? x->ent.len : 16),
		 x->ent.buf ? x->ent.buf : "");
	uint64_t want = strtoull(hex, NULL, 16);
	if (d->hashed_counter != x->counter || want != d->hash) {
		log_info("import: checksum mismatch in %s chunk %ld", d->id, x->counter);
		return xerr_set(&x->rr->err, ERR_IMPORT_ERROR_SOME_CHECKSUMS_FAILED, NULL);
	}
	return 0;
}

/* What an entry is, from its name: ova.xml, Ref:N/NNNNNNNN[.xxhash]. */
static int classify(struct xin *x, const char *name, uint64_t size)
{
	x->kind = E_SKIP;
	sb_reset(&x->ent);
	if (!strcmp(name, "ova.xml")) {
		if (size > MAX_OVA)
			return imp_err(x, "ova.xml too large");
		x->kind = E_OVA;
		return 0;
	}
	const char *slash = strchr(name, '/');
	if (!slash || (strncmp(name, "Ref:", 4) && !x->tar_vdi))
		return 0;
	if (!x->have_ova)
		return imp_err(x, "disk data before ova.xml");
	if (x->metadata)
		return imp_err(x, "a metadata import carries no disk data");
	char id[32];
	snprintf(id, sizeof id, "%.*s", (int)(slash - name), name);
	x->cur = disk_find(x, id);
	if (!x->cur)
		return imp_err(x, "data for a disk ova.xml does not describe");
	char *end;
	x->counter = strtol(slash + 1, &end, 10);
	if (end == slash + 1 || x->counter < 0)
		return imp_err(x, "bad chunk name");
	if (!*end) {
		if (size > MAX_CHUNK)
			return imp_err(x, "chunk too large");
		x->kind = E_CHUNK;
		return chunk_begin(x, size);
	} else if (!strcmp(end, ".xxhash")) {
		x->kind = size <= 64 ? E_XXHASH : E_SKIP;
	} /* .checksum (legacy SHA-1): not verified */
	return 0;
}

static int entry_done(struct xin *x)
{
	switch (x->kind) {
	case E_OVA:
		return ova_done(x);
	case E_CHUNK:
		return chunk_done(x);
	case E_XXHASH:
		return xxhash_done(x);
	case E_SKIP:
		break;
	}
	return 0;
}

static int member(void *arg, const char *name, uint64_t size)
{
	return classify(arg, name, size);
}

static int member_data(void *arg, const char *p, size_t n)
{
	struct xin *x = arg;
	if (x->kind == E_CHUNK)
		return chunk_data(x, p, n);
	if (x->kind != E_SKIP)
		sb_add(&x->ent, p, n);
	return 0;
}

static int member_end(void *arg)
{
	return entry_done(arg);
}

static const struct tar_reader_ops xva_members = {member, member_data, member_end};

/* The decompressed tar stream. */
static int tar_sink(void *arg, const char *p, size_t n)
{
	struct xin *x = arg;
	int rc = tar_reader_feed(&x->tar, p, n);
	return rc == TAR_BAD_HEADER ? imp_err(x, "corrupt tar header") : rc;
}

/* ---- the route ---- */

static int begin(struct route_req *rr, bool metadata)
{
	struct xin *x = xcalloc(1, sizeof *x);
	x->metadata = metadata;
	rr->h = x;
	x->rr = rr;
	x->top = XV_NIL_INIT;
	x->force = route_arg_bool(rr, "force");
	x->dry_run = route_arg_bool(rr, "dry_run");
	x->restore = route_arg_bool(rr, "restore");
	tar_reader_init(&x->tar, &xva_members, x);
	x->z = zin_new(tar_sink, x);
	x->hs = XXH64_createState();
	if (!x->hs)
		abort();
	if (!rr->has_length)
		return xerr_set(&rr->err, ERR_IMPORT_ERROR_CANNOT_HANDLE_CHUNKED, NULL);
	return import_target_sr(rr, x->sr_ref);
}

static int import_begin(struct route_req *rr)
{
	return begin(rr, false);
}

static int import_begin_meta(struct route_req *rr)
{
	return begin(rr, true);
}

/* import_raw_vdi?format=tar: the target VDI is the one disk, "vdi". */
static int import_begin_tar(struct route_req *rr)
{
	if (begin(rr, false) < 0)
		return -1;
	struct xin *x = rr->h;
	const char *vdi = route_arg(rr, "vdi");
	if (!vdi || !*vdi)
		return imp_err(x, "format=tar needs the vdi to import into");
	x->tar_vdi = true;
	x->have_ova = true;
	x->vsn = 2; /* xapi: a VDI's tar always has inline checksums */
	x->disks = xcalloc(1, sizeof *x->disks);
	x->ndisks = 1;
	struct in_disk *d = &x->disks[0];
	snprintf(d->id, sizeof d->id, "vdi");
	d->prev = -1;
	d->hashed_counter = -1;
	d->existing = true;
	d->open = true; /* closed even if opening fails half-way (its busy mark) */
	if (stream_open_image(rr, vdi, true, TRANSFER_EXISTING, &d->vi) < 0)
		return -1;
	snprintf(d->ref, sizeof d->ref, "%s", d->vi.ref);
	d->vsize = img_size(d->vi.im);
	return 0;
}

static int import_data(struct route_req *rr, const char *p, size_t n)
{
	struct xin *x = rr->h;
	if (zin_feed(x->z, p, n, &rr->err) < 0)
		return -1;
	if (rr->content_length && rr->received - (uint64_t)x->last_progress > rr->content_length / 50) {
		x->last_progress = (int64_t)rr->received;
		route_progress(rr, 0.95 * (double)rr->received / (double)rr->content_length);
	}
	return 0;
}

static int make_records(struct xin *x)
{
	struct route_req *rr = x->rr;
	struct transfer_xva_disk *disks = xcalloc(x->ndisks + 1, sizeof *disks);
	for (size_t i = 0; i < x->ndisks; i++)
		disks[i] = (struct transfer_xva_disk){x->disks[i].id, x->disks[i].ref, x->disks[i].snap};
	struct transfer_xva t = {
		.objs = xv_map_get(&x->top, "objects"), .disks = disks, .ndisks = x->ndisks,
		.sr_ref = x->sr_ref, .restore = x->restore, .metadata = x->metadata,
	};
	char vm[REF_STRLEN + 1];
	int rc = transfer_xva_commit(&rr->ctx, &t, vm, &rr->err);
	free(disks);
	if (rc < 0)
		return -1;
	rr->result = xv_arr_new();
	xv_arr_push_str(&rr->result, vm);
	return 0;
}

static int import_finish(struct route_req *rr)
{
	struct xin *x = rr->h;
	if (!tar_reader_ended(&x->tar) || !zin_complete(x->z))
		return xerr_set(&rr->err, ERR_IMPORT_ERROR_PREMATURE_EOF, NULL);
	if (x->tar_vdi) { /* the disk is all there is; xapi's result: the VDI */
		struct in_disk *d = &x->disks[0];
		int rc = img_flush(d->vi.im, &rr->err);
		transfer_image_close(&d->vi);
		d->open = false;
		if (rc == 0)
			rr->result = xv_str(d->ref);
		return rc;
	}
	if (!x->have_ova)
		return imp_err(x, "no ova.xml in the archive");
	for (size_t i = 0; i < x->ndisks; i++) {
		struct in_disk *d = &x->disks[i];
		if (d->open && img_flush(d->vi.im, &rr->err) < 0)
			return -1;
		transfer_image_close(&d->vi);
		d->open = false;
	}
	if (x->dry_run) {
		rr->result = xv_arr_new();
		return 0;
	}
	return make_records(x);
}

/* A tar that reached its end-of-archive blocks is whole, whatever the
 * Content-Length said. */
static bool import_complete(struct route_req *rr)
{
	struct xin *x = rr->h;
	if (tar_reader_ended(&x->tar) && zin_complete(x->z))
		return true;
	if (!rr->err.code)
		xerr_set(&rr->err, ERR_IMPORT_ERROR_PREMATURE_EOF, NULL);
	return false;
}

static void import_abort(struct route_req *rr)
{
	struct xin *x = rr->h;
	if (!x)
		return;
	struct xerr keep = XERR_INIT;
	xerr_move(&keep, &rr->err);
	for (size_t i = 0; i < x->ndisks; i++) {
		struct in_disk *d = &x->disks[i];
		if (d->open)
			transfer_image_close(&d->vi);
		d->open = false;
		if (!d->ref[0] || d->existing)
			continue;
		transfer_vdi_discard(&rr->ctx, d->ref);
		d->ref[0] = '\0';
	}
	xerr_move(&rr->err, &keep);
}

static void import_free(struct route_req *rr)
{
	struct xin *x = rr->h;
	if (!x)
		return;
	for (size_t i = 0; i < x->ndisks; i++)
		if (x->disks[i].open)
			transfer_image_close(&x->disks[i].vi);
	free(x->disks);
	zin_free(x->z);
	XXH64_freeState(x->hs);
	sb_free(&x->ent);
	xv_free(&x->top);
	free(x);
}

const struct route route_import_xva = {
	.method = "PUT", .path = "/import", .begin = import_begin, .data = import_data,
	.finish = import_finish, .complete = import_complete, .abort = import_abort,
	.free = import_free,
};

const struct route route_import_metadata = {
	.method = "PUT", .path = "/import_metadata", .begin = import_begin_meta,
	.data = import_data, .finish = import_finish, .complete = import_complete,
	.abort = import_abort, .free = import_free,
};

const struct route route_import_vdi_tar = {
	.method = "PUT", .path = "/import_raw_vdi", .begin = import_begin_tar,
	.data = import_data, .finish = import_finish, .complete = import_complete,
	.abort = import_abort, .free = import_free,
};
