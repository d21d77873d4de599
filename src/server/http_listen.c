/* http_listen: the daemon's listening sockets, owned here rather than by
 * libmicrohttpd. Three reasons: host.restart_agent re-executes xenond and
 * hands the sockets over (clients queue in the backlog instead of being
 * refused while the new image starts); every connection, on either port,
 * is admitted by the guard (http_guard.c) before MHD sees it, so MHD never
 * reaches its own connection limit; and on the plain port every new
 * connection is peeked at (MSG_PEEK) so that CONNECT — which XenServer
 * answers with 200, something MHD cannot — is served by console_connect.c
 * while everything else goes to MHD with MHD_add_connection. */
#include "http_listen.h"
#include "console.h"
#include "http_guard.h"
#include "rpc.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


int http_parse_listen(const char *spec, struct sockaddr_in *sa)
{
	const char *colon = strrchr(spec, ':');
	if (!colon)
		return -1;
	char host[64];
	snprintf(host, sizeof host, "%.*s", (int)(colon - spec), spec);
	memset(sa, 0, sizeof *sa);
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (!host[0] || strcmp(host, "*") == 0)
		sa->sin_addr.s_addr = htonl(INADDR_ANY);
	else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -1;
	return 0;
}

/* The socket an earlier image of this daemon left in env_name, when it is
 * still a listening socket bound where spec says; else -1. */
static int inherited(const char *env_name, const struct sockaddr_in *want)
{
	const char *v = getenv(env_name);
	if (!v)
		return -1;
	int fd = atoi(v);
	unsetenv(env_name); /* nothing started from here sees it */
	struct sockaddr_in have;
	socklen_t len = sizeof have;
	int listening = 0;
	socklen_t ll = sizeof listening;
	if (fd < 3 || getsockname(fd, (struct sockaddr *)&have, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ll) < 0 || !listening ||
	    have.sin_family != AF_INET || have.sin_port != want->sin_port ||
	    have.sin_addr.s_addr != want->sin_addr.s_addr) {
		log_warn("http: ignoring inherited socket %s=%s (not listening on the configured address)",
			 env_name, v);
		if (fd >= 3)
			close(fd);
		return -1;
	}
	fcntl(fd, F_SETFD, FD_CLOEXEC);
	log_info("http: took over the listening socket (fd %d) of the previous image", fd);
	return fd;
}

int http_listen_open(const char *spec, const char *env_name, struct xerr *err)
{
	struct sockaddr_in sa;
	if (http_parse_listen(spec, &sa) < 0)
		return xerr_internal(err, "bad listen address '%s'", spec);
	int fd = inherited(env_name, &sa);
	if (fd >= 0)
		return fd;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 512) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return xerr_internal(err, "cannot listen on %s: %s", spec, strerror(e));
	}
	return fd;
}

/* ---- the acceptor ---- */

#define BACKOFF_MS 100 /* out of descriptors: accept again after this */

struct pending {
	int fd;
	struct sockaddr_storage addr;
	socklen_t len;
	int64_t since;
	bool partial; /* some bytes, a prefix of "CONNECT ": checked on a timer, as
		       * poll would report the peeked bytes again at once */
};

struct http_acceptor {
	struct server *srv;
	struct MHD_Daemon *mhd;
	struct http_guard *guard;
	bool peek_connect; /* the plain port: CONNECT is ours */
	unsigned silent_ms;  /* a client that sends nothing this long is closed */
	int lfd, wake;
	pthread_t thread;
	struct pending *p;
	size_t n;
	int64_t backoff_until;
};

static void to_mhd(struct http_acceptor *a, struct pending *c)
{
	/* MHD's epoll mode wants non-blocking sockets. MHD closes the socket
	 * itself when it cannot take it, and only connections it took are
	 * released by its close notification. The guard keeps the count far
	 * below MHD's limit, whose refusal path MHD 0.9.75 leaves locked. */
	int fl = fcntl(c->fd, F_GETFL);
	if (fl >= 0)
		fcntl(c->fd, F_SETFL, fl | O_NONBLOCK);
	if (MHD_add_connection(a->mhd, c->fd, (struct sockaddr *)&c->addr, c->len) != MHD_YES) {
		log_warn("http: the server did not take a new connection");
		http_guard_release(a->guard, (struct sockaddr *)&c->addr);
	}
}

/* What the first bytes say: 1 CONNECT, 0 anything else, -1 wait for
 * more, -2 the client left. */
