/* console_http: the /console endpoint. Authenticates like the transfer
 * endpoints, finds the console record, and after a 101 bridges the client
 * (raw bytes or RFC 6455 frames) to the VM's serial hub or VNC socket, or,
 * for a VM running on another host of the pool, to that host's /console.
 * CONNECT on the plain port never gets here: console_connect.c answers it
 * with 200 and reuses the lookup and the bridge below. */
#include "console.h"
#include "authlimit.h"
#include "http_guard.h"
#include "rpc.h"
#include "session.h"
#include "url_table.h"
#include "../api/pool_forward.h"
#include "../api/pool_peer.h"
#include "../api/rbac.h"
#include "../api/vm_console.h"
#include "../base/b64.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../db/db.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

struct console_bridge {
	bool ws;
	int vnc;                      /* rfb: the VNC socket, else -1 */
	struct serial_client *serial; /* vt100 */
	struct peer *remote;          /* a VM of another host: its /console there */
	char *remote_query;           /* …upgraded by the bridge's thread (uuid= or ref=) */
	/* the client side, once upgraded */
	int sock;
	struct MHD_UpgradeResponseHandle *urh; /* NULL: sock is ours to close */
	char *extra;
	size_t nextra;
	/* WebSocket input not yet a whole frame */
	unsigned char *in;
	size_t nin;
};

static MHD_RESULT_T text(struct MHD_Connection *c, unsigned status, const char *msg)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(msg), (void *)msg, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "text/plain");
	MHD_RESULT_T ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* ---- the client side ---- */

