/*
 * notify.h - the runbook's notify: hooks (SPEC §7), as an engine listener:
 * on the events start, phase, gate, failure, rollback and done, each hook
 * that listens runs (a local command or an HTTP request) with ${event.*}
 * bound, bounded by its timeout. A hook that fails is reported on stderr
 * and journaled (a notify record), and never changes the run's outcome.
 * Part of the command layer (it prints).
 */
#ifndef MIGRATE_NOTIFY_H
#define MIGRATE_NOTIFY_H

#include "engine.h"
#include "run-journal.h"

struct notify;

/* NULL when the runbook has no hooks. Failed hooks are journaled through rj (may be NULL). */
struct notify *notify_new(const struct runbook *rb, struct run_journal *rj);
void notify_free(struct notify *n);
void notify_on_event(void *ctx, const struct event *ev);

#endif
