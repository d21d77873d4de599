/* Unit tests of the QEMU cgroup writer against directories laid out as
 * the kernel's cgroup files are (the kernel makes the control files; here
 * the test does): cgroup v2 with the cpu controller (cpu.weight, cpu.max,
 * +cpu in the parents' subtree_control), the v1 cpu hierarchy when v2 lacks
 * the controller (cpu.shares, cfs quota and period), nothing when neither
 * has it (weight and cap reported as not applied), and removal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"
#include "xenops/qemu_int.h"
#include "xenops/vcpu_params.h"

#define UUID "5d0c0f3e-2222-4b4b-8d8d-abcdefabcdef"

static char *root;

static void put(const char *path, const char *content)
{
	char *p = xasprintf("%s/%s", root, path);
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
	free(p);
}

static char *get(const char *path)
{
	char *p = xasprintf("%s/%s", root, path);
	FILE *f = fopen(p, "r");
	free(p);
	if (!f)
		return NULL;
	char buf[256] = "";
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	return xstrdup(buf);
}

static void mk(const char *path)
{
	char *p = xasprintf("%s/%s", root, path);
	assert_int_equal(mkdir(p, 0755), 0);
	free(p);
}

static char *at(const char *path)
{
	return xasprintf("%s/%s", root, path);
}

#define ASSERT_FILE(path, want)                     \
	do {                                        \
		char *got_ = get(path);             \
		assert_non_null(got_);              \
		assert_string_equal(got_, want);    \
		free(got_);                         \
	} while (0)

static int setup(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/xenon-cg-XXXXXX";
	const char *tmp = getenv("TMPDIR");
	root = tmp ? xasprintf("%s/xenon-cg-XXXXXX", tmp) : xstrdup(tmpl);
	assert_non_null(mkdtemp(root));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char *cmd = xasprintf("rm -rf '%s'", root);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	free(root);
	return 0;
}

static void params(const char *w, const char *c, struct vcpu_params *p)
{
	xv m = xv_map_new();
	if (w)
		xv_map_set_str(&m, "weight", w);
	if (c)
		xv_map_set_str(&m, "cap", c);
	vcpu_params_parse(&m, p);
	xv_free(&m);
}

/* What the kernel shows in a fresh cgroup directory. */
static void v2_files(const char *dir)
{
	char *p;
	static const char *const names[] = {"cpu.weight", "cpu.max", "cgroup.procs",
					    "cgroup.subtree_control"};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		p = xasprintf("%s/%s", dir, names[i]);
		put(p, "");
		free(p);
	}
}

static void test_v2(void **state)
{
	(void)state;
	mk("v2");
	put("v2/cgroup.controllers", "cpuset cpu io memory pids\n");
	put("v2/cgroup.subtree_control", "");
	mk("v2/xenon");
	mk("v2/xenon/" UUID);
	v2_files("v2/xenon");
	v2_files("v2/xenon/" UUID);
	struct vcpu_params p;
	params("512", "50", &p);
	bool w, c;
	char *v2 = at("v2");
	assert_int_equal(qemu_cgroup_apply_at(v2, NULL, UUID, 4242, &p, &w, &c), 0);
	assert_true(w && c);
	ASSERT_FILE("v2/xenon/" UUID "/cpu.weight", "200");
	ASSERT_FILE("v2/xenon/" UUID "/cpu.max", "50000 100000");
	ASSERT_FILE("v2/xenon/" UUID "/cgroup.procs", "4242");
	/* the controller enabled for the children on the way down */
	ASSERT_FILE("v2/cgroup.subtree_control", "+cpu");
	ASSERT_FILE("v2/xenon/cgroup.subtree_control", "+cpu");

	/* only a weight given: the cap goes back to none and is not reported */
	v2_files("v2/xenon/" UUID);
	params("128", NULL, &p);
	assert_int_equal(qemu_cgroup_apply_at(v2, NULL, UUID, 4242, &p, &w, &c), 0);
	assert_true(w);
	assert_false(c);
	ASSERT_FILE("v2/xenon/" UUID "/cpu.weight", "50");
	ASSERT_FILE("v2/xenon/" UUID "/cpu.max", "max 100000");
	free(v2);
}

