/* rrd_http: the metrics over HTTP as xapi serves them — /rrd_updates (the
 * xport of this host and its VMs since start) and the whole RRD of the
 * host, a VM or an SR (/host_rrd, /vm_rrd, /sr_rrd and the legacy plural
 * names). Read-only's, no task, open to other origins (XO Lite fetches
 * them cross-origin from every host). */
#include "http_route.h"
#include "../api/metrics.h"
#include "../api/pool_forward.h"
#include "../api/pool_peer.h"
#include "../pool/raft.h"
#include "../base/strbuf.h"
#include "../base/httpq.h"
#include "../base/mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* xapi's INVALID_VALUE: the query parameter and the value it was given. */
static int bad_request(struct route_req *rr, const char *field)
{
	const char *value = route_arg(rr, field);
	rr->status = MHD_HTTP_BAD_REQUEST;
	return xerr_set(&rr->err, ERR_INVALID_VALUE, field, value ? value : "", NULL);
}

/* A json key in the query, else an Accept header preferring JSON to XML
 * (xapi's client_prefers_json; any type counts as JSON). */
static bool wants_json(struct route_req *rr)
{
	if (route_arg(rr, "json"))
		return true;
	const char *accept = MHD_lookup_connection_value(rr->conn, MHD_HEADER_KIND, "Accept");
	if (!accept)
		return false;
	double j = httpq_accept_q(accept, "application", "json"), x = httpq_accept_q(accept, "text", "xml");
	return j > 0 && j >= x;
}

static void cors(struct route_req *rr)
{
	MHD_add_response_header(rr->resp, "Access-Control-Allow-Origin", "*");
	MHD_add_response_header(rr->resp, "Access-Control-Allow-Headers", "X-Requested-With");
}

static void add_src(struct rr_xport_src **src, size_t *n, enum rr_kind k, const char *uuid)
{
	*src = xrealloc(*src, (*n + 1) * sizeof **src);
	(*src)[*n].kind = k;
	(*src)[*n].uuid = uuid;
	(*n)++;
}


/* ---- a member's VMs, read on the member ---- */

/* The host of the pool every VM asked for (vm_uuid and relay=true, no
 * host=true) runs on, when that is one other host, or the host host_uuid
 * names: the page of a pool talks to the master's origin alone (its CSP),
 * so the master relays such a request. */
static bool updates_elsewhere(struct route_req *rr, char href[REF_STRLEN + 1])
{
	struct server *srv = rr->srv;
	const char *h = route_arg(rr, "host");
	const char *hu = route_arg(rr, "host_uuid");
	if (!srv->raft)
		return false;
	if (hu) { /* Xenon's: the figures of that host of the pool */
		db_rdlock(srv->db);
		struct db_obj *ho = db_lookup_uuid(srv->db, SC_C_host, hu);
		snprintf(href, REF_STRLEN + 1, "%s", ho ? ho->ref : "");
		db_unlock(srv->db);
		return href[0] && strcmp(href, srv->host_ref);
	}
	/* xapi's rrd_updates answers a VM running elsewhere with nothing (its
	 * clients ask each host); relay=true (Xenon's) reads it there */
	const char *relay = route_arg(rr, "relay");
	if ((h && !strcmp(h, "true")) || !relay || strcmp(relay, "true"))
		return false;
	size_t nvm = 0;
	const char **vms = route_args(rr, "vm_uuid", &nvm);
	href[0] = '\0';
	bool ok = nvm > 0;
	db_rdlock(srv->db);
	for (size_t i = 0; ok && i < nvm; i++) {
		struct db_obj *vm = db_lookup_uuid(srv->db, SC_C_VM, vms[i]);
		const char *ps = vm ? db_peek_str(vm, SC_F_VM__power_state) : "Halted";
		const char *on = vm ? db_peek_str(vm, SC_F_VM__resident_on) : "";
		if ((strcmp(ps, "Running") && strcmp(ps, "Paused")) || !strcmp(on, srv->host_ref) ||
		    !db_lookup_cls(srv->db, SC_C_host, on) || (href[0] && strcmp(href, on)))
			ok = false;
		else
			snprintf(href, REF_STRLEN + 1, "%s", on);
	}
	db_unlock(srv->db);
	free(vms);
	return ok && href[0];
}

