/*
 * runlog.h - what a run's journal says: the record types the engine writes
 * (one JSON object per line, see journal.h for seq/ts/sum), and the state
 * of a run rebuilt by replaying them (used by resume, rollback, status and
 * history).
 *
 * Every record has "type" plus the fields below. Unit keys are the
 * engine's ("step", "step[2]", "step@host", "step[2]@host"). No record ever
 * holds a secret value: vars are the non-secret vars, messages and output
 * tails are masked before they are written. A var whose value held a
 * secret's value (--var tok=$TOKEN) is journaled masked and named in
 * masked_vars with the NAME of that secret (null when the var held a secret
 * only in part); resume reads that secret again to restore the var, and
 * refuses a run whose var it cannot restore (null, or an old journal's list).
 *
 *   run_start     run_id, runbook (name), file (absolute path), sha256,
 *                 vars {name: value as JSON}, masked_vars {var: secret
 *                 name or null} (only when some var held a secret; old
 *                 journals: [var names]), selection {phases [..], from, to},
 *                 pid, host, user, version, supersedes [run ids] (only
 *                 when started with --new beside unfinished runs)
 *   resume        by ("resume" | "rollback"), forced (bool), pid, host
 *   phase_start   phase
 *   phase_end     phase, ok (bool), work_ms (the phase's working time so
 *                 far, every session summed; optional)
 *   gate          name, phase, state ("asked" | "waiting" | "approved" |
 *                 "declined" | "unanswered" | "interrupted" | "timed-out"
 *                 (on_timeout: stop) | "rollback" (`r` at the terminal, or
 *                 on_timeout: rollback) | "stopped" (a watch trip or the
 *                 deadline while it waited)), by (approved: the approvers'
 *                 names, comma-separated; otherwise why not, or null),
 *                 question, timeout_ms (only "waiting": how long it waits
 *                 at most, 0 until answered at the terminal)
 *   approval      gate, name (who approves: --as NAME, or the OS user for
 *                 --yes/--approve/an answer at the terminal), user (OS user),
 *                 host, via ("migrate approve" | "--yes" | "--approve" |
 *                 "terminal"); a gate needing N approvals passes once N
 *                 distinct names approved it (SPEC §7)
 *   commit        phase, completed (units completed so far): a phase with
 *                 commit: true completed and verified; the unwind never goes
 *                 back past it without --past-commit (SPEC §7)
 *   unit_start    unit, step, phase, item (string or null), host, attempt;
 *                 pgid and boot_id (as in unit_pgid) when the unit's local
 *                 command was spawned, waiting for its script, before the
 *                 record was written (a local run step's first attempt)
 *   unit_retry    unit, attempt (the one that failed), message, delay_ms
 *   unit_end      unit, status ("done" | "failed" | "interrupted": stopped by
 *                 SIGINT/SIGTERM, run again by resume), attempts, exit_code
 *                 (int or null), duration_ms, message (null when done),
 *                 captures {name: value} (this step's, when done),
 *                 tail (last output lines, masked)
 *   unit_pgid     unit, pgid (int), boot_id (string or null): the unit's
 *                 local command of the current attempt started in process
 *                 group pgid, on the machine whose boot is boot_id
 *                 (/proc/sys/kernel/random/boot_id); written after
 *                 unit_start, only for commands run on this machine and
 *                 whose unit_start does not already carry the group
 *   in_doubt      unit, decision ("check-passed" | "check-failed" |
 *                 "idempotent" | "retry" | "skip"), message
 *   probe         probe, context ("after" | "verify" | "watch" | "step"),
 *                 unit (or null), ok, message
 *   unwind_start  reason
 *   rollback_start unit
 *   rollback_end  unit, status ("done" | "failed" | "no_rollback"),
 *                 message, duration_ms, covered_by (optional: the unit
 *                 whose rollback, once: true, undid this one; nothing ran), tail (the rollback action's own
 *                 last output lines, masked; absent for no_rollback and
 *                 in older journals)
 *   pause         unit, step, state ("started" | "done" | "stopped" |
 *                 "skipped"), until (RFC 3339 UTC: when the pause ends),
 *                 duration_ms (its full length), wait_ms (started: what this
 *                 process waits, less than duration_ms when it continues a
 *                 pause an earlier process began; skipped: what was left),
 *                 by ("--skip-pause", skipped only): SPEC §7 "Resumable
 *                 pauses". unit is the unit paused after (a batch's first)
 *   interrupted   signal ("SIGINT" | "SIGTERM")
 *   notify        hook (1-based index in notify:), event ("start" | "phase" |
 *                 "gate" | "failure" | "rollback" | "done"), kind ("run" |
 *                 "http"), message (masked): a notify hook failed; the
 *                 run's outcome is unchanged. May follow run_end (the done
 *                 event's hooks run after it).
 *   run_end       outcome ("succeeded" | "rolled_back" | "needs_human" |
 *                 "gate" | "interrupted" | "window": stopped, exit 6,
 *                 before a phase whose maintenance window was not open yet;
 *                 resumable), exit_code, failure (or null),
 *                 duration_ms, work_ms (working time so far, every session
 *                 summed: SPEC §7 "Deadlines"; optional, older journals
 *                 lack it)
 */
