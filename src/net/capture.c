/* capture: libpcap on a named interface, its savefile format written by
 * libpcap's own dumper into a FILE whose writes land in a bounded buffer
 * (fopencookie), read out by the consumer at its own pace. One thread per
 * capture waits on the pcap descriptor, a wake-up pipe and the consumer's
 * socket, and checks the time and size limits between packets. */
#include "capture.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* a pcap record: 16 bytes of header, then the bytes kept */
#define REC_HEAD 16
#define FILE_HEAD 24

struct net_capture {
	pcap_t *p;
	pcap_dumper_t *dumper;
	pthread_t thread;
	bool thread_started;
	int wake[2];
	int watch_fd;
	int64_t deadline_ms; /* CLOCK_MONOTONIC; 0: none */
	uint64_t max_bytes, written;
	void (*notify)(void *);
	void *arg;

	pthread_mutex_t lock; /* the buffer and the flags below */
	char *buf;
	size_t head, len; /* unread bytes: buf[head .. head+len) */
	bool ended, stop;
	uint64_t packets, dropped;
};

static unsigned running;
static pthread_mutex_t running_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The dumper's FILE: appends to the buffer (room was checked before). */
static ssize_t cookie_write(void *cookie, const char *data, size_t n)
{
	struct net_capture *c = cookie;
	pthread_mutex_lock(&c->lock);
	if (c->head + c->len + n > NET_CAPTURE_BUFFER) {
		memmove(c->buf, c->buf + c->head, c->len);
		c->head = 0;
	}
	size_t take = n;
	if (c->len + take > NET_CAPTURE_BUFFER)
		take = NET_CAPTURE_BUFFER - c->len; /* never: a record is only written with room */
	memcpy(c->buf + c->head + c->len, data, take);
	c->len += take;
	pthread_mutex_unlock(&c->lock);
	return (ssize_t)take;
}

static size_t room(struct net_capture *c)
{
	pthread_mutex_lock(&c->lock);
	size_t r = NET_CAPTURE_BUFFER - c->len;
	pthread_mutex_unlock(&c->lock);
	return r;
}

