/* migrate approve RUN-ID [GATE] [--as NAME]: record an approval for a run stopped at a gate (SPEC §7). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "exitcode.h"
#include "cancel.h"
#include "gate.h"
#include "inbox.h"
#include "journal.h"
#include "run-journal.h"
#include "runlog.h"
#include "session.h"
#include "util.h"

/* The most approvers a gate can name; more are recorded but not listed. */
#define MAX_LISTED 64

/* The approvals gate needs, from the runbook; 0 when it cannot be told. */
static int
approvals_needed(const struct rl_run *rl, const char *gate)
{
	struct diags d = DIAGS_INIT;
	struct runbook *rb = rl->file ? runbook_load(rl->file, NULL, 0, &d) : NULL;
	int need = rb ? runbook_gate_approvals(rb, gate) : 0;

	runbook_free(rb);
	diags_release(&d);
	return need;
}

static int
record(struct session *s, const struct rl_run *rl, const char *gate, const char *name)
{
	struct journal *j;
	struct json_object *rec;
	char *err = NULL;
	int rc;

	if ((rc = session_lock(s, rl->runbook, rl->run_id)) != 0)
		return rc;
	j = journal_open_append(s->sd, rl->run_id, NULL, &err);
	if (j == NULL) {
		fprintf(stderr, "migrate approve: %s; nothing was recorded\n", err);
		free(err);
		return EXIT_CANNOT_START;
	}
	rec = run_journal_approval(gate, name, NULL, NULL, "migrate approve");
	rc = journal_append(j, rec, &err);
	json_object_put(rec);
	journal_free(j);
	if (rc < 0) {
		fprintf(stderr, "migrate approve: %s; nothing was recorded\n", err);
		free(err);
		return EXIT_CANNOT_START;
	}
	return 0;
}

/* How long `migrate approve` waits for a live run to take a handed-over approval. */
#define TAKE_WAIT_MS 15000

/* "(k of n)" and what comes next, once name's approval of gate is in the journal. */
static void
say_recorded(const struct rl_run *rl, const char *id, const char *gate, const char *name, bool live)
{
	const char *names[MAX_LISTED];
	size_t have = runlog_approvers(rl, gate, names, MAX_LISTED);
	int need = approvals_needed(rl, gate);

	printf("approval of gate '%s' of run %s by %s recorded", gate, id, name);
	if (need > 0)
		printf(" (%zu of %d)", have, need);
	if (live)
		printf("; the run waiting at the gate took it%s\n",
		    need > 0 && have >= (size_t)need ? " and goes on" : "");
	else if (need > 0 && have < (size_t)need)
		printf("; %zu more needed before `migrate resume %s` passes it\n", (size_t)need - have, id);
	else
		printf("; `migrate resume %s` continues the run\n", id);
}

