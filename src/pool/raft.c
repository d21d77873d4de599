/* pool_raft (raft.h): a libraft node on a libuv loop of its own. Other
 * threads talk to it through a queue and a uv_async_t: everything that
 * touches struct raft runs on the loop thread. */
#include "raft.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/uuid.h"
#include "../db/db.h"
#include "../db/durable.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <raft.h>
#include <raft/uv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

struct submit {
	struct raft_apply req;
	struct raft_buffer buf;
	struct pool_raft *node;
	struct submit *next;
	uint64_t index; /* where it committed (own entries) */
	bool own; /* the submitter's store holds it already (pool_raft_replicate) */
	struct db_pend *pd; /* pool_raft_replicate_async's: reported there, freed by the loop */
	uint64_t seq;
	int64_t sent_at; /* loop thread: when it went into the log (ms, monotonic) */
	uint64_t term;    /* loop thread: the term it went in under */
	bool done;
	enum pool_submit_result rc;
	char leader[POOL_ADDR_MAX];
	char errmsg[160];
};

/* A committed entry a follower has yet to put into its store. */
struct queued {
	struct queued *next;
	uint64_t index;
	size_t len;
	char data[];
};

/* 'O' (made by db_commit on the leader, already in its store) or 'A'
 * (applied on every host), the maker's nonce and its sequence number. */
#define ENTRY_HDR 17

struct membership {
	struct raft_change req;
	struct pool_raft *node;
	uint64_t id;
	char address[POOL_ADDR_MAX];
	int role;
	int step; /* 0: add, 1: assign */
	bool done;
	int status;
	char errmsg[160];
	struct membership *next;
};

struct pool_raft {
	uint64_t id;
	char address[POOL_ADDR_MAX];
	struct db *db;
	char *db_path;         /* its SQLite file: the snapshots */
	char *dir;             /* its Raft log */
	unsigned election_timeout_ms, heartbeat_ms, snapshot_threshold, snapshot_trailing;
	uint64_t skip_through; /* loop thread: entries up to here are in SQLite already */
	uint64_t last_own;     /* loop thread: index of the last own entry applied */

	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t tick;
	struct raft_uv_transport transport; /* libraft's TCP transport */
	struct raft_uv_transport filter;    /* what libraft's I/O uses: the same, filtered */
	raft_uv_accept_cb accept_cb;
	raft_uv_transport_close_cb filter_close_cb;
	bool filter_closing, transport_closed;
	struct out_connect *connecting; /* outgoing connections being made (filter_connect) */
	unsigned nconnecting;           /* those and the ones whose handles are closing */
	struct raft_io io;
	struct raft_fsm fsm;
	struct raft raft;
	pthread_t thread;
	/* entries carry a header (see ENTRY_HDR): the process that made one
	 * and its number there, so the leader skips its own entry in flight */
	uint64_t nonce;
	uint64_t next_seq;    /* under lock */
	/* loop thread: own entries in the log awaiting commit (in order) */
	struct inflight { uint64_t seq; bool sync; } *inflight;
	size_t ninflight, capinflight;
	uint64_t poison; /* under lock: own entries up to this seq fail (one before failed) */
	struct raft_barrier barrier;
	bool barrier_pending; /* loop thread */
	uint64_t ready_term;  /* loop thread: term whose barrier completed */
	/* the leader's read lease (see pool_raft_confirm): a barrier asked for
	 * by a reader, when it went into the log, the term it was asked in */
	struct raft_barrier lease_req;
	bool lease_pending;     /* loop thread */
	int64_t lease_sent;     /* loop thread */
	uint64_t lease_term;    /* loop thread */
	struct membership *mqueue; /* under lock */
	/* the leader's watch over its voters (loop thread): when each member
	 * was last heard from (at: since this leader began, while never heard) */
	struct seen { raft_id id; uint64_t at; bool heard; } seen[POOL_MAX_MEMBERS];
	unsigned nseen;
	struct raft_change role_change;
	bool role_change_pending;
	raft_id demote_after; /* the voter a promotion replaces, demoted next */
	unsigned voter_timeout_ms;
	uint64_t manual_change_at; /* loop thread: last add_member or transfer asked for */
	/* loop thread, for report_caught_up: the applied index last seen,
	 * when it last moved, and the one reported (+1; 0: none) */
	uint64_t last_seen_applied, applied_moved_at, reported_applied;
	struct raft_transfer transfer;
	bool transfer_pending;
	raft_id transfer_to; /* under lock: asked for by pool_raft_transfer */
	bool transfer_done;  /* under lock */
	bool transfer_refused; /* under lock: libraft refused it */

	pthread_mutex_t lock; /* guards what follows */
	pthread_cond_t cond;
	/* a follower's committed entries, applied to the store in order by
	 * the applier thread (see fsm_apply) */
	struct queued *aq_head, *aq_tail;
	size_t aq_len;
	bool aq_busy; /* the applier holds one taken off the queue */
	bool aq_stop;
	pthread_cond_t aq_cond;
	pthread_t applier;
	struct submit *queue, *queue_tail;
	bool stopping, stopped;
	bool paused; /* between node_close and node_open: nothing is sent to the loop */
	struct pool_raft_member former[POOL_MAX_MEMBERS]; /* left out by an emergency transition */
	unsigned nformer;
	/* the loop thread's view, for other threads */
	bool leader_here;
	bool leading; /* libraft's state is leader, ready or not */
	int64_t lease_until; /* reads are served here until then (ms, monotonic) */
	bool lease_wanted;   /* a reader waits for a barrier */
	uint64_t leader_id;
	char leader_addr[POOL_ADDR_MAX];
	uint64_t applied;
	unsigned nvoters;
	struct pool_raft_member members[POOL_MAX_MEMBERS];
	unsigned nmembers;
	uint64_t commit_index;
	uint64_t leader_quiet_ms; /* on a follower: since it last heard from its leader */
	struct pool_raft_stats stats;
};

/* ---- the state machine: the store ---- */

static struct inflight *inflight_find(struct pool_raft *p, uint64_t seq)
{
	for (size_t i = 0; i < p->ninflight; i++)
		if (p->inflight[i].seq == seq)
			return &p->inflight[i];
	return NULL;
}

static void inflight_add(struct pool_raft *p, uint64_t seq, bool sync)
{
	if (p->ninflight == p->capinflight) {
		p->capinflight = p->capinflight ? 2 * p->capinflight : 16;
		p->inflight = xrealloc(p->inflight, p->capinflight * sizeof *p->inflight);
	}
	p->inflight[p->ninflight++] = (struct inflight){seq, sync};
}

static void inflight_remove(struct pool_raft *p, uint64_t seq)
{
	struct inflight *f = inflight_find(p, seq);
	if (f) {
		memmove(f, f + 1, (size_t)(p->inflight + p->ninflight - f - 1) * sizeof *f);
		p->ninflight--;
	}
}

/* A follower's loop thread never waits for the store's write lock: one of
 * its API threads may hold it while its write goes to the leader, whose
 * commit may need this very node's answer (two voters, or three with one
 * down) - the loop blocked there would answer nothing and the leader step
 * down. Its entries go to the applier thread instead, in order; a leader
 * applies them here (its own writers wait for commits without the lock
 * blocking anything: its loop needs no lock for its own entries) once the
 * queue it may have had as a follower is empty. */
static bool queue_entry(struct pool_raft *p, const unsigned char *data, size_t len, uint64_t index)
{
	pthread_mutex_lock(&p->lock);
	bool queue = raft_state(&p->raft) != RAFT_LEADER || p->aq_head || p->aq_busy;
	if (queue) {
		struct queued *q = xmalloc(sizeof *q + len);
		q->next = NULL;
		q->index = index;
		q->len = len;
		memcpy(q->data, data, len);
		if (p->aq_tail)
			p->aq_tail->next = q;
		else
			p->aq_head = q;
		p->aq_tail = q;
		p->aq_len++;
		pthread_cond_signal(&p->aq_cond);
	}
	pthread_mutex_unlock(&p->lock);
	return queue;
}

static bool queue_idle_locked(const struct pool_raft *p)
{
	return !p->aq_head && !p->aq_busy;
}

static bool queue_idle(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	bool idle = queue_idle_locked(p);
	pthread_mutex_unlock(&p->lock);
	return idle;
}

