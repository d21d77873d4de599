/* capture_http: GET /capture?ref=<VIF or PIF>[&filter=][&snaplen=]
 * [&duration=][&max_bytes=] streams a live pcap of the VIF's tap or the
 * PIF's device (net/capture.c). Every refusal (a bad filter, a halted VM,
 * too many captures) is answered before any byte. The stream holds no
 * HTTP thread: while no packet is there the connection is suspended and
 * the capture's thread resumes it, so xenond serves everyone else as
 * usual. It ends at the duration or size given, when the client goes, or
 * when the daemon stops. Pool operators and above. In a pool, a VIF of a
 * VM running on another host (or a PIF of another host) is captured there:
 * this host asks that host for the stream under the pool's session and
 * relays it, refusals included, so a client of any host (xe on the master)
 * gets the capture. */
#include "capture_http.h"
#include "http_route.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../api/pool_forward.h"
#include "../api/pool_peer.h"
#include "../db/db.h"
#include "../net/capture.h"
#include "../net/net.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_SNAPLEN 65535

/* A capture relayed from another host of the pool. */
struct fwd {
	char host[REF_STRLEN + 1];
	char *query; /* the client's, without its session */
	int client_fd;
	pthread_t thread;
	bool started;
	pthread_cond_t cond; /* with cap_state's lock: */
	long status;	     /* that host's answer, 0 until it came */
	struct strbuf buf;   /* bytes received, from off on not yet sent */
	size_t off;
	bool ended, stop;
	struct xerr err; /* no answer at all: why */
};

#define FWD_BUF_MAX ((size_t)1 << 20)

struct cap_state {
	struct route_req *rr;
	struct MHD_Connection *conn;
	pthread_mutex_t lock; /* cap, suspended, fwd's state */
	struct net_capture *cap;
	struct fwd *fwd;
	bool suspended;
	struct cap_state *next; /* the running captures (all_lock) */
};

/* The captures running, for the limit and for stopping them all. */
static pthread_mutex_t all_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cap_state *all;
static unsigned nall;

static int bad_value(struct route_req *rr, const char *field, const char *value)
{
	rr->status = MHD_HTTP_BAD_REQUEST;
	return xerr_set(&rr->err, ERR_INVALID_VALUE, field, value ? value : "", NULL);
}

static bool parse_u64(const char *s, uint64_t *out)
{
	if (!s || !*s || *s == '-')
		return false;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* The interface to capture on: a VIF's tap (its VM running or paused
 * here) or a PIF's device (of this host). */
