/* authlimit: how fast passwords may be tried. Without it one connection
 * could try about a thousand passwords a second. As in xapi, the answer to
 * a failed login is held back and only a few authentications (PAM, crypt:
 * costly) run at once; beyond xapi, past a few failures from one address
 * (IPv6: its /64) that address's password checks start at most once per
 * AUTH_INTERVAL_MS until a login from it succeeds or it stays quiet for
 * AUTH_WINDOW_MS. Other addresses are not slowed. A caller whose turn has
 * not come parks its call (the RPC transport) or is refused: no thread
 * sleeps through the wait. */
#ifndef XENON_AUTHLIMIT_H
#define XENON_AUTHLIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct sockaddr;

#define AUTH_PEER_LEN 64
/* how long the answer to a failed login is held back */
#define AUTH_FAIL_DELAY_MS 250
/* how long a login may wait for its turn before it is refused */
#define AUTH_MAX_WAIT_MS 5000

/* The key of a client address: its text; IPv4-mapped IPv6 as IPv4, other
 * IPv6 as its /64. "" for NULL or a socket of another family. */
void authlimit_peer(const struct sockaddr *sa, char out[AUTH_PEER_LEN]);

enum auth_turn {
	AUTH_GO,        /* check the password, then call authlimit_done */
	AUTH_BUSY,      /* every authentication slot is taken */
	AUTH_THROTTLED, /* the address failed too often: not its turn yet */
};

/* Whether a password check from peer may start at now (clock_now_ms); when
 * not, *retry_ms is when to ask again. */
enum auth_turn authlimit_start(const char *peer, int64_t now, int64_t *retry_ms);
/* Ends a check authlimit_start let go: frees its slot, and counts a
 * failure against peer or forgets peer's failures. */
void authlimit_done(const char *peer, bool ok, int64_t now);

#endif
