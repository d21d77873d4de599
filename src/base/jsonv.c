/* jsonv: JSON <-> xv (see jsonv.h). */
#include "jsonv.h"
#include "mem.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int jsonv_from_jansson(const void *jp, xv *out, struct xerr *err)
{
	const json_t *j = jp;
	switch (json_typeof(j)) {
	case JSON_NULL:
		*out = XV_NIL_INIT;
		return 0;
	case JSON_TRUE:
		*out = xv_bool(true);
		return 0;
	case JSON_FALSE:
		*out = xv_bool(false);
		return 0;
	case JSON_INTEGER:
		*out = xv_int(json_integer_value(j));
		return 0;
	case JSON_REAL:
		*out = xv_float(json_real_value(j));
		return 0;
	case JSON_STRING:
		*out = xv_strn(json_string_value(j), json_string_length(j));
		if (strlen(out->u.s) != json_string_length(j)) {
			xv_free(out);
			return xerr_set(err, ERR_INVALID_VALUE, "string", "embedded NUL", NULL);
		}
		return 0;
	case JSON_ARRAY: {
		*out = xv_arr_new();
		size_t i;
		json_t *item;
		json_array_foreach(j, i, item) {
			xv v;
			if (jsonv_from_jansson(item, &v, err) < 0) {
				xv_free(out);
				return -1;
			}
			xv_arr_push(out, v);
		}
		return 0;
	}
	case JSON_OBJECT: {
		*out = xv_map_new();
		const char *k;
		json_t *item;
		json_object_foreach((json_t *)j, k, item) {
			xv v;
			if (jsonv_from_jansson(item, &v, err) < 0) {
				xv_free(out);
				return -1;
			}
			xv_map_append(out, k, v);
		}
		return 0;
	}
	}
	return xerr_set(err, ERR_INVALID_VALUE, "json", "unknown type", NULL);
}

int jsonv_parse(const char *text, size_t len, xv *out, struct xerr *err)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
	if (!j)
		return xerr_set(err, ERR_PARSE_FAILURE, je.text, NULL);
	int r = jsonv_from_jansson(j, out, err);
	json_decref(j);
	return r;
}

void jsonv_write(struct strbuf *sb, const xv *v)
{
	char tmp[64];
	switch (v->kind) {
	case XV_NIL:
		sb_puts(sb, "null");
		break;
	case XV_STR:
		sb_json_string(sb, v->u.s);
		break;
	case XV_INT:
	case XV_I32:
		sb_put_i64(sb, (long long)v->u.i);
		break;
	case XV_RAW:
		sb_puts(sb, v->u.s);
		break;
	case XV_BOOL:
		sb_puts(sb, v->u.b ? "true" : "false");
		break;
	case XV_FLOAT:
		if (isnan(v->u.f) || isinf(v->u.f)) {
			sb_puts(sb, "\"NaN\"");
		} else if (fabs(v->u.f) < 1e15 && v->u.f == (double)(long long)v->u.f &&
			   (v->u.f != 0 || !signbit(v->u.f))) {
			/* what %.16g gives a whole number of up to 15 digits,
			 * without printf's cost */
			sb_put_i64(sb, (long long)v->u.f);
			sb_puts(sb, ".0");
		} else {
			snprintf(tmp, sizeof tmp, "%.16g", v->u.f);
			sb_puts(sb, tmp);
			/* keep it a JSON real so it reads back as a float */
			if (!strpbrk(tmp, ".eE"))
				sb_puts(sb, ".0");
		}
		break;
	case XV_TIME:
		xv_time_format(v->u.i, tmp, sizeof tmp);
		sb_putc(sb, '"');
		sb_puts(sb, tmp);
		sb_putc(sb, '"');
		break;
	case XV_ARR:
		sb_putc(sb, '[');
		for (size_t i = 0; i < v->u.a->n; i++) {
			if (i)
				sb_putc(sb, ',');
			jsonv_write(sb, &v->u.a->items[i]);
		}
		sb_putc(sb, ']');
		break;
	case XV_MAP:
		sb_putc(sb, '{');
		for (size_t i = 0; i < v->u.m->n; i++) {
			if (i)
				sb_putc(sb, ',');
			sb_json_string(sb, v->u.m->keys[i]);
			sb_putc(sb, ':');
			jsonv_write(sb, &v->u.m->vals[i]);
		}
		sb_putc(sb, '}');
		break;
	}
}
