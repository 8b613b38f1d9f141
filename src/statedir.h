/*
 * statedir.h - the state directory that holds journals and locks (SPEC §4).
 *
 * Layout:
 *
 *     STATE-DIR/            --state-dir, else $MIGRATE_STATE_DIR, else
 *                           $XDG_STATE_HOME/migrate, else ~/.local/state/migrate
 *         runs/RUN-ID.jsonl     one journal per run (journal.h)
 *         locks/NAME.lock       one lock file per runbook name (lock.h)
 *
 * Directories this module creates get mode 0700, and the parent of each new
 * directory is fsync'ed so the entry survives a power loss. The state
 * directory itself may be reached through a symbolic link (an operator may
 * point it elsewhere), but runs/ and locks/ may not be links: they are
 * opened with O_NOFOLLOW and kept open, and journal.c and lock.c create their
 * files relative to those descriptors with O_NOFOLLOW, so no path component
 * below the state directory can be swapped for a link.
 *
 * Run ids look like
 *
 *     20261122T021500Z-phantommesh-cutover-3fa9
 *
 * that is: the UTC start time (ISO 8601 basic format, to the second), the
 * runbook name, and 4 random lowercase hex digits, joined by '-'. They sort
 * by start time as plain strings, say which runbook they belong to, and are
 * safe as file names. An id is only ever made for a name that is free in
 * runs/; journal_create() opens with O_EXCL, so a clash with another process
 * fails instead of sharing a journal.
 */
#ifndef MIGRATE_STATEDIR_H
#define MIGRATE_STATEDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest runbook name that can be used for a lock file and a run id. */
#define STATEDIR_NAME_MAX 128
/* The longest run id accepted (from the command line, or made here). */
#define STATEDIR_RUN_ID_MAX 200
/* Size of an RFC 3339 UTC timestamp with milliseconds and its NUL. */
#define STATEDIR_TIME_SIZE 25

struct statedir;

/*
 * The state directory to use: dir when it is non-NULL and non-empty, else
 * $MIGRATE_STATE_DIR when set and non-empty, else $XDG_STATE_HOME/migrate
 * when XDG_STATE_HOME is an absolute path, else ~/.local/state/migrate
 * ($HOME, else the user's home from the password database): the same
 * wherever the command is typed. Returns a malloc'ed string the caller
 * frees, or NULL when no home directory is known.
 */
char *statedir_resolve(const char *dir);

/*
 * Open the state directory chosen by statedir_resolve(dir).
 *
 * With create, the directory (and any missing parents), runs/ and locks/
 * are made as needed. Without create (for read-only commands such as
 * status and history) nothing is made; a missing directory is not an
 * error, it simply holds no runs (statedir_exists() returns false).
 *
 * Fails when runs/ or locks/ is a symbolic link or not a directory, or on
 * any system error. Returns NULL and sets *err (malloc'ed; caller frees).
 * The returned object is freed with statedir_free().
 */
struct statedir *statedir_open(const char *dir, bool create, char **err);
void statedir_free(struct statedir *sd);

/* The state directory's path as resolved (owned by sd). */
const char *statedir_path(const struct statedir *sd);
/* Whether runs/ exists (always true after a successful create). */
bool statedir_exists(const struct statedir *sd);
/*
 * Open descriptors of runs/ and locks/ for use with openat(); -1 when the
 * directory does not exist. Owned by sd: do not close.
 */
int statedir_runs_fd(const struct statedir *sd);
int statedir_locks_fd(const struct statedir *sd);

/* A runbook name as SPEC §2 defines it: [a-z0-9][a-z0-9._-]*, at most STATEDIR_NAME_MAX. */
bool statedir_valid_runbook_name(const char *name);
/*
 * A string that may be used as a run id: 1 to STATEDIR_RUN_ID_MAX characters
 * of [A-Za-z0-9._-], starting with a letter or digit (so it can never name
 * a path outside runs/). Check ids given on the command line with this.
 */
bool statedir_valid_run_id(const char *id);

/*
 * Make a new run id for runbook_name (format above), one that names no
 * journal in runs/ yet. Returns a malloc'ed string, or NULL and sets *err
 * when the name is invalid or no random bytes could be had.
 */
char *statedir_new_run_id(const struct statedir *sd, const char *runbook_name,
    char **err);

/*
 * The path of a run's journal, STATE-DIR/runs/RUN-ID.jsonl, for messages and
 * journal_replay(). Returns a malloc'ed string, or NULL and sets *err when
 * run_id is not a valid run id.
 */
char *statedir_journal_path(const struct statedir *sd, const char *run_id,
    char **err);

/*
 * The run ids of the journals in runs/, newest first (by the start time in
 * the id, then by the journal's modification time). Entries that are not
 * regular *.jsonl files with a valid run id are skipped. Sets *ids to a
 * malloc'ed array of *n malloc'ed strings (freed with statedir_free_list();
 * *ids may be NULL when *n is 0). Returns 0, or -1 and sets *err.
 */
int statedir_list_runs(const struct statedir *sd, char ***ids, size_t *n,
    char **err);
void statedir_free_list(char **ids, size_t n);

/*
 * Format a wall-clock time (milliseconds since the epoch, as from wall_ms())
 * as RFC 3339 UTC with milliseconds: "2026-11-22T02:15:00.123Z". This is the
 * form of every timestamp migrate stores. Returns 0, or -1 when the time
 * cannot be represented (out is then "").
 */
int statedir_format_time(int64_t ms, char out[STATEDIR_TIME_SIZE]);

#endif
