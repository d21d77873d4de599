/* records: turning wire records into xe's printed values. Every value is
 * first rendered to strings (scalar, set or map) so printing, filtering and
 * param-get share one path; refs print as the uuid of what they point to. */
#include "records.h"
#include "base/hmap.h"
#include "base/mem.h"
#include "base/strbuf.h"

#include <ctype.h>
#include <inttypes.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOT_IN_DB "<not in database>"

/* Classes by name and each class's parameters by name, built once from
 * the generated tables and read-only afterwards. */
static struct hmap class_by_name, *param_by_name;
static pthread_once_t index_once = PTHREAD_ONCE_INIT;

static void index_build(void)
{
	hmap_init(&class_by_name);
	param_by_name = xcalloc((size_t)xe_nclasses, sizeof *param_by_name);
	/* backwards: the first of a name wins, as a linear search found it */
	for (int i = xe_nclasses - 1; i >= 0; i--) {
		const struct xe_class *xc = &xe_classes[i];
		hmap_put(&class_by_name, xc->name, (void *)xc);
		hmap_init(&param_by_name[i]);
		for (int j = xc->nparams - 1; j >= 0; j--)
			hmap_put(&param_by_name[i], xc->params[j].name, (void *)&xc->params[j]);
	}
}

const struct xe_class *xe_class_find(const char *name)
{
	pthread_once(&index_once, index_build);
	return hmap_get(&class_by_name, name);
}

const struct xe_param *xe_param_find(const struct xe_class *xc, const char *name)
{
	pthread_once(&index_once, index_build);
	ptrdiff_t i = xc - xe_classes;
	return hmap_get(&param_by_name[i], name);
}

const char *xe_access_suffix(enum xe_access a)
{
	static const char *const s[] = {" ( RO)", " ( RW)", " (SRO)", " (SRW)", " (MRO)", " (MRW)"};
	return s[a];
}

bool xe_param_is_set(const struct xe_param *p)
{
	return p->access == XE_SRO || p->access == XE_SRW;
}

bool xe_param_is_map(const struct xe_param *p)
{
	return p->access == XE_MRO || p->access == XE_MRW;
}

const struct sc_field *xe_param_wire_field(const struct xe_class *xc, const struct xe_param *p)
{
	if (p->special || p->via >= 0 || p->field < 0)
		return NULL;
	return &sc_classes[xc->cls].fields[p->field];
}

/* ---- enum spellings ---- */

struct spell {
	const char *wire, *xe;
};

static const struct spell actions[] = {
	{"destroy", "Destroy"}, {"restart", "Restart"}, {"preserve", "Preserve"},
	{"soft_reboot", "Soft reboot"}, {"coredump_and_destroy", "Core dump and destroy"},
	{"coredump_and_restart", "Core dump and restart"}, {"rename_restart", "Rename restart"},
	{NULL, NULL}};
static const struct spell vdi_types[] = {
	{"system", "System"}, {"user", "User"}, {"ephemeral", "Ephemeral"}, {"suspend", "Suspend"},
	{"crashdump", "Crashdump"}, {"ha_statefile", "HA statefile"}, {"metadata", "Metadata"},
	{"redo_log", "Redo log"}, {"rrd", "rrd"}, {"pvs_cache", "PVS cache"},
	{"cbt_metadata", "CBT metadata"}, {NULL, NULL}};
static const struct spell task_ops[] = {{"cancel", "Cancel"}, {"destroy", "Destroy"}, {NULL, NULL}};
static const struct spell host_ops[] = {
	{"vm_start", "VM.start"}, {"vm_resume", "VM.resume"}, {"vm_migrate", "VM.migrate"}, {NULL, NULL}};
static const struct spell vm_ops[] = {
	{"assert_operation_valid", "assertoperationvalid"}, {"data_source_op", "data_sources_op"},
	{NULL, NULL}};
