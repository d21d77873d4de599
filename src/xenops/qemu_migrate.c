/* qemu_migrate: live migration of a VM's QEMU to another host's.
 *
 * The destination starts the same QEMU with -incoming defer (its taps made
 * first), and, when disks move with the VM, serves them from that QEMU's
 * own NBD server (each disk's format node exported writable as
 * "vbd<position>"), so the destination's images are opened by one process
 * only. It then listens for the stream on a TCP port of the address the
 * caller names.
 *
 * The source mirrors each moving disk into its export (blockdev-mirror in
 * write-blocking mode: once in step, every guest write reaches both), then
 * sends the memory (migrate tcp:…). When the memory is across the guest is
 * stopped here; the mirrors are ended (block-job-cancel of a job in step
 * leaves the target a full copy) before the destination is told to run the
 * guest, so nothing here writes to the destination's disks once it runs.
 * A failure or a cancel before that point cancels the migration and the
 * mirrors: the guest runs on here as before.
 *
 * With credentials (xenops_mig_tls) both streams are TLS: each QEMU gets
 * an x509 credentials object "mig-tls" (the destination's as the server,
 * verifying the source's certificate; the source's as the client, checking
 * the destination's name), used by the memory stream (migration parameter
 * tls-creds) and by the NBD server and its clients. The files are written
 * into the VM's directory for its QEMU's uid to read when the object is
 * made, and removed once it is: QEMU holds them in memory. */
#include "qemu_int.h"
#include "qmp.h"
#include "qemu_disk.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define QMP_MS 10000
#define POLL_MS 20
#define MIRROR_TIMEOUT_S 3600
#define MEMORY_TIMEOUT_S 600
#define PORT_TRIES 32
#define PORT_BASE 49200
#define PORT_SPAN 10000

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static bool cancelled(const struct xenops_mig_target *t)
{
	return t->cancel && __atomic_load_n(t->cancel, __ATOMIC_ACQUIRE);
}

static int pick_port(void)
{
	static unsigned seed;
	if (!seed)
		seed = (unsigned)clock_now_ms() ^ (unsigned)getpid();
	return PORT_BASE + (int)(rand_r(&seed) % PORT_SPAN);
}

