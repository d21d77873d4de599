/* pool_raft (raft.h): a libraft node on a libuv loop of its own. Other
 * threads talk to it through a queue and a uv_async_t: everything that
 * touches struct raft runs on the loop thread. */
#include "raft.h"
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
#include <sys/stat.h>
#include <uv.h>

struct submit {
	struct raft_apply req;
	struct raft_buffer buf;
	struct pool_raft *node;
	struct submit *next;
	bool own; /* the submitter's store holds it already (pool_raft_replicate) */
	uint64_t seq;
	bool done;
	enum pool_submit_result rc;
	char leader[POOL_ADDR_MAX];
	char errmsg[160];
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

	uv_loop_t loop;
	uv_async_t wake;
	uv_timer_t tick;
	struct raft_uv_transport transport;
	struct raft_io io;
	struct raft_fsm fsm;
	struct raft raft;
	pthread_t thread;
	/* entries carry a header (see ENTRY_HDR): the process that made one
	 * and its number there, so the leader skips its own entry in flight */
	uint64_t nonce;
	uint64_t next_seq;    /* under lock */
	uint64_t inflight;    /* loop thread: seq of the own entry awaiting commit, 0: none */
	struct raft_barrier barrier;
	bool barrier_pending; /* loop thread */
	uint64_t ready_term;  /* loop thread: term whose barrier completed */
	struct membership *mqueue; /* under lock */

	pthread_mutex_t lock; /* guards what follows */
	pthread_cond_t cond;
	struct submit *queue, *queue_tail;
	bool stopping, stopped;
	/* the loop thread's view, for other threads */
	bool leader_here;
	uint64_t leader_id;
	char leader_addr[POOL_ADDR_MAX];
	uint64_t applied;
	unsigned nvoters;
};

/* ---- the state machine: the store ---- */

static int fsm_apply(struct raft_fsm *fsm, const struct raft_buffer *buf, void **result)
{
	struct pool_raft *p = fsm->data;
	struct xerr e = XERR_INIT;
	*result = NULL;
	const unsigned char *b = buf->base;
	uint64_t nonce = 0, seq = 0;
	if (buf->len >= ENTRY_HDR) {
		memcpy(&nonce, b + 1, 8);
		memcpy(&seq, b + 9, 8);
	}
	if (buf->len < ENTRY_HDR || (b[0] != 'O' && b[0] != 'A')) {
		log_error("pool: an entry without its header skipped");
	} else if (b[0] == 'O' && nonce == p->nonce && seq && seq == p->inflight) {
		/* this host's own commit: its store holds it already (db_commit
		 * waits under the write lock for this very apply) */
	} else if (db_apply_entry(p->db, (const char *)b + ENTRY_HDR, buf->len - ENTRY_HDR, &e) < 0) {
		/* every node applies the same entries: one that fails here fails
		 * everywhere, and the store stays as it was on all of them */
		log_error("pool: applying an entry failed: %s", e.nparams ? e.params[0] : e.code ? e.code : "?");
		xerr_clear(&e);
	}
	pthread_mutex_lock(&p->lock);
	p->applied++;
	pthread_mutex_unlock(&p->lock);
	return 0;
}

/* TODO(pools): snapshots are the SQLite database (sqlite3_serialize on the
 * loop thread; restore = replace the file and reload the store). Until
 * then the snapshot threshold is out of reach, so these are never called
 * and a new or lagging node is sent the whole log. */
static int fsm_snapshot(struct raft_fsm *fsm, struct raft_buffer *bufs[], unsigned *n)
{
	(void)fsm;
	(void)bufs;
	(void)n;
	return RAFT_NOTFOUND;
}

static int fsm_restore(struct raft_fsm *fsm, struct raft_buffer *buf)
{
	(void)fsm;
	(void)buf;
	return RAFT_NOTFOUND;
}

/* ---- on the loop thread ---- */

static void drain(struct pool_raft *p);

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
	if (p->ready_term == p->raft.current_term)
		return true;
	if (!p->barrier_pending) {
		p->barrier.data = p;
		if (raft_barrier(&p->raft, &p->barrier, barrier_done) == 0)
			p->barrier_pending = true;
	}
	return false;
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
	p->nvoters = voters;
	p->leader_here = ready;
	p->leader_id = id;
	snprintf(p->leader_addr, sizeof p->leader_addr, "%s", addr ? addr : "");
	pthread_mutex_unlock(&p->lock);
}

