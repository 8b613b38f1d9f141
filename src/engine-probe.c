/*
 * engine-probe.c - probes: evaluating one (with its own retries), and the
 * watch, which samples a phase's watch probes on a thread of its own and
 * fires the run's token when they fail too often (engine-private.h).
 */
#include <stdlib.h>
#include <string.h>

#include "engine-private.h"
#include "expect.h"
#include "util.h"

/* Where probe p runs (SPEC §2) and how: target NULL places it for unit u. */
static void
probe_spec(struct run *run, const struct probe *p, const struct exec_target *target, const struct unit *u,
    struct action_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->action = &p->action;
	spec->env[0] = p->env;
	spec->n_env[0] = p->n_env;
	spec->timeout_ms = p->timeout_ms > 0 ? p->timeout_ms : DEFAULT_PROBE_TIMEOUT_MS;
	/*
	 * Where it runs (SPEC §2): its own on:; without one a run probe follows
	 * the unit (after, check, a probe step's host), anything else is local.
	 */
	if (target)
		spec->target = target;
	else if (p->on)
		spec->target = run_target(run, p->on);
	else if (u == NULL || p->action.kind != ACT_RUN)
		spec->target = &exec_target_local;
}

/* ---- baseline comparisons (SPEC §7): bounds relative to another probe ---- */

static const char *const bound_names[] = { "above", "at_least", "below", "at_most", "equals" };
static const char *const bound_ops[] = { ">", ">=", "<", "<=", "==" };

static struct bound *
bound_at(struct bounds *e, size_t i)
{
	struct bound *b[] = { &e->above, &e->at_least, &e->below, &e->at_most, &e->equals };
	return b[i];
}

static bool
has_baseline(const struct expect *e)
{
	for (size_t i = 0; e->bounds && i < ARRAY_LEN(bound_names); i++)
		if (bound_at(e->bounds, i)->probe)
			return true;
	return false;
}

/*
 * Sample baseline probe base once (no retries: the same moment as the
 * probe it bounds) and find its value. false: no value (why says why).
 */
static bool
baseline_value(struct run *run, const struct probe *base, const struct unit *u, struct cancel_token *tok,
    struct observed *obs, struct buf *why)
{
	struct action_spec spec;
	struct exec_result res;
	struct buf bwhy = BUF_INIT;

	probe_spec(run, base, NULL, u, &spec);
	if (run_action(run, u, NULL, tok, &spec, &res, &bwhy) == 0) {
		if (res.status != EXEC_DONE) {
			describe_failure(tok, &res, spec.timeout_ms, &bwhy);
		} else {
			struct expect copy;
			const struct expect *ex = run_expect(run, u, &base->expect, &copy, &bwhy);
			/* only its value counts here, not its own verdict */
			enum verdict bv = ex ? expect_eval(ex, base->action.kind, &res, obs, &bwhy) : VERDICT_FAIL;
			/* without expect.value, its whole output is its value */
			if (ex && bv == VERDICT_PASS && !obs->has_value && ex->value_re == NULL && ex->value_json == NULL &&
			    base->action.kind != ACT_PROMETHEUS && !expect_whole_value(&res.out, obs))
				buf_adds(&bwhy, "its output is not a number, and it has no expect.value");
			run_expect_release(&base->expect, ex);
		}
	}
	exec_result_release(&res);
	if (!obs->has_value) {
		buf_addf(why, "no data from baseline probe '%s'", base->name ? base->name : "?");
		if (bwhy.len && !obs->no_data)
			buf_addf(why, " (%s)", buf_str(&bwhy));
	}
	buf_release(&bwhy);
	return obs->has_value;
}

/*
 * Resolve the relative bounds of *e in place: sample each baseline probe
 * now, bound = its value x times + plus, recorded in bl[]. Returns false
 * when a baseline had no data (why says which).
 */
