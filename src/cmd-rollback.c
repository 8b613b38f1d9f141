/* migrate rollback [RUN-ID]: unwind the completed units of a run, or finish an unwind that stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "engine.h"
#include "exitcode.h"
#include "resume.h"
#include "session.h"
#include "util.h"

/* Is there anything left to unwind? */
static bool
work_left(const struct run *run)
{
	const struct unit *f = run->failed_unit;

	if (f && f->step->rollback && f->step->rollback->when == WHEN_ALWAYS && f->rb_state != RB_DONE)
		return true;
	for (size_t i = run->unwind_floor; i < run->n_completed; i++)
		if (run->completed[i]->rb_state != RB_DONE && run->completed[i]->rb_state != RB_NO_ACTION)
			return true;
	return false;
}

/* Will the unwind run u's rollback action? */
static bool
to_undo(const struct run *run, const struct unit *u)
{
	if (u->rb_state == RB_DONE || u->rb_state == RB_NO_ACTION || u->step->rollback == NULL)
		return false;
	return u != run->failed_unit || u->step->rollback->when == WHEN_ALWAYS;
}

/* One line of the list: the unit's name (SPEC §1), padded to w characters, then what happens. */
static void
undo_line(const struct unit *u, int w, const char *what)
{
	int n = utf8_chars(u->name);

	printf("  %s%*s  %s\n", u->name, w > n ? w - n : 0, "", what);
}

/* Show what the rollback will undo: the run, its outcome, the units newest first. */
static void
show_undo(const struct run *run, const struct resumed *r)
{
	const struct rl_run *rl = &r->rl;
	const struct unit *f = run->failed_unit;
	int w = 0;

	for (size_t i = 0; i < run->n_units; i++)
		if (utf8_chars(run->units[i].name) > w)
			w = utf8_chars(run->units[i].name);
	w = w > 40 ? 40 : w;
	printf("run %s of runbook '%s' (started %s): %s\n", rl->run_id, rl->runbook ? rl->runbook : "?",
	    rl->started ? rl->started : "?", rl->outcome ? rl->outcome : "unfinished (interrupted or crashed)");
	printf("rolling back undoes, newest first:\n");
	if (f && to_undo(run, f))
		undo_line(f, w, "rollback (when: always; the unit failed)");
	for (size_t i = run->n_completed; i-- > run->unwind_floor;) {
		const struct unit *u = run->completed[i];
		if (u->rb_state == RB_DONE)
			continue;
		undo_line(u, w, to_undo(run, u) ? "rollback" : "no rollback: stays in place");
	}
	fflush(stdout);
}

/*
 * Ask the operator on the terminal. 1 confirmed, 0 declined, -1 no terminal.
 * Only "yes" or "y" confirms; end of input declines.
 */
static int
confirm(const char *run_id)
{
	FILE *tty;
	char line[64];
	int verdict = 0;

	if (isatty(STDIN_FILENO) != 1 || (tty = fopen("/dev/tty", "r+e")) == NULL)
		return -1;
	fprintf(tty, "roll back run %s? type yes to continue: ", run_id);
	fflush(tty);
	if (fgets(line, sizeof(line), tty)) {
		line[strcspn(line, "\r\n")] = '\0';
		verdict = strcmp(line, "yes") == 0 || strcmp(line, "y") == 0;
	}
	fclose(tty);
	return verdict;
}

/*
 * Where the unwind stops (SPEC §7): after the units of --to PHASE|STEP (the
 * named one stays), else at the commit point; past the commit point only
 * with --past-commit. 0, or the exit code having printed why.
 */
static int
set_floor(struct run *run, const struct opts *o, const char *id)
{
	size_t floor = 0;

	if (o->to) {
		const struct phase *ph = runbook_phase(run->rb, o->to);
		const struct step *st = runbook_step(run->rb, o->to);
		bool found = false;
		if (ph == NULL && st == NULL) {
			fprintf(stderr, "migrate rollback: --to '%s' names no phase or step of runbook '%s'\n", o->to,
			    run->rb->name);
			return EXIT_USAGE;
		}
		for (size_t i = 0; i < run->n_completed; i++) {
			const struct unit *u = run->completed[i];
			if (u->step == st || u->step->phase == ph) {
				floor = i + 1;
				found = true;
			}
		}
		if (!found) {
			fprintf(stderr, "migrate rollback: nothing of %s '%s' completed in run %s; nothing was rolled back\n",
			    ph ? "phase" : "step", o->to, id);
			return EXIT_USAGE;
		}
	}
	if (run->commit_phase && floor < run->commit_floor && !o->past_commit) {
		if (o->to) {
			fprintf(stderr, "migrate rollback: going back to '%s' passes commit point %s of run %s; nothing "
			    "was rolled back\nmigrate rollback: add --past-commit to unwind past it\n", o->to,
			    run->commit_phase->name, id);
			return EXIT_CANNOT_START;
		}
		floor = run->commit_floor;
		printf("run %s: unwinding what came after commit point %s (--past-commit goes further)\n", id,
		    run->commit_phase->name);
	}
	run->unwind_floor = floor;
	return 0;
}

