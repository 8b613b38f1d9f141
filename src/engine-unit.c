/*
 * engine-unit.c - one unit: its attempts with retries and delays, its
 * expectations and captures.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "expect.h"
#include "regex.h"
#include "util.h"

/* The delay before retry number `attempt` (1-based: after the first failure, attempt = 1). */
int64_t
retry_delay(const struct retry *r, int attempt)
{
	double d = (double)r->interval_ms;
	double factor = r->backoff >= 1 ? r->backoff : 1;

	for (int i = 1; i < attempt && d < 1e12; i++)
		d *= factor;
	if (r->max_interval_ms > 0 && d > (double)r->max_interval_ms)
		d = (double)r->max_interval_ms;
	if (r->jitter > 0) {
		double u = (double)(random() % 10001) / 10000.0;   /* 0..1 */
		d *= 1.0 + r->jitter * (2.0 * u - 1.0);
	}
	if (d < 0)
		d = 0;
	return (int64_t)d;
}

/* What u's rollback will see: the captures set so far (a prefix of the log). */
static void
snapshot_captures(struct run *run, struct unit *u)
{
	pthread_mutex_lock(&run->cap_lock);
	u->captures_at = run->n_captures;
	pthread_mutex_unlock(&run->cap_lock);
}

/* Apply capture: patterns to stdout; every capture must match. */
static bool
take_captures(struct run *run, const struct step *s, const struct exec_result *res, struct buf *why)
{
	for (size_t i = 0; i < s->n_captures; i++) {
		char *val = NULL;
		if (regex_capture(s->captures[i].re, buf_str(&res->out), res->out.len, 1, &val) != 1) {
			buf_addf(why, "capture '%s': '%s' does not match stdout", s->captures[i].name,
			    regex_pattern(s->captures[i].re));
			free(val);
			return false;
		}
		run_set_capture(run, s->name, s->captures[i].name, val);
		free(val);
	}
	return true;
}

/* Keep the result of an http or probe step's attempt on its unit. */
static void
unit_keep_result(struct unit *u, struct probe_sample *s)
{
	probe_sample_free(u->result);
	u->result = s;
}

