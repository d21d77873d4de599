/* pool_misc: local storage caching (IntelliCache) as xapi answers it where
 * no storage driver declares SR_SUPPORTS_LOCAL_CACHING, pool.send_test_post
 * (an HTTPS POST to a host and port, its answer returned) and
 * VM.import_convert (xapi hands it to a "conversion" plugin, which no host
 * here has). */
#include "api.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- local storage caching ---- */

/* xapi_host.ml assert_bacon_mode: the host disabled (HOST_NOT_DISABLED),
 * no guest running on it and no disk attached to its control domain
 * (HOST_IN_USE host vm|vbd ref). Under the read lock. */
static int assert_bacon_mode(struct rpc_ctx *ctx, struct db_obj *h, struct xerr *err)
{
	if (db_peek_bool(h, SC_F_host__enabled))
		return xerr_set(err, ERR_HOST_NOT_DISABLED, NULL);
	for (struct db_obj *vm = db_first(ctx->db, SC_C_VM); vm; vm = db_next(vm)) {
		if (strcmp(db_peek_str(vm, SC_F_VM__resident_on), h->ref))
			continue;
		bool dom0 = db_peek_bool(vm, SC_F_VM__is_control_domain);
		if (!dom0 && !strcmp(db_peek_str(vm, SC_F_VM__power_state), "Running"))
			return xerr_set(err, ERR_HOST_IN_USE, h->ref, "vm", vm->ref, NULL);
		if (!dom0)
			continue;
		xv vbds = db_get(ctx->db, vm, SC_F_VM__VBDs);
		for (size_t i = 0; i < xv_len(&vbds); i++) {
			const char *r = xv_as_str(xv_arr_get(&vbds, i));
			struct db_obj *b = db_lookup_cls(ctx->db, SC_C_VBD, r);
			if (b && db_peek_bool(b, SC_F_VBD__currently_attached)) {
				int rc = xerr_set(err, ERR_HOST_IN_USE, h->ref, "vbd", r, NULL);
				xv_free(&vbds);
				return rc;
			}
		}
		xv_free(&vbds);
	}
	return 0;
}

/* xapi: bacon mode, then an unshared SR with one PBD whose driver declares
 * SR_SUPPORTS_LOCAL_CACHING, else SR_OPERATION_NOT_SUPPORTED. No storage
 * driver here caches on local disk (none declares the feature), so every
 * SR gets that answer once the host passes the checks. */
static int host_enable_caching_locked(struct rpc_ctx *ctx, struct db_obj *h, struct db_obj *sr,
				      struct xerr *err)
{
	(void)sr;
	if (assert_bacon_mode(ctx, h, err) < 0)
		return -1;
	return xerr_set(err, ERR_SR_OPERATION_NOT_SUPPORTED, NULL);
}

static int host_enable_local_storage_caching(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	struct db_obj *sr = h ? generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 1), err) : NULL;
	int rc = sr ? host_enable_caching_locked(ctx, h, sr, err) : -1;
	db_unlock(ctx->db);
	return rc;
}

/* xapi: bacon mode, then the host's cache SR cleared (and that SR's
 * local_cache_enabled). */
static int host_disable_caching(struct rpc_ctx *ctx, struct db_txn *t, struct db_obj *h, struct xerr *err)
{
	if (assert_bacon_mode(ctx, h, err) < 0)
		return -1;
	struct db_obj *sr = db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(h, SC_F_host__local_cache_sr));
	db_set_str(t, h, SC_F_host__local_cache_sr, REF_NULL);
	if (sr)
		db_set_bool(t, sr, SC_F_SR__local_cache_enabled, false);
	return 0;
}

static int host_disable_local_storage_caching(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *h = generic_lookup(ctx, SC_C_host, xv_arr_get(args, 0), err);
	if (!h || host_disable_caching(ctx, t, h, err) < 0) {
		db_abort(t);
		return -1;
	}
	return db_commit(t, err);
}

/* xapi_pool.ml: each host tries its acceptable SRs; the hosts where none
 * took are named in HOSTS_FAILED_TO_ENABLE_CACHING. */
/* The error code with the refs in list as its parameters. */
static int set_hosts_error(struct xerr *err, const char *code, xv *list)
{
	size_t n = xv_len(list);
	const char **refs = xcalloc(n ? n : 1, sizeof *refs);
	for (size_t i = 0; i < n; i++)
		refs[i] = xv_as_str(xv_arr_get(list, i));
	int rc = xerr_setv(err, code, n, refs);
	free(refs);
	return rc;
}

static int pool_enable_local_storage_caching(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	if (!generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err)) {
		db_unlock(ctx->db);
		return -1;
	}
	xv failed = xv_arr_new();
	for (struct db_obj *h = db_first(ctx->db, SC_C_host); h; h = db_next(h)) {
		bool ok = false;
		for (struct db_obj *p = db_first(ctx->db, SC_C_PBD); p && !ok; p = db_next(p)) {
			if (strcmp(db_peek_str(p, SC_F_PBD__host), h->ref))
				continue;
			struct db_obj *sr = db_lookup_cls(ctx->db, SC_C_SR, db_peek_str(p, SC_F_PBD__SR));
			struct xerr e = {0};
			if (sr && host_enable_caching_locked(ctx, h, sr, &e) == 0)
				ok = true;
			xerr_clear(&e);
		}
		if (!ok)
			xv_arr_push_str(&failed, h->ref);
	}
	db_unlock(ctx->db);
	int rc = 0;
	if (xv_len(&failed))
		rc = set_hosts_error(err, ERR_HOSTS_FAILED_TO_ENABLE_CACHING, &failed);
	xv_free(&failed);
	return rc;
}

