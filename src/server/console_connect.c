/* console_connect: `CONNECT /console?…` on the plain HTTP port, answered as
 * XenServer answers it — "HTTP/1.1 200 OK", then raw bytes both ways.
 * libmicrohttpd only lets a handler take a connection over with a 101, so
 * the acceptor (http_listen.c) hands CONNECT requests here before MHD
 * sees them; the lookup, authentication and bridge are console_http.c's. */
#include "console.h"
#include "url_table.h"
#include "authlimit.h"
#include "http_guard.h"
#include "rpc.h"
#include "../base/httpq.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_MAX 16384

struct conn {
	struct server *srv;
	int fd;
	struct http_guard *guard;
	struct sockaddr_storage addr;
};

/* connections still reading their head: each holds a thread */
static unsigned heads_waiting;

static void send_str(int fd, const char *s)
{
	size_t n = strlen(s);
	while (n) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

static void reply_error(int fd, unsigned status, const char *reason, const char *msg)
{
	char head[256];
	snprintf(head, sizeof head,
		 "HTTP/1.1 %u %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n",
		 status, reason, strlen(msg));
	send_str(fd, head);
	send_str(fd, msg);
}

static const char *reason_of(unsigned status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 503: return "Service Unavailable";
	default: return "Error";
	}
}

/* Reads up to the blank line ending the request's head, which must come
 * whole by deadline (ms, clock_now_ms): its length (the head NUL-terminated
 * in buf), with *n the bytes read in all; -1. */
static ssize_t read_head(int fd, char *buf, size_t max, size_t *n, int64_t deadline)
{
	*n = 0;
	while (*n < max - 1) {
		int64_t left = deadline - clock_now_ms();
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (left <= 0)
			return -1;
		int pr = poll(&p, 1, (int)left);
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -1;
		ssize_t r = recv(fd, buf + *n, max - 1 - *n, MSG_DONTWAIT);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			return -1;
		*n += (size_t)r;
		buf[*n] = '\0';
		char *e = strstr(buf, "\r\n\r\n");
		if (e) {
			e[2] = '\0'; /* keeps the last header's CRLF for header() */
			return e + 4 - buf;
		}
	}
	return -1;
}

static void serve(struct server *srv, int fd)
{
	char *buf = xmalloc(HEAD_MAX);
	size_t n;
	ssize_t hl = read_head(fd, buf, HEAD_MAX, &n, clock_now_ms() + (int64_t)srv->cfg.request_timeout_s * 1000);
	__atomic_sub_fetch(&heads_waiting, 1, __ATOMIC_SEQ_CST);
	char *target = NULL, *uuid = NULL, *ref = NULL, *sid = NULL, *cookie = NULL, *authz = NULL;
	char *user = NULL, *pass = NULL;
	if (hl < 0) {
		reply_error(fd, 400, reason_of(400), "bad request\n");
		goto done;
	}
	/* CONNECT <target> HTTP/1.x */
	char *sp1 = strchr(buf, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	if (!sp2 || strncmp(sp2 + 1, "HTTP/1.", 7)) {
		reply_error(fd, 400, reason_of(400), "bad request\n");
		goto done;
	}
	target = xasprintf("%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
	char *q = strchr(target, '?');
	if (q)
		*q++ = '\0';
	if (url_lookup("CONNECT", target).kind != URL_CONSOLE) {
		reply_error(fd, 404, reason_of(404), "not found\n");
		goto done;
	}
	uuid = httpq_query_arg(q, "uuid");
	ref = httpq_query_arg(q, "ref");
	sid = httpq_query_arg(q, "session_id");
	if (!sid && (cookie = httpq_header(buf, "Cookie")))
		sid = httpq_cookie_session(cookie);
	if (!sid) {
		authz = httpq_header(buf, "Authorization");
		httpq_basic_auth(authz, &user, &pass);
	}
	struct sockaddr_storage sa;
	socklen_t salen = sizeof sa;
	char peer[AUTH_PEER_LEN];
	authlimit_peer(getpeername(fd, (struct sockaddr *)&sa, &salen) == 0 ? (struct sockaddr *)&sa : NULL,
		       peer);
	struct xerr err = XERR_INIT;
	if (console_auth(srv, sid, user, pass, peer, &err) < 0) {
		bool denied = err.code && !strcmp(err.code, ERR_RBAC_PERMISSION_DENIED);
		xerr_clear(&err);
		if (denied)
			reply_error(fd, 403, reason_of(403), "RBAC_PERMISSION_DENIED " CONSOLE_PERMISSION "\n");
		else
			reply_error(fd, 401, reason_of(401), "SESSION_AUTHENTICATION_FAILED\n");
		goto done;
	}
	unsigned status = 0;
	const char *msg = NULL;
	struct console_bridge *b = console_bridge_new(srv, uuid, ref, &status, &msg);
	if (!b) {
		reply_error(fd, status, reason_of(status), msg);
		goto done;
	}
	/* xapi's Http.http_200_ok */
	send_str(fd, "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n"
		     "Cache-Control: no-cache, no-store\r\n\r\n");
	console_bridge_run(b, fd, buf + hl, n - (size_t)hl);
	fd = -1;
done:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(target);
	free(uuid);
	free(ref);
	free(sid);
	free(cookie);
	free(authz);
	free(user);
	free(pass);
}

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	serve(c->srv, c->fd);
	http_guard_release(c->guard, (struct sockaddr *)&c->addr);
	free(c);
	return NULL;
}

void console_connect_serve(struct server *srv, int fd, struct http_guard *guard,
			   const struct sockaddr_storage *addr)
{
	if (__atomic_add_fetch(&heads_waiting, 1, __ATOMIC_SEQ_CST) > CONSOLE_HEADS_MAX) {
		__atomic_sub_fetch(&heads_waiting, 1, __ATOMIC_SEQ_CST);
		reply_error(fd, 503, reason_of(503), "too many console connections\n");
		close(fd);
		http_guard_release(guard, (const struct sockaddr *)addr);
		return;
	}
	struct conn *c = xmalloc(sizeof *c);
	c->srv = srv;
	c->fd = fd;
	c->guard = guard;
	c->addr = *addr;
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, conn_main, c) != 0) {
		log_warn("console: no thread for a CONNECT request");
		__atomic_sub_fetch(&heads_waiting, 1, __ATOMIC_SEQ_CST);
		close(fd);
		http_guard_release(guard, (const struct sockaddr *)addr);
		free(c);
	}
	pthread_attr_destroy(&a);
}
