/* rpc: method lookup, argument checking and the run of one call (see
 * rpc.h). The order of checks follows xapi: unknown method, then arity,
 * then the session, then roles, then argument types. */
#include "rpc.h"
#include "audit.h"
#include "authlimit.h"
#include "../api/generic.h"
#include "../api/rbac.h"
#include "../api/pool_forward.h"
#include "../api/server.h"
#include "session.h"
#include "prom.h"
#include "task.h"
#include "workq.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../base/jsonv.h"
#include "../pool/raft.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

_Static_assert(AUTH_PEER_LEN == RPC_PEER_LEN, "rpc_ctx.peer holds authlimit_peer's text");

/* Trailing parameters xapi lets callers omit, with their values. */
struct default_arg {
	const char *method;
	int from; /* first omittable parameter index (excluding session) */
	const char *json[3];
};

static const struct default_arg default_args[] = {
	{"session.login_with_password", 2, {"\"1.1\"", "\"\""}},
	{"session.slave_local_login_with_password", 2, {NULL}},
	{"VM.snapshot", 2, {"[]"}},
	{"VM.migrate_send", 6, {"{}"}},
	{"VM.assert_can_migrate", 6, {"{}"}},
	{"host.evacuate", 1, {"\"OpaqueRef:NULL\"", "0"}},
	{"event.from", 3, {NULL}},
	{"tunnel.create", 2, {"\"gre\""}}, /* the form before protocols */
};

/* Trailing parameters newer xapis take that this datamodel lacks: accepted
 * and dropped (VM.migrate_send's vdi_format_map: images are kept in the
 * destination SR's own format). */
static bool drop_newer(const char *method, xv *params, size_t want)
{
	static const char *const newer[] = {"VM.migrate_send", "VM.assert_can_migrate"};
	for (size_t i = 0; i < sizeof newer / sizeof newer[0]; i++) {
		if (strcmp(newer[i], method) != 0 || xv_len(params) != want + 1)
			continue;
		xv_free(&params->u.a->items[want]);
		params->u.a->n = want;
		return true;
	}
	return false;
}

/* given counts the parameters after the session. */
static int fill_defaults(const char *method, const struct sc_message *m, xv *args, size_t given)
{
	for (size_t i = 0; i < sizeof default_args / sizeof default_args[0]; i++) {
		const struct default_arg *d = &default_args[i];
		if (strcmp(d->method, method) != 0)
			continue;
		if (given < (size_t)d->from)
			return -1;
		for (int p = (int)given; p < m->nparams; p++) {
			const char *j = d->json[p - d->from];
			if (!j)
				return -1;
			xv v;
			struct xerr e = XERR_INIT;
			if (jsonv_parse(j, strlen(j), &v, &e) < 0) {
				xerr_clear(&e);
				return -1;
			}
			xv_arr_push(args, v);
		}
		return 0;
	}
	return -1;
}

static void count_mismatch(struct xerr *err, const char *method, int expected, size_t received)
{
	char e[16], r[16];
	snprintf(e, sizeof e, "%d", expected);
	snprintf(r, sizeof r, "%zu", received);
	xerr_set(err, ERR_MESSAGE_PARAMETER_COUNT_MISMATCH, method, e, r, NULL);
}

static int not_implemented(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)args;
	(void)result;
	char name[160];
	snprintf(name, sizeof name, "%s.%s", sc_classes[ctx->cls].name, ctx->msg->name);
	return xerr_set(err, ERR_NOT_IMPLEMENTED, name, NULL);
}

static int list_methods(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	(void)args;
	(void)err;
	*result = rpc_list_methods();
	return 0;
}

