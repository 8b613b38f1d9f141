/* Unit tests of inbox.c: approvals handed to a live run through files. */
#include <check.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "inbox.h"
#include "util.h"

static char dir[] = "/tmp/test-inbox.XXXXXX";
static int runs = -1;

static void
setup(void)
{
	strcpy(dir, "/tmp/test-inbox.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	runs = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_ge(runs, 0);
}

static void
teardown(void)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
	close(runs);
}

/* Write a file into the run's inbox by hand. */
static void
put(const char *name, const char *text)
{
	char *p = xasprintf("%s/r1.approvals/%s", dir, name);
	FILE *f = fopen(p, "w");

	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
	free(p);
}

START_TEST(test_no_inbox_until_waiting)
{
	char *file = NULL, *err = NULL;

	/* the run does not wait: approve is told so */
	ck_assert_int_eq(inbox_drop(runs, "r1", "switch", "alice", &file, &err), 1);
	ck_assert_ptr_null(file);
	ck_assert_ptr_null(inbox_new(-1, "r1"));
	ck_assert_ptr_null(inbox_new(runs, NULL));
}
END_TEST

START_TEST(test_drop_take_done)
{
	struct inbox *ib = inbox_new(runs, "r1");
	struct inbox_item *items;
	char *f1 = NULL, *f2 = NULL, *err = NULL;
	struct stat st;
	char *p;

	ck_assert_int_eq(inbox_open(ib, &err), 0);
	p = xasprintf("%s/r1.approvals", dir);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0700);
	ck_assert_int_eq(inbox_drop(runs, "r1", "switch", "alice", &f1, &err), 0);
	ck_assert_int_eq(inbox_drop(runs, "r1", "switch", "bob", &f2, &err), 0);
	free(p);
	p = xasprintf("%s/r1.approvals/%s", dir, f1);
	ck_assert_int_eq(stat(p, &st), 0);
	ck_assert_int_eq(st.st_mode & 0777, 0600);
	free(p);
	ck_assert_uint_eq(inbox_take(ib, &items), 2);
	/* in order of arrival, the user being the file's owner */
	ck_assert_str_eq(items[0].name, "alice");
	ck_assert_str_eq(items[1].name, "bob");
	ck_assert_str_eq(items[0].gate, "switch");
	ck_assert_str_eq(items[0].user, getpwuid(geteuid())->pw_name);
	ck_assert_str_eq(items[0].file, f1);
	inbox_done(ib, &items[0]);
	inbox_items_free(items, 2);
	/* taken: approve cannot withdraw it; not taken: it can */
	ck_assert(!inbox_withdraw(runs, "r1", f1));
	ck_assert(inbox_withdraw(runs, "r1", f2));
	ck_assert_uint_eq(inbox_take(ib, &items), 0);
	inbox_items_free(items, 0);
	/* the wait ends: the inbox is gone */
	inbox_close(ib);
	p = xasprintf("%s/r1.approvals", dir);
	ck_assert_int_ne(stat(p, &st), 0);
	free(p);
	free(f1);
	free(f2);
	inbox_free(ib);
}
END_TEST

START_TEST(test_refuses_bad_files)
{
	struct inbox *ib = inbox_new(runs, "r1");
	struct inbox_item *items;
	char *err = NULL, big[5000];

	ck_assert_int_eq(inbox_open(ib, &err), 0);
	put("1-not-json.json", "{gate");
	put("2-no-name.json", "{\"gate\":\"switch\"}");
	put("3-control.json", "{\"gate\":\"switch\",\"name\":\"a\\u0007b\"}");
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "{\"gate\":\"switch\",\"name\":\"big\"}", 30);
	put("4-big.json", big);
	put("5-other.txt", "{\"gate\":\"switch\",\"name\":\"txt\"}");
	put(".6-writing.json.tmp", "{\"gate\":\"switch\",\"name\":\"half\"}");
	put("7-good.json", "{\"gate\":\"switch\",\"name\":\"carol\",\"host\":\"ops1\"}");
	ck_assert_uint_eq(inbox_take(ib, &items), 1);
	ck_assert_str_eq(items[0].name, "carol");
	ck_assert_str_eq(items[0].host, "ops1");
	inbox_items_free(items, 1);
	/* refused files are gone; one being written stays */
	ck_assert_int_ne(faccessat(runs, "r1.approvals/1-not-json.json", F_OK, 0), 0);
	ck_assert_int_ne(faccessat(runs, "r1.approvals/5-other.txt", F_OK, 0), 0);
	ck_assert_int_eq(faccessat(runs, "r1.approvals/.6-writing.json.tmp", F_OK, 0), 0);
	inbox_free(ib);
	ck_assert_int_ne(faccessat(runs, "r1.approvals", F_OK, 0), 0);
}
END_TEST

START_TEST(test_open_clears_leftovers)
{
	struct inbox *ib = inbox_new(runs, "r1");
	struct inbox_item *items;
	char *err = NULL;

	ck_assert_int_eq(mkdirat(runs, "r1.approvals", 0700), 0);
	put("1-old.json", "{\"gate\":\"switch\",\"name\":\"stale\"}");
	/* a wait that died left it: never taken, so not counted by the next wait */
	ck_assert_int_eq(inbox_open(ib, &err), 0);
	ck_assert_uint_eq(inbox_take(ib, &items), 0);
	inbox_items_free(items, 0);
	inbox_free(ib);
}
END_TEST

static Suite *
inbox_suite(void)
{
	Suite *s = suite_create("inbox");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_no_inbox_until_waiting);
	tcase_add_test(tc, test_drop_take_done);
	tcase_add_test(tc, test_refuses_bad_files);
	tcase_add_test(tc, test_open_clears_leftovers);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(inbox_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
