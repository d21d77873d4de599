/* cert_calls: the host's TLS certificate and the pool's trusted CAs, as
 * xapi's host.install_server_certificate, host.reset_server_certificate,
 * pool.install_ca_certificate / uninstall_ca_certificate and the
 * https-only setting. The certificate goes to the configured files and to
 * the live HTTPS port at once (tls_live.h); each is a Certificate object
 * (type host, or ca with its name). Here, beside the transport, because
 * they switch what the HTTPS port serves. */
#include "cert_calls.h"
#include "tls_live.h"
#include "../api/api.h"
#include "../api/tls.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <dirent.h>
#include <errno.h>
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
	if (srv->host_ref[0] && strcmp(srv->host_ref, REF_NULL) && cert_pem && host_row(srv, cert_pem, err) < 0)
		return -1;
	db_rdlock(srv->db);
	struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, srv->host_ref);
	bool on = h && db_peek_bool(h, SC_F_host__https_only);
	db_unlock(srv->db);
	tls_live_set_https_only(on);
	return 0;
}

/* Writes key and certificate (with its chain) and serves them. */
static int put_in_place(struct server *srv, const char *served, const char *key_pem, struct xerr *err)
{
	if (tls_write_file(srv->cfg.key_file, key_pem, 0600, err) < 0 ||
	    tls_write_file(srv->cfg.cert_file, served, 0644, err) < 0)
		return -1;
	if (tls_live_set(served, key_pem, err) < 0)
		return -1;
	return host_row(srv, served, err);
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

static int install_ca_certificate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *name = arg_str(args, 0), *cert = arg_str(args, 1);
	if (!name_ok(name))
		return xerr_set(err, ERR_CERTIFICATE_NAME_INVALID, name, NULL);
	struct tls_cert_info info;
	if (tls_cert_info(cert, &info) < 0)
		return xerr_set(err, ERR_CERTIFICATE_CORRUPT, name, NULL);
	char *dir = xasprintf("%s/ca", ctx->srv->cfg.data_dir);
	char *path = xasprintf("%s/%s", dir, name);
	int r = -1;
	struct db_txn *t = db_begin(ctx->db);
	if (ca_row(ctx->db, name)) {
		db_abort(t);
		xerr_set(err, ERR_CERTIFICATE_ALREADY_EXISTS, name, NULL);
		goto out;
	}
	if ((mkdir(dir, 0755) < 0 && errno != EEXIST) || tls_write_file(path, cert, 0644, err) < 0) {
		db_abort(t);
		if (!err->code)
			xerr_internal(err, "cannot write %s: %s", path, strerror(errno));
		goto out;
	}
	struct db_obj *c = db_create(t, SC_C_Certificate, NULL);
	db_set_str(t, c, SC_F_Certificate__type, "ca");
	db_set_str(t, c, SC_F_Certificate__name, name);
	db_set(t, c, SC_F_Certificate__not_before, xv_time(info.not_before));
	db_set(t, c, SC_F_Certificate__not_after, xv_time(info.not_after));
	db_set_str(t, c, SC_F_Certificate__fingerprint, info.fingerprint);
	r = db_commit(t, err);
	if (r < 0)
		unlink(path);
out:
	free(dir);
	free(path);
	return r;
}

static int uninstall_ca_certificate(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	const char *name = arg_str(args, 0);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *c = name_ok(name) ? ca_row(ctx->db, name) : NULL;
	if (!c) {
		db_abort(t);
		return xerr_set(err, ERR_CERTIFICATE_DOES_NOT_EXIST, name, NULL);
	}
	db_delete(t, c);
	if (db_commit(t, err) < 0)
		return -1;
	char *path = xasprintf("%s/ca/%s", ctx->srv->cfg.data_dir, name);
	unlink(path);
	free(path);
	return 0;
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
RPC_IMPL(host, set_https_only, host_set_https_only, 0);
RPC_IMPL(pool, set_https_only, pool_set_https_only, 0);
RPC_IMPL(pool, install_ca_certificate, install_ca_certificate, 0);
RPC_IMPL(pool, uninstall_ca_certificate, uninstall_ca_certificate, 0);
