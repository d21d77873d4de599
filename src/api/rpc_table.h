/* rpc_table: what a message implementation is — the context it runs in,
 * its signature — and how a file declares one (RPC_IMPL, RPC_EXTRA) for
 * the table generated from api/messages.list, which the transport
 * (server/rpc.c) indexes by the message's number (SC_M_*). */
#ifndef XENON_RPC_TABLE_H
#define XENON_RPC_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "../base/xv.h"
#include "../db/db.h"
#include "../schema/schema.h"

/* Room for a client's address as server/authlimit.c writes it. */
#define RPC_PEER_LEN 64

struct server;

struct rpc_ctx {
	struct server *srv;
	struct db *db;
	int cls;
	const struct sc_message *msg;
	char session[REF_STRLEN + 1]; /* the caller's session ref, "" if none */
	char user[64];
	uint32_t roles;
	char sid[32];        /* a subject's identifier (u<uid>), "" for root and local users */
	char originator[64]; /* the session's originator */
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
	int64_t started_ms; /* when the call arrived (clock_now_ms) */
	/* A handler may hold its answer back until then (failed logins): a
	 * transport that can park the call sends it no earlier. 0: at once. */
	int64_t reply_at_ms;
	char peer[RPC_PEER_LEN]; /* the client's address (authlimit_peer), "" if unknown */
	/* A login whose TLS client presented a certificate the pool trusts
	 * for client-certificate authentication (tls_live.h). */
	bool client_cert;
	/* The caller's wire protocol (enum wire_proto), or -1: lets bulk
	 * readers write records straight into the reply as XV_RAW. */
	int proto;
	/* The transport can send a result in pieces (rpc_stream): set by the
	 * HTTP transport, with proto. A handler may then answer with *stream
	 * instead of *result; the caller owns it (rpc_call_free frees it). */
	bool may_stream;
	struct rpc_stream *stream;
	/* The session answers from a database read from a file or a metadata
	 * VDI (VDI.open_database), not the pool's: db is that one, read-only. */
	bool foreign_db;
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

/* An implementation. */
struct rpc_entry {
	int cls;                     /* -1 for a class the schema lacks */
	const struct sc_message *msg; /* an extension's; NULL for the schema's */
	rpc_handler fn;
	unsigned flags;
};

#include "api/rpc_list.h" /* generated from messages.list */

/* The implementation of schema message Class.msg, at file scope: defines
 * rpc_impl_Class__msg, which the generated table puts in the slot
 * SC_M_Class__msg. Fails to compile unless messages.list names it and the
 * schema has it. */
#define RPC_IMPL(c, m, fn, flags)                                                   \
	_Static_assert(RPC_LISTED_##c##__##m, #c "." #m " is not in api/messages.list"); \
	const struct rpc_entry rpc_impl_##c##__##m = {SC_C_##c, NULL, fn, flags}

/* An extension (a message the schema lacks, e.g. VM.guest_exec), listed as
 * "extra Class.msg"; msgp describes it (params exclude the session). */
#define RPC_EXTRA(c, m, msgp, fn, flags)                                                  \
	_Static_assert(RPC_EXTRA_LISTED_##c##__##m, #c "." #m " is not in api/messages.list"); \
	const struct rpc_entry rpc_impl_##c##__##m = {SC_C_##c, msgp, fn, flags}

/* Adds an extension message at run time: rpc_init does so for the listed
 * ones; tests add their own. */
void rpc_register_extra(const char *cls, const struct sc_message *m, rpc_handler fn, unsigned flags);

/* The extension registered as "Class.message", or NULL. */
const struct rpc_entry *rpc_extra_find(const char *key);

/* Names for system.listMethods: every synchronous message. */
xv rpc_list_methods(void);

#endif
