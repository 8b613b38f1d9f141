/*
 * test-runlog.c - replaying journals into the state of a run: a clean run,
 * a failed run with its unwind, a crash (units and rollbacks in doubt), a
 * gate stop and its resume, in_doubt decisions, retries across resumes, a
 * torn last line, forward compatibility and journals that are not runs.
 * Journals are written with the real journal module.
 */
#include <check.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "journal.h"
#include "runlog.h"
#include "statedir.h"
#include "statedir-fixture.h"
#include "util.h"

#define RUN_ID "20261122T021500Z-demo-0a1b"

#define RUN_START "{\"type\":\"run_start\",\"run_id\":\"" RUN_ID "\",\"runbook\":\"demo\"," \
	"\"file\":\"/srv/demo.yaml\",\"sha256\":\"abc\",\"vars\":{\"n\":3}," \
	"\"selection\":{\"phases\":[],\"from\":null,\"to\":null}," \
	"\"pid\":4242,\"host\":\"ops1\",\"user\":\"ops\",\"version\":\"0.1.0\"}"
#define START(unit, step, host, attempt) "{\"type\":\"unit_start\",\"unit\":\"" unit "\"," \
	"\"step\":\"" step "\",\"phase\":\"p1\",\"item\":null,\"host\":\"" host "\",\"attempt\":" #attempt "}"
#define DONE(unit, ms) "{\"type\":\"unit_end\",\"unit\":\"" unit "\",\"status\":\"done\"," \
	"\"attempts\":1,\"exit_code\":0,\"duration_ms\":" #ms ",\"message\":null," \
	"\"captures\":{},\"tail\":\"\"}"
#define FAILED(unit, msg) "{\"type\":\"unit_end\",\"unit\":\"" unit "\",\"status\":\"failed\"," \
	"\"attempts\":1,\"exit_code\":1,\"duration_ms\":5,\"message\":\"" msg "\"," \
	"\"captures\":{},\"tail\":\"oops\\n\"}"
#define RUN_END(outcome, code) "{\"type\":\"run_end\",\"outcome\":\"" outcome "\"," \
	"\"exit_code\":" #code ",\"failure\":null,\"duration_ms\":1000}"
#define RESUME "{\"type\":\"resume\",\"by\":\"resume\",\"forced\":false,\"pid\":5151,\"host\":\"ops1\"}"

static char *
journal_file(void)
{
	return xasprintf("%s/runs/%s.jsonl", fixture_dir, RUN_ID);
}

/* Append these records (JSON texts, NULL-terminated) to j. */
static void
append_all(struct journal *j, const char *const *lines)
{
	char *err = NULL;

	for (size_t i = 0; lines[i]; i++) {
		struct json_object *r = json_tokener_parse(lines[i]);
		ck_assert_msg(r != NULL, "bad test record %zu: %s", i, lines[i]);
		ck_assert_msg(journal_append(j, r, &err) == 0, "%s", err);
		json_object_put(r);
	}
}

/* Write a new journal with these records, or (more) continue the existing one as resume does. */
static void
write_journal_ex(const char *const *lines, bool more)
{
	char *err = NULL;
	struct journal *j = more ? journal_open_append(fixture_sd, RUN_ID, NULL, &err)
	    : journal_create(fixture_sd, RUN_ID, &err);

	ck_assert_msg(j != NULL, "%s", err);
	append_all(j, lines);
	journal_free(j);
}

static void
write_journal(const char *const *lines)
{
	write_journal_ex(lines, false);
}

/* Replay the test journal; the result must be rc. */
static int
load(struct rl_run *run, char **err)
{
	char *path = journal_file();
	int rc;

	*err = NULL;
	rc = runlog_load(path, run, err);
	free(path);
	return rc;
}

static void
load_ok(struct rl_run *run)
{
	char *err = NULL;

	ck_assert_msg(load(run, &err) == 0, "%s", err ? err : "");
}

static const struct rl_unit *
unit(const struct rl_run *run, const char *key)
{
	const struct rl_unit *u = runlog_unit(run, key);

	ck_assert_msg(u != NULL, "no unit '%s'", key);
	return u;
}

