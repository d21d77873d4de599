/* qemu: the QEMU backend. Each running VM is an unprivileged QEMU (its files
 * in <run-dir>/vm/<uuid>/) held through one QMP connection whose reader
 * thread tracks what the guest does; one dispatcher thread hands guest-
 * initiated shutdowns, reboots, crashes and QEMU deaths to the VM logic
 * (the report it registered, struct xenops_host), which applies the VM's actions_after_*. At start the
 * backend re-adopts every QEMU that outlived an earlier xenond. */
#include "backends.h"
#include "qemu_int.h"
#include "qmp.h"
#include "../base/clock.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../base/uuid.h"
#include "../sm/sm.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define QMP_TIMEOUT_MS 10000
#define CLEAN_TIMEOUT_S 60 /* a guest that ignores ACPI or its agent this long failed */
#define QUIT_GRACE_MS 5000 /* after QMP quit, before SIGKILL */

/* What the guest is doing, as QEMU's events tell. The last four are
 * "stopped, waiting for the toolstack" (or gone). */
enum qstate { Q_RUNNING, Q_PAUSED, Q_SHUTDOWN, Q_REBOOTED, Q_CRASHED, Q_DEAD };
#define QS(s) (1u << (s))
#define Q_ENDED (QS(Q_SHUTDOWN) | QS(Q_REBOOTED) | QS(Q_CRASHED) | QS(Q_DEAD))

struct qvm {
	char uuid[40];
	char *dir;
	pid_t pid;
	int64_t domid;
	struct qmp *qmp; /* NULL for an adopted QEMU whose monitor did not answer */
	enum qstate state;
	bool busy;        /* an operation owns it; the dispatcher waits */
	bool incoming;    /* waiting for a migration stream: its end is no guest's */
	bool handled;     /* the current state was given to the VM logic */
	int64_t retry_at; /* ms: when the dispatcher may try again */
	int64_t balloon_actual; /* BALLOON_CHANGE: for VM_metrics.memory_actual */
	bool balloon_dirty;     /* not yet reported */
	/* the metrics' vCPU thread ids (query-cpus-fast), for pid */
	int nvcpu_tids;
	pid_t vcpu_tid[RR_MAX_VCPUS];
	struct qvm *next;
};

static struct {
	const struct xenops_host *xh; /* whom to report to (q_init) */
	struct qemu_host host;
	pthread_mutex_t lock; /* vms and every qvm's state, busy, handled */
	pthread_cond_t cond;  /* any change of those */
	struct qvm *vms;
	bool stopping, dispatching;
	pthread_t dispatcher;
} Q = {.lock = PTHREAD_MUTEX_INITIALIZER};

static void deadline_ts(int64_t at_ms, struct timespec *ts)
{
	ts->tv_sec = at_ms / 1000;
	ts->tv_nsec = (long)(at_ms % 1000) * 1000000L;
}

/* ---- the registry ---- */

static struct qvm *find_locked(const char *uuid)
{
	for (struct qvm *v = Q.vms; v; v = v->next)
		if (!strcmp(v->uuid, uuid))
			return v;
	return NULL;
}

static void set_state_locked(struct qvm *v, enum qstate s)
{
	if (v->state == s)
		return;
	v->state = s;
	v->handled = false;
	v->retry_at = 0;
	pthread_cond_broadcast(&Q.cond);
}

static void set_state(struct qvm *v, enum qstate s)
{
	pthread_mutex_lock(&Q.lock);
	set_state_locked(v, s);
	pthread_mutex_unlock(&Q.lock);
}

/* The VM's qvm, owned by the caller until release(); waits while another
 * operation owns it. NULL when the VM has no QEMU here. */
static struct qvm *claim(const char *uuid)
{
	pthread_mutex_lock(&Q.lock);
	struct qvm *v;
	while ((v = find_locked(uuid)) && v->busy)
		pthread_cond_wait(&Q.cond, &Q.lock);
	if (v)
		v->busy = true;
	pthread_mutex_unlock(&Q.lock);
	return v;
}

static void release(struct qvm *v)
{
	pthread_mutex_lock(&Q.lock);
	v->busy = false;
	pthread_cond_broadcast(&Q.cond);
	pthread_mutex_unlock(&Q.lock);
}

struct qvm *qemu_claim(const char *uuid)
{
	return claim(uuid);
}

void qemu_release(struct qvm *v)
{
	release(v);
}

struct qvm *qemu_try_claim(const char *uuid, int wait_ms)
{
	int64_t until = clock_now_ms() + wait_ms;
	struct timespec ts;
	deadline_ts(until, &ts);
	pthread_mutex_lock(&Q.lock);
	struct qvm *v;
	while ((v = find_locked(uuid)) && v->busy && clock_now_ms() < until)
		pthread_cond_timedwait(&Q.cond, &Q.lock, &ts);
	if (v && v->busy)
		v = NULL;
	if (v)
		v->busy = true;
	pthread_mutex_unlock(&Q.lock);
	return v;
}

int qemu_vcpu_tids(const char *uuid, pid_t *pid, pid_t *tids, int max)
{
	pthread_mutex_lock(&Q.lock);
	struct qvm *v = find_locked(uuid);
	int n = -1;
	if (v) {
		*pid = v->pid;
		n = v->nvcpu_tids < max ? v->nvcpu_tids : max;
		memcpy(tids, v->vcpu_tid, (size_t)n * sizeof *tids);
	}
	pthread_mutex_unlock(&Q.lock);
	return n;
}

void qemu_set_vcpu_tids(struct qvm *v, const pid_t *tids, int n)
{
	pthread_mutex_lock(&Q.lock);
	v->nvcpu_tids = n < RR_MAX_VCPUS ? n : RR_MAX_VCPUS;
	memcpy(v->vcpu_tid, tids, (size_t)v->nvcpu_tids * sizeof *tids);
	pthread_mutex_unlock(&Q.lock);
}

struct qmp *qemu_vm_qmp(struct qvm *v)
{
	return v->qmp;
}

struct qvm *qemu_claim_qmp(const char *uuid, struct qmp **q, struct xerr *err)
{
	struct qvm *v = claim(uuid);
	if (!v) {
		xerr_internal(err, "VM %s has no QEMU", uuid);
		return NULL;
	}
	if (!(*q = v->qmp)) {
		release(v);
		xerr_internal(err, "VM %s: no monitor connection to its QEMU", uuid);
		return NULL;
	}
	return v;
}

