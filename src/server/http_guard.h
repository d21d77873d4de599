/* http_guard: what one client may hold of the HTTP server. Every accepted
 * connection, on either port, is admitted here against a total cap and a
 * cap per source address, and released when it closes. A connection that
 * has not authenticated must send each whole request within
 * untrusted_timeout_s of the previous one's end (or of its connect), else
 * it is shut down; once a request on it authenticates it is trusted and
 * only libmicrohttpd's idle timeout applies. */
#ifndef XENON_HTTP_GUARD_H
#define XENON_HTTP_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct http_guard_limits {
	unsigned max_conns;         /* on both ports together */
	unsigned max_per_addr;      /* from one source address */
	unsigned untrusted_timeout_s;
};

struct http_guard;
struct http_guard *http_guard_new(const struct http_guard_limits *lim);
void http_guard_free(struct http_guard *g);

/* A new connection from sa: counted and true, or false (over a cap). */
bool http_guard_admit(struct http_guard *g, const struct sockaddr *sa);
/* A connection admitted from sa is gone. */
void http_guard_release(struct http_guard *g, const struct sockaddr *sa);
unsigned http_guard_count(struct http_guard *g);

/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback (cls: the guard):
 * follows each connection MHD holds, and releases it when MHD closes it. */
void http_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
		       enum MHD_ConnectionNotificationCode code);
/* A request on c was read whole (head and body): it is no longer timed. */
void http_guard_request_read(struct MHD_Connection *c);
/* A request on c ended: the next one is timed from now (until trusted). */
void http_guard_request_done(struct MHD_Connection *c);
/* A request on c authenticated: c is trusted from now on. */
void http_guard_trust(struct MHD_Connection *c, unsigned idle_timeout_s);
/* Shuts down every untrusted connection past its deadline; returns how
 * many. Called on a timer. */
unsigned http_guard_sweep(struct http_guard *g, int64_t now_ms);

#endif
