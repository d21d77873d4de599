/* db: rows, indexes and transactions (see db.h). Relations are stored on
 * one side only (VBD.VM); the other side (VM.VBDs) is answered from an
 * index kept here, so the two can never disagree. */
#include "db.h"
#include "db_int.h"
#include "durable.h"
#include "../base/fault.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum undo_kind { U_SET, U_CREATE, U_DELETE };

struct undo {
	enum undo_kind kind;
	struct db_obj *o;
	int field;
	xv old;
	struct db_obj *cls_prev; /* U_DELETE: o's neighbour in its class list */
};

struct db_txn {
	struct db *db;
	struct undo *undo;
	size_t nundo, capundo;
	struct db_obj **changed;
	size_t nchanged, capchanged;
	bool from_log; /* db_txn_from_log */
};

/* ---- relation index ---- */

static void vec_push(struct db_objvec *v, struct db_obj *o)
{
	if (v->n == v->cap) {
		v->cap = v->cap ? v->cap * 2 : 4;
		v->v = xrealloc(v->v, sizeof(*v->v) * v->cap);
	}
	v->v[v->n++] = o;
}

static void vec_remove(struct db_objvec *v, struct db_obj *o)
{
	for (size_t i = 0; i < v->n; i++) {
		if (v->v[i] == o) {
			memmove(&v->v[i], &v->v[i + 1], sizeof(*v->v) * (v->n - i - 1));
			v->n--;
			return;
		}
	}
}

/* The index is keyed by target ref strings it owns, so targets may be
 * created after their referrers (as imports do). */
struct relvec {
	char *key;
	struct db_objvec vec;
};

static void rel_add(struct db *db, int rel, const char *target, struct db_obj *o)
{
	if (ref_is_null(target))
		return;
	struct relvec *rv = hmap_get(&db->rel_index[rel], target);
	if (!rv) {
		rv = xcalloc(1, sizeof *rv);
		rv->key = xstrdup(target);
		hmap_put(&db->rel_index[rel], rv->key, rv);
	}
	vec_push(&rv->vec, o);
}

static void rel_del(struct db *db, int rel, const char *target, struct db_obj *o)
{
	if (ref_is_null(target))
		return;
	struct relvec *rv = hmap_get(&db->rel_index[rel], target);
	if (!rv)
		return;
	vec_remove(&rv->vec, o);
	if (rv->vec.n == 0) {
		hmap_del(&db->rel_index[rel], target);
		free(rv->vec.v);
		free(rv->key);
		free(rv);
	}
}

static void index_obj(struct db *db, struct db_obj *o, bool add)
{
	const struct sc_class *c = &sc_classes[o->cls];
	for (int f = 0; f < c->nfields; f++) {
		int rel = c->fields[f].rel_index;
		if (rel < 0 || o->f[f].kind != XV_STR)
			continue;
		if (add)
			rel_add(db, rel, o->f[f].u.s, o);
		else
			rel_del(db, rel, o->f[f].u.s, o);
	}
	const char *uuid = c->uuid_field >= 0 ? xv_as_str(&o->f[c->uuid_field]) : NULL;
	struct db_class_table *tb = &db->tables[o->cls];
	if (add) {
		hmap_put(&db->by_ref, o->ref, o);
		if (uuid && *uuid)
			hmap_put(&tb->by_uuid, uuid, o);
		o->cls_prev = tb->tail;
		o->cls_next = NULL;
		if (tb->tail)
			tb->tail->cls_next = o;
		else
			tb->head = o;
		tb->tail = o;
		tb->count++;
	} else {
		hmap_del(&db->by_ref, o->ref);
		if (uuid && *uuid && hmap_get(&tb->by_uuid, uuid) == o)
			hmap_del(&tb->by_uuid, uuid);
		if (o->cls_prev)
			o->cls_prev->cls_next = o->cls_next;
		else
			tb->head = o->cls_next;
		if (o->cls_next)
			o->cls_next->cls_prev = o->cls_prev;
		else
			tb->tail = o->cls_prev;
		o->cls_prev = o->cls_next = NULL;
		tb->count--;
	}
}

/* Moves o, the last of its class, back to just after prev (NULL: first):
 * an undone deletion keeps the class's creation order. */
static void cls_move_after(struct db *db, struct db_obj *o, struct db_obj *prev)
{
	struct db_class_table *tb = &db->tables[o->cls];
	if (o->cls_prev == prev)
		return;
	tb->tail = o->cls_prev;
	tb->tail->cls_next = NULL;
	o->cls_prev = prev;
	o->cls_next = prev ? prev->cls_next : tb->head;
	if (prev)
		prev->cls_next = o;
	else
		tb->head = o;
	o->cls_next->cls_prev = o;
}

