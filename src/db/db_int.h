/* db_int: what the store (db.c) gives its loader (durable.c) and no one
 * else — objects made and indexed outside a transaction, before db_open
 * returns the store. */
#ifndef XENON_DB_INT_H
#define XENON_DB_INT_H

#include <stdint.h>

#include "db.h"

/* An object with default fields and ref (a fresh one if NULL), not yet
 * indexed. */
struct db_obj *db_obj_new_raw(struct db *db, int cls, const char *ref);
/* Indexes o as loaded at generation gen. */
void db_obj_insert_loaded(struct db *db, struct db_obj *o, uint64_t gen);
/* Marks a transaction as applying an entry of the replicated log: its
 * commit does not call the replicator. */
void db_txn_from_log(struct db_txn *t);
/* db_begin for a transaction from the pool's log (db_txn_from_log). */
struct db_txn *db_begin_log(struct db *db);

#endif
