/* xva_export: GET /export and /export_metadata. ova.xml describes the VM
 * and what it references with refs rewritten to Ref:N; then each disk goes
 * out as 1 MiB chunks with their XXH64 files. Chunks that hold no data are
 * left out without being read (the allocation map says so), so a large
 * empty disk costs little. Output is generated as MHD pulls it, through
 * gzip or zstd when asked.
 *
 * GET /export_raw_vdi?format=tar is the same chunk stream for one VDI
 * under the name vdi/ and without ova.xml, as xapi's stream_vdi sends it. */
#include "http_route.h"
#include "vdi_stream.h"
#include "../formats/xva.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../wire/wire.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct xdisk {
	char id[32]; /* Ref:N */
	struct transfer_image vi;
	int64_t size, nchunks;
};

struct xout {
	enum zkind zk;
	struct zout *z;
	char *ova;
	size_t ndisks;
	struct xdisk *disks;
	int stage; /* 0 ova.xml, 1 disks, 2 end blocks, 3 done */
	size_t disk;
	int64_t chunk;
	struct strbuf raw, out;
	size_t out_pos;
	int64_t total_chunks, done_chunks;
	/* the VM's export or metadata_export mark (the task), as xapi's lock_vm */
	char vm[REF_STRLEN + 1], mark[REF_STRLEN + 1];
};

/* ova.xml and the disks to send. */
static int plan(struct route_req *rr, struct xout *x, bool metadata_only, xv *vdi_refs)
{
	const char *id = route_arg(rr, "uuid");
	if (!id)
		id = route_arg(rr, "ref");
	if (!id)
		return xerr_set(&rr->err, ERR_INVALID_VALUE, "uuid", "", NULL);
	xv top = XV_NIL_INIT, ids = xv_arr_new();
	if (transfer_xva_plan(&rr->ctx, id, metadata_only, &top, vdi_refs, &ids, &rr->err) < 0) {
		xv_free(&ids);
		return -1;
	}
	x->ndisks = xv_len(&ids);
	x->disks = xcalloc(x->ndisks + 1, sizeof *x->disks);
	for (size_t i = 0; i < x->ndisks; i++)
		snprintf(x->disks[i].id, sizeof x->disks[i].id, "%s", xv_as_str(xv_arr_get(&ids, i)));
	xv_free(&ids);
	struct strbuf sb = STRBUF_INIT;
	wire_xml_value(&sb, &top);
	xv_free(&top);
	x->ova = sb_detach(&sb);
	return 0;
}

static void pad_block(struct strbuf *sb, size_t n)
{
	static const char zero[512];
	if (n % 512)
		sb_add(sb, zero, 512 - n % 512);
}

static void put_file(struct xout *x, const char *name, const void *p, size_t n)
{
	unsigned char h[512];
	tar_header(h, name, n);
	sb_add(&x->raw, (const char *)h, 512);
	sb_add(&x->raw, p, n);
	pad_block(&x->raw, n);
}

/* One chunk file and its checksum file into x->raw. The data is read
 * straight into place after the header: no copy of the chunk is made. */
static int put_chunk(struct route_req *rr, struct xout *x, struct xdisk *d, int64_t c, size_t len,
		     bool edge)
{
	sb_grow(&x->raw, 512 + len + 1024);
	char *data = x->raw.buf + x->raw.len + 512;
	if (img_read(d->vi.im, data, len, c * XVA_CHUNK, &rr->err) < 0)
		return -1;
	if (!edge && buf_is_zero(data, len))
		return 0;
	char name[64], hex[17];
	snprintf(name, sizeof name, "%s/%08" PRId64, d->id, c);
	tar_header((unsigned char *)x->raw.buf + x->raw.len, name, len);
	x->raw.len += 512 + len;
	pad_block(&x->raw, len);
	snprintf(hex, sizeof hex, "%016" PRIX64, xva_xxh64(data, len));
	strcat(name, ".xxhash");
	put_file(x, name, hex, 16);
	return 0;
}

/* The next piece of tar into x->raw. */
static int produce(struct route_req *rr, struct xout *x)
{
	if (x->stage == 0) {
		if (x->ova)
			put_file(x, "ova.xml", x->ova, strlen(x->ova));
		x->stage = 1;
		return 0;
	}
	while (x->stage == 1) {
		if (x->disk >= x->ndisks) {
			x->stage = 2;
			break;
		}
		struct xdisk *d = &x->disks[x->disk];
		if (x->chunk >= d->nchunks) {
			x->disk++;
			x->chunk = 0;
			continue;
		}
		int64_t c = x->chunk, off = c * XVA_CHUNK;
		bool edge = c == 0 || c == d->nchunks - 1;
		size_t len = d->size - off < XVA_CHUNK ? (size_t)(d->size - off) : XVA_CHUNK;
		if (!edge) { /* a hole: jump over it without reading */
			int64_t elen;
			bool data;
			if (img_extent(d->vi.im, off, &elen, &data, &rr->err) < 0)
				return -1;
			if (!data) {
				int64_t next = (off + elen) / XVA_CHUNK;
				if (next > d->nchunks - 1)
					next = d->nchunks - 1;
				x->chunk = next > c ? next : c + 1;
				x->done_chunks += x->chunk - c;
				continue;
			}
		}
		size_t before = x->raw.len;
		if (put_chunk(rr, x, d, c, len, edge) < 0)
			return -1;
		x->chunk++;
		x->done_chunks++;
		if (x->raw.len == before)
			continue; /* all zeros: skipped */
		if (x->done_chunks % 64 == 0 && x->total_chunks)
			route_progress(rr, (double)x->done_chunks / (double)x->total_chunks);
		return 0;
	}
	if (x->stage == 2) {
		static const char zero[1024];
		sb_add(&x->raw, zero, sizeof zero);
		x->stage = 3;
	}
	return 0;
}

