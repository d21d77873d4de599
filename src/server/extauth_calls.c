/* extauth_calls: external authentication as xapi's host/pool
 * enable_external_auth and disable_external_auth. The one type this host
 * has is xapi's "PAM": subjects are the users and groups PAM and NSS know
 * (local accounts, or a directory through SSSD). Enabling checks that
 * this host can ask PAM, then records the type, service name and
 * configuration in its host record; from then on the auth.* lookups
 * answer and the system's accounts log in (rbac_extauth_enabled).
 * Disabling clears them and ends the subjects' sessions. "AD" needs a
 * domain join this host cannot do: AUTH_ENABLE_FAILED says so. The pool's
 * calls run the host's on every host (the master first) through the
 * pool's forwarding, and undo the hosts done when one fails. Hosts that
 * disagree with the master get xapi's EXTAUTH_IN_POOL_IS_NON_HOMOGENEOUS
 * message. Here, beside the sessions, because disabling ends some. */
#include "session.h"
#include "users.h"
#include "../api/api.h"
#include "../api/pool_forward.h"
#include "../api/rbac.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../pool/raft.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* enable and disable, one at a time on a host, and on the pool */
static pthread_mutex_t host_serial = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t pool_serial = PTHREAD_MUTEX_INITIALIZER;

#define MAX_HOSTS 64

/* The pool's hosts, the master first. */
static size_t pool_hosts(struct server *srv, char (*refs)[REF_STRLEN + 1])
{
	size_t n = 0;
	db_rdlock(srv->db);
	struct db_obj *pool = db_first(srv->db, SC_C_pool);
	const char *master = pool ? db_peek_str(pool, SC_F_pool__master) : "";
	if (db_lookup_cls(srv->db, SC_C_host, master))
		snprintf(refs[n++], REF_STRLEN + 1, "%s", master);
	for (struct db_obj *h = db_first(srv->db, SC_C_host); h && n < MAX_HOSTS; h = db_next(h))
		if (strcmp(h->ref, master))
			snprintf(refs[n++], REF_STRLEN + 1, "%s", h->ref);
	db_unlock(srv->db);
	return n;
}

/* Ends the sessions of subjects (they logged in through PAM). */
static void end_subject_sessions(struct server *srv)
{
	xv sids = session_subject_identifiers();
	size_t n = 0;
	for (size_t i = 0; i < xv_len(&sids); i++)
		n += session_logout_subject(srv, xv_as_str(xv_arr_get(&sids, i)), "");
	xv_free(&sids);
	if (n)
		log_info("auth: %zu session(s) of subjects ended with external authentication", n);
}

/* ---- homogeneity (xapi's CA-24856) ---- */

/* A message for each host (only: that one, else every one) whose external
 * authentication differs from the master's. */
static void detect_nonhomogeneous(struct server *srv, const char *only)
{
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *pool = db_first(srv->db, SC_C_pool);
	struct db_obj *master = pool ? db_lookup_cls(srv->db, SC_C_host, db_peek_str(pool, SC_F_pool__master)) : NULL;
	size_t made = 0;
	for (struct db_obj *h = master ? db_first(srv->db, SC_C_host) : NULL; h; h = db_next(h)) {
		const char *type = db_peek_str(h, SC_F_host__external_auth_type);
		const char *service = db_peek_str(h, SC_F_host__external_auth_service_name);
		const char *mtype = db_peek_str(master, SC_F_host__external_auth_type);
		const char *mservice = db_peek_str(master, SC_F_host__external_auth_service_name);
		if (h == master || (only && strcmp(h->ref, only)) || (!strcmp(type, mtype) && !strcmp(service, mservice)))
			continue;
		char *body = xasprintf("host_external_auth_type=%s, host_external_auth_service_name=%s, "
				       "master_external_auth_type=%s, master_external_auth_service_name=%s",
				       type, service, mtype, mservice);
		const char *uuid = db_peek_str(h, SC_F_host__uuid);
		bool seen = false; /* the same finding is raised once */
		for (struct db_obj *m = db_first(srv->db, SC_C_message); m && !seen; m = db_next(m))
			seen = !strcmp(db_peek_str(m, SC_F_message__name), "EXTAUTH_IN_POOL_IS_NON_HOMOGENEOUS") &&
			       !strcmp(db_peek_str(m, SC_F_message__obj_uuid), uuid) &&
			       !strcmp(db_peek_str(m, SC_F_message__body), body);
		if (!seen) {
			struct db_obj *m = db_create(t, SC_C_message, NULL);
			db_set_str(t, m, SC_F_message__name, "EXTAUTH_IN_POOL_IS_NON_HOMOGENEOUS");
			db_set_int(t, m, SC_F_message__priority, 2);
			db_set_str(t, m, SC_F_message__cls, "Host");
			db_set_str(t, m, SC_F_message__obj_uuid, uuid);
			db_set(t, m, SC_F_message__timestamp, xv_time(time(NULL)));
			db_set_str(t, m, SC_F_message__body, body);
			log_warn("auth: host %s: %s", uuid, body);
			made++;
		}
		free(body);
	}
	struct xerr e = XERR_INIT;
	if (!made)
		db_abort(t);
	else if (db_commit(t, &e) < 0)
		log_warn("auth: cannot record a non-homogeneous external authentication: %s", e.code);
	xerr_clear(&e);
}

