/* Unit tests of src/base/dir: mkdir -p over fresh and existing parents,
 * the mode, and the component named when one cannot be made. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/dir.h"

static int rm_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

static void test_make_all(void **state)
{
	(void)state;
	umask(022);
	char top[64], path[128];
	snprintf(top, sizeof top, "/tmp/xenon-dir-XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(path, sizeof path, "%s/a/b/c", top);
	assert_int_equal(dir_make_all(path, 0700, NULL), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0700);
	/* again: everything exists */
	assert_int_equal(dir_make_all(path, 0700, NULL), 0);
	/* a trailing slash */
	snprintf(path, sizeof path, "%s/a/d/", top);
	assert_int_equal(dir_make_all(path, 0755, NULL), 0);
	assert_int_equal(stat(path, &st), 0);

	/* a file in the way, as a parent or as the last component */
	snprintf(path, sizeof path, "%s/f", top);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	char file[128], *failed = NULL;
	snprintf(file, sizeof file, "%s/f", top);
	snprintf(path, sizeof path, "%s/f/g", top);
	assert_int_equal(dir_make_all(path, 0700, &failed), -ENOTDIR);
	assert_string_equal(failed, file);
	free(failed);
	assert_int_equal(dir_make_all(file, 0700, &failed), -ENOTDIR);
	assert_string_equal(failed, file);
	free(failed);

	assert_int_equal(dir_make_all("", 0700, NULL), -ENOENT);
	assert_int_equal(dir_make_all("/", 0700, NULL), 0);
	assert_int_equal(nftw(top, rm_entry, 16, FTW_DEPTH | FTW_PHYS), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_all),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
