/*
 * engine.h - executing a runbook (SPEC §3): phases and steps in order,
 * units, retries, expectations, probes, and the unwind.
 *
 * The engine prints nothing. It reports every state change as a struct
 * event to its listeners (output.c draws the terminal, the journal and the
 * reports record it). engine_run returns the exit code of SPEC §1.
 */
#ifndef MIGRATE_ENGINE_H
#define MIGRATE_ENGINE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "cancel.h"
#include "exec.h"
#include "runbook.h"
#include "secrets.h"
#include "strmap.h"
#include "worktime.h"

enum unit_state {
	UNIT_PENDING,
	UNIT_RUNNING,
	UNIT_DONE,
	UNIT_FAILED,
	UNIT_SKIPPED,       /* not selected (--phase/--from/--to) or never reached */
	UNIT_INTERRUPTED,   /* stopped by SIGINT/SIGTERM; resume runs it again */
};

enum rollback_state {
	RB_NONE,            /* not unwound (yet) */
	RB_NO_ACTION,       /* the step has no rollback */
	RB_DONE,
	RB_FAILED,
	RB_NOT_NEEDED,      /* failed unit without when: always */
};

/*
 * One probe result (SPEC §2): shown, journaled and reported. Also the
 * result of an http step's request (probe NULL): status and latency.
 */
enum sample_verdict { SAMPLE_PASS, SAMPLE_FAIL, SAMPLE_HOLD };

/* A bound relative to a baseline probe, as sampled (SPEC §7). */
struct sample_baseline {
	const char *bound;       /* "below", "above", "at_most", "at_least", "equals" (static) */
	char *probe;             /* the baseline probe */
	bool has_value;
	double value;            /* the baseline's value */
	char *value_text;        /* as found; NULL: no data */
	double times, plus;
	double limit;            /* the bound: value x times + plus */
};
#define SAMPLE_BASELINES_MAX 5
void sample_baselines_release(struct sample_baseline *bl, size_t n);

struct probe_sample {
	char *probe;             /* the probe's name; NULL: inline probe or an http step */
	char *context;           /* "after", "verify", "watch", "step", "check" */
	char *unit;              /* unit key, NULL outside a unit */
	int64_t at_ms;           /* wall clock */
	enum sample_verdict verdict;
	bool no_data;
	bool has_value;
	double value;
	char *value_text;        /* as found ("0.0042"); NULL: none */
	char *bounds;            /* "< 0.01"; NULL: none */
	int status;              /* HTTP status; 0: none */
	int64_t latency_ms;      /* -1: not measured */
	int64_t duration_ms;     /* the probe's whole evaluation, its retries included; -1: not measured */
	bool warning;            /* a failed watch sample that did not trip the watch */
	char *message;           /* why it did not pass (masked); NULL when it passed */
	struct sample_baseline baselines[SAMPLE_BASELINES_MAX]; /* relative bounds, sampled with it */
	size_t n_baselines;
};

/* One (step, name) of the capture log: its entries, oldest first. */
struct capture_key {
	char *key;          /* "STEP\x1fNAME", the index's key */
	size_t *at;
	size_t n, cap;
};

struct capture_val {
	char *step;
	char *name;
	char *value;        /* masked never: captures are not secret-bearing by design, but are masked on output */
};

/* One (step, item, host). Owned by struct run. */
struct unit {
	const struct step *step;
	size_t index;            /* in run->units */
	char *key;               /* "step", "step[2]", "step@host", "step[2]@host" */
	char *name;              /* shown to people: "step[VALUE]@host" (SPEC §1); may repeat; the key itself when the same text */
	char *item;              /* NULL without for:; a mapping item's first field */
	size_t item_index;
	const struct value *item_value; /* the item (string or mapping); NULL without for: */
	/* the step's values, with the fields written ${item...} resolved for this unit */
	int64_t timeout_ms;
	int64_t pause_ms;
	struct retry retry;
	char *host;              /* host name, or "local" */
	char *address;           /* address, "localhost" for local */
	const struct exec_target *target; /* resolved when the run starts; NULL: local */
	struct cancel_token *cancel;      /* while it runs: stops it (chained from the run's) */
	bool selected;
	enum unit_state state;
	int attempts;
	int exit_code;           /* -1: none */
	int64_t started_ms;      /* wall clock */
	int64_t duration_ms;
	char *message;           /* why it failed; masked */
	struct buf tail;         /* last output lines (stdout and stderr interleaved), masked */
	struct buf rb_tail;      /* the same of its rollback action, kept apart (issue 12 item 9) */
	/* the captures its rollback sees: those set before it completed, i.e.
	 * the first captures_at entries of run->captures (0: none yet) */
	size_t captures_at;
	enum rollback_state rb_state;
	char *rb_message;
	int64_t rb_duration_ms;
	bool in_doubt;           /* resume: started in an earlier process, never ended */
	pid_t pgid;              /* a local command's process group while its attempt runs; 0: none */
	/* unit_start waits for the first attempt's local command to be spawned,
	 * so it carries its group (see unit_run) */
	bool start_deferred;
	/* rollback once: true: the unit of the same step and host whose rollback
	 * undid this one too (rb_state RB_DONE, nothing run for this unit) */
	const struct unit *rb_covered_by;
	int64_t pause_until_ms;  /* resume: a pause of it an earlier process began and did not finish ends then (wall clock); 0: none */
	struct probe_sample *result; /* http and probe steps: the last attempt's result; owned */
};

