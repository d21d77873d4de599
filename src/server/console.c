/* console: the serial hub of each VM with console clients. One reader per
 * VM holds serial.sock and appends to a 1 MiB ring seeded from serial.log;
 * every client reads the ring at its own pace and writes to the guest. */
#include "console.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

struct hub {
	char uuid[64];
	int fd;
	char *ring;
	uint64_t end; /* bytes ever appended */
	bool dead;
	int refs;     /* clients + the reader */
	pthread_mutex_t wlock;
	struct serial_client *clients;
	struct hub *next;
};

struct serial_client {
	struct hub *h;
	uint64_t pos;
	int efd;
	struct serial_client *next;
};

static pthread_mutex_t G = PTHREAD_MUTEX_INITIALIZER; /* hubs, rings, clients */
static struct hub *hubs;

static void append(struct hub *h, const char *buf, size_t n)
{
	if (n > CONSOLE_RING) {
		buf += n - CONSOLE_RING;
		h->end += n - CONSOLE_RING;
		n = CONSOLE_RING;
	}
	while (n) {
		size_t off = h->end % CONSOLE_RING, k = CONSOLE_RING - off;
		if (k > n)
			k = n;
		memcpy(h->ring + off, buf, k);
		h->end += k;
		buf += k;
		n -= k;
	}
}

static void notify_locked(struct hub *h)
{
	uint64_t one = 1;
	for (struct serial_client *c = h->clients; c; c = c->next)
		if (write(c->efd, &one, sizeof one) < 0) {
			/* the counter is already non-zero: the client will wake */
		}
}

static void hub_put_locked(struct hub *h)
{
	if (--h->refs > 0)
		return;
	for (struct hub **p = &hubs; *p; p = &(*p)->next)
		if (*p == h) {
			*p = h->next;
			break;
		}
	close(h->fd);
	pthread_mutex_destroy(&h->wlock);
	free(h->ring);
	free(h);
}

static void *reader_main(void *arg)
{
	struct hub *h = arg;
	char buf[65536];
	for (;;) {
		ssize_t n = read(h->fd, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		pthread_mutex_lock(&G);
		if (n <= 0 || h->dead) {
			h->dead = true;
			notify_locked(h);
			hub_put_locked(h);
			pthread_mutex_unlock(&G);
			return NULL;
		}
		append(h, buf, (size_t)n);
		notify_locked(h);
		pthread_mutex_unlock(&G);
	}
}

/* The last CONSOLE_RING bytes of serial.log. */
static void seed(struct hub *h, const char *dir)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/serial.log", dir);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0) {
		off_t from = st.st_size > (off_t)CONSOLE_RING ? st.st_size - (off_t)CONSOLE_RING : 0;
		char *buf = xmalloc(CONSOLE_RING);
		ssize_t n = pread(fd, buf, CONSOLE_RING, from);
		if (n > 0)
			append(h, buf, (size_t)n);
		free(buf);
	}
	close(fd);
}

static struct hub *hub_open(const char *dir, const char *uuid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/serial.sock", dir) >= sizeof sa.sun_path)
		return NULL;
	/* never waits (under the console lock, on an HTTP thread): a QEMU
	 * that takes no more clients (its queue full while it is migrated
	 * away or ends) is a console unavailable now */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return NULL;
	int fl;
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || (fl = fcntl(fd, F_GETFL)) < 0 ||
	    fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		close(fd);
		return NULL;
	}
	struct hub *h = xcalloc(1, sizeof *h);
	snprintf(h->uuid, sizeof h->uuid, "%s", uuid);
	h->fd = fd;
	h->ring = xmalloc(CONSOLE_RING);
	h->refs = 1;
	pthread_mutex_init(&h->wlock, NULL);
	seed(h, dir);
	pthread_t t;
	pthread_attr_t a;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	int rc = pthread_create(&t, &a, reader_main, h);
	pthread_attr_destroy(&a);
	if (rc != 0) {
		close(fd);
		free(h->ring);
		free(h);
		return NULL;
	}
	h->next = hubs;
	hubs = h;
	log_info("console: holding the serial port of VM %s", uuid);
	return h;
}

struct serial_client *serial_attach(const char *vm_dir, const char *vm_uuid)
{
	pthread_mutex_lock(&G);
	struct hub *h = hubs;
	while (h && (h->dead || strcmp(h->uuid, vm_uuid)))
		h = h->next;
	if (!h && !(h = hub_open(vm_dir, vm_uuid))) {
		pthread_mutex_unlock(&G);
		return NULL;
	}
	struct serial_client *c = xcalloc(1, sizeof *c);
	c->h = h;
	c->efd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
	c->pos = h->end > CONSOLE_RING ? h->end - CONSOLE_RING : 0;
	c->next = h->clients;
	h->clients = c;
	h->refs++;
	pthread_mutex_unlock(&G);
	return c;
}

int serial_client_fd(struct serial_client *c)
{
	return c->efd;
}

ssize_t serial_read(struct serial_client *c, char *buf, size_t max, int timeout_ms)
{
	struct pollfd p = {.fd = c->efd, .events = POLLIN};
	for (;;) {
		uint64_t v;
		if (read(c->efd, &v, sizeof v) < 0) {
			/* nothing signalled: look anyway */
		}
		pthread_mutex_lock(&G);
		struct hub *h = c->h;
		if (h->end - c->pos > CONSOLE_RING)
			c->pos = h->end - CONSOLE_RING; /* fell behind: skip */
		size_t n = (size_t)(h->end - c->pos);
		if (n) {
			size_t off = c->pos % CONSOLE_RING, k = CONSOLE_RING - off;
			if (n > max)
				n = max;
			if (k > n)
				k = n;
			memcpy(buf, h->ring + off, k);
			memcpy(buf + k, h->ring, n - k);
			c->pos += n;
			uint64_t one = 1;
			if (c->pos < h->end && write(c->efd, &one, sizeof one) < 0) {
				/* already signalled */
			}
		}
		bool dead = h->dead;
		pthread_mutex_unlock(&G);
		if (n)
			return (ssize_t)n;
		if (dead)
			return -1;
		int r = poll(&p, 1, timeout_ms);
		if (r == 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

int serial_write(struct serial_client *c, const char *buf, size_t n)
{
	struct hub *h = c->h;
	pthread_mutex_lock(&h->wlock);
	int rc = 0;
	while (n) {
		ssize_t w = send(h->fd, buf, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			rc = -1;
			break;
		}
		buf += w;
		n -= (size_t)w;
	}
	pthread_mutex_unlock(&h->wlock);
	return rc;
}

void serial_detach(struct serial_client *c)
{
	pthread_mutex_lock(&G);
	struct hub *h = c->h;
	for (struct serial_client **p = &h->clients; *p; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	if (!h->clients && !h->dead) {
		/* the last client: give the port back (the reader sees EOF) */
		h->dead = true;
		shutdown(h->fd, SHUT_RDWR);
		log_info("console: released the serial port of VM %s", h->uuid);
	}
	hub_put_locked(h);
	pthread_mutex_unlock(&G);
	close(c->efd);
	free(c);
}