static bool
resolve_baselines(struct run *run, struct bounds *e, const struct unit *u, struct cancel_token *tok,
    struct sample_baseline *bl, size_t *n_bl, struct buf *why)
{
	*n_bl = 0;
	for (size_t i = 0; i < ARRAY_LEN(bound_names); i++) {
		struct bound *b = bound_at(e, i);
		struct sample_baseline *sb;
		struct observed obs;

		if (b->probe == NULL || b->base == NULL)
			continue;
		sb = &bl[(*n_bl)++];
		memset(sb, 0, sizeof(*sb));
		sb->bound = bound_names[i];
		sb->probe = xstrdup(b->probe);
		sb->times = b->times;
		sb->plus = b->plus;
		memset(&obs, 0, sizeof(obs));
		obs.latency_ms = -1;
		if (!baseline_value(run, b->base, u, tok, &obs, why)) {
			observed_release(&obs);
			return false;
		}
		sb->has_value = true;
		sb->value = obs.value;
		sb->value_text = xstrdup(obs.value_text ? obs.value_text : "");
		sb->limit = obs.value * b->times + b->plus;
		b->v = sb->limit;
		observed_release(&obs);
	}
	return true;
}

const struct expect *
expect_with_baselines(struct run *run, const struct expect *ex, const struct unit *u, struct cancel_token *tok,
    struct expect *copy, struct bounds *bcopy, struct buf *note, struct buf *why)
{
	struct sample_baseline bl[SAMPLE_BASELINES_MAX];
	size_t n_bl = 0;
	bool ok;

	if (!has_baseline(ex))
		return ex;
	/* a copy: the runbook's bounds are shared by parallel units */
	*copy = *ex;
	*bcopy = *ex->bounds;
	copy->bounds = bcopy;
	ok = resolve_baselines(run, bcopy, u, tok, bl, &n_bl, why);
	for (size_t k = 0; ok && k < n_bl; k++) {
		buf_addf(note, "%s%s ", k ? ", " : " (", bl[k].probe);
		expect_describe_relative(bl[k].value_text, bl[k].times, bl[k].plus, note);
		buf_addf(note, " = %g%s", bl[k].limit, k + 1 == n_bl ? ")" : "");
	}
	sample_baselines_release(bl, n_bl);
	return ok ? copy : NULL;
}

/* "< 0.24 (legacy-p95 0.2 × 1.2)": a resolved bound as shown and journaled. */
static void
describe_baseline(const struct sample_baseline *sb, struct buf *out)
{
	size_t i = 0;

	while (i < ARRAY_LEN(bound_names) && strcmp(bound_names[i], sb->bound) != 0)
		i++;
	buf_addf(out, "%s %g (%s ", i < ARRAY_LEN(bound_ops) ? bound_ops[i] : "?", sb->limit, sb->probe);
	expect_describe_relative(sb->value_text ? sb->value_text : "?", sb->times, sb->plus, out);
	buf_adds(out, ")");
}

/* The bounds of e as shown next to a value, the relative ones resolved with bl. */
static void
describe_bounds(const struct expect *e, const struct sample_baseline *bl, size_t n_bl, struct buf *out)
{
	size_t start = out->len;

	for (size_t i = 0; e->bounds && i < ARRAY_LEN(bound_names); i++) {
		const struct bound *b = bound_at(e->bounds, i);
		const struct sample_baseline *sb = NULL;

		if (!b->set)
			continue;
		for (size_t k = 0; k < n_bl; k++)
			if (strcmp(bl[k].bound, bound_names[i]) == 0 && bl[k].has_value)
				sb = &bl[k];
		if (out->len > start)
			buf_adds(out, ", ");
		if (sb)
			describe_baseline(sb, out);
		else if (b->probe) {
			buf_addf(out, "%s ", bound_ops[i]);
			expect_describe_relative(b->probe, b->times, b->plus, out);
		} else
			buf_addf(out, "%s %g", bound_ops[i], b->v);
	}
}

/*
 * Evaluate a probe (with its own retries) on target (NULL: where SPEC §2
 * places it for unit u), in u's scope. Returns the verdict of the last
 * attempt, with why when it did not pass, and the result as a new sample
 * in *sample (owned by the caller) when asked. The output goes nowhere
 * but why. Baseline probes of relative bounds are sampled with each
 * attempt, right after its action, and no data from one is no data.
 */
