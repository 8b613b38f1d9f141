/* Unit tests of interp.c: ${...} references, filters, escapes, errors. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "interp.h"

/* A resolver over a fixed table; secrets.* values are flagged secret. */
static int
lookup(void *ctx, const struct interp_ref *ref, struct buf *out, bool *secret, char **err)
{
	(void)ctx;
	switch (ref->ns) {
	case REF_VAR:
		if (strcmp(ref->name, "api") == 0) { buf_adds(out, "https://api.example.com"); return 0; }
		if (strcmp(ref->name, "q") == 0) { buf_adds(out, "rate{code=~\"5..\"}[5m] & x"); return 0; }
		if (strcmp(ref->name, "name") == 0) { buf_adds(out, "it's"); return 0; }
		if (strcmp(ref->name, "msg") == 0) {
			buf_adds(out, "say \"hi\"\\ now\n\ttab\x01\x7f/\xc3\xa9\xf0\x9f\x98\x80 bad\xff\xc3");
			return 0;
		}
		break;
	case REF_SECRET:
		*secret = true;
		buf_adds(out, "hunter2");
		return 0;
	case REF_ITEM:
		if (ref->name2) { buf_addf(out, "<item.%s>", ref->name2); return 0; }
		buf_adds(out, "25");
		return 0;
	case REF_EVENT: buf_addf(out, "<event.%s>", ref->name); return 0;
	case REF_CAPTURE:
		buf_addf(out, "<%s.%s>", ref->name, ref->name2);
		return 0;
	case REF_RUN_ID: buf_adds(out, "RID"); return 0;
	case REF_HOST: buf_adds(out, "db"); return 0;
	case REF_HOST_ADDR: buf_adds(out, "10.0.0.5"); return 0;
	case REF_PHASE: buf_adds(out, "cutover"); return 0;
	case REF_PROBE: buf_addf(out, "[%s]", ref->name); return 0;
	case REF_ENV: buf_adds(out, "E"); return 0;
	}
	*err = strdup("undefined variable");
	return -1;
}

static char *
expand(const char *tmpl, bool *secret, int *rc)
{
	struct buf b = BUF_INIT;
	char *err = NULL;

	*rc = interp_expand(tmpl, lookup, NULL, &b, secret, &err, NULL);
	if (*rc < 0) {
		buf_release(&b);
		return err;
	}
	free(err);
	return buf_detach(&b);
}

#define EXPECT_EXPAND(tmpl, want) do { \
	bool sec = false; int rc; \
	char *got = expand(tmpl, &sec, &rc); \
	ck_assert_int_eq(rc, 0); \
	ck_assert_str_eq(got, want); \
	free(got); \
} while (0)

START_TEST(test_plain_refs)
{
	EXPECT_EXPAND("no refs at all", "no refs at all");
	EXPECT_EXPAND("${api}/health", "https://api.example.com/health");
	EXPECT_EXPAND("w=${item} on ${host} (${host.address}) in ${phase} of ${run.id}",
	    "w=25 on db (10.0.0.5) in cutover of RID");
	EXPECT_EXPAND("${steps.final-backup.size} bytes", "<final-backup.size> bytes");
	EXPECT_EXPAND("${steps.a.b.c}", "<a.b.c>");
	EXPECT_EXPAND("${probes.error-rate.value}", "[error-rate]");
	EXPECT_EXPAND("${ api }", "https://api.example.com");
	EXPECT_EXPAND("${env.HOME}", "E");
	EXPECT_EXPAND("flagctl set ${item.pct} for ${item.bake}", "flagctl set <item.pct> for <item.bake>");
	EXPECT_EXPAND("${event.kind}: ${event.text}", "<event.kind>: <event.text>");
}
END_TEST

START_TEST(test_filters)
{
	EXPECT_EXPAND("echo ${name|quote}", "echo 'it'\\''s'");
	EXPECT_EXPAND("?query=${q|urlencode}", "?query=rate%7Bcode%3D~%225..%22%7D%5B5m%5D%20%26%20x");
	EXPECT_EXPAND("${item | quote}", "'25'");
	/* |json: the inside of a JSON string; UTF-8 kept, '/' kept, bad bytes as U+FFFD */
	EXPECT_EXPAND("{\"m\": \"${msg|json}\"}",
	    "{\"m\": \"say \\\"hi\\\"\\\\ now\\n\\ttab\\u0001\\u007f/\xc3\xa9\xf0\x9f\x98\x80 bad\\ufffd\\ufffd\"}");
	EXPECT_EXPAND("${name|json}", "it's");
}
END_TEST

