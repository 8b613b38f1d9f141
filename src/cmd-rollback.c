/* migrate rollback [RUN-ID]: unwind the completed units of a run, or finish an unwind that stopped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "exitcode.h"
#include "resume.h"
#include "session.h"

/* Is there anything left to unwind? */
static bool
work_left(const struct run *run)
{
	const struct unit *f = run->failed_unit;

	if (f && f->step->rollback && f->step->rollback->when == WHEN_ALWAYS && f->rb_state != RB_DONE)
		return true;
	for (size_t i = 0; i < run->n_completed; i++)
		if (run->completed[i]->rb_state != RB_DONE && run->completed[i]->rb_state != RB_NO_ACTION)
			return true;
	return false;
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
	if ((rc = resume_load(&s, o, PICK_ANY, &r)) != 0)
		goto cleanup;
	if ((rc = resume_open_run(&s, &r, o, true, &run)) != 0)
		goto cleanup;
	for (size_t i = 0; i < run->n_units; i++)
		if (run->units[i].in_doubt)
			fprintf(stderr, "migrate rollback: unit '%s' on %s started and never ended: it is not rolled back "
			    "automatically; check it by hand\n", run->units[i].key, run->units[i].host);
	if (!work_left(run)) {
		printf("run %s: nothing to roll back\n", r.rl.run_id);
		rc = EXIT_OK;
		goto cleanup;
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
		"newest run in the state directory) in reverse order of completion.\n"
		"Units already rolled back are skipped: each rollback action runs at most\n"
		"once per unit; one that failed runs again. Units in doubt are never\n"
		"rolled back automatically. Exit 0 when everything is unwound, 3 when a\n"
		"rollback action fails, 6 when the run is locked or its journal is corrupt.\n",
	.options = OPT_RESUME | OPT_STATE_DIR | OPT_REPORT | OPT_VERBOSITY | OPT_COLOR | OPT_HOST_KEYS,
	.min_args = 0,
	.max_args = 1,
	.exec = cmd_rollback_exec,
};
