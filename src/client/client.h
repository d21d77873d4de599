/* client: the C SDK's session handle — one keep-alive libcurl connection to
 * a XenAPI server, JSON-RPC or XML-RPC, with login, generic calls, Async
 * calls and task waiting, and an event.from loop. Typed per-message calls
 * are generated into xenon_calls.h on top of this. */
#ifndef XENON_CLIENT_H
#define XENON_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/xerr.h"
#include "base/xv.h"

/* Error codes the client itself raises (the server's codes pass through). */
#define XC_ERR_TRANSPORT "XC_TRANSPORT_ERROR" /* [curl message, url] */
#define XC_ERR_HTTP "XC_HTTP_ERROR"           /* [status, url] */
#define XC_ERR_TIMEOUT "XC_TIMEOUT"           /* [what] */

enum xc_proto {
	XC_JSONRPC = 0, /* POST /jsonrpc, JSON-RPC 2.0 */
	XC_XMLRPC,      /* POST /, XML-RPC as xapi speaks it */
};

struct xc_opts {
	enum xc_proto proto;
	/* TLS: off by default (xapi hosts carry self-signed certificates, as
	 * xe over stunnel assumes). verify_tls checks the chain against ca_file
	 * (or the system store) and the host name; pinned_pubkey pins the key
	 * in curl's "sha256//BASE64" or PEM/DER file form, with or without
	 * verify_tls. */
	bool verify_tls;
	const char *ca_file;
	const char *pinned_pubkey;
	long connect_timeout_s; /* 0: curl's default */
	long timeout_s;         /* per request; 0: none (event.from blocks) */
	const char *originator; /* login originator; default "xenon-c-sdk" */
	bool debug;             /* log requests and responses at debug level */
};

struct xc;

/* url: "http://host[:port]" or "https://host[:port]" (a path, if given,
 * replaces the protocol's default endpoint). opts may be NULL. */
struct xc *xc_new(const char *url, const struct xc_opts *opts);
void xc_free(struct xc *c);

int xc_login(struct xc *c, const char *user, const char *password, struct xerr *err);
/* session.slave_local_login_with_password: a session good on that host
 * alone, which a slave gives too (for its emergency calls). */
int xc_login_local(struct xc *c, const char *user, const char *password, struct xerr *err);
/* Logs out if logged in; the handle stays usable for another login. */
int xc_logout(struct xc *c, struct xerr *err);
/* The current session ref (borrowed; NULL before login). */
const char *xc_session(const struct xc *c);
/* Adopts an existing session ref (e.g. one passed in by a caller). */
void xc_set_session(struct xc *c, const char *session_ref);

/* Calls method with params as given (nothing prepended). Returns 0 with
 * *result set (XV_NIL for void), or -1 with err set to the server's error
 * or a client error. result may be NULL. */
int xc_call_raw(struct xc *c, const char *method, const xv *params, xv *result, struct xerr *err);
/* The usual call: the session ref is prepended to args (an XV_ARR, or NULL
 * for none). */
int xc_call(struct xc *c, const char *method, const xv *args, xv *result, struct xerr *err);
/* Convenience: varargs list of const char * string arguments, NULL-ended. */
int xc_call_strs(struct xc *c, const char *method, xv *result, struct xerr *err, ...)
	__attribute__((sentinel));

/* Async.<method>: returns the task ref in *task (owned). */
int xc_call_async(struct xc *c, const char *method, const xv *args, char **task, struct xerr *err);
/* Waits for a task to finish (timeout_s < 0: forever), polling its record
 * with a growing interval. On success decodes task.result (XML-RPC value
 * text) into *result (may be NULL); on failure sets err from error_info.
 * The task is destroyed afterwards unless keep is set. */
int xc_task_wait(struct xc *c, const char *task, double timeout_s, bool keep, xv *result,
		 struct xerr *err);
/* Async call + wait: the shape xe uses for long operations. */
int xc_call_wait(struct xc *c, const char *method, const xv *args, xv *result, struct xerr *err);

/* Event loop over event.from. classes: NULL-terminated ("*" for all, or
 * "vm", "task/OpaqueRef:…"). *token holds the starting token (NULL or ""
 * first delivers every current object, as xapi does) and is updated as
 * batches arrive (owned: free it).
 * Calls cb for every event record ({id, timestamp, class, operation, ref,
 * snapshot}); a non-zero return stops the loop and is returned. Returns
 * -1 with err on failure, 0 when deadline_s (>0) passes. poll_s is the
 * timeout given to each event.from call. */
typedef int (*xc_event_cb)(const xv *event, void *ud);
int xc_event_loop(struct xc *c, const char *const *classes, char **token, double poll_s,
		  double deadline_s, xc_event_cb cb, void *ud, struct xerr *err);

/* ---- helpers shared with the generated calls ---- */

/* Calls "Class.msg" with the given arguments (the array's items are
 * consumed), converts the result to the message's schema type and stores
 * it by kind: char ** for string/ref/enum, int64_t * for int/datetime,
 * bool *, double *, xv * for sets, maps, records and options. */
int xc_gen(struct xc *c, const char *method, xv *args, int nargs, void *result, struct xerr *err);
/* Same, as Async.Class.msg, storing the task ref in *task. */
int xc_gen_async(struct xc *c, const char *method, xv *args, int nargs, char **task,
		 struct xerr *err);
/* Argument builders for the generated code: NULL strings become "", NULL
 * sets/maps become empty ones. */
xv xc_s(const char *s);
xv xc_set(const xv *v);
xv xc_map(const xv *v);

#endif
