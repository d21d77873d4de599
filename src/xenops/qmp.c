/* qmp: QMP and guest-agent clients (see qmp.h). Messages are JSON objects,
 * one per line; commands carry an id so a reply finds its caller even when
 * events and other callers' replies come in between. */
#include "qmp.h"
#include "../base/fault.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../base/uuid.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- lines off a socket ---- */

struct linebuf {
	char *buf;
	size_t len, cap;
	size_t line; /* bytes of the line last returned, newline included */
};

/* The next line (NUL-terminated, without its newline; valid until the next
 * call): 1, 0 at end of stream, -1 on error or when deadline_ms (absolute,
 * now_ms clock; < 0 for none) passes. */
static int lb_next(int fd, struct linebuf *lb, char **line, int64_t deadline_ms)
{
	static const size_t max_line = 16 << 20; /* a runaway peer cannot eat memory */
	for (;;) {
		char *nl = lb->len ? memchr(lb->buf, '\n', lb->len) : NULL;
		if (nl) {
			*nl = '\0';
			*line = lb->buf;
			lb->line = (size_t)(nl - lb->buf) + 1;
			return 1;
		}
		if (lb->len >= max_line)
			return -1;
		if (deadline_ms >= 0) {
			int64_t left = deadline_ms - clock_now_ms();
			if (left <= 0)
				return -1;
			struct pollfd p = {fd, POLLIN, 0};
			int r = poll(&p, 1, (int)left);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
		}
		if (lb->cap - lb->len < 4096) {
			lb->cap = lb->cap ? lb->cap * 2 : 8192;
			lb->buf = xrealloc(lb->buf, lb->cap);
		}
		ssize_t n = recv(fd, lb->buf + lb->len, lb->cap - lb->len - 1, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			return 0;
		lb->len += (size_t)n;
	}
}

/* Drops the line lb_next returned; call before the next lb_next. */
static void lb_consume(struct linebuf *lb)
{
	memmove(lb->buf, lb->buf + lb->line, lb->len - lb->line);
	lb->len -= lb->line;
	lb->line = 0;
}

static int unix_connect(const char *path, struct xerr *err)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return xerr_internal(err, "socket path too long: %s", path);
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return xerr_internal(err, "socket: %s", strerror(errno));
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		int e = errno;
		close(fd);
		return xerr_internal(err, "cannot connect to %s: %s", path, strerror(e));
	}
	return fd;
}

