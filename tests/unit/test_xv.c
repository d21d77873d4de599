/* Unit tests of src/base: the xv value type, strbuf and its wire escapes,
 * the string hash map, and xapi's datetime format. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "base/xerr.h"
#include "base/xv.h"

/* ---- xv ---- */

static void test_xv_scalars(void **state)
{
	(void)state;
	xv s = xv_str(NULL);
	assert_int_equal(s.kind, XV_STR);
	assert_string_equal(s.u.s, "");
	xv_free(&s);
	s = xv_strn("abcdef", 3);
	assert_string_equal(s.u.s, "abc");
	assert_true(xv_is_str(&s));
	assert_string_equal(xv_as_str(&s), "abc");
	xv_free(&s);
	assert_int_equal(s.kind, XV_NIL);
	xv_free(&s); /* freeing twice is harmless */
	xv_free(NULL);
	s = xv_str_own(NULL);
	assert_string_equal(s.u.s, "");
	xv_free(&s);
	s = xv_str_own(xstrdup("mine"));
	assert_string_equal(s.u.s, "mine");
	xv_free(&s);

	xv i = xv_int(5), i32 = xv_i32(5), t = xv_time(5), b = xv_bool(true);
	assert_true(xv_equal(&i, &i32)); /* int widths compare by value */
	assert_false(xv_equal(&i, &t));
	assert_false(xv_equal(&i, &b));
	assert_null(xv_as_str(&i));
	assert_false(xv_is_str(NULL));
	assert_int_equal(xv_len(&i), 0);
	xv f1 = xv_float(1.5), f2 = xv_float(1.5), nil = XV_NIL_INIT, nil2 = XV_NIL_INIT;
	assert_true(xv_equal(&f1, &f2));
	assert_true(xv_equal(&nil, &nil2));
	xv a = xv_str("a"), a2 = xv_str("a"), bb = xv_str("b");
	assert_true(xv_equal(&a, &a2));
	assert_false(xv_equal(&a, &bb));
	xv_free(&a);
	xv_free(&a2);
	xv_free(&bb);
}

static void test_xv_arrays(void **state)
{
	(void)state;
	xv arr = xv_arr_new();
	for (int i = 0; i < 100; i++)
		xv_arr_push(&arr, xv_int(i));
	xv_arr_push_str(&arr, "s");
	assert_int_equal(xv_len(&arr), 101);
	assert_int_equal(xv_arr_get(&arr, 42)->u.i, 42);
	assert_null(xv_arr_get(&arr, 101));
	xv s = xv_str("s"), seven = xv_int(7), missing = xv_int(1000);
	assert_true(xv_arr_contains(&arr, &s));
	assert_true(xv_arr_remove(&arr, &seven));
	assert_false(xv_arr_contains(&arr, &seven));
	assert_false(xv_arr_remove(&arr, &missing));
	assert_int_equal(xv_len(&arr), 100);
	assert_int_equal(xv_arr_get(&arr, 7)->u.i, 8);
	assert_true(xv_arr_remove(&arr, &s)); /* the last item */
	assert_int_equal(xv_len(&arr), 99);
	assert_null(xv_arr_get(&s, 0));
	assert_false(xv_arr_contains(&s, &s));
	assert_false(xv_arr_remove(&s, &s));

	xv copy = xv_copy(&arr);
	assert_true(xv_equal(&arr, &copy));
	xv_arr_push(&copy, xv_int(-1));
	assert_false(xv_equal(&arr, &copy));
	xv_free(&copy);
	xv empty = xv_arr_new(), ecopy = xv_copy(&empty);
	assert_true(xv_equal(&empty, &ecopy));
	assert_false(xv_equal(&empty, &arr));
	xv_free(&empty);
	xv_free(&ecopy);
	xv_free(&s);
	xv_free(&arr);
}

