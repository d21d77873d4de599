/* xen: the VM backend for a Xen dom0, through libxl. A VM is a domain built
 * from xen_config_build's libxl_domain_config with the domid the VM logic
 * chose; guest-initiated shutdowns, reboots and crashes come back as libxl
 * domain events and go up to the VM logic, which applies actions_after_*;
 * the console is xenconsoled's, relayed to the VM's serial.sock; the
 * guest's reports are read from xenstore. Domains that outlive the daemon
 * are found again at init by their uuid. */
#include "backends.h"
#include "xen_int.h"
#include "qemu_disk.h"
#include "qmp.h"
#include "../sm/sm.h"
#include "../base/clock.h"
#include "../base/errors_gen.h"
#include "../base/log.h"
#include "../base/mem.h"
#include "../net/net.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libxl_utils.h>
#include <xenstore.h>

#define CLEAN_TIMEOUT_S 60

enum xstate { X_RUNNING, X_PAUSED, X_SHUTDOWN, X_REBOOTED, X_CRASHED, X_DEAD };
#define X_ENDED(s) ((s) >= X_SHUTDOWN)

struct xvm {
	char uuid[40];
	uint32_t domid;
	bool hvm;
	enum xstate state;
	bool busy, handled;
	int64_t retry_at;
	libxl_evgen_domain_death *evgen;
	struct xen_console *console;
	struct xvm *next;
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	libxl_ctx *ctx;
	xentoollog_logger_stdiostream *logger;
	struct xs_handle *xs;
	const struct xenops_host *xh;
	struct xvm *vms;
	pthread_t events, dispatcher;
	bool started, stopping;
} X = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

static struct xvm *find_locked(const char *uuid)
{
	for (struct xvm *v = X.vms; v; v = v->next)
		if (!strcmp(v->uuid, uuid))
			return v;
	return NULL;
}

static struct xvm *claim(const char *uuid)
{
	pthread_mutex_lock(&X.lock);
	struct xvm *v;
	while ((v = find_locked(uuid)) && v->busy)
		pthread_cond_wait(&X.cond, &X.lock);
	if (v)
		v->busy = true;
	pthread_mutex_unlock(&X.lock);
	return v;
}

static void release(struct xvm *v)
{
	pthread_mutex_lock(&X.lock);
	v->busy = false;
	pthread_cond_broadcast(&X.cond);
	pthread_mutex_unlock(&X.lock);
}

static void set_state_locked(struct xvm *v, enum xstate s)
{
	if (v->state == s)
		return;
	v->state = s;
	v->handled = false;
	v->retry_at = 0;
	pthread_cond_broadcast(&X.cond);
}

static bool wait_ended(struct xvm *v, int timeout_ms)
{
	int64_t until = clock_now_ms() + timeout_ms;
	struct timespec ts;
	ts.tv_sec = until / 1000;
	ts.tv_nsec = (until % 1000) * 1000000;
	pthread_mutex_lock(&X.lock);
	while (!X_ENDED(v->state) && clock_now_ms() < until)
		pthread_cond_timedwait(&X.cond, &X.lock, &ts);
	bool r = X_ENDED(v->state);
	pthread_mutex_unlock(&X.lock);
	return r;
}

static char *vm_dir(const char *uuid)
{
	return xasprintf("%s/vm/%s", X.xh->run_dir, uuid);
}

static int lxerr(struct xerr *err, const struct vm_spec *vm, const char *what, int rc)
{
	return xerr_internal(err, "VM %s: libxl %s failed (%d)", vm ? vm->uuid : "", what, rc);
}

/* ---- events: libxl's domain shutdown and death ---- */

static void *events_main(void *arg)
{
	(void)arg;
	for (;;) {
		libxl_event *ev = NULL;
		if (libxl_event_wait(X.ctx, &ev, LIBXL_EVENTMASK_ALL, NULL, NULL))
			break;
		pthread_mutex_lock(&X.lock);
		struct xvm *v = X.vms;
		while (v && v->domid != ev->domid)
			v = v->next;
		if (v && ev->type == LIBXL_EVENT_TYPE_DOMAIN_SHUTDOWN) {
			switch (ev->u.domain_shutdown.shutdown_reason) {
			case LIBXL_SHUTDOWN_REASON_REBOOT: set_state_locked(v, X_REBOOTED); break;
			case LIBXL_SHUTDOWN_REASON_CRASH:
			case LIBXL_SHUTDOWN_REASON_WATCHDOG: set_state_locked(v, X_CRASHED); break;
			case LIBXL_SHUTDOWN_REASON_SUSPEND: break; /* ours: suspend and checkpoint */
			default: set_state_locked(v, X_SHUTDOWN); break;
			}
		} else if (v && ev->type == LIBXL_EVENT_TYPE_DOMAIN_DEATH) {
			set_state_locked(v, X_DEAD);
		}
		bool stop = X.stopping;
		pthread_mutex_unlock(&X.lock);
		libxl_event_free(X.ctx, ev);
		if (stop)
			break;
	}
	return NULL;
}

static enum xenops_event event_of(enum xstate s)
{
	switch (s) {
	case X_REBOOTED: return XENOPS_EV_REBOOT;
	case X_CRASHED: return XENOPS_EV_CRASH;
	case X_DEAD: return XENOPS_EV_DIED;
	default: return XENOPS_EV_SHUTDOWN;
	}
}

