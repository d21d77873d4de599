/* Unit tests of the object store: transactions and rollback, derived
 * relation fields, the change list behind event.from, the filter
 * language, and reloading from the durable log. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
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

static void test_durable_reload(void **state)
{
	(void)state;
	char path[] = "/tmp/xenon-test-db-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	struct xerr e = XERR_INIT;
	struct db *db = db_open(path, &e);
	assert_non_null(db);
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
	unlink(path);
	char side[64];
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
}

/* Every field of rows holding what the fast row reader must hand back
 * as jansson would (escapes, control characters, non-ASCII text that
 * goes the slow way, floats, huge and negative integers, nested maps)
 * reloads equal to what was stored. */
static void test_durable_reload_values(void **state)
{
	(void)state;
	char path[] = "/tmp/xenon-test-db-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	struct xerr e = XERR_INIT;
	struct db *db = db_open(path, &e);
	assert_non_null(db);
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
	unlink(path);
	char side[64];
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
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
		cmocka_unit_test(test_durable_reload),
		cmocka_unit_test(test_durable_reload_values),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