START_TEST(test_escapes)
{
	EXPECT_EXPAND("$${literal}", "${literal}");
	EXPECT_EXPAND("cost $5 and $HOME", "cost $5 and $HOME");
	EXPECT_EXPAND("$$${api}", "$${api}");  /* $${ always reads as a literal ${ */
	EXPECT_EXPAND("end $", "end $");
}
END_TEST

START_TEST(test_secret_flag)
{
	bool sec = false;
	int rc;
	char *got = expand("Bearer ${secrets.token}", &sec, &rc);

	ck_assert_int_eq(rc, 0);
	ck_assert(sec);
	ck_assert_str_eq(got, "Bearer hunter2");
	free(got);
	sec = false;
	got = expand("${api}", &sec, &rc);
	ck_assert(!sec);
	free(got);
}
END_TEST

START_TEST(test_errors)
{
	struct buf b = BUF_INIT;
	char *err = NULL;
	size_t off = 0;

	ck_assert_int_eq(interp_expand("x ${nope}", lookup, NULL, &b, NULL, &err, &off), -1);
	ck_assert_str_eq(err, "undefined variable");
	ck_assert_uint_eq(off, 2);
	free(err);
	err = NULL;
	buf_reset(&b);
	ck_assert_int_eq(interp_expand("abc ${api", lookup, NULL, &b, NULL, &err, &off), -1);
	ck_assert_ptr_nonnull(strstr(err, "unterminated"));
	ck_assert_uint_eq(off, 4);
	free(err);
	err = NULL;
	ck_assert_int_eq(interp_expand("${api|upper}", lookup, NULL, &b, NULL, &err, &off), -1);
	ck_assert_ptr_nonnull(strstr(err, "unknown filter"));
	free(err);
	err = NULL;
	ck_assert_int_eq(interp_expand("${}", lookup, NULL, &b, NULL, &err, &off), -1);
	free(err);
	err = NULL;
	ck_assert_int_eq(interp_expand("${a b}", lookup, NULL, &b, NULL, &err, &off), -1);
	free(err);
	err = NULL;
	ck_assert_int_eq(interp_expand("${steps.only}", lookup, NULL, &b, NULL, &err, &off), -1);
	ck_assert_ptr_nonnull(strstr(err, "STEP.CAPTURE"));
	free(err);
	buf_release(&b);
}
END_TEST

struct seen {
	int n;
	enum ref_ns ns[8];
	size_t off[8];
	int syntax;
};

static void
visit(void *ctx, const struct interp_ref *ref)
{
	struct seen *s = ctx;
	if (s->n < 8) {
		s->ns[s->n] = ref->ns;
		s->off[s->n] = ref->offset;
	}
	s->n++;
}

static void
syntax(void *ctx, size_t off, const char *msg)
{
	(void)off;
	(void)msg;
	((struct seen *)ctx)->syntax++;
}

START_TEST(test_walk)
{
	struct seen s = { 0 };

	interp_walk("a ${x} b ${secrets.y} $${z} ${item|quote} ${bad", visit, syntax, &s);
	ck_assert_int_eq(s.n, 3);
	ck_assert_int_eq(s.ns[0], REF_VAR);
	ck_assert_uint_eq(s.off[0], 2);
	ck_assert_int_eq(s.ns[1], REF_SECRET);
	ck_assert_int_eq(s.ns[2], REF_ITEM);
	ck_assert_int_eq(s.syntax, 1);
}
END_TEST

START_TEST(test_single_ref)
{
	struct interp_ref ref;
	struct buf scratch = BUF_INIT;

	ck_assert(interp_is_single_ref("${weights}", &ref, &scratch));
	ck_assert_int_eq(ref.ns, REF_VAR);
	ck_assert_str_eq(ref.name, "weights");
	ck_assert(interp_is_single_ref("  ${weights} ", &ref, &scratch));
	ck_assert(!interp_is_single_ref("x${weights}", &ref, &scratch));
	ck_assert(!interp_is_single_ref("${a}${b}", &ref, &scratch));
	ck_assert(!interp_is_single_ref("[1, 2]", &ref, &scratch));
	buf_release(&scratch);
}
END_TEST

static Suite *
interp_suite(void)
{
	Suite *s = suite_create("interp");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_plain_refs);
	tcase_add_test(tc, test_filters);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_secret_flag);
	tcase_add_test(tc, test_errors);
	tcase_add_test(tc, test_walk);
	tcase_add_test(tc, test_single_ref);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(interp_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