/* Hands ended domains to the VM logic, again while it is busy with them. */
static void *dispatcher_main(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&X.lock);
	while (!X.stopping) {
		int64_t now = clock_now_ms(), wake = now + 1000;
		struct xvm *pick = NULL;
		for (struct xvm *v = X.vms; v && !pick; v = v->next) {
			if (v->busy || v->handled || !X_ENDED(v->state))
				continue;
			if (v->retry_at <= now)
				pick = v;
			else if (v->retry_at < wake)
				wake = v->retry_at;
		}
		if (!pick) {
			struct timespec ts = {.tv_sec = wake / 1000, .tv_nsec = (wake % 1000) * 1000000};
			pthread_cond_timedwait(&X.cond, &X.lock, &ts);
			continue;
		}
		char uuid[40];
		memcpy(uuid, pick->uuid, sizeof uuid);
		enum xstate st = pick->state;
		pick->handled = true;
		pthread_mutex_unlock(&X.lock);
		int r = X.xh->ops->report(X.xh->arg, uuid, event_of(st));
		pthread_mutex_lock(&X.lock);
		struct xvm *v = find_locked(uuid);
		if (r == 1 && v && v->state == st) {
			v->handled = false;
			v->retry_at = clock_now_ms() + 250;
		}
	}
	pthread_mutex_unlock(&X.lock);
	return NULL;
}

/* ---- domains ---- */

/* Tracks a live domain: death events, console relay. v is busy. */
static struct xvm *track(const char *uuid, uint32_t domid, bool hvm, enum xstate st)
{
	struct xvm *v = xcalloc(1, sizeof *v);
	snprintf(v->uuid, sizeof v->uuid, "%s", uuid);
	v->domid = domid;
	v->hvm = hvm;
	v->state = st;
	v->busy = true;
	if (libxl_evenable_domain_death(X.ctx, domid, 0, &v->evgen))
		log_warn("xen %s: no death events for domain %u", uuid, domid);
	char *dir = vm_dir(uuid);
	mkdir(dir, 0700);
	v->console = xen_console_start(X.ctx, domid, hvm, dir);
	free(dir);
	pthread_mutex_lock(&X.lock);
	v->next = X.vms;
	X.vms = v;
	pthread_mutex_unlock(&X.lock);
	return v;
}

/* Destroys v's domain and forgets it (v is claimed and freed). */
static int destroy_domain(struct xvm *v, struct xerr *err)
{
	if (v->evgen)
		libxl_evdisable_domain_death(X.ctx, v->evgen);
	v->evgen = NULL;
	libxl_dominfo info;
	libxl_dominfo_init(&info);
	bool exists = libxl_domain_info(X.ctx, &info, v->domid) == 0;
	libxl_dominfo_dispose(&info);
	if (exists) {
		int rc = libxl_domain_destroy(X.ctx, v->domid, NULL);
		if (rc) {
			release(v);
			return xerr_internal(err, "VM %s: libxl could not destroy domain %u (%d)", v->uuid, v->domid,
					     rc);
		}
	}
	xen_console_stop(v->console);
	pthread_mutex_lock(&X.lock);
	for (struct xvm **p = &X.vms; *p; p = &(*p)->next)
		if (*p == v) {
			*p = v->next;
			break;
		}
	pthread_cond_broadcast(&X.cond);
	pthread_mutex_unlock(&X.lock);
	log_info("xen %s: domain %u destroyed", v->uuid, v->domid);
	free(v);
	return 0;
}

/* A suspend image as a plain file libxl reads or writes: the raw image
 * itself, or a file beside it converted by qemu-img for a qcow2 image. */
