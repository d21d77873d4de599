/* pool_peer (pool_peer.h): one libcurl handle per peer, JSON-RPC bodies
 * written and read by the wire layer. */
#include "pool_peer.h"
#include "../base/errors_gen.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../wire/wire.h"

#include <curl/curl.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

struct peer {
	CURL *h;
	struct curl_slist *headers;
	char *url;
	char *session;
	bool own_session; /* made by peer_login: peer_close logs it out */
	struct strbuf resp;
	char curl_err[CURL_ERROR_SIZE];
	long next_id;
	size_t raw_off; /* upgraded: resp's bytes from here not yet read */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	sb_add(arg, data, size * n);
	return size * n;
}

static char *base_url_scheme(const char *scheme, const char *address, int port, const char *path);

static char *base_url(const char *address, int port, const char *path)
{
	return base_url_scheme("http", address, port, path);
}

static char *base_url_scheme(const char *scheme, const char *address, int port, const char *path)
{
	const char *close = strrchr(address, ']');
	const char *colon = strrchr(address, ':');
	bool has_port = colon && (!close || colon > close) && (close || strchr(address, ':') == colon);
	bool v6 = !close && colon && strchr(address, ':') != colon;
	if (has_port)
		return xasprintf("%s://%s%s", scheme, address, path);
	return xasprintf(v6 ? "%s://[%s]:%d%s" : "%s://%s:%d%s", scheme, address, port, path);
}

struct peer *peer_open(const char *address, int port, long timeout_s)
{
	pthread_once(&curl_once, curl_init_once);
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	struct peer *p = xcalloc(1, sizeof *p);
	p->h = h;
	p->url = base_url(address, port, "/jsonrpc");
	p->next_id = 1;
	sb_init(&p->resp);
	p->headers = curl_slist_append(NULL, "Content-Type: application/json");
	p->headers = curl_slist_append(p->headers, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, p->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, p->headers);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "xenond-pool/1");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &p->resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, p->curl_err);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 60L);
	return p;
}