static enum verdict
probe_eval_at(struct run *run, const struct probe *p, const struct exec_target *target, const struct unit *u,
    struct cancel_token *tok, const char *name, const char *context, struct probe_sample **sample,
    struct buf *why)
{
	struct action_spec spec;
	int attempts = p->retry.attempts > 0 ? p->retry.attempts : 1;
	enum verdict v = VERDICT_FAIL;
	struct observed obs;
	int64_t t0 = now_ms();
	bool relative = has_baseline(&p->expect);
	struct sample_baseline bl[SAMPLE_BASELINES_MAX];
	size_t n_bl = 0;

	memset(&obs, 0, sizeof(obs));
	obs.latency_ms = -1;
	probe_spec(run, p, target, u, &spec);
	for (int a = 1; a <= attempts; a++) {
		struct exec_result res;

		buf_reset(why);
		observed_release(&obs);
		sample_baselines_release(bl, n_bl);
		n_bl = 0;
		v = VERDICT_FAIL;
		if (run_action(run, u, NULL, tok, &spec, &res, why) == 0) {
			if (res.status != EXEC_DONE)
				describe_failure(tok, &res, spec.timeout_ms, why);
			else {
				struct expect copy;
				const struct expect *ex = run_expect(run, u, &p->expect, &copy, why);
				struct expect resolved;
				struct bounds resolved_bounds;
				if (ex && relative) {
					/* a copy: the runbook's bounds are shared by parallel units and the watch */
					resolved = *ex;
					resolved_bounds = *ex->bounds;
					resolved.bounds = &resolved_bounds;
					if (!resolve_baselines(run, &resolved_bounds, u, tok, bl, &n_bl, why)) {
						/* no data from the baseline counts as no data (SPEC §7) */
						obs.no_data = true;
						v = p->expect.no_data == NO_DATA_PASS ? VERDICT_PASS
						    : p->expect.no_data == NO_DATA_HOLD ? VERDICT_HOLD : VERDICT_FAIL;
						if (v == VERDICT_PASS)
							buf_reset(why);
						run_expect_release(&p->expect, ex);
						exec_result_release(&res);
						goto attempt_done;
					}
					v = expect_eval(&resolved, p->action.kind, &res, &obs, why);
					/* say what the bound was made of: "(legacy-p95 0.2 × 1.2 = 0.24)" */
					for (size_t k = 0; v != VERDICT_PASS && obs.has_value && k < n_bl; k++) {
						buf_addf(why, "%s%s ", k ? ", " : " (", bl[k].probe);
						expect_describe_relative(bl[k].value_text, bl[k].times, bl[k].plus, why);
						buf_addf(why, " = %g%s", bl[k].limit, k + 1 == n_bl ? ")" : "");
					}
				} else if (ex) {
					v = expect_eval(ex, p->action.kind, &res, &obs, why);
				}
				run_expect_release(&p->expect, ex);
			}
		}
		exec_result_release(&res);
attempt_done:
		if (v == VERDICT_PASS || engine_interrupted || cancel_fired(tok) || a == attempts)
			break;
		if (cancel_wait(tok, retry_delay(&p->retry, a)))
			break;
	}
	if (sample) {
		struct buf bounds = BUF_INIT;
		char *m = why->len ? secrets_masked(&run->secrets, buf_str(why)) : NULL;
		describe_bounds(&p->expect, bl, n_bl, &bounds);
		*sample = probe_sample_new(name, context, u ? u->key : NULL,
		    v == VERDICT_PASS ? SAMPLE_PASS : v == VERDICT_HOLD ? SAMPLE_HOLD : SAMPLE_FAIL,
		    &obs, buf_str(&bounds), v == VERDICT_PASS ? NULL : m);
		(*sample)->duration_ms = now_ms() - t0;
		memcpy((*sample)->baselines, bl, n_bl * sizeof(bl[0]));
		(*sample)->n_baselines = n_bl;
		n_bl = 0;
		free(m);
		buf_release(&bounds);
	}
	sample_baselines_release(bl, n_bl);
	observed_release(&obs);
	return v;
}

