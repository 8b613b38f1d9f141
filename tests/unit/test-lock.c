/*
 * test-lock.c - the per-runbook lock: holder record, a second taker sees
 * the holder (same process and another one), a dead holder's lock is
 * taken, close-on-exec, mode, symbolic links refused.
 */
#include <check.h>
#include <json-c/json.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "journal.h"
#include "lock.h"
#include "statedir.h"
#include "statedir-fixture.h"
#include "util.h"

#define NAME "db-cutover"
#define RUN_A "20261122T021500Z-db-cutover-aaaa"
#define RUN_B "20261122T021600Z-db-cutover-bbbb"

static struct lock *
take(const char *run_id)
{
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct lock *l = NULL;
	char *err = NULL;

	ck_assert_msg(lock_acquire(fixture_sd, NAME, run_id, &l, &h, &err) == 0, "%s", err);
	ck_assert_ptr_nonnull(l);
	ck_assert_ptr_null(h.run_id);
	return l;
}

/* Expect the lock to be busy and held by run_id in process pid. */
static void
expect_held(const char *run_id, pid_t pid)
{
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct lock *l = NULL;
	char host[HOST_NAME_MAX + 1] = "";
	char *err = NULL;

	ck_assert_int_eq(lock_acquire(fixture_sd, NAME, RUN_B, &l, &h, &err), 1);
	ck_assert_ptr_null(l);
	ck_assert_ptr_nonnull(h.run_id);
	ck_assert_str_eq(h.run_id, run_id);
	ck_assert_int_eq(h.pid, (long)pid);
	gethostname(host, sizeof(host) - 1);
	ck_assert_str_eq(h.host, host);
	ck_assert_uint_eq(strlen(h.started), STATEDIR_TIME_SIZE - 1);
	lock_holder_release(&h);
	ck_assert_ptr_null(h.run_id);
	lock_holder_release(NULL);
}

START_TEST(holder_record_and_mode)
{
	struct lock *l = take(RUN_A);
	char *path = xasprintf("%s/locks/%s.lock", fixture_dir, NAME), text[512];
	struct stat st;
	FILE *fp;
	size_t n;

	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	n = fread(text, 1, sizeof(text) - 1, fp);
	text[n] = '\0';
	fclose(fp);
	ck_assert_ptr_nonnull(strstr(text, "\"run_id\":\"" RUN_A "\""));
	ck_assert_ptr_nonnull(strstr(text, "\"pid\":"));
	ck_assert_ptr_nonnull(strstr(text, "\"host\":"));
	ck_assert_ptr_nonnull(strstr(text, "\"started\":"));

	lock_release(l);
	lock_release(NULL);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_size, 0);
	free(path);
}
END_TEST

START_TEST(cloexec)
{
	struct lock *l = take(RUN_A);
	int flags = fcntl(lock_fd(l), F_GETFD);

	ck_assert_int_ne(flags, -1);
	ck_assert(flags & FD_CLOEXEC);
	lock_release(l);
}
END_TEST

START_TEST(busy_in_same_process)
{
	struct lock *l = take(RUN_A);

	/* flock belongs to the open file description: a second open conflicts. */
	expect_held(RUN_A, getpid());
	lock_release(l);
	l = take(RUN_B);
	lock_release(l);
}
END_TEST

