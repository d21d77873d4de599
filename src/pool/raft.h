/* pool_raft: the store's transactions replicated by Raft (libraft, with
 * its libuv I/O and TCP transport) among the hosts of a pool.
 *
 * A node runs its libuv loop on a thread of its own. The entries of the
 * log are store transactions as durable_entry_encode writes them; every
 * node, the leader included, applies each committed entry to its store
 * (memory, events and SQLite) with db_apply_entry, in log order, on that
 * thread. pool_raft_submit hands an entry to the leader and returns once
 * Raft has committed it and this node has applied it.
 *
 * Writes on a pooled host: the daemon registers pool_raft_replicate and
 * pool_raft_replicate_async as the store's replicator (struct
 * db_replicator), so db_commit on the leader queues each transaction in
 * the log with the store's write lock held, releases the lock and
 * acknowledges it once committed: the next transactions go into the log
 * while earlier ones commit (libraft writes them with one sync), readers
 * wait until nothing is pending, and the store settles pending commits in
 * log order (db.h). One path applies each entry once:
 * the leader's own entries are in its store already (db_commit made them
 * in memory and writes them to SQLite after the commit), and its FSM
 * skips the entries it is waiting for (entries carry a header naming the
 * process that made them and their number there); every other node, and
 * the leader for entries made under earlier leaders, applies entries with
 * db_apply_entry (a transaction marked as coming from the log, which is
 * not replicated again). A new leader accepts writes only once a barrier
 * has applied every entry of earlier terms, and pool_raft_submit's
 * entries go in only when no own entry is pending, so no other entry is
 * applied on a leader's store between its own pending ones. A write on another node fails with
 * HOST_IS_SLAVE and the leader's address.
 *
 * Snapshots are the SQLite database (an image read in one transaction);
 * a node that is behind installs one as a single transaction from the log
 * (db_install_image). Each entry's index is written to SQLite with its
 * rows, so a restarted node skips the entries its SQLite holds.
 *
 * Roles: pool_raft_voters_for gives the number of voters (the rest are
 * standbys); the leader keeps it, promoting a standby in place of a voter
 * silent for voter_timeout_ms. pool_raft_transfer moves the leadership.
 * When the master's majority is gone for good (a pool of two whose master
 * died), pool_raft_recover_alone makes a node the only member and
 * pool_raft_reset empties a node (the old master) to be added again. The
 * transport closes connections from servers outside the configuration,
 * so an old master back with its own history cannot reach the new one;
 * it makes the outgoing connections itself (libraft's handshake, an
 * attempt bounded in time) and gives every connection TCP timeouts, so a
 * peer back from a network partition is reached again within about two
 * seconds, not at TCP's next backed-off retransmission.
 *
 * Not there yet: removing members; reads are served by a leader until
 * libraft steps it down (about an election timeout after it lost its
 * majority), with no lease, so a client that still reaches a deposed
 * leader in that window may read a value a newer leader has replaced.
 * A caller of pool_raft_submit must not hold the store's write lock:
 * applying takes it. The
 * process must ignore SIGPIPE (xenond does): the transport writes to peers
 * that may have gone. */
#ifndef XENON_POOL_RAFT_H
#define XENON_POOL_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../base/xerr.h"

struct db;
struct pool_raft;

#define POOL_ADDR_MAX 128
#define POOL_MAX_MEMBERS 16

struct pool_raft_peer {
	uint64_t id;         /* > 0, unique in the pool */
	const char *address; /* host:port of its Raft transport */
};

struct pool_raft_config {
	uint64_t id;
	const char *address; /* this node's host:port (one of peers when bootstrapping) */
	const char *dir;     /* its Raft log (created if missing) */
	struct db *db;       /* where committed entries are applied */
	const char *db_path; /* its SQLite file, whose images are the snapshots (NULL: none) */
	unsigned snapshot_threshold; /* entries between snapshots; 0: 4096 */
	unsigned snapshot_trailing;  /* entries kept in the log after one; 0: 1024 */
	/* the voters of the first configuration; ignored when dir holds a log */
	const struct pool_raft_peer *peers;
	size_t npeers;
	unsigned election_timeout_ms; /* 0: 500 */
	unsigned voter_timeout_ms;    /* a voter silent this long is replaced by a standby; 0: 10 s */
	unsigned heartbeat_ms;        /* 0: 100 */
};

struct pool_raft *pool_raft_start(const struct pool_raft_config *c, struct xerr *err);
/* Stops the node (its peers see it gone) and frees it. */
void pool_raft_stop(struct pool_raft *p);

enum pool_submit_result {
	POOL_SUBMIT_OK = 0,
	POOL_SUBMIT_NOT_LEADER = 1, /* leader's address in leader (empty when none is known) */
	POOL_SUBMIT_FAILED = -1,    /* err says why; the entry may or may not commit later */
};

/* Submits one entry; blocks until committed and applied here. */
enum pool_submit_result pool_raft_submit(struct pool_raft *p, const void *entry, size_t len,
					 char leader[POOL_ADDR_MAX], struct xerr *err);

