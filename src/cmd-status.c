/* migrate status [RUN-ID]: the state of one run, rebuilt from its journal. */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "cmd.h"
#include "duration.h"
#include "exitcode.h"
#include "output.h"
#include "runlog.h"
#include "statedir.h"
#include "util.h"


#define KEY_WIDTH_MAX 40
#define HOST_WIDTH_MAX 24
#define MARK_W 8     /* the plain marks' width ("FAILED  ") */

struct style {
	bool color;
	bool tty;
};

static const char *
col(const struct style *st, const char *code)
{
	return st->color ? code : "";
}

/* What resume will do with a unit in doubt. */
enum settle {
	SETTLE_NONE,      /* not in doubt */
	SETTLE_CHECK,     /* runs the step's check probe */
	SETTLE_IDEMPOTENT, /* runs it again: the step is idempotent */
	SETTLE_DECIDED,   /* runs it again: a decision was journaled */
	SETTLE_ASK,       /* stops until --retry-in-doubt or --skip-in-doubt */
	SETTLE_UNKNOWN,   /* the runbook could not be read to tell */
};

static const char *const settle_names[] = {
	[SETTLE_NONE] = NULL,
	[SETTLE_CHECK] = "run_check",
	[SETTLE_IDEMPOTENT] = "run_again",
	[SETTLE_DECIDED] = "run_again",
	[SETTLE_ASK] = "ask_operator",
	[SETTLE_UNKNOWN] = "unknown",
};

/* The advice for the end of the report. */
struct next {
	const char *action;  /* "resume", "rollback" or "none" */
	char *command;       /* or NULL */
	char *advice;
};

/*
 * The runbook the run was started from, when some unit is in doubt without
 * a decision (its check and idempotent settings say what resume will do)
 * or the run reached a gate (how many approvals it needs).
 * NULL when none is needed or it cannot be loaded; nothing is printed.
 */
static struct runbook *
load_runbook_quietly(const struct rl_run *r)
{
	struct diags d = DIAGS_INIT;
	struct runbook *rb;
	bool needed = false;

	/* for in-doubt units (how resume settles them) and gates (how many approvals they need) */
	needed = r->n_gates > 0;
	for (size_t i = 0; i < r->n_units && !needed; i++)
		needed = r->units[i].state == RLU_IN_DOUBT && r->units[i].in_doubt_decision == NULL;
	if (!needed || r->file == NULL || access(r->file, R_OK) != 0)
		return NULL;
	rb = runbook_load(r->file, NULL, 0, &d);
	diags_release(&d);
	return rb;
}

static enum settle
settle_of(const struct rl_unit *u, const struct runbook *rb)
{
	const struct step *step;

	if (u->state != RLU_IN_DOUBT)
		return SETTLE_NONE;
	if (u->in_doubt_decision)
		return SETTLE_DECIDED;
	if (rb == NULL || (step = runbook_step(rb, u->step)) == NULL)
		return SETTLE_UNKNOWN;
	if (step->check.probe)
		return SETTLE_CHECK;
	return step->idempotent ? SETTLE_IDEMPOTENT : SETTLE_ASK;
}

static void
settle_text(struct buf *b, enum settle s, const struct rl_unit *u, const char *run_id)
{
	switch (s) {
	case SETTLE_NONE:
		break;
	case SETTLE_CHECK:
		buf_adds(b, "resume runs the step's check probe: passes, the unit counts as done; fails, it runs again");
		break;
	case SETTLE_IDEMPOTENT:
		buf_adds(b, "resume runs it again (the step is idempotent)");
		break;
	case SETTLE_DECIDED:
		buf_addf(b, "resume runs it again (decision journaled: %s)", u->in_doubt_decision);
		break;
	case SETTLE_ASK:
		buf_addf(b, "resume stops here (exit 6) until you choose: migrate resume %s --retry-in-doubt"
		    " (run it again) or --skip-in-doubt (count it as done)", run_id);
		break;
	case SETTLE_UNKNOWN:
		buf_addf(b, "the runbook could not be read to tell what resume does: it runs the step's check"
		    " probe if it has one, runs it again if it is idempotent, else stops until you choose"
		    " --retry-in-doubt or --skip-in-doubt");
		break;
	}
}