#define RELAY_MAX ((size_t)32 << 20)

struct relay {
	long status;
	struct strbuf body;
	time_t deadline;
};

/* the member's answer is due within 20 s */
static bool relay_go_on(void *arg)
{
	struct relay *r = arg;
	return time(NULL) < r->deadline;
}

static size_t relay_sink(void *arg, long status, const char *data, size_t len)
{
	struct relay *r = arg;
	r->status = status;
	if (r->body.len + len > RELAY_MAX)
		return 0;
	sb_add(&r->body, data, len);
	return len;
}

static MHD_RESULT_T relay_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct strbuf *sb = cls;
	if (!key || !strcmp(key, "session_id"))
		return MHD_YES;
	if (sb->len)
		sb_putc(sb, '&');
	sb_url_encode(sb, key);
	sb_putc(sb, '=');
	sb_url_encode(sb, value ? value : "");
	return MHD_YES;
}

/* The same query asked of host href under the pool's session; its answer
 * (refusals included) given as this host's. */
static int updates_relay(struct route_req *rr, const char *href, bool json)
{
	struct strbuf q = STRBUF_INIT;
	MHD_get_connection_values(rr->conn, MHD_GET_ARGUMENT_KIND, relay_arg, &q);
	if (json && !route_arg(rr, "json"))
		sb_puts(&q, q.len ? "&json=true" : "json=true");
	struct relay r = {0, STRBUF_INIT, time(NULL) + 20};
	struct peer *p = pool_peer_for_host(rr->srv, href, &rr->err);
	int rc = -1;
	if (p && peer_get_stream(p, "/rrd_updates", q.buf ? q.buf : "", relay_sink, relay_go_on, &r, &rr->err) == PEER_OK) {
		if (r.status == 200) {
			size_t len = r.body.len;
			rc = route_send_buffer(rr, r.body.buf ? sb_detach(&r.body) : xstrdup(""), len,
					       json ? "application/json" : "text/xml");
			if (rc == 0)
				cors(rr);
		} else {
			/* that host's refusal ("CODE params") as this host's */
			char *t = xstrdup(r.body.buf ? r.body.buf : "");
			t[strcspn(t, "\n")] = '\0';
			char *rest = strchr(t, ' ');
			if (rest)
				*rest++ = '\0';
			const char *params[1] = {rest};
			rr->status = (unsigned)r.status;
			if (*t && r.status >= 400)
				xerr_setv(&rr->err, t, rest ? 1 : 0, params);
			else
				xerr_internal(&rr->err, "rrd_updates on the VM's host: HTTP %ld", r.status);
			free(t);
		}
	}
	peer_close(p);
	sb_free(&q);
	sb_free(&r.body);
	return rc;
}

