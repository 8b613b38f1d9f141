/*
 * engine-unwind.c - the unwind (SPEC §3): the rollback actions of the
 * completed units in reverse order of completion; the hosts of one step
 * and item together, in parallel (at most --forks); steps strictly in
 * reverse; a failed unit with `when: always` is rolled back with its
 * step's hosts. The unwind stops at the first group with a failed
 * rollback; it is stopped by signals only (not by the deadline or a watch).
 * A rollback with once: true runs at the newest unit of its step on each
 * host; the step's older units on that host are then journaled as rolled
 * back by it (covered_by), and nothing runs for them.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "expect.h"
#include "util.h"

/* One run of unit u's rollback action where spec says; false with why. */
static bool
rollback_action(struct run *run, struct unit *u, struct cancel_token *tok, const struct action_spec *spec,
    struct buf *why)
{
	const struct rollback *rb = u->step->rollback;
	struct exec_result res;
	bool ok = false;

	if (run_action(run, u, u, tok, spec, &res, why) == 0) {
		if (res.status != EXEC_DONE)
			describe_failure(tok, &res, spec->timeout_ms, why);
		else {
			struct expect copy, rel;
			struct bounds rel_bounds;
			struct buf note = BUF_INIT;
			const struct expect *ex = run_expect(run, u, &rb->expect, &copy, why);
			const struct expect *chk = ex ? expect_with_baselines(run, ex, u, tok, &rel, &rel_bounds,
			    &note, why) : NULL;
			ok = chk && expect_check(chk, rb->action.kind, &res, why);
			if (!ok && chk && chk != ex)
				buf_adds(why, buf_str(&note));
			buf_release(&note);
			run_expect_release(&rb->expect, ex);
		}
	}
	exec_result_release(&res);
	return ok;
}

/* Roll back unit u (stopped by tok: signals only). true: rolled back. */
static bool
rollback_run(struct run *run, struct unit *u, struct cancel_token *tok)
{
	const struct rollback *rb = u->step->rollback;
	const struct retry *r = &rb->retry;
	int attempts = r->attempts > 0 ? r->attempts : 1;
	struct action_spec spec;
	struct buf why = BUF_INIT;
	int64_t t0 = now_ms();
	bool ok = false;
	struct event ev;
	const struct exec_target **members = NULL;
	size_t n_on;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_ROLLBACK_START;
	ev.unit = u;
	ev.phase = u->step->phase;
	emit(run, &ev);
	if (run->record_error) {
		attempts = 0;   /* its start is not on record: do not run it */
		buf_adds(&why, run->record_error);
	}

	memset(&spec, 0, sizeof(spec));
	spec.action = &rb->action;
	spec.env[0] = u->step->env;
	spec.n_env[0] = u->step->n_env;
	spec.env[1] = rb->env;
	spec.n_env[1] = rb->n_env;
	spec.workdir = &u->step->workdir;
	spec.sudo = u->step->sudo == 1;
	spec.sudo_set = u->step->sudo >= 0;
	if (rb->on)
		spec.target = run_target(run, rb->on);
	spec.timeout_ms = rb->timeout_ms > 0 ? rb->timeout_ms : u->timeout_ms;
	spec.idem = "rollback";
	/* on: a group: every member, each attempt (a retry runs them all again) */
	n_on = run_group_targets(run, rb->on, &members);
	spec.rollback = true;
	for (int a = 1; a <= attempts && !engine_interrupted; a++) {
		buf_reset(&why);
		ok = true;
		for (size_t m = 0; m < (n_on ? n_on : 1); m++) {
			struct buf one = BUF_INIT;
			if (n_on)
				spec.target = members[m];
			if (!rollback_action(run, u, tok, &spec, &one)) {
				ok = false;
				buf_adds(&why, why.len ? "; " : "");
				if (n_on)
					member_why(&why, members[m], &one);
				else
					buf_adds(&why, buf_str(&one));
			}
			buf_release(&one);
		}
		if (ok || a == attempts)
			break;
		/* SIGINT ends the retry sleep (the unwind stops; `migrate rollback` continues it) */
		if (cancel_wait(tok, retry_delay(r, a)) || engine_interrupted)
			break;
	}
	free(members);
	if (!ok && engine_interrupted && why.len == 0)
		buf_adds(&why, "interrupted");
	if (!ok && why.len == 0)
		buf_adds(&why, "failed");
	u->rb_duration_ms = now_ms() - t0;
	u->rb_state = ok ? RB_DONE : RB_FAILED;
	if (!ok)
		u->rb_message = secrets_masked(&run->secrets, buf_str(&why));
	ev.type = EV_ROLLBACK_END;
	ev.ok = ok;
	ev.message = u->rb_message;
	emit(run, &ev);
	buf_release(&why);
	return ok;
}

static void
rollback_skip(struct run *run, struct unit *u, enum rollback_state st)
{
	struct event ev;

	u->rb_state = st;
	memset(&ev, 0, sizeof(ev));
	ev.type = EV_ROLLBACK_END;
	ev.unit = u;
	ev.phase = u->step->phase;
	ev.ok = true;
	emit(run, &ev);
}

/*
 * rollback once: true (SPEC §2): the host of u had its rollback for the
 * step already, run at a newer item (the unwind goes newest first, so any
 * other unit of the step on u's host that is rolled back is newer): that
 * unit, or NULL.
 */
static const struct unit *
once_done_by(const struct run *run, const struct unit *u)
{
	size_t first = u->index, end = u->index + 1;

	if (!u->step->rollback || !u->step->rollback->once)
		return NULL;
	/* a step's units lie side by side in run->units */
	while (first > 0 && run->units[first - 1].step == u->step)
		first--;
	while (end < run->n_units && run->units[end].step == u->step)
		end++;
	for (size_t i = first; i < end; i++) {
		const struct unit *v = &run->units[i];
		if (v != u && v->rb_state == RB_DONE && strcmp(v->host, u->host) == 0)
			return v->rb_covered_by ? v->rb_covered_by : v;
	}
	return NULL;
}

