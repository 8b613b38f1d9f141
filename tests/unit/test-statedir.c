/*
 * test-statedir.c - resolving and creating the state directory, modes,
 * symbolic links under it, run ids, listing runs newest first.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "statedir.h"
#include "statedir-fixture.h"
#include "util.h"

static mode_t
mode_of(const char *path)
{
	struct stat st;

	ck_assert_int_eq(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

/* Create an empty file dir/name. */
static void
touch(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	FILE *fp = fopen(path, "w");

	ck_assert_ptr_nonnull(fp);
	fclose(fp);
	free(path);
}

START_TEST(resolve_order)
{
	char *s;

	setenv("MIGRATE_STATE_DIR", "/env/dir", 1);
	s = statedir_resolve("/explicit");
	ck_assert_str_eq(s, "/explicit");
	free(s);
	s = statedir_resolve(NULL);
	ck_assert_str_eq(s, "/env/dir");
	free(s);
	s = statedir_resolve("");
	ck_assert_str_eq(s, "/env/dir");
	free(s);
	unsetenv("MIGRATE_STATE_DIR");
	setenv("XDG_STATE_HOME", "/xdg/state", 1);
	s = statedir_resolve(NULL);
	ck_assert_str_eq(s, "/xdg/state/migrate");
	free(s);
	/* a relative XDG_STATE_HOME is ignored, as the XDG spec says */
	setenv("XDG_STATE_HOME", "rel/state", 1);
	setenv("HOME", "/home/op", 1);
	s = statedir_resolve(NULL);
	ck_assert_str_eq(s, "/home/op/.local/state/migrate");
	free(s);
	unsetenv("XDG_STATE_HOME");
	s = statedir_resolve(NULL);
	ck_assert_str_eq(s, "/home/op/.local/state/migrate");
	free(s);
}
END_TEST

START_TEST(create_with_modes)
{
	char *dir = xasprintf("%s/deep/er/state", fixture_dir), *sub;
	char *err = NULL;
	struct statedir *sd;

	sd = statedir_open(dir, true, &err);
	ck_assert_msg(sd != NULL, "%s", err);
	ck_assert(statedir_exists(sd));
	ck_assert_int_ge(statedir_runs_fd(sd), 0);
	ck_assert_int_ge(statedir_locks_fd(sd), 0);
	ck_assert_str_eq(statedir_path(sd), dir);
	ck_assert_uint_eq(mode_of(dir), 0700);
	sub = xasprintf("%s/runs", dir);
	ck_assert_uint_eq(mode_of(sub), 0700);
	free(sub);
	sub = xasprintf("%s/locks", dir);
	ck_assert_uint_eq(mode_of(sub), 0700);
	free(sub);
	statedir_free(sd);

	/* Opening an existing one again is fine. */
	sd = statedir_open(dir, true, &err);
	ck_assert_msg(sd != NULL, "%s", err);
	statedir_free(sd);
	statedir_free(NULL);
	free(dir);
}
END_TEST

START_TEST(open_without_create)
{
	char *dir = xasprintf("%s/absent", fixture_dir);
	char *err = NULL, **ids = NULL;
	struct statedir *sd;
	size_t n = 99;

	sd = statedir_open(dir, false, &err);
	ck_assert_msg(sd != NULL, "%s", err);
	ck_assert(!statedir_exists(sd));
	ck_assert_int_eq(statedir_list_runs(sd, &ids, &n, &err), 0);
	ck_assert_uint_eq(n, 0);
	ck_assert_ptr_null(ids);
	statedir_free(sd);
	ck_assert_int_eq(access(dir, F_OK), -1);
	free(dir);
}
END_TEST

START_TEST(symlinked_subdir_refused)
{
	char *dir = xasprintf("%s/state", fixture_dir), *target = xasprintf("%s/elsewhere", fixture_dir);
	char *link = xasprintf("%s/runs", dir);
	char *err = NULL;
	struct statedir *sd;

	ck_assert_int_eq(mkdir(dir, 0700), 0);
	ck_assert_int_eq(mkdir(target, 0700), 0);
	ck_assert_int_eq(symlink(target, link), 0);
	sd = statedir_open(dir, true, &err);
	ck_assert_ptr_null(sd);
	ck_assert_ptr_nonnull(strstr(err, "symbolic link"));
	ck_assert_ptr_nonnull(strstr(err, "/runs'"));
	free(err);
	err = NULL;
	sd = statedir_open(dir, false, &err);
	ck_assert_ptr_null(sd);
	ck_assert_ptr_nonnull(err);
	free(err);
	free(dir);
	free(target);
	free(link);
}
END_TEST