static int qemu_img(const char *const argv[])
{
	pid_t pid = fork();
	if (pid == 0) {
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	int st;
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : -1;
}

static int do_start(const struct vm_spec *vm, bool paused, bool resume, struct xerr *err)
{
	libxl_domain_config cfg;
	libxl_domain_config_init(&cfg);
	char *dir = vm_dir(vm->uuid), *stream = NULL;
	int fd = -1;
	uint32_t domid = 0;
	bool created = false;
	if (xen_config_build(vm, &cfg, err) < 0)
		goto fail;
	char *parent = xasprintf("%s/vm", X.xh->run_dir);
	mkdir(X.xh->run_dir, 0700);
	mkdir(parent, 0700);
	free(parent);
	if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
		xerr_internal(err, "%s: %s", dir, strerror(errno));
		goto fail;
	}
	/* netback's hotplug script puts vif<domid>.<device> on the bridge,
	 * which must be there */
	for (size_t i = 0; i < vm->nnics; i++)
		if (net_bridge_ensure(vm->nics[i].bridge, vm->nics[i].bridge_mtu, err) < 0)
			goto fail;
	int rc;
	if (resume) {
		if (!vm->suspend_image) {
			xerr_internal(err, "VM %s: no suspend image to resume from", vm->uuid);
			goto fail;
		}
		if (!strcmp(vm->suspend_format, "qcow2")) {
			stream = xasprintf("%s/suspend.stream", dir);
			const char *argv[] = {"qemu-img", "convert", "-f", "qcow2", "-O", "raw", vm->suspend_image,
					      stream, NULL};
			if (qemu_img(argv) < 0) {
				xerr_internal(err, "VM %s: cannot read the suspend image", vm->uuid);
				goto fail;
			}
		}
		fd = open(stream ? stream : vm->suspend_image, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			xerr_internal(err, "VM %s: suspend image: %s", vm->uuid, strerror(errno));
			goto fail;
		}
		libxl_domain_restore_params params;
		libxl_domain_restore_params_init(&params);
		params.checkpointed_stream = LIBXL_CHECKPOINTED_STREAM_NONE;
		/* libxl_domain_suspend writes its v2 stream (the default, 1,
		 * would have the pre-4.6 format converted) */
		params.stream_version = 2;
		/* the suspended domain's id was in use a moment ago: Xen picks */
		cfg.c_info.domid = 0;
		rc = libxl_domain_create_restore(X.ctx, &cfg, &domid, fd, -1, &params, NULL, NULL);
		libxl_domain_restore_params_dispose(&params);
	} else {
		rc = libxl_domain_create_new(X.ctx, &cfg, &domid, NULL, NULL);
		if (rc == ERROR_FAIL && cfg.c_info.domid) {
			/* the domid is taken or recently used (domains made by
			 * other tools): Xen picks one */
			cfg.c_info.domid = 0;
			rc = libxl_domain_create_new(X.ctx, &cfg, &domid, NULL, NULL);
		}
	}
	if (rc) {
		xerr_set(err, ERR_INTERNAL_ERROR, "libxl could not create the domain", NULL);
		goto fail;
	}
	created = true;
	/* libxl leaves a new domain paused: it runs when we say so */
	struct xvm *v = track(vm->uuid, domid, cfg.c_info.type == LIBXL_DOMAIN_TYPE_HVM, X_PAUSED);
	if (!paused) {
		if ((rc = libxl_domain_unpause(X.ctx, domid, NULL))) {
			lxerr(err, vm, "unpause", rc);
			struct xerr e2 = XERR_INIT;
			destroy_domain(v, &e2);
			xerr_clear(&e2);
			created = false;
			goto fail;
		}
		pthread_mutex_lock(&X.lock);
		set_state_locked(v, X_RUNNING);
		pthread_mutex_unlock(&X.lock);
	}
	release(v);
	if (domid != vm->domid)
		log_warn("xen %s: Xen gave domid %u, not %lld", vm->uuid, domid, (long long)vm->domid);
	log_info("xen %s: domain %u %s%s", vm->uuid, domid, resume ? "restored" : "created", paused ? " (paused)" : "");
	if (fd >= 0)
		close(fd);
	if (stream)
		unlink(stream);
	free(stream);
	free(dir);
	libxl_domain_config_dispose(&cfg);
	return 0;
fail:
	if (created)
		libxl_domain_destroy(X.ctx, domid, NULL);
	if (fd >= 0)
		close(fd);
	if (stream)
		unlink(stream);
	free(stream);
	free(dir);
	libxl_domain_config_dispose(&cfg);
	return -1;
}

static int x_start(const struct xenops_host *host, const struct vm_spec *vm, bool paused, struct xerr *err)
{
	(void)host;
	struct xvm *v = claim(vm->uuid);
	if (v) {
		if (!X_ENDED(v->state)) {
			release(v);
			return xerr_internal(err, "VM %s still has domain %u", vm->uuid, v->domid);
		}
		if (destroy_domain(v, err) < 0)
			return -1;
	}
	return do_start(vm, paused, false, err);
}

static int timeout_error(const struct vm_spec *vm, struct xerr *err)
{
	char t[16];
	snprintf(t, sizeof t, "%d.", CLEAN_TIMEOUT_S);
	return xerr_set(err, ERR_VM_SHUTDOWN_TIMEOUT, vm->ref, t, NULL);
}

static int x_shutdown(const struct xenops_host *host, const struct vm_spec *vm, bool clean, struct xerr *err)
{
	(void)host;
	struct xvm *v = claim(vm->uuid);
	if (!v)
		return 0;
	if (clean && !X_ENDED(v->state)) {
		if (v->state == X_PAUSED) {
			release(v);
			return xerr_set(err, ERR_VM_BAD_POWER_STATE, vm->ref, "running", "paused", NULL);
		}
		/* the PV control path: control/shutdown = poweroff */
		int rc = libxl_domain_shutdown(X.ctx, v->domid, NULL);
		if (rc) {
			release(v);
			return lxerr(err, vm, "shutdown", rc);
		}
		if (!wait_ended(v, CLEAN_TIMEOUT_S * 1000)) {
			release(v);
			return timeout_error(vm, err);
		}
	}
	return destroy_domain(v, err);
}

static int x_reboot(const struct xenops_host *host, const struct vm_spec *vm, bool clean, struct xerr *err)
{
	(void)host;
	struct xvm *v = claim(vm->uuid);
	if (v && clean && v->state == X_RUNNING) {
		int rc = libxl_domain_reboot(X.ctx, v->domid, NULL);
		if (rc) {
			release(v);
			return lxerr(err, vm, "reboot", rc);
		}
		if (!wait_ended(v, CLEAN_TIMEOUT_S * 1000)) {
			release(v);
			return timeout_error(vm, err);
		}
	}
	/* a new domain from the current configuration, as xapi builds one */
	if (v && destroy_domain(v, err) < 0)
		return -1;
	return do_start(vm, false, false, err);
}

static int x_pause(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err)
{
	(void)host;
	struct xvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no domain", vm->uuid);
	int rc = libxl_domain_pause(X.ctx, v->domid, NULL);
	if (!rc) {
		pthread_mutex_lock(&X.lock);
		if (!X_ENDED(v->state))
			set_state_locked(v, X_PAUSED);
		pthread_mutex_unlock(&X.lock);
	}
	release(v);
	return rc ? lxerr(err, vm, "pause", rc) : 0;
}

