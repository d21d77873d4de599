/* xv: construction, copying, comparison and container helpers for the
 * tagged value used across the daemon, the client library and xe. */
#include "xv.h"
#include "fault.h"
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

xv xv_str(const char *s)
{
	return (xv){.kind = XV_STR, .u.s = xstrdup(s ? s : "")};
}

xv xv_strn(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return (xv){.kind = XV_STR, .u.s = p};
}

xv xv_str_own(char *s)
{
	return (xv){.kind = XV_STR, .u.s = s ? s : xstrdup("")};
}

xv xv_raw_own(char *encoded)
{
	return (xv){.kind = XV_RAW, .u.s = encoded};
}

xv xv_int(int64_t i) { return (xv){.kind = XV_INT, .u.i = i}; }
xv xv_i32(int32_t i) { return (xv){.kind = XV_I32, .u.i = i}; }
xv xv_bool(bool b) { return (xv){.kind = XV_BOOL, .u.b = b}; }
xv xv_float(double f) { return (xv){.kind = XV_FLOAT, .u.f = f}; }
xv xv_time(int64_t t) { return (xv){.kind = XV_TIME, .u.i = t}; }

xv xv_arr_new(void)
{
	return (xv){.kind = XV_ARR, .u.a = xcalloc(1, sizeof(struct xv_arr))};
}

xv xv_map_new(void)
{
	return (xv){.kind = XV_MAP, .u.m = xcalloc(1, sizeof(struct xv_map))};
}

void xv_free(xv *v)
{
	if (!v)
		return;
	switch (v->kind) {
	case XV_STR:
	case XV_RAW:
		free(v->u.s);
		break;
	case XV_ARR:
		for (size_t i = 0; i < v->u.a->n; i++)
			xv_free(&v->u.a->items[i]);
		free(v->u.a->items);
		free(v->u.a);
		break;
	case XV_MAP:
		for (size_t i = 0; i < v->u.m->n; i++) {
			free(v->u.m->keys[i]);
			xv_free(&v->u.m->vals[i]);
		}
		free(v->u.m->keys);
		free(v->u.m->vals);
		free(v->u.m);
		break;
	default:
		break;
	}
	v->kind = XV_NIL;
	v->u.i = 0;
}

xv xv_copy(const xv *v)
{
	xv r;
	switch (v->kind) {
	case XV_STR:
		return xv_str(v->u.s);
	case XV_RAW:
		return xv_raw_own(xstrdup(v->u.s));
	case XV_ARR:
		r = xv_arr_new();
		r.u.a->cap = v->u.a->n;
		r.u.a->items = v->u.a->n ? xmalloc(sizeof(xv) * v->u.a->n) : NULL;
		for (size_t i = 0; i < v->u.a->n; i++)
			r.u.a->items[i] = xv_copy(&v->u.a->items[i]);
		r.u.a->n = v->u.a->n;
		return r;
	case XV_MAP:
		r = xv_map_new();
		r.u.m->cap = v->u.m->n;
		if (v->u.m->n) {
			r.u.m->keys = xmalloc(sizeof(char *) * v->u.m->n);
			r.u.m->vals = xmalloc(sizeof(xv) * v->u.m->n);
		}
		for (size_t i = 0; i < v->u.m->n; i++) {
			r.u.m->keys[i] = xstrdup(v->u.m->keys[i]);
			r.u.m->vals[i] = xv_copy(&v->u.m->vals[i]);
		}
		r.u.m->n = v->u.m->n;
		return r;
	default:
		return *v;
	}
}

bool xv_equal(const xv *a, const xv *b)
{
	if (a->kind != b->kind) {
		bool ai = a->kind == XV_INT || a->kind == XV_I32;
		bool bi = b->kind == XV_INT || b->kind == XV_I32;
		return ai && bi && a->u.i == b->u.i;
	}
	switch (a->kind) {
	case XV_NIL:
		return true;
	case XV_STR:
	case XV_RAW:
		return strcmp(a->u.s, b->u.s) == 0;
	case XV_INT:
	case XV_I32:
	case XV_TIME:
		return a->u.i == b->u.i;
	case XV_BOOL:
		return a->u.b == b->u.b;
	case XV_FLOAT:
		return a->u.f == b->u.f;
	case XV_ARR:
		if (a->u.a->n != b->u.a->n)
			return false;
		for (size_t i = 0; i < a->u.a->n; i++)
			if (!xv_equal(&a->u.a->items[i], &b->u.a->items[i]))
				return false;
		return true;
	case XV_MAP:
		if (a->u.m->n != b->u.m->n)
			return false;
		for (size_t i = 0; i < a->u.m->n; i++) {
			const xv *o = xv_map_get(b, a->u.m->keys[i]);
			if (!o || !xv_equal(&a->u.m->vals[i], o))
				return false;
		}
		return true;
	}
	return false;
}

void xv_arr_push(xv *arr, xv item)
{
	struct xv_arr *a = arr->u.a;
	if (a->n == a->cap) {
		fault_alloc_note();
		a->cap = a->cap ? a->cap * 2 : 4;
		a->items = xrealloc(a->items, sizeof(xv) * a->cap);
	}
	a->items[a->n++] = item;
}

void xv_arr_push_str(xv *arr, const char *s) { xv_arr_push(arr, xv_str(s)); }

size_t xv_len(const xv *v)
{
	if (v->kind == XV_ARR)
		return v->u.a->n;
	if (v->kind == XV_MAP)
		return v->u.m->n;
	return 0;
}

const xv *xv_arr_get(const xv *arr, size_t i)
{
	if (arr->kind != XV_ARR || i >= arr->u.a->n)
		return NULL;
	return &arr->u.a->items[i];
}