/* Set b to u's display name (SPEC §1); its key when the journal lacks the step. */
static const char *
name_of(struct buf *b, const struct rl_unit *u)
{
	buf_reset(b);
	if (u->step == NULL)
		buf_adds(b, u->key);
	else
		unit_display_name(b, u->step, u->item, u->host);
	return buf_str(b);
}

/* The unit whose rollback failed or is in doubt, the one the unwind stopped at. */
static const struct rl_unit *
stuck_rollback(const struct rl_run *r)
{
	for (size_t i = 0; i < r->n_units; i++)
		if (r->units[i].rb_state == RLR_FAILED || r->units[i].rb_state == RLR_IN_DOUBT)
			return &r->units[i];
	return NULL;
}

static bool
any_rollback(const struct rl_run *r)
{
	for (size_t i = 0; i < r->n_units; i++)
		if (r->units[i].rb_state != RLR_NONE)
			return true;
	return false;
}

/* Work out what the operator should do next. */
static void
next_of(const struct rl_run *r, const char *id, struct next *n)
{
	const char *out = r->outcome;
	const struct rl_unit *stuck = stuck_rollback(r);

	n->action = "none";
	n->command = NULL;
	if (out == NULL && r->unwinding) {
		n->action = "rollback";
		n->command = xasprintf("migrate rollback %s", id);
		n->advice = xasprintf("no run end recorded during the unwind: if the run is no longer"
		    " running, `%s` finishes the unwind", n->command);
	} else if (out == NULL && r->waiting_gate) {
		/* a live run waits at a gate for approvals (or it died waiting: then resume) */
		n->action = "approve";
		n->command = xasprintf("migrate approve %s %s --as NAME", id, r->waiting_gate);
		n->advice = xasprintf("the run waits at gate '%s' for approvals: `%s` hands one over;"
		    " if it is no longer running (it crashed), `migrate resume %s` continues it",
		    r->waiting_gate, n->command, id);
	} else if (out == NULL) {
		n->action = "resume";
		n->command = xasprintf("migrate resume %s", id);
		n->advice = xasprintf("no run end recorded: if the run is no longer running (it crashed),"
		    " `%s` continues it", n->command);
	} else if (strcmp(out, "succeeded") == 0) {
		n->advice = xstrdup("nothing to do: the run succeeded");
	} else if (strcmp(out, "rolled_back") == 0) {
		n->advice = xstrdup("nothing to do: the run failed and its completed steps were rolled"
		    " back; fix the cause and start a new run");
	} else if (strcmp(out, "needs_human") == 0) {
		n->action = "rollback";
		n->command = xasprintf("migrate rollback %s", id);
		if (stuck) {
			struct buf name = BUF_INIT;
			n->advice = xasprintf("a person must look: the rollback of '%s' did not complete;"
			    " fix its cause, then `%s` continues the unwind from there", name_of(&name, stuck), n->command);
			buf_release(&name);
		}
		else
			n->advice = xasprintf("a person must look: completed steps were left in place;"
			    " `%s` unwinds them", n->command);
	} else if (strcmp(out, "gate") == 0) {
		n->action = "resume";
		if (r->pending_gate)
			n->command = xasprintf("migrate resume %s --approve %s", id, r->pending_gate);
		else
			n->command = xasprintf("migrate resume %s --yes", id);
		n->advice = xasprintf("the run waits at a gate: `%s` approves it and continues", n->command);
	} else if (strcmp(out, "window") == 0) {
		n->action = "resume";
		n->command = xasprintf("migrate resume %s", id);
		n->advice = xasprintf("the run stopped before a phase whose maintenance window was not open yet:"
		    " `%s` continues once it is", n->command);
	} else if (strcmp(out, "interrupted") == 0) {
		n->action = any_rollback(r) ? "rollback" : "resume";
		n->command = xasprintf("migrate %s %s", n->action, id);
		n->advice = xasprintf("the run was interrupted: `%s` continues %s", n->command,
		    any_rollback(r) ? "the unwind" : "it");
	} else {
		n->advice = xasprintf("outcome '%s' is not known to this version of migrate", out);
	}
}

