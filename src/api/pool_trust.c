/* pool_trust: the pool's CA certificates and revocation lists on every
 * host (see pool_trust.h). A set travels whole, name -> PEM, in the
 * internal pool.trust_store_set (to a host) and pool.trust_store_get (of
 * the master, at a join): the receiver writes what differs and removes
 * what the set lacks, so a repeated or late sync converges. */
#include "pool_trust.h"
#include "api.h"
#include "pool_forward.h"
#include "pool_peer.h"
#include "tls.h"
#include "../base/file.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static pthread_mutex_t trust_lock = PTHREAD_MUTEX_INITIALIZER;

void pool_trust_lock(void)
{
	pthread_mutex_lock(&trust_lock);
}

void pool_trust_unlock(void)
{
	pthread_mutex_unlock(&trust_lock);
}

static bool kind_ok(const char *kind)
{
	return kind && (!strcmp(kind, POOL_TRUST_CA) || !strcmp(kind, POOL_TRUST_CRL));
}

/* A file name as the install calls allow them (a subset: no path). */
static bool file_ok(const char *name)
{
	size_t n = strlen(name);
	if (!n || n > 200 || name[0] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(name[i] == '.' || name[i] == '-' || name[i] == '_' || (name[i] >= '0' && name[i] <= '9') ||
		      (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z')))
			return false;
	return true;
}

static int read_locked(struct server *srv, const char *kind, xv *files)
{
	char *dir = xasprintf("%s/%s", srv->cfg.data_dir, kind);
	*files = xv_map_new();
	DIR *d = opendir(dir);
	for (struct dirent *e; d && (e = readdir(d));) {
		if (!file_ok(e->d_name))
			continue;
		char *path = xasprintf("%s/%s", dir, e->d_name);
		struct stat st;
		char *pem = lstat(path, &st) == 0 && S_ISREG(st.st_mode) ? file_read(path, 0, NULL) : NULL;
		if (pem)
			xv_map_set(files, e->d_name, xv_str_own(pem));
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
	return 0;
}

int pool_trust_read(struct server *srv, const char *kind, xv *files, struct xerr *err)
{
	(void)err;
	pool_trust_lock();
	int r = read_locked(srv, kind, files);
	pool_trust_unlock();
	return r;
}

int pool_trust_replace(struct server *srv, const char *kind, const xv *files, struct xerr *err)
{
	if (!kind_ok(kind))
		return xerr_set(err, ERR_INVALID_VALUE, "kind", kind ? kind : "", NULL);
	if (!files || files->kind != XV_MAP)
		return xerr_set(err, ERR_FIELD_TYPE_ERROR, "files", NULL);
	for (size_t i = 0; i < files->u.m->n; i++)
		if (!file_ok(files->u.m->keys[i]) || !xv_as_str(&files->u.m->vals[i]))
			return xerr_set(err, ERR_INVALID_VALUE, "files", files->u.m->keys[i], NULL);
	char *dir = xasprintf("%s/%s", srv->cfg.data_dir, kind);
	int r = 0;
	pool_trust_lock();
	xv have = XV_NIL_INIT;
	read_locked(srv, kind, &have);
	if (files->u.m->n && mkdir(dir, 0755) < 0 && errno != EEXIST)
		r = xerr_internal(err, "cannot make %s: %s", dir, strerror(errno));
	size_t written = 0, removed = 0;
	for (size_t i = 0; r == 0 && i < files->u.m->n; i++) {
		const char *name = files->u.m->keys[i], *pem = xv_as_str(&files->u.m->vals[i]);
		const char *old = xv_map_get_str(&have, name);
		if (old && !strcmp(old, pem))
			continue;
		char *path = xasprintf("%s/%s", dir, name);
		r = tls_write_file(path, pem, 0644, err);
		free(path);
		written++;
	}
	for (size_t i = 0; r == 0 && have.kind == XV_MAP && i < have.u.m->n; i++) {
		const char *name = have.u.m->keys[i];
		if (xv_map_get(files, name))
			continue;
		char *path = xasprintf("%s/%s", dir, name);
		if (unlink(path) < 0 && errno != ENOENT)
			r = xerr_internal(err, "cannot remove %s: %s", path, strerror(errno));
		free(path);
		removed++;
	}
	pool_trust_unlock();
	xv_free(&have);
	free(dir);
	if (r == 0 && (written || removed))
		log_info("tls: the pool's %s set taken here (%zu written, %zu removed)", kind, written, removed);
	return r;
}

/* The hosts a sync missed: the master's heartbeat tries them again once
 * they answer (one back before it was seen down is never "back"). */
static pthread_mutex_t owed_lock = PTHREAD_MUTEX_INITIALIZER;
static char owed[64][REF_STRLEN + 1];
static size_t nowed;

static void set_owed(const char *href, bool on)
{
	pthread_mutex_lock(&owed_lock);
	size_t i = 0;
	while (i < nowed && strcmp(owed[i], href))
		i++;
	if (on && i == nowed && nowed < 64)
		snprintf(owed[nowed++], sizeof owed[0], "%s", href);
	else if (!on && i < nowed)
		memmove(owed[i], owed[i + 1], (--nowed - i) * sizeof owed[0]);
	pthread_mutex_unlock(&owed_lock);
}

static int push_kind(struct server *srv, const char *href, const char *kind, struct xerr *err)
{
	xv a = xv_arr_new(), files = XV_NIL_INIT;
	pool_trust_read(srv, kind, &files, err);
	xv_arr_push_str(&a, kind);
	xv_arr_push(&a, files);
	int r = pool_call_on_host(srv, href, "pool.trust_store_set", &a, NULL, NULL, err);
	xv_free(&a);
	return r;
}

int pool_trust_push(struct server *srv, const char *href, struct xerr *err)
{
	bool ok = push_kind(srv, href, POOL_TRUST_CA, err) == 0 && push_kind(srv, href, POOL_TRUST_CRL, err) == 0;
	set_owed(href, !ok);
	return ok ? 0 : -1;
}

void pool_trust_retry(struct server *srv, const char *href)
{
	pthread_mutex_lock(&owed_lock);
	size_t i = 0;
	while (i < nowed && strcmp(owed[i], href))
		i++;
	bool due = i < nowed;
	pthread_mutex_unlock(&owed_lock);
	struct xerr e = XERR_INIT;
	if (due && pool_trust_push(srv, href, &e) == 0)
		log_info("tls: the pool's CAs and CRLs taken by %s after a miss", href);
	xerr_clear(&e);
}

int pool_trust_sync(struct server *srv, struct xerr *err)
{
	if (!__atomic_load_n(&srv->raft, __ATOMIC_ACQUIRE))
		return 0;
	struct { char ref[REF_STRLEN + 1]; } others[64];
	size_t n = 0;
	db_rdlock(srv->db);
	for (struct db_obj *h = db_first(srv->db, SC_C_host); h && n < 64; h = db_next(h))
		if (strcmp(h->ref, srv->host_ref))
			snprintf(others[n++].ref, sizeof others[0].ref, "%s", h->ref);
	db_unlock(srv->db);
	int r = 0;
	for (size_t i = 0; i < n; i++) { /* each tried; the last failure answers, as xapi's */
		struct xerr e = XERR_INIT;
		if (pool_trust_push(srv, others[i].ref, &e) < 0) {
			log_warn("tls: the pool's CAs and CRLs not taken by %s: %s", others[i].ref,
				 e.code ? e.code : "?");
			xerr_clear(err);
			xerr_move(err, &e);
			r = -1;
		}
		xerr_clear(&e);
	}
	return r;
}

int pool_trust_fetch(struct server *srv, struct peer *p, struct xerr *err)
{
	const char *kinds[] = {POOL_TRUST_CA, POOL_TRUST_CRL};
	xv got[2] = {XV_NIL_INIT, XV_NIL_INIT};
	int r = 0;
	for (size_t i = 0; r == 0 && i < 2; i++) {
		xv a = xv_arr_new(), mine = XV_NIL_INIT;
		pool_trust_read(srv, kinds[i], &mine, err);
		xv_arr_push_str(&a, kinds[i]);
		xv_arr_push(&a, mine);
		struct xerr e = XERR_INIT;
		if (peer_call(p, "pool.trust_store_exchange", &a, &got[i], &e) != PEER_OK) {
			if (!e.code)
				xerr_internal(&e, "the pool's %s set not received", kinds[i]);
			xerr_move(err, &e);
			r = -1;
		}
		xerr_clear(&e);
		xv_free(&a);
	}
	/* both received before either is taken */
	for (size_t i = 0; r == 0 && i < 2; i++)
		r = pool_trust_replace(srv, kinds[i], &got[i], err);
	xv_free(&got[0]);
	xv_free(&got[1]);
	return r;
}

/* On the master, at a join: the joining host's set of kind added to the
 * pool's on every host (a name the pool has keeps the pool's file), a CA
 * with its Certificate object; *merged gets the pool's set then. */
static int merge(struct server *srv, const char *kind, const xv *files, xv *merged, struct xerr *err)
{
	if (!kind_ok(kind))
		return xerr_set(err, ERR_INVALID_VALUE, "kind", kind ? kind : "", NULL);
	if (!files || files->kind != XV_MAP)
		return xerr_set(err, ERR_FIELD_TYPE_ERROR, "files", NULL);
	bool ca = !strcmp(kind, POOL_TRUST_CA);
	xv have = XV_NIL_INIT, added = xv_map_new();
	pool_trust_read(srv, kind, &have, err);
	xv all = xv_map_new();
	for (size_t i = 0; have.kind == XV_MAP && i < have.u.m->n; i++)
		xv_map_set_str(&all, have.u.m->keys[i], xv_as_str(&have.u.m->vals[i]));
	for (size_t i = 0; i < files->u.m->n; i++) {
		const char *name = files->u.m->keys[i], *pem = xv_as_str(&files->u.m->vals[i]);
		struct tls_cert_info info;
		if (!file_ok(name) || !pem || xv_map_get(&all, name))
			continue;
		if (ca ? tls_cert_info(pem, &info) < 0 : tls_crl_check(pem) < 0)
			continue; /* not one: left out, as an install refuses it */
		xv_map_set_str(&all, name, pem);
		xv_map_set_str(&added, name, pem);
	}
	int r = 0;
	if (added.u.m->n) {
		r = pool_trust_replace(srv, kind, &all, err);
		struct xerr e = XERR_INIT;
		if (r == 0 && pool_trust_sync(srv, &e) < 0)
			log_warn("tls: the joining host's %s set not on every host yet: %s", kind, e.code ? e.code : "?");
		xerr_clear(&e);
	}
	if (r == 0 && ca && added.u.m->n) { /* the CAs' objects */
		struct db_txn *t = db_begin(srv->db);
		for (size_t i = 0; i < added.u.m->n; i++) {
			struct tls_cert_info info;
			if (tls_cert_info(xv_as_str(&added.u.m->vals[i]), &info) < 0)
				continue;
			struct db_obj *c = db_create(t, SC_C_Certificate, NULL);
			db_set_str(t, c, SC_F_Certificate__type, "ca");
			db_set_str(t, c, SC_F_Certificate__name, added.u.m->keys[i]);
			db_set(t, c, SC_F_Certificate__not_before, xv_time(info.not_before));
			db_set(t, c, SC_F_Certificate__not_after, xv_time(info.not_after));
			db_set_str(t, c, SC_F_Certificate__fingerprint, info.fingerprint);
		}
		r = db_commit(t, err);
	}
	if (r == 0 && added.u.m->n)
		log_info("tls: %zu of the joining host's %s set added to the pool's", added.u.m->n, kind);
	if (r == 0)
		r = pool_trust_read(srv, kind, merged, err);
	xv_free(&have);
	xv_free(&added);
	xv_free(&all);
	return r;
}

/* ---- the internal calls ---- */

static int trust_store_exchange(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	return merge(ctx->srv, arg_str(args, 0), xv_arr_get(args, 1), result, err);
}

/* Only from another host of the pool: a client changes the sets through
 * the install calls, which keep every host alike. */
static int trust_store_set(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (!pool_call_is_forwarded(ctx))
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "Only the pool's hosts set a host's trusted certificates",
				NULL);
	return pool_trust_replace(ctx->srv, arg_str(args, 0), xv_arr_get(args, 1), err);
}

static const struct sc_type t_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_type t_map = {
	.kind = SC_MAP, .key = &t_string, .val = &t_string, .text = "(string -> string) map"};
static const struct sc_type t_void = {.kind = SC_VOID, .text = "void"};
static const struct sc_param set_params[] = {{"kind", &t_string}, {"files", &t_map}};
static const struct sc_message msg_exchange = {
	.name = "trust_store_exchange", .session = true, .roles = SC_ROLE_POOL_ADMIN, .nparams = 2,
	.params = set_params, .result = &t_map};
static const struct sc_message msg_set = {
	.name = "trust_store_set", .session = true, .roles = SC_ROLE_POOL_ADMIN, .nparams = 2,
	.params = set_params, .result = &t_void};

RPC_EXTRA(pool, trust_store_exchange, &msg_exchange, trust_store_exchange, RPC_SLOW);
RPC_EXTRA(pool, trust_store_set, &msg_set, trust_store_set, RPC_SLOW);
