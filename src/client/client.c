/* client: the session handle of the C SDK. One libcurl easy handle per
 * session, reused so calls ride a kept-alive connection; the envelopes
 * come from src/wire so client and server agree byte for byte. */
#include "client.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/strbuf.h"
#include "schema/schema.h"
#include "wire/wire.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct xc {
	CURL *h;
	struct curl_slist *headers;
	char *url; /* full endpoint URL */
	enum xc_proto proto;
	bool debug;
	char *originator;
	char *session;
	long next_id;
	struct strbuf resp;
	char curl_err[CURL_ERROR_SIZE];
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	schema_init();
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
	sb_add(ud, data, size * n);
	return size * n;
}

/* "https://h:443" gets the protocol's endpoint; an explicit path is kept. */
static char *endpoint_url(const char *url, enum xc_proto proto)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	const char *slash = strchr(p, '/');
	if (slash && slash[1])
		return xstrdup(url);
	size_t n = slash ? (size_t)(slash - url) : strlen(url);
	return xasprintf("%.*s%s", (int)n, url, proto == XC_JSONRPC ? "/jsonrpc" : "/");
}

struct xc *xc_new(const char *url, const struct xc_opts *opts)
{
	static const struct xc_opts defaults = {0};
	if (!opts)
		opts = &defaults;
	pthread_once(&curl_once, curl_init_once);
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	struct xc *c = xcalloc(1, sizeof *c);
	c->h = h;
	c->proto = opts->proto;
	c->debug = opts->debug;
	c->url = endpoint_url(url, opts->proto);
	c->originator = xstrdup(opts->originator ? opts->originator : "xenon-c-sdk");
	c->next_id = 1;
	sb_init(&c->resp);
	c->headers = curl_slist_append(NULL, opts->proto == XC_JSONRPC
						     ? "Content-Type: application/json"
						     : "Content-Type: text/xml");
	/* curl's default "Expect: 100-continue" costs a round trip per call. */
	c->headers = curl_slist_append(c->headers, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, c->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "xenon-c-sdk/0.1");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &c->resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->curl_err);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, opts->verify_tls ? 1L : 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, opts->verify_tls ? 2L : 0L);
	if (opts->ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, opts->ca_file);
	if (opts->pinned_pubkey)
		curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, opts->pinned_pubkey);
	if (opts->connect_timeout_s > 0)
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, opts->connect_timeout_s);
	if (opts->timeout_s > 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, opts->timeout_s);
	return c;
}

void xc_free(struct xc *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->h);
	curl_slist_free_all(c->headers);
	free(c->url);
	free(c->originator);
	free(c->session);
	sb_free(&c->resp);
	free(c);
}

const char *xc_session(const struct xc *c)
{
	return c->session;
}

void xc_set_session(struct xc *c, const char *session_ref)
{
	free(c->session);
	c->session = session_ref ? xstrdup(session_ref) : NULL;
}

static int post(struct xc *c, const struct strbuf *body, struct xerr *err)
{
	sb_reset(&c->resp);
	c->curl_err[0] = 0;
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body->buf);
	curl_easy_setopt(c->h, CURLOPT_POSTFIELDSIZE, (long)body->len);
	CURLcode rc = curl_easy_perform(c->h);
	if (rc != CURLE_OK)
		return xerr_set(err, XC_ERR_TRANSPORT,
				c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc), c->url, NULL);
	long status = 0;
	curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		char s[16];
		snprintf(s, sizeof s, "%ld", status);
		return xerr_set(err, XC_ERR_HTTP, s, c->url, NULL);
	}
	if (!c->resp.buf)
		sb_puts(&c->resp, "");
	return 0;
}

int xc_call_raw(struct xc *c, const char *method, const xv *params, xv *result, struct xerr *err)
{
	struct strbuf body = STRBUF_INIT;
	xv none = xv_arr_new();
	if (!params)
		params = &none;
	if (c->proto == XC_JSONRPC)
		wire_jsonrpc_write_call(&body, method, params, c->next_id++);
	else
		wire_xmlrpc_write_call(&body, method, params);
	xv_free(&none);
	if (c->debug)
		log_debug("xc -> %s", body.buf);
	int rc = post(c, &body, err);
	sb_free(&body);
	if (rc < 0)
		return -1;
	if (c->debug)
		log_debug("xc <- %s", c->resp.buf);
	xv res = XV_NIL_INIT;
	if (c->proto == XC_JSONRPC)
		rc = wire_jsonrpc_parse_response(c->resp.buf, c->resp.len, &res, err);
	else
		rc = wire_xmlrpc_parse_response(c->resp.buf, c->resp.len, &res, err);
	if (rc != 0) {
		xv_free(&res);
		return -1;
	}
	if (result)
		*result = res;
	else
		xv_free(&res);
	return 0;
}