/* ---- one host ---- */

static int host_is_here(struct server *srv, const char *href, struct xerr *err)
{
	db_rdlock(srv->db);
	bool known = db_lookup_cls(srv->db, SC_C_host, href) != NULL;
	db_unlock(srv->db);
	if (!known)
		return handle_invalid(err, SC_C_host, href);
	if (strcmp(href, srv->host_ref))
		return xerr_set(err, ERR_HOST_IS_SLAVE, "", NULL); /* another host's: the master forwards it */
	return 0;
}

static int enable_here(struct server *srv, const xv *config, const char *service, const char *type,
		       struct xerr *err)
{
	pthread_mutex_lock(&host_serial);
	int r = -1;
	char cur_type[64], cur_service[256];
	db_rdlock(srv->db);
	struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	snprintf(cur_type, sizeof cur_type, "%s", h ? db_peek_str(h, SC_F_host__external_auth_type) : "");
	snprintf(cur_service, sizeof cur_service, "%s", h ? db_peek_str(h, SC_F_host__external_auth_service_name) : "");
	db_unlock(srv->db);
	const char *why = NULL;
	if (cur_type[0]) {
		xerr_set(err, ERR_AUTH_ALREADY_ENABLED, cur_type, cur_service, NULL);
		goto out;
	}
	if (!strcmp(type, "AD")) {
		xerr_set(err, ERR_AUTH_ENABLE_FAILED,
			 "Active Directory is not available: this host cannot join a domain. Use auth_type PAM: "
			 "subjects are then the accounts PAM and NSS know (a directory through SSSD included)",
			 NULL);
		goto out;
	}
	if (strcmp(type, "PAM")) {
		xerr_set(err, ERR_AUTH_UNKNOWN_TYPE, type, NULL);
		goto out;
	}
	if ((why = users_pam_unavailable())) {
		xerr_set(err, ERR_AUTH_ENABLE_FAILED, why, NULL);
		goto out;
	}
	/* one-time credentials are not kept, as xapi's plugins filter them */
	xv keep = xv_map_new();
	for (size_t i = 0; config && config->kind == XV_MAP && i < config->u.m->n; i++)
		if (strcmp(config->u.m->keys[i], "pass") && strcmp(config->u.m->keys[i], "user"))
			xv_map_set(&keep, config->u.m->keys[i], xv_copy(&config->u.m->vals[i]));
	struct db_txn *t = db_begin(srv->db);
	h = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	if (!h) {
		db_abort(t);
		xv_free(&keep);
		handle_invalid(err, SC_C_host, srv->host_ref);
		goto out;
	}
	db_set_str(t, h, SC_F_host__external_auth_type, type);
	db_set_str(t, h, SC_F_host__external_auth_service_name, service);
	db_set(t, h, SC_F_host__external_auth_configuration, keep);
	if (db_commit(t, err) < 0)
		goto out;
	log_info("auth: external authentication %s (service '%s') enabled", type, service);
	r = 0;
out:
	pthread_mutex_unlock(&host_serial);
	return r;
}

