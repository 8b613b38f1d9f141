/*
 * Unit tests of the engine: order of units, the unwind in exact reverse
 * order of completion across phases with each unit's own variables,
 * when: always, failing rollbacks, --no-rollback, selection, exit codes.
 * Runbooks are written to a temporary file and loaded with runbook_load.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "exitcode.h"
#include "util.h"

struct trace {
	struct buf log;   /* one line per event of interest */
};

static void
on_event(void *ctx, const struct event *ev)
{
	struct trace *t = ctx;

	switch (ev->type) {
	case EV_UNIT_END:
		buf_addf(&t->log, "%s %s\n", ev->unit->state == UNIT_DONE ? "done" : "fail", ev->unit->key);
		break;
	case EV_ROLLBACK_END:
		buf_addf(&t->log, "%s %s\n", ev->unit->rb_state == RB_DONE ? "undo" :
		    ev->unit->rb_state == RB_NO_ACTION ? "keep" : "undo-failed", ev->unit->key);
		break;
	default:
		break;
	}
}

static char tmpdir[64];

static void
setup(void)
{
	strcpy(tmpdir, "/tmp/migrate-engine-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Load yaml text, run with opts; return exit code, trace in *log (caller frees). */
static int
run_yaml(const char *yaml, struct engine_opts *eo, char **log, const struct var_override *ov, size_t nov)
{
	char path[128];
	struct diags d = DIAGS_INIT;
	struct runbook *rb;
	struct run *run;
	struct trace t = { BUF_INIT };
	char *err = NULL;
	FILE *fp;
	int rc;

	snprintf(path, sizeof(path), "%s/rb.yaml", tmpdir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(yaml, fp);
	fclose(fp);
	rb = runbook_load(path, ov, nov, &d);
	if (rb == NULL) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "%s:%d:%d: %s\n", d.v[i].file, d.v[i].line, d.v[i].col, d.v[i].msg);
	}
	ck_assert_ptr_nonnull(rb);
	run = run_create(rb, eo, NULL, &err);
	ck_assert_ptr_nonnull(run);
	run_add_listener(run, on_event, &t);
	rc = engine_run(run);
	run_free(run);
	runbook_free(rb);
	diags_release(&d);
	*log = buf_detach(&t.log);
	return rc;
}

/* Read a small file into buf (NUL-terminated). */
static void
slurp(const char *path, char *buf, size_t size)
{
	FILE *fp = fopen(path, "r");
	size_t n;

	ck_assert_ptr_nonnull(fp);
	n = fread(buf, 1, size - 1, fp);
	buf[n] = '\0';
	fclose(fp);
}

static const char FOUR[] =
	"runbook: 1\n"
	"name: four\n"
	"vars: {fail_at: none, rb_fail: none}\n"
	"phases:\n"
	"  - name: one\n"
	"    steps:\n"
	"      - {name: s1, run: 'test ${fail_at} != s1', rollback: {run: 'test ${rb_fail} != s1'}}\n"
	"      - {name: s2, run: 'test ${fail_at} != s2', rollback: {run: 'test ${rb_fail} != s2'}}\n"
	"  - name: two\n"
	"    steps:\n"
	"      - {name: s3, run: 'test ${fail_at} != s3'}\n"
	"      - {name: s4, run: 'test ${fail_at} != s4', rollback: {run: 'test ${rb_fail} != s4'}}\n"
	"      - {name: s5, run: 'test ${fail_at} != s5', rollback: {run: 'true'}}\n";

static struct var_override
ov(const char *name, const char *value)
{
	struct var_override o;
	memset(&o, 0, sizeof(o));
	o.name = (char *)name;
	o.value.type = VAL_STR;
	o.value.str = (char *)value;
	o.origin = "--var";
	return o;
}

START_TEST(test_all_pass)
{
	struct engine_opts eo = { 0 };
	char *log;

	ck_assert_int_eq(run_yaml(FOUR, &eo, &log, NULL, 0), EXIT_OK);
	ck_assert_str_eq(log, "done s1\ndone s2\ndone s3\ndone s4\ndone s5\n");
	free(log);
}
END_TEST

START_TEST(test_unwind_reverse_across_phases)
{
	struct engine_opts eo = { 0 };
	struct var_override o[] = { ov("fail_at", "s5") };
	char *log;

	ck_assert_int_eq(run_yaml(FOUR, &eo, &log, o, 1), EXIT_ROLLED_BACK);
	ck_assert_str_eq(log,
	    "done s1\ndone s2\ndone s3\ndone s4\nfail s5\n"
	    "undo s4\nkeep s3\nundo s2\nundo s1\n");
	free(log);
}
END_TEST

START_TEST(test_failing_rollback_stops_unwind)
{
	struct engine_opts eo = { 0 };
	struct var_override o[] = { ov("fail_at", "s5"), ov("rb_fail", "s2") };
	char *log;

	ck_assert_int_eq(run_yaml(FOUR, &eo, &log, o, 2), EXIT_NEEDS_HUMAN);
	ck_assert_str_eq(log,
	    "done s1\ndone s2\ndone s3\ndone s4\nfail s5\n"
	    "undo s4\nkeep s3\nundo-failed s2\n");
	free(log);
}
END_TEST

START_TEST(test_no_rollback)
{
	struct engine_opts eo = { .no_rollback = true };
	struct var_override o[] = { ov("fail_at", "s3") };
	char *log;

	ck_assert_int_eq(run_yaml(FOUR, &eo, &log, o, 1), EXIT_NEEDS_HUMAN);
	ck_assert_str_eq(log, "done s1\ndone s2\nfail s3\n");
	free(log);
}
END_TEST

START_TEST(test_selection)
{
	const char *phases[] = { "two" };
	struct engine_opts eo = { .phases = phases, .n_phases = 1, .to = "s4" };
	char *log;

	ck_assert_int_eq(run_yaml(FOUR, &eo, &log, NULL, 0), EXIT_OK);
	ck_assert_str_eq(log, "done s3\ndone s4\n");
	free(log);
}
END_TEST

START_TEST(test_items_and_when_always)
{
	char yaml[2048], *log, path[160];
	struct engine_opts eo = { 0 };
	char got[512] = "";

	snprintf(path, sizeof(path), "%s/order", tmpdir);
	snprintf(yaml, sizeof(yaml),
	    "runbook: 1\n"
	    "name: items\n"
	    "vars: {w: [10, 50, 100], out: '%s'}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - name: weight\n"
	    "        for: ${w}\n"
	    "        run: 'echo w${item} >> ${out}'\n"
	    "        rollback: {run: 'echo undo${item} >> ${out}'}\n"
	    "      - name: last\n"
	    "        run: 'echo last >> ${out}; exit 1'\n"
	    "        rollback: {run: 'echo undo-last >> ${out}', when: always}\n", path);
	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_ROLLED_BACK);
	ck_assert_str_eq(log,
	    "done weight[0]\ndone weight[1]\ndone weight[2]\nfail last\n"
	    "undo last\nundo weight[2]\nundo weight[1]\nundo weight[0]\n");
	free(log);
	slurp(path, got, sizeof(got));
	ck_assert_str_eq(got, "w10\nw50\nw100\nlast\nundo-last\nundo100\nundo50\nundo10\n");
}
END_TEST

