/* http_route: the non-RPC HTTP endpoints (disk and VM transfers). http.c
 * hands a request here when its path matches; this file authenticates it,
 * attaches or creates its task, feeds the handler the body and drives the
 * task to success or failure when the transfer ends, however it ends. */
#ifndef XENON_HTTP_ROUTE_H
#define XENON_HTTP_ROUTE_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/uuid.h"
#include "../base/xerr.h"
#include "../base/xv.h"
#include "rpc.h"
#include "../api/server.h"

#if MHD_VERSION < 0x00097002
typedef int MHD_RESULT_T;
#else
typedef enum MHD_Result MHD_RESULT_T;
#endif

struct route_req;

/* One endpoint. begin runs once the caller is authenticated and the task
 * known: a GET handler prepares its response there (route_send_stream),
 * on a thread of its own; a PUT handler prepares to receive. data gets the
 * body in pieces; finish runs (on its own thread) once it has all arrived.
 * Handlers return 0, or -1 with rr->err set. abort undoes whatever a
 * failed transfer left (records, files); free releases the state. */
struct route {
	const char *method, *path;
	int (*begin)(struct route_req *rr);
	int (*data)(struct route_req *rr, const char *buf, size_t n);
	int (*finish)(struct route_req *rr);
	/* When the client hangs up before Content-Length: whether what came is
	 * whole anyway (Xen Orchestra sends 1 PiB for "unknown" and closes
	 * after the data); finish then runs as usual. NULL: never. */
	bool (*complete)(struct route_req *rr);
	void (*abort)(struct route_req *rr);
	/* The transfer is over, its task about to end: lets go of what others
	 * may be waiting for (a VDI's busy mark), since free may come later
	 * than a client that saw the task end. NULL: nothing to release. */
	void (*release)(struct route_req *rr);
	void (*free)(struct route_req *rr);
	/* A quick read (metrics): no task is made or attached, and the
	 * response carries no task-id. */
	bool no_task;
	/* The least role allowed (SC_ROLE_*); 0: vm-admin, as transfers. */
	uint32_t role;
	/* Optional: a credential of the route's own (a Bearer token) checked
	 * before any session; when it holds, the request runs without a
	 * session as read-only. */
	bool (*credential)(struct route_req *rr);
};

struct route_req {
	struct server *srv;
	struct MHD_Connection *conn;
	const struct route *rt;
	struct rpc_ctx ctx; /* the caller's session, user and roles; ctx.task set */
	char task[REF_STRLEN + 1];
	bool own_task;     /* created here: nobody else watches it */
	bool temp_session; /* HTTP Basic: logged out at the end */
	bool started, queued, failed, finished, streaming_done;
	bool has_length;
	bool answered;       /* 200 written up front (an upload of unknown length) */
	bool begin_deferred; /* its handler begins with the first data */
	uint64_t content_length, received;
	struct xerr err;
	xv result; /* the task's result on success (XV_NIL: empty) */
	/* a slow step on its own thread while the connection is suspended */
	enum work { W_BEGIN, W_FINISH } work;
	bool working, worked;
	int work_rc;
	struct MHD_Response *resp; /* a GET's response, made by begin */
	void *h;   /* the handler's state */
	ssize_t (*reader)(struct route_req *rr, uint64_t pos, char *buf, size_t max);
	uint64_t stream_size;
	unsigned status; /* a failing handler's HTTP status; 0: from err's code */
	int refs;  /* route_end and a streamed response's free callback */
	/* A request made inside the daemon (VM.import from a URL): its query
	 * arguments, read instead of the connection's (conn is NULL). */
	const xv *query;
};

/* The route's RBAC permission, http/<method>_<path> lowercased as xapi
 * names HTTP actions (http/get_rrd_updates, http/put_import), and the
 * SC_ROLE_* bits of the roles that hold it. */
void route_permission(const struct route *rt, char *out, size_t cap);
uint32_t route_roles(const struct route *rt);

/* A request for rt (url_table.c found it): http.c's hook. */
struct route_req *route_begin(struct server *srv, struct MHD_Connection *conn, const struct route *rt);
/* Every later call of on_request for this request. */
MHD_RESULT_T route_step(struct route_req *rr, const char *upload_data, size_t *upload_size);
/* The request is over (MHD's notify-completed); completed_ok when the
 * whole response went out. */
void route_end(struct route_req *rr, bool completed_ok);

/* The Content-Length Xen Orchestra sends when it does not know one. */
#define ROUTE_UNKNOWN_LENGTH (1ull << 50)

/* ---- for handlers ---- */
const char *route_arg(struct route_req *rr, const char *key);
bool route_arg_bool(struct route_req *rr, const char *key);
/* Prepares the streamed response (a GET's begin ends with it; it goes
 * out once begin returns): size MHD_SIZE_UNKNOWN for no length. read
 * returns bytes written into buf, 0 at the end, -1 on error (rr->err). */
typedef ssize_t (*route_reader)(struct route_req *rr, uint64_t pos, char *buf, size_t max);
/* A reader's "nothing yet": it suspended the connection itself and resumes
 * it when there is more (a live stream). */
#define ROUTE_READ_WAIT ((ssize_t)-2)
int route_send_stream(struct route_req *rr, uint64_t size, const char *ctype,
		      const char *disposition, route_reader read);
void route_progress(struct route_req *rr, double p);
/* Prepares a response of body (taken), as route_send_stream does. */
int route_send_buffer(struct route_req *rr, char *body, size_t len, const char *ctype);
/* Every value of a query key, in the order given (owned array of
 * borrowed strings, NULL-terminated). */
const char **route_args(struct route_req *rr, const char *key, size_t *n);

/* Handlers: vdi_stream.c, xva_export.c, xva_import.c; /import picks
 * between the XVA importer and ova_import.c by the body's first bytes. */
extern const struct route route_export_raw_vdi, route_import_raw_vdi;
extern const struct route route_export_xva, route_export_metadata, route_import_xva;
extern const struct route route_import, route_import_metadata;
/* format=tar of /export_raw_vdi and /import_raw_vdi (the XVA chunk
 * stream of one disk), handed over by vdi_stream.c. */
extern const struct route route_export_vdi_tar, route_import_vdi_tar;
/* The metrics (rrd_http.c): /rrd_updates, /host_rrd, /vm_rrd, /sr_rrd and
 * the legacy /host_rrds, /vm_rrds. */
/* GET and PUT /vdi_file: a file inside a VDI's guest filesystem
 * (vdi_file_http.c). */
extern const struct route route_vdi_file_get, route_vdi_file_put;
/* GET /metrics in Prometheus' text format (prom_http.c). */
extern const struct route route_metrics;
/* GET /capture: a live pcap of a VIF or a PIF (capture_http.c). */
extern const struct route route_capture;
extern const struct route route_rrd_updates, route_host_rrd, route_vm_rrd, route_sr_rrd, route_host_rrds,
	route_vm_rrds;

#endif