void rpc_call_init(struct rpc_call *call, struct server *srv, const char *method, xv params)
{
	memset(call, 0, sizeof *call);
	call->ctx.srv = srv;
	call->ctx.db = srv ? srv->db : NULL;
	call->ctx.proto = -1;
	call->t0_ns = clock_now_ns();
	call->ctx.started_ms = call->t0_ns / 1000000; /* one reading of the clock */
	call->method = xstrdup(method);
	call->params = params.kind == XV_ARR ? params : xv_arr_new();
	if (params.kind != XV_ARR)
		xv_free(&params);
	call->result = XV_NIL_INIT;

	if (strcmp(method, "system.listMethods") == 0) {
		call->fn = list_methods;
		return;
	}
	const char *name = method;
	if (strncmp(name, "Async.", 6) == 0) {
		call->async = true;
		name += 6;
	}
	const char *dot = strchr(name, '.');
	char cls_name[64];
	const char *msg_name;
	if (dot) {
		snprintf(cls_name, sizeof cls_name, "%.*s", (int)(dot - name), name);
		msg_name = dot + 1;
	} else {
		/* xapi also accepts Class_msg */
		const char *us = strchr(name, '_');
		if (!us) {
			xerr_set(&call->err, ERR_MESSAGE_METHOD_UNKNOWN, method, NULL);
			return;
		}
		snprintf(cls_name, sizeof cls_name, "%.*s", (int)(us - name), name);
		msg_name = us + 1;
	}
	int cls = sc_class_find(cls_name);
	char key[192];
	snprintf(key, sizeof key, "%s.%s", cls_name, msg_name);
	const struct sc_message *m = cls >= 0 ? sc_message_find(cls, msg_name) : NULL;
	const struct rpc_entry *h;
	if (m) {
		h = rpc_handlers[sc_message_id(cls, m)];
	} else {
		h = rpc_extra_find(key);
		m = h ? h->msg : NULL;
	}
	if (!m || (call->async && !m->async)) {
		xerr_set(&call->err, ERR_MESSAGE_METHOD_UNKNOWN, method, NULL);
		return;
	}
	call->ctx.cls = cls;
	call->ctx.msg = m;
	call->fn = h && h->fn ? h->fn : generic_handler(cls, m);
	if (!call->fn)
		call->fn = not_implemented;
	call->flags = h ? h->flags : 0;
	/* whole-table reads take long on big stores: keep them off the HTTP threads */
	if (m->kind == SC_MSG_GET_ALL_RECORDS || m->kind == SC_MSG_GET_ALL_RECORDS_WHERE)
		call->flags |= RPC_SLOW;

	size_t given = xv_len(&call->params);
	size_t want = (size_t)m->nparams + (m->session ? 1 : 0);
	if (given == want + 1 && drop_newer(key, &call->params, want))
		given = want;
	if (given != want) {
		size_t nsess = m->session ? 1 : 0;
		if (given < nsess || given > want ||
		    fill_defaults(key, m, &call->params, given - nsess) < 0)
			count_mismatch(&call->err, key, m->nparams, given >= nsess ? given - nsess : 0);
	}
}

void rpc_call_free(struct rpc_call *call)
{
	/* an Async call's run on a worker is counted as the call that made it */
	if (call->t0_ns && !call->ctx.task[0])
		prom_count_call(call);
	free(call->method);
	xv_free(&call->params);
	xv_free(&call->result);
	if (call->ctx.stream)
		call->ctx.stream->free(call->ctx.stream);
	call->ctx.stream = NULL;
	xerr_clear(&call->err);
}

/* Arguments without the session, coerced to the message's types. */
static int prepare_args(struct rpc_call *call, xv *args)
{
	const struct sc_message *m = call->ctx.msg;
	*args = xv_arr_new();
	size_t first = m->session ? 1 : 0;
	for (int i = 0; i < m->nparams; i++) {
		const xv *p = xv_arr_get(&call->params, first + (size_t)i);
		if (!p) {
			xv_free(args);
			return xerr_internal(&call->err, "missing argument %d", i);
		}
		xv v = xv_copy(p);
		if (sc_coerce(m->params[i].type, m->params[i].name, &v, &call->err) < 0) {
			xv_free(&v);
			xv_free(args);
			return -1;
		}
		xv_arr_push(args, v);
	}
	return 0;
}

/* A message without roles in the datamodel is xapi's _R_LOCAL_ROOT_ONLY:
 * only sessions that skip RBAC may call it, never a subject however
 * privileged. The permission is the call's lowercased name (rbac.h). */
/* The schema's number of the call's message, -1 for an extension. */
static int msg_id(const struct rpc_call *call)
{
	return sc_message_id(call->ctx.cls, call->ctx.msg);
}

static int check_roles(struct rpc_call *call)
{
	const struct sc_message *m = call->ctx.msg;
	if (call->ctx.rbac_exempt)
		return 0;
	int id = msg_id(call);
	if (id >= 0 && (m->kind == SC_MSG_ADD_TO_MAP || m->kind == SC_MSG_REMOVE_FROM_MAP)) {
		/* a guarded key (VM.other_config:folder) needs its own permission */
		const struct rbac_key_guard *g =
			rbac_key_guard(id, xv_as_str(xv_arr_get(&call->params, 2)));
		if (g)
			return (g->roles & call->ctx.roles) ? 0
							    : rbac_denied(&call->err, rbac_perms[g->perm].name, g->roles);
	}
	if (m->roles & call->ctx.roles)
		return 0;
	if (id >= 0)
		return rbac_denied(&call->err, rbac_perms[rbac_msg_perm[id]].name, m->roles);
	char perm[192];
	snprintf(perm, sizeof perm, "%s.%s", call->ctx.cls >= 0 ? sc_classes[call->ctx.cls].name : "",
		 m->name);
	for (char *c = perm; *c; c++)
		*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	return rbac_denied(&call->err, perm, m->roles);
}

