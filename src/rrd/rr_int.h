/* rr_int: what the files of the rrd layer share — an object's RRD as the
 * store keeps it in memory. */
#ifndef XENON_RR_INT_H
#define XENON_RR_INT_H

#include "rr.h"
#include "../base/hmap.h"

#include <pthread.h>

#define RR_MAX_RRA 16

struct rr_ds_slot {
	int id; /* the file names it x<id> */
	char name[RR_NAME_MAX];
};

struct rr_entry {
	char key[80]; /* "<kind>-<uuid>" */
	char uuid[40];
	enum rr_kind kind;
	char *path, *map_path;
	bool exists;
	struct rr_ds_slot *ds; /* in the file's order */
	size_t nds, cap_ds;
	int next_id;
	struct hmap idx; /* xapi name → index + 1 */
	double *lastv;   /* latest values, by index */
	int nrra;
	struct {
		char cf[8];
		int pdp, rows;
	} rra[RR_MAX_RRA];
	time_t last; /* last update, pending ones included */
	char **pend; /* "t:v:…" waiting for the file */
	size_t npend, cap_pend;
	int flush_at;
	char **want; /* recorded sources not yet in the file */
	size_t nwant;
};

void rr_store_lock(struct rr_store *st);
void rr_store_unlock(struct rr_store *st);
/* Under the lock: the object's RRD with its pending updates written, or
 * NULL when it has none. */
struct rr_entry *rr_store_entry(struct rr_store *st, enum rr_kind k, const char *uuid);

/* Values of rows at times t[0..nrows) (newest first, step apart) of archive
 * rra of e, into v (row stride ncols) from column col; NaN where the file
 * has none. */
void rr_fetch_rows(const struct rr_entry *e, int rra, int64_t step, const int64_t *t, size_t nrows, double *v,
		   size_t ncols, size_t col);

#endif