enum event_type {
	EV_RUN_START,
	EV_PHASE_START,
	EV_PHASE_END,        /* ok tells the verdict */
	/* message = question; detail = "asked" | "waiting" | "approved" | "declined" | "unanswered" |
	 * "timed-out" | "rollback" | "stopped"; by = who approved (the approvers' names) or why not;
	 * delay_ms: "waiting": how long at most (0: until answered) */
	EV_GATE,
	EV_APPROVAL,         /* probe = gate, by = the approver's name, detail = via ("--yes", "--approve", "terminal") */
	EV_UNIT_START,
	EV_UNIT_OUTPUT,      /* data/len: a chunk of output, already masked, whole lines */
	EV_UNIT_RETRY,       /* an attempt failed; another follows after delay_ms */
	EV_UNIT_END,
	EV_UNIT_PGID,        /* the unit's local command started in process group unit->pgid (SPEC §4) */
	EV_PROBE,            /* probe = name, detail = "after" | "verify" | "watch" | "check", ok, message, sample;
	                        a failed watch sample that did not trip the watch (a warning): by = how far
	                        from tripping ("1 of 2 failed samples that trip the watch") */
	EV_UNWIND_START,
	EV_ROLLBACK_START,
	EV_ROLLBACK_END,     /* unit->rb_state tells the outcome */
	EV_IN_DOUBT,         /* resume settled an in-doubt unit: detail = decision, message */
	EV_COMMIT,           /* a commit point: phase (commit: true) completed and verified (SPEC §7) */
	EV_PAUSE,            /* a unit's pause (SPEC §7): detail "start" | "done" | "stopped" | "skipped";
	                        until_ms = when it ends (wall clock), length_ms = its full length,
	                        delay_ms = what this process waits (start) or left unwaited (skipped) */
	EV_RUN_END,
};

struct run;

struct event {
	enum event_type type;
	const struct run *run;
	const struct phase *phase;
	const struct unit *unit;
	const char *probe;
	const char *detail;
	const char *message;
	const char *by;
	const char *user;        /* EV_APPROVAL: the approver's OS user and host (NULL: this process's) */
	const char *host;
	const char *data;
	size_t len;
	bool ok;
	int64_t delay_ms;
	const struct probe_sample *sample;  /* EV_PROBE */
	int64_t work_ms;     /* EV_PHASE_END: the phase's working time; EV_RUN_END: the run's (SPEC §7) */
	int64_t until_ms;    /* EV_PAUSE */
	int64_t length_ms;   /* EV_PAUSE */
};

struct listener {
	void (*on_event)(void *ctx, const struct event *ev);
	void *ctx;
};

enum run_outcome {
	OUTCOME_RUNNING,
	OUTCOME_SUCCEEDED,
	OUTCOME_ROLLED_BACK,     /* exit 1 */
	OUTCOME_NEEDS_HUMAN,     /* exit 3 */
	OUTCOME_GATE,            /* exit 4 */
	OUTCOME_INTERRUPTED,     /* exit 5 */
	OUTCOME_WINDOW,          /* exit 6: reached a phase before its maintenance window opens (SPEC §7); resumable */
};

/*
 * A gate's question at a terminal. ask() shows question and waits for a
 * line: "y"/"yes" approves (1), "n"/"no" (or anything else, or end of
 * input) declines (0), "r"/"rollback" rolls back now (2). It returns -1
 * when there is no terminal, -2 on a signal, and 3 when the wait ended
 * otherwise: wake_fd (may be -1) became readable or tick(tick_arg),
 * called at least every 250 ms, returned non-zero (enough approvals came
 * from elsewhere, the gate's timeout passed, a watch tripped).
 */
