/* pool_peer: XenAPI calls from this xenond to another host of the pool
 * (JSON-RPC over HTTP, libcurl): the joining host to the master, the
 * master to its members (eject, heartbeats). */
#ifndef XENON_POOL_PEER_H
#define XENON_POOL_PEER_H

#include <stdbool.h>
#include <stddef.h>

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

/* GET path?query (the session first as session_id) from the peer's host,
 * its body given to sink as it comes with the HTTP status (sink returns
 * len to go on, anything else ends it); go_on, asked about once a second
 * and at each piece, ends it by returning false. Returns once the body
 * ended or was ended: PEER_OK, or PEER_UNREACHABLE (err says why). The
 * peer is for calls again afterwards. */
typedef size_t (*peer_sink)(void *arg, long status, const char *data, size_t len);
typedef bool (*peer_go_on)(void *arg);
enum peer_result peer_get_stream(struct peer *p, const char *path, const char *query, peer_sink sink,
				 peer_go_on go_on, void *arg, struct xerr *err);

/* A byte stream to the peer's host: GET path?query (the session first as
 * session_id) asking to upgrade to `upgrade`; on the host's 101 the
 * connection carries raw bytes both ways (peer_raw_*), the peer is for
 * nothing else. PEER_OK; PEER_BAD_ANSWER with the HTTP status in *status
 * and the host's first line of refusal in err; PEER_UNREACHABLE. */
enum peer_result peer_upgrade(struct peer *p, const char *path, const char *query, const char *upgrade,
			      long *status, struct xerr *err);
/* The stream's socket, to poll for input. After it polls readable, read
 * with peer_raw_recv until it answers PEER_RAW_AGAIN (TLS keeps records). */
int peer_raw_fd(struct peer *p);
#define PEER_RAW_AGAIN (-2)
/* Bytes read (> 0), 0 at the end, -1 on an error, PEER_RAW_AGAIN for none yet. */
long peer_raw_recv(struct peer *p, void *buf, size_t n);
/* All of buf sent (waiting as needed): 0, else -1. */
int peer_raw_send(struct peer *p, const void *buf, size_t n);

#endif