/*
 * A state directory, runs/ or locks/ that others can write to is refused,
 * saying how to fix it; a setgid group directory (shared on purpose) is not.
 */
START_TEST(writable_by_others_refused)
{
	char *dir = xasprintf("%s/state", fixture_dir), *runs = xasprintf("%s/state/runs", fixture_dir);
	char *err = NULL;
	struct statedir *sd;

	sd = statedir_open(dir, true, &err);
	ck_assert_msg(sd != NULL, "%s", err);
	statedir_free(sd);

	ck_assert_int_eq(chmod(dir, 0777), 0);
	for (int create = 0; create < 2; create++) {
		sd = statedir_open(dir, create, &err);
		ck_assert_ptr_null(sd);
		ck_assert_ptr_nonnull(strstr(err, "writable by every user (mode 0777)"));
		ck_assert_ptr_nonnull(strstr(err, "chmod 700 '"));
		free(err);
		err = NULL;
	}
	ck_assert_int_eq(chmod(dir, 0770), 0);
	sd = statedir_open(dir, true, &err);
	ck_assert_ptr_null(sd);
	ck_assert_ptr_nonnull(strstr(err, "writable by its group (mode 0770)"));
	free(err);
	err = NULL;

	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(chmod(runs, 0720), 0);
	sd = statedir_open(dir, true, &err);
	ck_assert_ptr_null(sd);
	ck_assert_ptr_nonnull(strstr(err, "/state/runs' is writable by its group"));
	free(err);
	err = NULL;
	ck_assert_int_eq(chmod(runs, 0722), 0);
	sd = statedir_open(dir, true, &err);
	ck_assert_ptr_null(sd);
	ck_assert_ptr_nonnull(strstr(err, "/state/runs' is writable by every user"));
	free(err);
	err = NULL;

	/* a team's shared directory: setgid, group-writable */
	ck_assert_int_eq(chmod(dir, 02770), 0);
	ck_assert_int_eq(chmod(runs, 02770), 0);
	sd = statedir_open(dir, true, &err);
	ck_assert_msg(sd != NULL, "%s", err);
	statedir_free(sd);
	free(dir);
	free(runs);
}
END_TEST

START_TEST(state_dir_not_a_directory)
{
	char *err = NULL;
	struct statedir *sd;
	char *dir;

	touch(fixture_dir, "file");
	dir = xasprintf("%s/file", fixture_dir);
	sd = statedir_open(dir, true, &err);
	ck_assert_ptr_null(sd);
	ck_assert_ptr_nonnull(strstr(err, "not a directory"));
	free(err);
	free(dir);
}
END_TEST

START_TEST(run_ids)
{
	char *err = NULL, *a, *b, *path;
	struct statedir *sd = fixture_sd;

	a = statedir_new_run_id(sd, "db-cutover.v2", &err);
	ck_assert_msg(a != NULL, "%s", err);
	b = statedir_new_run_id(sd, "db-cutover.v2", &err);
	ck_assert_msg(b != NULL, "%s", err);
	/* 20261122T021500Z-db-cutover.v2-3fa9 */
	ck_assert_uint_eq(strlen(a), 16 + 1 + strlen("db-cutover.v2") + 1 + 4);
	ck_assert_int_eq(a[8], 'T');
	ck_assert_int_eq(a[15], 'Z');
	ck_assert_int_eq(strncmp(a + 16, "-db-cutover.v2-", 15), 0);
	ck_assert_uint_eq(strspn(a + strlen(a) - 4, "0123456789abcdef"), 4);
	ck_assert(statedir_valid_run_id(a));
	ck_assert(statedir_valid_run_id(b));

	path = statedir_journal_path(sd, a, &err);
	ck_assert_ptr_nonnull(path);
	ck_assert_ptr_nonnull(strstr(path, "/runs/"));
	ck_assert_ptr_nonnull(strstr(path, ".jsonl"));
	free(path);

	ck_assert_ptr_null(statedir_new_run_id(sd, "../etc", &err));
	ck_assert_ptr_nonnull(strstr(err, "invalid runbook name"));
	free(err);
	err = NULL;
	ck_assert_ptr_null(statedir_journal_path(sd, "../../passwd", &err));
	ck_assert_ptr_nonnull(strstr(err, "invalid run id"));
	free(err);
	free(a);
	free(b);
}
END_TEST

