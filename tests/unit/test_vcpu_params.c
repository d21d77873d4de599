/* Unit tests of VCPUs_params parsing and its mapping onto Linux's knobs:
 * Xen weight to cgroup v2 cpu.weight and v1 cpu.shares (default to
 * default, ratios kept, clamped), cap to a CFS quota, masks per vCPU with
 * xapi's "unlisted vCPUs take the first mask", and what is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "xenops/vcpu_params.h"

static void parse3(const char *w, const char *c, const char *m, struct vcpu_params *p)
{
	xv map = xv_map_new();
	if (w)
		xv_map_set_str(&map, "weight", w);
	if (c)
		xv_map_set_str(&map, "cap", c);
	if (m)
		xv_map_set_str(&map, "mask", m);
	xv_map_set_str(&map, "other", "ignored");
	vcpu_params_parse(&map, p);
	xv_free(&map);
}

static void test_weight_mapping(void **state)
{
	(void)state;
	/* the default is the default on every scale */
	assert_int_equal(vcpu_weight_to_cgroup2(256), 100);
	assert_int_equal(vcpu_weight_to_shares(256), 1024);
	/* twice the weight, twice the share */
	assert_int_equal(vcpu_weight_to_cgroup2(512), 200);
	assert_int_equal(vcpu_weight_to_shares(512), 2048);
	assert_int_equal(vcpu_weight_to_cgroup2(128), 50);
	/* the ends of Xen's range stay inside the kernel's */
	assert_int_equal(vcpu_weight_to_cgroup2(1), 1);
	assert_int_equal(vcpu_weight_to_cgroup2(65535), 10000);
	assert_int_equal(vcpu_weight_to_shares(1), 4);
	assert_int_equal(vcpu_weight_to_shares(65535), 262140);
}

static void test_cap_mapping(void **state)
{
	(void)state;
	assert_int_equal(vcpu_cap_to_quota(0), -1); /* Xen: 0 = no cap */
	assert_int_equal(vcpu_cap_to_quota(100), CPU_PERIOD_US); /* one physical CPU */
	assert_int_equal(vcpu_cap_to_quota(50), CPU_PERIOD_US / 2);
	assert_int_equal(vcpu_cap_to_quota(250), CPU_PERIOD_US * 5 / 2);
	assert_int_equal(vcpu_cap_to_quota(1), 1000); /* the kernel's 1 ms floor */
}

static void test_parse(void **state)
{
	(void)state;
	struct vcpu_params p;
	parse3("512", "50", "1", &p);
	assert_true(p.has_weight && p.has_cap && p.has_mask);
	assert_false(p.bad_weight || p.bad_cap || p.bad_mask);
	assert_int_equal(p.weight, 512);
	assert_int_equal(p.cap, 50);
	assert_int_equal(p.nmasks, 1);
	assert_true(CPU_ISSET(1, &p.masks[0]));
	assert_false(CPU_ISSET(0, &p.masks[0]));
	/* one mask: every vCPU */
	assert_ptr_equal(vcpu_mask_for(&p, 0), &p.masks[0]);
	assert_ptr_equal(vcpu_mask_for(&p, 5), &p.masks[0]);

	parse3(NULL, NULL, NULL, &p);
	assert_false(p.has_weight || p.has_cap || p.has_mask || p.bad_weight);
	assert_null(vcpu_mask_for(&p, 0));

	/* per-vCPU masks, unlisted vCPUs the first one; ranges and spaces */
	parse3(NULL, NULL, "0,1; 2-3 ;1", &p);
	assert_true(p.has_mask);
	assert_int_equal(p.nmasks, 3);
	assert_int_equal(CPU_COUNT(&p.masks[0]), 2);
	assert_true(CPU_ISSET(2, &p.masks[1]) && CPU_ISSET(3, &p.masks[1]));
	assert_int_equal(CPU_COUNT(&p.masks[1]), 2);
	assert_ptr_equal(vcpu_mask_for(&p, 2), &p.masks[2]);
	assert_ptr_equal(vcpu_mask_for(&p, 3), &p.masks[0]);
}

static void test_parse_refused(void **state)
{
	(void)state;
	struct vcpu_params p;
	static const char *const bad_weights[] = {"0", "65536", "-5", "abc", "", "12x", "1.5"};
	for (size_t i = 0; i < sizeof bad_weights / sizeof bad_weights[0]; i++) {
		parse3(bad_weights[i], NULL, NULL, &p);
		assert_false(p.has_weight);
		assert_true(p.bad_weight);
	}
	parse3(NULL, "-1", NULL, &p);
	assert_true(p.bad_cap && !p.has_cap);
	parse3(NULL, "ten", NULL, &p);
	assert_true(p.bad_cap);
	static const char *const bad_masks[] = {"", "a", "1;;2", "3-1", "1,", "99999", ";"};
	for (size_t i = 0; i < sizeof bad_masks / sizeof bad_masks[0]; i++) {
		parse3(NULL, NULL, bad_masks[i], &p);
		assert_false(p.has_mask);
		assert_true(p.bad_mask);
		assert_null(vcpu_mask_for(&p, 0));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_weight_mapping),
		cmocka_unit_test(test_cap_mapping),
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_parse_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
