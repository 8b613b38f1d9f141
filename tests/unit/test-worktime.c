/*
 * Unit tests of worktime.c: the live working-time clock (holds nest, a hold
 * in progress does not count) and rebuilding working time from a journal's
 * record times (gate waits and time between sessions left out; recorded
 * work_ms preferred; a crashed session counts until its last record).
 */
#include <check.h>
#include <stdlib.h>

#include "worktime.h"

START_TEST(test_clock)
{
	struct worktime w;

	worktime_start(&w, 500, 1000);
	ck_assert_int_eq(worktime_used(&w, 1000), 500);
	ck_assert_int_eq(worktime_used(&w, 3000), 2500);
	worktime_hold(&w, 3000);
	ck_assert(worktime_held(&w));
	ck_assert_int_eq(worktime_used(&w, 9000), 2500);   /* waiting at a gate: the clock stands */
	worktime_hold(&w, 9500);                            /* nested */
	worktime_release(&w, 9800);
	ck_assert(worktime_held(&w));
	ck_assert_int_eq(worktime_used(&w, 9900), 2500);
	worktime_release(&w, 10000);
	ck_assert(!worktime_held(&w));
	ck_assert_int_eq(worktime_used(&w, 11000), 3500);
	worktime_release(&w, 12000);                        /* an extra release changes nothing */
	ck_assert_int_eq(worktime_used(&w, 12000), 4500);
}
END_TEST

START_TEST(test_clock_not_started)
{
	struct worktime w = { 0 };

	w.before_ms = 700;
	worktime_hold(&w, 10);
	ck_assert(!worktime_held(&w));
	ck_assert_int_eq(worktime_used(&w, 99999), 700);
	worktime_start(&w, -5, 100);
	ck_assert_int_eq(worktime_used(&w, 50), 0);          /* never negative */
}
END_TEST

/* run 0..2000 (a gate asked at 1500, unanswered 1600), stop; resume at 60000; gate waits 61000..90000 */
START_TEST(test_log_derived)
{
	struct worktime_log l;

	worktime_log_init(&l);
	worktime_log_session(&l, 0, 0);
	worktime_log_phase_start(&l, "one", 100);
	worktime_log_gate(&l, 1500, true);
	worktime_log_gate(&l, 1600, false);
	worktime_log_phase_end(&l, "one", 1700, -1);
	worktime_log_end(&l, 2000, -1);
	ck_assert_int_eq(worktime_log_total(&l, 2000), 1900);
	ck_assert_int_eq(worktime_log_phase(&l, "one", 2000), 1500);
	/* the time between the sessions does not count */
	worktime_log_session(&l, 60000, 2000);
	ck_assert_int_eq(worktime_log_total(&l, 60000), 1900);
	worktime_log_phase_start(&l, "one", 60000);
	worktime_log_gate(&l, 61000, true);
	/* a gate still waiting at the last record: its wait does not count either */
	ck_assert_int_eq(worktime_log_total(&l, 70000), 2900);
	ck_assert_int_eq(worktime_log_phase(&l, "one", 70000), 2500);
	worktime_log_gate(&l, 90000, false);
	ck_assert_int_eq(worktime_log_total(&l, 91000), 3900);
	ck_assert_int_eq(worktime_log_phase(&l, "one", 91000), 3500);
	ck_assert_int_eq(worktime_log_phase(&l, "never", 91000), 0);
	worktime_log_release(&l);
}
END_TEST

START_TEST(test_log_recorded)
{
	struct worktime_log l;

	worktime_log_init(&l);
	worktime_log_session(&l, 0, 0);
	worktime_log_phase_start(&l, "one", 0);
	worktime_log_phase_end(&l, "one", 5000, 1234);
	worktime_log_end(&l, 5000, 4321);
	ck_assert_int_eq(worktime_log_total(&l, 5000), 4321);
	ck_assert_int_eq(worktime_log_phase(&l, "one", 5000), 1234);
	/* a session that crashed (no run_end): until its last record */
	worktime_log_session(&l, 10000, 5000);
	worktime_log_phase_start(&l, "two", 10000);
	ck_assert_int_eq(worktime_log_total(&l, 12000), 6321);
	/* the next session closes it where its last record was */
	worktime_log_session(&l, 50000, 12000);
	ck_assert_int_eq(worktime_log_total(&l, 50000), 6321);
	ck_assert_int_eq(worktime_log_phase(&l, "two", 50000), 2000);
	worktime_log_end(&l, 51000, -1);
	ck_assert_int_eq(worktime_log_total(&l, 51000), 7321);
	worktime_log_release(&l);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("worktime");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_clock);
	tcase_add_test(tc, test_clock_not_started);
	tcase_add_test(tc, test_log_derived);
	tcase_add_test(tc, test_log_recorded);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
