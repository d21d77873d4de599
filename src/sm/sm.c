/* sm: the driver table and what drivers share — SM-style errors, path
 * checks that keep every image inside its SR's directory, and running
 * qemu-img safely (argv, no shell, stderr captured for the error). */
#include "sm.h"
#include "drivers.h"
#include "fs.h"
#include "../base/fault.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/strbuf.h"
#include "../formats/img.h"
#include "../formats/imgmap.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Adding a driver: its file, its line in drivers.h, and one here. */
static const struct sm_driver *const drivers[] = {
	&sm_file_driver,
	&sm_file_alias_driver,
	&sm_iso_driver,
	&sm_nfs_driver,
};
#define NDRIVERS (sizeof drivers / sizeof drivers[0])

const struct sm_driver *sm_driver_find(const char *type)
{
	for (size_t i = 0; type && i < NDRIVERS; i++)
		if (strcmp(drivers[i]->type, type) == 0)
			return drivers[i];
	return NULL;
}

const char *const *sm_driver_types(void)
{
	static const char *types[NDRIVERS + 1];
	for (size_t i = 0; i < NDRIVERS; i++)
		types[i] = drivers[i]->type;
	return types;
}

/* ---- errors ---- */

static const struct {
	int code;
	const char *text;
} sm_texts[] = {
	{SM_E_VDI_IN_USE, "The VDI is currently in use"},
	{SM_E_UNIMPLEMENTED, "The requested method is not supported/implemented"},
	{SM_E_SR_NOT_EMPTY, "The SR is not empty"},
	{SM_E_SR_SCAN, "The SR scan failed "},
	{SM_E_SR_EXISTS, "The SR already exists"},
	{SM_E_VDI_EXISTS, "The VDI already exists"},
	{SM_E_SR_NO_SPACE, "There is insufficient space"},
	{SM_E_VDI_UNAVAILABLE, "The VDI is not available"},
	{SM_E_SR_UNAVAILABLE, "The SR is not available"},
	{SM_E_FILE_SR_CREATE, "File SR creation error"},
	{SM_E_FILE_SR_RMDIR, "File SR failed to remove directory"},
	{SM_E_VDI_REMOVE, "Failed to remove VDI"},
	{SM_E_VDI_CREATE, "VDI Creation failed"},
	{SM_E_VDI_SIZE, "VDI Invalid size"},
	{SM_E_VDI_CLONE, "Failed to clone VDI"},
	{SM_E_VDI_SNAPSHOT, "Failed to snapshot VDI"},
	{SM_E_NFS_VERSION, "Required NFS server version unsupported"},
	{SM_E_NFS_MOUNT, "NFS mount error"},
	{SM_E_NFS_DELETE, "Failed to remove NFS mount point"},
	{SM_E_NFS_CREATE, "NFS SR creation error"},
	{SM_E_CONFIG_LOCATION_MISSING, "The request is missing the location parameter"},
	{SM_E_CONFIG_SERVERPATH_MISSING, "The request is missing the serverpath parameter"},
	{SM_E_CONFIG_SERVER_MISSING, "The request is missing the server parameter"},
	{SM_E_CONFIG_SERVERPATH_BAD, "The serverpath argument is not valid"},
	{SM_E_NFS_TARGET, "Unable to detect an NFS service on this target."},
	{SM_E_SMB_MOUNT, "SMB mount error"},
	{SM_E_DNS, "Incorrect DNS name, unable to resolve."},
	{SM_E_VDI_RESIZE, "VDI resize failed"},
	{SM_E_CHAIN_TOO_LONG, "The snapshot chain is too long"},
	{SM_E_VDI_MISSING, "VDI could not be found"},
	{SM_E_ISO_LOCATION_MISSING, "'Location' parameter must be specified in Device Configuration"},
	{SM_E_ISO_MOUNT_FAILURE, "Could not mount the directory specified in Device Configuration"},
	{SM_E_ISO_SHARENAME_FAILURE, "Could not locate the ISO sharename on the target, or the access permissions may be incorrect."},
	{SM_E_ISO_LOCATION_STRING, "Incorrect Location string format. String must be in the format SERVER:PATH for NFS targets, or \\\\SERVER\\PATH for CIFS targets"},
	{SM_E_ISO_LOCAL_PATH, "Invalid local path"},
};

