/* cert_pool: what the pool trusts beyond its CAs (cert_calls.c), as
 * xapi's pool calls: certificate revocation lists (crl_install /
 * uninstall / list: PEM files in <data-dir>/crl, names as xapi allows
 * them, the same set on every host of the pool: api/pool_trust.h), which
 * the HTTPS port applies to client certificates; client-certificate
 * authentication (enable/disable_client_certificate_auth: the pool's
 * fields, and every host's live port following them, tls_live.h); TLS verification
 * between the pool's hosts (enable_tls_verification: each host reached
 * over TLS with the key it presented at its join, and no plain HTTP to a
 * host without one afterwards, pool_forward.c); and certificate_sync,
 * which hands every host's current certificate to every host. */
#include "cert_calls.h"
#include "tls_live.h"
#include "../api/api.h"
#include "../api/pool_forward.h"
#include "../api/pool_join.h"
#include "../api/pool_trust.h"
#include "../api/tls.h"
#include "../base/file.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../pool/raft.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *store_dir(struct server *srv, const char *what)
{
	return xasprintf("%s/%s", srv->cfg.data_dir, what);
}

/* ---- certificate revocation lists ---- */

/* xapi's rule: letters, digits, '.', '_', '-', not starting with '.', and
 * ending in ".pem". */
static bool crl_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n < 5 || n > 200 || name[0] == '.' || strcmp(name + n - 4, ".pem"))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(name[i] == '.' || name[i] == '-' || name[i] == '_' || (name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z')))
			return false;
	return true;
}

/* One install or uninstall at a time: each ends with every host alike. */
static pthread_mutex_t crl_op_lock = PTHREAD_MUTEX_INITIALIZER;

static void resync(struct server *srv)
{
	struct xerr e = XERR_INIT;
	if (pool_trust_sync(srv, &e) < 0)
		log_warn("tls: the pool's hosts not all brought back: %s", e.code ? e.code : "?");
	xerr_clear(&e);
}

/* pool.crl_install, as xapi's: the file here, then every other host of
 * the pool brought to this host's set; a host that cannot take it fails
 * the call with its error, and the file goes again, here and from the
 * hosts that took it. */
static int crl_install(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *name = arg_str(args, 0), *pem = arg_str(args, 1);
	if (!crl_name_ok(name))
		return xerr_set(err, ERR_CRL_NAME_INVALID, name, NULL);
	char *dir = store_dir(ctx->srv, POOL_TRUST_CRL), *path = xasprintf("%s/%s", dir, name);
	int r = -1;
	pthread_mutex_lock(&crl_op_lock);
	pool_trust_lock();
	if (access(path, F_OK) == 0)
		xerr_set(err, ERR_CRL_ALREADY_EXISTS, name, NULL);
	else if (tls_crl_check(pem) < 0)
		xerr_set(err, ERR_CRL_CORRUPT, name, NULL);
	else if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		xerr_internal(err, "cannot make %s: %s", dir, strerror(errno));
	else
		r = tls_write_file(path, pem, 0644, err);
	pool_trust_unlock();
	if (r == 0 && pool_trust_sync(ctx->srv, err) < 0) {
		pool_trust_lock();
		unlink(path);
		pool_trust_unlock();
		resync(ctx->srv);
		r = -1;
	}
	pthread_mutex_unlock(&crl_op_lock);
	if (r == 0)
		log_info("tls: revocation list %s installed on the pool's hosts", name);
	free(dir);
	free(path);
	return r;
}

/* pool.crl_uninstall, as xapi's: gone here, then every other host brought
 * to this host's set (one that cannot take it answers with its error, and
 * drops the file when it answers again: the master's heartbeat). */
static int crl_uninstall(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *name = arg_str(args, 0);
	if (!crl_name_ok(name))
		return xerr_set(err, ERR_CRL_NAME_INVALID, name, NULL);
	char *path = xasprintf("%s/%s/%s", ctx->srv->cfg.data_dir, POOL_TRUST_CRL, name);
	pthread_mutex_lock(&crl_op_lock);
	pool_trust_lock();
	int r = unlink(path);
	int e = errno;
	pool_trust_unlock();
	free(path);
	if (r < 0) {
		pthread_mutex_unlock(&crl_op_lock);
		return xerr_set(err, e == ENOENT ? ERR_CRL_DOES_NOT_EXIST : ERR_CRL_CORRUPT, name, NULL);
	}
	r = pool_trust_sync(ctx->srv, err);
	pthread_mutex_unlock(&crl_op_lock);
	log_info("tls: revocation list %s uninstalled", name);
	return r;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int crl_list(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)err;
	char *dir = store_dir(ctx->srv, "crl");
	char **names = NULL;
	size_t n = 0;
	pool_trust_lock();
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		char *path = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		if (e->d_name[0] != '.' && lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
			names = xrealloc(names, (n + 1) * sizeof *names);
			names[n++] = xstrdup(e->d_name);
		}
		free(path);
	}
	if (d)
		closedir(d);
	pool_trust_unlock();
	if (n)
		qsort(names, n, sizeof *names, cmp_names);
	*result = xv_arr_new();
	for (size_t i = 0; i < n; i++) {
		xv_arr_push_str(result, names[i]);
		free(names[i]);
	}
	free(names);
	free(dir);
	return 0;
}