static int find_device(struct route_req *rr, const char *ref, char dev[NET_IFNAMSIZ])
{
	struct db *db = rr->srv->db;
	int rc = 0;
	db_rdlock(db);
	struct db_obj *o = db_lookup(db, ref);
	struct db_obj *vif = o ? db_lookup_cls(db, SC_C_VIF, ref) : NULL;
	struct db_obj *pif = o ? db_lookup_cls(db, SC_C_PIF, ref) : NULL;
	if (vif) {
		const char *vmref = db_peek_str(vif, SC_F_VIF__VM);
		struct db_obj *vm = db_lookup_cls(db, SC_C_VM, vmref);
		const char *ps = vm ? db_peek_str(vm, SC_F_VM__power_state) : "Halted";
		char *end;
		long devid = strtol(db_peek_str(vif, SC_F_VIF__device), &end, 10);
		if (strcmp(ps, "Running") && strcmp(ps, "Paused")) {
			char low[32];
			snprintf(low, sizeof low, "%s", ps);
			for (char *c = low; *c; c++)
				*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
			rr->status = MHD_HTTP_CONFLICT;
			rc = xerr_set(&rr->err, ERR_VM_BAD_POWER_STATE, vmref, "running", low, NULL);
		} else if (strcmp(db_peek_str(vm, SC_F_VM__resident_on), rr->srv->host_ref)) {
			rr->status = MHD_HTTP_CONFLICT;
			rc = xerr_internal(&rr->err, "the VM of %s runs on another host", ref);
		} else if (!db_peek_bool(vif, SC_F_VIF__currently_attached)) {
			rr->status = MHD_HTTP_CONFLICT;
			rc = xerr_set(&rr->err, ERR_DEVICE_NOT_ATTACHED, ref, NULL);
		} else if (*end || !net_vif_name(db_peek_int(vm, SC_F_VM__domid), (int)devid, dev)) {
			rc = xerr_internal(&rr->err, "%s: no tap name for its device", ref);
		}
	} else if (pif) {
		if (strcmp(db_peek_str(pif, SC_F_PIF__host), rr->srv->host_ref)) {
			rr->status = MHD_HTTP_CONFLICT;
			rc = xerr_internal(&rr->err, "%s is a PIF of another host", ref);
		} else if (!db_peek_bool(pif, SC_F_PIF__currently_attached)) {
			rr->status = MHD_HTTP_CONFLICT;
			rc = xerr_set(&rr->err, ERR_DEVICE_NOT_ATTACHED, ref, NULL);
		} else {
			snprintf(dev, NET_IFNAMSIZ, "%s", db_peek_str(pif, SC_F_PIF__device));
		}
	} else {
		rr->status = MHD_HTTP_NOT_FOUND;
		rc = xerr_set(&rr->err, ERR_HANDLE_INVALID, "VIF", ref, NULL);
	}
	db_unlock(db);
	if (rc == 0 && (!*dev || !net_link_exists(dev))) {
		rr->status = MHD_HTTP_CONFLICT;
		rc = xerr_set(&rr->err, ERR_DEVICE_NOT_ATTACHED, ref, NULL);
	}
	return rc;
}

/* The capture's thread: bytes came, or the end. */
static void cap_notify(void *arg)
{
	struct cap_state *s = arg;
	pthread_mutex_lock(&s->lock);
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
	pthread_mutex_unlock(&s->lock);
}

static ssize_t cap_read(struct route_req *rr, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct cap_state *s = rr->h;
	pthread_mutex_lock(&s->lock);
	ssize_t n = s->cap ? net_capture_read(s->cap, buf, max) : -1;
	if (n == 0) {
		/* nothing yet: off MHD's loop until cap_notify */
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		n = ROUTE_READ_WAIT;
	} else if (n < 0) {
		n = 0; /* the end of the stream */
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

static void unlist(struct cap_state *s)
{
	pthread_mutex_lock(&all_lock);
	for (struct cap_state **p = &all; *p; p = &(*p)->next) {
		if (*p == s) {
			*p = s->next;
			nall--;
			break;
		}
	}
	pthread_mutex_unlock(&all_lock);
}

/* ---- relayed from another host ---- */

/* The host of the pool where ref is captured, when not this one. */
static bool elsewhere(struct route_req *rr, const char *ref, char host[REF_STRLEN + 1])
{
	struct server *srv = rr->srv;
	if (!srv->raft)
		return false;
	host[0] = '\0';
	db_rdlock(srv->db);
	struct db_obj *vif = db_lookup_cls(srv->db, SC_C_VIF, ref);
	struct db_obj *pif = vif ? NULL : db_lookup_cls(srv->db, SC_C_PIF, ref);
	const char *on = NULL;
	if (vif) {
		struct db_obj *vm = db_lookup_cls(srv->db, SC_C_VM, db_peek_str(vif, SC_F_VIF__VM));
		const char *ps = vm ? db_peek_str(vm, SC_F_VM__power_state) : "Halted";
		if (!strcmp(ps, "Running") || !strcmp(ps, "Paused"))
			on = db_peek_str(vm, SC_F_VM__resident_on);
	} else if (pif) {
		on = db_peek_str(pif, SC_F_PIF__host);
	}
	if (on && strcmp(on, srv->host_ref) && db_lookup_cls(srv->db, SC_C_host, on))
		snprintf(host, REF_STRLEN + 1, "%s", on);
	db_unlock(srv->db);
	return host[0] != '\0';
}

static MHD_RESULT_T add_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct strbuf *sb = cls;
	if (!key || !strcmp(key, "session_id"))
		return MHD_YES;
	if (sb->len)
		sb_putc(sb, '&');
	sb_url_encode(sb, key);
	sb_putc(sb, '=');
	sb_url_encode(sb, value ? value : "");
	return MHD_YES;
}

static void resume_locked(struct cap_state *s)
{
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(s->conn);
	}
}

