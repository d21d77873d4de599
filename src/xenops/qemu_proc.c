/* qemu_proc: QEMU processes and their files under <run-dir>/vm/<uuid>/.
 * A QEMU is started in a session of its own and daemonizes, so it belongs
 * to no process group of xenond's and outlives it; everything needed to find
 * it again (pid file, sockets, domid) lives in its directory. */
#include "qemu_int.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

char *qemu_vm_dir(const char *run_dir, const char *uuid)
{
	return xasprintf("%s/vm/%s", run_dir, uuid);
}

char *qemu_file(const char *dir, const char *name)
{
	return xasprintf("%s/%s", dir, name);
}

static void sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* The last non-empty lines of a small file, for an error message. */
static char *tail_of(const char *path, size_t max)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return xstrdup("");
	char *buf = xcalloc(1, max + 1);
	fseek(f, 0, SEEK_END);
	long size = ftell(f);
	fseek(f, size > (long)max ? size - (long)max : 0, SEEK_SET);
	size_t n = fread(buf, 1, max, f);
	fclose(f);
	buf[n] = '\0';
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

pid_t qemu_read_pid(const char *dir)
{
	char *p = qemu_file(dir, "qemu.pid");
	FILE *f = fopen(p, "r");
	free(p);
	long pid = -1;
	if (f) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid > 1 ? (pid_t)pid : -1;
}

int qemu_launch(const struct qemu_argv *argv, const char *dir, const char *vm_ref, pid_t *pid,
		struct xerr *err)
{
	*pid = -1;
	/* QEMU's own messages until it has daemonized (then it points its
	 * stderr at /dev/null): a file, so a failure can be quoted */
	char *logp = qemu_file(dir, "qemu.log");
	int logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (logfd < 0) {
		int e = errno;
		free(logp);
		return xerr_set(err, ERR_FAILED_TO_START_EMULATOR, vm_ref, "qemu", strerror(e), NULL);
	}
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, logfd, 2);
	/* no socket, database or pipe of the daemon's may live on in QEMU: a
	 * listening port held by a VM would keep a restarted xenond out */
	posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	posix_spawnattr_t attr;
	posix_spawnattr_init(&attr);
	sigset_t def, none;
	sigemptyset(&def);
	sigaddset(&def, SIGPIPE);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGHUP);
	sigemptyset(&none);
	posix_spawnattr_setsigdefault(&attr, &def);
	posix_spawnattr_setsigmask(&attr, &none);
	/* its own session: a signal to xenond's process group (Ctrl-C, a
	 * service manager stopping the daemon) does not reach the VMs */
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF |
						POSIX_SPAWN_SETSIGMASK);
	pid_t child;
	int e = posix_spawnp(&child, argv->v[0], &fa, &attr, argv->v, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	close(logfd);
	if (e != 0) {
		free(logp);
		char *m = xasprintf("%s: %s", argv->v[0], strerror(e));
		xerr_set(err, ERR_FAILED_TO_START_EMULATOR, vm_ref, "qemu", m, NULL);
		free(m);
		return -1;
	}
	/* -daemonize: the first process exits once the daemon has set up every
	 * device and socket (0) or failed (1) */
	int st = 0;
	pid_t w = 0;
	for (int waited = 0; waited < 120000 && w == 0; waited += 10) {
		w = waitpid(child, &st, WNOHANG);
		if (w == 0)
			sleep_ms(10);
	}
	if (w == 0) {
		kill(child, SIGKILL);
		waitpid(child, &st, 0);
		free(logp);
		return xerr_set(err, ERR_FAILED_TO_START_EMULATOR, vm_ref, "qemu",
				"QEMU did not finish starting within 120 s", NULL);
	}
	if (w < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		char *msg = tail_of(logp, 2000);
		free(logp);
		if (!*msg) {
			free(msg);
			msg = xasprintf("QEMU exited with status %d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
		}
		xerr_set(err, ERR_FAILED_TO_START_EMULATOR, vm_ref, "qemu", msg, NULL);
		free(msg);
		return -1;
	}
	free(logp);
	*pid = qemu_read_pid(dir);
	if (*pid < 0)
		return xerr_set(err, ERR_FAILED_TO_START_EMULATOR, vm_ref, "qemu",
				"QEMU daemonized but wrote no pid file", NULL);
	return 0;
}

bool qemu_pid_is_vm(pid_t pid, const char *uuid)
{
	if (pid <= 1)
		return false;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	char buf[512];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S …": the state follows the last ')' */
	char *rp = strrchr(buf, ')');
	if (!rp || rp[1] != ' ' || rp[2] == 'Z' || rp[2] == 'X')
		return false;
	snprintf(path, sizeof path, "/proc/%d/cmdline", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	char cmd[8192];
	n = fread(cmd, 1, sizeof cmd - 1, f);
	fclose(f);
	cmd[n] = '\0';
	if (!strstr(cmd, "qemu"))
		return false;
	char want[64];
	snprintf(want, sizeof want, "guest=%s,", uuid);
	for (size_t i = 0; i < n; i += strlen(cmd + i) + 1)
		if (!strncmp(cmd + i, want, strlen(want)))
			return true;
	return false;
}

bool qemu_wait_gone(pid_t pid, const char *uuid, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 20) {
		if (!qemu_pid_is_vm(pid, uuid))
			return true;
		sleep_ms(20);
	}
	return !qemu_pid_is_vm(pid, uuid);
}

int64_t qemu_read_domid(const char *dir)
{
	char *p = qemu_file(dir, "domid");
	FILE *f = fopen(p, "r");
	free(p);
	long long d = -1;
	if (f) {
		if (fscanf(f, "%lld", &d) != 1)
			d = -1;
		fclose(f);
	}
	return d;
}

void qemu_write_domid(const char *dir, int64_t domid)
{
	char *p = qemu_file(dir, "domid");
	char *tmp = qemu_file(dir, "domid.tmp");
	FILE *f = fopen(tmp, "w");
	if (f) {
		fprintf(f, "%lld\n", (long long)domid);
		if (fclose(f) == 0 && rename(tmp, p) == 0) {
			free(p);
			free(tmp);
			return;
		}
	}
	log_warn("qemu: cannot write %s: %s", p, strerror(errno));
	unlink(tmp);
	free(p);
	free(tmp);
}

void qemu_clean_dir(const char *dir)
{
	static const char *const names[] = {"qmp.sock", "vnc.sock", "serial.sock", "ga.sock",
					    "qemu.pid", "domid", "OVMF_VARS.fd", "qemu.log",
					    "vcpu-threads", NULL};
	for (const char *const *n = names; *n; n++) {
		char *p = qemu_file(dir, *n);
		unlink(p);
		free(p);
	}
}

void qemu_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char *p = qemu_file(dir, e->d_name);
			unlink(p);
			free(p);
		}
		closedir(d);
	}
	rmdir(dir);
}
