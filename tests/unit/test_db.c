/* Unit tests of the object store: transactions and rollback, their
 * serialisation, the ref/uuid/class indexes, derived relation fields, the
 * change list and waiters behind event.from, the filter language, and
 * reloading from the durable log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/db.h"
#include "db/filter.h"

static struct db *open_mem(void)
{
	struct xerr e = XERR_INIT;
	struct db *db = db_open(NULL, &e);
	assert_non_null(db);
	return db;
}

/* A name for a store file that does not exist yet. */
static void tmp_db_path(char *path)
{
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
}

/* A new store in a file of its own; path (a mkstemp template) gets its
 * name. */
static struct db *open_new_file(char *path)
{
	tmp_db_path(path);
	struct xerr e = XERR_INIT;
	struct db *db = db_open(path, &e);
	assert_non_null(db);
	return db;
}

/* The store file and SQLite's files beside it. */
static void rm_db_files(const char *path)
{
	char side[64];
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

static void test_create_and_defaults(void **state)
{
	(void)state;
	struct db *db = open_mem();
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	db_set_str(t, vm, SC_F_VM__name_label, "a");
	char ref[REF_STRLEN + 1];
	memcpy(ref, vm->ref, sizeof ref);
	assert_int_equal(db_commit(t, NULL), 0);
	db_rdlock(db);
	vm = db_lookup_cls(db, SC_C_VM, ref);
	assert_non_null(vm);
	assert_null(db_lookup_cls(db, SC_C_SR, ref));
	assert_string_equal(db_peek_str(vm, SC_F_VM__power_state), "Halted");
	assert_true(uuid_is_valid(db_peek_str(vm, SC_F_VM__uuid)));
	assert_ptr_equal(db_lookup_uuid(db, SC_C_VM, db_peek_str(vm, SC_F_VM__uuid)), vm);
	xv rec = db_record(db, vm);
	assert_int_equal(xv_len(&rec), (size_t)sc_classes[SC_C_VM].nfields);
	assert_string_equal(xv_map_get_str(&rec, "name_label"), "a");
	assert_int_equal(xv_map_get(&rec, "VBDs")->kind, XV_ARR);
	xv_free(&rec);
	db_unlock(db);
	assert_int_equal(db_generation(db), 1);
	db_close(db);
}

static void test_abort_restores(void **state)
{
	(void)state;
	struct db *db = open_mem();
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	db_set_str(t, vm, SC_F_VM__name_label, "before");
	char ref[REF_STRLEN + 1];
	memcpy(ref, vm->ref, sizeof ref);
	db_commit(t, NULL);

	t = db_begin(db);
	vm = db_lookup(db, ref);
	db_set_str(t, vm, SC_F_VM__name_label, "after");
	xv_map_set_str(db_edit(t, vm, SC_F_VM__other_config), "k", "v");
	struct db_obj *extra = db_create(t, SC_C_VM, NULL);
	char extra_ref[REF_STRLEN + 1];
	memcpy(extra_ref, extra->ref, sizeof extra_ref);
	db_delete(t, vm);
	assert_null(db_lookup(db, ref));
	db_abort(t);

	db_rdlock(db);
	vm = db_lookup(db, ref);
	assert_non_null(vm);
	assert_string_equal(db_peek_str(vm, SC_F_VM__name_label), "before");
	assert_int_equal(xv_len(db_peek(vm, SC_F_VM__other_config)), 0);
	assert_null(db_lookup(db, extra_ref));
	assert_int_equal(db_count(db, SC_C_VM), 1);
	db_unlock(db);
	assert_int_equal(db_generation(db), 1); /* an abort is not a generation */
	db_close(db);
}

static void test_relations(void **state)
{
	(void)state;
	struct db *db = open_mem();
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	struct db_obj *vm2 = db_create(t, SC_C_VM, NULL);
	struct db_obj *a = db_create(t, SC_C_VBD, NULL);
	struct db_obj *b = db_create(t, SC_C_VBD, NULL);
	db_set_str(t, a, SC_F_VBD__VM, vm->ref);
	db_set_str(t, b, SC_F_VBD__VM, vm->ref);
	db_commit(t, NULL);

	db_rdlock(db);
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	assert_int_equal(xv_len(&vbds), 2);
	xv_free(&vbds);
	db_unlock(db);

	/* moving one VBD moves it between the derived sets */
	t = db_begin(db);
	db_set_str(t, b, SC_F_VBD__VM, vm2->ref);
	db_commit(t, NULL);
	db_rdlock(db);
	vbds = db_get(db, vm, SC_F_VM__VBDs);
	assert_int_equal(xv_len(&vbds), 1);
	assert_string_equal(xv_as_str(xv_arr_get(&vbds, 0)), a->ref);
	xv_free(&vbds);
	vbds = db_get(db, vm2, SC_F_VM__VBDs);
	assert_int_equal(xv_len(&vbds), 1);
	xv_free(&vbds);
	db_unlock(db);

	/* the VM whose set changed gets a new generation, as its record did */
	t = db_begin(db);
	struct db_obj *c = db_create(t, SC_C_VBD, NULL);
	db_set_str(t, c, SC_F_VBD__VM, vm->ref);
	db_commit(t, NULL);
	assert_int_equal(vm->mtime, db_generation(db));
	t = db_begin(db);
	db_delete(t, c);
	db_commit(t, NULL);
	assert_int_equal(vm->mtime, db_generation(db));

	/* deleting the VBD empties the set; an aborted move leaves it as it was */
	t = db_begin(db);
	db_set_str(t, a, SC_F_VBD__VM, vm2->ref);
	db_abort(t);
	t = db_begin(db);
	db_delete(t, a);
	db_commit(t, NULL);
	db_rdlock(db);
	vbds = db_get(db, vm, SC_F_VM__VBDs);
	assert_int_equal(xv_len(&vbds), 0);
	xv_free(&vbds);
	db_unlock(db);
	db_close(db);
}

struct seen {
	int add, mod, del;
	uint64_t since;
};

static bool count_ops(struct db_obj *o, void *arg)
{
	struct seen *s = arg;
	if (o->deleted) {
		if (o->ctime <= s->since)
			s->del++;
	} else if (o->ctime > s->since) {
		s->add++;
	} else {
		s->mod++;
	}
	return true;
}

static void test_change_list(void **state)
{
	(void)state;
	struct db *db = open_mem();
	struct db_txn *t = db_begin(db);
	struct db_obj *a = db_create(t, SC_C_VM, NULL);
	struct db_obj *b = db_create(t, SC_C_VM, NULL);
	db_commit(t, NULL);
	uint64_t g1 = db_generation(db);

	t = db_begin(db);
	db_set_str(t, a, SC_F_VM__name_label, "x");
	db_commit(t, NULL);
	t = db_begin(db);
	db_set_str(t, a, SC_F_VM__name_label, "y");
	db_delete(t, b);
	struct db_obj *c = db_create(t, SC_C_VM, NULL);
	db_commit(t, NULL);
	t = db_begin(db);
	struct db_obj *d = db_create(t, SC_C_VM, NULL);
	db_commit(t, NULL);
	t = db_begin(db);
	db_delete(t, d); /* born and gone after g1: not reported */
	db_commit(t, NULL);
	(void)c;

	struct seen s = {0, 0, 0, g1};
	db_rdlock(db);
	db_changes_since(db, g1, count_ops, &s);
	db_unlock(db);
	assert_int_equal(s.mod, 1); /* a, once, though changed twice */
	assert_int_equal(s.del, 1); /* b */
	assert_int_equal(s.add, 1); /* c */

	struct seen all = {0, 0, 0, 0};
	db_rdlock(db);
	db_changes_since(db, 0, count_ops, &all);
	db_unlock(db);
	assert_int_equal(all.add, 2); /* a and c exist */
	db_close(db);
}

static void test_filter(void **state)
{
	(void)state;
	struct db *db = open_mem();
	struct db_txn *t = db_begin(db);
	struct db_obj *a = db_create(t, SC_C_VM, NULL);
	db_set_str(t, a, SC_F_VM__name_label, "web");
	db_set_bool(t, a, SC_F_VM__is_a_template, true);
	struct db_obj *b = db_create(t, SC_C_VM, NULL);
	db_set_str(t, b, SC_F_VM__name_label, "db");
	db_commit(t, NULL);
	struct xerr e = XERR_INIT;
	struct {
		const char *expr;
		bool a, b;
	} cases[] = {
		{"true", true, true},
		{"false", false, false},
		{"field \"name__label\"=\"web\"", true, false},
		{"field \"is_a_template\"=\"true\" and field \"name__label\"=\"web\"", true, false},
		{"field \"name__label\"=\"web\" or field \"name__label\"=\"db\"", true, true},
		{"not (field \"name__label\"=\"web\")", false, true},
		{"\"db\" = field \"name__label\"", false, true},
		{"field \"power_state\"=\"Halted\"", true, true},
	};
	db_rdlock(db);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct db_filter *f = db_filter_parse(cases[i].expr, SC_C_VM, &e);
		assert_non_null(f);
		assert_int_equal(db_filter_eval(f, db, a), cases[i].a);
		assert_int_equal(db_filter_eval(f, db, b), cases[i].b);
		db_filter_free(f);
	}
	db_unlock(db);
	const char *bad[] = {"", "field", "field \"x\"", "(true", "true and", "\"a\"=\"b", "true junk"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_null(db_filter_parse(bad[i], SC_C_VM, &e));
		assert_string_equal(e.code, "INVALID_VALUE");
		xerr_clear(&e);
	}
	db_close(db);
}