/* Swaps a stored value, keeping the relation and uuid indexes right. */
static void set_raw(struct db *db, struct db_obj *o, int field, xv val)
{
	const struct sc_class *c = &sc_classes[o->cls];
	int rel = c->fields[field].rel_index;
	bool live = !o->deleted && hmap_get(&db->by_ref, o->ref) == o;
	if (live && rel >= 0 && o->f[field].kind == XV_STR)
		rel_del(db, rel, o->f[field].u.s, o);
	if (live && field == c->uuid_field && o->f[field].kind == XV_STR)
		hmap_del(&db->tables[o->cls].by_uuid, o->f[field].u.s);
	xv_free(&o->f[field]);
	o->f[field] = val;
	if (live && rel >= 0 && val.kind == XV_STR)
		rel_add(db, rel, val.u.s, o);
	if (live && field == c->uuid_field && val.kind == XV_STR)
		hmap_put(&db->tables[o->cls].by_uuid, val.u.s, o);
}

/* ---- change list ---- */

static void chg_unlink(struct db *db, struct db_obj *o)
{
	if (o->chg_prev)
		o->chg_prev->chg_next = o->chg_next;
	else if (db->chg_head == o)
		db->chg_head = o->chg_next;
	if (o->chg_next)
		o->chg_next->chg_prev = o->chg_prev;
	else if (db->chg_tail == o)
		db->chg_tail = o->chg_prev;
	o->chg_prev = o->chg_next = NULL;
}

static void chg_append(struct db *db, struct db_obj *o)
{
	o->chg_prev = db->chg_tail;
	o->chg_next = NULL;
	if (db->chg_tail)
		db->chg_tail->chg_next = o;
	else
		db->chg_head = o;
	db->chg_tail = o;
}

static void obj_free(struct db_obj *o)
{
	if (o->f) {
		for (int i = 0; i < sc_classes[o->cls].nfields; i++)
			xv_free(&o->f[i]);
		free(o->f);
	}
	free(o);
}

/* Keeps tombstones bounded; a client whose token predates the floor gets
 * EVENTS_LOST and resynchronises, as with xapi's legacy queue. */
#define MAX_TOMBS 100000

static void tomb_gc(struct db *db)
{
	if (db->ntombs <= MAX_TOMBS)
		return;
	struct db_obj *o = db->chg_head;
	while (o && db->ntombs > MAX_TOMBS / 2) {
		struct db_obj *next = o->chg_next;
		if (o->deleted) {
			db->tomb_floor = o->mtime;
			chg_unlink(db, o);
			obj_free(o);
			db->ntombs--;
		}
		o = next;
	}
}

/* ---- open / close ---- */

static struct db *db_alloc(void)
{
	schema_init();
	struct db *db = xcalloc(1, sizeof *db);
	pthread_rwlockattr_t attr;
	pthread_rwlockattr_init(&attr);
	/* writers must not starve behind a stream of get_record readers */
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&db->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	pthread_mutex_init(&db->wait_lock, NULL);
	pthread_cond_init(&db->wait_cond, NULL);
	pthread_mutex_init(&db->pend_lock, NULL);
	pthread_cond_init(&db->pend_cond, NULL);
	hmap_init(&db->by_ref);
	db->tables = xcalloc((size_t)sc_nclasses, sizeof(struct db_class_table));
	for (int i = 0; i < sc_nclasses; i++)
		hmap_init(&db->tables[i].by_uuid);
	db->rel_index = xcalloc((size_t)(sc_nrelations ? sc_nrelations : 1), sizeof(struct hmap));
	for (int i = 0; i < sc_nrelations; i++)
		hmap_init(&db->rel_index[i]);
	return db;
}

/* Used by the loader: an object with default fields, not yet indexed. */
struct db_obj *db_obj_new_raw(struct db *db, int cls, const char *ref)
{
	(void)db;
	const struct sc_class *c = &sc_classes[cls];
	struct db_obj *o = xcalloc(1, sizeof *o);
	o->cls = cls;
	if (ref)
		snprintf(o->ref, sizeof o->ref, "%s", ref);
	else
		ref_generate(o->ref);
	o->f = xcalloc((size_t)c->nfields + 1, sizeof(xv));
	for (int f = 0; f < c->nfields; f++) {
		if (sc_field_is_derived(&c->fields[f]))
			continue;
		o->f[f] = xv_copy(sc_field_default(cls, f));
	}
	return o;
}

void db_obj_insert_loaded(struct db *db, struct db_obj *o, uint64_t gen)
{
	o->ctime = o->mtime = gen;
	index_obj(db, o, true);
	if (sc_classes[o->cls].events)
		chg_append(db, o);
}

