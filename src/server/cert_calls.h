/* cert_calls: the host's certificate, the pool's CAs and https-only (see
 * cert_calls.c). */
#ifndef XENON_CERT_CALLS_H
#define XENON_CERT_CALLS_H

#include "../api/server.h"
#include "../base/xerr.h"

/* At start: the host's Certificate object for the certificate it serves,
 * and the https-only setting from its record. */
int cert_startup(struct server *srv, const char *cert_pem, struct xerr *err);

#endif
