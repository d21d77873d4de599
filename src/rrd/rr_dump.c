/* rr_dump: a whole RRD in xapi's own layout (Rrd.xml_to_output and
 * Rrd.Json): header, data sources under their xapi names, then each
 * archive with its consolidation state and rows oldest first. Read from
 * the librrd file's header (rrd_info) and rows (rrd_fetch). */
#include "rr_int.h"
#include "../base/mem.h"

#include <math.h>
#include <rrd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static rrd_info_t *find(rrd_info_t *info, const char *key)
{
	for (rrd_info_t *p = info; p; p = p->next)
		if (!strcmp(p->key, key))
			return p;
	return NULL;
}

static double val(rrd_info_t *info, const char *fmt, int a, int b)
{
	char key[128];
	snprintf(key, sizeof key, fmt, a, b);
	rrd_info_t *p = find(info, key);
	if (!p)
		return NAN;
	return p->type == RD_I_VAL ? p->value.u_val : p->type == RD_I_CNT ? (double)p->value.u_cnt : NAN;
}

/* One field: <tag>text</tag>, or "tag":"text" in JSON. */
static void field(struct strbuf *sb, bool json, bool *first, const char *tag, const char *text)
{
	if (json) {
		if (!*first)
			sb_putc(sb, ',');
		sb_json_string(sb, tag);
		sb_putc(sb, ':');
		sb_json_string(sb, text);
	} else {
		sb_printf(sb, "<%s>", tag);
		sb_xml_escape(sb, text);
		sb_printf(sb, "</%s>", tag);
	}
	*first = false;
}

static void ffield(struct strbuf *sb, bool json, bool *first, const char *tag, double v)
{
	struct strbuf t = STRBUF_INIT;
	rr_float_text(&t, v);
	field(sb, json, first, tag, t.buf);
	sb_free(&t);
}

static void ifield(struct strbuf *sb, bool json, bool *first, const char *tag, long long v)
{
	char buf[32];
	snprintf(buf, sizeof buf, "%lld", v);
	field(sb, json, first, tag, buf);
}

