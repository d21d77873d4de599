/* cmd_console: `xe console vm=NAME|UUID` attaches the terminal to the VM's
 * vt100 console through the server's CONNECT /console (history first, then
 * live, raw terminal); Ctrl-] detaches. Plain http:// servers only. */
#include "cmd.h"
#include "../base/mem.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

/* The uuid of vm's vt100 console. */
static int vt100_uuid(struct xe_ctx *x, const char *vm, char **uuid, struct xerr *err)
{
	xv cons = XV_NIL_INIT;
	if (xs_call(x->s, "VM.get_consoles", &cons, err, vm, NULL) < 0)
		return -1;
	*uuid = NULL;
	for (size_t i = 0; i < xv_len(&cons) && !*uuid; i++) {
		const char *c = xv_as_str(xv_arr_get(&cons, i));
		xv p = XV_NIL_INIT;
		if (xs_call(x->s, "console.get_protocol", &p, err, c, NULL) == 0 &&
		    !strcmp(xv_as_str(&p) ? xv_as_str(&p) : "", "vt100")) {
			xv u = XV_NIL_INIT;
			if (xs_call(x->s, "console.get_uuid", &u, err, c, NULL) == 0)
				*uuid = xstrdup(xv_as_str(&u));
			xv_free(&u);
		}
		xv_free(&p);
	}
	xv_free(&cons);
	if (!*uuid && !err->code)
		return xe_fail(err, "The VM has no text console (is it running?)");
	return *uuid ? 0 : -1;
}

static int dial(const char *url, struct xerr *err)
{
	if (strncmp(url, "http://", 7))
		return xe_fail(err, "xe console needs a plain http:// server");
	char host[256];
	snprintf(host, sizeof host, "%s", url + 7);
	char *port = strrchr(host, ':');
	char *slash = strchr(host, '/');
	if (slash)
		*slash = '\0';
	if (port)
		*port++ = '\0';
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	if (getaddrinfo(host, port ? port : "80", &hints, &ai) != 0)
		return xe_fail(err, "cannot resolve %s", host);
	int fd = -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd >= 0 ? fd : xe_fail(err, "cannot connect to %s", url);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void relay(int fd, const char *early, size_t nearly)
{
	struct termios old, raw;
	bool tty = isatty(0) && tcgetattr(0, &old) == 0;
	if (tty) {
		raw = old;
		cfmakeraw(&raw);
		tcsetattr(0, TCSANOW, &raw);
		fprintf(stderr, "[attached; Ctrl-] to detach]\r\n");
	}
	write_all(1, early, nearly);
	char buf[65536];
	for (;;) {
		struct pollfd p[2] = {{.fd = 0, .events = POLLIN}, {.fd = fd, .events = POLLIN}};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			ssize_t n = recv(fd, buf, sizeof buf, 0);
			if (n <= 0 || write_all(1, buf, (size_t)n) < 0)
				break;
		}
		if (p[0].revents) {
			ssize_t n = read(0, buf, sizeof buf);
			if (n <= 0)
				break;
			char *q = memchr(buf, 0x1d, (size_t)n);
			if (q)
				n = q - buf;
			if (n > 0 && write_all(fd, buf, (size_t)n) < 0)
				break;
			if (q)
				break;
		}
	}
	if (tty) {
		tcsetattr(0, TCSANOW, &old);
		fprintf(stderr, "\n[detached]\n");
	}
}

static int h_console(struct xe_ctx *x, struct xerr *err)
{
	char *vm = NULL, *uuid = NULL;
	if (xe_vm_ref(x, &vm, err) < 0)
		return -1;
	int rc = vt100_uuid(x, vm, &uuid, err);
	free(vm);
	if (rc < 0)
		return -1;
	int fd = dial(x->server_url, err);
	if (fd < 0) {
		free(uuid);
		return -1;
	}
	char *req = xasprintf("CONNECT /console?uuid=%s&session_id=%s HTTP/1.1\r\nHost: xenon\r\n\r\n",
			      uuid, xc_session(x->c));
	free(uuid);
	rc = write_all(fd, req, strlen(req));
	free(req);
	char head[8192];
	size_t n = 0;
	char *end = NULL;
	while (rc == 0 && !end && n < sizeof head - 1) {
		ssize_t r = recv(fd, head + n, sizeof head - 1 - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
		head[n] = '\0';
		end = strstr(head, "\r\n\r\n");
	}
	if (!end || (strncmp(head, "HTTP/1.1 101", 12) && strncmp(head, "HTTP/1.1 200", 12))) {
		char *eol = n ? strstr(head, "\r\n") : NULL;
		if (eol)
			*eol = '\0';
		close(fd);
		return xe_fail(err, "console refused: %s", n ? head : "no answer");
	}
	end += 4;
	relay(fd, end, n - (size_t)(end - head));
	close(fd);
	return 0;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

const struct xe_cmd xe_console_cmds[] = {
	{"console", NULL, L("vm", "uuid"),
	 "Attach to a running VM's text console (its history first); Ctrl-] detaches.",
	 XE_CMD_STANDARD, h_console, NULL},
};
const size_t xe_console_ncmds = sizeof xe_console_cmds / sizeof xe_console_cmds[0];
