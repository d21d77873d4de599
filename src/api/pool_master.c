/* pool_master: the master of a pool on Raft (pool/raft.h) as XenAPI shows
 * it, and moving it.
 *
 * The master is the Raft leader. Once a second the daemon calls
 * pool_master_tick: the master makes sure every member of the Raft
 * configuration has a host record (by address: the host a join merged,
 * or a bare record for a member configured with pool-peers), points
 * pool.master at itself, and on a change of master leaves one
 * POOL_MASTER_TRANSITION message, as xapi's new master does.
 *
 * pool.designate_new_master moves the master in two phases, as xapi's:
 * phase 1 commits an empty entry and checks the new master is a member
 * that holds it, so the whole log (a standby is then given the vote), phase 2 hands it the leadership
 * with libraft's transfer; the call returns once pool.master names it. It
 * is idempotent (the host already master: nothing to do) and a second call
 * while one runs is refused with DESIGNATE_NEW_MASTER_IN_PROGRESS.
 * pool.sync_database waits until every member holds the log up to the
 * last commit: with Raft every host already has the database to the last
 * replicated entry, so there is no dump to push. */
#include "pool_ha.h"
#include "api.h"
#include "pool_forward.h"
#include "pool_join.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../pool/raft.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t designate_lock = PTHREAD_MUTEX_INITIALIZER;
static bool designating;

/* The IP of a Raft address (IP:PORT). */
static void ip_of(const char *addr, char out[POOL_ADDR_MAX])
{
	snprintf(out, POOL_ADDR_MAX, "%s", addr);
	char *colon = strrchr(out, ':');
	if (colon)
		*colon = 0;
}

static struct db_obj *host_by_address(struct db *db, const char *ip)
{
	for (struct db_obj *h = db_first(db, SC_C_host); h; h = db_next(h))
		if (!strcmp(db_peek_str(h, SC_F_host__address), ip))
			return h;
	return NULL;
}

/* A member configured with pool-peers and never joined has no record of
 * its own: a bare one, named by its address, so clients see every host and
 * can name it (pool.designate_new_master). */
static void ensure_member_records(struct server *srv)
{
	struct pool_raft_member m[POOL_MAX_MEMBERS];
	unsigned n = pool_raft_members(srv->raft, m, POOL_MAX_MEMBERS);
	char ip[POOL_ADDR_MAX];
	bool missing = false;
	db_rdlock(srv->db);
	for (unsigned i = 0; i < n && !missing; i++) {
		ip_of(m[i].address, ip);
		missing = !host_by_address(srv->db, ip);
	}
	db_unlock(srv->db);
	if (!missing)
		return;
	struct db_txn *t = db_begin(srv->db);
	for (unsigned i = 0; i < n; i++) {
		ip_of(m[i].address, ip);
		if (host_by_address(srv->db, ip))
			continue;
		struct db_obj *h = db_create(t, SC_C_host, NULL);
		db_set_str(t, h, SC_F_host__name_label, ip);
		db_set_str(t, h, SC_F_host__hostname, ip);
		db_set_str(t, h, SC_F_host__address, ip);
		db_set_bool(t, h, SC_F_host__enabled, true);
	}
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0)
		xerr_clear(&e); /* lost the leadership meanwhile: the next master does it */
}

struct db_obj *pool_own_host(struct server *srv)
{
	char *path = xasprintf("%s/%s", srv->cfg.data_dir, POOL_HOST_FILE);
	FILE *f = fopen(path, "r");
	free(path);
	char uuid[64] = "";
	if (f) {
		if (!fgets(uuid, sizeof uuid, f))
			uuid[0] = 0;
		fclose(f);
	}
	uuid[strcspn(uuid, "\r\n")] = 0;
	if (uuid[0])
		return db_lookup_uuid(srv->db, SC_C_host, uuid);
	char ip[POOL_ADDR_MAX];
	ip_of(srv->cfg.pool_address, ip);
	return ip[0] ? host_by_address(srv->db, ip) : NULL;
}

/* This host's record: made by bootstrap on the first master, else found by
 * its pool address once the master has made or merged it. */
static void find_own_record(struct server *srv)
{
	if (!ref_is_null(srv->host_ref))
		return;
	db_rdlock(srv->db);
	struct db_obj *h = pool_own_host(srv);
	if (h)
		snprintf(srv->host_ref, sizeof srv->host_ref, "%s", h->ref);
	db_unlock(srv->db);
}

static pthread_mutex_t tick_lock = PTHREAD_MUTEX_INITIALIZER;

static void master_tick(struct server *srv);

/* From the daemon's main loop, and at once after an emergency transition
 * (an RPC thread): one at a time. */
