/* fault: named fault points a test can arm to fail on their Nth hit, in
 * the manner of SQLite's sqlite3FaultSim. Each point is a call at the
 * place where the real failure would come from (a write, an fsync, the
 * SQLite commit, a QMP command, a qemu-img run, a tap, an HTTP write); the
 * code there takes the same failure path it would for the real error.
 *
 * Compiled in always. Until fault_enable() (xenond --debug-faults, or
 * XENON_FAULT in its environment) a point costs one load and one branch
 * predicted not taken; enabled, every hit is counted, so a test can count
 * the hits of a successful operation, then fail hit 1..N in turn.
 *
 * Allocation is different: the daemon aborts on a real out-of-memory
 * (mem.h), so an injected one cannot be a NULL return. As SQLite's
 * mallocFailed does, the "alloc" point marks the current transaction
 * failed when a buffer (strbuf) or value (xv array, map) grows inside it;
 * the code goes on, and the commit answers out of memory and rolls back.
 * Growth outside a transaction is not counted. */
#ifndef XENON_BASE_FAULT_H
#define XENON_BASE_FAULT_H

#include <stdbool.h>
#include <stdint.h>

enum fault_point {
	FAULT_ALLOC,      /* "alloc": strbuf / xv growth inside a transaction */
	FAULT_WRITE,      /* "write": disk image data written (formats/qcow2w) */
	FAULT_FSYNC,      /* "fsync": disk image data flushed (formats/qcow2w) */
	FAULT_SQL_COMMIT, /* "sql_commit": the durable log's commit (db/durable.c) */
	FAULT_QMP,        /* "qmp": a QMP command sent to QEMU (xenops/qmp.c) */
	FAULT_QEMU_IMG,   /* "qemu_img": a qemu-img run (sm/sm.c) */
	FAULT_TAP,        /* "tap": a tap device created (net/link.c) */
	FAULT_HTTP_WRITE, /* "http_write": a piece of a streamed HTTP body (server) */
	FAULT_INSPECT_HANG, /* "inspect_hang": the inspection appliance stops answering (inspect) */
	FAULT_NPOINTS
};

/* Nonzero once fault_enable() ran: the one word a disarmed point reads. */
extern int fault_enabled_;

bool fault_hit_slow(enum fault_point p);
void fault_alloc_note_slow(void);

/* True when this hit of point p is the one armed to fail: the caller
 * then fails as it would for the real error (setting errno if it reads
 * it). Counts the hit when enabled. */
static inline bool fault_hit(enum fault_point p)
{
	if (__builtin_expect(!__atomic_load_n(&fault_enabled_, __ATOMIC_RELAXED), 1))
		return false;
	return fault_hit_slow(p);
}

/* Called where a buffer or value grows; counts an "alloc" hit when the
 * calling thread is inside a transaction (fault_alloc_scope_begin). */
static inline void fault_alloc_note(void)
{
	if (__builtin_expect(!__atomic_load_n(&fault_enabled_, __ATOMIC_RELAXED), 1))
		return;
	fault_alloc_note_slow();
}

/* The allocation scope of the calling thread: begun when a transaction
 * begins, ended when it commits or aborts. fault_alloc_failed says
 * whether an injected allocation failure happened in it. */
void fault_alloc_scope_begin(void);
void fault_alloc_scope_end(void);
bool fault_alloc_failed(void);

/* Starts counting hits (and lets points fire). Not undone. */
void fault_enable(void);
bool fault_is_enabled(void);
/* The point called name ("qmp"), or -1. */
int fault_find(const char *name);
const char *fault_name(enum fault_point p);
/* Arms p to fail its nth hit from now (n >= 1; 0 disarms). Enables. */
void fault_arm(enum fault_point p, uint64_t n);
/* Arms from a list "qmp:3,qemu_img:1" (hits counted from now); -1 with
 * nothing armed when an entry is malformed or names no point. */
int fault_arm_spec(const char *spec);
/* Hits counted since enabled, and failures injected, of point p. */
uint64_t fault_hits(enum fault_point p);
uint64_t fault_fired(enum fault_point p);

#endif
