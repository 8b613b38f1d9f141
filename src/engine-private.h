/*
 * engine-private.h - what the engine's files share (not for other modules).
 *
 *   engine.c         the run: signals, phases, gates, in-doubt units, lifecycle
 *   engine-event.c   events reach the listeners on the engine thread, in order;
 *                    worker threads (engine_parallel)
 *   engine-action.c  one action of a unit or probe: expansion, env, output
 *   engine-unit.c    one unit: attempts, retries, expect, captures
 *   engine-probe.c   probes and the watch
 *   engine-sched.c   a step's units: batches, --forks, after probes, max_fail
 *   engine-unwind.c  the unwind
 *   engine-units.c   expanding units, selection, interpolation, preflight
 *   engine-target.c  resolving hosts into exec targets
 *
 * Threads. The thread that created the run (the engine thread) runs the
 * phases and is the only one that calls listeners. Units, probes and
 * rollbacks run on worker threads (engine_parallel: at most --forks at
 * once), except a batch of one while no watch runs, which the engine
 * thread runs itself; a worker's event is handed to the engine thread through a queue
 * and the worker waits until it was dispatched, so a listener sees the
 * unit exactly as it was when the event was emitted and events are
 * recorded in the order they happened. The watch thread's events (which
 * name no unit) are queued without waiting.
 *
 * Cancellation. run->root (signals) -> run->cancel (deadline, watch trip,
 * journal failure) -> each unit's token while it runs; the unwind's token
 * chains from run->root only. A watch trip fires run->cancel, which every
 * running unit's token chains from, so it stops exactly the units, pauses
 * and waits in flight, whichever thread they run on. A remote session
 * shared by several units (a jump host) is guarded by its backend's own
 * per-session mutex, held only around non-blocking libssh2 calls, so the
 * workers' poll loops never block one another on it.
 */
#ifndef MIGRATE_ENGINE_PRIVATE_H
#define MIGRATE_ENGINE_PRIVATE_H

#include "engine.h"
#include "exec.h"
#include "expect.h"

/* ---- engine-event.c ---- */
void events_init(struct run *run);
void events_free(struct run *run);
/* Report ev to the listeners (see above for threads). */
void emit(struct run *run, struct event *ev);
/* On the engine thread: dispatch the events queued so far. */
void events_flush(struct run *run);
/* A signal, the deadline, a watch trip or a journal failure stopped the run. */
bool stop_requested(const struct run *run);
/*
 * Call fn(arg, i) for i in [0, n) on at most forks worker threads at once
 * (taking the next i as one finishes) while this thread, the engine
 * thread, dispatches their events. Returns when all calls returned. A
 * single call runs on this thread when no watch is running (its events
 * then go out directly).
 */
void engine_parallel(struct run *run, size_t n, int forks, void (*fn)(void *arg, size_t i), void *arg);

/* ---- engine-action.c ---- */
struct action_spec {
	const struct action *action;
	const struct kv *env[2];
	size_t n_env[2];
	const struct text *workdir;
	bool sudo;
	bool sudo_set;      /* the step said sudo: (else a remote host's sudo: applies) */
	int64_t timeout_ms;
	const struct exec_target *target;  /* NULL: the unit's host (local without a unit) */
	const char *idem;   /* http: the Idempotency-Key's purpose ("step", "rollback"); NULL: none */
	bool rollback;      /* a rollback action: its output goes to the unit's rb_tail, not its tail */
	bool record_pgid;   /* a unit's own command: report its process group (EV_UNIT_PGID) */
};
/*
 * Run one action in unit u's scope (u may be NULL: a probe outside units),
 * on u's target, stopped by tok. Output is streamed as unit out_unit's
 * (when not NULL). Fills res; -1 with *why when it could not be prepared.
 */
int run_action(struct run *run, const struct unit *u, struct unit *out_unit, struct cancel_token *tok,
    const struct action_spec *spec, struct exec_result *res, struct buf *why);
/* Why an action that did not hold failed, including timeouts and cancels. */
void describe_failure(const struct cancel_token *tok, const struct exec_result *res, int64_t timeout_ms,
    struct buf *why);

/* ---- engine-target.c ---- */
/*
 * When on names a group: its members' targets (*out, the caller frees the
 * array) and how many; 0 (and NULL) for anything else.
 */
size_t run_group_targets(struct run *run, const char *on, const struct exec_target ***out);
/* Append why a member t of a group failed, naming t unless why already does. */
void member_why(struct buf *out, const struct exec_target *t, const struct buf *why);