START_TEST(test_clean_run)
{
	static const char *const lines[] = {
		RUN_START,
		"{\"type\":\"phase_start\",\"phase\":\"p1\"}",
		START("a", "a", "local", 1),
		"{\"type\":\"unit_end\",\"unit\":\"a\",\"status\":\"done\",\"attempts\":1,\"exit_code\":0,"
		"\"duration_ms\":120,\"message\":null,\"captures\":{\"size\":\"42\"},\"tail\":\"hello\\n\"}",
		"{\"type\":\"unit_start\",\"unit\":\"shift[1]\",\"step\":\"shift\",\"phase\":\"p1\","
		"\"item\":\"25\",\"host\":\"local\",\"attempt\":1}",
		DONE("shift[1]", 7),
		START("restart@10.0.1.1", "restart", "10.0.1.1", 1),
		"{\"type\":\"unit_end\",\"unit\":\"restart@10.0.1.1\",\"status\":\"done\",\"attempts\":1,"
		"\"exit_code\":null,\"duration_ms\":9,\"message\":null,\"captures\":{},\"tail\":\"\"}",
		"{\"type\":\"probe\",\"probe\":\"health\",\"context\":\"verify\",\"unit\":null,\"ok\":true,\"message\":null}",
		"{\"type\":\"phase_end\",\"phase\":\"p1\",\"ok\":true}",
		RUN_END("succeeded", 0),
		NULL,
	};
	struct rl_run run;
	const struct rl_unit *u;

	write_journal(lines);
	load_ok(&run);
	ck_assert_str_eq(run.run_id, RUN_ID);
	ck_assert_str_eq(run.runbook, "demo");
	ck_assert_str_eq(run.file, "/srv/demo.yaml");
	ck_assert_str_eq(run.sha256, "abc");
	ck_assert_str_eq(run.host, "ops1");
	ck_assert_str_eq(run.user, "ops");
	ck_assert_int_eq(run.pid, 4242);
	ck_assert_ptr_nonnull(run.vars);
	ck_assert_int_eq(json_object_get_int(json_object_object_get(run.vars, "n")), 3);
	ck_assert_ptr_nonnull(run.selection);
	ck_assert_ptr_nonnull(run.started);
	ck_assert_ptr_nonnull(run.ended);
	ck_assert_str_eq(run.outcome, "succeeded");
	ck_assert_int_eq(run.exit_code, 0);
	ck_assert_ptr_null(run.failure);
	ck_assert_int_eq(run.duration_ms, 1000);
	ck_assert(!run.unwinding && !run.interrupted && !run.torn_tail);
	ck_assert_ptr_null(run.pending_gate);
	ck_assert_uint_eq(run.n_resumes, 0);
	ck_assert_uint_eq(run.n_units, 3);

	u = &run.units[0];
	ck_assert_str_eq(u->key, "a");
	ck_assert_str_eq(u->step, "a");
	ck_assert_str_eq(u->phase, "p1");
	ck_assert_ptr_null(u->item);
	ck_assert_str_eq(u->host, "local");
	ck_assert_int_eq(u->state, RLU_DONE);
	ck_assert_int_eq(u->attempts, 1);
	ck_assert(u->has_exit);
	ck_assert_int_eq(u->exit_code, 0);
	ck_assert_int_eq(u->duration_ms, 120);
	ck_assert_ptr_nonnull(u->started);
	ck_assert_ptr_null(u->message);
	ck_assert_str_eq(u->tail, "hello\n");
	ck_assert_str_eq(json_object_get_string(json_object_object_get(u->captures, "size")), "42");
	ck_assert_uint_eq(u->completed_seq, 1);
	ck_assert_int_eq(u->rb_state, RLR_NONE);

	u = unit(&run, "shift[1]");
	ck_assert_str_eq(u->item, "25");
	ck_assert_uint_eq(u->completed_seq, 2);
	u = unit(&run, "restart@10.0.1.1");
	ck_assert_str_eq(u->host, "10.0.1.1");
	ck_assert(!u->has_exit);
	ck_assert_uint_eq(u->completed_seq, 3);
	ck_assert_ptr_null(runlog_unit(&run, "nope"));
	runlog_release(&run);
}
END_TEST

