/* generic: schema-driven implementations of the implicit messages. Each
 * reads or writes through the store, so relation fields, events and the
 * durable log behave the same for every class. */
#include "generic.h"
#include "../base/hmap.h"
#include "../base/mem.h"
#include "../db/filter.h"
#include "../base/jsonv.h"
#include "../wire/wire.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

int handle_invalid(struct xerr *err, int cls, const char *ref)
{
	return xerr_set(err, ERR_HANDLE_INVALID, cls >= 0 ? sc_classes[cls].name : "", ref ? ref : "",
			NULL);
}

struct db_obj *generic_lookup(struct rpc_ctx *ctx, int cls, const xv *ref, struct xerr *err)
{
	const char *r = xv_as_str(ref);
	struct db_obj *o = r ? db_lookup_cls(ctx->db, cls, r) : NULL;
	if (!o)
		handle_invalid(err, cls, r);
	return o;
}

int generic_create_fields(int cls, const xv *rec, const int *fields, size_t n, xv *vals, struct xerr *err)
{
	const struct sc_class *c = &sc_classes[cls];
	for (size_t i = 0; i < n; i++) {
		const struct sc_field *f = &c->fields[fields[i]];
		const xv *given = xv_map_get(rec, f->name);
		vals[i] = given ? xv_copy(given) : xv_copy(sc_field_default(cls, fields[i]));
		if (sc_coerce(f->type, f->name, &vals[i], err) < 0) {
			for (size_t j = 0; j <= i; j++)
				xv_free(&vals[j]);
			return -1;
		}
	}
	return 0;
}

static const xv *arg(xv *args, size_t i) { return xv_arr_get(args, i); }

/* ---- records written straight from the store ----
 * get_record and get_all_records on a big store spent most of their time
 * copying rows into xv trees only to encode and free them; under the read
 * lock we encode the rows directly for the caller's protocol instead. */

/* Each field's name as it opens its member: ',"name":' (the comma
 * skipped for the first) and '<member><name>name</name>', made once for
 * every class. */
struct field_key {
	const char *json, *xml;
	size_t json_len, xml_len;
};
static struct field_key **field_keys; /* [class][field] */
static pthread_once_t field_keys_once = PTHREAD_ONCE_INIT;

static void field_keys_make(void)
{
	field_keys = xcalloc((size_t)sc_nclasses, sizeof *field_keys);
	for (int c = 0; c < sc_nclasses; c++) {
		const struct sc_class *cl = &sc_classes[c];
		field_keys[c] = xcalloc((size_t)cl->nfields + 1, sizeof **field_keys);
		for (int f = 0; f < cl->nfields; f++) {
			struct field_key *k = &field_keys[c][f];
			char *j = xasprintf(",\"%s\":", cl->fields[f].name);
			char *x = xasprintf("<member><name>%s</name>", cl->fields[f].name);
			k->json = j;
			k->json_len = strlen(j);
			k->xml = x;
			k->xml_len = strlen(x);
		}
	}
}

/* A derived set of refs, as jsonv_write / wire_xml_value write an array
 * of strings, without building it. */
static void write_derived(struct strbuf *sb, const struct db_objvec *v, bool json)
{
	size_t n = v ? v->n : 0;
	if (json) {
		sb_putc(sb, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				sb_putc(sb, ',');
			sb_json_string(sb, v->v[i]->ref);
		}
		sb_putc(sb, ']');
	} else {
		sb_puts(sb, "<value><array><data>");
		for (size_t i = 0; i < n; i++) {
			sb_puts(sb, "<value>");
			sb_xml_escape(sb, v->v[i]->ref);
			sb_puts(sb, "</value>");
		}
		sb_puts(sb, "</data></array></value>");
	}
}

/* hmap_hash(o->ref), computed at the first derived field of a record */
struct ref_hash {
	uint32_t h;
	bool known;
};

