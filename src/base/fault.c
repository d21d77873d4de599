/* fault: named fault points armed for their Nth hit (see fault.h). */
#include "fault.h"

#include <stdlib.h>
#include <string.h>

int fault_enabled_;

static const char *const names[FAULT_NPOINTS] = {
	[FAULT_ALLOC] = "alloc",
	[FAULT_WRITE] = "write",
	[FAULT_FSYNC] = "fsync",
	[FAULT_SQL_COMMIT] = "sql_commit",
	[FAULT_QMP] = "qmp",
	[FAULT_QEMU_IMG] = "qemu_img",
	[FAULT_TAP] = "tap",
	[FAULT_HTTP_WRITE] = "http_write",
	[FAULT_INSPECT_HANG] = "inspect_hang",
};

/* Per point: hits so far, the hit that fails (0: none), failures made.
 * Updated with atomics: points are hit from every thread. */
static uint64_t hits[FAULT_NPOINTS], target[FAULT_NPOINTS], fired[FAULT_NPOINTS];

static _Thread_local bool in_scope, scope_failed;

bool fault_hit_slow(enum fault_point p)
{
	if ((unsigned)p >= FAULT_NPOINTS)
		return false;
	uint64_t h = __atomic_add_fetch(&hits[p], 1, __ATOMIC_SEQ_CST);
	uint64_t t = h;
	/* the armed hit fails once; the target is cleared by whoever hits it */
	if (!__atomic_compare_exchange_n(&target[p], &t, 0, false, __ATOMIC_SEQ_CST,
					 __ATOMIC_SEQ_CST))
		return false;
	__atomic_add_fetch(&fired[p], 1, __ATOMIC_SEQ_CST);
	return true;
}

void fault_alloc_note_slow(void)
{
	if (in_scope && fault_hit_slow(FAULT_ALLOC))
		scope_failed = true;
}

void fault_alloc_scope_begin(void)
{
	in_scope = true;
	scope_failed = false;
}

void fault_alloc_scope_end(void)
{
	in_scope = false;
	scope_failed = false;
}

bool fault_alloc_failed(void)
{
	return scope_failed;
}

void fault_enable(void)
{
	__atomic_store_n(&fault_enabled_, 1, __ATOMIC_SEQ_CST);
}

bool fault_is_enabled(void)
{
	return __atomic_load_n(&fault_enabled_, __ATOMIC_RELAXED) != 0;
}

int fault_find(const char *name)
{
	for (int i = 0; i < FAULT_NPOINTS; i++)
		if (!strcmp(names[i], name))
			return i;
	return -1;
}

const char *fault_name(enum fault_point p)
{
	return (unsigned)p < FAULT_NPOINTS ? names[p] : "?";
}

void fault_arm(enum fault_point p, uint64_t n)
{
	if ((unsigned)p >= FAULT_NPOINTS)
		return;
	fault_enable();
	uint64_t t = n ? __atomic_load_n(&hits[p], __ATOMIC_SEQ_CST) + n : 0;
	__atomic_store_n(&target[p], t, __ATOMIC_SEQ_CST);
}

int fault_arm_spec(const char *spec)
{
	enum { MAXN = 32 };
	int pts[MAXN];
	uint64_t ns[MAXN];
	int k = 0;
	const char *s = spec;
	while (*s) {
		const char *colon = strchr(s, ':');
		const char *comma = strchr(s, ',');
		if (!comma)
			comma = s + strlen(s);
		if (!colon || colon > comma || k == MAXN)
			return -1;
		char name[32];
		size_t len = (size_t)(colon - s);
		if (len >= sizeof name)
			return -1;
		memcpy(name, s, len);
		name[len] = '\0';
		char *end;
		unsigned long long n = strtoull(colon + 1, &end, 10);
		if ((pts[k] = fault_find(name)) < 0 || end != comma || end == colon + 1 || n == 0)
			return -1;
		ns[k++] = n;
		s = *comma ? comma + 1 : comma;
	}
	for (int i = 0; i < k; i++)
		fault_arm((enum fault_point)pts[i], ns[i]);
	return 0;
}

uint64_t fault_hits(enum fault_point p)
{
	return (unsigned)p < FAULT_NPOINTS ? __atomic_load_n(&hits[p], __ATOMIC_SEQ_CST) : 0;
}

uint64_t fault_fired(enum fault_point p)
{
	return (unsigned)p < FAULT_NPOINTS ? __atomic_load_n(&fired[p], __ATOMIC_SEQ_CST) : 0;
}
