/* Unit tests of src/base/b64: RFC 4648 vectors, binary round trips, and
 * what the decoder refuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "base/b64.h"

static void test_vectors(void **state)
{
	(void)state;
	static const char *const v[][2] = {{"", ""},         {"f", "Zg=="},     {"fo", "Zm8="},
					   {"foo", "Zm9v"},  {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="},
					   {"foobar", "Zm9vYmFy"}};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		char *e = b64_encode((const unsigned char *)v[i][0], strlen(v[i][0]));
		assert_string_equal(e, v[i][1]);
		free(e);
		size_t n;
		unsigned char *d = b64_decode(v[i][1], &n);
		assert_non_null(d);
		assert_int_equal(n, strlen(v[i][0]));
		assert_memory_equal(d, v[i][0], n);
		free(d);
	}
}

static void test_binary_round_trip(void **state)
{
	(void)state;
	unsigned char buf[1000];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	for (size_t len = 0; len < sizeof buf; len += 97) {
		char *e = b64_encode(buf, len);
		size_t n;
		unsigned char *d = b64_decode(e, &n);
		assert_non_null(d);
		assert_int_equal(n, len);
		assert_memory_equal(d, buf, len);
		free(d);
		free(e);
	}
}

static void test_rejects(void **state)
{
	(void)state;
	size_t n;
	assert_null(b64_decode("!!", &n));
	assert_null(b64_decode("Zg==Zg", &n));
	assert_null(b64_decode("Z", &n));      /* a lone digit is not a byte */
	assert_null(b64_decode("Zg=", &n));    /* padding short of the quantum */
	assert_null(b64_decode("Zm9v===", &n)); /* more padding than a quantum takes */
	unsigned char *d = b64_decode("Zm9v\nYmFy", &n); /* line breaks are fine */
	assert_non_null(d);
	assert_int_equal(n, 6);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_binary_round_trip),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