int sm_fail(struct xerr *err, int code, const char *opterr, const char *detail)
{
	const char *text = "Storage backend failure";
	for (size_t i = 0; i < sizeof sm_texts / sizeof sm_texts[0]; i++)
		if (sm_texts[i].code == code)
			text = sm_texts[i].text;
	char num[16];
	snprintf(num, sizeof num, "%d", code);
	char *msg = opterr && *opterr ? xasprintf("%s [opterr=%s]", text, opterr) : xstrdup(text);
	/* a tool's stderr ends in a newline xapi's callers would not show */
	char *d = xstrdup(detail ? detail : "");
	size_t n = strlen(d);
	while (n && (d[n - 1] == '\n' || d[n - 1] == '\r'))
		d[--n] = '\0';
	xerr_set(err, ERR_SR_BACKEND_FAILURE, num, msg, d, NULL);
	free(msg);
	free(d);
	return -1;
}

/* ---- paths ---- */

bool sm_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	if (n == 0 || n > 255 || name[0] == '.')
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p < 0x20 || *p == 0x7f)
			return false;
	return true;
}

bool sm_dir_path_ok(const char *path)
{
	if (!path || path[0] != '/' || strlen(path) > 3800)
		return false;
	for (const char *p = path; *p;) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);
		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		for (const char *q = p; q < e; q++)
			if ((unsigned char)*q < 0x20)
				return false;
		p = e;
	}
	return true;
}

char *sm_path(const struct sm_sr *sr, const char *name, struct xerr *err)
{
	if (!sm_name_ok(name)) {
		char *why = xasprintf("location '%s' is not a file in SR %s", name ? name : "", sr->uuid);
		sm_fail(err, SM_E_VDI_UNAVAILABLE, why, "");
		free(why);
		return NULL;
	}
	size_t n = strlen(sr->path);
	bool slash = n && sr->path[n - 1] == '/';
	return xasprintf("%s%s%s", sr->path, slash ? "" : "/", name);
}

int sm_sr_open(struct sm_sr *sr, const char *type, const char *uuid, const xv *device_config,
	       struct xerr *err)
{
	memset(sr, 0, sizeof *sr);
	sr->device_config = device_config ? xv_copy(device_config) : xv_map_new();
	snprintf(sr->uuid, sizeof sr->uuid, "%s", uuid ? uuid : "");
	sr->fs = &sm_posix_fs;
	sr->drv = sm_driver_find(type);
	if (!sr->drv)
		return xerr_set(err, ERR_SR_UNKNOWN_DRIVER, type ? type : "", NULL);
	if (sr->drv->sr_open)
		return sr->drv->sr_open(sr, err);
	const char *p = NULL;
	for (const char *const *k = sr->drv->path_keys; k && *k && !p; k++)
		p = xv_map_get_str(&sr->device_config, *k);
	bool iso = strcmp(sr->drv->type, "iso") == 0;
	if (!p || !*p)
		return sm_fail(err, iso ? SM_E_ISO_LOCATION_MISSING : SM_E_CONFIG_LOCATION_MISSING, NULL,
			       "");
	if (!sm_dir_path_ok(p)) {
		char *why = xasprintf("'%s' is not an absolute path without . or .. components", p);
		sm_fail(err, iso ? SM_E_ISO_LOCAL_PATH : SM_E_CONFIG_LOCATION_MISSING, why, "");
		free(why);
		return -1;
	}
	sr->path = xstrdup(p);
	return 0;
}

void sm_sr_close(struct sm_sr *sr)
{
	if (sr->drv && sr->drv->sr_close)
		sr->drv->sr_close(sr);
	sr->priv = NULL;
	xv_free(&sr->device_config);
	free(sr->path);
	sr->path = NULL;
	sr->drv = NULL;
}

void sm_vdi_init(struct sm_vdi *v)
{
	memset(v, 0, sizeof *v);
	v->sm_config = xv_map_new();
}

