/* inspect: the libguestfs worker. One thread owns the one appliance and
 * runs the queued requests in turn; a second thread is the watchdog that
 * kills the appliance's QEMU when a request outlives the time limit (a
 * hostile image must not hold anybody forever). Images are always added
 * with their format stated, read-only unless a write asks otherwise, and
 * never mounted by the host's kernel: libguestfs's advice for untrusted
 * disks. */
#include "inspect.h"
#include "../base/clock.h"
#include "../base/fault.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"

#include <errno.h>
#include <guestfs.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum job_kind { J_INSPECT, J_LIST, J_STAT, J_DOWNLOAD, J_UPLOAD };

struct job {
	enum job_kind kind;
	const struct insp_drive *d;
	size_t n;
	bool rw;
	const struct insp_file *f;
	const char *host_file;
	int mode;
	uint64_t *size;
	insp_progress pg;
	void *arg;
	xv *out;
	struct xerr *err;
	int rc;
	bool done;
	struct job *next;
};

/* A drive as the appliance has it: its key and what the image looked like
 * when added (a changed image means a new appliance). */
struct held {
	char *key;
	dev_t dev;
	ino_t ino;
	struct timespec mtime;
	off_t size;
	pid_t qsd; /* the qemu-storage-daemon exporting it, or 0 */
	char *sock;
};

static struct {
	pthread_mutex_t mu;
	pthread_cond_t wake, done;
	struct job *head, *tail;
	bool started, stop;
	pthread_t worker, watchdog;
	struct insp_config cfg;
	/* the appliance (the worker's alone, but for qemu_pid and deadline) */
	guestfs_h *g;
	struct held *held;
	size_t nheld;
	bool rw;
	char *mounted; /* the filesystem mounted, "" none */
	xv roots;      /* inspect_os's answer, kept with the appliance */
	bool have_roots;
	char **fss;    /* list_filesystems's, kept with the appliance (NULL: not yet) */
	pid_t qemu_pid;
	int64_t deadline_ms; /* 0: no request running */
	bool killed;
	bool tcg_only; /* KVM failed once, or XENON_INSPECT_TCG */
} W = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .wake = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER};

uint64_t insp_max_read(void)
{
	return W.cfg.max_read;
}

uint64_t insp_max_write(void)
{
	return W.cfg.max_write;
}

/* ---- errors ---- */

/* libguestfs reports a failed launch as several errors, the last of which
 * ("guestfs_launch failed") says least: each is kept, and the first
 * names the cause. Cleared before every request. */
static struct strbuf errs = STRBUF_INIT;

static void on_error(guestfs_h *g, void *opaque, const char *msg)
{
	(void)g;
	(void)opaque;
	if (errs.len > 4096)
		return;
	sb_printf(&errs, "%s%s", errs.len ? "; " : "", msg);
}

static int g_fail(struct xerr *err, const char *what)
{
	if (W.killed) {
		char s[16];
		snprintf(s, sizeof s, "%d", W.cfg.timeout_s);
		return xerr_set(err, ERR_INSPECT_TIMEOUT, s, NULL);
	}
	const char *m = W.g ? guestfs_last_error(W.g) : NULL;
	/* while adding and launching, the first error says why */
	if ((!strcmp(what, "starting the appliance") || !strcmp(what, "the image cannot be opened")) &&
	    errs.len)
		m = errs.buf;
	char *msg = xasprintf("%s: %s", what, m ? m : "failed");
	/* libguestfs's advice to file a bug is not the caller's business */
	static const char *const tails[] = {"\nThis usually means", "\nTo see full", ".\nTo see full"};
	for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
		char *cut = strstr(msg, tails[i]);
		if (cut)
			*cut = '\0';
	}
	xerr_set(err, ERR_INSPECT_FAILED, msg, NULL);
	free(msg);
	return -1;
}

/* ---- the appliance ---- */