/* A phrase for the outcome, for the header. */
static void
outcome_text(struct buf *b, const struct rl_run *r, const struct style *st)
{
	static const struct { const char *name, *color, *text; } known[] = {
		{ "succeeded", C_GREEN, "succeeded" },
		{ "rolled_back", C_YELLOW, "failed and rolled back" },
		{ "needs_human", C_RED, "failed and NOT fully rolled back: a person must look" },
		{ "gate", C_YELLOW, "stopped at a gate that was not approved" },
		{ "interrupted", C_YELLOW, "interrupted" },
		{ "window", C_YELLOW, "stopped before a maintenance window opened" },
	};

	if (r->outcome == NULL) {
		buf_addf(b, "%sunfinished (no run end recorded: crashed or still running)%s",
		    col(st, C_YELLOW), col(st, C_RESET));
		if (r->unwinding)
			buf_adds(b, "; it was unwinding");
		if (r->interrupted)
			buf_adds(b, "; an interrupt was recorded");
		return;
	}
	for (size_t i = 0; i < ARRAY_LEN(known); i++) {
		if (strcmp(r->outcome, known[i].name) == 0) {
			buf_addf(b, "%s%s%s (exit %d)", col(st, known[i].color), known[i].text,
			    col(st, C_RESET), r->exit_code);
			return;
		}
	}
	buf_addf(b, "%s (exit %d)", r->outcome, r->exit_code);
}

static void
header(struct buf *b, const struct rl_run *r, const char *id, const struct runbook *rb,
    const struct style *st)
{
	buf_addf(b, "%-10s%s%s%s\n", "run", col(st, C_BOLD), id, col(st, C_RESET));
	buf_addf(b, "%-10s%s", "runbook", r->runbook ? r->runbook : "?");
	if (r->file)
		buf_addf(b, " (%s)", r->file);
	buf_addc(b, '\n');
	buf_addf(b, "%-10s%s", "started", r->started ? r->started : "?");
	if (r->host && *r->host)
		buf_addf(b, " by %s%s%s", r->user && *r->user ? r->user : "", r->user && *r->user ? "@" : "", r->host);
	buf_addc(b, '\n');
	if (r->n_resumes)
		buf_addf(b, "%-10s%zu time%s\n", "resumed", r->n_resumes, r->n_resumes == 1 ? "" : "s");
	buf_addf(b, "%-10s", "duration");
	duration_format(b, r->duration_ms);
	if (r->outcome == NULL)
		buf_adds(b, " until the last record");
	buf_addc(b, '\n');
	/* SPEC §7: deadlines count working time (gate waits and time between sessions left out) */
	buf_addf(b, "%-10s", "working");
	duration_format(b, runlog_work_ms(r));
	buf_addc(b, '\n');
	buf_addf(b, "%-10s", "outcome");
	outcome_text(b, r, st);
	buf_addc(b, '\n');
	if (r->failure)
		buf_addf(b, "%-10s%s\n", "failure", r->failure);
	if (r->pending_gate)
		buf_addf(b, "%-10s'%s' not approved; continue with: migrate resume %s --approve %s\n",
		    "gate", r->pending_gate, id, r->pending_gate);
	if (r->commit_phase)
		buf_addf(b, "%-10sphase %s (after it, a failure unwinds only what came later;"
		    " `migrate rollback --past-commit` goes further)\n", "commit", r->commit_phase);
	for (size_t i = 0; i < r->n_notify_failures; i++) {
		const struct rl_notify *nf = &r->notify_failures[i];
		buf_addf(b, "%-10shook %zu (%s) failed: %s (the outcome is unchanged)\n", "notify", nf->hook,
		    nf->event ? nf->event : "?", nf->message ? nf->message : "?");
	}
	for (size_t i = 0; (r->outcome == NULL || strcmp(r->outcome, "interrupted") == 0) && i < r->n_units; i++) {
		char until[STATEDIR_TIME_SIZE];
		const struct rl_unit *u = &r->units[i];
		if (u->pause_until_ms <= 0 || statedir_format_time(u->pause_until_ms, until) < 0)
			continue;
		/* SPEC §7: a pause under way when the run stopped */
		buf_addf(b, "%-10s'%s' was under way, until %s; resume waits only the rest"
		    " (--skip-pause skips it)\n", "pause", u->key, until);
	}
	if (rb && r->sha256 && strcmp(rb->sha256, r->sha256) != 0)
		buf_addf(b, "%-10sthe runbook file changed since the run started;"
		    " resume and rollback refuse it unless --force\n", "note");
	if (r->torn_tail)
		buf_addf(b, "%-10sthe journal's last line was cut short (a write that did not finish)"
		    " and is ignored; everything before it is intact\n", "note");
}