void pool_master_tick(struct server *srv)
{
	if (!srv->raft)
		return;
	pthread_mutex_lock(&tick_lock);
	master_tick(srv);
	pthread_mutex_unlock(&tick_lock);
}

static void master_tick(struct server *srv)
{
	find_own_record(srv);
	if (!pool_raft_is_leader(srv->raft))
		return;
	ensure_member_records(srv);
	find_own_record(srv);
	if (ref_is_null(srv->host_ref))
		return;
	db_rdlock(srv->db);
	struct db_obj *pool = db_first(srv->db, SC_C_pool);
	bool same = !pool || !strcmp(db_peek_str(pool, SC_F_pool__master), srv->host_ref);
	db_unlock(srv->db);
	if (same)
		return;
	struct db_txn *t = db_begin(srv->db);
	pool = db_first(srv->db, SC_C_pool);
	struct db_obj *me = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	if (!pool || !me) {
		db_abort(t);
		return;
	}
	db_set_str(t, pool, SC_F_pool__master, srv->host_ref);
	/* one message a change of master, in the same transaction */
	struct db_obj *msg = db_create(t, SC_C_message, NULL);
	db_set_str(t, msg, SC_F_message__name, "POOL_MASTER_TRANSITION");
	db_set_int(t, msg, SC_F_message__priority, 1);
	db_set_str(t, msg, SC_F_message__cls, "Host");
	db_set_str(t, msg, SC_F_message__obj_uuid, db_peek_str(me, SC_F_host__uuid));
	db_set(t, msg, SC_F_message__timestamp, xv_time(time(NULL)));
	char body[160];
	snprintf(body, sizeof body, "The master of the pool is now %s", db_peek_str(me, SC_F_host__address));
	db_set_str(t, msg, SC_F_message__body, body);
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) == 0)
		log_info("pool: this host is the master");
	xerr_clear(&e);
}

void pool_report_no_leader(struct server *srv, int seconds)
{
	struct pool_raft_member m[POOL_MAX_MEMBERS];
	unsigned n = pool_raft_members(srv->raft, m, POOL_MAX_MEMBERS), voters = 0;
	char list[POOL_MAX_MEMBERS * (POOL_ADDR_MAX + 24)] = "";
	size_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		voters += m[i].voter;
		off += (size_t)snprintf(list + off, sizeof list - off, "%s%llu@%s%s", i ? ", " : "",
					(unsigned long long)m[i].id, m[i].address, m[i].voter ? "" : " (standby)");
		if (off >= sizeof list)
			break;
	}
	log_error("pool: NO MASTER: no leader was elected within %d s of starting. This host is member "
		  "%d at %s; the pool's members are %s. A master needs a majority of the %u voter(s) "
		  "running and reachable on their pool addresses. Until one is elected this host answers "
		  "every call with HOST_IS_SLAVE and no address.",
		  seconds, srv->cfg.pool_id, srv->cfg.pool_address, n ? list : "(none known)", voters);
}

/* The member of the configuration at the host's address. */
static bool member_of_host(struct server *srv, const char *address, struct pool_raft_member *out)
{
	struct pool_raft_member m[POOL_MAX_MEMBERS];
	unsigned n = pool_raft_members(srv->raft, m, POOL_MAX_MEMBERS);
	char ip[POOL_ADDR_MAX];
	for (unsigned i = 0; i < n; i++) {
		ip_of(m[i].address, ip);
		if (!strcmp(ip, address)) {
			*out = m[i];
			return true;
		}
	}
	return false;
}

/* Waits up to ms for every member in ids (all members: ids NULL) to hold
 * the log to the leader's last commit; the first that does not, or 0. */
static uint64_t wait_synced(struct server *srv, const uint64_t *only, int ms)
{
	uint64_t lagging = 0;
	for (int waited = 0;; waited += 20) {
		uint64_t commit = pool_raft_commit_index(srv->raft);
		struct pool_raft_member m[POOL_MAX_MEMBERS];
		unsigned n = pool_raft_members(srv->raft, m, POOL_MAX_MEMBERS);
		lagging = 0;
		for (unsigned i = 0; i < n && !lagging; i++)
			if ((!only || m[i].id == *only) && m[i].match < commit)
				lagging = m[i].id;
		if (!lagging || waited >= ms)
			return lagging;
		usleep(20000);
	}
}

static int not_master(struct server *srv, struct xerr *err)
{
	char leader[POOL_ADDR_MAX], ip[POOL_ADDR_MAX];
	pool_raft_leader(srv->raft, leader);
	ip_of(leader, ip);
	return xerr_set(err, ERR_HOST_IS_SLAVE, ip, NULL);
}

