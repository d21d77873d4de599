/* reader: reads the parts of a file an upload sends, in order, on threads
 * of its own so the disk works while the data before goes out. What the
 * page cache holds is copied from it, or left for the sender to pass to
 * the socket straight from the cache (sendfile); the rest is read with
 * O_DIRECT into the reader's buffers (base/dio.h): a cold disk image read
 * through the cache costs more CPU than the upload itself. */
#include "reader.h"
#include "../base/dio.h"
#include "../base/mem.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALIGN 4096
#define BLOCK (4 << 20)
#define NBLOCKS 6
#define NTHREADS 2 /* reads in flight: one at a time leaves the disk idle between */

struct block {
	off_t off;
	size_t len;
	int err;
	bool ready;
	bool unread; /* in the page cache, left to the sender */
	char *buf;
};

struct reader {
	int fd;
	bool from_file;
	struct dio dio;
	const struct reader_seg *segs;
	size_t nsegs;
	struct block ring[NBLOCKS];
	/* blocks in plan order: head the consumer's, tail the next to claim
	 * (readers fill theirs in any order; the consumer waits for ready) */
	size_t head, tail;
	size_t seg;    /* the plan's cursor: segment ... */
	off_t seg_pos; /* ... and how far into it */
	bool stop;
	pthread_mutex_t mu;
	pthread_cond_t filled, freed;
	pthread_t thread[NTHREADS];
};

/* One block at off, len bytes (off aligned; len may end at the file's
 * end). 0, or an errno. */
static int read_block(struct reader *r, struct block *b, size_t len)
{
	ssize_t k;
	char *buf = b->buf;
	off_t off = b->off;
	b->len = len;
	if (dio_cached(&r->dio, off, len)) {
		if (r->from_file) {
			b->unread = true;
			return 0;
		}
	} else {
		size_t whole = (len + ALIGN - 1) / ALIGN * ALIGN;
		size_t done = 0;
		while (done < len) {
			k = pread(r->dio.fd, buf + done, whole - done, off + (off_t)done);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				break; /* not for O_DIRECT after all: the cache below */
			if (k == 0)
				return EIO; /* the file shrank */
			done += (size_t)k;
		}
		if (done >= len)
			return 0;
	}
	size_t done = 0;
	while (done < len) {
		k = pread(r->fd, buf + done, len - done, off + (off_t)done);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return k < 0 ? errno : EIO;
		done += (size_t)k;
	}
	return 0;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	pthread_mutex_lock(&r->mu);
	for (;;) {
		while (r->seg < r->nsegs && r->segs[r->seg].len == 0) /* nothing to read there */
			r->seg++;
		if (r->seg < r->nsegs && r->tail - r->head == NBLOCKS && !r->stop) {
			pthread_cond_wait(&r->freed, &r->mu);
			continue; /* the cursor may have moved meanwhile */
		}
		if (r->stop || r->seg == r->nsegs)
			break;
		/* claim the plan's next block */
		struct block *b = &r->ring[r->tail++ % NBLOCKS];
		const struct reader_seg *sg = &r->segs[r->seg];
		size_t len = sg->len - r->seg_pos < BLOCK ? (size_t)(sg->len - r->seg_pos) : BLOCK;
		b->off = sg->off + r->seg_pos;
		b->ready = false;
		b->unread = false;
		r->seg_pos += (off_t)len;
		if (r->seg_pos == sg->len) {
			r->seg++;
			r->seg_pos = 0;
		}
		pthread_mutex_unlock(&r->mu);
		int err = read_block(r, b, len);
		pthread_mutex_lock(&r->mu);
		b->err = err;
		b->ready = true;
		pthread_cond_broadcast(&r->filled);
		if (err)
			break;
	}
	pthread_cond_broadcast(&r->filled); /* a consumer asking past the plan */
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

struct reader *reader_start(int fd, const char *path, const struct reader_seg *segs, size_t nsegs,
			    bool from_file)
{
	struct reader *r = xcalloc(1, sizeof *r);
	r->fd = fd;
	r->from_file = from_file;
	dio_open(&r->dio, fd, path);
	r->segs = segs;
	r->nsegs = nsegs;
	for (size_t i = 0; i < NBLOCKS; i++)
		if (posix_memalign((void **)&r->ring[i].buf, ALIGN, BLOCK) != 0)
			abort();
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->filled, NULL);
	pthread_cond_init(&r->freed, NULL);
	for (size_t i = 0; i < NTHREADS; i++)
		if (pthread_create(&r->thread[i], NULL, reader_main, r) != 0)
			abort();
	return r;
}

int reader_next(struct reader *r, struct reader_block *out)
{
	struct block *b = &r->ring[r->head % NBLOCKS];
	pthread_mutex_lock(&r->mu);
	while ((r->head == r->tail && r->seg < r->nsegs) || (r->head != r->tail && !b->ready))
		pthread_cond_wait(&r->filled, &r->mu);
	bool none = r->head == r->tail;
	pthread_mutex_unlock(&r->mu);
	if (none) /* asked past the plan */
		return EINVAL;
	if (b->err)
		return b->err;
	*out = (struct reader_block){b->off, b->len, b->unread ? NULL : b->buf};
	return 0;
}

void reader_release(struct reader *r)
{
	pthread_mutex_lock(&r->mu);
	r->head++;
	pthread_cond_broadcast(&r->freed);
	pthread_mutex_unlock(&r->mu);
}

void reader_stop(struct reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->freed);
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < NTHREADS; i++)
		pthread_join(r->thread[i], NULL);
	for (size_t i = 0; i < NBLOCKS; i++)
		free(r->ring[i].buf);
	dio_close(&r->dio);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->filled);
	pthread_cond_destroy(&r->freed);
	free(r);
}
