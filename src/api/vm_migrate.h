/* vm_migrate.h: what the two halves of live migration share —
 * vm_migrate.c (host.migrate_receive, VM.migrate_send to another pool,
 * VDI.pool_migrate, the destination's receive and finish) and
 * vm_migrate_pool.c (VM.pool_migrate, VM.migrate_send within the pool). */
#ifndef XENON_VM_MIGRATE_H
#define XENON_VM_MIGRATE_H

#include "api.h"
#include "vm_ops.h"
#include "../base/uuid.h"
#include "../xenops/xenops.h"

#include <pthread.h>
#include <stdbool.h>

/* A context of this host's own, without a session. */
void mig_self_ctx(struct server *srv, struct rpc_ctx *ctx);

/* One side's credentials for one migration's stream (tls.h): made for it,
 * trusted by the other side through the CA it is sent over the pool's
 * channel (or the dest map's session), gone with the migration. */
struct mig_creds {
	char *ca, *cert, *key, *bundle, *dh;
	char name[UUID_STRLEN + 1]; /* what this side's certificate names */
	struct xenops_mig_tls tls;
};

int mig_creds_make(struct server *srv, struct mig_creds *c, struct xerr *err);
/* Trusts the peer's CA beside its own; the peer's certificate must name
 * peer_name (the source checks it; "" on the destination). */
const struct xenops_mig_tls *mig_creds_trust(struct mig_creds *c, const char *peer_ca, const char *peer_name);
void mig_creds_free(struct mig_creds *c);
/* Whether a pool's migration stream may go plain: when the network it
 * goes over (net, else dest's management network) is marked
 * other_config:insecure_migration=true. */
bool mig_stream_plain(struct db *db, struct db_obj *dest, struct db_obj *net);
/* host's address on net (HOST_CANNOT_ATTACH_NETWORK, INTERFACE_HAS_NO_IP). */
int mig_address_on(struct db *db, struct db_obj *host, struct db_obj *net, char out[64], struct xerr *err);

/* A migration waiting on this host (the destination) for its stream. */
struct incoming {
	char vm_ref[REF_STRLEN + 1];
	char token[REF_STRLEN + 1];
	struct vm_spec spec;
	struct vm_build *build;
	xv vdis; /* the VDIs made here for it */
	xv moved; /* VM.migrate_send within the pool: VBD ref -> its new VDI here */
	bool pooled; /* VM.pool_migrate: the records are the pool's, not made here */
	struct incoming *next;
};

/* Waits for host.migrate_receive_finish. */
void mig_incoming_add(struct incoming *in);
/* Undoes what was made here for in: its domain's disks, its records (when
 * in->vm_ref is set), the VDIs made for it. */
void mig_discard(struct server *srv, struct incoming *in);
void mig_incoming_free(struct incoming *in);

/* A member of a JSON object, "" when absent. */
const char *mig_jstr(const xv *m, const char *k);
/* "http://ADDR:PORT" (or https) into "ADDR:PORT" and whether TLS. */
int mig_parse_master(const char *url, char out[128], bool *tls);
/* xapi's limit of storage migrations at once from this host:
 * TOO_MANY_STORAGE_MIGRATES, else 0 (one more counted if count, given
 * back with mig_storage_give). */
int mig_storage_take(bool count, struct xerr *err);
void mig_storage_give(void);

/* The call's task while the migration runs: watched for a cancel, and
 * given the backend's progress (written here, not in the migrating
 * thread, which holds the VM's QEMU). */
struct watch {
	struct server *srv;
	char task[REF_STRLEN + 1];
	bool cancel; /* __atomic */
	bool stop;   /* __atomic */
	bool in_memory; /* __atomic: the mirrors are done */
	int progress; /* __atomic: the backend's figure, in millionths */
	pthread_t thread;
	bool running;
};

/* Watches task (if any) in a thread of its own while the backend sends,
 * and points tg's cancel flag and progress at w; mig_watch_end stops it. */
void mig_watch_begin(struct watch *w, struct server *srv, const char *task, struct xenops_mig_target *tg);
void mig_watch_end(struct watch *w);
/* The source's console history (its last 256 KiB), base64, "" if none. */
xv mig_console_history(struct server *srv, const char *uuid);

/* A dest map of a host of this pool: ip gets its xenops URL's address. */
bool mig_dest_in_pool(struct db *db, const xv *dest, char ip[128]);
/* VM.migrate_send (args as given) within the pool; dry: the checks only
 * (VM.assert_can_migrate). */
int mig_intra_pool(struct rpc_ctx *ctx, xv *args, bool dry, xv *result, struct xerr *err);

#endif