#ifndef MIGRATE_RUNLOG_H
#define MIGRATE_RUNLOG_H

#define RL_RUN_START "run_start"
#define RL_RESUME "resume"
#define RL_PHASE_START "phase_start"
#define RL_PHASE_END "phase_end"
#define RL_GATE "gate"
#define RL_APPROVAL "approval"
#define RL_COMMIT "commit"
#define RL_UNIT_START "unit_start"
#define RL_UNIT_RETRY "unit_retry"
#define RL_UNIT_END "unit_end"
#define RL_UNIT_PGID "unit_pgid"
#define RL_IN_DOUBT "in_doubt"
#define RL_PROBE "probe"
#define RL_UNWIND_START "unwind_start"
#define RL_ROLLBACK_START "rollback_start"
#define RL_ROLLBACK_END "rollback_end"
#define RL_INTERRUPTED "interrupted"
#define RL_PAUSE "pause"
#define RL_RUN_END "run_end"
#define RL_NOTIFY "notify"

/*
 * Replaying a journal
 * -------------------
 * runlog_load() reads a journal (journal_replay) and folds its records into
 * struct rl_run. A checksum only shows that a line is whole, so every
 * record is also checked: a record of a known type must have every field
 * listed above with its JSON type (a field shown "or null" may also be
 * null or missing) and a known value where values are listed; and records
 * must fit together: run_start first and only there, unit_end and
 * unit_retry only for a unit started in the same process and not ended,
 * in_doubt only for a unit in doubt, rollback_start only for a unit that
 * completed or failed, rollback_end (but "no_rollback") only after its
 * rollback_start, no record of a running run after run_end without a
 * resume record, and run_id the journal's file name. Anything else is
 * JOURNAL_CORRUPT naming the line. Unknown record types and unknown
 * fields are ignored (a newer migrate may add them).
 *
 * Units
 * - A unit appears at its first record (normally unit_start); units[] keeps
 *   that order. step and host are never NULL: when no unit_start named them
 *   they are taken from the key ("step[2]@host" -> "step", "host"; no "@"
 *   means "local"). phase is NULL when no unit_start gave it.
 * - unit_start opens an attempt sequence: the unit becomes RLU_IN_DOUBT
 *   (started, no end yet). When the unit was not already in a sequence
 *   (pending, failed, done, or in doubt with a journaled in_doubt decision)
 *   the results of the earlier sequence are cleared (exit code, duration,
 *   message, tail, captures, completion, rollback state) and started is set
 *   to this record's ts. attempts is the record's "attempt".
 * - unit_pgid (only for a running unit): pgid and pgid_boot; every
 *   unit_start sets them to its own (none when it has no pgid: an attempt
 *   runs a new command). Journals
 *   written before unit_pgid existed have none: pgid 0.
 * - unit_retry: attempts is at least the failed attempt; message is the
 *   retry's message.
 * - unit_end: RLU_DONE ("done"), RLU_SKIPPED ("skipped") or RLU_FAILED
 *   (anything else); attempts, exit code, duration, message, tail and
 *   captures from the record. "done" gives the unit the next completed_seq.
 * - in_doubt: the decision is kept in in_doubt_decision; "skip" and
 *   "check-passed" make the unit RLU_DONE with the next completed_seq;
 *   other decisions leave it RLU_IN_DOUBT until the next unit_start.
 * - pause: "started" sets the unit's pause_until (until); "done" and
 *   "skipped" clear it; "stopped" keeps it: resume waits only what is left
 *   until then (or skips it with --skip-pause).
 * - rollback_start: rb_state RLR_IN_DOUBT; rollback_end: RLR_DONE,
 *   RLR_FAILED or RLR_NO_ROLLBACK (unknown status: RLR_FAILED), with its
 *   message and duration.
 *
 * The run
 * - A run is finished while its last run_end is not followed by a resume
 *   record: ended, outcome, exit_code, failure and duration_ms come from
 *   that run_end. A resume record makes the run unfinished again (ended,
 *   outcome and failure NULL, exit_code -1) and counts in n_resumes.
 * - duration_ms: the last run_end's duration_ms when finished (when the
 *   record has none: its ts minus run_start's ts); when unfinished, the
 *   time from run_start's ts to the last record's ts.
 * - unwinding: an unwind_start with no run_end after it.
 * - pending_gate: the name of the last gate recorded "declined" or
 *   "unanswered" and not "approved" since; cleared by an unwind_start and
 *   by a run_end whose outcome is not "gate".
 * - waiting_gate: the gate of the last gate record when it is "waiting"
 *   and no run_end or resume came after it: a live run waits there and
 *   takes approvals from its inbox (inbox.h), or it died waiting.
 * - gates: per gate name, its last gate record (state, by, ts).
 * - interrupted: an interrupted record since the last resume record.
 * - notify_failures: every notify record (a hook that failed), in order;
 *   they change nothing else, and may come after run_end.
 * - torn_tail: journal_replay ignored a damaged last line.
 *
 * Strings are malloc'ed and json objects referenced by the struct; all of
 * them are released by runlog_release().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "worktime.h"

struct buf;

struct json_object;

enum rl_unit_state {
	RLU_PENDING,  /* known but never started (only when a record names it before unit_start) */
	RLU_IN_DOUBT, /* started without an end: running, or the run died */
	RLU_DONE,
	RLU_FAILED,
	RLU_SKIPPED,
};

