/*
 * engine.c - a run's life: signals and the deadline, phases and gates,
 * settling in-doubt units, the outcome. Units, probes, scheduling and the
 * unwind live in the other engine-*.c files (engine-private.h).
 */
#include "engine-private.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "duration.h"
#include "exec.h"
#include "exitcode.h"
#include "expect.h"
#include "gate.h"
#include "inbox.h"
#include "regex.h"
#include "util.h"

volatile sig_atomic_t engine_interrupted;
volatile sig_atomic_t engine_last_signal;
/*
 * The signal machinery (STYLE.md rule 11: the only process-global state):
 * the handler counts the signal and writes a byte to a self-pipe; the
 * run's signal watcher thread (sig_watch_main) reads it and fires the
 * run's root token, which every phase's and unit's token chains from. On
 * a second SIGINT the handler kills the process groups registered in the
 * running run's exec ctx (async-signal-safe reads) and exits.
 */
static int sig_pipe[2] = { -1, -1 };
static const struct exec_ctx *volatile hard_exit_ctx;

static void
on_signal(int sig)
{
	int saved = errno;
	ssize_t w;

	engine_interrupted++;
	engine_last_signal = sig;
	if (engine_interrupted >= 2 && sig == SIGINT) {
		/* exit at once: records are written whole, so the journal stays valid */
		exec_kill_groups(hard_exit_ctx);
		_exit(EXIT_INTERRUPTED);
	}
	if (sig_pipe[1] >= 0)
		w = write(sig_pipe[1], "s", 1);
	(void)w;
	errno = saved;
}

void
engine_install_signals(void)
{
	struct sigaction sa;

	if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		sig_pipe[0] = sig_pipe[1] = -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* the operator's SSH session dropping: stop cleanly as for SIGTERM */
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	/* a file size limit makes writes fail (EFBIG) instead of killing us mid-record */
	sigaction(SIGXFSZ, &sa, NULL);
}

int
engine_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int rc;

	/* signals go to the main thread, whose blocking reads (a gate's question) they interrupt */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* ---- working time and the run's timers (SPEC §7) ---- */

/* How often the timer thread looks again while a timer is armed (a gate hold or a clock jump changes it). */
#define TIMER_POLL_MS 250

int64_t
run_work_ms(struct run *run)
{
	int64_t ms;

	pthread_mutex_lock(&run->clock_lock);
	ms = worktime_used(&run->work, now_ms());
	pthread_mutex_unlock(&run->clock_lock);
	return ms;
}

int64_t
run_phase_work_ms(struct run *run)
{
	int64_t ms = 0;

	pthread_mutex_lock(&run->clock_lock);
	if (run->clock_phase)
		ms = worktime_used(&run->phase_work, now_ms());
	pthread_mutex_unlock(&run->clock_lock);
	return ms;
}

void
run_clock_hold(struct run *run, bool hold)
{
	int64_t now = now_ms();

	pthread_mutex_lock(&run->clock_lock);
	if (hold) {
		worktime_hold(&run->work, now);
		worktime_hold(&run->phase_work, now);
	} else {
		worktime_release(&run->work, now);
		worktime_release(&run->phase_work, now);
	}
	pthread_mutex_unlock(&run->clock_lock);
}

/* Start (ph) or stop (NULL) the running phase's clock; returns the working time of the phase that stops. */
static int64_t
phase_clock(struct run *run, const struct phase *ph)
{
	int64_t now = now_ms(), used = 0;

	pthread_mutex_lock(&run->clock_lock);
	if (run->clock_phase)
		used = worktime_used(&run->phase_work, now);
	run->clock_phase = ph;
	if (ph)
		worktime_start(&run->phase_work, run->phase_work_before[ph - run->rb->phases], now);
	else
		memset(&run->phase_work, 0, sizeof(run->phase_work));
	pthread_mutex_unlock(&run->clock_lock);
	return used;
}

static void
arm_timers(struct run *run, bool on)
{
	pthread_mutex_lock(&run->clock_lock);
	run->timers_armed = on;
	pthread_mutex_unlock(&run->clock_lock);
}

/* One timer: left ms of it; passed: why (into m) when it is gone. */
static void
timer_left(int64_t left, bool held, int64_t *next, struct buf *m, const char *why)
{
	if (m->len > 0)
		return;
	if (left <= 0) {
		buf_adds(m, why);
		return;
	}
	if (held)
		left = TIMER_POLL_MS;
	if (*next < 0 || left < *next)
		*next = left;
}

