/* clock: the one monotonic millisecond clock every layer measures
 * deadlines, timeouts and ages with, so they compare with each other. */
#ifndef XENON_CLOCK_H
#define XENON_CLOCK_H

#include <stdint.h>

/* Milliseconds of CLOCK_MONOTONIC: never jumps with the wall clock. */
int64_t clock_now_ms(void);
/* The same clock in nanoseconds, for durations too short for ms. */
int64_t clock_now_ns(void);

#endif