START_TEST(test_failed_run_unwind)
{
	static const char *const lines[] = {
		RUN_START,
		START("a", "a", "local", 1), DONE("a", 1),
		START("b", "b", "local", 1), DONE("b", 1),
		START("c", "c", "local", 1), DONE("c", 1),
		START("d", "d", "local", 1),
		"{\"type\":\"unit_retry\",\"unit\":\"d\",\"attempt\":1,\"message\":\"exit 1\",\"delay_ms\":10}",
		START("d", "d", "local", 2),
		"{\"type\":\"unit_end\",\"unit\":\"d\",\"status\":\"failed\",\"attempts\":2,\"exit_code\":3,"
		"\"duration_ms\":50,\"message\":\"exit status 3\",\"captures\":{},\"tail\":\"l1\\nl2\\n\"}",
		"{\"type\":\"unwind_start\",\"reason\":\"step 'd' failed\"}",
		"{\"type\":\"rollback_start\",\"unit\":\"c\"}",
		"{\"type\":\"rollback_end\",\"unit\":\"c\",\"status\":\"done\",\"message\":null,\"duration_ms\":4}",
		"{\"type\":\"rollback_end\",\"unit\":\"b\",\"status\":\"no_rollback\",\"message\":null,\"duration_ms\":0}",
		"{\"type\":\"rollback_start\",\"unit\":\"a\"}",
		"{\"type\":\"rollback_end\",\"unit\":\"a\",\"status\":\"failed\",\"message\":\"rm: denied\",\"duration_ms\":6}",
		"{\"type\":\"run_end\",\"outcome\":\"needs_human\",\"exit_code\":3,\"failure\":\"step 'd' failed\",\"duration_ms\":77}",
		NULL,
	};
	struct rl_run run;
	const struct rl_unit *u;

	write_journal(lines);
	load_ok(&run);
	ck_assert_str_eq(run.outcome, "needs_human");
	ck_assert_int_eq(run.exit_code, 3);
	ck_assert_str_eq(run.failure, "step 'd' failed");
	ck_assert(!run.unwinding);
	ck_assert_uint_eq(run.n_units, 4);
	ck_assert_uint_eq(unit(&run, "a")->completed_seq, 1);
	ck_assert_uint_eq(unit(&run, "b")->completed_seq, 2);
	ck_assert_uint_eq(unit(&run, "c")->completed_seq, 3);
	u = unit(&run, "d");
	ck_assert_int_eq(u->state, RLU_FAILED);
	ck_assert_uint_eq(u->completed_seq, 0);
	ck_assert_int_eq(u->attempts, 2);
	ck_assert(u->has_exit);
	ck_assert_int_eq(u->exit_code, 3);
	ck_assert_str_eq(u->message, "exit status 3");
	ck_assert_str_eq(u->tail, "l1\nl2\n");
	ck_assert_int_eq(unit(&run, "c")->rb_state, RLR_DONE);
	ck_assert_int_eq(unit(&run, "c")->rb_duration_ms, 4);
	ck_assert_int_eq(unit(&run, "b")->rb_state, RLR_NO_ROLLBACK);
	u = unit(&run, "a");
	ck_assert_int_eq(u->rb_state, RLR_FAILED);
	ck_assert_str_eq(u->rb_message, "rm: denied");
	ck_assert_int_eq(unit(&run, "d")->rb_state, RLR_NONE);
	runlog_release(&run);
}
END_TEST

START_TEST(test_crash)
{
	static const char *const lines[] = {
		RUN_START,
		START("a", "a", "local", 1), DONE("a", 1),
		START("b", "b", "db", 1),
		NULL,
	};
	static const char *const unwinding[] = {
		RUN_START,
		START("a", "a", "local", 1), DONE("a", 1),
		START("b", "b", "local", 1), FAILED("b", "boom"),
		"{\"type\":\"unwind_start\",\"reason\":\"b failed\"}",
		"{\"type\":\"rollback_start\",\"unit\":\"a\"}",
		NULL,
	};
	struct rl_run run;

	write_journal(lines);
	load_ok(&run);
	ck_assert_ptr_null(run.outcome);
	ck_assert_ptr_null(run.ended);
	ck_assert_int_eq(run.exit_code, -1);
	ck_assert(!run.unwinding);
	ck_assert_int_eq(unit(&run, "b")->state, RLU_IN_DOUBT);
	ck_assert_int_eq(unit(&run, "b")->attempts, 1);
	ck_assert_uint_eq(unit(&run, "b")->completed_seq, 0);
	ck_assert_int_eq(unit(&run, "a")->state, RLU_DONE);
	runlog_release(&run);

	fixture_teardown();
	fixture_setup();
	write_journal(unwinding);
	load_ok(&run);
	ck_assert_ptr_null(run.outcome);
	ck_assert(run.unwinding);
	ck_assert_int_eq(unit(&run, "a")->rb_state, RLR_IN_DOUBT);
	ck_assert_int_eq(unit(&run, "b")->state, RLU_FAILED);
	ck_assert_str_eq(unit(&run, "b")->message, "boom");
	runlog_release(&run);
}
END_TEST

