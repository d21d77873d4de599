/* rr_store: the round-robin databases as librrd files, one per object
 * (<dir>/<kind>-<uuid>.rrd), with xapi's four timescales. librrd limits a
 * data source's name to 19 characters and xapi's are longer
 * (memory_internal_free, vbd_xvda_io_throughput_read), so the file's
 * sources are named x<id> and <kind>-<uuid>.ds maps each id to its xapi
 * name. Updates wait in memory and go to a file a batch at a time. */
#include "rr_int.h"
#include "../base/file.h"
#include "../base/hmap.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <math.h>
#include <rrd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

/* xapi's timescales (rrdd_shared.ml): rows × 5-s points per row */
static const struct {
	int rows, pdp;
} scales[] = {{120, 1}, {120, 12}, {168, 720}, {366, 17280}};

struct rr_store {
	char *dir;
	int flush_ticks;
	pthread_mutex_t mu;
	struct hmap map; /* "<kind>-<uuid>" → struct rr_entry */
};

static const char *lib_error(void)
{
	const char *e = rrd_get_error();
	return e && *e ? e : "librrd error";
}

static void entry_index(struct rr_entry *e)
{
	hmap_free(&e->idx);
	hmap_init(&e->idx);
	for (size_t i = 0; i < e->nds; i++)
		hmap_put(&e->idx, e->ds[i].name, (void *)(i + 1));
}

static void entry_free(struct rr_entry *e)
{
	for (size_t i = 0; i < e->npend; i++)
		free(e->pend[i]);
	free(e->pend);
	free(e->ds);
	free(e->lastv);
	for (size_t i = 0; i < e->nwant; i++)
		free(e->want[i]);
	free(e->want);
	hmap_free(&e->idx);
	free(e->path);
	free(e->map_path);
	free(e);
}

