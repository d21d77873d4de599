/* put: an upload's request and body written by xe on the connection curl
 * opened (CURLOPT_CONNECT_ONLY: curl resolves, connects and does the TLS
 * handshake). Over plain HTTP the parts of the file that the page cache
 * holds go from the cache to the socket with sendfile, and the rest from
 * the reader's O_DIRECT buffers with send; over TLS every byte goes
 * through curl_easy_send. Through curl's read callback every byte was
 * copied once more, into curl's buffer, and on a 2-core host the
 * client's copies are time the server's receiving thread does not get. */
#include "put.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

#define STALL_MS (10 * 60 * 1000) /* the server takes no data for this long: give up */
#define PIPE_BUF_SIZE (1 << 20)

struct conn {
	CURL *h;
	curl_socket_t s;
	bool tls;
};

static int wait_for(const struct conn *c, short ev)
{
	struct pollfd p = {.fd = c->s, .events = ev};
	int r;
	while ((r = poll(&p, 1, STALL_MS)) < 0 && errno == EINTR)
		;
	return r > 0 ? 0 : -1;
}

/* After a socket call returned k: 1 to make it again (interrupted, or
 * the socket was not ready and now is), 0 when k is its result, -1 when
 * the socket stayed blocked too long. */
static int again(const struct conn *c, ssize_t k, short ev)
{
	if (k >= 0)
		return 0;
	if (errno == EINTR)
		return 1;
	if (errno == EAGAIN || errno == EWOULDBLOCK)
		return wait_for(c, ev) < 0 ? -1 : 1;
	return 0;
}

static int send_buf(const struct conn *c, const char *p, size_t n, bool more)
{
	while (n) {
		size_t w = 0;
		if (c->tls) {
			CURLcode cc = curl_easy_send(c->h, p, n, &w);
			if (cc == CURLE_AGAIN) {
				if (wait_for(c, POLLOUT) < 0)
					return -1;
				continue;
			}
			if (cc != CURLE_OK)
				return -1;
		} else {
			ssize_t k = send(c->s, p, n, MSG_NOSIGNAL | (more ? MSG_MORE : 0));
			int a = again(c, k, POLLOUT);
			if (a > 0)
				continue;
			if (a < 0 || k <= 0)
				return -1;
			w = (size_t)k;
		}
		p += w;
		n -= w;
	}
	return 0;
}

/* From the page cache to the socket; plain HTTP only. */
static int send_file(const struct conn *c, int fd, off_t off, size_t n)
{
	while (n) {
		ssize_t k = sendfile(c->s, fd, &off, n);
		int a = again(c, k, POLLOUT);
		if (a > 0)
			continue;
		if (a < 0 || k <= 0) /* 0: the file shrank */
			return -1;
		n -= (size_t)k;
	}
	return 0;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
	for (int i = 0; i < n; i++, v >>= 8)
		p[i] = (unsigned char)v;
}

uint64_t put_chunked_length(const struct reader_seg *segs, size_t nsegs)
{
	uint64_t n = 12; /* the last chunk: a header of zeros */
	for (size_t i = 0; i < nsegs; i++)
		n += 12 + (uint64_t)segs[i].len;
	return n;
}

static void progress(const struct put_body *b, uint64_t sent)
{
	if (b->progress)
		b->progress(b->progress_arg, sent, b->length);
}

/* A pipe to its end. -1: it could not be sent; -2: not read (why set). */
static int send_pipe(const struct conn *c, const struct put_body *b, struct strbuf *why)
{
	char *buf = xmalloc(PIPE_BUF_SIZE);
	uint64_t sent = 0;
	int rc = 0;
	for (;;) {
		ssize_t k = read(b->fd, buf, PIPE_BUF_SIZE);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			sb_printf(why, "cannot read the input: %s", strerror(errno));
			rc = -2;
			break;
		}
		if (k == 0)
			break;
		if (send_buf(c, buf, (size_t)k, false) < 0) {
			rc = -1;
			break;
		}
		sent += (uint64_t)k;
		progress(b, sent);
	}
	free(buf);
	return rc;
}

