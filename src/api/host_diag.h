/* host_diag: the host's status archive (host_diag.c), which GET
 * /system-status serves and host.bugreport_upload sends. */
#ifndef XENON_API_HOST_DIAG_H
#define XENON_API_HOST_DIAG_H

#include <stddef.h>

#include "server.h"

/* A tar archive (new buffer, *len bytes): the system's identity, the
 * kernel log, the store's records without secrets, the audit log. */
char *system_status_archive(struct server *srv, size_t *len);

#endif
