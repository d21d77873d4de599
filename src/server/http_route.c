/* http_route: authentication, task handling and body plumbing shared by
 * the transfer endpoints (see http_route.h). A transfer's task always ends
 * success or failure: on the handler's verdict, or failure (after the
 * handler's abort undid its work) when the client goes away. */
#include "http_route.h"
#include "audit.h"
#include "authlimit.h"
#include "http_guard.h"
#include "../base/fault.h"
#include "session.h"
#include "task.h"
#include "../api/pool_forward.h"
#include "../api/rbac.h"
#include "../api/transfer.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../wire/wire.h"

#include <errno.h>
#include <gnutls/gnutls.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct route_req *route_begin(struct server *srv, struct MHD_Connection *conn, const struct route *rt)
{
	struct route_req *rr = xcalloc(1, sizeof *rr);
	rr->srv = srv;
	rr->conn = conn;
	rr->rt = rt;
	rr->result = XV_NIL_INIT;
	rr->refs = 1;
	rr->ctx.srv = srv;
	rr->ctx.db = srv->db;
	rr->ctx.proto = -1;
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (cl) {
		rr->has_length = true;
		rr->content_length = strtoull(cl, NULL, 10);
	}
	return rr;
}

const char *route_arg(struct route_req *rr, const char *key)
{
	if (rr->query)
		return xv_map_get_str(rr->query, key);
	return MHD_lookup_connection_value(rr->conn, MHD_GET_ARGUMENT_KIND, key);
}

bool route_arg_bool(struct route_req *rr, const char *key)
{
	const char *v = route_arg(rr, key);
	return v && (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"));
}

static MHD_RESULT_T reply(struct route_req *rr, unsigned status, const char *ctype, char *body)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", ctype);
	if (rr->task[0])
		MHD_add_response_header(resp, "task-id", rr->task);
	MHD_RESULT_T ret = MHD_queue_response(rr->conn, status, resp);
	MHD_destroy_response(resp);
	rr->queued = true;
	return ret;
}

/* session_id (query, then cookie), else HTTP Basic as a temporary
 * session, in xapi's order. */
