/*
 * engine-event.c - events reach the listeners on one thread, in the order
 * they happened, and the worker threads that run units in parallel (see
 * the threading note in engine-private.h).
 */
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "util.h"

struct queued {
	struct event ev;
	bool copied;             /* a deep copy, freed once dispatched (no one waits) */
	bool done;               /* dispatched; the emitting worker may go on */
	struct queued *next;
};

struct event_queue {
	pthread_mutex_t lock;
	pthread_cond_t cond;     /* an event was queued, one was dispatched, or a worker ended */
	struct queued *head, *tail;
};

void
events_init(struct run *run)
{
	struct event_queue *q = xcalloc(1, sizeof(*q));

	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	run->events = q;
	run->engine_thread = pthread_self();
}

static void
queued_free(struct queued *item)
{
	free((char *)item->ev.probe);
	free((char *)item->ev.detail);
	free((char *)item->ev.message);
	free((char *)item->ev.by);
	free((char *)item->ev.user);
	free((char *)item->ev.host);
	free((char *)item->ev.data);
	free(item);
}

void
events_free(struct run *run)
{
	struct event_queue *q = run->events;

	if (q == NULL)
		return;
	while (q->head) {
		struct queued *item = q->head;
		q->head = item->next;
		queued_free(item);
	}
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
	run->events = NULL;
}

bool
stop_requested(const struct run *run)
{
	return engine_interrupted || cancel_fired(run->cancel);
}

/* On the engine thread: call every listener. */
static void
dispatch(struct run *run, struct event *ev)
{
	ev->run = run;
	pthread_mutex_lock(&run->lock);
	/* the order of completion is the order the journal records the ends in */
	if (ev->type == EV_UNIT_END && ev->unit && ev->unit->state == UNIT_DONE)
		run_mark_completed(run, (struct unit *)ev->unit);
	for (size_t i = 0; i < run->n_listeners; i++)
		run->listeners[i].on_event(run->listeners[i].ctx, ev);
	pthread_mutex_unlock(&run->lock);
}

/* On the engine thread: dispatch what the queue holds. Returns how many. */
static size_t
drain(struct run *run)
{
	struct event_queue *q = run->events;
	size_t n = 0;

	for (;;) {
		struct queued *item;

		pthread_mutex_lock(&q->lock);
		item = q->head;
		if (item) {
			q->head = item->next;
			if (q->head == NULL)
				q->tail = NULL;
		}
		pthread_mutex_unlock(&q->lock);
		if (item == NULL)
			return n;
		n++;
		dispatch(run, &item->ev);
		if (item->copied) {
			queued_free(item);
			continue;
		}
		pthread_mutex_lock(&q->lock);
		item->done = true;
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
	}
}

static void
enqueue(struct event_queue *q, struct queued *item)
{
	item->next = NULL;
	if (q->tail)
		q->tail->next = item;
	else
		q->head = item;
	q->tail = item;
	pthread_cond_broadcast(&q->cond);
}

static char *
dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void
emit(struct run *run, struct event *ev)
{
	struct event_queue *q = run->events;

	ev->run = run;
	if (pthread_equal(pthread_self(), run->engine_thread)) {
		drain(run);
		dispatch(run, ev);
		return;
	}
	if (ev->unit == NULL) {
		/* the watch: queued as a copy, the engine thread dispatches it when it next can */
		struct queued *item = xcalloc(1, sizeof(*item));
		item->ev = *ev;
		item->copied = true;
		item->ev.probe = dup_or_null(ev->probe);
		item->ev.detail = dup_or_null(ev->detail);
		item->ev.message = dup_or_null(ev->message);
		item->ev.by = dup_or_null(ev->by);
		item->ev.user = dup_or_null(ev->user);
		item->ev.host = dup_or_null(ev->host);
		if (ev->data) {
			char *d = xmalloc(ev->len + 1);
			memcpy(d, ev->data, ev->len);
			item->ev.data = d;
		}
		pthread_mutex_lock(&q->lock);
		enqueue(q, item);
		pthread_mutex_unlock(&q->lock);
		return;
	}
	{
		struct queued item;
		memset(&item, 0, sizeof(item));
		item.ev = *ev;
		pthread_mutex_lock(&q->lock);
		enqueue(q, &item);
		while (!item.done)
			pthread_cond_wait(&q->cond, &q->lock);
		pthread_mutex_unlock(&q->lock);
	}
}

void
events_flush(struct run *run)
{
	if (pthread_equal(pthread_self(), run->engine_thread))
		drain(run);
}

/* ---- worker threads ---- */

struct par {
	struct run *run;
	size_t n, next;
	size_t alive;            /* workers not yet returned; under the queue's lock */
	void (*fn)(void *arg, size_t i);
	void *arg;
};

static void *
par_main(void *vp)
{
	struct par *p = vp;
	struct event_queue *q = p->run->events;

	for (;;) {
		size_t i;
		pthread_mutex_lock(&q->lock);
		i = p->next < p->n ? p->next++ : p->n;
		pthread_mutex_unlock(&q->lock);
		if (i >= p->n)
			break;
		p->fn(p->arg, i);
	}
	pthread_mutex_lock(&q->lock);
	p->alive--;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return NULL;
}

void
engine_parallel(struct run *run, size_t n, int forks, void (*fn)(void *arg, size_t i), void *arg)
{
	struct event_queue *q = run->events;
	struct par p = { run, n, 0, 0, fn, arg };
	size_t want = forks > 0 ? (size_t)forks : 1, started = 0;
	pthread_t *threads;

	if (n == 0)
		return;
	if (n == 1 && run->watching == 0) {
		/*
		 * One call and no watch thread whose events would wait for this
		 * thread: run it here. A worker would cost a thread and two
		 * context switches per event (a fifth of a no-op step's time).
		 */
		fn(arg, 0);
		return;
	}
	if (want > n)
		want = n;
	threads = xcalloc(want, sizeof(*threads));
	pthread_mutex_lock(&q->lock);
	p.alive = want;
	pthread_mutex_unlock(&q->lock);
	for (; started < want; started++)
		if (engine_thread_start(&threads[started], par_main, &p) != 0)
			break;
	if (started < want) {
		pthread_mutex_lock(&q->lock);
		p.alive -= want - started;
		pthread_mutex_unlock(&q->lock);
		if (started == 0) {
			/* no thread at all: run them here, one at a time (events go out directly) */
			for (size_t i = 0; i < n; i++)
				fn(arg, i);
			free(threads);
			return;
		}
	}
	for (;;) {
		bool idle;
		pthread_mutex_lock(&q->lock);
		while (q->head == NULL && p.alive > 0)
			pthread_cond_wait(&q->cond, &q->lock);
		idle = q->head == NULL && p.alive == 0;
		pthread_mutex_unlock(&q->lock);
		if (idle)
			break;
		drain(run);
	}
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	free(threads);
}
