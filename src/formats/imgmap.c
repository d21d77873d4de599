/* imgmap: a local image's chain and extent map from qemu-img's JSON, read
 * with pread (see imgmap.h). */
#include "imgmap.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define READAHEAD (16 << 20)
#define WIN (4 << 20)
#define ALIGN 4096

static void ahead_stop(struct imgmap_ahead *a);

static void free_files(char **files, size_t n)
{
	for (size_t i = 0; files && i < n; i++)
		free(files[i]);
	free(files);
}

static int64_t num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

static bool flag(json_t *o, const char *key)
{
	return json_is_true(json_object_get(o, key));
}

/* The chain, top first: every member a local file of a format whose
 * offsets qemu-img reports as file offsets. */
static int parse_chain(json_t *info, struct imgmap *m, char ***files)
{
	size_t n = json_array_size(info);
	if (!json_is_array(info) || n == 0)
		return -1;
	*files = xcalloc(n, sizeof **files);
	m->nfds = n;
	for (size_t i = 0; i < n; i++) {
		json_t *img = json_array_get(info, i);
		const char *fmt = json_string_value(json_object_get(img, "format"));
		const char *name = json_string_value(json_object_get(img, "filename"));
		if (!fmt || !name || name[0] != '/' || (strcmp(fmt, "qcow2") && strcmp(fmt, "raw")))
			return -1;
		if (flag(img, "encrypted"))
			return -1;
		(*files)[i] = xstrdup(name);
	}
	m->size = num(json_array_get(info, 0), "virtual-size");
	return m->size < 0 ? -1 : 0;
}

static int parse_map(json_t *map, struct imgmap *m)
{
	size_t n = json_array_size(map);
	if (!json_is_array(map))
		return -1;
	m->ext = xcalloc(n ? n : 1, sizeof *m->ext);
	int64_t at = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(map, i);
		int64_t start = num(e, "start"), len = num(e, "length"), depth = num(e, "depth");
		if (start != at || len <= 0)
			return -1; /* extents must tile the disk */
		struct imgmap_ext x = {.off = start, .len = len};
		/* unallocated in the whole chain, or known zero: no read */
		x.data = flag(e, "present") && flag(e, "data") && !flag(e, "zero");
		if (x.data) {
			x.foff = num(e, "offset");
			if (x.foff < 0 || depth < 0 || (size_t)depth >= m->nfds || flag(e, "compressed"))
				return -1; /* data with no plain file offset */
			x.depth = (int)depth;
		}
		if (m->n && !x.data && !m->ext[m->n - 1].data)
			m->ext[m->n - 1].len += len;
		else
			m->ext[m->n++] = x;
		at = start + len;
	}
	return at == m->size ? 0 : -1;
}

int imgmap_parse(const char *info_json, const char *map_json, struct imgmap *m, char ***files)
{
	memset(m, 0, sizeof *m);
	*files = NULL;
	json_t *info = json_loads(info_json, 0, NULL);
	json_t *map = json_loads(map_json, 0, NULL);
	/* `info --backing-chain` on a single image prints an object, not a list */
	if (json_is_object(info)) {
		json_t *a = json_array();
		json_array_append_new(a, info);
		info = a;
	}
	int rc = info && map && parse_chain(info, m, files) == 0 && parse_map(map, m) == 0 ? 0 : -1;
	json_decref(info);
	json_decref(map);
	if (rc < 0) {
		free_files(*files, m->nfds);
		*files = NULL;
		free(m->ext);
		memset(m, 0, sizeof *m);
	}
	return rc;
}

