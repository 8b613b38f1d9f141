/*
 * notify.h - the runbook's notify: hooks (SPEC §7), as an engine listener:
 * on the events start, phase, gate, failure, rollback and done, each hook
 * that listens runs with ${event.*} bound, bounded by its timeout. A hook
 * that fails is reported on stderr and never changes the run's outcome.
 * Part of the command layer (it prints).
 */
#ifndef MIGRATE_NOTIFY_H
#define MIGRATE_NOTIFY_H

#include "engine.h"

struct notify;

/* NULL when the runbook has no hooks. */
struct notify *notify_new(const struct runbook *rb);
void notify_free(struct notify *n);
void notify_on_event(void *ctx, const struct event *ev);

#endif