/* The .ds file: "x<id> <name>" lines. */
static int write_map(struct rr_entry *e, const struct rr_ds_slot *ds, size_t n)
{
	char *tmp = xasprintf("%s.tmp", e->map_path);
	FILE *f = fopen(tmp, "w");
	if (!f) {
		free(tmp);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		fprintf(f, "x%d %s\n", ds[i].id, ds[i].name);
	int rc = fclose(f) == 0 && rename(tmp, e->map_path) == 0 ? 0 : -1;
	free(tmp);
	return rc;
}

/* Reads an existing file's layout: its sources (named through the .ds
 * map), archives and last update. */
static int entry_load(struct rr_entry *e)
{
	rrd_clear_error();
	rrd_info_t *info = rrd_info_r(e->path);
	if (!info)
		return -1;
	/* the map first: id → name */
	struct hmap names;
	hmap_init(&names);
	char **lines = NULL;
	size_t nlines = 0;
	FILE *f = fopen(e->map_path, "r");
	char buf[256];
	while (f && fgets(buf, sizeof buf, f)) {
		buf[strcspn(buf, "\n")] = '\0';
		char *sp = strchr(buf, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		lines = xrealloc(lines, (nlines + 1) * sizeof *lines);
		lines[nlines] = xasprintf("%s%c%s", buf, '\0', sp + 1);
		hmap_put(&names, lines[nlines], lines[nlines] + strlen(buf) + 1);
		nlines++;
	}
	if (f)
		fclose(f);
	e->nds = 0;
	e->nrra = 0;
	for (rrd_info_t *p = info; p; p = p->next) {
		int id, i;
		char rest[64];
		if (!strcmp(p->key, "last_update"))
			e->last = (time_t)p->value.u_cnt;
		else if (sscanf(p->key, "ds[x%d].%63s", &id, rest) == 2 && !strcmp(rest, "index")) {
			size_t at = p->value.u_cnt;
			if (at >= e->cap_ds) {
				e->cap_ds = at + 16;
				e->ds = xrealloc(e->ds, e->cap_ds * sizeof *e->ds);
			}
			char key[16];
			snprintf(key, sizeof key, "x%d", id);
			const char *nm = hmap_get(&names, key);
			e->ds[at].id = id;
			snprintf(e->ds[at].name, RR_NAME_MAX, "%s", nm ? nm : key);
			if (at + 1 > e->nds)
				e->nds = at + 1;
			if (id >= e->next_id)
				e->next_id = id + 1;
		} else if (sscanf(p->key, "rra[%d].%63s", &i, rest) == 2 && i >= 0 && i < RR_MAX_RRA) {
			if (i + 1 > e->nrra)
				e->nrra = i + 1;
			if (!strcmp(rest, "cf"))
				snprintf(e->rra[i].cf, sizeof e->rra[i].cf, "%s", p->value.u_str);
			else if (!strcmp(rest, "rows"))
				e->rra[i].rows = (int)p->value.u_cnt;
			else if (!strcmp(rest, "pdp_per_row"))
				e->rra[i].pdp = (int)p->value.u_cnt;
		}
	}
	rrd_info_free(info);
	hmap_free(&names);
	for (size_t i = 0; i < nlines; i++)
		free(lines[i]);
	free(lines);
	e->lastv = xrealloc(e->lastv, (e->nds ? e->nds : 1) * sizeof *e->lastv);
	for (size_t i = 0; i < e->nds; i++)
		e->lastv[i] = NAN;
	/* the latest values, for query_data_source after a restart */
	time_t lu;
	unsigned long cnt = 0;
	char **dsn = NULL, **lastds = NULL;
	if (rrd_lastupdate_r(e->path, &lu, &cnt, &dsn, &lastds) == 0) {
		for (unsigned long i = 0; i < cnt; i++) {
			if (i < e->nds && strcmp(lastds[i], "U"))
				e->lastv[i] = strtod(lastds[i], NULL);
			free(dsn[i]);
			free(lastds[i]);
		}
		free(dsn);
		free(lastds);
	}
	entry_index(e);
	e->exists = true;
	return 0;
}

/* Whether uuid can name a file in the store: letters, digits and '-' only,
 * so a name from a request (/rrd_updates?vm_uuid=../x) cannot reach a file
 * outside it, which a failed load would delete. */
static bool plain_name(const char *uuid)
{
	size_t n = strlen(uuid);
	return n > 0 && n <= 64 && strspn(uuid, "0123456789abcdefABCDEFghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ-") == n;
}

static struct rr_entry *entry_get(struct rr_store *st, enum rr_kind k, const char *uuid, bool create)
{
	if (!create && !plain_name(uuid))
		return NULL;
	char key[80];
	snprintf(key, sizeof key, "%s-%s", rr_kind_name(k), uuid);
	struct rr_entry *e = hmap_get(&st->map, key);
	if (e)
		return e;
	char *path = xasprintf("%s/%s.rrd", st->dir, key);
	bool on_disk = access(path, F_OK) == 0;
	if (!on_disk && !create) {
		free(path);
		return NULL;
	}
	e = xcalloc(1, sizeof *e);
	snprintf(e->key, sizeof e->key, "%s", key);
	snprintf(e->uuid, sizeof e->uuid, "%s", uuid);
	e->kind = k;
	e->path = path;
	e->map_path = xasprintf("%s/%s.ds", st->dir, key);
	hmap_init(&e->idx);
	/* batches of different files fall on different ticks */
	e->flush_at = st->flush_ticks > 1 ? 1 + (int)(hmap_hash(key) % (unsigned)st->flush_ticks) : 1;
	if (on_disk && entry_load(e) < 0) {
		log_warn("rrd: cannot read %s (%s): starting it afresh", path, lib_error());
		unlink(path);
		e->exists = false;
		e->nds = 0;
	}
	hmap_put(&st->map, e->key, e);
	return e;
}

struct rr_store *rr_store_open(const char *dir, int flush_ticks, struct xerr *err)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		xerr_internal(err, "cannot create %s: %s", dir, strerror(errno));
		return NULL;
	}
	struct rr_store *st = xcalloc(1, sizeof *st);
	st->dir = xstrdup(dir);
	st->flush_ticks = flush_ticks > 0 ? flush_ticks : 1;
	pthread_mutex_init(&st->mu, NULL);
	hmap_init(&st->map);
	return st;
}

