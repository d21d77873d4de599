/* authlimit: the failure counts of client addresses and the count of
 * authentications under way (see authlimit.h). Only addresses with a
 * failure have a record; the table is bounded, its stalest record making
 * room when it is full. */
#include "authlimit.h"
#include "../base/hmap.h"
#include "../base/mem.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define AUTH_MAX_CONCURRENT 2 /* of the 4 default HTTP threads */
#define AUTH_FREE_FAILURES 3  /* failures before an address is throttled */
#define AUTH_INTERVAL_MS 1000 /* a throttled address's checks start this far apart */
#define AUTH_WINDOW_MS 60000  /* an address quiet this long is forgotten */
#define AUTH_MAX_PEERS 4096
#define AUTH_BUSY_RETRY_MS 10

struct peer_rec {
	char key[AUTH_PEER_LEN];
	int failures;    /* since the last success */
	int64_t last_ms; /* the last failure */
	int64_t next_ms; /* throttled: the earliest start of the next check */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct hmap peers;
static int busy;

/* What inet_ntop gives for an IPv4 address, without its sprintf: this
 * runs for every call. */
static void ipv4_text(const unsigned char a[4], char out[AUTH_PEER_LEN])
{
	char *p = out;
	for (int i = 0; i < 4; i++) {
		unsigned v = a[i];
		if (i)
			*p++ = '.';
		if (v >= 100)
			*p++ = (char)('0' + v / 100);
		if (v >= 10)
			*p++ = (char)('0' + v / 10 % 10);
		*p++ = (char)('0' + v % 10);
	}
	*p = '\0';
}

void authlimit_peer(const struct sockaddr *sa, char out[AUTH_PEER_LEN])
{
	out[0] = '\0';
	if (sa && sa->sa_family == AF_INET) {
		ipv4_text((const unsigned char *)&((const struct sockaddr_in *)sa)->sin_addr, out);
		return;
	}
	if (!sa || sa->sa_family != AF_INET6)
		return;
	struct in6_addr a = ((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(&a)) {
		ipv4_text(&a.s6_addr[12], out);
		return;
	}
	/* one host commonly has a whole /64 to pick from */
	memset(&a.s6_addr[8], 0, 8);
	char text[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &a, text, sizeof text);
	snprintf(out, AUTH_PEER_LEN, "%s/64", text);
}

static void rec_drop(struct peer_rec *p)
{
	hmap_del(&peers, p->key);
	free(p);
}

/* peer's record, or NULL; a record past the window is dropped. */
static struct peer_rec *rec_find(const char *peer, int64_t now)
{
	struct peer_rec *p = hmap_get(&peers, peer);
	if (p && now - p->last_ms > AUTH_WINDOW_MS) {
		rec_drop(p);
		p = NULL;
	}
	return p;
}

/* Makes room for one record: drops those past the window, else the one
 * that failed longest ago. */
static void make_room(int64_t now)
{
	struct peer_rec *stalest = NULL;
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&peers, &it, &k, &v);) {
		struct peer_rec *p = v;
		if (now - p->last_ms > AUTH_WINDOW_MS) {
			rec_drop(p); /* deleting leaves a tombstone: iteration goes on */
			continue;
		}
		if (!stalest || p->last_ms < stalest->last_ms)
			stalest = p;
	}
	if (hmap_count(&peers) >= AUTH_MAX_PEERS && stalest)
		rec_drop(stalest);
}

static struct peer_rec *rec_add(const char *peer, int64_t now)
{
	if (hmap_count(&peers) >= AUTH_MAX_PEERS)
		make_room(now);
	struct peer_rec *p = xcalloc(1, sizeof *p);
	snprintf(p->key, sizeof p->key, "%s", peer);
	hmap_put(&peers, p->key, p);
	return p;
}

enum auth_turn authlimit_start(const char *peer, int64_t now, int64_t *retry_ms)
{
	enum auth_turn t = AUTH_GO;
	pthread_mutex_lock(&lock);
	struct peer_rec *p = rec_find(peer, now);
	bool throttled = p && p->failures >= AUTH_FREE_FAILURES;
	if (throttled && now < p->next_ms) {
		t = AUTH_THROTTLED;
		*retry_ms = p->next_ms;
	} else if (busy >= AUTH_MAX_CONCURRENT) {
		t = AUTH_BUSY;
		*retry_ms = now + AUTH_BUSY_RETRY_MS;
	} else {
		busy++;
		if (throttled)
			p->next_ms = now + AUTH_INTERVAL_MS;
	}
	pthread_mutex_unlock(&lock);
	return t;
}

void authlimit_done(const char *peer, bool ok, int64_t now)
{
	pthread_mutex_lock(&lock);
	busy--;
	struct peer_rec *p = rec_find(peer, now);
	if (ok && p) {
		rec_drop(p);
	} else if (!ok) {
		if (!p)
			p = rec_add(peer, now);
		p->failures++;
		p->last_ms = now;
	}
	pthread_mutex_unlock(&lock);
}
