/*
 * Unit tests of the engine: order of units, the unwind in exact reverse
 * order of completion across phases with each unit's own variables,
 * when: always, failing rollbacks, --no-rollback, selection, exit codes.
 * Runbooks are written to a temporary file and loaded with runbook_load.
 */
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine.h"
#include "exitcode.h"
#include "util.h"

struct trace {
	struct buf log;   /* one line per event of interest */
	pthread_t engine; /* the thread that runs the run */
	int other_thread; /* events delivered on another thread */
};

static void
on_event(void *ctx, const struct event *ev)
{
	struct trace *t = ctx;

	if (!pthread_equal(pthread_self(), t->engine))
		t->other_thread++;
	if (getenv("TRACE_PROBES") && ev->type == EV_PROBE)
		fprintf(stderr, "probe %s %s ok=%d %s\n", ev->probe, ev->detail, ev->ok, ev->message ? ev->message : "");
	if (getenv("TRACE_PROBES") && ev->type == EV_RUN_END)
		fprintf(stderr, "end %s\n", ev->message ? ev->message : "");
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
	struct trace t = { BUF_INIT, pthread_self(), 0 };
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
	/* listeners are called on the engine thread only, however many units ran at once */
	ck_assert_int_eq(t.other_thread, 0);
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


/* ---- the scheduler: steps on host groups (remote units run here: test_local_hosts) ---- */

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(text, fp);
	fclose(fp);
}

static int
read_int(const char *name)
{
	char path[256], buf[64];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	slurp(path, buf, sizeof(buf));
	return atoi(buf);
}

/*
 * track.sh DIR: count the units in flight under a lock (mkdir), keep the
 * maximum in DIR/max, and stay in flight until two ran at once (at most
 * 10 s, so a scheduler that runs one at a time shows max 1, not a hang).
 */
static const char TRACK[] =
	"d=$1\n"
	"lock() { until mkdir \"$d/lock\" 2>/dev/null; do sleep 0.01; done; }\n"
	"lock\n"
	"n=$(( $(cat \"$d/cur\" 2>/dev/null || echo 0) + 1 )); echo $n > \"$d/cur\"\n"
	"m=$(cat \"$d/max\" 2>/dev/null || echo 0); [ $n -gt $m ] && echo $n > \"$d/max\"\n"
	"echo \"start $MIGRATE_HOST\" >> \"$d/log\"\n"
	"rmdir \"$d/lock\"\n"
	"i=0; while [ \"$(cat \"$d/max\")\" -lt 2 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done\n"
	"sleep 0.1\n"
	"lock\n"
	"n=$(( $(cat \"$d/cur\") - 1 )); echo $n > \"$d/cur\"\n"
	"echo \"end $MIGRATE_HOST\" >> \"$d/log\"\n"
	"rmdir \"$d/lock\"\n";

START_TEST(test_forks_cap)
{
	struct engine_opts eo = { .forks = 2, .test_local_hosts = true };
	char yaml[1024], *log, path[256], buf[4096];
	int starts = 0;

	write_file("track.sh", TRACK);
	snprintf(yaml, sizeof(yaml),
	    "runbook: 1\n"
	    "name: forks\n"
	    "vars: {dir: '%s'}\n"
	    "hosts:\n"
	    "  web: {addresses: [a1, a2, a3, a4, a5, a6]}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - {name: s, on: web, run: 'sh ${dir}/track.sh ${dir}'}\n", tmpdir);
	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_OK);
	/* never more than --forks in flight, and really that many at once */
	ck_assert_int_eq(read_int("max"), 2);
	snprintf(path, sizeof(path), "%s/log", tmpdir);
	slurp(path, buf, sizeof(buf));
	for (const char *p = buf; (p = strstr(p, "start ")) != NULL; p++)
		starts++;
	ck_assert_int_eq(starts, 6);
	for (int i = 1; i <= 6; i++) {
		char want[32];
		snprintf(want, sizeof(want), "done s@a%d\n", i);
		ck_assert_msg(strstr(log, want), "%s missing from %s", want, log);
	}
	free(log);
}
END_TEST

/* Index of the line holding text in buf (-1: none), searching from line `from`. */
static int
line_of(const char *buf, const char *text, int from)
{
	int line = 0;

	for (const char *p = buf; *p; line++) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		if (line >= from && len == strlen(text) && strncmp(p, text, len) == 0)
			return line;
		if (!nl)
			break;
		p = nl + 1;
	}
	return -1;
}