int qemu_vm_grant(struct qvm *v, const char *path, bool write, struct xerr *err)
{
	return qemu_grant_disk(v->dir, qemu_vm_uid(v->domid), path, write, err);
}

pid_t qemu_vm_pid(struct qvm *v)
{
	return v->pid;
}

bool qemu_vm_running(struct qvm *v)
{
	pthread_mutex_lock(&Q.lock);
	bool r = v->state == Q_RUNNING;
	pthread_mutex_unlock(&Q.lock);
	return r;
}

/* Waits until v's state is in mask; false on timeout. */
static bool wait_state(struct qvm *v, unsigned mask, int timeout_ms)
{
	int64_t until = clock_now_ms() + timeout_ms;
	struct timespec ts;
	deadline_ts(until, &ts);
	pthread_mutex_lock(&Q.lock);
	while (!(QS(v->state) & mask) && clock_now_ms() < until)
		pthread_cond_timedwait(&Q.cond, &Q.lock, &ts);
	bool ok = QS(v->state) & mask;
	pthread_mutex_unlock(&Q.lock);
	return ok;
}

static void free_qvm(struct qvm *v)
{
	qmp_close(v->qmp); /* joins its reader: no callback refers to v after this */
	free(v->dir);
	free(v);
}

/* Forgets a claimed qvm. */
static void drop(struct qvm *v)
{
	pthread_mutex_lock(&Q.lock);
	for (struct qvm **pp = &Q.vms; *pp; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	}
	pthread_cond_broadcast(&Q.cond);
	pthread_mutex_unlock(&Q.lock);
	free_qvm(v);
}

/* ---- QMP events (on each connection's reader thread) ---- */

static void on_event(void *arg, const char *name, json_t *data)
{
	struct qvm *v = arg;
	log_debug("qemu %s: event %s", v->uuid, name);
	if (!strcmp(name, "SHUTDOWN")) {
		/* host-initiated ones (our quit, a signal) end in the monitor
		 * closing, which says enough */
		if (!json_is_true(json_object_get(data, "guest")))
			return;
		const char *reason = json_string_value(json_object_get(data, "reason"));
		reason = reason ? reason : "";
		set_state(v, !strcmp(reason, "guest-reset")   ? Q_REBOOTED
			     : !strcmp(reason, "guest-panic") ? Q_CRASHED
							      : Q_SHUTDOWN);
	} else if (!strcmp(name, "GUEST_PANICKED")) {
		set_state(v, Q_CRASHED);
	} else if (!strcmp(name, "BALLOON_CHANGE")) {
		/* the dispatcher reports it: the store is not for this thread */
		pthread_mutex_lock(&Q.lock);
		v->balloon_actual = (int64_t)json_integer_value(json_object_get(data, "actual"));
		v->balloon_dirty = true;
		pthread_cond_broadcast(&Q.cond);
		pthread_mutex_unlock(&Q.lock);
	}
}

static void on_closed(void *arg)
{
	struct qvm *v = arg;
	log_debug("qemu %s: monitor closed", v->uuid);
	set_state(v, Q_DEAD);
}

static int connect_qmp(struct qvm *v, int timeout_ms, struct xerr *err)
{
	char *path = qemu_file(v->dir, "qmp.sock");
	struct qmp_handlers h = {.event = on_event, .closed = on_closed, .arg = v};
	v->qmp = qmp_open(path, timeout_ms, &h, err);
	free(path);
	return v->qmp ? 0 : -1;
}

static int qmp_simple(struct qvm *v, const char *cmd, json_t *args, struct xerr *err)
{
	if (!v->qmp) {
		json_decref(args);
		return xerr_internal(err, "VM %s: no monitor connection to its QEMU (pid %d)", v->uuid,
				     (int)v->pid);
	}
	return qmp_exec(v->qmp, cmd, args, NULL, QMP_TIMEOUT_MS, err);
}

/* ---- the dispatcher ---- */

static enum xenops_event event_of(enum qstate s)
{
	switch (s) {
	case Q_REBOOTED: return XENOPS_EV_REBOOT;
	case Q_CRASHED: return XENOPS_EV_CRASH;
	case Q_DEAD: return XENOPS_EV_DIED;
	default: return XENOPS_EV_SHUTDOWN;
	}
}

static void *dispatcher_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&Q.lock);
	while (!Q.stopping) {
		int64_t now = clock_now_ms(), wake = now + 1000;
		struct qvm *pick = NULL;
		struct qvm *ballooned = NULL;
		for (struct qvm *v = Q.vms; v && !ballooned; v = v->next)
			if (v->balloon_dirty)
				ballooned = v;
		if (ballooned) {
			char buuid[40];
			memcpy(buuid, ballooned->uuid, sizeof buuid);
			int64_t actual = ballooned->balloon_actual;
			ballooned->balloon_dirty = false;
			pthread_mutex_unlock(&Q.lock);
			Q.xh->ops->report_memory(Q.xh->arg, buuid, actual);
			pthread_mutex_lock(&Q.lock);
			continue;
		}
		for (struct qvm *v = Q.vms; v && !pick; v = v->next) {
			/* an adopted QEMU without a monitor tells nothing: its
			 * process is all there is to watch */
			if (!v->qmp && !v->busy && v->state != Q_DEAD && !qemu_pid_is_vm(v->pid, v->uuid))
				set_state_locked(v, Q_DEAD);
			if (v->busy || v->handled || v->incoming || !(QS(v->state) & Q_ENDED))
				continue;
			if (v->retry_at <= now)
				pick = v;
			else if (v->retry_at < wake)
				wake = v->retry_at;
		}
		if (!pick) {
			struct timespec ts;
			deadline_ts(wake, &ts);
			pthread_cond_timedwait(&Q.cond, &Q.lock, &ts);
			continue;
		}
		char uuid[40];
		memcpy(uuid, pick->uuid, sizeof uuid);
		enum qstate st = pick->state;
		pick->handled = true;
		pthread_mutex_unlock(&Q.lock);
		int r = Q.xh->ops->report(Q.xh->arg, uuid, event_of(st));
		pthread_mutex_lock(&Q.lock);
		struct qvm *v = find_locked(uuid);
		if (r == 1 && v && v->state == st) {
			/* an operation holds the VM: look again once it may be done */
			v->handled = false;
			v->retry_at = clock_now_ms() + 250;
		}
	}
	pthread_mutex_unlock(&Q.lock);
	return NULL;
}

