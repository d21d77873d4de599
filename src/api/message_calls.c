/* message: create (with the host's time, for an object that exists), the
 * reads and bulk destroy xapi serves beside the generic accessors — message.get (one object's messages since a time),
 * message.get_since (all of them since a time), message.destroy_many. */
#include "api.h"

#include <string.h>
#include <time.h>

static int64_t arg_time(xv *args, size_t i)
{
	const xv *v = xv_arr_get(args, i);
	return v && (v->kind == XV_TIME || v->kind == XV_INT) ? v->u.i : 0;
}

/* Messages newer than since (strictly, as xapi's), of class cls and
 * object obj_uuid when cls is given: ref → record. */
static xv messages_since(struct db *db, const char *cls, const char *obj_uuid, int64_t since)
{
	xv out = xv_map_new();
	for (struct db_obj *m = db_first(db, SC_C_message); m; m = db_next(m)) {
		const xv *ts = db_peek(m, SC_F_message__timestamp);
		if (!ts || ts->u.i <= since)
			continue;
		if (cls && (strcmp(db_peek_str(m, SC_F_message__cls), cls) != 0 ||
			    strcmp(db_peek_str(m, SC_F_message__obj_uuid), obj_uuid) != 0))
			continue;
		xv_map_set(&out, m->ref, db_record(db, m));
	}
	return out;
}

static int message_get(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)err;
	db_rdlock(ctx->db);
	*result = messages_since(ctx->db, arg_str(args, 0), arg_str(args, 1), arg_time(args, 2));
	db_unlock(ctx->db);
	return 0;
}

static int message_get_since(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)err;
	db_rdlock(ctx->db);
	*result = messages_since(ctx->db, NULL, NULL, arg_time(args, 0));
	db_unlock(ctx->db);
	return 0;
}

/* All or none: an unknown ref answers HANDLE_INVALID before any goes. */
static int message_destroy_many(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const xv *refs = xv_arr_get(args, 0);
	struct db_txn *t = db_begin(ctx->db);
	for (size_t i = 0; i < xv_len(refs); i++) {
		const char *ref = xv_as_str(xv_arr_get(refs, i));
		bool seen = false; /* a ref given twice goes once */
		for (size_t j = 0; j < i && ref && !seen; j++) {
			const char *r = xv_as_str(xv_arr_get(refs, j));
			seen = r && strcmp(r, ref) == 0;
		}
		if (seen)
			continue;
		struct db_obj *m = ref ? db_lookup_cls(ctx->db, SC_C_message, ref) : NULL;
		if (!m) {
			db_abort(t);
			return handle_invalid(err, SC_C_message, ref ? ref : "");
		}
		db_delete(t, m);
	}
	(void)result;
	return db_commit(t, err);
}

/* The class an enum cls names: VM, SR, VDI as they are; Host and Pool in
 * lower case. -1 for none. */
static int class_of_cls(const char *cls)
{
	int c = sc_class_find(cls);
	if (c < 0) {
		char lower[32];
		size_t i = 0;
		for (; cls[i] && i + 1 < sizeof lower; i++)
			lower[i] = (char)(cls[i] >= 'A' && cls[i] <= 'Z' ? cls[i] + 32 : cls[i]);
		lower[i] = 0;
		c = sc_class_find(lower);
	}
	return c;
}

struct db_obj *message_add(struct db_txn *t, const char *name, int64_t priority, const char *cls,
			   const char *obj_uuid, const char *body)
{
	struct db_obj *m = db_create(t, SC_C_message, NULL);
	db_set_str(t, m, SC_F_message__name, name);
	db_set_int(t, m, SC_F_message__priority, priority);
	db_set_str(t, m, SC_F_message__cls, cls);
	db_set_str(t, m, SC_F_message__obj_uuid, obj_uuid);
	db_set(t, m, SC_F_message__timestamp, xv_time(time(NULL)));
	db_set_str(t, m, SC_F_message__body, body);
	return m;
}

/* As xapi's: the object must exist (UUID_INVALID [cls, uuid]); the time
 * is the host's. */
static int message_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *cls = arg_str(args, 2), *uuid = arg_str(args, 3);
	struct db_txn *t = db_begin(ctx->db);
	int c = class_of_cls(cls);
	if (c < 0 || !db_lookup_uuid(ctx->db, c, uuid)) {
		db_abort(t);
		return xerr_set(err, ERR_UUID_INVALID, cls, uuid, NULL);
	}
	struct db_obj *m = message_add(t, arg_str(args, 0), arg_int(args, 1), cls, uuid, arg_str(args, 4));
	*result = xv_str(m->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

RPC_IMPL(message, create, message_create, 0);
RPC_IMPL(message, get, message_get, 0);
RPC_IMPL(message, get_since, message_get_since, 0);
RPC_IMPL(message, destroy_many, message_destroy_many, 0);