static int flush_entry(struct rr_entry *e)
{
	if (!e->npend)
		return 0;
	rrd_clear_error();
	int rc = rrd_update_r(e->path, NULL, (int)e->npend, (const char **)e->pend);
	if (rc < 0)
		log_warn("rrd: update of %s failed: %s", e->path, lib_error());
	for (size_t i = 0; i < e->npend; i++)
		free(e->pend[i]);
	e->npend = 0;
	return rc < 0 ? -1 : 0;
}

void rr_store_close(struct rr_store *st)
{
	if (!st)
		return;
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&st->map, &it, &k, &v);) {
		flush_entry(v);
		entry_free(v);
	}
	hmap_free(&st->map);
	pthread_mutex_destroy(&st->mu);
	free(st->dir);
	free(st);
}

/* (Re)creates the file with sources ds[0..n), keeping the data of those
 * the old file had (librrd's --source), from time last_up on. */
static int build(struct rr_entry *e, struct rr_ds_slot *ds, size_t n, time_t last_up, bool min_max,
		 struct xerr *err)
{
	flush_entry(e);
	const char **argv = xcalloc(n + 16, sizeof *argv);
	int argc = 0;
	for (size_t i = 0; i < n; i++)
		argv[argc++] = xasprintf("DS:x%d:GAUGE:300:U:U", ds[i].id);
	if (e->exists && e->nrra) { /* keep the archives the file has */
		for (int i = 0; i < e->nrra; i++)
			argv[argc++] = xasprintf("RRA:%s:%s:%d:%d", e->rra[i].cf,
						 strcmp(e->rra[i].cf, "AVERAGE") ? "0.99" : "0.5", e->rra[i].pdp,
						 e->rra[i].rows);
	} else {
		/* per timescale AVERAGE, then MIN and MAX beyond the finest
		 * (xapi's xff 1.0 for those: librrd takes < 1) */
		for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
			argv[argc++] = xasprintf("RRA:AVERAGE:0.5:%d:%d", scales[s].pdp, scales[s].rows);
			if (min_max && scales[s].pdp > 1) {
				argv[argc++] = xasprintf("RRA:MIN:0.99:%d:%d", scales[s].pdp, scales[s].rows);
				argv[argc++] = xasprintf("RRA:MAX:0.99:%d:%d", scales[s].pdp, scales[s].rows);
			}
		}
	}
	char *tmp = xasprintf("%s.new", e->path);
	const char *sources[] = {e->path, NULL};
	rrd_clear_error();
	unlink(tmp);
	int rc = rrd_create_r2(tmp, RR_STEP, last_up, 0, e->exists ? sources : NULL, NULL, argc, argv);
	/* librrd gives its files 0644 whatever the umask: the daemon's files
	 * are its own */
	if (rc == 0 && chmod(tmp, 0600) < 0)
		rc = -1;
	for (int i = 0; i < argc; i++)
		free((char *)argv[i]);
	free(argv);
	if (rc < 0) {
		xerr_internal(err, "rrd: cannot create %s: %s", tmp, lib_error());
		unlink(tmp);
		free(tmp);
		return -1;
	}
	/* the map first: a superset of what either file names */
	struct rr_ds_slot *all = xmalloc((n + e->nds + 1) * sizeof *all);
	if (n)
		memcpy(all, ds, n * sizeof *ds);
	size_t na = n;
	for (size_t i = 0; i < e->nds; i++) {
		bool dup = false;
		for (size_t j = 0; j < n; j++)
			dup |= ds[j].id == e->ds[i].id;
		if (!dup)
			all[na++] = e->ds[i];
	}
	if (write_map(e, all, na) < 0 || rename(tmp, e->path) < 0) {
		xerr_internal(err, "rrd: cannot install %s: %s", e->path, strerror(errno));
		free(all);
		unlink(tmp);
		free(tmp);
		return -1;
	}
	write_map(e, ds, n);
	free(all);
	free(tmp);
	double *lastv = xmalloc((n ? n : 1) * sizeof *lastv);
	for (size_t i = 0; i < n; i++) {
		void *at = hmap_get(&e->idx, ds[i].name);
		lastv[i] = at ? e->lastv[(size_t)at - 1] : NAN;
	}
	free(e->lastv);
	e->lastv = lastv;
	if (ds != e->ds) {
		free(e->ds);
		e->ds = xmalloc((n ? n : 1) * sizeof *e->ds);
		if (n)
			memcpy(e->ds, ds, n * sizeof *ds);
		e->cap_ds = n ? n : 1;
	}
	e->nds = n;
	if (!e->exists || !e->nrra) {
		e->nrra = 0;
		for (size_t s = 0; s < sizeof scales / sizeof scales[0]; s++) {
			snprintf(e->rra[e->nrra].cf, sizeof e->rra[0].cf, "AVERAGE");
			e->rra[e->nrra].pdp = scales[s].pdp;
			e->rra[e->nrra++].rows = scales[s].rows;
			for (int m = 0; min_max && scales[s].pdp > 1 && m < 2; m++) {
				snprintf(e->rra[e->nrra].cf, sizeof e->rra[0].cf, m ? "MAX" : "MIN");
				e->rra[e->nrra].pdp = scales[s].pdp;
				e->rra[e->nrra++].rows = scales[s].rows;
			}
		}
	}
	e->exists = true;
	e->last = last_up;
	entry_index(e);
	return 0;
}

