/* http: libmicrohttpd glue. Reads RPC bodies, runs calls, and parks
 * connections whose call must wait (event.from) or runs long (slow sync
 * calls) by suspending them, so no thread is held per waiting client. */
#include "http.h"
#include "tls_live.h"
#include "authlimit.h"
#include "capture_http.h"
#include "console.h"
#include "http_guard.h"
#include "http_listen.h"
#include "http_route.h"
#include "url_table.h"
#include "web_static.h"
#include "doc_http.h"
#include "rpc.h"
#include "../api/server.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../wire/wire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

enum req_state { ST_READ, ST_RUNNING, ST_WAITING, ST_DONE };

struct http_req {
	struct http_server *hs;
	struct MHD_Connection *conn;
	struct strbuf body;
	size_t discarded; /* bytes of a body past max-body, read and dropped */
	enum req_state state;
	bool suspended;
	bool is_rpc;
	enum wire_proto proto;
	xv id;
	struct rpc_call call;
	bool have_call;
	struct db_waiter waiter;
	bool waiter_added;
	bool shared; /* deferred or parked: known to threads other than MHD's */
	uint64_t gen_seen;
	struct route_req *route; /* a transfer endpoint (http_route.c), else NULL */
	bool console;            /* /console (console_http.c): answered at once */
	struct url_match url;    /* what serves it (url_table.c) */
	struct http_req *wnext, *wprev; /* list of waiting requests */
};

struct http_server {
	struct server *srv;
	struct MHD_Daemon *plain, *tls;
	struct http_acceptor *acceptor, *tls_acceptor; /* http_listen.c */
	struct http_guard *guard;                      /* both ports' connections */
	int plain_fd, tls_fd;           /* listening sockets, ours (-1: none) */
	char *cert, *key;
	pthread_mutex_t lock; /* suspended flags and the waiting list */
	struct http_req *waiting;
	pthread_t timer;
	bool stopping; /* set once by http_server_stop, read by the timer: __atomic */
};

/* ---- suspension ---- */

static void resume_locked(struct http_req *r)
{
	if (r->suspended) {
		r->suspended = false;
		MHD_resume_connection(r->conn);
	}
}

static void wake(void *arg)
{
	struct http_req *r = arg;
	pthread_mutex_lock(&r->hs->lock);
	resume_locked(r);
	pthread_mutex_unlock(&r->hs->lock);
}

static void waiting_add(struct http_req *r)
{
	r->wprev = NULL;
	r->wnext = r->hs->waiting;
	if (r->hs->waiting)
		r->hs->waiting->wprev = r;
	r->hs->waiting = r;
}

static void waiting_del(struct http_req *r)
{
	if (r->wprev)
		r->wprev->wnext = r->wnext;
	else if (r->hs->waiting == r)
		r->hs->waiting = r->wnext;
	if (r->wnext)
		r->wnext->wprev = r->wprev;
	r->wnext = r->wprev = NULL;
}

/* Wakes parked calls whose deadline passed, so event.from returns on
 * time even when nothing changes; twice a second closes connections that
 * have not authenticated and are late with their request. */
static void *timer_main(void *arg)
{
	struct http_server *hs = arg;
	unsigned tick = 0;
	while (!__atomic_load_n(&hs->stopping, __ATOMIC_ACQUIRE)) {
		usleep(20000);
		int64_t now = clock_now_ms();
		if (++tick % 25 == 0)
			http_guard_sweep(hs->guard, now);
		pthread_mutex_lock(&hs->lock);
		for (struct http_req *r = hs->waiting; r; r = r->wnext)
			if (r->call.ctx.deadline_ms && now >= r->call.ctx.deadline_ms)
				resume_locked(r);
		pthread_mutex_unlock(&hs->lock);
	}
	return NULL;
}

/* ---- responses ---- */

