/* cert_calls: the host's TLS certificate and the pool's trusted CAs, as
 * xapi's host.install_server_certificate, host.reset_server_certificate,
 * pool.install_ca_certificate / uninstall_ca_certificate and the
 * https-only setting. The certificate goes to the configured files and to
 * the live HTTPS port at once (tls_live.h); each is a Certificate object
 * (type host, or ca with its name). The CAs are the pool's: every host
 * of the pool gets the same set (api/pool_trust.h). Here, beside the
 * transport, because they switch what the HTTPS port serves. */
#include "cert_calls.h"
#include "tls_live.h"
#include "../api/api.h"
#include "../api/pool_forward.h"
#include "../api/pool_trust.h"
#include "../api/tls.h"
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
#include <time.h>
#include <unistd.h>

/* Replaces the host's Certificate object(s) of type host by one for cert. */
static int host_row(struct server *srv, const char *cert_pem, struct xerr *err)
{
	struct tls_cert_info info;
	if (tls_cert_info(cert_pem, &info) < 0)
		return xerr_set(err, ERR_SERVER_CERTIFICATE_INVALID, NULL);
	struct db_txn *t = db_begin(srv->db);
	for (struct db_obj *o = db_first(srv->db, SC_C_Certificate); o;) {
		struct db_obj *next = db_next(o);
		if (!strcmp(db_peek_str(o, SC_F_Certificate__type), "host") &&
		    !strcmp(db_peek_str(o, SC_F_Certificate__host), srv->host_ref)) {
			if (!strcmp(db_peek_str(o, SC_F_Certificate__fingerprint), info.fingerprint)) {
				db_abort(t); /* already this one */
				return 0;
			}
			db_delete(t, o);
		}
		o = next;
	}
	struct db_obj *c = db_create(t, SC_C_Certificate, NULL);
	db_set_str(t, c, SC_F_Certificate__type, "host");
	db_set_str(t, c, SC_F_Certificate__host, srv->host_ref);
	db_set(t, c, SC_F_Certificate__not_before, xv_time(info.not_before));
	db_set(t, c, SC_F_Certificate__not_after, xv_time(info.not_after));
	db_set_str(t, c, SC_F_Certificate__fingerprint, info.fingerprint);
	return db_commit(t, err);
}

int cert_startup(struct server *srv, const char *cert_pem, struct xerr *err)
{
	if ((!srv->raft || pool_raft_is_leader(srv->raft)) && srv->host_ref[0] && strcmp(srv->host_ref, REF_NULL) && cert_pem && host_row(srv, cert_pem, err) < 0)
		return -1;
	db_rdlock(srv->db);
	struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	bool on = h && db_peek_bool(h, SC_F_host__https_only);
	db_unlock(srv->db);
	tls_live_set_https_only(on);
	cert_pool_startup(srv);
	cert_expiry_check(srv);
	return 0;
}

/* The pool's other hosts learn this host's certificate(s) (they pin the
 * keys: pool_forward.c) through pool.exchange_certificates_on_join. */
static void publish(struct server *srv, const char *cert_pem)
{
	if (!srv->raft)
		return;
	struct { char ref[REF_STRLEN + 1]; } others[64];
	size_t n = 0;
	char uuid[UUID_STRLEN + 1] = "";
	db_rdlock(srv->db);
	struct db_obj *me = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	if (me)
		snprintf(uuid, sizeof uuid, "%s", db_peek_str(me, SC_F_host__uuid));
	for (struct db_obj *h = db_first(srv->db, SC_C_host); h && n < 64; h = db_next(h))
		if (h != me)
			snprintf(others[n++].ref, sizeof others[0].ref, "%s", h->ref);
	db_unlock(srv->db);
	xv a = xv_arr_new();
	xv_arr_push_str(&a, uuid);
	xv_arr_push_str(&a, cert_pem);
	for (size_t i = 0; uuid[0] && i < n; i++) {
		struct xerr e = XERR_INIT;
		if (pool_call_on_host(srv, others[i].ref, "pool.exchange_certificates_on_join", &a, NULL, NULL, &e) < 0)
			log_warn("tls: the new certificate not passed to %s: %s", others[i].ref, e.code ? e.code : "?");
		xerr_clear(&e);
	}
	xv_free(&a);
}

