/* qcow2w: a qcow2 image written in order (see qcow2w.h). The layout:
 * cluster 0 the header, then the L1 table, then data clusters and L2
 * tables in the order the data needs them, then the refcount table and
 * blocks. 64 KiB clusters, 16-bit refcounts, version 3, every cluster used
 * once (refcount 1, the COPIED flag set), as qemu-img would write it. */
#include "qcow2w.h"
#include "img.h"
#include "../base/fault.h"
#include "../base/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CLUSTER_BITS 16
#define CS ((int64_t)1 << CLUSTER_BITS)
#define L2_ENTRIES (CS / 8)      /* one L2 table maps 512 MiB */
#define RC_ENTRIES (CS / 2)      /* 16-bit refcounts per block */
#define COPIED (UINT64_C(1) << 63)
/* Direct I/O: buffers, offsets and lengths in multiples of this */
#define DIO_ALIGN 4096
/* ... written by threads of their own from a ring of buffers, so the disk
 * works while the caller receives the next data */
#define WBUF (4 << 20)
#define NWBUF 6
#define NWRITERS 2 /* writes in flight: one at a time leaves the disk idle between */

struct wring {
	pthread_t thread[NWRITERS];
	pthread_mutex_t mu;
	pthread_cond_t more, less;
	struct {
		unsigned char *buf;
		size_t len;
		int64_t off;
		bool busy; /* being filled, queued or written */
	} b[NWBUF];
	/* buffers in order: tail handed to the caller (the last one being
	 * filled while cur), taken by a writer up to taken; busy ones are
	 * not reused until written (writers finish in any order) */
	size_t tail, taken;
	bool cur;
	bool stop;
	int err; /* the first write error (errno) */
};

struct qcow2w {
	int fd;
	struct wring *r; /* opened O_DIRECT: writes go through the ring; NULL: not */
	int64_t size, l1_size, next; /* next: where the next cluster goes */
	uint64_t *l1;
	int64_t l2_index, l2_off; /* the L2 table being filled, -1: none */
	uint64_t *l2;
	int64_t pos;          /* everything before pos is written */
	int64_t pend_cluster; /* a cluster written only in part, -1: none */
	unsigned char *pend;
};

static void be64(unsigned char *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

static void be32(unsigned char *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--, v >>= 8)
		p[i] = (unsigned char)v;
}

/* fdatasync, and the "fsync" fault point */
static int flush(int fd)
{
	if (fault_hit(FAULT_FSYNC)) {
		errno = EIO;
		return -1;
	}
	return fdatasync(fd);
}

static int pwrite_all(int fd, const void *buf, size_t n, int64_t off)
{
	const char *p = buf;
	while (n) {
		ssize_t w = fault_hit(FAULT_WRITE) ? (errno = EIO, -1) : pwrite(fd, p, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		off += w;
	}
	return 0;
}

static size_t submitted(const struct wring *r)
{
	return r->tail - (r->cur ? 1 : 0);
}

static void *writer_main(void *arg)
{
	struct qcow2w *w = arg;
	struct wring *r = w->r;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->taken == submitted(r) && !r->stop)
			pthread_cond_wait(&r->more, &r->mu);
		if (r->taken == submitted(r))
			break; /* stopped, nothing left */
		size_t i = r->taken++ % NWBUF;
		pthread_mutex_unlock(&r->mu);
		int e = pwrite_all(w->fd, r->b[i].buf, r->b[i].len, r->b[i].off) < 0 ? (errno ? errno : EIO) : 0;
		pthread_mutex_lock(&r->mu);
		if (e && !r->err)
			r->err = e;
		r->b[i].busy = false;
		pthread_cond_broadcast(&r->less);
	}
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* Hands the buffer being filled to the writers. Under the lock. */
static void ring_submit(struct wring *r)
{
	if (r->cur) {
		r->cur = false;
		pthread_cond_signal(&r->more);
	}
}

static bool ring_idle(const struct wring *r)
{
	for (size_t i = 0; i < NWBUF; i++)
		if (r->b[i].busy)
			return false;
	return true;
}

