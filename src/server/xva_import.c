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
#include "../formats/xva.h"
#include "../api/vm_ops.h"
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

struct idmap {
	size_t n;
	char **id;
	char (*ref)[REF_STRLEN + 1];
};

static void idmap_set(struct idmap *m, const char *id, const char *ref)
{
	m->id = xrealloc(m->id, (m->n + 1) * sizeof *m->id);
	m->ref = xrealloc(m->ref, (m->n + 1) * sizeof *m->ref);
	m->id[m->n] = xstrdup(id);
	snprintf(m->ref[m->n++], REF_STRLEN + 1, "%s", ref);
}

static const char *idmap_get(const struct idmap *m, const char *id)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->id[i], id))
			return m->ref[i];
	return NULL;
}

struct in_disk {
	char id[32];
	const xv *snap;
	char ref[REF_STRLEN + 1];
	struct vdi_image vi;
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
	unsigned char hdr[512];
	size_t hfill;
	int st; /* 0 header, 1 data, 2 padding, 3 past the end */
	uint64_t remain, pad;
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
	struct idmap map;
	int64_t last_progress;
};

static int imp_err(struct xin *x, const char *msg)
{
	return xerr_set(&x->rr->err, "IMPORT_ERROR", msg, NULL);
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
	xv args = xv_arr_new();
	xv_arr_push(&args, rec);
	xv res = XV_NIL_INIT;
	if (route_call(rr, "VDI.create", args, &res) < 0)
		return -1;
	snprintf(d->ref, sizeof d->ref, "%s", xv_as_str(&res));
	xv_free(&res);
	d->open = true; /* closed even if opening fails half-way (its busy mark) */
	return vdi_image_open_new(rr, d->ref, &d->vi);
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
	struct db *db = rr->srv->db;
	const char *uuid = xv_as_str(xv_map_get(d->snap, "uuid"));
	const char *location = xv_as_str(xv_map_get(d->snap, "location"));
	const xv *srsnap = snap_of(objs, xv_as_str(xv_map_get(d->snap, "SR")));
	const char *sr_uuid = xv_as_str(xv_map_get(srsnap, "uuid"));
	char key[80];
	snprintf(key, sizeof key, "vdi:%s", uuid ? uuid : "");
	const char *mapped = uuid ? route_arg(rr, key) : NULL;
	db_rdlock(db);
	struct db_obj *sr = sr_uuid ? db_lookup_uuid(db, SC_C_SR, sr_uuid) : NULL;
	struct db_obj *found = mapped ? db_lookup_uuid(db, SC_C_VDI, mapped) : NULL;
	for (struct db_obj *v = db_first(db, SC_C_VDI); !found && !mapped && sr && location && v;
	     v = db_next(v))
		if (!strcmp(db_peek_str(v, SC_F_VDI__SR), sr->ref) &&
		    !strcmp(db_peek_str(v, SC_F_VDI__location), location))
			found = v;
	if (!found && !mapped && uuid)
		found = db_lookup_uuid(db, SC_C_VDI, uuid);
	int rc = 0;
	if (found) {
		snprintf(d->ref, sizeof d->ref, "%s", found->ref);
		d->existing = true;
	} else if (x->force) {
		log_info("import: no VDI for %s here; left out (force)", uuid ? uuid : d->id);
	} else if (sr) {
		rc = xerr_set(&rr->err, "VDI_LOCATION_MISSING", sr->ref, location ? location : "", NULL);
	} else {
		rc = xerr_set(&rr->err, "VDI_CONTENT_ID_MISSING", NULL);
	}
	db_unlock(db);
	return rc;
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
	db_rdlock(rr->srv->db);
	struct db_obj *host = db_lookup_cls(rr->srv->db, SC_C_host, rr->srv->host_ref);
	int64_t major = host ? db_peek_int(host, SC_F_host__API_version_major) : 2;
	int64_t minor = host ? db_peek_int(host, SC_F_host__API_version_minor) : 21;
	db_unlock(rr->srv->db);
	int64_t vmaj = as_int(xv_map_get(ver, "xapi_major")), vmin = as_int(xv_map_get(ver, "xapi_minor"));
	if (!x->force && (vmaj > major || (vmaj == major && vmin > minor)))
		return xerr_set(&rr->err, "IMPORT_INCOMPATIBLE_VERSION", NULL);
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
		return xerr_set(&x->rr->err, "IMPORT_ERROR_SOME_CHECKSUMS_FAILED", NULL);
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

/* The decompressed tar stream. */
static int tar_sink(void *arg, const char *p, size_t n)
{
	struct xin *x = arg;
	while (n) {
		if (x->st == 3)
			return 0; /* past the end-of-archive blocks: padding */
		if (x->st == 0) {
			size_t k = 512 - x->hfill < n ? 512 - x->hfill : n;
			memcpy(x->hdr + x->hfill, p, k);
			x->hfill += k, p += k, n -= k;
			if (x->hfill < 512)
				return 0;
			x->hfill = 0;
			char name[256];
			int r = tar_parse(x->hdr, name, &x->remain);
			if (r < 0)
				return imp_err(x, "corrupt tar header");
			if (r == 1) {
				x->st = 3;
				continue;
			}
			x->pad = (512 - x->remain % 512) % 512;
			if (classify(x, name, x->remain) < 0)
				return -1;
			x->st = 1;
			if (x->remain == 0) {
				if (entry_done(x) < 0)
					return -1;
				x->st = 0;
			}
			continue;
		}
		if (x->st == 1) {
			size_t k = x->remain < n ? (size_t)x->remain : n;
			if (x->kind == E_CHUNK) {
				if (chunk_data(x, p, k) < 0)
					return -1;
			} else if (x->kind != E_SKIP) {
				sb_add(&x->ent, p, k);
			}
			x->remain -= k, p += k, n -= k;
			if (x->remain == 0) {
				if (entry_done(x) < 0)
					return -1;
				x->st = x->pad ? 2 : 0;
			}
			continue;
		}
		size_t k = x->pad < n ? (size_t)x->pad : n;
		x->pad -= k, p += k, n -= k;
		if (x->pad == 0)
			x->st = 0;
	}
	return 0;
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
	x->z = zin_new(tar_sink, x);
	x->hs = XXH64_createState();
	if (!x->hs)
		abort();
	if (!rr->has_length)
		return xerr_set(&rr->err, "IMPORT_ERROR_CANNOT_HANDLE_CHUNKED", NULL);
	return route_target_sr(rr, x->sr_ref);
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
	if (vdi_image_open(rr, vdi, true, &d->vi) < 0)
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

/* Snapshot fields that describe the exporting host's instance. */
static bool skip_field(int cls, int f)
{
	if (cls == SC_C_VM)
		switch (f) {
		case SC_F_VM__allowed_operations: case SC_F_VM__current_operations:
		case SC_F_VM__resident_on: case SC_F_VM__scheduled_to_be_resident_on:
		case SC_F_VM__domid: case SC_F_VM__metrics: case SC_F_VM__guest_metrics:
		case SC_F_VM__is_control_domain: case SC_F_VM__is_default_template:
		case SC_F_VM__parent: case SC_F_VM__suspend_VDI: case SC_F_VM__power_state:
		case SC_F_VM__affinity:
			return true;
		}
	if (cls == SC_C_VBD)
		switch (f) {
		case SC_F_VBD__allowed_operations: case SC_F_VBD__current_operations:
		case SC_F_VBD__currently_attached:
			return true;
		}
	if (cls == SC_C_VIF)
		switch (f) {
		case SC_F_VIF__allowed_operations: case SC_F_VIF__current_operations:
		case SC_F_VIF__currently_attached:
			return true;
		}
	return false;
}

/* Ref:N becomes what it was imported as; foreign refs become NULL. */
static void remap(xv *v, const struct idmap *m)
{
	if (v->kind == XV_STR && (!strncmp(v->u.s, "Ref:", 4) ||
				  (!strncmp(v->u.s, "OpaqueRef:", 10) && strcmp(v->u.s, "OpaqueRef:NULL")))) {
		const char *r = idmap_get(m, v->u.s);
		xv_free(v);
		*v = xv_str(r ? r : "OpaqueRef:NULL");
	} else if (v->kind == XV_ARR) {
		for (size_t i = 0; i < v->u.a->n; i++)
			remap(&v->u.a->items[i], m);
	} else if (v->kind == XV_MAP) {
		for (size_t i = 0; i < v->u.m->n; i++)
			remap(&v->u.m->vals[i], m);
	}
}

static void set_fields(struct db_txn *t, struct db_obj *o, int cls, const xv *snap,
		       const struct idmap *m)
{
	const struct sc_class *c = &sc_classes[cls];
	for (size_t i = 0; snap->kind == XV_MAP && i < snap->u.m->n; i++) {
		int f = sc_field_find(cls, snap->u.m->keys[i]);
		if (f < 0 || f == c->uuid_field || sc_field_is_derived(&c->fields[f]) || skip_field(cls, f))
			continue;
		xv v = xv_copy(&snap->u.m->vals[i]);
		remap(&v, m);
		struct xerr e = XERR_INIT;
		if (sc_coerce(c->fields[f].type, c->fields[f].name, &v, &e) < 0) {
			xerr_clear(&e);
			xv_free(&v);
			continue;
		}
		db_set(t, o, f, v);
	}
}

/* A local network for an exported one: same bridge, else same name, else
 * the first there is. */
static const char *local_network(struct db *db, const xv *snap)
{
	const char *bridge = xv_as_str(xv_map_get(snap, "bridge"));
	const char *name = xv_as_str(xv_map_get(snap, "name_label"));
	struct db_obj *first = NULL, *by_name = NULL;
	for (struct db_obj *n = db_first(db, SC_C_network); n; n = db_next(n)) {
		if (bridge && !strcmp(db_peek_str(n, SC_F_network__bridge), bridge))
			return n->ref;
		if (name && !by_name && !strcmp(db_peek_str(n, SC_F_network__name_label), name))
			by_name = n;
		if (!first)
			first = n;
	}
	return by_name ? by_name->ref : first ? first->ref : NULL;
}

static int make_records(struct xin *x)
{
	struct route_req *rr = x->rr;
	struct db *db = rr->srv->db;
	const xv *objs = xv_map_get(&x->top, "objects");
	struct db_txn *t = db_begin(db);
	struct db_obj **made = xcalloc(xv_len(objs) + 1, sizeof *made);
	const char *vm_ref = NULL;
	for (size_t i = 0; i < x->ndisks; i++)
		if (x->disks[i].ref[0]) /* not a disk a forced metadata import left out */
			idmap_set(&x->map, x->disks[i].id, x->disks[i].ref);
	/* refs first, so fields can point at each other */
	for (size_t i = 0; i < xv_len(objs); i++) {
		const xv *o = xv_arr_get(objs, i);
		const char *cls = xv_as_str(xv_map_get(o, "class"));
		const char *id = xv_as_str(xv_map_get(o, "id"));
		const xv *snap = xv_map_get(o, "snapshot");
		int c = !strcmp(cls, "VM") ? SC_C_VM : !strcmp(cls, "VBD") ? SC_C_VBD
						 : !strcmp(cls, "VIF") ? SC_C_VIF : -1;
		if (!strcmp(cls, "SR"))
			idmap_set(&x->map, id, x->sr_ref);
		if (!strcmp(cls, "network")) {
			const char *n = local_network(db, snap);
			if (n)
				idmap_set(&x->map, id, n);
		}
		if (c < 0)
			continue;
		/* a disk's VBD whose VDI a forced metadata import left out */
		const char *vdi = xv_as_str(xv_map_get(snap, "VDI"));
		if (c == SC_C_VBD && disk_find(x, vdi ? vdi : "") && !idmap_get(&x->map, vdi))
			continue;
		made[i] = db_create(t, c, NULL);
		idmap_set(&x->map, id, made[i]->ref);
		if (c == SC_C_VM)
			vm_ref = made[i]->ref;
	}
	for (size_t i = 0; i < xv_len(objs); i++) {
		if (!made[i])
			continue;
		const xv *snap = xv_map_get(xv_arr_get(objs, i), "snapshot");
		struct db_obj *o = made[i];
		set_fields(t, o, o->cls, snap, &x->map);
		if (o->cls == SC_C_VM) {
			db_set_str(t, o, SC_F_VM__power_state, "Halted");
			db_set_int(t, o, SC_F_VM__domid, -1);
			struct db_obj *m = db_create(t, SC_C_VM_metrics, NULL);
			db_set_str(t, o, SC_F_VM__metrics, m->ref);
			const char *uuid = xv_as_str(xv_map_get(snap, "uuid"));
			if (x->restore && uuid && !db_lookup_uuid(db, SC_C_VM, uuid))
				db_set_str(t, o, SC_F_VM__uuid, uuid);
		}
		if (o->cls == SC_C_VBD) {
			db_set_bool(t, o, SC_F_VBD__currently_attached, false);
			/* a CD's disc stays behind: an empty drive */
			const char *vdi = xv_as_str(xv_map_get(snap, "VDI"));
			if (!vdi || !idmap_get(&x->map, vdi))
				db_set_bool(t, o, SC_F_VBD__empty, true);
		}
		if (o->cls == SC_C_VIF)
			db_set_bool(t, o, SC_F_VIF__currently_attached, false);
	}
	for (size_t i = 0; i < x->ndisks && !x->metadata; i++) {
		struct db_obj *v = db_lookup_cls(db, SC_C_VDI, x->disks[i].ref);
		const xv *ro = xv_map_get(x->disks[i].snap, "read_only");
		if (v && ro && ro->kind == XV_BOOL && ro->u.b)
			db_set_bool(t, v, SC_F_VDI__read_only, true);
	}
	for (size_t i = 0; i < xv_len(objs); i++)
		if (made[i] && made[i]->cls == SC_C_VM)
			vm_update_allowed_operations(t, made[i]);
	char ref[REF_STRLEN + 1] = "";
	if (vm_ref)
		snprintf(ref, sizeof ref, "%s", vm_ref);
	free(made);
	if (db_commit(t, &rr->err) < 0)
		return -1;
	rr->result = xv_arr_new();
	xv_arr_push_str(&rr->result, ref);
	return 0;
}

static int import_finish(struct route_req *rr)
{
	struct xin *x = rr->h;
	if (x->st != 3 || !zin_complete(x->z))
		return xerr_set(&rr->err, "IMPORT_ERROR_PREMATURE_EOF", NULL);
	if (x->tar_vdi) { /* the disk is all there is; xapi's result: the VDI */
		struct in_disk *d = &x->disks[0];
		int rc = img_flush(d->vi.im, &rr->err);
		vdi_image_close(&d->vi);
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
		vdi_image_close(&d->vi);
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
	if (x->st == 3 && zin_complete(x->z))
		return true;
	if (!rr->err.code)
		xerr_set(&rr->err, "IMPORT_ERROR_PREMATURE_EOF", NULL);
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
			vdi_image_close(&d->vi);
		d->open = false;
		if (!d->ref[0] || d->existing)
			continue;
		xv args = xv_arr_new();
		xv_arr_push(&args, xv_str(d->ref));
		if (route_call(rr, "VDI.destroy", args, NULL) < 0)
			log_error("import: could not remove VDI %s: %s", d->ref, rr->err.code);
		xerr_clear(&rr->err);
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
			vdi_image_close(&x->disks[i].vi);
	free(x->disks);
	for (size_t i = 0; i < x->map.n; i++)
		free(x->map.id[i]);
	free(x->map.id);
	free(x->map.ref);
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
