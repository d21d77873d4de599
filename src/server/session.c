/* session: the in-memory index of live sessions beside their rows (see
 * session.h). The index is what every call checks, under its own mutex,
 * so a check never waits for the store's write lock. */
#include "session.h"
#include "authlimit.h"
#include "rpc.h"
#include "users.h"
#include "../api/rbac.h"
#include "../api/pool_forward.h"
#include "../pool/raft.h"
#include "../base/clock.h"
#include "../base/hmap.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* xapi keeps at most this many sessions per user and originator, dropping
 * the oldest, so clients that never log out cannot exhaust memory. */
#define MAX_SESSIONS_PER_ORIGIN 500
/* how long a login that cannot park may wait for a free authentication slot */
#define BLOCKING_WAIT_MS 1000

struct sess {
	char ref[REF_STRLEN + 1];
	char user[64];
	char *originator;
	uint32_t roles;
	bool superuser; /* root: skips RBAC (is_local_superuser) */
	char sid[32];   /* a subject's login: the user's identifier (u<uid>), else "" */
	xv subjects;    /* and the refs of the subjects that let it in */
	uint64_t seq;   /* order of creation */
	int64_t created, last_active;
	struct db *db; /* a read-only database of its own (VDI.open_database), or NULL */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct hmap table;

void session_init(void) {}

/* Databases of ended sessions: a call that checked the session just
 * before it ended may still read one, so each is closed a while later. */
#define FOREIGN_GRACE_S 60
struct db_grave {
	struct db *db;
	int64_t since;
	struct db_grave *next;
};
static struct db_grave *graves; /* under lock */

static void sess_free(struct sess *s)
{
	if (s->db) {
		struct db_grave *g = xcalloc(1, sizeof *g);
		g->db = s->db;
		g->since = time(NULL);
		g->next = graves;
		graves = g;
	}
	free(s->originator);
	xv_free(&s->subjects);
	free(s);
}

static void destroy_rows(struct server *srv, char (*refs)[REF_STRLEN + 1], size_t n)
{
	if (!n)
		return;
	struct db_txn *t = db_begin(srv->db);
	for (size_t i = 0; i < n; i++) {
		struct db_obj *o = db_lookup_cls(srv->db, SC_C_session, refs[i]);
		if (o)
			db_delete(t, o);
	}
	struct xerr e = XERR_INIT;
	db_commit(t, &e);
	xerr_clear(&e);
}

/* Drops the oldest session of (user, originator) past the limit, and of
 * a subject's identifier sid ("" for none) past max-sessions-per-subject. */
static void enforce_limit(struct server *srv, const char *user, const char *originator, const char *sid,
			  const char *newest)
{
	size_t count = 0, nsub = 0;
	struct sess *oldest = NULL, *oldest_sub = NULL;
	const char *k;
	void *v;
	pthread_mutex_lock(&lock);
	for (size_t it = 0; hmap_next(&table, &it, &k, &v);) {
		struct sess *s = v;
		if (sid[0] && !strcmp(s->sid, sid) && strcmp(s->ref, newest)) {
			nsub++;
			if (!oldest_sub || s->seq < oldest_sub->seq)
				oldest_sub = s;
		}
		if (strcmp(s->user, user) || strcmp(s->originator, originator))
			continue;
		count++;
		if (!oldest || s->last_active < oldest->last_active)
			oldest = s;
	}
	char victim[2][REF_STRLEN + 1];
	size_t n = 0;
	if (count > MAX_SESSIONS_PER_ORIGIN && oldest) {
		memcpy(victim[n++], oldest->ref, sizeof victim[0]);
		hmap_del(&table, oldest->ref);
		if (oldest_sub == oldest)
			oldest_sub = NULL, nsub--;
		sess_free(oldest);
	}
	if (oldest_sub && srv->cfg.max_sessions_per_subject > 0 &&
	    nsub + 1 > (size_t)srv->cfg.max_sessions_per_subject) {
		log_info("session: subject %s has more than %d sessions; the oldest ends", sid,
			 srv->cfg.max_sessions_per_subject);
		memcpy(victim[n++], oldest_sub->ref, sizeof victim[0]);
		hmap_del(&table, oldest_sub->ref);
		sess_free(oldest_sub);
	}
	pthread_mutex_unlock(&lock);
	destroy_rows(srv, victim, n);
}

/* The session of a user whose password was right. */
/* subjects: the refs of the subjects a subject's login matched (taken),
 * NULL for root and password-file users. */
static int session_open(struct server *srv, const char *user, uint32_t roles, const char *sid,
			xv *subjects, const char *originator, bool client_cert, char out[REF_STRLEN + 1],
			struct xerr *err)
{
	const char *subject = subjects ? xv_as_str(xv_arr_get(subjects, 0)) : NULL;
	struct db_txn *t = db_begin(srv->db);
	struct db_obj *o = db_create(t, SC_C_session, NULL);
	int64_t now = time(NULL);
	db_set_str(t, o, SC_F_session__this_host, srv->host_ref[0] ? srv->host_ref : REF_NULL);
	db_set(t, o, SC_F_session__last_active, xv_time(now));
	db_set(t, o, SC_F_session__validation_time, xv_time(now));
	bool superuser = !client_cert && strcmp(user, "root") == 0;
	db_set_bool(t, o, SC_F_session__is_local_superuser, superuser);
	db_set_bool(t, o, SC_F_session__client_certificate, client_cert);
	db_set_str(t, o, SC_F_session__auth_user_name, user);
	db_set_str(t, o, SC_F_session__auth_user_sid, sid);
	db_set_str(t, o, SC_F_session__subject, subject ? subject : REF_NULL);
	/* as xapi: a superuser skips RBAC and has none listed */
	db_set(t, o, SC_F_session__rbac_permissions, superuser ? xv_arr_new() : rbac_perm_names(roles));
	db_set_str(t, o, SC_F_session__originator, originator ? originator : "");
	char ref[REF_STRLEN + 1];
	memcpy(ref, o->ref, sizeof ref);
	if (db_commit(t, err) < 0) {
		if (subjects)
			xv_free(subjects);
		return -1;
	}
	struct sess *s = xcalloc(1, sizeof *s);
	s->subjects = subjects ? *subjects : XV_NIL_INIT;
	memcpy(s->ref, ref, sizeof s->ref);
	snprintf(s->user, sizeof s->user, "%s", user);
	s->originator = xstrdup(originator ? originator : "");
	s->roles = roles;
	s->superuser = superuser;
	snprintf(s->sid, sizeof s->sid, "%s", sid);
	s->created = s->last_active = now;
	char origin[256], sid_copy[sizeof s->sid];
	snprintf(origin, sizeof origin, "%s", s->originator);
	memcpy(sid_copy, s->sid, sizeof sid_copy);
	pthread_mutex_lock(&lock);
	static uint64_t next_seq;
	s->seq = ++next_seq;
	hmap_put(&table, s->ref, s);
	pthread_mutex_unlock(&lock);
	memcpy(out, ref, REF_STRLEN + 1);
	enforce_limit(srv, user, origin, sid_copy, out);
	return 0;
}

/* A subject's login, its password good: the subjects among the user and
 * its groups (resolved now, so group changes count from the next login)
 * give the session its roles, as xapi's external authentication does. */
static int subject_login(struct server *srv, const struct session_creds *c, char out[REF_STRLEN + 1],
			 struct xerr *err)
{
	size_t n = 0;
	char **sids = rbac_user_sids(c->user, &n);
	xv matched = XV_NIL_INIT;
	uint32_t roles = sids ? rbac_subject_roles(srv->db, (const char *const *)sids, n, &matched) : 0;
	char sid[32];
	snprintf(sid, sizeof sid, "%s", sids ? sids[0] : "");
	rbac_sids_free(sids, n);
	if (!xv_len(&matched)) {
		xv_free(&matched);
		log_info("session: '%s' from %s is not a subject", c->user, c->peer);
		return xerr_set(err, ERR_SESSION_AUTHORIZATION_FAILED, c->user,
				"The user is not a subject, nor in a group that is one", NULL);
	}
	if (!roles) {
		xv_free(&matched);
		log_info("session: subject '%s' from %s has no role", c->user, c->peer);
		return rbac_denied(err, "session.login_with_password", rbac_role_closure(SC_ROLE_POOL_ADMIN));
	}
	log_info("session: subject '%s' (%s) logged in from %s", c->user, sid, c->peer);
	return session_open(srv, c->user, roles, sid, &matched, c->originator, false, out, err);
}

/* When the password check's turn has not come: RPC_WAIT for a caller that
 * parks and can wait that long, else a refusal. */
static int not_yet(const struct session_creds *c, enum auth_turn t, int64_t retry, int64_t since,
		   int64_t *retry_ms, struct xerr *err)
{
	if (retry_ms && retry - since <= AUTH_MAX_WAIT_MS) {
		*retry_ms = retry;
		return RPC_WAIT;
	}
	const char *why = t == AUTH_THROTTLED ? "Too many failed logins from this address; try again later"
					      : "Too many logins at once; try again later";
	log_info("session: login for '%s' from %s refused: %s", c->user ? c->user : "", c->peer, why);
	return xerr_set(err, ERR_SESSION_AUTHENTICATION_FAILED, c->user ? c->user : "", why, NULL);
}

/* 0 once the check may start (authlimit_done must follow), else what
 * not_yet says. Callers that cannot park sleep through a short wait for a
 * free slot: checks are short. */
static int await_turn(const struct session_creds *c, int64_t *retry_ms, struct xerr *err)
{
	int64_t since = retry_ms && c->since_ms ? c->since_ms : clock_now_ms();
	for (;;) {
		int64_t now = clock_now_ms(), retry = now;
		enum auth_turn t = authlimit_start(c->peer, now, &retry);
		if (t == AUTH_GO)
			return 0;
		if (retry_ms || t == AUTH_THROTTLED || retry - since > BLOCKING_WAIT_MS)
			return not_yet(c, t, retry, since, retry_ms, err);
		usleep((useconds_t)(retry - now) * 1000);
	}
}

int session_login(struct server *srv, const struct session_creds *creds, char out[REF_STRLEN + 1],
		  int64_t *retry_ms, struct xerr *err)
{
	struct session_creds cc = *creds;
	const struct session_creds *c = &cc;
	if (!cc.peer)
		cc.peer = "";
	if (c->client_cert) { /* as xapi: the client-cert role, whatever the name and password */
		log_info("session: '%s' from %s logged in by its client certificate", c->user ? c->user : "", c->peer);
		return session_open(srv, c->user ? c->user : "", SC_ROLE_CLIENT_CERT, "", NULL, c->originator, true,
				    out, err);
	}
	int r = await_turn(c, retry_ms, err);
	if (r != 0)
		return r;
	uint32_t roles = 0;
	/* root and the local password file's users as before; anyone else is
	 * a subject: a system account checked by PAM */
	bool local = c->user && (!strcmp(c->user, "root") || users_exists(srv->users, c->user));
	/* the system's accounts only while external authentication is on
	 * (host.external_auth_type PAM), as xapi's */
	bool ok = c->user && c->password &&
		  (local ? users_check(srv->users, c->user, c->password, &roles) == 0
			 : rbac_extauth_enabled(srv) && users_system_check(srv->users, c->user, c->password) == 0);
	authlimit_done(c->peer, ok, clock_now_ms());
	if (!ok) {
		log_info("session: failed login for '%s' from %s", c->user ? c->user : "", c->peer);
		return xerr_set(err, ERR_SESSION_AUTHENTICATION_FAILED, c->user ? c->user : "",
				"Authentication failure", NULL);
	}
	if (local)
		return session_open(srv, c->user, roles, "", NULL, c->originator, false, out, err);
	return subject_login(srv, c, out, err);
}

/* snprintf(dst, cap, "%s", src) without printf: checked on every call */
static void copy_text(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* ---- a member: the master's sessions, checked there ----
 * Only the master makes sessions (a member answers logins with
 * HOST_IS_SLAVE), and they are not replicated: a member asks the master
 * about a session it does not know (pool.check_session, under the pool's
 * session), as xapi's slaves check one against the master's database. The
 * answer is kept a few seconds, so a client polling /rrd_updates costs the
 * master one call per session in that time; a logout on the master is
 * seen here once it runs out. */

#define REMOTE_TTL_MS 5000
#define REMOTE_MAX 1024
#define REMOTE_TIMEOUT_S 5

struct remote_sess {
	char ref[REF_STRLEN + 1];
	char user[64], sid[32], originator[64];
	uint32_t roles;
	bool superuser;
	int64_t until;
};

static struct hmap remote; /* ref → struct remote_sess, under lock */

static void remote_fill(const struct remote_sess *r, struct rpc_ctx *ctx)
{
	copy_text(ctx->session, sizeof ctx->session, r->ref);
	copy_text(ctx->user, sizeof ctx->user, r->user);
	ctx->roles = r->roles;
	ctx->rbac_exempt = r->superuser;
	copy_text(ctx->sid, sizeof ctx->sid, r->sid);
	copy_text(ctx->originator, sizeof ctx->originator, r->originator);
}

static void remote_clear(void)
{
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&remote, &it, &k, &v);)
		free(v);
	hmap_free(&remote);
	hmap_init(&remote);
}