static const struct spell yesno[] = {{"yes", "true"}, {"no", "false"}, {NULL, NULL}};
static const struct spell sr_ops[] = {{"pbd_create", "PBD.create"}, {"pbd_destroy", "PBD.destroy"},
				      {NULL, NULL}};

static const char *spell(const struct spell *t, const char *v)
{
	for (; t->wire; t++)
		if (strcmp(t->wire, v) == 0)
			return t->xe;
	return NULL;
}

char *xe_style_enum(enum xe_style s, const char *v)
{
	const char *hit = NULL;
	char *out;
	switch (s) {
	case XS_LOWER:
	case XS_UPPER:
		out = xstrdup(v);
		for (char *p = out; *p; p++)
			*p = (char)(s == XS_LOWER ? tolower((unsigned char)*p) : toupper((unsigned char)*p));
		return out;
	case XS_ACTIONS: hit = spell(actions, v); break;
	case XS_VDI_TYPE: hit = spell(vdi_types, v); break;
	case XS_TASK_OPS: hit = spell(task_ops, v); break;
	case XS_HOST_OPS: hit = spell(host_ops, v); break;
	case XS_VM_OPS: hit = spell(vm_ops, v); break;
	case XS_YESNO: hit = spell(yesno, v); break;
	case XS_DOMAIN_TYPE:
		hit = strcmp(v, "pv_in_pvh") == 0 ? "pv-in-pvh" : NULL;
		break;
	case XS_SR_OPS:
		if (strncmp(v, "vdi_", 4) == 0)
			return xasprintf("VDI.%s", v + 4);
		hit = spell(sr_ops, v);
		break;
	case XS_WIRE:
		break;
	}
	return xstrdup(hit ? hit : v);
}

/* ---- scalar rendering by schema type ---- */

static xv render(struct xe_resolver *r, const struct xe_param *p, const struct sc_type *t,
		 const xv *v);

static char *ref_uuid(struct xe_resolver *r, int cls, const char *ref)
{
	if (!ref || cls < 0)
		return xstrdup(NOT_IN_DB);
	const xv *rec = r->record(r, cls, ref);
	const char *uuid = rec ? xv_map_get_str(rec, "uuid") : NULL;
	return xstrdup(uuid ? uuid : NOT_IN_DB);
}

static char *scalar_text(struct xe_resolver *r, const struct xe_param *p, const struct sc_type *t,
			 const xv *v)
{
	char buf[64];
	switch (v->kind) {
	case XV_NIL:
		return xstrdup("");
	case XV_STR:
		if (t->kind == SC_REF)
			return ref_uuid(r, t->cls, v->u.s);
		if (t->kind == SC_ENUM)
			return xe_style_enum(p->style, v->u.s);
		return xstrdup(v->u.s);
	case XV_INT:
	case XV_I32:
		snprintf(buf, sizeof buf, "%" PRId64, v->u.i);
		return xstrdup(buf);
	case XV_BOOL:
		return xstrdup(v->u.b ? "true" : "false");
	case XV_FLOAT:
		snprintf(buf, sizeof buf, p->shape == XSH_FLOAT3 ? "%.3f" : "%g", v->u.f);
		return xstrdup(buf);
	case XV_TIME:
		xv_time_format(v->u.i, buf, sizeof buf);
		return xstrdup(buf);
	default: {
		/* A composite where a scalar was expected: print it flattened. */
		xv s = render(r, p, t, v);
		char *out = xe_value_text(p, &s);
		xv_free(&s);
		return out;
	}
	}
}

