/* Unit tests of RPC dispatch (server/rpc.c over api's handler table): a
 * decoded call on an in-memory store, without HTTP or wire encoding.
 * Method lookup (Class.msg, Class_msg, Async.), xapi's order of checks
 * (unknown method, then arity, then the session, then roles), the errors
 * and their parameters as xapi sends them, omitted trailing parameters,
 * and Async calls answered with a task that the worker pool completes.
 * Two fake messages registered as extensions stand in for handlers whose
 * roles and arguments the test chooses; the rest are the real session.*
 * calls and the generic accessors the schema implies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server.h"
#include "base/mem.h"
#include "server/rpc.h"
#include "server/session.h"
#include "server/users.h"
#include "server/workq.h"

#define PASSWORD "s3cret"

static struct server srv;
static char users_path[64];
static char vm_ref[REF_STRLEN + 1];

/* ---- two fake messages: VM.xtest_echo (any role, Async too) and
 * VM.xtest_root (no role: the local superuser's alone) ---- */

static const struct sc_type t_string = {.kind = SC_STRING, .text = "string"};
static const struct sc_param echo_params[] = {{"text", &t_string}};
static const struct sc_message msg_echo = {
	.name = "xtest_echo",
	.session = true,
	.async = true,
	.roles = SC_ROLE_READ_ONLY,
	.nparams = 1,
	.params = echo_params,
	.result = &t_string,
};
static const struct sc_message msg_root = {
	.name = "xtest_root",
	.session = true,
	.roles = 0,
	.nparams = 0,
	.result = &t_string,
};

static int echo(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)err;
	char *s = xasprintf("%s:%s:%s", ctx->user, xv_as_str(xv_arr_get(args, 0)), ctx->task[0] ? "task" : "sync");
	*result = xv_str_own(s);
	return 0;
}

static int root_only(struct rpc_ctx *ctx, xv *args, xv *result, struct xerr *err)
{
	(void)ctx;
	(void)args;
	(void)err;
	*result = xv_str("done");
	return 0;
}

/* ---- fixture: a store with one VM, users root (superuser) and alice
 * (read-only), the worker pool, the handlers ---- */