static const char *
mark(const struct style *st, const char *fancy, const char *plain)
{
	return st->tty ? fancy : plain;
}

/* The display name of the unit whose key is key (once: true's covering unit), into b. */
static const char *
covering_name(struct buf *b, const struct rl_run *r, const char *key)
{
	for (size_t i = 0; i < r->n_units; i++)
		if (strcmp(r->units[i].key, key) == 0)
			return name_of(b, &r->units[i]);
	buf_reset(b);
	buf_adds(b, key);
	return buf_str(b);
}

/* One line per unit, then its details: failure, output tail, rollback, doubt. */
static void
unit_lines(struct buf *b, const struct rl_run *r, const char *id, const struct runbook *rb,
    const struct style *st)
{
	struct buf cell = BUF_INIT, name = BUF_INIT;
	int kw = 4, hw = 4;

	for (size_t i = 0; i < r->n_units; i++) {
		int k = utf8_chars(name_of(&name, &r->units[i])), h = (int)strlen(r->units[i].host);
		kw = k > kw ? (k < KEY_WIDTH_MAX ? k : KEY_WIDTH_MAX) : kw;
		hw = h > hw ? (h < HOST_WIDTH_MAX ? h : HOST_WIDTH_MAX) : hw;
	}
	buf_addf(b, "\n%zu unit%s:\n", r->n_units, r->n_units == 1 ? "" : "s");
	for (size_t i = 0; i < r->n_units; i++) {
		const struct rl_unit *u = &r->units[i];
		const char *color = C_DIM, *m = mark(st, "·", "pending ");
		int nw;
		enum settle s = settle_of(u, rb);

		switch (u->state) {
		case RLU_PENDING: break;
		case RLU_IN_DOUBT: color = C_YELLOW; m = mark(st, "?", "IN-DOUBT"); break;
		case RLU_DONE: color = C_GREEN; m = mark(st, "✓", "ok      "); break;
		case RLU_FAILED:
			if (u->interrupted) {   /* stopped by a signal: it did not fail (issue 12 item 12) */
				color = C_YELLOW;
				m = mark(st, "■", "INTERRUPTED");
			} else {
				color = C_RED;
				m = mark(st, "✗", "FAILED  ");
			}
			break;
		case RLU_SKIPPED: m = mark(st, "–", "skipped "); break;
		}
		name_of(&name, u);
		/* a mark wider than the others (INTERRUPTED) takes from the name's padding */
		nw = utf8_chars(buf_str(&name)) + (utf8_chars(m) > MARK_W ? utf8_chars(m) - MARK_W : 0);
		buf_addf(b, "  %s%s%s %s", col(st, color), m, col(st, C_RESET), buf_str(&name));
		if (utf8_chars(buf_str(&name)) > kw)   /* too long for the column: the columns on the next line */
			buf_addf(b, "\n  %*s %*s  %-*s ", utf8_chars(m), "", kw, "", hw, u->host);
		else
			buf_addf(b, "%*s  %-*s ", kw > nw ? kw - nw : 0, "", hw, u->host);
		if (u->attempts > 0)
			buf_addf(b, " %d attempt%s", u->attempts, u->attempts == 1 ? " " : "s");
		else
			buf_adds(b, " -         ");
		buf_reset(&cell);
		if (u->state == RLU_DONE || u->state == RLU_FAILED)
			duration_format(&cell, u->duration_ms);
		buf_addf(b, "  %-7s", buf_str(&cell));
		buf_reset(&cell);
		if (u->has_exit)
			buf_addf(&cell, "exit %d", u->exit_code);
		buf_addf(b, "  %-8s", buf_str(&cell));
		if (u->state == RLU_DONE && u->in_doubt_decision)
			buf_addf(b, "%s(was in doubt; settled: %s)%s  ", col(st, C_DIM), u->in_doubt_decision, col(st, C_RESET));
		switch (u->rb_state) {
		case RLR_NONE: break;
		case RLR_IN_DOUBT:
			buf_addf(b, "%srollback in doubt (started, no end recorded)%s", col(st, C_YELLOW), col(st, C_RESET));
			break;
		case RLR_DONE:
			buf_addf(b, "%srolled back%s", col(st, C_GREEN), col(st, C_RESET));
			if (u->rb_covered_by)
				buf_addf(b, " %s(by the rollback of %s, once: true)%s", col(st, C_DIM),
				    covering_name(&cell, r, u->rb_covered_by), col(st, C_RESET));
			break;
		case RLR_FAILED:
			buf_addf(b, "%srollback FAILED%s", col(st, C_RED), col(st, C_RESET));
			break;
		case RLR_NO_ROLLBACK:
			buf_addf(b, "%sno rollback%s", col(st, C_DIM), col(st, C_RESET));
			break;
		}
		while (b->len > 0 && b->data[b->len - 1] == ' ')
			b->data[--b->len] = '\0';
		buf_addc(b, '\n');
		if (u->state == RLU_FAILED) {
			buf_addf(b, "      %s%s%s\n", col(st, u->interrupted ? C_YELLOW : C_RED),
			    u->message ? u->message : u->interrupted ? "interrupted" : "failed", col(st, C_RESET));
			if (u->tail && *u->tail) {
				buf_adds(b, "      last output:\n");
				output_tail_lines(u->tail, strlen(u->tail), OUTPUT_FAIL_LINES, "      │ ", b);
			}
		}
		if (u->rb_state == RLR_FAILED) {
			buf_addf(b, "      rollback: %s%s%s\n", col(st, C_RED),
			    u->rb_message ? u->rb_message : "failed (no message recorded)", col(st, C_RESET));
			if (u->rb_tail && *u->rb_tail) {   /* its own output, apart from the unit's */
				buf_adds(b, "      rollback output:\n");
				output_tail_lines(u->rb_tail, strlen(u->rb_tail), OUTPUT_FAIL_LINES, "      │ ", b);
			}
		}
		if (s != SETTLE_NONE) {
			buf_adds(b, "      in doubt: started, no end recorded");
			if (u->message)
				buf_addf(b, " (last message: %s)", u->message);
			buf_adds(b, "\n      ");
			settle_text(b, s, u, id);
			buf_addc(b, '\n');
		}
	}
	buf_release(&cell);
	buf_release(&name);
}