static void write_field(struct strbuf *sb, struct db *db, const struct db_obj *o, int f,
			const struct field_key *k, bool json, struct ref_hash *rh)
{
	const struct sc_field *fd = &sc_classes[o->cls].fields[f];
	if (json) {
		if (f)
			sb_add(sb, k->json, k->json_len);
		else
			sb_add(sb, k->json + 1, k->json_len - 1);
	} else {
		sb_add(sb, k->xml, k->xml_len);
	}
	if (sc_field_is_derived(fd)) {
		if (!rh->known)
			*rh = (struct ref_hash){hmap_hash(o->ref), true};
		write_derived(sb, db_derived(db, o, f, rh->h), json);
	}
	else if (json)
		jsonv_write(sb, &o->f[f]);
	else
		wire_xml_value(sb, &o->f[f]);
	if (!json)
		sb_puts(sb, "</member>");
}

static void write_record(struct strbuf *sb, struct db *db, const struct db_obj *o, bool json)
{
	const struct sc_class *c = &sc_classes[o->cls];
	pthread_once(&field_keys_once, field_keys_make);
	const struct field_key *keys = field_keys[o->cls];
	struct ref_hash rh = {0, false};
	/* a record's strings, sets and maps are allocations of their own,
	 * apart from the row and mostly out of cache on a big store: ask for
	 * them all now, so the misses overlap instead of coming one by one
	 * as the fields are written */
	for (int f = 0; f < c->nfields; f++) {
		const xv *v = &o->f[f];
		if (v->kind == XV_STR || v->kind == XV_ARR || v->kind == XV_MAP)
			__builtin_prefetch(v->u.s);
	}
	sb_puts(sb, json ? "{" : "<value><struct>");
	for (int f = 0; f < c->nfields; f++)
		write_field(sb, db, o, f, &keys[f], json, &rh);
	sb_puts(sb, json ? "}" : "</struct></value>");
}

static bool proto_known(const struct rpc_ctx *ctx) { return ctx->proto >= 0; }
static bool proto_json(const struct rpc_ctx *ctx) { return ctx->proto != WIRE_XMLRPC; }

static int get_record(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *o = generic_lookup(ctx, ctx->cls, arg(args, 0), err);
	if (o && proto_known(ctx)) {
		struct strbuf sb = STRBUF_INIT;
		write_record(&sb, ctx->db, o, proto_json(ctx));
		*result = xv_raw_own(sb_detach(&sb));
	} else if (o) {
		*result = db_record(ctx->db, o);
	}
	db_unlock(ctx->db);
	return o ? 0 : -1;
}

static int get_by_uuid(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *uuid = xv_as_str(arg(args, 0));
	db_rdlock(ctx->db);
	struct db_obj *o = db_lookup_uuid(ctx->db, ctx->cls, uuid);
	if (o)
		*result = xv_str(o->ref);
	db_unlock(ctx->db);
	if (!o)
		return xerr_set(err, ERR_UUID_INVALID, sc_classes[ctx->cls].name, uuid, NULL);
	return 0;
}

static int get_by_name_label(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)err;
	const char *label = xv_as_str(arg(args, 0));
	int f = sc_classes[ctx->cls].name_label_field;
	*result = xv_arr_new();
	db_rdlock(ctx->db);
	for (struct db_obj *o = db_first(ctx->db, ctx->cls); o && f >= 0; o = db_next(o))
		if (strcmp(db_peek_str(o, f), label) == 0)
			xv_arr_push_str(result, o->ref);
	db_unlock(ctx->db);
	return 0;
}

/* ---- whole-table answers in pieces ----
 * A big table's get_all_records built whole is tens of MB per reader
 * (83 MB of XML-RPC for 10,000 VMs), so readers of a big table get a
 * stream instead when the transport can send one: the refs of the class
 * are copied under the read lock, and each piece takes the lock again to
 * encode the next rows, skipping those deleted since. Smaller tables are
 * answered whole, as before (and keep their Content-Length). */

#define STREAM_MIN_ROWS 256
/* rows looked at per hold of the read lock, matching or not */
#define STREAM_MAX_ROWS 512

static void records_open(struct strbuf *sb, bool json) { sb_puts(sb, json ? "{" : "<value><struct>"); }
static void records_close(struct strbuf *sb, bool json) { sb_puts(sb, json ? "}" : "</struct></value>"); }