static int setup(void **state)
{
	(void)state;
	struct xerr err = XERR_INIT;
	srv.db = db_open(NULL, &err);
	assert_non_null(srv.db);
	srv.wq = workq_new(2);

	snprintf(users_path, sizeof users_path, "/tmp/xenon-rpc-users-%d", (int)getpid());
	FILE *f = fopen(users_path, "w");
	assert_non_null(f);
	const char *hash = crypt(PASSWORD, "$6$xenontest$");
	assert_non_null(hash);
	fprintf(f, "root:%s:pool-admin\nalice:%s:read-only\n", hash, hash);
	fclose(f);
	srv.users = users_open(users_path, "local", &err);
	assert_non_null(srv.users);

	struct db_txn *t = db_begin(srv.db);
	struct db_obj *o = db_create(t, SC_C_VM, NULL);
	db_set_str(t, o, SC_F_VM__name_label, "vm one");
	snprintf(vm_ref, sizeof vm_ref, "%s", o->ref);
	assert_int_equal(db_commit(t, &err), 0);

	session_init();
	rpc_register_extra("VM", &msg_echo, echo, 0);
	rpc_register_extra("VM", &msg_root, root_only, 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	workq_free(srv.wq);
	users_free(srv.users);
	db_close(srv.db);
	unlink(users_path);
	return 0;
}

/* params: strings; a NULL-terminated list. */
static xv params_of(const char *first, va_list ap)
{
	xv p = xv_arr_new();
	for (const char *s = first; s; s = va_arg(ap, const char *))
		xv_arr_push_str(&p, s);
	return p;
}

/* Runs method to its answer; the caller frees the call. */
static void run_call(struct rpc_call *c, const char *method, xv params)
{
	rpc_call_init(c, &srv, method, params);
	assert_int_equal(rpc_call_run(c), RPC_DONE);
}

/* The call must succeed; its result as a string (owned), "" if not one. */
static char *ok(const char *method, const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	xv p = params_of(first, ap);
	va_end(ap);
	struct rpc_call c;
	run_call(&c, method, p);
	if (c.err.code)
		fail_msg("%s: %s %s", method, c.err.code, c.err.nparams ? c.err.params[0] : "");
	const char *s = xv_as_str(&c.result);
	char *out = xstrdup(s ? s : "");
	rpc_call_free(&c);
	return out;
}

/* The call must fail with code and exactly the parameters given
 * (NULL-terminated after code). */
static void fails(const char *method, xv params, const char *code, ...)
{
	struct rpc_call c;
	run_call(&c, method, params);
	if (!c.err.code)
		fail_msg("%s succeeded, %s expected", method, code);
	assert_string_equal(c.err.code, code);
	va_list ap;
	va_start(ap, code);
	size_t i = 0;
	for (const char *p = va_arg(ap, const char *); p; p = va_arg(ap, const char *), i++) {
		assert_true(i < c.err.nparams);
		assert_string_equal(c.err.params[i], p);
	}
	va_end(ap);
	assert_int_equal(c.err.nparams, i);
	rpc_call_free(&c);
}

static xv strs(const char *first, ...)
{
	va_list ap;
	va_start(ap, first);
	xv p = params_of(first, ap);
	va_end(ap);
	return p;
}

static char *login(const char *user)
{
	return ok("session.login_with_password", user, PASSWORD, "1.0", "test_rpc", NULL);
}

/* The table generated from api/messages.list: a slot per schema message,
 * filled for the implemented ones with their flags. */
static void test_handler_table(void **state)
{
	(void)state;
	const struct sc_message *m = sc_message_find(SC_C_VM, "start");
	assert_non_null(m);
	assert_int_equal(sc_message_id(SC_C_VM, m), SC_M_VM__start);
	assert_non_null(rpc_handlers[SC_M_VM__start]);
	assert_true(rpc_handlers[SC_M_VM__start]->flags & RPC_SLOW);
	assert_non_null(rpc_handlers[SC_M_session__login_with_password]);
	assert_null(rpc_handlers[SC_M_pool__disable_ssl_legacy]); /* deprecated, not implemented */
	assert_int_equal(sc_message_id(SC_C_VM, NULL), -1);
}

static void test_lookup(void **state)
{
	(void)state;
	char *s = login("root");
	char *name = ok("VM.get_name_label", s, vm_ref, NULL);
	assert_string_equal(name, "vm one");
	free(name);
	/* xapi's other spelling, Class_msg */
	name = ok("VM_get_name_label", s, vm_ref, NULL);
	assert_string_equal(name, "vm one");
	free(name);
	/* an extension message from the table */
	char *r = ok("VM.xtest_echo", s, "hi", NULL);
	assert_string_equal(r, "root:hi:sync");
	free(r);
	free(s);
}

static void test_unknown_method(void **state)
{
	(void)state;
	char *s = login("root");
	fails("VM.no_such_message", strs(s, NULL), "MESSAGE_METHOD_UNKNOWN", "VM.no_such_message", NULL);
	fails("Nonesuch.get_all", strs(s, NULL), "MESSAGE_METHOD_UNKNOWN", "Nonesuch.get_all", NULL);
	fails("nodot", strs(s, NULL), "MESSAGE_METHOD_UNKNOWN", "nodot", NULL);
	/* a message without an Async variant */
	fails("Async.VM.get_name_label", strs(s, vm_ref, NULL), "MESSAGE_METHOD_UNKNOWN",
	      "Async.VM.get_name_label", NULL);
	/* unknown comes before the session is looked at */
	fails("VM.no_such_message", strs("OpaqueRef:bogus", NULL), "MESSAGE_METHOD_UNKNOWN",
	      "VM.no_such_message", NULL);
	free(s);
}

static void test_parameter_count(void **state)
{
	(void)state;
	char *s = login("root");
	/* xapi's parameters: the method, then the counts without the session */
	fails("VM.get_name_label", strs(s, NULL), "MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_name_label",
	      "1", "0", NULL);
	fails("VM.get_name_label", strs(s, vm_ref, "extra", NULL), "MESSAGE_PARAMETER_COUNT_MISMATCH",
	      "VM.get_name_label", "1", "2", NULL);
	fails("VM.get_name_label", xv_arr_new(), "MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.get_name_label",
	      "1", "0", NULL);
	fails("VM.xtest_echo", strs(s, NULL), "MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.xtest_echo", "1",
	      "0", NULL);
	/* arity comes before the session */
	fails("VM.get_name_label", strs("OpaqueRef:bogus", NULL), "MESSAGE_PARAMETER_COUNT_MISMATCH",
	      "VM.get_name_label", "1", "0", NULL);
	/* trailing parameters xapi lets a caller omit: version and originator */
	char *s2 = ok("session.login_with_password", "root", PASSWORD, NULL);
	assert_true(strncmp(s2, "OpaqueRef:", 10) == 0);
	fails("session.login_with_password", strs("root", NULL), "MESSAGE_PARAMETER_COUNT_MISMATCH",
	      "session.login_with_password", "4", "1", NULL);
	free(s2);
	free(s);
}

static void test_session(void **state)
{
	(void)state;
	fails("VM.get_name_label", strs("OpaqueRef:00000000-0000-0000-0000-000000000000", vm_ref, NULL),
	      "SESSION_INVALID", "OpaqueRef:00000000-0000-0000-0000-000000000000", NULL);
	/* a session that is not a string */
	xv p = xv_arr_new();
	xv_arr_push(&p, xv_int(7));
	xv_arr_push_str(&p, vm_ref);
	fails("VM.get_name_label", p, "SESSION_INVALID", "", NULL);
	fails("session.login_with_password", strs("root", "wrong", "1.0", "t", NULL),
	      "SESSION_AUTHENTICATION_FAILED", "root", "Authentication failure", NULL);
	/* logged out: invalid from then on */
	char *s = login("alice");
	char *r = ok("VM.xtest_echo", s, "x", NULL);
	assert_string_equal(r, "alice:x:sync");
	free(r);
	free(ok("session.logout", s, NULL));
	fails("VM.xtest_echo", strs(s, "x", NULL), "SESSION_INVALID", s, NULL);
	free(s);
}

static void test_roles(void **state)
{
	(void)state;
	char *alice = login("alice"), *root = login("root");
	/* read-only may read */
	char *name = ok("VM.get_name_label", alice, vm_ref, NULL);
	assert_string_equal(name, "vm one");
	free(name);
	/* but not write */
	fails("VM.set_name_label", strs(alice, vm_ref, "renamed", NULL), "RBAC_PERMISSION_DENIED",
	      "vm.set_name_label",
	      "No permission in user session. (Roles with this permission: pool-admin, pool-operator, "
	      "vm-power-admin, vm-admin)",
	      NULL);
	/* a message with no role: refused to every subject, the superuser's alone */
	fails("VM.xtest_root", strs(alice, NULL), "RBAC_PERMISSION_DENIED", "vm.xtest_root",
	      "No permission in user session. (Roles with this permission: )", NULL);
	char *r = ok("VM.xtest_root", root, NULL);
	assert_string_equal(r, "done");
	free(r);
	free(alice);
	free(root);
}

static void test_async(void **state)
{
	(void)state;
	char *s = login("alice");
	char *task = ok("Async.VM.xtest_echo", s, "later", NULL);
	assert_true(strncmp(task, "OpaqueRef:", 10) == 0);
	char status[32] = "";
	char *result = NULL;
	for (int i = 0; i < 500; i++) {
		db_rdlock(srv.db);
		struct db_obj *o = db_lookup_cls(srv.db, SC_C_task, task);
		assert_non_null(o);
		snprintf(status, sizeof status, "%s", db_peek_str(o, SC_F_task__status));
		if (strcmp(status, "pending") != 0)
			result = xstrdup(db_peek_str(o, SC_F_task__result));
		db_unlock(srv.db);
		if (result)
			break;
		usleep(10000);
	}
	assert_string_equal(status, "success");
	/* the handler ran as the caller, on the task */
	assert_non_null(strstr(result, "alice:later:task"));
	free(result);
	/* the checks run before a task is made */
	fails("Async.VM.xtest_echo", strs(s, NULL), "MESSAGE_PARAMETER_COUNT_MISMATCH", "VM.xtest_echo",
	      "1", "0", NULL);
	fails("Async.VM.xtest_root", strs(s, NULL), "MESSAGE_METHOD_UNKNOWN", "Async.VM.xtest_root", NULL);
	free(task);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handler_table),
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_unknown_method),
		cmocka_unit_test(test_parameter_count),
		cmocka_unit_test(test_session),
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_async),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