struct db *db_open(const char *path, struct xerr *err)
{
	struct db *db = db_alloc();
	if (path) {
		db->durable = durable_open(path, err);
		if (!db->durable) {
			db_close(db);
			return NULL;
		}
		if (durable_load(db->durable, db, err) < 0) {
			db_close(db);
			return NULL;
		}
	}
	return db;
}

void db_close(struct db *db)
{
	if (!db)
		return;
	if (db->durable)
		durable_close(db->durable);
	/* live objects are on their class lists; tombstones only on the change list */
	for (struct db_obj *o = db->chg_head, *n; o; o = n) {
		n = o->chg_next;
		if (o->deleted)
			obj_free(o);
	}
	for (int c = 0; c < sc_nclasses; c++) {
		for (struct db_obj *o = db->tables[c].head, *n; o; o = n) {
			n = o->cls_next;
			obj_free(o);
		}
		hmap_free(&db->tables[c].by_uuid);
	}
	for (int r = 0; r < sc_nrelations; r++) {
		const char *k;
		void *v;
		for (size_t it = 0; hmap_next(&db->rel_index[r], &it, &k, &v);) {
			struct relvec *rv = v;
			free(rv->vec.v);
			free(rv->key);
			free(rv);
		}
		hmap_free(&db->rel_index[r]);
	}
	free(db->rel_index);
	free(db->tables);
	hmap_free(&db->by_ref);
	pthread_rwlock_destroy(&db->lock);
	pthread_mutex_destroy(&db->wait_lock);
	pthread_cond_destroy(&db->wait_cond);
	free(db);
}

void db_rdlock(struct db *db)
{
	for (;;) {
		pthread_rwlock_rdlock(&db->lock);
		if (db->npend == 0) /* changes only under the write lock */
			return;
		pthread_rwlock_unlock(&db->lock);
		/* a pipelined commit is not settled: its changes are in memory
		 * but not committed yet */
		pthread_mutex_lock(&db->pend_lock);
		db->readers_waiting++;
		while (db->npend)
			pthread_cond_wait(&db->pend_cond, &db->pend_lock);
		db->readers_waiting--;
		pthread_mutex_unlock(&db->pend_lock);
	}
}
void db_unlock(struct db *db) { pthread_rwlock_unlock(&db->lock); }

/* ---- reading ---- */

struct db_obj *db_lookup(struct db *db, const char *ref)
{
	return ref ? hmap_get(&db->by_ref, ref) : NULL;
}

struct db_obj *db_lookup_cls(struct db *db, int cls, const char *ref)
{
	struct db_obj *o = db_lookup(db, ref);
	return o && o->cls == cls ? o : NULL;
}

struct db_obj *db_lookup_uuid(struct db *db, int cls, const char *uuid)
{
	return uuid ? hmap_get(&db->tables[cls].by_uuid, uuid) : NULL;
}

struct db_obj *db_first(struct db *db, int cls) { return db->tables[cls].head; }
struct db_obj *db_next(struct db_obj *o) { return o->cls_next; }
size_t db_count(struct db *db, int cls) { return db->tables[cls].count; }

const struct db_objvec *db_referrers(struct db *db, int relation, const char *ref)
{
	struct relvec *rv = hmap_get(&db->rel_index[relation], ref);
	return rv ? &rv->vec : NULL;
}

const struct db_objvec *db_derived(struct db *db, const struct db_obj *o, int field,
				   uint32_t ref_hash)
{
	const struct sc_field *f = &sc_classes[o->cls].fields[field];
	int rel = sc_classes[f->rel_cls].fields[f->rel_field].rel_index;
	struct relvec *rv = hmap_get_hashed(&db->rel_index[rel], o->ref, ref_hash);
	return rv ? &rv->vec : NULL;
}

xv db_get(struct db *db, const struct db_obj *o, int field)
{
	const struct sc_field *f = &sc_classes[o->cls].fields[field];
	if (!sc_field_is_derived(f))
		return xv_copy(&o->f[field]);
	xv set = xv_arr_new();
	const struct db_objvec *v = db_derived(db, o, field, hmap_hash(o->ref));
	for (size_t i = 0; v && i < v->n; i++)
		xv_arr_push_str(&set, v->v[i]->ref);
	return set;
}

const xv *db_peek(const struct db_obj *o, int field) { return &o->f[field]; }

const char *db_peek_str(const struct db_obj *o, int field)
{
	const char *s = xv_as_str(&o->f[field]);
	return s ? s : "";
}

int64_t db_peek_int(const struct db_obj *o, int field)
{
	const xv *v = &o->f[field];
	return v->kind == XV_INT || v->kind == XV_I32 ? v->u.i : 0;
}

bool db_peek_bool(const struct db_obj *o, int field)
{
	return o->f[field].kind == XV_BOOL && o->f[field].u.b;
}