bool xv_arr_contains(const xv *arr, const xv *item)
{
	if (arr->kind != XV_ARR)
		return false;
	for (size_t i = 0; i < arr->u.a->n; i++)
		if (xv_equal(&arr->u.a->items[i], item))
			return true;
	return false;
}

bool xv_arr_remove(xv *arr, const xv *item)
{
	if (arr->kind != XV_ARR)
		return false;
	struct xv_arr *a = arr->u.a;
	for (size_t i = 0; i < a->n; i++) {
		if (xv_equal(&a->items[i], item)) {
			xv_free(&a->items[i]);
			memmove(&a->items[i], &a->items[i + 1], sizeof(xv) * (a->n - i - 1));
			a->n--;
			return true;
		}
	}
	return false;
}

static ssize_t map_find(const struct xv_map *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->keys[i], key) == 0)
			return (ssize_t)i;
	return -1;
}

void xv_map_append(xv *map, const char *key, xv val)
{
	struct xv_map *m = map->u.m;
	if (m->n == m->cap) {
		fault_alloc_note();
		m->cap = m->cap ? m->cap * 2 : 8;
		m->keys = xrealloc(m->keys, sizeof(char *) * m->cap);
		m->vals = xrealloc(m->vals, sizeof(xv) * m->cap);
	}
	m->keys[m->n] = xstrdup(key);
	m->vals[m->n] = val;
	m->n++;
}

void xv_map_set(xv *map, const char *key, xv val)
{
	ssize_t i = map_find(map->u.m, key);
	if (i >= 0) {
		xv_free(&map->u.m->vals[i]);
		map->u.m->vals[i] = val;
		return;
	}
	xv_map_append(map, key, val);
}

void xv_map_set_str(xv *map, const char *key, const char *val)
{
	xv_map_set(map, key, xv_str(val));
}

const xv *xv_map_get(const xv *map, const char *key)
{
	if (!map || map->kind != XV_MAP)
		return NULL;
	ssize_t i = map_find(map->u.m, key);
	return i >= 0 ? &map->u.m->vals[i] : NULL;
}

xv *xv_map_get_mut(xv *map, const char *key)
{
	if (!map || map->kind != XV_MAP)
		return NULL;
	ssize_t i = map_find(map->u.m, key);
	return i >= 0 ? &map->u.m->vals[i] : NULL;
}

const char *xv_map_get_str(const xv *map, const char *key)
{
	return xv_as_str(xv_map_get(map, key));
}

bool xv_map_del(xv *map, const char *key)
{
	if (!map || map->kind != XV_MAP)
		return false;
	struct xv_map *m = map->u.m;
	ssize_t i = map_find(m, key);
	if (i < 0)
		return false;
	free(m->keys[i]);
	xv_free(&m->vals[i]);
	size_t rest = m->n - (size_t)i - 1;
	memmove(&m->keys[i], &m->keys[i + 1], sizeof(char *) * rest);
	memmove(&m->vals[i], &m->vals[i + 1], sizeof(xv) * rest);
	m->n--;
	return true;
}

const char *xv_as_str(const xv *v)
{
	return v && v->kind == XV_STR ? v->u.s : NULL;
}

bool xv_is_str(const xv *v) { return v && v->kind == XV_STR; }

void xv_time_format(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	int y = tm.tm_year + 1900;
	if (len < 19 || y < 1000 || y > 9999) {
		strftime(buf, len, "%Y%m%dT%H:%M:%SZ", &tm);
		return;
	}
	/* strftime's bytes for four-digit years, without its cost: a record
	 * holds a few of these */
	int parts[] = {y / 100, y % 100, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec};
	static const char after[] = {0, 0, 0, 'T', ':', ':', 'Z'};
	char *p = buf;
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		*p++ = (char)('0' + parts[i] / 10);
		*p++ = (char)('0' + parts[i] % 10);
		if (after[i])
			*p++ = after[i];
	}
	*p = '\0';
}

int xv_time_parse(const char *s, int64_t *out)
{
	int Y, M, D, h = 0, m = 0, sec = 0, n = 0;
	const char *p = s;
	if (sscanf(p, "%4d%2d%2d%n", &Y, &M, &D, &n) == 3 && n == 8) {
		p += 8;
	} else if (sscanf(p, "%4d-%2d-%2d%n", &Y, &M, &D, &n) == 3 && n == 10) {
		p += 10;
	} else {
		return -1;
	}
	if (*p == 'T' || *p == ' ') {
		p++;
		if (sscanf(p, "%2d:%2d:%2d%n", &h, &m, &sec, &n) != 3)
			return -1;
		p += n;
		if (*p == '.') { /* fractional seconds are dropped */
			p++;
			while (*p >= '0' && *p <= '9')
				p++;
		}
	}
	long off = 0;
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh, om;
		int sign = *p == '-' ? -1 : 1;
		if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &n) == 2)
			p += 1 + n;
		else if (sscanf(p + 1, "%2d%2d%n", &oh, &om, &n) == 2)
			p += 1 + n;
		else
			return -1;
		off = sign * (oh * 3600L + om * 60L);
	}
	if (*p != '\0')
		return -1;
	if (M < 1 || M > 12 || D < 1 || D > 31 || h < 0 || h > 23 || m < 0 || m > 59 ||
	    sec < 0 || sec > 60)
		return -1;
	struct tm tm = {.tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D,
			.tm_hour = h, .tm_min = m, .tm_sec = sec};
	*out = (int64_t)timegm(&tm) - off;
	return 0;
}