/* One ref: record member of the get_all_records map. */
static void write_member(struct strbuf *sb, struct db *db, const struct db_obj *o, bool json, bool first)
{
	if (json) {
		if (!first)
			sb_putc(sb, ',');
		sb_putc(sb, '"');
		sb_puts(sb, o->ref);
		sb_puts(sb, "\":");
	} else {
		sb_puts(sb, "<member><name>");
		sb_puts(sb, o->ref);
		sb_puts(sb, "</name>");
	}
	write_record(sb, db, o, json);
	if (!json)
		sb_puts(sb, "</member>");
}

/* One element of get_all's array, as wire_xml_value / jsonv_write put a
 * string. */
static void write_ref(struct strbuf *sb, const char *ref, bool json, bool first)
{
	if (json) {
		if (!first)
			sb_putc(sb, ',');
		sb_json_string(sb, ref);
	} else {
		sb_puts(sb, "<value>");
		sb_xml_escape(sb, ref);
		sb_puts(sb, "</value>");
	}
}

struct table_stream {
	struct rpc_stream base;
	struct db *db;
	int cls;
	bool json;
	bool records;          /* get_all_records(_where); else get_all */
	struct db_filter *flt; /* owned; NULL: every row */
	char (*refs)[REF_STRLEN + 1];
	size_t n, pos;
	bool opened, first;
};

static bool table_stream_next(struct rpc_stream *base, struct strbuf *out, size_t want)
{
	struct table_stream *s = (struct table_stream *)base;
	size_t start = out->len;
	if (!s->opened) {
		if (s->records)
			records_open(out, s->json);
		else
			sb_puts(out, s->json ? "[" : "<value><array><data>");
		s->opened = true;
	}
	if (!s->records) {
		/* the refs are the answer: nothing to read again */
		for (; s->pos < s->n && out->len - start < want; s->pos++, s->first = false)
			write_ref(out, s->refs[s->pos], s->json, s->first);
	} else if (s->pos < s->n) {
		size_t end = s->pos + STREAM_MAX_ROWS < s->n ? s->pos + STREAM_MAX_ROWS : s->n;
		db_rdlock(s->db);
		while (s->pos < end && out->len - start < want) {
			struct db_obj *o = db_lookup_cls(s->db, s->cls, s->refs[s->pos++]);
			if (!o || (s->flt && !db_filter_eval(s->flt, s->db, o)))
				continue; /* deleted since the refs were taken, or filtered out */
			write_member(out, s->db, o, s->json, s->first);
			s->first = false;
		}
		db_unlock(s->db);
	}
	if (s->pos < s->n)
		return false;
	if (s->records)
		records_close(out, s->json);
	else
		sb_puts(out, s->json ? "]" : "</data></array></value>");
	return true;
}

static void table_stream_free(struct rpc_stream *base)
{
	struct table_stream *s = (struct table_stream *)base;
	db_filter_free(s->flt);
	free(s->refs);
	free(s);
}

/* A stream over the refs of ctx->cls, or NULL when the transport cannot
 * take one or the table is small enough to answer whole. On success it
 * owns flt. */
static struct rpc_stream *table_stream_new(struct rpc_ctx *ctx, bool records, struct db_filter *flt)
{
	if (!ctx->may_stream || !proto_known(ctx))
		return NULL;
	db_rdlock(ctx->db);
	size_t n = db_count(ctx->db, ctx->cls);
	if (n < STREAM_MIN_ROWS) {
		db_unlock(ctx->db);
		return NULL;
	}
	struct table_stream *s = xcalloc(1, sizeof *s);
	s->refs = xmalloc(n * sizeof *s->refs);
	for (struct db_obj *o = db_first(ctx->db, ctx->cls); o && s->n < n; o = db_next(o))
		memcpy(s->refs[s->n++], o->ref, REF_STRLEN + 1);
	db_unlock(ctx->db);
	s->base.next = table_stream_next;
	s->base.free = table_stream_free;
	s->db = ctx->db;
	s->cls = ctx->cls;
	s->json = proto_json(ctx);
	s->records = records;
	s->flt = flt;
	s->first = true;
	return &s->base;
}

