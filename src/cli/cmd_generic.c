/* cmd_generic: the commands every class gets — <class>-list and
 * -param-list/get/set/add/remove/clear — written once against the record
 * tables; writes go through the implicit accessors (set_<f>, add_to_<f>,
 * remove_from_<f>, add_<f>, remove_<f>) named from the wire field. */
#include "cmd.h"
#include "base/mem.h"

#include <stdlib.h>
#include <string.h>

static const struct xe_class *cls_of(struct xe_ctx *x)
{
	return x->cmd->data;
}

/* Calls Class.<prefix><field>(ref, args...) and consumes args. */
static int accessor(struct xe_ctx *x, const struct xe_class *xc, const char *prefix,
		    const struct sc_field *f, const char *ref, xv *a, int na, struct xerr *err)
{
	char *m = xasprintf("%s.%s%s", sc_classes[xc->cls].name, prefix, f->name);
	xv args = xv_arr_new();
	xv_arr_push_str(&args, ref);
	for (int i = 0; i < na; i++)
		xv_arr_push(&args, a[i]);
	int rc = xc_call(x->c, m, &args, NULL, err);
	xv_free(&args);
	free(m);
	return rc;
}

int xe_gen_list(struct xe_ctx *x, struct xerr *err)
{
	const struct xe_class *xc = cls_of(x);
	xv all = XV_NIL_INIT;
	if (xs_get_all(x->s, xc->cls, &all, err) < 0)
		return -1;
	size_t n = xv_len(&all), kept = n;
	struct xe_obj *objs = xcalloc(n + 1, sizeof *objs), *shown = xcalloc(n + 1, sizeof *objs);
	for (size_t i = 0; i < n; i++)
		objs[i] = shown[i] = (struct xe_obj){xc->cls, all.u.m->keys[i], &all.u.m->vals[i]};
	/* The class's implicit filters first (vm-list hides templates), then
	 * every argument that is not a standard one or params=. */
	struct xe_params f = {0};
	for (size_t i = 0; xc->filters[i]; i += 2)
		xe_params_add(&f, xc->filters[i], xc->filters[i + 1]);
	for (size_t i = 0; i < x->params->n; i++) {
		const char *k = x->params->items[i].k;
		if (xe_is_stdparam(k) || strcmp(k, "params") == 0 || strncmp(k, "database:", 9) == 0)
			continue;
		xe_params_add(&f, k, x->params->items[i].v);
	}
	bool print_all = false;
	int rc = xe_param_bool(x->params, "all", false, &print_all, err);
	if (rc == 0)
		rc = xe_filter(&x->s->r, xc, shown, &kept, &f, err);
	xe_params_free(&f);
	if (rc == 0) {
		/* --all shows every object, filters or not, as xapi does. */
		struct xe_obj *list = print_all ? objs : shown;
		size_t nl = print_all ? n : kept;
		xv rows = xv_arr_new();
		for (size_t i = 0; i < nl; i++)
			xv_arr_push(&rows, xe_record_fields(&x->s->r, xc, &list[i],
							    xe_param(x->params, "params"),
							    xc->list_params, true));
		xe_print_table(x->out, &rows);
		xv_free(&rows);
	}
	free(objs);
	free(shown);
	xv_free(&all);
	return rc;
}

/* The object named by uuid=, fetched. */
struct target {
	char *ref;
	xv rec;
	struct xe_obj o;
};

static int target_get(struct xe_ctx *x, const struct xe_class *xc, struct target *t,
		      struct xerr *err)
{
	t->rec = (xv)XV_NIL_INIT;
	if (xe_fetch_by_uuid(x, xc, xe_req(x, "uuid"), &t->ref, &t->rec, err) < 0)
		return -1;
	t->o = (struct xe_obj){xc->cls, t->ref, &t->rec};
	return 0;
}

static void target_free(struct target *t)
{
	free(t->ref);
	xv_free(&t->rec);
}

int xe_gen_param_list(struct xe_ctx *x, struct xerr *err)
{
	const struct xe_class *xc = cls_of(x);
	struct target t;
	if (target_get(x, xc, &t, err) < 0)
		return -1;
	xv rows = xv_arr_new();
	xv_arr_push(&rows, xe_record_fields(&x->s->r, xc, &t.o, "all", NULL, false));
	xe_print_table(x->out, &rows);
	xv_free(&rows);
	target_free(&t);
	return 0;
}

static const struct xe_param *named(const struct xe_class *xc, const char *name, struct xerr *err)
{
	const struct xe_param *p = xe_param_find(xc, name);
	if (!p)
		xerr_set(err, "Missing parameter", name, NULL); /* xapi's own wording */
	return p;
}

