/* vm_import_url: VM.import(url, sr, full_restore, force) — the archive at
 * an http:// URL fetched and fed to the same importer as PUT /import (an
 * XVA, an OVA or a single disk image, told apart by its first bytes), as
 * xapi's VM.import streams a URL into its import handler. The request is
 * one of the daemon's own: its query is a map, it has no connection. */
#include "http_route.h"
#include "../api/api.h"
#include "../base/mem.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fetch {
	struct route_req *rr;
	CURL *h;
	bool began;
	int rc;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct fetch *f = arg;
	struct route_req *rr = f->rr;
	size_t len = size * n;
	if (f->rc < 0)
		return 0;
	if (!f->began) {
		curl_off_t cl = -1;
		curl_easy_getinfo(f->h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
		rr->has_length = cl >= 0;
		rr->content_length = cl >= 0 ? (uint64_t)cl : 0;
		f->began = true;
		f->rc = rr->rt->begin(rr);
		if (f->rc < 0)
			return 0;
	}
	rr->received += len;
	f->rc = rr->rt->data(rr, p, len);
	return f->rc < 0 ? 0 : len;
}

static int vm_import(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *url = xv_as_str(xv_arr_get(args, 0)) ?: "";
	const char *sr = xv_as_str(xv_arr_get(args, 1)) ?: REF_NULL;
	if (strncmp(url, "http://", 7))
		return xerr_set(err, ERR_INVALID_VALUE, "url", url, NULL);
	xv query = xv_map_new();
	if (!ref_is_null(sr))
		xv_map_set_str(&query, "sr_id", sr);
	if (arg_bool(args, 2))
		xv_map_set_str(&query, "restore", "true");
	if (arg_bool(args, 3))
		xv_map_set_str(&query, "force", "true");
	struct route_req *rr = xcalloc(1, sizeof *rr);
	rr->srv = ctx->srv;
	rr->rt = &route_import;
	rr->ctx = *ctx;
	snprintf(rr->task, sizeof rr->task, "%s", ctx->task);
	rr->query = &query;
	rr->result = XV_NIL_INIT;
	struct fetch f = {rr, curl_easy_init(), false, 0};
	curl_easy_setopt(f.h, CURLOPT_URL, url);
	curl_easy_setopt(f.h, CURLOPT_PROTOCOLS_STR, "http");
	curl_easy_setopt(f.h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(f.h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f.h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(f.h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(f.h, CURLOPT_WRITEDATA, &f);
	CURLcode cc = curl_easy_perform(f.h);
	long status = 0;
	curl_easy_getinfo(f.h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(f.h);
	int rc = f.rc;
	if (rc == 0 && cc != CURLE_OK) {
		char *msg = cc == CURLE_HTTP_RETURNED_ERROR ? xasprintf("%s: HTTP %ld", url, status)
							    : xasprintf("%s: %s", url, curl_easy_strerror(cc));
		rc = xerr_set(&rr->err, ERR_IMPORT_ERROR, msg, NULL);
		free(msg);
	}
	if (rc == 0 && !f.began) /* an empty body */
		rc = xerr_set(&rr->err, ERR_IMPORT_ERROR_PREMATURE_EOF, NULL);
	if (rc == 0)
		rc = rr->rt->finish(rr);
	if (rc < 0 && f.began && rr->rt->abort)
		rr->rt->abort(rr);
	if (rr->rt->free)
		rr->rt->free(rr);
	if (rc == 0) {
		*result = rr->result;
		rr->result = XV_NIL_INIT;
	} else {
		xerr_move(err, &rr->err);
	}
	xv_free(&rr->result);
	xerr_clear(&rr->err);
	xv_free(&query);
	free(rr);
	return rc;
}

RPC_IMPL(VM, import, vm_import, RPC_SLOW);