START_TEST(test_batches_and_after_probes)
{
	struct engine_opts eo = { .forks = 10, .test_local_hosts = true };
	char yaml[2048], *log, path[256], buf[4096];
	int once1, once2;

	snprintf(yaml, sizeof(yaml),
	    "runbook: 1\n"
	    "name: batches\n"
	    "vars: {dir: '%s'}\n"
	    "hosts:\n"
	    "  web: {addresses: [a1, a2, a3, a4]}\n"
	    "probes:\n"
	    "  on-host: {run: 'echo \"after $MIGRATE_HOST\" >> ${dir}/log'}\n"
	    "  once: {on: local, run: 'echo once >> ${dir}/log'}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - name: s\n"
	    "        on: web\n"
	    "        batch: 50%%\n"
	    "        run: 'echo \"run $MIGRATE_HOST\" >> ${dir}/log'\n"
	    "        after: [on-host, once]\n", tmpdir);
	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_OK);
	snprintf(path, sizeof(path), "%s/log", tmpdir);
	slurp(path, buf, sizeof(buf));
	once1 = line_of(buf, "once", 0);
	ck_assert_msg(once1 >= 0, "%s", buf);
	once2 = line_of(buf, "once", once1 + 1);
	ck_assert_msg(once2 > once1, "the batch probe ran once per batch: %s", buf);
	ck_assert_int_eq(line_of(buf, "once", once2 + 1), -1);
	/* batch 1 (a1, a2) and its after probes before batch 2 starts */
	for (int h = 1; h <= 2; h++) {
		char r[32], a[32];
		snprintf(r, sizeof(r), "run a%d", h);
		snprintf(a, sizeof(a), "after a%d", h);
		ck_assert_msg(line_of(buf, r, 0) >= 0 && line_of(buf, r, 0) < once1, "%s", buf);
		ck_assert_msg(line_of(buf, a, 0) >= 0 && line_of(buf, a, 0) < once1, "%s", buf);
	}
	for (int h = 3; h <= 4; h++) {
		char r[32], a[32];
		snprintf(r, sizeof(r), "run a%d", h);
		snprintf(a, sizeof(a), "after a%d", h);
		ck_assert_msg(line_of(buf, r, 0) > once1 && line_of(buf, r, 0) < once2, "%s", buf);
		ck_assert_msg(line_of(buf, a, 0) > once1 && line_of(buf, a, 0) < once2, "%s", buf);
	}
	free(log);
}
END_TEST

/* A failing on-host after probe fails that host's unit; the next batch does not start. */
START_TEST(test_after_probe_fails_host)
{
	struct engine_opts eo = { .forks = 10, .test_local_hosts = true };
	char yaml[2048], *log;

	snprintf(yaml, sizeof(yaml),
	    "runbook: 1\n"
	    "name: afterfail\n"
	    "hosts:\n"
	    "  web: {addresses: [a1, a2, a3, a4]}\n"
	    "probes:\n"
	    "  on-host: {run: 'test \"$MIGRATE_HOST\" != a2'}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - {name: s, on: web, batch: 2, run: 'true', after: [on-host], rollback: {run: 'true'}}\n");
	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_ROLLED_BACK);
	ck_assert_msg(strstr(log, "done s@a1\n") && strstr(log, "fail s@a2\n"), "%s", log);
	ck_assert_msg(strstr(log, "undo s@a1\n"), "%s", log);
	ck_assert_msg(!strstr(log, "s@a3") && !strstr(log, "s@a4") && !strstr(log, "undo s@a2"), "%s", log);
	free(log);
}
END_TEST

static const char MAXFAIL[] =
	"runbook: 1\n"
	"name: maxfail\n"
	"vars: {bad: a2, allowed: '0'}\n"
	"hosts:\n"
	"  web: {addresses: [a1, a2, a3, a4]}\n"
	"phases:\n"
	"  - name: p\n"
	"    steps:\n"
	"      - {name: first, run: 'true', rollback: {run: 'true'}}\n"
	"      - name: s\n"
	"        on: web\n"
	"        max_fail: %s\n"
	"        run: 'case \" ${bad} \" in *\" $MIGRATE_HOST \"*) exit 1;; esac'\n"
	"        rollback: {run: 'true'}\n"
	"      - {name: last, run: 'true'}\n";

static int
run_maxfail(const char *max_fail, const char *bad, char **log)
{
	struct engine_opts eo = { .forks = 4, .test_local_hosts = true };
	struct var_override o = ov("bad", bad);
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), MAXFAIL, max_fail);
	return run_yaml(yaml, &eo, log, &o, 1);
}

START_TEST(test_max_fail)
{
	char *log;

	/* a number */
	ck_assert_int_eq(run_maxfail("1", "a2", &log), EXIT_OK);
	ck_assert_msg(strstr(log, "fail s@a2\n") && strstr(log, "done last\n"), "%s", log);
	free(log);
	ck_assert_int_eq(run_maxfail("1", "a2 a3", &log), EXIT_ROLLED_BACK);
	free(log);
	/* a percent of the group, rounded down: 50% of 4 is 2, 25% is 1 */
	ck_assert_int_eq(run_maxfail("50%", "a2 a3", &log), EXIT_OK);
	free(log);
	ck_assert_int_eq(run_maxfail("25%", "a2 a3", &log), EXIT_ROLLED_BACK);
	free(log);

	/* without max_fail one failed host fails the step; exactly the completed hosts are unwound */
	ck_assert_int_eq(run_maxfail("0", "a2", &log), EXIT_ROLLED_BACK);
	ck_assert_msg(!strstr(log, "done last"), "%s", log);
	ck_assert_msg(strstr(log, "undo s@a1\n") && strstr(log, "undo s@a3\n") && strstr(log, "undo s@a4\n"), "%s", log);
	ck_assert_msg(!strstr(log, "undo s@a2"), "%s", log);
	/* the step's hosts first, then the step before it */
	ck_assert_msg(strstr(log, "undo first\n") > strstr(log, "undo s@a1\n") &&
	    strstr(log, "undo first\n") > strstr(log, "undo s@a3\n") &&
	    strstr(log, "undo first\n") > strstr(log, "undo s@a4\n"), "%s", log);
	free(log);
}
END_TEST

