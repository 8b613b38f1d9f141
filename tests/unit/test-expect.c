/*
 * test-expect.c - judging results against expect: (expect.c): HTTP status,
 * value by regex and by json: pointer, numeric strings, Prometheus answers
 * (samples, empty results, errors, NaN), no_data fail|pass|hold, bounds.
 * Each expect is loaded from a probe of a small runbook.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "expect.h"
#include "runbook.h"
#include "util.h"

static struct runbook *rb;

/* Load a runbook whose only probe is `probe` (YAML flow mapping). */
static const struct probe *
load_probe(const char *probe)
{
	char path[] = "/tmp/migrate-expect-XXXXXX";
	int fd = mkstemp(path);
	struct diags d = { 0 };
	FILE *f;

	ck_assert_int_ge(fd, 0);
	f = fdopen(fd, "w");
	fprintf(f, "runbook: 1\nname: t\nprobes:\n  p: %s\nphases:\n  - name: p\n    verify: [p]\n", probe);
	fclose(f);
	runbook_free(rb);
	rb = runbook_load(path, NULL, 0, &d);
	unlink(path);
	if (rb == NULL)
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s\n", d.v[i].msg);
	ck_assert_ptr_nonnull(rb);
	diags_release(&d);
	return &rb->probes[0];
}

/* Judge body (HTTP status) against probe; the verdict, with why and what was observed. */
static enum verdict
judge(const char *probe, int status, const char *body, struct observed *obs, struct buf *why)
{
	const struct probe *p = load_probe(probe);
	struct exec_result res;
	enum verdict v;

	memset(&res, 0, sizeof(res));
	res.status = EXEC_DONE;
	res.http_status = status;
	res.duration_ms = 12;
	buf_adds(&res.out, body);
	buf_reset(why);
	v = expect_eval(&p->expect, p->action.kind, &res, obs, why);
	exec_result_release(&res);
	return v;
}

#define HTTP(expect) "{http: {url: 'http://127.0.0.1:1/'}, expect: " expect "}"
#define PROM(expect) "{prometheus: {url: 'http://127.0.0.1:1', query: up}, expect: " expect "}"
#define PROM_ANSWER(v) "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[{\"metric\":{},\"value\":[1.5,\"" v "\"]}]}}"

START_TEST(test_status)
{
	struct buf why = BUF_INIT;
	struct observed obs;

	ck_assert_int_eq(judge(HTTP("{}"), 204, "", &obs, &why), VERDICT_PASS);
	ck_assert_int_eq(obs.status, 204);
	ck_assert_int_eq(obs.latency_ms, 12);
	observed_release(&obs);
	ck_assert_int_eq(judge(HTTP("{}"), 503, "", &obs, &why), VERDICT_FAIL);
	ck_assert_str_eq(buf_str(&why), "status 503, expected 2xx");
	observed_release(&obs);
	ck_assert_int_eq(judge(HTTP("{status: [200, 4xx]}"), 404, "", &obs, &why), VERDICT_PASS);
	observed_release(&obs);
	ck_assert_int_eq(judge(HTTP("{status: [200, 4xx]}"), 500, "", &obs, &why), VERDICT_FAIL);
	ck_assert_str_eq(buf_str(&why), "status 500, expected 200 or 4xx");
	observed_release(&obs);
	buf_release(&why);
}
END_TEST

