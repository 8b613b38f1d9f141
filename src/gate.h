/*
 * gate.h - approvals of gates (SPEC §7): who approved which gate of a run,
 * and whether a gate has as many distinct approvers as it needs. The
 * approvals come from the journal (migrate approve, earlier answers) and
 * from this process (--yes, --approve, an answer at the terminal).
 */
#ifndef MIGRATE_GATE_H
#define MIGRATE_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct run;

/*
 * Record that name approved gate in this run (names are compared exactly):
 * who (the OS user and host: NULL for this process's), how (via) and when
 * (at_ms, wall clock; 0: now). Strings are copied.
 */
void gate_add_approval(struct run *run, const char *gate, const char *name, const char *user,
    const char *host, const char *via, int64_t at_ms);
/*
 * How many distinct names approved gate; when names is not NULL they are
 * appended to it, comma-separated, in order of approval.
 */
size_t gate_approvers(const struct run *run, const char *gate, struct buf *names);
/* Has name approved gate? */
int gate_approved_by(const struct run *run, const char *gate, const char *name);
/* Record how gate ended (state, why: copied; why may be NULL), replacing what was recorded before. */
void gate_set_outcome(struct run *run, const char *gate, const char *state, const char *why);
/* How gate ended, or NULL when it was not reached. */
const struct gate_outcome *gate_outcome(const struct run *run, const char *gate);
/* Free the run's approvals and gate outcomes (run_free calls it). */
void gate_approvals_free(struct run *run);
/* The invoking user's name for approvals: the OS user's login name (static). */
const char *gate_user_name(void);

#endif
