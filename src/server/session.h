/* session: logins, the session table the RPC path checks on every call,
 * idle expiry, and logout. Sessions are rows of class session (so
 * session.get_record works) mirrored in a fast in-memory index. Password
 * checks wait their turn (authlimit.h), so passwords cannot be guessed
 * fast. */
#ifndef XENON_SESSION_H
#define XENON_SESSION_H

#include <stdint.h>

#include "../base/uuid.h"
#include "../base/xerr.h"
#include "../api/server.h"

struct rpc_ctx;

struct session_creds {
	const char *user, *password, *originator;
	const char *peer;   /* the client's address (authlimit_peer) */
	int64_t since_ms;   /* when the login began (clock_now_ms), for callers that park */
	bool client_cert;   /* its TLS client's certificate vouches for it: no password checked */
};

/* Logs in: 0 with out set, else -1 with err (SESSION_AUTHENTICATION_FAILED).
 * The password check waits its turn (authlimit.h). With retry_ms, a login
 * whose turn is still to come returns RPC_WAIT and when to try again: the
 * caller parks the call meanwhile, up to AUTH_MAX_WAIT_MS from since_ms.
 * Without, it waits a moment for a free slot, and is refused at once when
 * its address is throttled. */
int session_login(struct server *srv, const struct session_creds *c, char out[REF_STRLEN + 1],
		  int64_t *retry_ms, struct xerr *err);
/* Validates ref and fills ctx->user, roles and rbac_exempt;
 * SESSION_INVALID otherwise. A member of a pool asks the master about a
 * session it does not know (kept a few seconds). */
int session_check(struct server *srv, const char *ref, struct rpc_ctx *ctx, struct xerr *err);
/* What a member needs of a session of this host's (pool.check_session):
 * a map of user, roles, superuser, sid and originator; SESSION_INVALID. */
int session_describe(struct server *srv, const char *ref, xv *out, struct xerr *err);
int session_logout(struct server *srv, const char *ref, struct xerr *err);
/* A session of ctx's user answering read-only from db, which it owns
 * from then on (closed on failure too). */
int session_open_db(struct server *srv, const struct rpc_ctx *ctx, struct db *db, char out[REF_STRLEN + 1],
		    struct xerr *err);
/* The store session ref answers from, NULL when it is no session. */
struct db *session_db(struct server *srv, const char *ref);
/* Expires sessions idle longer than cfg.session_timeout_s. */
void session_gc(struct server *srv);
/* Kills a session without a call (tests, user removal). */
void session_forget(struct server *srv, const char *ref);
void session_init(void);
/* The identifiers of the subjects with a live session (each once). */
xv session_subject_identifiers(void);
/* Ends every session of subject identifier sid but keep; how many. */
size_t session_logout_subject(struct server *srv, const char *sid, const char *keep);
/* Ends every session the subject (ref) let in; how many. */
size_t session_logout_subject_ref(struct server *srv, const char *subject);

#endif
