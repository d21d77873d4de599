/* pool_trust: the pool's trusted CA certificates (<data-dir>/ca) and
 * certificate revocation lists (<data-dir>/crl) kept alike on every host,
 * as xapi keeps them pool-wide: after an install or uninstall the host
 * that ran it brings every other host's set to its own (a host that
 * cannot take it fails the call), a joining host's sets are added to the
 * pool's and it takes the pool's at its join (as xapi merges them), and a host that answers again after missing a change gets
 * them from the master (the heartbeat). */
#ifndef XENON_POOL_TRUST_H
#define XENON_POOL_TRUST_H

#include "server.h"

struct peer;

/* The two sets. */
#define POOL_TRUST_CA "ca"
#define POOL_TRUST_CRL "crl"

/* Held around every change of the files of a set. */
void pool_trust_lock(void);
void pool_trust_unlock(void);

/* This host's set of kind as a map name -> PEM. */
int pool_trust_read(struct server *srv, const char *kind, xv *files, struct xerr *err);
/* Makes this host's set of kind files (a map name -> PEM): each written,
 * the others removed. */
int pool_trust_replace(struct server *srv, const char *kind, const xv *files, struct xerr *err);

/* Every other host of the pool gets this host's two sets; each is tried,
 * and the error of one that failed is returned. 0 on a pool of one. */
int pool_trust_sync(struct server *srv, struct xerr *err);
/* The same for the host href alone. */
int pool_trust_push(struct server *srv, const char *href, struct xerr *err);
/* The master's heartbeat, for a host href that answers: pushes the sets
 * again if a push to it failed since the last that succeeded. */
void pool_trust_retry(struct server *srv, const char *href);
/* At a join (p: the master, logged in): this host's sets are added to
 * the pool's (a name the pool has keeps the pool's), and this host takes
 * the pool's. */
int pool_trust_fetch(struct server *srv, struct peer *p, struct xerr *err);

#endif
