/* session: the record cache and resolver behind xe's printing. A class
 * whose refs keep missing the cache is fetched whole with get_all_records,
 * so a -list of a thousand VBDs costs a few calls, not thousands. */
#include "session.h"
#include "base/mem.h"
#include "base/uuid.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Single fetches of one class before the whole class is loaded instead. */
#define XS_MISSES_BEFORE_LOAD 3

struct xs_entry {
	char *ref;
	int cls;
	bool gone; /* null or dangling: remembered so it is asked once */
	xv rec;
};

static void entry_free(struct xs_entry *e)
{
	free(e->ref);
	xv_free(&e->rec);
	free(e);
}

static struct xs_entry *cache_put(struct xe_session *s, int cls, const char *ref, xv rec, bool gone)
{
	struct xs_entry *e = hmap_get(&s->cache, ref);
	if (!e) {
		e = xcalloc(1, sizeof *e);
		e->ref = xstrdup(ref);
		hmap_put(&s->cache, e->ref, e);
	} else {
		xv_free(&e->rec);
	}
	e->cls = cls;
	e->rec = rec;
	e->gone = gone;
	return e;
}

static char *method_name(int cls, const char *msg)
{
	return xasprintf("%s.%s", sc_classes[cls].name, msg);
}

int xs_get_all(struct xe_session *s, int cls, xv *out, struct xerr *err)
{
	char *m = method_name(cls, "get_all_records");
	xv all = XV_NIL_INIT;
	int rc = xc_call(s->c, m, NULL, &all, err);
	free(m);
	if (rc < 0)
		return -1;
	if (all.kind != XV_MAP) {
		xv_free(&all);
		return xerr_set(err, ERR_PARSE_FAILURE, "get_all_records did not return a map", NULL);
	}
	for (size_t i = 0; i < all.u.m->n; i++) {
		xe_record_coerce(cls, &all.u.m->vals[i]);
		cache_put(s, cls, all.u.m->keys[i], xv_copy(&all.u.m->vals[i]), false);
	}
	s->loaded[cls] = true;
	*out = all;
	return 0;
}

int xs_get_record(struct xe_session *s, int cls, const char *ref, xv *out, struct xerr *err)
{
	char *m = method_name(cls, "get_record");
	int rc = xc_call_strs(s->c, m, out, err, ref, NULL);
	free(m);
	if (rc == 0)
		xe_record_coerce(cls, out);
	return rc;
}

int xs_by_uuid(struct xe_session *s, int cls, const char *uuid, char **ref, struct xerr *err)
{
	char *m = method_name(cls, "get_by_uuid");
	xv r = XV_NIL_INIT;
	int rc = xc_call_strs(s->c, m, &r, err, uuid, NULL);
	free(m);
	if (rc < 0)
		return -1;
	if (r.kind != XV_STR) {
		xv_free(&r);
		return xerr_set(err, ERR_PARSE_FAILURE, "get_by_uuid did not return a ref", NULL);
	}
	*ref = r.u.s;
	return 0;
}

static const xv *resolve(struct xe_resolver *r, int cls, const char *ref)
{
	struct xe_session *s = (struct xe_session *)r;
	if (!ref || !*ref || ref_is_null(ref) || cls < 0)
		return NULL;
	struct xs_entry *e = hmap_get(&s->cache, ref);
	if (e)
		return e->gone ? NULL : &e->rec;
	if (s->loaded[cls])
		return NULL; /* the whole class is here: the ref dangles */
	struct xerr err = XERR_INIT;
	if (++s->misses[cls] > XS_MISSES_BEFORE_LOAD) {
		xv all = XV_NIL_INIT;
		if (xs_get_all(s, cls, &all, &err) == 0) {
			xv_free(&all);
			e = hmap_get(&s->cache, ref);
			return e && !e->gone ? &e->rec : NULL;
		}
		xerr_clear(&err);
	}
	xv rec = XV_NIL_INIT;
	bool gone = xs_get_record(s, cls, ref, &rec, &err) < 0;
	xerr_clear(&err);
	e = cache_put(s, cls, ref, rec, gone);
	return gone ? NULL : &e->rec;
}

/* ---- specials that need a call ---- */

static int call_set(struct xe_session *s, const char *method, const char *ref, bool refs, int cls,
		    xv *out)
{
	xv v = XV_NIL_INIT;
	struct xerr err = XERR_INIT;
	int rc = xc_call_strs(s->c, method, &v, &err, ref, NULL);
	xerr_clear(&err);
	*out = xv_arr_new();
	if (rc < 0)
		return 0; /* xe prints these as empty when the call fails */
	for (size_t i = 0; v.kind == XV_ARR && i < v.u.a->n; i++) {
		const char *item = xv_as_str(&v.u.a->items[i]);
		if (refs) {
			const xv *rec = resolve(&s->r, cls, item);
			item = rec ? xv_map_get_str(rec, "uuid") : NULL;
		}
		xv_arr_push_str(out, item ? item : "<not in database>");
	}
	xv_free(&v);
	return 0;
}