START_TEST(test_json_pointer)
{
	struct buf why = BUF_INIT;
	struct observed obs;
	const char *body = "{\"a\": {\"n\": 3, \"s\": \" 0.0012 \", \"x\": \"abc\", \"z\": null, \"nan\": \"NaN\","
	    " \"k~/\": [7, 8]}}";

	ck_assert_int_eq(judge(HTTP("{value: {json: /a/n, below: 5}}"), 200, body, &obs, &why), VERDICT_PASS);
	ck_assert(obs.has_value);
	ck_assert_str_eq(obs.value_text, "3");
	observed_release(&obs);
	ck_assert_int_eq(judge(HTTP("{value: {json: /a/s, below: 0.001}}"), 200, body, &obs, &why), VERDICT_FAIL);
	ck_assert_str_eq(buf_str(&why), "value 0.0012 is not below 0.001");
	observed_release(&obs);
	/* RFC 6901 escapes: ~0 is ~, ~1 is / */
	ck_assert_int_eq(judge(HTTP("{value: {json: /a/k~0~1/1, equals: 8}}"), 200, body, &obs, &why), VERDICT_PASS);
	observed_release(&obs);
	ck_assert_int_eq(judge(HTTP("{value: {json: /a/x, below: 1}}"), 200, body, &obs, &why), VERDICT_FAIL);
	ck_assert(strstr(buf_str(&why), "is not a number") != NULL);
	ck_assert(!obs.no_data);
	observed_release(&obs);
	/* absent, null, NaN: no data */
	ck_assert_int_eq(judge(HTTP("{value: {json: /a/missing, below: 1}}"), 200, body, &obs, &why), VERDICT_FAIL);
	ck_assert(obs.no_data);
	ck_assert(strncmp(buf_str(&why), "no data", 7) == 0);
	observed_release(&obs);
	ck_assert_int_eq(judge(HTTP("{value: {json: /a/z, below: 1}, no_data: pass}"), 200, body, &obs, &why), VERDICT_PASS);
	ck_assert(obs.no_data);
	observed_release(&obs);
	ck_assert_int_eq(judge(HTTP("{value: {json: /a/nan, below: 1}, no_data: hold}"), 200, body, &obs, &why), VERDICT_HOLD);
	observed_release(&obs);
	ck_assert_int_eq(judge(HTTP("{value: {json: /a/n, below: 1}}"), 200, "<html>", &obs, &why), VERDICT_FAIL);
	ck_assert_str_eq(buf_str(&why), "the body is not JSON");
	observed_release(&obs);
	buf_release(&why);
}
END_TEST

START_TEST(test_regex_value)
{
	struct buf why = BUF_INIT;
	struct observed obs;

	ck_assert_int_eq(judge(HTTP("{value: {regex: 'rate=([0-9.]+)', at_most: 0.5}}"), 200, "rate=0.5", &obs, &why),
	    VERDICT_PASS);
	ck_assert_str_eq(obs.value_text, "0.5");
	observed_release(&obs);
	ck_assert_int_eq(judge(HTTP("{value: {regex: 'rate=([0-9.]+)', at_most: 0.5}, no_data: hold}"), 200, "nothing",
	    &obs, &why), VERDICT_HOLD);
	ck_assert(obs.no_data);
	observed_release(&obs);
	buf_release(&why);
}
END_TEST

START_TEST(test_prometheus)
{
	struct buf why = BUF_INIT, b = BUF_INIT;
	struct observed obs;

	ck_assert_int_eq(judge(PROM("{value: {below: 0.01}}"), 200, PROM_ANSWER("0.0042"), &obs, &why), VERDICT_PASS);
	ck_assert_str_eq(obs.value_text, "0.0042");
	observed_release(&obs);
	ck_assert_int_eq(judge(PROM("{value: {below: 0.01}}"), 200, PROM_ANSWER("0.05"), &obs, &why), VERDICT_FAIL);
	ck_assert_str_eq(buf_str(&why), "value 0.05 is not below 0.01");
	observed_release(&obs);
	ck_assert_int_eq(judge(PROM("{value: {below: 0.01}}"), 200, PROM_ANSWER("NaN"), &obs, &why), VERDICT_FAIL);
	ck_assert(obs.no_data);
	observed_release(&obs);
	ck_assert_int_eq(judge(PROM("{value: {below: 0.01}, no_data: pass}"), 200,
	    "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}", &obs, &why), VERDICT_PASS);
	ck_assert(obs.no_data);
	observed_release(&obs);
	ck_assert_int_eq(judge(PROM("{value: {above: 1}}"), 200,
	    "{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":[1.5,\"2\"]}}", &obs, &why),
	    VERDICT_PASS);
	observed_release(&obs);
	/* an error payload says more than its status */
	ck_assert_int_eq(judge(PROM("{value: {below: 0.01}}"), 400,
	    "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"parse error\"}", &obs, &why), VERDICT_FAIL);
	ck_assert_str_eq(buf_str(&why), "Prometheus error: bad_data: parse error (status 400)");
	observed_release(&obs);
	load_probe(PROM("{value: {below: 0.01, above: 0}}"));
	expect_describe_bounds(&rb->probes[0].expect, &b);
	ck_assert_str_eq(buf_str(&b), "> 0, < 0.01");
	buf_release(&b);
	buf_release(&why);
}
END_TEST

static void
teardown(void)
{
	runbook_free(rb);
	rb = NULL;
}

static Suite *
expect_suite(void)
{
	Suite *s = suite_create("expect");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, NULL, teardown);
	tcase_add_test(tc, test_status);
	tcase_add_test(tc, test_json_pointer);
	tcase_add_test(tc, test_regex_value);
	tcase_add_test(tc, test_prometheus);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(expect_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