START_TEST(test_capture_feeds_later_step_and_rollback)
{
	char yaml[2048], *log, path[160];
	struct engine_opts eo = { 0 };
	char got[256] = "";

	snprintf(path, sizeof(path), "%s/cap", tmpdir);
	snprintf(yaml, sizeof(yaml),
	    "runbook: 1\n"
	    "name: cap\n"
	    "vars: {out: '%s'}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - name: make\n"
	    "        run: echo 'created id=42'\n"
	    "        capture: {id: 'id=(\\d+)'}\n"
	    "        rollback: {run: 'echo drop ${steps.make.id} >> ${out}'}\n"
	    "      - name: use\n"
	    "        run: 'echo use ${steps.make.id} >> ${out}; false'\n", path);
	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_ROLLED_BACK);
	free(log);
	slurp(path, got, sizeof(got));
	ck_assert_str_eq(got, "use 42\ndrop 42\n");
}
END_TEST

START_TEST(test_verify_failure_unwinds_phase)
{
	struct engine_opts eo = { 0 };
	char *log;
	static const char yaml[] =
	    "runbook: 1\n"
	    "name: verify\n"
	    "probes:\n"
	    "  never: {run: 'false'}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - {name: a, run: 'true', rollback: {run: 'true'}}\n"
	    "      - {name: b, run: 'true', rollback: {run: 'true'}}\n"
	    "    verify: [never]\n";

	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_ROLLED_BACK);
	ck_assert_str_eq(log, "done a\ndone b\nundo b\nundo a\n");
	free(log);
}
END_TEST