/* An expression repeating unit n times between head and tail. */
static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *s = malloc(hl + ul * n + tl + 1), *p = s;
	memcpy(p, head, hl);
	p += hl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, tail, tl + 1);
	return s;
}

static void filter_nested(const char *open, size_t n, const char *close, bool ok)
{
	/* open n times, "true", close n times */
	char *l = repeat("", open, n, "true");
	char *r = repeat("", close, n, "");
	char *expr = malloc(strlen(l) + strlen(r) + 1);
	strcpy(expr, l);
	strcat(expr, r);
	struct xerr e = XERR_INIT;
	struct db_filter *f = db_filter_parse(expr, SC_C_VM, &e);
	if (ok) {
		assert_non_null(f);
	} else {
		assert_null(f);
		assert_string_equal(e.code, "INVALID_VALUE");
	}
	db_filter_free(f);
	xerr_clear(&e);
	free(l);
	free(r);
	free(expr);
}

/* What a hostile client may send: nesting and length past the bounds is
 * INVALID_VALUE, never a recursion through the thread's stack. */
static void test_filter_bounds(void **state)
{
	(void)state;
	filter_nested("(", 64, ")", true);
	filter_nested("(", 65, ")", false);
	filter_nested("not ", 64, "", true);
	filter_nested("not ", 65, "", false);
	filter_nested("(", 200000, ")", false);
	filter_nested("not (", 100000, ")", false);
	struct xerr e = XERR_INIT;
	/* 1,023 nodes (512 terms, 511 joins), then one term more */
	char *chain = repeat("true", " and true", 511, "");
	struct db_filter *f = db_filter_parse(chain, SC_C_VM, &e);
	assert_non_null(f);
	db_filter_free(f);
	free(chain);
	chain = repeat("true", " or true", 512, "");
	assert_null(db_filter_parse(chain, SC_C_VM, &e));
	xerr_clear(&e);
	free(chain);
	const char *joins[] = {" and true", " or true"};
	for (size_t i = 0; i < 2; i++) {
		chain = repeat("true", joins[i], 200000, "");
		assert_null(db_filter_parse(chain, SC_C_VM, &e));
		assert_string_equal(e.code, "INVALID_VALUE");
		xerr_clear(&e);
		free(chain);
	}
}