/* ---- starting and stopping QEMU ---- */

static int copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (n < 0)
		rc = -1;
	close(in);
	if (close(out) < 0)
		rc = -1;
	return rc;
}

/* Ends v's QEMU — QMP quit (QEMU flushes its disks), SIGKILL after a grace
 * period — and removes its files, taps and (with cgroup) its cgroup; v is
 * still registered (if it was) and claimed on return, failing or not. */
static int end_qemu(struct qvm *v, bool cgroup, struct xerr *err)
{
	if (v->state != Q_DEAD && v->qmp) {
		struct xerr e = XERR_INIT;
		if (qmp_exec(v->qmp, "quit", NULL, NULL, QMP_TIMEOUT_MS, &e) < 0)
			log_warn("qemu %s: quit: %s", v->uuid, e.nparams ? e.params[0] : e.code);
		xerr_clear(&e);
		wait_state(v, QS(Q_DEAD), QUIT_GRACE_MS);
	}
	if (!qemu_wait_gone(v->pid, v->uuid, v->qmp ? 2000 : 0)) {
		log_warn("qemu %s: pid %d still there after quit: SIGKILL", v->uuid, (int)v->pid);
		kill(v->pid, SIGKILL);
		if (!qemu_wait_gone(v->pid, v->uuid, 10000))
			return xerr_internal(err, "QEMU pid %d of VM %s does not die", (int)v->pid, v->uuid);
	}
	qemu_clean_dir(v->dir);
	if (cgroup)
		qemu_cgroup_remove(v->uuid);
	qemu_nics_down(v->uuid, v->domid);
	return 0;
}

/* end_qemu, then v is forgotten. */
static int destroy_domain(struct qvm *v, struct xerr *err)
{
	if (end_qemu(v, true, err) < 0) {
		release(v);
		return -1;
	}
	drop(v);
	return 0;
}

/* What a start that failed leaves: nothing of its own. */
static void undo_start_files(const char *dir, bool rotated)
{
	qemu_clean_dir(dir);
	static const char *const mine[] = {"qemu.log", "serial.log", NULL};
	for (const char *const *n = mine; *n; n++) {
		char *p = qemu_file(dir, *n);
		unlink(p);
		free(p);
	}
	if (rotated) {
		char *a = qemu_file(dir, "serial.log.1"), *b = qemu_file(dir, "serial.log");
		rename(a, b);
		free(a);
		free(b);
	}
	rmdir(dir); /* only when nothing older is kept there */
}

/* Lets the VM's QEMU uid open its disks (qemu_priv.c). */
static int grant_disks(const char *dir, const struct vm_spec *vm, struct xerr *err)
{
	uid_t uid = qemu_vm_uid(vm->domid);
	for (size_t i = 0; i < vm->ndisks; i++) {
		const struct vm_disk *d = &vm->disks[i];
		if (qemu_grant_disk(dir, uid, d->path, !d->read_only && !d->is_cdrom, err) < 0)
			return -1;
	}
	return 0;
}

enum start_mode { START_BOOT, START_RESUME, START_MIGRATE };

/* Each -device of argv whose id slots names goes in that PCI slot (the
 * one a running QEMU has it in). */
static void pin_slots(struct qemu_argv *a, const json_t *slots)
{
	for (size_t i = 1; i < a->n; i++) {
		if (strcmp(a->v[i - 1], "-device") != 0)
			continue;
		const char *id = strstr(a->v[i], ",id=");
		if (!id)
			continue;
		id += 4;
		size_t len = strcspn(id, ",");
		char *name = xstrndup(id, len);
		const char *addr = json_string_value(json_object_get(slots, name));
		free(name);
		if (!addr)
			continue;
		char *pinned = xasprintf("%s,addr=%s", a->v[i], addr);
		free(a->v[i]);
		a->v[i] = pinned;
	}
}

/* A new QEMU for vm in dir; with START_RESUME, its state comes from the
 * suspend image; with START_MIGRATE, it is left waiting (-incoming defer).
 * With out, it is not registered under the VM's uuid (the VM has another
 * QEMU there): *out gets it, owned by the caller. */
