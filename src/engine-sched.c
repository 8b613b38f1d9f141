/*
 * engine-sched.c - the units of one step and item (one per host): in
 * batches, at most --forks at once, the batch's pause and after probes,
 * and max_fail (SPEC §3).
 *
 * A step on one host (local, one host, or one item of a for:) keeps the
 * per-unit order of SPEC §3: each attempt runs the action, expect and the
 * after probes, then the pause follows. On a group, the pause and the
 * after probes run once after each batch: a probe that runs on the unit's
 * host (a run probe without on:) once per host of the batch, failing that
 * host's unit; any other probe once per batch, failing the step. A unit
 * that passed its attempts waits for that ("held") before it ends, so its
 * end is recorded only once its after probes passed.
 */
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "util.h"

struct batch {
	struct run *run;
	struct unit **units;
	size_t n;
	bool in_batch;
	bool *held;
	size_t *order;           /* indexes in order of completion */
	size_t n_order;
	pthread_mutex_t lock;    /* guards order */
	char *step_failure;      /* a once-per-batch after probe failed */
};

static void
batch_one(void *arg, size_t i)
{
	struct batch *b = arg;

	/* stopped (signal, deadline, watch, journal): start no new unit; it stays pending */
	if (stop_requested(b->run) || b->run->record_error)
		return;
	unit_run(b->run, b->units[i], b->in_batch, &b->held[i]);
	pthread_mutex_lock(&b->lock);
	b->order[b->n_order++] = i;
	pthread_mutex_unlock(&b->lock);
}

/* An after probe without data under no_data: hold: ask (see probe_hold). true: go on. */
static bool
after_hold(struct run *run, const struct probe_ref *ref, const char *what)
{
	char *where = xasprintf("after '%s'", what);
	bool go = probe_hold(run, ref->name, where);

	free(where);
	return go;
}

/* One after probe of a batch, being run on each host (in parallel, at most --forks). */
struct after_run {
	struct batch *b;
	const struct probe_ref *ref;
	struct cancel_token *tok;
	size_t *idx;             /* the units it runs for (indexes into b->units) */
	enum verdict *v;
	char **why;
};

static void
after_one(void *arg, size_t j)
{
	struct after_run *ar = arg;
	struct buf pwhy = BUF_INIT;

	ar->v[j] = probe_run_event(ar->b->run, ar->ref, ar->b->units[ar->idx[j]], ar->tok, "after", &pwhy);
	if (ar->v[j] == VERDICT_FAIL)
		ar->why[j] = xasprintf("after probe '%s' failed: %s", ar->ref->name, buf_str(&pwhy));
	buf_release(&pwhy);
}

/* The batch's shared pause (on a worker, so the engine thread keeps dispatching). */
static void
batch_pause(void *arg, size_t unused)
{
	struct after_run *ar = arg;
	struct unit *u = ar->b->units[0];

	(void)unused;
	/* the unit an earlier process journaled the batch's pause for, on resume */
	for (size_t i = 0; i < ar->b->n; i++)
		if (ar->b->units[i]->pause_until_ms > 0 && u->pause_until_ms == 0)
			u = ar->b->units[i];
	for (size_t i = 0; i < ar->b->n; i++)
		if (ar->b->units[i] != u)
			ar->b->units[i]->pause_until_ms = 0;
	(void)unit_pause(ar->b->run, u, ar->tok, u->pause_ms);
}

/* The once-per-batch probe. */
static void
batch_probe(void *arg, size_t unused)
{
	struct after_run *ar = arg;
	struct buf pwhy = BUF_INIT;

	(void)unused;
	ar->v[0] = probe_run_event(ar->b->run, ar->ref, NULL, ar->tok, "after", &pwhy);
	if (ar->v[0] == VERDICT_FAIL)
		ar->why[0] = xasprintf("after probe '%s' failed: %s", ar->ref->name, buf_str(&pwhy));
	buf_release(&pwhy);
}

/*
 * After the batch, on the engine thread: the pause, then each after probe
 * (on every held host in parallel, or once), then the held units end, in
 * the order they completed. A hold (no data) is asked here, one at a time.
 */