/* Waits until the applier has emptied the queue (a snapshot's install). */
static void queue_drain(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	while (!queue_idle_locked(p))
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

/* How many queued entries the applier puts into one transaction. */
#define APPLY_BATCH 256

/* Applies what it takes off the queue, all of it at once (one write to
 * SQLite, the store's write lock taken once): a follower that fell behind
 * catches up in a few transactions, not one per entry. An entry that fails
 * fails alone, as in fsm_apply: the batch is then applied one by one. */
static void apply_batch(struct pool_raft *p, struct queued *list, size_t n)
{
	struct db_entry *e = xcalloc(n, sizeof *e);
	size_t i = 0;
	for (struct queued *q = list; q; q = q->next, i++)
		e[i] = (struct db_entry){q->data, q->len, q->index};
	struct xerr err = XERR_INIT;
	size_t ok = n;
	if (db_apply_entries_at(p->db, e, n, &err) < 0) {
		xerr_clear(&err);
		ok = 0;
		for (i = 0; i < n; i++) {
			if (db_apply_entry_at(p->db, e[i].data, e[i].len, e[i].index, &err) == 0)
				ok++;
			else /* it fails on every node alike */
				log_error("pool: applying an entry failed: %s",
					  err.nparams ? err.params[0] : err.code ? err.code : "?");
			xerr_clear(&err);
		}
	}
	pthread_mutex_lock(&p->lock);
	p->stats.replayed += ok;
	p->applied = e[n - 1].index;
	pthread_cond_broadcast(&p->cond); /* pool_raft_wait_applied */
	pthread_mutex_unlock(&p->lock);
	free(e);
}

static void *applier_main(void *arg)
{
	struct pool_raft *p = arg;
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->aq_head && !p->aq_stop)
			pthread_cond_wait(&p->aq_cond, &p->lock);
		struct queued *list = p->aq_head, *last = list;
		if (!list)
			break; /* stopping with nothing left */
		size_t n = 1;
		while (last->next && n < APPLY_BATCH) {
			last = last->next;
			n++;
		}
		p->aq_head = last->next;
		last->next = NULL;
		p->aq_len -= n;
		if (!p->aq_head)
			p->aq_tail = NULL;
		p->aq_busy = true;
		pthread_mutex_unlock(&p->lock);
		apply_batch(p, list, n);
		while (list) {
			struct queued *q = list;
			list = list->next;
			free(q);
		}
		pthread_mutex_lock(&p->lock);
		p->aq_busy = false;
		if (!p->aq_head) {
			pthread_cond_broadcast(&p->cond);
			if (!p->paused && !p->stopping) /* a new leader waits for this */
				uv_async_send(&p->wake);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct pool_raft *p = fsm->data;
	struct xerr e = XERR_INIT;
	*result = NULL;
	/* libraft applies entries in order and counts them applied after this
	 * returns: this is the entry after the last one applied */
	uint64_t index = p->raft.last_applied + 1;
	bool skipped = false, applied = false;
	const unsigned char *b = buf->base;
	uint64_t nonce = 0, seq = 0;
	if (buf->len >= ENTRY_HDR) {
		memcpy(&nonce, b + 1, 8);
		memcpy(&seq, b + 9, 8);
	}
	if (buf->len < ENTRY_HDR || (b[0] != 'O' && b[0] != 'A')) {
		log_error("pool: an entry without its header skipped");
	} else if (b[0] == 'O' && nonce == p->nonce && seq && inflight_find(p, seq)) {
		/* this host's own commit: its store holds it already (db_commit
		 * waits for this very apply, and writes the index to SQLite with
		 * the rows: a synchronous one holds the write lock, a pipelined
		 * one learns the index from the result) */
		if (inflight_find(p, seq)->sync)
			p->db->log_index = index;
		*result = (void *)(uintptr_t)index;
		p->last_own = index;
	} else if (index <= p->skip_through) {
		/* applied before this process started: SQLite holds its rows */
		skipped = true;
	} else if (queue_entry(p, b + ENTRY_HDR, buf->len - ENTRY_HDR, index)) {
		return 0; /* the applier counts it applied */
	} else if (db_apply_entry_at(p->db, (const char *)b + ENTRY_HDR, buf->len - ENTRY_HDR, index, &e) < 0) {
		/* every node applies the same entries: one that fails here fails
		 * everywhere, and the store stays as it was on all of them */
		log_error("pool: applying an entry failed: %s", e.nparams ? e.params[0] : e.code ? e.code : "?");
		xerr_clear(&e);
	} else {
		applied = true;
	}
	pthread_mutex_lock(&p->lock);
	p->stats.skipped += skipped;
	p->stats.replayed += applied;
	p->applied = index;
	pthread_cond_broadcast(&p->cond); /* pool_raft_wait_applied */
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* Snapshots are the SQLite database: an image taken in one read
 * transaction. SQLite must hold every entry applied so far: a leader's own
 * entry is written by its committer after the apply, so while SQLite lags
 * behind the last own entry the snapshot waits for a later apply. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	struct pool_raft *p = fsm->data;
	struct xerr e = XERR_INIT;
	void *image = NULL;
	size_t len = 0;
	uint64_t index = 0;
	if (!p->db_path)
		return RAFT_NOTFOUND;
	if (!queue_idle(p))
		return RAFT_BUSY; /* SQLite lacks entries counted applied */
	if (durable_image(p->db_path, raft_malloc, &image, &len, &index, &e) < 0) {
		log_error("pool: snapshot: %s", e.nparams ? e.params[0] : "?");
		xerr_clear(&e);
		return RAFT_IOERR;
	}
	if (index < p->last_own) {
		raft_free(image);
		return RAFT_BUSY;
	}
	*bufs = raft_malloc(sizeof **bufs);
	if (!*bufs) {
		raft_free(image);
		return RAFT_NOMEM;
	}
	(*bufs)[0].base = image;
	(*bufs)[0].len = len;
	*n = 1;
	pthread_mutex_lock(&p->lock);
	p->stats.snapshots_taken++;
	pthread_mutex_unlock(&p->lock);
	log_info("pool: snapshot at log index %llu (%zu bytes, rows up to %llu)",
		 (unsigned long long)p->raft.last_applied, len, (unsigned long long)index);
	return 0;
}

/* At start-up (the last snapshot on disk) and on a node that is behind
 * (one the leader sent): the store becomes the image unless SQLite holds
 * as much already. */
static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	struct pool_raft *p = fsm->data;
	struct xerr e = XERR_INIT;
	queue_drain(p); /* older entries than the image's */
	db_rdlock(p->db);
	uint64_t have = db_stored_log_index(p->db);
	db_unlock(p->db);
	uint64_t index = 0;
	if (db_install_image(p->db, buf->base, buf->len, have, &index, &e) < 0) {
		log_error("pool: installing a snapshot: %s", e.nparams ? e.params[0] : e.code ? e.code : "?");
		xerr_clear(&e);
		return RAFT_IOERR;
	}
	pthread_mutex_lock(&p->lock);
	if (index > have)
		p->stats.snapshots_installed++;
	pthread_mutex_unlock(&p->lock);
	if (index > have)
		log_info("pool: snapshot installed (rows up to log index %llu)", (unsigned long long)index);
	p->skip_through = index > have ? index : have;
	raft_free(buf->base);
	return 0;
}

/* ---- on the loop thread ---- */

static void drain(struct pool_raft *p);
static void start_transfer(struct pool_raft *p);

static void barrier_done(struct raft_barrier *req, int status)
{
	struct pool_raft *p = req->data;
	p->barrier_pending = false;
	if (status == 0 && raft_state(&p->raft) == RAFT_LEADER)
		p->ready_term = p->raft.current_term;
	drain(p);
}

/* A new leader takes submissions only once every entry of earlier terms is
 * applied: an own entry waits for its commit with the store's write lock
 * held, so no other entry may need applying while it waits. */
static bool leader_ready(struct pool_raft *p)
{
	if (raft_state(&p->raft) != RAFT_LEADER)
		return false;
	if (!queue_idle(p)) /* the applier wakes the loop when done */
		return false;
	if (p->ready_term == p->raft.current_term)
		return true;
	if (!p->barrier_pending) {
		p->barrier.data = p;
		if (raft_barrier(&p->raft, &p->barrier, barrier_done) == 0)
			p->barrier_pending = true;
	}
	return false;
}