static void free_strv(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void held_free(struct held *h)
{
	if (h->qsd > 0) {
		kill(h->qsd, SIGTERM);
		waitpid(h->qsd, NULL, 0);
	}
	if (h->sock)
		unlink(h->sock);
	free(h->sock);
	free(h->key);
}

static void close_appliance(void)
{
	if (!W.g)
		return;
	pthread_mutex_lock(&W.mu);
	W.qemu_pid = 0;
	pthread_mutex_unlock(&W.mu);
	if (!W.killed)
		guestfs_shutdown(W.g);
	guestfs_close(W.g);
	W.g = NULL;
	for (size_t i = 0; i < W.nheld; i++)
		held_free(&W.held[i]);
	free(W.held);
	W.held = NULL;
	W.nheld = 0;
	free(W.mounted);
	W.mounted = NULL;
	xv_free(&W.roots);
	W.have_roots = false;
	free_strv(W.fss);
	W.fss = NULL;
}

static bool same_image(const struct held *h, const struct insp_drive *d)
{
	if (strcmp(h->key, d->key))
		return false;
	if (d->path[0] != '/')
		return true;
	struct stat st;
	return stat(d->path, &st) == 0 && st.st_dev == h->dev && st.st_ino == h->ino &&
	       st.st_size == h->size && st.st_mtim.tv_sec == h->mtime.tv_sec &&
	       st.st_mtim.tv_nsec == h->mtime.tv_nsec;
}

static bool appliance_fits(const struct insp_drive *d, size_t n, bool rw)
{
	if (!W.g || W.rw != rw || W.nheld != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!same_image(&W.held[i], &d[i]))
			return false;
	return true;
}

/* A share's image (a URL such as nfs://…) exported on a unix socket by
 * qemu-nbd through QEMU's own client of the share, since the appliance
 * reaches no share itself and this host has no kernel NBD or NFS. It
 * stays up for every connection (-t): libguestfs probes the export once
 * for its overlay before QEMU connects, and qemu-nbd would otherwise end
 * with the first client. */
static int export_url(const struct insp_drive *d, bool rw, struct held *h, struct xerr *err)
{
	static unsigned seq;
	h->sock = xasprintf("%s/xenon-insp-%d-%u.sock", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp",
			    (int)getpid(), __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
	unlink(h->sock);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		/* it serves this worker only: it ends with it (xenond stopped or
		 * killed), never left spinning on a share that went away */
		if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() != parent)
			_exit(127);
		if (rw)
			execlp("qemu-nbd", "qemu-nbd", "-k", h->sock, "-f", d->format, "-x", "d0", "-t", d->path,
			       (char *)NULL);
		else
			execlp("qemu-nbd", "qemu-nbd", "-r", "-k", h->sock, "-f", d->format, "-x", "d0", "-t",
			       d->path, (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return xerr_set(err, ERR_INSPECT_FAILED, "cannot start qemu-nbd", NULL);
	h->qsd = pid;
	for (int i = 0; i < 200; i++) { /* up to 10 s for the socket */
		struct stat st;
		if (stat(h->sock, &st) == 0)
			return 0;
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			h->qsd = 0;
			break;
		}
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return xerr_set(err, ERR_INSPECT_FAILED, "the share's image could not be exported", NULL);
}

static int launch(const struct insp_drive *d, size_t n, bool rw, struct xerr *err)
{
	/* (the retry under TCG calls this again: it starts from scratch) */
	close_appliance();
	W.killed = false;
	W.g = guestfs_create_flags(GUESTFS_CREATE_NO_ENVIRONMENT);
	if (!W.g)
		return xerr_set(err, ERR_INSPECT_FAILED, "cannot create a libguestfs handle", NULL);
	guestfs_set_error_handler(W.g, on_error, NULL);
	guestfs_set_backend(W.g, "direct");
	/* the appliance cache as libguestfs's tools find it */
	const char *cache = getenv("LIBGUESTFS_CACHEDIR");
	if (cache)
		guestfs_set_cachedir(W.g, cache);
	guestfs_set_autosync(W.g, 1);
	sb_reset(&errs);
	W.held = xcalloc(n, sizeof *W.held);
	W.nheld = n;
	W.rw = rw;
	for (size_t i = 0; i < n; i++) {
		struct held *h = &W.held[i];
		h->key = xstrdup(d[i].key);
		int r;
		if (d[i].path[0] == '/') {
			struct stat st;
			if (stat(d[i].path, &st) < 0) {
				close_appliance();
				return xerr_set(err, ERR_INSPECT_FAILED, "the disk image is missing", NULL);
			}
			h->dev = st.st_dev;
			h->ino = st.st_ino;
			h->size = st.st_size;
			h->mtime = st.st_mtim;
			r = guestfs_add_drive_opts(W.g, d[i].path, GUESTFS_ADD_DRIVE_OPTS_FORMAT, d[i].format,
						   GUESTFS_ADD_DRIVE_OPTS_READONLY, rw ? 0 : 1, -1);
		} else {
			if (export_url(&d[i], rw, h, err) < 0) {
				close_appliance();
				return -1;
			}
			char *unixsrv = xasprintf("unix:%s", h->sock);
			const char *servers[] = {unixsrv, NULL};
			r = guestfs_add_drive_opts(W.g, "d0", GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw",
						   GUESTFS_ADD_DRIVE_OPTS_PROTOCOL, "nbd",
						   GUESTFS_ADD_DRIVE_OPTS_SERVER, servers,
						   GUESTFS_ADD_DRIVE_OPTS_READONLY, rw ? 0 : 1, -1);
			free(unixsrv);
		}
		if (r < 0) {
			g_fail(err, "the image cannot be opened");
			close_appliance();
			return -1;
		}
	}
	int64_t t0 = clock_now_ms();
	sb_reset(&errs);
	if (W.tcg_only) {
		char *const tcg[] = {"force_tcg", NULL};
		guestfs_set_backend_settings(W.g, tcg);
	}
	if (guestfs_launch(W.g) < 0) {
		/* a /dev/kvm that QEMU cannot use (nested, or refused MSRs)
		 * aborts it at once: once seen, the appliance runs under TCG */
		const char *why = errs.buf;
		if (!W.tcg_only && clock_now_ms() - t0 < 5000 && !W.killed && why && strstr(why, "killed by signal")) {
			log_warn("inspect: the appliance failed to start with KVM (%s); using TCG", why);
			W.tcg_only = true;
			return launch(d, n, rw, err);
		}
		g_fail(err, "starting the appliance");
		close_appliance();
		return -1;
	}
	/* the launch had its own time (the watchdog cannot stop it before the
	 * pid is known): the request's limit counts from the appliance up */
	pthread_mutex_lock(&W.mu);
	W.qemu_pid = guestfs_get_pid(W.g);
	W.deadline_ms = clock_now_ms() + (int64_t)W.cfg.timeout_s * 1000;
	pthread_mutex_unlock(&W.mu);
	W.mounted = xstrdup("");
	log_info("inspect: appliance up in %lld ms (%zu disk(s), %s)", (long long)(clock_now_ms() - t0), n,
		 rw ? "read-write" : "read-only");
	return 0;
}

/* ---- what the appliance sees ---- */


static void umount(void)
{
	if (W.mounted && *W.mounted)
		guestfs_umount_all(W.g);
	free(W.mounted);
	W.mounted = xstrdup("");
}

static int mount_dev(const char *dev, const char *where)
{
	return W.rw ? guestfs_mount(W.g, dev, where) : guestfs_mount_ro(W.g, dev, where);
}

static void push2(char ***v, size_t *n, const char *a, const char *b)
{
	*v = xrealloc(*v, (*n + 3) * sizeof **v);
	(*v)[(*n)++] = xstrdup(a);
	(*v)[(*n)++] = xstrdup(b);
	(*v)[*n] = NULL;
}

/* The filesystems on the disks, as list_filesystems pairs (device, type),
 * once per appliance. list_filesystems itself probes for MD arrays and
 * Windows dynamic disks and runs LVM's scan whatever the disks hold, which
 * under TCG costs seconds (and inspect_os does it again): here each
 * partition (or a disk without a table) is asked for its type, and LVM is
 * scanned only when a physical volume is there. */
static char **filesystems(struct xerr *err)
{
	if (W.fss)
		return W.fss;
	char **parts = guestfs_list_partitions(W.g);
	char **devs = guestfs_list_devices(W.g);
	if (!parts || !devs) {
		free_strv(parts);
		free_strv(devs);
		g_fail(err, "listing filesystems");
		return NULL;
	}
	char **out = xcalloc(1, sizeof *out);
	size_t n = 0;
	bool lvm = false;
	guestfs_push_error_handler(W.g, NULL, NULL);
	for (int k = 0; k < 2; k++) {
		char **l = k ? devs : parts;
		for (size_t i = 0; l[i]; i++) {
			if (k) { /* a whole disk only when no partition is on it */
				bool has = false;
				for (size_t j = 0; parts[j] && !has; j++)
					has = !strncmp(parts[j], l[i], strlen(l[i]));
				if (has)
					continue;
			}
			char *t = guestfs_vfs_type(W.g, l[i]);
			if (t && !strcmp(t, "LVM2_member"))
				lvm = true;
			else if (t && *t)
				push2(&out, &n, l[i], t);
			free(t);
		}
	}
	if (lvm) {
		char **lvs = guestfs_lvs(W.g);
		for (size_t i = 0; lvs && lvs[i]; i++) {
			char *t = guestfs_vfs_type(W.g, lvs[i]);
			push2(&out, &n, lvs[i], t && *t ? t : "unknown");
			free(t);
		}
		free_strv(lvs);
	}
	guestfs_pop_error_handler(W.g);
	free_strv(parts);
	free_strv(devs);
	if (W.killed) {
		free_strv(out);
		g_fail(err, "");
		return NULL;
	}
	return W.fss = out;
}

/* inspect_os once per appliance. */
static int roots(struct xerr *err)
{
	if (W.have_roots)
		return 0;
	char **r = guestfs_inspect_os(W.g);
	if (!r)
		return g_fail(err, "inspecting the operating system");
	W.roots = xv_arr_new();
	for (size_t i = 0; r[i]; i++)
		xv_arr_push_str(&W.roots, r[i]);
	free_strv(r);
	W.have_roots = true;
	return 0;
}

static int by_length(const void *a, const void *b)
{
	const char *const *x = a, *const *y = b;
	size_t lx = strlen(x[0]), ly = strlen(y[0]);
	return lx < ly ? -1 : lx > ly;
}

/* Mounts an operating system's filesystems at their mountpoints. */
static int mount_root(const char *root, struct xerr *err)
{
	char **mp = guestfs_inspect_get_mountpoints(W.g, root);
	if (!mp)
		return g_fail(err, "reading the mountpoints");
	size_t n = 0;
	while (mp[n])
		n++;
	qsort(mp, n / 2, 2 * sizeof *mp, by_length);
	int rc = 0;
	for (size_t i = 0; i + 1 < n && rc == 0; i += 2)
		if (mount_dev(mp[i + 1], mp[i]) < 0 && !strcmp(mp[i], "/"))
			rc = g_fail(err, "mounting the root filesystem");
	free_strv(mp);
	return rc;
}

static bool mountable(const char *type)
{
	return strcmp(type, "swap") && strcmp(type, "unknown") && strcmp(type, "");
}

/* Mounts what fs names ("" the OS root, else the first mountable
 * filesystem), unless it is mounted already. */
static int mount_fs(const char *fs, struct xerr *err)
{
	if (W.mounted && !strcmp(W.mounted, fs) && *fs)
		return 0;
	/* "" mounted as the OS root (\x01) or as the first filesystem (\x02) */
	if (W.mounted && !*fs && (!strcmp(W.mounted, "\x01") || !strcmp(W.mounted, "\x02")))
		return 0;
	umount();
	if (!*fs) {
		if (roots(err) < 0)
			return -1;
		if (xv_len(&W.roots)) {
			if (mount_root(xv_as_str(xv_arr_get(&W.roots, 0)), err) < 0)
				return -1;
			free(W.mounted);
			W.mounted = xstrdup("\x01");
			return 0;
		}
	}
	const char *pick = NULL;
	char **l = NULL;
	if (*fs) {
		/* a device named: one of the disks' partitions or whole disks
		 * (cheap to list, where list_filesystems probes every one) */
		for (int k = 0; k < 2 && !pick; k++) {
			l = k ? guestfs_list_devices(W.g) : guestfs_list_partitions(W.g);
			for (size_t i = 0; l && l[i] && !pick; i++)
				if (!strcmp(l[i], fs))
					pick = fs;
			free_strv(l);
		}
	} else {
		if (!(l = filesystems(err)))
			return -1;
		for (size_t i = 0; l[i] && l[i + 1]; i += 2)
			if (mountable(l[i + 1])) {
				pick = l[i];
				break;
			}
	}
	int rc = 0;
	if (!pick)
		rc = xerr_set(err, ERR_INSPECT_NO_FILESYSTEM, *fs ? fs : "", NULL);
	else if (mount_dev(pick, "/") < 0)
		rc = g_fail(err, "mounting the filesystem");
	else {
		free(W.mounted);
		W.mounted = xstrdup(*fs ? fs : "\x02");
	}
	return rc;
}

static int lookup(void *arg, const char *p, char **target, struct xerr *err)
{
	(void)arg;
	guestfs_push_error_handler(W.g, NULL, NULL);
	struct guestfs_statns *st = guestfs_lstatns(W.g, p);
	guestfs_pop_error_handler(W.g);
	if (!st) {
		if (W.killed)
			return g_fail(err, "");
		return 0; /* absent: the caller's operation says so */
	}
	bool link = S_ISLNK(st->st_mode);
	guestfs_free_statns(st);
	if (!link)
		return 0;
	*target = guestfs_readlink(W.g, p);
	return *target ? 1 : g_fail(err, "reading a symbolic link");
}

static char *resolve(const struct insp_file *f, bool keep_last, struct xerr *err)
{
	if (mount_fs(f->fs ? f->fs : "", err) < 0)
		return NULL;
	return insp_resolve(f->path, keep_last, lookup, NULL, err);
}

static const char *type_name(int64_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return "file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symlink";
	case S_IFCHR: return "char";
	case S_IFBLK: return "block";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	}
	return "unknown";
}

static xv stat_rec(const struct guestfs_statns *st)
{
	xv r = xv_map_new();
	char mode[16];
	snprintf(mode, sizeof mode, "%04o", (unsigned)(st->st_mode & 07777));
	xv_map_set_str(&r, "type", type_name(st->st_mode));
	xv_map_set(&r, "size", xv_int(st->st_size));
	xv_map_set_str(&r, "mode", mode);
	xv_map_set(&r, "uid", xv_int(st->st_uid));
	xv_map_set(&r, "gid", xv_int(st->st_gid));
	xv_map_set(&r, "mtime", xv_int(st->st_mtime_sec));
	return r;
}

static int do_stat(struct job *j)
{
	char *p = resolve(j->f, false, j->err);
	if (!p)
		return -1;
	guestfs_push_error_handler(W.g, NULL, NULL);
	struct guestfs_statns *st = guestfs_lstatns(W.g, p);
	guestfs_pop_error_handler(W.g);
	if (!st) {
		int rc = W.killed ? g_fail(j->err, "")
				  : xerr_set(j->err, ERR_INSPECT_PATH_INVALID, j->f->path, "no such file or directory",
					     NULL);
		free(p);
		return rc;
	}
	*j->out = stat_rec(st);
	xv_map_set_str(j->out, "path", p);
	guestfs_free_statns(st);
	free(p);
	return 0;
}

#define LIST_MAX 100000

static int do_list(struct job *j)
{
	char *p = resolve(j->f, false, j->err);
	if (!p)
		return -1;
	int rc = -1;
	struct guestfs_statns *st = guestfs_lstatns(W.g, p);
	char **names = NULL;
	struct guestfs_statns_list *sts = NULL;
	char **links = NULL;
	if (!st) {
		rc = W.killed ? g_fail(j->err, "")
			      : xerr_set(j->err, ERR_INSPECT_PATH_INVALID, j->f->path, "no such file or directory", NULL);
		goto out;
	}
	if (!S_ISDIR(st->st_mode)) {
		rc = xerr_set(j->err, ERR_INSPECT_PATH_INVALID, j->f->path, "not a directory", NULL);
		goto out;
	}
	if (!(names = guestfs_ls(W.g, p))) {
		rc = g_fail(j->err, "listing the directory");
		goto out;
	}
	size_t n = 0;
	while (names[n])
		n++;
	if (n > LIST_MAX) {
		rc = xerr_set(j->err, ERR_INSPECT_PATH_INVALID, j->f->path, "too many entries", NULL);
		goto out;
	}
	if (!(sts = guestfs_lstatnslist(W.g, p, names)) || sts->len != n ||
	    !(links = guestfs_readlinklist(W.g, p, names))) {
		rc = g_fail(j->err, "reading the directory");
		goto out;
	}
	xv out = xv_arr_new();
	for (size_t i = 0; i < n; i++) {
		xv r = stat_rec(&sts->val[i]);
		xv_map_set_str(&r, "name", names[i]);
		xv_map_set_str(&r, "target", S_ISLNK(sts->val[i].st_mode) && links[i] ? links[i] : "");
		xv_arr_push(&out, r);
	}
	*j->out = out;
	rc = 0;
out:
	if (st)
		guestfs_free_statns(st);
	if (sts)
		guestfs_free_statns_list(sts);
	free_strv(names);
	free_strv(links);
	free(p);
	return rc;
}

static int do_download(struct job *j)
{
	char *p = resolve(j->f, false, j->err);
	if (!p)
		return -1;
	int rc = -1;
	guestfs_push_error_handler(W.g, NULL, NULL);
	struct guestfs_statns *st = guestfs_lstatns(W.g, p);
	guestfs_pop_error_handler(W.g);
	if (!st)
		rc = W.killed ? g_fail(j->err, "")
			      : xerr_set(j->err, ERR_INSPECT_PATH_INVALID, j->f->path, "no such file", NULL);
	else if (!S_ISREG(st->st_mode))
		rc = xerr_set(j->err, ERR_INSPECT_PATH_INVALID, j->f->path, "not a regular file", NULL);
	else if ((uint64_t)st->st_size > W.cfg.max_read) {
		char sz[24], lim[24];
		snprintf(sz, sizeof sz, "%lld", (long long)st->st_size);
		snprintf(lim, sizeof lim, "%llu", (unsigned long long)W.cfg.max_read);
		rc = xerr_set(j->err, ERR_INSPECT_FILE_TOO_LARGE, j->f->path, sz, lim, NULL);
	} else if (guestfs_download(W.g, p, j->host_file) < 0)
		rc = g_fail(j->err, "reading the file");
	else {
		*j->size = (uint64_t)st->st_size;
		rc = 0;
	}
	if (st)
		guestfs_free_statns(st);
	free(p);
	return rc;
}

static int do_upload(struct job *j)
{
	struct stat hs;
	if (stat(j->host_file, &hs) < 0)
		return xerr_internal(j->err, "the upload's file is gone");
	if ((uint64_t)hs.st_size > W.cfg.max_write) {
		char sz[24], lim[24];
		snprintf(sz, sizeof sz, "%lld", (long long)hs.st_size);
		snprintf(lim, sizeof lim, "%llu", (unsigned long long)W.cfg.max_write);
		return xerr_set(j->err, ERR_INSPECT_FILE_TOO_LARGE, j->f->path, sz, lim, NULL);
	}
	/* the parent as the guest resolves it; a symlink as the last name is
	 * followed inside the guest too */
	char *p = resolve(j->f, true, j->err);
	if (!p)
		return -1;
	if (!strcmp(p, "/")) {
		free(p);
		return xerr_set(j->err, ERR_INSPECT_PATH_INVALID, j->f->path, "is a directory", NULL);
	}
	char *link = NULL;
	int lr = lookup(NULL, p, &link, j->err);
	if (lr < 0) {
		free(p);
		return -1;
	}
	if (lr == 1) {
		free(link);
		char *q = insp_resolve(p, false, lookup, NULL, j->err);
		free(p);
		if (!q)
			return -1;
		p = q;
	}
	int rc = -1;
	char *parent = xstrdup(p);
	*strrchr(parent, '/') = '\0';
	guestfs_push_error_handler(W.g, NULL, NULL);
	struct guestfs_statns *pst = guestfs_lstatns(W.g, *parent ? parent : "/");
	struct guestfs_statns *st = guestfs_lstatns(W.g, p);
	guestfs_pop_error_handler(W.g);
	if (!pst || !S_ISDIR(pst->st_mode))
		rc = xerr_set(j->err, ERR_INSPECT_PATH_INVALID, j->f->path, "no such directory", NULL);
	else if (st && !S_ISREG(st->st_mode))
		rc = xerr_set(j->err, ERR_INSPECT_PATH_INVALID, j->f->path, "not a regular file", NULL);
	else if (guestfs_upload(W.g, j->host_file, p) < 0)
		rc = g_fail(j->err, "writing the file");
	else if (j->mode >= 0 && guestfs_chmod(W.g, j->mode, p) < 0)
		rc = g_fail(j->err, "setting the file's mode");
	else if (guestfs_sync(W.g) < 0)
		rc = g_fail(j->err, "syncing the filesystem");
	else
		rc = 0;
	if (pst)
		guestfs_free_statns(pst);
	if (st)
		guestfs_free_statns(st);
	free(parent);
	free(p);
	return rc;
}

/* ---- inspection ---- */

static void put_i(xv *m, const char *k, int64_t v)
{
	xv_map_set(m, k, xv_int(v));
}

static void put_s(xv *m, const char *k, const char *v)
{
	xv_map_set_str(m, k, v ? v : "");
}

static int part_table(const char *dev, xv *disk, struct xerr *err)
{
	guestfs_push_error_handler(W.g, NULL, NULL);
	char *type = guestfs_part_get_parttype(W.g, dev);
	guestfs_pop_error_handler(W.g);
	if (!type) {
		const char *m = guestfs_last_error(W.g);
		if (W.killed)
			return g_fail(err, "");
		/* a blank disk or a bare filesystem: no table, not an error */
		if (m && strstr(m, "unrecognised disk label")) {
			put_s(disk, "partition_table", "none");
			xv_map_set(disk, "partitions", xv_arr_new());
			return 0;
		}
		char *msg = xasprintf("partition table of %s: %s", dev, m ? m : "unreadable");
		xerr_set(err, ERR_INSPECT_FAILED, msg, NULL);
		free(msg);
		return -1;
	}
	bool gpt = !strcmp(type, "gpt");
	put_s(disk, "partition_table", !strcmp(type, "msdos") ? "mbr" : type);
	free(type);
	struct guestfs_partition_list *pl = guestfs_part_list(W.g, dev);
	if (!pl)
		return g_fail(err, "reading the partition table");
	xv parts = xv_arr_new();
	for (uint32_t i = 0; i < pl->len; i++) {
		xv p = xv_map_new();
		int num = pl->val[i].part_num;
		char *pdev = xasprintf("%s%d", dev, num);
		put_s(&p, "device", pdev);
		free(pdev);
		put_i(&p, "number", num);
		put_i(&p, "start", (int64_t)pl->val[i].part_start);
		put_i(&p, "size", (int64_t)pl->val[i].part_size);
		if (gpt) {
			char *t = guestfs_part_get_gpt_type(W.g, dev, num);
			char *nm = guestfs_part_get_name(W.g, dev, num);
			put_s(&p, "type", t);
			put_s(&p, "name", nm);
			free(t);
			free(nm);
		} else {
			int id = guestfs_part_get_mbr_id(W.g, dev, num);
			char t[16];
			snprintf(t, sizeof t, "0x%02x", id < 0 ? 0 : id & 0xff);
			put_s(&p, "type", t);
			put_s(&p, "name", "");
		}
		xv_arr_push(&parts, p);
	}
	guestfs_free_partition_list(pl);
	xv_map_set(disk, "partitions", parts);
	return 0;
}

static void fs_usage(const char *dev, xv *f)
{
	int64_t size = -1, used = -1;
	guestfs_push_error_handler(W.g, NULL, NULL);
	if (guestfs_mount_ro(W.g, dev, "/") == 0) {
		struct guestfs_statvfs *sv = guestfs_statvfs(W.g, "/");
		if (sv) {
			size = sv->blocks * sv->frsize;
			used = (sv->blocks - sv->bfree) * sv->frsize;
			guestfs_free_statvfs(sv);
		}
		guestfs_umount_all(W.g);
	}
	guestfs_pop_error_handler(W.g);
	put_i(f, "size", size);
	put_i(f, "used", used);
}

static xv os_record(const char *root)
{
	xv o = xv_map_new();
	char *s;
	put_s(&o, "root", root);
	guestfs_push_error_handler(W.g, NULL, NULL);
#define STR(key, fn)                    \
	s = fn(W.g, root);              \
	put_s(&o, key, s && strcmp(s, "unknown") ? s : ""); \
	free(s)
	STR("type", guestfs_inspect_get_type);
	STR("distro", guestfs_inspect_get_distro);
	STR("product_name", guestfs_inspect_get_product_name);
	STR("hostname", guestfs_inspect_get_hostname);
	STR("package_format", guestfs_inspect_get_package_format);
#undef STR
	put_i(&o, "major_version", guestfs_inspect_get_major_version(W.g, root));
	put_i(&o, "minor_version", guestfs_inspect_get_minor_version(W.g, root));
	/* applications need the OS's filesystems mounted */
	int64_t apps = -1;
	if (mount_root(root, &(struct xerr)XERR_INIT) == 0) {
		struct guestfs_application2_list *al = guestfs_inspect_list_applications2(W.g, root);
		if (al) {
			apps = al->len;
			guestfs_free_application2_list(al);
		}
	}
	guestfs_umount_all(W.g);
	guestfs_pop_error_handler(W.g);
	put_i(&o, "applications", apps);
	char **mp = guestfs_inspect_get_mountpoints(W.g, root);
	xv m = xv_map_new();
	for (size_t i = 0; mp && mp[i] && mp[i + 1]; i += 2)
		xv_map_set_str(&m, mp[i], mp[i + 1]);
	free_strv(mp);
	xv_map_set(&o, "mountpoints", m);
	return o;
}

static void progress(struct job *j, double p)
{
	if (j->pg)
		j->pg(j->arg, p);
}

static int do_inspect(struct job *j)
{
	umount();
	xv out = xv_map_new();
	xv disks = xv_arr_new();
	int rc = -1;
	char **devs = guestfs_list_devices(W.g);
	if (!devs) {
		g_fail(j->err, "listing disks");
		goto out;
	}
	for (size_t i = 0; devs[i]; i++) {
		xv d = xv_map_new();
		put_s(&d, "device", devs[i]);
		put_s(&d, "key", i < W.nheld ? W.held[i].key : "");
		put_i(&d, "size", guestfs_blockdev_getsize64(W.g, devs[i]));
		if (part_table(devs[i], &d, j->err) < 0) {
			xv_free(&d);
			free_strv(devs);
			goto out;
		}
		xv_arr_push(&disks, d);
	}
	free_strv(devs);
	progress(j, 0.6);
	char **l = filesystems(j->err);
	if (!l)
		goto out;
	xv fss = xv_arr_new();
	for (size_t i = 0; l[i] && l[i + 1]; i += 2) {
		xv f = xv_map_new();
		put_s(&f, "device", l[i]);
		put_s(&f, "type", l[i + 1]);
		guestfs_push_error_handler(W.g, NULL, NULL);
		char *label = guestfs_vfs_label(W.g, l[i]);
		char *uuid = guestfs_vfs_uuid(W.g, l[i]);
		guestfs_pop_error_handler(W.g);
		put_s(&f, "label", label);
		put_s(&f, "uuid", uuid);
		free(label);
		free(uuid);
		if (mountable(l[i + 1]))
			fs_usage(l[i], &f);
		else {
			put_i(&f, "size", -1);
			put_i(&f, "used", -1);
		}
		xv_arr_push(&fss, f);
	}
	xv_map_set(&out, "filesystems", fss);
	progress(j, 0.8);
	if (roots(j->err) < 0)
		goto out;
	xv oss = xv_arr_new();
	for (size_t i = 0; i < xv_len(&W.roots); i++)
		xv_arr_push(&oss, os_record(xv_as_str(xv_arr_get(&W.roots, i))));
	xv_map_set(&out, "operating_systems", oss);
	if (W.killed) {
		g_fail(j->err, "");
		goto out;
	}
	rc = 0;
out:
	xv_map_set(&out, "disks", disks);
	if (rc == 0)
		*j->out = out;
	else
		xv_free(&out);
	return rc;
}

/* ---- the worker ---- */

static void run(struct job *j)
{
	pthread_mutex_lock(&W.mu);
	W.deadline_ms = clock_now_ms() + (int64_t)W.cfg.timeout_s * 1000;
	pthread_mutex_unlock(&W.mu);
	int rc = 0;
	if (!appliance_fits(j->d, j->n, j->rw))
		rc = launch(j->d, j->n, j->rw, j->err);
	progress(j, 0.5);
	/* a test's appliance that stops answering: its QEMU is stopped, so
	 * the request blocks inside libguestfs as on a hostile image until
	 * the watchdog kills it */
	if (rc == 0 && W.qemu_pid > 0 && fault_hit(FAULT_INSPECT_HANG)) {
		log_warn("inspect: fault point inspect_hang: appliance stopped");
		kill(W.qemu_pid, SIGSTOP);
	}
	if (rc == 0) {
		switch (j->kind) {
		case J_INSPECT: rc = do_inspect(j); break;
		case J_LIST: rc = do_list(j); break;
		case J_STAT: rc = do_stat(j); break;
		case J_DOWNLOAD: rc = do_download(j); break;
		case J_UPLOAD: rc = do_upload(j); break;
		}
	}
	/* an appliance that failed a request is not trusted with the next;
	 * one that wrote is shut so that every byte reaches the image */
	if (W.g && (rc < 0 || W.rw || W.killed))
		close_appliance();
	pthread_mutex_lock(&W.mu);
	W.deadline_ms = 0;
	pthread_mutex_unlock(&W.mu);
	j->rc = rc;
}

static void *worker(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&W.mu);
	for (;;) {
		if (W.stop)
			break;
		if (!W.head) {
			if (!W.g) {
				pthread_cond_wait(&W.wake, &W.mu);
				continue;
			}
			struct timespec ts;
			clock_realtime_after(&ts, (int64_t)W.cfg.idle_s * 1000);
			if (pthread_cond_timedwait(&W.wake, &W.mu, &ts) == ETIMEDOUT && !W.head && !W.stop) {
				pthread_mutex_unlock(&W.mu);
				log_info("inspect: appliance idle for %d s, shut down", W.cfg.idle_s);
				close_appliance();
				pthread_mutex_lock(&W.mu);
			}
			continue;
		}
		struct job *j = W.head;
		W.head = j->next;
		if (!W.head)
			W.tail = NULL;
		pthread_mutex_unlock(&W.mu);
		run(j);
		pthread_mutex_lock(&W.mu);
		j->done = true;
		pthread_cond_broadcast(&W.done);
	}
	pthread_mutex_unlock(&W.mu);
	close_appliance();
	return NULL;
}

static void *watchdog(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&W.mu);
	while (!W.stop) {
		if (W.deadline_ms && clock_now_ms() > W.deadline_ms && W.qemu_pid > 0 && !W.killed) {
			log_warn("inspect: request over %d s, appliance killed", W.cfg.timeout_s);
			W.killed = true;
			kill(W.qemu_pid, SIGKILL);
		}
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 200 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&W.done, &W.mu, &ts);
	}
	pthread_mutex_unlock(&W.mu);
	return NULL;
}

