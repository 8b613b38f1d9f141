/* Unit tests of strmap.c. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "strmap.h"

START_TEST(test_put_get)
{
	struct strmap *m = strmap_create(0);

	ck_assert_uint_eq(strmap_get(m, "a"), STRMAP_NONE);
	strmap_put(m, "a", 1);
	strmap_put(m, "step[2]@web", 2);
	strmap_put(m, "", 3);
	ck_assert_uint_eq(strmap_get(m, "a"), 1);
	ck_assert_uint_eq(strmap_get(m, "step[2]@web"), 2);
	ck_assert_uint_eq(strmap_get(m, ""), 3);
	ck_assert_uint_eq(strmap_get(m, "b"), STRMAP_NONE);
	ck_assert_uint_eq(strmap_get(m, "step[2]"), STRMAP_NONE);
	strmap_put(m, "a", 9);    /* the first value stays */
	ck_assert_uint_eq(strmap_get(m, "a"), 1);
	strmap_free(m);
	strmap_free(NULL);
}
END_TEST

/* Growing past the first size keeps every key, and absent keys stay absent. */
START_TEST(test_many)
{
	enum { N = 50000 };
	char (*keys)[24] = calloc(N, sizeof(*keys));
	struct strmap *m = strmap_create(4);

	for (size_t i = 0; i < N; i++) {
		snprintf(keys[i], sizeof(keys[i]), "s[%zu]", i);
		strmap_put(m, keys[i], i);
	}
	for (size_t i = 0; i < N; i++)
		ck_assert_uint_eq(strmap_get(m, keys[i]), i);
	ck_assert_uint_eq(strmap_get(m, "s[50000]"), STRMAP_NONE);
	ck_assert_uint_eq(strmap_get(m, "s"), STRMAP_NONE);
	strmap_free(m);
	free(keys);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("strmap");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_put_get);
	tcase_add_test(tc, test_many);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