static void test_xv_maps(void **state)
{
	(void)state;
	xv m = xv_map_new();
	xv_map_set_str(&m, "b", "1");
	xv_map_set(&m, "a", xv_int(2));
	xv_map_set_str(&m, "b", "replaced");
	assert_int_equal(xv_len(&m), 2);
	assert_string_equal(m.u.m->keys[0], "b"); /* insertion order kept */
	assert_string_equal(xv_map_get_str(&m, "b"), "replaced");
	assert_null(xv_map_get_str(&m, "a")); /* not a string */
	assert_null(xv_map_get(&m, "zz"));
	assert_null(xv_map_get(NULL, "a"));
	xv_map_get_mut(&m, "a")->u.i = 3;
	assert_int_equal(xv_map_get(&m, "a")->u.i, 3);
	assert_null(xv_map_get_mut(&m, "zz"));

	/* maps compare without regard to order, and deeply */
	xv other = xv_map_new();
	xv_map_set(&other, "a", xv_int(3));
	xv_map_set_str(&other, "b", "replaced");
	assert_true(xv_equal(&m, &other));
	xv_map_set_str(&other, "b", "different");
	assert_false(xv_equal(&m, &other));
	xv_free(&other);

	xv nested = xv_map_new();
	xv_map_set(&nested, "inner", xv_copy(&m));
	xv deep = xv_copy(&nested);
	xv_map_set_str(xv_map_get_mut(&deep, "inner"), "b", "changed");
	assert_string_equal(xv_map_get_str(xv_map_get(&nested, "inner"), "b"), "replaced");
	xv_free(&deep);
	xv_free(&nested);

	for (int i = 0; i < 50; i++) {
		char k[16];
		snprintf(k, sizeof k, "k%d", i);
		xv_map_append(&m, k, xv_int(i));
	}
	assert_int_equal(xv_len(&m), 52);
	assert_true(xv_map_del(&m, "b"));
	assert_false(xv_map_del(&m, "b"));
	assert_false(xv_map_del(NULL, "b"));
	assert_string_equal(m.u.m->keys[0], "a");
	assert_int_equal(xv_map_get(&m, "k49")->u.i, 49);
	assert_true(xv_map_del(&m, "k49"));
	assert_int_equal(xv_len(&m), 50);
	xv_free(&m);
}

/* ---- strbuf ---- */

