/* coerce: make a decoded wire value fit a schema type. Wire formats lose
 * type information (XML-RPC ints arrive as strings, JSON datetimes as
 * strings), so every argument passes through here before a handler runs. */
#include "schema.h"
#include "../base/mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int type_error(const char *name, struct xerr *err)
{
	return xerr_set(err, ERR_FIELD_TYPE_ERROR, name, NULL);
}

static int parse_int(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int coerce_key(const struct sc_type *t, const char *name, char **key, struct xerr *err)
{
	int64_t i;
	switch (t->kind) {
	case SC_STRING:
	case SC_REF:
		return 0;
	case SC_INT:
		if (parse_int(*key, &i) < 0)
			return type_error(name, err);
		return 0;
	case SC_ENUM: {
		int k = sc_enum_find(t->en, *key);
		if (k < 0)
			return xerr_set(err, ERR_INVALID_VALUE, name, *key, NULL);
		free(*key);
		*key = xstrdup(sc_enums[t->en].values[k]);
		return 0;
	}
	default:
		return type_error(name, err);
	}
}

int sc_coerce(const struct sc_type *t, const char *name, xv *v, struct xerr *err)
{
	int64_t i;
	switch (t->kind) {
	case SC_VOID:
		return 0;
	case SC_STRING:
	case SC_REF:
		if (v->kind == XV_STR)
			return 0;
		return type_error(name, err);
	case SC_INT:
		if (v->kind == XV_INT)
			return 0;
		if (v->kind == XV_I32) {
			v->kind = XV_INT;
			return 0;
		}
		if (v->kind == XV_STR && parse_int(v->u.s, &i) == 0) {
			xv_free(v);
			*v = xv_int(i);
			return 0;
		}
		if (v->kind == XV_FLOAT && v->u.f == (double)(int64_t)v->u.f) {
			*v = xv_int((int64_t)v->u.f);
			return 0;
		}
		return type_error(name, err);
	case SC_BOOL:
		if (v->kind == XV_BOOL)
			return 0;
		if (v->kind == XV_STR && (!strcasecmp(v->u.s, "true") || !strcasecmp(v->u.s, "false"))) {
			bool b = !strcasecmp(v->u.s, "true");
			xv_free(v);
			*v = xv_bool(b);
			return 0;
		}
		return type_error(name, err);
	case SC_FLOAT:
		if (v->kind == XV_FLOAT)
			return 0;
		if (v->kind == XV_INT || v->kind == XV_I32) {
			*v = xv_float((double)v->u.i);
			return 0;
		}
		if (v->kind == XV_STR) {
			char *end;
			double d = strtod(v->u.s, &end);
			if (end != v->u.s && !*end) {
				xv_free(v);
				*v = xv_float(d);
				return 0;
			}
		}
		return type_error(name, err);
	case SC_DATETIME:
		if (v->kind == XV_TIME)
			return 0;
		if (v->kind == XV_STR && xv_time_parse(v->u.s, &i) == 0) {
			xv_free(v);
			*v = xv_time(i);
			return 0;
		}
		if (v->kind == XV_INT) {
			v->kind = XV_TIME;
			return 0;
		}
		if (v->kind == XV_FLOAT) {
			*v = xv_time((int64_t)v->u.f);
			return 0;
		}
		return type_error(name, err);
	case SC_ENUM: {
		if (v->kind != XV_STR)
			return type_error(name, err);
		int k = sc_enum_find(t->en, v->u.s);
		if (k < 0)
			return xerr_set(err, ERR_INVALID_VALUE, name, v->u.s, NULL);
		if (strcmp(v->u.s, sc_enums[t->en].values[k]) != 0) {
			xv_free(v);
			*v = xv_str(sc_enums[t->en].values[k]);
		}
		return 0;
	}
	case SC_SET:
		if (v->kind != XV_ARR)
			return type_error(name, err);
		for (size_t j = 0; j < v->u.a->n; j++)
			if (sc_coerce(t->elem, name, &v->u.a->items[j], err) < 0)
				return -1;
		return 0;
	case SC_MAP:
		if (v->kind != XV_MAP)
			return type_error(name, err);
		for (size_t j = 0; j < v->u.m->n; j++) {
			if (coerce_key(t->key, name, &v->u.m->keys[j], err) < 0)
				return -1;
			if (sc_coerce(t->val, name, &v->u.m->vals[j], err) < 0)
				return -1;
		}
		return 0;
	case SC_RECORD:
	case SC_ANYRECORD:
	case SC_EVENTS:
		if (v->kind != XV_MAP)
			return type_error(name, err);
		return 0;
	case SC_OPTION:
		if (v->kind == XV_NIL)
			return 0;
		return sc_coerce(t->elem, name, v, err);
	}
	return type_error(name, err);
}