static int send_all(int fd, const void *p, size_t n)
{
	const char *b = p;
	while (n) {
		ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN) {
			struct pollfd pf = {.fd = fd, .events = POLLOUT};
			poll(&pf, 1, 1000);
			continue;
		}
		if (w <= 0)
			return -1;
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

static int ws_send(int fd, unsigned op, const void *p, size_t n)
{
	unsigned char h[10];
	size_t hl = 2;
	h[0] = (unsigned char)(0x80 | op);
	if (n < 126) {
		h[1] = (unsigned char)n;
	} else if (n < 65536) {
		h[1] = 126;
		h[2] = (unsigned char)(n >> 8);
		h[3] = (unsigned char)n;
		hl = 4;
	} else {
		h[1] = 127;
		for (int i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
		hl = 10;
	}
	return send_all(fd, h, hl) < 0 || send_all(fd, p, n) < 0 ? -1 : 0;
}

static int to_client(struct console_bridge *b, const char *p, size_t n)
{
	return b->ws ? ws_send(b->sock, 2, p, n) : send_all(b->sock, p, n);
}

static int to_guest(struct console_bridge *b, const char *p, size_t n)
{
	if (!n)
		return 0;
	if (b->remote)
		return peer_raw_send(b->remote, p, n);
	return b->serial ? serial_write(b->serial, p, n) : send_all(b->vnc, p, n);
}

/* Client bytes in: raw ones go through; WebSocket frames are unmasked.
 * 1 once the client closed. */
static int from_client(struct console_bridge *b, const char *p, size_t n)
{
	if (!b->ws)
		return to_guest(b, p, n);
	b->in = xrealloc(b->in, b->nin + n);
	memcpy(b->in + b->nin, p, n);
	b->nin += n;
	for (;;) {
		unsigned char *f = b->in;
		if (b->nin < 2)
			return 0;
		unsigned op = f[0] & 0x0f;
		bool masked = f[1] & 0x80;
		uint64_t len = f[1] & 0x7f;
		size_t hl = 2;
		if (len == 126) {
			if (b->nin < 4)
				return 0;
			len = (uint64_t)f[2] << 8 | f[3];
			hl = 4;
		} else if (len == 127) {
			if (b->nin < 10)
				return 0;
			len = 0;
			for (int i = 0; i < 8; i++)
				len = len << 8 | f[2 + i];
			hl = 10;
		}
		if (len > (16u << 20))
			return -1;
		size_t mk = hl;
		if (masked)
			hl += 4;
		if (b->nin < hl + len)
			return 0;
		unsigned char *pl = f + hl;
		if (masked)
			for (uint64_t i = 0; i < len; i++)
				pl[i] ^= f[mk + (i & 3)];
		int rc = 0;
		if (op == 8) {
			ws_send(b->sock, 8, pl, len >= 2 ? 2 : 0);
			rc = 1;
		} else if (op == 9) {
			rc = ws_send(b->sock, 10, pl, (size_t)len);
		} else if (op <= 2) {
			rc = to_guest(b, (char *)pl, (size_t)len);
		}
		memmove(b->in, b->in + hl + len, b->nin - hl - len);
		b->nin -= hl + (size_t)len;
		if (rc)
			return rc;
	}
}

/* What the other host sent, until it has nothing more for now: 0, or
 * nonzero once its stream ended. */
static int from_remote(struct console_bridge *b, char *buf)
{
	for (;;) {
		long n = peer_raw_recv(b->remote, buf, 65536);
		if (n == PEER_RAW_AGAIN)
			return 0;
		if (n <= 0)
			return 1;
		if (to_client(b, buf, (size_t)n) < 0)
			return -1;
	}
}

static void *bridge_main(void *arg)
{
	struct console_bridge *b = arg;
	char *buf = xmalloc(65536);
	int fl = fcntl(b->sock, F_GETFL);
	if (fl >= 0)
		fcntl(b->sock, F_SETFL, fl & ~O_NONBLOCK);
	int rc = 0;
	/* another host's console: asked for here, not on an HTTP thread; a
	 * refusal closes the client's connection (with its reason in a
	 * WebSocket's close frame) */
	if (b->remote) {
		struct xerr err = XERR_INIT;
		long st = 0;
		if (peer_upgrade(b->remote, "/console", b->remote_query, "console", &st, &err) != PEER_OK) {
			log_warn("console: %s on another host: %s", b->remote_query, err.code ? err.code : "?");
			if (b->ws) {
				char why[64];
				int n = snprintf(why, sizeof why, "\x03\xf3%s", err.code ? err.code : "INTERNAL_ERROR");
				ws_send(b->sock, 8, why, (size_t)(n < (int)sizeof why ? n : (int)sizeof why - 1));
			}
			rc = -1;
		}
		xerr_clear(&err);
	}
	if (rc == 0 && b->nextra)
		rc = from_client(b, b->extra, b->nextra);
	/* the other host's bytes already there (after its 101) */
	if (b->remote && rc == 0)
		rc = from_remote(b, buf);
	while (rc == 0) {
		struct pollfd p[2] = {
			{.fd = b->sock, .events = POLLIN},
			{.fd = b->remote ? peer_raw_fd(b->remote) : b->serial ? serial_client_fd(b->serial) : b->vnc,
			 .events = POLLIN},
		};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			ssize_t n = recv(b->sock, buf, 65536, 0);
			if (n <= 0)
				break;
			rc = from_client(b, buf, (size_t)n);
		}
		if (rc == 0 && p[1].revents && b->remote) {
			rc = from_remote(b, buf);
		} else if (rc == 0 && p[1].revents) {
			ssize_t n = b->serial ? serial_read(b->serial, buf, 65536, 0)
					      : recv(b->vnc, buf, 65536, 0);
			if (n < 0 || (n == 0 && !b->serial))
				break;
			if (n > 0)
				rc = to_client(b, buf, (size_t)n);
		}
	}
	free(buf);
	peer_close(b->remote);
	free(b->remote_query);
	if (b->serial)
		serial_detach(b->serial);
	if (b->vnc >= 0)
		close(b->vnc);
	if (b->urh)
		MHD_upgrade_action(b->urh, MHD_UPGRADE_ACTION_CLOSE);
	else
		close(b->sock);
	free(b->extra);
	free(b->in);
	free(b);
	return NULL;
}

void console_bridge_free(struct console_bridge *b)
{
	if (!b)
		return;
	peer_close(b->remote);
	free(b->remote_query);
	if (b->serial)
		serial_detach(b->serial);
	if (b->vnc >= 0)
		close(b->vnc);
	free(b->extra);
	free(b->in);
	free(b);
}

/* Runs the bridge on a thread of its own; false (nothing started) when no
 * thread can be made. */
static bool bridge_spawn(struct console_bridge *b)
{
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	bool ok = pthread_create(&t, &a, bridge_main, b) == 0;
	pthread_attr_destroy(&a);
	return ok;
}

int console_bridge_run(struct console_bridge *b, int sock, const char *extra, size_t nextra)
{
	b->sock = sock;
	b->urh = NULL;
	if (nextra) {
		b->extra = xmalloc(nextra);
		memcpy(b->extra, extra, nextra);
		b->nextra = nextra;
	}
	bridge_main(b);
	return 0;
}

static void upgraded(void *cls, struct MHD_Connection *conn, void *req_cls, const char *extra_in,
		     size_t extra_in_size, MHD_socket sock, struct MHD_UpgradeResponseHandle *urh)
{
	struct console_bridge *b = cls;
	b->sock = sock;
	b->urh = urh;
	if (extra_in_size) {
		b->extra = xmalloc(extra_in_size);
		memcpy(b->extra, extra_in, extra_in_size);
		b->nextra = extra_in_size;
	}
	if (!bridge_spawn(b)) {
		console_bridge_free(b);
		MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
	}
}

/* ---- the request ---- */

int console_auth(struct server *srv, const char *sid, const char *user, const char *pass,
		 const char *peer, struct xerr *err)
{
	struct rpc_ctx ctx;
	memset(&ctx, 0, sizeof ctx);
	ctx.srv = srv;
	ctx.db = srv->db;
	ctx.proto = -1;
	char ref[REF_STRLEN + 1] = "";
	if (sid && pool_session_accept(srv, sid, &ctx)) {
		/* another host of the pool relaying its client's console */
	} else if (sid) {
		if (session_check(srv, sid, &ctx, err) < 0)
			return -1;
	} else {
		if (!user)
			return xerr_set(err, ERR_SESSION_AUTHENTICATION_FAILED, NULL); /* as xapi_http.ml */
		struct session_creds c = {user, pass ? pass : "", "http-basic", peer, 0, false};
		if (session_login(srv, &c, ref, NULL, err) < 0)
			return -1;
		if (session_check(srv, ref, &ctx, err) < 0)
			return -1;
	}
	/* xapi's http/connect_console: vm-operator and above */
	uint32_t need = (SC_ROLE_VM_OPERATOR << 1) - 1;
	int rc = 0;
	if (!ctx.rbac_exempt && !(ctx.roles & need))
		rc = rbac_denied(err, CONSOLE_PERMISSION, need);
	if (ref[0])
		session_logout(srv, ref, NULL);
	return rc;
}

/* session_id (query, then cookie), else HTTP Basic. */
static int authenticate(struct server *srv, struct MHD_Connection *conn, struct xerr *err)
{
	const char *sid = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "session_id");
	if (!sid)
		sid = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, "session_id");
	if (sid)
		return console_auth(srv, sid, NULL, NULL, NULL, err);
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	char peer[AUTH_PEER_LEN];
	authlimit_peer(ci ? ci->client_addr : NULL, peer);
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(conn, &pass);
	int rc = console_auth(srv, NULL, user, pass, peer, err);
	if (user)
		MHD_free(user);
	if (pass)
		MHD_free(pass);
	return rc;
}

