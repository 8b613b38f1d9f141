/* migrate resume [RUN-ID]: continue an interrupted or gated run from its journal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "exitcode.h"
#include "lifeline.h"
#include "resume.h"
#include "session.h"
#include "util.h"

static int
refuse_finished(const struct resumed *r)
{
	const struct rl_run *rl = &r->rl;
	bool unwound = rl->unwinding;

	/* an unwind that a signal stopped ends with a run_end, but its rollbacks are recorded */
	for (size_t i = 0; i < rl->n_units; i++)
		if (rl->units[i].rb_state != RLR_NONE)
			unwound = true;
	if (unwound) {
		fprintf(stderr, "migrate resume: run %s stopped while unwinding; finish the unwind with 'migrate rollback %s'\n",
		    rl->run_id, rl->run_id);
		return EXIT_CANNOT_START;
	}
	if (rl->outcome && strcmp(rl->outcome, "gate") != 0 && strcmp(rl->outcome, "interrupted") != 0 &&
	    strcmp(rl->outcome, "window") != 0) {
		fprintf(stderr, "migrate resume: run %s already ended (%s); nothing to resume", rl->run_id, rl->outcome);
		if (strcmp(rl->outcome, "needs_human") == 0)
			fprintf(stderr, "; 'migrate rollback %s' unwinds what is left", rl->run_id);
		fputc('\n', stderr);
		return EXIT_CANNOT_START;
	}
	return 0;
}

/*
 * Is the local command of in-doubt unit ru still running? (Its process
 * group, journaled by unit_pgid, has a live member on this machine.)
 */
static bool
group_running(const struct rl_unit *ru)
{
	return ru->state == RLU_IN_DOUBT && ru->in_doubt_decision == NULL && ru->pgid > 1 &&
	    lifeline_group_alive((pid_t)ru->pgid, ru->pgid_boot);
}

/*
 * An in-doubt unit whose local command is still running must not run
 * again beside it (SPEC §4). Right after migrate died its lifeline is
 * still stopping the command (SIGTERM, SIGKILL after LIFELINE_GRACE_MS),
 * so wait that long; then refuse (EXIT_CANNOT_START) naming each unit and
 * its group. Ctrl-C ends the wait (no handler is installed yet).
 */
static int
refuse_running_groups(const struct resumed *r, struct run *run)
{
	const struct rl_run *rl = &r->rl;
	int64_t until = now_ms() + LIFELINE_GRACE_MS + 2000;
	bool said = false, any;

	for (;;) {
		any = false;
		for (size_t i = 0; i < rl->n_units && !any; i++)
			any = group_running(&rl->units[i]);
		if (!any)
			return 0;
		if (now_ms() >= until)
			break;
		if (!said) {
			fprintf(stderr, "migrate resume: a command of run %s is still running; waiting up to %ds "
			    "for it to be stopped\n", rl->run_id, (LIFELINE_GRACE_MS + 2000) / 1000);
			said = true;
		}
		sleep_ms(100, NULL);
	}
	for (size_t i = 0; i < rl->n_units; i++) {
		const struct rl_unit *ru = &rl->units[i];
		const struct unit *u;
		if (!group_running(ru))
			continue;
		u = run_unit_by_key(run, ru->key);
		fprintf(stderr, "migrate resume: unit %s is in doubt and its command is still running: "
		    "process group %ld, started by run %s before it died\n", u ? u->name : ru->key, ru->pgid, rl->run_id);
		fprintf(stderr, "migrate resume: nothing was run; wait until it ends or stop it "
		    "(kill -TERM -- -%ld), then resume again\n", ru->pgid);
	}
	return EXIT_CANNOT_START;
}

/* The runbook's maintenance window is not open yet (SPEC §7): exit 6, nothing touched. */
static int
refuse_early(const struct resumed *r)
{
	struct buf why = BUF_INIT;
	int rc = 0;

	if (engine_window(r->rb, wall_ms(), &why) < 0) {
		fprintf(stderr, "migrate resume: %s; nothing was run: resume run %s then\n", buf_str(&why), r->rl.run_id);
		rc = EXIT_CANNOT_START;
	}
	buf_release(&why);
	return rc;
}