struct imgmap *imgmap_open_json(const char *path, const char *info, const char *map)
{
	struct imgmap *m = NULL;
	char **files = NULL;
	size_t nfiles = 0;
	if (!info || !map)
		return NULL;
	m = xcalloc(1, sizeof *m);
	if (imgmap_parse(info, map, m, &files) < 0) {
		log_debug("imgmap: %s: not a plain local chain, reading through NBD", path);
		free(m);
		m = NULL;
		goto out;
	}
	nfiles = m->nfds;
	m->fds = xcalloc(m->nfds, sizeof *m->fds);
	for (size_t i = 0; i < m->nfds; i++)
		m->fds[i] = -1;
	m->dio = xcalloc(m->nfds, sizeof *m->dio);
	for (size_t i = 0; i < m->nfds; i++)
		m->dio[i].fd = -1;
	m->win_depth = -1;
	for (size_t i = 0; i < m->nfds; i++) {
		if ((m->fds[i] = open(files[i], O_RDONLY | O_CLOEXEC)) < 0) {
			log_debug("imgmap: %s: %s", files[i], strerror(errno));
			imgmap_free(m);
			m = NULL;
			break;
		}
		dio_open(&m->dio[i], m->fds[i], files[i]);
	}
out:
	free_files(files, nfiles);
	return m;
}

void imgmap_free(struct imgmap *m)
{
	if (!m)
		return;
	ahead_stop(m->ahead); /* before the descriptors it reads go */
	for (size_t i = 0; m->fds && i < m->nfds; i++)
		if (m->fds[i] >= 0)
			close(m->fds[i]);
	for (size_t i = 0; m->dio && i < m->nfds; i++)
		dio_close(&m->dio[i]);
	free(m->dio);
	free(m->win);
	free(m->fds);
	free(m->ext);
	free(m);
}

const struct imgmap_ext *imgmap_ext_find(const struct imgmap_ext *ext, size_t n, int64_t off)
{
	size_t lo = 0, hi = n;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (ext[mid].off <= off)
			lo = mid;
		else
			hi = mid;
	}
	return &ext[lo];
}

const struct imgmap_ext *imgmap_find(const struct imgmap *m, int64_t off)
{
	return imgmap_ext_find(m->ext, m->n, off);
}

/* The window after the current one, read by a thread of its own while
 * the current one is sent: a cold export then takes as long as the disk
 * or the transfer, whichever is slower, not the two added up. It guesses
 * that the next window follows this one in the same file, which holds
 * for the data clusters of an image written front to back. */
struct imgmap_ahead {
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stop;
	bool busy;  /* a read is asked for or under way: buf is the thread's */
	int depth;  /* what buf holds (or will): member, */
	int64_t off; /* offset, */
	ssize_t len; /* bytes (< 0: nothing) */
	const struct dio *dio;
	char *buf;
};

static void *ahead_main(void *arg)
{
	struct imgmap_ahead *a = arg;
	pthread_mutex_lock(&a->mu);
	for (;;) {
		while (!a->busy && !a->stop)
			pthread_cond_wait(&a->cv, &a->mu);
		if (a->stop)
			break;
		const struct dio *d = &a->dio[a->depth];
		int64_t off = a->off;
		pthread_mutex_unlock(&a->mu);
		ssize_t r = -1;
		if (!dio_cached(d, off, WIN)) /* else the usual reads find it cached */
			do
				r = pread(d->fd, a->buf, WIN, (off_t)off);
			while (r < 0 && errno == EINTR);
		pthread_mutex_lock(&a->mu);
		a->len = r;
		a->busy = false;
		pthread_cond_broadcast(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

static struct imgmap_ahead *ahead_start(const struct dio *dio)
{
	struct imgmap_ahead *a = xcalloc(1, sizeof *a);
	if (posix_memalign((void **)&a->buf, ALIGN, WIN) != 0) {
		free(a);
		return NULL;
	}
	a->dio = dio;
	a->len = -1;
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->cv, NULL);
	if (pthread_create(&a->thread, NULL, ahead_main, a) != 0) {
		pthread_mutex_destroy(&a->mu);
		pthread_cond_destroy(&a->cv);
		free(a->buf);
		free(a);
		return NULL;
	}
	return a;
}

static void ahead_stop(struct imgmap_ahead *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	a->stop = true;
	pthread_cond_broadcast(&a->cv);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->thread, NULL);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->cv);
	free(a->buf);
	free(a);
}

