/* bootstrap: the records a host needs before it can answer the API — pool,
 * host, control domain, local and ISO SRs, management network, default
 * templates — created on first start and refreshed from the machine on every start. */
#ifndef XENON_BOOTSTRAP_H
#define XENON_BOOTSTRAP_H

#include <stdbool.h>
#include <stdint.h>

#include "../base/xerr.h"
#include "../db/db.h"

struct bootstrap_opts {
	const char *hostname; /* NULL: gethostname() */
	const char *address;  /* management IP to advertise; NULL: detect (first
	                         non-loopback IPv4, else 127.0.0.1) */
	const char *data_dir; /* for the local SR path <data-dir>/sr/<uuid> and the
	                         ISO library <data-dir>/iso; NULL: /var/lib/xenon */
	const char *bridge;   /* network bridge name, default "xenbr0" */
	int64_t memory_total; /* 0: read /proc/meminfo */
	bool pooled;          /* a member of a Raft pool: refresh host_ref's record,
	                         not the pool's master's (none yet: nothing to do) */
	const char *host_ref;
};

/* Creates the records of a fresh host if the store has no pool; on every
 * start refreshes what the machine reports (software_version, cpu_info,
 * host_CPUs, host_metrics memory, hostname/address) and re-creates missing
 * default templates — all in one transaction. */
int bootstrap_host(struct db *db, const struct bootstrap_opts *o, struct xerr *err);

/* The ref of this host (the only one for now), under the caller's lock. */
struct db_obj *bootstrap_this_host(struct db *db);

#endif