static void
batch_after(struct batch *b)
{
	struct run *run = b->run;
	const struct step *s = b->units[0]->step;
	struct after_run ar = { b, NULL, cancel_new(run->cancel), xcalloc(b->n, sizeof(size_t)),
		xcalloc(b->n, sizeof(enum verdict)), xcalloc(b->n, sizeof(char *)) };
	char **why = xcalloc(b->n, sizeof(*why));
	char *stopped = NULL;

	/* the units of one step and item share their pause */
	if (b->units[0]->pause_ms > 0)
		engine_parallel(run, 1, 1, batch_pause, &ar);
	for (size_t k = 0; k <= s->n_after; k++) {
		size_t n = 0;

		if (cancel_fired(ar.tok) || engine_interrupted) {
			stopped = cancel_reason(ar.tok);
			if (stopped == NULL)
				stopped = xstrdup("stopped");
			break;
		}
		if (k == s->n_after || b->step_failure || run->held)
			break;   /* held: the units' changes are in place, they complete and the run stops at the hold */
		ar.ref = &s->after[k];
		if (probe_on_unit_host(ar.ref->probe)) {
			for (size_t j = 0; j < b->n_order; j++)
				if (b->held[b->order[j]] && why[b->order[j]] == NULL)
					ar.idx[n++] = b->order[j];
			engine_parallel(run, n, run->opts->forks, after_one, &ar);
		} else {
			n = 1;
			engine_parallel(run, 1, 1, batch_probe, &ar);
		}
		for (size_t j = 0; j < n; j++) {
			const char *what = probe_on_unit_host(ar.ref->probe) ? b->units[ar.idx[j]]->name : s->name;
			if (ar.v[j] == VERDICT_HOLD && !run->held)
				after_hold(run, ar.ref, what);
			if (ar.why[j] && probe_on_unit_host(ar.ref->probe))
				why[ar.idx[j]] = ar.why[j];
			else if (ar.why[j])
				b->step_failure = ar.why[j];
			ar.why[j] = NULL;
		}
	}
	for (size_t j = 0; j < b->n_order; j++) {
		size_t i = b->order[j];
		if (!b->held[i])
			continue;
		unit_end(run, b->units[i], stopped ? stopped : why[i]);
		free(why[i]);
	}
	free(why);
	free(stopped);
	free(ar.idx);
	free(ar.v);
	free(ar.why);
	cancel_free(ar.tok);
}

/* n × amount (a number, or a percent of n, rounded down). */
static size_t
amount_of(const struct amount *a, size_t n)
{
	if (!a->set)
		return 0;
	if (a->percent)
		return n * (size_t)a->n / 100;
	return (size_t)a->n;
}

int
sched_group(struct run *run, struct unit **units, size_t n)
{
	const struct step *s = units[0]->step;
	size_t size = s->batch.set ? amount_of(&s->batch, n) : n;
	size_t allowed = amount_of(&s->max_fail, n);
	size_t failed = 0;
	struct unit *first_failed = NULL;
	int rc = 1;

	if (size < 1)
		size = 1;
	if (size > n)
		size = n;
	for (size_t start = 0; start < n && rc == 1; start += size) {
		struct batch b;
		size_t m = n - start < size ? n - start : size;

		if (engine_interrupted)
			return -2;
		if (run->record_error)
			return -3;
		if (cancel_fired(run->cancel))
			break;   /* phase_run says why */
		memset(&b, 0, sizeof(b));
		b.run = run;
		b.units = units + start;
		b.n = m;
		b.in_batch = n > 1;
		b.held = xcalloc(m, sizeof(*b.held));
		b.order = xcalloc(m, sizeof(*b.order));
		pthread_mutex_init(&b.lock, NULL);
		engine_parallel(run, m, run->opts->forks, batch_one, &b);
		for (size_t i = 0; i < m; i++)
			if (b.held[i]) {
				batch_after(&b);
				break;
			}
		for (size_t j = 0; j < b.n_order; j++) {
			struct unit *u = b.units[b.order[j]];
			if (u->state != UNIT_DONE) {
				failed++;
				if (first_failed == NULL)
					first_failed = u;
			}
		}
		if (engine_interrupted)
			rc = -2;
		else if (run->record_error)
			rc = -3;
		else if (b.step_failure) {
			char *msg = xasprintf("step '%s' failed: %s", s->name, b.step_failure);
			fail_run(run, NULL, msg);
			free(msg);
			rc = 0;
		} else if (failed > allowed) {
			char *msg;
			if (n == 1)
				msg = xasprintf("step '%s' failed: %s", first_failed->name, first_failed->message);
			else
				msg = xasprintf("step '%s' failed on %zu of %zu hosts (max_fail %zu): %s: %s",
				    s->name, failed, n, allowed, first_failed->host, first_failed->message);
			fail_run(run, first_failed, msg);
			free(msg);
			rc = 0;
		}
		free(b.step_failure);
		free(b.held);
		free(b.order);
		pthread_mutex_destroy(&b.lock);
	}
	return rc;
}
