/* qemu_proc: QEMU processes and their files under <run-dir>/vm/<uuid>/.
 * A QEMU is started in a session of its own and left to init, so it belongs
 * to no process group of xenond's and outlives it; everything needed to find
 * it again (pid file, sockets, domid) lives in its directory. */
#include "qemu_int.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

/* Whether a unix socket takes a connection (closed again at once). */
static bool accepts(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof sa.sun_path)
		return false;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return ok;
}

/* Whether pid exists and is not a zombie (it need not be our child). */
static bool proc_alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *rp = strrchr(buf, ')');
	return rp && rp[1] == ' ' && rp[2] != 'Z' && rp[2] != 'X';
}

char *qemu_log_tail(const char *dir)
{
	char *logp = qemu_file(dir, "qemu.log");
	char *msg = tail_of(logp, 2000);
	free(logp);
	return msg;
}

int qemu_launch(const struct qemu_argv *argv, const char *dir, const char *vm_ref, const int *fds, size_t nfds,
		pid_t *pid, struct xerr *err)
{
	*pid = -1;
	/* QEMU's messages (it does not daemonize: its seccomp filter forbids
	 * the fork): a file, so a failure can be quoted */
	char *logp = qemu_file(dir, "qemu.log");
	int logfd = open(logp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	free(logp);
	int nullfd = open("/dev/null", O_RDWR | O_CLOEXEC);
	int pfd[2] = {-1, -1};
	if (logfd < 0 || nullfd < 0 || pipe2(pfd, O_CLOEXEC) < 0) {
		int e = errno;
		if (logfd >= 0)
			close(logfd);
		if (nullfd >= 0)
			close(nullfd);
		return xerr_set(err, ERR_FAILED_TO_START_EMULATOR, vm_ref, "qemu", strerror(e), NULL);
	}
	/* the descriptors QEMU gets become 3, 4, …: first moved above those
	 * numbers so that placing one never overwrites another */
	int low = 3 + (int)nfds, hi_log = fcntl(logfd, F_DUPFD_CLOEXEC, low), hi_null = fcntl(nullfd, F_DUPFD_CLOEXEC, low);
	int *hi = xcalloc(nfds + 1, sizeof *hi);
	for (size_t i = 0; i < nfds; i++)
		hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, low);
	close(logfd);
	close(nullfd);
	/* the child runs only async-signal-safe calls: everything it needs is
	 * ready before the fork */
	pid_t child = fork();
	if (child == 0) {
		/* a session of its own: a signal to xenond's process group (Ctrl-C,
		 * a service manager stopping the daemon) does not reach the VM;
		 * the second fork leaves QEMU to init, so it outlives xenond */
		setsid();
		pid_t g = fork();
		if (g != 0) {
			(void)!write(pfd[1], &g, sizeof g);
			_exit(g < 0);
		}
		struct sigaction dfl = {.sa_handler = SIG_DFL};
		static const int sigs[] = {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGCHLD};
		for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
			sigaction(sigs[i], &dfl, NULL);
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		if (dup2(hi_null, 0) < 0 || dup2(hi_null, 1) < 0 || dup2(hi_log, 2) < 0)
			_exit(126);
		for (size_t i = 0; i < nfds; i++)
			if (hi[i] < 0 || dup2(hi[i], 3 + (int)i) < 0)
				_exit(126);
		/* no socket, database or pipe of the daemon's may live on in QEMU:
		 * a listening port held by a VM would keep a restarted xenond out */
		close_range(3 + (unsigned)nfds, ~0U, 0);
		if (chdir("/") < 0)
			_exit(126);
		execvp(argv->v[0], argv->v);
		_exit(127);
	}
	close(pfd[1]);
	close(hi_log);
	close(hi_null);
	for (size_t i = 0; i < nfds; i++)
		if (hi[i] >= 0)
			close(hi[i]);
	free(hi);
	pid_t g = -1;
	if (child > 0) {
		int st;
		while (waitpid(child, &st, 0) < 0 && errno == EINTR)
			;
		if (read(pfd[0], &g, sizeof g) != (ssize_t)sizeof g)
			g = -1;
	}
	close(pfd[0]);
	if (g <= 0) {
		char *m = xasprintf("%s: cannot start it: %s", argv->v[0], strerror(errno));
		xerr_set(err, ERR_FAILED_TO_START_EMULATOR, vm_ref, "qemu", m, NULL);
		free(m);
		return -1;
	}
	/* started once its monitor socket takes connections (the monitor then
	 * answers as soon as devices are set up; the file alone may be there
	 * before QEMU listens on it); a QEMU that exits first failed */
	char *sock = qemu_file(dir, "qmp.sock");
	bool up = false;
	for (int waited = 0; waited < 120000; waited += 10) {
		if (!proc_alive(g))
			break;
		if (accepts(sock)) {
			up = true;
			break;
		}
		sleep_ms(10);
	}
	free(sock);
	if (!up) {
		bool alive = proc_alive(g);
		if (alive)
			kill(g, SIGKILL);
		char *msg = alive ? xstrdup("QEMU did not finish starting within 120 s") : qemu_log_tail(dir);
		if (!*msg) {
			free(msg);
			msg = xstrdup("QEMU exited while starting");
		}
		xerr_set(err, ERR_FAILED_TO_START_EMULATOR, vm_ref, "qemu", msg, NULL);
		free(msg);
		return -1;
	}
	*pid = g;
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
	qemu_revoke_all(dir);
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