void insp_init(const struct insp_config *cfg)
{
	pthread_mutex_lock(&W.mu);
	W.cfg = *cfg;
	if (W.cfg.idle_s <= 0)
		W.cfg.idle_s = 60;
	if (W.cfg.timeout_s <= 0)
		W.cfg.timeout_s = 300;
	if (!W.cfg.max_read)
		W.cfg.max_read = 1ull << 30;
	if (!W.cfg.max_write)
		W.cfg.max_write = 1ull << 30;
	W.tcg_only = W.tcg_only || getenv("XENON_INSPECT_TCG") || access("/dev/kvm", R_OK | W_OK) != 0;
	if (!W.started) {
		W.started = true;
		W.stop = false;
		pthread_create(&W.worker, NULL, worker, NULL);
		pthread_create(&W.watchdog, NULL, watchdog, NULL);
	}
	pthread_mutex_unlock(&W.mu);
}

void insp_shutdown(void)
{
	pthread_mutex_lock(&W.mu);
	if (!W.started) {
		pthread_mutex_unlock(&W.mu);
		return;
	}
	W.stop = true;
	pthread_cond_broadcast(&W.wake);
	pthread_cond_broadcast(&W.done);
	pthread_mutex_unlock(&W.mu);
	pthread_join(W.worker, NULL);
	pthread_join(W.watchdog, NULL);
	W.started = false;
}