xv db_record(struct db *db, const struct db_obj *o)
{
	const struct sc_class *c = &sc_classes[o->cls];
	xv r = xv_map_new();
	r.u.m->cap = (size_t)c->nfields;
	r.u.m->keys = xmalloc(sizeof(char *) * (size_t)c->nfields);
	r.u.m->vals = xmalloc(sizeof(xv) * (size_t)c->nfields);
	for (int f = 0; f < c->nfields; f++)
		xv_map_append(&r, c->fields[f].name, db_get(db, o, f));
	return r;
}

/* ---- writing ---- */

static void mark_changed(struct db_txn *t, struct db_obj *o);

static void settle(struct db *db, bool force);
static void wake_waiters(struct db *db, const uint64_t mask[2]);

/* Releases the write lock, then wakes the event waiters of what settled
 * under it (never with the lock held: a waiter's wake takes locks of its
 * own). */
static void wunlock(struct db *db)
{
	uint64_t mask[2] = {db->wake_mask[0], db->wake_mask[1]};
	db->wake_mask[0] = db->wake_mask[1] = 0;
	pthread_rwlock_unlock(&db->lock);
	if (mask[0] || mask[1])
		wake_waiters(db, mask);
}

static struct db_txn *begin(struct db *db, bool from_log)
{
	struct db_txn *t = xcalloc(1, sizeof *t);
	t->db = db;
	t->from_log = from_log;
	/* a transaction from the log is applied by the pool's own thread,
	 * which pending commits wait for: it never waits here */
	for (; !from_log;) {
		/* readers waiting for the pipeline to empty, or a drain: new
		 * writers wait too, so the pipeline does empty */
		pthread_mutex_lock(&db->pend_lock);
		bool hold = (db->npend && db->readers_waiting) || db->drainers;
		if (hold)
			pthread_cond_wait(&db->pend_cond, &db->pend_lock);
		pthread_mutex_unlock(&db->pend_lock);
		if (!hold)
			break;
	}
	pthread_rwlock_wrlock(&db->lock);
	/* from the log: this node no longer leads (a leader's own entries
	 * are not applied from the log, and its others only when nothing is
	 * pending, pool_raft_submit), so a pending commit can only fail */
	if (db->npend)
		settle(db, from_log);
	fault_alloc_scope_begin();
	return t;
}

struct db_txn *db_begin(struct db *db) { return begin(db, false); }
struct db_txn *db_begin_log(struct db *db) { return begin(db, true); }

struct db *db_txn_db(struct db_txn *t) { return t->db; }
void db_txn_from_log(struct db_txn *t) { t->from_log = true; }

size_t db_txn_encode(struct db_txn *t, struct strbuf *sb)
{
	return durable_entry_encode(t->changed, t->nchanged, sb);
}

static void undo_push(struct db_txn *t, enum undo_kind k, struct db_obj *o, int field, xv old)
{
	if (t->nundo == t->capundo) {
		t->capundo = t->capundo ? t->capundo * 2 : 16;
		t->undo = xrealloc(t->undo, sizeof(struct undo) * t->capundo);
	}
	t->undo[t->nundo++] = (struct undo){.kind = k, .o = o, .field = field, .old = old};
}

static void mark_changed(struct db_txn *t, struct db_obj *o)
{
	if (o->in_txn)
		return;
	o->in_txn = true;
	if (t->nchanged == t->capchanged) {
		t->capchanged = t->capchanged ? t->capchanged * 2 : 16;
		t->changed = xrealloc(t->changed, sizeof(struct db_obj *) * t->capchanged);
	}
	t->changed[t->nchanged++] = o;
}

struct db_obj *db_create(struct db_txn *t, int cls, const char *ref)
{
	if (ref && hmap_get(&t->db->by_ref, ref))
		return NULL; /* two objects under one ref would corrupt the index */
	struct db_obj *o = db_obj_new_raw(t->db, cls, ref);
	const struct sc_class *c = &sc_classes[cls];
	if (c->uuid_field >= 0) {
		char uuid[UUID_STRLEN + 1];
		uuid_generate_str(uuid);
		xv_free(&o->f[c->uuid_field]);
		o->f[c->uuid_field] = xv_str(uuid);
	}
	o->ctime = UINT64_MAX; /* set at commit */
	index_obj(t->db, o, true);
	undo_push(t, U_CREATE, o, -1, XV_NIL_INIT);
	mark_changed(t, o);
	return o;
}

/* The other end of a relation shows the change too (VBD.VM moving changes
 * VM.VBDs), so the targets get a new generation and a mod event, as
 * xapi's database does. */
static void touch_target(struct db_txn *t, const xv *ref)
{
	const char *r = xv_as_str(ref);
	struct db_obj *target = ref_is_null(r) ? NULL : db_lookup(t->db, r);
	if (target)
		mark_changed(t, target);
}

