/* Unit tests of src/inspect/resolve.c: paths inside a guest filesystem
 * made canonical against a made-up tree of symlinks, never leaving it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "inspect/inspect.h"

/* The guest's symlinks: path -> target; everything else is a plain name. */
static const char *const links[][2] = {
	{"/etc/escape", "/"},
	{"/etc/up", "../../../.."},
	{"/etc/hosts-abs", "/etc/hosts"},
	{"/etc/rel", "hosts"},
	{"/bin", "usr/bin"},
	{"/loop/a", "b"},
	{"/loop/b", "a"},
	{"/deep", "/deep/x"},
};

static int calls;

static int lookup(void *arg, const char *p, char **target, struct xerr *err)
{
	(void)arg;
	(void)err;
	calls++;
	assert_true(p[0] == '/');
	assert_null(strstr(p, "/../"));
	assert_null(strstr(p, "/./"));
	for (size_t i = 0; i < sizeof links / sizeof links[0]; i++)
		if (!strcmp(p, links[i][0])) {
			*target = xstrdup(links[i][1]);
			return 1;
		}
	return 0;
}

static void check(const char *in, bool keep_last, const char *want)
{
	struct xerr e = XERR_INIT;
	char *out = insp_resolve(in, keep_last, lookup, NULL, &e);
	if (!out)
		fail_msg("%s: %s %s", in, e.code, e.nparams ? e.params[0] : "");
	assert_string_equal(out, want);
	free(out);
}

static void refused(const char *in, const char *why)
{
	struct xerr e = XERR_INIT;
	char *out = insp_resolve(in, false, lookup, NULL, &e);
	assert_null(out);
	assert_string_equal(e.code, "INSPECT_PATH_INVALID");
	assert_int_equal(e.nparams, 2);
	assert_non_null(strstr(e.params[1], why));
	xerr_clear(&e);
}

static void test_plain(void **state)
{
	(void)state;
	check("/", false, "/");
	check("//", false, "/");
	check("/etc/hostname", false, "/etc/hostname");
	check("/etc//./hostname/", false, "/etc/hostname");
	check("/a/b/../c", false, "/a/c");
}

static void test_dotdot_stops_at_root(void **state)
{
	(void)state;
	check("/..", false, "/");
	check("/../../etc/hostname", false, "/etc/hostname");
	check("/data/../../../etc/./hostname", false, "/etc/hostname");
}

static void test_symlinks_stay_inside(void **state)
{
	(void)state;
	check("/etc/escape", false, "/");
	check("/etc/escape/etc/hostname", false, "/etc/hostname");
	check("/etc/escape/../../proc/1", false, "/proc/1");
	check("/etc/up/etc/hostname", false, "/etc/hostname");
	check("/etc/hosts-abs", false, "/etc/hosts");
	check("/etc/rel", false, "/etc/hosts");
	check("/bin/sh", false, "/usr/bin/sh");
	/* the last name kept as it is (a write's target) */
	check("/etc/escape", true, "/etc/escape");
	check("/etc/escape/x", true, "/x");
}

static void test_refused(void **state)
{
	(void)state;
	refused("etc/hostname", "absolute");
	refused("", "absolute");
	refused("/loop/a", "symbolic links");
	refused("/deep", "symbolic links");
	char *long_name = xmalloc(300);
	long_name[0] = '/';
	memset(long_name + 1, 'x', 298);
	long_name[299] = '\0';
	refused(long_name, "name is too long");
	free(long_name);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_dotdot_stops_at_root),
		cmocka_unit_test(test_symlinks_stay_inside),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
