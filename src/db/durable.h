/* durable: the SQLite (WAL) log behind the in-memory store. Each committed
 * transaction rewrites the rows it touched in one SQLite transaction before
 * the commit is acknowledged, so a kill -9 loses nothing acknowledged. */
#ifndef XENON_DURABLE_H
#define XENON_DURABLE_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"

struct durable *durable_open(const char *path, struct xerr *err);
void durable_close(struct durable *d);
/* Loads every row into db (called by db_open before anyone else sees db). */
int durable_load(struct durable *d, struct db *db, struct xerr *err);
int durable_write(struct durable *d, struct db *db, struct db_obj **objs, size_t n,
		  uint64_t gen, struct xerr *err);

#endif