/* ---- a probe on a group: every member, in parallel, one verdict ---- */

struct group_eval {
	struct run *run;
	const struct probe *p;
	const struct unit *u;
	struct cancel_token *tok;
	const char *name, *context;
	const struct exec_target **members;
	enum verdict *v;
	struct probe_sample **samples;
	struct buf *why;
	size_t n, next;
	pthread_mutex_t lock;
};

static void *
group_eval_main(void *arg)
{
	struct group_eval *g = arg;

	for (;;) {
		size_t i;
		pthread_mutex_lock(&g->lock);
		i = g->next < g->n ? g->next++ : g->n;
		pthread_mutex_unlock(&g->lock);
		if (i >= g->n)
			return NULL;
		g->v[i] = probe_eval_at(g->run, g->p, g->members[i], g->u, g->tok,
		    g->name, g->context, &g->samples[i], &g->why[i]);
	}
}

/*
 * Probe p with on: a group runs on every member (at most --forks at once,
 * on threads of its own: it emits no events). One verdict: it fails when
 * any member fails, holds when none failed but one had no data, and
 * passes when all passed. The sample is the first failing member's (else
 * the last member's), its message naming each member that did not pass.
 */
static enum verdict
probe_eval_group(struct run *run, const struct probe *p, const struct exec_target **members, size_t n,
    const struct unit *u, struct cancel_token *tok, const char *name, const char *context,
    struct probe_sample **sample, struct buf *why)
{
	struct group_eval g;
	size_t want, started = 0, pick;
	pthread_t *threads;
	enum verdict v = VERDICT_PASS;

	memset(&g, 0, sizeof(g));
	g.run = run;
	g.p = p;
	g.u = u;
	g.tok = tok;
	g.name = name;
	g.context = context;
	g.members = members;
	g.n = n;
	g.v = xcalloc(g.n, sizeof(*g.v));
	g.samples = xcalloc(g.n, sizeof(*g.samples));
	g.why = xcalloc(g.n, sizeof(*g.why));
	pthread_mutex_init(&g.lock, NULL);
	want = run->opts && run->opts->forks > 0 ? (size_t)run->opts->forks : 1;
	if (want > g.n)
		want = g.n;
	threads = xcalloc(want ? want : 1, sizeof(*threads));
	for (; started < want; started++)
		if (engine_thread_start(&threads[started], group_eval_main, &g) != 0)
			break;
	if (started == 0)
		group_eval_main(&g);
	for (size_t i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
	pthread_mutex_destroy(&g.lock);

	buf_reset(why);
	pick = g.n ? g.n - 1 : 0;
	for (size_t i = 0; i < g.n; i++) {
		if (g.v[i] == VERDICT_PASS)
			continue;
		/* the first failing member, else the first without data */
		if (v == VERDICT_PASS || (g.v[i] == VERDICT_FAIL && v != VERDICT_FAIL)) {
			v = g.v[i];
			pick = i;
		}
		buf_adds(why, why->len ? "; " : "");
		member_why(why, g.members[i], &g.why[i]);
	}
	for (size_t i = 0; i < g.n; i++) {
		if (sample && i == pick) {
			*sample = g.samples[i];
			if (why->len) {
				char *m = secrets_masked(&run->secrets, buf_str(why));
				free((*sample)->message);
				(*sample)->message = m;
			}
		} else if (g.samples[i])
			probe_sample_free(g.samples[i]);
		buf_release(&g.why[i]);
	}
	free(threads);
	free(g.v);
	free(g.samples);
	free(g.why);
	return v;
}

enum verdict
probe_eval(struct run *run, const struct probe *p, const struct unit *u, struct cancel_token *tok,
    const char *name, const char *context, struct probe_sample **sample, struct buf *why)
{
	const struct exec_target **members;
	size_t n = run_group_targets(run, p->on, &members);
	enum verdict v;

	if (n == 0)
		return probe_eval_at(run, p, NULL, u, tok, name, context, sample, why);
	v = probe_eval_group(run, p, members, n, u, tok, name, context, sample, why);
	free(members);
	return v;
}

/* Keep a probe's result and report it; warn: a failed watch sample that did not trip the watch. */
static void
probe_report(struct run *run, const struct probe_ref *ref, const struct unit *u, const char *context,
    enum verdict v, struct probe_sample *sample, const char *warn)
{
	struct event ev;