static int designate(struct rpc_ctx *ctx, const char *host_ref, const char *address, struct xerr *err)
{
	struct server *srv = ctx->srv;
	if (!pool_raft_is_leader(srv->raft))
		return not_master(srv, err);
	if (!strcmp(host_ref, srv->host_ref))
		return 0; /* already the master */
	/* phase 1: a member holding the whole log, with the vote */
	struct pool_raft_member m;
	if (!member_of_host(srv, address, &m))
		return xerr_set(err, ERR_HOST_OFFLINE, host_ref, NULL);
	/* an empty entry committed now: the member must hold it (it answers
	 * and has the whole log), not just have held the last one */
	struct xerr e = XERR_INIT;
	char leader[POOL_ADDR_MAX];
	enum pool_submit_result sr = pool_raft_submit(srv->raft, "", 0, leader, &e);
	xerr_clear(&e);
	if (sr == POOL_SUBMIT_NOT_LEADER)
		return not_master(srv, err);
	if (sr != POOL_SUBMIT_OK || wait_synced(srv, &m.id, 5000))
		return xerr_set(err, ERR_HOST_OFFLINE, host_ref, NULL);
	if (!m.voter && pool_raft_add_member(srv->raft, m.id, m.address, true, &e) < 0) {
		xerr_set(err, ERR_HA_ABORT_NEW_MASTER, e.nparams ? e.params[0] : "cannot give it the vote", NULL);
		xerr_clear(&e);
		return -1;
	}
	/* phase 2: the leadership moves; this host is a slave from then on */
	log_info("pool: handing the master over to %s", address);
	if (!pool_raft_transfer(srv->raft, m.id, &e)) {
		xerr_set(err, ERR_HA_ABORT_NEW_MASTER, e.nparams ? e.params[0] : "the transfer failed", NULL);
		xerr_clear(&e);
		return -1;
	}
	/* done once the new master has named itself in pool.master */
	for (int i = 0; i < 100; i++) {
		db_rdlock(srv->db);
		struct db_obj *pool = db_first(srv->db, SC_C_pool);
		bool named = pool && !strcmp(db_peek_str(pool, SC_F_pool__master), host_ref);
		db_unlock(srv->db);
		if (named)
			return 0;
		usleep(50000);
	}
	log_warn("pool: %s leads but has not named itself master yet", address);
	return 0;
}

static int pool_designate_new_master(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (pool_ha_refuse(ctx->db, err) < 0)
		return -1;
	struct server *srv = ctx->srv;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	char ref[REF_STRLEN + 1], address[POOL_ADDR_MAX];
	if (h) {
		snprintf(ref, sizeof ref, "%s", h->ref);
		snprintf(address, sizeof address, "%s", db_peek_str(h, SC_F_host__address));
	}
	db_unlock(ctx->db);
	if (!h)
		return -1;
	if (!srv->raft) /* a pool of one: its only host is the master */
		return strcmp(ref, srv->host_ref) ? xerr_set(err, ERR_HOST_OFFLINE, ref, NULL) : 0;
	pthread_mutex_lock(&designate_lock);
	if (designating) {
		pthread_mutex_unlock(&designate_lock);
		return xerr_set(err, ERR_DESIGNATE_NEW_MASTER_IN_PROGRESS, NULL);
	}
	designating = true;
	pthread_mutex_unlock(&designate_lock);
	int rc = designate(ctx, ref, address, err);
	pthread_mutex_lock(&designate_lock);
	designating = false;
	pthread_mutex_unlock(&designate_lock);
	return rc;
}

static int pool_sync_database(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)result;
	struct server *srv = ctx->srv;
	if (!srv->raft)
		return 0;
	if (!pool_raft_is_leader(srv->raft))
		return not_master(srv, err);
	uint64_t lagging = wait_synced(srv, NULL, 10000);
	if (!lagging)
		return 0;
	/* name the host that could not be reached */
	struct pool_raft_member m[POOL_MAX_MEMBERS];
	unsigned n = pool_raft_members(srv->raft, m, POOL_MAX_MEMBERS);
	char ip[POOL_ADDR_MAX] = "";
	for (unsigned i = 0; i < n; i++)
		if (m[i].id == lagging)
			ip_of(m[i].address, ip);
	db_rdlock(ctx->db);
	struct db_obj *h = host_by_address(ctx->db, ip);
	char ref[REF_STRLEN + 1];
	snprintf(ref, sizeof ref, "%s", h ? h->ref : REF_NULL);
	db_unlock(ctx->db);
	return xerr_set(err, ERR_HOST_OFFLINE, ref, NULL);
}

/* On a slave whose master is gone (a pool of two whose master died, or a
 * pool that lost its majority for good): this host leads alone from now
 * on, the others left out until pool.recover_slaves. Refused while a
 * master is known: two masters would each take writes. */
