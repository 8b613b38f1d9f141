/* Unit tests of secrets.c: masking and the MIGRATE_SECRET_ environment. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "secrets.h"
#include "util.h"

static void
add(struct secrets *s, const char *name, const char *value)
{
	struct secret sec = { xstrdup(name), xstrdup(value) };
	PUSH(s->v, s->n, s->cap, sec);
}

START_TEST(test_mask_all_occurrences)
{
	struct secrets s = { 0 };
	char *m;

	add(&s, "token", "hunter2");
	m = secrets_masked(&s, "a hunter2 b hunter2hunter2 c");
	ck_assert_str_eq(m, "a *** b ****** c");
	free(m);
	m = secrets_masked(&s, "nothing secret here");
	ck_assert_str_eq(m, "nothing secret here");
	free(m);
	secrets_release(&s);
}
END_TEST

START_TEST(test_mask_longest_first)
{
	struct secrets s = { 0 };
	char *m;

	add(&s, "short", "abc");
	add(&s, "long", "xxabcxx");
	m = secrets_masked(&s, "[xxabcxx] [abc]");
	ck_assert_str_eq(m, "[***] [***]");
	free(m);
	secrets_release(&s);
}
END_TEST

START_TEST(test_empty_secret_masks_nothing)
{
	struct secrets s = { 0 };
	char *m;

	add(&s, "empty", "");
	m = secrets_masked(&s, "plain text");
	ck_assert_str_eq(m, "plain text");
	free(m);
	secrets_release(&s);
}
END_TEST

START_TEST(test_env_names)
{
	struct secrets s = { 0 };
	char **env = NULL;
	size_t n = 0, cap = 0;

	add(&s, "api_token", "v1");
	add(&s, "db-pass.main", "v2");
	secrets_env(&s, &env, &n, &cap);
	ck_assert_uint_eq(n, 2);
	ck_assert_str_eq(env[0], "MIGRATE_SECRET_API_TOKEN=v1");
	ck_assert_str_eq(env[1], "MIGRATE_SECRET_DB_PASS_MAIN=v2");
	for (size_t i = 0; i < n; i++)
		free(env[i]);
	free(env);
	ck_assert_str_eq(secrets_get(&s, "api_token"), "v1");
	ck_assert_ptr_null(secrets_get(&s, "nope"));
	secrets_release(&s);
}
END_TEST

int
main(void)
{
	Suite *su = suite_create("secrets");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_mask_all_occurrences);
	tcase_add_test(tc, test_mask_longest_first);
	tcase_add_test(tc, test_empty_secret_masks_nothing);
	tcase_add_test(tc, test_env_names);
	suite_add_tcase(su, tc);
	sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
