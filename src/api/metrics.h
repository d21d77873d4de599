/* metrics: the 5-s sampler of this host and its VMs and their RRDs
 * (api/metrics.c over src/rrd), started by the daemon. */
#ifndef XENON_API_METRICS_H
#define XENON_API_METRICS_H

#include "../rrd/rr.h"
#include "server.h"

/* Opens <data-dir>/rrd and starts sampling; srv->metrics stays NULL if the
 * directory cannot be made. */
void metrics_start(struct server *srv);
/* Stops sampling and writes every pending update to its file. */
void metrics_stop(struct server *srv);
struct rr_store *metrics_store(struct server *srv);
/* This host's uuid, as the legend of /rrd_updates names it. */
const char *metrics_host_uuid(struct server *srv);
/* The latest sample of this host, of each VM running here and of each SR
 * in Prometheus' text exposition format, appended to out: one family per
 * data source, xen_<host|vm|sr>_<name> (a final _total made _all, as
 * Prometheus keeps that suffix for counters), labelled host_uuid, vm_uuid and
 * vm_name, or sr_uuid; unknown (NaN) values left out. */
/* Looks now (not at the next round, every 2 s) for VMs' RRDs this host
 * holds that belong on another host of the pool, and sends them there. */
void metrics_move_now(struct server *srv);
/* Drops the RRD this host holds of a destroyed object. */
void metrics_forget(struct server *srv, enum rr_kind k, const char *uuid);
void metrics_prometheus(struct server *srv, struct strbuf *out);

#endif
