/* vcpu_params: VCPUs_params parsed and mapped onto Linux's scheduler knobs
 * (see vcpu_params.h). */
#include "vcpu_params.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A whole decimal number (spaces around allowed), or false. */
static bool number(const char *s, int64_t *out)
{
	while (isspace((unsigned char)*s))
		s++;
	if (!isdigit((unsigned char)*s))
		return false;
	errno = 0;
	char *end;
	long long v = strtoll(s, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end)
		return false;
	*out = v;
	return true;
}

/* "0,2-3" style list of CPUs: xapi takes plain comma lists; ranges are a
 * convenience that costs nothing. Empty or out-of-range: false. */
static bool cpu_list(const char *s, size_t len, cpu_set_t *set)
{
	CPU_ZERO(set);
	char *copy = strndup(s, len), *rest = copy;
	bool ok = copy != NULL, any = false;
	/* strsep, not strtok: "1,,2" and "1," have an empty item, refused */
	for (char *tok = rest ? strsep(&rest, ",") : NULL; tok && ok;
	     tok = rest ? strsep(&rest, ",") : NULL) {
		int64_t a, b;
		char *dash = strchr(tok, '-');
		if (dash)
			*dash = '\0';
		ok = number(tok, &a) && (dash ? number(dash + 1, &b) : (b = a, true)) && a <= b &&
		     b < CPU_SETSIZE;
		for (int64_t c = a; ok && c <= b; c++) {
			CPU_SET((int)c, set);
			any = true;
		}
	}
	free(copy);
	return ok && any;
}

void vcpu_params_parse(const xv *map, struct vcpu_params *p)
{
	memset(p, 0, sizeof *p);
	const char *w = xv_map_get_str(map, "weight");
	const char *c = xv_map_get_str(map, "cap");
	const char *m = xv_map_get_str(map, "mask");
	if (w) {
		p->has_weight = number(w, &p->weight) && p->weight >= 1 && p->weight <= VCPU_WEIGHT_MAX;
		p->bad_weight = !p->has_weight;
	}
	if (c) {
		/* Xen takes caps up to 100 per vCPU; more than the host has
		 * is harmless (the limit is never reached) */
		p->has_cap = number(c, &p->cap) && p->cap <= 100 * 4096;
		p->bad_cap = !p->has_cap;
	}
	if (m) {
		bool ok = true;
		for (const char *s = m; ok;) {
			const char *semi = strchr(s, ';');
			size_t len = semi ? (size_t)(semi - s) : strlen(s);
			ok = p->nmasks < VCPU_MASKS_MAX && cpu_list(s, len, &p->masks[p->nmasks]);
			if (ok)
				p->nmasks++;
			if (!semi)
				break;
			s = semi + 1;
		}
		p->has_mask = ok && p->nmasks > 0;
		p->bad_mask = !p->has_mask;
		if (!ok)
			p->nmasks = 0;
	}
}

int64_t vcpu_weight_to_cgroup2(int64_t weight)
{
	int64_t v = (weight * 100 + VCPU_WEIGHT_DEFAULT / 2) / VCPU_WEIGHT_DEFAULT;
	return v < 1 ? 1 : v > 10000 ? 10000 : v;
}

int64_t vcpu_weight_to_shares(int64_t weight)
{
	int64_t v = weight * 1024 / VCPU_WEIGHT_DEFAULT;
	return v < 2 ? 2 : v > 262144 ? 262144 : v;
}

int64_t vcpu_cap_to_quota(int64_t cap)
{
	if (cap <= 0)
		return -1;
	/* the kernel refuses quotas under 1 ms */
	int64_t q = cap * CPU_PERIOD_US / 100;
	return q < 1000 ? 1000 : q;
}

const cpu_set_t *vcpu_mask_for(const struct vcpu_params *p, size_t i)
{
	if (!p->has_mask || !p->nmasks)
		return NULL;
	return &p->masks[i < p->nmasks ? i : 0];
}