START_TEST(busy_seen_from_child)
{
	struct lock *l = take(RUN_A);
	pid_t parent = getpid(), pid;
	int status;

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct lock_holder h = LOCK_HOLDER_INIT;
		struct lock *mine = NULL;
		char *err = NULL;
		int rc = lock_acquire(fixture_sd, NAME, RUN_B, &mine, &h, &err);
		bool ok = rc == 1 && h.run_id && strcmp(h.run_id, RUN_A) == 0 &&
		    h.pid == (long)parent;
		_exit(ok ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	lock_release(l);
}
END_TEST

START_TEST(held_by_live_child_then_dead_child)
{
	int ready[2], stop[2], status;
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(ready), 0);
	ck_assert_int_eq(pipe(stop), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct lock_holder h = LOCK_HOLDER_INIT;
		struct lock *l = NULL;
		char *err = NULL;

		if (lock_acquire(fixture_sd, NAME, RUN_A, &l, &h, &err) != 0)
			_exit(1);
		(void)!write(ready[1], "x", 1);
		(void)!read(stop[0], &c, 1);
		/* Die holding the lock: no lock_release. */
		_exit(0);
	}
	close(ready[1]);
	close(stop[0]);
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	expect_held(RUN_A, pid);

	ck_assert_int_eq(write(stop[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status));
	ck_assert_int_eq(WEXITSTATUS(status), 0);
	/* The kernel dropped the dead holder's lock; the next run takes it over. */
	lock_release(take(RUN_B));
	close(ready[0]);
	close(stop[1]);
}
END_TEST

/*
 * The lock file deleted while a run holds it (and writes its journal): a
 * second run gets a fresh lock file, but sees the first run's journal still
 * held and is refused, naming that run.
 */
START_TEST(deleted_while_held)
{
	struct lock *l = take(RUN_A);
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct json_object *rec = json_object_new_object();
	struct lock *second = NULL;
	char *path = xasprintf("%s/locks/%s.lock", fixture_dir, NAME), *err = NULL;
	struct journal *j = journal_create(fixture_sd, RUN_A, &err);

	ck_assert_msg(j != NULL, "%s", err);
	json_object_object_add(rec, "type", json_object_new_string("run_start"));
	json_object_object_add(rec, "pid", json_object_new_int64(4242));
	json_object_object_add(rec, "host", json_object_new_string("ops1"));
	ck_assert_msg(journal_append(j, rec, &err) == 0, "%s", err);
	json_object_put(rec);
	ck_assert_int_eq(unlink(path), 0);

	ck_assert_int_eq(lock_acquire(fixture_sd, NAME, RUN_B, &second, &h, &err), 1);
	ck_assert_ptr_null(second);
	ck_assert_str_eq(h.run_id, RUN_A);
	ck_assert_int_eq(h.pid, 4242);
	ck_assert_str_eq(h.host, "ops1");
	ck_assert_ptr_nonnull(h.started);
	lock_holder_release(&h);

	/* a run of another runbook whose name starts the same is not in the way */
	second = NULL;
	ck_assert_int_eq(lock_acquire(fixture_sd, "db", "20261122T021700Z-db-cccc", &second, &h, &err), 0);
	lock_release(second);

	/* once the first run has ended, the lock is free again */
	journal_free(j);
	lock_release(l);
	l = take(RUN_B);
	lock_release(l);
	free(path);
}
END_TEST

START_TEST(symlink_refused)
{
	char *path = xasprintf("%s/locks/%s.lock", fixture_dir, NAME);
	char *target = xasprintf("%s/target", fixture_dir);
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct lock *l = NULL;
	char *err = NULL;

	ck_assert_int_eq(symlink(target, path), 0);
	ck_assert_int_eq(lock_acquire(fixture_sd, NAME, RUN_A, &l, &h, &err), -1);
	ck_assert_ptr_null(l);
	ck_assert_msg(strstr(err, "symbolic link") != NULL, "%s", err);
	ck_assert_int_eq(access(target, F_OK), -1);
	free(err);
	free(path);
	free(target);
}
END_TEST

START_TEST(invalid_name)
{
	struct lock_holder h = LOCK_HOLDER_INIT;
	struct lock *l = NULL;
	char *err = NULL;

	ck_assert_int_eq(lock_acquire(fixture_sd, "../x", RUN_A, &l, &h, &err), -1);
	ck_assert_ptr_nonnull(strstr(err, "invalid runbook name"));
	free(err);
}
END_TEST

static Suite *
lock_suite(void)
{
	Suite *s = suite_create("lock");
	TCase *tc = tcase_create("lock");

	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, holder_record_and_mode);
	tcase_add_test(tc, cloexec);
	tcase_add_test(tc, busy_in_same_process);
	tcase_add_test(tc, busy_seen_from_child);
	tcase_add_test(tc, held_by_live_child_then_dead_child);
	tcase_add_test(tc, deleted_while_held);
	tcase_add_test(tc, symlink_refused);
	tcase_add_test(tc, invalid_name);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(lock_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
