/* pool_join: a host joining a pool and leaving it (pool.join,
 * pool.join_force, pool.eject, pool.initial_auth and the internal
 * pool.join_merge / pool.eject_self), and the master's heartbeats that
 * keep host_metrics.live. See pool_join.c. */
#ifndef XENON_POOL_JOIN_H
#define XENON_POOL_JOIN_H

#include "server.h"

/* The Raft transport's port on every host of a pool made by pool.join. */
#define POOL_RAFT_PORT 7911

/* Files of the data directory: the pool membership (pool-* keys, read by
 * the daemon at start), the uuid of this host's record, the pool secret,
 * and the mark that the next start begins with an empty store and log. */
#define POOL_CONF_FILE "pool.conf"
#define POOL_HOST_FILE "pool-host"
#define POOL_SECRET_FILE "pool-secret"
/* a new secret, accepted beside the old while pool.rotate_secret runs */
#define POOL_SECRET_STAGED_FILE "pool-secret.staged"
#define POOL_RESET_FILE "pool-reset"
/* The pool's hosts' certificates, <uuid>.pem (exchanged at joins). */
#define POOL_CERTS_DIR "pool-certs"

/* host.other_config key: the host's Raft id. */
#define POOL_MEMBER_KEY "pool_member_id"

/* The port of this host's API (that of every host of the pool). */
int pool_api_port(struct server *srv);

/* At start, before the store is opened: if a join or an eject asked for
 * it, deletes the store and the Raft log. */
int pool_join_reset(const char *data_dir);

/* On a member at start (its host_ref known): its host.address follows
 * the machine's (written through the master). */
void pool_member_refresh(struct server *srv);

/* The master's liveness probes of the pool's hosts (host_metrics.live). */
void pool_heartbeat_start(struct server *srv);
void pool_heartbeat_stop(void);

#endif
