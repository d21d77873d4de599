/* server: the daemon's shared state — configuration, the store, the worker
 * pool, users and the VM backend — passed to every handler through
 * rpc_ctx. One per process, made by server/main.c; the api layer reads it
 * and calls the daemon back only through the hooks it filled in. */
#ifndef XENON_SERVER_H
#define XENON_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/uuid.h"
#include "../db/db.h"
#include "../xenops/xenops.h"

struct workq;
struct users;
struct metrics;
struct pool_raft;
struct rpc_ctx;
struct db;

struct server_config {
	char *data_dir;
	char *run_dir;
	char *listen;     /* ADDR:PORT, "" to disable */
	char *tls_listen; /* ADDR:PORT, "" to disable */
	char *root_password_file;
	char *backend; /* sim | qemu */
	char *cert_file, *key_file;
	char *auth; /* "local" or "pam" */
	char *guest_kernel_dir;
	char *network_backend; /* bridge | openvswitch */
	size_t max_body;         /* bytes accepted in one RPC body */
	int session_timeout_s;   /* idle sessions expire after this */
	int task_gc_s;           /* completed tasks are destroyed after this */
	int max_tasks;           /* at most this many completed tasks kept */
	int coalesce_delay_s;    /* a base is coalesced once left with one image this long; -1 ("off"): never */
	int workers;             /* worker threads for async and slow calls */
	int http_threads;        /* polling threads of the HTTP server */
	double event_wait_cap_s; /* longest event.from wait honoured */
	int max_conns;           /* HTTP connections on both ports together */
	int max_conns_per_addr;  /* HTTP connections from one source address */
	int request_timeout_s;   /* an unauthenticated connection's time to send a request */
	int idle_timeout_s;      /* an authenticated connection's idle time */
	char *tls_priorities;    /* GnuTLS priority string of the HTTPS port */
	long audit_log_max;      /* audit-log-max: bytes of audit.log before it is rotated */
	int audit_log_keep;      /* audit-log-keep: rotated audit logs kept */
	int max_sessions_per_subject; /* a subject's live sessions; past it the oldest ends */
	int capture_max;         /* live captures (GET /capture) at once */
	int vmss_interval_s;     /* vmss-interval: every enabled VMSS runs this often (tests); 0: by its schedule */
	int migration_bandwidth; /* migration-bandwidth: MiB/s a live migration from this host may use; 0: no cap */
	char *metrics_token;     /* metrics-token: a Bearer token that may read GET /metrics; NULL: none */
	char *web_dir;           /* web-dir: the web console's built files (server/web_static.c) */
	/* A pooled host (empty pool_address: a pool of one, no Raft at all).
	 * Also read from <data-dir>/pool.conf when that file exists. */
	char *pool_address; /* this host's Raft address, IP:PORT */
	char *pool_peers;   /* ID@IP:PORT,...: the voters of a new pool's first configuration */
	int pool_id;        /* this host's Raft id (> 0) */
	int pool_snapshot_threshold; /* log entries between snapshots (0: the default) */
	int pool_snapshot_trailing;  /* entries kept after one (0: the default) */
};

struct server {
	struct server_config cfg;
	struct db *db;
	struct workq *wq;
	struct users *users;
	const struct xenops_backend *backend;
	struct metrics *metrics; /* the 5-s sampler and the RRDs (api/metrics.c), NULL if off */
	struct xenops_host xh; /* what backend gets instead of this (vm_events_host_init) */
	char host_ref[REF_STRLEN + 1];
	char pool_ref[REF_STRLEN + 1];
	/* the Raft node of a pooled host (its store's replicator), else NULL */
	struct pool_raft *raft;
	/* Set by the daemon: host.restart_agent asks it to re-execute itself
	 * (server/restart.c). NULL: restarts are refused. */
	void (*request_restart)(void);
	/* Set by the daemon: a session for ctx's user whose calls are answered
	 * read-only from db (VDI.open_database), which the session owns from
	 * then on (on success and failure). */
	int (*open_foreign_session)(struct server *srv, const struct rpc_ctx *ctx, struct db *db,
				    char out[REF_STRLEN + 1], struct xerr *err);
	/* The store a session answers from (srv->db, or its own read-only
	 * one), NULL when ref is no session. */
	struct db *(*foreign_store_of)(struct server *srv, const char *ref);
};

#endif