static bool
has_approved(const struct rl_run *rl, const char *gate, const char *name)
{
	const char *names[MAX_LISTED];
	size_t have = runlog_approvers(rl, gate, names, MAX_LISTED);

	for (size_t i = 0; i < have; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* GATE, when given, must be the gate the run is at. 0, or EXIT_USAGE having said so. */
static int
check_gate_arg(const struct opts *o, const char *id, const char *gate, const char *how)
{
	if (o->n_args > 1 && strcmp(o->args[1], gate) != 0) {
		fprintf(stderr, "migrate approve: run %s %s gate '%s', not '%s'; nothing was recorded\n",
		    id, how, gate, o->args[1]);
		return EXIT_USAGE;
	}
	return 0;
}

/* A run stopped at a gate (exit 4): the approval goes into its journal, under the runbook's lock. */
static int
approve_stopped(struct session *s, struct rl_run *rl, const char *path, const char *id, const char *name,
    const struct opts *o)
{
	char *gate = xstrdup(rl->pending_gate), *err = NULL;
	int rc;

	if ((rc = check_gate_arg(o, id, gate, "is stopped at")) != 0)
		goto cleanup;
	if (has_approved(rl, gate, name)) {
		printf("%s already approved gate '%s' of run %s; nothing recorded\n", name, gate, id);
		goto cleanup;
	}
	if ((rc = record(s, rl, gate, name)) != 0)
		goto cleanup;
	runlog_release(rl);
	if (runlog_load(path, rl, &err) != 0)
		/* recorded; only the count cannot be told */
		printf("approval of gate '%s' of run %s by %s recorded\n", gate, id, name);
	else
		say_recorded(rl, id, gate, name, false);
cleanup:
	free(gate);
	free(err);
	return rc;
}

/*
 * A live run waiting at a gate holds the lock and writes its journal
 * alone: hand the approval over through its inbox (inbox.h) and wait until
 * the run journaled it.
 */
static int
approve_live(struct session *s, struct rl_run *rl, const char *path, const char *id, const char *name,
    const struct opts *o)
{
	char *gate = xstrdup(rl->waiting_gate), *file = NULL, *err = NULL;
	int rc, runs = statedir_runs_fd(s->sd);
	bool gone = false;

	if ((rc = check_gate_arg(o, id, gate, "waits at")) != 0)
		goto cleanup;
	if (has_approved(rl, gate, name)) {
		printf("%s already approved gate '%s' of run %s; nothing recorded\n", name, gate, id);
		goto cleanup;
	}
	rc = inbox_drop(runs, id, gate, name, &file, &err);
	for (int64_t until = now_ms() + TAKE_WAIT_MS; rc == 0;) {
		bool waiting;
		runlog_release(rl);
		if (runlog_load(path, rl, &err) != 0) {
			fprintf(stderr, "migrate approve: %s\n", err ? err : "cannot read the journal");
			rc = EXIT_CANNOT_START;
			break;
		}
		if (has_approved(rl, gate, name)) {
			say_recorded(rl, id, gate, name, true);
			goto cleanup;
		}
		waiting = rl->waiting_gate && strcmp(rl->waiting_gate, gate) == 0;
		if (!waiting || now_ms() >= until) {
			/* still there: the run never took it; gone: it took it, and the journal
			 * (read again once more) says whether it counted it */
			if (inbox_withdraw(runs, id, file) || gone) {
				rc = 1;
				break;
			}
			gone = true;
			continue;
		}
		cancel_wait(NULL, 100);
	}
	if (rc < 0) {
		fprintf(stderr, "migrate approve: %s; nothing was recorded\n", err);
		rc = EXIT_CANNOT_START;
	} else if (rc == 1) {
		/* the wait ended before the run took it: a run now stopped at the gate takes it in its journal */
		runlog_release(rl);
		free(err);
		err = NULL;
		if (runlog_load(path, rl, &err) == 0 && rl->outcome && strcmp(rl->outcome, "gate") == 0 &&
		    rl->pending_gate && strcmp(rl->pending_gate, gate) == 0) {
			rc = approve_stopped(s, rl, path, id, name, o);
		} else {
			fprintf(stderr, "migrate approve: run %s no longer waits at gate '%s' (%s); nothing was recorded\n",
			    id, gate, rl->outcome ? rl->outcome : rl->waiting_gate ? "it does not take approvals" : "it went on");
			rc = EXIT_CANNOT_START;
		}
	}
cleanup:
	free(gate);
	free(file);
	free(err);
	return rc;
}

static int
cmd_approve_exec(const struct cmd_entry *self, struct opts *o)
{
	struct session s;
	struct rl_run rl;
	const char *id = o->args[0], *name = o->as ? o->as : gate_user_name();
	char *path = NULL, *err = NULL;
	int rc;

	memset(&rl, 0, sizeof(rl));
	if (!statedir_valid_run_id(id)) {
		fprintf(stderr, "migrate approve: '%s' is not a run id\n", id);
		return EXIT_USAGE;
	}
	if (!inbox_name_valid(name)) {
		fprintf(stderr, "migrate approve: --as wants a name (1 to 128 printable characters)\n");
		return EXIT_USAGE;
	}
	if ((rc = session_open(&s, o, false)) != 0)
		return rc;
	path = statedir_journal_path(s.sd, id, &err);
	if (path == NULL || (rc = runlog_load(path, &rl, &err)) != 0) {
		fprintf(stderr, "migrate approve: %s\n", err ? err : "cannot read the journal");
		/* no such run is a usage error; a corrupt journal cannot be continued */
		rc = path == NULL || rc == -1 ? EXIT_USAGE : EXIT_CANNOT_START;
		goto cleanup;
	}
	if (rl.outcome == NULL && rl.waiting_gate) {
		rc = approve_live(&s, &rl, path, id, name, o);
		goto cleanup;
	}
	if (rl.outcome == NULL || strcmp(rl.outcome, "gate") != 0 || rl.pending_gate == NULL) {
		fprintf(stderr, "migrate approve: run %s is not stopped at a gate (%s); nothing was recorded\n", id,
		    rl.outcome ? rl.outcome : "it is running, or it was interrupted");
		rc = EXIT_CANNOT_START;
		goto cleanup;
	}
	rc = approve_stopped(&s, &rl, path, id, name, o);
cleanup:
	runlog_release(&rl);
	free(path);
	free(err);
	session_release(&s);
	return rc;
}

const struct cmd_entry cmd_approve_entry = {
	.name = "approve",
	.args_usage = "RUN-ID [GATE] [--as NAME]",
	.summary = "record an approval for a run stopped or waiting at a gate",
	.help = "Records in the journal of RUN-ID, stopped at a gate (exit 4), an approval\n"
		"of that gate by NAME (default: your login name), with the OS user and\n"
		"host. GATE, when given, must be the gate the run is at. A gate with\n"
		"`approvals: N` passes on `migrate resume` once N distinct names approved\n"
		"it; the same name twice counts once. A run that is still running and\n"
		"waits at the gate (a `timeout`, or a question at a terminal) takes the\n"
		"approval itself: it is handed over through the run's inbox and this\n"
		"command waits until the run journaled it; the run goes on as soon as it\n"
		"has enough. A run that is not at a gate is refused (exit 6).\n",
	.options = OPT_STATE_DIR | OPT_AS,
	.min_args = 1,
	.max_args = 2,
	.exec = cmd_approve_exec,
};