static struct json_object *
jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* Is approval i the first of its name for its gate? (a name counts once) */
static bool
approval_first(const struct rl_run *r, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (strcmp(r->approvals[k].gate, r->approvals[i].gate) == 0 &&
		    strcmp(r->approvals[k].name, r->approvals[i].name) == 0)
			return false;
	return true;
}

/* The gates the run reached: how each stands and who approved it (people, SPEC §7). */
static void
gate_lines(struct buf *b, const struct rl_run *r, const char *id, const struct runbook *rb,
    const struct style *st)
{
	if (r->n_gates == 0)
		return;
	buf_addf(b, "\n%zu gate%s:\n", r->n_gates, r->n_gates == 1 ? "" : "s");
	for (size_t g = 0; g < r->n_gates; g++) {
		const struct rl_gate *gt = &r->gates[g];
		bool ok = strcmp(gt->state, "approved") == 0;
		int need = rb ? runbook_gate_approvals(rb, gt->name) : 0;
		size_t n = 0;

		buf_addf(b, "  %s%-10s%s %s", col(st, ok ? C_GREEN : C_YELLOW), gt->state, col(st, C_RESET), gt->name);
		if (need > 1)
			buf_addf(b, " (needs %d approvals)", need);
		if (!ok && gt->by)
			buf_addf(b, ": %s", gt->by);
		buf_addc(b, '\n');
		for (size_t i = 0; i < r->n_approvals; i++) {
			const struct rl_approval *a = &r->approvals[i];
			if (strcmp(a->gate, gt->name) != 0 || !approval_first(r, i))
				continue;
			buf_addf(b, "      approved by %s (%s@%s%s%s%s%s)\n", a->name, a->user ? a->user : "?",
			    a->host ? a->host : "?", a->via ? ", " : "", a->via ? a->via : "", a->ts ? ", " : "",
			    a->ts ? a->ts : "");
			n++;
		}
		if (strcmp(gt->state, "waiting") == 0 && r->outcome == NULL)
			buf_addf(b, "      waits for approvals: migrate approve %s %s --as NAME\n", id, gt->name);
		else if (!ok && n == 0 && strcmp(gt->state, "asked") != 0)
			buf_adds(b, "      nobody approved it\n");
	}
}

