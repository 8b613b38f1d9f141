/*
 * cancel.h - cancel tokens: how a wait (a command, a connection, a pause,
 * a retry delay, a gate) learns that it must stop.
 *
 * A token belongs to one thing that can be stopped (the run, a phase, a
 * unit, one action). Tokens form a tree: a token made with a parent is
 * fired when its parent fires (the run's token, fired by a signal or the
 * deadline, stops every phase; a phase's token, fired by a watch trip,
 * stops every unit of the phase; ...), never the other way round. The
 * first reason given is kept; a child fired through its parent takes the
 * parent's reason.
 *
 * cancel_fd() is readable once the token fired, so a poll() loop that
 * includes it wakes at once. Every function may be called from any thread;
 * none may be called from a signal handler.
 */
#ifndef MIGRATE_CANCEL_H
#define MIGRATE_CANCEL_H

#include <stdbool.h>
#include <stdint.h>

struct cancel_token;

/* A new token, fired already when parent (may be NULL) has fired. */
struct cancel_token *cancel_new(struct cancel_token *parent);
/* Free a token; its children (if any are left) are detached, not freed. */
void cancel_free(struct cancel_token *tok);
/* Fire tok and all its descendants; reason (may be NULL) is copied if tok had none. */
void cancel_fire(struct cancel_token *tok, const char *reason);
bool cancel_fired(const struct cancel_token *tok);
/* A descriptor that polls readable (POLLIN) once tok fired. */
int cancel_fd(const struct cancel_token *tok);
/* The reason tok fired with (malloc'ed copy), or NULL when not fired or none given. */
char *cancel_reason(const struct cancel_token *tok);
/*
 * Wait ms milliseconds (< 0: forever) or until tok (may be NULL) fires.
 * Returns true when tok fired.
 */
bool cancel_wait(const struct cancel_token *tok, int64_t ms);

#endif
