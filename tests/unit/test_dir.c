/* Unit tests of src/base/dir and src/base/file: mkdir -p over fresh and
 * existing parents, the mode, and the component named when one cannot be
 * made; whole files read, empty, large, bounded, missing. */
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
#include "base/file.h"

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

static void write_bytes(const char *path, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	for (size_t i = 0; i < n; i++)
		fputc('a' + (int)(i % 26), f);
	assert_int_equal(fclose(f), 0);
}

static void test_file_read(void **state)
{
	(void)state;
	char top[64], path[128];
	snprintf(top, sizeof top, "/tmp/xenon-file-XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(path, sizeof path, "%s/f", top);
	size_t len = 99;
	/* missing: NULL, errno, length 0 */
	errno = 0;
	assert_null(file_read(path, 0, &len));
	assert_int_equal(errno, ENOENT);
	assert_int_equal(len, 0);
	/* empty: an empty string */
	write_bytes(path, 0);
	char *s = file_read(path, 0, &len);
	assert_non_null(s);
	assert_string_equal(s, "");
	assert_int_equal(len, 0);
	free(s);
	/* exactly the first buffer, and past several doublings */
	size_t sizes[] = {4095, 4096, 4097, 100000};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		write_bytes(path, sizes[k]);
		s = file_read(path, 0, &len);
		assert_non_null(s);
		assert_int_equal(len, sizes[k]);
		assert_int_equal(strlen(s), sizes[k]);
		assert_int_equal(s[sizes[k] - 1], 'a' + (int)((sizes[k] - 1) % 26));
		free(s);
	}
	/* bounded: no more than max, at and across a buffer's edge */
	size_t maxes[] = {1, 4096, 5000, 100000, 200000};
	for (size_t k = 0; k < sizeof maxes / sizeof maxes[0]; k++) {
		s = file_read(path, maxes[k], &len);
		assert_non_null(s);
		assert_int_equal(len, maxes[k] < 100000 ? maxes[k] : 100000);
		assert_int_equal(s[len], '\0');
		free(s);
	}
	/* a directory cannot be read */
	assert_null(file_read(top, 0, &len));
	assert_int_equal(len, 0);
	nftw(top, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_make_all),
		cmocka_unit_test(test_file_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
