/*
 * rollout.h - rollout control (SPEC §7): what the engine needs beyond
 * "run, check, unwind".
 */
#ifndef MIGRATE_ROLLOUT_H
#define MIGRATE_ROLLOUT_H

#include "diag.h"

struct run;

/*
 * Refuse, before anything runs, the parts of rollout control that the
 * runbook uses and this build cannot run yet: appends FILE:LINE:COL
 * diagnostics and returns -1, else 0.
 */
int rollout_preflight(const struct run *run, struct diags *diags);

#endif