static void test_durable_reload(void **state)
{
	(void)state;
	char path[] = "/tmp/xenon-test-db-XXXXXX";
	struct xerr e = XERR_INIT;
	struct db *db = open_new_file(path);
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	struct db_obj *vbd = db_create(t, SC_C_VBD, NULL);
	struct db_obj *sess = db_create(t, SC_C_session, NULL);
	db_set_str(t, vbd, SC_F_VBD__VM, vm->ref);
	db_set_str(t, vm, SC_F_VM__name_label, "kept");
	xv_map_set_str(db_edit(t, vm, SC_F_VM__other_config), "owner", "me");
	db_set_int(t, vm, SC_F_VM__memory_static_max, 1LL << 40);
	char vm_ref[REF_STRLEN + 1], sess_ref[REF_STRLEN + 1];
	memcpy(vm_ref, vm->ref, sizeof vm_ref);
	memcpy(sess_ref, sess->ref, sizeof sess_ref);
	assert_int_equal(db_commit(t, &e), 0);
	uint64_t gen = db_generation(db);
	db_close(db);

	db = db_open(path, &e);
	assert_non_null(db);
	assert_int_equal(db_generation(db), gen);
	db_rdlock(db);
	vm = db_lookup_cls(db, SC_C_VM, vm_ref);
	assert_non_null(vm);
	assert_string_equal(db_peek_str(vm, SC_F_VM__name_label), "kept");
	assert_string_equal(xv_map_get_str(db_peek(vm, SC_F_VM__other_config), "owner"), "me");
	assert_int_equal(db_peek_int(vm, SC_F_VM__memory_static_max), 1LL << 40);
	xv vbds = db_get(db, vm, SC_F_VM__VBDs);
	assert_int_equal(xv_len(&vbds), 1);
	xv_free(&vbds);
	assert_null(db_lookup(db, sess_ref)); /* sessions do not outlive the process */
	db_unlock(db);
	db_close(db);
	rm_db_files(path);
}

