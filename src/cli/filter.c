/* filter: xe's object filtering and field selection (see filter.h). The
 * comparison is on printed values, as xapi compares the strings its
 * records print, so `power-state=running` and `vm-uuid=<uuid>` just work. */
#include "filter.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

bool xe_is_stdparam(const char *k)
{
	static const char *const std[] = {"server", "password", "port", "username", "minimal",
					  "force", "multiple", "all", "message-priority", "trace"};
	for (size_t i = 0; i < sizeof std / sizeof std[0]; i++)
		if (strcmp(k, std[i]) == 0)
			return true;
	return false;
}

/* The longest set/map param p such that k starts with "p-" (xapi's older
 * name-key syntax), or NULL. */
static const struct xe_param *dash_param(const struct xe_class *xc, const char *k, bool maps)
{
	const struct xe_param *best = NULL;
	for (int i = 0; i < xc->nparams; i++) {
		const struct xe_param *p = &xc->params[i];
		if (maps ? !xe_param_is_map(p) : !xe_param_is_set(p))
			continue;
		size_t n = strlen(p->name);
		if (strncmp(k, p->name, n) == 0 && k[n] == '-' && (!best || n > strlen(best->name)))
			best = p;
	}
	return best;
}

static int match_map(struct xe_resolver *r, const struct xe_class *xc, const struct xe_param *p,
		     const struct xe_obj *o, const char *key, const char *v)
{
	xv m = xe_param_value(r, xc, p, o);
	const char *got = m.kind == XV_MAP ? xv_map_get_str(&m, key) : NULL;
	bool hit = got && strcmp(got, v) == 0;
	xv_free(&m);
	return hit;
}

static int match_set(struct xe_resolver *r, const struct xe_class *xc, const struct xe_param *p,
		     const struct xe_obj *o, const char *v)
{
	xv s = xe_param_value(r, xc, p, o);
	bool hit = false;
	for (size_t i = 0; s.kind == XV_ARR && i < s.u.a->n && !hit; i++)
		hit = strcmp(xv_as_str(&s.u.a->items[i]), v) == 0;
	xv_free(&s);
	return hit;
}

int xe_match(struct xe_resolver *r, const struct xe_class *xc, const struct xe_obj *o,
	     const char *k, const char *v, bool *match, struct xerr *err)
{
	const struct xe_param *p = xe_param_find(xc, k);
	if (p) {
		char *t = xe_param_text(r, xc, p, o);
		*match = strcmp(t, v) == 0;
		free(t);
		return 0;
	}
	const char *colon = strchr(k, ':');
	const char *sub;
	if (colon) {
		char *name = xstrndup(k, (size_t)(colon - k));
		p = xe_param_find(xc, name);
		if (!p) {
			free(name);
			return xe_fail(err, "Unknown field '%s'", k);
		}
		if (!xe_param_is_set(p) && !xe_param_is_map(p)) {
			xe_fail(err, "Field '%s' is not a set or map", name);
			free(name);
			return -1;
		}
		free(name);
		sub = colon + 1;
	} else if ((p = dash_param(xc, k, true)) || (p = dash_param(xc, k, false))) {
		sub = k + strlen(p->name) + 1;
	} else {
		return xe_fail(err, "Unknown field '%s'", k);
	}
	if (xe_param_is_map(p)) {
		*match = match_map(r, xc, p, o, sub, v);
		return 0;
	}
	if (strcmp(sub, "contains") != 0)
		return xe_fail(err, "Invalid syntax for set filtering (should be set-param:contains=key)");
	*match = match_set(r, xc, p, o, v);
	return 0;
}

int xe_filter(struct xe_resolver *r, const struct xe_class *xc, struct xe_obj *objs, size_t *n,
	      const struct xe_params *filters, struct xerr *err)
{
	for (size_t f = 0; f < filters->n; f++) {
		size_t kept = 0;
		for (size_t i = 0; i < *n; i++) {
			bool m;
			if (xe_match(r, xc, &objs[i], filters->items[f].k, filters->items[f].v, &m, err) < 0)
				return -1;
			if (m)
				objs[kept++] = objs[i];
		}
		*n = kept;
	}
	return 0;
}

bool xe_pseudo_match(const char *xe_class, const xv *rec, const char *want)
{
	const char *u = xv_map_get_str(rec, "uuid"), *nl = xv_map_get_str(rec, "name_label");
	const char *hn = strcmp(xe_class, "host") == 0 ? xv_map_get_str(rec, "hostname") : NULL;
	return (u && !strcmp(u, want)) || (nl && !strcmp(nl, want)) || (hn && !strcmp(hn, want));
}

static bool listed(const char *name, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

xv xe_record_fields(struct xe_resolver *r, const struct xe_class *xc, const struct xe_obj *o,
		    const char *sel, const char *const *dflt, bool in_list)
{
	/* The selection: params=a,b / params=all / the defaults; an empty
	 * selection means every param. Names that match nothing are ignored. */
	char **names = NULL;
	size_t nn = 0;
	bool all = false;
	if (sel && strcmp(sel, "all") == 0) {
		all = true;
	} else if (sel) {
		char *copy = xstrdup(sel), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			names = xrealloc(names, sizeof(char *) * (nn + 1));
			names[nn++] = xstrdup(t);
		}
		free(copy);
	} else {
		for (; dflt && dflt[nn]; nn++) {
			names = xrealloc(names, sizeof(char *) * (nn + 1));
			names[nn] = xstrdup(dflt[nn]);
		}
		all = nn == 0;
	}
	xv rec = xv_map_new();
	for (int i = 0; i < xc->nparams; i++) {
		const struct xe_param *p = &xc->params[i];
		if (!all && !listed(p->name, (const char *const *)names, nn))
			continue;
		char *key = xasprintf("%s%s%s", p->name, xe_access_suffix(p->access),
				      p->flags & XE_F_DEPRECATED ? " [DEPRECATED]" : "");
		char *val = in_list && (p->flags & XE_F_EXPENSIVE) ? xstrdup("<expensive field>")
								   : xe_param_text(r, xc, p, o);
		xv_map_append(&rec, key, xv_str_own(val));
		free(key);
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
	return rec;
}
