/* rrd: metrics of the host, its VMs and SRs — sampled every 5 s under
 * xapi's data source names, kept in round-robin databases (librrd files
 * with xapi's four timescales) and read back as xapi's /rrd_updates
 * "xport". This layer knows no store and no backend: the VM figures come
 * through struct rr_ops, which the layer above registers. */
#ifndef XENON_RR_H
#define XENON_RR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../base/strbuf.h"
#include "../base/xerr.h"

#define RR_STEP 5 /* seconds per primary data point, as xcp-rrdd */

enum rr_kind { RR_HOST, RR_VM, RR_SR };
const char *rr_kind_name(enum rr_kind k); /* "host", "vm", "sr" */

/* ---- one tick's values of one object ---- */

#define RR_NAME_MAX 64

struct rr_val {
	char name[RR_NAME_MAX];
	double v; /* NaN: unknown this tick */
};

struct rr_sample {
	struct rr_val *v;
	size_t n, cap;
};

void rr_sample_add(struct rr_sample *s, const char *name, double v);
/* The value named, NaN when absent. */
double rr_sample_get(const struct rr_sample *s, const char *name);
void rr_sample_reset(struct rr_sample *s);
void rr_sample_free(struct rr_sample *s);

/* What xapi says of a data source (Data_source.t): units, description,
 * range, and whether it enters new RRDs without record_data_source. */
struct rr_ds_info {
	const char *units;
	char description[128];
	double min, max;
	bool dflt;
};
void rr_ds_describe(enum rr_kind k, const char *name, struct rr_ds_info *out);

/* ---- raw counters of a running VM, as a backend reads them ----
 * Cumulative counters; the sampler turns them into per-second rates
 * between ticks. Unknown figures are -1. */

#define RR_MAX_VCPUS 128
#define RR_MAX_DISKS 16
#define RR_MAX_VIFS 16

struct rr_vm_counters {
	int nvcpus;
	int64_t vcpu_ns[RR_MAX_VCPUS]; /* CPU time used by each vCPU */
	int64_t memory;                /* bytes the guest holds now */
	int64_t memory_target;         /* bytes it is asked to hold */
	int64_t memory_internal_free;  /* KiB free inside, from the balloon or agent */
	int ndisks;
	struct rr_disk_counters {
		char dev[8]; /* "xvda" */
		char sr[40]; /* the SR of its VDI ("" unknown): summed into the SR's figures */
		int64_t rd_bytes, wr_bytes, rd_ops, wr_ops, rd_ns, wr_ns, inflight;
	} disk[RR_MAX_DISKS];
	int nvifs;
	struct rr_vif_counters {
		int device; /* VIF.device */
		/* from the guest's side: rx is what the guest received */
		int64_t rx_bytes, tx_bytes, rx_errors, tx_errors;
	} vif[RR_MAX_VIFS];
};

void rr_vm_counters_init(struct rr_vm_counters *c);

/* ---- the host, from /proc ---- */

struct rr_host_counters {
	int ncpus;
	int64_t *busy, *total; /* jiffies per CPU (owned) */
	double loadavg;
	int64_t mem_total_kib, mem_free_kib;
	int npifs;
	struct rr_pif_counters {
		char dev[32];
		int64_t rx_bytes, tx_bytes, rx_errors, tx_errors;
		bool physical;
	} *pif;
};

/* Reads /proc/stat, /proc/loadavg, /proc/meminfo and /proc/net/dev (root
 * may be another directory for tests); pifs: the devices reported as
 * pif_<dev>_* (NULL: every physical interface). */
int rr_host_read(const char *proc_root, const char *const *pifs, struct rr_host_counters *out);
void rr_host_counters_free(struct rr_host_counters *c);

/* Rates between two readings dt seconds apart, under xapi's names. */
void rr_host_rates(const struct rr_host_counters *prev, const struct rr_host_counters *now, double dt,
		   struct rr_sample *out);
void rr_vm_rates(const struct rr_vm_counters *prev, const struct rr_vm_counters *now, double dt,
		 struct rr_sample *out);

/* ---- an SR's I/O, summed over the VBDs of the running VMs on it ----
 * Per-second figures over one tick; latencies from the time the
 * completed requests took. */
struct rr_sr_io {
	double rd_bytes, wr_bytes, rd_ops, wr_ops, rd_ns, wr_ns, inflight;
};
/* The disk's share of its SR's I/O between two readings dt seconds apart
 * (nothing when a counter went back or dt is not positive). */
void rr_sr_io_add(struct rr_sr_io *acc, const struct rr_disk_counters *prev, const struct rr_disk_counters *now,
		  double dt);
/* The SR's figures: on the host with the SR's first eight characters
 * (iops_read_<sr8>, …) when sr8 is given, in the SR's own RRD without. */
void rr_sr_rates(const struct rr_sr_io *io, const char *sr8, struct rr_sample *out);

/* ---- the archives ---- */

struct rr_store;

/* Files under dir (created): <kind>-<uuid>.rrd. flush_ticks: updates are
 * kept in memory and written to a file every flush_ticks ticks (and
 * before any read), so a tick costs one file write per object in
 * flush_ticks. */
struct rr_store *rr_store_open(const char *dir, int flush_ticks, struct xerr *err);
void rr_store_close(struct rr_store *st); /* flushes */

/* One tick of one object. A new RRD gets the sample's default data
 * sources (and those recorded), xapi's four AVERAGE archives, plus MIN
 * and MAX ones when min_max. A data source the file lacks that is a
 * default or recorded one rebuilds the file with it (data kept). */