static int authenticate(struct route_req *rr)
{
	if (rr->rt->credential && rr->rt->credential(rr)) {
		rr->ctx.roles = SC_ROLE_READ_ONLY;
		return 0;
	}
	const char *sid = route_arg(rr, "session_id");
	if (!sid)
		sid = MHD_lookup_connection_value(rr->conn, MHD_COOKIE_KIND, "session_id");
	/* another host of the pool relaying its client's request */
	if (sid && pool_session_accept(rr->srv, sid, &rr->ctx))
		return 0;
	if (sid)
		return session_check(rr->srv, sid, &rr->ctx, &rr->err);
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(rr->conn, &pass);
	if (!user) {
		free(pass);
		/* xapi_http.ml fails an HTTP request without credentials so */
		return xerr_set(&rr->err, ERR_SESSION_AUTHENTICATION_FAILED, NULL);
	}
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(rr->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char peer[AUTH_PEER_LEN];
	authlimit_peer(ci ? ci->client_addr : NULL, peer);
	struct session_creds c = {user, pass, "http-basic", peer, 0, false};
	char ref[REF_STRLEN + 1];
	int rc = session_login(rr->srv, &c, ref, NULL, &rr->err);
	MHD_free(user);
	if (pass)
		MHD_free(pass);
	if (rc < 0)
		return -1;
	rr->temp_session = true;
	return session_check(rr->srv, ref, &rr->ctx, &rr->err);
}

void route_permission(const struct route *rt, char *out, size_t cap)
{
	snprintf(out, cap, "http/%s_%s", rt->method, rt->path + 1);
	for (char *c = out; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
}

uint32_t route_roles(const struct route *rt)
{
	uint32_t least = rt->role ? rt->role : SC_ROLE_VM_ADMIN;
	return (least << 1) - 1; /* that role and every more privileged one */
}

/* RBAC as xapi's HTTP actions (datamodel http_actions): every transfer
 * handler, export or import, is allowed to vm-admin and the roles above
 * it; read-only and vm-operator sessions are refused, as on RPC, with the
 * action's permission name (http/get_export_raw_vdi, http/put_import…).
 * The metrics are read-only's. */
static int rbac_check(struct route_req *rr)
{
	uint32_t need = route_roles(rr->rt);
	char perm[64];
	route_permission(rr->rt, perm, sizeof perm);
	bool ok = rr->ctx.rbac_exempt || (rr->ctx.roles & need);
	audit_http(rr, perm, ok);
	return ok ? 0 : rbac_denied(&rr->err, perm, need);
}

static int attach_task(struct route_req *rr)
{
	const char *tid = route_arg(rr, "task_id");
	if (tid && *tid) {
		if (transfer_task_check(&rr->ctx, tid, &rr->err) < 0)
			return -1;
		snprintf(rr->task, sizeof rr->task, "%s", tid);
	} else {
		char label[128];
		snprintf(label, sizeof label, "%s %s", rr->rt->method, rr->rt->path);
		if (task_create(rr->srv, label, "", rr->ctx.session, rr->task, &rr->err) < 0)
			return -1;
		rr->own_task = true;
	}
	snprintf(rr->ctx.task, sizeof rr->ctx.task, "%s", rr->task);
	return 0;
}

static MHD_RESULT_T fail_reply(struct route_req *rr)
{
	unsigned status = MHD_HTTP_INTERNAL_SERVER_ERROR;
	const char *c = rr->err.code ? rr->err.code : "INTERNAL_ERROR";
	if (rr->status)
		status = rr->status;
	else if (!strcmp(c, "SESSION_INVALID") || !strcmp(c, "SESSION_AUTHENTICATION_FAILED"))
		status = MHD_HTTP_UNAUTHORIZED;
	else if (!strcmp(c, "HANDLE_INVALID") || !strcmp(c, "UUID_INVALID"))
		status = MHD_HTTP_NOT_FOUND;
	else if (!strcmp(c, "IMPORT_ERROR_CANNOT_HANDLE_CHUNKED") ||
		 !strcmp(c, "RBAC_PERMISSION_DENIED"))
		status = MHD_HTTP_FORBIDDEN;
	struct strbuf sb = STRBUF_INIT;
	sb_printf(&sb, "%s", c);
	for (size_t i = 0; i < rr->err.nparams; i++)
		sb_printf(&sb, " %s", rr->err.params[i]);
	sb_add(&sb, "\n", 1);
	return reply(rr, status, "text/plain", sb_detach(&sb));
}

/* Ends the task (once) with the handler's verdict. */
static void settle(struct route_req *rr, bool ok)
{
	if (rr->finished)
		return;
	rr->finished = true;
	if (!ok && rr->rt->abort)
		rr->rt->abort(rr);
	if (rr->rt->release)
		rr->rt->release(rr);
	if (!rr->task[0])
		return;
	if (ok) {
		task_complete(rr->srv, rr->task, &rr->result);
	} else {
		if (!rr->err.code)
			xerr_set(&rr->err, ERR_VDI_IO_ERROR, "transfer interrupted", NULL);
		log_info("http: %s %s failed: %s", rr->rt->method, rr->rt->path, rr->err.code);
		task_fail(rr->srv, rr->task, &rr->err);
	}
}

/* ---- slow steps off the MHD thread ----
 * A GET's begin (a qcow2 copy, a delta's comparison) and a PUT's finish
 * (copying a staged image in) can take minutes; MHD's polling threads
 * serve many connections each, so these run on a thread of their own
 * while the connection is suspended. */

static void *work_main(void *arg)
{
	struct route_req *rr = arg;
	int rc = rr->work == W_BEGIN ? rr->rt->begin(rr) : rr->rt->finish ? rr->rt->finish(rr) : 0;
	rr->work_rc = rc;
	__atomic_store_n(&rr->worked, true, __ATOMIC_RELEASE);
	MHD_resume_connection(rr->conn);
	return NULL;
}

static MHD_RESULT_T off_thread(struct route_req *rr, enum work w)
{
	rr->work = w;
	rr->working = true;
	MHD_suspend_connection(rr->conn);
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, work_main, rr) != 0) {
		rr->work_rc = xerr_internal(&rr->err, "cannot start a thread");
		__atomic_store_n(&rr->worked, true, __ATOMIC_RELEASE);
		MHD_resume_connection(rr->conn);
	}
	pthread_attr_destroy(&a);
	return MHD_YES;
}

