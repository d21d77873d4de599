/* generic: schema-driven implementations of the implicit messages. Each
 * reads or writes through the store, so relation fields, events and the
 * durable log behave the same for every class. */
#include "generic.h"
#include "../base/mem.h"
#include "../db/filter.h"

#include <string.h>

int handle_invalid(struct xerr *err, int cls, const char *ref)
{
	return xerr_set(err, "HANDLE_INVALID", cls >= 0 ? sc_classes[cls].name : "", ref ? ref : "",
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

static const xv *arg(xv *args, size_t i) { return xv_arr_get(args, i); }

static int get_record(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *o = generic_lookup(ctx, ctx->cls, arg(args, 0), err);
	if (o)
		*result = db_record(ctx->db, o);
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
		return xerr_set(err, "UUID_INVALID", sc_classes[ctx->cls].name, uuid, NULL);
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

static int get_all(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)err;
	*result = xv_arr_new();
	db_rdlock(ctx->db);
	for (struct db_obj *o = db_first(ctx->db, ctx->cls); o; o = db_next(o))
		xv_arr_push_str(result, o->ref);
	db_unlock(ctx->db);
	return 0;
}

static void records_where(struct rpc_ctx *ctx, const struct db_filter *flt, xv *result)
{
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
	records_where(ctx, NULL, result);
	return 0;
}

static int get_all_records_where(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct db_filter *flt = db_filter_parse(xv_as_str(arg(args, 0)), ctx->cls, err);
	if (!flt)
		return -1;
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
		return xerr_set(err, "MAP_DUPLICATE_KEY", sc_classes[o->cls].name,
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
static int create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const xv *rec = arg(args, 0);
	const struct sc_class *c = &sc_classes[ctx->cls];
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
	struct db_obj *o = db_create(t, ctx->cls, NULL);
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
