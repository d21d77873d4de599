/* qemu_cgroup: a QEMU's CPU weight and cap (VCPUs_params weight, cap) as a
 * cgroup of its own, <root>/xenon/<vm-uuid>. cgroup v2 first: its root is
 * the only place where the cpu controller can be enabled for children
 * without owning the systemd tree (the root is exempt from the
 * no-internal-processes rule). On a hybrid host whose cpu controller is
 * bound to a v1 hierarchy, the v2 tree cannot have it, so the v1 cpu
 * hierarchy is used instead; with neither, nothing is applied and the
 * caller reports the keys as not applied. */
#include "qemu_int.h"
#include "vcpu_params.h"
#include "../base/log.h"
#include "../base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define CG_DIR "xenon" /* shared by every xenond; only VM cgroups are removed */

/* The mount point of the cgroup2 tree, and of the v1 hierarchy holding the
 * cpu controller (NULL when none), from /proc/self/mounts. Owned. */
static void find_mounts(char **v2, char **v1cpu)
{
	*v2 = *v1cpu = NULL;
	FILE *f = fopen("/proc/self/mounts", "re");
	char line[4096];
	while (f && fgets(line, sizeof line, f)) {
		char dev[256], dir[1024], type[64], opts[1024];
		if (sscanf(line, "%255s %1023s %63s %1023s", dev, dir, type, opts) != 4)
			continue;
		if (!strcmp(type, "cgroup2") && !*v2) {
			*v2 = xstrdup(dir);
		} else if (!strcmp(type, "cgroup") && !*v1cpu) {
			char *save = NULL;
			for (char *o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save))
				if (!strcmp(o, "cpu")) {
					*v1cpu = xstrdup(dir);
					break;
				}
		}
	}
	if (f)
		fclose(f);
}

static int write_file(const char *dir, const char *name, const char *value)
{
	char *p = xasprintf("%s/%s", dir, name);
	int fd = open(p, O_WRONLY | O_CLOEXEC);
	int rc = -1, e = 0;
	if (fd >= 0) {
		size_t n = strlen(value);
		rc = write(fd, value, n) == (ssize_t)n ? 0 : -1;
		e = errno;
		close(fd);
	} else {
		e = errno;
	}
	if (rc < 0)
		log_debug("cgroup: writing '%s' to %s: %s", value, p, strerror(e));
	free(p);
	errno = e;
	return rc;
}

static bool file_has_word(const char *dir, const char *name, const char *word)
{
	char *p = xasprintf("%s/%s", dir, name);
	FILE *f = fopen(p, "re");
	free(p);
	char buf[1024] = "";
	if (!f)
		return false;
	bool found = false;
	if (fgets(buf, sizeof buf, f)) {
		char *save = NULL;
		for (char *w = strtok_r(buf, " \n", &save); w && !found; w = strtok_r(NULL, " \n", &save))
			found = !strcmp(w, word);
	}
	fclose(f);
	return found;
}

static bool mkdir_ok(const char *p)
{
	return mkdir(p, 0755) == 0 || errno == EEXIST;
}

/* A v2 cgroup for uuid with the cpu controller, or NULL. Owned. */
static char *v2_cgroup(const char *root, const char *uuid)
{
	if (!file_has_word(root, "cgroup.controllers", "cpu"))
		return NULL;
	char *parent = xasprintf("%s/%s", root, CG_DIR), *dir = NULL;
	if (!file_has_word(root, "cgroup.subtree_control", "cpu"))
		write_file(root, "cgroup.subtree_control", "+cpu");
	if (mkdir_ok(parent) && (file_has_word(parent, "cgroup.subtree_control", "cpu") ||
				 write_file(parent, "cgroup.subtree_control", "+cpu") == 0)) {
		dir = xasprintf("%s/%s", parent, uuid);
		char *w = xasprintf("%s/cpu.weight", dir);
		if (!mkdir_ok(dir) || access(w, W_OK) != 0) {
			rmdir(dir);
			free(dir);
			dir = NULL;
		}
		free(w);
	}
	free(parent);
	return dir;
}

static char *v1_cgroup(const char *root, const char *uuid)
{
	char *parent = xasprintf("%s/%s", root, CG_DIR), *dir = NULL;
	if (mkdir_ok(parent)) {
		dir = xasprintf("%s/%s", parent, uuid);
		if (!mkdir_ok(dir)) {
			free(dir);
			dir = NULL;
		}
	}
	free(parent);
	return dir;
}