/* How long a call waits for its master to confirm it still leads. */
#define CONFIRM_MS 2000

/* A pooled host that is not the master answers logins and every call with
 * HOST_IS_SLAVE and the master's address, as xapi's slaves do to logins
 * and calls whose session they do not know. */
static bool slave_redirect(struct rpc_call *call)
{
	struct pool_raft *raft = call->ctx.srv ? call->ctx.srv->raft : NULL;
	/* a leader answers only while no other can have been elected (a
	 * deposed one cut off from the pool would serve stale reads) */
	if (!raft || pool_raft_confirm(raft, CONFIRM_MS))
		return false;
	char master[POOL_ADDR_MAX];
	pool_raft_leader(raft, master);
	char *colon = strrchr(master, ':'); /* its API is on its Raft address */
	if (colon)
		*colon = 0;
	xerr_clear(&call->err);
	xerr_set(&call->err, ERR_HOST_IS_SLAVE, master, NULL);
	return true;
}

/* What a slave serves itself, as xapi's emergency calls. */
static bool emergency_call(const struct rpc_call *call)
{
	static const char *const calls[][2] = {
		{"pool", "emergency_transition_to_master"}, {"pool", "emergency_reset_master"},
		{"session", "local_logout"}, {"session", "logout"}, {"host", "is_in_emergency_mode"},
	};
	if (call->ctx.cls < 0 || !call->ctx.msg) /* extensions (debug.*) are none */
		return false;
	const char *cls = sc_classes[call->ctx.cls].name, *m = call->ctx.msg->name;
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
		if (!strcmp(cls, calls[i][0]) && !strcmp(m, calls[i][1]))
			return true;
	return false;
}

/* What a session on a database read from a file or a metadata VDI may
 * call: reads, the recovery of its VMs into another session's pool, and
 * its own end. */
static bool foreign_db_call(const struct rpc_call *call)
{
	const struct sc_message *m = call->ctx.msg;
	if (m->kind >= SC_MSG_GET_RECORD && m->kind <= SC_MSG_GET_FIELD)
		return true;
	const char *cls = sc_classes[call->ctx.cls].name;
	if (!strcmp(cls, "session"))
		return !strcmp(m->name, "logout") || !strcmp(m->name, "local_logout");
	if (!strcmp(cls, "VM") || !strcmp(cls, "VM_appliance"))
		return !strcmp(m->name, "recover") || !strcmp(m->name, "assert_can_be_recovered") ||
		       !strcmp(m->name, "get_SRs_required_for_recovery");
	return false;
}

static int check_session(struct rpc_call *call)
{
	const struct sc_message *m = call->ctx.msg;
	if (!m || !m->session) {
		if (m && call->ctx.cls == SC_C_session && !strcmp(m->name, "login_with_password") &&
		    slave_redirect(call))
			return -1;
		return 0;
	}
	const xv *s = xv_arr_get(&call->params, 0);
	const char *ref = xv_as_str(s);
	if (!ref || session_check(call->ctx.srv, ref, &call->ctx, &call->err) < 0) {
		if (pool_session_accept(call->ctx.srv, ref, &call->ctx)) { /* another host of the pool */
			xerr_clear(&call->err);
			return check_roles(call);
		}
		if (!slave_redirect(call) && !call->err.code)
			xerr_set(&call->err, ERR_SESSION_INVALID, "", NULL);
		return -1;
	}
	/* a master that lost the leadership serves nothing more, not even to
	 * sessions made while it led (its store may be behind the pool's),
	 * but the emergency calls */
	if (call->ctx.srv && call->ctx.srv->raft && !emergency_call(call) && slave_redirect(call))
		return -1;
	if (call->ctx.foreign_db && !foreign_db_call(call))
		return xerr_set(&call->err, ERR_OPERATION_NOT_ALLOWED,
				"The session's database is a read-only copy: only reads and VM recovery", NULL);
	return check_roles(call);
}

static void audit_once(struct rpc_call *call);

struct async_job {
	struct rpc_call *call;
	xv args;
	bool is_task; /* an Async call: complete its task; else call done() */
};

