/* libvirt_getinfo: the libvirt side of bench/api_bench.py.
 *
 * Defines N domains in libvirt's test driver, then calls
 * virDomainGetInfo on random domains from T threads for a fixed time and
 * prints calls/s and latency percentiles. Other modes, analogues of
 * VM.get_all_records: "allstats" = one virConnectGetAllDomainStats(STATE)
 * call per iteration; "all" = virConnectListAllDomains plus
 * virDomainGetInfo on every domain.
 *
 *   cc -O2 -o libvirt_getinfo libvirt_getinfo.c $(pkg-config --cflags --libs libvirt) -lpthread -lm
 *   ./libvirt_getinfo --uri test:///default --domains 10000 --runs getinfo:1,getinfo:8,allstats:1
 *
 * The domains are defined once; each run (mode:threads) then prints one
 * line "RESULT key=value ..." for the driver script. */
#define _GNU_SOURCE
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* log-linear latency histogram: 32 sub-buckets per power of two of ns */
#define SUB 32
#define NB (64 * SUB)

struct worker {
	pthread_t th;
	int idx;
	uint64_t calls, errors;
	uint64_t hist[NB];
};

static virConnectPtr *conns;
static virDomainPtr *doms; /* looked up once per connection: doms[c * ndoms + i] */
static int ndoms, nthreads = 1, per_thread_conn, nconn;
static double seconds = 10;
static volatile int stop;
static const char *mode = "getinfo";

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int bucket(uint64_t ns)
{
	if (ns < SUB)
		return (int)ns;
	int msb = 63 - __builtin_clzll(ns);
	int shift = msb - 5; /* SUB = 2^5 */
	int b = (shift + 1) * SUB + (int)((ns >> shift) - SUB);
	return b < NB ? b : NB - 1;
}

static double bucket_ns(int b)
{
	if (b < SUB)
		return b;
	int shift = b / SUB - 1;
	return (double)((uint64_t)(b % SUB + SUB) << shift) * (1.0 + 0.5 / SUB);
}

static void *run(void *arg)
{
	struct worker *w = arg;
	unsigned seed = 0x9e3779b9u * (unsigned)(w->idx + 1);
	int c = per_thread_conn ? w->idx % nconn : 0;
	virConnectPtr conn = conns[c];
	virDomainPtr *d = &doms[c * ndoms];
	bool all = strcmp(mode, "all") == 0;
	bool allstats = strcmp(mode, "allstats") == 0;
	while (!stop) {
		uint64_t t0 = now_ns();
		int ok = 0;
		if (allstats) {
			virDomainStatsRecordPtr *recs = NULL;
			int n = virConnectGetAllDomainStats(conn, VIR_DOMAIN_STATS_STATE, &recs, 0);
			ok = n >= ndoms;
			if (n >= 0)
				virDomainStatsRecordListFree(recs);
		} else if (all) {
			virDomainPtr *list = NULL;
			int n = virConnectListAllDomains(conn, &list, 0);
			ok = n >= ndoms;
			for (int i = 0; i < n; i++) {
				virDomainInfo info;
				if (virDomainGetInfo(list[i], &info) < 0)
					ok = 0;
				virDomainFree(list[i]);
			}
			free(list);
		} else {
			virDomainInfo info;
			ok = virDomainGetInfo(d[rand_r(&seed) % (unsigned)ndoms], &info) == 0;
		}
		uint64_t dt = now_ns() - t0;
		w->hist[bucket(dt)]++;
		w->calls++;
		if (!ok)
			w->errors++;
	}
	return NULL;
}

static void quiet(void *ud, virErrorPtr e)
{
	(void)ud;
	(void)e;
}

