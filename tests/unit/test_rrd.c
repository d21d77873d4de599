/* Unit tests of the metrics archives and /rrd_updates: xapi's exact text
 * of an xport, and the archive choice, rows and legend on librrd files
 * filled with known values at made-up times (one per 5 s). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/mem.h"
#include "rrd/rr.h"

#define HOST "6f1c7a3e-0000-4000-8000-000000000001"
#define VM1 "ecd8d7a0-1be3-4d91-bd0e-4888c0e30ab3"
#define VM2 "0b5e1c44-2f6a-4c1d-9a77-5d3e1f2a9b10"

/* 1699999200 is a multiple of 3600 (not of 86400) */
#define T0 1699999200LL

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/test_rrd.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static const char *text_of(double v)
{
	static char buf[64];
	struct strbuf sb = STRBUF_INIT;
	rr_float_text(&sb, v);
	snprintf(buf, sizeof buf, "%s", sb.buf);
	sb_free(&sb);
	return buf;
}

static void test_float_text(void **state)
{
	(void)state;
	assert_string_equal(text_of(0.0), "0.0");
	assert_string_equal(text_of(-0.0), "0.0");
	assert_string_equal(text_of(NAN), "NaN");
	assert_string_equal(text_of(INFINITY), "Infinity");
	assert_string_equal(text_of(-INFINITY), "-Infinity");
	assert_string_equal(text_of(0.0282), "0.0282");
	assert_string_equal(text_of(209715200.0), "209715200");
	assert_string_equal(text_of(1.0 / 3), "0.333333333333333");
	assert_string_equal(text_of(1e300), "1e+300");
	assert_string_equal(text_of(-2.5), "-2.5");
}

static struct rr_xport small_xport(void)
{
	struct rr_xport x = {.start = 1700000595, .step = 5, .end = 1700000600, .ncols = 3, .nrows = 2};
	x.legend = xcalloc(3, sizeof *x.legend);
	x.legend[0] = xstrdup("AVERAGE:host:" HOST ":cpu0");
	x.legend[1] = xstrdup("AVERAGE:host:" HOST ":memory_free_kib");
	x.legend[2] = xstrdup("AVERAGE:vm:" VM1 ":cpu0");
	x.t = xcalloc(2, sizeof *x.t);
	x.t[0] = 1700000600;
	x.t[1] = 1700000595;
	x.v = xcalloc(6, sizeof *x.v);
	double v[] = {0.0123, 1523412, NAN, 0.01, 1523410, 0.25};
	memcpy(x.v, v, sizeof v);
	return x;
}

/* The float text is printf's %0.15g for every value, whichever way it is
 * made: random values over all magnitudes, integers, halves and the
 * numbers next to powers of ten and to ties. */
static void test_float_text_is_printf(void **state)
{
	(void)state;
	char want[64];
	unsigned long long x = 88172645463325252ULL;
	for (int i = 0; i < 400000; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift64 */
		double v;
		switch (i % 5) {
		case 0: /* any finite double */
			memcpy(&v, &x, sizeof v);
			if (!isfinite(v) || v == 0)
				continue;
			break;
		case 1: /* uniform over 1e-6 .. 1e16 */
			v = pow(10, (double)(x % 22000) / 1000.0 - 6) * ((x >> 40) & 1 ? -1 : 1);
			break;
		case 2: /* few digits: halves, integers, decimals */
			v = (double)(long long)(x % 2000001) / (double)(1ULL << (x >> 60)) / pow(10, (double)((x >> 50) % 12));
			break;
		case 3: /* next to a power of ten */
			v = nextafter(pow(10, (double)((int)(x % 24) - 5)), (x >> 32) & 1 ? 0 : INFINITY);
			break;
		default: /* a 15-digit tie and its neighbours */
			v = ((double)(x % 1000000000000000ULL) + 0.5) / pow(10, (double)((x >> 55) % 20));
			v = (x >> 33) & 1 ? nextafter(v, (x >> 34) & 1 ? 0 : INFINITY) : v;
		}
		if (v == 0)
			continue;
		snprintf(want, sizeof want, "%0.15g", v);
		assert_string_equal(text_of(v), want);
	}
}