static int send_all(int fd, const char *buf, size_t len, int pass_fd)
{
	while (len) {
		ssize_t n;
		if (pass_fd >= 0) {
			/* the fd rides along with the first byte */
			struct iovec iov = {(void *)buf, 1};
			union {
				char b[CMSG_SPACE(sizeof(int))];
				struct cmsghdr align;
			} ctl;
			memset(&ctl, 0, sizeof ctl);
			struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
					    .msg_controllen = sizeof ctl.b};
			struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
			n = sendmsg(fd, &mh, MSG_NOSIGNAL);
			if (n > 0)
				pass_fd = -1;
		} else {
			n = send(fd, buf, len, MSG_NOSIGNAL);
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* ---- QMP ---- */

struct pending {
	uint64_t id;
	json_t *reply; /* the whole reply object once it came */
	struct pending *next;
};

struct qmp {
	int fd;
	pthread_t reader;
	pthread_mutex_t lock; /* pending, next_id, closed, closing */
	pthread_mutex_t send_lock;
	pthread_cond_t cond;  /* a reply came, or the connection ended */
	struct pending *pending;
	uint64_t next_id;
	bool closed, closing;
	struct qmp_handlers h;
	struct linebuf lb;
	char path[108];
};

static void deliver(struct qmp *q, json_t *msg)
{
	const char *event = json_string_value(json_object_get(msg, "event"));
	if (event) {
		if (q->h.event)
			q->h.event(q->h.arg, event, json_object_get(msg, "data"));
		return;
	}
	json_t *id = json_object_get(msg, "id");
	if (!json_is_integer(id))
		return; /* a reply to no caller of ours */
	pthread_mutex_lock(&q->lock);
	for (struct pending *p = q->pending; p; p = p->next) {
		if (p->id == (uint64_t)json_integer_value(id) && !p->reply) {
			p->reply = json_incref(msg);
			pthread_cond_broadcast(&q->cond);
			break;
		}
	}
	pthread_mutex_unlock(&q->lock);
}

/* QEMU writes unsigned 64-bit values (UINT64_MAX for "no limit") that
 * jansson's signed integers cannot hold: a copy of line where every integer
 * outside strings past INT64_MAX reads as INT64_MAX, or NULL when none is. */
static char *clamp_big_ints(const char *line)
{
	static const char max[] = "9223372036854775807";
	struct strbuf sb = STRBUF_INIT;
	bool in_str = false, changed = false;
	for (const char *p = line; *p;) {
		if (in_str) {
			if (*p == '\\' && p[1]) {
				sb_add(&sb, p, 2);
				p += 2;
				continue;
			}
			in_str = *p != '"';
			sb_putc(&sb, *p++);
			continue;
		}
		if (*p == '"') {
			in_str = true;
			sb_putc(&sb, *p++);
			continue;
		}
		if (*p >= '0' && *p <= '9') {
			const char *e = p;
			while (*e >= '0' && *e <= '9')
				e++;
			size_t n = (size_t)(e - p);
			bool integer = *e != '.' && *e != 'e' && *e != 'E';
			if (integer && (n > sizeof max - 1 || (n == sizeof max - 1 && memcmp(p, max, n) > 0))) {
				sb_puts(&sb, max);
				changed = true;
			} else {
				sb_add(&sb, p, n);
			}
			p = e;
			continue;
		}
		sb_putc(&sb, *p++);
	}
	if (!changed) {
		sb_free(&sb);
		return NULL;
	}
	return sb.buf;
}

static void *reader_main(void *arg)
{
	struct qmp *q = arg;
	char *line;
	while (lb_next(q->fd, &q->lb, &line, -1) == 1) {
		json_error_t je;
		json_t *msg = json_loads(line, 0, &je);
		if (!msg) {
			char *clamped = clamp_big_ints(line);
			if (clamped)
				msg = json_loads(clamped, 0, &je);
			free(clamped);
		}
		lb_consume(&q->lb);
		if (!json_is_object(msg)) {
			log_warn("qmp %s: unparsable message: %s", q->path, je.text);
			json_decref(msg);
			continue;
		}
		deliver(q, msg);
		json_decref(msg);
	}
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	bool notify = !q->closing;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	if (notify && q->h.closed)
		q->h.closed(q->h.arg);
	return NULL;
}

static char *describe_error(const char *cmd, json_t *reply)
{
	json_t *e = json_object_get(reply, "error");
	const char *cls = json_string_value(json_object_get(e, "class"));
	const char *desc = json_string_value(json_object_get(e, "desc"));
	return xasprintf("QMP %s failed: %s%s%s", cmd, cls ? cls : "", cls ? ": " : "",
			 desc ? desc : "(no description)");
}

static int exec_common(struct qmp *q, const char *cmd, json_t *args, int pass_fd, json_t **ret,
		       int timeout_ms, struct xerr *err)
{
	if (ret)
		*ret = NULL;
	if (fault_hit(FAULT_QMP)) { /* as QEMU refusing the command */
		json_decref(args);
		return xerr_internal(err, "QMP %s failed: GenericError: injected fault", cmd);
	}
	struct pending p = {0};
	pthread_mutex_lock(&q->lock);
	if (q->closed) {
		pthread_mutex_unlock(&q->lock);
		json_decref(args);
		return xerr_internal(err, "QMP %s: QEMU's monitor connection is closed", cmd);
	}
	p.id = ++q->next_id;
	p.next = q->pending;
	q->pending = &p;
	pthread_mutex_unlock(&q->lock);

	json_t *msg = json_object();
	json_object_set_new(msg, "execute", json_string(cmd));
	if (args)
		json_object_set_new(msg, "arguments", args);
	json_object_set_new(msg, "id", json_integer((json_int_t)p.id));
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	size_t len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	pthread_mutex_lock(&q->send_lock);
	int sent = send_all(q->fd, text, len, pass_fd);
	pthread_mutex_unlock(&q->send_lock);
	free(text);

	struct timespec dl;
	clock_gettime(CLOCK_MONOTONIC, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&q->lock);
	int wr = 0;
	while (sent == 0 && !p.reply && !q->closed && wr != ETIMEDOUT)
		wr = pthread_cond_timedwait(&q->cond, &q->lock, &dl);
	for (struct pending **pp = &q->pending; *pp; pp = &(*pp)->next) {
		if (*pp == &p) {
			*pp = p.next;
			break;
		}
	}
	bool closed = q->closed;
	pthread_mutex_unlock(&q->lock);

	if (!p.reply) {
		if (sent < 0 || closed)
			return xerr_internal(err, "QMP %s: QEMU's monitor connection is closed", cmd);
		return xerr_internal(err, "QMP %s: no reply within %d ms", cmd, timeout_ms);
	}
	int rc = 0;
	if (json_object_get(p.reply, "error")) {
		char *m = describe_error(cmd, p.reply);
		rc = xerr_set(err, ERR_INTERNAL_ERROR, m, NULL);
		free(m);
	} else if (ret) {
		*ret = json_incref(json_object_get(p.reply, "return"));
	}
	json_decref(p.reply);
	return rc;
}

int qmp_exec(struct qmp *q, const char *cmd, json_t *args, json_t **ret, int timeout_ms,
	     struct xerr *err)
{
	return exec_common(q, cmd, args, -1, ret, timeout_ms, err);
}

int qmp_exec_fd(struct qmp *q, const char *cmd, json_t *args, int fd, json_t **ret,
		int timeout_ms, struct xerr *err)
{
	return exec_common(q, cmd, args, fd, ret, timeout_ms, err);
}

struct qmp *qmp_open(const char *path, int timeout_ms, const struct qmp_handlers *h,
		     struct xerr *err)
{
	int fd = unix_connect(path, err);
	if (fd < 0)
		return NULL;
	struct qmp *q = xcalloc(1, sizeof *q);
	q->fd = fd;
	snprintf(q->path, sizeof q->path, "%s", path);
	if (h)
		q->h = *h;
	pthread_mutex_init(&q->lock, NULL);
	pthread_mutex_init(&q->send_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);

	/* the greeting comes before anything else; a monitor that is busy
	 * with another client leaves us waiting in its backlog */
	int64_t deadline = clock_now_ms() + timeout_ms;
	char *line;
	json_t *greeting = NULL;
	if (lb_next(fd, &q->lb, &line, deadline) == 1) {
		greeting = json_loads(line, 0, NULL);
		lb_consume(&q->lb);
	}
	if (!json_object_get(greeting, "QMP")) {
		json_decref(greeting);
		xerr_internal(err, "no QMP greeting on %s within %d ms", path, timeout_ms);
		goto fail;
	}
	json_decref(greeting);
	if (pthread_create(&q->reader, NULL, reader_main, q) != 0) {
		xerr_internal(err, "cannot start the QMP reader thread");
		goto fail;
	}
	int left = (int)(deadline - clock_now_ms());
	if (qmp_exec(q, "qmp_capabilities", NULL, NULL, left > 100 ? left : 100, err) < 0) {
		qmp_close(q);
		return NULL;
	}
	return q;
fail:
	close(fd);
	free(q->lb.buf);
	pthread_mutex_destroy(&q->lock);
	pthread_mutex_destroy(&q->send_lock);
	pthread_cond_destroy(&q->cond);
	free(q);
	return NULL;
}

bool qmp_is_closed(struct qmp *q)
{
	pthread_mutex_lock(&q->lock);
	bool c = q->closed;
	pthread_mutex_unlock(&q->lock);
	return c;
}

void qmp_close(struct qmp *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->lock);
	q->closing = true;
	pthread_mutex_unlock(&q->lock);
	shutdown(q->fd, SHUT_RDWR);
	pthread_join(q->reader, NULL);
	close(q->fd);
	free(q->lb.buf);
	pthread_mutex_destroy(&q->lock);
	pthread_mutex_destroy(&q->send_lock);
	pthread_cond_destroy(&q->cond);
	free(q);
}

/* ---- guest agent ---- */

/* Reads lines until one is a reply ({"return"} or {"error"}) whose "return"
 * matches want (when want is not NULL). */
static json_t *qga_reply(int fd, struct linebuf *lb, json_t *want, int64_t deadline)
{
	char *line;
	while (lb_next(fd, lb, &line, deadline) == 1) {
		/* guest-sync-delimited prefixes 0xff; plain lines may carry it too
		 * after an earlier client's delimited sync */
		while ((unsigned char)*line == 0xff)
			line++;
		json_t *m = json_loads(line, 0, NULL);
		lb_consume(lb);
		if (!json_is_object(m)) {
			json_decref(m);
			continue;
		}
		if (json_object_get(m, "error") && !want)
			return m;
		json_t *r = json_object_get(m, "return");
		if (r && (!want || json_equal(r, want)))
			return m;
		json_decref(m);
	}
	return NULL;
}

static int qga_send(int fd, const char *cmd, json_t *args)
{
	json_t *msg = json_object();
	json_object_set_new(msg, "execute", json_string(cmd));
	if (args)
		json_object_set(msg, "arguments", args);
	char *text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	size_t len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	int r = send_all(fd, text, len, -1);
	free(text);
	return r;
}

int qga_exec(const char *path, const char *cmd, json_t *args, bool want_reply, json_t **ret,
	     int timeout_ms, struct xerr *err)
{
	if (ret)
		*ret = NULL;
	int64_t deadline = clock_now_ms() + timeout_ms;
	struct linebuf lb = {0};
	int rc = -1;
	int fd = unix_connect(path, err);
	if (fd < 0) {
		rc = -2;
		goto out;
	}
	uint32_t token;
	random_bytes(&token, sizeof token);
	json_t *id = json_integer(token & 0x7fffffff);
	json_t *sargs = json_pack("{sO}", "id", id);
	json_t *sync = NULL;
	/* a leading 0xff makes the agent drop a half-read earlier request */
	if (send_all(fd, "\xff", 1, -1) == 0 && qga_send(fd, "guest-sync", sargs) == 0)
		sync = qga_reply(fd, &lb, id, deadline);
	json_decref(sargs);
	json_decref(id);
	if (!sync) {
		xerr_internal(err, "the guest agent did not answer on %s", path);
		rc = -2;
		goto out;
	}
	json_decref(sync);
	if (qga_send(fd, cmd, args) < 0) {
		xerr_internal(err, "guest agent %s: send failed: %s", cmd, strerror(errno));
		goto out;
	}
	if (!want_reply) {
		rc = 0;
		goto out;
	}
	json_t *r = qga_reply(fd, &lb, NULL, deadline);
	if (!r) {
		xerr_internal(err, "guest agent %s: no reply within %d ms", cmd, timeout_ms);
		goto out;
	}
	if (json_object_get(r, "error")) {
		char *m = describe_error(cmd, r);
		xerr_set(err, ERR_INTERNAL_ERROR, m, NULL);
		free(m);
	} else {
		if (ret)
			*ret = json_incref(json_object_get(r, "return"));
		rc = 0;
	}
	json_decref(r);
out:
	if (fd >= 0)
		close(fd);
	free(lb.buf);
	json_decref(args);
	return rc;
}