static int spawn(const char *dir_in, const struct vm_spec *vm, bool paused, enum start_mode mode,
		 const json_t *slots, struct qvm **out, struct xerr *err)
{
	bool resume = mode == START_RESUME;
	char *dir = xstrdup(dir_in);
	struct qemu_argv argv;
	bool rotated = false;
	struct qvm *v = NULL;
	pid_t pid = -1;
	if (qemu_argv_build(&Q.host, vm, dir, mode != START_BOOT, &argv, err) < 0) {
		free(dir);
		return -1;
	}
	if (slots)
		pin_slots(&argv, slots);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		xerr_set(err, ERR_FAILED_TO_START_EMULATOR, vm->ref, "qemu", strerror(errno), NULL);
		goto fail;
	}
	qemu_clean_dir(dir);
	char *log = qemu_file(dir, "serial.log"), *old = qemu_file(dir, "serial.log.1");
	rotated = rename(log, old) == 0; /* the previous boot's console stays one run */
	free(log);
	free(old);
	if (vm->boot == VM_BOOT_FIRMWARE && !strcmp(vm->firmware, "uefi") && Q.host.ovmf_vars) {
		/* TODO(nvram): keep the variables in VM.NVRAM across boots */
		char *vars = qemu_file(dir, "OVMF_VARS.fd");
		int r = copy_file(Q.host.ovmf_vars, vars);
		free(vars);
		if (r < 0) {
			xerr_internal(err, "cannot copy %s: %s", Q.host.ovmf_vars, strerror(errno));
			goto fail;
		}
	}
	if (grant_disks(dir, vm, err) < 0 || qemu_nics_up(vm, err) < 0)
		goto fail;
	int *taps = xcalloc(vm->nnics + 1, sizeof *taps);
	size_t ntaps = 0;
	int lrc = 0;
	for (; ntaps < vm->nnics && lrc == 0; ntaps++)
		if ((taps[ntaps] = qemu_tap_open(vm, &vm->nics[ntaps], err)) < 0)
			lrc = -1;
	if (lrc == 0)
		lrc = qemu_launch(&argv, dir, vm->ref, taps, vm->nnics, &pid, err);
	for (size_t i = 0; i < ntaps; i++)
		if (taps[i] >= 0)
			close(taps[i]);
	free(taps);
	if (lrc < 0)
		goto fail;
	/* a cgroup of its own from the start (VCPUs_params may set it later) */
	qemu_cgroup_enter(vm->uuid, pid);
	qemu_write_domid(dir, vm->domid);
	v = xcalloc(1, sizeof *v);
	snprintf(v->uuid, sizeof v->uuid, "%s", vm->uuid);
	v->dir = xstrdup(dir);
	v->pid = pid;
	v->domid = vm->domid;
	v->state = Q_PAUSED; /* -S: nothing runs before we say so */
	v->busy = true;
	v->incoming = mode == START_MIGRATE;
	if (connect_qmp(v, QMP_TIMEOUT_MS, err) < 0) {
		/* a QEMU that exited while setting up its devices says why */
		char *tail = qemu_pid_is_vm(pid, vm->uuid) ? NULL : qemu_log_tail(dir);
		char *m = tail && *tail ? xstrdup(tail)
					: xasprintf("QEMU started but its monitor did not answer: %s",
						    err->nparams ? err->params[0] : "");
		free(tail);
		xerr_set(err, ERR_FAILED_TO_START_EMULATOR, vm->ref, "qemu", m, NULL);
		free(m);
		goto fail;
	}
	if (out) {
		*out = v;
		log_info("qemu %s: a second QEMU waits for the guest's state, pid %d, domid %lld", vm->uuid,
			 (int)pid, (long long)vm->domid);
		qemu_argv_free(&argv);
		free(dir);
		return 0;
	}
	pthread_mutex_lock(&Q.lock);
	v->next = Q.vms;
	Q.vms = v;
	pthread_mutex_unlock(&Q.lock);
	if (resume) {
		int r = vm->suspend_image ? qemu_load_state(v->qmp, vm->suspend_image, vm->suspend_format, err)
					  : xerr_internal(err, "VM %s: no suspend image to resume from", vm->uuid);
		if (r < 0) {
			struct xerr e2 = XERR_INIT;
			destroy_domain(v, &e2);
			xerr_clear(&e2);
			v = NULL;
			goto fail;
		}
	}
	if (mode == START_MIGRATE) {
		release(v);
		log_info("qemu %s: waiting for a migration, pid %d, domid %lld", vm->uuid, (int)pid,
			 (long long)vm->domid);
		qemu_argv_free(&argv);
		free(dir);
		return 0;
	}
	if (vm->memory_dynamic_max > 0 && vm->memory_dynamic_max < vm->memory_static_max) {
		/* the balloon driver brings the guest down to its target */
		struct xerr e = XERR_INIT;
		qmp_simple(v, "balloon", json_pack("{sI}", "value", (json_int_t)vm->memory_dynamic_max), &e);
		xerr_clear(&e);
	}
	if (!paused) {
		if (qmp_simple(v, "cont", NULL, err) < 0) {
			struct xerr e2 = XERR_INIT;
			destroy_domain(v, &e2);
			xerr_clear(&e2);
			v = NULL;
			goto fail;
		}
		set_state(v, Q_RUNNING);
	}
	release(v);
	log_info("qemu %s: started, pid %d, domid %lld%s", vm->uuid, (int)pid, (long long)vm->domid,
		 paused ? " (paused)" : "");
	qemu_argv_free(&argv);
	free(dir);
	return 0;
fail:
	if (v && !v->qmp) {
		free(v->dir);
		free(v);
	}
	if (pid > 0 && qemu_pid_is_vm(pid, vm->uuid)) {
		kill(pid, SIGKILL);
		qemu_wait_gone(pid, vm->uuid, 5000);
	}
	qemu_nics_down(vm->uuid, vm->domid);
	undo_start_files(dir, rotated);
	qemu_argv_free(&argv);
	free(dir);
	return -1;
}

static int do_start(const struct xenops_host *host, const struct vm_spec *vm, bool paused, enum start_mode mode,
		    struct xerr *err)
{
	char *dir = qemu_vm_dir(host->run_dir, vm->uuid);
	int r = spawn(dir, vm, paused, mode, NULL, NULL, err);
	free(dir);
	return r;
}

static int q_start(const struct xenops_host *host, const struct vm_spec *vm, bool paused, struct xerr *err)
{
	struct qvm *v = claim(vm->uuid);
	if (v) {
		/* a QEMU the records forgot (its death not yet handled): only a
		 * dead one may be replaced */
		if (v->state != Q_DEAD) {
			release(v);
			return xerr_internal(err, "VM %s still has a QEMU (pid %d)", vm->uuid, (int)v->pid);
		}
		if (destroy_domain(v, err) < 0)
			return -1;
	}
	return do_start(host, vm, paused, START_BOOT, err);
}

static int timeout_error(const struct vm_spec *vm, struct xerr *err)
{
	/* xapi's Failed_to_shutdown(vm, timeout): the timeout as OCaml
	 * prints a float */
	char t[16];
	snprintf(t, sizeof t, "%d.", CLEAN_TIMEOUT_S);
	return xerr_set(err, ERR_VM_SHUTDOWN_TIMEOUT, vm->ref, t, NULL);
}

static int q_shutdown(const struct xenops_host *host, const struct vm_spec *vm, bool clean, struct xerr *err)
{
	struct qvm *v = claim(vm->uuid);
	if (!v) {
		/* a suspended VM (its image is its suspend VDI's, which the VM
		 * logic destroys), or the records were behind: no stale files */
		char *dir = qemu_vm_dir(host->run_dir, vm->uuid);
		qemu_clean_dir(dir);
		qemu_nics_down(vm->uuid, vm->domid);
		free(dir);
		return 0;
	}
	if (clean && !(QS(v->state) & Q_ENDED)) {
		if (v->state == Q_PAUSED) {
			release(v);
			return xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "running", "paused", NULL);
		}
		/* the ACPI power button: the guest decides how to go down */
		if (qmp_simple(v, "system_powerdown", NULL, err) < 0) {
			release(v);
			return -1;
		}
		if (!wait_state(v, Q_ENDED, CLEAN_TIMEOUT_S * 1000)) {
			release(v);
			return timeout_error(vm, err);
		}
	}
	return destroy_domain(v, err);
}

