/*
 * run-journal.h - the engine listener that writes a run's journal: one
 * record per state change, in the format of runlog.h. When a record cannot
 * be written the run is stopped (run_record_failed): a run whose journal
 * is lost must not go on.
 */
#ifndef MIGRATE_RUN_JOURNAL_H
#define MIGRATE_RUN_JOURNAL_H

#include <stdbool.h>

#include "engine.h"
#include "journal.h"

struct run_journal;

/*
 * Take ownership of j. file is the runbook's absolute path; by is NULL for a
 * new run (a run_start record is written when the run starts), or "resume"
 * / "rollback" for a continued one (a resume record is written instead).
 */
struct run_journal *run_journal_new(struct journal *j, const char *file, const char *by, bool forced);
void run_journal_free(struct run_journal *rj);
/* A new run started with --new: its run_start records "supersedes": the unfinished runs (ids copied). */
void run_journal_set_supersedes(struct run_journal *rj, char *const *ids, size_t n);
void run_journal_on_event(void *ctx, const struct event *ev);
/*
 * A notify record (runlog.h): hook (1-based) failed on event (kind "run" or
 * "http"); message is already masked. Written whenever it happens, also
 * after run_end (the done event's hooks run after it).
 */
void run_journal_notify_failed(struct run_journal *rj, const struct run *run, size_t hook, const char *event,
    const char *kind, const char *message);
/*
 * An approval record (runlog.h) of gate by name, with the approver's OS
 * user and host (NULL: this process's); via says how ("migrate approve",
 * "--yes", ...).
 */
struct json_object *run_journal_approval(const char *gate, const char *name, const char *user,
    const char *host, const char *via);

#endif