static void test_xml_exact(void **state)
{
	(void)state;
	struct rr_xport x = small_xport();
	struct strbuf sb = STRBUF_INIT;
	rr_xport_xml(&x, &sb);
	assert_string_equal(sb.buf,
			    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			    "<xport><meta><start>1700000595</start><step>5</step><end>1700000600</end>"
			    "<rows>2</rows><columns>3</columns><legend>"
			    "<entry>AVERAGE:host:" HOST ":cpu0</entry>"
			    "<entry>AVERAGE:host:" HOST ":memory_free_kib</entry>"
			    "<entry>AVERAGE:vm:" VM1 ":cpu0</entry></legend></meta><data>"
			    "<row><t>1700000600</t><v>0.0123</v><v>1523412</v><v>NaN</v></row>"
			    "<row><t>1700000595</t><v>0.01</v><v>1523410</v><v>0.25</v></row>"
			    "</data></xport>");
	sb_reset(&sb);
	rr_xport_json(&x, &sb);
	assert_string_equal(sb.buf,
			    "{\"meta\":{\"start\":1700000595,\"step\":5,\"end\":1700000600,\"rows\":2,\"columns\":3,"
			    "\"legend\":[\"AVERAGE:host:" HOST ":cpu0\",\"AVERAGE:host:" HOST ":memory_free_kib\","
			    "\"AVERAGE:vm:" VM1 ":cpu0\"]},"
			    "\"data\":[{\"t\":1700000600,\"values\":[\"0.0123\",\"1523412\",\"NaN\"]},"
			    "{\"t\":1700000595,\"values\":[\"0.01\",\"1523410\",\"0.25\"]}]}");
	rr_xport_free(&x);
	/* nothing: Xmlm's empty elements */
	struct rr_xport e = {.start = 10, .step = 5, .end = 5};
	sb_reset(&sb);
	rr_xport_xml(&e, &sb);
	assert_string_equal(sb.buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
				    "<xport><meta><start>10</start><step>5</step><end>5</end><rows>0</rows>"
				    "<columns>0</columns><legend/></meta><data/></xport>");
	sb_reset(&sb);
	rr_xport_json(&e, &sb);
	assert_string_equal(sb.buf, "{\"meta\":{\"start\":10,\"step\":5,\"end\":5,\"rows\":0,\"columns\":0,"
				    "\"legend\":[]},\"data\":[]}");
	sb_free(&sb);
}

/* n ticks from T0 + 5: the host's "a" = i, "b" = 2i; VM1's cpu0 = i/1000;
 * VM2's memory = 1000 + i (i = 1..n). */
static struct rr_store *filled(int n, bool min_max, int flush)
{
	struct xerr err = XERR_INIT;
	struct rr_store *st = rr_store_open(dir, flush, &err);
	assert_non_null(st);
	struct rr_sample s = {0};
	for (int i = 1; i <= n; i++) {
		time_t t = (time_t)(T0 + 5LL * i);
		rr_sample_reset(&s);
		rr_sample_add(&s, "cpu0", i);
		rr_sample_add(&s, "memory_free_kib", 2.0 * i);
		assert_int_equal(rr_store_update(st, RR_HOST, HOST, t, &s, min_max, &err), 0);
		rr_sample_reset(&s);
		rr_sample_add(&s, "cpu0", i / 1000.0);
		assert_int_equal(rr_store_update(st, RR_VM, VM1, t, &s, min_max, &err), 0);
		rr_sample_reset(&s);
		rr_sample_add(&s, "memory", 1000.0 + i);
		rr_sample_add(&s, "vif_0_rx_errors", 3); /* not a default source: left out */
		assert_int_equal(rr_store_update(st, RR_VM, VM2, t, &s, min_max, &err), 0);
	}
	rr_sample_free(&s);
	return st;
}

static void xport(struct rr_store *st, const struct rr_xport_src *src, size_t n, int64_t start, int64_t interval,
		  const char *cf, struct rr_xport *x)
{
	struct rr_xport_req req = {.src = src, .nsrc = n, .start = start, .interval = interval, .cf = cf};
	struct xerr err = XERR_INIT;
	if (rr_xport_make(st, &req, x, &err) < 0)
		fail_msg("xport: %s", err.code);
}

static const struct rr_xport_src all3[] = {{RR_HOST, HOST}, {RR_VM, VM1}, {RR_VM, VM2}};

