/*
 * test-http-client.c - one HTTP request against a real server: the suite's
 * own scripted server (tests/httpd.py) started on 127.0.0.1 with a free
 * port, HTTP and HTTPS (a throwaway certificate made by openssl).
 *
 * Upper bounds on durations only detect hangs; they are generous on purpose.
 */
#include <check.h>
#include <json-c/json.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "http-client.h"
#include "util.h"

struct server {
	pid_t pid;
	int port;
	char dir[64];
	char base[96];
	bool tls;
};

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(text, f);
	fclose(f);
}

static char *
path_in(const struct server *s, const char *name)
{
	return xasprintf("%s/%s", s->dir, name);
}

/* Make a self-signed certificate for 127.0.0.1 in dir (cert.pem, key.pem). */
static void
make_cert(const char *dir)
{
	char *cmd = xasprintf("openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/key.pem "
	    "-out %s/cert.pem -days 2 -subj /CN=127.0.0.1 "
	    "-addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1", dir, dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

static void
server_start(struct server *s, const char *config, bool tls)
{
	char *cfg, *log, *portf;

	memset(s, 0, sizeof(*s));
	strcpy(s->dir, "/tmp/migrate-http-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(s->dir));
	s->tls = tls;
	cfg = path_in(s, "config.json");
	log = path_in(s, "log.jsonl");
	portf = path_in(s, "port");
	write_file(cfg, config);
	if (tls)
		make_cert(s->dir);
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (s->pid == 0) {
		char *script = xasprintf("%s/httpd.py", TEST_SRCDIR);
		char *cert = path_in(s, "cert.pem"), *key = path_in(s, "key.pem");
		if (tls)
			execlp("python3", "python3", script, "--config", cfg, "--log", log, "--port-file", portf,
			    "--cert", cert, "--key", key, (char *)NULL);
		else
			execlp("python3", "python3", script, "--config", cfg, "--log", log, "--port-file", portf,
			    (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		FILE *f = fopen(portf, "r");
		if (f) {
			ck_assert_int_eq(fscanf(f, "%d", &s->port), 1);
			fclose(f);
			break;
		}
		sleep_ms(50, NULL);
	}
	ck_assert_int_gt(s->port, 0);
	snprintf(s->base, sizeof(s->base), "%s://127.0.0.1:%d", tls ? "https" : "http", s->port);
	free(cfg);
	free(log);
	free(portf);
}

static void
server_stop(struct server *s)
{
	char *cmd;

	kill(s->pid, SIGTERM);
	waitpid(s->pid, NULL, 0);
	cmd = xasprintf("rm -rf %s", s->dir);
	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

/* The requests the server logged, as a JSON array. */
static struct json_object *
server_log(const struct server *s)
{
	char *log = path_in(s, "log.jsonl");
	FILE *f = fopen(log, "r");
	struct json_object *all = json_object_new_array();
	char line[65536];

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		json_object_array_add(all, json_tokener_parse(line));
	fclose(f);
	free(log);
	return all;
}

static const char *
logged(struct json_object *log, size_t i, const char *field)
{
	struct json_object *e = json_object_array_get_idx(log, i), *v;
	ck_assert_ptr_nonnull(e);
	ck_assert(json_object_object_get_ex(e, field, &v));
	return json_object_get_string(v);
}

static const char *
logged_header(struct json_object *log, size_t i, const char *name)
{
	struct json_object *e = json_object_array_get_idx(log, i), *h, *v;
	ck_assert(json_object_object_get_ex(e, "headers", &h));
	return json_object_object_get_ex(h, name, &v) ? json_object_get_string(v) : NULL;
}

static void
get(struct http_pool *pool, const struct server *s, const char *path, struct http_response *r)
{
	char *url = xasprintf("%s%s", s->base, path);
	struct http_request req = { .method = "GET", .url = url, .timeout_ms = 20000 };
	http_perform(pool, &req, r);
	free(url);
}

START_TEST(test_get_status_body)
{
	struct server s;
	struct http_response r;

	server_start(&s, "{\"/ok\": [{\"status\": 200, \"body\": \"{\\\"status\\\": \\\"ok\\\"}\"}],"
	    " \"/down\": [{\"status\": 503, \"body\": \"busy\"}]}", false);
	get(NULL, &s, "/ok", &r);
	ck_assert_int_eq(r.outcome, HTTP_RESPONSE);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(buf_str(&r.body), "{\"status\": \"ok\"}");
	ck_assert(!r.truncated);
	ck_assert_int_ge(r.latency_ms, 0);
	http_response_release(&r);
	get(NULL, &s, "/down", &r);
	ck_assert_int_eq(r.outcome, HTTP_RESPONSE);
	ck_assert_int_eq(r.status, 503);
	ck_assert_str_eq(buf_str(&r.body), "busy");
	http_response_release(&r);
	get(NULL, &s, "/nowhere", &r);
	ck_assert_int_eq(r.status, 404);
	http_response_release(&r);
	server_stop(&s);
}
END_TEST

START_TEST(test_post_headers_body)
{
	struct server s;
	struct http_response r;
	struct json_object *log;
	const char *const headers[] = { "X-Token: abc", "Idempotency-Key: k1", NULL };
	char *url;

	server_start(&s, "{\"/admin\": [{\"status\": 204}]}", false);
	url = xasprintf("%s/admin", s.base);
	struct http_request req = { .method = "POST", .url = url, .headers = headers,
		.body = "{\"enabled\": true}", .body_len = 17, .timeout_ms = 20000 };
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_RESPONSE);
	ck_assert_int_eq(r.status, 204);
	http_response_release(&r);
	req.method = "PATCH";
	http_perform(NULL, &req, &r);
	http_response_release(&r);
	req.method = "DELETE";
	req.body = NULL;
	http_perform(NULL, &req, &r);
	http_response_release(&r);
	log = server_log(&s);
	ck_assert_uint_eq(json_object_array_length(log), 3);
	ck_assert_str_eq(logged(log, 0, "method"), "POST");
	ck_assert_str_eq(logged(log, 0, "body"), "{\"enabled\": true}");
	ck_assert_str_eq(logged_header(log, 0, "X-Token"), "abc");
	ck_assert_str_eq(logged_header(log, 0, "Idempotency-Key"), "k1");
	ck_assert_str_eq(logged(log, 1, "method"), "PATCH");
	ck_assert_str_eq(logged(log, 1, "body"), "{\"enabled\": true}");
	ck_assert_str_eq(logged(log, 2, "method"), "DELETE");
	ck_assert_str_eq(logged(log, 2, "body"), "");
	json_object_put(log);
	free(url);
	server_stop(&s);
}
END_TEST

START_TEST(test_keep_alive)
{
	struct server s;
	struct http_response r;
	struct http_pool *pool = http_pool_create();
	struct json_object *log;

	server_start(&s, "{\"/a\": [{\"body\": \"1\"}]}", false);
	for (int i = 0; i < 3; i++) {
		get(pool, &s, "/a", &r);
		ck_assert_int_eq(r.status, 200);
		http_response_release(&r);
	}
	log = server_log(&s);
	ck_assert_uint_eq(json_object_array_length(log), 3);
	/* one connection: the same client port for every request */
	ck_assert_str_eq(logged(log, 0, "peer"), logged(log, 1, "peer"));
	ck_assert_str_eq(logged(log, 0, "peer"), logged(log, 2, "peer"));
	json_object_put(log);
	http_pool_free(pool);
	server_stop(&s);
}
END_TEST

START_TEST(test_big_body_cut)
{
	struct server s;
	struct http_response r;

	server_start(&s, "{\"/big\": [{\"mode\": \"big\", \"size\": 5242880}]}", false);
	get(NULL, &s, "/big", &r);
	ck_assert_int_eq(r.outcome, HTTP_RESPONSE);
	ck_assert_int_eq(r.status, 200);
	ck_assert_uint_eq(r.body.len, HTTP_BODY_MAX);
	ck_assert(r.body.cap <= 2 * HTTP_BODY_MAX);   /* kept, not buffered whole */
	ck_assert_uint_eq(r.body_bytes, 5242880);
	ck_assert(r.truncated);
	http_response_release(&r);
	server_stop(&s);
}
END_TEST

START_TEST(test_drip_times_out)
{
	struct server s;
	struct http_response r;
	char *url;
	int64_t t0;

	server_start(&s, "{\"/drip\": [{\"mode\": \"drip\"}], \"/hang\": [{\"mode\": \"hang\"}]}", false);
	url = xasprintf("%s/drip", s.base);
	struct http_request req = { .method = "GET", .url = url, .timeout_ms = 2000 };
	t0 = now_ms();
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_TIMED_OUT);
	ck_assert_ptr_nonnull(r.error);
	ck_assert_int_lt(now_ms() - t0, 15000);
	http_response_release(&r);
	free(url);
	url = xasprintf("%s/hang", s.base);
	req.url = url;
	req.timeout_ms = 1000;
	t0 = now_ms();
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_TIMED_OUT);
	ck_assert_int_lt(now_ms() - t0, 15000);
	http_response_release(&r);
	free(url);
	server_stop(&s);
}
END_TEST

struct canceller {
	volatile sig_atomic_t *flag;
};

static void *
cancel_later(void *arg)
{
	struct canceller *c = arg;
	sleep_ms(300, NULL);
	*c->flag = 1;
	return NULL;
}

START_TEST(test_cancel)
{
	struct server s;
	struct http_response r;
	volatile sig_atomic_t cancel = 0;
	struct canceller c = { &cancel };
	pthread_t t;
	char *url;
	int64_t t0;

	server_start(&s, "{\"/hang\": [{\"mode\": \"hang\"}]}", false);
	url = xasprintf("%s/hang", s.base);
	struct http_request req = { .method = "GET", .url = url, .timeout_ms = 60000, .cancel = &cancel };
	pthread_create(&t, NULL, cancel_later, &c);
	t0 = now_ms();
	http_perform(NULL, &req, &r);
	pthread_join(t, NULL);
	ck_assert_int_eq(r.outcome, HTTP_CANCELLED);
	ck_assert_int_lt(now_ms() - t0, 10000);
	http_response_release(&r);
	free(url);
	server_stop(&s);
}
END_TEST

START_TEST(test_redirects)
{
	struct server s;
	struct http_response r;
	char *cfg, *url;

	server_start(&s, "{}", false);
	cfg = xasprintf("{\"/old\": [{\"mode\": \"redirect\", \"location\": \"%s/new\"}],"
	    " \"/new\": [{\"body\": \"here\"}],"
	    " \"/ftp\": [{\"mode\": \"redirect\", \"location\": \"ftp://127.0.0.1/x\"}],"
	    " \"/loop\": [{\"mode\": \"redirect\", \"location\": \"%s/loop\"}]}", s.base, s.base);
	{
		char *p = path_in(&s, "config.json.new"), *q = path_in(&s, "config.json");
		write_file(p, cfg);
		ck_assert_int_eq(rename(p, q), 0);
		free(p);
		free(q);
	}
	url = xasprintf("%s/old", s.base);
	struct http_request req = { .method = "GET", .url = url, .timeout_ms = 20000 };
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_RESPONSE);
	ck_assert_int_eq(r.status, 302);
	ck_assert_ptr_nonnull(r.location);
	ck_assert(strstr(r.location, "/new") != NULL);
	http_response_release(&r);
	req.follow = true;
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.status, 200);
	ck_assert_str_eq(buf_str(&r.body), "here");
	http_response_release(&r);
	free(url);
	url = xasprintf("%s/ftp", s.base);
	req.url = url;
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_FAILED);
	http_response_release(&r);
	free(url);
	url = xasprintf("%s/loop", s.base);
	req.url = url;
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_FAILED);
	ck_assert(strstr(r.error, "redirects") != NULL);
	http_response_release(&r);
	free(url);
	free(cfg);
	server_stop(&s);
}
END_TEST

