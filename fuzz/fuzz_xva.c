/* An XVA as /import reads it: the stream decompressed (gzip, zstd or
 * plain, told by its first bytes), its tar read in pieces whose size the
 * first byte sets, ova.xml (the manifest) parsed as the XML-RPC value it
 * is, every chunk's checksum computed; and each 512-byte block taken as a
 * lone tar header. */
#include "formats/tar.h"
#include "formats/xva.h"
#include "base/strbuf.h"
#include "wire/wire.h"

#include "base/log.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct st {
	struct tar_reader tar;
	bool manifest;
	struct strbuf buf;
	int rc;
};

static int member(void *arg, const char *name, uint64_t size)
{
	struct st *s = arg;
	s->manifest = !strcmp(name, "ova.xml");
	s->buf.len = 0;
	(void)size;
	return 0;
}

static int mdata(void *arg, const char *p, size_t n)
{
	struct st *s = arg;
	if (s->buf.len + n > (1u << 20))
		return -1; /* as the importer, a bounded manifest */
	sb_add(&s->buf, p, n);
	return 0;
}

static int member_end(void *arg)
{
	struct st *s = arg;
	if (s->manifest) {
		xv v = XV_NIL_INIT;
		struct xerr err = {0};
		if (wire_xml_parse_value(s->buf.buf ? s->buf.buf : "", s->buf.len, &v, &err) == 0)
			xv_free(&v);
		xerr_clear(&err);
	} else {
		(void)xva_xxh64(s->buf.buf ? s->buf.buf : "", s->buf.len);
	}
	return 0;
}

static const struct tar_reader_ops ops = {.member = member, .data = mdata, .member_end = member_end};

static int sink(void *arg, const char *p, size_t n)
{
	struct st *s = arg;
	return tar_reader_feed(&s->tar, p, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_ERROR); /* refusals are expected: no line each */
	if (size < 1)
		return 0;
	size_t step = 1 + data[0] * 41u;
	data++;
	size--;
	for (size_t at = 0; at + 512 <= size; at += 512) {
		char name[256];
		uint64_t sz;
		(void)tar_parse(data + at, name, &sz);
	}
	struct st s = {.buf = STRBUF_INIT};
	tar_reader_init(&s.tar, &ops, &s);
	struct zin *z = zin_new(sink, &s);
	struct xerr err = {0};
	int rc = 0;
	for (size_t at = 0; at < size && rc == 0; at += step)
		rc = zin_feed(z, (const char *)data + at, size - at < step ? size - at : step, &err);
	(void)zin_complete(z);
	(void)tar_reader_ended(&s.tar);
	xerr_clear(&err);
	zin_free(z);
	sb_free(&s.buf);
	return 0;
}