#define TLS_ID "mig-tls"

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	size_t n = strlen(text), done = 0;
	while (done < n) {
		ssize_t w = write(fd, text + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	close(fd);
	return done == n ? 0 : -1;
}

/* The object TLS_ID in v's QEMU (one left by an earlier migration
 * replaced), from tls's PEMs; NULL tls: the object goes, the streams are
 * plain. Then the migration's tls-creds (and, on the client, tls-hostname)
 * name it or nothing. */
static int tls_setup(struct qvm *v, struct qmp *q, const char *run_dir, const char *uuid,
		     const struct xenops_mig_tls *tls, bool server, struct xerr *err)
{
	struct xerr e = XERR_INIT;
	qmp_exec(q, "object-del", json_pack("{ss}", "id", TLS_ID), NULL, QMP_MS, &e);
	xerr_clear(&e);
	if (!tls)
		return qmp_exec(q, "migrate-set-parameters", json_pack("{ssss}", "tls-creds", "", "tls-hostname", ""),
				NULL, QMP_MS, err);
	char *vdir = qemu_vm_dir(run_dir, uuid), *dir = qemu_file(vdir, "mig-tls");
	const char *role = server ? "server" : "client";
	char *paths[4] = {qemu_file(dir, "ca-cert.pem"), xasprintf("%s/%s-cert.pem", dir, role),
			  xasprintf("%s/%s-key.pem", dir, role), qemu_file(dir, "dh-params.pem")};
	const char *texts[4] = {tls->ca, tls->cert, tls->key, server ? tls->dh : NULL};
	int r = 0;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		r = xerr_internal(err, "cannot make %s: %s", dir, strerror(errno));
	for (int i = 0; i < 4 && r == 0 && texts[i]; i++) {
		if (write_text(paths[i], texts[i]) < 0)
			r = xerr_internal(err, "cannot write %s: %s", paths[i], strerror(errno));
		else
			r = qemu_vm_grant(v, paths[i], false, err);
	}
	if (r == 0)
		r = qmp_exec(q, "object-add",
			     json_pack("{ss ss ss ss sb}", "qom-type", "tls-creds-x509", "id", TLS_ID, "endpoint", role,
				       "dir", dir, "verify-peer", 1),
			     NULL, QMP_MS, err);
	/* loaded: the files go (the key is this migration's only, but no
	 * copy of it stays on disk) */
	for (int i = 0; i < 4; i++) {
		unlink(paths[i]);
		free(paths[i]);
	}
	rmdir(dir);
	free(dir);
	free(vdir);
	if (r == 0)
		r = qmp_exec(q, "migrate-set-parameters",
			     json_pack("{ssss}", "tls-creds", TLS_ID, "tls-hostname", server ? "" : tls->name), NULL,
			     QMP_MS, err);
	return r;
}

static int64_t jint(json_t *o, const char *k)
{
	return (int64_t)json_integer_value(json_object_get(o, k));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- the destination ---- */

/* The NBD server on addr (a free port tried until one binds) exporting
 * each disk of nbd_disks. */
static int serve_disks(struct qmp *q, const char *addr, const int *pos, size_t n, bool tls, int *port,
		       struct xerr *err)
{
	int r = -1;
	for (int i = 0; i < PORT_TRIES && r < 0; i++) {
		char p[16];
		snprintf(p, sizeof p, "%d", pick_port());
		xerr_clear(err);
		json_t *a = json_pack("{s{ss s{ssss}}}", "addr", "type", "inet", "data", "host", addr, "port", p);
		if (tls)
			json_object_set_new(a, "tls-creds", json_string(TLS_ID));
		r = qmp_exec(q, "nbd-server-start", a, NULL, QMP_MS, err);
		if (r == 0)
			*port = atoi(p);
	}
	if (r < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char node[32], id[40];
		snprintf(node, sizeof node, "vbd%d", pos[i]);
		snprintf(id, sizeof id, "mig-%s", node);
		if (qmp_exec(q, "block-export-add",
			     json_pack("{ss ss ss sb ss}", "type", "nbd", "id", id, "node-name", node, "writable", 1,
				       "name", node),
			     NULL, QMP_MS, err) < 0)
			return -1;
	}
	return 0;
}

int qemu_migrate_receive(const struct xenops_host *host, const struct vm_spec *vm, const int *nbd_disks,
			 size_t n_nbd, struct xenops_mig_listen *l, struct xerr *err)
{
	if (qemu_start_incoming(host, vm, err) < 0)
		return -1;
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(vm->uuid, &q, err);
	if (!v) {
		qemu_migrate_abort(host, vm);
		return -1;
	}
	l->nbd_port = 0;
	int r = tls_setup(v, q, host->run_dir, vm->uuid, l->tls, true, err);
	if (r == 0 && n_nbd)
		r = serve_disks(q, l->addr, nbd_disks, n_nbd, l->tls != NULL, &l->nbd_port, err);
	if (r == 0) {
		r = -1;
		for (int i = 0; i < PORT_TRIES && r < 0; i++) {
			char uri[96];
			int port = pick_port();
			if (port == l->nbd_port)
				continue;
			snprintf(uri, sizeof uri, "tcp:%s:%d", l->addr, port);
			xerr_clear(err);
			r = qmp_exec(q, "migrate-incoming", json_pack("{ss}", "uri", uri), NULL, QMP_MS, err);
			if (r == 0)
				l->port = port;
		}
	}
	qemu_release(v);
	if (r < 0) {
		qemu_migrate_abort(host, vm);
		return -1;
	}
	log_info("qemu %s: waiting for its migration on %s:%d (disks on port %d), %s", vm->uuid, l->addr, l->port,
		 l->nbd_port, l->tls ? "TLS" : "plain");
	return 0;
}

/* query-migrate's status, "" when it has none; NULL when the monitor
 * failed (err set). *info (owned) gets the whole answer when asked for. */
static const char *mig_status(struct qmp *q, json_t **info, struct xerr *err)
{
	if (qmp_exec(q, "query-migrate", NULL, info, QMP_MS, err) < 0)
		return NULL;
	const char *st = json_string_value(json_object_get(*info, "status"));
	return st ? st : "";
}

/* The source's console history into this QEMU's log, before the guest
 * writes anything here (it has not run yet). */
static void write_history(const struct xenops_host *host, const char *uuid, const char *h, size_t n)
{
	char *dir = qemu_vm_dir(host->run_dir, uuid), *path = qemu_file(dir, "serial.log");
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	for (size_t done = 0; fd >= 0 && done < n;) {
		ssize_t w = write(fd, h + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		done += (size_t)w;
	}
	if (fd >= 0)
		close(fd);
	free(path);
	free(dir);
}

int qemu_console_read(const struct xenops_host *host, const char *uuid, size_t max, char **out, size_t *len)
{
	char *dir = qemu_vm_dir(host->run_dir, uuid), *path = qemu_file(dir, "serial.log");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	free(dir);
	if (fd < 0)
		return -1;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t from = end > (off_t)max ? end - (off_t)max : 0;
	size_t want = (size_t)(end - from);
	char *buf = xmalloc(want + 1);
	ssize_t r = end >= 0 ? pread(fd, buf, want, from) : -1;
	close(fd);
	if (r < 0) {
		free(buf);
		return -1;
	}
	buf[r] = '\0';
	*out = buf;
	*len = (size_t)r;
	return 0;
}

int qemu_migrate_finish(const struct xenops_host *host, const struct vm_spec *vm, bool paused, int timeout_s,
			const char *history, size_t history_len, struct xerr *err)
{
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(vm->uuid, &q, err);
	if (!v)
		return -1;
	int r = -1;
	for (int64_t until = clock_now_ms() + (int64_t)timeout_s * 1000;;) {
		json_t *info = NULL;
		const char *st = mig_status(q, &info, err);
		if (!st)
			break;
		if (!strcmp(st, "completed")) {
			json_decref(info);
			r = 0;
			break;
		}
		if (!strcmp(st, "failed") || !strcmp(st, "cancelled")) {
			xerr_internal(err, "VM %s: the incoming migration %s", vm->uuid, st);
			json_decref(info);
			break;
		}
		json_decref(info);
		if (clock_now_ms() > until) {
			xerr_internal(err, "VM %s: no migration stream within %d s", vm->uuid, timeout_s);
			break;
		}
		sleep_ms(POLL_MS);
	}
	if (r == 0) {
		/* the exports (if any) end with the server; nothing writes to the
		 * disks but the guest from now on */
		struct xerr e = XERR_INIT;
		qmp_exec(q, "nbd-server-stop", NULL, NULL, QMP_MS, &e);
		xerr_clear(&e);
		if (history_len)
			write_history(host, vm->uuid, history, history_len);
		if (!paused && qmp_exec(q, "cont", NULL, NULL, QMP_MS, err) < 0)
			r = -1;
	}
	if (r == 0) {
		qemu_set_incoming(v, false);
		qemu_mark_running(v, !paused);
		log_info("qemu %s: migrated in, %s", vm->uuid, paused ? "paused" : "running");
	}
	qemu_release(v);
	return r;
}

void qemu_migrate_abort(const struct xenops_host *host, const struct vm_spec *vm)
{
	struct qvm *v = qemu_claim(vm->uuid);
	struct xerr e = XERR_INIT;
	if (v && qemu_destroy(v, &e) < 0)
		log_warn("qemu %s: removing the incoming QEMU: %s", vm->uuid, e.nparams ? e.params[0] : e.code);
	xerr_clear(&e);
	/* no guest ran here: its files (the empty console log too) go */
	char *dir = qemu_vm_dir(host->run_dir, vm->uuid);
	qemu_remove_dir(dir);
	free(dir);
	qemu_nics_down(vm->uuid, vm->domid);
	qemu_cgroup_remove(vm->uuid);
}

/* ---- the source ---- */

/* The block jobs by id: whether job id is there (*ready: in step), or an
 * error of the monitor (-1). */
static int job_state(struct qmp *q, const char *id, bool *present, bool *ready, struct xerr *err)
{
	json_t *jobs = NULL;
	if (qmp_exec(q, "query-block-jobs", NULL, &jobs, QMP_MS, err) < 0)
		return -1;
	*present = *ready = false;
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j)
	{
		const char *dev = json_string_value(json_object_get(j, "device"));
		if (dev && !strcmp(dev, id)) {
			*present = true;
			*ready = json_is_true(json_object_get(j, "ready"));
		}
	}
	json_decref(jobs);
	return 0;
}

/* Ends the mirrors started (their jobs and target nodes). With in_step,
 * the jobs are in step and end as complete copies; waits for them. */
static int end_mirrors(struct qmp *q, const struct xenops_mig_target *t, size_t started, bool in_step,
		       struct xerr *err)
{
	int r = 0;
	for (size_t i = 0; i < started; i++) {
		char id[32], node[32];
		snprintf(id, sizeof id, "mig-vbd%d", t->mirror[i]);
		snprintf(node, sizeof node, "mig-tgt%d", t->mirror[i]);
		struct xerr e = XERR_INIT;
		bool present = false, ready;
		if (job_state(q, id, &present, &ready, &e) == 0 && present) {
			qmp_exec(q, "block-job-cancel", json_pack("{sssb}", "device", id, "force", !in_step), NULL,
				 QMP_MS, &e);
			xerr_clear(&e);
			for (int64_t until = clock_now_ms() + 60000; present && clock_now_ms() < until;) {
				if (job_state(q, id, &present, &ready, &e) < 0)
					break;
				if (present)
					sleep_ms(POLL_MS);
			}
		}
		if (present && r == 0)
			r = xerr_internal(err, "the mirror of disk %d does not end", t->mirror[i]);
		xerr_clear(&e);
		qmp_exec(q, "blockdev-del", json_pack("{ss}", "node-name", node), NULL, QMP_MS, &e);
		xerr_clear(&e);
	}
	return r;
}

/* Mirrors every disk of t into its export and waits until all are in
 * step. *started: how many jobs were started (to be ended). */
static int mirror_disks(struct qmp *q, const char *uuid, const struct xenops_mig_target *t, size_t *started,
			struct xerr *err)
{
	char port[16];
	snprintf(port, sizeof port, "%d", t->nbd_port);
	for (size_t i = 0; i < t->nmirror; i++) {
		char id[32], node[32], exp[32];
		snprintf(id, sizeof id, "mig-vbd%d", t->mirror[i]);
		snprintf(node, sizeof node, "mig-tgt%d", t->mirror[i]);
		snprintf(exp, sizeof exp, "vbd%d", t->mirror[i]);
		/* the disk as the guest sees it: its top node, whatever chain
		 * of snapshots lies below (the copy is flat) */
		char *src = qemu_top_node(q, uuid, t->mirror[i], err);
		if (!src)
			return -1;
		json_t *nbd = json_pack("{ss ss s{ssssss} ss}", "driver", "nbd", "node-name", node, "server", "type",
					"inet", "host", t->addr, "port", port, "export", exp);
		if (t->tls) {
			json_object_set_new(nbd, "tls-creds", json_string(TLS_ID));
			json_object_set_new(nbd, "tls-hostname", json_string(t->tls->name));
		}
		if (qmp_exec(q, "blockdev-add", nbd, NULL, QMP_MS, err) < 0) {
			free(src);
			return -1;
		}
		json_t *margs = json_pack("{ss ss ss ss ss}", "job-id", id, "device", src, "target", node, "sync",
					  "full", "copy-mode", "write-blocking");
		if (t->max_bandwidth > 0)
			json_object_set_new(margs, "speed", json_integer((json_int_t)t->max_bandwidth));
		int mr = qmp_exec(q, "blockdev-mirror", margs, NULL, QMP_MS, err);
		free(src);
		if (mr < 0) {
			struct xerr e = XERR_INIT;
			qmp_exec(q, "blockdev-del", json_pack("{ss}", "node-name", node), NULL, QMP_MS, &e);
			xerr_clear(&e);
			return -1;
		}
		*started = i + 1;
	}
	for (int64_t until = clock_now_ms() + MIRROR_TIMEOUT_S * 1000LL;;) {
		size_t ready_n = 0;
		for (size_t i = 0; i < t->nmirror; i++) {
			char id[32];
			snprintf(id, sizeof id, "mig-vbd%d", t->mirror[i]);
			bool present, ready;
			if (job_state(q, id, &present, &ready, err) < 0)
				return -1;
			if (!present)
				return xerr_internal(err, "the mirror of disk %d failed", t->mirror[i]);
			ready_n += ready;
		}
		if (ready_n == t->nmirror)
			return 0;
		if (cancelled(t))
			return -2;
		if (clock_now_ms() > until)
			return xerr_internal(err, "the disks were not mirrored within %d s", MIRROR_TIMEOUT_S);
		sleep_ms(POLL_MS * 5);
	}
}


/* Sends the memory; 0 when completed (the guest stopped here), -2 when
 * cancelled, -1 on failure — the migration cancelled either way. */
static int send_memory(struct qmp *q, const char *uri, const struct xenops_mig_target *t,
		       struct xenops_mig_stats *st, struct xerr *err)
{
	struct xerr e = XERR_INIT;
	/* QEMU's default cap (32 MiB/s) is for sharing a slow link: a
	 * migration here takes the link it is given, or the host's
	 * migration-bandwidth */
	json_int_t bw = t->max_bandwidth > 0 ? (json_int_t)t->max_bandwidth : (json_int_t)(8LL << 30);
	qmp_exec(q, "migrate-set-parameters", json_pack("{sI}", "max-bandwidth", bw), NULL, QMP_MS, &e);
	xerr_clear(&e);
	if (qmp_exec(q, "migrate", json_pack("{ss}", "uri", uri), NULL, QMP_MS, err) < 0)
		return -1;
	int r = -1;
	for (int64_t until = clock_now_ms() + MEMORY_TIMEOUT_S * 1000LL;;) {
		json_t *info = NULL;
		const char *s = mig_status(q, &info, err);
		if (!s)
			break;
		if (!strcmp(s, "completed")) {
			st->total_ms = jint(info, "total-time");
			st->downtime_ms = jint(info, "downtime");
			st->bytes = jint(json_object_get(info, "ram"), "transferred");
			json_decref(info);
			return 0;
		}
		if (!strcmp(s, "failed") || !strcmp(s, "cancelled")) {
			const char *why = json_string_value(json_object_get(info, "error-desc"));
			xerr_internal(err, "migration %s%s%s", s, why ? ": " : "", why ? why : "");
			json_decref(info);
			return -1;
		}
		/* transferred counts pages sent again: what is left is the measure */
		json_t *ram = json_object_get(info, "ram");
		int64_t total = ram ? jint(ram, "total") : 0, left = ram ? jint(ram, "remaining") : 0;
		if (t->progress && total > 0 && left >= 0 && left <= total)
			t->progress(t->progress_arg, (double)(total - left) / (double)total);
		json_decref(info);
		if (cancelled(t)) {
			r = -2;
			break;
		}
		if (clock_now_ms() > until) {
			xerr_internal(err, "the migration did not end within %d s", MEMORY_TIMEOUT_S);
			break;
		}
		sleep_ms(POLL_MS);
	}
	/* cancel and wait until QEMU says so: the guest runs on here */
	qmp_exec(q, "migrate_cancel", NULL, NULL, QMP_MS, &e);
	xerr_clear(&e);
	for (int64_t until = clock_now_ms() + 30000; clock_now_ms() < until;) {
		json_t *info = NULL;
		const char *s = mig_status(q, &info, &e);
		bool over = !s || (strcmp(s, "active") != 0 && strcmp(s, "setup") != 0 &&
				   strcmp(s, "cancelling") != 0 && strcmp(s, "device") != 0 &&
				   strcmp(s, "pre-switchover") != 0);
		bool done = s && !strcmp(s, "completed");
		json_decref(info);
		xerr_clear(&e);
		if (done) {
			/* it finished before the cancel reached it */
			return 0;
		}
		if (over)
			break;
		sleep_ms(POLL_MS);
	}
	return r;
}

int qemu_migrate_send(const struct xenops_host *host, const struct vm_spec *vm, const struct xenops_mig_target *t,
		      struct xenops_mig_stats *st, struct xerr *err)
{
	memset(st, 0, sizeof *st);
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(vm->uuid, &q, err);
	if (!v)
		return -1;
	if (qemu_vm_dead(v)) {
		qemu_release(v);
		return xerr_internal(err, "VM %s: its QEMU is gone", vm->uuid);
	}
	bool was_running = qemu_vm_running(v);
	size_t started = 0;
	int64_t t0 = clock_now_ms();
	int r = tls_setup(v, q, host->run_dir, vm->uuid, t->tls, false, err);
	if (r == 0 && t->nbd_port && t->nmirror)
		r = mirror_disks(q, vm->uuid, t, &started, err);
	st->mirror_ms = clock_now_ms() - t0;
	if (r == 0 && cancelled(t))
		r = -2;
	if (r == 0) {
		st->phase = 1;
		char uri[96];
		snprintf(uri, sizeof uri, "tcp:%s:%d", t->addr, t->port);
		r = send_memory(q, uri, t, st, err);
	}
	if (r == 0) {
		st->phase = 2;
		/* stopped here; the mirrors end as full copies */
		qemu_mark_running(v, false);
		if (end_mirrors(q, t, started, true, err) < 0) {
			struct xerr e = XERR_INIT;
			if (was_running && qmp_exec(q, "cont", NULL, NULL, QMP_MS, &e) == 0)
				qemu_mark_running(v, true);
			xerr_clear(&e);
			r = -1;
		}
	} else {
		struct xerr e = XERR_INIT;
		end_mirrors(q, t, started, false, &e);
		xerr_clear(&e);
		if (r == -2 && !err->code)
			xerr_internal(err, "VM %s: the migration was cancelled", vm->uuid);
	}
	qemu_release(v);
	if (r == 0)
		log_info("qemu %s: migrated to %s:%d (%s) in %lld ms (disks %lld ms), downtime %lld ms", vm->uuid,
			 t->addr, t->port, t->tls ? "TLS" : "plain", (long long)(clock_now_ms() - t0),
			 (long long)st->mirror_ms, (long long)st->downtime_ms);
	return r;
}

/* ---- a new QEMU of a VM on this host (VM.restart_device_models) ---- */

/* "id@bus:slot.function" of each PCI device with an id, sorted, in one
 * string (owned); NULL when the monitor fails. */
static char *pci_layout(struct qmp *q, struct xerr *err)
{
	json_t *buses = NULL;
	if (qmp_exec(q, "query-pci", NULL, &buses, QMP_MS, err) < 0)
		return NULL;
	char **items = NULL;
	size_t n = 0, i, j;
	json_t *bus, *dev;
	json_array_foreach(buses, i, bus)
	{
		json_array_foreach(json_object_get(bus, "devices"), j, dev)
		{
			const char *id = json_string_value(json_object_get(dev, "qdev_id"));
			if (!id || !*id)
				continue;
			items = xrealloc(items, (n + 1) * sizeof *items);
			items[n++] = xasprintf("%s@%lld:%lld.%lld", id, (long long)jint(dev, "bus"),
					       (long long)jint(dev, "slot"), (long long)jint(dev, "function"));
		}
	}
	json_decref(buses);
	qsort(items, n, sizeof *items, cmp_str);
	size_t len = 1;
	for (i = 0; i < n; i++)
		len += strlen(items[i]) + 1;
	char *out = xmalloc(len);
	out[0] = '\0';
	for (i = 0; i < n; i++) {
		strcat(out, items[i]);
		strcat(out, " ");
		free(items[i]);
	}
	free(items);
	return out;
}

json_t *qemu_pci_slots(struct qmp *q, struct xerr *err)
{
	json_t *buses = NULL;
	if (qmp_exec(q, "query-pci", NULL, &buses, QMP_MS, err) < 0)
		return NULL;
	json_t *out = json_object();
	size_t i, j;
	json_t *bus, *dev;
	json_array_foreach(buses, i, bus)
	{
		if (jint(bus, "bus") != 0)
			continue;
		json_array_foreach(json_object_get(bus, "devices"), j, dev)
		{
			const char *id = json_string_value(json_object_get(dev, "qdev_id"));
			if (!id || !*id)
				continue;
			char addr[32];
			snprintf(addr, sizeof addr, "%llx.%llx", (unsigned long long)jint(dev, "slot"),
				 (unsigned long long)jint(dev, "function"));
			json_object_set_new(out, id, json_string(addr));
		}
	}
	json_decref(buses);
	return out;
}

int qemu_migrate_local(struct qmp *from, struct qmp *to, struct xenops_mig_stats *st, struct xerr *err)
{
	/* the guest's devices where it has them: a device plugged or
	 * unplugged since its QEMU started leaves the slots of a new one's
	 * command line different, and the state would not fit */
	char *had = pci_layout(from, err), *has = had ? pci_layout(to, err) : NULL;
	int same = had && has ? strcmp(had, has) == 0 : -1;
	if (same == 0) {
		log_warn("qemu: PCI devices of the running QEMU: %s; of a new one: %s", had, has);
		xerr_internal(err, "the guest's devices were plugged or unplugged since its QEMU started: a new "
			      "QEMU would have them in other slots");
	}
	free(had);
	free(has);
	if (same != 1)
		return -1;
	memset(st, 0, sizeof *st);
	/* the stream on a socket pair: each QEMU gets one end on its monitor,
	 * so neither opens a path of the other's (they run as different
	 * users) and nothing listens */
	/* plain: a QEMU that came in over TLS keeps the server's credentials
	 * in its migration parameters */
	if (qmp_exec(from, "migrate-set-parameters", json_pack("{ssss}", "tls-creds", "", "tls-hostname", ""), NULL,
		     QMP_MS, err) < 0)
		return -1;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return xerr_internal(err, "socketpair: %s", strerror(errno));
	int r = qmp_exec_fd(to, "getfd", json_pack("{ss}", "fdname", "xenon-dm-in"), sv[1], NULL, QMP_MS, err);
	if (r == 0)
		r = qmp_exec_fd(from, "getfd", json_pack("{ss}", "fdname", "xenon-dm-out"), sv[0], NULL, QMP_MS, err);
	close(sv[0]);
	close(sv[1]);
	if (r == 0)
		r = qmp_exec(to, "migrate-incoming", json_pack("{ss}", "uri", "fd:xenon-dm-in"), NULL, QMP_MS, err);
	if (r < 0)
		return -1;
	struct xenops_mig_target t;
	memset(&t, 0, sizeof t);
	st->phase = 1;
	int64_t t0 = clock_now_ms();
	r = send_memory(from, "fd:xenon-dm-out", &t, st, err);
	/* the new QEMU has read the whole stream once it says completed */
	for (int64_t until = clock_now_ms() + 30000; r == 0;) {
		json_t *info = NULL;
		const char *s = mig_status(to, &info, err);
		bool done = s && !strcmp(s, "completed"), bad = !s || !strcmp(s, "failed") || !strcmp(s, "cancelled");
		json_decref(info);
		if (done)
			break;
		if (bad || clock_now_ms() > until)
			r = s ? xerr_internal(err, "the new QEMU did not take the stream (%s)", s) : -1;
		else
			sleep_ms(POLL_MS / 4);
	}
	if (r == 0) {
		st->phase = 2;
		log_info("qemu: state moved to a new QEMU in %lld ms (QEMU's total %lld ms, downtime %lld ms, %lld "
			 "bytes)",
			 (long long)(clock_now_ms() - t0), (long long)st->total_ms, (long long)st->downtime_ms,
			 (long long)st->bytes);
	}
	return r;
}

/* ---- a disk of a running VM onto another image (VDI.pool_migrate) ---- */

int qemu_disk_move(const struct xenops_host *host, const char *uuid, const struct vm_disk *to, struct xerr *err)
{
	(void)host;
	if (!to->path || to->is_cdrom)
		return xerr_internal(err, "VM %s: only a disk with an image moves", uuid);
	struct qmp *q;
	struct qvm *v = qemu_claim_qmp(uuid, &q, err);
	if (!v)
		return -1;
	static unsigned gen;
	unsigned g = __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED);
	char node[40], file[48], job[32];
	snprintf(node, sizeof node, "vbd%d-m%u", to->position, g);
	snprintf(file, sizeof file, "%s-file", node);
	snprintf(job, sizeof job, "move-vbd%d", to->position);
	char *src = qemu_top_node(q, uuid, to->position, err);
	json_t *fnode = src ? qemu_disk_file_node(to->path) : NULL;
	int r = -1;
	bool added = false, started = false;
	if (src && !fnode)
		xerr_internal(err, "VM %s: cannot open disk '%s'", uuid, to->path);
	/* the VM's QEMU runs under its own uid: it may open the new image */
	if (fnode && qemu_vm_grant(v, to->path, true, err) < 0) {
		json_decref(fnode);
		fnode = NULL;
	}
	if (fnode) {
		json_object_set_new(fnode, "node-name", json_string(file));
		r = qmp_exec(q, "blockdev-add", fnode, NULL, QMP_MS, err);
	}
	if (r == 0) {
		r = qmp_exec(q, "blockdev-add",
			     json_pack("{ss ss ss}", "driver", to->format, "node-name", node, "file", file), NULL,
			     QMP_MS, err);
		if (r < 0) {
			struct xerr e = XERR_INIT;
			qmp_exec(q, "blockdev-del", json_pack("{ss}", "node-name", file), NULL, QMP_MS, &e);
			xerr_clear(&e);
		}
		added = r == 0;
	}
	if (r == 0) {
		r = qmp_exec(q, "blockdev-mirror",
			     json_pack("{ss ss ss ss ss}", "job-id", job, "device", src, "target", node, "sync", "full",
				       "copy-mode", "write-blocking"),
			     NULL, QMP_MS, err);
		started = r == 0;
	}
	/* in step, then the guest's disk becomes the copy (pivot) */
	for (int64_t until = clock_now_ms() + MIRROR_TIMEOUT_S * 1000LL; r == 0;) {
		bool present, ready;
		if (job_state(q, job, &present, &ready, err) < 0) {
			r = -1;
		} else if (!present) {
			r = xerr_internal(err, "VM %s: the copy of disk %d failed", uuid, to->position);
			started = false;
		} else if (ready) {
			break;
		} else if (clock_now_ms() > until) {
			r = xerr_internal(err, "VM %s: disk %d not copied within %d s", uuid, to->position,
					  MIRROR_TIMEOUT_S);
		} else {
			sleep_ms(POLL_MS * 5);
		}
	}
	if (r == 0)
		r = qmp_exec(q, "block-job-complete", json_pack("{ss}", "device", job), NULL, QMP_MS, err);
	bool present = r == 0, ready;
	for (int64_t until = clock_now_ms() + 60000; r == 0 && present && clock_now_ms() < until;) {
		struct xerr e = XERR_INIT;
		if (job_state(q, job, &present, &ready, &e) < 0)
			present = false;
		xerr_clear(&e);
		if (present)
			sleep_ms(POLL_MS);
	}
	char *now = r == 0 ? qemu_top_node(q, uuid, to->position, err) : NULL;
	if (r == 0 && (!now || strcmp(now, node) != 0))
		r = now ? xerr_internal(err, "VM %s: disk %d did not switch to its copy", uuid, to->position) : -1;
	free(now);
	if (r == 0) {
		/* the old image's nodes are used by nothing now: closed */
		qemu_del_nodes(q, to->position, false);
		log_info("qemu %s: disk %d moved to %s", uuid, to->position, to->path);
	} else {
		struct xerr e = XERR_INIT;
		if (started) {
			qmp_exec(q, "block-job-cancel", json_pack("{sssb}", "device", job, "force", 1), NULL, QMP_MS,
				 &e);
			xerr_clear(&e);
			for (int64_t until = clock_now_ms() + 30000; clock_now_ms() < until;) {
				bool p2 = false, rd;
				if (job_state(q, job, &p2, &rd, &e) < 0 || !p2)
					break;
				sleep_ms(POLL_MS);
			}
			xerr_clear(&e);
		}
		if (added) {
			qmp_exec(q, "blockdev-del", json_pack("{ss}", "node-name", node), NULL, QMP_MS, &e);
			xerr_clear(&e);
			qmp_exec(q, "blockdev-del", json_pack("{ss}", "node-name", file), NULL, QMP_MS, &e);
			xerr_clear(&e);
		}
	}
	free(src);
	qemu_release(v);
	return r;
}
