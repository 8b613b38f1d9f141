/* Unit tests of cancel.c: trees of tokens, reasons, waking a poll. */
#include <check.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cancel.h"
#include "util.h"

START_TEST(test_parent_fires_children)
{
	struct cancel_token *run = cancel_new(NULL);
	struct cancel_token *phase = cancel_new(run);
	struct cancel_token *unit = cancel_new(phase);
	struct cancel_token *other = cancel_new(run);
	char *r;

	ck_assert(!cancel_fired(unit));
	cancel_fire(phase, "watch probe 'x' failed");
	ck_assert(cancel_fired(phase));
	ck_assert(cancel_fired(unit));
	/* never upwards, never sideways */
	ck_assert(!cancel_fired(run));
	ck_assert(!cancel_fired(other));
	r = cancel_reason(unit);
	ck_assert_str_eq(r, "watch probe 'x' failed");
	free(r);
	/* the first reason is kept */
	cancel_fire(unit, "later");
	r = cancel_reason(unit);
	ck_assert_str_eq(r, "watch probe 'x' failed");
	free(r);
	ck_assert_ptr_null(cancel_reason(other));
	cancel_free(unit);
	cancel_free(phase);
	cancel_fire(run, NULL);
	ck_assert(cancel_fired(other));
	ck_assert_ptr_null(cancel_reason(other));
	cancel_free(other);
	cancel_free(run);
}
END_TEST

START_TEST(test_child_of_fired_parent)
{
	struct cancel_token *run = cancel_new(NULL);
	struct cancel_token *unit;
	char *r;

	cancel_fire(run, "deadline");
	unit = cancel_new(run);
	ck_assert(cancel_fired(unit));
	r = cancel_reason(unit);
	ck_assert_str_eq(r, "deadline");
	free(r);
	/* freeing the parent first leaves the child usable */
	cancel_free(run);
	ck_assert(cancel_fired(unit));
	cancel_free(unit);
}
END_TEST

static void *
fire_later(void *arg)
{
	cancel_wait(NULL, 100);
	cancel_fire(arg, "signal");
	return NULL;
}

/* A poll() on a descendant's fd wakes when an ancestor fires in another thread. */
START_TEST(test_poll_wakes)
{
	struct cancel_token *run = cancel_new(NULL);
	struct cancel_token *unit = cancel_new(run);
	struct pollfd p = { cancel_fd(unit), POLLIN, 0 };
	pthread_t t;

	ck_assert_int_eq(poll(&p, 1, 0), 0);
	ck_assert_int_eq(pthread_create(&t, NULL, fire_later, run), 0);
	/* generous bound: only detects a hang */
	ck_assert_int_eq(poll(&p, 1, 30000), 1);
	ck_assert(p.revents & POLLIN);
	pthread_join(t, NULL);
	/* it stays readable */
	ck_assert_int_eq(poll(&p, 1, 0), 1);
	cancel_free(unit);
	cancel_free(run);
}
END_TEST

START_TEST(test_wait)
{
	struct cancel_token *run = cancel_new(NULL);
	struct cancel_token *unit = cancel_new(run);
	pthread_t t;

	/* not fired: the wait runs out */
	ck_assert(!cancel_wait(unit, 20));
	ck_assert_int_eq(pthread_create(&t, NULL, fire_later, run), 0);
	/* a long wait ends when the parent fires */
	ck_assert(cancel_wait(unit, 600000));
	pthread_join(t, NULL);
	ck_assert(cancel_wait(unit, 0));
	cancel_free(unit);
	cancel_free(run);
}
END_TEST

static Suite *
cancel_suite(void)
{
	Suite *s = suite_create("cancel");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_parent_fires_children);
	tcase_add_test(tc, test_child_of_fired_parent);
	tcase_add_test(tc, test_poll_wakes);
	tcase_add_test(tc, test_wait);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(cancel_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
