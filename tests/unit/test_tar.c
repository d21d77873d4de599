/* Unit tests of the streaming tar reader shared by the XVA and OVA
 * imports: members announced with their sizes, data handed on whole
 * whatever the pieces it arrives in, zero-length members, the end blocks
 * and what follows them, damaged headers and a callback's refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/tar.h"

struct seen {
	char log[4096];
	size_t bytes;
	int refuse_at; /* member number whose announcement fails, or -1 */
	int members;
};

static int on_member(void *arg, const char *name, uint64_t size)
{
	struct seen *s = arg;
	if (s->members++ == s->refuse_at)
		return -7;
	size_t l = strlen(s->log);
	snprintf(s->log + l, sizeof s->log - l, "[%s %llu:", name, (unsigned long long)size);
	return 0;
}

static int on_data(void *arg, const char *p, size_t n)
{
	struct seen *s = arg;
	size_t l = strlen(s->log);
	snprintf(s->log + l, sizeof s->log - l, "%.*s", (int)n, p);
	s->bytes += n;
	return 0;
}

static int on_end(void *arg)
{
	struct seen *s = arg;
	strncat(s->log, "]", sizeof s->log - strlen(s->log) - 1);
	return 0;
}

static const struct tar_reader_ops ops = {on_member, on_data, on_end};

/* An archive of the given members (name, content), end blocks and some
 * trailing zeros; *len its size. */
static unsigned char *archive(const char *const *m, size_t nm, size_t *len)
{
	size_t cap = 4096 * (nm + 4), n = 0;
	unsigned char *a = calloc(1, cap);
	for (size_t i = 0; i < nm; i += 2) {
		size_t sz = strlen(m[i + 1]);
		tar_header(a + n, m[i], sz);
		n += 512;
		memcpy(a + n, m[i + 1], sz);
		n += (sz + 511) / 512 * 512;
	}
	n += 1024 + 3000; /* end blocks, then padding a writer may add */
	*len = n;
	return a;
}

static void test_any_piece_size(void **state)
{
	(void)state;
	const char *m[] = {"ova.xml", "<xml/>", "empty", "", "Ref:1/00000000", "chunk-data-513-bytes"};
	size_t len;
	unsigned char *a = archive(m, 6, &len);
	const char *want = "[ova.xml 6:<xml/>][empty 0:][Ref:1/00000000 20:chunk-data-513-bytes]";
	for (size_t piece = 1; piece <= len; piece = piece * 3 + 1) {
		struct seen s = {.refuse_at = -1};
		struct tar_reader t;
		tar_reader_init(&t, &ops, &s);
		for (size_t off = 0; off < len; off += piece) {
			size_t k = len - off < piece ? len - off : piece;
			assert_int_equal(tar_reader_feed(&t, (const char *)a + off, k), 0);
		}
		assert_string_equal(s.log, want);
		assert_true(tar_reader_ended(&t));
	}
	free(a);
}

static void test_not_ended_before_the_end_blocks(void **state)
{
	(void)state;
	const char *m[] = {"a", "xyz"};
	size_t len;
	unsigned char *a = archive(m, 2, &len);
	struct seen s = {.refuse_at = -1};
	struct tar_reader t;
	tar_reader_init(&t, &ops, &s);
	assert_int_equal(tar_reader_feed(&t, (const char *)a, 1024), 0);
	assert_false(tar_reader_ended(&t));
	assert_string_equal(s.log, "[a 3:xyz]");
	free(a);
}

static void test_damaged_header_and_refusal(void **state)
{
	(void)state;
	const char *m[] = {"a", "xyz", "b", "q"};
	size_t len;
	unsigned char *a = archive(m, 4, &len);
	struct seen s = {.refuse_at = -1};
	struct tar_reader t;
	unsigned char bad[512];
	memcpy(bad, a, 512);
	bad[148] ^= 1; /* the checksum no longer matches */
	tar_reader_init(&t, &ops, &s);
	assert_int_equal(tar_reader_feed(&t, (const char *)bad, 512), TAR_BAD_HEADER);
	/* the second member refused by its callback: its value comes back */
	struct seen r = {.refuse_at = 1};
	tar_reader_init(&t, &ops, &r);
	assert_int_equal(tar_reader_feed(&t, (const char *)a, len), -7);
	assert_string_equal(r.log, "[a 3:xyz]");
	free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_any_piece_size),
		cmocka_unit_test(test_not_ended_before_the_end_blocks),
		cmocka_unit_test(test_damaged_header_and_refusal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
