/*
 * test-http-action.c - building the request of an http: or prometheus:
 * action (http-action.c): expansion, headers (CR/LF once expanded), the
 * Idempotency-Key on state-changing methods only and its stability,
 * prometheus URLs, body_file.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http-action.h"
#include "util.h"

/* Expand ${x} to the text in ctx; any other text as written. */
static int
expand(void *ctx, const struct text *t, struct buf *out, char **err)
{
	const char *p = t->s, *ref;

	while ((ref = strstr(p, "${x}")) != NULL) {
		buf_add(out, p, (size_t)(ref - p));
		buf_adds(out, ctx);
		p = ref + 4;
	}
	buf_adds(out, p);
	return 0;
}

static struct text
txt(const char *s)
{
	struct text t;
	memset(&t, 0, sizeof(t));
	t.s = (char *)s;
	return t;
}

static bool
has(const struct http_call *c, const char *line)
{
	for (size_t i = 0; i < c->n_headers; i++)
		if (strcmp(c->headers[i], line) == 0)
			return true;
	return false;
}

START_TEST(test_build_http)
{
	struct action a;
	struct http_req hreq;
	struct kv h[2];
	struct http_call c;
	char *err = NULL;

	memset(&a, 0, sizeof(a));
	memset(&hreq, 0, sizeof(hreq));
	a.http = &hreq;
	memset(h, 0, sizeof(h));
	a.kind = ACT_HTTP;
	hreq.method = txt("POST");
	hreq.url = txt("https://api/${x}/flag");
	hreq.body = txt("{\"v\": \"${x}\"}");
	h[0].key = "Authorization";
	h[0].value = txt("Bearer ${x}");
	h[1].key = "X-Empty";
	h[1].value = txt("");
	hreq.headers = h;
	hreq.n_headers = 2;
	ck_assert_int_eq(http_call_build(&c, &a, expand, "v1", "K", &err), 0);
	ck_assert_str_eq(c.req.url, "https://api/v1/flag");
	ck_assert_str_eq(c.req.method, "POST");
	ck_assert_str_eq(c.req.body, "{\"v\": \"v1\"}");
	ck_assert_uint_eq(c.req.body_len, strlen("{\"v\": \"v1\"}"));
	ck_assert(has(&c, "Authorization: Bearer v1"));
	ck_assert(has(&c, "X-Empty;"));
	ck_assert(has(&c, "Idempotency-Key: K"));
	http_call_release(&c);

	/* a GET carries no key; a key written in the runbook wins */
	hreq.method = txt("GET");
	ck_assert_int_eq(http_call_build(&c, &a, expand, "v1", "K", &err), 0);
	ck_assert(!has(&c, "Idempotency-Key: K"));
	http_call_release(&c);
	hreq.method = txt("DELETE");
	h[1].key = "idempotency-key";
	h[1].value = txt("mine");
	ck_assert_int_eq(http_call_build(&c, &a, expand, "v1", "K", &err), 0);
	ck_assert(has(&c, "idempotency-key: mine"));
	ck_assert(!has(&c, "Idempotency-Key: K"));
	http_call_release(&c);

	/* a line break that arrives with a value is refused */
	ck_assert_int_eq(http_call_build(&c, &a, expand, "a\r\nX-Evil: 1", "K", &err), -1);
	ck_assert(strstr(err, "'Authorization' contains a line break") != NULL);
	free(err);
	http_call_release(&c);
}
END_TEST

START_TEST(test_build_prometheus)
{
	struct action a;
	struct http_req hreq;
	struct http_call c;
	char *err = NULL;

	memset(&a, 0, sizeof(a));
	memset(&hreq, 0, sizeof(hreq));
	a.http = &hreq;
	a.kind = ACT_PROMETHEUS;
	hreq.method = txt("GET");
	hreq.url = txt("http://prom:9090/");
	hreq.query = txt("sum(rate(x{code=~\"5..\"}[5m])) / ${x}");
	ck_assert_int_eq(http_call_build(&c, &a, expand, "2", "K", &err), 0);
	ck_assert_str_eq(c.req.url,
	    "http://prom:9090/api/v1/query?query=sum%28rate%28x%7Bcode%3D~%225..%22%7D%5B5m%5D%29%29%20%2F%202");
	ck_assert_uint_eq(c.n_headers, 0);
	http_call_release(&c);
}
END_TEST

START_TEST(test_body_file)
{
	char path[] = "/tmp/migrate-body-XXXXXX";
	int fd = mkstemp(path);
	struct action a;
	struct http_req hreq;
	struct http_call c;
	char *err = NULL;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "{\"a\":\0 1}", 9), 9);
	close(fd);
	memset(&a, 0, sizeof(a));
	memset(&hreq, 0, sizeof(hreq));
	a.http = &hreq;
	a.kind = ACT_HTTP;
	hreq.method = txt("PUT");
	hreq.url = txt("http://h/");
	hreq.body_file = txt(path);
	ck_assert_int_eq(http_call_build(&c, &a, expand, "", NULL, &err), 0);
	ck_assert_uint_eq(c.req.body_len, 9);   /* bytes as they are, NUL included */
	ck_assert_int_eq(memcmp(c.req.body, "{\"a\":\0 1}", 9), 0);
	http_call_release(&c);
	unlink(path);
	ck_assert_int_eq(http_call_build(&c, &a, expand, "", NULL, &err), -1);
	ck_assert(strstr(err, "cannot read body_file") != NULL);
	free(err);
	http_call_release(&c);
}
END_TEST

START_TEST(test_idempotency_key)
{
	char *a = http_idempotency_key("RUN1", "shift[2]", "step");
	char *b = http_idempotency_key("RUN1", "shift[2]", "step");
	char *r = http_idempotency_key("RUN1", "shift[2]", "rollback");
	char *o = http_idempotency_key("RUN1", "shift[3]", "step");
	char *n = http_idempotency_key("RUN2", "shift[2]", "step");

	ck_assert_str_eq(a, b);
	ck_assert_str_ne(a, r);
	ck_assert_str_ne(a, o);
	ck_assert_str_ne(a, n);
	ck_assert(strncmp(a, "RUN1-", 5) == 0);
	ck_assert_uint_eq(strlen(a), 5 + 32);
	ck_assert_uint_eq(strspn(a + 5, "0123456789abcdef"), 32);
	free(a);
	free(b);
	free(r);
	free(o);
	free(n);
}
END_TEST

static Suite *
http_action_suite(void)
{
	Suite *s = suite_create("http-action");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_build_http);
	tcase_add_test(tc, test_build_prometheus);
	tcase_add_test(tc, test_body_file);
	tcase_add_test(tc, test_idempotency_key);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_action_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