/* u is undone by by's rollback (once: true): journaled as rolled back, nothing runs. */
static void
rollback_covered(struct run *run, struct unit *u, const struct unit *by)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_ROLLBACK_START;
	ev.unit = u;
	ev.phase = u->step->phase;
	emit(run, &ev);
	u->rb_state = RB_DONE;
	u->rb_covered_by = by;
	u->rb_duration_ms = 0;
	ev.type = EV_ROLLBACK_END;
	ev.ok = true;
	emit(run, &ev);
}

static bool
same_group(const struct unit *a, const struct unit *b)
{
	return a->step == b->step && a->item_index == b->item_index;
}

static bool
rollback_always(const struct unit *u)
{
	return u->state == UNIT_FAILED && u->step->rollback && u->step->rollback->when == WHEN_ALWAYS &&
	    u->rb_state != RB_DONE;
}

struct rb_group {
	struct run *run;
	struct cancel_token *tok;
	struct unit **units;
	bool *ok;
	size_t n;
};

static void
rollback_one(void *arg, size_t i)
{
	struct rb_group *g = arg;
	struct cancel_token *tok;

	if (engine_interrupted)
		return;   /* start no new rollback: `migrate rollback` continues the unwind */
	tok = cancel_new(g->tok);
	g->ok[i] = rollback_run(g->run, g->units[i], tok);
	cancel_free(tok);
}

/* Roll back the given units of one step and item together. true: all rolled back. */
static bool
unwind_group(struct run *run, struct cancel_token *tok, struct unit **units, size_t n)
{
	struct rb_group g = { run, tok, xcalloc(n ? n : 1, sizeof(*g.units)), xcalloc(n ? n : 1, sizeof(bool)), 0 };
	bool ok = true;

	for (size_t i = 0; i < n; i++) {
		struct unit *u = units[i];
		if (u->rb_state == RB_DONE || u->rb_state == RB_NO_ACTION)
			continue;
		if (u->step->rollback == NULL) {
			rollback_skip(run, u, RB_NO_ACTION);
			continue;
		}
		const struct unit *by = once_done_by(run, u);
		if (by) {
			rollback_covered(run, u, by);
			continue;
		}
		g.units[g.n++] = u;
	}
	if (g.n > 0 && engine_interrupted)
		ok = false;
	else if (g.n > 0)
		engine_parallel(run, g.n, run->opts->forks, rollback_one, &g);
	for (size_t i = 0; ok && i < g.n; i++)
		ok = g.ok[i];
	free(g.units);
	free(g.ok);
	return ok;
}

/* The failed units with `when: always` of the group of u, appended to *list. */
static void
add_always(struct run *run, const struct unit *u, struct unit ***list, size_t *n, size_t *cap)
{
	for (size_t i = 0; i < run->n_units; i++)
		if (same_group(&run->units[i], u) && rollback_always(&run->units[i]))
			PUSH(*list, *n, *cap, &run->units[i]);
}

/*
 * Unwind every completed unit in reverse order of completion, skipping
 * units already rolled back (a continued unwind: each rollback action runs
 * at most once per unit). true: all rolled back.
 */
bool
unwind(struct run *run)
{
	struct cancel_token *tok = cancel_new(run->root);
	struct unit *f = run->failed_unit;
	struct unit **list = NULL;
	size_t n = 0, cap = 0;
	struct event ev;
	bool ok = true;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_UNWIND_START;
	emit(run, &ev);
	/* the failing step's hosts first when none of them completed */
	if (f && (run->n_completed == 0 || !same_group(run->completed[run->n_completed - 1], f))) {
		add_always(run, f, &list, &n, &cap);
		if (n > 0)
			ok = unwind_group(run, tok, list, n);
	}
	/* completed[0..unwind_floor) stay: a commit point, or rollback --to (SPEC §7) */
	for (size_t i = run->n_completed; ok && i-- > run->unwind_floor;) {
		struct unit *first = run->completed[i];
		n = 0;
		PUSH(list, n, cap, first);
		while (i > run->unwind_floor && same_group(run->completed[i - 1], first))
			PUSH(list, n, cap, run->completed[--i]);
		add_always(run, first, &list, &n, &cap);
		if (engine_interrupted) {
			bool left = false;
			for (size_t k = 0; k < n; k++)
				if (list[k]->rb_state != RB_DONE && list[k]->rb_state != RB_NO_ACTION)
					left = true;
			if (left) {
				ok = false;
				break;
			}
		}
		ok = unwind_group(run, tok, list, n);
	}
	free(list);
	cancel_free(tok);
	return ok;
}

bool
verify_rollback(struct run *run)
{
	const struct runbook *rb = run->rb;
	struct cancel_token *tok = cancel_new(run->root);
	bool ok = true;

	for (size_t i = 0; ok && i < rb->n_verify_rollback; i++) {
		struct buf why = BUF_INIT;
		ok = probe_run_event(run, &rb->verify_rollback[i], NULL, tok, "verify_rollback", &why) == VERDICT_PASS;
		if (!ok) {
			struct buf m = BUF_INIT;
			buf_addf(&m, "rolled back, but %s failed: %s", rb->verify_rollback[i].name, buf_str(&why));
			free(run->failure);
			run->failure = secrets_masked(&run->secrets, buf_str(&m));
			buf_release(&m);
		}
		buf_release(&why);
	}
	cancel_free(tok);
	return ok;
}