static struct json_object *
gates_json(const struct rl_run *r, const struct runbook *rb)
{
	struct json_object *all = json_object_new_array();

	for (size_t g = 0; g < r->n_gates; g++) {
		const struct rl_gate *gt = &r->gates[g];
		struct json_object *j = json_object_new_object(), *by = json_object_new_array();
		int need = rb ? runbook_gate_approvals(rb, gt->name) : 0;

		json_object_object_add(j, "name", jstr(gt->name));
		json_object_object_add(j, "phase", jstr(gt->phase));
		json_object_object_add(j, "state", jstr(gt->state));
		json_object_object_add(j, "reason", strcmp(gt->state, "approved") == 0 ? NULL : jstr(gt->by));
		json_object_object_add(j, "approvals_needed", need > 0 ? json_object_new_int(need) : NULL);
		json_object_object_add(j, "at", jstr(gt->ts));
		for (size_t i = 0; i < r->n_approvals; i++) {
			const struct rl_approval *a = &r->approvals[i];
			struct json_object *ja;
			if (strcmp(a->gate, gt->name) != 0 || !approval_first(r, i))
				continue;
			ja = json_object_new_object();
			json_object_object_add(ja, "name", jstr(a->name));
			json_object_object_add(ja, "user", jstr(a->user));
			json_object_object_add(ja, "host", jstr(a->host));
			json_object_object_add(ja, "via", jstr(a->via));
			json_object_object_add(ja, "at", jstr(a->ts));
			json_object_array_add(by, ja);
		}
		json_object_object_add(j, "approved_by", by);
		json_object_array_add(all, j);
	}
	return all;
}

static struct json_object *
jref(struct json_object *o)
{
	return o ? json_object_get(o) : NULL;
}

static struct json_object *
unit_json(const struct rl_unit *u, const struct runbook *rb, const char *id)
{
	struct json_object *j = json_object_new_object();
	enum settle s = settle_of(u, rb);
	struct buf b = BUF_INIT;

	json_object_object_add(j, "key", jstr(u->key));
	json_object_object_add(j, "name", jstr(name_of(&b, u)));
	buf_reset(&b);
	json_object_object_add(j, "step", jstr(u->step));
	json_object_object_add(j, "phase", jstr(u->phase));
	json_object_object_add(j, "item", jstr(u->item));
	json_object_object_add(j, "host", jstr(u->host));
	json_object_object_add(j, "state", jstr(u->interrupted ? "interrupted" : rl_unit_state_name(u->state)));
	json_object_object_add(j, "attempts", json_object_new_int(u->attempts));
	json_object_object_add(j, "exit_code", u->has_exit ? json_object_new_int(u->exit_code) : NULL);
	json_object_object_add(j, "duration_ms", json_object_new_int64(u->duration_ms));
	json_object_object_add(j, "started", jstr(u->started));
	json_object_object_add(j, "message", jstr(u->message));
	json_object_object_add(j, "tail", jstr(u->tail));
	json_object_object_add(j, "captures", jref(u->captures));
	json_object_object_add(j, "completed_seq",
	    u->completed_seq ? json_object_new_int64((int64_t)u->completed_seq) : NULL);
	json_object_object_add(j, "rollback_state", jstr(rl_rb_state_name(u->rb_state)));
	json_object_object_add(j, "rollback_message", jstr(u->rb_message));
	json_object_object_add(j, "rollback_duration_ms", json_object_new_int64(u->rb_duration_ms));
	json_object_object_add(j, "rollback_tail", jstr(u->rb_tail));
	json_object_object_add(j, "rollback_covered_by", jstr(u->rb_covered_by));
	json_object_object_add(j, "in_doubt_decision", jstr(u->in_doubt_decision));
	json_object_object_add(j, "on_resume", jstr(settle_names[s]));
	settle_text(&b, s, u, id);
	json_object_object_add(j, "on_resume_text", s != SETTLE_NONE ? jstr(buf_str(&b)) : NULL);
	buf_release(&b);
	return j;
}

