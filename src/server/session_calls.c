/* session_calls: the session.* messages — login, logout, password change —
 * registered in api's table by the transport that owns sessions (the
 * checking itself is in session.c). */
#include "../api/api.h"
#include "../api/pool_forward.h"
#include "authlimit.h"
#include "session.h"
#include "users.h"
#include "../base/clock.h"

#include <string.h>

/* The password check waits its turn without holding a thread: the call
 * parks until then (RPC_WAIT); a failure's answer is held back. A deadline
 * from before the call began was moved there by a stopping transport: the
 * login is answered at once. */
static int login(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct session_creds c = {arg_str(args, 0), arg_str(args, 1), arg_str(args, 3), ctx->peer,
				  ctx->started_ms, ctx->client_cert};
	bool may_park = ctx->may_wait && !(ctx->deadline_ms && ctx->deadline_ms < ctx->started_ms);
	char ref[REF_STRLEN + 1];
	int64_t retry = 0;
	int r = session_login(ctx->srv, &c, ref, may_park ? &retry : NULL, err);
	if (r == RPC_WAIT) {
		ctx->deadline_ms = retry;
		return RPC_WAIT;
	}
	if (r < 0) {
		ctx->reply_at_ms = clock_now_ms() + AUTH_FAIL_DELAY_MS;
		return -1;
	}
	*result = xv_str(ref);
	return 0;
}

/* session.slave_local_login_with_password: a session of this host alone,
 * given by a slave too (the emergency calls need one there). */
static int local_login(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct session_creds c = {arg_str(args, 0), arg_str(args, 1), "slave-local", ctx->peer, ctx->started_ms,
				  false};
	char ref[REF_STRLEN + 1];
	if (session_login(ctx->srv, &c, ref, NULL, err) < 0) {
		ctx->reply_at_ms = clock_now_ms() + AUTH_FAIL_DELAY_MS;
		return -1;
	}
	*result = xv_str(ref);
	return 0;
}

static int logout(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)result;
	event_session_gone(ctx->session);
	return session_logout(ctx->srv, ctx->session, err);
}

static int change_password(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	uint32_t roles;
	if (users_check(ctx->srv->users, ctx->user, arg_str(args, 0), &roles) < 0)
		return xerr_set(err, ERR_CHANGE_PASSWORD_REJECTED, "Authentication failure", NULL);
	return users_set_password(ctx->srv->users, ctx->user, arg_str(args, 1), err);
}

static int subject_ids(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	(void)args;
	(void)err;
	*result = session_subject_identifiers();
	return 0;
}

/* Every session of the subject but the caller's own ends, as in xapi. */
static int logout_subject(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	(void)err;
	session_logout_subject(ctx->srv, arg_str(args, 0), ctx->session);
	return 0;
}

/* subject.destroy: the subject goes, and with it the sessions it let in
 * (a member of a removed group keeps no session of it), as in xapi. */
static int subject_destroy(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *o = generic_lookup(ctx, SC_C_subject, xv_arr_get(args, 0), err);
	if (!o) {
		db_abort(t);
		return -1;
	}
	char ref[REF_STRLEN + 1];
	memcpy(ref, o->ref, sizeof ref);
	db_delete(t, o);
	if (db_commit(t, err) < 0)
		return -1;
	session_logout_subject_ref(ctx->srv, ref);
	return 0;
}

RPC_IMPL(subject, destroy, subject_destroy, 0);
RPC_IMPL(session, login_with_password, login, 0);
RPC_IMPL(session, logout, logout, 0);
RPC_IMPL(session, local_logout, logout, 0);
RPC_IMPL(session, slave_local_login_with_password, local_login, 0);
RPC_IMPL(session, change_password, change_password, 0);
RPC_IMPL(session, get_all_subject_identifiers, subject_ids, 0);
RPC_IMPL(session, logout_subject_identifier, logout_subject, 0);

/* pool.check_session(ref): a member of the pool asks whether a session of
 * this host's is valid, and what it may do (session.c's remote_check). */
static int check_session(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (!pool_call_is_forwarded(ctx))
		return xerr_set(err, ERR_PERMISSION_DENIED, "pool.check_session is for the pool's hosts", NULL);
	return session_describe(ctx->srv, arg_str(args, 0), result, err);
}

static const struct sc_type t_session_ref = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_session_map = {
	.kind = SC_MAP, .text = "(string -> string) map", .key = &t_session_ref, .val = &t_session_ref};
static const struct sc_param check_session_params[] = {{"session", &t_session_ref}};
static const struct sc_message msg_check_session = {
	.name = "check_session", .session = true, .roles = SC_ROLE_POOL_ADMIN, .nparams = 1,
	.params = check_session_params, .result = &t_session_map};

RPC_EXTRA(pool, check_session, &msg_check_session, check_session, 0);