void sm_vdi_free(struct sm_vdi *v)
{
	free(v->location);
	free(v->name_label);
	xv_free(&v->sm_config);
	memset(v, 0, sizeof *v);
}

struct sm_vdi *sm_vdi_list_add(struct sm_vdi_list *l)
{
	l->v = xrealloc(l->v, sizeof *l->v * (l->n + 1));
	sm_vdi_init(&l->v[l->n]);
	return &l->v[l->n++];
}

void sm_vdi_list_free(struct sm_vdi_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		sm_vdi_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void sm_attach_info_free(struct sm_attach_info *a)
{
	free(a->path);
	a->path = NULL;
}

int sm_statvfs(const char *path, struct sm_stat *st)
{
	struct statvfs vfs;
	st->physical_size = st->physical_utilisation = 0;
	if (statvfs(path, &vfs) < 0)
		return -1;
	st->physical_size = (int64_t)vfs.f_blocks * (int64_t)vfs.f_frsize;
	st->physical_utilisation = (int64_t)(vfs.f_blocks - vfs.f_bfree) * (int64_t)vfs.f_frsize;
	return 0;
}

int sm_sr_statvfs(const struct sm_sr *sr, struct sm_stat *st, int64_t *avail)
{
	int64_t a;
	st->physical_size = st->physical_utilisation = 0;
	return sm_fs_of(sr)->statvfs(sr, sr->path, st, avail ? avail : &a);
}

/* ---- running programs ---- */

/* stderr is kept for error messages only, so a bounded head of it does;
 * stdout is the tool's answer (a `qemu-img map` of a fragmented image runs
 * to megabytes) and is kept whole up to a limit no honest answer reaches. */
#define ERR_CAP (64 * 1024)
#define OUT_CAP (256 * 1024 * 1024)

static void drain(int fd, struct strbuf *sb, size_t cap, bool *open)
{
	char buf[65536];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n > 0) {
		if (sb->len < cap)
			sb_add(sb, buf, (size_t)n < cap - sb->len ? (size_t)n : cap - sb->len);
	} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
		*open = false;
	}
}

/* One child: its pipes and what it said. */
struct child {
	pid_t pid;
	int out, err; /* read ends, -1 once closed */
	struct strbuf ob, eb;
	int status;
};

static int spawn(const char *const *argv, struct child *c)
{
	int po[2] = {-1, -1}, pe[2] = {-1, -1};
	c->pid = -1;
	c->out = c->err = -1;
	c->status = 127;
	if (pipe2(po, O_CLOEXEC) < 0 || pipe2(pe, O_CLOEXEC) < 0) {
		sb_printf(&c->eb, "%s: pipe: %s", argv[0], strerror(errno));
		for (int i = 0; i < 2; i++) {
			if (po[i] >= 0)
				close(po[i]);
			if (pe[i] >= 0)
				close(pe[i]);
		}
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, po[1], 1);
	posix_spawn_file_actions_adddup2(&fa, pe[1], 2);
	/* the daemon ignores SIGPIPE; the tool should not inherit that */
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t def;
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF);
	int e = posix_spawnp(&c->pid, argv[0], &fa, &attr, (char *const *)argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(po[1]);
	close(pe[1]);
	if (e != 0) {
		sb_printf(&c->eb, "%s: %s", argv[0], strerror(e));
		close(po[0]);
		close(pe[0]);
		c->pid = -1;
		return -1;
	}
	c->out = po[0];
	c->err = pe[0];
	return 0;
}