/*
 * Check the run's timers: the runbook's and the running phase's deadline
 * (working time) and not_after (wall clock). When one has passed, fire
 * run->cancel with the reason and return -2; else the ms until the next
 * check (-1: engine_run is not running, no timer applies).
 */
static int64_t
timers_check(struct run *run)
{
	const struct runbook *rb = run->rb;
	int64_t now = now_ms(), wall = wall_ms(), next = -1;
	struct buf m = BUF_INIT, why = BUF_INIT;
	const struct phase *ph;

	pthread_mutex_lock(&run->clock_lock);
	if (!run->timers_armed) {
		pthread_mutex_unlock(&run->clock_lock);
		return -1;
	}
	ph = run->clock_phase;
	if (rb->deadline_ms > 0 && run->work.running) {
		buf_adds(&why, "the runbook deadline of ");
		duration_format_exact(&why, rb->deadline_ms);
		buf_adds(&why, " passed (working time)");
		timer_left(rb->deadline_ms - worktime_used(&run->work, now), worktime_held(&run->work), &next, &m,
		    buf_str(&why));
	}
	if (ph && ph->deadline_ms > 0) {
		buf_reset(&why);
		buf_addf(&why, "the deadline of phase '%s' (", ph->name);
		duration_format_exact(&why, ph->deadline_ms);
		buf_adds(&why, " of working time) passed");
		timer_left(ph->deadline_ms - worktime_used(&run->phase_work, now), worktime_held(&run->phase_work),
		    &next, &m, buf_str(&why));
	}
	if (rb->not_after.set) {
		buf_reset(&why);
		buf_addf(&why, "the maintenance window closed at %s (not_after)", rb->not_after.text);
		timer_left(rb->not_after.epoch_ms - wall, false, &next, &m, buf_str(&why));
	}
	if (ph && ph->not_after.set) {
		buf_reset(&why);
		buf_addf(&why, "the maintenance window of phase '%s' closed at %s (not_after)", ph->name,
		    ph->not_after.text);
		timer_left(ph->not_after.epoch_ms - wall, false, &next, &m, buf_str(&why));
	}
	pthread_mutex_unlock(&run->clock_lock);
	buf_release(&why);
	if (m.len > 0) {
		cancel_fire(run->cancel, buf_str(&m));
		buf_release(&m);
		return -2;
	}
	/* a phase that starts later may bring timers of its own: look again soon */
	return next >= 0 && next < TIMER_POLL_MS ? next : TIMER_POLL_MS;
}

/*
 * The run's timer thread: fire the root token when a signal arrives (or at
 * once if one came already), and the run's token when a timer passes
 * (timers_check).
 */
static void *
sig_watch_main(void *arg)
{
	struct run *run = arg;
	bool fired = false;

	for (;;) {
		struct pollfd p[2] = { { sig_pipe[0], POLLIN, 0 }, { cancel_fd(run->sig_stop), POLLIN, 0 } };
		int64_t wait = -1;
		char b[64];
		ssize_t r;

		if (engine_interrupted)
			cancel_fire(run->root, NULL);
		if (cancel_fired(run->sig_stop))
			break;
		if (!fired && (wait = timers_check(run)) == -2) {
			fired = true;
			continue;
		}
		/* not armed yet (or any more): look again soon, the engine arms them after settling */
		if (poll(p, 2, wait < 0 ? TIMER_POLL_MS : (int)wait) < 0 && errno != EINTR)
			cancel_wait(NULL, 50);
		do
			r = sig_pipe[0] >= 0 ? read(sig_pipe[0], b, sizeof(b)) : -1;
		while (r > 0);
	}
	return NULL;
}

static void
sig_watch_start(struct run *run)
{
	hard_exit_ctx = run->exec;
	run->sig_stop = cancel_new(NULL);
	if (engine_thread_start(&run->sig_thread, sig_watch_main, run) != 0) {
		cancel_free(run->sig_stop);
		run->sig_stop = NULL;
	}
}

static void
sig_watch_stop(struct run *run)
{
	if (run->sig_stop) {
		cancel_fire(run->sig_stop, NULL);
		pthread_join(run->sig_thread, NULL);
		cancel_free(run->sig_stop);
		run->sig_stop = NULL;
	}
	hard_exit_ctx = NULL;
}

const char *
unit_state_name(enum unit_state st)
{
	static const char *const names[] = { "pending", "running", "done", "failed", "skipped", "interrupted" };
	return names[st];
}

const char *
rollback_state_name(enum rollback_state st)
{
	static const char *const names[] = { "none", "no rollback", "rolled back", "rollback failed", "not needed" };
	return names[st];
}

