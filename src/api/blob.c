/* blob: Class.create_new_blob (VM, host, pool, SR, network) makes a blob
 * record and names it in the object's blobs map; blob.create makes one
 * unattached; blob.destroy removes it from every map, then its file and
 * record (xapi_blob.ml). The bytes go through /blob (server/blob_http.c). */
#include "api.h"
#include "blob.h"
#include "../base/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *blob_file(struct server *srv, const char *uuid)
{
	return xasprintf("%s/blobs/%s", srv->cfg.data_dir, uuid);
}

int blob_dir_ensure(struct server *srv, struct xerr *err)
{
	char *dir = xasprintf("%s/blobs", srv->cfg.data_dir);
	int rc = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		rc = xerr_set(err, ERR_INTERNAL_ERROR, "cannot make the blob directory", NULL);
	free(dir);
	return rc;
}

/* xapi: an empty mime type is application/octet-stream. */
static struct db_obj *blob_new(struct db_txn *t, const char *mime, bool public)
{
	struct db_obj *b = db_create(t, SC_C_blob, NULL);
	db_set_str(t, b, SC_F_blob__mime_type, *mime ? mime : "application/octet-stream");
	db_set_bool(t, b, SC_F_blob__public, public);
	db_set_int(t, b, SC_F_blob__size, 0);
	db_set(t, b, SC_F_blob__last_updated, xv_time(0));
	return b;
}

static int blobs_field(int cls)
{
	switch (cls) {
	case SC_C_VM: return SC_F_VM__blobs;
	case SC_C_host: return SC_F_host__blobs;
	case SC_C_pool: return SC_F_pool__blobs;
	case SC_C_SR: return SC_F_SR__blobs;
	case SC_C_network: return SC_F_network__blobs;
	default: return -1;
	}
}

/* Class.create_new_blob(obj, name, mime_type, public): a name already in
 * the map is refused as xapi's Db.*.add_to_blobs refuses it
 * (MAP_DUPLICATE_KEY). */
static int create_new_blob(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *o = generic_lookup(ctx, ctx->cls, xv_arr_get(args, 0), err);
	if (!o) {
		db_abort(t);
		return -1;
	}
	const char *name = arg_str(args, 1);
	int field = blobs_field(ctx->cls);
	if (xv_map_get(db_peek(o, field), name)) {
		db_abort(t);
		return xerr_set(err, ERR_MAP_DUPLICATE_KEY, sc_classes[ctx->cls].name, "blobs", o->ref, name, NULL);
	}
	struct db_obj *b = blob_new(t, arg_str(args, 2), arg_bool(args, 3));
	db_set_str(t, b, SC_F_blob__name_label, name);
	xv_map_set_str(db_edit(t, o, field), name, b->ref);
	*result = xv_str(b->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

static int blob_create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *b = blob_new(t, arg_str(args, 0), arg_bool(args, 1));
	*result = xv_str(b->ref);
	if (db_commit(t, err) < 0) {
		xv_free(result);
		return -1;
	}
	return 0;
}

static void unname(struct db_txn *t, struct db *db, int cls, const char *ref)
{
	int field = blobs_field(cls);
	for (struct db_obj *o = db_first(db, cls); o; o = db_next(o)) {
		const xv *m = db_peek(o, field);
		for (size_t i = 0; m && m->kind == XV_MAP && i < xv_len(m); i++) {
			if (strcmp(xv_as_str(&m->u.m->vals[i]) ?: "", ref))
				continue;
			char *key = xstrdup(m->u.m->keys[i]);
			xv_map_del(db_edit(t, o, field), key);
			free(key);
			m = db_peek(o, field);
			i = (size_t)-1;
		}
	}
}

static int blob_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *b = generic_lookup(ctx, SC_C_blob, xv_arr_get(args, 0), err);
	if (!b) {
		db_abort(t);
		return -1;
	}
	static const int classes[] = {SC_C_VM, SC_C_host, SC_C_pool, SC_C_SR, SC_C_network};
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++)
		unname(t, ctx->db, classes[i], b->ref);
	char *file = blob_file(ctx->srv, db_peek_str(b, SC_F_blob__uuid));
	db_delete(t, b);
	int rc = db_commit(t, err);
	if (rc == 0)
		unlink(file);
	free(file);
	return rc;
}

RPC_IMPL(VM, create_new_blob, create_new_blob, 0);
RPC_IMPL(host, create_new_blob, create_new_blob, 0);
RPC_IMPL(pool, create_new_blob, create_new_blob, 0);
RPC_IMPL(SR, create_new_blob, create_new_blob, 0);
RPC_IMPL(network, create_new_blob, create_new_blob, 0);
RPC_IMPL(blob, create, blob_create, 0);
RPC_IMPL(blob, destroy, blob_destroy, 0);