int xc_call(struct xc *c, const char *method, const xv *args, xv *result, struct xerr *err)
{
	xv params = xv_arr_new();
	xv_arr_push_str(&params, c->session ? c->session : "");
	for (size_t i = 0; args && i < xv_len(args); i++)
		xv_arr_push(&params, xv_copy(xv_arr_get(args, i)));
	int rc = xc_call_raw(c, method, &params, result, err);
	xv_free(&params);
	return rc;
}

int xc_call_strs(struct xc *c, const char *method, xv *result, struct xerr *err, ...)
{
	xv args = xv_arr_new();
	va_list ap;
	va_start(ap, err);
	const char *s;
	while ((s = va_arg(ap, const char *)) != NULL)
		xv_arr_push_str(&args, s);
	va_end(ap);
	int rc = xc_call(c, method, &args, result, err);
	xv_free(&args);
	return rc;
}

static int login(struct xc *c, const char *method, const char *user, const char *password, struct xerr *err)
{
	xv params = xv_arr_new();
	xv_arr_push_str(&params, user ? user : "");
	xv_arr_push_str(&params, password ? password : "");
	if (!strcmp(method, "session.login_with_password")) {
		xv_arr_push_str(&params, "1.1");
		xv_arr_push_str(&params, c->originator);
	}
	xv ref = XV_NIL_INIT;
	int rc = xc_call_raw(c, method, &params, &ref, err);
	xv_free(&params);
	if (rc < 0)
		return -1;
	if (ref.kind != XV_STR) {
		xv_free(&ref);
		return xerr_set(err, ERR_PARSE_FAILURE, "login did not return a session ref", NULL);
	}
	free(c->session);
	c->session = ref.u.s; /* take the string */
	return 0;
}

int xc_login(struct xc *c, const char *user, const char *password, struct xerr *err)
{
	return login(c, "session.login_with_password", user, password, err);
}

int xc_login_local(struct xc *c, const char *user, const char *password, struct xerr *err)
{
	return login(c, "session.slave_local_login_with_password", user, password, err);
}

int xc_logout(struct xc *c, struct xerr *err)
{
	if (!c->session)
		return 0;
	int rc = xc_call(c, "session.logout", NULL, NULL, err);
	free(c->session);
	c->session = NULL;
	return rc;
}

int xc_call_async(struct xc *c, const char *method, const xv *args, char **task, struct xerr *err)
{
	char *name = xasprintf("Async.%s", method);
	xv res = XV_NIL_INIT;
	int rc = xc_call(c, name, args, &res, err);
	free(name);
	if (rc < 0)
		return -1;
	if (res.kind != XV_STR) {
		xv_free(&res);
		return xerr_set(err, ERR_PARSE_FAILURE, "Async call did not return a task ref", NULL);
	}
	*task = res.u.s;
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
}

/* error_info is [CODE, params...]; an empty one still has to fail (a
 * cancelled task as xapi reports it: TASK_CANCELLED with the task). */
static int task_error(const char *task, const xv *rec, struct xerr *err)
{
	const xv *info = xv_map_get(rec, "error_info");
	size_t n = info ? xv_len(info) : 0;
	if (n == 0) {
		const char *st = xv_map_get_str(rec, "status");
		if (st && strcasecmp(st, "cancelled") == 0)
			return xerr_set(err, ERR_TASK_CANCELLED, task, NULL);
		return xerr_set(err, ERR_INTERNAL_ERROR, "task failed without error_info", NULL);
	}
	const char *code = xv_as_str(xv_arr_get(info, 0));
	xerr_set(err, code ? code : "INTERNAL_ERROR", NULL);
	for (size_t i = 1; i < n; i++)
		xerr_add(err, xv_as_str(xv_arr_get(info, i)));
	return -1;
}

int xc_task_wait(struct xc *c, const char *task, double timeout_s, bool keep, xv *result,
		 struct xerr *err)
{
	double start = now_s(), interval = 0.02;
	xv targ = xv_arr_new();
	xv_arr_push_str(&targ, task);
	int rc;
	for (;;) {
		xv rec = XV_NIL_INIT;
		if (xc_call(c, "task.get_record", &targ, &rec, err) < 0) {
			rc = -1;
			break;
		}
		const char *st = xv_map_get_str(&rec, "status");
		if (!st || rec.kind != XV_MAP) {
			xv_free(&rec);
			rc = xerr_set(err, ERR_PARSE_FAILURE, "task record without status", NULL);
			break;
		}
		if (strcasecmp(st, "success") == 0) {
			const char *text = xv_map_get_str(&rec, "result");
			rc = 0;
			if (result) {
				*result = XV_NIL_INIT;
				if (text && *text)
					rc = wire_xml_parse_value(text, strlen(text), result, err);
			}
			xv_free(&rec);
			break;
		}
		if (strcasecmp(st, "failure") == 0 || strcasecmp(st, "cancelled") == 0) {
			rc = task_error(task, &rec, err);
			xv_free(&rec);
			break;
		}
		xv_free(&rec);
		if (timeout_s >= 0 && now_s() - start > timeout_s) {
			xv_free(&targ);
			return xerr_set(err, XC_ERR_TIMEOUT, task, NULL);
		}
		sleep_s(interval);
		interval = interval * 1.5 > 1.0 ? 1.0 : interval * 1.5;
	}
	if (!keep) {
		struct xerr ignored = XERR_INIT;
		xc_call(c, "task.destroy", &targ, NULL, &ignored);
		xerr_clear(&ignored);
	}
	xv_free(&targ);
	return rc;
}