enum rl_rb_state {
	RLR_NONE,        /* no rollback recorded */
	RLR_IN_DOUBT,    /* rollback_start without rollback_end */
	RLR_DONE,
	RLR_FAILED,
	RLR_NO_ROLLBACK, /* the unwind passed it: the step has no rollback */
};

struct rl_unit {
	char *key;
	char *step;
	char *phase;               /* NULL when unknown */
	char *item;                /* NULL: not a for: unit */
	char *host;
	enum rl_unit_state state;
	bool interrupted;          /* RLU_FAILED by a unit_end "interrupted": stopped by a signal */
	int attempts;              /* 0: never started */
	bool has_exit;
	int exit_code;             /* when has_exit */
	int64_t duration_ms;       /* from unit_end; 0 before */
	char *started;             /* ts of the unit_start of the current sequence, or NULL */
	char *message;             /* failure, retry or in_doubt message, or NULL */
	char *tail;                /* last output lines (masked), or NULL */
	struct json_object *captures; /* owned reference, or NULL */
	size_t completed_seq;      /* 0: not completed; else 1, 2, ... in order of completion */
	enum rl_rb_state rb_state;
	char *rb_message;
	int64_t rb_duration_ms;
	char *rb_tail;             /* the rollback's last output lines (masked), or NULL */
	char *rb_covered_by;       /* rollback_end's covered_by (once: true): that unit's key, or NULL */
	char *in_doubt_decision;   /* last in_doubt decision of this sequence, or NULL */
	long pgid;                 /* unit_pgid of the current attempt; 0: none */
	char *pgid_boot;           /* its boot_id, or NULL */
	int64_t pause_until_ms;    /* a pause begun and not finished ends then (ms since the epoch); 0: none */
	size_t line;               /* journal line of the unit's first record */
};