static bool remote_check(struct server *srv, const char *ref, struct rpc_ctx *ctx)
{
	if (!srv || !srv->raft || !ref || strlen(ref) > REF_STRLEN || pool_raft_is_leader(srv->raft))
		return false;
	struct rpc_ctx pool_ctx;
	memset(&pool_ctx, 0, sizeof pool_ctx);
	if (pool_session_accept(srv, ref, &pool_ctx)) /* the pool's own: the caller's to take */
		return false;
	int64_t now = clock_now_ms();
	pthread_mutex_lock(&lock);
	struct remote_sess *r = hmap_get(&remote, ref);
	bool hit = r && r->until > now;
	if (hit)
		remote_fill(r, ctx);
	pthread_mutex_unlock(&lock);
	if (hit)
		return true;
	char master[POOL_ADDR_MAX];
	pool_raft_leader(srv->raft, master);
	char *colon = strrchr(master, ':'); /* its API is on its Raft address */
	if (colon)
		*colon = 0;
	if (!master[0])
		return false;
	xv args = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&args, ref);
	struct xerr e = XERR_INIT;
	int rc = pool_call_at_within(srv, master, "pool.check_session", &args, REMOTE_TIMEOUT_S, &res, &e);
	xv_free(&args);
	if (rc < 0) {
		if (!e.code || strcmp(e.code, ERR_SESSION_INVALID))
			log_warn("session: the master cannot say whether %.24s… is valid: %s", ref,
				 e.nparams ? e.params[0] : e.code ? e.code : "?");
		xerr_clear(&e);
		xv_free(&res);
		return false;
	}
	struct remote_sess n = {0};
	copy_text(n.ref, sizeof n.ref, ref);
	const char *t;
	copy_text(n.user, sizeof n.user, (t = xv_map_get_str(&res, "user")) ? t : "");
	copy_text(n.sid, sizeof n.sid, (t = xv_map_get_str(&res, "sid")) ? t : "");
	copy_text(n.originator, sizeof n.originator, (t = xv_map_get_str(&res, "originator")) ? t : "");
	const xv *roles = xv_map_get(&res, "roles"), *su = xv_map_get(&res, "superuser");
	n.roles = roles && roles->kind == XV_INT ? (uint32_t)roles->u.i : 0;
	n.superuser = su && su->kind == XV_BOOL && su->u.b;
	n.until = now + REMOTE_TTL_MS;
	xv_free(&res);
	remote_fill(&n, ctx);
	pthread_mutex_lock(&lock);
	if (hmap_count(&remote) >= REMOTE_MAX)
		remote_clear();
	struct remote_sess *old = hmap_del(&remote, n.ref);
	free(old);
	struct remote_sess *keep = xmalloc(sizeof *keep);
	*keep = n;
	hmap_put(&remote, keep->ref, keep);
	pthread_mutex_unlock(&lock);
	return true;
}

