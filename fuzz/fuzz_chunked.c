/* The framing of xapi's chunked raw upload (formats/chunked.c), arriving
 * in pieces whose size the first byte sets, onto a disk of 1 MiB: every
 * piece must lie inside the disk and its data must be what its header
 * announced. */
#include "formats/chunked.h"

#include "base/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DISK (1u << 20)

struct st {
	uint64_t off, due;
	bool ended;
};

static int piece(void *arg, uint64_t off, uint32_t len, struct xerr *err)
{
	(void)err;
	struct st *s = arg;
	if (s->due || off > DISK || len > DISK - off) {
		fprintf(stderr, "piece at %llu of %u while %llu due\n", (unsigned long long)off, len,
			(unsigned long long)s->due);
		abort();
	}
	s->off = off;
	s->due = len;
	return 0;
}

static int pdata(void *arg, const char *p, size_t n, struct xerr *err)
{
	(void)p;
	(void)err;
	struct st *s = arg;
	if (n > s->due || s->ended)
		abort();
	s->due -= n;
	return 0;
}

static int end(void *arg, struct xerr *err)
{
	(void)err;
	struct st *s = arg;
	if (s->due)
		abort();
	s->ended = true;
	return 0;
}

static const struct chunked_ops ops = {.piece = piece, .data = pdata, .end = end};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_ERROR); /* refusals are expected: no line each */
	if (size < 1)
		return 0;
	size_t step = 1 + data[0] % 29u;
	data++;
	size--;
	struct st s = {0};
	struct chunked ck;
	chunked_init(&ck, &ops, &s, DISK);
	struct xerr err = {0};
	int rc = 0;
	for (size_t at = 0; at < size && rc == 0; at += step)
		rc = chunked_feed(&ck, (const char *)data + at, size - at < step ? size - at : step, &err);
	xerr_clear(&err);
	return 0;
}
