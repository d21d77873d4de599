/* event: event.from with xapi's tokens and coalescing, the legacy
 * register/next/unregister queue, inject and get_current_id. Waiting is
 * done by the transport (RPC_WAIT), so a waiting client holds no thread. */
#include "api.h"
#include "../base/clock.h"
#include "../base/hmap.h"
#include "../base/mem.h"
#include "generic.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct subscription {
	uint64_t classes[2];
	struct hmap objects; /* "class/ref" subscriptions: ref -> non-NULL */
	bool any_object;
};

static void sub_free(struct subscription *s)
{
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&s->objects, &it, &k, &v);)
		free(v);
	hmap_free(&s->objects);
}

static int sub_parse(const xv *classes, struct subscription *s, struct xerr *err)
{
	memset(s, 0, sizeof *s);
	hmap_init(&s->objects);
	for (size_t i = 0; i < xv_len(classes); i++) {
		const char *c = xv_as_str(xv_arr_get(classes, i));
		if (!c)
			return xerr_set(err, ERR_EVENT_SUBSCRIPTION_PARSE_FAILURE, "", NULL);
		if (strcmp(c, "*") == 0) {
			s->classes[0] = s->classes[1] = ~0ull;
			continue;
		}
		const char *slash = strchr(c, '/');
		char name[64];
		snprintf(name, sizeof name, "%.*s", (int)(slash ? slash - c : (long)strlen(c)), c);
		int cls = sc_class_find_lower(name);
		if (cls < 0 || !sc_classes[cls].stored)
			continue; /* xapi: a class with no table matches nothing */
		if (slash) {
			char *ref = xstrdup(slash + 1);
			free(hmap_put(&s->objects, ref, ref));
			s->any_object = true;
		} else {
			s->classes[cls / 64] |= 1ull << (cls % 64);
		}
	}
	return 0;
}

static bool sub_wants(const struct subscription *s, const struct db_obj *o)
{
	if (s->classes[o->cls / 64] & (1ull << (o->cls % 64)))
		return true;
	return s->any_object && hmap_get(&s->objects, o->ref);
}

static void token_format(char *buf, size_t n, uint64_t gen)
{
	snprintf(buf, n, "%020" PRIu64 ",%020" PRIu64, gen, (uint64_t)0);
}

static int token_parse(const char *tok, uint64_t *gen, struct xerr *err)
{
	if (!tok[0]) {
		*gen = 0;
		return 0;
	}
	/* "<db generation>,<message generation>", or a bare generation */
	char *end;
	unsigned long long g = strtoull(tok, &end, 10);
	bool ok = end != tok && tok[0] >= '0' && tok[0] <= '9';
	if (ok && *end == ',') {
		const char *m = end + 1;
		strtoull(m, &end, 10);
		ok = end != m && m[0] >= '0' && m[0] <= '9';
	}
	if (!ok || *end)
		return xerr_set(err, ERR_EVENT_FROM_TOKEN_PARSE_FAILURE, tok, NULL);
	*gen = g;
	return 0;
}

struct collect {
	struct db *db;
	const struct subscription *sub;
	uint64_t since;
	xv *events;
	bool legacy;
};

static bool collect_one(struct db_obj *o, void *arg)
{
	struct collect *c = arg;
	if (!sub_wants(c->sub, o))
		return false;
	bool added = o->ctime > c->since;
	if (o->deleted && added)
		return false; /* born and gone inside the window */
	const char *op = o->deleted ? "del" : added ? "add" : "mod";
	xv ev = xv_map_new();
	char id[32];
	snprintf(id, sizeof id, "%" PRIu64, o->mtime);
	xv_map_append(&ev, "id", xv_str(id));
	xv_map_append(&ev, "timestamp", xv_str("0.0"));
	xv_map_append(&ev, "class", xv_str(sc_classes[o->cls].lname));
	xv_map_append(&ev, "operation", xv_str(op));
	xv_map_append(&ev, "ref", xv_str(o->ref));
	if (!o->deleted)
		xv_map_append(&ev, "snapshot", db_record(c->db, o));
	xv_arr_push(c->events, ev);
	return true;
}