/* The uuid index follows a uuid changed in a transaction, and an abort
 * puts the old one back. */
static void test_uuid_index(void **state)
{
	(void)state;
	struct db *db = open_mem();
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	db_commit(t, NULL);
	char old[UUID_STRLEN + 1];
	snprintf(old, sizeof old, "%s", db_peek_str(vm, SC_F_VM__uuid));
	const char *fresh = "00000000-0000-4000-8000-000000000001";

	t = db_begin(db);
	db_set_str(t, vm, SC_F_VM__uuid, fresh);
	assert_ptr_equal(db_lookup_uuid(db, SC_C_VM, fresh), vm);
	assert_null(db_lookup_uuid(db, SC_C_VM, old));
	db_abort(t);
	db_rdlock(db);
	assert_ptr_equal(db_lookup_uuid(db, SC_C_VM, old), vm);
	assert_null(db_lookup_uuid(db, SC_C_VM, fresh));
	db_unlock(db);

	t = db_begin(db);
	db_set_str(t, vm, SC_F_VM__uuid, fresh);
	db_commit(t, NULL);
	db_rdlock(db);
	assert_ptr_equal(db_lookup_uuid(db, SC_C_VM, fresh), vm);
	assert_null(db_lookup_uuid(db, SC_C_VM, old));
	assert_null(db_lookup_uuid(db, SC_C_SR, fresh)); /* per class */
	db_unlock(db);

	t = db_begin(db);
	db_delete(t, vm);
	db_commit(t, NULL);
	db_rdlock(db);
	assert_null(db_lookup_uuid(db, SC_C_VM, fresh));
	db_unlock(db);
	db_close(db);
}

/* Objects of a class are walked in creation order; a deleted one drops
 * out, an aborted creation never shows, and the counts agree. */
static void test_class_order_and_counts(void **state)
{
	(void)state;
	struct db *db = open_mem();
	char refs[5][REF_STRLEN + 1];
	struct db_txn *t = db_begin(db);
	for (int i = 0; i < 5; i++) {
		struct db_obj *o = db_create(t, SC_C_VM, NULL);
		memcpy(refs[i], o->ref, sizeof refs[i]);
	}
	db_create(t, SC_C_SR, NULL);
	db_commit(t, NULL);
	t = db_begin(db);
	db_delete(t, db_lookup(db, refs[2]));
	db_commit(t, NULL);
	t = db_begin(db);
	db_create(t, SC_C_VM, NULL);
	db_delete(t, db_lookup(db, refs[0]));
	db_abort(t);

	db_rdlock(db);
	assert_int_equal(db_count(db, SC_C_VM), 4);
	assert_int_equal(db_count(db, SC_C_SR), 1);
	const int want[] = {0, 1, 3, 4};
	int i = 0;
	for (struct db_obj *o = db_first(db, SC_C_VM); o; o = db_next(o), i++) {
		assert_true(i < 4);
		assert_string_equal(o->ref, refs[want[i]]);
	}
	assert_int_equal(i, 4);
	db_unlock(db);
	db_close(db);
}

/* A creation given its ref keeps it; a ref already taken, by any class,
 * is refused. */