/* The store's replicator (struct db_replicator's replicate, arg the node):
 * submits an entry already applied to this node's store and waits for its
 * commit; on a node not leading: -1 with HOST_IS_SLAVE [leader's host]. */
int pool_raft_replicate(void *arg, const char *entry, size_t len, struct xerr *err);

/* The store's pipelined replicator (struct db_replicator's submit): on
 * the leader, queues an entry already applied to this node's store and
 * returns 1; its outcome is reported with db_pend_complete from the loop
 * thread once committed (with its index) or failed. An own entry that
 * fails fails every own entry queued after it (they were made on its
 * changes). Not leading: -1 with HOST_IS_SLAVE [leader's host]. */
struct db_pend;
int pool_raft_replicate_async(void *arg, const char *entry, size_t len, struct db_pend *pd,
			      struct xerr *err);

/* On the leader: adds a node (raft_add) and makes it a voter or a standby
 * (raft_assign); blocks until the configuration change commits. */
int pool_raft_add_member(struct pool_raft *p, uint64_t id, const char *address, bool voter,
			 struct xerr *err);
/* Voters in the configuration this node knows. */
unsigned pool_raft_voters(struct pool_raft *p);

/* How many of a pool's members vote: every one up to 3, 5 from 5, and
 * in a pool of two only the first (the master; the other is a standby
 * holding the log). A new pool's first configuration gives the first ones
 * of its peers the vote; the leader keeps the count as members come and
 * go, promoting a standby in place of a voter silent for voter_timeout_ms
 * (configuration changes through libraft, one at a time). */
unsigned pool_raft_voters_for(unsigned members);

/* The configuration as this node knows it; match is the last entry the
 * leader knows the member holds (0 on other nodes); quiet_ms, on the
 * leader, the time since it last heard from the member (0 for itself,
 * UINT64_MAX on other nodes or before the leader has watched it). */
struct pool_raft_member {
	uint64_t id;
	char address[POOL_ADDR_MAX];
	bool voter;
	uint64_t match;
	uint64_t quiet_ms;
};
unsigned pool_raft_members(struct pool_raft *p, struct pool_raft_member *out, unsigned max);
/* The last entry this node knows committed. */
uint64_t pool_raft_commit_index(struct pool_raft *p);

/* On the leader: hands the leadership to voter id (libraft's transfer) and
 * waits until it has moved or the attempt timed out (an election timeout);
 * true once id leads. */
bool pool_raft_transfer(struct pool_raft *p, uint64_t id, struct xerr *err);

/* True when a leader is known and this node heard from it within two
 * election timeouts (or leads). */
bool pool_raft_leader_heard(struct pool_raft *p);

/* Emergency transition (a pool that lost its master's majority for good,
 * e.g. a pool of two whose master is gone): restarts this node with a
 * configuration of itself alone (libraft's raft_recover), so it leads at
 * once; the members left out are remembered (pool_raft_former). */
int pool_raft_recover_alone(struct pool_raft *p, struct xerr *err);
/* Emergency reset (an old master told another host leads now): drops this
 * node's log and snapshots, forgets the log index in SQLite, and restarts
 * it empty, never bootstrapping the configured peers again, until a
 * leader adds it (its image then replaces this store). */
int pool_raft_reset(struct pool_raft *p, struct xerr *err);
/* The members an emergency transition left out, until forgotten (added
 * back by the master's pool.recover_slaves). */
unsigned pool_raft_former(struct pool_raft *p, struct pool_raft_member *out, unsigned max);
void pool_raft_forget_former(struct pool_raft *p, uint64_t id);

/* True on the leader once it has applied the entries of earlier terms
 * (it then takes writes). */
bool pool_raft_is_leader(struct pool_raft *p);
/* True on a node elected leader that is still applying the entries of
 * earlier terms (not leader for pool_raft_is_leader yet). */
bool pool_raft_taking_over(struct pool_raft *p);
/* True on the leader while it holds its read lease: no other leader can
 * have been elected, so its store has every committed change. An expired
 * lease is renewed with a barrier; false if that does not commit within
 * timeout_ms or this node does not lead. */
bool pool_raft_confirm(struct pool_raft *p, int timeout_ms);
/* The leader this node knows of: its id (0 if none) and address. */
uint64_t pool_raft_leader(struct pool_raft *p, char address[POOL_ADDR_MAX]);
/* Index of the last entry applied to the store here. */
uint64_t pool_raft_applied(struct pool_raft *p);
/* Waits (at most timeout_ms) until the entry at index is applied here;
 * whether it is. */
bool pool_raft_wait_applied(struct pool_raft *p, uint64_t index, int timeout_ms);

/* What this node did since it started. */
struct pool_raft_stats {
	uint64_t replayed;  /* entries applied to the store from the log */
	uint64_t skipped;   /* entries SQLite held already (applied before a restart) */
	uint64_t snapshots_taken;
	uint64_t snapshots_installed; /* images that replaced the store */
};
void pool_raft_get_stats(struct pool_raft *p, struct pool_raft_stats *st);
/* On the leader: removes a node from the configuration (raft_remove);
 * blocks until the change commits. */
int pool_raft_remove_member(struct pool_raft *p, uint64_t id, struct xerr *err);

#endif
