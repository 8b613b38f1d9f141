/*
 * worktime.h - working time (SPEC §7 "Deadlines"): the time a run spends
 * working, across every session of it (run, resume, resume...). A session
 * counts from its start to its end, less the time it waited for an answer
 * at a gate (a hold); pauses count. Time between sessions (stopped at a
 * gate after exit 4, interrupted, crashed) never counts.
 *
 * Two halves, both pure (the caller passes the clock):
 * - struct worktime is the live clock of a running session (monotonic ms);
 * - struct worktime_log rebuilds the working time of earlier sessions from
 *   a journal's records (their ts, ms since the epoch), using the work_ms
 *   that run_end and phase_end carry when they do (runlog.h), else the
 *   spans between records (old journals, a crashed session).
 */
#ifndef MIGRATE_WORKTIME_H
#define MIGRATE_WORKTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worktime {
	bool running;
	int64_t before_ms;   /* used in earlier sessions */
	int64_t start;       /* when this session's clock started */
	int64_t held_ms;     /* holds of this session that ended */
	int64_t hold_since;  /* when the current hold began (holds > 0) */
	int holds;           /* nested holds */
};

/* Start the clock at now, with before_ms already used. */
void worktime_start(struct worktime *w, int64_t before_ms, int64_t now);
/* Stop counting (a gate waits for an answer); holds nest. */
void worktime_hold(struct worktime *w, int64_t now);
void worktime_release(struct worktime *w, int64_t now);
/* Working time used at now, earlier sessions included (before_ms when not started). */
int64_t worktime_used(const struct worktime *w, int64_t now);
bool worktime_held(const struct worktime *w);

/* The working time of one phase, by name. */
struct worktime_phase {
	char *phase;
	int64_t work_ms;
};

struct worktime_log {
	int64_t work_ms;           /* sessions closed so far */
	bool in_session;
	int64_t session_start;     /* ts of the session's first record */
	int64_t session_waits;     /* gate waits of the open session */
	int64_t gate_since;        /* -1: no gate waiting */
	char *phase;               /* the open phase, or NULL */
	int64_t phase_start;
	int64_t phase_waits;
	struct worktime_phase *phases;
	size_t n_phases, cap_phases;
};

void worktime_log_init(struct worktime_log *l);
void worktime_log_release(struct worktime_log *l);
/* run_start or resume at ts: a session begins (an open one ends at last_ts first). */
void worktime_log_session(struct worktime_log *l, int64_t ts, int64_t last_ts);
/* A gate asked (waiting) / answered (approved, declined, unanswered, interrupted). */
void worktime_log_gate(struct worktime_log *l, int64_t ts, bool asked);
void worktime_log_phase_start(struct worktime_log *l, const char *phase, int64_t ts);
/* phase_end at ts; work_ms >= 0: the phase's working time as recorded. */
void worktime_log_phase_end(struct worktime_log *l, const char *phase, int64_t ts, int64_t work_ms);
/* run_end at ts; work_ms >= 0: the run's working time as recorded. */
void worktime_log_end(struct worktime_log *l, int64_t ts, int64_t work_ms);
/* The working time used when the journal's last record (at last_ts) was written. */
int64_t worktime_log_total(const struct worktime_log *l, int64_t last_ts);
/* The working time of phase by then (0: never ran). */
int64_t worktime_log_phase(const struct worktime_log *l, const char *phase, int64_t last_ts);

#endif