static int x_unpause(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err)
{
	(void)host;
	struct xvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no domain", vm->uuid);
	int rc = libxl_domain_unpause(X.ctx, v->domid, NULL);
	if (!rc) {
		pthread_mutex_lock(&X.lock);
		if (!X_ENDED(v->state))
			set_state_locked(v, X_RUNNING);
		pthread_mutex_unlock(&X.lock);
	}
	release(v);
	return rc ? lxerr(err, vm, "unpause", rc) : 0;
}

/* The domain's memory into vm->suspend_image (libxl's stream); live:
 * the domain is left as it was (checkpoint), else it is destroyed. */
static int save_to_image(struct xvm *v, const struct vm_spec *vm, bool keep, struct xerr *err)
{
	if (!vm->suspend_image)
		return xerr_internal(err, "VM %s: no suspend image", vm->uuid);
	bool qcow2 = !strcmp(vm->suspend_format, "qcow2");
	char *dir = vm_dir(vm->uuid);
	char *stream = qcow2 ? xasprintf("%s/suspend.stream", dir) : xstrdup(vm->suspend_image);
	free(dir);
	int fd = open(stream, O_WRONLY | O_CLOEXEC | (qcow2 ? O_CREAT | O_TRUNC : 0), 0600);
	int rc = -1;
	if (fd < 0) {
		xerr_internal(err, "VM %s: suspend image: %s", vm->uuid, strerror(errno));
		goto out;
	}
	rc = keep ? libxl_domain_suspend(X.ctx, v->domid, fd, LIBXL_SUSPEND_LIVE, NULL)
		  : libxl_domain_suspend(X.ctx, v->domid, fd, 0, NULL);
	close(fd);
	if (rc) {
		lxerr(err, vm, "suspend", rc);
		goto out;
	}
	if (keep) {
		libxl_domain_resume(X.ctx, v->domid, 1, NULL);
		/* libxl reports one shutdown a domain: watch the resumed one
		 * afresh, so the guest's own shutdown later is seen */
		if (v->evgen)
			libxl_evdisable_domain_death(X.ctx, v->evgen);
		v->evgen = NULL;
		if (libxl_evenable_domain_death(X.ctx, v->domid, 0, &v->evgen))
			log_warn("xen %s: no death events for domain %u", v->uuid, v->domid);
	}
	if (qcow2) {
		/* into the VDI's existing image (-n: it is not made again) */
		const char *argv[] = {"qemu-img", "convert", "-n", "-f", "raw", "-O", "qcow2", stream,
				      vm->suspend_image, NULL};
		if (qemu_img(argv) < 0) {
			rc = xerr_internal(err, "VM %s: cannot write the suspend image", vm->uuid);
			goto out;
		}
	}
	rc = 0;
out:
	if (qcow2)
		unlink(stream);
	free(stream);
	return rc;
}

static int x_suspend(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err)
{
	(void)host;
	struct xvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no domain", vm->uuid);
	if (save_to_image(v, vm, false, err) < 0) {
		release(v);
		return -1;
	}
	return destroy_domain(v, err);
}

static int x_save(const struct xenops_host *host, const struct vm_spec *vm, struct xerr *err)
{
	(void)host;
	struct xvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no domain", vm->uuid);
	int r = save_to_image(v, vm, true, err);
	release(v);
	return r;
}

static int x_resume(const struct xenops_host *host, const struct vm_spec *vm, bool paused, struct xerr *err)
{
	(void)host;
	return do_start(vm, paused, true, err);
}

/* Xen's physical memory: the whole machine's, not the dom0's. */
static int64_t x_host_memory(void)
{
	xentoollog_logger_stdiostream *lg = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
	libxl_ctx *ctx = NULL;
	int64_t total = 0;
	if (lg && libxl_ctx_alloc(&ctx, LIBXL_VERSION, 0, (xentoollog_logger *)lg) == 0) {
		libxl_physinfo pi;
		libxl_physinfo_init(&pi);
		if (libxl_get_physinfo(ctx, &pi) == 0)
			total = (int64_t)pi.total_pages * 4096;
		libxl_physinfo_dispose(&pi);
		libxl_ctx_free(ctx);
	}
	if (lg)
		xtl_logger_destroy((xentoollog_logger *)lg);
	return total;
}

static int64_t x_domid(const struct xenops_host *host, const char *uuid)
{
	(void)host;
	pthread_mutex_lock(&X.lock);
	struct xvm *v = find_locked(uuid);
	int64_t d = v && !X_ENDED(v->state) ? (int64_t)v->domid : -1;
	pthread_mutex_unlock(&X.lock);
	return d;
}

static bool x_active(const struct xenops_host *host, const char *uuid)
{
	(void)host;
	pthread_mutex_lock(&X.lock);
	struct xvm *v = find_locked(uuid);
	bool r = v && v->state != X_DEAD;
	pthread_mutex_unlock(&X.lock);
	return r;
}

/* ---- live changes ---- */