static void touch_relations(struct db_txn *t, struct db_obj *o)
{
	const struct sc_class *c = &sc_classes[o->cls];
	for (int f = 0; f < c->nfields; f++)
		if (c->fields[f].rel_index >= 0)
			touch_target(t, &o->f[f]);
}

void db_set(struct db_txn *t, struct db_obj *o, int field, xv val)
{
	if (xv_equal(&o->f[field], &val)) {
		xv_free(&val);
		return;
	}
	if (sc_classes[o->cls].fields[field].rel_index >= 0) {
		touch_target(t, &o->f[field]);
		touch_target(t, &val);
	}
	undo_push(t, U_SET, o, field, xv_copy(&o->f[field]));
	set_raw(t->db, o, field, val);
	mark_changed(t, o);
}

void db_set_str(struct db_txn *t, struct db_obj *o, int field, const char *s)
{
	db_set(t, o, field, xv_str(s));
}

void db_set_int(struct db_txn *t, struct db_obj *o, int field, int64_t i)
{
	db_set(t, o, field, xv_int(i));
}

void db_set_bool(struct db_txn *t, struct db_obj *o, int field, bool b)
{
	db_set(t, o, field, xv_bool(b));
}

xv *db_edit(struct db_txn *t, struct db_obj *o, int field)
{
	/* relation and uuid fields are scalars and go through db_set */
	undo_push(t, U_SET, o, field, xv_copy(&o->f[field]));
	mark_changed(t, o);
	return &o->f[field];
}

void db_delete(struct db_txn *t, struct db_obj *o)
{
	if (o->deleted)
		return;
	touch_relations(t, o);
	struct db_obj *prev = o->cls_prev;
	index_obj(t->db, o, false);
	o->deleted = true;
	undo_push(t, U_DELETE, o, -1, XV_NIL_INIT);
	t->undo[t->nundo - 1].cls_prev = prev;
	mark_changed(t, o);
}

void db_touch(struct db_txn *t, struct db_obj *o)
{
	mark_changed(t, o);
}

static void txn_free(struct db_txn *t)
{
	for (size_t i = 0; i < t->nundo; i++)
		xv_free(&t->undo[i].old);
	free(t->undo);
	free(t->changed);
	free(t);
}

int db_commit_outcome(struct db_txn *t, int rc, struct xerr *err)
{
	struct xerr e = XERR_INIT;
	if (db_commit(t, &e) < 0 && rc == 0) {
		xerr_move(err, &e);
		rc = -1;
	}
	xerr_clear(&e);
	return rc;
}

static void undo_txn(struct db *db, struct db_txn *t)
{
	for (size_t i = t->nundo; i-- > 0;) {
		struct undo *u = &t->undo[i];
		switch (u->kind) {
		case U_SET:
			set_raw(db, u->o, u->field, u->old);
			u->old = XV_NIL_INIT;
			break;
		case U_DELETE:
			u->o->deleted = false;
			index_obj(db, u->o, true);
			cls_move_after(db, u->o, u->cls_prev);
			break;
		case U_CREATE:
			index_obj(db, u->o, false);
			u->o->deleted = true; /* freed below, once no undo refers to it */
			break;
		}
	}
}

/* Waits until every pipelined commit queued up to seq is settled; false
 * when one of them was rolled back. */
static bool wait_settled(struct db *db, uint64_t seq)
{
	pthread_mutex_lock(&db->pend_lock);
	while (db->settled_seq < seq)
		pthread_cond_wait(&db->pend_cond, &db->pend_lock);
	bool ok = !(db->rb_lo && seq >= db->rb_lo && seq <= db->rb_hi);
	pthread_mutex_unlock(&db->pend_lock);
	return ok;
}

void db_abort(struct db_txn *t)
{
	struct db *db = t->db;
	undo_txn(db, t);
	for (size_t i = 0; i < t->nchanged; i++) {
		struct db_obj *o = t->changed[i];
		o->in_txn = false;
		if (o->ctime == UINT64_MAX && !o->pend)
			obj_free(o);
	}
	uint64_t seq = db->npend ? db->pend_seq : 0;
	fault_alloc_scope_end();
	wunlock(db);
	txn_free(t);
	/* what it saw may be a pending commit's: answered once that settled */
	if (seq)
		wait_settled(db, seq);
}

struct db_pend {
	struct db *db;
	struct db_txn *t;
	struct strbuf entry;
	uint64_t seq;
	int state; /* 0: waiting for the pool, 1: committed, 2: failed */
	bool reported; /* db_pend_complete ran: the pool is done with it */
	bool settled;  /* finished (result 0) or rolled back (-1) */
	int result;
	uint64_t index;
	struct xerr err;
	/* its committer waits here (pend_wait): woken when it is settled or
	 * reported, or, at the head of the pipeline, when it can be settled -
	 * not every committer at every commit */
	pthread_cond_t cond;
	struct db_pend *next;
};