static void finish(struct pool_raft *p, struct submit *s, enum pool_submit_result rc, const char *msg)
{
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
	(void)result;
	struct submit *s = req->data;
	struct pool_raft *p = s->node;
	if (s->own && p->inflight == s->seq)
		p->inflight = 0;
	refresh_view(p);
	if (status == 0)
		finish(p, s, POOL_SUBMIT_OK, NULL);
	else if (status == RAFT_NOTLEADER || status == RAFT_LEADERSHIPLOST)
		/* lost before commit: it may still commit under the next leader */
		finish(p, s, status == RAFT_NOTLEADER ? POOL_SUBMIT_NOT_LEADER : POOL_SUBMIT_FAILED,
		       raft_strerror(status));
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
		if (!ready) {
			raft_free(s->buf.base);
			finish(p, s, POOL_SUBMIT_NOT_LEADER, NULL);
			continue;
		}
		s->req.data = s;
		s->node = p;
		if (s->own)
			p->inflight = s->seq;
		int r = raft_apply(&p->raft, &s->req, &s->buf, 1, apply_done);
		if (r != 0) {
			if (s->own)
				p->inflight = 0;
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

static void on_tick(uv_timer_t *t)
{
	refresh_view(t->data);
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

struct pool_raft *pool_raft_start(const struct pool_raft_config *c, struct xerr *err)
{
	if (mkdir_p(c->dir) < 0) {
		xerr_internal(err, "pool: cannot make %s: %s", c->dir, strerror(errno));
		return NULL;
	}
	struct pool_raft *p = xcalloc(1, sizeof *p);
	p->id = c->id;
	snprintf(p->address, sizeof p->address, "%s", c->address);
	p->db = c->db;
	random_bytes(&p->nonce, sizeof p->nonce);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	uv_loop_init(&p->loop);
	int r;
	const char *what = "transport";
	if ((r = raft_uv_tcp_init(&p->transport, &p->loop)) != 0)
		goto fail_loop;
	what = "log";
	if ((r = raft_uv_init(&p->io, &p->loop, c->dir, &p->transport)) != 0)
		goto fail_transport;
	p->fsm = (struct raft_fsm){.version = 1, .data = p, .apply = fsm_apply,
				   .snapshot = fsm_snapshot, .restore = fsm_restore};
	what = "node";
	if ((r = raft_init(&p->raft, &p->io, &p->fsm, c->id, p->address)) != 0)
		goto fail_io;
	p->raft.data = p;
	raft_set_election_timeout(&p->raft, c->election_timeout_ms ? c->election_timeout_ms : 500);
	raft_set_heartbeat_timeout(&p->raft, c->heartbeat_ms ? c->heartbeat_ms : 100);
	raft_set_snapshot_threshold(&p->raft, UINT_MAX); /* see fsm_snapshot */
	raft_set_pre_vote(&p->raft, true);
	if (c->npeers) {
		struct raft_configuration conf;
		raft_configuration_init(&conf);
		for (size_t i = 0; i < c->npeers; i++)
			raft_configuration_add(&conf, c->peers[i].id, c->peers[i].address, RAFT_VOTER);
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
		free(p);
		return NULL;
	}
	log_info("pool: Raft node %llu on %s started", (unsigned long long)p->id, p->address);
	return p;

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
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
	return NULL;
}

void pool_raft_stop(struct pool_raft *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_mutex_unlock(&p->lock);
	uv_async_send(&p->wake);
	pthread_join(p->thread, NULL);
	if (uv_loop_close(&p->loop) != 0)
		log_warn("pool: Raft loop closed with handles open");
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	log_info("pool: Raft node %llu stopped", (unsigned long long)p->id);
	free(p);
}

static enum pool_submit_result submit(struct pool_raft *p, bool own, const void *entry, size_t len,
				     char leader[POOL_ADDR_MAX], struct xerr *err)
{
	struct submit *s = xcalloc(1, sizeof *s);
	/* padded with NULs (the end of the entry's text) to a multiple of 8:
	 * libraft's wire decoding reads entries in 8-byte words */
	size_t total = (len + ENTRY_HDR + 7) & ~(size_t)7;
	s->buf.base = raft_calloc(1, total);
	if (!s->buf.base) {
		free(s);
		xerr_internal(err, "pool: out of memory");
		return POOL_SUBMIT_FAILED;
	}
	s->own = own;
	unsigned char *b = s->buf.base;
	b[0] = own ? 'O' : 'A';
	memcpy(b + 1, &p->nonce, 8);
	memcpy(b + ENTRY_HDR, entry, len);
	s->buf.len = total;
	pthread_mutex_lock(&p->lock);
	s->seq = ++p->next_seq;
	memcpy(b + 9, &s->seq, 8);
	if (p->stopping) {
		pthread_mutex_unlock(&p->lock);
		raft_free(s->buf.base);
		free(s);
		xerr_internal(err, "pool: the node is stopping");
		return POOL_SUBMIT_FAILED;
	}
	if (p->queue_tail)
		p->queue_tail->next = s;
	else
		p->queue = s;
	p->queue_tail = s;
	pthread_mutex_unlock(&p->lock);
	uv_async_send(&p->wake);
	pthread_mutex_lock(&p->lock);
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
	return submit(p, false, entry, len, leader, err);
}

int pool_raft_replicate(void *arg, const char *entry, size_t len, struct xerr *err)
{
	struct pool_raft *p = arg;
	char leader[POOL_ADDR_MAX];
	struct xerr e = XERR_INIT;
	enum pool_submit_result r = submit(p, true, entry, len, leader, &e);
	if (r == POOL_SUBMIT_OK)
		return 0;
	if (r == POOL_SUBMIT_NOT_LEADER) {
		xerr_clear(&e);
		char *colon = strrchr(leader, ':'); /* the master's API is on the same address */
		if (colon)
			*colon = 0;
		return xerr_set(err, ERR_HOST_IS_SLAVE, leader, NULL);
	}
	if (err)
		xerr_move(err, &e);
	xerr_clear(&e);
	return -1;
}

int pool_raft_add_member(struct pool_raft *p, uint64_t id, const char *address, bool voter,
			 struct xerr *err)
{
	struct membership *m = xcalloc(1, sizeof *m);
	m->id = id;
	snprintf(m->address, sizeof m->address, "%s", address);
	m->role = voter ? RAFT_VOTER : RAFT_STANDBY;
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

uint64_t pool_raft_applied(struct pool_raft *p)
{
	pthread_mutex_lock(&p->lock);
	uint64_t a = p->applied;
	pthread_mutex_unlock(&p->lock);
	return a;
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
