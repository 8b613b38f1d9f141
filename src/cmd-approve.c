/* migrate approve RUN-ID [GATE] [--as NAME]: record an approval for a run stopped at a gate (SPEC §7). */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "exitcode.h"
#include "gate.h"
#include "journal.h"
#include "run-journal.h"
#include "runlog.h"
#include "session.h"
#include "util.h"

/* The most approvers a gate can name; more are recorded but not listed. */
#define MAX_LISTED 64

/* A name people can read back: printable, no control characters, not too long. */
static bool
approver_valid(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* The approvals gate needs, from the runbook; 0 when it cannot be told. */
static int
approvals_needed(const struct rl_run *rl, const char *gate)
{
	struct diags d = DIAGS_INIT;
	struct runbook *rb = rl->file ? runbook_load(rl->file, NULL, 0, &d) : NULL;
	const struct phase *ph;
	const struct step *st;
	int need = 0;

	if (rb && (ph = runbook_phase(rb, gate)) != NULL && ph->gate.s)
		need = ph->gate_cfg ? ph->gate_cfg->approvals : 1;
	else if (rb && (st = runbook_step(rb, gate)) != NULL && st->action.kind == ACT_GATE)
		need = st->action.gate_cfg ? st->action.gate_cfg->approvals : 1;
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
	rec = run_journal_approval(gate, name, "migrate approve");
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

static int
cmd_approve_exec(const struct cmd_entry *self, struct opts *o)
{
	struct session s;
	struct rl_run rl;
	const char *id = o->args[0], *gate, *name = o->as ? o->as : gate_user_name();
	const char *names[MAX_LISTED];
	char *path = NULL, *err = NULL;
	size_t have;
	int rc, need;

	memset(&rl, 0, sizeof(rl));
	if (!statedir_valid_run_id(id)) {
		fprintf(stderr, "migrate approve: '%s' is not a run id\n", id);
		return EXIT_USAGE;
	}
	if (!approver_valid(name)) {
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
	if (rl.outcome == NULL || strcmp(rl.outcome, "gate") != 0 || rl.pending_gate == NULL) {
		fprintf(stderr, "migrate approve: run %s is not stopped at a gate (%s); nothing was recorded\n", id,
		    rl.outcome ? rl.outcome : "it is running, or it was interrupted");
		rc = EXIT_CANNOT_START;
		goto cleanup;
	}
	gate = rl.pending_gate;
	if (o->n_args > 1 && strcmp(o->args[1], gate) != 0) {
		fprintf(stderr, "migrate approve: run %s is stopped at gate '%s', not '%s'; nothing was recorded\n",
		    id, gate, o->args[1]);
		rc = EXIT_USAGE;
		goto cleanup;
	}
	have = runlog_approvers(&rl, gate, names, MAX_LISTED);
	for (size_t i = 0; i < have; i++) {
		if (strcmp(names[i], name) == 0) {
			printf("%s already approved gate '%s' of run %s; nothing recorded\n", name, gate, id);
			rc = 0;
			goto cleanup;
		}
	}
	if ((rc = record(&s, &rl, gate, name)) != 0)
		goto cleanup;
	have++;
	need = approvals_needed(&rl, gate);
	printf("approval of gate '%s' of run %s by %s recorded", gate, id, name);
	if (need > 0)
		printf(" (%zu of %d)", have, need);
	if (need > 0 && have < (size_t)need)
		printf("; %zu more needed before `migrate resume %s` passes it\n", (size_t)need - have, id);
	else
		printf("; `migrate resume %s` continues the run\n", id);
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
	.summary = "record an approval for a run stopped at a gate",
	.help = "Records in the journal of RUN-ID, stopped at a gate (exit 4), an approval\n"
		"of that gate by NAME (default: your login name), with the OS user and\n"
		"host. GATE, when given, must be the gate the run is stopped at. A gate\n"
		"with `approvals: N` passes on `migrate resume` once N distinct names\n"
		"approved it; the same name twice counts once. A run that is not\n"
		"stopped at a gate is refused (exit 6).\n",
	.options = OPT_STATE_DIR | OPT_AS,
	.min_args = 1,
	.max_args = 2,
	.exec = cmd_approve_exec,
};