/* One attempt of unit u. true: the unit's action, expect and (unless in_batch) after probes held. */
static bool
unit_attempt(struct run *run, struct unit *u, bool in_batch, struct buf *why)
{
	const struct step *s = u->step;
	struct action_spec spec;
	struct exec_result res;
	struct expect ex_copy, rel;
	struct bounds rel_bounds;
	const struct expect *ex = NULL, *chk = NULL;
	struct buf note = BUF_INIT;   /* what relative bounds were made of */
	struct probe_sample *sample = NULL;
	bool ok;

	switch (s->action.kind) {
	case ACT_PAUSE:
		if (!unit_pause(run, u, u->cancel, s->action.pause_ms)) {
			describe_failure(u->cancel, &(struct exec_result){ .status = EXEC_CANCELLED }, 0, why);
			return false;
		}
		return true;
	case ACT_PROBE:
		ok = probe_eval(run, s->action.probe, u, u->cancel, s->action.probe_name, "step", &sample,
		    why) == VERDICT_PASS;
		if (s->action.probe_name)   /* ${probes.NAME.value} and the report's probe results */
			run_add_sample(run, probe_sample_copy(sample));
		unit_keep_result(u, sample);
		break;
	case ACT_RUN:
	case ACT_HTTP:
	case ACT_UPLOAD:
	case ACT_DOWNLOAD:
		memset(&spec, 0, sizeof(spec));
		spec.action = &s->action;
		spec.env[0] = s->env;   /* defaults.env is merged in by the loader */
		spec.n_env[0] = s->n_env;
		spec.workdir = &s->workdir;
		spec.sudo = s->sudo == 1;
		spec.sudo_set = s->sudo >= 0;
		spec.timeout_ms = u->timeout_ms;
		spec.idem = "step";
		spec.record_pgid = true;
		if (run_action(run, u, u, u->cancel, &spec, &res, why) < 0)
			return false;
		u->exit_code = res.status == EXEC_DONE && s->action.kind == ACT_RUN ? res.exit_code : -1;
		if (res.status != EXEC_DONE) {
			describe_failure(u->cancel, &res, spec.timeout_ms, why);
			ok = false;
		} else if ((ex = run_expect(run, u, &s->expect, &ex_copy, why)) == NULL) {
			ok = false;
		} else if ((chk = expect_with_baselines(run, ex, u, u->cancel, &rel, &rel_bounds, &note, why))
		    == NULL) {
			ok = false;
		} else if (s->action.kind == ACT_HTTP) {
			struct observed obs;
			enum verdict v = expect_eval(chk, ACT_HTTP, &res, &obs, why);
			ok = v == VERDICT_PASS && take_captures(run, s, &res, why);
			unit_keep_result(u, probe_sample_new(NULL, "step", u->key, ok ? SAMPLE_PASS : SAMPLE_FAIL,
			    &obs, NULL, NULL));
			observed_release(&obs);
		} else {
			ok = expect_check(chk, ACT_RUN, &res, why) && take_captures(run, s, &res, why);
		}
		if (!ok && chk && chk != ex)
			buf_adds(why, buf_str(&note));
		buf_release(&note);
		run_expect_release(&s->expect, ex);
		exec_result_release(&res);
		break;
	default:
		buf_adds(why, "this kind of step is not available in this release");
		return false;
	}
	if (!ok || in_batch)
		return ok;
	/* the bake time: the after probes see the change once it settled (SPEC §3) */
	if (u->pause_ms > 0 && s->n_after > 0) {
		if (!unit_pause(run, u, u->cancel, u->pause_ms)) {
			describe_failure(u->cancel, &(struct exec_result){ .status = EXEC_CANCELLED }, 0, why);
			return false;
		}
	}
	for (size_t i = 0; i < s->n_after; i++) {
		struct buf pwhy = BUF_INIT;
		enum verdict v = probe_run_event(run, &s->after[i], u, u->cancel, "after", &pwhy);
		if (v == VERDICT_HOLD) {
			char *where = xasprintf("after '%s'", u->name);
			bool go = probe_hold(run, s->after[i].name, where);
			free(where);
			buf_release(&pwhy);
			if (go)
				continue;
			/* the unit's change is in place: it completes, and the run stops at the hold */
			return true;
		}
		if (v != VERDICT_PASS) {
			buf_addf(why, "after probe '%s' failed: %s", s->after[i].name, buf_str(&pwhy));
			buf_release(&pwhy);
			return false;
		}
		buf_release(&pwhy);
	}
	return true;
}

void
unit_event(struct run *run, enum event_type type, struct unit *u, const char *msg, int64_t delay)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = type;
	ev.phase = u->step->phase;
	ev.unit = u;
	ev.message = msg;
	ev.delay_ms = delay;
	ev.ok = u->state == UNIT_DONE;
	emit(run, &ev);
}

void
unit_start_event(struct run *run, struct unit *u)
{
	u->start_deferred = false;
	unit_event(run, EV_UNIT_START, u, NULL, 0);
}

/*
 * Whether the unit's start can wait until its command is spawned: a local
 * run step, whose sh reads its script from stdin and so does nothing
 * before migrate writes it. Its unit_start then carries the process
 * group, one fdatasync'ed record instead of two (unit_start, unit_pgid).
 * Anything else (SSH, HTTP, transfers) acts as soon as it starts: its
 * start is on record first.
 */
static bool
start_can_wait(const struct unit *u)
{
	return u->step->action.kind == ACT_RUN && (u->target == NULL || exec_target_is_local(u->target));
}

