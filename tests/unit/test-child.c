/*
 * test-child.c - running local processes: exit status, pipes, environment,
 * directory, start failures, big output, timeouts, cancel, process groups.
 *
 * Upper bounds on durations only detect hangs (the children involved would
 * otherwise run for 30 s or more); they are generous on purpose.
 */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "child.h"
#include "util.h"

#define HANG_MS 10000

static const char *const sh_s[] = { "sh", "-s", NULL };

/* Run script through `sh -s` (fed on stdin) with the given options. */
static int
run_script(struct child_opts *o, const char *script, struct child_result *res)
{
	o->argv = sh_s;
	o->stdin_data = script;
	o->stdin_len = strlen(script);
	return child_run(o, res);
}

struct collect {
	struct buf stream[3];
	const char *trigger;          /* when stdout contains this, set *cancel */
	volatile sig_atomic_t *cancel;
};

static void
collect_output(void *ctx, int fd, const char *data, size_t len)
{
	struct collect *c = ctx;

	ck_assert(fd == 1 || fd == 2);
	buf_add(&c->stream[fd], data, len);
	if (c->trigger && c->cancel && strstr(buf_str(&c->stream[1]), c->trigger))
		*c->cancel = 1;
}

static void
collect_release(struct collect *c)
{
	buf_release(&c->stream[1]);
	buf_release(&c->stream[2]);
}

static char *
make_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *dir = xasprintf("%s/migrate-test-child-XXXXXX", base && *base ? base : "/tmp");

	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static void
remove_tree(const char *dir)
{
	char *cmd = xasprintf("rm -rf '%s'", dir);

	ck_assert_int_eq(system(cmd), 0);
	free(cmd);
}

/* Gone, or a zombie nobody reaps (PID 1 in a container may not). */
static int
process_gone(pid_t pid)
{
	char path[64], line[512], *p;
	FILE *f;
	size_t n;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return errno == ENOENT;
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = '\0';
	p = strrchr(line, ')');
	return p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static void
assert_gone_soon(pid_t pid)
{
	int64_t end = now_ms() + HANG_MS;

	while (!process_gone(pid) && now_ms() < end)
		sleep_ms(50, NULL);
	ck_assert_msg(process_gone(pid), "process %ld survived", (long)pid);
}

static pid_t
read_pidfile(const char *path)
{
	FILE *f = fopen(path, "r");
	long pid = 0;

	ck_assert_msg(f != NULL, "no pid file %s", path);
	ck_assert_int_eq(fscanf(f, "%ld", &pid), 1);
	fclose(f);
	ck_assert_int_gt(pid, 1);
	return (pid_t)pid;
}

START_TEST(test_script_on_stdin)
{
	struct child_opts o = { 0 };
	struct child_result res;

	/* $# is 0: the script is not an argument. */
	ck_assert_int_eq(run_script(&o, "echo \"args=$#\"\nexit 7\n", &res), 0);
	ck_assert_str_eq(child_status_name(res.status), "exited");
	ck_assert_int_eq(res.exit_code, 7);
	ck_assert_str_eq(buf_str(&res.out), "args=0\n");
	ck_assert_int_gt(res.pid, 0);
	ck_assert_int_ge(res.duration_ms, 0);
	ck_assert_ptr_null(res.error);
	child_result_release(&res);
}
END_TEST

START_TEST(test_stdout_stderr_separate)
{
	struct child_opts o = { 0 };
	struct child_result res;

	ck_assert_int_eq(run_script(&o, "echo out1; echo err1 >&2; echo out2; echo err2 >&2", &res), 0);
	ck_assert_int_eq(res.status, CHILD_EXITED);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(buf_str(&res.out), "out1\nout2\n");
	ck_assert_str_eq(buf_str(&res.err), "err1\nerr2\n");
	ck_assert(!res.out_truncated);
	ck_assert(!res.err_truncated);
	child_result_release(&res);
}
END_TEST

START_TEST(test_stdin_null)
{
	static const char *const cat[] = { "cat", NULL };
	struct child_opts o = { .argv = cat };
	struct child_result res;

	ck_assert_int_eq(child_run(&o, &res), 0);
	ck_assert_int_eq(res.status, CHILD_EXITED);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_uint_eq(res.out.len, 0);
	child_result_release(&res);
}
END_TEST

START_TEST(test_signaled)
{
	struct child_opts o = { 0 };
	struct child_result res;

	ck_assert_int_eq(run_script(&o, "kill -USR1 $$; sleep 5", &res), 0);
	ck_assert_str_eq(child_status_name(res.status), "signaled");
	ck_assert_int_eq(res.term_signal, SIGUSR1);
	child_result_release(&res);
}
END_TEST

/* An ignored or blocked signal in the parent must not carry over to the child. */
START_TEST(test_signals_reset)
{
	struct child_opts o = { 0 };
	struct child_result res;
	sigset_t usr2, old;

	signal(SIGUSR1, SIG_IGN);
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &usr2, &old);

	ck_assert_int_eq(run_script(&o, "kill -USR1 $$; exit 0", &res), 0);
	ck_assert_int_eq(res.status, CHILD_SIGNALED);
	ck_assert_int_eq(res.term_signal, SIGUSR1);
	child_result_release(&res);

	ck_assert_int_eq(run_script(&o, "kill -USR2 $$; exit 0", &res), 0);
	ck_assert_int_eq(res.status, CHILD_SIGNALED);
	ck_assert_int_eq(res.term_signal, SIGUSR2);
	child_result_release(&res);

	pthread_sigmask(SIG_SETMASK, &old, NULL);
	signal(SIGUSR1, SIG_DFL);
}
END_TEST

