/* generic: the messages every class gets from the schema — get_record,
 * get_all(_records(_where)), get_by_uuid/name_label, field getters and
 * setters, map and set edits, create and destroy. */
#ifndef XENON_GENERIC_H
#define XENON_GENERIC_H

#include "rpc_table.h"

/* The generic implementation of m, or NULL if m needs a hand-written one. */
rpc_handler generic_handler(int cls, const struct sc_message *m);

/* Shared by hand-written handlers: the object of class ctx->cls named by
 * ref, or NULL with HANDLE_INVALID. Hold the read or write lock. */
struct db_obj *generic_lookup(struct rpc_ctx *ctx, int cls, const xv *ref, struct xerr *err);
int handle_invalid(struct xerr *err, int cls, const char *ref);
/* The n fields of a create call's record: each as given, else the
 * schema's default, coerced to its type. -1 (nothing left to free) on a
 * value of the wrong type. */
/* Class.create(rec) as the generic handler serves it; *result the ref. */
int generic_create(struct rpc_ctx *ctx, int cls, const xv *rec, xv *result, struct xerr *err);
int generic_create_fields(int cls, const xv *rec, const int *fields, size_t n, xv *vals, struct xerr *err);

#endif