static void test_v1_when_v2_lacks_cpu(void **state)
{
	(void)state;
	mk("u");
	put("u/cgroup.controllers", "hugetlb\n"); /* a hybrid host: cpu is v1's */
	mk("cpu");
	mk("cpu/xenon");
	mk("cpu/xenon/" UUID);
	static const char *const names[] = {"cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us",
					    "cgroup.procs"};
	for (size_t i = 0; i < 4; i++) {
		char *p = xasprintf("cpu/xenon/" UUID "/%s", names[i]);
		put(p, "");
		free(p);
	}
	struct vcpu_params p;
	params("512", "250", &p);
	bool w, c;
	char *v2 = at("u"), *v1 = at("cpu");
	assert_int_equal(qemu_cgroup_apply_at(v2, v1, UUID, 77, &p, &w, &c), 0);
	assert_true(w && c);
	ASSERT_FILE("cpu/xenon/" UUID "/cpu.shares", "2048");
	ASSERT_FILE("cpu/xenon/" UUID "/cpu.cfs_quota_us", "250000");
	ASSERT_FILE("cpu/xenon/" UUID "/cpu.cfs_period_us", "100000");
	ASSERT_FILE("cpu/xenon/" UUID "/cgroup.procs", "77");
	/* nothing made in the v2 tree */
	char *x = at("u/xenon");
	assert_int_not_equal(access(x, F_OK), 0);
	free(x);

	/* removal: the VM's directory goes (once the kernel emptied it) */
	for (size_t i = 0; i < 4; i++) {
		char *f = xasprintf("%s/xenon/" UUID "/%s", v1, names[i]);
		unlink(f);
		free(f);
	}
	qemu_cgroup_remove_at(v2, v1, UUID);
	char *d = at("cpu/xenon/" UUID);
	assert_int_not_equal(access(d, F_OK), 0);
	free(d);
	d = at("cpu/xenon"); /* the shared parent stays */
	assert_int_equal(access(d, F_OK), 0);
	free(d);
	free(v2);
	free(v1);
}

static void test_no_controller(void **state)
{
	(void)state;
	mk("bare");
	put("bare/cgroup.controllers", "memory pids\n");
	struct vcpu_params p;
	params("512", "50", &p);
	bool w = true, c = true;
	char *v2 = at("bare");
	assert_int_equal(qemu_cgroup_apply_at(v2, NULL, UUID, 1, &p, &w, &c), -1);
	assert_false(w || c);
	assert_int_equal(qemu_cgroup_apply_at(NULL, NULL, UUID, 1, &p, &w, &c), -1);
	assert_false(w || c);
	free(v2);
}

/* A pid that cannot be moved (the kernel refuses it): nothing reported. */
static void test_move_refused(void **state)
{
	(void)state;
	mk("ro");
	put("ro/cgroup.controllers", "cpu\n");
	put("ro/cgroup.subtree_control", "cpu\n");
	mk("ro/xenon");
	put("ro/xenon/cgroup.subtree_control", "cpu\n");
	mk("ro/xenon/" UUID);
	put("ro/xenon/" UUID "/cpu.weight", "");
	put("ro/xenon/" UUID "/cpu.max", "");
	/* no cgroup.procs: the write fails */
	struct vcpu_params p;
	params("512", "50", &p);
	bool w = true, c = true;
	char *v2 = at("ro");
	assert_int_equal(qemu_cgroup_apply_at(v2, NULL, UUID, 5, &p, &w, &c), -1);
	assert_false(w || c);
	free(v2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(test_v1_when_v2_lacks_cpu, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_controller, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move_refused, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
