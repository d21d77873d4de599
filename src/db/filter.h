/* filter: xapi's get_all_records_where expressions —
 *   true | false | not E | E and E | E or E | (E) | V = V | V <> V
 * where V is `field "name__label"` (DB column, namespaces joined by __)
 * or a "literal". Values compare as the strings xapi's DB would hold. */
#ifndef XENON_FILTER_H
#define XENON_FILTER_H

#include <stdbool.h>

#include "db.h"

struct db_filter;

/* Returns NULL with err set (INVALID_VALUE) on a syntax error. */
struct db_filter *db_filter_parse(const char *expr, int cls, struct xerr *err);
bool db_filter_eval(const struct db_filter *f, struct db *db, const struct db_obj *o);
void db_filter_free(struct db_filter *f);
/* The value of a field as a DB string ("true", "42", refs, "('a' 'b')"). */
char *db_field_string(struct db *db, const struct db_obj *o, int field);

#endif