static void run_job(void *arg)
{
	struct async_job *j = arg;
	struct rpc_call *call = j->call;
	struct server *srv = call->ctx.srv;
	int r;
	if (j->is_task && task_cancelling(srv, call->ctx.task)) {
		xerr_set(&call->err, ERR_TASK_CANCELLED, call->ctx.task, NULL);
		r = -1;
	} else {
		r = call->fn(&call->ctx, &j->args, &call->result, &call->err);
		if (r == RPC_WAIT) /* a worker may simply block */
			r = xerr_internal(&call->err, "wait outside a transport");
	}
	if (r < 0 && !call->err.code)
		xerr_internal(&call->err, "handler failed without an error");
	xv_free(&j->args);
	if (j->is_task) {
		if (r < 0)
			task_fail(srv, call->ctx.task, &call->err);
		else
			task_complete(srv, call->ctx.task, &call->result);
		rpc_call_free(call);
		free(call);
	} else {
		audit_once(call);
		call->done(call, call->done_arg);
	}
	free(j);
}

/* After the handler: parks an answer the handler holds back, when the
 * transport can park. */
static enum rpc_outcome hold_reply(struct rpc_call *call)
{
	struct rpc_ctx *ctx = &call->ctx;
	if (!ctx->may_wait || !ctx->reply_at_ms || clock_now_ms() >= ctx->reply_at_ms)
		return RPC_DONE;
	call->held = true;
	ctx->deadline_ms = ctx->reply_at_ms;
	return RPC_WAITING;
}

/* Once a call's answer is final, before it goes out: its audit line. */
static void audit_once(struct rpc_call *call)
{
	if (!call->audited && call->t0_ns && !call->ctx.task[0])
		audit_call(call);
	call->audited = true;
}

static enum rpc_outcome run_call(struct rpc_call *call);

enum rpc_outcome rpc_call_run(struct rpc_call *call)
{
	enum rpc_outcome o = run_call(call);
	if (o == RPC_DONE)
		audit_once(call);
	return o;
}

static enum rpc_outcome run_call(struct rpc_call *call)
{
	if (call->held) /* woken early by a commit: keep the answer back; not
			 * when the transport, stopping, moved the deadline */
		return clock_now_ms() < call->ctx.deadline_ms ? RPC_WAITING : RPC_DONE;
	if (call->err.code)
		return RPC_DONE;
	if (!call->ctx.msg) { /* system.* */
		call->fn(&call->ctx, &call->params, &call->result, &call->err);
		return RPC_DONE;
	}
	if (check_session(call) < 0)
		return RPC_DONE;
	xv args;
	if (prepare_args(call, &args) < 0)
		return RPC_DONE;
	if (pool_forward_wanted(&call->ctx, &args)) { /* it runs on another host of the pool */
		call->fn = pool_forward_call;
		call->flags |= RPC_SLOW;
	}

	if (call->async) {
		struct server *srv = call->ctx.srv;
		char label[192];
		snprintf(label, sizeof label, "Async.%s.%s", sc_classes[call->ctx.cls].name,
			 call->ctx.msg->name);
		char task[REF_STRLEN + 1];
		if (task_create(srv, label, "", call->ctx.session, task, &call->err) < 0) {
			xv_free(&args);
			return RPC_DONE;
		}
		/* the worker owns a copy of the call; this one answers with the task */
		struct rpc_call *bg = xcalloc(1, sizeof *bg);
		bg->ctx = call->ctx;
		snprintf(bg->ctx.task, sizeof bg->ctx.task, "%s", task);
		bg->ctx.may_wait = false;
		bg->ctx.proto = -1; /* a task's result is XML-RPC text, built later */
		bg->ctx.may_stream = false;
		bg->ctx.stream = NULL;
		bg->method = xstrdup(call->method);
		bg->params = xv_arr_new();
		bg->fn = call->fn;
		bg->flags = call->flags;
		struct async_job *j = xcalloc(1, sizeof *j);
		j->call = bg;
		j->args = args;
		j->is_task = true;
		workq_push(srv->wq, run_job, j);
		call->result = xv_str(task);
		return RPC_DONE;
	}
	if ((call->flags & RPC_SLOW) && call->done) {
		struct async_job *j = xcalloc(1, sizeof *j);
		j->call = call;
		j->args = args;
		workq_push(call->ctx.srv->wq, run_job, j);
		return RPC_DEFERRED;
	}
	int r = call->fn(&call->ctx, &args, &call->result, &call->err);
	xv_free(&args);
	if (r == RPC_WAIT)
		return RPC_WAITING;
	if (r < 0 && !call->err.code)
		xerr_internal(&call->err, "handler failed without an error");
	return hold_reply(call);
}