static void test_strbuf_basics(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	char *p = sb_detach(&sb);
	assert_string_equal(p, "");
	free(p);
	sb_puts(&sb, "ab");
	sb_putc(&sb, 'c');
	sb_add(&sb, "defgh", 2);
	sb_printf(&sb, "-%d-%s", 42, "x");
	assert_string_equal(sb.buf, "abcde-42-x");
	assert_int_equal(sb.len, 10);
	sb_reset(&sb);
	assert_int_equal(sb.len, 0);
	assert_string_equal(sb.buf, "");

	/* sb_printf past its stack buffer, and growth over many appends */
	char big[1000];
	memset(big, 'z', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	sb_printf(&sb, "<%s>", big);
	assert_int_equal(sb.len, 1001);
	assert_int_equal(sb.buf[0], '<');
	assert_int_equal(sb.buf[1000], '>');
	for (int i = 0; i < 10000; i++)
		sb_putc(&sb, 'q');
	assert_int_equal(sb.len, 11001);
	assert_int_equal(strlen(sb.buf), sb.len);
	p = sb_detach(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	free(p);
	sb_free(&sb);
}

static void json_str(const char *in, const char *want)
{
	struct strbuf sb = STRBUF_INIT;
	sb_json_string(&sb, in);
	assert_string_equal(sb.buf, want);
	sb_free(&sb);
}

#define FFFD "\xef\xbf\xbd"

static void test_json_escape(void **state)
{
	(void)state;
	json_str("", "\"\"");
	json_str("plain", "\"plain\"");
	json_str("q\"b\\s/", "\"q\\\"b\\\\s/\"");
	json_str("\n\r\t", "\"\\n\\r\\t\"");
	json_str("\x01\x1f\x7f", "\"\\u0001\\u001f\x7f\"");
	/* valid UTF-8 of every length passes through */
	json_str("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* invalid bytes become U+FFFD, one per byte */
	json_str("a\xff" "b", "\"a" FFFD "b\"");
	json_str("\x80", "\"" FFFD "\"");
	json_str("\xc0\xaf", "\"" FFFD FFFD "\"");         /* overlong */
	json_str("\xed\xa0\x80", "\"" FFFD FFFD FFFD "\""); /* surrogate */
	json_str("\xf5\x80\x80\x80", "\"" FFFD FFFD FFFD FFFD "\"");
	json_str("x\xe2\x82", "\"x" FFFD FFFD "\"");        /* truncated at the end */
	json_str("\xf0\x9f\x98", "\"" FFFD FFFD FFFD "\"");
}

static void test_xml_escape(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	sb_xml_escape(&sb, "");
	assert_string_equal(sb.buf, "");
	sb_xml_escape(&sb, "a&b<c>d\"e'f");
	assert_string_equal(sb.buf, "a&amp;b&lt;c&gt;d&quot;e'f");
	sb_reset(&sb);
	sb_xml_escape(&sb, "l1\r\nl2\tend\x01\x08\x1b!\xc3\xa9");
	assert_string_equal(sb.buf, "l1&#13;\nl2\tend!\xc3\xa9");
	sb_free(&sb);
}

/* ---- hmap ---- */

static void test_url_encode(void **state)
{
	(void)state;
	struct strbuf sb = STRBUF_INIT;
	sb_url_encode(&sb, "");
	assert_int_equal(sb.len, 0);
	sb_url_encode(&sb, "OpaqueRef:ab-c_d.e~f g&h=i/%\xc3\xa9");
	assert_string_equal(sb.buf, "OpaqueRef%3Aab-c_d.e~f%20g%26h%3Di%2F%25%C3%A9");
	sb_free(&sb);
}

static void test_hmap_basics(void **state)
{
	(void)state;
	struct hmap m;
	hmap_init(&m);
	const char *k;
	void *v;
	size_t it = 0;
	assert_null(hmap_get(&m, "x"));
	assert_null(hmap_del(&m, "x"));
	assert_int_equal(hmap_next(&m, &it, &k, &v), 0);
	int one = 1, two = 2, three = 3;
	assert_null(hmap_put(&m, "a", &one));
	assert_null(hmap_put(&m, "b", &two));
	assert_ptr_equal(hmap_put(&m, "a", &three), &one); /* replace */
	assert_int_equal(hmap_count(&m), 2);
	assert_ptr_equal(hmap_get(&m, "a"), &three);
	assert_ptr_equal(hmap_del(&m, "a"), &three);
	assert_null(hmap_get(&m, "a"));
	assert_null(hmap_del(&m, "a"));
	assert_int_equal(hmap_count(&m), 1);
	assert_null(hmap_put(&m, "a", &one)); /* back over the tombstone */
	assert_int_equal(hmap_count(&m), 2);
	int seen = 0;
	for (it = 0; hmap_next(&m, &it, &k, &v);)
		seen += *(int *)v;
	assert_int_equal(seen, 3);
	assert_int_not_equal(hmap_hash("a"), hmap_hash("b"));
	assert_int_equal(hmap_hash(""), 2166136261u);
	hmap_free(&m);
	assert_int_equal(hmap_count(&m), 0);
}

#define NKEYS 10000

static void test_hmap_growth(void **state)
{
	(void)state;
	struct hmap m;
	hmap_init(&m);
	char **keys = calloc(NKEYS, sizeof *keys);
	for (size_t i = 0; i < NKEYS; i++) {
		keys[i] = xasprintf("key-%zu", i);
		assert_null(hmap_put(&m, keys[i], keys[i]));
	}
	assert_int_equal(hmap_count(&m), NKEYS);
	for (size_t i = 0; i < NKEYS; i++)
		assert_ptr_equal(hmap_get(&m, keys[i]), keys[i]);
	assert_null(hmap_get(&m, "key-10000"));

	/* each key exactly once in iteration */
	char *seen = calloc(NKEYS, 1);
	const char *k;
	void *v;
	size_t n = 0;
	for (size_t it = 0; hmap_next(&m, &it, &k, &v); n++) {
		size_t idx = (size_t)strtoul(k + 4, NULL, 10);
		assert_ptr_equal(v, keys[idx]);
		assert_false(seen[idx]);
		seen[idx] = 1;
	}
	assert_int_equal(n, NKEYS);

	/* delete the even half, then churn: tombstones must not fill the table */
	for (size_t i = 0; i < NKEYS; i += 2)
		assert_ptr_equal(hmap_del(&m, keys[i]), keys[i]);
	assert_int_equal(hmap_count(&m), NKEYS / 2);
	for (size_t i = 0; i < NKEYS; i++)
		assert_ptr_equal(hmap_get(&m, keys[i]), i % 2 ? keys[i] : NULL);
	for (int round = 0; round < 20; round++) {
		for (size_t i = 0; i < NKEYS; i += 2)
			assert_null(hmap_put(&m, keys[i], keys[i]));
		for (size_t i = 0; i < NKEYS; i += 2)
			assert_ptr_equal(hmap_del(&m, keys[i]), keys[i]);
	}
	assert_int_equal(hmap_count(&m), NKEYS / 2);
	assert_true(m.used < m.cap);

	/* lookups compare contents, not pointers */
	char probe[32];
	snprintf(probe, sizeof probe, "key-%d", 9999);
	assert_ptr_equal(hmap_get(&m, probe), keys[9999]);

	hmap_free(&m);
	for (size_t i = 0; i < NKEYS; i++)
		free(keys[i]);
	free(keys);
	free(seen);
}

/* ---- datetimes ---- */

static void test_time_format(void **state)
{
	(void)state;
	char buf[32];
	xv_time_format(0, buf, sizeof buf);
	assert_string_equal(buf, "19700101T00:00:00Z");
	xv_time_format(1704110400, buf, sizeof buf);
	assert_string_equal(buf, "20240101T12:00:00Z");
	xv_time_format(951782400, buf, sizeof buf); /* leap day 2000 */
	assert_string_equal(buf, "20000229T00:00:00Z");
	xv_time_format(-1, buf, sizeof buf);
	assert_string_equal(buf, "19691231T23:59:59Z");
}

static void test_time_parse(void **state)
{
	(void)state;
	struct {
		const char *s;
		int64_t want;
	} ok[] = {
		{"20240101T12:00:00Z", 1704110400},
		{"2024-01-01T12:00:00Z", 1704110400},
		{"20240101T12:00:00", 1704110400},           /* no zone: UTC */
		{"2024-01-01 12:00:00Z", 1704110400},
		{"2024-01-01T12:00:00.123456Z", 1704110400}, /* fraction dropped */
		{"2024-01-01T14:30:00+02:30", 1704110400},
		{"2024-01-01T07:00:00-0500", 1704110400},
		{"20240101", 1704067200},
		{"2024-01-01", 1704067200},
		{"19700101T00:00:00Z", 0},
		{"20000229T00:00:00Z", 951782400},
	};
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
		int64_t t = -42;
		if (xv_time_parse(ok[i].s, &t) != 0)
			fail_msg("rejected %s", ok[i].s);
		assert_int_equal(t, ok[i].want);
	}
	const char *bad[] = {
		"", "now", "2024", "2024010", "20241301T00:00:00Z", "20240001T00:00:00Z",
		"20240132T00:00:00Z", "20240101T24:00:00Z", "20240101T12:60:00Z",
		"20240101T12:00:61Z", "20240101T12:00:00Zjunk", "20240101T12:00",
		"20240101T-1:00:00Z", "20240101T12:-5:00Z", "20240101T12:00:00+x",
		"2024-01-01T12:00:00+01", "2024/01/01",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int64_t t;
		if (xv_time_parse(bad[i], &t) != -1)
			fail_msg("accepted %s", bad[i]);
	}

	/* format and parse agree across a wide range */
	for (int64_t t = -86400LL * 365 * 50; t < 86400LL * 365 * 200; t += 86400LL * 37 + 3671) {
		char buf[32];
		int64_t back;
		xv_time_format(t, buf, sizeof buf);
		assert_int_equal(xv_time_parse(buf, &back), 0);
		assert_int_equal(back, t);
	}
}

/* ---- xerr ---- */

static void test_xerr(void **state)
{
	(void)state;
	struct xerr e = XERR_INIT, f = XERR_INIT;
	assert_false(xerr_is(&e, "X"));
	assert_int_equal(xerr_set(&e, "HANDLE_INVALID", "VM", "OpaqueRef:x", NULL), -1);
	assert_true(xerr_is(&e, "HANDLE_INVALID"));
	assert_int_equal(e.nparams, 2);
	xerr_add(&e, NULL);
	assert_string_equal(e.params[2], "");
	const char *ps[] = {"a"};
	xerr_setv(&e, "X", 1, ps);
	assert_int_equal(e.nparams, 1);
	xerr_move(&f, &e);
	assert_null(e.code);
	assert_true(xerr_is(&f, "X"));
	xerr_internal(&f, "n=%d", 3);
	assert_string_equal(f.params[0], "n=3");
	assert_int_equal(xerr_set(NULL, "X", NULL), -1);
	xerr_clear(&f);
	xerr_clear(&f);
	xerr_clear(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xv_scalars),
		cmocka_unit_test(test_xv_arrays),
		cmocka_unit_test(test_xv_maps),
		cmocka_unit_test(test_strbuf_basics),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_xml_escape),
		cmocka_unit_test(test_url_encode),
		cmocka_unit_test(test_hmap_basics),
		cmocka_unit_test(test_hmap_growth),
		cmocka_unit_test(test_time_format),
		cmocka_unit_test(test_time_parse),
		cmocka_unit_test(test_xerr),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
