/* durable: rows as JSON objects keyed by field name, so a schema change
 * (a field added or retired) needs no migration: unknown names are
 * ignored on load and missing ones take their defaults. */
#include "durable.h"
#include "db_int.h"
#include "../base/fault.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../base/jsonv.h"

#include <errno.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct durable {
	sqlite3 *sql;
	sqlite3_stmt *put, *del, *setgen, *setidx, *begin, *commit, *rollback;
};

static int sql_fail(struct durable *d, struct xerr *err, const char *what)
{
	return xerr_internal(err, "database %s: %s", what, d->sql ? sqlite3_errmsg(d->sql) : "?");
}

static int exec(struct durable *d, const char *sql, struct xerr *err)
{
	char *msg = NULL;
	if (sqlite3_exec(d->sql, sql, NULL, NULL, &msg) != SQLITE_OK) {
		xerr_internal(err, "database: %s", msg ? msg : "?");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

struct durable *durable_open(const char *path, struct xerr *err)
{
	struct durable *d = xcalloc(1, sizeof *d);
	if (sqlite3_open_v2(path, &d->sql, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sql_fail(d, err, "open");
		durable_close(d);
		return NULL;
	}
	sqlite3_busy_timeout(d->sql, 5000);
	/* WAL + synchronous=NORMAL: a commit is in the OS before we answer, so
	 * it survives the process being killed; FULL would also survive power
	 * loss at a cost per write (see xenond.conf db-sync). */
	const char *setup =
		"PRAGMA journal_mode=WAL;"
		"PRAGMA synchronous=NORMAL;"
		"CREATE TABLE IF NOT EXISTS objects (ref TEXT PRIMARY KEY, class TEXT NOT NULL, data TEXT NOT NULL);"
		"CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";
	if (exec(d, setup, err) < 0) {
		durable_close(d);
		return NULL;
	}
	struct {
		sqlite3_stmt **st;
		const char *sql;
	} stmts[] = {
		{&d->put, "INSERT OR REPLACE INTO objects (ref, class, data) VALUES (?1, ?2, ?3)"},
		{&d->del, "DELETE FROM objects WHERE ref = ?1"},
		{&d->setgen, "INSERT OR REPLACE INTO meta (key, value) VALUES ('generation', ?1)"},
		{&d->setidx, "INSERT OR REPLACE INTO meta (key, value) VALUES ('log-index', ?1)"},
		{&d->begin, "BEGIN IMMEDIATE"},
		{&d->commit, "COMMIT"},
		{&d->rollback, "ROLLBACK"},
	};
	for (size_t i = 0; i < sizeof stmts / sizeof stmts[0]; i++) {
		if (sqlite3_prepare_v3(d->sql, stmts[i].sql, -1, SQLITE_PREPARE_PERSISTENT,
				       stmts[i].st, NULL) != SQLITE_OK) {
			sql_fail(d, err, "prepare");
			durable_close(d);
			return NULL;
		}
	}
	return d;
}

void durable_close(struct durable *d)
{
	if (!d)
		return;
	sqlite3_stmt *all[] = {d->put, d->del, d->setgen, d->setidx, d->begin, d->commit, d->rollback};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		sqlite3_finalize(all[i]);
	sqlite3_close(d->sql);
	free(d);
}

static int step(sqlite3_stmt *st)
{
	int r = sqlite3_step(st);
	sqlite3_reset(st);
	return r == SQLITE_DONE || r == SQLITE_ROW ? 0 : -1;
}

static void row_json(struct strbuf *sb, const struct db_obj *o)
{
	const struct sc_class *c = &sc_classes[o->cls];
	sb_putc(sb, '{');
	bool first = true;
	for (int f = 0; f < c->nfields; f++) {
		if (sc_field_is_derived(&c->fields[f]))
			continue;
		if (!first)
			sb_putc(sb, ',');
		first = false;
		sb_json_string(sb, c->fields[f].name);
		sb_putc(sb, ':');
		jsonv_write(sb, &o->f[f]);
	}
	sb_putc(sb, '}');
}

int durable_write(struct durable *d, struct db *db, struct db_obj **objs, size_t n,
		  uint64_t gen, struct xerr *err)
{
	bool any = false;
	for (size_t i = 0; i < n && !any; i++)
		any = sc_classes[objs[i]->cls].persist;
	if (!any)
		return 0;
	if (step(d->begin) < 0)
		return sql_fail(d, err, "begin");
	struct strbuf sb = STRBUF_INIT;
	for (size_t i = 0; i < n; i++) {
		struct db_obj *o = objs[i];
		if (!sc_classes[o->cls].persist)
			continue;
		int r;
		if (o->deleted) {
			sqlite3_bind_text(d->del, 1, o->ref, -1, SQLITE_STATIC);
			r = step(d->del);
		} else {
			sb_reset(&sb);
			row_json(&sb, o);
			sqlite3_bind_text(d->put, 1, o->ref, -1, SQLITE_STATIC);
			sqlite3_bind_text(d->put, 2, sc_classes[o->cls].name, -1, SQLITE_STATIC);
			sqlite3_bind_text(d->put, 3, sb.buf, (int)sb.len, SQLITE_STATIC);
			r = step(d->put);
		}
		if (r < 0) {
			sb_free(&sb);
			sql_fail(d, err, "write");
			step(d->rollback);
			return -1;
		}
	}
	sb_free(&sb);
	char g[32];
	snprintf(g, sizeof g, "%llu", (unsigned long long)gen);
	sqlite3_bind_text(d->setgen, 1, g, -1, SQLITE_TRANSIENT);
	/* the rows' encoding grew buffers: an injected allocation failure there */
	if (fault_alloc_failed()) {
		xerr_internal(err, "out of memory writing the database");
		step(d->rollback);
		return -1;
	}
	char li[32];
	snprintf(li, sizeof li, "%llu", (unsigned long long)db->log_index);
	sqlite3_bind_text(d->setidx, 1, li, -1, SQLITE_TRANSIENT);
	if (step(d->setgen) < 0 || (db->log_index && step(d->setidx) < 0) || fault_hit(FAULT_SQL_COMMIT) ||
	    step(d->commit) < 0) {
		sql_fail(d, err, "commit");
		step(d->rollback);
		return -1;
	}
	return 0;
}

int durable_write_entry(struct durable *d, const char *data, size_t len, uint64_t gen, uint64_t index,
			struct xerr *err)
{
	if (step(d->begin) < 0)
		return sql_fail(d, err, "begin");
	const char *end = data + len;
	for (const char *line = data; line < end && *line;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		const char *t1 = memchr(line, '\t', (size_t)(le - line));
		const char *t2 = t1 ? memchr(t1 + 1, '\t', (size_t)(le - t1 - 1)) : NULL;
		const char *t3 = t2 ? memchr(t2 + 1, '\t', (size_t)(le - t2 - 1)) : NULL;
		int r = 0;
		if (t1 && t2 && line[0] == 'D') {
			sqlite3_bind_text(d->del, 1, t1 + 1, (int)(t2 - t1 - 1), SQLITE_TRANSIENT);
			r = step(d->del);
		} else if (t1 && t2 && t3 && line[0] == 'P') {
			sqlite3_bind_text(d->put, 1, t1 + 1, (int)(t2 - t1 - 1), SQLITE_TRANSIENT);
			sqlite3_bind_text(d->put, 2, t2 + 1, (int)(t3 - t2 - 1), SQLITE_TRANSIENT);
			sqlite3_bind_text(d->put, 3, t3 + 1, (int)(le - t3 - 1), SQLITE_TRANSIENT);
			r = step(d->put);
		}
		if (r < 0) {
			sql_fail(d, err, "write");
			step(d->rollback);
			return -1;
		}
		line = nl ? nl + 1 : end;
	}
	char g[32], li[32];
	snprintf(g, sizeof g, "%llu", (unsigned long long)gen);
	snprintf(li, sizeof li, "%llu", (unsigned long long)index);
	sqlite3_bind_text(d->setgen, 1, g, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(d->setidx, 1, li, -1, SQLITE_TRANSIENT);
	if (step(d->setgen) < 0 || (index && step(d->setidx) < 0) || step(d->commit) < 0) {
		sql_fail(d, err, "commit");
		step(d->rollback);
		return -1;
	}
	return 0;
}

/* ---- a fast reader for the rows this file writes ----
 * Loading a big store was mostly jansson building a tree of every row
 * only for it to be copied into xv and freed. The rows were written by
 * jsonv_write, so a reader of that JSON straight into xv does: objects
 * of ASCII keys, ASCII strings with the usual escapes, integers, reals,
 * true/false/null. Anything else (other bytes, \u escapes past ASCII or
 * of NUL, integers out of range, nesting past 64) is left to jansson,
 * which reads the row as before; the two give the same values. */

#define ROW_MAX_DEPTH 64

struct rd {
	const char *p;
};

static void rd_ws(struct rd *r)
{
	while (*r->p == ' ' || *r->p == '\n' || *r->p == '\t' || *r->p == '\r')
		r->p++;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A string after its opening quote, into sb (reset first). */
static int rd_string(struct rd *r, struct strbuf *sb)
{
	sb_reset(sb);
	const char *run = r->p;
	for (;;) {
		unsigned char c = (unsigned char)*r->p;
		if (c == '"') {
			sb_add(sb, run, (size_t)(r->p - run));
			r->p++;
			return 0;
		}
		if (c < 0x20 || c >= 0x80)
			return -1;
		if (c != '\\') {
			r->p++;
			continue;
		}
		sb_add(sb, run, (size_t)(r->p - run));
		char e = r->p[1], out;
		r->p += 2;
		switch (e) {
		case '"': out = '"'; break;
		case '\\': out = '\\'; break;
		case '/': out = '/'; break;
		case 'b': out = '\b'; break;
		case 'f': out = '\f'; break;
		case 'n': out = '\n'; break;
		case 'r': out = '\r'; break;
		case 't': out = '\t'; break;
		case 'u': {
			int v = 0;
			for (int i = 0; i < 4; i++) {
				int h = hexval(r->p[i]);
				if (h < 0)
					return -1;
				v = v * 16 + h;
			}
			if (v == 0 || v >= 0x80)
				return -1;
			r->p += 4;
			out = (char)v;
			break;
		}
		default:
			return -1;
		}
		sb_putc(sb, out);
		run = r->p;
	}
}

static int rd_value(struct rd *r, xv *out, struct strbuf *tmp, int depth);

static int rd_number(struct rd *r, xv *out)
{
	const char *s = r->p;
	const char *q = s;
	if (*q == '-')
		q++;
	if (*q < '0' || *q > '9')
		return -1;
	if (*q == '0' && q[1] >= '0' && q[1] <= '9')
		return -1; /* leading zeros: not JSON */
	while (*q >= '0' && *q <= '9')
		q++;
	bool real = false;
	if (*q == '.') {
		real = true;
		q++;
		if (*q < '0' || *q > '9')
			return -1;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	if (*q == 'e' || *q == 'E') {
		real = true;
		q++;
		if (*q == '+' || *q == '-')
			q++;
		if (*q < '0' || *q > '9')
			return -1;
		while (*q >= '0' && *q <= '9')
			q++;
	}
	char *end;
	errno = 0;
	if (real) {
		double d = strtod(s, &end);
		if (end != q || errno == ERANGE)
			return -1;
		*out = xv_float(d);
	} else {
		long long i = strtoll(s, &end, 10);
		if (end != q || errno == ERANGE)
			return -1;
		*out = xv_int(i);
	}
	r->p = q;
	return 0;
}

static int rd_value(struct rd *r, xv *out, struct strbuf *tmp, int depth)
{
	rd_ws(r);
	if (depth > ROW_MAX_DEPTH)
		return -1;
	switch (*r->p) {
	case '"':
		r->p++;
		if (rd_string(r, tmp) < 0)
			return -1;
		*out = xv_strn(tmp->buf ? tmp->buf : "", tmp->len);
		return 0;
	case 't':
		if (strncmp(r->p, "true", 4))
			return -1;
		r->p += 4;
		*out = xv_bool(true);
		return 0;
	case 'f':
		if (strncmp(r->p, "false", 5))
			return -1;
		r->p += 5;
		*out = xv_bool(false);
		return 0;
	case 'n':
		if (strncmp(r->p, "null", 4))
			return -1;
		r->p += 4;
		*out = XV_NIL_INIT;
		return 0;
	case '[':
		r->p++;
		*out = xv_arr_new();
		rd_ws(r);
		if (*r->p == ']') {
			r->p++;
			return 0;
		}
		for (;;) {
			xv v;
			if (rd_value(r, &v, tmp, depth + 1) < 0)
				goto fail;
			xv_arr_push(out, v);
			rd_ws(r);
			if (*r->p == ',') {
				r->p++;
				continue;
			}
			if (*r->p++ == ']')
				return 0;
			goto fail;
		}
	case '{':
		r->p++;
		*out = xv_map_new();
		rd_ws(r);
		if (*r->p == '}') {
			r->p++;
			return 0;
		}
		for (;;) {
			rd_ws(r);
			if (*r->p++ != '"' || rd_string(r, tmp) < 0)
				goto fail;
			char *key = sb_detach(tmp);
			rd_ws(r);
			xv v;
			if (*r->p++ != ':' || rd_value(r, &v, tmp, depth + 1) < 0) {
				free(key);
				goto fail;
			}
			/* a key given twice keeps its last value, as jansson does */
			if (xv_map_get(out, key))
				xv_map_set(out, key, v);
			else
				xv_map_append(out, key, v);
			free(key);
			rd_ws(r);
			if (*r->p == ',') {
				r->p++;
				continue;
			}
			if (*r->p++ == '}')
				return 0;
			goto fail;
		}
	default:
		return rd_number(r, out);
	}
fail:
	xv_free(out);
	return -1;
}

struct row_field {
	int f;
	xv v;
};

/* The row's known, stored fields with their values, in the row's order;
 * -1 (nothing to free) when the fast reader does not take this row. */
static int rd_row(const char *data, int cls, struct row_field *fields, size_t max, size_t *n)
{
	const struct sc_class *c = &sc_classes[cls];
	struct rd r = {data};
	struct strbuf tmp = STRBUF_INIT;
	*n = 0;
	rd_ws(&r);
	if (*r.p++ != '{')
		return -1;
	rd_ws(&r);
	if (*r.p == '}') {
		r.p++;
		goto end;
	}
	for (;;) {
		rd_ws(&r);
		if (*r.p++ != '"' || rd_string(&r, &tmp) < 0)
			goto fail;
		int f = sc_field_find(cls, tmp.buf ? tmp.buf : "");
		rd_ws(&r);
		xv v;
		if (*r.p++ != ':' || rd_value(&r, &v, &tmp, 1) < 0)
			goto fail;
		if (f < 0 || sc_field_is_derived(&c->fields[f]) || *n == max)
			xv_free(&v);
		else
			fields[(*n)++] = (struct row_field){f, v};
		rd_ws(&r);
		if (*r.p == ',') {
			r.p++;
			continue;
		}
		if (*r.p++ == '}')
			break;
		goto fail;
	}
end:
	rd_ws(&r);
	if (*r.p)
		goto fail;
	sb_free(&tmp);
	return 0;
fail:
	for (size_t i = 0; i < *n; i++)
		xv_free(&fields[i].v);
	*n = 0;
	sb_free(&tmp);
	return -1;
}

/* The same fields read with jansson. */
static int jansson_row(const char *ref, const char *data, int cls, struct row_field *fields, size_t max,
		       size_t *n)
{
	const struct sc_class *c = &sc_classes[cls];
	*n = 0;
	json_error_t je;
	json_t *j = json_loads(data, 0, &je);
	if (!j || !json_is_object(j)) {
		log_warn("db: dropping unreadable row %s: %s", ref, je.text);
		json_decref(j);
		return -1;
	}
	const char *k;
	json_t *item;
	json_object_foreach(j, k, item) {
		int f = sc_field_find(cls, k);
		if (f < 0 || sc_field_is_derived(&c->fields[f]) || *n == max)
			continue;
		xv v;
		struct xerr e = XERR_INIT;
		if (jsonv_from_jansson(item, &v, &e) < 0) {
			log_warn("db: %s.%s of %s unreadable, using default", c->name, k, ref);
			xerr_clear(&e);
			continue;
		}
		fields[(*n)++] = (struct row_field){f, v};
	}
	json_decref(j);
	return 0;
}

static int load_row(struct db *db, const char *ref, const char *cls_name, const char *data,
		    uint64_t gen)
{
	int cls = sc_class_find(cls_name);
	if (cls < 0) {
		log_warn("db: dropping %s of unknown class %s", ref, cls_name);
		return 0;
	}
	const struct sc_class *c = &sc_classes[cls];
	/* room for every field twice: a row may name one more than once */
	size_t max = 2 * (size_t)c->nfields, n;
	struct row_field *fields = xmalloc(max * sizeof *fields);
	if (rd_row(data, cls, fields, max, &n) < 0 && jansson_row(ref, data, cls, fields, max, &n) < 0) {
		free(fields);
		return 0;
	}
	struct db_obj *o = db_obj_new_raw(db, cls, ref);
	for (size_t i = 0; i < n; i++) {
		int f = fields[i].f;
		xv v = fields[i].v;
		struct xerr e = XERR_INIT;
		if (sc_coerce(c->fields[f].type, c->fields[f].name, &v, &e) < 0) {
			log_warn("db: %s.%s of %s unreadable, using default", cls_name, c->fields[f].name, ref);
			xv_free(&v);
			xerr_clear(&e);
			continue;
		}
		xv_free(&o->f[f]);
		o->f[f] = v;
	}
	free(fields);
	db_obj_insert_loaded(db, o, gen);
	return 0;
}

int durable_load(struct durable *d, struct db *db, struct xerr *err)
{
	sqlite3_stmt *st;
	uint64_t gen = 0;
	if (sqlite3_prepare_v2(d->sql, "SELECT value FROM meta WHERE key='generation'", -1, &st,
			       NULL) != SQLITE_OK)
		return sql_fail(d, err, "load");
	if (sqlite3_step(st) == SQLITE_ROW)
		gen = strtoull((const char *)sqlite3_column_text(st, 0), NULL, 10);
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(d->sql, "SELECT ref, class, data FROM objects", -1, &st, NULL) !=
	    SQLITE_OK)
		return sql_fail(d, err, "load");
	size_t n = 0;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		load_row(db, (const char *)sqlite3_column_text(st, 0),
			 (const char *)sqlite3_column_text(st, 1),
			 (const char *)sqlite3_column_text(st, 2), gen);
		n++;
	}
	sqlite3_finalize(st);
	if (r != SQLITE_DONE)
		return sql_fail(d, err, "load");
	db->gen = gen;
	log_info("db: loaded %zu objects at generation %llu", n, (unsigned long long)gen);
	return 0;
}

/* ---- entries of the replicated log (durable.h) ---- */

size_t durable_entry_encode(struct db_obj **objs, size_t n, struct strbuf *sb)
{
	size_t rows = 0;
	for (size_t i = 0; i < n; i++) {
		struct db_obj *o = objs[i];
		if (!sc_classes[o->cls].persist)
			continue;
		sb_putc(sb, o->deleted ? 'D' : 'P');
		sb_putc(sb, '\t');
		sb_puts(sb, o->ref);
		sb_putc(sb, '\t');
		sb_puts(sb, sc_classes[o->cls].name);
		if (!o->deleted) {
			sb_putc(sb, '\t');
			row_json(sb, o); /* jsonv_write escapes control characters */
		}
		sb_putc(sb, '\n');
		rows++;
	}
	return rows;
}

static int apply_row(struct db_txn *t, char kind, const char *ref, const char *cls_name,
		     const char *data, struct xerr *err)
{
	struct db *db = db_txn_db(t);
	int cls = sc_class_find(cls_name);
	if (cls < 0) {
		log_warn("db: entry names %s of unknown class %s", ref, cls_name);
		return 0;
	}
	struct db_obj *o = db_lookup(db, ref);
	if (o && o->cls != cls)
		return xerr_internal(err, "entry: %s is a %s, not a %s", ref, sc_classes[o->cls].name,
				     cls_name);
	if (kind == 'D') {
		if (o)
			db_delete(t, o);
		return 0;
	}
	const struct sc_class *c = &sc_classes[cls];
	size_t max = 2 * (size_t)c->nfields, n;
	struct row_field *fields = xmalloc(max * sizeof *fields);
	if (rd_row(data, cls, fields, max, &n) < 0 && jansson_row(ref, data, cls, fields, max, &n) < 0) {
		free(fields);
		return xerr_internal(err, "entry: unreadable row %s", ref);
	}
	if (!o)
		o = db_create(t, cls, ref);
	/* every stored field: the row's value, or the default when it has none */
	xv *vals = xcalloc((size_t)c->nfields + 1, sizeof(xv));
	bool *have = xcalloc((size_t)c->nfields + 1, sizeof(bool));
	for (size_t i = 0; i < n; i++) {
		int f = fields[i].f;
		xv v = fields[i].v;
		struct xerr e = XERR_INIT;
		if (sc_coerce(c->fields[f].type, c->fields[f].name, &v, &e) < 0) {
			xv_free(&v);
			xerr_clear(&e);
			continue;
		}
		if (have[f])
			xv_free(&vals[f]);
		vals[f] = v;
		have[f] = true;
	}
	free(fields);
	for (int f = 0; f < c->nfields; f++) {
		if (sc_field_is_derived(&c->fields[f]))
			continue;
		db_set(t, o, f, have[f] ? vals[f] : xv_copy(sc_field_default(cls, f)));
	}
	free(vals);
	free(have);
	return 0;
}

/* One line of an entry: P (a whole row put) or D (a row deleted), the
 * row's ref and class, its JSON. */
struct line {
	char kind;
	const char *ref, *cls, *data;
	size_t pos; /* its place among a batch's lines */
};

/* Splits text (modified in place) into lines appended to *v. */
static int split_entry(char *text, struct line **v, size_t *n, size_t *cap, struct xerr *err)
{
	for (char *line = text, *next; *line; line = next) {
		char *nl = strchr(line, '\n');
		next = nl ? nl + 1 : line + strlen(line);
		if (nl)
			*nl = 0;
		char *f[4] = {line, NULL, NULL, NULL};
		for (int i = 1; i < 4; i++) {
			char *tab = f[i - 1] ? strchr(f[i - 1], '\t') : NULL;
			if (!tab)
				break;
			*tab = 0;
			f[i] = tab + 1;
		}
		if (!f[1] || !f[2] || strlen(f[0]) != 1 || (f[0][0] != 'P' && f[0][0] != 'D') ||
		    (f[0][0] == 'P' && !f[3]))
			return xerr_internal(err, "entry: malformed line");
		if (*n == *cap) {
			*cap = *cap ? *cap * 2 : 16;
			*v = xrealloc(*v, *cap * sizeof **v);
		}
		(*v)[*n] = (struct line){f[0][0], f[1], f[2], f[3], *n};
		(*n)++;
	}
	return 0;
}

static int line_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	int c = strcmp(x->ref, y->ref);
	if (!c)
		c = strcmp(x->cls, y->cls);
	return c ? c : (x->pos > y->pos) - (x->pos < y->pos);
}

static int pos_cmp(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	return (x->pos > y->pos) - (x->pos < y->pos);
}

/* The lines of entries (copied into texts[]) applied into t; with
 * last_only, a row that several lines write is written once, as the last
 * of them leaves it (lines put or delete whole rows). */
static int lines_into(struct db_txn *t, struct line *v, size_t n, bool last_only, struct xerr *err)
{
	size_t m = n;
	if (last_only && n > 1) {
		qsort(v, n, sizeof *v, line_cmp);
		m = 0;
		for (size_t i = 0; i < n; i++)
			if (i + 1 == n || strcmp(v[i].ref, v[i + 1].ref) || strcmp(v[i].cls, v[i + 1].cls))
				v[m++] = v[i];
		qsort(v, m, sizeof *v, pos_cmp);
	}
	for (size_t i = 0; i < m; i++)
		if (apply_row(t, v[i].kind, v[i].ref, v[i].cls, v[i].data, err) < 0)
			return -1;
	return 0;
}

static int apply_entry(struct db *db, const char *data, size_t len, bool from_log, uint64_t index,
		       struct xerr *err)
{
	char *text = xstrndup(data, len);
	struct line *v = NULL;
	size_t n = 0, cap = 0;
	struct db_txn *t = from_log ? db_begin_log(db) : db_begin(db);
	if (index)
		db->log_index = index;
	int rc = split_entry(text, &v, &n, &cap, err);
	if (rc == 0)
		rc = lines_into(t, v, n, false, err);
	free(v);
	free(text);
	if (rc < 0) {
		db_abort(t);
		return -1;
	}
	return db_commit(t, err);
}

int db_apply_entries_at(struct db *db, const struct db_entry *e, size_t n, struct xerr *err)
{
	if (!n)
		return 0;
	char **texts = xcalloc(n, sizeof *texts);
	struct line *v = NULL;
	size_t nl = 0, cap = 0;
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		texts[i] = xstrndup(e[i].data, e[i].len);
		rc = split_entry(texts[i], &v, &nl, &cap, err);
	}
	if (rc == 0) {
		struct db_txn *t = db_begin_log(db);
		db->log_index = e[n - 1].index;
		rc = lines_into(t, v, nl, true, err);
		if (rc < 0)
			db_abort(t);
		else
			rc = db_commit(t, err);
	}
	for (size_t i = 0; i < n; i++)
		free(texts[i]);
	free(texts);
	free(v);
	return rc;
}

int db_apply_entry(struct db *db, const char *data, size_t len, struct xerr *err)
{
	return apply_entry(db, data, len, true, 0, err);
}

int db_write_entry(struct db *db, const char *data, size_t len, struct xerr *err)
{
	return apply_entry(db, data, len, false, 0, err);
}

int db_apply_entry_at(struct db *db, const char *data, size_t len, uint64_t index, struct xerr *err)
{
	return apply_entry(db, data, len, true, index, err);
}

/* ---- snapshots (durable.h) ---- */

static uint64_t meta_log_index(sqlite3 *sql)
{
	sqlite3_stmt *st;
	uint64_t idx = 0;
	if (sqlite3_prepare_v2(sql, "SELECT value FROM meta WHERE key='log-index'", -1, &st, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		idx = strtoull((const char *)sqlite3_column_text(st, 0), NULL, 10);
	sqlite3_finalize(st);
	return idx;
}

uint64_t db_stored_log_index(struct db *db)
{
	return db->durable ? meta_log_index(db->durable->sql) : 0;
}

void db_forget_log_index(struct db *db)
{
	pthread_rwlock_wrlock(&db->lock);
	db->log_index = 0;
	if (db->durable && sqlite3_exec(db->durable->sql, "DELETE FROM meta WHERE key='log-index'", NULL, NULL,
					NULL) != SQLITE_OK)
		log_warn("db: cannot forget the log index: %s", sqlite3_errmsg(db->durable->sql));
	pthread_rwlock_unlock(&db->lock);
}

int durable_image(const char *path, void *(*alloc)(size_t), void **image, size_t *len,
		  uint64_t *index, struct xerr *err)
{
	sqlite3 *sql = NULL;
	int rc = -1;
	if (sqlite3_open_v2(path, &sql, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		xerr_internal(err, "database image: %s", sql ? sqlite3_errmsg(sql) : "open");
		sqlite3_close(sql);
		return -1;
	}
	sqlite3_busy_timeout(sql, 5000);
	/* one read transaction: the pages and the index are of one commit */
	if (sqlite3_exec(sql, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		xerr_internal(err, "database image: %s", sqlite3_errmsg(sql));
		goto out;
	}
	*index = meta_log_index(sql);
	sqlite3_int64 size = 0;
	unsigned char *img = sqlite3_serialize(sql, "main", &size, 0);
	if (!img) {
		xerr_internal(err, "database image: cannot serialize %s", path);
		goto out;
	}
	*image = alloc((size_t)size);
	if (!*image) {
		sqlite3_free(img);
		xerr_internal(err, "database image: out of memory");
		goto out;
	}
	memcpy(*image, img, (size_t)size);
	sqlite3_free(img);
	*len = (size_t)size;
	rc = 0;
out:
	sqlite3_exec(sql, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(sql);
	return rc;
}

static int ref_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int db_install_image(struct db *db, const void *image, size_t len, uint64_t have, uint64_t *index,
		     struct xerr *err)
{
	if (len < 100 || len > (size_t)INT64_MAX)
		return xerr_internal(err, "database image: %zu bytes is no SQLite database", len);
	unsigned char *copy = sqlite3_malloc64(len);
	if (!copy)
		return xerr_internal(err, "database image: out of memory");
	memcpy(copy, image, len);
	/* an image of a WAL database: read it as a rollback-journal one (the
	 * file format is the same; memory databases have no WAL) */
	if (copy[18] == 2 && copy[19] == 2)
		copy[18] = copy[19] = 1;
	sqlite3 *m = NULL;
	if (sqlite3_open_v2(":memory:", &m, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK) {
		sqlite3_free(copy);
		sqlite3_close(m);
		return xerr_internal(err, "database image: cannot open a memory database");
	}
	if (sqlite3_deserialize(m, "main", copy, (sqlite3_int64)len, (sqlite3_int64)len,
				SQLITE_DESERIALIZE_FREEONCLOSE | SQLITE_DESERIALIZE_READONLY) != SQLITE_OK) {
		sqlite3_close(m);
		return xerr_internal(err, "database image: not a SQLite database");
	}
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(m, "SELECT ref, class, data FROM objects ORDER BY ref", -1, &st, NULL) !=
	    SQLITE_OK) {
		xerr_internal(err, "database image: %s", sqlite3_errmsg(m));
		sqlite3_close(m);
		return -1;
	}
	uint64_t idx = meta_log_index(m);
	if (index)
		*index = idx;
	if (idx && idx <= have) { /* the store holds as much already */
		sqlite3_finalize(st);
		sqlite3_close(m);
		return 0;
	}
	size_t nrefs = 0, cap = 0;
	char **refs = NULL;
	struct db_txn *t = db_begin_log(db);
	int rc = 0, r;
	while (rc == 0 && (r = sqlite3_step(st)) == SQLITE_ROW) {
		const char *ref = (const char *)sqlite3_column_text(st, 0);
		const char *cls = (const char *)sqlite3_column_text(st, 1);
		const char *data = (const char *)sqlite3_column_text(st, 2);
		if (!ref || !cls || !data)
			continue;
		if (nrefs == cap) {
			cap = cap ? 2 * cap : 256;
			refs = xrealloc(refs, cap * sizeof *refs);
		}
		refs[nrefs++] = xstrdup(ref);
		rc = apply_row(t, 'P', ref, cls, data, err);
	}
	if (rc == 0 && r != SQLITE_DONE)
		rc = xerr_internal(err, "database image: %s", sqlite3_errmsg(m));
	sqlite3_finalize(st);
	sqlite3_close(m);
	if (rc == 0) {
		qsort(refs, nrefs, sizeof *refs, ref_cmp);
		/* rows this store has and the image has not */
		struct db_obj **gone = NULL;
		size_t ngone = 0, gcap = 0;
		for (int c = 0; c < sc_nclasses; c++) {
			if (!sc_classes[c].persist)
				continue;
			for (struct db_obj *o = db_first(db, c); o; o = db_next(o)) {
				const char *key = o->ref;
				if (bsearch(&key, refs, nrefs, sizeof *refs, ref_cmp))
					continue;
				if (ngone == gcap) {
					gcap = gcap ? 2 * gcap : 64;
					gone = xrealloc(gone, gcap * sizeof *gone);
				}
				gone[ngone++] = o;
			}
		}
		for (size_t i = 0; i < ngone; i++)
			db_delete(t, gone[i]);
		free(gone);
	}
	for (size_t i = 0; i < nrefs; i++)
		free(refs[i]);
	free(refs);
	if (rc < 0) {
		db_abort(t);
		return -1;
	}
	db->log_index = idx;
	if (index)
		*index = idx;
	return db_commit(t, err);
}
