/*
 * expect.h - checking an action's result against `expect:` and taking
 * `capture:` values (SPEC §2).
 */
#ifndef MIGRATE_EXPECT_H
#define MIGRATE_EXPECT_H

#include <stdbool.h>

#include "buf.h"
#include "exec.h"
#include "runbook.h"

/* The verdict on one result: expect.no_data `hold` makes a result without data inconclusive. */
enum verdict { VERDICT_PASS, VERDICT_FAIL, VERDICT_HOLD };

/* What a result showed, for output, journal and reports. */
struct observed {
	bool has_value;
	double value;
	char *value_text;    /* the value as found ("0.0042"); malloc'ed, NULL if none */
	bool no_data;        /* no match, absent or null pointer, empty result, NaN */
	int status;          /* HTTP status; 0 none */
	int64_t latency_ms;  /* -1: not measured */
};

/*
 * Judge res against e (for an action of kind): every condition of e, and
 * for a prometheus probe its payload. Fills *obs (release with
 * observed_release; may be NULL) and, unless PASS, says why (e.g. "exit 1,
 * expected 0", "status 503, expected 2xx", "value 0.02 is not below
 * 0.001", "no data").
 */
enum verdict expect_eval(const struct expect *e, enum action_kind kind,
    const struct exec_result *res, struct observed *obs, struct buf *why);
void observed_release(struct observed *obs);

/*
 * A whole output (stdout, a body) that is one number, surrounding
 * whitespace aside, into obs: the value of a baseline probe without
 * expect.value (SPEC §7). false when it is not one (or NaN).
 */
bool expect_whole_value(const struct buf *out, struct observed *obs);

/* expect_eval for steps and rollbacks: true only on PASS (a hold is a failure there). */
bool expect_check(const struct expect *e, enum action_kind kind,
    const struct exec_result *res, struct buf *why);

/* The bounds of expect.value as written next to a value: "< 0.01", ">= 5, < 10"; empty if none. */
void expect_describe_bounds(const struct expect *e, struct buf *out);

/*
 * A bound relative to a baseline (SPEC §7) as a formula: "legacy-p95 × 1.2
 * + 0.01"; base is the probe's name or its value as found.
 */
void expect_describe_relative(const char *base, double times, double plus, struct buf *out);

/* Format the conditions of e for the plan ("exit 0; stdout =~ /x/"). */
void expect_describe(const struct expect *e, enum action_kind kind, struct buf *out);

#endif
