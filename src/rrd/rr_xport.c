/* rr_xport: /rrd_updates as xapi computes it (Rrd_updates.create_multi):
 * the archive chosen on the first RRD by cf, interval and start, the
 * legend grouped per object and per archive, rows newest first while
 * t ≥ start — and its XML and JSON text, byte for byte. */
#include "rr_int.h"
#include "../base/mem.h"

#include <math.h>
#include <rrd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* %0.15g of v without printf where that is sure to give the same text:
 * |v| in [1e-4, 1e15) (printf's fixed notation), its 15 significant digits
 * taken from v·10^k in long double (64-bit mantissa: an error below 1e-4
 * of the last digit), unless that lies so near a half that printf's
 * exact rounding could differ. False: printf must do it. */
static bool g15_fast(struct strbuf *sb, double v)
{
	static const long double p10[] = {1e0L,  1e1L,	1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
					  1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L};
	double a = fabs(v);
	if (!(a >= 1e-4 && a < 1e15))
		return false;
	int e = (int)floor(log10(a)); /* may be one off near powers of ten */
	int k = 14 - e;
	if (k < 0 || k > 19)
		return false;
	long double x = (long double)a * p10[k];
	if (x < 1e14L) {
		if (++k > 19)
			return false;
		e--;
		x = (long double)a * p10[k];
	} else if (x >= 1e15L) {
		if (--k < 0)
			return false;
		e++;
		x = (long double)a * p10[k];
	}
	long double fl = floorl(x), frac = x - fl;
	if (fabsl(frac - 0.5L) < 1e-3L)
		return false;
	uint64_t m = (uint64_t)fl + (frac > 0.5L);
	if (m >= 1000000000000000ULL) { /* 999…9.6 rounded up */
		m /= 10;
		e++;
	}
	if (e < -4 || e >= 15)
		return false;
	char d[16];
	for (int i = 14; i >= 0; i--, m /= 10)
		d[i] = (char)('0' + m % 10);
	int last = 14; /* trailing zeros go */
	while (last > 0 && d[last] == '0')
		last--;
	char out[40];
	size_t n = 0;
	if (v < 0)
		out[n++] = '-';
	if (e >= 0) {
		for (int i = 0; i <= e; i++)
			out[n++] = d[i];
		if (last > e) {
			out[n++] = '.';
			for (int i = e + 1; i <= last; i++)
				out[n++] = d[i];
		}
	} else {
		out[n++] = '0';
		out[n++] = '.';
		for (int i = 0; i < -e - 1; i++)
			out[n++] = '0';
		for (int i = 0; i <= last; i++)
			out[n++] = d[i];
	}
	sb_add(sb, out, n);
	return true;
}

void rr_float_text(struct strbuf *sb, double v)
{
	switch (fpclassify(v)) {
	case FP_NAN:
		sb_puts(sb, "NaN");
		break;
	case FP_INFINITE:
		sb_puts(sb, v > 0 ? "Infinity" : "-Infinity");
		break;
	case FP_ZERO:
		sb_puts(sb, "0.0");
		break;
	default:
		if (!g15_fast(sb, v))
			sb_printf(sb, "%0.15g", v);
	}
}

static int64_t floor_to(int64_t t, int64_t step)
{
	int64_t r = t % step;
	return r < 0 ? t - r - step : t - r;
}

/* Rrd.find_best_rras: the archives of cf (all when NULL) of the first
 * timescale with pdp_cnt ≥ pdp_interval covering start, else those of the
 * coarsest. 0: none fits; (size_t)-1: the RRD has no archive of cf,
 * which fails the whole request as in xapi. */
static size_t best_rras(const struct rr_entry *e, int64_t pdp_interval, const char *cf, int64_t start, int *out)
{
	int cand[RR_MAX_RRA];
	size_t nc = 0;
	for (int i = 0; i < e->nrra; i++)
		if (!cf || !strcmp(e->rra[i].cf, cf))
			cand[nc++] = i;
	if (!nc)
		return (size_t)-1;
	int64_t last_pdp = floor_to((int64_t)e->last, RR_STEP);
#define COVERS(t, r)                                                                                            \
	(e->rra[r].pdp >= pdp_interval && (t) > last_pdp - (int64_t)RR_STEP * e->rra[r].rows * e->rra[r].pdp)
	int first = -1;
	for (size_t i = 0; i < nc && first < 0; i++)
		if (COVERS(start, cand[i]))
			first = cand[i];
	size_t n = 0;
	if (first >= 0) {
		for (size_t i = 0; i < nc; i++)
			if (e->rra[cand[i]].rows == e->rra[first].rows && e->rra[cand[i]].pdp == e->rra[first].pdp)
				out[n++] = cand[i];
		return n;
	}
	int c = cand[nc - 1];
	int64_t newstart = 1 + last_pdp - (int64_t)RR_STEP * e->rra[c].rows * e->rra[c].pdp;
	for (size_t i = 0; i < nc; i++)
		if (COVERS(newstart, cand[i]))
			out[n++] = cand[i];
#undef COVERS
	return n;
}

/* Column values of rows t[0..nrows) (newest first) of one archive of e,
 * into v (stride ncols) from column col. */
void rr_fetch_rows(const struct rr_entry *e, int rra, int64_t step, const int64_t *t, size_t nrows, double *v,
		   size_t ncols, size_t col)
{
	for (size_t r = 0; r < nrows; r++)
		for (size_t d = 0; d < e->nds; d++)
			v[r * ncols + col + d] = NAN;
	if (!nrows || !e->nds)
		return;
	time_t start = (time_t)(t[nrows - 1] - step), end = (time_t)t[0];
	unsigned long fstep = (unsigned long)step, ds_cnt = 0;
	char **names = NULL;
	rrd_value_t *data = NULL;
	rrd_clear_error();
	if (rrd_fetch_r(e->path, e->rra[rra].cf, &start, &end, &fstep, &ds_cnt, &names, &data) < 0)
		return;
	if ((int64_t)fstep == step) {
		size_t rows = (size_t)((end - start) / (time_t)fstep);
		for (size_t j = 0; j < rows; j++) {
			int64_t tj = (int64_t)start + (int64_t)(j + 1) * step;
			if (tj > t[0] || tj < t[nrows - 1])
				continue;
			size_t r = (size_t)((t[0] - tj) / step);
			/* the file's sources are the entry's, in its order */
			for (size_t d = 0; d < ds_cnt && d < e->nds; d++)
				v[r * ncols + col + d] = data[j * ds_cnt + d];
		}
	}
	for (unsigned long i = 0; i < ds_cnt; i++)
		free(names[i]);
	free(names);
	free(data);
}

int rr_xport_make(struct rr_store *st, const struct rr_xport_req *req, struct rr_xport *x, struct xerr *err)
{
	memset(x, 0, sizeof *x);
	rr_store_lock(st);
	struct rr_entry **ent = xcalloc(req->nsrc + 1, sizeof *ent);
	size_t ne = 0;
	for (size_t i = 0; i < req->nsrc; i++) {
		struct rr_entry *e = rr_store_entry(st, req->src[i].kind, req->src[i].uuid);
		if (e)
			ent[ne++] = e;
	}
	int rc = -1;
	if (!ne) {
		xerr_set(err, ERR_NO_RRA_AVAILABLE, NULL);
		goto out;
	}
	int64_t pdp_interval = req->interval / RR_STEP;
	int64_t start = req->start;
	if (start < 0) {
		int64_t m = INT64_MAX;
		for (size_t i = 0; i < ne; i++)
			if (start + (int64_t)ent[i]->last < m)
				m = start + (int64_t)ent[i]->last;
		start = m;
	}
	int(*rras)[RR_MAX_RRA] = xcalloc(ne, sizeof *rras);
	size_t *nr = xcalloc(ne, sizeof *nr);
	const struct rr_entry *fe = NULL;
	int frra = -1;
	for (size_t i = 0; i < ne; i++) {
		nr[i] = best_rras(ent[i], pdp_interval, req->cf, start, rras[i]);
		if (nr[i] == (size_t)-1) {
			fe = NULL;
			break;
		}
		if (nr[i] && !fe) {
			fe = ent[i];
			frra = rras[i][0];
		}
	}
	if (!fe) {
		xerr_set(err, ERR_NO_RRA_AVAILABLE, NULL);
		free(rras);
		free(nr);
		goto out;
	}
	int fpdp = fe->rra[frra].pdp, frows = fe->rra[frra].rows;
	for (size_t i = 0; i < ne; i++) {
		size_t k = 0;
		for (size_t j = 0; j < nr[i]; j++)
			if (ent[i]->rra[rras[i][j]].pdp == fpdp && ent[i]->rra[rras[i][j]].rows == frows)
				rras[i][k++] = rras[i][j];
		nr[i] = k;
	}
	/* legend: per object, per archive, per source */
	for (size_t i = 0; i < ne; i++)
		x->ncols += nr[i] * ent[i]->nds;
	x->legend = xcalloc(x->ncols + 1, sizeof *x->legend);
	size_t c = 0;
	for (size_t i = 0; i < ne; i++)
		for (size_t j = 0; j < nr[i]; j++)
			for (size_t d = 0; d < ent[i]->nds; d++)
				x->legend[c++] = xasprintf("%s:%s:%s:%s", ent[i]->rra[rras[i][j]].cf,
							   rr_kind_name(ent[i]->kind), ent[i]->uuid,
							   ent[i]->ds[d].name);
	int64_t step = (int64_t)RR_STEP * fpdp;
	/* times from the first RRD's last update, as xapi's */
	int64_t last_cdp = floor_to((int64_t)ent[0]->last, step);
	x->step = step;
	x->end = last_cdp;
	x->start = floor_to(start, step) + step;
	size_t nrows = 0;
	while ((int)nrows < frows && last_cdp - (int64_t)nrows * step >= start)
		nrows++;
	x->nrows = nrows;
	x->t = xcalloc(nrows + 1, sizeof *x->t);
	for (size_t r = 0; r < nrows; r++)
		x->t[r] = last_cdp - (int64_t)r * step;
	x->v = xcalloc(nrows * x->ncols + 1, sizeof *x->v);
	c = 0;
	for (size_t i = 0; i < ne; i++)
		for (size_t j = 0; j < nr[i]; j++) {
			rr_fetch_rows(ent[i], rras[i][j], step, x->t, nrows, x->v, x->ncols, c);
			c += ent[i]->nds;
		}
	free(rras);
	free(nr);
	rc = 0;
out:
	rr_store_unlock(st);
	free(ent);
	return rc;
}

void rr_xport_free(struct rr_xport *x)
{
	for (size_t i = 0; i < x->ncols; i++)
		free(x->legend[i]);
	free(x->legend);
	free(x->t);
	free(x->v);
	memset(x, 0, sizeof *x);
}

/* Xmlm's output: no whitespace, an element without content as <e/>. */
void rr_xport_xml(const struct rr_xport *x, struct strbuf *sb)
{
	sb_puts(sb, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<xport><meta>");
	sb_printf(sb, "<start>%lld</start><step>%lld</step><end>%lld</end><rows>%zu</rows><columns>%zu</columns>",
		  (long long)x->start, (long long)x->step, (long long)x->end, x->nrows, x->ncols);
	if (!x->ncols) {
		sb_puts(sb, "<legend/>");
	} else {
		sb_puts(sb, "<legend>");
		for (size_t i = 0; i < x->ncols; i++) {
			sb_puts(sb, "<entry>");
			sb_xml_escape(sb, x->legend[i]);
			sb_puts(sb, "</entry>");
		}
		sb_puts(sb, "</legend>");
	}
	sb_puts(sb, "</meta>");
	if (!x->nrows) {
		sb_puts(sb, "<data/>");
	} else {
		sb_puts(sb, "<data>");
		for (size_t r = 0; r < x->nrows; r++) {
			sb_printf(sb, "<row><t>%lld</t>", (long long)x->t[r]);
			for (size_t i = 0; i < x->ncols; i++) {
				sb_puts(sb, "<v>");
				rr_float_text(sb, x->v[r * x->ncols + i]);
				sb_puts(sb, "</v>");
			}
			sb_puts(sb, "</row>");
		}
		sb_puts(sb, "</data>");
	}
	sb_puts(sb, "</xport>");
}

void rr_xport_json(const struct rr_xport *x, struct strbuf *sb)
{
	sb_printf(sb, "{\"meta\":{\"start\":%lld,\"step\":%lld,\"end\":%lld,\"rows\":%zu,\"columns\":%zu,\"legend\":[",
		  (long long)x->start, (long long)x->step, (long long)x->end, x->nrows, x->ncols);
	for (size_t i = 0; i < x->ncols; i++) {
		if (i)
			sb_putc(sb, ',');
		sb_json_string(sb, x->legend[i]);
	}
	sb_puts(sb, "]},\"data\":[");
	for (size_t r = 0; r < x->nrows; r++) {
		sb_printf(sb, "%s{\"t\":%lld,\"values\":[", r ? "," : "", (long long)x->t[r]);
		for (size_t i = 0; i < x->ncols; i++) {
			sb_puts(sb, i ? ",\"" : "\"");
			rr_float_text(sb, x->v[r * x->ncols + i]);
			sb_putc(sb, '"');
		}
		sb_puts(sb, "]}");
	}
	sb_puts(sb, "]}");
}
