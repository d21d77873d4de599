/* db: the object store. Every row of every class lives in memory behind
 * one reader/writer lock; a mutation is a transaction that is appended to
 * the durable log before it is acknowledged, then published as events.
 *
 * Locking: readers hold db_rdlock() around lookups and copies; a
 * transaction holds the write lock from db_begin() to db_commit() or
 * db_abort(). No db function takes the lock itself except those three and
 * db_rdlock/db_unlock, so lookups work inside a transaction too. */
#ifndef XENON_DB_H
#define XENON_DB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../base/hmap.h"
#include "../base/uuid.h"
#include "../base/xerr.h"
#include "../base/xv.h"
#include "../schema/schema.h"

struct db_obj {
	int cls;
	bool deleted; /* a tombstone kept so event.from can report the del */
	char ref[REF_STRLEN + 1];
	uint64_t ctime, mtime; /* generations of creation and last change */
	xv *f;                 /* sc_classes[cls].nfields values; derived fields NIL */
	/* all objects of event-producing classes, ordered by mtime */
	struct db_obj *chg_prev, *chg_next;
	/* live objects of the class, in creation order */
	struct db_obj *cls_prev, *cls_next;
	bool in_txn; /* already listed in the current transaction */
	unsigned pend; /* pipelined transactions listing it, not settled yet */
};

struct db_objvec {
	size_t n, cap;
	struct db_obj **v;
};

struct db_class_table {
	struct hmap by_uuid;
	struct db_obj *head, *tail;
	size_t count;
};

struct db_waiter {
	void (*wake)(void *arg);
	void *arg;
	uint64_t classes[2]; /* bit per class index it cares about */
	struct db_waiter *prev, *next;
};

struct durable;

/* Replication of commits on a pooled host, set by the layer above (the
 * daemon registers pool_raft's). With submit (pipelined commits, see
 * struct db's pend_*), db_commit queues the entry, releases the write
 * lock and waits for the outcome; a later transaction may build on a
 * pending one (it follows it in the log), readers wait until none is
 * pending, and a transaction that ends without a change (or aborts) while
 * some are pending answers once they settled. Otherwise db_commit calls
 * replicate with the
 * transaction's entry (db_txn_encode) while it holds the write lock, after
 * the changes are made in memory and before they are written to SQLite or
 * published; replicate returns 0 once the pool has committed the entry
 * (this host's store already holds it: the pool must not apply it here
 * again), or -1 with err, and the transaction is rolled back. A
 * transaction of local classes only (nothing encoded) is not replicated. */
struct db;
struct db_pend;
struct db_replicator {
	int (*replicate)(void *arg, const char *entry, size_t len, struct xerr *err);
	void *arg;
	/* Optional, for pipelined commits (the pool's leader): queues the
	 * entry in the pool's log in the order of the calls (made with the
	 * write lock held) and returns 1; the pool reports the outcome with
	 * db_pend_complete, from another thread. Anything else: as replicate
	 * (0 committed, -1 err), nothing reported later. */
	int (*submit)(void *arg, const char *entry, size_t len, struct db_pend *pd, struct xerr *err);
};
/* The outcome of a submitted entry: ok (index: its place in the log) or
 * failed (err, moved from; the entry may still commit later, and is then
 * applied from the log like any other). */
void db_pend_complete(struct db_pend *pd, bool ok, uint64_t index, struct xerr *err);
/* A pool's own entries go into the log only when no pipelined commit is
 * pending: waits until none is and holds new ones back (synchronous
 * commits) until db_drain_end. */
void db_drain_begin(struct db *db);
void db_drain_end(struct db *db);

struct db {
	pthread_rwlock_t lock;
	uint64_t gen;
	struct hmap by_ref; /* live objects of every class */
	struct db_class_table *tables;
	struct hmap *rel_index; /* per relation: one-side target ref -> db_objvec */
	struct db_obj *chg_head, *chg_tail;
	size_t ntombs;
	uint64_t tomb_floor; /* tombstones at or below this generation were dropped */
	struct durable *durable;
	struct db_replicator repl; /* replicate NULL: a pool of one */
	/* on a pooled host: index of the pool's log entry being applied (or,
	 * on the leader, being committed), written to SQLite in the same
	 * transaction as its rows (meta 'log-index'); set under the write
	 * lock, 0 on a pool of one */
	uint64_t log_index;

	/* pipelined commits (db_replicator's submit): transactions whose entry
	 * is in the pool's log, in log order, settled (finished or rolled back)
	 * in that order; readers wait until none is pending, so nobody reads
	 * a change before it commits. Under pend_lock and, to change the
	 * list, the write lock. */
	pthread_mutex_t pend_lock;
	pthread_cond_t pend_cond;
	struct db_pend *pend_head, *pend_tail;
	size_t npend;
	uint64_t pend_seq, settled_seq; /* last queued, last settled */
	uint64_t rb_lo, rb_hi;          /* the last range rolled back */
	unsigned readers_waiting, drainers;
	uint64_t wake_mask[2]; /* classes settled under the write lock, woken at its release */