struct peer *peer_open_tls(const char *address, int port, const char *pin, long timeout_s)
{
	struct peer *p = peer_open(address, port, timeout_s);
	if (!p)
		return NULL;
	free(p->url);
	p->url = base_url_scheme("https", address, port, "/jsonrpc");
	curl_easy_setopt(p->h, CURLOPT_URL, p->url);
	/* self-signed certificates named after their host's name: the key
	 * exchanged at the join is what identifies the peer */
	curl_easy_setopt(p->h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(p->h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(p->h, CURLOPT_PINNEDPUBLICKEY, pin);
	return p;
}

void peer_close(struct peer *p)
{
	if (!p)
		return;
	if (p->session && p->own_session) {
		struct xerr e = XERR_INIT;
		curl_easy_setopt(p->h, CURLOPT_TIMEOUT, 2L);
		peer_call(p, "session.logout", NULL, NULL, &e);
		xerr_clear(&e);
	}
	curl_easy_cleanup(p->h);
	curl_slist_free_all(p->headers);
	free(p->url);
	free(p->session);
	sb_free(&p->resp);
	free(p);
}

static enum peer_result raw_call(struct peer *p, const char *method, const xv *params, xv *result,
				 struct xerr *err)
{
	struct strbuf body = STRBUF_INIT;
	wire_jsonrpc_write_call(&body, method, params, p->next_id++);
	sb_reset(&p->resp);
	p->curl_err[0] = 0;
	curl_easy_setopt(p->h, CURLOPT_POSTFIELDS, body.buf);
	curl_easy_setopt(p->h, CURLOPT_POSTFIELDSIZE, (long)body.len);
	CURLcode rc = curl_easy_perform(p->h);
	sb_free(&body);
	if (rc != CURLE_OK) {
		xerr_internal(err, "%s: %s", p->url, p->curl_err[0] ? p->curl_err : curl_easy_strerror(rc));
		/* something answered, but not HTTP: a service, not the network */
		return rc == CURLE_GOT_NOTHING || rc == CURLE_WEIRD_SERVER_REPLY ||
				       rc == CURLE_UNSUPPORTED_PROTOCOL
			       ? PEER_BAD_ANSWER
			       : PEER_UNREACHABLE;
	}
	long status = 0;
	curl_easy_getinfo(p->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200) {
		xerr_internal(err, "%s: HTTP %ld", p->url, status);
		return PEER_BAD_ANSWER;
	}
	if (!p->resp.buf)
		sb_puts(&p->resp, "");
	xv res = XV_NIL_INIT;
	int r = wire_jsonrpc_parse_response(p->resp.buf, p->resp.len, &res, err);
	if (r != 0) {
		xv_free(&res);
		/* a XenAPI failure sets a code of the datamodel; a body that is
		 * no answer at all sets PARSE_FAILURE */
		return err && err->code && !strcmp(err->code, ERR_PARSE_FAILURE) ? PEER_BAD_ANSWER
									   : PEER_FAILURE;
	}
	if (result)
		*result = res;
	else
		xv_free(&res);
	return PEER_OK;
}

enum peer_result peer_login(struct peer *p, const char *user, const char *password, struct xerr *err)
{
	xv params = xv_arr_new(), res = XV_NIL_INIT;
	xv_arr_push_str(&params, user);
	xv_arr_push_str(&params, password);
	xv_arr_push_str(&params, "2.21");
	xv_arr_push_str(&params, "xenond-pool");
	enum peer_result r = raw_call(p, "session.login_with_password", &params, &res, err);
	xv_free(&params);
	if (r == PEER_OK) {
		const char *s = xv_as_str(&res);
		if (!s) {
			xv_free(&res);
			xerr_internal(err, "%s: the login returned no session", p->url);
			return PEER_BAD_ANSWER;
		}
		free(p->session);
		p->session = xstrdup(s);
		p->own_session = true;
	}
	xv_free(&res);
	return r;
}

void peer_set_session(struct peer *p, const char *session)
{
	free(p->session);
	p->session = xstrdup(session);
	p->own_session = false;
}

enum peer_result peer_call(struct peer *p, const char *method, const xv *args, xv *result,
			   struct xerr *err)
{
	xv params = xv_arr_new();
	if (p->session)
		xv_arr_push_str(&params, p->session);
	for (size_t i = 0; args && xv_arr_get(args, i); i++)
		xv_arr_push(&params, xv_copy(xv_arr_get(args, i)));
	enum peer_result r = raw_call(p, method, &params, result, err);
	xv_free(&params);
	return r;
}

enum peer_result peer_call_strs(struct peer *p, const char *method, xv *result, struct xerr *err, ...)
{
	xv args = xv_arr_new();
	va_list ap;
	va_start(ap, err);
	for (const char *s; (s = va_arg(ap, const char *));)
		xv_arr_push_str(&args, s);
	va_end(ap);
	enum peer_result r = peer_call(p, method, &args, result, err);
	xv_free(&args);
	return r;
}

/* ---- a streamed GET ---- */

struct stream_ctx {
	struct peer *p;
	peer_sink sink;
	peer_go_on go_on;
	void *arg;
};

static size_t on_stream(char *data, size_t size, size_t n, void *arg)
{
	struct stream_ctx *s = arg;
	long status = 0;
	curl_easy_getinfo(s->p->h, CURLINFO_RESPONSE_CODE, &status);
	return s->sink(s->arg, status, data, size * n);
}

static int on_progress(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	(void)dt, (void)dn, (void)ut, (void)un;
	struct stream_ctx *s = arg;
	return s->go_on(s->arg) ? 0 : 1;
}

enum peer_result peer_get_stream(struct peer *p, const char *path, const char *query, peer_sink sink,
				 peer_go_on go_on, void *arg, struct xerr *err)
{
	/* the peer's URL ends in /jsonrpc: the same host and port */
	const char *tail = strrchr(p->url, '/');
	struct strbuf url = STRBUF_INIT;
	sb_add(&url, p->url, tail ? (size_t)(tail - p->url) : strlen(p->url));
	sb_printf(&url, "%s?", path);
	if (p->session) {
		char *e = curl_easy_escape(p->h, p->session, 0);
		sb_printf(&url, "session_id=%s%s", e, query && *query ? "&" : "");
		curl_free(e);
	}
	sb_puts(&url, query ? query : "");
	struct stream_ctx s = {p, sink, go_on, arg};
	p->curl_err[0] = 0;
	curl_easy_setopt(p->h, CURLOPT_URL, url.buf);
	curl_easy_setopt(p->h, CURLOPT_HTTPGET, 1L);
	curl_easy_setopt(p->h, CURLOPT_TIMEOUT, 0L); /* as long as the stream lasts */
	curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, on_stream);
	curl_easy_setopt(p->h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(p->h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(p->h, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(p->h, CURLOPT_XFERINFODATA, &s);
	CURLcode rc = curl_easy_perform(p->h);
	curl_easy_setopt(p->h, CURLOPT_NOPROGRESS, 1L);
	curl_easy_setopt(p->h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(p->h, CURLOPT_WRITEDATA, &p->resp);
	curl_easy_setopt(p->h, CURLOPT_URL, p->url);
	enum peer_result r = PEER_OK;
	if (rc != CURLE_OK && rc != CURLE_WRITE_ERROR && rc != CURLE_ABORTED_BY_CALLBACK) {
		xerr_internal(err, "%s: %s", url.buf, p->curl_err[0] ? p->curl_err : curl_easy_strerror(rc));
		r = PEER_UNREACHABLE;
	}
	sb_free(&url);
	return r;
}

/* ---- an upgraded connection ---- */

static int raw_wait(struct peer *p, short events, int ms)
{
	struct pollfd pf = {.fd = peer_raw_fd(p), .events = events};
	return pf.fd < 0 ? -1 : poll(&pf, 1, ms);
}

int peer_raw_fd(struct peer *p)
{
	curl_socket_t s = CURL_SOCKET_BAD;
	if (curl_easy_getinfo(p->h, CURLINFO_ACTIVESOCKET, &s) != CURLE_OK || s == CURL_SOCKET_BAD)
		return -1;
	return (int)s;
}

long peer_raw_recv(struct peer *p, void *buf, size_t n)
{
	if (p->raw_off < p->resp.len) {
		size_t k = p->resp.len - p->raw_off;
		if (k > n)
			k = n;
		memcpy(buf, p->resp.buf + p->raw_off, k);
		p->raw_off += k;
		if (p->raw_off == p->resp.len) {
			sb_reset(&p->resp);
			p->raw_off = 0;
		}
		return (long)k;
	}
	size_t got = 0;
	CURLcode rc = curl_easy_recv(p->h, buf, n, &got);
	if (rc == CURLE_AGAIN)
		return PEER_RAW_AGAIN;
	if (rc != CURLE_OK)
		return -1;
	return (long)got;
}

int peer_raw_send(struct peer *p, const void *buf, size_t n)
{
	const char *b = buf;
	while (n) {
		size_t sent = 0;
		CURLcode rc = curl_easy_send(p->h, b, n, &sent);
		if (rc == CURLE_AGAIN) {
			if (raw_wait(p, POLLOUT, 5000) <= 0)
				return -1;
			continue;
		}
		if (rc != CURLE_OK)
			return -1;
		b += sent;
		n -= sent;
	}
	return 0;
}

enum peer_result peer_upgrade(struct peer *p, const char *path, const char *query, const char *upgrade,
			      long *status, struct xerr *err)
{
	*status = 0;
	/* the peer's URL: scheme://host[:port]/jsonrpc */
	const char *host = strstr(p->url, "://");
	host = host ? host + 3 : p->url;
	const char *tail = strchr(host, '/');
	size_t hostlen = tail ? (size_t)(tail - host) : strlen(host);
	struct strbuf req = STRBUF_INIT;
	sb_printf(&req, "GET %s?", path);
	if (p->session) {
		char *e = curl_easy_escape(p->h, p->session, 0);
		sb_printf(&req, "session_id=%s%s", e, query && *query ? "&" : "");
		curl_free(e);
	}
	sb_printf(&req, "%s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: xenond-pool/1\r\nUpgrade: %s\r\n"
		  "Connection: Upgrade\r\n\r\n", query ? query : "", (int)hostlen, host, upgrade);
	p->curl_err[0] = 0;
	curl_easy_setopt(p->h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(p->h, CURLOPT_FRESH_CONNECT, 1L);
	CURLcode rc = curl_easy_perform(p->h);
	enum peer_result r = PEER_UNREACHABLE;
	if (rc != CURLE_OK) {
		xerr_internal(err, "%s: %s", p->url, p->curl_err[0] ? p->curl_err : curl_easy_strerror(rc));
		goto out;
	}
	if (peer_raw_send(p, req.buf, req.len) < 0) {
		xerr_internal(err, "%s: the upgrade request was not sent", p->url);
		goto out;
	}
	/* the answer's head, within 10 s */
	sb_reset(&p->resp);
	p->raw_off = 0;
	char buf[4096];
	char *end = NULL;
	for (int waited = 0; !end;) {
		size_t got = 0;
		rc = curl_easy_recv(p->h, buf, sizeof buf, &got);
		if (rc == CURLE_AGAIN) {
			if (waited >= 10000 || raw_wait(p, POLLIN, 250) < 0) {
				xerr_internal(err, "%s: no answer to the upgrade", p->url);
				goto out;
			}
			waited += 250;
			continue;
		}
		if (rc != CURLE_OK || got == 0 || p->resp.len + got > 65536) {
			xerr_internal(err, "%s: the upgrade's answer was cut", p->url);
			goto out;
		}
		sb_add(&p->resp, buf, got);
		end = memmem(p->resp.buf, p->resp.len, "\r\n\r\n", 4);
	}
	size_t head = (size_t)(end - p->resp.buf) + 4;
	char *sp = memchr(p->resp.buf, ' ', head);
	*status = sp ? strtol(sp + 1, NULL, 10) : 0;
	if (*status != 101) {
		/* a refusal's body: "CODE params" on its first line */
		const char *body = p->resp.buf + head;
		size_t blen = p->resp.len - head;
		for (int waited = 0; !memchr(body, '\n', blen) && waited < 2000; waited += 100) {
			size_t got = 0;
			rc = curl_easy_recv(p->h, buf, sizeof buf, &got);
			if (rc == CURLE_AGAIN) {
				raw_wait(p, POLLIN, 100);
				continue;
			}
			if (rc != CURLE_OK || got == 0 || p->resp.len + got > 65536)
				break;
			sb_add(&p->resp, buf, got);
			body = p->resp.buf + head;
			blen = p->resp.len - head;
		}
		size_t line = strcspn(body, "\n");
		char *t = xstrndup(body, line < blen ? line : blen);
		char *rest = strchr(t, ' ');
		if (rest)
			*rest++ = '\0';
		const char *params[1] = {rest};
		if (*t)
			xerr_setv(err, t, rest ? 1 : 0, params);
		else
			xerr_internal(err, "%s: HTTP %ld to the upgrade", p->url, *status);
		free(t);
		sb_reset(&p->resp);
		r = PEER_BAD_ANSWER;
		goto out;
	}
	p->raw_off = head;
	if (p->raw_off == p->resp.len) {
		sb_reset(&p->resp);
		p->raw_off = 0;
	}
	r = PEER_OK;
out:
	sb_free(&req);
	return r;
}