/* Writes key and certificate (with its chain) and serves them. The pool's
 * hosts trust the old and the new key while it changes, then the new. */
static int put_in_place(struct server *srv, const char *served, const char *key_pem, struct xerr *err)
{
	char *leaf = tls_leaf_pem(served);
	FILE *f = srv->raft && leaf ? fopen(srv->cfg.cert_file, "r") : NULL;
	char old[65536];
	size_t n = f ? fread(old, 1, sizeof old - 1, f) : 0;
	if (f)
		fclose(f);
	old[n] = 0;
	char *old_leaf = n ? tls_leaf_pem(old) : NULL;
	if (leaf && old_leaf) {
		char *both = xasprintf("%s%s", leaf, old_leaf);
		publish(srv, both);
		free(both);
		/* a connection to this host that read its pins before they came
		 * (a heartbeat) meets the old key: let it */
		usleep(500 * 1000);
	}
	free(old_leaf);
	int r = -1;
	if (tls_write_file(srv->cfg.key_file, key_pem, 0600, err) < 0 ||
	    tls_write_file(srv->cfg.cert_file, served, 0644, err) < 0)
		goto out;
	if (tls_live_set(served, key_pem, err) < 0 || host_row(srv, served, err) < 0)
		goto out;
	cert_expiry_check(srv);
	if (leaf)
		publish(srv, leaf);
	r = 0;
out:
	free(leaf);
	return r;
}

static int this_host(struct rpc_ctx *ctx, const char *ref, struct xerr *err)
{
	db_rdlock(ctx->db);
	bool known = db_lookup_cls(ctx->db, SC_C_host, ref) != NULL;
	db_unlock(ctx->db);
	if (!known)
		return handle_invalid(err, SC_C_host, ref);
	if (strcmp(ref, ctx->srv->host_ref))
		return xerr_set(err, ERR_HOST_IS_SLAVE, "", NULL); /* another member's: ask it */
	return 0;
}

static int install_server_certificate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (this_host(ctx, arg_str(args, 0), err) < 0)
		return -1;
	const char *cert = arg_str(args, 1), *key = arg_str(args, 2), *chain = arg_str(args, 3);
	struct tls_cert_info info;
	if (tls_check_server(cert, key, chain, &info, err) < 0)
		return -1;
	char *served = xasprintf("%s%s%s", cert, *chain && cert[strlen(cert) - 1] != '\n' ? "\n" : "", chain);
	int r = put_in_place(ctx->srv, served, key, err);
	free(served);
	if (r == 0)
		log_info("tls: installed a server certificate (%s), valid until %lld", info.fingerprint,
			 (long long)info.not_after);
	return r;
}

/* host.reset_server_certificate and refresh_server_certificate (xapi's
 * refreshes the certificate its pool's hosts talk over, which is this
 * one here): a new self-signed certificate, served from the next
 * handshake and passed to the pool's hosts. */
static int reset_server_certificate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	if (this_host(ctx, arg_str(args, 0), err) < 0)
		return -1;
	char hostname[256] = "xenon";
	db_rdlock(ctx->db);
	struct db_obj *h = db_lookup_cls(ctx->db, SC_C_host, arg_str(args, 0));
	if (h && db_peek_str(h, SC_F_host__hostname)[0])
		snprintf(hostname, sizeof hostname, "%s", db_peek_str(h, SC_F_host__hostname));
	db_unlock(ctx->db);
	char *cert = NULL, *key = NULL;
	if (tls_new_self_signed(hostname, &cert, &key, err) < 0)
		return -1;
	int r = put_in_place(ctx->srv, cert, key, err);
	free(cert);
	free(key);
	if (r == 0)
		log_info("tls: server certificate reset to a new self-signed one for %s", hostname);
	return r;
}

/* host.get_server_certificate: the certificate the HTTPS port presents,
 * without its chain. */