const char *
outcome_name(enum run_outcome o)
{
	static const char *const names[] = { "running", "succeeded", "rolled back",
		"failed, not rolled back", "stopped at gate", "interrupted", "waiting for its maintenance window" };
	return names[o];
}

/* ---- gates ---- */

/* Count and journal an approval of gate by name (user, host: the approver's; NULL: this process's). */
static void
gate_approval_event(struct run *run, const char *gate, const char *name, const char *user, const char *host,
    const char *via)
{
	struct event ev;

	gate_add_approval(run, gate, name, user, host, via, 0);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_APPROVAL;
	ev.phase = run->phase;
	ev.probe = gate;
	ev.by = name;
	ev.user = user;
	ev.host = host;
	ev.detail = via;
	emit(run, &ev);
}

/* An approval of gate name by the invoking user (via --yes, --approve, the terminal): counted and journaled. */
static void
gate_approve_here(struct run *run, const char *name, const char *via)
{
	const char *who = run->opts->user ? run->opts->user : gate_user_name();

	if (!gate_approved_by(run, name, who))
		gate_approval_event(run, name, who, NULL, NULL, via);
}

/* A gate that waits for approvals (at a terminal, or up to its timeout). */
struct gate_wait {
	struct run *run;
	const char *name;
	size_t need;
	int64_t until;           /* monotonic ms; 0: no timeout */
	int64_t next_take;       /* when to look into the inbox again */
	bool timed_out;
};

/* Journal and count the approvals of this gate that `migrate approve` left in the inbox (inbox.h). */
static void
gate_take_inbox(struct gate_wait *gw)
{
	struct run *run = gw->run;
	struct inbox_item *items;
	size_t n = inbox_take(run->opts->inbox, &items);

	for (size_t i = 0; i < n; i++) {
		/* an approval of another gate (the run moved on) is refused: approve says so */
		if (strcmp(items[i].gate, gw->name) == 0 && !gate_approved_by(run, gw->name, items[i].name))
			gate_approval_event(run, gw->name, items[i].name, items[i].user, items[i].host, "migrate approve");
		inbox_done(run->opts->inbox, &items[i]);
	}
	inbox_items_free(items, n);
}

/* While a gate waits: 0 go on, 1 it has enough approvals, -1 stop (a signal, watch trip, deadline, its timeout). */
static int
gate_tick(void *arg)
{
	struct gate_wait *gw = arg;
	struct run *run = gw->run;
	int64_t t = now_ms();

	if (stop_requested(run))
		return -1;
	/* the watch's samples reach the journal and the screen while the gate waits */
	events_flush(run);
	if (t >= gw->next_take) {
		gate_take_inbox(gw);
		gw->next_take = t + GATE_INBOX_POLL_MS;
	}
	if (gate_approvers(run, gw->name, NULL) >= gw->need)
		return 1;
	if (gw->until && t >= gw->until) {
		gw->timed_out = true;
		return -1;
	}
	return 0;
}

/*
 * Wait at a gate for approvals: at the terminal (when there is one) and,
 * with a timeout, for those `migrate approve` hands over meanwhile (inbox.h).
 * Returns the terminal's answer (struct gate_prompt), -1 when none.
 */
static int
gate_wait(struct run *run, struct gate_wait *gw, const char *question, int64_t timeout_ms)
{
	const struct engine_opts *o = run->opts;
	struct event ev;
	char *err = NULL;
	int answer = -1;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_GATE;
	ev.phase = run->phase;
	ev.probe = gw->name;
	ev.message = question;
	ev.detail = "waiting";
	ev.delay_ms = timeout_ms;
	/* without an inbox only the terminal can answer: by says why approvals from elsewhere cannot count */
	if (o->inbox && inbox_open(o->inbox, &err) < 0)
		ev.by = err;
	emit(run, &ev);
	free(err);
	if (o->ask) {
		struct gate_prompt gp = { gw->name, question, cancel_fd(run->cancel), gate_tick, gw };
		answer = o->ask(o->ask_ctx, &gp);
		if (answer == 1)
			gate_approve_here(run, gw->name, "terminal");
	}
	/* no terminal, or approved there but more people must approve: wait up to the timeout */
	if ((answer == -1 || answer == 1) && timeout_ms > 0) {
		while (gate_tick(gw) == 0) {
			int64_t left = gw->until - now_ms();
			(void)cancel_wait(run->cancel, left < GATE_INBOX_POLL_MS ? (left > 0 ? left : 0) : GATE_INBOX_POLL_MS);
		}
	}
	gate_take_inbox(gw);
	inbox_close(o->inbox);
	return answer;
}

