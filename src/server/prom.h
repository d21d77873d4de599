/* prom: the daemon's own counters for GET /metrics (prom_http.c) — API
 * calls by method and outcome and their latencies. */
#ifndef XENON_PROM_H
#define XENON_PROM_H

struct rpc_call;

/* Counts a finished call (rpc_call_free): its method, whether it
 * succeeded, and the time since it arrived. */
void prom_count_call(const struct rpc_call *call);

#endif