static xv ref_counts(struct db *db)
{
	xv m = xv_map_new();
	for (int c = 0; c < sc_nclasses; c++)
		if (sc_classes[c].stored) /* every table, as xapi counts them */
			xv_map_append(&m, sc_classes[c].lname, xv_i32((int32_t)db_count(db, c)));
	return m;
}

/* Collects matching events since `since`; returns how many. */
static size_t gather(struct db *db, const struct subscription *sub, uint64_t since, xv *events,
		     uint64_t *now_gen, struct xerr *err, bool *lost)
{
	*lost = since < db->tomb_floor;
	struct collect c = {db, sub, since, events, false};
	size_t n = db_changes_since(db, since, collect_one, &c);
	*now_gen = db->gen;
	(void)err;
	return n;
}

/* Sets the deadline on the first attempt; true once it has passed. */
static bool deadline_passed(struct rpc_ctx *ctx, double timeout_s)
{
	int64_t now = clock_now_ms();
	if (!ctx->deadline_ms) {
		double cap = ctx->srv->cfg.event_wait_cap_s;
		if (timeout_s > cap)
			timeout_s = cap;
		if (timeout_s < 0)
			timeout_s = 0;
		ctx->deadline_ms = now + (int64_t)(timeout_s * 1000.0);
		if (ctx->deadline_ms == 0)
			ctx->deadline_ms = 1;
	}
	return now >= ctx->deadline_ms;
}

/* A worker thread (no transport to park on) waits on the store's condition. */
static void block_until_commit(struct db *db, uint64_t gen, int64_t deadline_ms)
{
	pthread_mutex_lock(&db->wait_lock);
	while (db_generation(db) == gen && clock_now_ms() < deadline_ms) {
		int64_t left = deadline_ms - clock_now_ms();
		struct timespec ts;
		clock_realtime_after(&ts, left > 100 ? 100 : left);
		pthread_cond_timedwait(&db->wait_cond, &db->wait_lock, &ts);
	}
	pthread_mutex_unlock(&db->wait_lock);
}

static int event_from(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	struct subscription sub;
	uint64_t since = 0;
	if (sub_parse(xv_arr_get(args, 0), &sub, err) < 0 ||
	    token_parse(xv_as_str(xv_arr_get(args, 1)), &since, err) < 0) {
		sub_free(&sub);
		return -1;
	}
	double timeout = xv_arr_get(args, 2)->u.f;
	for (;;) {
		xv events = xv_arr_new();
		uint64_t gen;
		bool lost;
		db_rdlock(ctx->db);
		size_t n = gather(ctx->db, &sub, since, &events, &gen, err, &lost);
		xv counts = XV_NIL_INIT;
		bool expired = deadline_passed(ctx, timeout);
		if (n || expired || lost)
			counts = ref_counts(ctx->db);
		db_unlock(ctx->db);
		if (lost) {
			xv_free(&events);
			xv_free(&counts);
			sub_free(&sub);
			return xerr_set(err, ERR_EVENTS_LOST, NULL);
		}
		if (n || expired) {
			char tok[64];
			token_format(tok, sizeof tok, gen);
			*result = xv_map_new();
			xv_map_append(result, "events", events);
			xv_map_append(result, "valid_ref_counts", counts);
			xv_map_append(result, "token", xv_str(tok));
			sub_free(&sub);
			return 0;
		}
		xv_free(&events);
		if (ctx->may_wait) {
			sub_free(&sub);
			return RPC_WAIT;
		}
		block_until_commit(ctx->db, gen, ctx->deadline_ms);
	}
}

static int get_current_id(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)err;
	*result = xv_int((int64_t)db_generation(ctx->db));
	return 0;
}

static int inject(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	const char *cname = xv_as_str(xv_arr_get(args, 0));
	const char *ref = xv_as_str(xv_arr_get(args, 1));
	int cls = sc_class_find(cname);
	if (cls < 0)
		cls = sc_class_find_lower(cname);
	struct db_txn *t = db_begin(ctx->db);
	struct db_obj *o = cls >= 0 ? db_lookup_cls(ctx->db, cls, ref) : NULL;
	if (!o) {
		db_abort(t);
		return xerr_set(err, ERR_HANDLE_INVALID, cname, ref, NULL);
	}
	uint64_t before = ctx->db->gen;
	db_touch(t, o);
	if (db_commit(t, err) < 0)
		return -1;
	char tok[64];
	token_format(tok, sizeof tok, before);
	*result = xv_str(tok);
	return 0;
}