static void test_create_with_ref(void **state)
{
	(void)state;
	struct db *db = open_mem();
	const char *ref = "OpaqueRef:00000000-0000-4000-8000-0000000000aa";
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_create(t, SC_C_VM, ref);
	assert_non_null(vm);
	assert_string_equal(vm->ref, ref);
	assert_null(db_create(t, SC_C_SR, ref));
	db_commit(t, NULL);
	db_rdlock(db);
	assert_ptr_equal(db_lookup_cls(db, SC_C_VM, ref), vm);
	db_unlock(db);
	db_close(db);
}

struct woken {
	int n;
};

static void on_wake(void *arg)
{
	((struct woken *)arg)->n++;
}

/* Waiters are woken by commits touching a class they asked for, not by
 * other classes, aborts or empty transactions; each commit is one
 * generation. */
static void test_waiters_and_generations(void **state)
{
	(void)state;
	struct db *db = open_mem();
	struct woken vm_w = {0}, any_w = {0};
	struct db_waiter wv = {.wake = on_wake, .arg = &vm_w};
	wv.classes[SC_C_VM / 64] |= 1ull << (SC_C_VM % 64);
	struct db_waiter wa = {.wake = on_wake, .arg = &any_w, .classes = {~0ull, ~0ull}};
	db_waiter_add(db, &wv);
	db_waiter_add(db, &wa);

	struct db_txn *t = db_begin(db);
	db_create(t, SC_C_VM, NULL);
	db_commit(t, NULL);
	assert_int_equal(vm_w.n, 1);
	assert_int_equal(any_w.n, 1);
	assert_int_equal(db_generation(db), 1);

	t = db_begin(db);
	db_create(t, SC_C_network, NULL);
	db_commit(t, NULL);
	assert_int_equal(vm_w.n, 1);
	assert_int_equal(any_w.n, 2);
	assert_int_equal(db_generation(db), 2);

	t = db_begin(db);
	db_create(t, SC_C_VM, NULL);
	db_abort(t);
	t = db_begin(db);
	db_commit(t, NULL); /* nothing changed */
	assert_int_equal(vm_w.n, 1);
	assert_int_equal(any_w.n, 2);
	assert_int_equal(db_generation(db), 2);

	db_waiter_remove(db, &wv);
	t = db_begin(db);
	db_create(t, SC_C_VM, NULL);
	db_commit(t, NULL);
	assert_int_equal(vm_w.n, 1);
	assert_int_equal(any_w.n, 3);
	db_wake_all(db);
	assert_int_equal(any_w.n, 4);
	db_waiter_remove(db, &wa);
	db_close(db);
}

/* A change written and then undone in one transaction still leaves the
 * value as it was after an abort, and edits to maps are undone whole. */
static void test_abort_after_many_edits(void **state)
{
	(void)state;
	struct db *db = open_mem();
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	xv_map_set_str(db_edit(t, vm, SC_F_VM__other_config), "a", "1");
	db_set_int(t, vm, SC_F_VM__VCPUs_max, 2);
	db_commit(t, NULL);

	t = db_begin(db);
	for (int i = 0; i < 100; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		xv_map_set_str(db_edit(t, vm, SC_F_VM__other_config), k, "v");
		db_set_int(t, vm, SC_F_VM__VCPUs_max, i);
	}
	xv_map_del(db_edit(t, vm, SC_F_VM__other_config), "a");
	db_abort(t);
	db_rdlock(db);
	const xv *oc = db_peek(vm, SC_F_VM__other_config);
	assert_int_equal(xv_len(oc), 1);
	assert_string_equal(xv_map_get_str(oc, "a"), "1");
	assert_int_equal(db_peek_int(vm, SC_F_VM__VCPUs_max), 2);
	db_unlock(db);
	db_close(db);
}

struct counter_arg {
	struct db *db;
	char ref[REF_STRLEN + 1];
	int rounds;
};

static void *bump(void *arg)
{
	struct counter_arg *c = arg;
	for (int i = 0; i < c->rounds; i++) {
		struct db_txn *t = db_begin(c->db);
		struct db_obj *vm = db_lookup(c->db, c->ref);
		db_set_int(t, vm, SC_F_VM__VCPUs_max, db_peek_int(vm, SC_F_VM__VCPUs_max) + 1);
		db_commit(t, NULL);
	}
	return NULL;
}