static MHD_RESULT_T send_buf(struct MHD_Connection *c, unsigned status, const char *ctype,
			     char *buf, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
	if (ctype)
		MHD_add_response_header(resp, "Content-Type", ctype);
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
	MHD_RESULT_T ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static MHD_RESULT_T send_text(struct MHD_Connection *c, unsigned status, const char *text)
{
	return send_buf(c, status, "text/plain", xstrdup(text), strlen(text));
}

/* ---- streamed answers ----
 * A result the handler gave as an rpc_stream (a big table) goes out with
 * chunked transfer encoding: MHD asks for the body as the connection can
 * take it, and each piece is encoded then, into a buffer of about
 * STREAM_PIECE bytes per connection, instead of the whole answer first. */

#define STREAM_PIECE (64 * 1024)

struct reply_stream {
	struct rpc_stream *stream;
	enum wire_proto proto;
	xv id;
	struct strbuf buf; /* encoded, not yet handed to MHD from off */
	size_t off;
	bool finished; /* buf holds the last piece, the envelope's tail included */
};

static ssize_t reply_stream_read(void *cls, uint64_t pos, char *out, size_t max)
{
	struct reply_stream *rs = cls;
	(void)pos;
	while (rs->off == rs->buf.len) {
		if (rs->finished)
			return MHD_CONTENT_READER_END_OF_STREAM;
		sb_reset(&rs->buf);
		rs->off = 0;
		if (rs->stream->next(rs->stream, &rs->buf, STREAM_PIECE)) {
			wire_write_success_tail(&rs->buf, rs->proto, &rs->id);
			rs->finished = true;
		}
	}
	size_t n = rs->buf.len - rs->off;
	if (n > max)
		n = max;
	memcpy(out, rs->buf.buf + rs->off, n);
	rs->off += n;
	return (ssize_t)n;
}

static void reply_stream_free(void *cls)
{
	struct reply_stream *rs = cls;
	rs->stream->free(rs->stream);
	xv_free(&rs->id);
	sb_free(&rs->buf);
	free(rs);
}

/* Takes the call's stream. */
static MHD_RESULT_T send_rpc_stream(struct http_req *r)
{
	struct reply_stream *rs = xcalloc(1, sizeof *rs);
	rs->stream = r->call.ctx.stream;
	r->call.ctx.stream = NULL;
	rs->proto = r->proto;
	rs->id = xv_copy(&r->id);
	wire_write_success_head(&rs->buf, rs->proto);
	struct MHD_Response *resp = MHD_create_response_from_callback(
		MHD_SIZE_UNKNOWN, STREAM_PIECE, reply_stream_read, rs, reply_stream_free);
	if (!resp) {
		reply_stream_free(rs);
		return MHD_NO;
	}
	MHD_add_response_header(resp, "Content-Type",
				r->proto == WIRE_XMLRPC ? "text/xml" : "application/json");
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
	MHD_RESULT_T ret = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static MHD_RESULT_T send_rpc_result(struct http_req *r)
{
	if (!r->call.err.code && r->call.ctx.stream)
		return send_rpc_stream(r);
	struct strbuf sb = STRBUF_INIT;
	if (r->call.err.code)
		wire_write_failure(&sb, r->proto, &r->id, &r->call.err);
	else
		wire_write_success(&sb, r->proto, &r->id, &r->call.result);
	const char *ctype = r->proto == WIRE_XMLRPC ? "text/xml" : "application/json";
	size_t len = sb.len;
	return send_buf(r->conn, MHD_HTTP_OK, ctype, sb_detach(&sb), len);
}

static MHD_RESULT_T send_cors_preflight(struct MHD_Connection *c)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
	MHD_add_response_header(resp, "Access-Control-Allow-Methods", "GET, POST, PUT, OPTIONS");
	MHD_add_response_header(resp, "Access-Control-Allow-Headers",
				"Content-Type, Accept, Authorization, X-Requested-With");
	MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
	MHD_RESULT_T ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- running calls ---- */

static void deferred_done(struct rpc_call *call, void *arg)
{
	struct http_req *r = arg;
	(void)call;
	pthread_mutex_lock(&r->hs->lock);
	r->state = ST_DONE;
	resume_locked(r);
	pthread_mutex_unlock(&r->hs->lock);
}

/* A call that passed the session check, or a login that succeeded: the
 * connection carries a client that authenticated. */
static bool call_authenticated(const struct rpc_call *call)
{
	return call->ctx.session[0] ||
	       (!call->err.code && !strncmp(call->method, "session.login", 13));
}

static MHD_RESULT_T run_call(struct http_req *r)
{
	enum rpc_outcome out = rpc_call_run(&r->call);
	if (out != RPC_DONE)
		r->shared = true;
	if (out == RPC_DONE && call_authenticated(&r->call))
		http_guard_trust(r->conn, (unsigned)r->hs->srv->cfg.idle_timeout_s);
	switch (out) {
	case RPC_DONE:
		r->state = ST_DONE;
		return send_rpc_result(r);
	case RPC_DEFERRED:
		pthread_mutex_lock(&r->hs->lock);
		if (r->state != ST_DONE) {
			r->state = ST_RUNNING;
			r->suspended = true;
			MHD_suspend_connection(r->conn);
			pthread_mutex_unlock(&r->hs->lock);
			return MHD_YES;
		}
		pthread_mutex_unlock(&r->hs->lock);
		return send_rpc_result(r);
	case RPC_WAITING:
		break;
	}
	/* park until a commit or the deadline; then the call runs again */
	struct db *db = r->hs->srv->db;
	if (!r->waiter_added) {
		r->waiter.wake = wake;
		r->waiter.arg = r;
		r->waiter.classes[0] = r->waiter.classes[1] = ~0ull;
		db_waiter_add(db, &r->waiter);
		r->waiter_added = true;
	}
	pthread_mutex_lock(&r->hs->lock);
	r->state = ST_WAITING;
	if (!r->wnext && !r->wprev && r->hs->waiting != r)
		waiting_add(r);
	r->suspended = true;
	MHD_suspend_connection(r->conn);
	/* a commit between the check and the suspension would be missed */
	if (db_generation(db) != r->gen_seen)
		resume_locked(r);
	pthread_mutex_unlock(&r->hs->lock);
	return MHD_YES;
}

static MHD_RESULT_T start_rpc(struct http_req *r, bool json)
{
	struct wire_call wc;
	memset(&wc, 0, sizeof wc);
	struct xerr err = XERR_INIT;
	const char *body = r->body.buf ? r->body.buf : "";
	int rc = json ? wire_jsonrpc_parse_call(body, r->body.len, &wc, &err)
		      : wire_xmlrpc_parse_call(body, r->body.len, &wc, &err);
	if (rc < 0) {
		char *msg = xasprintf("<html><body><h1>HTTP 500 internal server error</h1>"
				      "An unexpected error occurred; please wait a while and try again. "
				      "If the problem persists, please contact your support representative."
				      "<h1> Additional information </h1>%s</body></html>",
				      err.code ? err.code : "parse failure");
		xerr_clear(&err);
		return send_buf(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/html", msg, strlen(msg));
	}
	log_debug("rpc: %s", wc.method);
	bool login = !strcmp(wc.method, "session.login_with_password");
	r->is_rpc = true;
	r->proto = wc.proto;
	r->id = wc.id;
	wc.id = XV_NIL_INIT;
	rpc_call_init(&r->call, r->hs->srv, wc.method, wc.params);
	wc.params = XV_NIL_INIT;
	wire_call_free(&wc);
	r->have_call = true;
	r->call.done = deferred_done;
	r->call.done_arg = r;
	r->call.ctx.may_wait = true;
	r->call.ctx.proto = (int)r->proto;
	r->call.ctx.may_stream = true;
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	authlimit_peer(ci ? ci->client_addr : NULL, r->call.ctx.peer);
	if (login && tls_live_client_auth()) { /* its client's certificate may log it in */
		const union MHD_ConnectionInfo *ti = MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		r->call.ctx.client_cert = ti && ti->tls_session &&
					  tls_live_client_verified((gnutls_session_t)ti->tls_session);
	}
	r->gen_seen = db_generation(r->hs->srv->db);
	return run_call(r);
}

/* How much of an RPC body past max-body is read and dropped so that its
 * 413 reaches a client that reads only after sending. */
static size_t discard_max(size_t max_body)
{
	return 16 * max_body;
}

/* A Content-Length past what is read at all: answered 413 before any of
 * the body is read, and the connection closed. */
static bool announced_too_big(struct MHD_Connection *conn, size_t max_body)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
	if (!cl)
		return false;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(cl, &end, 10);
	return errno == ERANGE || n > max_body + discard_max(max_body);
}

/* A connection without a TLS session came to the plain-HTTP port. */
static bool on_plain(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	return !ci || !ci->tls_session;
}

/* https-only (host.set_https_only): on plain HTTP, GET / is sent to the
 * HTTPS port and everything else is refused. */
static MHD_RESULT_T https_only_answer(struct http_server *hs, struct MHD_Connection *conn, const char *method,
				      enum url_kind kind)
{
	if (kind != URL_STATUS || strcmp(method, "GET"))
		return send_text(conn, MHD_HTTP_FORBIDDEN, "HTTPS only: this host refuses plain-HTTP requests\n");
	const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
	const char *tp = strrchr(hs->srv->cfg.tls_listen, ':');
	char name[256];
	snprintf(name, sizeof name, "%s", host ? host : "localhost");
	char *colon = name[0] == '[' ? strchr(name, ']') : strrchr(name, ':'); /* drop the port */
	if (colon && name[0] == '[')
		colon[1] = 0;
	else if (colon)
		*colon = 0;
	char loc[400];
	snprintf(loc, sizeof loc, "https://%s:%s/", name, tp ? tp + 1 : "443");
	struct MHD_Response *resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	MHD_add_response_header(resp, "Location", loc);
	MHD_RESULT_T ret = MHD_queue_response(conn, MHD_HTTP_MOVED_PERMANENTLY, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* The API reference's directory, found once (doc_http.c). */
static char *doc_dir;
static void doc_dir_find(void)
{
	doc_dir = doc_http_default_dir();
}

static MHD_RESULT_T on_request(void *cls, struct MHD_Connection *conn, const char *url,
			       const char *method, const char *version, const char *upload_data,
			       size_t *upload_size, void **con_cls)
{
	(void)version;
	struct http_server *hs = cls;
	struct http_req *r = *con_cls;
	if (!r) {
		r = xcalloc(1, sizeof *r);
		r->hs = hs;
		r->conn = conn;
		r->id = XV_NIL_INIT;
		r->url = url_lookup(method, url);
		if (tls_live_https_only() && hs->tls && on_plain(conn)) {
			r->console = true; /* answered here, nothing more to read */
			*con_cls = r;
			return https_only_answer(hs, conn, method, r->url.kind);
		}
		if (r->url.kind == URL_TRANSFER)
			r->route = route_begin(hs->srv, conn, r->url.route);
		*con_cls = r;
		if (r->url.kind == URL_CONSOLE) {
			r->console = true;
			return console_request(hs->srv, conn, method);
		}
		/* transfers start on the headers: a refusal goes out before MHD
		 * reads any body */
		if (r->route)
			return route_step(r->route, upload_data, upload_size);
		if (announced_too_big(conn, hs->srv->cfg.max_body))
			return send_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
		return MHD_YES;
	}
	if (r->route)
		return route_step(r->route, upload_data, upload_size);
	if (r->console) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		/* a body past the limit is read to its end and answered 413, so
		 * the client that sends before it reads sees the answer, but only
		 * up to discard_max: past that (a chunked body, whose length was
		 * not announced) the connection is cut, as no answer can be
		 * queued mid-body */
		if (r->discarded || r->body.len + *upload_size > hs->srv->cfg.max_body) {
			r->discarded += *upload_size;
			if (r->discarded > discard_max(hs->srv->cfg.max_body))
				return MHD_NO;
		} else {
			sb_add(&r->body, upload_data, *upload_size);
		}
		*upload_size = 0;
		return MHD_YES;
	}
	if (r->state == ST_READ)
		http_guard_request_read(conn);
	switch (r->state) {
	case ST_DONE:
		if (call_authenticated(&r->call))
			http_guard_trust(conn, (unsigned)hs->srv->cfg.idle_timeout_s);
		return send_rpc_result(r);
	case ST_WAITING:
		r->gen_seen = db_generation(hs->srv->db);
		return run_call(r);
	case ST_RUNNING:
		return MHD_YES; /* spurious wake-up */
	case ST_READ:
		break;
	}
	if (strcmp(method, "OPTIONS") == 0)
		return send_cors_preflight(conn);
	if (r->url.kind == URL_RPC_XML || r->url.kind == URL_RPC_JSON) {
		if (r->discarded)
			return send_text(conn, MHD_HTTP_CONTENT_TOO_LARGE, "request body too large\n");
		return start_rpc(r, r->url.kind == URL_RPC_JSON);
	}
	if (r->url.kind == URL_DOC) {
		static pthread_once_t once = PTHREAD_ONCE_INIT;
		pthread_once(&once, doc_dir_find);
		return doc_http_serve(conn, doc_dir, url);
	}
	if (r->url.kind == URL_STATUS || r->url.kind == URL_STATIC) {
		MHD_RESULT_T ret;
		if (web_static_serve(conn, hs->srv->cfg.web_dir, url, &ret))
			return ret;
		const char *page = "<!doctype html><title>Xenon</title><h1>Xenon</h1>"
				   "<p>XenAPI on /jsonrpc and /.</p>\n";
		return send_buf(conn, MHD_HTTP_OK, "text/html", xstrdup(page), strlen(page));
	}
	return send_text(conn, MHD_HTTP_NOT_FOUND, "not found\n");
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http_server *hs = cls;
	struct http_req *r = *con_cls;
	http_guard_request_done(conn);
	if (!r)
		return;
	if (r->route)
		route_end(r->route, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK);
	if (r->waiter_added)
		db_waiter_remove(hs->srv->db, &r->waiter);
	/* Another thread may still hold r (deferred_done, wake) only if the
	 * call was deferred or parked: then the lock waits for it to let go
	 * and takes r off the waiting list. A call answered at once was never
	 * seen by any other thread and needs neither. */
	if (r->shared) {
		pthread_mutex_lock(&hs->lock);
		if (r->wnext || r->wprev || hs->waiting == r)
			waiting_del(r);
		pthread_mutex_unlock(&hs->lock);
	}
	if (r->have_call)
		rpc_call_free(&r->call);
	xv_free(&r->id);
	sb_free(&r->body);
	free(r);
	*con_cls = NULL;
}

/* MHD's messages are about single connections (a client that left
 * mid-request, a bad TLS hello): worth a debug line, not a warning each,
 * which a flood would turn into thousands. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	if (log_get_level() < LOG_DEBUG)
		return;
	char line[512];
	vsnprintf(line, sizeof line, fmt, ap);
	line[strcspn(line, "\n")] = '\0';
	log_debug("mhd: %s", line);
}

/* Every connection is the guard's to follow; a TLS one asks its client
 * for a certificate, before its handshake, while client-certificate
 * authentication is on. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
			  enum MHD_ConnectionNotificationCode code)
{
	struct http_server *hs = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED && tls_live_client_auth()) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
		if (ci && ci->tls_session)
			tls_live_request_client_cert((gnutls_session_t)ci->tls_session);
	}
	http_guard_notify(hs->guard, c, socket_context, code);
}

/* An MHD daemon without a listening socket: the acceptor (http_listen.c)
 * admits connections and adds them. MHD_ALLOW_SUSPEND_RESUME brings the
 * inter-thread channel that MHD_add_connection needs with internal
 * polling threads. MHD's connection limit is set so that no worker can
 * reach its share of it even if every admitted connection landed on it:
 * in MHD 0.9.75 a worker that refuses a connection at its limit keeps a
 * lock and deadlocks. */
static struct MHD_Daemon *start_daemon(struct http_server *hs, const char *spec, bool tls,
				       struct xerr *err)
{
	const struct server_config *cfg = &hs->srv->cfg;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_ALLOW_UPGRADE | MHD_USE_ERROR_LOG | MHD_USE_NO_LISTEN_SOCKET;
	if (tls)
		flags |= MHD_USE_TLS;
	unsigned threads = (unsigned)(cfg->http_threads > 0 ? cfg->http_threads : 1);
	struct MHD_OptionItem opts[] = {
		{MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)threads, NULL},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, hs},
		{MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, hs},
		{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
		/* connections that authenticated get idle_timeout_s */
		{MHD_OPTION_CONNECTION_TIMEOUT, cfg->request_timeout_s, NULL},
		{MHD_OPTION_CONNECTION_LIMIT, (intptr_t)((unsigned)cfg->max_conns + 1) * threads, NULL},
		/* uploads arrive in pieces as large as a connection's buffer: the
		 * default 32 KiB means a callback (and a wake-up) per 32 KiB of
		 * a disk image. But MHD zeroes the whole pool before each request
		 * of a keep-alive connection: at 512 KiB that memset was a fifth
		 * of xenond's CPU in VM.get_record (40 -> 30 µs a call at 64 KiB),
		 * while a 512 MiB PUT /import_raw_vdi took the same 0.4-0.5 s at
		 * 64 and 512 KiB. The pool is mapped lazily, so idle connections
		 * (parked event.from calls) do not pay for it. */
		{MHD_OPTION_CONNECTION_MEMORY_LIMIT, 64 * 1024, NULL},
		/* the certificate at each handshake: host.install_server_certificate
		 * switches it while the port serves (tls_live.h) */
		{tls ? MHD_OPTION_HTTPS_CERT_CALLBACK : MHD_OPTION_END, 0, (void *)tls_live_retrieve},
		{tls ? MHD_OPTION_HTTPS_PRIORITIES : MHD_OPTION_END, 0, cfg->tls_priorities},
		{MHD_OPTION_END, 0, NULL},
	};
	struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, hs,
						MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (!d)
		xerr_internal(err, "cannot serve %s%s", spec, tls ? " (TLS: check tls-priorities)" : "");
	return d;
}

/* The guard's caps, within the descriptors this process may open: a
 * quarter of them stays for disks, sockets to QEMU and the store. */
static struct http_guard *guard_new(const struct server_config *cfg)
{
	struct http_guard_limits lim = {
		.max_conns = (unsigned)cfg->max_conns,
		.max_per_addr = (unsigned)cfg->max_conns_per_addr,
		.untrusted_timeout_s = (unsigned)cfg->request_timeout_s,
	};
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    lim.max_conns > rl.rlim_cur * 3 / 4) {
		lim.max_conns = (unsigned)(rl.rlim_cur * 3 / 4);
		log_warn("http: at most %u connections (open-file limit %llu)", lim.max_conns,
			 (unsigned long long)rl.rlim_cur);
	}
	return http_guard_new(&lim);
}

struct http_server *http_start(struct server *srv, const char *cert_pem, const char *key_pem,
			       struct xerr *err)
{
	struct http_server *hs = xcalloc(1, sizeof *hs);
	hs->srv = srv;
	pthread_mutex_init(&hs->lock, NULL);
	hs->plain_fd = hs->tls_fd = -1;
	hs->cert = cert_pem ? xstrdup(cert_pem) : NULL;
	hs->key = key_pem ? xstrdup(key_pem) : NULL;
	hs->guard = guard_new(&srv->cfg);
	unsigned silent = (unsigned)srv->cfg.request_timeout_s;
	if (srv->cfg.listen[0] &&
	    ((hs->plain_fd = http_listen_open(srv->cfg.listen, HTTP_ENV_PLAIN_FD, err)) < 0 ||
	     !(hs->plain = start_daemon(hs, srv->cfg.listen, false, err)) ||
	     !(hs->acceptor = http_acceptor_start(srv, hs->plain_fd, hs->plain, hs->guard, true,
						  silent, err))))
		goto fail;
	if (srv->cfg.tls_listen[0] && hs->cert &&
	    (tls_live_set(hs->cert, hs->key, err) < 0 || (hs->tls_fd = http_listen_open(srv->cfg.tls_listen, HTTP_ENV_TLS_FD, err)) < 0 ||
	     !(hs->tls = start_daemon(hs, srv->cfg.tls_listen, true, err)) ||
	     !(hs->tls_acceptor = http_acceptor_start(srv, hs->tls_fd, hs->tls, hs->guard, false,
						      silent, err))))
		goto fail;
	pthread_create(&hs->timer, NULL, timer_main, hs);
	if (srv->cfg.listen[0])
		log_info("http: listening on %s", srv->cfg.listen);
	if (hs->tls)
		log_info("https: listening on %s", srv->cfg.tls_listen);
	return hs;
fail:
	http_acceptor_stop(hs->tls_acceptor);
	if (hs->tls)
		MHD_stop_daemon(hs->tls);
	tls_live_free();
	http_acceptor_stop(hs->acceptor);
	if (hs->plain)
		MHD_stop_daemon(hs->plain);
	if (hs->plain_fd >= 0)
		close(hs->plain_fd);
	if (hs->tls_fd >= 0)
		close(hs->tls_fd);
	http_guard_free(hs->guard);
	free(hs->cert);
	free(hs->key);
	pthread_mutex_destroy(&hs->lock);
	free(hs);
	return NULL;
}

void http_stop(struct http_server *hs)
{
	http_stop_handover(hs, NULL, NULL);
}

void http_stop_handover(struct http_server *hs, int *plain_fd, int *tls_fd)
{
	if (plain_fd)
		*plain_fd = -1;
	if (tls_fd)
		*tls_fd = -1;
	if (!hs)
		return;
	/* first no new connection: they wait in the backlog for whoever
	 * listens next, or are refused once the sockets close */
	int pfd = http_acceptor_stop(hs->acceptor);
	if (plain_fd)
		*plain_fd = pfd;
	else if (pfd >= 0)
		close(pfd);
	int tfd = http_acceptor_stop(hs->tls_acceptor);
	if (tls_fd)
		*tls_fd = tfd;
	else if (tfd >= 0)
		close(tfd);
	__atomic_store_n(&hs->stopping, true, __ATOMIC_RELEASE);
	pthread_join(hs->timer, NULL);
	capture_http_stop_all(); /* no capture left suspended either */
	/* wake every parked call so MHD can finish it before stopping */
	pthread_mutex_lock(&hs->lock);
	for (struct http_req *r = hs->waiting; r; r = r->wnext) {
		r->call.ctx.deadline_ms = 1;
		resume_locked(r);
	}
	pthread_mutex_unlock(&hs->lock);
	if (hs->plain)
		MHD_stop_daemon(hs->plain);
	if (hs->tls)
		MHD_stop_daemon(hs->tls);
	tls_live_free();
	http_guard_free(hs->guard); /* MHD released every connection on stopping */
	free(hs->cert);
	free(hs->key);
	pthread_mutex_destroy(&hs->lock);
	free(hs);
}