START_TEST(test_gate_resume)
{
	static const char *const stopped[] = {
		RUN_START,
		START("a", "a", "local", 1), DONE("a", 1),
		"{\"type\":\"gate\",\"name\":\"go-live\",\"phase\":\"p2\",\"state\":\"asked\",\"by\":null,\"question\":\"Go?\"}",
		"{\"type\":\"gate\",\"name\":\"go-live\",\"phase\":\"p2\",\"state\":\"unanswered\",\"by\":null,\"question\":\"Go?\"}",
		"{\"type\":\"run_end\",\"outcome\":\"gate\",\"exit_code\":4,\"failure\":null,\"duration_ms\":10}",
		NULL,
	};
	static const char *const more[] = {
		RESUME,
		"{\"type\":\"gate\",\"name\":\"go-live\",\"phase\":\"p2\",\"state\":\"approved\",\"by\":\"--approve\",\"question\":\"Go?\"}",
		START("b", "b", "local", 1),
		NULL,
	};
	static const char *const finish[] = {
		DONE("b", 2),
		RUN_END("succeeded", 0),
		NULL,
	};
	struct rl_run run;
	char *err = NULL;
	struct journal *j;

	write_journal(stopped);
	load_ok(&run);
	ck_assert_str_eq(run.outcome, "gate");
	ck_assert_int_eq(run.exit_code, 4);
	ck_assert_str_eq(run.pending_gate, "go-live");
	runlog_release(&run);

	/* Continue the same journal: resume, approval, a unit still running. */
	j = journal_open_append(fixture_sd, RUN_ID, NULL, &err);
	ck_assert_msg(j != NULL, "%s", err);
	append_all(j, more);
	load_ok(&run);
	ck_assert_ptr_null(run.outcome);
	ck_assert_ptr_null(run.ended);
	ck_assert_ptr_null(run.failure);
	ck_assert_int_eq(run.exit_code, -1);
	ck_assert_ptr_null(run.pending_gate);
	ck_assert_uint_eq(run.n_resumes, 1);
	ck_assert_int_eq(run.pid, 5151);
	ck_assert_int_eq(unit(&run, "b")->state, RLU_IN_DOUBT);
	runlog_release(&run);

	append_all(j, finish);
	journal_free(j);
	load_ok(&run);
	ck_assert_str_eq(run.outcome, "succeeded");
	ck_assert_uint_eq(unit(&run, "b")->completed_seq, 2);
	runlog_release(&run);
}
END_TEST

START_TEST(test_gate_declined_then_rollback)
{
	static const char *const lines[] = {
		RUN_START,
		START("a", "a", "local", 1), DONE("a", 1),
		"{\"type\":\"gate\",\"name\":\"go\",\"phase\":\"p2\",\"state\":\"declined\",\"by\":null,\"question\":\"Go?\"}",
		"{\"type\":\"run_end\",\"outcome\":\"gate\",\"exit_code\":4,\"failure\":null,\"duration_ms\":10}",
		"{\"type\":\"resume\",\"by\":\"rollback\",\"forced\":false,\"pid\":6,\"host\":\"ops1\"}",
		"{\"type\":\"unwind_start\",\"reason\":\"rollback requested\"}",
		NULL,
	};
	struct rl_run run;

	write_journal(lines);
	load_ok(&run);
	ck_assert_ptr_null(run.pending_gate);
	ck_assert(run.unwinding);
	ck_assert_ptr_null(run.outcome);
	runlog_release(&run);
}
END_TEST

START_TEST(test_in_doubt_decisions)
{
	static const char *const lines[] = {
		RUN_START,
		START("a", "a", "local", 1), DONE("a", 1),
		START("skip", "skip", "local", 1),
		START("check", "check", "local", 1),
		START("retry", "retry", "local", 1),
		START("idem", "idem", "local", 1),
		START("cfail", "cfail", "local", 1),
		RESUME,
		"{\"type\":\"in_doubt\",\"unit\":\"skip\",\"decision\":\"skip\",\"message\":\"--skip-in-doubt\"}",
		"{\"type\":\"in_doubt\",\"unit\":\"check\",\"decision\":\"check-passed\",\"message\":\"probe ok\"}",
		"{\"type\":\"in_doubt\",\"unit\":\"retry\",\"decision\":\"retry\",\"message\":null}",
		"{\"type\":\"in_doubt\",\"unit\":\"idem\",\"decision\":\"idempotent\",\"message\":null}",
		"{\"type\":\"in_doubt\",\"unit\":\"cfail\",\"decision\":\"check-failed\",\"message\":\"not there\"}",
		START("retry", "retry", "local", 1),
		NULL,
	};
	struct rl_run run;
	const struct rl_unit *u;

	write_journal(lines);
	load_ok(&run);
	u = unit(&run, "skip");
	ck_assert_int_eq(u->state, RLU_DONE);
	ck_assert_str_eq(u->in_doubt_decision, "skip");
	ck_assert_uint_eq(u->completed_seq, 2);
	u = unit(&run, "check");
	ck_assert_int_eq(u->state, RLU_DONE);
	ck_assert_str_eq(u->in_doubt_decision, "check-passed");
	ck_assert_str_eq(u->message, "probe ok");
	ck_assert_uint_eq(u->completed_seq, 3);
	u = unit(&run, "retry"); /* started again: a new sequence */
	ck_assert_int_eq(u->state, RLU_IN_DOUBT);
	ck_assert_ptr_null(u->in_doubt_decision);
	ck_assert_int_eq(u->attempts, 1);
	u = unit(&run, "idem");
	ck_assert_int_eq(u->state, RLU_IN_DOUBT);
	ck_assert_str_eq(u->in_doubt_decision, "idempotent");
	ck_assert_uint_eq(u->completed_seq, 0);
	u = unit(&run, "cfail");
	ck_assert_int_eq(u->state, RLU_IN_DOUBT);
	ck_assert_str_eq(u->in_doubt_decision, "check-failed");
	runlog_release(&run);
}
END_TEST