static int
cmd_rollback_exec(const struct cmd_entry *self, struct opts *o)
{
	struct session s;
	struct resumed r;
	struct run *run = NULL;
	int rc;

	if ((rc = session_open(&s, o, false)) != 0)
		return rc;
	if ((rc = resume_load(&s, o, PICK_NOT_ROLLED_BACK, &r)) != 0)
		goto cleanup;
	if (o->n_args == 0)
		printf("migrate rollback: no RUN-ID given: taking run %s, the newest run not rolled back\n",
		    r.rl.run_id);
	if ((rc = resume_open_run(&s, &r, o, true, &run)) != 0)
		goto cleanup;
	for (size_t i = 0; i < run->n_units; i++)
		if (run->units[i].in_doubt)
			fprintf(stderr, "migrate rollback: unit '%s' on %s started and never ended: it is not rolled back "
			    "automatically; check it by hand\n", run->units[i].name, run->units[i].host);
	if ((rc = set_floor(run, o, r.rl.run_id)) != 0)
		goto cleanup;
	if (!work_left(run)) {
		if (run->n_completed == 0 && run->failed_unit == NULL && r.rl.pending_gate)
			printf("run %s stopped at gate '%s' before anything ran: nothing to roll back\n",
			    r.rl.run_id, r.rl.pending_gate);
		else
			printf("run %s: nothing to roll back\n", r.rl.run_id);
		rc = EXIT_OK;
		goto cleanup;
	}
	show_undo(run, &r);
	if (!o->yes) {
		int c = confirm(r.rl.run_id);
		if (c < 0) {
			fprintf(stderr, "migrate rollback: no terminal to confirm on; nothing was rolled back\n"
			    "migrate rollback: to roll back run %s without asking: migrate rollback %s --yes\n",
			    r.rl.run_id, r.rl.run_id);
			rc = EXIT_USAGE;
			goto cleanup;
		}
		if (c == 0) {
			printf("not confirmed: nothing was rolled back\n");
			rc = EXIT_GATE;
			goto cleanup;
		}
	}
	if ((rc = resume_attach(&s, &r, run, o, "rollback")) != 0)
		goto cleanup;
	rc = engine_rollback(run);
	session_reports(run, o);
cleanup:
	session_release(&s);
	run_free(run);
	resume_release(&r);
	return rc;
}

const struct cmd_entry cmd_rollback_entry = {
	.name = "rollback",
	.args_usage = "[RUN-ID] [options]",
	.summary = "unwind the completed steps of a run (or finish an unwind that stopped)",
	.help = "Runs the rollback actions of the completed units of RUN-ID (default: the\n"
		"newest run of the state directory that is not rolled back, named first)\n"
		"in reverse order of completion. It first shows the run, its outcome and\n"
		"the units it will undo, newest first, and asks on a terminal; without\n"
		"one it needs --yes (else exit 2; an answer other than yes: exit 4).\n"
		"Units already rolled back are skipped: each rollback action runs at most\n"
		"once per unit; one that failed runs again. Units in doubt are never\n"
		"rolled back automatically. --to PHASE|STEP unwinds only the units\n"
		"completed after it (the named one stays). A run with a commit point is\n"
		"unwound back to it; --past-commit goes further. The runbook's\n"
		"verify_rollback probes run after the unwind. Exit 0 when everything is\n"
		"unwound, 2 when --to names nothing in the run, 3 when a rollback action\n"
		"or a verify_rollback probe fails, 6 when the run is locked, its journal\n"
		"is corrupt, or --to goes past a commit point without --past-commit.\n",
	.options = OPT_YES | OPT_PARTIAL | OPT_RESUME | OPT_STATE_DIR | OPT_REPORT | OPT_VERBOSITY | OPT_COLOR | OPT_HOST_KEYS,
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_rollback_exec,
};
