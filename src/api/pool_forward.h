/* pool_forward: the master runs a call where it belongs (another host's
 * xenond, under the pool's session), VM placement (VM.start,
 * VM.assert_can_boot_here, VM.get_possible_hosts), and a member's writes
 * sent to the master (the store's replicator on every pooled host). See
 * pool_forward.c. */
#ifndef XENON_POOL_FORWARD_H
#define XENON_POOL_FORWARD_H

#include <stdbool.h>
#include <stddef.h>

#include "rpc_table.h"
#include "server.h"

/* A call under the pool's session (another host of the pool calling):
 * fills ctx as the local superuser's. */
bool pool_session_accept(struct server *srv, const char *ref, struct rpc_ctx *ctx);

/* The call comes from another host of the pool (its session). */
bool pool_call_is_forwarded(const struct rpc_ctx *ctx);

/* On the master, after the checks of a call: true if it runs on another
 * host (the host is appended to args); pool_forward_call then runs it. */
bool pool_forward_wanted(struct rpc_ctx *ctx, xv *args);
int pool_forward_call(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err);

/* A host of the pool answers at address under the pool's session (the
 * master's heartbeat: host_metrics.live). */
bool pool_member_answers(struct server *srv, const char *uuid, const char *address);

/* Calls method (args without the session) on the host at address (its
 * IP) under the pool's session, whatever its role. */
int pool_call_at(struct server *srv, const char *address, const char *method, const xv *args, xv *result,
		 struct xerr *err);
/* The same, bounded by timeout_s. */
int pool_call_at_within(struct server *srv, const char *address, const char *method, const xv *args,
			long timeout_s, xv *result, struct xerr *err);

struct peer;
/* A connection to the host uuid (NULL: the host at address): over TLS
 * with its key pinned when this host serves TLS and has the host's
 * certificate (exchanged at its join), else plain HTTP. */
struct peer *pool_open_peer(struct server *srv, const char *uuid, const char *address, long timeout_s);
/* Runs method (args without the session) on host href under the pool's
 * session, once it has applied what this host has; task (or NULL): the
 * caller's task, which follows an Async call there. HOST_OFFLINE when the
 * host is not live or cannot be reached. */
int pool_call_on_host(struct server *srv, const char *href, const char *method, const xv *args,
		      const char *task, xv *result, struct xerr *err);
/* The same without a task, each exchange bounded by timeout_s. */
int pool_call_on_host_within(struct server *srv, const char *href, const char *method, const xv *args,
			     long timeout_s, xv *result, struct xerr *err);

/* A connection to the host href under the pool's session (NULL and
 * HOST_OFFLINE when it is not live): for a call or a streamed GET there
 * (pool_peer.h); peer_close ends it. */
struct peer *pool_peer_for_host(struct server *srv, const char *href, struct xerr *err);

/* The port of this host's TLS listener (that of every host of the pool),
 * 0 when it has none. */
int pool_tls_port(struct server *srv);
/* Refreshes the hosts' addresses a member's replicator looks its master's
 * certificate up by (the heartbeat thread, every 2 s). */
void pool_hosts_refresh(struct server *srv);

/* On the master, after a host joined: plugs its PBDs of shared SRs once
 * it answers (a thread of its own), and its tunnels (tunnel_joined_host). */
void pool_plug_joined(struct server *srv, const char *host_ref);

/* The store's replicator of a pooled host (arg: the server): on the
 * master, Raft; on a member, the master's pool.apply_entry. */
int pool_replicate(void *arg, const char *entry, size_t len, struct xerr *err);
/* The store's pipelined replicator (struct db_replicator's submit). */
struct db_pend;
int pool_submit(void *arg, const char *entry, size_t len, struct db_pend *pd, struct xerr *err);

#endif