/* ---- legacy register / next / unregister ---- */

struct legacy {
	char session[REF_STRLEN + 1];
	struct subscription sub;
	uint64_t since;
};

static pthread_mutex_t legacy_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hmap legacy_by_session;

static int reg(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct subscription add;
	if (sub_parse(xv_arr_get(args, 0), &add, err) < 0) {
		sub_free(&add);
		return -1;
	}
	pthread_mutex_lock(&legacy_lock);
	struct legacy *l = hmap_get(&legacy_by_session, ctx->session);
	if (!l) {
		l = xcalloc(1, sizeof *l);
		memcpy(l->session, ctx->session, sizeof l->session);
		hmap_init(&l->sub.objects);
		l->since = db_generation(ctx->db);
		hmap_put(&legacy_by_session, l->session, l);
	}
	l->sub.classes[0] |= add.classes[0];
	l->sub.classes[1] |= add.classes[1];
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&add.objects, &it, &k, &v);) {
		char *ref = xstrdup(k);
		free(hmap_put(&l->sub.objects, ref, ref));
		l->sub.any_object = true;
	}
	pthread_mutex_unlock(&legacy_lock);
	sub_free(&add);
	return 0;
}

static int unreg(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)result;
	struct subscription del;
	if (sub_parse(xv_arr_get(args, 0), &del, err) < 0) {
		sub_free(&del);
		return -1;
	}
	pthread_mutex_lock(&legacy_lock);
	struct legacy *l = hmap_get(&legacy_by_session, ctx->session);
	if (l) {
		l->sub.classes[0] &= ~del.classes[0];
		l->sub.classes[1] &= ~del.classes[1];
		const char *k;
		void *v;
		for (size_t it = 0; hmap_next(&del.objects, &it, &k, &v);)
			free(hmap_del(&l->sub.objects, k));
	}
	pthread_mutex_unlock(&legacy_lock);
	sub_free(&del);
	return 0;
}

static int next(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	for (;;) {
		pthread_mutex_lock(&legacy_lock);
		struct legacy *l = hmap_get(&legacy_by_session, ctx->session);
		if (!l) {
			pthread_mutex_unlock(&legacy_lock);
			return xerr_set(err, ERR_SESSION_NOT_REGISTERED, ctx->session, NULL);
		}
		xv events = xv_arr_new();
		uint64_t gen;
		bool lost;
		db_rdlock(ctx->db);
		size_t n = gather(ctx->db, &l->sub, l->since, &events, &gen, err, &lost);
		db_unlock(ctx->db);
		if (lost) {
			l->since = gen;
			pthread_mutex_unlock(&legacy_lock);
			xv_free(&events);
			return xerr_set(err, ERR_EVENTS_LOST, NULL);
		}
		if (n) {
			l->since = gen;
			pthread_mutex_unlock(&legacy_lock);
			*result = events;
			return 0;
		}
		pthread_mutex_unlock(&legacy_lock);
		xv_free(&events);
		/* no deadline: wait for the next relevant commit, as long as it takes */
		if (!ctx->deadline_ms || clock_now_ms() >= ctx->deadline_ms)
			ctx->deadline_ms = clock_now_ms() + 3600 * 1000;
		if (ctx->may_wait)
			return RPC_WAIT;
		block_until_commit(ctx->db, gen, ctx->deadline_ms);
	}
}

/* Called when a session ends: drops its legacy subscription. */
void event_session_gone(const char *session)
{
	pthread_mutex_lock(&legacy_lock);
	struct legacy *l = hmap_del(&legacy_by_session, session);
	pthread_mutex_unlock(&legacy_lock);
	if (l) {
		sub_free(&l->sub);
		free(l);
	}
}

size_t event_registered_count(void)
{
	pthread_mutex_lock(&legacy_lock);
	size_t n = hmap_count(&legacy_by_session);
	pthread_mutex_unlock(&legacy_lock);
	return n;
}

RPC_IMPL(event, from, event_from, 0);
RPC_IMPL(event, get_current_id, get_current_id, 0);
RPC_IMPL(event, inject, inject, 0);
RPC_IMPL(event, register, reg, 0);
RPC_IMPL(event, unregister, unreg, 0);
RPC_IMPL(event, next, next, 0);