static void
pause_event(struct run *run, struct unit *u, const char *what, int64_t until, int64_t length, int64_t wait)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_PAUSE;
	ev.phase = u->step->phase;
	ev.unit = u;
	ev.detail = what;
	ev.until_ms = until;
	ev.length_ms = length;
	ev.delay_ms = wait;
	ev.ok = strcmp(what, "stopped") != 0;
	emit(run, &ev);
}

bool
unit_pause(struct run *run, struct unit *u, struct cancel_token *tok, int64_t ms)
{
	int64_t now = wall_ms(), until = now + ms, wait;
	bool stopped;

	if (u->pause_until_ms > 0) {
		/* begun by an earlier process: only the rest (SPEC §7 "Resumable pauses") */
		until = u->pause_until_ms;
		u->pause_until_ms = 0;
		if (run->opts->skip_pause) {
			pause_event(run, u, "skipped", until, ms, until > now ? until - now : 0);
			return true;
		}
	}
	wait = until > now ? until - now : 0;
	pause_event(run, u, "start", until, ms, wait);
	stopped = cancel_wait(tok, wait) || engine_interrupted;
	pause_event(run, u, stopped ? "stopped" : "done", until, ms, 0);
	return !stopped;
}

void
unit_end(struct run *run, struct unit *u, const char *why)
{
	snapshot_captures(run, u);
	free(u->message);
	u->message = NULL;
	if (why == NULL) {
		u->state = UNIT_DONE;
	} else {
		u->state = engine_interrupted ? UNIT_INTERRUPTED : UNIT_FAILED;
		if (engine_interrupted || why[0] == '\0')
			why = engine_interrupted ? "interrupted" : "failed";
		u->message = secrets_masked(&run->secrets, why);
	}
	/* the engine thread records it as completed when it dispatches the end */
	unit_event(run, EV_UNIT_END, u, u->message, 0);
}

bool
unit_run(struct run *run, struct unit *u, bool in_batch, bool *held)
{
	const struct retry *r = &u->retry;
	int attempts = r->attempts > 0 ? r->attempts : 1;
	struct buf why = BUF_INIT;
	int64_t t0 = now_ms();
	bool ok = false;

	*held = false;
	u->cancel = cancel_new(run->cancel);
	u->state = UNIT_RUNNING;
	u->started_ms = wall_ms();
	u->pgid = 0;
	u->start_deferred = start_can_wait(u) && !run->record_error;
	if (!u->start_deferred)
		unit_start_event(run, u);
	if (run->record_error)
		attempts = 0;   /* its start is not on record: do not run it */
	for (int a = 1; a <= attempts; a++) {
		int64_t delay;
		char *m;

		u->attempts = a;
		buf_reset(&why);
		ok = unit_attempt(run, u, in_batch, &why);
		/* the attempt ended before a command was spawned (a bad ${...}, a spawn error): nothing ran */
		if (u->start_deferred)
			unit_start_event(run, u);
		if (ok || engine_interrupted || cancel_fired(u->cancel) || run->held || a == attempts)
			break;
		delay = retry_delay(r, a);
		m = secrets_masked(&run->secrets, buf_str(&why));
		unit_event(run, EV_UNIT_RETRY, u, m, delay);
		free(m);
		/* a signal, the deadline or a watch trip ends the delay */
		if (cancel_wait(u->cancel, delay) || engine_interrupted)
			break;
	}
	u->duration_ms = now_ms() - t0;
	if (ok && in_batch && (u->step->n_after > 0 || u->pause_ms > 0)) {
		*held = true;   /* the batch's pause and after probes decide */
	} else {
		unit_end(run, u, ok ? NULL : buf_str(&why));
		/* without after probes the pause is a wait after the unit (with them it came before them) */
		if (ok && !in_batch && u->pause_ms > 0 && u->step->n_after == 0 && !engine_interrupted)
			(void)unit_pause(run, u, u->cancel, u->pause_ms);
	}
	buf_release(&why);
	cancel_free(u->cancel);
	u->cancel = NULL;
	return ok;
}