/* A leader's read lease. A commit means a majority of voters took a
 * message this leader sent at or after the entry went into the log; none of
 * them grants a vote (libraft's followers refuse every vote while they know
 * a leader, pre-votes too) before its election timer runs out, at least
 * one election timeout after that message. So no other leader exists until
 * sent + election timeout, and until then the store here has every
 * committed change: reads need no round trip. The lease stops short of it
 * (clocks run at slightly different rates) and ends with the term or when a
 * leadership transfer starts (its target is elected without waiting). */
static void extend_lease(struct pool_raft *p, int64_t sent, uint64_t term)
{
	if (raft_state(&p->raft) != RAFT_LEADER || p->raft.current_term != term || p->raft.transfer)
		return;
	int64_t until = sent + (int64_t)p->election_timeout_ms * 8 / 10;
	pthread_mutex_lock(&p->lock);
	if (until > p->lease_until)
		p->lease_until = until;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void lease_done(struct raft_barrier *req, int status)
{
	struct pool_raft *p = req->data;
	p->lease_pending = false;
	if (status == 0)
		extend_lease(p, p->lease_sent, p->lease_term);
	pthread_mutex_lock(&p->lock);
	pthread_cond_broadcast(&p->cond); /* readers look again, led or not */
	pthread_mutex_unlock(&p->lock);
}

/* A barrier for the readers waiting on an expired lease (one at a time),
 * on a leader that takes writes (refresh_view's view, just made). */
static void renew_lease(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	bool wanted = p->lease_wanted, ready = p->leader_here;
	p->lease_wanted = false;
	pthread_mutex_unlock(&p->lock);
	if (!wanted || p->lease_pending || !ready || p->raft.transfer)
		return;
	p->lease_req.data = p;
	p->lease_sent = clock_now_ms();
	p->lease_term = p->raft.current_term;
	if (raft_barrier(&p->raft, &p->lease_req, lease_done) == 0)
		p->lease_pending = true;
}

static void refresh_view(struct pool_raft *p)
{
	raft_id id = 0;
	const char *addr = NULL;
	raft_leader(&p->raft, &id, &addr);
	bool ready = leader_ready(p);
	unsigned voters = 0;
	for (unsigned i = 0; i < p->raft.configuration.n; i++)
		voters += p->raft.configuration.servers[i].role == RAFT_VOTER;
	pthread_mutex_lock(&p->lock);
	p->nmembers = 0;
	for (unsigned i = 0; i < p->raft.configuration.n && i < POOL_MAX_MEMBERS; i++) {
		const struct raft_server *sv = &p->raft.configuration.servers[i];
		struct pool_raft_member *m = &p->members[p->nmembers++];
		m->id = sv->id;
		snprintf(m->address, sizeof m->address, "%s", sv->address);
		m->voter = sv->role == RAFT_VOTER;
		/* progress is gone while libraft steps down (callbacks run then) */
		m->match = raft_state(&p->raft) == RAFT_LEADER && p->raft.leader_state.progress
				   ? p->raft.leader_state.progress[i].match_index
				   : 0;
		m->quiet_ms = UINT64_MAX;
		for (unsigned k = 0; k < p->nseen && raft_state(&p->raft) == RAFT_LEADER; k++)
			if (p->seen[k].id == sv->id)
				m->quiet_ms = uv_now(&p->loop) - p->seen[k].at;
	}
	p->commit_index = p->raft.commit_index;
	/* a follower's election timer restarts at every message from its leader */
	p->leader_quiet_ms = raft_state(&p->raft) == RAFT_FOLLOWER
				     ? uv_now(&p->loop) - p->raft.election_timer_start
				     : 0;
	if (p->raft.last_applied > p->applied && queue_idle_locked(p)) { /* after a snapshot's install */
		p->applied = p->raft.last_applied;
		pthread_cond_broadcast(&p->cond);
	}
	p->nvoters = voters;
	if (!ready || p->raft.transfer)
		p->lease_until = 0;
	bool changed = p->leader_here != ready;
	if (changed) /* readers waiting in pool_raft_confirm */
		pthread_cond_broadcast(&p->cond);
	p->leader_here = ready;
	bool elected = !p->leading && raft_state(&p->raft) == RAFT_LEADER;
	size_t backlog = p->aq_len + p->aq_busy;
	p->leading = raft_state(&p->raft) == RAFT_LEADER;
	p->leader_id = id;
	snprintf(p->leader_addr, sizeof p->leader_addr, "%s", addr ? addr : "");
	pthread_mutex_unlock(&p->lock);
	if (elected)
		log_info("pool: elected leader (term %llu), %zu entries to apply first",
			 (unsigned long long)p->raft.current_term, backlog);
	if (changed)
		log_info("pool: %s (term %llu, leader %llu)", ready ? "this host leads" : "this host no longer leads",
			 (unsigned long long)p->raft.current_term, (unsigned long long)id);
}

static void result_err(enum pool_submit_result rc, const char *leader, const char *msg, struct xerr *err)
{
	if (rc == POOL_SUBMIT_NOT_LEADER) {
		char host[POOL_ADDR_MAX];
		snprintf(host, sizeof host, "%s", leader);
		char *colon = strrchr(host, ':'); /* the master's API is on the same address */
		if (colon)
			*colon = 0;
		xerr_set(err, ERR_HOST_IS_SLAVE, host, NULL);
	} else {
		xerr_internal(err, "pool: %s", msg && msg[0] ? msg : "submit failed");
	}
}

static void finish(struct pool_raft *p, struct submit *s, enum pool_submit_result rc, const char *msg)
{
	if (s->own && rc != POOL_SUBMIT_OK) {
		/* own entries after it were made on its changes: they fail too */
		pthread_mutex_lock(&p->lock);
		p->poison = p->next_seq;
		pthread_mutex_unlock(&p->lock);
	}
	if (s->pd) {
		struct xerr e = XERR_INIT;
		if (rc != POOL_SUBMIT_OK) {
			pthread_mutex_lock(&p->lock);
			char leader[POOL_ADDR_MAX];
			snprintf(leader, sizeof leader, "%s", p->leader_addr);
			pthread_mutex_unlock(&p->lock);
			result_err(rc, leader, msg, &e);
		}
		db_pend_complete(s->pd, rc == POOL_SUBMIT_OK, s->index, &e);
		xerr_clear(&e);
		free(s);
		return;
	}
	pthread_mutex_lock(&p->lock);
	s->rc = rc;
	if (rc == POOL_SUBMIT_NOT_LEADER)
		snprintf(s->leader, sizeof s->leader, "%s", p->leader_addr);
	if (msg)
		snprintf(s->errmsg, sizeof s->errmsg, "%s", msg);
	s->done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void apply_done(struct raft_apply *req, int status, void *result)
{
	struct submit *s = req->data;
	struct pool_raft *p = s->node;
	if (s->own)
		inflight_remove(p, s->seq);
	s->index = (uint64_t)(uintptr_t)result;
	refresh_view(p);
	if (status == 0) {
		extend_lease(p, s->sent_at, s->term);
		finish(p, s, POOL_SUBMIT_OK, NULL);
	} else if (status == RAFT_NOTLEADER || status == RAFT_LEADERSHIPLOST)
		/* lost once in the log: it may still commit under the next leader,
		 * so the caller learns the outcome is unknown (HOST_IS_SLAVE says
		 * the entry was never taken) */
		finish(p, s, POOL_SUBMIT_FAILED, raft_strerror(status));
	else
		finish(p, s, POOL_SUBMIT_FAILED, raft_strerror(status));
}

static void membership_step(struct pool_raft *p, struct membership *m);

static void drain(struct pool_raft *p)
{
	refresh_view(p);
	bool ready = leader_ready(p);
	pthread_mutex_lock(&p->lock);
	bool stopping = p->stopping;
	/* a leader not ready yet keeps them queued; barrier_done drains again */
	bool wait = !stopping && !ready && raft_state(&p->raft) == RAFT_LEADER;
	struct submit *q = wait ? NULL : p->queue;
	if (!wait)
		p->queue = p->queue_tail = NULL;
	struct membership *mq = wait ? NULL : p->mqueue;
	if (!wait)
		p->mqueue = NULL;
	pthread_mutex_unlock(&p->lock);
	while (mq) {
		struct membership *m = mq;
		mq = mq->next;
		if (stopping || !ready) {
			pthread_mutex_lock(&p->lock);
			m->status = stopping ? RAFT_CANCELED : RAFT_NOTLEADER;
			m->done = true;
			pthread_cond_broadcast(&p->cond);
			pthread_mutex_unlock(&p->lock);
			continue;
		}
		membership_step(p, m);
	}
	while (q) {
		struct submit *s = q;
		q = q->next;
		if (stopping) {
			raft_free(s->buf.base);
			finish(p, s, POOL_SUBMIT_FAILED, "the node is stopping");
			continue;
		}
		pthread_mutex_lock(&p->lock);
		bool poisoned = s->own && s->seq <= p->poison;
		pthread_mutex_unlock(&p->lock);
		if (poisoned) {
			raft_free(s->buf.base);
			finish(p, s, POOL_SUBMIT_FAILED, "an earlier write was not committed");
			continue;
		}
		if (!ready) {
			raft_free(s->buf.base);
			finish(p, s, POOL_SUBMIT_NOT_LEADER, NULL);
			continue;
		}
		s->req.data = s;
		s->node = p;
		if (s->own)
			inflight_add(p, s->seq, !s->pd);
		s->sent_at = clock_now_ms();
		s->term = p->raft.current_term;
		int r = raft_apply(&p->raft, &s->req, &s->buf, 1, apply_done);
		if (r != 0) {
			if (s->own)
				inflight_remove(p, s->seq);
			raft_free(s->buf.base);
			finish(p, s, r == RAFT_NOTLEADER ? POOL_SUBMIT_NOT_LEADER : POOL_SUBMIT_FAILED,
			       raft_strerror(r));
		}
	}
}

static void membership_done(struct raft_change *req, int status)
{
	struct membership *m = req->data;
	struct pool_raft *p = m->node;
	if (status == 0 && m->step == 0 && m->role != RAFT_SPARE) {
		m->step = 1;
		membership_step(p, m);
		return;
	}
	pthread_mutex_lock(&p->lock);
	m->status = status;
	if (status)
		snprintf(m->errmsg, sizeof m->errmsg, "%s", raft_strerror(status));
	m->done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void membership_step(struct pool_raft *p, struct membership *m)
{
	p->manual_change_at = uv_now(&p->loop);
	m->req.data = m;
	m->node = p;
	int r = m->step == 2   ? raft_remove(&p->raft, &m->req, m->id, membership_done)
		: m->step == 0 ? raft_add(&p->raft, &m->req, m->id, m->address, membership_done)
			       : raft_assign(&p->raft, &m->req, m->id, m->role, membership_done);
	if (r == RAFT_DUPLICATEID && m->step == 0) { /* already a member: assign its role */
		m->step = 1;
		r = raft_assign(&p->raft, &m->req, m->id, m->role, membership_done);
	}
	if (r != 0) {
		pthread_mutex_lock(&p->lock);
		m->status = r;
		snprintf(m->errmsg, sizeof m->errmsg, "%s (%s)", raft_strerror(r), raft_errmsg(&p->raft));
		m->done = true;
		pthread_cond_broadcast(&p->cond);
		pthread_mutex_unlock(&p->lock);
	}
}

static void on_closed(uv_handle_t *h)
{
	(void)h;
}

static void raft_closed(struct raft *r)
{
	struct pool_raft *p = r->data;
	raft_uv_close(&p->io);
	raft_uv_tcp_close(&p->transport);
	uv_close((uv_handle_t *)&p->wake, on_closed);
	uv_close((uv_handle_t *)&p->tick, on_closed);
}

static void on_wake(uv_async_t *h)
{
	struct pool_raft *p = h->data;
	drain(p);
	renew_lease(p);
	start_transfer(p);
	pthread_mutex_lock(&p->lock);
	bool stop = p->stopping && !p->stopped;
	if (stop)
		p->stopped = true;
	pthread_mutex_unlock(&p->lock);
	if (stop) {
		uv_timer_stop(&p->tick);
		raft_close(&p->raft, raft_closed);
	}
}

unsigned pool_raft_voters_for(unsigned members)
{
	if (members == 2)
		return 1; /* the master alone; the other holds the log */
	if (members <= 3)
		return members;
	return members < 5 ? 3 : 5;
}

static void role_change_done(struct raft_change *req, int status)
{
	struct pool_raft *p = req->data;
	p->role_change_pending = false;
	if (status != 0)
		log_warn("pool: changing a member's role: %s", raft_strerror(status));
	else if (p->demote_after) {
		raft_id id = p->demote_after;
		p->demote_after = 0;
		p->role_change.data = p;
		if (raft_assign(&p->raft, &p->role_change, id, RAFT_STANDBY, role_change_done) == 0) {
			p->role_change_pending = true;
			log_info("pool: member %llu, gone, is a standby now", (unsigned long long)id);
		}
	}
	refresh_view(p);
}

static struct seen *seen_of(struct pool_raft *p, raft_id id)
{
	for (unsigned i = 0; i < p->nseen; i++)
		if (p->seen[i].id == id)
			return &p->seen[i];
	if (p->nseen == POOL_MAX_MEMBERS)
		return NULL;
	p->seen[p->nseen] = (struct seen){id, uv_now(&p->loop), false};
	return &p->seen[p->nseen++];
}

/* On the leader: the voters the pool's size asks for (pool_raft_voters_for),
 * a standby that answers promoted in place of a voter silent for longer
 * than voter_timeout_ms (the silent one then demoted), one change at a time
 * and only through libraft's configuration changes. */
static void keep_voters(struct pool_raft *p)
{
	if (raft_state(&p->raft) != RAFT_LEADER || p->ready_term != p->raft.current_term ||
	    !p->raft.leader_state.progress) {
		p->nseen = 0;
		return;
	}
	uint64_t now = uv_now(&p->loop);
	const struct raft_configuration *c = &p->raft.configuration;
	unsigned members = 0, voters = 0;
	raft_id silent = 0, standby = 0;
	for (unsigned i = 0; i < c->n; i++) {
		const struct raft_server *sv = &c->servers[i];
		if (sv->role == RAFT_SPARE)
			continue;
		members++;
		voters += sv->role == RAFT_VOTER;
		struct seen *w = seen_of(p, sv->id);
		if (!w)
			continue;
		if (sv->id == p->id || p->raft.leader_state.progress[i].recent_recv) {
			w->at = now;
			w->heard = true;
		}
		bool alive = now - w->at < p->voter_timeout_ms;
		if (sv->role == RAFT_VOTER && !alive && !silent)
			silent = sv->id;
		/* a standby that answers: one that joined a moment ago and has
		 * not yet (its daemon still restarting as a member) gets no vote */
		if (sv->role == RAFT_STANDBY && w->heard && now - w->at < 1000 && !standby)
			standby = sv->id;
	}
	unsigned want = pool_raft_voters_for(members);
	if (p->role_change_pending || p->transfer_pending)
		return;
	if (voters > want && now - p->manual_change_at > 3000) {
		/* one vote too many (a standby given it to take the master
		 * over, a pool grown smaller): a silent voter loses it first */
		raft_id extra = silent;
		for (unsigned i = 0; i < c->n && !extra; i++)
			if (c->servers[i].role == RAFT_VOTER && c->servers[i].id != p->id)
				extra = c->servers[i].id;
		p->role_change.data = p;
		if (extra && raft_assign(&p->raft, &p->role_change, extra, RAFT_STANDBY, role_change_done) == 0) {
			p->role_change_pending = true;
			log_info("pool: member %llu is a standby now", (unsigned long long)extra);
		}
		return;
	}
	if (!standby)
		return;
	if (voters >= want && !silent)
		return;
	p->role_change.data = p;
	if (raft_assign(&p->raft, &p->role_change, standby, RAFT_VOTER, role_change_done) == 0) {
		p->role_change_pending = true;
		p->demote_after = voters >= want ? silent : 0;
		log_info("pool: standby %llu promoted to voter%s", (unsigned long long)standby,
			 silent && voters >= want ? " in place of a silent one" : "");
	}
}

static void transfer_done(struct raft_transfer *req)
{
	struct pool_raft *p = req->data;
	p->transfer_pending = false;
	refresh_view(p);
	pthread_mutex_lock(&p->lock);
	p->transfer_done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static void start_transfer(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	raft_id to = p->transfer_to;
	p->transfer_to = 0;
	pthread_mutex_unlock(&p->lock);
	if (!to)
		return;
	int r = RAFT_NOTLEADER;
	p->manual_change_at = uv_now(&p->loop);
	if (raft_state(&p->raft) == RAFT_LEADER && !p->transfer_pending) {
		p->transfer.data = p;
		r = raft_transfer(&p->raft, &p->transfer, to, transfer_done);
	}
	if (r == 0) {
		p->transfer_pending = true;
		return;
	}
	log_warn("pool: leadership transfer to %llu: %s", (unsigned long long)to, raft_strerror(r));
	pthread_mutex_lock(&p->lock);
	p->transfer_refused = true;
	p->transfer_done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

/* How this node caught up with the pool, in the log: once its applied
 * index has stood still for a second under a known leader (after start,
 * after a catch-up), with what it did since it started. */
static void report_caught_up(struct pool_raft *p)
{
	uint64_t now = uv_now(&p->loop);
	/* what is in the store, not what libraft counts applied: a follower's
	 * entries may still wait in the applier's queue */
	pthread_mutex_lock(&p->lock);
	uint64_t applied = p->applied;
	struct pool_raft_stats st = p->stats;
	pthread_mutex_unlock(&p->lock);
	if (applied != p->last_seen_applied) {
		p->last_seen_applied = applied;
		p->applied_moved_at = now;
		return;
	}
	raft_id id = 0;
	const char *addr = NULL;
	raft_leader(&p->raft, &id, &addr);
	if (!id || now - p->applied_moved_at < 1000 || p->reported_applied == applied + 1 ||
	    applied < p->raft.last_applied)
		return;
	p->reported_applied = applied + 1;
	log_info("pool: caught up at log index %llu: %llu entries applied, %llu skipped (in SQLite already), "
		 "%llu snapshot(s) installed",
		 (unsigned long long)applied, (unsigned long long)st.replayed,
		 (unsigned long long)st.skipped, (unsigned long long)st.snapshots_installed);
}

static void on_tick(uv_timer_t *t)
{
	struct pool_raft *p = t->data;
	keep_voters(p);
	refresh_view(p);
	report_caught_up(p);
}

static void *loop_main(void *arg)
{
	struct pool_raft *p = arg;
	uv_run(&p->loop, UV_RUN_DEFAULT);
	return NULL;
}

/* ---- from any thread ---- */

static int mkdir_p(const char *dir)
{
	char buf[PATH_MAX];
	snprintf(buf, sizeof buf, "%s", dir);
	for (char *s = buf + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(buf, 0700) < 0 && errno != EEXIST)
			return -1;
		*s = '/';
	}
	return mkdir(buf, 0700) < 0 && errno != EEXIST ? -1 : 0;
}

/* ---- the transport, filtered ----
 * Connections from a server outside this node's configuration are closed
 * at once (a node with no configuration yet, waiting to be added, takes
 * any). After an emergency transition the old master, back with its own
 * log and the same term, would otherwise send this node entries of a
 * history it does not share.
 *
 * Every stream, accepted or connected, fails once what it sent has gone
 * unacknowledged for STREAM_TIMEOUT_MS (TCP_USER_TIMEOUT), and an idle
 * one is probed (keepalive) so that its death is noticed as well. libraft
 * only writes to a connected stream and only reads from an accepted one;
 * without these a stream to a peer cut off the network stays open in
 * TCP's retransmission backoff, whose interval doubles up to minutes, so
 * a healed peer heard nothing until the next retransmission (measured:
 * 7 s after a cut of 20 s, 25 s after one of 30 s). Failed, the stream's
 * next write fails, libraft closes it and connects again (filter_connect)
 * every CONNECT_RETRY_MS: a healed peer is reached again within about
 * CONNECT_TIMEOUT_MS + CONNECT_RETRY_MS of its link coming back. */

#define STREAM_TIMEOUT_MS 3000
#define STREAM_KEEPIDLE_S 1
#define STREAM_KEEPINTVL_S 1
#define STREAM_KEEPCNT 3
#define CONNECT_RETRY_MS 500

static void free_stream(uv_handle_t *h)
{
	raft_free(h);
}

/* Sets the options above on a stream of the transport (a TCP one). A
 * failure leaves the stream as it was, with a warning: it works, only it
 * notices a dead peer later. */
static void stream_set_timeouts(struct uv_stream_s *stream)
{
	uv_os_fd_t fd;
	if (stream->type != UV_TCP || uv_fileno((uv_handle_t *)stream, &fd) != 0)
		return;
	int one = 1, idle = STREAM_KEEPIDLE_S, intvl = STREAM_KEEPINTVL_S, cnt = STREAM_KEEPCNT;
	unsigned timeout = STREAM_TIMEOUT_MS;
	if (setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout) < 0)
		log_warn("pool: cannot set the timeouts of a Raft connection: %s", strerror(errno));
}

/* ---- outgoing connections ----
 * Made here rather than by libraft's transport, whose connect request
 * has no time limit: a SYN sent while the peer was cut off is retried
 * by TCP at doubling intervals (1, 2, 4, 8 s...), so a connection asked
 * for during a cut was made only at the first retry after the heal. Here
 * an attempt not connected within CONNECT_TIMEOUT_MS fails (libraft tries
 * again after CONNECT_RETRY_MS), and the socket has its timeouts before
 * its first byte. What is sent once connected is libraft's handshake,
 * which its listener (used as it is) reads: the protocol version (1), the
 * sender's id, the length of its address with the NUL padded to 8 bytes,
 * and that address, every number 64-bit little-endian. */

#define CONNECT_TIMEOUT_MS 1000
#define HANDSHAKE_VERSION 1

struct out_connect {
	struct pool_raft *p;
	struct raft_uv_connect *req;
	raft_uv_connect_cb cb;
	uv_tcp_t *tcp; /* raft_malloc'd: libraft frees the stream it is given with raft_free */
	uv_connect_t connect;
	uv_write_t write;
	uv_timer_t timer;
	char hs[24 + POOL_ADDR_MAX + 8];
	size_t hslen;
	int status;   /* the attempt's failure (RAFT_*), 0 until it fails */
	int handles;  /* handles still to close before cb and free */
	struct out_connect *next; /* p->connecting */
};

static void put_le64(char *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (char)(v >> (8 * i));
}

static void out_unlink(struct out_connect *oc)
{
	for (struct out_connect **pp = &oc->p->connecting; *pp; pp = &(*pp)->next)
		if (*pp == oc) {
			*pp = oc->next;
			return;
		}
}

static void filter_maybe_closed(struct pool_raft *p);

static void out_closed(uv_handle_t *h)
{
	struct out_connect *oc = h->data;
	if (--oc->handles > 0)
		return;
	struct pool_raft *p = oc->p;
	if (oc->status && oc->cb)
		oc->cb(oc->req, NULL, oc->status);
	raft_free(oc->tcp);
	free(oc);
	p->nconnecting--;
	filter_maybe_closed(p);
}

/* Ends a failed attempt: its callback once its handles are closed (a
 * pending connect or write is cancelled first, and finds status set). */
static void out_fail(struct out_connect *oc, int status)
{
	if (oc->status)
		return;
	oc->status = status;
	out_unlink(oc);
	uv_close((uv_handle_t *)&oc->timer, out_closed);
	uv_close((uv_handle_t *)oc->tcp, out_closed);
}

static void out_timeout(uv_timer_t *t)
{
	out_fail(t->data, RAFT_NOCONNECTION);
}

static void out_written(uv_write_t *w, int status)
{
	struct out_connect *oc = w->data;
	if (oc->status)
		return;
	if (status < 0) {
		out_fail(oc, RAFT_NOCONNECTION);
		return;
	}
	/* the stream is libraft's now; the timer goes, then oc */
	out_unlink(oc);
	struct uv_stream_s *stream = (struct uv_stream_s *)oc->tcp;
	oc->tcp = NULL;
	oc->handles = 1;
	uv_close((uv_handle_t *)&oc->timer, out_closed);
	oc->cb(oc->req, stream, 0);
}

static void out_connected(uv_connect_t *c, int status)
{
	struct out_connect *oc = c->data;
	if (oc->status)
		return;
	uv_buf_t buf = uv_buf_init(oc->hs, (unsigned)oc->hslen);
	if (status < 0 || uv_write(&oc->write, (uv_stream_t *)oc->tcp, &buf, 1, out_written) != 0)
		out_fail(oc, RAFT_NOCONNECTION);
}

static int filter_connect(struct raft_uv_transport *t, struct raft_uv_connect *req, raft_id id,
			  const char *address, raft_uv_connect_cb cb)
{
	struct pool_raft *p = t->impl;
	(void)id;
	char host[POOL_ADDR_MAX];
	snprintf(host, sizeof host, "%s", address);
	char *colon = strrchr(host, ':');
	int port = 8080; /* libraft's default when the address has none */
	if (colon) {
		*colon = 0;
		port = atoi(colon + 1);
	}
	struct sockaddr_in sa;
	if (uv_ip4_addr(host, port, &sa) != 0)
		return RAFT_NOCONNECTION;
	struct out_connect *oc = xcalloc(1, sizeof *oc);
	oc->p = p;
	oc->req = req;
	oc->cb = cb;
	req->cb = cb; /* as libraft's own transport leaves it */
	size_t alen = strlen(p->address) + 1;
	size_t padded = (alen + 7) / 8 * 8;
	put_le64(oc->hs, HANDSHAKE_VERSION);
	put_le64(oc->hs + 8, p->id);
	put_le64(oc->hs + 16, padded);
	memcpy(oc->hs + 24, p->address, alen); /* the rest is zero */
	oc->hslen = 24 + padded;
	oc->tcp = raft_malloc(sizeof *oc->tcp);
	if (!oc->tcp || uv_tcp_init_ex(&p->loop, oc->tcp, AF_INET) != 0) {
		raft_free(oc->tcp);
		free(oc);
		return RAFT_NOCONNECTION;
	}
	oc->tcp->data = oc;
	oc->connect.data = oc;
	oc->write.data = oc;
	uv_timer_init(&p->loop, &oc->timer);
	oc->timer.data = oc;
	oc->handles = 2;
	oc->next = p->connecting;
	p->connecting = oc;
	p->nconnecting++;
	stream_set_timeouts((struct uv_stream_s *)oc->tcp);
	if (uv_tcp_connect(&oc->connect, oc->tcp, (const struct sockaddr *)&sa, out_connected) != 0) {
		/* no callback is owed: closed quietly */
		oc->status = RAFT_NOCONNECTION;
		oc->cb = NULL;
		out_unlink(oc);
		uv_close((uv_handle_t *)&oc->timer, out_closed);
		uv_close((uv_handle_t *)oc->tcp, out_closed);
		return RAFT_NOCONNECTION;
	}
	uv_timer_start(&oc->timer, out_timeout, CONNECT_TIMEOUT_MS, 0);
	return 0;
}

static void filter_accept(struct raft_uv_transport *t, raft_id id, const char *address,
			  struct uv_stream_s *stream)
{
	struct pool_raft *p = t->data;
	const struct raft_configuration *c = &p->raft.configuration;
	bool known = c->n == 0;
	for (unsigned i = 0; i < c->n && !known; i++)
		known = c->servers[i].id == id;
	if (!known) {
		log_warn("pool: refused a connection from %llu at %s, not a member here",
			 (unsigned long long)id, address);
		uv_close((uv_handle_t *)stream, free_stream);
		return;
	}
	stream_set_timeouts(stream);
	p->accept_cb(&p->filter, id, address, stream);
}

static int filter_tinit(struct raft_uv_transport *t, raft_id id, const char *address)
{
	struct pool_raft *p = t->impl;
	return p->transport.init(&p->transport, id, address);
}

static int filter_listen(struct raft_uv_transport *t, raft_uv_accept_cb cb)
{
	struct pool_raft *p = t->impl;
	p->accept_cb = cb;
	return p->transport.listen(&p->transport, filter_accept);
}

static void filter_maybe_closed(struct pool_raft *p)
{
	if (!p->filter_closing || !p->transport_closed || p->nconnecting)
		return;
	p->filter_closing = false;
	if (p->filter_close_cb)
		p->filter_close_cb(&p->filter);
}

static void filter_closed(struct raft_uv_transport *t)
{
	struct pool_raft *p = t->data;
	p->transport_closed = true;
	filter_maybe_closed(p);
}

/* Cancels the connections being made (their callbacks get RAFT_CANCELED)
 * and closes libraft's transport; cb once both are done. */
static void filter_close(struct raft_uv_transport *t, raft_uv_transport_close_cb cb)
{
	struct pool_raft *p = t->impl;
	p->filter_close_cb = cb;
	p->filter_closing = true;
	p->transport_closed = false;
	while (p->connecting)
		out_fail(p->connecting, RAFT_CANCELED);
	p->transport.close(&p->transport, filter_closed);
}

static void filter_init(struct pool_raft *p)
{
	memset(&p->filter, 0, sizeof p->filter);
	p->filter.impl = p;
	p->filter.init = filter_tinit;
	p->filter.listen = filter_listen;
	p->filter.connect = filter_connect;
	p->filter.close = filter_close;
	p->transport.data = p;
	p->filter_closing = p->transport_closed = false;
	p->connecting = NULL;
	p->nconnecting = 0;
}

enum open_mode {
	OPEN_NORMAL,  /* bootstrap the configured peers unless the log holds a configuration */
	OPEN_ALONE,   /* force a configuration of this node alone (raft_recover) */
	OPEN_BLANK,   /* an empty log, waiting to be added by a leader */
};

/* A marker in the log directory: this node was reset to be added by a
 * leader, so the configured peers are not bootstrapped again. */
#define NO_BOOTSTRAP "no-bootstrap"

/* Starts the libuv loop, libraft and the loop thread on p (its settings
 * in p already). */
static int node_open(struct pool_raft *p, const struct pool_raft_peer *peers, size_t npeers,
		     enum open_mode mode, struct xerr *err)
{
	if (mkdir_p(p->dir) < 0)
		return xerr_internal(err, "pool: cannot make %s: %s", p->dir, strerror(errno));
	char marker[PATH_MAX];
	snprintf(marker, sizeof marker, "%s/" NO_BOOTSTRAP, p->dir);
	if (mode == OPEN_NORMAL && access(marker, F_OK) == 0)
		npeers = 0;
	uv_loop_init(&p->loop);
	int r;
	const char *what = "transport";
	if ((r = raft_uv_tcp_init(&p->transport, &p->loop)) != 0)
		goto fail_loop;
	what = "log";
	filter_init(p);
	if ((r = raft_uv_init(&p->io, &p->loop, p->dir, &p->filter)) != 0)
		goto fail_transport;
	raft_uv_set_connect_retry_delay(&p->io, CONNECT_RETRY_MS);
	p->fsm = (struct raft_fsm){.version = 1, .data = p, .apply = fsm_apply,
				   .snapshot = fsm_snapshot, .restore = fsm_restore};
	what = "node";
	if ((r = raft_init(&p->raft, &p->io, &p->fsm, p->id, p->address)) != 0)
		goto fail_io;
	p->raft.data = p;
	raft_set_election_timeout(&p->raft, p->election_timeout_ms);
	raft_set_heartbeat_timeout(&p->raft, p->heartbeat_ms);
	raft_set_snapshot_threshold(&p->raft, p->snapshot_threshold);
	raft_set_snapshot_trailing(&p->raft, p->snapshot_trailing);
	raft_set_pre_vote(&p->raft, true);
	if (mode == OPEN_ALONE) {
		struct raft_configuration conf;
		raft_configuration_init(&conf);
		raft_configuration_add(&conf, p->id, p->address, RAFT_VOTER);
		what = "recover";
		r = raft_recover(&p->raft, &conf);
		raft_configuration_close(&conf);
		if (r != 0)
			goto fail_raft;
	} else if (mode == OPEN_NORMAL && npeers) {
		struct raft_configuration conf;
		raft_configuration_init(&conf);
		unsigned voters = pool_raft_voters_for((unsigned)npeers);
		for (size_t i = 0; i < npeers; i++)
			raft_configuration_add(&conf, peers[i].id, peers[i].address,
					       i < voters ? RAFT_VOTER : RAFT_STANDBY);
		what = "bootstrap";
		r = raft_bootstrap(&p->raft, &conf);
		raft_configuration_close(&conf);
		if (r != 0 && r != RAFT_CANTBOOTSTRAP) /* a log already there: it holds the configuration */
			goto fail_raft;
	}
	what = "start";
	if ((r = raft_start(&p->raft)) != 0)
		goto fail_raft;
	uv_async_init(&p->loop, &p->wake, on_wake);
	p->wake.data = p;
	uv_timer_init(&p->loop, &p->tick);
	p->tick.data = p;
	uv_timer_start(&p->tick, on_tick, 20, 20);
	if (pthread_create(&p->thread, NULL, loop_main, p) != 0) {
		xerr_internal(err, "pool: cannot start the Raft thread");
		/* the loop never ran: close it from here */
		pthread_mutex_lock(&p->lock);
		p->stopping = true;
		pthread_mutex_unlock(&p->lock);
		on_wake(&p->wake);
		uv_run(&p->loop, UV_RUN_DEFAULT);
		uv_loop_close(&p->loop);
		return -1;
	}
	pthread_mutex_lock(&p->lock);
	p->paused = false;
	pthread_mutex_unlock(&p->lock);
	log_info("pool: Raft node %llu on %s started", (unsigned long long)p->id, p->address);
	return 0;

fail_raft:
	xerr_internal(err, "pool: Raft %s: %s (%s)", what, raft_strerror(r), raft_errmsg(&p->raft));
	raft_close(&p->raft, NULL);
	uv_run(&p->loop, UV_RUN_DEFAULT);
	raft_uv_close(&p->io);
	raft_uv_tcp_close(&p->transport);
	goto fail_done;
fail_io:
	raft_uv_close(&p->io);
fail_transport:
	raft_uv_tcp_close(&p->transport);
fail_loop:
	xerr_internal(err, "pool: Raft %s: %s", what, raft_strerror(r));
fail_done:
	uv_run(&p->loop, UV_RUN_DEFAULT);
	uv_loop_close(&p->loop);
	return -1;
}

/* Stops the loop thread and closes libraft and the loop; p stays, paused
 * (submissions refused) until node_open. */
static void node_close(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	p->paused = true;
	uv_async_send(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	if (uv_loop_close(&p->loop) != 0)
		log_warn("pool: Raft loop closed with handles open");
	queue_drain(p); /* what follows may reset the store */
	pthread_mutex_lock(&p->lock);
	p->stopping = p->stopped = false;
	p->leader_here = p->leading = false;
	p->leader_id = 0;
	p->leader_addr[0] = 0;
	p->transfer_done = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	p->ready_term = 0;
	p->barrier_pending = p->lease_pending = p->role_change_pending = p->transfer_pending = false;
	p->ninflight = 0;
	p->nseen = 0;
	p->reported_applied = 0;
}

/* Stops the applier once it has applied what is queued (committed
 * entries), then frees p. */
static void node_free(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	bool running = !p->aq_stop;
	p->aq_stop = true;
	pthread_cond_signal(&p->aq_cond);
	pthread_mutex_unlock(&p->lock);
	if (running)
		pthread_join(p->applier, NULL);
	pthread_cond_destroy(&p->aq_cond);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p->db_path);
	free(p->dir);
	free(p->inflight);
	free(p);
}

struct pool_raft *pool_raft_start(const struct pool_raft_config *c, struct xerr *err)
{
	struct pool_raft *p = xcalloc(1, sizeof *p);
	p->id = c->id;
	snprintf(p->address, sizeof p->address, "%s", c->address);
	p->db = c->db;
	p->db_path = c->db_path ? xstrdup(c->db_path) : NULL;
	p->dir = xstrdup(c->dir);
	p->election_timeout_ms = c->election_timeout_ms ? c->election_timeout_ms : 500;
	p->heartbeat_ms = c->heartbeat_ms ? c->heartbeat_ms : 100;
	p->snapshot_threshold = c->snapshot_threshold ? c->snapshot_threshold : 4096;
	p->snapshot_trailing = c->snapshot_trailing ? c->snapshot_trailing : 1024;
	p->voter_timeout_ms = c->voter_timeout_ms ? c->voter_timeout_ms : 10000;
	/* what SQLite holds already is not applied again */
	db_rdlock(p->db);
	p->skip_through = db_stored_log_index(p->db);
	db_unlock(p->db);
	p->applied = p->skip_through;
	random_bytes(&p->nonce, sizeof p->nonce);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	pthread_cond_init(&p->aq_cond, NULL);
	if (pthread_create(&p->applier, NULL, applier_main, p) != 0) {
		xerr_internal(err, "pool: cannot start the applier thread");
		p->aq_stop = true; /* none to join */
		node_free(p);
		return NULL;
	}
	if (node_open(p, c->peers, c->npeers, OPEN_NORMAL, err) < 0) {
		node_free(p);
		return NULL;
	}
	return p;
}

void pool_raft_stop(struct pool_raft *p)
{
	if (!p)
		return;
	node_close(p);
	log_info("pool: Raft node %llu stopped", (unsigned long long)p->id);
	node_free(p);
}

int pool_raft_recover_alone(struct pool_raft *p, struct xerr *err)
{
	struct pool_raft_member m[POOL_MAX_MEMBERS];
	unsigned n = pool_raft_members(p, m, POOL_MAX_MEMBERS);
	node_close(p);
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < n; i++)
		if (m[i].id != p->id && p->nformer < POOL_MAX_MEMBERS)
			p->former[p->nformer++] = m[i];
	pthread_mutex_unlock(&p->lock);
	log_warn("pool: forcing a configuration of this node alone (emergency transition)");
	if (node_open(p, NULL, 0, OPEN_ALONE, err) == 0)
		return 0;
	/* the log is as it was: run on with it */
	struct xerr e = XERR_INIT;
	if (node_open(p, NULL, 0, OPEN_NORMAL, &e) < 0)
		log_error("pool: the Raft node could not start again: %s", e.nparams ? e.params[0] : "?");
	xerr_clear(&e);
	return -1;
}

int pool_raft_reset(struct pool_raft *p, struct xerr *err)
{
	node_close(p);
	log_warn("pool: dropping this node's log to be added again by the master");
	DIR *d = opendir(p->dir);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", p->dir, de->d_name);
		if (unlink(path) < 0)
			log_warn("pool: cannot remove %s: %s", path, strerror(errno));
	}
	if (d)
		closedir(d);
	char marker[PATH_MAX];
	snprintf(marker, sizeof marker, "%s/" NO_BOOTSTRAP, p->dir);
	FILE *f = fopen(marker, "w");
	if (f)
		fclose(f);
	/* the store is replaced by the master's image: nothing it holds counts */
	db_forget_log_index(p->db);
	p->skip_through = 0;
	p->last_own = 0;
	pthread_mutex_lock(&p->lock);
	p->applied = 0;
	p->nformer = 0;
	pthread_mutex_unlock(&p->lock);
	return node_open(p, NULL, 0, OPEN_BLANK, err);
}

unsigned pool_raft_former(struct pool_raft *p, struct pool_raft_member *out, unsigned max)
{
	pthread_mutex_lock(&p->lock);
	unsigned n = p->nformer < max ? p->nformer : max;
	memcpy(out, p->former, n * sizeof *out);
	pthread_mutex_unlock(&p->lock);
	return n;
}

void pool_raft_forget_former(struct pool_raft *p, uint64_t id)
{
	pthread_mutex_lock(&p->lock);
	for (unsigned i = 0; i < p->nformer; i++)
		if (p->former[i].id == id) {
			p->former[i] = p->former[--p->nformer];
			break;
		}
	pthread_mutex_unlock(&p->lock);
}

/* Queues an entry for the loop; NULL (err set) when the node is stopping. */
static struct submit *enqueue(struct pool_raft *p, bool own, struct db_pend *pd, const void *entry, size_t len,
			      struct xerr *err)
{
	struct submit *s = xcalloc(1, sizeof *s);
	/* padded with NULs (the end of the entry's text) to a multiple of 8:
	 * libraft's wire decoding reads entries in 8-byte words */
	size_t total = (len + ENTRY_HDR + 7) & ~(size_t)7;
	s->buf.base = raft_calloc(1, total);
	if (!s->buf.base) {
		free(s);
		xerr_internal(err, "pool: out of memory");
		return NULL;
	}
	s->own = own;
	s->pd = pd;
	unsigned char *b = s->buf.base;
	b[0] = own ? 'O' : 'A';
	memcpy(b + 1, &p->nonce, 8);
	memcpy(b + ENTRY_HDR, entry, len);
	s->buf.len = total;
	pthread_mutex_lock(&p->lock);
	s->seq = ++p->next_seq;
	memcpy(b + 9, &s->seq, 8);
	if (p->stopping || p->paused) {
		pthread_mutex_unlock(&p->lock);
		raft_free(s->buf.base);
		free(s);
		xerr_internal(err, "pool: the node is stopping");
		return NULL;
	}
	if (p->queue_tail)
		p->queue_tail->next = s;
	else
		p->queue = s;
	p->queue_tail = s;
	uv_async_send(&p->wake); /* under the lock: node_close waits for it */
	return s; /* p->lock held */
}

static enum pool_submit_result submit(struct pool_raft *p, bool own, const void *entry, size_t len,
				     char leader[POOL_ADDR_MAX], struct xerr *err)
{
	struct submit *s = enqueue(p, own, NULL, entry, len, err);
	if (!s)
		return POOL_SUBMIT_FAILED;
	while (!s->done)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	enum pool_submit_result rc = s->rc;
	if (leader)
		snprintf(leader, POOL_ADDR_MAX, "%s", rc == POOL_SUBMIT_NOT_LEADER ? s->leader : "");
	if (rc == POOL_SUBMIT_FAILED)
		xerr_internal(err, "pool: %s", s->errmsg[0] ? s->errmsg : "submit failed");
	free(s);
	return rc;
}

enum pool_submit_result pool_raft_submit(struct pool_raft *p, const void *entry, size_t len,
					 char leader[POOL_ADDR_MAX], struct xerr *err)
{
	/* applied by the loop thread on every node, the leader included: no
	 * pipelined commit may be pending under it */
	db_drain_begin(p->db);
	enum pool_submit_result r = submit(p, false, entry, len, leader, err);
	db_drain_end(p->db);
	return r;
}

int pool_raft_replicate(void *arg, const char *entry, size_t len, struct xerr *err)
{
	struct pool_raft *p = arg;
	char leader[POOL_ADDR_MAX];
	struct xerr e = XERR_INIT;
	/* not leading: refused at once (the loop may be applying entries,
	 * which needs the write lock this caller holds) */
	enum pool_submit_result r = POOL_SUBMIT_NOT_LEADER;
	if (pool_raft_is_leader(p))
		r = submit(p, true, entry, len, leader, &e);
	else
		pool_raft_leader(p, leader);
	if (r == POOL_SUBMIT_OK)
		return 0;
	if (r == POOL_SUBMIT_NOT_LEADER) {
		xerr_clear(&e);
		result_err(r, leader, NULL, err);
		return -1;
	}
	if (err)
		xerr_move(err, &e);
	xerr_clear(&e);
	return -1;
}

int pool_raft_replicate_async(void *arg, const char *entry, size_t len, struct db_pend *pd,
			      struct xerr *err)
{
	struct pool_raft *p = arg;
	if (!pool_raft_is_leader(p)) {
		char leader[POOL_ADDR_MAX];
		pool_raft_leader(p, leader);
		result_err(POOL_SUBMIT_NOT_LEADER, leader, NULL, err);
		return -1;
	}
	struct submit *s = enqueue(p, true, pd, entry, len, err);
	if (!s)
		return -1;
	pthread_mutex_unlock(&p->lock);
	return 1;
}

int pool_raft_add_member(struct pool_raft *p, uint64_t id, const char *address, bool voter,
			 struct xerr *err)
{
	struct membership *m = xcalloc(1, sizeof *m);
	m->id = id;
	snprintf(m->address, sizeof m->address, "%s", address);
	m->role = voter ? RAFT_VOTER : RAFT_STANDBY;
	pthread_mutex_lock(&p->lock);
	if (p->stopping || p->paused) {
		pthread_mutex_unlock(&p->lock);
		free(m);
		return xerr_internal(err, "pool: the node is stopping");
	}
	m->next = p->mqueue;
	p->mqueue = m;
	uv_async_send(&p->wake); /* under the lock: node_close waits for it */
	while (!m->done)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	int rc = 0;
	if (m->status)
		rc = xerr_internal(err, "pool: adding member %llu at %s: %s", (unsigned long long)id,
				   address, m->errmsg[0] ? m->errmsg : raft_strerror(m->status));
	free(m);
	return rc;
}

unsigned pool_raft_voters(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	unsigned n = p->nvoters;
	pthread_mutex_unlock(&p->lock);
	return n;
}

bool pool_raft_confirm(struct pool_raft *p, int timeout_ms)
{
	int64_t until = clock_now_ms() + timeout_ms;
	pthread_mutex_lock(&p->lock);
	bool ok = false;
	while (p->leader_here && !p->stopping && !p->paused) {
		if (clock_now_ms() < p->lease_until) {
			ok = true;
			break;
		}
		if (clock_now_ms() >= until)
			break;
		if (!p->lease_wanted) {
			p->lease_wanted = true;
			uv_async_send(&p->wake);
		}
		struct timespec ts;
		clock_realtime_after(&ts, until - clock_now_ms());
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	}
	pthread_mutex_unlock(&p->lock);
	return ok;
}

bool pool_raft_taking_over(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	bool r = p->leading && !p->leader_here;
	pthread_mutex_unlock(&p->lock);
	return r;
}

bool pool_raft_is_leader(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	bool r = p->leader_here;
	pthread_mutex_unlock(&p->lock);
	return r;
}

uint64_t pool_raft_leader(struct pool_raft *p, char address[POOL_ADDR_MAX])
{
	pthread_mutex_lock(&p->lock);
	uint64_t id = p->leader_id;
	if (address)
		snprintf(address, POOL_ADDR_MAX, "%s", p->leader_addr);
	pthread_mutex_unlock(&p->lock);
	return id;
}

bool pool_raft_wait_applied(struct pool_raft *p, uint64_t index, int timeout_ms)
{
	int64_t until = clock_now_ms() + timeout_ms;
	pthread_mutex_lock(&p->lock);
	while (p->applied < index && clock_now_ms() < until) {
		struct timespec ts;
		clock_realtime_after(&ts, until - clock_now_ms());
		pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	}
	bool ok = p->applied >= index;
	pthread_mutex_unlock(&p->lock);
	return ok;
}

uint64_t pool_raft_applied(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	uint64_t a = p->applied;
	pthread_mutex_unlock(&p->lock);
	return a;
}

void pool_raft_get_stats(struct pool_raft *p, struct pool_raft_stats *st)
{
	pthread_mutex_lock(&p->lock);
	*st = p->stats;
	pthread_mutex_unlock(&p->lock);
}

bool pool_raft_transfer(struct pool_raft *p, uint64_t id, struct xerr *err)
{
	pthread_mutex_lock(&p->lock);
	if (p->stopping || p->paused) {
		pthread_mutex_unlock(&p->lock);
		return xerr_internal(err, "pool: the node is stopping") == 0;
	}
	p->transfer_to = id;
	p->transfer_done = false;
	p->transfer_refused = false;
	uv_async_send(&p->wake); /* under the lock: node_close waits for it */
	while (!p->transfer_done)
		pthread_cond_wait(&p->cond, &p->lock);
	bool ok = !p->transfer_refused && p->leader_id == id;
	pthread_mutex_unlock(&p->lock);
	if (!ok)
		xerr_internal(err, "pool: the leadership did not move to member %llu", (unsigned long long)id);
	return ok;
}

unsigned pool_raft_members(struct pool_raft *p, struct pool_raft_member *out, unsigned max)
{
	pthread_mutex_lock(&p->lock);
	unsigned n = p->nmembers < max ? p->nmembers : max;
	memcpy(out, p->members, n * sizeof *out);
	pthread_mutex_unlock(&p->lock);
	return n;
}

uint64_t pool_raft_commit_index(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	uint64_t c = p->commit_index;
	pthread_mutex_unlock(&p->lock);
	return c;
}

bool pool_raft_leader_heard(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	bool heard = p->leader_here || (p->leader_id && p->leader_quiet_ms < 2 * p->election_timeout_ms);
	pthread_mutex_unlock(&p->lock);
	return heard;
}

int pool_raft_remove_member(struct pool_raft *p, uint64_t id, struct xerr *err)
{
	struct membership *m = xcalloc(1, sizeof *m);
	m->id = id;
	m->step = 2;
	m->role = RAFT_SPARE; /* membership_done: no assign after it */
	pthread_mutex_lock(&p->lock);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		free(m);
		return xerr_internal(err, "pool: the node is stopping");
	}
	m->next = p->mqueue;
	p->mqueue = m;
	pthread_mutex_unlock(&p->lock);
	uv_async_send(&p->wake);
	pthread_mutex_lock(&p->lock);
	while (!m->done)
		pthread_cond_wait(&p->cond, &p->lock);
	pthread_mutex_unlock(&p->lock);
	int rc = 0;
	if (m->status)
		rc = xerr_internal(err, "pool: removing member %llu: %s", (unsigned long long)id,
				   m->errmsg[0] ? m->errmsg : raft_strerror(m->status));
	free(m);
	return rc;
}
