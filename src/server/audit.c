/* audit: see audit.h. Writes are appends under one mutex, each line whole
 * in one write(2); rotation renames audit.log.N-1 → .N … audit.log → .1. */
#include "audit.h"
#include "rpc.h"
#include "../base/jsonv.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int fd = -1;
static char *path;
static size_t size, max_size;
static int keep_files;

int audit_open(const char *dir, size_t max_bytes, int keep, struct xerr *err)
{
	path = xasprintf("%s/audit.log", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return xerr_internal(err, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	size = fstat(fd, &st) == 0 ? (size_t)st.st_size : 0;
	max_size = max_bytes;
	keep_files = keep < 1 ? 1 : keep;
	return 0;
}

void audit_close(void)
{
	if (fd >= 0)
		close(fd);
	fd = -1;
	free(path);
	path = NULL;
}

static void rotate_locked(void)
{
	char *from = NULL, *to = NULL;
	for (int i = keep_files; i >= 1; i--) {
		from = i == 1 ? xstrdup(path) : xasprintf("%s.%d", path, i - 1);
		to = xasprintf("%s.%d", path, i);
		rename(from, to);
		free(from);
		free(to);
	}
	close(fd);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	size = 0;
	if (fd < 0)
		log_error("audit: cannot reopen %s: %s", path, strerror(errno));
}

static void write_line(const char *line, size_t n)
{
	log_info("audit: %.*s", (int)n - 1, line);
	pthread_mutex_lock(&lock);
	if (fd >= 0 && max_size && size + n > max_size && size > 0)
		rotate_locked();
	if (fd >= 0) {
		ssize_t w = write(fd, line, n);
		if (w > 0)
			size += (size_t)w;
	}
	pthread_mutex_unlock(&lock);
}

/* 'text' with ' and \ escaped and control characters as spaces. */
static void quoted(struct strbuf *sb, const char *s, size_t max)
{
	sb_putc(sb, '\'');
	size_t n = 0;
	for (; *s && n < max; s++, n++) {
		if (*s == '\'' || *s == '\\')
			sb_putc(sb, '\\');
		sb_putc(sb, (unsigned char)*s < 0x20 ? ' ' : *s);
	}
	if (*s)
		sb_puts(sb, "...");
	sb_putc(sb, '\'');
}

static bool secret_name(const char *name)
{
	static const char *const words[] = {"password", "pwd", "secret", "private_key", "privatekey", "token",
					    "passphrase", NULL};
	for (int i = 0; words[i]; i++)
		if (strcasestr(name, words[i]))
			return true;
	return !strcasecmp(name, "pass"); /* external authentication's config key */
}

/* A copy of v with the values of secret-looking keys elided. */
static xv elide(const xv *v)
{
	if (v->kind == XV_MAP) {
		xv out = xv_map_new();
		for (size_t i = 0; i < v->u.m->n; i++)
			xv_map_set(&out, v->u.m->keys[i],
				   secret_name(v->u.m->keys[i]) ? xv_str("(secret)") : elide(&v->u.m->vals[i]));
		return out;
	}
	if (v->kind == XV_ARR) {
		xv out = xv_arr_new();
		for (size_t i = 0; i < v->u.a->n; i++)
			xv_arr_push(&out, elide(&v->u.a->items[i]));
		return out;
	}
	return xv_copy(v);
}

static void value(struct strbuf *sb, const char *name, const xv *v, bool all_secret)
{
	if (all_secret || secret_name(name)) {
		sb_puts(sb, "'(secret)'");
		return;
	}
	if (v->kind == XV_STR) {
		quoted(sb, v->u.s, 256);
		return;
	}
	xv e = elide(v);
	struct strbuf j = STRBUF_INIT;
	jsonv_write(&j, &e);
	quoted(sb, j.buf ? j.buf : "", 512);
	sb_free(&j);
	xv_free(&e);
}

static void head(struct strbuf *sb, const char *session, const struct rpc_ctx *ctx, const char *user,
		 bool allowed)
{
	char ts[32];
	xv_time_format(time(NULL), ts, sizeof ts);
	sb_printf(sb, "%s ('trackid=%.8s' ", ts,
		  session && strlen(session) > 10 ? session + 10 : "00000000");
	quoted(sb, ctx->rbac_exempt ? "LOCAL_SUPERUSER" : ctx->sid[0] ? ctx->sid : "", 64);
	sb_putc(sb, ' ');
	quoted(sb, user, 64);
	sb_puts(sb, allowed ? " 'ALLOWED' " : " 'DENIED' ");
}

static void tail(struct strbuf *sb, const struct rpc_ctx *ctx)
{
	sb_puts(sb, " originator=");
	quoted(sb, ctx->originator, 64);
	sb_puts(sb, " peer=");
	quoted(sb, ctx->peer, RPC_PEER_LEN);
	sb_puts(sb, ")\n");
}

/* Whether a call that passed RBAC is one to keep: what writes (setters,
 * map and set edits, create, destroy, and the messages read-only may not
 * call), and the logins, logouts and task ends read-only may do. */
static bool changes(int cls, const struct sc_message *m)
{
	switch (m->kind) {
	case SC_MSG_SET_FIELD:
	case SC_MSG_ADD_TO_MAP:
	case SC_MSG_REMOVE_FROM_MAP:
	case SC_MSG_ADD_TO_SET:
	case SC_MSG_REMOVE_FROM_SET:
	case SC_MSG_CREATE:
	case SC_MSG_DESTROY:
		return true;
	case SC_MSG_CUSTOM:
		break;
	default:
		return false;
	}
	if (!(m->roles & SC_ROLE_READ_ONLY))
		return true;
	if (cls == SC_C_session)
		return !strcmp(m->name, "login_with_password") || !strcmp(m->name, "logout") ||
		       !strcmp(m->name, "logout_subject_identifier");
	return cls == SC_C_task && (!strcmp(m->name, "cancel") || !strcmp(m->name, "destroy"));
}

void audit_call(const struct rpc_call *call)
{
	const struct sc_message *m = call->ctx.msg;
	if (!m || call->ctx.task[0] || fd < 0)
		return;
	const char *code = call->err.code;
	bool denied = code && (!strcmp(code, "RBAC_PERMISSION_DENIED") ||
			       !strcmp(code, "SESSION_AUTHORIZATION_FAILED") ||
			       !strcmp(code, "SESSION_AUTHENTICATION_FAILED"));
	if (!denied && (!call->ctx.session[0] && !(call->ctx.cls == SC_C_session)))
		return;
	if (!denied && !changes(call->ctx.cls, m))
		return;
	size_t first = m->session ? 1 : 0;
	bool login = call->ctx.cls == SC_C_session && !m->session;
	const char *user = call->ctx.user;
	if (login) /* no session yet: the name given */
		user = xv_as_str(xv_arr_get(&call->params, 0)) ? xv_as_str(xv_arr_get(&call->params, 0)) : "";
	struct strbuf sb = STRBUF_INIT;
	head(&sb, login && !code ? xv_as_str(&call->result) : call->ctx.session, &call->ctx, user, !denied);
	if (!code)
		sb_puts(&sb, "'OK'");
	else {
		sb_puts(&sb, "'ERROR:");
		sb_puts(&sb, code);
		for (size_t i = 0; i < call->err.nparams && i < 1; i++) {
			sb_putc(&sb, ':');
			sb_puts(&sb, call->err.params[i]);
		}
		sb_putc(&sb, '\'');
	}
	sb_puts(&sb, " 'API' ");
	quoted(&sb, call->method, 128);
	sb_puts(&sb, " (");
	/* secret.* values are secrets whatever their parameter is called */
	bool all_secret = call->ctx.cls == SC_C_secret;
	for (int i = 0; i < m->nparams; i++) {
		const xv *v = xv_arr_get(&call->params, first + (size_t)i);
		if (!v)
			break;
		sb_puts(&sb, i ? " (" : "(");
		quoted(&sb, m->params[i].name, 64);
		sb_putc(&sb, ' ');
		value(&sb, m->params[i].name, v, all_secret);
		sb_putc(&sb, ')');
	}
	sb_putc(&sb, ')');
	tail(&sb, &call->ctx);
	write_line(sb.buf, sb.len);
	sb_free(&sb);
}

void audit_http(const struct route_req *rr, const char *perm, bool allowed)
{
	if (fd < 0 || (allowed && !strcmp(rr->rt->method, "GET")))
		return;
	struct strbuf sb = STRBUF_INIT;
	head(&sb, rr->ctx.session, &rr->ctx, rr->ctx.user, allowed);
	if (allowed)
		sb_puts(&sb, "'OK'");
	else
		sb_printf(&sb, "'ERROR:RBAC_PERMISSION_DENIED:%s'", perm);
	sb_puts(&sb, " 'HTTP' ");
	quoted(&sb, perm, 128);
	sb_puts(&sb, " ()");
	tail(&sb, &rr->ctx);
	write_line(sb.buf, sb.len);
	sb_free(&sb);
}

/* ---- GET /audit_log ---- */

static void append_file(struct strbuf *out, const char *file, int64_t since)
{
	FILE *f = fopen(file, "r");
	if (!f)
		return;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		char ts[32];
		int64_t t = 0;
		size_t k = strcspn(line, " ");
		snprintf(ts, sizeof ts, "%.*s", (int)(k < sizeof ts - 1 ? k : sizeof ts - 1), line);
		if (since && (xv_time_parse(ts, &t) < 0 || t < since))
			continue;
		sb_add(out, line, (size_t)n);
	}
	free(line);
	fclose(f);
}

static int audit_log_begin(struct route_req *rr)
{
	int64_t since = 0;
	const char *s = route_arg(rr, "since");
	if (s && *s && xv_time_parse(s, &since) < 0) {
		rr->status = 400;
		return xerr_set(&rr->err, ERR_INVALID_VALUE, "since", s, NULL);
	}
	struct strbuf out = STRBUF_INIT;
	sb_puts(&out, "");
	pthread_mutex_lock(&lock);
	for (int i = keep_files; i >= 0 && path; i--) {
		char *file = i ? xasprintf("%s.%d", path, i) : xstrdup(path);
		append_file(&out, file, since);
		free(file);
	}
	pthread_mutex_unlock(&lock);
	size_t len = out.len;
	return route_send_buffer(rr, sb_detach(&out), len, "text/plain; charset=utf-8");
}

const struct route route_audit_log = {.method = "GET",
				      .path = "/audit_log",
				      .begin = audit_log_begin,
				      .no_task = true,
				      .role = SC_ROLE_READ_ONLY};
