/* Unit tests of the XVA helpers: XXH64 against the published vectors, and
 * the codecs both ways — each kind compressed by zout and given back whole
 * by zin whatever the pieces it arrives in, truncated streams reported
 * incomplete, garbage in a compressed stream refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/xva.h"

static void test_xxh64_vectors(void **state)
{
	(void)state;
	/* the xxHash specification's and reference implementation's values */
	assert_true(xva_xxh64("", 0) == 0xEF46DB3751D8E999ull);
	assert_true(xva_xxh64("a", 1) == 0xD24EC4F1A98C6E5Bull);
	assert_true(xva_xxh64("abc", 3) == 0x44BC2CF5AD770999ull);
}

static void test_xxh64_consistent(void **state)
{
	(void)state;
	size_t n = 3 * XVA_CHUNK + 17;
	unsigned char *a = malloc(n + 1);
	for (size_t i = 0; i < n; i++)
		a[i] = (unsigned char)(i * 2654435761u >> 13);
	uint64_t h = xva_xxh64(a, n);
	assert_true(xva_xxh64(a, n) == h);
	/* the same bytes at an unaligned address */
	memmove(a + 1, a, n);
	assert_true(xva_xxh64(a + 1, n) == h);
	/* one bit changed */
	a[1 + n / 2] ^= 1;
	assert_true(xva_xxh64(a + 1, n) != h);
	assert_true(xva_xxh64(a + 1, n - 1) != h);
	free(a);
}

/* Input that compresses but not to nothing: runs, text and noise. */
static unsigned char *make_input(size_t n)
{
	unsigned char *p = malloc(n);
	uint32_t x = 12345;
	for (size_t i = 0; i < n; i++) {
		if ((i >> 16) % 3 == 0)
			p[i] = 0;
		else if ((i >> 16) % 3 == 1)
			p[i] = (unsigned char)("the quick brown fox "[i % 20]);
		else {
			x = x * 1103515245u + 12345u;
			p[i] = (unsigned char)(x >> 16);
		}
	}
	return p;
}

static struct strbuf compress(enum zkind k, const unsigned char *in, size_t n)
{
	struct xerr err = XERR_INIT;
	struct strbuf out = STRBUF_INIT;
	struct zout *z = zout_new(k, &err);
	assert_non_null(z);
	/* in uneven pieces */
	for (size_t off = 0, step = 1; off < n; step = step * 7 + 3) {
		size_t m = step % 300000 + 1 < n - off ? step % 300000 + 1 : n - off;
		assert_int_equal(zout_write(z, in + off, m, &out, &err), 0);
		off += m;
	}
	assert_int_equal(zout_end(z, &out, &err), 0);
	zout_free(z);
	assert_null(err.code);
	return out;
}

struct sink {
	unsigned char *buf;
	size_t len, cap;
	int fail;
};

static int sink(void *arg, const char *p, size_t n)
{
	struct sink *s = arg;
	if (s->fail)
		return -1;
	assert_true(s->len + n <= s->cap);
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	return 0;
}

/* Decompresses in pieces of piece bytes (0: whole); whether it ended. */
static bool decompress(const char *c, size_t clen, size_t piece, struct sink *s)
{
	struct xerr err = XERR_INIT;
	struct zin *z = zin_new(sink, s);
	for (size_t off = 0; off < clen;) {
		size_t m = piece && piece < clen - off ? piece : clen - off;
		assert_int_equal(zin_feed(z, c + off, m, &err), 0);
		off += m;
	}
	assert_null(err.code);
	bool done = zin_complete(z);
	zin_free(z);
	return done;
}

static void round_trip(enum zkind k)
{
	size_t n = 3 * XVA_CHUNK + 4321;
	unsigned char *in = make_input(n);
	struct strbuf c = compress(k, in, n);
	if (k == ZK_NONE) {
		assert_int_equal(c.len, n);
		assert_memory_equal(c.buf, in, n);
	} else {
		assert_true(c.len < n);
	}
	const size_t pieces[] = {1, 3, 511, 4096, 65537, 0};
	for (size_t i = 0; i < sizeof pieces / sizeof *pieces; i++) {
		/* byte by byte only over a shorter stream: it is slow */
		size_t clen = pieces[i] == 1 && c.len > 200000 ? 200000 : c.len;
		struct sink s = {calloc(1, n), 0, n, 0};
		bool done = decompress(c.buf, clen, pieces[i], &s);
		if (clen == c.len) {
			assert_true(done);
			assert_int_equal(s.len, n);
		} else {
			assert_true(k == ZK_NONE ? done : !done);
		}
		assert_memory_equal(s.buf, in, s.len);
		free(s.buf);
	}
	sb_free(&c);
	free(in);
}

static void test_none(void **state)
{
	(void)state;
	round_trip(ZK_NONE);
}

static void test_gzip(void **state)
{
	(void)state;
	round_trip(ZK_GZIP);
}

static void test_zstd(void **state)
{
	(void)state;
	round_trip(ZK_ZSTD);
}