int qemu_cgroup_apply_at(const char *v2, const char *v1, const char *uuid, pid_t pid,
			 const struct vcpu_params *p, bool *weight_done, bool *cap_done)
{
	*weight_done = *cap_done = false;
	char *dir = v2 ? v2_cgroup(v2, uuid) : NULL;
	bool is_v2 = dir != NULL;
	if (!dir && v1)
		dir = v1_cgroup(v1, uuid);
	if (!dir) {
		log_warn("qemu %s: VCPUs_params weight/cap not applied: no cgroup cpu controller "
			 "(cgroup v2 at %s lacks it, no v1 cpu hierarchy)",
			 uuid, v2 ? v2 : "(none)");
		return -1;
	}
	/* absent keys go back to the defaults: the map is the whole truth */
	int64_t weight = p->has_weight ? p->weight : VCPU_WEIGHT_DEFAULT;
	int64_t quota = vcpu_cap_to_quota(p->has_cap ? p->cap : 0);
	char w[32], c[64], pidbuf[32];
	bool wok, cok;
	if (is_v2) {
		snprintf(w, sizeof w, "%lld", (long long)vcpu_weight_to_cgroup2(weight));
		if (quota < 0)
			snprintf(c, sizeof c, "max %d", CPU_PERIOD_US);
		else
			snprintf(c, sizeof c, "%lld %d", (long long)quota, CPU_PERIOD_US);
		wok = write_file(dir, "cpu.weight", w) == 0;
		cok = write_file(dir, "cpu.max", c) == 0;
	} else {
		snprintf(w, sizeof w, "%lld", (long long)vcpu_weight_to_shares(weight));
		snprintf(c, sizeof c, "%lld", (long long)quota);
		char period[16];
		snprintf(period, sizeof period, "%d", CPU_PERIOD_US);
		wok = write_file(dir, "cpu.shares", w) == 0;
		cok = write_file(dir, "cpu.cfs_period_us", period) == 0 &&
		      write_file(dir, "cpu.cfs_quota_us", c) == 0;
	}
	snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	bool moved = write_file(dir, "cgroup.procs", pidbuf) == 0;
	if (!moved) {
		wok = cok = false;
		log_warn("qemu %s: cannot move pid %d into cgroup %s: %s", uuid, (int)pid, dir,
			 strerror(errno));
	} else {
		log_info("qemu %s: cgroup %s %s: %s=%s%s, %s=%s%s", uuid, is_v2 ? "v2" : "v1 (no cpu controller in v2)",
			 dir, is_v2 ? "cpu.weight" : "cpu.shares", w, wok ? "" : " (failed)",
			 is_v2 ? "cpu.max" : "cpu.cfs_quota_us", c, cok ? "" : " (failed)");
	}
	*weight_done = wok && p->has_weight;
	*cap_done = cok && p->has_cap;
	free(dir);
	return moved ? 0 : -1;
}

int qemu_cgroup_apply(const char *uuid, pid_t pid, const struct vcpu_params *p, bool *weight_done,
		      bool *cap_done)
{
	char *v2 = NULL, *v1 = NULL;
	find_mounts(&v2, &v1);
	int r = qemu_cgroup_apply_at(v2, v1, uuid, pid, p, weight_done, cap_done);
	free(v2);
	free(v1);
	return r;
}

int qemu_cgroup_enter(const char *uuid, pid_t pid)
{
	char *v2 = NULL, *v1 = NULL;
	find_mounts(&v2, &v1);
	free(v1);
	if (!v2) {
		log_warn("qemu %s: no cgroup v2 tree: QEMU stays in xenond's cgroup", uuid);
		return -1;
	}
	char *parent = xasprintf("%s/%s", v2, CG_DIR), *dir = xasprintf("%s/%s", parent, uuid);
	char pidbuf[32];
	snprintf(pidbuf, sizeof pidbuf, "%d", (int)pid);
	int rc = mkdir_ok(parent) && mkdir_ok(dir) ? write_file(dir, "cgroup.procs", pidbuf) : -1;
	if (rc < 0)
		log_warn("qemu %s: cannot put pid %d in cgroup %s: %s", uuid, (int)pid, dir, strerror(errno));
	else
		log_debug("qemu %s: in cgroup %s", uuid, dir);
	free(parent);
	free(dir);
	free(v2);
	return rc;
}

void qemu_cgroup_remove(const char *uuid)
{
	char *v2 = NULL, *v1 = NULL;
	find_mounts(&v2, &v1);
	qemu_cgroup_remove_at(v2, v1, uuid);
	free(v2);
	free(v1);
}

void qemu_cgroup_remove_at(const char *v2, const char *v1, const char *uuid)
{
	const char *roots[2] = {v2, v1};
	for (int i = 0; i < 2; i++) {
		if (!roots[i])
			continue;
		char *dir = xasprintf("%s/%s/%s", roots[i], CG_DIR, uuid);
		/* a QEMU not yet reaped still counts as a member: retry briefly */
		for (int tries = 0; tries < 40 && rmdir(dir) < 0 && errno == EBUSY; tries++)
			nanosleep(&(struct timespec){0, 50 * 1000 * 1000}, NULL);
		if (access(dir, F_OK) == 0)
			log_warn("cgroup: cannot remove %s: %s", dir, strerror(errno));
		free(dir);
	}
}
