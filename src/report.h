/*
 * report.h - the reports of a run (SPEC §1, --report junit=FILE and
 * --report json=FILE), written when the run ends whatever its outcome.
 *
 * Both reports list every unit of the runbook, including those not
 * selected or not reached, and the unwind. Every string goes through the
 * run's secret masking once more (the engine masked it already), invalid
 * UTF-8 becomes U+FFFD, and the JUnit report also drops the characters XML
 * 1.0 cannot hold (control characters other than tab, newline and carriage
 * return become '?').
 *
 * JUnit (XML 1.0, UTF-8)
 * ----------------------
 *   <testsuites name=RUNBOOK tests= failures= errors= skipped= time=>
 *     <testsuite name=PHASE tests= failures= errors= skipped= time=
 *         timestamp=FIRST-UNIT-START hostname=>     one per phase, in order
 *       <properties> run_id runbook file sha256 outcome exit_code [failure]
 *                    gate.NAME per gate of the phase: "approved; approved
 *                    by alice (alice@ops1, migrate approve), ..." or the
 *                    state and why ("not reached" when it was not)
 *       <testcase classname="RUNBOOK.PHASE" name=UNIT-KEY time="S.mmm">
 *         done:       <system-out> the last 20 lines of output (if any)
 *         failed:     <failure message=MESSAGE type="step failed">
 *                     attempts, exit code, the last 20 lines of output
 *         skipped:    <skipped message="not selected"> or "not reached"
 *         running:    <error message=... type="interrupted"> (the run was
 *                     stopped while the unit ran)
 *     <testsuite name="rollback" ...>  only when the unwind visited a unit;
 *       one testcase per unit visited, in unwind order: rolled back (pass),
 *       <failure type="rollback failed" message=WHY>,
 *       or <skipped message="no rollback">.
 * Times are seconds with milliseconds; timestamps are UTC without a zone
 * (YYYY-MM-DDTHH:MM:SS, as the JUnit schema has them).
 *
 * JSON (UTF-8, pretty-printed) - see report_json().
 */
#ifndef MIGRATE_REPORT_H
#define MIGRATE_REPORT_H

#include "engine.h"

struct json_object;

/*
 * Write the JUnit / JSON report of run to path: to "PATH.tmp" first, then
 * renamed over path, so a reader never sees half a file. Returns 0, or -1
 * and sets *err (malloc'ed; the caller frees it).
 */
int report_write_junit(const struct run *run, const char *path, char **err);
int report_write_json(const struct run *run, const char *path, char **err);

/*
 * The JSON report document; the caller owns it (json_object_put). Also
 * what `migrate status --format json` prints.
 *
 *   {"run_id", "runbook", "file", "sha256",
 *    "outcome":     outcome_name(),
 *    "exit_code":   0 succeeded, 1 rolled back, 3 failed and not rolled
 *                   back, 4 stopped at a gate, 5 interrupted, null running,
 *    "started":     RFC 3339 UTC with milliseconds, "duration_ms",
 *    "failure":     why the run failed, or null,
 *    "phases": [{"name", "units": [{"unit" (key), "step", "item" (or null),
 *                "host", "state" (unit_state_name()), "selected",
 *                "attempts", "exit_code" (or null), "started" (or null),
 *                "duration_ms", "message" (or null), "output_tail",
 *                "rollback": {"state" (rollback_state_name()),
 *                             "message" (or null), "duration_ms"}}]}],
 *    "unwind": [unit keys in the order the unwind visited them],
 *    "gates": [{"name", "phase", "state" ("approved", "declined",
 *               "unanswered", "timed-out", "rollback", "stopped",
 *               "interrupted", or "not reached"), "reason" (why it did
 *               not pass, or null), "approvals_needed",
 *               "approved_by": [{"name" (the person: --as NAME or the
 *                  login name), "user" (OS user), "host", "via" ("migrate
 *                  approve", "--yes", "--approve", "terminal"), "at"}]}],
 *    "probes": [...]}
 */
struct json_object *report_json(const struct run *run);

#endif