START_TEST(test_gate_without_answer)
{
	struct engine_opts eo = { 0 };
	char *log;
	static const char yaml[] =
	    "runbook: 1\n"
	    "name: gate\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - {name: a, run: 'true'}\n"
	    "  - name: q\n"
	    "    gate: ready?\n"
	    "    steps:\n"
	    "      - {name: b, run: 'true'}\n";

	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_GATE);
	ck_assert_str_eq(log, "done a\n");
	free(log);
	{
		const char *approve[] = { "q" };
		struct engine_opts eo2 = { .approve = approve, .n_approve = 1 };
		ck_assert_int_eq(run_yaml(yaml, &eo2, &log, NULL, 0), EXIT_OK);
		ck_assert_str_eq(log, "done a\ndone b\n");
		free(log);
	}
}
END_TEST

START_TEST(test_retry_delay)
{
	struct retry r = { .attempts = 6, .interval_ms = 100, .backoff = 2, .max_interval_ms = 0, .jitter = 0 };

	ck_assert_int_eq(retry_delay(&r, 1), 100);
	ck_assert_int_eq(retry_delay(&r, 2), 200);
	ck_assert_int_eq(retry_delay(&r, 4), 800);
	r.max_interval_ms = 300;
	ck_assert_int_eq(retry_delay(&r, 4), 300);
	r.backoff = 1;
	r.max_interval_ms = 0;
	ck_assert_int_eq(retry_delay(&r, 5), 100);
	r.jitter = 0.2;
	for (int i = 0; i < 200; i++) {
		int64_t d = retry_delay(&r, 1);
		ck_assert_int_ge(d, 80);
		ck_assert_int_le(d, 120);
	}
}
END_TEST

START_TEST(test_watch_aborts_running_unit)
{
	struct engine_opts eo = { 0 };
	char yaml[1024], *log;

	snprintf(yaml, sizeof(yaml),
	    "runbook: 1\n"
	    "name: watch\n"
	    "vars: {flag: '%s/bad'}\n"
	    "probes:\n"
	    "  healthy: {run: 'test ! -e ${flag}'}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    watch: {probes: [healthy], interval: 100ms, failures: 2}\n"
	    "    steps:\n"
	    "      - {name: a, run: 'true', rollback: {run: 'true'}}\n"
	    "      - {name: b, run: 'touch ${flag}; sleep 60'}\n", tmpdir);
	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_ROLLED_BACK);
	ck_assert_str_eq(log, "done a\nfail b\nundo a\n");
	free(log);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("engine");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_all_pass);
	tcase_add_test(tc, test_unwind_reverse_across_phases);
	tcase_add_test(tc, test_failing_rollback_stops_unwind);
	tcase_add_test(tc, test_no_rollback);
	tcase_add_test(tc, test_selection);
	tcase_add_test(tc, test_items_and_when_always);
	tcase_add_test(tc, test_capture_feeds_later_step_and_rollback);
	tcase_add_test(tc, test_verify_failure_unwinds_phase);
	tcase_add_test(tc, test_gate_without_answer);
	tcase_add_test(tc, test_retry_delay);
	tcase_add_test(tc, test_watch_aborts_running_unit);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