/* ---- client-certificate authentication ---- */

static void apply_client_auth(struct server *srv, bool on, const char *name)
{
	char *ca = store_dir(srv, "ca"), *crl = store_dir(srv, "crl");
	tls_live_set_client_auth(on, name, ca, crl);
	free(ca);
	free(crl);
}

/* The pool record's client-certificate fields, applied to this host's
 * live HTTPS port whenever they change, on whichever host they were
 * changed (the store is replicated: a member sees the master's write when
 * it applies it): a waiter on the pool class wakes a thread of its own,
 * which compares the record with what the port has. */
static struct {
	struct server *srv;
	pthread_t thread;
	bool started, stop, dirty;
	pthread_mutex_t lock; /* the above */
	pthread_cond_t cond;
	struct db_waiter waiter;
	pthread_mutex_t apply_lock; /* the below */
	bool applied, on;
	char name[256];
} W = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER,
       .apply_lock = PTHREAD_MUTEX_INITIALIZER};

static void apply_from_record(struct server *srv)
{
	db_rdlock(srv->db);
	struct db_obj *p = db_first(srv->db, SC_C_pool);
	bool on = p && db_peek_bool(p, SC_F_pool__client_certificate_auth_enabled);
	char name[256];
	snprintf(name, sizeof name, "%s", p ? db_peek_str(p, SC_F_pool__client_certificate_auth_name) : "");
	db_unlock(srv->db);
	pthread_mutex_lock(&W.apply_lock);
	if (!W.applied || on != W.on || strcmp(name, W.name)) {
		apply_client_auth(srv, on, name);
		if (W.applied)
			log_info("tls: client-certificate authentication %s%s on this host's HTTPS port",
				 on ? "on, for " : "off", on ? name : "");
		W.applied = true;
		W.on = on;
		snprintf(W.name, sizeof W.name, "%s", name);
	}
	pthread_mutex_unlock(&W.apply_lock);
}

static void wake(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&W.lock);
	W.dirty = true;
	pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
}

static void *watch_main(void *arg)
{
	struct server *srv = arg;
	pthread_mutex_lock(&W.lock);
	while (!W.stop) {
		if (W.dirty) {
			W.dirty = false;
			pthread_mutex_unlock(&W.lock);
			apply_from_record(srv);
			pthread_mutex_lock(&W.lock);
			continue;
		}
		pthread_cond_wait(&W.cond, &W.lock);
	}
	pthread_mutex_unlock(&W.lock);
	return NULL;
}