static void end(struct net_capture *c)
{
	pthread_mutex_lock(&c->lock);
	c->ended = true;
	pthread_mutex_unlock(&c->lock);
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct net_capture *c = (struct net_capture *)user;
	uint64_t rec = REC_HEAD + (uint64_t)h->caplen;
	if (c->max_bytes && c->written + rec > c->max_bytes) {
		end(c); /* the next one would not fit: the stream is whole up to here */
		pcap_breakloop(c->p);
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->packets++;
	bool full = c->len + rec > NET_CAPTURE_BUFFER;
	if (full)
		c->dropped++;
	pthread_mutex_unlock(&c->lock);
	if (full)
		return;
	pcap_dump((u_char *)c->dumper, h, bytes);
	c->written += rec;
}

static bool peer_gone(short revents)
{
	return revents & (POLLHUP | POLLERR | POLLRDHUP | POLLNVAL);
}

static void *capture_main(void *arg)
{
	struct net_capture *c = arg;
	int pfd = pcap_get_selectable_fd(c->p);
	while (true) {
		pthread_mutex_lock(&c->lock);
		bool stop = c->stop || c->ended;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
		int timeout = 250;
		if (c->deadline_ms) {
			int64_t left = c->deadline_ms - mono_ms();
			if (left <= 0)
				break;
			if (left < timeout)
				timeout = (int)left;
		}
		struct pollfd fds[3] = {
			{.fd = pfd, .events = POLLIN},
			{.fd = c->wake[0], .events = POLLIN},
			{.fd = c->watch_fd, .events = POLLRDHUP},
		};
		int r = poll(fds, c->watch_fd >= 0 ? 3 : 2, timeout);
		if (r < 0 && errno != EINTR) {
			log_warn("capture: poll: %s", strerror(errno));
			break;
		}
		if (r > 0 && c->watch_fd >= 0 && peer_gone(fds[2].revents))
			break; /* the client went away */
		if (r > 0 && fds[1].revents)
			break;
		if (r <= 0 || !(fds[0].revents & POLLIN))
			continue;
		/* only what fits: a slow reader loses packets, it never stalls
		 * the capture or grows the buffer */
		if (room(c) < REC_HEAD + (size_t)pcap_snapshot(c->p)) {
			/* drain the kernel's queue into the drop count */
			struct pcap_pkthdr *h;
			const u_char *d;
			while (pcap_next_ex(c->p, &h, &d) == 1) {
				pthread_mutex_lock(&c->lock);
				c->packets++;
				c->dropped++;
				pthread_mutex_unlock(&c->lock);
			}
			continue;
		}
		int n = pcap_dispatch(c->p, 64, on_packet, (u_char *)c);
		if (n == PCAP_ERROR) {
			log_warn("capture: %s", pcap_geterr(c->p));
			break;
		}
		if (n > 0 && c->notify)
			c->notify(c->arg);
	}
	end(c);
	if (c->notify)
		c->notify(c->arg);
	return NULL;
}

static ssize_t cookie_read(void *cookie, char *b, size_t n)
{
	(void)cookie;
	(void)b;
	(void)n;
	return -1;
}

static int cookie_close(void *cookie)
{
	(void)cookie;
	return 0;
}

static void release(struct net_capture *c)
{
	if (c->dumper)
		pcap_dump_close(c->dumper); /* closes the cookie FILE */
	if (c->p)
		pcap_close(c->p);
	for (int i = 0; i < 2; i++)
		if (c->wake[i] >= 0)
			close(c->wake[i]);
	pthread_mutex_destroy(&c->lock);
	free(c->buf);
	free(c);
}

struct net_capture *net_capture_start(const struct net_capture_opts *o, struct xerr *err)
{
	struct net_capture *c = xcalloc(1, sizeof *c);
	c->wake[0] = c->wake[1] = -1;
	c->watch_fd = o->watch_fd;
	c->max_bytes = o->max_bytes;
	c->notify = o->notify;
	c->arg = o->arg;
	pthread_mutex_init(&c->lock, NULL);
	c->buf = xmalloc(NET_CAPTURE_BUFFER);
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	const char *filter = o->filter ? o->filter : "";
	struct bpf_program prog;
	if (o->snaplen < 1 || o->snaplen > NET_CAPTURE_SNAPLEN_MAX) {
		char v[24];
		snprintf(v, sizeof v, "%d", o->snaplen);
		xerr_set(err, ERR_INVALID_VALUE, "snaplen", v, NULL);
		goto fail;
	}
	if (pipe2(c->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
		xerr_internal(err, "capture: pipe: %s", strerror(errno));
		goto fail;
	}
	c->p = pcap_create(o->dev, ebuf);
	if (!c->p) {
		xerr_internal(err, "capture on %s: %s", o->dev, ebuf);
		goto fail;
	}
	/* immediate: each packet as it comes, not when a kernel block fills */
	pcap_set_snaplen(c->p, o->snaplen);
	pcap_set_promisc(c->p, 0);
	pcap_set_immediate_mode(c->p, 1);
	pcap_set_buffer_size(c->p, 2 << 20);
	int rc = pcap_activate(c->p);
	if (rc < 0) {
		xerr_internal(err, "capture on %s: %s", o->dev,
			      rc == PCAP_ERROR ? pcap_geterr(c->p) : pcap_statustostr(rc));
		goto fail;
	}
	if (pcap_compile(c->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		xerr_set(err, ERR_CAPTURE_FILTER_INVALID, filter, pcap_geterr(c->p), NULL);
		goto fail;
	}
	rc = pcap_setfilter(c->p, &prog);
	pcap_freecode(&prog);
	if (rc < 0) {
		xerr_set(err, ERR_CAPTURE_FILTER_INVALID, filter, pcap_geterr(c->p), NULL);
		goto fail;
	}
	if (pcap_setnonblock(c->p, 1, ebuf) < 0) {
		xerr_internal(err, "capture on %s: %s", o->dev, ebuf);
		goto fail;
	}
	if (c->max_bytes && c->max_bytes < FILE_HEAD) {
		char v[24];
		snprintf(v, sizeof v, "%llu", (unsigned long long)c->max_bytes);
		xerr_set(err, ERR_INVALID_VALUE, "max_bytes", v, NULL);
		goto fail;
	}
	cookie_io_functions_t io = {.read = cookie_read, .write = cookie_write, .close = cookie_close};
	FILE *f = fopencookie(c, "w", io);
	if (!f) {
		xerr_internal(err, "capture: fopencookie: %s", strerror(errno));
		goto fail;
	}
	setvbuf(f, NULL, _IONBF, 0); /* each record reaches the buffer whole at once */
	c->dumper = pcap_dump_fopen(c->p, f);
	if (!c->dumper) {
		xerr_internal(err, "capture: %s", pcap_geterr(c->p));
		fclose(f);
		goto fail;
	}
	c->written = FILE_HEAD;
	if (o->duration_ms > 0)
		c->deadline_ms = mono_ms() + o->duration_ms;
	if (pthread_create(&c->thread, NULL, capture_main, c) != 0) {
		xerr_internal(err, "capture: cannot start a thread");
		goto fail;
	}
	c->thread_started = true;
	pthread_mutex_lock(&running_lock);
	running++;
	pthread_mutex_unlock(&running_lock);
	log_info("capture: started on %s (filter '%s', snaplen %d)", o->dev, filter, o->snaplen);
	return c;
fail:
	release(c);
	return NULL;
}

ssize_t net_capture_read(struct net_capture *c, char *buf, size_t max)
{
	pthread_mutex_lock(&c->lock);
	ssize_t n;
	if (c->len) {
		size_t take = c->len < max ? c->len : max;
		memcpy(buf, c->buf + c->head, take);
		c->head += take;
		c->len -= take;
		if (!c->len)
			c->head = 0;
		n = (ssize_t)take;
	} else {
		n = c->ended ? -1 : 0;
	}
	pthread_mutex_unlock(&c->lock);
	return n;
}

void net_capture_stop(struct net_capture *c)
{
	pthread_mutex_lock(&c->lock);
	bool was = c->stop;
	c->stop = true;
	pthread_mutex_unlock(&c->lock);
	if (!was && write(c->wake[1], "x", 1) < 0 && errno != EAGAIN)
		log_warn("capture: wake-up: %s", strerror(errno));
}

void net_capture_counts(struct net_capture *c, uint64_t *packets, uint64_t *dropped)
{
	pthread_mutex_lock(&c->lock);
	*packets = c->packets;
	*dropped = c->dropped;
	pthread_mutex_unlock(&c->lock);
}

void net_capture_free(struct net_capture *c)
{
	if (!c)
		return;
	net_capture_stop(c);
	if (c->thread_started) {
		pthread_join(c->thread, NULL);
		uint64_t pk, dr;
		net_capture_counts(c, &pk, &dr);
		struct pcap_stat st; /* the kernel's drops: asked once, the thread gone */
		if (pcap_stats(c->p, &st) == 0)
			dr += st.ps_drop;
		log_info("capture: ended after %llu packets (%llu dropped), %llu bytes",
			 (unsigned long long)pk, (unsigned long long)dr, (unsigned long long)c->written);
		pthread_mutex_lock(&running_lock);
		running--;
		pthread_mutex_unlock(&running_lock);
	}
	release(c);
}

unsigned net_capture_running(void)
{
	pthread_mutex_lock(&running_lock);
	unsigned n = running;
	pthread_mutex_unlock(&running_lock);
	return n;
}
