/* pool_peer: XenAPI calls from this xenond to another host of the pool
 * (JSON-RPC over HTTP, libcurl): the joining host to the master, the
 * master to its members (eject, heartbeats). */
#ifndef XENON_POOL_PEER_H
#define XENON_POOL_PEER_H

#include "../base/xerr.h"
#include "../base/xv.h"

struct peer;

enum peer_result {
	PEER_OK = 0,
	PEER_FAILURE = -1,    /* the peer answered with a XenAPI error (in err) */
	PEER_UNREACHABLE = -2, /* no connection, or it broke (err: internal, says why) */
	PEER_BAD_ANSWER = -3,  /* an HTTP error or a body that is no XenAPI answer */
};

/* address: "IP", "IP:PORT" or "[IPv6]:PORT"; a bare address takes port. */
struct peer *peer_open(const char *address, int port, long timeout_s);
/* The same over TLS to the peer's https port, its public key pinned
 * (tls_cert_pin): a peer with another key is PEER_UNREACHABLE. */
struct peer *peer_open_tls(const char *address, int port, const char *pin, long timeout_s);
void peer_close(struct peer *p);
/* Logs in; later calls carry the session (peer_close logs out). */
enum peer_result peer_login(struct peer *p, const char *user, const char *password, struct xerr *err);
/* Calls carry this session from now on (not logged out by peer_close). */
void peer_set_session(struct peer *p, const char *session);
/* Calls method with args (the session goes first when logged in). */
enum peer_result peer_call(struct peer *p, const char *method, const xv *args, xv *result,
			   struct xerr *err);
/* The same, with string arguments ending in NULL. */
enum peer_result peer_call_strs(struct peer *p, const char *method, xv *result, struct xerr *err, ...)
	__attribute__((sentinel));

#endif
