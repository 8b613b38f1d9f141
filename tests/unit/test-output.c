/*
 * test-output.c - control characters in text from steps and journals are
 * shown, never passed to the terminal (output_visible).
 */
#include <check.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "output.h"

static char *
visible(const char *s, size_t len, bool keep_colors)
{
	struct buf b = BUF_INIT;

	output_visible(s, len, keep_colors, &b);
	buf_addc(&b, '\0');
	return buf_detach(&b);
}

static void
expect(const char *in, size_t len, bool keep_colors, const char *want)
{
	char *got = visible(in, len, keep_colors);

	ck_assert_str_eq(got, want);
	free(got);
}

START_TEST(controls_shown)
{
	expect("plain text, ünïcode\tand\n", strlen("plain text, ünïcode\tand\n"), false, "plain text, ünïcode\tand\n");
	expect("\033]0;title\007", 10, false, "^[]0;title^G");
	expect("over\rwrite", 10, false, "over^Mwrite");
	expect("a\0b", 3, false, "a^@b");
	expect("del\177", 4, false, "del^?");
	expect("csi\302\233J", 6, false, "csi\\u009bJ");
	expect("\302\240nbsp", 6, false, "\302\240nbsp");
	expect("cut\302", 4, false, "cut\302");
}
END_TEST

START_TEST(own_colors_only)
{
	expect(C_RED "red" C_RESET, strlen(C_RED "red" C_RESET), true, C_RED "red" C_RESET);
	expect(C_RED "red" C_RESET, strlen(C_RED "red" C_RESET), false, "^[[31mred^[[0m");
	expect("\033[2J\033[8m\033[31", 12, true, "^[[2J^[[8m^[[31");
}
END_TEST

static Suite *
output_suite(void)
{
	Suite *s = suite_create("output");
	TCase *tc = tcase_create("visible");

	tcase_add_test(tc, controls_shown);
	tcase_add_test(tc, own_colors_only);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(output_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
