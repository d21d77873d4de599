/* capture: a live packet capture of one interface (a VIF's tap, a PIF's
 * device) through libpcap, turned into a pcap byte stream that a reader
 * takes piece by piece. The interface is named, so the capture works the
 * same on either network backend. A thread of its own reads the packets;
 * the reader is told through a callback when bytes are there or the
 * capture has ended, and never blocks. */
#ifndef XENON_NET_CAPTURE_H
#define XENON_NET_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "../base/xerr.h"

#define NET_CAPTURE_SNAPLEN_MAX 262144
/* What the stream may hold before the capture drops packets for a reader
 * that does not keep up. */
#define NET_CAPTURE_BUFFER (8u << 20)

struct net_capture_opts {
	const char *dev;       /* the interface */
	const char *filter;    /* BPF expression; NULL or "": every packet */
	int snaplen;           /* bytes kept of each packet, 1..NET_CAPTURE_SNAPLEN_MAX */
	int64_t duration_ms;   /* ends after this; <= 0: no limit */
	uint64_t max_bytes;    /* the stream (header included) stays within; 0: no limit */
	int watch_fd;          /* a socket whose peer going away ends the capture; -1: none */
	/* Called from the capture's thread when bytes arrive and once when it
	 * ends; must not call back into the capture. */
	void (*notify)(void *arg);
	void *arg;
};

struct net_capture;

/* Opens dev and compiles the filter: every error (no such interface, a
 * filter libpcap refuses: CAPTURE_FILTER_INVALID [filter, libpcap's
 * message]) comes here, before any byte of the stream. The pcap header is
 * the stream's first bytes; the thread starts capturing at once. */
struct net_capture *net_capture_start(const struct net_capture_opts *o, struct xerr *err);

/* Takes up to max bytes of the stream: n > 0; 0 when nothing is there yet
 * (notify says when there is); -1 when it has ended and all was taken. */
ssize_t net_capture_read(struct net_capture *c, char *buf, size_t max);

/* Ends the capture now (idempotent, from any thread but the capture's):
 * the stream ends with what it holds. */
void net_capture_stop(struct net_capture *c);

/* Packets that passed the filter, and those dropped for want of room. */
void net_capture_counts(struct net_capture *c, uint64_t *packets, uint64_t *dropped);

/* Stops, joins the thread, closes the handle. */
void net_capture_free(struct net_capture *c);

/* Captures running in this process (every one not yet freed). */
unsigned net_capture_running(void);

#endif