static int q_reboot(const struct xenops_host *host, const struct vm_spec *vm, bool clean, struct xerr *err)
{
	struct qvm *v = claim(vm->uuid);
	if (v && clean && v->state == Q_RUNNING) {
		/* xapi asks the guest; its agent reboots it like a user would.
		 * Without an agent, the reboot is a hard one. */
		char *ga = qemu_file(v->dir, "ga.sock");
		struct xerr e = XERR_INIT;
		int r = qga_exec(ga, "guest-shutdown", json_pack("{ss}", "mode", "reboot"), false, NULL,
				 5000, &e);
		free(ga);
		if (r == -2) {
			log_info("qemu %s: no guest agent: rebooting without the guest's help", vm->uuid);
		} else if (r < 0) {
			release(v);
			xerr_move(err, &e);
			return -1;
		} else if (!wait_state(v, Q_ENDED, CLEAN_TIMEOUT_S * 1000)) {
			release(v);
			return timeout_error(vm, err);
		}
		xerr_clear(&e);
	}
	/* a new domain from the current configuration, as xapi builds one */
	if (v && destroy_domain(v, err) < 0)
		return -1;
	return do_start(host, vm, false, START_BOOT, err);
}

static int q_pause(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err)
{
	(void)host;
	struct qvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no QEMU", vm->uuid);
	int r = qmp_simple(v, "stop", NULL, err);
	if (r == 0) {
		pthread_mutex_lock(&Q.lock);
		if (v->state == Q_RUNNING)
			set_state_locked(v, Q_PAUSED);
		pthread_mutex_unlock(&Q.lock);
	}
	release(v);
	return r;
}

static int q_unpause(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err)
{
	(void)host;
	struct qvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no QEMU", vm->uuid);
	int r = qmp_simple(v, "cont", NULL, err);
	if (r == 0) {
		pthread_mutex_lock(&Q.lock);
		if (v->state == Q_PAUSED)
			set_state_locked(v, Q_RUNNING);
		pthread_mutex_unlock(&Q.lock);
	}
	release(v);
	return r;
}

static int q_suspend(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err)
{
	/* the image goes into the VM's suspend VDI, made by the VM logic */
	if (!vm->suspend_image)
		return xerr_internal(err, "VM %s: no suspend image to save into", vm->uuid);
	struct qvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no QEMU", vm->uuid);
	if (!v->qmp || (QS(v->state) & Q_ENDED)) {
		release(v);
		return xerr_internal(err, "VM %s: its QEMU cannot save its state now", vm->uuid);
	}
	int r = qemu_save_state(v->qmp, vm->suspend_image, vm->suspend_format, err);
	if (r < 0) {
		release(v); /* a failed migration leaves the guest as it was */
		return -1;
	}
	log_info("qemu %s: suspended", vm->uuid);
	return destroy_domain(v, err);
}

/* The checkpoint's save: QEMU's migration stream of a stopped guest, which
 * stays stopped ("postmigrate", its disks inactive until the next cont). */
static int q_save(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err)
{
	(void)host;
	if (!vm->suspend_image)
		return xerr_internal(err, "VM %s: no image to save into", vm->uuid);
	struct qvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no QEMU", vm->uuid);
	int r = !v->qmp || (QS(v->state) & Q_ENDED)
			? xerr_internal(err, "VM %s: its QEMU cannot save its state now", vm->uuid)
			: qemu_save_state(v->qmp, vm->suspend_image, vm->suspend_format, err);
	release(v);
	return r;
}

static int q_resume(const struct xenops_host *host, const struct vm_spec *vm, bool paused, struct xerr *err)
{
	struct qvm *v = claim(vm->uuid);
	if (v) {
		release(v);
		return xerr_internal(err, "VM %s still has a QEMU (pid %d)", vm->uuid, (int)v->pid);
	}
	return do_start(host, vm, paused, START_RESUME, err);
}

int qemu_start_incoming(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err)
{
	struct qvm *v = claim(vm->uuid);
	if (v) {
		release(v);
		return xerr_internal(err, "VM %s already has a QEMU here (pid %d)", vm->uuid, (int)v->pid);
	}
	return do_start(host, vm, true, START_MIGRATE, err);
}

/* ---- a new device model for a running guest (VM.restart_device_models) ----
 *
 * The new QEMU starts beside the old one under a second identity: its run
 * directory <run-dir>/vm/<uuid>.dm (its monitor, console and agent sockets,
 * pid and log there), the new domid's uid and taps, and a qvm kept out of
 * the registry while the old QEMU holds the uuid there. The guest's state
 * moves across on a socket pair (a live migration on this host); then the
 * console's history goes into the new log before the guest runs on, the
 * old QEMU ends (its taps and files go, the VM's cgroup, which both share,
 * stays), the new directory takes the VM's name and the new qvm its place
 * in the registry in one step. Until the old QEMU is told to quit, any
 * failure removes the new one and the guest runs on in the old. */

#define DM_SUFFIX ".dm"

/* Appends the file from to the file to (the console's history). */
static int append_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return errno == ENOENT ? 0 : -1;
	int out = open(to, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[65536];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n)
			rc = -1;
	if (n < 0)
		rc = -1;
	close(in);
	if (close(out) < 0)
		rc = -1;
	return rc;
}

static void write_pid(const char *dir, pid_t pid)
{
	char *p = qemu_file(dir, "qemu.pid"), *tmp = qemu_file(dir, "qemu.pid.tmp");
	FILE *f = fopen(tmp, "we");
	if (f) {
		fprintf(f, "%d\n", (int)pid);
		if (fclose(f) == 0 && rename(tmp, p) == 0)
			tmp[0] = '\0';
	}
	if (tmp[0]) {
		unlink(tmp);
		log_error("qemu: cannot write %s: %s", p, strerror(errno));
	}
	free(p);
	free(tmp);
}

/* The new QEMU nv (unregistered) ended and its directory removed. */
static void discard_new(struct qvm *nv, const char *ndir)
{
	struct xerr e = XERR_INIT;
	if (end_qemu(nv, false, &e) < 0)
		log_error("qemu %s: the new QEMU (pid %d) does not end: %s", nv->uuid, (int)nv->pid,
			  e.nparams ? e.params[0] : e.code);
	else
		free_qvm(nv);
	xerr_clear(&e);
	qemu_remove_dir(ndir);
}