void cert_pool_startup(struct server *srv)
{
	apply_from_record(srv);
	pool_hosts_refresh(srv); /* and whether the pool's hosts verify each other */
	if (W.started)
		return;
	W.srv = srv;
	W.stop = W.dirty = false;
	W.waiter.wake = wake;
	W.waiter.arg = NULL;
	memset(W.waiter.classes, 0, sizeof W.waiter.classes);
	W.waiter.classes[SC_C_pool / 64] |= 1ull << (SC_C_pool % 64);
	db_waiter_add(srv->db, &W.waiter);
	if (pthread_create(&W.thread, NULL, watch_main, srv) == 0)
		W.started = true;
	else
		db_waiter_remove(srv->db, &W.waiter);
}

void cert_pool_stop(void)
{
	if (!W.started)
		return;
	db_waiter_remove(W.srv->db, &W.waiter);
	pthread_mutex_lock(&W.lock);
	W.stop = true;
	pthread_cond_signal(&W.cond);
	pthread_mutex_unlock(&W.lock);
	pthread_join(W.thread, NULL);
	W.started = false;
}

static int set_client_auth(struct rpc_ctx *ctx, xv *args, bool on, struct xerr *err)
{
	const char *name = on ? arg_str(args, 1) : "";
	if (on && !name[0])
		return xerr_set(err, ERR_INVALID_VALUE, "name", name, NULL);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err);
	if (!p) {
		db_abort(t);
		return -1;
	}
	db_set_bool(t, p, SC_F_pool__client_certificate_auth_enabled, on);
	db_set_str(t, p, SC_F_pool__client_certificate_auth_name, name);
	if (db_commit(t, err) < 0)
		return -1;
	apply_from_record(ctx->srv); /* here at once; the other hosts as they apply the write */
	log_info("tls: client-certificate authentication %s %s", on ? "on, for" : "off", name);
	return 0;
}

static int enable_client_auth(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return set_client_auth(ctx, args, true, err);
}

static int disable_client_auth(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return set_client_auth(ctx, args, false, err);
}

/* ---- the pool's hosts ---- */

struct member {
	char ref[REF_STRLEN + 1], uuid[UUID_STRLEN + 1], address[96];
};

/* The other hosts of the pool. */
static size_t members(struct server *srv, struct member *m, size_t cap)
{
	size_t n = 0;
	db_rdlock(srv->db);
	for (struct db_obj *h = db_first(srv->db, SC_C_host); h && n < cap; h = db_next(h)) {
		if (!strcmp(h->ref, srv->host_ref))
			continue;
		snprintf(m[n].ref, sizeof m[n].ref, "%s", h->ref);
		snprintf(m[n].uuid, sizeof m[n].uuid, "%s", db_peek_str(h, SC_F_host__uuid));
		snprintf(m[n].address, sizeof m[n].address, "%s", db_peek_str(h, SC_F_host__address));
		n++;
	}
	db_unlock(srv->db);
	return n;
}

/* pool.enable_tls_verification: every other host answers over TLS with
 * the key it gave at its join, or nothing changes (TLS_CONNECTION_FAILED);
 * then the pool and its hosts verify from now on. */
static int enable_tls_verification(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)result;
	struct server *srv = ctx->srv;
	struct member m[64];
	size_t n = members(srv, m, 64);
	int port = pool_tls_port(srv);
	char ports[16];
	snprintf(ports, sizeof ports, "%d", port);
	for (size_t i = 0; i < n; i++) {
		char *path = xasprintf("%s/%s/%s.pem", srv->cfg.data_dir, POOL_CERTS_DIR, m[i].uuid);
		bool have = access(path, R_OK) == 0;
		free(path);
		if (port <= 0 || !have || !pool_member_answers(srv, m[i].uuid, m[i].address))
			return xerr_set(err, ERR_TLS_CONNECTION_FAILED, m[i].address, ports, NULL);
	}
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *p = db_first(ctx->db, SC_C_pool);
	if (p)
		db_set_bool(t, p, SC_F_pool__tls_verification_enabled, true);
	for (struct db_obj *h = db_first(ctx->db, SC_C_host); h; h = db_next(h))
		db_set_bool(t, h, SC_F_host__tls_verification_enabled, true);
	if (db_commit(t, err) < 0)
		return -1;
	pool_hosts_refresh(srv);
	log_info("tls: the pool's hosts verify each other's certificates (%zu other host(s))", n);
	return 0;
}

