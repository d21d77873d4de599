/* cbt: changed-block tracking for the qcow2 file driver. The chain itself
 * is the change log: the blocks changed between two snapshots of a disk are
 * those allocated in the layers of either chain above their deepest common
 * base, read with `qemu-img map`, as a bitmap of one bit per 64 KiB block. */
#include "sm.h"
#include "../base/b64.h"
#include "../base/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXCHAIN 256

/* The chain of uuids from uuid (when its image exists) down to the root. */
static size_t chain(const struct sm_sr *sr, const char *uuid, char (*out)[UUID_STRLEN + 1])
{
	size_t n = 0;
	char cur[UUID_STRLEN + 1];
	snprintf(cur, sizeof cur, "%s", uuid ? uuid : "");
	while (cur[0] && n < MAXCHAIN) {
		char parent[UUID_STRLEN + 1];
		if (sm_file_backing(sr, cur, parent) < 0)
			break;
		memcpy(out[n++], cur, sizeof cur);
		memcpy(cur, parent, sizeof cur);
	}
	return n;
}

static void set_bits(unsigned char *bm, int64_t nblocks, int64_t start, int64_t len)
{
	if (len <= 0)
		return;
	int64_t first = start / SM_CBT_BLOCK, last = (start + len - 1) / SM_CBT_BLOCK;
	for (int64_t b = first; b <= last && b < nblocks; b++)
		bm[b / 8] |= (unsigned char)(1u << (b % 8));
}

static int64_t num_after(const char *obj, const char *end, const char *key)
{
	const char *p = strstr(obj, key);
	if (!p || p > end)
		return -1;
	p += strlen(key);
	while (*p == ' ' || *p == ':' || *p == '"')
		p++;
	return strtoll(p, NULL, 10);
}

/* Marks the extents of `qemu-img map` on image uuid that come from the
 * top `layers` images of its chain. */
int sm_cbt_map_layers(const struct sm_sr *sr, const char *uuid, size_t layers, unsigned char *bm,
		      int64_t nblocks, struct xerr *err)
{
	if (!layers)
		return 0;
	char name[UUID_STRLEN + 8];
	snprintf(name, sizeof name, "%s.qcow2", uuid);
	char *path = sm_path(sr, name, err);
	if (!path)
		return -1;
	const char *args[] = {"map", "-U", "--output=json", "-f", "qcow2", path, NULL};
	char *out = NULL;
	int rc = sm_qemu_img(args, &out, SM_E_VDI_UNAVAILABLE, "qemu-img map failed", err);
	free(path);
	if (rc < 0)
		return -1;
	for (const char *p = strchr(out, '{'); p; p = strchr(p + 1, '{')) {
		const char *end = strchr(p, '}');
		if (!end)
			break;
		int64_t start = num_after(p, end, "\"start\""), len = num_after(p, end, "\"length\"");
		int64_t depth = num_after(p, end, "\"depth\"");
		/* unallocated everywhere reports the bottom layer's depth */
		const char *absent = strstr(p, "\"present\": false");
		if (absent && absent < end)
			continue;
		if (start >= 0 && depth >= 0 && (size_t)depth < layers)
			set_bits(bm, nblocks, start, len);
	}
	free(out);
	return 0;
}

/* from may have lost its data (VDI.data_destroy): its chain then starts at
 * the base it was on, from->parent. */
int sm_cbt_changed_blocks(struct sm_sr *sr, const struct sm_vdi *from, const struct sm_vdi *to,
			  char **out, struct xerr *err)
{
	char (*fc)[UUID_STRLEN + 1] = xcalloc(MAXCHAIN, sizeof *fc);
	char (*tc)[UUID_STRLEN + 1] = xcalloc(MAXCHAIN, sizeof *tc);
	size_t nf = chain(sr, from->location, fc);
	if (!nf)
		nf = chain(sr, from->parent, fc);
	size_t nt = chain(sr, to->location, tc);
	int rc = -1;
	if (!nt) {
		sm_fail(err, SM_E_VDI_UNAVAILABLE, "no image for the VDI to compare with", "");
		goto out;
	}
	/* layers above the deepest common base; none shared: all of them */
	size_t kf = nf, kt = nt;
	for (size_t i = 0; i < nf && kf == nf; i++)
		for (size_t j = 0; j < nt; j++)
			if (!strcmp(fc[i], tc[j])) {
				kf = i;
				kt = j;
				break;
			}
	int64_t size = to->virtual_size > from->virtual_size ? to->virtual_size : from->virtual_size;
	int64_t nblocks = (size + SM_CBT_BLOCK - 1) / SM_CBT_BLOCK;
	size_t nbytes = (size_t)(nblocks + 7) / 8;
	unsigned char *bm = xcalloc(nbytes + 1, 1);
	rc = sm_cbt_map_layers(sr, tc[0], kt, bm, nblocks, err);
	if (rc == 0 && nf)
		rc = sm_cbt_map_layers(sr, fc[0], kf, bm, nblocks, err);
	if (rc == 0)
		*out = b64_encode(bm, nbytes);
	free(bm);
out:
	free(fc);
	free(tc);
	return rc;
}