/* The notify records: the hooks that failed, in order. */
static struct json_object *
notify_json(const struct rl_run *r)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < r->n_notify_failures; i++) {
		const struct rl_notify *nf = &r->notify_failures[i];
		struct json_object *o = json_object_new_object();
		json_object_object_add(o, "hook", json_object_new_int64((int64_t)nf->hook));
		json_object_object_add(o, "event", jstr(nf->event));
		json_object_object_add(o, "kind", jstr(nf->kind));
		json_object_object_add(o, "message", jstr(nf->message));
		json_object_object_add(o, "at", jstr(nf->ts));
		json_object_array_add(a, o);
	}
	return a;
}

static struct json_object *
run_json(const struct rl_run *r, const char *id, const struct runbook *rb, const struct next *n)
{
	struct json_object *j = json_object_new_object();
	struct json_object *next = json_object_new_object();
	struct json_object *units = json_object_new_array();

	json_object_object_add(j, "run_id", jstr(id));
	json_object_object_add(j, "runbook", jstr(r->runbook));
	json_object_object_add(j, "file", jstr(r->file));
	json_object_object_add(j, "sha256", jstr(r->sha256));
	json_object_object_add(j, "runbook_changed",
	    rb && r->sha256 ? json_object_new_boolean(strcmp(rb->sha256, r->sha256) != 0) : NULL);
	json_object_object_add(j, "host", jstr(r->host));
	json_object_object_add(j, "user", jstr(r->user));
	json_object_object_add(j, "pid", r->pid ? json_object_new_int64(r->pid) : NULL);
	json_object_object_add(j, "vars", jref(r->vars));
	json_object_object_add(j, "selection", jref(r->selection));
	json_object_object_add(j, "started", jstr(r->started));
	json_object_object_add(j, "ended", jstr(r->ended));
	json_object_object_add(j, "finished", json_object_new_boolean(r->outcome != NULL));
	json_object_object_add(j, "outcome", jstr(r->outcome));
	json_object_object_add(j, "exit_code", r->outcome ? json_object_new_int(r->exit_code) : NULL);
	json_object_object_add(j, "failure", jstr(r->failure));
	json_object_object_add(j, "duration_ms", json_object_new_int64(r->duration_ms));
	json_object_object_add(j, "work_ms", json_object_new_int64(runlog_work_ms(r)));
	json_object_object_add(j, "unwinding", json_object_new_boolean(r->unwinding));
	json_object_object_add(j, "pending_gate", jstr(r->pending_gate));
	json_object_object_add(j, "commit_point", jstr(r->commit_phase));
	json_object_object_add(j, "notify_failures", notify_json(r));
	json_object_object_add(j, "interrupted", json_object_new_boolean(r->interrupted));
	json_object_object_add(j, "resumes", json_object_new_int64((int64_t)r->n_resumes));
	json_object_object_add(j, "torn_tail", json_object_new_boolean(r->torn_tail));
	json_object_object_add(next, "action", jstr(n->action));
	json_object_object_add(next, "command", jstr(n->command));
	json_object_object_add(next, "advice", jstr(n->advice));
	json_object_object_add(j, "next", next);
	for (size_t i = 0; i < r->n_units; i++)
		json_object_array_add(units, unit_json(&r->units[i], rb, id));
	json_object_object_add(j, "units", units);
	json_object_object_add(j, "gates", gates_json(r, rb));
	return j;
}

/*
 * The run id to show: the one given (it must name a journal in runs/) or
 * the newest. Returns a malloc'ed id, or NULL having printed why.
 */