static int get_all(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)err;
	if ((ctx->stream = table_stream_new(ctx, false, NULL)))
		return 0;
	*result = xv_arr_new();
	db_rdlock(ctx->db);
	for (struct db_obj *o = db_first(ctx->db, ctx->cls); o; o = db_next(o))
		xv_arr_push_str(result, o->ref);
	db_unlock(ctx->db);
	return 0;
}

static void records_where(struct rpc_ctx *ctx, const struct db_filter *flt, xv *result)
{
	if (proto_known(ctx)) {
		bool json = proto_json(ctx);
		struct strbuf sb = STRBUF_INIT;
		records_open(&sb, json);
		bool first = true;
		db_rdlock(ctx->db);
		for (struct db_obj *o = db_first(ctx->db, ctx->cls); o; o = db_next(o)) {
			if (flt && !db_filter_eval(flt, ctx->db, o))
				continue;
			write_member(&sb, ctx->db, o, json, first);
			first = false;
		}
		db_unlock(ctx->db);
		records_close(&sb, json);
		*result = xv_raw_own(sb_detach(&sb));
		return;
	}
	*result = xv_map_new();
	db_rdlock(ctx->db);
	for (struct db_obj *o = db_first(ctx->db, ctx->cls); o; o = db_next(o))
		if (!flt || db_filter_eval(flt, ctx->db, o))
			xv_map_append(result, o->ref, db_record(ctx->db, o));
	db_unlock(ctx->db);
}

static int get_all_records(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)err;
	if ((ctx->stream = table_stream_new(ctx, true, NULL)))
		return 0;
	records_where(ctx, NULL, result);
	return 0;
}

static int get_all_records_where(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct db_filter *flt = db_filter_parse(xv_as_str(arg(args, 0)), ctx->cls, err);
	if (!flt)
		return -1;
	if ((ctx->stream = table_stream_new(ctx, true, flt)))
		return 0;
	records_where(ctx, flt, result);
	db_filter_free(flt);
	return 0;
}

static int get_field(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *o = generic_lookup(ctx, ctx->cls, arg(args, 0), err);
	if (o)
		*result = db_get(ctx->db, o, ctx->msg->field);
	db_unlock(ctx->db);
	return o ? 0 : -1;
}

/* Runs edit() on the object inside a transaction and commits. */
static int modify(struct rpc_ctx *ctx, xv *args, struct xerr *err,
		  int (*edit)(struct rpc_ctx *, struct db_txn *, struct db_obj *, xv *, struct xerr *))
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *o = generic_lookup(ctx, ctx->cls, arg(args, 0), err);
	if (!o || edit(ctx, t, o, args, err) < 0) {
		db_abort(t);
		return -1;
	}
	return db_commit(t, err);
}

static int field_of(struct rpc_ctx *ctx)
{
	if (ctx->msg->field >= 0)
		return ctx->msg->field;
	return sc_field_find(ctx->cls, ctx->msg->name + 4); /* an explicit set_X */
}

static int edit_set(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *o, xv *args, struct xerr *err)
{
	(void)err;
	db_set(t, o, field_of(ctx), xv_copy(arg(args, 1)));
	return 0;
}

static int edit_add_to_map(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *o, xv *args,
			   struct xerr *err)
{
	int f = field_of(ctx);
	const char *key = xv_as_str(arg(args, 1));
	if (xv_map_get(db_peek(o, f), key))
		return xerr_set(err, ERR_MAP_DUPLICATE_KEY, sc_classes[o->cls].name,
				sc_classes[o->cls].fields[f].name, o->ref, key, NULL);
	xv *m = db_edit(t, o, f);
	xv_map_set(m, key, xv_copy(arg(args, 2)));
	return 0;
}

static int edit_remove_from_map(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *o, xv *args,
				struct xerr *err)
{
	(void)err;
	int f = field_of(ctx);
	const char *key = xv_as_str(arg(args, 1));
	/* removing an absent key is not an error: clients remove-then-add */
	if (!xv_map_get(db_peek(o, f), key))
		return 0;
	xv_map_del(db_edit(t, o, f), key);
	return 0;
}