/* A transaction is serialised against every other: read-modify-write
 * from two threads loses no update, and readers meanwhile never see a
 * value going backwards. */
static void test_transactions_serialise(void **state)
{
	(void)state;
	struct db *db = open_mem();
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	db_set_int(t, vm, SC_F_VM__VCPUs_max, 0);
	struct counter_arg c = {.db = db, .rounds = 2000};
	memcpy(c.ref, vm->ref, sizeof c.ref);
	db_commit(t, NULL);
	pthread_t a, b;
	pthread_create(&a, NULL, bump, &c);
	pthread_create(&b, NULL, bump, &c);
	int64_t last = 0;
	for (int i = 0; i < 2000; i++) {
		db_rdlock(db);
		int64_t v = db_peek_int(db_lookup(db, c.ref), SC_F_VM__VCPUs_max);
		db_unlock(db);
		assert_true(v >= last);
		last = v;
	}
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	db_rdlock(db);
	assert_int_equal(db_peek_int(db_lookup(db, c.ref), SC_F_VM__VCPUs_max), 4000);
	db_unlock(db);
	assert_int_equal(db_generation(db), 4001);
	db_close(db);
}

/* What the durable log replays: deletions and later changes, not aborted
 * transactions. */
static void test_durable_changes_and_deletes(void **state)
{
	(void)state;
	char path[] = "/tmp/xenon-test-db-XXXXXX";
	struct xerr e = XERR_INIT;
	struct db *db = open_new_file(path);
	struct db_txn *t = db_begin(db);
	struct db_obj *a = db_create(t, SC_C_VM, NULL);
	struct db_obj *b = db_create(t, SC_C_VM, NULL);
	char ra[REF_STRLEN + 1], rb[REF_STRLEN + 1], rc[REF_STRLEN + 1];
	memcpy(ra, a->ref, sizeof ra);
	memcpy(rb, b->ref, sizeof rb);
	db_commit(t, &e);
	t = db_begin(db);
	db_set_str(t, a, SC_F_VM__name_label, "second");
	db_delete(t, b);
	db_commit(t, &e);
	t = db_begin(db);
	db_set_str(t, a, SC_F_VM__name_label, "aborted");
	struct db_obj *c = db_create(t, SC_C_VM, NULL);
	memcpy(rc, c->ref, sizeof rc);
	db_abort(t);
	db_close(db);

	db = db_open(path, &e);
	assert_non_null(db);
	db_rdlock(db);
	a = db_lookup(db, ra);
	assert_non_null(a);
	assert_string_equal(db_peek_str(a, SC_F_VM__name_label), "second");
	assert_null(db_lookup(db, rb));
	assert_null(db_lookup(db, rc));
	assert_int_equal(db_count(db, SC_C_VM), 1);
	db_unlock(db);
	assert_int_equal(db_generation(db), 2);
	db_close(db);
	rm_db_files(path);
}

/* Every field of rows holding what the fast row reader must hand back
 * as jansson would (escapes, control characters, non-ASCII text that
 * goes the slow way, floats, huge and negative integers, nested maps)
 * reloads equal to what was stored. */