static int disable_here(struct server *srv, struct xerr *err)
{
	pthread_mutex_lock(&host_serial);
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	int r = 0;
	if (!h || !db_peek_str(h, SC_F_host__external_auth_type)[0]) {
		db_abort(t); /* already off: nothing wrong, as in xapi */
	} else {
		db_set_str(t, h, SC_F_host__external_auth_type, "");
		db_set_str(t, h, SC_F_host__external_auth_service_name, "");
		db_set(t, h, SC_F_host__external_auth_configuration, xv_map_new());
		r = db_commit(t, err);
		if (r == 0)
			log_info("auth: external authentication disabled");
	}
	pthread_mutex_unlock(&host_serial);
	/* the master's logins no longer reach subjects: their sessions end */
	if (r == 0 && (!srv->raft || pool_raft_is_leader(srv->raft)))
		end_subject_sessions(srv);
	return r;
}

/* After a host's change, as xapi: a member compares itself with the
 * master; the master, called by a client, compares every member with
 * itself (called by the pool's own loop, the loop does at its end). */
static void detect_after(struct rpc_ctx *ctx)
{
	struct server *srv = ctx->srv;
	if (srv->raft && !pool_raft_is_leader(srv->raft))
		detect_nonhomogeneous(srv, srv->host_ref);
	else if (!pool_call_is_forwarded(ctx))
		detect_nonhomogeneous(srv, NULL);
}

static int host_enable(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (host_is_here(ctx->srv, arg_str(args, 0), err) < 0)
		return -1;
	if (enable_here(ctx->srv, xv_arr_get(args, 1), arg_str(args, 2), arg_str(args, 3), err) < 0)
		return -1;
	detect_after(ctx);
	return 0;
}

static int host_disable(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (host_is_here(ctx->srv, arg_str(args, 0), err) < 0 || disable_here(ctx->srv, err) < 0)
		return -1;
	detect_after(ctx);
	return 0;
}

/* ---- the pool ---- */

static int pool_known(struct rpc_ctx *ctx, xv *args, struct xerr *err)
{
	db_rdlock(ctx->db);
	bool known = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err) != NULL;
	db_unlock(ctx->db);
	return known ? 0 : -1;
}

/* Runs host.<method> for href: here, or on that host. */
static int on_host(struct server *srv, const char *href, const char *method, const xv *config, const char *service,
		   const char *type, struct xerr *err)
{
	if (!strcmp(href, srv->host_ref))
		return method[0] == 'e' ? enable_here(srv, config, service, type, err) : disable_here(srv, err);
	xv a = xv_arr_new();
	xv_arr_push_str(&a, href);
	xv_arr_push(&a, config ? xv_copy(config) : xv_map_new());
	if (method[0] == 'e') {
		xv_arr_push_str(&a, service);
		xv_arr_push_str(&a, type);
	}
	char *full = xasprintf("host.%s", method);
	int r = pool_call_on_host(srv, href, full, &a, NULL, NULL, err);
	free(full);
	xv_free(&a);
	return r;
}