int xe_gen_param_get(struct xe_ctx *x, struct xerr *err)
{
	const struct xe_class *xc = cls_of(x);
	struct target t;
	if (target_get(x, xc, &t, err) < 0)
		return -1;
	const struct xe_param *p = named(xc, xe_req(x, "param-name"), err);
	if (!p) {
		target_free(&t);
		return -1;
	}
	xv v = xe_param_value(&x->s->r, xc, p, &t.o);
	const char *key = xe_param(x->params, "param-key");
	int rc = 0;
	if (key && v.kind == XV_MAP) {
		const char *got = xv_map_get_str(&v, key);
		if (got)
			xe_print_list(x->out, &got, 1);
		else
			rc = xe_fail(err, "Key %s not found in map", key);
	} else {
		char *s = xe_value_text(p, &v);
		const char *cs = s;
		xe_print_list(x->out, &cs, 1);
		free(s);
	}
	xv_free(&v);
	target_free(&t);
	return rc;
}

/* xapi's three forms of a parameter name in param-set and filters:
 * "name" (plain), "name:key" (map key or set), "name-key" (older maps). */
static const struct xe_param *split_param(const struct xe_class *xc, const char *k, const char **key,
					  struct xerr *err)
{
	const struct xe_param *p = xe_param_find(xc, k);
	*key = NULL;
	if (p)
		return p;
	const char *colon = strchr(k, ':');
	if (colon) {
		char *name = xstrndup(k, (size_t)(colon - k));
		p = xe_param_find(xc, name);
		if (p && !xe_param_is_map(p) && !xe_param_is_set(p))
			xe_fail(err, "Field '%s' is not a set or map", name), p = NULL;
		else if (!p)
			xe_fail(err, "Unknown field '%s'", k);
		free(name);
		*key = colon + 1;
		return p;
	}
	const struct xe_param *best = NULL;
	for (int i = 0; i < xc->nparams; i++) {
		const struct xe_param *q = &xc->params[i];
		size_t n = strlen(q->name);
		if ((xe_param_is_map(q) || xe_param_is_set(q)) && !strncmp(k, q->name, n) && k[n] == '-' &&
		    (!best || n > strlen(best->name) || (xe_param_is_map(q) && !xe_param_is_map(best))))
			best = q;
	}
	if (!best) {
		xe_fail(err, "Unknown field '%s'", k);
		return NULL;
	}
	*key = k + strlen(best->name) + 1;
	return best;
}

static int set_one(struct xe_ctx *x, const struct xe_class *xc, struct target *t, const char *k,
		   const char *v, struct xerr *err)
{
	const char *key;
	const struct xe_param *p = split_param(xc, k, &key, err);
	if (!p)
		return -1;
	const struct sc_field *f = xe_param_wire_field(xc, p);
	if (key && xe_param_is_set(p))
		return xe_fail(err, "Cannot param-set on set fields");
	if (key) {
		if (p->access != XE_MRW || !f)
			return xe_fail(err, "Map field '%s' is read-only.", p->name);
		const xv *cur = xv_map_get(t->o.rec, f->name);
		if (cur && xv_map_get(cur, key)) {
			xv a[] = {xv_str(key)};
			if (accessor(x, xc, "remove_from_", f, t->ref, a, 1, err) < 0)
				return -1;
		}
		xv a[] = {xv_str(key), xv_str(v)};
		return accessor(x, xc, "add_to_", f, t->ref, a, 2, err);
	}
	if (xe_param_is_set(p) && p->access == XE_SRW && f) {
		/* a writable set takes a comma-separated list, as xapi's xe
		 * (vif-param-set ipv4-allowed=a,b) */
		xv list = xv_arr_new();
		char *copy = xstrdup(v), *save = NULL;
		for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			while (*tok == ' ')
				tok++;
			if (*tok)
				xv_arr_push_str(&list, tok);
		}
		free(copy);
		return accessor(x, xc, "set_", f, t->ref, &list, 1, err);
	}
	if (xe_param_is_map(p) || xe_param_is_set(p)) {
		if (p->access == XE_MRW || p->access == XE_SRW)
			return xe_fail(err, "Field '%s' is a map or set. use the 'name:key=value' syntax.",
				       k);
		return xe_fail(err, "Field '%s' is read-only.", k);
	}
	if (p->access != XE_RW || !f)
		return xe_fail(err, "Field '%s' is read-only.", k);
	xv val;
	if (xe_value_for(x, f->type, k, v, &val, err) < 0)
		return -1;
	return accessor(x, xc, "set_", f, t->ref, &val, 1, err);
}

int xe_gen_param_set(struct xe_ctx *x, struct xerr *err)
{
	const struct xe_class *xc = cls_of(x);
	struct target t;
	if (target_get(x, xc, &t, err) < 0)
		return -1;
	int rc = 0;
	for (size_t i = 0; i < x->params->n && rc == 0; i++) {
		const char *k = x->params->items[i].k;
		if (strcmp(k, "uuid") == 0 || xe_is_stdparam(k))
			continue;
		rc = set_one(x, xc, &t, k, x->params->items[i].v, err);
	}
	target_free(&t);
	return rc;
}

/* The wire field of a writable set/map param named by param-name. */
static const struct xe_param *collection(struct xe_ctx *x, const struct xe_class *xc,
					 const struct sc_field **f, struct xerr *err)
{
	const struct xe_param *p = named(xc, xe_req(x, "param-name"), err);
	if (p)
		*f = xe_param_wire_field(xc, p);
	return p;
}

