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
/* Writes an entry's rows (durable_entry_encode's text) as one SQLite
 * transaction, with the generation and the entry's log index: a pipelined
 * commit writes what its entry holds, whatever later ones changed since. */
int durable_write_entry(struct durable *d, const char *data, size_t len, uint64_t gen, uint64_t index,
			struct xerr *err);

/* A committed transaction as one entry of the pool's replicated log: one
 * line per changed row of a persistent class, with the row's encoding in
 * SQLite (a JSON object keyed by field name):
 *   P <tab> ref <tab> class <tab> row-json <newline>   (put)
 *   D <tab> ref <tab> class <newline>                  (delete)
 * Returns the number of rows written. */
struct strbuf;
size_t durable_entry_encode(struct db_obj **objs, size_t n, struct strbuf *sb);
/* Applies an entry to db as one transaction (memory, events, and SQLite
 * when db has a durable log), so a host applying the log ends with the
 * rows the leader wrote. A row of an unknown class is skipped. Takes the
 * write lock: not to be called inside a transaction. The transaction
 * comes from the log: it is not handed to the store's replicator. */
int db_apply_entry(struct db *db, const char *data, size_t len, struct xerr *err);
/* The same rows written as a transaction of this host: replicated like any
 * other commit when the store has a replicator (a pool master recreating a
 * joining host's records). */
int db_write_entry(struct db *db, const char *data, size_t len, struct xerr *err);

/* The same, for the entry at index of the pool's log: its index is
 * written to SQLite with its rows (struct db's log_index). */
int db_apply_entry_at(struct db *db, const char *data, size_t len, uint64_t index, struct xerr *err);

/* Consecutive entries of the log in one transaction (one write to
 * SQLite), the last one's index written with them; on an error none is. */
struct db_entry {
	const char *data;
	size_t len;
	uint64_t index;
};
int db_apply_entries_at(struct db *db, const struct db_entry *e, size_t n, struct xerr *err);

/* ---- snapshots of the pool's log: the SQLite database itself ----
 * The index of the last log entry whose rows SQLite holds (meta
 * 'log-index'; 0 when none or no durable log). Call before any write or
 * with the store locked. */
uint64_t db_stored_log_index(struct db *db);
/* Forgets the log index (the pool's log this store followed is gone):
 * takes the write lock. */
void db_forget_log_index(struct db *db);
/* A consistent image of the SQLite file at path (one read transaction, in
 * an allocation of alloc's), and the log index it holds. */
int durable_image(const char *path, void *(*alloc)(size_t), void **image, size_t *len,
		  uint64_t *index, struct xerr *err);
/* Makes the store what image holds, as one transaction from the log:
 * every row of the image put, every row of a persistent class missing
 * from it deleted, SQLite rewritten in the same SQLite transaction with
 * the image's log index (returned in index). Nothing changes when the
 * image's index is at most have (the store holds as much). Takes the
 * write lock. */
int db_install_image(struct db *db, const void *image, size_t len, uint64_t have, uint64_t *index,
		     struct xerr *err);

#endif