static int x_memory(const struct xenops_host *host, const struct vm_spec *vm, int64_t target, int64_t *actual,
		    struct xerr *err)
{
	(void)host;
	struct xvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no domain", vm->uuid);
	int rc = libxl_set_memory_target(X.ctx, v->domid, target / 1024, 0, 1);
	if (rc) {
		release(v);
		return lxerr(err, vm, "memory target", rc);
	}
	/* the balloon driver moves there; wait a little for it */
	int64_t until = clock_now_ms() + 5000;
	*actual = -1;
	for (;;) {
		libxl_dominfo info;
		libxl_dominfo_init(&info);
		if (libxl_domain_info(X.ctx, &info, v->domid) == 0)
			*actual = (int64_t)info.current_memkb * 1024;
		libxl_dominfo_dispose(&info);
		int64_t diff = *actual - target;
		if (*actual < 0 || (diff < 0 ? -diff : diff) <= target / 100 || clock_now_ms() > until)
			break;
		usleep(100 * 1000);
	}
	release(v);
	if (*actual < 0)
		*actual = target;
	return 0;
}

static int x_vcpus(const struct xenops_host *host, const struct vm_spec *vm, int64_t n, int64_t *now,
		   struct xerr *err)
{
	(void)host;
	struct xvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no domain", vm->uuid);
	libxl_bitmap map;
	libxl_bitmap_init(&map);
	int rc = libxl_bitmap_alloc(X.ctx, &map, (int)(vm->vcpus_max > 0 ? vm->vcpus_max : n));
	for (int64_t i = 0; !rc && i < n; i++)
		libxl_bitmap_set(&map, (int)i);
	if (!rc)
		rc = libxl_set_vcpuonline(X.ctx, v->domid, &map, NULL);
	libxl_bitmap_dispose(&map);
	release(v);
	if (rc)
		return lxerr(err, vm, "vCPU set", rc);
	*now = n;
	return 0;
}

static int x_vcpu_params(const struct xenops_host *host, const struct vm_spec *vm, const xv *params, xv *applied,
			 struct xerr *err)
{
	(void)host;
	*applied = xv_map_new();
	struct xvm *v = claim(vm->uuid);
	if (!v)
		return xerr_internal(err, "VM %s has no domain", vm->uuid);
	/* credit2's weight and cap, as xapi's hosts apply them */
	libxl_domain_sched_params sp;
	libxl_domain_sched_params_init(&sp);
	const char *w = xv_map_get_str(params, "weight"), *c = xv_map_get_str(params, "cap");
	if (w)
		sp.weight = atoi(w);
	if (c)
		sp.cap = atoi(c);
	int rc = (w || c) ? libxl_domain_sched_params_set(X.ctx, v->domid, &sp) : 0;
	libxl_domain_sched_params_dispose(&sp);
	release(v);
	if (rc)
		return lxerr(err, vm, "scheduler parameters", rc);
	if (w)
		xv_map_set_str(applied, "weight", w);
	if (c)
		xv_map_set_str(applied, "cap", c);
	return 0;
}

/* The VM's domain and kind, for device changes (the caller holds no
 * claim: libxl serialises device changes itself). */
static int domain_of(const char *uuid, uint32_t *domid, bool *hvm, struct xerr *err)
{
	*domid = 0;
	*hvm = false;
	pthread_mutex_lock(&X.lock);
	struct xvm *v = find_locked(uuid);
	if (v) {
		*domid = v->domid;
		*hvm = v->hvm;
	}
	pthread_mutex_unlock(&X.lock);
	return v ? 0 : xerr_internal(err, "VM %s has no domain", uuid);
}

static int x_disk_plug(const struct xenops_host *host, const char *uuid, const struct vm_disk *d, struct xerr *err)
{
	(void)host;
	uint32_t domid = 0;
	bool hvm = false;
	if (domain_of(uuid, &domid, &hvm, err) < 0)
		return -1;
	libxl_device_disk disk;
	int r = xen_disk_of(NULL, hvm ? LIBXL_DOMAIN_TYPE_HVM : LIBXL_DOMAIN_TYPE_PV, d, &disk, err);
	if (r == 0 && (r = libxl_device_disk_add(X.ctx, domid, &disk, NULL)))
		r = xerr_internal(err, "VM %s: libxl disk add failed (%d)", uuid, r);
	libxl_device_disk_dispose(&disk);
	return r;
}

static int x_disk_unplug(const struct xenops_host *host, const char *uuid, int position, bool force,
			 const char *vbd_ref, struct xerr *err)
{
	(void)host;
	uint32_t domid = 0;
	bool hvm = false;
	if (domain_of(uuid, &domid, &hvm, err) < 0)
		return -1;
	char vdev[8];
	snprintf(vdev, sizeof vdev, "%s%c", hvm && position < 4 ? "hd" : "xvd", 'a' + (position % 26));
	libxl_device_disk disk;
	libxl_device_disk_init(&disk);
	int r = libxl_vdev_to_device_disk(X.ctx, domid, vdev, &disk);
	if (r == 0)
		r = force ? libxl_device_disk_destroy(X.ctx, domid, &disk, NULL)
			  : libxl_device_disk_remove(X.ctx, domid, &disk, NULL);
	libxl_device_disk_dispose(&disk);
	if (r)
		return xerr_set(err, ERR_DEVICE_DETACH_TIMEOUT, "VBD", vbd_ref, NULL);
	return 0;
}