static void test_durable_reload_values(void **state)
{
	(void)state;
	char path[] = "/tmp/xenon-test-db-XXXXXX";
	struct xerr e = XERR_INIT;
	struct db *db = open_new_file(path);
	static const char *names[] = {
		"plain", "", "q\"uote\\back/slash", "ctl\n\t\r\b\f\x01\x1f", "caf\xc3\xa9 \xf0\x9f\x98\x80",
		"<xml>&amp;", "{\"json\":[1,2]}", "  spaces  ",
	};
	enum { N = sizeof names / sizeof names[0] };
	char refs[N + 1][REF_STRLEN + 1];
	struct db_txn *t = db_begin(db);
	for (int i = 0; i < N; i++) {
		struct db_obj *vm = db_create(t, SC_C_VM, NULL);
		memcpy(refs[i], vm->ref, REF_STRLEN + 1);
		db_set_str(t, vm, SC_F_VM__name_label, names[i]);
		db_set_int(t, vm, SC_F_VM__memory_static_max, i % 2 ? INT64_MAX : INT64_MIN + i);
		xv *oc = db_edit(t, vm, SC_F_VM__other_config);
		xv_map_set_str(oc, names[i], names[(i + 1) % N]);
		xv_map_set_str(oc, "k", "\\u0041");
		xv_map_set_str(db_edit(t, vm, SC_F_VM__VCPUs_params), "weight", "256");
		xv_arr_push_str(db_edit(t, vm, SC_F_VM__tags), names[i]);
	}
	struct db_obj *cpu = db_create(t, SC_C_host_cpu, NULL);
	memcpy(refs[N], cpu->ref, REF_STRLEN + 1);
	db_set(t, cpu, SC_F_host_cpu__utilisation, xv_float(0.1 + 1e-300));
	assert_int_equal(db_commit(t, &e), 0);
	xv before[N + 1];
	db_rdlock(db);
	for (int i = 0; i <= N; i++)
		before[i] = db_record(db, db_lookup(db, refs[i]));
	db_unlock(db);
	db_close(db);

	db = db_open(path, &e);
	assert_non_null(db);
	db_rdlock(db);
	for (int i = 0; i <= N; i++) {
		struct db_obj *o = db_lookup(db, refs[i]);
		assert_non_null(o);
		xv after = db_record(db, o);
		assert_true(xv_equal(&before[i], &after));
		xv_free(&after);
		xv_free(&before[i]);
	}
	assert_string_equal(db_peek_str(db_lookup(db, refs[3]), SC_F_VM__name_label), names[3]);
	db_unlock(db);
	db_close(db);
	rm_db_files(path);
}

/* ---- pipelined commits (a pool leader's replicator with submit) ---- */

struct fake_pool {
	pthread_mutex_t m;
	pthread_cond_t c;
	struct db_pend *pd[8];
	int n;
};

static int fake_replicate(void *arg, const char *entry, size_t len, struct xerr *err)
{
	(void)arg, (void)entry, (void)len, (void)err;
	return 0;
}

static int fake_submit(void *arg, const char *entry, size_t len, struct db_pend *pd, struct xerr *err)
{
	(void)entry, (void)len, (void)err;
	struct fake_pool *f = arg;
	pthread_mutex_lock(&f->m);
	f->pd[f->n++] = pd;
	pthread_cond_broadcast(&f->c);
	pthread_mutex_unlock(&f->m);
	return 1;
}

static void fake_wait(struct fake_pool *f, int n)
{
	pthread_mutex_lock(&f->m);
	while (f->n < n)
		pthread_cond_wait(&f->c, &f->m);
	pthread_mutex_unlock(&f->m);
}

struct pipe_writer {
	struct db *db;
	char vm[REF_STRLEN + 1];
	int64_t set;        /* VCPUs_max to set */
	int64_t seen;       /* what the transaction read first */
	bool create;        /* also makes a VM (its ref in made) */
	char del[REF_STRLEN + 1]; /* and deletes this one ("" none) */
	char made[REF_STRLEN + 1];
	int rc;
};

static void *pipe_write(void *arg)
{
	struct pipe_writer *w = arg;
	struct db_txn *t = db_begin(w->db);
	struct db_obj *vm = db_lookup(w->db, w->vm);
	w->seen = db_peek_int(vm, SC_F_VM__VCPUs_max);
	db_set_int(t, vm, SC_F_VM__VCPUs_max, w->set);
	if (w->create) {
		struct db_obj *o = db_create(t, SC_C_VM, NULL);
		db_set_str(t, o, SC_F_VM__name_label, "made while pending");
		memcpy(w->made, o->ref, sizeof w->made);
	}
	if (w->del[0])
		db_delete(t, db_lookup(w->db, w->del));
	struct xerr e = XERR_INIT;
	w->rc = db_commit(t, &e);
	xerr_clear(&e);
	return NULL;
}

struct pipe_reader {
	struct db *db;
	char vm[REF_STRLEN + 1];
	int64_t seen;
	volatile bool done;
};

static void *pipe_read(void *arg)
{
	struct pipe_reader *r = arg;
	db_rdlock(r->db);
	r->seen = db_peek_int(db_lookup(r->db, r->vm), SC_F_VM__VCPUs_max);
	db_unlock(r->db);
	r->done = true;
	return NULL;
}