START_TEST(test_schemes_and_refused)
{
	struct http_response r;
	char dir[] = "/tmp/migrate-http-XXXXXX";
	char *file, *url;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	file = xasprintf("%s/health.json", dir);
	write_file(file, "{\"ok\": 1}");
	url = xasprintf("file://%s", file);
	struct http_request req = { .method = "GET", .url = url, .timeout_ms = 5000 };
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_RESPONSE);
	ck_assert_str_eq(buf_str(&r.body), "{\"ok\": 1}");
	http_response_release(&r);
	req.url = "gopher://127.0.0.1/";
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_FAILED);
	ck_assert(strstr(r.error, "only http, https and file") != NULL);
	http_response_release(&r);
	/* a port nobody listens on (the port of a socket we just closed) */
	req.url = "http://127.0.0.1:1/";
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_FAILED);
	ck_assert(strstr(r.error, "cannot connect") != NULL);
	http_response_release(&r);
	unlink(file);
	rmdir(dir);
	free(file);
	free(url);
}
END_TEST

START_TEST(test_tls)
{
	struct server s;
	struct http_response r;
	char *url, *ca;

	server_start(&s, "{\"/h\": [{\"body\": \"secure\"}]}", true);
	url = xasprintf("%s/h", s.base);
	ca = path_in(&s, "cert.pem");
	struct http_request req = { .method = "GET", .url = url, .timeout_ms = 20000 };
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_FAILED);
	ck_assert(strstr(r.error, "TLS") != NULL);
	http_response_release(&r);
	req.ca_cert = ca;
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_RESPONSE);
	ck_assert_str_eq(buf_str(&r.body), "secure");
	http_response_release(&r);
	req.ca_cert = NULL;
	req.insecure = true;
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_RESPONSE);
	ck_assert_int_eq(r.status, 200);
	http_response_release(&r);
	/* preflight: connect and handshake only, nothing requested */
	req.insecure = false;
	req.ca_cert = ca;
	req.connect_only = true;
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_RESPONSE);
	http_response_release(&r);
	req.ca_cert = NULL;
	http_perform(NULL, &req, &r);
	ck_assert_int_eq(r.outcome, HTTP_FAILED);
	http_response_release(&r);
	{
		struct json_object *log = server_log(&s);
		ck_assert_uint_eq(json_object_array_length(log), 2);
		json_object_put(log);
	}
	free(url);
	free(ca);
	server_stop(&s);
}
END_TEST

START_TEST(test_changes_state)
{
	ck_assert(http_method_changes_state("POST"));
	ck_assert(http_method_changes_state("put"));
	ck_assert(http_method_changes_state("PATCH"));
	ck_assert(http_method_changes_state("DELETE"));
	ck_assert(!http_method_changes_state("GET"));
	ck_assert(!http_method_changes_state("HEAD"));
	ck_assert(!http_method_changes_state("OPTIONS"));
}
END_TEST

static Suite *
http_client_suite(void)
{
	Suite *s = suite_create("http-client");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_get_status_body);
	tcase_add_test(tc, test_post_headers_body);
	tcase_add_test(tc, test_keep_alive);
	tcase_add_test(tc, test_big_body_cut);
	tcase_add_test(tc, test_drip_times_out);
	tcase_add_test(tc, test_cancel);
	tcase_add_test(tc, test_redirects);
	tcase_add_test(tc, test_schemes_and_refused);
	tcase_add_test(tc, test_tls);
	tcase_add_test(tc, test_changes_state);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(http_client_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