/*
 * Ask for a gate (SPEC §7): it passes once it has cfg->approvals (default
 * 1) distinct approvals, counting those journaled (migrate approve) and
 * --yes, --approve or a yes at the terminal as one by the invoking user.
 * Returns 1 passed, 0 declined, -1 not approved (the run stops, exit 4),
 * -2 interrupted by a signal, -3 the run must fail and unwind: run->cancel
 * fired (a watch trip, the deadline, `r` at the terminal, on_timeout:
 * rollback), its reason says why.
 */
int
gate_ask(struct run *run, const char *name, const struct text *question, const struct gate_cfg *cfg)
{
	const struct engine_opts *o = run->opts;
	size_t need = cfg ? (size_t)cfg->approvals : 1, have;
	int64_t timeout_ms = cfg ? cfg->timeout_ms : 0;
	struct buf q = BUF_INIT, names = BUF_INIT, why = BUF_INIT;
	struct gate_wait gw;
	struct event ev;
	char *err = NULL;
	int verdict = -1, answer = -1;

	/* show: run just before asking, their values and verdicts shown (and ${probes.X.value} fresh) */
	for (size_t i = 0; cfg && i < cfg->n_show; i++) {
		struct buf pwhy = BUF_INIT;
		(void)probe_run_event(run, &cfg->show[i], NULL, run->cancel, "gate", &pwhy);
		buf_release(&pwhy);
	}
	if (run_expand(run, NULL, question, false, &q, &err) < 0) {
		buf_adds(&q, question->s);
		free(err);
	}
	secrets_mask(&run->secrets, &q);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_GATE;
	ev.phase = run->phase;
	ev.probe = name;
	ev.message = buf_str(&q);
	ev.detail = "asked";
	emit(run, &ev);
	/* waiting for an answer is not working time (SPEC §7 "Deadlines") */
	run_clock_hold(run, true);
	memset(&gw, 0, sizeof(gw));
	gw.run = run;
	gw.name = name;
	gw.need = need;
	gw.until = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	if (gate_approvers(run, name, NULL) < need) {
		if (o->yes)
			gate_approve_here(run, name, "--yes");
		for (size_t i = 0; i < o->n_approve; i++)
			if (strcmp(o->approve[i], name) == 0)
				gate_approve_here(run, name, "--approve");
	}
	if (gate_approvers(run, name, NULL) < need && !stop_requested(run) && (o->ask || timeout_ms > 0))
		answer = gate_wait(run, &gw, buf_str(&q), timeout_ms);
	have = gate_approvers(run, name, &names);
	ev.detail = "unanswered";
	if (have >= need) {
		verdict = 1;
		ev.detail = "approved";
		buf_addf(&why, "%s", buf_str(&names));
	} else if (engine_interrupted || answer == -2) {
		verdict = -2;
		ev.detail = "interrupted";
	} else if (cancel_fired(run->cancel)) {
		/* a watch trip or the deadline while the gate waited */
		char *r = cancel_reason(run->cancel);
		verdict = -3;
		ev.detail = "stopped";
		buf_adds(&why, r ? r : "stopped");
		free(r);
	} else if (answer == 2 || (gw.timed_out && cfg && cfg->on_timeout == ON_TIMEOUT_ROLLBACK)) {
		verdict = -3;
		ev.detail = "rollback";
		if (answer == 2)
			buf_addf(&why, "gate '%s': the operator chose to roll back", name);
		else {
			buf_addf(&why, "gate '%s' was not approved within ", name);
			duration_format_exact(&why, timeout_ms);
			buf_adds(&why, " (on_timeout: rollback)");
		}
		cancel_fire(run->cancel, buf_str(&why));
	} else if (answer == 0) {
		verdict = 0;
		ev.detail = "declined";
	} else {
		if (gw.timed_out) {
			ev.detail = "timed-out";
			buf_adds(&why, "not approved within ");
			duration_format_exact(&why, timeout_ms);
			buf_adds(&why, need > 1 || have > 0 ? "; " : "");
		}
		if (need > 1 || have > 0)
			buf_addf(&why, "needs %zu distinct approvals, has %zu%s%s%s", need, have,
			    have ? " (" : "", buf_str(&names), have ? ")" : "");
	}
	run_clock_hold(run, false);
	ev.by = why.len ? buf_str(&why) : NULL;
	ev.ok = verdict > 0;
	ev.delay_ms = 0;
	gate_set_outcome(run, name, ev.detail, ev.by);
	emit(run, &ev);
	buf_release(&q);
	buf_release(&names);
	buf_release(&why);
	return verdict;
}