/* A unit that failed, then ran again on resume, starts a new attempt sequence. */
START_TEST(test_retry_after_resume)
{
	static const char *const lines[] = {
		RUN_START,
		START("a", "a", "local", 1), DONE("a", 1),
		START("b", "b", "local", 1),
		"{\"type\":\"unit_retry\",\"unit\":\"b\",\"attempt\":1,\"message\":\"exit 1\",\"delay_ms\":10}",
		START("b", "b", "local", 2),
		"{\"type\":\"interrupted\",\"signal\":\"SIGINT\"}",
		"{\"type\":\"unit_end\",\"unit\":\"b\",\"status\":\"failed\",\"attempts\":2,\"exit_code\":null,"
		"\"duration_ms\":50,\"message\":\"interrupted\",\"captures\":{},\"tail\":\"x\\n\"}",
		"{\"type\":\"run_end\",\"outcome\":\"interrupted\",\"exit_code\":5,\"failure\":\"interrupted\",\"duration_ms\":60}",
		NULL,
	};
	static const char *const resumed[] = {
		RESUME,
		START("b", "b", "local", 1),
		"{\"type\":\"unit_end\",\"unit\":\"b\",\"status\":\"done\",\"attempts\":1,\"exit_code\":0,"
		"\"duration_ms\":8,\"message\":null,\"captures\":{\"k\":\"v\"},\"tail\":\"\"}",
		NULL,
	};
	struct rl_run run;
	const struct rl_unit *u;

	write_journal(lines);
	load_ok(&run);
	ck_assert(run.interrupted);
	ck_assert_str_eq(run.outcome, "interrupted");
	u = unit(&run, "b");
	ck_assert_int_eq(u->state, RLU_FAILED);
	ck_assert_int_eq(u->attempts, 2);
	ck_assert(!u->has_exit);
	runlog_release(&run);

	write_journal_ex(resumed, true);
	load_ok(&run);
	ck_assert(!run.interrupted);
	ck_assert_ptr_null(run.outcome);
	ck_assert_int_eq(run.duration_ms >= 0, 1);
	u = unit(&run, "b");
	ck_assert_int_eq(u->state, RLU_DONE);
	ck_assert_int_eq(u->attempts, 1);
	ck_assert_ptr_null(u->message);
	ck_assert_str_eq(u->tail, "");
	ck_assert_uint_eq(u->completed_seq, 2);
	ck_assert_uint_eq(run.n_units, 2);
	runlog_release(&run);
}
END_TEST

START_TEST(test_torn_tail)
{
	static const char *const lines[] = {
		RUN_START,
		START("a", "a", "local", 1), DONE("a", 1),
		START("b", "b", "local", 1),
		NULL,
	};
	static const char garbage[] = "{\"seq\":5,\"ts\":\"2026-11-22T02:15:00.1";
	struct rl_run run;
	char *path;
	FILE *fp;

	write_journal(lines);
	path = journal_file();
	fp = fopen(path, "ab");
	ck_assert_ptr_nonnull(fp);
	ck_assert_uint_eq(fwrite(garbage, 1, sizeof(garbage) - 1, fp), sizeof(garbage) - 1);
	fclose(fp);
	free(path);
	load_ok(&run);
	ck_assert(run.torn_tail);
	ck_assert_uint_eq(run.n_units, 2);
	ck_assert_int_eq(unit(&run, "a")->state, RLU_DONE);
	ck_assert_int_eq(unit(&run, "b")->state, RLU_IN_DOUBT);
	runlog_release(&run);
}
END_TEST

START_TEST(test_corrupt)
{
	static const char *const lines[] = {
		RUN_START,
		START("a", "a", "local", 1), DONE("a", 1),
		NULL,
	};
	struct rl_run run;
	char *path, *err = NULL;
	FILE *fp;

	write_journal(lines);
	path = journal_file();
	fp = fopen(path, "r+b");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fseek(fp, 3, SEEK_SET), 0);
	fputc('X', fp); /* damage line 1: {"sXq":... */
	fclose(fp);
	free(path);
	ck_assert_int_eq(load(&run, &err), JOURNAL_CORRUPT);
	ck_assert_ptr_nonnull(strstr(err, "corrupt at line 1"));
	free(err);
	runlog_release(&run);
}
END_TEST