/* ---- engine-probe.c ---- */
/*
 * A step's or a rollback's own expect ex, its bounds relative to baseline
 * probes (SPEC §7) sampled now: ex itself when it has none, else *copy
 * (its bounds in *bcopy) with each bound worked out, and what each was
 * made of in note (" (legacy-p95 0.2 × 1.2 = 0.24)"). NULL with why when
 * a baseline had no data: a step cannot wait for data, so it fails.
 */
const struct expect *expect_with_baselines(struct run *run, const struct expect *ex, const struct unit *u,
    struct cancel_token *tok, struct expect *copy, struct bounds *bcopy, struct buf *note, struct buf *why);
/*
 * Evaluate a probe (with its own retries) in unit u's scope, stopped by
 * tok. Returns the verdict of the last attempt, with why when it did not
 * pass, and the result as a new sample in *sample (owned by the caller)
 * when sample is not NULL.
 */
enum verdict probe_eval(struct run *run, const struct probe *p, const struct unit *u, struct cancel_token *tok,
    const char *name, const char *context, struct probe_sample **sample, struct buf *why);
/* Evaluate a named probe, keep its result and report it (EV_PROBE with detail context). */
enum verdict probe_run_event(struct run *run, const struct probe_ref *ref, const struct unit *u,
    struct cancel_token *tok, const char *context, struct buf *why);
/*
 * An after or verify probe found no data under no_data: hold: stop as a
 * gate does (SPEC §2). true: approved, go on; false: run->held is set
 * (or the operator was interrupted).
 */
bool probe_hold(struct run *run, const char *probe, const char *where);
/* Does p run on the host of the unit it checks (a run probe without on:)? */
bool probe_on_unit_host(const struct probe *p);
struct watch_ctx;
/* what names it in a trip's reason: "watch" (a phase's) or "run watch" */
struct watch_ctx *watch_start(struct run *run, const struct watch *w, const char *what);
void watch_stop(struct watch_ctx *wc);

/* ---- engine-unit.c ---- */
void unit_event(struct run *run, enum event_type type, struct unit *u, const char *msg, int64_t delay);
/* The unit's EV_UNIT_START, once: at once, or when unit_run deferred it, when its command is spawned. */
void unit_start_event(struct run *run, struct unit *u);
/*
 * Run unit u's attempts (its action, expect, captures, with retries) on
 * the calling thread. With in_batch false the after probes are part of
 * each attempt and the step's pause follows; with in_batch true the batch
 * runs them (engine-sched.c). Emits EV_UNIT_START, EV_UNIT_RETRY and, unless
 * it returns true with *held set (in_batch: the unit waits for its batch's
 * after probes), EV_UNIT_END. true when the unit's attempts succeeded.
 */
bool unit_run(struct run *run, struct unit *u, bool in_batch, bool *held);
/*
 * Wait out a pause of ms for unit u (a pause step, a bake, a batch's
 * pause), stopped by tok, journaled with its end time (EV_PAUSE). A pause
 * an earlier process began for u (resume: u->pause_until_ms) waits only
 * what is left of it, or nothing with --skip-pause. true: it ran out.
 */
bool unit_pause(struct run *run, struct unit *u, struct cancel_token *tok, int64_t ms);
/* End a held unit: done when why is NULL, else failed with why. */
void unit_end(struct run *run, struct unit *u, const char *why);

/* ---- engine-sched.c ---- */
/*
 * Run the n units of one step and item (one unit per host). 1 the step
 * completed, 0 it failed (run->failure set), -2 interrupted, -3 the
 * journal failed.
 */
int sched_group(struct run *run, struct unit **units, size_t n);

/* ---- engine-unwind.c ---- */
/* Unwind completed units (see SPEC §3). true: all rolled back. */
bool unwind(struct run *run);
/*
 * After an unwind that completed: the verify_rollback probes, with their
 * retries (SPEC §7). true when all pass; else run->failure says which failed.
 */
bool verify_rollback(struct run *run);

/* ---- engine.c ---- */
void fail_run(struct run *run, struct unit *u, const char *msg);
/*
 * Ask about a gate (cfg may be NULL: one approval): 1 approved, 0
 * declined, -1 unanswered (or short of approvals; the run stops, exit 4),
 * -2 interrupted while asking, -3 the run fails and unwinds: run->cancel
 * fired while the gate waited (watch trip, deadline) or was fired by it
 * (`r` at the terminal, on_timeout: rollback), its reason says why.
 */
/* How often a waiting gate looks for approvals handed over by `migrate approve` (inbox.h). */
#define GATE_INBOX_POLL_MS 250
struct gate_cfg;
int gate_ask(struct run *run, const char *name, const struct text *question, const struct gate_cfg *cfg);

#endif
