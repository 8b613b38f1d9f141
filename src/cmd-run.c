/* migrate run RUNBOOK: execute a runbook. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "engine.h"
#include "exitcode.h"
#include "journal.h"
#include "runlog.h"
#include "session.h"
#include "util.h"

int cmd_plan_show(struct opts *o, struct runbook *rb);

/*
 * Why rl is unfinished (SPEC §4: stopped at a gate, interrupted, in doubt,
 * or failed with an unwind that did not reach its end), or NULL when it is
 * finished. A run whose unwind completed is finished, whatever came after.
 */
static const char *
unfinished_reason(const struct rl_run *rl)
{
	if (rl->outcome == NULL)
		return rl->interrupted ? "interrupted" : "never ended (migrate was killed; units may be in doubt)";
	if (strcmp(rl->outcome, "gate") == 0)
		return "stopped at a gate";
	if (strcmp(rl->outcome, "interrupted") == 0)
		return "interrupted";
	if (strcmp(rl->outcome, "window") == 0)
		return "stopped before a phase's maintenance window";
	if (strcmp(rl->outcome, "needs_human") != 0)
		return NULL;
	for (size_t i = 0; i < rl->n_units; i++) {
		const struct rl_unit *u = &rl->units[i];
		if (u->state == RLU_IN_DOUBT)
			return "failed with a unit in doubt";
		if (u->state == RLU_DONE && u->rb_state != RLR_DONE && u->rb_state != RLR_NO_ROLLBACK)
			return "failed and is not fully rolled back";
	}
	return NULL;
}

/*
 * One unfinished run per runbook (SPEC §4): the ids of the unfinished runs
 * of runbook name in the state directory, newest first, in *ids (freed with
 * statedir_free_list); with quiet false, each is printed with why and the
 * commands that finish it. Called with the runbook's lock held. A journal
 * that cannot be read is named and counts as unfinished.
 */
static size_t
unfinished_runs(struct session *s, const char *name, const char *file, bool quiet, char ***ids_out)
{
	char **ids = NULL, **found = NULL, *err = NULL;
	size_t n = 0, n_found = 0, cap = 0;

	if (statedir_list_runs(s->sd, &ids, &n, &err) < 0) {
		fprintf(stderr, "migrate run: %s\n", err);
		free(err);
		n = 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct rl_run rl = { 0 };
		char *path = statedir_journal_path(s->sd, ids[i], &err);
		int rc = path ? runlog_load(path, &rl, &err) : -1;
		const char *why = NULL;

		if (rc == 0 && rl.runbook && strcmp(rl.runbook, name) == 0)
			why = unfinished_reason(&rl);
		else if (rc != 0 && strstr(ids[i], name) && !quiet)
			fprintf(stderr, "migrate run: note: cannot read run %s: %s\n", ids[i], err ? err : "?");
		if (why) {
			char *id = xstrdup(ids[i]);
			PUSH(found, n_found, cap, id);
			if (!quiet) {
				if (n_found == 1)
					fprintf(stderr, "migrate run: runbook '%s' has an unfinished run; nothing was run\n", name);
				fprintf(stderr, "  run %s %s%s%s\n", ids[i], why, rl.pending_gate ? ": gate " : "",
				    rl.pending_gate ? rl.pending_gate : "");
				fprintf(stderr, "    finish it:  migrate resume %s   (continue)\n", ids[i]);
				fprintf(stderr, "           or:  migrate rollback %s   (undo what it did)\n", ids[i]);
			}
		}
		runlog_release(&rl);
		free(path);
		free(err);
		err = NULL;
	}
	statedir_free_list(ids, n);
	if (n_found > 0 && !quiet)
		fprintf(stderr, "migrate run: to start a new run beside it anyway: migrate run %s --new\n", file);
	*ids_out = found;
	return n_found;
}

/* Outside the runbook's maintenance window (SPEC §7): exit 6 before anything is touched. */
static int
refuse_window(const struct runbook *rb)
{
	struct buf why = BUF_INIT;
	int w = engine_window(rb, wall_ms(), &why);

	if (w != 0)
		fprintf(stderr, "migrate run: %s; nothing was run%s\n", buf_str(&why),
		    w < 0 ? ": start the run then" : "");
	buf_release(&why);
	return w;
}

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
	char *err = NULL, *id = NULL, *file = NULL, **unfinished = NULL;
	size_t n_unfinished = 0;
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
	if (refuse_window(rb) != 0) {
		rc = EXIT_CANNOT_START;
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
	n_unfinished = unfinished_runs(&s, rb->name, o->args[0], o->new_run, &unfinished);
	if (n_unfinished > 0 && !o->new_run) {
		rc = EXIT_CANNOT_START;
		goto cleanup;
	}
	j = journal_create(s.sd, id, &err);
	if (j == NULL) {
		fprintf(stderr, "migrate run: %s\n", err);
		rc = EXIT_CANNOT_START;
		goto cleanup;
	}
	run_set_id(run, id);
	file = session_abspath(o->args[0]);
	session_attach(&s, run, &eo, o, j, file, NULL);
	if (n_unfinished > 0) {
		run_journal_set_supersedes(s.rj, unfinished, n_unfinished);
		for (size_t i = 0; i < n_unfinished; i++)
			printf("note: run %s of this runbook is unfinished; this run (--new) supersedes it\n", unfinished[i]);
	}
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
	statedir_free_list(unfinished, n_unfinished);
	return rc;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.args_usage = "RUNBOOK [options]",
	.summary = "execute a runbook",
	.help = "Runs the phases and steps of RUNBOOK in order, recording every state\n"
		"change in a journal under the state directory. When a step or probe\n"
		"fails, the completed steps are rolled back in reverse order of\n"
		"completion (unless --no-rollback).\n"
		"Refuses (exit 6) while a run of the same runbook is unfinished (stopped\n"
		"at a gate, interrupted, in doubt, or failed and not fully rolled back),\n"
		"naming it and the commands that finish it; --new starts anyway and the\n"
		"journal records which run the new one supersedes.\n",
	.options = OPT_NEW | OPT_VARS | OPT_SELECT | OPT_DRY_RUN | OPT_APPROVE | OPT_NO_ROLLBACK | OPT_FORKS |
		OPT_STATE_DIR | OPT_REPORT | OPT_HOST_KEYS | OPT_VERBOSITY | OPT_COLOR,
	.min_args = 1,
	.max_args = 1,
	.exec = cmd_run_exec,
};