int session_describe(struct server *srv, const char *ref, xv *out, struct xerr *err)
{
	struct rpc_ctx c;
	memset(&c, 0, sizeof c);
	if (!ref || session_check(srv, ref, &c, err) < 0)
		return ref ? -1 : xerr_set(err, ERR_SESSION_INVALID, "", NULL);
	*out = xv_map_new();
	xv_map_set_str(out, "user", c.user);
	xv_map_set(out, "roles", xv_int((int64_t)c.roles));
	xv_map_set(out, "superuser", xv_bool(c.rbac_exempt));
	xv_map_set_str(out, "sid", c.sid);
	xv_map_set_str(out, "originator", c.originator);
	return 0;
}

int session_check(struct server *srv, const char *ref, struct rpc_ctx *ctx, struct xerr *err)
{
	pthread_mutex_lock(&lock);
	struct sess *s = hmap_get(&table, ref);
	if (s) {
		s->last_active = time(NULL);
		copy_text(ctx->session, sizeof ctx->session, s->ref);
		copy_text(ctx->user, sizeof ctx->user, s->user);
		ctx->roles = s->roles;
		ctx->rbac_exempt = s->superuser;
		copy_text(ctx->sid, sizeof ctx->sid, s->sid);
		copy_text(ctx->originator, sizeof ctx->originator, s->originator);
		ctx->foreign_db = s->db != NULL;
		if (s->db)
			ctx->db = s->db;
	}
	pthread_mutex_unlock(&lock);
	if (!s && remote_check(srv, ref, ctx))
		return 0;
	if (!s)
		return xerr_set(err, ERR_SESSION_INVALID, ref, NULL);
	return 0;
}