/* Was the run in a pause when it stopped (one begun and not finished)? */
static bool
pause_under_way(const struct rl_run *rl)
{
	for (size_t i = 0; i < rl->n_units; i++)
		if (rl->units[i].pause_until_ms > 0)
			return true;
	return false;
}

static void
print_undecided(const struct run *run)
{
	fprintf(stderr, "migrate resume: these units started and never ended (the process died); nothing was run:\n");
	for (size_t i = 0; i < run->n_units; i++)
		if (run->units[i].in_doubt)
			fprintf(stderr, "  %s on %s\n", run->units[i].name, run->units[i].host);
	fprintf(stderr, "migrate resume: they have no check probe and are not idempotent: check whether their effect\n"
	    "is in place, then resume with --retry-in-doubt (run them again) or --skip-in-doubt (count them as done)\n");
}

static int
cmd_resume_exec(const struct cmd_entry *self, struct opts *o)
{
	struct session s;
	struct resumed r;
	struct run *run = NULL;
	int rc;

	if ((rc = session_open(&s, o, false)) != 0)
		return rc;
	if ((rc = resume_load(&s, o, PICK_UNFINISHED, &r)) != 0 || (rc = refuse_finished(&r)) != 0)
		goto cleanup;
	if (cmd_check_approve(self->name, r.rb, o) < 0) {
		rc = EXIT_USAGE;
		goto cleanup;
	}
	if ((rc = refuse_early(&r)) != 0)
		goto cleanup;
	if (o->skip_pause && !pause_under_way(&r.rl))
		fprintf(stderr, "migrate resume: note: --skip-pause: run %s was in no pause; nothing to skip\n",
		    r.rl.run_id);
	r.eo.yes = o->yes;
	r.eo.approve = (const char *const *)o->approve;
	r.eo.n_approve = o->n_approve;
	r.eo.no_rollback = o->no_rollback;
	r.eo.forks = o->forks;
	r.eo.skip_pause = o->skip_pause;
	r.eo.in_doubt = o->retry_in_doubt ? IN_DOUBT_RETRY : o->skip_in_doubt ? IN_DOUBT_SKIP : IN_DOUBT_ASK;
	if ((rc = resume_open_run(&s, &r, o, false, &run)) != 0 ||
	    (rc = refuse_running_groups(&r, run)) != 0 ||
	    (rc = resume_attach(&s, &r, run, o, "resume")) != 0)
		goto cleanup;
	rc = engine_run(run);
	if (rc == EXIT_CANNOT_START && !run->record_error && run->outcome != OUTCOME_WINDOW)
		print_undecided(run);
	else if (run->outcome == OUTCOME_RUNNING && run->failure)
		fprintf(stderr, "migrate resume: %s; nothing was run\n", run->failure);
	session_reports(run, o);
cleanup:
	session_release(&s);
	run_free(run);
	resume_release(&r);
	return rc;
}

const struct cmd_entry cmd_resume_entry = {
	.name = "resume",
	.args_usage = "[RUN-ID] [options]",
	.summary = "continue an interrupted or gated run from its journal",
	.help = "Replays the journal of RUN-ID (default: the newest unfinished run in the\n"
		"state directory) and continues with the first unit that did not\n"
		"complete. Completed units never run again. Vars come from the journal;\n"
		"secrets are read again. Refuses (exit 6) if the runbook changed, unless\n"
		"--force. Units that started and never ended are settled by their check\n"
		"probe, or run again when idempotent; otherwise resume stops (exit 6)\n"
		"until you choose --retry-in-doubt or --skip-in-doubt. A unit whose\n"
		"local command is still running (its process group, recorded in the\n"
		"journal, is alive) is never run again: resume refuses (exit 6). A pause (a pause step or a bake) that was\n"
		"under way waits only what is left of it; --skip-pause skips that rest\n"
		"(journaled).\n",
	.options = OPT_APPROVE | OPT_RESUME | OPT_SKIP_PAUSE | OPT_NO_ROLLBACK | OPT_STATE_DIR | OPT_REPORT | OPT_VERBOSITY |
		OPT_COLOR | OPT_FORKS | OPT_HOST_KEYS,
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_resume_exec,
};