static int special(struct xe_resolver *r, const struct xe_class *xc, const struct xe_param *p,
		   const struct xe_obj *o, xv *out)
{
	struct xe_session *s = (struct xe_session *)r;
	const char *k = p->special;
	(void)xc;
	if (strcmp(k, "vm:allowed-VBD-devices") == 0)
		return call_set(s, "VM.get_allowed_VBD_devices", o->ref, false, -1, out);
	if (strcmp(k, "vm:allowed-VIF-devices") == 0)
		return call_set(s, "VM.get_allowed_VIF_devices", o->ref, false, -1, out);
	if (strcmp(k, "vm:possible-hosts") == 0)
		return call_set(s, "VM.get_possible_hosts", o->ref, true, SC_C_host, out);
	if (strcmp(k, "pool:supported-sr-types") == 0) {
		xv v = XV_NIL_INIT;
		struct xerr err = XERR_INIT;
		int rc = xc_call(s->c, "SR.get_supported_types", NULL, &v, &err);
		xerr_clear(&err);
		*out = rc == 0 && v.kind == XV_ARR ? v : xv_arr_new();
		if (rc != 0 || v.kind != XV_ARR)
			xv_free(&v);
		return 0;
	}
	if (strcmp(k, "vm:cooperative") == 0) {
		*out = xv_str("true");
		return 0;
	}
	if (strcmp(k, "vm:memory-target") == 0) {
		/* Only a running VM has a balloon target; xe prints 0 otherwise. */
		const char *ps = xv_map_get_str(o->rec, "power_state");
		if (ps && strcasecmp(ps, "Halted") == 0) {
			*out = xv_str("0");
			return 0;
		}
		const xv *t = xv_map_get(o->rec, "memory_target");
		if (t && t->kind == XV_INT) {
			*out = xv_str_own(xasprintf("%" PRId64, t->u.i));
			return 0;
		}
		return -1;
	}
	if (strcmp(k, "host:memory-free-computed") == 0) {
		xv v = XV_NIL_INIT;
		struct xerr err = XERR_INIT;
		int rc = xc_call_strs(s->c, "host.compute_free_memory", &v, &err, o->ref, NULL);
		xerr_clear(&err);
		if (rc == 0 && v.kind == XV_STR) {
			*out = v;
			return 0;
		}
		if (rc == 0 && v.kind == XV_INT) {
			*out = xv_str_own(xasprintf("%" PRId64, v.u.i));
			return 0;
		}
		xv_free(&v);
		return -1;
	}
	if (strcmp(k, "pool:https-only") == 0) {
		/* true only when every host is https-only. */
		xv hosts = XV_NIL_INIT;
		struct xerr err = XERR_INIT;
		if (xs_get_all(s, SC_C_host, &hosts, &err) < 0) {
			xerr_clear(&err);
			return -1;
		}
		bool all = true;
		for (size_t i = 0; i < xv_len(&hosts); i++) {
			const xv *b = xv_map_get(&hosts.u.m->vals[i], "https_only");
			all = all && b && b->kind == XV_BOOL && b->u.b;
		}
		xv_free(&hosts);
		*out = xv_str(all ? "true" : "false");
		return 0;
	}
	return -1;
}

void xs_init(struct xe_session *s, struct xc *c)
{
	memset(s, 0, sizeof *s);
	s->r.record = resolve;
	s->r.special = special;
	s->c = c;
	hmap_init(&s->cache);
	s->misses = xcalloc((size_t)sc_nclasses, sizeof(int));
	s->loaded = xcalloc((size_t)sc_nclasses, sizeof(bool));
}

void xs_invalidate(struct xe_session *s)
{
	const char *k;
	void *v;
	for (size_t it = 0; hmap_next(&s->cache, &it, &k, &v);)
		entry_free(v);
	hmap_free(&s->cache);
	hmap_init(&s->cache);
	memset(s->misses, 0, sizeof(int) * (size_t)sc_nclasses);
	memset(s->loaded, 0, sizeof(bool) * (size_t)sc_nclasses);
}

void xs_free(struct xe_session *s)
{
	xs_invalidate(s);
	hmap_free(&s->cache);
	free(s->misses);
	free(s->loaded);
}

char *xs_describe_ref(struct xe_session *s, const char *ref)
{
	static const int classes[] = {SC_C_VM,  SC_C_host, SC_C_SR,   SC_C_VDI,  SC_C_network,
				      SC_C_VBD, SC_C_VIF,  SC_C_PIF,  SC_C_PBD,  SC_C_pool,
				      SC_C_task};
	if (!ref || strncmp(ref, "OpaqueRef:", 10) != 0 || ref_is_null(ref))
		return NULL;
	for (size_t i = 0; i < sizeof classes / sizeof classes[0]; i++) {
		xv rec = XV_NIL_INIT;
		struct xerr err = XERR_INIT;
		if (xs_get_record(s, classes[i], ref, &rec, &err) == 0) {
			const char *uuid = xv_map_get_str(&rec, "uuid");
			const char *name = xv_map_get_str(&rec, "name_label");
			char *out = name ? xasprintf("%s (%s)", uuid ? uuid : ref, name)
					 : xstrdup(uuid ? uuid : ref);
			xv_free(&rec);
			return out;
		}
		xerr_clear(&err);
	}
	return NULL;
}

int xs_call(struct xe_session *s, const char *method, xv *result, struct xerr *err, ...)
{
	xv args = xv_arr_new();
	va_list ap;
	va_start(ap, err);
	const char *a;
	while ((a = va_arg(ap, const char *)) != NULL)
		xv_arr_push_str(&args, a);
	va_end(ap);
	int rc = xc_call(s->c, method, &args, result, err);
	xv_free(&args);
	return rc;
}