/* Waits until everything handed over is written; the first error. */
static int ring_drain(struct qcow2w *w)
{
	struct wring *r = w->r;
	if (!r)
		return 0;
	pthread_mutex_lock(&r->mu);
	ring_submit(r);
	while (!ring_idle(r))
		pthread_cond_wait(&r->less, &r->mu);
	int e = r->err;
	pthread_mutex_unlock(&r->mu);
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

/* Writes n bytes at off (both multiples of DIO_ALIGN, as every write here
 * is: whole clusters, a table rounded up to its clusters, the header's
 * block). Under O_DIRECT the data is copied into the ring (the caller's
 * buffer is neither aligned nor kept), a run going on in the same buffer
 * while it lies next to the one before in the file. */
static int put(struct qcow2w *w, const void *buf, size_t n, int64_t off)
{
	struct wring *r = w->r;
	if (!r)
		return pwrite_all(w->fd, buf, n, off);
	const unsigned char *p = buf;
	while (n) {
		/* one caller fills; the writer takes a buffer only once handed
		 * over, so the copy runs without the lock */
		pthread_mutex_lock(&r->mu);
		int e = r->err;
		size_t i = (r->tail - 1) % NWBUF;
		if (!e && r->cur && (r->b[i].off + (int64_t)r->b[i].len != off || r->b[i].len == WBUF))
			ring_submit(r);
		if (!e && !r->cur) {
			while (r->b[r->tail % NWBUF].busy)
				pthread_cond_wait(&r->less, &r->mu);
			i = r->tail++ % NWBUF;
			r->b[i].len = 0;
			r->b[i].off = off;
			r->b[i].busy = true;
			r->cur = true;
		}
		pthread_mutex_unlock(&r->mu);
		if (e) {
			errno = e;
			return -1;
		}
		size_t k = WBUF - r->b[i].len < n ? WBUF - r->b[i].len : n;
		memcpy(r->b[i].buf + r->b[i].len, p, k);
		r->b[i].len += k;
		p += k;
		n -= k;
		off += (int64_t)k;
	}
	return 0;
}

struct qcow2w *qcow2w_create(const char *path, int64_t size)
{
	if (size <= 0) {
		errno = EINVAL;
		return NULL;
	}
	/* The data goes straight to the disk, not through the page cache:
	 * an import is written once and not read back soon, and copying it
	 * into fresh cache pages (then writing them back) costs more than the
	 * disk write itself. Filesystems without O_DIRECT (tmpfs) get the
	 * cache. */
	bool direct = true;
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_DIRECT, 0644);
	if (fd < 0 && errno == EINVAL) {
		direct = false;
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	}
	if (fd < 0)
		return NULL;
	struct qcow2w *w = xcalloc(1, sizeof *w);
	w->fd = fd;
	if (direct) {
		struct wring *r = w->r = xcalloc(1, sizeof *r);
		for (size_t i = 0; i < NWBUF; i++)
			if (posix_memalign((void **)&r->b[i].buf, DIO_ALIGN, WBUF) != 0)
				abort();
		pthread_mutex_init(&r->mu, NULL);
		pthread_cond_init(&r->more, NULL);
		pthread_cond_init(&r->less, NULL);
		for (size_t i = 0; i < NWRITERS; i++)
			if (pthread_create(&r->thread[i], NULL, writer_main, w) != 0)
				abort();
	}
	w->size = size;
	w->l1_size = (size + CS * L2_ENTRIES - 1) / (CS * L2_ENTRIES);
	w->l1 = xcalloc((size_t)w->l1_size, sizeof *w->l1);
	int64_t l1_clusters = (w->l1_size * 8 + CS - 1) / CS;
	w->next = (1 + l1_clusters) * CS;
	w->l2_index = -1;
	w->l2 = xcalloc(L2_ENTRIES, sizeof *w->l2);
	w->pend_cluster = -1;
	if (posix_memalign((void **)&w->pend, DIO_ALIGN, CS) != 0)
		abort();
	return w;
}

static int flush_l2(struct qcow2w *w)
{
	if (w->l2_index < 0)
		return 0;
	unsigned char *t = xmalloc(CS);
	for (int64_t i = 0; i < L2_ENTRIES; i++)
		be64(t + i * 8, w->l2[i]);
	int rc = put(w, t, CS, w->l2_off);
	free(t);
	return rc;
}

/* The host offset for guest cluster c, allocated now (clusters come in
 * order, so each is new). */
static int64_t alloc_cluster(struct qcow2w *w, int64_t c)
{
	int64_t li = c / L2_ENTRIES;
	if (li != w->l2_index) {
		if (flush_l2(w) < 0)
			return -1;
		w->l2_index = li;
		w->l2_off = w->next;
		w->next += CS;
		memset(w->l2, 0, L2_ENTRIES * sizeof *w->l2);
		w->l1[li] = (uint64_t)w->l2_off | COPIED;
	}
	int64_t off = w->next;
	w->next += CS;
	w->l2[c % L2_ENTRIES] = (uint64_t)off | COPIED;
	return off;
}

/* n whole clusters from guest cluster c: the non-zero ones appended, runs
 * of them in one write (a run: adjacent in the buffer and in the file — a
 * zero cluster or a new L2 table ends it). */
static int put_clusters(struct qcow2w *w, const unsigned char *p, int64_t c, int64_t n)
{
	const unsigned char *run = NULL;
	int64_t run_off = 0, run_len = 0;
	for (int64_t i = 0; i < n; i++, p += CS) {
		if (buf_is_zero(p, CS))
			continue;
		int64_t off = alloc_cluster(w, c + i);
		if (off < 0)
			return -1;
		if (run && run_off + run_len == off && run + run_len == p) {
			run_len += CS;
			continue;
		}
		if (run && put(w, run, (size_t)run_len, run_off) < 0)
			return -1;
		run = p;
		run_off = off;
		run_len = CS;
	}
	return run ? put(w, run, (size_t)run_len, run_off) : 0;
}

static int flush_pending(struct qcow2w *w)
{
	if (w->pend_cluster < 0)
		return 0;
	int rc = put_clusters(w, w->pend, w->pend_cluster, 1);
	w->pend_cluster = -1;
	return rc;
}

