/*
 * lock.h - one run at a time per runbook: locks/RUNBOOK-NAME.lock (SPEC §4).
 *
 * The lock is an flock(LOCK_EX) on the lock file, held for the life of the
 * run. The kernel drops it when the holder exits or dies, so a lock left by
 * a dead process is simply taken by the next run; there is no stale-lock
 * guessing. The file is opened with O_NOFOLLOW (a symbolic link is refused)
 * and O_CLOEXEC, so a daemon started by a step cannot inherit the lock.
 * flock locks belong to an open file description: a second lock_acquire()
 * of the same name fails even within one process.
 *
 * While held, the file holds one JSON object describing the holder, so a
 * second run can say who has it:
 *
 *     {"run_id":"20261122T021500Z-cutover-3fa9","pid":4242,"host":"ops1","started":"2026-11-22T02:15:00.123Z"}
 *
 * The file is emptied on release and never deleted (deleting an flock'ed
 * file lets two processes lock different inodes of the same name).
 */
#ifndef MIGRATE_LOCK_H
#define MIGRATE_LOCK_H

struct statedir;
struct lock;

/*
 * Who holds a lock, as read from the lock file. A field the file did not
 * give is NULL (or 0 for pid): the holder may be an older migrate, or may
 * not have written its record yet. Strings are malloc'ed and owned by the
 * struct; release with lock_holder_release().
 */
struct lock_holder {
	char *run_id;
	long pid;
	char *host;
	char *started; /* RFC 3339 UTC, as statedir_format_time() writes it */
};

#define LOCK_HOLDER_INIT { NULL, 0, NULL, NULL }

/*
 * Take the lock of runbook_name for run_id, without waiting. sd must have
 * been opened with create.
 *   0: taken; *out is the lock (release with lock_release()).
 *   1: held by another run; *holder is filled in (the caller releases it
 *      with lock_holder_release()) and *out is NULL.
 *  -1: error (invalid name, symbolic link, system error); *err is set
 *      (malloc'ed; caller frees).
 * holder, when not NULL, must point to a struct initialised with
 * LOCK_HOLDER_INIT or zeros.
 */
int lock_acquire(const struct statedir *sd, const char *runbook_name,
    const char *run_id, struct lock **out, struct lock_holder *holder, char **err);

/* Empty the holder record and drop the lock. Accepts NULL. */
void lock_release(struct lock *l);

/* The lock file's descriptor (owned by l; close-on-exec), e.g. for tests. */
int lock_fd(const struct lock *l);

/* Free the strings of a holder and reset it to LOCK_HOLDER_INIT. Accepts NULL. */
void lock_holder_release(struct lock_holder *h);

#endif