static bool
gate_approved_before(const struct run *run, const char *name)
{
	for (size_t i = 0; i < run->n_approved_gates; i++)
		if (strcmp(run->approved_gates[i], name) == 0)
			return true;
	return false;
}

/* A phase with commit: true completed and verified: a point of no return. */
static void
commit_point(struct run *run, const struct phase *ph)
{
	struct event ev;

	run->commit_phase = ph;
	run->commit_floor = run->unwind_floor = run->n_completed;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_COMMIT;
	ev.phase = ph;
	ev.ok = true;
	emit(run, &ev);
}

/* ---- the run ---- */

void
fail_run(struct run *run, struct unit *u, const char *msg)
{
	if (run->failure)
		return;
	run->failed_unit = u;
	run->failure = secrets_masked(&run->secrets, msg);
}

static void
phase_event(struct run *run, enum event_type type, const struct phase *ph, bool ok, int64_t work_ms)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.phase = ph;
	ev.ok = ok;
	ev.work_ms = work_ms;
	emit(run, &ev);
}

/* Run the selected units of phase ph. 1 ok, 0 failed, -1 gate, -2 interrupted. */
static int
phase_run(struct run *run, const struct phase *ph)
{
	struct watch_ctx *wc = NULL;
	struct unit **group = NULL;
	size_t n_group = 0, cap_group = 0;
	int rc = 1;

	if (cancel_fired(run->cancel)) {
		/* a deadline or a maintenance window (SPEC §7) ended before the phase began */
		char *reason = cancel_reason(run->cancel);
		if (reason) {
			fail_run(run, NULL, reason);
			free(reason);
			return 0;
		}
	}
	/* the phase's watch covers its gate too (SPEC §7) */
	if (ph->watch.set && ph->watch.n_probes > 0)
		wc = watch_start(run, &ph->watch, "watch");
	if (ph->gate.s && !gate_approved_before(run, ph->name)) {
		int v = gate_ask(run, ph->name, &ph->gate, ph->gate_cfg);
		if (v <= 0)
			rc = v == -2 ? -2 : v == -3 ? 0 : -1;
	}
	for (size_t i = 0; i < run->n_units && rc == 1; i++) {
		struct unit *u = &run->units[i];
		if (u->step->phase != ph || !u->selected || u->state != UNIT_PENDING)
			continue;
		if (engine_interrupted) {
			rc = -2;
			break;
		}
		if (run->record_error) {
			rc = -3;
			break;
		}
		if (cancel_fired(run->cancel)) {
			char *reason = cancel_reason(run->cancel);
			fail_run(run, NULL, reason ? reason : "stopped");
			free(reason);
			rc = 0;
			break;
		}
		if (u->step->action.kind == ACT_GATE) {
			/* the unit starts and ends only once approved: a gate that
			 * stops the run leaves nothing in doubt */
			int v = gate_approved_before(run, u->step->name) ? 1
			    : gate_ask(run, u->step->name, &u->step->action.gate, u->step->action.gate_cfg);
			if (v <= 0) {
				rc = v == -2 ? -2 : v == -3 ? 0 : -1;
				break;
			}
			u->state = UNIT_RUNNING;
			u->attempts = 1;
			u->started_ms = wall_ms();
			unit_event(run, EV_UNIT_START, u, NULL, 0);
			u->state = UNIT_DONE;
			unit_event(run, EV_UNIT_END, u, NULL, 0);
			continue;
		}
		/* the units of one step and item (one per host) are expanded side by side */
		n_group = 0;
		PUSH(group, n_group, cap_group, u);
		while (i + 1 < run->n_units && run->units[i + 1].step == u->step &&
		    run->units[i + 1].item_index == u->item_index) {
			struct unit *v = &run->units[++i];
			if (v->selected && v->state == UNIT_PENDING)
				PUSH(group, n_group, cap_group, v);
		}
		rc = sched_group(run, group, n_group);
		if (rc == 1 && run->held)
			rc = -1;
	}
	free(group);
	watch_stop(wc);
	if (rc == 1 && run->record_error)
		rc = -3;
	if ((rc == 1 || (rc == 0 && run->failure == NULL)) && cancel_fired(run->cancel)) {
		char *reason = cancel_reason(run->cancel);
		if (reason) {
			fail_run(run, NULL, reason);
			rc = 0;
		}
		free(reason);
	}
	for (size_t i = 0; rc == 1 && i < ph->n_verify; i++) {
		struct buf why = BUF_INIT;
		enum verdict v = probe_run_event(run, &ph->verify[i], NULL, run->cancel, "verify", &why);
		if (v == VERDICT_HOLD) {
			char *where = xasprintf("when phase '%s' is verified", ph->name);
			if (!probe_hold(run, ph->verify[i].name, where)) {
				char *r = engine_interrupted || run->held ? NULL : cancel_reason(run->cancel);
				rc = engine_interrupted ? -2 : run->held ? -1 : 0;
				if (rc == 0)
					fail_run(run, NULL, r ? r : "stopped");
				free(r);
			}
			free(where);
		} else if (v != VERDICT_PASS) {
			char *m = xasprintf("phase '%s': verify probe '%s' failed: %s", ph->name,
			    ph->verify[i].name, buf_str(&why));
			fail_run(run, NULL, m);
			free(m);
			rc = engine_interrupted ? -2 : 0;
		}
		buf_release(&why);
	}
	return rc;
}