/* All zeros: a small stream expanding to many output buffers. */
static void test_expanding(void **state)
{
	(void)state;
	size_t n = 16 * XVA_CHUNK;
	unsigned char *in = calloc(1, n);
	const enum zkind kinds[] = {ZK_GZIP, ZK_ZSTD};
	for (size_t i = 0; i < 2; i++) {
		struct strbuf c = compress(kinds[i], in, n);
		assert_true(c.len < n / 100);
		struct sink s = {malloc(n), 0, n, 0};
		memset(s.buf, 1, n);
		assert_true(decompress(c.buf, c.len, 0, &s));
		assert_int_equal(s.len, n);
		assert_memory_equal(s.buf, in, n);
		free(s.buf);
		sb_free(&c);
	}
	free(in);
}

static void test_empty(void **state)
{
	(void)state;
	const enum zkind kinds[] = {ZK_GZIP, ZK_ZSTD};
	for (size_t i = 0; i < 2; i++) {
		struct strbuf c = compress(kinds[i], NULL, 0);
		assert_true(c.len > 0);
		struct sink s = {NULL, 0, 0, 0};
		assert_true(decompress(c.buf, c.len, 1, &s));
		assert_int_equal(s.len, 0);
		sb_free(&c);
	}
}

static void test_truncated(void **state)
{
	(void)state;
	size_t n = 2 * XVA_CHUNK;
	unsigned char *in = make_input(n);
	const enum zkind kinds[] = {ZK_GZIP, ZK_ZSTD};
	for (size_t i = 0; i < 2; i++) {
		struct strbuf c = compress(kinds[i], in, n);
		const size_t cut[] = {1, 2, 3, 4, 10, c.len / 2, c.len - 1};
		for (size_t j = 0; j < sizeof cut / sizeof *cut; j++) {
			struct sink s = {calloc(1, n), 0, n, 0};
			bool done = decompress(c.buf, cut[j], 4096, &s);
			if (done)
				fail_msg("kind %d cut at %zu of %zu: complete", (int)kinds[i], cut[j], c.len);
			assert_true(s.len <= n); /* all of it, perhaps, but no end */
			assert_memory_equal(s.buf, in, s.len);
			free(s.buf);
		}
		sb_free(&c);
	}
	free(in);
}

/* Garbage after a valid magic is refused with an import error. */
static void test_garbage(void **state)
{
	(void)state;
	const char *magics[] = {"\x1f\x8b", "\x28\xb5\x2f\xfd"};
	const size_t mlen[] = {2, 4};
	for (size_t i = 0; i < 2; i++) {
		char junk[4096];
		for (size_t j = 0; j < sizeof junk; j++)
			junk[j] = (char)(j * 37 + 11);
		memcpy(junk, magics[i], mlen[i]);
		struct sink s = {calloc(1, 1 << 20), 0, 1 << 20, 0};
		struct xerr err = XERR_INIT;
		struct zin *z = zin_new(sink, &s);
		assert_int_equal(zin_feed(z, junk, sizeof junk, &err), -1);
		assert_true(xerr_is(&err, ERR_IMPORT_ERROR));
		assert_false(zin_complete(z));
		xerr_clear(&err);
		zin_free(z);
		free(s.buf);
	}
	/* a valid gzip stream damaged in its middle */
	size_t n = XVA_CHUNK;
	unsigned char *in = make_input(n);
	struct strbuf c = compress(ZK_GZIP, in, n);
	for (size_t j = 20; j < 120; j++)
		c.buf[j] ^= 0x5a;
	struct sink s = {calloc(1, n), 0, n, 0};
	struct xerr err = XERR_INIT;
	struct zin *z = zin_new(sink, &s);
	int rc = zin_feed(z, c.buf, c.len, &err);
	/* refused, or at worst never complete: the CRC does not match */
	if (rc == 0)
		assert_false(zin_complete(z));
	else
		assert_true(xerr_is(&err, ERR_IMPORT_ERROR));
	xerr_clear(&err);
	zin_free(z);
	free(s.buf);
	sb_free(&c);
	free(in);
}

/* A sink's refusal stops the feed. */
static void test_sink_refuses(void **state)
{
	(void)state;
	size_t n = XVA_CHUNK;
	unsigned char *in = make_input(n);
	const enum zkind kinds[] = {ZK_NONE, ZK_GZIP, ZK_ZSTD};
	for (size_t i = 0; i < 3; i++) {
		struct strbuf c = compress(kinds[i], in, n);
		struct sink s = {calloc(1, n), 0, n, 1};
		struct xerr err = XERR_INIT;
		struct zin *z = zin_new(sink, &s);
		assert_int_equal(zin_feed(z, c.buf, c.len, &err), -1);
		xerr_clear(&err);
		zin_free(z);
		free(s.buf);
		sb_free(&c);
	}
	free(in);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xxh64_vectors), cmocka_unit_test(test_xxh64_consistent),
		cmocka_unit_test(test_none),	      cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_zstd),	      cmocka_unit_test(test_expanding),
		cmocka_unit_test(test_empty),	      cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_garbage),	      cmocka_unit_test(test_sink_refuses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
