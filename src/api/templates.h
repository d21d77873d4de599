/* templates: the default VM templates a host ships (XCP-ng 8.3's set, from
 * guest-templates-json), kept as one table and written as is_a_template VMs. */
#ifndef XENON_TEMPLATES_H
#define XENON_TEMPLATES_H

#include <stddef.h>

#include "../db/db.h"

/* Creates, inside the caller's transaction, every default template whose
 * name_label no template (user-made or default) carries; existing ones are
 * left untouched. Returns how many were created. */
int templates_ensure(struct db_txn *t);

/* The table, for tests and listings. */
size_t templates_count(void);
const char *templates_name(size_t i);

#endif
