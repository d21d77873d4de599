/* cert_calls: the host's certificate, the pool's CAs and https-only (see
 * cert_calls.c). */
#ifndef XENON_CERT_CALLS_H
#define XENON_CERT_CALLS_H

#include "../api/server.h"
#include "../base/xerr.h"

/* At start: the host's Certificate object for the certificate it serves,
 * and the https-only setting from its record. */
int cert_startup(struct server *srv, const char *cert_pem, struct xerr *err);
/* Messages for certificates within 30 days of expiry or past it, as xapi
 * raises them (HOST_SERVER_CERTIFICATE_EXPIRING_07/14/30, _EXPIRED, and
 * POOL_CA_CERTIFICATE_… for the pool's CAs); stale ones are removed. At
 * start, after each change and hourly. */
void cert_expiry_check(struct server *srv);
/* At start (cert_startup): client-certificate authentication and TLS
 * verification as the pool's record has them (cert_pool.c). */
void cert_pool_startup(struct server *srv);
/* Client-certificate authentication follows the pool's record on every
 * host (a watcher started by cert_pool_startup); stopped at exit. */
void cert_pool_stop(void);

#endif