/* The file's parts, as chunks or back to back. Returns as send_pipe. */
static int send_parts(const struct conn *c, const struct put_body *b, struct strbuf *why)
{
	struct reader *rd = reader_start(b->fd, b->path, b->segs, b->nsegs, !c->tls);
	unsigned char hdr[12];
	uint64_t sent = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < b->nsegs; i++) {
		const struct reader_seg *sg = &b->segs[i];
		if (b->chunked) {
			put_le(hdr, (uint64_t)sg->off, 8);
			put_le(hdr + 8, (uint64_t)sg->len, 4);
			rc = send_buf(c, (const char *)hdr, sizeof hdr, true);
		}
		for (off_t left = sg->len; rc == 0 && left > 0;) {
			struct reader_block k;
			int e = reader_next(rd, &k);
			if (e) {
				sb_printf(why, "cannot read %s: %s", b->path, strerror(e));
				rc = -2;
				break;
			}
			rc = k.data ? send_buf(c, k.data, k.len, false) : send_file(c, b->fd, k.off, k.len);
			reader_release(rd);
			left -= (off_t)k.len;
			sent += k.len;
			progress(b, sent);
		}
	}
	if (rc == 0 && b->chunked) {
		memset(hdr, 0, sizeof hdr);
		rc = send_buf(c, (const char *)hdr, sizeof hdr, false);
	}
	reader_stop(rd);
	return rc;
}

/* The answer's status, reading to the end of the connection (the request
 * said "Connection: close"): leaving data unread at the close would send
 * the server a reset instead of an orderly end. 0: no status line. */
static int read_status(const struct conn *c)
{
	char head[512];
	size_t n = 0;
	char sink[4096];
	for (;;) {
		char *p = n < sizeof head - 1 ? head + n : sink;
		size_t room = n < sizeof head - 1 ? sizeof head - 1 - n : sizeof sink;
		size_t k = 0;
		if (c->tls) {
			CURLcode cc = curl_easy_recv(c->h, p, room, &k);
			if (cc == CURLE_AGAIN) {
				if (wait_for(c, POLLIN) < 0)
					break;
				continue;
			}
			if (cc != CURLE_OK || k == 0)
				break;
		} else {
			ssize_t r = recv(c->s, p, room, 0);
			int a = again(c, r, POLLIN);
			if (a > 0)
				continue;
			if (a < 0 || r <= 0)
				break;
			k = (size_t)r;
		}
		if (p == head + n)
			n += k;
	}
	head[n] = 0;
	int status = 0;
	if (sscanf(head, "HTTP/%*u.%*u %d", &status) != 1)
		return 0;
	return status;
}

/* "PUT <path>?<query> HTTP/1.1" and the headers. -1: not a URL. */
static int request_head(const char *url, uint64_t length, struct strbuf *out)
{
	CURLU *u = curl_url();
	char *host = NULL, *port = NULL, *path = NULL, *query = NULL;
	int rc = -1;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PATH, &path, 0) == CURLUE_OK) {
		curl_url_get(u, CURLUPART_PORT, &port, 0);
		curl_url_get(u, CURLUPART_QUERY, &query, 0);
		sb_printf(out,
			  "PUT %s%s%s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: xe\r\n"
			  "Content-Type: application/octet-stream\r\nContent-Length: %llu\r\n"
			  "Connection: close\r\n\r\n",
			  path, query ? "?" : "", query ? query : "", host, port ? ":" : "", port ? port : "",
			  (unsigned long long)length);
		rc = 0;
	}
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(u);
	return rc;
}

int put_send(const char *url, const struct put_body *b, struct strbuf *why)
{
	struct strbuf head = STRBUF_INIT;
	if (request_head(url, b->length, &head) < 0) {
		sb_printf(why, "not a URL: %s", url);
		return -1;
	}
	/* sendfile and TLS writes cannot be told MSG_NOSIGNAL: a server that
	 * answers early and closes must give an error, not end xe */
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_pipe;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGPIPE, &ign, &old_pipe);
	struct conn c = {.h = curl_easy_init(), .tls = !strncasecmp(url, "https:", 6)};
	curl_easy_setopt(c.h, CURLOPT_URL, url);
	curl_easy_setopt(c.h, CURLOPT_CONNECT_ONLY, 1L);
	curl_easy_setopt(c.h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c.h, CURLOPT_SSL_VERIFYHOST, 0L);
	CURLcode cc = curl_easy_perform(c.h);
	if (cc == CURLE_OK)
		cc = curl_easy_getinfo(c.h, CURLINFO_ACTIVESOCKET, &c.s);
	int status = -1;
	if (cc != CURLE_OK) {
		sb_printf(why, "cannot connect: %s", curl_easy_strerror(cc));
	} else if (send_buf(&c, head.buf, head.len, true) < 0) {
		sb_printf(why, "cannot send the request");
	} else {
		int rc = b->pipe ? send_pipe(&c, b, why) : send_parts(&c, b, why);
		if (rc == -2) {
			status = 0; /* our side failed: the server finds the body cut short */
		} else {
			/* all sent, or the server stopped taking it (having
			 * answered). Of a pipe's upload the server cannot know
			 * the end but from ours. */
			if (b->pipe)
				shutdown(c.s, SHUT_WR);
			status = read_status(&c);
		}
	}
	curl_easy_cleanup(c.h);
	sigaction(SIGPIPE, &old_pipe, NULL);
	sb_free(&head);
	return status;
}