/* Makes a committed transaction's changes visible: generation, events'
 * order, tombstones. An object a later pending transaction lists too is
 * left to that one's finish. Returns the classes changed. */
static void publish(struct db *db, struct db_txn *t, uint64_t gen, uint64_t mask[2], bool pipelined)
{
	for (size_t i = 0; i < t->nchanged; i++) {
		struct db_obj *o = t->changed[i];
		o->in_txn = false;
		if (pipelined)
			o->pend--;
		bool created = o->ctime == UINT64_MAX;
		if (created)
			o->ctime = gen;
		o->mtime = gen;
		bool events = sc_classes[o->cls].events;
		if (events)
			mask[o->cls / 64] |= 1ull << (o->cls % 64);
		if (o->pend) { /* a later transaction settles it */
			if (events) {
				if (!created)
					chg_unlink(db, o);
				chg_append(db, o);
			}
			continue;
		}
		if (o->deleted) {
			if (!created && events)
				chg_unlink(db, o);
			if (created || !events) {
				obj_free(o);
				continue;
			}
			/* a tombstone keeps only its class, ref and generations */
			for (int f = 0; f < sc_classes[o->cls].nfields; f++)
				xv_free(&o->f[f]);
			free(o->f);
			o->f = NULL;
			chg_append(db, o);
			db->ntombs++;
		} else if (events) {
			if (!created)
				chg_unlink(db, o);
			chg_append(db, o);
		}
	}
	tomb_gc(db);
}

static void wake_waiters(struct db *db, const uint64_t mask[2])
{
	pthread_mutex_lock(&db->wait_lock);
	pthread_cond_broadcast(&db->wait_cond);
	for (struct db_waiter *w = db->waiters, *n; w; w = n) {
		n = w->next;
		if ((w->classes[0] & mask[0]) || (w->classes[1] & mask[1]))
			w->wake(w->arg);
	}
	pthread_mutex_unlock(&db->wait_lock);
}

/* With the write lock: settles the pending commits at the head of the
 * pipeline whose outcome is known, in log order (force: every one, those
 * not known yet as failed). A failed one is rolled back with every one
 * after it (they were made on its changes; the pool fails them too, as
 * they follow it in the log), last first. */
static void settle(struct db *db, bool force)
{
	uint64_t mask[2] = {0, 0};
	pthread_mutex_lock(&db->pend_lock);
	while (db->pend_head && (db->pend_head->state || force)) {
		struct db_pend *pd = db->pend_head;
		if (pd->state == 1) {
			pthread_mutex_unlock(&db->pend_lock);
			uint64_t gen = db->gen + 1;
			struct xerr de = XERR_INIT;
			db->log_index = pd->index;
			if (db->durable &&
			    durable_write_entry(db->durable, pd->entry.buf, pd->entry.len, gen, pd->index, &de) < 0) {
				/* the pool has committed it: memory keeps it, this
				 * host's SQLite gets it from the log at the next start */
				log_error("db: durable write failed: %s", de.code ? de.code : "?");
				xerr_clear(&de);
			}
			db->gen = gen;
			publish(db, pd->t, gen, mask, true);
			txn_free(pd->t);
			pd->t = NULL;
			pthread_mutex_lock(&db->pend_lock);
			db->pend_head = pd->next;
			if (!db->pend_head)
				db->pend_tail = NULL;
			db->npend--;
			db->settled_seq = pd->seq;
			pd->settled = true;
			pd->result = 0;
			pthread_cond_signal(&pd->cond);
			continue;
		}
		/* failed: roll back it and every later one */
		size_t n = 0;
		for (struct db_pend *q = pd; q; q = q->next)
			n++;
		struct db_pend **v = xcalloc(n, sizeof *v);
		n = 0;
		for (struct db_pend *q = pd; q; q = q->next)
			v[n++] = q;
		pthread_mutex_unlock(&db->pend_lock);
		for (size_t k = n; k-- > 0;)
			undo_txn(db, v[k]->t);
		struct db_objvec gone = {0};
		for (size_t k = 0; k < n; k++)
			for (size_t i = 0; i < v[k]->t->nchanged; i++) {
				struct db_obj *o = v[k]->t->changed[i];
				o->pend--;
				/* made by one of these: freed once (in_txn marks it listed) */
				if (o->ctime == UINT64_MAX && o->deleted && !o->in_txn) {
					o->in_txn = true;
					vec_push(&gone, o);
				}
			}
		for (size_t i = 0; i < gone.n; i++)
			obj_free(gone.v[i]);
		free(gone.v);
		log_warn("db: %zu pipelined commits rolled back (the pool did not commit the first)", n);
		pthread_mutex_lock(&db->pend_lock);
		db->rb_lo = v[0]->seq;
		db->rb_hi = v[n - 1]->seq;
		for (size_t k = 0; k < n; k++) {
			txn_free(v[k]->t);
			v[k]->t = NULL;
			v[k]->settled = true;
			v[k]->result = -1;
			pthread_cond_signal(&v[k]->cond);
		}
		db->settled_seq = v[n - 1]->seq;
		db->pend_head = db->pend_tail = NULL;
		db->npend = 0;
		free(v);
	}
	pthread_cond_broadcast(&db->pend_cond);
	pthread_mutex_unlock(&db->pend_lock);
	db->wake_mask[0] |= mask[0];
	db->wake_mask[1] |= mask[1];
}