/* 1 560 ticks = 2 h 10 min: last update T0 + 7800 */
#define N 1560
#define LAST (T0 + 5LL * N)

static void test_five_seconds(void **state)
{
	(void)state;
	struct rr_store *st = filled(N, false, 6);
	struct rr_xport x;
	/* Xen Orchestra's start: now − 5·120 + 5 */
	xport(st, all3, 3, LAST - 600 + 5, 5, "AVERAGE", &x);
	assert_int_equal(x.step, 5);
	assert_int_equal(x.end, LAST);
	assert_int_equal(x.start, LAST - 595 + 5);
	assert_int_equal(x.nrows, 120);
	assert_int_equal(x.ncols, 4);
	assert_string_equal(x.legend[0], "AVERAGE:host:" HOST ":cpu0");
	assert_string_equal(x.legend[1], "AVERAGE:host:" HOST ":memory_free_kib");
	assert_string_equal(x.legend[2], "AVERAGE:vm:" VM1 ":cpu0");
	assert_string_equal(x.legend[3], "AVERAGE:vm:" VM2 ":memory");
	for (size_t r = 0; r < x.nrows; r++) {
		double i = N - (double)r;
		assert_int_equal(x.t[r], LAST - 5 * (int64_t)r);
		assert_true(fabs(x.v[r * 4 + 0] - i) < 1e-9);
		assert_true(fabs(x.v[r * 4 + 1] - 2 * i) < 1e-9);
		assert_true(fabs(x.v[r * 4 + 2] - i / 1000) < 1e-12);
		assert_true(fabs(x.v[r * 4 + 3] - (1000 + i)) < 1e-9);
	}
	rr_xport_free(&x);
	/* a negative start: relative to the last update; interval 0 */
	xport(st, all3, 1, -60, 0, NULL, &x);
	assert_int_equal(x.step, 5);
	assert_int_equal(x.nrows, 13);
	assert_int_equal(x.start, LAST - 60 + 5);
	assert_true(fabs(x.v[12 * 2] - (N - 12)) < 1e-9);
	rr_xport_free(&x);
	/* a start just out of the 10 minutes: the minute archive */
	xport(st, all3, 1, LAST - 600, 5, "AVERAGE", &x);
	assert_int_equal(x.step, 60);
	rr_xport_free(&x);
	rr_store_close(st);
}

static void test_minutes_hours_days(void **state)
{
	(void)state;
	struct rr_store *st = filled(N, false, 1);
	struct rr_xport x;
	/* start inside the 2-hour archive */
	xport(st, all3, 1, LAST - 3600, 60, "AVERAGE", &x);
	assert_int_equal(x.step, 60);
	int64_t last_cdp = LAST - LAST % 60;
	assert_int_equal(x.end, last_cdp);
	assert_int_equal(x.nrows, 61); /* t ≥ start, 60-s apart */
	for (size_t r = 0; r < x.nrows; r++) {
		/* mean of the 12 points ending at t: i from (t−T0)/5 − 11 */
		int64_t t = last_cdp - 60 * (int64_t)r;
		double hi = (double)(t - T0) / 5, mean = hi - 5.5;
		assert_int_equal(x.t[r], t);
		if (hi - 11 >= 1)
			assert_true(fabs(x.v[r * 2] - mean) < 1e-9);
	}
	rr_xport_free(&x);
	/* interval 3600: the hour archive; its CDPs end on whole hours */
	xport(st, all3, 1, LAST - 7200, 3600, NULL, &x);
	assert_int_equal(x.step, 3600);
	assert_int_equal(x.end, T0 + 7200);
	assert_int_equal(x.nrows, 2);
	assert_true(fabs(x.v[0] - (720 + 1440 + 1) / 2.0) < 1e-9); /* i = 721..1440 */
	assert_true(fabs(x.v[2] - (1 + 720) / 2.0) < 1e-9);       /* i = 1..720 */
	rr_xport_free(&x);
	/* by start alone (interval 0): the finest archive reaching back to it —
	 * 3 days: the hour archive (168 h); 30 days: the day archive (366 d) */
	xport(st, all3, 1, LAST - 3 * 86400, 0, "AVERAGE", &x);
	assert_int_equal(x.step, 3600);
	assert_int_equal(x.end, LAST - LAST % 3600);
	assert_int_equal(x.t[x.nrows - 1] >= LAST - 3 * 86400, 1);
	rr_xport_free(&x);
	xport(st, all3, 1, LAST - 30 * 86400, 0, "AVERAGE", &x);
	assert_int_equal(x.step, 86400);
	assert_int_equal(x.end, LAST - LAST % 86400);
	rr_xport_free(&x);
	/* nothing covers a start a year and more ago: the coarsest */
	xport(st, all3, 2, 1, 0, "AVERAGE", &x);
	assert_int_equal(x.step, 86400);
	assert_int_equal(x.nrows, 366);
	assert_int_equal(x.end, LAST - LAST % 86400);
	assert_true(isnan(x.v[0]));
	rr_xport_free(&x);
	rr_store_close(st);
}