	memset(&ev, 0, sizeof(ev));
	ev.type = EV_PROBE;
	ev.phase = u ? u->step->phase : run->phase;
	ev.unit = u;
	ev.probe = ref->name ? ref->name : "(inline)";
	ev.detail = context;
	ev.ok = v == VERDICT_PASS;
	ev.message = v == VERDICT_PASS ? NULL : sample->message;
	ev.sample = sample;
	ev.by = warn;
	sample->warning = warn != NULL;
	run_add_sample(run, sample);
	emit(run, &ev);
}

enum verdict
probe_run_event(struct run *run, const struct probe_ref *ref, const struct unit *u,
    struct cancel_token *tok, const char *context, struct buf *why)
{
	struct probe_sample *sample = NULL;
	enum verdict v = probe_eval(run, ref->probe, u, tok, ref->name, context, &sample, why);

	probe_report(run, ref, u, context, v, sample, NULL);
	return v;
}

bool
probe_hold(struct run *run, const char *probe, const char *where)
{
	struct text q;
	char *s = xasprintf("probe '%s' has no data %s: go on anyway?", probe, where);
	int v;

	memset(&q, 0, sizeof(q));
	q.s = s;
	v = gate_ask(run, probe, &q, NULL);
	free(s);
	if (v > 0)
		return true;
	/* -3: `r` at the terminal or a watch trip while it asked: run->cancel fired, the run fails */
	if (v != -2 && v != -3)
		run->held = true;
	return false;
}

bool
probe_on_unit_host(const struct probe *p)
{
	return p->action.kind == ACT_RUN && p->on == NULL;
}

/* ---- watch: probes every interval while a phase (or the run) goes on, on a thread of their own ---- */

struct watch_ctx {
	struct run *run;
	const struct watch *w;
	const char *what;            /* "watch" (a phase's) or "run watch" */
	pthread_t thread;
	struct cancel_token *stop;   /* the phase ended or the run stops */
};

/* How many of a probe's last values a trip names. */
#define WATCH_VALUES_SHOWN 5

/*
 * Sample every watch probe each interval. A probe trips the watch when
 * `failures` of its last `window` samples failed (default window:
 * failures, so consecutive); samples without data under `hold` count
 * neither way. A trip fires run->cancel, which stops the running unit,
 * pause or gate wait; its reason names the probe and its last values.
 */
static void *
watch_main(void *arg)
{
	struct watch_ctx *wc = arg;
	struct run *run = wc->run;
	const struct watch *w = wc->w;
	int limit = w->failures > 0 ? w->failures : 1;
	int window = w->window >= limit ? w->window : limit;
	/* per probe: the last `window` verdicts (1 failed), a ring; and its last values, a ring */
	char *ring = xcalloc(w->n_probes * (size_t)window, 1);
	int *filled = xcalloc(w->n_probes, sizeof(*filled)), *next = xcalloc(w->n_probes, sizeof(*next));
	char **vals = xcalloc(w->n_probes * WATCH_VALUES_SHOWN, sizeof(*vals));
	int *nvals = xcalloc(w->n_probes, sizeof(*nvals));
	struct buf why = BUF_INIT;
	/* with delay: the first sample once it passed, then every interval (SPEC §7) */
	bool first = w->delay_ms > 0 && !cancel_wait(wc->stop, w->delay_ms);

	while (!cancel_fired(wc->stop)) {
		if (!first && cancel_wait(wc->stop, w->interval_ms > 0 ? w->interval_ms : DEFAULT_WATCH_INTERVAL_MS))
			break;
		first = false;
		for (size_t i = 0; i < w->n_probes && !cancel_fired(wc->stop); i++) {
			char *r = ring + i * (size_t)window, *warn = NULL;
			char **pv = vals + i * WATCH_VALUES_SHOWN;
			struct buf last = BUF_INIT;
			int failed = 0;
			struct probe_sample *sample = NULL;
			enum verdict v = probe_eval(run, w->probes[i].probe, NULL, wc->stop, w->probes[i].name, "watch",
			    &sample, &why);

			/* the phase or the run ended while it ran: a cut-off sample is no sample */
			if (cancel_fired(wc->stop)) {
				if (sample)
					probe_sample_free(sample);
				break;
			}
			if (v != VERDICT_HOLD) {
				r[next[i]] = v == VERDICT_FAIL;
				next[i] = (next[i] + 1) % window;
				if (filled[i] < window)
					filled[i]++;
				for (int k = 0; k < filled[i]; k++)
					failed += r[k];
			}
			/* a failed sample that does not trip the watch is a warning, not a failure (issue 12 item 12) */
			if (v == VERDICT_FAIL && failed < limit)
				warn = window == limit
				    ? xasprintf("%d of %d failed samples in a row trip the watch", failed, limit)
				    : xasprintf("%d of the %d failed samples of %d that trip the watch", failed, limit, window);
			probe_report(run, &w->probes[i], NULL, "watch", v, sample, warn);
			free(warn);
			if (v == VERDICT_HOLD)
				continue;
			/* sample belongs to the run now, and stays */
			if (nvals[i] == WATCH_VALUES_SHOWN) {
				free(pv[0]);
				memmove(pv, pv + 1, (WATCH_VALUES_SHOWN - 1) * sizeof(*pv));
				nvals[i]--;
			}
			pv[nvals[i]++] = sample && sample->value_text ? xstrdup(sample->value_text)
			    : sample && sample->status ? xasprintf("HTTP %d", sample->status) : NULL;
			if (failed >= limit && !cancel_fired(wc->stop)) {
				char *m;
				bool any = false;
				for (int k = 0; k < nvals[i]; k++)
					any = any || pv[k];
				/* the values, when the probe reads any (a command's exit status alone is no value) */
				for (int k = 0; any && k < nvals[i]; k++)
					buf_addf(&last, "%s%s", k ? ", " : " (last values: ", pv[k] ? pv[k] : "none");
				if (any)
					buf_addc(&last, ')');
				m = window == limit
				    ? xasprintf("%s probe '%s' failed %d time%s in a row: %s%s", wc->what,
					w->probes[i].name, failed, failed == 1 ? "" : "s", buf_str(&why), buf_str(&last))
				    : xasprintf("%s probe '%s' failed %d of its last %d samples: %s%s",
					wc->what, w->probes[i].name, failed, filled[i], buf_str(&why), buf_str(&last));
				cancel_fire(run->cancel, m);
				free(m);
			}
			buf_release(&last);
		}
	}
	buf_release(&why);
	for (size_t i = 0; i < w->n_probes * WATCH_VALUES_SHOWN; i++)
		free(vals[i]);
	free(vals);
	free(nvals);
	free(ring);
	free(filled);
	free(next);
	return NULL;
}

struct watch_ctx *
watch_start(struct run *run, const struct watch *w, const char *what)
{
	struct watch_ctx *wc = xcalloc(1, sizeof(*wc));

	wc->run = run;
	wc->w = w;
	wc->what = what;
	wc->stop = cancel_new(run->cancel);
	if (engine_thread_start(&wc->thread, watch_main, wc) != 0) {
		cancel_free(wc->stop);
		free(wc);
		return NULL;
	}
	run->watching++;
	return wc;
}

void
watch_stop(struct watch_ctx *wc)
{
	if (wc == NULL)
		return;
	cancel_fire(wc->stop, NULL);
	pthread_join(wc->thread, NULL);
	cancel_free(wc->stop);
	wc->run->watching--;
	events_flush(wc->run);
	free(wc);
}