void db_pend_complete(struct db_pend *pd, bool ok, uint64_t index, struct xerr *err)
{
	struct db *db = pd->db;
	pthread_mutex_lock(&db->pend_lock);
	if (ok && pd->settled && pd->result < 0)
		log_error("db: a pipelined commit rolled back here was committed by the pool");
	if (!pd->state) { /* not rolled back already */
		pd->state = ok ? 1 : 2;
		pd->index = index;
	}
	if (!ok && err)
		xerr_move(&pd->err, err);
	pd->reported = true;
	pthread_cond_signal(&pd->cond);
	/* the head's committer settles it, and those after it known by then */
	if (db->pend_head && db->pend_head != pd && db->pend_head->state)
		pthread_cond_signal(&db->pend_head->cond);
	if (db->drainers) /* db_drain_begin waits for the head's outcome */
		pthread_cond_broadcast(&db->pend_cond);
	pthread_mutex_unlock(&db->pend_lock);
}

/* The committer of a pipelined transaction, without the write lock: waits
 * for its outcome, settling the head of the pipeline whenever its outcome
 * is known (whichever committer gets there first does). */
static int pend_wait(struct db *db, struct db_pend *pd, struct xerr *err)
{
	pthread_mutex_lock(&db->pend_lock);
	for (;;) {
		if (pd->settled && pd->reported)
			break;
		if (db->pend_head && db->pend_head->state) {
			pthread_mutex_unlock(&db->pend_lock);
			pthread_rwlock_wrlock(&db->lock);
			settle(db, false);
			wunlock(db);
			pthread_mutex_lock(&db->pend_lock);
			continue;
		}
		pthread_cond_wait(&pd->cond, &db->pend_lock);
	}
	pthread_mutex_unlock(&db->pend_lock);
	int rc = pd->result;
	if (rc < 0) {
		if (pd->err.code)
			xerr_move(err, &pd->err);
		else
			xerr_internal(err, "pool: an earlier write was not committed");
	}
	xerr_clear(&pd->err);
	sb_free(&pd->entry);
	pthread_cond_destroy(&pd->cond);
	free(pd);
	return rc;
}

int db_commit(struct db_txn *t, struct xerr *err)
{
	struct db *db = t->db;
	if (t->nchanged == 0) {
		uint64_t seq = db->npend ? db->pend_seq : 0;
		fault_alloc_scope_end();
		wunlock(db);
		txn_free(t);
		/* what it saw may be a pending commit's: answered once that settled */
		if (seq && !wait_settled(db, seq))
			return xerr_internal(err, "pool: an earlier write was not committed");
		return 0;
	}
	uint64_t gen = db->gen + 1;
	if (fault_alloc_failed()) { /* an injected allocation failure in the transaction */
		xerr_internal(err, "out of memory in a transaction");
		db_abort(t);
		return -1;
	}
	bool replicated = false;
	if (db->repl.replicate && !t->from_log) {
		struct strbuf sb;
		sb_init(&sb);
		int r = 0;
		if (db_txn_encode(t, &sb) > 0) {
			if (db->repl.submit) {
				struct db_pend *pd = xcalloc(1, sizeof *pd);
				pthread_cond_init(&pd->cond, NULL);
				pd->db = db;
				pd->t = t;
				pd->entry = sb;
				pthread_mutex_lock(&db->pend_lock);
				pd->seq = ++db->pend_seq;
				if (db->pend_tail)
					db->pend_tail->next = pd;
				else
					db->pend_head = pd;
				db->pend_tail = pd;
				db->npend++;
				pthread_mutex_unlock(&db->pend_lock);
				r = db->repl.submit(db->repl.arg, sb.buf, sb.len, pd, err);
				if (r == 1) {
					for (size_t i = 0; i < t->nchanged; i++) {
						t->changed[i]->in_txn = false;
						t->changed[i]->pend++;
					}
					fault_alloc_scope_end();
					wunlock(db);
					return pend_wait(db, pd, err);
				}
				/* answered at once: not in the pipeline */
				pthread_mutex_lock(&db->pend_lock);
				struct db_pend **pp = &db->pend_head;
				db->pend_tail = NULL;
				while (*pp) {
					if (*pp == pd)
						*pp = pd->next;
					else {
						db->pend_tail = *pp;
						pp = &(*pp)->next;
					}
				}
				db->npend--;
				db->pend_seq--; /* nobody saw it: the write lock was held */
				pthread_cond_broadcast(&db->pend_cond);
				pthread_mutex_unlock(&db->pend_lock);
				xerr_clear(&pd->err);
				pthread_cond_destroy(&pd->cond);
				free(pd);
			} else {
				r = db->repl.replicate(db->repl.arg, sb.buf, sb.len, err);
			}
			replicated = r == 0;
		}
		sb_free(&sb);
		if (r < 0) {
			db_abort(t);
			return -1;
		}
	}
	struct xerr de = XERR_INIT;
	if (db->durable && durable_write(db->durable, db, t->changed, t->nchanged, gen, &de) < 0) {
		log_error("db: durable write failed: %s", de.code ? de.code : "?");
		if (!replicated) {
			if (err)
				xerr_move(err, &de);
			xerr_clear(&de);
			db_abort(t);
			return -1;
		}
		/* the pool has committed it: memory keeps it, this host's SQLite
		 * misses it until the log is applied again at the next start */
		xerr_clear(&de);
	}
	db->gen = gen;
	uint64_t mask[2] = {0, 0};
	publish(db, t, gen, mask, false);
	fault_alloc_scope_end();
	wunlock(db);
	txn_free(t);
	wake_waiters(db, mask);
	return 0;
}