static void test_min_max(void **state)
{
	(void)state;
	struct rr_store *st = filled(300, true, 6);
	int64_t last = T0 + 1500;
	struct rr_xport x;
	/* every cf at 5 s: only AVERAGE has a 5-s archive */
	xport(st, all3, 1, last - 300, 0, NULL, &x);
	assert_int_equal(x.step, 5);
	assert_int_equal(x.ncols, 2);
	rr_xport_free(&x);
	/* MIN: its finest archive is the minute one */
	xport(st, all3, 1, last - 300, 5, "MIN", &x);
	assert_int_equal(x.step, 60);
	assert_string_equal(x.legend[0], "MIN:host:" HOST ":cpu0");
	int64_t t0 = x.t[0];
	assert_true(fabs(x.v[0] - ((double)(t0 - T0) / 5 - 11)) < 1e-9);
	rr_xport_free(&x);
	/* every cf at 60 s: grouped by archive, then by source */
	xport(st, all3, 2, last - 300, 60, NULL, &x);
	assert_int_equal(x.ncols, 9);
	assert_string_equal(x.legend[0], "AVERAGE:host:" HOST ":cpu0");
	assert_string_equal(x.legend[1], "AVERAGE:host:" HOST ":memory_free_kib");
	assert_string_equal(x.legend[2], "MIN:host:" HOST ":cpu0");
	assert_string_equal(x.legend[4], "MAX:host:" HOST ":cpu0");
	assert_string_equal(x.legend[6], "AVERAGE:vm:" VM1 ":cpu0");
	assert_string_equal(x.legend[7], "MIN:vm:" VM1 ":cpu0");
	assert_string_equal(x.legend[8], "MAX:vm:" VM1 ":cpu0");
	double hi = (double)(x.t[0] - T0) / 5;
	assert_true(fabs(x.v[4] - hi) < 1e-9);        /* MAX cpu0 */
	assert_true(fabs(x.v[2] - (hi - 11)) < 1e-9); /* MIN cpu0 */
	rr_xport_free(&x);
	rr_store_close(st);
}