static int get_server_certificate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	if (this_host(ctx, arg_str(args, 0), err) < 0)
		return -1;
	FILE *f = ctx->srv->cfg.tls_listen[0] ? fopen(ctx->srv->cfg.cert_file, "r") : NULL;
	if (!f)
		return xerr_internal(err, "this host serves no TLS certificate");
	char buf[65536];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = 0;
	char *leaf = tls_leaf_pem(buf);
	if (!leaf)
		return xerr_set(err, ERR_CERTIFICATE_LIBRARY_CORRUPT, NULL);
	*result = xv_str_own(leaf);
	return 0;
}

/* ---- the pool's trusted CA certificates: <data-dir>/ca/<name> ---- */

static bool name_ok(const char *name)
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

static struct db_obj *ca_row(struct db *db, const char *name)
{
	for (struct db_obj *o = db_first(db, SC_C_Certificate); o; o = db_next(o))
		if (!strcmp(db_peek_str(o, SC_F_Certificate__type), "ca") &&
		    !strcmp(db_peek_str(o, SC_F_Certificate__name), name))
			return o;
	return NULL;
}

/* Another try at leaving every host as this one (after an undo here). */
static void resync(struct server *srv)
{
	struct xerr e = XERR_INIT;
	if (pool_trust_sync(srv, &e) < 0)
		log_warn("tls: the pool's hosts not all brought back: %s", e.code ? e.code : "?");
	xerr_clear(&e);
}

/* One install or uninstall at a time: each ends with every host alike. */
static pthread_mutex_t ca_op_lock = PTHREAD_MUTEX_INITIALIZER;

/* pool.install_ca_certificate, as xapi's: the file here, then every other
 * host of the pool brought to this host's set; a host that cannot take
 * it fails the call with its error, and the file goes again, here and
 * from the hosts that took it. The Certificate object once all have it. */
static int install_ca_certificate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *name = arg_str(args, 0), *cert = arg_str(args, 1);
	if (!name_ok(name))
		return xerr_set(err, ERR_CERTIFICATE_NAME_INVALID, name, NULL);
	struct tls_cert_info info;
	if (tls_cert_info(cert, &info) < 0)
		return xerr_set(err, ERR_CERTIFICATE_CORRUPT, name, NULL);
	char *dir = xasprintf("%s/%s", ctx->srv->cfg.data_dir, POOL_TRUST_CA);
	char *path = xasprintf("%s/%s", dir, name);
	int r = -1;
	pthread_mutex_lock(&ca_op_lock);
	db_rdlock(ctx->db);
	bool exists = ca_row(ctx->db, name) != NULL;
	db_unlock(ctx->db);
	if (exists) {
		xerr_set(err, ERR_CERTIFICATE_ALREADY_EXISTS, name, NULL);
		goto out;
	}
	pool_trust_lock();
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || tls_write_file(path, cert, 0644, err) < 0) {
		pool_trust_unlock();
		if (!err->code)
			xerr_internal(err, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	pool_trust_unlock();
	if (pool_trust_sync(ctx->srv, err) < 0)
		goto undo;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *c = db_create(t, SC_C_Certificate, NULL);
	db_set_str(t, c, SC_F_Certificate__type, "ca");
	db_set_str(t, c, SC_F_Certificate__name, name);
	db_set(t, c, SC_F_Certificate__not_before, xv_time(info.not_before));
	db_set(t, c, SC_F_Certificate__not_after, xv_time(info.not_after));
	db_set_str(t, c, SC_F_Certificate__fingerprint, info.fingerprint);
	if (db_commit(t, err) < 0)
		goto undo;
	r = 0;
	log_info("tls: CA certificate %s installed on the pool's hosts", name);
	cert_expiry_check(ctx->srv);
	goto out;
undo:
	pool_trust_lock();
	unlink(path);
	pool_trust_unlock();
	resync(ctx->srv);
out:
	pthread_mutex_unlock(&ca_op_lock);
	free(dir);
	free(path);
	return r;
}

/* pool.uninstall_ca_certificate, as xapi's: gone here, then every other
 * host brought to this host's set; a host that cannot take it answers
 * with its error (it drops the file when it answers again: the master's
 * heartbeat sends it the pool's set). */
static int uninstall_ca_certificate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *name = arg_str(args, 0);
	pthread_mutex_lock(&ca_op_lock);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *c = name_ok(name) ? ca_row(ctx->db, name) : NULL;
	if (!c) {
		db_abort(t);
		pthread_mutex_unlock(&ca_op_lock);
		return xerr_set(err, ERR_CERTIFICATE_DOES_NOT_EXIST, name, NULL);
	}
	db_delete(t, c);
	if (db_commit(t, err) < 0) {
		pthread_mutex_unlock(&ca_op_lock);
		return -1;
	}
	char *path = xasprintf("%s/%s/%s", ctx->srv->cfg.data_dir, POOL_TRUST_CA, name);
	pool_trust_lock();
	unlink(path);
	pool_trust_unlock();
	free(path);
	int r = pool_trust_sync(ctx->srv, err);
	pthread_mutex_unlock(&ca_op_lock);
	log_info("tls: CA certificate %s uninstalled", name);
	cert_expiry_check(ctx->srv);
	return r;
}