static ssize_t read_xva(struct route_req *rr, uint64_t pos, char *buf, size_t max)
{
	struct xout *x = rr->h;
	(void)pos;
	while (x->out_pos == x->out.len) {
		if (x->stage == 4)
			return 0;
		sb_reset(&x->out);
		x->out_pos = 0;
		sb_reset(&x->raw);
		if (x->stage == 3) {
			if (zout_end(x->z, &x->out, &rr->err) < 0)
				return -1;
			x->stage = 4;
			continue;
		}
		if (produce(rr, x) < 0)
			return -1;
		if (x->zk == ZK_NONE) { /* nothing to transform: hand the piece over */
			struct strbuf t = x->out;
			x->out = x->raw;
			x->raw = t;
		} else if (x->raw.len && zout_write(x->z, x->raw.buf, x->raw.len, &x->out, &rr->err) < 0) {
			return -1;
		}
	}
	size_t n = x->out.len - x->out_pos < max ? x->out.len - x->out_pos : max;
	memcpy(buf, x->out.buf + x->out_pos, n);
	x->out_pos += n;
	return (ssize_t)n;
}

/* The VM busy with the export while it runs (transfer_vm_mark). */
static int mark_vm(struct route_req *rr, struct xout *x, const char *op)
{
	const char *id = route_arg(rr, "uuid");
	if (!id)
		id = route_arg(rr, "ref");
	return transfer_vm_mark(&rr->ctx, id, op, x->vm, x->mark, &rr->err);
}

static int begin(struct route_req *rr, bool metadata_only)
{
	struct xout *x = xcalloc(1, sizeof *x);
	rr->h = x;
	const char *c = route_arg(rr, "use_compression");
	x->zk = !c || !strcasecmp(c, "false") ? ZK_NONE : !strcasecmp(c, "zstd") ? ZK_ZSTD : ZK_GZIP;
	if (metadata_only)
		x->zk = ZK_NONE;
	xv refs = xv_arr_new();
	int rc = plan(rr, x, metadata_only, &refs);
	if (rc == 0)
		rc = mark_vm(rr, x, metadata_only ? "metadata_export" : "export");
	for (size_t i = 0; rc == 0 && i < x->ndisks; i++) {
		struct xdisk *d = &x->disks[i];
		rc = stream_open_image(rr, xv_as_str(xv_arr_get(&refs, i)), false, TRANSFER_EXISTING, &d->vi);
		if (rc == 0) {
			d->size = img_size(d->vi.im);
			d->nchunks = (d->size + XVA_CHUNK - 1) / XVA_CHUNK;
			x->total_chunks += d->nchunks;
		}
	}
	xv_free(&refs);
	if (rc < 0)
		return -1;
	if (!(x->z = zout_new(x->zk, &rr->err)))
		return -1;
	return route_send_stream(rr, MHD_SIZE_UNKNOWN, "application/octet-stream",
				 "attachment; filename=\"export.xva\"", read_xva);
}

/* export_raw_vdi?format=tar: one disk, chunks named vdi/NNNNNNNN. */
static int begin_tar(struct route_req *rr)
{
	struct xout *x = xcalloc(1, sizeof *x);
	rr->h = x;
	x->zk = ZK_NONE;
	x->disks = xcalloc(1, sizeof *x->disks);
	x->ndisks = 1;
	struct xdisk *d = &x->disks[0];
	snprintf(d->id, sizeof d->id, "vdi");
	const char *base = route_arg(rr, "base");
	if (base && *base)
		return xerr_set(&rr->err, ERR_INVALID_VALUE, "base", "deltas are exported as format=vhd",
				NULL);
	if (stream_open_image(rr, route_arg(rr, "vdi"), false, TRANSFER_EXISTING, &d->vi) < 0)
		return -1;
	d->size = img_size(d->vi.im);
	d->nchunks = (d->size + XVA_CHUNK - 1) / XVA_CHUNK;
	x->total_chunks = d->nchunks;
	if (!(x->z = zout_new(x->zk, &rr->err)))
		return -1;
	char *disp = xasprintf("attachment; filename=\"%s.tar\"", d->vi.v.uuid);
	int rc = route_send_stream(rr, MHD_SIZE_UNKNOWN, "application/x-tar", disp, read_xva);
	free(disp);
	return rc;
}

static int begin_full(struct route_req *rr)
{
	return begin(rr, false);
}

static int begin_meta(struct route_req *rr)
{
	return begin(rr, true);
}

static void xout_release(struct route_req *rr)
{
	struct xout *x = rr->h;
	for (size_t i = 0; x && i < x->ndisks; i++)
		transfer_image_close(&x->disks[i].vi);
	if (x && x->mark[0]) {
		transfer_vm_unmark(&rr->ctx, x->vm, x->mark);
		x->mark[0] = '\0';
	}
}

static void xout_free(struct route_req *rr)
{
	struct xout *x = rr->h;
	if (!x)
		return;
	xout_release(rr);
	free(x->disks);
	free(x->ova);
	zout_free(x->z);
	sb_free(&x->raw);
	sb_free(&x->out);
	free(x);
}

const struct route route_export_xva = {
	.method = "GET", .path = "/export", .begin = begin_full, .release = xout_release,
	.free = xout_free,
};
const struct route route_export_metadata = {
	.method = "GET", .path = "/export_metadata", .begin = begin_meta, .release = xout_release,
	.free = xout_free,
};
const struct route route_export_vdi_tar = {
	.method = "GET", .path = "/export_raw_vdi", .begin = begin_tar, .release = xout_release,
	.free = xout_free,
};
