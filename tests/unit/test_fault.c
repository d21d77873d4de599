/* The fault points (base/fault.c): disarmed they never fire, armed they
 * fail exactly the Nth hit once, specs parse or are refused whole, and
 * allocation is counted only inside a transaction's scope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "base/fault.h"
#include "base/strbuf.h"
#include "base/xv.h"

static void test_disabled(void **state)
{
	(void)state;
	/* first test: nothing has enabled counting yet */
	assert_false(fault_is_enabled());
	for (int i = 0; i < 10; i++)
		assert_false(fault_hit(FAULT_QMP));
	assert_int_equal(fault_hits(FAULT_QMP), 0);
}

static void test_nth_hit(void **state)
{
	(void)state;
	fault_arm(FAULT_QMP, 3);
	assert_true(fault_is_enabled());
	uint64_t base = fault_hits(FAULT_QMP);
	assert_false(fault_hit(FAULT_QMP));
	assert_false(fault_hit(FAULT_QMP));
	assert_true(fault_hit(FAULT_QMP));
	/* once: the next hits pass */
	for (int i = 0; i < 5; i++)
		assert_false(fault_hit(FAULT_QMP));
	assert_int_equal(fault_hits(FAULT_QMP) - base, 8);
	assert_int_equal(fault_fired(FAULT_QMP), 1);
	/* other points are counted apart */
	assert_false(fault_hit(FAULT_TAP));
	/* n = 0 disarms */
	fault_arm(FAULT_TAP, 1);
	fault_arm(FAULT_TAP, 0);
	assert_false(fault_hit(FAULT_TAP));
	assert_int_equal(fault_fired(FAULT_TAP), 0);
}

static void test_names_and_spec(void **state)
{
	(void)state;
	for (int i = 0; i < FAULT_NPOINTS; i++)
		assert_int_equal(fault_find(fault_name((enum fault_point)i)), i);
	assert_int_equal(fault_find("nosuch"), -1);
	assert_int_equal(fault_arm_spec("qemu_img:2,write:1"), 0);
	assert_true(fault_hit(FAULT_WRITE));
	assert_false(fault_hit(FAULT_QEMU_IMG));
	assert_true(fault_hit(FAULT_QEMU_IMG));
	/* refused whole: nothing of a bad spec is armed */
	const char *bad[] = {"fsync", "fsync:", "fsync:0", "fsync:x", "fsync:1,nosuch:2",
			     ":1", "fsync:1x"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		assert_int_equal(fault_arm_spec(bad[i]), -1);
		assert_false(fault_hit(FAULT_FSYNC));
	}
	assert_int_equal(fault_arm_spec(""), 0);
}

static void test_alloc_scope(void **state)
{
	(void)state;
	fault_arm(FAULT_ALLOC, 1);
	/* outside a transaction growth is not counted */
	uint64_t base = fault_hits(FAULT_ALLOC);
	struct strbuf sb = STRBUF_INIT;
	sb_puts(&sb, "x");
	assert_int_equal(fault_hits(FAULT_ALLOC), base);
	sb_free(&sb);

	fault_alloc_scope_begin();
	assert_false(fault_alloc_failed());
	xv a = xv_arr_new();
	xv_arr_push_str(&a, "first growth fails"); /* the buffer is still grown */
	assert_true(fault_alloc_failed());
	xv_arr_push_str(&a, "and the scope stays failed");
	assert_true(fault_alloc_failed());
	assert_int_equal(a.u.a->n, 2);
	xv_free(&a);
	fault_alloc_scope_end();
	assert_false(fault_alloc_failed());

	/* the second growth in a scope */
	fault_alloc_scope_begin();
	fault_arm(FAULT_ALLOC, 2);
	sb_puts(&sb, "a");
	assert_false(fault_alloc_failed());
	sb_grow(&sb, 1000);
	assert_true(fault_alloc_failed());
	fault_alloc_scope_end();
	sb_free(&sb);
	assert_int_equal(fault_fired(FAULT_ALLOC), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_nth_hit),
		cmocka_unit_test(test_names_and_spec),
		cmocka_unit_test(test_alloc_scope),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