/* Does phase ph have selected units still to run? */
static bool
phase_selected(const struct run *run, const struct phase *ph)
{
	bool any = false, open = false;

	for (size_t i = 0; i < run->n_units; i++) {
		const struct unit *u = &run->units[i];
		if (u->step->phase != ph || !u->selected)
			continue;
		any = true;
		if (u->state != UNIT_DONE)
			open = true;
	}
	return any && (open || !run->resumed);
}

int
engine_load_secrets(struct run *run)
{
	char *err = NULL;

	if (run->secrets_loaded)
		return 0;
	if (secrets_load(run->rb, &run->secrets, &err) < 0) {
		free(run->failure);
		run->failure = err;
		return -1;
	}
	run->secrets_loaded = true;
	if (run_resolve_targets(run, &err) < 0) {
		free(run->failure);
		run->failure = err;
		return -1;
	}
	return 0;
}

static void
in_doubt_event(struct run *run, struct unit *u, const char *decision, const char *msg)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_IN_DOUBT;
	ev.unit = u;
	ev.phase = u->step->phase;
	ev.detail = decision;
	ev.message = msg;
	emit(run, &ev);
}

size_t
engine_settle_in_doubt(struct run *run, enum in_doubt_choice choice)
{
	size_t undecided = 0;

	for (size_t i = 0; i < run->n_units; i++) {
		struct unit *u = &run->units[i];
		const struct step *s = u->step;

		if (!u->in_doubt)
			continue;
		if (s->check.probe) {
			struct buf why = BUF_INIT;
			bool ok = probe_run_event(run, &s->check, u, run->cancel, "check", &why) == VERDICT_PASS;
			u->in_doubt = false;
			if (ok) {
				u->state = UNIT_DONE;
				run_mark_completed(run, u);
				in_doubt_event(run, u, "check-passed", "the check probe says the step's effect is in place");
			} else {
				char *m = secrets_masked(&run->secrets, buf_str(&why));
				in_doubt_event(run, u, "check-failed", m);
				free(m);
			}
			buf_release(&why);
		} else if (s->idempotent) {
			u->in_doubt = false;
			in_doubt_event(run, u, "idempotent", "idempotent: run again");
		} else if (choice == IN_DOUBT_RETRY) {
			u->in_doubt = false;
			in_doubt_event(run, u, "retry", "--retry-in-doubt: run again");
		} else if (choice == IN_DOUBT_SKIP) {
			u->in_doubt = false;
			u->state = UNIT_DONE;
			run_mark_completed(run, u);
			in_doubt_event(run, u, "skip", "--skip-in-doubt: counted as done");
		} else {
			undecided++;
		}
	}
	return undecided;
}

/* A session begins: its start, and the whole run's when this is its first session. */
static void
run_session_start(struct run *run)
{
	run->started_ms = wall_ms();
	if (!run->resumed || run->first_started_ms <= 0)
		run->first_started_ms = run->started_ms;
	if (run->sessions <= 0)
		run->sessions = 1;
}

void
run_count_units(const struct run *run, struct run_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < run->n_units; i++) {
		const struct unit *u = &run->units[i];
		if (u->step->action.kind == ACT_GATE)
			continue;
		switch (u->state) {
		case UNIT_DONE: c->done++; break;
		case UNIT_FAILED: c->failed++; break;
		case UNIT_SKIPPED: c->skipped++; break;
		case UNIT_INTERRUPTED: c->interrupted++; break;
		case UNIT_PENDING:
		case UNIT_RUNNING: c->pending++; break;
		}
	}
}

/* "2026-03-01T22:00:00Z (in 1h5m)" into why. */
static void
window_time(struct buf *why, const struct wallclock *w, int64_t now)
{
	buf_addf(why, "%s (in ", w->text);
	duration_format(why, w->epoch_ms - now);
	buf_addc(why, ')');
}