/* Queues j and waits for its end. */
static int submit(struct job *j)
{
	j->rc = -1;
	pthread_mutex_lock(&W.mu);
	if (!W.started || W.stop) {
		pthread_mutex_unlock(&W.mu);
		return xerr_set(j->err, ERR_INSPECT_FAILED, "disk inspection is not running", NULL);
	}
	if (W.tail)
		W.tail->next = j;
	else
		W.head = j;
	W.tail = j;
	pthread_cond_signal(&W.wake);
	while (!j->done)
		pthread_cond_wait(&W.done, &W.mu);
	pthread_mutex_unlock(&W.mu);
	return j->rc;
}

int insp_inspect(const struct insp_drive *d, size_t n, insp_progress pg, void *arg, xv *out,
		 struct xerr *err)
{
	struct job j = {.kind = J_INSPECT, .d = d, .n = n, .pg = pg, .arg = arg, .out = out, .err = err};
	return submit(&j);
}

static int file_job(enum job_kind k, const struct insp_file *f, bool rw, xv *out, const char *host_file,
		    int mode, uint64_t *size, struct xerr *err)
{
	struct job j = {.kind = k, .d = f->drive, .n = 1, .rw = rw, .f = f, .out = out,
			.host_file = host_file, .mode = mode, .size = size, .err = err};
	return submit(&j);
}

int insp_list(const struct insp_file *f, xv *out, struct xerr *err)
{
	return file_job(J_LIST, f, false, out, NULL, -1, NULL, err);
}

int insp_stat(const struct insp_file *f, xv *out, struct xerr *err)
{
	return file_job(J_STAT, f, false, out, NULL, -1, NULL, err);
}

int insp_download(const struct insp_file *f, const char *host_file, uint64_t *size, struct xerr *err)
{
	return file_job(J_DOWNLOAD, f, false, NULL, host_file, -1, size, err);
}

int insp_upload(const struct insp_file *f, const char *host_file, int mode, struct xerr *err)
{
	return file_job(J_UPLOAD, f, true, NULL, host_file, mode, NULL, err);
}