/* ---- expiry messages, as xapi's certificate check raises them ---- */

struct alert {
	char name[48], cls[8], obj_uuid[UUID_STRLEN + 1], body[512];
	int64_t priority;
	bool seen;
};

/* The alert for a certificate expiring at not_after, if within 30 days. */
static bool alert_for(const char *prefix, const char *what, int64_t not_after, int64_t now, struct alert *a)
{
	int64_t left = not_after - now;
	int64_t days = left < 0 ? -1 : left / 86400;
	if (days > 30)
		return false;
	char date[32];
	xv_time_format(not_after, date, sizeof date);
	if (days < 0) {
		snprintf(a->name, sizeof a->name, "%s_EXPIRED", prefix);
		snprintf(a->body, sizeof a->body, "<body><message>%s expired</message><date>%s</date></body>", what,
			 date);
	} else {
		snprintf(a->name, sizeof a->name, "%s_EXPIRING_%s", prefix, days < 8 ? "07" : days < 15 ? "14" : "30");
		snprintf(a->body, sizeof a->body,
			 "<body><message>%s expires in %lld days</message><date>%s</date></body>", what,
			 (long long)days, date);
	}
	a->priority = days < 8 ? 1 : days < 15 ? 2 : 3;
	return true;
}

static bool is_cert_alert(const char *name)
{
	return !strncmp(name, "HOST_SERVER_CERTIFICATE_EXPIR", 29) || !strncmp(name, "POOL_CA_CERTIFICATE_EXPIR", 25);
}

