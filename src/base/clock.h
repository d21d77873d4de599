/* clock: the one monotonic millisecond clock every layer measures
 * deadlines, timeouts and ages with, so they compare with each other. */
#ifndef XENON_CLOCK_H
#define XENON_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: never jumps with the wall clock. */
int64_t clock_now_ms(void);
/* The same clock in nanoseconds, for durations too short for ms. */
int64_t clock_now_ns(void);

struct timespec;
/* The CLOCK_REALTIME instant ms from now, for pthread_cond_timedwait on a
 * condition made with the default clock. */
void clock_realtime_after(struct timespec *ts, int64_t ms);

#endif