int rr_store_update(struct rr_store *st, enum rr_kind k, const char *uuid, time_t t, const struct rr_sample *s,
		    bool min_max, struct xerr *err);
/* Every pending update of this object (NULL: of all) to its file. */
int rr_store_flush(struct rr_store *st, const char *uuid);
/* Whether an RRD exists for uuid. */
bool rr_store_has(struct rr_store *st, enum rr_kind k, const char *uuid);
/* The data sources in the object's RRD (names, owned array of owned
 * strings) and their latest values; -1 if it has none. */
int rr_store_sources(struct rr_store *st, enum rr_kind k, const char *uuid, char ***names, double **last,
		     size_t *n);
void rr_names_free(char **names, size_t n);
/* record_data_source: the object's RRD gains the named source (from its
 * next sample on). forget: its archive of that source is dropped. */
int rr_store_record(struct rr_store *st, enum rr_kind k, const char *uuid, const char *name, struct xerr *err);
int rr_store_forget(struct rr_store *st, enum rr_kind k, const char *uuid, const char *name, struct xerr *err);
/* The whole RRD as xapi's /host_rrd and /vm_rrd send it (XML, or JSON). */
int rr_store_dump(struct rr_store *st, enum rr_kind k, const char *uuid, bool json, struct strbuf *out,
		  struct xerr *err);

/* ---- an RRD moved to another host (a halted VM's to the master, a
 * VM's to the host it runs on) ---- */

/* The object's RRD (pending updates written first) as one bundle of its
 * files into out, and its last update into *last; UUID_INVALID when it
 * has none. */
int rr_store_export(struct rr_store *st, enum rr_kind k, const char *uuid, struct strbuf *out, time_t *last,
		    struct xerr *err);
/* Installs a bundle rr_store_export made as the object's RRD. Rows this
 * store recorded after the bundle's last update (a VM sampled here before
 * its history arrived) go on in it. INVALID_VALUE for a bundle that is no
 * RRD of 5-s steps. */
int rr_store_import(struct rr_store *st, enum rr_kind k, const char *uuid, const char *data, size_t len,
		    struct xerr *err);
/* Drops the object's RRD if its last update is still last (0: whatever
 * it is); whether it was dropped. */
bool rr_store_remove(struct rr_store *st, enum rr_kind k, const char *uuid, time_t last);
/* The uuids of the objects of kind k with an RRD file (owned array of
 * owned strings, rr_names_free). */
char **rr_store_list(struct rr_store *st, enum rr_kind k, size_t *n);

/* ---- /rrd_updates ---- */

struct rr_xport_src {
	enum rr_kind kind;
	const char *uuid;
};

struct rr_xport_req {
	const struct rr_xport_src *src; /* host first, then VMs, then SRs */
	size_t nsrc;
	int64_t start;    /* negative: relative to the last update */
	int64_t interval; /* seconds; 0: the finest archive */
	const char *cf;   /* "AVERAGE", "MIN", "MAX" or NULL for every archive */
	bool json;
};

/* What xapi's Rrd_updates.t holds: rows newest first. */
struct rr_xport {
	int64_t start, step, end;
	char **legend;
	size_t ncols;
	int64_t *t;  /* nrows times */
	double *v;   /* nrows × ncols */
	size_t nrows;
};

/* Answers the request from the store: -1 with err NO_RRA_AVAILABLE when
 * none of the sources has an archive. */
int rr_xport_make(struct rr_store *st, const struct rr_xport_req *req, struct rr_xport *out, struct xerr *err);
void rr_xport_free(struct rr_xport *x);
/* xapi's text of an xport (Rrd_updates.xml_of / json_of_t). */
void rr_xport_xml(const struct rr_xport *x, struct strbuf *out);
void rr_xport_json(const struct rr_xport *x, struct strbuf *out);
/* A float as xapi writes one: %0.15g, "0.0", "NaN", "Infinity". */
void rr_float_text(struct strbuf *sb, double v);

/* ---- the 5-second sampler ---- */

struct rr_tick;

/* The layer above: which VMs run here and their counters. */
struct rr_ops {
	/* Called once a tick: reports every running VM of this host with
	 * rr_tick_vm (one pass; no process spawned). */
	void (*collect_vms)(void *arg, struct rr_tick *tick);
	/* The host's PIF devices (NULL-terminated, owned by the caller until
	 * the next call), or NULL for every physical interface. */
	const char *const *(*pif_devices)(void *arg);
	/* Whether new RRDs get MIN and MAX archives (the pool's
	 * other_config:create_min_max_in_new_VM_RRDs). */
	bool (*min_max)(void *arg);
	/* After a tick: the samples (of the tick at t), for the metrics records
	 * and the alarms. */
	void (*published)(void *arg, enum rr_kind k, const char *uuid, const struct rr_sample *s, time_t t);
	/* Called once a tick: reports the space of every SR plugged on this
	 * host with rr_tick_sr (NULL: none). */
	void (*collect_srs)(void *arg, struct rr_tick *tick);
};

void rr_tick_vm(struct rr_tick *tick, const char *uuid, const struct rr_vm_counters *c);
/* An SR's size and physical_utilisation (bytes, from its record as its
 * driver last reported them) for its RRD this tick. */
void rr_tick_sr(struct rr_tick *tick, const char *uuid, double size, double physical_utilisation);

struct rr_sampler;

struct rr_sampler *rr_sampler_start(struct rr_store *st, const char *host_uuid, const struct rr_ops *ops,
				    void *arg);
void rr_sampler_stop(struct rr_sampler *s);
/* One tick now at time t (tests and benchmarks; the thread calls it). */
void rr_sampler_tick(struct rr_sampler *s, time_t t);

#endif
