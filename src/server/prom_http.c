/* prom_http: GET /metrics in Prometheus' text exposition format (0.0.4):
 * the latest 5-s sample of this host, its running VMs and SRs (from the
 * metrics' own copy, api/metrics.c: no archive is read), then xenond's
 * own figures — API calls by method and outcome, a histogram of their
 * latency, event clients, tasks, objects in the store, the process's CPU
 * time and resident memory. A session (query, cookie), HTTP Basic, or the
 * read-only Bearer token of the config key metrics-token may read it. */
#include "http_route.h"
#include "prom.h"
#include "rpc.h"
#include "../api/api.h"
#include "../api/metrics.h"
#include "../base/clock.h"
#include "../base/hmap.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- the counters ---- */

struct method_count {
	uint64_t ok, failed;
};

static pthread_mutex_t calls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hmap calls; /* method -> struct method_count (key after it) */

static const double bounds[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
				0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NBOUNDS (sizeof bounds / sizeof bounds[0])
static _Atomic uint64_t hist[NBOUNDS + 1]; /* per bucket, not cumulative; last: +Inf */
static _Atomic uint64_t hist_sum_ns, hist_count;

void prom_count_call(const struct rpc_call *call)
{
	int64_t ns = clock_now_ns() - call->t0_ns;
	if (ns < 0)
		ns = 0;
	char name[160];
	if (call->ctx.msg && call->ctx.cls >= 0 && call->ctx.cls < sc_nclasses)
		snprintf(name, sizeof name, "%s%s.%s", call->async ? "Async." : "", sc_classes[call->ctx.cls].name,
			 call->ctx.msg->name);
	else if (call->ctx.msg && call->method) /* an extension outside the schema's classes (debug.*) */
		snprintf(name, sizeof name, "%s", call->method);
	else if (call->method && !strcmp(call->method, "system.listMethods"))
		snprintf(name, sizeof name, "%s", call->method);
	else
		snprintf(name, sizeof name, "unknown"); /* not a label per typo */
	bool ok = !call->err.code;
	pthread_mutex_lock(&calls_lock);
	struct method_count *c = hmap_get(&calls, name);
	if (!c) {
		c = xcalloc(1, sizeof *c + strlen(name) + 1);
		strcpy((char *)(c + 1), name);
		hmap_put(&calls, (char *)(c + 1), c);
	}
	if (ok)
		c->ok++;
	else
		c->failed++;
	pthread_mutex_unlock(&calls_lock);
	double s = (double)ns / 1e9;
	size_t b = 0;
	while (b < NBOUNDS && s > bounds[b])
		b++;
	atomic_fetch_add_explicit(&hist[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&hist_sum_ns, (uint64_t)ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&hist_count, 1, memory_order_relaxed);
}

/* ---- the text ---- */

static void family(struct strbuf *sb, const char *name, const char *type, const char *help)
{
	sb_printf(sb, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void own_calls(struct strbuf *sb)
{
	family(sb, "xenond_api_calls_total", "counter", "API calls answered, by method and outcome");
	pthread_mutex_lock(&calls_lock);
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&calls, &it, &k, &v);) {
		const struct method_count *c = v;
		if (c->ok)
			sb_printf(sb, "xenond_api_calls_total{method=\"%s\",status=\"success\"} %llu\n", k,
				  (unsigned long long)c->ok);
		if (c->failed)
			sb_printf(sb, "xenond_api_calls_total{method=\"%s\",status=\"failure\"} %llu\n", k,
				  (unsigned long long)c->failed);
	}
	pthread_mutex_unlock(&calls_lock);
	family(sb, "xenond_api_call_duration_seconds", "histogram",
	       "Time from a call's arrival until its answer was sent");
	uint64_t cum = 0;
	for (size_t b = 0; b <= NBOUNDS; b++) {
		cum += atomic_load_explicit(&hist[b], memory_order_relaxed);
		if (b < NBOUNDS)
			sb_printf(sb, "xenond_api_call_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[b],
				  (unsigned long long)cum);
		else
			sb_printf(sb, "xenond_api_call_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
				  (unsigned long long)cum);
	}
	sb_printf(sb, "xenond_api_call_duration_seconds_sum %.9f\n",
		  (double)atomic_load_explicit(&hist_sum_ns, memory_order_relaxed) / 1e9);
	/* the count agrees with the +Inf bucket even while calls end */
	sb_printf(sb, "xenond_api_call_duration_seconds_count %llu\n", (unsigned long long)cum);
}

static void own_state(struct strbuf *sb, struct server *srv)
{
	family(sb, "xenond_event_waiting_calls", "gauge", "event.from and event.next calls waiting for a change");
	sb_printf(sb, "xenond_event_waiting_calls %zu\n", db_waiter_count(srv->db));
	family(sb, "xenond_event_registered_sessions", "gauge", "Sessions registered for event.next");
	sb_printf(sb, "xenond_event_registered_sessions %zu\n", event_registered_count());
	size_t per[256] = {0}, total = 0;
	int n = sc_nclasses < 256 ? sc_nclasses : 256;
	db_rdlock(srv->db);
	for (int c = 0; c < n; c++)
		if (sc_classes[c].stored)
			total += per[c] = db_count(srv->db, c);
	db_unlock(srv->db);
	family(sb, "xenond_tasks", "gauge", "Tasks in the store (pending and completed ones not yet destroyed)");
	sb_printf(sb, "xenond_tasks %zu\n", per[SC_C_task]);
	family(sb, "xenond_db_objects", "gauge", "Objects in the store, by class");
	for (int c = 0; c < n; c++)
		if (per[c])
			sb_printf(sb, "xenond_db_objects{class=\"%s\"} %zu\n", sc_classes[c].name, per[c]);
	family(sb, "xenond_db_objects_stored", "gauge", "Objects in the store");
	sb_printf(sb, "xenond_db_objects_stored %zu\n", total);

	/* the process (/proc/self: utime and stime in clock ticks; resident pages) */
	char buf[1024];
	FILE *f = fopen("/proc/self/stat", "r");
	if (f) {
		size_t len = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
		buf[len] = 0;
		char *p = strrchr(buf, ')');
		unsigned long long ut, st;
		long tck = sysconf(_SC_CLK_TCK);
		if (p && tck > 0 &&
		    sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) == 2) {
			family(sb, "process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds");
			sb_printf(sb, "process_cpu_seconds_total %.2f\n", (double)(ut + st) / (double)tck);
		}
	}
	f = fopen("/proc/self/statm", "r");
	if (f) {
		unsigned long long size, rss;
		if (fscanf(f, "%llu %llu", &size, &rss) == 2) {
			family(sb, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes");
			sb_printf(sb, "process_resident_memory_bytes %llu\n", rss * (unsigned long long)sysconf(_SC_PAGESIZE));
		}
		fclose(f);
	}
}

static int metrics_begin(struct route_req *rr)
{
	struct strbuf sb = STRBUF_INIT;
	sb_grow(&sb, 1 << 16);
	metrics_prometheus(rr->srv, &sb);
	own_calls(&sb);
	own_state(&sb, rr->srv);
	size_t len = sb.len;
	return route_send_buffer(rr, sb_detach(&sb), len, "text/plain; version=0.0.4; charset=utf-8");
}

/* Authorization: Bearer <metrics-token>, compared in constant time. */
static bool bearer_ok(struct route_req *rr)
{
	const char *tok = rr->srv->cfg.metrics_token;
	if (!tok || !*tok)
		return false;
	const char *h = MHD_lookup_connection_value(rr->conn, MHD_HEADER_KIND, "Authorization");
	if (!h || strncasecmp(h, "Bearer ", 7))
		return false;
	h += 7;
	size_t a = strlen(h), b = strlen(tok);
	unsigned char diff = a != b;
	for (size_t i = 0; i < a && i < b; i++)
		diff |= (unsigned char)(h[i] ^ tok[i]);
	return !diff;
}

const struct route route_metrics = {.method = "GET",
				    .path = "/metrics",
				    .begin = metrics_begin,
				    .no_task = true,
				    .role = SC_ROLE_READ_ONLY,
				    .credential = bearer_ok};
