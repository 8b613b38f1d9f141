/* Unit tests of buf.c: buf_addf's own formatting gives what snprintf gives. */
#include <check.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/* buf_addf and snprintf of the same format and arguments, appended to "x:". */
#define SAME(...) do { \
	struct buf b = BUF_INIT; \
	char want[512]; \
	buf_adds(&b, "x:"); \
	buf_addf(&b, __VA_ARGS__); \
	snprintf(want, sizeof(want), "x:" __VA_ARGS__); \
	ck_assert_str_eq(buf_str(&b), want); \
	ck_assert_uint_eq(b.len, strlen(want)); \
	buf_release(&b); \
} while (0)

START_TEST(test_simple_formats)
{
	SAME("plain text");
	SAME("%s and %s", "a", "");
	SAME("%d %d %d %d", 0, -1, INT_MAX, INT_MIN);
	SAME("%zu %zu", (size_t)0, SIZE_MAX);
	SAME("%lld %lld %lld %lld", 0LL, -42LL, LLONG_MAX, LLONG_MIN);
	SAME("100%% of %s", "it");
	SAME("%lld%s", 90LL, "m");
}
END_TEST

START_TEST(test_precision)
{
	const char *s = "abcdef";

	SAME("[%.*s]", 3, s);
	SAME("[%.*s]", 0, s);
	SAME("[%.*s]", 6, s);
	SAME("[%.*s]", 10, s);   /* longer than the string: stops at its NUL */
	SAME("[%.*s]", -1, s);   /* negative: as if none was given */
	SAME("%s%s%.*s\n", "  ", "run: ", 4, "echo step 1");
}
END_TEST

/* Strings padded to a width, as printf pads them. */
START_TEST(test_width)
{
	SAME("[%*s]", 5, "ab");
	SAME("[%-*s]", 5, "ab");
	SAME("[%*s]", -5, "ab");          /* negative: left-justified */
	SAME("[%-*s]", -5, "ab");
	SAME("[%*s]", 1, "abc");          /* narrower than the text: none */
	SAME("[%*s]", 0, "");
	SAME("[%-10s|%7s|%-16s]", "ab", "xyz", "");
	SAME("%.*s\n%*s\"%s\":", 3, "abcdef", 4, "", "key");
	SAME("%12s", "exactly12chr");
}
END_TEST

/* Formats the fast path does not take still work (vsnprintf). */
START_TEST(test_other_formats)
{
	SAME("%5d|%-4s|%x|%.2f", 42, "ab", 255u, 1.5);
	SAME("sha256 %.12s", "0123456789abcdef");
	SAME("%c%ld", 'z', -7L);
	/* text and directives of the fast path first, then one it does not
	 * take: what the fast path added is taken back, vsnprintf does all */
	SAME("%s then %5.1f", "abc", 2.25);
	SAME("%d%% %zu %.*s|%c", 5, (size_t)7, 2, "xyz", 'q');
	SAME("%*s|%-5d|%05d", 3, "a", 7, 42);   /* a width on another directive, a 0 flag */
	SAME("%-*s %.1f", 4, "ab", 0.25);
}
END_TEST

/* Growth from empty, from a buffer with room, and past its room. */
START_TEST(test_growth)
{
	struct buf b = BUF_INIT;
	char want[4096];
	size_t n = 0;

	for (int i = 0; i < 200; i++) {
		buf_addf(&b, "%d:%s;", i, "abcdefghij");
		n += (size_t)snprintf(want + n, sizeof(want) - n, "%d:%s;", i, "abcdefghij");
	}
	ck_assert_str_eq(buf_str(&b), want);
	ck_assert_uint_eq(b.len, n);
	ck_assert_uint_lt(b.len, b.cap);
	buf_add(&b, "", 0);
	ck_assert_uint_eq(b.len, n);
	buf_release(&b);
	buf_add(&b, "", 0);
	ck_assert_str_eq(buf_str(&b), "");
	buf_release(&b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_simple_formats);
	tcase_add_test(tc, test_precision);
	tcase_add_test(tc, test_width);
	tcase_add_test(tc, test_other_formats);
	tcase_add_test(tc, test_growth);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