static xv render(struct xe_resolver *r, const struct xe_param *p, const struct sc_type *t,
		 const xv *v)
{
	if (t->kind == SC_OPTION)
		t = t->elem;
	if (v->kind == XV_ARR) {
		const struct sc_type *et = t->kind == SC_SET ? t->elem : t;
		xv out = xv_arr_new();
		for (size_t i = 0; i < v->u.a->n; i++)
			xv_arr_push(&out, xv_str_own(scalar_text(r, p, et, &v->u.a->items[i])));
		return out;
	}
	if (v->kind == XV_MAP) {
		const struct sc_type *kt = t->kind == SC_MAP ? t->key : t;
		const struct sc_type *vt = t->kind == SC_MAP ? t->val : t;
		xv out = xv_map_new();
		for (size_t i = 0; i < v->u.m->n; i++) {
			char *k = v->u.m->keys[i];
			if (kt->kind == SC_ENUM)
				k = xe_style_enum(p->style, k);
			else if (kt->kind == SC_REF)
				k = ref_uuid(r, kt->cls, k);
			else
				k = xstrdup(k);
			xv_map_append(&out, k, xv_str_own(scalar_text(r, p, vt, &v->u.m->vals[i])));
			free(k);
		}
		return out;
	}
	return xv_str_own(scalar_text(r, p, t, v));
}

/* ---- parameters ---- */

static xv special_value(struct xe_resolver *r, const struct xe_class *xc, const struct xe_param *p,
			const struct xe_obj *o);

xv xe_param_value(struct xe_resolver *r, const struct xe_class *xc, const struct xe_param *p,
		  const struct xe_obj *o)
{
	if (p->special)
		return special_value(r, xc, p, o);
	const xv *rec = o->rec;
	int cls = xc->cls;
	if (p->via >= 0) {
		const char *ref = xv_map_get_str(rec, sc_classes[cls].fields[p->via].name);
		rec = ref ? r->record(r, p->via_cls, ref) : NULL;
		if (!rec)
			return xv_str(p->fallback ? p->fallback : NOT_IN_DB);
		cls = p->via_cls;
	}
	const struct sc_field *f = &sc_classes[cls].fields[p->field];
	const xv *v = xv_map_get(rec, f->name);
	if (!v) /* a server that leaves a field out means its default */
		v = sc_field_default(cls, p->field);
	if (p->shape == XSH_OPS) {
		/* current_operations: task ref -> operation; xe shows the operations. */
		xv out = xv_arr_new();
		const struct sc_type *vt = f->type->kind == SC_MAP ? f->type->val : f->type;
		for (size_t i = 0; v->kind == XV_MAP && i < v->u.m->n; i++)
			xv_arr_push(&out, xv_str_own(scalar_text(r, p, vt, &v->u.m->vals[i])));
		return out;
	}
	if (p->shape == XSH_REFSTRS && v->kind == XV_ARR) {
		xv out = xv_arr_new();
		for (size_t i = 0; i < v->u.a->n; i++)
			xv_arr_push(&out, xv_str_own(ref_uuid(r, p->via_cls, xv_as_str(&v->u.a->items[i]))));
		return out;
	}
	xv out = render(r, p, f->type, v);
	if (p->shape == XSH_QUOTED && out.kind == XV_STR) {
		char *q = xasprintf("'%s'", out.u.s);
		xv_free(&out);
		out = xv_str_own(q);
	}
	return out;
}

char *xe_value_text(const struct xe_param *p, const xv *v)
{
	struct strbuf sb = STRBUF_INIT;
	if (v->kind == XV_ARR) {
		for (size_t i = 0; i < v->u.a->n; i++) {
			if (i)
				sb_puts(&sb, p && p->sep ? p->sep : "; ");
			sb_puts(&sb, xv_as_str(&v->u.a->items[i]) ? xv_as_str(&v->u.a->items[i]) : "");
		}
	} else if (v->kind == XV_MAP) {
		for (size_t i = 0; i < v->u.m->n; i++) {
			const char *s = xv_as_str(&v->u.m->vals[i]);
			sb_printf(&sb, "%s%s: %s", i ? "; " : "", v->u.m->keys[i], s ? s : "");
		}
	} else if (v->kind == XV_STR) {
		sb_puts(&sb, v->u.s);
	}
	return sb_detach(&sb);
}