START_TEST(name_rules)
{
	char longname[STATEDIR_NAME_MAX + 2];

	ck_assert(statedir_valid_runbook_name("a"));
	ck_assert(statedir_valid_runbook_name("phantommesh-cutover_2.1"));
	ck_assert(!statedir_valid_runbook_name(""));
	ck_assert(!statedir_valid_runbook_name(NULL));
	ck_assert(!statedir_valid_runbook_name("-x"));
	ck_assert(!statedir_valid_runbook_name(".x"));
	ck_assert(!statedir_valid_runbook_name("Upper"));
	ck_assert(!statedir_valid_runbook_name("a/b"));
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	ck_assert(!statedir_valid_runbook_name(longname));
	longname[STATEDIR_NAME_MAX] = '\0';
	ck_assert(statedir_valid_runbook_name(longname));

	ck_assert(statedir_valid_run_id("20261122T021500Z-x-0a1b"));
	ck_assert(!statedir_valid_run_id(".."));
	ck_assert(!statedir_valid_run_id("a/b"));
	ck_assert(!statedir_valid_run_id(""));
}
END_TEST

START_TEST(list_newest_first)
{
	static const char *const files[] = {
		"20261122T021500Z-a-0001.jsonl",
		"20250101T000000Z-b-ffff.jsonl",
		"20270301T120000Z-c-1234.jsonl",
		"notes.txt",
		".hidden.jsonl",
	};
	char *err = NULL, **ids = NULL, *runs, *link;
	struct statedir *sd = fixture_sd;
	size_t n = 0, i;

	runs = xasprintf("%s/runs", fixture_dir);
	for (i = 0; i < ARRAY_LEN(files); i++)
		touch(runs, files[i]);
	/* A link that looks like a journal is not listed. */
	link = xasprintf("%s/20280101T000000Z-d-0000.jsonl", runs);
	ck_assert_int_eq(symlink("/dev/null", link), 0);

	ck_assert_int_eq(statedir_list_runs(sd, &ids, &n, &err), 0);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(ids[0], "20270301T120000Z-c-1234");
	ck_assert_str_eq(ids[1], "20261122T021500Z-a-0001");
	ck_assert_str_eq(ids[2], "20250101T000000Z-b-ffff");
	statedir_free_list(ids, n);
	statedir_free_list(NULL, 0);
	free(runs);
	free(link);
}
END_TEST

START_TEST(time_format)
{
	char out[STATEDIR_TIME_SIZE];

	ck_assert_int_eq(statedir_format_time(0, out), 0);
	ck_assert_str_eq(out, "1970-01-01T00:00:00.000Z");
	ck_assert_int_eq(statedir_format_time(1795314900123LL, out), 0);
	ck_assert_str_eq(out, "2026-11-22T02:35:00.123Z");
	ck_assert_int_eq(statedir_format_time(-1, out), 0);
	ck_assert_str_eq(out, "1969-12-31T23:59:59.999Z");
}
END_TEST

static Suite *
statedir_suite(void)
{
	Suite *s = suite_create("statedir");
	TCase *tc = tcase_create("statedir");

	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, resolve_order);
	tcase_add_test(tc, create_with_modes);
	tcase_add_test(tc, open_without_create);
	tcase_add_test(tc, symlinked_subdir_refused);
	tcase_add_test(tc, state_dir_not_a_directory);
	tcase_add_test(tc, writable_by_others_refused);
	tcase_add_test(tc, run_ids);
	tcase_add_test(tc, name_rules);
	tcase_add_test(tc, list_newest_first);
	tcase_add_test(tc, time_format);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(statedir_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
