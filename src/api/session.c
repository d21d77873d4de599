/* session: login and logout calls (the checking itself is in
 * server/session.c). */
#include "api.h"
#include "../server/session.h"
#include "../server/users.h"

#include <string.h>

static int login(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	char ref[REF_STRLEN + 1];
	if (session_login(ctx->srv, arg_str(args, 0), arg_str(args, 1), arg_str(args, 3), ref, err) < 0)
		return -1;
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
		return xerr_set(err, "CHANGE_PASSWORD_REJECTED", "Authentication failure", NULL);
	return users_set_password(ctx->srv->users, ctx->user, arg_str(args, 1), err);
}

static int subject_ids(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	(void)args;
	(void)err;
	*result = xv_arr_new(); /* no external directory: no subjects */
	return 0;
}

static int logout_subject(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	(void)args;
	(void)result;
	(void)err;
	return 0;
}

void api_session_init(void)
{
	rpc_register("session", "login_with_password", login, 0);
	rpc_register("session", "logout", logout, 0);
	rpc_register("session", "local_logout", logout, 0);
	rpc_register("session", "change_password", change_password, 0);
	rpc_register("session", "get_all_subject_identifiers", subject_ids, 0);
	rpc_register("session", "logout_subject_identifier", logout_subject, 0);
}
