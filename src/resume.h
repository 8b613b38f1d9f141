/*
 * resume.h - continuing a run from its journal (SPEC §4): find the run,
 * check the runbook did not change, and restore into a fresh struct run
 * what the journal says happened (completed units in order of completion
 * with their captures, units in doubt, approved gates, rollback states).
 * Shared by `migrate resume` and `migrate rollback`; part of the command
 * layer (prints problems to stderr).
 */
#ifndef MIGRATE_RESUME_H
#define MIGRATE_RESUME_H

#include <stdbool.h>

#include "cmd.h"
#include "engine.h"
#include "runlog.h"
#include "session.h"

/* Which run a command without RUN-ID takes: the newest unfinished one, or the newest not rolled back. */
enum resume_pick { PICK_UNFINISHED, PICK_NOT_ROLLED_BACK };

struct resumed {
	struct rl_run rl;
	char *journal_path;
	struct runbook *rb;
	struct engine_opts eo;
	char **sel_phases;           /* from the journal's selection */
	size_t n_sel_phases;
	char *sel_from, *sel_to;
};

/*
 * Find the run (o->args[0], or the newest run matching pick), replay its
 * journal, load its runbook with the journal's vars, and refuse a changed
 * runbook unless o->force. Returns 0, or the exit code having printed why.
 */
int resume_load(struct session *s, struct opts *o, enum resume_pick pick, struct resumed *r);
/* Restore the journal's state into run (created from r->rb and r->eo with the run id). */
int resume_restore(struct resumed *r, struct run *run, struct opts *o, bool for_rollback);
/*
 * Take the runbook's lock, create the run with the journal's run id and
 * restore it (resume_restore). Returns 0 with *run set, or the exit code
 * having printed why.
 */
int resume_open_run(struct session *s, struct resumed *r, struct opts *o, bool for_rollback,
    struct run **run);
/* Open the journal for appending and attach it and the output to run (by: "resume"/"rollback"). */
int resume_attach(struct session *s, struct resumed *r, struct run *run, struct opts *o, const char *by);
void resume_release(struct resumed *r);

#endif