char *xe_param_text(struct xe_resolver *r, const struct xe_class *xc, const struct xe_param *p,
		    const struct xe_obj *o)
{
	xv v = xe_param_value(r, xc, p, o);
	char *s = xe_value_text(p, &v);
	xv_free(&v);
	return s;
}

/* ---- specials computable from records alone ---- */

static const xv *far(struct xe_resolver *r, const xv *rec, const char *field, int cls)
{
	const char *ref = xv_map_get_str(rec, field);
	return ref ? r->record(r, cls, ref) : NULL;
}

static xv name_of(const xv *rec)
{
	const char *n = rec ? xv_map_get_str(rec, "name_label") : NULL;
	return xv_str(n ? n : NOT_IN_DB);
}

static xv special_value(struct xe_resolver *r, const struct xe_class *xc, const struct xe_param *p,
			const struct xe_obj *o)
{
	const char *s = p->special;
	if (strcmp(s, "sr:host") == 0) {
		/* One PBD: that host's name; several: the SR is shared. */
		const xv *pbds = xv_map_get(o->rec, "PBDs");
		size_t n = pbds ? xv_len(pbds) : 0;
		if (n > 1)
			return xv_str("<shared>");
		if (n == 0)
			return xv_str(NOT_IN_DB);
		const xv *pbd = r->record(r, SC_C_PBD, xv_as_str(xv_arr_get(pbds, 0)));
		return name_of(pbd ? far(r, pbd, "host", SC_C_host) : NULL);
	}
	if (strcmp(s, "vbd:vdi-name-label") == 0) {
		const xv *e = xv_map_get(o->rec, "empty");
		if (e && e->kind == XV_BOOL && e->u.b)
			return xv_str("<EMPTY>");
		return name_of(far(r, o->rec, "VDI", SC_C_VDI));
	}
	if (strcmp(s, "vdi:metadata-of-pool") == 0) {
		const xv *pool = far(r, o->rec, "metadata_of_pool", SC_C_pool);
		const char *u = pool ? xv_map_get_str(pool, "uuid") : NULL;
		if (!u) {
			u = xv_map_get_str(o->rec, "read_database_pool_uuid");
			if (u && !*u)
				u = NULL;
		}
		return xv_str(u ? u : NOT_IN_DB);
	}
	if (strcmp(s, "pif:speed") == 0 || strcmp(s, "pif:duplex") == 0) {
		const xv *m = far(r, o->rec, "metrics", SC_C_PIF_metrics);
		if (!m)
			return xv_str(NOT_IN_DB);
		if (s[4] == 's') {
			const xv *v = xv_map_get(m, "speed");
			return xv_str_own(xasprintf("%" PRId64 " Mbit/s", v ? v->u.i : 0));
		}
		const xv *d = xv_map_get(m, "duplex"), *c = xv_map_get(m, "carrier");
		return xv_str(d && d->u.b ? "full" : c && c->u.b ? "half" : "unknown");
	}
	xv out = XV_NIL_INIT;
	if (r->special && r->special(r, xc, p, o, &out) == 0)
		return out;
	xv_free(&out);
	return xv_str("<unknown>");
}

void xe_record_coerce(int cls, xv *rec)
{
	if (rec->kind != XV_MAP || cls < 0)
		return;
	const struct sc_class *c = &sc_classes[cls];
	for (size_t i = 0; i < rec->u.m->n; i++) {
		int f = sc_field_find(cls, rec->u.m->keys[i]);
		if (f < 0)
			continue;
		struct xerr e = XERR_INIT;
		/* A value that does not fit is printed as sent rather than lost. */
		xv copy = xv_copy(&rec->u.m->vals[i]);
		if (sc_coerce(c->fields[f].type, c->fields[f].name, &copy, &e) == 0) {
			xv_free(&rec->u.m->vals[i]);
			rec->u.m->vals[i] = copy;
		} else {
			xv_free(&copy);
		}
		xerr_clear(&e);
	}
}