int xc_call_wait(struct xc *c, const char *method, const xv *args, xv *result, struct xerr *err)
{
	char *task = NULL;
	if (xc_call_async(c, method, args, &task, err) < 0)
		return -1;
	int rc = xc_task_wait(c, task, -1, false, result, err);
	free(task);
	return rc;
}

int xc_event_loop(struct xc *c, const char *const *classes, char **token, double poll_s,
		  double deadline_s, xc_event_cb cb, void *ud, struct xerr *err)
{
	double start = now_s();
	if (poll_s <= 0)
		poll_s = 30;
	xv cls = xv_arr_new();
	for (size_t i = 0; classes && classes[i]; i++)
		xv_arr_push_str(&cls, classes[i]);
	int rc = 0;
	while (rc == 0) {
		double wait = poll_s;
		if (deadline_s > 0) {
			double left = deadline_s - (now_s() - start);
			if (left <= 0)
				break;
			if (left < wait)
				wait = left;
		}
		xv args = xv_arr_new();
		xv_arr_push(&args, xv_copy(&cls));
		xv_arr_push_str(&args, *token ? *token : "");
		xv_arr_push(&args, xv_float(wait));
		xv batch = XV_NIL_INIT;
		rc = xc_call(c, "event.from", &args, &batch, err);
		xv_free(&args);
		if (rc < 0)
			break;
		const char *tok = xv_map_get_str(&batch, "token");
		if (tok) {
			free(*token);
			*token = xstrdup(tok);
		}
		const xv *evs = xv_map_get(&batch, "events");
		for (size_t i = 0; evs && i < xv_len(evs) && rc == 0; i++)
			rc = cb(xv_arr_get(evs, i), ud);
		xv_free(&batch);
	}
	xv_free(&cls);
	return rc;
}

/* ---- generated-call support ---- */

xv xc_s(const char *s)
{
	return xv_str(s ? s : "");
}

xv xc_set(const xv *v)
{
	return v ? xv_copy(v) : xv_arr_new();
}

xv xc_map(const xv *v)
{
	return v ? xv_copy(v) : xv_map_new();
}

/* "VM.get_name_label" -> the schema's message, for its result type. */
static const struct sc_message *find_message(const char *method)
{
	const char *dot = strchr(method, '.');
	if (!dot || (size_t)(dot - method) >= 64)
		return NULL;
	char cls[64];
	memcpy(cls, method, (size_t)(dot - method));
	cls[dot - method] = 0;
	int ci = sc_class_find(cls);
	return ci < 0 ? NULL : sc_message_find(ci, dot + 1);
}

static int store_result(const struct sc_type *t, xv *v, void *out, struct xerr *err)
{
	if (!out || t->kind == SC_VOID) {
		xv_free(v);
		return 0;
	}
	if (sc_coerce(t, "result", v, err) < 0) {
		xv_free(v);
		return -1;
	}
	switch (t->kind) {
	case SC_STRING:
	case SC_REF:
	case SC_ENUM:
		*(char **)out = v->kind == XV_STR ? v->u.s : xstrdup("");
		if (v->kind != XV_STR)
			xv_free(v);
		return 0;
	case SC_INT:
	case SC_DATETIME:
		*(int64_t *)out = v->u.i;
		return 0;
	case SC_BOOL:
		*(bool *)out = v->u.b;
		return 0;
	case SC_FLOAT:
		*(double *)out = v->u.f;
		return 0;
	default:
		*(xv *)out = *v;
		return 0;
	}
}

static xv take_args(xv *args, int nargs)
{
	xv a = xv_arr_new();
	for (int i = 0; i < nargs; i++)
		xv_arr_push(&a, args[i]);
	return a;
}

int xc_gen(struct xc *c, const char *method, xv *args, int nargs, void *result, struct xerr *err)
{
	const struct sc_message *m = find_message(method);
	xv a = take_args(args, nargs);
	xv res = XV_NIL_INIT;
	int rc = m && !m->session ? xc_call_raw(c, method, &a, &res, err)
				  : xc_call(c, method, &a, &res, err);
	xv_free(&a);
	if (rc < 0)
		return -1;
	if (!m) {
		if (result)
			*(xv *)result = res;
		else
			xv_free(&res);
		return 0;
	}
	return store_result(m->result, &res, result, err);
}

int xc_gen_async(struct xc *c, const char *method, xv *args, int nargs, char **task,
		 struct xerr *err)
{
	xv a = take_args(args, nargs);
	int rc = xc_call_async(c, method, &a, task, err);
	xv_free(&a);
	return rc;
}