static int rrd_updates_begin(struct route_req *rr)
{
	struct rr_store *st = metrics_store(rr->srv);
	int64_t start, interval = 0;
	if (!httpq_parse_i64(route_arg(rr, "start"), &start))
		return bad_request(rr, "start");
	if (route_arg(rr, "interval") && !httpq_parse_i64(route_arg(rr, "interval"), &interval))
		interval = 0;
	if (!st)
		return xerr_set(&rr->err, ERR_INTERNAL_ERROR, "metrics are not running", NULL);
	const char *cf = route_arg(rr, "cf");
	if (cf && strcmp(cf, "AVERAGE") && strcmp(cf, "MIN") && strcmp(cf, "MAX") && strcmp(cf, "LAST"))
		cf = NULL; /* xapi: an unknown cf means every archive */
	char there[REF_STRLEN + 1];
	const char *hu = route_arg(rr, "host_uuid");
	if (hu && rr->srv->raft) {
		db_rdlock(rr->srv->db);
		bool known = db_lookup_uuid(rr->srv->db, SC_C_host, hu) != NULL;
		db_unlock(rr->srv->db);
		if (!known)
			return bad_request(rr, "host_uuid");
	}
	if (updates_elsewhere(rr, there))
		return updates_relay(rr, there, wants_json(rr));
	const char *host = route_arg(rr, "host");
	struct rr_xport_src *src = NULL;
	size_t nsrc = 0;
	if (host && !strcmp(host, "true"))
		add_src(&src, &nsrc, RR_HOST, metrics_host_uuid(rr->srv));
	/* the VMs: those asked for, else every one running here */
	size_t nvm = 0;
	const char **vms = route_args(rr, "vm_uuid", &nvm);
	bool all = !nvm;
	for (size_t i = 0; i < nvm; i++)
		all |= !strcmp(vms[i], "all");
	char **resident = NULL;
	size_t nres = 0;
	if (all) {
		struct db *db = rr->srv->db;
		db_rdlock(db);
		for (struct db_obj *vm = db_first(db, SC_C_VM); vm; vm = db_next(vm)) {
			const char *ps = db_peek_str(vm, SC_F_VM__power_state);
			if ((strcmp(ps, "Running") && strcmp(ps, "Paused")) ||
			    strcmp(db_peek_str(vm, SC_F_VM__resident_on), rr->srv->host_ref) ||
			    db_peek_bool(vm, SC_F_VM__is_control_domain))
				continue;
			resident = xrealloc(resident, (nres + 1) * sizeof *resident);
			resident[nres++] = xstrdup(db_peek_str(vm, SC_F_VM__uuid));
		}
		db_unlock(db);
		for (size_t i = 0; i < nres; i++)
			add_src(&src, &nsrc, RR_VM, resident[i]);
	} else {
		for (size_t i = 0; i < nvm; i++)
			if (strcmp(vms[i], "none"))
				add_src(&src, &nsrc, RR_VM, vms[i]);
	}
	size_t nsr = 0;
	const char **srs = route_args(rr, "sr_uuid", &nsr);
	for (size_t i = 0; i < nsr; i++)
		if (strcmp(srs[i], "none") && strcmp(srs[i], "all"))
			add_src(&src, &nsrc, RR_SR, srs[i]);
	bool json = wants_json(rr);
	struct rr_xport_req req = {.src = src, .nsrc = nsrc, .start = start, .interval = interval, .cf = cf};
	struct rr_xport x;
	int rc = rr_xport_make(st, &req, &x, &rr->err);
	free(vms);
	free(srs);
	free(src);
	for (size_t i = 0; i < nres; i++)
		free(resident[i]);
	free(resident);
	if (rc < 0)
		return -1;
	struct strbuf sb = STRBUF_INIT;
	if (json)
		rr_xport_json(&x, &sb);
	else
		rr_xport_xml(&x, &sb);
	rr_xport_free(&x);
	size_t len = sb.len;
	if (route_send_buffer(rr, sb_detach(&sb), len, json ? "application/json" : "text/xml") < 0)
		return -1;
	cors(rr);
	return 0;
}

static int dump(struct route_req *rr, enum rr_kind k, const char *uuid)
{
	struct rr_store *st = metrics_store(rr->srv);
	if (!st)
		return xerr_set(&rr->err, ERR_INTERNAL_ERROR, "metrics are not running", NULL);
	if (!uuid)
		return bad_request(rr, "uuid");
	struct strbuf sb = STRBUF_INIT;
	bool json = route_arg(rr, "json") != NULL;
	if (rr_store_dump(st, k, uuid, json, &sb, &rr->err) < 0) {
		sb_free(&sb);
		rr->status = MHD_HTTP_NOT_FOUND;
		return -1;
	}
	size_t len = sb.len;
	if (route_send_buffer(rr, sb_detach(&sb), len, json ? "application/json" : "text/xml") < 0)
		return -1;
	cors(rr);
	return 0;
}

static int host_rrd_begin(struct route_req *rr)
{
	return dump(rr, RR_HOST, metrics_host_uuid(rr->srv));
}

