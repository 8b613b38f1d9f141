/* worktime.c - working time of a run and its phases (worktime.h). */
#include "worktime.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void
worktime_start(struct worktime *w, int64_t before_ms, int64_t now)
{
	memset(w, 0, sizeof(*w));
	w->running = true;
	w->before_ms = before_ms > 0 ? before_ms : 0;
	w->start = now;
}

void
worktime_hold(struct worktime *w, int64_t now)
{
	if (!w->running)
		return;
	if (w->holds++ == 0)
		w->hold_since = now;
}

void
worktime_release(struct worktime *w, int64_t now)
{
	if (!w->running || w->holds == 0)
		return;
	if (--w->holds == 0 && now > w->hold_since)
		w->held_ms += now - w->hold_since;
}

int64_t
worktime_used(const struct worktime *w, int64_t now)
{
	int64_t span;

	if (!w->running)
		return w->before_ms;
	span = now - w->start - w->held_ms;
	if (w->holds > 0 && now > w->hold_since)
		span -= now - w->hold_since;
	return w->before_ms + (span > 0 ? span : 0);
}

bool
worktime_held(const struct worktime *w)
{
	return w->running && w->holds > 0;
}

/* ---- replaying a journal ---- */

void
worktime_log_init(struct worktime_log *l)
{
	memset(l, 0, sizeof(*l));
	l->gate_since = -1;
}

void
worktime_log_release(struct worktime_log *l)
{
	if (l == NULL)
		return;
	for (size_t i = 0; i < l->n_phases; i++)
		free(l->phases[i].phase);
	free(l->phases);
	free(l->phase);
	worktime_log_init(l);
}

static struct worktime_phase *
phase_slot(struct worktime_log *l, const char *phase)
{
	struct worktime_phase p;

	for (size_t i = 0; i < l->n_phases; i++)
		if (strcmp(l->phases[i].phase, phase) == 0)
			return &l->phases[i];
	p.phase = xstrdup(phase);
	p.work_ms = 0;
	PUSH(l->phases, l->n_phases, l->cap_phases, p);
	return &l->phases[l->n_phases - 1];
}

/* A span from start to ts, less waits and an open gate wait; never negative. */
static int64_t
span(const struct worktime_log *l, int64_t start, int64_t waits, int64_t ts)
{
	int64_t s = ts - start - waits;

	if (l->gate_since >= 0 && ts > l->gate_since)
		s -= ts - l->gate_since;
	return s > 0 ? s : 0;
}

/* Close the open phase at ts (derived from its span). */
static void
phase_close(struct worktime_log *l, int64_t ts)
{
	if (l->phase == NULL)
		return;
	phase_slot(l, l->phase)->work_ms += span(l, l->phase_start, l->phase_waits, ts);
	free(l->phase);
	l->phase = NULL;
}

void
worktime_log_session(struct worktime_log *l, int64_t ts, int64_t last_ts)
{
	if (l->in_session) {
		/* the session before never wrote its end (a crash): it worked until its last record */
		phase_close(l, last_ts);
		l->work_ms += span(l, l->session_start, l->session_waits, last_ts);
	}
	l->in_session = true;
	l->session_start = ts;
	l->session_waits = 0;
	l->gate_since = -1;
}

void
worktime_log_gate(struct worktime_log *l, int64_t ts, bool asked)
{
	int64_t w;

	if (asked) {
		if (l->gate_since < 0)
			l->gate_since = ts;
		return;
	}
	if (l->gate_since < 0)
		return;
	w = ts > l->gate_since ? ts - l->gate_since : 0;
	l->session_waits += w;
	if (l->phase)
		l->phase_waits += w;
	l->gate_since = -1;
}

void
worktime_log_phase_start(struct worktime_log *l, const char *phase, int64_t ts)
{
	phase_close(l, ts);
	l->phase = xstrdup(phase);
	l->phase_start = ts;
	l->phase_waits = 0;
}

void
worktime_log_phase_end(struct worktime_log *l, const char *phase, int64_t ts, int64_t work_ms)
{
	if (work_ms >= 0) {
		free(l->phase);
		l->phase = NULL;
		phase_slot(l, phase)->work_ms = work_ms;
		return;
	}
	if (l->phase && strcmp(l->phase, phase) == 0)
		phase_close(l, ts);
}

void
worktime_log_end(struct worktime_log *l, int64_t ts, int64_t work_ms)
{
	phase_close(l, ts);
	if (work_ms >= 0)
		l->work_ms = work_ms;
	else if (l->in_session)
		l->work_ms += span(l, l->session_start, l->session_waits, ts);
	l->in_session = false;
	l->gate_since = -1;
}

int64_t
worktime_log_total(const struct worktime_log *l, int64_t last_ts)
{
	return l->work_ms + (l->in_session ? span(l, l->session_start, l->session_waits, last_ts) : 0);
}

int64_t
worktime_log_phase(const struct worktime_log *l, const char *phase, int64_t last_ts)
{
	int64_t ms = 0;

	for (size_t i = 0; i < l->n_phases; i++)
		if (strcmp(l->phases[i].phase, phase) == 0)
			ms = l->phases[i].work_ms;
	if (l->phase && strcmp(l->phase, phase) == 0)
		ms += span(l, l->phase_start, l->phase_waits, last_ts);
	return ms;
}