static int connect_unix(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return -1;
	strcpy(sa.sun_path, path);
	/* never waits on an HTTP thread: a QEMU that takes no more clients
	 * (its queue full) is a console unavailable now */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int fl;
	if (fd >= 0 && (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || (fl = fcntl(fd, F_GETFL)) < 0 ||
			fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The host of the pool running the VM, when it is another one. */
static bool runs_elsewhere(struct server *srv, const char *vm_uuid, char href[REF_STRLEN + 1])
{
	href[0] = '\0';
	if (!srv->raft)
		return false;
	db_rdlock(srv->db);
	struct db_obj *vm = db_lookup_uuid(srv->db, SC_C_VM, vm_uuid);
	if (vm) {
		const char *ps = db_peek_str(vm, SC_F_VM__power_state);
		const char *on = db_peek_str(vm, SC_F_VM__resident_on);
		if ((!strcmp(ps, "Running") || !strcmp(ps, "Paused")) && strcmp(on, srv->host_ref) &&
		    db_lookup_cls(srv->db, SC_C_host, on))
			snprintf(href, REF_STRLEN + 1, "%s", on);
	}
	db_unlock(srv->db);
	return href[0] != '\0';
}

/* The console of a VM running on another host of the pool: that host's
 * /console under the pool's session, upgraded to raw bytes (by the
 * bridge's thread), which the bridge relays (the page of a pool talks to
 * the master's origin alone). NULL (HOST_OFFLINE) when that host is not
 * live. */
static struct console_bridge *remote_console(struct server *srv, const char *href, const char *uuid,
					     const char *ref, unsigned *status, const char **msg)
{
	struct xerr err = XERR_INIT;
	struct peer *p = pool_peer_for_host(srv, href, &err);
	xerr_clear(&err);
	if (!p) {
		*status = MHD_HTTP_BAD_GATEWAY;
		*msg = "HOST_OFFLINE the VM's host\n";
		return NULL;
	}
	struct strbuf q = STRBUF_INIT;
	sb_puts(&q, uuid ? "uuid=" : "ref=");
	sb_url_encode(&q, uuid ? uuid : ref ? ref : "");
	struct console_bridge *b = xcalloc(1, sizeof *b);
	b->vnc = -1;
	b->sock = -1;
	b->remote = p;
	b->remote_query = sb_detach(&q);
	return b;
}

struct console_bridge *console_bridge_new(struct server *srv, const char *uuid, const char *ref,
					 unsigned *status, const char **msg)
{
	char proto[16] = "", vm_uuid[64] = "";
	struct xerr err = XERR_INIT;
	int found = vm_console_target(srv, uuid, ref, proto, vm_uuid, &err);
	xerr_clear(&err);
	if (found < 0) {
		*status = MHD_HTTP_NOT_FOUND;
		*msg = "HANDLE_INVALID console\n";
		return NULL;
	}
	char there[REF_STRLEN + 1];
	if (runs_elsewhere(srv, vm_uuid, there))
		return remote_console(srv, there, uuid, ref, status, msg);
	char dir[4096];
	snprintf(dir, sizeof dir, "%s/vm/%s", srv->cfg.run_dir, vm_uuid);
	struct console_bridge *b = xcalloc(1, sizeof *b);
	b->vnc = -1;
	b->sock = -1;
	if (!strcmp(proto, "vt100")) {
		b->serial = serial_attach(dir, vm_uuid);
	} else {
		char path[4200];
		snprintf(path, sizeof path, "%s/vnc.sock", dir);
		b->vnc = connect_unix(path);
	}
	if (!b->serial && b->vnc < 0) {
		free(b);
		*status = MHD_HTTP_SERVICE_UNAVAILABLE;
		*msg = "VM_BAD_POWER_STATE console unavailable\n";
		return NULL;
	}
	return b;
}

MHD_RESULT_T console_request(struct server *srv, struct MHD_Connection *conn, const char *method)
{
	const char *up = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Upgrade");
	const char *key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Key");
	enum url_kind kind = url_console_kind(method, up, key);
	if (kind == URL_BAD_METHOD)
		return text(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "CONNECT or GET\n");
	struct xerr err = XERR_INIT;
	if (authenticate(srv, conn, &err) < 0) {
		bool denied = err.code && !strcmp(err.code, ERR_RBAC_PERMISSION_DENIED);
		xerr_clear(&err);
		if (denied)
			return text(conn, MHD_HTTP_FORBIDDEN, "RBAC_PERMISSION_DENIED " CONSOLE_PERMISSION "\n");
		return text(conn, MHD_HTTP_UNAUTHORIZED, "SESSION_AUTHENTICATION_FAILED\n");
	}
	http_guard_trust(conn, (unsigned)srv->cfg.idle_timeout_s);
	const char *uuid = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "uuid");
	const char *ref = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "ref");
	bool ws = kind == URL_CONSOLE_WS;
	unsigned status = 0;
	const char *msg = NULL;
	struct console_bridge *b = console_bridge_new(srv, uuid, ref, &status, &msg);
	if (!b)
		return text(conn, status, msg);
	if (kind == URL_CONSOLE_NO_UPGRADE) {
		console_bridge_free(b);
		return text(conn, MHD_HTTP_BAD_REQUEST, "use CONNECT, a WebSocket or an Upgrade\n");
	}
	b->ws = ws;
	struct MHD_Response *r = MHD_create_response_for_upgrade(upgraded, b);
	if (ws) {
		char buf[128];
		unsigned char sha[20];
		snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
		gnutls_hash_fast(GNUTLS_DIG_SHA1, buf, strlen(buf), sha);
		char *acc = b64_encode(sha, sizeof sha);
		MHD_add_response_header(r, "Upgrade", "websocket");
		MHD_add_response_header(r, "Sec-WebSocket-Accept", acc);
		free(acc);
		const char *sp = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-WebSocket-Protocol");
		if (sp && strstr(sp, "binary"))
			MHD_add_response_header(r, "Sec-WebSocket-Protocol", "binary");
	} else {
		MHD_add_response_header(r, "Upgrade", up ? up : "console");
	}
	/* MHD adds "Connection: Upgrade" to every upgrade response itself */
	MHD_RESULT_T ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, r);
	MHD_destroy_response(r);
	if (ret != MHD_YES) {
		log_warn("console: MHD refused the upgrade");
		console_bridge_free(b);
	}
	return ret;
}