static int q_restart_dm(const struct xenops_host *host, const struct vm_spec *vm, struct xenops_mig_stats *st,
			struct xerr *err)
{
	memset(st, 0, sizeof *st);
	struct qvm *old = claim(vm->uuid);
	if (!old)
		return xerr_internal(err, "VM %s has no QEMU", vm->uuid);
	if (!old->qmp || old->incoming || (QS(old->state) & Q_ENDED)) {
		release(old);
		return xerr_internal(err, "VM %s: its QEMU cannot hand its guest over now", vm->uuid);
	}
	if (old->domid == vm->domid) {
		release(old);
		return xerr_internal(err, "VM %s: the new QEMU needs a domid of its own", vm->uuid);
	}
	bool was_running = qemu_vm_running(old);
	char *dir = qemu_vm_dir(host->run_dir, vm->uuid);
	char *ndir = xasprintf("%s" DM_SUFFIX, dir);
	/* what an earlier attempt that died half-way left */
	qemu_remove_dir(ndir);
	struct qvm *nv = NULL;
	int64_t t0 = clock_now_ms();
	/* the devices in the slots the guest knows them in (those plugged
	 * since its QEMU started are not where a command line puts them) */
	json_t *slots = qemu_pci_slots(old->qmp, err);
	int sr = slots ? spawn(ndir, vm, true, START_MIGRATE, slots, &nv, err) : -1;
	json_decref(slots);
	if (sr < 0)
		goto fail;
	if (qemu_migrate_local(old->qmp, nv->qmp, st, err) < 0)
		goto fail;
	int64_t t_taken = clock_now_ms();
	/* the guest is stopped in the old QEMU and whole in the new one: its
	 * console's history first, then it runs there */
	char *olog = qemu_file(dir, "serial.log"), *nlog = qemu_file(ndir, "serial.log");
	int ar = append_file(olog, nlog);
	free(olog);
	free(nlog);
	if (ar < 0)
		log_warn("qemu %s: the console's history did not come along: %s", vm->uuid, strerror(errno));
	if (was_running) {
		if (qmp_simple(nv, "cont", NULL, err) < 0)
			goto fail;
		set_state(nv, Q_RUNNING);
	}
	qemu_set_incoming(nv, false); /* its end is the guest's from now on */
	int64_t t_run = clock_now_ms();
	/* from here on the guest is the new QEMU's: the old one goes */
	struct xerr e = XERR_INIT;
	bool old_gone = end_qemu(old, false, &e) == 0;
	if (!old_gone)
		log_error("qemu %s: the old QEMU (pid %d) does not end: %s", vm->uuid, (int)old->pid,
			  e.nparams ? e.params[0] : e.code);
	xerr_clear(&e);
	char *keep = qemu_file(dir, "serial.log.1"), *kept = qemu_file(ndir, "serial.log.1");
	rename(keep, kept); /* the boot before this one's console, as it was */
	free(keep);
	free(kept);
	if (old_gone)
		qemu_remove_dir(dir);
	if (!old_gone || rename(ndir, dir) < 0) {
		log_error("qemu %s: the new QEMU's directory stays %s: %s", vm->uuid, ndir,
			  old_gone ? strerror(errno) : "the old QEMU is still there");
	} else {
		free(nv->dir);
		nv->dir = xstrdup(dir);
	}
	/* the old QEMU removed the pid file it was started with, which may be
	 * the new one's path */
	write_pid(nv->dir, nv->pid);
	/* the new qvm in the old one's place at once: no claim in between
	 * finds the VM without a QEMU (a stuck old QEMU is left alone, out of
	 * the registry: it holds the guest no more) */
	pthread_mutex_lock(&Q.lock);
	for (struct qvm **pp = &Q.vms; *pp; pp = &(*pp)->next) {
		if (*pp == old) {
			*pp = old->next;
			break;
		}
	}
	nv->next = Q.vms;
	Q.vms = nv;
	pthread_cond_broadcast(&Q.cond);
	pthread_mutex_unlock(&Q.lock);
	free_qvm(old);
	log_info("qemu %s: device model restarted: pid %d, domid %lld (started and given the guest in %lld ms, "
		 "downtime %lld ms, then %lld ms to run it; old QEMU ended in %lld ms)",
		 vm->uuid, (int)nv->pid, (long long)nv->domid, (long long)(t_run - t0), (long long)st->downtime_ms,
		 (long long)(t_run - t_taken), (long long)(clock_now_ms() - t_run));
	release(nv);
	free(dir);
	free(ndir);
	return 0;
fail:
	if (nv)
		discard_new(nv, ndir);
	if (st->phase == 2 && was_running) {
		/* the stream had completed: the old QEMU holds the guest still */
		struct xerr e2 = XERR_INIT;
		if (qmp_simple(old, "cont", NULL, &e2) == 0)
			set_state(old, Q_RUNNING);
		else
			log_error("qemu %s: cannot let the guest run on in its QEMU: %s", vm->uuid,
				  e2.nparams ? e2.params[0] : e2.code);
		xerr_clear(&e2);
	}
	release(old);
	free(dir);
	free(ndir);
	return -1;
}

void qemu_set_incoming(struct qvm *v, bool incoming)
{
	pthread_mutex_lock(&Q.lock);
	v->incoming = incoming;
	pthread_mutex_unlock(&Q.lock);
}

void qemu_mark_running(struct qvm *v, bool running)
{
	pthread_mutex_lock(&Q.lock);
	if (!(QS(v->state) & Q_ENDED))
		set_state_locked(v, running ? Q_RUNNING : Q_PAUSED);
	pthread_mutex_unlock(&Q.lock);
}

bool qemu_vm_dead(struct qvm *v)
{
	pthread_mutex_lock(&Q.lock);
	bool dead = v->state == Q_DEAD;
	pthread_mutex_unlock(&Q.lock);
	return dead;
}

int qemu_destroy(struct qvm *v, struct xerr *err)
{
	return destroy_domain(v, err);
}

static bool q_active(const struct xenops_host *host, const char *uuid)
{
	(void)host;
	pthread_mutex_lock(&Q.lock);
	struct qvm *v = find_locked(uuid);
	bool alive = v && v->state != Q_DEAD;
	pthread_mutex_unlock(&Q.lock);
	return alive;
}