struct gate_prompt {
	const char *name;
	const char *question;
	int wake_fd;
	int (*tick)(void *arg);
	void *tick_arg;
};

struct inbox;

struct engine_opts {
	const char *const *phases;
	size_t n_phases;
	const char *from;
	const char *to;
	bool yes;
	const char *const *approve;
	const char *user;        /* who --yes/--approve/the terminal approve as; NULL: the OS user */
	size_t n_approve;
	bool no_rollback;
	int forks;
	/* Ask an operator at a terminal to answer a gate (struct gate_prompt). NULL: nobody to ask. */
	int (*ask)(void *ctx, const struct gate_prompt *gp);
	void *ask_ctx;
	/* where `migrate approve` hands approvals to this run while it waits at a gate (inbox.h); NULL: nowhere */
	struct inbox *inbox;
	int in_doubt;            /* resume: enum in_doubt_choice */
	bool skip_pause;         /* resume --skip-pause: what is left of an earlier pause is skipped */
	bool accept_new_host_keys;
	/* TESTS ONLY: remote `run` actions run on this machine (see exec.h) */
	bool test_local_hosts;
};

/* One approval of a gate by a name (SPEC §7); see gate.h. */
struct gate_approval {
	char *gate;
	char *name;
	char *user;              /* the OS user */
	char *host;
	char *via;               /* "migrate approve", "--yes", "--approve", "terminal" */
	int64_t at_ms;           /* wall clock */
};

/* How a gate ended, in this process or (resume) earlier: for status and reports (SPEC §7). */
struct gate_outcome {
	char *name;
	char *state;             /* as the gate record says: "approved", "declined", "timed-out", ... */
	char *why;               /* approved: the approvers' names; else why not; NULL: nothing to say */
};

struct run {
	const struct runbook *rb;
	const struct engine_opts *opts;
	char *id;
	struct secrets secrets;
	struct unit *units;
	size_t n_units;
	struct unit **completed;  /* in order of completion */
	size_t n_completed, cap_completed;
	/* every value ever captured, in order (append-only, so a unit's view is a
	 * prefix); capture_keys[k].at lists the entries of one (step, name), found
	 * through capture_index; all under cap_lock */
	struct capture_val *captures;
	size_t n_captures, cap_captures;
	struct capture_key *capture_keys;
	size_t n_capture_keys, cap_capture_keys;
	struct strmap *capture_index;
	pthread_mutex_t cap_lock;     /* watch probes read captures from another thread; also guards samples */
	struct probe_sample **samples; /* every probe result of this process, in order; under cap_lock */
	size_t n_samples, cap_samples;
	const struct phase *phase; /* the running phase */
	struct unit *failed_unit;  /* the unit whose failure started the unwind */
	char *failure;             /* why the run failed (masked) */
	enum run_outcome outcome;
	int64_t started_ms;        /* wall clock: this session's start */
	int64_t duration_ms;       /* this session's length */
	/*
	 * The whole run, every session of it (issue 12 item 11): when its first
	 * session started (wall clock; resume_restore takes it from the
	 * journal), how many sessions it has had with this one, and its working
	 * time at the end of this one (set just before EV_RUN_END; see
	 * run_work_ms). Reports and the closing summary show these.
	 */
	int64_t first_started_ms;
	int sessions;
	int64_t work_ms;
	/*
	 * Working time (SPEC §7 "Deadlines", worktime.h), under clock_lock:
	 * the run's clock, and the running phase's (clock_phase; NULL between
	 * phases). A gate waiting for an answer holds both. work_before_ms and
	 * phase_work_before (by phase index) are what earlier sessions used
	 * (resume_restore sets them). The timer thread (engine.c) fires
	 * run->cancel when a deadline or a maintenance window's not_after passes.
	 */
	pthread_mutex_t clock_lock;
	struct worktime work;
	struct worktime phase_work;
	const struct phase *clock_phase;
	int64_t work_before_ms;
	int64_t *phase_work_before;
	bool timers_armed;         /* engine_run: deadlines and not_after stop the run (under clock_lock) */
	/*
	 * Cancel tokens (cancel.h): root is fired by SIGINT/SIGTERM; cancel,
	 * its child, also by the deadline, a watch trip or a journal failure
	 * (its reason says which). Every action's token chains from cancel.
	 */
	struct cancel_token *root;
	struct cancel_token *cancel;
	struct exec_ctx *exec;        /* the executors' per-run state */
	struct exec_target *targets;  /* resolved hosts, one per unit host name */
	size_t n_targets, cap_targets;
	struct strmap *target_index;  /* targets by name */
	pthread_t sig_thread;         /* turns a signal into firing root; fires the deadline */
	struct cancel_token *sig_stop;
	pthread_mutex_t lock;
	struct event_queue *events;   /* workers' events for the engine thread */
	pthread_t engine_thread;      /* the creator: the only one that calls listeners */
	int watching;                 /* watch threads running (engine thread only; see engine_parallel) */
	struct listener *listeners;
	size_t n_listeners, cap_listeners;
	/* resume: gates approved earlier (by name), and phases finished earlier */
	char **approved_gates;
	size_t n_approved_gates, cap_approved_gates;
	/* approvals of gates by name: from the journal and from this process */
	struct gate_approval *approvals;
	size_t n_approvals, cap_approvals;
	struct gate_outcome *gate_outcomes;   /* one per gate, the latest */
	size_t n_gate_outcomes, cap_gate_outcomes;
	bool resumed;
	/*
	 * Commit points (SPEC §7): the latest phase with commit: true that
	 * completed, and how many units had completed then. The unwind never
	 * goes below unwind_floor (completed[0..floor) stay in place).
	 */
	const struct phase *commit_phase;
	size_t commit_floor;
	size_t unwind_floor;
	bool secrets_loaded;
	bool held;                 /* an after/verify probe without data (no_data: hold) stopped the run at a gate */
	char *pending_hold;        /* resume: the probe whose hold stopped the run, asked again first */
	/* set by a listener that could not record an event (the journal): the
	 * run stops at once, without unwinding, and exits 3 */
	char *record_error;
	/* lookups that must not scan the units (built by run_create) */
	struct strmap *unit_keys;  /* unit key -> index in units */
	bool *step_selected;       /* by step->index: does any of its units run? */
};

