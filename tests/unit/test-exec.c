/*
 * Unit tests of exec.c: the one loop that drives an executor's ops
 * (local commands and tcp probes), cancellation through a token, the
 * test-only local hosts, and the process-group table of the hard exit.
 */
#include <check.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "child.h"
#include "exec.h"
#include "util.h"

START_TEST(test_local_run)
{
	struct exec_ctx *ctx = exec_ctx_new(NULL);
	static const char *const env[] = { "GREETING=hello", NULL };
	struct exec_req req = { .kind = ACT_RUN, .target = &exec_target_local,
		.script = "echo \"$GREETING\"; echo err >&2; exit 3", .env = env };
	struct exec_result res;

	exec_action(ctx, &req, &res);
	ck_assert_int_eq(res.status, EXEC_DONE);
	ck_assert_int_eq(res.exit_code, 3);
	ck_assert_str_eq(buf_str(&res.out), "hello\n");
	ck_assert_str_eq(buf_str(&res.err), "err\n");
	exec_result_release(&res);
	exec_ctx_free(ctx);
}
END_TEST

static void *
fire_later(void *arg)
{
	cancel_wait(NULL, 200);
	cancel_fire(arg, "watch probe 'x' failed");
	return NULL;
}

/* Firing the run's token stops an action running under a child token. */
START_TEST(test_cancel_stops_action)
{
	struct exec_ctx *ctx = exec_ctx_new(NULL);
	struct cancel_token *run = cancel_new(NULL), *unit = cancel_new(run);
	struct exec_req req = { .kind = ACT_RUN, .target = &exec_target_local,
		.script = "sleep 60", .cancel = unit };
	struct exec_result res;
	pthread_t t;
	int64_t t0 = now_ms();

	ck_assert_int_eq(pthread_create(&t, NULL, fire_later, run), 0);
	exec_action(ctx, &req, &res);
	pthread_join(t, NULL);
	ck_assert_int_eq(res.status, EXEC_CANCELLED);
	/* generous bound: only detects that the cancel was not seen */
	ck_assert(now_ms() - t0 < 30000);
	exec_result_release(&res);
	cancel_free(unit);
	cancel_free(run);
	exec_ctx_free(ctx);
}
END_TEST

START_TEST(test_tcp_refused_and_cancelled)
{
	struct exec_ctx *ctx = exec_ctx_new(NULL);
	struct cancel_token *tok = cancel_new(NULL);
	struct exec_req req = { .kind = ACT_TCP, .target = &exec_target_local,
		.tcp = "127.0.0.1:1", .timeout_ms = 5000 };
	struct exec_result res;

	exec_action(ctx, &req, &res);
	ck_assert_int_eq(res.status, EXEC_DONE);
	ck_assert_int_eq(res.exit_code, 1);
	ck_assert_ptr_nonnull(strstr(res.error, "cannot connect to 127.0.0.1:1"));
	exec_result_release(&res);
	/* a token fired before the start stops it at once */
	cancel_fire(tok, NULL);
	req.cancel = tok;
	exec_action(ctx, &req, &res);
	ck_assert_int_eq(res.status, EXEC_CANCELLED);
	exec_result_release(&res);
	cancel_free(tok);
	exec_ctx_free(ctx);
}
END_TEST

/* Without ops for a kind the action is refused, not run. */
START_TEST(test_registry)
{
	struct exec_ctx *ctx = exec_ctx_new(NULL);
	struct exec_req req = { .kind = ACT_PAUSE, .target = &exec_target_local };
	struct exec_result res;

	ck_assert(exec_available(ctx, ACT_RUN, false));
	ck_assert(exec_available(ctx, ACT_TCP, false));
	ck_assert(!exec_available(ctx, ACT_PAUSE, false));
	exec_action(ctx, &req, &res);
	ck_assert_int_eq(res.status, EXEC_ERROR);
	ck_assert_ptr_nonnull(strstr(res.error, "not available"));
	exec_result_release(&res);
	exec_ctx_free(ctx);
}
END_TEST

/* The test-only hook: a remote target's run action runs here with MIGRATE_HOST. */
START_TEST(test_local_hosts_hook)
{
	struct exec_ctx_opts o = { .test_local_hosts = true };
	struct exec_ctx *ctx = exec_ctx_new(&o);
	struct exec_target web = { .name = "web1", .address = "10.9.9.9", .sudo = -1 };
	struct exec_req req = { .kind = ACT_RUN, .target = &web, .script = "echo \"$MIGRATE_HOST\"" };
	struct exec_result res;

	exec_action(ctx, &req, &res);
	ck_assert_int_eq(res.status, EXEC_DONE);
	ck_assert_str_eq(buf_str(&res.out), "10.9.9.9\n");
	exec_result_release(&res);
	exec_ctx_free(ctx);
}
END_TEST

/* The hard exit kills every registered group, not just the last one. */
START_TEST(test_kill_groups)
{
	static const char *const argv[] = { "sleep", "60", NULL };
	struct child_opts co = { .argv = argv };
	struct exec_ctx *ctx = exec_ctx_new(NULL);
	struct child *c[3];
	char *err = NULL;

	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(child_start(&co, &c[i], &err), 0);
		exec_pgid_add(ctx, child_pid(c[i]));
	}
	/* one ended normally: its slot is freed and not killed again */
	exec_pgid_remove(ctx, child_pid(c[1]));
	child_stop(c[1]);
	exec_kill_groups(ctx);
	for (int i = 0; i < 3; i++) {
		struct child_result r;
		while (!child_advance(c[i])) {
			struct pollfd p[4];
			int64_t t = -1;
			size_t n = child_wait_on(c[i], p, 4, &t);
			poll(p, (nfds_t)n, (int)t);
		}
		child_finish(c[i], &r);
		if (i == 1)
			ck_assert_str_eq(child_status_name(r.status), "cancelled");
		else
			ck_assert_int_eq(r.term_signal, SIGKILL);
		child_result_release(&r);
	}
	exec_ctx_free(ctx);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("exec");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_local_run);
	tcase_add_test(tc, test_cancel_stops_action);
	tcase_add_test(tc, test_tcp_refused_and_cancelled);
	tcase_add_test(tc, test_registry);
	tcase_add_test(tc, test_local_hosts_hook);
	tcase_add_test(tc, test_kill_groups);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
