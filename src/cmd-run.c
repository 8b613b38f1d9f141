/* migrate run RUNBOOK: execute a runbook. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cmd.h"
#include "engine.h"
#include "exitcode.h"
#include "session.h"

int cmd_plan_show(struct opts *o, struct runbook *rb);

static int
cmd_run_exec(const struct cmd_entry *self, struct opts *o)
{
	struct engine_opts eo = {
		.phases = (const char *const *)o->phases, .n_phases = o->n_phases,
		.from = o->from, .to = o->to,
		.yes = o->yes,
		.approve = (const char *const *)o->approve, .n_approve = o->n_approve,
		.no_rollback = o->no_rollback,
		.forks = o->forks,
		.accept_new_host_keys = o->accept_new_host_keys,
	};
	struct diags d = DIAGS_INIT;
	struct session s = { 0 };
	struct runbook *rb;
	struct run *run = NULL;
	struct journal *j = NULL;
	char *err = NULL, *id = NULL, *file = NULL;
	int rc = EXIT_USAGE;

	rb = cmd_load_runbook(o->args[0], o);
	if (rb == NULL)
		return EXIT_USAGE;
	if (cmd_check_approve(self->name, rb, o) < 0)
		goto cleanup;
	if (o->dry_run) {
		rc = cmd_plan_show(o, rb);
		goto cleanup;
	}
	/* Everything that can be refused is checked before the state dir is touched. */
	run = run_create(rb, &eo, NULL, &err);
	if (run == NULL) {
		fprintf(stderr, "migrate run: %s\n", err);
		goto cleanup;
	}
	if (engine_preflight(run, &d) < 0) {
		cmd_print_diags(o->args[0], &d, o);
		goto cleanup;
	}
	if (engine_load_secrets(run) < 0) {
		fprintf(stderr, "migrate run: %s; nothing was run\n", run->failure);
		goto cleanup;
	}

	if ((rc = session_open(&s, o, true)) != 0)
		goto cleanup;
	id = statedir_new_run_id(s.sd, rb->name, &err);
	if (id == NULL) {
		fprintf(stderr, "migrate run: %s\n", err);
		rc = EXIT_CANNOT_START;
		goto cleanup;
	}
	if ((rc = session_lock(&s, rb->name, id)) != 0)
		goto cleanup;
	j = journal_create(s.sd, id, &err);
	if (j == NULL) {
		fprintf(stderr, "migrate run: %s\n", err);
		rc = EXIT_CANNOT_START;
		goto cleanup;
	}
	run_set_id(run, id);
	file = session_abspath(o->args[0]);
	session_attach(&s, run, &eo, o, j, file, NULL);
	engine_install_signals();
	rc = engine_run(run);
	if (run->outcome == OUTCOME_RUNNING && run->failure)
		fprintf(stderr, "migrate run: %s; nothing was run\n", run->failure);
	session_reports(run, o);
cleanup:
	session_release(&s);
	run_free(run);
	runbook_free(rb);
	diags_release(&d);
	free(err);
	free(id);
	free(file);
	return rc;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.args_usage = "RUNBOOK [options]",
	.summary = "execute a runbook",
	.help = "Runs the phases and steps of RUNBOOK in order, recording every state\n"
		"change in a journal under the state directory. When a step or probe\n"
		"fails, the completed steps are rolled back in reverse order of\n"
		"completion (unless --no-rollback).\n",
	.options = OPT_VARS | OPT_SELECT | OPT_DRY_RUN | OPT_APPROVE | OPT_NO_ROLLBACK | OPT_FORKS |
		OPT_STATE_DIR | OPT_REPORT | OPT_HOST_KEYS | OPT_VERBOSITY | OPT_COLOR,
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_run_exec,
};
