/* xv: the value type every layer speaks — wire codecs decode into it, the
 * object store keeps fields in it, handlers return it. A small tagged union
 * held by value; arrays and maps own their children. */
#ifndef XENON_XV_H
#define XENON_XV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum xv_kind {
	XV_NIL = 0, /* absent / void */
	XV_STR,     /* strings, refs, enums */
	XV_INT,     /* int64; XML-RPC writes it as a bare string as xapi does */
	XV_I32,     /* int written as <i4> (valid_ref_counts) */
	XV_BOOL,
	XV_FLOAT,
	XV_TIME,    /* seconds since the epoch, UTC */
	XV_ARR,
	XV_MAP,     /* string keys, insertion order kept; records are maps too */
	XV_RAW,     /* already encoded for the wire at hand (u.s): a whole record
		     * written straight from the store, without a copy tree */
};

struct xv_arr;
struct xv_map;

typedef struct xv {
	enum xv_kind kind;
	union {
		char *s;
		int64_t i;
		bool b;
		double f;
		struct xv_arr *a;
		struct xv_map *m;
	} u;
} xv;

struct xv_arr {
	size_t n, cap;
	xv *items;
};

struct xv_map {
	size_t n, cap;
	char **keys;
	xv *vals;
};

#define XV_NIL_INIT ((xv){.kind = XV_NIL})

xv xv_str(const char *s);             /* copies s */
xv xv_strn(const char *s, size_t n);  /* copies n bytes */
xv xv_str_own(char *s);               /* takes ownership of a malloc'd s */
xv xv_raw_own(char *encoded);         /* XV_RAW; takes ownership */
xv xv_int(int64_t i);
xv xv_i32(int32_t i);
xv xv_bool(bool b);
xv xv_float(double f);
xv xv_time(int64_t t);
xv xv_arr_new(void);
xv xv_map_new(void);

void xv_free(xv *v);                  /* releases children, leaves XV_NIL */
xv xv_copy(const xv *v);
bool xv_equal(const xv *a, const xv *b);

/* Arrays: push takes ownership of item. */
void xv_arr_push(xv *arr, xv item);
void xv_arr_push_str(xv *arr, const char *s);
size_t xv_len(const xv *v);           /* items of an array or map, 0 otherwise */
const xv *xv_arr_get(const xv *arr, size_t i);
/* Remove the first item equal to item; returns true if one was removed. */
bool xv_arr_remove(xv *arr, const xv *item);
bool xv_arr_contains(const xv *arr, const xv *item);

/* Maps: set replaces an existing key; both take ownership of val. */
void xv_map_set(xv *map, const char *key, xv val);
void xv_map_set_str(xv *map, const char *key, const char *val);
/* Appends without looking for a duplicate: for building records. */
void xv_map_append(xv *map, const char *key, xv val);
const xv *xv_map_get(const xv *map, const char *key);
xv *xv_map_get_mut(xv *map, const char *key);
const char *xv_map_get_str(const xv *map, const char *key);
bool xv_map_del(xv *map, const char *key);

/* Convenience readers: NULL / fallback when the kind does not match. */
const char *xv_as_str(const xv *v);
bool xv_is_str(const xv *v);

/* Datetimes as xapi writes them: 20240101T12:00:00Z. buf >= 32 bytes. */
void xv_time_format(int64_t t, char *buf, size_t len);
/* Accepts 20240101T12:00:00Z, 2024-01-01T12:00:00Z, +hh:mm offsets, no zone = UTC. */
int xv_time_parse(const char *s, int64_t *out);

#endif