static int x_cd_change(const struct xenops_host *host, const char *uuid, const struct vm_disk *d, struct xerr *err)
{
	(void)host;
	uint32_t domid = 0;
	bool hvm = false;
	if (domain_of(uuid, &domid, &hvm, err) < 0)
		return -1;
	if (!hvm)
		return xerr_set(err, ERR_OPERATION_NOT_ALLOWED, "a PV guest's CD drive has no medium to change", NULL);
	libxl_device_disk disk;
	int r = xen_disk_of(NULL, LIBXL_DOMAIN_TYPE_HVM, d, &disk, err);
	if (r == 0 && (r = libxl_cdrom_insert(X.ctx, domid, &disk, NULL)))
		r = xerr_internal(err, "VM %s: libxl CD change failed (%d)", uuid, r);
	libxl_device_disk_dispose(&disk);
	return r;
}

static int x_vif_plug(const struct xenops_host *host, const struct vm_spec *vm, const struct vm_nic *nic,
		      struct xerr *err)
{
	(void)host;
	uint32_t domid = 0;
	bool hvm = false;
	if (domain_of(vm->uuid, &domid, &hvm, err) < 0)
		return -1;
	if (net_bridge_ensure(nic->bridge, nic->bridge_mtu, err) < 0)
		return -1;
	libxl_device_nic n;
	/* a hot-plugged NIC is PV whatever the guest: no emulated twin */
	int r = xen_nic_of(vm, LIBXL_DOMAIN_TYPE_PV, nic, &n, err);
	if (r == 0 && (r = libxl_device_nic_add(X.ctx, domid, &n, NULL)))
		r = xerr_internal(err, "VM %s: libxl NIC add failed (%d)", vm->uuid, r);
	libxl_device_nic_dispose(&n);
	return r;
}

static int x_vif_unplug(const struct xenops_host *host, const struct vm_spec *vm, int device, bool force,
			struct xerr *err)
{
	(void)host;
	uint32_t domid = 0;
	bool hvm = false;
	if (domain_of(vm->uuid, &domid, &hvm, err) < 0)
		return -1;
	libxl_device_nic n;
	libxl_device_nic_init(&n);
	int r = libxl_devid_to_device_nic(X.ctx, domid, device, &n);
	if (r == 0)
		r = force ? libxl_device_nic_destroy(X.ctx, domid, &n, NULL)
			  : libxl_device_nic_remove(X.ctx, domid, &n, NULL);
	libxl_device_nic_dispose(&n);
	return r ? xerr_internal(err, "VM %s: libxl NIC remove failed (%d)", vm->uuid, r) : 0;
}

static int x_agent(const struct xenops_host *host, const char *uuid, const char *json_cmd, xv *result,
		   int timeout_ms, struct xerr *err)
{
	(void)host, (void)timeout_ms;
	uint32_t domid = 0;
	bool hvm = false;
	if (domain_of(uuid, &domid, &hvm, err) < 0)
		return -2;
	return xen_guest_query(X.xs, domid, json_cmd, result, err);
}

/* ---- start and stop of the daemon ---- */


/* ---- the 5-s metrics: what Xen counts for the domain ----
 * vCPU time from the hypervisor (libxl_list_vcpu), memory the domain holds
 * (libxl_domain_info's current_memkb) and its balloon target (xenstore
 * memory/target), the guest's own free memory where its tools write
 * data/meminfo_free, blkback's per-device request and sector counters
 * (xenbus backend statistics in sysfs) and netback's vif<domid>.<dev>. */

static int64_t read_i64(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return -1;
	long long v;
	int ok = fscanf(f, "%lld", &v) == 1;
	fclose(f);
	return ok ? (int64_t)v : -1;
}

static void stats_disks(const struct xenops_stats_req *s, uint32_t domid, struct rr_vm_counters *o)
{
	for (int i = 0; i < s->ndisks && o->ndisks < RR_MAX_DISKS; i++) {
		int pos = s->disk[i].position;
		if (pos < 0 || pos > 25 || s->disk[i].is_cdrom)
			continue;
		/* the xvd<letter> device number: 202 << 8 | position << 4 */
		char base[128], path[192];
		snprintf(base, sizeof base, "/sys/bus/xen-backend/devices/vbd-%u-%d/statistics", domid,
			 (202 << 8) | (pos << 4));
		snprintf(path, sizeof path, "%s/rd_req", base);
		int64_t rd_req = read_i64(path);
		if (rd_req < 0)
			continue; /* not blkback's (qdisk counts inside its QEMU) */
		struct rr_disk_counters *c = &o->disk[o->ndisks++];
		snprintf(c->dev, sizeof c->dev, "xvd%c", 'a' + pos);
		c->rd_ops = rd_req;
		snprintf(path, sizeof path, "%s/wr_req", base);
		c->wr_ops = read_i64(path);
		snprintf(path, sizeof path, "%s/rd_sect", base);
		c->rd_bytes = read_i64(path) * 512;
		snprintf(path, sizeof path, "%s/wr_sect", base);
		c->wr_bytes = read_i64(path) * 512;
	}
}

static void stats_vifs(const struct xenops_stats_req *s, uint32_t domid, struct rr_vm_counters *o)
{
	static const char *const names[] = {"tx_bytes", "rx_bytes", "tx_errors", "rx_errors"};
	for (int i = 0; i < s->nvifs && o->nvifs < RR_MAX_VIFS; i++) {
		char dev[NET_IFNAMSIZ], path[128];
		if (!net_vif_name(domid, s->vif[i], dev))
			continue;
		int64_t v[4];
		for (int k = 0; k < 4; k++) {
			snprintf(path, sizeof path, "/sys/class/net/%s/statistics/%s", dev, names[k]);
			v[k] = read_i64(path);
		}
		if (v[0] < 0 && v[1] < 0)
			continue;
		struct rr_vif_counters *c = &o->vif[o->nvifs++];
		c->device = s->vif[i];
		/* netback's device sends what the guest receives */
		c->rx_bytes = v[0];
		c->tx_bytes = v[1];
		c->rx_errors = v[2];
		c->tx_errors = v[3];
	}
}

