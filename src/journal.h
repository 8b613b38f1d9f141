/*
 * journal.h - the append-only run journal, runs/RUN-ID.jsonl (SPEC §4).
 *
 * Line format
 * -----------
 * One record per line (JSON Lines), UTF-8, each line ended by "\n":
 *
 *     {"seq":1,"ts":"2026-11-22T02:15:00.123Z",...fields...,"sum":"9f86d081884c7d65"}
 *
 * - "seq": 1 for the first record of the file, then 2, 3, ... with no gap.
 * - "ts":  when the record was appended, RFC 3339 UTC with milliseconds.
 * - the caller's fields, in the order the caller added them (the record
 *   type, e.g. "type":"unit-end", is the caller's business).
 * - "sum": the first 16 hex digits (64 bits, lowercase) of the SHA-256 of
 *   the line's bytes with the sum field cut out, that is: everything before
 *   the final `,"sum":"` followed by a closing `}`. That is exactly the
 *   compact serialization of {"seq":...,"ts":...,...fields...}, so the sum
 *   can be checked from the raw bytes, without re-serializing anything:
 *
 *       line = X + ',"sum":"' + HEX16 + '"}'   (no newline)
 *       HEX16 == first 16 hex digits of sha256(X + '}')
 *
 * Lines are written by json-c in its plain (compact) form with unescaped
 * slashes; control characters inside strings are always escaped, so a raw
 * newline can only end a record. Each line goes out in one write() loop and
 * is followed by fdatasync(); the journal's directory entry is fsync'ed when
 * the journal is created.
 *
 * Reading it back (journal_replay)
 * -------------------------------
 * Every line is checked: checksum, JSON (strict; must be one object),
 * "seq" continuity from 1, "ts" present. A damaged LAST line - no trailing
 * newline, bad checksum or bad JSON, as a power loss leaves it - is ignored
 * and reported in struct journal_info; nothing before it is lost. Damage on
 * any earlier line, or a wrong "seq" on any line, is corruption: the whole
 * replay fails, naming the file and the line (the caller exits 6).
 *
 * Concurrency: one writer process per journal (the run that holds the
 * runbook's lock); journal_create/journal_open_append also take a
 * non-blocking flock on the journal itself, so a second writer is refused.
 * Within the process any number of threads may call journal_append on the
 * same journal. Readers (status, history) may replay while a run appends:
 * a half-written last line is then reported as a torn tail.
 */
#ifndef MIGRATE_JOURNAL_H
#define MIGRATE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;
struct statedir;

/* journal_replay() result when the journal is corrupt (distinct from -1: cannot read). */
#define JOURNAL_CORRUPT (-2)

/* Keys the journal sets itself; a record passed to journal_append must not have them. */
#define JOURNAL_KEY_SEQ "seq"
#define JOURNAL_KEY_TS "ts"
#define JOURNAL_KEY_SUM "sum"

struct journal;

/*
 * Called by journal_replay_each() with each valid record in order (without
 * its "sum"; borrowed: take a reference to keep any part). Returns 0 to go
 * on, anything else to stop the replay with that result (setting *err).
 */
typedef int (*journal_record_fn)(void *ctx, struct json_object *record, char **err);

/* What a replay found besides the records. */
struct journal_info {
	size_t records;          /* valid records */
	uint64_t last_seq;       /* seq of the last valid record; 0 when none */
	uint64_t valid_size;     /* bytes from the start that hold the valid records */
	bool torn_tail;          /* a damaged last line was ignored */
	size_t torn_line;        /* its line number (1-based), when torn_tail */
	uint64_t torn_bytes;     /* its length in bytes (with any newline) */
	const char *torn_reason; /* static string: why it was ignored, or NULL */
};

/*
 * Create the journal of a new run in sd's runs/ (mode 0600, O_EXCL,
 * O_NOFOLLOW) and fsync runs/. sd must have been opened with create.
 * Returns the journal (free with journal_free), or NULL and sets *err
 * (malloc'ed; caller frees): invalid run id, journal already exists,
 * symbolic link, in use, or a system error.
 */
struct journal *journal_create(const struct statedir *sd, const char *run_id,
    char **err);

/*
 * Open an existing journal to continue it (resume, rollback). The journal
 * is replayed to find the last seq; a torn tail is cut off (the file is
 * truncated to info->valid_size and synced) so the next record starts on a
 * fresh line, and is reported in *info (which may be NULL). The next append
 * gets seq info->last_seq + 1.
 * Returns the journal, or NULL and sets *err; when the journal is corrupt
 * *err names the line as journal_replay() does.
 */
struct journal *journal_open_append(const struct statedir *sd, const char *run_id,
    struct journal_info *info, char **err);

/*
 * Append one record: record must be a JSON object without the keys seq, ts
 * and sum; it is not modified and stays the caller's (its members are
 * referenced, so no other thread may use it during the call). The line is
 * written and synced before this returns; journal_seq() then names it.
 * Returns 0, or -1 and sets *err (malloc'ed; caller frees).
 * A record that could not be written in full makes the journal broken: the
 * partial line is cut off as far as possible and every later append fails,
 * so no record is ever glued onto a partial line.
 * Thread-safe.
 */
int journal_append(struct journal *j, struct json_object *record, char **err);

/* The seq of the last record written (or found by journal_open_append). Thread-safe. */
uint64_t journal_seq(struct journal *j);
/* The journal's path, STATE-DIR/runs/RUN-ID.jsonl (owned by j). */
const char *journal_path(const struct journal *j);
/* Close the journal (no other thread may be appending). Accepts NULL. */
void journal_free(struct journal *j);

/*
 * Read and check the journal at path (a symbolic link is refused). On
 * success sets *records to a malloc'ed array of *n records in file order,
 * each a json_object the caller owns, with "seq" and "ts" kept and "sum"
 * removed; free them with journal_records_free(). info may be NULL.
 * Returns 0; -1 when the file cannot be read; JOURNAL_CORRUPT when a line
 * before the last is damaged or any seq is out of order, with *err like
 * "journal 'PATH' is corrupt at line 12: checksum mismatch". On failure
 * *records is NULL and *n is 0.
 */
int journal_replay(const char *path, struct json_object ***records, size_t *n,
    struct journal_info *info, char **err);
void journal_records_free(struct json_object **records, size_t n);
/*
 * The same checks, reading the journal a block at a time and handing each
 * record to fn as it is read, so that memory does not grow with the
 * journal (runlog_load). Returns as journal_replay(), or what fn returned
 * when it stopped the replay. Records before a corrupt line have been
 * handed to fn already.
 */
int journal_replay_each(const char *path, journal_record_fn fn, void *ctx,
    struct journal_info *info, char **err);

#endif