int sm_run_many(const char *const *const *argvs, size_t n, struct sm_run *res)
{
	struct child *c = xcalloc(n ? n : 1, sizeof *c);
	struct pollfd *p = xcalloc(2 * (n ? n : 1), sizeof *p);
	for (size_t i = 0; i < n; i++)
		spawn(argvs[i], &c[i]);
	/* all of them at once: their output is read as it comes, so none
	 * can block on a full pipe while another is waited for */
	for (;;) {
		size_t live = 0;
		for (size_t i = 0; i < n; i++) {
			p[2 * i] = (struct pollfd){c[i].out, POLLIN, 0};
			p[2 * i + 1] = (struct pollfd){c[i].err, POLLIN, 0};
			live += (c[i].out >= 0) + (c[i].err >= 0);
		}
		if (!live)
			break;
		if (poll(p, 2 * n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (size_t i = 0; i < 2 * n; i++) {
			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			struct child *ch = &c[i / 2];
			bool open = true;
			drain(p[i].fd, i % 2 ? &ch->eb : &ch->ob, i % 2 ? ERR_CAP : OUT_CAP, &open);
			if (!open) {
				close(p[i].fd);
				*(i % 2 ? &ch->err : &ch->out) = -1;
			}
		}
	}
	int worst = 0;
	for (size_t i = 0; i < n; i++) {
		if (c[i].pid > 0) {
			int st;
			while (waitpid(c[i].pid, &st, 0) < 0 && errno == EINTR)
				;
			c[i].status = WIFEXITED(st) ? WEXITSTATUS(st)
						    : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
		}
		res[i].status = c[i].status;
		res[i].out = sb_detach(&c[i].ob);
		res[i].err = sb_detach(&c[i].eb);
		if (c[i].status && !worst)
			worst = c[i].status;
	}
	free(p);
	free(c);
	return worst;
}

int sm_run(const char *const *argv, struct sm_run *res)
{
	return sm_run_many(&argv, 1, res);
}

void sm_run_free(struct sm_run *res)
{
	free(res->out);
	free(res->err);
	res->out = res->err = NULL;
}

static pthread_mutex_t cfg_lock = PTHREAD_MUTEX_INITIALIZER;
static char *qemu_img_override;

void sm_set_qemu_img(const char *path)
{
	pthread_mutex_lock(&cfg_lock);
	free(qemu_img_override);
	qemu_img_override = path ? xstrdup(path) : NULL;
	pthread_mutex_unlock(&cfg_lock);
}

static char *run_dir;

void sm_set_run_dir(const char *dir)
{
	pthread_mutex_lock(&cfg_lock);
	free(run_dir);
	run_dir = dir && *dir ? xstrdup(dir) : NULL;
	pthread_mutex_unlock(&cfg_lock);
}

const char *sm_run_dir(void)
{
	pthread_mutex_lock(&cfg_lock);
	const char *d = run_dir;
	pthread_mutex_unlock(&cfg_lock);
	if (d)
		return d;
	const char *t = getenv("TMPDIR");
	return t && *t ? t : "/tmp";
}

static char *qemu_img_binary(void)
{
	pthread_mutex_lock(&cfg_lock);
	const char *env = getenv("XENON_QEMU_IMG");
	char *b = xstrdup(qemu_img_override ? qemu_img_override : env && *env ? env : "qemu-img");
	if (fault_hit(FAULT_QEMU_IMG)) { /* the "qemu_img" point: this run exits 1 */
		free(b);
		b = xstrdup("false");
	}
	pthread_mutex_unlock(&cfg_lock);
	return b;
}

int sm_qemu_img_status(const char *const *args, struct sm_run *res)
{
	size_t n = 0;
	while (args[n])
		n++;
	const char **argv = xcalloc(n + 2, sizeof *argv);
	char *bin = qemu_img_binary();
	argv[0] = bin;
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = args[i];
	int st = sm_run(argv, res);
	free(argv);
	free(bin);
	return st;
}

int sm_qemu_img_many(const char *const *const *args, size_t n, int code, const char *what,
		     struct xerr *err)
{
	char *bin = qemu_img_binary();
	const char ***argvs = xcalloc(n ? n : 1, sizeof *argvs);
	for (size_t k = 0; k < n; k++) {
		size_t m = 0;
		while (args[k][m])
			m++;
		argvs[k] = xcalloc(m + 2, sizeof **argvs);
		argvs[k][0] = bin;
		for (size_t i = 0; i < m; i++)
			argvs[k][i + 1] = args[k][i];
	}
	struct sm_run *r = xcalloc(n ? n : 1, sizeof *r);
	int rc = sm_run_many((const char *const *const *)argvs, n, r);
	for (size_t k = 0; k < n; k++) {
		if (r[k].status != 0 && !(err && err->code)) {
			log_warn("sm: %s %s failed (status %d): %s", bin, args[k][0] ? args[k][0] : "",
				 r[k].status, r[k].err);
			sm_fail(err, code, what, r[k].err);
		}
		sm_run_free(&r[k]);
		free(argvs[k]);
	}
	if (rc != 0 && !err)
		log_warn("sm: %s failed (status %d)", bin, rc);
	free(r);
	free(argvs);
	free(bin);
	return rc == 0 ? 0 : -1;
}

int sm_qemu_img(const char *const *args, char **out, int code, const char *what, struct xerr *err)
{
	size_t n = 0;
	while (args[n])
		n++;
	const char **argv = xcalloc(n + 2, sizeof *argv);
	char *bin = qemu_img_binary();
	argv[0] = bin;
	for (size_t i = 0; i < n; i++)
		argv[i + 1] = args[i];
	struct sm_run r;
	int rc = sm_run(argv, &r);
	if (rc != 0) {
		log_warn("sm: %s %s failed (status %d): %s", bin, n ? args[0] : "", rc, r.err);
		sm_fail(err, code, what, r.err);
	} else if (out) {
		*out = r.out;
		r.out = NULL;
	}
	sm_run_free(&r);
	free(argv);
	free(bin);
	return rc == 0 ? 0 : -1;
}

struct imgmap *sm_imgmap_open(const char *path, const char *format)
{
	if (!format || (strcmp(format, "qcow2") && strcmp(format, "raw")) || path[0] != '/')
		return NULL;
	/* -U: a running VM's QEMU holds the image lock; readers share it, as
	 * the NBD path does with file.locking=off */
	const char *info_args[] = {"info", "-U", "--backing-chain", "--output=json", "-f", format, path, NULL};
	const char *map_args[] = {"map", "-U", "--output=json", "-f", format, path, NULL};
	char *info = NULL, *map = NULL;
	struct xerr err = XERR_INIT;
	struct imgmap *m = NULL;
	if (sm_qemu_img(info_args, &info, SM_E_VDI_UNAVAILABLE, "qemu-img info", &err) == 0 &&
	    sm_qemu_img(map_args, &map, SM_E_VDI_UNAVAILABLE, "qemu-img map", &err) == 0)
		m = imgmap_open_json(path, info, map);
	xerr_clear(&err);
	free(info);
	free(map);
	return m;
}

struct img *sm_img_open(const char *path, const char *format, bool writable, struct xerr *err)
{
	struct imgmap *map = writable ? NULL : sm_imgmap_open(path, format ? format : "raw");
	return img_open(path, format, writable, map, err);
}

/* ---- shared operations ---- */

static pthread_mutex_t meta_lock = PTHREAD_MUTEX_INITIALIZER;

void sm_lock(void)
{
	pthread_mutex_lock(&meta_lock);
}

void sm_unlock(void)
{
	pthread_mutex_unlock(&meta_lock);
}

int sm_vdi_copy(struct sm_sr *src_sr, const struct sm_vdi *src, struct sm_sr *dst_sr,
		const struct sm_vdi *dst, struct xerr *err)
{
	struct sm_attach_info a = {0}, b = {0};
	int rc = -1;
	if (src_sr->drv->vdi_attach(src_sr, src, false, &a, err) < 0)
		return -1;
	if (dst_sr->drv->vdi_attach(dst_sr, dst, true, &b, err) < 0)
		goto out_a;
	/* -n: the destination exists (made by its driver, right size and
	 * format); the source's chain is read through and flattened */
	const char *args[] = {"convert", "-n", "-f", a.format, "-O", b.format, a.path, b.path, NULL};
	rc = sm_qemu_img(args, NULL, SM_E_VDI_CREATE, "copy failed", err);
	dst_sr->drv->vdi_detach(dst_sr, dst, NULL);
	sm_attach_info_free(&b);
out_a:
	src_sr->drv->vdi_detach(src_sr, src, NULL);
	sm_attach_info_free(&a);
	return rc;
}
