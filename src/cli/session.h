/* session: xe's connection to the server — the record cache behind the
 * resolver (so a ref prints as a uuid for the price of one call per class
 * or object), lookups by uuid, and the special params that need calls. */
#ifndef XENON_XE_SESSION_H
#define XENON_XE_SESSION_H

#include "base/hmap.h"
#include "client/client.h"
#include "records.h"

struct xe_session {
	struct xe_resolver r; /* first: the resolver callbacks find us from it */
	struct xc *c;
	struct hmap cache; /* ref -> struct xs_entry */
	int *misses;       /* per class: single fetches so far */
	bool *loaded;      /* per class: every record is cached */
};

void xs_init(struct xe_session *s, struct xc *c);
void xs_free(struct xe_session *s);
/* Every object of a class: an XV_MAP from ref to record (owned copy,
 * fields coerced to their schema types). Also fills the cache. */
int xs_get_all(struct xe_session *s, int cls, xv *out, struct xerr *err);
/* One record, fetched fresh (owned). */
int xs_get_record(struct xe_session *s, int cls, const char *ref, xv *out, struct xerr *err);
/* <Class>.get_by_uuid (owned ref). */
int xs_by_uuid(struct xe_session *s, int cls, const char *uuid, char **ref, struct xerr *err);
/* Forgets cached records (after a change the command made). */
void xs_invalidate(struct xe_session *s);
/* "uuid (name)" for a ref of an unknown class, trying the common classes;
 * NULL if none knows it. Used to make error parameters readable. */
char *xs_describe_ref(struct xe_session *s, const char *ref);
/* Calls "Class.method" with the session prepended and string arguments
 * (NULL-ended). */
int xs_call(struct xe_session *s, const char *method, xv *result, struct xerr *err, ...)
	__attribute__((sentinel));

#endif
