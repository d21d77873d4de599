/* rpc: from a decoded call to a result. Checks the session, arity, types
 * and roles, then runs the message's handler — a hand-written one from
 * src/api when registered, else the generic accessor the schema implies.
 * Async.* calls get a task and run on the worker pool. */
#ifndef XENON_RPC_H
#define XENON_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "../base/xv.h"
#include "../db/db.h"
#include "../schema/schema.h"
#include "authlimit.h"

struct server;

struct rpc_ctx {
	struct server *srv;
	struct db *db;
	int cls;
	const struct sc_message *msg;
	char session[REF_STRLEN + 1]; /* the caller's session ref, "" if none */
	char user[64];
	uint32_t roles;
	/* The local superuser's session (root): skips RBAC, as xapi's
	 * is_local_superuser sessions do, and alone may call the messages
	 * the datamodel gives no role (_R_LOCAL_ROOT_ONLY). */
	bool rbac_exempt;
	char task[REF_STRLEN + 1]; /* the task of an Async call, "" otherwise */
	/* For calls that may wait (event.from): absolute deadline in ms since
	 * boot, set by the transport on the first attempt and kept across
	 * re-runs. 0 until set. */
	int64_t deadline_ms;
	bool may_wait; /* the transport can suspend and retry this call */
	int64_t started_ms; /* when the call arrived (rpc_now_ms) */
	/* A handler may hold its answer back until then (failed logins): a
	 * transport that can park the call sends it no earlier. 0: at once. */
	int64_t reply_at_ms;
	char peer[AUTH_PEER_LEN]; /* the client's address (authlimit_peer), "" if unknown */
	/* The caller's wire protocol (enum wire_proto), or -1: lets bulk
	 * readers write records straight into the reply as XV_RAW. */
	int proto;
	/* The transport can send a result in pieces (rpc_stream): set by the
	 * HTTP transport, with proto. A handler may then answer with *stream
	 * instead of *result; the caller owns it (rpc_call_free frees it). */
	bool may_stream;
	struct rpc_stream *stream;
};

struct strbuf;

/* A result encoded as it is read, for answers too large to build whole
 * (whole-table reads). Encodes for rpc_ctx.proto, exactly what the same
 * result would encode to as a value built whole. */
struct rpc_stream {
	/* Appends the next piece of the encoding to out: about want bytes,
	 * fewer (even none) when it has looked at enough rows for one go
	 * (rows a filter leaves out), or at the end. Returns true once the
	 * value is complete (nothing more to append). */
	bool (*next)(struct rpc_stream *s, struct strbuf *out, size_t want);
	void (*free)(struct rpc_stream *s);
};

/* Handlers return 0 with *result set, or -1 with err set, or RPC_WAIT when
 * the call must be retried after the next commit (or its deadline). */
#define RPC_WAIT 1

typedef int (*rpc_handler)(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err);

enum rpc_flags {
	RPC_SLOW = 1 << 0, /* may block: run a sync call on the worker pool */
};

/* Registers the implementation of "Class.message". */
void rpc_register(const char *cls, const char *msg, rpc_handler fn, unsigned flags);
/* Registers a message the schema does not have (Xenon's extensions, e.g.
 * VM.guest_exec); params excludes the session. */
void rpc_register_extra(const char *cls, const struct sc_message *m, rpc_handler fn, unsigned flags);

enum rpc_outcome {
	RPC_DONE,     /* result or err is set */
	RPC_WAITING,  /* call again after a commit or at ctx->deadline_ms */
	RPC_DEFERRED, /* runs on a worker; done() is called when it finishes */
};

struct rpc_call {
	struct rpc_ctx ctx;
	char *method;
	xv params; /* owned; includes the session for session calls */
	bool async;
	rpc_handler fn;
	unsigned flags;
	xv result;
	struct xerr err;
	bool held; /* ran; its answer waits for ctx.reply_at_ms */
	/* for RPC_DEFERRED: called on the worker thread once result/err is set */
	void (*done)(struct rpc_call *call, void *arg);
	void *done_arg;
};

/* Prepares a call from a method name and its params (takes ownership of
 * params). Returns RPC_DONE with err set if the method is unknown etc. */
void rpc_call_init(struct rpc_call *call, struct server *srv, const char *method, xv params);
/* Runs (or re-runs, after RPC_WAITING) the call. */
enum rpc_outcome rpc_call_run(struct rpc_call *call);
void rpc_call_free(struct rpc_call *call);

/* Names for system.listMethods: every synchronous message. */
xv rpc_list_methods(void);

/* Monotonic milliseconds. */
int64_t rpc_now_ms(void);

/* Called by api/ modules at start: registers their handlers. */
void rpc_init(void);

#endif
