/* perfmon: the ALARM messages of other_config:perfmon on hosts, VMs and
 * SRs, evaluated on each 5-s sample as xapi's perfmon evaluates them
 * (api/perfmon.c). */
#ifndef XENON_API_PERFMON_H
#define XENON_API_PERFMON_H

#include "../db/db.h"
#include "../rrd/rr.h"

struct perfmon;

struct perfmon *perfmon_new(void);
void perfmon_free(struct perfmon *pm);
/* One sample of an object at time now (seconds): its configuration read
 * from the store (and parsed again when it changed), each variable
 * updated, an ALARM message created where one is due. One thread only. */
void perfmon_sample(struct perfmon *pm, struct db *db, enum rr_kind k, const char *uuid, const struct rr_sample *s,
		    int64_t now);

#endif
