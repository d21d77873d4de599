/* audit: the RBAC audit log, as xapi keeps it. One line per call that
 * changes something and per refused call (denied by RBAC, or a failed
 * login): when, the session's track id, the subject (LOCAL_SUPERUSER for
 * root), the user, ALLOWED or DENIED, OK or the error, the call and its
 * arguments with secrets elided, the originator and client address. The
 * lines go to <data-dir>/audit.log, rotated by size (audit.log.1 … .N),
 * and to the daemon's log. GET /audit_log?since=<time> serves them. */
#ifndef XENON_AUDIT_H
#define XENON_AUDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "../base/xerr.h"
#include "http_route.h"

struct rpc_call;

/* Opens (creates) dir/audit.log; rotates past max_bytes keeping keep old
 * files. */
int audit_open(const char *dir, size_t max_bytes, int keep, struct xerr *err);
void audit_close(void);
/* After a call has its answer: writes its line if it is one to keep. */
void audit_call(const struct rpc_call *call);
/* An HTTP action's RBAC decision (denied, or allowed and not a GET). */
void audit_http(const struct route_req *rr, const char *perm, bool allowed);

extern const struct route route_audit_log;

#endif