/* A signal handler sets these (count of SIGINT/SIGTERM received, the last one). */
extern volatile sig_atomic_t engine_interrupted;
extern volatile sig_atomic_t engine_last_signal;

/*
 * The wait before retry number attempt (1 after the first failure):
 * interval × backoff^(attempt-1), capped by max_interval, then spread by
 * ± jitter × the delay.
 */
int64_t retry_delay(const struct retry *r, int attempt);
/* Install SIGINT/SIGTERM handlers that stop the run (second SIGINT: exit at once). */
void engine_install_signals(void);
/* Start a thread with every signal blocked (signals stay with the main thread). */
int engine_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/*
 * Create a run: take run_id (NULL: RUN_ID_NONE, for a run that has no
 * journal, such as a plan; the state directory makes real ids), expand every unit (items × hosts) and mark the
 * selection. Fails (NULL, *err set) on an unknown --phase/--from/--to or a
 * --from after --to. Does not read secrets or run anything.
 */
#define RUN_ID_NONE "no-journal"
struct run *run_create(const struct runbook *rb, const struct engine_opts *opts,
    const char *run_id, char **err);
void run_free(struct run *run);
/* Give a run created without an id (RUN_ID_NONE) the id of its journal. */
void run_set_id(struct run *run, const char *run_id);
void run_add_listener(struct run *run, void (*on_event)(void *, const struct event *), void *ctx);

/*
 * Check before anything runs that every part the runbook uses is
 * available in this build, and that every ${env.X} is set. Appends
 * FILE:LINE:COL diagnostics and returns -1 if not.
 */
int engine_preflight(const struct run *run, struct diags *diags);

/* Read secrets, execute, unwind on failure. Returns the exit code. */
int engine_run(struct run *run);

/*
 * Read the secrets (engine_run does it itself; resume and rollback call it
 * first to evaluate check probes). 0, or -1 with run->failure set.
 */
int engine_load_secrets(struct run *run);

/*
 * Settle in-doubt units before a resume (SPEC §4): a step with a check
 * probe runs it (passes: done; fails: run again); an idempotent step runs
 * again; otherwise decision (RETRY/SKIP) decides, or, with none, the unit
 * stays undecided. Each decision is reported as EV_IN_DOUBT. Returns the
 * number of units left undecided.
 */
enum in_doubt_choice { IN_DOUBT_ASK, IN_DOUBT_RETRY, IN_DOUBT_SKIP };
size_t engine_settle_in_doubt(struct run *run, enum in_doubt_choice choice);