/*
 * barrier.sh DIR N: arrive, then wait until N arrived (at most 10 s:
 * exit 1). Only rollbacks that run at the same time all pass.
 */
static const char BARRIER[] =
	"d=$1\n"
	"until mkdir \"$d/block\" 2>/dev/null; do sleep 0.01; done\n"
	"echo x >> \"$d/arrived\"\n"
	"rmdir \"$d/block\"\n"
	"i=0; while [ \"$(grep -c x \"$d/arrived\")\" -lt \"$2\" ]; do\n"
	"  i=$((i+1)); [ $i -gt 200 ] && exit 1; sleep 0.05\n"
	"done\n";

START_TEST(test_unwind_hosts_together)
{
	struct engine_opts eo = { .forks = 3, .test_local_hosts = true };
	char yaml[2048], *log;

	write_file("barrier.sh", BARRIER);
	snprintf(yaml, sizeof(yaml),
	    "runbook: 1\n"
	    "name: unwindgroup\n"
	    "vars: {dir: '%s'}\n"
	    "hosts:\n"
	    "  web: {addresses: [a1, a2, a3]}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - {name: s1, on: web, run: 'true', rollback: {run: 'sh ${dir}/barrier.sh ${dir} 3'}}\n"
	    "      - {name: s2, run: 'true', rollback: {run: 'true'}}\n"
	    "      - {name: s3, run: 'exit 1'}\n", tmpdir);
	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_ROLLED_BACK);
	/* s2 first (strictly reverse), then the three hosts of s1, which met at the barrier */
	ck_assert_msg(strstr(log, "undo s2\n") != NULL, "%s", log);
	for (int h = 1; h <= 3; h++) {
		char want[32];
		snprintf(want, sizeof(want), "undo s1@a%d\n", h);
		ck_assert_msg(strstr(log, want) && strstr(log, want) > strstr(log, "undo s2\n"), "%s", log);
	}
	free(log);
}
END_TEST

/* A batch's on-host after probe runs on its hosts at the same time (they meet at a barrier). */
START_TEST(test_after_probes_parallel)
{
	struct engine_opts eo = { .forks = 3, .test_local_hosts = true };
	char yaml[2048], *log;

	write_file("barrier.sh", BARRIER);
	snprintf(yaml, sizeof(yaml),
	    "runbook: 1\n"
	    "name: afterpar\n"
	    "vars: {dir: '%s'}\n"
	    "hosts:\n"
	    "  web: {addresses: [a1, a2, a3]}\n"
	    "probes:\n"
	    "  meet: {run: 'sh ${dir}/barrier.sh ${dir} 3', timeout: 30s}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    steps:\n"
	    "      - {name: s, on: web, run: 'true', after: [meet]}\n", tmpdir);
	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_OK);
	ck_assert_msg(strstr(log, "done s@a1\n") && strstr(log, "done s@a2\n") && strstr(log, "done s@a3\n"), "%s", log);
	free(log);
}
END_TEST

/* A watch trip stops the running host's unit and starts no other host of the batch. */
START_TEST(test_trip_starts_no_new_unit)
{
	struct engine_opts eo = { .forks = 1, .test_local_hosts = true };
	char yaml[2048], *log, path[256], buf[256];

	snprintf(yaml, sizeof(yaml),
	    "runbook: 1\n"
	    "name: trip\n"
	    "vars: {dir: '%s'}\n"
	    "hosts:\n"
	    "  web: {addresses: [a1, a2, a3]}\n"
	    "probes:\n"
	    "  healthy: {run: 'test ! -e ${dir}/log'}\n"
	    "phases:\n"
	    "  - name: p\n"
	    "    watch: {probes: [healthy], interval: 100ms}\n"
	    "    steps:\n"
	    "      - {name: s, on: web, run: 'echo \"run $MIGRATE_HOST\" >> ${dir}/log; sleep 60'}\n", tmpdir);
	ck_assert_int_eq(run_yaml(yaml, &eo, &log, NULL, 0), EXIT_ROLLED_BACK);
	snprintf(path, sizeof(path), "%s/log", tmpdir);
	slurp(path, buf, sizeof(buf));
	ck_assert_str_eq(buf, "run a1\n");
	ck_assert_str_eq(log, "fail s@a1\n");
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
	tcase_add_test(tc, test_forks_cap);
	tcase_add_test(tc, test_batches_and_after_probes);
	tcase_add_test(tc, test_after_probe_fails_host);
	tcase_add_test(tc, test_max_fail);
	tcase_add_test(tc, test_unwind_hosts_together);
	tcase_add_test(tc, test_after_probes_parallel);
	tcase_add_test(tc, test_trip_starts_no_new_unit);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