int xe_gen_param_add(struct xe_ctx *x, struct xerr *err)
{
	const struct xe_class *xc = cls_of(x);
	const struct sc_field *f = NULL;
	struct target t;
	if (target_get(x, xc, &t, err) < 0)
		return -1;
	const struct xe_param *p = collection(x, xc, &f, err);
	if (!p) {
		target_free(&t);
		return -1;
	}
	int rc = 0;
	const char *key = xe_param(x->params, "param-key");
	if (p->access == XE_SRW && f) {
		xv item;
		if (!key)
			rc = xe_fail(err, "When adding a key to a set, use the syntax: *-param-add "
					  "param-name=<name> param-key=<key>");
		else if ((rc = xe_value_for(x, f->type->elem, p->name, key, &item, err)) == 0)
			rc = accessor(x, xc, "add_", f, t.ref, &item, 1, err);
	} else if (p->access == XE_MRW && f) {
		for (size_t i = 0; i < x->params->n && rc == 0; i++) {
			const char *k = x->params->items[i].k;
			if (!strcmp(k, "uuid") || !strcmp(k, "param-name") || !strcmp(k, "param-key") ||
			    xe_is_stdparam(k))
				continue;
			xv a[] = {xv_str(k), xv_str(x->params->items[i].v)};
			rc = accessor(x, xc, "add_to_", f, t.ref, a, 2, err);
		}
	} else if (xe_param_is_set(p) || xe_param_is_map(p)) {
		rc = xe_fail(err, "Parameter is read-only");
	} else {
		rc = xe_fail(err, "Can only add to parameters of type Set or Map");
	}
	target_free(&t);
	return rc;
}

int xe_gen_param_remove(struct xe_ctx *x, struct xerr *err)
{
	const struct xe_class *xc = cls_of(x);
	const struct sc_field *f = NULL;
	struct target t;
	if (target_get(x, xc, &t, err) < 0)
		return -1;
	const struct xe_param *p = collection(x, xc, &f, err);
	if (!p) {
		target_free(&t);
		return -1;
	}
	const char *key = xe_req(x, "param-key");
	int rc;
	xv cur = xe_param_value(&x->s->r, xc, p, &t.o);
	if (p->access == XE_SRW && f) {
		bool has = false;
		for (size_t i = 0; cur.kind == XV_ARR && i < cur.u.a->n; i++)
			has = has || strcmp(xv_as_str(&cur.u.a->items[i]), key) == 0;
		xv item;
		if (!has)
			rc = xe_fail(err, "Key %s is not in the set", key);
		else if ((rc = xe_value_for(x, f->type->elem, p->name, key, &item, err)) == 0)
			rc = accessor(x, xc, "remove_", f, t.ref, &item, 1, err);
	} else if (p->access == XE_MRW && f) {
		if (cur.kind != XV_MAP || !xv_map_get(&cur, key)) {
			rc = xe_fail(err, "Key %s is not in map", key);
		} else {
			xv a[] = {xv_str(key)};
			rc = accessor(x, xc, "remove_from_", f, t.ref, a, 1, err);
		}
	} else if (xe_param_is_set(p) || xe_param_is_map(p)) {
		rc = xe_fail(err, "Cannot remove parameters from read-only map");
	} else {
		rc = xe_fail(err, "Can only remove from parameters of type Set or Map");
	}
	xv_free(&cur);
	target_free(&t);
	return rc;
}

int xe_gen_param_clear(struct xe_ctx *x, struct xerr *err)
{
	const struct xe_class *xc = cls_of(x);
	const struct sc_field *f = NULL;
	struct target t;
	if (target_get(x, xc, &t, err) < 0)
		return -1;
	const struct xe_param *p = collection(x, xc, &f, err);
	if (!p) {
		target_free(&t);
		return -1;
	}
	int rc = 0;
	const xv *raw = f ? xv_map_get(t.o.rec, f->name) : NULL;
	if (p->access == XE_SRW && f) {
		for (size_t i = 0; raw && raw->kind == XV_ARR && i < raw->u.a->n && rc == 0; i++) {
			xv item = xv_copy(&raw->u.a->items[i]);
			rc = accessor(x, xc, "remove_", f, t.ref, &item, 1, err);
		}
	} else if (p->access == XE_MRW && f) {
		for (size_t i = 0; raw && raw->kind == XV_MAP && i < raw->u.m->n && rc == 0; i++) {
			xv a[] = {xv_str(raw->u.m->keys[i])};
			rc = accessor(x, xc, "remove_from_", f, t.ref, a, 1, err);
		}
	} else if (p->access == XE_RW && f) {
		xv val;
		if (xe_value_for(x, f->type, p->name, "", &val, err) < 0 ||
		    accessor(x, xc, "set_", f, t.ref, &val, 1, err) < 0)
			rc = xe_fail(err, "Cannot clear this parameter");
	} else {
		rc = xe_fail(err, "Can only clear RW parameters");
	}
	target_free(&t);
	return rc;
}