/* Two commits in the pipeline at once: the second builds on the first,
 * readers see neither until both committed, and when the first fails
 * both are rolled back (the one made and the one deleted as they were). */
static void test_pipelined_commits(void **state)
{
	(void)state;
	struct db *db = open_mem();
	struct db_txn *t = db_begin(db);
	struct db_obj *vm = db_create(t, SC_C_VM, NULL);
	db_set_int(t, vm, SC_F_VM__VCPUs_max, 0);
	char ref[REF_STRLEN + 1];
	memcpy(ref, vm->ref, sizeof ref);
	assert_int_equal(db_commit(t, NULL), 0);
	struct fake_pool f = {.n = 0};
	pthread_mutex_init(&f.m, NULL);
	pthread_cond_init(&f.c, NULL);
	db_set_replicator(db, &(struct db_replicator){fake_replicate, &f, fake_submit});
	uint64_t gen0 = db_generation(db);

	/* committed: both visible, in order */
	struct pipe_writer a = {.db = db, .set = 1}, b = {.db = db, .set = 2, .create = true};
	memcpy(a.vm, ref, sizeof ref);
	memcpy(b.vm, ref, sizeof ref);
	pthread_t ta, tb, tr;
	pthread_create(&ta, NULL, pipe_write, &a);
	fake_wait(&f, 1);
	pthread_create(&tb, NULL, pipe_write, &b);
	fake_wait(&f, 2);
	assert_int_equal(b.seen, 1); /* a later transaction builds on a pending one */
	struct pipe_reader r = {.db = db};
	memcpy(r.vm, ref, sizeof ref);
	pthread_create(&tr, NULL, pipe_read, &r);
	usleep(100000);
	assert_false(r.done); /* nobody reads a change before its commit */
	db_pend_complete(f.pd[0], true, 1, NULL);
	db_pend_complete(f.pd[1], true, 2, NULL);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	pthread_join(tr, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_int_equal(r.seen, 2);
	assert_int_equal(db_generation(db), gen0 + 2);
	db_rdlock(db);
	assert_non_null(db_lookup(db, b.made));
	db_unlock(db);

	/* the first fails: both rolled back, last first */
	struct pipe_writer c = {.db = db, .set = 10}, d = {.db = db, .set = 11, .create = true};
	memcpy(c.vm, ref, sizeof ref);
	memcpy(d.vm, ref, sizeof ref);
	memcpy(d.del, b.made, sizeof d.del);
	pthread_create(&ta, NULL, pipe_write, &c);
	fake_wait(&f, 3);
	pthread_create(&tb, NULL, pipe_write, &d);
	fake_wait(&f, 4);
	assert_int_equal(d.seen, 10);
	struct xerr e = XERR_INIT;
	xerr_internal(&e, "leadership lost");
	db_pend_complete(f.pd[2], false, 0, &e);
	xerr_clear(&e);
	xerr_internal(&e, "leadership lost");
	db_pend_complete(f.pd[3], false, 0, &e);
	xerr_clear(&e);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_int_equal(c.rc, -1);
	assert_int_equal(d.rc, -1);
	db_rdlock(db);
	assert_int_equal(db_peek_int(db_lookup(db, ref), SC_F_VM__VCPUs_max), 2);
	assert_null(db_lookup(db, d.made));
	assert_non_null(db_lookup(db, b.made));
	db_unlock(db);
	assert_int_equal(db_generation(db), gen0 + 2);
	db_set_replicator(db, NULL);
	db_close(db);
	pthread_mutex_destroy(&f.m);
	pthread_cond_destroy(&f.c);
}

int main(void)
{
	schema_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_and_defaults),
		cmocka_unit_test(test_abort_restores),
		cmocka_unit_test(test_relations),
		cmocka_unit_test(test_change_list),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_filter_bounds),
		cmocka_unit_test(test_durable_reload),
		cmocka_unit_test(test_uuid_index),
		cmocka_unit_test(test_class_order_and_counts),
		cmocka_unit_test(test_create_with_ref),
		cmocka_unit_test(test_waiters_and_generations),
		cmocka_unit_test(test_abort_after_many_edits),
		cmocka_unit_test(test_transactions_serialise),
		cmocka_unit_test(test_durable_changes_and_deletes),
		cmocka_unit_test(test_durable_reload_values),
		cmocka_unit_test(test_pipelined_commits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