START_TEST(test_env_add)
{
	static const char *const add[] = {
		"MIGRATE_TEST_A=one",
		"MIGRATE_TEST_OVR=child",
		"MIGRATE_TEST_B=first",
		"MIGRATE_TEST_B=second",
		"MIGRATE_TEST_GONE",
		"MIGRATE_TEST_EMPTY=",
		NULL,
	};
	struct child_opts o = { .env_add = add };
	struct child_result res;

	ck_assert_int_eq(setenv("MIGRATE_TEST_OVR", "parent", 1), 0);
	ck_assert_int_eq(setenv("MIGRATE_TEST_GONE", "here", 1), 0);
	ck_assert_int_eq(run_script(&o,
	    "printf '%s|%s|%s|%s|%s|' \"$MIGRATE_TEST_A\" \"$MIGRATE_TEST_OVR\" "
	    "\"$MIGRATE_TEST_B\" \"${MIGRATE_TEST_GONE-unset}\" \"${MIGRATE_TEST_EMPTY-unset}\"\n"
	    "env | grep -c '^MIGRATE_TEST_OVR='\n"
	    "env | grep -c '^MIGRATE_TEST_B='\n", &res), 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(buf_str(&res.out), "one|child|second|unset||1\n1\n");
	child_result_release(&res);

	/* The parent's environment is untouched. */
	ck_assert_ptr_null(getenv("MIGRATE_TEST_A"));
	ck_assert_ptr_null(getenv("MIGRATE_TEST_B"));
	ck_assert_str_eq(getenv("MIGRATE_TEST_OVR"), "parent");
	ck_assert_str_eq(getenv("MIGRATE_TEST_GONE"), "here");
}
END_TEST

/* The program is looked up in the PATH the child gets. */
START_TEST(test_env_path_lookup)
{
	static const char *const argv[] = { "migrate-test-prog", NULL };
	const char *add[2] = { NULL, NULL };
	struct child_opts o = { .argv = argv, .env_add = add };
	struct child_result res;
	char *dir = make_tmpdir();
	char *prog = xasprintf("%s/migrate-test-prog", dir);
	char *path = xasprintf("PATH=%s:/usr/bin:/bin", dir);
	FILE *f = fopen(prog, "w");

	ck_assert_ptr_nonnull(f);
	fputs("#!/bin/sh\necho found\n", f);
	fclose(f);
	ck_assert_int_eq(chmod(prog, 0755), 0);
	add[0] = path;
	ck_assert_int_eq(child_run(&o, &res), 0);
	ck_assert_int_eq(res.status, CHILD_EXITED);
	ck_assert_str_eq(buf_str(&res.out), "found\n");
	child_result_release(&res);
	remove_tree(dir);
	free(path);
	free(prog);
	free(dir);
}
END_TEST

START_TEST(test_workdir)
{
	struct child_opts o = { 0 };
	struct child_result res;
	char *dir = make_tmpdir();
	char real[PATH_MAX];
	char *want;

	ck_assert_ptr_nonnull(realpath(dir, real));
	want = xasprintf("%s\n", real);
	o.workdir = dir;
	ck_assert_int_eq(run_script(&o, "pwd -P", &res), 0);
	ck_assert_int_eq(res.status, CHILD_EXITED);
	ck_assert_str_eq(buf_str(&res.out), want);
	child_result_release(&res);
	remove_tree(dir);
	free(want);
	free(dir);
}
END_TEST

START_TEST(test_bad_workdir)
{
	struct child_opts o = { .workdir = "/nonexistent/migrate-test-dir" };
	struct child_result res;

	ck_assert_int_eq(run_script(&o, "echo should-not-run", &res), -1);
	ck_assert_str_eq(child_status_name(res.status), "failed");
	ck_assert_str_eq(res.error,
	    "cannot change to directory '/nonexistent/migrate-test-dir': No such file or directory");
	ck_assert_uint_eq(res.out.len, 0);
	child_result_release(&res);
	ck_assert_ptr_null(res.error);
}
END_TEST

START_TEST(test_no_program)
{
	static const char *const argv[] = { "migrate-no-such-program", "x", NULL };
	struct child_opts o = { .argv = argv };
	struct child_result res;

	ck_assert_int_eq(child_run(&o, &res), -1);
	ck_assert_int_eq(res.status, CHILD_FAILED);
	ck_assert_str_eq(res.error, "cannot run 'migrate-no-such-program': No such file or directory");
	child_result_release(&res);
}
END_TEST

START_TEST(test_no_argv)
{
	static const char *const argv[] = { NULL };
	struct child_opts o = { .argv = argv };
	struct child_result res;

	ck_assert_int_eq(child_run(&o, &res), -1);
	ck_assert_int_eq(res.status, CHILD_FAILED);
	ck_assert_ptr_nonnull(res.error);
	child_result_release(&res);
}
END_TEST

static void
assert_tail_pattern(const struct buf *b, const char *line)
{
	size_t n = strlen(line), i;

	ck_assert_uint_eq(b->len, CHILD_TAIL_MAX);
	for (i = 0; i < b->len; i += n)
		ck_assert_msg(memcmp(b->data + i, line, n) == 0, "tail differs at %zu", i);
}

/*
 * 10 MiB on stdout and on stderr at once, written before the child reads a
 * 1 MiB stdin: a pump that blocks on any one pipe deadlocks here.
 */
START_TEST(test_large_output_no_deadlock)
{
	static const char *const argv[] = { "sh", "-c",
		"yes 0123456789abcde | head -c 10485760 &\n"
		"yes ZYXWVUTSRQPONML | head -c 10485760 >&2 &\n"
		"n=$(wc -c)\n"
		"wait\n"
		"test \"$n\" -eq 1048576\n", NULL };
	struct collect c = { 0 };
	struct child_opts o = { .argv = argv, .on_output = collect_output, .ctx = &c };
	struct child_result res;
	char *in = xmalloc(1024 * 1024);

	memset(in, 'x', 1024 * 1024);
	o.stdin_data = in;
	o.stdin_len = 1024 * 1024;
	ck_assert_int_eq(child_run(&o, &res), 0);
	ck_assert_int_eq(res.status, CHILD_EXITED);
	ck_assert_int_eq(res.exit_code, 0); /* all of stdin arrived */
	ck_assert_uint_eq(c.stream[1].len, 10485760);
	ck_assert_uint_eq(c.stream[2].len, 10485760);
	assert_tail_pattern(&res.out, "0123456789abcde\n");
	assert_tail_pattern(&res.err, "ZYXWVUTSRQPONML\n");
	ck_assert(res.out_truncated);
	ck_assert(res.err_truncated);
	child_result_release(&res);
	collect_release(&c);
	free(in);
}
END_TEST

/* Every byte reaches on_output in order, whatever the tail keeps. */
START_TEST(test_on_output_order)
{
	struct collect c = { 0 };
	struct child_opts o = { .on_output = collect_output, .ctx = &c, .tail_max = 100 };
	struct child_result res;
	struct buf want_out = BUF_INIT, want_err = BUF_INIT;
	int i;

	for (i = 0; i < 20000; i++) {
		buf_addf(&want_out, "%d\n", i);
		buf_addf(&want_err, "e%d\n", i);
	}
	ck_assert_int_eq(run_script(&o,
	    "i=0; while [ $i -lt 20000 ]; do echo $i; echo e$i >&2; i=$((i+1)); done", &res), 0);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_str_eq(buf_str(&c.stream[1]), buf_str(&want_out));
	ck_assert_str_eq(buf_str(&c.stream[2]), buf_str(&want_err));
	ck_assert_uint_eq(res.out.len, 100);
	ck_assert_uint_eq(res.err.len, 100);
	ck_assert(memcmp(res.out.data, want_out.data + want_out.len - 100, 100) == 0);
	ck_assert(memcmp(res.err.data, want_err.data + want_err.len - 100, 100) == 0);
	ck_assert(res.out_truncated);
	ck_assert(res.err_truncated);
	child_result_release(&res);
	buf_release(&want_out);
	buf_release(&want_err);
	collect_release(&c);
}
END_TEST

/* Exactly tail_max bytes is not truncated; one more is. */
START_TEST(test_tail_boundary)
{
	struct child_opts o = { .tail_max = 10 };
	struct child_result res;

	ck_assert_int_eq(run_script(&o, "printf 0123456789; printf abcdefghijk >&2", &res), 0);
	ck_assert_str_eq(buf_str(&res.out), "0123456789");
	ck_assert(!res.out_truncated);
	ck_assert_str_eq(buf_str(&res.err), "bcdefghijk");
	ck_assert(res.err_truncated);
	child_result_release(&res);
}
END_TEST

/* A child that does not read its stdin must not kill us with SIGPIPE. */
START_TEST(test_stdin_unread)
{
	static const char *const quit[] = { "sh", "-c", "exit 3", NULL };
	static const char *const close_in[] = { "sh", "-c", "exec 0<&-; sleep 0.2; exit 4", NULL };
	struct child_opts o = { 0 };
	struct child_result res;
	char *in = xmalloc(1024 * 1024);

	signal(SIGPIPE, SIG_DFL);
	memset(in, 'y', 1024 * 1024);
	o.stdin_data = in;
	o.stdin_len = 1024 * 1024;
	o.argv = quit;
	ck_assert_int_eq(child_run(&o, &res), 0);
	ck_assert_int_eq(res.status, CHILD_EXITED);
	ck_assert_int_eq(res.exit_code, 3);
	child_result_release(&res);
	o.argv = close_in;
	ck_assert_int_eq(child_run(&o, &res), 0);
	ck_assert_int_eq(res.status, CHILD_EXITED);
	ck_assert_int_eq(res.exit_code, 4);
	child_result_release(&res);
	free(in);
}
END_TEST

START_TEST(test_timeout)
{
	static const char *const argv[] = { "sleep", "30", NULL };
	struct child_opts o = { .argv = argv, .timeout_ms = 300 };
	struct child_result res;

	ck_assert_int_eq(child_run(&o, &res), 0);
	ck_assert_str_eq(child_status_name(res.status), "timeout");
	ck_assert_int_eq(res.term_signal, SIGTERM);
	ck_assert_int_ge(res.duration_ms, 300);
	ck_assert_int_lt(res.duration_ms, HANG_MS);
	child_result_release(&res);
}
END_TEST

/* SIGTERM is ignored, so SIGKILL follows after the grace. */
START_TEST(test_timeout_term_ignored)
{
	struct child_opts o = { .timeout_ms = 2000, .kill_grace_ms = 300 };
	struct child_result res;

	ck_assert_int_eq(run_script(&o, "trap '' TERM; sleep 30", &res), 0);
	ck_assert_int_eq(res.status, CHILD_TIMEOUT);
	ck_assert_int_eq(res.term_signal, SIGKILL);
	ck_assert_int_ge(res.duration_ms, 2300);
	ck_assert_int_lt(res.duration_ms, HANG_MS + 2300);
	child_result_release(&res);
}
END_TEST

/* The same stop sequence on cancel, started once the trap is known to be set. */
START_TEST(test_cancel_term_ignored)
{
	volatile sig_atomic_t cancel = 0;
	struct collect c = { .trigger = "ready", .cancel = &cancel };
	struct child_opts o = { .kill_grace_ms = 300, .cancel = &cancel,
		.on_output = collect_output, .ctx = &c };
	struct child_result res;

	ck_assert_int_eq(run_script(&o, "trap '' TERM; echo ready; sleep 30", &res), 0);
	ck_assert_str_eq(child_status_name(res.status), "cancelled");
	ck_assert_int_eq(res.term_signal, SIGKILL);
	ck_assert_int_lt(res.duration_ms, HANG_MS);
	child_result_release(&res);
	collect_release(&c);
}
END_TEST

/*
 * Run script (a format with one %s: a pid file it writes) until it times out
 * after 2 s, then check that the process it wrote down is gone.
 */
static void
assert_timeout_kills(const char *script_fmt, int64_t kill_grace_ms, int want_signal)
{
	struct child_opts o = { .timeout_ms = 2000, .kill_grace_ms = kill_grace_ms };
	struct child_result res;
	char *dir = make_tmpdir();
	char *pidfile = xasprintf("%s/pid", dir);
	char *script = xasprintf(script_fmt, pidfile);

	ck_assert_int_eq(run_script(&o, script, &res), 0);
	ck_assert_int_eq(res.status, CHILD_TIMEOUT);
	ck_assert_int_eq(res.term_signal, want_signal);
	ck_assert_int_lt(res.duration_ms, HANG_MS);
	assert_gone_soon(read_pidfile(pidfile));
	child_result_release(&res);
	remove_tree(dir);
	free(script);
	free(pidfile);
	free(dir);
}

/* A timeout stops the whole process group, not just the leader. */
START_TEST(test_timeout_kills_group)
{
	assert_timeout_kills("sleep 300 & echo $! > '%s'; wait", 0, SIGTERM);
}
END_TEST

/*
 * The leader dies on SIGTERM but its child ignores it and holds stdout: the
 * group still gets SIGKILL at once, long before the (huge) grace is over.
 */
START_TEST(test_timeout_kills_term_ignoring_grandchild)
{
	assert_timeout_kills("(trap '' TERM; exec sleep 300) & echo $! > '%s'; wait",
	    600000, SIGTERM);
}
END_TEST

static void *
cancel_later(void *arg)
{
	volatile sig_atomic_t *cancel = arg;

	sleep_ms(200, NULL);
	*cancel = 1;
	return NULL;
}

START_TEST(test_cancel_from_thread)
{
	static const char *const argv[] = { "sleep", "30", NULL };
	volatile sig_atomic_t cancel = 0;
	struct child_opts o = { .argv = argv, .cancel = &cancel };
	struct child_result res;
	pthread_t t;

	ck_assert_int_eq(pthread_create(&t, NULL, cancel_later, (void *)&cancel), 0);
	ck_assert_int_eq(child_run(&o, &res), 0);
	ck_assert_int_eq(pthread_join(t, NULL), 0);
	ck_assert_int_eq(res.status, CHILD_CANCELLED);
	ck_assert_int_eq(res.term_signal, SIGTERM);
	ck_assert_int_lt(res.duration_ms, HANG_MS);
	child_result_release(&res);
}
END_TEST

/* A daemon left behind holding stdout/stderr open does not hold us up, and is left alone. */
START_TEST(test_background_holds_output)
{
	struct child_opts o = { 0 };
	struct child_result res;
	long bg = 0;

	ck_assert_int_eq(run_script(&o, "sleep 30 & echo $!; echo bye >&2; exit 0", &res), 0);
	ck_assert_int_eq(res.status, CHILD_EXITED);
	ck_assert_int_eq(res.exit_code, 0);
	ck_assert_int_lt(res.duration_ms, HANG_MS);
	ck_assert_str_eq(buf_str(&res.err), "bye\n");
	ck_assert_int_eq(sscanf(buf_str(&res.out), "%ld", &bg), 1);
	ck_assert_int_gt(bg, 1);
	ck_assert_int_eq(kill((pid_t)bg, 0), 0);
	kill((pid_t)bg, SIGKILL);
	child_result_release(&res);
}
END_TEST

/* Output ends early, process goes on: the deadline still applies. */
START_TEST(test_closed_output_timeout)
{
	struct child_opts o = { .timeout_ms = 300 };
	struct child_result res;

	ck_assert_int_eq(run_script(&o, "exec >&- 2>&- 0<&-; sleep 30", &res), 0);
	ck_assert_int_eq(res.status, CHILD_TIMEOUT);
	ck_assert_int_lt(res.duration_ms, HANG_MS);
	child_result_release(&res);
}
END_TEST

struct concurrent {
	int n;
	struct child_result res;
	int ret;
};

static void *
run_concurrent(void *arg)
{
	struct concurrent *c = arg;
	const char *add[2] = { NULL, NULL };
	struct child_opts o = { .env_add = add };
	char *var = xasprintf("MIGRATE_TEST_N=%d", c->n);

	add[0] = var;
	c->ret = run_script(&o, "i=0; while [ $i -lt 200 ]; do echo \"$MIGRATE_TEST_N\"; i=$((i+1)); done | tail -n 1",
	    &c->res);
	free(var);
	return NULL;
}

START_TEST(test_concurrent_runs)
{
	struct concurrent c[4];
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++) {
		c[i].n = i;
		ck_assert_int_eq(pthread_create(&t[i], NULL, run_concurrent, &c[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		char want[16];

		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
		ck_assert_int_eq(c[i].ret, 0);
		ck_assert_int_eq(c[i].res.status, CHILD_EXITED);
		snprintf(want, sizeof(want), "%d\n", i);
		ck_assert_str_eq(buf_str(&c[i].res.out), want);
		child_result_release(&c[i].res);
	}
}
END_TEST

START_TEST(test_status_names)
{
	ck_assert_str_eq(child_status_name(CHILD_EXITED), "exited");
	ck_assert_str_eq(child_status_name(CHILD_SIGNALED), "signaled");
	ck_assert_str_eq(child_status_name(CHILD_TIMEOUT), "timeout");
	ck_assert_str_eq(child_status_name(CHILD_CANCELLED), "cancelled");
	ck_assert_str_eq(child_status_name(CHILD_FAILED), "failed");
	child_result_release(NULL);
}
END_TEST

static Suite *
child_suite(void)
{
	Suite *s = suite_create("child");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_script_on_stdin);
	tcase_add_test(tc, test_stdout_stderr_separate);
	tcase_add_test(tc, test_stdin_null);
	tcase_add_test(tc, test_signaled);
	tcase_add_test(tc, test_signals_reset);
	tcase_add_test(tc, test_env_add);
	tcase_add_test(tc, test_env_path_lookup);
	tcase_add_test(tc, test_workdir);
	tcase_add_test(tc, test_bad_workdir);
	tcase_add_test(tc, test_no_program);
	tcase_add_test(tc, test_no_argv);
	tcase_add_test(tc, test_large_output_no_deadlock);
	tcase_add_test(tc, test_on_output_order);
	tcase_add_test(tc, test_tail_boundary);
	tcase_add_test(tc, test_stdin_unread);
	tcase_add_test(tc, test_timeout);
	tcase_add_test(tc, test_timeout_term_ignored);
	tcase_add_test(tc, test_cancel_term_ignored);
	tcase_add_test(tc, test_timeout_kills_group);
	tcase_add_test(tc, test_timeout_kills_term_ignoring_grandchild);
	tcase_add_test(tc, test_cancel_from_thread);
	tcase_add_test(tc, test_background_holds_output);
	tcase_add_test(tc, test_closed_output_timeout);
	tcase_add_test(tc, test_concurrent_runs);
	tcase_add_test(tc, test_status_names);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(child_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