/* One measured run: mode on `threads` threads for `seconds`. */
static int measure(const char *uri, const char *m, int threads, int own_conns, double define_s)
{
	mode = m;
	nthreads = threads;
	per_thread_conn = own_conns;
	stop = 0;
	struct worker *ws = calloc((size_t)nthreads, sizeof *ws);
	uint64_t start = now_ns();
	for (int i = 0; i < nthreads; i++) {
		ws[i].idx = i;
		pthread_create(&ws[i].th, NULL, run, &ws[i]);
	}
	struct timespec ts = {(time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9)};
	nanosleep(&ts, NULL);
	stop = 1;
	uint64_t calls = 0, errors = 0;
	static uint64_t hist[NB];
	memset(hist, 0, sizeof hist);
	for (int i = 0; i < nthreads; i++) {
		pthread_join(ws[i].th, NULL);
		calls += ws[i].calls;
		errors += ws[i].errors;
		for (int b = 0; b < NB; b++)
			hist[b] += ws[i].hist[b];
	}
	free(ws);
	double el = (double)(now_ns() - start) / 1e9;
	double pct[3] = {50, 99, 99.9}, val[3] = {0, 0, 0};
	for (int p = 0; p < 3; p++) {
		uint64_t target = (uint64_t)ceil((double)calls * pct[p] / 100.0), acc = 0;
		for (int b = 0; b < NB; b++) {
			acc += hist[b];
			if (acc >= target) {
				val[p] = bucket_ns(b);
				break;
			}
		}
	}
	printf("RESULT uri=%s mode=%s domains=%d threads=%d conns=%d seconds=%.2f calls=%llu "
	       "errors=%llu calls_per_s=%.1f p50_us=%.2f p99_us=%.2f p999_us=%.2f define_s=%.2f\n",
	       uri, mode, ndoms, nthreads, own_conns ? (nthreads < nconn ? nthreads : nconn) : 1, el,
	       (unsigned long long)calls, (unsigned long long)errors, (double)calls / el, val[0] / 1e3,
	       val[1] / 1e3, val[2] / 1e3, define_s);
	fflush(stdout);
	return errors ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *uri = "test:///default";
	const char *runs = NULL;
	int want = 10000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--uri") && i + 1 < argc)
			uri = argv[++i];
		else if (!strcmp(argv[i], "--domains") && i + 1 < argc)
			want = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
			nthreads = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
			seconds = atof(argv[++i]);
		else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
			mode = argv[++i];
		else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
			runs = argv[++i];
		else {
			fprintf(stderr,
				"usage: %s [--uri URI] [--domains N] [--seconds S]\n"
				"          [--runs MODE:THREADS[:shared],...] | [--mode MODE --threads T]\n"
				"  MODE: getinfo (virDomainGetInfo on a random domain), allstats\n"
				"  (virConnectGetAllDomainStats STATE), all (ListAllDomains + GetInfo each).\n"
				"  Each thread has its own connection unless ':shared' is given.\n",
				argv[0]);
			return 2;
		}
	}
	/* the run list: "getinfo:1,getinfo:8:shared,..." */
	char spec[64][32];
	int nspec = 0, maxthreads = 1;
	char *list = strdup(runs ? runs : "");
	if (!runs)
		snprintf(list = malloc(64), 64, "%s:%d", mode, nthreads);
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok && nspec < 64;
	     tok = strtok_r(NULL, ",", &save)) {
		snprintf(spec[nspec++], sizeof spec[0], "%s", tok);
		char *c = strchr(tok, ':');
		int t = c ? atoi(c + 1) : 1;
		if (t > maxthreads)
			maxthreads = t;
	}
	free(list);

	virSetErrorFunc(NULL, quiet);
	nconn = maxthreads;
	conns = calloc((size_t)nconn, sizeof *conns);
	for (int c = 0; c < nconn; c++) {
		conns[c] = virConnectOpen(uri);
		if (!conns[c]) {
			virErrorPtr e = virGetLastError();
			fprintf(stderr, "cannot open %s: %s\n", uri, e && e->message ? e->message : "?");
			return 1;
		}
	}
	virConnectPtr conn = conns[0];

	/* define domains until the driver holds `want` (test:///default starts with one) */
	uint64_t t0 = now_ns();
	int have = virConnectNumOfDomains(conn) + virConnectNumOfDefinedDomains(conn);
	for (int i = 0; have < want; i++) {
		char name[64], xml[512];
		snprintf(name, sizeof name, "bench-%05d", i);
		snprintf(xml, sizeof xml,
			 "<domain type='test'><name>%s</name><memory>262144</memory>"
			 "<vcpu>1</vcpu><os><type>hvm</type></os></domain>", name);
		virDomainPtr dd = virDomainDefineXML(conn, xml);
		if (!dd && (dd = virDomainLookupByName(conn, name))) {
			virDomainFree(dd); /* left from an earlier run on the same daemon */
			continue;
		}
		if (!dd) {
			virErrorPtr e = virGetLastError();
			fprintf(stderr, "define %s: %s\n", name, e && e->message ? e->message : "?");
			return 1;
		}
		/* start every other one so GetInfo sees both states */
		if (i % 2 == 0)
			virDomainCreate(dd);
		virDomainFree(dd);
		have++;
	}
	double define_s = (double)(now_ns() - t0) / 1e9;

	/* handles per connection, looked up once, so a call is one GetInfo */
	doms = calloc((size_t)nconn * (size_t)want, sizeof *doms);
	for (int c = 0; c < nconn; c++) {
		virDomainPtr *l = NULL;
		int n = virConnectListAllDomains(conns[c], &l, 0);
		if (n < want) {
			fprintf(stderr, "only %d domains\n", n);
			return 1;
		}
		for (int i = 0; i < n; i++) {
			if (i < want)
				doms[c * want + i] = l[i];
			else
				virDomainFree(l[i]);
		}
		free(l);
	}
	ndoms = want;

	int rc = 0;
	for (int i = 0; i < nspec; i++) {
		char m[sizeof spec[0]];
		memcpy(m, spec[i], sizeof m);
		char *c = strchr(m, ':');
		int t = 1, shared = 0;
		if (c) {
			*c = '\0';
			t = atoi(c + 1);
			shared = strstr(c + 1, ":shared") != NULL;
		}
		rc |= measure(uri, m, t, !shared, define_s);
	}
	for (int c = 0; c < nconn; c++) {
		for (int i = 0; i < ndoms; i++)
			virDomainFree(doms[c * ndoms + i]);
		virConnectClose(conns[c]);
	}
	return rc;
}