int session_open_db(struct server *srv, const struct rpc_ctx *ctx, struct db *db, char out[REF_STRLEN + 1],
		    struct xerr *err)
{
	if (session_open(srv, ctx->user, ctx->roles, ctx->sid, NULL, ctx->originator, false, out, err) < 0) {
		db_close(db);
		return -1;
	}
	pthread_mutex_lock(&lock);
	struct sess *s = hmap_get(&table, out);
	if (s) {
		s->db = db;
		s->superuser = ctx->rbac_exempt;
	}
	pthread_mutex_unlock(&lock);
	if (!s) { /* ended at once (the limit of sessions) */
		db_close(db);
		return xerr_set(err, ERR_SESSION_INVALID, out, NULL);
	}
	return 0;
}

struct db *session_db(struct server *srv, const char *ref)
{
	pthread_mutex_lock(&lock);
	struct sess *s = ref ? hmap_get(&table, ref) : NULL;
	struct db *db = s ? (s->db ? s->db : srv->db) : NULL;
	pthread_mutex_unlock(&lock);
	return db;
}

void session_forget(struct server *srv, const char *ref)
{
	pthread_mutex_lock(&lock);
	struct sess *s = hmap_del(&table, ref);
	free(hmap_del(&remote, ref)); /* a master's session this member knew */
	pthread_mutex_unlock(&lock);
	if (!s)
		return;
	char victim[1][REF_STRLEN + 1];
	memcpy(victim[0], s->ref, sizeof victim[0]);
	sess_free(s);
	destroy_rows(srv, victim, 1);
	/* calls parked on this session re-run and fail with SESSION_INVALID */
	db_wake_all(srv->db);
}