static void test_sources_and_restart(void **state)
{
	(void)state;
	struct rr_store *st = filled(30, false, 6);
	struct rr_xport x;
	/* an unknown uuid is left out; repeated ones appear each time asked */
	const struct rr_xport_src some[] = {{RR_VM, VM2}, {RR_VM, "no-such-vm"}, {RR_VM, VM1}};
	xport(st, some, 3, T0 + 100, 5, "AVERAGE", &x);
	assert_int_equal(x.ncols, 2);
	assert_string_equal(x.legend[0], "AVERAGE:vm:" VM2 ":memory");
	assert_string_equal(x.legend[1], "AVERAGE:vm:" VM1 ":cpu0");
	rr_xport_free(&x);
	const struct rr_xport_src none[] = {{RR_VM, "no-such-vm"}};
	struct rr_xport_req req = {.src = none, .nsrc = 1, .start = 0};
	struct xerr err = XERR_INIT;
	assert_int_equal(rr_xport_make(st, &req, &x, &err), -1);
	assert_string_equal(err.code, "NO_RRA_AVAILABLE");
	xerr_clear(&err);
	/* a cf the RRD has no archive of */
	req.src = all3;
	req.cf = "MAX";
	assert_int_equal(rr_xport_make(st, &req, &x, &err), -1);
	xerr_clear(&err);
	/* a new default source: the file gains it, its data kept */
	struct rr_sample s = {0};
	rr_sample_add(&s, "cpu0", 31);
	rr_sample_add(&s, "memory_free_kib", 62);
	rr_sample_add(&s, "loadavg", 7);
	assert_int_equal(rr_store_update(st, RR_HOST, HOST, T0 + 155, &s, false, &err), 0);
	rr_store_close(st);
	/* a restart: names, archives and data come back from the files */
	st = rr_store_open(dir, 6, &err);
	char **names;
	double *last;
	size_t n;
	assert_int_equal(rr_store_sources(st, RR_HOST, HOST, &names, &last, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(names[2], "loadavg");
	assert_true(fabs(last[0] - 31) < 1e-9);
	rr_names_free(names, n);
	free(last);
	xport(st, all3, 1, -20, 0, "AVERAGE", &x);
	assert_int_equal(x.ncols, 3);
	assert_int_equal(x.end, T0 + 155);
	assert_true(fabs(x.v[0] - 31) < 1e-9);
	assert_true(fabs(x.v[3] - 30) < 1e-9);
	assert_true(isnan(x.v[5]));
	assert_true(fabs(x.v[2] - 7) < 1e-9);
	rr_xport_free(&x);
	/* forget: the source's archive goes */
	assert_int_equal(rr_store_forget(st, RR_HOST, HOST, "memory_free_kib", &err), 0);
	assert_int_equal(rr_store_sources(st, RR_HOST, HOST, &names, &last, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(names[1], "loadavg");
	rr_names_free(names, n);
	free(last);
	/* record: a non-default source joins */
	assert_int_equal(rr_store_record(st, RR_VM, VM2, "vif_0_rx_errors", &err), 0);
	assert_int_equal(rr_store_sources(st, RR_VM, VM2, &names, &last, &n), 0);
	assert_int_equal(n, 2);
	rr_names_free(names, n);
	free(last);
	rr_store_close(st);
	rr_sample_free(&s);
}

static void test_rates(void **state)
{
	(void)state;
	struct rr_vm_counters a, b;
	rr_vm_counters_init(&a);
	rr_vm_counters_init(&b);
	a.nvcpus = b.nvcpus = 2;
	a.vcpu_ns[0] = 1000000000;
	b.vcpu_ns[0] = 6000000000; /* 5 s of CPU in 5 s */
	a.vcpu_ns[1] = b.vcpu_ns[1] = 7;
	a.nvifs = b.nvifs = 1;
	a.vif[0].device = b.vif[0].device = 0;
	b.vif[0].rx_bytes = 5000;
	a.ndisks = b.ndisks = 1;
	snprintf(a.disk[0].dev, 8, "xvda");
	snprintf(b.disk[0].dev, 8, "xvda");
	b.disk[0].wr_bytes = 10485760;
	b.disk[0].wr_ops = 10;
	b.disk[0].wr_ns = 10000000;
	b.memory = 1 << 30;
	struct rr_sample s = {0};
	rr_vm_rates(&a, &b, 5, &s);
	assert_true(fabs(rr_sample_get(&s, "cpu0") - 1) < 1e-12);
	assert_true(fabs(rr_sample_get(&s, "cpu1")) < 1e-12);
	assert_true(fabs(rr_sample_get(&s, "cpu_usage") - 0.5) < 1e-12);
	assert_true(fabs(rr_sample_get(&s, "vif_0_rx") - 1000) < 1e-9);
	assert_true(fabs(rr_sample_get(&s, "vbd_xvda_write") - 2097152) < 1e-9);
	assert_true(fabs(rr_sample_get(&s, "vbd_xvda_write_latency") - 1000) < 1e-9);
	assert_true(fabs(rr_sample_get(&s, "memory") - 1073741824) < 1e-3);
	assert_true(isnan(rr_sample_get(&s, "memory_target")));
	rr_sample_free(&s);
	/* the first reading has no rates */
	rr_vm_rates(NULL, &b, 0, &s);
	assert_true(isnan(rr_sample_get(&s, "cpu0")));
	rr_sample_free(&s);
	struct rr_ds_info info;
	rr_ds_describe(RR_VM, "vbd_xvda_read", &info);
	assert_string_equal(info.units, "B/s");
	assert_true(info.dflt);
	rr_ds_describe(RR_VM, "vif_3_rx_errors", &info);
	assert_false(info.dflt);
	rr_ds_describe(RR_HOST, "pif_eth0_rx", &info);
	assert_string_equal(info.description, "Bytes per second received on physical interface eth0");
}

/* An SR's figures: the VBDs on it summed, latencies from the time the
 * completed requests took; on the host named with the SR's first eight
 * characters. */
static void test_sr_io(void **state)
{
	(void)state;
	struct rr_disk_counters a = {.dev = "xvda", .rd_ops = 10, .wr_ops = 10, .inflight = 1};
	struct rr_disk_counters b = a, c = a, d = a;
	b.rd_bytes = 5 * 1048576; /* 1 MiB/s over 5 s */
	b.rd_ops = 10 + 50;       /* 10 reads/s … */
	b.rd_ns = 50 * 200000;    /* … of 200 µs each */
	d.wr_bytes = 10 * 1048576;
	d.wr_ops = 10 + 25;
	d.wr_ns = 25 * 1000000; /* 1 ms each */
	d.inflight = 3;
	struct rr_sr_io io = {0};
	rr_sr_io_add(&io, &a, &b, 5);
	rr_sr_io_add(&io, &c, &d, 5);
	rr_sr_io_add(&io, NULL, &d, 5); /* a VM's first tick: only its requests in flight */
	struct rr_sample s = {0};
	rr_sr_rates(&io, "5f3a8c21-0000-4000-8000-00000000000a", &s);
	assert_true(fabs(rr_sample_get(&s, "io_throughput_read_5f3a8c21") - 1) < 1e-12);
	assert_true(fabs(rr_sample_get(&s, "io_throughput_write_5f3a8c21") - 2) < 1e-12);
	assert_true(fabs(rr_sample_get(&s, "io_throughput_total_5f3a8c21") - 3) < 1e-12);
	assert_true(fabs(rr_sample_get(&s, "iops_read_5f3a8c21") - 10) < 1e-12);
	assert_true(fabs(rr_sample_get(&s, "iops_write_5f3a8c21") - 5) < 1e-12);
	assert_true(fabs(rr_sample_get(&s, "iops_total_5f3a8c21") - 15) < 1e-12);
	assert_true(fabs(rr_sample_get(&s, "read_latency_5f3a8c21") - 200) < 1e-9);
	assert_true(fabs(rr_sample_get(&s, "write_latency_5f3a8c21") - 1000) < 1e-9);
	assert_true(fabs(rr_sample_get(&s, "inflight_5f3a8c21") - 7) < 1e-12);
	rr_sample_free(&s);
	/* the SR's own RRD: the same figures without the suffix */
	rr_sr_rates(&io, NULL, &s);
	assert_true(fabs(rr_sample_get(&s, "iops_total") - 15) < 1e-12);
	assert_true(fabs(rr_sample_get(&s, "latency") - (50 * 200 + 25 * 1000) / 75.0) < 1e-9);
	rr_sample_free(&s);
	/* a counter that went back (a new QEMU) adds nothing */
	struct rr_sr_io z = {0};
	rr_sr_io_add(&z, &b, &a, 5);
	assert_true(z.rd_bytes == 0 && z.rd_ops == 0);
	struct rr_ds_info info;
	rr_ds_describe(RR_HOST, "write_latency_5f3a8c21", &info);
	assert_string_equal(info.units, "μs");
	assert_true(info.dflt);
	rr_ds_describe(RR_SR, "io_throughput_total", &info);
	assert_string_equal(info.units, "MiB/s");
	rr_ds_describe(RR_HOST, "running_vcpus", &info);
	assert_true(info.dflt);
}

/* A VM's RRD moved to another host: the bundle installs there whole, and
 * rows the receiver recorded after the bundle's last update (it sampled
 * the VM before its history arrived) go on in it; the sender drops its
 * copy only when nothing was sampled into it since the export. */
static double row_value(const struct rr_xport *x, int64_t t, size_t col)
{
	for (size_t r = 0; r < x->nrows; r++)
		if (x->t[r] == t)
			return x->v[r * x->ncols + col];
	return -1;
}

static void test_move(void **state)
{
	(void)state;
	struct rr_store *a = filled(20, false, 6);
	size_t n = 0;
	char **vms = rr_store_list(a, RR_VM, &n);
	assert_int_equal(n, 2);
	assert_true((!strcmp(vms[0], VM1) && !strcmp(vms[1], VM2)) || (!strcmp(vms[0], VM2) && !strcmp(vms[1], VM1)));
	rr_names_free(vms, n);
	struct strbuf bundle = STRBUF_INIT;
	time_t last = 0;
	struct xerr err = XERR_INIT;
	assert_int_equal(rr_store_export(a, RR_VM, VM2, &bundle, &last, &err), 0);
	assert_int_equal(last, T0 + 100);
	assert_int_equal(rr_store_export(a, RR_VM, "no-such-vm", &bundle, &last, &err), -1);
	assert_string_equal(err.code, "UUID_INVALID");
	xerr_clear(&err);
	last = T0 + 100;

	char bdir[96];
	snprintf(bdir, sizeof bdir, "%s/b", dir);
	struct rr_store *b = rr_store_open(bdir, 6, &err);
	assert_non_null(b);
	struct rr_sample s = {0};
	for (int i = 21; i <= 24; i++) {
		rr_sample_reset(&s);
		rr_sample_add(&s, "memory", 5000.0 + i);
		assert_int_equal(rr_store_update(b, RR_VM, VM2, (time_t)(T0 + 5LL * i), &s, false, &err), 0);
	}
	rr_sample_free(&s);
	/* not a bundle: refused, what b has stays */
	assert_int_equal(rr_store_import(b, RR_VM, VM2, "XRRD1 3 9\nabc", 14, &err), -1);
	assert_string_equal(err.code, "INVALID_VALUE");
	xerr_clear(&err);
	assert_int_equal(rr_store_import(b, RR_VM, "../x", bundle.buf, bundle.len, &err), -1);
	xerr_clear(&err);
	assert_true(rr_store_has(b, RR_VM, VM2));
	assert_int_equal(rr_store_import(b, RR_VM, VM2, bundle.buf, bundle.len, &err), 0);
	sb_free(&bundle);

	struct rr_xport_src src[] = {{RR_VM, VM2}};
	struct rr_xport x;
	xport(b, src, 1, T0, 5, "AVERAGE", &x);
	assert_int_equal(x.ncols, 1);
	assert_string_equal(x.legend[0], "AVERAGE:vm:" VM2 ":memory");
	for (int i = 1; i <= 20; i++)
		assert_true(row_value(&x, T0 + 5LL * i, 0) == 1000.0 + i);
	for (int i = 21; i <= 24; i++)
		assert_true(row_value(&x, T0 + 5LL * i, 0) == 5000.0 + i);
	rr_xport_free(&x);
	/* it goes on being sampled there */
	rr_sample_add(&s, "memory", 7.0);
	assert_int_equal(rr_store_update(b, RR_VM, VM2, (time_t)(T0 + 125), &s, false, &err), 0);
	rr_sample_free(&s);
	xport(b, src, 1, T0, 5, "AVERAGE", &x);
	assert_true(row_value(&x, T0 + 125, 0) == 7.0);
	assert_true(row_value(&x, T0 + 5, 0) == 1001.0);
	rr_xport_free(&x);

	/* the sender: kept when sampled since the export, else dropped */
	rr_sample_add(&s, "memory", 1.0);
	assert_int_equal(rr_store_update(a, RR_VM, VM2, (time_t)(T0 + 105), &s, false, &err), 0);
	rr_sample_free(&s);
	assert_false(rr_store_remove(a, RR_VM, VM2, last));
	assert_true(rr_store_has(a, RR_VM, VM2));
	assert_true(rr_store_remove(a, RR_VM, VM2, T0 + 105));
	assert_false(rr_store_has(a, RR_VM, VM2));
	vms = rr_store_list(a, RR_VM, &n);
	assert_int_equal(n, 1);
	assert_string_equal(vms[0], VM1);
	rr_names_free(vms, n);
	rr_store_close(a);
	rr_store_close(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_float_text),
		cmocka_unit_test(test_float_text_is_printf),
		cmocka_unit_test(test_xml_exact),
		cmocka_unit_test_setup_teardown(test_five_seconds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_minutes_hours_days, setup, teardown),
		cmocka_unit_test_setup_teardown(test_min_max, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sources_and_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_move, setup, teardown),
		cmocka_unit_test(test_rates),
		cmocka_unit_test(test_sr_io),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
