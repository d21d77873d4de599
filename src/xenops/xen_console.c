/* xen_console: a domain's console as xenconsoled serves it (a pty libxl
 * names) offered where the serial hub looks for every VM's console:
 * <run-dir>/vm/<uuid>/serial.sock, a stream socket, with every byte also
 * appended to serial.log beside it. One relay thread per domain. */
#include "xen_int.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

struct xen_console {
	int pty, lsock, client, logfd, stopfd;
	pthread_t thread;
};

static void *relay_main(void *arg)
{
	struct xen_console *c = arg;
	char buf[4096];
	for (;;) {
		struct pollfd p[4] = {{c->stopfd, POLLIN, 0}, {c->pty, POLLIN, 0}, {c->lsock, POLLIN, 0},
				      {c->client, POLLIN, 0}};
		if (poll(p, c->client >= 0 ? 4 : 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents)
			break;
		if (p[2].revents & POLLIN) {
			int fd = accept4(c->lsock, NULL, NULL, SOCK_CLOEXEC);
			if (fd >= 0) {
				/* one reader: the hub; a newer one replaces it */
				if (c->client >= 0)
					close(c->client);
				c->client = fd;
			}
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			ssize_t n = read(c->pty, buf, sizeof buf);
			if (n <= 0) {
				if (n < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				break; /* xenconsoled let go: the domain is gone */
			}
			if (c->logfd >= 0 && write(c->logfd, buf, (size_t)n) < 0)
				log_warn("xen console: serial.log: %s", strerror(errno));
			if (c->client >= 0 && send(c->client, buf, (size_t)n, MSG_NOSIGNAL) < 0) {
				close(c->client);
				c->client = -1;
			}
		}
		if (c->client >= 0 && (p[3].revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t n = read(c->client, buf, sizeof buf);
			if (n <= 0) {
				close(c->client);
				c->client = -1;
			} else if (write(c->pty, buf, (size_t)n) < 0) {
				log_warn("xen console: writing to the guest: %s", strerror(errno));
			}
		}
	}
	return NULL;
}

void xen_console_stop(struct xen_console *c)
{
	if (!c)
		return;
	uint64_t one = 1;
	if (write(c->stopfd, &one, sizeof one) < 0)
		log_warn("xen console: %s", strerror(errno));
	pthread_join(c->thread, NULL);
	close(c->stopfd);
	close(c->pty);
	close(c->lsock);
	if (c->client >= 0)
		close(c->client);
	if (c->logfd >= 0)
		close(c->logfd);
	free(c);
}

struct xen_console *xen_console_start(libxl_ctx *ctx, uint32_t domid, bool hvm, const char *dir)
{
	char *tty = NULL;
	if (libxl_console_get_tty(ctx, domid, 0, hvm ? LIBXL_CONSOLE_TYPE_SERIAL : LIBXL_CONSOLE_TYPE_PV, &tty) ||
	    !tty) {
		log_warn("xen console: domain %u has no console tty", domid);
		return NULL;
	}
	struct xen_console *c = xcalloc(1, sizeof *c);
	c->client = -1;
	c->pty = open(tty, O_RDWR | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
	free(tty);
	char *sock = xasprintf("%s/serial.sock", dir), *log = xasprintf("%s/serial.log", dir);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", sock);
	unlink(sock);
	c->lsock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	c->logfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	c->stopfd = eventfd(0, EFD_CLOEXEC);
	free(log);
	if (c->pty < 0 || c->lsock < 0 || c->stopfd < 0 || bind(c->lsock, (struct sockaddr *)&sa, sizeof sa) < 0 ||
	    listen(c->lsock, 4) < 0) {
		log_warn("xen console: domain %u: %s", domid, strerror(errno));
		goto fail;
	}
	struct termios t;
	if (tcgetattr(c->pty, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(c->pty, TCSANOW, &t);
	}
	if (pthread_create(&c->thread, NULL, relay_main, c) != 0)
		goto fail;
	free(sock);
	return c;
fail:
	unlink(sock);
	free(sock);
	if (c->pty >= 0)
		close(c->pty);
	if (c->lsock >= 0)
		close(c->lsock);
	if (c->stopfd >= 0)
		close(c->stopfd);
	if (c->logfd >= 0)
		close(c->logfd);
	free(c);
	return NULL;
}
