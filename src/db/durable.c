/* durable: rows as JSON objects keyed by field name, so a schema change
 * (a field added or retired) needs no migration: unknown names are
 * ignored on load and missing ones take their defaults. */
#include "durable.h"
#include "db_int.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../base/jsonv.h"

#include <jansson.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

struct durable {
	sqlite3 *sql;
	sqlite3_stmt *put, *del, *setgen, *begin, *commit, *rollback;
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
	sqlite3_stmt *all[] = {d->put, d->del, d->setgen, d->begin, d->commit, d->rollback};
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
	(void)db;
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
	if (step(d->setgen) < 0 || step(d->commit) < 0) {
		sql_fail(d, err, "commit");
		step(d->rollback);
		return -1;
	}
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
	json_error_t je;
	json_t *j = json_loads(data, 0, &je);
	if (!j || !json_is_object(j)) {
		log_warn("db: dropping unreadable row %s: %s", ref, je.text);
		json_decref(j);
		return 0;
	}
	struct db_obj *o = db_obj_new_raw(db, cls, ref);
	const struct sc_class *c = &sc_classes[cls];
	const char *k;
	json_t *item;
	json_object_foreach(j, k, item) {
		int f = sc_field_find(cls, k);
		if (f < 0 || sc_field_is_derived(&c->fields[f]))
			continue;
		xv v;
		struct xerr e = XERR_INIT;
		if (jsonv_from_jansson(item, &v, &e) < 0 || sc_coerce(c->fields[f].type, k, &v, &e) < 0) {
			log_warn("db: %s.%s of %s unreadable, using default", cls_name, k, ref);
			xv_free(&v);
			xerr_clear(&e);
			continue;
		}
		xv_free(&o->f[f]);
		o->f[f] = v;
	}
	json_decref(j);
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