START_TEST(test_not_a_run)
{
	static const char *const lines[] = {
		START("a", "a", "local", 1),
		RUN_START,
		NULL,
	};
	struct rl_run run;
	char *err = NULL, *path;

	write_journal(lines);
	ck_assert_int_eq(load(&run, &err), JOURNAL_CORRUPT);
	ck_assert_ptr_nonnull(strstr(err, "does not start with run_start"));
	free(err);
	runlog_release(&run);

	path = xasprintf("%s/runs/nope.jsonl", fixture_dir);
	err = NULL;
	ck_assert_int_eq(runlog_load(path, &run, &err), -1);
	ck_assert_ptr_nonnull(err);
	free(err);
	free(path);
	runlog_release(&run);
	runlog_release(NULL);
}
END_TEST

/* Unknown record types and unknown fields are ignored (a newer migrate may add them). */
START_TEST(test_unknown_ignored)
{
	static const char *const lines[] = {
		"{\"type\":\"run_start\",\"run_id\":\"" RUN_ID "\",\"runbook\":\"demo\",\"file\":\"/srv/demo.yaml\","
		"\"sha256\":\"abc\",\"vars\":{},\"selection\":{},\"pid\":1,\"host\":\"h\",\"user\":\"u\","
		"\"version\":\"9\",\"future\":[1,2]}",
		"{\"type\":\"weather\",\"unit\":\"a\",\"sunny\":true}",
		START("shift[2]@10.0.0.9", "shift", "10.0.0.9", 1),
		DONE("shift[2]@10.0.0.9", 2),
		RUN_END("succeeded", 0),
		NULL,
	};
	struct rl_run run;
	const struct rl_unit *u;

	write_journal(lines);
	load_ok(&run);
	ck_assert_str_eq(run.run_id, RUN_ID);
	ck_assert_str_eq(run.outcome, "succeeded");
	ck_assert_uint_eq(run.n_units, 1);
	u = unit(&run, "shift[2]@10.0.0.9");
	ck_assert_int_eq(u->state, RLU_DONE);
	ck_assert_uint_eq(u->line, 3);
	runlog_release(&run);
}
END_TEST

/*
 * Records with a valid checksum but the wrong shape, or that do not fit
 * the records before them, make the journal corrupt at their line.
 */