/* xapi_pool.ml: host.disable_local_storage_caching on every host; those
 * that refuse are named in HOSTS_FAILED_TO_DISABLE_CACHING. */
static int pool_disable_local_storage_caching(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct db_txn *t = db_begin(ctx->db);
	if (!generic_lookup(ctx, SC_C_pool, xv_arr_get(args, 0), err)) {
		db_abort(t);
		return -1;
	}
	xv failed = xv_arr_new();
	for (struct db_obj *h = db_first(ctx->db, SC_C_host); h; h = db_next(h)) {
		struct xerr e = {0};
		if (host_disable_caching(ctx, t, h, &e) < 0)
			xv_arr_push_str(&failed, h->ref);
		xerr_clear(&e);
	}
	int rc = db_commit(t, err);
	if (rc == 0 && xv_len(&failed))
		rc = set_hosts_error(err, ERR_HOSTS_FAILED_TO_DISABLE_CACHING, &failed);
	xv_free(&failed);
	return rc;
}

/* ---- pool.send_test_post ---- */

#define TEST_POST_MAX (1 << 20)

static size_t collect(char *p, size_t size, size_t n, void *ud)
{
	struct strbuf *sb = ud;
	if (sb->len + size * n > TEST_POST_MAX)
		return 0;
	sb_add(sb, p, size * n);
	return size * n;
}

/* xapi (remote_requests.ml): POST / over TLS to host:port with the body,
 * the server's certificate checked when the pool verifies TLS; 30 s, then
 * WLB_TIMEOUT 30.0; a refused check SSL_VERIFY_ERROR; any other failure
 * (a name that does not resolve, a closed port) an INTERNAL_ERROR. The
 * answer's body is the result. */
static int pool_send_test_post(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	db_rdlock(ctx->db);
	struct db_obj *p = db_first(ctx->db, SC_C_pool);
	bool verify = p && db_peek_bool(p, SC_F_pool__tls_verification_enabled);
	db_unlock(ctx->db);
	const char *host = arg_str(args, 0), *body = arg_str(args, 2);
	int64_t port = arg_int(args, 1);
	if (port < 1 || port > 65535 || !*host || strpbrk(host, "/?#@ \t\r\n"))
		return xerr_set(err, ERR_INTERNAL_ERROR, "send_test_post: no such host and port", NULL);
	char *url = strchr(host, ':') ? xasprintf("https://[%s]:%lld/", host, (long long)port)
				      : xasprintf("https://%s:%lld/", host, (long long)port);
	struct strbuf out = STRBUF_INIT;
	char *hosthdr = xasprintf("Host: %s", host); /* as xapi sends it: no port */
	struct curl_slist *hdrs = curl_slist_append(NULL, hosthdr);
	CURL *c = curl_easy_init();
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &out);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, verify ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, verify ? 2L : 0L);
	CURLcode cc = curl_easy_perform(c);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	free(hosthdr);
	free(url);
	int rc = 0;
	if (cc == CURLE_OPERATION_TIMEDOUT)
		rc = xerr_set(err, ERR_WLB_TIMEOUT, "30.0", NULL);
	else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE)
		rc = xerr_set(err, ERR_SSL_VERIFY_ERROR, curl_easy_strerror(cc), NULL);
	else if (cc != CURLE_OK) {
		char *msg = xasprintf("send_test_post: %s", curl_easy_strerror(cc));
		rc = xerr_set(err, ERR_INTERNAL_ERROR, msg, NULL);
		free(msg);
	}
	if (rc == 0)
		*result = xv_str(out.buf ? out.buf : "");
	sb_free(&out);
	return rc;
}

/* ---- VM.import_convert ---- */

/* xapi_vm.ml asks the "conversion" plugin for its converter's address
 * before anything else: XENAPI_MISSING_PLUGIN where it is not installed. */
static int vm_import_convert(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	db_rdlock(ctx->db);
	bool ok = generic_lookup(ctx, SC_C_SR, xv_arr_get(args, 3), err) != NULL;
	db_unlock(ctx->db);
	return ok ? xerr_set(err, ERR_XENAPI_MISSING_PLUGIN, "conversion", NULL) : -1;
}

RPC_IMPL(host, enable_local_storage_caching, host_enable_local_storage_caching, 0);
RPC_IMPL(host, disable_local_storage_caching, host_disable_local_storage_caching, 0);
RPC_IMPL(pool, enable_local_storage_caching, pool_enable_local_storage_caching, 0);
RPC_IMPL(pool, disable_local_storage_caching, pool_disable_local_storage_caching, 0);
RPC_IMPL(pool, send_test_post, pool_send_test_post, RPC_SLOW);
RPC_IMPL(VM, import_convert, vm_import_convert, 0);
