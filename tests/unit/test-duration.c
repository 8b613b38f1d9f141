/* Unit tests of duration.c. */
#include <check.h>
#include <stdlib.h>

#include "duration.h"

START_TEST(test_parse_good)
{
	static const struct { const char *s; int64_t ms; } cases[] = {
		{ "0", 0 }, { "250ms", 250 }, { "30s", 30000 }, { "5m", 300000 },
		{ "2h", 7200000 }, { "1m30s", 90000 }, { "1h30m", 5400000 },
		{ "1d", 86400000 }, { "1m30s500ms", 90500 }, { "0s", 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = -1;
		ck_assert_msg(duration_parse(cases[i].s, &ms) == 0, "'%s' rejected", cases[i].s);
		ck_assert_msg(ms == cases[i].ms, "'%s' -> %lld", cases[i].s, (long long)ms);
	}
}
END_TEST

START_TEST(test_parse_bad)
{
	static const char *const bad[] = {
		"", "5", "5x", "m5", "1.5s", "-1s", "30s1m", "1m1m", "5 m", "s", "31d",
		"99999999999999999999s", "1h 30m",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = 0;
		ck_assert_msg(duration_parse(bad[i], &ms) == -1, "'%s' accepted", bad[i]);
	}
	ck_assert_int_eq(duration_parse(NULL, NULL), -1);
}
END_TEST

START_TEST(test_format)
{
	struct buf b = BUF_INIT;

	duration_format(&b, 250);
	ck_assert_str_eq(buf_str(&b), "250ms");
	buf_reset(&b);
	duration_format(&b, 1234);
	ck_assert_str_eq(buf_str(&b), "1.2s");
	buf_reset(&b);
	duration_format(&b, 245000);
	ck_assert_str_eq(buf_str(&b), "4m05s");
	buf_reset(&b);
	duration_format(&b, 7260000);
	ck_assert_str_eq(buf_str(&b), "2h01m");
	buf_reset(&b);
	duration_format_exact(&b, 90500);
	ck_assert_str_eq(buf_str(&b), "1m30s500ms");
	buf_reset(&b);
	duration_format_exact(&b, 0);
	ck_assert_str_eq(buf_str(&b), "0");
	buf_release(&b);
}
END_TEST

START_TEST(test_roundtrip)
{
	for (int64_t ms = 0; ms < 4000000; ms += 12345) {
		struct buf b = BUF_INIT;
		int64_t back = -1;
		duration_format_exact(&b, ms);
		ck_assert_int_eq(duration_parse(buf_str(&b), &back), 0);
		ck_assert_int_eq(back, ms);
		buf_release(&b);
	}
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("duration");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_bad);
	tcase_add_test(tc, test_format);
	tcase_add_test(tc, test_roundtrip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