/*
 * Unwind the completed units of a run in reverse order of completion,
 * skipping units already rolled back; for `migrate rollback`. Returns the
 * exit code (0 fully unwound, 3 a rollback action failed, 5 interrupted).
 */
int engine_rollback(struct run *run);

/*
 * Resolve every unit's exec_target from hosts: and the secrets (which
 * must be loaded). 0, or -1 with *err (malloc'ed, masked).
 */
int run_resolve_targets(struct run *run, char **err);
void targets_free(struct run *run);
/* The resolved target of a host name (a single host of hosts:, or a unit's host); "local" or unknown: this machine. */
const struct exec_target *run_target(struct run *run, const char *name);

/* Record a unit as completed (in completion order), e.g. when restoring from a journal. */
void run_mark_completed(struct run *run, struct unit *u);
/* Set the latest value of ${steps.STEP.NAME}. value is copied. */
void run_set_capture(struct run *run, const char *step, const char *name, const char *value);
/* The latest value of ${steps.STEP.NAME} among the first `upto` captures (SIZE_MAX: all); NULL if none. Caller holds cap_lock. */
const char *run_capture_at(const struct run *run, const char *step, const char *name, size_t upto);
struct unit *run_unit_by_key(struct run *run, const char *key);
/* A listener that cannot record an event calls this (under the run's lock). */
void run_record_failed(const struct run *run, const char *msg);

/* Working time used so far by the run, and by the running phase (0 between phases). */
int64_t run_work_ms(struct run *run);
int64_t run_phase_work_ms(struct run *run);
/* A gate waits for an answer (hold true) or got one: working time stops / goes on. */
void run_clock_hold(struct run *run, bool hold);

/*
 * The runbook's maintenance window (SPEC §7) at wall-clock time now: 0
 * open; -1 not open yet, 1 closed (why says since/until when, in words).
 */
int engine_window(const struct runbook *rb, int64_t now, struct buf *why);

/* Does any selected unit belong to step s? */
bool step_selected(const struct run *run, const struct step *s);

/* probe.c: probe results. */
struct observed;
/* A new sample (strings copied; message masked by the caller). */
struct probe_sample *probe_sample_new(const char *probe, const char *context, const char *unit,
    enum sample_verdict verdict, const struct observed *obs, const char *bounds, const char *message);
struct probe_sample *probe_sample_copy(const struct probe_sample *s);
void probe_sample_free(struct probe_sample *s);
/* Keep s (owned from now on) as the latest result of its probe. */
void run_add_sample(struct run *run, struct probe_sample *s);
/* Add ps's verdict, value, bounds, HTTP status and latency to the JSON object r. */
struct json_object;
void probe_sample_json(const struct probe_sample *ps, struct json_object *r);
/* The latest value of probe name into out; false if it has none yet. */
bool run_probe_value(struct run *run, const char *name, struct buf *out);

/* Helpers shared with plan. */
/* The units of the whole run by state (restored ones of earlier sessions included). */
struct run_counts {
	size_t done, failed, skipped, interrupted, pending;
};
void run_count_units(const struct run *run, struct run_counts *c);
const char *unit_state_name(enum unit_state st);
const char *rollback_state_name(enum rollback_state st);
const char *outcome_name(enum run_outcome o);
/* The exit code of SPEC §1 for an outcome; -1 while running. */
int outcome_exit_code(enum run_outcome o);
/*
 * Expand tmpl for unit (may be NULL) in run. In plan mode secrets are
 * shown as *** and captures not yet known as ${steps.S.C}. On error returns
 * -1 with *err (masked).
 */
int run_expand(const struct run *run, const struct unit *unit, const struct text *t,
    bool plan, struct buf *out, char **err);
/* run_expand for a notify hook: event holds ${event.kind}, .phase, .step, .text, .run_id. */
int run_expand_event(const struct run *run, const struct unit *unit, const struct text *t, bool plan,
    const char *const *event, struct buf *out, char **err);
/*
 * The expect e as it applies to unit (may be NULL): a pattern (stdout,
 * stderr, body, not_*, value.regex) that holds ${...} references gets them
 * replaced by their values escaped as literal regex text (SPEC §2), and is
 * compiled again. Returns e itself when no pattern has a reference, else
 * copy (filled; release with run_expect_release). NULL with why set when a
 * reference cannot be resolved or the result does not compile.
 */
const struct expect *run_expect(const struct run *run, const struct unit *unit, const struct expect *e,
    struct expect *copy, struct buf *why);
/* Free the patterns run_expect compiled into used (a no-op when used is e). */
void run_expect_release(const struct expect *e, const struct expect *used);

#endif