START_TEST(test_forged)
{
	static const struct {
		const char *lines[6];
		const char *want;
	} cases[] = {
		{ { "{\"type\":\"run_start\",\"run_id\":\"" RUN_ID "\",\"runbook\":\"demo\"}" },
		  "corrupt at line 1: run_start record: \"file\" is missing" },
		{ { "{\"type\":\"run_start\",\"run_id\":\"" RUN_ID "\",\"runbook\":\"demo\",\"file\":7,"
		    "\"sha256\":\"abc\",\"vars\":{},\"selection\":{},\"pid\":1,\"host\":\"h\",\"user\":\"u\","
		    "\"version\":\"9\"}" },
		  "corrupt at line 1: run_start record: \"file\" is of the wrong type" },
		{ { RUN_START, DONE("a", 1) }, "corrupt at line 2: unit_end of a unit that is not running" },
		{ { RUN_START, START("a", "a", "local", 1), DONE("a", 1), DONE("a", 1) },
		  "corrupt at line 4: unit_end of a unit that is not running" },
		{ { RUN_START, START("a", "a", "local", 1),
		    "{\"type\":\"unit_end\",\"unit\":\"a\",\"status\":\"sorted\",\"attempts\":1,\"exit_code\":0,"
		    "\"duration_ms\":1,\"message\":null,\"captures\":{},\"tail\":\"\"}" },
		  "corrupt at line 3: unit_end record: unknown status 'sorted'" },
		{ { RUN_START, START("a", "a", "local", 1),
		    "{\"type\":\"unit_end\",\"unit\":\"a\",\"status\":\"done\",\"attempts\":1,\"exit_code\":0,"
		    "\"duration_ms\":1,\"message\":null,\"captures\":{\"x\":null},\"tail\":\"\"}" },
		  "corrupt at line 3: unit_end record: \"captures\" is of the wrong type" },
		{ { RUN_START, START("a", "a", "local", 1), RESUME, DONE("a", 1) },
		  "corrupt at line 4: unit_end of a unit that is not running" },
		{ { RUN_START, START("a", "a", "local", 1), DONE("a", 1), RUN_END("succeeded", 0), START("b", "b", "local", 1) },
		  "corrupt at line 5: a record of a running run after the run's end" },
		{ { RUN_START, "{\"type\":\"rollback_start\",\"unit\":\"a\"}" },
		  "corrupt at line 2: rollback_start of a unit that never ran" },
		{ { RUN_START, START("a", "a", "local", 1), DONE("a", 1),
		    "{\"type\":\"rollback_end\",\"unit\":\"a\",\"status\":\"done\",\"message\":null,\"duration_ms\":1}" },
		  "corrupt at line 4: rollback_end without its rollback_start" },
		{ { RUN_START, START("a", "a", "local", 1), "{\"type\":\"in_doubt\",\"unit\":\"b\",\"decision\":\"skip\"}" },
		  "corrupt at line 3: in_doubt decision on a unit that is not in doubt" },
		{ { RUN_START, "{\"type\":\"run_end\",\"outcome\":\"great\",\"exit_code\":0,\"duration_ms\":1}" },
		  "corrupt at line 2: run_end record: unknown outcome 'great'" },
		{ { RUN_START, RUN_START }, "corrupt at line 2: a second run_start" },
		{ { RUN_START, "{\"no_type\":1}" }, "corrupt at line 2: the record has no \"type\"" },
		{ { "{\"type\":\"run_start\",\"run_id\":\"20261122T021500Z-demo-ffff\",\"runbook\":\"demo\","
		    "\"file\":\"/srv/demo.yaml\",\"sha256\":\"abc\",\"vars\":{},\"selection\":{},\"pid\":1,"
		    "\"host\":\"h\",\"user\":\"u\",\"version\":\"9\"}" },
		  "corrupt at line 1: it is the journal of run '20261122T021500Z-demo-ffff'" },
	};

	for (size_t c = 0; c < ARRAY_LEN(cases); c++) {
		const char *lines[ARRAY_LEN(cases[c].lines) + 1];
		struct rl_run run;
		char *err = NULL, *path = journal_file();
		size_t n = 0;

		for (; n < ARRAY_LEN(cases[c].lines) && cases[c].lines[n]; n++)
			lines[n] = cases[c].lines[n];
		lines[n] = NULL;
		unlink(path);
		free(path);
		write_journal(lines);
		ck_assert_msg(load(&run, &err) == JOURNAL_CORRUPT, "case %zu loaded", c);
		ck_assert_msg(strstr(err, cases[c].want) != NULL, "case %zu: %s", c, err);
		free(err);
		runlog_release(&run);
	}
}
END_TEST

START_TEST(test_names)
{
	ck_assert_str_eq(rl_unit_state_name(RLU_PENDING), "pending");
	ck_assert_str_eq(rl_unit_state_name(RLU_IN_DOUBT), "in_doubt");
	ck_assert_str_eq(rl_unit_state_name(RLU_DONE), "done");
	ck_assert_str_eq(rl_unit_state_name(RLU_FAILED), "failed");
	ck_assert_str_eq(rl_unit_state_name(RLU_SKIPPED), "skipped");
	ck_assert_str_eq(rl_rb_state_name(RLR_NONE), "none");
	ck_assert_str_eq(rl_rb_state_name(RLR_IN_DOUBT), "in_doubt");
	ck_assert_str_eq(rl_rb_state_name(RLR_DONE), "done");
	ck_assert_str_eq(rl_rb_state_name(RLR_FAILED), "failed");
	ck_assert_str_eq(rl_rb_state_name(RLR_NO_ROLLBACK), "no_rollback");
}
END_TEST

/* Many units: the index keeps lookups right as the arrays grow. */
START_TEST(test_many_units)
{
	char *err = NULL;
	struct journal *j = journal_create(fixture_sd, RUN_ID, &err);
	struct json_object *r = json_tokener_parse(RUN_START);
	struct rl_run run;
	char key[32];

	ck_assert_msg(j != NULL, "%s", err);
	ck_assert_int_eq(journal_append(j, r, &err), 0);
	json_object_put(r);
	for (int i = 0; i < 300; i++) {
		snprintf(key, sizeof(key), "s[%d]", i);
		r = json_object_new_object();
		json_object_object_add(r, "type", json_object_new_string("unit_start"));
		json_object_object_add(r, "unit", json_object_new_string(key));
		json_object_object_add(r, "step", json_object_new_string("s"));
		json_object_object_add(r, "attempt", json_object_new_int(1));
		ck_assert_int_eq(journal_append(j, r, &err), 0);
		json_object_put(r);
	}
	for (int i = 299; i >= 0; i--) {
		snprintf(key, sizeof(key), "s[%d]", i);
		r = json_object_new_object();
		json_object_object_add(r, "type", json_object_new_string("unit_end"));
		json_object_object_add(r, "unit", json_object_new_string(key));
		json_object_object_add(r, "status", json_object_new_string("done"));
		json_object_object_add(r, "attempts", json_object_new_int(1));
		json_object_object_add(r, "duration_ms", json_object_new_int(1));
		json_object_object_add(r, "captures", json_object_new_object());
		ck_assert_int_eq(journal_append(j, r, &err), 0);
		json_object_put(r);
	}
	journal_free(j);
	load_ok(&run);
	ck_assert_uint_eq(run.n_units, 300);
	ck_assert_str_eq(run.units[0].key, "s[0]");
	ck_assert_str_eq(run.units[0].step, "s");
	ck_assert_uint_eq(run.units[0].completed_seq, 300);
	ck_assert_uint_eq(run.units[299].completed_seq, 1);
	runlog_release(&run);
}
END_TEST