/* One approval record (SPEC §7). */
struct rl_approval {
	char *gate, *name, *user, *host, *via, *ts;
};

/* One notify record: a hook that failed (SPEC §7). */
struct rl_notify {
	size_t hook;                  /* 1-based; 0 unknown */
	char *event, *kind, *message, *ts;
};

/* A gate as the journal last saw it (SPEC §7). */
struct rl_gate {
	char *name, *phase, *state, *by, *ts;   /* of its last gate record; phase may be NULL */
};

struct rl_run {
	char *run_id, *runbook, *file, *sha256, *host, *user;
	long pid;                     /* of run_start, or of the latest resume */
	struct json_object *vars;     /* owned reference, or NULL */
	struct json_object *masked_vars; /* owned reference ({var: secret|null}, or an old [var]), or NULL */
	struct json_object *selection; /* owned reference, or NULL */
	char *started;                /* run_start's ts */
	char *ended;                  /* NULL: unfinished */
	char *outcome;                /* NULL: unfinished (crashed or still running) */
	int exit_code;                /* -1 while unfinished */
	char *failure;                /* or NULL */
	struct rl_unit *units;        /* in order of first appearance */
	size_t n_units;
	bool unwinding;
	char *pending_gate;
	char *waiting_gate;           /* a live run waits at this gate for approvals (inbox.h), or NULL */
	struct rl_gate *gates;        /* every gate asked, in order of first asking */
	size_t n_gates, cap_gates;
	char *commit_phase;           /* the latest commit point, or NULL */
	size_t commit_completed;      /* units completed when it was reached */
	struct rl_approval *approvals; /* every approval record, in order */
	size_t n_approvals, cap_approvals;
	struct rl_notify *notify_failures; /* every notify record, in order */
	size_t n_notify_failures, cap_notify_failures;
	bool interrupted;
	size_t n_resumes;
	bool torn_tail;
	int64_t duration_ms;
	struct worktime_log work;     /* working time; read it with runlog_work_ms() */
	int64_t last_ms;              /* ts of the last record, ms since the epoch */
};

/*
 * Replay the journal at journal_path into *out (overwritten; release it
 * with runlog_release() whatever the result). Returns 0; -1 when the
 * journal cannot be read; JOURNAL_CORRUPT when journal_replay finds it
 * corrupt, or when it holds no record or does not start with a run_start.
 * On failure sets *err (malloc'ed; caller frees).
 */
int runlog_load(const char *journal_path, struct rl_run *out, char **err);
/*
 * The distinct names that approved gate, in order of their first approval:
 * names[0..n) point into r. Returns n.
 */
size_t runlog_approvers(const struct rl_run *r, const char *gate, const char **names, size_t max);
/* Free what r holds and zero it. Accepts NULL. */
void runlog_release(struct rl_run *r);
/*
 * Working time used so far (SPEC §7 "Deadlines"; worktime.h), every
 * session summed: run_end's work_ms where recorded, else each session from
 * its first to its last record less its gate waits (asked to answered).
 */
int64_t runlog_work_ms(const struct rl_run *r);
/* The same for one phase (phase_end's work_ms, or phase_start to its end). */
int64_t runlog_phase_work_ms(const struct rl_run *r, const char *phase);
/* The unit with this key, or NULL (owned by r). */
const struct rl_unit *runlog_unit(const struct rl_run *r, const char *key);
/* "pending", "in_doubt", "done", "failed", "skipped" (static). */
const char *rl_unit_state_name(enum rl_unit_state s);
/* "none", "in_doubt", "done", "failed", "no_rollback" (static). */
const char *rl_rb_state_name(enum rl_rb_state s);

/* The width an item takes in a unit's display name, in characters. */
#define UNIT_NAME_ITEM_MAX 24

/*
 * Append a unit's display name (SPEC §1) to b: STEP, then [ITEM] when item is
 * not NULL (cut to UNIT_NAME_ITEM_MAX characters: the first 23 and "…"), then
 * @HOST when host is not "local". Unlike the index key, names may repeat
 * (two items with the same value).
 */
void unit_display_name(struct buf *b, const char *step, const char *item, const char *host);

#endif