/* Makes the window the read-ahead's when it holds [start, start + want):
 * true, its old buffer handed over for the next read. Waits for a read of
 * exactly that window still under way. */
static bool ahead_take(struct imgmap *m, int d, int64_t start, int64_t want)
{
	struct imgmap_ahead *a = m->ahead;
	if (!a)
		return false;
	pthread_mutex_lock(&a->mu);
	while (a->busy && a->depth == d && a->off == start)
		pthread_cond_wait(&a->cv, &a->mu);
	bool hit = !a->busy && a->depth == d && a->off == start && a->len > 0 && start + a->len >= want;
	if (hit) {
		char *w = m->win;
		m->win = a->buf;
		a->buf = w;
		m->win_depth = d;
		m->win_off = start;
		m->win_len = a->len;
		a->len = -1;
	}
	pthread_mutex_unlock(&a->mu);
	return hit;
}

/* Asks for the window after the current one, unless a read is under way
 * (its buffer is not free) or the window ended short (the file's end). */
static void ahead_ask(struct imgmap *m)
{
	if (m->win_len < WIN)
		return;
	if (!m->ahead && !(m->ahead = ahead_start(m->dio)))
		return;
	struct imgmap_ahead *a = m->ahead;
	pthread_mutex_lock(&a->mu);
	if (!a->busy) {
		a->depth = m->win_depth;
		a->off = m->win_off + m->win_len;
		a->len = -1;
		a->busy = true;
		pthread_cond_broadcast(&a->cv);
	}
	pthread_mutex_unlock(&a->mu);
}

/* k bytes at at of member d from the window, loaded with O_DIRECT when it
 * does not hold them: 0, or -1 to read them the usual way. */
static int from_window(struct imgmap *m, int d, int64_t at, size_t k, char *p)
{
	if (m->win_depth != d || at < m->win_off || at + (int64_t)k > m->win_off + m->win_len) {
		if (k > WIN - ALIGN || dio_cached(&m->dio[d], at, k))
			return -1;
		if (!m->win && posix_memalign((void **)&m->win, ALIGN, WIN) != 0)
			return -1;
		int64_t start = at / ALIGN * ALIGN;
		if (ahead_take(m, d, start, at + (int64_t)k)) {
			m->ahead_hits++;
		} else {
			ssize_t r;
			do
				r = pread(m->dio[d].fd, m->win, WIN, (off_t)start);
			while (r < 0 && errno == EINTR);
			m->win_depth = -1;
			if (r <= 0 || start + r < at + (int64_t)k)
				return -1;
			m->win_depth = d;
			m->win_off = start;
			m->win_len = r;
		}
		ahead_ask(m);
	}
	memcpy(p, m->win + (at - m->win_off), k);
	return 0;
}

int imgmap_read(struct imgmap *m, void *buf, size_t n, int64_t off)
{
	char *p = buf;
	while (n) {
		if (off >= m->size) {
			errno = EINVAL;
			return -1;
		}
		const struct imgmap_ext *e = imgmap_find(m, off);
		int64_t left = e->off + e->len - off;
		size_t k = (uint64_t)left < n ? (size_t)left : n;
		if (!e->data) {
			memset(p, 0, k);
		} else {
			int fd = m->fds[e->depth];
			int64_t at = e->foff + (off - e->off);
			if (from_window(m, e->depth, at, k, p) == 0)
				goto next;
			for (size_t got = 0; got < k;) {
				ssize_t r = pread(fd, p + got, k - got, (off_t)(at + (int64_t)got));
				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0) {
					if (r == 0) /* the file is shorter than its map says */
						errno = EIO;
					return -1;
				}
				got += (size_t)r;
			}
			/* readers go front to back: have the kernel fetch what
			 * comes next while this piece is being sent */
			posix_fadvise(fd, (off_t)(at + (int64_t)k), READAHEAD, POSIX_FADV_WILLNEED);
		}
	next:
		p += k;
		off += (int64_t)k;
		n -= k;
	}
	return 0;
}