static MHD_RESULT_T finished(struct route_req *rr);

/* The connection is back from its thread. */
static MHD_RESULT_T worked(struct route_req *rr)
{
	rr->working = false;
	if (rr->work == W_FINISH) {
		if (rr->work_rc < 0)
			rr->failed = true;
		return finished(rr);
	}
	if (rr->work_rc == 0 && !rr->resp)
		rr->work_rc = xerr_internal(&rr->err, "no response was prepared");
	if (rr->work_rc < 0) {
		if (rr->resp)
			MHD_destroy_response(rr->resp);
		rr->resp = NULL;
		settle(rr, false);
		return fail_reply(rr);
	}
	MHD_RESULT_T ret = MHD_queue_response(rr->conn, rr->ok_status ? rr->ok_status : MHD_HTTP_OK, rr->resp);
	MHD_destroy_response(rr->resp);
	rr->resp = NULL;
	rr->queued = true;
	return ret;
}

/* Writes straight onto the connection, past libmicrohttpd, which can only
 * answer once a body has fully arrived. Runs on the connection's MHD
 * thread inside its callback, so nothing else touches the socket or the
 * TLS session meanwhile; the socket is non-blocking. */
static int write_direct(struct route_req *rr, const char *p, size_t n)
{
	const union MHD_ConnectionInfo *fdi =
		MHD_get_connection_info(rr->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	const union MHD_ConnectionInfo *tls =
		MHD_get_connection_info(rr->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (!fdi)
		return -1;
	gnutls_session_t ts = tls ? (gnutls_session_t)tls->tls_session : NULL;
	while (n) {
		ssize_t w = ts ? gnutls_record_send(ts, p, n) : send(fdi->connect_fd, p, n, MSG_NOSIGNAL);
		bool again = ts ? (w == GNUTLS_E_AGAIN || w == GNUTLS_E_INTERRUPTED)
				: (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
		if (again) {
			struct pollfd pfd = {.fd = fdi->connect_fd, .events = POLLOUT};
			if (poll(&pfd, 1, 30000) <= 0)
				return -1;
			continue;
		}
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static bool unknown_length(const struct route_req *rr)
{
	return rr->has_length && rr->content_length >= ROUTE_UNKNOWN_LENGTH;
}

static bool expects_continue(struct route_req *rr)
{
	const char *e = MHD_lookup_connection_value(rr->conn, MHD_HEADER_KIND, "Expect");
	return e && !strcasecmp(e, "100-continue");
}

/* An upload of unknown length (Xen Orchestra announces 1 PiB and waits for
 * the answer's headers before it closes its side after the data) is
 * answered as xapi answers every import: 200 and the task before the
 * body, no keep-alive; the verdict is in the task alone. */
static int answer_up_front(struct route_req *rr)
{
	char head[256 + REF_STRLEN];
	int n = snprintf(head, sizeof head,
			 "HTTP/1.1 200 OK\r\nConnection: close\r\ntask-id: %s\r\n"
			 "Content-Type: application/octet-stream\r\n\r\n",
			 rr->task);
	if (write_direct(rr, head, (size_t)n) < 0)
		return xerr_set(&rr->err, ERR_VDI_IO_ERROR, "cannot answer the client", NULL);
	rr->answered = true;
	return 0;
}

static MHD_RESULT_T start(struct route_req *rr)
{
	rr->started = true;
	if (authenticate(rr) < 0)
		return fail_reply(rr);
	http_guard_trust(rr->conn, (unsigned)rr->srv->cfg.idle_timeout_s);
	/* Xen Orchestra probes an import with an empty PUT and no task first;
	 * it only needs a 2xx answer */
	if (!strcmp(rr->rt->method, "PUT") && rr->has_length && rr->content_length == 0 &&
	    !route_arg(rr, "task_id")) {
		rr->finished = true;
		if (rbac_check(rr) < 0)
			return fail_reply(rr);
		return reply(rr, MHD_HTTP_OK, "text/plain", xstrdup(""));
	}
	if (rr->rt->no_task) {
		if (rbac_check(rr) < 0) {
			rr->finished = true;
			return fail_reply(rr);
		}
		return off_thread(rr, W_BEGIN);
	}
	if (attach_task(rr) < 0)
		return fail_reply(rr);
	if (rbac_check(rr) < 0) { /* the caller's task learns it too */
		settle(rr, false);
		return fail_reply(rr);
	}
	if (!strcmp(rr->rt->method, "GET"))
		return off_thread(rr, W_BEGIN);
	/* Xen Orchestra probes an upload of unknown length with an empty
	 * body announcing 1 PiB, and needs the answer before any data; the
	 * handler begins with the first data, so the probe takes nothing (a
	 * VDI's busy mark) that its real upload, right behind, would find
	 * taken. A client that expects "100 Continue" is answered after MHD
	 * sent it, at the first data, or the 100 would land in our body. */
	if (unknown_length(rr)) {
		rr->begin_deferred = true;
		if (!expects_continue(rr) && answer_up_front(rr) < 0) {
			settle(rr, false);
			return MHD_NO;
		}
		return MHD_YES;
	}
	if (rr->rt->begin(rr) < 0) {
		settle(rr, false);
		return fail_reply(rr);
	}
	return MHD_YES;
}

/* Whether the client has closed its side with nothing left unread. MHD
 * misses a close that arrives together with the last data and would keep
 * the connection until its timeout, leaving the task pending. */
static bool peer_closed(struct route_req *rr)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(rr->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	char c;
	return ci && recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

/* The upload ended early: whole anyway (complete), else a failure. */
static void hung_up(struct route_req *rr)
{
	if (rr->finished)
		return;
	bool ok = false;
	if (!rr->failed && rr->received && rr->rt->complete && rr->rt->complete(rr))
		ok = !rr->rt->finish || rr->rt->finish(rr) == 0;
	settle(rr, ok);
}

MHD_RESULT_T route_step(struct route_req *rr, const char *upload_data, size_t *upload_size)
{
	if (rr->working) /* resumed once its thread is done; else spurious */
		return __atomic_load_n(&rr->worked, __ATOMIC_ACQUIRE) ? worked(rr) : MHD_YES;
	if (!rr->started) {
		MHD_RESULT_T r = start(rr);
		if (rr->queued || !*upload_size)
			return r;
	}
	if (rr->queued) { /* answered already (an error): drop the rest */
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;
		*upload_size = 0;
		rr->received += n;
		if (rr->begin_deferred && !rr->failed) {
			rr->begin_deferred = false;
			if ((!rr->answered && answer_up_front(rr) < 0) || rr->rt->begin(rr) < 0) {
				rr->failed = true;
				settle(rr, false);
				return MHD_NO; /* answered: the task has the verdict */
			}
		}
		if (!rr->failed && rr->rt->data && rr->rt->data(rr, upload_data, n) < 0) {
			/* the task fails (and the work is undone) now; the rest of
			 * the body is read and dropped so the client gets the answer,
			 * unless it has its answer already: then the connection
			 * closes and its sender stops */
			rr->failed = true;
			settle(rr, false);
			if (rr->answered)
				return MHD_NO;
		}
		if (rr->received < rr->content_length && peer_closed(rr)) {
			hung_up(rr); /* no-op when already settled */
			return MHD_NO; /* MHD closes the connection */
		}
		return MHD_YES;
	}
	/* the whole body is in (or it was a GET whose response is queued) */
	if (!strcmp(rr->rt->method, "GET"))
		return MHD_YES;
	if (rr->answered) { /* a full 1 PiB: the verdict goes to the task only */
		if (!rr->failed && rr->rt->finish && rr->rt->finish(rr) < 0)
			rr->failed = true;
		settle(rr, !rr->failed);
		return MHD_NO;
	}
	if (!rr->failed)
		return off_thread(rr, W_FINISH);
	return finished(rr);
}

/* A PUT's end: the verdict to the task, the answer to the client. */
static MHD_RESULT_T finished(struct route_req *rr)
{
	settle(rr, !rr->failed);
	if (rr->failed)
		return fail_reply(rr);
	struct strbuf sb = STRBUF_INIT;
	wire_xml_value(&sb, &rr->result);
	return reply(rr, MHD_HTTP_OK, "text/plain", sb_detach(&sb));
}

static void route_unref(struct route_req *rr)
{
	if (__atomic_sub_fetch(&rr->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	if (rr->rt->free)
		rr->rt->free(rr);
	xerr_clear(&rr->err);
	xv_free(&rr->result);
	free(rr);
}

void route_end(struct route_req *rr, bool completed_ok)
{
	if (rr->started && !rr->finished) {
		if (completed_ok && rr->streaming_done && !rr->failed)
			settle(rr, true);
		else
			hung_up(rr);
	}
	if (rr->temp_session)
		session_forget(rr->srv, rr->ctx.session);
	if (rr->resp) { /* made but never queued */
		MHD_destroy_response(rr->resp);
		rr->resp = NULL;
	}
	route_unref(rr);
}

/* ---- streamed responses ---- */

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct route_req *rr = cls;
	if (rr->failed)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	ssize_t n = rr->reader(rr, pos, buf, max);
	if (n == ROUTE_READ_WAIT)
		return 0; /* suspended by the reader until it has more */
	if (n > 0 && fault_hit(FAULT_HTTP_WRITE))
		n = -1; /* as a reader or the connection failing mid-body */
	if (n < 0) {
		rr->failed = true;
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (n == 0) {
		rr->streaming_done = true;
		if (rr->rt->release) /* nothing more to read: let the VDIs go */
			rr->rt->release(rr);
		return MHD_CONTENT_READER_END_OF_STREAM;
	}
	if (rr->stream_size != MHD_SIZE_UNKNOWN && pos + (uint64_t)n >= rr->stream_size) {
		rr->streaming_done = true;
		/* the last bytes are read: the VDIs are free before the client
		 * has them, so its next request does not find them busy */
		if (rr->rt->release)
			rr->rt->release(rr);
	}
	return n;
}

static void stream_free(void *cls)
{
	route_unref(cls);
}

int route_send_stream(struct route_req *rr, uint64_t size, const char *ctype,
		      const char *disposition, route_reader read)
{
	rr->reader = read;
	rr->stream_size = size;
	if (size == 0)
		rr->streaming_done = true;
	__atomic_add_fetch(&rr->refs, 1, __ATOMIC_ACQ_REL);
	struct MHD_Response *resp =
		MHD_create_response_from_callback(size, 1 << 20, stream_cb, rr, stream_free);
	if (!resp) {
		route_unref(rr);
		return xerr_internal(&rr->err, "cannot create a response");
	}
	MHD_add_response_header(resp, "Content-Type", ctype);
	if (disposition)
		MHD_add_response_header(resp, "Content-Disposition", disposition);
	if (rr->task[0])
		MHD_add_response_header(resp, "task-id", rr->task);
	rr->resp = resp; /* queued by worked(), on the MHD thread */
	return 0;
}

int route_send_buffer(struct route_req *rr, char *body, size_t len, const char *ctype)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return xerr_internal(&rr->err, "cannot create a response");
	}
	MHD_add_response_header(resp, "Content-Type", ctype);
	if (rr->task[0])
		MHD_add_response_header(resp, "task-id", rr->task);
	rr->streaming_done = true;
	rr->resp = resp;
	return 0;
}

int route_send_redirect(struct route_req *rr, const char *location)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return xerr_internal(&rr->err, "cannot create a response");
	MHD_add_response_header(resp, "Location", location);
	rr->streaming_done = true;
	rr->ok_status = MHD_HTTP_FOUND;
	rr->resp = resp;
	return 0;
}

struct args_acc {
	const char *key;
	const char **v;
	size_t n;
};

static MHD_RESULT_T collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct args_acc *a = cls;
	if (key && !strcmp(key, a->key)) {
		a->v = xrealloc(a->v, (a->n + 2) * sizeof *a->v);
		a->v[a->n++] = value ? value : "";
		a->v[a->n] = NULL;
	}
	return MHD_YES;
}

const char **route_args(struct route_req *rr, const char *key, size_t *n)
{
	struct args_acc a = {key, NULL, 0};
	if (rr->query) {
		const char *v = xv_map_get_str(rr->query, key);
		if (v)
			collect_arg(&a, MHD_GET_ARGUMENT_KIND, key, v);
	} else {
		MHD_get_connection_values(rr->conn, MHD_GET_ARGUMENT_KIND, collect_arg, &a);
	}
	*n = a.n;
	return a.v;
}

void route_progress(struct route_req *rr, double p)
{
	if (rr->task[0])
		task_set_progress(rr->srv, rr->task, p);
}