static size_t fwd_sink(void *arg, long status, const char *data, size_t len)
{
	struct cap_state *s = arg;
	struct fwd *f = s->fwd;
	pthread_mutex_lock(&s->lock);
	if (!f->status) {
		f->status = status;
		pthread_cond_broadcast(&f->cond);
	}
	/* a refusal is short; a stream waits while the client is behind */
	while (status == 200 && !f->stop && f->buf.len - f->off > FWD_BUF_MAX)
		pthread_cond_wait(&f->cond, &s->lock);
	bool stop = f->stop;
	if (!stop && (status == 200 || f->buf.len < 4096))
		sb_add(&f->buf, data, len);
	resume_locked(s);
	pthread_mutex_unlock(&s->lock);
	return stop ? 0 : len;
}

/* The client went (its connection hung up): ends the relay. */
static bool fwd_go_on(void *arg)
{
	struct cap_state *s = arg;
	struct fwd *f = s->fwd;
	struct pollfd p = {.fd = f->client_fd, .events = POLLRDHUP};
	bool gone = f->client_fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
	pthread_mutex_lock(&s->lock);
	if (gone)
		f->stop = true;
	bool go = !f->stop;
	pthread_mutex_unlock(&s->lock);
	return go;
}

static void *fwd_main(void *arg)
{
	struct cap_state *s = arg;
	struct fwd *f = s->fwd;
	struct xerr e = XERR_INIT;
	struct peer *p = pool_peer_for_host(s->rr->srv, f->host, &e);
	if (p)
		peer_get_stream(p, "/capture", f->query, fwd_sink, fwd_go_on, s, &e);
	peer_close(p);
	pthread_mutex_lock(&s->lock);
	f->ended = true;
	xerr_move(&f->err, &e);
	pthread_cond_broadcast(&f->cond);
	resume_locked(s);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static ssize_t fwd_read(struct route_req *rr, uint64_t pos, char *buf, size_t max)
{
	(void)pos;
	struct cap_state *s = rr->h;
	struct fwd *f = s->fwd;
	pthread_mutex_lock(&s->lock);
	ssize_t n;
	size_t have = f->buf.len - f->off;
	if (have) {
		n = (ssize_t)(have < max ? have : max);
		memcpy(buf, f->buf.buf + f->off, (size_t)n);
		f->off += (size_t)n;
		if (f->off == f->buf.len) {
			sb_reset(&f->buf);
			f->off = 0;
		}
		pthread_cond_broadcast(&f->cond);
	} else if (f->ended || f->stop) {
		n = 0; /* the end of the stream */
	} else {
		s->suspended = true;
		MHD_suspend_connection(s->conn);
		n = ROUTE_READ_WAIT;
	}
	pthread_mutex_unlock(&s->lock);
	return n;
}

/* That host's refusal ("CODE params…") as this host's. */
static int fwd_refusal(struct route_req *rr, struct fwd *f)
{
	char *t = xstrdup(f->buf.buf ? f->buf.buf : "");
	t[strcspn(t, "\n")] = '\0';
	char *rest = strchr(t, ' ');
	if (rest)
		*rest++ = '\0';
	const char *params[1] = {rest};
	rr->status = (unsigned)f->status;
	if (*t)
		xerr_setv(&rr->err, t, rest ? 1 : 0, params);
	else
		xerr_internal(&rr->err, "capture on another host: HTTP %ld", f->status);
	free(t);
	return -1;
}

static int forward_begin(struct route_req *rr, const char *host)
{
	struct cap_state *s = xcalloc(1, sizeof *s);
	struct fwd *f = xcalloc(1, sizeof *f);
	s->rr = rr;
	s->conn = rr->conn;
	s->fwd = f;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&f->cond, NULL);
	sb_init(&f->buf);
	snprintf(f->host, sizeof f->host, "%s", host);
	struct strbuf q = STRBUF_INIT;
	MHD_get_connection_values(rr->conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
	f->query = q.buf ? sb_detach(&q) : xstrdup("");
	const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(rr->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	f->client_fd = fdi ? fdi->connect_fd : -1;
	rr->h = s;
	/* a relay takes a slot here too (a thread and two connections) */
	unsigned limit = (unsigned)(rr->srv->cfg.capture_max > 0 ? rr->srv->cfg.capture_max : 0);
	pthread_mutex_lock(&all_lock);
	bool over = nall >= limit;
	if (!over) {
		s->next = all;
		all = s;
		nall++;
	}
	pthread_mutex_unlock(&all_lock);
	if (over) {
		char lim[16];
		snprintf(lim, sizeof lim, "%u", limit);
		rr->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		return xerr_set(&rr->err, ERR_CAPTURE_LIMIT_REACHED, lim, NULL);
	}
	if (pthread_create(&f->thread, NULL, fwd_main, s) != 0)
		return xerr_internal(&rr->err, "capture: cannot start its relay");
	f->started = true;
	pthread_mutex_lock(&s->lock);
	while (!f->status && !f->ended)
		pthread_cond_wait(&f->cond, &s->lock);
	if (f->status && f->status != 200)
		while (!f->ended)
			pthread_cond_wait(&f->cond, &s->lock);
	long status = f->status;
	pthread_mutex_unlock(&s->lock);
	if (!status) {
		if (f->err.code)
			xerr_move(&rr->err, &f->err);
		else
			xerr_internal(&rr->err, "capture: no answer from the VM's host");
		return -1;
	}
	if (status != 200)
		return fwd_refusal(rr, f);
	log_info("capture: %s relayed from %s", route_arg(rr, "ref"), host);
	return route_send_stream(rr, MHD_SIZE_UNKNOWN, "application/vnd.tcpdump.pcap", NULL, fwd_read);
}

static void fwd_end(struct cap_state *s)
{
	struct fwd *f = s->fwd;
	pthread_mutex_lock(&s->lock);
	f->stop = true;
	pthread_cond_broadcast(&f->cond);
	pthread_mutex_unlock(&s->lock);
	if (f->started)
		pthread_join(f->thread, NULL);
	f->started = false;
}

static int capture_begin(struct route_req *rr)
{
	const char *ref = route_arg(rr, "ref");
	if (!ref || !*ref)
		return bad_value(rr, "ref", ref);
	const char *filter = route_arg(rr, "filter");
	uint64_t snaplen = DEFAULT_SNAPLEN, duration = 0, max_bytes = 0;
	const char *v;
	if ((v = route_arg(rr, "snaplen")) &&
	    (!parse_u64(v, &snaplen) || snaplen < 1 || snaplen > NET_CAPTURE_SNAPLEN_MAX))
		return bad_value(rr, "snaplen", v);
	if ((v = route_arg(rr, "duration")) && (!parse_u64(v, &duration) || duration > 7 * 86400))
		return bad_value(rr, "duration", v);
	if ((v = route_arg(rr, "max_bytes")) && (!parse_u64(v, &max_bytes) || max_bytes < 24))
		return bad_value(rr, "max_bytes", v);
	char host[REF_STRLEN + 1], dev[NET_IFNAMSIZ] = "";
	if (elsewhere(rr, ref, host))
		return forward_begin(rr, host);
	if (find_device(rr, ref, dev) < 0)
		return -1;

	struct cap_state *s = xcalloc(1, sizeof *s);
	s->rr = rr;
	s->conn = rr->conn;
	pthread_mutex_init(&s->lock, NULL);
	unsigned limit = (unsigned)(rr->srv->cfg.capture_max > 0 ? rr->srv->cfg.capture_max : 0);
	pthread_mutex_lock(&all_lock);
	bool over = nall >= limit;
	if (!over) {
		s->next = all;
		all = s;
		nall++;
	}
	pthread_mutex_unlock(&all_lock);
	if (over) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		char lim[16];
		snprintf(lim, sizeof lim, "%u", limit);
		rr->status = MHD_HTTP_SERVICE_UNAVAILABLE;
		return xerr_set(&rr->err, ERR_CAPTURE_LIMIT_REACHED, lim, NULL);
	}
	rr->h = s;
	const union MHD_ConnectionInfo *fdi = MHD_get_connection_info(rr->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	struct net_capture_opts o = {
		.dev = dev,
		.filter = filter,
		.snaplen = (int)snaplen,
		.duration_ms = (int64_t)duration * 1000,
		.max_bytes = max_bytes,
		.watch_fd = fdi ? fdi->connect_fd : -1,
		.notify = cap_notify,
		.arg = s,
	};
	struct net_capture *cap = net_capture_start(&o, &rr->err);
	if (!cap) {
		if (xerr_is(&rr->err, ERR_CAPTURE_FILTER_INVALID) || xerr_is(&rr->err, ERR_INVALID_VALUE))
			rr->status = MHD_HTTP_BAD_REQUEST;
		return -1;
	}
	pthread_mutex_lock(&s->lock);
	s->cap = cap;
	pthread_mutex_unlock(&s->lock);
	log_info("capture: %s on %s", ref, dev);
	return route_send_stream(rr, MHD_SIZE_UNKNOWN, "application/vnd.tcpdump.pcap", NULL, cap_read);
}

/* The stream ended or the client went: the capture goes, its slot too. */
static void capture_release(struct route_req *rr)
{
	struct cap_state *s = rr->h;
	if (!s)
		return;
	if (s->fwd) {
		fwd_end(s);
		unlist(s);
		return;
	}
	pthread_mutex_lock(&s->lock);
	struct net_capture *cap = s->cap;
	s->cap = NULL;
	pthread_mutex_unlock(&s->lock);
	if (!cap)
		return;
	net_capture_free(cap); /* joins its thread: no notify after this */
	unlist(s);
}

static void capture_free(struct route_req *rr)
{
	struct cap_state *s = rr->h;
	if (!s)
		return;
	capture_release(rr);
	unlist(s); /* a capture that never started */
	if (s->fwd) {
		pthread_cond_destroy(&s->fwd->cond);
		sb_free(&s->fwd->buf);
		xerr_clear(&s->fwd->err);
		free(s->fwd->query);
		free(s->fwd);
	}
	pthread_mutex_destroy(&s->lock);
	free(s);
	rr->h = NULL;
}

void capture_http_stop_all(void)
{
	pthread_mutex_lock(&all_lock);
	for (struct cap_state *s = all; s; s = s->next) {
		pthread_mutex_lock(&s->lock);
		if (s->cap)
			net_capture_stop(s->cap);
		if (s->fwd) { /* its relay ends within a second */
			s->fwd->stop = true;
			pthread_cond_broadcast(&s->fwd->cond);
		}
		pthread_mutex_unlock(&s->lock);
	}
	pthread_mutex_unlock(&all_lock);
	/* MHD cannot stop with a connection suspended: wait (briefly) until
	 * every capture's thread has ended it and woken its connection */
	for (int i = 0; i < 300; i++) {
		bool waiting = false;
		pthread_mutex_lock(&all_lock);
		for (struct cap_state *s = all; s && !waiting; s = s->next) {
			pthread_mutex_lock(&s->lock);
			waiting = s->suspended;
			pthread_mutex_unlock(&s->lock);
		}
		pthread_mutex_unlock(&all_lock);
		if (!waiting)
			return;
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	}
	log_warn("capture: a stream is still suspended at shutdown");
}

const struct route route_capture = {
	.method = "GET",
	.path = "/capture",
	.begin = capture_begin,
	.release = capture_release,
	.free = capture_free,
	.no_task = true,
	.role = SC_ROLE_POOL_OPERATOR,
};