/* ---- adoption ---- */

static bool uuid_like(const char *s)
{
	if (strlen(s) != UUID_STRLEN)
		return false;
	for (int i = 0; i < UUID_STRLEN; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? s[i] != '-' : !strchr("0123456789abcdef", s[i]))
			return false;
	return true;
}

static enum qstate state_of_status(const char *status)
{
	if (!strcmp(status, "running"))
		return Q_RUNNING;
	if (!strcmp(status, "shutdown"))
		return Q_SHUTDOWN;
	if (!strcmp(status, "guest-panicked"))
		return Q_CRASHED;
	return Q_PAUSED; /* paused, prelaunch, suspended, io-error, … */
}

static bool was_abandoned(const char *uuid);

/* A QEMU whose stream to a new device model was cut (the new one ended by
 * the sweep) may still be finishing it — stopped in "finish-migrate" until
 * it sees the socket gone, then running again, or "postmigrate" when all
 * had gone. Waits (5 s at most) until its migration is no longer under
 * way; true when it was under way at first. */
static bool settle_migration(struct qmp *q)
{
	bool waited = false;
	for (int i = 0; i < 100; i++) {
		json_t *m = NULL;
		struct xerr e = XERR_INIT;
		if (qmp_exec(q, "query-migrate", NULL, &m, QMP_TIMEOUT_MS, &e) < 0) {
			xerr_clear(&e);
			return waited;
		}
		const char *ms = json_string_value(json_object_get(m, "status"));
		bool busy = ms && (!strcmp(ms, "active") || !strcmp(ms, "device") || !strcmp(ms, "setup") ||
				   !strcmp(ms, "pre-switchover") || !strcmp(ms, "cancelling") ||
				   !strcmp(ms, "wait-unplug"));
		json_decref(m);
		if (!busy)
			return waited;
		waited = true;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return waited;
}

/* A QEMU left by an earlier xenond: a qvm for it, or NULL when nothing
 * lives there (its stale files are then removed). */
static struct qvm *adopt(const char *run_vm, const char *uuid)
{
	char *dir = xasprintf("%s/%s", run_vm, uuid);
	pid_t pid = qemu_read_pid(dir);
	if (pid < 0) {
		free(dir);
		return NULL;
	}
	if (!qemu_pid_is_vm(pid, uuid)) {
		log_info("qemu %s: pid %d is gone; removing its stale files", uuid, (int)pid);
		qemu_clean_dir(dir);
		free(dir);
		return NULL;
	}
	struct qvm *v = xcalloc(1, sizeof *v);
	snprintf(v->uuid, sizeof v->uuid, "%s", uuid);
	v->dir = dir;
	v->pid = pid;
	v->domid = qemu_read_domid(dir);
	v->state = Q_RUNNING;
	struct xerr e = XERR_INIT;
	json_t *st = NULL;
	if (connect_qmp(v, 5000, &e) < 0 ||
	    qmp_exec(v->qmp, "query-status", NULL, &st, QMP_TIMEOUT_MS, &e) < 0) {
		/* alive but deaf (another client holds its monitor?): still a
		 * running VM — only a hard shutdown (by signal) can end it */
		log_error("qemu %s: pid %d is alive but its monitor does not answer (%s); adopted without it",
			  uuid, (int)pid, e.nparams ? e.params[0] : e.code);
		qmp_close(v->qmp);
		v->qmp = NULL;
	} else {
		if (was_abandoned(uuid) && settle_migration(v->qmp)) {
			/* the stream's end moved the guest on meanwhile: as it is now */
			json_decref(st);
			st = NULL;
			if (qmp_exec(v->qmp, "query-status", NULL, &st, QMP_TIMEOUT_MS, &e) < 0)
				xerr_clear(&e);
		}
		const char *status = json_string_value(json_object_get(st, "status"));
		v->state = state_of_status(status ? status : "");
		if (status && !strcmp(status, "postmigrate") && was_abandoned(uuid)) {
			/* it had handed the guest to a new QEMU on this host that
			 * is gone now: the guest goes on here */
			if (qmp_exec(v->qmp, "cont", NULL, NULL, QMP_TIMEOUT_MS, &e) == 0) {
				v->state = Q_RUNNING;
				log_info("qemu %s: the guest runs on in its QEMU, pid %d", uuid, (int)pid);
			}
			xerr_clear(&e);
		}
	}
	json_decref(st);
	xerr_clear(&e);
	log_info("qemu %s: adopted pid %d, domid %lld, state %d", uuid, (int)pid, (long long)v->domid,
		 v->state);
	return v;
}

/* VMs whose new device model the sweep ended: a guest their old QEMU
 * had already sent ("postmigrate") runs on there (adopt). */
#define MAX_ABANDONED 64
static char abandoned[MAX_ABANDONED][UUID_STRLEN + 1];
static size_t n_abandoned;

static bool was_abandoned(const char *uuid)
{
	for (size_t i = 0; i < n_abandoned; i++)
		if (!strcmp(abandoned[i], uuid))
			return true;
	return false;
}

/* What a restart of a device model left when an earlier xenond stopped
 * in the middle of it (<uuid>.dm): while the VM's own QEMU lives, the new
 * one is half-made and goes; once that one is gone, the new one holds the
 * guest and takes the VM's directory (adopted next). */
static void sweep_dm_dirs(const char *run_vm)
{
	DIR *d = opendir(run_vm);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name), sl = strlen(DM_SUFFIX);
		if (len != UUID_STRLEN + sl || strcmp(de->d_name + UUID_STRLEN, DM_SUFFIX) != 0)
			continue;
		char uuid[UUID_STRLEN + 1];
		memcpy(uuid, de->d_name, UUID_STRLEN);
		uuid[UUID_STRLEN] = '\0';
		if (!uuid_like(uuid))
			continue;
		char *dir = xasprintf("%s/%s", run_vm, uuid), *ndir = xasprintf("%s/%s", run_vm, de->d_name);
		pid_t old = qemu_read_pid(dir), nw = qemu_read_pid(ndir);
		bool old_alive = old > 0 && qemu_pid_is_vm(old, uuid), new_alive = nw > 0 && qemu_pid_is_vm(nw, uuid);
		if (new_alive && !old_alive) {
			qemu_remove_dir(dir);
			if (rename(ndir, dir) == 0)
				log_info("qemu %s: the restarted device model (pid %d) takes the VM's directory", uuid,
					 (int)nw);
			else
				log_error("qemu %s: cannot rename %s: %s", uuid, ndir, strerror(errno));
		} else {
			if (new_alive) {
				log_info("qemu %s: ending the half-made new device model, pid %d", uuid, (int)nw);
				kill(nw, SIGKILL);
				qemu_wait_gone(nw, uuid, 10000);
			}
			if (old_alive && n_abandoned < MAX_ABANDONED)
				memcpy(abandoned[n_abandoned++], uuid, sizeof uuid);
			qemu_clean_dir(ndir);
			qemu_remove_dir(ndir);
		}
		free(dir);
		free(ndir);
	}
	if (d)
		closedir(d);
}

