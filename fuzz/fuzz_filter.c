/* The filter language of get_all_records_where and event.from's class
 * filters: the first byte picks the class, the rest is the expression,
 * which is parsed and, when it parses, evaluated on a record of that class
 * (one of each, made once in an in-memory store). */
#include "db/db.h"
#include "db/filter.h"
#include "schema/schema.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct db *db;
static struct db_obj **objs;

static void setup(void)
{
	struct xerr err = {0};
	db = db_open(NULL, &err);
	if (!db)
		abort();
	objs = calloc((size_t)sc_nclasses, sizeof *objs);
	struct db_txn *t = db_begin(db);
	char refs[64][REF_STRLEN + 1];
	for (int c = 0; c < sc_nclasses && c < 64; c++)
		memcpy(refs[c], db_create(t, c, NULL)->ref, REF_STRLEN + 1);
	if (db_commit(t, &err) < 0)
		abort();
	for (int c = 0; c < sc_nclasses && c < 64; c++)
		objs[c] = db_lookup_cls(db, c, refs[c]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	if (!db)
		setup();
	int cls = data[0] % (sc_nclasses < 64 ? sc_nclasses : 64);
	char *expr = malloc(size);
	memcpy(expr, data + 1, size - 1);
	expr[size - 1] = '\0';
	struct xerr err = {0};
	struct db_filter *f = db_filter_parse(expr, cls, &err);
	if (f) {
		db_rdlock(db);
		if (objs[cls])
			(void)db_filter_eval(f, db, objs[cls]);
		db_unlock(db);
		db_filter_free(f);
	}
	xerr_clear(&err);
	free(expr);
	return 0;
}