int
engine_window(const struct runbook *rb, int64_t now, struct buf *why)
{
	if (rb->not_before.set && now < rb->not_before.epoch_ms) {
		buf_adds(why, "the maintenance window opens at ");
		window_time(why, &rb->not_before, now);
		return -1;
	}
	if (rb->not_after.set && now >= rb->not_after.epoch_ms) {
		buf_addf(why, "the maintenance window closed at %s", rb->not_after.text);
		return 1;
	}
	return 0;
}

/*
 * Phase ph reached before its not_before (SPEC §7): the run stops, exit 6,
 * and `migrate resume` continues there once the window is open. true: stopped.
 */
static bool
phase_too_early(struct run *run, const struct phase *ph)
{
	int64_t now = wall_ms();
	struct buf why = BUF_INIT;

	if (!ph->not_before.set || now >= ph->not_before.epoch_ms)
		return false;
	buf_addf(&why, "phase '%s' may not start before its maintenance window opens at ", ph->name);
	window_time(&why, &ph->not_before, now);
	buf_addf(&why, "; nothing of it ran: continue then with migrate resume %s", run->id);
	free(run->failure);
	run->failure = buf_detach(&why);
	run->outcome = OUTCOME_WINDOW;
	return true;
}

/*
 * resume: wait what is left of a pause that followed a completed unit and
 * that an earlier process did not finish (SPEC §7). false: stopped.
 */
static bool
resume_pauses(struct run *run)
{
	for (size_t i = 0; i < run->n_units; i++) {
		struct unit *u = &run->units[i];
		if (u->state != UNIT_DONE || u->pause_until_ms <= 0)
			continue;
		run->phase = u->step->phase;
		if (!unit_pause(run, u, run->cancel, u->pause_ms))
			return false;
	}
	return true;
}

int
engine_run(struct run *run)
{
	const struct runbook *rb = run->rb;
	struct event ev;
	struct watch_ctx *guard = NULL;
	int64_t t0 = now_ms();
	bool failed = false;

	run_session_start(run);
	if (engine_load_secrets(run) < 0)
		return EXIT_USAGE;
	srandom((unsigned)(t0 ^ getpid()));
	pthread_mutex_lock(&run->clock_lock);
	worktime_start(&run->work, run->work_before_ms, t0);
	pthread_mutex_unlock(&run->clock_lock);
	sig_watch_start(run);

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RUN_START;
	emit(run, &ev);

	if (run->resumed) {
		size_t left = engine_settle_in_doubt(run, run->opts->in_doubt);
		if (left > 0 || run->record_error) {
			/* no run end: the run stays unfinished until an operator decides */
			sig_watch_stop(run);
			return EXIT_CANNOT_START;
		}
	}
	/* the timers go on from here (settling in-doubt units is not cut short by them); a
	 * deadline used up (or a window closed) in an earlier session stops the run before anything runs */
	arm_timers(run, true);
	(void)timers_check(run);
	if (run->resumed) {
		if (run->pending_hold && !probe_hold(run, run->pending_hold, "(it stopped this run)"))
			run->outcome = engine_interrupted ? OUTCOME_INTERRUPTED : OUTCOME_GATE;
		if (run->outcome == OUTCOME_RUNNING && !resume_pauses(run) && engine_interrupted)
			run->outcome = OUTCOME_INTERRUPTED;
	}

	for (size_t p = 0; p < rb->n_phases && run->outcome == OUTCOME_RUNNING; p++) {
		const struct phase *ph = &rb->phases[p];
		int rc;

		if (!phase_selected(run, ph))
			continue;
		if (phase_too_early(run, ph))
			break;
		run->phase = ph;
		(void)phase_clock(run, ph);
		(void)timers_check(run);
		/* the run-level watch: from the start of phase `from` to the end of the run (SPEC §7) */
		if (guard == NULL && rb->watch.set && rb->watch.n_probes > 0 &&
		    (rb->watch.from_phase == NULL || ph >= rb->watch.from_phase))
			guard = watch_start(run, &rb->watch, "run watch");
		phase_event(run, EV_PHASE_START, ph, true, 0);
		rc = phase_run(run, ph);
		phase_event(run, EV_PHASE_END, ph, rc == 1, phase_clock(run, NULL));
		if (rc == 1 && ph->commit)
			commit_point(run, ph);
		if (rc == -3) {
			fail_run(run, NULL, run->record_error);
			run->outcome = OUTCOME_NEEDS_HUMAN;
		} else if (rc == -1)
			run->outcome = OUTCOME_GATE;
		else if (rc == -2)
			run->outcome = OUTCOME_INTERRUPTED;
		else if (rc == 0)
			failed = true;
		if (failed)
			break;
	}
	/* the unwind is not watched: it runs whatever the probes say */
	watch_stop(guard);
	if (run->outcome == OUTCOME_RUNNING && !failed && !engine_interrupted && cancel_fired(run->cancel)) {
		/* a trip after the last unit, before the run ended */
		char *reason = cancel_reason(run->cancel);
		if (reason) {
			fail_run(run, NULL, reason);
			failed = true;
		}
		free(reason);
	}
	if (run->outcome == OUTCOME_RUNNING && engine_interrupted)
		run->outcome = OUTCOME_INTERRUPTED;
	if (run->outcome == OUTCOME_RUNNING && run->record_error) {
		fail_run(run, NULL, run->record_error);
		run->outcome = OUTCOME_NEEDS_HUMAN;
	}
	if (run->outcome == OUTCOME_RUNNING) {
		if (!failed)
			run->outcome = OUTCOME_SUCCEEDED;
		else if (run->opts->no_rollback)
			run->outcome = OUTCOME_NEEDS_HUMAN;
		else if (unwind(run) && !engine_interrupted) {
			run->outcome = verify_rollback(run) ? OUTCOME_ROLLED_BACK : OUTCOME_NEEDS_HUMAN;
			if (run->commit_phase) {
				/* what came before the commit point stays: a person must look */
				char *m = xasprintf("failed after commit point %s: %s", run->commit_phase->name,
				    run->failure ? run->failure : "");
				free(run->failure);
				run->failure = m;
				run->outcome = OUTCOME_NEEDS_HUMAN;
			}
		} else
			/* a signal during the unwind: exit 5, `migrate rollback` finishes it */
			run->outcome = engine_interrupted ? OUTCOME_INTERRUPTED : OUTCOME_NEEDS_HUMAN;
	}
	run->duration_ms = now_ms() - t0;
	arm_timers(run, false);
	sig_watch_stop(run);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RUN_END;
	ev.message = run->failure;
	ev.ok = run->outcome == OUTCOME_SUCCEEDED;
	ev.work_ms = run->work_ms = run_work_ms(run);
	emit(run, &ev);

	return run->outcome == OUTCOME_RUNNING ? EXIT_NEEDS_HUMAN : outcome_exit_code(run->outcome);
}