static int q_init(const struct xenops_host *host, struct xerr *err)
{
	Q.xh = host;
	qemu_host_probe(&Q.host);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&Q.cond, &ca);
	pthread_condattr_destroy(&ca);
	log_info("qemu: %s, acceleration %s%s", Q.host.binary,
		 Q.host.accel ? Q.host.accel : Q.host.kvm ? "kvm:tcg" : "tcg",
		 Q.host.ovmf_code ? ", UEFI firmware found" : ", no UEFI firmware");

	char *run_vm = xasprintf("%s/vm", host->run_dir);
	if (mkdir(run_vm, 0700) < 0 && errno != EEXIST) {
		xerr_internal(err, "cannot create %s: %s", run_vm, strerror(errno));
		free(run_vm);
		return -1;
	}
	sweep_dm_dirs(run_vm);
	struct xenops_domain *live = NULL;
	size_t n = 0;
	DIR *d = opendir(run_vm);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!uuid_like(de->d_name))
			continue;
		struct qvm *v = adopt(run_vm, de->d_name);
		if (!v)
			continue;
		v->next = Q.vms;
		Q.vms = v;
		live = xrealloc(live, (n + 1) * sizeof *live);
		memset(&live[n], 0, sizeof live[n]);
		snprintf(live[n].uuid, sizeof live[n].uuid, "%s", v->uuid);
		live[n].domid = v->domid;
		live[n].paused = v->state == Q_PAUSED;
		n++;
	}
	if (d)
		closedir(d);
	free(run_vm);
	host->ops->reconcile(host->arg, live, n);
	const char **uuids = xcalloc(n + 1, sizeof *uuids);
	int64_t *domids = xcalloc(n + 1, sizeof *domids);
	/* the domids the records settled on (new ones for domains without a
	 * domid file) go back into the run directory */
	pthread_mutex_lock(&Q.lock);
	for (size_t i = 0; i < n; i++) {
		struct qvm *v = find_locked(live[i].uuid);
		if (v && live[i].domid != v->domid) {
			v->domid = live[i].domid;
			qemu_write_domid(v->dir, v->domid);
		}
		uuids[i] = live[i].uuid;
		domids[i] = live[i].domid;
	}
	pthread_mutex_unlock(&Q.lock);
	/* adopted domains keep their taps; those of domains that died while
	 * no daemon watched go */
	qemu_nics_sweep(host, uuids, domids, n);
	free(uuids);
	free(domids);
	free(live);
	if (pthread_create(&Q.dispatcher, NULL, dispatcher_main, NULL) != 0)
		return xerr_internal(err, "cannot start the QEMU event thread");
	Q.dispatching = true;
	return 0;
}

static void q_fini(const struct xenops_host *host)
{
	(void)host;
	pthread_mutex_lock(&Q.lock);
	Q.stopping = true;
	pthread_cond_broadcast(&Q.cond);
	pthread_mutex_unlock(&Q.lock);
	if (Q.dispatching)
		pthread_join(Q.dispatcher, NULL);
	Q.dispatching = false;
	/* the VMs run on; the next xenond adopts them */
	pthread_mutex_lock(&Q.lock);
	struct qvm *all = Q.vms;
	Q.vms = NULL;
	pthread_mutex_unlock(&Q.lock);
	while (all) {
		struct qvm *next = all->next;
		free_qvm(all);
		all = next;
	}
	qemu_host_free(&Q.host);
}

static int q_send_input(const struct xenops_host *host, const struct vm_spec *vm, const char *kind, const char *arg,
			struct xerr *err)
{
	(void)host;
	struct qvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no QEMU", vm->uuid);
	int r;
	if (!strcmp(kind, "sysrq")) {
		json_t *keys = json_pack("[{ss ss}{ss ss}{ss ss}]", "type", "qcode", "data", "alt", "type", "qcode", "data",
					 "sysrq", "type", "qcode", "data", arg);
		r = qmp_simple(v, "send-key", json_pack("{so}", "keys", keys), err);
	} else {
		const char *cmd = !strcmp(arg, "nmi")     ? "inject-nmi"
				  : !strcmp(arg, "reset") ? "system_reset"
							  : "system_powerdown";
		r = qmp_simple(v, cmd, NULL, err);
	}
	release(v);
	return r;
}

const struct xenops_backend xenops_qemu = {
	.name = "qemu",
	.init = q_init,
	.start = q_start,
	.shutdown = q_shutdown,
	.reboot = q_reboot,
	.pause = q_pause,
	.unpause = q_unpause,
	.suspend = q_suspend,
	.resume = q_resume,
	.save = q_save,
	.active = q_active,
	.fini = q_fini,
	.live = &qemu_live_ops,
	.agent_call = qemu_agent_call,
	.disk_plug = qemu_disk_plug,
	.disk_unplug = qemu_disk_unplug,
	.cd_change = qemu_cd_change,
	.set_memory_target = qemu_set_memory_target,
	.set_vcpus = qemu_set_vcpus,
	.set_vcpu_params = qemu_set_vcpu_params,
	.vif_plug = qemu_vif_plug,
	.vif_unplug = qemu_vif_unplug,
	.stats = qemu_stats,
	.send_input = q_send_input,
	.migrate_receive = qemu_migrate_receive,
	.migrate_finish = qemu_migrate_finish,
	.migrate_abort = qemu_migrate_abort,
	.migrate_send = qemu_migrate_send,
	.disk_move = qemu_disk_move,
	.restart_dm = q_restart_dm,
	.console_read = qemu_console_read,
};
