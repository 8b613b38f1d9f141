/*
 * session.h - what run, resume and rollback share around the engine: the
 * state directory, the runbook lock, the journal, the terminal output and
 * the reports. Part of the command layer: it prints problems to stderr.
 */
#ifndef MIGRATE_SESSION_H
#define MIGRATE_SESSION_H

#include "cmd.h"
#include "engine.h"
#include "inbox.h"
#include "journal.h"
#include "lock.h"
#include "notify.h"
#include "output.h"
#include "run-journal.h"
#include "statedir.h"

struct session {
	struct statedir *sd;
	struct lock *lock;
	struct run_journal *rj;
	struct output *out;
	struct notify *nt;
	struct inbox *inbox;     /* approvals handed over by `migrate approve` while the run waits at a gate */
};

/* Open (and create) the state directory. Returns 0 or an exit code having printed why. */
int session_open(struct session *s, struct opts *o, bool create);
/* Take the runbook's lock for run_id. 0, or EXIT_CANNOT_START having named the holder. */
int session_lock(struct session *s, const char *runbook_name, const char *run_id);
/*
 * Attach the terminal output and the journal j (owned from now on; by: NULL
 * for a new run, else "resume"/"rollback") to run, and set the gate prompter
 * and the run's inbox of approvals (inbox.h).
 */
void session_attach(struct session *s, struct run *run, struct engine_opts *eo,
    struct opts *o, struct journal *j, const char *file, const char *by);
/*
 * Write the --report files. A report that cannot be written is a warning
 * on stderr (SPEC §1): it never changes the run's exit code.
 */
void session_reports(const struct run *run, struct opts *o);
/* The absolute path of file (malloc'ed). */
char *session_abspath(const char *file);
void session_release(struct session *s);

#endif