static int classify(int fd)
{
	static const char want[] = "CONNECT ";
	char buf[sizeof want - 1];
	ssize_t n = recv(fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? -1 : -2;
	if (n == 0)
		return -2;
	if (memcmp(buf, want, (size_t)n) != 0)
		return 0;
	return (size_t)n == sizeof buf ? 1 : -1;
}

static void drop_pending(struct http_acceptor *a, size_t i)
{
	a->p[i] = a->p[--a->n];
}

static void refuse(struct http_acceptor *a, int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
				   "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";
	if (a->peek_connect && send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		log_debug("http: refusing a connection: %s", strerror(errno));
	close(fd);
}

static void accept_new(struct http_acceptor *a)
{
	for (;;) {
		struct pending c = {.len = sizeof c.addr};
		c.fd = accept4(a->lfd, (struct sockaddr *)&c.addr, &c.len, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (c.fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				log_warn("http: cannot accept: %s", strerror(errno));
				a->backoff_until = clock_now_ms() + BACKOFF_MS;
			}
			return; /* EAGAIN, or a client gone before accept */
		}
		if (!http_guard_admit(a->guard, (struct sockaddr *)&c.addr)) {
			refuse(a, c.fd);
			continue;
		}
		c.since = clock_now_ms();
		if (!a->peek_connect) {
			to_mhd(a, &c);
			continue;
		}
		/* accept4's SOCK_NONBLOCK only served the peek loop */
		fcntl(c.fd, F_SETFL, fcntl(c.fd, F_GETFL) & ~O_NONBLOCK);
		a->p = xrealloc(a->p, (a->n + 1) * sizeof *a->p);
		a->p[a->n++] = c;
	}
}

/* Decides the pending connections that have something to say, or have
 * been silent too long. */
static void look_pending(struct http_acceptor *a, const struct pollfd *pf, size_t polled)
{
	int64_t now = clock_now_ms();
	/* from the end, so dropping (swap with the last) keeps indexes */
	for (size_t i = polled; i-- > 0;) {
		struct pending *c = &a->p[i];
		bool look = pf[i].revents || c->partial;
		int k = look ? classify(c->fd) : -1;
		if (k == -1 && look)
			c->partial = true;
		if (k == -1 && now - c->since >= a->silent_ms)
			k = -2;
		if (k == -1)
			continue;
		if (k == 1) {
			console_connect_serve(a->srv, c->fd, a->guard, &c->addr);
		} else if (k == 0) {
			to_mhd(a, c);
		} else {
			close(c->fd);
			http_guard_release(a->guard, (struct sockaddr *)&c->addr);
		}
		drop_pending(a, i);
	}
}

static void *acceptor_main(void *arg)
{
	struct http_acceptor *a = arg;
	struct pollfd *pf = NULL;
	for (;;) {
		pf = xrealloc(pf, (a->n + 2) * sizeof *pf);
		int64_t now = clock_now_ms();
		bool backoff = now < a->backoff_until;
		pf[0] = (struct pollfd){.fd = a->wake, .events = POLLIN};
		pf[1] = (struct pollfd){.fd = a->lfd, .events = backoff ? 0 : POLLIN};
		bool partial = false;
		for (size_t i = 0; i < a->n; i++) {
			pf[i + 2] = (struct pollfd){.fd = a->p[i].fd,
						    .events = a->p[i].partial ? 0 : POLLIN};
			partial |= a->p[i].partial;
		}
		size_t polled = a->n;
		int timeout = partial ? 20 : backoff ? BACKOFF_MS : a->n ? 500 : -1;
		if (poll(pf, polled + 2, timeout) < 0 && errno != EINTR)
			break;
		if (pf[0].revents)
			break;
		look_pending(a, pf + 2, polled);
		if (pf[1].revents)
			accept_new(a);
	}
	free(pf);
	return NULL;
}

struct http_acceptor *http_acceptor_start(struct server *srv, int lfd, struct MHD_Daemon *mhd,
					  struct http_guard *guard, bool peek_connect,
					  unsigned silent_s, struct xerr *err)
{
	struct http_acceptor *a = xcalloc(1, sizeof *a);
	a->srv = srv;
	a->mhd = mhd;
	a->guard = guard;
	a->peek_connect = peek_connect;
	a->silent_ms = silent_s * 1000;
	a->lfd = lfd;
	a->wake = eventfd(0, EFD_CLOEXEC);
	int fl = fcntl(lfd, F_GETFL);
	fcntl(lfd, F_SETFL, fl | O_NONBLOCK);
	if (a->wake < 0 || pthread_create(&a->thread, NULL, acceptor_main, a) != 0) {
		if (a->wake >= 0)
			close(a->wake);
		free(a);
		xerr_internal(err, "cannot start the HTTP acceptor");
		return NULL;
	}
	return a;
}

int http_acceptor_stop(struct http_acceptor *a)
{
	if (!a)
		return -1;
	uint64_t one = 1;
	if (write(a->wake, &one, sizeof one) < 0)
		log_warn("http: cannot wake the acceptor: %s", strerror(errno));
	pthread_join(a->thread, NULL);
	for (size_t i = 0; i < a->n; i++) {
		close(a->p[i].fd); /* never answered: the client sees a reset and retries */
		http_guard_release(a->guard, (struct sockaddr *)&a->p[i].addr);
	}
	int lfd = a->lfd;
	close(a->wake);
	free(a->p);
	free(a);
	return lfd;
}