/* SPEC §7: working time recorded at each session's end, and a pause left unfinished. */
START_TEST(test_work_and_pause)
{
	static const char *const first[] = {
		RUN_START,
		"{\"type\":\"phase_start\",\"phase\":\"p1\"}",
		START("bake", "bake", "local", 1),
		"{\"type\":\"pause\",\"unit\":\"bake\",\"step\":\"bake\",\"state\":\"started\","
		"\"until\":\"2026-11-22T02:25:00.500Z\",\"duration_ms\":600000,\"wait_ms\":600000}",
		"{\"type\":\"pause\",\"unit\":\"bake\",\"step\":\"bake\",\"state\":\"stopped\","
		"\"until\":\"2026-11-22T02:25:00.500Z\",\"duration_ms\":600000,\"wait_ms\":0}",
		"{\"type\":\"unit_end\",\"unit\":\"bake\",\"status\":\"interrupted\",\"attempts\":1,"
		"\"exit_code\":null,\"duration_ms\":5,\"message\":\"interrupted\",\"captures\":{},\"tail\":\"\"}",
		"{\"type\":\"phase_end\",\"phase\":\"p1\",\"ok\":false,\"work_ms\":4000}",
		"{\"type\":\"run_end\",\"outcome\":\"interrupted\",\"exit_code\":5,\"failure\":null,"
		"\"duration_ms\":4500,\"work_ms\":4500}",
		NULL,
	};
	static const char *const skipped[] = {
		RESUME,
		"{\"type\":\"pause\",\"unit\":\"bake\",\"step\":\"bake\",\"state\":\"skipped\","
		"\"until\":\"2026-11-22T02:25:00.500Z\",\"duration_ms\":600000,\"wait_ms\":1000,"
		"\"by\":\"--skip-pause\"}",
		NULL,
	};
	struct rl_run run;
	int64_t until = 0;

	write_journal(first);
	load_ok(&run);
	ck_assert_int_eq(runlog_work_ms(&run), 4500);
	ck_assert_int_eq(runlog_phase_work_ms(&run, "p1"), 4000);
	ck_assert_int_eq(runlog_phase_work_ms(&run, "p2"), 0);
	ck_assert(rfc3339_parse("2026-11-22T02:25:00.500Z", &until));
	ck_assert_int_eq(unit(&run, "bake")->pause_until_ms, until);
	runlog_release(&run);

	write_journal_ex(skipped, true);
	load_ok(&run);
	ck_assert_int_eq(unit(&run, "bake")->pause_until_ms, 0);
	ck_assert(runlog_work_ms(&run) >= 4500);   /* the open session adds its span */
	runlog_release(&run);
}
END_TEST

static Suite *
runlog_suite(void)
{
	Suite *s = suite_create("runlog");
	TCase *tc = tcase_create("replay");

	tcase_add_checked_fixture(tc, fixture_setup, fixture_teardown);
	tcase_add_test(tc, test_clean_run);
	tcase_add_test(tc, test_failed_run_unwind);
	tcase_add_test(tc, test_crash);
	tcase_add_test(tc, test_gate_resume);
	tcase_add_test(tc, test_gate_declined_then_rollback);
	tcase_add_test(tc, test_in_doubt_decisions);
	tcase_add_test(tc, test_retry_after_resume);
	tcase_add_test(tc, test_torn_tail);
	tcase_add_test(tc, test_corrupt);
	tcase_add_test(tc, test_not_a_run);
	tcase_add_test(tc, test_unknown_ignored);
	tcase_add_test(tc, test_forged);
	tcase_add_test(tc, test_names);
	tcase_add_test(tc, test_many_units);
	tcase_add_test(tc, test_work_and_pause);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner *sr = srunner_create(runlog_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