int rr_store_dump(struct rr_store *st, enum rr_kind k, const char *uuid, bool json, struct strbuf *sb,
		  struct xerr *err)
{
	rr_store_lock(st);
	struct rr_entry *e = rr_store_entry(st, k, uuid);
	rrd_info_t *info = e ? rrd_info_r(e->path) : NULL;
	if (!info) {
		rr_store_unlock(st);
		return xerr_set(err, ERR_HANDLE_INVALID, rr_kind_name(k), uuid, NULL);
	}
	bool first = true;
	sb_puts(sb, json ? "{" : "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rrd>");
	field(sb, json, &first, "version", "0003");
	ifield(sb, json, &first, "step", RR_STEP);
	if (json)
		ffield(sb, json, &first, "lastupdate", (double)e->last);
	else
		ifield(sb, json, &first, "lastupdate", (long long)e->last);
	if (json)
		sb_puts(sb, ",\"ds\":[");
	for (size_t d = 0; d < e->nds; d++) {
		char key[128];
		bool f = true;
		sb_puts(sb, json ? (d ? ",{" : "{") : "<ds>");
		field(sb, json, &f, "name", e->ds[d].name);
		field(sb, json, &f, "type", "GAUGE");
		ffield(sb, json, &f, "minimal_heartbeat", 300);
		snprintf(key, sizeof key, "ds[x%d].min", e->ds[d].id);
		rrd_info_t *p = find(info, key);
		ffield(sb, json, &f, "min", p && p->type == RD_I_VAL && !isnan(p->value.u_val) ? p->value.u_val : -INFINITY);
		snprintf(key, sizeof key, "ds[x%d].max", e->ds[d].id);
		p = find(info, key);
		ffield(sb, json, &f, "max", p && p->type == RD_I_VAL && !isnan(p->value.u_val) ? p->value.u_val : INFINITY);
		snprintf(key, sizeof key, "ds[x%d].last_ds", e->ds[d].id);
		p = find(info, key);
		field(sb, json, &f, "last_ds", p && p->type == RD_I_STR ? p->value.u_str : "U");
		snprintf(key, sizeof key, "ds[x%d].value", e->ds[d].id);
		p = find(info, key);
		ffield(sb, json, &f, "value", p && p->type == RD_I_VAL ? p->value.u_val : NAN);
		snprintf(key, sizeof key, "ds[x%d].unknown_sec", e->ds[d].id);
		p = find(info, key);
		if (json)
			ffield(sb, json, &f, "unknown_sec", p ? (double)p->value.u_cnt : 0);
		else
			ifield(sb, json, &f, "unknown_sec", p ? (long long)p->value.u_cnt : 0);
		sb_puts(sb, json ? "}" : "</ds>");
	}
	sb_puts(sb, json ? "],\"rra\":[" : "");
	for (int r = 0; r < e->nrra; r++) {
		bool f = true;
		sb_puts(sb, json ? (r ? ",{" : "{") : "<rra>");
		field(sb, json, &f, "cf", e->rra[r].cf);
		ifield(sb, json, &f, "pdp_per_row", e->rra[r].pdp);
		if (json) {
			sb_puts(sb, ",\"params\":{");
			bool g = true;
			ffield(sb, json, &g, "xff", val(info, "rra[%d].xff", r, 0));
			sb_puts(sb, "},\"cdp_prep\":{\"ds\":[");
		} else {
			sb_puts(sb, "<params>");
			bool g = true;
			ffield(sb, json, &g, "xff", val(info, "rra[%d].xff", r, 0));
			sb_puts(sb, "</params><cdp_prep>");
		}
		for (size_t d = 0; d < e->nds; d++) {
			bool g = true;
			sb_puts(sb, json ? (d ? ",{" : "{") : "<ds>");
			ffield(sb, json, &g, "primary_value", 0);
			ffield(sb, json, &g, "secondary_value", 0);
			ffield(sb, json, &g, "value", val(info, "rra[%d].cdp_prep[%d].value", r, (int)d));
			ifield(sb, json, &g, "unknown_datapoints",
			       (long long)val(info, "rra[%d].cdp_prep[%d].unknown_datapoints", r, (int)d));
			sb_puts(sb, json ? "}" : "</ds>");
		}
		sb_puts(sb, json ? "]},\"database\":[" : "</cdp_prep><database>");
		int64_t step = (int64_t)RR_STEP * e->rra[r].pdp;
		int rows = e->rra[r].rows;
		int64_t end = (int64_t)e->last - (int64_t)e->last % step;
		int64_t *t = xcalloc((size_t)rows, sizeof *t);
		for (int i = 0; i < rows; i++)
			t[i] = end - step * i; /* newest first, as rr_xport fills */
		double *v = xcalloc((size_t)rows * (e->nds ? e->nds : 1), sizeof *v);
		rr_fetch_rows(e, r, step, t, (size_t)rows, v, e->nds, 0);
		for (int i = rows - 1; i >= 0; i--) {
			sb_puts(sb, json ? (i != rows - 1 ? ",[" : "[") : "<row>");
			for (size_t d = 0; d < e->nds; d++) {
				if (json) {
					sb_puts(sb, d ? ",\"" : "\"");
					rr_float_text(sb, v[(size_t)i * e->nds + d]);
					sb_putc(sb, '"');
				} else {
					sb_puts(sb, "<v>");
					rr_float_text(sb, v[(size_t)i * e->nds + d]);
					sb_puts(sb, "</v>");
				}
			}
			sb_puts(sb, json ? "]" : "</row>");
		}
		free(t);
		free(v);
		sb_puts(sb, json ? "]}" : "</database></rra>");
	}
	sb_puts(sb, json ? "]}" : "</rrd>");
	rrd_info_free(info);
	rr_store_unlock(st);
	return 0;
}