static char *
pick_run(const struct statedir *sd, const char *given, int *rc)
{
	char **ids = NULL, *err = NULL, *id = NULL;
	size_t n = 0;

	*rc = EXIT_USAGE;
	if (given && !statedir_valid_run_id(given)) {
		fprintf(stderr, "migrate status: '%s' is not a run id; `migrate history` lists them\n", given);
		return NULL;
	}
	if (statedir_list_runs(sd, &ids, &n, &err) < 0) {
		fprintf(stderr, "migrate status: %s\n", err);
		free(err);
		*rc = EXIT_CANNOT_START;
		return NULL;
	}
	for (size_t i = 0; i < n && given && id == NULL; i++)
		if (strcmp(ids[i], given) == 0)
			id = xstrdup(given);
	if (given && id == NULL)
		fprintf(stderr, "migrate status: no run '%s' in %s\n", given, statedir_path(sd));
	else if (given == NULL && n == 0)
		fprintf(stderr, "migrate status: no runs in %s (give --state-dir DIR or set MIGRATE_STATE_DIR)\n",
		    statedir_path(sd));
	else if (given == NULL)
		id = xstrdup(ids[0]);
	statedir_free_list(ids, n);
	return id;
}

static int
cmd_status_exec(const struct cmd_entry *self, struct opts *o)
{
	struct style st = { cmd_color_on(o->color, STDOUT_FILENO), isatty(STDOUT_FILENO) == 1 };
	struct rl_run run;
	struct next next = { "none", NULL, NULL };
	struct runbook *rb = NULL;
	struct statedir *sd;
	char *err = NULL, *id = NULL, *path = NULL;
	int rc = EXIT_OK;

	memset(&run, 0, sizeof(run));
	sd = statedir_open(o->state_dir, false, &err);
	if (sd == NULL) {
		fprintf(stderr, "migrate status: %s\n", err);
		free(err);
		return EXIT_CANNOT_START;
	}
	id = pick_run(sd, o->n_args ? o->args[0] : NULL, &rc);
	if (id == NULL)
		goto cleanup;
	rc = EXIT_CANNOT_START;
	path = statedir_journal_path(sd, id, &err);
	if (path == NULL || runlog_load(path, &run, &err) != 0) {
		fprintf(stderr, "migrate status: %s\n", err);
		goto cleanup;
	}
	rc = EXIT_OK;
	rb = load_runbook_quietly(&run);
	next_of(&run, id, &next);
	if (o->format == FORMAT_JSON) {
		struct json_object *j = run_json(&run, id, rb, &next);
		puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(j);
	} else {
		struct buf b = BUF_INIT, shown = BUF_INIT;
		header(&b, &run, id, rb, &st);
		unit_lines(&b, &run, id, rb, &st);
		gate_lines(&b, &run, id, rb, &st);
		buf_addf(&b, "\n%snext:%s %s\n", col(&st, C_BOLD), col(&st, C_RESET), next.advice);
		/* journal text (output tails, messages) never drives the terminal */
		output_visible(b.data, b.len, true, &shown);
		fputs(buf_str(&shown), stdout);
		buf_release(&shown);
		buf_release(&b);
	}
	if (fflush(stdout) != 0)
		rc = EXIT_CANNOT_START;
cleanup:
	free(next.command);
	free(next.advice);
	runbook_free(rb);
	runlog_release(&run);
	free(path);
	free(id);
	free(err);
	statedir_free(sd);
	return rc;
}

const struct cmd_entry cmd_status_entry = {
	.name = "status",
	.args_usage = "[RUN-ID] [options]",
	.summary = "state of one run: every step, host, attempt, duration",
	.help = "Shows one run as its journal records it: the runbook, when it started and\n"
		"how long it took, its outcome (or that no run end was recorded: the run\n"
		"crashed or is still running), the failure, a gate waiting for approval, and\n"
		"one line per unit (step, item, host) with its state, attempts, duration and\n"
		"exit code. Failed units show their message and the last 20 lines of output;\n"
		"rollbacks show as rolled back, rollback FAILED, no rollback or in doubt;\n"
		"units in doubt say what `migrate resume` will do with them. The last line\n"
		"says what to do next.\n"
		"\n"
		"RUN-ID defaults to the newest run in the state directory (`migrate history`\n"
		"lists them). Reads only; safe while the run is going. --format json prints\n"
		"all of it as one JSON document. Exit 0 when shown; 2 when there is no such\n"
		"run; 6 when the journal is corrupt or cannot be read.\n",
	.options = OPT_STATE_DIR | OPT_FORMAT | OPT_COLOR,
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_status_exec,
};