static int edit_add_to_set(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *o, xv *args,
			   struct xerr *err)
{
	(void)err;
	int f = field_of(ctx);
	if (xv_arr_contains(db_peek(o, f), arg(args, 1)))
		return 0;
	xv_arr_push(db_edit(t, o, f), xv_copy(arg(args, 1)));
	return 0;
}

static int edit_remove_from_set(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *o, xv *args,
				struct xerr *err)
{
	(void)err;
	int f = field_of(ctx);
	if (!xv_arr_contains(db_peek(o, f), arg(args, 1)))
		return 0;
	xv_arr_remove(db_edit(t, o, f), arg(args, 1));
	return 0;
}

static int set_field(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return modify(ctx, args, err, edit_set);
}

static int add_to_map(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return modify(ctx, args, err, edit_add_to_map);
}

static int remove_from_map(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return modify(ctx, args, err, edit_remove_from_map);
}

static int add_to_set(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return modify(ctx, args, err, edit_add_to_set);
}

static int remove_from_set(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return modify(ctx, args, err, edit_remove_from_set);
}

/* Class.create(record): RW and RO/constructor fields may be given; the
 * rest take their defaults. Unknown keys are ignored, as xapi does. */
int generic_create(struct rpc_ctx *ctx, int cls, const xv *rec, xv *result, struct xerr *err)
{
	const struct sc_class *c = &sc_classes[cls];
	xv vals = xv_arr_new();
	for (int f = 0; f < c->nfields; f++) {
		const xv *given = xv_map_get(rec, c->fields[f].name);
		if (!given || c->fields[f].qual == SC_RO_RUNTIME || sc_field_is_derived(&c->fields[f])) {
			xv_arr_push(&vals, XV_NIL_INIT);
			continue;
		}
		xv v = xv_copy(given);
		if (sc_coerce(c->fields[f].type, c->fields[f].name, &v, err) < 0) {
			xv_free(&v);
			xv_free(&vals);
			return -1;
		}
		xv_arr_push(&vals, v);
	}
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *o = db_create(t, cls, NULL);
	for (int f = 0; f < c->nfields; f++) {
		xv *v = &vals.u.a->items[f];
		if (v->kind != XV_NIL) {
			db_set(t, o, f, *v);
			*v = XV_NIL_INIT;
		}
	}
	xv_free(&vals);
	*result = xv_str(o->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

static int create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return generic_create(ctx, ctx->cls, arg(args, 0), result, err);
}

static int destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *o = generic_lookup(ctx, ctx->cls, arg(args, 0), err);
	if (!o) {
		db_abort(t);
		return -1;
	}
	db_delete(t, o);
	return db_commit(t, err);
}

/* Explicit setters the schema lists without marking them implicit (e.g.
 * VDI.set_name_label) behave as plain setters until a class needs more. */
static bool explicit_setter(int cls, const struct sc_message *m)
{
	return cls >= 0 && strncmp(m->name, "set_", 4) == 0 && m->nparams == 2 &&
	       sc_field_find(cls, m->name + 4) >= 0;
}

rpc_handler generic_handler(int cls, const struct sc_message *m)
{
	switch (m->kind) {
	case SC_MSG_GET_RECORD: return get_record;
	case SC_MSG_GET_BY_UUID: return get_by_uuid;
	case SC_MSG_GET_BY_NAME_LABEL: return get_by_name_label;
	case SC_MSG_GET_ALL: return get_all;
	case SC_MSG_GET_ALL_RECORDS: return get_all_records;
	case SC_MSG_GET_ALL_RECORDS_WHERE: return get_all_records_where;
	case SC_MSG_GET_FIELD: return get_field;
	case SC_MSG_SET_FIELD: return set_field;
	case SC_MSG_ADD_TO_MAP: return add_to_map;
	case SC_MSG_REMOVE_FROM_MAP: return remove_from_map;
	case SC_MSG_ADD_TO_SET: return add_to_set;
	case SC_MSG_REMOVE_FROM_SET: return remove_from_set;
	case SC_MSG_CREATE: return create;
	case SC_MSG_DESTROY: return destroy;
	case SC_MSG_CUSTOM: break;
	}
	return explicit_setter(cls, m) ? set_field : NULL;
}