static MHD_RESULT_T add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct strbuf *sb = cls;
	sb_putc(sb, strchr(sb->buf, '?') ? '&' : '?');
	sb_url_encode(sb, key ? key : "");
	sb_putc(sb, '=');
	sb_url_encode(sb, value ? value : "");
	return MHD_YES;
}

/* 302 to the same path and query on the host at address (its API port:
 * HTTPS where this host serves it, as xapi's https://address/…). */
static int redirect_to(struct route_req *rr, const char *address, const char *path)
{
	struct strbuf sb = STRBUF_INIT;
	int tls = pool_tls_port(rr->srv);
	const char *plain = strrchr(rr->srv->cfg.listen ? rr->srv->cfg.listen : "", ':');
	bool v6 = strchr(address, ':') != NULL;
	sb_printf(&sb, "%s://%s%s%s", tls > 0 ? "https" : "http", v6 ? "[" : "", address, v6 ? "]" : "");
	if (tls > 0 && tls != 443)
		sb_printf(&sb, ":%d", tls);
	else if (tls <= 0 && plain && strcmp(plain + 1, "80"))
		sb_printf(&sb, ":%s", plain + 1);
	sb_puts(&sb, path);
	MHD_get_connection_values(rr->conn, MHD_GET_ARGUMENT_KIND, add_query_arg, &sb);
	int rc = route_send_redirect(rr, sb.buf);
	sb_free(&sb);
	if (rc == 0)
		cors(rr);
	return rc;
}

/* As xapi's get_vm_rrd_forwarder: a VM running on another host of the
 * pool is read there (302 to it); one whose RRD this host has not (a
 * halted VM's archive) is read on the master, from a member by a 302 to
 * the master. */
static int vm_rrd_begin(struct route_req *rr)
{
	const char *uuid = route_arg(rr, "uuid");
	if (!uuid)
		return bad_request(rr, "uuid");
	struct server *srv = rr->srv;
	char owner[256] = "";
	db_rdlock(srv->db);
	struct db_obj *vm = db_lookup_uuid(srv->db, SC_C_VM, uuid);
	if (vm) {
		const char *ps = db_peek_str(vm, SC_F_VM__power_state);
		const char *on = db_peek_str(vm, SC_F_VM__resident_on);
		struct db_obj *h = db_lookup_cls(srv->db, SC_C_host, on);
		if (h && strcmp(on, srv->host_ref) && (!strcmp(ps, "Running") || !strcmp(ps, "Paused")))
			snprintf(owner, sizeof owner, "%s", db_peek_str(h, SC_F_host__address));
	}
	db_unlock(srv->db);
	if (owner[0])
		return redirect_to(rr, owner, "/vm_rrd");
	struct rr_store *st = metrics_store(srv);
	if (st && !rr_store_has(st, RR_VM, uuid) && srv->raft && !pool_raft_is_leader(srv->raft)) {
		char master[POOL_ADDR_MAX];
		pool_raft_leader(srv->raft, master);
		char *colon = strrchr(master, ':'); /* its API is on its Raft address */
		if (colon)
			*colon = 0;
		if (master[0])
			return redirect_to(rr, master, "/vm_rrd");
	}
	return dump(rr, RR_VM, uuid);
}

static int sr_rrd_begin(struct route_req *rr)
{
	return dump(rr, RR_SR, route_arg(rr, "uuid"));
}

#define RRD_ROUTE(var, p, fn)                                                                                   \
	const struct route var = {.method = "GET", .path = p, .begin = fn, .no_task = true, .role = SC_ROLE_READ_ONLY}

RRD_ROUTE(route_rrd_updates, "/rrd_updates", rrd_updates_begin);
RRD_ROUTE(route_host_rrd, "/host_rrd", host_rrd_begin);
RRD_ROUTE(route_host_rrds, "/host_rrds", host_rrd_begin);
RRD_ROUTE(route_vm_rrd, "/vm_rrd", vm_rrd_begin);
RRD_ROUTE(route_vm_rrds, "/vm_rrds", vm_rrd_begin);
RRD_ROUTE(route_sr_rrd, "/sr_rrd", sr_rrd_begin);