static int x_stats(const struct xenops_host *host, const struct xenops_stats_req *s, struct rr_vm_counters *o)
{
	(void)host;
	uint32_t domid = 0;
	bool hvm = false;
	struct xerr e = XERR_INIT;
	if (domain_of(s->uuid, &domid, &hvm, &e) < 0) {
		xerr_clear(&e);
		return -1;
	}
	libxl_dominfo info;
	libxl_dominfo_init(&info);
	if (libxl_domain_info(X.ctx, &info, domid)) {
		libxl_dominfo_dispose(&info);
		return -1;
	}
	o->memory = (int64_t)info.current_memkb * 1024;
	libxl_dominfo_dispose(&info);
	int nb = 0, ncpus = 0;
	libxl_vcpuinfo *vc = libxl_list_vcpu(X.ctx, domid, &nb, &ncpus);
	for (int i = 0; vc && i < nb; i++) {
		if (!vc[i].online || vc[i].vcpuid >= RR_MAX_VCPUS)
			continue;
		o->vcpu_ns[vc[i].vcpuid] = (int64_t)vc[i].vcpu_time;
		if ((int)vc[i].vcpuid + 1 > o->nvcpus)
			o->nvcpus = (int)vc[i].vcpuid + 1;
	}
	if (vc)
		libxl_vcpuinfo_list_free(vc, nb);
	char path[96];
	snprintf(path, sizeof path, "/local/domain/%u/memory/target", domid);
	unsigned int len;
	char *t = xs_read(X.xs, XBT_NULL, path, &len);
	o->memory_target = t ? strtoll(t, NULL, 10) * 1024 : s->memory_target;
	free(t);
	snprintf(path, sizeof path, "/local/domain/%u/data/meminfo_free", domid);
	t = xs_read(X.xs, XBT_NULL, path, &len);
	if (t)
		o->memory_internal_free = strtoll(t, NULL, 10);
	free(t);
	stats_disks(s, domid, o);
	stats_vifs(s, domid, o);
	return 0;
}

/* ---- disks of a running domain (sm.h's live operations) ----
 * A qdisk disk is open in the domain's device model, libxl's QEMU, whose
 * QMP socket is /var/run/xen/qmp-libxl-<domid>. A snapshot renames the
 * image and puts an overlay at its path; between freeze (the domain
 * paused) and thaw, reopen has that QEMU open the overlay over the node it
 * has open (blockdev-add + blockdev-snapshot), as the QEMU backend does. */

#define LIVE_QMP_TIMEOUT_MS 30000

static int live_freeze(const char *uuid, struct xerr *err)
{
	uint32_t domid;
	bool hvm;
	if (domain_of(uuid, &domid, &hvm, err) < 0)
		return -1;
	int rc = libxl_domain_pause(X.ctx, domid, NULL);
	return rc ? xerr_internal(err, "VM %s: libxl could not pause domain %u (%d)", uuid, domid, rc) : 0;
}

/* The node the device model has at the top of the disk whose image is
 * path (query-block: the images attached to devices). */
static char *top_node(struct qmp *q, const char *path, struct xerr *err)
{
	json_t *r = NULL;
	if (qmp_exec(q, "query-block", NULL, &r, LIVE_QMP_TIMEOUT_MS, err) < 0)
		return NULL;
	char *node = NULL;
	size_t i;
	json_t *b;
	json_array_foreach(r, i, b) {
		json_t *in = json_object_get(b, "inserted");
		const char *f = json_string_value(json_object_get(in, "file"));
		const char *n = json_string_value(json_object_get(in, "node-name"));
		if (f && n && !strcmp(f, path)) {
			node = xstrdup(n);
			break;
		}
	}
	json_decref(r);
	if (!node)
		xerr_internal(err, "the device model has no disk open at %s", path);
	return node;
}

static int live_reopen(const char *uuid, const char *userdevice, const struct sm_attach_info *disk,
		       struct xerr *err)
{
	uint32_t domid;
	bool hvm;
	if (domain_of(uuid, &domid, &hvm, err) < 0)
		return -1;
	char sock[64];
	snprintf(sock, sizeof sock, "/var/run/xen/qmp-libxl-%u", domid);
	struct qmp *q = qmp_open(sock, LIVE_QMP_TIMEOUT_MS, NULL, err);
	if (!q)
		return -1;
	int r = -1;
	char *top = top_node(q, disk->path, err);
	json_t *file = top ? qemu_disk_file_node(disk->path) : NULL;
	if (top && !file)
		xerr_internal(err, "VM %s: cannot open '%s'", uuid, disk->path);
	if (file) {
		static unsigned gen;
		char node[40];
		snprintf(node, sizeof node, "xvd%s-s%u", userdevice, __atomic_add_fetch(&gen, 1, __ATOMIC_RELAXED));
		/* backing null: blockdev-snapshot gives it the open node */
		r = qmp_exec(q, "blockdev-add",
			     json_pack("{ss ss so sn}", "driver", disk->format, "node-name", node, "file", file,
				       "backing"),
			     NULL, LIVE_QMP_TIMEOUT_MS, err);
		if (r == 0) {
			r = qmp_exec(q, "blockdev-snapshot", json_pack("{ss ss}", "node", top, "overlay", node), NULL,
				     LIVE_QMP_TIMEOUT_MS, err);
			if (r < 0) {
				struct xerr e = XERR_INIT;
				qmp_exec(q, "blockdev-del", json_pack("{ss}", "node-name", node), NULL,
					 LIVE_QMP_TIMEOUT_MS, &e);
				xerr_clear(&e);
			}
		}
		if (r == 0)
			log_info("xen %s: disk %s now writes to %s (over %s)", uuid, userdevice, disk->path, top);
	}
	free(top);
	qmp_close(q);
	return r;
}

