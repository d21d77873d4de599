/* The VM snapshot schedules' slots (api/appliance.c vmss_slot_due):
 * hourly at min, daily at hour:min, weekly on the days listed, each due
 * once after its slot passes, in the host's local time (UTC here). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "api/api.h"

/* 2026-12-07 is a Monday. */
static time_t at(int mday, int hour, int min)
{
	struct tm tm = {.tm_year = 126, .tm_mon = 11, .tm_mday = mday, .tm_hour = hour, .tm_min = min};
	return timegm(&tm);
}

static xv sched(const char *min, const char *hour, const char *days)
{
	xv m = xv_map_new();
	if (min)
		xv_map_set_str(&m, "min", min);
	if (hour)
		xv_map_set_str(&m, "hour", hour);
	if (days)
		xv_map_set_str(&m, "days", days);
	return m;
}

static void hourly(void **state)
{
	(void)state;
	xv s = sched("30", NULL, NULL);
	assert_false(vmss_slot_due("hourly", &s, at(7, 9, 0), at(7, 10, 29)));
	assert_true(vmss_slot_due("hourly", &s, at(7, 9, 0), at(7, 10, 30)));
	assert_true(vmss_slot_due("hourly", &s, at(7, 9, 0), at(7, 10, 59)));
	/* ran at 10:30: not again until 11:30 */
	assert_false(vmss_slot_due("hourly", &s, at(7, 10, 30), at(7, 11, 29)));
	assert_true(vmss_slot_due("hourly", &s, at(7, 10, 30), at(7, 11, 31)));
	xv_free(&s);
}

static void daily(void **state)
{
	(void)state;
	xv s = sched("15", "3", NULL);
	assert_false(vmss_slot_due("daily", &s, at(6, 3, 15), at(7, 3, 14)));
	assert_true(vmss_slot_due("daily", &s, at(6, 3, 15), at(7, 3, 15)));
	assert_false(vmss_slot_due("daily", &s, at(7, 3, 15), at(7, 23, 59)));
	xv_free(&s);
}

static void weekly(void **state)
{
	(void)state;
	xv s = sched("0", "1", "Monday,Thursday");
	assert_true(vmss_slot_due("weekly", &s, 0, at(7, 1, 0)));  /* Monday */
	assert_false(vmss_slot_due("weekly", &s, 0, at(8, 1, 0))); /* Tuesday */
	assert_true(vmss_slot_due("weekly", &s, at(7, 1, 0), at(10, 2, 0))); /* Thursday */
	assert_false(vmss_slot_due("weekly", &s, at(10, 1, 0), at(10, 5, 0)));
	xv_free(&s);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hourly),
		cmocka_unit_test(daily),
		cmocka_unit_test(weekly),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