int qcow2w_write(struct qcow2w *w, const void *buf, size_t n, int64_t off)
{
	if (off < w->pos || off + (int64_t)n > w->size) {
		errno = EINVAL; /* backwards, or past the end */
		return -1;
	}
	const unsigned char *p = buf;
	while (n) {
		int64_t c = off / CS, in = off % CS;
		if (w->pend_cluster >= 0 && w->pend_cluster != c && flush_pending(w) < 0)
			return -1;
		if (in == 0 && n >= (size_t)CS && w->pend_cluster < 0) {
			/* whole clusters straight from the caller's buffer */
			int64_t k = (int64_t)n / CS;
			if (put_clusters(w, p, c, k) < 0)
				return -1;
			p += k * CS;
			off += k * CS;
			n -= (size_t)(k * CS);
			continue;
		}
		if (w->pend_cluster < 0) {
			memset(w->pend, 0, CS);
			w->pend_cluster = c;
		}
		size_t k = (size_t)(CS - in) < n ? (size_t)(CS - in) : n;
		memcpy(w->pend + in, p, k);
		p += k;
		off += (int64_t)k;
		n -= k;
		if (in + (int64_t)k == CS && flush_pending(w) < 0)
			return -1;
	}
	w->pos = off;
	return 0;
}

int qcow2w_finish(struct qcow2w *w)
{
	if (flush_pending(w) < 0 || flush_l2(w) < 0)
		return -1;
	/* L1 at cluster 1 */
	int64_t l1_bytes = (w->l1_size * 8 + CS - 1) / CS * CS; /* its clusters, zero-padded */
	unsigned char *l1 = xcalloc(1, (size_t)l1_bytes);
	for (int64_t i = 0; i < w->l1_size; i++)
		be64(l1 + i * 8, w->l1[i]);
	int rc = put(w, l1, (size_t)l1_bytes, CS);
	free(l1);
	if (rc < 0)
		return -1;
	/* refcounts last: the table and blocks count themselves too */
	int64_t used = w->next / CS, nblocks = 1, ntable = 1;
	for (;;) {
		int64_t total = used + nblocks + ntable;
		int64_t b = (total + RC_ENTRIES - 1) / RC_ENTRIES, t = (b * 8 + CS - 1) / CS;
		if (b == nblocks && t == ntable)
			break;
		nblocks = b;
		ntable = t;
	}
	int64_t total = used + nblocks + ntable, table_off = w->next, blocks_off = table_off + ntable * CS;
	unsigned char *tbl = xcalloc(1, (size_t)(ntable * CS));
	for (int64_t i = 0; i < nblocks; i++)
		be64(tbl + i * 8, (uint64_t)(blocks_off + i * CS));
	rc = put(w, tbl, (size_t)(ntable * CS), table_off);
	free(tbl);
	unsigned char *blk = xmalloc(CS);
	for (int64_t b = 0; rc == 0 && b < nblocks; b++) {
		memset(blk, 0, CS);
		for (int64_t i = 0; i < RC_ENTRIES && b * RC_ENTRIES + i < total; i++)
			blk[i * 2 + 1] = 1; /* big-endian 16-bit 1 */
		rc = put(w, blk, CS, blocks_off + b * CS);
	}
	free(blk);
	if (rc < 0 || ring_drain(w) < 0 || flush(w->fd) < 0)
		return -1;
	/* the header makes it an image: written after everything it points at */
	unsigned char h[DIO_ALIGN] = {0}; /* 112 bytes, then the cluster's zeros */
	be32(h, 0x514649fb);
	be32(h + 4, 3);
	be32(h + 20, CLUSTER_BITS);
	be64(h + 24, (uint64_t)w->size);
	be32(h + 36, (uint32_t)w->l1_size);
	be64(h + 40, (uint64_t)CS);
	be64(h + 48, (uint64_t)table_off);
	be32(h + 56, (uint32_t)ntable);
	be32(h + 96, 4);   /* refcount_order: 16 bits */
	be32(h + 100, 104); /* header length; the end-of-extensions marker follows (zeros) */
	if (put(w, h, sizeof h, 0) < 0 || ring_drain(w) < 0 || flush(w->fd) < 0)
		return -1;
	return 0;
}

void qcow2w_free(struct qcow2w *w)
{
	if (!w)
		return;
	struct wring *r = w->r;
	if (r) {
		pthread_mutex_lock(&r->mu);
		ring_submit(r);
		r->stop = true;
		pthread_cond_broadcast(&r->more);
		pthread_mutex_unlock(&r->mu);
		for (size_t i = 0; i < NWRITERS; i++)
			pthread_join(r->thread[i], NULL);
		for (size_t i = 0; i < NWBUF; i++)
			free(r->b[i].buf);
		pthread_mutex_destroy(&r->mu);
		pthread_cond_destroy(&r->more);
		pthread_cond_destroy(&r->less);
		free(r);
	}
	if (w->fd >= 0)
		close(w->fd);
	free(w->l1);
	free(w->l2);
	free(w->pend);
	free(w);
}