static bool wanted(const struct rr_entry *e, const char *name)
{
	for (size_t i = 0; i < e->nwant; i++)
		if (!strcmp(e->want[i], name))
			return true;
	struct rr_ds_info info;
	rr_ds_describe(e->kind, name, &info);
	return info.dflt;
}

int rr_store_update(struct rr_store *st, enum rr_kind k, const char *uuid, time_t t, const struct rr_sample *s,
		    bool min_max, struct xerr *err)
{
	pthread_mutex_lock(&st->mu);
	struct rr_entry *e = entry_get(st, k, uuid, true);
	int rc = 0;
	/* sources the file lacks that belong in it */
	struct rr_ds_slot *add = NULL;
	size_t nadd = 0;
	for (size_t i = 0; i < s->n; i++) {
		void *at = hmap_get(&e->idx, s->v[i].name);
		if (at)
			continue;
		if (!wanted(e, s->v[i].name))
			continue;
		add = xrealloc(add, (nadd + 1) * sizeof *add);
		add[nadd].id = e->next_id++;
		snprintf(add[nadd].name, RR_NAME_MAX, "%s", s->v[i].name);
		nadd++;
	}
	if (!e->exists || nadd) {
		struct rr_ds_slot *ds = xmalloc((e->nds + nadd + 1) * sizeof *ds);
		if (e->nds)
			memcpy(ds, e->ds, e->nds * sizeof *ds);
		if (nadd)
			memcpy(ds + e->nds, add, nadd * sizeof *add);
		time_t last_up = e->exists ? e->last : t - RR_STEP;
		rc = build(e, ds, e->nds + nadd, last_up, min_max, err);
		free(ds);
	}
	free(add);
	if (rc == 0 && t > e->last) {
		struct strbuf sb = STRBUF_INIT;
		sb_printf(&sb, "%lld", (long long)t);
		double *row = xmalloc((e->nds ? e->nds : 1) * sizeof *row);
		for (size_t i = 0; i < e->nds; i++)
			row[i] = NAN;
		for (size_t i = 0; i < s->n; i++) {
			void *at = hmap_get(&e->idx, s->v[i].name);
			if (at)
				row[(size_t)at - 1] = s->v[i].v;
		}
		for (size_t i = 0; i < e->nds; i++) {
			if (isnan(row[i]) || isinf(row[i]))
				sb_puts(&sb, ":U");
			else
				sb_printf(&sb, ":%.17g", row[i]);
			e->lastv[i] = row[i];
		}
		free(row);
		if (e->npend == e->cap_pend) {
			e->cap_pend = e->cap_pend ? e->cap_pend * 2 : 8;
			e->pend = xrealloc(e->pend, e->cap_pend * sizeof *e->pend);
		}
		e->pend[e->npend++] = sb_detach(&sb);
		e->last = t;
		if ((int)e->npend >= e->flush_at) {
			flush_entry(e);
			e->flush_at = st->flush_ticks;
		}
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int rr_store_flush(struct rr_store *st, const char *uuid)
{
	pthread_mutex_lock(&st->mu);
	const char *k;
	void *v;
	int rc = 0;
	for (size_t it = 0; hmap_next(&st->map, &it, &k, &v);) {
		struct rr_entry *e = v;
		if (!uuid || !strcmp(e->uuid, uuid))
			rc |= flush_entry(e);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

bool rr_store_has(struct rr_store *st, enum rr_kind k, const char *uuid)
{
	pthread_mutex_lock(&st->mu);
	struct rr_entry *e = entry_get(st, k, uuid, false);
	bool ok = e && e->exists;
	pthread_mutex_unlock(&st->mu);
	return ok;
}

void rr_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

int rr_store_sources(struct rr_store *st, enum rr_kind k, const char *uuid, char ***names, double **last,
		     size_t *n)
{
	pthread_mutex_lock(&st->mu);
	struct rr_entry *e = entry_get(st, k, uuid, false);
	int rc = -1;
	if (e && e->exists) {
		*n = e->nds;
		*names = xcalloc(e->nds + 1, sizeof **names);
		*last = xcalloc(e->nds + 1, sizeof **last);
		for (size_t i = 0; i < e->nds; i++) {
			(*names)[i] = xstrdup(e->ds[i].name);
			(*last)[i] = e->lastv[i];
		}
		rc = 0;
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int rr_store_record(struct rr_store *st, enum rr_kind k, const char *uuid, const char *name, struct xerr *err)
{
	pthread_mutex_lock(&st->mu);
	struct rr_entry *e = entry_get(st, k, uuid, true);
	int rc = 0;
	if (!hmap_get(&e->idx, name) && !wanted(e, name)) {
		e->want = xrealloc(e->want, (e->nwant + 1) * sizeof *e->want);
		e->want[e->nwant++] = xstrdup(name);
	}
	if (e->exists && !hmap_get(&e->idx, name)) {
		struct rr_ds_slot *ds = xmalloc((e->nds + 1) * sizeof *ds);
		if (e->nds)
			memcpy(ds, e->ds, e->nds * sizeof *ds);
		ds[e->nds].id = e->next_id++;
		snprintf(ds[e->nds].name, RR_NAME_MAX, "%s", name);
		rc = build(e, ds, e->nds + 1, e->last, false, err);
		free(ds);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

int rr_store_forget(struct rr_store *st, enum rr_kind k, const char *uuid, const char *name, struct xerr *err)
{
	pthread_mutex_lock(&st->mu);
	struct rr_entry *e = entry_get(st, k, uuid, false);
	int rc = 0;
	void *at = e ? hmap_get(&e->idx, name) : NULL;
	if (at) {
		size_t drop = (size_t)at - 1;
		struct rr_ds_slot *ds = xmalloc((e->nds + 1) * sizeof *ds);
		size_t n = 0;
		for (size_t i = 0; i < e->nds; i++)
			if (i != drop)
				ds[n++] = e->ds[i];
		rc = build(e, ds, n, e->last, false, err);
		free(ds);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* ---- for rr_xport.c and the dump, under the store's lock ---- */

void rr_store_lock(struct rr_store *st)
{
	pthread_mutex_lock(&st->mu);
}

void rr_store_unlock(struct rr_store *st)
{
	pthread_mutex_unlock(&st->mu);
}

struct rr_entry *rr_store_entry(struct rr_store *st, enum rr_kind k, const char *uuid)
{
	struct rr_entry *e = entry_get(st, k, uuid, false);
	if (!e || !e->exists)
		return NULL;
	flush_entry(e);
	return e;
}

/* ---- an RRD moved between hosts ---- */

#define BUNDLE_MAGIC "XRRD1"

static int spill(const char *path, const char *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	bool ok = fwrite(data, 1, len, f) == len;
	ok &= fclose(f) == 0;
	if (!ok || chmod(path, 0600) < 0) {
		unlink(path);
		return -1;
	}
	return 0;
}

int rr_store_export(struct rr_store *st, enum rr_kind k, const char *uuid, struct strbuf *out, time_t *last,
		    struct xerr *err)
{
	pthread_mutex_lock(&st->mu);
	struct rr_entry *e = entry_get(st, k, uuid, false);
	if (!e || !e->exists) {
		pthread_mutex_unlock(&st->mu);
		return xerr_set(err, ERR_UUID_INVALID, rr_kind_name(k), uuid, NULL);
	}
	flush_entry(e);
	size_t nds = 0, nrrd = 0;
	char *ds = file_read(e->map_path, 0, &nds), *rrd = file_read(e->path, 0, &nrrd);
	*last = e->last;
	pthread_mutex_unlock(&st->mu);
	int rc = 0;
	if (!rrd || !nrrd)
		rc = xerr_internal(err, "rrd: cannot read the RRD of %s", uuid);
	else {
		sb_printf(out, "%s %zu %zu\n", BUNDLE_MAGIC, nds, nrrd);
		sb_add(out, ds ? ds : "", nds);
		sb_add(out, rrd, nrrd);
	}
	free(ds);
	free(rrd);
	return rc;
}

bool rr_store_remove(struct rr_store *st, enum rr_kind k, const char *uuid, time_t last)
{
	pthread_mutex_lock(&st->mu);
	struct rr_entry *e = entry_get(st, k, uuid, false);
	bool gone = e && (!last || e->last == last);
	if (gone) {
		hmap_del(&st->map, e->key);
		unlink(e->path);
		unlink(e->map_path);
		entry_free(e);
	}
	pthread_mutex_unlock(&st->mu);
	return gone;
}

/* The rows of old's finest average archive after from (newest first up to
 * 120, the archive's length), to go on in the file that replaces it. */
static size_t later_rows(const struct rr_entry *old, time_t from, int64_t **t, double **v)
{
	int rra = -1;
	for (int i = 0; i < old->nrra && rra < 0; i++)
		if (old->rra[i].pdp == 1 && !strcmp(old->rra[i].cf, "AVERAGE"))
			rra = i;
	*t = NULL;
	*v = NULL;
	if (rra < 0 || !old->nds || old->last <= from)
		return 0;
	int64_t newest = (int64_t)old->last - (int64_t)old->last % RR_STEP;
	size_t n = 0;
	for (int64_t at = newest; at > (int64_t)from && n < 120; at -= RR_STEP)
		n++;
	if (!n)
		return 0;
	*t = xmalloc(n * sizeof **t);
	*v = xmalloc(n * old->nds * sizeof **v);
	for (size_t i = 0; i < n; i++)
		(*t)[i] = newest - (int64_t)i * RR_STEP;
	rr_fetch_rows(old, rra, RR_STEP, *t, n, *v, old->nds, 0);
	return n;
}

int rr_store_import(struct rr_store *st, enum rr_kind k, const char *uuid, const char *data, size_t len,
		    struct xerr *err)
{
	if (!plain_name(uuid))
		return xerr_set(err, ERR_UUID_INVALID, rr_kind_name(k), uuid, NULL);
	const char *nl = memchr(data, '\n', len < 64 ? len : 64);
	size_t nds = 0, nrrd = 0;
	char head[64] = "";
	if (nl)
		memcpy(head, data, (size_t)(nl - data));
	if (!nl || sscanf(head, BUNDLE_MAGIC " %zu %zu", &nds, &nrrd) != 2 ||
	    (size_t)(nl + 1 - data) + nds + nrrd != len || !nrrd)
		return xerr_set(err, ERR_INVALID_VALUE, "rrd", "not an RRD bundle", NULL);
	const char *ds = nl + 1, *rrd = ds + nds;
	char key[80];
	snprintf(key, sizeof key, "%s-%s", rr_kind_name(k), uuid);
	char *tmp_rrd = xasprintf("%s/%s.rrd.in", st->dir, key), *tmp_ds = xasprintf("%s/%s.ds.in", st->dir, key);
	int rc = 0;
	time_t last = 0;
	pthread_mutex_lock(&st->mu);
	if (spill(tmp_rrd, rrd, nrrd) < 0 || spill(tmp_ds, ds, nds) < 0)
		rc = xerr_internal(err, "rrd: cannot write %s: %s", tmp_rrd, strerror(errno));
	if (rc == 0) {
		rrd_clear_error();
		rrd_info_t *info = rrd_info_r(tmp_rrd);
		bool step_ok = false;
		for (rrd_info_t *p = info; p; p = p->next) {
			if (!strcmp(p->key, "last_update"))
				last = (time_t)p->value.u_cnt;
			else if (!strcmp(p->key, "step"))
				step_ok = p->value.u_cnt == RR_STEP;
		}
		rrd_info_free(info);
		if (!info || !step_ok || !last)
			rc = xerr_set(err, ERR_INVALID_VALUE, "rrd", "not an RRD of 5-second steps", NULL);
	}
	/* what this host recorded since the incoming file's last update goes
	 * on in it */
	struct rr_entry *old = rc == 0 ? entry_get(st, k, uuid, false) : NULL;
	int64_t *rt = NULL;
	double *rv = NULL;
	size_t nrows = 0, oldn = 0;
	struct rr_ds_slot *oldds = NULL;
	if (old) {
		flush_entry(old);
		if (old->exists) {
			nrows = later_rows(old, last, &rt, &rv);
			oldn = old->nds;
			oldds = xmalloc((oldn ? oldn : 1) * sizeof *oldds);
			if (oldn)
				memcpy(oldds, old->ds, oldn * sizeof *oldds);
		}
		hmap_del(&st->map, old->key);
		entry_free(old);
	}
	if (rc == 0) {
		char *path = xasprintf("%s/%s.rrd", st->dir, key), *map = xasprintf("%s/%s.ds", st->dir, key);
		if (rename(tmp_ds, map) < 0 || rename(tmp_rrd, path) < 0)
			rc = xerr_internal(err, "rrd: cannot install %s: %s", path, strerror(errno));
		free(path);
		free(map);
	}
	struct rr_entry *e = rc == 0 ? entry_get(st, k, uuid, false) : NULL;
	if (rc == 0 && (!e || !e->exists))
		rc = xerr_set(err, ERR_INVALID_VALUE, "rrd", "the RRD cannot be read", NULL);
	for (size_t r = nrows; rc == 0 && r-- > 0;) {
		if ((time_t)rt[r] <= e->last)
			continue;
		struct strbuf sb = STRBUF_INIT;
		sb_printf(&sb, "%lld", (long long)rt[r]);
		for (size_t i = 0; i < e->nds; i++) {
			double x = NAN;
			for (size_t j = 0; j < oldn; j++)
				if (!strcmp(oldds[j].name, e->ds[i].name))
					x = rv[r * oldn + j];
			if (isnan(x) || isinf(x))
				sb_puts(&sb, ":U");
			else
				sb_printf(&sb, ":%.17g", x);
		}
		if (e->npend == e->cap_pend) {
			e->cap_pend = e->cap_pend ? e->cap_pend * 2 : 8;
			e->pend = xrealloc(e->pend, e->cap_pend * sizeof *e->pend);
		}
		e->pend[e->npend++] = sb_detach(&sb);
		e->last = (time_t)rt[r];
	}
	if (e)
		flush_entry(e);
	pthread_mutex_unlock(&st->mu);
	unlink(tmp_rrd);
	unlink(tmp_ds);
	free(tmp_rrd);
	free(tmp_ds);
	free(rt);
	free(rv);
	free(oldds);
	return rc;
}

char **rr_store_list(struct rr_store *st, enum rr_kind k, size_t *n)
{
	*n = 0;
	char **out = NULL;
	const char *kind = rr_kind_name(k);
	size_t kl = strlen(kind);
	pthread_mutex_lock(&st->mu);
	DIR *d = opendir(st->dir);
	for (struct dirent *de; d && (de = readdir(d));) {
		size_t l = strlen(de->d_name);
		if (l <= kl + 5 || strncmp(de->d_name, kind, kl) || de->d_name[kl] != '-' ||
		    strcmp(de->d_name + l - 4, ".rrd"))
			continue;
		out = xrealloc(out, (*n + 1) * sizeof *out);
		out[(*n)++] = xasprintf("%.*s", (int)(l - kl - 5), de->d_name + kl + 1);
	}
	if (d)
		closedir(d);
	pthread_mutex_unlock(&st->mu);
	return out;
}
