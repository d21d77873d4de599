/* clock: CLOCK_MONOTONIC in milliseconds (see clock.h), written once
 * instead of in each module that waits for something. */
#include "clock.h"

#include <time.h>

int64_t clock_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void clock_realtime_after(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	int64_t ns = ts->tv_nsec + (ms > 0 ? ms : 0) * 1000000;
	ts->tv_sec += ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
}

int64_t clock_now_ms(void)
{
	return clock_now_ns() / 1000000;
}
