/* The parameters of GET /rrd_updates as rrd_http.c reads them (the query
 * string: start, interval, cf, host, vm_uuid, sr_uuid, json) answered
 * from a store with a host and a VM of a few samples. Beside the store
 * lies victim.rrd: a request must never reach a file outside the store
 * (the harness aborts when it is gone). */
#include "base/httpq.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "rrd/rr.h"

#include "base/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HOST "0b5c8f2e-2d4b-4c8e-9d1a-3f6a7b8c9d0e"
#define VM "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f"

static struct rr_store *st;
static char victim[256];

static void setup(void)
{
	char tmpl[] = "/tmp/fuzz-rrd-XXXXXX";
	char *dir = mkdtemp(tmpl);
	if (!dir)
		abort();
	snprintf(victim, sizeof victim, "%s/victim.rrd", dir);
	FILE *f = fopen(victim, "w");
	if (!f)
		abort();
	fputs("not an rrd\n", f);
	fclose(f);
	char *sdir = xasprintf("%s/store", dir);
	struct xerr err = {0};
	st = rr_store_open(sdir, 1, &err);
	free(sdir);
	if (!st)
		abort();
	struct rr_sample s = {0};
	for (int i = 0; i < 4; i++) {
		rr_sample_reset(&s);
		rr_sample_add(&s, "cpu0", 0.25 * i);
		rr_sample_add(&s, "memory_free_kib", 1024.0 * i);
		if (rr_store_update(st, RR_HOST, HOST, 1700000000 + 5 * i, &s, true, &err) < 0 ||
		    rr_store_update(st, RR_VM, VM, 1700000000 + 5 * i, &s, true, &err) < 0)
			abort();
	}
	rr_sample_free(&s);
	rr_store_flush(st, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	log_set_level(LOG_ERROR); /* refusals are expected: no line each */
	if (!st)
		setup();
	char *q = malloc(size + 1);
	memcpy(q, data, size);
	q[size] = '\0';
	char *start_s = httpq_query_arg(q, "start"), *interval_s = httpq_query_arg(q, "interval");
	char *cf = httpq_query_arg(q, "cf"), *host = httpq_query_arg(q, "host");
	char *vm = httpq_query_arg(q, "vm_uuid"), *sr = httpq_query_arg(q, "sr_uuid");
	char *json = httpq_query_arg(q, "json");
	int64_t start, interval = 0;
	if (httpq_parse_i64(start_s, &start)) {
		if (interval_s && !httpq_parse_i64(interval_s, &interval))
			interval = 0;
		if (cf && strcmp(cf, "AVERAGE") && strcmp(cf, "MIN") && strcmp(cf, "MAX") && strcmp(cf, "LAST")) {
			free(cf);
			cf = NULL;
		}
		struct rr_xport_src src[3];
		size_t n = 0;
		if (host && !strcmp(host, "true"))
			src[n++] = (struct rr_xport_src){RR_HOST, HOST};
		if (vm && strcmp(vm, "none"))
			src[n++] = (struct rr_xport_src){RR_VM, !strcmp(vm, "all") ? VM : vm};
		if (sr && strcmp(sr, "none") && strcmp(sr, "all"))
			src[n++] = (struct rr_xport_src){RR_SR, sr};
		struct rr_xport_req req = {.src = src, .nsrc = n, .start = start, .interval = interval, .cf = cf};
		struct rr_xport x;
		struct xerr err = {0};
		if (rr_xport_make(st, &req, &x, &err) == 0) {
			struct strbuf sb = STRBUF_INIT;
			if (json)
				rr_xport_json(&x, &sb);
			else
				rr_xport_xml(&x, &sb);
			sb_free(&sb);
			rr_xport_free(&x);
		}
		xerr_clear(&err);
	}
	if (access(victim, F_OK) != 0) {
		fprintf(stderr, "a request reached %s outside the store\n", victim);
		abort();
	}
	free(start_s);
	free(interval_s);
	free(cf);
	free(host);
	free(vm);
	free(sr);
	free(json);
	free(q);
	return 0;
}
