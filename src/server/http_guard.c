/* http_guard: connection admission and the deadline of requests that have
 * not authenticated (see http_guard.h). Caps are counted from accept to
 * close, so a client cannot hold more slots than its share whatever it
 * sends; an overdue connection is shut down (not closed: MHD still owns
 * the descriptor and closes it when its read sees the end). */
#include "http_guard.h"
#include "rpc.h"
#include "../base/clock.h"
#include "../base/hmap.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct addr_count {
	char key[INET6_ADDRSTRLEN];
	unsigned n;
};

/* One connection MHD holds: in the guard's list while it is open. */
struct guarded {
	struct http_guard *g;
	int fd;
	bool trusted, timed, shut;
	int64_t since; /* start of the request being awaited, when timed */
	struct guarded *next, *prev;
};

struct http_guard {
	struct http_guard_limits lim;
	pthread_mutex_t lock;
	struct hmap by_addr; /* address → struct addr_count */
	unsigned total;
	struct guarded *conns;
};

struct http_guard *http_guard_new(const struct http_guard_limits *lim)
{
	struct http_guard *g = xcalloc(1, sizeof *g);
	g->lim = *lim;
	pthread_mutex_init(&g->lock, NULL);
	hmap_init(&g->by_addr);
	return g;
}

void http_guard_free(struct http_guard *g)
{
	if (!g)
		return;
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&g->by_addr, &it, &k, &v);)
		free(v);
	hmap_free(&g->by_addr);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

static void addr_key(const struct sockaddr *sa, char *out)
{
	const void *a = NULL;
	if (sa && sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa && sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (!a || !inet_ntop(sa->sa_family, a, out, INET6_ADDRSTRLEN))
		snprintf(out, INET6_ADDRSTRLEN, "?");
}

bool http_guard_admit(struct http_guard *g, const struct sockaddr *sa)
{
	char key[INET6_ADDRSTRLEN];
	addr_key(sa, key);
	pthread_mutex_lock(&g->lock);
	struct addr_count *ac = hmap_get(&g->by_addr, key);
	bool ok = g->total < g->lim.max_conns && (!ac || ac->n < g->lim.max_per_addr);
	if (ok) {
		if (!ac) {
			ac = xcalloc(1, sizeof *ac);
			memcpy(ac->key, key, sizeof ac->key);
			hmap_put(&g->by_addr, ac->key, ac);
		}
		ac->n++;
		g->total++;
	}
	pthread_mutex_unlock(&g->lock);
	return ok;
}

void http_guard_release(struct http_guard *g, const struct sockaddr *sa)
{
	char key[INET6_ADDRSTRLEN];
	addr_key(sa, key);
	pthread_mutex_lock(&g->lock);
	struct addr_count *ac = hmap_get(&g->by_addr, key);
	if (ac && ac->n > 0 && g->total > 0) {
		g->total--;
		if (--ac->n == 0)
			free(hmap_del(&g->by_addr, key));
	} else {
		log_warn("http: a connection from %s released twice", key);
	}
	pthread_mutex_unlock(&g->lock);
}

unsigned http_guard_count(struct http_guard *g)
{
	pthread_mutex_lock(&g->lock);
	unsigned n = g->total;
	pthread_mutex_unlock(&g->lock);
	return n;
}

static void list_del(struct http_guard *g, struct guarded *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		g->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

void http_guard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
		       enum MHD_ConnectionNotificationCode code)
{
	struct http_guard *g = cls;
	if (code == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fi =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		struct guarded *c = xcalloc(1, sizeof *c);
		c->g = g;
		c->fd = fi ? fi->connect_fd : -1;
		c->timed = true;
		c->since = clock_now_ms();
		pthread_mutex_lock(&g->lock);
		c->next = g->conns;
		if (g->conns)
			g->conns->prev = c;
		g->conns = c;
		pthread_mutex_unlock(&g->lock);
		*socket_context = c;
		return;
	}
	/* MHD closes the descriptor after this returns: under the lock the
	 * sweep cannot be shutting it down meanwhile */
	struct guarded *c = *socket_context;
	if (c) {
		pthread_mutex_lock(&g->lock);
		list_del(g, c);
		pthread_mutex_unlock(&g->lock);
		free(c);
		*socket_context = NULL;
	}
	const union MHD_ConnectionInfo *ai =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	http_guard_release(g, ai ? ai->client_addr : NULL);
}

static struct guarded *guarded_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *i =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	return i ? i->socket_context : NULL;
}

void http_guard_request_read(struct MHD_Connection *conn)
{
	struct guarded *c = guarded_of(conn);
	if (!c)
		return;
	pthread_mutex_lock(&c->g->lock);
	c->timed = false;
	pthread_mutex_unlock(&c->g->lock);
}

void http_guard_request_done(struct MHD_Connection *conn)
{
	struct guarded *c = guarded_of(conn);
	if (!c)
		return;
	pthread_mutex_lock(&c->g->lock);
	if (!c->trusted) {
		c->timed = true;
		c->since = clock_now_ms();
	}
	pthread_mutex_unlock(&c->g->lock);
}

void http_guard_trust(struct MHD_Connection *conn, unsigned idle_timeout_s)
{
	struct guarded *c = guarded_of(conn);
	if (!c || c->trusted)
		return;
	pthread_mutex_lock(&c->g->lock);
	c->trusted = true;
	c->timed = false;
	pthread_mutex_unlock(&c->g->lock);
	MHD_set_connection_option(conn, MHD_CONNECTION_OPTION_TIMEOUT, idle_timeout_s);
}

unsigned http_guard_sweep(struct http_guard *g, int64_t now)
{
	unsigned n = 0;
	int64_t limit = (int64_t)g->lim.untrusted_timeout_s * 1000;
	pthread_mutex_lock(&g->lock);
	for (struct guarded *c = g->conns; c; c = c->next) {
		if (!c->timed || c->trusted || c->shut || now - c->since < limit || c->fd < 0)
			continue;
		shutdown(c->fd, SHUT_RDWR);
		c->shut = true;
		n++;
	}
	pthread_mutex_unlock(&g->lock);
	if (n)
		log_info("http: %u connection(s) sent no whole request in %us: closed", n,
			 g->lim.untrusted_timeout_s);
	return n;
}