	pthread_mutex_t wait_lock;
	pthread_cond_t wait_cond; /* broadcast on every commit */
	struct db_waiter *waiters;
};

struct db_txn;

/* Opens the store; path is the SQLite file, or NULL for memory only.
 * Loads what the durable log holds. */
struct db *db_open(const char *path, struct xerr *err);
void db_close(struct db *db);

void db_rdlock(struct db *db);
void db_unlock(struct db *db);

/* ---- reading (hold the read lock or be inside a transaction) ---- */
struct db_obj *db_lookup(struct db *db, const char *ref);
/* Like db_lookup, but the object must be of class cls. */
struct db_obj *db_lookup_cls(struct db *db, int cls, const char *ref);
struct db_obj *db_lookup_uuid(struct db *db, int cls, const char *uuid);
struct db_obj *db_first(struct db *db, int cls);
struct db_obj *db_next(struct db_obj *o);
size_t db_count(struct db *db, int cls);
/* A field's value as the API shows it (derived relation sets computed). */
xv db_get(struct db *db, const struct db_obj *o, int field);
/* Borrowed stored value; not valid for derived fields. */
const xv *db_peek(const struct db_obj *o, int field);
const char *db_peek_str(const struct db_obj *o, int field);
int64_t db_peek_int(const struct db_obj *o, int field);
bool db_peek_bool(const struct db_obj *o, int field);
/* The get_record struct: every field, in schema order. */
xv db_record(struct db *db, const struct db_obj *o);
/* Objects whose one-side field (rel's one_field) points at ref. */
const struct db_objvec *db_referrers(struct db *db, int relation, const char *ref);
/* The objects a derived field lists (db_get's refs, in its order), or
 * NULL for none; ref_hash is hmap_hash(o->ref), reused across fields. */
const struct db_objvec *db_derived(struct db *db, const struct db_obj *o, int field,
				   uint32_t ref_hash);

/* ---- writing ---- */
struct db_txn *db_begin(struct db *db);
/* New object with every field at its default and a fresh uuid. ref may be
 * NULL to generate one; a ref already held by a live object: NULL. */
struct db_obj *db_create(struct db_txn *t, int cls, const char *ref);
/* Replaces a field; takes ownership of val. No-op (val freed) if equal. */
void db_set(struct db_txn *t, struct db_obj *o, int field, xv val);
void db_set_str(struct db_txn *t, struct db_obj *o, int field, const char *s);
void db_set_int(struct db_txn *t, struct db_obj *o, int field, int64_t i);
void db_set_bool(struct db_txn *t, struct db_obj *o, int field, bool b);
/* For in-place edits of a map or set: remembers the old value first. */
xv *db_edit(struct db_txn *t, struct db_obj *o, int field);
void db_delete(struct db_txn *t, struct db_obj *o);
/* Marks an object changed without changing a field (event.inject). */
void db_touch(struct db_txn *t, struct db_obj *o);
/* Writes the durable log, bumps the generation, wakes event waiters and
 * releases the lock. On a log failure the transaction is rolled back. */
int db_commit(struct db_txn *t, struct xerr *err);
void db_abort(struct db_txn *t);
/* Sets (r NULL: clears) the replicator; before any transaction runs. */
void db_set_replicator(struct db *db, const struct db_replicator *r);
/* Commits the transaction that records how an operation went: rc when
 * the commit succeeds or rc already says failure (its error stays in err),
 * else -1 with the commit's error. */
int db_commit_outcome(struct db_txn *t, int rc, struct xerr *err);
struct db *db_txn_db(struct db_txn *t);
/* The transaction's changes so far as an entry of the replicated log
 * (durable_entry_encode); returns the number of rows. */
struct strbuf;
size_t db_txn_encode(struct db_txn *t, struct strbuf *sb);

/* ---- events ---- */
uint64_t db_generation(struct db *db);
void db_waiter_add(struct db *db, struct db_waiter *w);
void db_waiter_remove(struct db *db, struct db_waiter *w);
/* How many waiters there are now. */
size_t db_waiter_count(struct db *db);
/* Wakes every waiter, e.g. when a session ends so its waits can fail. */
void db_wake_all(struct db *db);
/* Objects changed since generation `since`, oldest first, filtered by a
 * callback; stops after max (0 = no limit). Hold the read lock. */
typedef bool (*db_change_fn)(struct db_obj *o, void *arg);
size_t db_changes_since(struct db *db, uint64_t since, db_change_fn fn, void *arg);

#endif
