/* space: what the file driver checks before it makes or grows images, as
 * XenServer's file SRs do: thin provisioning (the default) needs room for
 * the new images' metadata only; an SR whose sm_config says
 * allocation=thick needs room for the whole disk, which it preallocates.
 * Shortfalls are xapi's SR_FULL(requested, maximum), both in bytes. */
#include "sm.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

static int64_t json_int(const char *out, const char *key)
{
	const char *p = out ? strstr(out, key) : NULL;
	if (!p)
		return -1;
	p += strlen(key);
	while (*p == '"' || *p == ':' || *p == ' ')
		p++;
	return strtoll(p, NULL, 10);
}

/* qemu-img measure for a qcow2 of size bytes: empty and fully allocated. */
int sm_qcow2_measure(int64_t size, int64_t *empty, int64_t *full, struct xerr *err)
{
	char sz[32];
	snprintf(sz, sizeof sz, "%lld", (long long)(size > 0 ? size : 512));
	const char *args[] = {"measure", "--output=json", "-O", "qcow2", "--size", sz, NULL};
	char *out = NULL;
	if (sm_qemu_img(args, &out, SM_E_VDI_CREATE, "qemu-img measure failed", err) < 0)
		return -1;
	*empty = json_int(out, "\"required\"");
	*full = json_int(out, "\"fully-allocated\"");
	free(out);
	if (*empty < 0 || *full < 0)
		return sm_fail(err, SM_E_VDI_CREATE, "qemu-img measure: no sizes", "");
	return 0;
}

int64_t sm_free_space(const char *path)
{
	struct statvfs v;
	if (statvfs(path, &v) < 0)
		return -1;
	return (int64_t)v.f_bavail * (int64_t)v.f_frsize;
}

int sm_space_check(const struct sm_sr *sr, int64_t need, struct xerr *err)
{
	struct sm_stat st;
	int64_t avail = -1;
	if (sm_sr_statvfs(sr, &st, &avail) < 0)
		avail = -1;
	if (avail < 0 || need <= avail)
		return 0; /* an unreadable filesystem fails in the operation itself */
	char r[32], m[32];
	snprintf(r, sizeof r, "%lld", (long long)need);
	snprintf(m, sizeof m, "%lld", (long long)avail);
	return xerr_set(err, ERR_SR_FULL, r, m, NULL);
}

/* An empty qcow2's size with 64 KiB clusters: header, refcount table and
 * block, a spare cluster, and the L1 table (8 bytes per 512 MiB); what
 * qemu-img measure reports, without a process per snapshot. */
static int64_t qcow2_empty(int64_t size)
{
	const int64_t c = 65536;
	int64_t l1 = (size + 8192 * c - 1) / (8192 * c) * 8;
	return c * (4 + (l1 + c - 1) / c);
}

int sm_space_for(const struct sm_sr *sr, int64_t old_size, int64_t new_size, int n_meta,
		 bool whole, struct xerr *err)
{
	int64_t need;
	if (old_size > 0)
		need = qcow2_empty(new_size) - qcow2_empty(old_size);
	else
		need = n_meta * qcow2_empty(new_size);
	if (whole) {
		int64_t e, f_new, f_old = 0;
		if (sm_qcow2_measure(new_size, &e, &f_new, err) < 0)
			return -1;
		if (old_size > 0 && sm_qcow2_measure(old_size, &e, &f_old, err) < 0)
			return -1;
		need = old_size > 0 ? f_new - f_old : f_new + (n_meta - 1) * qcow2_empty(new_size);
	}
	return need > 0 ? sm_space_check(sr, need, err) : 0;
}