static int pool_enable(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct server *srv = ctx->srv;
	const xv *config = xv_arr_get(args, 1);
	const char *service = arg_str(args, 2), *type = arg_str(args, 3);
	char refs[MAX_HOSTS][REF_STRLEN + 1];
	if (pool_known(ctx, args, err) < 0)
		return -1;
	pthread_mutex_lock(&pool_serial);
	size_t n = pool_hosts(srv, refs);
	int r = -1;
	db_rdlock(srv->db);
	const char *on = NULL, *dup = NULL;
	for (size_t i = 0; i < n && !on && !dup; i++) {
		struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, refs[i]);
		if (h && db_peek_str(h, SC_F_host__external_auth_type)[0])
			on = refs[i];
		/* a domain's machine accounts are named after the hosts; PAM has none */
		for (size_t j = 0; h && !strcmp(type, "AD") && j < i && !dup; j++) {
			struct db_obj *o = db_lookup_cls(srv->db, SC_C_host, refs[j]);
			if (o && !strcmp(db_peek_str(o, SC_F_host__hostname), db_peek_str(h, SC_F_host__hostname)))
				dup = refs[0];
		}
	}
	db_unlock(srv->db);
	if (on) {
		xerr_set(err, ERR_POOL_AUTH_ALREADY_ENABLED, on, NULL);
		goto out;
	}
	if (dup) {
		xerr_set(err, ERR_POOL_AUTH_ENABLE_FAILED_DUPLICATE_HOSTNAME, dup,
			 "At least two hosts in the pool have the same hostname", NULL);
		goto out;
	}
	size_t done = 0;
	struct xerr e = XERR_INIT;
	for (; done < n; done++)
		if (on_host(srv, refs[done], "enable_external_auth", config, service, type, &e) < 0)
			break;
	if (done == n) {
		r = 0;
		log_info("auth: external authentication %s enabled on the pool's %zu host(s)", type, n);
		goto out;
	}
	/* undo: the hosts done, and the one that failed (it may be half-way) */
	for (size_t i = 0; i <= done; i++) {
		struct xerr u = XERR_INIT;
		if (on_host(srv, refs[i], "disable_external_auth", config, NULL, NULL, &u) < 0)
			log_warn("auth: undoing external authentication on %s: %s", refs[i], u.code);
		xerr_clear(&u);
	}
	/* the host's reason: its message, or its error in full */
	bool tagged = e.code && e.nparams == 1 &&
		      (!strcmp(e.code, ERR_AUTH_UNKNOWN_TYPE) || !strcmp(e.code, ERR_AUTH_ENABLE_FAILED));
	struct strbuf why = STRBUF_INIT;
	sb_puts(&why, tagged ? e.params[0] : e.code ? e.code : "failed");
	for (size_t i = 0; !tagged && i < e.nparams; i++) {
		sb_puts(&why, i ? ", " : ": ");
		sb_puts(&why, e.params[i]);
	}
	sb_add(&why, "", 0);
	if (e.code && !strcmp(e.code, ERR_AUTH_UNKNOWN_TYPE))
		xerr_set(err, ERR_AUTH_UNKNOWN_TYPE, why.buf, NULL);
	else
		xerr_set(err, ERR_POOL_AUTH_ENABLE_FAILED, refs[done], why.buf, NULL);
	sb_free(&why);
	xerr_clear(&e);
out:
	pthread_mutex_unlock(&pool_serial);
	if (r == 0 || (err->code && strcmp(err->code, ERR_POOL_AUTH_ALREADY_ENABLED)))
		detect_nonhomogeneous(srv, NULL);
	return r;
}

static int pool_disable(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct server *srv = ctx->srv;
	char refs[MAX_HOSTS][REF_STRLEN + 1];
	if (pool_known(ctx, args, err) < 0)
		return -1;
	pthread_mutex_lock(&pool_serial);
	size_t n = pool_hosts(srv, refs);
	int r = 0;
	for (size_t i = 0; i < n; i++) { /* every host, whatever the others answer */
		struct xerr e = XERR_INIT;
		if (on_host(srv, refs[i], "disable_external_auth", xv_arr_get(args, 1), NULL, NULL, &e) < 0 && r == 0) {
			char *msg = xasprintf("%s: %s", refs[i], e.nparams ? e.params[0] : e.code ? e.code : "");
			xerr_set(err, ERR_POOL_AUTH_DISABLE_FAILED, refs[i], msg, NULL);
			free(msg);
			r = -1;
		}
		xerr_clear(&e);
	}
	pthread_mutex_unlock(&pool_serial);
	end_subject_sessions(srv);
	detect_nonhomogeneous(srv, NULL);
	return r;
}

static int pool_detect(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (pool_known(ctx, args, err) < 0)
		return -1;
	detect_nonhomogeneous(ctx->srv, NULL);
	return 0;
}

RPC_IMPL(host, enable_external_auth, host_enable, RPC_SLOW);
RPC_IMPL(host, disable_external_auth, host_disable, RPC_SLOW);
RPC_IMPL(pool, enable_external_auth, pool_enable, RPC_SLOW);
RPC_IMPL(pool, disable_external_auth, pool_disable, RPC_SLOW);
RPC_IMPL(pool, detect_nonhomogeneous_external_auth, pool_detect, 0);
