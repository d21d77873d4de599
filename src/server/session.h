/* session: logins, the session table the RPC path checks on every call,
 * idle expiry, and logout. Sessions are rows of class session (so
 * session.get_record works) mirrored in a fast in-memory index. */
#ifndef XENON_SESSION_H
#define XENON_SESSION_H

#include <stdint.h>

#include "../base/uuid.h"
#include "../base/xerr.h"
#include "server.h"

struct rpc_ctx;

int session_login(struct server *srv, const char *user, const char *password,
		  const char *originator, char out[REF_STRLEN + 1], struct xerr *err);
/* Validates ref and fills ctx->user, roles and rbac_exempt;
 * SESSION_INVALID otherwise. */
int session_check(struct server *srv, const char *ref, struct rpc_ctx *ctx, struct xerr *err);
int session_logout(struct server *srv, const char *ref, struct xerr *err);
/* Expires sessions idle longer than cfg.session_timeout_s. */
void session_gc(struct server *srv);
/* Kills a session without a call (tests, user removal). */
void session_forget(struct server *srv, const char *ref);
void session_init(void);

#endif