void db_drain_begin(struct db *db)
{
	pthread_mutex_lock(&db->pend_lock);
	db->drainers++;
	pthread_mutex_unlock(&db->pend_lock);
	for (;;) {
		pthread_rwlock_wrlock(&db->lock);
		if (db->npend)
			settle(db, false);
		size_t n = db->npend;
		wunlock(db);
		if (!n)
			return;
		pthread_mutex_lock(&db->pend_lock);
		if (db->npend && !(db->pend_head && db->pend_head->state))
			pthread_cond_wait(&db->pend_cond, &db->pend_lock);
		pthread_mutex_unlock(&db->pend_lock);
	}
}

void db_drain_end(struct db *db)
{
	pthread_mutex_lock(&db->pend_lock);
	db->drainers--;
	pthread_cond_broadcast(&db->pend_cond);
	pthread_mutex_unlock(&db->pend_lock);
}

void db_set_replicator(struct db *db, const struct db_replicator *r)
{
	db->repl = r ? *r : (struct db_replicator){0};
}

/* ---- events ---- */

uint64_t db_generation(struct db *db)
{
	return __atomic_load_n(&db->gen, __ATOMIC_ACQUIRE);
}

void db_waiter_add(struct db *db, struct db_waiter *w)
{
	pthread_mutex_lock(&db->wait_lock);
	w->prev = NULL;
	w->next = db->waiters;
	if (db->waiters)
		db->waiters->prev = w;
	db->waiters = w;
	pthread_mutex_unlock(&db->wait_lock);
}

size_t db_waiter_count(struct db *db)
{
	size_t n = 0;
	pthread_mutex_lock(&db->wait_lock);
	for (struct db_waiter *w = db->waiters; w; w = w->next)
		n++;
	pthread_mutex_unlock(&db->wait_lock);
	return n;
}

void db_waiter_remove(struct db *db, struct db_waiter *w)
{
	pthread_mutex_lock(&db->wait_lock);
	if (w->prev)
		w->prev->next = w->next;
	else if (db->waiters == w)
		db->waiters = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	pthread_mutex_unlock(&db->wait_lock);
}

void db_wake_all(struct db *db)
{
	pthread_mutex_lock(&db->wait_lock);
	pthread_cond_broadcast(&db->wait_cond);
	for (struct db_waiter *w = db->waiters, *n; w; w = n) {
		n = w->next;
		w->wake(w->arg);
	}
	pthread_mutex_unlock(&db->wait_lock);
}

size_t db_changes_since(struct db *db, uint64_t since, db_change_fn fn, void *arg)
{
	struct db_obj *o = db->chg_tail;
	size_t n = 0;
	while (o && o->mtime > since) {
		o = o->chg_prev;
		n++;
	}
	/* o is now the newest object at or before `since`; walk forward */
	struct db_obj *start = o ? o->chg_next : db->chg_head;
	size_t taken = 0;
	for (struct db_obj *p = start; p; p = p->chg_next)
		if (fn(p, arg))
			taken++;
	return taken;
}