/* pool.certificate_sync: each host's current certificate (asked of it)
 * goes to every host's store of the pool's certificates. */
static int certificate_sync(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)result;
	struct server *srv = ctx->srv;
	struct member m[64];
	size_t n = members(srv, m, 64);
	char *pems[64] = {0};
	int r = 0;
	for (size_t i = 0; i < n; i++) {
		xv a = xv_arr_new(), res = XV_NIL_INIT;
		xv_arr_push_str(&a, m[i].ref);
		struct xerr e = XERR_INIT;
		if (pool_call_on_host(srv, m[i].ref, "host.get_server_certificate", &a, NULL, &res, &e) == 0 &&
		    xv_as_str(&res)) {
			char *pin = tls_cert_pin(xv_as_str(&res), &e);
			if (pin) {
				pems[i] = xstrdup(xv_as_str(&res));
				char *path = xasprintf("%s/%s/%s.pem", srv->cfg.data_dir, POOL_CERTS_DIR, m[i].uuid);
				if (tls_write_file(path, pems[i], 0600, &e) < 0)
					log_warn("tls: cannot keep %s's certificate: %s", m[i].uuid, e.code);
				free(path);
			}
			free(pin);
		}
		if (e.code && r == 0) {
			xerr_setv(err, e.code, e.nparams, (const char *const *)e.params);
			r = -1;
		}
		xerr_clear(&e);
		xv_free(&a);
		xv_free(&res);
	}
	/* and every host gets every other's, this one's included */
	char my_uuid[UUID_STRLEN + 1] = "";
	db_rdlock(srv->db);
	struct db_obj *me = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	if (me)
		snprintf(my_uuid, sizeof my_uuid, "%s", db_peek_str(me, SC_F_host__uuid));
	db_unlock(srv->db);
	char *mine = srv->cfg.tls_listen[0] ? file_read(srv->cfg.cert_file, 0, NULL) : NULL;
	char *leaf = mine ? tls_leaf_pem(mine) : NULL;
	free(mine);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j <= n; j++) {
			const char *uuid = j < n ? m[j].uuid : my_uuid, *pem = j < n ? pems[j] : leaf;
			if (j == i || !pem || !uuid[0])
				continue;
			xv a = xv_arr_new();
			xv_arr_push_str(&a, uuid);
			xv_arr_push_str(&a, pem);
			struct xerr e = XERR_INIT;
			if (pool_call_on_host(srv, m[i].ref, "pool.exchange_certificates_on_join", &a, NULL, NULL, &e) < 0 &&
			    r == 0) {
				xerr_setv(err, e.code, e.nparams, (const char *const *)e.params);
				r = -1;
			}
			xerr_clear(&e);
			xv_free(&a);
		}
	free(leaf);
	for (size_t i = 0; i < n; i++)
		free(pems[i]);
	if (r == 0)
		log_info("tls: certificates synchronised across %zu host(s)", n + 1);
	return r;
}

RPC_IMPL(pool, crl_install, crl_install, RPC_SLOW);
RPC_IMPL(pool, crl_uninstall, crl_uninstall, RPC_SLOW);
RPC_IMPL(pool, crl_list, crl_list, 0);
RPC_IMPL(pool, enable_client_certificate_auth, enable_client_auth, 0);
RPC_IMPL(pool, disable_client_certificate_auth, disable_client_auth, 0);
RPC_IMPL(pool, enable_tls_verification, enable_tls_verification, RPC_SLOW);
RPC_IMPL(pool, certificate_sync, certificate_sync, RPC_SLOW);