void cert_expiry_check(struct server *srv)
{
	if (srv->raft && !pool_raft_is_leader(srv->raft))
		return; /* the master writes the pool's messages */
	int64_t now = time(NULL);
	struct alert want[64];
	size_t n = 0;
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *host = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	struct db_obj *pool = db_first(srv->db, SC_C_pool);
	for (struct db_obj *o = db_first(srv->db, SC_C_Certificate); o && n < 64; o = db_next(o)) {
		const char *type = db_peek_str(o, SC_F_Certificate__type);
		const xv *na = db_peek(o, SC_F_Certificate__not_after);
		int64_t not_after = na && na->kind == XV_TIME ? na->u.i : 0;
		char what[300];
		struct alert *a = &want[n];
		memset(a, 0, sizeof *a);
		if (!strcmp(type, "host") && host && !strcmp(db_peek_str(o, SC_F_Certificate__host), srv->host_ref)) {
			snprintf(what, sizeof what, "The TLS server certificate of host %s",
				 db_peek_str(host, SC_F_host__hostname));
			if (!alert_for("HOST_SERVER_CERTIFICATE", what, not_after, now, a))
				continue;
			snprintf(a->cls, sizeof a->cls, "Host");
			snprintf(a->obj_uuid, sizeof a->obj_uuid, "%s", db_peek_str(host, SC_F_host__uuid));
		} else if (!strcmp(type, "ca") && pool) {
			snprintf(what, sizeof what, "The trusted CA certificate %s",
				 db_peek_str(o, SC_F_Certificate__name));
			if (!alert_for("POOL_CA_CERTIFICATE", what, not_after, now, a))
				continue;
			snprintf(a->cls, sizeof a->cls, "Pool");
			snprintf(a->obj_uuid, sizeof a->obj_uuid, "%s", db_peek_str(pool, SC_F_pool__uuid));
		} else {
			continue;
		}
		n++;
	}
	/* the messages already there stay; stale ones go; missing ones come */
	for (struct db_obj *m = db_first(srv->db, SC_C_message); m;) {
		struct db_obj *next = db_next(m);
		if (is_cert_alert(db_peek_str(m, SC_F_message__name))) {
			bool keep = false;
			for (size_t i = 0; i < n && !keep; i++)
				if (!want[i].seen && !strcmp(want[i].name, db_peek_str(m, SC_F_message__name)) &&
				    !strcmp(want[i].obj_uuid, db_peek_str(m, SC_F_message__obj_uuid)) &&
				    !strcmp(want[i].body, db_peek_str(m, SC_F_message__body)))
					keep = want[i].seen = true;
			if (!keep)
				db_delete(t, m);
		}
		m = next;
	}
	for (size_t i = 0; i < n; i++) {
		if (want[i].seen)
			continue;
		struct db_obj *m = db_create(t, SC_C_message, NULL);
		db_set_str(t, m, SC_F_message__name, want[i].name);
		db_set_int(t, m, SC_F_message__priority, want[i].priority);
		db_set_str(t, m, SC_F_message__cls, want[i].cls);
		db_set_str(t, m, SC_F_message__obj_uuid, want[i].obj_uuid);
		db_set(t, m, SC_F_message__timestamp, xv_time(now));
		db_set_str(t, m, SC_F_message__body, want[i].body);
		log_warn("tls: %s", want[i].name);
	}
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0)
		log_warn("tls: cannot record certificate expiry messages: %s", e.code ? e.code : "");
	xerr_clear(&e);
}

/* ---- https-only ---- */

static int set_https_only(struct rpc_ctx *ctx, int cls, xv *args, struct xerr *err)
{
	bool on = arg_bool(args, 1);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *o = generic_lookup(ctx, cls, xv_arr_get(args, 0), err);
	if (!o) {
		db_abort(t);
		return -1;
	}
	if (cls == SC_C_pool) { /* every host of the pool */
		for (struct db_obj *h = db_first(ctx->db, SC_C_host); h; h = db_next(h))
			db_set_bool(t, h, SC_F_host__https_only, on);
	} else {
		db_set_bool(t, o, SC_F_host__https_only, on);
	}
	if (db_commit(t, err) < 0)
		return -1;
	if (cls == SC_C_pool || !strcmp(xv_as_str(xv_arr_get(args, 0)), ctx->srv->host_ref))
		tls_live_set_https_only(on);
	log_info("http: https-only %s", on ? "on" : "off");
	return 0;
}

static int host_set_https_only(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return set_https_only(ctx, SC_C_host, args, err);
}

static int pool_set_https_only(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	return set_https_only(ctx, SC_C_pool, args, err);
}

RPC_IMPL(host, install_server_certificate, install_server_certificate, RPC_SLOW);
RPC_IMPL(host, reset_server_certificate, reset_server_certificate, RPC_SLOW);
RPC_IMPL(host, refresh_server_certificate, reset_server_certificate, RPC_SLOW);
RPC_IMPL(host, get_server_certificate, get_server_certificate, 0);
RPC_IMPL(host, set_https_only, host_set_https_only, 0);
RPC_IMPL(pool, set_https_only, pool_set_https_only, 0);
RPC_IMPL(pool, install_ca_certificate, install_ca_certificate, RPC_SLOW);
RPC_IMPL(pool, uninstall_ca_certificate, uninstall_ca_certificate, RPC_SLOW);