static int pool_emergency_transition_to_master(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)result;
	if (pool_ha_refuse(ctx->db, err) < 0)
		return -1;
	struct server *srv = ctx->srv;
	if (!srv->raft || pool_raft_is_leader(srv->raft))
		return 0;
	if (pool_raft_leader_heard(srv->raft))
		return not_master(srv, err);
	if (pool_raft_recover_alone(srv->raft, err) < 0)
		return -1;
	for (int i = 0; i < 100 && !pool_raft_is_leader(srv->raft); i++)
		usleep(50000);
	if (!pool_raft_is_leader(srv->raft))
		return xerr_internal(err, "pool: this host did not take the leadership");
	pool_master_tick(srv); /* pool.master and the message, now */
	return 0;
}

/* On a host told that master_address is the master now (the old master
 * coming back after an emergency transition elsewhere): its log is
 * dropped and it waits, empty, for that master to add it again
 * (pool.recover_slaves there); the master's image then replaces its store. */
static int pool_emergency_reset_master(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct server *srv = ctx->srv;
	const char *master = arg_str(args, 0);
	char me[POOL_ADDR_MAX];
	ip_of(srv->cfg.pool_address, me);
	if (!srv->raft)
		return xerr_internal(err, "pool: this host is a pool of one");
	if (!strcmp(master, me) || !strcmp(master, "127.0.0.1"))
		return xerr_set(err, ERR_HOST_ITS_OWN_SLAVE, NULL);
	log_warn("pool: %s is the master now: this host drops its log", master);
	return pool_raft_reset(srv->raft, err);
}

/* On a master after an emergency transition: the hosts left out are
 * members again (standbys; the master gives votes as the pool's size
 * asks), each caught up from this master's image once it is reset: the
 * master calls pool.emergency_reset_master on it under the pool's session
 * (an old master back with its own log drops it); one that cannot be
 * reached is added all the same, to be reset by hand. Returns their host
 * refs. */
static int pool_recover_slaves(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	struct server *srv = ctx->srv;
	*result = xv_arr_new();
	if (!srv->raft)
		return 0;
	if (!pool_raft_is_leader(srv->raft))
		return not_master(srv, err);
	struct pool_raft_member m[POOL_MAX_MEMBERS];
	unsigned n = pool_raft_former(srv->raft, m, POOL_MAX_MEMBERS);
	char me[POOL_ADDR_MAX];
	ip_of(srv->cfg.pool_address, me);
	for (unsigned i = 0; i < n; i++) {
		struct xerr e = XERR_INIT;
		char ip[POOL_ADDR_MAX];
		ip_of(m[i].address, ip);
		xv a = xv_arr_new();
		xv_arr_push_str(&a, me);
		if (pool_call_at(srv, ip, "pool.emergency_reset_master", &a, NULL, &e) < 0) {
			log_warn("pool: %s not reset (pool.emergency_reset_master there by hand): %s", ip,
				 e.nparams ? e.params[0] : e.code ? e.code : "?");
			xerr_clear(&e);
		}
		xv_free(&a);
		if (pool_raft_add_member(srv->raft, m[i].id, m[i].address, false, &e) < 0) {
			log_warn("pool: adding %s back: %s", m[i].address, e.nparams ? e.params[0] : "?");
			xerr_clear(&e);
			continue;
		}
		pool_raft_forget_former(srv->raft, m[i].id);
		db_rdlock(ctx->db);
		struct db_obj *h = host_by_address(ctx->db, ip);
		if (h)
			xv_arr_push_str(result, h->ref);
		db_unlock(ctx->db);
	}
	return 0;
}

/* True on a host of a pool that has lost its master: not leading and
 * no leader heard within two election timeouts (the emergency calls are
 * what it serves then). Served by a slave itself, like xapi's. */
static int host_is_in_emergency_mode(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)err;
	struct pool_raft *raft = ctx->srv->raft;
	*result = xv_bool(raft && !pool_raft_is_leader(raft) && !pool_raft_leader_heard(raft));
	return 0;
}

static const struct sc_type t_bool = {.kind = SC_BOOL, .text = "bool"};
static const struct sc_message msg_is_in_emergency_mode = {
	.name = "is_in_emergency_mode", .session = true, .roles = ~0u, .nparams = 0, .result = &t_bool};

RPC_EXTRA(host, is_in_emergency_mode, &msg_is_in_emergency_mode, host_is_in_emergency_mode, 0);
RPC_IMPL(pool, designate_new_master, pool_designate_new_master, 0);
RPC_IMPL(pool, emergency_transition_to_master, pool_emergency_transition_to_master, 0);
RPC_IMPL(pool, emergency_reset_master, pool_emergency_reset_master, 0);
RPC_IMPL(pool, recover_slaves, pool_recover_slaves, 0);
RPC_IMPL(pool, sync_database, pool_sync_database, 0);