static void live_thaw(const char *uuid)
{
	uint32_t domid;
	bool hvm;
	struct xerr e = XERR_INIT;
	/* Xen counts the toolstack's pauses: this one undoes freeze's, a
	 * domain the user had paused stays so */
	if (domain_of(uuid, &domid, &hvm, &e) == 0 && libxl_domain_unpause(X.ctx, domid, NULL))
		log_warn("xen %s: could not unpause domain %u after a disk snapshot", uuid, domid);
	xerr_clear(&e);
}

static const struct sm_live_ops x_live = {
	.freeze = live_freeze,
	.reopen = live_reopen,
	.thaw = live_thaw,
};

static int x_init(const struct xenops_host *host, struct xerr *err)
{
	X.xh = host;
	X.logger = xtl_createlogger_stdiostream(stderr, XTL_ERROR, 0);
	if (libxl_ctx_alloc(&X.ctx, LIBXL_VERSION, 0, (xentoollog_logger *)X.logger)) {
		X.ctx = NULL;
		return xerr_set(err, ERR_INTERNAL_ERROR,
				"the xen backend needs a Xen dom0 (libxl could not reach the hypervisor)", NULL);
	}
	X.xs = xs_open(0);
	if (!X.xs) {
		libxl_ctx_free(X.ctx);
		X.ctx = NULL;
		return xerr_set(err, ERR_INTERNAL_ERROR, "the xen backend cannot open xenstore", NULL);
	}
	/* the domains of an earlier daemon: adopted by the uuid Xen keeps */
	int nb = 0;
	libxl_dominfo *doms = libxl_list_domain(X.ctx, &nb);
	struct xenops_domain *live = xcalloc((size_t)(nb > 0 ? nb : 1), sizeof *live);
	size_t n = 0;
	for (int i = 0; i < nb; i++) {
		if (doms[i].domid == 0)
			continue;
		char uuid[40];
		snprintf(uuid, sizeof uuid, LIBXL_UUID_FMT, LIBXL_UUID_BYTES(doms[i].uuid));
		if (!host->ops->vm_known(host->arg, uuid))
			continue;
		enum xstate st = doms[i].shutdown ? (doms[i].shutdown_reason == LIBXL_SHUTDOWN_REASON_REBOOT ? X_REBOOTED
						     : doms[i].shutdown_reason == LIBXL_SHUTDOWN_REASON_CRASH ? X_CRASHED
						     : X_SHUTDOWN)
				 : doms[i].paused ? X_PAUSED
						  : X_RUNNING;
		bool hvm = doms[i].domain_type == LIBXL_DOMAIN_TYPE_HVM;
		struct xvm *v = track(uuid, doms[i].domid, hvm, st);
		release(v);
		memcpy(live[n].uuid, uuid, sizeof uuid);
		live[n].domid = doms[i].domid;
		live[n].paused = st == X_PAUSED;
		n++;
		log_info("xen %s: adopted domain %u", uuid, doms[i].domid);
	}
	libxl_dominfo_list_free(doms, nb);
	host->ops->reconcile(host->arg, live, n);
	free(live);
	if (pthread_create(&X.events, NULL, events_main, NULL) || pthread_create(&X.dispatcher, NULL, dispatcher_main, NULL))
		return xerr_internal(err, "xen backend: cannot start its threads");
	X.started = true;
	return 0;
}

static void x_fini(const struct xenops_host *host)
{
	(void)host;
	if (!X.started)
		return;
	pthread_mutex_lock(&X.lock);
	X.stopping = true;
	pthread_cond_broadcast(&X.cond);
	pthread_mutex_unlock(&X.lock);
	pthread_join(X.dispatcher, NULL);
	/* libxl_event_wait has no wake-up of its own: the event thread ends
	 * with the process; domains keep running */
	pthread_detach(X.events);
	for (struct xvm *v = X.vms; v; v = v->next) {
		xen_console_stop(v->console);
		v->console = NULL;
	}
}

const struct xenops_backend xenops_xen = {
	.name = "xen",
	.init = x_init,
	.start = x_start,
	.shutdown = x_shutdown,
	.reboot = x_reboot,
	.pause = x_pause,
	.unpause = x_unpause,
	.suspend = x_suspend,
	.resume = x_resume,
	.save = x_save,
	.active = x_active,
	.domid = x_domid,
	.host_memory = x_host_memory,
	.fini = x_fini,
	.agent_call = x_agent,
	.disk_plug = x_disk_plug,
	.disk_unplug = x_disk_unplug,
	.cd_change = x_cd_change,
	.set_memory_target = x_memory,
	.set_vcpus = x_vcpus,
	.set_vcpu_params = x_vcpu_params,
	.vif_plug = x_vif_plug,
	.stats = x_stats,
	.live = &x_live,
	.vif_unplug = x_vif_unplug,
};
