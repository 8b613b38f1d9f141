/*
 * inbox.h - approvals handed to a live run (SPEC §7).
 *
 * A run that waits at a gate holds its runbook's lock and is the only
 * writer of its journal, so `migrate approve` cannot journal an approval
 * itself then. It drops the approval into the run's inbox instead,
 *
 *     STATE-DIR/runs/RUN-ID.approvals/      mode 0700, made by the run
 *                                           when it starts waiting and
 *                                           removed when the wait ends
 *
 * as one file: written to ".ID.tmp" (O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600),
 * fsync'ed, then renamed to "ID.json", so the run never reads half of one.
 * Its content is one JSON object {"gate", "name", "host"}; the approver's
 * OS user is the file's owner, not anything the file says. The run checks
 * each file (a regular file, at most 4 KiB, those fields, a valid name),
 * journals the approval itself and then removes the file; a file it
 * refuses is removed too. `migrate approve` sees its approval taken when
 * the journal has it.
 */
#ifndef MIGRATE_INBOX_H
#define MIGRATE_INBOX_H

#include <stdbool.h>
#include <stddef.h>

struct inbox;

/* An approver's name people can read back: 1 to 128 characters, none of them a control character. */
bool inbox_name_valid(const char *s);

/* One approval found in an inbox (strings owned by the item). */
struct inbox_item {
	char *gate;
	char *name;
	char *user;     /* the file owner's login name (or uid as text) */
	char *host;     /* as the file says; "" when it says none */
	char *file;     /* its name in the inbox */
};

/* A run's inbox under runs/ (runs_fd, not closed by it); nothing is made yet. NULL run_id: none. */
struct inbox *inbox_new(int runs_fd, const char *run_id);
/* Close and remove the inbox (and any file left in it); NULL is fine. */
void inbox_free(struct inbox *ib);
/* Make the inbox directory (mode 0700; emptied when a dead wait left it) and open it. 0, or -1 with *err (malloc'ed). */
int inbox_open(struct inbox *ib, char **err);
/* Remove the inbox directory and what is left in it (the wait ended); it may be opened again. */
void inbox_close(struct inbox *ib);
/*
 * The approvals waiting in an open inbox, oldest first by file name (the
 * caller frees them with inbox_items_free). Files that are not valid
 * approvals are removed. Returns how many (0 when it is not open).
 */
size_t inbox_take(struct inbox *ib, struct inbox_item **items);
/* Remove an item's file once the approval it holds was journaled (or refused). */
void inbox_done(struct inbox *ib, const struct inbox_item *it);
void inbox_items_free(struct inbox_item *items, size_t n);

/*
 * `migrate approve`: drop an approval of gate by name into the inbox of
 * run_id. Returns 0 and sets *file (malloc'ed: the file's name), 1 when
 * the run has no inbox (it is not waiting at a gate), or -1 with *err.
 */
int inbox_drop(int runs_fd, const char *run_id, const char *gate, const char *name, char **file, char **err);
/* Take back a dropped approval: true when it was still there (the run never took it). */
bool inbox_withdraw(int runs_fd, const char *run_id, const char *file);

#endif