static size_t end_sessions(struct server *srv, const char *sid, const char *subject, const char *keep);

xv session_subject_identifiers(void)
{
	xv out = xv_arr_new();
	pthread_mutex_lock(&lock);
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&table, &it, &k, &v);) {
		struct sess *s = v;
		xv id = xv_str(s->sid);
		if (s->sid[0] && !xv_arr_contains(&out, &id))
			xv_arr_push(&out, id);
		else
			xv_free(&id);
	}
	pthread_mutex_unlock(&lock);
	return out;
}

size_t session_logout_subject(struct server *srv, const char *sid, const char *keep)
{
	if (!sid[0]) /* root and password-file users have none: not theirs to end */
		return 0;
	return end_sessions(srv, sid, NULL, keep);
}

size_t session_logout_subject_ref(struct server *srv, const char *subject)
{
	return end_sessions(srv, NULL, subject, "");
}

/* Ends the sessions of identifier sid, or those subject let in, but keep. */
static size_t end_sessions(struct server *srv, const char *sid, const char *subject, const char *keep)
{
	size_t n = 0, cap = 0;
	char (*victims)[REF_STRLEN + 1] = NULL;
	pthread_mutex_lock(&lock);
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&table, &it, &k, &v);) {
		struct sess *s = v;
		xv sref = xv_str(subject ? subject : "");
		bool hit = sid ? !strcmp(s->sid, sid) : s->subjects.kind == XV_ARR && xv_arr_contains(&s->subjects, &sref);
		xv_free(&sref);
		if (!hit || !strcmp(s->ref, keep))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 8;
			victims = xrealloc(victims, sizeof(*victims) * cap);
		}
		memcpy(victims[n++], s->ref, REF_STRLEN + 1);
	}
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < n; i++)
		session_forget(srv, victims[i]);
	free(victims);
	return n;
}

int session_logout(struct server *srv, const char *ref, struct xerr *err)
{
	(void)err;
	session_forget(srv, ref);
	return 0;
}

void session_gc(struct server *srv)
{
	int64_t cutoff = time(NULL) - srv->cfg.session_timeout_s;
	size_t n = 0, cap = 0;
	char (*victims)[REF_STRLEN + 1] = NULL;
	pthread_mutex_lock(&lock);
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&table, &it, &k, &v);) {
		struct sess *s = v;
		if (s->last_active >= cutoff)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			victims = xrealloc(victims, sizeof(*victims) * cap);
		}
		memcpy(victims[n++], s->ref, REF_STRLEN + 1);
	}
	for (size_t i = 0; i < n; i++) {
		sess_free(hmap_del(&table, victims[i]));
	}
	struct db_grave *done = NULL;
	for (struct db_grave **g = &graves; *g;) {
		if ((*g)->since < time(NULL) - FOREIGN_GRACE_S) {
			struct db_grave *x = *g;
			*g = x->next;
			x->next = done;
			done = x;
		} else {
			g = &(*g)->next;
		}
	}
	pthread_mutex_unlock(&lock);
	while (done) {
		struct db_grave *x = done;
		done = x->next;
		db_close(x->db);
		free(x);
	}
	if (n)
		log_info("session: expired %zu idle sessions", n);
	destroy_rows(srv, victims, n);
	free(victims);
}
