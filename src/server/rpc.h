/* rpc: from a decoded call to a result. Checks the session, arity, types
 * and roles, then runs the message's handler — a hand-written one from
 * api's table (api/rpc_table.h) when registered, else the generic accessor
 * the schema implies. Async.* calls get a task and run on the worker pool. */
#ifndef XENON_RPC_H
#define XENON_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "../base/xv.h"
#include "../api/rpc_table.h"

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
	bool audited; /* its audit line (audit.h) is written */
	/* for RPC_DEFERRED: called on the worker thread once result/err is set */
	void (*done)(struct rpc_call *call, void *arg);
	void *done_arg;
	int64_t t0_ns; /* when it arrived (CLOCK_MONOTONIC), for the metrics */
};

/* Prepares a call from a method name and its params (takes ownership of
 * params). Returns RPC_DONE with err set if the method is unknown etc. */
void rpc_call_init(struct rpc_call *call, struct server *srv, const char *method, xv params);
/* Runs (or re-runs, after RPC_WAITING) the call. */
enum rpc_outcome rpc_call_run(struct rpc_call *call);
void rpc_call_free(struct rpc_call *call);

/* The implementation of each schema message, by its number (SC_M_*);
 * NULL for those without one (generated from api/messages.list). */
extern const struct rpc_entry *const rpc_handlers[SC_NMESSAGES];

/* Called at start: adds the extension messages api/messages.list names
 * to the handler table (rpc_handlers.c, generated from that list). */
void rpc_init(void);

#endif
