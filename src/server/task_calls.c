/* task_calls: the task.* messages — create/cancel/destroy and the setters an
 * HTTP-transfer owner uses to report progress, with xapi's rules on which
 * states allow what — registered by the transport that owns tasks. */
#include "../api/api.h"
#include "task.h"

#include <string.h>
#include <time.h>

static int create(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	char ref[REF_STRLEN + 1];
	if (task_create(ctx->srv, arg_str(args, 0), arg_str(args, 1), ctx->session, ref, err) < 0)
		return -1;
	*result = xv_str(ref);
	return 0;
}

/* A transaction on the task named by the call's first argument; NULL
 * (nothing held) when there is no such task. */
static struct db_txn *task_txn(struct rpc_ctx *ctx, xv *args, struct db_obj **o, struct xerr *err)
{
	struct db_txn *t = db_begin(ctx->db);
	*o = generic_lookup(ctx, SC_C_task, xv_arr_get(args, 0), err);
	if (!*o) {
		db_abort(t);
		return NULL;
	}
	return t;
}

static int cancel(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_obj *o;
	struct db_txn *t = task_txn(ctx, args, &o, err);
	if (!t)
		return -1;
	if (strcmp(db_peek_str(o, SC_F_task__status), "pending") != 0) {
		db_abort(t);
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "task is not pending", NULL);
	}
	op_mark(t, o, "cancel", ctx->session);
	db_set_str(t, o, SC_F_task__status, "cancelling");
	return db_commit(t, err);
}

/* Tasks created with task.create have no worker: cancelling them is
 * finished by whoever set them up, or here if no one will. */
static int destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_obj *o;
	struct db_txn *t = task_txn(ctx, args, &o, err);
	if (!t)
		return -1;
	db_delete(t, o);
	return db_commit(t, err);
}

/* set_progress, set_result and set_error_info are plain setters the
 * generic layer serves; set_status also stamps the finish time. */
static int set_status(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_obj *o;
	struct db_txn *t = task_txn(ctx, args, &o, err);
	if (!t)
		return -1;
	const char *status = arg_str(args, 1);
	db_set_str(t, o, SC_F_task__status, status);
	if (strcmp(status, "pending") != 0 && strcmp(status, "cancelling") != 0)
		db_set(t, o, SC_F_task__finished, xv_time(time(NULL)));
	return db_commit(t, err);
}

RPC_IMPL(task, create, create, 0);
RPC_IMPL(task, cancel, cancel, 0);
RPC_IMPL(task, destroy, destroy, 0);
RPC_IMPL(task, set_status, set_status, 0);