int
outcome_exit_code(enum run_outcome o)
{
	switch (o) {
	case OUTCOME_SUCCEEDED: return EXIT_OK;
	case OUTCOME_ROLLED_BACK: return EXIT_ROLLED_BACK;
	case OUTCOME_NEEDS_HUMAN: return EXIT_NEEDS_HUMAN;
	case OUTCOME_GATE: return EXIT_GATE;
	case OUTCOME_INTERRUPTED: return EXIT_INTERRUPTED;
	case OUTCOME_WINDOW: return EXIT_CANNOT_START;
	case OUTCOME_RUNNING: break;
	}
	return -1;
}

int
engine_rollback(struct run *run)
{
	struct event ev;
	int64_t t0 = now_ms();
	bool ok;

	run_session_start(run);
	if (engine_load_secrets(run) < 0)
		return EXIT_USAGE;
	/* an unwind is working time too; no timer stops it */
	pthread_mutex_lock(&run->clock_lock);
	worktime_start(&run->work, run->work_before_ms, t0);
	pthread_mutex_unlock(&run->clock_lock);
	sig_watch_start(run);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RUN_START;
	emit(run, &ev);
	ok = unwind(run);
	if (ok && !engine_interrupted && !run->record_error && !verify_rollback(run)) {
		run->outcome = OUTCOME_NEEDS_HUMAN;
		ok = false;
	}
	run->duration_ms = now_ms() - t0;
	if (run->record_error)
		run->outcome = OUTCOME_NEEDS_HUMAN;
	else if (engine_interrupted)
		run->outcome = OUTCOME_INTERRUPTED;
	else
		run->outcome = ok ? OUTCOME_ROLLED_BACK : OUTCOME_NEEDS_HUMAN;
	sig_watch_stop(run);
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_RUN_END;
	ev.message = run->failure;
	ev.ok = ok;
	ev.work_ms = run->work_ms = run_work_ms(run);
	emit(run, &ev);
	if (run->outcome == OUTCOME_ROLLED_BACK)
		return EXIT_OK;
	return outcome_exit_code(run->outcome);
}
